"""The node agent's QEMU driver for real: a webrack-node joined to a real webrackd runs a vServer
as a real QEMU (accel=tcg) in a network namespace with its own bridge, and every lifecycle task
of the JSON API ends where QEMU says it should: pinned vCPU thread, pause/resume/reset/stop/start,
an ACPI shutdown of the test guest, an agent killed with SIGKILL that re-attaches to the same
QEMU, a QEMU killed with SIGKILL that the agent restarts, and park/unpark/delete cleaning up
(no QEMU, no tap, no disk file).

Needs root, two CPUs (core 0 housekeeping, core 1 dedicated) and qemu-system-x86. The test guest
var/guest/webrack-guest.iso (tests/guest/build.sh) is used when present; without it the guest
boots nothing and the ACPI shutdown check is skipped."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import webrack_it as w
from webrack_it import assert_err

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "lib"))
import netns  # noqa: E402
from procs import pid_alive, threads  # noqa: E402

AGENT = Path(os.environ.get("WEBRACK_NODE", REPO / "nodeagent" / "webrack-node"))
GUEST_DIR = REPO / "var" / "guest"
GUEST_ISO = GUEST_DIR / "webrack-guest.iso"

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or os.cpu_count() < 2,
                                reason="needs root and two CPUs")




def cpu_ticks(pid, tid):
    with open(f"/proc/{pid}/task/{tid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


class Agent:
    """One webrack-node in the rack's node namespace n1."""

    def __init__(self, stack, rack, workdir):
        self.stack, self.rack, self.dir = stack, rack, Path(workdir)
        self.name = w.uniq("node").lower().replace("_", "-")
        self.state = self.dir / "state"
        self.run = self.dir / "run"
        self.images = self.dir / "images"
        self.conf = self.dir / "node.conf"
        self.log = self.dir / "agent.log"
        self.proc = None
        self.conf.write_text("\n".join([
            f"name = {self.name}",
            f"controller = 127.0.0.1:{stack.agent_port}",
            f"state_dir = {self.state}",
            f"run_dir = {self.run}",
            "housekeeping_cores = 0",
            "dedicated_cores = 1",
            "reserve_ram_mb = 0",
            "bridge = wrbr0",
            "storage_name = local",
            f"storage_path = {self.images}",
            "accel = tcg",
            "log_level = debug",
        ]) + "\n")

    def join(self, admin):
        token = admin.call("node-join-token-create", name=self.name)["token"]
        r = self.rack.run("n1", [str(AGENT), "join", f"https://127.0.0.1:{self.stack.port}",
                                 token, "-c", str(self.conf), "--ca",
                                 str(self.stack.dir / "cert.pem")], check=False)
        assert r.returncode == 0, f"join failed: {r.stdout}\n{r.stderr}"

    def start(self):
        self.logf = open(self.log, "ab")
        self.proc = self.rack.popen("n1", [str(AGENT), "-c", str(self.conf)],
                                    stdout=self.logf, stderr=subprocess.STDOUT)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def log_text(self):
        return self.log.read_text(errors="replace")

    def qemu_pid(self, vid):
        try:
            pid = int((self.run / f"vm-{vid}" / "qemu.pid").read_text())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def link_of(self, name):
        r = self.rack.run("n1", ["ip", "-o", "link", "show", name], check=False)
        return r.stdout if r.returncode == 0 else None


@pytest.fixture(scope="module")
def env():
    netns.cleanup_stale("wr")
    workdir = tempfile.mkdtemp(prefix="wra-", dir="/tmp")  # short: unix socket paths
    stack = w.Stack("agentvm")
    stack.start()
    if GUEST_ISO.is_file() and GUEST_ISO.stat().st_size > 0:
        # a private copy: tests/guest/build.sh may rebuild the shared one meanwhile
        shutil.copyfile(GUEST_ISO, stack.iso_dir / GUEST_ISO.name)
    rack = netns.Rack(nodes=1, prefix="wr", dhcp=False,
                      forward_ports=[stack.port, stack.agent_port])
    agent = Agent(stack, rack, workdir)
    admin = stack.admin()
    try:
        agent.join(admin)
        agent.start()
        yield stack, rack, agent, admin
    finally:
        agent.terminate()
        # QEMUs outlive the agent by design: kill what is left in the namespace.
        rack.close()
        if not os.environ.get("WEBRACK_KEEP_TEST_DIRS"):
            subprocess.run(["rm", "-rf", workdir])
        stack.stop(check=False)


