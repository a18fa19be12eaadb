#!/bin/bash
# t-ishare-kernel.sh: images built with --ishare mount on the host kernel with
# contents unchanged and the fingerprint xattr where it belongs; erofs-utils
# 1.9's fsck verifies the digests (and catches a flipped byte).
. "$(dirname "$0")/lib.sh"

T=ishare-kernel
W=$TEST_TMP
why=$(kernel_unavailable)
if [ -n "$why" ]; then
	skip "$T" "$why"
	exit 0
fi
for tool in getfattr setfattr sha256sum python3; do
	if ! command -v $tool >/dev/null; then
		skip "$T" "missing $tool"
		exit 0
	fi
done
# the interpreter itself: a version manager's wrapper costs a second a call
PY=$(python3 -c 'import sys; print(sys.executable)')

# --- the source tree -------------------------------------------------------
S=$W/src
mkdir -p "$S/dir/sub" "$S/sparse"
printf a >"$S/one-byte"
head -c 4095 /dev/urandom >"$S/almost-block"
head -c 4096 /dev/urandom >"$S/block"
head -c 4097 /dev/urandom >"$S/block-plus-one"
head -c 300000 /dev/urandom >"$S/dir/random"
# a marker the corruption check below finds in the image
{ printf 'MARKER-%s-' "$$"; head -c 20000 /dev/urandom; } >"$S/dir/marked"
head -c 1048577 /dev/zero >"$S/dir/zeros"
: >"$S/empty"
: >"$S/dir/empty2"
ln -s one-byte "$S/symlink"
ln -s "$(printf 'x%.0s' $(seq 300))" "$S/dir/long-symlink"
ln "$S/block" "$S/dir/hardlink"
# holes: stored chunk-based, the fingerprint covers the zeros
truncate -s 8M "$S/sparse/holes"
printf 'middle' | dd of="$S/sparse/holes" bs=1 seek=4000000 conv=notrunc status=none
# a stale fingerprint in the source must be replaced, never trusted; on a
# directory and an empty file it must go
setfattr -n trusted.erofs.fingerprint -v garbage "$S/dir/random"
setfattr -n trusted.erofs.fingerprint -v garbage "$S/dir"
setfattr -n trusted.erofs.fingerprint -v garbage "$S/empty"
setfattr -n user.note -v kept "$S/dir/random"

# expected value of the fingerprint of FILE, as getfattr -e hex prints it
want_fp() {
	printf '0x%s%s' "$(printf sha256: | od -An -tx1 | tr -d ' \n')" \
		"$(sha256sum <"$1" | cut -d' ' -f1)"
}
# the value getfattr shows for NAME on FILE, or "absent"
got_fp() {
	getfattr -h --absolute-names -e hex -n "$2" "$1" 2>/dev/null |
		sed -n "s/^$2=//p" | grep . || echo absent
}

# mount_check TAG IMAGE MOUNTPOINT: mount and compare every file with S.
mount_check() {
	if ! "$MKFS" --quiet "${@:4}" "$2" "$S" >"$W/$1.log" 2>&1; then
		fail "$T: $1 mkfs ${*:4}" "$(tail -n1 "$W/$1.log")"
		return 1
	fi
	if ! kmount "$2" "$3"; then
		fail "$T: $1 mount" "$(dmesg | tail -n3 | tr '\n' ' ')"
		return 1
	fi
	if diff -r --no-dereference "$S" "$3" >"$W/$1.diff" 2>&1; then
		pass "$T: $1 contents unchanged"
	else
		fail "$T: $1 contents unchanged" "$(head -n3 "$W/$1.diff")"
	fi
	if [ "$(stat -c %i "$3/block")" = "$(stat -c %i "$3/dir/hardlink")" ]; then
		pass "$T: $1 hard link kept"
	else
		fail "$T: $1 hard link kept" "different inodes"
	fi
}

regular_nonempty() {
	(cd "$S" && find . -type f -size +0 | sed 's|^\./||' | sort)
}

