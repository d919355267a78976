#!/usr/bin/env python3
"""Checks that campaign.py's counting sees what it is meant to see: copies a
finished trial (run with --keep), injects one known fault per sink, and
expects analyse() to report each one. Stdlib only; does not start hsflow.

    python3 bench/crash/selftest.py /tmp/hsflow-crash/run-.../trial-01
"""
import os
import shutil
import sqlite3
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import campaign as C  # noqa: E402

trial = sys.argv[1]
work = os.path.join(trial, "faulty")
shutil.rmtree(work, ignore_errors=True)
shutil.copytree(os.path.join(trial, "data"), work)
c = sqlite3.connect(os.path.join(trial, "at-kill", "hsflow.db"))
snap = {"status": {r[0]: (r[1], r[2], r[3]) for r in c.execute("SELECT id, status, claims, kind FROM actions_named")},
        "events": 0, "keys": set(), "eml": set(), "lines": {s: set() for s in C.JSONL_SINKS}}
c.close()
c = sqlite3.connect(os.path.join(work, "hsflow.db"))
ev = c.execute("SELECT idem_key, id FROM events WHERE source = 'typeform'").fetchall()
# every stored lead counts as acknowledged; one of them is then deleted (a loss)
load = types.SimpleNamespace(leads=[(k, b"", "") for k, _ in ev], result=[202] * len(ev),
                             event_id=[e for _, e in ev])
c.execute("DELETE FROM events WHERE id = ?", (ev[0][1],))
c.execute("INSERT INTO workflow_history SELECT * FROM workflow_history WHERE action = 'created' LIMIT 1")
for db in ("tasks", "contacts"):
    c.execute("INSERT INTO notion_pages (id, database, key_property, key_value, properties, properties_packed, "
              "created_at, updated_at) SELECT id || '-dup', database, key_property, key_value, properties, "
              "properties_packed, created_at, updated_at FROM notion_pages WHERE database = ? LIMIT 1", (db,))
c.commit()
c.close()
notif = os.path.join(work, "notifications.jsonl")
with open(notif) as f:
    first = f.readline()
with open(notif, "a") as f:
    f.write(first)
outbox = os.path.join(work, "outbox")
has_email = os.path.isdir(outbox) and os.listdir(outbox)
if has_email:
    os.remove(os.path.join(outbox, sorted(os.listdir(outbox))[0]))

r, anomalies = C.analyse(work, snap, load, {}, {}, [])
s = r["sinks"]
checks = {
    "lost": r["lost"] == 1,
    "notifications run twice": s["notifications"]["run_twice"] == 1,
    "workflow run twice": s["workflow"]["run_twice"] == 1,
    "task run twice": s["task"]["run_twice"] == 1,
    "notion run twice": s["notion"]["run_twice"] == 1,
}
if has_email:
    checks["email missing"] = s["email"]["missing"] == 1
for a in anomalies:
    print(f" - {a['what']}: {a['count']} e.g. {a['examples'][:1]}")
for k, ok in checks.items():
    print(f"{'ok  ' if ok else 'FAIL'} {k}")
shutil.rmtree(work, ignore_errors=True)
sys.exit(0 if all(checks.values()) else 1)
