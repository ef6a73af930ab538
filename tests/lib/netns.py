"""A simulated rack in network namespaces (Python 3 stdlib only, run as root).

    rack = Rack(nodes=2, prefix="wr")        # or: with Rack(...) as rack:
    tap = rack.create_tap("n1", "tap0")      # a tap in node n1, on its bridge wrbr0
    p = rack.popen("n1", ["qemu-system-x86_64", ..., "-netdev",
                          f"tap,id=n0,ifname={tap},script=no,downscript=no"])
    ip = rack.lease_for_mac("52:54:00:77:00:01", timeout=30)
    line = rack.tcp_line("n2", ip, 7777, timeout=10)
    rack.close()

Layout (every interface lives inside a namespace this module creates; the root
namespace gets no interface, address or route at all):

    namespace <base>-lan : bridge "wrlan" 10.77.0.1/24 (the guest LAN) and dnsmasq
                           serving DHCP 10.77.0.100-250 on it, lease file + log in workdir
    namespace <base>-nK  : bridge "wrbr0" 10.77.0.(10+K)/24 (the node's guest bridge: VM
                           taps go here; the address lets tests in the node reach guests),
                           veth "wrup" in wrbr0 <-> veth "wrnK" in the lan bridge
                           lo up; optional relays to the controller (below)

    <base> = prefix + 4 random hex digits, unique per Rack, e.g. "wr3fa1-n2".
    Node names are "n1" .. "nN"; "lan" names the LAN namespace.

So all guests on all nodes share one L2 segment with dnsmasq, as in a real rack
where every node's guest bridge is patched to one VLAN.

Reaching the controller: the controller listens on 127.0.0.1 in the root
namespace. Rack(forward_ports=[8443, 8444]) starts, for every node, a relay
that listens on 127.0.0.1:PORT *inside* the node namespace and connects each
accepted connection to 127.0.0.1:PORT in the root namespace (threads in this
process; the listening socket is created by a thread that entered the node
namespace with setns(2)). A node agent in namespace nK therefore uses
https://127.0.0.1:8443 / 127.0.0.1:8444 exactly as on the host; no veth into
the root namespace, no address, route or firewall rule on the host. (Node
identity comes from the agent's certificate, never from its address.)

rack.cut_link(node) / rack.heal_link(node): a silent partition of the node's relays (nothing
gets through, nothing is closed) and its end (the connections that lived through it reset).

The other direction: rack.reverse_relay(node, PORT) returns a port R on 127.0.0.1 in the root
namespace whose connections are relayed to 127.0.0.1:PORT inside the node namespace (additive to
the relays above; used for the agents' console endpoints).

Teardown (close(), the context manager, and an atexit hook for every Rack not
closed yet) kills every process inside the rack's namespaces (dnsmasq, QEMUs
started with run/popen), deletes the namespaces (which deletes every veth,
bridge and tap in them) and the workdir. A killed run leaves an owner file
/run/wrnetns/<base>.json; cleanup_stale(prefix) removes the racks whose owner
process is gone (racks of live processes are never touched).

Command line: python3 netns.py cleanup [PREFIX]
              python3 netns.py up [--nodes N] [--prefix P] [--forward PORT,...]
                  (prints the rack as JSON, holds it until SIGINT/SIGTERM)
"""

import atexit
import ctypes
import errno
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref

__all__ = ["Rack", "cleanup_stale", "RackError", "in_netns"]

OWNER_DIR = "/run/wrnetns"
NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
LAN_BRIDGE = "wrlan"
NODE_BRIDGE = "wrbr0"
NODE_UPLINK = "wrup"

_libc = ctypes.CDLL(None, use_errno=True)
_live = weakref.WeakSet()


class RackError(Exception):
    pass


