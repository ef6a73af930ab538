#!/usr/bin/python3
"""Placement benchmark: a real webrackd and PostgreSQL (the integration tests' Stack) with N
simulated node agents (simagents: the real agent protocol over mutual TLS, a simulated
hypervisor that answers every command at once), M defined vServers, and K concurrent API clients
starting them with a bearer token.

Measured, side by side in one run:
  (a) committed placements per second: vserver-start tasks that reach `done` per second, with
      K = 1, 8, 32 closed-loop clients (each starts a vServer, waits for its task to end, starts
      the next);
  (b) decision latency: a task's started_at to the commit of its placement (the commit
      timestamp PostgreSQL records for the vcpu_cores rows wr_place_batch() inserted;
      track_commit_timestamp is switched on in the private cluster), plus started_at to the
      "goes to node" log line (the moment placement_pick() returned, millisecond resolution);
  (d) a burst: B vserver-start calls fired by many clients without waiting for their tasks (a
      mass start, or the work a failover brings); committed placements per second while the
      scheduler's queue is full, from the commit timestamps of the placements, with the batch
      sizes the scheduler formed and the whole tasks' rate next to it;
  (c) the raw cost of the decision alone: pickbench, placement_pick() over N in-memory nodes,
      which is what webrackd runs per decision against its cached capacity.

Prints a table and writes the "Placement" section of docs/BENCHMARKS.md (other sections of that
file are kept). Everything shares this machine's cores; the CPU each part used per phase is
measured from /proc and reported with the figures.

Usage: /usr/bin/python3 bench/placement/run.py [--nodes N] [--vservers M] [--clients 1,8,32]
       [--per-phase 300,1000,1500] [--phase-seconds S] [--burst B] [--no-write]
"""

import argparse
import concurrent.futures
import datetime
import http.client
import json
import os
import re
import resource
import shutil
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))

import psycopg2  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

import webrack_it as w  # noqa: E402

GOAL = 2000  # placements per second (the goal)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def say(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------
# the stack: the integration tests' Stack with a bigger pool and an observable PostgreSQL


class BenchStack(w.Stack):
    """Stack whose PostgreSQL records commit timestamps (for the decision latency) and loads
    pg_stat_statements (to see where the database time goes). Both need a restart of the
    private cluster before webrackd is started."""

    track_all = False
    auto_explain = False

    def pg_start(self):
        conninfo = super().pg_start()
        c = psycopg2.connect(conninfo)
        c.autocommit = True
        with c.cursor() as cur:
            cur.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
            cur.execute("ALTER SYSTEM SET track_commit_timestamp = on")
            if self.track_all:
                # the statements inside functions too (wr_place_batch's parts), and the plans
                # of the slow ones in the server log
                cur.execute("ALTER SYSTEM SET shared_preload_libraries = "
                            "pg_stat_statements, auto_explain" if self.auto_explain else
                            "ALTER SYSTEM SET shared_preload_libraries = pg_stat_statements")
        c.close()
        self.pg_stop()
        conninfo = super().pg_start()
        c = psycopg2.connect(conninfo)
        c.autocommit = True
        with c.cursor() as cur:
            cur.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            if self.track_all:  # the libraries' settings exist once they are loaded
                for name, value in (("pg_stat_statements.track", "all"),) + ((
                        ("auto_explain.log_min_duration", "5ms"),
                        ("auto_explain.log_analyze", "on"),
                        ("auto_explain.log_buffers", "on"),
                        ("auto_explain.log_nested_statements", "on")) if self.auto_explain
                        else ()):
                    cur.execute(f"ALTER SYSTEM SET {name} = %s", (value,))
                cur.execute("SELECT pg_reload_conf()")
        c.close()
        return conninfo


# --------------------------------------------------------------------------
# a light HTTPS JSON client (one keep-alive connection per thread; less client CPU than requests)


class Client:
    def __init__(self, port, token):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.port = port
        self.ctx = ctx
        self.token = token
        self.conn = None

    def call(self, op, **params):
        body = json.dumps(params).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"}
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx,
                                                        timeout=60)
            try:
                self.conn.request("POST", f"/api/v1/{op}", body=body, headers=headers)
                r = self.conn.getresponse()
                data = r.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        res = json.loads(data)
        if r.status != 200 or not res.get("ok"):
            raise w.ApiError(res.get("error", {}).get("code"), r.status,
                             res.get("error", {}).get("message"), res, op)
        return res["result"]


# --------------------------------------------------------------------------
# nodes: keys, CSRs, node-join


def make_csr(name):
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
           .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, csr.public_bytes(serialization.Encoding.PEM).decode()


def join_nodes(stack, n, certdir, threads=8):
    """N nodes through the real API: a join token per node (provider admin), then node-join with
    a CSR; the signed certificates and keys go to certdir for simagents."""
    certdir.mkdir(parents=True, exist_ok=True)
    local = threading.local()

    def admin():
        if getattr(local, "admin", None) is None:
            local.admin = stack.admin()
            local.anon = stack.api()
        return local.admin, local.anon

    def one(i):
        name = f"sim-{i:05d}"
        adm, anon = admin()
        tok = adm.call("node-join-token-create", name=name)["token"]
        key_pem, csr_pem = make_csr(name)
        res = anon.call("node-join", _csrf=None, token=tok, csr_pem=csr_pem)
        (certdir / f"{name}.key").write_bytes(key_pem)
        os.chmod(certdir / f"{name}.key", 0o600)
        (certdir / f"{name}.crt").write_text(res["cert_pem"])
        return res["ca_pem"]

    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        cas = list(ex.map(one, range(1, n + 1)))
    (certdir.parent / "ca.pem").write_text(cas[0])
    return certdir.parent / "ca.pem"


