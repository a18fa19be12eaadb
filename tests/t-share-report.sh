#!/bin/bash
# t-share-report.sh: dump.erofs --share-report on real images with exactly
# known overlap: the figures equal the ground truth computed from the
# source trees (bench/share-ideal.py hashes every file), for pairs, three
# images, an image with itself, images without fingerprints, images from
# erofs-utils, layout class and size conflicts, other page sizes; --verify
# catches a forged fingerprint; --json is one valid object.
. "$(dirname "$0")/lib.sh"

T=share-report
W=$TEST_TMP
IDEAL=$TOP_SRCDIR/bench/share-ideal.py
for tool in python3 setfattr truncate; do
	if ! command -v $tool >/dev/null; then
		skip "$T" "missing $tool"
		exit 0
	fi
done
# the interpreter itself: a version manager's wrapper costs a second a call
PY=$(python3 -c 'import sys; print(sys.executable)')
. "$TOP_SRCDIR/bench/share-trees.sh"

A=$W/A
B=$W/B
gen_pair "$A" "$B"
mk() { # IMAGE TREE OPTIONS...
	local img=$1 tree=$2
	shift 2
	"$MKFS" --quiet "$@" "$W/$img.img" "$tree" >"$W/$img.log" 2>&1 ||
		{ fail "$T: mkfs $* $img" "$(tail -n1 "$W/$img.log")"; return 1; }
}
mk A "$A" --ishare || exit 0
mk B "$B" --ishare || exit 0
mk B-plain "$B" || exit 0
mk A-hidden "$A" --ishare=erofs.fingerprint.v1 || exit 0

# report NAME ARGS...: JSON report in $W/NAME.json
report() {
	local name=$1
	shift
	"$DUMP" --share-report --json "$@" >"$W/$name.json" 2>"$W/$name.err"
}
# jq-like access: js NAME EXPR (python over the parsed object "r")
js() {
	"$PY" -c 'import json, sys
r = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$W/$1.json" "$2"
}
iv() { sed -n "s/^$2=//p" "$W/$1.ideal"; }
# non-empty regular file inodes of a tree
ninodes() { find "$1" -type f -size +0 -printf '%i\n' | sort -u | wc -l; }
# same NAME GOT WANT
same() {
	if [ "$2" = "$3" ]; then
		pass "$T: $1 ($2)"
	else
		fail "$T: $1" "got '$2', want '$3'"
	fi
}

# --- a pair of our images ----------------------------------------------------
"$PY" "$IDEAL" "$A" "$B" >"$W/ab.ideal"
if report ab "$W/A.img" "$W/B.img"; then
	same "pair: page cache without sharing" "$(js ab "r['noshare_bytes']")" "$(iv ab NOSHARE_BYTES)"
	same "pair: page cache with sharing" "$(js ab "r['shared_bytes']")" "$(iv ab SHARE_BYTES)"
	same "pair: saving" "$(js ab "r['saving_bytes']")" "$(iv ab SAVING_BYTES)"
	same "pair: total bytes" "$(js ab "r['total_bytes']")" "$(($(iv ab TREE0_BYTES) + $(iv ab TREE1_BYTES)))"
	same "pair: distinct shared contents" "$(js ab "r['shared_contents']")" "$(iv ab SHARED_CONTENTS)"
	same "pair: files (inodes)" "$(js ab "r['images'][0]['files'], r['images'][1]['files']")" \
		"($(iv ab TREE0_FILES), $(iv ab TREE1_FILES))"
	same "pair: hard links counted as names" "$(js ab "r['images'][0]['links'] - r['images'][0]['files']")" 1
	same "pair: nothing lost" "$(js ab "r['lost']['nofp_files'] + r['lost']['notready_files'] + r['lost']['size_conflict_files'] + r['lost']['class_conflict_files']")" 0
	same "pair: a rebuild gains nothing" "$(js ab "r['rebuild']['shared_bytes'] == r['shared_bytes']")" True
	same "pair: top sorted by saving, paths in both images" \
		"$(js ab "[t['saving_bytes'] for t in r['top']] == sorted([t['saving_bytes'] for t in r['top']], reverse=True) and all(p for t in r['top'][:3] for p in t['paths'])")" True
	same "pair: the largest saving is the 6 MiB sparse file" \
		"$(js ab "r['top'][0]['paths']")" "['/sparse/holes', '/sparse/dense']"
