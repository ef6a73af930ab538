"""A minimal QMP client for tests (Python 3 stdlib only).

    q = QMP("/path/qmp.sock", timeout=10)   # connects (retrying until the socket exists), negotiates
    q.cmd("query-status")                  # -> the "return" value; QMPError on an "error" reply
    q.wait_event("SHUTDOWN", timeout=30)   # -> the event dict; events seen earlier are kept
    q.close()
"""

import json
import socket
import time

__all__ = ["QMP", "QMPError"]


class QMPError(Exception):
    pass


class QMP:
    def __init__(self, path, timeout=10.0):
        self.events = []
        self._buf = b""
        deadline = time.monotonic() + timeout
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                break
            except OSError:
                s.close()
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)
        self.sock = s
        greeting = self._read(deadline)
        if "QMP" not in greeting:
            raise QMPError(f"no QMP greeting: {greeting}")
        self.cmd("qmp_capabilities", timeout=max(deadline - time.monotonic(), 1.0))

    def _read(self, deadline):
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("QMP: no answer")
            self.sock.settimeout(left)
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("QMP: connection closed")
            self._buf += d
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, timeout=10.0, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read(deadline)
            if "event" in m:
                self.events.append(m)
            elif "error" in m:
                raise QMPError(f"{name}: {m['error'].get('class')}: {m['error'].get('desc')}")
            elif "return" in m:
                return m["return"]

    def wait_event(self, name, timeout=30.0):
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e["event"] == name:
                    return self.events.pop(i)
            self.events.append(self._read(deadline))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
