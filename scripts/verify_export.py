#!/usr/bin/env python3
"""Check an AuditLedger export without trusting the ledger or its code.

    verify_export.py EXPORT.ndjson CHECKPOINT.note VERIFIER_KEY
    verify_export.py --bundle EVIDENCE.json [VERIFIER_KEY]

EXPORT is `ledgerctl export` (or GET /v1/export): one canonical record a line, byte for byte.
CHECKPOINT is a signed note from `ledgerctl checkpoint` (C2SP tlog-checkpoint). VERIFIER_KEY is the
note verifier key (`name+keyid+base64(0x01 || ed25519 public key)`, from `ledgerctl key`), or @FILE.

It recomputes the hash chain (hash(n) = SHA-256(hash(n-1) || record(n)), hash(0) = 32 zero bytes),
checks that seqs run 1, 2, 3 ... without gaps, recomputes the RFC 6962 Merkle root over the first
`size` records and compares it with the checkpoint's, and checks the checkpoint's Ed25519 signature.

With --bundle it checks an evidence bundle downloaded from the web console: the signed checkpoint
note in it, and for each record in it (byte for byte as stored) its RFC 9162 inclusion proof against
that checkpoint's root. VERIFIER_KEY should be the key the auditor holds; without it the key that
came inside the bundle is used, and the output says so.

Exit status 0 when everything holds, 1 otherwise, with the reason on standard error.
Standard library plus the `cryptography` package only.
"""
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

EM_DASH = "\u2014"


def fail(message):
    print(f"verify_export: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def parse_verifier_key(text):
    name, key_id_hex, key_b64 = text.strip().split("+", 2)
    raw = base64.b64decode(key_b64, validate=True)
    if len(raw) != 33 or raw[0] != 0x01:
        fail("the verifier key is not an Ed25519 note key")
    public_key = raw[1:]
    key_id = hashlib.sha256(name.encode() + b"\n" + b"\x01" + public_key).digest()[:4]
    if key_id.hex() != key_id_hex:
        fail("the verifier key's ID does not match its name and key")
    return name, key_id, Ed25519PublicKey.from_public_bytes(public_key)


def open_note(note, name, key_id, public_key, what="checkpoint"):
    """The text of a C2SP signed note signed by this key; fails otherwise."""
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        fail(f"the {what} is not a signed note")
    text = note[: split + 1]
    for line in note[split + 2 :].splitlines():
        if not line.startswith(EM_DASH + " "):
            fail(f"malformed signature line: {line!r}")
        signer, _, blob = line[2:].partition(" ")
        raw = base64.b64decode(blob, validate=True)
        if signer != name or raw[:4] != key_id:
            continue
        try:
            public_key.verify(raw[4:], text.encode())
        except InvalidSignature:
            fail(f"the {what}'s signature by {name} does not verify")
        return text
    fail(f"the {what} carries no signature by {name}")


def open_checkpoint(note, name, key_id, public_key):
    """The (origin, size, root) of a note signed by this key; fails otherwise."""
    text = open_note(note, name, key_id, public_key)
    lines = text.split("\n")
    if len(lines) < 4 or not lines[1].isdigit() or str(int(lines[1])) != lines[1]:
        fail("the checkpoint body is not origin, size, root hash")
    root = base64.b64decode(lines[2], validate=True)
    if len(root) != 32:
        fail("the checkpoint root hash is not 32 bytes")
    return lines[0], int(lines[1]), root


def leaf_hash(record):
    return hashlib.sha256(b"\x00" + record).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(leaves):
    """RFC 6962 tree hash, kept as a stack of perfect subtrees (the right edge)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    stack = []  # (height, hash)
    for leaf in leaves:
        height, value = 0, leaf
        while stack and stack[-1][0] == height:
            value = node_hash(stack.pop()[1], value)
            height += 1
        stack.append((height, value))
    value = stack.pop()[1]
    while stack:
        value = node_hash(stack.pop()[1], value)
    return value


def root_from_inclusion(index, size, leaf, proof):
    """RFC 9162 section 2.1.3.2: the root an inclusion proof leads to, or None."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def read_key(arg):
    return open(arg[1:], encoding="utf-8").read() if arg.startswith("@") else arg


def verify_bundle(bundle_path, key_arg):
    try:
        with open(bundle_path, encoding="utf-8") as f:
            bundle = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"cannot read the bundle: {e}")
    if bundle.get("format") != "auditledger-evidence-1":
        fail("not an AuditLedger evidence bundle (format auditledger-evidence-1)")
    key_text = read_key(key_arg) if key_arg else bundle["verifierKey"]
    name, key_id, public_key = parse_verifier_key(key_text)
    origin, size, root = open_checkpoint(bundle["checkpoint"], name, key_id, public_key)
    if size != bundle["treeSize"]:
        fail(f"the bundle says tree size {bundle['treeSize']}, its checkpoint {size}")
    for item in bundle["records"]:
        record = item["record"].encode("utf-8")
        seq = item["seq"]
        try:
            stored_seq = json.loads(record)["seq"]
        except (ValueError, KeyError, TypeError):
            fail(f"the record given for seq {seq} is not a record with a seq")
        if stored_seq != seq or item["leafIndex"] != seq - 1:
            fail(f"the record given for seq {seq} holds seq {stored_seq} (leaf index {item['leafIndex']})")
        proof = [bytes.fromhex(h) for h in item["proof"]]
        if root_from_inclusion(seq - 1, size, leaf_hash(record), proof) != root:
            fail(f"the inclusion proof of seq {seq} does not lead to the checkpoint's root")
    pending = bundle.get("notYetCheckpointed", [])
    source = "the key you gave" if key_arg else "the key inside the bundle (compare it with the one you hold)"
    print(
        f"ok: {len(bundle['records'])} records proven in the tree of size {size} with root {root.hex()}, "
        f"as signed by {name} for {origin}, checked with {source}"
        + (f"; {len(pending)} newer records not yet covered by a checkpoint" if pending else "")
    )


def main():
    if len(sys.argv) in (3, 4) and sys.argv[1] == "--bundle":
        verify_bundle(sys.argv[2], sys.argv[3] if len(sys.argv) == 4 else None)
        return
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    export_path, checkpoint_path, key_arg = sys.argv[1:]
    key_text = read_key(key_arg)
    name, key_id, public_key = parse_verifier_key(key_text)
    origin, size, root = open_checkpoint(open(checkpoint_path, encoding="utf-8").read(), name, key_id, public_key)

    chain = bytes(32)
    leaves = []
    with open(export_path, "rb") as export:
        for number, line in enumerate(export, start=1):
            if not line.endswith(b"\n"):
                fail(f"line {number} does not end the export with a newline")
            record = line[:-1]
            try:
                seq = json.loads(record)["seq"]
            except (ValueError, KeyError, TypeError):
                fail(f"line {number} is not a record with a seq")
            if seq != number:
                fail(f"line {number} holds seq {seq}: records are missing or out of order")
            chain = hashlib.sha256(chain + record).digest()
            leaves.append(leaf_hash(record))
    if size > len(leaves):
        fail(f"the checkpoint covers {size} records but the export holds {len(leaves)}")
    computed = merkle_root(leaves[:size])
    if computed != root:
        fail(f"the Merkle root of the first {size} records is {computed.hex()}, the checkpoint says {root.hex()}")
    print(
        f"ok: {len(leaves)} records, chain head {chain.hex()}; the first {size} have root {computed.hex()}, "
        f"as signed by {name} for {origin}"
    )


if __name__ == "__main__":
    main()
