#!/usr/bin/env bash
# The CLI end to end: recording, bad input that must change nothing, all-or-nothing imports,
# idempotent re-imports, proofs that verify offline, and tampering that must be caught.
source "$(dirname "$0")/lib.bash"
D="$WORK/ledger"

"$BIN" --help | grep -q "consent-ledger" || die "--help"
"$BIN" init --data "$D" --origin example.com/consent/e2e --json > "$WORK/init.json"
grep -q '"verifierKey":"example.com/consent/e2e+' "$WORK/init.json" || die "init --json"
expect_fail "init twice" "$BIN" init --data "$D"
[ "$(stat -c %a "$D/keys/checkpoint.pem")" = 600 ] || die "signing key permissions"
[ "$(size "$D")" = 0 ] || die "empty log size"

out=$("$BIN" record --data "$D" --sender 91440300MA5FXXXX1K --subject "+86 138-0013-8000" --action grant \
    --port 10690001 --method web-form --evidence ip=203.0.113.9 --client-key k1 --json)
echo "$out" | grep -q '"index":0' || die "record: $out"
echo "$out" | grep -Eq '"leafHash":"[0-9a-f]{64}"' || die "record leafHash: $out"
# The same event re-sent (the number in another shape) appends nothing.
again=$("$BIN" record --data "$D" --sender 91440300MA5FXXXX1K --subject 13800138000 --action grant \
    --port 10690001 --method web-form --evidence ip=203.0.113.9 --client-key k1 --json)
echo "$again" | grep -q '"duplicate":true' || die "replay not recognised: $again"
echo "$again" | grep -q '"index":0' || die "replay index: $again"
# The same key for a different event is refused.
expect_fail "client key conflict" "$BIN" record --data "$D" --sender 91440300MA5FXXXX1K --subject 13800138000 --action revoke --client-key k1
grep -q "already used for a different event" "$WORK/err" || die "conflict message: $(cat "$WORK/err")"
[ "$(size "$D")" = 2 ] || die "replay appended"
ok

# Bad input: a clear error and nothing written.
future=$(date -u -d "+1 hour" +%Y-%m-%dT%H:%M:%SZ)
expect_fail "landline" "$BIN" record --data "$D" --sender s1 --subject 010-12345678 --action grant
grep -qi "mobile" "$WORK/err" || die "landline message: $(cat "$WORK/err")"
expect_fail "short number" "$BIN" record --data "$D" --sender s1 --subject 1380013800 --action grant
expect_fail "bad sender" "$BIN" record --data "$D" --sender "bad sender" --subject 13800138000 --action grant
expect_fail "bad action" "$BIN" record --data "$D" --sender s1 --subject 13800138000 --action maybe
expect_fail "future" "$BIN" record --data "$D" --sender s1 --subject 13800138000 --action grant --occurred-at "$future"
grep -q "future" "$WORK/err" || die "future message: $(cat "$WORK/err")"
expect_fail "bad port" "$BIN" record --data "$D" --sender s1 --subject 13800138000 --action grant --port 95555
expect_fail "unknown evidence" "$BIN" record --data "$D" --sender s1 --subject 13800138000 --action grant --evidence shoe=42
expect_fail "global grant" "$BIN" record --data "$D" --sender s1 --subject 13800138000 --action grant --scope global
expect_fail "no ledger" "$BIN" record --data "$WORK/nowhere" --sender s1 --subject 13800138000 --action grant
[ "$(size "$D")" = 2 ] || die "bad input changed the log"