def _ip(*args, check=True):
    """Run `ip ARGS`; raise RackError with its stderr on failure."""
    r = subprocess.run(["ip", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        raise RackError(f"ip {' '.join(args)}: {r.stderr.strip()}")
    return r


def _check_ifname(name):
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,15}", name):
        raise RackError(f"bad interface name {name!r} (1-15 of [A-Za-z0-9_.-])")
    return name


def in_netns(ns, fn, *args, **kwargs):
    """Call fn(*args, **kwargs) in a fresh thread that has entered network namespace ns.

    Sockets created in fn belong to ns for their whole life, also after the thread ends."""
    box = {}

    def target():
        try:
            fd = os.open(os.path.join(NETNS_DIR, ns), os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    raise OSError(e, f"setns({ns}): {os.strerror(e)}")
            finally:
                os.close(fd)
            box["value"] = fn(*args, **kwargs)
        except BaseException as e:  # handed to the caller
            box["error"] = e

    t = threading.Thread(target=target, name=f"netns-{ns}", daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _proc_start_time(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _ns_pids(ns):
    r = _ip("netns", "pids", ns, check=False)
    return [int(x) for x in r.stdout.split() if x.isdigit()]


def _kill_ns_processes(ns, grace=3.0):
    pids = [p for p in _ns_pids(ns) if p != os.getpid()]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in pids:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + (grace if sig == signal.SIGTERM else 5.0)
        while time.monotonic() < deadline:
            pids = [p for p in _ns_pids(ns) if p != os.getpid()]
            if not pids:
                return
            time.sleep(0.05)


def _delete_ns(ns):
    if os.path.exists(os.path.join(NETNS_DIR, ns)):
        _kill_ns_processes(ns)
        _ip("netns", "del", ns, check=False)


def cleanup_stale(prefix="wr"):
    """Remove racks named prefix* whose owner process no longer runs (leftovers of killed runs).

    Returns the list of namespaces deleted. Racks of live processes are left alone."""
    removed = []
    try:
        owners = os.listdir(OWNER_DIR)
    except FileNotFoundError:
        owners = []
    known = set()
    for fn in owners:
        if not (fn.startswith(prefix) and fn.endswith(".json")):
            continue
        path = os.path.join(OWNER_DIR, fn)
        try:
            with open(path) as f:
                info = json.load(f)
        except (OSError, ValueError):
            info = {}
        base = fn[:-5]
        nss = info.get("namespaces") or []
        known.update(nss)
        alive = (info.get("pid") and _proc_start_time(info["pid"]) is not None
                 and _proc_start_time(info["pid"]) == info.get("start"))
        if alive:
            continue
        for ns in nss:
            if os.path.exists(os.path.join(NETNS_DIR, ns)):
                _delete_ns(ns)
                removed.append(ns)
        wd = info.get("workdir")
        if wd and os.path.isdir(wd) and os.path.basename(wd).startswith(f"rack-{base}"):
            shutil.rmtree(wd, ignore_errors=True)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    # namespaces of this module's naming scheme without any owner file
    pat = re.compile(re.escape(prefix) + r"[0-9a-z]*[0-9a-f]{4}-(lan|n\d+)$")
    try:
        nss = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        nss = []
    for ns in nss:
        if ns in known or not pat.fullmatch(ns):
            continue
        base = ns.rsplit("-", 1)[0]
        if os.path.exists(os.path.join(OWNER_DIR, base + ".json")):
            continue
        _delete_ns(ns)
        removed.append(ns)
    return removed


class _Relay:
    """127.0.0.1:port inside namespace ns -> target (host, port) in the root namespace."""

    cut = False  # a silent partition: see Rack.cut_link() (class default: _ReverseRelay too)

    def __init__(self, ns, port, target):
        self.ns, self.port, self.target = ns, port, target
        self.closed = False
        self.conns = set()
        self.lock = threading.Lock()

        def listen():
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen(64)
            return s

        self.lsock = in_netns(ns, listen)
        self.thread = threading.Thread(target=self._accept, daemon=True, name=f"relay-{ns}-{port}")
        self.thread.start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            if self.cut:  # the connect "hangs": held until heal_link() resets it
                with self.lock:
                    self.conns.add(c)
                continue
            try:
                u = self._connect()
                u.settimeout(None)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns.update((c, u))
            state = {"done": 0}
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b, state), daemon=True).start()

    def _connect(self):
        return socket.create_connection(self.target, timeout=5)

    def _pump(self, src, dst, state):
        try:
            while True:
                d = src.recv(65536)
                if not d:
                    break
                if not self.cut:  # cut: bytes vanish, as on a dead wire
                    dst.sendall(d)
        except OSError:
            pass
        try:
            if not self.cut:  # nor does a close reach the other side
                dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        with self.lock:
            state["done"] += 1
            if state["done"] == 2:  # both directions finished
                for s in (src, dst):
                    self.conns.discard(s)
                    s.close()

    def close(self):
        self.closed = True
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.lsock.close()
        with self.lock:
            for s in list(self.conns):
                try:
                    s.close()
                except OSError:
                    pass
            self.conns.clear()


class _ReverseRelay(_Relay):
    """127.0.0.1:<random port> in the root namespace -> 127.0.0.1:port inside namespace ns.

    The only way into a node namespace from the root namespace (which has no route there): a
    controller reaches a node's console endpoint through it, as it would over the management
    network in production."""

    def __init__(self, ns, port):
        self.ns, self.port, self.target = ns, port, ("127.0.0.1", port)
        self.closed = False
        self.conns = set()
        self.lock = threading.Lock()
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(256)
        self.root_port = self.lsock.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True,
                                       name=f"rrelay-{ns}-{port}")
        self.thread.start()

    def _connect(self):
        return in_netns(self.ns, socket.create_connection, self.target, 5)


class Rack:
    """A LAN namespace with dnsmasq plus N node namespaces with a guest bridge each."""

    def __init__(self, nodes=2, prefix="wr", subnet="10.77.0", workdir=None,
                 forward_ports=(), controller_host="127.0.0.1", dhcp=True, lease_time="1h"):
        if os.geteuid() != 0:
            raise RackError("Rack needs root (network namespaces)")
        if not re.fullmatch(r"[a-z][a-z0-9]{0,7}", prefix):
            raise RackError("prefix: 1-8 of [a-z0-9], starting with a letter")
        if not re.fullmatch(r"\d{1,3}\.\d{1,3}\.\d{1,3}", subnet):
            raise RackError("subnet: the first three octets, e.g. 10.77.0")
        self.prefix = prefix
        self.subnet = subnet
        self.gateway = f"{subnet}.1"
        self.closed = False
        self._procs = []
        self._relays = []
        os.makedirs(OWNER_DIR, exist_ok=True)
        os.makedirs(NETNS_DIR, exist_ok=True)
        for _ in range(100):
            base = prefix + "%04x" % random.getrandbits(16)
            owner = os.path.join(OWNER_DIR, base + ".json")
            try:
                fd = os.open(owner, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                continue
            if any(n.startswith(base + "-") for n in os.listdir(NETNS_DIR)):
                os.close(fd)
                os.unlink(owner)
                continue
            break
        else:
            raise RackError("no free rack name")
        self.base = base
        self._owner_file = owner
        self.lan_ns = f"{base}-lan"
        self.nodes = [f"n{i}" for i in range(1, nodes + 1)]
        self._ns = {"lan": self.lan_ns}
        self._ns.update({n: f"{base}-{n}" for n in self.nodes})
        if workdir is None:
            self.workdir = tempfile.mkdtemp(prefix=f"rack-{base}-")
            self._own_workdir = True
        else:
            self.workdir = os.path.join(workdir, f"rack-{base}")
            os.makedirs(self.workdir)
            self._own_workdir = True
        with os.fdopen(fd, "w") as f:
            json.dump({"pid": os.getpid(), "start": _proc_start_time(os.getpid()),
                       "namespaces": list(self._ns.values()), "workdir": self.workdir}, f)
        self.leasefile = os.path.join(self.workdir, "dnsmasq.leases")
        self.dnsmasq_logfile = os.path.join(self.workdir, "dnsmasq.log")
        self.dnsmasq = None
        _live.add(self)
        try:
            self._build(dhcp, lease_time)
            for port in forward_ports:
                for n in self.nodes:
                    self._relays.append(_Relay(self._ns[n], int(port), (controller_host, int(port))))
        except BaseException:
            self.close()
            raise

    # ---- construction ----
    def _build(self, dhcp, lease_time):
        lan = self.lan_ns
        _ip("netns", "add", lan)
        _ip("-n", lan, "link", "set", "lo", "up")
        _ip("-n", lan, "link", "add", LAN_BRIDGE, "type", "bridge", "stp_state", "0", "forward_delay", "0")
        _ip("-n", lan, "addr", "add", f"{self.gateway}/24", "dev", LAN_BRIDGE)
        _ip("-n", lan, "link", "set", LAN_BRIDGE, "up")
        for n in self.nodes:
            ns = self._ns[n]
            _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "add", NODE_BRIDGE, "type", "bridge", "stp_state", "0", "forward_delay", "0")
            _ip("-n", lan, "link", "add", f"wr{n}", "type", "veth", "peer", "name", NODE_UPLINK, "netns", ns)
            _ip("-n", lan, "link", "set", f"wr{n}", "master", LAN_BRIDGE, "up")
            _ip("-n", ns, "link", "set", NODE_UPLINK, "master", NODE_BRIDGE, "up")
            _ip("-n", ns, "addr", "add", f"{self.node_ip(n)}/24", "dev", NODE_BRIDGE)
            _ip("-n", ns, "link", "set", NODE_BRIDGE, "up")
        if dhcp:
            self._start_dnsmasq(lease_time)

    def _start_dnsmasq(self, lease_time):
        exe = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
        if not os.path.exists(exe):
            raise RackError("dnsmasq not found (Debian package dnsmasq-base)")
        s = self.subnet
        argv = [exe, "--keep-in-foreground", "--conf-file=/dev/null", "--port=0",
                "--bind-interfaces", f"--interface={LAN_BRIDGE}", "--except-interface=lo",
                f"--dhcp-range={s}.100,{s}.250,255.255.255.0,{lease_time}",
                f"--dhcp-leasefile={self.leasefile}", "--dhcp-authoritative", "--no-ping",
                f"--log-facility={self.dnsmasq_logfile}", "--log-dhcp",
                f"--pid-file={os.path.join(self.workdir, 'dnsmasq.pid')}",
                "--user=root", "--group=root"]
        self.dnsmasq = self.popen("lan", argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10

        def bound():
            # dnsmasq is ready once its DHCP socket is bound (port 67 in use in the lan namespace)
            t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                t.bind(("0.0.0.0", 67))
                return False
            except OSError as e:
                return e.errno == errno.EADDRINUSE
            finally:
                t.close()

        while not in_netns(self.lan_ns, bound):
            if self.dnsmasq.poll() is not None:
                raise RackError(f"dnsmasq exited: {self.dnsmasq.stderr.read().decode(errors='replace')}")
            if time.monotonic() > deadline:
                raise RackError("dnsmasq did not start within 10 s")
            time.sleep(0.05)

    # ---- use ----
    def reverse_relay(self, node, port):
        """Relay 127.0.0.1:R in the root namespace to 127.0.0.1:port inside node's namespace
        (for a listener inside the node, e.g. the agent's console endpoint); returns R."""
        r = _ReverseRelay(self.ns(node), int(port))
        self._relays.append(r)
        return r.root_port

    def node_ip(self, node):
        """The node's own address on the guest LAN (on its wrbr0): SUBNET.(10+K) for node nK."""
        return f"{self.subnet}.{10 + int(self.ns(node).rsplit('-n', 1)[1])}"

    def ns(self, node):
        """The namespace name of a node ("n1".., also 1..) or of "lan"."""
        if isinstance(node, int):
            node = f"n{node}"
        try:
            return self._ns[node]
        except KeyError:
            raise RackError(f"no node {node!r} in rack {self.base}") from None

    def run(self, node, argv, check=True, timeout=60, **kw):
        """subprocess.run(argv) inside the node's (or "lan") namespace; text output captured."""
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        kw.setdefault("text", True)
        return subprocess.run(["ip", "netns", "exec", self.ns(node), *argv],
                              check=check, timeout=timeout, **kw)

    def popen(self, node, argv, **kw):
        """subprocess.Popen(argv) inside the namespace; killed at teardown if still running."""
        p = subprocess.Popen(["ip", "netns", "exec", self.ns(node), *argv], **kw)
        self._procs.append(p)
        return p

    def create_tap(self, node, name):
        """A tap device in the node's namespace, attached to its bridge wrbr0, up. Returns name."""
        ns = self.ns(node)
        _check_ifname(name)
        _ip("-n", ns, "tuntap", "add", "dev", name, "mode", "tap")
        _ip("-n", ns, "link", "set", name, "master", NODE_BRIDGE, "up")
        return name

    def delete_tap(self, node, name):
        _ip("-n", self.ns(node), "link", "del", _check_ifname(name), check=False)

    def leases(self):
        """dnsmasq's current leases: [{expiry, mac, ip, hostname, client_id}]."""
        out = []
        try:
            with open(self.leasefile) as f:
                for line in f:
                    p = line.split()
                    if len(p) >= 4:
                        out.append({"expiry": int(p[0]), "mac": p[1].lower(), "ip": p[2],
                                    "hostname": None if p[3] == "*" else p[3],
                                    "client_id": p[4] if len(p) > 4 else None})
        except FileNotFoundError:
            pass
        return out

    def lease_for_mac(self, mac, timeout=30.0):
        """Poll the lease file until mac has a lease; return its IP or raise TimeoutError."""
        mac = mac.lower()
        deadline = time.monotonic() + timeout
        while True:
            for l in self.leases():
                if l["mac"] == mac:
                    return l["ip"]
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no DHCP lease for {mac} within {timeout} s")
            time.sleep(0.1)

    def dnsmasq_log(self):
        try:
            with open(self.dnsmasq_logfile, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def tcp_line(self, node, ip, port, timeout=10.0):
        """Connect from inside node's (or "lan") namespace to ip:port and return the first line
        (without the newline). Retries refused/unreachable connects until timeout."""
        deadline = time.monotonic() + timeout

        def fetch():
            last = None
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no line from {ip}:{port} in {self.ns(node)} within "
                                       f"{timeout} s (last error: {last})")
                try:
                    with socket.create_connection((ip, port), timeout=min(left, 3.0)) as s:
                        s.settimeout(max(deadline - time.monotonic(), 0.1))
                        buf = b""
                        while b"\n" not in buf:
                            d = s.recv(4096)
                            if not d:
                                break
                            buf += d
                        if buf:
                            return buf.split(b"\n", 1)[0].decode(errors="replace")
                        last = "connection closed without data"
                except OSError as e:
                    last = e
                time.sleep(0.1)

        return in_netns(self.ns(node), fetch)

    def cut_link(self, node):
        """A silent partition between node and the controller: the relays of forward_ports
        keep every connection open but deliver nothing (no data, no close) in either
        direction, and new connections hang. Nothing else of the node changes."""
        for r in self._node_relays(node):
            r.cut = True

    def heal_link(self, node):
        """End the partition: the connections that lived through it are reset (as TCP would
        after its retransmissions give up) and new connections are relayed again."""
        for r in self._node_relays(node):
            with r.lock:
                old = list(r.conns)
                r.conns.clear()
                r.cut = False
            for s in old:
                for f in (lambda: s.shutdown(socket.SHUT_RDWR), s.close):
                    try:
                        f()
                    except OSError:
                        pass

    def _node_relays(self, node):
        ns = self.ns(node)
        return [r for r in self._relays if type(r) is _Relay and r.ns == ns]

    # ---- teardown ----
    def close(self):
        """Remove everything this rack created. Safe to call more than once."""
        if self.closed:
            return
        self.closed = True
        for r in self._relays:
            r.close()
        for p in self._procs:
            if p.poll() is None:
                p.terminate()
        for p in self._procs:
            try:
                p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            for f in (p.stdout, p.stderr, p.stdin):
                if f:
                    f.close()
        for ns in self._ns.values():
            _delete_ns(ns)
        if self._own_workdir and not os.environ.get("WEBRACK_KEEP_TEST_DIRS"):
            shutil.rmtree(self.workdir, ignore_errors=True)
        try:
            os.unlink(self._owner_file)
        except FileNotFoundError:
            pass
        _live.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def describe(self):
        return {"base": self.base, "lan": self.lan_ns, "nodes": {n: self._ns[n] for n in self.nodes},
                "gateway": self.gateway, "dhcp_range": f"{self.subnet}.100-{self.subnet}.250",
                "leasefile": self.leasefile, "dnsmasq_log": self.dnsmasq_logfile,
                "workdir": self.workdir, "node_bridge": NODE_BRIDGE}


@atexit.register
def _close_all():
    for r in list(_live):
        try:
            r.close()
        except Exception as e:  # keep closing the others
            print(f"netns: teardown of {r.base} failed: {e}", file=sys.stderr)


def _main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="netns.py", description="simulated rack in network namespaces")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cleanup", help="remove racks of dead owners")
    c.add_argument("prefix", nargs="?", default="wr")
    u = sub.add_parser("up", help="create a rack, print it as JSON, hold it until SIGINT/SIGTERM")
    u.add_argument("--nodes", type=int, default=2)
    u.add_argument("--prefix", default="wr")
    u.add_argument("--subnet", default="10.77.0")
    u.add_argument("--forward", default="", help="comma-separated controller ports to relay")
    a = ap.parse_args(argv)
    if a.cmd == "cleanup":
        for ns in cleanup_stale(a.prefix):
            print(f"removed {ns}")
        return 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    ports = [int(p) for p in a.forward.split(",") if p]
    with Rack(nodes=a.nodes, prefix=a.prefix, subnet=a.subnet, forward_ports=ports) as rack:
        print(json.dumps(rack.describe()), flush=True)
        while not stop.wait(1):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
