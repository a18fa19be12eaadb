#!/bin/bash
# erofs-utils-new.sh: provide Debian unstable's erofs-utils (1.9.x) as an oracle; prints its bin dir.
#
# Usage:
#   EU_BIN=$(tests/oracle/erofs-utils-new.sh) || exit $?   # 77 = skip
#   "$EU_BIN/mkfs.erofs" ...; "$EU_BIN/fsck.erofs" ...; "$EU_BIN/dump.erofs" ...
#   tests/oracle/erofs-utils-new.sh --selftest   # PASS/FAIL/SKIP lines
#
# The tools need a newer glibc than bookworm's, so the package and the shared
# libraries it needs are unpacked into $CACHE/erofs-utils-new/root and the
# wrappers in $CACHE/erofs-utils-new/bin run them through the unpacked dynamic
# loader. Only packages that provide a DT_NEEDED soname of something already
# unpacked are kept, so the root holds what the binaries load and no more.
# Rebuilt when sid's erofs-utils version changes; otherwise reused offline.
#
# Exit 77 with the reason on stderr when the archive is unreachable and no
# usable copy is cached.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/oracle/sid-apt.sh
. "$here/sid-apt.sh"

EU_DIR=$SID_CACHE/erofs-utils-new
TRIPLET=x86_64-linux-gnu

die77() { printf 'erofs-utils-new: %s\n' "$*" >&2; exit 77; }
die() { printf 'erofs-utils-new: %s\n' "$*" >&2; exit 1; }

selftest=
case ${1:-} in
--selftest) selftest=1 ;;
'') ;;
*) die "usage: $0 [--selftest]" ;;
esac

# Sonames an ELF file asks for; nothing for non-ELF files.
needed_of() {
	readelf -d "$1" 2>/dev/null |
		sed -n 's/.*(NEEDED).*Shared library: \[\(.*\)\]/\1/p'
}

# Every ELF object of ROOT the loader may map: programs and the shared
# objects in the library dirs (plugins in subdirectories are dlopen()ed on
# demand and are not needed by the tools' normal paths).
elf_objects() {
	local root=$1 f
	for f in "$root"/usr/bin/* "$root"/usr/sbin/* \
		"$root/usr/lib/$TRIPLET"/*.so* "$root/lib/$TRIPLET"/*.so*; do
		[[ -f $f && ! -L $f ]] || continue
		[[ $(head -c4 "$f" | od -An -c | tr -d ' ') == '177ELF' ]] || continue
		printf '%s\n' "$f"
	done
}

have_soname() {
	[[ -e $1/usr/lib/$TRIPLET/$2 || -e $1/lib/$TRIPLET/$2 ]]
}

# Set up $EU_DIR/root and $EU_DIR/bin for erofs-utils version $1.
build_root() {
	local ver=$1 tmp pkg so f missing pkgs_to_add
	local -A deb_of=() provider=() unpacked=()
	tmp=$EU_DIR.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp/root" "$tmp/bin"

	# Candidates: the Depends/Pre-Depends closure. It is a superset (it also
	# holds e.g. gcc-*-base and openssl-provider-legacy, which ship no
	# needed soname); the soname walk below picks from it.
	local closure=()
	mapfile -t closure < <(sid_apt_cache depends --recurse --no-recommends \
		--no-suggests --no-conflicts --no-breaks --no-replaces \
		--no-enhances erofs-utils 2>/dev/null | grep -v '^[ <]' | sort -u)
	((${#closure[@]} > 1)) || die77 "cannot resolve erofs-utils dependencies in sid"
	local debs=()
	mapfile -t debs < <(sid_download "${closure[@]}") ||
		die77 "cannot download erofs-utils and its libraries from sid"
	((${#debs[@]} == ${#closure[@]})) || die77 "download incomplete"

	local i
	for i in "${!closure[@]}"; do
		pkg=${closure[$i]}
		deb_of[$pkg]=${debs[$i]}
		# Index the sonames (files and symlinks) each package ships in the
		# library dirs.
		while read -r so; do
			[[ -n ${provider[$so]:-} ]] || provider[$so]=$pkg
		done < <(dpkg-deb -c "${debs[$i]}" | awk '{ print $6 }' |
			sed -n "s#^\./\(usr/\)\{0,1\}lib/$TRIPLET/\([^/]*\.so[^/]*\)\$#\2#p")
	done

	# libc6 brings the loader the wrappers run; the rest follows NEEDED.
	pkgs_to_add=(erofs-utils libc6)
	while ((${#pkgs_to_add[@]})); do
		for pkg in "${pkgs_to_add[@]}"; do
			dpkg-deb -x "${deb_of[$pkg]}" "$tmp/root"
			unpacked[$pkg]=1
		done
		pkgs_to_add=()
		missing=()
		while read -r f; do
			while read -r so; do
				have_soname "$tmp/root" "$so" || missing+=("$so")
			done < <(needed_of "$f")
		done < <(elf_objects "$tmp/root")
		for so in $(printf '%s\n' "${missing[@]}" | sort -u); do
			pkg=${provider[$so]:-}
			[[ -n $pkg ]] || die "no package in erofs-utils' dependency closure ships $so"
			[[ -z ${unpacked[$pkg]:-} ]] || die "$pkg was unpacked but $so is still missing"
			[[ " ${pkgs_to_add[*]} " == *" $pkg "* ]] || pkgs_to_add+=("$pkg")
		done
	done

	local ldso=$tmp/root/usr/lib/$TRIPLET/ld-linux-x86-64.so.2
	[[ -x $ldso ]] || die "unpacked libc6 has no $ldso"
	# Cross-check with the loader itself: it reports anything the walk missed.
	for f in "$tmp"/root/usr/bin/*; do
		if "$ldso" --library-path "$tmp/root/usr/lib/$TRIPLET:$tmp/root/lib/$TRIPLET" \
			--list "$f" 2>&1 | grep -q 'not found'; then
			die "unresolved libraries for $f"
		fi
	done

	for f in "$tmp"/root/usr/bin/* "$tmp"/root/usr/sbin/*; do
		[[ -f $f && -x $f ]] || continue
		write_wrapper "$tmp/bin/${f##*/}" "${f#"$tmp/root/"}"
	done
	for pkg in "${!unpacked[@]}"; do
		printf '%s\n' "${deb_of[$pkg]##*/}"
	done | sort >"$tmp/PACKAGES"
	printf '%s\n' "$ver" >"$tmp/VERSION"

	rm -rf "$EU_DIR"
	mv "$tmp" "$EU_DIR"
}

