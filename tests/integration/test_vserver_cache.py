"""The vServer read cache (controller/vserver_cache.c, sql/020_vserver_cache.sql): vserver-get /
getVServer answer from memory for vserver_cache_ttl seconds, and every change to what they
return takes effect on the next call: through the API at once (the pool hears its own
notifications before the caller is answered), from another database session within the
notification's latency (polled with a deadline well below the cache's lifetime, so an entry that
merely expired cannot pass). Guest addresses that go stale without any write leave the answer
on time. The caller's rights are decided on every call."""

import time

import pytest

import soap_it as s
import webrack_it as w
from test_auth_cache import NOTIFY_DEADLINE, db_session, reloaded, token_for
from webrack_it import assert_err, make_user, make_vserver, uniq


@pytest.fixture
def vs(tree):
    return make_vserver(tree.cadmin.api, tree.customer["id"])


@pytest.fixture
def clients(stack, tree):
    _, secret = token_for(tree.cadmin.api)
    return stack.api(token=secret), s.client(stack, token=secret)


def warm(clients, vid):
    """Read the vServer twice through both bindings, so that it is cached; the JSON answer."""
    api, soap = clients
    for _ in range(2):
        got = api.call("vserver-get", id=vid)
        assert soap.service.getVServer(id=vid).id == vid
    return got


def settle(stack, clients, vid):
    """Wait until webrackd has heard the notifications of earlier writes (they come in commit
    order), so that the cache filled next is not emptied by one of them by chance."""
    marker = uniq("settled")
    with db_session(stack, quiet=True) as cur:
        cur.execute("UPDATE vservers SET name = %s WHERE id = %s", (marker, vid))
    with db_session(stack) as cur:
        cur.execute("NOTIFY wr_auth, 'settle'")
    w.wait_until(lambda: json_get(clients, vid)["name"] == marker, NOTIFY_DEADLINE, 0.05,
                 "earlier notifications")


def json_get(clients, vid):
    return clients[0].call("vserver-get", id=vid)


def soap_get(clients, vid):
    return clients[1].service.getVServer(id=vid)


def test_cache_is_used_and_notify_empties_it(stack, clients, vs):
    """Proof that reads are served from the cache: a rename written without its trigger (no
    NOTIFY) goes unnoticed; a notification then ends it."""
    warm(clients, vs["id"])
    new = uniq("quiet")
    with db_session(stack, quiet=True) as cur:
        cur.execute("UPDATE vservers SET name = %s WHERE id = %s", (new, vs["id"]))
    assert json_get(clients, vs["id"])["name"] == vs["name"]
    assert soap_get(clients, vs["id"]).name == vs["name"]
    with db_session(stack) as cur:
        cur.execute("NOTIFY wr_auth, 'test'")
    w.wait_until(lambda: json_get(clients, vs["id"])["name"] == new, NOTIFY_DEADLINE, 0.05,
                 "the cache to be emptied by NOTIFY")
    assert soap_get(clients, vs["id"]).name == new


def test_cache_off(stack, clients, vs):
    """vserver_cache_ttl = 0 (SIGHUP): every read goes to PostgreSQL."""
    reloaded(stack, vserver_cache_ttl=0)
    try:
        warm(clients, vs["id"])
        new = uniq("quiet")
        with db_session(stack, quiet=True) as cur:
            cur.execute("UPDATE vservers SET name = %s WHERE id = %s", (new, vs["id"]))
        assert json_get(clients, vs["id"])["name"] == new
        assert soap_get(clients, vs["id"]).name == new
    finally:
        reloaded(stack, vserver_cache_ttl=None)


def test_api_changes_at_once(stack, tree, clients, vs):
    """Changes made through the API are seen by the very next read, through both bindings."""
    vid = vs["id"]
    warm(clients, vid)
    tree.cadmin.api.call("vserver-update", id=vid, failover=True)
    assert json_get(clients, vid)["failover"] is True
    assert soap_get(clients, vid).failover is True
    tree.cadmin.api.call("vserver-resize", id=vid, cores=2, ram_mb=1024)
    got = json_get(clients, vid)
    assert (got["cores"], got["ram_mb"]) == (2, 1024)
    assert soap_get(clients, vid).cores == 2
    # a SOAP change, read through JSON and SOAP
    soap = clients[1]
    soap.service.updateVServer(id=vid, failover=False)
    assert json_get(clients, vid)["failover"] is False
    assert soap_get(clients, vid).failover is False
    tree.cadmin.api.call("vserver-delete", id=vid)
    assert_err(clients[0].err("vserver-get", id=vid), "not_found", 404)
    s.expect_fault("Client.NotFound", soap.service.getVServer, id=vid)


