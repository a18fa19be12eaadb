#!/usr/bin/env bash
# Reading images with extra devices and chunk-based files, every kind
# erofs-utils 1.9 writes: --blobdev (with and without fingerprints),
# --chunksize alone (block map, and -Eforce-chunk-indexes), --tar=i, the
# containerd layer (a --tar=i index with its tar appended) and a merge of
# two --tar=f layers. Our fsck.erofs must pass each with --device and as
# one combined file without, extract the source tree exactly (trailing
# holes included), and extract what the kernel shows when it mounts the
# same image (loop devices, device=/dev/loopN; the combined file with no
# options). dump.erofs shows the devices; a wrong device count fails as
# erofs-utils does; the share report reads multi-device images and counts
# what they share on storage. Needs erofs-utils 1.9 (tests/oracle) to
# build the images; the kernel part needs root and loop devices.
. "$(dirname "$0")/lib.sh"
. "$TOP_SRCDIR/tests/roundtrip_lib.sh"

T=multidev
W=$TEST_TMP
if ! eu_new; then
	skip "$T: multi-device images" "erofs-utils 1.9 builds them: $EU_WHY"
	exit 0
fi
EU=$EU_BIN
KWHY=$(kernel_unavailable)
LOOPS=()
md_cleanup() {
	local m l
	for m in "${_mounts[@]}"; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	_mounts=()
	for l in "${LOOPS[@]}"; do
		losetup -d "$l" 2>/dev/null
	done
	cleanup
}
trap md_cleanup EXIT

# --- the source tree (MULTIDEVICE.md 8.1) ---------------------------------
SRC=$W/src
python3 - "$SRC" <<'EOF'
import os, random, sys
root = sys.argv[1]
r = random.Random(31)
def put(name, data):
    with open(os.path.join(root, name), 'wb') as f:
        f.write(data)
os.makedirs(os.path.join(root, 'dir/sub'))
put('empty', b'')
put('one', b'x')
for n in (4095, 4096, 4097):
    put('f%d' % n, r.randbytes(n))
big = r.randbytes(300000)
put('big', big)
put('dir/dup', big)
# shares its second 4 KiB chunk with big
put('dir/sub/chunk', r.randbytes(4096) + big[4096:8192] + r.randbytes(1000))
put('zeros', bytes(16384))
with open(os.path.join(root, 'sparse'), 'wb') as f:
    f.seek(900000)
    f.write(r.randbytes(1000))
    f.truncate(1 << 20)
os.link(os.path.join(root, 'f4097'), os.path.join(root, 'dir/hard'))
os.symlink('t' * 200, os.path.join(root, 'longlink'))
os.symlink('big', os.path.join(root, 'link'))
EOF
mkfifo "$SRC/fifo"
if [ "$(id -u)" -eq 0 ]; then
	mknod "$SRC/chr" c 1 3
fi
setfattr -n user.note -v "a note" "$SRC/one" 2>/dev/null
setfattr -n trusted.tag -v "t1" "$SRC/big" 2>/dev/null
setfattr -n user.dirnote -v "d" "$SRC/dir" 2>/dev/null
find "$SRC" -exec touch -h -d @1700000000 {} +

LAYER=$W/layer.tar
tar -C "$SRC" --sort=name --format=pax --xattrs --xattrs-include='*' \
	--numeric-owner -cf "$LAYER" .

# --- the images --------------------------------------------------------------
eu_mkfs() { # NAME ARGS...
	local name=$1
	shift
	if ! "$EU/mkfs.erofs" --quiet "$@" >"$W/mkfs.out" 2>&1; then
		fail "$T: erofs-utils mkfs.erofs $name" "$(grep -m1 . "$W/mkfs.out")"
		return 1
	fi
}
eu_mkfs blobdev -U "$FIXED_UUID" --blobdev="$W/blob.img" --chunksize=4096 \
	"$W/blob-meta.img" "$SRC"
