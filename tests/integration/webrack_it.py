"""Helpers of the webrack integration tests: a private stack (PostgreSQL via
scripts/pgcluster + a real webrackd), a JSON API client and tenant builders.

Only the standard library, python3-requests and python3-psycopg2 (Debian
packages) are used; run the suite with /usr/bin/python3 -m pytest.
"""

import atexit
import base64
import datetime
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import requests
import urllib3

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

REPO = Path(__file__).resolve().parents[2]
WEBRACKD = Path(os.environ.get("WEBRACKD", REPO / "controller" / "webrackd"))
PGCLUSTER = Path(os.environ.get("PGCLUSTER", REPO / "scripts" / "pgcluster"))
TEST_VAR = REPO / "var" / "test"

# Every stack that is running, so that a failing test can show the daemon's log
# and an interrupted run still stops its PostgreSQL clusters (atexit).
ACTIVE_STACKS = []
# Callables returning [(title, text), ...] that a failing test's report shows as well (e.g. the
# guests' serial consoles of a rack: tests/integration/test_zz_migration.py).
FAILURE_REPORTERS = []

DEFAULT_CONF = {
    "log_level": "debug",
    "max_body_bytes": 65536,
    "session_idle_timeout": 1800,
    "session_absolute_timeout": 43200,
    "login_max_user_failures": 5,
    "login_max_ip_failures": 500,
    "login_window": 60,
    "argon2_memory_kib": 1024,
    "argon2_iterations": 1,
    "workers": 2,
    "drain_timeout": 5,
}


# --------------------------------------------------------------------------
# small utilities


def uniq(prefix="t"):
    """A name unique to this call (tests never share objects)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def new_password():
    return f"Pw-{uuid.uuid4().hex}-aZ9!"


def wait_until(pred, timeout, interval=0.05, what="condition"):
    """Poll pred() until it returns a truthy value; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - re-raised in the message
            last_exc = e
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}"
                + (f" (last error: {last_exc!r})" if last_exc else ""))
        time.sleep(interval)


def free_port():
    """A TCP port nobody listens on right now (bind probe on 127.0.0.1)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_ts(v):
    """A timestamp of the API (ISO 8601 string or epoch number) as aware datetime."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return datetime.datetime.fromtimestamp(v, datetime.timezone.utc)
    assert isinstance(v, str), f"timestamp {v!r} is neither string nor number"
    s = v.strip().replace(" ", "T", 1)
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    # PostgreSQL style "+00" offsets
    if len(s) >= 3 and s[-3] in "+-" and s[-2:].isdigit() and ":" not in s[-3:]:
        s = s + ":00"
    d = datetime.datetime.fromisoformat(s)
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.timezone.utc)
    return d


def path_ids(path):
    """accounts.path as a list of ints, whether the API gives a list or a string."""
    if isinstance(path, list):
        return [int(x) for x in path]
    assert isinstance(path, str), f"path {path!r}"
    out, cur = [], ""
    for ch in path:
        if ch.isdigit():
            cur += ch
        elif cur:
            out.append(int(cur))
            cur = ""
    if cur:
        out.append(int(cur))
    return out


# --------------------------------------------------------------------------
# TOTP (RFC 6238 / RFC 4226), standard library only

TOTP_STEP = 30


def totp_code(secret_base32, step=None, digits=6):
    if step is None:
        step = current_step()
    s = secret_base32.strip().replace(" ", "").upper()
    s += "=" * (-len(s) % 8)
    key = base64.b32decode(s)
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    val = struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF
    return str(val % (10 ** digits)).zfill(digits)


def current_step():
    return int(time.time()) // TOTP_STEP


def fresh_step(margin=4):
    """The current TOTP step, first waiting out the last `margin` seconds of a
    step so that a test using steps c-1..c+1 never straddles a boundary."""
    left = TOTP_STEP - (time.time() % TOTP_STEP)
    if left < margin:
        time.sleep(left + 0.05)
    return current_step()


def wrong_code(secret, step):
    """A 6-digit code that is valid for none of the steps around `step`."""
    valid = {totp_code(secret, s) for s in range(step - 3, step + 4)}
    for cand in ("000000", "123456", "999999", "424242", "111111"):
        if cand not in valid:
            return cand
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------
# JSON API client


def new_session():
    """A requests session for the self-signed test server: no verification and
    no environment (REQUESTS_CA_BUNDLE would override verify=False, a proxy
    variable would send 127.0.0.1 elsewhere)."""
    s = requests.Session()
    s.trust_env = False
    s.verify = False
    return s


