#!/usr/bin/env bash
# Metadata compression round trips: -m (inodes in the metabox, with each
# compressor, cluster sizes of a block and more, :ALG by name and by
# index), --zD (directories in the packed inode) and --MZ (the metadata
# zone), alone and with --ishare, -E48bit, tar input and 512-byte blocks.
# Each image of ours mounts with this machine's kernel and reads back
# exactly like its source, erofs-utils 1.9.4's fsck accepts it, and
# erofs-utils' dump (an independent reader) finds the property the option
# asks for; erofs-utils' own image with the same options is read by our
# fsck exactly as the kernel reads it. The option errors are erofs-utils'.
. "$(dirname "$0")/lib.sh"
. "$TOP_SRCDIR/tests/roundtrip_lib.sh"

why=$(kernel_unavailable)
if [ -n "$why" ]; then
	skip metabox "$why"
	exit 0
fi
if [ ! -e /sys/fs/erofs/features/metabox ]; then
	skip metabox "this kernel does not read metabox images (6.17 or later does)"
	exit 0
fi

src=$TEST_TMP/src
gen_tree "gen_tree small" "$src" --seed 23 --small --xattrs \
	--huge-size $((16 << 20)) --build-time "$BT" || exit 0
# a directory of several blocks, and one of a single entry
mkdir -p "$src/many" "$src/one"
for i in $(seq 1 400); do echo "$i" >"$src/many/entry-with-a-long-name-$i"; done
echo 1 >"$src/one/x"
ref=$TEST_TMP/src.json
$COMPARE --save "$ref" "$src" || { fail metabox "cannot scan the source"; exit 0; }
img=$TEST_TMP/o.img
# the tree as GNU tar can carry it (see t-tar-roundtrip.sh): no sockets,
# no hard links but of regular files, no times between -1 and 0 s
tsrc=$TEST_TMP/tsrc tref=$TEST_TMP/tsrc.json tarball=$TEST_TMP/src.tar
cp -a "$src" "$tsrc"
find "$tsrc" -type s -delete
find "$tsrc" ! -type f ! -type d -links +1 -print0 |
	while IFS= read -r -d '' f; do
		cp -a "$f" "$f.unlink" && mv -f "$f.unlink" "$f"
	done
[ -e "$tsrc/times/minus-half-s" ] && touch -h -d @-1.5 "$tsrc/times/minus-half-s"
$COMPARE --save "$tref" "$tsrc" &&
	tar --format=pax --xattrs --xattrs-include='*' --acls --sparse \
		--numeric-owner -C "$tsrc" -cf "$tarball" . ||
	{ fail metabox "cannot pack the tree for tar input"; exit 0; }
FP="--fingerprint trusted.erofs.fingerprint"

# eu_dump ARGS...: erofs-utils' dump of $img, for the property checks
eu_dump() {
	"$EU_BIN/dump.erofs" "$@" "$img" 2>&1
}

# property NAME CHECK: CHECK (a function) prints nothing when it holds
property() {
	local name=$1 out
	eu_new || { skip "$name" "$EU_WHY"; return; }
	out=$($2 2>&1)
	if [ -z "$out" ]; then pass "$name"; else fail "$name" "$out"; fi
}

in_metabox() {
	local sb nid
	sb=$(eu_dump -s)
	echo "$sb" | grep -q 'incompatible features:.*metabox' ||
		echo "no metabox feature"
	nid=$(eu_dump --path=/many/entry-with-a-long-name-7 |
		awk '/^NID:/ { print $2 }')
	python3 -c '
import sys
sb, nid = sys.argv[1], sys.argv[2]
root = [l.split(":")[1].strip() for l in sb.splitlines() if "root nid" in l]
if "metabox nid" not in sb:
    print("no metabox nid in the superblock")
if not root or int(root[0]) < 1 << 63:
    print("the root nid %s is not in the metabox" % root)
if not nid or int(nid) < 1 << 63:
    print("a file nid %r is not in the metabox" % nid)' "$sb" "$nid"
}

