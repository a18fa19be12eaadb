#!/bin/bash
# t-share-qemu.sh: the share report's predictions against what a 7.x kernel
# (qemu, tests/oracle/qemu-ishare/run.sh) measures when it reads every file
# of every image with read(2), with and without inode_share.
#
# The report predicts, per image, the page cache of its files plus its
# directories (which the kernel caches too), without sharing and, with
# sharing, what each image adds after the ones before it (the harness
# reads the images in order). Checked:
# - generated images, with a forged fingerprint (same value as another
#   file of another size: the kernel warns "i_size mismatch" and keeps it
#   private): every per-image figure within the noise allowance of the
#   harness (2 x BASELINE_KB + 16 KiB);
# - an uncompressed image and a compressed one read in both orders: the
#   first inode with a value decides the layout class of the copy, so in
#   one order even the duplicates within the uncompressed image stay
#   private; figures of compressed images may exceed the prediction by
#   the compressed blocks the kernel caches besides (not modelled);
# - container-like Debian pairs (EROFS_SHARE_PAIRS, default "redis"):
#   predictions with and without sharing within 2% of the measured figure
#   without sharing, the predicted saving within 1 point of what identical
#   contents allow (bench/share-ideal.py) and within 2 points of the
#   kernel's.
. "$(dirname "$0")/lib.sh"

T=share-qemu
W=${SHARE_KEEP:-$TEST_TMP}
mkdir -p "$W"
RUN=$TOP_SRCDIR/tests/oracle/qemu-ishare/run.sh
IDEAL=$TOP_SRCDIR/bench/share-ideal.py
PAIRS=${EROFS_SHARE_PAIRS:-redis}

. "$TOP_SRCDIR/tests/qemu_share_lib.sh"
qemu_share_ready || exit 0
. "$TOP_SRCDIR/bench/share-trees.sh"

report() { # NAME IMAGES...
	local name=$1
	shift
	"$DUMP" --share-report --json "$@" >"$W/$name.json" 2>"$W/$name.err" ||
		{ fail "$T: report $name" "$(tail -n1 "$W/$name.err")"; return 1; }
}
# from the report: jv NAME EXPR over "r"; rv the same for bytes, in KiB
jv() {
	"$PY" -c 'import json, sys
r = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$W/$1.json" "$2"
}
rv() { echo $(($(jv "$1" "$2") / 1024)); }
in_range() { # WHAT GOT LO HI [UNIT]
	local u=${5:-KiB}
	if [ -z "$2" ]; then
		fail "$T: $1" "no measurement"
	elif [ "$2" -ge "$3" ] && [ "$2" -le "$4" ]; then
		pass "$T: $1 ($2 $u, expected $3..$4)"
	else
		fail "$T: $1" "$2 $u, expected $3..$4"
	fi
}
noise() { echo $((2 * $(val "$1" BASELINE_KB) + 16)); }
mk() { # IMAGE TREE OPTIONS...
	local img=$1 tree=$2
	shift 2
	"$MKFS" --quiet "$@" "$W/$img.img" "$tree" >"$W/$img.log" 2>&1 ||
		{ fail "$T: mkfs $* $img" "$(tail -n1 "$W/$img.log")"; return 1; }
}
# expect RUN I REPORT IMAGE-INDEX FIELD WHAT [EXTRA-KIB]: the harness's
# IMG<I>_DELTA_KB against the report's FIELD + dir_bytes of that image
expect() {
	local want n extra=${7:-0}
	want=$(rv "$3" "r['images'][$4]['$5'] + r['images'][$4]['dir_bytes']")
	n=$(noise "$1")
	in_range "$6" "$(val "$1" "IMG$2_DELTA_KB")" $((want - n)) $((want + extra + n))
}

# --- generated images, with a forged fingerprint -------------------------------
A=$W/A
B=$W/B
gen_pair "$A" "$B"
mk A "$A" --ishare && mk B "$B" --ishare || exit 0
"$PY" "$TOP_SRCDIR/tests/fsck_util.py" forge-fingerprint "$W/B.img" "$W/Bx.img" "$A/prefix" "$B/prefix"
report gen "$W/A.img" "$W/Bx.img" || exit 0
if [ "$(jv gen "r['lost']['size_conflict_files']")" != 1 ]; then
	fail "$T: forged image" "the report sees no size conflict"
fi

