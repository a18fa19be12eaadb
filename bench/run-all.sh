#!/bin/bash
# run-all.sh: the whole speed comparison in one run: the same trees built by
# our mkfs.erofs and by erofs-utils' (the newest, tests/oracle/
# erofs-utils-new.sh) without compression, with content fingerprints and
# with each compressor; every image then checked by each tool's fsck.erofs
# reading all file data; and our images compared byte for byte across
# worker counts.
#
# Usage: bench/run-all.sh [-l] [-n RUNS] [-s MB] [-c "CASES"] [-t "TREES"]
#   -l        run our tools on the shared libraries erofs-utils runs on
#             (Debian unstable's liblz4, libzstd, liblzma, libcrypto, in
#             its unpacked root) so that both compress with the same
#             library versions; by default ours use this system's
#   -n RUNS   timed runs per tool and row (default 3; medians, alternating)
#   -s MB     size of the /usr tree (default 1024)
#   -c CASES  among: none ishare lz4 lz4hc lzma zstd deflate (default:
#             all), lz4hc:N, ours -zlz4hc,N against erofs-utils' -zlz4hc
#             (its level 9): what a lower search level buys and costs, and
#             deflate:N, both tools' -zdeflate,N
#   -t TREES  among: usr (files of /usr/lib and /usr/share up to MB, see
#             bench_tree in bench/lib.sh), container (postgresql's
#             container-like tree from Debian packages, bench/debian-pairs.sh)
#             and packed (256 MB of files there that hold compressed data
#             already: jars, zips, images; "bench_tree ... packed")
#             (default: all three)
#
# Rows, for each tree and case:
#   "T CASE mkfs"        both builds with -T0 and default thread counts; the
#                        fingerprint case is ours --ishare against
#                        erofs-utils --xattr-inode-digest
#   "T CASE mkfs+sync"   (uncompressed cases) the baseline followed by
#                        sync(1) of its image: ours fsync()s the image
#                        before renaming it into place, erofs-utils leaves it
#                        in the page cache, so this row compares durable
#                        images and the row above compares what each tool
#                        does by default
#   "T CASE mkfs nosync" ours with --no-fsync against the baseline as it
#                        is: neither image synced
#   "T CASE fsck"        ours: plain check (reads and decodes all data,
#                        verifies fingerprints); base: --extract without a
#                        directory (its plain check reads no data), with
#                        --xattr-inode-digest for the fingerprint case
# then the image sizes with their ratio, fsck throughput in GB/s of file
# data, and one line per case saying whether our image is byte-identical
# with --workers=1, 2 and 4.
#
# Caches are warm (one untimed build reads the tree first); before each
# timed build its image is removed and sync(1) runs, untimed. A full run
# with the defaults takes over an hour on two processors (lzma
# dominates; -c without lzma takes about 25 minutes).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib.sh"

runs=3 mb=1024 cases="none ishare lz4 lz4hc lzma zstd deflate" trees="usr container packed"
same_libs=
while getopts "ln:s:c:t:" o; do
	case $o in
	l) same_libs=1 ;;
	n) runs=$OPTARG ;;
	s) mb=$OPTARG ;;
	c) cases=$OPTARG ;;
	t) trees=$OPTARG ;;
	*) sed -n '2,50p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

bench_tools run-all.sh mkfs fsck
EU_BIN=$(bash "$top/tests/oracle/erofs-utils-new.sh") || exit 77
cache=${EROFS_TEST_CACHE:-$top/tests/.cache}
mkdir -p "$cache"
uuid=6d9b6ffd-3f2c-4c8e-9a55-0123456789ab

tmp=$(mktemp -d "$cache/run-all.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if [ -n "$same_libs" ]; then
	# the loader and libraries of erofs-utils' root, as its wrappers use
	eu_root=$(cd "$EU_BIN/../root" && pwd)
	lib=$eu_root/usr/lib/x86_64-linux-gnu
	for t in MKFS FSCK; do
		printf '#!/bin/sh\nOPENSSL_CONF=/dev/null exec "%s" --library-path "%s" "%s" "$@"\n' \
			"$lib/ld-linux-x86-64.so.2" "$lib:$eu_root/lib/x86_64-linux-gnu" \
			"${!t}" >"$tmp/$t"
		chmod +x "$tmp/$t"
		printf -v "$t" %s "$tmp/$t"
	done
	echo "ours run on erofs-utils' libraries: $lib"
fi

echo "ours: $("$MKFS" -V 2>&1 | head -n1) ($MKFS)"
echo "base: $("$EU_BIN/mkfs.erofs" -V 2>&1 | head -n1) ($EU_BIN)"
echo "runs: $runs per tool and row, $(nproc) processors, warm cache"

sizes=() rates=() same=()

# case_opts CASE -> "BASE OPTIONS|OUR OPTIONS"
case_opts() {
	case $1 in
	none) echo "|" ;;
	ishare) echo "--xattr-inode-digest|--ishare" ;;
	lz4 | lz4hc | lzma | zstd | deflate) echo "-z$1|-z$1" ;;
	lz4hc:[0-9]*) echo "-zlz4hc|-zlz4hc,${1#lz4hc:}" ;;
	deflate:[0-9]*) echo "-zdeflate,${1#deflate:}|-zdeflate,${1#deflate:}" ;;
	*) echo "run-all.sh: unknown case $1" >&2; return 1 ;;
	esac
}

