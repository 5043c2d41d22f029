#!/usr/bin/env python3
"""`make bench-e2e`: ledgerd (release) against the PostgreSQL 15 baseline of spec 8, side by side in one run,
measured with clients that neither side's authors wrote.

    bench_e2e.py --ledgerd BIN --data DIR [--rounds 3] [--seconds 10] [--update BENCHMARKS.md]

A throwaway PostgreSQL cluster (initdb into a temporary directory, loopback only, synchronous_commit=on,
fsync on) holds spec 8's table and indexes; ledgerd runs on a temporary data directory. The workload is
the project's own (`ledgerctl demo`, the files `make workload` writes). Every row runs --rounds times,
the two sides alternating, and the table gives the median with the spread (min–max):

- batch ingest, 500 events a request, 2 clients: two Python processes POSTing the batches over
  keep-alive connections, against two psycopg2 processes sending each batch as one COPY and commit;
  beside them, with --bench, the floors: ledgerd's storage behind swift-nio alone, and raw LMDB from
  one thread (`ledger-bench --raw-floor`);
- single events, 64 clients, durable: `wrk` POSTing single events (each with a fresh id), against
  `pgbench` running a prepared single-row INSERT per transaction; beside them, with --bench, the
  floors: swift-nio alone, a durable commit of each body, the least an LMDB ledger does (parse,
  records with chain hashes, ids and index entries: `--floor-raw`), and ledgerd's storage;
- a record's history on 1M events, 16 clients: `wrk` GETting random subjects' histories, against
  `pgbench` running the indexed SELECT for random subjects of the same list;
- as-of access at random past points (wrk), full verification, RssAnon after the 1M load and under
  the read load, bytes on disk per event.

Every measurement also counts CPU: the machine's busy time (`/proc/stat`), the clients' (the finished
children's `getrusage`), and, for ledgerd and the floors, each of the server's threads (`/proc/PID/task`).
Per event, the server's CPU is what a row's bar has to fit in: on a saturated machine the rate is the
cores' time divided by (server + client) CPU an event, so 2× PostgreSQL's rate leaves the server the
cores' time at that rate, less the client's share.

Prints one table with both figures, the ratio and met/not for every row; with --update, writes it into
BENCHMARKS.md between the bench-e2e markers. Every loop is bounded; everything listens on 127.0.0.1.
"""
import argparse
import datetime
import glob
import hashlib
import io
import json
import multiprocessing
import os
import platform
import random
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import http.client
import urllib.parse
import urllib.error
import urllib.request

from ledgerd_process import free_port, wait_until_serving

PG_BIN = "/usr/lib/postgresql/15/bin"
SCHEMA = """
CREATE TABLE audit_log (seq bigserial PRIMARY KEY, type text NOT NULL, occurred_at timestamptz NOT NULL,
    actor text NOT NULL, subject_type text NOT NULL, subject_id text NOT NULL, body jsonb NOT NULL);
CREATE INDEX audit_log_subject ON audit_log (subject_type, subject_id, seq);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_type ON audit_log (type, seq);
"""


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


def wait_until(caught_up, who):
    """Polls `caught_up` four times a second for up to 10 minutes."""
    for _ in range(2400):
        if caught_up():
            return
        time.sleep(0.25)
    sys.exit(f"{who} did not catch up in 10 minutes")


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
        if not wait_until_serving(self.url, 60):
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

    def readiness(self):
        """`/readyz`'s answer, which comes with a 503 while the projection is behind."""
        try:
            return json.loads(self.get("/readyz"))
        except urllib.error.HTTPError as answer:
            return json.loads(answer.read())

    def head(self):
        return self.readiness()["headSeq"]

    def wait_caught_up(self):
        """Until the projection has folded everything appended, so one phase's work does not spill into the next."""
        def caught_up():
            answer = self.readiness()
            return answer.get("ready") and answer.get("projectedThrough") == answer.get("headSeq")
        wait_until(caught_up, "ledgerd")

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=120)




