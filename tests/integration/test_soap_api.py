"""The SOAP binding against the real stack (PostgreSQL + webrackd), no rack needed: zeep builds
its client from /soap?wsdl alone and manages accounts, users, grants and tokens; rights answer
exactly as over JSON (another tenant's object: Client.NotFound, visible without the privilege:
Client.Denied); WS-Security UsernameTokens are checked (password, nonce replay, Created window,
missing nonce, TOTP users); and task-wait follows a task over both bindings."""

import datetime
import threading
import time

import pytest
import zeep

import soap_it as s
import webrack_it as w
from webrack_it import assert_err


@pytest.fixture(scope="module")
def tree(stack, padmin):
    return w.make_tree(stack, padmin)


@pytest.fixture(scope="module")
def cadmin_soap(stack, tree):
    """The customer admin over SOAP with a UsernameToken."""
    return s.client(stack, tree.cadmin.username, tree.cadmin.password)


def test_wsdl_served_and_complete(stack):
    r = w.new_session().get(f"{stack.url}/soap?wsdl", verify=False, timeout=30)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/xml")
    assert f'location="https://127.0.0.1:{stack.port}/soap"' in r.text
    c = s.client(stack, token="unused")
    ops = set(c.service._binding._operations)
    for name in ("getVServer", "listVServers", "createVServer", "startVServer",
                 "waitTask", "getTask", "createAccount", "grant", "revoke", "createToken",
                 "listAudits", "listNodes", "attachVServerISO", "whoami"):
        assert name in ops, name
    assert "login" not in ops and "logout" not in ops
    # precise types: ranges, enumerations, optional and nillable elements
    assert '<xsd:element name="timeoutSeconds" minOccurs="0">' in r.text
    assert '<xsd:enumeration value="parked"/>' in r.text
    assert 'name="quotaCores" minOccurs="0" nillable="true"' in r.text
    # GET without ?wsdl and other methods are refused
    assert w.new_session().get(f"{stack.url}/soap", verify=False).status_code == 405
    assert w.new_session().put(f"{stack.url}/soap", verify=False).status_code == 405


def test_accounts_users_grants_tokens(stack, tree, cadmin_soap):
    ra = s.client(stack, tree.radmin.username, tree.radmin.password)
    me = ra.service.whoami()
    assert me.user.username == tree.radmin.username
    assert me.auth == "password"

    acct = ra.service.createAccount(parentId=tree.reseller["id"], name=s.uniq("soapcust"),
                                    type="customer", quotaCores=4, quotaRamMb=8192,
                                    quotaDiskGb=100, quotaVservers=None)
    assert acct.type == "customer" and acct.quotaCores == 4 and acct.quotaVservers is None
    got = ra.service.getAccount(id=acct.id)
    assert got.name == acct.name and list(got.path)[-1] == acct.id
    acct = ra.service.updateAccount(id=acct.id, quotaCores=6)
    assert acct.quotaCores == 6
    listed = ra.service.listAccounts(parentId=tree.reseller["id"])
    assert acct.id in [a.id for a in listed]

    pw = w.new_password()
    user = ra.service.createUser(accountId=acct.id, username=s.uniq("su"), password=pw,
                                 displayName="Soap User")
    assert user.accountId == acct.id and user.email is None
    g = ra.service.grant(userId=user.id, scopeType="account", scopeId=acct.id, role="viewer")
    assert g.role == "viewer" and g.scopeType == "account"
    grants = ra.service.listGrants(userId=user.id)
    assert [x.id for x in grants] == [g.id]

    # the new user over SOAP: a token, then the token alone
    uc = s.client(stack, user.username, pw)
    t = uc.service.createToken(name="script", expiresDays=7,
                               privileges=["account.view", "task.view"])
    assert t.secret.startswith("wrt_") and t.token.privileges == ["account.view", "task.view"]
    tc = s.client(stack, token=t.secret)
    who = tc.service.whoami()
    assert who.auth == "token" and who.user.id == user.id
    assert tc.service.getAccount(id=acct.id).id == acct.id
    # a token cannot mint tokens, exactly as over JSON
    s.expect_fault("Client.Denied", tc.service.createToken, name="again")
    assert [x.id for x in tc.service.listTokens()] == [t.token.id]
    uc.service.revokeToken(id=t.token.id)
    s.expect_fault("Client.Unauthenticated", tc.service.whoami)

    ra.service.revoke(id=g.id)
    assert ra.service.listGrants(userId=user.id) == []
    ra.service.deleteUser(id=user.id)
    s.expect_fault("Client.NotFound", ra.service.getUser, id=user.id)
    ra.service.deleteAccount(id=acct.id)
    s.expect_fault("Client.NotFound", ra.service.getAccount, id=acct.id)

    # the same changes are in the job log and the audit log, as for JSON
    tasks = ra.service.listTasks(objectType="account", objectId=acct.id)
    assert {"account-create", "account-update", "account-delete"} <= {k.action for k in tasks}


