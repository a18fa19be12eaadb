#!/bin/bash
# Compressed images: every algorithm, with and without ztailpacking,
# fragments, dedupe, big physical clusters and full (legacy) indexes, at
# 4096- and 512-byte blocks (deflate at 1024 and 2048 too). Each image is mounted by the kernel and compared with its source,
# the kernel log is checked, and the newest erofs-utils' fsck.erofs and
# ours must accept it and extract the same tree.
. "$(dirname "$0")/lib.sh"

src=$TEST_TMP/src
mnt=$TEST_TMP/mnt
mkdir -p "$src" "$mnt"

# Contents: incompressible, compressible (text, repeated patterns),
# zero-filled, tiny (1..100 bytes), sizes around a block, and files longer
# than one 16 MiB compression segment.
make_tree() {
	python3 - "$src" <<'EOF'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(6)
def put(name, data):
    p = os.path.join(root, name)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, 'wb') as f:
        f.write(data)
def rand(n):
    return rnd.getrandbits(8 * n).to_bytes(n, 'little') if n else b''
def text(n):
    words = [b'erofs', b'cluster', b'kernel', b'page', b'cache', b'block',
             b'compress', b'extent', b'inode', b'\n', b'the', b'of']
    out = bytearray()
    while len(out) < n:
        out += rnd.choice(words) + b' '
    return bytes(out[:n])
for n in (1, 2, 7, 31, 64, 99, 100):
    put('tiny/r%d' % n, rand(n))
    put('tiny/t%d' % n, text(n))
for n in (511, 512, 513, 4095, 4096, 4097, 8191, 12289, 65536, 200001):
    put('rand/%d' % n, rand(n))
    put('text/%d' % n, text(n))
put('zero/1m', bytes(1 << 20))
put('zero/4097', bytes(4097))
put('pattern/abc', b'abcdefgh' * 40000 + b'tail')
put('mixed/blocks', b''.join(rand(4096) if i % 3 else text(4096)
                             for i in range(300)) + b'end')
put('mixed/rand-text', rand(256 << 10) + text(256 << 10))
put('text/3m', text(3 << 20))
put('big/segments', text(9 << 20) + rand(3 << 20) + bytes(5 << 20) + b'x')
# duplicates and shared tails, for dedupe and fragments
dup = text(150000)
for name in ('dup/a', 'dup/b', 'dup/sub/c'):
    put(name, dup)
put('dup/rand-a', rand(70000))
put('dup/rand-b', open(os.path.join(root, 'dup/rand-a'), 'rb').read())
put('dup/tail-x', rand(9000) + dup[-5000:])
put('dup/tail-y', text(9000) + dup[-5000:])
os.symlink('text/4096', os.path.join(root, 'link'))
os.makedirs(os.path.join(root, 'empty'))
put('empty-file', b'')
EOF
}

# compare_trees A B: contents and metadata agree.
compare_trees() {
	if [ -f "$TOP_SRCDIR/tests/compare_tree.py" ]; then
		python3 "$TOP_SRCDIR/tests/compare_tree.py" "$1" "$2"
		return
	fi
	diff -r --no-dereference "$1" "$2" &&
		diff <(cd "$1" && find . -printf '%p %y %m %s %T@ %l\n' | sort) \
			<(cd "$2" && find . -printf '%p %y %m %s %T@ %l\n' | sort)
}

make_tree || { fail make-tree "cannot generate the source tree"; exit 0; }
# Most images are built from a smaller tree without the multi-segment
# files, which keeps the test quick; those get images of their own.
small=$TEST_TMP/small
cp -a "$src" "$small" && rm -rf "$small/big" "$small/text/3m"

why=$(kernel_unavailable)
EU_BIN=$(bash "$TOP_SRCDIR/tests/oracle/erofs-utils-new.sh" 2>/dev/null) ||
	EU_BIN=

