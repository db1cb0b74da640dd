#!/usr/bin/env python3
"""End-to-end test of the operators' app in a browser (issue 17, ADR 0044): `leadorch serve
--ui desktop/dist` over a `leadorch demo` database, driven with Playwright in Debian's
Chromium (headless). The page signs in with an API key, shows the demo's campaigns on the
Dashboard, reaches the audit log and Settings from the keyboard, refuses a wrong key by
name, and forgets the key when signed out.

Run by tests/run as:  python tests/desktop/browser_e2e.py
Needs: CLI (the leadorch binary, from e2e.py's TARGET), desktop/dist built, Chromium
(`chromium` on PATH, or CHROMIUM), and the playwright package (no downloaded browser).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from e2e import CLI

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("TARGET", ROOT / "target")) / "browser-e2e"


def chromium():
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        sys.exit("browser_e2e: no Chromium (apt install chromium, or set CHROMIUM)")
    return found


def main():
    work = Path(tempfile.mkdtemp(prefix="leadorch-browser-e2e-"))
    SHOTS.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "LEADORCH_CONFIG", "LEADORCH_MASTER_KEY",
                        "LEADORCH_MASTER_KEY_FILE", "LEADORCH_HOME", "LEADORCH_UI")}
    db = work / "leadorch.db"
    env.update(DATABASE_URL=f"sqlite://{db}", LEADORCH_HOME=str(work))
    subprocess.run([str(CLI), "demo", "--minutes", "120", "--db", str(db)], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    key = subprocess.run([str(CLI), "keys", "create", "--name", "browser", "--scopes", "read,rules,admin"],
                         env=env, check=True, capture_output=True, text=True).stdout.strip()
    server = subprocess.Popen([str(CLI), "serve", "--listen", "127.0.0.1:0", "--ui", str(ROOT / "desktop/dist")],
                              env=env, stderr=subprocess.PIPE, text=True)
    failed = []
    try:
        addr = server.stderr.readline().split("listening on ", 1)[1].split()[0]
        assert server.stderr.readline().strip() == f"leadorch serve: the operators' app at {addr}/"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), headless=True,
                                        args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            problems = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            missing = []
            page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)

            def step(name, check):
                started = time.time()
                try:
                    check()
                    print(f"  ok  {name} ({time.time() - started:.1f} s)")
                except Exception as e:  # noqa: BLE001 - every failure is reported, then the next step runs
                    failed.append(name)
                    page.screenshot(path=str(SHOTS / f"failed-{re.sub(r'[^a-z]+', '-', name.lower())}.png"))
                    print(f"  FAILED  {name}: {e}")

            def signs_in_refusing_a_wrong_key_first():
                page.goto(f"{addr}/")
                expect(page.locator("#signin-url")).to_have_value(addr)
                page.fill("#signin-key", "lo_default_not-a-real-key")
                page.click("#signin-submit")
                expect(page.locator("#signin-key-hint")).to_contain_text("refused", timeout=30_000)
                page.fill("#signin-key", key)
                page.click("#signin-submit")
                expect(page.locator('[data-testid="dashboard-campaign-row"]').first).to_be_visible(timeout=60_000)
                expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
                assert key not in page.evaluate("JSON.stringify(localStorage)"), "the key stays out of localStorage"
                assert key in page.evaluate("JSON.stringify(sessionStorage)"), "the tab keeps the key"
                page.screenshot(path=str(SHOTS / "dashboard.png"))

            def the_keyboard_reaches_the_audit_log_and_settings():
                page.locator("body").click(position={"x": 5, "y": 5})
                page.keyboard.press("Escape")
                page.keyboard.press("g")
                page.keyboard.press("l")
                expect(page.locator('[data-testid="audit-row"]').first).to_be_visible(timeout=60_000)
                page.screenshot(path=str(SHOTS / "audit.png"))
                page.keyboard.press("g")
                page.keyboard.press("o")
                expect(page.locator('[data-testid="keys-panel"]')).to_contain_text("browser", timeout=60_000)
                expect(page.locator('[data-testid="connection-panel"]')).to_contain_text(addr)
                page.screenshot(path=str(SHOTS / "settings.png"))

            def sign_out_forgets_the_key():
                page.click("#sign-out")
                expect(page.locator("#signin-key")).to_be_visible(timeout=30_000)
                assert key not in page.evaluate("JSON.stringify(sessionStorage)"), "the key is forgotten"
                page.reload()
                expect(page.locator("#signin-key")).to_be_visible(timeout=30_000)

            step("signs in, refusing a wrong key first", signs_in_refusing_a_wrong_key_first)
            step("the keyboard reaches the audit log and settings", the_keyboard_reaches_the_audit_log_and_settings)
            step("sign out forgets the key", sign_out_forgets_the_key)
            # The app's own errors, not the refused key's 401 that the browser logs.
            unexpected = [m for m in problems if "401" not in m]
            if missing:
                unexpected.append(f"not found: {missing}")
            if unexpected:
                failed.append("no errors in the console")
                print("  FAILED  no errors in the console:", *unexpected[:8], sep="\n    ")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    checks = 4  # the three steps and the console
    print(f"test result: {'ok' if not failed else 'FAILED'}. {checks - len(failed)} passed; {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
