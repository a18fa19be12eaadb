#!/bin/bash
# Our fsck.erofs reads compressed images: those erofs-utils makes (the
# newest with every algorithm and layout option, bookworm's 1.5 with
# lz4hc) and ours must extract to exactly their source, and our dump.erofs
# and share report read erofs-utils' deflate images; damaged compressed
# images must be reported, never crash or hang the reader.
. "$(dirname "$0")/lib.sh"

src=$TEST_TMP/src
mkdir -p "$src"
python3 - "$src" <<'EOF'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(11)
def put(name, data):
    p = os.path.join(root, name)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, 'wb') as f:
        f.write(data)
def rand(n):
    return rnd.getrandbits(8 * n).to_bytes(n, 'little') if n else b''
def text(n):
    words = [b'lcluster', b'pcluster', b'head', b'fragment', b'\n', b'a']
    out = bytearray()
    while len(out) < n:
        out += rnd.choice(words) + b' '
    return bytes(out[:n])
for n in (1, 50, 4095, 4097, 70000, 300001):
    put('r/%d' % n, rand(n))
    put('t/%d' % n, text(n))
put('z/zero', bytes(600000))
put('m/mixed', b''.join(rand(4096) if i % 4 == 1 else text(4096)
                        for i in range(200)) + b'end')
put('d/a', text(90000))
put('d/b', open(os.path.join(root, 'd/a'), 'rb').read())
os.symlink('t/4097', os.path.join(root, 'link'))
EOF

if [ ! -x "$FSCK" ]; then
	skip "our fsck" "fsck.erofs is not built"
	exit 0
fi

# extract_check NAME IMAGE: our fsck extracts IMAGE equal to the source.
extract_check() {
	local name=$1 img=$2 out
	rm -rf "$TEST_TMP/ex"
	if ! out=$("$FSCK" --extract="$TEST_TMP/ex" "$img" 2>&1); then
		fail "$name" "fsck: $(echo "$out" | grep -m1 -v '^No errors')"
	elif out=$(echo "$out" | grep -i 'warning\|error' | grep -v '^No errors'); [ -n "$out" ]; then
		fail "$name" "fsck complained: $(echo "$out" | head -n 1)"
	elif ! out=$(diff -r --no-dereference "$src" "$TEST_TMP/ex" 2>&1); then
		fail "$name" "extracted tree differs: $(echo "$out" | head -n 1)"
	else
		pass "$name"
	fi
}

EU_BIN=$(bash "$TOP_SRCDIR/tests/oracle/erofs-utils-new.sh" 2>/dev/null) ||
	EU_BIN=
if [ -n "$EU_BIN" ]; then
	for a in lz4 lz4hc lzma zstd deflate deflate,9 libdeflate; do
		for v in "" "-Eztailpacking" "-Efragments" "-Ededupe" \
			"-C65536 -Eall-fragments" "-Elegacy-compress -C16384" \
			"-b512 -Eztailpacking" "-E48bit" "-E48bit,fragments" \
			"-E48bit --max-extent-bytes=-65536"; do
			# lz4hc and deflate cover the options, the others the
			# basics
			[ "$a" != lz4hc ] && [ "$a" != deflate ] && [ -n "$v" ] &&
				[ "$v" != "-Eztailpacking" ] && continue
			name="erofs-utils 1.9 -z$a $v"
			# shellcheck disable=SC2086
			if ! "$EU_BIN/mkfs.erofs" --quiet -z$a $v -T0 \
				"$TEST_TMP/eu.img" "$src" >"$TEST_TMP/eu.out" 2>&1; then
				fail "$name" "mkfs: $(head -n 1 "$TEST_TMP/eu.out")"
				continue
			fi
			extract_check "$name" "$TEST_TMP/eu.img"
		done
	done
	# dump.erofs and the share report read the same deflate clusters
	if [ -x "$DUMP" ] && "$EU_BIN/mkfs.erofs" --quiet -zdeflate \
		-Eztailpacking,fragments --xattr-inode-digest -T0 \
		"$TEST_TMP/eu.img" "$src" >"$TEST_TMP/eu.out" 2>&1; then
		if "$DUMP" -s "$TEST_TMP/eu.img" |
			grep -q '^Filesystem compr_algs: *deflate'; then
			pass "dump -s: erofs-utils' deflate image"
		else
			fail "dump -s: erofs-utils' deflate image" "no deflate line"
		fi
		bad=
		for f in t/300001 r/70000 m/mixed z/zero t/4097; do
			"$DUMP" --cat --path=/$f "$TEST_TMP/eu.img" |
				cmp -s - "$src/$f" || bad="$bad $f"
		done
		if [ -z "$bad" ]; then
			pass "dump --cat: erofs-utils' deflate image"
		else
			fail "dump --cat: erofs-utils' deflate image" "differs:$bad"
		fi
		if out=$("$DUMP" --share-report --verify "$TEST_TMP/eu.img" \
			"$TEST_TMP/eu.img" 2>&1); then
			pass "share report --verify: erofs-utils' deflate image"
		else
			fail "share report --verify: erofs-utils' deflate image" \
				"$(echo "$out" | grep -m1 -i 'error\|mismatch\|fail')"
		fi
	else
		fail "erofs-utils 1.9 -zdeflate for dump" \
			"$(head -n 1 "$TEST_TMP/eu.out" 2>/dev/null)"
	fi