class SimAgents:
    """The simagents process and the latest status line it printed."""

    def __init__(self, binary, port, ca, certdir, n, logfile, extra=()):
        self.ready = threading.Event()
        self.status = ""
        self.logf = open(logfile, "ab")
        self.proc = subprocess.Popen(
            [str(binary), "-c", f"127.0.0.1:{port}", "-a", str(ca), "-d", str(certdir),
             "-n", str(n), "-j", "32", *extra],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.logf, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.strip()
            if line.startswith("ready"):
                self.ready.set()
            elif line.startswith("status"):
                self.status = line

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


# --------------------------------------------------------------------------
# CPU accounting from /proc (who used the shared cores during a phase)


def proc_cpu(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def children_of(ppid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == ppid:
                out.append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return out


def machine_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return (sum(v) - idle) / CLK_TCK


class CpuMeter:
    """CPU seconds of webrackd, PostgreSQL (postmaster + backends), simagents and this driver,
    and of the whole machine, between start() and stop()."""

    def __init__(self, stack, sim):
        self.stack = stack
        self.sim = sim
        pidfile = stack.pgdir / "data" / "postmaster.pid"
        self.postmaster = int(pidfile.read_text().split()[0])

    def sample(self):
        pg = proc_cpu(self.postmaster) + sum(proc_cpu(p) for p in children_of(self.postmaster))
        t = os.times()
        # driver: this process and the clients it ran and waited for (burstgen)
        return {"webrackd": proc_cpu(self.stack.proc.pid), "postgres": pg,
                "simagents": proc_cpu(self.sim.proc.pid),
                "driver": t.user + t.system + t.children_user + t.children_system,
                "machine": machine_busy(), "wall": time.monotonic()}

    def start(self):
        self.t0 = self.sample()
        # backends that exit during the phase would be lost: the pool keeps them alive

    def stop(self):
        t1 = self.sample()
        d = {k: t1[k] - self.t0[k] for k in t1}
        wall = d.pop("wall")
        d["other"] = max(0.0, d["machine"] - sum(d[k] for k in
                                                 ("webrackd", "postgres", "simagents", "driver")))
        out = {k: v / wall for k, v in d.items()}  # cores busy on average
        out["seconds"] = wall
        return out


# --------------------------------------------------------------------------
# measurement


class Watcher:
    """Finds ended tasks by polling the database every 5 ms (one small indexed query
    for all clients), so that waiting clients do not load the API with task-get polls."""

    def __init__(self, conninfo):
        self.db = psycopg2.connect(conninfo)
        self.db.autocommit = True
        self.lock = threading.Lock()
        self.waiting = {}
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def wait_for(self, task_id):
        ev = threading.Event()
        with self.lock:
            self.waiting[task_id] = ev
        return ev

    def _run(self):
        cur = self.db.cursor()
        while not self.stopping:
            with self.lock:
                ids = list(self.waiting)
            if ids:
                cur.execute("SELECT /* bench-watcher */ id FROM tasks WHERE id = ANY(%s) "
                            "AND status IN ('done', 'failed')", (ids,))
                ended = [r[0] for r in cur.fetchall()]
                with self.lock:
                    for i in ended:
                        self.waiting.pop(i).set()
            time.sleep(0.005)

    def close(self):
        self.stopping = True
        self.thread.join()
        self.db.close()


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p / 100.0))]


def run_phase(stack, token, watcher, pool, limit, k, seconds):
    """K closed-loop clients start vServers taken from pool (at most limit of them); they stop
    taking new ones after `seconds`."""
    qlock = threading.Lock()
    taken = [0]
    task_ids, api_ms, errors = [], [], []
    deadline = time.monotonic() + seconds

    def client():
        c = Client(stack.port, token)
        while time.monotonic() < deadline:
            with qlock:
                if not pool or taken[0] >= limit:
                    return
                taken[0] += 1
                vs = pool.pop()
            t0 = time.monotonic()
            try:
                res = c.call("vserver-start", id=vs)
            except Exception as e:  # noqa: BLE001 - counted and reported
                errors.append(repr(e))
                continue
            api_ms.append((time.monotonic() - t0) * 1000)
            task_ids.append(res["task_id"])
            if not watcher.wait_for(res["task_id"]).wait(120):
                errors.append(f"task {res['task_id']} did not end in 120 s")

    t0 = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(k)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    return task_ids, api_ms, errors, wall


def run_burst_c(stack, token, pool, count, k):
    """The same burst from burstgen (C, one libevent loop, K keep-alive TLS connections): the
    same vserver-start calls at a fraction of the Python threads' CPU."""
    ids = [pool.pop() for _ in range(min(count, len(pool)))]
    r = subprocess.run([str(HERE / "burstgen"), "-p", str(stack.port), "-t", token, "-c",
                        str(k)], input="\n".join(str(i) for i in ids) + "\n",
                       capture_output=True, text=True, check=True)
    out = json.loads(r.stdout)
    return out["tasks"], out["lat_ms"], out["errors"], out["seconds"]


def run_burst(stack, token, pool, count, k):
    """K clients fire vserver-start for `count` vServers as fast as the API answers, without
    waiting for the tasks; returns the task ids, the API latencies and the intake time."""
    qlock = threading.Lock()
    task_ids, api_ms, errors = [], [], []

    def client():
        c = Client(stack.port, token)
        while True:
            with qlock:
                if not pool or len(task_ids) + len(errors) >= count:
                    return
                vs = pool.pop()
            t0 = time.monotonic()
            try:
                res = c.call("vserver-start", id=vs)
            except Exception as e:  # noqa: BLE001 - counted and reported
                with qlock:
                    errors.append(repr(e))
                continue
            with qlock:
                api_ms.append((time.monotonic() - t0) * 1000)
                task_ids.append(res["task_id"])

    t0 = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(k)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return task_ids, api_ms, errors, time.monotonic() - t0


