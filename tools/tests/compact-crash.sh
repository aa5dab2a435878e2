#!/usr/bin/env bash
# kill -9 a compaction at random moments, many times, on a log of 100,000+ entries. After every
# kill the log replays cleanly (`check` also proves every purge lawful: nothing purged before its
# time or under a hold, and no body gone without a purge entry naming it). At the end, the bodies
# left equal those of one uninterrupted compaction of a copy of the log taken before the first run.
source "$(dirname "$0")/lib.bash"
LINES=${COMPACT_LINES:-100000}
KILLS=${COMPACT_KILLS:-20}
D="$WORK/ledger"
"$BIN" init --data "$D" --origin example.com/consent/compact-crash > /dev/null
python3 - "$WORK/events.jsonl" "$LINES" <<'PY'
import json, sys
# Numbers seen several times, grants and revocations: superseded grants and revocations become due.
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write(json.dumps({"sender": "s%d" % (i % 5), "subject": "13%09d" % (i * 7919 % 30011), "action": "grant" if i % 3 else "revoke",
                            "method": "api", "evidence": {"note": "line %d" % (i + 1)}}) + "\n")
PY
"$BIN" import --data "$D" "$WORK/events.jsonl" --batch-size 10000 > /dev/null 2>&1
"$BIN" hold add --data "$D" --sender s3 --reason "complaint under investigation" --reference 12321-2026-0001 > /dev/null
cp -a "$D" "$WORK/reference"
# Six months and a day from now, every revocation and superseded grant is due (except sender s3's).
base=$(python3 -c 'import time; print(int(time.time()) + 183 * 86400)')
at() { python3 -c "import datetime,sys; print(datetime.datetime.fromtimestamp(int(sys.argv[1]), datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'))" "$1"; }
bodies() { sqlite3 "$1/ledger.sqlite" "SELECT count(*) FROM bodies"; }
before=$(bodies "$D")
final=$(at $((base + KILLS + 1)))
# Small purge batches, so that there are many points to be killed at. One uninterrupted run on the
# copy gives the expected result and how long a run takes; a dry run how long its scan takes.
PURGE_BATCH=${COMPACT_PURGE_BATCH:-10}
elapsed() { python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$1" "$(date +%s.%N)"; }
started=$(date +%s.%N)
"$BIN" compact --data "$WORK/reference" --now "$final" --dry-run --json > /dev/null
scan=$(elapsed "$started")
started=$(date +%s.%N)
"$BIN" compact --data "$WORK/reference" --now "$final" --batch-size "$PURGE_BATCH" --json > "$WORK/reference.json"
duration=$(elapsed "$started")
echo "one uninterrupted compaction: ${duration}s, of which ~${scan}s before the first purge"
# A kill after the first purge commit waits at most a share of the purging time, so that each
# round purges a part of what is due and later kills still land between purge batches (with a
# fixed wait, the log reached its final state within a few rounds and the later kills tested
# nothing).
kill_wait=$(python3 -c "import sys; print(max(0.01, (float(sys.argv[1]) - float(sys.argv[2])) / 2 / float(sys.argv[3])))" "$duration" "$scan" "$KILLS")
final_left=$(bodies "$WORK/reference")
midway=0
for round in $(seq 1 "$KILLS"); do
    left_before=$(bodies "$D")
    "$BIN" compact --data "$D" --now "$(at $((base + round)))" --batch-size "$PURGE_BATCH" > /dev/null 2>&1 &
    pid=$!
    # Every fourth kill at a random moment of a run's scan or just after; the others a random few
    # milliseconds after the run's first purge batch is seen committed, when it has purges left.
    if [ $((round % 4)) -eq 0 ] || [ "$left_before" -le "$final_left" ]; then
        sleep "$(python3 -c "import random,sys; print(round(random.uniform(0.05, float(sys.argv[1]) + float(sys.argv[2])), 2))" "$scan" "$kill_wait")"
    else
        for _ in $(seq 1 3000); do
            [ "$(bodies "$D")" -lt "$left_before" ] && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.01
        done
        sleep "$(python3 -c "import random,sys; print(round(random.uniform(0.0, float(sys.argv[1])), 3))" "$kill_wait")"
    fi
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    "$BIN" check --data "$D" > "$WORK/check" || die "check failed after kill $round: $(cat "$WORK/check")"
    left=$(bodies "$D")
    if [ "$left" -lt "$left_before" ]; then midway=$((midway + 1)); fi
    echo "round $round: killed; $left of $before bodies left"
    ok
done
"$BIN" compact --data "$D" --now "$final" --json > "$WORK/last.json"
left=$(sqlite3 "$D/ledger.sqlite" "SELECT group_concat(idx) FROM (SELECT idx FROM bodies ORDER BY idx)" | sha256sum)
expected=$(sqlite3 "$WORK/reference/ledger.sqlite" "SELECT group_concat(idx) FROM (SELECT idx FROM bodies ORDER BY idx)" | sha256sum)
[ "$left" = "$expected" ] || die "the bodies left differ from one uninterrupted compaction"
ok
purged=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["purged"])' "$WORK/reference.json")
[ "$purged" -gt 0 ] || die "nothing was due: the test proves nothing"
held=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["keptHeld"])' "$WORK/reference.json")
[ "$held" -gt 0 ] || die "no body was kept by the hold"
"$BIN" compact --data "$D" --now "$(at $((base + KILLS + 2)))" --dry-run --json | python3 -c 'import json,sys; assert json.load(sys.stdin)["purged"] == 0' \
    || die "a rerun still finds bodies to purge"
"$BIN" check --data "$D" > /dev/null || die "final check failed"
ok
# Three of four kills wait for purging to start; at least a third of those must land before it ends.
[ "$midway" -ge $((KILLS / 4)) ] || die "only $midway of $KILLS kills landed between purge batches: the test proves little"
echo "compact-crash: $checks checks passed ($KILLS kills during compaction of $(size "$D") entries, $midway of them after some purges;"
echo "  $purged bodies purged, $held kept by a hold)"
