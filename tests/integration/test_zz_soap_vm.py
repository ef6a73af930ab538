"""A full vServer lifecycle driven only through SOAP (a zeep client built from /soap?wsdl, a
WS-Security UsernameToken) against the real stack: a webrack-node joined in a network
namespace (prefix "ws") runs the guest as a real QEMU (accel=tcg). create, start, waitTask,
pause, resume, stop, resize (RAM while stopped, disk as a task), park, unpark, delete; every
step is checked against what the agent and QEMU really did.

Needs root, two CPUs and qemu-system-x86 (like test_zz_agent_vm.py, whose Agent it reuses)."""

import os
import subprocess
import tempfile

import pytest

import soap_it as s
import webrack_it as w
from test_zz_agent_vm import Agent, netns

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or os.cpu_count() < 2,
                                reason="needs root and two CPUs")


@pytest.fixture(scope="module")
def env():
    netns.cleanup_stale("ws")
    workdir = tempfile.mkdtemp(prefix="wsa-", dir="/tmp")  # short: unix socket paths
    stack = w.Stack("soapvm")
    stack.start()
    rack = netns.Rack(nodes=1, prefix="ws", dhcp=False,
                      forward_ports=[stack.port, stack.agent_port])
    agent = Agent(stack, rack, workdir)
    admin = stack.admin()
    try:
        agent.join(admin)
        agent.start()
        yield stack, rack, agent, admin
    finally:
        agent.terminate()
        rack.close()  # also kills the QEMUs left in the namespace
        if not os.environ.get("WEBRACK_KEEP_TEST_DIRS"):
            subprocess.run(["rm", "-rf", workdir])
        stack.stop(check=False)


def wait_task(c, agent, res, timeout=120):
    """waitTask on the task an operation queued; it must end done."""
    assert res.status == "queued", res
    k = c.service.waitTask(id=res.taskId, timeoutSeconds=timeout)
    assert k.status == "done", f"{k}\n--- agent log ---\n{agent.log_text()[-3000:]}"
    return k


def test_soap_vserver_lifecycle(env):
    stack, rack, agent, admin = env
    tree = w.make_tree(stack, admin)
    c = s.client(stack, tree.cadmin.username, tree.cadmin.password, timeout=180)

    def node_state():
        return {n["name"]: n["state"] for n in admin.items("node-list")}.get(agent.name)

    w.wait_until(lambda: node_state() == "online", 30, 0.2, "node online")

    vs = c.service.createVServer(accountId=tree.customer["id"], name=s.uniq("soapvm"),
                                 cores=1, ramMb=256, diskGb=1)
    vid = vs.id
    assert vs.state == "defined" and vs.nodeId is None

    # start: placed, disk created, QEMU running
    k = wait_task(c, agent, c.service.startVServer(id=vid))
    assert k.action == "vserver-start" and k.objectId == vid
    got = c.service.getVServer(id=vid)
    assert got.state == "running" and got.node == agent.name and len(got.macs) == 1
    pid = agent.qemu_pid(vid)
    assert pid, "no QEMU after startVServer"
    assert (agent.images / f"vs-{vid}.qcow2").is_file()

    # pause / resume: same QEMU, state follows
    wait_task(c, agent, c.service.pauseVServer(id=vid))
    assert c.service.getVServer(id=vid).state == "paused"
    wait_task(c, agent, c.service.resumeVServer(id=vid))
    assert c.service.getVServer(id=vid).state == "running"
    assert agent.qemu_pid(vid) == pid

    wait_task(c, agent, c.service.stopVServer(id=vid))
    assert c.service.getVServer(id=vid).state == "stopped"
    w.wait_until(lambda: agent.qemu_pid(vid) is None, 30, 0.2, "QEMU gone after stop")

    # resize: RAM while stopped answers the vServer; a disk grow is a task
    r = c.service.resizeVServer(id=vid, ramMb=384)
    assert r.ramMb == 384 and r.taskId is None
    r = c.service.resizeVServer(id=vid, diskGb=2)
    assert r.taskId is not None
    wait_task(c, agent, r)
    assert c.service.getVServer(id=vid).diskGb == 2

    # park releases the cores, unpark places it again (stopped)
    wait_task(c, agent, c.service.parkVServer(id=vid))
    got = c.service.getVServer(id=vid)
    assert got.state == "parked" and got.nodeId is None
    wait_task(c, agent, c.service.unparkVServer(id=vid))
    assert c.service.getVServer(id=vid).state == "stopped"

    # delete: a task (it has a disk), then the vServer is gone everywhere
    res = c.service.deleteVServer(id=vid)
    wait_task(c, agent, res)
    s.expect_fault("Client.NotFound", c.service.getVServer, id=vid)
    assert not (agent.images / f"vs-{vid}.qcow2").exists()
    actions = [k.action for k in c.service.listTasks(objectType="vserver", objectId=vid)]
    for a in ("vserver-create", "vserver-start", "vserver-pause", "vserver-resume",
              "vserver-stop", "vserver-resize", "vserver-park", "vserver-unpark",
              "vserver-delete"):
        assert a in actions, (a, actions)
