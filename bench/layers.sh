#!/bin/bash
# layers.sh: layered and multi-device builds, ours against erofs-utils
# 1.9.4 (tests/oracle/erofs-utils-new.sh) in one run, with the target
# ratio of each:
#
#   tar=i       ours --tar=i against erofs-utils --tar=f on a 500 MB layer
#               (target: at most 0.50)
#   tar=i sha   ours --tar=i --ishare against SHA-256 of the same tar on
#               every core (a thread per core over equal parts of the
#               file, through Python's hashlib): at most 1.20
#   containerd  a 200 MB layer with containerd's arguments (--tar=f --aufs
#               -Enoinline_data --sort=none, piped in), with and without
#               fingerprints (ours --ishare, erofs-utils
#               --xattr-inode-digest), neither tool syncing (ours
#               --no-fsync) and both syncing (erofs-utils followed by sync
#               of its image): at most 0.67
#   merge       merging 10 layer images (built once by erofs-utils with
#               --tar=f --aufs -Enoinline_data): at most 1.00
#   blob size   --chunksize=4096 --blobdev of the 200 MB tree: the blob's
#               size against erofs-utils' (at most 1.01)
#
#   pipe copy   no target: erofs-utils' containerd build (neither synced)
#               against cat | dd, a bare copy of the piped layer into a
#               file through a pipe of the default size, as erofs-utils
#               reads it: how much of erofs-utils' time the pipe alone takes
#
# Usage: bench/layers.sh [-n RUNS] [-l]   (medians of RUNS, default 3; runs
# of the two tools alternate). -l keeps one processor busy (yes >/dev/null)
# throughout, as a build beside other work sees the machine. Trees come
# from bench_tree (bench/lib.sh) and are kept in the cache; every build
# starts without its output.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib.sh"

runs=3 load=0
while getopts "n:l" o; do
	case $o in
	n) runs=$OPTARG ;;
	l) load=1 ;;
	*) sed -n '2,31p' "$0" >&2; exit 2 ;;
	esac
done

bench_tools layers.sh mkfs
cache=${EROFS_TEST_CACHE:-$top/tests/.cache}
mkdir -p "$cache"
EU=$(bash "$top/tests/oracle/erofs-utils-new.sh") || {
	echo "layers.sh: no erofs-utils 1.9 to compare with" >&2
	exit 77
}
echo "baseline: $("$EU/mkfs.erofs" --version | head -n1)"
echo "ours: $("$MKFS" --version | head -n1)"
echo "processors: $(nproc)"

w=$(mktemp -d "$cache/layers-bench.XXXXXX")
hog=
trap 'rm -rf "$w"; [ -z "$hog" ] || kill "$hog"' EXIT
if ((load)); then
	yes >/dev/null &
	hog=$!
	echo "load: one processor kept busy by yes >/dev/null"
fi
t500=$(bench_tree "$cache" 500)
t200=$(bench_tree "$cache" 200)
tar -C "$t500" -cf "$w/l500.tar" .
tar -C "$t200" -cf "$w/l200.tar" .
cat "$w/l500.tar" "$w/l200.tar" >/dev/null # into the page cache

targets=()
target() { targets+=("$1	$2"); }

# --- tar index ------------------------------------------------------------
export BENCH_BEFORE="rm -f $w/o.img $w/b.img; sync"
base=("$EU/mkfs.erofs" --quiet -T0 --tar=f "$w/b.img" "$w/l500.tar")
ours=("$MKFS" --quiet -T0 --tar=i --no-fsync "$w/o.img" "$w/l500.tar")
bench_compare "tar=i vs tar=f" "$runs" base ours
target "tar=i vs tar=f" 0.50

# SHA-256 on every core: the file cut in equal parts, each hashed by a
# thread of its own (Python's hashlib is OpenSSL's SHA-256 and lets go of
# the interpreter lock while it hashes), reading the page cache in place
cat >"$w/sha.py" <<'EOF'
import hashlib, mmap, os, sys, threading
f = open(sys.argv[1], 'rb')
m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
n, size = os.cpu_count(), len(m)
part = (size + n - 1) // n
def work(i):
    h = hashlib.sha256()
    end = min(size, (i + 1) * part)
    for p in range(i * part, end, 1 << 20):
        h.update(m[p:min(p + (1 << 20), end)])
ts = [threading.Thread(target=work, args=(i,)) for i in range(n)]
for t in ts:
    t.start()
