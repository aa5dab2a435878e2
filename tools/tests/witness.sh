#!/usr/bin/env bash
# Witnessing end to end with the real binary: two witnesses (`witness serve`) on 127.0.0.1, a log
# that records events and gets both cosignatures (by `witness submit` and by `serve` on its own),
# proof bundles that carry them and pass `verify bundle` with a 2-of-2 witness policy; then a forked
# log (a copy of the data directory, so the same signing key and prefix, with another history of
# the same and of a larger size) that witness 1 refuses, and whose bundles fail the policy.
source "$(dirname "$0")/lib.bash"
command -v curl > /dev/null || die "curl is needed"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

# start NAME COMMAND...: runs a server in the background, waits for its "listening on" line and
# sets URL to it.
start() {
    local name="$1"
    shift
    "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" &
    pids+=($!)
    local pid=$!
    for _ in $(seq 1 100); do
        grep -q "^listening on" "$WORK/$name.out" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || die "$name exited: $(cat "$WORK/$name.err")"
        sleep 0.1
    done
    URL=$(sed -n 's/^listening on //p' "$WORK/$name.out")
    [[ "$URL" =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || die "$name: no listening line: $(cat "$WORK/$name.err")"
    PID=$pid
}

# Two witnesses.
"$BIN" witness init --data "$WORK/w1" --name witness.test/w1 > "$WORK/w1.vkey"
"$BIN" witness init --data "$WORK/w2" --name witness.test/w2 > "$WORK/w2.vkey"
[ "$("$BIN" witness key --data "$WORK/w1")" = "$(cat "$WORK/w1.vkey")" ] || die "witness key"
python3 -c "import base64,sys; assert base64.b64decode(open('$WORK/w1.vkey').read().strip().split('+', 2)[2])[0] == 4" || die "a cosignature key has type 0x04: $(cat "$WORK/w1.vkey")"
[ "$(stat -c %a "$WORK/w1/witness.key")" = 600 ] || die "the witness key is owner-only"
expect_fail "a second witness init" "$BIN" witness init --data "$WORK/w1" --name witness.test/w1
ok

# The log, known to both witnesses.
D="$WORK/log"
"$BIN" init --data "$D" --origin example.com/consent/witnessed > /dev/null
"$BIN" key --data "$D" > "$WORK/log.vkey"
for w in w1 w2; do "$BIN" witness add-log --data "$WORK/$w" --origin example.com/consent/witnessed --key "$WORK/log.vkey" > /dev/null; done
expect_fail "a log key under another origin" "$BIN" witness add-log --data "$WORK/w1" --origin other.example/log --key "$WORK/log.vkey"
expect_fail "a witness key as a log key" "$BIN" witness add-log --data "$WORK/w1" --origin witness.test/w2 --key "$WORK/w2.vkey"
start w1 "$BIN" witness serve --data "$WORK/w1" --port 0
W1=$URL
start w2 "$BIN" witness serve --data "$WORK/w2" --port 0
W2=$URL
"$BIN" witness add --data "$D" --url "$W1" --key "$WORK/w1.vkey" > /dev/null
"$BIN" witness add --data "$D" --url "$W2" --key "$WORK/w2.vkey" > /dev/null
expect_fail "a log key as a witness key" "$BIN" witness add --data "$D" --url "$W1" --key "$WORK/log.vkey"
expect_fail "a bad witness URL" "$BIN" witness add --data "$D" --url "ftp://127.0.0.1" --key "$WORK/w1.vkey"
[ "$("$BIN" witness list --data "$D" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 2 ] || die "witness list"
ok

# The protocol by hand: unknown logs get 404, garbage 400.
[ "$(curl -s -o "$WORK/body" -w '%{http_code}' --data-binary $'old 0\n\nnot.known/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 not.known/log AAAAAAAA\n' "$W1/add-checkpoint")" = 404 ] \
    || die "unknown log: $(cat "$WORK/body")"
[ "$(curl -s -o /dev/null -w '%{http_code}' --data-binary 'hello' "$W1/add-checkpoint")" = 400 ] || die "garbage"
ok

# Events, then one round of submissions: both witnesses cosign.
"$BIN" record --data "$D" --sender bank --subject 13800138000 --action grant --port 10690001 > /dev/null
"$BIN" record --data "$D" --sender bank --subject 13900139000 --action grant > /dev/null
"$BIN" witness submit --data "$D" > "$WORK/submit.out" || die "submit: $(cat "$WORK/submit.out")"
[ "$(grep -c ': cosigned size' "$WORK/submit.out")" = 2 ] || die "both cosigned: $(cat "$WORK/submit.out")"
n=$(size "$D")
"$BIN" witness checkpoint --data "$D" > "$WORK/cosigned.txt"
[ "$(sed -n 2p "$WORK/cosigned.txt")" = "$n" ] || die "the cosigned checkpoint is the latest"
[ "$(grep -c $'^\xe2\x80\x94 ' "$WORK/cosigned.txt")" = 3 ] || die "log signature and two cosignatures: $(cat "$WORK/cosigned.txt")"
grep -q "size $n" <("$BIN" witness logs --data "$WORK/w1") || die "witness state: $("$BIN" witness logs --data "$WORK/w1")"
ok

# A bundle carries the cosigned checkpoint; old verifiers (no policy) still accept it, the 2-of-2
# policy passes, a policy naming an unknown witness fails.
"$BIN" query --data "$D" --subject 13800138000 --sender bank --port 10690001 --proof "$WORK/bundle.json" > /dev/null
python3 -c "import json; n=json.load(open('$WORK/bundle.json'))['checkpoint']; assert n.count('\u2014 ') == 3, n"
"$BIN" verify bundle "$WORK/bundle.json" --key "$WORK/log.vkey" | grep -q "^OK" || die "verify without a policy"
"$BIN" verify bundle "$WORK/bundle.json" --key "$WORK/log.vkey" --witness "$WORK/w1.vkey" --witness "$WORK/w2.vkey" \
    --witness-threshold 2 > "$WORK/verify.out" || die "2-of-2: $(cat "$WORK/verify.out")"
grep -q "witness policy met: checkpoint cosigned by witness.test/w1, witness.test/w2" "$WORK/verify.out" || die "policy line: $(cat "$WORK/verify.out")"
"$BIN" witness init --data "$WORK/w3" --name witness.test/w3 > "$WORK/w3.vkey"
expect_fail "2-of-2 with a witness that did not cosign" \
    "$BIN" verify bundle "$WORK/bundle.json" --key "$WORK/log.vkey" --witness "$WORK/w1.vkey" --witness "$WORK/w3.vkey" --witness-threshold 2
grep -q "1 of the 2 witnesses cosigned" "$WORK/err" || die "policy failure message: $(cat "$WORK/err")"
"$BIN" verify bundle "$WORK/bundle.json" --key "$WORK/log.vkey" --witness "$WORK/w1.vkey" --witness "$WORK/w3.vkey" --witness-threshold 1 \
    | grep -q "^OK" || die "1-of-2"
# verify inclusion takes the same policy, over the cosigned checkpoint it is given.
"$BIN" prove inclusion --data "$D" --index 0 --json > "$WORK/inc.json"
"$BIN" verify inclusion "$WORK/inc.json" --checkpoint "$WORK/cosigned.txt" --key "$WORK/log.vkey" --witness "$WORK/w1.vkey" \
    --witness "$WORK/w2.vkey" | grep -q "^OK" || die "verify inclusion with a policy"
"$BIN" checkpoint --data "$D" > "$WORK/plain.txt"
expect_fail "the plain checkpoint under a policy" \
    "$BIN" verify inclusion "$WORK/inc.json" --checkpoint "$WORK/plain.txt" --key "$WORK/log.vkey" --witness "$WORK/w1.vkey"
expect_fail "a threshold above the keys" "$BIN" verify bundle "$WORK/bundle.json" --key "$WORK/log.vkey" --witness "$WORK/w1.vkey" --witness-threshold 2
ok

# serve submits by itself: events over HTTP, then GET /checkpoint/cosigned catches up.
bank=$("$BIN" token create --data "$D" --role sender --sender bank 2> /dev/null)
start serve "$BIN" serve --data "$D" --port 0 --witness-interval 0.2
S=$URL
SERVE=$PID
for i in 1 2 3; do
    curl -sf -H "Authorization: Bearer $bank" -d "{\"sender\":\"bank\",\"subject\":\"1370013700$i\",\"action\":\"grant\"}" "$S/v1/events" > /dev/null \
        || die "record over HTTP"
done
latest=$(curl -sf "$S/checkpoint" | sed -n 2p)
for _ in $(seq 1 100); do
    [ "$(curl -s "$S/checkpoint/cosigned" | sed -n 2p)" = "$latest" ] && break
    sleep 0.1
done
curl -s "$S/checkpoint/cosigned" > "$WORK/served.txt"
[ "$(sed -n 2p "$WORK/served.txt")" = "$latest" ] || die "serve did not get the latest checkpoint cosigned: $(cat "$WORK/served.txt") $(tail -5 "$WORK/serve.err")"
[ "$(grep -c $'^\xe2\x80\x94 ' "$WORK/served.txt")" = 3 ] || die "served note: $(cat "$WORK/served.txt")"
# A bundle over HTTP carries the cosignatures of its checkpoint and meets the 2-of-2 policy.
curl -sf -H "Authorization: Bearer $bank" "$S/v1/consent?subject=13700137001&proof=true" \
    | python3 -c 'import json,sys; json.dump(json.load(sys.stdin)["bundle"], sys.stdout)' > "$WORK/http-bundle.json" || die "bundle over HTTP"
"$BIN" verify bundle "$WORK/http-bundle.json" --key "$WORK/log.vkey" --witness "$WORK/w1.vkey" --witness "$WORK/w2.vkey" \
    --witness-threshold 2 > /dev/null || die "the HTTP bundle under 2-of-2: $(cat "$WORK/http-bundle.json" | head -c 600)"
kill -TERM "$SERVE"
wait "$SERVE" || die "serve exited non-zero after SIGTERM"
n=$(size "$D")
ok

# The fork: a copy of the data directory (same key, same history so far) that records other events.
F="$WORK/fork"
cp -a "$D" "$F"
"$BIN" witness remove --data "$F" --key "$WORK/w2.vkey"
"$BIN" record --data "$D" --sender bank --subject 13800138000 --action revoke --port 10690001 > /dev/null
"$BIN" witness submit --data "$D" > /dev/null || die "the honest log keeps being cosigned"
"$BIN" record --data "$F" --sender bank --subject 13800138000 --action grant --port 10690002 > /dev/null
honest=$(size "$D")
[ "$(size "$F")" = "$honest" ] || die "the fork has the same size ($(size "$F") vs $honest)"
[ "$(sed -n 3p <("$BIN" checkpoint --data "$F"))" != "$(sed -n 3p <("$BIN" checkpoint --data "$D"))" ] || die "the fork has another root"
expect_fail "w1 cosigns a fork of the same size" "$BIN" witness submit --data "$F"
grep -q "refused" "$WORK/out" || die "refusal: $(cat "$WORK/out")"
"$BIN" record --data "$F" --sender bank --subject 13900139000 --action revoke > /dev/null
expect_fail "w1 cosigns a larger fork" "$BIN" witness submit --data "$F"
grep -q "HTTP 422" "$WORK/out" || die "a larger fork gets 422: $(cat "$WORK/out")"
grep -q "size $honest" <("$BIN" witness logs --data "$WORK/w1") || die "w1 still holds the honest size: $("$BIN" witness logs --data "$WORK/w1")"
# The fork's bundles cannot meet the policy; its log signature alone still verifies (that is the attack).
"$BIN" query --data "$F" --subject 13800138000 --sender bank --port 10690002 --proof "$WORK/fork.json" > /dev/null
"$BIN" verify bundle "$WORK/fork.json" --key "$WORK/log.vkey" | grep -q "^OK" || die "the fork's signature"
expect_fail "the fork's bundle under 2-of-2" \
    "$BIN" verify bundle "$WORK/fork.json" --key "$WORK/log.vkey" --witness "$WORK/w1.vkey" --witness "$WORK/w2.vkey" --witness-threshold 2
expect_fail "the fork's bundle under 1-of-2" \
    "$BIN" verify bundle "$WORK/fork.json" --key "$WORK/log.vkey" --witness "$WORK/w1.vkey" --witness "$WORK/w2.vkey" --witness-threshold 1
# The honest log's newest bundle still passes.
"$BIN" query --data "$D" --subject 13800138000 --sender bank --port 10690001 --proof "$WORK/honest.json" > /dev/null
"$BIN" verify bundle "$WORK/honest.json" --key "$WORK/log.vkey" --witness "$WORK/w1.vkey" --witness "$WORK/w2.vkey" > /dev/null \
    || die "the honest log's bundle after the fork attempts"
ok

echo "witness: $checks checks passed (two witnesses, 2-of-2 policy, a fork of the same and a larger size refused)"
