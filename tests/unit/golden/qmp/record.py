#!/usr/bin/python3
"""Record QMP exchanges with a real QEMU for tests/unit/test_qmp.c.

usage: record.py QMP_SOCKET OUT_DIR ISO_PATH [SCENARIO...]

Starts one QMP session per scenario on an already running QEMU (started paused, -S, from a
command line made by nodeagent/qemu_cmdline.c with at least disk0, disk1 and the cdrom) and
writes OUT_DIR/NAME.txt: "<- " lines are what QEMU sent, "-> " lines what the client sent,
verbatim apart from the trailing CR/LF. Events arriving within 0.3 s of a reply are recorded too.
"""
import json
import socket
import sys
import time

SCENARIOS = [
    ("handshake", []),
    ("query-status-prelaunch", [("query-status", None)]),
    ("query-cpus-fast", [("query-cpus-fast", None)]),
    ("cont", [("cont", None)]),
    ("query-status-running", [("query-status", None)]),
    ("stop", [("stop", None)]),
    ("block_resize", [("block_resize", {"node-name": "disk1", "size": 67108864})]),
    ("block_resize-error", [("block_resize", {"node-name": "nosuchdisk", "size": 1048576})]),
    ("change-medium", [("blockdev-change-medium",
                        {"id": "cdrom0", "filename": "@ISO@", "format": "raw",
                         "read-only-mode": "read-only"})]),
    ("eject", [("eject", {"id": "cdrom0", "force": True})]),
    ("query-blockstats", [("query-blockstats", None)]),
    ("system_reset", [("system_reset", None)]),
    ("system_powerdown", [("system_powerdown", None)]),
    ("quit", [("quit", None)]),
]


class Session:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""
        self.lines = []

    def recv_line(self, timeout):
        self.sock.settimeout(timeout)
        while b"\n" not in self.buf:
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, ConnectionResetError):
                return None
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        line = line.rstrip(b"\r").decode()
        self.lines.append("<- " + line)
        return json.loads(line)

    def send(self, msg):
        line = json.dumps(msg)
        self.lines.append("-> " + line)
        self.sock.sendall(line.encode() + b"\n")

    def command(self, ident, execute, arguments):
        msg = {"execute": execute, "id": ident}
        if arguments is not None:
            msg["arguments"] = arguments
        self.send(msg)
        while True:
            reply = self.recv_line(10)
            if reply is None or reply.get("id") == ident:
                break
        # Events that follow the reply (RESET, POWERDOWN, SHUTDOWN ...).
        deadline = time.time() + 0.3
        while time.time() < deadline:
            if self.recv_line(max(0.01, deadline - time.time())) is None:
                break


def main():
    sock_path, out_dir, iso = sys.argv[1:4]
    only = sys.argv[4:]
    for name, commands in SCENARIOS:
        if only and name not in only:
            continue
        s = Session(sock_path)
        s.recv_line(5)  # greeting
        s.command(1, "qmp_capabilities", None)
        for i, (execute, args) in enumerate(commands):
            if args is not None:
                args = json.loads(json.dumps(args).replace("@ISO@", iso))
            s.command(i + 2, execute, args)
        s.sock.close()
        with open("%s/%s.txt" % (out_dir, name), "w") as f:
            ver = json.loads(s.lines[0][3:])["QMP"]["version"]
            f.write("# recorded from QEMU %d.%d.%d (%s) by record.py\n" % (
                ver["qemu"]["major"], ver["qemu"]["minor"], ver["qemu"]["micro"],
                ver["package"]))
            f.write("\n".join(s.lines) + "\n")
        time.sleep(0.2)


if __name__ == "__main__":
    main()
