"""wrctl end to end: the real wrctl binary against a real webrackd + PostgreSQL (Stack), with an
API token, and a vServer lifecycle on a real node agent running QEMU (accel=tcg) in network
namespaces (prefix "wc").

Checked: GET /api/v1/ describes the whole operation table; token creation and use; the aliases
(list/info/create/delete/...) and the generic `wrctl OPERATION --param value` path; bad input is
refused with the schema's message and the documented exit codes; another tenant's vServer is
"not found" by id and by name; JSON output parses; help, completion, configuration file and
environment; task progress (plain lines, and a line redrawn in place on a terminal); and start,
pause, resume, stop, park, unpark, delete of a real QEMU guest through wrctl."""

import json
import os
import pty
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import webrack_it as w

REPO = Path(__file__).resolve().parents[2]
WRCTL = Path(os.environ.get("WRCTL", REPO / "soap" / "wrctl"))

# exit codes (man/wrctl.1)
OK, USAGE, INVALID, DENIED, NOT_FOUND, CONFLICT, UNAVAILABLE, TASK_FAILED = 0, 1, 2, 3, 4, 5, 6, 7


class Cli:
    """Runs the built wrctl with a private HOME (config and cache) and the stack's CA."""

    def __init__(self, stack, token, home):
        self.stack, self.token, self.home = stack, token, Path(home)

    def env(self, token=None, **extra):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("WEBRACK_", "WRCTL_", "XDG_"))}
        env.update(HOME=str(self.home), WEBRACK_URL=self.stack.url,
                   WEBRACK_CA=str(self.stack.dir / "cert.pem"))
        tok = self.token if token is None else token
        if tok:
            env["WEBRACK_TOKEN"] = tok
        env.update(extra)
        return env

    def run(self, *args, token=None, env=None, input=None, timeout=300):
        e = self.env(token=token, **(env or {}))
        r = subprocess.run([str(WRCTL), *map(str, args)], capture_output=True, text=True,
                           env=e, input=input, timeout=timeout)
        print(f"$ wrctl {' '.join(map(str, args))} -> {r.returncode}\n{r.stdout}{r.stderr}")
        return r

    def ok(self, *args, **kw):
        r = self.run(*args, **kw)
        assert r.returncode == OK, f"wrctl {args} exited {r.returncode}: {r.stderr}"
        return r

    def json(self, *args, **kw):
        return json.loads(self.ok("-o", "json", *args, **kw).stdout)

    def fails(self, code, *args, **kw):
        r = self.run(*args, **kw)
        assert r.returncode == code, \
            f"wrctl {args}: expected exit {code}, got {r.returncode}: {r.stdout}{r.stderr}"
        return r

    def on_tty(self, *args, timeout=300):
        """Run with stderr on a pseudo terminal; return (exit code, stdout, terminal bytes)."""
        master, slave = pty.openpty()
        p = subprocess.Popen([str(WRCTL), *map(str, args)], stdout=subprocess.PIPE,
                             stderr=slave, env=self.env(), text=False)
        os.close(slave)
        tty = b""
        deadline = time.monotonic() + timeout
        while True:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    chunk = b""
                if not chunk and p.poll() is not None:
                    break
                tty += chunk
            elif p.poll() is not None:
                break
            assert time.monotonic() < deadline, "wrctl on a tty did not finish"
        out = p.stdout.read().decode()
        p.wait(10)
        os.close(master)
        print(f"$ wrctl {' '.join(map(str, args))} (tty) -> {p.returncode}\n{out}{tty!r}")
        return p.returncode, out, tty


@pytest.fixture(scope="module")
def stack():
    st = w.Stack("wrctl", vnc_listen=f"127.0.0.1:{w.free_port()}")
    st.start()
    yield st
    st.stop()


@pytest.fixture(scope="module")
def home():
    with tempfile.TemporaryDirectory(prefix="wrctl-home-") as d:
        yield d


@pytest.fixture(scope="module")
def tenants(stack):
    admin = stack.admin()
    t = w.make_tree(stack, admin)
    other = w.make_tree(stack, admin)
    t.admin = admin
    t.other = other
    return t


