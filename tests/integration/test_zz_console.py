"""The console end to end: webrackd with its VeNCrypt listener, one webrack-node in a rack
namespace (prefix "wv") with its console endpoint reached through a reverse relay (the root
namespace has no route into the node), and one TCG guest booted from the test ISO.

Checked: the ticket operation (rights, stored hashed, conflict when not running); a framebuffer
with the guest's console text through VeNCrypt with libvncclient (tests/tools/vncshot) and through
the WebSocket (tests/lib/rfbclient.py, what noVNC does on the wire); the console page with
Debian's noVNC in Debian's chromium showing the guest's screen; reused, expired, foreign-user
and foreign-vServer tickets refused; TLS 1.1 refused on both entry points; a cross-origin
WebSocket refused; hundreds of slow half-open connections do not stall the API or a console;
a stalled viewer gets every byte of 48 MiB of updates on both entry points (backpressure on
every hop, then the resume);
stopping the vServer closes an open console with a message and revokes its tickets; audit rows.

Needs root, two CPUs and qemu-system-x86_64. Tests run in file order and share the module
fixture (the guest boots once).
"""

import hashlib
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

import webrack_it as w

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "lib"))
import browser_check  # noqa: E402
import netns  # noqa: E402
import rfbclient  # noqa: E402
from test_zz_rack import GUEST_ISO, NodeAgent, db_rows, ensure_guest_iso  # noqa: E402

VNCSHOT = REPO / "tests" / "tools" / "vncshot"
CONSOLE_PORT = 5902  # inside the node namespace
HALF_OPEN = 250  # per entry point

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or (os.cpu_count() or 1) < 2
                                or shutil.which("qemu-system-x86_64") is None,
                                reason="needs root, two CPUs and qemu-system-x86_64")


class Env:
    pass


def wait_task(env, api, tid, wait=120):
    task = {}

    def finished():
        task.update(api.call("task-get", id=tid))
        return task["status"] in ("done", "failed")

    w.wait_until(finished, wait, 0.2, f"task {tid}")
    assert task["status"] == "done", f"{task}\n{env.agent.log_text()[-3000:]}"
    return task


@pytest.fixture(scope="module")
def env():
    netns.cleanup_stale("wv")
    ensure_guest_iso()
    e = Env()
    e.workdir = tempfile.mkdtemp(prefix="wvc-", dir="/tmp")
    e.vnc_port = w.free_port()
    e.stack = w.Stack("console", vnc_listen=f"127.0.0.1:{e.vnc_port}")
    e.rack = None
    e.agent = None
    try:
        e.stack.start()
        e.cert = str(e.stack.dir / "cert.pem")
        e.origin = f"https://127.0.0.1:{e.stack.port}"
        shutil.copyfile(GUEST_ISO, e.stack.iso_dir / GUEST_ISO.name)
        e.rack = netns.Rack(nodes=1, prefix="wv", dhcp=False,
                            forward_ports=[e.stack.port, e.stack.agent_port])
        relay_port = e.rack.reverse_relay("n1", CONSOLE_PORT)
        e.agent = NodeAgent(e.stack, e.rack, "n1", e.workdir)
        with open(e.agent.conf, "a") as f:
            f.write(f"console_listen = 127.0.0.1:{CONSOLE_PORT}\n"
                    f"console_advertise = 127.0.0.1:{relay_port}\n")
        e.admin = e.stack.admin()
        e.agent.join(e.admin)
        e.agent.start()
        w.wait_until(lambda: any(n["name"] == e.agent.name and n["state"] == "online"
                                 for n in e.admin.items("node-list")), 30, 0.2, "node online")
        assert db_rows(e, "SELECT console_endpoint FROM nodes WHERE name = %s",
                       e.agent.name) == [(f"127.0.0.1:{relay_port}",)]
        e.admin.call("iso-rescan")
        iso = [i for i in e.admin.items("iso-list") if i["name"] == GUEST_ISO.name][0]
        e.tree = w.make_tree(e.stack, e.admin)
        e.api = e.tree.cadmin.api
        cid = e.tree.customer["id"]
        e.vs = w.make_vserver(e.api, cid, cores=1, ram_mb=256, disk_gb=1)["id"]
        e.other_vs = w.make_vserver(e.api, cid, cores=1, ram_mb=256, disk_gb=1)["id"]
        wait_task(e, e.api, e.api.call("vserver-attach-iso", id=e.vs,
                                       iso_id=iso["id"])["task_id"])
        wait_task(e, e.api, e.api.call("vserver-start", id=e.vs)["task_id"])
        # a colleague with console rights on the same vServer, and another tenant's admin
        e.colleague = w.make_user(e.stack, e.api, cid, role="user")
        e.viewer = w.make_user(e.stack, e.api, cid, role="viewer")
        other = w.make_account(e.tree.radmin.api, e.tree.reseller["id"], "customer")
        e.stranger = w.make_user(e.stack, e.tree.radmin.api, other["id"], role="admin")
        yield e
    finally:
        if e.agent:
            e.agent.terminate()
        if e.rack:
            e.rack.close()
        shutil.rmtree(e.workdir, ignore_errors=True)
        e.stack.terminate()
        e.stack.stop(check=False)


