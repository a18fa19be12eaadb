#!/usr/bin/env bash
# Tar input round trip: the generated tree packed by GNU tar (PAX with
# xattrs, ACLs and sparse files; GNU format), plain and gzip/xz/zstd
# compressed, from a file and from a pipe, must mount exactly like the
# image built from the directory itself; the same archive gives the same
# bytes. Needs root, EROFS in the kernel, loop devices and GNU tar.
. "$(dirname "$0")/lib.sh"
. "$TOP_SRCDIR/tests/roundtrip_lib.sh"

why=$(kernel_unavailable)
if [ -n "$why" ]; then
	skip tar-roundtrip "$why"
	exit 0
fi
if ! tar --version 2>/dev/null | grep -q 'GNU tar'; then
	skip tar-roundtrip "GNU tar not installed"
	exit 0
fi

# --- the tree ---------------------------------------------------------
src=$TEST_TMP/src
gen_tree "gen_tree" "$src" --small --xattrs --seed 11 --build-time "$BT" ||
	exit 0
# What no tar archive GNU tar writes can carry is taken out of the source,
# so that the rest is compared exactly:
# - sockets (GNU tar skips them);
find "$src" -type s -delete
# - hardlinks of anything but regular files (GNU tar stores each link of
#   a device, fifo or symlink as a separate entry);
find "$src" ! -type f ! -type d -links +1 -print0 |
	while IFS= read -r -d '' f; do
		cp -a "$f" "$f.unlink" && mv -f "$f.unlink" "$f"
	done
# - times between -1 and 0 s with a fraction: libarchive reads "-0.5" as
#   +0.5 (the sign of a zero integer part is lost before we see it).
if [ -e "$src/times/minus-half-s" ]; then
	touch -h -d @-1.5 "$src/times/minus-half-s"
	skip "PAX time -0.5 s" "libarchive loses the sign of times between -1 and 0 s; moved to -1.5 s"
fi

OPTS=(-T "$BT" --mkfs-time -U "$FIXED_UUID")

# dir_ref NAME TREE IMG SNAP: the directory-built image of TREE, mounted
# and scanned into SNAP: the reference the tar-built images must equal.
dir_ref() {
	local name=$1 tree=$2 img=$3 snap=$4 mnt=$TEST_TMP/refmnt
	run_mkfs "$name" "${OPTS[@]}" "$img" "$tree" || return 1
	kmount "$img" "$mnt" || { fail "$name" "cannot mount $img"; return 1; }
	$COMPARE --save "$snap" "$mnt"
	local rc=$?
	umount "$mnt"
	[ "$rc" -eq 0 ] || { fail "$name" "cannot scan the mounted image"; return 1; }
	pass "$name"
}

dir_ref "directory-built reference image" "$src" "$TEST_TMP/dir.img" \
	"$TEST_TMP/ref.json" || exit 0

# --- PAX: xattrs, ACLs, sparse files, nanosecond times -----------------
TAR_PAX=(--format=pax --xattrs --xattrs-include='*' --acls --sparse)
pax=$TEST_TMP/pax.tar
if ! tar "${TAR_PAX[@]}" -C "$src" -cf "$pax" . 2>"$TEST_TMP/tar.err"; then
	fail "GNU tar packs the tree" "$(head -n 3 "$TEST_TMP/tar.err")"
	exit 0
fi