# check_image NAME IMAGE SRC: kernel round trip and erofs-utils' fsck.
check_image() {
	local name=$1 img=$2 src=$3 mark out dev msgs
	if [ -n "$why" ]; then
		skip "$name: kernel" "$why"
	else
		mark="erofs-compress-test-$$-$RANDOM"
		echo "$mark" >/dev/kmsg 2>/dev/null
		if ! kmount "$img" "$mnt" 2>"$TEST_TMP/mount.err"; then
			fail "$name: kernel" "mount: $(cat "$TEST_TMP/mount.err")"
		else
			dev=$(findmnt -n -o SOURCE "$mnt")
			if out=$(compare_trees "$src" "$mnt" 2>&1); then
				pass "$name: kernel"
			else
				fail "$name: kernel" "$(echo "$out" | head -n 3)"
			fi
			kumount "$mnt"
			msgs=$(dmesg | sed -n "/$mark/,\$p" |
				grep -F "erofs (device ${dev#/dev/})" |
				grep -v 'mounted with root inode\|EXPERIMENTAL')
			if [ -n "$msgs" ]; then
				fail "$name: dmesg" "$(echo "$msgs" | head -n 1)"
			else
				pass "$name: dmesg"
			fi
		fi
	fi
	if [ -x "$FSCK" ]; then
		rm -rf "$TEST_TMP/ex"
		if ! out=$("$FSCK" --extract="$TEST_TMP/ex" "$img" 2>&1); then
			fail "$name: our fsck" "$(echo "$out" | grep -m1 -v '^No errors')"
		elif ! out=$(diff -r --no-dereference "$src" "$TEST_TMP/ex" 2>&1)
		then
			fail "$name: our fsck extract" "$(echo "$out" | head -n 2)"
		else
			pass "$name: our fsck"
		fi
	fi
	if [ -z "$EU_BIN" ]; then
		skip "$name: fsck.erofs 1.9" "newest erofs-utils unavailable"
		return
	fi
	rm -rf "$TEST_TMP/ex"
	if ! out=$("$EU_BIN/fsck.erofs" --extract="$TEST_TMP/ex" "$img" 2>&1)
	then
		fail "$name: fsck.erofs 1.9" "$(echo "$out" | grep -m1 .)"
	elif ! out=$(diff -r --no-dereference "$src" "$TEST_TMP/ex" 2>&1); then
		fail "$name: fsck.erofs 1.9 extract" "$(echo "$out" | head -n 2)"
	else
		pass "$name: fsck.erofs 1.9"
	fi
	rm -rf "$TEST_TMP/ex"
}

# The on-disk algorithm a compressor writes, as dump -e names it.
erofs_alg_name() {
	case $1 in
	lz4 | lz4hc) echo lz4 ;;
	libdeflate) echo deflate ;;
	*) echo "$1" ;;
	esac
}

algs=()
for a in lz4 lz4hc lzma zstd deflate; do
	if "$MKFS" --quiet -z$a -T0 "$TEST_TMP/probe.img" "$src/tiny" \
		>/dev/null 2>&1; then
		algs+=("$a")
	else
		skip "$a" "this build has no $a compressor"
	fi
done

for bs in 4096 512 1024 2048; do
	tree=$small
	for a in "${algs[@]}"; do
		# the middle block sizes for deflate only, to keep this quick
		[ "$bs" -lt 4096 ] && [ "$bs" != 512 ] && [ "$a" != deflate ] &&
			continue
		variants=("" "-Eztailpacking" "-Efragments" "-Ededupe")
		[ "$bs" = 4096 ] && variants+=("-C16384 -Eztailpacking"
			"-Elegacy-compress" "-Eall-fragments"
			"-C65536 -Efragments,dedupe,ztailpacking")
		for v in "${variants[@]}"; do
			name="-b$bs -z$a $v"
			img=$TEST_TMP/img
			# shellcheck disable=SC2086
			if ! out=$("$MKFS" --quiet -b$bs -z$a $v -T1700000000 \
				--mkfs-time "$img" "$tree" 2>&1); then
				fail "$name" "mkfs: $out"
				continue
			fi
			check_image "$name" "$img" "$tree"
		done
	done
done

# Files longer than a compression segment, with every algorithm.
for a in "${algs[@]}"; do
	v=""
	[ "$a" = "${algs[0]}" ] && v="-Efragments,ztailpacking"
	name="segments -z$a $v"
	# shellcheck disable=SC2086
	if ! out=$("$MKFS" --quiet -z$a $v -T1700000000 --mkfs-time \
		"$TEST_TMP/img" "$src" 2>&1); then
		fail "$name" "mkfs: $out"
		continue
	fi
	check_image "$name" "$TEST_TMP/img" "$src"
done

# The same image whatever the number of worker threads.
a=${algs[0]:-}
if [ -n "$a" ]; then
	"$MKFS" --quiet -z$a -Eztailpacking -T1 -Uclear --workers=1 \
		"$TEST_TMP/w1.img" "$src" &&
		"$MKFS" --quiet -z$a -Eztailpacking -T1 -Uclear --workers=2 \
			"$TEST_TMP/w2.img" "$src" &&
		"$MKFS" --quiet -z$a -Eztailpacking -T1 -Uclear --workers=7 \
			"$TEST_TMP/w7.img" "$src"
	if cmp -s "$TEST_TMP/w1.img" "$TEST_TMP/w2.img" &&
		cmp -s "$TEST_TMP/w1.img" "$TEST_TMP/w7.img"; then
		pass "same image for --workers=1, 2 and 7"
	else
		fail "same image for --workers=1, 2 and 7" "images differ"
	fi
fi