# Imports are all-or-nothing unless --skip-invalid.
cat > "$WORK/bad.jsonl" <<'JSONL'
{"sender":"s1","subject":"13900139000","action":"grant","clientKey":"i1"}
{"sender":"s1","subject":"12345","action":"grant"}
{"sender":"s1","subject":"13900139001","action":"revoke","ocurredAt":"2026-01-01T00:00:00Z"}
not json
{"sender":"s1","subject":"13900139002","action":"grant","clientKey":"i2"}
JSONL
expect_fail "import with bad lines" "$BIN" import --data "$D" "$WORK/bad.jsonl"
grep -q "^line 2:" "$WORK/err" && grep -q "^line 3: .*ocurredAt" "$WORK/err" && grep -q "^line 4:" "$WORK/err" || die "import errors: $(cat "$WORK/err")"
grep -q "nothing was written" "$WORK/err" || die "import message"
[ "$(size "$D")" = 2 ] || die "failed import wrote something"
"$BIN" import --data "$D" "$WORK/bad.jsonl" --skip-invalid --json > "$WORK/imp.json" 2>/dev/null
grep -q '"appended":2' "$WORK/imp.json" && grep -q '"rejected":3' "$WORK/imp.json" || die "skip-invalid: $(cat "$WORK/imp.json")"
[ "$(size "$D")" = 5 ] || die "skip-invalid size"
"$BIN" import --data "$D" "$WORK/bad.jsonl" --skip-invalid --json > "$WORK/imp.json" 2>/dev/null
grep -q '"duplicates":2' "$WORK/imp.json" && grep -q '"appended":0' "$WORK/imp.json" || die "re-import not idempotent: $(cat "$WORK/imp.json")"
cat > "$WORK/good.csv" <<'CSV'
sender,subject,action,port,method,evidence.reply,clientKey
s1,８６１３７００１３７０００,revoke,10690001,sms-reply,"TD,谢谢",c1
s2,008613600136000,grant,,app,,c2
CSV
"$BIN" import --data "$D" "$WORK/good.csv" > /dev/null
[ "$(size "$D")" = 8 ] || die "csv import"
"$BIN" entry --data "$D" --index 5 --body --json > "$WORK/e3.json"
grep -q '"reply":"TD,谢谢"' "$WORK/e3.json" && grep -q '"subject":"+8613700137000"' "$WORK/e3.json" || die "csv entry: $(cat "$WORK/e3.json")"
grep -q '"subject"' <("$BIN" entry --data "$D" --index 5 --json) && die "entry without --body shows the number"
ok

# Proofs verify offline; tampering is caught.
"$BIN" checkpoint --data "$D" > "$WORK/cp.txt"
"$BIN" key --data "$D" > "$WORK/vkey"
"$BIN" prove inclusion --data "$D" --index 3 --json > "$WORK/inc.json"
"$BIN" entry --data "$D" --index 3 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["encoded"])' > "$WORK/entry.b64"
"$BIN" verify inclusion "$WORK/inc.json" --checkpoint "$WORK/cp.txt" --key "$WORK/vkey" --entry "$WORK/entry.b64" | grep -q "^OK"
"$BIN" prove consistency --data "$D" --old 2 --json > "$WORK/cons.json"
"$BIN" checkpoint --data "$D" --size 2 > "$WORK/cp1.txt"
"$BIN" verify consistency "$WORK/cons.json" --checkpoint "$WORK/cp.txt" --old-checkpoint "$WORK/cp1.txt" --key "$(cat "$WORK/vkey")" | grep -q "^OK"
ok
sed 's/"index":3/"index":2/' "$WORK/inc.json" > "$WORK/inc-bad.json"
expect_fail "wrong index" "$BIN" verify inclusion "$WORK/inc-bad.json" --checkpoint "$WORK/cp.txt" --key "$WORK/vkey"
python3 - "$WORK/inc.json" "$WORK/inc-flip.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
h = p["proof"][0]
p["proof"][0] = ("0" if h[0] != "0" else "1") + h[1:]
json.dump(p, open(sys.argv[2], "w"))
PY
expect_fail "flipped proof hash" "$BIN" verify inclusion "$WORK/inc-flip.json" --checkpoint "$WORK/cp.txt" --key "$WORK/vkey"
sed '2s/.*/4/' "$WORK/cp.txt" > "$WORK/cp-bad.txt"
expect_fail "tampered checkpoint" "$BIN" verify inclusion "$WORK/inc.json" --checkpoint "$WORK/cp-bad.txt" --key "$WORK/vkey"
head -c 100 "$WORK/inc.json" > "$WORK/inc-trunc.json"
expect_fail "truncated proof" "$BIN" verify inclusion "$WORK/inc-trunc.json" --checkpoint "$WORK/cp.txt" --key "$WORK/vkey"
"$BIN" init --data "$WORK/other" --origin example.com/consent/e2e > /dev/null
expect_fail "another log's key" "$BIN" verify inclusion "$WORK/inc.json" --checkpoint "$WORK/cp.txt" --key "$("$BIN" key --data "$WORK/other")"
echo "AAAA" > "$WORK/entry-bad.b64"
expect_fail "wrong entry bytes" "$BIN" verify inclusion "$WORK/inc.json" --checkpoint "$WORK/cp.txt" --key "$WORK/vkey" --entry "$WORK/entry-bad.b64"

# The stored log checks out; a tampered database is caught.
"$BIN" check --data "$D" | grep -q "^OK: 8 entries (5 events, 3 batches"
cp -r "$D" "$WORK/tampered"
sqlite3 "$WORK/tampered/ledger.sqlite" "UPDATE bodies SET body = X'00' || substr(body, 2) WHERE idx = 2"
expect_fail "tampered body" "$BIN" check --data "$WORK/tampered"
grep -q "entry 2: body" "$WORK/out" || die "check names the entry: $(cat "$WORK/out")"