@pytest.fixture(scope="module")
def cli(stack, tenants, home):
    """wrctl with the customer admin's API token, created with token-create."""
    r = tenants.cadmin.api.call("token-create", name=w.uniq("wrctl"), expires_days=1)
    assert r["secret"], r
    return Cli(stack, r["secret"], home)


# ---------------------------------------------------------------------------------------------
# the description


def test_describe_lists_every_operation(stack):
    r = w.http_get(f"{stack.url}/api/v1/")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json"
    body = r.json()
    assert body["ok"] is True
    desc = body["result"]
    names = [op["name"] for op in desc["ops"]]
    # the same table as the generated reference: one "## name" heading per operation
    dump = subprocess.run([str(w.WEBRACKD), "--dump-api"], capture_output=True, text=True,
                          check=True).stdout
    headings = [ln[3:].strip() for ln in dump.splitlines() if ln.startswith("## ")]
    assert names == headings
    ops = {op["name"]: op for op in desc["ops"]}
    p = {x["name"]: x for x in ops["vserver-create"]["params"]}
    assert p["cores"] == {"name": "cores", "type": "int", "type_name": "integer",
                          "required": True, "nullable": False, "min": 1, "max": 256,
                          "choices": None, "doc": "dedicated cores"}
    assert p["nic_model"]["type"] == "enum" and p["nic_model"]["choices"] == ["virtio", "e1000"]
    assert ops["vserver-create"]["mutates"] is True
    assert ops["login"]["public"] is True and "public" in ops["login"]["flags"]
    quota = {x["name"]: x for x in ops["account-update"]["params"]}["quota_cores"]
    assert quota["nullable"] is True
    # only GET
    with w.new_session() as s:
        assert s.post(f"{stack.url}/api/v1/", data=b"{}").status_code == 405


# ---------------------------------------------------------------------------------------------
# commands


def test_whoami_and_token(cli, tenants):
    me = cli.json("whoami")
    assert me["user"]["username"] == tenants.cadmin.username
    assert me["auth"] == "token", me["auth"]
    out = cli.ok("whoami").stdout
    assert f"user.username: {tenants.cadmin.username}" in out
    # tokens are only created from a session, never with a token
    r = cli.fails(DENIED, "token", w.uniq("ci"))
    assert "logged-in session" in r.stderr
    # so wrctl logs in for one run with --user (password on stdin), and the secret works
    tok = cli.json("--user", tenants.cadmin.username, "token", w.uniq("ci"),
                   "--expires-days", "2", input=tenants.cadmin.password + "\n")
    r = cli.fails(DENIED, "--user", tenants.cadmin.username, "whoami", input="wrong-pw\n")
    assert "login: unauthenticated" in r.stderr
    assert tok["secret"] and tok["token"]["name"].startswith("ci-")
    again = cli.json("whoami", token=tok["secret"])
    assert again["user"]["id"] == tenants.cadmin.id


def test_create_list_info_delete(cli, tenants):
    name = w.uniq("vs")
    created = cli.json("create", name, "--cores", 1, "--ram-mb", 256, "--disk-gb", 1)
    assert created["name"] == name
    assert created["account_id"] == tenants.customer["id"]  # the caller's own account
    items = cli.json("list")["items"]
    assert name in [v["name"] for v in items]
    table = cli.ok("list").stdout.splitlines()
    assert table[0].split() == ["ID", "NAME", "STATE", "CORES", "RAM_MB", "DISK_GB", "NODE",
                                "ISO"]
    row = next(ln for ln in table if f" {name} " in ln)
    assert row.split()[:6] == [str(created["id"]), name, "defined", "1", "256", "1"]
    info = cli.ok("info", name).stdout
    assert f"name: {name}" in info and f"id: {created['id']}" in info
    assert cli.json("info", created["id"])["name"] == name
    # resize while stopped, by name
    assert cli.json("resize", name, "--ram-mb", 384)["ram_mb"] == 384
    cli.ok("delete", name)
    cli.fails(NOT_FOUND, "info", name)
    cli.fails(NOT_FOUND, "info", created["id"])


