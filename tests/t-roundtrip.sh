#!/usr/bin/env bash
# Kernel round trip of a generated tree (tests/gen_tree.py: sizes around
# every block size, inline tail limits, big and sparse files, huge
# directories, odd names, deep paths, every file type, hard links, odd
# modes, large ids, extreme times) at every block size, with and without
# content fingerprints; erofs-utils 1.5 and 1.9 as second judges. Needs root, EROFS in the kernel and loop devices.
. "$(dirname "$0")/lib.sh"
. "$TOP_SRCDIR/tests/roundtrip_lib.sh"

why=$(kernel_unavailable)
if [ -n "$why" ]; then
	skip roundtrip "$why"
	exit 0
fi

# --- the judge must be able to fail -----------------------------------
$COMPARE --self-test "$TEST_TMP/selftest"

# --- the tree ---------------------------------------------------------
src=$TEST_TMP/src
gen_tree "gen_tree" "$src" --seed 7 --build-time "$BT" || exit 0
ref=$TEST_TMP/src.json
$COMPARE --save "$ref" "$src" || { fail roundtrip "cannot scan the source"; exit 0; }

for bs in 512 1024 2048 4096; do
	img=$TEST_TMP/b$bs.img
	run_mkfs "roundtrip b$bs" -b "$bs" -T "$BT" --mkfs-time \
		-U "$FIXED_UUID" "$img" "$src" || continue
	# read the holes of sparse files once, rather than seek past them
	opts=()
	[ "$bs" = 512 ] && opts=(--read-holes)
	rt_mount_compare "roundtrip b$bs" "$img" "$ref" ${opts[@]+"${opts[@]}"}
	eu_fsck "erofs-utils 1.9 fsck b$bs" "$img" --extract
	[ "$bs" = 4096 ] && eu15_fsck "erofs-utils 1.5 fsck b$bs" "$img"
	# fsck.erofs extracts holes as written zeroes: leave the 2 GiB out
	run_mkfs "erofs-utils 1.9 extract b$bs" -b "$bs" -T "$BT" --mkfs-time \
		--exclude-path sparse/huge "$img" "$src" &&
		eu_extract_compare "erofs-utils 1.9 extract b$bs" "$img" "$ref" \
			--exclude-path sparse/huge
	rm -f "$img"
done

# --- content fingerprints -----------------------------------------------
FP=trusted.erofs.fingerprint
# getfattr shows what the kernel gives a user: "sha256:" and the digest
fp_spot_check() {
	local mnt=$1 f want got
	for f in sizes/s000001 sizes/s004097 big/five-mb dup/a dup/b \
		sparse/hole-middle links/g5-1; do
		want=0x7368613235363a$(sha256sum <"$src/$f" | cut -d' ' -f1)
		got=$(getfattr --absolute-names -n "$FP" -e hex "$mnt/$f" 2>&1 |
			sed -n "s/^$FP=//p")
		if [ "$got" != "$want" ]; then
			echo "getfattr $FP of /$f: '$got', expected '$want'"
			return 1
		fi
	done
	# no fingerprint on empty files, directories and symlinks
	for f in sizes/s000000 sizes types/link; do
		if getfattr -h --absolute-names -n "$FP" "$mnt/$f" >/dev/null 2>&1; then
			echo "/$f has a $FP xattr"
			return 1
		fi
	done
}
for bs in 4096 512; do
	img=$TEST_TMP/ishare$bs.img
	run_mkfs "ishare b$bs" -b "$bs" --ishare -T "$BT" --mkfs-time \
		"$img" "$src" || continue
	RT_WHILE_MOUNTED=fp_spot_check
	rt_mount_compare "ishare b$bs" "$img" "$ref" --fingerprint "$FP"
	RT_WHILE_MOUNTED=
	eu_fsck "erofs-utils 1.9 fsck --xattr-inode-digest ishare b$bs" "$img" \
		--xattr-inode-digest
	run_mkfs "erofs-utils 1.9 extract ishare b$bs" -b "$bs" --ishare \
		-T "$BT" --mkfs-time --exclude-path sparse/huge "$img.x" "$src" &&
		eu_extract_compare "erofs-utils 1.9 extract ishare b$bs" \
			"$img.x" "$ref" --fingerprint "$FP" --exclude-path sparse/huge
	rm -f "$img.x"
	if [ "$bs" = 4096 ]; then
		# the digest check must catch a changed byte of a file
		python3 - "$img" "$src/big/five-mb" <<-'EOF'
		import sys
		head = open(sys.argv[2], 'rb').read(4096)
		img = bytearray(open(sys.argv[1], 'rb').read())
		i = img.find(head)
		img[i + 100] ^= 0xff
		open(sys.argv[1], 'wb').write(img)
		EOF
		if eu_new; then
			if "$EU_BIN/fsck.erofs" --xattr-inode-digest "$img" \
				>/dev/null 2>&1; then
				fail "erofs-utils 1.9 catches a wrong digest" \
					"fsck --xattr-inode-digest accepted a changed file"
			else
				pass "erofs-utils 1.9 catches a wrong digest"
			fi
		fi
	fi
	rm -f "$img"
done

# erofs-utils' own default name has no standard prefix: hidden from
# getxattr, still checked by its fsck
img=$TEST_TMP/ishare-eu.img
if run_mkfs "ishare erofs.fingerprint.v1" --ishare=erofs.fingerprint.v1 \
	-T "$BT" --mkfs-time --exclude-path sparse/huge "$img" "$src"; then
	rt_mount_compare "ishare erofs.fingerprint.v1" "$img" "$ref" \
		--exclude-path sparse/huge
	eu_fsck "erofs-utils 1.9 fsck --xattr-inode-digest erofs.fingerprint.v1" \
		"$img" --xattr-inode-digest
fi
rm -f "$img"
exit 0
