"""Live migration between two namespaced nodes with shared storage, on real QEMU (accel=tcg).

One controller, two webrack-node agents (tests/lib/netns.py rack, prefix "wm") sharing one storage
directory (storage_shared = yes) and reaching each other on the guest LAN (migration_address =
the node's address there). One guest from the test ISO boots once for the whole module and moves
back and forth; the tests run in file order and share the module fixture.

  1. a migration with live progress: the TCP counter service keeps counting across it, the ping
     gap (10 ms interval) and QEMU's own figures are printed, node and cores switch together;
  2. the failure matrix: cancel during a slow (bandwidth-capped) transfer, a target without
     capacity, a target QEMU that fails to start, the target agent killed during the transfer
     (the migration is cancelled, the vServer stays), the source agent killed during the transfer
     (QEMU finishes the migration on its own, the task follows it through the target);
  3. a migration that does not converge within its bound is cancelled with the reason.
After each: the vServer runs exactly once, no QEMU, tap, core reservation or migration row is
left over, and the task says what happened.

Needs root, two CPUs, qemu-system-x86 and dnsmasq. Figures are printed at teardown (pytest -s).
"""

import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pytest

import webrack_it as w
from test_zz_rack import (GUEST_ISO, GUEST_BUILD, LeaseWatch, NodeAgent, boot_and_lease,
                          netns, service_line)

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or (os.cpu_count() or 1) < 2
                                or shutil.which("qemu-system-x86_64") is None,
                                reason="needs root, two CPUs and qemu-system-x86_64")

SLOW_MBPS = 8  # 1 MB/s: an idle 256 MB guest still has tens of MB of non-zero pages


class MigAgent(NodeAgent):
    """A rack agent on shared storage that accepts migrations on its LAN address."""

    def __init__(self, stack, rack, node, workdir, shared):
        super().__init__(stack, rack, node, workdir)
        text = self.conf.read_text()
        text = text.replace(f"storage_path = {self.images}", f"storage_path = {shared}")
        text = text.replace("storage_name = local", "storage_name = shared")
        text += "storage_shared = yes\n"
        text += f"migration_address = {rack.node_ip(node)}\n"
        self.conf.write_text(text)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.logf.close()

    def taps(self):
        r = self.rack.run(self.node, ["ip", "-o", "link", "show", "type", "tun"], check=False)
        return [line.split(":")[1].strip().split("@")[0] for line in r.stdout.splitlines()]


class Env:
    pass


