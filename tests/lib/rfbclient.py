"""A small RFB 3.8 viewer over a WebSocket (RFC 6455) or a plain stream, for the console tests
and bench/console (Python 3 stdlib only). libvncclient cannot speak WebSocket, and noVNC needs a
browser; this client does exactly what noVNC does on the wire: version, security type None,
ClientInit, SetPixelFormat (32 bpp), SetEncodings [raw], FramebufferUpdateRequest.

    ws = WebSocket.connect("127.0.0.1", port, "/console/ws?vserver=1&ticket=wrc_...",
                           origin="https://127.0.0.1:8443", cafile="cert.pem")
    rfb = Rfb(ws.recv_bytes, ws.send)
    w, h, name = rfb.handshake()
    pixels = rfb.framebuffer()         # bytes, 4 per pixel (B, G, R, 0)
"""

import base64
import hashlib
import os
import socket
import ssl
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class HandshakeRefused(Exception):
    """The server answered the upgrade with something other than 101."""

    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body[:300]!r}")
        self.status = status
        self.body = body


class WebSocketClosed(Exception):
    def __init__(self, code, reason):
        super().__init__(f"WebSocket closed: {code} {reason}")
        self.code = code
        self.reason = reason


def tls_context(cafile=None, min_version=ssl.TLSVersion.TLSv1_2, max_version=None):
    ctx = ssl.create_default_context(cafile=cafile) if cafile else ssl.SSLContext(
        ssl.PROTOCOL_TLS_CLIENT)
    if not cafile:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = min_version
    if max_version is not None:
        ctx.maximum_version = max_version
        if max_version < ssl.TLSVersion.TLSv1_2:
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client offer old versions
    return ctx


class WebSocket:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.msgbuf = b""
        self.closed = None

    @classmethod
    def connect(cls, host, port, path, origin=None, cafile=None, cookie=None, timeout=30,
                protocols=None):
        raw = socket.create_connection((host, port), timeout=timeout)
        sock = tls_context(cafile).wrap_socket(raw, server_hostname=host)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if origin:
            lines.append(f"Origin: {origin}")
        if cookie:
            lines.append(f"Cookie: wr_session={cookie}")
        if protocols:
            lines.append(f"Sec-WebSocket-Protocol: {protocols}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        status_line = head.split(b"\r\n", 1)[0].decode(errors="replace")
        status = int(status_line.split()[1]) if len(status_line.split()) > 1 else 0
        if status != 101:
            length = 4096
            for ln in head.split(b"\r\n")[1:]:
                k, _, v = ln.decode(errors="replace").partition(":")
                if k.strip().lower() == "content-length":
                    length = int(v.strip())
            body = rest
            try:
                while len(body) < length:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    body += chunk
            except (socket.timeout, ssl.SSLError, OSError):
                pass
            sock.close()
            raise HandshakeRefused(status, body.decode(errors="replace"))
        headers = {}
        for ln in head.split(b"\r\n")[1:]:
            k, _, v = ln.decode().partition(":")
            headers[k.strip().lower()] = v.strip()
        want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        assert headers.get("sec-websocket-accept") == want, headers
        ws = cls(sock)
        ws.headers = headers
        ws.buf = rest
        return ws

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise WebSocketClosed(None, "connection closed without a close frame")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, payload, opcode=2):
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def recv_frame(self):
        b0, b1 = self._read(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
        if b1 & 0x80:
            raise AssertionError("server frames must not be masked")
        return b0 & 0x80, b0 & 0x0F, self._read(n)

    def recv_msg(self):
        """(opcode, payload) of the next data message; raises WebSocketClosed on a close."""
        data, first = b"", None
        while True:
            fin, op, payload = self.recv_frame()
            if op == 8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                self.closed = (code, payload[2:].decode(errors="replace"))
                raise WebSocketClosed(*self.closed)
            if op == 9:
                self.send(payload, opcode=10)
                continue
            if op == 10:
                continue
            if first is None:
                first = op
            data += payload
            if fin:
                return first, data

    def recv_bytes(self, n):
        while len(self.msgbuf) < n:
            op, data = self.recv_msg()
            assert op == 2, f"text message from the console: {data[:100]!r}"
            self.msgbuf += data
        out, self.msgbuf = self.msgbuf[:n], self.msgbuf[n:]
        return out

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Rfb:
    """RFB 3.8 client over recv(n) / send(bytes) callables (security type None)."""

    def __init__(self, recv, send):
        self.recv, self.send = recv, send
        self.width = self.height = 0

    def handshake(self, shared=True):
        version = self.recv(12)
        assert version == b"RFB 003.008\n", version
        self.send(b"RFB 003.008\n")
        n = self.recv(1)[0]
        assert n > 0, "the server refused the connection"
        types = self.recv(n)
        assert 1 in types, f"security types {list(types)} without None"
        self.send(b"\x01")
        assert self.recv(4) == b"\0\0\0\0", "security result not OK"
        return self.client_init(shared)

    def client_init(self, shared=True):
        self.send(b"\x01" if shared else b"\x00")
        w, h = struct.unpack("!HH", self.recv(4))
        self.recv(16)  # pixel format
        name = self.recv(struct.unpack("!I", self.recv(4))[0])
        self.width, self.height = w, h
        # 32 bpp, depth 24, little endian, true colour, red at 16, green at 8, blue at 0
        self.send(struct.pack("!BxxxBBBBHHHBBBxxx", 0, 32, 24, 0, 1, 255, 255, 255, 16, 8, 0))
        self.send(struct.pack("!BxHi", 2, 1, 0))  # SetEncodings [raw]
        return w, h, name.decode(errors="replace")

    def request(self, incremental=False):
        self.send(struct.pack("!BBHHHH", 3, 1 if incremental else 0, 0, 0,
                              self.width, self.height))

    def update(self):
        """Read one FramebufferUpdate (raw rects only); returns [(x, y, w, h, bytes)]."""
        while True:
            t = self.recv(1)[0]
            if t == 0:
                break
            if t == 2:  # bell
                continue
            if t == 3:  # server cut text
                self.recv(3)
                self.recv(struct.unpack("!I", self.recv(4))[0])
                continue
            raise AssertionError(f"unexpected server message type {t}")
        self.recv(1)
        rects = []
        for _ in range(struct.unpack("!H", self.recv(2))[0]):
            x, y, w, h, enc = struct.unpack("!HHHHi", self.recv(12))
            if enc == 0:
                rects.append((x, y, w, h, self.recv(w * h * 4)))
            elif enc == -223:  # DesktopSize
                self.width, self.height = w, h
            else:
                raise AssertionError(f"encoding {enc} was not asked for")
        return rects

    def framebuffer(self):
        """The whole screen after a non-incremental request: count of non-black pixels."""
        self.request(False)
        covered, nonblack = 0, 0
        while covered < self.width * self.height:
            for _, _, w, h, data in self.update():
                covered += w * h
                px = memoryview(data).cast("I")
                nonblack += sum(1 for p in px if p & 0xFFFFFF)
        return nonblack
