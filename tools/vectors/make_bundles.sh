#!/usr/bin/env bash
# Regenerates fixtures/bundles/: valid proof bundles for each kind of answer and tampered copies,
# with fixtures/bundles/manifest.json naming the verdict a verifier must reach for each.
#
#   tools/vectors/make_bundles.sh [path to consent-ledger]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="${1:-$ROOT/.build/debug/consent-ledger}"
OUT="$ROOT/fixtures/bundles"
D="$(mktemp -d)/ledger"
trap 'rm -rf "$(dirname "$D")"' EXIT

"$BIN" init --data "$D" --origin fixtures.consent-ledger.example/log > /dev/null
rec() { "$BIN" record --data "$D" --json "$@" | python3 -c 'import json,sys; print(json.load(sys.stdin)["recordedAt"])'; }
A=13800138000 B=13900139000 C=15000150000 E=18800188000
TPL=$(printf '%064d' 0 | tr 0 a)
rec --sender bank --subject $A --action grant --method web-form --template-hash "$TPL" --evidence url=https://bank.example/form > /dev/null
rec --sender shop --subject $A --action grant --port 10690002 --method app > /dev/null
rec --sender bank --subject $B --action grant --method paper --evidence operator-ref=branch-7 > /dev/null
rec --sender bank --subject $B --action revoke --port 10690001 --method sms-reply --evidence reply=R > /dev/null
rec --sender shop --subject $C --action grant --method web-form > /dev/null
rec --sender decline-platform --subject $C --action revoke --scope global --method operator-platform > /dev/null
GRANT_E=$(rec --sender telco --subject $E --action grant --method call --evidence recording-hash="$TPL")
rec --sender telco --subject $E --action revoke --method sms-reply --evidence reply=TD > /dev/null

rm -rf "$OUT" && mkdir -p "$OUT"
q() { local name=$1; shift; "$BIN" query --data "$D" --proof "$OUT/$name.json" "$@" > /dev/null; }
q consented-sender-wide --subject $A --sender bank
q consented-port-scope --subject $A --sender shop --port 10690002
q refused-port-revoke-over-sender-grant --subject $B --sender bank --port 10690001
q consented-other-port-same-sender --subject $B --sender bank --port 10690009
q refused-global-decline --subject $C --sender shop
q refused-revoke --subject $E --sender telco
q consented-before-revoke --subject $E --sender telco --at "$GRANT_E"
q never-asked --subject $A --sender telco
"$BIN" key --data "$D" > "$OUT/verifier-key.txt"
# What the stale-state-root tamper needs: an older commit entry and its inclusion proof.
"$BIN" entry --data "$D" --index 1 --json > "$OUT/.old-commit.json"
"$BIN" prove inclusion --data "$D" --index 1 --json > "$OUT/.old-commit-proof.json"

python3 - "$OUT" <<'PY'
import base64, copy, json, os, sys
out = sys.argv[1]
def load(name): return json.load(open(os.path.join(out, name + ".json")))
def save(name, bundle): json.dump(bundle, open(os.path.join(out, name + ".json"), "w"), indent=1, sort_keys=True, ensure_ascii=False)
valid = {n: load(n)["decision"] for n in ["consented-sender-wide", "consented-port-scope", "refused-port-revoke-over-sender-grant",
         "consented-other-port-same-sender", "refused-global-decline", "refused-revoke", "consented-before-revoke", "never-asked"]}
tampered = []

b = load("refused-revoke"); b["decision"] = "consented"; b["deciding"] = None
save("tampered-changed-decision", b); tampered.append(("tampered-changed-decision", "the bundle claims consented"))

b = load("refused-revoke")
grant = next(e for e in b["entries"] if e["index"] != b["deciding"])
for e in b["entries"]:
    if e["index"] == b["deciding"]:
        e["header"] = grant["header"]
save("tampered-swapped-entry", b); tampered.append(("tampered-swapped-entry", "not included in the checkpoint"))

b = load("consented-sender-wide")
old = json.load(open(os.path.join(out, ".old-commit.json"))); proof = json.load(open(os.path.join(out, ".old-commit-proof.json")))
b["entries"].append({"index": old["index"], "header": old["encoded"], "inclusion": proof["proof"]})
b["entries"].sort(key=lambda e: e["index"]); b["stateCommit"] = old["index"]
save("tampered-stale-state-root", b); tampered.append(("tampered-stale-state-root", "stale state root"))

b = load("consented-before-revoke")
successor = next(k["successor"] for k in b["keys"] if k.get("successor") is not None)
header = base64.b64decode(next(e["header"] for e in b["entries"] if e["index"] == successor))
recorded = int.from_bytes(header[34:42], "big")  # version, kind, previous leaf hash, then recordedAt
import datetime
b["question"]["at"] = datetime.datetime.fromtimestamp(recorded / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (recorded % 1000)
save("tampered-time-after-successor", b); tampered.append(("tampered-time-after-successor", "recorded at or before the question time"))

b = load("refused-global-decline"); b["question"]["at"] = "2099-01-01T00:00:00.000Z"
save("tampered-time-after-state-commit", b); tampered.append(("tampered-time-after-state-commit", "after the state commit"))

b = load("consented-sender-wide")
lines = b["checkpoint"].split("\n"); sig = lines[-2]
lines[-2] = sig[:-6] + ("A" if sig[-6] != "A" else "B") + sig[-5:]
b["checkpoint"] = "\n".join(lines)
save("tampered-bad-signature", b); tampered.append(("tampered-bad-signature", "checkpoint"))

b = load("consented-sender-wide")
for e in b["entries"]:
    if e.get("body"):
        body = bytearray(base64.b64decode(e["body"])); body[-1] ^= 0x20; e["body"] = base64.b64encode(bytes(body)).decode()
        break
save("tampered-body-mismatch", b); tampered.append(("tampered-body-mismatch", "body does not match"))

b = load("never-asked"); b["question"]["subject"] = "+8613800138001"
save("tampered-other-subject", b); tampered.append(("tampered-other-subject", "map proof does not lead to the state root"))

manifest = {
    "verifierKey": open(os.path.join(out, "verifier-key.txt")).read().strip(),
    "bundles": [{"file": n + ".json", "valid": True, "decision": d} for n, d in valid.items()]
             + [{"file": n + ".json", "valid": False, "failure": f} for n, f in tampered],
}
json.dump(manifest, open(os.path.join(out, "manifest.json"), "w"), indent=1)
for n in (".old-commit.json", ".old-commit-proof.json", "verifier-key.txt"): os.remove(os.path.join(out, n))
PY
echo "wrote $(ls "$OUT" | wc -l) files to fixtures/bundles"