@pytest.fixture(scope="module")
def mig():
    t_module = time.monotonic()
    netns.cleanup_stale("wm")
    if not (GUEST_ISO.is_file() and GUEST_ISO.stat().st_size > 0):
        r = subprocess.run([str(GUEST_BUILD)], capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, f"tests/guest/build.sh failed:\n{r.stdout}\n{r.stderr}"
    e = Env()
    e.report = {"boot_to_lease_s": {}}
    e.done = set()
    e.workdir = tempfile.mkdtemp(prefix="wrm-", dir="/tmp")
    shared = os.path.join(e.workdir, "shared")
    os.makedirs(shared)
    e.stack = w.Stack("migration")
    e.rack = e.leases = None
    e.agents = {}
    try:
        e.stack.start()
        shutil.copyfile(GUEST_ISO, e.stack.iso_dir / GUEST_ISO.name)
        e.rack = netns.Rack(nodes=2, prefix="wm", dhcp=True,
                            forward_ports=[e.stack.port, e.stack.agent_port])
        # A bridge without an address of its own takes the lowest MAC of its ports, so every
        # tap that comes or goes could change it under the neighbours' ARP caches (the other
        # node's QEMU, the guest): a fixed address, as a real node's bridge has.
        for i, n in enumerate(e.rack.nodes, 1):
            e.rack.run(n, ["ip", "link", "set", "wrbr0", "address", f"02:77:6d:00:00:{i:02x}"])
        e.leases = LeaseWatch(e.rack)
        e.admin = e.stack.admin()
        for n in e.rack.nodes:
            e.agents[n] = MigAgent(e.stack, e.rack, n, e.workdir, shared)
            e.agents[n].join(e.admin)
            e.agents[n].start()

        def online():
            nodes = {x["name"]: x for x in e.admin.items("node-list")}
            return all(nodes.get(a.name, {}).get("state") == "online"
                       for a in e.agents.values()) and nodes

        nodes = w.wait_until(online, 30, 0.2, "both nodes online")
        for a in e.agents.values():
            a.id = nodes[a.name]["id"]
        e.admin.call("iso-rescan")
        iso = [i for i in e.admin.items("iso-list") if i["name"] == GUEST_ISO.name][0]
        e.tree = w.make_tree(e.stack, e.admin)
        e.api = e.tree.cadmin.api
        vs = w.make_vserver(e.api, e.tree.customer["id"], name=f"mig-{w.uniq('g')}",
                            cores=1, ram_mb=256, disk_gb=1)
        e.vid = vs["id"]
        assert run(e, "vserver-attach-iso", id=e.vid, iso_id=iso["id"])["status"] == "done"
        t = run(e, "vserver-start", id=e.vid)
        assert t["status"] == "done", t
        e.node = agent_on(e, placed(e))
        e.ip = boot_and_lease(e, "mig", e.node, e.vid)
        e.tap = e.node.spec(e.vid)["nics"][0]["tap"]
        _, e.counter, _ = service_line(e, e.node.node, e.ip, timeout=60)
        yield e
    finally:
        if e.leases:
            e.leases.close()
        for a in e.agents.values():
            a.terminate()
        if e.rack:
            e.rack.close()
        if not os.environ.get("WEBRACK_KEEP_TEST_DIRS"):
            shutil.rmtree(e.workdir, ignore_errors=True)
        e.stack.stop(check=False)
        e.report["module_seconds"] = round(time.monotonic() - t_module, 1)
        print("\n=== live migration report ===\n" + json.dumps(e.report, indent=2))


# ------------------------------------------------------------------------------------ helpers


def agent_logs(env, chars=4000):
    return "\n".join(f"--- agent {a.node} log ---\n{a.log_text()[-chars:]}"
                     for a in env.agents.values())


def wait_task(env, tid, wait=180, seen=None):
    task = None

    def finished():
        nonlocal task
        task = env.api.call("task-get", id=tid)
        if seen is not None and task.get("progress"):
            seen.append(json.loads(task["progress"]))
        return task["status"] in ("done", "failed")

    try:
        w.wait_until(finished, wait, 0.1, f"task {tid}")
    except AssertionError as e:
        raise AssertionError(f"{e}: last seen {task}\n{agent_logs(env)}") from None
    return task


def run(env, op, wait=180, **params):
    tid = env.api.call(op, **params)["task_id"]
    return wait_task(env, tid, wait)


def db_rows(env, sql, *args):
    conn = env.stack.db()
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()


def placed(env):
    return db_rows(env, "SELECT node_id FROM vservers WHERE id = %s", env.vid)[0][0]


def agent_on(env, node_id):
    return next(a for a in env.agents.values() if a.id == node_id)


def other(env, agent):
    return next(a for a in env.agents.values() if a is not agent)


def need(env, *steps):
    missing = [s for s in steps if s not in env.done]
    if missing:
        pytest.skip(f"an earlier step failed: {', '.join(missing)}")


def assert_runs_once(env, agent, what):
    """The vServer runs on agent's node and nowhere else; nothing of a migration is left."""
    vid = env.vid
    vs = env.api.call("vserver-get", id=vid)
    assert vs["state"] == "running", f"{what}: {vs}"
    assert placed(env) == agent.id, f"{what}: placed on {placed(env)}, expected {agent.id}"

    def one_qemu():
        return len(agent.qemus_of(vid)) == 1 and not other(env, agent).qemus_of(vid)

    w.wait_until(one_qemu, 20, 0.1,
                 f"{what}: exactly one QEMU ({agent.qemus_of(vid)} on {agent.node}, "
                 f"{other(env, agent).qemus_of(vid)} on the other)")
    rows = db_rows(env, "SELECT node_id, core, incoming FROM vcpu_cores WHERE vserver_id = %s",
                   vid)
    assert rows == [(agent.id, 1, False)], f"{what}: vcpu_cores {rows}"
    assert db_rows(env, "SELECT count(*) FROM vserver_migrations")[0][0] == 0, what
    w.wait_until(lambda: env.tap not in other(env, agent).taps(), 20, 0.2,
                 f"{what}: tap {env.tap} left on {other(env, agent).node}")
    assert env.tap in agent.taps(), f"{what}: no tap {env.tap} on {agent.node}"
    _, counter, _ = service_line(env, "lan", env.ip, timeout=30)
    assert counter > env.counter, f"{what}: counter {counter} after {env.counter}"
    env.counter = counter
    env.node = agent


def start_migration(env, **params):
    return env.api.call("vserver-migrate", id=env.vid, **params)["task_id"]


def wait_transferring(env, tid, min_bytes=1 << 20, timeout=60):
    """The task's live progress once at least min_bytes went over."""
    prog = {}

    def moving():
        nonlocal prog
        t = env.api.call("task-get", id=tid)
        assert t["status"] in ("queued", "running"), f"ended early: {t}\n{agent_logs(env)}"
        prog = json.loads(t["progress"]) if t.get("progress") else {}
        return prog.get("status") == "active" and prog.get("transferred", 0) >= min_bytes

    w.wait_until(moving, timeout, 0.1, f"task {tid} transferring")
    return prog


class Pinger:
    """ICMP echo every 10 ms from the LAN namespace (raw socket, no ping binary needed): the
    longest gap between two replies."""

    def __init__(self, env):
        self.ip = env.ip
        self.times = []
        self.stop_ev = threading.Event()
        ns = env.rack.ns("lan")
        self.thread = threading.Thread(target=lambda: netns.in_netns(ns, self._loop),
                                       daemon=True)
        self.thread.start()

    @staticmethod
    def _checksum(data):
        if len(data) % 2:
            data += b"\0"
        s = sum(struct.unpack(f"!{len(data) // 2}H", data))
        s = (s >> 16) + (s & 0xFFFF)
        s += s >> 16
        return ~s & 0xFFFF

    def _loop(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        ident = os.getpid() & 0xFFFF
        seq = 0
        next_send = time.monotonic()
        try:
            while not self.stop_ev.is_set():
                now = time.monotonic()
                if now >= next_send:
                    seq = (seq + 1) & 0xFFFF
                    hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
                    payload = b"wrping" * 4
                    csum = self._checksum(hdr + payload)
                    sock.sendto(struct.pack("!BBHHH", 8, 0, csum, ident, seq) + payload,
                                (self.ip, 0))
                    next_send += 0.01
                r, _, _ = select.select([sock], [], [], max(next_send - time.monotonic(), 0))
                while r:
                    data, addr = sock.recvfrom(2048)
                    ihl = (data[0] & 0x0F) * 4
                    typ, _, _, rid, _ = struct.unpack("!BBHHH", data[ihl:ihl + 8])
                    if typ == 0 and rid == ident and addr[0] == self.ip:
                        self.times.append(time.time())
                    r, _, _ = select.select([sock], [], [], 0)
        finally:
            sock.close()

    def stop(self, t0, t1):
        self.stop_ev.set()
        self.thread.join(5)
        ts = [t for t in self.times if t0 - 1 <= t <= t1 + 1]
        gaps = [b - a for a, b in zip(ts, ts[1:])]
        return (max(gaps) if gaps else None), len(ts)


class CounterPoller:
    """Asks the guest's counter service every 100 ms; every answer with its time."""

    def __init__(self, env):
        self.env = env
        self.answers = []
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stop_ev.wait(0.1):
            try:
                line = self.env.rack.tcp_line("lan", self.env.ip, 7777, timeout=2)
                self.answers.append((time.time(), int(line.split()[2])))
            except Exception:  # noqa: BLE001 - a miss is what we measure
                pass

    def stop(self):
        self.stop_ev.set()
        self.thread.join(5)
        return self.answers


# ------------------------------------------------------------------------------------ tests


def test_migration_keeps_the_guest_running(mig):
    env = mig
    src, dst = env.node, other(env, env.node)
    pinger = Pinger(env)
    poller = CounterPoller(env)
    time.sleep(1)  # a baseline of replies before the migration (the measurement needs it)
    t0 = time.time()
    tid = start_migration(env)  # no node: the scheduler picks the only other node
    seen = []
    task = wait_task(env, tid, seen=seen)
    t1 = time.time()
    time.sleep(1)
    answers = poller.stop()
    gap, replies = pinger.stop(t0, t1)
    assert task["status"] == "done", f"{task}\n{agent_logs(env)}"
    assert f"to {dst.name}" in task["info"] and "downtime" in task["info"], task
    final = json.loads(task["progress"])
    for key in ("percent", "transferred", "remaining", "dirty_rate", "expected_downtime_ms"):
        assert key in final, final
    assert final["status"] == "completed" and final["percent"] == 100, final
    assert_runs_once(env, dst, "after the migration")
    assert not src.qemus_of(env.vid), "the source QEMU is still there"
    assert not (src.state / "vms" / f"{env.vid}.json").exists(), "still defined on the source"
    # The counter lives in guest RAM: it kept counting, never restarted.
    counters = [c for _, c in answers]
    assert len(counters) >= 5 and counters == sorted(counters), counters
    assert env.counter > counters[-1] >= counters[0], (env.counter, counters)
    assert gap is not None and replies > 50, (gap, replies)
    env.report["first_migration"] = {
        "task_seconds": round(t1 - t0, 2), "qemu_total_ms": final["total_ms"],
        "qemu_downtime_ms": final["downtime_ms"], "ping_gap_ms": round(gap * 1000, 1),
        "ping_replies": replies, "counter_answers": len(counters),
        "progress_samples_seen": len(seen)}
    print(f"migration {src.node} -> {dst.node}: {env.report['first_migration']}")
    env.done.add("migrated")


def test_cancel_during_transfer(mig):
    env = mig
    need(env, "migrated")
    src = env.node
    tid = start_migration(env, bandwidth_mbps=SLOW_MBPS)
    prog = wait_transferring(env, tid)
    for key in ("percent", "transferred", "remaining", "dirty_rate", "expected_downtime_ms"):
        assert key in prog, prog
    res = env.api.call("vserver-migrate-cancel", id=env.vid)
    assert res["task_id"] == tid, res
    task = wait_task(env, tid)
    assert task["status"] == "failed", task
    assert "cancelled by" in task["info"] and f"keeps running on {src.name}" in task["info"], task
    assert_runs_once(env, src, "after a cancel")
    with pytest.raises(w.ApiError) as e:
        env.api.call("vserver-migrate-cancel", id=env.vid)
    assert e.value.code == "conflict", e.value
    env.report["cancel_info"] = task["info"]


def test_target_without_capacity(mig):
    env = mig
    need(env, "migrated")
    src, dst = env.node, other(env, env.node)
    # A second vServer takes the target's only dedicated core (started, then stopped: a
    # stopped vServer keeps its cores until it is parked).
    vs2 = w.make_vserver(env.api, env.tree.customer["id"], name=f"full-{w.uniq('g')}",
                         cores=1, ram_mb=64, disk_gb=1)
    assert run(env, "vserver-start", id=vs2["id"])["status"] == "done"
    assert run(env, "vserver-stop", id=vs2["id"])["status"] == "done"
    try:
        assert db_rows(env, "SELECT node_id FROM vservers WHERE id = %s", vs2["id"])[0][0] \
            == dst.id
        task = run(env, "vserver-migrate", id=env.vid, node_id=dst.id)
        assert task["status"] == "failed", task
        assert task["info"].startswith("no capacity:") and "dedicated cores" in task["info"], \
            task
        assert not dst.qemus_of(env.vid)
        assert not (dst.state / "vms" / f"{env.vid}.json").exists(), "defined on the target"
        # Without a node named the scheduler finds no room either.
        task = run(env, "vserver-migrate", id=env.vid)
        assert task["status"] == "failed" and task["info"].startswith("no capacity:"), task
        assert_runs_once(env, src, "after no capacity")
        env.report["no_capacity_info"] = task["info"]
    finally:
        assert run(env, "vserver-park", id=vs2["id"])["status"] == "done"


def test_target_qemu_fails_to_start(mig):
    env = mig
    need(env, "migrated")
    src, dst = env.node, other(env, env.node)
    # A directory where QEMU must bind its VNC socket: QEMU itself refuses to start.
    blocker = dst.run / f"vm-{env.vid}" / "vnc.sock"
    blocker.mkdir(parents=True)
    os.chmod(blocker.parent, 0o700)
    try:
        task = run(env, "vserver-migrate", id=env.vid)
        assert task["status"] == "failed", task
        assert "the target QEMU did not start" in task["info"], task
        assert f"keeps running on {src.name}" in task["info"], task
        assert_runs_once(env, src, "after a failed target start")
        env.report["target_start_failure_info"] = task["info"]
    finally:
        blocker.rmdir()


def test_source_agent_killed_during_transfer(mig):
    """Defined outcome: QEMU carries on without its agent, the migration completes, the task
    learns it from the target and stops the source QEMU once the source agent is back."""
    env = mig
    need(env, "migrated")
    src, dst = env.node, other(env, env.node)
    tid = start_migration(env, bandwidth_mbps=40)
    wait_transferring(env, tid)
    src.kill()
    time.sleep(2)
    src.start()
    task = wait_task(env, tid)
    assert task["status"] == "done", f"{task}\n{agent_logs(env)}"
    assert f"to {dst.name}" in task["info"], task
    assert_runs_once(env, dst, "after the source agent was killed")
    env.report["source_agent_killed_info"] = task["info"]


def test_no_convergence_is_cancelled(mig):
    env = mig
    need(env, "migrated")
    src = env.node
    task = run(env, "vserver-migrate", id=env.vid, bandwidth_mbps=1, downtime_ms=1,
               converge_seconds=3, auto_converge=False)
    assert task["status"] == "failed", task
    assert "did not converge within 3 s" in task["info"], task
    assert f"keeps running on {src.name}" in task["info"], task
    assert_runs_once(env, src, "after no convergence")
    env.report["no_convergence_info"] = task["info"]


def test_bad_input(mig):
    env = mig
    with pytest.raises(w.ApiError) as e:
        env.api.call("vserver-migrate", id=env.vid, node_id=999999)
    assert e.value.code == "not_found", e.value
    with pytest.raises(w.ApiError) as e:
        env.api.call("vserver-migrate", id=env.vid, downtime_ms=0)
    assert e.value.code == "invalid", e.value
    task = run(env, "vserver-migrate", id=env.vid, node_id=env.node.id)
    assert task["status"] == "failed" and "already runs on that node" in task["info"], task


def test_target_agent_killed_during_transfer(mig):
    env = mig
    need(env, "migrated")
    src, dst = env.node, other(env, env.node)
    tid = start_migration(env, bandwidth_mbps=SLOW_MBPS)
    wait_transferring(env, tid)
    dst.kill()
    time.sleep(3)  # the agent stays away for a while (the controller notices at once)
    dst.start()
    task = wait_task(env, tid)
    assert task["status"] == "failed", task
    assert "target node's agent was lost" in task["info"], task
    assert f"keeps running on {src.name}" in task["info"], task
    assert_runs_once(env, src, "after the target agent was killed")
    env.report["target_agent_killed_info"] = task["info"]