def http_get(url, timeout=5):
    with new_session() as s:
        return s.get(url, timeout=timeout)



class ApiError(Exception):
    def __init__(self, code, http_status, message, body=None, op=None):
        super().__init__(f"{op}: HTTP {http_status} {code}: {message}")
        self.code = code
        self.http_status = http_status
        self.message = message
        self.body = body
        self.op = op


_DEFAULT = object()


class Api:
    """A client of /api/v1. Cookie sessions keep the CSRF token of the last
    login and send it automatically; Api(token=...) uses a Bearer token."""

    def __init__(self, base_url, token=None, timeout=30):
        self.base = base_url.rstrip("/")
        self.s = new_session()
        self.csrf = None
        self.token = token
        self.timeout = timeout
        self.user = None

    # raw access -----------------------------------------------------------
    def post(self, op, data=b"", csrf=_DEFAULT, headers=None, timeout=None, **kw):
        h = {"Content-Type": "application/json"}
        if self.token is not None:
            h["Authorization"] = f"Bearer {self.token}"
        if csrf is _DEFAULT:
            csrf = self.csrf
        if csrf is not None:
            h["X-CSRF-Token"] = csrf
        if headers:
            h.update(headers)
        return self.s.post(f"{self.base}/api/v1/{op}", data=data, headers=h,
                           timeout=timeout or self.timeout, **kw)

    def call_raw(self, op, params=None, **kw):
        body = json.dumps({} if params is None else params)
        return self.post(op, data=body.encode(), **kw)

    @staticmethod
    def result_of(r, op=None):
        try:
            body = r.json()
        except ValueError:
            raise ApiError(None, r.status_code, r.text[:300], None, op) from None
        if r.status_code == 200 and isinstance(body, dict) and body.get("ok") is True:
            return body.get("result")
        err = body.get("error") if isinstance(body, dict) else None
        if not isinstance(err, dict):
            raise ApiError(None, r.status_code, f"malformed error body {body!r}", body, op)
        raise ApiError(err.get("code"), r.status_code, err.get("message"), body, op)

    def call(self, op, _csrf=_DEFAULT, _timeout=None, **params):
        r = self.call_raw(op, params, csrf=_csrf, timeout=_timeout)
        return self.result_of(r, op)

    def err(self, op, **params):
        """Call op expecting failure; return the ApiError."""
        try:
            res = self.call(op, **params)
        except ApiError as e:
            return e
        raise AssertionError(f"{op} {params!r} unexpectedly succeeded: {res!r}")

    # sessions -------------------------------------------------------------
    def login(self, username, password, totp=None):
        p = {"username": username, "password": password}
        if totp is not None:
            p["totp"] = totp
        r = self.call("login", _csrf=None, **p)
        self.csrf = r.get("csrf_token")
        self.user = r.get("user")
        return r

    def login_totp(self, code):
        r = self.call("login-totp", code=code)
        if isinstance(r, dict) and r.get("csrf_token"):
            self.csrf = r["csrf_token"]
        return r

    def logout(self):
        return self.call("logout")

    def cookie(self):
        return self.s.cookies.get("wr_session")

    def set_cookie(self, value):
        self.s.cookies.clear()
        if value is not None:
            self.s.cookies.set("wr_session", value, domain="127.0.0.1", path="/")

    def whoami_user(self):
        r = self.call("whoami")
        if isinstance(r, dict) and isinstance(r.get("user"), dict):
            return r["user"]
        return r

    def items(self, op, **params):
        r = self.call(op, **params)
        assert isinstance(r, dict) and isinstance(r.get("items"), list), \
            f"{op} did not return {{items: [...]}}: {r!r}"
        return r["items"]


def assert_err(e, code, status):
    assert isinstance(e, ApiError), e
    assert (e.code, e.http_status) == (code, status), \
        f"{e.op}: expected {status} {code}, got {e.http_status} {e.code} ({e.message})"


# --------------------------------------------------------------------------
# a private stack: PostgreSQL cluster + webrackd