first= REF=$TEST_TMP/ref.json EXTRA=()
# tar_case NAME HOW INPUT: build from the archive (a file, or a command
# whose output is piped in), mount, compare with the reference REF; every
# build of the same archive must give the bytes of the first.
tar_case() {
	local name=$1 how=$2 img=$TEST_TMP/case.img
	shift 2
	rm -f "$img"
	case $how in
	file) run_mkfs "$name" "${OPTS[@]}" "${EXTRA[@]}" --tar=f "$img" "$1" ||
		return ;;
	pipe) # "$1" is a command producing the archive; no TARBALL argument
		if ! eval "$1" | "$MKFS" --quiet "${OPTS[@]}" "${EXTRA[@]}" \
			--tar=f "$img" >"$TEST_TMP/mkfs.out" 2>&1; then
			fail "$name" "mkfs from a pipe failed: $(head -c 600 "$TEST_TMP/mkfs.out")"
			return
		fi ;;
	dash) # TARBALL "-": standard input
		if ! eval "$1" | "$MKFS" --quiet "${OPTS[@]}" "${EXTRA[@]}" \
			--tar=f "$img" - >"$TEST_TMP/mkfs.out" 2>&1; then
			fail "$name" "mkfs from '-' failed: $(head -c 600 "$TEST_TMP/mkfs.out")"
			return
		fi ;;
	esac
	rt_mount_compare "$name" "$img" "$REF"
	if [ -z "$first" ]; then
		first=$TEST_TMP/first.img
		cp "$img" "$first"
	elif cmp -s "$img" "$first"; then
		pass "$name: same bytes as the first build"
	else
		fail "$name: same bytes as the first build" "$(cmp "$img" "$first" | head -n 1)"
	fi
}

tar_case "pax from a file" file "$pax"
tar_case "pax again, same bytes" file "$pax"
tar_case "pax piped in" pipe "cat '$pax'"
if cmp -s "$first" "$TEST_TMP/dir.img"; then
	pass "pax: byte-identical to the directory-built image"
else
	fail "pax: byte-identical to the directory-built image" \
		"$(cmp "$first" "$TEST_TMP/dir.img" | head -n 1)"
fi
eu_fsck "pax: erofs-utils 1.9 fsck" "$first"

for z in gzip xz zstd; do
	if ! command -v $z >/dev/null; then
		skip "pax.$z" "$z not installed"
		continue
	fi
	$z -c "$pax" >"$pax.$z" || { fail "pax.$z" "$z failed"; continue; }
	tar_case "pax+$z from a file" file "$pax.$z"
	tar_case "pax+$z piped in as '-'" dash "cat '$pax.$z'"
done
EXTRA=(--ungzip)
tar_case "pax+gzip with --ungzip" file "$pax.gzip"
EXTRA=(--unxz)
tar_case "pax+xz with --unxz" file "$pax.xz"
EXTRA=()

# --ungzip=FILE keeps a copy of the decompressed stream
if "$MKFS" --quiet "${OPTS[@]}" --tar=f --ungzip="$TEST_TMP/dump.tar" \
	"$TEST_TMP/dump.img" "$pax.gzip" >"$TEST_TMP/mkfs.out" 2>&1 &&
	cmp -s "$TEST_TMP/dump.tar" "$pax" && cmp -s "$TEST_TMP/dump.img" "$first"; then
	pass "--ungzip=FILE dumps the decompressed tar"
else
	fail "--ungzip=FILE dumps the decompressed tar" \
		"$(head -c 300 "$TEST_TMP/mkfs.out"; cmp "$TEST_TMP/dump.tar" "$pax" 2>&1 | head -n 1)"
fi

# ACLs from their text form only (SCHILY.acl.*, names without ids), as
# "tar --acls" without --xattrs writes them: the ACLs and the mode bits
# (whose group class is the ACL mask) must come out as from the xattrs
if tar --format=pax --acls --sparse -C "$src" -cf "$TEST_TMP/acl.tar" . \
	2>"$TEST_TMP/tar.err"; then
	if run_mkfs "pax, ACLs as text" "${OPTS[@]}" --tar=f "$TEST_TMP/acl.img" \
		"$TEST_TMP/acl.tar"; then
		rt_mount_compare "pax, ACLs as text: ACLs and modes" \
			"$TEST_TMP/acl.img" "$TEST_TMP/ref.json" \
			--ignore-xattr 'user.*' --ignore-xattr 'trusted.*' \
			--ignore-xattr 'security.*'
	fi
else
	fail "GNU tar packs the tree with --acls" "$(head -n 3 "$TEST_TMP/tar.err")"
fi

