#!/usr/bin/env bash
# Seed corpus for the fuzz targets, generated from the built tools (nothing
# binary is committed): small images in many layouts (ours, and erofs-utils'
# when available), tar archives in every dialect and compression, and image
# pairs for the share report.
# Usage: fuzz/make-corpus.sh OUTDIR
#   OUTDIR/image/  images (fuzz-fsck, fuzz-dump)
#   OUTDIR/tar/    archives (fuzz-tar)
#   OUTDIR/share/  two images with a length prefix (fuzz-share)
#   OUTDIR/manifest/  fingerprint manifests of some images (fuzz-manifest)
# Environment: MKFS (our mkfs.erofs, default ./mkfs/mkfs.erofs), EU_BIN (a
# bin directory of erofs-utils 1.9, found by tests/oracle if unset).
set -euo pipefail

out=${1:?usage: make-corpus.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
MKFS=${MKFS:-./mkfs/mkfs.erofs}
DUMP=${DUMP:-$(dirname "$MKFS")/../dump/dump.erofs}
work=$(mktemp -d "${TMPDIR:-/tmp}/erofs-corpus.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out/image" "$out/tar" "$out/share" "$out/manifest"

# --- a small tree with every kind of entry ---------------------------------
src=$work/src
mkdir -p "$src/d/e/f" "$src/empty-dir" "$src/x"
: >"$src/empty"
echo "hello, world" >"$src/hello"
python3 - "$src" <<'PY'
import os, random, sys
root = sys.argv[1]
r = random.Random(7)
def put(name, data):
    with open(os.path.join(root, name), 'wb') as f:
        f.write(data)
put('tail-5000', b'tail ' * 1000)
put('random-9000', bytes(r.getrandbits(8) for _ in range(9000)))
put('d/e/f/text-20000', b''.join(b'line %d of some text\n' % i
                                 for i in range(1000))[:20000])
put('same-1', b'identical content\n' * 300)
put('same-2', b'identical content\n' * 300)
put('n' * 200, b'long name\n')
with open(os.path.join(root, 'sparse'), 'wb') as f:
    f.write(b'start' * 100)
    f.seek(64 << 10)
    f.write(b'middle' * 100)
    f.truncate(192 << 10)
PY
ln -s hello "$src/link"
ln -s "$(printf 't%.0s' $(seq 300))" "$src/long-link"
ln "$src/hello" "$src/d/hardlink"
mkfifo "$src/fifo"
if [ "$(id -u)" -eq 0 ]; then
	mknod "$src/x/chr" c 1 3
	mknod "$src/x/blk" b 7 0
	mknod "$src/x/whiteout" c 0 0
fi
setfattr -n user.note -v "a note" "$src/hello" 2>/dev/null || true
setfattr -n user.shared -v "same value" "$src/hello" 2>/dev/null || true
setfattr -n user.shared -v "same value" "$src/tail-5000" 2>/dev/null || true
setfattr -n trusted.overlay.opaque -v y "$src/d" 2>/dev/null || true
setfacl -m u:1234:rw "$src/random-9000" 2>/dev/null || true
touch -d @1700000000 "$src/hello"

# --- images ------------------------------------------------------------------
n=0
ours() {
	n=$((n + 1))
	"$MKFS" --quiet -T1700000000 -Uclear "$@" "$out/image/ours-$n.img" \
		"$src" 2>/dev/null || rm -f "$out/image/ours-$n.img"
}
ours
ours -b512
ours -b1024 --ishare
ours --ishare=user.fp -x1
ours --xattr-prefix=user.sha --ishare
ours -zlz4 -Eztailpacking
ours -zlz4hc -C16384 -b512
ours -zlz4 -Elegacy-compress
ours -zlzma -Efragments
ours -zzstd -Ededupe,fragments -b512
ours -zlz4 -Eall-fragments --ishare
ours -zzstd -C65536 -Eztailpacking
ours -zdeflate -Eztailpacking,fragments
ours -zdeflate,dictsize=4096 -C16384 -b1024
# compressed metadata: a plain metabox, a compressed one with directories
# in the packed inode, and the metadata zone
ours -m4096
ours -m4096 -zlz4 --zD -Eztailpacking --ishare
ours -m1024:lzma -zlz4 -b1024 --MZ
ours --zD --MZ -zzstd

if [ -z "${EU_BIN:-}" ]; then
	EU_BIN=$(bash "$here/../tests/oracle/erofs-utils-new.sh" 2>/dev/null) ||
		EU_BIN=
fi
theirs() {
	local tool=$1
	shift
	n=$((n + 1))
	"$tool" -T1700000000 -Uclear "$@" "$out/image/eu-$n.img" "$src" \
		>/dev/null 2>&1 || rm -f "$out/image/eu-$n.img"
}
if [ -n "$EU_BIN" ]; then
	theirs "$EU_BIN/mkfs.erofs"
	theirs "$EU_BIN/mkfs.erofs" -E48bit --xattr-inode-digest
	theirs "$EU_BIN/mkfs.erofs" -zlz4hc -E48bit -Efragments
	theirs "$EU_BIN/mkfs.erofs" -zlz4hc -Eztailpacking -b1024
	theirs "$EU_BIN/mkfs.erofs" -zlzma -C16384
	theirs "$EU_BIN/mkfs.erofs" -zzstd -Ededupe
	theirs "$EU_BIN/mkfs.erofs" -zdeflate
	theirs "$EU_BIN/mkfs.erofs" --chunksize=4096
	theirs "$EU_BIN/mkfs.erofs" -zlz4 --max-extent-bytes=-65536 -E48bit
	theirs "$EU_BIN/mkfs.erofs" -m4096 -zlz4 --zD --xattr-inode-digest
fi
# images with a device table and chunk indexes, each followed by its
# devices in one file (read in the flat device mode, as the kernel mounts
# such a file without device= options)
combined() {
	local name=$1
	shift
	cat "$@" >"$out/image/$name.img" 2>/dev/null || rm -f "$out/image/$name.img"
}
if [ -n "$EU_BIN" ]; then
	eu=$EU_BIN/mkfs.erofs
	theirs "$eu" --chunksize=4096 -Eforce-chunk-indexes
	"$eu" -T1700000000 -Uclear --blobdev="$work/blob" --chunksize=4096 		"$work/meta" "$src" >/dev/null 2>&1 &&
		combined eu-blobdev "$work/meta" "$work/blob"
	"$eu" -T1700000000 -Uclear --blobdev="$work/fpblob" --chunksize=8192 		--xattr-inode-digest "$work/fpmeta" "$src" >/dev/null 2>&1 &&
		combined eu-blobdev-digest "$work/fpmeta" "$work/fpblob"
	tar -C "$src" --exclude=./sparse --sort=name --format=pax 		--numeric-owner -cf "$work/src.tar" . 2>/dev/null
	"$eu" -T1700000000 -Uclear --tar=i "$work/ti" "$work/src.tar" 		>/dev/null 2>&1 &&
		combined eu-tar-index "$work/ti" "$work/src.tar"
	mkdir -p "$work/l2"
	echo upper >"$work/l2/hello"
	tar -C "$work/l2" -cf "$work/l2.tar" .
	"$eu" -T1700000000 -Uclear --tar=f --aufs -Enoinline_data 		"$work/L1" "$work/src.tar" >/dev/null 2>&1 &&
		"$eu" -T1700000000 -U 22222222-2222-2222-2222-222222222222 			--tar=f --aufs -Enoinline_data "$work/L2" 			"$work/l2.tar" >/dev/null 2>&1 &&
		"$eu" -T1700000000 -Uclear "$work/merged" "$work/L1" 			"$work/L2" >/dev/null 2>&1 &&
		combined eu-merged "$work/merged" "$work/L1" "$work/L2"
fi
if command -v mkfs.erofs >/dev/null && [ "$(command -v mkfs.erofs)" != "$MKFS" ]; then
	# bookworm's erofs-utils 1.5
	theirs mkfs.erofs --chunksize=4096
	theirs mkfs.erofs -zlz4hc
fi

# --- tar archives --------------------------------------------------------------
t=$work/t
mkdir -p "$t/layer/etc" "$t/layer/usr/lib" "$t/layer/opq"
cp "$src/hello" "$src/tail-5000" "$t/layer/etc/"
cp --sparse=always "$src/sparse" "$t/layer/usr/lib/"
ln -s ../etc/hello "$t/layer/usr/lib/link"
ln "$t/layer/etc/hello" "$t/layer/usr/lib/hard"
: >"$t/layer/etc/.wh.removed"
: >"$t/layer/opq/.wh..wh..opq"
echo keep >"$t/layer/opq/kept"
mkdir -p "$t/layer/$(printf 'p%.0s' $(seq 120))/$(printf 'q%.0s' $(seq 120))"
echo deep >"$t/layer/$(printf 'p%.0s' $(seq 120))/$(printf 'q%.0s' $(seq 120))/file"
setfattr -n user.tar -v "x" "$t/layer/etc/hello" 2>/dev/null || true
tarit() {
	local name=$1
	shift
	tar -C "$t/layer" --sort=name --mtime=@1700000000 --owner=0 \
		--group=0 --numeric-owner "$@" -cf "$out/tar/$name" . \
		2>/dev/null || rm -f "$out/tar/$name"
}
tarit gnu.tar --format=gnu
tarit pax.tar --format=pax --xattrs --acls
tarit ustar.tar --format=ustar
tarit v7.tar --format=v7
tarit sparse.tar --format=gnu -S
tarit pax-sparse.tar --format=pax -S
tarit gnu.tar.gz --format=gnu -z
tarit pax.tar.xz --format=pax -J
tarit gnu.tar.zst --format=gnu --zstd
tarit gnu.tar.bz2 --format=gnu -j
# an archive with a path that climbs out, and one cut short
printf 'escape\n' >"$work/escape"
tar -C "$work" --format=gnu -P --transform 's|^.*escape|../../escape|' \
	-cf "$out/tar/escape.tar" "$work/escape" 2>/dev/null || true
[ -f "$out/tar/gnu.tar" ] && head -c 3000 "$out/tar/gnu.tar" >"$out/tar/cut.tar"

# --- share pairs: a little-endian u32 length, image A, image B -----------------
pair() {
	local a=$1 b=$2 name=$3
	[ -f "$a" ] && [ -f "$b" ] || return 0
	python3 - "$a" "$b" "$out/share/$name" <<'PY'
import struct, sys
a = open(sys.argv[1], 'rb').read()
b = open(sys.argv[2], 'rb').read()
open(sys.argv[3], 'wb').write(struct.pack('<I', len(a)) + a + b)
PY
}
echo changed >>"$src/hello"
"$MKFS" --quiet -T1700000000 -Uclear --ishare -b1024 "$work/changed.img" "$src"
pair "$out/image/ours-3.img" "$work/changed.img" ishare-changed.bin
pair "$out/image/ours-3.img" "$out/image/ours-3.img" same.bin
pair "$out/image/ours-11.img" "$out/image/ours-5.img" compressed-flat.bin
pair "$out/image/ours-1.img" "$out/image/ours-4.img" plain-ishare.bin
pair "$out/image/eu-blobdev-digest.img" "$out/image/eu-blobdev-digest.img" \
	blobdev-twice.bin

# --- fingerprint manifests: small ones, of images with and without ------------
for img in ours-1 ours-3 ours-5 ours-11 eu-blobdev-digest; do
	[ -f "$out/image/$img.img" ] &&
		"$DUMP" --fingerprints --verify "$out/image/$img.img" \
			>"$out/manifest/$img.jsonl" 2>/dev/null
done
[ -f "$out/manifest/ours-3.jsonl" ] && [ -f "$out/manifest/ours-5.jsonl" ] &&
	cat "$out/manifest/ours-3.jsonl" "$out/manifest/ours-5.jsonl" \
		>"$out/manifest/two.jsonl"

echo "corpus: $(ls "$out/image" | wc -l) images, $(ls "$out/tar" | wc -l) archives, $(ls "$out/share" | wc -l) share pairs, $(ls "$out/manifest" | wc -l) manifests in $out"
