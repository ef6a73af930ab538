"""Cookie sessions: attributes, CSRF, logout, session id rotation."""

import webrack_it as w
from webrack_it import assert_err, make_user, uniq


def set_cookie_headers(r):
    return r.raw.headers.getlist("Set-Cookie")


def session_cookie_header(r):
    hs = [h for h in set_cookie_headers(r) if h.strip().startswith("wr_session=")]
    assert len(hs) == 1, f"expected one wr_session Set-Cookie, got {set_cookie_headers(r)}"
    return hs[0]


def test_cookie_attributes(stack, tree):
    u = make_user(stack, tree.cadmin.api, tree.customer["id"], role="viewer", login=False)
    a = stack.api()
    r = a.call_raw("login", dict(username=u.username, password=u.password), csrf=None)
    assert r.status_code == 200, r.text
    h = session_cookie_header(r)
    attrs = [x.strip() for x in h.split(";")]
    value = attrs[0].split("=", 1)[1]
    assert len(value) >= 32, f"session id too short: {value!r}"
    low = [x.lower() for x in attrs[1:]]
    assert "httponly" in low, h
    assert "secure" in low, h
    assert "samesite=strict" in low, h
    assert "path=/" in low, h
    body = r.json()["result"]
    assert isinstance(body["csrf_token"], str) and len(body["csrf_token"]) >= 16
    assert body["csrf_token"] != value
    assert body["totp_required"] is False and body["totp_enrol_required"] is False
    assert body["user"]["id"] == u.id
    # the session id never appears in the database in clear
    with stack.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM sessions WHERE user_id = %s", (u.id,))
        assert cur.fetchone()[0] == 1
        cur.execute("SELECT count(*) FROM sessions WHERE strpos(token_hash, %s) > 0",
                    (value,))
        assert cur.fetchone()[0] == 0, "session id stored in clear"


def test_csrf_required(stack, tree):
    api = tree.cadmin.api
    cid = tree.customer["id"]
    name = uniq("vs")
    params = dict(account_id=cid, name=name, cores=1, ram_mb=512, disk_gb=10)
    # no header
    r = api.call_raw("vserver-create", params, csrf=None)
    assert r.status_code == 403 and r.json()["error"]["code"] == "denied", r.text
    r = api.call_raw("account-list", {}, csrf=None)
    assert r.status_code == 403 and r.json()["error"]["code"] == "denied", r.text
    # empty and random header
    r = api.call_raw("vserver-create", params, csrf="")
    assert r.status_code == 403 and r.json()["error"]["code"] == "denied", r.text
    r = api.call_raw("vserver-create", params, csrf="x" * 43)
    assert r.status_code == 403 and r.json()["error"]["code"] == "denied", r.text
    # another session's (valid) token
    other = make_user(stack, api, cid, role="admin")
    r = api.call_raw("vserver-create", params, csrf=other.api.csrf)
    assert r.status_code == 403 and r.json()["error"]["code"] == "denied", r.text
    # a second session of the SAME user has its own token
    same = stack.api()
    same.login(tree.cadmin.username, tree.cadmin.password)
    assert same.csrf != api.csrf
    r = api.call_raw("vserver-create", params, csrf=same.csrf)
    assert r.status_code == 403 and r.json()["error"]["code"] == "denied", r.text
    assert name not in {v["name"] for v in api.items("vserver-list", account_id=cid)}
    # with the right token it works
    api.call("vserver-create", **params)
    assert name in {v["name"] for v in api.items("vserver-list", account_id=cid)}


def test_csrf_whoami_restores_token_login_totp_needs_it(stack, tree):
    """whoami is the one read-only call allowed without the header: it is how the portal gets
    its CSRF token back after a page reload. It must return exactly the session's token, and
    changes nothing. login-totp, like every other cookie call, needs the header."""
    u = make_user(stack, tree.cadmin.api, tree.customer["id"], role="viewer")
    r = u.api.call_raw("whoami", {}, csrf=None)
    assert r.status_code == 200, r.text
    assert r.json()["result"]["csrf_token"] == u.api.csrf
    step = w.fresh_step()
    en = u.api.call("totp-enrol")
    u.api.call("totp-confirm", code=w.totp_code(en["secret_base32"], step - 1))
    a = stack.api()
    assert a.login(u.username, u.password)["totp_required"] is True
    r = a.call_raw("login-totp", dict(code=w.totp_code(en["secret_base32"], step)), csrf=None)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "denied"), r.text
    # The code was not consumed by the refused call: with the header it still works.
    r = a.call_raw("login-totp", dict(code=w.totp_code(en["secret_base32"], step)))
    assert r.status_code == 200, r.text