for t in ts:
    t.join()
EOF
base=(python3 "$w/sha.py" "$w/l500.tar")
ours=("$MKFS" --quiet -T0 --tar=i --ishare --no-fsync "$w/o.img" "$w/l500.tar")
bench_compare "tar=i --ishare vs sha256" "$runs" base ours
target "tar=i --ishare vs sha256" 1.20

# --- containerd's differ -------------------------------------------------
cargs=(--tar=f --aufs --quiet -Enoinline_data -b4096 --sort=none -T0)
for fp in "" "--ishare"; do
	efp=${fp:+--xattr-inode-digest}
	name="containerd${fp:+ $fp}"
	base=(bash -c "cat $w/l200.tar | $EU/mkfs.erofs ${cargs[*]} $efp $w/b.img")
	ours=(bash -c "cat $w/l200.tar | $MKFS ${cargs[*]} $fp --no-fsync $w/o.img")
	bench_compare "$name, neither synced" "$runs" base ours
	target "$name, neither synced" 0.67
	base=(bash -c "cat $w/l200.tar | $EU/mkfs.erofs ${cargs[*]} $efp $w/b.img && sync $w/b.img")
	ours=(bash -c "cat $w/l200.tar | $MKFS ${cargs[*]} $fp $w/o.img")
	bench_compare "$name, both synced" "$runs" base ours
	target "$name, both synced" 0.67
done
base=(bash -c "cat $w/l200.tar | $EU/mkfs.erofs ${cargs[*]} $w/b.img")
ours=(bash -c "cat $w/l200.tar | dd of=$w/o.img bs=1M status=none")
bench_compare "pipe copy (cat | dd)" "$runs" base ours

# --- merging 10 layers -----------------------------------------------------
mkdir -p "$w/layers"
mapfile -t files < <(cd "$t500" && find . -type f -o -type l | LC_ALL=C sort)
per=$(( (${#files[@]} + 9) / 10 ))
layers=()
for ((i = 0; i < 10; i++)); do
	printf '%s\n' "${files[@]:i*per:per}" >"$w/layers/list$i"
	tar -C "$t500" -cf "$w/layers/l$i.tar" -T "$w/layers/list$i"
	"$EU/mkfs.erofs" --quiet -T0 --tar=f --aufs -Enoinline_data \
		"$w/layers/l$i.erofs" "$w/layers/l$i.tar" >/dev/null
	layers+=("$w/layers/l$i.erofs")
done
base=("$EU/mkfs.erofs" --quiet -T0 "$w/b.img" "${layers[@]}")
ours=("$MKFS" --quiet -T0 --no-fsync "$w/o.img" "${layers[@]}")
bench_compare "merge 10 layers" "$runs" base ours
target "merge 10 layers" 1.00

bench_table

# --- blob sizes --------------------------------------------------------------
rm -f "$w/o.img" "$w/b.img"
"$EU/mkfs.erofs" --quiet -T0 --chunksize=4096 --blobdev="$w/b.blob" \
	"$w/b.img" "$t200" >/dev/null
"$MKFS" --quiet -T0 --chunksize=4096 --blobdev="$w/o.blob" --no-fsync \
	"$w/o.img" "$t200"
bb=$(stat -c %s "$w/b.blob") ob=$(stat -c %s "$w/o.blob")
echo
printf 'blob size: erofs-utils %d, ours %d, ratio %s\n' "$bb" "$ob" \
	"$(awk -v a="$ob" -v b="$bb" 'BEGIN { printf "%.4f", a / b }')"
target "blob size" 1.01

echo
echo "targets (wall time ratios; blob size ratio):"
printf '%s\n' "${targets[@]}" | while IFS=$'\t' read -r name limit; do
	if [ "$name" = "blob size" ]; then
		r=$(awk -v a="$ob" -v b="$bb" 'BEGIN { printf "%.2f", a / b }')
	else
		r=$(printf '%s\n' "${BENCH_ROWS[@]}" | awk -F '\t' -v n="$name" \
			'$1 == n { printf "%.2f", $3 / $2 }')
	fi
	verdict=$(awk -v r="$r" -v l="$limit" 'BEGIN { print (r <= l) ? "met" : "NOT met" }')
	printf '  %-36s %s (target <= %s): %s\n' "$name" "$r" "$limit" "$verdict"
done
