#!/usr/bin/env python3
"""Check a signed AuditLedger review report without trusting the ledger or its code.

    verify_report.py REPORT.json VERIFIER_KEY

REPORT is the body of GET /v1/reviews/report (or `ledgerctl review-report --format json`), byte for
byte: {"report":R,"signature":N}. R is the report's canonical JSON; N is a C2SP signed note by the
ledger's checkpoint key whose lines are `auditledger review report`, the tree size the report was
computed at, that tree's root hash (base64) and the SHA-256 of R (base64). VERIFIER_KEY is the note
verifier key (`ledgerctl key`), or @FILE.

It checks the note's Ed25519 signature, that the SHA-256 of R is the one signed, and that R's own
treeSize and root are the signed ones. A consistency proof from that tree size to any later signed
checkpoint (`GET /v1/proof/consistency`, `ledgerctl verify-proof`) then shows the report came from
this ledger at that point. Exit status 0 when everything holds, 1 otherwise, with the reason on
standard error. Standard library plus the `cryptography` package only.
"""
import base64
import hashlib
import json
import sys

from verify_export import open_note, parse_verifier_key

PREFIX = b'{"report":'
SEPARATOR = b',"signature":'


def fail(message):
    print(f"verify_report: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 3:
        fail("usage: verify_report.py REPORT.json VERIFIER_KEY")
    body = open(sys.argv[1], "rb").read().rstrip(b"\n")
    key_text = sys.argv[2]
    if key_text.startswith("@"):
        key_text = open(key_text[1:]).read()
    name, key_id, public_key = parse_verifier_key(key_text)
    if not body.startswith(PREFIX) or SEPARATOR not in body or not body.endswith(b"}"):
        fail('the body is not {"report":…,"signature":…}')
    split = body.rindex(SEPARATOR)
    report_bytes = body[len(PREFIX):split]
    note = json.loads(body[split + len(SEPARATOR):-1])
    if not isinstance(note, str):
        fail("the report is not signed (the ledger has no checkpoint key)")
    text = open_note(note, name, key_id, public_key, what="report's note")
    lines = text.split("\n")
    if len(lines) != 5 or lines[0] != "auditledger review report":
        fail("the note is not a review report's")
    size, root, digest = int(lines[1]), base64.b64decode(lines[2], validate=True), base64.b64decode(lines[3], validate=True)
    if hashlib.sha256(report_bytes).digest() != digest:
        fail("the report's bytes are not the ones signed")
    report = json.loads(report_bytes)
    if report.get("treeSize") != size or bytes.fromhex(report.get("root", "")) != root:
        fail("the report's tree size or root is not the one signed")
    print(f"verify_report: OK: {len(report.get('holders', []))} holders as of {report.get('asOf')}, "
          f"signed at tree size {size}, root {root.hex()}")


if __name__ == "__main__":
    main()