def test_rights_as_json(stack, padmin, tree, cadmin_soap):
    vs = w.make_vserver(tree.cadmin.api, tree.customer["id"], cores=1, ram_mb=256, disk_gb=1)
    other = w.make_tree(stack, padmin)
    osoap = s.client(stack, other.cadmin.username, other.cadmin.password)

    # another tenant's vServer: not found, like a missing one (and like JSON)
    s.expect_fault("Client.NotFound", osoap.service.getVServer, id=vs["id"])
    s.expect_fault("Client.NotFound", osoap.service.getVServer, id=999999999)
    s.expect_fault("Client.NotFound", osoap.service.startVServer, id=vs["id"])
    assert_err(other.cadmin.api.err("vserver-get", id=vs["id"]), "not_found", 404)

    # visible without the privilege: denied (and like JSON)
    viewer = w.make_user(stack, tree.cadmin.api, tree.customer["id"], role="viewer")
    vsoap = s.client(stack, viewer.username, viewer.password)
    assert vsoap.service.getVServer(id=vs["id"]).name == vs["name"]
    s.expect_fault("Client.Denied", vsoap.service.startVServer, id=vs["id"])
    s.expect_fault("Client.Denied", vsoap.service.deleteVServer, id=vs["id"])
    assert_err(viewer.api.err("vserver-delete", id=vs["id"]), "denied", 403)
    assert cadmin_soap.service.getVServer(id=vs["id"]).state == "defined"

    # quota and conflict come through with their codes
    s.expect_fault("Client.Quota", cadmin_soap.service.createVServer,
                   accountId=tree.customer["id"], name=s.uniq("big"), cores=200,
                   ramMb=1024, diskGb=1)
    s.expect_fault("Client.Conflict", cadmin_soap.service.createVServer,
                   accountId=tree.customer["id"], name=vs["name"], cores=1, ramMb=256,
                   diskGb=1)
    # bad input is refused by the client's schema or the server's: never applied
    r = s.post(stack, s.envelope(
        f"<w:createVServer><w:accountId>{tree.customer['id']}</w:accountId>"
        "<w:name>ok-name</w:name><w:cores>0</w:cores><w:ramMb>256</w:ramMb>"
        "<w:diskGb>1</w:diskGb></w:createVServer>",
        s.wsse_header(tree.cadmin.username, tree.cadmin.password)))
    s.expect_raw_fault(r, "Client.Invalid", "'cores'")
    assert "ok-name" not in [v["name"] for v in tree.cadmin.api.items("vserver-list")]


