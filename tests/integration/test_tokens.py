"""API tokens: Bearer use, privilege subsets, revocation, expiry value."""

import datetime

import webrack_it as w
from webrack_it import assert_err, make_user, make_vserver, uniq


def test_token_create_and_use(stack, tree):
    api = tree.cadmin.api
    name = uniq("tok")
    before = datetime.datetime.now(datetime.timezone.utc)
    r = api.call("token-create", name=name, expires_days=3)
    tok, secret = r["token"], r["secret"]
    assert tok["name"] == name
    assert isinstance(secret, str) and len(secret) >= 32
    exp = w.parse_ts(tok["expires_at"])
    expect = before + datetime.timedelta(days=3)
    assert abs((exp - expect).total_seconds()) < 3600, (tok["expires_at"], expect)
    assert tok.get("privileges") in (None, [])

    listed = {t["id"]: t for t in api.items("token-list")}
    assert tok["id"] in listed and listed[tok["id"]]["name"] == name
    assert secret not in str(listed), "token-list must not show secrets"
    with stack.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT token_hash FROM api_tokens WHERE id = %s", (tok["id"],))
        (h,) = cur.fetchone()
        assert secret not in h, "token stored in clear"
        cur.execute("SELECT count(*) FROM api_tokens WHERE strpos(token_hash, %s) > 0",
                    (secret,))
        assert cur.fetchone()[0] == 0

    b = stack.api(token=secret)
    assert b.whoami_user()["id"] == tree.cadmin.id
    assert tree.customer["id"] in w.ids(b.items("account-list"))
    vs = make_vserver(b, tree.customer["id"])
    assert vs["id"] in w.ids(api.items("vserver-list", account_id=tree.customer["id"]))
    # no Set-Cookie on bearer calls, and a token cannot be used as a cookie
    assert b.cookie() is None
    c = stack.api()
    c.set_cookie(secret)
    c.csrf = "x" * 43
    assert_err(c.err("whoami"), "unauthenticated", 401)


def test_token_expires_days_bounds(stack, tree):
    api = tree.cadmin.api
    for bad in (0, -1):
        assert_err(api.err("token-create", name=uniq("t"), expires_days=bad), "invalid", 400)
    r = api.call("token-create", name=uniq("t"), expires_days=1)
    exp = w.parse_ts(r["token"]["expires_at"])
    delta = exp - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(hours=23) < delta <= datetime.timedelta(days=1, minutes=5)


def test_privilege_restricted_token(stack, tree):
    cid = tree.customer["id"]
    api = tree.cadmin.api
    existing = make_vserver(api, cid)
    r = api.call("token-create", name=uniq("ro"), expires_days=1, privileges=["vserver.view"])
    assert r["token"]["privileges"] == ["vserver.view"]
    b = stack.api(token=r["secret"])
    assert existing["id"] in w.ids(b.items("vserver-list"))
    assert b.call("vserver-get", id=existing["id"])["id"] == existing["id"]
    name = uniq("vs")
    # without account.view the account itself is invisible to this token
    e = b.err("vserver-create", account_id=cid, name=name, cores=1, ram_mb=512, disk_gb=10)
    assert e.code in ("denied", "not_found"), e
    # the vServer is visible (vserver.view) but may not be changed
    assert_err(b.err("vserver-delete", id=existing["id"]), "denied", 403)
    # with account.view the account is visible: vserver.edit is missing -> denied
    r2 = api.call("token-create", name=uniq("ro2"), expires_days=1,
                  privileges=["account.view", "vserver.view"])
    b2 = stack.api(token=r2["secret"])
    assert cid in w.ids(b2.items("account-list"))
    assert_err(b2.err("vserver-create", account_id=cid, name=name, cores=1, ram_mb=512,
                      disk_gb=10), "denied", 403)
    assert_err(b2.err("user-create", account_id=cid, username=uniq("u"),
                      password=w.new_password()), "denied", 403)
    e = b.err("user-create", account_id=cid, username=uniq("u"), password=w.new_password())
    assert e.code in ("denied", "not_found"), e
    e = b.err("grant", user_id=tree.cadmin.id, scope_type="account", scope_id=cid,
              role="admin")
    assert e.code in ("denied", "not_found"), e
    assert name not in {v["name"] for v in api.items("vserver-list", account_id=cid)}
    assert api.call("vserver-get", id=existing["id"])["id"] == existing["id"]


