#!/usr/bin/env bash
# Set up a fresh Debian machine (as root), build the toolchain, and either
# build and describe the sample image or run the whole test suite.
#   ./build.sh sample   install what is missing, build, image ./sample
#   ./build.sh check    the same set-up, then the whole test suite, then
#                       make distcheck (the release tarball builds with
#                       warnings as errors, installs, and passes the unit
#                       and install tests), the suite again with ASan+UBSan
#                       (build-asan/), then a few minutes of fuzzing
#                       (build-fuzz/); one summary line at the end
set -euo pipefail
cd "$(dirname "$0")"

packages=(
	# build
	build-essential autoconf automake libtool pkg-config
	liblz4-dev liblzma-dev libzstd-dev uuid-dev libselinux1-dev
	libxxhash-dev libssl-dev libarchive-dev zlib1g-dev libdeflate-dev
	# tests and oracles
	python3 attr acl e2fsprogs xfsprogs util-linux kmod file tar gzip
	xz-utils zstd
	erofs-utils qemu-system-x86 busybox-static cpio
	clang libclang-rt-14-dev time strace
	# DuckDB from the npm registry checks the manifests' query (tests)
	nodejs
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
		mkdir -p m4 # libtool puts its macros there
		autoreconf -fi
	fi
	[ -f Makefile ] && [ config.status -nt configure ] &&
		grep -q -- "${werror:-^}" config.status ||
		./configure $werror
	make -j2
}

# A copy of the sources in DIR, configured with the rest of the arguments
# and built: a build directory beside an in-tree build would pick up its
# objects, so the other builds get sources of their own.
build_copy() {
	local dir=$1
	shift
	rm -rf "$dir"
	mkdir -p "$dir"
	tar -c --exclude=./build-asan --exclude=./build-fuzz --exclude=./.git \
		--exclude=./tests/.cache --exclude=./tests/logs --exclude='./erofs-share-*' \
		--exclude='*.o' \
		--exclude='*.lo' --exclude='*.la' --exclude=.libs --exclude=.deps \
		. | tar -x -C "$dir"
	(cd "$dir" && { [ ! -f Makefile ] || make distclean >/dev/null; } &&
		./configure -q $werror "$@" && make -j2 >/dev/null)
}

SUMMARY_RE='^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$'
total_pass=0 total_fail=0 total_skip=0

# count LOG: add the suite's summary line (its last) to the totals; a run
# that ended without one counts as a failure.
count() {
	local last p f s
	last=$(grep -E "$SUMMARY_RE" "$1" | tail -n 1)
	if [ -z "$last" ]; then
		echo "FAIL: $(basename "$1" .log): ended without a summary line"
		total_fail=$((total_fail + 1))
		return
	fi
	read -r p _ f _ s _ <<<"${last//,/}"
	total_pass=$((total_pass + p)) total_fail=$((total_fail + f))
	total_skip=$((total_skip + s))
}

# The suite on the plain build, make distcheck, the suite on the sanitizer
# build, then a bounded fuzzing run; each prints its lines, and one
# summary covers all four.
check_all() {
	local logs=tests/logs
	mkdir -p "$logs"
	set +e
	echo "=== test suite (plain build)"
	make -j2 check 2>&1 | tee "$logs/suite-plain.log" | grep -vE "$SUMMARY_RE"
	count "$logs/suite-plain.log"

	echo "=== make distcheck (tarball, install, unit and install tests)"
	if make -j2 distcheck DISTCHECK_CONFIGURE_FLAGS="$werror" \
		>"$logs/distcheck.log" 2>&1; then
		grep -aE '^  \[' "$logs/distcheck.log"
		count "$logs/distcheck.log"
	else
		grep -aE '^  \[.*(FAIL|SKIP)' "$logs/distcheck.log"
		echo "FAIL: make distcheck: $(tail -n 5 "$logs/distcheck.log")"
		total_fail=$((total_fail + 1))
	fi

	echo "=== test suite (ASan + UBSan build in build-asan/)"
	if build_copy build-asan --enable-sanitizers >"$logs/build-asan.log" 2>&1
	then
		# qemu tests judge a 7.x kernel booted under TCG (minutes of
		# emulation); the plain pass ran them, and every path of our
		# code they take is covered again by the kernel round trips
		(cd build-asan && EROFS_TEST_CACHE=$PWD/../tests/.cache \
			TESTS_SKIP="t-ishare-qemu.sh t-share-qemu.sh" \
			TESTS_SKIP_REASON="not repeated under sanitizers: it judges the kernel under qemu, and the plain pass ran it" \
			make -j2 check) 2>&1 |
			tee "$logs/suite-asan.log" | grep -vE "$SUMMARY_RE"
		count "$logs/suite-asan.log"
	else
		echo "FAIL: sanitizer build: $(tail -n 5 "$logs/build-asan.log")"
		total_fail=$((total_fail + 1))
	fi

	echo "=== fuzzing (libFuzzer build in build-fuzz/, 60 s per target)"
	if ! command -v clang >/dev/null; then
		echo "SKIP: fuzzing: clang is not installed"
		total_skip=$((total_skip + 1))
	elif build_copy build-fuzz --enable-fuzzing CC=clang \
		>"$logs/build-fuzz.log" 2>&1; then
		bash fuzz/run.sh build-fuzz 60 >"$logs/fuzz.log" 2>&1
		cat "$logs/fuzz.log"
		total_pass=$((total_pass + $(grep -c '^PASS: ' "$logs/fuzz.log")))
		total_fail=$((total_fail + $(grep -c '^FAIL: ' "$logs/fuzz.log")))
		total_skip=$((total_skip + $(grep -c '^SKIP: ' "$logs/fuzz.log")))
	else
		echo "FAIL: fuzz build: $(tail -n 5 "$logs/build-fuzz.log")"
		total_fail=$((total_fail + 1))
	fi
	set -e
	echo "$total_pass passed, $total_fail failed, $total_skip skipped"
	[ "$total_fail" -eq 0 ]
}

install_missing
# the test run builds with warnings as errors, as CI judges the code
werror=
[ "${1:-sample}" = check ] && werror=--enable-werror
build
case "${1:-sample}" in
sample)
	./mkfs/mkfs.erofs -T0 -Uclear --ishare sample.img sample
	if [ -x dump/dump.erofs ]; then ./dump/dump.erofs -s -S sample.img; fi
	;;
check)
	check_all
	;;
*)
	echo "usage: $0 [sample|check]" >&2
	exit 2
	;;
esac