# named users and groups: GNU tar writes only the names of ids this host
# knows, which are looked up again when the image is built
named=$TEST_TMP/named
mkdir -p "$named/d"
: >"$named/f"
if setfacl -m u:daemon:r--,g:games:rw-,g::rwx,m::r-x,o::--- "$named/f" 2>/dev/null &&
	setfacl -d -m u:daemon:rwx,g:games:r-x "$named/d" 2>/dev/null; then
	tar --format=pax --acls -C "$named" -cf "$TEST_TMP/named.tar" . &&
		grep -aq 'user:daemon:' "$TEST_TMP/named.tar" ||
		fail "GNU tar stores ACL names" "no 'user:daemon:' in the archive"
	if run_mkfs "named ACLs: directory image" "${OPTS[@]}" \
		"$TEST_TMP/named-dir.img" "$named" &&
		kmount "$TEST_TMP/named-dir.img" "$TEST_TMP/named-ref" &&
		$COMPARE --save "$TEST_TMP/named.json" "$TEST_TMP/named-ref" &&
		umount "$TEST_TMP/named-ref" &&
		run_mkfs "named ACLs: tar image" "${OPTS[@]}" --tar=f \
			"$TEST_TMP/named.img" "$TEST_TMP/named.tar"; then
		rt_mount_compare "ACLs naming users and groups" \
			"$TEST_TMP/named.img" "$TEST_TMP/named.json"
	fi
else
	skip "ACLs naming users and groups" "setfacl cannot set them here"
fi

# --- with other options -----------------------------------------------
ISHARE=trusted.erofs.fingerprint
if run_mkfs "pax --ishare" "${OPTS[@]}" --ishare=$ISHARE --tar=f \
	"$TEST_TMP/fp.img" "$pax"; then
	rt_mount_compare "pax --ishare: fingerprints" "$TEST_TMP/fp.img" \
		"$TEST_TMP/ref.json" --fingerprint $ISHARE
	run_mkfs "dir --ishare" "${OPTS[@]}" --ishare=$ISHARE \
		"$TEST_TMP/fpdir.img" "$src" &&
		check "pax --ishare: same bytes as the directory build" \
			cmp -s "$TEST_TMP/fp.img" "$TEST_TMP/fpdir.img"
fi
EXCL=(--exclude-path=sizes --exclude-regex='^links/other' --exclude-regex='odd.*name')
if run_mkfs "pax --exclude-*" "${OPTS[@]}" "${EXCL[@]}" --tar=f \
	"$TEST_TMP/ex.img" "$pax"; then
	rt_mount_compare "pax --exclude-*" "$TEST_TMP/ex.img" "$src" \
		--exclude-path sizes --exclude-regex '^links/other' \
		--exclude-regex 'odd.*name' --ignore-dir-nlink --ignore-root-meta
	run_mkfs "dir --exclude-*" "${OPTS[@]}" "${EXCL[@]}" \
		"$TEST_TMP/exdir.img" "$src" &&
		check "pax --exclude-*: same bytes as the directory build" \
			cmp -s "$TEST_TMP/ex.img" "$TEST_TMP/exdir.img"
fi
if run_mkfs "pax --all-root" "${OPTS[@]}" --all-root --tar=f \
	"$TEST_TMP/root.img" "$pax"; then
	rt_mount_compare "pax --all-root" "$TEST_TMP/root.img" \
		"$TEST_TMP/ref.json" --expect-uid 0 --expect-gid 0
fi
if run_mkfs "pax -T without --mkfs-time" -T "$BT" -U "$FIXED_UUID" --tar=f \
	"$TEST_TMP/t.img" "$pax"; then
	rt_mount_compare "pax -T: every mtime is T" "$TEST_TMP/t.img" \
		"$TEST_TMP/ref.json" --expect-mtime "$BT"
fi