def test_generic_operations(cli, tenants):
    name = w.uniq("gen")
    vs = cli.json("vserver-create", "--account-id", tenants.customer["id"], "--name", name,
                  "--cores", 1, "--ram-mb", 256, "--disk-gb", 1, "--nic-model", "e1000")
    assert vs["nic_model"] == "e1000"
    # names work for ids in generic operations too, and --id=... spelling
    assert cli.json("vserver-get", "--id", name)["id"] == vs["id"]
    assert cli.json("vserver-get", f"--id={vs['id']}")["name"] == name
    # required parameters in order, without names
    assert cli.json("vserver-get", vs["id"])["id"] == vs["id"]
    tokens = cli.json("token-list")["items"]
    assert tokens and all("secret" not in t for t in tokens)
    # the same call through --json
    assert cli.json("vserver-get", "--json", json.dumps({"id": vs["id"]}))["name"] == name
    cli.ok("vserver-delete", name)


def test_bad_input_and_exit_codes(cli, tenants, stack):
    r = cli.fails(INVALID, "create", w.uniq("b"), "--cores", "abc", "--ram-mb", 256,
                  "--disk-gb", 1)
    assert "parameter 'cores' must be an integer" in r.stderr
    r = cli.fails(INVALID, "create", w.uniq("b"), "--cores", 0, "--ram-mb", 256, "--disk-gb", 1)
    assert "parameter 'cores' must be between 1 and 256" in r.stderr
    r = cli.fails(INVALID, "create", w.uniq("b"), "--cores", 1, "--ram-mb", 256, "--disk-gb", 1,
                  "--nic-model", "rtl8139")
    assert "parameter 'nic_model' must be one of the documented values (virtio, e1000)" \
        in r.stderr
    r = cli.fails(INVALID, "create", w.uniq("b"), "--cores", 1)
    assert "missing parameter 'ram_mb'" in r.stderr
    r = cli.fails(INVALID, "tasks", "--limit", "ten")
    assert "parameter 'limit' must be an integer" in r.stderr
    r = cli.fails(INVALID, "tasks", "--limit", "0")
    assert "parameter 'limit' must be between 1 and 1000" in r.stderr
    # an id parameter takes a name instead: an unknown one is not found
    r = cli.fails(NOT_FOUND, "vserver-get", "--id", "no-such-vs")
    assert "no vServer named 'no-such-vs'" in r.stderr
    r = cli.fails(USAGE, "create", w.uniq("b"), "--colour", "red")
    assert "unknown option '--colour'" in r.stderr
    cli.fails(USAGE, "info", "a", "b")
    r = cli.fails(USAGE, "no-such-command")
    assert "unknown command" in r.stderr
    cli.fails(USAGE, "--output", "yaml", "list")
    # the server's own checks: quota (customer quota_cores 16) and name conflict
    r = cli.fails(CONFLICT, "create", w.uniq("q"), "--cores", 17, "--ram-mb", 256,
                  "--disk-gb", 1)
    assert "quota" in r.stderr
    name = w.uniq("dup")
    cli.ok("create", name, "--cores", 1, "--ram-mb", 256, "--disk-gb", 1)
    cli.fails(CONFLICT, "create", name, "--cores", 1, "--ram-mb", 256, "--disk-gb", 1)
    # duplicate names make a name ambiguous only where both are visible: not here
    cli.ok("delete", name)
    # credentials
    r = cli.fails(DENIED, "list", token="wrt_" + "x" * 40)
    assert "unauthenticated" in r.stderr
    cli.fails(DENIED, "list", env={"WEBRACK_TOKEN": ""}, token="")
    # denied: a customer admin may not create nodes' join tokens
    cli.fails(DENIED, "node-join-token-create", "--name", "n-x")
    # nothing listens there
    port = w.free_port()
    r = cli.fails(UNAVAILABLE, "--refresh", "list", env={"WEBRACK_URL": f"https://127.0.0.1:{port}"})
    assert "127.0.0.1" in r.stderr


