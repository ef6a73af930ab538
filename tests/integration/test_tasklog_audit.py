"""Task log and audit log."""

import json

import psycopg2
import pytest

import webrack_it as w
from webrack_it import assert_err, make_user, uniq


def audit_since(api, since_id, pages=50):
    """Audit rows with id > since_id visible to api (pages with before_id)."""
    rows, before = {}, None
    for _ in range(pages):
        params = dict(limit=100)
        if before is not None:
            params["before_id"] = before
        items = api.items("audit-list", **params)
        for it in items:
            rows[it["id"]] = it
        if not items:
            break
        low = min(it["id"] for it in items)
        if low <= since_id or len(items) < 100:
            break
        before = low
    return sorted((r for r in rows.values() if r["id"] > since_id), key=lambda r: r["id"])


def last_audit_id(api):
    items = api.items("audit-list", limit=1)
    return max((it["id"] for it in items), default=0)


def mentions(row, username):
    return row.get("username") == username or username in json.dumps(row.get("detail"))


def test_account_create_task(stack, padmin, tree):
    name = uniq("cust")
    acc = tree.radmin.api.call("account-create", parent_id=tree.reseller["id"], name=name,
                               type="customer", **w.QUOTAS["customer"])
    tasks = [t for t in tree.radmin.api.items("task-list", limit=100)
             if t["object_type"] == "account" and t["object_id"] == acc["id"]]
    assert len(tasks) == 1, tasks
    t = tasks[0]
    for k in ("id", "type", "object_type", "object_id", "object_name", "action", "user_id",
              "username", "started_at", "ended_at", "status", "info"):
        assert k in t, f"task lacks {k}: {t}"
    assert t["status"] == "done"
    assert t["object_name"] == name
    assert (t["user_id"], t["username"]) == (tree.radmin.id, tree.radmin.username)
    assert "create" in t["action"], t
    assert w.parse_ts(t["ended_at"]) >= w.parse_ts(t["started_at"])
    assert tree.radmin.api.call("task-get", id=t["id"]) == t
    assert padmin.call("task-get", id=t["id"]) == t
    # a sibling customer's admin does not see it
    assert t["id"] not in w.ids(tree.cadmin.api.items("task-list", limit=100))


def test_failed_op_task(stack, padmin):
    t = w.make_tree(stack, padmin, customer_quotas=dict(quota_cores=2))
    api, cid = t.cadmin.api, t.customer["id"]
    name = uniq("big")
    assert_err(api.err("vserver-create", account_id=cid, name=name, cores=4, ram_mb=512,
                       disk_gb=10), "quota", 409)
    failed = [x for x in api.items("task-list", limit=100)
              if x["action"] == "vserver-create" and x["status"] == "failed"]
    assert len(failed) == 1, failed
    f = failed[0]
    # the vServer does not exist: the row names either it or the account it was for
    assert (f["object_type"], f["object_name"]) in (("vserver", name),
                                                    ("account", t.customer["name"])), f
    assert (f["user_id"], f["username"]) == (t.cadmin.id, t.cadmin.username)
    assert f["info"] and "quota" in f["info"].lower(), f
    assert f["ended_at"] is not None
    # a successful one is done
    ok = w.make_vserver(api, cid, cores=1)
    done = [x for x in api.items("task-list", limit=100)
            if x["object_type"] == "vserver" and x["object_id"] == ok["id"]]
    assert [d["status"] for d in done] == ["done"], done


def test_task_list_paging(stack, tree):
    api = tree.cadmin.api
    for _ in range(3):
        w.make_vserver(api, tree.customer["id"])
    all_ = api.items("task-list", limit=100)
    assert len(all_) >= 3
    p1 = api.items("task-list", limit=2, offset=0)
    p2 = api.items("task-list", limit=2, offset=2)
    assert len(p1) == 2 and p2
    assert not w.ids(p1) & w.ids(p2)
    assert [x["id"] for x in p1 + p2] == [x["id"] for x in all_][:len(p1) + len(p2)]


