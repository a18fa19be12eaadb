#!/usr/bin/env bash
# Byte-identical images across a change: builds one fixed set of images
# (every -z algorithm, -E features, chunks and blob devices, tar input of
# every kind, merged and incremental images, metadata compression,
# fingerprints; fixed -T and -U) with a reference build and with this one,
# and compares every image, extra device and dump report byte for byte.
# Not part of "make check" (it needs a reference build):
#   tests/same-images.sh REF [NEW]
# REF and NEW are build directories (holding mkfs/mkfs.erofs) or
# directories holding mkfs.erofs and dump.erofs; NEW defaults to this
# build. Prints PASS/FAIL lines per image and exits non-zero on a change.
set -u
. "$(dirname "$0")/lib.sh"
. "$TOP_SRCDIR/tests/roundtrip_lib.sh"

[ $# -ge 1 ] || { echo "usage: $0 REF_BUILD [NEW_BUILD]" >&2; exit 2; }

# tools DIR NAME: the path of tool NAME in a build or binary directory
tool() {
	local d=$1 n=$2
	if [ -x "$d/${n%%.*}/$n" ]; then echo "$d/${n%%.*}/$n"
	elif [ -x "$d/$n" ]; then echo "$d/$n"
	else echo "no $n in $d" >&2; return 1
	fi
}
ref=$(cd "$1" && pwd) || exit 2
new=$(cd "${2:-$TOP_BUILDDIR}" && pwd) || exit 2

src=$TEST_TMP/src
$GEN_TREE --seed 22 --small --xattrs --huge-size $((64 << 20)) \
	--build-time "$BT" "$src" >/dev/null || { fail "gen_tree" ""; exit 1; }
# a second layer: some files changed, some new, one removed
src2=$TEST_TMP/src2
cp -a "$src" "$src2"
# (names may hold newlines: NUL-separated)
find "$src2" -type f -size +0 -print0 | sort -z | sed -z -n '1~7p' |
	while IFS= read -r -d '' f; do
		printf 'changed line\n' >>"$f"
	done
mkdir -p "$src2/added" && seq 1 20000 >"$src2/added/numbers"
touch -d "@$BT" "$src2/added/numbers" "$src2/added"
tars=()
for s in "$src" "$src2"; do
	tar --sort=name --mtime="@$BT" --format=pax --xattrs --acls \
		-C "$s" -cf "$s.tar" . 2>/dev/null
	tars+=("$s.tar")
done
# a headerball: the first tar's headers without its files' data
python3 - "${tars[0]}" "$TEST_TMP/headers.tar" <<'EOF'
import sys, tarfile
with tarfile.open(sys.argv[1]) as t, open(sys.argv[2], 'wb') as out:
    for m in t.getmembers():
        out.write(m.tobuf(tarfile.PAX_FORMAT))
    out.write(b'\0' * 1024)
EOF
hints=$TEST_TMP/hints
printf '8192 .*\\.txt$\n16384 ^big\n' >"$hints"

algs=()
for a in lz4 lz4hc lzma zstd deflate libdeflate; do
	"$(tool "$new" mkfs.erofs)" -h 2>&1 | grep -q -- "$a" && algs+=("$a")
done

# build BIN OUT: the whole set, one image (and devices) per case, in OUT
build_set() {
	local mkfs dump out=$2 fixed="-T $BT -U $FIXED_UUID" a i=0
	mkfs=$(tool "$1" mkfs.erofs) || return 1
	dump=$(tool "$1" dump.erofs) || return 1
	mkdir -p "$out"
	m() { # m NAME ARGS...: one image; its failure is recorded as output
		local n=$1
		shift
		(cd "$out" && "$mkfs" --quiet "$@" >"$n.mkfs-out" 2>&1
		 echo "rc $?" >>"$n.mkfs-out")
	}
	m plain $fixed plain.img "$src"
	m ishare $fixed --ishare ishare.img "$src"
	m b512 $fixed -b 512 -x 0 --ishare b512.img "$src"
	m prefix $fixed --xattr-prefix=user. --xattr-prefix=trusted.overlay. \
		prefix.img "$src"
	m noxattr $fixed -x -1 noxattr.img "$src"
	for a in "${algs[@]}"; do
		m "z-$a" $fixed -z"$a" --ishare "z-$a.img" "$src"
		m "z-$a-C" $fixed -z"$a" -C65536 "z-$a-C.img" "$src"
	done
	m z-lz4-legacy $fixed -zlz4 -E legacy-compress z-lz4-legacy.img "$src"
	m z-lz4hc-tail $fixed -zlz4hc,level=9 -C16384 -E ztailpacking \
		z-lz4hc-tail.img "$src"
	m z-frag $fixed -zlz4 -C32768 -E fragments,dedupe,ztailpacking \
		z-frag.img "$src"
	m z-allfrag $fixed -zzstd -E all-fragments,fragdedupe=inode \
		z-allfrag.img "$src"
	m z-fragfull $fixed -zlzma -E fragments=65536,fragdedupe=full \
		z-fragfull.img "$src"
	m z-dedupe $fixed -zlz4hc -C65536 -E dedupe --ishare z-dedupe.img "$src"
	m z-48bit $fixed -zlz4 -E 48bit z-48bit.img "$src"
	m z-alt $fixed -zlz4:zstd --compress-hints="$hints" -C16384 \
		z-alt.img "$src"
	m z-maxext $fixed -zlz4 --max-extent-bytes=8192 z-maxext.img "$src"
	m e-48bit $fixed -E 48bit,dot-omitted e-48bit.img "$src"
	m e-compact -T $BT -U $FIXED_UUID -E force-inode-compact \
		--exclude-path=ids e-compact.img "$src"
	m e-extended $fixed -E force-inode-extended,nosbcrc e-extended.img "$src"
	m e-noinline $fixed -E ^inline_data,plain-xattr-prefixes --ishare \
		e-noinline.img "$src"
	m e-nofilter $fixed -E ^xattr-name-filter e-nofilter.img "$src"
	m chunk $fixed --chunksize=8192 --ishare chunk.img "$src"
	m chunk-idx $fixed --chunksize=4096 -E force-chunk-indexes \
		chunk-idx.img "$src"
	m blobdev $fixed --chunksize=4096 --blobdev=blobdev.blob --ishare \
		blobdev.img "$src"
	m dsunit $fixed --chunksize=4096 --blobdev=dsunit.blob --dsunit=4 \
		dsunit.img "$src"
	m tar-f $fixed --tar=f --ishare tar-f.img "${tars[0]}"
	m tar-fz $fixed --tar=f -zlz4hc -E fragments tar-fz.img "${tars[0]}"
	m tar-i $fixed --tar=i --ishare tar-i.img "${tars[0]}"
	m tar-aufs $fixed --tar=f --aufs --ovlfs-strip=1 tar-aufs.img "${tars[1]}"
	m tar-none $fixed --tar=f --sort=none -E ^inline_data tar-none.img \
		"${tars[0]}"
	m tar-hb $fixed --tar=headerball tar-hb.img "$TEST_TMP/headers.tar"
	m meta $fixed -m4096 -zlz4 meta.img "$src"
	m meta-zd $fixed -m8192:lzma -zlz4:lzma --zD --MZ meta-zd.img "$src"
	m meta-zd1 $fixed -zzstd --zD=1 --ishare meta-zd1.img "$src"
	m offset $fixed --offset=8192 --fsalignblks=4 offset.img "$src"
	m ids $fixed --all-root --uid-offset=7 --force-gid=3 --ignore-mtime \
		ids.img "$src"
	# layers: two images, merged with and without their data
	m layer1 -T $BT -U 11111111-2222-3333-4444-555555555555 --ishare \
		-E ^inline_data layer1.img "$src"
	m layer2 -T $BT -U 66666666-7777-8888-9999-aaaaaaaaaaaa --ishare \
		-E ^inline_data layer2.img "$src2"
	m merge $fixed --ishare --vmdk-desc=merge.vmdk merge.img \
		layer1.img layer2.img
	m merge-data $fixed --clean=data merge-data.img layer1.img layer2.img
	m tar-i1 -T $BT -U 11111111-2222-3333-4444-555555555555 --tar=i \
		tar-i1.img "${tars[0]}"
	m tar-i2 -T $BT -U 66666666-7777-8888-9999-aaaaaaaaaaaa --tar=i \
		tar-i2.img "${tars[1]}"
	m merge-tari $fixed merge-tari.img tar-i1.img tar-i2.img
	# incremental: a copy of a layer with the second source on top
	cp "$out/layer1.img" "$out/incr.img"
	m incr $fixed --incremental=data incr.img "$src2"
	cp "$out/tar-f.img" "$out/incr-tar.img"
	m incr-tar $fixed --tar=f --incremental=data incr-tar.img "${tars[1]}"
	cp "$out/tar-f.img" "$out/incr-rvsp.img"
	m incr-rvsp $fixed --tar=f --incremental=rvsp --clean=rvsp \
		incr-rvsp.img "${tars[1]}"
	# what dump says about them
	(cd "$out" &&
	 "$dump" -s -S ishare.img >dump-s.txt 2>&1
	 "$dump" -s -S z-frag.img >dump-zfrag.txt 2>&1
	 "$dump" --share-report --json ishare.img z-lz4.img z-dedupe.img \
		>share.json 2>&1
	 "$dump" --share-report ishare.img tar-f.img >share.txt 2>&1
	 "$dump" --device=blobdev.blob -s blobdev.img >dump-blob.txt 2>&1
	 true)
}

build_set "$ref" "$TEST_TMP/ref" || exit 1
build_set "$new" "$TEST_TMP/new" || exit 1

changed=0
for f in "$TEST_TMP/ref"/*; do
	n=$(basename "$f")
	if [ ! -e "$TEST_TMP/new/$n" ]; then
		fail "$n" "not made by the new build"
		changed=1
	elif cmp -s "$f" "$TEST_TMP/new/$n"; then
		pass "$n"
	else
		fail "$n" "$(cmp "$f" "$TEST_TMP/new/$n" 2>&1 | head -n 1)"
		changed=1
	fi
done
for f in "$TEST_TMP/new"/*; do
	[ -e "$TEST_TMP/ref/$(basename "$f")" ] ||
		{ fail "$(basename "$f")" "not made by the reference build"; changed=1; }
done
# every build must have succeeded, or the comparison proves little
bad=$(grep -L '^rc 0$' "$TEST_TMP/new"/*.mkfs-out | xargs -r -n1 basename)
[ -z "$bad" ] || { fail "builds" "failed: $(echo $bad)"; changed=1; }
exit $changed
