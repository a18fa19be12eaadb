#!/bin/bash
# fsck.sh: fsck.erofs on a ~1 GB image, ours against erofs-utils' fsck.erofs
# on the same image in one run (the aims: at least as fast as erofs-utils,
# and fingerprint verification at 1 GB/s or more).
#
# Usage: bench/fsck.sh [-n RUNS] [-s MB] [-c] [TREE]
#   -n RUNS   timed runs per tool and case (default 5; medians)
#   -s MB     size of the generated tree (default 1024)
#   -c        cold cache: drop the page cache before every run (root)
#   TREE      a source tree to use instead of the generated one
#
# The tree is the one bench/mkfs.sh uses ($EROFS_TEST_CACHE/bench-tree-MB:
# files of /usr/lib and /usr/share in path order up to MB megabytes).
# Images are built once by our mkfs.erofs, with and without fingerprints.
#
# Cases, each reading every byte of file data with both tools:
#   "all data"      ours: plain check; base: --extract (its plain check
#                   reads no file data, --extract without a directory does)
#   "fingerprints"  ours: plain check of a share-ready image (verifies every
#                   fingerprint); base: --xattr-inode-digest
#   "extract"       both --extract=DIR into a fresh directory
# and, for reference, "base metadata only": erofs-utils' plain check, which
# reads no file data, against our full check.
#
# Baseline: the newest erofs-utils (tests/oracle/erofs-utils-new.sh) when
# available, else bookworm's /usr/bin/fsck.erofs (no fingerprint case then).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib.sh"

runs=5 mb=1024 cold=0
while getopts "n:s:c" o; do
	case $o in
	n) runs=$OPTARG ;;
	s) mb=$OPTARG ;;
	c) cold=1 ;;
	*) sed -n '2,25p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

bench_tools fsck.sh mkfs fsck
cache=${EROFS_TEST_CACHE:-$top/tests/.cache}
mkdir -p "$cache"

newest=0
if EU_BIN=$(bash "$top/tests/oracle/erofs-utils-new.sh" 2>/dev/null); then
	BASE=$EU_BIN/fsck.erofs
	newest=1
elif [ -x /usr/bin/fsck.erofs ]; then
	BASE=/usr/bin/fsck.erofs
else
	echo "fsck.sh: no erofs-utils fsck.erofs to compare with" >&2
	exit 77
fi

if [ $# -ge 1 ]; then
	tree=$1
else
	tree=$(bench_tree "$cache" "$mb")
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
plain=$tmp/plain.img fp=$tmp/fp.img
"$MKFS" --quiet -T0 "$plain" "$tree"
"$MKFS" --quiet -T0 --ishare "$fp" "$tree"
"$FSCK" "$plain" >/dev/null
"$FSCK" "$fp" >/dev/null

size=$(stat -c %s "$plain")
echo "tree: $tree ($(du -sm "$tree" | cut -f1) MB, $(find "$tree" | wc -l) entries)"
echo "image: $((size >> 20)) MB plain, $(($(stat -c %s "$fp") >> 20)) MB with fingerprints"
echo "ours: $("$FSCK" -V 2>&1 | head -n1) ($FSCK)"
echo "base: $("$BASE" -V 2>&1 | head -n1) ($BASE)"
echo "runs: $runs per tool and case, $(nproc) processors, $([ $cold = 1 ] && echo cold || echo warm) cache"

before=
if [ $cold = 1 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "fsck.sh: -c needs root to drop caches" >&2
		exit 1
	fi
	before="sync; echo 3 > /proc/sys/vm/drop_caches"
else
	cat "$plain" "$fp" >/dev/null
fi

ours_walls=()
# run_case NAME BASE_ARRAY OURS_ARRAY [BEFORE]
run_case() {
	BENCH_BEFORE=$before${4:+${before:+; }$4} bench_compare "$1" "$runs" "$2" "$3"
}

base=("$BASE" --extract "$plain")
ours=("$FSCK" "$plain")
run_case "all data" base ours
if [ $newest = 1 ]; then
	base=("$BASE" --xattr-inode-digest "$fp")
	ours=("$FSCK" "$fp")
	run_case "fingerprints" base ours
fi
base=("$BASE" --extract="$tmp/xb" "$plain")
ours=("$FSCK" --extract="$tmp/xo" "$plain")
run_case "extract" base ours "rm -rf '$tmp/xb' '$tmp/xo'"
base=("$BASE" "$plain")
ours=("$FSCK" "$plain")
run_case "base metadata only" base ours

echo
bench_table
echo
printf '%s\n' "${BENCH_ROWS[@]}" | awk -F '\t' -v mb="$((size >> 20))" '
	$1 != "base metadata only" {
		printf "%-24s ours %6.2f GB/s   base %6.2f GB/s\n", $1,
			mb / 1024 / $3, mb / 1024 / $2
	}'
