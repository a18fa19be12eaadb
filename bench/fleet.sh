#!/bin/bash
# fleet.sh: share reports over a synthetic fleet's fingerprint manifests: time and memory against the number of images (the aim: 1,000 images of 20,000 files in under 30 s and 2 GB, a 200 x 200 matrix in under 30 s).
#
# Usage: bench/fleet.sh [-n RUNS] [-f FILES] [-N MAX_IMAGES]
#   -n RUNS        timed runs per case (default 3, one for the largest)
#   -f FILES       files per image (default 20000)
#   -N MAX_IMAGES  the largest fleet (default 1000)
#
# The manifests (bench/fleet-gen.py: base distributions, runtimes and
# applications as a registry holds them, some images compressed, some
# without fingerprints; about 6 GB for 1,000 images) are written once into
# $EROFS_TEST_CACHE/bench-fleet-FILES and reused while fleet-gen.py is
# unchanged. Each case runs dump.erofs on the first N of them:
#   report N       --share-report --json (the whole report) for N = 10, 100,
#                  1000: wall and CPU time, peak RSS, and per image against
#                  the 10-image run (1.00: grows linearly)
#   matrix 200     --share-report --matrix --json over 200 images
#   nodes 200/20   --share-report --nodes=20 over 200 images
#   nodes N/N/10   --share-report --nodes=N/10 over all
# and in the same run, as baselines:
#   read N         cat of the N manifests (what reading them costs at least)
#   duckdb N       DuckDB running dump.erofs(1)'s query of the headline
#                  figures over the same manifests, when tests/t-share-duckdb.sh
#                  has installed it (npm, $EROFS_TEST_CACHE/npm-duckdb)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib.sh"

runs=3 files=20000 max=1000
while getopts "n:f:N:" o; do
	case $o in
	n) runs=$OPTARG ;;
	f) files=$OPTARG ;;
	N) max=$OPTARG ;;
	*) sed -n '3,7p' "$0" >&2; exit 2 ;;
	esac
done
bench_tools fleet.sh dump
cache=${EROFS_TEST_CACHE:-$top/tests/.cache}
dir=$cache/bench-fleet-$files
stamp=$dir/.done-$max-$(md5sum <"$here/fleet-gen.py" | cut -c1-12)
if [[ ! -f $stamp ]]; then
	echo "fleet.sh: writing the manifests of $max images into $dir" >&2
	rm -rf "$dir"
	python3 "$here/fleet-gen.py" -n "$max" -f "$files" "$dir"
	touch "$stamp"
fi
mapfile -t ALL < <(ls "$dir"/img-*.jsonl | head -n "$max")
((${#ALL[@]} == max)) || { echo "fleet.sh: $dir holds ${#ALL[@]} manifests" >&2; exit 1; }
first() { printf '%s\n' "${ALL[@]:0:$1}"; }
echo "manifests: $max images of $files files, $(du -sh "$dir" | cut -f1) in $dir"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

row() { # NAME RUNS CMD...
	local name=$1 n=$2
	shift 2
	bench_measure "$n" "$@" >/dev/null
	printf '%-16s %9.2fs %9.2fs %9d MB\n' "$name" "$BENCH_WALL_S" \
		"$BENCH_CPU_S" $((BENCH_RSS_KB / 1024))
}
# warm: every manifest in the page cache once
cat "${ALL[@]}" >/dev/null

printf '%-16s %10s %10s %12s\n' case wall cpu "peak rss"
declare -A WALL CPU RSS
sizes=(10 100 "$max")
for n in "${sizes[@]}"; do
	((n <= max)) || continue
	r=$runs
	((n == max)) && r=1
	mapfile -t M < <(first "$n")
	row "report $n" "$r" "$DUMP" --share-report --json "${M[@]}"
	WALL[$n]=$BENCH_WALL_S CPU[$n]=$BENCH_CPU_S RSS[$n]=$BENCH_RSS_KB
	row "read $n" "$r" sh -c 'cat "$@" >/dev/null' sh "${M[@]}"
done
m=$((max < 200 ? max : 200))
mapfile -t M < <(first "$m")
row "matrix $m" 1 "$DUMP" --share-report --matrix --json "${M[@]}"
MW=$BENCH_WALL_S MR=$BENCH_RSS_KB
row "nodes $m/$((m / 10))" 1 "$DUMP" --share-report --json --nodes=$((m / 10)) "${M[@]}"
row "nodes $max/$((max / 10))" 1 "$DUMP" --share-report --json --nodes=$((max / 10)) "${ALL[@]}"

duck=$cache/npm-duckdb
if [[ -f $duck/query.mjs && -d $duck/node_modules/@duckdb/node-api ]] &&
	command -v node >/dev/null; then
	q=$(sed -n '/^\.\\" query:/,/^\.EE/p' "$top/man/dump.erofs.1" | sed '1d;$d' |
		sed 's/\\-/-/g')
	for n in 100 "$max"; do
		((n <= max)) || continue
		list=$(first "$n" | sed "s|.*/|'fleet/|; s|\$|'|" | paste -sd,)
		work=$(mktemp -d)
		ln -s "$dir" "$work/fleet"
		qn=${q//"'fleet/*.jsonl'"/[$list]}
		row "duckdb $n" 1 sh -c 'cd "$1" && node "$2" "$3" >/dev/null' sh \
			"$work" "$duck/query.mjs" "$qn"
		rm -rf "$work"
	done
else
	echo "duckdb: not installed (tests/t-share-duckdb.sh installs it)"
fi

echo
for n in "${sizes[@]}"; do
	[[ -n ${WALL[$n]:-} ]] || continue
	awk -v n="$n" -v w="${WALL[$n]}" -v c="${CPU[$n]}" -v r="${RSS[$n]}" \
		-v w0="${WALL[10]}" -v c0="${CPU[10]}" -v f="$files" 'BEGIN {
		printf "report %5d images (%9d files): %7.2f s, %6.0f MB; per image %6.1f ms wall, %6.1f ms cpu, %.2fx the 10-image run\n",
			n, n * f, w, r / 1024, 1000 * w / n, 1000 * c / n,
			(w / n) / (w0 / 10)
	}'
done
awk -v w="${WALL[$max]}" -v r="${RSS[$max]}" -v mw="$MW" -v mr="$MR" -v n="$max" -v m="$m" 'BEGIN {
	printf "targets: report of %d images %.1f s of 30 s (%.2f), %.0f MB of 2048 MB (%.2f); matrix %d x %d %.1f s of 30 s (%.2f)\n",
		n, w, w / 30, r / 1024, r / 1024 / 2048, m, m, mw, mw / 30
}'
