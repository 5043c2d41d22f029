#!/usr/bin/env python3
"""`make fuzz`: ledgerd against hostile input.

    fuzz.py --ledgerd PATH [--examples N] [--schemathesis PATH]

Starts ledgerd on a fresh data directory with one token holding every scope, then
1. sends a corpus of hostile bodies to POST /v1/events: huge numbers, deep nesting, invalid
   UTF-8, surrogate escapes, duplicate keys, ids and subject ids past 511 bytes, NUL bytes, every
   length-limited field at its limit and one past it, bodies and events past their size limits.
   Each must get an answer below 500, a refusal must be a 4xx with an error message, and a refused
   request must append nothing (the head is read before and after each);
2. runs schemathesis (when given) on every operation of openapi.yaml, `--max-examples N` each, with
   the `not_a_server_error` check;
3. checks the daemon is still serving, the ledger verifies, and SIGTERM stops it with status 0.
Exit status 0 when all of that holds. Standard library only (schemathesis runs as a program).
"""
import argparse
import hashlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

FAILURES = []


def fail(message):
    FAILURES.append(message)
    print(f"FAIL: {message}", file=sys.stderr)


def start_ledgerd(binary, workdir, token):
    tokens = os.path.join(workdir, "tokens")
    with open(tokens, "w") as f:
        f.write(f"fuzz ingest,read,admin {hashlib.sha256(token.encode()).hexdigest()}\n")
    log = open(os.path.join(workdir, "ledgerd.log"), "w+")
    # backup.root set, so POST /v1/admin/backup is fuzzed for real (paths must stay under it).
    environment = dict(os.environ, LEDGERD_BACKUP_ROOT=os.path.join(workdir, "backups"))
    process = subprocess.Popen(
        [binary, "--data-dir", os.path.join(workdir, "data"), "--port", "0", "--tokens-file", tokens],
        stdout=subprocess.DEVNULL, stderr=log, env=environment)
    for _ in range(600):
        time.sleep(0.1)
        log.seek(0)
        match = re.search(r"http\.address=\S*:(\d+)", log.read())
        if match:
            return process, f"http://127.0.0.1:{match.group(1)}"
        if process.poll() is not None:
            break
    sys.exit("ledgerd did not start; see " + log.name)