def ticket(env, api=None, vs=None):
    return (api or env.api).call("vserver-console-ticket", id=vs or env.vs)


def vncshot(env, password, timeout=30):
    """(returncode, stdout, stderr) of tests/tools/vncshot against the VeNCrypt listener."""
    out = Path(env.workdir) / "shot.png"
    r = subprocess.run([str(VNCSHOT), "127.0.0.1", str(env.vnc_port), str(out), "--ca",
                        env.cert, "--timeout", str(timeout)],
                       env=dict(os.environ, VNCSHOT_PASSWORD=password), capture_output=True,
                       text=True, timeout=timeout + 30)
    return r.returncode, r.stdout.strip(), r.stderr.strip()


def ws_console(env, t, vs=None, origin=None, cookie=None):
    return rfbclient.WebSocket.connect(
        "127.0.0.1", env.stack.port, f"/console/ws?vserver={vs or env.vs}&ticket={t}",
        origin=origin or env.origin, cafile=env.cert, cookie=cookie, protocols="binary")


def assert_guest_screen(env, grab, what):
    """The guest prints boot text on its VGA console: poll until the screen is not blank."""
    last = {}

    def shown():
        last["nonblack"] = grab()
        return last["nonblack"] > 200

    try:
        w.wait_until(shown, 120, 2, f"{what}: guest console text")
    except AssertionError as e:
        raise AssertionError(f"{e}: last {last}\n{env.stack.log_tail(60)}") from None


# ------------------------------------------------------------------------------------ the tests


def test_ticket_operation(env):
    t = ticket(env)
    assert t["ticket"].startswith("wrc_") and len(t["ticket"]) > 30, t
    assert 1 <= t["expires_in"] <= 60, t
    assert t["url"] == f"{env.origin}/console/{env.vs}#ticket={t['ticket']}", t
    assert (t["vencrypt_host"], t["vencrypt_port"]) == ("127.0.0.1", env.vnc_port), t
    # stored only hashed, bound to user and vServer, at most 60 s
    rows = db_rows(env, "SELECT hash, user_id, vserver_id, expires_at - created_at <= "
                   "interval '60 s' FROM console_tickets WHERE vserver_id = %s", env.vs)
    want = hashlib.sha256(t["ticket"].encode()).hexdigest()
    assert (want, env.tree.cadmin.id, env.vs, True) in rows, rows
    assert not db_rows(env, "SELECT 1 FROM console_tickets WHERE hash = %s", t["ticket"])
    # another tenant: not found; a viewer without vserver.console: denied
    w.assert_err(env.stranger.api.err("vserver-console-ticket", id=env.vs), "not_found", 404)
    w.assert_err(env.viewer.api.err("vserver-console-ticket", id=env.vs), "denied", 403)
    # no console for a vServer that does not run
    e = env.api.err("vserver-console-ticket", id=env.other_vs)
    w.assert_err(e, "conflict", 409)
    assert "defined" in e.message


def test_vencrypt_framebuffer_with_libvncclient(env):
    def grab():
        rc, out, err = vncshot(env, ticket(env)["ticket"])
        assert rc == 0, f"vncshot failed: {err}"
        width, height, nonblack = map(int, out.split())
        assert width >= 640 and height >= 400, out
        return nonblack

    assert_guest_screen(env, grab, "VeNCrypt")
    png = (Path(env.workdir) / "shot.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    rows = db_rows(env, "SELECT username, detail FROM audit WHERE event = 'console-open' AND "
                   "object_id = %s", env.vs)
    assert (env.tree.cadmin.username, "via vencrypt") in rows, rows


def test_websocket_framebuffer(env):
    def grab():
        ws = ws_console(env, ticket(env)["ticket"], cookie=env.api.cookie())
        try:
            assert ws.headers.get("sec-websocket-protocol") == "binary", ws.headers
            rfb = rfbclient.Rfb(ws.recv_bytes, ws.send)
            width, height, _ = rfb.handshake()
            assert width >= 640 and height >= 400
            return rfb.framebuffer()
        finally:
            ws.close()

    assert_guest_screen(env, grab, "WebSocket")
    rows = db_rows(env, "SELECT detail FROM audit WHERE event = 'console-open' AND "
                   "object_id = %s", env.vs)
    assert ("via websocket",) in rows, rows


