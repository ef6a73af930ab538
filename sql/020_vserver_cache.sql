-- webrackd keeps recently read vServers in memory (controller/vserver_cache.c), for
-- vserver-get / getVServer. Every change that can alter what vserver-get returns notifies the
-- caches' channel wr_auth (sql/014_auth_cache.sql; the payload names the table, and
-- controller/auth.c empties the vServer cache on any notification): the vServer row itself,
-- its NICs (macs), its guest addresses (ips), the name of its node, the ISOs (iso), and the
-- path of its account (already notified by accounts_auth_changed in 014). Rights come from the
-- caller's principal on every call, so grants need nothing here.
--
-- Statement-level where writes are frequent (one call per statement, not per row; a statement
-- that changes no row notifies all the same, which costs a refill, never a stale read).
-- PostgreSQL folds identical notifications of one transaction into one.

CREATE TRIGGER vservers_cache_changed
	AFTER UPDATE OR DELETE OR TRUNCATE ON vservers
	FOR EACH STATEMENT EXECUTE FUNCTION wr_auth_changed();

CREATE TRIGGER nics_cache_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON nics
	FOR EACH STATEMENT EXECUTE FUNCTION wr_auth_changed();

CREATE TRIGGER guest_ips_cache_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON guest_ips
	FOR EACH STATEMENT EXECUTE FUNCTION wr_auth_changed();

CREATE TRIGGER isos_cache_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON isos
	FOR EACH STATEMENT EXECUTE FUNCTION wr_auth_changed();

CREATE TRIGGER nodes_cache_renamed
	AFTER UPDATE ON nodes FOR EACH ROW
	WHEN (OLD.name IS DISTINCT FROM NEW.name)
	EXECUTE FUNCTION wr_auth_changed();
CREATE TRIGGER nodes_cache_deleted
	AFTER DELETE OR TRUNCATE ON nodes
	FOR EACH STATEMENT EXECUTE FUNCTION wr_auth_changed();