class NIOFloor:
    """`ledger-bench --http-floor`: swift-nio's HTTP/1 pipeline answering every request with a constant,
    no router, no middleware, nothing stored: what no Swift server on NIO can beat on this machine.
    With `store` (a directory), each POST is answered once its body is committed to LMDB by one
    writer thread that commits whatever is queued (group commit, fsynced): the floor of a durable ack.
    With `log` (a directory), each POST is parsed as ledgerd parses it and answered once ledgerd's event
    log has appended it, with the projection following: ledgerd's storage without its HTTP layer.
    With `raw` (a directory), each POST is parsed as ledgerd parses it and its events written with
    LMDB's C API as `--raw-floor` writes them (records, chain hashes, ids, index entries), one durable
    commit for whatever is queued: the least an LMDB ledger takes an event."""

    token = ""

    def __init__(self, binary, store=None, log=None, raw=None):
        self.port = free_port()
        command = ([binary, "--http-floor", str(self.port)] + (["--floor-store", store] if store else [])
                   + (["--floor-log", log] if log else []) + (["--floor-raw", raw] if raw else []))
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        if not wait_until_serving(self.url, 60):
            sys.exit("ledger-bench --http-floor did not start")

    def wait_caught_up(self):
        """Until the projection behind a `log` floor has folded everything (its `/readyz` answers 200)."""
        def caught_up():
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=5):
                    return True
            except urllib.error.HTTPError:
                return False
        wait_until(caught_up, "the storage floor")

    def stop(self):
        self.process.kill()
        self.process.wait()


WRK_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wrk")
HISTORY_SQL = ("SELECT a.seq, a.type, a.occurred_at, a.actor, a.body FROM bench_subjects s JOIN audit_log a "
               "ON a.subject_type = s.t AND a.subject_id = s.i WHERE s.n = :n ORDER BY a.seq LIMIT 1000;")


def percentile(values, p):
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


# --- the workload, prepared before any clock starts -------------------------------------------

def read_lines(path, limit=None):
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    return lines[:limit] if limit else lines


def with_ids(line, prefix):
    """The same events under new ids (the generator's ids all begin with evt-), so a file can be sent again."""
    return line.replace('"id":"evt-', f'"id":"{prefix}-')


def copy_escape(text):
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_rows(batch_line):
    """COPY text rows for a batch: type, time, actor, subject type and id, the event as jsonb."""
    rows = []
    for event in json.loads(batch_line):
        fields = [event["type"], event["time"], event["actor"]["id"], event["subject"]["type"], event["subject"]["id"],
                  json.dumps(event, ensure_ascii=False, separators=(",", ":"))]
        rows.append("\t".join(copy_escape(f) for f in fields))
    return ("\n".join(rows) + "\n").encode()


# --- batch clients: separate processes, so that the two do not share one interpreter -------------

def http_batch_worker(url, token, bodies, barrier, results):
    target = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=600)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies, failures = [], 0
    barrier.wait()
    for body in bodies:
        t = time.perf_counter()
        connection.request("POST", "/v1/events", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - t)
        failures += response.status not in (200, 201)
    results.put((latencies, failures, time.perf_counter()))


def postgres_batch_worker(conninfo, copies, barrier, results):
    import psycopg2
    connection = psycopg2.connect(conninfo)
    cursor = connection.cursor()
    latencies = []
    barrier.wait()
    for rows in copies:
        t = time.perf_counter()
        cursor.copy_expert("COPY audit_log (type, occurred_at, actor, subject_type, subject_id, body) FROM STDIN", io.BytesIO(rows))
        connection.commit()
        latencies.append(time.perf_counter() - t)
    results.put((latencies, 0, time.perf_counter()))
    connection.close()


# --- CPU accounting -----------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def busy_seconds():
    """CPU time the whole machine spent busy (user, nice, system, irq, softirq, steal), all cores."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (sum(fields[0:3]) + sum(fields[5:8])) / TICK


def children_seconds():
    """CPU time of this script's finished children: the load clients (wrk, pgbench, the batch processes)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def thread_seconds(pid):
    """A process's CPU time by thread name (threads of one name summed)."""
    out = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        out[name] = out.get(name, 0) + (int(fields[11]) + int(fields[12])) / TICK
    return out