def test_bearer_needs_no_csrf(stack, tree):
    tok = tree.cadmin.api.call("token-create", name=uniq("t"), expires_days=1)
    b = stack.api(token=tok["secret"])
    r = b.call_raw("vserver-create", dict(account_id=tree.customer["id"], name=uniq("vs"),
                                          cores=1, ram_mb=512, disk_gb=10), csrf=None)
    assert r.status_code == 200, r.text
    assert b.s.cookies.get("wr_session") is None


def test_no_session(stack):
    a = stack.api()
    assert_err(a.err("whoami"), "unauthenticated", 401)
    assert_err(a.err("account-list"), "unauthenticated", 401)
    a.set_cookie("A" * 43)
    a.csrf = "B" * 43
    assert_err(a.err("account-list"), "unauthenticated", 401)


def test_logout_invalidates(stack, tree):
    u = make_user(stack, tree.cadmin.api, tree.customer["id"], role="viewer")
    a = u.api
    cookie, csrf = a.cookie(), a.csrf
    assert cookie
    a.call("whoami")
    a.logout()
    assert_err(a.err("whoami"), "unauthenticated", 401)
    # replaying the old cookie + token does not revive the session
    b = stack.api()
    b.set_cookie(cookie)
    b.csrf = csrf
    assert_err(b.err("whoami"), "unauthenticated", 401)
    assert_err(b.err("account-list"), "unauthenticated", 401)
    # a new login works
    a.login(u.username, u.password)
    a.call("whoami")


def test_session_id_rotates_at_login(stack, tree):
    u = make_user(stack, tree.cadmin.api, tree.customer["id"], role="viewer", login=False)
    a = stack.api()
    planted = "F" * 43
    a.set_cookie(planted)  # session fixation attempt
    r = a.call_raw("login", dict(username=u.username, password=u.password), csrf=None)
    assert r.status_code == 200, r.text
    first = a.cookie()
    assert first and first != planted
    csrf1 = r.json()["result"]["csrf_token"]
    a.csrf = csrf1
    a.call("whoami")
    # logging in again on the same client gives a new id and a new token
    r = a.call_raw("login", dict(username=u.username, password=u.password), csrf=None)
    assert r.status_code == 200, r.text
    second = a.cookie()
    csrf2 = r.json()["result"]["csrf_token"]
    assert second != first and csrf2 != csrf1
    a.csrf = csrf2
    assert a.whoami_user()["id"] == u.id


def test_wrong_password_and_unknown_user(stack, tree):
    u = make_user(stack, tree.cadmin.api, tree.customer["id"], login=False)
    a = stack.api()
    e1 = a.err("login", username=u.username, password="wrong-" + u.password)
    assert_err(e1, "unauthenticated", 401)
    e2 = a.err("login", username=uniq("nobody"), password="whatever-123456")
    assert_err(e2, "unauthenticated", 401)
    assert e1.message == e2.message, "wrong password and unknown user must look the same"
    assert a.cookie() is None


def test_disabled_user_and_account(stack, tree):
    u = make_user(stack, tree.cadmin.api, tree.customer["id"], role="viewer")
    tree.cadmin.api.call("user-update", id=u.id, enabled=False)
    assert_err(u.api.err("whoami"), "unauthenticated", 401)
    assert_err(stack.api().err("login", username=u.username, password=u.password),
               "unauthenticated", 401)
    tree.cadmin.api.call("user-update", id=u.id, enabled=True)
    u.api.login(u.username, u.password)
    u.api.call("whoami")


def _age_session(stack, user_id, column, seconds):
    with stack.db() as conn, conn.cursor() as cur:
        cur.execute(f"UPDATE sessions SET {column} = {column} - make_interval(secs => %s) "
                    "WHERE user_id = %s", (seconds, user_id))
        assert cur.rowcount == 1
    conn.close()


def test_session_idle_timeout(stack, tree):
    u = make_user(stack, tree.cadmin.api, tree.customer["id"], role="viewer")
    u.api.call("whoami")
    idle = int(stack.conf["session_idle_timeout"])
    _age_session(stack, u.id, "last_seen", idle - 120)
    u.api.call("whoami")  # still inside the idle window, and this refreshes it
    _age_session(stack, u.id, "last_seen", idle + 60)
    assert_err(u.api.err("whoami"), "unauthenticated", 401)


def test_session_absolute_timeout(stack, tree):
    u = make_user(stack, tree.cadmin.api, tree.customer["id"], role="viewer")
    u.api.call("whoami")
    absolute = int(stack.conf["session_absolute_timeout"])
    # active all the time (last_seen fresh), but logged in too long ago
    _age_session(stack, u.id, "created_at", absolute + 60)
    assert_err(u.api.err("whoami"), "unauthenticated", 401)