else
	fail "$T: pair report" "$(cat "$W/ab.err")"
fi
out=$("$DUMP" --share-report "$W/A.img" "$W/B.img" 2>&1)
if grep -q 'inode_share' <<<"$out" && grep -q 'domain_id' <<<"$out"; then
	pass "$T: text report says mounts need inode_share and one domain_id"
else
	fail "$T: text report mentions inode_share,domain_id" "$(head -n3 <<<"$out")"
fi

# --- three images, one of them by erofs-utils with its hidden name ------------
EU_BIN=$("$TOP_SRCDIR/tests/oracle/erofs-utils-new.sh" 2>"$W/eu.err") || EU_BIN=
if [ -n "$EU_BIN" ] &&
	"$EU_BIN/mkfs.erofs" --quiet --xattr-inode-digest "$W/B-eu.img" "$B" >/dev/null 2>&1; then
	"$PY" "$IDEAL" "$A" "$B" "$B" >"$W/abb.ideal"
	if report abb "$W/A.img" "$W/B.img" "$W/B-eu.img"; then
		same "three (one by erofs-utils): with sharing" "$(js abb "r['shared_bytes']")" "$(iv abb SHARE_BYTES)"
		same "three: without sharing" "$(js abb "r['noshare_bytes']")" "$(iv abb NOSHARE_BYTES)"
		same "three: erofs-utils' fingerprint name read" "$(js abb "r['images'][2]['fingerprint_xattr']")" erofs.fingerprint.v1
	else
		fail "$T: three images" "$(cat "$W/abb.err")"
	fi
else
	skip "$T: erofs-utils image" "no erofs-utils 1.9: $(tail -n1 "$W/eu.err")"
	"$PY" "$IDEAL" "$A" "$B" "$A" >"$W/aba.ideal"
	if report aba "$W/A.img" "$W/B.img" "$W/A-hidden.img"; then
		same "three: with sharing" "$(js aba "r['shared_bytes']")" "$(iv aba SHARE_BYTES)"
	else
		fail "$T: three images" "$(cat "$W/aba.err")"
	fi
fi

# --- an image with itself, and names that differ ------------------------------
"$PY" "$IDEAL" "$A" "$A" >"$W/aa.ideal"
if report aa "$W/A.img" "$W/A.img"; then
	same "self: with sharing holds each content once" "$(js aa "r['shared_bytes']")" "$(iv aa SHARE_BYTES)"
	same "self: without sharing twice the pages" "$(js aa "r['noshare_bytes']")" "$(iv aa NOSHARE_BYTES)"
fi
if report ah "$W/A.img" "$W/A-hidden.img"; then
	same "trusted.erofs.fingerprint and erofs.fingerprint.v1 share (values match)" \
		"$(js ah "r['shared_bytes']")" "$(iv aa SHARE_BYTES)"
fi