def test_audit_login_grant_token(stack, padmin, tree):
    start = last_audit_id(padmin)
    u = make_user(stack, tree.cadmin.api, tree.customer["id"], login=False)
    # failed login, then a good one
    assert_err(stack.api().err("login", username=u.username, password="nope-" + u.password),
               "unauthenticated", 401)
    a = stack.api()
    a.login(u.username, u.password)
    g = tree.cadmin.api.call("grant", user_id=u.id, scope_type="account",
                             scope_id=tree.customer["id"], role="viewer")
    tok = a.call("token-create", name=uniq("t"), expires_days=1)
    mid = last_audit_id(padmin)
    stack.api(token=tok["secret"]).call("whoami")

    rows = audit_since(padmin, start)
    for r in rows:
        for k in ("id", "at", "user_id", "username", "event", "object_type", "object_id",
                  "detail", "client_ip"):
            assert k in r, f"audit row lacks {k}: {r}"
    mine = [r for r in rows if mentions(r, u.username) or r.get("user_id") == u.id]
    events = [r["event"] for r in mine]
    failed = [r for r in mine if "login" in r["event"] and "fail" in r["event"]]
    assert failed, f"no failed-login audit row for {u.username}: {events}"
    assert failed[0]["client_ip"] == "127.0.0.1", failed[0]
    good = [r for r in mine if "login" in r["event"] and "fail" not in r["event"]
            and r.get("user_id") == u.id]
    assert good, f"no login audit row: {events}"
    grants = [r for r in rows if "grant" in r["event"] and r.get("user_id") == tree.cadmin.id]
    assert grants, f"no grant audit row: {[r['event'] for r in rows]}"
    assert any(str(g["id"]) in json.dumps(r) or str(u.id) in json.dumps(r) for r in grants), \
        grants
    use = [r for r in audit_since(padmin, mid)
           if "token" in r["event"] and r.get("user_id") == u.id]
    assert use, f"no token-use audit row after {mid}"
    # token use is audited at most once per token and minute (a minute boundary
    # may fall between the calls, hence "at most one more row" for five calls)
    for _ in range(5):
        stack.api(token=tok["secret"]).call("whoami")
    use2 = [r for r in audit_since(padmin, mid)
            if "token" in r["event"] and r.get("user_id") == u.id]
    assert len(use2) <= len(use) + 1, use2


def test_audit_visibility(stack, tree):
    # a customer admin may read audit (admin has audit.view), a viewer may not
    # operator and viewer have no audit.view
    for role in ("viewer", "operator", "user"):
        v = make_user(stack, tree.cadmin.api, tree.customer["id"], role=role)
        assert_err(v.api.err("audit-list", limit=10), "denied", 403)
    rows = tree.cadmin.api.items("audit-list", limit=100)
    assert any(r.get("user_id") == tree.cadmin.id for r in rows)


def test_audit_append_only_in_sql(stack, padmin):
    padmin.call("whoami")
    conn = stack.db()
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT count(*), max(id) FROM audit")
            n, top = cur.fetchone()
            assert n > 0
            cur.execute("SELECT event, detail FROM audit WHERE id = %s", (top,))
            row = cur.fetchone()
            for sql in ("UPDATE audit SET event = 'tampered' WHERE id = %s" % top,
                        "UPDATE audit SET detail = NULL",
                        "DELETE FROM audit WHERE id = %s" % top,
                        "DELETE FROM audit",
                        "TRUNCATE audit"):
                with pytest.raises(psycopg2.Error) as ei:
                    cur.execute(sql)
                # must be the trigger, not e.g. a missing table or privilege
                assert ei.value.pgcode not in ("42P01", "42501"), (sql, ei.value.pgcode)
            cur.execute("SELECT count(*) FROM audit WHERE id <= %s", (top,))
            assert cur.fetchone()[0] == n
            cur.execute("SELECT event, detail FROM audit WHERE id = %s", (top,))
            assert cur.fetchone() == row
    finally:
        conn.close()
