#!/usr/bin/env python3
"""Writes fixtures/cosignature-vectors.json: C2SP tlog-cosignature/v1 (Ed25519, type 0x04)
cosignatures and C2SP tlog-witness add-checkpoint request bodies, computed here in Python
(`cryptography` for Ed25519, hashlib for SHA-256 and the RFC 9162 tree), independent of the Swift
code. Ed25519 is deterministic, so the output is stable.

    python3 tools/vectors/cosignature_vectors.py > fixtures/cosignature-vectors.json
"""
import base64
import hashlib
import json
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

LOG_NAME = "example.com/consent/witnessed"
LOG_SEED = bytes(range(32))
WITNESS_NAME = "witness.example/w1"
WITNESS_SEED = hashlib.sha256(b"consent-ledger witness vector seed").digest()


def sha256(data):
    return hashlib.sha256(data).digest()


def leaf_hash(data):
    return sha256(b"\x00" + data)


def mth(leaves):
    """RFC 9162 Merkle tree hash over leaf hashes."""
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def subproof(m, leaves, complete):
    """RFC 9162 section 2.1.4.1 SUBPROOF."""
    n = len(leaves)
    if m == n:
        return [] if complete else [mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return subproof(m, leaves[:k], complete) + [mth(leaves[k:])]
    return subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


def consistency(m, leaves):
    return subproof(m, leaves, True)


def key_id(name, type_byte, public):
    return sha256(name.encode() + b"\n" + type_byte + public)[:4]


def sig_line(name, blob):
    return "\u2014 " + name + " " + base64.b64encode(blob).decode() + "\n"


def checkpoint_text(size, leaves, extensions=()):
    text = "%s\n%d\n%s\n" % (LOG_NAME, size, base64.b64encode(mth(leaves[:size])).decode())
    return text + "".join(e + "\n" for e in extensions)


def main():
    log_key = Ed25519PrivateKey.from_private_bytes(LOG_SEED)
    log_pub = log_key.public_key().public_bytes_raw()
    log_kid = key_id(LOG_NAME, b"\x01", log_pub)
    w_key = Ed25519PrivateKey.from_private_bytes(WITNESS_SEED)
    w_pub = w_key.public_key().public_bytes_raw()
    w_kid = key_id(WITNESS_NAME, b"\x04", w_pub)

    leaves = [leaf_hash(b"entry %d" % i) for i in range(13)]
    cosignatures = []
    for size, timestamp, extensions in ((1, 1679315147, ()), (7, 1764816000, ()), (13, 0, ("ext line",)),
                                         (13, 2 ** 63 - 1, ())):
        text = checkpoint_text(size, leaves, extensions)
        message = "cosignature/v1\ntime %d\n" % timestamp + text
        signature = w_key.sign(message.encode())
        blob = w_kid + struct.pack(">Q", timestamp) + signature
        log_line = sig_line(LOG_NAME, log_kid + log_key.sign(text.encode()))
        cosignatures.append({
            "checkpoint": text,
            "timestamp": timestamp,
            "message": message,
            "signatureLine": sig_line(WITNESS_NAME, blob),
            "cosignedNote": text + "\n" + log_line + sig_line(WITNESS_NAME, blob),
        })

    requests = []
    for old, new in ((0, 1), (1, 7), (4, 13), (7, 13), (13, 13)):
        text = checkpoint_text(new, leaves)
        note = text + "\n" + sig_line(LOG_NAME, log_kid + log_key.sign(text.encode()))
        proof = consistency(old, leaves[:new]) if 0 < old else []
        body = "old %d\n" % old + "".join(base64.b64encode(h).decode() + "\n" for h in proof) + "\n" + note
        requests.append({"old": old, "size": new, "proof": [base64.b64encode(h).decode() for h in proof],
                         "checkpointNote": note, "body": body})

    out = {
        "source": "tools/vectors/cosignature_vectors.py (Python cryptography, hashlib)",
        "log": {"name": LOG_NAME, "seed": LOG_SEED.hex(),
                "verifierKey": "%s+%s+%s" % (LOG_NAME, log_kid.hex(), base64.b64encode(b"\x01" + log_pub).decode())},
        "witness": {"name": WITNESS_NAME, "seed": WITNESS_SEED.hex(), "keyID": w_kid.hex(),
                    "verifierKey": "%s+%s+%s" % (WITNESS_NAME, w_kid.hex(), base64.b64encode(b"\x04" + w_pub).decode())},
        "leaves": [h.hex() for h in leaves],
        "cosignatures": cosignatures,
        "addCheckpoint": requests,
    }
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
