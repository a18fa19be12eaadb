#!/usr/bin/env bash
# Kernel round trip of extended attributes, POSIX ACLs and SELinux labels
# at every block size, with the -x sharing policies, long xattr
# name prefixes and file contexts; erofs-utils as second judge; limits of
# the format as clear errors. Needs root, EROFS in the kernel, loop devices.
. "$(dirname "$0")/lib.sh"
. "$TOP_SRCDIR/tests/roundtrip_lib.sh"

why=$(kernel_unavailable)
if [ -n "$why" ]; then
	skip xattr "$why"
	exit 0
fi

src=$TEST_TMP/src
gen_tree "gen_tree xattrs" "$src" --seed 3 --xattrs --small --huge-size 0 \
	--build-time "$BT" || exit 0
ref=$TEST_TMP/src.json
$COMPARE --save "$ref" "$src" || { fail xattr "cannot scan the source"; exit 0; }

# The kernel's ACL and capability layers read what the image holds, not
# just its bytes: getfacl and getcap must show what they show on the source.
semantic_check() {
	local mnt=$1 f a b
	for f in xattrs/acl-file xattrs/acl-dir xattrs/acl-dir/inherited \
		xattrs/acl-dir/inherited-dir; do
		a=$(cd "$src" && getfacl -n "$f" 2>&1)
		b=$(cd "$mnt" && getfacl -n "$f" 2>&1)
		if [ "$a" != "$b" ]; then
			echo "getfacl $f differs: $(diff <(echo "$a") <(echo "$b") | tr '\n' ' ')"
			return 1
		fi
		case $a in *user:1234:*) ;; *) echo "getfacl $f: no ACL: $a"; return 1 ;; esac
	done
	if command -v getcap >/dev/null; then
		for f in xattrs/cap-v2 xattrs/cap-setcap; do
			a=$(cd "$src" && getcap "$f")
			b=$(cd "$mnt" && getcap "$f")
			if [ -z "$a" ] || [ "$a" != "$b" ]; then
				echo "getcap $f: '$b', expected '$a'"
				return 1
			fi
		done
	fi
}

for bs in 512 1024 2048 4096; do
	img=$TEST_TMP/b$bs.img
	run_mkfs "xattr roundtrip b$bs" -b "$bs" -T "$BT" --mkfs-time \
		"$img" "$src" || continue
	RT_WHILE_MOUNTED=semantic_check
	rt_mount_compare "xattr roundtrip b$bs" "$img" "$ref"
	RT_WHILE_MOUNTED=
	eu_fsck "erofs-utils 1.9 fsck xattrs b$bs" "$img" --extract
	eu_extract_compare "erofs-utils 1.9 extract xattrs b$bs" "$img" "$ref"
	[ "$bs" = 4096 ] && eu15_fsck "erofs-utils 1.5 fsck xattrs b$bs" "$img"
	rm -f "$img"
done

# dump.erofs 1.9 reports an inode's xattr area size: 12 bytes of header,
# then 4 bytes per shared xattr and whole entries for inline ones.
xattr_size() {
	"$EU_BIN/dump.erofs" --path="$2" "$1" 2>/dev/null |
		sed -n 's/.*Xattr size: *\([0-9]*\).*/\1/p'
}

# -x -1: no xattrs at all in the image
img=$TEST_TMP/x.img
if run_mkfs "-x -1" -x -1 -T "$BT" --mkfs-time "$img" "$src"; then
	rt_mount_compare "-x -1 drops xattrs" "$img" "$ref" --expect-no-xattrs
	eu_fsck "erofs-utils 1.9 fsck -x -1" "$img"
fi

# -x 0: every pair shared, so "forty" holds 40 ids and nothing inline
if run_mkfs "-x 0" -x 0 -T "$BT" --mkfs-time "$img" "$src"; then
	rt_mount_compare "-x 0 round trip" "$img" "$ref"
	eu_extract_compare "erofs-utils 1.9 extract -x 0" "$img" "$ref"
	if eu_new; then
		n=$(xattr_size "$img" /xattrs/forty)
		if [ "$n" = $((12 + 40 * 4)) ]; then
			pass "-x 0 shares all 40 xattrs of one file"
		else
			fail "-x 0 shares all 40 xattrs of one file" \
				"xattr area of /xattrs/forty is '$n' bytes, not $((12 + 40 * 4))"
		fi
	fi
