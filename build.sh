#!/usr/bin/env bash
# Set up a fresh Debian machine (as root), build the toolchain, and either
# build and describe the sample image or run the whole test suite.
#   ./build.sh sample   install what is missing, build, image ./sample
#   ./build.sh check    the same set-up, then the whole test suite
set -euo pipefail
cd "$(dirname "$0")"

packages=(
	# build
	build-essential autoconf automake libtool pkg-config
	liblz4-dev liblzma-dev libzstd-dev uuid-dev libselinux1-dev
	libxxhash-dev libssl-dev libarchive-dev zlib1g-dev
	# tests and oracles
	python3 attr acl e2fsprogs util-linux kmod file tar gzip xz-utils zstd
	erofs-utils qemu-system-x86 busybox-static cpio
	clang libclang-rt-14-dev time
)

install_missing() {
	local missing=() p
	for p in "${packages[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return
	if [ "$(id -u)" -ne 0 ]; then
		echo "build.sh: missing packages (run as root to install):" \
			"${missing[*]}" >&2
		exit 1
	fi
	echo "build.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() {
	if [ ! -x configure ] || [ configure.ac -nt configure ] ||
		[ Makefile.am -nt Makefile.in ]; then
		autoreconf -fi
	fi
	[ -f Makefile ] && [ config.status -nt configure ] || ./configure
	make -j2
}

install_missing
build
case "${1:-sample}" in
sample)
	./mkfs/mkfs.erofs -T0 -Uclear --ishare sample.img sample
	if [ -x dump/dump.erofs ]; then ./dump/dump.erofs -s -S sample.img; fi
	;;
check)
	make -j2 check
	;;
*)
	echo "usage: $0 [sample|check]" >&2
	exit 2
	;;
esac