def test_wsse_cases(stack, tree):
    u = w.make_user(stack, tree.cadmin.api, tree.customer["id"], role="user", login=False)
    body = "<w:whoami/>"

    def call(**kw):
        return s.post(stack, s.envelope(body, s.wsse_header(u.username, u.password, **kw)))

    r = call()
    assert r.status_code == 200 and u.username in r.text, r.text[:300]

    s.expect_raw_fault(s.post(stack, s.envelope(body, s.wsse_header(u.username, "wrong"))),
                       "Client.Unauthenticated", "wrong username or password")
    s.expect_raw_fault(s.post(stack, s.envelope(body, s.wsse_header("nobody-" + s.uniq(),
                                                                    "x"))),
                       "Client.Unauthenticated", "wrong username or password")
    # replay: the very same token twice
    header = s.wsse_header(u.username, u.password)
    assert s.post(stack, s.envelope(body, header)).status_code == 200
    s.expect_raw_fault(s.post(stack, s.envelope(body, header)), "Client.Unauthenticated",
                       "nonce was already used")
    # Created outside the window (300 s by default), both directions
    now = datetime.datetime.now(datetime.timezone.utc)
    for delta in (-400, 400):
        s.expect_raw_fault(call(created=now + datetime.timedelta(seconds=delta)),
                           "Client.Unauthenticated", "outside the allowed window")
    s.expect_raw_fault(call(with_nonce=False), "Client.Unauthenticated", "Nonce")
    s.expect_raw_fault(call(with_created=False), "Client.Unauthenticated", "Created")
    # both kinds of credential at once, or none
    r = s.post(stack, s.envelope(body, s.wsse_header(u.username, u.password)), token="wrt_x")
    s.expect_raw_fault(r, "Client.Invalid", "not both")
    s.expect_raw_fault(s.post(stack, s.envelope(body)), "Client.Unauthenticated")
    # a session cookie is no credential on /soap (no CSRF surface)
    s.expect_raw_fault(s.post(stack, s.envelope(body),
                              cookies={"wr_session": tree.cadmin.api.cookie()}),
                       "Client.Unauthenticated")
    # failures count towards the login throttle like portal logins (5 per user here)
    for _ in range(5):
        s.post(stack, s.envelope(body, s.wsse_header(u.username, "wrong")))
    s.expect_raw_fault(call(), "Client.Throttled")
    with pytest.raises(w.ApiError) as ei:
        stack.api().login(u.username, u.password)
    assert_err(ei.value, "throttled", 429)


def test_totp_user_needs_token(stack, tree):
    u = w.make_user(stack, tree.cadmin.api, tree.customer["id"], role="user")
    e = u.api.call("totp-enrol")
    step = w.fresh_step()
    u.api.call("totp-confirm", code=w.totp_code(e["secret_base32"], step))
    r = s.post(stack, s.envelope("<w:whoami/>", s.wsse_header(u.username, u.password)))
    s.expect_raw_fault(r, "Client.Unauthenticated", "use an API token")
    tok = u.api.call("token-create", name="soap")["secret"]
    who = s.client(stack, token=tok).service.whoami()
    assert who.user.totpEnabled is True and who.auth == "token"


def test_task_wait(stack, tree, cadmin_soap):
    api = tree.cadmin.api
    # a finished task answers at once, over both bindings
    vs = w.make_vserver(api, tree.customer["id"], cores=1, ram_mb=256, disk_gb=1)
    done = [t for t in api.items("task-list", object_type="vserver", object_id=vs["id"])]
    assert done and done[0]["status"] == "done", done
    t0 = time.monotonic()
    k = cadmin_soap.service.waitTask(id=done[0]["id"], timeoutSeconds=30)
    assert k.status == "done" and k.id == done[0]["id"]
    assert time.monotonic() - t0 < 5
    assert api.call("task-wait", id=done[0]["id"], timeout_seconds=30)["status"] == "done"

    # no node has joined: a start fails at once, and waiting returns the failure
    q = api.call("vserver-start", id=vs["id"])
    k = cadmin_soap.service.waitTask(id=q["task_id"], timeoutSeconds=30)
    assert k.status == "failed" and "no node" in k.info

    # a task still running: waitTask waits out its timeout, then wakes up when it ends
    db = stack.db()
    db.autocommit = True
    with db.cursor() as cur:
        cur.execute("INSERT INTO tasks (object_type, object_id, object_name, action, user_id, "
                    "username, scope_path, started_at, status) VALUES ('account', %s, 'x', "
                    "'test-work', %s, %s, %s::bigint[], now(), 'running') RETURNING id",
                    (tree.customer["id"], tree.cadmin.id, tree.cadmin.username,
                     tree.customer["path"]))
        tid = cur.fetchone()[0]
    t0 = time.monotonic()
    k = cadmin_soap.service.waitTask(id=tid, timeoutSeconds=2)
    waited = time.monotonic() - t0
    assert k.status == "running" and 1.9 <= waited < 6, (k.status, waited)
    assert api.call("task-wait", id=tid, timeout_seconds=0)["status"] == "running"

    def finish():
        time.sleep(1.5)
        with db.cursor() as cur:
            cur.execute("UPDATE tasks SET status = 'done', ended_at = now() WHERE id = %s",
                        (tid,))
    th = threading.Thread(target=finish)
    th.start()
    t0 = time.monotonic()
    k = cadmin_soap.service.waitTask(id=tid, timeoutSeconds=60)
    waited = time.monotonic() - t0
    th.join()
    db.close()
    assert k.status == "done" and 1.4 <= waited < 5, (k.status, waited)

    # other tenants cannot wait on it; bad timeouts are refused
    other = w.make_tree(stack, stack.admin())
    assert_err(other.cadmin.api.err("task-wait", id=tid), "not_found", 404)
    s.expect_fault("Client.NotFound", s.client(stack, other.cadmin.username,
                                                 other.cadmin.password).service.waitTask,
                   id=tid, timeoutSeconds=1)
    assert_err(api.err("task-wait", id=tid, timeout_seconds=301), "invalid", 400)


