"""The authentication cache (controller/auth_cache.c, sql/014_auth_cache.sql): an API token's
principal is kept in memory for auth_cache_ttl seconds, and every change to what it may do takes
effect on the very next call, through the JSON API and SOAP alike: a revoked token, a disabled
user or account, a removed or added grant, changed token privileges. Changes made outside the
controller (another session) arrive by NOTIFY and are polled for with a deadline."""

import contextlib
import time

import psycopg2
import pytest

import soap_it as s
import webrack_it as w
from webrack_it import assert_err, make_user, make_vserver, uniq

DEADLINE = 10  # seconds for a SIGHUP to be applied
# seconds for a change made outside webrackd to reach it (NOTIFY): well below the cache's
# lifetime (auth_cache_ttl, 10 s by default), so an entry that merely expired cannot pass
NOTIFY_DEADLINE = 5


def warm(stack, secret, vid):
    """Use the token twice through both bindings, so that its principal is cached."""
    api = stack.api(token=secret)
    soap = s.client(stack, token=secret)
    for _ in range(2):
        assert api.call("vserver-get", id=vid)["id"] == vid
        assert soap.service.getVServer(id=vid).id == vid
    return api, soap


def assert_denied_everywhere(api, soap, vid, code, status, fault):
    assert_err(api.err("vserver-get", id=vid), code, status)
    s.expect_fault(fault, soap.service.getVServer, id=vid)


@contextlib.contextmanager
def db_session(stack, quiet=False):
    """A database session of its own; quiet: its writes fire no triggers (so no NOTIFY)."""
    conn = psycopg2.connect(stack.conninfo)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            if quiet:
                cur.execute("SET session_replication_role = replica")
            yield cur
    finally:
        conn.close()


def token_for(api, **kw):
    r = api.call("token-create", name=uniq("tok"), expires_days=1, **kw)
    return r["token"]["id"], r["secret"]


@pytest.fixture
def vs(tree):
    return make_vserver(tree.cadmin.api, tree.customer["id"])


def test_cache_is_used_and_notify_empties_it(stack, tree, vs):
    """Proof that calls are served from the cache: a revocation written without its trigger
    (no NOTIFY) goes unnoticed; the notification then ends it."""
    tid, secret = token_for(tree.cadmin.api)
    api, soap = warm(stack, secret, vs["id"])
    with db_session(stack, quiet=True) as cur:
        cur.execute("UPDATE api_tokens SET revoked_at = now() WHERE id = %s", (tid,))
    # still cached (the entry lives auth_cache_ttl = 10 s; this is well within)
    assert api.call("vserver-get", id=vs["id"])["id"] == vs["id"]
    assert soap.service.getVServer(id=vs["id"]).id == vs["id"]
    with db_session(stack) as cur:
        cur.execute("NOTIFY wr_auth, 'test'")
    w.wait_until(lambda: api.err("vserver-get", id=vs["id"]).code == "unauthenticated",
                 NOTIFY_DEADLINE, 0.05, "the cache to be emptied by NOTIFY")
    assert_denied_everywhere(api, soap, vs["id"], "unauthenticated", 401,
                             "Client.Unauthenticated")


def reloaded(stack, **changes):
    """SIGHUP with changes (None: back to the default) and wait until it is applied."""
    def count():
        return stack.log_file.read_text(errors="replace").count("configuration reloaded")
    before = count()
    for k, v in changes.items():
        if v is None:
            stack.conf.pop(k, None)
        else:
            stack.conf[k] = v
    stack.reload()
    w.wait_until(lambda: count() > before, DEADLINE, 0.05, "the reload")


def test_cache_off(stack, tree, vs):
    """auth_cache_ttl = 0 (SIGHUP): every call authenticates in PostgreSQL."""
    tid, secret = token_for(tree.cadmin.api)
    reloaded(stack, auth_cache_ttl=0)
    try:
        api, soap = warm(stack, secret, vs["id"])
        with db_session(stack, quiet=True) as cur:
            cur.execute("UPDATE api_tokens SET revoked_at = now() WHERE id = %s", (tid,))
        assert_denied_everywhere(api, soap, vs["id"], "unauthenticated", 401,
                                 "Client.Unauthenticated")
    finally:
        reloaded(stack, auth_cache_ttl=None)


def test_token_revoke_at_once(stack, tree, vs):
    tid, secret = token_for(tree.cadmin.api)
    api, soap = warm(stack, secret, vs["id"])
    tree.cadmin.api.call("token-revoke", id=tid)
    assert_denied_everywhere(api, soap, vs["id"], "unauthenticated", 401,
                             "Client.Unauthenticated")


def test_token_revoke_via_soap_at_once(stack, tree, vs):
    """The revocation itself through SOAP (with another token of the same user)."""
    tid, secret = token_for(tree.cadmin.api)
    _, other = token_for(tree.cadmin.api)
    api, soap = warm(stack, secret, vs["id"])
    s.client(stack, token=other).service.revokeToken(id=tid)
    assert_denied_everywhere(api, soap, vs["id"], "unauthenticated", 401,
                             "Client.Unauthenticated")
    assert s.client(stack, token=other).service.getVServer(id=vs["id"]).id == vs["id"]


