# bench/share-trees.sh: two generated trees with every kind of content overlap, for share tests and benchmarks (sourced).
# shellcheck shell=bash
#
#   . bench/share-trees.sh
#   gen_pair DIR1 DIR2      random contents (stored uncompressed even by -z)
#   GEN_TEXT=1 gen_pair ... text that compresses, so -z images compress
#
# DIR2 relates to DIR1 by: identical files (1 B .. 3 MiB, page edges), a
# file under another name and directory, one of the same size one byte
# apart, one with an equal prefix and another length, empty files, a
# content twice in DIR1 (two inodes) and once in DIR2, a hard link pair in
# DIR1, a file with holes in DIR1 (chunk-based) stored densely in DIR2, a
# file whose tail is inline in DIR1 but not in DIR2 (a 3000-byte xattr
# leaves no room), a random 4 MiB file in both, and a file only in each.
# Expectations come from the trees (bench/share-ideal.py), never from here.

# content SIZE: random bytes, or with GEN_TEXT=1 word soup that compresses
content() {
	if [ "${GEN_TEXT:-0}" = 1 ]; then
		# awk, not python: one interpreter start per file adds up
		awk -v n="$1" -v seed="$RANDOM$RANDOM" 'BEGIN {
			srand(seed)
			nw = split("alpha beta gamma delta page cache share inode " \
				"block erofs kernel", w, " ")
			for (c = 0; c < n; c += length(s)) {
				s = w[int(rand() * nw) + 1] (rand() < 0.1 ? "\n" : " ")
				if (c + length(s) > n)
					s = substr(s, 1, n - c)
				printf "%s", s
			}
		}'
	else
		head -c "$1" /dev/urandom
	fi
}

# gen_pair DIR1 DIR2: two trees with every kind of overlap
gen_pair() {
	local A=$1 B=$2 s
	mkdir -p "$A"/{same,x,dups,only,sparse,tails} "$B"/{same,y,dups,only,sparse,tails}
	for s in 1 100 4095 4096 4097 12288 65537 1048699 3145728; do
		content $s >"$A/same/f$s"
		cp "$A/same/f$s" "$B/same/f$s"
	done
	# random whatever the mode: stored uncompressed even by -z
	head -c 4194304 /dev/urandom >"$A/same/incompressible"
	cp "$A/same/incompressible" "$B/same/incompressible"
	# same content, other name and directory
	content 204800 >"$A/x/alpha"
	cp "$A/x/alpha" "$B/y/beta"
	# same size, one byte apart: never shared
	content 512000 >"$A/onebyte"
	cp "$A/onebyte" "$B/onebyte"
	printf 'Z' | dd of="$B/onebyte" bs=1 seek=123456 conv=notrunc status=none
	cmp -s "$A/onebyte" "$B/onebyte" && printf 'Y' |
		dd of="$B/onebyte" bs=1 seek=123456 conv=notrunc status=none
	# equal prefix, different length: never shared
	content 300000 >"$A/prefix"
	{ cat "$A/prefix"; content 5000; } >"$B/prefix"
	# empty files: nothing to hold
	: >"$A/empty"
	: >"$B/empty"
	: >"$B/only/empty2"
	# duplicates inside one image share too; hard links are one inode
	content 262144 >"$A/dups/d1"
	cp "$A/dups/d1" "$A/dups/d2"
	cp "$A/dups/d1" "$B/dups/d1"
	content 131072 >"$A/hl1"
	ln "$A/hl1" "$A/hl2"
	cp "$A/hl1" "$B/hl"
	content 1048576 >"$A/only/a"
	content 1048576 >"$B/only/b"
	# a file with holes (chunk-based) against the same bytes stored densely
	truncate -s 6M "$A/sparse/holes"
	content 4096 | dd of="$A/sparse/holes" bs=4096 seek=700 conv=notrunc status=none
	cp --sparse=never "$A/sparse/holes" "$B/sparse/dense"
	# an inline tail against the same bytes with a plain last block: the
	# copy in B carries an xattr too large to leave room for the tail
	content 10000 >"$A/tails/t"
	cp "$A/tails/t" "$B/tails/t"
	setfattr -n user.pad -v "$(head -c 3000 /dev/zero | tr '\0' p)" "$B/tails/t"
}

