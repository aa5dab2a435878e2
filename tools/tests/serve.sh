#!/usr/bin/env bash
# The HTTP service end to end: the real binary on 127.0.0.1 (a free port), driven with curl:
# tokens and ports from the CLI, roles, recording with proofs, an MO reply, the send gate, a
# query whose bundle `verify bundle` checks offline, the checkpoint and a tile that rebuilds its
# root, and a graceful stop (SIGTERM) during appends that loses no acknowledged event.
source "$(dirname "$0")/lib.bash"
command -v curl > /dev/null || die "curl is needed"
D="$WORK/ledger"
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$WORK"' EXIT

"$BIN" init --data "$D" --origin example.com/consent/serve > /dev/null
"$BIN" key --data "$D" > "$WORK/vkey"
bank=$("$BIN" token create --data "$D" --role sender --sender bank 2> "$WORK/err")
[[ "$bank" =~ ^clt_[A-Za-z0-9_-]{43}$ ]] || die "token create prints the token alone: $bank"
grep -q "created token" "$WORK/err" || die "token create says what it made: $(cat "$WORK/err")"
shop=$("$BIN" token create --data "$D" --role sender --sender shop 2> /dev/null)
regulator=$("$BIN" token create --data "$D" --role regulator 2> /dev/null)
admin=$("$BIN" token create --data "$D" --role admin 2> /dev/null)
expect_fail "sender token without a sender" "$BIN" token create --data "$D" --role sender
expect_fail "unknown role" "$BIN" token create --data "$D" --role root
"$BIN" port add --data "$D" --sender bank --port 10690001 > /dev/null
expect_fail "a port of another sender" "$BIN" port add --data "$D" --sender shop --port 10690001
grep -q "already registered to sender bank" "$WORK/err" || die "port conflict message: $(cat "$WORK/err")"
[ "$("$BIN" token list --data "$D" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 4 ] || die "token list"
"$BIN" token list --data "$D" | grep -q "clt_" && die "token list shows a token"
ok

"$BIN" serve --data "$D" --host 127.0.0.1 --port 0 > "$WORK/serve.out" 2> "$WORK/serve.err" &
server=$!
for _ in $(seq 1 100); do
    grep -q "^listening on" "$WORK/serve.out" 2>/dev/null && break
    kill -0 "$server" 2>/dev/null || die "serve exited: $(cat "$WORK/serve.err")"
    sleep 0.1
done
URL=$(sed -n 's/^listening on //p' "$WORK/serve.out")
[[ "$URL" =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || die "no listening line: $(cat "$WORK/serve.out") $(cat "$WORK/serve.err")"
expect_fail "a second writer while serving" "$BIN" record --data "$D" --sender bank --subject 13800138000 --action grant

# status METHOD PATH [TOKEN] [BODY]: prints the HTTP status, the body goes to $WORK/body.
status() {
    local args=(-s -o "$WORK/body" -w "%{http_code}" -X "$1" "$URL$2")
    [ -n "${3:-}" ] && args+=(-H "Authorization: Bearer $3")
    [ -n "${4:-}" ] && args+=(-H "Content-Type: application/json" --data-binary "$4")
    curl "${args[@]}"
}
json() { python3 -c "import json,sys; d=json.load(open('$WORK/body')); print($1)"; }

[ "$(status GET /healthz)" = 200 ] || die "healthz"
# docs/openapi.yaml is a valid OpenAPI 3.1 document (when the validator is installed).
if python3 -c "import openapi_spec_validator" 2>/dev/null; then
    python3 -m openapi_spec_validator "$ROOT/docs/openapi.yaml" > /dev/null || die "docs/openapi.yaml is not valid OpenAPI"
fi
grep -q '"status":"ok"' "$WORK/body" || die "healthz body: $(cat "$WORK/body")"
event='{"sender":"bank","subject":"+86 138-0013-8000","action":"grant","port":"10690001","method":"web-form","evidence":{"ip":"203.0.113.9"},"clientKey":"web-1"}'
[ "$(status POST /v1/events "" "$event")" = 401 ] || die "anonymous write"
grep -q '"type":"urn:consent-ledger:problem:unauthorized"' "$WORK/body" || die "problem json: $(cat "$WORK/body")"
[ "$(status POST /v1/events "$regulator" "$event")" = 403 ] || die "regulator write"
[ "$(status POST /v1/events "$shop" "$event")" = 403 ] || die "another sender's write"
[ "$(status POST /v1/events "bad" "$event")" = 401 ] || die "bad token"
ok

# Record with proofs: the inclusion proof and checkpoint in the response verify with the CLI.
[ "$(status POST "/v1/events?proof=true" "$bank" "$event")" = 200 ] || die "record: $(cat "$WORK/body")"
[ "$(json 'd["index"]')" = 0 ] || die "record index: $(cat "$WORK/body")"
json 'json.dumps(d["inclusion"])' > "$WORK/inc.json"
printf '%s\n' "$(json 'd["checkpoint"]')" > "$WORK/cp.txt"
"$BIN" verify inclusion "$WORK/inc.json" --checkpoint "$WORK/cp.txt" --key "$WORK/vkey" | grep -q "^OK" || die "verify inclusion"
[ "$(status POST /v1/events "$bank" "$event")" = 200 ] && [ "$(json 'd["duplicate"]')" = True ] || die "idempotent replay"
bad='[{"sender":"bank","subject":"010-12345678","action":"grant"},{"sender":"bank","subject":"13800138000","action":"maybe"}]'
[ "$(status POST /v1/events "$bank" "$bad")" = 400 ] || die "invalid events"
[ "$(json 'len(d["errors"])')" = 2 ] || die "every invalid event listed: $(cat "$WORK/body")"
grant2='{"sender":"bank","subject":"13900139000","action":"grant","clientKey":"web-2"}'
[ "$(status POST /v1/events "$bank" "$grant2")" = 200 ] || die "record 2"
ok

# An MO reply "TD。" to the port with an extension: a revocation for bank on port 10690001.
mo='{"from":"8613900139000","port":"106900011234","text":"TD。","receivedAt":"2026-11-23T12:00:00Z","id":"cmpp-1"}'
[ "$(status POST /v1/mo "$shop" "$mo")" = 403 ] || die "MO for another sender's port"
[ "$(status POST /v1/mo "$bank" "$mo")" = 200 ] || die "MO: $(cat "$WORK/body")"
[ "$(json 'd["verdict"], d["sender"], d["port"]')" = "opt-out bank 10690001" ] || die "MO verdict: $(cat "$WORK/body")"
revocation=$(json 'd["index"]')
[ "$(status POST /v1/mo "$bank" '{"from":"8613900139000","port":"10690001","text":"R是什么意思"}')" = 200 ] || die "MO 2"
[ "$(json 'd["verdict"], d["review"]')" = "unclear True" ] || die "unclear MO: $(cat "$WORK/body")"
ok

# The gate: allowed and blocked, with a reason each.
gate='{"sender":"bank","port":"10690001","numbers":["13800138000","13900139000","13700137000","12345"]}'
[ "$(status POST /v1/gate "$bank" "$gate")" = 200 ] || die "gate: $(cat "$WORK/body")"
[ "$(json '[i["number"] for i in d["allowed"]]')" = "['13800138000']" ] || die "gate allowed: $(cat "$WORK/body")"
[ "$(json 'sorted(i["reason"] for i in d["blocked"])')" = "['invalid-number', 'never-asked', 'refused']" ] || die "gate blocked: $(cat "$WORK/body")"
ok

# The gate streamed: CSV in, CSV out, a row per number in order; 20,000 numbers (two chunks).
python3 -c 'print("number"); [print(f"1370{i:07d}") for i in range(20000)]; print("13800138000"); print("not-a-number")' > "$WORK/numbers.csv"
curl -sf -D "$WORK/gate.headers" -o "$WORK/gate.csv" -H "Authorization: Bearer $bank" -H "Content-Type: text/csv" -H "Accept: text/csv" \
    --data-binary @"$WORK/numbers.csv" "$URL/v1/gate?port=10690001" || die "streamed gate"
[ "$(head -1 "$WORK/gate.csv")" = "number,allowed,reason,entry,detail" ] || die "gate CSV header: $(head -1 "$WORK/gate.csv")"
[ "$(wc -l < "$WORK/gate.csv")" = 20003 ] || die "gate CSV rows: $(wc -l < "$WORK/gate.csv")"
[ "$(sed -n 2p "$WORK/gate.csv")" = "13700000000,false,never-asked,," ] || die "gate CSV first row: $(sed -n 2p "$WORK/gate.csv")"
[ "$(tail -2 "$WORK/gate.csv" | head -1)" = "13800138000,true,consented,0," ] || die "gate CSV consent row: $(tail -2 "$WORK/gate.csv")"
tail -1 "$WORK/gate.csv" | grep -q "^not-a-number,false,invalid-number,," || die "gate CSV invalid row: $(tail -1 "$WORK/gate.csv")"
grep -qi "^x-consent-at: " "$WORK/gate.headers" || die "gate without X-Consent-At: $(cat "$WORK/gate.headers")"
# An upload over 1 MB: curl asks `Expect: 100-continue` and gets 100 Continue at once (not after its 1 s wait).
python3 -c 'print("number"); [print(f"1370{i:07d}") for i in range(100000)]' > "$WORK/big.csv"
curl -sv -o "$WORK/big.out" -H "Authorization: Bearer $bank" -H "Content-Type: text/csv" -H "Accept: text/csv" \
    --data-binary @"$WORK/big.csv" "$URL/v1/gate" 2> "$WORK/big.err" || die "big upload"
grep -q "^< HTTP/1.1 100 Continue" "$WORK/big.err" || die "no 100 Continue: $(grep '^[<>]' "$WORK/big.err" | head)"
[ "$(wc -l < "$WORK/big.out")" = 100001 ] || die "big upload rows: $(wc -l < "$WORK/big.out")"
ok

# Operations: readiness, metrics for admins only, and the admin routes.
[ "$(status GET /readyz)" = 200 ] && [ "$(json 'd["status"]')" = ready ] || die "readyz: $(cat "$WORK/body")"
[ "$(status GET /metrics "$regulator")" = 403 ] || die "metrics for a regulator"
[ "$(status GET /metrics "$admin")" = 200 ] || die "metrics: $(cat "$WORK/body")"
grep -q '^consent_ledger_gate_numbers_total 120006$' "$WORK/body" || die "metrics gate count: $(grep gate "$WORK/body")"
grep -q '^consent_ledger_http_requests_total{method="POST",route="/v1/events",status="200"}' "$WORK/body" || die "metrics requests"
grep -q '13800138000' "$WORK/body" && die "metrics hold a number"
[ "$(status POST /v1/holds "$admin" '{"sender":"bank","reason":"complaint","reference":"12321-2026-0001"}')" = 201 ] || die "hold: $(cat "$WORK/body")"
"$BIN" hold list --data "$D" | grep -q "sender bank" || die "hold placed over HTTP is not in the log"
ok

# A regulator audits the running service (it serves the export layout); a sender token cannot.
"$BIN" audit --key "$WORK/vkey" --url "$URL" --token "$regulator" > "$WORK/audit.out" || die "audit --url: $(cat "$WORK/audit.out")"
grep -q "^OK: " "$WORK/audit.out" || die "audit --url output: $(cat "$WORK/audit.out")"
rc=0; "$BIN" audit --key "$WORK/vkey" --url "$URL" --token "$bank" > /dev/null 2> "$WORK/err" || rc=$?
[ "$rc" = 2 ] && grep -q "regulator token" "$WORK/err" || die "audit --url with a sender token: rc $rc, $(cat "$WORK/err")"
ok

# A query with a proof bundle, verified offline by the CLI.
[ "$(status GET "/v1/consent?subject=13900139000&sender=bank&port=10690001&proof=true" "$regulator")" = 200 ] || die "query: $(cat "$WORK/body")"
[ "$(json 'd["decision"], d["deciding"]["index"]')" = "refused $revocation" ] || die "query decision: $(cat "$WORK/body")"
json 'json.dumps(d["bundle"])' > "$WORK/bundle.json"
"$BIN" verify bundle "$WORK/bundle.json" --key "$WORK/vkey" > "$WORK/verified" || die "verify bundle: $(cat "$WORK/verified")"
grep -q "REFUSED" "$WORK/verified" && grep -q "evidence reply: TD。" "$WORK/verified" || die "verified bundle: $(cat "$WORK/verified")"
ok

# The public tier: the checkpoint, and a tile whose hashes rebuild the checkpoint's root.
curl -sf "$URL/checkpoint" > "$WORK/checkpoint.txt" || die "checkpoint"
size=$(sed -n 2p "$WORK/checkpoint.txt")
[ "$size" -gt 1 ] && [ "$size" -lt 256 ] || die "checkpoint size $size"
curl -sf "$URL/tile/0/000.p/$size" > "$WORK/tile" || die "tile"
python3 - "$WORK/tile" "$WORK/checkpoint.txt" <<'PY' || die "tile root"
import base64, hashlib, sys
data = open(sys.argv[1], "rb").read()
leaves = [data[i:i + 32] for i in range(0, len(data), 32)]
def root(h):
    if len(h) == 1: return h[0]
    k = 1
    while k * 2 < len(h): k *= 2
    return hashlib.sha256(b"\x01" + root(h[:k]) + root(h[k:])).digest()
lines = open(sys.argv[2]).read().split("\n")
assert len(leaves) == int(lines[1]), "tile width"
assert root(leaves) == base64.b64decode(lines[2]), "root from the tile differs from the checkpoint's"
PY
[ "$(status GET "/tile/entries/000.p/$size")" = 401 ] || die "entry bundle without a token"
[ "$(status GET "/tile/entries/000.p/$size" "$regulator")" = 200 ] || die "entry bundle for a regulator"
[ "$(status GET "/tile/0/001")" = 404 ] || die "tile beyond the tree"
ok

# Graceful stop during appends: every acknowledged event is in the log.
for i in $(seq 1 20); do
    curl -s -o "$WORK/burst$i" -w "%{http_code}" -X POST "$URL/v1/events" -H "Authorization: Bearer $bank" \
        -H "Content-Type: application/json" \
        --data-binary "{\"sender\":\"bank\",\"subject\":\"1370013$(printf %04d "$i")\",\"action\":\"grant\",\"clientKey\":\"burst-$i\"}" \
        > "$WORK/burst$i.status" 2>/dev/null &
done
sleep 0.05
kill -TERM "$server"
rc=0; wait "$server" || rc=$?
server=""
wait
[ "$rc" = 0 ] || die "serve exited $rc after SIGTERM: $(tail -5 "$WORK/serve.err")"
acknowledged=0
for i in $(seq 1 20); do
    code=$(cat "$WORK/burst$i.status")
    # Answered (200) or never connected (000: the listener was closed); nothing in between.
    [ "$code" = 200 ] || [ "$code" = 000 ] || die "append $i during shutdown got $code: $(cat "$WORK/burst$i")"
    if [ "$code" = 200 ]; then
        acknowledged=$((acknowledged + 1))
        index=$(python3 -c "import json; print(json.load(open('$WORK/burst$i'))['index'])")
        "$BIN" entry --data "$D" --index "$index" > /dev/null || die "acknowledged entry $index is missing"
    fi
done
"$BIN" check --data "$D" | grep -q "^OK" || die "check after stop"
# The writer lock is free again.
"$BIN" record --data "$D" --sender bank --subject 13600136000 --action grant > /dev/null || die "record after stop"
echo "serve: $acknowledged of 20 appends in flight at SIGTERM were acknowledged, all committed"
ok

# --heartbeat: an idle log gets commit entries, so answers about "now" stay bounded by the log.
before=$(size "$D")
"$BIN" serve --data "$D" --port 0 --heartbeat 0.2 > "$WORK/serve2.out" 2> "$WORK/serve2.err" &
server=$!
for _ in $(seq 1 100); do
    [ "$(size "$D")" -gt "$before" ] && break
    kill -0 "$server" 2>/dev/null || die "serve --heartbeat exited: $(cat "$WORK/serve2.err")"
    sleep 0.1
done
[ "$(size "$D")" -gt "$before" ] || die "no heartbeat in 10 s"
kill -INT "$server"
rc=0; wait "$server" || rc=$?
server=""
[ "$rc" = 0 ] || die "serve exited $rc after SIGINT"
"$BIN" check --data "$D" | grep -q "^OK" || die "check after heartbeats"
ok
echo "serve.sh: $checks checks passed"
