#!/bin/bash
# t-share-fleet.sh: fingerprint manifests (dump.erofs --fingerprints) and
# reports from them. A mixed set (images with and without fingerprints,
# compressed and not, erofs-utils' hidden fingerprint name, multi-device
# images with and without fingerprints) gives the same report, byte for
# byte, from its images and from its manifests: plain, with --verify, at
# another page size, images and manifests mixed, from standard input. The
# manifests' lines are checked against the source trees (file inodes,
# sizes, pages, SHA-256 of the content computed by Python), damaged
# manifests are refused naming the line, every cell of --matrix is the
# pair's own report, and --nodes/--node-memory match the best grouping
# found by trying every partition (tests/share_groups.py, which reads the
# manifests on its own).
. "$(dirname "$0")/lib.sh"

T=share-fleet
W=$TEST_TMP
for tool in python3 truncate; do
	if ! command -v $tool >/dev/null; then
		skip "$T" "missing $tool"
		exit 0
	fi
done
PY=$(python3 -c 'import sys; print(sys.executable)')
. "$TOP_SRCDIR/bench/share-trees.sh"

# same NAME GOT WANT
same() {
	if [ "$2" = "$3" ]; then
		pass "$T: $1 ($2)"
	else
		fail "$T: $1" "got '$2', want '$3'"
	fi
}
mk() { # IMAGE TREE OPTIONS...
	local img=$1 tree=$2
	shift 2
	"$MKFS" --quiet "$@" "$W/$img.img" "$tree" >"$W/$img.log" 2>&1 ||
		{ fail "$T: mkfs $* $img" "$(tail -n1 "$W/$img.log")"; return 1; }
}

A=$W/A
B=$W/B
GEN_TEXT=1 gen_pair "$A" "$B"
# IMAGES: name, tree, device file or "-"
IMAGES=()
add() { IMAGES+=("$1 $2 ${3:--}"); }
mk A "$A" --ishare && add A "$A"
mk B "$B" --ishare && add B "$B"
mk B-plain "$B" && add B-plain "$B"
if mk B-z "$B" -zlz4hc --ishare 2>/dev/null; then
	add B-z "$B"
else
	skip "$T: a compressed image" "compression not built"
fi
mk A-blob "$A" --ishare --chunksize=4096 --blobdev="$W/A.blob" &&
	add A-blob "$A" "$W/A.blob"
mk B-blob "$B" --chunksize=4096 --blobdev="$W/B.blob" &&
	add B-blob "$B" "$W/B.blob"
EU_BIN=$("$TOP_SRCDIR/tests/oracle/erofs-utils-new.sh" 2>"$W/eu.err") || EU_BIN=
if [ -n "$EU_BIN" ] &&
	"$EU_BIN/mkfs.erofs" --quiet --xattr-inode-digest "$W/A-eu.img" "$A" >/dev/null 2>&1; then
	add A-eu "$A"
else
	skip "$T: an image by erofs-utils" "no erofs-utils 1.9: $(tail -n1 "$W/eu.err")"
fi

# the arguments naming every image (with its device) and every manifest
IMG_ARGS=()
MAN_ARGS=()
MIX_ARGS=()
mkdir -p "$W/m"
n=0
for e in "${IMAGES[@]}"; do
	read -r name tree dev <<<"$e"
	dargs=()
	[ "$dev" != - ] && dargs=(--device="$dev")
	man=$W/m/$n-$name.jsonl
	IMG_ARGS+=("$W/$name.img" "${dargs[@]}")
	MAN_ARGS+=("$man")
	if ((n % 2)); then
		MIX_ARGS+=("$man")
	else
		MIX_ARGS+=("$W/$name.img" "${dargs[@]}")
	fi
	if ! "$DUMP" --fingerprints "$W/$name.img" "${dargs[@]}" >"$man" 2>"$W/$name.fperr"; then
		fail "$T: --fingerprints $name" "$(cat "$W/$name.fperr")"
	fi
	"$DUMP" --fingerprints --verify "$W/$name.img" "${dargs[@]}" \
		>"$W/m/v$n-$name.jsonl" 2>/dev/null ||
		fail "$T: --fingerprints --verify $name" "exit status $?"
	n=$((n + 1))
done
VMAN_ARGS=("$W"/m/v*.jsonl)