dirs_compressed() {
	local d out
	for d in /many /one /; do
		out=$(eu_dump --path="$d")
		echo "$out" | grep -q 'Layout: 1 ' ||
			echo "$d: not compressed: $(echo "$out" | grep -m1 Layout)"
	done
	eu_dump -s | grep -q 'packed nid' || echo "no packed inode"
}

# every directory block lies in one run that ends where the records start
dirs_in_zone() {
	python3 - "$EU_BIN/dump.erofs" "$img" "$src" <<-'EOF'
	import os, re, subprocess, sys
	dump, img, src = sys.argv[1:4]
	def run(*args):
	    out = subprocess.run([dump] + list(args) + [img], capture_output=True)
	    return out.stdout.decode('utf-8', 'replace')
	sb = run('-s')
	meta = int(re.search(r'inode metadata start block:\s+(\d+)', sb).group(1))
	bsz = int(re.search(r'blocksize:\s+(\d+)', sb).group(1))
	zone = (meta + 1) * bsz
	runs = []
	for top, dirs, _ in os.walk(src):
	    rel = '/' + os.path.relpath(top, src) if top != src else '/'
	    for m in re.finditer(r'^\s*\d+:.*:\s*(\d+)\.\.\s*(\d+)\s*\|',
	                         run('-e', '--path=' + rel), re.M):
	        a, b = int(m.group(1)), int(m.group(2))
	        if b <= zone:  # not an inline tail among the records
	            runs.append((a, b))
	runs.sort()
	if not runs:
	    print('no directory blocks at all')
	    sys.exit()
	end = runs[0][0]
	for a, b in runs:
	    if a != end:
	        print('directory blocks are not contiguous: %d..%d after %d' %
	              (a, b, end))
	        break
	    end = b
	# the shared xattr area may lie between, metadata too
	xattrs = int(re.search(r'shared xattr metadata start block:\s+(\d+)',
	                       sb).group(1)) * bsz
	if end != zone and not (xattrs and end == xattrs):
	    print('directory blocks end at %d, the records (or shared xattrs) '
	          'start at %d' % (end, xattrs or zone))
	EOF
}

# ours_reads_eu NAME "EU MKFS OPTIONS" [tar]: erofs-utils builds the
# source; our fsck extracts it exactly as the kernel shows it, and our
# dump reads every inode of it
ours_reads_eu() {
	local name=$1 opts=$2 eimg=$TEST_TMP/eu.img m=$TEST_TMP/eumnt
	local x=$TEST_TMP/ourx out
	eu_new || { skip "$name" "$EU_WHY"; return 0; }
	rm -f "$eimg"
	# shellcheck disable=SC2086
	if [ "${3:-}" = tar ]; then
		"$EU_BIN/mkfs.erofs" --quiet $opts --tar=f "$eimg" "$tarball"
	else
		"$EU_BIN/mkfs.erofs" --quiet $opts "$eimg" "$src"
	fi >"$TEST_TMP/eumkfs.out" 2>&1 || {
		fail "$name" "erofs-utils mkfs.erofs $opts: $(head -n 1 "$TEST_TMP/eumkfs.out")"
		return
	}
	if ! "$DUMP" -s -S "$eimg" >/dev/null 2>"$TEST_TMP/dump.err"; then
		fail "$name" "our dump -s -S: $(head -n 1 "$TEST_TMP/dump.err")"
		return
	fi
	rm -rf "$x"
	if ! "$FSCK" --extract="$x" --xattrs "$eimg" >"$TEST_TMP/ourfsck.out" 2>&1; then
		fail "$name" "our fsck --extract: $(grep -m1 . "$TEST_TMP/ourfsck.out")"
		return
	fi
	kmount "$eimg" "$m" || { fail "$name" "mount of erofs-utils' image failed"; return; }
	if out=$($COMPARE "$m" "$x" 2>&1); then
		pass "$name"
	else
		fail "$name" "$(echo "$out" | head -n 1)"
	fi
	umount "$m"
	rm -rf "$x"
}

