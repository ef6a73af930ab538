"""IDOR matrix: every get/update/delete op on every object kind of another
tenant answers not_found, and the object is unchanged afterwards."""

import pytest

import webrack_it as w
from webrack_it import make_account, make_user, make_vserver, uniq


class Victim:
    """A customer account with one object of every kind."""


def build_victim(stack, padmin, parent_id, parent_admin_api):
    v = Victim()
    v.account = make_account(parent_admin_api, parent_id, "customer")
    v.admin = make_user(stack, parent_admin_api, v.account["id"], role="admin")
    a = v.admin.api
    v.user = make_user(stack, a, v.account["id"], role="user")
    # vdc-create needs account.manage on the account's parent
    v.vdc = parent_admin_api.call("vdc-create", account_id=v.account["id"], name=uniq("vdc"))
    v.vserver = make_vserver(a, v.account["id"], vdc_id=v.vdc["id"])
    v.grant = a.call("grant", user_id=v.user.id, scope_type="vserver",
                     scope_id=v.vserver["id"], role="viewer")
    tok = v.admin.api.call("token-create", name=uniq("tok"), expires_days=7)
    v.token, v.token_secret = tok["token"], tok["secret"]
    tasks = [t for t in a.items("task-list", limit=100)
             if t["object_type"] == "vserver" and t["object_id"] == v.vserver["id"]]
    assert tasks, "no task row for the victim's vserver-create"
    v.task = tasks[0]
    return v


def snapshot(padmin, v):
    return {
        "account": padmin.call("account-get", id=v.account["id"]),
        "admin": padmin.call("user-get", id=v.admin.id),
        "user": padmin.call("user-get", id=v.user.id),
        "grants": sorted(padmin.items("grant-list", user_id=v.user.id), key=lambda g: g["id"]),
        "vserver": padmin.call("vserver-get", id=v.vserver["id"]),
        "vdc": padmin.call("vdc-get", id=v.vdc["id"]),
        "task": padmin.call("task-get", id=v.task["id"]),
        "vservers": sorted(w.ids(padmin.items("vserver-list", account_id=v.account["id"]))),
        "vdcs": sorted(w.ids(padmin.items("vdc-list", account_id=v.account["id"]))),
        "users": sorted(w.ids(padmin.items("user-list", account_id=v.account["id"]))),
        "children": sorted(w.ids(padmin.items("account-list", parent_id=v.account["id"]))),
    }


@pytest.fixture(scope="module")
def world(stack, padmin):
    """R1 (customers A and S) and R2 (customer B) under the provider."""
    pid = w.provider_id(padmin)
    x = Victim()
    x.r1 = make_account(padmin, pid, "reseller")
    x.r1admin = make_user(stack, padmin, x.r1["id"], role="admin")
    x.r2 = make_account(padmin, pid, "reseller")
    x.r2admin = make_user(stack, padmin, x.r2["id"], role="admin")
    x.a = make_account(x.r1admin.api, x.r1["id"], "customer")
    x.aadmin = make_user(stack, x.r1admin.api, x.a["id"], role="admin")
    x.auser = make_user(stack, x.aadmin.api, x.a["id"], role="user")
    x.avs = make_vserver(x.aadmin.api, x.a["id"])
    x.b = build_victim(stack, padmin, x.r2["id"], x.r2admin.api)
    x.s = build_victim(stack, padmin, x.r1["id"], x.r1admin.api)
    return x


ATTACKS = [
    ("customer A admin", "aadmin", "b"),
    ("customer A user", "auser", "b"),
    ("reseller R1 admin", "r1admin", "b"),
    ("customer A admin vs sibling S", "aadmin", "s"),
]


def attack_calls(x, v, attacker):
    """(op, params) of every call that must answer not_found."""
    me = attacker.id
    acc, usr = v.account["id"], v.user.id
    calls = [
        # account
        ("account-get", dict(id=acc)),
        ("account-update", dict(id=acc, name=uniq("pwned"))),
        ("account-update", dict(id=acc, quota_cores=1)),
        ("account-update", dict(id=acc, enabled=False)),
        ("account-delete", dict(id=acc)),
        ("account-list", dict(parent_id=acc)),
        ("user-list", dict(account_id=acc)),
        ("vdc-list", dict(account_id=acc)),
        ("vserver-list", dict(account_id=acc)),
        ("user-create", dict(account_id=acc, username=uniq("evil"),
                             password=w.new_password(), role="admin")),
        ("vdc-create", dict(account_id=acc, name=uniq("evil"))),
        ("vserver-create", dict(account_id=acc, name=uniq("evil"), cores=1, ram_mb=512,
                                disk_gb=10)),
        ("grant", dict(user_id=me, scope_type="account", scope_id=acc, role="admin")),
        # users
        ("user-get", dict(id=usr)),
        ("user-get", dict(id=v.admin.id)),
        ("user-update", dict(id=usr, display_name="pwned")),
        ("user-update", dict(id=v.admin.id, email="evil@example.org")),
        ("user-update", dict(id=usr, enabled=False)),
        ("user-delete", dict(id=usr)),
        ("user-set-password", dict(id=usr, password=w.new_password())),
        ("user-set-password", dict(id=v.admin.id, password=w.new_password())),
        ("grant-list", dict(user_id=usr)),
        ("totp-disable", dict(user_id=usr)),
        # grants
        ("revoke", dict(id=v.grant["id"])),
        # vServers
        ("vserver-get", dict(id=v.vserver["id"])),
        ("vserver-delete", dict(id=v.vserver["id"])),
        ("grant", dict(user_id=me, scope_type="vserver", scope_id=v.vserver["id"],
                       role="admin")),
        # vDCs
        ("vdc-get", dict(id=v.vdc["id"])),
        ("vdc-delete", dict(id=v.vdc["id"])),
        ("grant", dict(user_id=me, scope_type="vdc", scope_id=v.vdc["id"], role="admin")),
        # tasks
        ("task-get", dict(id=v.task["id"])),
        # tokens
        ("token-revoke", dict(id=v.token["id"])),
    ]
    if attacker is not x.auser:
        # calls on the attacker's own scope that it may manage: only the foreign
        # object is wrong (a plain user could be refused for its own scope first)
        calls += [
            ("grant", dict(user_id=usr, scope_type="account", scope_id=x.a["id"],
                           role="viewer")),
            ("vserver-create", dict(account_id=x.a["id"], vdc_id=v.vdc["id"],
                                    name=uniq("evil"), cores=1, ram_mb=512, disk_gb=10)),
        ]
    return calls