# --- the same report from images and from manifests --------------------------
# alike NAME ARGS_A... -- ARGS_B...: both reports byte for byte
alike() {
	local name=$1 a=() b=()
	shift
	while [ "$1" != -- ]; do a+=("$1"); shift; done
	shift
	b=("$@")
	if "$DUMP" "${a[@]}" >"$W/a.out" 2>"$W/a.err" &&
		"$DUMP" "${b[@]}" >"$W/b.out" 2>"$W/b.err"; then
		if cmp -s "$W/a.out" "$W/b.out"; then
			pass "$T: $name"
		else
			fail "$T: $name" "$(diff "$W/a.out" "$W/b.out" | head -n 6 | tr '\n' ' ')"
		fi
	else
		fail "$T: $name" "$(cat "$W/a.err" "$W/b.err" | head -n 3 | tr '\n' ' ')"
	fi
}
R=(--share-report --json --top=50)
alike "JSON report of ${#IMAGES[@]} images = of their manifests" \
	"${R[@]}" "${IMG_ARGS[@]}" -- "${R[@]}" "${MAN_ARGS[@]}"
alike "text report of the images = of their manifests" \
	--share-report "${IMG_ARGS[@]}" -- --share-report "${MAN_ARGS[@]}"
alike "--verify: images = manifests made with --verify" \
	"${R[@]}" --verify "${IMG_ARGS[@]}" -- "${R[@]}" --verify "${VMAN_ARGS[@]}"
alike "--page-size=16384: images = manifests of 4 KiB pages" \
	"${R[@]}" --page-size=16384 "${IMG_ARGS[@]}" -- \
	"${R[@]}" --page-size=16384 "${MAN_ARGS[@]}"
alike "images and manifests mixed = images" \
	"${R[@]}" "${IMG_ARGS[@]}" -- "${R[@]}" "${MIX_ARGS[@]}"
cat "${MAN_ARGS[@]}" >"$W/all.jsonl"
alike "one manifest of all images = one each" \
	"${R[@]}" "${MAN_ARGS[@]}" -- "${R[@]}" "$W/all.jsonl"
if "$DUMP" --fingerprints "${IMG_ARGS[@]}" >"$W/run.jsonl" 2>/dev/null; then
	alike "one --fingerprints run over all images = one each" \
		"${R[@]}" "${MAN_ARGS[@]}" -- "${R[@]}" "$W/run.jsonl"
else
	fail "$T: one --fingerprints run over all images" "exit status $?"
fi
if "$DUMP" "${R[@]}" - "${MAN_ARGS[@]:1}" <"${MAN_ARGS[0]}" >"$W/stdin.out" 2>&1 &&
	"$DUMP" "${R[@]}" "${MAN_ARGS[@]}" >"$W/files.out" 2>&1 &&
	cmp -s "$W/stdin.out" "$W/files.out"; then
	pass "$T: a manifest on standard input (-)"
else
	fail "$T: a manifest on standard input (-)" "$(head -c 300 "$W/stdin.out")"
