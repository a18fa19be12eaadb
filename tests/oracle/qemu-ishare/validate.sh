#!/bin/bash
# validate.sh: check that the qemu page cache sharing harness measures what it should, on images with a known overlap.
#
# Usage: validate.sh [--mkfs PATH] [--no-compress] [--keep]
#   --mkfs PATH     mkfs.erofs to build the images (default: Debian unstable's
#                   erofs-utils from ../erofs-utils-new.sh); must accept
#                   --quiet, --xattr-inode-digest[=NAME] and -zlz4hc
#   --no-compress   skip the compressed cases
#   --keep          keep the trees, images and run.sh outputs
#
# Trees: A holds ~40 MiB of random files; B the same names and sizes with
# every odd-numbered file's content replaced, so about half the bytes are
# shared. C and D are the same shapes with compressible text. Expected
# page cache growth is computed from the file sizes in whole pages; the
# tolerance covers metadata blocks and the compressed-data cache.
#
# Prints PASS:/FAIL:/SKIP: lines (and INFO: for observations that are not
# assertions); exits 0 when nothing failed, 77 when a prerequisite is
# missing, 1 otherwise.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUN=$here/run.sh

mkfs='' compress=1 keep=0
while (($#)); do
	case $1 in
	--mkfs) mkfs=${2:?}; shift ;;
	--no-compress) compress=0 ;;
	--keep) keep=1 ;;
	*) sed -n '3,9s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
	esac
	shift
done
if [[ -z $mkfs ]]; then
	eu_bin=$("$here/../erofs-utils-new.sh") || exit $?
	mkfs=$eu_bin/mkfs.erofs
fi
[[ -x $mkfs ]] || { echo "validate.sh: no executable $mkfs" >&2; exit 77; }
# Fetch the kernel first so a missing one is a clean skip, not N failures.
"$here/kernel.sh" >/dev/null || exit $?

W=$(mktemp -d "${TMPDIR:-/tmp}/ishare-validate.XXXXXX")
if ((keep)); then
	echo "validate.sh: keeping $W" >&2
else
	trap 'rm -rf "$W"' EXIT
fi

failed=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; failed=1; }
info() { echo "INFO: $*"; }

# Text with the redundancy of prose, so every compressor gets about 2-4x.
text() { # SIZE SEED
	awk -v n="$1" -v seed="$2" 'BEGIN {
		srand(seed)
		nw = split("alpha beta gamma delta epsilon zeta eta theta iota " \
			"kappa lambda mu nu xi omicron pi rho sigma tau upsilon " \
			"phi chi psi omega erofs inode block cache share page", w, " ")
		# Exactly n bytes from awk itself: a "| head -c" would kill awk
		# with SIGPIPE, which pipefail turns into a failure.
		for (c = 0; c < n; c += length(line)) {
			line = ""
			while (length(line) < 70)
				line = line w[int(rand() * nw) + 1] " "
			line = line "\n"
			if (c + length(line) > n)
				line = substr(line, 1, n - c)
			printf "%s", line
		}
	}'
}

# Sizes 1 B .. 1 MiB until 40 MiB, fixed by the seed so runs compare.
mapfile -t sizes < <(awk 'BEGIN {
	srand(1)
	for (t = 0; t < 40 * 1048576; t += s) {
		s = int(rand() * 1048576) + 1
		print s
	}
}')
pages_kb() { local pages=$((($1 + 4095) / 4096)); echo $((pages * 4)); }
all_kb=0 shared_kb=0
for i in "${!sizes[@]}"; do
	s=${sizes[$i]}
	d=d$((i % 5))
	mkdir -p "$W/A/$d" "$W/B/$d" "$W/C/$d" "$W/D/$d"
	head -c "$s" /dev/urandom >"$W/A/$d/f$i"
	text "$s" "$i" >"$W/C/$d/f$i"
	p=$(pages_kb "$s")
	all_kb=$((all_kb + p))
	if ((i % 2)); then
		head -c "$s" /dev/urandom >"$W/B/$d/f$i"
		text "$s" $((i + 100000)) >"$W/D/$d/f$i"
	else
		cp "$W/A/$d/f$i" "$W/B/$d/f$i"
		cp "$W/C/$d/f$i" "$W/D/$d/f$i"
		shared_kb=$((shared_kb + p))
	fi
done
info "trees: ${#sizes[@]} files each, ${all_kb} KiB in pages, ${shared_kb} KiB shared"

mk() { # IMAGE TREE MKFS-OPTIONS...
	local img=$1 tree=$2
	shift 2
	if ! "$mkfs" --quiet "$@" "$W/$img.img" "$W/$tree" >"$W/$img.mkfs.log" 2>&1; then
		fail "mkfs $img ($*)" "$(tail -n1 "$W/$img.mkfs.log")"
		return 1
	fi
}
mk A-def A --xattr-inode-digest
mk B-def B --xattr-inode-digest
mk A-trusted A --xattr-inode-digest=trusted.erofs.fingerprint
mk B-trusted B --xattr-inode-digest=trusted.erofs.fingerprint
if ((compress)); then
	mk C-raw C --xattr-inode-digest
	mk D-lz4 D -zlz4hc --xattr-inode-digest
	mk C-lz4 C -zlz4hc --xattr-inode-digest
