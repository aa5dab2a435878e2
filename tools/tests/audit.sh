#!/usr/bin/env bash
# The regulator's audit from the CLI: record a history (with a hold and a purge), export it, audit
# the data directory and the export (with and without the state map), monitor incrementally after
# more appends, catch a rolled-back export with evidence, and fail with exit 1 on a tampered export.
source "$(dirname "$0")/lib.bash"
D="$WORK/ledger"
E="$WORK/export"
S="$WORK/audit.state"

"$BIN" init --data "$D" --origin example.com/consent/audit > /dev/null
"$BIN" key --data "$D" > "$WORK/vkey"
"$BIN" import --data "$D" "$ROOT/fixtures/demo-history.jsonl" > /dev/null
"$BIN" hold add --data "$D" --sender 91440300MA5FXXXX1K --reason "12321 complaint" --reference 12321-2026-7 > /dev/null
"$BIN" compact --data "$D" --now "$(date -u -d "+13 months" +%Y-%m-%dT%H:%M:%SZ)" --json \
    | python3 -c 'import json,sys; assert json.load(sys.stdin)["purged"] > 0' || die "no purge in the history"
ok

# Export, and an export re-run adds nothing.
"$BIN" export --data "$D" --out "$E" --json > "$WORK/export.json"
python3 - "$WORK/export.json" "$(size "$D")" <<'PY' || die "export summary: $(cat "$WORK/export.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["size"] == int(sys.argv[2]) and r["previousSize"] == 0 and r["entryBundles"] >= 1, r
assert r["manifest"]["purgedBodies"] > 0 and r["manifest"]["format"] == "consent-ledger-export", r
PY
for f in checkpoint checkpoints manifest.json tile/0 tile/entries bodies; do [ -e "$E/$f" ] || die "export has no $f"; done
"$BIN" export --data "$D" --out "$E" --json | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["entryBundles"]==0 and r["checkpointsAdded"]==0, r' \
    || die "second export wrote something"
ok

# Both sources pass, with and without the map; the JSON summary.
"$BIN" audit --key "$WORK/vkey" --data "$D" > "$WORK/out" || die "audit --data: $(cat "$WORK/out")"
grep -q "^OK: " "$WORK/out" || die "audit --data output: $(cat "$WORK/out")"
"$BIN" audit --key "$WORK/vkey" --export "$E" > "$WORK/out" || die "audit --export: $(cat "$WORK/out")"
"$BIN" audit --key "$WORK/vkey" --export "$E" --no-map > "$WORK/out" || die "audit --no-map: $(cat "$WORK/out")"
grep -q "not recomputed" "$WORK/out" || die "--no-map output: $(cat "$WORK/out")"
"$BIN" audit --key "$WORK/vkey" --export "$E" --json > "$WORK/audit.json" || die "audit --json"
python3 - "$WORK/audit.json" "$(size "$D")" <<'PY' || die "audit json: $(cat "$WORK/audit.json")"
import json, sys
r = json.load(open(sys.argv[1]))
rep = r["report"]
assert r["ok"] and rep["size"] == int(sys.argv[2]) and rep["entries"] == rep["size"] and rep["purgedBodies"] > 0, r
assert rep["stateRoots"] == rep["commits"] and rep["holds"] == 1, r
PY
ok

# Incremental monitoring: first run saves the state; after more appends only the new entries are replayed.
cp -r "$E" "$WORK/export-old"
"$BIN" audit --key "$WORK/vkey" --export "$E" --state "$S" > /dev/null || die "first monitored audit"
[ -s "$S" ] || die "no state saved"
before=$(size "$D")
"$BIN" record --data "$D" --sender s9 --subject 13800138999 --action grant > /dev/null
"$BIN" record --data "$D" --sender s9 --subject 13800138999 --action revoke > /dev/null
"$BIN" heartbeat --data "$D" > /dev/null 2>&1
"$BIN" export --data "$D" --out "$E" --json | python3 -c "import json,sys; r=json.load(sys.stdin); assert r['previousSize']==$before, r" \
    || die "incremental export"
"$BIN" audit --key "$WORK/vkey" --export "$E" --state "$S" --json > "$WORK/inc.json" || die "incremental audit: $(cat "$WORK/inc.json")"
python3 - "$WORK/inc.json" "$before" "$(size "$D")" <<'PY' || die "incremental report: $(cat "$WORK/inc.json")"
import json, sys
rep = json.load(open(sys.argv[1]))["report"]
assert rep["from"] == int(sys.argv[2]) and rep["size"] == int(sys.argv[3]), rep
assert rep["entries"] == int(sys.argv[3]) - int(sys.argv[2]), rep
PY
"$BIN" audit --key "$WORK/vkey" --data "$D" --state "$S" > /dev/null || die "incremental audit of the data directory"
ok

# The old export, served after the newer checkpoint was seen: rolled back, with both checkpoints saved.
expect_fail "rolled-back export" "$BIN" audit --key "$WORK/vkey" --export "$WORK/export-old" --state "$S"
grep -q "rolled back" "$WORK/out" || die "rollback message: $(cat "$WORK/out")"
ls "$S.evidence"/checkpoint-*-verified-earlier.txt "$S.evidence"/checkpoint-*-served-now.txt > /dev/null || die "no evidence saved"
ok

# A tampered export fails with exit 1 and names the entry: one bit of entry 3's header.
cp -r "$E" "$WORK/tampered"
python3 - "$WORK/tampered" <<'PY'
import os, sys
d = os.path.join(sys.argv[1], "tile", "entries")
path = os.path.join(d, "000") if os.path.isfile(os.path.join(d, "000")) else \
    os.path.join(d, "000.p", max(os.listdir(os.path.join(d, "000.p")), key=int))
data = bytearray(open(path, "rb").read())
i = 0
for _ in range(3):
    i += 2 + (data[i] << 8 | data[i + 1])
data[i + 2 + 50] ^= 1
open(path, "wb").write(data)
PY
set +e
"$BIN" audit --key "$WORK/vkey" --export "$WORK/tampered" > "$WORK/out"
status=$?
set -e
[ "$status" -eq 1 ] || die "tampered export: exit $status, want 1: $(cat "$WORK/out")"
grep -q "entry 3: " "$WORK/out" || die "tampered export message: $(cat "$WORK/out")"
ok

# Another log's key verifies nothing; --data and --export together are refused.
"$BIN" init --data "$WORK/other" > /dev/null
"$BIN" key --data "$WORK/other" > "$WORK/other-vkey"
expect_fail "wrong key" "$BIN" audit --key "$WORK/other-vkey" --export "$E"
grep -q "does not verify with the key" "$WORK/out" || die "wrong key message: $(cat "$WORK/out")"
expect_fail "two sources" "$BIN" audit --key "$WORK/vkey" --export "$E" --data "$D"
ok
echo "audit: $checks checks passed"
