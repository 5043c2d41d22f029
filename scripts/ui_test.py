#!/usr/bin/env python3
"""The web console in a real browser: Chromium (headless) driven by Selenium.

    ui_test.py --ledgerd PATH --ledgerctl PATH [--artifacts DIR]

Starts ledgerd on a scratch data directory, loads the demo story, a request approved by its own
requester and a corpus of hostile values, then walks the journeys a compliance officer makes, each
from /ui/ by clicking (typing only into the console's own boxes), in three clicks or fewer. Every
page is screenshotted in English and Chinese into the artifacts directory and checked with axe-core
(no serious or critical violation). It also checks the cookie's flags, that hostile values render as
text and run no script, that an ingest token cannot sign in, that sessions expire, and that an
evidence bundle downloaded in the browser convinces scripts/verify_export.py. Exit status 0 when
all holds.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait
from axe_selenium_python import Axe

from ledgerd_process import free_port, wait_until_serving

HERE = os.path.dirname(os.path.abspath(__file__))
failures = []


def check(condition, what):
    print(("  ok    " if condition else "  FAIL  ") + what)
    if not condition:
        failures.append(what)


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirects)


class Ledger:
    """A ledgerd on a scratch directory, with the tokens it made on first start."""

    def __init__(self, binary, directory, config=""):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        os.makedirs(directory, exist_ok=True)
        self.data = os.path.join(directory, "data")
        command = [binary, "--data-dir", self.data, "--port", str(self.port)]
        if config:
            config_file = os.path.join(directory, "ledgerd.yaml")
            with open(config_file, "w") as f:
                f.write(config)
            command += ["--config", config_file]
        self.log = open(os.path.join(directory, "ledgerd.log"), "w")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=self.log)
        if not wait_until_serving(self.base, 30):
            raise RuntimeError("ledgerd did not start")
        self.tokens = {}
        for line in open(os.path.join(self.data, "initial-tokens")):
            if line.strip() and not line.startswith("#"):
                scope, token = line.split()
                self.tokens[scope] = token

    def request(self, path, method="GET", body=None, token=None, headers=None):
        request = urllib.request.Request(self.base + path, method=method, data=body, headers=headers or {})
        if token:
            request.add_header("Authorization", "Bearer " + self.tokens[token])
        try:
            with OPENER.open(request, timeout=30) as response:
                return response.status, response.read(), response.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers

    def post(self, events):
        status, body, _ = self.request(
            "/v1/events", "POST", json.dumps(events).encode(), "ingest", {"Content-Type": "application/json"}
        )
        if status not in (200, 201):
            raise RuntimeError(f"ingest answered {status}: {body[:300]}")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


HOSTILE = [
    "<script>window.pwned=1</script>",
    '"><img src=x onerror="window.pwned=2">',
    "javascript:window.pwned=3",
    "' onmouseover='window.pwned=4",
    "\u202eevil\u202c reversed",
    "长" * 3400,
    "🧾 审计 emoji",
    '=HYPERLINK("http://evil.example")',
]


def hostile_events():
    out = []
    for i, value in enumerate(HOSTILE):
        out.append({
            "id": f"ui-hostile-{i}", "type": "sales_order.updated", "time": f"2026-03-08T01:00:0{i}Z",
            "actor": {"id": "u-wang", "via": value[:200]}, "subject": {"type": "sales_order", "id": "SO-EVIL"},
            "changes": [{"field": "note", "new": value}], "reason": value[:1000],
        })
    return out


SELF_APPROVAL = [
    {"id": "ui-sa-1", "type": "access_request.submitted", "time": "2026-03-09T01:00:00Z", "actor": {"id": "u-zhao", "via": "web"},
     "subject": {"type": "access_request", "id": "ar-9"},
     "data": {"user": "u-zhao", "permission": "finance.view", "scope": "department", "justification": "month-end close"}},
    {"id": "ui-sa-2", "type": "access_request.approved", "time": "2026-03-09T01:05:00Z", "actor": {"id": "u-zhao", "via": "web"},
     "subject": {"type": "access_request", "id": "ar-9"}},
]


class Browser:
    def __init__(self, base, downloads, artifacts):
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000", "--lang=en-US"]:
            options.add_argument(arg)
        options.add_experimental_option("prefs", {"download.default_directory": downloads, "download.prompt_for_download": False})
        self.driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
        self.driver.implicitly_wait(2)
        self.base = base
        self.artifacts = artifacts
        self.clicks = 0
        self.timings = {}

    def open(self, path):
        self.driver.get(self.base + path)

    def click(self, element, navigates=True):
        """One click; waits for the next page when it leads to one."""
        self.clicks += 1
        page = self.driver.find_element(By.TAG_NAME, "html")
        element.click()
        if navigates:
            def gone(driver):
                # Mid-navigation chromedriver may answer "node does not belong to the document"
                # rather than a stale reference (what `staleness_of` alone expects): both mean gone.
                try:
                    page.is_enabled()
                    return False
                except WebDriverException:
                    return True

            # Generous: a shared CI host can stall for many seconds; page speed is judged by
            # DOMContentLoaded and make bench-console, not here.
            WebDriverWait(self.driver, 60).until(gone)

    def link(self, text):
        return self.driver.find_element(By.PARTIAL_LINK_TEXT, text)

    def field(self, name):
        return self.driver.find_element(By.NAME, name)

    def type_and_submit(self, name, value):
        box = self.field(name)
        box.clear()
        box.send_keys(value)
        self.click(box.find_element(By.XPATH, "ancestor::form//button[@type='submit']"))

    def search(self, text):
        self.type_and_submit("q", text)

    def nav(self, text):
        return self.driver.find_element(By.CSS_SELECTOR, "nav").find_element(By.LINK_TEXT, text)

    def between(self, since, until):
        """Fills a page's from and to, and submits them."""
        self.field("from").send_keys(since)
        self.type_and_submit("to", until)

    def text(self):
        return self.driver.find_element(By.TAG_NAME, "body").text

    def journey(self, name):
        self.open("/ui/")
        self.clicks = 0
        print(f"journey: {name}")

    def end(self, name, limit=3):
        check(self.clicks <= limit, f"{name}: answered in {self.clicks} clicks (at most {limit})")

    def dom_content_loaded_ms(self):
        return self.driver.execute_script(
            "const n = performance.getEntriesByType('navigation')[0]; return n ? n.domContentLoadedEventEnd : null;")

    def screenshot(self, name):
        height = self.driver.execute_script("return document.body.scrollHeight")
        self.driver.set_window_size(1400, min(max(height, 700), 4000))
        self.driver.save_screenshot(os.path.join(self.artifacts, name + ".png"))
        self.driver.set_window_size(1400, 1000)