def camel(name):
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def declared(c, element, path=()):
    """Names of the child elements the WSDL declares for element (following path)."""
    t = c.get_element(f"{{{s.NS}}}{element}").type
    for step in path:
        t = dict(t.elements)[step].type
    return {n for n, _ in t.elements}


def test_result_schemas_cover_json(stack, tree, padmin, cadmin_soap):
    """Every member of a JSON result is declared in the WSDL (SOAP never loses a field), and the
    SOAP answer carries the same values."""
    api = tree.cadmin.api
    vs = w.make_vserver(api, tree.customer["id"], cores=1, ram_mb=256, disk_gb=1)
    task = api.items("task-list", object_type="vserver", object_id=vs["id"])[0]
    cases = [
        ("whoami", {}, "whoami", {}, ()),
        ("account-get", {"id": tree.customer["id"]}, "getAccount", {"id": tree.customer["id"]},
         ()),
        ("user-get", {"id": tree.cadmin.id}, "getUser", {"id": tree.cadmin.id}, ()),
        ("vserver-get", {"id": vs["id"]}, "getVServer", {"id": vs["id"]}, ()),
        ("task-get", {"id": task["id"]}, "getTask", {"id": task["id"]}, ()),
    ]
    for op, params, sop, sparams, path in cases:
        j = api.call(op, **params)
        names = declared(cadmin_soap, f"{sop}Response", path)
        missing = {camel(k) for k in j} - names
        assert not missing, f"{sop}Response lacks {missing}"
        got = getattr(cadmin_soap.service, sop)(**sparams)
        for k, v in j.items():
            # how the caller authenticated differs between the two clients, by design
            if isinstance(v, (dict, list)) or k in ("auth", "csrf_token"):
                continue
            g = getattr(got, camel(k))
            if (v is None and g == []) or (v == "" and g is None):
                continue  # a null list is no element; zeep reads <x></x> as None
            assert g == v, (sop, k, g, v)
    # lists: the item type covers the JSON items
    for op, sop in (("grant-list", "listGrants"), ("token-list", "listTokens"),
                    ("audit-list", "listAudits"), ("task-list", "listTasks"),
                    ("vserver-list", "listVServers"), ("account-list", "listAccounts")):
        items = padmin.items(op) if op == "audit-list" else api.items(op)
        if op == "token-list" and not items:
            api.call("token-create", name="cover")
            items = api.items(op)
        assert items, op
        names = declared(cadmin_soap, f"{sop}Response", ("items",))
        missing = {camel(k) for k in items[0]} - names
        assert not missing, f"{sop} items lack {missing}"
