#!/usr/bin/env python3
"""What a lead's side rows cost SQLite's writer (docs/BENCHMARKS.md, ingest, seventh session).

Writes N leads' rows as the log writer's group commits do (two events, two fingerprint rows,
two subject keys and one access-log row per lead; the migrations' own schema; WAL,
synchronous=FULL) in groups of G leads, and prints leads/s and the WAL's size.

    python3 docs/bench/sqlite_side_rows.py full 26          # as written
    python3 docs/bench/sqlite_side_rows.py nofp 26          # without fingerprint rows
    python3 docs/bench/sqlite_side_rows.py full-seqfp 26    # fingerprints in time order
    python3 docs/bench/sqlite_side_rows.py full-nock 26     # no checkpoints (the WAL keeps all)

Variant words (joined by '-'): nofp, nokeys, noacc (leave those rows out), seqfp (time-ordered
fingerprints), nock (no checkpoints), nosync (synchronous=OFF).
"""
import hashlib
import hmac
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
variant = sys.argv[1]
group = int(sys.argv[2])
n = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
words = set(variant.split("-"))

work = Path(tempfile.mkdtemp(prefix="leadorch-side-rows-", dir=os.environ.get("TMPDIR", ROOT / "target")))
path = work / "side-rows.sqlite"
c = sqlite3.connect(path, isolation_level=None)
c.execute("PRAGMA journal_mode=WAL")
c.execute("PRAGMA synchronous=" + ("OFF" if "nosync" in words else "FULL"))
c.execute("PRAGMA cache_size=-65536")
c.execute("PRAGMA temp_store=memory")
c.execute("PRAGMA wal_autocheckpoint=" + ("0" if "nock" in words else "1000"))
c.execute("PRAGMA secure_delete=ON")
for f in ["0001_event_log.sql", "0005_api_keys.sql", "0006_intake.sql"]:
    c.executescript((ROOT / "migrations/sqlite" / f).read_text())


def ordered():
    """A time-ordered id, as UUIDv7 strings sort."""
    return "%016x-%s" % (time.time_ns(), os.urandom(6).hex())


pos = 0
payload, meta = os.urandom(700), os.urandom(200)
t0 = time.time()
for g in range(0, n, group):
    c.execute("BEGIN IMMEDIATE")
    ev, fps, keys, acc = [], [], [], []
    for i in range(g, min(n, g + group)):
        subj = "default/" + ordered()
        now = int(time.time() * 1e6)
        for st, typ in ((f"consent:default/{ordered()}", "ConsentGranted"), (f"lead:default/lead-{i}", "LeadReceived")):
            pos += 1
            ev.append((pos, st, 1, time.time_ns().to_bytes(8, "big") + os.urandom(8), typ, "1.0", payload, meta,
                       now, os.urandom(32), os.urandom(32)))
        if "nofp" not in words:
            for k in ("email", "phone"):
                fp = (i.to_bytes(8, "big") + bytes(24) if "seqfp" in words
                      else hmac.new(b"k", f"{k}{i}".encode(), hashlib.sha256).digest())
                fps.append(("default", k, fp, f"default/lead-{i}", subj, now + 90 * 86400 * 10**6))
        if "nokeys" not in words:
            for p in ("contact", "consent"):
                keys.append((subj, p, os.urandom(60), now, now + 10**12))
        if "noacc" not in words:
            acc.append(("default", "k1", "POST", "/v1/leads", 201, "127.0.0.1", now, 3))
    c.executemany("INSERT INTO events (position, stream_id, stream_version, event_id, event_type, schema_version, "
                  "payload, metadata, recorded_at, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)", ev)
    if fps:
        c.executemany("INSERT INTO fingerprints (project, kind, fingerprint, lead_id, subject_id, expires_at) "
                      "VALUES (?,?,?,?,?,?)", fps)
    if keys:
        c.executemany("INSERT INTO subject_keys (subject_id, purpose, wrapped_key, created_at, expires_at) "
                      "VALUES (?,?,?,?,?)", keys)
    if acc:
        c.executemany("INSERT INTO access_log (project, key_id, method, route, status, ip, at, millis) "
                      "VALUES (?,?,?,?,?,?,?,?)", acc)
    c.execute("UPDATE log_head SET position = ?, hash = ? WHERE id = 1", (pos, os.urandom(32)))
    c.execute("COMMIT")
dt = time.time() - t0
wal = os.path.getsize(str(path) + "-wal") / 1e6
print(f"{variant} group={group}: {n / dt:,.0f} leads/s, WAL {wal:.0f} MB, database {os.path.getsize(path) / 1e6:.0f} MB")
c.close()
for f in work.iterdir():
    f.unlink()
work.rmdir()
