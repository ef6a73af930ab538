"""The test guest ISO (tests/guest) on a simulated two-node rack (tests/lib/netns.py).

Boots one guest per node once for the module (TCG, -nodefaults, virtio-net on a tap
in the node's bridge, 256 MB) with a plain QEMU command line, then checks DHCP,
the TCP service on port 7777, L2 reachability across nodes and guest to guest,
and ACPI power-off through QMP. Needs root, qemu-system-x86, dnsmasq-base and
the guest build tools (tests/guest/build.sh installs missing ones).
Timings are printed (run pytest with -s to see them)."""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lib"))
import netns  # noqa: E402
from qmp import QMP  # noqa: E402

BOOT_DEADLINE = float(os.environ.get("WEBRACK_GUEST_BOOT_DEADLINE", "90"))
PORT = 7777
DIRTY_RATE = 8  # MiB/s

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("qemu-system-x86_64"),
                                reason="needs root and qemu-system-x86_64")


def log(msg):
    print(f"[guest-iso] {msg}", flush=True)


@pytest.fixture(scope="module")
def iso():
    t = time.monotonic()
    r = subprocess.run([str(ROOT / "tests/guest/build.sh"), "-q"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=900)
    assert r.returncode == 0, f"build.sh failed:\n{r.stderr}"
    path = r.stdout.strip().splitlines()[-1]
    assert os.path.getsize(path) > 1 << 20
    log(f"ISO {path}: {os.path.getsize(path)} bytes, build.sh took {time.monotonic() - t:.1f} s")
    return path


@pytest.fixture(scope="module")
def rack():
    netns.cleanup_stale("wrg")
    r = netns.Rack(nodes=2, prefix="wrg")
    yield r
    r.close()
    left = [n for n in os.listdir(netns.NETNS_DIR) if n.startswith(r.base)]
    assert not left, f"namespaces left after teardown: {left}"


class Guest:
    def __init__(self, rack, node, idx, iso, tag, params=""):
        self.rack, self.node, self.tag = rack, node, tag
        extra = f" {params}" if params else ""
        self.mac = f"52:54:00:77:00:{idx:02x}"
        self.name = "wr" + self.mac.replace(":", "")
        self.dir = Path(rack.workdir) / f"vm{idx}"
        self.dir.mkdir()
        self.qmp_path = str(self.dir / "qmp.sock")
        self.console_sock = str(self.dir / "console.sock")
        self.console_log = self.dir / "console.log"
        self.tap = rack.create_tap(node, f"wrtap{idx}")
        argv = [
            "qemu-system-x86_64", "-nodefaults", "-no-user-config",
            "-machine", "pc,accel=tcg", "-m", "256", "-smp", "1", "-name", f"guest{idx}",
            "-display", "none", "-cdrom", iso, "-boot", "d",
            "-netdev", f"tap,id=net0,ifname={self.tap},script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev=net0,mac={self.mac},romfile=",
            "-chardev", f"socket,id=con,path={self.console_sock},server=on,wait=off,"
                        f"logfile={self.console_log}",
            "-serial", "chardev:con",
            "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
            "-fw_cfg", f"name=opt/webrack/cmdline,string=wrtag={tag}{extra}",
        ]
        self.qemu_log = open(self.dir / "qemu.log", "wb")
        self.started = time.monotonic()
        self.proc = rack.popen(node, argv, stdout=self.qemu_log, stderr=subprocess.STDOUT)
        self.qmp = QMP(self.qmp_path, timeout=15)
        self.ip = None
        self.lease_after = None

    def console(self):
        try:
            return self.console_log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_console(self, pattern, timeout):
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.console())
            if m:
                return m
            if self.proc.poll() is not None:
                raise AssertionError(f"QEMU exited ({self.proc.returncode}) while waiting for {pattern!r}")
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{pattern!r} not on the console within {timeout} s:\n"
                                   + self.console()[-2000:])
            time.sleep(0.1)

    def type(self, text):
        """Type text into the guest's serial console (a root shell runs there)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(self.console_sock)
            s.sendall(text.encode())
            time.sleep(0.2)  # let QEMU read it before the socket closes

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.qmp.cmd("quit", timeout=3)
            except Exception:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.qmp.close()
        self.qemu_log.close()


@pytest.fixture(scope="module")
def guests(rack, iso):
    gs = []
    try:
        for i, node in enumerate(rack.nodes, start=1):
            # guest 1 also dirties 16 MiB at DIRTY_RATE MiB/s (wrdirty), see test_dirty_rate
            gs.append(Guest(rack, node, i, iso, tag=f"it-{node}",
                            params=f"wrdirty=16:{DIRTY_RATE}" if i == 1 else ""))
        # both guests boot concurrently; collect the leases against one deadline
        deadline = time.monotonic() + BOOT_DEADLINE
        for g in gs:
            g.ip = rack.lease_for_mac(g.mac, timeout=max(deadline - time.monotonic(), 0.1))
            g.lease_after = time.monotonic() - g.started
            log(f"{g.name} on {g.node}: lease {g.ip} {g.lease_after:.1f} s after QEMU start")
        yield gs
    except BaseException:
        for g in gs:
            print(f"--- console of {g.name} ---\n{g.console()[-3000:]}", file=sys.stderr)
        print(f"--- dnsmasq log ---\n{rack.dnsmasq_log()[-3000:]}", file=sys.stderr)
        raise
    finally:
        for g in gs:
            g.stop()


def test_both_guests_get_leases(rack, guests):
    ips = [g.ip for g in guests]
    assert len(set(ips)) == 2
    for g in guests:
        assert g.ip.startswith(rack.subnet + ".")
        assert g.lease_after < BOOT_DEADLINE
        # the guest prints its lease on the serial console
        g.wait_console(rf"webrack-guest: lease bound ip={re.escape(g.ip)} ", timeout=10)
        assert f"tag=it-{g.node}" in g.console()
    # dnsmasq got the DHCP hostname the guest derives from its MAC
    byname = {l["mac"]: l["hostname"] for l in rack.leases()}
    assert byname[guests[0].mac] == guests[0].name


def _parse(line):
    m = re.fullmatch(r"webrack-guest (\S+) (\d+) (\S+)", line)
    assert m, f"unexpected service line {line!r}"
    return m.group(1), int(m.group(2)), m.group(3)


def test_service_counts_and_tags(rack, guests):
    for g in guests:
        seen = []
        for _ in range(3):
            name, counter, tag = _parse(rack.tcp_line(g.node, g.ip, PORT, timeout=20))
            assert name == g.name
            assert tag == g.tag
            seen.append(counter)
        assert seen == list(range(seen[0], seen[0] + 3)), seen


def test_cross_node_reachability(rack, guests):
    g1, g2 = guests
    # from node 1's namespace over n1's bridge -> LAN bridge -> n2's bridge to guest 2, and back
    name, c1, tag = _parse(rack.tcp_line(g1.node, g2.ip, PORT, timeout=20))
    assert (name, tag) == (g2.name, g2.tag)
    name, c2, _ = _parse(rack.tcp_line(g2.node, g2.ip, PORT, timeout=20))
    assert c2 == c1 + 1
    name, _, tag = _parse(rack.tcp_line("lan", g1.ip, PORT, timeout=20))
    assert (name, tag) == (g1.name, g1.tag)


def test_guest_reaches_guest(rack, guests):
    """Guest 1 itself fetches guest 2's line (typed into guest 1's serial shell)."""
    g1, g2 = guests
    marker = f"XG{int(time.time() * 1000) % 100000}"
    g1.type(f"echo {marker}-A$(nc {g2.ip} {PORT})-{marker}-B\n")
    m = g1.wait_console(rf"{marker}-Awebrack-guest (\S+) (\d+) (\S+)\s*-{marker}-B", timeout=20)
    assert m.group(1) == g2.name and m.group(3) == g2.tag


def test_dirty_rate(rack, guests):
    """wrdirty=16:8 keeps 8 MiB/s of guest memory dirty: QEMU's migration accounting sees it.

    A migration to nowhere (exec:cat >/dev/null) with pause-before-switchover stops in
    state pre-switchover instead of completing; its dirty-pages-rate is read, then it is
    cancelled, QEMU resumes the guest, and the guest's service counter carries on."""
    g = guests[0]
    g.wait_console(rf"dirtying 16 MiB at {DIRTY_RATE} MiB/s", timeout=5)
    _, before, _ = _parse(rack.tcp_line(g.node, g.ip, PORT, timeout=20))
    g.qmp.cmd("migrate-set-capabilities",
              capabilities=[{"capability": "pause-before-switchover", "state": True}])
    g.qmp.cmd("migrate-set-parameters", **{"max-bandwidth": 64 << 20, "downtime-limit": 1})
    g.qmp.cmd("migrate", uri="exec:cat >/dev/null")
    rates = []
    try:
        deadline = time.monotonic() + 60
        while True:
            st = g.qmp.cmd("query-migrate")
            ram = st.get("ram", {})
            if ram.get("dirty-pages-rate"):
                rates.append(ram["dirty-pages-rate"] * ram.get("page-size", 4096) / (1 << 20))
            if st["status"] == "pre-switchover":
                break
            assert st["status"] in ("setup", "active"), st
            assert time.monotonic() < deadline, f"migration did not reach pre-switchover: {st}"
            time.sleep(0.1)
    finally:
        g.qmp.cmd("migrate_cancel")
    log(f"{g.name}: QEMU measured dirty rates {[round(r, 1) for r in rates]} MiB/s "
        f"(asked for {DIRTY_RATE})")
    assert rates, "QEMU reported no dirty-pages-rate"
    assert DIRTY_RATE * 0.6 <= rates[-1] <= DIRTY_RATE * 1.6 + 1, rates
    deadline = time.monotonic() + 10
    while g.qmp.cmd("query-migrate").get("status") != "cancelled":
        assert time.monotonic() < deadline, "migration not cancelled within 10 s"
        time.sleep(0.1)
    g.qmp.cmd("migrate-set-capabilities",
              capabilities=[{"capability": "pause-before-switchover", "state": False}])
    deadline = time.monotonic() + 10
    while g.qmp.cmd("query-status")["status"] != "running":
        assert time.monotonic() < deadline, "guest not running again after migrate_cancel"
        time.sleep(0.1)
    _, after, _ = _parse(rack.tcp_line(g.node, g.ip, PORT, timeout=20))
    assert after == before + 1


