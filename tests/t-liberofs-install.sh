#!/usr/bin/env bash
# The installed library as another program sees it: "make install" into a
# staging directory puts the tools, man pages, liberofs and its one header
# in place; examples/share-report.c builds against them through
# pkg-config alone; its share report equals dump.erofs --share-report
# --json byte for byte and its fingerprints equal the xattrs mkfs.erofs
# --ishare stored (read by the kernel from a mount, and by dump.erofs);
# the library exports exactly the functions liberofs.h declares.
. "$(dirname "$0")/lib.sh"

T=liberofs-install
for tool in pkg-config cc nm; do
	command -v $tool >/dev/null ||
		{ skip "$T" "$tool is not installed"; exit 0; }
done

dest=$TEST_TMP/dest
if ! make -C "$TOP_BUILDDIR" install DESTDIR="$dest" \
	>"$TEST_TMP/install.log" 2>&1; then
	fail "$T-install" "make install: $(tail -n 5 "$TEST_TMP/install.log")"
	exit 1
fi
pc=$(find "$dest" -name liberofs.pc | head -n 1)
so=$(find "$dest" -name 'liberofs.so.0*' -type f | head -n 1)
hdr=$(find "$dest" -name liberofs.h | head -n 1)
missing=
for f in pc so hdr; do [ -n "${!f}" ] || missing+=" $f"; done
for f in bin/mkfs.erofs bin/fsck.erofs bin/dump.erofs \
	share/man/man1/mkfs.erofs.1 share/man/man1/fsck.erofs.1 \
	share/man/man1/dump.erofs.1 share/man/man3/liberofs.3; do
	[ -n "$(find "$dest" -path "*/$f" | head -n 1)" ] || missing+=" $f"
done
[ -z "$missing" ] && pass "$T-files" ||
	fail "$T-files" "not installed:$missing"
# the public header is the only one
others=$(find "$dest" -name '*.h' ! -name liberofs.h)
[ -z "$others" ] && pass "$T-one-header" ||
	fail "$T-one-header" "also installed: $others"
if [ -z "$pc" ] || [ -z "$so" ] || [ -z "$hdr" ]; then
	exit 1
fi

# what the installed pkg-config file says, paths moved into the staging
# directory as PKG_CONFIG_SYSROOT_DIR does for a DESTDIR
export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$dest
flags=$(pkg-config --cflags --libs liberofs) ||
	{ fail "$T-pkg-config" "pkg-config --cflags --libs liberofs failed"; exit 1; }
pass "$T-pkg-config"
libdir=$(dirname "$so")

# the header speaks only standard C: no internal shorthands or macros
if grep -nE '\b(u8|u16|u32|u64|s64|erofs_nid_t|min|max|min_t)\b|erofs/' \
	"$hdr" >"$TEST_TMP/leak"; then
	fail "$T-header-types" "$(head -n 3 "$TEST_TMP/leak")"
else
	pass "$T-header-types"
fi

# the example, away from the source tree, built from what is installed
# (a library built with --enable-sanitizers needs its program built so)
san=
ldd "$so" | grep -q libasan && san=-fsanitize=address,undefined
mkdir -p "$TEST_TMP/ex"
cp "$TOP_SRCDIR/examples/share-report.c" "$TEST_TMP/ex/"
if ! (cd "$TEST_TMP/ex" && cc -std=c99 -Wall -Werror $san -o share-report \
	share-report.c $flags) >"$TEST_TMP/cc.log" 2>&1; then
	fail "$T-build-example" "$(head -n 5 "$TEST_TMP/cc.log")"
	exit 1
fi
ex=$TEST_TMP/ex/share-report
# it runs with the installed library, not the build tree's
if LD_LIBRARY_PATH=$libdir ldd "$ex" | grep -q "=> $libdir/liberofs.so"
then
	pass "$T-build-example"
else
	fail "$T-build-example" "not linked with $libdir/liberofs.so: $(
		LD_LIBRARY_PATH=$libdir ldd "$ex" | grep liberofs)"
fi

# the man page's program is the example
sed -n '/^\.EX$/,/^\.EE$/p' "$TOP_SRCDIR/man/liberofs.3" | sed '1d;$d' |
	sed -e 's/^\\&//' -e 's/\\e/\\/g' >"$TEST_TMP/man-example.c"
if cmp -s "$TEST_TMP/man-example.c" "$TOP_SRCDIR/examples/share-report.c"
then
	pass "$T-man-example"
else
	fail "$T-man-example" "the EXAMPLE of man/liberofs.3 is not examples/share-report.c"
fi

# exported symbols: exactly the functions the header declares
echo '#include <liberofs.h>' |
	cc -E -P $(pkg-config --cflags liberofs) -x c - |
	grep -oE '\bliberofs_[a-z0-9_]+[[:space:]]*\(' | tr -d ' (' |
	sort -u >"$TEST_TMP/declared"
nm -D --defined-only "$so" | awk '{ print $NF }' | sort -u \
	>"$TEST_TMP/exported"
extra=$(comm -13 "$TEST_TMP/declared" "$TEST_TMP/exported" | tr '\n' ' ')
absent=$(comm -23 "$TEST_TMP/declared" "$TEST_TMP/exported" | tr '\n' ' ')
if [ ! -s "$TEST_TMP/declared" ]; then
	fail "$T-exports" "no function found in liberofs.h"
elif [ -n "$extra$absent" ]; then
	fail "$T-exports" "exported, not declared: ${extra:-none}; declared, not exported: ${absent:-none}"
else
	pass "$T-exports"
