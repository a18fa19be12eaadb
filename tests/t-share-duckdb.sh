#!/bin/bash
# t-share-duckdb.sh: fingerprint manifests load unchanged into DuckDB, and
# the query dump.erofs(1) shows for the share report's headline figures
# (taken from the man page as it is) gives the report's noshare_bytes,
# shared_bytes and saving_bytes, for a set with a layout class conflict and
# an image without fingerprints, one manifest per image and one for all.
# DuckDB comes from the npm registry (@duckdb/node-api, its binary in the
# registry's package) into $EROFS_TEST_CACHE/npm-duckdb; without Node.js
# and npm (Debian's nodejs) or the registry, the test says SKIP and why.
. "$(dirname "$0")/lib.sh"

T=share-duckdb
W=$TEST_TMP
DUCKDB_PKG=@duckdb/node-api@1.5.6-r.1
CACHE=$EROFS_TEST_CACHE/npm-duckdb
for tool in node npm python3; do
	if ! command -v $tool >/dev/null; then
		skip "$T" "missing $tool (Debian package nodejs)"
		exit 0
	fi
done
if [ ! -f "$CACHE/node_modules/@duckdb/node-api/package.json" ]; then
	mkdir -p "$CACHE"
	[ -f "$CACHE/package.json" ] || echo '{"private":true}' >"$CACHE/package.json"
	if ! (cd "$CACHE" && timeout 600 npm install --no-audit --no-fund \
		--loglevel=error "$DUCKDB_PKG") >"$W/npm.log" 2>&1; then
		skip "$T" "cannot install $DUCKDB_PKG from the npm registry: $(grep -m1 'npm error' "$W/npm.log" || tail -n1 "$W/npm.log")"
		exit 0
	fi
fi
cat >"$CACHE/query.mjs" <<'EOF'
// Run the SQL of argv[2] in DuckDB; print the rows as JSON.
import { DuckDBInstance } from '@duckdb/node-api';
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const r = await con.runAndReadAll(process.argv[2]);
console.log(JSON.stringify(r.getRowObjectsJson()));
EOF
if ! node "$CACHE/query.mjs" 'SELECT 42 AS x' >"$W/probe.out" 2>&1 ||
	! grep -q 42 "$W/probe.out"; then
	skip "$T" "DuckDB from npm does not run here: $(tail -n1 "$W/probe.out")"
	exit 0
fi

same() {
	if [ "$2" = "$3" ]; then
		pass "$T: $1 ($2)"
	else
		fail "$T: $1" "got '$2', want '$3'"
	fi
}
PY=$(python3 -c 'import sys; print(sys.executable)')
. "$TOP_SRCDIR/bench/share-trees.sh"
GEN_TEXT=1 gen_pair "$W/A" "$W/B"
mkdir -p "$W/fleet" "$W/one"
ARGS=()
n=0
for spec in "A --ishare" "B --ishare" "B -zlz4hc --ishare" "B"; do
	read -r tree opts <<<"$spec"
	# shellcheck disable=SC2086
	"$MKFS" --quiet $opts "$W/img$n.img" "$W/$tree" >/dev/null 2>&1 || {
		[ "$opts" = "-zlz4hc --ishare" ] && continue
		fail "$T: mkfs $spec" "exit status $?"
	}
	"$DUMP" --fingerprints "$W/img$n.img" >"$W/fleet/$n.jsonl"
	ARGS+=("$W/img$n.img")
	n=$((n + 1))
done
"$DUMP" --fingerprints "${ARGS[@]}" >"$W/one/all.jsonl"

# the query, as the man page shows it
sed -n '/^\.\\" query:/,/^\.EE/p' "$TOP_SRCDIR/man/dump.erofs.1" | sed '1d;$d' |
	sed 's/\\-/-/g; s/\\(aq/'"'"'/g; s/\\e/\\/g' >"$W/query.sql"
if ! grep -q "read_json_auto('fleet/\*.jsonl'" "$W/query.sql"; then
	fail "$T: the man page's query" "not found in man/dump.erofs.1"
	exit 0
fi
"$DUMP" --share-report --json "${ARGS[@]}" >"$W/report.json"
want=$("$PY" -c 'import json,sys; r = json.load(open(sys.argv[1])); print(r["noshare_bytes"], r["shared_bytes"], r["saving_bytes"], r["lost"]["class_conflict_files"] > 0, r["lost"]["notready_files"] > 0)' "$W/report.json")
for dir in fleet one; do
	what="one manifest per image"
	[ $dir = one ] && what="one manifest of all images"
	sed "s|'fleet/\*.jsonl'|'$dir/*.jsonl'|" "$W/query.sql" >"$W/q-$dir.sql"
	if (cd "$W" && node "$CACHE/query.mjs" "$(cat "$W/q-$dir.sql")") >"$W/$dir.out" 2>&1; then
		got=$("$PY" -c 'import json,sys; r = json.load(open(sys.argv[1]))[0]; print(r["noshare_bytes"], r["shared_bytes"], r["saving_bytes"])' "$W/$dir.out")
		same "DuckDB runs the man page's query, $what: the report's noshare, shared and saving bytes" \
			"$got" "$(cut -d' ' -f1-3 <<<"$want")"
	else
		fail "$T: DuckDB on $dir/" "$(tail -n 3 "$W/$dir.out")"
	fi
done
same "the set has a layout class conflict and an image without fingerprints" \
	"$(cut -d' ' -f4-5 <<<"$want")" "True True"
# every line loads, of every kind
if (cd "$W" && node "$CACHE/query.mjs" "SELECT kind, count(*) AS n FROM read_json_auto('fleet/*.jsonl') GROUP BY kind ORDER BY kind") >"$W/kinds.out" 2>&1; then
	same "DuckDB reads every line of every kind" \
		"$("$PY" -c 'import json,sys; print(sum(int(r["n"]) for r in json.load(open(sys.argv[1]))))' "$W/kinds.out")" \
		"$(cat "$W"/fleet/*.jsonl | wc -l)"
else
	fail "$T: DuckDB reads the manifests" "$(tail -n 3 "$W/kinds.out")"
fi
exit 0