def test_user_disabled_at_once(stack, tree, vs):
    u = make_user(stack, tree.cadmin.api, tree.customer["id"], role="viewer")
    _, secret = token_for(u.api)
    api, soap = warm(stack, secret, vs["id"])
    tree.cadmin.api.call("user-update", id=u.id, enabled=False)
    assert_denied_everywhere(api, soap, vs["id"], "unauthenticated", 401,
                             "Client.Unauthenticated")
    tree.cadmin.api.call("user-update", id=u.id, enabled=True)
    assert api.call("vserver-get", id=vs["id"])["id"] == vs["id"]


def test_account_disabled_at_once(stack, tree, vs):
    _, secret = token_for(tree.cadmin.api)
    api, soap = warm(stack, secret, vs["id"])
    tree.radmin.api.call("account-update", id=tree.customer["id"], enabled=False)
    try:
        assert_denied_everywhere(api, soap, vs["id"], "unauthenticated", 401,
                                 "Client.Unauthenticated")
    finally:
        tree.radmin.api.call("account-update", id=tree.customer["id"], enabled=True)
    assert api.call("vserver-get", id=vs["id"])["id"] == vs["id"]


def test_grant_removed_and_added_at_once(stack, tree, vs):
    """A user whose only right is a grant on one vServer: revoking the grant makes the vServer
    not found on the next call (exactly like another tenant's); granting it again shows it."""
    u = make_user(stack, tree.cadmin.api, tree.customer["id"])
    g = tree.cadmin.api.call("grant", user_id=u.id, scope_type="vserver", scope_id=vs["id"],
                             role="viewer")
    _, secret = token_for(u.api)
    api, soap = warm(stack, secret, vs["id"])
    tree.cadmin.api.call("revoke", id=g["id"])
    assert_denied_everywhere(api, soap, vs["id"], "not_found", 404, "Client.NotFound")
    # the same answer as for an object that does not exist
    assert_err(api.err("vserver-get", id=vs["id"] + 10**9), "not_found", 404)
    tree.cadmin.api.call("grant", user_id=u.id, scope_type="vserver", scope_id=vs["id"],
                         role="viewer")
    assert api.call("vserver-get", id=vs["id"])["id"] == vs["id"]
    assert soap.service.getVServer(id=vs["id"]).id == vs["id"]


def test_token_privileges_cached_and_changed(stack, tree, vs):
    """A cached token keeps its privilege subset; a change of the subset (written by another
    session: there is no API for it) reaches webrackd through NOTIFY."""
    tid, secret = token_for(tree.cadmin.api, privileges=["vserver.view"])
    api, soap = warm(stack, secret, vs["id"])
    for _ in range(2):  # the second from the cache
        assert_err(api.err("vserver-delete", id=vs["id"]), "denied", 403)
        s.expect_fault("Client.Denied", soap.service.deleteVServer, id=vs["id"])
    with db_session(stack) as cur:
        cur.execute("UPDATE api_tokens SET privileges = '{stats.view}' WHERE id = %s", (tid,))
    w.wait_until(lambda: api.err("vserver-get", id=vs["id"]).code == "not_found",
                 NOTIFY_DEADLINE, 0.05, "the privilege change to reach webrackd")
    s.expect_fault("Client.NotFound", soap.service.getVServer, id=vs["id"])
    assert tree.cadmin.api.call("vserver-get", id=vs["id"])["id"] == vs["id"]


def test_other_tenant_stays_not_found(stack, padmin, tree, vs):
    """Cached or not, another tenant's vServer is not found, never denied."""
    other = w.make_tree(stack, padmin)
    _, secret = token_for(other.cadmin.api)
    api = stack.api(token=secret)
    soap = s.client(stack, token=secret)
    for _ in range(3):
        assert_err(api.err("vserver-get", id=vs["id"]), "not_found", 404)
        s.expect_fault("Client.NotFound", soap.service.getVServer, id=vs["id"])


def test_reconnect_empties_the_cache(stack, tree, vs):
    """Notifications sent while a session of webrackd's pool was not listening are lost: a
    session that (re)starts listening empties the cache. Shown with a revocation that sends no
    notification at all, then every webrackd session terminated: once the pool is back and
    listening, the revoked token must still be refused (its cached principal would live on for
    auth_cache_ttl = 10 s otherwise)."""
    tid, secret = token_for(tree.cadmin.api)
    _, fresh = token_for(tree.cadmin.api)
    api, soap = warm(stack, secret, vs["id"])
    with db_session(stack, quiet=True) as cur:
        cur.execute("UPDATE api_tokens SET revoked_at = now() WHERE id = %s", (tid,))
    assert api.call("vserver-get", id=vs["id"])["id"] == vs["id"]  # cached
    with db_session(stack) as cur:
        cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend'")
        assert cur.fetchone()[0] >= 1
    other = stack.api(token=fresh)

    def pool_back():
        try:
            return other.call("vserver-get", id=vs["id"])["id"] == vs["id"]
        except w.ApiError:
            return False
    w.wait_until(pool_back, NOTIFY_DEADLINE, 0.05, "the pool to reconnect")
    # every session reconnects within its first backoff (0.1 s); keep asking past that
    end = time.monotonic() + 1.5
    while time.monotonic() < end:
        assert_err(api.err("vserver-get", id=vs["id"]), "unauthenticated", 401)
        time.sleep(0.05)
    s.expect_fault("Client.Unauthenticated", soap.service.getVServer, id=vs["id"])
