"""Malformed requests: each is refused with the documented code and creates nothing."""

import json

import pytest
import requests

import webrack_it as w
from webrack_it import uniq


def code_of(r):
    try:
        return r.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def assert_resp(r, status, code):
    assert (r.status_code, code_of(r)) == (status, code), \
        f"expected {status} {code}, got {r.status_code}: {r.text[:300]}"
    body = r.json()
    assert body["ok"] is False and isinstance(body["error"].get("message"), str)


@pytest.fixture
def cust(stack, tree):
    return tree


def vs_names(t):
    return {v["name"] for v in t.cadmin.api.items("vserver-list", account_id=t.customer["id"])}


def acc_names(t):
    return {a["name"] for a in t.radmin.api.items("account-list")}


def test_malformed_json(stack, cust):
    api = cust.cadmin.api
    before = vs_names(cust)
    for body in (b'{"account_id": 1, "name": ', b"{not json}", b"\xff\xfe\x00",
                 b'{"a":1}garbage', b"[1, 2]", b'"string"', b"42", b"null",
                 b'{"name": "x", "name": "y"}'):
        r = api.post("vserver-create", data=body)
        # (duplicate keys: refused either as invalid JSON or for missing params)
        assert_resp(r, 400, "invalid")
    assert vs_names(cust) == before


def test_empty_body_means_empty_object(stack, cust):
    r = cust.cadmin.api.post("account-list", data=b"")
    assert r.status_code == 200 and r.json()["ok"] is True, r.text


def test_unknown_op(stack, cust):
    api = cust.cadmin.api
    for op in ("no-such-op", "account-frobnicate", "ACCOUNT-LIST", "account_list"):
        assert_resp(api.call_raw(op, {}), 404, "not_found")
    # unauthenticated too
    assert_resp(stack.api().call_raw("no-such-op", {}, csrf=None), 404, "not_found")


def test_get_is_405(stack, cust):
    api = cust.cadmin.api
    for op in ("account-list", "whoami", "login"):
        r = api.s.get(f"{stack.url}/api/v1/{op}", timeout=10,
                      headers={"X-CSRF-Token": api.csrf})
        assert r.status_code == 405, (op, r.status_code, r.text[:200])
    r = api.s.put(f"{stack.url}/api/v1/account-list", data=b"{}", timeout=10,
                  headers={"X-CSRF-Token": api.csrf, "Content-Type": "application/json"})
    assert r.status_code == 405, r.status_code


VS_BAD = [
    ("string for int", dict(cores="2")),
    ("bool for int", dict(cores=True)),
    ("float for int", dict(cores=1.5)),
    ("null for int", dict(cores=None)),
    ("array for int", dict(ram_mb=[512])),
    ("int for string", dict(name=12345)),
    ("object for string", dict(name={"a": 1})),
    ("unknown parameter", dict(colour="red")),
    ("unknown parameter user_id", dict(user_id=1)),
    ("cores negative", dict(cores=-1)),
    ("cores zero", dict(cores=0)),
    ("cores huge", dict(cores=2 ** 31)),
    ("cores beyond int64", dict(cores=2 ** 64)),
    ("ram negative", dict(ram_mb=-512)),
    ("disk zero", dict(disk_gb=0)),
    ("string account_id", dict(account_id="1")),
    ("negative account_id", dict(account_id=-1)),
    ("empty name", dict(name="")),
    ("name too long", dict(name="x" * 5000)),
]


@pytest.mark.parametrize("label,override", VS_BAD, ids=[b[0] for b in VS_BAD])
def test_vserver_create_bad_params(stack, cust, label, override):
    base = dict(account_id=cust.customer["id"], name=uniq("vs"), cores=1, ram_mb=512,
                disk_gb=10)
    params = dict(base)
    params.update(override)
    before = vs_names(cust)
    r = cust.cadmin.api.call_raw("vserver-create", params)
    assert_resp(r, 400, "invalid")
    assert vs_names(cust) == before


@pytest.mark.parametrize("missing", ["account_id", "name", "cores", "ram_mb", "disk_gb"])
def test_vserver_create_missing_param(stack, cust, missing):
    params = dict(account_id=cust.customer["id"], name=uniq("vs"), cores=1, ram_mb=512,
                  disk_gb=10)
    del params[missing]
    before = vs_names(cust)
    assert_resp(cust.cadmin.api.call_raw("vserver-create", params), 400, "invalid")
    assert vs_names(cust) == before


