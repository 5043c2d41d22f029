#!/usr/bin/env python3
"""The web console on a big ledger: every page's server time and its load in headless Chromium.

    bench_console.py --ledgerd BIN --bench BIN --data DIR [--size 1000000] [--rounds 40]

Fills a fresh data directory with the generated workload (`ledger-bench --fill`, seed 9, as
bench_restart.py does), starts ledgerd (release) on it and waits for the projection, signs in with
the read token, then for each page kind requests `--rounds` pages with random subjects, users and
moments and reports p50 / p95 / max of the time to the last byte on loopback (an upper bound of the
server's time). Then it loads one page of each kind in headless Chromium (Selenium from the ui-test
virtualenv) and reports DOMContentLoaded. Bars (issue 12): p95 <= 50 ms, DOMContentLoaded <= 300 ms;
the governance pages answer issue 14's questions, whose bar is 1 s for the widest.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from ledgerd_process import free_port


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirects)


def get(base, path, headers):
    request = urllib.request.Request(base + path, headers=headers)
    started = time.perf_counter()
    try:
        with OPENER.open(request, timeout=120) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as e:
        body, status = e.read(), e.code
    return status, body, (time.perf_counter() - started) * 1000


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ledgerd", required=True)
    parser.add_argument("--bench", help="ledger-bench, to fill a data directory from the workload")
    parser.add_argument("--data", help="the workload directory (projection-SIZE.ndjson)")
    parser.add_argument("--ledger", help="an existing data directory to read instead of filling one")
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--python", default=sys.executable, help="a Python with selenium, for DOMContentLoaded")
    parser.add_argument("--only", help="measure only the page kinds whose name contains this")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="bench-console-", dir=args.data or None)
    data = args.ledger
    if not data:
        data = os.path.join(workdir, "data")
        workload = os.path.join(args.data, f"projection-{args.size}.ndjson")
        fill = subprocess.run([args.bench, "--fill", data, "--projection", workload], capture_output=True, text=True, check=True)
        print(fill.stdout.strip(), flush=True)
    tokens_file = os.path.join(workdir, "tokens")
    token = "bench-console-" + os.urandom(16).hex()
    import hashlib
    with open(tokens_file, "w") as f:
        f.write(f"bench read {hashlib.sha256(token.encode()).hexdigest()}\n")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(os.path.join(workdir, "ledgerd.log"), "w")
    daemon = subprocess.Popen([args.ledgerd, "--data-dir", data, "--port", str(port), "--tokens-file", tokens_file], stdout=log, stderr=log)
    try:
        auth = {"Authorization": "Bearer " + token}
        for _ in range(3000):
            try:
                status, body, _ = get(base, "/readyz", {})
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        head = json.loads(get(base, "/readyz", {})[1])["headSeq"]
        form = urllib.parse.urlencode({"token": token}).encode()
        request = urllib.request.Request(base + "/ui/login", data=form, headers={"Origin": base, "Content-Type": "application/x-www-form-urlencoded"})
        try:
            OPENER.open(request)
        except urllib.error.HTTPError as e:
            cookie = e.headers["Set-Cookie"].split(";")[0]
        session = {"Cookie": cookie}

        rng = random.Random(12)
        samples = []
        for _ in range(args.rounds):
            seq = rng.randint(1, head)
            event = json.loads(get(base, f"/v1/events/{seq}", auth)[1])
            samples.append((seq, event))
        orders = [e for _, e in samples if e["subject"]["type"] == "sales_order"] or [samples[0][1]]
        roles = json.loads(get(base, "/v1/vocabulary", auth)[1])["roles"]

        def moment(i):
            return samples[i % len(samples)][1]["time"]

        kinds = {
            "home": lambda i: "/ui/",
            "events (timeline, newest 50)": lambda i: "/ui/events",
            "events of one subject": lambda i: "/ui/events?" + urllib.parse.urlencode(
                {"subjectType": orders[i % len(orders)]["subject"]["type"], "subjectId": orders[i % len(orders)]["subject"]["id"]}),
            "event with its proof": lambda i: f"/ui/events/{samples[i][0]}",
            "sales order: state and history": lambda i: "/ui/subjects/sales_order/" + urllib.parse.quote(orders[i % len(orders)]["subject"]["id"]),
            "sales order as of a moment": lambda i: "/ui/subjects/sales_order/" + urllib.parse.quote(orders[i % len(orders)]["subject"]["id"])
            + "?asOf=" + urllib.parse.quote(moment(i + 7)),
            "user: access, activity": lambda i: "/ui/users/" + urllib.parse.quote(samples[i][1]["actor"]["id"]),
            "user: compare two moments": lambda i: "/ui/users/" + urllib.parse.quote(samples[i][1]["actor"]["id"]) + "?"
            + urllib.parse.urlencode({"from": min(moment(i), moment(i + 3)), "to": max(moment(i), moment(i + 3))}),
            "permission holders (sales_order.approve) as of": lambda i: "/ui/permissions/sales_order.approve?asOf=" + urllib.parse.quote(moment(i)),
            "role": lambda i: "/ui/roles/" + urllib.parse.quote(roles[i % len(roles)]),
            "role as of a moment": lambda i: "/ui/roles/" + urllib.parse.quote(roles[i % len(roles)]) + "?asOf=" + urllib.parse.quote(moment(i)),
            "findings": lambda i: "/ui/findings",
            "integrity": lambda i: "/ui/integrity",
            "search (one match, redirect)": lambda i: "/ui/search?q=" + urllib.parse.quote(orders[i % len(orders)]["subject"]["id"]),
            # Governance questions (issue 14): judged by their own bars, not the pages' 50 ms.
            "governance: a role's access changes between two moments": lambda i: "/ui/access/changes?" + urllib.parse.urlencode(
                {"from": min(moment(i), moment(i + 3)), "to": max(moment(i), moment(i + 3)), "role": roles[i % len(roles)]}),
            "governance: org-wide access changes between two moments": lambda i: "/ui/access/changes?" + urllib.parse.urlencode(
                {"from": min(moment(i), moment(i + 3)), "to": max(moment(i), moment(i + 3))}),
            "governance: review report of a role": lambda i: "/ui/reviews?role=" + urllib.parse.quote(roles[i % len(roles)]),
            "governance: pending requests": lambda i: "/ui/requests?status=pending",
        }
        if args.only:
            kinds = {name: make for name, make in kinds.items() if args.only in name}
        rows = []
        for name, make in kinds.items():
            get(base, make(0), session)  # warm
            times, sizes = [], []
            for i in range(args.rounds):
                status, body, ms = get(base, make(i), session)
                if status not in (200, 303):
                    raise RuntimeError(f"{make(i)} answered {status}: {body[:200]}")
                times.append(ms)
                sizes.append(len(body))
            rows.append((name, percentile(times, 0.5), percentile(times, 0.95), max(times), sum(sizes) // len(sizes), make(0)))
            print(f"{name:50s} p50 {rows[-1][1]:6.1f}  p95 {rows[-1][2]:6.1f}  max {rows[-1][3]:6.1f} ms  {rows[-1][4]:>8} B", flush=True)

        loads = {}
        script = r'''
import json, sys
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
base, cookie, paths = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
o = webdriver.ChromeOptions()
for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"]:
    o.add_argument(a)
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
d.get(base + "/ui/login")
d.add_cookie({"name": "ledger_session", "value": cookie, "path": "/ui"})
out = {}
for name, path in paths.items():
    values = []
    for _ in range(3):
        d.get(base + path)
        values.append(d.execute_script("return performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"))
    out[name] = sorted(values)[1]
d.quit()
print(json.dumps(out))
'''
        paths = {name: make(1) for name, make in kinds.items() if not name.startswith("search")}
        browser = subprocess.run([args.python, "-c", script, base, cookie.split("=", 1)[1], json.dumps(paths)], capture_output=True, text=True)
        if browser.returncode == 0:
            loads = json.loads(browser.stdout)
        else:
            print("chromium: " + browser.stderr[-500:], file=sys.stderr)

        print()
        print(f"| page ({head:,} events) | p50 | p95 | max | bytes | DOMContentLoaded (median of 3) |")
        print("|---|---|---|---|---|---|")
        for name, p50, p95, worst, size, _ in rows:
            dcl = loads.get(name)
            print(f"| {name} | {p50:.1f} ms | {p95:.1f} ms | {worst:.1f} ms | {size:,} | {f'{dcl:.0f} ms' if dcl else '—'} |")
        pages = [r for r in rows if not r[0].startswith("governance:")]
        governance = [r for r in rows if r[0].startswith("governance:")]
        print()
        if pages:
            slow = [r[0] for r in pages if r[2] > 50]
            slow_loads = [r[0] for r in pages if (loads.get(r[0]) or 0) > 300]
            print(f"server p95 <= 50 ms: {'met' if not slow else 'NOT met: ' + ', '.join(slow)}")
            print(f"DOMContentLoaded <= 300 ms: {'met' if loads and not slow_loads else 'NOT met: ' + ', '.join(slow_loads)}")
        if governance:
            slow_questions = [r[0] for r in governance if r[2] > 1000]
            print(f"governance pages p95 <= 1 s (issue 14's bar for the widest question): {'met' if not slow_questions else 'NOT met: ' + ', '.join(slow_questions)}")
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