@pytest.mark.parametrize("label,attacker_attr,victim_attr", ATTACKS,
                         ids=[a[0] for a in ATTACKS])
def test_idor_matrix(stack, padmin, world, label, attacker_attr, victim_attr):
    x = world
    v = getattr(x, victim_attr)
    attacker = getattr(x, attacker_attr)
    before = snapshot(padmin, v)
    failures = []
    for op, params in attack_calls(x, v, attacker):
        try:
            res = attacker.api.call(op, **params)
        except w.ApiError as e:
            ok = {("not_found", 404)}
            if attacker is x.auser and op == "grant" and params["user_id"] == attacker.id:
                # a plain user may be refused first for lacking user.manage on itself;
                # that answer does not depend on the foreign scope
                ok.add(("denied", 403))
            if (e.code, e.http_status) not in ok:
                failures.append(f"{op} {params}: got {e.http_status} {e.code} "
                                f"({e.message}), expected 404 not_found")
            continue
        if op.endswith("-list"):
            # a list filtered on a foreign object may answer like a missing one: it
            # must not differ from the answer for an id that does not exist
            key = next(iter(params))
            try:
                ghost = attacker.api.call(op, **{key: 2 ** 52})
            except w.ApiError as e:
                ghost = f"error {e.code}"
            if res != {"items": []} or ghost != res:
                failures.append(f"{op} {params}: SUCCEEDED with {res!r} "
                                f"(missing id gives {ghost!r})")
            continue
        failures.append(f"{op} {params}: SUCCEEDED with {res!r}")
    after = snapshot(padmin, v)
    for k in before:
        if before[k] != after[k]:
            failures.append(f"victim's {k} changed: {before[k]!r} -> {after[k]!r}")
    # the victim's credentials and token still work
    tok = stack.api(token=v.token_secret)
    try:
        assert tok.whoami_user()["id"] == v.admin.id
    except Exception as e:  # noqa: BLE001
        failures.append(f"victim's token no longer works: {e}")
    if v.token["id"] not in w.ids(v.admin.api.items("token-list")):
        failures.append("victim's token vanished from token-list")
    try:
        stack.api().login(v.user.username, v.user.password)
    except w.ApiError as e:
        failures.append(f"victim user's password no longer works: {e}")
    # nothing was created in the attacker's own account from the victim's vDC
    evil = [vs for vs in padmin.items("vserver-list", account_id=x.a["id"])
            if vs["name"].startswith("evil-")]
    if evil:
        failures.append(f"vServers created in A with the victim's vDC: {evil}")
    assert failures == [], f"{label}:\n  " + "\n  ".join(failures)


@pytest.mark.parametrize("attacker_attr", ["aadmin", "auser", "r1admin"])
def test_lists_do_not_leak(stack, world, attacker_attr):
    x = world
    b = x.b
    api = getattr(x, attacker_attr).api
    accs = w.ids(api.items("account-list"))
    assert not accs & {b.account["id"], x.r2["id"]}, accs
    vss = w.ids(api.items("vserver-list"))
    assert b.vserver["id"] not in vss
    try:
        users = w.ids(api.items("user-list"))
        assert not users & {b.admin.id, b.user.id, x.r2admin.id}
    except w.ApiError as e:
        assert e.code == "denied", e
    tasks = api.items("task-list", limit=100)
    leaked = [t for t in tasks
              if (t["object_type"], t["object_id"]) in (("vserver", b.vserver["id"]),
                                                       ("account", b.account["id"]),
                                                       ("vdc", b.vdc["id"]),
                                                       ("user", b.user.id))
              or t.get("user_id") in (b.admin.id, x.r2admin.id)]
    assert not leaked, leaked
    try:
        vdcs = w.ids(api.items("vdc-list"))
        assert b.vdc["id"] not in vdcs
    except w.ApiError as e:
        assert e.code in ("invalid", "denied"), e  # vdc-list may require account_id
    try:
        audit = api.items("audit-list", limit=100)
        assert not [a for a in audit if a.get("user_id") in (b.admin.id, b.user.id,
                                                             x.r2admin.id)], audit
    except w.ApiError as e:
        assert e.code == "denied", e
    # A's own things are visible to A's admin
    if attacker_attr == "aadmin":
        assert x.avs["id"] in vss
