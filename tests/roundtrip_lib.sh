# Helpers for the round-trip tests (sourced after tests/lib.sh): build an
# image with our mkfs, mount it with the kernel, compare it with its source,
# watch dmesg, and ask erofs-utils (bookworm's 1.5, the newest 1.9.x) too.

GEN_TREE="python3 $TOP_SRCDIR/tests/gen_tree.py"
COMPARE="python3 $TOP_SRCDIR/tests/compare_tree.py"
# the -T of most builds: files with this mtime get compact inodes
BT=1700000000
FIXED_UUID=6b8a2f4e-3c1d-4e5f-9a7b-0c1d2e3f4a5b

# gen_tree NAME DEST ARGS...: generate a tree; cases the source filesystem
# cannot hold are reported as skips, since they go untested here.
gen_tree() {
	local name=$1 dest=$2 line
	shift 2
	if ! $GEN_TREE "$@" "$dest" >"$TEST_TMP/gen.out" 2>&1; then
		fail "$name" "gen_tree.py failed: $(tail -n 3 "$TEST_TMP/gen.out")"
		return 1
	fi
	while IFS= read -r line; do
		case $line in
		'not created: '*) skip "$name: ${line#not created: }" \
			"the source filesystem or privileges cannot hold it" ;;
		esac
	done <"$TEST_TMP/gen.out"
}

# run_mkfs NAME ARGS...: our mkfs; a failure is a FAIL of NAME.
run_mkfs() {
	local name=$1
	shift
	if ! "$MKFS" --quiet "$@" >"$TEST_TMP/mkfs.out" 2>&1; then
		fail "$name" "mkfs.erofs $* failed: $(head -c 600 "$TEST_TMP/mkfs.out")"
		return 1
	fi
}

# Mark dmesg so that what the kernel says afterwards can be told apart.
dmesg_mark() {
	local m="erofs-share-test-$$-$RANDOM$RANDOM"
	echo "$m" >/dev/kmsg 2>/dev/null || true
	echo "$m"
}

# erofs lines about loop device DEV since MARK, but the mount notice.
dmesg_erofs_since() {
	dmesg 2>/dev/null | sed -n "/$1/,\$p" | grep -F "erofs (device $2)" |
		grep -v 'mounted with root inode' |
		grep -v 'EXPERIMENTAL 48-bit layout support in use' |
		grep -v 'EXPERIMENTAL metadata compression support in use' |
		grep -v 'EXPERIMENTAL DEFLATE feature in use' || true
}

