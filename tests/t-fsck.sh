#!/usr/bin/env bash
# fsck.erofs checks and extracts images from our mkfs (every block size,
# with fingerprints) and from erofs-utils (bookworm's 1.5 and the newest
# 1.9.x, several layouts); the extracted tree must equal the source, and
# the kernel's view of the same image when the kernel can mount it.
# Compressed images must be read and extracted exactly, or reported as not
# checked: never clean without having been read.
. "$(dirname "$0")/lib.sh"

UTIL="python3 $TOP_SRCDIR/tests/fsck_util.py"
COMPARE="python3 $TOP_SRCDIR/tests/compare_tree.py"
SRC=$TEST_TMP/src
ROOT=false
[ "$(id -u)" -eq 0 ] && ROOT=true
KERNEL_WHY=$(kernel_unavailable)

if ! $UTIL make-tree "$SRC" >"$TEST_TMP/tree.out" 2>&1; then
	fail "test tree" "$(tail -n 3 "$TEST_TMP/tree.out")"
	exit 1
fi
while IFS= read -r line; do
	skip "fsck tree: ${line#not created: }" "this machine cannot make it"
done < <(grep '^not created: ' "$TEST_TMP/tree.out")

# Inodes with content in the tree: regular files with data, counted once.
NONEMPTY=$(find "$SRC" -type f -size +0 -printf '%i\n' | sort -u | wc -l)

# fsck_ok NAME IMAGE [fsck options]: exit status 0 and "No errors found".
fsck_ok() {
	local name=$1 img=$2 rc
	shift 2
	"$FSCK" "$@" "$img" >"$TEST_TMP/fsck.out" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && grep -q 'No errors found' "$TEST_TMP/fsck.out"; then
		pass "$name"
	else
		fail "$name" "exit $rc: $(grep -v '^ *$' "$TEST_TMP/fsck.out" | head -n 3)"
		return 1
	fi
}

# extract_compare NAME IMAGE REF [compare options]: extract with xattrs,
# compare with REF.
extract_compare() {
	local name=$1 img=$2 ref=$3 out=$TEST_TMP/x rc
	shift 3
	rm -rf "$out"
	"$FSCK" --extract="$out" --xattrs "$img" >"$TEST_TMP/x.out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "$name" "extract exit $rc: $(head -n 3 "$TEST_TMP/x.out")"
		return 1
	fi
	if $COMPARE "$@" "$ref" "$out" >"$TEST_TMP/cmp.out" 2>&1; then
		pass "$name"
	else
		fail "$name" "$(head -n 1 "$TEST_TMP/cmp.out")"
		sed 's/^/    /' "$TEST_TMP/cmp.out" | head -n 20
		return 1
	fi
}

# kernel_compare NAME IMAGE: the extraction equals the kernel's mount.
kernel_compare() {
	local name=$1 img=$2 mnt=$TEST_TMP/mnt
	if [ -n "$KERNEL_WHY" ]; then
		skip "$name" "$KERNEL_WHY"
		return 0
	fi
	if ! kmount "$img" "$mnt" 2>"$TEST_TMP/mount.err"; then
		fail "$name" "mount: $(cat "$TEST_TMP/mount.err")"
		return 1
	fi
	if $COMPARE "$mnt" "$TEST_TMP/x" >"$TEST_TMP/cmp.out" 2>&1; then
		pass "$name"
	else
		fail "$name" "$(head -n 1 "$TEST_TMP/cmp.out")"
		sed 's/^/    /' "$TEST_TMP/cmp.out" | head -n 20
	fi
	kumount "$mnt"
}

