#!/usr/bin/env python3
"""`make bench-restart`: the stored projection's figures (issue 10) on ledgers of several sizes.

    bench_restart.py --ledgerd BIN --ledgerctl BIN --bench BIN --data DIR [--sizes 1000000,3000000]

For every size: generates the workload (ledgerctl demo, seed 9) unless it is in DIR already, appends
it to a fresh data directory with `ledger-bench --fill` (the log alone, as after an import), then

1. starts ledgerd: time to READY=1 (a real NOTIFY_SOCKET datagram) and the full rebuild of the
   projection (until /readyz says it has folded the head), RssAnon once rebuilt;
2. stops it (SIGTERM) and starts it again: time to READY=1 and to /readyz ready, RssAnon;
3. asks holders of sales_order.approve as of 200 random points (seq and time, alternately) and
   as-of access of 200 random users over HTTP: p50 / p99 / max, then RssAnon again; then the
   access-governance questions: org-wide access changes between 20 random pairs of those points,
   the signed review report over every approver, and what-if for 200 role assignments;
4. posts one event whose `data` has a million keys (a 12 MB body): the answer's status and time,
   and that the daemon still answers a read afterwards.

Prints one table; loops are bounded; everything listens on 127.0.0.1.
"""
import argparse
import hashlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from ledgerd_process import free_port


class Daemon:
    """ledgerd on a data directory with a tokens file of its own and a notify socket we read."""

    def __init__(self, binary, data, workdir, environment=None):
        self.environment = environment or {}
        self.token = secrets.token_urlsafe(32)
        self.tokens = os.path.join(workdir, "tokens")
        with open(self.tokens, "w") as f:
            f.write(f"bench ingest,read,admin {hashlib.sha256(self.token.encode()).hexdigest()}\n")
        self.binary, self.data, self.workdir = binary, data, workdir

    def start(self):
        notify_path = os.path.join(self.workdir, "notify.sock")
        if os.path.exists(notify_path):
            os.unlink(notify_path)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(notify_path)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, NOTIFY_SOCKET=notify_path, **self.environment)
        self.log = open(os.path.join(self.workdir, "ledgerd.log"), "a")
        started = time.monotonic()
        self.process = subprocess.Popen(
            [self.binary, "--data-dir", self.data, "--port", str(self.port), "--tokens-file", self.tokens],
            stdout=subprocess.DEVNULL, stderr=self.log, env=env)
        self.notify.settimeout(120)
        while True:
            message = self.notify.recv(4096).decode()
            if "READY=1" in message:
                return time.monotonic() - started

    def request(self, path, body=None, timeout=600):
        headers = {"Authorization": f"Bearer {self.token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def wait_projected(self, head, started, limit=900):
        while time.monotonic() - started < limit:
            try:
                status, body = self.request("/readyz", timeout=5)
                answer = json.loads(body)
                if status == 200 and answer.get("headSeq") == head and answer.get("projectedThrough") == head:
                    return time.monotonic() - started
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        sys.exit(f"ledgerd did not project seq {head} within {limit} s")

    def rss_anon_mib(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=300)
        self.notify.close()
        self.log.close()


def percentiles(samples):
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]
    return pick(0.5) * 1000, pick(0.99) * 1000, ordered[-1] * 1000


def timed(daemon, paths):
    samples = []
    for path in paths:
        start = time.monotonic()
        status, body = daemon.request(path)
        samples.append(time.monotonic() - start)
        if status != 200:
            sys.exit(f"{path} answered {status}: {body[:200]!r}")
    return samples


def million_keys_body():
    members = ",".join(f'"k{i}":{i % 10}' for i in range(1_000_000))
    event = ('{"id":"bench-million-keys","type":"sales_order.updated","time":"2026-03-01T09:00:00Z",'
             '"actor":{"id":"u-bench"},"subject":{"type":"sales_order","id":"SO-BENCH"},'
             '"changes":[{"field":"status","new":"open"}],"data":{' + members + "}}")
    return event.encode()