# Identical files share their clusters with -E dedupe: the image is smaller
# than the same build without, by about the duplicated data.
a=${algs[0]:-}
if [ -n "$a" ]; then
	"$MKFS" --quiet -z$a -T1 "$TEST_TMP/nd.img" "$src/dup"
	"$MKFS" --quiet -z$a -T1 -Ededupe "$TEST_TMP/dd.img" "$src/dup"
	nd=$(stat -c %s "$TEST_TMP/nd.img") dd=$(stat -c %s "$TEST_TMP/dd.img")
	if [ $((nd - dd)) -ge 65536 ]; then
		pass "dedupe shares identical files ($nd -> $dd bytes)"
	else
		fail "dedupe shares identical files" "$nd -> $dd bytes"
	fi
fi

# Files that do not shrink are stored uncompressed; files that do are not.
if [ -n "$EU_BIN" ] && [ -n "$a" ]; then
	"$MKFS" --quiet -z$a -T1 "$TEST_TMP/c.img" "$src"
	layout_of() {
		"$EU_BIN/dump.erofs" --path="$1" "$TEST_TMP/c.img" |
			sed -n 's/.*Layout: \([0-9]\).*/\1/p'
	}
	l1=$(layout_of /rand/200001) l2=$(layout_of /text/200001)
	l3=$(layout_of /big/segments)
	if [ "$l1" = 0 -o "$l1" = 2 ] && [ "$l2" = 3 ] && [ "$l3" = 3 ]; then
		pass "layout class: incompressible flat, compressible compact"
	else
		fail "layout class" "rand/200001=$l1 text/200001=$l2 big=$l3"
	fi
fi

# lz4hc, lzma and deflate look at the cluster after one that did not compress with
# fast lz4 first, and store it as it is when that finds nothing to shrink
# (lib/compress.c): the incompressible half of mixed/rand-text is stored
# uncompressed, and its compressible half must be compressed again.
if [ -x "$DUMP" ]; then
	for x in "${algs[@]}"; do
		case $x in lz4hc | lzma | deflate) ;; *) continue ;; esac
		"$MKFS" --quiet -z$x -T1 "$TEST_TMP/rt.img" "$small" || {
			fail "-z$x: compressible data after incompressible" "mkfs failed"
			continue
		}
		out=$("$DUMP" -e --path=/mixed/rand-text "$TEST_TMP/rt.img" |
			awk -v half=$((256 << 10)) -v alg="($(erofs_alg_name $x))" '
			$5 != "cluster" { next }
			{ split($2, r, /\.\./) }
			r[2] <= half && $6 != "(uncompressed)" { bad++ }
			# (a last piece under a block cannot save one)
			r[1] >= half + 4096 && $6 != alg &&
				!(r[2] == 2 * half && $3 < 4096) { bad++ }
			r[1] >= half + 4096 { packed += $3 }
			END { printf "%d %d\n", bad, packed }')
		read -r bad packed <<<"$out"
		if [ "$bad" = 0 ] && [ "$packed" -ge $((200 << 10)) ]; then
			pass "-z$x: compressible data after incompressible is compressed"
		else
			fail "-z$x: compressible data after incompressible" \
				"$bad extents of the wrong kind, $packed bytes compressed"
		fi
	done
fi

# --compress-hints: per-path cluster size and alternative, 0 = plain;
# --max-extent-bytes bounds every extent; both seen through our dump -e.
alt=
for x in "${algs[@]}"; do
	case $x in lzma | zstd) alt=$x; break ;; esac
done
if [ -n "$alt" ] && [ -x "$DUMP" ]; then
	printf '%s\n' '# comment' '0 ^tiny/' '16384 1 ^text/' >"$TEST_TMP/hints"
	if "$MKFS" --quiet -z${algs[0]}:$alt -T1 --mkfs-time \
		--compress-hints="$TEST_TMP/hints" --max-extent-bytes=65536 \
		"$TEST_TMP/h.img" "$small" 2>"$TEST_TMP/h.err"; then
		t=$("$DUMP" -e --path=/text/200001 "$TEST_TMP/h.img")
		r=$("$DUMP" -e --path=/pattern/abc "$TEST_TMP/h.img")
		n=$("$DUMP" --path=/tiny/t100 "$TEST_TMP/h.img")
		want=$(erofs_alg_name "$alt")
		if echo "$t" | grep -q "cluster ($want" &&
			! echo "$r" | grep -q "cluster ($want" &&
			echo "$n" | grep -q 'Layout:.*flat'; then
			pass "compress hints choose algorithm and plain files"
		else
			fail "compress hints" "text: $(echo "$t" | sed -n 16p); tiny: $(echo "$n" | grep Layout)"
		fi
		big=$(echo "$r" | awk '$5 ~ /^cluster/ && $3 > 65536')
		if [ -z "$big" ] && echo "$r" | grep -q cluster; then
			pass "--max-extent-bytes bounds extents"
		else
			fail "--max-extent-bytes" "$(echo "$big" | head -n 1)"
		fi
		check_image "hints" "$TEST_TMP/h.img" "$small"
	else
		fail "compress hints" "mkfs: $(head -n 1 "$TEST_TMP/h.err")"
	fi