# Every other option acts on the tree after the source: with each, the
# image from the archive is the image from the directory, byte for byte
# (the directory builds themselves are judged by the other tests).
fc=$TEST_TMP/file_contexts
cat >"$fc" <<'FC'
/system(/.*)?		system_u:object_r:default_t:s0
/system/xattrs(/.*)?	system_u:object_r:etc_t:s0
/system/types/link	system_u:object_r:link_t:s0
FC
have() { grep -q "define HAVE_$1 1" "$TOP_BUILDDIR/config.h" 2>/dev/null; }
same_as_dir() {
	local name=$1
	shift
	run_mkfs "$name: directory" "${OPTS[@]}" "$@" "$TEST_TMP/o-dir.img" "$src" &&
		run_mkfs "$name: tar" "${OPTS[@]}" "$@" --tar=f "$TEST_TMP/o-tar.img" "$pax" &&
		check "$name: same bytes from the archive as from the directory" \
			cmp -s "$TEST_TMP/o-dir.img" "$TEST_TMP/o-tar.img"
}
same_as_dir "-b 1024" -b 1024
same_as_dir "-b 512 --ishare" -b 512 --ishare
same_as_dir "-x -1" -x -1
same_as_dir "-x 1" -x 1
# the tree holds ids 4294967294: an offset of 1 takes them to the last id
same_as_dir "--uid-offset --gid-offset" --uid-offset=1 --gid-offset=1
# and a larger one is refused, from either source, naming the file
for from in dir tar; do
	if [ $from = dir ]; then in=("$src"); else in=(--tar=f "$pax"); fi
	if "$MKFS" --quiet "${OPTS[@]}" --uid-offset=100 "$TEST_TMP/o-big.img" \
		"${in[@]}" >"$TEST_TMP/big.out" 2>&1; then
		fail "--uid-offset past 2^32-1 ($from)" "accepted"
	elif ! grep -q 'f-4294967294-4294967294: uid 4294967294 plus the offset 100' \
		"$TEST_TMP/big.out"; then
		fail "--uid-offset past 2^32-1 ($from)" "$(head -c 300 "$TEST_TMP/big.out")"
	elif [ -e "$TEST_TMP/o-big.img" ]; then
		fail "--uid-offset past 2^32-1 ($from)" "an image was left"
	else
		pass "--uid-offset past 2^32-1 ($from): refused, naming the file"
	fi
done
same_as_dir "--force-uid --force-gid" --force-uid=5 --force-gid=6
same_as_dir "--ignore-mtime" --ignore-mtime
if have LZ4; then same_as_dir "-zlz4hc" -zlz4hc; else skip "-zlz4hc" "built without lz4"; fi
if have ZSTD; then
	same_as_dir "-zzstd -Efragments,dedupe" -zzstd -Efragments,dedupe
else
	skip "-zzstd" "built without zstd"
fi
if have LZMA; then same_as_dir "-zlzma -C65536" -zlzma -C65536; else skip "-zlzma" "built without lzma"; fi
if have SELINUX; then
	same_as_dir "--file-contexts" --file-contexts="$fc" --mount-point=/system
else
	skip "--file-contexts" "built without libselinux"
fi

# --- GNU format: no xattrs, whole-second times, GNU sparse headers ------
gnu=$TEST_TMP/gnu.tar
if tar --format=gnu --sparse -C "$src" -cf "$gnu" . 2>"$TEST_TMP/tar.err"; then
	# the reference is what GNU tar itself extracts from that archive
	ex=$TEST_TMP/gnu-extract
	mkdir -p "$ex"
	if tar -xpf "$gnu" --numeric-owner --delay-directory-restore \
		-C "$ex" 2>"$TEST_TMP/tar.err" &&
		dir_ref "gnu: directory-built image of GNU tar's extraction" \
			"$ex" "$TEST_TMP/gnudir.img" "$TEST_TMP/gnuref.json"; then
		first= REF=$TEST_TMP/gnuref.json
		tar_case "gnu from a file" file "$gnu"
		tar_case "gnu+gzip piped in" pipe "gzip -c '$gnu'"
		check "gnu: byte-identical to the directory-built image" \
			cmp -s "$first" "$TEST_TMP/gnudir.img"
	fi
	rm -rf "$ex"
else
	fail "GNU tar packs the tree (gnu format)" "$(head -n 3 "$TEST_TMP/tar.err")"
fi