zok=0
if "$MKFS" --quiet -zlz4hc "$W/probe.img" "$TOP_SRCDIR/sample" >/dev/null 2>&1; then
	C=$W/C
	D=$W/D
	GEN_TEXT=1 gen_pair "$C" "$D"
	mk C "$C" --ishare && mk D-z "$D" -zlz4hc --ishare &&
		report cdz "$W/C.img" "$W/D-z.img" &&
		report dzc "$W/D-z.img" "$W/C.img" && zok=1
	# compressed blocks the kernel may cache besides the files' pages
	zextra=$(($(stat -c %s "$W/D-z.img") / 1024))
else
	skip "$T: layout classes" "compression not built"
fi

plain=("$W/A.img" "$W/Bx.img")
[ $zok = 1 ] && plain+=("$W/C.img" "$W/D-z.img")
if measure gen-plain --noshare "${plain[@]}"; then
	expect gen-plain 0 gen 0 noshare_bytes "generated A without sharing"
	expect gen-plain 1 gen 1 noshare_bytes "generated B' without sharing"
	if [ $zok = 1 ]; then
		expect gen-plain 2 cdz 0 noshare_bytes "text C without sharing"
		expect gen-plain 3 cdz 1 noshare_bytes "compressed D without sharing" "$zextra"
	fi
fi
if measure gen-share --share "$W/A.img" "$W/Bx.img"; then
	expect gen-share 0 gen 0 added_bytes "generated A with sharing (its duplicates share)"
	expect gen-share 1 gen 1 added_bytes "generated B' with sharing, after A"
	if grep -q 'i_size mismatch' "$W/gen-share.out"; then
		pass "$T: the kernel refuses the forged fingerprint's size too (i_size mismatch)"
	else
		fail "$T: the kernel warns i_size mismatch for the forged fingerprint" "no such dmesg line"
	fi
fi
if [ $zok = 1 ]; then
	if measure cdz-share --share "$W/C.img" "$W/D-z.img"; then
		expect cdz-share 0 cdz 0 added_bytes "uncompressed C first"
		expect cdz-share 1 cdz 1 added_bytes "then compressed D: only files stored alike share" "$zextra"
	fi
	if measure dzc-share --share "$W/D-z.img" "$W/C.img"; then
		expect dzc-share 0 dzc 0 added_bytes "compressed D first" "$zextra"
		expect dzc-share 1 dzc 1 added_bytes "then C: copies made compressed keep even C's duplicates private"
	fi
fi

# --- container-like Debian pairs -------------------------------------------------
for pair in $PAIRS; do
	if ! line=$("$TOP_SRCDIR/bench/debian-pairs.sh" "$pair" 2>"$W/pairs.err"); then
		skip "$T: $pair" "$(tail -n1 "$W/pairs.err")"
		continue
	fi
	read -r _ old new <<<"$line"
	mk "$pair-old" "$old" --ishare && mk "$pair-new" "$new" --ishare || continue
	report "$pair" "$W/$pair-old.img" "$W/$pair-new.img" || continue
	"$PY" "$IDEAL" "$old" "$new" >"$W/$pair.ideal"
	measure "$pair-plain" --noshare "$W/$pair-old.img" "$W/$pair-new.img" || continue
	measure "$pair-share" --share "$W/$pair-old.img" "$W/$pair-new.img" || continue
	m_plain=$(val "$pair-plain" DELTA_KB)
	m_share=$(val "$pair-share" DELTA_KB)
	p_plain=$(rv "$pair" "r['noshare_bytes'] + r['dir_bytes']")
	p_share=$(rv "$pair" "r['shared_bytes'] + r['dir_bytes']")
	tol=$((m_plain * 2 / 100))
	in_range "$pair: predicted page cache without sharing, within 2%" \
		"$p_plain" $((m_plain - tol)) $((m_plain + tol))
	in_range "$pair: predicted page cache with sharing, within 2% of the figure without" \
		"$p_share" $((m_share - tol)) $((m_share + tol))
	# saving in hundredths of a percent
	p_save=$(jv "$pair" "round(r['saving_percent'] * 100)")
	i_save=$(sed -n 's/^SAVING_PERCENT=//p' "$W/$pair.ideal" | awk '{ printf "%d", $1 * 100 + 0.5 }')
	k_save=$(((m_plain - m_share) * 10000 / m_plain))
	echo "# $pair: saving predicted $p_save, ideal $i_save, kernel $k_save (1/100 %)"
	in_range "$pair: predicted saving within 1 point of identical contents" \
		"$p_save" $((i_save - 100)) $((i_save + 100)) "/100 %"
	in_range "$pair: predicted saving within 2 points of the kernel's" \
		"$p_save" $((k_save - 200)) $((k_save + 200)) "/100 %"
done
exit 0
