#!/usr/bin/env python3
"""The desktop app's benchmark (not a test): the real app (Tauri, WebKitGTK) over WebDriver
under Xvfb, on a seeded database. Prints, over RUNS launches, the median and worst of:

- launch to first paint: from starting the app (the WebDriver session spawns it) to the web
  view's first contentful paint;
- audit log first rows: from asking for the Audit log view to its first rows drawn;
- jump to the last row: from pressing "Jump to end" to the log's last event drawn;
- memory: the proportional set size (PSS, shared pages split between their users) and the
  resident size of every process of the app: the Rust process and its WebKit web and network
  processes, after the jump;

and, as the peer measured in the same run, the engine alone: the same first-rows and
last-rows windows asked of `leadorch serve` over loopback HTTP (the API the view calls in
process), so the app's share of each figure shows.

With MODE=remote the app runs in remote mode (issue 17): `leadorch serve` on the seeded
database over loopback HTTP, a `read` key in the OS keyring (GNOME Keyring) and the choice in
the data folder's `desktop-connection.json`, as Settings → Connection leaves them; the app's
requests then go from its shell to the daemon, and the daemon's own memory is printed apart.

Usage (as docs/BENCHMARKS.md says):
  TARGET=<cargo target dir> SEEDED=<folder with leadorch.db and master.key> [PROFILE=release] \
    [MODE=remote] xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- python tests/desktop/bench.py
"""
import atexit
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.options import ArgOptions

from e2e import start_keyring, wait_port

TARGET = Path(os.environ["TARGET"]).resolve()
PROFILE = os.environ.get("PROFILE", "debug")
APP = TARGET / PROFILE / "leadorch-desktop"
CLI = TARGET / PROFILE / "leadorch"
RUNS = int(os.environ.get("RUNS", "5"))
REMOTE = os.environ.get("MODE", "local") == "remote"
PORT = 4452

# Resolves (through WebDriver's async script) with the milliseconds from now until `ready`
# (an expression) holds, watched on every DOM change, after `act` (a statement) ran. Written
# into the script itself: the app's CSP allows no `eval` or `new Function`.
def watch(act, ready):
    return f"""
const done = arguments[arguments.length - 1];
const t0 = performance.now();
const check = () => {{ if ({ready}) {{ obs.disconnect(); done(performance.now() - t0); return true; }} return false; }};
const obs = new MutationObserver(check);
obs.observe(document.body, {{subtree: true, childList: true, attributes: true}});
{act};
check();
"""


def descendants(pid):
    """`pid` and every process under it."""
    children = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def app_pids():
    """The processes running the app's binary."""
    want = str(APP.resolve())
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if os.readlink(d / "exe") == want:
                    yield int(d.name)
            except OSError:
                continue


def memory_of(pids):
    """(PSS, RSS) in MB over `pids`, and the processes' names."""
    pss = rss = 0
    names = []
    for p in pids:
        try:
            comm = Path(f"/proc/{p}/comm").read_text().strip()
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text()
        except OSError:
            continue
        fields = {l.split(":")[0]: int(l.split()[1]) for l in rollup.splitlines()[1:] if l.endswith("kB")}
        pss += fields.get("Pss", 0)
        rss += fields.get("Rss", 0)
        names.append(f"{comm} {fields.get('Pss', 0) / 1024:.0f}"
                     f" (anonymous {fields.get('Anonymous', 0) / 1024:.0f})")
    return pss / 1024, rss / 1024, names


def median_worst(xs):
    return f"median {statistics.median(xs):8.1f}  worst {max(xs):8.1f}"


