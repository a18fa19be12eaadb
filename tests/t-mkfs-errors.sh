#!/usr/bin/env bash
# Bad input to mkfs.erofs (missing and unreadable sources, trees too
# large for the format, bad options, unusable destinations, no space,
# signals, cut streams): each case must give a clear
# message with the path and the reason, a non-zero exit, no image at IMAGE
# and no temporary ".IMAGE.*" file next to it; an existing IMAGE survives a
# failed build untouched.
. "$(dirname "$0")/lib.sh"

W=$TEST_TMP
# others (nobody) must reach the scratch dirs
chmod 755 "$W"
is_root=0
[ "$(id -u)" -eq 0 ] && is_root=1

# leftovers IMAGE: what a failed build left at or next to IMAGE
leftovers() {
	local img=$1 d b
	d=$(dirname "$img") b=$(basename "$img")
	[ -e "$img" ] && echo "$img"
	find "$d" -maxdepth 1 \( -name ".$b.*" -o -name "$b.*" \) 2>/dev/null
}

# expect_fail NAME REGEX IMAGE [--keep COPY] -- COMMAND...: COMMAND fails,
# its message matches REGEX, and nothing is left at IMAGE (or IMAGE still
# equals COPY with --keep).
expect_fail() {
	local name=$1 re=$2 img=$3 keep= rc left
	shift 3
	if [ "$1" = --keep ]; then
		keep=$2
		shift 2
	fi
	shift # --
	"$@" >"$W/out" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then
		fail "$name" "succeeded: $(head -c 300 "$W/out")"
	elif [ "$rc" -ge 128 ]; then
		fail "$name" "died with signal $((rc - 128)): $(head -c 300 "$W/out")"
	elif ! grep -qE -- "$re" "$W/out"; then
		fail "$name" "message does not match /$re/: $(head -c 400 "$W/out")"
	elif [ -n "$keep" ] && ! cmp -s "$img" "$keep"; then
		fail "$name" "the existing image was changed or removed"
	elif [ -z "$keep" ] && left=$(leftovers "$img") && [ -n "$left" ]; then
		fail "$name" "left behind: $left"
	elif [ -n "$keep" ] && left=$(leftovers "$img" | grep -v "^$img\$") &&
		[ -n "$left" ]; then
		fail "$name" "left behind: $left"
	else
		pass "$name"
		echo "#   $(grep -m1 . "$W/out")"
	fi
}

mk() { "$MKFS" --quiet "$@"; }

# --- SOURCE and IMAGE paths ------------------------------------------------
mkdir -p "$W/src/sub"
echo hello >"$W/src/sub/file"
expect_fail "SOURCE is not a directory" "$W/src/sub/file.*[Nn]ot a directory" \
	"$W/img" -- mk "$W/img" "$W/src/sub/file"
expect_fail "SOURCE does not exist" "$W/nowhere.*No such file" \
	"$W/img" -- mk "$W/img" "$W/nowhere"
expect_fail "IMAGE in a missing directory" "$W/missing/img.*No such file" \
	"$W/missing/img" -- mk "$W/missing/img" "$W/src"
mkdir -p "$W/isdir"
expect_fail "IMAGE is a directory" "$W/isdir.*([Ii]s a directory|[Dd]irectory)" \
	"$W/isdir/x" -- mk "$W/isdir" "$W/src"
if [ -n "$(find "$W" -maxdepth 1 -name '.isdir.*')" ]; then
	fail "IMAGE is a directory: no temporary file" "$(find "$W" -maxdepth 1 -name '.isdir.*')"
fi

# --- bad option values ---------------------------------------------------
for args in "-b 8192" "-b 1000" "-b x" "-x abc" "-T -5" "-T soon" \
	"--force-uid=-1" "--uid-offset=x" "-U not-a-uuid" "--workers=0" \
	"-L sixteen-bytes-xx" "--no-such-option"; do
	# shellcheck disable=SC2086
	expect_fail "bad option $args" "." "$W/img" -- mk $args "$W/img" "$W/src"
done
# an unknown option is named, with a pointer to --help and no errno text
expect_fail "unknown option: named, then --help" \
	"unrecognized option '--no-such-option'" "$W/img" -- \
	mk --no-such-option "$W/img" "$W/src"
if grep -q "Invalid argument" "$W/out"; then
	fail "unknown option: no errno text" "$(cat "$W/out")"
elif ! grep -q -- "--help" "$W/out"; then
	fail "unknown option: no errno text" "no pointer to --help: $(cat "$W/out")"
else
	pass "unknown option: no errno text"