def row_with(browser, cell_text):
    return browser.driver.find_element(By.XPATH, f"//tr[td//bdi[normalize-space(text())='{cell_text}']]")


def journeys(b, ledger, downloads, key_file):
    b.journey("who changed a sales order's amount, and from what")
    b.search("SO-1001")
    b.click(row_with(b, "amount").find_element(By.PARTIAL_LINK_TEXT, "its history"))
    text = b.text()
    check("amount: 1000 → 1200" in text and "u-wang" in text, "the amount went 1000 → 1200 by u-wang (CR-42)")
    check("amount: 1300 → 1500" in text, "and 1300 → 1500 later")
    b.end("amount")

    b.journey("who was the order's administrator on a day, and who handed it over")
    b.search("SO-1001")
    b.type_and_submit("asOf", "2026-03-05")
    check(row_with(b, "administrator").find_elements(By.XPATH, ".//bdi[text()='u-chen']"), "on 2026-03-05 the administrator was u-chen")
    b.click(row_with(b, "administrator").find_element(By.PARTIAL_LINK_TEXT, "its history"))
    handed = b.driver.find_element(By.XPATH, "//tr[.//li[contains(., 'administrator: u-chen → u-admin')]]")
    check("u-chen" in handed.find_element(By.XPATH, "td[5]").text, "u-chen handed it over to u-admin")
    b.end("administrator")

    b.journey("why u-li holds sales_order.approve")
    b.search("u-li")
    row = b.driver.find_element(By.XPATH, "//tr[td/a/bdi[text()='sales_order.approve']]")
    check("granted directly" in row.text and "#27" in row.text, "u-li holds it directly, by event #27")
    b.click(row.find_element(By.LINK_TEXT, "#27"))
    check("request ar-2" in b.text() and "sales_order.approve" in b.text(), "event #27 grants it, for request ar-2")
    b.end("why")

    b.journey("everyone who could approve orders at a past moment")
    b.search("sales_order.approve")
    b.type_and_submit("asOf", "2026-03-03")
    holders = [e.text for e in b.driver.find_elements(By.XPATH, "//table//tr/td[1]//bdi")]
    check("u-zhao" in holders and "u-li" not in holders, f"on 2026-03-03: {holders} (u-zhao, not yet u-li)")
    b.end("holders")

    b.journey("what a user gained between two dates")
    b.search("u-li")
    b.between("2026-03-03", "2026-03-05")
    gained = b.driver.find_element(By.XPATH, "//tr[td/a/bdi[text()='sales_order.approve']][td/strong]")
    check("gained" in gained.text and "#27" in gained.text, "u-li gained sales_order.approve through #27")
    b.end("compare")

    b.journey("admin rights granted by someone who is not a super admin")
    b.click(b.link("Admin rights granted by someone who is not a super admin"))
    check("u-admin" in b.text() and "u-wang" in b.text(), "u-admin granted u-wang admin rights")
    b.end("admin grant")

    b.journey("permission requests approved by the requester")
    b.click(b.link("Request approved by its requester"))
    check("u-zhao" in b.text() and "ar-9" in b.text(), "u-zhao approved their own request ar-9")
    b.end("self approval")

    b.journey("who gained or lost access across the organization between two dates")
    b.click(b.nav("Access changes"))
    b.between("2026-03-03", "2026-03-05")
    gained = b.driver.find_element(By.XPATH, "//tr[td/a/bdi[text()='u-li']][td/a/bdi[text()='sales_order.approve']]")
    check("gained" in gained.text and "#27" in gained.text, "across the organization, u-li gained sales_order.approve through #27")
    b.end("organization changes")

    b.journey("whose review of approving orders is overdue, in a signed report")
    b.click(b.nav("Reviews"))
    b.type_and_submit("permission", "sales_order.approve")
    holders = [e.text for e in b.driver.find_elements(By.XPATH, "//table//tr/td[1]//bdi")]
    check("u-li" in holders and "Signed with the checkpoint key" in b.text(), f"the report lists {holders}, signed")
    b.end("review report")

    b.journey("a permission request that was rejected, and why")
    b.click(b.nav("Requests"))
    Select(b.field("status")).select_by_value("rejected")
    b.click(b.field("status").find_element(By.XPATH, "ancestor::form//button[@type='submit']"))
    row = row_with(b, "ar-1")
    check("u-admin" in row.text and "more than the cover needs" in row.text, "ar-1 was rejected by u-admin, with the reason")
    check(not b.driver.find_elements(By.XPATH, "//td//bdi[text()='ar-2']"), "approved ar-2 is not listed")
    b.end("rejected request")

    b.journey("the evidence behind a finding")
    b.click(b.link("Admin rights granted by someone who is not a super admin"))
    b.click(b.driver.find_element(By.CSS_SELECTOR, "li.finding p.evidence a"))
    check("Proven" in b.text() and "user.admin_granted" in b.text(), "the finding's event, proven in a signed checkpoint")
    b.end("evidence")

    b.journey("the record as it stood before an edit")
    b.search("SO-1001")
    b.click(b.driver.find_element(By.LINK_TEXT, "#22"))
    b.click(b.link("the record just before this event"))
    check(row_with(b, "amount").find_elements(By.XPATH, ".//bdi[text()='1000']"), "before event #22 the amount was 1000")
    b.end("before")

    b.journey("the integrity status, and an evidence bundle the verifier accepts")
    check("Latest signed checkpoint" in b.text() and "Tree size" in b.text(), "the home page shows the latest checkpoint")
    b.click(b.nav("Events"))
    for old in glob.glob(os.path.join(downloads, "*")):
        os.remove(old)
    b.click(b.link("Download evidence bundle"), navigates=False)
    bundle = None
    for _ in range(100):
        done = [p for p in glob.glob(os.path.join(downloads, "*.json"))]
        if done:
            bundle = done[0]
            break
        time.sleep(0.1)
    check(bundle is not None, "the bundle downloaded")
    if bundle:
        verified = subprocess.run(
            [sys.executable, os.path.join(HERE, "verify_export.py"), "--bundle", bundle, "@" + key_file], capture_output=True, text=True)
        check(verified.returncode == 0, "verify_export.py accepts it: " + (verified.stdout + verified.stderr).strip()[:160])
    b.end("bundle")