def test_other_tenant_is_not_found(cli, tenants):
    theirs = w.make_vserver(tenants.other.cadmin.api, tenants.other.customer["id"])
    for args in (("info", theirs["id"]), ("info", theirs["name"]), ("start", theirs["id"]),
                 ("delete", theirs["name"]), ("vserver-get", "--id", theirs["id"])):
        r = cli.fails(NOT_FOUND, *args)
        assert "not found" in r.stderr or "no vServer named" in r.stderr
    assert theirs["name"] not in [v["name"] for v in cli.json("list")["items"]]
    # still there for its owner
    assert tenants.other.cadmin.api.call("vserver-get", id=theirs["id"])["name"] == theirs["name"]


def test_task_failure_and_no_wait(cli, tenants):
    # no node in this stack: the start task fails (exit 7) and says why
    name = w.uniq("nf")
    cli.ok("create", name, "--cores", 1, "--ram-mb", 256, "--disk-gb", 1)
    r = cli.fails(TASK_FAILED, "start", name)
    assert "vserver-start" in r.stderr and "failed" in r.stderr  # plain progress lines
    assert "\r" not in r.stderr and "\033" not in r.stderr
    assert "status: failed" in r.stdout
    r = cli.json("--no-wait", "start", name)
    assert isinstance(r["task_id"], int) and r["status"] in ("queued", "running")
    task = w.wait_until(lambda: (lambda t: t if t["status"] in ("done", "failed") else None)(
        cli.json("task", r["task_id"])), 60, 0.5, "the task to end")
    assert task["status"] == "failed"
    tasks = cli.json("tasks", "--object-type", "vserver", "--object-id", task["object_id"])["items"]
    assert r["task_id"] in [t["id"] for t in tasks]


def test_help_and_completion(cli):
    r = cli.ok("--help")
    assert "attach-iso VS ISO" in r.stdout and "Exit codes" in r.stdout
    r = cli.ok("help", "resize")
    assert "--disk-gb N" in r.stdout and "(operation vserver-resize)" in r.stdout
    assert "1..65536" in r.stdout
    r = cli.ok("help", "vserver-create")
    assert "--nic-model virtio|e1000" in r.stdout
    cli.fails(USAGE, "help", "nope")
    ops = cli.ok("ops").stdout
    assert "vserver-attach-iso" in ops and "task-list" in ops

    def complete(*words):
        return cli.ok("--complete", *words).stdout.split()

    assert {"resize", "resume", "reset"} <= set(complete("res"))
    assert "vserver-resize" in complete("vserver-res")
    assert set(complete("create", "--n")) == {"--name", "--nic-model", "--no-wait"}
    assert complete("create", "--nic-model", "") == ["virtio", "e1000"]
    assert complete("-o", "j") == ["json"]
    assert "--url" in complete("--u")


