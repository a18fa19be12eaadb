#!/usr/bin/env bash
# Kernel round trips of mkfs.erofs options that change what the image holds:
# times (-T, --mkfs-time, --ignore-mtime, SOURCE_DATE_EPOCH), owners
# (--all-root, --force-uid/gid, --uid/gid-offset), exclusions, label and
# UUID, --workers. Needs root, EROFS in the kernel and loop devices.
. "$(dirname "$0")/lib.sh"
. "$TOP_SRCDIR/tests/roundtrip_lib.sh"

why=$(kernel_unavailable)
if [ -n "$why" ]; then
	skip options "$why"
	exit 0
fi

src=$TEST_TMP/src
gen_tree "gen_tree small" "$src" --seed 11 --small --xattrs \
	--huge-size $((64 << 20)) --build-time "$BT" || exit 0
ref=$TEST_TMP/src.json
$COMPARE --save "$ref" "$src" || { fail options "cannot scan the source"; exit 0; }
img=$TEST_TMP/o.img

# variant NAME "MKFS OPTIONS" [compare_tree options]
variant() {
	local name=$1 mopts=$2
	shift 2
	# shellcheck disable=SC2086
	run_mkfs "$name" $mopts "$img" "$src" &&
		rt_mount_compare "$name" "$img" "$ref" "$@"
}

# --- times ---------------------------------------------------------------
T2=1234567890
variant "-T sets every mtime" "-T $T2" --expect-mtime "$T2"
variant "-T --all-time sets every mtime" "-T $T2 --all-time" --expect-mtime "$T2"
variant "-T --mkfs-time keeps mtimes" "-T $T2 --mkfs-time"
variant "--ignore-mtime with -T" "-T $T2 --mkfs-time --ignore-mtime" \
	--expect-mtime "$T2"
variant "--preserve-mtime after --ignore-mtime" \
	"-T $T2 --mkfs-time --ignore-mtime --preserve-mtime"
# the superblock's epoch (0x18, le64) is the -T time
epoch=$(sb_field "$img" 0x18 8)
want=$(python3 -c "import struct; print(struct.pack('<q', $T2).hex())")
if [ "$epoch" = "$want" ]; then
	pass "-T sets the superblock epoch"
else
	fail "-T sets the superblock epoch" "epoch bytes $epoch, expected $want"
fi

# without -T: the build time, the same for all, between start and end
t0=$(date +%s)
if run_mkfs "--ignore-mtime without -T" --ignore-mtime "$img" "$src"; then
	t1=$(date +%s)
	mnt=$TEST_TMP/mnt
	kmount "$img" "$mnt" && bt=$(stat -c %Y "$mnt") && umount "$mnt"
	if [ -n "${bt:-}" ] && [ "$bt" -ge "$t0" ] && [ "$bt" -le "$t1" ]; then
		rt_mount_compare "--ignore-mtime without -T" "$img" "$ref" \
			--expect-mtime "$bt"
	else
		fail "--ignore-mtime without -T" \
			"root mtime '${bt:-}' not within the build [$t0, $t1]"
	fi
fi

# SOURCE_DATE_EPOCH clamps newer mtimes, as in erofs-utils
SDE=1500000000
if SOURCE_DATE_EPOCH=$SDE run_mkfs "SOURCE_DATE_EPOCH clamps" "$img" "$src"; then
	rt_mount_compare "SOURCE_DATE_EPOCH clamps" "$img" "$ref" \
		--clamp-mtime "$SDE"
fi

# --- owners ------------------------------------------------------------
variant "--all-root" "-T $BT --mkfs-time --all-root" \
	--expect-uid 0 --expect-gid 0
variant "--force-uid --force-gid" \
	"-T $BT --mkfs-time --force-uid=4321 --force-gid=99999" \
	--expect-uid 4321 --expect-gid 99999
# (ids near 2^32 would wrap: left out, see the report)
variant "--uid-offset --gid-offset" \
	"-T $BT --mkfs-time --uid-offset=1000 --gid-offset=70000 --exclude-path=ids/f-4294967294-4294967294" \
	--uid-offset 1000 --gid-offset 70000 \
	--exclude-path ids/f-4294967294-4294967294

