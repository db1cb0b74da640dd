#!/usr/bin/env python3
"""End-to-end test of the desktop app: the real window (Tauri, WebKitGTK) driven over
WebDriver (tauri-driver) under Xvfb, a real Secret Service (GNOME Keyring) as the OS
keyring, the fake Google OAuth and Ads servers, and the CLI on the same database.

Run by tests/run as:  xvfb-run -a dbus-run-session -- python tests/desktop/e2e.py
Needs: TARGET (the cargo target dir with debug/leadorch, debug/leadorch-desktop and
debug/leadorch-fakes built), tauri-driver and WebKitWebDriver on PATH, gnome-keyring-daemon
and secret-tool.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.support.ui import WebDriverWait

HERE = Path(__file__).resolve().parent
TARGET = Path(os.environ["TARGET"]).resolve()
APP = TARGET / "debug" / "leadorch-desktop"
CLI = TARGET / "debug" / "leadorch"
FAKES = TARGET / "debug" / "leadorch-fakes"
CUSTOMER = "1234567890"


def wait_port(port, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


def start_fakes():
    """Starts the fake Google; returns the process and the LEADORCH_GOOGLE_* it prints."""
    proc = subprocess.Popen([str(FAKES)], stdout=subprocess.PIPE, text=True)
    env = {}
    for line in proc.stdout:
        if line.startswith("export "):
            name, _, value = line[len("export "):].strip().partition("=")
            env[name] = value
        if line.startswith("Ctrl-C"):
            break
    if "LEADORCH_GOOGLE_CLIENT_ID" not in env:
        raise RuntimeError("the fakes did not say where they listen")
    return proc, env


class Session:
    """One run of the app through the tauri-driver on `port`."""

    def __init__(self, port=4444):
        opts = ArgOptions()
        opts.set_capability("browserName", "wry")
        opts.set_capability("tauri:options", {"application": str(APP)})
        self.driver = webdriver.Remote(f"http://127.0.0.1:{port}", options=opts)

    def text(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css).text

    def present(self, css):
        return bool(self.driver.find_elements(By.CSS_SELECTOR, css))

    def js(self, script):
        return self.driver.execute_script(script)

    def theme(self):
        return self.js("return document.documentElement.dataset.theme")

    def focused(self):
        """The id of the element that has the keyboard focus."""
        return self.js("return document.activeElement && document.activeElement.id")

    def keys(self, *keys):
        """Types at whatever has the focus, as a user at the keyboard."""
        ActionChains(self.driver).send_keys(*keys).perform()

    def chord(self, modifier, key):
        ActionChains(self.driver).key_down(modifier).send_keys(key).key_up(modifier).perform()

    def opened(self):
        """Waits until the app has opened its database; returns the key's check value."""
        self.wait("the app opens its database", lambda: self.present("#master-key-check"))
        return self.text("#master-key-check").removeprefix("check").strip()

    def accounts(self):
        """Shows the Accounts view (the app opens on the Dashboard)."""
        self.js("location.hash = '#/accounts'")
        self.wait("the Accounts view shows", lambda: self.present("#connect-form"))

    # The limits only end a hung run: a debug app on a busy machine can take many seconds.
    def wait(self, what, check, seconds=120):
        try:
            return WebDriverWait(self.driver, seconds, poll_frequency=0.2).until(
                lambda d: check())
        except TimeoutException:
            self.shot("timeout")
            raise AssertionError(f"{what}: not within {seconds} s; page says: "
                                 f"{self.js('return document.body.innerText')!r}")

    def shot(self, name):
        self.driver.save_screenshot(str(TARGET / f"desktop-e2e-{name}.png"))

    def close(self):
        self.driver.quit()


def keyring_secret(database):
    out = subprocess.run(
        ["secret-tool", "lookup", "service", "leadorch", "username", f"master-key {database}"],
        capture_output=True, text=True)
    return out.stdout.strip()


def files_contain(folder, needle):
    return any(needle in p.read_bytes() for p in Path(folder).iterdir() if p.is_file())


