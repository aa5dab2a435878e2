#!/usr/bin/env bash
# Load test of the HTTP service on this machine: tools/load.sh [entries] [seconds]
#
# Builds the release binary, fills a fresh log with `entries` events (default 1,000,000, over
# entries/2 numbers and 100 senders) by `import`, starts `serve` on a free loopback port, and
# measures with wrk (from Debian; installed when missing) and curl:
#   - record throughput: single-event requests, and requests of 100 events (32 connections);
#   - the send gate: 1,000,000 numbers streamed as CSV in and out, and 100,000 in JSON;
#   - consent questions with and without proof bundles: requests/s and p50/p99 latency (4 connections).
# Only 127.0.0.1 is contacted; every run is bounded in time. Prints numbers; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
ENTRIES=${1:-1000000}
SECONDS_EACH=${2:-10}
command -v wrk > /dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk > /dev/null; }
tools/install-deps
swift build -c release --product consent-ledger 2>&1 | grep -E "error|Build" | tail -2
BIN="$(swift build -c release --show-bin-path)/consent-ledger"
WORK=$(mktemp -d /tmp/consent-load.XXXXXX)
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$WORK"' EXIT
D="$WORK/ledger"
"$BIN" init --data "$D" --origin load.example/consent > /dev/null

echo "== filling the log with $ENTRIES events"
python3 - "$ENTRIES" > "$WORK/events.jsonl" <<'EOF'
import json, sys
n = int(sys.argv[1]); subjects = max(n // 2, 1)
for i in range(n):
    s = (i * 2654435761) % subjects
    e = {"sender": f"sender{i % 100}", "subject": f"13{s:09d}", "action": "revoke" if i % 4 == 0 else "grant",
         "method": "web-form", "evidence": {"ip": f"203.0.113.{i % 250}"}, "clientKey": f"fill-{i}"}
    if i % 3 == 0: e["port"] = "10690001"
    print(json.dumps(e))
EOF
start=$(date +%s.%N)
"$BIN" import --data "$D" --batch-size 10000 "$WORK/events.jsonl" > /dev/null
echo "import: $(python3 -c "print(f'{$ENTRIES / ($(date +%s.%N) - $start):.0f} events/s')")"
rm "$WORK/events.jsonl"
for s in 0 7; do "$BIN" token create --data "$D" --role sender --sender "sender$s" > "$WORK/token$s" 2> /dev/null; done
T0=$(cat "$WORK/token0"); T7=$(cat "$WORK/token7")

"$BIN" serve --data "$D" --port 0 --log-level warning > "$WORK/serve.out" 2> "$WORK/serve.err" &
server=$!
for _ in $(seq 1 600); do
    grep -q "^listening on" "$WORK/serve.out" 2>/dev/null && break
    kill -0 "$server" 2>/dev/null || { cat "$WORK/serve.err"; exit 1; }
    sleep 0.1
done
URL=$(sed -n 's/^listening on //p' "$WORK/serve.out")
echo "== serving at $URL ($(grep -o 'send gate ready.*' "$WORK/serve.err" || true))"

# Record: each request a new event (a new client key), for sender0.
cat > "$WORK/record.lua" <<'EOF'
local n = 0
local per = tonumber(os.getenv("PER") or "1")
local id = os.getenv("RUN") .. "-" .. tostring(math.random(1, 1e9))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
request = function()
    local items = {}
    for i = 1, per do
        n = n + 1
        items[i] = string.format('{"sender":"sender0","subject":"139%08d","action":"grant","clientKey":"%s-%d"}', math.random(0, 99999999), id, n)
    end
    local body = per == 1 and items[1] or ("[" .. table.concat(items, ",") .. "]")
    return wrk.format(nil, "/v1/events", nil, body)
end
EOF
for per in 1 100; do
    out=$(PER=$per RUN="r$per" TOKEN="$T0" wrk -t 2 -c 32 -d "${SECONDS_EACH}s" -s "$WORK/record.lua" "$URL" 2>&1)
    rps=$(echo "$out" | sed -n 's/^Requests\/sec: *//p')
    non2xx=$(echo "$out" | sed -n 's/.*Non-2xx or 3xx responses: *//p')
    echo "record, $per event(s) per request, 32 connections: $rps requests/s = $(python3 -c "print(f'{$rps * $per:.0f}')") events/s${non2xx:+ ($non2xx non-2xx)}"
done

# The gate: one million numbers, streamed CSV in and out; and 100,000 as JSON.
python3 - "$ENTRIES" > "$WORK/numbers.csv" <<'EOF'
import sys
subjects = max(int(sys.argv[1]) // 2, 1)
print("number")
for i in range(1_000_000):
    print(f"13{(i * 7919 + 7) * 2654435761 % subjects:09d}" if i % 2 else f"13{(i * 100 + 7) * 2654435761 % subjects:09d}")
EOF
head -100001 "$WORK/numbers.csv" | tail -100000 | python3 -c 'import json,sys; print(json.dumps({"port":"10690001","numbers":[l.strip() for l in sys.stdin]}))' > "$WORK/numbers.json"
for run in 1 2 3; do
    t=$(curl -sS -o "$WORK/gate.csv" -w '%{time_total}' -H "Authorization: Bearer $T7" -H "Content-Type: text/csv" -H "Accept: text/csv" \
        --data-binary @"$WORK/numbers.csv" "$URL/v1/gate?port=10690001")
    rows=$(($(wc -l < "$WORK/gate.csv") - 1))
    echo "gate, CSV streamed, run $run: $rows numbers in ${t}s = $(python3 -c "print(f'{$rows / $t:.0f}')") numbers/s ($(grep -c ',true,' "$WORK/gate.csv") allowed)"
done
t=$(curl -sS -o "$WORK/gate.json" -w '%{time_total}' -H "Authorization: Bearer $T7" -H "Content-Type: application/json" \
    --data-binary @"$WORK/numbers.json" "$URL/v1/gate")
echo "gate, JSON, 100,000 numbers in ${t}s = $(python3 -c "print(f'{100000 / $t:.0f}')") numbers/s"

# Consent questions: random known subjects of sender7, with and without a proof bundle.
cat > "$WORK/query.lua" <<'EOF'
local entries = tonumber(os.getenv("ENTRIES"))
local subjects = math.max(math.floor(entries / 2), 1)
local proof = os.getenv("PROOF")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
request = function()
    -- Event i (i = 7 mod 100) is sender7's, about subject i * 2654435761 mod subjects (as filled).
    local i = math.random(0, math.floor(entries / 100) - 1) * 100 + 7
    local path = string.format("/v1/consent?subject=13%09d&port=10690001%s", (i * 2654435761) % subjects, proof)
    return wrk.format("GET", path)
end
EOF
for proof in "" "&proof=true"; do
    out=$(ENTRIES=$ENTRIES PROOF="$proof" TOKEN="$T7" wrk -t 2 -c 4 -d "${SECONDS_EACH}s" --latency -s "$WORK/query.lua" "$URL" 2>&1)
    rps=$(echo "$out" | sed -n 's/^Requests\/sec: *//p')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}'); p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    echo "query${proof:+ with proof}, 4 connections at $ENTRIES entries: $rps requests/s, p50 $p50, p99 $p99"
done
kill -TERM "$server"; wait "$server" || true; server=""
echo "log size after the run: $("$BIN" checkpoint --data "$D" | sed -n 2p) entries"
