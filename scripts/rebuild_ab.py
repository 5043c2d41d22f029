#!/usr/bin/env python3
"""`ledger-bench --rebuild`, builds side by side: each round, each build in turn rebuilds the projection
of one filled ledger (its projection deleted first), stopped once it has printed the rebuild's time and
the CPU seconds of each thread (the in-memory breakdown that follows is skipped). Prints every run,
then per build the fastest and the median rebuild and the median CPU seconds of each thread, and in
how many rounds each build was faster than the first.

    rebuild_ab.py --data DIR [--rounds 5] BIN[ ARG...] [BIN[ ARG...]...]

DIR: a data directory filled with `ledger-bench --fill DIR --projection FILE`. Each build is one
argument: the ledger-bench binary, then any options it takes after `--rebuild DIR`, separated by
spaces (`"ledger-bench --entities-per-table 25000"`). The builds alternate, so a slow spell of the
machine falls on all of them alike; on this 2-core machine one rebuild varies by a fifth, and a
change worth a few percent shows only in the median of several rounds (BENCHMARKS.md).
"""
import argparse
import re
import statistics
import subprocess


def rebuild(build, data):
    binary, *options = build.split()
    process = subprocess.Popen([binary, "--rebuild", data, *options], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("CPU seconds by thread"):
            break
    process.kill()
    process.wait()
    if len(lines) < 2 or not lines[-1].startswith("CPU seconds"):
        raise SystemExit(f"{build}: no rebuild figures in its output:\n{''.join(lines)}")
    seconds = float(re.search(r": ([0-9.]+) seconds", lines[-2]).group(1))
    cpu = lines[-1]

    def thread(pattern):
        found = re.search(pattern + r" ([0-9.]+)", cpu)
        return float(found.group(1)) if found else 0.0

    return {
        "rebuild": seconds,
        "follower": thread(r"ledger-follower"),
        "writer": thread(r"ledger-projwrit"),
        "read-ahead": thread(r"\(ledger-readahead\)"),
        "all": float(re.search(r"([0-9.]+) in all", cpu).group(1)),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, help="a filled data directory")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("builds", nargs="+", help="a ledger-bench binary and its extra options, as one argument")
    args = parser.parse_args()
    runs = {build: [] for build in args.builds}
    for round in range(1, args.rounds + 1):
        for build in args.builds:
            figures = rebuild(build, args.data)
            runs[build].append(figures)
            print(f"round {round} {build}: " + ", ".join(f"{k} {v:.2f}" for k, v in figures.items()), flush=True)
    for build, figures in runs.items():
        median = {k: statistics.median(f[k] for f in figures) for k in figures[0]}
        fastest = min(f["rebuild"] for f in figures)
        print(f"{build}: rebuild fastest {fastest:.2f} s, median {median['rebuild']:.2f} s; median CPU s: "
              + ", ".join(f"{k} {median[k]:.2f}" for k in ("follower", "writer", "read-ahead", "all")))
    # Round by round, each build against the first: a spell of the machine moves a median by a tenth,
    # and the count of rounds won says whether a difference held through the spells.
    first, *others = args.builds
    for build in others:
        faster = sum(1 for a, b in zip(runs[first], runs[build]) if b["rebuild"] < a["rebuild"])
        print(f"{build}: faster than {first} in {faster} of {args.rounds} rounds")


if __name__ == "__main__":
    main()
