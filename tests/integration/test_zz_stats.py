"""Statistics end to end: a real webrack-node (stats_interval = 1) runs the test guest under TCG
in a network namespace (prefix "wt"); its samples reach webrackd over the agent link and land in
RRDs on a small tmpfs (rrd_dir). Checked:

  * the guest's vCPU burning CPU (it boots under TCG: a full core) shows in the vServer's RRD
    (read back with `rrdtool fetch`) and in a valid PNG from /stats/vserver/ID/cpu.png, and in
    stats-get; the node's own RRD fills too;
  * the customer's portal in Debian's chromium shows every graph of the vServer, for the day
    and for the week (tests/lib/portal_stats.mjs);
  * rights: another tenant gets 404 not_found for the PNG and stats-get, exactly like a missing
    vServer; a token without stats.view is denied; node graphs are for the provider's staff;
  * RRD faults, produced with a second, hand-driven agent link (a node joined through the API):
    a full disk (the tmpfs filled up) when its RRD must be created, the same timestamp twice,
    time going backwards: each is logged naming the object, and sampling goes on (the real
    agent's samples keep landing meanwhile, and later samples of the faulty object land).
"""

import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import pytest

import webrack_it as w
from webrack_it import assert_err

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "lib"))
sys.path.insert(0, str(REPO / "bench" / "placement"))
import browser_check  # noqa: E402
import netns  # noqa: E402
from test_zz_agent_vm import GUEST_ISO, Agent, assert_done, run_task  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or os.cpu_count() < 2
                                or shutil.which("rrdtool") is None,
                                reason="needs root, two CPUs and rrdtool")

TMPFS_MB = 96  # a vServer RRD at a 1 s step is ~22 MB, a node's ~16 MB
# the graphs the portal shows for a vServer (www/portal.js STATS_METRICS)
STATS_METRICS = ["cpu", "memory", "disk", "diskops", "net", "packets"]


def rrd_fetch(path, start, cf="AVERAGE"):
    """{ds: [values]} of `rrdtool fetch` (nan for unknown)."""
    out = subprocess.run(["rrdtool", "fetch", str(path), cf, "-s", str(int(start)), "-e", "now"],
                         check=True, capture_output=True, text=True).stdout.splitlines()
    names = out[0].split()
    cols = {n: [] for n in names}
    for line in out[1:]:
        if ":" not in line:
            continue
        for n, v in zip(names, line.split(":", 1)[1].split()):
            cols[n].append(float(v))
    return cols


def rrd_last(path):
    r = subprocess.run(["rrdtool", "last", str(path)], capture_output=True, text=True)
    return int(r.stdout.strip()) if r.returncode == 0 else 0