# --- the default name, trusted.erofs.fingerprint ---------------------------
NAME=trusted.erofs.fingerprint
if mount_check default "$W/default.img" "$W/m-default" --ishare; then
	M=$W/m-default
	bad=
	n=0
	while read -r f; do
		w=$(want_fp "$S/$f")
		g=$(got_fp "$M/$f" $NAME)
		[ "$g" = "$w" ] || bad="$bad $f($g)"
		n=$((n + 1))
	done < <(regular_nonempty)
	if [ -z "$bad" ] && [ $n -ge 9 ]; then
		pass "$T: default name: $n fingerprints equal sha256sum"
	else
		fail "$T: default name: fingerprints equal sha256sum" "wrong:$bad"
	fi
	bad=
	for f in empty dir/empty2 dir dir/sub symlink dir/long-symlink . sparse; do
		g=$(got_fp "$M/$f" $NAME)
		[ "$g" = absent ] || bad="$bad $f"
	done
	if [ -z "$bad" ]; then
		pass "$T: no fingerprint on empty files, dirs, symlinks"
	else
		fail "$T: no fingerprint on empty files, dirs, symlinks" "present on:$bad"
	fi
	if [ "$(getfattr --absolute-names -n user.note --only-values \
		"$M/dir/random" 2>/dev/null)" = kept ]; then
		pass "$T: other xattrs of a fingerprinted file kept"
	else
		fail "$T: other xattrs of a fingerprinted file kept" "user.note lost"
	fi
	# one fingerprint xattr per file, not the stale one next to it
	c=$(getfattr --absolute-names -d -m - "$M/dir/random" 2>/dev/null |
		grep -c "^$NAME=")
	if [ "$c" = 1 ]; then
		pass "$T: stale source fingerprint replaced, not duplicated"
	else
		fail "$T: stale source fingerprint replaced" "$c entries named $NAME"
	fi
	# the superblock byte and the compat bit, straight from the image
	read -r compat id < <("$PY" - "$W/default.img" <<'EOF'
import struct, sys
b = open(sys.argv[1], 'rb').read(4096)
print(struct.unpack_from('<I', b, 0x408)[0], b[0x469])
EOF
	)
	if (((compat & 0x20) && id == 0)); then
		pass "$T: compat bit 0x20 and prefix id 0 at byte 0x469"
	else
		fail "$T: compat bit and prefix id" "compat=$compat id=$id"
	fi
fi

# --- a name after other long prefixes, and 1 KiB blocks ---------------------
if mount_check prefixed "$W/prefixed.img" "$W/m-prefixed" -b 1024 \
	--xattr-prefix=user.no --xattr-prefix=trusted.erofs. \
	--ishare=trusted.erofs.digest; then
	M=$W/m-prefixed
	bad=
	while read -r f; do
		[ "$(got_fp "$M/$f" trusted.erofs.digest)" = "$(want_fp "$S/$f")" ] ||
			bad="$bad $f"
		[ "$f" = dir/random ] || [ "$(got_fp "$M/$f" $NAME)" = absent ] ||
			bad="$bad $f(old)"
	done < <(regular_nonempty)
	# the stale trusted.erofs.fingerprint is an ordinary xattr here
	if [ -z "$bad" ] &&
		[ "$(got_fp "$M/dir/random" $NAME)" = 0x67617262616765 ]; then
		pass "$T: custom name (prefix 2 of 3, -b 1024): fingerprints right"
	else
		fail "$T: custom name: fingerprints right" "wrong:$bad"
	fi
	id=$(od -An -tu1 -j $((0x469)) -N1 "$W/prefixed.img" | tr -d ' ')
	if [ "$id" = 2 ]; then
		pass "$T: custom name: prefix id 2 at byte 0x469"
	else
		fail "$T: custom name: prefix id at byte 0x469" "got $id"
	fi
fi

# --- erofs-utils' hidden default name --------------------------------------
if mount_check hidden "$W/hidden.img" "$W/m-hidden" \
	--ishare=erofs.fingerprint.v1; then
	M=$W/m-hidden
	if getfattr --absolute-names -d -m - -R "$M" 2>/dev/null |
		grep -q 'erofs.fingerprint.v1'; then
		fail "$T: hidden name invisible" "listed by getfattr"
	else
		pass "$T: hidden name builds, mounts and stays invisible"
	fi
fi

# --- our fsck: every fingerprint verified, damage named ----------------------
NONEMPTY=$(regular_nonempty | while read -r f; do stat -c %i "$S/$f"; done |
	sort -u | wc -l)