fi
((!failed)) || exit 1

# measure NAME RUN-ARGS... : run the harness, keep its output in $W/NAME.out.
measure() {
	local name=$1 rc=0
	shift
	"$RUN" "$@" >"$W/$name.out" 2>"$W/$name.err" || rc=$?
	if ((rc == 77)); then
		echo "SKIP: qemu-ishare: $(tail -n1 "$W/$name.err")"
		exit 77
	fi
	if ((rc)); then
		fail "$name" "run.sh exit $rc: $(grep -m1 '^ERROR=' "$W/$name.out" || tail -n1 "$W/$name.err")"
		return 1
	fi
}
val() { sed -n "s/^$2=//p" "$W/$1.out" | head -n1; }

# expect NAME KEY EXPECTED_KB TOLERANCE_KB WHAT
expect() {
	local got
	got=$(val "$1" "$2")
	if [[ -z $got ]]; then
		fail "$1 $5" "no $2 in output"
	elif ((got > $3 + $4 || got < $3 - $4)); then
		fail "$1 $5" "$2=$got KiB, expected $3 +- $4"
	else
		pass "$1 $5 ($2=$got KiB, expected $3 +- $4)"
	fi
}

# Metadata and noise allowance; compressed images add the cached
# compressed blocks the decompressor keeps, up to a few percent.
tol=$((512 + all_kb / 100))
tolz=$((1024 + all_kb / 20))
unshared_kb=$((all_kb - shared_kb))

if measure noshare --noshare "$W/A-def.img" "$W/B-def.img"; then
	expect noshare IMG0_DELTA_KB "$all_kb" "$tol" "first image read in full"
	expect noshare IMG1_DELTA_KB "$all_kb" "$tol" "second image read in full"
	info "noshare: BASELINE_KB=$(val noshare BASELINE_KB) DELTA_KB=$(val noshare DELTA_KB)"
fi
if measure share-default --share "$W/A-def.img" "$W/B-def.img"; then
	expect share-default IMG1_DELTA_KB "$unshared_kb" "$tol" \
		"only unshared files of the second image added (erofs.fingerprint.v1)"
	info "share-default: BASELINE_KB=$(val share-default BASELINE_KB) DELTA_KB=$(val share-default DELTA_KB)"
	if grep -q '^DMESG: .*EXPERIMENTAL EROFS page cache share' "$W/share-default.out"; then
		pass "share-default dmesg announces page cache share"
	else
		fail "share-default dmesg announces page cache share" "line missing"
	fi
fi
if measure share-trusted --share "$W/A-trusted.img" "$W/B-trusted.img"; then
	expect share-trusted IMG1_DELTA_KB "$unshared_kb" "$tol" \
		"only unshared files added (trusted.erofs.fingerprint)"
fi
if measure share-domains --share --img-data 1 inode_share,domain_id=other \
	"$W/A-def.img" "$W/B-def.img"; then
	expect share-domains IMG1_DELTA_KB "$all_kb" "$tol" \
		"different domain_id shares nothing"
fi
if measure share-one-side --share --img-data 1 '' "$W/A-def.img" "$W/B-def.img"; then
	expect share-one-side IMG1_DELTA_KB "$all_kb" "$tol" \
		"second image without inode_share shares nothing"
fi
# Not asserted: the kernel matches the digest value, not the xattr name.
if measure share-mixed-names --share "$W/A-def.img" "$W/B-trusted.img"; then
	info "share-mixed-names (erofs.fingerprint.v1 vs trusted.erofs.fingerprint):" \
		"IMG1_DELTA_KB=$(val share-mixed-names IMG1_DELTA_KB) (${unshared_kb} if shared, ${all_kb} if not)"
fi
if ((compress)); then
	if measure share-lz4 --share "$W/C-lz4.img" "$W/D-lz4.img"; then
		expect share-lz4 IMG1_DELTA_KB "$unshared_kb" "$tolz" \
			"compressed images share"
		info "share-lz4: IMG0_DELTA_KB=$(val share-lz4 IMG0_DELTA_KB) IMG1_DELTA_KB=$(val share-lz4 IMG1_DELTA_KB)"
	fi
	if measure share-raw-vs-lz4 --share "$W/C-raw.img" "$W/D-lz4.img"; then
		expect share-raw-vs-lz4 IMG1_DELTA_KB "$all_kb" "$tolz" \
			"uncompressed and compressed files do not share"
	fi
fi
exit $((failed ? 1 : 0))
