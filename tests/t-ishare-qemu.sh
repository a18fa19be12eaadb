#!/bin/bash
# t-ishare-qemu.sh: page cache sharing measured on a real 7.x kernel (qemu):
# images from our mkfs --ishare save exactly what identical contents allow,
# share with erofs-utils-built images, and on container-like Debian pairs
# reach at least 97% of the ideal saving.
#
# Every expectation comes from the source trees (bench/share-ideal.py hashes
# every file with Python's hashlib), never from our tools. The harness
# (tests/oracle/qemu-ishare/run.sh) reads every file of every image with
# read(2) and reports the page cache growth per image.
#
# Counting, as the page cache does: each regular inode holds its size in
# whole 4 KiB pages (hard links count once, empty files nothing); without
# inode_share every image holds its own pages; with it every distinct
# content is held once, whether it recurs in another image or within one.
#
# Tolerances:
# - The saving (growth without sharing minus growth with sharing, per image)
#   is compared exactly, within 2 x BASELINE_KB + 16 KiB: both runs read the
#   same metadata blocks in the same order, so metadata cancels out; the
#   fingerprint xattr that sharing looks up sits inline next to the inode,
#   in a block the plain run reads too. 16 KiB (4 pages) absorbs counter
#   drift between runs.
# - An image's growth without sharing must lie between its file pages and
#   its file pages plus everything in the image that is not a full data
#   block of a regular file (inodes, xattrs, directories, inline tails,
#   which the kernel reads through the block device's cache), plus the
#   noise allowance.
#
# Environment: ISHARE_KEEP=DIR keeps trees, images and outputs in DIR;
# EROFS_ISHARE_PAIRS (default "redis"): the Debian pairs of
# bench/debian-pairs.sh to measure (postgresql, redis, nginx).
. "$(dirname "$0")/lib.sh"

T=ishare-qemu
W=${ISHARE_KEEP:-$TEST_TMP}; mkdir -p "$W"
RUN=$TOP_SRCDIR/tests/oracle/qemu-ishare/run.sh
IDEAL=$TOP_SRCDIR/bench/share-ideal.py
PAIRS=${EROFS_ISHARE_PAIRS:-redis}

. "$TOP_SRCDIR/tests/qemu_share_lib.sh"
qemu_share_ready || exit 0
EU_BIN=$("$TOP_SRCDIR/tests/oracle/erofs-utils-new.sh" 2>"$W/eu.err") || EU_BIN=

# --- helpers ---------------------------------------------------------------
ival() { sed -n "s/^$2=//p" "$W/$1" | head -n1; }

# ideal NAME TREE...: ground truth in $W/NAME.ideal
ideal() {
	local name=$1
	shift
	"$PY" "$IDEAL" "$@" >"$W/$name.ideal"
}

