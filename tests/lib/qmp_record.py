"""A QMP session that records the exchange, for the recorders of the unit tests' QMP replays
(tests/unit/golden/qmp/record.py, tests/unit/data/qmp_migrate/record.py).

Every line is kept as QEMU sent it or the client wrote it: "<- " lines from QEMU, "-> " lines
from the client, without the trailing CR/LF. The unit tests replay these files.

    s = RecordingSession("/path/qmp.sock")     # connects (retrying while QEMU starts)
    s.recv(5)                                 # the greeting
    s.cmd("qmp_capabilities")                 # -> the reply (with "id"), events on the way kept
    s.write("out/name.txt", "# recorded from ...")
"""

import json
import socket
import time

__all__ = ["RecordingSession"]


class RecordingSession:
    def __init__(self, path, connect_timeout=10.0):
        deadline = time.monotonic() + connect_timeout
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)
        self.buf = b""
        self.lines = []
        self.id = 0

    def recv(self, timeout):
        """The next message (recorded), or None at a timeout or when QEMU closed the socket."""
        self.sock.settimeout(max(timeout, 0.001))
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

    def cmd(self, name, args=None, ident=None, trailing=0.0, timeout=30.0):
        """Send a command with an id and read up to its reply; then keep reading for `trailing`
        seconds, so that events following the reply (RESET, SHUTDOWN, ...) are recorded too.
        The reply, or None when QEMU went away first."""
        if ident is None:
            self.id += 1
            ident = self.id
        msg = {"execute": name, "id": ident}
        if args is not None:
            msg["arguments"] = args
        self.send(msg)
        deadline = time.monotonic() + timeout
        reply = None
        while time.monotonic() < deadline:
            r = self.recv(deadline - time.monotonic())
            if r is None or r.get("id") == ident:
                reply = r
                break
        end = time.monotonic() + trailing
        while time.monotonic() < end and self.recv(end - time.monotonic()) is not None:
            pass
        return reply

    def wait_event(self, pred, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.recv(deadline - time.monotonic())
            if r is not None and "event" in r and pred(r):
                return r
        raise RuntimeError("event not seen")

    def write(self, path, header):
        with open(path, "w") as f:
            f.write(header + "\n")
            f.write("\n".join(self.lines) + "\n")

    def close(self):
        self.sock.close()