def run_size(args, size, rows):
    workload = os.path.join(args.data, f"projection-{size}.ndjson")
    if not os.path.exists(workload) or os.path.getsize(workload) == 0:
        with open(workload + ".part", "w") as out:
            subprocess.run([args.ledgerctl, "demo", "--events", str(size), "--seed", "9", "--batch", "500"], stdout=out, check=True)
        os.rename(workload + ".part", workload)
    workdir = tempfile.mkdtemp(prefix=f"bench-restart-{size}-", dir=args.data)
    data = os.path.join(workdir, "data")
    try:
        fill = subprocess.run([args.bench, "--fill", data, "--projection", workload], capture_output=True, text=True, check=True)
        print(fill.stdout.strip(), flush=True)
        # The fill's pages (hundreds of MB) go to disk now, so that their writeback does not share the
        # cores and the disk with the rebuild timed next (as bench-e2e settles between its phases).
        os.sync()
        daemon = Daemon(args.ledgerd, data, workdir)

        started = time.monotonic()
        ready = daemon.start()
        rebuilt = daemon.wait_projected(size, started)
        rows.append((size, "first start: READY=1", f"{ready:.2f} s"))
        rows.append((size, "first start: projection rebuilt from the log (READY → /readyz ready)", f"{rebuilt:.2f} s"))
        rows.append((size, "RssAnon once rebuilt", f"{daemon.rss_anon_mib():.0f} MiB"))
        daemon.stop()

        started = time.monotonic()
        ready = daemon.start()
        projected = daemon.wait_projected(size, started)
        rows.append((size, "restart: READY=1", f"{ready:.2f} s"))
        rows.append((size, "restart: /readyz ready (projection current)", f"{projected:.2f} s"))
        rows.append((size, "RssAnon after restart", f"{daemon.rss_anon_mib():.0f} MiB"))

        rng = random.Random(size)
        points, users = [], []
        for i in range(200):
            seq = rng.randint(1, size)
            _, event = daemon.request(f"/v1/events/{seq}")
            event = json.loads(event)
            points.append(f"seq:{seq}" if i % 2 == 0 else event["time"])
            users.append(event["actor"]["id"])
        holders = timed(daemon, [f"/v1/permissions/sales_order.approve/holders?asOf={urllib.parse.quote(p)}" for p in points])
        rows.append((size, "holders of sales_order.approve as of a random point, p50 / p99 / max",
                     "%.1f / %.1f / %.1f ms" % percentiles(holders)))
        access = timed(daemon, [f"/v1/users/{u}/access?asOf={urllib.parse.quote(p)}" for u, p in zip(users, points)])
        rows.append((size, "access of a random user as of a random point, p50 / p99 / max", "%.1f / %.1f / %.1f ms" % percentiles(access)))
        rows.append((size, "RssAnon after 400 as-of queries", f"{daemon.rss_anon_mib():.0f} MiB"))

        # Access governance (issue 14): org-wide changes between two random points, a review report
        # over every approver, what-if on role assignments.
        def ordered(a, b):
            key = lambda p: int(p[4:]) if p.startswith("seq:") else p
            return (b, a) if a.startswith("seq:") == b.startswith("seq:") and key(a) > key(b) else (a, b)
        pairs = [ordered(points[rng.randrange(200)], points[rng.randrange(200)]) for _ in range(20)]
        changes = timed(daemon, [f"/v1/access/changes?from={urllib.parse.quote(a)}&to={urllib.parse.quote(b)}" for a, b in pairs])
        rows.append((size, "org-wide access changes between two random points, p50 / p99 / max", "%.0f / %.0f / %.0f ms" % percentiles(changes)))
        _, report = daemon.request("/v1/reviews/report?permission=sales_order.approve&period=90d")
        holders = len(json.loads(report[len(b'{"report":'):report.rindex(b',"signature":')])["holders"])
        reports = timed(daemon, ["/v1/reviews/report?permission=sales_order.approve&period=90d"] * 5)
        rows.append((size, f"signed review report over every approver ({holders} holders), p50 / max", "%.0f / %.0f ms" % (percentiles(reports)[0], percentiles(reports)[2])))
        candidates = []
        for user in users[:200]:
            candidates.append(json.dumps({"type": "user.role_assigned", "time": "2027-01-01T00:00:00Z", "actor": {"id": "u-0001"},
                                          "subject": {"type": "user", "id": user}, "data": {"role": "finance_clerk"}}).encode())
        samples = []
        for body in candidates:
            start = time.monotonic()
            status, answer = daemon.request("/v1/what-if", body)
            samples.append(time.monotonic() - start)
            if status != 200:
                sys.exit(f"what-if answered {status}: {answer[:200]!r}")
        rows.append((size, "what-if: a role assigned to a random user, p50 / p99 / max", "%.1f / %.1f / %.1f ms" % percentiles(samples)))

        body = million_keys_body()
        start = time.monotonic()
        status, answer = daemon.request("/v1/events", body)
        elapsed = time.monotonic() - start
        still, _ = daemon.request("/readyz")
        code = json.loads(answer).get("error", {}).get("code", "?") if answer.startswith(b"{") else "?"
        rows.append((size, f"one event with 1,000,000 data keys ({len(body) / 1e6:.0f} MB body)",
                     f"{status} {code} in {elapsed * 1000:.0f} ms; /readyz then {still}"))
        daemon.stop()
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ledgerd", required=True)
    parser.add_argument("--ledgerctl", required=True)
    parser.add_argument("--bench", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--sizes", default="1000000,3000000")
    parser.add_argument("--keep", action="store_true", help="keep the data directories")
    args = parser.parse_args()
    os.makedirs(args.data, exist_ok=True)
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        run_size(args, size, rows)
    print(f"\n| events | measure | figure |\n|---:|---|---|")
    for size, what, figure in rows:
        print(f"| {size:,} | {what} | {figure} |")


if __name__ == "__main__":
    main()