class Client:
    def __init__(self, base, token):
        self.base, self.token = base, token

    def request(self, method, path, body=None, content_type="application/json"):
        request = urllib.request.Request(self.base + path, data=body, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if body is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def head(self):
        # The record may hold numbers Python's json refuses (10,000 digits): read the seq alone.
        status, body = self.request("GET", "/v1/events?order=desc&limit=1")
        match = re.match(rb'\{"events":\[\{"seq":(\d+)', body)
        return int(match.group(1)) if match else 0


def event(id, **overrides):
    base = {"id": id, "type": "sales_order.updated", "time": "2026-03-01T09:00:00Z", "actor": {"id": "u-1"},
            "subject": {"type": "sales_order", "id": "SO-1"}, "changes": [{"field": "amount", "new": 1}]}
    base.update(overrides)
    return base


def dumps(value):
    return json.dumps(value, ensure_ascii=False).encode()


def corpus():
    """(name, body bytes, expectation): 'reject' must be a 4xx, 'accept' a 2xx, 'either' below 500."""
    n = iter(range(1_000_000))

    def uid():
        return f"fuzz-{next(n)}"

    good = dumps(event("placeholder"))
    cases = [
        ("empty body", b"", "reject"), ("null", b"null", "reject"), ("number", b"42", "reject"),
        ("string", b'"event"', "reject"), ("empty batch", b"[]", "reject"), ("unclosed", b"{", "reject"),
        ("empty object in batch", b"[{}]", "reject"), ("trailing garbage", good + b" x", "reject"),
        ("two documents", good + good, "reject"),
        ("100k nested arrays", b"[" * 100_000, "reject"), ("10k nested objects", b'{"a":' * 10_000, "reject"),
        ("data nested 70 deep", dumps(event(uid(), type="crm.exported", data=json.loads('{"x":' * 70 + "1" + "}" * 70))), "reject"),
        ("data nested 20 deep", dumps(event(uid(), type="crm.exported", data=json.loads('{"x":' * 20 + "1" + "}" * 20))), "accept"),
        ("number 1e999999", dumps(event(uid())).replace(b'"new": 1', b'"new": 1e999999'), "either"),
        ("10k-digit integer", dumps(event(uid())).replace(b'"new": 1', b'"new": ' + b"9" * 10_000), "either"),
        ("tiny exponent", dumps(event(uid())).replace(b'"new": 1', b'"new": 1.5e-400'), "either"),
        ("leading zero number", dumps(event(uid())).replace(b'"new": 1', b'"new": 01'), "reject"),
        ("NaN", dumps(event(uid())).replace(b'"new": 1', b'"new": NaN'), "reject"),
        ("invalid UTF-8 byte", dumps(event(uid())).replace(b"u-1", b"u-\xff"), "reject"),
        ("overlong UTF-8", dumps(event(uid())).replace(b"u-1", b"u-\xc0\xaf"), "reject"),
        ("UTF-8 surrogate bytes", dumps(event(uid())).replace(b"u-1", b"u-\xed\xa0\x80"), "reject"),
        ("truncated UTF-8", dumps(event(uid())).replace(b"u-1", b"u-\xe4\xb8"), "reject"),
        ("lone high surrogate escape", dumps(event(uid())).replace(b"u-1", b"u-\\ud800"), "reject"),
        ("lone low surrogate escape", dumps(event(uid())).replace(b"u-1", b"u-\\udc00"), "reject"),
        ("high surrogate then letter", dumps(event(uid())).replace(b"u-1", b"u-\\ud800\\u0041"), "reject"),
        ("surrogate pair", dumps(event(uid(), reason="ok")).replace(b'"ok"', b'"\\ud83d\\ude00"'), "accept"),
        ("duplicate top-level key", dumps(event("dup")).replace(b'{"id": "dup"', b'{"id": "dup", "id": "dup2"'), "reject"),
        ("duplicate nested key", dumps(event(uid())).replace(b'{"id": "u-1"}', b'{"id": "u-1", "id": "u-2"}'), "reject"),
        ("NUL escape in id", dumps(event("nul\u0000id")), "reject"),
        ("raw NUL byte in a string", dumps(event(uid())).replace(b"u-1", b"u-\x001"), "reject"),
        ("raw newline in a string", dumps(event(uid())).replace(b"u-1", b"u-\n1"), "reject"),
        ("NUL byte outside JSON", good + b"\x00", "reject"),
        ("id a number", dumps(event(5)), "reject"),
        ("time not RFC 3339", dumps(event(uid(), time="yesterday")), "reject"),
        ("changes an object", dumps(event(uid(), changes={})), "reject"),
        ("actor a string", dumps(event(uid(), actor="u-1")), "reject"),
        ("unknown field", dumps(event(uid(), extra=1)), "reject"),
        ("null reason", dumps(event(uid(), reason=None)), "reject"),
        ("one bad event in a batch", b"[" + dumps(event(uid())) + b"," + dumps(event(uid(), time="no")) + b"]", "reject"),
    ]
    # Every length-limited field at its limit and one past it, in ASCII, CJK (3 bytes) and emoji (4 bytes);
    # 128 emoji make a 512-byte id or subject id, past LMDB's 511-byte key limit.
    for char in ["a", "账", "😀"]:
        for length, expect in [(128, "accept"), (129, "reject")]:
            cases.append((f"id of {length} {char!r}", dumps(event(f"{char * (length - 5)}{next(n):05d}")), expect))
            cases.append((f"subject.id of {length} {char!r}", dumps(event(uid(), subject={"type": "sales_order", "id": char * length})), expect))
            cases.append((f"actor.id of {length} {char!r}", dumps(event(uid(), actor={"id": char * length})), expect))
            cases.append((f"changes[0].field of {length} {char!r}", dumps(event(uid(), changes=[{"field": char * length, "new": 1}])), expect))
        for length, expect in [(64, "accept"), (65, "reject")]:
            cases.append((f"subject.type of {length} {char!r}", dumps(event(uid(), type="crm.exported", subject={"type": char * length, "id": "x"})), expect))
        for length, expect in [(1024, "accept"), (1025, "reject")]:
            cases.append((f"reason of {length} {char!r}", dumps(event(uid(), reason=char * length)), expect))
            cases.append((f"actor.name of {length} {char!r}", dumps(event(uid(), actor={"id": "u-1", "name": char * length})), expect))
    for length, expect in [(64, "accept"), (65, "reject")]:
        cases.append((f"type of {length} bytes", dumps(event(uid(), type="crm." + "x" * (length - 4))), expect))
    # Size limits: an event of 64 KiB and one byte more (in canonical form), a body past 16 MiB.
    probe = len(dumps(event("fuzz-size-000000", type="crm.exported", data={"blob": ""})).replace(b": ", b":").replace(b", ", b","))
    probe += len(b',"outcome":"success"')
    for extra, expect in [(0, "accept"), (1, "reject")]:
        blob = "x" * (64 * 1024 - probe + extra)
        cases.append((f"event of 64 KiB {'+ 1 byte' if extra else 'exactly'}",
                      dumps(event(f"fuzz-size-{next(n):06d}", type="crm.exported", data={"blob": blob})), expect if extra else "either"))
    big = b"[" + b",".join(dumps(event(f"big-{i}", type="crm.exported", data={"blob": "y" * 60_000})) for i in range(290)) + b"]"
    cases.append(("body of 17 MiB", big, "reject"))
    return cases


def run_corpus(client):
    counts = {"reject": 0, "accept": 0, "either": 0}
    for name, body, expect in corpus():
        before = client.head()
        status, answer = client.request("POST", "/v1/events", body)
        after = client.head()
        counts[expect] += 1
        if status >= 500:
            fail(f"{name}: {status} {answer[:200]!r}")
        elif expect == "reject" and status < 400:
            fail(f"{name}: accepted ({status}), should be refused")
        elif expect == "accept" and status >= 300:
            fail(f"{name}: refused ({status} {answer[:200]!r}), should be accepted")
        if status >= 400:
            try:
                message = json.loads(answer)["error"]["message"]
                assert message
            except Exception:
                fail(f"{name}: {status} without an error message: {answer[:200]!r}")
            if after != before:
                fail(f"{name}: refused with {status} but the head moved from {before} to {after}")
    print(f"hostile corpus: {sum(counts.values())} bodies ({counts['reject']} to refuse, {counts['accept']} to accept, "
          f"{counts['either']} either way): {len(FAILURES)} failures")


def run_schemathesis(schemathesis, schema, client, examples):
    command = [schemathesis, "run", schema, "--url", client.base, "--header", f"Authorization: Bearer {client.token}",
               "--checks", "not_a_server_error", "--max-examples", str(examples), "--workers", "1",
               "--suppress-health-check", "all", "--no-color",
               # The streams answer without end: they are tested on their own (StreamTests), not fuzzed.
               "--exclude-path-regex", "/stream$", "--request-timeout", "60"]
    result = subprocess.run(command, capture_output=True, text=True)
    summary = [line for line in result.stdout.splitlines() if re.search(r"test cases|passed|failed|error", line, re.I)]
    print("schemathesis:", " | ".join(summary[-6:]))
    if result.returncode != 0:
        print(result.stdout[-5000:], file=sys.stderr)
        fail(f"schemathesis exited {result.returncode}")
    match = re.search(r"(\d+)\s+generated", result.stdout)
    return int(match.group(1)) if match else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ledgerd", required=True)
    parser.add_argument("--schemathesis")
    parser.add_argument("--schema", default=os.path.join(os.path.dirname(__file__), "..", "openapi.yaml"))
    parser.add_argument("--examples", type=int, default=60)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="ledgerd-fuzz-")
    token = secrets.token_urlsafe(32)
    process, base = start_ledgerd(args.ledgerd, workdir, token)
    client = Client(base, token)
    try:
        run_corpus(client)
        if args.schemathesis:
            cases = run_schemathesis(args.schemathesis, args.schema, client, args.examples)
            print(f"schemathesis: {cases} test cases generated over every operation" if cases else "schemathesis: done")
        escaped = [p for p in os.listdir(workdir) if p not in ("tokens", "ledgerd.log", "data", "backups")]
        if escaped:
            fail(f"something was written outside the backup root: {escaped}")
        status, body = client.request("GET", "/v1/verify")
        report = json.loads(body)
        if client.head() != report.get("count"):
            fail(f"the head seen by the corpus checks ({client.head()}) is not the ledger's ({report.get('count')})")
        if status != 200 or not report.get("ok"):
            fail(f"the ledger does not verify after fuzzing: {status} {body[:300]!r}")
        else:
            print(f"after fuzzing: the daemon serves, {report['count']} records verify (chain, tree, checkpoints, indexes)")
    finally:
        if process.poll() is not None:
            fail(f"ledgerd died during fuzzing with status {process.returncode}")
        else:
            process.send_signal(signal.SIGTERM)
            if process.wait(timeout=60) != 0:
                fail(f"ledgerd exited {process.returncode} on SIGTERM")
    if FAILURES:
        sys.exit(f"{len(FAILURES)} failures; daemon log in {workdir}/ledgerd.log")
    print("fuzz: no 5xx, no crash, nothing appended from a refused request")


if __name__ == "__main__":
    main()
