"""Failover end to end (docs/ARCHITECTURE.md, "Failover"): a controller and three webrack-node
agents in the node namespaces of a simulated rack (tests/lib/netns.py, prefix "wf") with one
shared storage directory; n3 is a reserve node. A failover vServer (the test guest from the ISO,
TCG) and a vServer without failover (no ISO: its QEMU just idles in the BIOS) run on n1/n2.
Short timeouts: the agents fence after 3 s, the controller fails over after 6 s (margin 2 s).

In file order, sharing the module's rack:
  1. node death: both agents and their QEMUs SIGKILLed; the failover vServer restarts on the
     reserve node and answers on its TCP service, the other is stopped with the reason; task and
     audit rows; the agents come back with their old epoch and forget both vServers.
  2. link cut (a silent partition of the node's relays): the agent kills its QEMU after
     fence_after, before the controller declares the node dead; the vServer restarts on a node
     with room and answers; the watchdog file is no longer fed; after the partition heals the
     node is told what it must not run and never resumes it.
  3. agent frozen (SIGSTOP): it cannot fence, its QEMU keeps running and keeps the disk image
     locked: the restart on the reserve node fails on the lock and is retried until SIGCONT lets
     the agent fence itself; then the vServer runs on the reserve node.
  4. controller away (webrackd stopped) longer than fence_after: the agent fences; webrackd is
     back before failover_after, no node is declared dead, and the hello's "fenced" VM makes the
     controller start the failover vServer on its own node again.
A checker thread samples every QEMU on the host every 50 ms the whole time and fails the module
if a vServer ever runs twice (two QEMUs of one vServer with vCPU threads, which QEMU creates only
after it opened and locked the disk); the first test shows that it does catch two QEMUs claiming
one vServer.

FailoverRack is also what bench/failover/run.py measures with.
Needs root, two CPUs, qemu-system-x86_64 and dnsmasq.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

import webrack_it as w
from test_zz_rack import GUEST_ISO, GUEST_PORT, NodeAgent, ensure_guest_iso, qemu_pids

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "lib"))
import netns  # noqa: E402
from procs import threads  # noqa: E402

FENCE_AFTER, FAILOVER_AFTER, MARGIN = 3, 6, 2
LEASE_TIMEOUT = 90

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or (os.cpu_count() or 1) < 2
                                or shutil.which("qemu-system-x86_64") is None,
                                reason="needs root, two CPUs and qemu-system-x86_64")

QMP_PATH = re.compile(r"path=(.*)/vm-(\d+)/qmp\.sock")


def running_qemus(prefix):
    """{vserver id: [(pid, run_dir of its node's agent)]} of every QEMU on the host that runs
    its guest: it has vCPU threads, which QEMU creates only after it opened (and locked) the
    disks, so a QEMU refused by the image lock never counts. Only the QEMUs of agents whose
    run_dir is under prefix (vServer ids of other test stacks on the host would collide)."""
    out = {}
    for pid, argv in qemu_pids().items():
        m = next((QMP_PATH.search(a) for a in argv if QMP_PATH.search(a)), None)
        if m is None or not m.group(1).startswith(prefix):
            continue
        try:
            vcpu = any(comm.startswith("CPU ") for comm, _ in threads(pid).values())
        except OSError:
            continue
        if vcpu:
            out.setdefault(int(m.group(2)), []).append((pid, m.group(1)))
    return out


class TwiceChecker:
    """Samples running_qemus() every interval in a thread: records when each (vServer, node run
    dir) was first and last seen running, and every sample in which a vServer ran twice."""

    def __init__(self, prefix, interval=0.05):
        self.prefix = str(prefix)
        self.interval = interval
        self.samples = 0
        self.violations = []
        self.seen = {}  # (vid, run_dir, pid) -> [first, last] (time.monotonic)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True, name="twice-checker")
        self.thread.start()

    def _loop(self):
        while not self.stop.wait(self.interval):
            try:
                now, running = time.monotonic(), running_qemus(self.prefix)
            except OSError:
                continue
            with self.lock:
                self.samples += 1
                for vid, procs in running.items():
                    if len(procs) > 1:
                        self.violations.append((now, vid, procs))
                    for pid, run_dir in procs:
                        self.seen.setdefault((vid, run_dir, pid), [now, now])[1] = now

    def _spans(self, vid, run_dir):
        with self.lock:
            return [v for (i, d, _), v in self.seen.items() if i == vid and d == str(run_dir)]

    def first_seen(self, vid, run_dir, after=0.0):
        """When a QEMU of vid on that node was first seen running, among those started after."""
        firsts = [a for a, _ in self._spans(vid, run_dir) if a >= after]
        return min(firsts) if firsts else None

    def last_seen(self, vid, run_dir):
        lasts = [b for _, b in self._spans(vid, run_dir)]
        return max(lasts) if lasts else None

    def take(self, vid):
        """Remove and return the violations recorded for vid (the checker's own self-test)."""
        with self.lock:
            mine = [v for v in self.violations if v[1] == vid]
            self.violations = [v for v in self.violations if v[1] != vid]
        return mine

    def assert_never_twice(self):
        with self.lock:
            assert self.samples > 0, "the checker never sampled"
            assert not self.violations, f"a vServer ran twice: {self.violations[:5]}"

    def close(self):
        self.stop.set()
        self.thread.join(2)


class FoAgent(NodeAgent):
    """test_zz_rack's agent, on the shared storage, with short fencing and a watchdog file."""

    def __init__(self, stack, rack, node, workdir, shared, fence_after):
        super().__init__(stack, rack, node, workdir)
        self.watchdog = self.dir / "watchdog"
        self.watchdog.touch()
        text = self.conf.read_text()
        text = text.replace("storage_name = local\n", "storage_name = shared\n")
        text = text.replace(f"storage_path = {self.images}\n",
                            f"storage_path = {shared}\nstorage_shared = yes\n")
        text += f"fence_after = {fence_after}\nwatchdog_device = {self.watchdog}\n"
        self.conf.write_text(text)
        self.images = Path(shared)

    def kill_node(self):
        """Node death: SIGKILL the agent and every QEMU it runs."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        for pid, argv in qemu_pids().items():
            if any(f"{self.run}/vm-" in a for a in argv):
                os.kill(pid, signal.SIGKILL)
        if self.logf:
            self.logf.close()
            self.logf = None

    def spec_exists(self, vid):
        return (self.state / "vms" / f"{vid}.json").exists()

    def epoch(self):
        return int((self.state / "epoch").read_text())


class FailoverRack:
    """Controller + nodes n1..nN (the last one reserve) on one shared storage, the guest ISO in
    the library, and a customer. Used by this module and by bench/failover/run.py."""

    def __init__(self, fence_after=FENCE_AFTER, failover_after=FAILOVER_AFTER, margin=MARGIN,
                 nodes=3, prefix="wf"):
        self.fence_after, self.failover_after = fence_after, failover_after
        self.workdir = tempfile.mkdtemp(prefix="wrf-", dir="/tmp")  # short: socket paths
        self.shared = Path(self.workdir) / "shared"
        self.shared.mkdir()
        self.stack = w.Stack("failover", failover_after=failover_after, failover_margin=margin,
                             node_fence_after=fence_after)
        self.rack = None
        self.agents = {}
        self.checker = None
        netns.cleanup_stale(prefix)
        ensure_guest_iso()
        try:
            self.stack.start()
            shutil.copyfile(GUEST_ISO, self.stack.iso_dir / GUEST_ISO.name)
            self.rack = netns.Rack(nodes=nodes, prefix=prefix, dhcp=True,
                                   forward_ports=[self.stack.port, self.stack.agent_port])
            self.admin = self.stack.admin()
            for n in self.rack.nodes:
                a = FoAgent(self.stack, self.rack, n, self.workdir, self.shared, fence_after)
                a.join(self.admin)
                a.start()
                self.agents[n] = a
            self.wait_online(list(self.agents.values()))
            self.reserve = self.agents[self.rack.nodes[-1]]
            self.admin.call("node-update", id=self.reserve.id, reserve=True)
            assert self.admin.call("iso-rescan")["registered"] >= 1
            self.iso_id = [i for i in self.admin.items("iso-list")
                           if i["name"] == GUEST_ISO.name][0]["id"]
            self.tree = w.make_tree(self.stack, self.admin)
            self.api = self.tree.cadmin.api
            self.checker = TwiceChecker(self.workdir + "/")
        except BaseException:
            self.close()
            raise

    # ---- helpers ----
    def wait_online(self, agents, timeout=30, epoch_above=None):
        def online():
            nodes = {n["name"]: n for n in self.admin.items("node-list")}
            ok = all(nodes.get(a.name, {}).get("state") == "online" for a in agents)
            return nodes if ok else None

        try:
            nodes = w.wait_until(online, timeout, 0.1, "nodes online")
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.logs()}") from None
        for a in agents:
            a.id = nodes[a.name]["id"]
        return nodes

    def node(self, agent):
        return self.admin.call("node-get", id=agent.id)

    def agent_of(self, node_id):
        return next(a for a in self.agents.values() if a.id == node_id)

    def vserver(self, vid):
        return self.admin.call("vserver-get", id=vid)

    def wait_task(self, tid, timeout=120):
        return w.wait_until(lambda: (lambda t: t if t["status"] in ("done", "failed") else None)(
            self.admin.call("task-get", id=tid)), timeout, 0.1, f"task {tid}")

    def make_vserver(self, name, failover, iso):
        vs = w.make_vserver(self.api, self.tree.customer["id"], name=w.uniq(name), cores=1,
                            ram_mb=256, disk_gb=1, failover=failover)
        if iso:
            t = self.wait_task(self.api.call("vserver-attach-iso", id=vs["id"],
                                             iso_id=self.iso_id)["task_id"])
            assert t["status"] == "done", t
        return vs

    def start(self, vid):
        t = self.wait_task(self.api.call("vserver-start", id=vid)["task_id"])
        assert t["status"] == "done", f"{t}\n{self.logs()}"
        return self.vserver(vid)

    def wait_running_on(self, vid, agent, timeout):
        """The vServer's state is running on agent's node (the failover task finished)."""
        def there():
            v = self.vserver(vid)
            return v if v["state"] == "running" and v["node_id"] == agent.id else None

        try:
            return w.wait_until(there, timeout, 0.1, f"vServer {vid} running on {agent.node}")
        except AssertionError as e:
            raise AssertionError(f"{e}: {self.vserver(vid)}\n{self.logs()}") from None

    def qemu_started_on(self, vid, agent, after, timeout):
        """When the checker first saw the vServer's guest running (vCPUs) on agent's node."""
        return w.wait_until(lambda: self.checker.first_seen(vid, agent.run, after), timeout,
                            0.05, f"QEMU of vServer {vid} running on {agent.node}")

    def answer(self, ip, timeout=LEASE_TIMEOUT):
        line = self.rack.tcp_line("lan", ip, GUEST_PORT, timeout=timeout)
        parts = line.split()
        assert len(parts) == 4 and parts[0] == "webrack-guest", line
        return int(parts[2])

    def lease(self, agent, vid, timeout=LEASE_TIMEOUT):
        return self.rack.lease_for_mac(agent.mac(vid), timeout=timeout)

    def db_rows(self, sql, *args):
        conn = self.stack.db()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchall()
        finally:
            conn.close()

    def logs(self, chars=2500):
        out = [f"--- webrackd ---\n{self.stack.log_tail(60)}"]
        out += [f"--- agent {a.node} ---\n{a.log_text()[-chars:]}" for a in self.agents.values()]
        return "\n".join(out)

    def close(self):
        if self.checker:
            self.checker.close()
        for a in self.agents.values():
            try:
                os.kill(a.proc.pid, signal.SIGCONT)
            except (OSError, AttributeError):
                pass
            a.terminate()
        if self.rack:
            self.rack.close()  # kills the QEMUs left in the namespaces
        self.stack.terminate()
        self.stack.stop(check=False)
        if not os.environ.get("WEBRACK_KEEP_TEST_DIRS"):
            shutil.rmtree(self.workdir, ignore_errors=True)


class Env:
    pass


@pytest.fixture(scope="module")
def fo():
    t0 = time.monotonic()
    e = Env()
    e.done = set()
    e.report = {}
    e.r = FailoverRack()
    try:
        r = e.r
        e.vs_f = r.make_vserver("fo", True, iso=True)
        e.vs_n = r.make_vserver("nofo", False, iso=False)
        yield e
    finally:
        e.report["checker_samples"] = e.r.checker.samples if e.r.checker else 0
        e.r.close()
        e.report["module_seconds"] = round(time.monotonic() - t0, 1)
        print("\n=== failover report ===\n" + json.dumps(e.report, indent=2))


def need(env, *steps):
    missing = [s for s in steps if s not in env.done]
    if missing:
        pytest.skip(f"an earlier step failed: {', '.join(missing)}")


def audit_events(r, object_type, object_id):
    return [a["event"] for a in r.admin.items("audit-list", limit=200)
            if a["object_type"] == object_type and a["object_id"] == object_id]


# ------------------------------------------------------------------------------------ the tests


def test_checker_sees_a_double_run(fo):
    """The checker can fail: two paused QEMUs (vCPU threads, no disk) that claim one vServer id
    under the module's run dirs are reported; they are killed and the report taken back."""
    r, fake = fo.r, 999999
    procs = []
    try:
        for n in ("n1", "n2"):
            d = Path(r.agents[n].run) / f"vm-{fake}"
            d.mkdir(parents=True, exist_ok=True)
            procs.append(subprocess.Popen(
                ["qemu-system-x86_64", "-S", "-nodefaults", "-display", "none", "-m", "64",
                 "-accel", "tcg", "-name", "fake,debug-threads=on", "-chardev",
                 f"socket,id=qmp,path={d}/qmp.sock,server=on,wait=off", "-mon",
                 "chardev=qmp,mode=control"], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL))
        w.wait_until(lambda: r.checker.take(fake), 20, 0.1, "the checker to report it")
    finally:
        for p in procs:
            p.kill()
            p.wait()
        for n in ("n1", "n2"):
            shutil.rmtree(Path(r.agents[n].run) / f"vm-{fake}", ignore_errors=True)
    # a sample in progress at the kill may still record them: take after a complete one
    n0 = r.checker.samples
    w.wait_until(lambda: r.checker.samples >= n0 + 2, 5, 0.05, "two more samples")
    r.checker.take(fake)


def test_flags_and_placement(fo):
    r = fo.r
    assert fo.vs_f["failover"] is True and fo.vs_n["failover"] is False, (fo.vs_f, fo.vs_n)
    # vserver-update flips the flag (and refuses a non-boolean)
    assert r.api.call("vserver-update", id=fo.vs_n["id"], failover=True)["failover"] is True
    assert r.api.call("vserver-update", id=fo.vs_n["id"], failover=False)["failover"] is False
    w.assert_err(r.api.err("vserver-update", id=fo.vs_n["id"], failover="yes"), "invalid", 400)
    assert r.node(r.reserve)["reserve"] is True
    f = r.start(fo.vs_f["id"])
    n = r.start(fo.vs_n["id"])
    # the reserve node is kept free; one vServer per node (one dedicated core each)
    assert r.reserve.id not in (f["node_id"], n["node_id"]) and f["node_id"] != n["node_id"]
    fo.agent_f, fo.agent_n = r.agent_of(f["node_id"]), r.agent_of(n["node_id"])
    fo.ip = r.lease(fo.agent_f, fo.vs_f["id"])
    r.answer(fo.ip)
    r.checker.assert_never_twice()
    fo.done.add("running")


def test_node_death(fo):
    """Both nodes die (agent and QEMUs killed): the failover vServer comes back on the reserve
    node, the other one is stopped with the reason."""
    need(fo, "running")
    r, vid_f, vid_n = fo.r, fo.vs_f["id"], fo.vs_n["id"]
    epochs = {a.name: r.node(a)["epoch"] for a in (fo.agent_f, fo.agent_n)}
    t0 = time.monotonic()
    fo.agent_f.kill_node()
    fo.agent_n.kill_node()
    r.wait_running_on(vid_f, r.reserve, 60)
    t_qemu = r.qemu_started_on(vid_f, r.reserve, t0, 5)
    r.answer(fo.ip)
    t_answer = time.monotonic()
    fo.report["node_death"] = {"to_qemu_running_s": round(t_qemu - t0, 2),
                               "to_guest_answering_s": round(t_answer - t0, 2)}
    assert t_qemu - t0 >= FAILOVER_AFTER - 1.5, "failed over before failover_after"
    for a in (fo.agent_f, fo.agent_n):
        node = r.node(a)
        assert node["state"] == "dead" and node["epoch"] == epochs[a.name] + 1, node
    n = r.vserver(vid_n)
    assert n["state"] == "stopped" and n["node_id"] is None, n
    assert "failed" in n["error"] and "failover is off" in n["error"], n
    # the job log: one failover task per vServer, visible to the customer
    tasks = {t["object_id"]: t for t in r.api.items("task-list", limit=50)
             if t["action"] == "vserver-failover"}
    assert tasks[vid_f]["status"] == "done" and tasks[vid_f]["username"] == "failover", tasks
    assert tasks[vid_n]["status"] == "failed" and "failover is off" in tasks[vid_n]["info"]
    assert "vserver.failover" in audit_events(r, "vserver", vid_f)
    assert "vserver-failover.done" in audit_events(r, "vserver", vid_f)
    assert "vserver.node_dead" in audit_events(r, "vserver", vid_n)
    assert "node.dead" in audit_events(r, "node", fo.agent_f.id)
    r.checker.assert_never_twice()

    # the nodes come back with their old epoch and forget both vServers
    for a in (fo.agent_f, fo.agent_n):
        assert a.epoch() == epochs[a.name]
        a.start()
    r.wait_online([fo.agent_f, fo.agent_n])
    for a in (fo.agent_f, fo.agent_n):
        w.wait_until(lambda: a.epoch() == epochs[a.name] + 1, 10, 0.1, f"{a.node} new epoch")
        assert not a.spec_exists(vid_f) and not a.spec_exists(vid_n), a.log_text()[-2000:]
        assert "revoked by the controller" in a.log_text()
    fo.done.add("death")


def test_link_cut_fences_before_failover(fo):
    """A silent partition of the reserve node (now running the guest): the agent kills the QEMU
    after fence_after, before the controller's failover_after; the guest comes back elsewhere;
    after the partition heals the node never resumes it."""
    need(fo, "death")
    r, vid = fo.r, fo.vs_f["id"]
    a = r.reserve
    assert r.checker.last_seen(vid, a.run) is not None
    t0 = time.monotonic()
    r.rack.cut_link(a.node)
    # the agent fences: its QEMU is gone, while the node is not declared dead yet
    w.wait_until(lambda: not a.qemus_of(vid), FENCE_AFTER + 3, 0.05, "the fenced QEMU gone")
    t_fenced = time.monotonic()
    assert r.node(a)["state"] != "dead", "declared dead before the agent fenced"
    wd_size = a.watchdog.stat().st_size
    assert wd_size > 0, "the watchdog was never fed"
    w.wait_until(lambda: r.node(a)["state"] == "dead", FAILOVER_AFTER + 5, 0.05,
                 "the node declared dead")
    t_dead = time.monotonic()
    fo.report["link_cut"] = {"fenced_after_s": round(t_fenced - t0, 2),
                             "declared_dead_after_s": round(t_dead - t0, 2)}
    assert FENCE_AFTER - 1 <= t_fenced - t0 < t_dead - t0, fo.report["link_cut"]
    assert "fence: no contact with the controller" in a.log_text()
    others = [x for x in r.agents.values() if x is not a]
    v = w.wait_until(lambda: (lambda v: v if v["state"] == "running" else None)(r.vserver(vid)),
                     60, 0.1, "failed over")
    target = r.agent_of(v["node_id"])
    assert target in others, v
    r.answer(fo.ip)
    assert a.watchdog.stat().st_size == wd_size, "the watchdog was fed without contact"

    # heal: the node comes back, is told to forget the vServer and never runs it again
    r.rack.heal_link(a.node)
    r.wait_online([a], timeout=40)
    w.wait_until(lambda: not a.spec_exists(vid), 10, 0.1, "the revoked spec removed")
    assert not a.qemus_of(vid)
    w.wait_until(lambda: a.watchdog.stat().st_size > wd_size, 5, 0.1, "the watchdog fed again")
    r.checker.assert_never_twice()
    fo.agent_f = target
    fo.done.add("cut")


def test_frozen_agent_image_lock(fo):
    """SIGSTOP: the frozen agent cannot fence and its QEMU keeps the image locked; the restart
    on the reserve node fails on the lock and is retried; SIGCONT: the agent fences at once and
    the retry succeeds. The guest never runs twice."""
    need(fo, "cut")
    r, vid, a = fo.r, fo.vs_f["id"], fo.agent_f
    pid = a.qemus_of(vid)
    assert pid, "the guest should run on the node we freeze"
    os.kill(a.proc.pid, signal.SIGSTOP)
    try:
        w.wait_until(lambda: r.node(a)["state"] == "dead", FAILOVER_AFTER + 5, 0.1, "dead")
        # the reserve node tries, and the image lock refuses the second QEMU
        w.wait_until(lambda: "image_locked" in r.stack.log_tail(400), 30, 0.2,
                     "a failover start refused by the image lock")
        assert a.qemus_of(vid) == pid, "the frozen node's QEMU is still the only one running"
        assert r.vserver(vid)["state"] != "running"
    finally:
        os.kill(a.proc.pid, signal.SIGCONT)
    w.wait_until(lambda: not a.qemus_of(vid), 5, 0.05, "the old QEMU fenced after SIGCONT")
    r.wait_running_on(vid, r.reserve, 60)
    r.answer(fo.ip)
    r.wait_online([a], timeout=40)
    w.wait_until(lambda: not a.spec_exists(vid), 10, 0.1, "the revoked spec removed")
    r.checker.assert_never_twice()
    fo.done.add("frozen")


def test_controller_away_fence_then_restart_in_place(fo):
    """The controller is away longer than fence_after but comes back within failover_after: the
    agents fence their guests; nobody declares a node dead, and the failover vServer is started
    again on its own node (its hello says it was fenced)."""
    need(fo, "frozen")
    r, vid = fo.r, fo.vs_f["id"]
    a = r.agent_of(r.vserver(vid)["node_id"])
    epoch = r.node(a)["epoch"]
    before = max(t["id"] for t in r.api.items("task-list", limit=50) if t["object_id"] == vid)
    assert a.qemus_of(vid)
    r.stack.terminate()
    try:
        w.wait_until(lambda: not a.qemus_of(vid), FENCE_AFTER + 3, 0.05, "the guest fenced")
    finally:
        r.stack.launch()

    def restart_task():
        new = [t for t in r.api.items("task-list", limit=20)
               if t["object_id"] == vid and t["id"] > before]
        return new[0] if new and new[0]["status"] in ("done", "failed") else None

    t = w.wait_until(restart_task, 60, 0.2, "the restart of the fenced guest")
    assert t["action"] == "vserver-failover" and t["status"] == "done", t
    assert "fenced itself" in (r.db_rows("SELECT params->>'reason' FROM tasks WHERE id = %s",
                                         t["id"])[0][0] or ""), t
    v = r.wait_running_on(vid, a, 5)
    assert r.node(a)["epoch"] == epoch and r.node(a)["state"] == "online"
    assert "vserver.fence_restart" in audit_events(r, "vserver", vid)
    r.answer(fo.ip)
    r.checker.assert_never_twice()
    assert v["error"] is None, v


def test_never_ran_twice(fo):
    """The checker's verdict over the whole module (it sampled all along)."""
    fo.r.checker.assert_never_twice()
    assert fo.r.checker.samples > 100, fo.r.checker.samples
