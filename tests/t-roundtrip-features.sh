#!/usr/bin/env bash
# Round trips of the -E features and single-image options erofs-utils
# 1.9.4 has: each image mounts with this machine's kernel and reads back
# exactly like its source, erofs-utils' fsck accepts it, an independent
# reader of the image (tests/inode_census.py) finds the property the option
# asks for, and our fsck reads erofs-utils' own image made with the same
# options exactly as the kernel does. Where erofs-utils' behaviour is the
# point (SOURCE_DATE_EPOCH with -T, --mount-point, whiteouts), both tools'
# images are mounted and compared with each other.
. "$(dirname "$0")/lib.sh"
. "$TOP_SRCDIR/tests/roundtrip_lib.sh"

why=$(kernel_unavailable)
if [ -n "$why" ]; then
	skip features "$why"
	exit 0
fi

src=$TEST_TMP/src
gen_tree "gen_tree small" "$src" --seed 19 --small --xattrs \
	--huge-size $((16 << 20)) --build-time "$BT" || exit 0
ref=$TEST_TMP/src.json
$COMPARE --save "$ref" "$src" || { fail features "cannot scan the source"; exit 0; }
img=$TEST_TMP/o.img
CENSUS="python3 $TOP_SRCDIR/tests/inode_census.py"

