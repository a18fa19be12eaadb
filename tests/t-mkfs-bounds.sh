#!/usr/bin/env bash
# Work mkfs.erofs does for what a source declares but does not hold: a
# tar that declares a 64 GiB sparse file is built in time proportional to
# the bytes it carries (its holes stay holes, even with -z, where they
# used to be compressed zero by zero into hundreds of MB), and with
# --ishare the holes hashed for fingerprints are bounded per build
# (--ishare-holes): past the bound a file gets no fingerprint and a
# warning naming it. Sizes are asserted, never times.
. "$(dirname "$0")/lib.sh"
. "$TOP_SRCDIR/tests/roundtrip_lib.sh"

W=$TEST_TMP
mkdir -p "$W/src" "$W/small"
python3 - "$W/src/huge" "$W/small/holes" <<'EOF'
import sys
def sparse(path, size, ends):
    with open(path, 'wb') as f:
        f.write(ends * 1024)
        f.truncate(size)
        f.seek(size - 4096)
        f.write(ends * 1024)
sparse(sys.argv[1], 64 << 30, b'huge')
sparse(sys.argv[2], 8 << 20, b'hole')
EOF
echo "plain" >"$W/small/plain"
# GNU tar -S stores the holes as holes: the archive is a few KB
tar -C "$W/src" -cSf "$W/huge.tar" huge
check "a 64 GiB sparse file in a $(stat -c %s "$W/huge.tar")-byte tar" \
	test "$(stat -c %s "$W/huge.tar")" -lt 65536

for z in "" -zlz4 -zlzma; do
	name="64 GiB sparse tar${z:+ $z}"
	img=$W/huge$z.img
	if ! "$MKFS" --quiet $z --tar=f "$img" "$W/huge.tar" >"$W/mkfs.out" 2>&1; then
		fail "$name: build" "$(head -n1 "$W/mkfs.out")"
		continue
	fi
	size=$(stat -c %s "$img")
	if [ "$size" -lt $((8 << 20)) ]; then
		pass "$name: the image holds the data, not the holes ($size bytes)"
	else
		fail "$name: the image holds the holes" "$size bytes"
	fi
	if ! "$FSCK" "$img" >"$W/fsck.out" 2>&1; then
		fail "$name: our fsck" "$(head -n1 "$W/fsck.out")"
	fi
	why=$(kernel_unavailable)
	if [ -n "$why" ]; then
		skip "$name: kernel reads both ends" "$why"
		continue
	fi
	kmount "$img" "$W/mnt" || { fail "$name: mount" ""; continue; }
	if cmp -s <(head -c 4096 "$W/mnt/huge") <(head -c 4096 "$W/src/huge") &&
		cmp -s <(tail -c 4096 "$W/mnt/huge") <(tail -c 4096 "$W/src/huge") &&
		[ "$(stat -c %s "$W/mnt/huge")" = $((64 << 30)) ]; then
		pass "$name: kernel reads both ends and the size"
	else
		fail "$name: kernel reads both ends and the size" "differs"
	fi
	kumount "$W/mnt"
done

# --ishare: the 64 GiB of holes pass the default bound (16 GiB)
img=$W/huge-ishare.img
if "$MKFS" --ishare --tar=f "$img" "$W/huge.tar" >"$W/mkfs.out" 2>&1 &&
	grep -q "/huge: no fingerprint: .*--ishare-holes=17179869184" "$W/mkfs.out"; then
	pass "--ishare: past the bound on holes, a warning naming the file"
else
	fail "--ishare: past the bound on holes, a warning naming the file" \
		"$(head -n2 "$W/mkfs.out")"
fi

# a file with 8 MiB of holes: below a bound of 16 MiB it is fingerprinted,
# above one of 4 MiB it is not; the other file is in either case
for limit in 16777216 4194304; do
	img=$W/small-$limit.img
	if ! "$MKFS" --ishare --ishare-holes=$limit --quiet "$img" "$W/small" \
		>"$W/mkfs.out" 2>&1; then
		fail "--ishare-holes=$limit: build" "$(head -n1 "$W/mkfs.out")"
		continue
	fi
	got=$("$DUMP" --path=/holes "$img" 2>&1 | grep -c 'sha256')
	plain=$("$DUMP" --path=/plain "$img" 2>&1 | grep -c 'sha256')
	want=1 what="recorded"
	[ $limit -lt $((8 << 20)) ] && want=0 what="left out"
	if [ "$got" = "$want" ] && [ "$plain" = 1 ]; then
		pass "--ishare-holes=$limit: the sparse file's fingerprint $what, the other file's recorded"
	else
		fail "--ishare-holes=$limit" "sparse file: $got fingerprints (want $want), plain file: $plain"
	fi
	eu_fsck "--ishare-holes=$limit: erofs-utils verifies the fingerprints" \
		"$img" --xattr-inode-digest
done
exit 0
