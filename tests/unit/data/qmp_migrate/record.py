#!/usr/bin/python3
"""Record the QMP exchanges of live migration with a real QEMU for tests/unit/test_qmp_migrate.c.

usage: record.py OUT_DIR

Starts two small paused QEMUs (TCG, 32 MB, no devices: the exchanges are the same as for a real
guest) on unix QMP sockets in a temporary directory, one with -incoming defer, and writes
OUT_DIR/NAME.txt per scenario: "<- " lines are what QEMU sent, "-> " lines what the client sent,
with the arguments exactly as nodeagent/qmp_migrate.c builds them. Events arriving within 0.3 s
of a reply are recorded too. The final query-migrate of "migrate" is repeated until QEMU has
its figures (it emits "completed" a moment before it computed total-time and downtime).
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

QEMU = "qemu-system-x86_64"
CAPS = lambda ev, ac, pc: {"capabilities": [  # noqa: E731  (the order qmp_migrate.c uses)
    {"capability": "events", "state": ev}, {"capability": "auto-converge", "state": ac},
    {"capability": "postcopy-ram", "state": pc}]}


class Session:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        for _ in range(200):
            try:
                self.sock.connect(path)
                break
            except OSError:
                time.sleep(0.05)
        self.buf = b""
        self.lines = []
        self.id = 0
        self.recv(5)
        self.cmd("qmp_capabilities")

    def recv(self, timeout):
        self.sock.settimeout(timeout)
        while b"\n" not in self.buf:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        line = line.rstrip(b"\r").decode()
        self.lines.append("<- " + line)
        return json.loads(line)

    def cmd(self, name, args=None, trailing=0.0):
        self.id += 1
        msg = {"execute": name, "id": self.id}
        if args is not None:
            msg["arguments"] = args
        self.lines.append("-> " + json.dumps(msg))
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self.recv(30)
            if r is None:
                raise RuntimeError(f"{name}: no reply")
            if r.get("id") == self.id:
                break
        while trailing > 0 and self.recv(trailing) is not None:
            pass
        return r

    def wait_event(self, pred, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.recv(deadline - time.monotonic())
            if r is not None and "event" in r and pred(r):
                return r
        raise RuntimeError("event not seen")

    def save(self, out, name):
        with open(os.path.join(out, name + ".txt"), "w") as f:
            f.write(f"# recorded from {version()} by record.py\n")
            f.write("\n".join(self.lines) + "\n")
        self.lines = [ln for ln in self.lines[:0]]


def version():
    return subprocess.run([QEMU, "--version"], capture_output=True,
                          text=True).stdout.splitlines()[0]


def qemu(d, name, *extra):
    sock = os.path.join(d, name + ".sock")
    p = subprocess.Popen([QEMU, "-nodefaults", "-machine", "pc,accel=tcg", "-m", "32",
                          "-display", "none", "-S", "-qmp", f"unix:{sock},server=on,wait=off",
                          *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return p, sock


def fresh(d, name, *extra):
    """A new QEMU and a session whose recording starts with the greeting and handshake."""
    p, sock = qemu(d, name, *extra)
    return p, Session(sock)


def main(out):
    d = tempfile.mkdtemp(prefix="qmpmig-")
    procs = []
    try:
        # query-migrate of a QEMU that never migrated; migrate-start-postcopy refused
        p, s = fresh(d, "a")
        procs.append(p)
        s.cmd("query-migrate")
        s.save(out, "query-migrate-none")
        s.lines = []
        p, s = fresh(d, "b")
        procs.append(p)
        s.cmd("migrate-set-capabilities", CAPS(True, True, False))
        s.cmd("migrate-set-parameters", {"downtime-limit": 100,
                                         "max-bandwidth": 100 * 1000 * 1000 * 1000})
        s.save(out, "caps-params")
        p, s = fresh(d, "c")
        procs.append(p)
        s.cmd("migrate-start-postcopy")
        s.cmd("announce-self", {"initial": 50, "max": 550, "rounds": 5, "step": 100})
        s.save(out, "postcopy-error-announce")

        # target: listen on port 0 and say which port
        tp, t = fresh(d, "t", "-incoming", "defer")
        procs.append(tp)
        t.cmd("migrate-set-capabilities", CAPS(True, False, False))
        t.cmd("migrate-incoming", {"uri": "tcp:127.0.0.1:0"})
        r = t.cmd("query-migrate")
        port = r["return"]["socket-address"][0]["port"]
        t.save(out, "incoming")

        # source: a slow migration (50 kB/s): active progress, cancel
        sp, src = fresh(d, "s")
        procs.append(sp)
        src.cmd("migrate-set-capabilities", CAPS(True, False, False))
        src.cmd("migrate-set-parameters", {"downtime-limit": 100, "max-bandwidth": 50000})
        src.cmd("migrate", {"uri": f"tcp:127.0.0.1:{port}"})
        src.wait_event(lambda e: e["event"] == "MIGRATION" and e["data"]["status"] == "active")
        time.sleep(0.5)
        src.cmd("query-migrate")
        src.cmd("migrate_cancel", trailing=0.5)
        src.save(out, "migrate-active-cancel")
        for p in (tp, sp):
            p.kill()
            p.wait()

        # a full migration to completion
        tp, t = fresh(d, "t2", "-incoming", "defer")
        procs.append(tp)
        t.cmd("migrate-set-capabilities", CAPS(True, False, False))
        t.cmd("migrate-incoming", {"uri": "tcp:127.0.0.1:0"})
        port = t.cmd("query-migrate")["return"]["socket-address"][0]["port"]
        sp, src = fresh(d, "s2")
        procs.append(sp)
        src.cmd("migrate-set-capabilities", CAPS(True, True, False))
        src.cmd("migrate-set-parameters", {"downtime-limit": 100,
                                           "max-bandwidth": 100 * 1000 * 1000 * 1000})
        src.cmd("migrate", {"uri": f"tcp:127.0.0.1:{port}"})
        src.wait_event(lambda e: e["event"] == "MIGRATION" and
                       e["data"]["status"] == "completed")
        for _ in range(100):
            r = src.cmd("query-migrate")
            if r["return"].get("total-time"):
                break
        src.save(out, "migrate-completed")

        # a migration to a port nobody listens on: failed, with QEMU's reason
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        dead = lsock.getsockname()[1]
        lsock.close()
        sp, src = fresh(d, "s3")
        procs.append(sp)
        src.cmd("migrate-set-capabilities", CAPS(True, False, False))
        src.cmd("migrate", {"uri": f"tcp:127.0.0.1:{dead}"})
        src.wait_event(lambda e: e["event"] == "MIGRATION" and e["data"]["status"] == "failed")
        src.cmd("query-migrate")
        src.save(out, "migrate-failed")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
