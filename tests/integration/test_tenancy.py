"""Account tree, users, quotas and account deletion."""

import webrack_it as w
from webrack_it import assert_err, make_account, make_user, make_vserver, uniq


def test_full_tenant_tree(stack, padmin, provider_id):
    prov = padmin.call("account-get", id=provider_id)
    assert prov["type"] == "provider"
    assert prov["parent_id"] is None

    rname = uniq("reseller")
    r = padmin.call("account-create", parent_id=provider_id, name=rname, type="reseller",
                    quota_cores=32, quota_ram_mb=65536, quota_disk_gb=2000, quota_vservers=20)
    for k in ("id", "parent_id", "name", "type", "path", "quota_cores", "quota_ram_mb",
              "quota_disk_gb", "quota_vservers", "require_2fa", "enabled", "created_at"):
        assert k in r, f"account result lacks {k}: {r}"
    assert (r["name"], r["type"], r["parent_id"]) == (rname, "reseller", provider_id)
    assert (r["quota_cores"], r["quota_ram_mb"], r["quota_disk_gb"], r["quota_vservers"]) == \
        (32, 65536, 2000, 20)
    assert r["enabled"] is True and r["require_2fa"] is False
    assert w.path_ids(r["path"]) == [provider_id, r["id"]]
    w.parse_ts(r["created_at"])

    radmin = make_user(stack, padmin, r["id"], role="admin", email="r@example.org",
                       display_name="Reseller Admin")
    u = radmin.user
    for k in ("id", "account_id", "username", "email", "display_name", "enabled",
              "totp_enabled", "created_at"):
        assert k in u, f"user result lacks {k}: {u}"
    assert (u["account_id"], u["username"], u["email"], u["display_name"]) == \
        (r["id"], radmin.username, "r@example.org", "Reseller Admin")
    assert u["enabled"] is True and u["totp_enabled"] is False
    assert not [k for k in u if "pass" in k or "hash" in k or "secret" in k], u

    me = radmin.api.whoami_user()
    assert (me["id"], me["account_id"]) == (u["id"], r["id"])

    # the reseller admin builds its customer
    cname = uniq("customer")
    c = radmin.api.call("account-create", parent_id=r["id"], name=cname, type="customer",
                        quota_cores=8, quota_ram_mb=16384, quota_disk_gb=500, quota_vservers=5)
    assert (c["parent_id"], c["type"]) == (r["id"], "customer")
    assert w.path_ids(c["path"]) == [provider_id, r["id"], c["id"]]
    cadmin = make_user(stack, radmin.api, c["id"], role="admin")
    colleague = make_user(stack, cadmin.api, c["id"], role="viewer")

    # listings by level
    r_sees = w.ids(radmin.api.items("account-list"))
    assert c["id"] in r_sees
    assert provider_id not in r_sees
    c_sees = w.ids(cadmin.api.items("account-list"))
    assert c["id"] in c_sees
    assert not c_sees & {provider_id, r["id"]}, c_sees
    assert w.ids(radmin.api.items("account-list", parent_id=r["id"])) == {c["id"]}

    # provider sees everything
    assert {r["id"], c["id"]} <= w.ids(padmin.items("account-list"))

    # upwards is invisible
    assert_err(cadmin.api.err("account-get", id=r["id"]), "not_found", 404)
    assert_err(cadmin.api.err("account-get", id=provider_id), "not_found", 404)
    assert_err(radmin.api.err("account-get", id=provider_id), "not_found", 404)

    # users per account
    assert w.ids(cadmin.api.items("user-list", account_id=c["id"])) == \
        {cadmin.id, colleague.id}
    assert w.ids(radmin.api.items("user-list", account_id=c["id"])) == \
        {cadmin.id, colleague.id}
    assert radmin.id not in w.ids(cadmin.api.items("user-list"))


def test_account_type_rules(stack, tree):
    e = tree.radmin.api.err("account-create", parent_id=tree.customer["id"], name=uniq("c"),
                            type="customer", quota_cores=1, quota_ram_mb=512,
                            quota_disk_gb=10, quota_vservers=1)
    assert e.code in ("invalid", "conflict"), e
    e = tree.radmin.api.err("account-create", parent_id=tree.reseller["id"], name=uniq("r"),
                            type="reseller")
    assert e.code in ("invalid", "conflict"), e
    assert_err(tree.radmin.api.err("account-create", parent_id=tree.reseller["id"],
                                   name=uniq("p"), type="provider"), "invalid", 400)
    assert tree.customer["id"] in w.ids(tree.radmin.api.items("account-list"))
    assert len(tree.radmin.api.items("account-list", parent_id=tree.reseller["id"])) == 1