def with_cpu(measure, server=None):
    """Runs `measure` (figures with `requests`: the events or requests it made) and adds CPU µs each:
    `clientCPUus`, `serverCPUus` (the machine's busy time less the clients': whatever else runs on the
    machine meanwhile counts as the server's), and with `server` (a process) its threads'
    (`threadsCPUus`, by name, those of at least 1 µs)."""
    machine, client = busy_seconds(), children_seconds()
    threads = thread_seconds(server.pid) if server else {}
    figures = measure()
    n = figures["requests"]
    figures["clientCPUus"] = (children_seconds() - client) / n * 1e6
    figures["serverCPUus"] = (busy_seconds() - machine) / n * 1e6 - figures["clientCPUus"]
    if server:
        after = thread_seconds(server.pid)
        per = {name: (after[name] - threads.get(name, 0)) / n * 1e6 for name in after}
        figures["threadsCPUus"] = {name: us for name, us in sorted(per.items(), key=lambda x: -x[1]) if us >= 1}
    return figures


def run_batches(worker, target_args, items, events, clients=2, server=None):
    """Splits `items` between `clients` processes that start together; events/s over the wall time,
    and CPU an event (`with_cpu`; `server`: the process answering them, for its threads)."""
    return with_cpu(lambda: batches_from(worker, target_args, items, events, clients), server)


def batches_from(worker, target_args, items, events, clients):
    barrier = multiprocessing.Barrier(clients + 1)
    results = multiprocessing.Queue()
    processes = [multiprocessing.Process(target=worker, args=(*target_args, items[i::clients], barrier, results))
                 for i in range(clients)]
    for process in processes:
        process.start()
    barrier.wait()
    start = time.perf_counter()
    collected = [results.get(timeout=1800) for _ in processes]
    for process in processes:
        process.join()
    seconds = max(end for _, _, end in collected) - start
    latencies = [x for lat, _, _ in collected for x in lat]
    failures = sum(f for _, f, _ in collected)
    if failures:
        sys.exit(f"{failures} batch requests failed")
    return {"perSecond": events / seconds, "p50us": percentile(latencies, 50) * 1e6, "p99us": percentile(latencies, 99) * 1e6,
            "seconds": seconds, "requests": events}


