#!/usr/bin/env python3
"""The desktop's Debian package, as a user gets it: built by the Tauri bundler (tests/run:
`cargo tauri build --debug --bundles deb`), its control fields, its files, its dependencies
resolvable by apt on this Debian, and the app it installs opening a database in the real
window (under Xvfb, over WebDriver, with a real Secret Service).

Run by tests/run as:  TARGET=… xvfb-run -a dbus-run-session -- python tests/desktop/package_e2e.py DEB
Needs: tauri-driver and WebKitWebDriver on PATH, gnome-keyring-daemon, dpkg-deb and apt-get.
"""
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.options import ArgOptions

from e2e import keep_compositing_for_screenshots, run_tests, start_keyring, wait_port


def field(deb, name):
    return subprocess.run(["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True,
                          check=True).stdout.strip()


def main():
    deb = Path(sys.argv[1]).resolve()
    work = Path(tempfile.mkdtemp(prefix="leadorch-package-e2e-"))

    def the_package_says_what_it_is_and_needs():
        assert field(deb, "Package") == "lead-orchestrator", field(deb, "Package")
        assert field(deb, "Architecture") == "amd64", field(deb, "Architecture")
        depends = field(deb, "Depends")
        assert "libwebkit2gtk-4.1-0" in depends and "libgtk-3-0" in depends, depends
        assert "gnome-keyring" in field(deb, "Recommends"), field(deb, "Recommends")
        files = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True,
                               check=True).stdout
        for want in (" usr/bin/leadorch-desktop\n", ".desktop\n",
                     " usr/share/icons/hicolor/"):
            assert want in files, f"{want} is not in the package:\n{files}"
        # apt can install it here: every dependency resolves (simulated, nothing installed).
        sim = subprocess.run(["apt-get", "install", "--simulate", "--no-install-recommends",
                              str(deb)], capture_output=True, text=True)
        assert sim.returncode == 0, sim.stdout + sim.stderr
        assert "lead-orchestrator" in sim.stdout, sim.stdout

    def the_installed_app_opens_a_database():
        root = work / "root"
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        app = root / "usr/bin/leadorch-desktop"
        missing = [l for l in subprocess.run(["ldd", str(app)], capture_output=True, text=True,
                                             check=True).stdout.splitlines() if "not found" in l]
        assert not missing, missing
        desktop_entry = next((root / "usr/share/applications").glob("*.desktop")).read_text()
        assert "Exec=leadorch-desktop" in desktop_entry, desktop_entry
        data = work / "data"
        env_driver = subprocess.Popen(
            ["tauri-driver", "--port", "4453", "--native-port", "4454"],
            env={**os.environ, "LEADORCH_HOME": str(data)},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(4453)
            wait_port(4454)  # WebKitWebDriver, which tauri-driver starts beside it
            opts = ArgOptions()
            opts.set_capability("browserName", "wry")
            opts.set_capability("tauri:options", {"application": str(app)})
            s = webdriver.Remote("http://127.0.0.1:4453", options=opts)
            try:
                deadline = time.time() + 120
                while not s.find_elements(By.CSS_SELECTOR, "#master-key-check") and time.time() < deadline:
                    time.sleep(0.2)
                check = s.find_element(By.CSS_SELECTOR, "#master-key-check").text
                assert check.startswith("check") and len(check.split()[-1]) == 12, check
                master = s.find_element(By.CSS_SELECTOR, "#master-key").text
                assert master == "Master key: OS keyring (new key)", master
                assert (data / "leadorch.db").exists(), "the packaged app opened no database"
            finally:
                s.quit()
        finally:
            env_driver.terminate()
            env_driver.wait(timeout=30)

    start_keyring(work)
    keep_compositing_for_screenshots()
    passed, failed = run_tests([the_package_says_what_it_is_and_needs,
                                the_installed_app_opens_a_database], stop_at_failure=False)
    print(f"test result: {'ok' if failed == 0 else 'FAILED'}. {passed} passed; {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
