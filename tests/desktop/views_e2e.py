#!/usr/bin/env python3
"""End-to-end test of the operators' views (issue 16) in the real app: the rule workbench,
the audit log and replay, on a database made by `leadorch demo` and on one made by
`leadorch seed --events N`, driven over WebDriver (tauri-driver, WebKitWebDriver) under Xvfb
with a real Secret Service. Every view is photographed (TARGET/desktop-e2e-*.png).

Run by tests/run as:  xvfb-run -a dbus-run-session -- python tests/desktop/views_e2e.py
Needs what e2e.py needs, and SEEDED: a seeded database folder (leadorch.db and master.key),
made by tests/run (or skipped when SEEDED is unset).
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from e2e import CLI, Session, keep_compositing_for_screenshots, run_tests, start_keyring, wait_port


def tid(name, extra=""):
    return f'[data-testid="{name}"]{extra}'


class Views(Session):
    """A session with the views' helpers."""

    def els(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def el(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def attr(self, css, name):
        found = self.els(css)
        return found[0].get_attribute(name) if found else None

    def go(self, letter, path):
        """`G` then a letter, as a user at the keyboard; waits for the view."""
        self.js("document.activeElement && document.activeElement.blur()")
        self.keys("g", letter)
        self.wait(f"the view {path} shows", lambda: self.js("return location.hash").startswith(f"#{path}"))

    def hash(self):
        return self.js("return decodeURIComponent(location.hash)")

    def body(self):
        return self.js("return document.body.innerText")

    def editor(self, host="rule-editor"):
        """Puts the keyboard in the rule editor (CodeMirror, inside a shadow root)."""
        self.js(f"document.querySelector('[data-testid=\"{host}\"]').shadowRoot"
                ".querySelector('.cm-content').focus()")

    def editor_text(self, host="rule-editor"):
        return self.js(f"return document.querySelector('[data-testid=\"{host}\"]').shadowRoot"
                       ".querySelector('.cm-content').innerText")

    def click(self, css):
        """Clicks `css` after scrolling it into view (inside the panel that scrolls it), in
        one step, so a re-render in between cannot leave a stale element."""
        self.wait(f"{css} is there", lambda: self.els(css))
        self.js(f"const e = document.querySelector({css!r}); e.scrollIntoView({{block: 'center'}}); e.click()")

    def set_input(self, css, value):
        """Sets an input a user picks from (a date-time field) and tells the view."""
        self.driver.execute_script(
            "arguments[0].value = arguments[1];"
            "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));"
            "arguments[0].dispatchEvent(new Event('change', {bubbles: true}))",
            self.el(css), value)

    def fill(self, css, text):
        field = self.el(css)
        field.clear()
        field.send_keys(text)


def event_times(db):
    """Every event's own time (`at`), by position, as the API reads it."""
    from datetime import datetime
    out = {}
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        for position, event_type, payload in c.execute("SELECT position, event_type, payload FROM events"):
            at = json.loads(payload).get(event_type, {}).get("at")
            if isinstance(at, str):
                out[position] = datetime.fromisoformat(at.replace("Z", "+00:00"))
    return out


def one(db, sql, *args):
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        return c.execute(sql, args).fetchone()


def one_all(db, sql, *args):
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        return c.execute(sql, args).fetchall()


E2E_EMAIL = "ann.e2e@example.org"


def add_team_and_lead(env):
    """`leadorch teams set`, then one lead posted to `leadorch serve` with a key of its own,
    as a client's form would send it. Returns the lead's id."""
    subprocess.run([str(CLI), "teams", "set", "sales-e2e", "--max-open-leads", "10"], env=env,
                   check=True, stdout=subprocess.DEVNULL)
    key = subprocess.run([str(CLI), "keys", "create", "--name", "e2e-forms", "--scopes", "ingest"],
                         env=env, check=True, capture_output=True, text=True).stdout.strip()
    server = subprocess.Popen([str(CLI), "serve", "--listen", "127.0.0.1:0"], env=env,
                              stderr=subprocess.PIPE, text=True)
    try:
        first = server.stderr.readline()
        addr = first.split("listening on ", 1)[1].split()[0]
        body = {"lead_id": "e2e-1", "form_id": "contact", "team": "sales-e2e", "name": "Ann E2E",
                "email": E2E_EMAIL, "phone": "+31 20 123 4567",
                "consent": {"text": "I agree to be called about my request",
                            "at": "2026-12-01T10:00:00Z", "url": "https://example.org/contact"}}
        import urllib.request
        req = urllib.request.Request(f"{addr}/v1/leads", data=json.dumps(body).encode(),
                                     headers={"authorization": f"Bearer {key}",
                                              "content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as answer:
            got = json.load(answer)
        assert got["outcome"] == "accepted", got
    finally:
        server.terminate()
        server.wait(timeout=30)
    return "e2e-1"


def main():
    work = Path(tempfile.mkdtemp(prefix="leadorch-views-e2e-"))
    start_keyring(work)
    keep_compositing_for_screenshots()
    env = dict(os.environ)
    for name in ("DATABASE_URL", "LEADORCH_CONFIG", "LEADORCH_MASTER_KEY", "LEADORCH_MASTER_KEY_FILE",
                 "LEADORCH_HOME"):
        env.pop(name, None)

    # The demo's database: a simulated morning with the example rules acting.
    demo = work / "demo"
    demo.mkdir()
    demo_db = demo / "leadorch.db"
    started = time.time()
    subprocess.run([str(CLI), "demo", "--minutes", "240", "--db", str(demo_db)], env=env,
                   check=True, stdout=subprocess.DEVNULL)
    print(f"demo database made in {time.time() - started:.1f} s")
    demo_env = dict(env, DATABASE_URL=f"sqlite://{demo_db}", LEADORCH_HOME=str(demo),
                    LEADORCH__FACTS__TIMEZONE="Europe/Amsterdam")
    # Issue 17's views: a team of our own, and a lead sent over the API as a form would.
    exports = work / "exports"
    exports.mkdir()
    lead = add_team_and_lead(demo_env)
    demo_env["LEADORCH_SAVE_DIR"] = str(exports)
    driver = subprocess.Popen(["tauri-driver", "--port", "4444"], env=demo_env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    as_chosen_env = {k: v for k, v in demo_env.items() if k != "WEBKIT_DISABLE_COMPOSITING_MODE"}
    driver3 = subprocess.Popen(["tauri-driver", "--port", "4448", "--native-port", "4449"], env=as_chosen_env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # A second demo, untouched by the API (the simulator acts only on databases holding no real
    # data, and add_team_and_lead's lead is real): a daemon acts on it while the app watches.
    live = work / "live"
    live.mkdir()
    live_db = live / "leadorch.db"
    subprocess.run([str(CLI), "demo", "--minutes", "240", "--db", str(live_db)], env=env,
                   check=True, stdout=subprocess.DEVNULL)
    live_env = dict(env, DATABASE_URL=f"sqlite://{live_db}", LEADORCH_HOME=str(live),
                    LEADORCH__FACTS__TIMEZONE="Europe/Amsterdam")
    driver4 = subprocess.Popen(["tauri-driver", "--port", "4455", "--native-port", "4456"], env=live_env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seeded = os.environ.get("SEEDED")
    driver2 = None
    if seeded:
        seeded_dir = work / "seeded"
        shutil.copytree(seeded, seeded_dir)
        seeded_env = dict(env, DATABASE_URL=f"sqlite://{seeded_dir / 'leadorch.db'}",
                          LEADORCH_HOME=str(seeded_dir))
        driver2 = subprocess.Popen(["tauri-driver", "--port", "4446", "--native-port", "4447"],
                                   env=seeded_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    head = lambda: one(demo_db, "SELECT MAX(position) FROM events")[0]
    count = lambda t: one(demo_db, "SELECT COUNT(*) FROM events WHERE event_type = ?", t)[0]

    def audit_log_lists_filters_and_reaches_the_last_event():
        s = Views()
        try:
            s.opened()
            s.go("l", "/audit")
            s.wait("the first event is listed", lambda: s.els(tid("audit-row", '[data-position="1"]')))
            n = head()
            s.wait("the total is the log's length",
                   lambda: s.attr(tid("audit-total"), "aria-label") == f"{n} events")
            s.shot("audit")
            # The end, from the keyboard.
            s.el(tid("audit-list")).click()
            s.keys(Keys.END)
            s.wait("the last event is listed and selected",
                   lambda: s.attr(tid("audit-row", f'[data-position="{n}"]'), "aria-selected") == "true")
            # A filter: only the rules' evaluations, kept in the address.
            s.fill(tid("filter-type"), "EvaluationRecorded")
            s.el(tid("filter-apply")).click()
            evaluations = count("EvaluationRecorded")
            assert evaluations > 0, "the demo recorded no evaluation"
            s.wait("only evaluations are counted",
                   lambda: s.attr(tid("audit-total"), "aria-label") == f"{evaluations} events")
            # (Rows still loading have no type yet.)
            s.wait("the rows are loaded", lambda: s.els(tid("audit-row", "[data-type]")))
            types = {r.get_attribute("data-type") for r in s.els(tid("audit-row", "[data-type]"))}
            assert types == {"EvaluationRecorded"}, types
            assert "type=EvaluationRecorded" in s.hash(), s.hash()
            # It survives going elsewhere and coming back.
            s.go("a", "/accounts")
            s.go("l", "/audit")
            s.wait("the filter is still there",
                   lambda: s.el(tid("filter-type")).get_attribute("value") == "EvaluationRecorded"
                   and s.attr(tid("audit-total"), "aria-label") == f"{evaluations} events")
            s.el(tid("audit-end")).click()
            last = one(demo_db, "SELECT MAX(position) FROM events WHERE event_type = 'EvaluationRecorded'")[0]
            s.wait("the last evaluation is listed", lambda: s.els(tid("audit-row", f'[data-position="{last}"]')))
            s.shot("audit-filtered")
            # Event time: the demo's morning happened on 2026-03-02, whenever it was recorded.
            from datetime import datetime, timezone
            lo = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
            hi = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
            times = event_times(demo_db)
            kinds = dict(
                (p, t) for p, t in one_all(demo_db, "SELECT position, event_type FROM events"))
            expected = sum(1 for p, t in times.items() if lo <= t < hi and kinds[p] == "EvaluationRecorded")
            assert 0 < expected < evaluations, expected
            s.js("const e = document.querySelector('[data-testid=\"filter-basis\"]');"
                 "e.value = 'event'; e.dispatchEvent(new Event('change', {bubbles: true}))")
            s.fill(tid("filter-from"), "2026-03-02T09:00:00Z")
            s.fill(tid("filter-to"), "2026-03-02T10:00:00Z")
            s.el(tid("filter-apply")).click()
            s.wait("the evaluations of 09:00 to 10:00 (event time) are counted",
                   lambda: s.attr(tid("audit-total"), "aria-label") == f"{expected} events")
            assert "basis=event" in s.hash(), s.hash()
            s.shot("audit-event-time")
        finally:
            s.close()

    def a_subject_is_revealed_then_erased_and_its_fields_are_gone():
        s = Views()
        try:
            s.opened()
            s.go("l", "/audit")
            s.fill(tid("filter-type"), "LeadReceived")
            s.el(tid("filter-apply")).click()
            first = one(demo_db, "SELECT MIN(position) FROM events WHERE event_type = 'LeadReceived'")[0]
            row = tid("audit-row", f'[data-position="{first}"]')
            s.wait("the first lead is listed", lambda: s.els(row))
            s.el(row).click()
            s.wait("its detail opens", lambda: s.attr(tid("event-detail"), "data-position") == str(first))
            s.wait("its personal fields are listed", lambda: s.els(tid("personal-field")))
            states = {f.get_attribute("data-state") for f in s.els(tid("personal-field"))}
            assert states == {"hidden"}, f"before Reveal: {states}"
            s.el(tid("detail-reveal")).click()
            s.wait("the fields are revealed",
                   lambda: {f.get_attribute("data-state") for f in s.els(tid("personal-field"))} == {"revealed"})
            values = [v.text for v in s.els(tid("personal-value")) if v.text.strip()]
            assert values, "revealed fields show their values"
            s.shot("audit-revealed")
            subject = s.attr(tid("erase-subject"), "data-subject")
            assert subject, "a lead's event names its subject"
            s.click(tid("erase-subject"))
            s.fill(tid("erase-input"), subject)
            s.click(tid("erase-submit"))
            s.wait("the erasure is done", lambda: s.els(tid("erase-result")))
            s.wait("the fields read as erased",
                   lambda: {f.get_attribute("data-state") for f in s.els(tid("personal-field"))} == {"erased"})
            page = s.body()
            for v in values:
                if len(v) > 3:
                    assert v not in page, f"{v!r} still on the page after the erasure"
            s.shot("audit-erased")
            # Revealing again shows nothing: the keys are gone.
            if s.els(tid("detail-reveal")):
                s.el(tid("detail-reveal")).click()
                time.sleep(0.5)
                assert {f.get_attribute("data-state") for f in s.els(tid("personal-field"))} == {"erased"}
        finally:
            s.close()

    def the_chain_is_verified_with_progress():
        s = Views()
        try:
            s.opened()
            s.go("l", "/audit")
            s.wait("the chain panel shows", lambda: s.els(tid("verify-start")))
            s.el(tid("verify-start")).click()
            s.wait("the chain verifies", lambda: s.attr(tid("verify-state"), "data-state") == "passed")
            assert str(head()) in s.text(tid("verify-result")).replace(",", ""), s.text(tid("verify-result"))
            s.shot("audit-verified")
        finally:
            s.close()

    def replay_shows_an_earlier_moment_and_why_from_an_evaluation():
        s = Views()
        try:
            s.opened()
            # A campaign paused now (the demo's capacity gate pauses them), and the position of
            # its first observation, when it was still running.
            s.go("t", "/replay")
            s.wait("now is replayed", lambda: s.els(tid("replay-campaign-row")))
            paused = [r.get_attribute("data-campaign") for r in s.els(tid("replay-campaign-row"))
                      if r.get_attribute("data-status") == "paused"]
            assert paused, "no campaign is paused at the end of the demo"
            campaign = paused[0]
            first = one(demo_db, "SELECT MIN(position) FROM events WHERE stream_id = ?",
                        f"campaign:{campaign}")[0]
            s.shot("replay-now")
            s.fill(tid("replay-position-input"), str(first))
            s.keys(Keys.ENTER)
            row = tid("replay-campaign-row", f'[data-campaign="{campaign}"]')
            s.wait("the campaign runs at that moment",
                   lambda: s.attr(row, "data-status") == "enabled" and s.attr(row, "data-diff") == "changed")
            assert f"at={first}" in s.hash(), s.hash()
            s.shot("replay-earlier")
            # Why, from an evaluation in the audit log that changed a campaign.
            s.go("l", "/audit")
            s.fill(tid("filter-type"), "EvaluationRecorded")
            s.el(tid("filter-apply")).click()
            s.wait("evaluations are listed", lambda: s.els(tid("audit-row", '[data-type="EvaluationRecorded"]')))
            s.el(tid("audit-end")).click()
            s.el(tid("audit-list")).click()
            for _ in range(200):
                s.keys(Keys.ENTER)
                time.sleep(0.2)
                s.wait("the detail opens", lambda: s.els(tid("event-detail")))
                if s.els(tid("detail-why")):
                    break
                s.keys(Keys.ESCAPE, Keys.ARROW_UP)
            assert s.els(tid("detail-why")), "no evaluation in the demo changed a campaign"
            s.shot("audit-evaluation")
            s.el(tid("detail-why")).click()
            s.wait("the replay opens on why", lambda: s.hash().startswith("#/replay") and s.els(tid("why-panel")))
            s.wait("the decision chain is shown", lambda: s.els(tid("why-decision")) or s.els(tid("why-cause")))
            s.shot("replay-why")
        finally:
            s.close()

    def a_rule_is_written_checked_saved_diffed_rolled_back_dry_run_backtested_and_tested():
        s = Views()
        try:
            s.opened()
            s.go("r", "/rules")
            s.wait("the demo's rules are listed", lambda: s.els(tid("rule-row-capacity_gate")))
            s.shot("rules")
            s.el(tid("new-rule")).click()
            s.fill(tid("new-rule-id"), "e2e_gate")
            s.el(tid("new-rule-create")).click()
            s.wait("the editor opens", lambda: s.els(tid("rule-editor")))
            # A syntax error on line 2: the engine's own compiler places it.
            s.editor()
            s.chord(Keys.CONTROL, "a")
            s.keys(Keys.DELETE, "//! on: capacity_changed", Keys.ENTER, "let x = ;")
            s.wait("the diagnostic is at line 2",
                   lambda: s.els(tid("rule-diagnostic")) and "line 2" in s.text(tid("rule-diagnostic")))
            s.shot("rules-diagnostic")
            # Fixed and saved: version 1, enabled.
            s.editor()
            s.chord(Keys.CONTROL, "a")
            s.keys(Keys.DELETE, "//! on: capacity_changed", Keys.ENTER,
                   "if team == () { return; }", Keys.ENTER,
                   'if team.utilisation >= 0.9 && !campaign.paused { return pause("full"); }')
            s.wait("the source compiles", lambda: not s.els(tid("rule-diagnostic")))
            s.chord(Keys.CONTROL, "s")
            s.wait("version 1 is saved", lambda: s.els(tid("rule-saved")) and "version 1" in s.text(tid("rule-saved")))
            s.editor()
            s.chord(Keys.CONTROL, Keys.END)
            s.keys(Keys.ENTER, "let spare = 1;")
            s.chord(Keys.CONTROL, "s")
            s.wait("version 2 is saved", lambda: "Version 2" in s.text(tid("rule-saved")))
            # The history: version 1 beside version 2, then back to version 1's source.
            s.el(tid("tab-history")).click()
            s.wait("the two versions side by side", lambda: s.els(tid("rule-diff-side")))
            side = s.js("return document.querySelector('[data-testid=\"rule-diff-side\"]').shadowRoot.textContent")
            assert "let spare = 1;" in side, side
            s.shot("rules-diff")
            s.el(tid("rule-rollback")).click()
            s.el(tid("rollback-confirm-yes")).click()
            s.wait("version 3 has version 1's source",
                   lambda: s.els(tid("rule-rolled-back")) and "version 3" in s.text(tid("rule-rolled-back")))
            assert not s.els(tid("rule-edited-e2e_gate")), \
                s.js("return localStorage.getItem('leadorch.rules.drafts')")
            # A dry run records nothing.
            before = head()
            s.el(tid("tab-dry-run")).click()
            s.el(tid("dry-run-start")).click()
            s.wait("the dry run answers", lambda: s.els(tid("dry-run-nothing-recorded")))
            assert head() == before, "the dry run wrote to the log"
            s.shot("rules-dry-run")
            # The demo's capacity gate backtested over the demo's morning.
            s.go("r", "/rules")
            s.el(tid("rule-row-capacity_gate")).click()
            s.wait("its tabs show", lambda: s.els(tid("tab-backtest")))
            s.el(tid("tab-backtest")).click()
            # Date-time fields in local time (the test runs in UTC).
            s.set_input(tid("backtest-from"), "2026-03-02T00:00")
            s.set_input(tid("backtest-to"), "2026-03-03T00:00")
            s.el(tid("backtest-start")).click()
            s.wait("the backtest is charted",
                   lambda: s.els(tid("backtest-summary")) and (s.els(tid("backtest-chart") + " canvas")
                                                               or s.els(tid("backtest-chart-failure"))))
            assert not s.els(tid("backtest-chart-failure")), s.text(tid("backtest-chart-failure"))
            s.shot("rules-backtest")
            s.el(tid("tab-fixtures")).click()
            s.wait("the fixtures are offered", lambda: s.els(tid("fixture-pick")))
            options = [o.get_attribute("value") for o in s.els(tid("fixture-pick") + " option")]
            dwell = next(v for v in options if v and "capacity_gate" in v)
            s.js(f"const e = document.querySelector('[data-testid=\"fixture-pick\"]');"
                 f"e.value = {dwell!r}; e.dispatchEvent(new Event('change', {{bubbles: true}}))")
            s.el(tid("fixture-run")).click()
            s.wait("the fixture ran", lambda: s.els(tid("fixture-verdict")))
            assert s.attr(tid("fixture-verdict"), "data-passed") == "true", s.text(tid("fixture-verdict"))
            s.shot("rules-fixtures")
        finally:
            s.close()

    def the_keyboard_alone_reaches_the_last_event_and_replays_it(port=4444):
        s = Views(port)
        try:
            s.opened()
            s.chord(Keys.CONTROL, "k")
            s.wait("the palette opens", lambda: s.focused() == "palette-input")
            s.keys("audit")
            s.keys(Keys.ENTER)
            s.wait("the audit log has the focus", lambda: s.focused() == "view-title")
            for _ in range(40):
                if s.js("return document.activeElement.dataset.testid") == "audit-list":
                    break
                s.keys(Keys.TAB)
            assert s.js("return document.activeElement.dataset.testid") == "audit-list"
            n = head()
            s.keys(Keys.END)
            s.wait("the last event is selected",
                   lambda: s.attr(tid("audit-row", f'[data-position="{n}"]'), "aria-selected") == "true")
            s.keys(Keys.ENTER)
            s.wait("its detail opens", lambda: s.attr(tid("event-detail"), "data-position") == str(n))
            s.keys(Keys.ESCAPE)
            s.wait("the detail closes", lambda: not s.els(tid("event-detail")))
            s.js("document.activeElement && document.activeElement.blur()")
            s.keys("g", "t")
            s.wait("replay shows now", lambda: s.els(tid("replay-campaign-row")))
            for _ in range(40):
                if s.focused() == "replay-scrubber":
                    break
                s.keys(Keys.TAB)
            assert s.focused() == "replay-scrubber", s.focused()
            s.keys(Keys.HOME)
            s.wait("the first event is replayed", lambda: "at=1" in s.hash())
            s.js("document.activeElement && document.activeElement.blur()")
            s.keys("n")
            s.wait("back to now", lambda: "at=" not in s.hash())
        finally:
            s.close()

    def the_keyboard_flow_as_the_app_draws_here_by_default():
        """The same flow in an app drawing as it chooses on this machine (without compositing
        where there is no GPU, ADR 0043); this flow takes no screenshot, which would hang."""
        the_keyboard_alone_reaches_the_last_event_and_replays_it(4448)

    def dark_theme_on_every_view():
        """Every view in the dark theme, each photographed once it shows the demo's data."""
        s = Views()
        try:
            s.opened()
            s.el("#theme-dark").click()
            s.wait("the window turns dark", lambda: s.theme() == "dark")
            s.go("d", "/dashboard")
            s.click(tid("dashboard-range-to-newest"))
            s.wait("the demo's morning is drawn", lambda: s.els(tid("dashboard-chart")))
            s.shot("dashboard-dark")
            for letter, path, ready, name in (
                    ("l", "/audit", tid("audit-row"), "audit-dark"),
                    ("t", "/replay", tid("replay-campaign-row"), "replay-dark"),
                    ("r", "/rules", tid("rule-list"), "rules-dark"),
                    ("m", "/teams", tid("teams"), "teams-dark"),
                    ("o", "/settings", "#connection-panel", "settings-dark")):
                s.go(letter, path)
                s.wait(f"{path} shows", lambda: s.els(ready))
                assert s.theme() == "dark", f"{path} is drawn {s.theme()}"
                s.shot(name)
            # Leads: one of the demo's, found by its id, with its history.
            stream = one(demo_db, "SELECT stream_id FROM events WHERE event_type = 'LeadReceived' "
                                  "ORDER BY position DESC LIMIT 1")[0]
            s.go("s", "/leads")
            s.fill(tid("lead-search"), stream.rsplit(":", 1)[-1])
            s.click(tid("lead-search-submit"))
            s.wait("the demo's lead shows with its history", lambda: s.els(tid("lead-history")))
            s.shot("leads-dark")
            s.el("#theme-system").click()
        finally:
            s.close()

    def a_decision_by_the_daemon_reaches_the_dashboards_chart_without_a_reload():
        """An operator's rule, saved and enabled with the CLI, holds BE Generic paused; a daemon
        started on the demo's database (the simulated account) acts on it at the rule's next
        tick, and the open Dashboard marks the decision on its chart and lists it, as it is
        recorded, with no reload of the page. (A capacity reading pushed over the API would
        make the database hold real data, which the simulated account refuses to act on.)"""
        s = Views(4455)
        daemon = None
        try:
            s.opened()
            # The last 24 hours, as the view opens: the demo's decisions were made on 2026-03-02.
            s.wait("the dashboard shows its range", lambda: s.els(tid("dashboard-decision-count")))
            s.js("window.__sameDocument = true")
            positions = lambda: [int(e.get_attribute("data-position")) for e in s.els(tid("dashboard-decision"))]
            marks = lambda: int(s.attr(tid("dashboard-chart"), "data-marks") or 0) if s.els(tid("dashboard-chart")) else 0
            last_before = one(live_db, "SELECT MAX(position) FROM events WHERE event_type = 'ChangeRequested'")[0]
            marks_before = marks()
            rule = live / "hold_be.rhai"
            rule.write_text("//! The operator holds BE Generic paused.\n//! priority: 200\n"
                            "//! scope: ids=123-456-7890/1004\n//! every: 30s\n"
                            "if !campaign.paused {\n    pause(\"held paused by the operator's rule\")\n}\n")
            for args in (["rules", "save", str(rule)], ["rules", "enable", "hold_be"]):
                subprocess.run([str(CLI), *args], env=live_env, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            daemon = subprocess.Popen([str(CLI), "daemon", "--adapter", "sim", "--listen", "127.0.0.1:0"],
                                      env=live_env, stderr=subprocess.PIPE, text=True)
            addr = None
            said = []
            deadline = time.time() + 120
            while time.time() < deadline:
                line = daemon.stderr.readline()
                said.append(line)
                if not line:
                    raise AssertionError(f"the daemon stopped before leading: {''.join(said)}")
                if "HTTP API on http://" in line:
                    addr = "http://" + line.split("http://", 1)[1].split()[0]
                if "leadorch daemon: leading" in line:
                    break
            assert addr, "the daemon did not say where its API is"
            # Drain its output from here on, so it never blocks on a full pipe.
            threading.Thread(target=lambda: said.extend(daemon.stderr), daemon=True).start()
            try:
                s.wait("a decision the daemon made is listed",
                       lambda: any(p > last_before for p in positions()), seconds=180)
            except AssertionError as e:
                raise AssertionError(f"{e}\nthe daemon said:\n{''.join(said)}") from None
            s.wait("and marked on the chart", lambda: marks() > marks_before)
            assert s.js("return window.__sameDocument === true"), "the page was reloaded"
            new = [e for e in s.els(tid("dashboard-decision")) if int(e.get_attribute("data-position")) > last_before]
            recorded = one(live_db, "SELECT COUNT(*) FROM events WHERE event_type = 'ChangeRequested' "
                                    "AND position > ?", last_before)[0]
            assert recorded >= len(new) > 0, (recorded, len(new))
            s.shot("dashboard-live-decision")
        finally:
            if daemon:
                daemon.terminate()
                daemon.wait(timeout=60)
            s.close()

    def the_operators_day_dashboard_teams_leads_settings():
        """Issue 17's views on the demo: the dashboard's campaigns; a team's limit edited and
        its gauge moved; a lead found by email, its subject exported to a file and erased; the
        API keys in Settings."""
        s = Views()
        try:
            s.opened()
            s.wait("the dashboard lists the demo's campaigns", lambda: s.els(tid("dashboard-campaign-row")))
            # The demo's teams were never defined; the campaigns name them, and their gauges show.
            s.wait("the demo's team sales-nl has its gauge",
                   lambda: s.els(tid("dashboard-team", '[data-team="sales-nl"]') + " " + tid("dashboard-open-leads")))
            assert s.text("h1").strip() == "Dashboard", f"the app opens on the Dashboard: {s.text('h1')!r}"
            # The demo happened on 2026-03-02: the last 24 hours hold nothing, and the view says
            # when the newest activity was, with the same span up to it one click away.
            s.wait("the dashboard says the last 24 hours hold nothing",
                   lambda: s.els(tid("dashboard-range-empty")))
            assert "Mar 2, 2026" in s.text(tid("dashboard-range-empty")), s.text(tid("dashboard-range-empty"))
            s.click(tid("dashboard-range-to-newest"))
            s.wait("the demo's morning is drawn, its decisions marked",
                   lambda: s.els(tid("dashboard-chart")) and int(s.attr(tid("dashboard-chart"), "data-marks") or 0) > 0)
            assert "from=2026-03-0" in s.hash(), s.hash()
            s.shot("dashboard")

            s.go("m", "/teams")
            s.click(tid("team-row-sales-e2e"))
            s.wait("the team's form shows", lambda: s.els(tid("team-max")))
            s.wait("its gauge reads the limit", lambda: s.attr(tid("capacity-gauge"), "data-max") == "10")
            limits = lambda: one(demo_db, "SELECT COUNT(*) FROM events WHERE event_type = 'MaxOpenLeadsSet' "
                                          "AND stream_id LIKE '%sales-e2e'")[0]
            before = limits()
            s.fill(tid("team-max"), "12")
            s.click(tid("team-save"))
            s.wait("the gauge moves to the new limit", lambda: s.attr(tid("capacity-gauge"), "data-max") == "12")
            assert limits() == before + 1, f"the edit is one event ({before} then {limits()})"
            s.shot("teams")

            s.go("s", "/leads")
            s.fill(tid("lead-search"), E2E_EMAIL)
            s.click(tid("lead-search-submit"))
            s.wait("the lead found by its email opens", lambda: s.els(tid("lead-detail")))
            assert "e2e-1" in s.text(tid("lead-detail")), s.text(tid("lead-detail"))
            assert E2E_EMAIL not in s.hash(), "the email stays out of the route"
            s.wait("its consent evidence shows", lambda: "I agree to be called" in s.body())
            s.shot("leads")
            s.click(tid("subject-export"))
            s.wait("the export is saved", lambda: s.els(tid("export-result")))
            saved = list(exports.glob("*.json"))
            assert len(saved) == 1, saved
            exported = saved[0].read_text()
            assert E2E_EMAIL in exported and "e2e-1" in exported, exported[:300]
            assert (saved[0].stat().st_mode & 0o777) == 0o600, oct(saved[0].stat().st_mode)
            s.click(tid("subject-erase"))
            s.fill(tid("erase-input"), lead)
            s.click(tid("erase-submit"))
            s.wait("the erasure is done", lambda: s.els(tid("erase-result")))
            s.wait("the person's fields read erased", lambda: E2E_EMAIL not in s.body())

            s.go("o", "/settings")
            s.wait("the API keys are listed", lambda: "e2e-forms" in s.body())
            s.shot("settings")
        finally:
            s.close()

    def remote_mode_shows_the_daemons_campaigns_and_log():
        """Settings → Connection: a daemon (`leadorch serve` over the same demo database, so
        the same campaigns and log) with an API key; the app switches, shows the daemon's
        address and the same campaigns and audit log, and switches back."""
        key = subprocess.run([str(CLI), "keys", "create", "--name", "e2e-desktop", "--scopes", "read,rules,admin"],
                             env=demo_env, check=True, capture_output=True, text=True).stdout.strip()
        server = subprocess.Popen([str(CLI), "serve", "--listen", "127.0.0.1:0"], env=demo_env,
                                  stderr=subprocess.PIPE, text=True)
        s = Views()
        try:
            addr = server.stderr.readline().split("listening on ", 1)[1].split()[0]
            s.opened()
            s.wait("the demo's campaigns", lambda: s.els(tid("dashboard-campaign-row")))
            local_campaigns = sorted(r.get_attribute("data-campaign") for r in s.els(tid("dashboard-campaign-row")))
            s.go("o", "/settings")
            s.click("#connection-remote")
            s.fill("#connection-url", addr)
            s.fill("#connection-key", "lo_default_not-a-real-key")
            s.click("#connection-switch")
            s.wait("a wrong key is refused by name", lambda: "refused the key" in s.body())
            s.fill("#connection-key", key)
            s.click("#connection-switch")
            s.wait("the app talks to the daemon", lambda: f"{addr} (sqlite)" in s.body())
            s.js("location.hash = '#/dashboard'")
            s.wait("the daemon's campaigns", lambda: s.els(tid("dashboard-campaign-row")))
            remote_campaigns = sorted(r.get_attribute("data-campaign") for r in s.els(tid("dashboard-campaign-row")))
            assert remote_campaigns == local_campaigns, (remote_campaigns, local_campaigns)
            s.go("l", "/audit")
            s.wait("the daemon's audit log", lambda: s.els(tid("audit-row")))
            s.shot("remote-audit")
            # Every other view, through the daemon.
            for letter, path, ready in (("r", "/rules", tid("rule-list")),
                                        ("t", "/replay", tid("replay-campaign-row")),
                                        ("m", "/teams", tid("team-row-sales-e2e")),
                                        ("a", "/accounts", "#connect-remote")):
                s.go(letter, path)
                s.wait(f"{path} through the daemon", lambda: s.els(ready))
                s.shot(f"remote-{path.strip('/')}")
            s.go("s", "/leads")
            s.fill(tid("lead-search"), lead)
            s.click(tid("lead-search-submit"))
            s.wait("a lead through the daemon", lambda: s.els(tid("lead-history")))
            s.shot("remote-leads")
            asked = {r for (r,) in one_all(
                demo_db, "SELECT DISTINCT a.method || ' ' || a.route FROM access_log a "
                         "JOIN api_keys k ON k.key_id = a.key_id WHERE k.name = 'e2e-desktop'")}
            for want in ("GET /v1/campaigns", "GET /v1/events", "GET /v1/rules", "GET /v1/teams",
                         "GET /v1/leads/{id}", "GET /v1/google/accounts"):
                assert want in asked, f"{want} never reached the daemon: {sorted(asked)}"
            s.go("o", "/settings")
            s.click("#connection-local")
            s.click("#connection-switch")
            s.wait("back on the local database",
                   lambda: "Master key: OS keyring" in s.body() and f"{addr} (sqlite)" not in s.body())
        finally:
            s.close()
            server.terminate()
            server.wait(timeout=30)
            # Whatever happened, the next tests open the local database.
            (demo / "desktop-connection.json").unlink(missing_ok=True)

    def audit_log_over_the_seeded_log():
        s = Views(4446)
        try:
            s.opened()
            n = one(Path(os.environ["SEEDED"]) / "leadorch.db", "SELECT MAX(position) FROM events")[0]
            s.go("l", "/audit")
            s.wait("the first event is listed", lambda: s.els(tid("audit-row", '[data-position="1"]')))
            s.wait("the total is the log's length",
                   lambda: s.attr(tid("audit-total"), "aria-label") == f"{n} events")
            s.el(tid("audit-end")).click()
            s.wait("the last event is listed", lambda: s.els(tid("audit-row", f'[data-position="{n}"]')))
            s.shot("audit-seeded")
        finally:
            s.close()

    def replay_over_the_seeded_log_shows_progress_then_moves_from_kept_views():
        s = Views(4446)
        try:
            s.opened()
            n = one(Path(os.environ["SEEDED"]) / "leadorch.db", "SELECT MAX(position) FROM events")[0]
            s.go("t", "/replay")
            # The first replay in the app folds the million events (seconds in a debug build):
            # its progress is shown as it reads them.
            bar = tid("replay-progress")
            s.wait("the replay's progress is shown",
                   lambda: int(s.attr(bar, "aria-valuenow") or 0) > 0
                   and int(s.attr(bar, "aria-valuemax") or 0) >= n)
            s.shot("replay-progress-seeded")
            s.wait("now is replayed", lambda: s.els(tid("replay-campaign-row")) and not s.els(bar))
            # An earlier moment starts from a kept view: answered, its position shown.
            half = n // 2
            s.fill(tid("replay-position-input"), str(half))
            s.keys(Keys.ENTER)
            s.wait("the earlier moment is replayed",
                   lambda: f"at={half}" in s.hash() and s.els(tid("replay-campaign-row")) and not s.els(bar))
            shown = int(s.el(tid("replay-position")).text.replace(",", ""))
            assert 0 < shown <= half, f"position {shown} shown for a replay at {half}"
            s.shot("replay-seeded")
        finally:
            s.close()

    passed, failed = 0, 0
    tests = [audit_log_lists_filters_and_reaches_the_last_event,
             a_subject_is_revealed_then_erased_and_its_fields_are_gone,
             the_chain_is_verified_with_progress,
             replay_shows_an_earlier_moment_and_why_from_an_evaluation,
             a_rule_is_written_checked_saved_diffed_rolled_back_dry_run_backtested_and_tested,
             the_keyboard_alone_reaches_the_last_event_and_replays_it,
             the_keyboard_flow_as_the_app_draws_here_by_default,
             the_operators_day_dashboard_teams_leads_settings,
             remote_mode_shows_the_daemons_campaigns_and_log,
             dark_theme_on_every_view,
             a_decision_by_the_daemon_reaches_the_dashboards_chart_without_a_reload]
    if seeded:
        tests += [audit_log_over_the_seeded_log,
                  replay_over_the_seeded_log_shows_progress_then_moves_from_kept_views]
    try:
        for port in (4444, 4445, 4448, 4449, 4455, 4456) + ((4446, 4447) if seeded else ()):
            wait_port(port)
        # Each test opens the app afresh; one failing does not stop the others.
        passed, failed = run_tests(tests, stop_at_failure=False)
    finally:
        driver.terminate()
        driver3.terminate()
        driver4.terminate()
        driver4.wait(timeout=30)
        if driver2:
            driver2.terminate()
        for d in (driver, driver2, driver3):
            if d:
                d.wait(timeout=30)
        # The seeded copy is a gigabyte.
        shutil.rmtree(work, ignore_errors=True)
    print(f"test result: {'ok' if failed == 0 else 'FAILED'}. {passed} passed; {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
