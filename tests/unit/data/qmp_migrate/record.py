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
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "lib"))
from qmp_record import RecordingSession  # noqa: E402

QEMU = "qemu-system-x86_64"
CAPS = lambda ev, ac, pc: {"capabilities": [  # noqa: E731  (the order qmp_migrate.c uses)
    {"capability": "events", "state": ev}, {"capability": "auto-converge", "state": ac},
    {"capability": "postcopy-ram", "state": pc}]}


class Session(RecordingSession):
    """A recording session past the handshake; commands raise when QEMU does not answer."""

    def __init__(self, path):
        super().__init__(path)
        self.recv(5)
        self.cmd("qmp_capabilities")

    def cmd(self, name, args=None, trailing=0.0):
        r = super().cmd(name, args, trailing=trailing)
        if r is None:
            raise RuntimeError(f"{name}: no reply")
        return r

    def save(self, out, name):
        self.write(os.path.join(out, name + ".txt"), f"# recorded from {version()} by record.py")
        self.lines = []


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