def test_token_cannot_exceed_owner(stack, tree):
    cid = tree.customer["id"]
    viewer = make_user(stack, tree.cadmin.api, cid, role="viewer")
    try:
        r = viewer.api.call("token-create", name=uniq("t"), expires_days=1,
                            privileges=["vserver.edit", "account.manage", "user.manage"])
    except w.ApiError as e:
        assert e.code in ("invalid", "denied"), e
        return
    b = stack.api(token=r["secret"])
    name = uniq("vs")
    e = b.err("vserver-create", account_id=cid, name=name, cores=1, ram_mb=512, disk_gb=10)
    assert e.code in ("denied", "not_found"), e
    e = b.err("user-create", account_id=cid, username=uniq("u"), password=w.new_password())
    assert e.code in ("denied", "not_found"), e
    assert name not in {v["name"] for v in viewer.api.items("vserver-list", account_id=cid)}


def test_unknown_privilege_invalid(stack, tree):
    e = tree.cadmin.api.err("token-create", name=uniq("t"), expires_days=1,
                            privileges=["root.everything"])
    assert_err(e, "invalid", 400)
    e = tree.cadmin.api.err("token-create", name=uniq("t"), expires_days=1, privileges="x")
    assert_err(e, "invalid", 400)


def test_token_revoke(stack, tree):
    api = tree.cadmin.api
    r = api.call("token-create", name=uniq("t"), expires_days=1)
    b = stack.api(token=r["secret"])
    b.call("whoami")
    api.call("token-revoke", id=r["token"]["id"])
    assert_err(b.err("whoami"), "unauthenticated", 401)
    assert_err(b.err("account-list"), "unauthenticated", 401)
    # revoking twice / unknown id
    e = api.err("token-revoke", id=r["token"]["id"])
    assert e.code in ("not_found", "conflict"), e
    assert_err(api.err("token-revoke", id=2 ** 52), "not_found", 404)


def test_bad_bearer(stack):
    for h in ("Bearer ", "Bearer " + "A" * 43, "Bearer wr_" + "0" * 40, "Basic Zm9vOmJhcg=="):
        a = stack.api()
        r = a.post("whoami", data=b"{}", headers={"Authorization": h}, csrf=None)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated", \
            (h, r.status_code, r.text)


def test_token_of_colleague_is_private(stack, tree):
    cid = tree.customer["id"]
    u = make_user(stack, tree.cadmin.api, cid, role="viewer")
    r = u.api.call("token-create", name=uniq("t"), expires_days=1)
    # token-list shows only one's own tokens, even to an admin
    assert r["token"]["id"] not in w.ids(tree.cadmin.api.items("token-list"))
    assert w.ids(u.api.items("token-list")) == {r["token"]["id"]}
    e = tree.cadmin.api.err("token-revoke", id=r["token"]["id"])
    assert_err(e, "not_found", 404)
    stack.api(token=r["secret"]).call("whoami")


def test_expired_token(stack, tree):
    # expires_days is at least 1: age the row in the database instead of waiting
    r = tree.cadmin.api.call("token-create", name=uniq("t"), expires_days=1)
    b = stack.api(token=r["secret"])
    b.call("whoami")
    with stack.db() as conn, conn.cursor() as cur:
        cur.execute("UPDATE api_tokens SET expires_at = now() - interval '1 minute' "
                    "WHERE id = %s", (r["token"]["id"],))
        assert cur.rowcount == 1
    conn.close()
    assert_err(b.err("whoami"), "unauthenticated", 401)
    assert_err(b.err("account-list"), "unauthenticated", 401)