def test_acpi_powerdown(rack, guests):
    g = guests[1]
    t = time.monotonic()
    g.qmp.cmd("system_powerdown")
    try:
        g.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("guest did not power off within 30 s of system_powerdown:\n" + g.console()[-2000:])
    log(f"{g.name}: powered off {time.monotonic() - t:.1f} s after system_powerdown")
    assert g.proc.returncode == 0
    assert "power button pressed" in g.console()
    # the other guest is still serving
    _parse(rack.tcp_line(guests[0].node, guests[0].ip, PORT, timeout=20))


def test_rack_teardown_and_stale_cleanup():
    """A rack removes everything on close(); one of a killed process goes with cleanup_stale()."""
    with netns.Rack(nodes=1, prefix="wrg", dhcp=True) as r:
        r.create_tap("n1", "wrtapx")
        names = [r.lan_ns, r.ns("n1")]
        assert all(os.path.exists(os.path.join(netns.NETNS_DIR, n)) for n in names)
    assert not any(os.path.exists(os.path.join(netns.NETNS_DIR, n)) for n in names)

    code = ("import sys, os; sys.path.insert(0, %r); import netns; r = netns.Rack(nodes=1, prefix='wrgk');"
            "print(r.base, flush=True); os.kill(os.getpid(), 9)" % str(ROOT / "tests" / "lib"))
    p = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, timeout=60)
    base = p.stdout.strip()
    assert p.returncode == -9 and base
    assert os.path.exists(os.path.join(netns.NETNS_DIR, base + "-lan"))
    removed = netns.cleanup_stale("wrgk")
    assert set(removed) >= {base + "-lan", base + "-n1"}
    assert not [n for n in os.listdir(netns.NETNS_DIR) if n.startswith(base)]
    assert not os.path.exists(os.path.join(netns.OWNER_DIR, base + ".json"))