# case NAME "OUR OPTIONS" "EU OPTIONS" [CHECK] [tar]: ours through the
# kernel, both fscks and the property check; then erofs-utils' image
# read by ours ("-" for EU OPTIONS: erofs-utils cannot build it). CMP:
# options of the comparison with the source.
CMP=
case_() {
	local name=$1 opts=$2 euopts=$3 check=${4:-} input=${5:-dir}
	rm -f "$img"
	if [ "$input" = tar ]; then
		# shellcheck disable=SC2086
		run_mkfs "$name" $opts --tar=f "$img" "$tarball" || return
		# shellcheck disable=SC2086
		rt_mount_compare "$name: kernel reads it back" "$img" "$tref" $CMP
	else
		# shellcheck disable=SC2086
		run_mkfs "$name" $opts "$img" "$src" || return
		# shellcheck disable=SC2086
		rt_mount_compare "$name: kernel reads it back" "$img" "$ref" $CMP
	fi
	eu_fsck "$name: erofs-utils fsck accepts it" "$img" --extract
	if "$FSCK" "$img" >"$TEST_TMP/fsck.out" 2>&1; then
		pass "$name: our fsck accepts it"
	else
		fail "$name: our fsck accepts it" "$(grep -m1 . "$TEST_TMP/fsck.out")"
	fi
	[ -n "$check" ] && property "$name: the image has the property" "$check"
	[ "$euopts" = - ] ||
		ours_reads_eu "$name: our fsck reads erofs-utils' image as the kernel does" \
			"$euopts" "$([ "$input" = tar ] && echo tar)"
}

T="-T $BT --mkfs-time"
case_ "-m4096 without -z" "$T -m4096" "$T -m4096" in_metabox
case_ "-m4096 -zlz4" "$T -m4096 -zlz4" "$T -m4096 -zlz4" in_metabox
case_ "-m4096 -zlz4hc with ztailpacking" "$T -m4096 -zlz4hc -Eztailpacking" \
	"$T -m4096 -zlz4hc -Eztailpacking" in_metabox
case_ "-m8192:lzma -zlz4" "$T -m8192:lzma -zlz4" \
	"$T -zlz4 -m8192:lzma -C8192" in_metabox
case_ "-m16384:zstd -zdeflate" "$T -m16384:zstd -zdeflate -C16384" \
	"$T -zdeflate -m16384:zstd -C16384" in_metabox
case_ "-m65536 -zzstd (clusters larger than -C)" "$T -m65536 -zzstd" \
	"$T -m65536 -zzstd -C65536" in_metabox
case_ "-m4096:1 -zlz4:lzma (the metabox's algorithm by index)" \
	"$T -m4096:1 -zlz4:lzma" "$T -m4096:1 -zlz4:lzma" in_metabox
case_ "-m4096 with fragments and dedupe" "$T -m4096 -zlz4 -Efragments,dedupe" \
	"$T -m4096 -zlz4 -Efragments,dedupe" in_metabox
CMP=$FP case_ "-m4096 --ishare (prefixes in the metabox)" \
	"$T -m4096 -zlz4 --ishare" "$T -m4096 -zlz4 --xattr-inode-digest" in_metabox
CMP=$FP case_ "-m4096 --ishare -Eplain-xattr-prefixes" \
	"$T -m4096 --ishare -Eplain-xattr-prefixes" \
	"$T -m4096 --xattr-inode-digest -Eplain-xattr-prefixes" in_metabox
case_ "-m4096 -E48bit --chunksize=8192" "$T -m4096 -E48bit --chunksize=8192" \
	"$T -m4096 -E48bit --chunksize=8192" in_metabox
case_ "-m4096 -Edot-omitted" "$T -m4096 -zlz4 -Edot-omitted" \
	"$T -m4096 -zlz4 -Edot-omitted" in_metabox
case_ "-m4096 -b512" "$T -m4096 -b512 -zlz4" "$T -m4096 -b512 -zlz4 -C4096" \
	in_metabox
case_ "-m512 -b512 without -z" "$T -m512 -b512" "$T -m512 -b512" in_metabox
case_ "--zD=1 -zlz4" "$T --zD=1 -zlz4" "$T --zD -zlz4" dirs_compressed
case_ "--zD without -z" "$T --zD" "$T --zD" dirs_compressed
CMP=$FP case_ "--zD -zlzma -Efragments --ishare" \
	"$T --zD -zlzma -Efragments --ishare" \
	"$T --zD -zlzma -Efragments --xattr-inode-digest" dirs_compressed