fi
expect_fail "missing SOURCE" "expected IMAGE and SOURCE" "$W/img" -- mk "$W/img"

# --- id offsets past 2^32 - 1 ---------------------------------------------
mkdir -p "$W/ids"
echo x >"$W/ids/f"
if [ "$is_root" = 1 ]; then
	chown 1000:1000 "$W/ids/f"
	expect_fail "--uid-offset carrying a uid past 2^32-1" \
		"/f: uid 1000 plus the offset 4294967295" "$W/img" -- \
		mk --uid-offset=4294967295 "$W/img" "$W/ids"
else
	skip "--uid-offset carrying a uid past 2^32-1" "chown needs root"
fi
expect_fail "--gid-offset carrying a gid past 2^32-1" \
	"/f: gid 9 plus the offset 4294967290" "$W/img" -- \
	mk --force-gid=9 --gid-offset=4294967290 "$W/img" "$W/ids"
if mk --force-uid=5 --uid-offset=4294967290 "$W/ids.img" "$W/ids" &&
	[ "$("$DUMP" --path=/f "$W/ids.img" | sed -n 's/^Owner: *uid \([0-9]*\),.*/\1/p')" = 4294967295 ]; then
	pass "--uid-offset up to 2^32-1 is kept"
else
	fail "--uid-offset up to 2^32-1 is kept" "$("$DUMP" --path=/f "$W/ids.img" 2>&1 | grep -i owner)"
fi

# --- unreadable source files -----------------------------------------------
mkdir -p "$W/unr/src/d" "$W/unr/out"
echo data >"$W/unr/src/ok"
echo secret >"$W/unr/src/d/secret"
chmod 000 "$W/unr/src/d/secret"
mkdir -p "$W/unrd/src/closed" "$W/unrd/out"
echo x >"$W/unrd/src/closed/inside"
chmod 000 "$W/unrd/src/closed"
if [ "$is_root" = 1 ]; then
	chown 65534:65534 "$W/unr/out" "$W/unrd/out"
	as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	# root without the capabilities that bypass permissions
	mkdir -p "$W/unr/rootout"
	expect_fail "unreadable file (root without CAP_DAC_*)" \
		"$W/unr/src/d/secret.*Permission denied" "$W/unr/rootout/img" -- \
		setpriv --bounding-set=-dac_override,-dac_read_search \
		"$MKFS" --quiet "$W/unr/rootout/img" "$W/unr/src"
else
	as_user=()
fi
expect_fail "unreadable file" "$W/unr/src/d/secret.*Permission denied" \
	"$W/unr/out/img" -- ${as_user[@]+"${as_user[@]}"} \
	"$MKFS" --quiet "$W/unr/out/img" "$W/unr/src"
expect_fail "unreadable directory" "$W/unrd/src/closed.*Permission denied" \
	"$W/unrd/out/img" -- ${as_user[@]+"${as_user[@]}"} \
	"$MKFS" --quiet "$W/unrd/out/img" "$W/unrd/src"

# (leave the scratch tree removable by whoever runs the tests)
chmod 755 "$W/unrd/src/closed"
chmod 644 "$W/unr/src/d/secret"

# --- files that change while mkfs reads them --------------------------------
# A writer keeps changing the size of a 64 MiB file (ftruncate: no disk
# space needed) from before the scan until mkfs is done.
changing() {
	local name=$1 mode=$2 pid
	rm -rf "$W/chg"
	mkdir -p "$W/chg/src"
	head -c $((64 << 20)) /dev/zero | tr '\0' 'z' >"$W/chg/src/moving"
	python3 - "$W/chg/src/moving" "$mode" "$W/chg/stop" <<-'EOF' &
	import os, sys, time
	path, mode, stop = sys.argv[1:]
	base = os.path.getsize(path)
	end = time.time() + 60
	i = 0
	while not os.path.exists(stop) and time.time() < end:
	    i += 1
	    if mode == 'grow':
	        os.truncate(path, base + 4096 * i)
	    elif 4096 * i < base:
	        os.truncate(path, base - 4096 * i)
	        time.sleep(0.0005)
	    if i == 100:
	        open(stop + '.started', 'w').close()
	EOF
	pid=$!
	for _ in $(seq 500); do
		[ -e "$W/chg/stop.started" ] && break
		sleep 0.02
	done
	expect_fail "$name" \
		"$W/chg/src/moving.*(changed since it was scanned|grew|shrank)" \
		"$W/chg/img" -- mk --workers=1 "$W/chg/img" "$W/chg/src"
	touch "$W/chg/stop"
	wait "$pid"
	rm -rf "$W/chg"
}
changing "a file that grows while being read" grow
changing "a file that shrinks while being read" shrink