# compressed_check NAME IMAGE SRC: a compressed image is either checked
# for real (exit 0, and then the extraction must equal SRC) or reported as
# not checked (exit 8): never clean without having been read.
compressed_check() {
	local name=$1 img=$2 src=$3 rc
	"$FSCK" "$img" >"$TEST_TMP/fsck.out" 2>&1
	rc=$?
	if [ "$rc" -eq 8 ] && grep -q 'not checked' "$TEST_TMP/fsck.out"; then
		pass "$name: reported as not checked"
	elif [ "$rc" -eq 0 ] && grep -q 'No errors found' "$TEST_TMP/fsck.out"; then
		if $ROOT; then
			extract_compare "$name: checked, and extracts to the source" \
				"$img" "$src"
		else
			pass "$name: checked"
		fi
	else
		fail "$name" "exit $rc: $(head -n 2 "$TEST_TMP/fsck.out")"
	fi
}

# Extraction needs root to give files their owners and make devices.
if ! $ROOT; then
	skip "fsck extraction comparisons" "needs root (owners, device nodes)"
fi

# ---- our mkfs ---------------------------------------------------------
for bs in 512 1024 2048 4096; do
	img=$TEST_TMP/ours-$bs.img
	if ! "$MKFS" --quiet -b "$bs" "$img" "$SRC" >"$TEST_TMP/mkfs.out" 2>&1; then
		fail "fsck ours b$bs" "mkfs: $(head -n 2 "$TEST_TMP/mkfs.out")"
		continue
	fi
	fsck_ok "fsck ours b$bs" "$img"
	$ROOT || continue
	extract_compare "extract ours b$bs equals the source" "$img" "$SRC" &&
		kernel_compare "extract ours b$bs equals the kernel's view" "$img"
done

img=$TEST_TMP/ours-fp.img
if "$MKFS" --quiet --ishare "$img" "$SRC" >"$TEST_TMP/mkfs.out" 2>&1; then
	fsck_ok "fsck ours --ishare" "$img"
	if grep -q ", $NONEMPTY fingerprints verified" "$TEST_TMP/fsck.out"; then
		pass "fsck verifies every fingerprint ($NONEMPTY)"
	else
		fail "fsck verifies every fingerprint ($NONEMPTY)" \
			"$(head -n 1 "$TEST_TMP/fsck.out")"
	fi
	fsck_ok "fsck --xattr-inode-digest on ours" "$img" --xattr-inode-digest
	fsck_ok "fsck --xattr-inode-digest=NAME on ours" "$img" \
		--xattr-inode-digest=trusted.erofs.fingerprint
	if $ROOT; then
		# the fingerprint belongs to the image: not restored
		extract_compare "extract ours --ishare equals the source" \
			"$img" "$SRC"
	fi
else
	fail "fsck ours --ishare" "mkfs: $(head -n 2 "$TEST_TMP/mkfs.out")"
fi

# --xattr-inode-digest on an image without fingerprints fails the check
img=$TEST_TMP/ours-4096.img
"$FSCK" --xattr-inode-digest "$img" >"$TEST_TMP/fsck.out" 2>&1
rc=$?
if [ $((rc & 4)) -ne 0 ]; then
	pass "fsck --xattr-inode-digest without fingerprints reports it"
else
	fail "fsck --xattr-inode-digest without fingerprints reports it" "exit $rc"
fi

# subtrees, single files, nids
if $ROOT; then
	rm -rf "$TEST_TMP/x"
	if "$FSCK" --extract="$TEST_TMP/x" --xattrs --path=/dir "$img" \
		>"$TEST_TMP/x.out" 2>&1 &&
		$COMPARE "$SRC/dir" "$TEST_TMP/x" >"$TEST_TMP/cmp.out" 2>&1; then
		pass "extract --path=/dir"
	else
		fail "extract --path=/dir" "$(cat "$TEST_TMP/x.out" "$TEST_TMP/cmp.out" | head -n 2)"
	fi
fi
rm -rf "$TEST_TMP/one"
if "$FSCK" --extract="$TEST_TMP/one" --path=/random.bin "$img" \
	>"$TEST_TMP/x.out" 2>&1 && cmp -s "$SRC/random.bin" "$TEST_TMP/one"; then
	pass "extract a single file"
