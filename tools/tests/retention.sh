#!/usr/bin/env bash
# Retention from the CLI: the five-month floor, policy changes only upwards, legal holds, a
# compaction run for a future time, and a proof bundle that still verifies after the purge and
# names the purge entry.
source "$(dirname "$0")/lib.bash"
D="$WORK/ledger"

expect_fail "P4M" "$BIN" init --data "$WORK/short" --retention P4M
grep -q "shorter than the legal minimum" "$WORK/err" || die "P4M message: $(cat "$WORK/err")"
expect_fail "P140D" "$BIN" init --data "$WORK/short" --retention P140D
expect_fail "not a period" "$BIN" init --data "$WORK/short" --retention 5M
[ ! -e "$WORK/short/ledger.sqlite" ] || die "a refused init wrote a ledger"
"$BIN" init --data "$D" --origin example.com/consent/retention --retention P6M > /dev/null
"$BIN" key --data "$D" > "$WORK/vkey"
expect_fail "lowering retention" "$BIN" retention --data "$D" --set P5M
grep -q "only be lengthened" "$WORK/err" || die "lowering message: $(cat "$WORK/err")"
"$BIN" retention --data "$D" --set P1Y > /dev/null
"$BIN" retention --data "$D" --json | grep -q '"retention":"P1Y"' || die "retention not raised"
ok

"$BIN" record --data "$D" --sender s1 --subject 13800138000 --action grant --method web-form > /dev/null
"$BIN" record --data "$D" --sender s1 --subject 13800138000 --action revoke --method sms-reply --evidence reply=TD > /dev/null
"$BIN" record --data "$D" --sender s2 --subject 13900139000 --action revoke --method sms-reply --evidence reply=T > /dev/null
"$BIN" hold list --data "$D" | grep -q "no holds" || die "hold list on a new log"
out=$("$BIN" hold add --data "$D" --sender s2 --reason "12321 complaint" --reference 12321-2026-42 --json)
hold=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["index"])')
"$BIN" hold list --data "$D" --json | grep -q '"reference":"12321-2026-42"' || die "hold not listed"
expect_fail "hold without a target" "$BIN" hold add --data "$D" --reason x --reference y
expect_fail "reference with a space" "$BIN" hold add --data "$D" --sender s1 --reason x --reference "a b"
ok

# Now nothing is due; in 13 months the grant (superseded), the revocation and s2's held revocation are.
"$BIN" compact --data "$D" --dry-run --json | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["purged"]==0 and r["examined"]==3, r' \
    || die "dry run now"
expect_fail "now in the past" "$BIN" compact --data "$D" --now 2020-01-01T00:00:00Z
grep -q "earlier than the log's latest entry" "$WORK/err" || die "past --now message: $(cat "$WORK/err")"
later=$(date -u -d "+13 months" +%Y-%m-%dT%H:%M:%SZ)
"$BIN" compact --data "$D" --now "$later" --json > "$WORK/compact.json"
python3 - "$WORK/compact.json" <<'PY' || die "compaction: $(cat "$WORK/compact.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["purged"] == 2 and r["kept"] == 1 and r["keptHeld"] == 1 and len(r["purgeEntries"]) == 1, r
PY
"$BIN" check --data "$D" > /dev/null || die "check after compaction"
"$BIN" retention --data "$D" --json | python3 -c 'import json,sys; r=json.load(sys.stdin); s={x["sender"]:x for x in r["senders"]}; assert s["s1"]["purged"]==2 and s["s2"]["held"]==1, r' \
    || die "retention report"
ok

# The purged revocation still proves the refusal, and the bundle names the purge.
"$BIN" query --data "$D" --subject 13800138000 --sender s1 --proof "$WORK/b.json" --json | grep -q '"decision":"refused"' || die "query after purge"
"$BIN" verify bundle "$WORK/b.json" --key "$WORK/vkey" > "$WORK/verified" || die "verify after purge"
grep -q "purged under the retention policy by purge entry" "$WORK/verified" || die "no purge notice: $(cat "$WORK/verified")"
# Releasing the hold lets the next run purge s2's revocation; a second release is refused.
"$BIN" hold release --data "$D" --entry "$hold" --reason "complaint closed" --reference 12321-2026-42 > /dev/null
expect_fail "release twice" "$BIN" hold release --data "$D" --entry "$hold" --reason again --reference x
"$BIN" compact --data "$D" --vacuum --json | python3 -c 'import json,sys; assert json.load(sys.stdin)["purged"]==1' || die "purge after release"
"$BIN" check --data "$D" > /dev/null || die "final check"
ok
echo "retention: $checks checks passed"