eu_mkfs "blobdev with fingerprints" -U "$FIXED_UUID" \
	--blobdev="$W/fpblob.img" --chunksize=4096 --xattr-inode-digest \
	"$W/fpblob-meta.img" "$SRC"
eu_mkfs chunksize -U "$FIXED_UUID" --chunksize=4096 "$W/chunk.img" "$SRC"
eu_mkfs "chunksize with indexes" -U "$FIXED_UUID" --chunksize=4096 \
	-Eforce-chunk-indexes "$W/chunkidx.img" "$SRC"
eu_mkfs "tar index" -U "$FIXED_UUID" --tar=i "$W/ti.img" "$LAYER"
# containerd's tar index layer: the index, then the tar appended
"$EU/mkfs.erofs" --tar=i --aufs --quiet -U "$FIXED_UUID" "$W/ctd.img" \
	<"$LAYER" >"$W/mkfs.out" 2>&1 ||
	fail "$T: erofs-utils mkfs.erofs --tar=i from stdin" "$(head -n1 "$W/mkfs.out")"
cat "$LAYER" >>"$W/ctd.img"

# two layers merged (rebuild mode): a file changed above, files added
L1=$W/l1 L2=$W/l2 EXP=$W/merged-tree
mkdir -p "$L1/d" "$L2/d"
head -c 100000 /dev/urandom >"$L1/big1"
echo lower >"$L1/d/a"
echo lower >"$L1/both"
head -c 50000 /dev/urandom >"$L2/big2"
echo upper >"$L2/d/b"
echo "upper, longer" >"$L2/both"
find "$L1" "$L2" -exec touch -h -d @1700000000 {} +
for n in 1 2; do
	tar -C "$W/l$n" --sort=name --numeric-owner -cf "$W/l$n.tar" .
	eu_mkfs "layer $n" --tar=f --aufs -Enoinline_data \
		-U "$n$n$n$n$n$n$n$n-$n$n$n$n-$n$n$n$n-$n$n$n$n-$n$n$n$n$n$n$n$n$n$n$n$n" \
		"$W/L$n.erofs" "$W/l$n.tar"
done
"$EU/mkfs.erofs" --quiet "$W/merged.img" "$W/L1.erofs" "$W/L2.erofs" \
	>"$W/mkfs.out" 2>&1 ||
	fail "$T: erofs-utils mkfs.erofs rebuild" "$(grep -v EXPERIMENTAL "$W/mkfs.out" | head -n1)"
mkdir -p "$EXP"
cp -a "$L1/." "$EXP/"
cp -a "$L2/." "$EXP/"

# --- checks ------------------------------------------------------------------
# combine OUT PRIMARY DEVICES...: the primary and its devices in one file
combine() {
	local out=$1
	shift
	cat "$@" >"$out"
}

# our_extract NAME DIR IMAGE [--device=...]: fsck --extract, must be clean
our_extract() {
	local name=$1 dir=$2
	shift 2
	rm -rf "$dir"
	if "$FSCK" --extract="$dir" --xattrs "$@" >"$W/fsck.out" 2>&1; then
		return 0
	fi
	fail "$name" "fsck.erofs --extract $*: exit $?: $(grep -m1 -v '^/' "$W/fsck.out")"
	return 1
}

# compare NAME REF DIR [options]
compare() {
	local name=$1 ref=$2 dir=$3 out
	shift 3
	if out=$($COMPARE "$@" "$ref" "$dir" 2>&1); then
		pass "$name"
	else
		fail "$name" "$(echo "$out" | head -n 1)"
		echo "$out" | head -n 10 | sed 's/^/    /'
	fi
}

