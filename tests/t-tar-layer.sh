#!/usr/bin/env bash
# OCI-style layers: Debian packages' data tarballs built with --tar=f must
# mount like GNU tar's extraction of them; a layer with aufs whiteouts and
# opaque directories built with --aufs must act as overlayfs expects when
# mounted as the upper of two lower layers, and --ovlfs-strip=1 must drop
# that metadata. Needs root, EROFS and overlayfs in the kernel, loop
# devices, GNU tar; the Debian part needs the package archive.
. "$(dirname "$0")/lib.sh"
. "$TOP_SRCDIR/tests/roundtrip_lib.sh"

why=$(kernel_unavailable)
if [ -n "$why" ]; then
	skip tar-layer "$why"
	exit 0
fi
OPTS=(-T "$BT" --mkfs-time -U "$FIXED_UUID")

# --- Debian packages' data tarballs -------------------------------------
debs=$EROFS_TEST_CACHE/tar-layer-debs
PKGS=(hello tzdata sensible-utils)
mkdir -p "$debs"
fetch_debs() {
	local p
	for p in "${PKGS[@]}"; do
		ls "$debs/${p}"_*.deb >/dev/null 2>&1 && continue
		(cd "$debs" && timeout 120 apt-get download "$p") \
			>"$TEST_TMP/apt.out" 2>&1 || return 1
	done
}
if ! fetch_debs; then
	skip "Debian data tarballs" "cannot download from the Debian archive: $(grep -m1 -E '^(E|Err):' "$TEST_TMP/apt.out")"