def test_duplicates_conflict(stack, tree):
    api = tree.radmin.api
    name = tree.customer["name"]
    assert_err(api.err("account-create", parent_id=tree.reseller["id"], name=name,
                       type="customer", **w.QUOTAS["customer"]), "conflict", 409)
    assert_err(api.err("user-create", account_id=tree.customer["id"],
                       username=tree.cadmin.username, password=w.new_password()),
               "conflict", 409)
    vs = make_vserver(tree.cadmin.api, tree.customer["id"])
    assert_err(tree.cadmin.api.err("vserver-create", account_id=tree.customer["id"],
                                   name=vs["name"], cores=1, ram_mb=512, disk_gb=10),
               "conflict", 409)
    assert len(tree.cadmin.api.items("vserver-list", account_id=tree.customer["id"])) == 1


def test_quota_cores_and_vservers(stack, padmin, provider_id):
    t = w.make_tree(stack, padmin, customer_quotas=dict(quota_cores=6, quota_vservers=2))
    api, cid = t.cadmin.api, t.customer["id"]
    v1 = make_vserver(api, cid, cores=4)
    assert (v1["account_id"], v1["cores"], v1["state"]) == (cid, 4, "defined")
    over = uniq("over")
    assert_err(api.err("vserver-create", account_id=cid, name=over, cores=3, ram_mb=512,
                       disk_gb=10), "quota", 409)
    make_vserver(api, cid, cores=2)  # exactly at the limit
    third = uniq("third")
    assert_err(api.err("vserver-create", account_id=cid, name=third, cores=1, ram_mb=512,
                       disk_gb=10), "quota", 409)  # quota_vservers = 2 (and cores full)
    names = {v["name"] for v in api.items("vserver-list", account_id=cid)}
    assert over not in names and third not in names and len(names) == 2


def test_quota_vservers_only(stack, padmin):
    t = w.make_tree(stack, padmin, customer_quotas=dict(quota_cores=16, quota_vservers=2))
    api, cid = t.cadmin.api, t.customer["id"]
    make_vserver(api, cid)
    make_vserver(api, cid)
    assert_err(api.err("vserver-create", account_id=cid, name=uniq("vs"), cores=1,
                       ram_mb=512, disk_gb=10), "quota", 409)
    assert len(api.items("vserver-list", account_id=cid)) == 2


def test_quota_ram_and_disk(stack, padmin):
    t = w.make_tree(stack, padmin, customer_quotas=dict(quota_ram_mb=2048, quota_disk_gb=50))
    api, cid = t.cadmin.api, t.customer["id"]
    make_vserver(api, cid, ram_mb=1536, disk_gb=20)
    assert_err(api.err("vserver-create", account_id=cid, name=uniq("vs"), cores=1,
                       ram_mb=1024, disk_gb=10), "quota", 409)
    assert_err(api.err("vserver-create", account_id=cid, name=uniq("vs"), cores=1,
                       ram_mb=256, disk_gb=40), "quota", 409)
    assert len(api.items("vserver-list", account_id=cid)) == 1


def test_parent_quota_counts_across_customers(stack, padmin, provider_id):
    r = make_account(padmin, provider_id, "reseller", quota_cores=8, quota_vservers=3)
    radmin = make_user(stack, padmin, r["id"], role="admin")
    c1 = make_account(radmin.api, r["id"], "customer", quota_cores=6, quota_vservers=3)
    c2 = make_account(radmin.api, r["id"], "customer", quota_cores=6, quota_vservers=3)
    make_vserver(radmin.api, c1["id"], cores=5)
    # c2 alone would allow 4, but the reseller only has 3 cores left
    assert_err(radmin.api.err("vserver-create", account_id=c2["id"], name=uniq("vs"),
                              cores=4, ram_mb=512, disk_gb=10), "quota", 409)
    make_vserver(radmin.api, c2["id"], cores=3)
    assert_err(radmin.api.err("vserver-create", account_id=c1["id"], name=uniq("vs"),
                              cores=1, ram_mb=512, disk_gb=10), "quota", 409)
    assert len(radmin.api.items("vserver-list", account_id=c2["id"])) == 1
    assert len(radmin.api.items("vserver-list", account_id=c1["id"])) == 1


def test_parent_vserver_count_across_customers(stack, padmin, provider_id):
    r = make_account(padmin, provider_id, "reseller", quota_cores=32, quota_vservers=2)
    radmin = make_user(stack, padmin, r["id"], role="admin")
    c1 = make_account(radmin.api, r["id"], "customer", quota_cores=8, quota_vservers=2)
    c2 = make_account(radmin.api, r["id"], "customer", quota_cores=8, quota_vservers=2)
    make_vserver(radmin.api, c1["id"])
    make_vserver(radmin.api, c2["id"])
    assert_err(radmin.api.err("vserver-create", account_id=c2["id"], name=uniq("vs"),
                              cores=1, ram_mb=512, disk_gb=10), "quota", 409)


