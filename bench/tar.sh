#!/bin/bash
# tar.sh: build an image from a gzip-compressed layer, ours
# (mkfs.erofs --tar=f) against erofs-utils' (mkfs.erofs --tar=f --ungzip),
# on the same tarball in one run.
#
# Usage: bench/tar.sh [-n RUNS] [-s MB] [-o "EXTRA MKFS OPTIONS"] [TARBALL]
#   -n RUNS   timed builds per tool (default 3; medians, runs alternate)
#   -s MB     uncompressed size of the generated layer (default 2560, which
#             gives a gzip layer of about 1 GB from a Debian /usr)
#   -o OPTS   options given to both tools
#   TARBALL   a .tar.gz to use instead of the generated one
#
# The generated layer is a tar of regular files, symlinks and directories
# of /usr taken in sorted path order until MB megabytes, compressed with
# gzip -6; it is kept in $EROFS_TEST_CACHE/bench-layer-MB.tar.gz and
# reused. The baseline is the newest erofs-utils (tests/oracle/
# erofs-utils-new.sh), else bookworm's /usr/bin/mkfs.erofs if it has
# --tar; the first line says which. Both tools get -T0; images go to the
# directory of the cache (both spool/temporary files land on the same
# filesystem). Ours fsyncs the image before renaming it into place; the
# baseline does not, so ours is timed to a durable image, the baseline to
# one in the page cache: "ours+sync" adds a sync(1) to the baseline's time
# so that both count the writeback.
#
# Prints wall time, CPU time and peak memory (medians) with ours/base
# ratios, then the image sizes.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib.sh"

runs=3 mb=2560 opts=""
while getopts "n:s:o:" o; do
	case $o in
	n) runs=$OPTARG ;;
	s) mb=$OPTARG ;;
	o) opts=$OPTARG ;;
	*) sed -n '2,26p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

bench_tools tar.sh mkfs
cache=${EROFS_TEST_CACHE:-$top/tests/.cache}
mkdir -p "$cache"

if EU_BIN=$(bash "$top/tests/oracle/erofs-utils-new.sh" 2>/dev/null); then
	base_mkfs=$EU_BIN/mkfs.erofs
	echo "baseline: $("$base_mkfs" --version 2>&1 | head -n 1) (Debian unstable, tests/oracle/erofs-utils-new.sh)"
elif /usr/bin/mkfs.erofs --help 2>&1 | grep -q -- '--tar'; then
	base_mkfs=/usr/bin/mkfs.erofs
	echo "baseline: $(/usr/bin/mkfs.erofs --version 2>&1 | head -n 1) (bookworm's /usr/bin/mkfs.erofs)"
else
	echo "tar.sh: no erofs-utils with --tar available" >&2
	exit 77
fi
echo "ours: $("$MKFS" --version)"

if [ $# -ge 1 ]; then
	layer=$1
else
	layer=$cache/bench-layer-$mb.tar.gz
	if [ ! -f "$layer" ]; then
		echo "tar.sh: packing ${mb} MB of /usr into $layer (once)" >&2
		list=$(mktemp)
		python3 - "$mb" >"$list" <<'EOF'
import os, stat, sys
limit, total = int(sys.argv[1]) << 20, 0
for d, dirs, files in os.walk('/usr'):
    dirs.sort()
    for f in sorted(files):
        p = os.path.join(d, f)
        try:
            st = os.lstat(p)
        except OSError:
            continue
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
            continue
        if total >= limit:
            sys.exit(0)
        total += st.st_size if stat.S_ISREG(st.st_mode) else 0
        print(p[1:])
EOF
		tar -C / --format=pax --no-recursion -T "$list" -cf - |
			gzip -6 >"$layer.tmp"
		mv "$layer.tmp" "$layer"
		rm -f "$list"
	fi
fi
echo "layer: $layer, $(($(stat -c %s "$layer") >> 20)) MiB gzip," \
	"$(($(gzip -l "$layer" | awk 'NR==2 { print $2 }') >> 20)) MiB of tar" \
	"(gzip -l is modulo 4 GiB)"

work=$cache/bench-tar-work
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
# shellcheck disable=SC2206
extra=($opts)
base=("$base_mkfs" --quiet -T0 "${extra[@]}" --tar=f --ungzip "$work/base.img" "$layer")
ours=("$MKFS" --quiet -T0 "${extra[@]}" --tar=f "$work/ours.img" "$layer")
base_sync=(sh -c '"$@" && sync -f "$0"' "$work/base.img" "${base[@]}")
export BENCH_BEFORE="rm -f '$work'/*.img; sync"

# warm the layer into the page cache for both
cat "$layer" >/dev/null
bench_compare "gzip layer" "$runs" base ours
bench_compare "gzip layer, base+sync" "$runs" base_sync ours
bench_table
echo

# one more build each, untimed: image sizes and what reached the disk
# (the image, plus whatever spool or temporary data the kernel wrote back)
disk_mib() {
	local dev
	dev=$(basename "$(df --output=source "$work" | tail -n 1)")
	awk -v d="$dev" '$3 == d { print int($10 * 512 / 1048576) }' /proc/diskstats
}
for who in base ours; do
	rm -f "$work"/*.img
	sync
	d0=$(disk_mib)
	if [ "$who" = base ]; then "${base[@]}"; else "${ours[@]}"; fi
	sync
	d1=$(disk_mib)
	if [ -n "$d0" ] && [ -n "$d1" ]; then
		echo "$who: $((d1 - d0)) MiB written to the disk (with sync)"
	fi
	stat -c %s "$work/$who.img" >"$work/$who.size"
done
base_size=$(cat "$work/base.size")
ours_size=$(cat "$work/ours.size")
printf 'image size: base %d bytes, ours %d bytes, ratio %s\n' "$base_size" \
	"$ours_size" "$(awk -v a="$ours_size" -v b="$base_size" 'BEGIN { printf "%.4f", a / b }')"