run_tree() {
	local tname=$1 tree=$2 c opts bopts oopts bs os mb_data w ref
	local bimg=$tmp/base.img oimg=$tmp/ours.img
	mb_data=$(du -sm --apparent-size "$tree" | cut -f1)
	echo "tree $tname: $tree ($mb_data MB, $(find "$tree" | wc -l) entries)"
	"$MKFS" --quiet -T0 "$oimg" "$tree" # reads the tree into the cache
	for c in $cases; do
		opts=$(case_opts "$c")
		bopts=${opts%%|*} oopts=${opts#*|}
		# shellcheck disable=SC2206
		local base=("$EU_BIN/mkfs.erofs" --quiet -T0 $bopts "$bimg" "$tree")
		# shellcheck disable=SC2206
		local ours=("$MKFS" --quiet -T0 $oopts "$oimg" "$tree")
		# Each build starts without its image (IMAGE comes before the
		# tree in both commands) and with nothing left to write back:
		# how long freeing an old image takes (a discard on some disks)
		# varies from run to run and is no tool's work.
		# shellcheck disable=SC2016
		BENCH_BEFORE='rm -f -- "${@: -2:1}"; sync'
		bench_compare "$tname $c mkfs" "$runs" base ours
		if [ "$c" = none ] || [ "$c" = ishare ]; then
			# shellcheck disable=SC2206
			local bsync=(sh -c "\"\$0\" \"\$@\" && sync '$bimg'" \
				"$EU_BIN/mkfs.erofs" --quiet -T0 $bopts "$bimg" "$tree")
			bench_compare "$tname $c mkfs+sync" "$runs" bsync ours
		fi
		# shellcheck disable=SC2206
		local onosync=("$MKFS" --quiet -T0 --no-fsync $oopts "$oimg" \
			"$tree")
		bench_compare "$tname $c mkfs nosync" "$runs" base onosync
		BENCH_BEFORE=

		bs=$(stat -c %s "$bimg") os=$(stat -c %s "$oimg")
		sizes+=("$(printf '%-22s %14d %14d %8.4f' "$tname $c" "$bs" "$os" \
			"$(echo "$os / $bs" | bc -l)")")

		local bf=("$EU_BIN/fsck.erofs" --extract "$bimg")
		[ "$c" = ishare ] && bf=("$EU_BIN/fsck.erofs" --extract \
			--xattr-inode-digest "$bimg")
		local of=("$FSCK" "$oimg")
		"${of[@]}" >/dev/null # both images clean, and in the cache
		"${bf[@]}" >/dev/null
		bench_compare "$tname $c fsck" "$runs" bf of
		rates+=("$(printf '%s\t%s' "$tname $c fsck" "$mb_data")")

		# the same bytes whatever the worker count (-U: no random UUID)
		ref=$tmp/ref.img
		w="identical for --workers=1,2,4"
		for n in 1 2 4; do
			"$MKFS" --quiet -T0 -U "$uuid" $oopts --workers=$n \
				"$oimg" "$tree"
			if [ "$n" = 1 ]; then
				mv "$oimg" "$ref"
			elif ! cmp -s "$oimg" "$ref"; then
				w="DIFFERS with --workers=$n from --workers=1"
				break
			fi
		done
		same+=("$(printf '%-22s %s' "$tname $c" "$w")")
		rm -f "$bimg" "$oimg" "$ref"
	done
}

for t in $trees; do
	case $t in
	usr) run_tree usr "$(bench_tree "$cache" "$mb")" ;;
	packed) run_tree packed "$(bench_tree "$cache" 256 packed)" ;;
	container)
		pair=$(bash "$here/debian-pairs.sh" postgresql) || {
			echo "run-all.sh: no container tree (Debian's archive unreachable?)" >&2
			continue
		}
		run_tree container "${pair##* }"
		;;
	*) echo "run-all.sh: unknown tree $t" >&2; exit 2 ;;
	esac
done

echo
bench_table
printf '\n%-22s %14s %14s %8s\n' "image size" "base bytes" "ours bytes" "ratio"
printf '%s\n' "${sizes[@]}"
echo
# fsck throughput: file data read per second of wall time
for r in "${rates[@]}"; do
	name=${r%%$'\t'*} mbd=${r#*$'\t'}
	printf '%s\n' "${BENCH_ROWS[@]}" | awk -F '\t' -v n="$name" -v mb="$mbd" '
		$1 == n {
			printf "%-22s ours %6.2f GB/s   base %6.2f GB/s\n",
				n, mb / 1024 / $3, mb / 1024 / $2
		}'
done
echo
printf '%s\n' "${same[@]}"