def test_child_quota_above_parent(stack, padmin, provider_id):
    r = make_account(padmin, provider_id, "reseller", quota_cores=8, quota_vservers=5)
    radmin = make_user(stack, padmin, r["id"], role="admin")
    name = uniq("big")
    assert_err(radmin.api.err("account-create", parent_id=r["id"], name=name, type="customer",
                              quota_cores=10, quota_ram_mb=1024, quota_disk_gb=10,
                              quota_vservers=1), "quota", 409)
    assert_err(radmin.api.err("account-create", parent_id=r["id"], name=name, type="customer",
                              quota_cores=1, quota_ram_mb=1024, quota_disk_gb=10,
                              quota_vservers=6), "quota", 409)
    assert name not in {a["name"] for a in radmin.api.items("account-list")}
    c = make_account(radmin.api, r["id"], "customer", quota_cores=8, quota_vservers=5)
    assert_err(radmin.api.err("account-update", id=c["id"], quota_cores=9), "quota", 409)
    assert radmin.api.call("account-get", id=c["id"])["quota_cores"] == 8
    # lowering works
    assert radmin.api.call("account-update", id=c["id"], quota_cores=4)["quota_cores"] == 4


def test_account_delete_conflicts(stack, padmin, tree):
    api = padmin
    vs = make_vserver(tree.cadmin.api, tree.customer["id"])
    # reseller has a child account
    assert_err(api.err("account-delete", id=tree.reseller["id"]), "conflict", 409)
    # customer has a vServer
    assert_err(tree.radmin.api.err("account-delete", id=tree.customer["id"]), "conflict", 409)
    assert api.call("account-get", id=tree.customer["id"])["id"] == tree.customer["id"]
    assert api.call("vserver-get", id=vs["id"])["id"] == vs["id"]
    # the customer admin cannot delete its own account (account.manage on the parent)
    assert_err(tree.cadmin.api.err("account-delete", id=tree.customer["id"]), "denied", 403)

    tree.cadmin.api.call("vserver-delete", id=vs["id"])
    assert_err(tree.cadmin.api.err("vserver-get", id=vs["id"]), "not_found", 404)
    tree.radmin.api.call("account-delete", id=tree.customer["id"])
    assert_err(api.err("account-get", id=tree.customer["id"]), "not_found", 404)
    api.call("account-delete", id=tree.reseller["id"])
    assert_err(api.err("account-get", id=tree.reseller["id"]), "not_found", 404)


def test_vdc_lifecycle(stack, tree):
    api = tree.radmin.api
    name = uniq("vdc")
    vdc = api.call("vdc-create", account_id=tree.customer["id"], name=name)
    assert (vdc["account_id"], vdc["name"]) == (tree.customer["id"], name)
    assert api.call("vdc-get", id=vdc["id"]) == vdc
    assert vdc["id"] in w.ids(tree.cadmin.api.items("vdc-list",
                                                    account_id=tree.customer["id"]))
    vs = make_vserver(tree.cadmin.api, tree.customer["id"], vdc_id=vdc["id"])
    assert vs["vdc_id"] == vdc["id"]
    assert_err(api.err("vdc-delete", id=vdc["id"]), "conflict", 409)
    tree.cadmin.api.call("vserver-delete", id=vs["id"])
    api.call("vdc-delete", id=vdc["id"])
    assert_err(api.err("vdc-get", id=vdc["id"]), "not_found", 404)


def test_user_update_and_delete(stack, tree):
    u = make_user(stack, tree.cadmin.api, tree.customer["id"], role="viewer")
    r = tree.cadmin.api.call("user-update", id=u.id, display_name="New Name",
                             email="n@example.org")
    assert (r["display_name"], r["email"]) == ("New Name", "n@example.org")
    assert tree.cadmin.api.call("user-get", id=u.id)["display_name"] == "New Name"
    # self may update itself
    r = u.api.call("user-update", id=u.id, display_name="Self Name")
    assert r["display_name"] == "Self Name"
    # password change needs the old password for self
    newpw = w.new_password()
    assert_err(u.api.err("user-set-password", id=u.id, password=newpw), "invalid", 400)
    u.api.call("user-set-password", id=u.id, password=newpw, old_password=u.password)
    a = stack.api()
    a.login(u.username, newpw)
    # an admin (user.manage) sets it without the old one
    adminpw = w.new_password()
    tree.cadmin.api.call("user-set-password", id=u.id, password=adminpw)
    assert_err(stack.api().err("login", username=u.username, password=newpw),
               "unauthenticated", 401)
    stack.api().login(u.username, adminpw)
    # a colleague without user.manage cannot
    peer = make_user(stack, tree.cadmin.api, tree.customer["id"], role="operator")
    assert_err(peer.api.err("user-set-password", id=u.id, password=w.new_password()),
               "denied", 403)
    stack.api().login(u.username, adminpw)
    tree.cadmin.api.call("user-delete", id=u.id)
    assert_err(tree.cadmin.api.err("user-get", id=u.id), "not_found", 404)
    assert_err(stack.api().err("login", username=u.username, password=adminpw),
               "unauthenticated", 401)
    # a deleted user's session is gone too
    assert_err(a.err("whoami"), "unauthenticated", 401)