fi

# -x 100: no pair is used by more than 100 inodes, so none is shared
if run_mkfs "-x 100" -x 100 -T "$BT" --mkfs-time "$img" "$src"; then
	rt_mount_compare "-x 100 round trip" "$img" "$ref"
	if eu_new; then
		# user.shared: 4 + 6 + 26 -> 36 bytes inline, header 12
		n=$(xattr_size "$img" /xattrs/shared04)
		if [ "$n" = 48 ]; then
			pass "-x 100 keeps a pair of 30 files inline"
		else
			fail "-x 100 keeps a pair of 30 files inline" \
				"xattr area of /xattrs/shared04 is '$n' bytes, not 48"
		fi
		# the default shares the pair of 30 files: one 4-byte id
		run_mkfs "default sharing" -T "$BT" --mkfs-time "$img" "$src" &&
			n=$(xattr_size "$img" /xattrs/shared04) &&
			if [ "$n" = 16 ]; then
				pass "a pair of 30 files is shared by default"
			else
				fail "a pair of 30 files is shared by default" \
					"xattr area of /xattrs/shared04 is '$n' bytes, not 16"
			fi
	fi
fi

# long xattr name prefixes: the table and its superblock fields
for pfx in trusted.overlay. user.attr; do
	if run_mkfs "--xattr-prefix=$pfx" --xattr-prefix="$pfx" -T "$BT" \
		--mkfs-time "$img" "$src"; then
		rt_mount_compare "--xattr-prefix=$pfx round trip" "$img" "$ref"
		eu_extract_compare "erofs-utils 1.9 extract --xattr-prefix=$pfx" \
			"$img" "$ref"
		# incompat 0x40 (xattr prefixes) at 0x50, count at 0x5b
		incompat=$(sb_field "$img" 0x50 4)
		count=$(sb_field "$img" 0x5b 1)
		if (( (0x${incompat:0:2} & 0x40) )) && [ "$count" = 01 ]; then
			pass "--xattr-prefix=$pfx superblock"
		else
			fail "--xattr-prefix=$pfx superblock" \
				"feature_incompat $incompat, prefix count $count"
		fi
	fi
done

# a prefix table with two names, one the fingerprint's
if run_mkfs "--xattr-prefix with --ishare" --xattr-prefix=trusted.overlay. \
	--ishare -T "$BT" --mkfs-time "$img" "$src"; then
	rt_mount_compare "--xattr-prefix with --ishare round trip" "$img" \
		"$ref" --fingerprint trusted.erofs.fingerprint
	eu_fsck "erofs-utils 1.9 fsck --xattr-prefix with --ishare" "$img" \
		--xattr-inode-digest
	eu_extract_compare "erofs-utils 1.9 extract --xattr-prefix with --ishare" \
		"$img" "$ref" --fingerprint trusted.erofs.fingerprint
fi
rm -f "$img"

# --- file contexts -------------------------------------------------------
fc=$TEST_TMP/file_contexts
cat >"$fc" <<'EOF'
/system(/.*)?			system_u:object_r:default_t:s0
/system/xattrs(/.*)?		system_u:object_r:etc_t:s0
/system/xattrs/selinux		system_u:object_r:shadow_t:s0
/system/types/link	-l	system_u:object_r:link_t:s0
EOF
label_check() {
	local mnt=$1 f want got
	while read -r f want; do
		got=$(getfattr -h --absolute-names --only-values \
			-n security.selinux "$mnt/$f" 2>&1)
		if [ "$got" != "$want" ]; then
			echo "security.selinux of /$f: '$got', expected '$want'"
			return 1
		fi
	done <<-EOF
	. system_u:object_r:default_t:s0
	sizes/s000001 system_u:object_r:default_t:s0
	xattrs system_u:object_r:etc_t:s0
	xattrs/forty system_u:object_r:etc_t:s0
	xattrs/selinux system_u:object_r:shadow_t:s0
	types/link system_u:object_r:link_t:s0
	types/regular system_u:object_r:default_t:s0
	EOF
}
img=$TEST_TMP/fc.img
if ! grep -q 'define HAVE_SELINUX 1' "$TOP_BUILDDIR/config.h" 2>/dev/null; then
	skip "--file-contexts" "mkfs built without libselinux"
