#!/usr/bin/env bash
# kill -9 during a sustained import, several times at random moments. After every kill:
# every batch the importer acknowledged (its "committed ... through line L" progress line) is in
# the log, in order, with its client key; the stored log replays cleanly (`check`); and a re-run
# of the same import resumes without appending anything twice.
source "$(dirname "$0")/lib.bash"
LINES=${CRASH_LINES:-60000}
KILLS=${CRASH_KILLS:-6}
D="$WORK/ledger"
"$BIN" init --data "$D" --origin example.com/consent/crash > /dev/null
python3 - "$WORK/events.jsonl" "$LINES" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write(json.dumps({"sender": "s%d" % (i % 7), "subject": "13%09d" % (i * 7919 % 10**9), "action": "grant" if i % 5 else "revoke",
                            "method": "api", "evidence": {"note": "line %d" % (i + 1)}, "clientKey": "k%d" % (i + 1)}) + "\n")
PY

idempotency_hash() {  # SENDER KEY -> the hash the header must carry
    python3 -c 'import hashlib,sys; print(hashlib.sha256(b"consent-ledger/idempotency/v1\0" + sys.argv[1].encode() + b"\0" + sys.argv[2].encode()).hexdigest())' "$1" "$2"
}

for round in $(seq 1 "$KILLS"); do
    "$BIN" import --data "$D" "$WORK/events.jsonl" --batch-size 500 2> "$WORK/progress" > /dev/null &
    pid=$!
    # Wait for the first acknowledged batch (validation of the whole file comes first), then kill at a random moment.
    for _ in $(seq 1 600); do
        grep -q "committed" "$WORK/progress" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    sleep "$(python3 -c "import random; print(round(random.uniform(0.0, 1.5), 2))")"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    acked=$(grep -o "through line [0-9]*" "$WORK/progress" | tail -1 | grep -o "[0-9]*$" || echo 0)
    size=$(size "$D")
    echo "round $round: killed; last acknowledged line $acked, log size $size"
    if [ "$acked" -gt 0 ]; then
        # The acknowledged line's event is in the log, under its client key.
        sender="s$(((acked - 1) % 7))"
        hash=$(idempotency_hash "$sender" "k$acked")
        index=$(sqlite3 "$D/ledger.sqlite" "SELECT idx FROM entries WHERE idempotency = X'$hash'")
        [ -n "$index" ] || die "acknowledged line $acked is not in the log"
        got=$("$BIN" entry --data "$D" --index "$index" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["idempotencyKeyHash"])')
        [ "$got" = "$hash" ] || die "entry $index is not line $acked"
    fi
    "$BIN" check --data "$D" > "$WORK/check" || die "check failed after kill: $(cat "$WORK/check")"
    ok
done
"$BIN" import --data "$D" "$WORK/events.jsonl" --batch-size 5000 --json 2>/dev/null > "$WORK/final.json"
"$BIN" check --data "$D" | grep -q "^OK: [0-9]* entries ($LINES events" || die "after resuming: $("$BIN" check --data "$D")"
ok
echo "crash: $checks checks passed ($KILLS kills during import, nothing acknowledged was lost, nothing doubled)"
