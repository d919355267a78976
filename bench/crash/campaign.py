#!/usr/bin/env python3
"""kill -9 "exactly once" campaign against hsflow's release binary.

Each trial: a fresh data dir; `hsflow serve` on the shipped rules; distinct,
correctly signed Typeform leads sent at high concurrency (every response code
recorded); kill -9 at a random moment 0.5-4 s into the load; a snapshot of the
store as the kill left it; a restart on the same data dir; the leads whose
answer the kill swallowed are delivered again (as Typeform would), plus a
sample of acknowledged ones (must be 200 duplicates); the queue is drained
(nothing running, nothing queued/failed due now); SIGTERM; then every sink is
counted for losses and doubles. Python 3.11 stdlib only.

    python3 bench/crash/campaign.py --trials 20 --seed 12345 --out /tmp/crash.json
"""
import argparse
import asyncio
import base64
import collections
import copy
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SECRET = "s3cret"
TOKEN = "tok"
TYPES = ["Artist", "Business Contact", "General Contact", "Academic Contact",
         "Gallery Contact", "Potential Client"]
SRCS = ["Website", "Event", "Referral"]
JSONL_SINKS = ["notifications", "webhooks", "beehiiv", "hubspot"]
SINK_KIND = {"notifications": "notify", "webhooks": "webhook", "beehiiv": "beehiiv",
             "hubspot": "hubspot"}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def now_ms():
    return int(time.time() * 1000)


# ---------------------------------------------------------------- leads

def make_leads(example, n, rnd):
    """n distinct signed Typeform requests (as in shipped-pack/gen.py)."""
    base = json.load(open(example))
    run = "%08x" % rnd.getrandbits(32)
    key = SECRET.encode()
    leads = []
    for i in range(n):
        b = copy.deepcopy(base)
        b["event_id"] = f"{run}-{i}"
        a = b["form_response"]["answers"]
        a[0]["email"] = f"user{i}.{run}@example.org"
        a[3]["choices"]["labels"] = [TYPES[i % len(TYPES)]]
        a[4]["choice"]["label"] = SRCS[i % 3]
        body = json.dumps(b, separators=(",", ":")).encode()
        sig = "sha256=" + base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
        leads.append((b["event_id"], body, sig))
    return leads


def request_bytes(host, body, sig):
    head = (f"POST /webhooks/typeform HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: application/json\r\nTypeform-Signature: {sig}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for ln in lines[1:]:
        if ln.lower().startswith("content-length:"):
            length = int(ln.split(":", 1)[1])
    body = await reader.readexactly(length) if length else b""
    return status, body


class Load:
    """Sends leads over `conns` keep-alive connections until told to stop or out of leads."""

    def __init__(self, host, port, leads, conns):
        self.host, self.port, self.leads, self.conns = host, port, leads, conns
        self.next = 0
        self.stop = False
        # per lead: None (never sent), "sent" (no answer), int status; and the event id of a 2xx
        self.result = [None] * len(leads)
        self.event_id = [None] * len(leads)
        self.t_first = None
        self.t_last_answer = None
        self.finished_at = None  # when every lead had been sent and answered

    async def worker(self):
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            return
        try:
            while not self.stop and self.next < len(self.leads):
                i = self.next
                self.next += 1
                eid, body, sig = self.leads[i]
                self.result[i] = "sent"
                if self.t_first is None:
                    self.t_first = time.monotonic()
                try:
                    writer.write(request_bytes(f"{self.host}:{self.port}", body, sig))
                    await writer.drain()
                    status, rbody = await read_response(reader)
                except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                    return  # the server went away: this lead has no answer
                self.result[i] = status
                self.t_last_answer = time.monotonic()
                if status in (200, 202):
                    try:
                        self.event_id[i] = json.loads(rbody).get("event_id")
                    except ValueError:
                        pass
        finally:
            writer.close()

    async def run(self):
        await asyncio.gather(*(self.worker() for _ in range(self.conns)))
        if self.next >= len(self.leads) and all(isinstance(r, int) for r in self.result):
            self.finished_at = self.t_last_answer


async def send_some(host, port, items, conns=8):
    """Send (index, body, sig) once each; returns {index: status or 'error'}."""
    out = {}
    queue = list(items)

    async def worker():
        reader = writer = None
        while queue:
            i, body, sig = queue.pop()
            for attempt in range(3):
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection(host, port)
                    writer.write(request_bytes(f"{host}:{port}", body, sig))
                    await writer.drain()
                    out[i] = (await read_response(reader))[0]
                    break
                except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                    out[i] = "error"
                    if writer:
                        writer.close()
                    reader = writer = None
                    await asyncio.sleep(0.1)
        if writer:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(conns)))
    return out