# census NAME IMAGE PYTHON [census options]: run PYTHON over the census "d"
# (superblock d["sb"], inodes d["inodes"]); it sets "why" to a non-empty
# string when the property does not hold.
census() {
	local name=$1 im=$2 code=$3 out
	shift 3
	if ! CENSUS_IMAGE=$im $CENSUS "$@" "$im" >"$TEST_TMP/census.json" \
		2>"$TEST_TMP/census.err"; then
		fail "$name" "inode_census.py: $(tail -n 1 "$TEST_TMP/census.err")"
		return
	fi
	out=$(CENSUS_IMAGE=$im python3 -c '
import json, os, stat, sys
d = json.load(open(sys.argv[1]))
sb, inodes = d["sb"], d["inodes"]
why = ""
exec(sys.argv[2])
print(why)' "$TEST_TMP/census.json" "$code" 2>&1)
	if [ -z "$out" ]; then pass "$name"; else fail "$name" "$out"; fi
}

# ours_reads_eu NAME "EU MKFS OPTIONS": erofs-utils builds the source with
# those options; our fsck extracts it exactly as the kernel shows it.
ours_reads_eu() {
	local name=$1 opts=$2 eimg=$TEST_TMP/eu.img m=$TEST_TMP/eumnt
	local x=$TEST_TMP/ourx out
	eu_new || { skip "$name" "$EU_WHY"; return 0; }
	rm -f "$eimg"
	# shellcheck disable=SC2086
	if ! "$EU_BIN/mkfs.erofs" --quiet $opts "$eimg" "$src" \
		>"$TEST_TMP/eumkfs.out" 2>&1; then
		fail "$name" "erofs-utils mkfs.erofs $opts: $(head -n 1 "$TEST_TMP/eumkfs.out")"
		return
	fi
	if ! "$DUMP" -s "$eimg" >/dev/null 2>"$TEST_TMP/dump.err"; then
		fail "$name" "our dump -s: $(cat "$TEST_TMP/dump.err")"
		return
	fi
	rm -rf "$x"
	if ! "$FSCK" --extract="$x" --xattrs "$eimg" >"$TEST_TMP/ourfsck.out" 2>&1; then
		fail "$name" "our fsck --extract: $(grep -m1 . "$TEST_TMP/ourfsck.out")"
		return
	fi
	kmount "$eimg" "$m" || { fail "$name" "mount of erofs-utils' image failed"; return; }
	if out=$($COMPARE "$m" "$x" 2>&1); then
		pass "$name"
	else
		fail "$name" "$(echo "$out" | head -n 1)"
	fi
	umount "$m"
	rm -rf "$x"
}

# feature NAME "OPTIONS" CENSUS_CHECK [compare_tree options]: ours, the
# kernel, erofs-utils' fsck, the census; then erofs-utils' image read by us.
feature() {
	local name=$1 opts=$2 check=$3
	shift 3
	# shellcheck disable=SC2086
	run_mkfs "$name" $opts "$img" "$src" || return
	rt_mount_compare "$name: kernel reads it back" "$img" "$ref" "$@"
	eu_fsck "$name: erofs-utils fsck accepts it" "$img" --extract
	"$FSCK" "$img" >"$TEST_TMP/fsck.out" 2>&1 &&
		pass "$name: our fsck accepts it" ||
		fail "$name: our fsck accepts it" "$(grep -m1 . "$TEST_TMP/fsck.out")"
	[ -n "$check" ] && census "$name: the image has the property" "$img" "$check"
	ours_reads_eu "$name: our fsck reads erofs-utils' image as the kernel does" \
		"${EU_OPTS:-$opts}"
}

NOT_INLINE='bad = [i["path"] for i in inodes if stat.S_ISREG(i["mode"]) and i["layout"] == 2]
why = "regular files with inline tails: %s" % bad[:3] if bad else ""
if not any(i["layout"] == 2 for i in inodes): why += " nothing inline at all (directories, symlinks)"'

# --- 48-bit layout --------------------------------------------------------
feature "-E48bit" "-T $BT --mkfs-time -E48bit" '
if not sb["incompat"] & 0x80: why = "no INCOMPAT_48BIT"
elif sb["epoch"] != 0 or sb["build_time"] != '"$BT"': why = "epoch %d, build time %d" % (sb["epoch"], sb["build_time"])
elif not any(i["version"] == 0 and i["compact_mtime"] not in (None, 0, '"$BT"') for i in inodes):
    why = "no compact inode holds an mtime of its own"'
feature "-E48bit with lz4hc clusters of 64 KiB (encoded extents)" \
	"-T $BT --mkfs-time -E48bit -zlz4hc -C65536" \
	'why = "" if sb["incompat"] & 0x80 else "no INCOMPAT_48BIT"'
# erofs-utils 1.9.4 with ztailpacking and fragments together writes files
# at the end of the packed inode's inline tail so that the kernel reads
# other bytes than the source's (its own fsck reads yet others): its image
# is read here without ztailpacking
EU_OPTS="-T $BT --mkfs-time -E48bit,fragments -zlzma -C16384" \
	feature "-E48bit,ztailpacking,fragments with lzma" \
	"-T $BT --mkfs-time -E48bit,ztailpacking,fragments -zlzma -C16384" \
	'why = "" if sb["incompat"] & 0xb0 == 0xb0 else "features 0x%x" % sb["incompat"]'
feature "-Edot-omitted" "-T $BT --mkfs-time -Edot-omitted" '
dirs = [i for i in inodes if stat.S_ISDIR(i["mode"])]
bad = [i["path"] for i in dirs if not i["flags"] & 1 or "." in i["dirents"] or ".." not in i["dirents"]]
why = "directories with a dot entry or no flag: %s" % bad[:3] if bad else ""
if not sb["incompat"] & 0x80: why += " no INCOMPAT_48BIT"'

# --- inode forms ----------------------------------------------------------
feature "-Eforce-inode-extended" "-T $BT --mkfs-time -Eforce-inode-extended" '
bad = [i["path"] for i in inodes if i["version"] != 1]
why = "compact inodes: %s" % bad[:3] if bad else ""'
rm -f "$img"
if "$MKFS" --quiet -T "$BT" -Eforce-inode-compact "$img" "$src" \
	>"$TEST_TMP/fc.out" 2>&1; then
	fail "-Eforce-inode-compact refuses a file that cannot be compact" "accepted"
elif [ -e "$img" ] || ! grep -q 'ids/.*cannot be a compact inode' "$TEST_TMP/fc.out"; then
	fail "-Eforce-inode-compact refuses a file that cannot be compact" \
		"image left, or the message names no file: $(cat "$TEST_TMP/fc.out")"
else
	pass "-Eforce-inode-compact refuses a file that cannot be compact"
fi
feature "-Eforce-inode-compact" \
	"-T $BT -Eforce-inode-compact --exclude-path=ids" '
bad = [i["path"] for i in inodes if i["version"] != 0]
why = "extended inodes: %s" % bad[:3] if bad else ""' \
	--expect-mtime "$BT" --exclude-path ids

# --- data inline or not -----------------------------------------------------
feature "-Enoinline_data" "-T $BT --mkfs-time -Enoinline_data" "$NOT_INLINE"
cp "$img" "$TEST_TMP/noinline.img"
run_mkfs "-E^inline_data" -T "$BT" --mkfs-time -U "$FIXED_UUID" -E^inline_data "$img" "$src" &&
	run_mkfs "-Enoinline_data" -T "$BT" --mkfs-time -U "$FIXED_UUID" -Enoinline_data \
		"$TEST_TMP/noinline.img" "$src" &&
	if cmp -s "$img" "$TEST_TMP/noinline.img"; then
		pass "-E^inline_data and -Enoinline_data build the same image"
	else
		fail "-E^inline_data and -Enoinline_data build the same image" "they differ"
	fi

# --- superblock checksum, xattr name filter, long prefixes ----------------
feature "-Enosbcrc" "-T $BT --mkfs-time -Enosbcrc" \
	'why = "superblock checksum feature set" if sb["compat"] & 1 else ""'
feature "-E^xattr-name-filter" "-T $BT --mkfs-time -E^xattr-name-filter" '
if sb["compat"] & 4: why = "COMPAT_XATTR_FILTER set"
bad = [i["path"] for i in inodes if i["name_filter"]]
if bad: why += " name filters set: %s" % bad[:3]
if not any(i["xattr_size"] for i in inodes): why += " no xattrs at all"'
census "xattr name filters by default" "$TEST_TMP/noinline.img" '
if not sb["compat"] & 4: why = "no COMPAT_XATTR_FILTER"
elif not any(i["name_filter"] for i in inodes): why = "no filter set"'
PLAIN='why = "" if sb["compat"] & 0x10 and sb["incompat"] & 0x40 else "features 0x%x 0x%x" % (sb["compat"], sb["incompat"])'
PACKED='why = "" if not sb["compat"] & 0x10 and sb["incompat"] & 0x60 == 0x60 and sb["packed_nid"] else "features 0x%x 0x%x, packed nid %d" % (sb["compat"], sb["incompat"], sb["packed_nid"])'
feature "-Eplain-xattr-prefixes with fragments" \
	"-T $BT --mkfs-time --xattr-prefix=user. --xattr-prefix=trusted. -zlz4 -Efragments -Eplain-xattr-prefixes" \
	"$PLAIN"
feature "-E^plain-xattr-prefixes without compression" \
	"-T $BT --mkfs-time --xattr-prefix=user. --xattr-prefix=trusted. -E^plain-xattr-prefixes" \
	"$PACKED"
feature "long prefixes go to the packed inode with fragments" \
	"-T $BT --mkfs-time --xattr-prefix=user. -zlz4 -Efragments" "$PACKED"

# --- root xattr room, hard links, size alignment ------------------------------
feature "--root-xattr-isize=300" "-T $BT --mkfs-time --root-xattr-isize=300" '
root = [i for i in inodes if i["path"] == "/"][0]
why = "" if root["xattr_size"] >= 300 else "root xattr area %d bytes" % root["xattr_size"]'
feature "--hard-dereference" "-T $BT --mkfs-time --hard-dereference" '
bad = [i["path"] for i in inodes if not stat.S_ISDIR(i["mode"]) and i["nlink"] != 1]
why = "inodes with links: %s" % bad[:3] if bad else ""' --hard-dereference
feature "--fsalignblks=7 -b 1024" "-T $BT --mkfs-time --fsalignblks=7 -b 1024" '
size = os.path.getsize(os.environ["CENSUS_IMAGE"])
if sb["blocks"] % 8 or sb["blocks"] * 1024 != size:
    why = "%d blocks, %d bytes" % (sb["blocks"], size)'

# --- fragments with a cluster size of their own, fragment sharing ---------
run_mkfs "-Efragments=16384" -T "$BT" --mkfs-time -zlz4 -Efragments=16384 "$img" "$src" && {
	rt_mount_compare "-Efragments=16384: kernel reads it back" "$img" "$ref"
	pnid=$(python3 "$TOP_SRCDIR/tests/inode_census.py" "$img" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["sb"]["packed_nid"])')
	big=$("$DUMP" -e --nid="$pnid" "$img" 2>/dev/null |
		awk '$5 == "cluster" { split($4, r, /\.\./); l = r[2] - r[1]; if (l > m) m = l } END { print m + 0 }')
	if [ "$big" -gt 4096 ] && [ "$big" -le 16384 ]; then
		pass "-Efragments=16384: the packed inode has clusters of up to 16 KiB"
	else
		fail "-Efragments=16384: the packed inode has clusters of up to 16 KiB" \
			"largest cluster $big bytes"
	fi
}
fsrc=$TEST_TMP/fsrc
mkdir -p "$fsrc"
python3 - "$fsrc" <<'EOF'
import os, random, sys
r = random.Random(7)
tail = r.randbytes(3000)
for i in range(6):
    # a block that does not compress, then the same random tail
    with open(os.path.join(sys.argv[1], 'f%d' % i), 'wb') as f:
        f.write(r.randbytes(4096) + tail)
small = r.randbytes(1500)
for i in range(4):
    with open(os.path.join(sys.argv[1], 'same%d' % i), 'wb') as f:
        f.write(small)
EOF
# packed_size OPTIONS: the bytes the packed inode holds (before its own
# compression, which would hide repeats) when fsrc is built so
packed_size() {
	local pnid
	# shellcheck disable=SC2086
	"$MKFS" --quiet -T "$BT" -zlz4 -Efragments $1 "$TEST_TMP/f.img" "$fsrc" ||
		return
	pnid=$($CENSUS "$TEST_TMP/f.img" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["sb"]["packed_nid"])')
	"$DUMP" --nid="$pnid" "$TEST_TMP/f.img" | awk '/^Size:/ { print $2 }'
}
# six files end in the same 3000 bytes after a block of their own, four
# small ones are equal: full keeps one tail and one small file (4500
# bytes), inode six tails and one small file, ^fragdedupe everything
full=$(packed_size "") inode=$(packed_size "-Efragdedupe=inode")
off=$(packed_size "-E^fragdedupe")
if [ "$full" = 4500 ] && [ "$inode" = 19500 ] && [ "$off" = 24000 ]; then
	pass "-Efragdedupe: full shares equal tails, inode only whole files, ^ none"
else
	fail "-Efragdedupe: full shares equal tails, inode only whole files, ^ none" \
		"packed inode bytes full $full, inode $inode, off $off (want 4500 19500 24000)"
fi
for mode in "" "-Efragdedupe=inode" "-E^fragdedupe"; do
	# shellcheck disable=SC2086
	run_mkfs "fragments $mode" -T "$BT" --mkfs-time -zlz4 -Efragments $mode "$img" "$fsrc" &&
		rt_mount_compare "-Efragments ${mode:-(fragdedupe=full)}: kernel reads it back" "$img" "$fsrc"
done
# -Ededupe: the copies of a compressible file share its clusters
dsrc=$TEST_TMP/dsrc
mkdir -p "$dsrc"
python3 -c 'import sys; open(sys.argv[1], "w").write(" ".join(str(i % 997) for i in range(200000)))' "$dsrc/a"
cp "$dsrc/a" "$dsrc/b"; cp "$dsrc/a" "$dsrc/c"
plain=$("$MKFS" --quiet -zlz4 "$img" "$dsrc" && stat -c %s "$img")
if run_mkfs "-Ededupe" -zlz4 -Ededupe "$img" "$dsrc"; then
	dd=$(stat -c %s "$img")
	if [ "$dd" -lt $((plain - 100000)) ]; then
		pass "-Ededupe: copies share their clusters"
	else
		fail "-Ededupe: copies share their clusters" "$dd bytes, $plain without"
	fi
	rt_mount_compare "-Ededupe: kernel reads it back" "$img" "$dsrc"
fi

# --- --zfeature-bits is -E by bits; --async-queue-limit changes no byte ----
same_image() {
	local name=$1 a=$2 b=$3
	# shellcheck disable=SC2086
	run_mkfs "$name" -T "$BT" -U "$FIXED_UUID" $a "$TEST_TMP/a.img" "$src" &&
		run_mkfs "$name" -T "$BT" -U "$FIXED_UUID" $b "$TEST_TMP/b.img" "$src" &&
		if cmp -s "$TEST_TMP/a.img" "$TEST_TMP/b.img"; then
			pass "$name"
		else
			fail "$name" "images differ"
		fi
}
same_image "--zfeature-bits=6 is -Eztailpacking,fragments" \
	"-zlz4hc --zfeature-bits=6" "-zlz4hc -Eztailpacking,fragments"
same_image "--zfeature-bits=64 is -E48bit" "--zfeature-bits=64" "-E48bit"
same_image "--zfeature-bits=128 is -Edot-omitted" "--zfeature-bits=128" "-Edot-omitted"
same_image "--zfeature-bits=4 after -Eztailpacking clears it" \
	"-zlz4 -Eztailpacking --zfeature-bits=4" "-zlz4 -Efragments"
same_image "--async-queue-limit changes no byte" \
	"-zlz4 --async-queue-limit=1" "-zlz4"
run_mkfs "--async-queue-limit=1" -T "$BT" --mkfs-time -zlz4 --async-queue-limit=1 "$img" "$src" &&
	rt_mount_compare "--async-queue-limit=1: kernel reads it back" "$img" "$ref"

# --- --offset ---------------------------------------------------------------
off=12288
if run_mkfs "--offset" -T "$BT" --mkfs-time --offset=$off "$img" "$src"; then
	m=$TEST_TMP/offmnt
	mkdir -p "$m"
	if mount -t erofs -o loop,ro,offset=$off "$img" "$m" 2>"$TEST_TMP/m.err"; then
		_mounts+=("$m")
		out=$($COMPARE "$ref" "$m" 2>&1) && pass "--offset: the kernel reads the image at the offset" ||
			fail "--offset: the kernel reads the image at the offset" "$(echo "$out" | head -n 1)"
		umount "$m"
	else
		fail "--offset: the kernel reads the image at the offset" "$(cat "$TEST_TMP/m.err")"
	fi
	if [ "$(head -c $off "$img" | tr -d '\0' | wc -c)" -eq 0 ]; then
		pass "--offset: zeros before the image"
	else
		fail "--offset: zeros before the image" "non-zero bytes"
	fi
	"$FSCK" --offset=$off "$img" >/dev/null 2>&1 && pass "--offset: our fsck reads it" ||
		fail "--offset: our fsck reads it" "fsck --offset failed"
	eu_fsck "--offset: erofs-utils fsck reads it" "$img" --offset=$off
	# (erofs-utils 1.9.4 writes directories of more than one block wrong
	# with --offset, as its own fsck finds: a tree without such ones)
	if eu_new && "$EU_BIN/mkfs.erofs" --quiet --offset=$off "$TEST_TMP/eo.img" \
		"$src/types" >/dev/null 2>&1; then
		"$FSCK" --offset=$off "$TEST_TMP/eo.img" >/dev/null 2>&1 &&
			pass "--offset: our fsck reads erofs-utils' image" ||
			fail "--offset: our fsck reads erofs-utils' image" "fsck failed"
	fi
fi

# --- SOURCE_DATE_EPOCH with -T, as erofs-utils ------------------------------
# both_tools NAME "MKFS OPTIONS" [ENV=VALUE...]: ours and erofs-utils' images
# of the source mount to the same tree (mode, owner, times, xattrs...)
both_tools() {
	local name=$1 opts=$2 a=$TEST_TMP/both-ours b=$TEST_TMP/both-eu out
	shift 2
	eu_new || { skip "$name" "$EU_WHY"; return 0; }
	rm -f "$TEST_TMP/o2.img" "$TEST_TMP/e2.img"
	# shellcheck disable=SC2086
	env "$@" "$MKFS" --quiet $opts "$TEST_TMP/o2.img" "$BOTH_SRC" \
		>"$TEST_TMP/both.out" 2>&1 &&
		env "$@" "$EU_BIN/mkfs.erofs" --quiet $opts "$TEST_TMP/e2.img" \
			"$BOTH_SRC" >>"$TEST_TMP/both.out" 2>&1 ||
		{ fail "$name" "$(head -n 2 "$TEST_TMP/both.out")"; return; }
	kmount "$TEST_TMP/o2.img" "$a" && kmount "$TEST_TMP/e2.img" "$b" ||
		{ fail "$name" "mount failed"; return; }
	if out=$($COMPARE "$b" "$a" 2>&1); then pass "$name"; else
		fail "$name" "$(echo "$out" | head -n 1)"; fi
	umount "$a" "$b"
}
BOTH_SRC=$TEST_TMP/tsrc
mkdir -p "$BOTH_SRC/d"
echo old >"$BOTH_SRC/old"; echo new >"$BOTH_SRC/d/new"
touch -d @1000000000.5 "$BOTH_SRC/old"
touch -d @2000000000.25 "$BOTH_SRC/d/new"
touch -d @1500000000 "$BOTH_SRC/d" "$BOTH_SRC"
SDE=1600000000
for t in "-T 0" "-T 0 --mkfs-time" "-T 0 --all-time" "-T 0 --ignore-mtime" ""; do
	both_tools "SOURCE_DATE_EPOCH with ${t:-no -T}: as erofs-utils" "$t" \
		SOURCE_DATE_EPOCH=$SDE
done
both_tools "SOURCE_DATE_EPOCH empty: as erofs-utils" "-T 5" SOURCE_DATE_EPOCH=
if SOURCE_DATE_EPOCH=$SDE run_mkfs "SOURCE_DATE_EPOCH wins over -T" -T 0 "$img" "$src"; then
	rt_mount_compare "SOURCE_DATE_EPOCH wins over -T and clamps" "$img" "$ref" \
		--clamp-mtime "$SDE"
fi
# --ignore-mtime with 48-bit compact inodes: seconds kept, nanoseconds not
run_mkfs "-E48bit --ignore-mtime" -T "$BT" --mkfs-time -E48bit --ignore-mtime "$img" "$src" &&
	rt_mount_compare "-E48bit --ignore-mtime keeps the seconds" "$img" "$ref" \
		--fit-mtime 0 "$BT"

# --- --mount-point with file contexts, as erofs-utils -------------------------
if "$MKFS" --help | grep -q -- --file-contexts && [ -r /usr/lib/x86_64-linux-gnu/libselinux.so.1 ] ||
	ldd "$MKFS" | grep -q libselinux; then
	fc=$TEST_TMP/file_contexts
	printf '%s\n' '/system(/.*)?  u:object_r:system_file:s0' \
		'/system/d(/.*)?  u:object_r:d_file:s0' \
		'/system/old  u:object_r:old_file:s0' >"$fc"
	for mp in system /system system/; do
		both_tools "--mount-point=$mp labels every file as erofs-utils" \
			"-T $BT --file-contexts=$fc --mount-point=$mp"
	done
	if run_mkfs "--mount-point=system" --file-contexts="$fc" --mount-point=system "$img" "$BOTH_SRC"; then
		m=$TEST_TMP/fcm
		kmount "$img" "$m"
		got=$(getfattr --only-values -n security.selinux "$m/d/new" 2>/dev/null | tr -d '\0')
		umount "$m"
		[ "$got" = u:object_r:d_file:s0 ] && pass "--mount-point=system: labels found" ||
			fail "--mount-point=system: labels found" "d/new labelled '$got'"
	fi
else
	skip "--mount-point with --file-contexts" "built without libselinux"
fi

# --- compress hints erofs-utils skips ----------------------------------------
hints=$TEST_TMP/hints
printf '%s\n' '4097 ^d/' '16384 ^old$' '8192 ^(unclosed' >"$hints"
if "$MKFS" -zlz4 --compress-hints="$hints" "$img" "$BOTH_SRC" >"$TEST_TMP/h.out" 2>&1; then
	if grep -q "$hints:1:.*skipped" "$TEST_TMP/h.out" &&
		grep -q "$hints:3:.*skipped" "$TEST_TMP/h.out"; then
		pass "--compress-hints: lines erofs-utils skips are skipped with a warning naming them"
	else
		fail "--compress-hints: lines erofs-utils skips are skipped with a warning naming them" \
			"$(cat "$TEST_TMP/h.out")"
	fi
	rt_mount_compare "--compress-hints with skipped lines: kernel reads it back" "$img" "$BOTH_SRC"
else
	fail "--compress-hints: lines erofs-utils skips are skipped with a warning naming them" \
		"build failed: $(cat "$TEST_TMP/h.out")"
fi
if eu_new && "$EU_BIN/mkfs.erofs" --quiet -zlz4 --compress-hints="$hints" \
	"$TEST_TMP/e3.img" "$BOTH_SRC" >/dev/null 2>&1; then
	pass "--compress-hints: erofs-utils builds with the same file"
fi

# --- whiteouts from --tar=f --aufs, as erofs-utils ----------------------------
wt=$TEST_TMP/wh
mkdir -p "$wt/etc" "$wt/opq" "$wt/d"
echo keep >"$wt/etc/keep"
: >"$wt/etc/.wh.removed"; : >"$wt/d/.wh.gone"; : >"$wt/opq/.wh..wh..opq"
echo n >"$wt/opq/new"
chmod 0640 "$wt/etc/.wh.removed"
touch -d @1600000000 "$wt/etc/.wh.removed" "$wt/d/.wh.gone"
touch -d @1500000000 "$wt/etc" "$wt/opq" "$wt/d" "$wt/opq/new" "$wt/etc/keep" "$wt"
(cd "$wt" && tar --owner=7 --group=8 --numeric-owner -cf "$TEST_TMP/wh.tar" .)
BOTH_SRC=$TEST_TMP/wh.tar
both_tools "--tar=f --aufs: whiteouts (mode, rdev, owner, time) and origins as erofs-utils" \
	"--tar=f --aufs -T $BT --mkfs-time"

# --- --help and --version ------------------------------------------------------
missing=
for o in $(sed -n '/long_options\[\] = {/,/^};/s/^\t{ "\([a-z0-9-]*\)", .*/\1/p' \
	"$TOP_SRCDIR/mkfs/main.c"); do
	"$MKFS" --help | grep -q -- "--$o" || missing="$missing --$o"
done
[ -z "$missing" ] && pass "mkfs --help lists every option it accepts" ||
	fail "mkfs --help lists every option it accepts" "missing:$missing"
for t in mkfs fsck dump; do
	bin=$TOP_BUILDDIR/$t/$t.erofs
	first=$("$bin" --version | head -n 1)
	if [ "$first" = "$t.erofs (erofs-utils) 1.9.4" ] &&
		"$bin" --version | grep -q '^erofs-share '; then
		pass "$t --version: erofs-utils' line first, then ours"
	else
		fail "$t --version: erofs-utils' line first, then ours" "$("$bin" --version | tr '\n' '|')"
	fi
done
v=$("$MKFS" --version 2>/dev/null | sed -n 's/.*erofs-utils) *//p')
[ "$v" = 1.9.4 ] && pass "a version gate reads 1.9.4 (sed 's/.*erofs-utils) *//p')" ||
	fail "a version gate reads 1.9.4 (sed 's/.*erofs-utils) *//p')" "'$v'"
rm -f "$img"
exit 0