def main():
    seeded = Path(os.environ["SEEDED"])
    work = Path(tempfile.mkdtemp(prefix="leadorch-bench-app-"))
    data = work / "data"
    shutil.copytree(seeded, data)
    start_keyring(work)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADORCH") and k != "DATABASE_URL"}
    env.update(DATABASE_URL=f"sqlite://{data / 'leadorch.db'}", LEADORCH_HOME=str(data))
    # The daemon's API: the peer (the engine alone), and in remote mode what the app talks to.
    serve_env = dict(env, LEADORCH_LISTEN=f"127.0.0.1:{PORT}")
    key = subprocess.run([str(CLI), "keys", "create", "--name", f"bench-{os.getpid()}", "--scopes", "read"],
                         env=serve_env, capture_output=True, text=True, check=True)
    token = key.stdout.strip()
    server = subprocess.Popen([str(CLI), "serve"], env=serve_env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    atexit.register(lambda: server.poll() is None and server.terminate())
    wait_port(PORT, 120)
    app_env = env
    if REMOTE:
        url = f"http://127.0.0.1:{PORT}"
        subprocess.run(["secret-tool", "store", "--label", "bench", "service", "leadorch",
                        "username", f"api-key:{url}"], input=token, text=True, check=True)
        (data / "desktop-connection.json").write_text(f'{{"remote_url": "{url}"}}')
        # The app's side of the connection only: no database of its own to open.
        app_env = {k: v for k, v in env.items() if k != "DATABASE_URL"}
    driver = subprocess.Popen(["tauri-driver", "--port", "4450", "--native-port", "4451"], env=app_env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    head = int(subprocess.run(["sqlite3", "-readonly", str(data / "leadorch.db"),
                               "SELECT MAX(position) FROM events"], capture_output=True, text=True,
                              check=True).stdout.strip() or 0) if shutil.which("sqlite3") else None
    paint, first, last, pss, rss, by_process, daemon_pss = [], [], [], [], [], [], []
    try:
        wait_port(4450)
        wait_port(4451)
        for run in range(RUNS + 1):  # the first launch warms the caches and is not counted
            opts = ArgOptions()
            opts.set_capability("browserName", "wry")
            opts.set_capability("tauri:options", {"application": str(APP)})
            launched = time.time() * 1000
            s = webdriver.Remote("http://127.0.0.1:4450", options=opts)
            try:
                s.set_script_timeout(300)
                fcp = None
                for _ in range(600):
                    fcp = s.execute_script(
                        "const p = performance.getEntriesByType('paint')"
                        ".find(e => e.name === 'first-contentful-paint');"
                        "return p ? performance.timeOrigin + p.startTime : null")
                    if fcp:
                        break
                    time.sleep(0.05)
                s.execute_script("return 1")
                # Wait until the app has opened the database (the top bar says so).
                for _ in range(1200):
                    if s.find_elements(By.CSS_SELECTOR, "#master-key-check"):
                        break
                    time.sleep(0.05)
                rows = s.execute_async_script(watch(
                    "location.hash = '#/audit'",
                    "document.querySelector('[data-testid=\"audit-row\"][data-type]')"))
                n = head or int(s.find_element(By.CSS_SELECTOR, '[data-testid="audit-total"]')
                                .get_attribute("aria-label").split()[0])
                end = s.execute_async_script(watch(
                    "document.querySelector('[data-testid=\"audit-end\"]').click()",
                    f"document.querySelector('[data-testid=\"audit-row\"][data-position=\"{n}\"][data-type]')"))
                app_pid = next(p for p in app_pids() if p)
                m_pss, m_rss, names = memory_of(descendants(app_pid))
                if REMOTE:
                    assert s.execute_script("return document.body.innerText").find(url) >= 0, \
                        "the app is not connected to the daemon"
                    d_pss, d_rss, _ = memory_of([server.pid])
                    daemon_pss.append(d_pss)
            finally:
                s.quit()
            if run == 0:
                print(f"warm-up launch: processes measured (PSS MB): {', '.join(sorted(names))}")
                continue
            paint.append(fcp - launched if fcp else float("nan"))
            first.append(rows)
            last.append(end)
            pss.append(m_pss)
            by_process.append(", ".join(sorted(names)))
            rss.append(m_rss)
    finally:
        driver.terminate()
        driver.wait(timeout=30)

    # The peer: the engine alone, the same windows over loopback HTTP.
    api_first, api_last = [], []
    try:
        def get(path):
            req = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}",
                                         headers={"Authorization": f"Bearer {token}"})
            t0 = time.perf_counter()
            with urllib.request.urlopen(req, timeout=120) as r:
                r.read()
            return (time.perf_counter() - t0) * 1000

        get("/v1/events?limit=100")  # warm-up, as the app's first launch
        for _ in range(RUNS):
            api_first.append(get("/v1/events?limit=100") + get("/v1/events/count"))
            api_last.append(get(f"/v1/events?before={(head or 0) + 1}&limit=100"))
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)

    mode = f"remote mode, over loopback HTTP to leadorch serve at 127.0.0.1:{PORT}" if REMOTE else "local"
    print(f"desktop app ({PROFILE} build, {mode}) on {head:,} events, {RUNS} launches (after one warm-up):")
    print(f"  launch to first paint     ms  {median_worst(paint)}   goal <= 1000")
    print(f"  audit log first rows      ms  {median_worst(first)}   goal <= 300"
          f"   engine alone over HTTP (window + count): {median_worst(api_first)}")
    print(f"  jump to the last row      ms  {median_worst(last)}   goal <= 300"
          f"   engine alone over HTTP (last window): {median_worst(api_last)}")
    print(f"  memory, every process  PSS MB  {median_worst(pss)}   goal <= 300   (RSS {median_worst(rss)})")
    print(f"  memory by process (PSS MB), last launch: {by_process[-1]}")
    if REMOTE:
        print(f"  the daemon (leadorch serve) PSS MB  {median_worst(daemon_pss)}   (not counted above)")
    print(f"  ratio app/engine: first rows {statistics.median(first) / statistics.median(api_first):.2f}, "
          f"last row {statistics.median(last) / statistics.median(api_last):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