else
	fail "extract a single file" "$(head -n 2 "$TEST_TMP/x.out")"
fi
nid=$("$DUMP" --path=/dir/sub "$img" 2>/dev/null | awk '/^NID:/ { print $2 }')
if [ -n "$nid" ]; then
	fsck_ok "fsck --nid (subtree)" "$img" --nid="$nid"
else
	fail "fsck --nid (subtree)" "dump.erofs found no nid for /dir/sub"
fi
"$FSCK" --path=/no/such "$img" >"$TEST_TMP/fsck.out" 2>&1
rc=$?
[ "$rc" -eq 8 ] && pass "fsck --path to a missing path" ||
	fail "fsck --path to a missing path" "exit $rc"
{ head -c 12345 /dev/urandom; cat "$img"; } >"$TEST_TMP/embedded.img"
fsck_ok "fsck --offset (an image inside a larger file)" \
	"$TEST_TMP/embedded.img" --offset=12345
"$FSCK" --bogus-option "$img" >/dev/null 2>&1
rc=$?
[ "$rc" -eq 16 ] && pass "fsck usage error exit status" ||
	fail "fsck usage error exit status" "exit $rc"
"$FSCK" --overwrite "$img" >/dev/null 2>&1
rc=$?
[ "$rc" -eq 16 ] && pass "fsck --overwrite needs --extract=DIR" ||
	fail "fsck --overwrite needs --extract=DIR" "exit $rc"
"$FSCK" -p "$img" >"$TEST_TMP/fsck.out" 2>&1
if grep -q 'Compression ratio: 100.00%' "$TEST_TMP/fsck.out"; then
	pass "fsck -p on an uncompressed image"
else
	fail "fsck -p on an uncompressed image" "$(tail -n 1 "$TEST_TMP/fsck.out")"
fi

# ---- the round-trip tree: odd names, times, ids, xattr sizes ----------
# Compared with the kernel's view of the same image, which is what the
# extraction must reproduce.
if [ -f "$TOP_SRCDIR/tests/gen_tree.py" ] && $ROOT; then
	if python3 "$TOP_SRCDIR/tests/gen_tree.py" --small --xattrs \
		--huge-size $((64 << 20)) "$TEST_TMP/gen" >/dev/null 2>&1 &&
		"$MKFS" --quiet -T 1700000000 "$TEST_TMP/gen.img" "$TEST_TMP/gen" \
			>"$TEST_TMP/mkfs.out" 2>&1; then
		fsck_ok "fsck the round-trip tree" "$TEST_TMP/gen.img" &&
			rm -rf "$TEST_TMP/x" &&
			"$FSCK" --extract="$TEST_TMP/x" --xattrs "$TEST_TMP/gen.img" \
				>/dev/null 2>&1 &&
			kernel_compare "extract the round-trip tree equals the kernel's view" \
				"$TEST_TMP/gen.img"
	else
		fail "fsck the round-trip tree" "gen_tree.py or mkfs failed"
	fi
	rm -rf "$TEST_TMP/gen" "$TEST_TMP/gen.img"
fi

