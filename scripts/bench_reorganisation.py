#!/usr/bin/env python3
"""A reorganisation under load: what the projection's follower writes while thousands of
department moves wait for the `stale_access` check (spec 4's governance rules).

The workload is generated here, from a fixed seed: a tenant of 20,000 users who each hold a role,
then 30 days of 5,000 events a day (1,000 department moves among sales-order events), posted in
batches of 500 by one client. At the end 30,000 moves are pending (the default policy watches a
move for 30 days). Then `wrk -c64` posts single events for 10 s, a quarter of them more moves, the
rest sales-order edits, each a fresh id (`scripts/wrk/post.lua`).

Reported per round, for each binary given (alternating, so a noisy machine treats them alike):
single events/s and p99 from wrk, and the bytes each named thread of ledgerd passed to write(2)
during the wrk run (`/proc/PID/task/TID/io`), per event.

    python3 scripts/bench_reorganisation.py --ledgerd A [--ledgerd B] [--rounds 3]
"""
import argparse
import datetime
import http.client
import json
import os
import random
import re
import subprocess
import sys
import tempfile

from bench_e2e import Ledgerd, WRK_DIR

USERS = 20_000
DAYS = 30
PER_DAY = 5_000


def stamp(when):
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def reorganisation():
    """The batches (JSON arrays of 500) and the single events (one per line, id `@ID@`)."""
    rng = random.Random(5)
    start = datetime.datetime(2026, 1, 5, 1, 0, 0)
    events = []

    def add(kind, actor, subject_type, subject_id, when, changes=None, data=None):
        event = {"id": f"rg-{len(events) + 1:08d}", "type": kind, "time": stamp(when), "actor": {"id": actor},
                 "subject": {"type": subject_type, "id": subject_id}}
        if changes is not None:
            event["changes"] = changes
        if data is not None:
            event["data"] = data
        events.append(event)

    add("user.created", "system", "user", "u-root", start, [{"field": "name", "new": "root"}, {"field": "department", "new": "it"}])
    add("user.admin_granted", "system", "user", "u-root", start, data={"level": "super_admin"})
    add("role.created", "u-root", "role", "rep", start, [{"field": "name", "new": "rep"}])
    for permission in ["sales_order.edit", "sales_order.create", "sales_order.view"]:
        add("role.permission_granted", "u-root", "role", "rep", start, data={"permission": permission, "scope": "department"})
    users = [f"u-{i:05d}" for i in range(USERS)]
    department = {}
    when = start
    for i, user in enumerate(users):
        when += datetime.timedelta(milliseconds=50)
        department[user] = f"d-{i % 50}"
        add("user.created", "u-root", "user", user, when, [{"field": "name", "new": user}, {"field": "department", "new": department[user]}])
        add("user.role_assigned", "u-root", "user", user, when, data={"role": "rep"})
    orders = []
    for day in range(DAYS):
        for k in range(PER_DAY):
            when = start + datetime.timedelta(days=day + 1, seconds=k * 17)
            user = rng.choice(users)
            if k % 5 == 0:
                moved = f"d-{(int(department[user][2:]) + 1 + rng.randrange(49)) % 50}"
                add("user.updated", "u-root", "user", user, when, [{"field": "department", "old": department[user], "new": moved}])
                department[user] = moved
            elif k % 3 == 0 or not orders:
                orders.append(f"so-{len(orders):06d}")
                add("sales_order.created", user, "sales_order", orders[-1], when,
                    [{"field": "owner", "new": user}, {"field": "amount", "new": rng.randrange(100, 99_999)}])
            else:
                add("sales_order.updated", user, "sales_order", rng.choice(orders), when, [{"field": "amount", "new": rng.randrange(100, 99_999)}])
    batches = [json.dumps(events[i:i + 500], ensure_ascii=False, separators=(",", ":")) for i in range(0, len(events), 500)]
    singles = []
    last_day = start + datetime.timedelta(days=DAYS)
    for k in range(20_000):
        when = last_day + datetime.timedelta(milliseconds=100 * k)
        user = rng.choice(users)
        if k % 4 == 0:
            event = {"id": "@ID@", "type": "user.updated", "time": stamp(when), "actor": {"id": "u-root"},
                     "subject": {"type": "user", "id": user}, "changes": [{"field": "department", "new": f"d-{rng.randrange(50)}x"}]}
        else:
            event = {"id": "@ID@", "type": "sales_order.updated", "time": stamp(when), "actor": {"id": user},
                     "subject": {"type": "sales_order", "id": rng.choice(orders)}, "changes": [{"field": "amount", "new": rng.randrange(100, 99_999)}]}
        singles.append(json.dumps(event, separators=(",", ":")))
    return len(events), batches, singles


def written_by_thread(pid):
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as comm, open(f"/proc/{pid}/task/{tid}/io") as io:
                name = comm.read().strip()
                written = next(int(line.split()[1]) for line in io if line.startswith("wchar:"))
        except (OSError, StopIteration):
            continue  # a thread that ended meanwhile
        out[(tid, name)] = written
    return out


def round_of(binary, workdir, label, batches, singles_file):
    ledgerd = Ledgerd(binary, workdir, label)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", ledgerd.port)
        for body in batches:
            connection.request("POST", "/v1/events", body.encode(), {"Authorization": f"Bearer {ledgerd.token}", "Content-Type": "application/json"})
            answer = connection.getresponse()
            answer.read()
            if answer.status not in (200, 201):
                sys.exit(f"batch refused: {answer.status}")
        ledgerd.wait_caught_up()
        before = written_by_thread(ledgerd.process.pid)
        output = subprocess.run(
            ["wrk", "-t2", "-c64", "-d10s", "--latency", "-H", f"Authorization: Bearer {ledgerd.token}", "-s", os.path.join(WRK_DIR, "post.lua"),
             ledgerd.url, "--", singles_file, label], capture_output=True, text=True, check=True).stdout
        after = written_by_thread(ledgerd.process.pid)
        requests = int(re.search(r"(\d+) requests in", output).group(1))
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
        p99 = re.search(r"99%\s+(\S+)", output).group(1)
        # Per thread, by id: a build whose threads carry no names shows the same name twice.
        per_thread = sorted(((after[key] - before.get(key, 0)) / requests, key[1]) for key in after)
        total = sum(bytes_ for bytes_, _ in per_thread)
        threads = ", ".join(f"{name} {bytes_ / 1024:.1f}" for bytes_, name in reversed(per_thread) if bytes_ * requests > 1 << 20)
        print(f"{label}: {rate:,.0f} events/s, p99 {p99}; KB written per event: {total / 1024:.1f} ({threads})", flush=True)
    finally:
        ledgerd.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ledgerd", action="append", required=True, help="a ledgerd binary (give two to compare them)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    count, batches, singles = reorganisation()
    print(f"workload: {count} events in {len(batches)} batches, then 10 s of single events (wrk -c64)", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-reorg-") as workdir:
        singles_file = os.path.join(workdir, "singles.ndjson")
        with open(singles_file, "w") as f:
            f.write("\n".join(singles) + "\n")
        for n in range(args.rounds):
            for i, binary in enumerate(args.ledgerd):
                round_of(binary, workdir, f"round-{n + 1}-ledgerd-{chr(ord('A') + i)}", batches, singles_file)


if __name__ == "__main__":
    main()