class Stack:
    def __init__(self, name="main", **conf):
        self.name = name
        self.conf = dict(DEFAULT_CONF)
        self.conf.update(conf)
        self.dir = None
        self.proc = None
        self.port = None
        self.conninfo = None
        self.admin_username = uniq("padmin")
        self.admin_password = new_password()
        self._logf = None
        self.pg_running = False

    # paths ------------------------------------------------------------------
    @property
    def pgdir(self):
        return self.dir / "pg"

    @property
    def iso_dir(self):
        d = self.dir / "isos"
        d.mkdir(exist_ok=True)
        return d

    @property
    def conf_file(self):
        return self.dir / "webrackd.conf"

    @property
    def log_file(self):
        return self.dir / "webrackd.log"

    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}"

    # lifecycle --------------------------------------------------------------
    def start(self):
        assert WEBRACKD.is_file() and os.access(WEBRACKD, os.X_OK), \
            f"{WEBRACKD} is not built (run make first)"
        TEST_VAR.mkdir(parents=True, exist_ok=True)
        for p in (REPO / "var", TEST_VAR):
            os.chmod(p, os.stat(p).st_mode | 0o055)  # postgres must traverse
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=TEST_VAR))
        os.chmod(self.dir, 0o755)
        ACTIVE_STACKS.append(self)
        try:
            self.conninfo = self.pg_start()
            self._make_cert()
            self.write_conf()
            self._run_tool(["--init-ca", "-c", str(self.conf_file)], "--init-ca")
            self._run_tool(["--migrate", "-c", str(self.conf_file)], "--migrate")
            env = dict(os.environ, WEBRACK_ADMIN_PASSWORD=self.admin_password)
            self._run_tool(["--create-admin", self.admin_username, "-c", str(self.conf_file)],
                           "--create-admin", env=env)
            self.launch()
        except BaseException:
            self.stop(check=False)
            raise
        return self

    def pg_start(self):
        r = subprocess.run([str(PGCLUSTER), "start", str(self.pgdir)], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, f"pgcluster start failed ({r.returncode}): {r.stderr}"
        self.pg_running = True
        lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
        assert lines, f"pgcluster start printed no conninfo: {r.stdout!r}"
        return lines[-1].strip()

    def pg_kill(self):
        r = subprocess.run([str(PGCLUSTER), "kill", str(self.pgdir)], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, f"pgcluster kill failed: {r.stderr}"
        self.pg_running = False

    def pg_stop(self):
        r = subprocess.run([str(PGCLUSTER), "stop", str(self.pgdir)], capture_output=True,
                           text=True, timeout=120)
        self.pg_running = False
        return r

    def _make_cert(self):
        key, crt = self.dir / "key.pem", self.dir / "cert.pem"
        r = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", str(key), "-out", str(crt), "-days", "2",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
            capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"openssl failed: {r.stderr}"
        os.chmod(key, 0o600)
        self.conf["tls_cert"] = str(crt)
        self.conf["tls_key"] = str(key)

    def write_conf(self):
        if self.port is None:
            self.port = free_port()
            self.agent_port = free_port()
        c = dict(self.conf)
        c["listen"] = f"127.0.0.1:{self.port}"
        c["db"] = self.conninfo
        c["www_dir"] = str(REPO / "www")
        c["sql_dir"] = str(REPO / "sql")
        c["ca_cert"] = str(self.dir / "ca.crt")
        c["ca_key"] = str(self.dir / "ca.key")
        c["iso_dir"] = str(self.iso_dir)
        c.setdefault("agent_listen", f"127.0.0.1:{self.agent_port}")
        c.setdefault("rrd_dir", str(self.dir / "rrd"))
        lines = ["# written by tests/integration"]
        for k, v in c.items():
            if isinstance(v, str):
                v = '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
            elif isinstance(v, bool):
                v = "yes" if v else "no"
            lines.append(f"{k} = {v}")
        self.conf_file.write_text("\n".join(lines) + "\n")

    def _run_tool(self, args, what, env=None):
        r = subprocess.run([str(WEBRACKD)] + args, capture_output=True, text=True,
                           timeout=180, env=env)
        assert r.returncode == 0, \
            f"webrackd {what} exited {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"

    def launch(self):
        """Start webrackd in the foreground (stderr to the log) and wait for /healthz."""
        self._logf = open(self.log_file, "ab")
        self.proc = subprocess.Popen([str(WEBRACKD), "-c", str(self.conf_file)],
                                     stdin=subprocess.DEVNULL, stdout=self._logf,
                                     stderr=subprocess.STDOUT)

        def healthy():
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"webrackd exited with {self.proc.returncode} during start-up\n"
                    + self.log_tail())
            return self.healthz(timeout=2)[0] == 200

        try:
            wait_until(healthy, 30, 0.05, "webrackd /healthz")
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.log_tail()}") from None

    def healthz(self, timeout=5):
        try:
            r = http_get(f"{self.url}/healthz", timeout=timeout)
        except requests.RequestException as e:
            return (None, repr(e))
        try:
            return (r.status_code, r.json())
        except ValueError:
            return (r.status_code, r.text)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def terminate(self):
        """SIGTERM webrackd and return its exit status (None if it hung)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=int(self.conf["drain_timeout"]) + 5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode

    def stop(self, check=True):
        """Stop webrackd (SIGTERM) and PostgreSQL, remove the directory.
        With check, fail unless webrackd exited 0 within drain_timeout."""
        rc = "not started"
        msg = ""
        try:
            if self.proc is not None:
                already = self.proc.poll() is not None
                rc = self.terminate()
                if check and rc != 0:
                    msg = (f"webrackd ({self.name}) "
                           + ("had already exited" if already else "on SIGTERM")
                           + f": exit status {rc} (expected 0 within drain_timeout)\n"
                           + self.log_tail())
        finally:
            if self.pg_running or (self.dir and self.pgdir.exists()):
                self.pg_stop()
            if self._logf:
                self._logf.close()
            if self in ACTIVE_STACKS:
                ACTIVE_STACKS.remove(self)
            if self.dir and self.dir.exists() and not os.environ.get("WEBRACK_KEEP_TEST_DIRS"):
                shutil.rmtree(self.dir, ignore_errors=True)
        if msg:
            raise AssertionError(msg)

    def log_tail(self, lines=150):
        try:
            data = self.log_file.read_text(errors="replace").splitlines()
        except OSError:
            return "(no webrackd log)"
        return f"--- webrackd log ({self.name}), last {min(lines, len(data))} lines ---\n" + \
            "\n".join(data[-lines:])

    def reload(self, **changes):
        """Rewrite the config with changes and send SIGHUP."""
        self.conf.update(changes)
        self.write_conf()
        self.proc.send_signal(signal.SIGHUP)

    # clients ----------------------------------------------------------------
    def api(self, token=None):
        return Api(self.url, token=token)

    def admin(self):
        a = self.api()
        a.login(self.admin_username, self.admin_password)
        return a

    def db(self):
        import psycopg2
        return psycopg2.connect(self.conninfo)


@atexit.register
def _stop_leftovers():
    for st in list(ACTIVE_STACKS):
        try:
            st.stop(check=False)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


# --------------------------------------------------------------------------
# tenant builders


class Actor:
    """A user with its password and (optionally) a logged-in client."""

    def __init__(self, user, username, password, api=None):
        self.user = user
        self.username = username
        self.password = password
        self.api = api

    @property
    def id(self):
        return self.user["id"]


QUOTAS = {
    "reseller": dict(quota_cores=64, quota_ram_mb=262144, quota_disk_gb=10000, quota_vservers=50),
    "customer": dict(quota_cores=16, quota_ram_mb=65536, quota_disk_gb=1000, quota_vservers=10),
}


def provider_id(admin_api):
    return admin_api.whoami_user()["account_id"]


def make_account(api, parent_id, type_, name=None, **kw):
    params = dict(QUOTAS[type_])
    params.update(kw)
    return api.call("account-create", parent_id=parent_id, name=name or uniq(type_),
                    type=type_, **params)


def make_user(stack, api, account_id, role=None, login=True, **kw):
    username = uniq("u")
    password = new_password()
    params = dict(account_id=account_id, username=username, password=password)
    if role is not None:
        params["role"] = role
    params.update(kw)
    user = api.call("user-create", **params)
    a = None
    if login:
        a = stack.api()
        a.login(username, password)
    return Actor(user, username, password, a)


class Tree:
    """provider -> reseller -> customer, each with an admin."""


def make_tree(stack, padmin, customer_quotas=None, reseller_quotas=None):
    t = Tree()
    t.provider_id = provider_id(padmin)
    t.reseller = make_account(padmin, t.provider_id, "reseller", **(reseller_quotas or {}))
    t.radmin = make_user(stack, padmin, t.reseller["id"], role="admin")
    t.customer = make_account(t.radmin.api, t.reseller["id"], "customer",
                              **(customer_quotas or {}))
    t.cadmin = make_user(stack, t.radmin.api, t.customer["id"], role="admin")
    return t


def make_vserver(api, account_id, name=None, cores=1, ram_mb=512, disk_gb=10, **kw):
    return api.call("vserver-create", account_id=account_id, name=name or uniq("vs"),
                    cores=cores, ram_mb=ram_mb, disk_gb=disk_gb, **kw)


def ids(items):
    return {x["id"] for x in items}
