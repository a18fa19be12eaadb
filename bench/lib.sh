# bench/lib.sh: sourceable helpers to time commands and print ratios against a baseline from the same run.
# shellcheck shell=bash
#
#   . bench/lib.sh
#   bench_measure N CMD [ARG...]
#       Runs CMD N times (its output to $BENCH_LOG, default /dev/null) and
#       sets BENCH_WALL_S, BENCH_CPU_S (medians) and BENCH_RSS_KB (largest
#       peak RSS seen); prints "wall_s=W cpu_s=C rss_kb=R". Returns non-zero
#       if any run fails.
#   bench_compare NAME N BASE_ARRAY OURS_ARRAY
#       Runs the two commands (names of bash arrays holding argv) N times
#       each, alternating base/ours so drift on a shared machine hits both
#       alike, and records the medians as a row for bench_table.
#   bench_table
#       Prints the recorded rows side by side with ours/base ratios
#       (below 1.00 means ours is faster or smaller).
#   bench_tools SCRIPT TOOL...
#       Sets MKFS, FSCK and DUMP (unless set in the environment) to the
#       tools of the build in $TOP_BUILDDIR (default: the source tree) and
#       exits, naming SCRIPT, when one of the TOOLs (mkfs, fsck, dump) is
#       not built.
#   bench_tree CACHE MB [packed]
#       Prints the path of a tree of real files: the regular files and
#       symlinks of /usr/lib and /usr/share taken in sorted path order
#       until MB megabytes, copied once into CACHE/bench-tree-MB and
#       reused by every script. With "packed", only files that hold data
#       compressed already (.gz .xz .bz2 .zst .zip .jar .png .jpg .woff2),
#       in CACHE/bench-packed-MB.
#
# Environment:
#   BENCH_BEFORE  shell snippet eval'ed before every run, untimed (e.g.
#                 "rm -f out.img" or dropping caches)
#   BENCH_LOG     where the commands' stdout/stderr go (default /dev/null)
#
# Wall time comes from date +%s%N around the run (ns); CPU (user+sys) and
# peak RSS come from GNU time (package "time"), whose CPU figures have 10 ms
# resolution, so give short commands enough work or runs.
#
# Example:
#   base=("$EU_BIN/mkfs.erofs" -zlz4hc /tmp/b.img src)
#   ours=(./mkfs/mkfs.erofs -zlz4hc /tmp/o.img src)
#   bench_compare "mkfs lz4hc" 5 base ours
#   bench_table

BENCH_TIME=${BENCH_TIME:-/usr/bin/time}
BENCH_ROWS=()

bench_median() { # VALUES... -> median
	printf '%s\n' "$@" | sort -g | awk '
		{ v[NR] = $1 }
		END {
			if (NR == 0) exit 1
			if (NR % 2) print v[(NR + 1) / 2]
			else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2
		}'
}

# One timed run; sets _bench_wall _bench_cpu _bench_rss.
bench_once() {
	local out t0 t1 rc=0
	if [[ ! -x $BENCH_TIME ]]; then
		echo "bench: $BENCH_TIME missing (apt-get install time)" >&2
		return 77
	fi
	if [[ -n ${BENCH_BEFORE:-} ]]; then
		eval "$BENCH_BEFORE" || return
	fi
	out=$(mktemp)
	t0=$(date +%s%N)
	"$BENCH_TIME" -f '%U %S %M' -o "$out" "$@" >>"${BENCH_LOG:-/dev/null}" 2>&1 || rc=$?
	t1=$(date +%s%N)
	if ((rc)); then
		echo "bench: command failed (exit $rc): $*" >&2
		rm -f "$out"
		return "$rc"
	fi
	# GNU time prefixes "Command exited with non-zero status" lines on
	# failure; on success the last line is ours.
	read -r _bench_cpu _bench_rss < <(tail -n1 "$out" |
		awk '{ printf "%.2f %d\n", $1 + $2, $3 }')
	rm -f "$out"
	_bench_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", (b - a) / 1e9 }')
}

