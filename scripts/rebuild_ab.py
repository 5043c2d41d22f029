#!/usr/bin/env python3
"""`ledger-bench --rebuild`, builds side by side: each round, each build in turn rebuilds the projection
of one filled ledger (its projection deleted first), stopped once it has printed the rebuild's time and
the CPU seconds of each thread (the in-memory breakdown that follows is skipped). Prints every run,
then per build the fastest and the median rebuild and the median CPU seconds of each thread, and in
how many rounds each build was faster than the first.

    rebuild_ab.py --data DIR [--rounds 5] [--probe BIN] BIN[ ARG...] [BIN[ ARG...]...]

DIR: a data directory filled with `ledger-bench --fill DIR --projection FILE`. Each build is one
argument: the ledger-bench binary, then any options it takes after `--rebuild DIR`, separated by
spaces (`"ledger-bench --entities-per-table 25000"`). The builds alternate, so a slow spell of the
machine falls on all of them alike; on this 2-core machine one rebuild varies by a fifth, and a
change worth a few percent shows only in the median of several rounds (BENCHMARKS.md). Each round
starts one build later than the round before (A B, then B A): the place in a round can have an
effect of its own (once the build run last was about 0.1 s faster; other runs did not repeat it,
BENCHMARKS.md), so no build may hold one place; the medians by place are printed too. Give a number of rounds that the number of builds divides, so that each build runs as
often in each place.

--probe BIN: before each rebuild, `BIN --cache-probe` times a dependent load in 4 MiB of memory. The
L3 is shared with the host's other guests; when one sweeps it, that load goes from about 14 ns to
100-170 ns and a rebuild takes up to twice as long. Each run then shows the probe, and the medians are
also given over the runs whose probe was under --quiet-below nanoseconds (the L3 ours).

--quiet-only (with --probe): a round starts once a probe is under --quiet-below (probing every
second), and counts only if the probe before each of its builds, and one after the last, were under
it too; another round is run in its place, up to --attempts rounds in all. Builds compared this way
differ by what they do, not by the spell each fell in; the medians are of quiet runs alone.
"""
import argparse
import re
import statistics
import subprocess
import time


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


def probe(binary):
    output = subprocess.run([binary, "--cache-probe"], capture_output=True, text=True, check=True).stdout
    return float(re.search(r"4 MiB ([0-9.]+) ns", output).group(1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, help="a filled data directory")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--probe", help="a ledger-bench binary with --cache-probe, run before each rebuild")
    parser.add_argument("--quiet-below", type=float, default=30.0, help="ns a load in 4 MiB under which a run counts as quiet")
    parser.add_argument("--quiet-only", action="store_true", help="count only rounds whose every probe was quiet")
    parser.add_argument("--attempts", type=int, default=0, help="with --quiet-only: rounds tried at most (default: four times --rounds)")
    parser.add_argument("builds", nargs="+", help="a ledger-bench binary and its extra options, as one argument")
    args = parser.parse_args()
    if args.quiet_only and not args.probe:
        raise SystemExit("--quiet-only needs --probe")
    if args.rounds % len(args.builds):
        print(f"note: {args.rounds} rounds do not divide among {len(args.builds)} builds: some run more often in some places", flush=True)
    runs = {build: [] for build in args.builds}
    by_place = {}
    rounds = 0
    for attempt in range(1, (args.attempts or 4 * args.rounds) + 1):
        if rounds == args.rounds:
            break
        # The probe the wait ends on is the first build's: a round waits at most five minutes for it.
        load = probe(args.probe) if args.probe else None
        for _ in range(300 if args.quiet_only else 0):
            if load < args.quiet_below:
                break
            time.sleep(1)
            load = probe(args.probe)
        round_runs = {}
        start = rounds % len(args.builds)
        for place, build in enumerate(args.builds[start:] + args.builds[:start]):
            if load is None and args.probe:
                load = probe(args.probe)
            figures = rebuild(build, args.data)
            if load is not None:
                figures["probe"] = load
            load = None
            round_runs[build] = (place, figures)
            print(f"round {rounds + 1} (attempt {attempt}) {build}: " + ", ".join(f"{k} {v:.2f}" for k, v in figures.items()), flush=True)
        # And one after the last build, so that every run of the round has a quiet probe on each side.
        if args.quiet_only and max([probe(args.probe)] + [f["probe"] for _, f in round_runs.values()]) >= args.quiet_below:
            print(f"attempt {attempt}: a probe found the L3 swept; the round is run again", flush=True)
            continue
        rounds += 1
        for build, (place, figures) in round_runs.items():
            runs[build].append(figures)
            by_place.setdefault(place, []).append(figures["rebuild"])
    if rounds < args.rounds:
        print(f"only {rounds} of {args.rounds} rounds counted", flush=True)
    if rounds == 0:
        raise SystemExit("no round counted")
    for build, figures in runs.items():
        median = {k: statistics.median(f[k] for f in figures) for k in figures[0]}
        fastest = min(f["rebuild"] for f in figures)
        print(f"{build}: rebuild fastest {fastest:.2f} s, median {median['rebuild']:.2f} s; median CPU s: "
              + ", ".join(f"{k} {median[k]:.2f}" for k in ("follower", "writer", "read-ahead", "all")))
        if args.probe:
            quiet = [f["rebuild"] for f in figures if f["probe"] < args.quiet_below]
            swept = [f["rebuild"] for f in figures if f["probe"] >= args.quiet_below]
            for name, times in ((f"L3 ours (probe < {args.quiet_below:g} ns)", quiet), (f"L3 swept (probe >= {args.quiet_below:g} ns)", swept)):
                if times:
                    print(f"  {name}: {len(times)} runs, median {statistics.median(times):.2f} s, slowest {max(times):.2f} s")
    print("by place in the round: " + ", ".join(f"{place + 1}: median {statistics.median(times):.2f} s ({len(times)} runs)" for place, times in sorted(by_place.items())))
    # Round by round, each build against the first: a spell of the machine moves a median by a tenth,
    # and the count of rounds won says whether a difference held through the spells.
    first, *others = args.builds
    for build in others:
        faster = sum(1 for a, b in zip(runs[first], runs[build]) if b["rebuild"] < a["rebuild"])
        print(f"{build}: faster than {first} in {faster} of {rounds} rounds")


if __name__ == "__main__":
    main()
