"""PostgreSQL killed under a running webrackd: 503 unavailable at once, and
recovery without a restart. Runs on its own stack."""

import time

import pytest
import requests

import webrack_it as w


@pytest.fixture(scope="module")
def ostack():
    st = w.Stack("outage")
    st.start()
    yield st
    st.stop(check=True)


def quick_call(api, op, **params):
    """(elapsed seconds, status, code) of one call with a 5 s client timeout."""
    t0 = time.monotonic()
    try:
        r = api.call_raw(op, params, timeout=5)
    except requests.RequestException as e:
        return time.monotonic() - t0, None, repr(e)
    took = time.monotonic() - t0
    try:
        code = r.json()["error"]["code"] if r.status_code != 200 else "ok"
    except (ValueError, KeyError, TypeError):
        code = r.text[:100]
    return took, r.status_code, code


def test_postgres_killed_and_back(ostack):
    st = ostack
    admin = st.admin()
    pid_acc = w.provider_id(admin)
    acc = w.make_account(admin, pid_acc, "reseller")
    token = admin.call("token-create", name="outage", expires_days=1)["secret"]
    bearer = st.api(token=token)
    pid = st.proc.pid
    assert st.healthz()[0] == 200

    st.pg_kill()

    # API calls answer 503 unavailable quickly: cookie, bearer and anonymous
    for who, api, op in (("cookie", admin, "account-list"), ("bearer", bearer, "whoami"),
                         ("anonymous", st.api(), "login")):
        params = dict(username="x-user", password="y-password-1") if op == "login" else {}
        took, status, code = quick_call(api, op, **params)
        assert (status, code) == (503, "unavailable"), (who, took, status, code)
        assert took < 5, (who, took)
    t0 = time.monotonic()
    try:
        r = w.http_get(f"{st.url}/healthz", timeout=5)
    except requests.RequestException as e:
        pytest.fail(f"/healthz did not answer within 5 s: {e!r}")
    assert r.status_code == 503, (r.status_code, r.text)
    assert time.monotonic() - t0 < 5
    # repeated calls stay fast (no piling up on a dead connection)
    for _ in range(5):
        took, status, code = quick_call(admin, "whoami")
        assert (status, code) == (503, "unavailable") and took < 5, (took, status, code)
    assert st.alive(), "webrackd died when PostgreSQL went away\n" + st.log_tail()

    st.conninfo = st.pg_start()

    def back():
        took, status, code = quick_call(admin, "account-get", id=acc["id"])
        return status == 200

    # backoff is capped at 5 s: recovery well within 30 s
    w.wait_until(back, 30, 0.2, "API to recover after PostgreSQL restart")
    assert st.proc.pid == pid and st.alive(), "webrackd must recover without a restart"
    assert st.healthz()[0] == 200
    # the session and the token from before the outage still work (data survived)
    assert admin.call("account-get", id=acc["id"])["name"] == acc["name"]
    assert bearer.whoami_user()["account_id"] == pid_acc
    # and new logins and writes work
    a2 = st.admin()
    w.make_account(a2, pid_acc, "reseller")


def test_second_outage_and_stop_while_down(ostack):
    """A second outage behaves the same; SIGTERM while PostgreSQL is down exits 0."""
    st = ostack
    admin = st.admin()
    st.pg_kill()
    took, status, code = quick_call(admin, "account-list")
    assert (status, code) == (503, "unavailable") and took < 5, (took, status, code)
    assert st.alive()
    rc = st.terminate()
    assert rc == 0, f"exit status {rc} on SIGTERM while PostgreSQL is down\n{st.log_tail()}"