# meta_kb IMAGE TREE: KiB of IMAGE that are not full data blocks of the
# tree's regular files (for sparse files, only the blocks they allocate).
meta_kb() {
	"$PY" - "$1" "$2" <<'EOF'
import os, stat, sys
img, tree = sys.argv[1], sys.argv[2]
seen, data = set(), 0
for root, dirs, files in os.walk(tree):
	for n in files:
		st = os.lstat(os.path.join(root, n))
		if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
			seen.add((st.st_dev, st.st_ino))
			data += min(st.st_size, st.st_blocks * 512) // 4096 * 4096
print(max(0, os.path.getsize(img) - data) // 1024)
EOF
}

# zdata_kb IMAGE TREE CLASSES: KiB of IMAGE that are not full blocks of
# files stored uncompressed: the compressed data and the metadata
zdata_kb() {
	"$PY" - "$1" "$2" "$3" <<'EOF'
import os, stat, sys
img, tree, cls = sys.argv[1:4]
z = {l.split('\t')[0] for l in open(cls)}
seen, flat = set(), 0
for root, dirs, files in os.walk(tree):
	for n in files:
		p = os.path.join(root, n)
		st = os.lstat(p)
		if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
			seen.add((st.st_dev, st.st_ino))
			if os.path.relpath(p, tree) not in z:
				flat += min(st.st_size, st.st_blocks * 512) // 4096 * 4096
print(max(0, os.path.getsize(img) - flat) // 1024)
EOF
}

# in_range WHAT GOT LO HI
in_range() {
	if [ -z "$2" ]; then
		fail "$T: $1" "no measurement"
	elif [ "$2" -ge "$3" ] && [ "$2" -le "$4" ]; then
		pass "$T: $1 ($2 KiB, expected $3..$4)"
	else
		fail "$T: $1" "$2 KiB, expected $3..$4"
	fi
}

# noise allowance of two runs, KiB
noise() { echo $((2 * ($(val "$1" BASELINE_KB) + $(val "$2" BASELINE_KB)) + 16)); }

# check_plain RUN I IMAGE IDEAL-NAME TREE WHAT: growth of image I without sharing
check_plain() {
	local pages meta n
	pages=$(($(ival "$4.ideal" TREE0_PAGES_BYTES) / 1024))
	meta=$(meta_kb "$3" "$5")
	n=$((2 * $(val "$1" BASELINE_KB) + 16))
	in_range "$6: image read without sharing holds its file pages" \
		"$(val "$1" "IMG$2_DELTA_KB")" $((pages - n)) $((pages + meta + n))
}

# check_saving WHAT PLAIN-RUN SHARE-RUN "PLAIN-INDEXES" "SHARE-INDEXES" EXPECTED_KB
check_saving() {
	local what=$1 plain=$2 share=$3 a=0 b=0 i tol
	for i in $4; do a=$((a + $(val "$plain" "IMG${i}_DELTA_KB"))); done
	for i in $5; do b=$((b + $(val "$share" "IMG${i}_DELTA_KB"))); done
	tol=$(noise "$plain" "$share")
	in_range "$what" $((a - b)) $(($6 - tol)) $(($6 + tol))
}

# layout IMAGE PATH: the data layout erofs-utils' dump.erofs reports
layout() {
	[ -n "$EU_BIN" ] || { echo unknown; return; }
	"$EU_BIN/dump.erofs" --path="$2" "$1" 2>/dev/null |
		sed -n 's/.*Layout: \([0-9]*\).*/\1/p'
}

# --- (a) generated trees with known overlap ----------------------------------
# bench/share-trees.sh: gen_pair DIR1 DIR2, every kind of overlap
. "$TOP_SRCDIR/bench/share-trees.sh"

A=$W/A
B=$W/B
gen_pair "$A" "$B"
ideal ab "$A" "$B"
ideal a "$A"
ideal b "$B"
ideal_ab=$(($(ival ab.ideal SAVING_BYTES) / 1024))
ideal_a=$(($(ival a.ideal SAVING_BYTES) / 1024))
ideal_b=$(($(ival b.ideal SAVING_BYTES) / 1024))
echo "# ideal: A+B saving ${ideal_ab} KiB (within A ${ideal_a}, within B ${ideal_b})"

ok=1
# B-hidden: erofs-utils' hidden name (no standard prefix, its own name
# filter seed) written by our mkfs
for img in A:A: B:B: B-hidden:B:=erofs.fingerprint.v1; do
	IFS=: read -r name src name_opt <<<"$img"
	if ! "$MKFS" --quiet "--ishare$name_opt" "$W/$name.img" "$W/$src" \
		>"$W/$name.log" 2>&1; then
		fail "$T: mkfs --ishare$name_opt $src" "$(tail -n1 "$W/$name.log")"
		ok=0
	fi
done
if [ -n "$EU_BIN" ]; then
	if ! "$EU_BIN/mkfs.erofs" --quiet --xattr-inode-digest "$W/B-eu.img" "$B" \
		>"$W/B-eu.log" 2>&1; then
		fail "$T: erofs-utils mkfs --xattr-inode-digest B" "$(tail -n1 "$W/B-eu.log")"
		rm -f "$W/B-eu.img"
	fi
else
	skip "$T: (b) cross-tool" "no erofs-utils 1.9: $(tail -n1 "$W/eu.err")"
fi
[ $ok = 1 ] || exit 0

# The cases must be what they claim to be.
if [ -n "$EU_BIN" ]; then
	l="$(layout "$W/A.img" /sparse/holes) $(layout "$W/B.img" /sparse/dense)"
	l="$l $(layout "$W/A.img" /tails/t) $(layout "$W/B.img" /tails/t)"
	if [ "$l" = "4 0 2 0" ]; then
		pass "$T: layouts as intended (chunk vs flat, inline vs plain)"
	else
		fail "$T: layouts as intended" "got '$l', want '4 0 2 0'"
	fi
fi

# (d) compression, probed on a tiny tree; the trees hold text so that
# most files compress, and the layout class of every file is taken from
# erofs-utils' dump.erofs (random data would be stored uncompressed)
C=$W/C
D=$W/D
zok=0
mkdir -p "$W/tiny" && echo hello >"$W/tiny/f"
if ! "$MKFS" --quiet -zlz4hc "$W/tiny.img" "$W/tiny" >/dev/null 2>&1; then
	skip "$T: (d) compressed pairs" "compression not built (mkfs -zlz4hc fails)"
elif [ -z "$EU_BIN" ]; then
	skip "$T: (d) compressed pairs" "no erofs-utils 1.9 to report layout classes"
else
	GEN_TEXT=1 gen_pair "$C" "$D"
	zok=1
	for img in C:C:--ishare C-z:C:-zlz4hc D-z:D:-zlz4hc; do
		IFS=: read -r name src opt <<<"$img"
		if ! "$MKFS" --quiet $opt --ishare "$W/$name.img" "$W/$src" \
			>"$W/$name.log" 2>&1; then
			fail "$T: mkfs $opt --ishare $src" "$(tail -n1 "$W/$name.log")"
			zok=0
		fi
	done
fi
# classes IMAGE TREE OUT: "relpath<TAB>compressed" for compressed files
classes() {
	(cd "$2" && find . -type f -size +0 | sed 's|^\./||') | while read -r f; do
		case $(layout "$1" "/$f") in
		1 | 3) printf '%s\tcompressed\n' "$f" ;;
		esac
	done >"$3"
}
if [ $zok = 1 ]; then
	classes "$W/C-z.img" "$C" "$W/C-z.classes"
	classes "$W/D-z.img" "$D" "$W/D-z.classes"
	nz=$(cat "$W/C-z.classes" "$W/D-z.classes" | wc -l)
	echo "# compressed files: $nz of $(find "$C" "$D" -type f -size +0 | wc -l)"
	if [ "$nz" -ge 20 ]; then
		pass "$T: (d) most text files are stored compressed ($nz)"
	else
		fail "$T: (d) most text files are stored compressed" "only $nz"
	fi
	"$PY" "$IDEAL" --classes "0:$W/C-z.classes" --classes "1:$W/D-z.classes" \
		"$C" "$D" >"$W/cd-z.ideal"
	"$PY" "$IDEAL" --classes "1:$W/D-z.classes" "$C" "$D" >"$W/cd-mixed.ideal"
	ideal_z=$(($(ival cd-z.ideal SAVING_BYTES) / 1024))
	ideal_mixed=$(($(ival cd-mixed.ideal SAVING_BYTES) / 1024))
	echo "# ideal: compressed pair ${ideal_z} KiB, uncompressed+compressed ${ideal_mixed} KiB"
fi

# One run without sharing measures every image on its own.
plain=("$W/A.img" "$W/B.img")
[ -f "$W/B-eu.img" ] && plain+=("$W/B-eu.img")
hidden=${#plain[@]}
plain+=("$W/B-hidden.img")
# plain-run index of C; C-z and D-z follow
zi=${#plain[@]}
[ $zok = 1 ] && plain+=("$W/C.img" "$W/C-z.img" "$W/D-z.img")
if measure gen-plain --noshare "${plain[@]}"; then
	check_plain gen-plain 0 "$W/A.img" a "$A" "(a) A"
	check_plain gen-plain 1 "$W/B.img" b "$B" "(a) B"
	[ -f "$W/B-eu.img" ] &&
		check_plain gen-plain 2 "$W/B-eu.img" b "$B" "(b) B by erofs-utils"
	check_plain gen-plain $hidden "$W/B-hidden.img" b "$B" "(a) B, hidden name"

	if measure gen-share --share "$W/A.img" "$W/B.img"; then
		check_saving "(a) saving within A equals its duplicates" \
			gen-plain gen-share 0 0 "$ideal_a"
		check_saving "(a) saving of A+B equals what identical contents allow" \
			gen-plain gen-share "0 1" "0 1" "$ideal_ab"
		if grep -q 'i_size mismatch' "$W/gen-share.out"; then
			fail "$T: (a) no i_size mismatch warnings" "$(grep -m1 'i_size mismatch' "$W/gen-share.out")"
		fi
	fi
	if measure gen-share-hidden --share "$W/A.img" "$W/B-hidden.img"; then
		check_saving "(a) ours with erofs.fingerprint.v1 shares with ours with trusted.erofs.fingerprint" \
			gen-plain gen-share-hidden "0 $hidden" "0 1" "$ideal_ab"
	fi
	if [ -f "$W/B-eu.img" ] &&
		measure gen-share-eu --share "$W/A.img" "$W/B-eu.img"; then
		check_saving "(b) ours (trusted.erofs.fingerprint) + erofs-utils (erofs.fingerprint.v1) share identical files" \
			gen-plain gen-share-eu "0 2" "0 1" "$ideal_ab"
	fi
	if [ $zok = 1 ]; then
		# plain-run indexes of C, C-z, D-z
		i=$zi
		# Compressed files move the figures both ways by up to their
		# compressed size: sharing spares reading the compressed blocks
		# of shared files, and with inode_share the kernel was seen to
		# keep more compressed blocks cached (up to 176 KiB more for
		# D-z read alone, varying from run to run).
		zd=$(zdata_kb "$W/D-z.img" "$D" "$W/D-z.classes")
		zc=$(($(zdata_kb "$W/C-z.img" "$C" "$W/C-z.classes") + zd))
		if measure gen-share-z --share "$W/C-z.img" "$W/D-z.img"; then
			a=$(($(val gen-plain "IMG$((i + 1))_DELTA_KB") + $(val gen-plain "IMG$((i + 2))_DELTA_KB")))
			b=$(val gen-share-z DELTA_KB)
			in_range "(d) compressed pair: saving >= 97% of what identical contents allow" \
				$((a - b)) $((ideal_z * 97 / 100)) $((ideal_z + zc + $(noise gen-plain gen-share-z)))
		fi
		if measure gen-share-mixed --share "$W/C.img" "$W/D-z.img"; then
			a=$(($(val gen-plain "IMG${i}_DELTA_KB") + $(val gen-plain "IMG$((i + 2))_DELTA_KB")))
			b=$(val gen-share-mixed DELTA_KB)
			# only files stored uncompressed in both share: nothing
			# is spared, but D-z's compressed files may hold more
			tol=$(noise gen-plain gen-share-mixed)
			in_range "(d) uncompressed+compressed: only files stored alike share" \
				$((a - b)) $((ideal_mixed - zd - tol)) $((ideal_mixed + tol))
		fi
	fi
fi

# --- (c) container-like Debian pairs ----------------------------------------
for pair in $PAIRS; do
	if ! line=$("$TOP_SRCDIR/bench/debian-pairs.sh" "$pair" 2>"$W/pairs.err"); then
		skip "$T: (c) $pair" "$(tail -n1 "$W/pairs.err")"
		continue
	fi
	read -r _ old new <<<"$line"
	ok=1
	for side in old new; do
		declare -n src=$side
		if ! "$MKFS" --quiet --ishare "$W/$pair-$side.img" "$src" \
			>"$W/$pair-$side.log" 2>&1; then
			fail "$T: (c) mkfs --ishare $pair $side" "$(tail -n1 "$W/$pair-$side.log")"
			ok=0
		fi
		unset -n src
	done
	[ $ok = 1 ] || continue
	ideal "$pair" "$old" "$new"
	ideal "$pair-old" "$old"
	ideal "$pair-new" "$new"
	want=$(($(ival "$pair.ideal" SAVING_BYTES) / 1024))
	echo "# ideal $pair: $(grep -E 'NOSHARE|^SHARE|SAVING' "$W/$pair.ideal" | tr '\n' ' ')"
	measure "$pair-plain" --noshare "$W/$pair-old.img" "$W/$pair-new.img" || continue
	check_plain "$pair-plain" 0 "$W/$pair-old.img" "$pair-old" "$old" "(c) $pair old"
	check_plain "$pair-plain" 1 "$W/$pair-new.img" "$pair-new" "$new" "(c) $pair new"
	measure "$pair-share" --share "$W/$pair-old.img" "$W/$pair-new.img" || continue
	got=$(($(val "$pair-plain" DELTA_KB) - $(val "$pair-share" DELTA_KB)))
	tol=$(noise "$pair-plain" "$pair-share")
	# Never more than identical contents allow: that would mean files
	# with different contents shared a fingerprint.
	in_range "(c) $pair: saving >= 97% of what identical contents allow ($((want * 100 / ($(ival "$pair.ideal" NOSHARE_BYTES) / 1024)))% of the page cache)" \
		"$got" $((want * 97 / 100)) $((want + tol))
done
exit 0