def keep_compositing_for_screenshots():
    """WebKitWebDriver's screenshots never return while WebKit draws without accelerated
    compositing, which the app chooses where there is no GPU (ADR 0043); these tests take
    screenshots, so their apps composite (a value the user set is kept)."""
    os.environ.setdefault("WEBKIT_DISABLE_COMPOSITING_MODE", "0")


def start_keyring(work):
    """A fresh Secret Service for this run: a login collection under `work` (the home of
    this process and what it starts), unlocked with a throwaway password."""
    os.environ["HOME"] = str(work)
    os.environ["XDG_DATA_HOME"] = str(work / "share")
    subprocess.run(["gnome-keyring-daemon", "--unlock", "--components=secrets", "--daemonize"],
                   input="e2e", text=True, check=True, capture_output=True)


def run_tests(tests, stop_at_failure):
    """Runs each test, printing cargo's lines for it; stops at the first failure when the
    tests build on each other. Returns (passed, failed)."""
    passed, failed = 0, 0
    for test in tests:
        started = time.time()
        try:
            test()
            passed += 1
            print(f"test desktop::{test.__name__} ... ok ({time.time() - started:.1f} s)")
        except Exception:
            failed += 1
            print(f"test desktop::{test.__name__} ... FAILED")
            traceback.print_exc()
            if stop_at_failure:
                break
    return passed, failed