def test_console_page_and_novnc_are_served(env):
    page = w.http_get(f"{env.stack.url}/console/{env.vs}")
    assert page.status_code == 200 and 'src="/console.js"' in page.text, page.text[:300]
    js = w.http_get(f"{env.stack.url}/console.js")
    assert js.status_code == 200 and "/novnc/core/rfb.js" in js.text
    rfb = w.http_get(f"{env.stack.url}/novnc/core/rfb.js")
    assert rfb.status_code == 200 and "text/javascript" in rfb.headers["Content-Type"]
    assert "export default class RFB" in rfb.text  # Debian's noVNC, not a copy in the repo
    assert w.http_get(f"{env.stack.url}/novnc/../etc/passwd").status_code == 404


def test_novnc_in_chromium_shows_the_guest_screen(env):
    """The portal's console link in a real browser: Debian's chromium opens /console/<id> with
    the ticket, and Debian's noVNC over webrackd's WebSocket draws the guest's screen. The same
    link a second time shows the refusal in the console bar."""
    t = ticket(env)
    png = Path(env.workdir) / "novnc.png"
    r = browser_check.run("novnc_view.mjs", t["url"], png, 60)
    assert r["status"] == "connected" and not r["bad"], r
    assert r["width"] >= 640 and r["height"] >= 400, r
    assert r["nonblack"] > 200, f"{r}\n{env.stack.log_tail(40)}"
    assert r["shown"][0] >= 320 and r["shown"][1] >= 200, r  # on the page, not hidden
    assert r["title"].endswith(" - webrack") and r["title"] != "Console - webrack", r
    assert not r["errors"], r  # no script error, no CSP violation
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = db_rows(env, "SELECT count(*) FROM audit WHERE event = 'console-open' AND "
                   "object_id = %s AND detail = 'via websocket'", env.vs)
    assert rows[0][0] >= 1, rows

    again = browser_check.run("novnc_view.mjs", t["url"],
                              Path(env.workdir) / "novnc-again.png", 30)
    assert again["bad"] and "could not be opened" in again["status"], again
    assert again["nonblack"] == 0, again


def test_reused_ticket_refused(env):
    t = ticket(env)["ticket"]
    rc, _, err = vncshot(env, t)
    assert rc == 0, err
    rc, _, err = vncshot(env, t)
    assert rc != 0 and "ticket" in err, err
    with pytest.raises(rfbclient.HandshakeRefused) as e:
        ws_console(env, t)
    assert e.value.status == 403 and '"denied"' in e.value.body


def test_expired_ticket_refused(env):
    env.stack.reload(console_ticket_seconds=2)
    try:
        w.wait_until(lambda: ticket(env)["expires_in"] == 2, 10, 0.2, "reload")
        t = ticket(env)["ticket"]
        h = hashlib.sha256(t.encode()).hexdigest()
        w.wait_until(lambda: db_rows(env, "SELECT expires_at < now() FROM console_tickets "
                                     "WHERE hash = %s", h) == [(True,)], 10, 0.2, "expiry")
        rc, _, err = vncshot(env, t)
        assert rc != 0 and "expired" in err, err
    finally:
        env.stack.reload(console_ticket_seconds=60)
        w.wait_until(lambda: ticket(env)["expires_in"] == 60, 10, 0.2, "reload back")


def test_foreign_user_and_foreign_vserver_tickets_refused(env):
    # the ticket is the admin's; the browser presenting it is logged in as the colleague
    t = ticket(env)["ticket"]
    with pytest.raises(rfbclient.HandshakeRefused) as e:
        ws_console(env, t, cookie=env.colleague.api.cookie())
    assert e.value.status == 403 and "another vServer or user" in e.value.body
    # presented once, it is gone (single use even when refused)
    with pytest.raises(rfbclient.HandshakeRefused):
        ws_console(env, t, cookie=env.api.cookie())
    # a ticket for this vServer on another vServer's console
    t = ticket(env)["ticket"]
    with pytest.raises(rfbclient.HandshakeRefused) as e:
        ws_console(env, t, vs=env.other_vs)
    assert e.value.status == 403 and "another vServer or user" in e.value.body
    # the colleague's own ticket works in the colleague's browser
    ws = ws_console(env, ticket(env, env.colleague.api)["ticket"],
                    cookie=env.colleague.api.cookie())
    try:
        rfbclient.Rfb(ws.recv_bytes, ws.send).handshake()
    finally:
        ws.close()


