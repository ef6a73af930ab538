"""TOTP second factor: enrol, confirm, login flow, replay, disable, require_2fa."""

import base64
from urllib.parse import parse_qs, unquote, urlparse

import webrack_it as w
from webrack_it import assert_err, make_account, make_user, totp_code, wrong_code


def enrol(actor, step):
    """Enrol and confirm TOTP for actor with the code of `step`; return the secret."""
    r = actor.api.call("totp-enrol")
    actor.api.call("totp-confirm", code=totp_code(r["secret_base32"], step))
    return r["secret_base32"]


def test_enrol_and_confirm(stack, tree):
    u = make_user(stack, tree.cadmin.api, tree.customer["id"], role="viewer")
    r = u.api.call("totp-enrol")
    secret = r["secret_base32"]
    assert len(base64.b32decode(secret + "=" * (-len(secret) % 8))) >= 16, "secret < 128 bit"
    uri = urlparse(r["otpauth_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp"), r["otpauth_uri"]
    q = parse_qs(uri.query)
    assert q["secret"] == [secret]
    assert u.username in unquote(uri.path)
    png = base64.b64decode(r["qr_png_base64"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"

    # not enabled before confirmation
    assert u.api.call("user-get", id=u.id)["totp_enabled"] is False
    step = w.fresh_step()
    e = u.api.err("totp-confirm", code=wrong_code(secret, step))
    assert e.code in ("invalid", "unauthenticated", "denied"), e
    assert u.api.call("user-get", id=u.id)["totp_enabled"] is False
    # a login still needs no second factor
    assert stack.api().login(u.username, u.password)["totp_required"] is False

    u.api.call("totp-confirm", code=totp_code(secret, step))
    assert u.api.call("user-get", id=u.id)["totp_enabled"] is True
    assert tree.cadmin.api.call("user-get", id=u.id)["totp_enabled"] is True
    # the secret is never shown again
    assert "totp_secret" not in u.api.call("user-get", id=u.id)


def test_login_flow_and_replay(stack, tree):
    u = make_user(stack, tree.cadmin.api, tree.customer["id"], role="viewer")
    step = w.fresh_step()
    secret = enrol(u, step - 1)

    a = stack.api()
    r = a.login(u.username, u.password)
    assert r["totp_required"] is True
    pending_cookie, pending_csrf = a.cookie(), a.csrf
    assert pending_cookie
    # the pending session can only call login-totp, logout, whoami
    assert_err(a.err("account-list"), "unauthenticated", 401)
    assert_err(a.err("vserver-list"), "unauthenticated", 401)
    assert_err(a.err("token-create", name="x", expires_days=1), "unauthenticated", 401)
    a.call("whoami")
    # wrong code
    assert_err(a.err("login-totp", code=wrong_code(secret, step)), "unauthenticated", 401)

    b = stack.api()
    b.login(u.username, u.password)
    r = b.login_totp(totp_code(secret, step))
    full_cookie = b.cookie()
    assert full_cookie != pending_cookie
    b.call("account-list")
    assert b.whoami_user()["id"] == u.id

    # the pending session is replaced by a new one: the old id is dead
    c = stack.api()
    c.login(u.username, u.password)
    old_pending, old_csrf = c.cookie(), c.csrf
    c.login_totp(totp_code(secret, step + 1))
    assert c.cookie() != old_pending, "session id must change at login-totp"
    assert c.csrf != old_csrf, "CSRF token must change at login-totp"
    c.call("account-list")
    d = stack.api()
    d.set_cookie(old_pending)
    d.csrf = old_csrf
    assert_err(d.err("account-list"), "unauthenticated", 401)
    e = d.err("whoami")
    assert_err(e, "unauthenticated", 401)

    # replay: step+1 was used, so neither it nor older steps work again
    for s in (step + 1, step, step - 1):
        x = stack.api()
        assert x.login(u.username, u.password)["totp_required"] is True
        assert_err(x.err("login-totp", code=totp_code(secret, s)), "unauthenticated", 401)
        assert_err(x.err("account-list"), "unauthenticated", 401)
    # the first pending session a is still pending, and its token is not b's
    assert_err(a.err("account-list"), "unauthenticated", 401)
    assert pending_csrf != b.csrf


def test_login_with_totp_parameter(stack, tree):
    u = make_user(stack, tree.cadmin.api, tree.customer["id"], role="viewer")
    step = w.fresh_step()
    secret = enrol(u, step - 1)
    a = stack.api()
    # outside the +-1 step window
    e = a.err("login", username=u.username, password=u.password,
              totp=totp_code(secret, step + 3))
    assert_err(e, "unauthenticated", 401)
    r = a.login(u.username, u.password, totp=totp_code(secret, step))
    assert r["totp_required"] is False
    a.call("account-list")
    # same code again: replay
    b = stack.api()
    e = b.err("login", username=u.username, password=u.password, totp=totp_code(secret, step))
    assert_err(e, "unauthenticated", 401)
    assert_err(b.err("account-list"), "unauthenticated", 401)
    # wrong code
    e = b.err("login", username=u.username, password=u.password,
              totp=wrong_code(secret, step))
    assert_err(e, "unauthenticated", 401)


def test_totp_disable_self(stack, tree):
    u = make_user(stack, tree.cadmin.api, tree.customer["id"], role="viewer")
    step = w.fresh_step()
    secret = enrol(u, step - 1)
    u.api.login(u.username, u.password, totp=totp_code(secret, step))
    e = u.api.err("totp-disable", code=wrong_code(secret, step))
    assert e.code in ("invalid", "unauthenticated", "denied"), e
    assert u.api.call("user-get", id=u.id)["totp_enabled"] is True
    u.api.call("totp-disable", code=totp_code(secret, step + 1))
    assert u.api.call("user-get", id=u.id)["totp_enabled"] is False
    assert stack.api().login(u.username, u.password)["totp_required"] is False


def test_totp_disable_by_admin(stack, tree):
    u = make_user(stack, tree.cadmin.api, tree.customer["id"], role="viewer")
    peer = make_user(stack, tree.cadmin.api, tree.customer["id"], role="operator")
    step = w.fresh_step()
    enrol(u, step)
    # a colleague without user.manage cannot switch it off
    e = peer.api.err("totp-disable", user_id=u.id)
    assert e.code in ("denied", "not_found"), e
    assert tree.cadmin.api.call("user-get", id=u.id)["totp_enabled"] is True
    tree.cadmin.api.call("totp-disable", user_id=u.id)
    assert tree.cadmin.api.call("user-get", id=u.id)["totp_enabled"] is False
    assert stack.api().login(u.username, u.password)["totp_required"] is False


def test_require_2fa(stack, tree):
    acc = make_account(tree.radmin.api, tree.reseller["id"], "customer", require_2fa=True)
    assert acc["require_2fa"] is True
    u = make_user(stack, tree.radmin.api, acc["id"], role="admin", login=False)
    a = stack.api()
    r = a.login(u.username, u.password)
    assert r["totp_enrol_required"] is True
    for op, params in (("account-list", {}), ("vserver-list", {}),
                       ("user-list", {}), ("token-create", dict(name="x", expires_days=1))):
        e = a.err(op, **params)
        assert e.code in ("unauthenticated", "denied"), e
    a.call("whoami")
    step = w.fresh_step()
    en = a.call("totp-enrol")
    a.call("totp-confirm", code=totp_code(en["secret_base32"], step))
    assert tree.radmin.api.call("user-get", id=u.id)["totp_enabled"] is True
    b = stack.api()
    assert b.login(u.username, u.password)["totp_required"] is True
    b.login_totp(totp_code(en["secret_base32"], step + 1))
    assert acc["id"] in w.ids(b.items("account-list"))

    # switching require_2fa on for an existing account restricts its users' new sessions
    c = make_user(stack, tree.cadmin.api, tree.customer["id"], role="viewer", login=False)
    tree.radmin.api.call("account-update", id=tree.customer["id"], require_2fa=True)
    x = stack.api()
    assert x.login(c.username, c.password)["totp_enrol_required"] is True
    e = x.err("account-list")
    assert e.code in ("unauthenticated", "denied"), e
    tree.radmin.api.call("account-update", id=tree.customer["id"], require_2fa=False)
