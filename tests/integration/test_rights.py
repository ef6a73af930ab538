"""Grants: a right on one vServer only, denied vs not_found, no escalation."""

import webrack_it as w
from webrack_it import assert_err, make_user, make_vserver, uniq


def test_colleague_on_one_vserver(stack, tree):
    cid = tree.customer["id"]
    admin = tree.cadmin.api
    v1 = make_vserver(admin, cid, name=uniq("v1"))
    v2 = make_vserver(admin, cid, name=uniq("v2"))
    colleague = make_user(stack, admin, cid)  # no role: no grant yet
    other = make_user(stack, admin, cid, login=False)

    # before the grant the colleague sees nothing
    assert colleague.api.items("vserver-list") == []
    assert_err(colleague.api.err("vserver-get", id=v1["id"]), "not_found", 404)

    g = admin.call("grant", user_id=colleague.id, scope_type="vserver", scope_id=v1["id"],
                   role="user")
    assert (g["user_id"], g["scope_type"], g["scope_id"], g["role"]) == \
        (colleague.id, "vserver", v1["id"], "user")
    assert g["id"] in w.ids(admin.items("grant-list", user_id=colleague.id))
    # the grantee may list its own grants
    assert w.ids(colleague.api.items("grant-list")) == {g["id"]}

    vl = colleague.api.items("vserver-list")
    assert [v["id"] for v in vl] == [v1["id"]], vl
    assert colleague.api.call("vserver-get", id=v1["id"])["name"] == v1["name"]
    assert_err(colleague.api.err("vserver-get", id=v2["id"]), "not_found", 404)

    accounts = colleague.api.items("account-list")
    assert cid not in w.ids(accounts) and accounts == [], accounts
    assert_err(colleague.api.err("account-get", id=cid), "not_found", 404)

    try:
        users = colleague.api.items("user-list")
        # nothing but (at most) itself: every user may read itself
        assert w.ids(users) <= {colleague.id}, users
    except w.ApiError as e:
        assert_err(e, "denied", 403)
    assert_err(colleague.api.err("user-get", id=admin_id(tree)), "not_found", 404)

    # cannot grant anything on the vServer it uses, nor on the account
    e = colleague.api.err("grant", user_id=other.id, scope_type="vserver", scope_id=v1["id"],
                          role="user")
    assert e.code in ("denied", "not_found"), e
    e = colleague.api.err("grant", user_id=colleague.id, scope_type="vserver",
                          scope_id=v1["id"], role="admin")
    assert e.code in ("denied", "not_found"), e
    e = colleague.api.err("grant", user_id=colleague.id, scope_type="account", scope_id=cid,
                          role="admin")
    assert e.code in ("denied", "not_found"), e
    assert admin.items("grant-list", user_id=other.id) == []
    assert w.ids(admin.items("grant-list", user_id=colleague.id)) == {g["id"]}

    # the user role has no vserver.edit: deleting v1 is denied (visible), v2 not found
    assert_err(colleague.api.err("vserver-delete", id=v1["id"]), "denied", 403)
    assert_err(colleague.api.err("vserver-delete", id=v2["id"]), "not_found", 404)
    assert_err(colleague.api.err("vserver-create", account_id=cid, name=uniq("x"), cores=1,
                                 ram_mb=512, disk_gb=10), "not_found", 404)

    # task log: only v1's tasks
    tasks = colleague.api.items("task-list", limit=100)
    assert tasks, "the colleague should see v1's creation task"
    assert any((t["object_type"], t["object_id"]) == ("vserver", v1["id"]) for t in tasks)
    for t in tasks:
        # v1's own tasks, and the grant given on v1
        assert (t["object_type"], t["object_id"]) in (("vserver", v1["id"]),
                                                      ("grant", g["id"])), t
    all_tasks = admin.items("task-list", limit=100)
    assert any(t["object_id"] == v2["id"] and t["object_type"] == "vserver" for t in all_tasks)

    # revoke: the vServer disappears again
    admin.call("revoke", id=g["id"])
    assert colleague.api.items("vserver-list") == []
    assert_err(colleague.api.err("vserver-get", id=v1["id"]), "not_found", 404)


def admin_id(tree):
    return tree.cadmin.id


def test_vdc_scoped_grant(stack, tree):
    cid = tree.customer["id"]
    vdc = tree.radmin.api.call("vdc-create", account_id=cid, name=uniq("vdc"))
    inside = make_vserver(tree.cadmin.api, cid, vdc_id=vdc["id"])
    outside = make_vserver(tree.cadmin.api, cid)
    u = make_user(stack, tree.cadmin.api, cid)
    tree.cadmin.api.call("grant", user_id=u.id, scope_type="vdc", scope_id=vdc["id"],
                         role="viewer")
    assert w.ids(u.api.items("vserver-list")) == {inside["id"]}
    assert_err(u.api.err("vserver-get", id=outside["id"]), "not_found", 404)