def png_info(data):
    """Width and height of a PNG after checking its signature and decompressing its IDAT."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    pos, idat, size = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        assert zlib.crc32(kind + body) & 0xffffffff == crc, f"bad CRC in {kind}"
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    assert size and len(raw) > size[1], "image data too short"
    return size


class StatsAgent(Agent):
    def __init__(self, stack, rack, workdir):
        super().__init__(stack, rack, workdir)
        with open(self.conf, "a") as f:
            f.write("stats_interval = 1\n")


class FakeNode:
    """A node link driven by hand: joined through the API, then hello and raw stats lines."""

    def __init__(self, stack, admin, workdir):
        from run import make_csr  # bench/placement/run.py
        self.name = w.uniq("fake").lower().replace("_", "-")
        tok = admin.call("node-join-token-create", name=self.name)["token"]
        key_pem, csr_pem = make_csr(self.name)
        res = stack.api().call("node-join", _csrf=None, token=tok, csr_pem=csr_pem)
        self.id = res["node_id"]
        d = Path(workdir)
        (d / "fake.key").write_bytes(key_pem)
        (d / "fake.crt").write_text(res["cert_pem"])
        (d / "ca.crt").write_text(res["ca_pem"])
        ctx = ssl.create_default_context(cafile=str(d / "ca.crt"))
        ctx.load_cert_chain(str(d / "fake.crt"), str(d / "fake.key"))
        raw = socket.create_connection(("127.0.0.1", stack.agent_port), timeout=10)
        self.sock = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        self.rfile = self.sock.makefile("r")
        self.send({"type": "hello", "version": "webrack-node/test", "epoch": 0, "vms": [],
                   "inventory": {"cores": 2, "housekeeping": [0], "dedicated": [1],
                                 "ram_mb": 1024, "bridges": [], "storages": [],
                                 "qemu_version": "", "kvm": False, "accel": "tcg"}})
        welcome = json.loads(self.rfile.readline())
        assert welcome["type"] == "welcome", welcome

    def send(self, msg):
        self.sock.sendall((json.dumps(msg) + "\n").encode())

    def sample(self, t, busy):
        self.send({"type": "stats", "time": int(t), "vms": [],
                   "node": {"cpu_busy_ms": busy, "cpu_idle_ms": busy, "load1_milli": 1500,
                            "mem_total_kb": 1000, "mem_available_kb": 400}})

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def env():
    netns.cleanup_stale("wt")
    workdir = tempfile.mkdtemp(prefix="wts-", dir="/tmp")  # short: unix socket paths
    rrd_dir = Path(workdir) / "rrd"
    rrd_dir.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m,mode=0750", "wt-rrd",
                    str(rrd_dir)], check=True)
    stack = w.Stack("stats", rrd_dir=str(rrd_dir), stats_step="1")
    rack = agent = None
    try:
        stack.start()
        if GUEST_ISO.is_file() and GUEST_ISO.stat().st_size > 0:
            shutil.copyfile(GUEST_ISO, stack.iso_dir / GUEST_ISO.name)
        rack = netns.Rack(nodes=1, prefix="wt", dhcp=False,
                          forward_ports=[stack.port, stack.agent_port])
        agent = StatsAgent(stack, rack, workdir)
        admin = stack.admin()
        agent.join(admin)
        agent.start()
        yield stack, rack, agent, admin, rrd_dir
    finally:
        if agent:
            agent.terminate()
        if rack:
            rack.close()
        stack.stop(check=False)
        subprocess.run(["umount", "-l", str(rrd_dir)], check=False)
        if not os.environ.get("WEBRACK_KEEP_TEST_DIRS"):
            subprocess.run(["rm", "-rf", workdir])


@pytest.fixture(scope="module")
def guest(env):
    """The customer's running vServer (booting the test ISO when there is one)."""
    stack, rack, agent, admin, rrd_dir = env
    tree = w.make_tree(stack, admin)
    api = tree.cadmin.api
    nodes = lambda: {n["name"]: n for n in admin.items("node-list")}  # noqa: E731
    w.wait_until(lambda: nodes().get(agent.name, {}).get("state") == "online", 30, 0.2,
                 "node online")
    vs = w.make_vserver(api, tree.customer["id"], cores=1, ram_mb=256, disk_gb=1)
    if (stack.iso_dir / GUEST_ISO.name).is_file():
        admin.call("iso-rescan")
        iso = [i for i in admin.items("iso-list") if i["name"] == GUEST_ISO.name][0]
        assert_done(run_task(admin, "vserver-attach-iso", id=vs["id"], iso_id=iso["id"]), agent)
    started = time.time()
    assert_done(run_task(api, "vserver-start", id=vs["id"]), agent)
    return tree, vs, nodes()[agent.name]["id"], started


def get_png(stack, api, path, query="range=day"):
    headers = {}
    if api.token:
        headers["Authorization"] = f"Bearer {api.token}"
    r = api.s.get(f"{stack.url}{path}?{query}", headers=headers, timeout=60)
    return r