# The wrapper finds the root relative to itself so the cache dir can move.
# --argv0 keeps the tools' messages naming themselves. OPENSSL_CONF points
# away from bookworm's openssl.cnf, which the unpacked (newer) libssl need not
# understand; the tools only use it for digests from the default provider.
write_wrapper() {
	cat >"$1" <<EOF
#!/bin/sh
# Runs Debian unstable's ${2##*/} from the unpacked root next to this dir.
R=\$(cd "\$(dirname "\$0")/../root" && pwd) || exit 127
OPENSSL_CONF=/dev/null exec "\$R/usr/lib/$TRIPLET/ld-linux-x86-64.so.2" \\
	--library-path "\$R/usr/lib/$TRIPLET:\$R/lib/$TRIPLET" \\
	--argv0 "${2##*/}" "\$R/$2" "\$@"
EOF
	chmod 755 "$1"
}

ensure() {
	local ver=
	if sid_update; then
		ver=$(sid_version erofs-utils 2>/dev/null) || ver=
	fi
	if [[ -x $EU_DIR/bin/mkfs.erofs && -r $EU_DIR/VERSION ]]; then
		# Reuse when current, or when sid cannot tell us otherwise.
		if [[ -z $ver || $(<"$EU_DIR/VERSION") == "$ver" ]]; then
			return 0
		fi
	fi
	[[ -n $ver ]] || die77 "Debian unstable archive unreachable and no cached erofs-utils in $EU_DIR"
	printf 'erofs-utils-new: setting up erofs-utils %s in %s\n' "$ver" "$EU_DIR" >&2
	build_root "$ver"
}

# Build, check and dump a tiny image with fingerprints; the harness depends on
# exactly these options, so a change in their spelling shows here first.
run_selftest() {
	local bin=$1 w rc=0
	w=$(mktemp -d)
	# shellcheck disable=SC2064
	trap "rm -rf '$w'" EXIT
	mkdir -p "$w/src/sub"
	printf 'hello\n' >"$w/src/a"
	head -c 100000 /dev/urandom >"$w/src/sub/b"
	cp "$w/src/sub/b" "$w/src/c"
	if "$bin/mkfs.erofs" -V >"$w/v" 2>&1 && grep -q '^mkfs.erofs' "$w/v"; then
		echo "PASS: erofs-utils-new version ($(head -n1 "$w/v"))"
	else
		echo "FAIL: erofs-utils-new version: $(head -n1 "$w/v")"; rc=1
	fi
	if "$bin/mkfs.erofs" --quiet --xattr-inode-digest "$w/img" "$w/src" >"$w/log" 2>&1; then
		echo "PASS: erofs-utils-new mkfs --xattr-inode-digest"
	else
		echo "FAIL: erofs-utils-new mkfs --xattr-inode-digest: $(tail -n1 "$w/log")"; rc=1
	fi
	if "$bin/fsck.erofs" --xattr-inode-digest "$w/img" >"$w/log" 2>&1; then
		echo "PASS: erofs-utils-new fsck --xattr-inode-digest"
	else
		echo "FAIL: erofs-utils-new fsck --xattr-inode-digest: $(tail -n1 "$w/log")"; rc=1
	fi
	if "$bin/dump.erofs" "$w/img" >"$w/log" 2>&1 &&
		grep -q 'Filesystem magic number' "$w/log"; then
		echo "PASS: erofs-utils-new dump"
	else
		echo "FAIL: erofs-utils-new dump: $(tail -n1 "$w/log")"; rc=1
	fi
	return $rc
}

mkdir -p "$SID_CACHE"
exec 9>"$SID_CACHE/erofs-utils-new.lock"
flock 9
ensure
"$EU_DIR/bin/mkfs.erofs" -V >/dev/null 2>&1 ||
	die "cached $EU_DIR/bin/mkfs.erofs does not run; remove $EU_DIR and retry"
if [[ -n $selftest ]]; then
	run_selftest "$EU_DIR/bin"
else
	printf '%s\n' "$EU_DIR/bin"
fi