for img in default prefixed hidden; do
	[ -f "$W/$img.img" ] || continue
	out=$("$FSCK" "$W/$img.img" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && grep -q " $NONEMPTY fingerprints verified" <<<"$out"; then
		pass "$T: our fsck verifies all $NONEMPTY fingerprints of $img"
	else
		fail "$T: our fsck verifies all fingerprints of $img" \
			"rc=$rc: $(tr '\n' ' ' <<<"$out" | head -c 300)"
	fi
done
# damage IMAGE OUT PYTHON-SNIPPET: copy IMAGE with the bytes b changed
damage() {
	"$PY" - "$1" "$2" "$3" <<'EOF'
import hashlib, sys
src, dst, code = sys.argv[1:4]
b = bytearray(open(src, 'rb').read())
def fp_entry(index, path):
	v = b'sha256:' + hashlib.sha256(open(path, 'rb').read()).digest()
	e = bytes([0, index, len(v), 0]) + v
	i = b.find(e)
	if i < 0 or b.find(e, i + 1) >= 0:
		sys.exit('fingerprint entry of %s not found once' % path)
	return i
exec(code)
open(dst, 'wb').write(b)
EOF
}
# fsck_names WHAT IMAGE WORDS: fsck fails with a message naming WORDS
fsck_names() {
	local out rc
	out=$("$FSCK" "$2" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && grep "/dir/marked" <<<"$out" | grep -q "$3"; then
		pass "$T: our fsck: $1"
	else
		fail "$T: our fsck: $1" "rc=$rc: $(tr '\n' ' ' <<<"$out" | head -c 300)"
	fi
}
if [ -f "$W/default.img" ]; then
	damage "$W/default.img" "$W/flip-ours.img" "
i = b.find(b'MARKER-$$-')
assert i >= 0 and b.find(b'MARKER-$$-', i + 1) < 0
b[i + 3] ^= 1" &&
		fsck_names "a flipped data byte fails naming the file" \
			"$W/flip-ours.img" fingerprint
	damage "$W/default.img" "$W/tag-ours.img" "
i = fp_entry(0x80, '$S/dir/marked')
b[i + 4 + 6] = ord('-')" &&
		fsck_names "a fingerprint that is not sha256: fails naming the file" \
			"$W/tag-ours.img" fingerprint
fi
# the entry renamed to the long prefix next to it (trusted.erofs.): the file
# of a share-ready image has no fingerprint any more
if [ -f "$W/prefixed.img" ]; then
	damage "$W/prefixed.img" "$W/missing-ours.img" "
i = fp_entry(0x82, '$S/dir/marked')
b[i + 1] = 0x81" &&
		fsck_names "a missing fingerprint is reported naming the file" \
			"$W/missing-ours.img" fingerprint
fi

# --- erofs-utils 1.9 fsck --xattr-inode-digest ------------------------------
EU_BIN=$("$TOP_SRCDIR/tests/oracle/erofs-utils-new.sh" 2>"$W/eu.err")
rc=$?
if [ $rc -ne 0 ]; then
	skip "$T: erofs-utils 1.9 fsck" "$(tail -n1 "$W/eu.err")"
	exit 0
fi
for img in default prefixed hidden; do
	[ -f "$W/$img.img" ] || continue
	out=$("$EU_BIN/fsck.erofs" -d3 --xattr-inode-digest "$W/$img.img" 2>&1)
	rc=$?
	case $img in
	default) name=$NAME ;;
	prefixed) name=trusted.erofs.digest ;;
	hidden) name=erofs.fingerprint.v1 ;;
	esac
	if [ $rc -eq 0 ] && grep -q "verifying digests using xattr \"$name\"" <<<"$out" &&
		! grep -qi 'no digest xattr\|mismatch\|<E>\|<W>' <<<"$out"; then
		pass "$T: erofs-utils fsck --xattr-inode-digest accepts $img ($name)"
	else
		fail "$T: erofs-utils fsck --xattr-inode-digest accepts $img" \
			"rc=$rc: $(grep -i 'digest\|<E>\|<W>' <<<"$out" | head -n3 | tr '\n' ' ')"
	fi
done
# The check above is only worth something if it can fail: flip one byte of
# the marked file's data and the same fsck must name a digest mismatch.
if [ -f "$W/default.img" ]; then
	cp "$W/default.img" "$W/flipped.img"
	off=$("$PY" - "$W/flipped.img" "MARKER-$$-" <<'EOF'
import sys
p, m = sys.argv[1], sys.argv[2].encode()
b = bytearray(open(p, 'rb').read())
i = b.find(m)
if i < 0 or b.find(m, i + 1) >= 0:
	print(-1)
	sys.exit()
b[i + 3] ^= 0x01
open(p, 'wb').write(b)
print(i + 3)
EOF
	)
	if [ "$off" -lt 0 ]; then
		fail "$T: flipped byte" "marker not found exactly once in the image"
	else
		out=$("$EU_BIN/fsck.erofs" --xattr-inode-digest "$W/flipped.img" 2>&1)
		rc=$?
		if [ $rc -ne 0 ] && grep -qi 'digest mismatch' <<<"$out"; then
			pass "$T: erofs-utils fsck catches a flipped data byte"
		else
			fail "$T: erofs-utils fsck catches a flipped data byte" \
				"rc=$rc: $(head -n2 <<<"$out" | tr '\n' ' ')"
		fi
	fi
fi
exit 0