def vencrypt_until_tls(port):
    """A socket on the VeNCrypt listener, right before its TLS handshake."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)

    def rd(n):
        b = b""
        while len(b) < n:
            c = s.recv(n - len(b))
            assert c, "closed"
            b += c
        return b

    assert rd(12) == b"RFB 003.008\n"
    s.sendall(b"RFB 003.008\n")
    assert rd(2) == b"\x01\x13"  # exactly one type: VeNCrypt
    s.sendall(b"\x13")
    assert rd(2) == b"\x00\x02"
    s.sendall(b"\x00\x02")
    assert rd(6) == b"\x00\x01\x00\x00\x01\x06"  # ok, one subtype: X509Plain
    s.sendall(b"\x00\x00\x01\x06")
    assert rd(1) == b"\x01"
    return s


def test_tls_below_1_2_refused(env):
    old = rfbclient.tls_context(env.cert, ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1)
    new = rfbclient.tls_context(env.cert, ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_2)
    for name, connect in (("VeNCrypt", lambda: vencrypt_until_tls(env.vnc_port)),
                          ("HTTPS/WebSocket", lambda: socket.create_connection(
                              ("127.0.0.1", env.stack.port), timeout=10))):
        with pytest.raises(ssl.SSLError) as e:
            old.wrap_socket(connect(), server_hostname="127.0.0.1")
        assert "VERSION" in str(e.value).upper(), f"{name}: {e.value}"
        # the same client allowed up to TLS 1.2 gets through: the refusal was the version
        s = new.wrap_socket(connect(), server_hostname="127.0.0.1")
        assert s.version() == "TLSv1.2", f"{name}: {s.version()}"
        s.close()


def test_cross_origin_websocket_refused(env):
    t = ticket(env)["ticket"]
    for origin in ("https://evil.example", f"http://127.0.0.1:{env.stack.port}",
                   f"https://127.0.0.1:{env.stack.port}.evil.example"):
        with pytest.raises(rfbclient.HandshakeRefused) as e:
            ws_console(env, t, origin=origin)
        assert e.value.status == 403 and "cross-origin" in e.value.body, origin
    # no Origin at all (not a browser page of ours) is refused as well
    with pytest.raises(rfbclient.HandshakeRefused) as e:
        rfbclient.WebSocket.connect("127.0.0.1", env.stack.port,
                                    f"/console/ws?vserver={env.vs}&ticket={t}",
                                    cafile=env.cert)
    assert e.value.status == 403
    # the refusals did not consume the ticket: from the portal's origin it works
    ws = ws_console(env, t)
    try:
        rfbclient.Rfb(ws.recv_bytes, ws.send).handshake()
    finally:
        ws.close()


def test_slow_half_open_connections_do_not_stall_others(env):
    socks = []
    try:
        for port, first in ((env.vnc_port, b"RFB 003"), (env.stack.port, b"\x16\x03\x01")):
            for _ in range(HALF_OPEN):
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.sendall(first)  # a few bytes of a handshake, then nothing
                socks.append(s)
        t0 = time.monotonic()
        # the API answers ...
        w.wait_until(lambda: env.api.call("whoami"), 20, 0.2, "the API under load")
        # ... and a complete console opens on both entry points
        rc, out, err = vncshot(env, ticket(env)["ticket"], timeout=40)
        assert rc == 0, err
        ws = ws_console(env, ticket(env)["ticket"])
        try:
            rfbclient.Rfb(ws.recv_bytes, ws.send).handshake()
        finally:
            ws.close()
        print(f"\nAPI call and two consoles with {len(socks)} half-open connections: "
              f"{time.monotonic() - t0:.2f} s")
    finally:
        for s in socks:
            s.close()


def recv_exact(sock, n):
    b = bytearray()
    while len(b) < n:
        c = sock.recv(min(n - len(b), 1 << 20))
        if not c:
            raise ConnectionError("closed")
        b += c
    return bytes(b)


FLOOD_W, FLOOD_H = 1024, 768
FLOOD_BASE = bytes(range(256)) * (FLOOD_W * FLOOD_H * 4 // 256 + 1)


def flood_pixels(n):
    """The n-th full screen of the flood source: every byte depends on n and its offset."""
    k = (n * 37) % 256
    return FLOOD_BASE[k:k + FLOOD_W * FLOOD_H * 4]


class FloodSource:
    """Stands in for QEMU's VNC socket (QEMU's is renamed aside meanwhile): RFB 3.8, security
    None, every non-incremental FramebufferUpdateRequest answered at once with the whole
    1024x768 screen in raw 32 bpp (3 MiB, flood_pixels(request number)). Its writes block
    while the proxy's buffers are full, as QEMU's do."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(str(path))
        self.sock.listen(4)
        threading.Thread(target=self.serve, daemon=True).start()

    def close(self):
        self.sock.close()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.one, args=(c,), daemon=True).start()

    def one(self, c):
        pf = struct.pack("!BBBBHHHBBBxxx", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
        sizes = {0: 19, 4: 7, 5: 5}
        n = 0
        with c:
            try:
                c.sendall(b"RFB 003.008\n")
                recv_exact(c, 12)
                c.sendall(b"\x01\x01")
                recv_exact(c, 1)
                c.sendall(b"\0\0\0\0")
                recv_exact(c, 1)
                c.sendall(struct.pack("!HH", FLOOD_W, FLOOD_H) + pf + struct.pack("!I", 5)
                          + b"flood")
                while True:
                    t = recv_exact(c, 1)[0]
                    if t == 2:
                        recv_exact(c, 4 * struct.unpack("!xH", recv_exact(c, 3))[0])
                    elif t == 3:
                        if recv_exact(c, 9)[0] == 0:
                            c.sendall(struct.pack("!BxHHHHHi", 0, 1, 0, 0, FLOOD_W, FLOOD_H, 0)
                                      + flood_pixels(n))
                            n += 1
                    elif t in sizes:
                        recv_exact(c, sizes[t])
                    else:
                        return
            except OSError:
                return


def check_flood(rfb, what, count=16):
    """count full screens asked for at once, then nothing read for a while (every buffer on
    the way fills and each hop pauses its reading), then all of them: each byte in order."""
    assert (rfb.width, rfb.height) == (FLOOD_W, FLOOD_H), what
    for _ in range(count):
        rfb.request(False)
    time.sleep(1.5)  # the stalled viewer under test, not a wait for something to happen
    for n in range(count):
        rects = rfb.update()
        assert [r[:4] for r in rects] == [(0, 0, FLOOD_W, FLOOD_H)], f"{what}: update {n}"
        assert rects[0][4] == flood_pixels(n), f"{what}: update {n} differs"


def test_stalled_viewer_gets_every_byte_of_large_updates(env):
    sock = env.agent.run / f"vm-{env.vs}" / "vnc.sock"
    aside = sock.with_name("vnc.sock.qemu")
    sock.rename(aside)
    source = None
    try:
        source = FloodSource(sock)
        ws = ws_console(env, ticket(env)["ticket"])
        try:
            rfb = rfbclient.Rfb(ws.recv_bytes, ws.send)
            rfb.handshake()
            check_flood(rfb, "WebSocket")
        finally:
            ws.close()
        raw = vencrypt_until_tls(env.vnc_port)
        raw.settimeout(60)
        s = rfbclient.tls_context(env.cert).wrap_socket(raw, server_hostname="127.0.0.1")
        try:
            t = ticket(env)["ticket"].encode()
            s.sendall(struct.pack("!II", 6, len(t)) + b"ticket" + t)
            assert recv_exact(s, 4) == b"\0\0\0\0", "VeNCrypt: security result"
            rfb = rfbclient.Rfb(lambda n: recv_exact(s, n), s.sendall)
            rfb.client_init()
            check_flood(rfb, "VeNCrypt")
        finally:
            s.close()
    finally:
        if source:
            source.close()
        sock.unlink(missing_ok=True)
        aside.rename(sock)  # QEMU's listening socket again, for the tests after this one


def test_stop_closes_console_with_message_and_revokes_tickets(env):
    ws = ws_console(env, ticket(env)["ticket"])
    rfb = rfbclient.Rfb(ws.recv_bytes, ws.send)
    rfb.handshake()
    spare = ticket(env)["ticket"]
    wait_task(env, env.api, env.api.call("vserver-stop", id=env.vs)["task_id"])
    with pytest.raises(rfbclient.WebSocketClosed) as e:
        while True:
            rfb.request(incremental=True)
            rfb.update()
    assert e.value.code == 4000 and "stopped" in e.value.reason, e.value
    ws.close()
    assert db_rows(env, "SELECT count(*) FROM console_tickets WHERE vserver_id = %s",
                   env.vs) == [(0,)]
    rc, _, err = vncshot(env, spare)
    assert rc != 0 and "ticket" in err, err
    w.assert_err(env.api.err("vserver-console-ticket", id=env.vs), "conflict", 409)