ACC_BAD = [
    ("missing type", dict(type=None)),
    ("missing name", dict(name=None)),
    ("missing parent", dict(parent_id=None)),
    ("bad type", dict(type="emperor")),
    ("bool quota", dict(quota_cores=True)),
    ("string quota", dict(quota_vservers="5")),
    ("negative quota", dict(quota_cores=-5)),
    ("int require_2fa", dict(require_2fa=1)),
    ("string require_2fa", dict(require_2fa="yes")),
    ("unknown param", dict(owner="me")),
    ("int name", dict(name=7)),
]


@pytest.mark.parametrize("label,override", ACC_BAD, ids=[b[0] for b in ACC_BAD])
def test_account_create_bad_params(stack, cust, label, override):
    name = uniq("acc")
    params = dict(parent_id=cust.reseller["id"], name=name, type="customer",
                  **w.QUOTAS["customer"])
    for k, v in override.items():
        if v is None:
            del params[k]
        else:
            params[k] = v
    before = acc_names(cust)
    assert_resp(cust.radmin.api.call_raw("account-create", params), 400, "invalid")
    after = acc_names(cust)
    assert after == before and name not in after


def test_other_ops_bad_params(stack, cust):
    api = cust.cadmin.api
    cid = cust.customer["id"]
    users_before = w.ids(api.items("user-list", account_id=cid))
    grants_before = api.items("grant-list", user_id=cust.cadmin.id)
    cases = [
        ("user-create", dict(account_id=cid, username=uniq("u"))),  # no password
        ("user-create", dict(account_id=cid, username=uniq("u"), password=123456789)),
        ("user-create", dict(account_id=cid, username=uniq("u"), password=w.new_password(),
                             role="god")),
        ("user-create", dict(account_id=cid, username="bad name with spaces",
                             password=w.new_password())),
        ("user-create", dict(account_id=cid, username=uniq("u"), password=w.new_password(),
                             is_admin=True)),
        ("grant", dict(user_id=cust.cadmin.id, scope_type="planet", scope_id=cid,
                       role="viewer")),
        ("grant", dict(user_id=cust.cadmin.id, scope_type="account", scope_id=cid,
                       role="superuser")),
        ("grant", dict(user_id=str(cust.cadmin.id), scope_type="account", scope_id=cid,
                       role="viewer")),
        ("task-list", dict(limit=-1)),
        ("task-list", dict(limit="10")),
        ("task-list", dict(offset=-5)),
        ("audit-list", dict(limit=0 - 10)),
        ("account-get", dict()),
        ("account-get", dict(id="1")),
        ("account-get", dict(id=cid, extra=1)),
        ("token-create", dict(name=uniq("t"), expires_days="7")),
        ("token-create", dict(expires_days=7)),
        ("login", dict(username=cust.cadmin.username)),
        ("login", dict(username=cust.cadmin.username, password=True)),
        ("whoami", dict(anything=1)),
    ]
    failures = []
    for op, params in cases:
        r = api.call_raw(op, params, csrf=None if op == "login" else api.csrf)
        if (r.status_code, code_of(r)) != (400, "invalid"):
            failures.append(f"{op} {json.dumps(params)}: {r.status_code} {r.text[:200]}")
    assert failures == []
    assert w.ids(api.items("user-list", account_id=cid)) == users_before
    assert api.items("grant-list", user_id=cust.cadmin.id) == grants_before


def test_body_too_large(stack, cust):
    api = cust.cadmin.api
    limit = int(stack.conf["max_body_bytes"])
    name = uniq("vs")
    body = json.dumps(dict(account_id=cust.customer["id"], name=name, cores=1, ram_mb=512,
                           disk_gb=10, pad="x" * (limit + 10))).encode()
    assert len(body) > limit
    before = vs_names(cust)
    r = api.post("vserver-create", data=body)
    assert_resp(r, 413, "too_large")
    # also without Content-Length (chunked)
    try:
        r = api.post("vserver-create", data=iter([body[i:i + 4096]
                                                  for i in range(0, len(body), 4096)]))
        assert r.status_code == 413, (r.status_code, r.text[:200])
    except requests.ConnectionError:
        pass  # the server may close the connection after refusing
    # unauthenticated too (before parsing, before auth)
    r = stack.api().post("login", data=body, csrf=None)
    assert r.status_code == 413, r.status_code
    assert vs_names(cust) == before
    # the server is fine afterwards, and a body just under the cap is accepted
    small = json.dumps(dict(account_id=cust.customer["id"], name=name, cores=1, ram_mb=512,
                            disk_gb=10)).encode()
    assert len(small) < limit
    assert api.post("vserver-create", data=small).status_code == 200
    assert name in vs_names(cust)
