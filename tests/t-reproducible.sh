#!/usr/bin/env bash
# Reproducible builds: the same tree with the same -T and -U gives the same
# bytes, whatever the number of workers, with xattrs, fingerprints, any
# block size, and from a copy of the tree (other inode numbers, other
# directory order on disk); another -U changes only the UUID and the
# superblock checksum. Needs no root (devices and owners need it for the
# full tree; gen_tree.py says what it could not make).
. "$(dirname "$0")/lib.sh"
. "$TOP_SRCDIR/tests/roundtrip_lib.sh"

src=$TEST_TMP/src
gen_tree "gen_tree" "$src" --seed 5 --small --xattrs \
	--huge-size $((256 << 20)) --build-time "$BT" || exit 0
a=$TEST_TMP/a.img b=$TEST_TMP/b.img

# same NAME "OPTIONS A" "OPTIONS B" [SOURCE B]: two builds, same bytes
same() {
	local name=$1 oa=$2 ob=$3 sb=${4:-$src} out
	# shellcheck disable=SC2086
	run_mkfs "$name" $oa "$a" "$src" || return
	# shellcheck disable=SC2086
	run_mkfs "$name" $ob "$b" "$sb" || return
	if out=$(cmp "$a" "$b" 2>&1); then
		pass "$name"
	else
		fail "$name" "$out ($(cmp -l "$a" "$b" | wc -l) bytes differ)"
	fi
}

fixed="-T $BT -U $FIXED_UUID"
same "same options, same bytes" "$fixed" "$fixed"
same "same bytes with --mkfs-time" "$fixed --mkfs-time" "$fixed --mkfs-time"
same "same bytes with --ishare" "$fixed --mkfs-time --ishare" \
	"$fixed --mkfs-time --ishare"
same "same bytes with -b 512 and -x 0" "$fixed --mkfs-time -b 512 -x 0" \
	"$fixed --mkfs-time -b 512 -x 0"
same "same bytes with --xattr-prefix" \
	"$fixed --mkfs-time --xattr-prefix=trusted.overlay. --xattr-prefix=user.attr" \
	"$fixed --mkfs-time --xattr-prefix=trusted.overlay. --xattr-prefix=user.attr"
same "same bytes with --no-fsync" "$fixed --mkfs-time --ishare" \
	"$fixed --mkfs-time --ishare --no-fsync"

# The image is synced before the rename, unless --no-fsync: strace sees
# the build's sync calls (the flusher thread's and the last one) or none.
if ! command -v strace >/dev/null; then
	skip "--no-fsync skips the syncs" "strace is not installed"
else
	# LeakSanitizer cannot run under ptrace: no leak check in this run
	syncs() {
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
			strace -f -qq -e trace=fsync,fdatasync,sync_file_range \
			-o "$TEST_TMP/strace" "$MKFS" --quiet $fixed "$@" "$a" \
			"$src" >/dev/null 2>&1 || { echo failed; return; }
		grep -c -E 'fsync|fdatasync|sync_file_range' "$TEST_TMP/strace"
	}
	with=$(syncs) without=$(syncs --no-fsync)
	if [ "$with" != failed ] && [ "$with" -gt 0 ] && [ "$without" = 0 ]; then
		pass "--no-fsync skips the syncs (default: $with)"
	else
		fail "--no-fsync skips the syncs" "$with calls by default, $without with --no-fsync"
	fi
fi
export SOURCE_DATE_EPOCH=$BT
same "SOURCE_DATE_EPOCH gives the same bytes" "-U $FIXED_UUID" "-U $FIXED_UUID"
unset SOURCE_DATE_EPOCH

# the same bytes for any number of workers
for w in 2 4 7; do
	same "--workers=1 and --workers=$w give the same bytes" \
		"$fixed --mkfs-time --ishare --workers=1" \
		"$fixed --mkfs-time --ishare --workers=$w"