def burst_figures(db, task_ids, api_ms, intake):
    cur = db.cursor()
    cur.execute(
        "SELECT k.status, extract(epoch FROM k.started_at)::float8, "
        "extract(epoch FROM k.ended_at)::float8, "
        "(SELECT extract(epoch FROM min(pg_xact_commit_timestamp(c.xmin)))::float8 "
        " FROM vcpu_cores c WHERE c.vserver_id = k.vserver_id), "
        "k.info FROM tasks k WHERE k.id = ANY(%s)", (task_ids,))
    rows = cur.fetchall()
    placed = [r for r in rows if r[3] is not None]
    done = [r for r in rows if r[0] == "done"]
    commits = sorted(r[3] for r in placed)
    batches = {}  # a batch is one transaction: its placements share the commit timestamp
    for r in placed:
        batches[r[3]] = batches.get(r[3], 0) + 1
    sizes = sorted(batches.values())
    span = commits[-1] - commits[0] if len(commits) > 1 else float("nan")
    # The middle 80 % of the commits: the scheduler's steady rate with a full queue, without
    # the ramp-up while the first requests arrive and the tail of the last small batches.
    lo, hi = int(len(commits) * 0.1), int(len(commits) * 0.9)
    mid = (hi - lo) / (commits[hi] - commits[lo]) if hi > lo and commits[hi] > commits[lo] \
        else float("nan")
    return {
        "tasks": len(rows), "placed": len(placed), "done": len(done),
        "failed": len(rows) - len(done),
        "failures": sorted({(r[4] or "")[:120] for r in rows if r[0] != "done"})[:3],
        "intake_per_second": len(task_ids) / intake if intake else 0.0,
        "placed_per_second": len(placed) / span if span == span and span > 0 else float("nan"),
        "placed_mid_per_second": mid,
        "tasks_per_second": len(done) / (max(r[2] for r in done) - min(r[1] for r in done))
        if len(done) > 1 else float("nan"),
        "batches": len(sizes), "batch_p50": pct(sizes, 50), "batch_max": sizes[-1] if sizes else 0,
        "commit_p50": pct([(r[3] - r[1]) * 1000 for r in placed], 50),
        "commit_p99": pct([(r[3] - r[1]) * 1000 for r in placed], 99),
        "api_p50": pct(api_ms, 50), "api_p99": pct(api_ms, 99),
    }


def log_pick_times(log_file):
    """Task id -> epoch seconds of its "goes to node" line (placement_pick() has returned)."""
    pat = re.compile(r"^(\S+Z) info\s+\S+: task (\d+): vServer \d+ goes to node")
    out = {}
    with open(log_file, errors="replace") as f:
        for line in f:
            m = pat.match(line)
            if m:
                ts = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
                out[int(m.group(2))] = ts.replace(tzinfo=datetime.timezone.utc).timestamp()
    return out


def phase_figures(db, stack, task_ids, api_ms, wall):
    cur = db.cursor()
    cur.execute(
        "SELECT k.id, k.status, extract(epoch FROM k.started_at)::float8, "
        "extract(epoch FROM k.ended_at)::float8, "
        "(SELECT extract(epoch FROM min(pg_xact_commit_timestamp(c.xmin)))::float8 "
        " FROM vcpu_cores c WHERE c.vserver_id = k.vserver_id), k.info "
        "FROM tasks k WHERE k.id = ANY(%s)", (task_ids,))
    rows = cur.fetchall()
    picks = log_pick_times(stack.log_file)
    done = [r for r in rows if r[1] == "done"]
    failed = [r for r in rows if r[1] != "done"]
    span = (max(r[3] for r in done) - min(r[2] for r in done)) if done else float("nan")
    commit = [(r[4] - r[2]) * 1000 for r in done if r[4] is not None]
    pick = [(picks[r[0]] - r[2]) * 1000 for r in done if r[0] in picks]
    e2e = [(r[3] - r[2]) * 1000 for r in done]
    return {
        "tasks": len(rows), "done": len(done), "failed": len(failed),
        "failures": sorted({(r[5] or "")[:120] for r in failed})[:3],
        "per_second": len(done) / span if done else 0.0,
        "client_per_second": len(done) / wall,
        "commit_p50": pct(commit, 50), "commit_p99": pct(commit, 99),
        "pick_p50": pct(pick, 50), "pick_p99": pct(pick, 99),
        "e2e_p50": pct(e2e, 50), "e2e_p99": pct(e2e, 99),
        "api_p50": pct(api_ms, 50), "api_p99": pct(api_ms, 99),
    }


STATEMENTS = ("FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE "
              "datname = current_database()) AND query NOT LIKE '%%bench-watcher%%' AND "
              "query NOT LIKE '%%pg_stat_statements%%'")


def top_statements(db, limit=8):
    """The statements that took the most execution time, and the total of all of webrackd's."""
    cur = db.cursor()
    cur.execute("SELECT calls, total_exec_time, mean_exec_time, "
                "regexp_replace(query, '\\s+', ' ', 'g') " + STATEMENTS +
                " ORDER BY total_exec_time DESC LIMIT %s", (limit,))
    rows = cur.fetchall()
    cur.execute("SELECT coalesce(sum(total_exec_time), 0) " + STATEMENTS)
    return rows, float(cur.fetchone()[0])


