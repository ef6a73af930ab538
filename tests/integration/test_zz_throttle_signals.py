"""Login throttling, SIGHUP reload and SIGTERM. Each test runs its own stack
(own PostgreSQL + webrackd) with small limits, so the counters of the other
tests (all from 127.0.0.1) cannot interfere."""

import signal
import time

import pytest

import webrack_it as w
from webrack_it import uniq

LIMITS = dict(login_max_user_failures=5, login_max_ip_failures=12, login_window=60)


@pytest.fixture
def own_stack(request):
    conf = dict(LIMITS)
    conf.update(getattr(request.function, "stack_conf", {}))
    st = w.Stack(request.node.name[5:13], **conf)  # short: unix socket path limit
    st.start()
    yield st
    st.stop(check=True)


def provider_users(st, admin, n):
    pid = w.provider_id(admin)
    out = []
    for _ in range(n):
        out.append(w.make_user(st, admin, pid, login=False))
    return out


def login_status(st, username, password):
    r = st.api().call_raw("login", dict(username=username, password=password), csrf=None)
    try:
        code = r.json()["error"]["code"] if r.status_code != 200 else None
    except (ValueError, KeyError):
        code = None
    return r.status_code, code


def test_user_failures_throttle(own_stack):
    st = own_stack
    admin = st.admin()
    u, v = provider_users(st, admin, 2)
    for i in range(5):
        assert login_status(st, u.username, f"wrong-{i}") == (401, "unauthenticated"), i
    # the limit is reached: even the right password is refused without checking
    assert login_status(st, u.username, u.password) == (429, "throttled")
    assert login_status(st, u.username, "wrong-again") == (429, "throttled")
    # other users from the same address are not affected (5 < 12 per address)
    assert login_status(st, v.username, v.password) == (200, None)
    # sessions that exist keep working
    admin.call("whoami")
    # the failures are in the audit log
    rows = admin.items("audit-list", limit=100)
    assert [r for r in rows if r.get("username") == u.username and "fail" in r["event"]]


def test_ip_failures_throttle(own_stack):
    st = own_stack
    admin = st.admin()
    users = provider_users(st, admin, 7)
    victims, last = users[:6], users[6]
    n = 0
    for x in victims:
        assert login_status(st, x.username, "wrong-" + x.password) == (401, "unauthenticated")
        n += 1
        assert login_status(st, uniq("ghost"), "whatever-123") == (401, "unauthenticated")
        n += 1
    assert n == 12
    # 12 failures from 127.0.0.1 with 12 different usernames: the address is throttled
    assert login_status(st, last.username, last.password) == (429, "throttled")
    assert login_status(st, st.admin_username, st.admin_password) == (429, "throttled")
    admin.call("whoami")


def test_sighup_reload(own_stack):
    st = own_stack
    admin = st.admin()
    users = provider_users(st, admin, 6)
    pid = st.proc.pid

    st.reload(log_level="debug", login_max_user_failures=2)
    assert st.alive()
    code, body = st.healthz()
    assert code == 200, body

    # the new per-user limit applies without a restart (poll: the signal is
    # handled by the event loop, not synchronously with kill())
    deadline = time.monotonic() + 15
    applied = False
    for u in users:
        for i in range(2):
            assert login_status(st, u.username, f"bad-{i}") == (401, "unauthenticated")
        s = login_status(st, u.username, u.password)
        if s == (429, "throttled"):
            applied = True
            break
        assert s == (200, None), s
        assert time.monotonic() < deadline
    assert applied, "login_max_user_failures = 2 not applied after SIGHUP"
    assert st.proc.pid == pid and st.alive()
    admin.call("whoami")

    # a broken file on SIGHUP: webrackd keeps running with what it has
    good = st.conf_file.read_text()
    st.conf_file.write_text(good + "this is not = = valid\nno_such_key = 1\n")
    st.proc.send_signal(signal.SIGHUP)
    w.wait_until(lambda: st.healthz()[0] == 200, 10, what="healthz after a bad reload")
    assert st.alive()
    admin.call("whoami")
    st.conf_file.write_text(good)
    st.proc.send_signal(signal.SIGHUP)
    w.wait_until(lambda: st.healthz()[0] == 200, 10, what="healthz after reload")
    assert st.alive()


test_sighup_reload.stack_conf = dict(login_max_ip_failures=100, log_level="info")


def test_sigterm_exits_zero(own_stack):
    st = own_stack
    admin = st.admin()
    admin.call("whoami")
    t0 = time.monotonic()
    rc = st.terminate()
    took = time.monotonic() - t0
    assert rc == 0, f"webrackd exit status {rc} on SIGTERM\n{st.log_tail()}"
    assert took <= int(st.conf["drain_timeout"]) + 1, took
    with pytest.raises(Exception):
        st.api().call("whoami", _timeout=3)



def stored_hash(st, username):
    with st.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT password_hash FROM users WHERE lower(username) = lower(%s)",
                    (username,))
        return cur.fetchone()[0]


def test_rehash_after_argon2_change(own_stack):
    """OWASP parameters can be raised later: after SIGHUP with a new argon2 cost, the next
    successful login stores the password again with the new parameters; a failed one does not."""
    st = own_stack
    admin = st.admin()
    (u,) = provider_users(st, admin, 1)
    before = stored_hash(st, u.username)
    assert before.startswith("$argon2id$v=19$m=1024,"), before

    st.reload(argon2_memory_kib=2048, argon2_iterations=3)
    # The signal is handled by the loop: wait until a login writes the new parameters.
    assert login_status(st, u.username, "not-the-password") == (401, "unauthenticated")
    assert stored_hash(st, u.username) == before
    w.wait_until(lambda: login_status(st, u.username, u.password) == (200, None) and
                 stored_hash(st, u.username).startswith("$argon2id$v=19$m=2048,t=3,p=1$"),
                 timeout=15, what="rehash with the new argon2 parameters")
    # The rehashed password still works, and the old hash text is gone.
    assert login_status(st, u.username, u.password) == (200, None)
    assert stored_hash(st, u.username) != before
