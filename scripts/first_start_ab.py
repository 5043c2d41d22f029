#!/usr/bin/env python3
"""ledgerd's first start, builds side by side: each round, for each build in turn, a copy of one
filled ledger with its projection deleted, ledgerd started on it (scripts/bench_restart.py's
`Daemon`), READY=1, then /readyz polled until the projection has folded the head.

    first_start_ab.py --ledgerd BIN[=DIR][,BIN[=DIR]...] --data DIR --head SEQ [--rounds 3]

DIR: a data directory filled with `ledger-bench --fill DIR --projection FILE`; `BIN=DIR` starts that
build on a ledger of its own (one its `ledger-bench --fill` wrote, when what a build stores beside the
records differs). The builds alternate, so a slow spell of the machine falls on all of them alike
(BENCHMARKS.md).
"""
import argparse
import os
import shutil
import subprocess
import tempfile
import time

from bench_restart import Daemon


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ledgerd", required=True, help="comma-separated ledgerd binaries")
    parser.add_argument("--data", help="the ledger of every build given without =DIR")
    parser.add_argument("--head", type=int, required=True, help="the ledger's last seq")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for _ in range(args.rounds):
        for entry in args.ledgerd.split(","):
            binary, _, source = entry.partition("=")
            with tempfile.TemporaryDirectory() as work:
                data = os.path.join(work, "data")
                subprocess.run(["cp", "-r", source or args.data, data], check=True)
                shutil.rmtree(os.path.join(data, "projection"), ignore_errors=True)
                subprocess.run(["sync"], check=True)
                daemon = Daemon(binary, data, work)
                started = time.monotonic()
                ready = daemon.start()
                projected = daemon.wait_projected(args.head, started)
                rss = daemon.rss_anon_mib()
                daemon.stop()
                print(f"{binary}: READY=1 {ready:.2f} s, projected through {args.head} {projected:.2f} s, RssAnon {rss:.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