def mac_of(vid):
    return "52:54:00:%02x:%02x:%02x" % ((vid >> 16) & 255, (vid >> 8) & 255, vid & 255)


def ip_of(vid):
    return "198.51.100.%d" % (vid % 250 + 1)


# Each: (setup with triggers, the change from another session, the check of the answer).
CHANGES = {
    "vservers": (
        None,
        lambda cur, v: cur.execute("UPDATE vservers SET state = 'error', error = 'by psql' "
                                   "WHERE id = %s", (v,)),
        lambda got, v: got["state"] == "error" and got["error"] == "by psql"),
    "nics": (
        None,
        lambda cur, v: cur.execute("INSERT INTO nics (vserver_id, mac) VALUES (%s, %s)",
                                   (v, mac_of(v))),
        lambda got, v: mac_of(v) in (got["macs"] or [])),
    "guest_ips": (
        None,
        lambda cur, v: cur.execute("INSERT INTO guest_ips (vserver_id, address, scope) "
                                   "VALUES (%s, %s, 'global')", (v, ip_of(v))),
        lambda got, v: ip_of(v) in (got.get("ips") or [])),
    "isos": (
        lambda cur, v: cur.execute("UPDATE vservers SET iso = %s WHERE id = %s",
                                   (f"/nowhere/{v}.iso", v)),
        lambda cur, v: cur.execute("INSERT INTO isos (name, path, size_bytes) "
                                   "VALUES (%s, %s, 1)", (f"cache{v}.iso", f"/nowhere/{v}.iso")),
        lambda got, v: got["iso"] == f"cache{v}.iso"),
    "nodes": (
        lambda cur, v: cur.execute("WITH n AS (INSERT INTO nodes (name) VALUES (%s) "
                                   "RETURNING id) UPDATE vservers SET node_id = n.id FROM n "
                                   "WHERE vservers.id = %s", (f"cache-a-{v}", v)),
        lambda cur, v: cur.execute("UPDATE nodes SET name = %s WHERE name = %s",
                                   (f"cache-b-{v}", f"cache-a-{v}")),
        lambda got, v: got["node"] == f"cache-b-{v}"),
}


@pytest.mark.parametrize("table", sorted(CHANGES))
def test_changes_from_another_session(stack, clients, vs, table):
    """A change written by another database session (triggers on) reaches the cache by
    NOTIFY: the answer changes well within the cache's lifetime, through both bindings."""
    setup, change, check = CHANGES[table]
    vid = vs["id"]
    if setup is not None:
        with db_session(stack) as cur:
            setup(cur, vid)
    settle(stack, clients, vid)
    got = warm(clients, vid)
    assert not check(got, vid)
    with db_session(stack) as cur:
        change(cur, vid)
    w.wait_until(lambda: check(json_get(clients, vid), vid), NOTIFY_DEADLINE, 0.05,
                 f"the change of {table} in vserver-get")
    soap_got = soap_get(clients, vid)
    if table == "vservers":
        assert soap_got.state == "error"
    elif table == "nodes":
        assert soap_got.node == f"cache-b-{vid}"
    elif table == "isos":
        assert soap_got.iso == f"cache{vid}.iso"


def test_fresh_addresses_age_out(stack, clients, vs):
    """A guest address leaves the answer when it goes stale (ip_stale_after), although nothing
    is written: the cached copy ends with the first fresh address's freshness."""
    vid = vs["id"]
    stale_after = int(stack.conf.get("ip_stale_after", 3600))
    t0 = time.monotonic()
    with db_session(stack) as cur:
        cur.execute("INSERT INTO guest_ips (vserver_id, address, scope, last_seen) VALUES "
                    "(%s, %s, 'global', now() - make_interval(secs => %s))",
                    (vid, ip_of(vid), stale_after - 3))
    w.wait_until(lambda: ip_of(vid) in (json_get(clients, vid).get("ips") or [])
                 or time.monotonic() - t0 > 2.5, NOTIFY_DEADLINE, 0.05, "the address")
    if time.monotonic() - t0 < 2.5:  # read while still fresh (a slow machine may be late)
        got = warm(clients, vid)
        if time.monotonic() - t0 < 2.5:
            assert ip_of(vid) in got["ips"]
    while time.monotonic() - t0 < 3.5:
        time.sleep(0.05)
    assert ip_of(vid) not in (json_get(clients, vid).get("ips") or [])
    assert ip_of(vid) not in (soap_get(clients, vid).ips or [])


