#!/usr/bin/env bash
# Kernel round trip of a real tree the tests were not written around: a copy
# of /etc, /usr/share/doc, time zones, gconv modules and whatever else of
# the system's libraries fits a modest size, with and without content
# fingerprints. Needs root, EROFS in the kernel and loop devices.
. "$(dirname "$0")/lib.sh"
. "$TOP_SRCDIR/tests/roundtrip_lib.sh"

why=$(kernel_unavailable)
if [ -n "$why" ]; then
	skip real-tree "$why"
	exit 0
fi

src=$TEST_TMP/real
mkdir -p "$src/usr/share" "$src/usr/lib"
copied=()
for d in /etc /usr/share/doc /usr/share/zoneinfo /usr/share/perl5 \
	/usr/lib/x86_64-linux-gnu/gconv /usr/lib/x86_64-linux-gnu/gstreamer1.0 \
	/usr/lib/x86_64-linux-gnu/perl-base /usr/share/locale/de; do
	[ -d "$d" ] || continue
	mkdir -p "$src$(dirname "$d")"
	# unreadable or vanishing files of a live system are its business
	cp -a "$d" "$src$(dirname "$d")/" 2>/dev/null || true
	copied+=("$d")
done
size=$(du -sm "$src" | cut -f1)
count=$(find "$src" | wc -l)
echo "# real tree: ${copied[*]}: $size MiB, $count entries"
if [ "$count" -lt 1000 ]; then
	skip real-tree "the system has too little to copy ($count entries)"
	exit 0
fi
ref=$TEST_TMP/real.json
$COMPARE --save "$ref" "$src" || { fail real-tree "cannot scan the copy"; exit 0; }

img=$TEST_TMP/real.img
FP=trusted.erofs.fingerprint
if run_mkfs "real tree --ishare" --ishare "$img" "$src"; then
	rt_mount_compare "real tree --ishare" "$img" "$ref" --fingerprint "$FP"
	eu_fsck "erofs-utils 1.9 fsck --xattr-inode-digest real tree" "$img" \
		--xattr-inode-digest
	eu_extract_compare "erofs-utils 1.9 extract real tree --ishare" "$img" \
		"$ref" --fingerprint "$FP"
fi
if run_mkfs "real tree b512" -b 512 "$img" "$src"; then
	rt_mount_compare "real tree b512" "$img" "$ref"
	eu_fsck "erofs-utils 1.9 fsck real tree b512" "$img" --extract
fi
if run_mkfs "real tree b4096" "$img" "$src"; then
	rt_mount_compare "real tree b4096" "$img" "$ref"
	eu15_fsck "erofs-utils 1.5 fsck real tree" "$img"
fi
rm -f "$img"
exit 0
