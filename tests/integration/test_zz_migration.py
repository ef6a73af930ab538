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
  3. a migration that does not converge within its bound is cancelled with the reason;
  4. a console open during a migration ends with close code 4000 and "moved", its tickets are
     gone, a new ticket reaches the new node; migration_tls = yes (reloaded): the stream is TLS
     (tcpdump on the target: a TLS record where a plain stream starts with QEMU's "QEVM");
     the source completes but the target QEMU never starts the guest (the test holds QEMU's
     "unshare write" lock byte of the disk): after the bounded wait the source is resumed;
     a guest dirtying memory faster than the bandwidth cap switches to post-copy and completes
     (last: it leaves the dirtier running).
After each: the vServer runs exactly once, no QEMU, tap, core reservation or migration row is
left over, and the task says what happened. The module's setup (MigRack) is also
bench/migration's.

Needs root, two CPUs, qemu-system-x86 and dnsmasq. Figures are printed at teardown (pytest -s).
"""

import fcntl
import json
import os
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
from test_zz_rack import (GUEST_ISO, LeaseWatch, NodeAgent, boot_and_lease, ensure_guest_iso,
                          netns, service_line)
import rfbclient  # noqa: E402  (tests/lib, on the path once test_zz_rack is imported)

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or (os.cpu_count() or 1) < 2
                                or shutil.which("qemu-system-x86_64") is None,
                                reason="needs root, two CPUs and qemu-system-x86_64")

SLOW_MBPS = 8  # 1 MB/s: an idle 256 MB guest still has tens of MB of non-zero pages
CONSOLE_PORT = 5902  # the agents' console endpoint inside their node namespace


class MigAgent(NodeAgent):
    """A rack agent on shared storage that accepts migrations on its LAN address."""

    def __init__(self, stack, rack, node, workdir, shared, extra=""):
        super().__init__(stack, rack, node, workdir)
        text = self.conf.read_text()
        text = text.replace(f"storage_path = {self.images}", f"storage_path = {shared}")
        text = text.replace("storage_name = local", "storage_name = shared")
        text += "storage_shared = yes\n"
        text += f"migration_address = {rack.node_ip(node)}\n"
        text += "serial_log = yes\n"  # the guest's console: see guest_consoles()
        text += extra
        self.conf.write_text(text)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.logf.close()

    def console(self, vid, chars=3000, since=0):
        """The tail of the guest's serial console on this node (serial_log = yes), or "";
        since: only what came after that many bytes of serial.log (see console_size)."""
        try:
            data = (self.run / f"vm-{vid}" / "serial.log").read_bytes()
        except OSError:
            return ""
        if since > len(data):  # a new file (the VM came back to this node): all of it
            since = 0
        return data[since:].decode(errors="replace")[-chars:]

    def console_size(self, vid):
        try:
            return (self.run / f"vm-{vid}" / "serial.log").stat().st_size
        except OSError:
            return 0

    def taps(self):
        r = self.rack.run(self.node, ["ip", "-o", "link", "show", "type", "tun"], check=False)
        return [line.split(":")[1].strip().split("@")[0] for line in r.stdout.splitlines()]


class MigRack:
    """The module's setup, also used by bench/migration: a Stack, a two-node rack (prefix) with
    one shared storage directory, both agents online, a customer and one running vServer from
    the test ISO with its lease (ip) and first counter. close() tears everything down."""

    def __init__(self, prefix="wm", name="migration", agent_extra=""):
        netns.cleanup_stale(prefix)
        ensure_guest_iso()
        e = self
        e.report = {"boot_to_lease_s": {}}
        e.done = set()
        e.workdir = tempfile.mkdtemp(prefix="wrm-", dir="/tmp")
        e.shared = os.path.join(e.workdir, "shared")
        os.makedirs(e.shared)
        e.stack = w.Stack(name)
        e.rack = e.leases = None
        e.agents = {}
        try:
            e.stack.start()
            shutil.copyfile(GUEST_ISO, e.stack.iso_dir / GUEST_ISO.name)
            e.rack = netns.Rack(nodes=2, prefix=prefix, dhcp=True,
                                forward_ports=[e.stack.port, e.stack.agent_port])
            # A bridge without an address of its own takes the lowest MAC of its ports, so
            # every tap that comes or goes could change it under the neighbours' ARP caches
            # (the other node's QEMU, the guest): a fixed address, as a real node's bridge has.
            for i, n in enumerate(e.rack.nodes, 1):
                e.rack.run(n, ["ip", "link", "set", "wrbr0", "address", f"02:77:6d:00:00:{i:02x}"])
            e.leases = LeaseWatch(e.rack)
            e.admin = e.stack.admin()
            for n in e.rack.nodes:
                # a console endpoint on every node (test_console_closed_by_migration)
                relay = e.rack.reverse_relay(n, CONSOLE_PORT)
                extra = (f"console_listen = 127.0.0.1:{CONSOLE_PORT}\n"
                         f"console_advertise = 127.0.0.1:{relay}\n" + agent_extra)
                e.agents[n] = MigAgent(e.stack, e.rack, n, e.workdir, e.shared, extra)
                e.agents[n].join(e.admin)
                e.agents[n].start()

            def online():
                nodes = {x["name"]: x for x in e.admin.items("node-list")}
                return all(nodes.get(a.name, {}).get("state") == "online"
                           for a in e.agents.values()) and nodes

            w.FAILURE_REPORTERS.append(e.console_sections)
            nodes = w.wait_until(online, 30, 0.2, "both nodes online")
            for a in e.agents.values():
                a.id = nodes[a.name]["id"]
            e.admin.call("iso-rescan")
            e.iso = [i for i in e.admin.items("iso-list") if i["name"] == GUEST_ISO.name][0]
            e.tree = w.make_tree(e.stack, e.admin)
            e.api = e.tree.cadmin.api
            vs = w.make_vserver(e.api, e.tree.customer["id"], name=f"mig-{w.uniq('g')}",
                                cores=1, ram_mb=256, disk_gb=1)
            e.vid = vs["id"]
            assert run(e, "vserver-attach-iso", id=e.vid, iso_id=e.iso["id"])["status"] == "done"
            t = run(e, "vserver-start", id=e.vid)
            assert t["status"] == "done", t
            e.node = agent_on(e, placed(e))
        except BaseException:
            self.close()
            raise

    def wait_guest(self):
        """The guest's lease and its first counter (after the boot)."""
        e = self
        e.ip = boot_and_lease(e, "mig", e.node, e.vid)
        e.tap = e.node.spec(e.vid)["nics"][0]["tap"]
        _, e.counter, _ = service_line(e, e.node.node, e.ip, timeout=60)

    def console_sections(self):
        """A failing test's report shows the guest's console on each node (conftest.py)."""
        vid = getattr(self, "vid", None)
        if vid is None:
            return []
        return [(f"guest console on {a.node} (serial.log, tail)", a.console(vid) or "(none)")
                for a in self.agents.values()]

    def close(self):
        e = self
        if e.console_sections in w.FAILURE_REPORTERS:
            w.FAILURE_REPORTERS.remove(e.console_sections)
        if e.leases:
            e.leases.close()
        for a in e.agents.values():
            a.terminate()
        if e.rack:
            e.rack.close()
        if not os.environ.get("WEBRACK_KEEP_TEST_DIRS"):
            shutil.rmtree(e.workdir, ignore_errors=True)
        e.stack.stop(check=False)


@pytest.fixture(scope="module")
def mig():
    t_module = time.monotonic()
    e = MigRack()
    try:
        e.wait_guest()
        yield e
    finally:
        e.close()
        e.report["module_seconds"] = round(time.monotonic() - t_module, 1)
        print("\n=== live migration report ===\n" + json.dumps(e.report, indent=2))


# ------------------------------------------------------------------------------------ helpers


def guest_resets(env):
    """How many guest-initiated resets the agents' logs report (nodeagent/vm.c on_qmp_event)."""
    return sum(a.log_text().count("QEMU reports RESET (guest: true")
               for a in env.agents.values())


OOPS_MARKS = ("BUG:", "Oops:", "general protection fault", "Kernel panic", "invalid opcode:")


def guest_oops(env, agent):
    """The guest kernel's oops/panic lines on agent's console since the last good check."""
    text = agent.console(env.vid, 200000, getattr(env, "console_mark", {}).get(agent.node, 0))
    lines = [ln.strip() for ln in text.splitlines() if any(m in ln for m in OOPS_MARKS)
             or "RIP:" in ln]
    return "; ".join(lines[:6])


def guest_consoles(env, chars=2500):
    return "\n".join(f"--- guest console on {a.node} ---\n{a.console(env.vid, chars)}"
                     for a in env.agents.values())


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
    # where the vServer runs is settled: the next tests start from there even if its guest
    # does not answer below (one failure, not a cascade of tests killing the wrong agent)
    env.node = agent
    try:
        _, counter, _ = service_line(env, "lan", env.ip, timeout=30)
    except (TimeoutError, AssertionError) as e:
        raise AssertionError(f"{what}: the guest does not answer: {e}\n"
                             f"{guest_consoles(env)}") from None
    resets = guest_resets(env)
    oops = guest_oops(env, agent)
    if counter <= env.counter and resets > getattr(env, "resets", 0) and oops:
        # QEMU says the guest rebooted (RESET, guest: true) and its console shows the kernel's
        # oops: guest memory lost in the migration (QEMU < 9.0 under TCG, docs/ARCHITECTURE.md
        # "a guest that restarts after a migration"; nodeagent/qemu_cmdline.c avoids the known
        # cause, so this should no longer happen). Everything the controller owns was checked
        # above; a reboot without an oops, or a counter that went back without one, fails.
        env.counter, env.node, env.resets = counter, agent, resets
        mark_consoles(env)
        pytest.xfail(f"{what}: the guest kernel crashed after the migration and rebooted "
                     f"(QEMU RESET, guest: true; counter {counter}): {oops}")
    assert counter > env.counter, \
        f"{what}: counter {counter} after {env.counter}\n{guest_consoles(env)}"
    env.counter = counter
    env.resets = resets
    env.node = agent
    mark_consoles(env)


def mark_consoles(env):
    """What the guest printed so far is not news for the next check (guest_oops)."""
    env.console_mark = {a.node: a.console_size(env.vid) for a in env.agents.values()}


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
    """Asks the guest's counter service every interval s; every answer with its time."""

    def __init__(self, env, interval=0.1, timeout=2):
        self.env = env
        self.interval = interval
        self.timeout = timeout
        self.answers = []
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stop_ev.wait(self.interval):
            try:
                line = self.env.rack.tcp_line("lan", self.env.ip, 7777, timeout=self.timeout)
                self.answers.append((time.time(), int(line.split()[2])))
            except Exception:  # noqa: BLE001 - a miss is what we measure
                pass

    def stop(self):
        self.stop_ev.set()
        self.thread.join(5)
        return self.answers


def vnc_type(path, text):
    """Type text + Enter on the guest's VGA console (a root shell on tty1) through QEMU's VNC
    socket (RFB 3.8, security None): the way to start the guest's memory dirtier in a vServer,
    whose command line has no fw_cfg. Only unshifted characters."""
    assert all(c.islower() or c.isdigit() or c in " -/" for c in text), text
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(str(path))

    def recv(n):
        b = b""
        while len(b) < n:
            d = s.recv(n - len(b))
            if not d:
                raise ConnectionError("VNC closed")
            b += d
        return b

    try:
        assert recv(12).startswith(b"RFB 003.00"), "not RFB"
        s.sendall(b"RFB 003.008\n")
        types = recv(recv(1)[0])
        assert 1 in types, f"VNC security types {list(types)}: no None"
        s.sendall(b"\x01")
        assert struct.unpack("!I", recv(4))[0] == 0, "VNC security refused"
        s.sendall(b"\x01")  # ClientInit: shared
        recv(20)
        recv(struct.unpack("!I", recv(4))[0])
        for key in [ord(c) for c in text] + [0xFF0D]:
            for down in (1, 0):
                s.sendall(struct.pack("!BBxxI", 4, down, key))
            time.sleep(0.03)  # pacing, not waiting: one key per PS/2 round trip of the guest
    finally:
        s.close()


def ws_console(env, ticket):
    return rfbclient.WebSocket.connect(
        "127.0.0.1", env.stack.port, f"/console/ws?vserver={env.vid}&ticket={ticket}",
        origin=f"https://127.0.0.1:{env.stack.port}", cafile=str(env.stack.dir / "cert.pem"),
        protocols="binary")


def step_of(env, tid):
    return db_rows(env, "SELECT step FROM tasks WHERE id = %s", tid)[0][0]


# ------------------------------------------------------------------------------------ tests


def test_migration_keeps_the_guest_running(mig):
    env = mig
    src, dst = env.node, other(env, env.node)
    # serial_log = yes: the guest's console (ttyS0) is in its run directory (a failing test's
    # report shows it). The guest prints its lease there after it configured the address, so
    # the line can reach serial.log a moment after the counter service first answered.
    try:
        w.wait_until(lambda: "webrack-guest: lease bound" in src.console(env.vid, 1 << 20),
                     10, 0.1, "the lease line on the serial console")
    except AssertionError as e:
        raise AssertionError(f"{e}\n{src.console(env.vid)}") from None
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
    # the source's cleanup follows the task's end (controller/livemig.c, source_cleanup())
    w.wait_until(lambda: not (src.state / "vms" / f"{env.vid}.json").exists(), 20, 0.05,
                 "still defined on the source")
    w.wait_until(lambda: "source_cleanup" not in db_rows(
        env, "SELECT params FROM tasks WHERE id = %s", tid)[0][0], 20, 0.05,
        "the source's cleanup recorded in the task")
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


def test_controller_restart_before_the_source_cleanup(mig):
    """The task ends at the switch and the source's QEMU goes after it: a controller that
    stops in between (here: the source's agent is away, so the cleanup waits for it) finishes
    that cleanup when it starts again."""
    env = mig
    need(env, "migrated")
    src, dst = env.node, other(env, env.node)
    tid = start_migration(env, bandwidth_mbps=40)
    wait_transferring(env, tid)
    src.kill()
    task = wait_task(env, tid)
    assert task["status"] == "done", f"{task}\n{agent_logs(env)}"
    params = db_rows(env, "SELECT params FROM tasks WHERE id = %s", tid)[0][0]
    assert params.get("source_cleanup") is True, params
    assert src.qemus_of(env.vid), "the paused source QEMU should still be there"
    assert env.stack.terminate() == 0, env.stack.log_tail()
    env.stack.launch()
    src.start()
    assert_runs_once(env, dst, "after a controller restart before the source's cleanup")
    w.wait_until(lambda: "source_cleanup" not in db_rows(
        env, "SELECT params FROM tasks WHERE id = %s", tid)[0][0], 60, 0.2,
        "the source's cleanup recorded in the task")


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


def test_console_closed_by_migration(mig):
    """An open console ends with a message when its vServer moves; a new ticket reaches the
    new node."""
    env = mig
    need(env, "migrated")
    src, dst = env.node, other(env, env.node)
    ws = ws_console(env, env.api.call("vserver-console-ticket", id=env.vid)["ticket"])
    rfb = rfbclient.Rfb(ws.recv_bytes, ws.send)
    rfb.handshake()
    spare = env.api.call("vserver-console-ticket", id=env.vid)["ticket"]
    task = run(env, "vserver-migrate", id=env.vid)
    assert task["status"] == "done", f"{task}\n{agent_logs(env)}"
    try:
        with pytest.raises(rfbclient.WebSocketClosed) as e:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                rfb.request(incremental=True)
                rfb.update()
        assert e.value.code == 4000 and "moved" in e.value.reason, e.value
    finally:
        ws.close()
    assert db_rows(env, "SELECT count(*) FROM console_tickets WHERE vserver_id = %s",
                   env.vid) == [(0,)], "the tickets issued before the move still exist"
    with pytest.raises(Exception):  # the spare ticket went with the move
        ws_console(env, spare).recv_bytes(12)
    assert_runs_once(env, dst, "after a migration with an open console")
    # the viewer reconnects with a new ticket: the console of the new node
    ws = ws_console(env, env.api.call("vserver-console-ticket", id=env.vid)["ticket"])
    try:
        rfb = rfbclient.Rfb(ws.recv_bytes, ws.send)
        rfb.handshake()
    finally:
        ws.close()
    env.report["console_close_reason"] = e.value.reason
    assert src is not env.node


def stream_head(env, src, dst, fn):
    """Run fn() (a migration src -> dst) while tcpdump in dst's namespace records the first TCP
    segments from src's node address to dst's: their payload bytes, in order (the migration
    stream; the agents' links and consoles use loopback relays)."""
    pcap = os.path.join(env.workdir, f"stream-{time.monotonic_ns()}.pcap")
    dump = env.rack.popen(dst.node, ["tcpdump", "-i", "wrbr0", "-U", "-n", "-s", "256", "-c",
                                     "40", "-w", pcap, "tcp and src host "
                                     f"{env.rack.node_ip(src.node)} and dst host "
                                     f"{env.rack.node_ip(dst.node)}"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        line = dump.stderr.readline().decode(errors="replace")  # "listening on wrbr0, ..."
        assert "listening on" in line, f"tcpdump: {line}"
        out = fn()
        dump.wait(30)
    finally:
        if dump.poll() is None:
            dump.kill()
            dump.wait()
    data, payload = open(pcap, "rb").read(), b""
    off = 24  # pcap file header; then per packet a 16-byte header and the frame
    while off + 16 <= len(data):
        incl = struct.unpack("<IIII", data[off:off + 16])[2]
        frame, off = data[off + 16:off + 16 + incl], off + 16 + incl
        if frame[12:14] != b"\x08\x00" or frame[14 + 9] != 6:
            continue
        ip = frame[14:]
        tcp = ip[(ip[0] & 15) * 4:]
        payload += tcp[(tcp[12] >> 4) * 4:]
    return out, payload


def test_migration_over_tls(mig):
    """migration_tls = yes: the stream is TLS (a TLS record where QEMU's plain stream starts
    with its magic "QEVM"), and the migration completes."""
    env = mig
    need(env, "migrated")
    src, dst = env.node, other(env, env.node)
    task, head = stream_head(env, src, dst, lambda: run(env, "vserver-migrate", id=env.vid))
    assert task["status"] == "done", task
    assert head[:4] == b"QEVM", f"plain stream starts with {head[:16]!r}"
    assert_runs_once(env, dst, "after a plain migration")
    reloads = env.stack.log_file.read_text(errors="replace").count("configuration reloaded")
    env.stack.reload(migration_tls="yes")
    try:
        w.wait_until(lambda: env.stack.log_file.read_text(errors="replace")
                     .count("configuration reloaded") > reloads, 10, 0.1, "reload")
        task, head = stream_head(env, dst, src,
                                 lambda: run(env, "vserver-migrate", id=env.vid))
        assert task["status"] == "done", f"{task}\n{agent_logs(env)}"
        assert head[:1] == b"\x16" and head[1:2] == b"\x03", \
            f"not a TLS handshake record: {head[:16]!r}"
        assert b"QEVM" not in head, "QEMU's plain stream inside the capture"
        assert_runs_once(env, src, "after a TLS migration")
        left = list((src.run / f"vm-{env.vid}").glob("mig-tls/*"))
        assert not left, f"the TLS key stayed on the target: {left}"
        env.report["tls_migration_info"] = task["info"]
    finally:
        env.stack.reload(migration_tls="no")


def test_target_never_starts_the_guest(mig):
    """The source completes, but the target QEMU cannot take the disk's write lock and so never
    starts the guest (a lock held here in the test, as QEMU's image locking sees another user):
    after the bounded wait the target QEMU goes and the source is resumed; the task says so."""
    env = mig
    need(env, "migrated")
    src = env.node
    disk = src.spec(env.vid)["disks"][0]["path"]
    fd = os.open(disk, os.O_RDONLY)
    try:
        # QEMU's lock bytes: 100 + n = "uses permission n", 200 + n = "does not share it";
        # write is permission 1, so byte 201 keeps any QEMU from activating the image for
        # writing (the running source took its locks before and keeps them until it stops).
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, 1, 201, os.SEEK_SET)
        tid = start_migration(env)
        # the source resumes once the lock is gone: it retries its cont every second
        w.wait_until(lambda: step_of(env, tid) in ("source_resume", None), 120, 0.1,
                     f"task {tid} at source_resume")
    finally:
        os.close(fd)
    task = wait_task(env, tid)
    assert task["status"] == "failed", task
    assert "the target did not start the guest within 10 s" in task["info"], task
    assert f"was resumed and runs on {src.name}" in task["info"], task
    assert_runs_once(env, src, "after a target that never started the guest")
    env.report["target_never_started_info"] = task["info"]


POSTCOPY_DIRTY = (64, 32)  # MiB, MiB/s: faster than POSTCOPY_MBPS can carry
POSTCOPY_MBPS = 80  # 10 MB/s: the first pass (~95 MB of non-zero pages) takes ~10 s
POSTCOPY_BOUND = 15  # s: past the first pass, so QEMU measured the dirty rate


def test_postcopy_when_precopy_does_not_converge(mig):
    """A guest dirtying 32 MiB/s behind a 10 MB/s cap: pre-copy cannot converge, so at the bound
    the migration switches to post-copy and completes. Last: the dirtier keeps running."""
    env = mig
    need(env, "migrated")
    src, dst = env.node, other(env, env.node)
    mb, rate = POSTCOPY_DIRTY
    vnc_type(src.run / f"vm-{env.vid}" / "vnc.sock", f"wrguest dirty {mb} {rate}")
    seen = []
    tid = start_migration(env, bandwidth_mbps=POSTCOPY_MBPS, converge_seconds=POSTCOPY_BOUND,
                          postcopy=True, auto_converge=False)
    task = wait_task(env, tid, seen=seen)
    assert task["status"] == "done", f"{task}\n{agent_logs(env)}"
    assert f"switched to post-copy after {POSTCOPY_BOUND} s" in task["info"], task
    # An idle guest converges within the bound at this cap (~95 MB at 10 MB/s): post-copy
    # came because the guest kept its 64 MiB dirty. QEMU's dirty-pages-rate counts distinct
    # pages per sync period (at most the 64 MiB over the ~10 s first pass), so it shows that
    # the guest dirtied memory, not how fast.
    dirty = max(p.get("dirty_rate", 0) for p in seen)
    expected = max(p.get("expected_downtime_ms", 0) for p in seen)
    assert dirty > 0 and expected > 10 * 100, \
        f"the guest did not keep memory dirty ({seen[-3:]})"
    assert_runs_once(env, dst, "after post-copy")
    env.report["postcopy_info"] = task["info"]
    env.report["postcopy_expected_downtime_ms"] = expected