elif run_mkfs "--file-contexts" --file-contexts="$fc" --mount-point=/system \
	-T "$BT" --mkfs-time "$img" "$src"; then
	RT_WHILE_MOUNTED=label_check
	rt_mount_compare "--file-contexts labels" "$img" "$ref" \
		--ignore-xattr security.selinux
	RT_WHILE_MOUNTED=
	eu_fsck "erofs-utils 1.9 fsck --file-contexts" "$img"
fi
rm -f "$img"

# --- what only tmpfs holds: limits of the format -------------------------
tm=$TEST_TMP/tmpfs
mkdir -p "$tm"
if ! mount -t tmpfs -o size=32m tmpfs "$tm"; then
	skip "xattr limits" "cannot mount a tmpfs"
	exit 0
fi
_mounts+=("$tm")
if ! python3 - "$tm" <<-'EOF'
	import os, sys
	top = sys.argv[1]
	os.makedirs(top + '/ok')
	a, b, m = top + '/ok/a', top + '/ok/b', top + '/ok/max'
	for p in (a, b, m):
	    open(p, 'w').close()
	# 300 pairs shared by two files: more than the 255 shared ids an
	# inode can point to
	for i in range(300):
	    for p in (a, b):
	        os.setxattr(p, 'user.s%03d' % i, b'value %d' % i)
	# the largest value the format holds
	os.setxattr(m, 'user.max', bytes(range(256)) * 255 + bytes(255))
	os.makedirs(top + '/big')
	open(top + '/big/f', 'w').close()
	os.setxattr(top + '/big/f', 'user.toobig', b'v' * 65536)
	os.makedirs(top + '/many')
	open(top + '/many/f', 'w').close()
	for i in range(300):
	    os.setxattr(top + '/many/f', 'trusted.t%03d' % i, b'w' * 1000)
	EOF
then
	skip "xattr limits" "tmpfs here does not take 300 xattrs or 64 KiB values"
	exit 0
fi
img=$TEST_TMP/t.img
for x in "" 0; do
	name="300 shared xattrs, 64 KiB - 1 value${x:+ (-x $x)}"
	if run_mkfs "$name" ${x:+-x "$x"} -T "$BT" --mkfs-time "$img" "$tm/ok"; then
		rt_mount_compare "$name" "$img" "$tm/ok"
		# ext4 cannot take 300 xattrs on a file: extract into the tmpfs
		EU_EXTRACT_DIR=$tm/extract eu_extract_compare \
			"erofs-utils 1.9 extract: $name" "$img" "$tm/ok" \
			--ignore-root-meta
	fi
done

# values or counts the format cannot hold: an error naming the file
expect_error() {
	local name=$1 dir=$2 re=$3
	shift 3
	rm -f "$img"
	if "$MKFS" --quiet "$@" "$img" "$dir" >"$TEST_TMP/err.out" 2>&1; then
		fail "$name" "mkfs.erofs succeeded"
	elif ! grep -qE "$re" "$TEST_TMP/err.out"; then
		fail "$name" "message does not match '$re': $(head -c 300 "$TEST_TMP/err.out")"
	elif [ -e "$img" ]; then
		fail "$name" "an image was left behind"
	else
		pass "$name"
	fi
}
expect_error "xattr value of 65536 bytes is an error" "$tm/big" \
	"$tm/big/f.*user.toobig.*(65535|large|big)"
# (the message names the file by its path in the image)
expect_error "300 KB of inline xattrs is an error" "$tm/many" \
	"(^|[ /])f: xattrs too large"
exit 0