def test_config_file_and_cache(cli, stack, home):
    cfg_dir = Path(home) / "cfg"
    cfg_dir.mkdir(exist_ok=True)
    conf = cfg_dir / "wrctl.conf"
    conf.write_text(f'url = "{stack.url}"\ntoken = "{cli.token}"\n'
                    f'ca_file = "{stack.dir / "cert.pem"}"\noutput = json\n')
    conf.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBRACK_", "WRCTL_"))}
    env.update(HOME=home, WRCTL_CONFIG=str(conf))
    r = subprocess.run([str(WRCTL), "whoami"], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["user"]["id"]  # output = json from the file
    assert "may be read by other users" not in r.stderr
    conf.chmod(0o644)
    r = subprocess.run([str(WRCTL), "whoami"], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 0 and "may be read by other users" in r.stderr
    # a broken file: local error 9 with file:line
    conf.write_text("url = \ncolour = red\n")
    r = subprocess.run([str(WRCTL), "whoami"], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 9 and "wrctl.conf:2" in r.stderr, r.stderr
    # without a CA the self-signed controller is refused (exit 6), --insecure accepts it
    e = cli.env()
    del e["WEBRACK_CA"]
    r = subprocess.run([str(WRCTL), "--refresh", "whoami"], capture_output=True, text=True,
                       env=e, timeout=60)
    assert r.returncode == UNAVAILABLE, r.stderr
    r = subprocess.run([str(WRCTL), "--insecure", "--refresh", "whoami"], capture_output=True,
                       text=True, env=e, timeout=60)
    assert r.returncode == 0, r.stderr
    # the description cache: private file under ~/.cache/webrack
    cached = list((Path(home) / ".cache" / "webrack").glob("wrctl-ops-*.json"))
    assert cached and all(c.stat().st_mode & 0o077 == 0 for c in cached)


# ---------------------------------------------------------------------------------------------
# a real guest: node agent + QEMU in network namespaces

CONSOLE_PORT = 5903  # inside the node namespace
needs_root = pytest.mark.skipif(os.geteuid() != 0 or os.cpu_count() < 2,
                                reason="needs root and two CPUs")


@pytest.fixture(scope="module")
def node(stack, tenants):
    sys.path.insert(0, str(REPO / "tests" / "lib"))
    import netns
    from test_zz_agent_vm import Agent  # the same agent harness as the QEMU tests

    netns.cleanup_stale("wc")
    workdir = tempfile.mkdtemp(prefix="wca-", dir="/tmp")  # short: unix socket paths
    rack = netns.Rack(nodes=1, prefix="wc", dhcp=False,
                      forward_ports=[stack.port, stack.agent_port])
    agent = Agent(stack, rack, workdir)
    # the agent's console endpoint inside the node, reached from the controller via a relay
    relay_port = rack.reverse_relay("n1", CONSOLE_PORT)
    with open(agent.conf, "a") as f:
        f.write(f"console_listen = 127.0.0.1:{CONSOLE_PORT}\n"
                f"console_advertise = 127.0.0.1:{relay_port}\n")
    try:
        agent.join(tenants.admin)
        agent.start()
        w.wait_until(lambda: any(n["name"] == agent.name and n["state"] == "online"
                                 for n in tenants.admin.items("node-list")),
                     60, 0.2, "node online")
        yield agent
    finally:
        agent.terminate()
        rack.close()
        if not os.environ.get("WEBRACK_KEEP_TEST_DIRS"):
            subprocess.run(["rm", "-rf", workdir])


@needs_root
def test_lifecycle_on_a_real_guest(cli, tenants, node):
    api = tenants.cadmin.api
    name = w.uniq("life")
    vs = cli.json("create", name, "--cores", 1, "--ram-mb", 256, "--disk-gb", 1)

    def state():
        return api.call("vserver-get", id=vs["id"])["state"]

    # start on a terminal: the progress line is redrawn in place, the task ends done
    rc, out, tty = cli.on_tty("start", name)
    assert rc == OK, f"{out}\n{tty!r}\n{node.log_text()[-3000:]}"
    assert b"\r\x1b[K" in tty and b"vserver-start" in tty and b"done" in tty
    assert "status: done" in out
    assert state() == "running"
    pid = node.qemu_pid(vs["id"])
    assert pid, "no QEMU after wrctl start"
    assert cli.json("info", name)["node"] == node.name

    # console: a one-time ticket for people; screenshot: one frame through the console proxy
    out = cli.ok("console", name).stdout
    assert "vencrypt:  127.0.0.1:" in out and "password:  " in out and "browser:   " in out
    ticket = cli.json("console", name)
    assert ticket["ticket"] and ticket["vencrypt_port"] > 0
    png = Path(cli.home) / "shot.png"
    r = cli.run("screenshot", name, png, timeout=120)
    assert r.returncode == OK, f"{r.stderr}\n{node.log_text()[-3000:]}"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cli.fails(USAGE, "screenshot", name)

    for cmd, want in (("pause", "paused"), ("resume", "running"), ("stop", "stopped"),
                      ("park", "parked"), ("unpark", "stopped")):
        task = cli.json(cmd, name)
        assert task["status"] == "done", task
        assert state() == want, f"after wrctl {cmd}"
    assert node.qemu_pid(vs["id"]) is None
    # destroy is stop; on a stopped vServer it is a no-op that succeeds
    assert cli.json("destroy", name)["status"] == "done"

    r = cli.ok("delete", name)
    assert "status: done" in r.stdout
    cli.fails(NOT_FOUND, "info", name)
    assert not (node.images / f"vs-{vs['id']}.qcow2").exists()