fi

# Fingerprints are over the uncompressed content, for one-segment files
# hashed by the workers and for longer ones by the committer.
if [ -n "$a" ] && [ -x "$FSCK" ] &&
	"$MKFS" --quiet -z$a -Eztailpacking --ishare -T1 "$TEST_TMP/fp.img" \
		"$src" 2>/dev/null; then
	if out=$("$FSCK" --xattr-inode-digest "$TEST_TMP/fp.img" 2>&1); then
		pass "fingerprints of compressed files verify"
	else
		fail "fingerprints of compressed files" "$(echo "$out" | head -n 1)"
	fi
fi

# deflate's other spellings and settings: the window the image declares
# (windowbits in its config record, after the superblock and its 2-byte
# size) is the dictsize asked for, 32 KiB by default and for libdeflate;
# alternatives with another algorithm, chosen by --compress-hints, bounded
# by --max-extent-bytes.
if [[ " ${algs[*]} " == *" deflate "* ]]; then
	# windowbits IMAGE: the deflate record's first byte (deflate alone)
	windowbits() {
		python3 - "$1" <<'EOF'
import struct, sys
with open(sys.argv[1], 'rb') as f:
    f.seek(1024 + 128)
    size, = struct.unpack('<H', f.read(2))
    print(f.read(1)[0] if size == 6 else 'size%d' % size)
EOF
	}
	for v in "deflate 15" "deflate,level=9 15" "deflate,dictsize=4096 12" \
		"deflate,3,dictsize=512 9" "libdeflate 15" "libdeflate,12 15"; do
		set -- $v
		name="-z$1"
		# shellcheck disable=SC2086
		if ! out=$("$MKFS" --quiet -z$1 -C16384 -Eztailpacking \
			-T1700000000 --mkfs-time "$TEST_TMP/img" "$small" 2>&1)
		then
			if [[ $1 == libdeflate* ]] &&
				echo "$out" | grep -q 'not built in'; then
				skip "$name" "this build has no libdeflate"
			else
				fail "$name" "mkfs: $out"
			fi
			continue
		fi
		wb=$(windowbits "$TEST_TMP/img")
		if [ "$wb" = "$2" ]; then
			pass "$name: windowbits $2 in the config record"
		else
			fail "$name: windowbits" "$wb, expected $2"
		fi
		check_image "$name" "$TEST_TMP/img" "$small"
	done
	printf '%s\n' '0 ^tiny/' '65536 1 ^text/' '8192 0 ^rand/' \
		>"$TEST_TMP/dhints"
	if "$MKFS" --quiet -zlz4hc:deflate -T1 --mkfs-time \
		--compress-hints="$TEST_TMP/dhints" --max-extent-bytes=32768 \
		"$TEST_TMP/dh.img" "$small" 2>"$TEST_TMP/dh.err"; then
		t=$("$DUMP" -e --path=/text/200001 "$TEST_TMP/dh.img")
		r=$("$DUMP" -e --path=/pattern/abc "$TEST_TMP/dh.img")
		big=$(echo "$t$r" | awk '$5 ~ /^cluster/ && $3 > 32768')
		if echo "$t" | grep -q "cluster (deflate" &&
			echo "$r" | grep -q "cluster (lz4" && [ -z "$big" ]; then
			pass "-zlz4hc:deflate hints and --max-extent-bytes"
		else
			fail "-zlz4hc:deflate hints" "text: $(echo "$t" | grep -m1 cluster); abc: $(echo "$r" | grep -m1 cluster)"
		fi
		check_image "-zlz4hc:deflate hints" "$TEST_TMP/dh.img" "$small"
	else
		fail "-zlz4hc:deflate hints" "mkfs: $(head -n 1 "$TEST_TMP/dh.err")"
	fi
fi

# Option errors are reported, not ignored.
for bad in "-znope" "-zlz4,level=99x" "-zlz4 -C1000" "-zlz4 -Ebogus" \
	"-zdeflate,0" "-zdeflate,10" "-zdeflate,dictsize=5000" \
	"-zdeflate,dictsize=65536" "-zdeflate,dictsize=256"; do
	# shellcheck disable=SC2086
	if "$MKFS" --quiet $bad "$TEST_TMP/bad.img" "$src/tiny" \
		>/dev/null 2>&1 || [ -e "$TEST_TMP/bad.img" ]; then
		fail "rejects $bad" "accepted"
	else
		pass "rejects $bad"
	fi
done
exit 0
