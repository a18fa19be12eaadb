#!/usr/bin/env bash
# Inputs that once crashed or hung a fuzz target (fuzz/regress/TARGET/*)
# replayed through that target's harness and through the tools themselves
# ($MKFS, $FSCK, $DUMP: the plain build, or the sanitizer build in CI's
# second pass), plus scripted cases found the same way. Each run must end
# within a time limit, without a signal or a sanitizer report; a tar that
# mkfs accepts must build an image our fsck finds clean, and one it refuses
# must leave no image behind.
. "$(dirname "$0")/lib.sh"

R=$TOP_SRCDIR/fuzz/regress
LIMIT=120

# ends_well NAME OUTFILE RC: no signal, timeout or sanitizer report
ends_well() {
	local name=$1 out=$2 rc=$3
	if [ "$rc" -eq 124 ]; then
		fail "$name" "did not finish within ${LIMIT}s"
	elif [ "$rc" -ge 128 ]; then
		fail "$name" "killed by signal $((rc - 128)): $(tail -n 3 "$out")"
	elif grep -qE 'Sanitizer|runtime error:' "$out"; then
		fail "$name" "$(grep -m1 -E 'Sanitizer|runtime error:' "$out")"
	else
		return 0
	fi
	return 1
}

# tool NAME COMMAND...: the command ends well, whatever its exit status
tool() {
	local name=$1 rc
	shift
	timeout "$LIMIT" "$@" >"$TEST_TMP/out" 2>&1
	rc=$?
	ends_well "$name" "$TEST_TMP/out" "$rc" && pass "$name"
}

# harness TARGET INPUT: the fuzz target's own code on the input
harness() {
	local bin=$TOP_BUILDDIR/fuzz/fuzz-$1 rc
	[ -x "$bin" ] || return 0
	timeout "$LIMIT" "$bin" "$2" >"$TEST_TMP/out" 2>&1
	rc=$?
	if ends_well "fuzz-$1 $(basename "$2")" "$TEST_TMP/out" "$rc"; then
		if [ "$rc" -ne 0 ]; then
			fail "fuzz-$1 $(basename "$2")" "exit $rc: $(tail -n 3 "$TEST_TMP/out")"
		else
			pass "fuzz-$1 $(basename "$2")"
		fi
	fi
}