fi
# the figures themselves are judged against the trees by t-share-report.sh;
# here they must at least see the sharing and the losses of this set
js() { "$PY" -c 'import json, sys; r = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
"$DUMP" "${R[@]}" "${MAN_ARGS[@]}" >"$W/fleet.json" 2>/dev/null
same "the set shares, loses files to the plain image and to the layout class" \
	"$(js "$W/fleet.json" "r['saving_bytes'] > 0 and r['lost']['notready_files'] > 0 and (r['lost']['class_conflict_files'] > 0) == ('B-z' in ' '.join(i['name'] for i in r['images']))")" True

# --- the manifests against the source trees ------------------------------------
for e in "${IMAGES[@]}"; do
	read -r name tree dev <<<"$e"
	man=$(ls "$W"/m/[0-9]*-"$name".jsonl)
	got=$("$PY" - "$man" "$tree" "$name" <<'EOF'
import hashlib, json, os, sys
man, tree, name = sys.argv[1:]
lines = [json.loads(l) for l in open(man, encoding='utf-8')]
kinds = [l['kind'] for l in lines]
files = [l for l in lines if l['kind'] == 'file']
end = lines[-1]
inodes, names = {}, 0
for root, _, fs in os.walk(tree):
    for f in fs:
        p = os.path.join(root, f)
        st = os.lstat(p)
        if os.path.isfile(p) and not os.path.islink(p):
            names += 1
            inodes.setdefault((st.st_dev, st.st_ino), p)
errs = []
if kinds[0] != 'image' or kinds[-1] != 'end' or kinds[1] != 'device':
    errs.append('block order')
if len(files) != len(inodes):
    errs.append('%d file lines for %d inodes' % (len(files), len(inodes)))
if end['files'] != len(files) or end['links'] != names:
    errs.append('end counts %d/%d, want %d/%d' % (end['files'], end['links'], len(files), names))
if [f['seq'] for f in files] != list(range(len(files))):
    errs.append('seq')
for f in files:
    p = os.path.join(tree, f['path'].lstrip('/'))
    data = open(p, 'rb').read()
    if f['size'] != len(data) or f['pages'] != -(-len(data) // 4096):
        errs.append('size/pages of ' + f['path'])
    want = (b'sha256:' + hashlib.sha256(data).digest()).hex()
    if not data:
        continue
    if f['fingerprint'] != want:
        errs.append('fingerprint of %s (%s)' % (f['path'], f['source']))
    ready = lines[0]['share_ready']
    if f['source'] != ('recorded' if ready else 'computed'):
        errs.append('source of ' + f['path'])
    if (f['verified'] is True) != (f['source'] == 'computed'):
        errs.append('verified of ' + f['path'])
z = sum(f['class'] == 'compressed' for f in files)
if (z > 0) != name.endswith('-z'):
    errs.append('%d compressed files' % z)
print('; '.join(errs[:4]) or 'ok')
EOF
	)
	same "manifest of $name: a line per inode, sizes, pages, SHA-256 of the content" "$got" ok
done
# multi-device without its device: nothing can be computed, and it says so
"$DUMP" --fingerprints "$W/B-blob.img" >"$W/nodev.jsonl" 2>"$W/nodev.err"
same "a blob image without --device: no fingerprints computed, a warning names it" \
	"$(grep -c '"kind":"file".*"source":null' "$W/nodev.jsonl") $(grep -c 'B-blob.img.*cannot be read' "$W/nodev.err")" \
	"$(grep -c '"kind":"file"' "$W/nodev.jsonl") 1"
# --verify catches a forged fingerprint and says so in the manifest
"$PY" "$TOP_SRCDIR/tests/fsck_util.py" forge-fingerprint "$W/B.img" "$W/B-forged.img" "$A/prefix" "$B/prefix"
"$DUMP" --fingerprints --verify "$W/B-forged.img" >"$W/forged.jsonl" 2>"$W/forged.err"
rc=$?
same "--fingerprints --verify: exit 1, the forged file verified false with its content's digest" \
	"$rc $(grep '"path":"/prefix"' "$W/forged.jsonl" | "$PY" -c 'import json,sys; l=json.load(sys.stdin); print(l["verified"], len(l["sha256"]))')" \
	"1 False 64"

# --- damaged manifests ---------------------------------------------------------
M0=${MAN_ARGS[0]}
# refused NAME FILE PATTERN: exit 1 with a message matching PATTERN
refused() {
	"$DUMP" --share-report "$2" "$M0" >/dev/null 2>"$W/bad.err"
	local rc=$?
	if [ $rc -eq 1 ] && grep -q -- "$3" "$W/bad.err"; then
		pass "$T: refused: $1"
	else
		fail "$T: refused: $1" "rc=$rc: $(head -c 300 "$W/bad.err")"
	fi
}
head -n -1 "$M0" >"$W/cut.jsonl"
refused "cut short (no end line)" "$W/cut.jsonl" "cut short"
head -c 3000 "$M0" >"$W/cut2.jsonl"
refused "cut inside a line" "$W/cut2.jsonl" "line 1[0-9]*:\|line [0-9]*:"
sed '5s/"pages":[0-9]*/"pages":999999/' "$M0" >"$W/pages.jsonl"
refused "pages that do not match the size" "$W/pages.jsonl" 'line 5: "pages" does not match'
sed '6s/^/x/' "$M0" >"$W/garbage.jsonl"
refused "a line that is not JSON" "$W/garbage.jsonl" "line 6: not a JSON object"
sed '5s/"size":/"size":1,"size":/' "$M0" >"$W/twice.jsonl"
refused "a member given twice" "$W/twice.jsonl" 'line 5: member "size" given twice'
sed '5s/"fingerprint":"7368/"fingerprint":"7z68/' "$M0" >"$W/hex.jsonl"
grep -q '7z68' "$W/hex.jsonl" &&
	refused "a fingerprint that is not hexadecimal" "$W/hex.jsonl" 'line 5: "fingerprint" is not'
sed '1s/"manifest":1/"manifest":2/' "$M0" >"$W/v2.jsonl"
refused "another manifest version" "$W/v2.jsonl" "manifest version 2"
{ head -n 4 "$M0"; sed -n 5p "${MAN_ARGS[1]}"; tail -n +5 "$M0"; } >"$W/mixed.jsonl"
refused "a line of another image inside an image" "$W/mixed.jsonl" "line 5: a line of image"
: >"$W/empty.jsonl"
refused "an empty file" "$W/empty.jsonl" "empty.jsonl"
printf '{}\n' >"$W/nokind.jsonl"
refused "an object that is no manifest line" "$W/nokind.jsonl" 'no "kind" member'
"$DUMP" --share-report "$M0" --device="$W/A.blob" "$M0" >/dev/null 2>"$W/dev.err"
same "--device after a manifest is refused" "$? $(grep -c 'is a manifest' "$W/dev.err")" "1 1"
"$DUMP" --fingerprints --json "$W/A.img" >/dev/null 2>&1
same "--fingerprints with --json is refused" $? 1
"$DUMP" --share-report "$M0" >/dev/null 2>"$W/one.err"
same "a manifest of one image alone is refused" "$? $(grep -c 'two images or more' "$W/one.err")" "1 1"

# --- the matrix: every cell is the pair's own report -----------------------------
if "$DUMP" --share-report --matrix --json "${MAN_ARGS[@]}" >"$W/matrix.json" 2>"$W/matrix.err"; then
	bad=0 cells=0
	for ((i = 0; i < ${#MAN_ARGS[@]}; i++)); do
		for ((j = i + 1; j < ${#MAN_ARGS[@]}; j++)); do
			want=$("$DUMP" --share-report --json "${MAN_ARGS[i]}" "${MAN_ARGS[j]}" |
				"$PY" -c 'import json,sys; print(json.load(sys.stdin)["saving_bytes"])')
			got=$(js "$W/matrix.json" "r['matrix']['saving_bytes'][$i][$j], r['matrix']['saving_bytes'][$j][$i]")
			cells=$((cells + 1))
			[ "$got" = "($want, $want)" ] || { bad=$((bad + 1)); echo "# cell $i $j: $got, want $want"; }
		done
	done
	same "--matrix: cells that are not the pair's report (of $cells)" "$bad" 0
	"$DUMP" --share-report --matrix "${MAN_ARGS[@]}" >"$W/matrix.txt"
	same "--matrix table: a row per image" \
		"$(grep -c '^\[[0-9]*\] *-\|^\[[0-9]*\] ' "$W/matrix.txt" | head -n1)" \
		"$(( ${#MAN_ARGS[@]} * 3 ))"
else
	fail "$T: --matrix" "$(cat "$W/matrix.err")"
fi

# --- grouping against every partition ----------------------------------------
# group NAME OPTION: the report's grouping is the best (share_groups.py)
group() {
	local name=$1 opt=$2 kv
	if ! "$DUMP" --share-report --json "$opt" "${MAN_ARGS[@]}" >"$W/g.json" 2>"$W/g.err"; then
		fail "$T: $name" "$(cat "$W/g.err")"
		return
	fi
	kv=$("$PY" "$TOP_SRCDIR/tests/share_groups.py" "${opt%%=*}" "${opt#*=}" \
		--report "$W/g.json" "${MAN_ARGS[@]}") || {
		fail "$T: $name" "share_groups.py failed"
		return
	}
	same "$name: the best of every partition, and so counted apart (bytes nodes; fits, bytes)" \
		"$(js "$W/g.json" "r['grouping']['total_bytes'], r['grouping']['nodes_used']") $(sed -n 's/^REPORT_FITS=//p' <<<"$kv") $(sed -n 's/^REPORT_BYTES=//p' <<<"$kv")" \
		"($(sed -n 's/^BEST_BYTES=//p' <<<"$kv"), $(sed -n 's/^BEST_NODES=//p' <<<"$kv")) 1 $(js "$W/g.json" "r['grouping']['total_bytes']")"
	same "$name: the bound is below the best" \
		"$(js "$W/g.json" "r['grouping']['bound_bytes'] <= $(sed -n 's/^BEST_BYTES=//p' <<<"$kv") and r['grouping']['gap_bytes'] == r['grouping']['total_bytes'] - r['grouping']['bound_bytes']")" True
}
for k in 2 3; do
	group "--nodes=$k" --nodes=$k
done
tot=$(js "$W/fleet.json" "r['shared_bytes']")
for f in 2 3; do
	group "--node-memory=total/$f" --node-memory=$((tot / f))
done
exit 0