def test_stale_after_reloaded(stack, clients, vs):
    """A copy read with another ip_stale_after is not used after a reload."""
    vid = vs["id"]
    with db_session(stack) as cur:
        cur.execute("INSERT INTO guest_ips (vserver_id, address, scope, last_seen) VALUES "
                    "(%s, %s, 'global', now() - interval '100 seconds')", (vid, ip_of(vid)))
    w.wait_until(lambda: ip_of(vid) in (json_get(clients, vid).get("ips") or []),
                 NOTIFY_DEADLINE, 0.05, "the address")
    warm(clients, vid)
    reloaded(stack, ip_stale_after=50)
    try:
        assert ip_of(vid) not in (json_get(clients, vid).get("ips") or [])
        assert ip_of(vid) not in (soap_get(clients, vid).ips or [])
    finally:
        reloaded(stack, ip_stale_after=None)


def test_rights_decided_per_call(stack, padmin, tree, clients, vs):
    """A cached vServer is still not found for other tenants and for users without a role on
    it; a role given or taken applies to the next read."""
    vid = vs["id"]
    warm(clients, vid)
    other = w.make_tree(stack, padmin)
    _, osecret = token_for(other.cadmin.api)
    oapi, osoap = stack.api(token=osecret), s.client(stack, token=osecret)
    plain = make_user(stack, tree.cadmin.api, tree.customer["id"])
    _, psecret = token_for(plain.api)
    papi, psoap = stack.api(token=psecret), s.client(stack, token=psecret)
    for api, soap in ((oapi, osoap), (papi, psoap)):
        for _ in range(2):
            assert_err(api.err("vserver-get", id=vid), "not_found", 404)
            s.expect_fault("Client.NotFound", soap.service.getVServer, id=vid)
    g = tree.cadmin.api.call("grant", user_id=plain.user["id"], scope_type="vserver",
                             scope_id=vid, role="viewer")
    assert papi.call("vserver-get", id=vid)["id"] == vid
    assert psoap.service.getVServer(id=vid).id == vid
    tree.cadmin.api.call("revoke", id=g["id"])
    assert_err(papi.err("vserver-get", id=vid), "not_found", 404)
    s.expect_fault("Client.NotFound", psoap.service.getVServer, id=vid)


def test_reconnect_empties_the_cache(stack, tree, clients, vs):
    """Notifications sent while a session was not listening are lost: a session that
    (re)starts listening empties the cache. A rename without notification, then every webrackd
    session terminated: once the pool is back, the new name must be read (the cached copy
    would live on for vserver_cache_ttl = 10 s otherwise)."""
    vid = vs["id"]
    warm(clients, vid)
    new = uniq("quiet")
    with db_session(stack, quiet=True) as cur:
        cur.execute("UPDATE vservers SET name = %s WHERE id = %s", (new, vid))
    assert json_get(clients, vid)["name"] == vs["name"]  # cached
    with db_session(stack) as cur:
        cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend'")
        assert cur.fetchone()[0] >= 1

    def pool_back():
        try:
            return tree.cadmin.api.call("vserver-list") is not None
        except w.ApiError:
            return False
    w.wait_until(pool_back, NOTIFY_DEADLINE, 0.05, "the pool to reconnect")
    end = time.monotonic() + 1.5
    while time.monotonic() < end:
        try:
            got = json_get(clients, vid)
        except w.ApiError as e:  # a session still reconnecting
            assert e.code == "unavailable", e
            continue
        assert got["name"] == new
        time.sleep(0.05)
    assert soap_get(clients, vid).name == new


def test_reads_racing_writes(stack, tree, clients, vs):
    """Changes through the API while other clients keep the vServer cached and reads in
    flight: after every change is answered, both bindings read the new state. (A read that
    started before a change and returns after its notification must not be stored: the
    generation check, unit-tested in tests/unit/test_vserver_cache.c; this race is too narrow
    to provoke reliably from here.)"""
    import threading
    vid = vs["id"]
    stop = threading.Event()
    errors = []

    def reader():
        api = stack.api(token=token_for(tree.cadmin.api)[1])
        while not stop.is_set():
            try:
                api.call("vserver-get", id=vid)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
                return
    threads = [threading.Thread(target=reader, daemon=True) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(40):
            want = i % 2 == 0
            tree.cadmin.api.call("vserver-update", id=vid, failover=want)
            assert json_get(clients, vid)["failover"] is want, f"change {i}"
            assert soap_get(clients, vid).failover is want, f"change {i}"
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert not errors, errors
