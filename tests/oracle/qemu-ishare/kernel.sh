#!/bin/bash
# kernel.sh: fetch Debian unstable's amd64 kernel plus erofs/virtio_blk modules for the qemu harness; prints its dir.
#
# Usage: KDIR=$(tests/oracle/qemu-ishare/kernel.sh) || exit $?   # 77 = skip
#
# $KDIR holds:
#   vmlinuz        the kernel
#   config         its .config (to check CONFIG_EROFS_FS_PAGE_CACHE_SHARE)
#   modules/*.ko   erofs, virtio_blk and their dependencies, decompressed
#                  (busybox insmod has no xz support)
#   modules.load   module file names in load order (dependencies first)
#   info           KREL=, PKG_VERSION=, PAGE_CACHE_SHARE=y|n lines
#
# The packages are found, not assumed: linux-image-amd64 depends on
# linux-image-<krel>, whose own dependencies (linux-binary-*, linux-modules-*,
# linux-base-* in 7.x; everything in linux-image-* in older layouts) are
# searched for the vmlinuz, the .ko files and the config.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/oracle/sid-apt.sh
. "$here/../sid-apt.sh"

KROOT=$SID_CACHE/kernel-sid
# Wanted in the guest: the filesystem and the disk driver. virtio_pci is
# listed because a kernel with it modular would show no /dev/vd* otherwise;
# anything built in (modules.builtin) is skipped.
WANTED=(erofs virtio_pci virtio_blk)

die77() { printf 'kernel.sh: %s\n' "$*" >&2; exit 77; }
die() { printf 'kernel.sh: %s\n' "$*" >&2; exit 1; }

# "depends=" of a module's .modinfo, one name a line. No kmod on the host:
# the section is NUL-separated key=value strings.
modinfo_depends() {
	objcopy -O binary --only-section=.modinfo "$1" /dev/stdout 2>/dev/null |
		tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' '\n' | sed '/^$/d'
}

