#!/usr/bin/env python3
"""Writes fixtures/entry-vectors.json: entry and body encodings built from docs/FORMAT.md alone,
in Python (hashlib for SHA-256, SM3 and HMAC), as an implementation independent of the Swift code.

    python3 tools/vectors/entry_vectors.py > fixtures/entry-vectors.json
"""
import hashlib
import hmac
import json
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
    ]
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
        header = consent_header(dict(previous=previous, recordedAt=e["recordedAt"], sender=e["sender"], scope=e["scope"],
                                     port=e.get("port"), purpose=e.get("purpose"), subjectKey=subject_key, action=e["action"],
                                     method=e["method"], templateHash=template, occurredAt=e["occurredAt"], bodyHash=H(suite, b),
                                     idempotencyKeyHash=idem))
        leaf = H(suite, b"\x00" + header)
        cases.append({
            "sender": e["sender"], "scope": e["scope"], "port": e.get("port"), "purpose": e.get("purpose"),
            "subject": e["subject"], "action": e["action"], "method": e["method"],
            "templateHash": template.hex() if template else None, "occurredAt": e["occurredAt"], "recordedAt": e["recordedAt"],
            "evidence": e["evidence"], "clientKey": e["clientKey"], "salt": salt.hex(), "pepper": pepper.hex(),
            "subjectKey": subject_key.hex(), "idempotencyKeyHash": idem.hex() if idem else None,
            "previousLeafHash": previous.hex(), "body": b.hex(), "bodyHash": H(suite, b).hex(),
            "header": header.hex(), "leafHash": leaf.hex(),
        })
        previous = leaf
    return {"suite": suite, "subjectSecret": secret.hex(), "entries": cases}

json.dump({"source": "tools/vectors/entry_vectors.py (Python hashlib, from docs/FORMAT.md)",
           "suites": [vectors("sha256-ed25519"), vectors("sm3-sm2")]}, sys.stdout, ensure_ascii=False, indent=1)
print()
