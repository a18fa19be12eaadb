# shellcheck shell=bash
# What the two tests that judge page cache sharing under qemu share
# (t-ishare-qemu.sh, t-share-qemu.sh). Source after tests/lib.sh, with
# T (the test's name), W (its scratch directory) and RUN (the harness,
# tests/oracle/qemu-ishare/run.sh) set.

# qemu_share_ready: root, the tools, and a 7.x kernel with EROFS page
# cache sharing; sets PY (the python interpreter itself: a version
# manager's wrapper costs a second a call) and KDIR. Prints a SKIP line
# and returns 1 when something is missing.
qemu_share_ready() {
	local tool
	if [ "$(id -u)" -ne 0 ]; then
		skip "$T" "needs root (qemu harness, dpkg-deb ownership)"
		return 1
	fi
	for tool in qemu-system-x86_64 python3 setfattr truncate; do
		if ! command -v $tool >/dev/null; then
			skip "$T" "missing $tool"
			return 1
		fi
	done
	PY=$(python3 -c 'import sys; print(sys.executable)')
	if ! KDIR=$("$TOP_SRCDIR/tests/oracle/qemu-ishare/kernel.sh" 2>"$W/k.err"); then
		skip "$T" "no 7.x kernel: $(tail -n1 "$W/k.err")"
		return 1
	fi
	if ! grep -qx 'PAGE_CACHE_SHARE=y' "$KDIR/info"; then
		skip "$T" "kernel $(sed -n 's/^KREL=//p' "$KDIR/info") lacks EROFS page cache sharing"
		return 1
	fi
}

# measure NAME RUN-ARGS...: run the harness, output in $W/NAME.out; a
# harness that cannot run is a SKIP, one that fails a FAIL (returns 1)
measure() {
	local name=$1 rc=0
	shift
	"$RUN" "$@" >"$W/$name.out" 2>"$W/$name.err" || rc=$?
	if [ $rc -eq 77 ]; then
		skip "$T: $name" "$(tail -n1 "$W/$name.err")"
		return 1
	elif [ $rc -ne 0 ] || ! grep -qx 'RESULT=ok' "$W/$name.out"; then
		fail "$T: $name" "harness exit $rc: $(grep -m1 '^ERROR=' "$W/$name.out" || tail -n1 "$W/$name.err")"
		return 1
	fi
}

# val NAME KEY: the value of KEY= in the harness output $W/NAME.out
val() { sed -n "s/^$2=//p" "$W/$1.out" | head -n1; }