def test_cpu_burn_shows_in_rrd_png_and_stats_get(env, guest):
    stack, rack, agent, admin, rrd_dir = env
    tree, vs, node_id, started = guest
    rrd = rrd_dir / f"vserver-{vs['id']}.rrd"
    busy = []

    def burning():
        # DERIVE of CPU ms per second: 1000 = one core; a TCG guest booting uses a full one
        if not rrd.is_file():
            return False
        cpu = [v for v in rrd_fetch(rrd, started - 5)["cpu"] if v == v]
        busy[:] = cpu
        return any(v > 300 for v in cpu)

    w.wait_until(burning, 60, 0.5, f"a busy vCPU in {rrd} ({agent.log_text()[-2000:]})")
    cols = rrd_fetch(rrd, started - 5)
    assert any(v == 256 * 1048576 for v in cols["ram"]), cols["ram"][-5:]
    assert any(v > 10 * 1048576 for v in cols["rss"] if v == v), cols["rss"][-5:]
    assert any(v >= 0 for v in cols["disk_rd"] if v == v), "no block statistics"
    assert any(v >= 0 for v in cols["net_tx"] if v == v), "no tap statistics"

    # the same through the API: stats-get, and the graph
    api = tree.cadmin.api
    res = api.call("stats-get", kind="vserver", id=vs["id"], metric="cpu", range="day")
    assert res["metric"] == "cpu" and res["step"] > 0 and res["end"] > res["start"]
    points = res["series"][0]["points"]
    assert res["series"][0]["name"] == "cpu_percent"
    assert any(p is not None and p > 30 for p in points), points[-20:]
    r = get_png(stack, api, f"/stats/vserver/{vs['id']}/cpu.png")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "image/png"
    assert png_info(r.content)[0] > 600
    for metric in STATS_METRICS[1:]:
        r = get_png(stack, api, f"/stats/vserver/{vs['id']}/{metric}.png", "range=week")
        assert r.status_code == 200, (metric, r.text)
        png_info(r.content)

    # the node's own RRD, for the provider
    noderrd = rrd_dir / f"node-{node_id}.rrd"
    w.wait_until(noderrd.is_file, 10, 0.2, "node RRD")
    w.wait_until(lambda: any(v == v for v in rrd_fetch(noderrd, started)["cpu_busy"]), 20, 0.5,
                 "node CPU samples")
    res = admin.call("stats-get", kind="node", id=node_id, metric="memory")
    assert [s["name"] for s in res["series"]] == ["used_bytes", "total_bytes"]
    assert any(p for p in res["series"][1]["points"] if p)
    r = get_png(stack, admin, f"/stats/node/{node_id}/load.png", "range=month")
    assert r.status_code == 200, r.text
    png_info(r.content)


def test_portal_shows_the_graphs_in_chromium(env, guest):
    """The customer's view: in Debian's chromium, log in to the portal and open the vServer's
    statistics. Every graph is a PNG the browser decodes, for the day and then for the week."""
    stack, rack, agent, admin, rrd_dir = env
    tree, vs, node_id, started = guest
    for rng in ("day", "week"):
        r = browser_check.run("portal_stats.mjs", stack.url, tree.cadmin.username, vs["name"],
                              Path(stack.dir) / f"portal-stats-{rng}.png", rng,
                              password=tree.cadmin.password)
        assert r["missing"] == [], r
        assert sorted(r["graphs"]) == sorted(STATS_METRICS), r
        for metric, g in r["graphs"].items():
            assert g["width"] > 400 and g["height"] > 100, (metric, r)
            assert g["range"] == rng, (metric, r)
        assert not r["errors"], r  # no script error, no CSP violation