bench_measure() {
	local n=$1 i walls=() cpus=() rss=0
	shift
	for ((i = 0; i < n; i++)); do
		bench_once "$@" || return
		walls+=("$_bench_wall")
		cpus+=("$_bench_cpu")
		((_bench_rss > rss)) && rss=$_bench_rss
	done
	BENCH_WALL_S=$(bench_median "${walls[@]}")
	BENCH_CPU_S=$(bench_median "${cpus[@]}")
	BENCH_RSS_KB=$rss
	echo "wall_s=$BENCH_WALL_S cpu_s=$BENCH_CPU_S rss_kb=$BENCH_RSS_KB"
}

bench_compare() {
	local name=$1 n=$2 i
	local -n _base=$3 _ours=$4
	local bw=() bc=() br=0 ow=() oc=() or=0
	for ((i = 0; i < n; i++)); do
		bench_once "${_base[@]}" || return
		bw+=("$_bench_wall") bc+=("$_bench_cpu")
		((_bench_rss > br)) && br=$_bench_rss
		bench_once "${_ours[@]}" || return
		ow+=("$_bench_wall") oc+=("$_bench_cpu")
		((_bench_rss > or)) && or=$_bench_rss
	done
	# Tab-separated so names may hold spaces.
	BENCH_ROWS+=("$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s' "$name" \
		"$(bench_median "${bw[@]}")" "$(bench_median "${ow[@]}")" \
		"$(bench_median "${bc[@]}")" "$(bench_median "${oc[@]}")" "$br" "$or")")
	echo "bench: $name done ($n runs each)" >&2
}

bench_table() {
	printf '%s\n' "${BENCH_ROWS[@]}" | awk -F '\t' '
		function ratio(o, b) { return b > 0 ? sprintf("%.2f", o / b) : "-" }
		BEGIN {
			printf "%-24s %9s %9s %6s  %8s %8s %6s  %9s %9s %6s\n",
				"benchmark", "wall base", "wall ours", "ratio",
				"cpu base", "cpu ours", "ratio",
				"rss base", "rss ours", "ratio"
		}
		NF == 7 {
			printf "%-24s %8.3fs %8.3fs %6s  %7.2fs %7.2fs %6s  %7dKB %7dKB %6s\n",
				$1, $2, $3, ratio($3, $2), $4, $5, ratio($5, $4),
				$6, $7, ratio($7, $6)
		}'
}

bench_tree() {
	local tree=$1/bench-tree-$2 kind=${3:-all}
	[ "$kind" = packed ] && tree=$1/bench-packed-$2
	if [ ! -f "$tree.done" ]; then
		rm -rf "$tree"
		echo "bench: copying $2 MB of /usr/lib and /usr/share to $tree" >&2
		python3 - "$tree" "$2" "$kind" <<'EOF' || return
import os, re, shutil, sys
dest, limit = sys.argv[1], int(sys.argv[2]) << 20
packed = re.compile(r'\.(gz|xz|bz2|zst|zip|jar|png|jpe?g|woff2)$')
total = 0
def walk(top):
    for d, dirs, files in os.walk(top):
        dirs.sort()
        for f in sorted(files):
            yield os.path.join(d, f)
for src in (p for top in ('/usr/lib', '/usr/share') for p in walk(top)):
    if total >= limit:
        break
    if sys.argv[3] == 'packed' and not packed.search(src):
        continue
    dst = os.path.join(dest, src.lstrip('/'))
    try:
        st = os.lstat(src)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        elif os.path.isfile(src):
            shutil.copy2(src, dst)
            total += st.st_size
    except OSError:
        pass
EOF
		touch "$tree.done"
	fi
	echo "$tree"
}

bench_tools() {
	local script=$1 build t var
	build=${TOP_BUILDDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
	MKFS=${MKFS:-$build/mkfs/mkfs.erofs}
	FSCK=${FSCK:-$build/fsck/fsck.erofs}
	DUMP=${DUMP:-$build/dump/dump.erofs}
	shift
	for t in "$@"; do
		var=${t^^}
		[ -x "${!var}" ] || { echo "$script: ${!var} not built" >&2; exit 1; }
	done
}