# --- an image without fingerprints ---------------------------------------------
"$PY" "$IDEAL" "$A" >"$W/a.ideal"
if report plain "$W/A.img" "$W/B-plain.img"; then
	same "not share-ready: only duplicates within A share" \
		"$(js plain "r['saving_bytes']")" "$(iv a SAVING_BYTES)"
	same "not share-ready: flagged" "$(js plain "r['images'][1]['share_ready']")" False
	same "not share-ready: its non-empty files counted as lost" \
		"$(js plain "r['lost']['notready_files']")" \
		"$(find "$B" -type f -size +0 | wc -l)"
	# the estimate pairs files by path and size: B's /onebyte counts as
	# shared with A's (wrongly), /y/beta as not (it moved)
	want=$("$PY" - "$A" "$B" <<'EOF'
import hashlib, os, sys
def files(t):
	out, seen = {}, set()
	for root, _, names in os.walk(t):
		for n in names:
			p = os.path.join(root, n)
			st = os.lstat(p)
			if st.st_size and (st.st_dev, st.st_ino) not in seen:
				seen.add((st.st_dev, st.st_ino))
				out['/' + os.path.relpath(p, t)] = st.st_size
	return out
a, b = files(sys.argv[1]), files(sys.argv[2])
sha = lambda p: hashlib.sha256(open(p, 'rb').read()).digest()
keys = {}
for p, n in a.items():
	keys.setdefault(sha(sys.argv[1] + p), n)
for p, n in b.items():
	if a.get(p) != n:
		keys[('b', p)] = n
print(sum(-(-n // 4096) * 4096 for n in keys.values()))
EOF
	)
	same "rebuild estimate pairs files by path and size" \
		"$(js plain "r['rebuild']['shared_bytes'], r['rebuild']['estimated']")" \
		"($want, True)"
fi
if "$DUMP" --share-report --json --verify "$W/A.img" "$W/B-plain.img" \
	>"$W/plainv.json" 2>"$W/plainv.err"; then
	same "rebuild estimate with --verify is exact" \
		"$(js plainv "r['rebuild']['shared_bytes'], r['rebuild']['estimated']")" \
		"($(iv ab SHARE_BYTES), False)"
	same "--verify: every fingerprint of A checked" \
		"$(js plainv "r['verify']['verified'], r['verify']['mismatched']")" \
		"($(ninodes "$A"), 0)"
else
	fail "$T: --verify report" "$(cat "$W/plainv.err")"
fi

# --- layout classes: uncompressed against compressed ---------------------------
# Which files got compressed is read from D-z with erofs-utils' dump.erofs,
# not with our reader.
if ! "$MKFS" --quiet -zlz4hc "$W/probe.img" "$TOP_SRCDIR/sample" >/dev/null 2>&1; then
	skip "$T: layout classes" "compression not built"
elif [ -z "$EU_BIN" ]; then
	skip "$T: layout classes" "no erofs-utils 1.9 to tell the classes"
else
	C=$W/C
	D=$W/D
	GEN_TEXT=1 gen_pair "$C" "$D"
	if mk C "$C" --ishare && mk D-z "$D" -zlz4hc --ishare &&
		report cdz "$W/C.img" "$W/D-z.img"; then
		(cd "$D" && find . -type f -size +0 | sed 's|^\./||') | while read -r f; do
			case $("$EU_BIN/dump.erofs" --path="/$f" "$W/D-z.img" 2>/dev/null |
				sed -n 's/.*Layout: \([0-9]*\).*/\1/p') in
			1 | 3) printf '%s\tcompressed\n' "$f" ;;
			esac
		done >"$W/D-z.classes"
		"$PY" "$IDEAL" --classes "1:$W/D-z.classes" "$C" "$D" >"$W/cdz.ideal"
		nz=$(wc -l <"$W/D-z.classes")
		same "classes: with sharing, only files stored alike share ($nz compressed)" \
			"$(js cdz "r['shared_bytes']")" "$(iv cdz SHARE_BYTES)"
		same "classes: conflicts reported as layout class" \
			"$(js cdz "r['lost']['class_conflict_files'] > 0 and r['lost']['size_conflict_files'] == 0 and r['lost']['conflicts'][0]['reason']")" \
			"layout class"
		# a rebuild with one class shares what identical contents allow
		"$PY" "$IDEAL" "$C" "$D" >"$W/cd.ideal"
		same "classes: rebuild estimate = identical contents" \
			"$(js cdz "r['rebuild']['shared_bytes']")" "$(iv cd SHARE_BYTES)"
	else
		fail "$T: classes report" "$(cat "$W/cdz.err" 2>/dev/null)"
	fi
fi

# --- a forged fingerprint: same value, other size -------------------------------
# B's /prefix gets the fingerprint of A's /prefix (300000 bytes; B's has
# 305000): the kernel warns about the size and keeps it private.
"$PY" "$TOP_SRCDIR/tests/fsck_util.py" forge-fingerprint "$W/B.img" "$W/B-forged.img" "$A/prefix" "$B/prefix"
if report forged "$W/A.img" "$W/B-forged.img"; then
	same "forged: one size conflict of the 305000-byte file" \
		"$(js forged "r['lost']['size_conflict_files'], r['lost']['size_conflict_bytes'], r['lost']['conflicts'][0]['path'], r['lost']['conflicts'][0]['size'], r['lost']['conflicts'][0]['copy_size']")" \
		"(1, $(((305000 + 4095) / 4096 * 4096)), '/prefix', 305000, 300000)"
	same "forged: sharing figures unchanged" "$(js forged "r['shared_bytes']")" "$(iv ab SHARE_BYTES)"
fi
"$DUMP" --share-report --verify "$W/A.img" "$W/B-forged.img" >"$W/forged.txt" 2>"$W/forged.err"
rc=$?
if [ $rc -ne 0 ] && grep -q '1 fingerprints do not match' "$W/forged.err" &&
	grep -q '/prefix: content does not match its fingerprint' "$W/forged.err" &&
	grep -q 'Verified:.*1 do not' "$W/forged.txt"; then
	pass "$T: --verify fails on the forged fingerprint, naming the file"
else
	fail "$T: --verify on the forged fingerprint" "rc=$rc: $(tr '\n' ' ' <"$W/forged.err" | head -c 300)"
fi

# --- other page sizes -------------------------------------------------------------
"$PY" "$IDEAL" --page-size 16384 "$A" "$B" >"$W/ab16.ideal"
if "$DUMP" --share-report --json --page-size=16384 "$W/A.img" "$W/B.img" \
	>"$W/ab16.json" 2>"$W/ab16.err"; then
	same "16 KiB pages" "$(js ab16 "r['noshare_bytes'], r['shared_bytes']")" \
		"($(iv ab16 NOSHARE_BYTES), $(iv ab16 SHARE_BYTES))"
fi

# --- hostile names ----------------------------------------------------------------
# a shared file whose name has a quote, a backslash, a newline, an escape
# and a byte that is not UTF-8: the JSON stays valid, the text escaped
for e in E1 E2; do
	mkdir -p "$W/$e"
	printf 'same content\n' >"$W/$e/$(printf 'q"b\\n\nl\033[31m\377x')"
done
if mk E1 "$W/E1" --ishare && mk E2 "$W/E2" --ishare &&
	report names "$W/E1.img" "$W/E2.img"; then
	same "hostile names: JSON parses, the path comes back (the stray byte as U+00FF)" \
		"$(js names "r['top'][0]['paths'][0] == '/q' + chr(34) + 'b' + chr(92) + 'n' + chr(10) + 'l' + chr(27) + '[31m' + chr(255) + 'x'")" True
	"$DUMP" --share-report "$W/E1.img" "$W/E2.img" >"$W/names.txt" 2>&1
	if grep -q $'\033' "$W/names.txt"; then
		fail "$T: hostile names: text output escapes control bytes" "ESC byte printed"
	else
		pass "$T: hostile names: text output escapes control bytes"
	fi
fi

# --- usage ----------------------------------------------------------------------
"$DUMP" --share-report "$W/A.img" >/dev/null 2>&1
same "one image is refused" $? 1
"$DUMP" --json "$W/A.img" >/dev/null 2>&1
same "--json without --share-report is refused" $? 1
"$DUMP" --share-report --page-size=1000 "$W/A.img" "$W/B.img" >/dev/null 2>&1
same "a page size that is not a power of two is refused" $? 1
"$DUMP" --share-report "$W/A.img" "$W/nonexistent.img" >/dev/null 2>"$W/ne.err"
rc=$?
if [ $rc -ne 0 ] && grep -q nonexistent "$W/ne.err"; then
	pass "$T: a missing image fails naming it"
else
	fail "$T: a missing image fails naming it" "rc=$rc $(cat "$W/ne.err")"
fi
same "--top=2 lists two" "$("$DUMP" --share-report --json --top=2 "$W/A.img" "$W/B.img" |
	"$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["top"]))')" 2
exit 0
