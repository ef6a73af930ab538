-- webrackd keeps the principal of a recently used API token in memory (controller/auth_cache.c).
-- Every change that can alter what a token authenticates as, or what it may do, notifies
-- channel wr_auth; every session of webrackd's pool LISTENs and empties the cache on any
-- notification. PostgreSQL folds identical notifications of one transaction into one.
--
-- What a token's principal is made of (controller/auth.c, AUTH_PRINCIPAL_JSON and
-- AUTH_ACCOUNT_ENABLED): the token row (revoked_at, expires_at, privileges, user), the user
-- (enabled, username, account, totp_enabled), the accounts on its path (enabled, path) and its
-- grants. Routine writes that change none of it (last_used_at, passwords, quotas) stay silent.

CREATE FUNCTION wr_auth_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('wr_auth', TG_TABLE_NAME);
	RETURN NULL;
END $$;

CREATE TRIGGER api_tokens_auth_changed
	AFTER UPDATE ON api_tokens FOR EACH ROW
	WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
	      OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
	      OR OLD.privileges IS DISTINCT FROM NEW.privileges
	      OR OLD.user_id IS DISTINCT FROM NEW.user_id
	      OR OLD.token_hash IS DISTINCT FROM NEW.token_hash)
	EXECUTE FUNCTION wr_auth_changed();
CREATE TRIGGER api_tokens_auth_deleted
	AFTER DELETE ON api_tokens FOR EACH ROW EXECUTE FUNCTION wr_auth_changed();

CREATE TRIGGER users_auth_changed
	AFTER UPDATE ON users FOR EACH ROW
	WHEN (OLD.enabled IS DISTINCT FROM NEW.enabled
	      OR OLD.username IS DISTINCT FROM NEW.username
	      OR OLD.account_id IS DISTINCT FROM NEW.account_id
	      OR OLD.totp_enabled IS DISTINCT FROM NEW.totp_enabled)
	EXECUTE FUNCTION wr_auth_changed();
CREATE TRIGGER users_auth_deleted
	AFTER DELETE ON users FOR EACH ROW EXECUTE FUNCTION wr_auth_changed();

CREATE TRIGGER accounts_auth_changed
	AFTER UPDATE ON accounts FOR EACH ROW
	WHEN (OLD.enabled IS DISTINCT FROM NEW.enabled OR OLD.path IS DISTINCT FROM NEW.path)
	EXECUTE FUNCTION wr_auth_changed();
CREATE TRIGGER accounts_auth_deleted
	AFTER DELETE ON accounts FOR EACH ROW EXECUTE FUNCTION wr_auth_changed();

CREATE TRIGGER grants_auth_changed
	AFTER INSERT OR UPDATE OR DELETE ON grants FOR EACH ROW EXECUTE FUNCTION wr_auth_changed();

-- Not about the cache, but found by the same benchmark (bench/soap): vserver-get called
-- wr_guest_ips_fresh(), a LANGUAGE sql function that cannot be inlined, so PostgreSQL planned
-- its query again on every call (~0.3 ms, five times the rest of vserver-get). The same body in
-- PL/pgSQL keeps its plan for the session. Same signature, same result.
CREATE OR REPLACE FUNCTION wr_guest_ips_fresh(vs bigint, stale_after integer) RETURNS json
LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN (SELECT coalesce(json_agg(host(address) ORDER BY family(address), address), '[]')
		FROM guest_ips WHERE vserver_id = vs AND scope = 'global'
			AND last_seen > now() - make_interval(secs => stale_after));
END $$;
