# Shared helpers for shell tests (sourced). Results are lines
# "PASS: name", "FAIL: name: why", "SKIP: name: why" on stdout.
set -u

: "${TOP_SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${TOP_BUILDDIR:=$TOP_SRCDIR}"
: "${MKFS:=$TOP_BUILDDIR/mkfs/mkfs.erofs}"
: "${FSCK:=$TOP_BUILDDIR/fsck/fsck.erofs}"
: "${DUMP:=$TOP_BUILDDIR/dump/dump.erofs}"
: "${EROFS_TEST_CACHE:=$TOP_SRCDIR/tests/.cache}"

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: ${2:-}"; }
skip() { echo "SKIP: $1: ${2:-}"; }

# check NAME COMMAND...: PASS when the command succeeds, FAIL otherwise
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name" "command failed: $*"; fi
}

# A scratch directory removed when the test exits (mounts undone first).
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/erofs-test.XXXXXX")
_mounts=()
cleanup() {
	local m
	for m in "${_mounts[@]}"; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	rm -rf "$TEST_TMP"
}
trap cleanup EXIT

# Why the kernel cannot be used here, or nothing when it can.
kernel_unavailable() {
	[ "$(id -u)" -eq 0 ] || { echo "needs root to mount images"; return; }
	grep -qw erofs /proc/filesystems 2>/dev/null ||
		modprobe erofs 2>/dev/null ||
		{ echo "kernel has no EROFS support"; return; }
	grep -qw erofs /proc/filesystems ||
		{ echo "kernel has no EROFS support"; return; }
	losetup -f >/dev/null 2>&1 || { echo "no free loop device"; return; }
}

# kmount IMAGE DIR: mount an image read-only through a loop device.
kmount() {
	mkdir -p "$2"
	mount -t erofs -o loop,ro "$1" "$2" || return 1
	_mounts+=("$2")
}

kumount() {
	umount "$1"
}
