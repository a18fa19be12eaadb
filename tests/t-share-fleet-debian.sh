#!/bin/bash
# t-share-fleet-debian.sh: fingerprint manifests of the container-like
# Debian pairs of bench/debian-pairs.sh (postgresql, redis, nginx and the
# common base, old and new versions: the page cache pairs of
# bench/share-table.sh), built by our mkfs.erofs --ishare, two of them also
# compressed: reports from the manifests are the images' own byte for byte
# (each pair, with --verify, and the ten together), every cell of --matrix
# is the pair's report, and --nodes and --node-memory find the best
# grouping of the ten that trying every partition finds
# (tests/share_groups.py). Needs the Debian archive (or the trees cached).
. "$(dirname "$0")/lib.sh"

T=share-fleet-debian
W=$TEST_TMP
PY=$(python3 -c 'import sys; print(sys.executable)')
if ! pairs=$("$TOP_SRCDIR/bench/debian-pairs.sh" postgresql redis nginx base 2>"$W/pairs.err"); then
	skip "$T" "no Debian trees: $(tail -n1 "$W/pairs.err")"
	exit 0
fi

same() {
	if [ "$2" = "$3" ]; then
		pass "$T: $1 ($2)"
	else
		fail "$T: $1" "got '$2', want '$3'"
	fi
}
js() { "$PY" -c 'import json, sys; r = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# ten images: each side of each pair, and the base compressed
NAMES=()
build() { # NAME TREE OPTIONS...
	local name=$1 tree=$2
	shift 2
	if "$MKFS" --quiet "$@" "$W/$name.img" "$tree" >"$W/$name.log" 2>&1 &&
		"$DUMP" --fingerprints "$W/$name.img" >"$W/$name.jsonl" 2>"$W/$name.err"; then
		NAMES+=("$name")
	else
		fail "$T: $name" "$(tail -n1 "$W/$name.log" "$W/$name.err")"
	fi
}
while read -r pair old new; do
	build "$pair-old" "$old" --ishare
	build "$pair-new" "$new" --ishare
	if [ "$pair" = base ]; then
		if "$MKFS" --quiet -zlz4hc "$W/probe.img" "$TOP_SRCDIR/sample" >/dev/null 2>&1; then
			build "$pair-old-z" "$old" -zlz4hc --ishare
			build "$pair-new-z" "$new" -zlz4hc --ishare
		else
			skip "$T: compressed images" "compression not built"
		fi
	fi
done <<<"$pairs"

imgs() { for n in "$@"; do echo "$W/$n.img"; done; }
mans() { for n in "$@"; do echo "$W/$n.jsonl"; done; }
alike() { # NAME OPTIONS -- IMAGE NAMES...
	local name=$1 opts=()
	shift
	while [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	mapfile -t I < <(imgs "$@")
	mapfile -t M < <(mans "$@")
	if "$DUMP" --share-report --json "${opts[@]}" "${I[@]}" >"$W/i.json" 2>"$W/i.err" &&
		"$DUMP" --share-report --json "${opts[@]}" "${M[@]}" >"$W/m.json" 2>"$W/m.err" &&
		cmp -s "$W/i.json" "$W/m.json"; then
		pass "$T: $name: saving $(js "$W/m.json" "'%.1f%%' % r['saving_percent']"), manifests = images"
	else
		fail "$T: $name" "$(cat "$W/i.err" "$W/m.err" | head -n 2) $(diff <("$PY" -m json.tool "$W/i.json") <("$PY" -m json.tool "$W/m.json") | head -n 4 | tr '\n' ' ')"
	fi
}
for pair in postgresql redis nginx; do
	alike "$pair old + new" -- "$pair-old" "$pair-new"
done
alike "the ten together" -- "${NAMES[@]}"
for pair in postgresql; do
	for side in old new; do
		"$DUMP" --fingerprints --verify "$W/$pair-$side.img" >"$W/v-$pair-$side.jsonl" 2>/dev/null
	done
	if "$DUMP" --share-report --json --verify "$W/$pair-old.img" "$W/$pair-new.img" >"$W/vi.json" 2>"$W/vi.err" &&
		"$DUMP" --share-report --json --verify "$W/v-$pair-old.jsonl" "$W/v-$pair-new.jsonl" >"$W/vm.json" 2>&1 &&
		cmp -s "$W/vi.json" "$W/vm.json"; then
		pass "$T: $pair --verify: manifests = images ($(js "$W/vm.json" "r['verify']['verified']") verified)"
	else
		fail "$T: $pair --verify" "$(head -c 300 "$W/vi.err")"
	fi
done

mapfile -t M < <(mans "${NAMES[@]}")
# --- the matrix ------------------------------------------------------------------
if "$DUMP" --share-report --matrix --json "${M[@]}" >"$W/matrix.json" 2>"$W/matrix.err"; then
	bad=0 cells=0
	for ((i = 0; i < ${#M[@]}; i++)); do
		for ((j = i + 1; j < ${#M[@]}; j++)); do
			want=$("$DUMP" --share-report --json "${M[i]}" "${M[j]}" |
				"$PY" -c 'import json,sys; print(json.load(sys.stdin)["saving_bytes"])')
			got=$(js "$W/matrix.json" "r['matrix']['saving_bytes'][$i][$j], r['matrix']['saving_bytes'][$j][$i]")
			cells=$((cells + 1))
			[ "$got" = "($want, $want)" ] || { bad=$((bad + 1)); echo "# cell $i $j: $got, want $want"; }
		done
	done
	same "--matrix of ${#M[@]} images: cells that are not the pair's report (of $cells)" "$bad" 0
else
	fail "$T: --matrix" "$(cat "$W/matrix.err")"
fi

# --- grouping: the heuristic against every partition -------------------------------
group() { # NAME OPTION
	local name=$1 opt=$2 kv
	if ! "$DUMP" --share-report --json "$opt" "${M[@]}" >"$W/g.json" 2>"$W/g.err"; then
		fail "$T: $name" "$(cat "$W/g.err")"
		return
	fi
	kv=$("$PY" "$TOP_SRCDIR/tests/share_groups.py" "${opt%%=*}" "${opt#*=}" \
		--report "$W/g.json" "${M[@]}") || {
		fail "$T: $name" "share_groups.py failed"
		return
	}
	same "$name: the heuristic's grouping is the best of every partition (bytes nodes; fits, bytes counted apart)" \
		"$(js "$W/g.json" "r['grouping']['total_bytes'], r['grouping']['nodes_used']") $(sed -n 's/^REPORT_FITS=//p' <<<"$kv") $(sed -n 's/^REPORT_BYTES=//p' <<<"$kv")" \
		"($(sed -n 's/^BEST_BYTES=//p' <<<"$kv"), $(sed -n 's/^BEST_NODES=//p' <<<"$kv")) 1 $(js "$W/g.json" "r['grouping']['total_bytes']")"
	same "$name: within its stated bound" \
		"$(js "$W/g.json" "(lambda g: g['bound_bytes'] <= g['total_bytes'] and g['bound_nodes'] <= g['nodes_used'] and g['gap_bytes'] == g['total_bytes'] - g['bound_bytes'])(r['grouping'])")" True
	echo "# $name: $(js "$W/g.json" "(lambda g: '%d nodes, %.1f MiB, bound %.1f MiB (gap %.2f%%)' % (g['nodes_used'], g['total_bytes'] / 2**20, g['bound_bytes'] / 2**20, g['gap_percent']))(r['grouping'])")"
}
for k in 2 3 4 5; do
	group "--nodes=$k" --nodes=$k
done
"$DUMP" --share-report --json "${M[@]}" >"$W/all.json"
tot=$(js "$W/all.json" "r['shared_bytes']")
big=$(js "$W/matrix.json" "max(i['alone_bytes'] for i in r['images'])")
for b in $((tot / 2)) $((tot / 3)) $((big * 11 / 10)) $((big * 2)); do
	group "--node-memory=$b" --node-memory=$b
done
exit 0