images() {
	local f n x=$TEST_TMP/x
	for f in "$R"/fsck/* "$R"/dump/*; do
		[ -f "$f" ] || continue
		n=$(basename "$(dirname "$f")")/$(basename "$f")
		harness "$(basename "$(dirname "$f")")" "$f"
		rm -rf "$x"
		tool "fsck $n" "$FSCK" --no-sbcrc "$f"
		tool "fsck --extract $n" "$FSCK" --no-sbcrc --extract="$x" \
			--overwrite --xattrs "$f"
		tool "dump -s -S $n" "$DUMP" -s -S "$f"
		tool "dump --ls -e / $n" "$DUMP" --ls -e --path=/ "$f"
		rm -rf "$x"
	done
}

tars() {
	local f n img=$TEST_TMP/tar.img rc left
	for f in "$R"/tar/*; do
		[ -f "$f" ] || continue
		n=tar/$(basename "$f")
		harness tar "$f"
		rm -f "$img"
		timeout "$LIMIT" "$MKFS" --quiet --tar=f "$img" "$f" \
			>"$TEST_TMP/out" 2>&1
		rc=$?
		ends_well "mkfs --tar=f $n" "$TEST_TMP/out" "$rc" || continue
		left=$(find "$TEST_TMP" -maxdepth 1 -name '.tar.img.*')
		if [ "$rc" -ne 0 ] && { [ -e "$img" ] || [ -n "$left" ]; }; then
			fail "mkfs --tar=f $n" "refused, yet left $img $left"
		elif [ "$rc" -ne 0 ]; then
			pass "mkfs --tar=f $n (refused: $(head -c 120 "$TEST_TMP/out"))"
		elif ! timeout "$LIMIT" "$FSCK" "$img" >"$TEST_TMP/out" 2>&1; then
			fail "mkfs --tar=f $n" "fsck of the image: $(tail -n 2 "$TEST_TMP/out")"
		else
			pass "mkfs --tar=f $n"
		fi
	done
}

shares() {
	local f n
	for f in "$R"/share/*; do
		[ -f "$f" ] || continue
		n=share/$(basename "$f")
		harness share "$f"
		# a little-endian u32 length, then image A, then image B
		python3 - "$f" "$TEST_TMP/a.img" "$TEST_TMP/b.img" <<-'EOF'
		import struct, sys
		d = open(sys.argv[1], 'rb').read()
		n = min(struct.unpack('<I', d[:4].ljust(4, b'\0'))[0], len(d) - 4)
		open(sys.argv[2], 'wb').write(d[4:4 + max(n, 0)])
		open(sys.argv[3], 'wb').write(d[4 + max(n, 0):])
		EOF
		tool "dump --share-report $n" "$DUMP" --share-report \
			"$TEST_TMP/a.img" "$TEST_TMP/b.img"
		tool "dump --share-report --verify --json $n" "$DUMP" \
			--share-report --verify --json "$TEST_TMP/a.img" \
			"$TEST_TMP/b.img"
	done
}

manifests() {
	local f n
	for f in "$R"/manifest/*; do
		[ -f "$f" ] || continue
		n=manifest/$(basename "$f")
		harness manifest "$f"
		tool "dump --share-report $n (twice)" "$DUMP" --share-report \
			"$f" "$f"
		tool "dump --share-report --matrix --nodes=2 $n" "$DUMP" \
			--share-report --matrix --nodes=2 --json "$f" "$f"
	done
}

# The corpus of the last long fuzz run of each target, minimized
# (fuzz/corpus/TARGET.tar.xz): every input through the target's harness in
# one run, which must end well.
corpora() {
	local c t dir rc
	for c in "$TOP_SRCDIR"/fuzz/corpus/*.tar.xz; do
		[ -f "$c" ] || continue
		t=$(basename "$c" .tar.xz)
		[ -x "$TOP_BUILDDIR/fuzz/fuzz-$t" ] || {
			skip "fuzz-$t corpus" "fuzz/fuzz-$t is not built (make check builds it)"
			continue
		}
		dir=$TEST_TMP/corpus-$t
		rm -rf "$dir"
		mkdir -p "$dir"
		tar -C "$dir" -xJf "$c" || {
			fail "fuzz-$t corpus" "cannot unpack $c"
			continue
		}
		# the replay harness takes many files; libFuzzer's runs them too
		timeout $((LIMIT * 10)) "$TOP_BUILDDIR/fuzz/fuzz-$t" \
			$(find "$dir" -type f | sort) >"$TEST_TMP/out" 2>&1
		rc=$?
		if ends_well "fuzz-$t corpus" "$TEST_TMP/out" "$rc"; then
			if [ "$rc" -ne 0 ]; then
				fail "fuzz-$t corpus" "exit $rc: $(tail -n 3 "$TEST_TMP/out")"
			else
				pass "fuzz-$t corpus: $(find "$dir" -type f | wc -l) inputs"
			fi
		fi
		rm -rf "$dir"
	done
}

# Scripted: fragments that do not compress (the packed inode stored flat
# was taken for a source path; fuzz-tar found it).
scripted() {
	local s=$TEST_TMP/frag i
	mkdir -p "$s/src"
	for i in 1 2 3; do
		head -c 700 /dev/urandom >"$s/src/f$i"
	done
	if ! "$MKFS" --quiet -zzstd -Efragments -b512 "$s/img" "$s/src" \
		>"$TEST_TMP/out" 2>&1; then
		ends_well "fragments that do not compress" "$TEST_TMP/out" 1 &&
			fail "fragments that do not compress" "mkfs: $(head -c 200 "$TEST_TMP/out")"
	elif ! "$FSCK" --extract="$s/x" "$s/img" >"$TEST_TMP/out" 2>&1; then
		fail "fragments that do not compress" "fsck: $(tail -n 2 "$TEST_TMP/out")"
	elif ! diff -r "$s/src" "$s/x" >/dev/null; then
		fail "fragments that do not compress" "extracted tree differs"
	else
		pass "fragments that do not compress"
	fi
}

images
tars
shares
manifests
corpora
scripted
exit 0