# ---------------------------------------------------------------- server

class Server:
    def __init__(self, args, data, log_path):
        env = dict(os.environ)
        for k in list(env):  # no real sink: everything local
            if k.startswith(("SMTP_", "NOTION_", "SLACK_", "BEEHIIV_", "HUBSPOT_")) or \
                    k in ("HSFLOW_WEBHOOKS", "HSFLOW_NOTIFY_URL", "HSFLOW_DATABASE_URL", "HSFLOW_DATA"):
                env.pop(k)
        env.update(TYPEFORM_SECRET=SECRET, HSFLOW_ADMIN_TOKEN=TOKEN, RUST_LOG="info", NO_COLOR="1")
        self.log = open(log_path, "wb")
        self.p = subprocess.Popen(
            [args.bin, "serve", "--rules", args.rules, "--templates", args.templates,
             "--data", data, "--listen", "127.0.0.1:0", "--retry-base", args.retry_base],
            stdout=subprocess.PIPE, stderr=self.log, env=env)
        line = self._readline(10.0)
        m = re.search(r"listening on http://([\d.]+):(\d+)", line or "")
        if not m:
            self.p.kill()
            raise RuntimeError(f"hsflow did not start (stdout: {line!r}); see {log_path}")
        self.host, self.port = m.group(1), int(m.group(2))

    def _readline(self, timeout):
        box = []
        t = threading.Thread(target=lambda: box.append(self.p.stdout.readline().decode()), daemon=True)
        t.start()
        t.join(timeout)
        return box[0] if box else None

    def kill9(self):
        os.kill(self.p.pid, signal.SIGKILL)

    def term(self, timeout=20):
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = "killed after %ss" % timeout
        self.log.close()
        return rc


def ro(db):
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    c.execute("PRAGMA query_only = 1")
    return c