# sm3-sm2 logs work the same way.
"$BIN" init --data "$WORK/sm" --suite sm3-sm2 --origin example.com/consent/sm > /dev/null
"$BIN" import --data "$WORK/sm" "$ROOT/fixtures/demo-history.jsonl" > /dev/null
"$BIN" prove inclusion --data "$WORK/sm" --index 4 --json > "$WORK/sm-inc.json"
"$BIN" checkpoint --data "$WORK/sm" > "$WORK/sm-cp.txt"
"$BIN" verify inclusion "$WORK/sm-inc.json" --checkpoint "$WORK/sm-cp.txt" --key "$("$BIN" key --data "$WORK/sm")" | grep -q "^OK"
"$BIN" check --data "$WORK/sm" | grep -q "^OK: 15 entries (14 events"
ok

# Consent questions, answered with proof bundles that verify offline.
"$BIN" query --data "$D" --subject 13700137000 --sender s1 --port 10690001 --proof "$WORK/b1.json" --json > "$WORK/q1.json"
grep -q '"decision":"refused"' "$WORK/q1.json" && grep -q '"maySend":false' "$WORK/q1.json" || die "query refused: $(cat "$WORK/q1.json")"
"$BIN" verify bundle "$WORK/b1.json" --key "$WORK/vkey" --json | grep -q '"decision":"refused"' || die "verify bundle"
"$BIN" query --data "$D" --subject 13900139002 --sender s1 --json | grep -q '"decision":"consented"' || die "query consented"
"$BIN" query --data "$D" --subject 13900139002 --sender s9 --proof "$WORK/b2.json" --json | grep -q '"decision":"never-asked"' || die "never asked"
"$BIN" verify bundle "$WORK/b2.json" --key "$WORK/vkey" | grep -q "NEVER-ASKED" || die "verify never asked"
python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); b["decision"]="consented"; json.dump(b, open(sys.argv[2],"w"))' "$WORK/b1.json" "$WORK/b1-bad.json"
expect_fail "bundle with a changed decision" "$BIN" verify bundle "$WORK/b1-bad.json" --key "$WORK/vkey"
grep -q "claims consented" "$WORK/err" || die "changed decision message: $(cat "$WORK/err")"
expect_fail "bad question" "$BIN" query --data "$D" --subject 12345 --sender s1
"$BIN" history --data "$D" --subject 13900139000 --json | python3 -c 'import json,sys; assert len(json.load(sys.stdin)) == 1' || die "history"
ok
# A reader in another process proves answers while a writer appends.
( for i in $(seq 1 25); do "$BIN" record --data "$D" --sender s1 --subject "1390014$(printf %04d "$i")" --action grant > /dev/null; done ) &
writer=$!
for i in $(seq 1 8); do
    "$BIN" query --data "$D" --subject 13700137000 --sender s1 --port 10690001 --proof "$WORK/c$i.json" > /dev/null || die "query during writes"
    "$BIN" verify bundle "$WORK/c$i.json" --key "$WORK/vkey" > /dev/null || die "bundle made during writes"
done
wait "$writer"
ok
# A send log checked against the log: each message sent without consent is listed, with a bundle that verifies offline.
S="$WORK/sends"
"$BIN" init --data "$S" --origin example.com/consent/sends > /dev/null
recorded() { "$BIN" record --data "$S" --json "$@" | python3 -c 'import json,sys; print(json.load(sys.stdin)["recordedAt"])'; }
g1=$(recorded --sender bank --subject 13800138001 --action grant --method web-form)
recorded --sender bank --subject 13800138002 --action grant --method app > /dev/null
r2=$(recorded --sender bank --subject 13800138002 --action revoke --port 10690001 --method sms-reply --evidence reply=R)
cat > "$WORK/sends.csv" <<CSV
time,sender,port,number,message_id
$g1,bank,10690001,13800138001,ok-1
2001-01-01T08:00:00+08:00,bank,10690001,13800138001,before-consent
$r2,bank,10690001,+86 138-0013-8002,after-R
$r2,bank,10690002,13800138002,other-port
$r2,bank,10690001,13800138003,never/asked
2099-01-01T00:00:00Z,bank,10690001,13800138001,future
$r2,bank,10690001,12345,bad-number
CSV
rc=0; "$BIN" check-sends --data "$S" "$WORK/sends.csv" > "$WORK/out" 2> "$WORK/err" || rc=$?
[ "$rc" = 1 ] || die "check-sends with violations exited $rc: $(cat "$WORK/err")"
grep -q '^line 4 .*after-R .*+86138\*\*\*\*8002 .*REFUSED .*entry 4: revoke (port=10690001)' "$WORK/out" || die "check-sends listing: $(cat "$WORK/out")"
grep -q "^line 3 .*before-consent .*NEVER-ASKED" "$WORK/out" && grep -q "^line 6 .*never/asked .*-> never_asked-line6.json" "$WORK/out" \
    || die "check-sends never-asked: $(cat "$WORK/out")"