else
	skip "erofs-utils 1.9 images" "newest erofs-utils unavailable"
fi

if [ -x /usr/bin/mkfs.erofs ]; then
	for v in "" "-Eztailpacking" "-C16384" "-Efragments,dedupe"; do
		name="erofs-utils 1.5 -zlz4hc $v"
		# shellcheck disable=SC2086
		if /usr/bin/mkfs.erofs -zlz4hc $v -T0 "$TEST_TMP/o5.img" "$src" \
			>"$TEST_TMP/o5.out" 2>&1; then
			extract_check "$name" "$TEST_TMP/o5.img"
		else
			fail "$name" "mkfs: $(tail -n 1 "$TEST_TMP/o5.out")"
		fi
	done
else
	skip "erofs-utils 1.5 images" "bookworm's erofs-utils is not installed"
fi

for a in lz4 lzma zstd deflate; do
	for v in "" "-Eztailpacking" "-Efragments,dedupe" "-b512 -C4096"; do
		name="ours -z$a $v"
		# shellcheck disable=SC2086
		if "$MKFS" --quiet -z$a $v -T0 "$TEST_TMP/o.img" "$src" \
			2>"$TEST_TMP/o.err"; then
			extract_check "$name" "$TEST_TMP/o.img"
		else
			fail "$name" "mkfs: $(head -n 1 "$TEST_TMP/o.err")"
		fi
	done
done

# Damage: flip bytes of the metadata (maps, inline clusters) and data
# (clusters); fsck must finish with an fsck(8) status (a sum of 1, 2, 4,
# 8, 16), never a signal or a hang.
for dalg in lz4hc deflate; do
	if ! "$MKFS" --quiet -z$dalg -Eztailpacking,fragments -T0 \
		"$TEST_TMP/d.img" "$src" 2>/dev/null; then
		skip "damaged -z$dalg images" "this build has no $dalg compressor"
		continue
	fi
	size=$(stat -c %s "$TEST_TMP/d.img")
	crashes=0 hangs=0
	for i in $(seq 1 40); do
		cp "$TEST_TMP/d.img" "$TEST_TMP/bad.img"
		python3 - "$TEST_TMP/bad.img" "$i" "$size" <<'EOF'
import random, sys
path, seed, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
with open(path, 'r+b') as f:
    for _ in range(rnd.choice((1, 4, 16))):
        # mostly the metadata at the end, sometimes anywhere but the sb
        pos = (size - rnd.randrange(1, 16384)) if rnd.random() < 0.7 \
            else rnd.randrange(4096, size)
        f.seek(pos)
        f.write(bytes([rnd.randrange(256)]))
EOF
		rm -rf "$TEST_TMP/bx"
		timeout 60 "$FSCK" --extract="$TEST_TMP/bx" "$TEST_TMP/bad.img" \
			>/dev/null 2>&1
		rc=$?
		if [ "$rc" -eq 124 ]; then
			hangs=$((hangs + 1))
		elif [ "$rc" -gt 31 ]; then
			crashes=$((crashes + 1))
			echo "    seed $i: exit status $rc"
		fi
	done
	if [ "$crashes" -eq 0 ] && [ "$hangs" -eq 0 ]; then
		pass "damaged -z$dalg images: 40 tries, no crash or hang"
	else
		fail "damaged -z$dalg images" "$crashes crashes, $hangs hangs"
	fi
done
exit 0