# --- names and sizes the format cannot hold -------------------------------
skip "name longer than 255 bytes" \
	"no Linux filesystem holds such a name; the tar source covers it"

# A tree too large for the format: a filesystem whose file claims 1 PiB of
# data (an EROFS image of ours with one inode's size raised; nothing is
# read before the layout refuses it).
too_large() {
	local d=$W/big nid
	mkdir -p "$d/src" "$d/m"
	head -c 8192 /dev/urandom >"$d/src/huge"
	touch -d @1000 "$d/src/huge" # an extended inode: a 64-bit size
	echo small >"$d/src/small"
	mk -T 1700000000 --mkfs-time "$d/inner.img" "$d/src" || return 1
	mount -t erofs -o loop,ro "$d/inner.img" "$d/m" || return 1
	nid=$(stat -c %i "$d/m/huge")
	umount "$d/m"
	python3 - "$d/inner.img" "$nid" <<-'EOF' || return 1
	import struct, sys
	with open(sys.argv[1], 'r+b') as f:
	    f.seek(1024 + 0x0c)
	    bits = f.read(1)[0]
	    f.seek(1024 + 0x28)
	    meta = struct.unpack('<I', f.read(4))[0]
	    off = (meta << bits) + int(sys.argv[2]) * 32
	    f.seek(off)
	    if not struct.unpack('<H', f.read(2))[0] & 1:
	        sys.exit('not an extended inode')
	    f.seek(off + 8)  # i_size of the extended inode
	    f.write(struct.pack('<Q', 1 << 50))
	EOF
	mount -t erofs -o loop,ro "$d/inner.img" "$d/m" || return 1
	_mounts+=("$d/m")
	[ "$(stat -c %s "$d/m/huge")" = $((1 << 50)) ]
}
if [ "$is_root" = 0 ] || [ -n "$(kernel_unavailable)" ]; then
	skip "tree too large for the format" \
		"needs root and the kernel to mount a crafted source"
elif ! too_large; then
	fail "tree too large for the format" "could not set up the 1 PiB source"
else
	for bs in 4096 512; do
		expect_fail "tree too large for the format (b$bs)" \
			"/huge.*2\^32 blocks" "$W/big/out.img" -- \
			mk -b "$bs" "$W/big/out.img" "$W/big/m"
	done
	umount "$W/big/m"
fi

# --- no space for the image, and an existing image kept ---------------------
mkdir -p "$W/full" "$W/fsrc"
head -c $((3 << 20)) /dev/urandom >"$W/fsrc/three-mib"
if [ "$is_root" = 1 ] && mount -t tmpfs -o size=1m tmpfs "$W/full"; then
	_mounts+=("$W/full")
	expect_fail "no space left for the image" \
		"$W/full/img.*No space left" "$W/full/img" -- \
		mk "$W/full/img" "$W/fsrc"
	# an old image in the full filesystem stays as it was
	mk -T 1 "$W/full/img" "$W/src" && cp "$W/full/img" "$W/old.img" &&
		expect_fail "an existing image survives running out of space" \
			"No space left" "$W/full/img" --keep "$W/old.img" -- \
			mk "$W/full/img" "$W/fsrc"
	umount "$W/full"
else
	skip "no space left for the image" "needs root to mount a small tmpfs"
fi
mk -T 1 "$W/keep.img" "$W/src" && cp "$W/keep.img" "$W/keep.copy"
expect_fail "an existing image survives a bad SOURCE" "No such file" \
	"$W/keep.img" --keep "$W/keep.copy" -- mk "$W/keep.img" "$W/nowhere"
expect_fail "an existing image survives an unreadable file" \
	"Permission denied" "$W/unr/out/keep.img" --keep "$W/keep.copy" -- \
	sh -c "cp '$W/keep.copy' '$W/unr/out/keep.img' &&
		chmod 666 '$W/unr/out/keep.img' && chmod 000 '$W/unr/src/d/secret' &&
		${as_user[*]+${as_user[*]}} '$MKFS' --quiet '$W/unr/out/keep.img' '$W/unr/src';
		rc=\$?; chmod 644 '$W/unr/src/d/secret'; exit \$rc"

