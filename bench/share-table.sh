#!/bin/bash
# share-table.sh: page cache of container-like image pairs on a real 7.x kernel, with and without sharing, next to the share report's prediction (README table).
#
# Usage: bench/share-table.sh [PAIR...]   (default: postgresql redis nginx)
#
# For each Debian pair of bench/debian-pairs.sh (a common base plus one
# application, old and new versions), both images are built with our
# mkfs.erofs --ishare, dump.erofs --share-report predicts the page cache,
# and tests/oracle/qemu-ishare/run.sh boots Debian unstable's kernel, mounts
# both images plainly and then with inode_share,domain_id=..., reads every
# file with read(2) and reports how much the page cache grew.
#
# Prints a Markdown table in the layout of the kernel patch's own
# measurements (image pair, sharing no/yes, memory in MB, reduction %),
# measured and predicted side by side; memory is the page cache growth
# for reading every file of both images, directories included (the report's
# file figures plus its dir_bytes). MB = 2^20 bytes.
# Exit 77 when qemu, the kernel or the Debian archive is unavailable.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
builddir=${TOP_BUILDDIR:-$top}
MKFS=${MKFS:-$builddir/mkfs/mkfs.erofs}
DUMP=${DUMP:-$builddir/dump/dump.erofs}
RUN=$top/tests/oracle/qemu-ishare/run.sh
PY=$(python3 -c 'import sys; print(sys.executable)')
pairs=("$@")
((${#pairs[@]})) || pairs=(postgresql redis nginx)

W=$(mktemp -d "${TMPDIR:-/tmp}/share-table.XXXXXX")
trap 'rm -rf "$W"' EXIT

jv() { "$PY" -c 'import json, sys; r = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
kv() { sed -n "s/^$2=//p" "$1" | head -n1; }

rows=()
for pair in "${pairs[@]}"; do
	read -r _ old new < <("$here/debian-pairs.sh" "$pair") || exit $?
	for side in old new; do
		declare -n src=$side
		"$MKFS" --quiet --ishare "$W/$pair-$side.img" "$src"
		unset -n src
	done
	"$DUMP" --share-report --json "$W/$pair-old.img" "$W/$pair-new.img" >"$W/$pair.json"
	for mode in noshare share; do
		rc=0
		"$RUN" "--$mode" "$W/$pair-old.img" "$W/$pair-new.img" \
			>"$W/$pair-$mode.out" 2>"$W/$pair-$mode.err" || rc=$?
		if ((rc)); then
			tail -n3 "$W/$pair-$mode.err" >&2
			exit "$rc"
		fi
	done
	# versions: the application package, old and new
	case $pair in
	postgresql) pkg=postgresql-15 ;;
	redis) pkg=redis-server ;;
	nginx) pkg=nginx-core ;;
	*) pkg=libc6 ;;
	esac
	read -r _ _ v_old v_new < <("$here/debian-pairs.sh" --list "$pair" |
		awk -v p="$pkg" '$2 == p')
	m_no=$(kv "$W/$pair-noshare.out" DELTA_KB)
	m_yes=$(kv "$W/$pair-share.out" DELTA_KB)
	p_no=$(jv "$W/$pair.json" "(r['noshare_bytes'] + r['dir_bytes']) // 1024")
	p_yes=$(jv "$W/$pair.json" "(r['shared_bytes'] + r['dir_bytes']) // 1024")
	rows+=("$(awk -v pkg="$pkg" -v a="$v_old" -v b="$v_new" -v mn="$m_no" \
		-v my="$m_yes" -v pn="$p_no" -v py="$p_yes" 'BEGIN {
		printf "| %s %s + %s (+ base) | No | %.1f | - | %.1f | - |\n", pkg, a, b,
			mn / 1024, pn / 1024
		printf "| | Yes | %.1f | %.1f%% | %.1f | %.1f%% |", my / 1024,
			100 * (mn - my) / mn, py / 1024, 100 * (pn - py) / pn
	}')")
	echo "share-table: $pair done" >&2
done

kernel=$(kv "$W/${pairs[0]}-noshare.out" KERNEL)
echo "| Image pair | Page cache sharing | Memory (MB), kernel $kernel | Reduction | Memory (MB), share report | Reduction |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