def run_task(api, op, wait=90, **params):
    t0 = time.monotonic()
    res = api.call(op, **params)
    tid = res["task_id"]
    task = None

    def finished():
        nonlocal task
        task = api.call("task-get", id=tid)
        return task["status"] in ("done", "failed")

    w.wait_until(finished, wait, 0.2, f"task {op}")
    task["seconds"] = round(time.monotonic() - t0, 2)
    print(f"{op}: {task['status']} in {task['seconds']} s {task.get('info') or ''}")
    return task


def assert_done(task, agent):
    assert task["status"] == "done", f"{task}\n--- agent log ---\n{agent.log_text()[-4000:]}"


def test_agent_vm_lifecycle(env):
    stack, rack, agent, admin = env
    tree = w.make_tree(stack, admin)
    api = tree.cadmin.api

    def node_state():
        nodes = {n["name"]: n for n in admin.items("node-list")}
        return nodes.get(agent.name, {}).get("state")

    w.wait_until(lambda: node_state() == "online", 30, 0.2, "node online")
    vs = w.make_vserver(api, tree.customer["id"], cores=1, ram_mb=256, disk_gb=1)
    vid = vs["id"]
    tap = f"wrt{vid}n0"
    booting_iso = (stack.iso_dir / GUEST_ISO.name).is_file()
    if booting_iso:
        admin.call("iso-rescan")
        isos = [i for i in admin.items("iso-list") if i["name"] == GUEST_ISO.name]
        assert isos, f"iso-rescan did not find the test guest: {admin.items('iso-list')}"
        r = run_task(admin, "vserver-attach-iso", id=vid, iso_id=isos[0]["id"])
        assert_done(r, agent)

    # ---- start: QEMU runs, vCPU pinned to the dedicated core, the rest on housekeeping
    assert_done(run_task(api, "vserver-start", id=vid), agent)
    assert api.call("vserver-get", id=vid)["state"] == "running"
    pid = agent.qemu_pid(vid)
    assert pid, "no QEMU running after vserver-start"
    ths = threads(pid)
    vcpus = {t: a for t, (c, a) in ths.items() if c.startswith("CPU ")}
    assert len(vcpus) == 1, ths
    assert list(vcpus.values()) == ["1"], f"vCPU thread not pinned to core 1: {ths}"
    others = {t: a for t, (c, a) in ths.items() if not c.startswith("CPU ")}
    assert others and all(a == "0" for a in others.values()), ths
    link = agent.link_of(tap)
    assert link and "master wrbr0" in link, link
    disk = agent.images / f"vs-{vid}.qcow2"
    assert disk.is_file()
    assert (agent.state / "vms" / f"{vid}.json").is_file()
    mode = os.stat(agent.run / f"vm-{vid}" / "qmp.sock").st_mode & 0o777
    assert mode == 0o600, oct(mode)

    # ---- pause / resume / reset
    vcpu = next(iter(vcpus))
    assert_done(run_task(api, "vserver-pause", id=vid), agent)
    assert api.call("vserver-get", id=vid)["state"] == "paused"
    time.sleep(0.3)
    t1 = cpu_ticks(pid, vcpu)
    time.sleep(1.0)
    assert cpu_ticks(pid, vcpu) == t1, "a paused vCPU kept running"
    assert_done(run_task(api, "vserver-resume", id=vid), agent)
    assert api.call("vserver-get", id=vid)["state"] == "running"
    assert_done(run_task(api, "vserver-reset", id=vid), agent)
    assert agent.qemu_pid(vid) == pid, "reset must not restart QEMU"

    # ---- stop, start again
    assert_done(run_task(api, "vserver-stop", id=vid), agent)
    assert not pid_alive(pid)
    assert agent.link_of(tap) is None, "tap left after stop"
    assert_done(run_task(api, "vserver-stop", id=vid), agent)  # idempotent
    assert_done(run_task(api, "vserver-start", id=vid), agent)
    pid2 = agent.qemu_pid(vid)
    assert pid2 and pid2 != pid

    # ---- kill -9 of the agent: the guest keeps running, the new agent adopts it
    agent.kill9()
    time.sleep(1)
    assert pid_alive(pid2), "QEMU died with the agent"
    before = agent.log_text().count("re-attached to running QEMU")
    agent.start()
    w.wait_until(lambda: agent.log_text().count("re-attached to running QEMU") > before, 20, 0.2,
                 "agent re-attach")
    w.wait_until(lambda: node_state() == "online", 30, 0.2, "node online again")
    assert agent.qemu_pid(vid) == pid2
    assert_done(run_task(api, "vserver-pause", id=vid, wait=120), agent)
    assert_done(run_task(api, "vserver-resume", id=vid), agent)
    assert agent.qemu_pid(vid) == pid2

    # ---- QEMU killed: crashed, restarted with a new pid
    os.kill(pid2, signal.SIGKILL)
    w.wait_until(lambda: agent.qemu_pid(vid) not in (None, pid2), 30, 0.2, "QEMU restart")
    pid3 = agent.qemu_pid(vid)
    w.wait_until(lambda: f"vm-{vid}: event restarted" in agent.log_text(), 30, 0.2,
                 "restarted event")
    log = agent.log_text()
    assert f"vm-{vid}: event crashed" in log
    vcpus3 = [a for t, (c, a) in threads(pid3).items() if c.startswith("CPU ")]
    assert vcpus3 == ["1"], "the restarted QEMU is not pinned"
    w.wait_until(lambda: api.call("vserver-get", id=vid)["state"] == "running", 10, 0.2,
                 "running after restart")

    # ---- ACPI shutdown (the test guest powers off on the power button)
    if booting_iso:
        # The guest listens to the power button once booted (its NIC driver loads just before).
        mark = agent.log_text().rindex(f"vm-{vid}: event restarted")
        w.wait_until(lambda: "NIC_RX_FILTER_CHANGED" in agent.log_text()[mark:], 60, 0.2,
                     "the guest's NIC driver")
        time.sleep(2)
        task = run_task(api, "vserver-shutdown", id=vid, wait=120, timeout=20)
        if task["status"] == "failed":
            # Too early for the guest: the shutdown times out and nothing is forced.
            assert "did not power off" in task["info"], task
            assert pid_alive(pid3), "a timed-out shutdown must not kill the guest"
            assert api.call("vserver-get", id=vid)["state"] == "running"
            task = run_task(api, "vserver-shutdown", id=vid, wait=120, timeout=60)
        assert_done(task, agent)
        assert not pid_alive(pid3)
        assert api.call("vserver-get", id=vid)["state"] == "stopped"
    else:
        assert_done(run_task(api, "vserver-stop", id=vid), agent)
    assert agent.qemu_pid(vid) is None
    assert agent.link_of(tap) is None

    # ---- resize: RAM while stopped (the next QEMU gets it), the disk grows online
    r = api.call("vserver-resize", id=vid, ram_mb=384)
    assert r["ram_mb"] == 384 and r["state"] == "stopped", r
    assert_done(run_task(api, "vserver-start", id=vid), agent)
    pid4 = agent.qemu_pid(vid)
    with open(f"/proc/{pid4}/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    # under TCG 8 KiB more (nodeagent/qemu_cmdline.c: a QEMU < 9.0 migration bug)
    assert argv[argv.index(b"-m") + 1].split(b",")[0] in (b"384", b"384M", b"size=384M",
                                                          b"393224K"), argv
    assert_done(run_task(api, "vserver-resize", id=vid, disk_gb=2), agent)
    assert agent.qemu_pid(vid) == pid4, "growing the disk must not restart the guest"
    info = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", str(disk)],
                                     check=True, capture_output=True, text=True).stdout)
    assert info["virtual-size"] == 2 * 1024 ** 3, info
    assert_err(api.err("vserver-resize", id=vid, cores=2), "conflict", 409)  # running
    assert_done(run_task(api, "vserver-stop", id=vid), agent)

    # ---- park, unpark, delete: nothing left behind
    assert_done(run_task(api, "vserver-park", id=vid), agent)
    assert api.call("vserver-get", id=vid)["state"] == "parked"
    assert not (agent.state / "vms" / f"{vid}.json").exists(), "spec kept after park"
    assert_done(run_task(api, "vserver-unpark", id=vid), agent)
    assert_done(run_task(api, "vserver-delete", id=vid), agent)
    assert agent.qemu_pid(vid) is None
    assert agent.link_of(tap) is None
    assert not disk.exists(), "disk file left after delete"
    assert not (agent.state / "vms" / f"{vid}.json").exists()
    assert not (agent.run / f"vm-{vid}").exists()