case_ "-m4096 --zD -zlz4" "$T -m4096 --zD -zlz4" "$T -m4096 --zD -zlz4" \
	dirs_compressed
case_ "--MZ=i" "$T --MZ=i" "$T --MZ=i"
case_ "--MZ=d" "$T --MZ=id" "$T --MZ=id" dirs_in_zone
case_ "--MZ" "$T --MZ" "$T --MZ" dirs_in_zone
case_ "--MZ --zD -zlz4" "$T --MZ --zD -zlz4" "$T --MZ --zD -zlz4" \
	dirs_compressed
# erofs-utils 1.9.4 writes -m with --MZ=d images its own fsck rejects
case_ "-m4096 --MZ -zlz4" "$T -m4096 --MZ -zlz4" - in_metabox
case_ "-m4096 --MZ=i -zlz4" "$T -m4096 --MZ=i -zlz4" "$T -m4096 --MZ=i -zlz4" \
	in_metabox
case_ "tar input -m4096 --zD -zlz4" "$T -m4096 --zD -zlz4" \
	"$T -m4096 --zD -zlz4" in_metabox tar
case_ "tar input -m4096 --sort=none -Enoinline_data" \
	"$T -m4096 --sort=none -Enoinline_data" \
	"$T -m4096 --sort=none -Enoinline_data" in_metabox tar

# --- dump's reports and the share report on both tools' images -------------
# readers NAME IMAGE: --cat, --ls, --path, --nid, -e, -S and --share-report
readers() {
	local name=$1 im=$2 f root out why=
	for f in many/entry-with-a-long-name-7 big/five-mb; do
		[ -f "$src/$f" ] || continue
		"$DUMP" --cat --path="/$f" "$im" 2>"$TEST_TMP/r.err" |
			cmp -s - "$src/$f" ||
			why="$why --cat /$f differs ($(head -c 100 "$TEST_TMP/r.err"));"
	done
	out=$("$DUMP" --ls --path=/many "$im" 2>&1) &&
		[ "$(echo "$out" | grep -c entry-with-a-long-name-)" -eq 400 ] ||
		why="$why --ls /many: $(echo "$out" | tail -n 1);"
	root=$("$DUMP" --path=/ "$im" 2>/dev/null | awk '/^NID:/ { print $2 }')
	"$DUMP" --nid="$root" "$im" >/dev/null 2>"$TEST_TMP/r.err" ||
		why="$why --nid=$root: $(head -n 1 "$TEST_TMP/r.err");"
	"$DUMP" -e --path=/many "$im" >/dev/null 2>"$TEST_TMP/r.err" ||
		why="$why -e /many: $(head -n 1 "$TEST_TMP/r.err");"
	out=$("$DUMP" -S "$im" 2>&1) && echo "$out" | grep -q '^Inodes:' ||
		why="$why -S: $(echo "$out" | head -n 1);"
	out=$("$DUMP" --share-report "$im" "$im" 2>&1) &&
		echo "$out" | grep -q 'regular files:' ||
		why="$why --share-report: $(echo "$out" | head -n 1);"
	if [ -z "$why" ]; then pass "$name"; else fail "$name" "$why"; fi
}
# shellcheck disable=SC2086
run_mkfs "readers" $T -m4096 -zlz4hc --zD --ishare "$img" "$src" &&
	readers "dump --cat, --ls, --path, --nid, -e, -S, --share-report read our -m --zD image" "$img"
if eu_new; then
	# shellcheck disable=SC2086
	"$EU_BIN/mkfs.erofs" --quiet $T -m4096 -zlz4hc --zD \
		--xattr-inode-digest "$TEST_TMP/eu.img" "$src" >/dev/null 2>&1 &&
		readers "dump --cat, --ls, --path, --nid, -e, -S, --share-report read erofs-utils' -m --zD image" \
			"$TEST_TMP/eu.img"
else
	skip "dump reads erofs-utils' -m --zD image" "$EU_WHY"
fi