# Module file names use '-' and '_' interchangeably; modinfo uses '_'.
modname() { local n=${1##*/}; n=${n%%.ko*}; printf '%s\n' "${n//-/_}"; }

build() {
	local krel=$1 pkgver=$2 dir tmp deb f m
	local parts=() debs=()
	dir=$KROOT/$krel
	tmp=$dir.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp/x" "$tmp/modules"

	mapfile -t parts < <(sid_apt_cache depends "linux-image-$krel" 2>/dev/null |
		awk -v k="$krel" '$1 ~ /Depends:/ && ($2 == "linux-binary-" k ||
			$2 == "linux-modules-" k || $2 == "linux-base-" k) { print $2 }' |
		sort -u)
	parts+=("linux-image-$krel")
	mapfile -t debs < <(sid_download "${parts[@]}") ||
		die77 "cannot download ${parts[*]} from sid"
	((${#debs[@]} == ${#parts[@]})) || die77 "download incomplete"

	# Unpack everything once (about 110 MB, deleted below): a module's
	# dependencies are only known after reading its .modinfo, so picking
	# files out of the archive would mean one full decompression per level.
	for deb in "${debs[@]}"; do
		dpkg-deb -x "$deb" "$tmp/x"
	done

	local vmlinuz
	vmlinuz=$(find "$tmp/x" \( -path "*/boot/vmlinuz-$krel" -o \
		-path "*/modules/$krel/vmlinuz" \) -type f | head -n1)
	[[ -n $vmlinuz ]] || die "no vmlinuz for $krel in ${parts[*]}"
	cp "$vmlinuz" "$tmp/vmlinuz"
	f=$(find "$tmp/x" \( -path "*/boot/config-$krel" -o \
		-path "*/modules/$krel/config" \) -type f | head -n1)
	if [[ -n $f ]]; then cp "$f" "$tmp/config"; else : >"$tmp/config"; fi

	local moddir builtin
	moddir=$(find "$tmp/x" -type d -path "*/modules/$krel" | head -n1)
	[[ -n $moddir ]] || die "no modules directory for $krel"
	builtin=$moddir/modules.builtin
	local -A path_of=() done_=()
	while read -r f; do
		path_of[$(modname "$f")]=$f
	done < <(find "$moddir" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')

	: >"$tmp/modules.load"
	# Depth-first so every module follows its dependencies in modules.load.
	add_module() {
		local name=$1 src out dep
		[[ -z ${done_[$name]:-} ]] || return 0
		done_[$name]=1
		src=${path_of[$name]:-}
		if [[ -z $src ]]; then
			if [[ -r $builtin ]] && grep -q "/${name//_/[-_]}\.ko\$" "$builtin"; then
				return 0
			fi
			die "module $name is neither built in nor shipped for $krel"
		fi
		out=$tmp/modules/$name.ko
		case $src in
		*.xz) xz -dc "$src" >"$out" ;;
		*.zst) zstd -qdc "$src" >"$out" ;;
		*.gz) gzip -dc "$src" >"$out" ;;
		*) cp "$src" "$out" ;;
		esac
		while read -r dep; do
			add_module "$(modname "$dep")"
		done < <(modinfo_depends "$out")
		printf '%s.ko\n' "$name" >>"$tmp/modules.load"
	}
	for m in "${WANTED[@]}"; do
		add_module "$m"
	done

	local share=n
	grep -q '^CONFIG_EROFS_FS_PAGE_CACHE_SHARE=y' "$tmp/config" && share=y
	printf 'KREL=%s\nPKG_VERSION=%s\nPAGE_CACHE_SHARE=%s\nPACKAGES=%s\n' \
		"$krel" "$pkgver" "$share" "${debs[*]##*/}" >"$tmp/info"
	rm -rf "$tmp/x"
	rm -rf "$dir"
	mv "$tmp" "$dir"
	ln -sfn "$krel" "$KROOT/current"
	# Older kernels' packages are only dead weight (a modules .deb is
	# over 100 MB); keep the current ones for a rebuild.
	for deb in "$SID_DEBS"/linux-{binary,modules,base,image}-*.deb; do
		[[ -e $deb && $deb != *"-${krel}_"* ]] || continue
		rm -f "$deb"
	done
}

ensure() {
	local krel='' pkgver=''
	if sid_update; then
		# linux-image-amd64 -> linux-image-<krel>, e.g. 7.2.13+deb14-amd64.
		krel=$(sid_apt_cache depends linux-image-amd64 2>/dev/null |
			sed -n 's/^ *Depends: linux-image-\([0-9].*-amd64\)$/\1/p' | head -n1) ||
			krel=''
		[[ -z $krel ]] ||
			pkgver=$(sid_version "linux-image-$krel" 2>/dev/null) || pkgver=
	fi
	if [[ -z $krel || -z $pkgver ]]; then
		# Offline: the last kernel set up, if any.
		if [[ -r $KROOT/current/info ]]; then
			printf 'kernel.sh: archive unreachable, using cached %s\n' \
				"$(readlink "$KROOT/current")" >&2
			KDIR=$(cd "$KROOT/current" && pwd -P)
			return 0
		fi
		die77 "cannot find linux-image-amd64 in Debian unstable and no cached kernel in $KROOT"
	fi
	KDIR=$KROOT/$krel
	if [[ -r $KDIR/info ]] && grep -qx "PKG_VERSION=$pkgver" "$KDIR/info"; then
		return 0
	fi
	printf 'kernel.sh: setting up kernel %s (%s) in %s\n' "$krel" "$pkgver" "$KDIR" >&2
	build "$krel" "$pkgver"
}

for tool in objcopy xz dpkg-deb; do
	command -v "$tool" >/dev/null || die77 "missing $tool"
done
mkdir -p "$KROOT"
exec 9>"$KROOT/lock"
flock 9
ensure
[[ -s $KDIR/vmlinuz && -s $KDIR/modules.load ]] || die "incomplete $KDIR; remove it and retry"
if ! grep -qx 'PAGE_CACHE_SHARE=y' "$KDIR/info"; then
	printf 'kernel.sh: warning: %s lacks CONFIG_EROFS_FS_PAGE_CACHE_SHARE=y\n' "$KDIR" >&2
fi
printf '%s\n' "$KDIR"