else
	for deb in "$debs"/*.deb; do
		name=$(basename "$deb" .deb)
		w=$TEST_TMP/deb
		rm -rf "$w"
		mkdir -p "$w/x"
		(cd "$w" && ar x "$deb") || { fail "$name: ar x" "cannot unpack"; continue; }
		data=$(ls "$w"/data.tar.* 2>/dev/null | head -n 1)
		[ -n "$data" ] || { fail "$name" "no data.tar.* in the package"; continue; }
		# directories whose members come later in the archive: their times are
		# set at the end, as the archive gives them
		if ! tar -xpf "$data" --numeric-owner --delay-directory-restore \
			-C "$w/x" 2>"$TEST_TMP/tar.err"; then
			fail "$name: GNU tar extracts $(basename "$data")" "$(head -n 1 "$TEST_TMP/tar.err")"
			continue
		fi
		run_mkfs "$name: directory image of the extraction" "${OPTS[@]}" \
			"$w/dir.img" "$w/x" || continue
		run_mkfs "$name: --tar=f $(basename "$data")" "${OPTS[@]}" --tar=f \
			"$w/tar.img" "$data" || continue
		rt_mount_compare "$name: layer image equals GNU tar's extraction" \
			"$w/tar.img" "$w/x"
		check "$name: byte-identical to the directory-built image" \
			cmp -s "$w/tar.img" "$w/dir.img"
		eu_fsck "$name: erofs-utils 1.9 fsck" "$w/tar.img"
	done
fi

# --- whiteouts and opaque directories -----------------------------------
if ! grep -qw overlay /proc/filesystems && ! modprobe overlay 2>/dev/null; then
	skip "aufs whiteouts" "no overlayfs in the kernel"
	exit 0
fi

lower=$TEST_TMP/lower
mkdir -p "$lower"/{dir1,opq/sub,opq2,gone-dir,redo}
for f in keep gone dir1/a dir1/b opq/old1 opq/sub/old2 opq2/old gone-dir/x \
	both redo/old; do
	echo "lower $f" >"$lower/$f"
done
mkdir -p "$lower/wdir"
echo "lower wdir/f" >"$lower/wdir/f"

# The layer, in the order and form container tools write them: Python's
# tarfile gives exact control over the entries.
layer=$TEST_TMP/layer.tar
python3 - "$layer" <<'EOF'
import io, sys, tarfile
t = tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT)
def add(name, kind=tarfile.REGTYPE, data=b'', mode=0o644, pax=None):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.mtime = kind, mode, 1700000000
    ti.size = len(data) if kind == tarfile.REGTYPE else 0
    if pax:
        ti.pax_headers = pax
    t.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
d = tarfile.DIRTYPE
add('./', d, mode=0o755)
add('.wh.gone', data=b'')                  # hides the lower file
add('.wh.gone-dir')                        # hides a lower directory
add('dir1/', d, mode=0o755)
add('dir1/.wh.a')                          # hides dir1/a, dir1/b stays
add('dir1/c', data=b'upper dir1/c\n')
add('opq/', d, mode=0o755)                 # Go's order: the directory,
add('opq/.wh..wh..opq')                    # then its opaque marker
add('opq/new', data=b'upper opq/new\n')
add('opq2/.wh..wh..opq')                   # marker first, directory later:
add('opq2/', d, mode=0o700)                # still opaque, with this mode
add('opq2/mine', data=b'upper opq2/mine\n')
add('newdir/', d, mode=0o755)              # only in this layer, with a
add('newdir/.wh.ghost')                    # whiteout overlayfs must hide
add('newdir/real', data=b'upper newdir/real\n')
add('.wh..wh.plnk/', d)                    # aufs' own metadata: skipped
add('.wh..wh.plnk/123.456', data=b'x')
add('both', data=b'upper both\n')          # a file and its whiteout:
add('.wh.both')                            # the file hides the lower one
add('wdir/', d, mode=0o755)                # a directory and its whiteout:
add('wdir/mine', data=b'upper wdir/mine\n')
add('.wh.wdir')                            # the lower contents go
add('.wh.redo')                            # a whiteout, then entries
add('redo/new', data=b'upper redo/new\n')  # below its name: opaque again
t.close()
EOF

img=$TEST_TMP/layer.img
merged=$TEST_TMP/merged
umnt=$TEST_TMP/upper
mkdir -p "$merged"

# overlay_check NAME CHECK...: mount the image and overlayfs over
# image:lower, run the check function with the merged and image mounts.
overlay_check() {
	local name=$1 fn=$2 out
	kmount "$img" "$umnt" || { fail "$name" "cannot mount the layer image"; return; }
	if ! mount -t overlay overlay -o "lowerdir=$umnt:$lower" "$merged" \
		2>"$TEST_TMP/ovl.err"; then
		fail "$name" "overlayfs mount: $(cat "$TEST_TMP/ovl.err")"
		umount "$umnt"
		return
	fi
	if out=$($fn "$merged" "$umnt" 2>&1); then
		pass "$name"
	else
		fail "$name" "$(echo "$out" | head -n 1)"
		echo "$out" | sed 's/^/    /'
	fi
	umount "$merged"
	umount "$umnt"
}

# expect_ls DIR NAMES...: the sorted listing of DIR is exactly NAMES
expect_ls() {
	local dir=$1 got want
	shift
	got=$(ls -A "$dir" | tr '\n' ' ')
	want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
	[ "$got" = "$want" ] || { echo "ls $dir: got '$got', want '$want'"; return 1; }
}

aufs_merged() {
	local m=$1 u=$2 rc=0
	expect_ls "$m" both dir1 keep newdir opq opq2 redo wdir || rc=1
	expect_ls "$m/redo" new || rc=1
	expect_ls "$m/dir1" b c || rc=1
	expect_ls "$m/opq" new || rc=1
	expect_ls "$m/opq2" mine || rc=1
	expect_ls "$m/newdir" real || rc=1
	expect_ls "$m/wdir" mine || rc=1
	[ ! -e "$m/gone" ] && [ ! -e "$m/gone-dir" ] && [ ! -e "$m/newdir/ghost" ] ||
		{ echo "a whited-out name is still there"; rc=1; }
	[ "$(cat "$m/both")" = "upper both" ] || { echo "both: wrong content"; rc=1; }
	[ "$(cat "$m/keep")" = "lower keep" ] || { echo "keep: wrong content"; rc=1; }
	[ "$(stat -c %a "$m/opq2")" = 700 ] || { echo "opq2: mode not from the later entry"; rc=1; }
	# the image itself: whiteouts are 0/0 character devices, markers xattrs
	[ "$(stat -c '%F %t:%T' "$u/gone")" = "character special file 0:0" ] ||
		{ echo "gone: not a 0/0 whiteout in the image"; rc=1; }
	[ "$(getfattr --only-values -n trusted.overlay.opaque "$u/opq" 2>/dev/null)" = y ] ||
		{ echo "opq: no trusted.overlay.opaque=y"; rc=1; }
	[ "$(getfattr --only-values -n trusted.overlay.opaque "$u/wdir" 2>/dev/null)" = y ] ||
		{ echo "wdir: no trusted.overlay.opaque=y"; rc=1; }
	getfattr -n trusted.overlay.origin "$u/newdir" >/dev/null 2>&1 ||
		{ echo "newdir: holds a whiteout but has no trusted.overlay.origin"; rc=1; }
	[ ! -e "$u/.wh..wh.plnk" ] && ! ls -A "$u" "$u/opq" "$u/opq2" | grep -q '^\.wh\.' ||
		{ echo "aufs names left in the image"; rc=1; }
	return $rc
}

strip_merged() {
	local m=$1 u=$2 rc=0
	expect_ls "$m" both dir1 gone gone-dir keep newdir opq opq2 redo wdir || rc=1
	expect_ls "$m/dir1" a b c || rc=1
	expect_ls "$m/opq" new old1 sub || rc=1
	expect_ls "$m/redo" new old || rc=1
	expect_ls "$u" both dir1 newdir opq opq2 redo wdir || rc=1
	expect_ls "$u/newdir" real || rc=1
	! getfattr -R -d -m 'trusted.overlay' "$u" 2>/dev/null | grep -q . ||
		{ echo "overlay xattrs left: $(getfattr -R -d -m trusted.overlay "$u" | head -n 3)"; rc=1; }
	return $rc
}

plain_files() {
	local m=$1 u=$2
	# without --aufs the names are just names
	expect_ls "$u" .wh..wh.plnk .wh.both .wh.gone .wh.gone-dir .wh.redo .wh.wdir both dir1 newdir opq opq2 redo wdir &&
		expect_ls "$u/opq" .wh..wh..opq new &&
		[ -f "$u/.wh.gone" ]
}

if run_mkfs "--aufs layer" "${OPTS[@]}" --tar=f --aufs "$img" "$layer"; then
	overlay_check "--aufs: whiteouts and opaque directories act in overlayfs" aufs_merged
	eu_fsck "--aufs layer: erofs-utils 1.9 fsck" "$img"
fi
if run_mkfs "--aufs --ovlfs-strip=1 layer" "${OPTS[@]}" --tar=f --aufs \
	--ovlfs-strip=1 "$img" "$layer"; then
	overlay_check "--ovlfs-strip=1: no whiteouts, no opaque markers" strip_merged
fi
if run_mkfs "layer without --aufs" "${OPTS[@]}" --tar=f "$img" "$layer"; then
	overlay_check "without --aufs: .wh. entries stay plain files" plain_files
fi

# --ovlfs-strip also drops whiteouts and opaque xattrs the archive holds
# natively (as an overlayfs upper directory packed by tar would have them)
native=$TEST_TMP/native
mkdir -p "$native/d"
mknod "$native/gone" c 0 0
echo kept >"$native/d/f"
setfattr -n trusted.overlay.opaque -v y "$native/d"
tar --format=pax --xattrs --xattrs-include='*' -C "$native" -cf "$TEST_TMP/native.tar" .
strip_native() {
	local m=$1 u=$2
	expect_ls "$u" d && expect_ls "$u/d" f &&
		! getfattr -n trusted.overlay.opaque "$u/d" >/dev/null 2>&1 &&
		expect_ls "$m" both d dir1 gone gone-dir keep opq opq2 redo wdir &&
		expect_ls "$m/d" f
}
keep_native() {
	local m=$1 u=$2
	[ "$(stat -c '%F %t:%T' "$u/gone")" = "character special file 0:0" ] &&
		[ "$(getfattr --only-values -n trusted.overlay.opaque "$u/d")" = y ] &&
		expect_ls "$m" both d dir1 gone-dir keep opq opq2 redo wdir
}
if run_mkfs "native whiteouts" "${OPTS[@]}" --tar=f "$img" "$TEST_TMP/native.tar"; then
	overlay_check "native whiteouts and opaque xattrs are kept" keep_native
fi
if run_mkfs "native whiteouts, --ovlfs-strip" "${OPTS[@]}" --tar=f --ovlfs-strip \
	"$img" "$TEST_TMP/native.tar"; then
	overlay_check "--ovlfs-strip drops native whiteouts and opaque xattrs" strip_native
fi
