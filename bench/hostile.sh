#!/bin/bash
# hostile.sh: time and peak memory of fsck.erofs and dump.erofs on the
# tiny images that claim enormous work (tests/hostile_images.py), ours
# against erofs-utils' in the same run, and fsck's peak memory on ordinary
# images against erofs-utils' (the aim: at most twice).
#
# Usage: bench/hostile.sh [-n RUNS] [-t SECONDS] [-m MB] [-s MB]
#   -n RUNS     runs per command (default 3; medians of wall time, largest
#               peak RSS)
#   -t SECONDS  a run still going after this long is killed and shown as
#               ">SECONDS" (default 60)
#   -m MB       size of the maps of the map-heavy image (default 152)
#   -s MB       size of the usr tree for the ordinary images (default 1024)
#
# Hostile images (tests/hostile_images.py, built from our mkfs's):
#   holes    64 GiB of hole behind a fingerprint, 12 KB
#   bomb     48-bit extent records naming one 12 MiB cluster: 704 KB
#            claiming ~250 GB (bomb-fp: the same with a fingerprint)
#   maps     152 MB of lcluster indexes, every lcluster a head of one
#            cluster of one block (19 million extents, 78 GB of zeroes)
# Each is checked by our fsck (plain), our fsck --extract (not maps: it
# would write the 78 GB, which is within the bound for an image that
# size), dump -e (maps), dump --share-report --verify (holes, bomb-fp) and
# by erofs-utils' plain check and its --extract without a directory (which
# reads all data). Exit status 8 from ours is a bound reached (see
# fsck.erofs(1), Bounds); wall times on a busy machine are longer than CPU
# times, so read them against erofs-utils' in the same run.
#
# Ordinary images: the usr tree (bench_tree) and, when bench/debian-pairs.sh
# has it, the postgresql container tree, built by our mkfs uncompressed,
# with --ishare, -zlz4hc and -zzstd; fsck by both tools reading all data
# (ours plain, erofs-utils --extract without a directory), peak RSS ratio.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib.sh"

runs=3 limit=60 mb=1024 maps=152
while getopts "n:t:m:s:" o; do
	case $o in
	n) runs=$OPTARG ;;
	t) limit=$OPTARG ;;
	m) maps=$OPTARG ;;
	s) mb=$OPTARG ;;
	*) sed -n '2,34p' "$0" >&2; exit 2 ;;
	esac
done

bench_tools hostile.sh mkfs fsck dump
cache=${EROFS_TEST_CACHE:-$top/tests/.cache}
mkdir -p "$cache"
EU_BIN=$(bash "$top/tests/oracle/erofs-utils-new.sh" 2>/dev/null) || EU_BIN=
[ -x "$BENCH_TIME" ] || { echo "hostile.sh: $BENCH_TIME missing (apt-get install time)" >&2; exit 77; }

work=$(mktemp -d /tmp/erofs-hostile-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

# run NAME CMD...: RUNS runs; prints name, exit status, median wall and
# CPU time (or >LIMIT), largest peak RSS
run() {
	local name=$1 i out walls=() cpus=() rss=0 rc=0 w c s r x
	shift
	for ((i = 0; i < runs; i++)); do
		rm -rf "$work/x"
		out=$(mktemp)
		timeout -s KILL "$limit" "$BENCH_TIME" -f '%e %U %S %M %x' \
			-o "$out" "$@" >/dev/null 2>&1 || true
		if ! read -r w c s r x < <(tail -n 1 "$out") || [ -z "${x:-}" ]; then
			w=">$limit" c=0 s=0 r=0 x=killed
		fi
		rm -f "$out"
		walls+=("$w")
		cpus+=("$(awk -v u="$c" -v s="$s" 'BEGIN { print u + s }')")
		rc=$x
		((r > rss)) && rss=$r
		[ "$w" = ">$limit" ] && break
	done
	if [[ ${walls[-1]} == ">"* ]]; then
		w=${walls[-1]} c=-
	else
		w=$(bench_median "${walls[@]}") c=$(bench_median "${cpus[@]}")
	fi
	printf '%-44s %6s %9s %9s %9s\n' "$name" "$rc" "$w" "$c" "$rss"
}

echo "hostile.sh: building the images in $work" >&2
MKFS=$MKFS python3 "$top/tests/hostile_images.py" holes "$work/holes.img" >&2
MKFS=$MKFS python3 "$top/tests/hostile_images.py" bomb "$work/bomb.img" >&2
MKFS=$MKFS python3 "$top/tests/hostile_images.py" bomb "$work/bomb-fp.img" --ishare >&2
MKFS=$MKFS python3 "$top/tests/hostile_images.py" maps "$work/maps.img" \
	--size=$((maps << 20)) >&2

printf '\n%-44s %6s %9s %9s %9s\n' "hostile image: command" "exit" "wall s" \
	"cpu s" "peak KB"
for i in holes bomb bomb-fp maps; do
	img=$work/$i.img
	run "$i ($(stat -c %s "$img") B): ours fsck" "$FSCK" "$img"
	[ "$i" = maps ] ||
		run "$i: ours fsck --extract=DIR" "$FSCK" --extract="$work/x" "$img"
	case $i in
	maps) run "$i: ours dump -e" "$DUMP" -e --path=/bomb "$img" ;;
	holes | bomb-fp)
		run "$i: ours dump --share-report --verify" "$DUMP" \
			--share-report --verify --json "$img" "$img" ;;
	esac
	if [ -n "$EU_BIN" ]; then
		run "$i: erofs-utils fsck (no data read)" "$EU_BIN/fsck.erofs" "$img"
		run "$i: erofs-utils fsck --extract" "$EU_BIN/fsck.erofs" --extract "$img"
	fi
done

[ -n "$EU_BIN" ] || { echo "hostile.sh: no erofs-utils to compare memory with" >&2; exit 0; }

trees=("usr $(bench_tree "$cache" "$mb")")
if pair=$(bash "$here/debian-pairs.sh" postgresql 2>/dev/null); then
	trees+=("container ${pair##* }")
fi
# rss NAME CMD...: largest peak RSS of RUNS runs (exit status ignored)
rss() {
	local i r best=0 out
	shift
	for ((i = 0; i < runs; i++)); do
		out=$(mktemp)
		"$BENCH_TIME" -f '%M' -o "$out" "$@" >/dev/null 2>&1 || true
		r=$(tail -n 1 "$out")
		rm -f "$out"
		((r > best)) && best=$r
	done
	echo "$best"
}
printf '\n%-28s %12s %12s %7s\n' "ordinary image: fsck" "base peak KB" "ours peak KB" "ratio"
for t in "${trees[@]}"; do
	name=${t%% *} src=${t#* }
	for c in none ishare lz4hc zstd; do
		case $c in
		none) opts=() ;;
		ishare) opts=(--ishare) ;;
		*) opts=(-z"$c") ;;
		esac
		img=$work/$name-$c.img
		"$MKFS" --quiet "${opts[@]}" "$img" "$src"
		b=$(rss base "$EU_BIN/fsck.erofs" --extract "$img")
		o=$(rss ours "$FSCK" "$img")
		printf '%-28s %12s %12s %7s\n' "$name, $c" "$b" "$o" \
			"$(awk -v o="$o" -v b="$b" 'BEGIN { printf "%.2f", o / b }')"
		rm -f "$img"
	done
done
