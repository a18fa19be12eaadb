#!/bin/bash
# share-report.sh: time dump.erofs --share-report on two ~1 GB container-like images (the aim: well under 1 s).
#
# Usage: bench/share-report.sh [-n RUNS] [-k COPIES] [-p PAIR]
#   -n RUNS    timed runs per case (default 5; medians)
#   -k COPIES  copies of the Debian tree in each image (default 5: ~1 GB)
#   -p PAIR    Debian pair of bench/debian-pairs.sh (default postgresql)
#
# Each image holds COPIES copies of one side of a Debian pair (old/new), so
# the pair looks like two minor versions of a large container image. The
# images are built once by our mkfs.erofs --ishare into
# $EROFS_TEST_CACHE/bench-share and rebuilt when mkfs.erofs is newer.
#
# Cases:
#   report warm    --share-report with the images in the page cache
#   report cold    the same after dropping the page cache (root only)
#   report json    --share-report --json, warm
# and for scale, in the same run:
#   stats walk     our dump.erofs -S over both images (a metadata walk)
#   read data      cat of both images (what looking at file data costs)
#   verify         --share-report --verify (reads and hashes every file)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib.sh"

runs=5 copies=5 pair=postgresql
while getopts "n:k:p:" o; do
	case $o in
	n) runs=$OPTARG ;;
	k) copies=$OPTARG ;;
	p) pair=$OPTARG ;;
	*) sed -n '3,8p' "$0" >&2; exit 2 ;;
	esac
done
builddir=${TOP_BUILDDIR:-$top}
MKFS=${MKFS:-$builddir/mkfs/mkfs.erofs}
DUMP=${DUMP:-$builddir/dump/dump.erofs}
cache=${EROFS_TEST_CACHE:-$top/tests/.cache}/bench-share
mkdir -p "$cache"
[[ -x $MKFS && -x $DUMP ]] || { echo "share-report.sh: build first (no $MKFS or $DUMP)" >&2; exit 1; }

read -r _ old new < <("$here/debian-pairs.sh" "$pair")
for side in old new; do
	img=$cache/$pair-$copies-$side.img
	if [[ -f $img && $img -nt $MKFS ]]; then
		continue
	fi
	src=$cache/src-$side
	rm -rf "$src"
	mkdir -p "$src"
	declare -n tree=$side
	for ((i = 0; i < copies; i++)); do
		cp -a "$tree" "$src/c$i"
	done
	unset -n tree
	echo "share-report.sh: building $img" >&2
	"$MKFS" --quiet --ishare "$img.tmp" "$src"
	mv "$img.tmp" "$img"
	rm -rf "$src"
done
A=$cache/$pair-$copies-old.img
B=$cache/$pair-$copies-new.img
printf 'images: %s (%s MB), %s (%s MB)\n' "${A##*/}" $(($(stat -c %s "$A") >> 20)) \
	"${B##*/}" $(($(stat -c %s "$B") >> 20))
"$DUMP" --share-report --top=0 "$A" "$B" | sed -n '/^All images/,/directories/p'

row() { # NAME RUNS CMD...
	local name=$1 n=$2
	shift 2
	bench_measure "$n" "$@" >/dev/null
	printf '%-16s %8.3fs %8.2fs %8d KB\n' "$name" "$BENCH_WALL_S" "$BENCH_CPU_S" "$BENCH_RSS_KB"
	eval "wall_${name// /_}=$BENCH_WALL_S"
}
printf '%-16s %9s %9s %11s\n' case wall cpu rss
cat "$A" "$B" >/dev/null
row "report warm" "$runs" "$DUMP" --share-report "$A" "$B"
row "report json" "$runs" "$DUMP" --share-report --json "$A" "$B"
if [[ $(id -u) = 0 ]]; then
	BENCH_BEFORE='sync; echo 3 > /proc/sys/vm/drop_caches' \
		row "report cold" 3 "$DUMP" --share-report "$A" "$B"
fi
row "stats walk" "$runs" sh -c '"$0" -S "$1" >/dev/null && "$0" -S "$2" >/dev/null' "$DUMP" "$A" "$B"
row "read data" 3 sh -c 'cat "$0" "$1" >/dev/null' "$A" "$B"
row "verify" 1 "$DUMP" --share-report --verify "$A" "$B"
awk -v w="$wall_report_warm" -v s="$wall_stats_walk" -v d="$wall_read_data" 'BEGIN {
	printf "report warm: %.2f of the 1 s budget, %.2fx the stats walk, %.3fx reading the data\n",
		w / 1.0, (s > 0 ? w / s : 0), (d > 0 ? w / d : 0)
}'