PAGES = [
    ("home", "/ui/"), ("events", "/ui/events"), ("event", "/ui/events/22"), ("subject", "/ui/subjects/sales_order/SO-1001"),
    ("subject-as-of", "/ui/subjects/sales_order/SO-1001?asOf=2026-03-05"), ("user", "/ui/users/u-li"),
    ("user-compare", "/ui/users/u-li?from=2026-03-03&to=2026-03-05"), ("permission", "/ui/permissions/sales_order.approve"),
    ("role", "/ui/roles/sales_manager"), ("findings", "/ui/findings"), ("integrity", "/ui/integrity"),
    ("hostile", "/ui/subjects/sales_order/SO-EVIL"), ("search-results", "/ui/search?q=nobody"),
    ("access-changes", "/ui/access/changes?from=2026-03-01&to=2026-03-31"), ("reviews", "/ui/reviews?permission=sales_order.approve"),
    ("requests", "/ui/requests"),
]


def every_page(b):
    axe = Axe(b.driver)
    for language in ["en", "zh"]:
        for name, path in PAGES:
            b.open(path + ("&" if "?" in path else "?") + "lang=" + language)
            b.timings[f"{name}-{language}"] = b.dom_content_loaded_ms()
            check(b.driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == ("en" if language == "en" else "zh-Hans"),
                  f"{name} in {language}")
            b.screenshot(f"{name}-{language}")
            axe.inject()
            results = axe.run()
            serious = [v for v in results["violations"] if v.get("impact") in ("serious", "critical")]
            check(not serious, f"axe on {name} ({language}): {[v['id'] for v in serious]}")
    b.open("/ui/?lang=en")