fi
# and each is in the manual
undoc=
while read -r f; do
	grep -q "$f" "$TOP_SRCDIR/man/liberofs.3" || undoc+=" $f"
done <"$TEST_TMP/declared"
[ -z "$undoc" ] && pass "$T-man-functions" ||
	fail "$T-man-functions" "not in liberofs(3):$undoc"

# two images that share some files: equal, changed, moved, hard links,
# a compressed one, a hole
a=$TEST_TMP/a b=$TEST_TMP/b
mkdir -p "$a/etc" "$a/usr/lib" "$b/etc" "$b/usr/lib" "$b/opt"
seq 1 200000 >"$a/usr/lib/big"
head -c 300000 /dev/urandom >"$a/usr/lib/random"
printf 'root:x:0:0::/root:/bin/sh\n' >"$a/etc/passwd"
: >"$a/etc/empty"
truncate -s 1M "$a/usr/lib/sparse" && echo tail >>"$a/usr/lib/sparse"
cp -a "$a/." "$b/"
ln "$b/usr/lib/big" "$b/opt/big-link"
mv "$b/usr/lib/random" "$b/opt/random"
echo changed >>"$b/etc/passwd"
seq 1 5000 >"$b/opt/new"
if ! "$MKFS" -T0 -Uclear --ishare "$TEST_TMP/a.img" "$a" \
	>"$TEST_TMP/mkfs.log" 2>&1; then
	if grep -q "without OpenSSL" "$TEST_TMP/mkfs.log"; then
		skip "$T-report" "built without libcrypto: no --ishare"
		exit 0
	fi
	fail "$T-report" "mkfs a: $(tail -n 3 "$TEST_TMP/mkfs.log")"
	exit 1
fi
"$MKFS" -T0 -Uclear --ishare -zlz4 "$TEST_TMP/b.img" "$b" \
	>>"$TEST_TMP/mkfs.log" 2>&1 ||
	"$MKFS" -T0 -Uclear --ishare "$TEST_TMP/b.img" "$b" \
		>>"$TEST_TMP/mkfs.log" 2>&1 ||
	{ fail "$T-report" "mkfs b: $(tail -n 3 "$TEST_TMP/mkfs.log")"; exit 1; }

files=(etc/passwd usr/lib/big usr/lib/random usr/lib/sparse)
fargs=()
for f in "${files[@]}"; do fargs+=(-f "$a/$f"); done
if ! LD_LIBRARY_PATH=$libdir "$ex" "${fargs[@]}" "$TEST_TMP/a.img" \
	"$TEST_TMP/b.img" >"$TEST_TMP/lib.json" 2>"$TEST_TMP/lib.err"; then
	fail "$T-report" "share-report failed: $(tail -n 3 "$TEST_TMP/lib.err")"
	exit 1
fi
"$DUMP" --share-report --json "$TEST_TMP/a.img" "$TEST_TMP/b.img" \
	>"$TEST_TMP/dump.json" 2>"$TEST_TMP/dump.err"
if [ ! -s "$TEST_TMP/dump.json" ]; then
	fail "$T-report" "dump.erofs printed nothing: $(cat "$TEST_TMP/dump.err")"
elif cmp "$TEST_TMP/lib.json" "$TEST_TMP/dump.json" >"$TEST_TMP/cmp" 2>&1
then
	pass "$T-report"
else
	fail "$T-report" "the library's JSON differs from dump.erofs's: $(cat "$TEST_TMP/cmp")"
fi
# the installed dump.erofs prints the same
inst_dump=$(find "$dest" -path '*/bin/dump.erofs' | head -n 1)
LD_LIBRARY_PATH=$libdir "$inst_dump" --share-report --json \
	"$TEST_TMP/a.img" "$TEST_TMP/b.img" >"$TEST_TMP/inst.json" 2>&1
check "$T-installed-dump" cmp -s "$TEST_TMP/inst.json" "$TEST_TMP/dump.json"

# the fingerprints, against the xattrs in the image a
name=trusted.erofs.fingerprint
why=$(kernel_unavailable)
[ -z "$why" ] && ! command -v getfattr >/dev/null && why="no getfattr"
if [ -z "$why" ] && kmount "$TEST_TMP/a.img" "$TEST_TMP/mnt"; then
	bad=
	for f in "${files[@]}"; do
		want=$(getfattr --absolute-names -n "$name" -e hex \
			"$TEST_TMP/mnt/$f" 2>/dev/null | grep "^$name=")
		got=$(grep -F "$a/$f: " "$TEST_TMP/lib.err" | sed 's/^.*: //')
		[ -n "$want" ] && [ "$want" = "$got" ] || bad+=" $f"
	done
	kumount "$TEST_TMP/mnt"
	[ -z "$bad" ] && pass "$T-fingerprints-kernel" ||
		fail "$T-fingerprints-kernel" "differ from the mounted image's xattrs:$bad"
else
	skip "$T-fingerprints-kernel" "${why:-mount failed}"
fi
# and as dump.erofs decodes them (the same 32 bytes after "sha256:")
bad=
for f in "${files[@]}"; do
	want=$("$DUMP" --path="/$f" "$TEST_TMP/a.img" |
		sed -n "s/^ *$name (39 bytes): sha256 //p")
	got=$(grep -F "$a/$f: " "$TEST_TMP/lib.err" |
		sed 's/^.*=0x7368613235363a//')
	[ -n "$want" ] && [ "$want" = "$got" ] || bad+=" $f"
done
[ -z "$bad" ] && pass "$T-fingerprints-dump" ||
	fail "$T-fingerprints-dump" "differ from dump.erofs's:$bad"