# --- the same bytes for any number of workers ------------------------------
opts="$T -U $FIXED_UUID -m8192:lzma -zlz4hc --zD --MZ -Efragments --ishare"
# shellcheck disable=SC2086
if run_mkfs "-m --zD --MZ reproducible" $opts --workers=1 "$img" "$src"; then
	cp "$img" "$TEST_TMP/ref.img"
	bad=
	for w in 2 4; do
		# shellcheck disable=SC2086
		run_mkfs "-m --zD --MZ reproducible" $opts --workers=$w "$img" \
			"$src" || { bad=build; break; }
		cmp -s "$TEST_TMP/ref.img" "$img" || bad="$bad --workers=$w"
	done
	if [ -z "$bad" ]; then
		pass "-m --zD --MZ: the same bytes for --workers=1, 2 and 4"
	elif [ "$bad" != build ]; then
		fail "-m --zD --MZ: the same bytes for --workers=1, 2 and 4" \
			"differs with$bad"
	fi
	rm -f "$TEST_TMP/ref.img"
fi

# --- option errors, as erofs-utils words them ------------------------------
# bad OPTION MESSAGE: exit 1, erofs-utils' message, no image left
bad() {
	local opt=$1 msg=$2 name="mkfs.erofs $1 is refused: $2"
	rm -f "$img"
	"$MKFS" --quiet "$opt" "$img" "$src" >"$TEST_TMP/bad.out" 2>&1
	local rc=$?
	if [ "$rc" -ne 1 ] || [ -e "$img" ] ||
		! grep -qF -- "$msg" "$TEST_TMP/bad.out"; then
		fail "$name" "exit $rc: $(head -c 300 "$TEST_TMP/bad.out")"
		return
	fi
	eu_new || { pass "$name"; return; }
	"$EU_BIN/mkfs.erofs" "$opt" "$TEST_TMP/eu-bad.img" "$src" \
		>"$TEST_TMP/eubad.out" 2>&1
	rc=$?
	if [ "$rc" -ne 1 ] || ! grep -qF -- "$msg" "$TEST_TMP/eubad.out"; then
		fail "$name" "erofs-utils: exit $rc: $(grep -m1 '<E>' "$TEST_TMP/eubad.out")"
	else
		pass "$name"
	fi
}
bad -m0 "invalid metabox option 0"
bad -mabc "invalid metabox option abc"
bad -m4096x "invalid metabox option 4096x"
bad -m:lzma "invalid metabox option"
bad -m100 "invalid pcluster size 100 for the metabox inode"
bad -m6000 "invalid pcluster size 6000 for the metabox inode"
bad --MZ=x "invalid metazone flags \`x\`"
bad --MZ=d "inode metadata must be in the metadata zone if directory data is stored there"
# ours only: erofs-utils crashes on the first and reads the second as 1
rm -f "$img"
if "$MKFS" --quiet -m4096:5 -zlz4 "$img" "$src" >"$TEST_TMP/bad.out" 2>&1 ||
	[ -e "$img" ] || ! grep -q 'no compression algorithm 5' "$TEST_TMP/bad.out"; then
	fail "-m4096:5 names an algorithm -z does not give" "$(head -c 300 "$TEST_TMP/bad.out")"
else
	pass "-m4096:5 names an algorithm -z does not give"
fi
if "$MKFS" --quiet --zD=2 "$img" "$src" >"$TEST_TMP/bad.out" 2>&1 ||
	[ -e "$img" ] || ! grep -q "invalid --zD value '2'" "$TEST_TMP/bad.out"; then
	fail "--zD=2 is refused" "$(head -c 300 "$TEST_TMP/bad.out")"
else
	pass "--zD=2 is refused"
fi
# --zD=0 and no --zD build the same image
T0="$T -U $FIXED_UUID -zlz4"
# shellcheck disable=SC2086
if run_mkfs "--zD=0" $T0 --zD=0 "$img" "$src" &&
	run_mkfs "--zD=0" $T0 "$TEST_TMP/nozd.img" "$src"; then
	if cmp -s "$img" "$TEST_TMP/nozd.img"; then
		pass "--zD=0 builds what no --zD builds"
	else
		fail "--zD=0 builds what no --zD builds" "the images differ"
	fi
fi
exit 0