def security(b, ledger):
    print("security")
    b.open("/ui/subjects/sales_order/SO-EVIL")
    b.driver.find_element(By.TAG_NAME, "body").click()
    try:
        b.driver.switch_to.alert
        check(False, "no alert opened")
    except NoAlertPresentException:
        check(True, "no alert opened")
    check(b.driver.execute_script("return window.pwned === undefined"), "no hostile value ran as script")
    shown = b.driver.find_elements(By.XPATH, "//bdi[text()='<script>window.pwned=1</script>']")
    check(len(shown) > 0, "<script> is shown as text")
    check(len(b.driver.find_elements(By.XPATH, "//a[starts-with(@href, 'javascript:')]")) == 0, "no javascript: link")
    check(len(b.driver.find_elements(By.TAG_NAME, "img")) == 0 and len(b.driver.find_elements(By.TAG_NAME, "script")) == 0,
          "no element made of a value")
    cookie = b.driver.get_cookie("ledger_session")
    check(cookie is not None and cookie["httpOnly"] and cookie.get("sameSite") == "Strict" and cookie["path"] == "/ui",
          f"session cookie HttpOnly, SameSite=Strict, Path=/ui: {cookie and {k: cookie.get(k) for k in ('httpOnly', 'sameSite', 'path')}}")
    check(not b.driver.execute_script("return document.cookie.includes('ledger_session')"), "scripts cannot read the session cookie")
    status, _, headers = ledger.request("/ui/", headers={"Cookie": "ledger_session=" + cookie["value"]})
    csp = headers.get("Content-Security-Policy", "")
    check(status == 200 and "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src 'none'" in csp, "CSP: " + csp)
    check(headers.get("X-Content-Type-Options") == "nosniff" and headers.get("Referrer-Policy") == "no-referrer", "nosniff, no-referrer")
    for name, path in PAGES + [("csv", "/ui/events?format=csv&table=events"), ("bundle", "/ui/events?format=bundle&table=events")]:
        status, body, headers = ledger.request(path)
        if status != 303 or not headers.get("Location", "").startswith("/ui/login"):
            check(False, f"{path} without a session answered {status}")
            break
    else:
        check(True, "no page, CSV or bundle without a session")

    # Keyboard: the first Tab reaches the skip link, which leads to the content.
    b.open("/ui/")
    b.driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    active = b.driver.switch_to.active_element
    check(active.get_attribute("class") == "skip", "the first Tab stop is 'Skip to content'")

    # Switching language on a page, by keyboard or mouse: the select and Apply.
    b.driver.find_element(By.CSS_SELECTOR, "select[name=lang] option[value=zh]").click()
    b.click(b.driver.find_element(By.CSS_SELECTOR, "form.prefs button"))
    check(b.driver.find_element(By.TAG_NAME, "h1").text == "账本概览", "the language switch turns the page Chinese")
    b.driver.find_element(By.CSS_SELECTOR, "select[name=lang] option[value=en]").click()
    b.click(b.driver.find_element(By.CSS_SELECTOR, "form.prefs button"))

    # Sign out, then an ingest token cannot sign in.
    b.click(b.driver.find_element(By.CSS_SELECTOR, "form.signout button"))
    check("/ui/login" in b.driver.current_url, "signed out")
    b.open("/ui/")
    b.field("token").send_keys(ledger.tokens["ingest"])
    b.click(b.driver.find_element(By.CSS_SELECTOR, "main form button"))
    check("may not read" in b.text() and b.driver.get_cookie("ledger_session") is None, "an ingest token cannot sign in")