grep -q "^line 8: invalid: number:" "$WORK/err" || die "check-sends invalid row: $(cat "$WORK/err")"
python3 - "$WORK/sends.csv.violations/report.json" <<'PY' || die "check-sends report.json"
import json, sys
r = json.load(open(sys.argv[1]))
s = r["summary"]
assert (s["rows"], s["consented"], s["refused"], s["neverAsked"], s["notCovered"], s["invalid"], s["exitCode"]) == (7, 2, 1, 2, 1, 1, 1), s
assert [v["messageId"] for v in r["violations"]] == ["before-consent", "after-R", "never/asked"], r["violations"]
assert [m["messageId"] for m in r["notCovered"]] == ["future"] and [i["line"] for i in r["invalid"]] == [8], r
PY
"$BIN" verify bundle "$WORK/sends.csv.violations/after-R.json" --key "$("$BIN" key --data "$S")" --json > "$WORK/v.json"
grep -q '"decision":"refused"' "$WORK/v.json" && grep -q '"reply":"R"' "$WORK/v.json" || die "check-sends bundle: $(cat "$WORK/v.json")"
"$BIN" verify bundle "$WORK/sends.csv.violations/before-consent.json" --key "$("$BIN" key --data "$S")" | grep -q "^OK: the bundle proves NEVER-ASKED" \
    || die "check-sends never-asked bundle"
expect_fail "check-sends into a used directory" "$BIN" check-sends --data "$S" "$WORK/sends.csv"
grep -q "not empty" "$WORK/err" || die "used directory message: $(cat "$WORK/err")"
head -2 "$WORK/sends.csv" > "$WORK/clean.csv"
"$BIN" check-sends --data "$S" "$WORK/clean.csv" --json | grep -q '"exitCode":0' || die "clean send log"
printf 'time,sender,number\n' > "$WORK/bad-header.csv"
rc=0; "$BIN" check-sends --data "$S" "$WORK/bad-header.csv" > /dev/null 2> "$WORK/err" || rc=$?
[ "$rc" = 2 ] && grep -q 'line 1: missing column "port"' "$WORK/err" || die "bad header: exit $rc, $(cat "$WORK/err")"
[ ! -e "$WORK/bad-header.csv.violations" ] || die "a bad header left an output directory"
ok

# Every fixture bundle gets its verdict from the CLI too.
python3 - "$ROOT/fixtures/bundles" "$BIN" <<'PY' || die "fixtures/bundles verdicts"
import json, subprocess, sys
d, binary = sys.argv[1], sys.argv[2]
m = json.load(open(d + "/manifest.json"))
for item in m["bundles"]:
    r = subprocess.run([binary, "verify", "bundle", d + "/" + item["file"], "--key", m["verifierKey"], "--json"], capture_output=True, text=True)
    if item["valid"]:
        assert r.returncode == 0 and json.loads(r.stdout)["decision"] == item["decision"], (item, r.stdout, r.stderr)
    else:
        assert r.returncode != 0 and item["failure"] in r.stderr, (item, r.stderr)
PY
ok
# The verifier depends only on the core and crypto modules.
(cd "$ROOT" && swift package describe --type json) > "$WORK/describe.json" 2>/dev/null
python3 - "$WORK/describe.json" <<'PY' || die "target graph"
import json, sys
targets = {t["name"]: t for t in json.load(open(sys.argv[1]))["targets"]}
deps = lambda name: sorted(targets[name].get("target_dependencies", []) + targets[name].get("product_dependencies", []))
assert deps("ConsentVerifier") == ["ConsentCore", "ConsentCrypto"], deps("ConsentVerifier")
assert deps("ConsentCrypto") == ["COpenSSL", "ConsentCore"], deps("ConsentCrypto")
assert deps("ConsentCore") == [], deps("ConsentCore")
PY
ok

# The demo's embedded history is the fixture, byte for byte.
python3 - "$ROOT" <<'PY' || die "Sources/consent-ledger/DemoHistory.swift differs from fixtures/demo-history.jsonl"
import sys
root = sys.argv[1]
swift = open(root + "/Sources/consent-ledger/DemoHistory.swift", encoding="utf-8").read()
embedded = swift.split('#"""\n', 1)[1].rsplit('\n"""#', 1)[0] + "\n"
sys.exit(0 if embedded == open(root + "/fixtures/demo-history.jsonl", encoding="utf-8").read() else 1)
PY
ok

# The main job.
"$BIN" demo --data "$WORK/demo" > "$WORK/demo.txt"
grep -q "Verified offline" "$WORK/demo.txt" || die "demo"
ok
echo "cli: $checks checks passed"
