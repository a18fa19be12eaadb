#!/usr/bin/env bash
# Run the test suite: every tests/t-*.sh, tests/t-*.py and unit test binary.
# Each test prints "PASS: name", "FAIL: name: why" or "SKIP: name: why"
# lines; the last line of the run is "N passed, N failed, N skipped".
# Usage: run-tests.sh [PATTERN...]  (substrings of test file names)
# TESTS_SKIP="t-a.sh t-b.py" and TESTS_SKIP_REASON="why": those tests are
# not run and count as one SKIP each, with the reason.
set -u

top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
top_builddir=${TOP_BUILDDIR:-$(pwd)}
export TOP_SRCDIR=$top_srcdir TOP_BUILDDIR=$top_builddir
export MKFS=${MKFS:-$top_builddir/mkfs/mkfs.erofs}
export FSCK=${FSCK:-$top_builddir/fsck/fsck.erofs}
export DUMP=${DUMP:-$top_builddir/dump/dump.erofs}
# downloads are kept in the source tree, or the build tree when the
# source is read-only (make distcheck)
cache=$top_srcdir/tests/.cache
[ -w "$top_srcdir/tests" ] || cache=$top_builddir/tests/.cache
export EROFS_TEST_CACHE=${EROFS_TEST_CACHE:-$cache}
export PYTHONDONTWRITEBYTECODE=1
mkdir -p "$EROFS_TEST_CACHE"

tests=()
for t in "$top_builddir"/tests/unit/test-*; do
	[ -x "$t" ] && [ -f "$t" ] && [[ $t != *.c ]] && [[ $t != *.o ]] &&
		tests+=("$t")
done
for t in "$top_srcdir"/tests/t-*.sh "$top_srcdir"/tests/t-*.py; do
	[ -f "$t" ] && tests+=("$t")
done

if [ $# -gt 0 ]; then
	selected=()
	for t in "${tests[@]}"; do
		for p in "$@"; do
			[[ $(basename "$t") == *"$p"* ]] && selected+=("$t") && break
		done
	done
	tests=("${selected[@]}")
fi

passed=0 failed=0 skipped=0
log_dir=$top_builddir/tests/logs
mkdir -p "$log_dir"
for t in "${tests[@]}"; do
	name=$(basename "$t")
	log=$log_dir/$name.log
	if [[ " ${TESTS_SKIP:-} " == *" $name "* ]]; then
		echo "  [$name] SKIP: $name: ${TESTS_SKIP_REASON:-skipped on request}"
		echo "$name: 0 passed, 0 failed, 1 skipped (0s)"
		skipped=$((skipped + 1))
		continue
	fi
	start=$(date +%s)
	case $t in
	*.py) python3 "$t" >"$log" 2>&1 ;;
	*.sh) bash "$t" >"$log" 2>&1 ;;
	*) "$t" >"$log" 2>&1 ;;
	esac
	rc=$?
	p=$(grep -ac '^PASS: ' "$log")
	f=$(grep -ac '^FAIL: ' "$log")
	s=$(grep -ac '^SKIP: ' "$log")
	grep -aE '^(PASS|FAIL|SKIP): ' "$log" | sed "s|^|  [$name] |"
	# a test that died, or said nothing, must not look like a pass
	if [ "$rc" -eq 77 ] && [ $((p + f + s)) -eq 0 ]; then
		s=1
		echo "  [$name] SKIP: $name: $(tail -n 1 "$log")"
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && [ "$rc" -ne 77 ]; then
		f=1
		echo "  [$name] FAIL: $name: exit status $rc (see $log)"
		tail -n 20 "$log" | sed 's/^/      /'
	elif [ $((p + f + s)) -eq 0 ]; then
		f=1
		echo "  [$name] FAIL: $name: reported no result"
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	echo "$name: $p passed, $f failed, $s skipped ($(($(date +%s) - start))s)"
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