done
# Compressed: workers take segments in any order, and nothing a worker
# did before may change the next segment's bytes. Files that alternate
# between random, text-like and half-zero content make such a dependence
# show (zstd's search hints once did); the generated tree rides along
# without its big random and sparse files, to keep lzma quick.
if "$MKFS" -h 2>&1 | grep -q -- '-zX'; then
	mixed=$TEST_TMP/mixed
	cp -a "$src" "$mixed"
	rm -rf "$mixed/big" "$mixed/sparse/huge"
	python3 - "$mixed/mixed" <<-'EOF'
	import os, random, sys
	os.makedirs(sys.argv[1])
	r = random.Random(1)
	words = [bytes(r.choice(b'abcdefghij') for _ in range(r.randrange(2, 9)))
	         for _ in range(300)]
	for i in range(20):
	    n = r.randrange(20000, 300000)
	    if i % 3 == 0:
	        data = r.randbytes(n)
	    elif i % 3 == 1:
	        data = b' '.join(r.choice(words) for _ in range(n // 5))[:n]
	    else:
	        data = bytes(n // 2) + r.randbytes(n - n // 2)
	    with open(os.path.join(sys.argv[1], 'f%02d' % i), 'wb') as f:
	        f.write(data)
	EOF
	zx="$fixed --mkfs-time"
	for z in lz4hc zstd "zstd -Efragments,dedupe,ztailpacking" lzma \
		"lz4 -m8192:zstd --zD --MZ -Efragments"; do
		# shellcheck disable=SC2086
		run_mkfs "-z$z reference" $zx -z$z --workers=1 "$a" "$mixed" ||
			continue
		cp "$a" "$TEST_TMP/ref.img"
		bad=
		for w in 2 4 7 2 4 7; do
			# shellcheck disable=SC2086
			run_mkfs "-z$z --workers=$w" $zx -z$z --workers=$w "$b" \
				"$mixed" || { bad=build; break; }
			cmp -s "$TEST_TMP/ref.img" "$b" ||
				bad="$bad --workers=$w($(cmp -l "$TEST_TMP/ref.img" "$b" | wc -l) bytes)"
		done
		if [ -z "$bad" ]; then
			pass "-z$z: the same bytes for any number of workers"
		elif [ "$bad" != build ]; then
			fail "-z$z: the same bytes for any number of workers" \
				"differs from --workers=1 with$bad"
		fi
	done
	rm -rf "$TEST_TMP/ref.img" "$mixed"
else
	skip "compressed builds with any number of workers" "mkfs has no -z"
fi

# a copy of the tree: other inode numbers, other order on disk
copy=$TEST_TMP/copy
if cp -a "$src" "$copy" 2>"$TEST_TMP/cp.err"; then
	same "a copy of the tree gives the same bytes" "$fixed --mkfs-time" \
		"$fixed --mkfs-time" "$copy"
	rm -rf "$copy"
else
	skip "a copy of the tree gives the same bytes" \
		"cp -a failed: $(head -n 1 "$TEST_TMP/cp.err")"
fi

# another UUID: only the UUID (superblock bytes 48..63, image 1072..1087)
# and the checksum (superblock bytes 4..7, image 1028..1031) change
if run_mkfs "-U changes only UUID and checksum" $fixed "$a" "$src" &&
	run_mkfs "-U changes only UUID and checksum" -T "$BT" \
		-U 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 "$b" "$src"; then
	bad=$(cmp -l "$a" "$b" | awk '$1 < 1029 || ($1 > 1032 && $1 < 1073) ||
		$1 > 1088 { print $1 - 1 }' | head -n 5)
	n=$(cmp -l "$a" "$b" | wc -l)
	if [ -n "$bad" ]; then
		fail "-U changes only UUID and checksum" "other bytes differ at offsets $bad"
	elif [ "$n" -lt 10 ]; then
		fail "-U changes only UUID and checksum" "only $n bytes differ"
	else
		pass "-U changes only UUID and checksum"
	fi
fi
rm -f "$a" "$b"
exit 0
