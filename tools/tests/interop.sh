#!/usr/bin/env bash
# Checks checkpoints, inclusion proofs, entry leaf hashes and consistency proofs made by the CLI with
# Go's golang.org/x/mod/sumdb/note and sumdb/tlog (Debian's golang-golang-x-mod-dev), an independent
# implementation of C2SP signed notes and RFC 6962/9162. Tampered inputs must fail there too.
source "$(dirname "$0")/lib.bash"
export GOPATH=/usr/share/gocode GO111MODULE=off GOCACHE="$WORK/gocache" GOFLAGS=
go build -o "$WORK/interop" "$ROOT/tools/interop/main.go"

D="$WORK/ledger"
"$BIN" init --data "$D" --origin example.com/consent/interop > /dev/null
"$BIN" import --data "$D" "$ROOT/fixtures/demo-history.jsonl" > /dev/null
"$BIN" checkpoint --data "$D" > "$WORK/old.txt"
for i in $(seq 1 23); do
    "$BIN" record --data "$D" --sender s$((i % 3)) --subject "1380013$(printf %04d "$i")" --action grant > /dev/null
done
KEY="$("$BIN" key --data "$D")"
"$BIN" checkpoint --data "$D" > "$WORK/cp.txt"
SIZE=$(size "$D")
for index in 0 5 13 14 15 $((SIZE - 1)); do
    "$BIN" prove inclusion --data "$D" --index "$index" --json > "$WORK/inc.json"
    "$BIN" entry --data "$D" --index "$index" --json > "$WORK/entry.json"
    "$WORK/interop" -key "$KEY" -checkpoint "$WORK/cp.txt" -inclusion "$WORK/inc.json" -entry "$WORK/entry.json" > "$WORK/go.txt"
    grep -q "tlog.CheckRecord: entry $index" "$WORK/go.txt" && grep -q "tlog.RecordHash" "$WORK/go.txt" || die "go inclusion $index"
    ok
done
for old in 1 7 14 15 $((SIZE - 1)) "$SIZE"; do
    "$BIN" prove consistency --data "$D" --old "$old" --json > "$WORK/cons.json"
    "$WORK/interop" -key "$KEY" -checkpoint "$WORK/cp.txt" -consistency "$WORK/cons.json" > "$WORK/go.txt"
    grep -q "tlog.CheckTree: size $old is a prefix" "$WORK/go.txt" || die "go consistency $old"
    ok
done
"$BIN" prove consistency --data "$D" --old 15 --json > "$WORK/cons.json"
"$WORK/interop" -key "$KEY" -checkpoint "$WORK/cp.txt" -consistency "$WORK/cons.json" -old-checkpoint "$WORK/old.txt" | grep -q "CheckTree" || die "go consistency with old checkpoint"

# Go must reject what we reject.
sed '3s/^./A/' "$WORK/cp.txt" > "$WORK/cp-bad.txt"
expect_fail "go: tampered checkpoint" "$WORK/interop" -key "$KEY" -checkpoint "$WORK/cp-bad.txt"
"$BIN" prove inclusion --data "$D" --index 5 --json | sed 's/"index":5/"index":6/' > "$WORK/inc-bad.json"
expect_fail "go: wrong index" "$WORK/interop" -key "$KEY" -checkpoint "$WORK/cp.txt" -inclusion "$WORK/inc-bad.json"
"$BIN" init --data "$WORK/other" --origin example.com/consent/interop > /dev/null
expect_fail "go: other key" "$WORK/interop" -key "$("$BIN" key --data "$WORK/other")" -checkpoint "$WORK/cp.txt"
echo "interop: $checks checks passed (Go sumdb/note and sumdb/tlog agree)"