def test_rights_and_bad_requests(env, guest):
    stack, rack, agent, admin, rrd_dir = env
    tree, vs, node_id, started = guest
    other = w.make_tree(stack, admin)
    api = other.cadmin.api
    missing = 10 ** 12

    # another tenant's vServer answers exactly like a missing one
    for vid in (vs["id"], missing):
        assert_err(api.err("stats-get", kind="vserver", id=vid, metric="cpu"),
                   "not_found", 404)
        r = get_png(stack, api, f"/stats/vserver/{vid}/cpu.png")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", r.text
    a = get_png(stack, api, f"/stats/vserver/{vs['id']}/cpu.png").json()["error"]["message"]
    b = get_png(stack, api, f"/stats/vserver/{missing}/cpu.png").json()["error"]["message"]
    assert a == b
    # nodes: the provider's staff only
    r = get_png(stack, tree.cadmin.api, f"/stats/node/{node_id}/cpu.png")
    assert r.status_code == 404, r.text
    assert_err(tree.cadmin.api.err("stats-get", kind="node", id=node_id, metric="cpu"),
               "not_found", 404)
    # a token restricted to vserver.view may see the vServer, not its statistics
    tok = tree.cadmin.api.call("token-create", name="nostats", privileges=["vserver.view"])
    tapi = stack.api(token=tok["secret"])
    assert_err(tapi.err("stats-get", kind="vserver", id=vs["id"], metric="cpu"),
               "denied", 403)
    assert get_png(stack, tapi, f"/stats/vserver/{vs['id']}/cpu.png").status_code == 403
    # no credentials at all
    anon = stack.api()
    assert get_png(stack, anon, f"/stats/vserver/{vs['id']}/cpu.png").status_code == 401

    # malformed requests: stable "invalid"
    own = tree.cadmin.api
    for path, query in ((f"/stats/vserver/{vs['id']}/cpu.png", "range=decade"),
                        (f"/stats/vserver/{vs['id']}/bogus.png", ""),
                        (f"/stats/vm/{vs['id']}/cpu.png", ""),
                        (f"/stats/vserver/{vs['id']}/../cpu.png", ""),
                        (f"/stats/vserver/{vs['id']}/cpu.gif", "")):
        r = get_png(stack, own, path, query)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid", (path, r.text)
    assert_err(own.err("stats-get", kind="vserver", id=vs["id"], metric="load"),
               "invalid", 400)
    assert_err(own.err("stats-get", kind="rack", id=vs["id"], metric="cpu"),
               "invalid", 400)


def test_rrd_faults_are_logged_and_sampling_goes_on(env, guest):
    stack, rack, agent, admin, rrd_dir = env
    tree, vs, node_id, started = guest
    vsrrd = rrd_dir / f"vserver-{vs['id']}.rrd"
    fake = FakeNode(stack, admin, tempfile.mkdtemp(prefix="wtf-", dir="/tmp"))
    fakerrd = rrd_dir / f"node-{fake.id}.rrd"
    filler = rrd_dir / "filler"
    try:
        # ---- a full disk when the fake node's RRD must be created
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=1M"], capture_output=True)
        t = int(time.time())
        fake.sample(t, 1000)
        w.wait_until(lambda: f"node {fake.id}: create" in stack.log_tail(400), 10, 0.2,
                     "the failed create logged")
        assert "No space left on device" in stack.log_tail(400) or "space" in stack.log_tail(400)
        assert not fakerrd.exists(), "a stub of the failed RRD was left behind"
        # the real agent's samples keep landing in the existing RRD meanwhile
        before = rrd_last(vsrrd)
        w.wait_until(lambda: rrd_last(vsrrd) >= before + 2, 15, 0.3, "sampling goes on")

        # ---- space again: the next sample creates the RRD and lands
        filler.unlink()
        t += 2
        fake.sample(t, 2000)
        w.wait_until(lambda: rrd_last(fakerrd) == t, 10, 0.2, "the fake node's RRD")

        # ---- the same timestamp twice, then time going backwards
        fake.sample(t, 3000)
        w.wait_until(lambda: "illegal attempt to update" in stack.log_tail(400)
                     and f"node {fake.id}" in stack.log_tail(400), 10, 0.2,
                     "the duplicate logged")
        fake.sample(t - 30, 3000)
        w.wait_until(lambda: stack.log_tail(400).count(f"node {fake.id}: update") >= 2, 10,
                     0.2, "the step backwards logged")
        assert rrd_last(fakerrd) == t
        # ... and later samples land
        fake.sample(t + 1, 3000)
        w.wait_until(lambda: rrd_last(fakerrd) == t + 1, 10, 0.2, "a later sample")
        before = rrd_last(vsrrd)
        w.wait_until(lambda: rrd_last(vsrrd) >= before + 2, 15, 0.3, "sampling still goes on")
        assert stack.alive()
    finally:
        fake.close()
        if filler.exists():
            filler.unlink()