def perf_webrackd(pid, seconds, out):
    """Where webrackd's own CPU goes: perf record on its pid, the top symbols. None without
    perf (or when it cannot attach)."""
    perf = shutil.which("perf")
    if perf is None:
        return None
    graph = ["--call-graph", "dwarf,16384"] if os.environ.get("BENCH_PERF_CALLGRAPH") else []
    r = subprocess.run([perf, "record", "-q", "-F", "499", *graph, "-p", str(pid), "-o",
                        str(out), "--", "sleep", str(seconds)], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    r = subprocess.run([perf, "report", "-i", str(out), "--no-children", "--stdio",
                        "--sort", "dso,sym"], capture_output=True, text=True)
    top = []
    for ln in r.stdout.splitlines():
        m = re.match(r"^\s+([0-9.]+)%\s+(\S+)\s+\[[.k]\]\s+(.+?)\s*$", ln)
        if m:
            top.append((float(m.group(1)), m.group(2), m.group(3)))
    r = subprocess.run([perf, "report", "-i", str(out), "--no-children", "--stdio",
                        "--sort", "dso"], capture_output=True, text=True)
    dsos = []
    for ln in r.stdout.splitlines():
        m = re.match(r"^\s+([0-9.]+)%\s+(\S+)", ln)
        if m:
            dsos.append((float(m.group(1)), m.group(2)))
    return {"symbols": top[:10], "objects": dsos[:6]}


# --------------------------------------------------------------------------
# report


def fmt(v, nd=1):
    if v != v:  # NaN
        return "-"
    return f"{v:,.{nd}f}"


def throughput_rows(L, label, phases):
    for k, f, cpu in phases:
        L.append(f"| {label} | {k} | {f['done']:,} | {f['failed']} | {fmt(f['per_second'])} | "
                 f"{f['per_second'] / GOAL:.4f}× | {fmt(f['e2e_p50'])} / {fmt(f['e2e_p99'])} | "
                 f"{fmt(f['api_p50'])} / {fmt(f['api_p99'])} | {cpu['webrackd']:.2f} | "
                 f"{cpu['postgres']:.2f} | {cpu['simagents']:.2f} | {cpu['driver']:.2f} | "
                 f"{cpu['other']:.2f} | {per_task(cpu['webrackd'], f)} / "
                 f"{per_task(cpu['postgres'], f)} |")


def per_task(cores, f):
    """CPU milliseconds per task done, from cores busy and tasks per second."""
    return fmt(cores / f["client_per_second"] * 1000, 1) if f["client_per_second"] else "-"


def statement_table(L, stmts):
    rows, all_ms = stmts
    L.append("| calls | total ms | share | mean ms | statement |")
    L.append("|---|---|---|---|---|")
    for calls, total, mean, q in rows:
        q = q.replace("|", "\\|")
        q = q if len(q) <= 100 else q[:97] + "..."
        share = f"{100 * total / all_ms:.1f} %" if all_ms else "-"
        L.append(f"| {calls:,} | {fmt(total, 0)} | {share} | {fmt(mean, 2)} | `{q}` |")


def render(meta, micro, phases, stmts, burst, burst_stmts):
    L = []
    L.append("## Placement")
    L.append("")
    L.append("Written by `bench/placement/run.py` (see `bench/README.md`); rerun it rather than "
             "editing these figures. Goal (issue): ≥ 2,000 committed placements per second with "
             "1,000 nodes.")
    L.append("")
    L.append(f"* date: {meta['date']}; commit {meta['commit']}")
    L.append(f"* machine: {meta['cpus']} cores ({meta['cpu_model']}), {meta['mem_gb']} GB RAM, "
             f"{meta['os']}; load average when the run started: {meta['load_before']}")
    L.append(f"* webrackd, its PostgreSQL {meta['pg_version']} (private cluster, default "
             f"durability: fsync and synchronous_commit on), the {meta['nodes']:,} simulated "
             "agents (one process) and the Python clients all share those "
             f"{meta['cpus']} cores; the CPU columns say who used them")
    L.append(f"* N = {meta['nodes']:,} nodes (simagents: real agent links over mutual TLS with "
             "certificates from node-join, inventory "
             f"{meta['node_cores']} dedicated cores, {meta['node_ram_mb'] // 1024} GB RAM, one "
             "shared storage, accel tcg, a heartbeat a second; every command answered at once), "
             f"M = {meta['vservers']:,} vServers defined (1 core, 512 MB, 10 GB each), "
             f"webrackd db_pool_size = {meta['pool']}, log_level = info")
    L.append(f"* setup: {meta['nodes']:,} node-joins in {fmt(meta['join_s'])} s, all agents "
             f"online in {fmt(meta['agents_s'])} s, {meta['vservers']:,} vserver-create in "
             f"{fmt(meta['create_s'])} s ({fmt(meta['vservers'] / meta['create_s'], 0)}/s with 8 "
             "clients)")
    L.append("")
    best = max((f["per_second"] for _, f, _ in phases), default=0.0)
    summary = (f"**Summary.** Closed loop (each client waits for its whole task): best "
               f"{fmt(best)} vServers started per second. ")
    if burst:
        f = burst[0]
        summary += (f"Burst of {f['tasks']:,} starts: {fmt(f['placed_per_second'])} committed "
                    f"placements/s over the whole burst ({f['placed_per_second'] / GOAL:.2f}× "
                    f"the goal), {fmt(f['placed_mid_per_second'])}/s in its middle 80 % "
                    f"({f['placed_mid_per_second'] / GOAL:.2f}× the goal), with the API taking "
                    f"{fmt(f['intake_per_second'], 0)} calls/s. ")
    summary += (f"`placement_pick()` alone: {fmt(micro['pick']['per_second'], 0)} decisions/s "
                f"({micro['pick']['per_second'] / GOAL:.1f}× the goal).")
    L.append(summary)
    L.append("")
    L.append("How webrackd places (controller/capacity.c, docs/ARCHITECTURE.md \"Starts in "
             "sets\"): the nodes' free cores, RAM and disk are cached in memory; placement "
             "requests queue up, are decided in a batch against the cache and committed in one "
             "statement, `wr_place_batch()`, which also gives each start its NIC, its step and "
             "its VM definition (a decision that no longer fits falls back to one "
             "subtransaction per vServer and is decided again). The task rows of the "
             "vserver-start calls and the tasks' ends are group-committed the same way. One "
             "batch of each kind is in flight at a time, so batches grow with the load, like "
             "group commit; a start costs the database its share of three batch statements "
             "plus the API call's own reads.")
    L.append("")
    L.append("### (a) closed loop: vServers started per second, end to end")
    L.append("")
    L.append("K closed-loop clients (bearer token of a customer admin), each: `vserver-start` → "
             "wait until its task is `done` → the next vServer; a phase stops taking new "
             f"vServers after {fmt(meta['phase_seconds'], 0)} s. A task is placement → "
             "disk.create → vm.define → vm.start on the simulated node. Rate = tasks done / "
             "(last ended_at − first started_at). CPU columns: cores busy on average during the "
             "phase (2.00 = both cores of this machine); \"other\" is everything else running "
             "on it.")
    L.append("")
    L.append("| database | K | tasks done | failed | tasks/s | of the goal | task p50 / p99 "
             "ms | vserver-start API p50 / p99 ms | CPU webrackd | CPU postgres | "
             "CPU simagents | CPU clients | CPU other | CPU ms per task: webrackd / postgres |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    throughput_rows(L, "product", phases)
    L.append("")
    L.append("### (b) decision latency inside the controller (closed loop)")
    L.append("")
    L.append("From the task's `started_at` (its INSERT by vserver-start) to the moment "
             "`placement_pick()` returned (the \"goes to node\" log line, written when the "
             "placement has committed, millisecond resolution), and to the commit of the "
             "placement (PostgreSQL's commit timestamp of the `vcpu_cores` rows; the run "
             "switches track_commit_timestamp on in its private cluster). Includes loading the "
             "task, waiting for the batch in flight, the decision and the commit.")
    L.append("")
    L.append("| K | started → committed p50 / p99 ms | started → logged p50 / p99 ms |")
    L.append("|---|---|---|")
    for k, f, cpu in phases:
        L.append(f"| {k} | {fmt(f['commit_p50'])} / {fmt(f['commit_p99'])} | "
                 f"{fmt(f['pick_p50'])} / {fmt(f['pick_p99'])} |")
    L.append("")
    if burst:
        f, cpu = burst
        L.append("### (d) burst: committed placements per second with a full queue")
        L.append("")
        who = ("keep-alive HTTPS connections of `burstgen` (C, one libevent loop; the Python "
               "threads used before cost about 2 ms of CPU per call, which capped the burst on "
               "2 cores)" if meta.get("burst_client") == "c" else "Python client threads")
        L.append(f"{meta['burst_clients']} {who} fire `vserver-start` for {f['tasks']:,} "
                 "vServers as fast as the API answers, without waiting for the tasks (a mass "
                 "start, or what a failover brings at once). Placements/s = placements "
                 "committed / (last − first commit timestamp); the middle-80 % figure leaves out "
                 "the ramp-up and the tail. Batches = distinct placement transactions.")
        L.append("")
        L.append("| starts | placed | failed | API intake calls/s | placements/s (all) | "
                 "placements/s (middle 80 %) | of the goal | batches | batch p50 / max | "
                 "started → committed p50 / p99 ms | whole tasks/s | API p50 / p99 ms | "
                 "CPU webrackd | CPU postgres | CPU simagents | CPU clients | CPU other |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        L.append(f"| {f['tasks']:,} | {f['placed']:,} | {f['failed']} | "
                 f"{fmt(f['intake_per_second'], 0)} | {fmt(f['placed_per_second'])} | "
                 f"{fmt(f['placed_mid_per_second'])} | "
                 f"{f['placed_mid_per_second'] / GOAL:.2f}× | {f['batches']:,} | "
                 f"{fmt(f['batch_p50'], 0)} / {f['batch_max']} | {fmt(f['commit_p50'])} / "
                 f"{fmt(f['commit_p99'])} | {fmt(f['tasks_per_second'])} | "
                 f"{fmt(f['api_p50'])} / {fmt(f['api_p99'])} | {cpu['webrackd']:.2f} | "
                 f"{cpu['postgres']:.2f} | {cpu['simagents']:.2f} | {cpu['driver']:.2f} | "
                 f"{cpu['other']:.2f} |")
        L.append("")
        if f["placed"]:
            per = {k: cpu[k] * cpu["seconds"] / f["placed"] * 1000
                   for k in ("webrackd", "postgres", "simagents", "driver")}
            total = sum(per.values())
            L.append(f"CPU per placement during the burst (CPU time of the phase / placements): "
                     f"webrackd {per['webrackd']:.2f} ms, PostgreSQL {per['postgres']:.2f} ms, "
                     f"simagents {per['simagents']:.2f} ms, client {per['driver']:.2f} ms; "
                     f"{total:.2f} ms in all, so {meta['cpus']} cores carry at most "
                     f"{meta['cpus'] * 1000 / total:,.0f} placements/s on this machine (the goal "
                     f"needs at most {meta['cpus'] * 1000 / GOAL:.2f} ms in all).")
            L.append("")
        wk = f.get("work")
        if wk:
            L.append(f"Database work per placement during the burst (pg_stat_statements; unlike "
                     f"CPU times it does not depend on what else runs on the machine): "
                     f"{wk['blocks']:.1f} buffer blocks touched, {wk['walrec']:.1f} WAL records, "
                     f"{wk['walbytes']:,.0f} WAL bytes, {wk['ms']:.3f} ms of statement time. "
                     "Rows in the whole run, inserted / updated / of those HOT (no index "
                     "entries): " + "; ".join(f"{r[0]} {r[1]:,} / {r[2]:,} / {r[3]:,}"
                                              for r in wk["tables"]) + ".")
            L.append("")
        for why in f["failures"]:
            L.append(f"Failure seen: `{why}`")
            L.append("")
    L.append("### (c) the decision alone (pickbench, same run)")
    L.append("")
    L.append(f"`placement_pick()` from controller/placement.c over {micro['nodes']:,} in-memory "
             "nodes, in its own process before the stack starts, taking the room from the "
             "chosen node after every decision as the cache does. Rates are over the timed "
             "calls (one core).")
    L.append("")
    L.append("| what | decisions/s | of the goal | p50 µs | p99 µs |")
    L.append("|---|---|---|---|---|")
    m = micro["pick"]
    L.append(f"| placement_pick() | {fmt(m['per_second'], 0)} | {m['per_second'] / GOAL:.2f}× | "
             f"{fmt(m['p50_us'], 2)} | {fmt(m['p99_us'], 2)} |")
    L.append("")
    L.append("### Where the database time went (pg_stat_statements)")
    L.append("")
    L.append("Closed-loop phases:")
    L.append("")
    statement_table(L, stmts)
    L.append("")
    if burst_stmts:
        L.append("Burst:")
        L.append("")
        statement_table(L, burst_stmts)
        L.append("")
    prof = meta.get("profile") or {}
    if prof.get("top"):
        L.append(f"### Where webrackd's CPU went (perf, {prof['phase']})")
        L.append("")
        L.append("By object: " + ", ".join(f"{dso} {share:.1f} %"
                                           for share, dso in prof["top"]["objects"]) + ".")
        L.append("")
        L.append("| share of webrackd samples | object | symbol |")
        L.append("|---|---|---|")
        for share, dso, sym in prof["top"]["symbols"]:
            L.append(f"| {share:.1f} % | {dso} | `{sym}` |")
        L.append("")
    for n in meta.get("notes", []):
        L.append(n)
        L.append("")
    return "\n".join(L)


def write_section(path, section, title="## Placement"):
    """Replace (or append) the section with this title; keep every other section."""
    head = "# webrack benchmarks\n\nFigures measured by the scripts under `bench/`; each " \
           "section is written by its own benchmark.\n"
    text = path.read_text() if path.exists() else head
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.strip() == title), None)
    if start is None:
        new = text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
                   len(lines))
        new = "\n".join(lines[:start] + section.rstrip("\n").splitlines() + [""]
                        + lines[end:]).rstrip("\n") + "\n"
    path.write_text(new)