# kernel_compare NAME IMAGE DIR DEVICES...: mount IMAGE (the devices on
# loop devices as device=), compare it with DIR (our extraction)
kernel_compare() {
	local name=$1 img=$2 dir=$3 opts=ro mnt=$W/mnt d l out rc
	shift 3
	if [ -n "$KWHY" ]; then
		skip "$name" "$KWHY"
		return 0
	fi
	for d in "$@"; do
		l=$(losetup -f --show -r "$d") || { fail "$name" "losetup $d"; return 1; }
		LOOPS+=("$l")
		opts+=",device=$l"
	done
	mkdir -p "$mnt"
	# mount(8) puts a regular-file primary on a loop device of its own
	if ! mount -t erofs -o "$opts" "$img" "$mnt" 2>"$W/mount.err"; then
		fail "$name" "mount -o $opts: $(cat "$W/mount.err"; dmesg | grep erofs | tail -n 2)"
		return 1
	fi
	_mounts+=("$mnt")
	out=$($COMPARE "$dir" "$mnt" 2>&1)
	rc=$?
	umount "$mnt"
	_mounts=()
	for l in "${LOOPS[@]}"; do
		losetup -d "$l" 2>/dev/null
	done
	LOOPS=()
	if [ "$rc" -eq 0 ]; then
		pass "$name"
	else
		fail "$name" "$(echo "$out" | head -n 1)"
		echo "$out" | head -n 10 | sed 's/^/    /'
	fi
}

# check_devices_image KIND REF PRIMARY DEVICES... (compare options in COPTS)
check_devices_image() {
	local kind=$1 ref=$2 img=$3 devargs=() d n rc out
	shift 3
	for d in "$@"; do
		devargs+=("--device=$d")
	done
	n=$#
	"$FSCK" "${devargs[@]}" "$img" >"$W/fsck.out" 2>&1
	rc=$?
	[ "$rc" -eq 0 ] && pass "$T: $kind: fsck with --device" ||
		fail "$T: $kind: fsck with --device" "exit $rc: $(grep -m1 -v '^/' "$W/fsck.out")"
	if our_extract "$T: $kind: fsck --extract with --device" "$W/x" \
		"${devargs[@]}" "$img"; then
		compare "$T: $kind: extraction equals the source" "$ref" "$W/x" \
			"${COPTS[@]}"
		kernel_compare "$T: $kind: the kernel (device=loop) shows the extraction" \
			"$img" "$W/x" "$@"
	fi

	combine "$W/one.img" "$img" "$@"
	"$FSCK" "$W/one.img" >"$W/fsck.out" 2>&1
	rc=$?
	[ "$rc" -eq 0 ] && pass "$T: $kind: fsck of one combined file" ||
		fail "$T: $kind: fsck of one combined file" "exit $rc: $(grep -m1 -v '^/' "$W/fsck.out")"
	if our_extract "$T: $kind: extract the combined file" "$W/y" \
		"$W/one.img"; then
		compare "$T: $kind: combined file's extraction equals the source" \
			"$ref" "$W/y" "${COPTS[@]}"
		kernel_compare "$T: $kind: the kernel mounts the combined file alike" \
			"$W/one.img" "$W/y"
	fi

	"$FSCK" "$img" >"$W/fsck.out" 2>&1
	rc=$?
	if [ "$rc" -eq 8 ] && grep -q "extra device 1 is not in" "$W/fsck.out"; then
		pass "$T: $kind: without its devices: not checked (8), device named"
	else
		fail "$T: $kind: without its devices" "exit $rc: $(grep -m1 -v '^/' "$W/fsck.out")"
	fi

	out=$("$DUMP" -s "${devargs[@]}" "$img" 2>&1)
	if echo "$out" | grep -q "^Extra devices: *$n " &&
		[ "$(echo "$out" | grep -c '^  device [0-9]*: ')" -eq "$n" ]; then
		pass "$T: $kind: dump -s lists $n devices"
	else
		fail "$T: $kind: dump -s lists $n devices" "$(echo "$out" | grep -A2 Extra)"
	fi

	"$FSCK" "${devargs[@]}" "--device=$1" "$img" >"$W/fsck.out" 2>&1
	rc=$?
	if [ "$rc" -eq 16 ] &&
		grep -q "extra devices don't match (ondisk $n, given $((n + 1)))" "$W/fsck.out"; then
		pass "$T: $kind: one --device too many: erofs-utils' message, usage exit"
	else
		fail "$T: $kind: one --device too many" "exit $rc: $(head -n1 "$W/fsck.out")"
	fi
}

