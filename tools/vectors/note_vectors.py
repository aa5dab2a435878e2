#!/usr/bin/env python3
"""Writes fixtures/note-vectors.json: C2SP checkpoints over the chained entries of
fixtures/entry-vectors.json, with RFC 9162 roots computed here in Python, Ed25519 signatures by the
RFC 8032 TEST 1 key (Python `cryptography`) and SM2 signatures by `openssl pkeyutl` (SM3, ID
1234567812345678), all independent of the Swift code.

    python3 tools/vectors/note_vectors.py > fixtures/note-vectors.json
"""
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

HERE = os.path.dirname(os.path.abspath(__file__))
ENTRIES = json.load(open(os.path.join(HERE, "../../fixtures/entry-vectors.json")))

def H(suite, data):
    return hashlib.new("sha256" if suite == "sha256-ed25519" else "sm3", data).digest()

def mth(suite, leaves):
    if not leaves:
        return H(suite, b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return H(suite, b"\x01" + mth(suite, leaves[:k]) + mth(suite, leaves[k:]))

def key_id(name, type_bytes, public):
    return hashlib.sha256(name.encode() + b"\n" + type_bytes + public).digest()[:4]

def leaves_of(suite):
    s = next(x for x in ENTRIES["suites"] if x["suite"] == suite)
    return [bytes.fromhex(e["leafHash"]) for e in s["entries"]] + [bytes.fromhex(s["commit"]["leafHash"])]

def note(text, name, kid, sig):
    return text + "\n" + "\u2014 " + name + " " + base64.b64encode(kid + sig).decode() + "\n"

def ed25519():
    name = "example.com/consent/2026"
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    key = Ed25519PrivateKey.from_private_bytes(seed)
    public = key.public_key().public_bytes_raw()
    kid = key_id(name, b"\x01", public)
    leaves = leaves_of("sha256-ed25519")
    notes = []
    for size in (0, 2, 4, len(leaves)):
        text = "%s\n%d\n%s\n" % (name, size, base64.b64encode(mth("sha256-ed25519", leaves[:size])).decode())
        notes.append(note(text, name, kid, key.sign(text.encode())))
    vkey = "%s+%s+%s" % (name, kid.hex(), base64.b64encode(b"\x01" + public).decode())
    return {"name": name, "seed": seed.hex(), "verifierKey": vkey, "checkpoints": notes}

def sm2():
    name = "example.com/consent/sm2-2026"
    private = "fa67a24ec3b02b186443482ca03ac35a2d2d55918f72a628b02d792732904998"
    public = bytes.fromhex("04dddec63c5a4b2684654d91bf0d1841169646dbf01791aa1b14de9a52be4c3e8e"
                           "551b8b352a26be67700135cf5e8beae7425a0c4147bfac112db8bf7628a12d82")
    # An SEC1 EC private key on the SM2 curve (OID 1.2.156.10197.1.301), as DER, then PEM.
    der = bytes.fromhex("30770201010420" + private + "a00a06082a811ccf5501822da144034200") + public
    type_bytes = b"\xff" + b"consent-ledger.sm2"
    kid = key_id(name, type_bytes, public)
    leaves = leaves_of("sm3-sm2")
    notes = []
    with tempfile.TemporaryDirectory() as tmp:
        pem = os.path.join(tmp, "key.pem")
        with open(pem, "w") as f:
            f.write("-----BEGIN EC PRIVATE KEY-----\n" + base64.encodebytes(der).decode() + "-----END EC PRIVATE KEY-----\n")
        for size in (4, len(leaves)):
            text = "%s\n%d\n%s\n" % (name, size, base64.b64encode(mth("sm3-sm2", leaves[:size])).decode())
            msg = os.path.join(tmp, "msg")
            open(msg, "wb").write(text.encode())
            sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-inkey", pem,
                                  "-pkeyopt", "distid:1234567812345678", "-in", msg], check=True, capture_output=True).stdout
            notes.append(note(text, name, kid, sig))
    vkey = "%s+%s+%s" % (name, kid.hex(), base64.b64encode(type_bytes + public).decode())
    return {"name": name, "privateKey": private, "publicKey": public.hex(), "verifierKey": vkey, "checkpoints": notes}

json.dump({"source": "tools/vectors/note_vectors.py (Python hashlib and cryptography, openssl pkeyutl)",
           "ed25519": ed25519(), "sm2": sm2()}, sys.stdout, ensure_ascii=False, indent=1)
print()