def machine_meta():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for ln in f:
            if ln.startswith("model name"):
                model = ln.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    osname = "Linux"
    try:
        for ln in Path("/etc/os-release").read_text().splitlines():
            if ln.startswith("PRETTY_NAME="):
                osname = ln.split("=", 1)[1].strip('"')
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True,
                               text=True).stdout.strip()
        commit += " (with uncommitted changes)" if dirty else ""
    except OSError:
        commit = "?"
    return {"cpus": os.cpu_count(), "cpu_model": model, "mem_gb": round(mem_kb / 1048576),
            "os": osname, "commit": commit,
            "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


# --------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--vservers", type=int, default=5000)
    ap.add_argument("--clients", default="1,8,32")
    ap.add_argument("--per-phase", default="",
                    help="vServers per phase, comma separated (default: M split 1:3:6)")
    ap.add_argument("--phase-seconds", type=float, default=25.0,
                    help="a phase stops taking new vServers after this long")
    ap.add_argument("--burst", type=int, default=2000,
                    help="vServers started in the burst phase (default 2000; 0: no burst)")
    ap.add_argument("--burst-clients", type=int, default=32)
    ap.add_argument("--burst-client", choices=("c", "python"), default="c",
                    help="who fires the burst: burstgen (C, default) or Python threads")
    ap.add_argument("--perf", action=argparse.BooleanOptionalAction, default=True,
                    help="profile webrackd with perf during the last phase (default: on when "
                    "perf is installed)")
    ap.add_argument("--pool", type=int, default=8, help="webrackd db_pool_size")
    ap.add_argument("--no-write", action="store_true", help="do not write docs/BENCHMARKS.md")
    ap.add_argument("--keep", action="store_true", help="keep the stack's directory")
    ap.add_argument("--burst-only", action="store_true",
                    help="a quick look at the burst: no closed-loop phases, no pickbench "
                    "figures written (implies --no-write; M defaults to the burst's size)")
    ap.add_argument("--track-all", action="store_true",
                    help="pg_stat_statements also inside functions (wr_place_batch's parts), "
                    "the top 25 printed after the burst")
    ap.add_argument("--what-if-sql", metavar="FILE",
                    help="run this SQL file in the private database before the nodes join "
                    "(an A/B comparison, e.g. an earlier version of a function); the run is "
                    "labelled and never written to docs/BENCHMARKS.md")
    ap.add_argument("--auto-explain", action="store_true",
                    help="with --track-all: EXPLAIN (ANALYZE, BUFFERS) of every statement over "
                    "5 ms in the PostgreSQL log (--keep to read it); slows the database")
    args = ap.parse_args()
    if args.burst_only or args.what_if_sql:
        args.no_write = True
    if args.burst_only:
        args.clients = ""
        if args.vservers == ap.get_default("vservers"):
            args.vservers = args.burst

    ks = [int(x) for x in args.clients.split(",") if x]
    if args.per_phase:
        per = [int(x) for x in args.per_phase.split(",")]
    else:
        weights = [1, 3, 6][:len(ks)] + [6] * max(0, len(ks) - 3)
        per = [(args.vservers - args.burst) * x // sum(weights) for x in weights]
    assert len(per) == len(ks) and sum(per) + args.burst <= args.vservers, \
        "--per-phase and --burst must fit in M"

    t_all = time.monotonic()
    meta = machine_meta()
    # One descriptor per agent link on both ends: make room before starting the daemons.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.keep:
        os.environ["WEBRACK_KEEP_TEST_DIRS"] = "1"

    say("building bench/placement (simagents, pickbench)")
    subprocess.run(["make", "-s", "-C", str(HERE)], check=True)

    say(f"(c) pickbench over {args.nodes} nodes")
    micro = json.loads(subprocess.run([str(HERE / "pickbench"), "-n", str(args.nodes), "-s", "2"],
                                      check=True, capture_output=True, text=True).stdout)
    say(f"    pick {micro['pick']['per_second']:,.0f}/s p50 {micro['pick']['p50_us']:.2f} µs")

    say("starting PostgreSQL and webrackd")
    BenchStack.track_all = args.track_all
    BenchStack.auto_explain = args.auto_explain
    stack = BenchStack("bench", db_pool_size=args.pool, log_level="info", db_queue_max=100000,
                       workers=2, login_max_ip_failures=100000)
    stack.start()
    sim = None
    try:
        db = stack.db()
        db.autocommit = True
        cur = db.cursor()
        cur.execute("SHOW server_version")
        meta["pg_version"] = cur.fetchone()[0].split()[0]
        if args.what_if_sql:
            say(f"what-if: running {args.what_if_sql} in the private database")
            cur.execute(Path(args.what_if_sql).read_text())

        say(f"joining {args.nodes} nodes (node-join-token-create + node-join with a CSR)")
        t0 = time.monotonic()
        certdir = stack.dir / "sim" / "certs"
        ca = join_nodes(stack, args.nodes, certdir)
        meta["join_s"] = time.monotonic() - t0

        say("starting simagents")
        t0 = time.monotonic()
        sim = SimAgents(HERE / "simagents", stack.agent_port, ca, certdir, args.nodes,
                        stack.dir / "simagents.log")
        if not sim.ready.wait(120):
            raise SystemExit(f"the agents did not all come up: {sim.status}")

        def all_online():
            cur.execute("SELECT count(*) FROM nodes WHERE state = 'online'")
            return cur.fetchone()[0] == args.nodes
        w.wait_until(all_online, 60, 0.2, f"{args.nodes} nodes online in the nodes table")
        meta["agents_s"] = time.monotonic() - t0
        say(f"    {args.nodes} nodes online after {meta['agents_s']:.1f} s ({sim.status})")

        say("account tree, customer admin, bearer token")
        admin = stack.admin()
        big = dict(quota_cores=1_000_000, quota_ram_mb=2_000_000_000, quota_disk_gb=100_000_000,
                   quota_vservers=1_000_000)
        pid = w.provider_id(admin)
        reseller = w.make_account(admin, pid, "reseller", **big)
        customer = w.make_account(admin, reseller["id"], "customer", **big)
        cadmin = w.make_user(stack, admin, customer["id"], role="admin")
        token = cadmin.api.call("token-create", name="bench")["secret"]

        say(f"defining {args.vservers} vServers (vserver-create, 8 clients)")
        t0 = time.monotonic()
        local = threading.local()

        def create(i):
            if getattr(local, "c", None) is None:
                local.c = Client(stack.port, token)
            return local.c.call("vserver-create", account_id=customer["id"],
                                name=f"bench-{i:05d}", cores=1, ram_mb=512, disk_gb=10)["id"]
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            vs_ids = list(ex.map(create, range(args.vservers)))
        meta["create_s"] = time.monotonic() - t0
        say(f"    {args.vservers} created in {meta['create_s']:.1f} s")

        watcher = Watcher(stack.conninfo)
        meter = CpuMeter(stack, sim)
        pool = list(reversed(vs_ids))

        profile = {}

        def phases_of(label, ks_, per_, seconds, perf_last=False):
            out = []
            cur.execute("SELECT pg_stat_statements_reset()")
            for i, (k, count) in enumerate(zip(ks_, per_)):
                say(f"(a) {label} K={k}: starting up to {min(count, len(pool))} vServers "
                    f"for at most {seconds:.0f} s")
                prof = None
                if perf_last and args.perf and i == len(ks_) - 1:
                    # webrackd's own CPU profile in the middle of the busiest phase
                    def sample(label=label, k=k):
                        time.sleep(min(3.0, seconds / 4))
                        profile["phase"] = f"{label}, K = {k}"
                        profile["top"] = perf_webrackd(stack.proc.pid, max(1, int(seconds / 2)),
                                                       stack.dir / "webrackd.perf")
                    prof = threading.Thread(target=sample, daemon=True)
                    prof.start()
                meter.start()
                task_ids, api_ms, errors, wall = run_phase(stack, token, watcher, pool, count,
                                                           k, seconds)
                cpu = meter.stop()
                if prof is not None:
                    prof.join()
                f = phase_figures(db, stack, task_ids, api_ms, wall)
                if errors:
                    f["failed"] += len(errors)
                    f["failures"] = (f["failures"] + sorted(set(errors)))[:3]
                out.append((k, f, cpu))
                say(f"    K={k}: {f['done']} done, {f['failed']} failed, "
                    f"{f['per_second']:.1f} placements/s; decision p50 {fmt(f['commit_p50'])} "
                    f"ms p99 {fmt(f['commit_p99'])} ms; CPU webrackd {cpu['webrackd']:.2f} "
                    f"postgres {cpu['postgres']:.2f} sim {cpu['simagents']:.2f} "
                    f"clients {cpu['driver']:.2f} other {cpu['other']:.2f}")
                for why in f["failures"]:
                    say(f"    failure: {why}")
            return out, top_statements(db)

        phases, stmts = phases_of("product", ks, per, args.phase_seconds,
                                  perf_last=args.burst == 0)
        burst, burst_stmts = None, None
        if args.burst:
            n = min(args.burst, len(pool))
            say(f"(d) burst: {n} vserver-start calls from {args.burst_clients} clients, "
                "not waiting for the tasks")
            cur.execute("SELECT pg_stat_statements_reset()")
            prof = None
            if args.perf:
                def sample():
                    # From the burst's ramp-up to its end (about 1.5 s per 2,000 starts).
                    time.sleep(0.3)
                    profile["phase"] = f"burst of {n}"
                    profile["top"] = perf_webrackd(stack.proc.pid, max(3, n // 1000),
                                                   stack.dir / "webrackd.perf")
                prof = threading.Thread(target=sample, daemon=True)
                prof.start()
            meter.start()
            burst_fn = run_burst_c if args.burst_client == "c" else run_burst
            task_ids, api_ms, errors, intake = burst_fn(stack, token, pool, n,
                                                        args.burst_clients)
            events = [watcher.wait_for(t) for t in task_ids]
            for ev in events:
                if not ev.wait(300):
                    errors.append("a task did not end within 300 s")
                    break
            cpu = meter.stop()
            if prof is not None:
                prof.join()
            f = burst_figures(db, task_ids, api_ms, intake)
            if errors:
                f["failed"] += len(errors)
                f["failures"] = (f["failures"] + sorted(set(errors)))[:3]
            burst, burst_stmts = (f, cpu), top_statements(db)
            # Idle backends report their table statistics within about 10 s (PostgreSQL 15).
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                cur.execute("SELECT coalesce(sum(n_tup_upd), 0) FROM pg_stat_user_tables "
                            "WHERE relname = 'tasks'")
                if cur.fetchone()[0] >= 2 * n:
                    break
                time.sleep(0.5)
            # Work that does not depend on what else runs on the machine (unlike the CPU
            # times): blocks touched and WAL written by the burst's statements, and how many
            # of the updates were HOT (no index entries).
            cur.execute("SELECT sum(shared_blks_hit + shared_blks_read), sum(wal_records), "
                        "sum(wal_bytes), sum(total_exec_time) " + STATEMENTS)
            work = dict(zip(("blocks", "walrec", "walbytes", "ms"),
                            (float(x or 0) / max(n, 1) for x in cur.fetchone())))
            cur.execute("SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd FROM "
                        "pg_stat_user_tables WHERE relname IN ('tasks', 'vservers', 'nics', "
                        "'nodes', 'audit', 'vcpu_cores') ORDER BY relname")
            work["tables"] = cur.fetchall()
            f["work"] = work
            say(f"    database work per placement: {work['blocks']:.1f} blocks touched, "
                f"{work['walrec']:.1f} WAL records, {work['walbytes']:,.0f} WAL bytes, "
                f"{work['ms']:.3f} ms statement time")
            say("    rows (whole run) inserted / updated / of those HOT: " + "; ".join(
                f"{r[0]} {r[1]} / {r[2]} / {r[3]}" for r in work["tables"]))
            if args.track_all:
                for calls, total, mean, q in top_statements(db, 25)[0]:
                    say(f"    {calls:6d} {total:9.1f} ms {mean:8.3f} ms  {q[:220]}")
            say(f"    intake {f['intake_per_second']:.0f}/s; {f['placed']} placed, "
                f"{fmt(f['placed_per_second'])} placements/s (middle 80 %: "
                f"{fmt(f['placed_mid_per_second'])}/s) in {f['batches']} batches "
                f"(p50 {fmt(f['batch_p50'], 0)}, max {f['batch_max']}); tasks "
                f"{fmt(f['tasks_per_second'])}/s; {f['failed']} failed")
            if f["placed"]:
                per = {k: cpu[k] * cpu["seconds"] / f["placed"] * 1000
                       for k in ("webrackd", "postgres", "simagents", "driver")}
                say("    CPU ms per placement: " + ", ".join(
                    f"{k} {v:.3f}" for k, v in per.items()) + f"; all {sum(per.values()):.3f}"
                    f" (other: {cpu['other']:.2f} cores busy)")
            for why in f["failures"]:
                say(f"    failure: {why}")
        watcher.close()
        db.close()
        meta.update(nodes=args.nodes, vservers=args.vservers, pool=args.pool, node_cores=64,
                    node_ram_mb=262144, notes=[], phase_seconds=args.phase_seconds,
                    burst_clients=args.burst_clients, burst_client=args.burst_client,
                    profile=profile)
        if float(meta["load_before"].split()[0]) > 0.5:
            meta["notes"].append(
                f"Note: the machine was not idle when this run started (load average "
                f"{meta['load_before']}); the \"CPU other\" column shows how much of the two "
                "cores the rest of the machine took during each phase, so these figures are "
                "lower bounds for an idle machine.")
    except BaseException:
        print(stack.log_tail(40), file=sys.stderr)
        raise
    finally:
        if sim is not None:
            sim.stop()
        stack.stop(check=False)

    section = render(meta, micro, phases, stmts, burst, burst_stmts)
    print()
    print(section)
    if not args.no_write:
        write_section(REPO / "docs" / "BENCHMARKS.md", section)
        say("wrote the Placement section of docs/BENCHMARKS.md")
    say(f"total {time.monotonic() - t_all:.0f} s")


if __name__ == "__main__":
    main()