def main():
    work = Path(tempfile.mkdtemp(prefix="leadorch-desktop-e2e-"))
    data = work / "data"
    database = f"sqlite://{data / 'leadorch.db'}"
    start_keyring(work)
    keep_compositing_for_screenshots()
    fakes, google = start_fakes()
    env = dict(os.environ)
    env.update(google)
    for name in ("DATABASE_URL", "LEADORCH_CONFIG", "LEADORCH_MASTER_KEY", "LEADORCH_MASTER_KEY_FILE"):
        env.pop(name, None)
    env["LEADORCH_HOME"] = str(data)
    env["BROWSER"] = str(HERE / "browser.py")
    slow_user = work / "slow-user"
    env["LEADORCH_E2E_SLOW_USER"] = str(slow_user)
    driver = subprocess.Popen(["tauri-driver", "--port", "4444"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    passed, failed = 0, 0  # (for the finally clause, should a port never open)
    check_value = {}

    def connect_from_the_window():
        s = Session()
        try:
            check_value["first"] = s.opened()
            assert len(check_value["first"]) == 12, check_value
            assert s.text("#master-key") == "Master key: OS keyring (new key)", s.text("#master-key")
            # The address is cut to fit the top bar (whole in its tooltip).
            database = s.js("return document.getElementById('database').textContent").strip()
            assert database == f"sqlite://{data / 'leadorch.db'}", database
            # The app opens on the Dashboard, which tells a new user what to do first.
            s.wait("the dashboard says there are no campaigns yet",
                   lambda: s.present("#dashboard-no-campaigns"))
            assert "Connect a Google account" in s.text("#dashboard-no-campaigns"), \
                s.text("#dashboard-no-campaigns")
            s.shot("dashboard-empty")
            s.accounts()
            # A new user is told what to do.
            assert s.driver.find_element(By.ID, "no-accounts").is_displayed()
            assert "Connect Google account" in s.text("#no-accounts"), s.text("#no-accounts")
            assert s.theme() == "light", s.theme()
            s.driver.find_element(By.ID, "account-name").send_keys("agency-main")
            s.driver.find_element(By.ID, "connect").click()
            row = '#accounts tr[data-account="agency-main"]'
            s.wait("the account is listed as connected",
                   lambda: s.driver.find_elements(By.CSS_SELECTOR, row)
                   and s.text(row + " .status") == "Connected")
            assert s.text(row + " .customers") == CUSTOMER, s.text(row)
            assert s.text("#consent-status") == \
                f"Connected agency-main: 1 customer(s) {CUSTOMER}", s.text("#consent-status")
            assert not s.present("#no-accounts")
            s.shot("accounts-light")
        finally:
            s.close()
        # The master key is in the keyring, not in a file; the grant is sealed.
        secret = keyring_secret(database)
        assert len(secret) == 44, f"keyring entry for {database}: {secret!r}"
        assert not (data / "master.key").exists(), "the desktop wrote a key file"
        assert not files_contain(data, secret.encode()), "master key in a database file"
        assert not files_contain(data, b"1//fake-"), "refresh token in clear"
        # The CLI finds the key in the keyring by itself (nothing to copy into
        # LEADORCH_MASTER_KEY) and opens the same grant with it; it writes no key file.
        out = subprocess.run([str(CLI), "google", "list", "--json"], env=env,
                             capture_output=True, text=True, check=True)
        row = json.loads(out.stdout)
        assert row["account"] == "agency-main" and row["status"] == "connected", out.stdout
        assert row["customers"] == [CUSTOMER], out.stdout
        out = subprocess.run([str(CLI), "init"], env=env, capture_output=True, text=True, check=True)
        assert "master key from the OS keyring (the desktop's entry for this database)" in out.stdout, \
            out.stdout
        assert not (data / "master.key").exists(), "the CLI made a key file beside the keyring's key"
        assert secret not in out.stdout + out.stderr, "the CLI printed the master key"

    def the_next_start_uses_the_same_key():
        s = Session()
        try:
            assert s.opened() == check_value["first"], s.text("#where")
            assert s.text("#master-key") == "Master key: OS keyring", s.text("#master-key")
            s.accounts()
            row = '#accounts tr[data-account="agency-main"]'
            s.wait("the account is still listed",
                   lambda: s.driver.find_elements(By.CSS_SELECTOR, row))
            assert s.text(row + " .status") == "Connected"
            assert not s.present("#no-accounts")
            s.shot("restarted")
        finally:
            s.close()

    def the_consent_page_is_shown_while_waiting():
        slow_user.touch()
        s = Session()
        try:
            s.opened()
            s.accounts()
            s.driver.find_element(By.ID, "account-name").send_keys("second")
            s.driver.find_element(By.ID, "connect").click()
            s.wait("the consent page's address is shown",
                   lambda: s.driver.find_elements(By.ID, "consent-page")
                   and s.text("#consent-page").startswith(google["LEADORCH_GOOGLE_OAUTH_AUTH_URL"]))
            url = s.text("#consent-page")
            for part in ("code_challenge_method=S256", "access_type=offline", "state="):
                assert part in url, url
            assert not s.driver.find_element(By.ID, "connect").is_enabled(), "one consent at a time"
            # The user opens the address by hand and consents.
            with urllib.request.urlopen(url, timeout=30) as page:
                page.read()
            row = '#accounts tr[data-account="second"]'
            s.wait("the second account is connected",
                   lambda: s.driver.find_elements(By.CSS_SELECTOR, row)
                   and s.text(row + " .status") == "Connected")
            assert s.driver.find_element(By.ID, "connect").is_enabled()
        finally:
            s.close()
            slow_user.unlink()

    def dark_theme_is_chosen_and_remembered():
        s = Session()
        try:
            s.opened()
            s.accounts()
            assert s.theme() == "light", s.theme()
            s.driver.find_element(By.ID, "theme-dark").click()
            s.wait("the window turns dark", lambda: s.theme() == "dark")
            # The colours changed, not just an attribute: the page's background is dark.
            bg = s.js("return getComputedStyle(document.body).backgroundColor")
            rgb = [int(x) for x in bg[bg.index("(") + 1:bg.index(")")].split(",")[:3]]
            assert sum(rgb) < 3 * 64, bg
            assert s.driver.find_element(By.ID, "theme-dark").get_attribute("aria-checked") == "true"
            s.wait("the accounts are listed",
                   lambda: s.present('#accounts tr[data-account="second"]'))
            s.shot("accounts-dark")
        finally:
            s.close()
        s = Session()
        try:
            s.opened()
            assert s.theme() == "dark", "the choice was not remembered"
            s.driver.find_element(By.ID, "theme-system").click()
            s.wait("back to the system's (light) theme", lambda: s.theme() == "light")
        finally:
            s.close()

    def the_keyboard_alone_connects_an_account():
        s = Session()
        try:
            s.opened()
            # The palette, from the keyboard, to the Accounts view.
            s.chord(Keys.CONTROL, "k")
            s.wait("the palette opens with the focus in it", lambda: s.focused() == "palette-input")
            s.keys("accounts")
            s.wait("the palette filters to what matches",
                   lambda: not s.present("#palette-item-theme-dark")
                   and s.present("#palette-item-go-accounts"))
            assert s.text("#palette [aria-selected=true]").startswith("Go to Accounts")
            s.shot("palette")
            s.keys(Keys.ENTER)
            s.wait("the Accounts view has the focus", lambda: s.focused() == "view-title")
            assert not s.present("#palette")
            assert s.js("return location.hash") == "#/accounts"
            # An action from the palette, then the form, without the mouse.
            s.chord(Keys.CONTROL, "k")
            s.wait("the palette opens again", lambda: s.focused() == "palette-input")
            s.keys("connect google")
            s.keys(Keys.ENTER)
            s.wait("the cursor is in the account name", lambda: s.focused() == "account-name")
            s.keys("keyboard", Keys.ENTER)
            row = '#accounts tr[data-account="keyboard"]'
            s.wait("the account is connected",
                   lambda: s.present(row) and s.text(row + " .status") == "Connected")
            # The table is reachable too: Tab from the form lands on its rows, arrows move.
            s.js("document.getElementById('connect').focus()")
            s.keys(Keys.TAB)
            assert s.js("return document.activeElement.tagName") == "TR", s.focused()
            s.keys(Keys.END)
            assert s.js("return document.activeElement.dataset.account") == "second"
            s.keys(Keys.HOME)
            assert s.js("return document.activeElement.dataset.account") == "agency-main"
            # Single-key shortcuts: T switches the theme.
            s.keys("t")
            s.wait("T switches to dark", lambda: s.theme() == "dark")
            s.keys("t")
            s.wait("T switches back", lambda: s.theme() == "light")
        finally:
            s.close()

    # A second driver whose app finds no Secret Service on its session bus.
    no_keyring_data = work / "no-keyring"
    no_keyring_env = dict(env, LEADORCH_HOME=str(no_keyring_data),
                          DBUS_SESSION_BUS_ADDRESS=f"unix:path={work / 'no-bus'}")
    driver2 = subprocess.Popen(["tauri-driver", "--port", "4446", "--native-port", "4447"],
                               env=no_keyring_env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def without_a_keyring_the_window_says_so_and_keeps_no_key():
        s = Session(4446)
        try:
            s.wait("the dashboard reports the database not open",
                   lambda: s.present("#dashboard-not-open"))
            s.accounts()
            s.wait("the app reports the missing keyring",
                   lambda: s.driver.find_element(By.ID, "error").is_displayed())
            assert "OS keyring is not available" in s.text("#error"), s.text("#error")
            assert "could not open its database" in s.text("#error"), s.text("#error")
            assert s.text("#where") == "Not open", s.text("#where")
            assert not s.driver.find_element(By.ID, "connect").is_enabled()
            s.shot("no-keyring")
        finally:
            s.close()
        assert not (no_keyring_data / "master.key").exists(), "fell back to a key file"

    try:
        for port in (4444, 4445, 4446, 4447):
            wait_port(port)
        # Each test starts from where the one before left the database.
        passed, failed = run_tests((connect_from_the_window, the_next_start_uses_the_same_key,
                                    the_consent_page_is_shown_while_waiting,
                                    dark_theme_is_chosen_and_remembered,
                                    the_keyboard_alone_connects_an_account,
                                    without_a_keyring_the_window_says_so_and_keeps_no_key),
                                   stop_at_failure=True)
    finally:
        driver.terminate()
        driver2.terminate()
        fakes.terminate()
    print(f"test result: {'ok' if failed == 0 else 'FAILED'}. {passed} passed; {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
