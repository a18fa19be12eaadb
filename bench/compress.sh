#!/bin/bash
# compress.sh: image size and build time of compressed images, ours against
# erofs-utils' mkfs.erofs (the newest available), on the same tree in one run.
#
# Usage: bench/compress.sh [-n RUNS] [-s MB] [-a "lz4 lz4hc lzma zstd deflate"]
#                          [-o "EXTRA MKFS OPTIONS"] [TREE]
#   -n RUNS   timed builds per tool and algorithm (default 3; medians)
#   -s MB     size of the generated tree (default 400)
#   -a ALGS   algorithms, each at its default level or as ALG,LEVEL
#             (default: all five)
#   -o OPTS   options given to both tools (e.g. "-C65536 -Eztailpacking")
#   TREE      a source tree to use instead of the generated one
#
# The generated tree is a copy of regular files and symlinks from /usr/lib
# and /usr/share, taken in sorted path order until MB megabytes, kept in
# $EROFS_TEST_CACHE/bench-tree-MB and reused. Both tools get -T0 and
# --workers/threads left at their defaults (all processors).
#
# Prints one row per algorithm: median wall time, CPU time and peak memory
# of each tool with ours/base ratios, then the image sizes and their ratio.
# Exit 77 when erofs-utils is unavailable.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib.sh"

runs=3 mb=400 algs="lz4 lz4hc lzma zstd deflate" opts=""
while getopts "n:s:a:o:" o; do
	case $o in
	n) runs=$OPTARG ;;
	s) mb=$OPTARG ;;
	a) algs=$OPTARG ;;
	o) opts=$OPTARG ;;
	*) sed -n '2,21p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

bench_tools compress.sh mkfs
EU_BIN=$(bash "$top/tests/oracle/erofs-utils-new.sh") || exit 77
cache=${EROFS_TEST_CACHE:-$top/tests/.cache}

if [ $# -ge 1 ]; then
	tree=$1
else
	tree=$(bench_tree "$cache" "$mb")
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "tree: $tree ($(du -sm "$tree" | cut -f1) MB), runs: $runs, options: ${opts:-none}"
echo "base: $("$EU_BIN/mkfs.erofs" -V 2>&1 | head -n1)"

sizes=()
for a in $algs; do
	# shellcheck disable=SC2206
	base=("$EU_BIN/mkfs.erofs" --quiet -z"$a" -T0 $opts "$tmp/base.img" "$tree")
	# shellcheck disable=SC2206
	ours=("$MKFS" --quiet -z"$a" -T0 $opts "$tmp/ours.img" "$tree")
	# both tools replace an existing image
	bench_compare "-z$a" "$runs" base ours
	bs=$(stat -c %s "$tmp/base.img")
	os=$(stat -c %s "$tmp/ours.img")
	sizes+=("$(printf '%-8s %14d %14d %8.4f' "-z$a" "$bs" "$os" \
		"$(echo "$os / $bs" | bc -l)")")
done
bench_table
printf '\n%-8s %14s %14s %8s\n' "size" "base bytes" "ours bytes" "ratio"
printf '%s\n' "${sizes[@]}"