# --- exclusions -----------------------------------------------------------
# a directory, one name of a hardlink pair (the other keeps one link), and
# regular expressions on the path relative to the source
variant "--exclude-path" \
	"-T $BT --mkfs-time --exclude-path=bigdir --exclude-path=links/other/g2-b --exclude-path=/deep/d01/d02" \
	--exclude-path bigdir --exclude-path links/other/g2-b \
	--exclude-path deep/d01/d02
variant "--exclude-regex" \
	"-T $BT --mkfs-time --exclude-regex=^names/.*space --exclude-regex=\.hidden$ --exclude-regex=^sparse$" \
	--exclude-regex '^names/.*space' --exclude-regex '\.hidden$' \
	--exclude-regex '^sparse$'

# --- label and UUID -------------------------------------------------------
label_uuid() {
	local name=$1 label=$2 uuid=$3 want_uuid=$4 got
	shift 4
	run_mkfs "$name" -T "$BT" -L "$label" -U "$uuid" "$img" "$src" || return
	got=$(blkid -p -o value -s LABEL "$img" 2>/dev/null)
	if [ "$got" != "$label" ]; then
		fail "$name" "blkid LABEL '$got', expected '$label'"
		return
	fi
	got=$(sb_field "$img" 64 16)
	if [ "$got" != "$(printf '%s' "$label" | od -An -tx1 | tr -d ' \n')$(
		printf '%0*d' $((32 - 2 * ${#label})) 0)" ]; then
		fail "$name" "label bytes $got"
		return
	fi
	got=$(sb_field "$img" 48 16)
	if [ "$got" != "$(echo "$want_uuid" | tr -d -)" ]; then
		fail "$name" "uuid bytes $got, expected $want_uuid"
		return
	fi
	if [ "$want_uuid" != 00000000-0000-0000-0000-000000000000 ]; then
		got=$(blkid -p -o value -s UUID "$img" 2>/dev/null)
		if [ "$got" != "$want_uuid" ]; then
			fail "$name" "blkid UUID '$got', expected '$want_uuid'"
			return
		fi
	fi
	rt_mount_compare "$name" "$img" "$ref" --expect-mtime "$BT"
}
label_uuid "-L -U" "test-label" "$FIXED_UUID" "$FIXED_UUID"
label_uuid "-L of 15 bytes, -U clear" "fifteen-bytes-x" clear \
	00000000-0000-0000-0000-000000000000
rm -f "$img"
if "$MKFS" --quiet -L sixteen-bytes-xx "$img" "$src" >"$TEST_TMP/l.out" 2>&1; then
	fail "-L of 16 bytes is refused" "mkfs accepted it"
elif [ -e "$img" ] || ! grep -q 'sixteen-bytes-xx' "$TEST_TMP/l.out"; then
	fail "-L of 16 bytes is refused" "image left or unclear: $(cat "$TEST_TMP/l.out")"
else
	pass "-L of 16 bytes is refused"
fi
# random UUIDs differ from build to build
run_mkfs "random UUID" -T "$BT" "$img" "$src" && u1=$(sb_field "$img" 48 16) &&
	run_mkfs "random UUID" -T "$BT" "$img" "$src" &&
	u2=$(sb_field "$img" 48 16) &&
	if [ "$u1" != "$u2" ] && [ "$u1" != 00000000000000000000000000000000 ]; then
		pass "random UUID"
	else
		fail "random UUID" "two builds gave $u1 and $u2"
	fi

# --- workers ---------------------------------------------------------------
variant "--workers=1" "-T $BT --mkfs-time --workers=1"
variant "--workers=7" "-T $BT --mkfs-time --workers=7"

# --- plain options --------------------------------------------------------
out=$("$MKFS" -V 2>&1) && [[ $out == *mkfs.erofs* ]] &&
	pass "-V prints the version" || fail "-V prints the version" "$out"
out=$("$MKFS" -h 2>&1) && [[ $out == *--exclude-regex* ]] &&
	pass "-h prints the options" || fail "-h prints the options" "$(echo "$out" | head -n 2)"
out=$("$MKFS" --quiet -T "$BT" "$img" "$src" 2>&1)
if [ -z "$out" ]; then pass "--quiet prints nothing"; else
	fail "--quiet prints nothing" "$(echo "$out" | head -n 2)"; fi
rm -f "$img"
exit 0
