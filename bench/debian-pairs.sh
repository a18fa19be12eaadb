#!/bin/bash
# debian-pairs.sh: unpack container-like Debian trees at two adjacent versions (old/new) into the test cache.
#
# Usage: bench/debian-pairs.sh [--list] PAIR...
#   PAIR is one of: postgresql, redis, nginx, base
#   --list   print the packages and the two versions chosen, do nothing else
#
# Every pair is a common base (libc6, libssl3, coreutils, perl-base,
# libicu72, tzdata, ...) plus one application. For each package the "old"
# tree gets the lowest version the system's apt sources offer (bookworm,
# bookworm-security, bookworm-updates) and the "new" tree the highest, so a
# package updated by a point release or a security fix differs between the
# trees while one without updates is the same in both. Packages are
# unpacked with dpkg-deb -x, without maintainer scripts or dependencies.
#
# Output, one line per pair: "PAIR OLD_DIR NEW_DIR".
# Downloads (.deb) and trees stay in $EROFS_TEST_CACHE/debian-pairs and are
# reused; a tree is rebuilt only when its list of packages changes.
# Exit 77 with the reason on stderr when apt or the archive is unavailable
# and nothing usable is cached.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${EROFS_TEST_CACHE:-$here/../tests/.cache}/debian-pairs
DEBS=$CACHE/debs

die77() { printf 'debian-pairs: %s\n' "$*" >&2; exit 77; }
die() { printf 'debian-pairs: %s\n' "$*" >&2; exit 1; }

BASE=(libc6 libssl3 openssl coreutils perl-base libicu72 tzdata bash
	libstdc++6 libgcc-s1 zlib1g libzstd1 liblz4-1 liblzma5 libsystemd0
	libudev1 libxml2 libexpat1 libpcre2-8-0 libgnutls30 libsqlite3-0
	libcurl4 libkrb5-3 libgssapi-krb5-2 libsasl2-2 libldap-2.5-0
	libnghttp2-14 libcap2 libcrypt1 libselinux1 libuuid1 util-linux
	libpam0g login python3.11-minimal libpython3.11-minimal
	libpython3.11-stdlib)

pair_packages() {
	case $1 in
	base) echo "${BASE[*]}" ;;
	postgresql) echo "${BASE[*]} postgresql-15 postgresql-client-15 libpq5" ;;
	redis) echo "${BASE[*]} redis-server redis-tools libjemalloc2 liblzf1" ;;
	nginx) echo "${BASE[*]} nginx-core nginx-common libnginx-mod-http-geoip libnginx-mod-stream" ;;
	*) return 1 ;;
	esac
}

list=0
pairs=()
for a in "$@"; do
	case $a in
	--list) list=1 ;;
	-h | --help) sed -n '3,20s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
	*) pair_packages "$a" >/dev/null || die "unknown pair '$a'"; pairs+=("$a") ;;
	esac
done
((${#pairs[@]})) || die "usage: $0 [--list] postgresql|redis|nginx|base..."
for tool in dpkg-deb dpkg; do
	command -v $tool >/dev/null || die77 "missing $tool"
done
mkdir -p "$DEBS"

# "old new" versions of every package, from the system's apt lists: one
# apt-cache call for all (each call takes a second or two).
declare -A VERSIONS=()
load_versions() {
	local pkg v
	command -v apt-cache >/dev/null || return 0
	while read -r pkg v; do
		if [[ -z ${VERSIONS[$pkg]:-} ]]; then
			VERSIONS[$pkg]="$v $v"
			continue
		fi
		read -r lo hi <<<"${VERSIONS[$pkg]}"
		dpkg --compare-versions "$v" lt "$lo" && lo=$v
		dpkg --compare-versions "$v" gt "$hi" && hi=$v
		VERSIONS[$pkg]="$lo $hi"
	done < <(apt-cache madison "$@" 2>/dev/null |
		awk -F'|' '{ gsub(/ /, "", $1); gsub(/ /, "", $2); print $1, $2 }' |
		sort -u)
}
versions_of() { echo "${VERSIONS[$1]:-}"; }

# The cached .deb of PKG at VERSION (apt writes an epoch's colon as %3a).
deb_path() {
	local f
	for f in "$DEBS/${1}_${2//:/%3a}_"*.deb "$DEBS/${1}_${2#*:}_"*.deb; do
		[[ -f $f ]] && { echo "$f"; return; }
	done
	return 0
}

fetch() { # PKG VERSION
	local f
	f=$(deb_path "$1" "$2")
	if [[ -n $f ]]; then
		echo "$f"
		return
	fi
	(cd "$DEBS" && apt-get -q -o APT::Sandbox::User=root download "$1=$2" \
		>/dev/null 2>"$DEBS/.err") ||
		die77 "cannot download $1=$2: $(tail -n1 "$DEBS/.err")"
	f=$(deb_path "$1" "$2")
	[[ -n $f ]] || die "downloaded $1=$2 but cannot find its .deb"
	echo "$f"
}

# Without apt lists, fall back to whatever the cache holds: the lowest and
# highest cached version of each package.
cached_versions() {
	local f vs=() v lo hi
	for f in "$DEBS/$1"_*.deb; do
		[[ -f $f ]] || continue
		v=${f##*/}; v=${v#"$1"_}; v=${v%_*}; v=${v//%3a/:}
		vs+=("$v")
	done
	((${#vs[@]})) || return 0
	lo=${vs[0]} hi=${vs[0]}
	for v in "${vs[@]}"; do
		dpkg --compare-versions "$v" lt "$lo" && lo=$v
		dpkg --compare-versions "$v" gt "$hi" && hi=$v
	done
	echo "$lo $hi"
}

unpack() { # DIR DEB...
	local dir=$1 d
	shift
	rm -rf "$dir.tmp"
	mkdir -p "$dir.tmp"
	for d in "$@"; do
		dpkg-deb -x "$d" "$dir.tmp" || die "dpkg-deb -x $d failed"
	done
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
}

all=()
for pair in "${pairs[@]}"; do
	read -ra pk <<<"$(pair_packages "$pair")"
	all+=("${pk[@]}")
done
load_versions $(printf '%s\n' "${all[@]}" | sort -u)

for pair in "${pairs[@]}"; do
	old_debs=() new_debs=()
	for p in $(pair_packages "$pair"); do
		vv=$(versions_of "$p")
		[[ -n $vv ]] || vv=$(cached_versions "$p")
		[[ -n $vv ]] || die77 "no version of $p in the apt lists or the cache"
		read -r lo hi <<<"$vv"
		if ((list)); then
			printf '%s %s %s %s\n' "$pair" "$p" "$lo" "$hi"
			continue
		fi
		old_debs+=("$(fetch "$p" "$lo")")
		new_debs+=("$(fetch "$p" "$hi")")
	done
	((list)) && continue
	T=$CACHE/trees/$pair
	mkdir -p "$T"
	for side in old new; do
		declare -n debs=${side}_debs
		stamp=$(printf '%s\n' "${debs[@]##*/}")
		if [[ ! -d $T/$side || ! -f $T/$side.stamp ||
			$(cat "$T/$side.stamp") != "$stamp" ]]; then
			unpack "$T/$side" "${debs[@]}"
			printf '%s\n' "$stamp" >"$T/$side.stamp"
		fi
		unset -n debs
	done
	printf '%s %s %s\n' "$pair" "$T/old" "$T/new"
done