# ---- erofs-utils 1.5 (bookworm) ---------------------------------------
if [ -x /usr/bin/mkfs.erofs ]; then
	# 1.5 cannot build paths with a 255-byte name component
	cp -a "$SRC" "$TEST_TMP/src15"
	rm -f "$TEST_TMP/src15/$(printf 'n%.0s' $(seq 255))"
	img=$TEST_TMP/eu15.img
	if /usr/bin/mkfs.erofs --quiet "$img" "$TEST_TMP/src15" \
		>"$TEST_TMP/mkfs.out" 2>&1; then
		fsck_ok "fsck erofs-utils 1.5 image" "$img"
		if $ROOT; then
			extract_compare "extract erofs-utils 1.5 image equals the source" \
				"$img" "$TEST_TMP/src15" &&
				kernel_compare "extract erofs-utils 1.5 image equals the kernel's view" "$img"
		fi
	else
		fail "fsck erofs-utils 1.5 image" "mkfs: $(tail -n 1 "$TEST_TMP/mkfs.out")"
	fi
	img=$TEST_TMP/eu15z.img
	if /usr/bin/mkfs.erofs --quiet -zlz4hc "$img" "$TEST_TMP/src15" \
		>"$TEST_TMP/mkfs.out" 2>&1; then
		compressed_check "fsck erofs-utils 1.5 lz4hc image" "$img" \
			"$TEST_TMP/src15"
	else
		skip "fsck erofs-utils 1.5 lz4hc image" "mkfs.erofs 1.5 -zlz4hc failed"
	fi
else
	skip "fsck erofs-utils 1.5 images" "/usr/bin/mkfs.erofs missing (apt-get install erofs-utils)"
fi

# ---- newest erofs-utils -----------------------------------------------
EU_BIN=$("$TOP_SRCDIR/tests/oracle/erofs-utils-new.sh" 2>"$TEST_TMP/eu.err")
if [ $? -ne 0 ] || [ -z "$EU_BIN" ]; then
	skip "fsck newest erofs-utils images" "$(tail -n 1 "$TEST_TMP/eu.err")"
	exit 0
fi
i=0
while IFS='|' read -r what opts; do
	i=$((i + 1))
	img=$TEST_TMP/eu19-$i.img
	# shellcheck disable=SC2086
	if ! "$EU_BIN/mkfs.erofs" --quiet $opts "$img" "$SRC" \
		>"$TEST_TMP/mkfs.out" 2>&1; then
		fail "fsck erofs-utils 1.9 $what" "mkfs: $(tail -n 1 "$TEST_TMP/mkfs.out")"
		continue
	fi
	fsck_ok "fsck erofs-utils 1.9 $what" "$img" || continue
	$ROOT || continue
	# 48-bit images keep whole seconds for compact inodes: the kernel's
	# view is the reference there
	if [[ $opts == *48bit* ]]; then
		extract_compare "extract erofs-utils 1.9 $what (times aside)" \
			"$img" "$SRC" --ignore-mtime &&
			kernel_compare "extract erofs-utils 1.9 $what equals the kernel's view" "$img"
	else
		extract_compare "extract erofs-utils 1.9 $what equals the source" \
			"$img" "$SRC" &&
			kernel_compare "extract erofs-utils 1.9 $what equals the kernel's view" "$img"
	fi
done <<'EOF'
default|
512-byte blocks|-b 512
48-bit layout|-E48bit
chunks of 4 KiB|--chunksize=4096
chunks of 64 KiB with 48-bit|--chunksize=65536 -E48bit
plain xattr prefixes|-Eplain-xattr-prefixes --xattr-prefix=user.co
all xattrs shared|-x 1
fingerprints|--xattr-inode-digest
EOF

img=$TEST_TMP/eu19-fp.img
"$EU_BIN/mkfs.erofs" --quiet --xattr-inode-digest "$img" "$SRC" >/dev/null 2>&1
if grep -q ", $NONEMPTY fingerprints verified" <("$FSCK" "$img" 2>&1); then
	pass "fsck verifies erofs-utils fingerprints ($NONEMPTY)"
else
	fail "fsck verifies erofs-utils fingerprints ($NONEMPTY)" \
		"$("$FSCK" "$img" 2>&1 | head -n 1)"
fi

img=$TEST_TMP/eu19z.img
if "$EU_BIN/mkfs.erofs" --quiet -zlz4hc,level=9 "$img" "$SRC" \
	>"$TEST_TMP/mkfs.out" 2>&1; then
	compressed_check "fsck erofs-utils 1.9 lz4hc image" "$img" "$SRC"
fi