# rt_mount_compare NAME IMAGE REF [compare_tree options]: mount IMAGE,
# compare it with REF (a tree or a snapshot), check dmesg, unmount.
# PASS/FAIL NAME. Extra checks on the mounted tree can be run by setting
# RT_WHILE_MOUNTED to a function name; it gets the mount point.
RT_WHILE_MOUNTED=
rt_mount_compare() {
	local name=$1 img=$2 ref=$3 mnt mark dev out rc msgs extra=
	shift 3
	mnt=$TEST_TMP/mnt
	mark=$(dmesg_mark)
	if ! kmount "$img" "$mnt" 2>"$TEST_TMP/mount.err"; then
		fail "$name" "mount failed: $(cat "$TEST_TMP/mount.err")"
		dmesg | sed -n "/$mark/,\$p" | grep erofs | tail -n 5 | sed 's/^/    /'
		return 1
	fi
	dev=$(findmnt -n -o SOURCE "$mnt")
	dev=${dev#/dev/}
	out=$($COMPARE "$@" "$ref" "$mnt" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ] && [ -n "$RT_WHILE_MOUNTED" ]; then
		extra=$($RT_WHILE_MOUNTED "$mnt" 2>&1) || rc=1
	fi
	umount "$mnt" || { fail "$name" "umount failed"; return 1; }
	msgs=$(dmesg_erofs_since "$mark" "$dev")
	if [ "$rc" -ne 0 ]; then
		fail "$name" "$(printf '%s\n%s\n' "$out" "$extra" | grep -m1 .)"
		printf '%s\n%s\n' "$out" "$extra" | sed 's/^/    /'
		return 1
	fi
	if [ -n "$msgs" ]; then
		fail "$name" "kernel complained: $(echo "$msgs" | head -n 1)"
		echo "$msgs" | sed 's/^/    /'
		return 1
	fi
	pass "$name"
}

# The newest erofs-utils' bin dir in EU_BIN, or a reason in EU_WHY.
EU_BIN= EU_WHY=
eu_new() {
	[ -n "$EU_BIN" ] && return 0
	[ -n "$EU_WHY" ] && return 1
	local s=$TOP_SRCDIR/tests/oracle/erofs-utils-new.sh rc
	if [ ! -f "$s" ]; then
		EU_WHY="tests/oracle/erofs-utils-new.sh is missing"
		return 1
	fi
	EU_BIN=$(bash "$s" 2>"$TEST_TMP/eu.err")
	rc=$?
	if [ "$rc" -ne 0 ] || [ ! -x "$EU_BIN/fsck.erofs" ]; then
		EU_BIN=
		EU_WHY="newest erofs-utils unavailable (exit $rc: $(tail -n 1 "$TEST_TMP/eu.err"))"
		return 1
	fi
}

# eu_fsck NAME IMAGE [fsck options]: the newest fsck.erofs accepts IMAGE.
eu_fsck() {
	local name=$1 img=$2
	shift 2
	eu_new || { skip "$name" "$EU_WHY"; return 0; }
	if "$EU_BIN/fsck.erofs" "$@" "$img" >"$TEST_TMP/fsck.out" 2>&1; then
		pass "$name"
	else
		fail "$name" "fsck.erofs 1.9 $*: $(grep -m1 . "$TEST_TMP/fsck.out")"
		head -n 20 "$TEST_TMP/fsck.out" | sed 's/^/    /'
	fi
}

# eu_extract_compare NAME IMAGE REF [compare options]: the newest fsck.erofs
# extracts IMAGE with xattrs; the extraction must equal REF. Its known
# defects are left out of the comparison, each with the reason:
#  - it drops an xattr whose value is empty and every xattr it lists after
#    (fsck/main.c takes a value size of 0 for an error);
#  - it sets xattrs before the owner, and chown() clears
#    security.capability;
#  - a file it creates in a directory with a default ACL inherits an access
#    ACL the image does not hold.
EU_KNOWN=(--ignore-xattr user.empty --ignore-xattr user.empty-neighbour
	--ignore-xattr security.capability
	--ignore-xattr-on xattrs/acl-dir/before-default system.posix_acl_access)
eu_extract_compare() {
	local name=$1 img=$2 ref=$3 ex out
	shift 3
	eu_new || { skip "$name" "$EU_WHY"; return 0; }
	ex=${EU_EXTRACT_DIR:-$TEST_TMP/extract}
	rm -rf "$ex"
	if ! "$EU_BIN/fsck.erofs" --extract="$ex" --xattrs "$img" \
		>"$TEST_TMP/fsck.out" 2>&1; then
		fail "$name" "fsck.erofs 1.9 --extract: $(grep -m1 . "$TEST_TMP/fsck.out")"
		rm -rf "$ex"
		return 1
	fi
	if out=$($COMPARE "${EU_KNOWN[@]}" "$@" "$ref" "$ex" 2>&1); then
		pass "$name"
	else
		fail "$name" "$(echo "$out" | head -n 1)"
		echo "$out" | sed 's/^/    /'
	fi
	rm -rf "$ex"
}

# eu15_fsck NAME IMAGE: bookworm's fsck.erofs 1.5 (4 KiB blocks and no long
# xattr prefixes only) checks IMAGE and decodes every file.
eu15_fsck() {
	local name=$1 img=$2
	if [ ! -x /usr/bin/fsck.erofs ]; then
		skip "$name" "bookworm's erofs-utils (fsck.erofs 1.5) not installed"
		return 0
	fi
	if /usr/bin/fsck.erofs --extract "$img" >"$TEST_TMP/fsck15.out" 2>&1; then
		pass "$name"
	else
		fail "$name" "fsck.erofs 1.5: $(grep -m1 . "$TEST_TMP/fsck15.out")"
	fi
}

# sb_field IMAGE OFFSET LENGTH: superblock bytes (offset from the
# superblock start at 1024) in hex.
sb_field() {
	python3 -c '
import sys
with open(sys.argv[1], "rb") as f:
    f.seek(1024 + int(sys.argv[2], 0))
    print(f.read(int(sys.argv[3], 0)).hex())' "$@"
}