def sign_in_page(b):
    """The one page without a session: screenshots and axe in both languages, before signing in."""
    axe = Axe(b.driver)
    for language in ["en", "zh"]:
        b.open("/ui/login?lang=" + language)
        check(b.driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == ("en" if language == "en" else "zh-Hans"),
              f"sign-in in {language}")
        b.screenshot(f"sign-in-{language}")
        axe.inject()
        serious = [v for v in axe.run()["violations"] if v.get("impact") in ("serious", "critical")]
        check(not serious, f"axe on sign-in ({language}): {[v['id'] for v in serious]}")


def sign_in(b, token):
    b.open("/ui/")
    check("/ui/login" in b.driver.current_url, "without a session, /ui/ leads to the sign-in page")
    b.field("token").send_keys(token)
    b.click(b.driver.find_element(By.CSS_SELECTOR, "main form button"))
    check(b.driver.current_url.endswith("/ui/"), "signed in, back on /ui/ (at " + b.driver.current_url + ")")


def expiry(binary, workdir):
    print("session expiry")
    ledger = Ledger(binary, os.path.join(workdir, "expiry"), "ui:\n  sessionIdleSeconds: 2\n")
    try:
        form = ("token=" + ledger.tokens["read"]).encode()
        status, _, headers = ledger.request(
            "/ui/login", "POST", form, headers={"Origin": ledger.base, "Content-Type": "application/x-www-form-urlencoded"})
        cookie = (headers.get("Set-Cookie") or "").split(";")[0]
        fresh = ledger.request("/ui/", headers={"Cookie": cookie})[0]
        time.sleep(3)
        stale = ledger.request("/ui/", headers={"Cookie": cookie})[0]
        check(status == 303 and fresh == 200 and stale == 303, f"a session idle past ui.sessionIdleSeconds is over ({fresh} then {stale})")
    finally:
        ledger.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ledgerd", required=True)
    parser.add_argument("--ledgerctl", required=True)
    parser.add_argument("--artifacts", default=".build/ui-artifacts")
    arguments = parser.parse_args()
    os.makedirs(arguments.artifacts, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="ledger-ui-")
    downloads = os.path.join(workdir, "downloads")
    os.makedirs(downloads)
    ledger = Ledger(arguments.ledgerd, os.path.join(workdir, "main"))
    browser = None
    try:
        subprocess.run([arguments.ledgerctl, "demo", "--story", "--url", ledger.base, "--token", ledger.tokens["ingest"]],
                       check=True, capture_output=True)
        ledger.post(SELF_APPROVAL)
        ledger.post(hostile_events())
        status, _, _ = ledger.request("/v1/checkpoint", token="read")
        assert status == 200, "no checkpoint"
        browser = Browser(ledger.base, downloads, arguments.artifacts)
        sign_in_page(browser)
        sign_in(browser, ledger.tokens["read"])
        journeys(browser, ledger, downloads, os.path.join(ledger.data, "checkpoint.vkey"))
        every_page(browser)
        security(browser, ledger)
        expiry(arguments.ledgerd, workdir)
        with open(os.path.join(arguments.artifacts, "timings.json"), "w") as f:
            json.dump(browser.timings, f, indent=1)
        slowest = max(browser.timings.items(), key=lambda kv: kv[1] or 0)
        print(f"DOMContentLoaded: slowest {slowest[0]} {slowest[1]:.0f} ms over {len(browser.timings)} pages")
    finally:
        if browser:
            browser.driver.quit()
        ledger.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"screenshots in {arguments.artifacts}")
    if failures:
        print(f"{len(failures)} FAILED:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("ui-test: all passed")


if __name__ == "__main__":
    main()