def raw_floor(binary, workdir, batches):
    """`ledger-bench --raw-floor`: the batches written with LMDB's C API from one thread (records,
    ids, index entries, a durable commit a batch; parsed before the clock; no HTTP, no compression, no
    projection). LMDB has one writer: no LMDB ledger storing these records and indexes goes faster here."""
    result = subprocess.run([binary, "--raw-floor", os.path.join(workdir, "raw-floor"), "--batches", batches],
                            capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        sys.exit(f"ledger-bench --raw-floor failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- wrk and pgbench ---------------------------------------------------------------------------

def wrk(server, script, args, connections, seconds):
    """wrk against `server` (ledgerd or a floor): rate, latency, and CPU a request with the server's threads."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", f"Authorization: Bearer {server.token}",
               "-s", os.path.join(WRK_DIR, script), server.url, "--"] + args

    def run():
        result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
        if result.returncode != 0:
            sys.exit(f"wrk failed: {result.stderr[-2000:]}")
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        if figures["non2xx"] or figures["socketErrors"]:
            sys.exit(f"wrk {script}: {figures['non2xx']} non-2xx answers, {figures['socketErrors']} socket errors\n{result.stdout}")
        figures["perSecond"] = figures["requests"] / figures["seconds"]
        return figures
    return with_cpu(run, server.process)


def pgbench(postgres, workdir, sql, clients, seconds):
    script = os.path.join(workdir, "pgbench.sql")
    with open(script, "w") as f:
        f.write(sql)
    logs = os.path.join(workdir, "pgbench-logs")
    shutil.rmtree(logs, ignore_errors=True)
    os.makedirs(logs)
    command = [f"{PG_BIN}/pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", "2", "-T", str(seconds), "-f", script,
               "-l", f"--log-prefix={logs}/tx", "-h", "127.0.0.1", "-p", str(postgres.port), "-U", "bench", "postgres"]

    def run():
        result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
        if result.returncode != 0:
            sys.exit(f"pgbench failed: {result.stderr[-2000:]}")
        latencies = []
        for path in glob.glob(os.path.join(logs, "tx*")):
            with open(path) as f:
                latencies += [int(line.split()[2]) for line in f if line.strip()]
        tps = float(re.search(r"tps = ([0-9.]+) \(without initial connection time\)", result.stdout).group(1))
        return {"perSecond": tps, "p50us": percentile(latencies, 50), "p99us": percentile(latencies, 99), "requests": len(latencies)}
    # PostgreSQL's processes are not this script's children: the machine's CPU less pgbench's is theirs.
    return with_cpu(run)


def show(label, figures):
    cpu = ""
    if "serverCPUus" in figures:
        cpu = f"  CPU µs each: server {figures['serverCPUus']:.0f}, client {figures['clientCPUus']:.0f}"
        if "threadsCPUus" in figures:
            cpu += " (" + ", ".join(f"{name} {us:.0f}" for name, us in figures["threadsCPUus"].items()) + ")"
    latency = f"  p50 {figures['p50us']:9.0f} µs  p99 {figures['p99us']:9.0f} µs" if "p99us" in figures else ""
    print(f"  {label:28} {figures['perSecond']:10.0f}/s{latency}{cpu}", flush=True)
    return figures


# --- the run -----------------------------------------------------------------------------------

def spread(runs, unit=""):
    """The median of the rounds' rates, with their range."""
    values = [r["perSecond"] for r in runs]
    return f"{statistics.median(values):.0f}{unit} ({min(values):.0f}–{max(values):.0f})"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ledgerd", required=True)
    parser.add_argument("--data", required=True, help="directory with the workload files make workload writes")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk and pgbench run")
    parser.add_argument("--update")
    parser.add_argument("--bench", help="ledger-bench, for the floor of swift-nio alone (`--http-floor`) in the same rounds")
    args = parser.parse_args()
    batches_file = os.path.join(args.data, "batches-200000.ndjson")
    batch_lines = read_lines(batches_file)
    single_lines = read_lines(os.path.join(args.data, "singles-20000.ndjson"))
    million = os.path.join(args.data, "projection-1000000.ndjson")
    workdir = tempfile.mkdtemp(prefix="bench-e2e-")
    os.chmod(workdir, 0o755)
    if not shutil.which("wrk"):
        sys.exit("wrk is missing (make bench-e2e installs it)")

    # Inputs, prepared before any clock: per round, the batches under fresh ids, as HTTP bodies and as COPY rows.
    rounds = list(range(1, args.rounds + 1))
    http_batches = {r: [with_ids(line, f"b{r}").encode() for line in batch_lines] for r in rounds}
    pg_batches = {r: [copy_rows(line) for line in http_batches[r]] for r in rounds}
    batch_events = sum(line.count('"id":"evt-') for line in batch_lines)
    singles_file = os.path.join(workdir, "singles.ndjson")
    with open(singles_file, "w", encoding="utf-8") as f:
        for line in single_lines:
            f.write(re.sub(r'"id":"evt-[^"]*"', '"id":"@ID@"', line, count=1) + "\n")
    sample = json.loads(single_lines[len(single_lines) // 2])
    single_sql = ("\\set n random(1, 100000000)\n"
                  "INSERT INTO audit_log (type, occurred_at, actor, subject_type, subject_id, body) VALUES "
                  f"('{sample['type']}', now(), 'u-' || :n, '{sample['subject']['type']}', 'SO-' || :n, "
                  "'" + json.dumps(sample, ensure_ascii=False, separators=(",", ":")).replace("'", "''") + "'::jsonb);\n")

    postgres = Postgres(workdir)
    pg_version = postgres.sql("SHOW server_version")
    started = datetime.datetime.now(datetime.timezone.utc)
    results = {}
    started_daemons = []
    floor = NIOFloor(args.bench) if args.bench else None
    durable_floor = NIOFloor(args.bench, os.path.join(workdir, "durable-floor")) if args.bench else None
    storage_floor = NIOFloor(args.bench, log=os.path.join(workdir, "storage-floor")) if args.bench else None
    ledger_floor = NIOFloor(args.bench, raw=os.path.join(workdir, "ledger-floor")) if args.bench else None
    try:
        def settle():
            """Between two measurements: what the last one left in memory goes to disk now (PostgreSQL's
            buffers by a checkpoint, every dirty page of the page cache by sync), not during the next one.
            The projections' commits skip their sync, and a phase that ran into another's writeback
            measured the disk's queue: ledgerd's single events once had a p99 of 117 ms that way."""
            postgres.sql("CHECKPOINT")
            os.sync()

        # Ingest rows, alternating sides round by round, then bytes on disk of all that was stored.
        postgres.fresh_table()
        ledgerd = Ledgerd(args.ledgerd, workdir, "ingest")
        started_daemons.append(ledgerd)
        for r in rounds:
            print(f"round {r}: batch ingest (500 a request, 2 clients), single events (64 clients):", flush=True)
            sides = [("postgres", lambda: run_batches(postgres_batch_worker, (postgres.conninfo,), pg_batches[r], batch_events)),
                     ("ledgerd", lambda: run_batches(http_batch_worker, (ledgerd.url, ledgerd.token), http_batches[r], batch_events,
                                                     server=ledgerd.process))]
            for name, measure in (sides if r % 2 else sides[::-1]):
                results.setdefault(f"batch-{name}", []).append(show(f"{name} batches", measure()))
                ledgerd.wait_caught_up()
                settle()
            if floor:
                results.setdefault("storage-batch", []).append(show(
                    "swift-nio + ledgerd's storage, batches",
                    run_batches(http_batch_worker, (storage_floor.url, storage_floor.token), http_batches[r], batch_events,
                                server=storage_floor.process)))
                storage_floor.wait_caught_up()
                settle()
                results.setdefault("raw-batch", []).append(show("raw LMDB, batches, 1 thread", raw_floor(args.bench, workdir, batches_file)))
                settle()
            sides = [("postgres", lambda: pgbench(postgres, workdir, single_sql, 64, args.seconds)),
                     ("ledgerd", lambda: wrk(ledgerd, "post.lua", [singles_file, f"s{r}"], 64, args.seconds))]
            for name, measure in (sides if r % 2 else sides[::-1]):
                results.setdefault(f"single-{name}", []).append(show(f"{name} singles", measure()))
                ledgerd.wait_caught_up()
                settle()
            if floor:
                results.setdefault("nio-post", []).append(show("swift-nio alone, POST", wrk(floor, "post.lua", [singles_file, f"f{r}"], 64, args.seconds)))
                results.setdefault("durable-post", []).append(
                    show("swift-nio + LMDB commit", wrk(durable_floor, "post.lua", [singles_file, f"d{r}"], 64, args.seconds)))
                settle()
                results.setdefault("ledger-post", []).append(
                    show("swift-nio + raw LMDB ledger", wrk(ledger_floor, "post.lua", [singles_file, f"x{r}"], 64, args.seconds)))
                settle()
                results.setdefault("storage-post", []).append(
                    show("swift-nio + ledgerd's storage", wrk(storage_floor, "post.lua", [singles_file, f"l{r}"], 64, args.seconds)))
                storage_floor.wait_caught_up()
                settle()
        pg_bytes, pg_rows = postgres.bytes_and_rows()
        ledgerd_rows = ledgerd.head()
        ledgerd.stop()
        ledgerd_bytes = os.path.getsize(os.path.join(ledgerd.data, "data.mdb"))

        # A 1M-event store on both sides, then the read rows.
        print("1M events, batches of 500, 2 clients:", flush=True)
        postgres.fresh_table()
        big = Ledgerd(args.ledgerd, workdir, "million")
        started_daemons.append(big)
        million_lines = read_lines(million)
        million_events = sum(line.count('"id":"evt-') for line in million_lines)
        pg_million = show("postgres 1M load", run_batches(postgres_batch_worker, (postgres.conninfo,), [copy_rows(l) for l in million_lines], million_events))
        settle()
        http_million = show("ledgerd 1M load", run_batches(http_batch_worker, (big.url, big.token), [l.encode() for l in million_lines], million_events))
        del million_lines
        head = big.head()
        big.wait_caught_up()
        settle()
        rss_after_load = big.rss_anon_mib()
        subjects, users = set(), set()
        with open(million, encoding="utf-8") as f:
            for line in f:
                for event in json.loads(line):
                    subjects.add((event["subject"]["type"], event["subject"]["id"]))
                    if event["subject"]["type"] == "user":
                        users.add(event["subject"]["id"])
        chosen = sorted(subjects)
        random.Random(11).shuffle(chosen)
        chosen = chosen[:20_000]
        history_paths = os.path.join(workdir, "history.txt")
        with open(history_paths, "w") as f:
            for t, i in chosen:
                f.write(f"/v1/subjects/{urllib.parse.quote(t, safe='')}/{urllib.parse.quote(i, safe='')}/history\n")
        asof_paths = os.path.join(workdir, "asof.txt")
        pick = random.Random(12)
        user_list = sorted(users)
        with open(asof_paths, "w") as f:
            for _ in range(20_000):
                f.write(f"/v1/users/{urllib.parse.quote(pick.choice(user_list), safe='')}/access?asOf=seq:{pick.randint(1, head)}\n")
        postgres.sql("CREATE TABLE bench_subjects (n int PRIMARY KEY, t text NOT NULL, i text NOT NULL)")
        with open(os.path.join(workdir, "subjects.tsv"), "w") as f:
            for n, (t, i) in enumerate(chosen, start=1):
                f.write(f"{n}\t{copy_escape(t)}\t{copy_escape(i)}\n")
        postgres.sql(f"\\copy bench_subjects FROM '{os.path.join(workdir, 'subjects.tsv')}'")
        postgres.sql("VACUUM ANALYZE")
        history_sql = f"\\set n random(1, {len(chosen)})\n{HISTORY_SQL}\n"
        rss_under_reads = 0.0
        floor_paths = os.path.join(workdir, "healthz.txt")
        with open(floor_paths, "w") as f:
            f.write("/healthz\n")
        for r in rounds:
            print(f"round {r}: a record's history on 1M events (16 clients), as-of access (4 clients):", flush=True)
            sides = [("postgres", lambda: pgbench(postgres, workdir, history_sql, 16, args.seconds)),
                     ("ledgerd", lambda: wrk(big, "paths.lua", [history_paths], 16, args.seconds))]
            for name, measure in (sides if r % 2 else sides[::-1]):
                results.setdefault(f"history-{name}", []).append(show(f"{name} history", measure()))
            rss_under_reads = max(rss_under_reads, big.rss_anon_mib())
            results.setdefault("floor", []).append(show("ledgerd GET /healthz", wrk(big, "paths.lua", [floor_paths], 16, args.seconds)))
            if floor:
                results.setdefault("nio-get", []).append(show("swift-nio alone, GET", wrk(floor, "paths.lua", [floor_paths], 16, args.seconds)))
            results.setdefault("asof", []).append(show("ledgerd as-of access", wrk(big, "paths.lua", [asof_paths], 4, args.seconds)))
            rss_under_reads = max(rss_under_reads, big.rss_anon_mib())
        # Verification, as many times as there are rounds: the median is the figure, as for the other rows.
        verify_times = []
        for _ in rounds:
            t = time.monotonic()
            verify = json.loads(big.get("/v1/verify?indexes=false"))
            verify_times.append(time.monotonic() - t)
            if not verify.get("ok"):
                break
        verify_seconds = statistics.median(verify_times)
        big.stop()
    finally:
        # Whatever happened, nothing this run started outlives it.
        for daemon in started_daemons:
            if daemon.process.poll() is None:
                daemon.process.kill()
                daemon.process.wait()
        if floor:
            floor.stop()
            durable_floor.stop()
            storage_floor.stop()
            ledger_floor.stop()
        postgres.stop()

    def median(key, field="perSecond"):
        return statistics.median(r[field] for r in results[key])

    def ratio(a, b):
        return f"{a / b:.2f}×" if b else "—"

    cores = os.cpu_count()

    def cpu(key, threads=False):
        """CPU an event (a request): the server's and the client's, medians of the rounds; with
        `threads`, the server process's threads that took at least 1 µs."""
        text = f"; CPU an event {median(key, 'serverCPUus'):.0f} µs server + {median(key, 'clientCPUus'):.0f} µs client"
        if threads:
            names = {name for r in results[key] for name in r.get("threadsCPUus", {})}
            by_name = {name: statistics.median(r.get("threadsCPUus", {}).get(name, 0) for r in results[key]) for name in names}
            text += " (" + ", ".join(f"{name} {us:.0f}" for name, us in sorted(by_name.items(), key=lambda x: -x[1]) if us >= 1) + ")"
        return text

    def budget(bar_rate, client_key):
        """What a bar's rate leaves the server an event on this machine: all cores' time at that rate,
        less what the client took an event (nothing, when the client alone would need more)."""
        client = median(client_key, "clientCPUus")
        left = cores * 1e6 / bar_rate - client
        if left <= 0:
            return f"; at that rate the client alone would take {bar_rate * client / 1e6:.1f} of the {cores} cores"
        return f"; at that rate the server may take ≤ {left:.0f} µs CPU an event"

    def floor_row(what, bar_rate, key):
        """A floor measured in the same rounds, beside the rate its row's bar asks."""
        return (what, f"(the bar: {bar_rate:.0f}/s)", "requests/s " + spread(results[key]) + f", p99 {median(key, 'p99us') / 1000:.1f} ms" + cpu(key),
                "—", "—", None)

    batch_ours, batch_pg = median("batch-ledgerd"), median("batch-postgres")
    single_ours, single_pg = median("single-ledgerd"), median("single-postgres")
    history_ours, history_pg = median("history-ledgerd"), median("history-postgres")
    history_p99_ours, history_p99_pg = median("history-ledgerd", "p99us"), median("history-postgres", "p99us")
    asof_p99 = median("asof", "p99us")
    rss = max(rss_after_load, rss_under_reads)
    table = [
        ("batch ingest over HTTP, 500 events/request, 2 clients, durable", "≥ 2× PostgreSQL COPY" + budget(2 * batch_pg, "batch-ledgerd"),
         "events/s " + spread(results["batch-ledgerd"]) + cpu("batch-ledgerd", threads=True),
         "events/s " + spread(results["batch-postgres"]) + cpu("batch-postgres"),
         ratio(batch_ours, batch_pg), batch_ours >= 2 * batch_pg),
    ] + ([
        ("… the floor of ledgerd's storage: the same batches through swift-nio's HTTP alone into ledgerd's event log, with the projection following "
         "(each body parsed and validated as ledgerd does, answered once appended and fsynced; no Hummingbird, no token, no log line, no metrics; "
         "`ledger-bench --http-floor --floor-log`), 2 clients", f"(the bar: {2 * batch_pg:.0f}/s)",
         "events/s " + spread(results["storage-batch"]) + cpu("storage-batch", threads=True),
         "—", "—", None),
        ("… the floor of LMDB: the same events' records (with their chain hashes), ids and index entries written with LMDB's C API from one thread, "
         "a durable commit a batch of 500 (parsed before the clock; no HTTP, no compression, no projection; LMDB has one writer; "
         "`ledger-bench --raw-floor`)", f"(the bar: {2 * batch_pg:.0f}/s)", "events/s " + spread(results["raw-batch"]), "—", "—", None),
    ] if floor else []) + [
        ("… the same, loading 1M events (one run)", "≥ 2× PostgreSQL COPY",
         f"{http_million['perSecond']:.0f} events/s", f"{pg_million['perSecond']:.0f} events/s",
         ratio(http_million["perSecond"], pg_million["perSecond"]), http_million["perSecond"] >= 2 * pg_million["perSecond"]),
        ("single events, 64 clients, durable ack (wrk / pgbench)", "≥ 2× PostgreSQL single-row INSERTs" + budget(2 * single_pg, "single-ledgerd"),
         "events/s " + spread(results["single-ledgerd"]) + f", p99 {median('single-ledgerd', 'p99us') / 1000:.1f} ms" + cpu("single-ledgerd", threads=True),
         "events/s " + spread(results["single-postgres"]) + f", p99 {median('single-postgres', 'p99us') / 1000:.1f} ms" + cpu("single-postgres"),
         ratio(single_ours, single_pg), single_ours >= 2 * single_pg),
    ] + ([
        floor_row("… the floor of HTTP in Swift: swift-nio alone answering each POST with a constant (no router, no parse, no storage; `ledger-bench --http-floor`), 64 clients (wrk)",
                  2 * single_pg, "nio-post"),
        floor_row("… the floor of a durable ack: the same, each POST answered once one LMDB writer thread has committed its body with whatever else was queued (group commit, fsynced; no parse, no checks, no hash, no index, no projection; `ledger-bench --http-floor --floor-store`), 64 clients (wrk)",
                  2 * single_pg, "durable-post"),
        floor_row("… the floor of an LMDB ledger: the same, each POST parsed and validated as ledgerd does and its event written as the floor of LMDB writes a batch (its record with its chain hash, `MDB_APPEND`; ids and index entries folded every 5,000 events), whatever was queued in one fsynced commit (no Merkle nodes, compression, projection, duplicate check, token, log line or metrics; `ledger-bench --http-floor --floor-raw`), 64 clients (wrk)",
                  2 * single_pg, "ledger-post"),
        floor_row("… the floor of ledgerd's storage: swift-nio's HTTP alone in front of ledgerd's event log, with the projection following (each POST parsed and validated as ledgerd does, answered once appended and fsynced; no Hummingbird, no token, no log line, no metrics; `ledger-bench --http-floor --floor-log`), 64 clients (wrk)",
                  2 * single_pg, "storage-post"),
    ] if floor else []) + [
        ("a record's history on 1M events, 16 clients (wrk / pgbench)",
         "≥ 5× PostgreSQL's queries/s, p99 ≤ PostgreSQL's" + budget(5 * history_pg, "history-ledgerd"),
         "queries/s " + spread(results["history-ledgerd"]) + f", p99 {history_p99_ours / 1000:.1f} ms" + cpu("history-ledgerd", threads=True),
         "queries/s " + spread(results["history-postgres"]) + f", p99 {history_p99_pg / 1000:.1f} ms" + cpu("history-postgres"),
         ratio(history_ours, history_pg), history_ours >= 5 * history_pg and history_p99_ours <= history_p99_pg),
        ("… the floor: `GET /healthz` (no token, no storage, a constant answer), 16 clients (wrk)", "—",
         "requests/s " + spread(results["floor"]) + f", p99 {median('floor', 'p99us') / 1000:.1f} ms" + cpu("floor"), "—", "—", None),
    ] + ([
        floor_row("… the floor of HTTP in Swift: swift-nio alone answering each GET with a constant (`ledger-bench --http-floor`), 16 clients (wrk)",
                  5 * history_pg, "nio-get"),
    ] if floor else []) + [
        ("as-of access at a random past point, 1M events, 4 clients (wrk)", "p99 ≤ 20 ms",
         f"p99 {asof_p99 / 1000:.1f} ms, " + spread(results["asof"], unit=" q/s"), "—", "—", asof_p99 <= 20_000),
        ("full chain verification (chain, Merkle tree, checkpoints), 1M events, over HTTP", "≤ 1 s",
         f"{verify_seconds:.2f} s ({min(verify_times):.2f}–{max(verify_times):.2f}; {verify.get('count')} records, ok {verify.get('ok')})", "—", "—",
         verify_seconds <= 1 and verify.get("ok")),
        ("daemon RssAnon with 1M events: after the load, under the read load", "≤ 100 MiB",
         f"{rss_after_load:.0f} MiB, {rss_under_reads:.0f} MiB", "—", "—", rss <= 100),
        ("bytes on disk per event, indexes included", "≤ 0.5× PostgreSQL's",
         f"{ledgerd_bytes / ledgerd_rows:.0f} B ({ledgerd_bytes} B / {ledgerd_rows})", f"{pg_bytes / pg_rows:.0f} B ({pg_bytes} B / {pg_rows})",
         ratio(ledgerd_bytes / ledgerd_rows, pg_bytes / pg_rows), ledgerd_bytes / ledgerd_rows <= 0.5 * pg_bytes / pg_rows),
        ("projection rebuild from 1M events", "≤ 2 s", "in-process only: see `make bench-restart`", "—", "—", None),
    ]
    lines = ["| what | bar | ledgerd | PostgreSQL 15 | ratio (medians) | met |", "|---|---|---|---|---|---|"]
    for what, bar, ours, theirs, r, met in table:
        lines.append(f"| {what} | {bar} | {ours} | {theirs} | {r} | {'—' if met is None else 'yes' if met else 'no'} |")
    machine = f"{os.cpu_count()} cores, {platform.system()} {platform.release()}"
    header = (f"Run {started:%Y-%m-%d %H:%M} UTC on {machine}; command `make bench-e2e`; ledgerd release build, "
              f"PostgreSQL {pg_version} (synchronous_commit=on, fsync=on), both on the same disk and cores as the clients. "
              f"Each row: the median of {len(rounds)} rounds, the two sides alternating, with (min–max); wrk and pgbench "
              f"ran {args.seconds} s each, with 2 threads; the batch clients are two Python processes on each side "
              f"(http.client keep-alive POSTs; psycopg2 COPY and commit). CPU an event: the machine's busy time (/proc/stat) "
              f"less the clients' (getrusage of the finished client processes) is the server's; ledgerd's and the floors' threads "
              f"from /proc; where a bar gives a rate, what it leaves the server is {cores} cores' time at that rate less "
              f"ledgerd's client's CPU an event.")
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
