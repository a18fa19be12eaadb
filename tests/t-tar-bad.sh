#!/usr/bin/env bash
# Bad tar input: truncated and corrupt archives (plain and compressed),
# garbage, paths that try to leave the root, names and symlink targets
# that are too long, bad hardlinks. Each must fail with a message naming
# the entry or the byte offset, exit non-zero, and leave no image, no
# temporary file and nothing else behind. Also what is accepted: absolute
# paths and "a/../b" are normalised.
. "$(dirname "$0")/lib.sh"

out=$TEST_TMP/out # the image's directory: must stay empty on failure
work=$TEST_TMP/work # mkfs runs here: must stay empty
mkdir -p "$out" "$work"

# must_fail NAME PATTERN ARCHIVE [mkfs options]: mkfs --tar=f fails, says
# something matching PATTERN (extended regex), leaves both dirs empty.
must_fail() {
	local name=$1 pat=$2 tarball=$3 rc left
	shift 3
	(cd "$work" && "$MKFS" --quiet "$@" --tar=f "$out/img" "$tarball") \
		>"$TEST_TMP/mkfs.out" 2>&1
	rc=$?
	left=$(ls -A "$out" "$work" | grep -v -e '^$' -e ':$')
	if [ "$rc" -eq 0 ]; then
		fail "$name" "mkfs succeeded"
	elif [ "$rc" -gt 128 ]; then
		fail "$name" "mkfs died with signal $((rc - 128)): $(head -c 300 "$TEST_TMP/mkfs.out")"
	elif ! grep -Eq -- "$pat" "$TEST_TMP/mkfs.out"; then
		fail "$name" "message does not match /$pat/: $(head -c 400 "$TEST_TMP/mkfs.out")"
	elif [ -n "$left" ]; then
		fail "$name" "left behind: $left"
	else
		pass "$name"
	fi
	rm -rf "$out"/.[!.]* "$out"/* "$work"/.[!.]* "$work"/* 2>/dev/null
}

# must_build NAME ARCHIVE [mkfs options]: mkfs --tar=f succeeds
must_build() {
	local name=$1 tarball=$2
	shift 2
	if (cd "$work" && "$MKFS" --quiet "$@" --tar=f "$out/img" "$tarball") \
		>"$TEST_TMP/mkfs.out" 2>&1; then
		return 0
	fi
	fail "$name" "mkfs failed: $(head -c 400 "$TEST_TMP/mkfs.out")"
	return 1
}

# --- a small archive to cut --------------------------------------------
src=$TEST_TMP/src
mkdir -p "$src/dir"
head -c 5000 /dev/urandom >"$src/dir/first"
head -c 300 /dev/urandom >"$src/second"
ln -s first "$src/dir/link"
long=$(printf 'n%.0s' $(seq 1 150))
echo long >"$src/$long"
good=$TEST_TMP/good.tar
tar --format=pax -C "$src" -cf "$good" ./dir/first ./second "./$long" ./dir/link
size=$(stat -c %s "$good")
must_build "the uncut archive builds" "$good" && pass "the uncut archive builds"
rm -f "$out/img"

# offsets from the archive's own listing: headers and data of each entry
eval "$(python3 - "$good" <<'EOF'
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    m = t.getmembers()
first = m[0]
print('first_hdr=%d first_data=%d' % (first.offset, first.offset_data))
print('long_hdr=%d' % m[2].offset)
last = m[-1]
print('end_of_entries=%d' % (last.offset_data + ((last.size + 511) // 512) * 512))
EOF
)"

cut() { head -c "$2" "$good" >"$TEST_TMP/$1.tar"; echo "$TEST_TMP/$1.tar"; }
must_fail "cut inside the first header" "[Tt]runcated|byte" "$(cut h1 100)"
must_fail "cut inside a PAX header's records" "byte [0-9]+" \
	"$(cut pax $((long_hdr + 600)))"
must_fail "cut inside file data" "entry '\./dir/first'.*byte|byte.*dir/first" \
	"$(cut data $((first_data + 3000)))"
must_fail "cut after the data, inside the padding" "dir/first" \
	"$(cut pad $((first_data + 5000 + 10)))"
must_fail "cut at an entry boundary (no end marker)" \
	"no end-of-archive marker after entry '\./dir/link'" \
	"$(cut boundary "$end_of_entries")"
# one zero block of the two is what GNU tar accepts too: nothing is lost
if must_build "cut inside the end marker" "$(cut marker $((end_of_entries + 512)))"; then
	pass "cut inside the end marker builds (no entry lost)"
fi
rm -f "$out/img"

# the same cuts through a pipe, which a plain tar is read from straight into
# the reader's ring; with --sort=none the data goes into the image as it
# comes, with --ishare it is hashed behind that, and a cut leaves nothing
for opts in "" "--sort=none" "--sort=none --ishare"; do
	# shellcheck disable=SC2086
	if must_build "piped ${opts:-plain}: the uncut archive" - $opts \
		< <(cat "$good"); then
		pass "piped ${opts:-plain}: the uncut archive builds"
	fi
	rm -f "$out/img"
	# shellcheck disable=SC2086
	must_fail "piped ${opts:-plain}: cut inside file data" \
		"standard input.*[Tt]runcated.*entry '\./dir/first'.*byte" - $opts \
		< <(cat "$(cut data $((first_data + 3000)))")
	# shellcheck disable=SC2086
	must_fail "piped ${opts:-plain}: cut at an entry boundary" \
		"no end-of-archive marker after entry '\./dir/link'" - $opts \
		< <(cat "$(cut boundary "$end_of_entries")")
done

# --- compressed streams -----------------------------------------------
gzip -c "$good" >"$TEST_TMP/good.tar.gz"
gz=$(stat -c %s "$TEST_TMP/good.tar.gz")
head -c $((gz / 2)) "$TEST_TMP/good.tar.gz" >"$TEST_TMP/cut.tar.gz"
must_fail "truncated gzip" "truncated gzip.*byte [0-9]+ of the tar stream, about byte [0-9]+ of the gzip input" \
	"$TEST_TMP/cut.tar.gz"
head -c $((gz - 4)) "$TEST_TMP/good.tar.gz" >"$TEST_TMP/notrailer.tar.gz"
must_fail "gzip without its trailer" "byte|[Tt]runcated" "$TEST_TMP/notrailer.tar.gz"
cp "$TEST_TMP/good.tar.gz" "$TEST_TMP/corrupt.tar.gz"
printf '\xde\xad\xbe\xef\xde\xad\xbe\xef' |
	dd of="$TEST_TMP/corrupt.tar.gz" bs=1 seek=$((gz / 2)) conv=notrunc 2>/dev/null
must_fail "gzip with a corrupt body" "corrupt gzip data near input byte [0-9]+" \
	"$TEST_TMP/corrupt.tar.gz"
must_fail "corrupt gzip piped in" "standard input" - <"$TEST_TMP/corrupt.tar.gz"
for z in xz zstd; do
	command -v $z >/dev/null || { skip "truncated $z" "$z not installed"; continue; }
	$z -c "$good" >"$TEST_TMP/good.tar.$z"
	n=$(stat -c %s "$TEST_TMP/good.tar.$z")
	head -c $((n * 2 / 3)) "$TEST_TMP/good.tar.$z" >"$TEST_TMP/cut.tar.$z"
	must_fail "truncated $z" "byte [0-9]+" "$TEST_TMP/cut.tar.$z"
done

# --- garbage ----------------------------------------------------------
head -c 65536 /dev/urandom >"$TEST_TMP/garbage"
must_fail "random bytes" "byte [0-9]+" "$TEST_TMP/garbage"
: >"$TEST_TMP/empty"
must_fail "empty input" "byte 0|[Ee]mpty|[Uu]nrecognized" "$TEST_TMP/empty"
must_fail "empty standard input" "standard input" - </dev/null
printf 'hello, this is not a tar archive\n' >"$TEST_TMP/text"
must_fail "a text file" "byte [0-9]+" "$TEST_TMP/text"
must_fail "a missing file" "No such file" "$TEST_TMP/does-not-exist"
must_fail "a tar with file data given as --tar=headerball" "byte [0-9]+ holds no tar header" "$good" --tar=headerball
must_fail "--tar=x is invalid" "invalid --tar" "$good" --tar=x

# --- crafted entries ----------------------------------------------------
# craft NAME SPEC...: a PAX archive of entries "type:name[:target]" with
# type f (file), d (dir), l (symlink) or h (hardlink); prints its path
craft() {
	local f=$TEST_TMP/$1.tar
	shift
	python3 - "$f" "$@" <<'EOF' || exit 1
import io, sys, tarfile
t = tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT)
for spec in sys.argv[2:]:
    kind, name, *rest = spec.split(':', 2)
    ti = tarfile.TarInfo(name)
    ti.mtime = 1700000000
    data = None
    if kind == 'f':
        data = (rest[0] if rest else 'data of ' + name).encode()
        ti.size = len(data)
        data = io.BytesIO(data)
    elif kind == 'd':
        ti.type, ti.mode = tarfile.DIRTYPE, 0o755
    elif kind == 'l':
        ti.type, ti.linkname = tarfile.SYMTYPE, rest[0]
    elif kind == 'h':
        ti.type, ti.linkname = tarfile.LNKTYPE, rest[0]
    t.addfile(ti, data)
t.close()
EOF
	echo "$f"
}

must_fail "'../../etc/x' is refused" "entry '\.\./\.\./etc/x'.*outside the archive root" \
	"$(craft up f:../../etc/x)"
must_fail "'a/../../b' is refused" "entry 'a/\.\./\.\./b'.*outside" \
	"$(craft up2 d:a/ f:a/../../b)"
must_fail "an entry below a symlink to / is refused" \
	"entry 'a/etc/x'.*'a' on its path is a symlink" \
	"$(craft symroot l:a:/ f:a/etc/x)"
must_fail "an entry below a symlink to .. is refused" \
	"entry 'a/x'.*'a' on its path is a symlink" \
	"$(craft symup l:a:.. f:a/x)"
must_fail "a hardlink leaving the root is refused" "entry 'x'.*outside the archive root" \
	"$(craft hup h:x:../../etc/passwd)"
must_fail "a hardlink to a missing file is refused" "entry 'x'.*'nothere' not found" \
	"$(craft hmiss f:a h:x:nothere)"
must_fail "a hardlink to a directory is refused" "entry 'x'.*is a directory" \
	"$(craft hdir d:d/ h:x:d)"
must_fail "a hardlink through a symlink is refused" "entry 'x'.*'s' on its path is a symlink" \
	"$(craft hsym d:d/ f:d/f l:s:d h:x:s/f)"
n256=$(printf 'a%.0s' $(seq 1 256))
n255=$(printf 'a%.0s' $(seq 1 255))
must_fail "a 256-byte name is refused" "entry 'dir/$n256'.*longer than 255 bytes" \
	"$(craft long256 f:dir/$n256)"
t4096=$(printf 't%.0s' $(seq 1 4096))
t4095=$(printf 't%.0s' $(seq 1 4095))
must_fail "a 4096-byte symlink target is refused" "entry 'l'.*longer than 4095" \
	"$(craft target4096 l:l:$t4096)"
must_fail "an empty symlink target is refused" "entry 'l'.*without a target" \
	"$(craft target0 l:l:)"
must_fail "a whiteout used as a directory is refused" "whiteout '\.wh\.x' used as a directory" \
	"$(craft whdir f:.wh.x/y)" --aufs
must_fail "a non-directory root is refused" "entry '\./'.*root must be a directory" \
	"$(craft rootlink l:./:x)"
# libarchive takes './' for a directory and leaves its data where the next
# header should be
must_fail "a regular file named './' is refused" "usable path|root must be a directory|holds no tar header" \
	"$(craft rootfile f:./)"

# --- what is accepted, and where it lands -----------------------------------
ok=$(craft accepted f:/abs/path:abs f://double//slash:dbl f:./dot/./x:dot \
	d:a/ f:a/../b:b f:c/d/../e:e f:dir/$n255:n255 l:l255:$t4095 \
	l:s:/ f:s2:x f:s2/../s3:s3 h:hl:/abs/path)
if must_build "normalised paths build" "$ok" -T 1700000000; then
	why=$(kernel_unavailable)
	if [ -n "$why" ]; then
		skip "normalised paths: kernel check" "$why"
	else
		m=$TEST_TMP/mnt
		kmount "$out/img" "$m"
		got=$(cd "$m" && find . | sort | tr '\n' ' ')
		want='. ./a ./abs ./abs/path ./b ./c ./c/e ./dir ./dir/'$n255' ./dot ./dot/x ./double ./double/slash ./hl ./l255 ./s ./s2 ./s3 '
		if [ "$got" = "$want" ] &&
			[ "$(cat "$m/abs/path")" = abs ] && [ "$(cat "$m/b")" = b ] &&
			[ "$(cat "$m/c/e")" = e ] && [ "$(readlink "$m/l255")" = "$t4095" ] &&
			[ "$(stat -c %i "$m/hl")" = "$(stat -c %i "$m/abs/path")" ] &&
			[ "$(stat -c %h "$m/hl")" = 2 ] && [ "$(readlink "$m/s")" = / ]; then
			pass "normalised paths land inside the image"
		else
			fail "normalised paths land inside the image" "got: $got"
		fi
		umount "$m"
	fi
fi
rm -f "$out/img"

# repeated entries: the later one wins; a directory keeps its children
rep=$(craft repeat d:d/ f:d/child:c f:x:first f:x:second l:y:t1 f:y:now-a-file \
	f:z:file d:z/ f:z/in:in h:h:x f:x:third)
if must_build "repeated entries build" "$rep"; then
	why=$(kernel_unavailable)
	if [ -z "$why" ]; then
		m=$TEST_TMP/mnt
		kmount "$out/img" "$m"
		if [ "$(cat "$m/x")" = third ] && [ "$(cat "$m/h")" = second ] &&
			[ "$(cat "$m/y")" = now-a-file ] && [ -d "$m/z" ] &&
			[ "$(cat "$m/z/in")" = in ] && [ "$(cat "$m/d/child")" = c ] &&
			[ "$(stat -c %h "$m/h")" = 1 ]; then
			pass "repeated entries: the later one wins"
		else
			fail "repeated entries: the later one wins" \
				"x=$(cat "$m/x") h=$(cat "$m/h") y=$(cat "$m/y" 2>&1)"
		fi
		umount "$m"
	else
		skip "repeated entries: kernel check" "$why"
	fi
fi
rm -f "$out/img"
