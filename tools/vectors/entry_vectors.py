#!/usr/bin/env python3
"""Writes fixtures/entry-vectors.json: entry and body encodings built from docs/FORMAT.md alone,
in Python (hashlib for SHA-256, SM3 and HMAC), as an implementation independent of the Swift code.

    python3 tools/vectors/entry_vectors.py > fixtures/entry-vectors.json

It also writes fixtures/admin-entry-vectors.json (hold and purge entries, kinds 0x03 and 0x04, from
docs/ADMIN-ENTRIES-DRAFT.md) with write_admin_vectors(); `--admin-only` writes just that file and
prints nothing. The output on stdout is the same either way.
"""
import hashlib
import hmac
import json
import os
import struct
import sys

def H(suite, data):
    return hashlib.new("sha256" if suite == "sha256-ed25519" else "sm3", data).digest()

def short(s):
    b = s.encode()
    assert len(b) <= 255
    return bytes([len(b)]) + b

def long_(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b

def opt_hash(h):
    return b"\x00" if h is None else b"\x01" + h

SCOPES = {"global": 0, "sender": 1, "narrowed": 2}
ACTIONS = {"grant": 1, "revoke": 2}
METHODS = {"web-form": 1, "app": 2, "sms-reply": 3, "call": 4, "paper": 5, "operator-platform": 6, "api": 7, "other": 255}
EVIDENCE = {"reply": 1, "url": 2, "ip": 3, "user-agent": 4, "recording-hash": 5, "operator-ref": 6, "form-text": 7, "note": 8}

def state_key(suite, subject_key, sender, scope, port, purpose):
    out = b"consent-ledger/state-key/v1\x00" + subject_key
    if scope == "global":
        out += b"\x00"
    elif scope == "sender":
        out += b"\x01" + short(sender)
    else:
        out += b"\x02" + short(sender) + short(port or "") + short(purpose or "")
    return H(suite, out)

def map_leaf(suite, key, index, action, leaf):
    return H(suite, b"\x02" + key + struct.pack(">q", index) + bytes([ACTIONS[action]]) + leaf)

def bit(key, i):
    return (key[i // 8] >> (7 - i % 8)) & 1

def map_root(suite, items, depth=0):
    """Root of the path-compressed binary trie over sorted (key, index, action, leaf) items."""
    if not items:
        return bytes(32)
    if len(items) == 1:
        return map_leaf(suite, *items[0])
    left = [x for x in items if bit(x[0], depth) == 0]
    right = [x for x in items if bit(x[0], depth) == 1]
    return H(suite, b"\x03" + map_root(suite, left, depth + 1) + map_root(suite, right, depth + 1))

def commit_header(previous, recorded_at, state_root, event_count):
    return bytes([1, 2]) + previous + struct.pack(">q", recorded_at) + state_root + struct.pack(">I", event_count)

def consent_header(h):
    out = bytes([1, 1]) + h["previous"] + struct.pack(">q", h["recordedAt"])
    out += short(h["sender"])
    scope = h["scope"]
    out += bytes([SCOPES[scope]])
    if scope == "narrowed":
        out += short(h.get("port") or "") + short(h.get("purpose") or "")
    out += h["subjectKey"] + bytes([ACTIONS[h["action"]], METHODS[h["method"]]])
    out += opt_hash(h.get("templateHash"))
    out += struct.pack(">q", h["occurredAt"]) + h["bodyHash"] + opt_hash(h.get("idempotencyKeyHash"))
    link = h.get("keyPredecessor")
    out += b"\x00" if link is None else b"\x01" + struct.pack(">q", link[0]) + link[1]
    return out

def body(salt, pepper, subject, evidence):
    out = bytes([1]) + salt + pepper + short(subject) + bytes([len(evidence)])
    for key in sorted(evidence, key=lambda k: EVIDENCE[k]):
        out += bytes([EVIDENCE[key]]) + long_(evidence[key])
    return out

def vectors(suite):
    secret = bytes(range(32))
    cases = []
    previous = bytes(32)
    events = [
        dict(sender="91440300MA5FXXXX1K", scope="narrowed", port="10690001", purpose=None, subject="+8613800138000",
             action="grant", method="web-form", template="【示例银行】同意接收信用卡优惠短信", occurredAt=1780276500000,
             recordedAt=1780276501234, evidence={"url": "https://bank.example/offers", "ip": "203.0.113.10"}, clientKey="bank-0001"),
        dict(sender="shop-youxuan", scope="sender", subject="+8613700137000", action="revoke", method="sms-reply",
             template=None, occurredAt=1780276600000, recordedAt=1780276601000, evidence={"reply": "TD。"}, clientKey=None),
        dict(sender="operator", scope="global", subject="+8615000150000", action="revoke", method="operator-platform",
             template=None, occurredAt=1780276700000, recordedAt=1780276702000, evidence={}, clientKey="decline-1"),
        dict(sender="s1", scope="narrowed", port=None, purpose="promotions", subject="+8618800188000", action="grant",
             method="app", template=None, occurredAt=1780276800000, recordedAt=1780276802000,
             evidence={"note": "x" * 300, "form-text": "同意"}, clientKey=None),
        # The first event's key again: it links to entry 0.
        dict(sender="91440300MA5FXXXX1K", scope="narrowed", port="10690001", purpose=None, subject="+8613800138000",
             action="revoke", method="sms-reply", template=None, occurredAt=1780276900000,
             recordedAt=1780276902000, evidence={"reply": "R"}, clientKey=None),
    ]
    latest = {}
    for i, e in enumerate(events):
        digest = "sha256" if suite == "sha256-ed25519" else "sm3"
        pepper = hmac.new(secret, b"consent-ledger/pepper/v1\x00" + e["subject"].encode(), digest).digest()
        subject_key = H(suite, b"consent-ledger/subject/v1\x00" + pepper + e["subject"].encode())
        salt = bytes([i] * 16)
        b = body(salt, pepper, e["subject"], e["evidence"])
        idem = None
        if e["clientKey"]:
            idem = H(suite, b"consent-ledger/idempotency/v1\x00" + e["sender"].encode() + b"\x00" + e["clientKey"].encode())
        template = H(suite, e["template"].encode()) if e["template"] else None
        skey = state_key(suite, subject_key, e["sender"], e["scope"], e.get("port"), e.get("purpose"))
        link = latest.get(skey)
        header = consent_header(dict(previous=previous, recordedAt=e["recordedAt"], sender=e["sender"], scope=e["scope"],
                                     port=e.get("port"), purpose=e.get("purpose"), subjectKey=subject_key, action=e["action"],
                                     method=e["method"], templateHash=template, occurredAt=e["occurredAt"], bodyHash=H(suite, b),
                                     idempotencyKeyHash=idem, keyPredecessor=(link[0], link[2]) if link else None))
        leaf = H(suite, b"\x00" + header)
        latest[skey] = (i, e["action"], leaf)
        cases.append({
            "sender": e["sender"], "scope": e["scope"], "port": e.get("port"), "purpose": e.get("purpose"),
            "subject": e["subject"], "action": e["action"], "method": e["method"],
            "templateHash": template.hex() if template else None, "occurredAt": e["occurredAt"], "recordedAt": e["recordedAt"],
            "evidence": e["evidence"], "clientKey": e["clientKey"], "salt": salt.hex(), "pepper": pepper.hex(),
            "subjectKey": subject_key.hex(), "idempotencyKeyHash": idem.hex() if idem else None,
            "previousLeafHash": previous.hex(), "body": b.hex(), "bodyHash": H(suite, b).hex(),
            "header": header.hex(), "leafHash": leaf.hex(), "stateKey": skey.hex(),
            "keyPredecessor": {"index": link[0], "leafHash": link[2].hex()} if link else None,
        })
        previous = leaf
    items = sorted((k, v[0], v[1], v[2]) for k, v in latest.items())
    root = map_root(suite, items)
    commit = commit_header(previous, events[-1]["recordedAt"], root, len(events))
    return {"suite": suite, "subjectSecret": secret.hex(), "entries": cases,
            "commit": {"index": len(events), "previousLeafHash": previous.hex(), "recordedAt": events[-1]["recordedAt"],
                       "stateRoot": root.hex(), "eventCount": len(events), "header": commit.hex(),
                       "leafHash": H(suite, b"\x00" + commit).hex()}}

# --- Administrative entries (docs/ADMIN-ENTRIES-DRAFT.md): hold (kind 0x03) and purge (kind 0x04). ---

ADMIN_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../fixtures/admin-entry-vectors.json")
HOLD_TARGETS = {"subject": 1, "sender": 2, "subjectSender": 3}
INT64_MAX = (1 << 63) - 1

def uleb128(v):
    assert 0 <= v <= INT64_MAX
    out = bytearray()
    while v >= 0x80:
        out.append(v & 0x7F | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)

def prefix(kind, previous, recorded_at):
    return bytes([1, kind]) + previous + struct.pack(">q", recorded_at)

def hold_reason(s):
    b = s.encode()
    assert 1 <= len(b) <= 1000 and all(c >= 0x20 and c != 0x7F for c in b)
    return struct.pack(">H", len(b)) + b

def hold_reference(s):
    b = s.encode("ascii")
    assert 1 <= len(b) <= 64 and all(0x21 <= c <= 0x7E for c in b)
    return short(s)

def hold_header(previous, recorded_at, h):
    out = prefix(3, previous, recorded_at)
    if h["action"] == "place":
        t = h["target"]
        out += bytes([1, HOLD_TARGETS[t["kind"]]])
        if t["kind"] in ("subject", "subjectSender"):
            out += bytes.fromhex(t["subjectKey"])
        if t["kind"] in ("sender", "subjectSender"):
            out += short(t["sender"])
    else:
        assert h["placedAt"] >= 0
        out += bytes([2]) + struct.pack(">q", h["placedAt"])
    return out + hold_reason(h["reason"]) + hold_reference(h["reference"])

def purge_header(previous, recorded_at, p):
    out = prefix(4, previous, recorded_at)
    for period in (p["minimum"], p["purgeAfter"]):
        out += struct.pack(">HI", period["months"], period["days"])
    purged = p["purged"]
    assert 1 <= len(purged) <= 10000 and all(b > a for a, b in zip(purged, purged[1:]))
    out += struct.pack(">I", len(purged)) + uleb128(purged[0])
    for a, b in zip(purged, purged[1:]):
        out += uleb128(b - a)
    return out

def admin_vectors(suite):
    """Hold and purge entries chained after the six entries of vectors(suite) (indexes 6 on). They are
    format vectors: the log around them (batches, commit entries) is not modelled."""
    base = vectors(suite)
    key0 = base["entries"][0]["subjectKey"]  # +8613800138000, the subject of entries 0 and 4
    key2 = base["entries"][2]["subjectKey"]  # +8615000150000, the global decline
    entries = [
        ("hold", 1780276903000, dict(action="place", target=dict(kind="subjectSender", subjectKey=key0, sender="91440300MA5FXXXX1K"),
                                     reason="12321投诉调查中：用户称未同意接收营销短信", reference="12321-2026-0001234")),
        ("hold", 1780276904000, dict(action="place", target=dict(kind="sender", sender="shop-youxuan"),
                                     reason="Regulator inquiry into opt-out handling", reference="MIIT/2026/77")),
        ("hold", 1780276905000, dict(action="place", target=dict(kind="subject", subjectKey=key2),
                                     reason="Court order to preserve evidence", reference="CASE-2026-0042")),
        ("hold", 1780276906000, dict(action="release", placedAt=7, reason="Inquiry closed", reference="MIIT/2026/77")),
        # Entry 1 (a revocation recorded 2026-06-01) is past P5M and no longer held (hold 7 released);
        # the other bodies are held (6: entries 0 and 4, 8: entry 2) or a current grant (3).
        ("purge", 1794000000000, dict(minimum=dict(months=5, days=0), purgeAfter=dict(months=5, days=0), purged=[1])),
        # Varint edge cases (1, 2 and 3 bytes, 2^35, and Int64.max, 9 bytes). Indexes beyond the log
        # break a writer guarantee only; the decoder does not check them.
        ("purge", 1794000001000, dict(minimum=dict(months=18, days=0), purgeAfter=dict(months=27, days=10),
                                      purged=[0, 127, 128, 300, 16384, 1 << 35, INT64_MAX])),
    ]
    previous = bytes.fromhex(base["commit"]["leafHash"])
    out = []
    for i, (kind, recorded_at, fields) in enumerate(entries):
        if kind == "hold":
            header = hold_header(previous, recorded_at, fields)
        else:
            header = purge_header(previous, recorded_at, fields)
        leaf = H(suite, b"\x00" + header)
        out.append({"index": len(base["entries"]) + 1 + i, "kind": kind, "previousLeafHash": previous.hex(),
                    "recordedAt": recorded_at, kind: fields, "header": header.hex(), "leafHash": leaf.hex()})
        previous = leaf
    return {"suite": suite, "entries": out}

def write_admin_vectors(path=ADMIN_PATH):
    """Writes fixtures/admin-entry-vectors.json: hold and purge entries for both suites, each with its
    full encoding (common prefix included, hex) and its RFC 9162 leaf hash H(0x00 || header)."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"source": "tools/vectors/entry_vectors.py (Python hashlib, from docs/ADMIN-ENTRIES-DRAFT.md)",
                   "suites": [admin_vectors("sha256-ed25519"), admin_vectors("sm3-sm2")]}, f, ensure_ascii=False, indent=1)
        f.write("\n")

if __name__ == "__main__":
    if "--admin-only" not in sys.argv[1:]:
        json.dump({"source": "tools/vectors/entry_vectors.py (Python hashlib, from docs/FORMAT.md)",
                   "suites": [vectors("sha256-ed25519"), vectors("sm3-sm2")]}, sys.stdout, ensure_ascii=False, indent=1)
        print()
    write_admin_vectors()