# --- signals --------------------------------------------------------------
# A 64 GiB file with data at both ends: with --ishare mkfs hashes the
# zeroes of the holes, which takes long enough to interrupt it.
mkdir -p "$W/sig/src"
python3 - "$W/sig/src/long" <<-'EOF'
import sys
with open(sys.argv[1], 'wb') as f:
    f.write(b'head' * 1024)
    f.truncate(64 << 30)
    f.seek((64 << 30) - 4096)
    f.write(b'tail' * 1024)
EOF
# SIGKILL too: the image is written to an unnamed file (O_TMPFILE) that
# only gets its name once complete, so even a killed build leaves nothing.
for sig in INT TERM KILL; do
	img=$W/sig/img
	"$MKFS" --quiet --ishare --ishare-holes=$((1 << 40)) --workers=1 "$img" "$W/sig/src" >"$W/sig.out" 2>&1 &
	pid=$!
	# well into the build (hashing the holes), then interrupt
	sleep 0.5
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid"
		fail "SIG$sig leaves no temporary file" \
			"mkfs ended before the signal (exit $?)"
		continue
	fi
	kill -"$sig" "$pid"
	wait "$pid"
	rc=$?
	left=$(leftovers "$img")
	if [ "$rc" -eq 0 ]; then
		fail "SIG$sig leaves no temporary file" "mkfs finished with 0"
	elif [ -n "$left" ]; then
		fail "SIG$sig leaves no temporary file" "left behind: $left"
	else
		pass "SIG$sig leaves no temporary file"
	fi
done
# --- destinations that are not regular files -----------------------------
# Replaced by rename, a device node or FIFO would be gone: they are refused
# before any work, as erofs-utils does; a symlink to a regular file is
# followed, and the link stays.
mkdir -p "$W/dst/src"
echo data >"$W/dst/src/f"
mkfifo "$W/dst/fifo"
ln -s /proc/self/fd/1 "$W/dst/to-stdout"
ln -s "$W/dst/target.img" "$W/dst/link.img"
# (stdout is a pipe here, as on a terminal or in a pipeline)
for d in "$W/dst/fifo" /dev/null "$W/dst/to-stdout"; do
	before=$(stat -L -c '%F %t:%T' "$d" 2>&1)
	"$MKFS" --quiet "$d" "$W/dst/src" 2>"$W/dst.out" | cat >/dev/null
	if [ "${PIPESTATUS[0]}" -eq 0 ]; then
		fail "destination $d is refused" "mkfs succeeded"
	elif ! grep -q "bad file type" "$W/dst.out"; then
		fail "destination $d is refused" "$(head -n1 "$W/dst.out")"
	elif [ "$(stat -L -c '%F %t:%T' "$d" 2>&1)" != "$before" ]; then
		fail "destination $d is refused" "it changed: $(stat -c '%F' "$d")"
	else
		pass "destination $d is refused, untouched"
	fi
done
# a dangling link names no file to replace
if "$MKFS" --quiet "$W/dst/link.img" "$W/dst/src" >"$W/dst.out" 2>&1; then
	fail "a dangling symlink as destination is refused" "mkfs succeeded"
elif grep -q "dangling symbolic link" "$W/dst.out" && [ -L "$W/dst/link.img" ]; then
	pass "a dangling symlink as destination is refused"
else
	fail "a dangling symlink as destination is refused" "$(head -n1 "$W/dst.out")"
fi
: >"$W/dst/target.img"
if "$MKFS" --quiet "$W/dst/link.img" "$W/dst/src" >"$W/dst.out" 2>&1 &&
	[ -L "$W/dst/link.img" ] && [ -s "$W/dst/target.img" ]; then
	pass "a symlink to a regular file: the file is replaced, the link stays"
else
	fail "a symlink to a regular file" "$(head -n1 "$W/dst.out")"
fi

# --- --ungzip=FILE: no partial FILE when the stream is cut ----------------
mkdir -p "$W/gz"
tar -C "$W/dst/src" -czf "$W/gz/l.tgz" .
head -c 60 "$W/gz/l.tgz" >"$W/gz/cut.tgz"
if "$MKFS" --quiet --tar=f --ungzip="$W/gz/dump.tar" "$W/gz/o.img" \
	"$W/gz/cut.tgz" >"$W/gz.out" 2>&1; then
	fail "--ungzip=FILE of a cut stream" "mkfs succeeded"
elif [ -e "$W/gz/dump.tar" ] || [ -n "$(ls -A "$W/gz" | grep -v 'l.tgz\|cut.tgz')" ]; then
	fail "--ungzip=FILE of a cut stream leaves nothing" "$(ls -A "$W/gz")"
else
	pass "--ungzip=FILE of a cut stream leaves no partial FILE"
fi
exit 0
