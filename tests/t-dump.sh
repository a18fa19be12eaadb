#!/usr/bin/env bash
# dump.erofs reports what the image holds: -s agrees with the image file
# and with erofs-utils' dump.erofs (1.9.x for every image, bookworm's 1.5
# for images it can read), -S counts agree with erofs-utils and the source
# tree, --path/--nid details with stat(2) of the source, --cat with the
# content, -e extents cover the file, --ls lists the directory.
. "$(dirname "$0")/lib.sh"

UTIL="python3 $TOP_SRCDIR/tests/fsck_util.py"
SRC=$TEST_TMP/src
if ! $UTIL make-tree "$SRC" >"$TEST_TMP/tree.out" 2>&1; then
	fail "test tree" "$(tail -n 3 "$TEST_TMP/tree.out")"
	exit 1
fi

# field FILE LABEL: the value after "LABEL:" (first match), trimmed
field() {
	sed -n "s/^$2:[[:space:]]*//p" "$1" | head -n 1 | sed 's/[[:space:]]*$//'
}

# same NAME A B: PASS when the two values are equal and not empty
same() {
	if [ -n "$2" ] && [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "$(printf "'%s' != '%s'" "$2" "$3" | tr -c '[:print:]' '?')"
	fi
}

# same_set NAME A B: equal word sets (both may be empty)
same_set() {
	local a b
	a=$(printf '%s\n' $2 | sort -u | xargs)
	b=$(printf '%s\n' $3 | sort -u | xargs)
	if [ "$a" = "$b" ]; then pass "$1"; else fail "$1" "'$a' != '$b'"; fi
}

# names_of_ls FILE: the names of a --ls listing, one per line
names_of_ls() {
	sed -n '/^ *NID TYPE  NAME$/,$p' "$1" | tail -n +2 |
		sed 's/^ *[0-9]* *[0-9]*  //'
}

img=$TEST_TMP/ours.img
if ! "$MKFS" --quiet --ishare -L dumplabel "$img" "$SRC" \
	>"$TEST_TMP/mkfs.out" 2>&1; then
	fail "dump: build the image" "$(head -n 2 "$TEST_TMP/mkfs.out")"
	exit 1
fi
"$DUMP" -s "$img" >"$TEST_TMP/s.out" 2>&1 || fail "dump -s" "exit $?"
"$DUMP" "$img" >"$TEST_TMP/default.out" 2>&1
cmp -s "$TEST_TMP/s.out" "$TEST_TMP/default.out" &&
	pass "dump without options shows the superblock" ||
	fail "dump without options shows the superblock" "output differs"

size=$(stat -c %s "$img")
same "dump -s: blocks times block size is the image size" \
	"$(($(field "$TEST_TMP/s.out" 'Filesystem blocks') * $(field "$TEST_TMP/s.out" 'Filesystem blocksize')))" \
	"$size"
same "dump -s: label" "$(field "$TEST_TMP/s.out" Label)" dumplabel
same "dump -s: fingerprint xattr name" \
	"$(field "$TEST_TMP/s.out" 'Content fingerprints')" \
	'xattr "trusted.erofs.fingerprint" (long prefix 0)'
grep -q '^Filesystem compatible features:.*ishare_xattrs' "$TEST_TMP/s.out" &&
	pass "dump -s: the ishare feature by name" ||
	fail "dump -s: the ishare feature by name" "$(grep compatible "$TEST_TMP/s.out")"
same "dump -s: Linux version needed for long xattr prefixes" \
	"$(field "$TEST_TMP/s.out" 'Minimum Linux version')" "6.4 (xattr_prefixes)"
root=$("$DUMP" --path=/ "$img" | awk '/^NID:/ { print $2 }')
same "dump -s: root nid" "$(field "$TEST_TMP/s.out" 'Filesystem root nid')" "$root"
inodes=$("$FSCK" "$img" | sed -n 's/.*: \([0-9]*\) inodes.*/\1/p')
same "dump -s: inode count agrees with the tree" \
	"$(field "$TEST_TMP/s.out" 'Filesystem inode count')" "$inodes"
grep -q '^Checksum:.*(verified)' "$TEST_TMP/s.out" &&
	pass "dump -s: checksum verified" ||
	fail "dump -s: checksum verified" "$(grep Checksum "$TEST_TMP/s.out")"

# -S against the source tree
"$DUMP" -S "$img" >"$TEST_TMP/S.out" 2>&1 || fail "dump -S" "exit $?"
stat_count() { sed -n "s/^  $1[[:space:]]*//p" "$TEST_TMP/S.out"; }
same "dump -S: regular file entries" "$(stat_count 'regular files')" \
	"$(find "$SRC" -type f | wc -l)"
same "dump -S: directories" "$(stat_count directories)" \
	"$(find "$SRC" -type d | wc -l)"
same "dump -S: symlinks" "$(stat_count symlinks)" \
	"$(find "$SRC" -type l | wc -l)"
same "dump -S: FIFOs" "$(stat_count FIFOs)" "$(find "$SRC" -type p | wc -l)"
same "dump -S: sockets" "$(stat_count sockets)" "$(find "$SRC" -type s | wc -l)"
same "dump -S: inodes" "$(field "$TEST_TMP/S.out" Inodes)" "$inodes"
same "dump -S: file content bytes" \
	"$(field "$TEST_TMP/S.out" 'File content' | awk '{ print $1 }')" \
	"$(find "$SRC" -type f -printf '%i %s\n' | sort -u | awk '{ s += $2 } END { print s }')"
same "dump -S: every regular file has a fingerprint" \
	"$(field "$TEST_TMP/S.out" 'Content fingerprints')" \
	"$(find "$SRC" -type f -size +0 -printf '%i\n' | sort -u | wc -l)"

# --path details against stat(2), --cat, -e, --ls
f=random.bin
"$DUMP" --path=/$f "$img" >"$TEST_TMP/p.out" 2>&1
same "dump --path: size" "$(field "$TEST_TMP/p.out" Size)" "$(stat -c %s "$SRC/$f")"
same "dump --path: mode" "$(field "$TEST_TMP/p.out" Mode | cut -d' ' -f1)" \
	"$(stat -c %04a "$SRC/$f")"
same "dump --path: mtime" \
	"$(field "$TEST_TMP/p.out" Modified | sed 's/.*(\(.*\))/\1/')" \
	"$(stat -c %.9Y "$SRC/$f")"
same "dump --path: fingerprint in hex" \
	"$(sed -n 's/.*trusted.erofs.fingerprint (39 bytes): sha256 //p' "$TEST_TMP/p.out")" \
	"$(sha256sum <"$SRC/$f" | cut -d' ' -f1)"
nid=$(field "$TEST_TMP/p.out" NID | cut -d' ' -f1)
"$DUMP" --nid="$nid" "$img" >"$TEST_TMP/n.out" 2>&1
same "dump --nid finds the path" "$(field "$TEST_TMP/n.out" Path)" "/$f"
"$DUMP" --cat --path=/sparse "$img" >"$TEST_TMP/cat.out" 2>&1
cmp -s "$TEST_TMP/cat.out" "$SRC/sparse" && pass "dump --cat (sparse file)" ||
	fail "dump --cat (sparse file)" "content differs"
"$DUMP" --cat --path=/sym-long "$img" >"$TEST_TMP/cat.out" 2>&1
same "dump --cat of a symlink prints its target" "$(cat "$TEST_TMP/cat.out")" \
	"$(readlink "$SRC/sym-long")"
"$DUMP" -e --path=/sparse "$img" >"$TEST_TMP/e.out" 2>&1
same "dump -e: extents cover the file" \
	"$(awk '$5 == "data" || $5 == "hole" || $5 == "inline" { s += $3 } END { print s }' "$TEST_TMP/e.out")" \
	"$(stat -c %s "$SRC/sparse")"
grep -q ' hole$' "$TEST_TMP/e.out" && pass "dump -e: shows holes" ||
	fail "dump -e: shows holes" "no hole extent"
"$DUMP" --ls --path=/dir "$img" >"$TEST_TMP/ls.out" 2>&1
same "dump --ls: names" \
	"$(names_of_ls "$TEST_TMP/ls.out" | LC_ALL=C sort | od -An -c | xargs)" \
	"$( (echo .; echo ..; ls -A "$SRC/dir") | LC_ALL=C sort | od -An -c | xargs)"
"$DUMP" --cat "$img" >/dev/null 2>&1
[ $? -ne 0 ] && pass "dump --cat needs a path" || fail "dump --cat needs a path" "exit 0"
"$DUMP" --path=/no/such "$img" >/dev/null 2>&1
[ $? -eq 1 ] && pass "dump of a missing path fails" ||
	fail "dump of a missing path fails" "exit 0"

# ---- against erofs-utils' dump.erofs -----------------------------------
# eu_compare NAME EU_DUMP IMAGE: -s and -S numbers of both dumps agree
eu_compare() {
	local name=$1 eu=$2 im=$3 s S es eS
	s=$TEST_TMP/ours-s.out S=$TEST_TMP/ours-S.out
	es=$TEST_TMP/eu-s.out eS=$TEST_TMP/eu-S.out
	"$DUMP" -s "$im" >"$s" 2>&1
	"$DUMP" -S "$im" >"$S" 2>&1
	if ! "$eu" -s "$im" >"$es" 2>&1 || ! "$eu" -S "$im" >"$eS" 2>&1; then
		fail "$name: erofs-utils dump.erofs" "$(tail -n 1 "$es" "$eS")"
		return
	fi
	# bookworm's 1.5 prints fewer fields: compare what both print
	[ -n "$(field "$es" 'Filesystem blocksize')" ] &&
		same "$name: block size" "$(field "$s" 'Filesystem blocksize')" \
			"$(field "$es" 'Filesystem blocksize')"
	same "$name: blocks" "$(field "$s" 'Filesystem blocks')" \
		"$(field "$es" 'Filesystem blocks')"
	same "$name: root nid" "$(field "$s" 'Filesystem root nid')" \
		"$(field "$es" 'Filesystem root nid')"
	same "$name: inode count" "$(field "$s" 'Filesystem inode count')" \
		"$(field "$es" 'Filesystem inode count')"
	same "$name: metadata start block" "$(field "$s" 'Filesystem inode metadata start block')" \
		"$(field "$es" 'Filesystem inode metadata start block')"
	same "$name: UUID" "$(field "$s" 'Filesystem UUID')" "$(field "$es" 'Filesystem UUID')"
	if grep -q '^Filesystem features:' "$es"; then
		same_set "$name: features" \
			"$(field "$s" 'Filesystem compatible features') $(field "$s" 'Filesystem incompatible features')" \
			"$(field "$es" 'Filesystem features')"
	else
		same_set "$name: compatible features" \
			"$(field "$s" 'Filesystem compatible features')" \
			"$(field "$es" 'Filesystem compatible features')"
		same_set "$name: incompatible features" \
			"$(field "$s" 'Filesystem incompatible features')" \
			"$(field "$es" 'Filesystem incompatible features')"
	fi
	same "$name: entries" "$(field "$S" Entries | awk '{ print $1 }')" \
		"$(field "$eS" 'Filesystem total file count')"
	for t in "regular files|regular file" directories\|directory \
		"character devices|char dev" "block devices|block dev" \
		"FIFOs|FIFO file" "sockets|SOCK file" "symlinks|symlink file"; do
		same "$name: ${t%%|*}" \
			"$(sed -n "s/^  ${t%%|*}[[:space:]]*//p" "$S")" \
			"$(field "$eS" "Filesystem ${t#*|} count")"
	done
	same "$name: file bytes (hard links each time)" \
		"$(field "$S" 'File content' | sed 's/.*(\([0-9]*\) counting.*/\1/')" \
		"$(field "$eS" 'Filesystem total original file size' | awk '{ print $1 }')"
	# erofs-utils 1.9's lines come first, the same to the byte
	if [ "$eu" != /usr/bin/dump.erofs ]; then
		if head -n "$(wc -l <"$es")" "$s" | cmp -s - "$es"; then
			pass "$name: -s begins with erofs-utils' lines, byte for byte"
		else
			fail "$name: -s begins with erofs-utils' lines, byte for byte" \
				"$(head -n "$(wc -l <"$es")" "$s" | diff - "$es" | sed -n 2p)"
		fi
	fi
	if "$DUMP" --blkid-udev "$im" >"$TEST_TMP/ours-b.out" 2>&1 &&
		"$eu" --blkid-udev "$im" >"$TEST_TMP/eu-b.out" 2>&1; then
		if cmp -s "$TEST_TMP/ours-b.out" "$TEST_TMP/eu-b.out"; then
			pass "$name: --blkid-udev as erofs-utils prints it"
		else
			fail "$name: --blkid-udev as erofs-utils prints it" \
				"$(diff "$TEST_TMP/ours-b.out" "$TEST_TMP/eu-b.out" | sed -n 2p)"
		fi
	fi
	if [ -n "$(field "$es" 'Required upstream Linux kernel version')" ]; then
		same "$name: Linux version needed" \
			"$(field "$s" 'Minimum Linux version' | awk '{ print $1 }')" \
			"$(field "$es" 'Required upstream Linux kernel version')"
	fi
}

# --offset: the same reports for the image inside a larger file
emb=$TEST_TMP/embedded.img
{ head -c 12345 /dev/urandom; cat "$img"; } >"$emb"
"$DUMP" -s -S "$img" | grep -v '^Image:' >"$TEST_TMP/plain.out"
"$DUMP" -s -S --offset=12345 "$emb" | grep -v '^Image:' >"$TEST_TMP/emb.out"
if [ -s "$TEST_TMP/plain.out" ] && cmp -s "$TEST_TMP/plain.out" "$TEST_TMP/emb.out"; then
	pass "dump --offset: -s and -S as for the image alone"
else
	fail "dump --offset: -s and -S as for the image alone" \
		"$(diff "$TEST_TMP/plain.out" "$TEST_TMP/emb.out" | head -n 4)"
fi
f=$(cd "$SRC" && find . -type f -size +1k | sort | head -n 1)
if "$DUMP" --offset=12345 --path="${f#.}" --cat "$emb" | cmp -s - "$SRC/$f"; then
	pass "dump --offset --cat"
else
	fail "dump --offset --cat" "content of $f differs"
fi
if "$DUMP" -s --offset=12344 "$emb" >/dev/null 2>&1; then
	fail "dump: a wrong --offset is refused" "exit 0"
else
	pass "dump: a wrong --offset is refused"
fi

if [ -x /usr/bin/dump.erofs ] && [ -x /usr/bin/mkfs.erofs ]; then
	cp -a "$SRC" "$TEST_TMP/src15"
	rm -f "$TEST_TMP/src15/$(printf 'n%.0s' $(seq 255))"
	if /usr/bin/mkfs.erofs --quiet "$TEST_TMP/eu15.img" "$TEST_TMP/src15" \
		>/dev/null 2>&1; then
		eu_compare "dump vs erofs-utils 1.5 on its image" \
			/usr/bin/dump.erofs "$TEST_TMP/eu15.img"
	else
		fail "dump vs erofs-utils 1.5" "mkfs.erofs 1.5 failed"
	fi
else
	skip "dump vs erofs-utils 1.5" "erofs-utils 1.5 is not installed"
fi

EU_BIN=$("$TOP_SRCDIR/tests/oracle/erofs-utils-new.sh" 2>"$TEST_TMP/eu.err")
if [ $? -ne 0 ] || [ -z "$EU_BIN" ]; then
	skip "dump vs erofs-utils 1.9" "$(tail -n 1 "$TEST_TMP/eu.err")"
	exit 0
fi
eu_compare "dump vs erofs-utils 1.9 on our image" "$EU_BIN/dump.erofs" "$img"
"$MKFS" --quiet -b 1024 "$TEST_TMP/ours1k.img" "$SRC" >/dev/null 2>&1 &&
	eu_compare "dump vs erofs-utils 1.9 on our 1 KiB-block image" \
		"$EU_BIN/dump.erofs" "$TEST_TMP/ours1k.img"
for opts in "" "-E48bit --chunksize=8192" "--xattr-inode-digest" \
	"-zlz4hc,12 -Efragments -L eulabel" "-zlzma -Ededupe,ztailpacking" \
	"-zzstd -C16384 -E48bit"; do
	# shellcheck disable=SC2086
	"$EU_BIN/mkfs.erofs" --quiet $opts "$TEST_TMP/eu19.img" "$SRC" \
		>/dev/null 2>&1 &&
		eu_compare "dump vs erofs-utils 1.9 on its image${opts:+ ($opts)}" \
			"$EU_BIN/dump.erofs" "$TEST_TMP/eu19.img"
done