def snapshot(data, dest):
    """A copy of the store as kill -9 left it (db, wal, shm), opened read-only."""
    os.makedirs(dest, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        src = os.path.join(data, "hsflow.db" + suffix)
        if os.path.exists(src):
            shutil.copy2(src, os.path.join(dest, "hsflow.db" + suffix))
    c = sqlite3.connect(os.path.join(dest, "hsflow.db"), timeout=5)
    snap = {
        "status": {r[0]: (r[1], r[2], r[3]) for r in
                   c.execute("SELECT id, status, claims, kind FROM actions_named")},
        "events": c.execute("SELECT COUNT(*) FROM events WHERE source = 'typeform'").fetchone()[0],
        "keys": {k for (k,) in c.execute("SELECT idem_key FROM events WHERE source = 'typeform'")},
    }
    c.close()
    outbox = os.path.join(data, "outbox")
    snap["eml"] = set(f[:-4] for f in os.listdir(outbox) if f.endswith(".eml")) if os.path.isdir(outbox) else set()
    snap["lines"] = {}
    for s in JSONL_SINKS:
        p = os.path.join(data, s + ".jsonl")
        ids = set()
        if os.path.exists(p):
            for ln in open(p, encoding="utf-8", errors="replace"):
                try:
                    ids.add(json.loads(ln)["id"])
                except (ValueError, KeyError, TypeError):
                    pass
        snap["lines"][s] = ids
    return snap


def pending_now(db, horizon_ms):
    """Running actions, and queued/failed ones due within the horizon (a job
    waiting a second for a sibling's page, or retrying after --retry-base)."""
    try:
        c = ro(db)
        try:
            t = now_ms() + horizon_ms
            r = c.execute(
                "SELECT SUM(status='running'), SUM(status IN ('queued','failed') AND due_at <= ?) FROM actions",
                (t,)).fetchone()
            return (r[0] or 0) + (r[1] or 0)
        finally:
            c.close()
    except sqlite3.Error:
        return None


# ---------------------------------------------------------------- analysis

def grep_logs(logs, needles, limit=6):
    out = []
    for path in logs:
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for ln in f:
                if any(n in ln for n in needles):
                    out.append(f"{os.path.basename(path)}: {ANSI.sub('', ln.rstrip())[:400]}")
                    if len(out) >= limit:
                        return out
    return out


def analyse(data, snap, load, redeliver, resend, logs):
    db = os.path.join(data, "hsflow.db")
    c = ro(db)
    r = {}
    anomalies = []

    def note(what, ids, extra=()):
        ids = list(ids)
        anomalies.append({"what": what, "count": len(ids), "examples": ids[:5],
                          "log": grep_logs(logs, ids[:3]) + list(extra)})

    # --- intake
    acked = {load.leads[i][0] for i, s in enumerate(load.result) if s == 202}
    unanswered = [i for i, s in enumerate(load.result) if s == "sent"]
    codes = collections.Counter(str(s) for s in load.result if s is not None)
    stored_keys = collections.Counter(k for (k,) in c.execute(
        "SELECT idem_key FROM events WHERE source = 'typeform'"))
    r["sent"] = sum(1 for s in load.result if s is not None)
    r["acked_202"] = len(acked)
    r["codes"] = dict(codes)
    r["unanswered_at_kill"] = len(unanswered)
    lost = sorted(acked - set(stored_keys))
    r["lost"] = len(lost)
    if lost:
        note("acknowledged (202) but not stored", lost)
    acked_eids = {load.event_id[i] for i, s in enumerate(load.result) if s == 202}
    have_eids = {e for (e,) in c.execute("SELECT id FROM events")}
    r["lost_by_event_id"] = len(acked_eids - have_eids)
    dup_events = [k for k, n in stored_keys.items() if n > 1]
    r["events_duplicated"] = len(dup_events)
    if dup_events:
        note("one Typeform event_id stored as two events", dup_events)
    r["events_stored"] = sum(stored_keys.values())
    r["events_at_kill"] = snap["events"]
    # stored at the kill although the client never saw the answer (the kill came between commit and reply)
    unacked_stored = sum(1 for i in unanswered if load.leads[i][0] in snap["keys"])
    r["unanswered_but_stored"] = unacked_stored
    r["redelivered"] = dict(collections.Counter(str(v) for v in redeliver.values()))
    r["resent_acked"] = dict(collections.Counter(str(v) for v in resend.values()))
    bad_resend = [load.leads[i][0] for i, v in resend.items() if v != 200]
    if bad_resend:
        note("an acknowledged lead sent again was not answered 200 (duplicate)", bad_resend)
    r["events_other_sources"] = dict(c.execute(
        "SELECT source, COUNT(*) FROM events WHERE source <> 'typeform' GROUP BY source").fetchall())
    r["events_without_actions"] = c.execute(
        "SELECT COUNT(*) FROM events e WHERE NOT EXISTS (SELECT 1 FROM actions a WHERE "
        "(a.id > e.id AND a.id <= e.id || 'zzzzzz') OR (a.old_event_id = e.id AND a.old_event_id <> ''))").fetchone()[0]

    # --- actions
    rows = c.execute("SELECT id, event_id, action_key, kind, status, attempts, claims, due_at, last_error FROM actions_named").fetchall()
    A = {x[0]: x for x in rows}
    r["actions"] = len(rows)
    r["actions_by_status"] = dict(collections.Counter(x[4] for x in rows))
    succeeded = {x[0] for x in rows if x[4] == "succeeded"}
    by_kind_ok = collections.defaultdict(set)
    for x in rows:
        if x[4] == "succeeded":
            by_kind_ok[x[3]].add(x[0])
    running_at_kill = {i for i, (st, _, _) in snap["status"].items() if st == "running"}
    r["running_at_kill"] = len(running_at_kill)
    r["running_at_kill_by_kind"] = dict(collections.Counter(snap["status"][i][2] for i in running_at_kill))
    rerun = [x for x in rows if x[4] == "succeeded" and x[6] > 1]
    crash_rerun = [x for x in rerun if x[0] in running_at_kill]
    r["succeeded_claims_gt1"] = len(rerun)
    r["rerun_after_restart"] = len(crash_rerun)
    r["rerun_after_restart_by_kind"] = dict(collections.Counter(x[3] for x in crash_rerun))
    r["claims_gt1_other"] = dict(collections.Counter(
        (x[3] + ": " + ("link wait" if x[5] < x[6] else "retry")) for x in rerun if x[0] not in running_at_kill))
    # a job whose success was already committed at the kill must never be claimed again
    again = [i for i, (st, cl, _) in snap["status"].items()
             if st == "succeeded" and i in A and A[i][6] != cl]
    r["claimed_again_after_success"] = len(again)
    if again:
        note("claimed again after its success was committed", again)
    running_left = [x for x in rows if x[4] == "running"]
    r["left_running"] = len(running_left)
    if running_left:
        note("left running after the drain and SIGTERM", [x[0] for x in running_left])
    t = now_ms()
    due_left = [x for x in rows if x[4] in ("queued", "failed") and x[7] <= t]
    r["left_due_unrun"] = len(due_left)
    r["left_due_unrun_errors"] = dict(collections.Counter(
        (x[3], (x[8] or "")[:120]) for x in due_left).most_common(5)) if due_left else {}
    r["left_due_unrun_errors"] = {f"{k[0]}: {k[1]}": v for k, v in r["left_due_unrun_errors"].items()}
    if due_left:
        note("due now but not run when the trial ended", [x[0] for x in due_left])
    failed_later = [x for x in rows if x[4] == "failed" and x[7] > t]
    r["failed_retry_later"] = {f"{k[0]}: {k[1]}": v for k, v in collections.Counter(
        (x[3], (x[8] or "")[:120]) for x in failed_later).items()}
    dead = [x for x in rows if x[4] == "dead"]
    r["dead"] = len(dead)
    r["dead_errors"] = {f"{k[0]}: {k[1]}": v for k, v in collections.Counter(
        (x[3], (x[8] or "")[:160]) for x in dead).items()}
    if dead:
        note("dead", [x[0] for x in dead])

    # --- sinks: jsonl (one line per succeeded job of that kind, none for the others)
    sinks = {}
    for s in JSONL_SINKS:
        p = os.path.join(data, s + ".jsonl")
        ids, torn = collections.Counter(), 0
        if os.path.exists(p):
            for ln in open(p, encoding="utf-8", errors="replace"):
                try:
                    ids[json.loads(ln)["id"]] += 1
                except (ValueError, KeyError, TypeError):
                    torn += 1
        kind = SINK_KIND[s]
        dups = [k for k, n in ids.items() if n > 1]
        missing = sorted(by_kind_ok[kind] - set(ids))
        orphan = sorted(set(ids) - by_kind_ok[kind])
        found_line = sum(1 for x in crash_rerun if x[3] == kind and x[0] in snap["lines"][s])
        sinks[s] = {"lines": sum(ids.values()), "succeeded": len(by_kind_ok[kind]), "run_twice": len(dups),
                    "missing": len(missing), "orphan": len(orphan), "torn_lines": torn,
                    "rerun_found_own_line": found_line}
        if dups:
            note(f"{s}.jsonl: a job's line written twice", dups)
        if missing:
            note(f"{s}.jsonl: succeeded {kind} action with no line", missing)
        if orphan:
            note(f"{s}.jsonl: line of a job that did not succeed", orphan,
                 [f"status: {A[i][4]} claims {A[i][6]} err {A[i][8]}" for i in orphan[:3] if i in A])
        if torn:
            note(f"{s}.jsonl: unreadable (torn) lines", [str(torn)])

    # --- email: one .eml per succeeded email action (a file name can't double)
    outbox = os.path.join(data, "outbox")
    files = os.listdir(outbox) if os.path.isdir(outbox) else []
    eml = {f[:-4] for f in files if f.endswith(".eml") and not f.startswith(".")}
    tmps = [f for f in files if f.endswith(".tmp")]
    em_missing = sorted(by_kind_ok["email"] - eml)
    em_orphan = sorted(eml - by_kind_ok["email"])
    rewritten = [x[0] for x in crash_rerun if x[3] == "email" and x[0] in snap["eml"]]
    sinks["email"] = {"eml": len(eml), "succeeded": len(by_kind_ok["email"]), "missing": len(em_missing),
                      "orphan": len(em_orphan), "tmp_left": len(tmps),
                      "rewritten_by_rerun": len(rewritten)}
    if em_missing:
        note("email succeeded with no .eml", em_missing)
    if em_orphan:
        note(".eml of a job that did not succeed", em_orphan)
    if rewritten:
        note(".eml written before the kill and written again by the re-run (a second send with SMTP)", rewritten)

    # --- workflow moves: one history row per succeeded workflow action, by its cause
    causes = collections.Counter()
    moved = collections.Counter()
    for inst, action, details in c.execute("SELECT instance_id, action, details FROM workflow_history"):
        try:
            cause = json.loads(details).get("cause")
        except ValueError:
            cause = None
        causes[cause] += 1
        if action in ("moved", "created"):
            moved[(inst, cause)] += 1
    wf_dups = [f"{k[0]} {k[1]}" for k, n in moved.items() if n > 1]
    wf_ok = {f"{A[i][2]} (event {A[i][1]})" for i in by_kind_ok["workflow"]}
    wf_missing = sorted(wf_ok - set(causes))
    wf_orphan = sorted(k for k in causes if k not in wf_ok)
    sinks["workflow"] = {"history": sum(causes.values()), "succeeded": len(by_kind_ok["workflow"]),
                         "run_twice": len(wf_dups),
                         "cause_more_than_once": sum(1 for n in causes.values() if n > 1),
                         "missing": len(wf_missing), "orphan": len(wf_orphan),
                         "instances": c.execute("SELECT COUNT(*) FROM workflow_instances").fetchone()[0]}
    if wf_dups:
        note("workflow history: the same move recorded twice", wf_dups)
    if wf_missing:
        note("workflow action succeeded with no history row", wf_missing)
    if wf_orphan:
        note("workflow history row of an action that did not succeed", wf_orphan)

    # --- tasks (database 'tasks', keyed by Task ID = job id)
    tk = collections.Counter(k for (k,) in c.execute(
        "SELECT key_value FROM notion_pages WHERE database = 'tasks'"))
    tk_dups = [k for k, n in tk.items() if n > 1]
    tk_missing = sorted(by_kind_ok["task"] - set(tk))
    tk_orphan = sorted(set(tk) - by_kind_ok["task"])
    sinks["task"] = {"pages": sum(tk.values()), "succeeded": len(by_kind_ok["task"]), "run_twice": len(tk_dups),
                     "missing": len(tk_missing), "orphan": len(tk_orphan)}
    if tk_dups:
        note("tasks: two pages for one Task ID", tk_dups)
    if tk_missing:
        note("task succeeded with no page", tk_missing)
    if tk_orphan:
        note("task page of a job that did not succeed", tk_orphan)

    # --- other Notion pages: one page per (database, key)
    np_rows = c.execute("SELECT database, key_value, COUNT(*) FROM notion_pages WHERE database <> 'tasks' "
                        "AND key_value IS NOT NULL GROUP BY database, key_property, key_value").fetchall()
    np_dups = [f"{d}:{k}" for d, k, n in np_rows if n > 1]
    unkeyed = c.execute("SELECT COUNT(*) FROM notion_pages WHERE database <> 'tasks' AND key_value IS NULL").fetchone()[0]
    sinks["notion"] = {"pages": sum(n for _, _, n in np_rows) + unkeyed, "keys": len(np_rows),
                       "succeeded": len(by_kind_ok["notion"]), "run_twice": len(np_dups), "unkeyed": unkeyed,
                       "increments_left": c.execute("SELECT COUNT(*) FROM applied_increments").fetchone()[0]}
    if np_dups:
        note("notion: two pages for one key", np_dups)
    r["sinks"] = sinks
    c.close()
    r["log_found_own_line"] = sum(
        1 for p in logs if os.path.exists(p)
        for ln in open(p, encoding="utf-8", errors="replace") if "already has this job's line" in ln)
    retries = grep_logs(logs, ["failed (", "parked:"], 10**6)
    r["log_retries"] = dict(collections.Counter(
        re.sub(r"\S+@example\.org", "<email>", re.sub(r".*?failed \(|.*?parked: ", "", ln).split("; retrying")[0])[:140]
        for ln in retries))
    r["log_interrupted_recovered"] = grep_logs(logs[1:], ["interrupted by the last stop"], 2)
    r["log_errors"] = grep_logs(logs, [" ERROR ", "panicked"], 8)
    if r["log_errors"]:
        anomalies.append({"what": "ERROR or panic in the server log", "count": len(r["log_errors"]),
                          "examples": [], "log": r["log_errors"]})
    return r, anomalies


# ---------------------------------------------------------------- a trial

def trial(args, n, rnd, run_dir):
    tdir = os.path.join(run_dir, f"trial-{n:02d}")
    data = os.path.join(tdir, "data")
    os.makedirs(tdir)
    logs = [os.path.join(tdir, "stderr-1.log"), os.path.join(tdir, "stderr-2.log")]
    kill_at = round(rnd.uniform(args.kill_min, args.kill_max), 3)
    leads = make_leads(args.example, args.leads, rnd)
    t_start = time.monotonic()
    srv = Server(args, data, logs[0])
    load = Load(srv.host, srv.port, leads, args.conns)
    killed = {}

    def killer():
        # wait for the first request, then kill_at seconds
        while load.t_first is None and time.monotonic() - t_start < 10:
            time.sleep(0.001)
        t0 = load.t_first or time.monotonic()
        time.sleep(max(0.0, t0 + kill_at - time.monotonic()))
        srv.kill9()
        killed["mono"] = time.monotonic()
        killed["at"] = killed["mono"] - t0
        load.stop = True

    th = threading.Thread(target=killer, daemon=True)
    th.start()
    asyncio.run(load.run())
    th.join()
    srv.p.wait()
    srv.log.close()
    snap = snapshot(data, os.path.join(tdir, "at-kill"))

    srv2 = Server(args, data, logs[1])
    t_restart = time.monotonic()
    # what Typeform would deliver again: no answer, or an answer that is not a 2xx
    unanswered = [(i, leads[i][1], leads[i][2]) for i, s in enumerate(load.result)
                  if s == "sent" or (isinstance(s, int) and s not in (200, 202))]
    redeliver = asyncio.run(send_some(srv2.host, srv2.port, unanswered)) if args.redeliver else {}
    acked_idx = [i for i, s in enumerate(load.result) if s == 202]
    sample = rnd.sample(acked_idx, min(args.resend, len(acked_idx)))
    resend = asyncio.run(send_some(srv2.host, srv2.port, [(i, leads[i][1], leads[i][2]) for i in sample]))
    # drain: nothing running, nothing queued/failed due now
    db = os.path.join(data, "hsflow.db")
    quiet = 0
    deadline = time.monotonic() + args.drain_timeout
    while time.monotonic() < deadline:
        p = pending_now(db, args.horizon_ms)
        quiet = quiet + 1 if p == 0 else 0
        if quiet >= 3:
            break
        time.sleep(0.2)
    drained = quiet >= 3
    drain_s = time.monotonic() - t_restart
    rc = srv2.term()
    res, anomalies = analyse(data, snap, load, redeliver, resend, logs)
    res.update(trial=n, kill_at_s=kill_at, killed_at_s=round(killed.get("at", -1), 3),
               load_s=round((load.finished_at or load.t_last_answer or 0) - (load.t_first or 0), 2),
               kill_during_load=load.finished_at is None or load.finished_at > killed.get("mono", 0), drained=drained, drain_s=round(drain_s, 2),
               exit_after_term=rc, trial_s=round(time.monotonic() - t_start, 1),
               kill9_exit=srv.p.returncode, dir=tdir)
    if not drained:
        anomalies.append({"what": f"queue not drained within {args.drain_timeout}s", "count": 1,
                          "examples": [], "log": []})
    if srv.p.returncode != -signal.SIGKILL:
        anomalies.append({"what": f"first server exited by itself ({srv.p.returncode}) before the kill",
                          "count": 1, "examples": [], "log": grep_logs(logs[:1], ["panicked", "ERROR"])})
    if rc != 0:
        anomalies.append({"what": f"restarted server's exit after SIGTERM: {rc}", "count": 1, "examples": [],
                          "log": grep_logs(logs[1:], ["stopped", "panicked", "ERROR"])})
    res["anomalies"] = anomalies
    with open(os.path.join(tdir, "result.json"), "w") as f:
        json.dump(res, f, indent=1, default=list)
    if not args.keep and not anomalies:
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(os.path.join(tdir, "at-kill"), ignore_errors=True)
    return res


def show(r):
    s = r["sinks"]
    rows = [
        ("kill at (planned/actual)", f"{r['kill_at_s']}s / {r['killed_at_s']}s, "
         + ("during the load" if r["kill_during_load"] else f"after the load ended at {r['load_s']}s (dispatch only)")),
        ("leads sent / 202 / no answer", f"{r['sent']} / {r['acked_202']} / {r['unanswered_at_kill']}  codes {r['codes']}"),
        ("events stored (at kill / end)", f"{r['events_at_kill']} / {r['events_stored']}  "
         f"(no answer but stored {r['unanswered_but_stored']}; redelivered {r['redelivered']}; "
         f"202s resent {r['resent_acked']})"),
        ("LOST (202 not stored)", f"{r['lost']} (by event id {r['lost_by_event_id']}); "
         f"events duplicated {r['events_duplicated']}; events without actions {r['events_without_actions']}"),
        ("actions", f"{r['actions']} {r['actions_by_status']}"),
        ("running at kill", f"{r['running_at_kill']} {r['running_at_kill_by_kind']}"),
        ("re-run after restart (claims>1)", f"{r['rerun_after_restart']} {r['rerun_after_restart_by_kind']}; "
         f"claims>1 otherwise {r['claims_gt1_other']}; claimed again after success {r['claimed_again_after_success']}"),
        ("notify   run twice / missing / orphan",
         f"{s['notifications']['run_twice']} / {s['notifications']['missing']} / {s['notifications']['orphan']}"
         f"  ({s['notifications']['lines']} lines, {s['notifications']['succeeded']} ok; "
         f"re-runs that found their line {s['notifications']['rerun_found_own_line']})"),
        ("email    missing / orphan / rewritten",
         f"{s['email']['missing']} / {s['email']['orphan']} / {s['email']['rewritten_by_rerun']}"
         f"  ({s['email']['eml']} .eml, {s['email']['succeeded']} ok, tmp left {s['email']['tmp_left']})"),
        ("workflow run twice / missing / orphan",
         f"{s['workflow']['run_twice']} / {s['workflow']['missing']} / {s['workflow']['orphan']}"
         f"  ({s['workflow']['history']} history rows, {s['workflow']['succeeded']} ok)"),
        ("task     run twice / missing / orphan",
         f"{s['task']['run_twice']} / {s['task']['missing']} / {s['task']['orphan']}"
         f"  ({s['task']['pages']} pages, {s['task']['succeeded']} ok)"),
        ("notion   run twice (pages per key>1)", f"{s['notion']['run_twice']}  ({s['notion']['pages']} pages, "
         f"{s['notion']['succeeded']} ok)"),
        ("webhooks/beehiiv/hubspot run twice", " / ".join(
            f"{s[k]['run_twice']} ({s[k]['lines']} lines)" for k in ("webhooks", "beehiiv", "hubspot"))),
        ("left running / due unrun / dead", f"{r['left_running']} / {r['left_due_unrun']} / {r['dead']}"
         + (f"  {r['dead_errors']}" if r["dead"] else "")
         + (f"  {r['left_due_unrun_errors']}" if r["left_due_unrun"] else "")),
        ("failed, retry later", str(r["failed_retry_later"] or 0)),
        ("retries/parkings in the log", str(r["log_retries"] or 0)),
        ("drain / trial", f"{r['drain_s']}s (drained: {r['drained']}) / {r['trial_s']}s; exit after TERM {r['exit_after_term']}"),
    ]
    print(f"--- trial {r['trial']} ({r['dir']})")
    w = max(len(a) for a, _ in rows)
    for a, b in rows:
        print(f"  {a:<{w}}  {b}")
    for an in r["anomalies"]:
        print(f"  ANOMALY: {an['what']}: {an['count']} e.g. {an['examples'][:3]}")
        for ln in an["log"][:4]:
            print(f"      {ln}")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--seed", type=int, default=None, help="default: random (printed)")
    ap.add_argument("--out", default="crash-totals.json", help="totals as JSON")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/hsflow"))
    ap.add_argument("--rules", default=os.path.join(ROOT, "rules"))
    ap.add_argument("--templates", default=os.path.join(ROOT, "templates"))
    ap.add_argument("--example", default=os.path.join(ROOT, "examples/typeform_artist.json"))
    ap.add_argument("--leads", type=int, default=10000, help="leads available per trial (sent until the kill)")
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--kill-min", type=float, default=0.5)
    ap.add_argument("--kill-max", type=float, default=4.0)
    ap.add_argument("--drain-timeout", type=float, default=35.0)
    ap.add_argument("--horizon-ms", type=int, default=3000, help="queued/failed due within this count as due now")
    ap.add_argument("--retry-base", default="1s",
                    help="hsflow serve --retry-base (default 10s there): a retried job comes back within the trial")
    ap.add_argument("--resend", type=int, default=50, help="acknowledged leads sent again after the restart")
    ap.add_argument("--no-redeliver", dest="redeliver", action="store_false",
                    help="don't deliver again the leads the kill left unanswered")
    ap.add_argument("--workdir", default="/tmp/hsflow-crash")
    ap.add_argument("--keep", action="store_true", help="keep every trial's data dir (default: only anomalous ones)")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    print(f"seed {seed}  (rerun: --seed {seed})  binary {args.bin}")
    rnd = random.Random(seed)
    run_dir = os.path.join(args.workdir, f"run-{time.strftime('%Y%m%d-%H%M%S')}-{seed}")
    os.makedirs(run_dir)
    print(f"trials in {run_dir}")
    results = []
    for n in range(1, args.trials + 1):
        try:
            r = trial(args, n, rnd, run_dir)
        except Exception as e:  # a trial that could not run is reported, not hidden
            print(f"--- trial {n}: FAILED TO RUN: {e!r}")
            results.append({"trial": n, "error": repr(e)})
            continue
        results.append(r)
        show(r)
    ok = [r for r in results if "error" not in r]
    tot = {
        "seed": seed, "trials": len(results), "trials_run": len(ok), "run_dir": run_dir,
        "binary": args.bin, "conns": args.conns, "leads_per_trial_max": args.leads,
        "kill_window_s": [args.kill_min, args.kill_max],
        "kills_during_load": sum(1 for r in ok if r["kill_during_load"]),
        "kill_times_s": [r["killed_at_s"] for r in ok],
        "sent": sum(r["sent"] for r in ok),
        "acked_202": sum(r["acked_202"] for r in ok),
        "unanswered_at_kill": sum(r["unanswered_at_kill"] for r in ok),
        "unanswered_but_stored": sum(r["unanswered_but_stored"] for r in ok),
        "lost": sum(r["lost"] for r in ok),
        "events_duplicated": sum(r["events_duplicated"] for r in ok),
        "events_stored": sum(r["events_stored"] for r in ok),
        "redelivered": dict(sum((collections.Counter(r["redelivered"]) for r in ok), collections.Counter())),
        "resent_acked": dict(sum((collections.Counter(r["resent_acked"]) for r in ok), collections.Counter())),
        "actions": sum(r["actions"] for r in ok),
        "running_at_kill": sum(r["running_at_kill"] for r in ok),
        "rerun_after_restart": sum(r["rerun_after_restart"] for r in ok),
        "rerun_after_restart_by_kind": dict(sum((collections.Counter(r["rerun_after_restart_by_kind"]) for r in ok),
                                                collections.Counter())),
        "succeeded_claims_gt1": sum(r["succeeded_claims_gt1"] for r in ok),
        "claimed_again_after_success": sum(r["claimed_again_after_success"] for r in ok),
        "left_running": sum(r["left_running"] for r in ok),
        "left_due_unrun": sum(r["left_due_unrun"] for r in ok),
        "dead": sum(r["dead"] for r in ok),
        "dead_errors": dict(sum((collections.Counter(r["dead_errors"]) for r in ok), collections.Counter())),
        "undrained_trials": sum(1 for r in ok if not r["drained"]),
        "run_twice": {}, "missing": {}, "orphan": {},
        "email_rewritten_by_rerun": sum(r["sinks"]["email"]["rewritten_by_rerun"] for r in ok),
        "notify_rerun_found_own_line": sum(r["sinks"]["notifications"]["rerun_found_own_line"] for r in ok),
        "torn_jsonl_lines": sum(r["sinks"][s]["torn_lines"] for r in ok for s in JSONL_SINKS),
        "anomalies": [{"trial": r["trial"], **a} for r in ok for a in r["anomalies"]],
        "trial_errors": [r for r in results if "error" in r],
        "max_trial_s": max((r["trial_s"] for r in ok), default=0),
    }
    for s in ["notifications", "webhooks", "beehiiv", "hubspot", "workflow", "task", "notion", "email"]:
        if s != "email":
            tot["run_twice"][s] = sum(r["sinks"][s]["run_twice"] for r in ok)
        if s != "notion":
            tot["missing"][s] = sum(r["sinks"][s]["missing"] for r in ok)
            tot["orphan"][s] = sum(r["sinks"][s]["orphan"] for r in ok)
    with open(args.out, "w") as f:
        json.dump(tot, f, indent=1)
    print("\n=== totals over", len(ok), "trials (seed", seed, ")")
    for k in ["kills_during_load", "sent", "acked_202", "unanswered_at_kill", "unanswered_but_stored", "lost",
              "events_duplicated", "redelivered", "resent_acked", "actions", "running_at_kill",
              "rerun_after_restart", "rerun_after_restart_by_kind", "succeeded_claims_gt1",
              "claimed_again_after_success", "run_twice", "missing", "orphan", "email_rewritten_by_rerun",
              "notify_rerun_found_own_line", "torn_jsonl_lines", "left_running", "left_due_unrun", "dead",
              "dead_errors", "undrained_trials", "max_trial_s"]:
        print(f"  {k:<30} {tot[k]}")
    print(f"  {'anomalies':<30} {len(tot['anomalies'])}")
    for a in tot["anomalies"]:
        print(f"    trial {a['trial']}: {a['what']} ({a['count']}) e.g. {a['examples'][:3]}")
    print(f"totals written to {args.out}")
    return 1 if tot["lost"] or tot["anomalies"] or tot["trial_errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