# the trailing hole kept at its size (erofs-utils 1.9.4 drops it)
check_holes() {
	local kind=$1 dir=$2 f want got
	for f in sparse:1048576 zeros:16384; do
		want=${f#*:}
		got=$(stat -c %s "$dir/${f%%:*}" 2>/dev/null)
		[ "$got" = "$want" ] &&
			pass "$T: $kind: ${f%%:*} keeps its trailing hole ($want bytes)" ||
			fail "$T: $kind: ${f%%:*} keeps its trailing hole" "size $got, want $want"
	done
}

COPTS=()
check_devices_image blobdev "$SRC" "$W/blob-meta.img" "$W/blob.img"
our_extract "$T: blobdev: extract" "$W/x" --device="$W/blob.img" \
	"$W/blob-meta.img" && check_holes blobdev "$W/x"
out=$("$DUMP" -e --path=/big --device="$W/blob.img" "$W/blob-meta.img" 2>&1)
echo "$out" | grep -q ' # device 1$' &&
	pass "$T: blobdev: dump -e marks extents on device 1" ||
	fail "$T: blobdev: dump -e marks extents on device 1" "$(echo "$out" | tail -n 3)"
"$DUMP" --cat --path=/dir/sub/chunk --device="$W/blob.img" \
	"$W/blob-meta.img" | cmp -s - "$SRC/dir/sub/chunk" &&
	pass "$T: blobdev: dump --cat of a file with a shared chunk" ||
	fail "$T: blobdev: dump --cat of a file with a shared chunk" "differs"

check_devices_image "blobdev with fingerprints" "$SRC" "$W/fpblob-meta.img" \
	"$W/fpblob.img"
"$FSCK" --xattr-inode-digest --device="$W/fpblob.img" "$W/fpblob-meta.img" \
	>"$W/fsck.out" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -q "fingerprints verified" "$W/fsck.out"; then
	pass "$T: blobdev: fingerprints of files on the blob verified"
else
	fail "$T: blobdev: fingerprints verified" "exit $rc: $(grep -m1 . "$W/fsck.out")"
fi
# a changed byte in the blob is caught by the fingerprints
cp "$W/fpblob.img" "$W/bad-blob.img"
printf 'X' | dd of="$W/bad-blob.img" bs=1 seek=5000 conv=notrunc 2>/dev/null
"$FSCK" --device="$W/bad-blob.img" "$W/fpblob-meta.img" >"$W/fsck.out" 2>&1
rc=$?
[ "$rc" -eq 4 ] && grep -q "does not match its fingerprint" "$W/fsck.out" &&
	pass "$T: blobdev: a changed blob byte fails the fingerprint" ||
	fail "$T: blobdev: a changed blob byte fails the fingerprint" "exit $rc"

for kind in chunk chunkidx; do
	img=$W/$kind.img
	"$FSCK" "$img" >"$W/fsck.out" 2>&1 &&
		pass "$T: $kind: fsck" ||
		fail "$T: $kind: fsck" "$(grep -m1 -v '^/' "$W/fsck.out")"
	if our_extract "$T: $kind: extract" "$W/x" "$img"; then
		compare "$T: $kind: extraction equals the source" "$SRC" "$W/x"
		check_holes "$kind" "$W/x"
		if [ -n "$KWHY" ]; then
			skip "$T: $kind: kernel" "$KWHY"
		else
			rt_mount_compare "$T: $kind: the kernel shows the extraction" \
				"$img" "$W/x"
		fi
	fi
done

# a tar's root entry is the tree's root; its own attributes are compared
# separately by the kernel comparison
COPTS=(--ignore-root-meta)
check_devices_image "tar index" "$SRC" "$W/ti.img" "$LAYER"
bs=$(sb_field "$W/ti.img" 12 1)
[ "$bs" = 09 ] && pass "$T: tar index has 512-byte blocks" ||
	fail "$T: tar index has 512-byte blocks" "blkszbits $bs"

# the containerd layer is already one file
"$FSCK" "$W/ctd.img" >"$W/fsck.out" 2>&1 &&
	pass "$T: containerd layer: fsck of [index][tar]" ||
	fail "$T: containerd layer: fsck of [index][tar]" "$(grep -m1 -v '^/' "$W/fsck.out")"
if our_extract "$T: containerd layer: extract" "$W/x" "$W/ctd.img"; then
	compare "$T: containerd layer: extraction equals the source" "$SRC" \
		"$W/x" --ignore-root-meta
	check_holes "containerd layer" "$W/x"
	kernel_compare "$T: containerd layer: the kernel mounts it alike" \
		"$W/ctd.img" "$W/x"
fi

COPTS=(--ignore-root-meta)
check_devices_image "merged layers" "$EXP" "$W/merged.img" "$W/L1.erofs" \
	"$W/L2.erofs"

# --- the share report ----------------------------------------------------------
js() { python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$W/share.json" "$1"; }
if "$DUMP" --share-report --json "$W/fpblob-meta.img" --device="$W/fpblob.img" \
	"$W/fpblob-meta.img" --device="$W/fpblob.img" >"$W/share.json" 2>"$W/share.err"; then
	first=$(js 'r["images"][0]["added_bytes"]')
	second=$(js 'r["images"][1]["added_bytes"]')
	shared=$(js 'r["shared_bytes"]')
	[ "$first" -gt 0 ] && [ "$second" -eq 0 ] && [ "$shared" -eq "$first" ] &&
		pass "$T: share report: a blobdev image read twice adds no page cache the second time" ||
		fail "$T: share report: a blobdev image twice" "first $first second $second shared $shared"
	ref=$(js 'r["storage"]["referenced_bytes"]')
	st=$(js 'r["storage"]["bytes"]')
	want=$(($(stat -c %s "$W/fpblob-meta.img") + $(stat -c %s "$W/fpblob.img")))
	[ "$st" -eq "$want" ] && [ "$ref" -eq $((2 * want)) ] &&
		pass "$T: share report: the same image and blob twice are stored once ($st bytes)" ||
		fail "$T: share report: storage of an image twice" "stored $st referenced $ref, want $want"
else
	fail "$T: share report over blobdev images" "$(head -n1 "$W/share.err")"
fi
if "$DUMP" --share-report --json "$W/merged.img" --device="$W/L1.erofs" \
	--device="$W/L2.erofs" "$W/L1.erofs" >"$W/share.json" 2>"$W/share.err"; then
	common=$(js 'r["storage"]["shared_bytes"]')
	l1=$(js 'r["images"][1]["storage_bytes"]')
	# the merge uses L1's data blocks, not its metadata
	[ "$common" -gt 0 ] && [ "$common" -lt "$l1" ] &&
		[ "$(js 'r["images"][0]["extra_devices"]')" -eq 2 ] &&
		pass "$T: share report: a merge and its lower layer share the layer's data on storage ($common of $l1 bytes)" ||
		fail "$T: share report: merge and layer storage" "shared $common, layer $l1"
else
	fail "$T: share report over a merge and its layer" "$(head -n1 "$W/share.err")"
fi
"$DUMP" --share-report --device="$W/blob.img" "$W/blob-meta.img" \
	"$W/blob-meta.img" >"$W/share.out" 2>&1
rc=$?
[ "$rc" -eq 1 ] && grep -q "follows the IMAGE it belongs to" "$W/share.out" &&
	pass "$T: share report: a --device before any IMAGE is refused" ||
	fail "$T: share report: a --device before any IMAGE" "exit $rc: $(head -n1 "$W/share.out")"
exit 0
