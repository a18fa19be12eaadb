#!/usr/bin/env bash
# Uncompressed data is cloned rather than copied when the source files and
# the image lie on one filesystem that shares blocks between files (XFS with
# reflink): the image is the same, byte for byte, as one written by copying,
# its data extents are shared with the source files, and the kernel reads it
# back. Needs root, loop devices, mkfs.xfs (xfsprogs) and XFS in the kernel.
. "$(dirname "$0")/lib.sh"
. "$TOP_SRCDIR/tests/roundtrip_lib.sh"

why=$(kernel_unavailable)
if [ -z "$why" ] && ! command -v mkfs.xfs >/dev/null; then
	why="mkfs.xfs is missing (xfsprogs)"
fi
if [ -z "$why" ] && ! grep -qw xfs /proc/filesystems &&
	! modprobe xfs 2>/dev/null; then
	why="the kernel has no XFS"
fi
if [ -n "$why" ]; then
	skip clone "$why"
	exit 0
fi

xfs=$TEST_TMP/xfs.img
mnt=$TEST_TMP/xfs
truncate -s 600M "$xfs"
if ! out=$(mkfs.xfs -q -m reflink=1 "$xfs" 2>&1); then
	fail "mkfs.xfs -m reflink=1" "$out"
	exit 0
fi
mkdir -p "$mnt"
if ! out=$(mount -o loop "$xfs" "$mnt" 2>&1); then
	fail "mount the XFS scratch filesystem" "$out"
	exit 0
fi
_mounts+=("$mnt")

# data around block boundaries, a few megabytes, a sparse file; the other
# file types are the round-trip tests' business (XFS cannot hold them all)
src=$mnt/src
python3 - "$src" "$BT" <<'PY'
import os, random, sys
src, bt = sys.argv[1], int(sys.argv[2])
rnd = random.Random(11)
os.makedirs(src + "/dir")
for i, size in enumerate([1, 4095, 4096, 4097, 69755, 1 << 20,
                          (3 << 20) + 7, 10 << 20]):
    with open("%s/%s/f%d" % (src, "dir" if i % 2 else ".", i), "wb") as f:
        f.write(rnd.randbytes(size))
with open(src + "/sparse", "wb") as f:
    f.truncate(8 << 20)
    f.seek(3 << 20)
    f.write(rnd.randbytes(300000))
for root, dirs, files in os.walk(src):
    for n in dirs + files:
        os.utime(os.path.join(root, n), (bt, bt))
os.utime(src, (bt, bt))
PY
ref=$TEST_TMP/src.json
$COMPARE --save "$ref" "$src" || { fail clone "cannot scan the source"; exit 0; }

cloned=$mnt/cloned.img
copied=$TEST_TMP/copied.img
args=(-T "$BT" --mkfs-time -U "$FIXED_UUID")
run_mkfs "build beside the source on XFS" "${args[@]}" "$cloned" "$src" ||
	exit 0
run_mkfs "build on another filesystem" "${args[@]}" "$copied" "$src" || exit 0
check "cloned and copied images are the same bytes" cmp "$cloned" "$copied"

# FIEMAP marks extents that other files share
shared=$(filefrag -v "$cloned" 2>/dev/null | grep -c shared)
if [ "$shared" -gt 0 ]; then
	pass "the image shares $shared extents with its sources"
else
	fail "the image shares extents with its sources" \
		"filefrag -v shows no shared extent"
fi

rt_mount_compare "cloned image read back by the kernel" "$cloned" "$ref"
eu_fsck "erofs-utils 1.9 fsck of the cloned image" "$cloned" --extract
rm -f "$cloned"
exit 0
