#!/usr/bin/env python3
"""`make bench-e2e`: ledgerd (release) against the PostgreSQL 15 baseline of spec 8, side by side in one run.

    bench_e2e.py --ledgerd BIN --load BIN --data DIR [--update BENCHMARKS.md]

Starts a throwaway PostgreSQL cluster (initdb into a temporary directory, loopback only,
synchronous_commit=on, fsync on) with the table and indexes of spec 8, and ledgerd on a temporary
data directory, then drives the same generated workload (ledgerctl demo) at both with the same client
(`ledger-load`) and concurrency: batch ingest (500 events a request vs COPY of 500 rows),
64 clients sending single events (HTTP POST vs single-row INSERT commits), 10k subject-history
queries on a 1M-event ledger (HTTP GET vs the indexed SELECT), and bytes on disk; plus the rows of
spec 8 that have no baseline (as-of access and verification over HTTP, ledgerd's RssAnon with 1M
events). Prints one table with both figures, the ratio and met/not for every row; with --update,
writes it into BENCHMARKS.md between the bench-e2e markers. Every loop is bounded in count and
time; everything listens on 127.0.0.1 only.
"""
import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

PG_BIN = "/usr/lib/postgresql/15/bin"
SCHEMA = """
CREATE TABLE audit_log (seq bigserial PRIMARY KEY, type text NOT NULL, occurred_at timestamptz NOT NULL,
    actor text NOT NULL, subject_type text NOT NULL, subject_id text NOT NULL, body jsonb NOT NULL);
CREATE INDEX audit_log_subject ON audit_log (subject_type, subject_id, seq);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_type ON audit_log (type, seq);
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_postgres(command):
    """PostgreSQL refuses to run as root: run its tools as the postgres user then."""
    return ["runuser", "-u", "postgres", "--"] + command if os.geteuid() == 0 else command


class Postgres:
    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "pg")
        os.makedirs(self.dir)
        if os.geteuid() == 0:
            shutil.chown(workdir, "postgres")
            shutil.chown(self.dir, "postgres")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        subprocess.run(as_postgres([f"{PG_BIN}/initdb", "-D", self.data, "-U", "bench", "--auth=trust", "-E", "UTF8"]),
                       check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as conf:
            conf.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{self.dir}'\n"
                       "synchronous_commit = on\nfsync = on\nmax_connections = 120\n")
        subprocess.run(as_postgres([f"{PG_BIN}/pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w", "start"]),
                       check=True, stdout=subprocess.DEVNULL)
        self.conninfo = f"host=127.0.0.1 port={self.port} user=bench dbname=postgres"

    def sql(self, statement):
        result = subprocess.run(["psql", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", self.conninfo, "-c", statement],
                                check=True, capture_output=True, text=True)
        return result.stdout.strip()

    def fresh_table(self):
        self.sql("DROP TABLE IF EXISTS audit_log")
        self.sql(SCHEMA)

    def bytes_and_rows(self):
        self.sql("VACUUM ANALYZE audit_log")
        size, rows = self.sql("SELECT pg_total_relation_size('audit_log'), count(*) FROM audit_log").split("|")
        return int(size), int(rows)

    def stop(self):
        subprocess.run(as_postgres([f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"]), stdout=subprocess.DEVNULL)


class Ledgerd:
    def __init__(self, binary, workdir, name):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        self.token = secrets.token_urlsafe(32)
        tokens = os.path.join(self.dir, "tokens")
        with open(tokens, "w") as f:
            f.write(f"bench ingest,read,admin {hashlib.sha256(self.token.encode()).hexdigest()}\n")
        self.port = free_port()
        self.log = open(os.path.join(self.dir, "ledgerd.log"), "w")
        self.data = os.path.join(self.dir, "data")
        self.process = subprocess.Popen([binary, "--data-dir", self.data, "--port", str(self.port), "--tokens-file", tokens],
                                        stdout=subprocess.DEVNULL, stderr=self.log)
        self.url = f"http://127.0.0.1:{self.port}"
        for _ in range(600):
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=1)
                return
            except Exception:
                time.sleep(0.1)
        sys.exit("ledgerd did not start")

    def get(self, path):
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=600) as response:
            return response.read()

    def rss_anon_mib(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024
        return 0

    def wait_ready(self, head):
        for _ in range(1200):
            try:
                answer = json.loads(self.get("/readyz"))
                if answer.get("ready") and answer.get("headSeq") == head:
                    return
            except Exception:
                pass
            time.sleep(0.5)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=120)


def load(binary, target, mode, file, concurrency, server, count=None, head=None, max_seconds=900, id_prefix=None):
    command = [binary, "--target", target, "--mode", mode, "--file", file, "--concurrency", str(concurrency),
               "--max-seconds", str(max_seconds)]
    if id_prefix:
        command += ["--id-prefix", id_prefix]
    if target == "http":
        command += ["--url", server.url, f"--token={server.token}"]  # = form: a token may begin with a dash
    else:
        command += ["--conninfo", server.conninfo]
    if count:
        command += ["--count", str(count)]
    if head:
        command += ["--head", str(head)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"ledger-load {target} {mode} failed: {result.stderr[-2000:]}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"  {target:8} {mode:8} {figures['perSecond']:10.0f}/s  p50 {figures['p50us']:9.0f} µs  p99 {figures['p99us']:9.0f} µs"
          f"  ({figures['units']} in {figures['seconds']:.1f} s)", flush=True)
    return figures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ledgerd", required=True)
    parser.add_argument("--load", required=True)
    parser.add_argument("--data", required=True, help="directory with the workload files make bench writes")
    parser.add_argument("--update")
    args = parser.parse_args()
    batches = os.path.join(args.data, "batches-200000.ndjson")
    singles = os.path.join(args.data, "singles-20000.ndjson")
    million = os.path.join(args.data, "projection-1000000.ndjson")
    workdir = tempfile.mkdtemp(prefix="bench-e2e-")
    os.chmod(workdir, 0o755)
    postgres = Postgres(workdir)
    pg_version = postgres.sql("SHOW server_version")
    started = datetime.datetime.now(datetime.timezone.utc)
    rows = []
    try:
        # 1 and 2: ingest, then bytes on disk of what the two phases stored.
        postgres.fresh_table()
        ledgerd = Ledgerd(args.ledgerd, workdir, "ingest")
        print("batch ingest, 500 events a request / a COPY, 4 clients:")
        pg_batch = load(args.load, "postgres", "batches", batches, 4, postgres)
        http_batch = load(args.load, "http", "batches", batches, 4, ledgerd)
        print("single events, 64 clients:")
        pg_single = load(args.load, "postgres", "singles", singles, 64, postgres, id_prefix="single-")
        http_single = load(args.load, "http", "singles", singles, 64, ledgerd, id_prefix="single-")
        pg_bytes, pg_rows = postgres.bytes_and_rows()
        ledgerd.stop()
        ledgerd_bytes = os.path.getsize(os.path.join(ledgerd.data, "data.mdb"))
        ledgerd_rows = pg_rows

        # 3 and the rest: a 1M-event ledger on both sides.
        print("1M events, loaded as batches of 500 with 4 clients:")
        postgres.fresh_table()
        big = Ledgerd(args.ledgerd, workdir, "million")
        pg_million = load(args.load, "postgres", "batches", million, 4, postgres)
        http_million = load(args.load, "http", "batches", million, 4, big)
        head = http_million["units"]
        big.wait_ready(head)
        time.sleep(2)
        print("subject history on 1M events, 10k random subjects, 1 client:")
        pg_history = load(args.load, "postgres", "history", million, 1, postgres, count=10_000)
        http_history = load(args.load, "http", "history", million, 1, big, count=10_000)
        print("as-of access on 1M events, 2k random users and points, 1 client:")
        http_asof = load(args.load, "http", "asof", million, 1, big, count=2_000, head=head)
        t = time.monotonic()
        verify = json.loads(big.get("/v1/verify?indexes=false"))
        verify_seconds = time.monotonic() - t
        rss = big.rss_anon_mib()
        big.stop()
    finally:
        postgres.stop()

    def ratio(a, b):
        return f"{a / b:.2f}×" if b else "—"

    history_ratio = pg_history["p50us"] / http_history["p50us"]
    table = [
        ("batch ingest over HTTP, 500 events/request, durable", "≥ 2× PostgreSQL COPY",
         f"{http_batch['perSecond']:.0f} events/s", f"{pg_batch['perSecond']:.0f} events/s",
         ratio(http_batch["perSecond"], pg_batch["perSecond"]), http_batch["perSecond"] >= 2 * pg_batch["perSecond"]),
        ("… the same on the 1M-event load", "≥ 2× PostgreSQL COPY",
         f"{http_million['perSecond']:.0f} events/s", f"{pg_million['perSecond']:.0f} events/s",
         ratio(http_million["perSecond"], pg_million["perSecond"]), http_million["perSecond"] >= 2 * pg_million["perSecond"]),
        ("single events, 64 clients, durable ack", "≥ 2× PostgreSQL single-row INSERTs",
         f"{http_single['perSecond']:.0f} events/s (p99 {http_single['p99us'] / 1000:.1f} ms)",
         f"{pg_single['perSecond']:.0f} events/s (p99 {pg_single['p99us'] / 1000:.1f} ms)",
         ratio(http_single["perSecond"], pg_single["perSecond"]), http_single["perSecond"] >= 2 * pg_single["perSecond"]),
        (f"a record's history on 1M events (≈{http_history['rowsPerQuery']:.0f} events), over HTTP", "p99 ≤ 2 ms, ≥ 5× faster",
         f"p50 {http_history['p50us']:.0f} µs, p99 {http_history['p99us']:.0f} µs",
         f"p50 {pg_history['p50us']:.0f} µs, p99 {pg_history['p99us']:.0f} µs (≈{pg_history['rowsPerQuery']:.0f} rows)",
         f"{history_ratio:.2f}× faster (p50)", http_history["p99us"] <= 2000 and history_ratio >= 5),
        ("as-of access at a random past point, 1M events, over HTTP", "p99 ≤ 20 ms",
         f"p50 {http_asof['p50us']:.0f} µs, p99 {http_asof['p99us']:.0f} µs", "—", "—", http_asof["p99us"] <= 20_000),
        ("full chain verification (chain, Merkle tree, checkpoints), 1M events, over HTTP", "≤ 1 s",
         f"{verify_seconds:.2f} s ({verify.get('count')} records, ok {verify.get('ok')})", "—", "—", verify_seconds <= 1 and verify.get("ok")),
        ("daemon RssAnon with 1M events", "≤ 100 MiB", f"{rss:.0f} MiB", "—", "—", rss <= 100),
        ("bytes on disk per event, indexes included", "≤ PostgreSQL's",
         f"{ledgerd_bytes / ledgerd_rows:.0f} B ({ledgerd_bytes} B / {ledgerd_rows})", f"{pg_bytes / pg_rows:.0f} B ({pg_bytes} B / {pg_rows})",
         ratio(ledgerd_bytes / ledgerd_rows, pg_bytes / pg_rows), ledgerd_bytes / ledgerd_rows <= pg_bytes / pg_rows),
        ("projection rebuild from 1M events", "≤ 2 s", "in-process only: see `make bench` above", "—", "—", None),
    ]
    lines = ["| what | bar | ledgerd | PostgreSQL 15 | ratio | met |", "|---|---|---|---|---|---|"]
    for what, bar, ours, theirs, r, met in table:
        lines.append(f"| {what} | {bar} | {ours} | {theirs} | {r} | {'—' if met is None else 'yes' if met else 'no'} |")
    machine = f"{os.cpu_count()} cores, {platform.system()} {platform.release()}"
    header = (f"Run {started:%Y-%m-%d %H:%M} UTC on {machine}; command `make bench-e2e`; "
              f"ledgerd release build, PostgreSQL {pg_version} "
              f"(synchronous_commit=on, fsync=on), both on the same disk, one client program (`ledger-load`).")
    text = header + "\n\n" + "\n".join(lines) + "\n"
    print()
    print(text)
    if args.update:
        with open(args.update, encoding="utf-8") as f:
            document = f.read()
        start, end = "<!-- bench-e2e:start -->", "<!-- bench-e2e:end -->"
        block = f"{start}\n{text}{end}"
        if start in document:
            document = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, document, flags=re.S)
        else:
            document += "\n" + block + "\n"
        with open(args.update, "w", encoding="utf-8") as f:
            f.write(document)
        print(f"updated {args.update}")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