def test_no_escalation(stack, tree):
    cid = tree.customer["id"]
    op = make_user(stack, tree.cadmin.api, cid, role="operator")
    viewer = make_user(stack, tree.cadmin.api, cid, role="viewer")
    target = make_user(stack, tree.cadmin.api, cid, login=False)

    # an operator holds no user.manage: it cannot grant admin (nor anything)
    for who in (op, viewer):
        for role in ("admin", "operator", "viewer"):
            assert_err(who.api.err("grant", user_id=target.id, scope_type="account",
                                   scope_id=cid, role=role), "denied", 403)
        assert_err(who.api.err("grant", user_id=who.id, scope_type="account", scope_id=cid,
                               role="admin"), "denied", 403)
    assert tree.cadmin.api.items("grant-list", user_id=target.id) == []
    assert {g["role"] for g in tree.cadmin.api.items("grant-list", user_id=op.id)} == \
        {"operator"}
    # the operator still cannot do admin things
    assert_err(op.api.err("user-create", account_id=cid, username=uniq("u"),
                          password=w.new_password(), role="admin"), "denied", 403)
    assert_err(viewer.api.err("user-create", account_id=cid, username=uniq("u"),
                              password=w.new_password()), "denied", 403)
    assert_err(op.api.err("account-update", id=cid, quota_cores=1), "denied", 403)
    # the operator can edit vServers; the viewer cannot
    vs = make_vserver(op.api, cid)
    assert_err(viewer.api.err("vserver-create", account_id=cid, name=uniq("v"), cores=1,
                              ram_mb=512, disk_gb=10), "denied", 403)
    assert_err(viewer.api.err("vserver-delete", id=vs["id"]), "denied", 403)

    # a customer admin cannot grant on its parent reseller, nor change its own quota
    assert_err(tree.cadmin.api.err("grant", user_id=target.id, scope_type="account",
                                   scope_id=tree.reseller["id"], role="viewer"),
               "not_found", 404)
    assert_err(tree.cadmin.api.err("account-update", id=cid, quota_cores=1000), "denied", 403)
    # a user cannot raise its own rights by user-update, nor move itself
    op.api.call("user-update", id=op.id, display_name="me")
    assert {g["role"] for g in tree.cadmin.api.items("grant-list", user_id=op.id)} == \
        {"operator"}
    for extra in (dict(role="admin"), dict(account_id=tree.reseller["id"])):
        e = op.api.err("user-update", id=op.id, **extra)
        assert e.code in ("invalid", "denied"), e
        e = tree.cadmin.api.err("user-update", id=tree.cadmin.id, **extra)
        assert e.code in ("invalid", "denied"), e
    assert tree.radmin.api.call("user-get", id=tree.cadmin.id)["account_id"] == cid
    # a reseller admin cannot make itself (or its users) provider admin
    pid = tree.reseller["parent_id"]
    assert_err(tree.radmin.api.err("grant", user_id=tree.radmin.id, scope_type="account",
                                   scope_id=pid, role="admin"), "not_found", 404)
    assert {g["scope_id"] for g in tree.radmin.api.items("grant-list",
                                                          user_id=tree.radmin.id)} == \
        {tree.reseller["id"]}


def test_vserver_admin_stays_on_its_vserver(stack, tree):
    cid = tree.customer["id"]
    admin = tree.cadmin.api
    v1 = make_vserver(admin, cid)
    v2 = make_vserver(admin, cid)
    boss = make_user(stack, admin, cid)
    other = make_user(stack, admin, cid, login=False)
    admin.call("grant", user_id=boss.id, scope_type="vserver", scope_id=v1["id"], role="admin")
    # user.manage on v1 only: nothing on the account or on v2
    for scope_type, scope_id in (("account", cid), ("vserver", v2["id"])):
        for uid in (boss.id, other.id):
            e = boss.api.err("grant", user_id=uid, scope_type=scope_type, scope_id=scope_id,
                             role="viewer")
            # refused for the grantee (no user.manage on the account's users) or for
            # the scope (invisible): either way before looking at the other
            assert e.code in ("denied", "not_found"), e
    assert {(g["scope_type"], g["scope_id"]) for g in admin.items("grant-list",
                                                                  user_id=boss.id)} == \
        {("vserver", v1["id"])}
    assert admin.items("grant-list", user_id=other.id) == []
    assert_err(boss.api.err("account-update", id=cid, quota_cores=1), "not_found", 404)
    assert_err(boss.api.err("user-create", account_id=cid, username=uniq("u"),
                            password=w.new_password()), "not_found", 404)


def test_grant_scope_outside_grantee_subtree(stack, tree):
    # a customer user must not get a grant on the reseller account (outside its subtree)
    cu = make_user(stack, tree.radmin.api, tree.customer["id"], login=False)
    e = tree.radmin.api.err("grant", user_id=cu.id, scope_type="account",
                            scope_id=tree.reseller["id"], role="viewer")
    assert e.code in ("denied", "invalid", "conflict"), e
    assert tree.radmin.api.items("grant-list", user_id=cu.id) == []


def test_revoke_needs_user_manage(stack, tree):
    cid = tree.customer["id"]
    op = make_user(stack, tree.cadmin.api, cid, role="operator")
    v = make_user(stack, tree.cadmin.api, cid, role="viewer")
    gid = tree.cadmin.api.items("grant-list", user_id=v.id)[0]["id"]
    e = op.api.err("revoke", id=gid)
    assert e.code in ("denied", "not_found"), e
    assert gid in w.ids(tree.cadmin.api.items("grant-list", user_id=v.id))
    # revoking your own admin grant as the only way to escalate downwards is fine,
    # but a viewer cannot revoke the admin's grant
    ag = tree.radmin.api.items("grant-list", user_id=tree.cadmin.id)[0]["id"]
    e = v.api.err("revoke", id=ag)
    assert e.code in ("denied", "not_found"), e
    assert ag in w.ids(tree.radmin.api.items("grant-list", user_id=tree.cadmin.id))
