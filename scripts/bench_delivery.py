#!/usr/bin/env python3
"""`make bench-delivery`: delivery's figures (issue 13), ledgerd in a release build.

    bench_delivery.py --ledgerd BIN --ledgerctl BIN --data DIR [--seconds 20] [--rate 1000]
                      [--rounds 3] [--wrk-seconds 20]

1. **201 → syslog receipt.** A syslog receiver in its own process (octet-counted TCP, as ledgerd's
   syslog sink sends) stamps each event's arrival with CLOCK_MONOTONIC; a client posts generated
   events (ledgerctl demo) at a steady `--rate` in batches of 10 and stamps each 201 with the same
   clock. The figure per event is arrival minus 201: p50, p99, max (an arrival before its 201 reads
   the client's response, counts as 0 and is counted).
2. **Ingest, with a dead sink and a stalled stream client, and without.** wrk (Debian's package, not
   our client) posts single events, 64 connections, for `--wrk-seconds`, against ledgerd on one data
   directory (50,000 events first), started in turn as A, with no sinks and no stream clients, and
   as B, with a syslog sink whose address refuses connections and an SSE client of
   GET /v1/stream?afterSeq=0 that never reads (a new one every 15 s; ledgerd cuts each off 10 s
   after its writes stop moving; the backlog fills the socket buffers at once). Rounds alternate
   A B / B A; the table gives every round, ledgerd's CPU time per event, and the median ratio B / A.
   `--control` starts B exactly as A: an A/A run shows the noise floor of the comparison.

Prints one table; loops are bounded; everything listens on 127.0.0.1.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import http.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_restart import Daemon, free_port  # noqa: E402

SEQ = re.compile(rb'\[ledger@32473 seq="(\d+)"')
# Every process started here, so that a run that fails half-way leaves none behind.
CHILDREN = []


def tracked(daemon_or_process):
    CHILDREN.append(daemon_or_process)
    return daemon_or_process


def receive(port_file, out_file):
    """The receiver process: octet-counted frames on any number of connections; on SIGTERM, writes
    `seq monotonic_ns` lines and exits."""
    arrivals = {}
    lock = threading.Lock()
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    with open(port_file + ".part", "w") as f:
        f.write(str(server.getsockname()[1]))
    os.rename(port_file + ".part", port_file)

    def serve(connection):
        buffer = b""
        while True:
            chunk = connection.recv(1 << 20)
            if not chunk:
                return
            now = time.monotonic_ns()
            buffer += chunk
            while True:
                space = buffer.find(b" ", 0, 12)
                if space < 0:
                    break
                length = int(buffer[:space])
                if len(buffer) < space + 1 + length:
                    break
                message = buffer[space + 1:space + 1 + length]
                buffer = buffer[space + 1 + length:]
                match = SEQ.search(message)
                if match:
                    with lock:
                        arrivals.setdefault(int(match.group(1)), now)

    def finish(*_):
        with lock, open(out_file, "w") as f:
            for seq, at in arrivals.items():
                f.write(f"{seq} {at}\n")
        os._exit(0)

    signal.signal(signal.SIGTERM, finish)
    while True:
        connection, _ = server.accept()
        threading.Thread(target=serve, args=(connection,), daemon=True).start()


def workload(ledgerctl, count, seed):
    out = subprocess.run([ledgerctl, "demo", "--events", str(count), "--seed", str(seed)], capture_output=True, check=True)
    return out.stdout.splitlines()


def latency(args, workdir, rows):
    port_file, arrivals_file = os.path.join(workdir, "receiver.port"), os.path.join(workdir, "arrivals")
    receiver = tracked(subprocess.Popen([sys.executable, os.path.abspath(__file__), "--receiver", port_file, arrivals_file]))
    for _ in range(100):
        if os.path.exists(port_file):
            break
        time.sleep(0.05)
    port = int(open(port_file).read())
    sinks = os.path.join(workdir, "sinks.yaml")
    with open(sinks, "w") as f:
        f.write(f"sinks:\n  - {{name: siem, kind: syslog, address: \"127.0.0.1:{port}\"}}\n")
    daemon = tracked(Daemon(args.ledgerd, os.path.join(workdir, "latency-data"), workdir, {"LEDGERD_DELIVERY_SINKS_FILE": sinks}))
    daemon.start()
    events = workload(args.ledgerctl, args.rate * args.seconds, 13)
    batch, answered = 10, {}
    connection = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=30)
    headers = {"Authorization": f"Bearer {daemon.token}", "Content-Type": "application/json"}
    interval = batch / args.rate
    started = time.monotonic()
    late = 0
    for i in range(0, len(events), batch):
        due = started + (i // batch) * interval
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        else:
            late += 1
        connection.request("POST", "/v1/events", body=b"[" + b",".join(events[i:i + batch]) + b"]", headers=headers)
        response = connection.getresponse()
        body = response.read()
        now = time.monotonic_ns()
        if response.status != 201:
            sys.exit(f"append answered {response.status}: {body[:300]!r}")
        for result in json.loads(body)["results"]:
            answered[result["seq"]] = now
    elapsed = time.monotonic() - started
    deadline = time.monotonic() + 60
    head = max(answered)
    while time.monotonic() < deadline:
        _, metrics = daemon.request("/metrics")
        if f'ledger_delivery_delivered_total{{sink="siem",route="events"}} {head}'.encode() in metrics:
            break
        time.sleep(0.2)
    receiver.send_signal(signal.SIGTERM)
    receiver.wait(timeout=30)
    daemon.stop()
    arrivals = {}
    for line in open(arrivals_file):
        seq, at = line.split()
        arrivals[int(seq)] = int(at)
    missing = [seq for seq in answered if seq not in arrivals]
    samples = sorted(max(0, arrivals[seq] - at) / 1e6 for seq, at in answered.items() if seq in arrivals)
    early = sum(1 for seq, at in answered.items() if seq in arrivals and arrivals[seq] < at)
    pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]
    rows.append(("steady load", f"{len(answered)} events in {elapsed:.1f} s ({len(answered) / elapsed:.0f} ev/s, batches of {batch}; {late} requests sent late)"))
    rows.append(("201 → syslog receipt p50 / p99 / max", f"{pick(0.5):.1f} / {pick(0.99):.1f} / {samples[-1]:.1f} ms"))
    rows.append(("received before the client had read its 201", f"{early}"))
    rows.append(("never received", f"{len(missing)}"))


WRK_SCRIPT = r"""
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  token, prefix, n = args[1], args[2] .. "-" .. tostring(tid), 0
end
function request()
  n = n + 1
  local body = string.format('{"id":"%s-%d","type":"sales_order.updated","time":"2026-01-05T01:02:22.585Z",' ..
    '"actor":{"id":"u-0011","via":"api"},"subject":{"type":"sales_order","id":"SO-%d"},' ..
    '"changes":[{"field":"amount","old":%d,"new":%d}]}', prefix, n, n % 5000, n, n + 1)
  return wrk.format("POST", "/v1/events", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
"""


class StalledStreamClient:
    """Asks for the whole ledger as a stream and never reads; a new one every 15 s, so that one is
    stalled most of the time: ledgerd cuts each off after 10 s (stream.stalledWriteSeconds)."""

    def __init__(self, port, token):
        self.port, self.token, self.stop_event = port, token, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop_event.is_set():
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", self.port))
            s.sendall(f"GET /v1/stream?afterSeq=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {self.token}\r\n\r\n".encode())
            self.stop_event.wait(15)
            s.close()

    def stop(self):
        self.stop_event.set()
        self.thread.join()


def wrk(args, daemon, script, prefix):
    out = subprocess.run(
        ["wrk", "-t2", "-c64", f"-d{args.wrk_seconds}s", "--latency", "-s", script, daemon.url, "--", daemon.token, prefix],
        capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        sys.exit(f"wrk saw answers other than 201:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    return rate, p99_ms


def cpu_seconds(pid):
    """User and system CPU time of a process so far."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ingest(args, workdir, rows):
    script = os.path.join(workdir, "single-event.lua")
    with open(script, "w") as f:
        f.write(WRK_SCRIPT)
    sinks = os.path.join(workdir, "dead-sink.yaml")
    with open(sinks, "w") as f:
        f.write(f"sinks:\n  - {{name: dead, kind: syslog, address: \"127.0.0.1:{free_port()}\"}}\n")
    # One data directory for both, started in turn with and without the burden: two directories
    # filled alike differed by 5-8% with the same configuration (an A/A run), more than the
    # difference measured. Each Daemon keeps its tokens file and log in a directory of its own.
    data = os.path.join(workdir, "data")
    for name in ("plain", "burdened"):
        os.makedirs(os.path.join(workdir, name))
    plain = tracked(Daemon(args.ledgerd, data, os.path.join(workdir, "plain")))
    burden = {} if args.control else {"LEDGERD_DELIVERY_SINKS_FILE": sinks}
    burdened = tracked(Daemon(args.ledgerd, data, os.path.join(workdir, "burdened"), burden))
    # 50,000 events first: the stalled client's backlog (afterSeq=0) fills every buffer between it
    # and ledgerd at once.
    prefill = b"\n".join(workload(args.ledgerctl, 50_000, 17)) + b"\n"
    plain.start()
    subprocess.run([args.ledgerctl, "append", "-", "--url", plain.url, f"--token={plain.token}"], input=prefill, capture_output=True, check=True)
    plain.stop()
    rates = {"A": [], "B": []}
    for round in range(args.rounds):
        for name in ("AB" if round % 2 == 0 else "BA"):
            daemon = plain if name == "A" else burdened
            daemon.start()
            stalled = StalledStreamClient(daemon.port, daemon.token) if name == "B" and not args.control else None
            time.sleep(1)
            cpu_before = cpu_seconds(daemon.process.pid)
            rate, p99 = wrk(args, daemon, script, f"r{round}{name}")
            cpu_per_event = (cpu_seconds(daemon.process.pid) - cpu_before) / (rate * args.wrk_seconds) * 1e6
            if stalled:
                stalled.stop()
                _, metrics = daemon.request("/metrics")
                failures = re.search(rb'ledger_delivery_failures_total\{sink="dead",route="events"\} (\d+)', metrics)
                if not failures or int(failures.group(1)) == 0:
                    sys.exit("the dead sink recorded no failure: the comparison would prove nothing")
            daemon.stop()
            rates[name].append(rate)
            label = "A: no sinks, no streams" if name == "A" else "B: as A (--control)" if args.control else "B: a dead sink and a stalled stream client"
            rows.append((f"round {round + 1}, {label}", f"{rate:,.0f} ev/s, p99 {p99:.1f} ms, ledgerd CPU {cpu_per_event:.0f} µs/event"))
    cut_off = 0 if args.control else open(os.path.join(workdir, "burdened", "ledgerd.log")).read().count("stream cut off")
    a, b = statistics.median(rates["A"]), statistics.median(rates["B"])
    rows.append(("median A / median B", f"{a:,.0f} / {b:,.0f} ev/s: B = {b / a:.3f} × A"))
    rows.append(("stalled stream clients cut off by ledgerd (B)", f"{cut_off}"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--receiver", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--ledgerd")
    parser.add_argument("--ledgerctl")
    parser.add_argument("--data", default=tempfile.gettempdir())
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--wrk-seconds", type=int, default=20)
    parser.add_argument("--control", action="store_true", help="B without the burden: an A/A run, the noise floor")
    args = parser.parse_args()
    if args.receiver:
        receive(*args.receiver)
    if not shutil.which("wrk"):
        sys.exit("wrk is missing (Debian's wrk package; make deps installs it)")
    os.makedirs(args.data, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="bench-delivery-", dir=args.data)
    rows = []
    try:
        latency(args, workdir, rows)
        ingest(args, workdir, rows)
    finally:
        for child in CHILDREN:
            process = getattr(child, "process", child)
            if isinstance(process, subprocess.Popen) and process.poll() is None:
                process.kill()
                process.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    width = max(len(name) for name, _ in rows)
    print(f"| {'figure'.ljust(width)} | value |\n|{'-' * (width + 2)}|---|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")


if __name__ == "__main__":
    main()
