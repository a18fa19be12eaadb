#!/bin/bash
# mkfs.sh: build time and peak memory of uncompressed images, ours against
# erofs-utils' mkfs.erofs on the same tree in one run (the aims: no more
# wall time than erofs-utils on a 1 GB tree, memory proportional to the
# metadata rather than the data).
#
# Usage: bench/mkfs.sh [-n RUNS] [-s MB] [-w] [TREE]
#   -n RUNS   timed builds per tool and case (default 3; medians)
#   -s MB     size of the generated tree (default 1024)
#   -w        warm cache only (by default, as root, every run starts with
#             dropped caches, and warm-cache rows follow)
#   TREE      a source tree to use instead of the generated one
#
# The generated tree is a copy of regular files and symlinks of /usr/lib and
# /usr/share in sorted path order up to MB megabytes, kept in
# $EROFS_TEST_CACHE/bench-tree-MB and reused (bench/compress.sh makes the
# same). A second tree of four 256 MiB files ($EROFS_TEST_CACHE/
# bench-bigfiles) shows memory use when the data is large and the metadata
# tiny.
#
# Baseline: the newest erofs-utils (tests/oracle/erofs-utils-new.sh) when
# available, else bookworm's /usr/bin/mkfs.erofs; the first line says
# which. Cases: plain; content fingerprints (ours --ishare against
# --xattr-inode-digest, newest erofs-utils only: rows "fp"); the big-file
# tree ("big files"). Each also with the baseline's image fsync()ed
# ("base fsync"), since ours syncs before the rename. Both tools get -T0
# and their default thread counts.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib.sh"

runs=3 mb=1024 warm_only=0
while getopts "n:s:w" o; do
	case $o in
	n) runs=$OPTARG ;;
	s) mb=$OPTARG ;;
	w) warm_only=1 ;;
	*) sed -n '2,26p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

bench_tools mkfs.sh mkfs
cache=${EROFS_TEST_CACHE:-$top/tests/.cache}
mkdir -p "$cache"

newest=0
if EU_BIN=$(bash "$top/tests/oracle/erofs-utils-new.sh" 2>/dev/null); then
	BASE=$EU_BIN/mkfs.erofs
	newest=1
elif [ -x /usr/bin/mkfs.erofs ]; then
	BASE=/usr/bin/mkfs.erofs
else
	echo "mkfs.sh: no erofs-utils mkfs.erofs to compare with" >&2
	exit 77
fi

if [ $# -ge 1 ]; then
	tree=$1
else
	tree=$(bench_tree "$cache" "$mb")
fi
big=$cache/bench-bigfiles
if [ ! -f "$big.done" ]; then
	rm -rf "$big"
	mkdir -p "$big"
	for i in 1 2 3 4; do
		head -c $((256 << 20)) /dev/urandom >"$big/f$i"
	done
	touch "$big.done"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nfiles=$(find "$tree" | wc -l)
echo "tree: $tree ($(du -sm "$tree" | cut -f1) MB, $nfiles entries); big files: $big (1024 MB, 4 files)"
echo "ours: $("$MKFS" -V 2>&1 | head -n1) ($MKFS)"
echo "base: $("$BASE" -V 2>&1 | head -n1) ($BASE)"
echo "runs: $runs per tool and case, $(nproc) processors"

sizes=()
# run_case NAME TREE "BASE OPTIONS" "OUR OPTIONS" [fsync]
# Ours fsync()s the image before renaming it into place; erofs-utils does
# not. With "fsync", the baseline's image is fsync()ed too (coreutils sync
# FILE), so that both rows pay for putting the bytes on the disk.
run_case() {
	local name=$1 src=$2 bopts=$3 oopts=$4 sync=${5:-} bs os
	# shellcheck disable=SC2206
	local base=("$BASE" --quiet -T0 $bopts "$tmp/base.img" "$src")
	if [ -n "$sync" ]; then
		# shellcheck disable=SC2206
		base=(sh -c "\"\$0\" \"\$@\" && sync '$tmp/base.img'" \
			"$BASE" --quiet -T0 $bopts "$tmp/base.img" "$src")
	fi
	# shellcheck disable=SC2206
	local ours=("$MKFS" --quiet -T0 $oopts "$tmp/ours.img" "$src")
	bench_compare "$name" "$runs" base ours
	bs=$(stat -c %s "$tmp/base.img")
	os=$(stat -c %s "$tmp/ours.img")
	sizes+=("$(printf '%-24s %14d %14d %8.4f' "$name" "$bs" "$os" \
		"$(echo "$os / $bs" | bc -l)")")
	rm -f "$tmp/base.img" "$tmp/ours.img"
}

cases() {
	local tag=$1
	run_case "plain$tag" "$tree" "" ""
	run_case "plain, base fsync$tag" "$tree" "" "" fsync
	if [ "$newest" = 1 ]; then
		run_case "fp$tag" "$tree" --xattr-inode-digest --ishare
		run_case "fp, base fsync$tag" "$tree" \
			--xattr-inode-digest --ishare fsync
	fi
	run_case "big files$tag" "$big" "" ""
	run_case "big, base fsync$tag" "$big" "" "" fsync
}

if [ "$(id -u)" -eq 0 ] && [ "$warm_only" = 0 ]; then
	# every run reads the tree from the disk
	export BENCH_BEFORE="sync; echo 3 >/proc/sys/vm/drop_caches"
	cases " (cold)"
	unset BENCH_BEFORE
fi
# warm: the trees are in the page cache (an untimed build reads them)
"$MKFS" --quiet "$tmp/warm.img" "$tree" && "$MKFS" --quiet "$tmp/warm.img" "$big"
rm -f "$tmp/warm.img"
cases " (warm)"
[ "$newest" = 1 ] || echo "(fingerprints: bookworm's erofs-utils has no --xattr-inode-digest; not measured)"

echo
bench_table
printf '\n%-24s %14s %14s %8s\n' "image size" "base bytes" "ours bytes" "ratio"
printf '%s\n' "${sizes[@]}"