def open_files(pid):
    """The files a process has open (the targets of /proc/PID/fd)."""
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return out


def test_template_backing_live_media_and_giving_up(env):
    """A disk created from a template is a qcow2 overlay of it; an ISO attached or detached
    while the guest runs changes QEMU's CD-ROM at once; a guest whose QEMU keeps dying is
    restarted with backoff a bounded number of times, then left stopped with a visible error."""
    stack, rack, agent, admin = env
    tree = w.make_tree(stack, admin)
    api = tree.cadmin.api
    w.wait_until(lambda: any(n["name"] == agent.name and n["state"] == "online"
                             for n in admin.items("node-list")), 30, 0.2, "node online")

    # ---- template backing: the template is an image on the node's storage
    template = agent.images / "tmpl-small.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(template), "64M"], check=True)
    vs = w.make_vserver(api, tree.customer["id"], cores=1, ram_mb=256, disk_gb=1,
                        template="tmpl-small")
    vid = vs["id"]
    assert_done(run_task(api, "vserver-start", id=vid), agent)
    disk = agent.images / f"vs-{vid}.qcow2"
    info = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", str(disk)],
                                     check=True, capture_output=True, text=True).stdout)
    assert info.get("backing-filename", "").endswith("tmpl-small.qcow2"), info
    assert info["virtual-size"] == 1024 ** 3, info

    # ---- live media: attach and detach while running, checked in QEMU's own block list
    if (stack.iso_dir / GUEST_ISO.name).is_file():
        admin.call("iso-rescan")
        iso = next(i for i in admin.items("iso-list") if i["name"] == GUEST_ISO.name)
        pid = agent.qemu_pid(vid)
        assert_done(run_task(api, "vserver-attach-iso", id=vid, iso_id=iso["id"]), agent)
        assert agent.qemu_pid(vid) == pid, "attaching an ISO must not restart the guest"
        assert api.call("vserver-get", id=vid)["iso"] is not None
        # QEMU opened the image in the running guest's CD-ROM drive...
        assert any(f.endswith(GUEST_ISO.name) for f in open_files(pid)), open_files(pid)
        assert_done(run_task(api, "vserver-detach-iso", id=vid), agent)
        assert agent.qemu_pid(vid) == pid, "detaching an ISO must not restart the guest"
        assert api.call("vserver-get", id=vid)["iso"] is None
        # ...and closed it again when it was ejected.
        w.wait_until(lambda: not any(f.endswith(GUEST_ISO.name) for f in open_files(pid)), 10,
                     0.2, "QEMU closing the ejected ISO")

    # ---- giving up: every QEMU killed at once; after the allowed restarts it stays down
    seen = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = api.call("vserver-get", id=vid)
        if state["state"] == "error":
            break
        pid = agent.qemu_pid(vid)
        if pid and pid not in seen:
            seen.add(pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)
    state = api.call("vserver-get", id=vid)
    assert state["state"] == "error", (state, agent.log_text()[-3000:])
    assert "restarts within" in (state.get("error") or ""), state
    assert len(seen) == 6, f"expected the first QEMU and 5 restarts, saw {len(seen)}"
    time.sleep(2)
    assert agent.qemu_pid(vid) is None, "a QEMU was started after giving up"
    # Started again by hand it runs: giving up is not a permanent ban.
    assert_done(run_task(api, "vserver-start", id=vid), agent)
    assert agent.qemu_pid(vid)
    assert_done(run_task(api, "vserver-delete", id=vid), agent)
    assert not disk.exists()
    assert template.is_file(), "deleting an overlay must keep its template"
