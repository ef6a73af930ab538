-- webrack foundation: tenancy (accounts, users, grants), vDataCenters and vServer records,
-- sessions, API tokens, login throttling, the task log and the append-only audit log.
-- Custom SQLSTATEs raised here are mapped by the controller to stable API codes:
--   WRNFD not_found, WRCON conflict, WRQUO quota, WRINV invalid.

CREATE TABLE accounts (
	id bigserial PRIMARY KEY,
	parent_id bigint REFERENCES accounts(id),
	type text NOT NULL CHECK (type IN ('provider', 'reseller', 'customer')),
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
	path bigint[] NOT NULL,
	quota_cores integer CHECK (quota_cores >= 0),
	quota_ram_mb integer CHECK (quota_ram_mb >= 0),
	quota_disk_gb integer CHECK (quota_disk_gb >= 0),
	quota_vservers integer CHECK (quota_vservers >= 0),
	require_2fa boolean NOT NULL DEFAULT false,
	enabled boolean NOT NULL DEFAULT true,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX accounts_one_provider ON accounts ((true)) WHERE type = 'provider';
CREATE UNIQUE INDEX accounts_sibling_name ON accounts (parent_id, lower(name));
CREATE INDEX accounts_path ON accounts USING gin (path);

-- Tree rules and the materialised path, kept by the database so no caller can get them wrong.
CREATE FUNCTION wr_accounts_before_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	p accounts;
BEGIN
	IF NEW.type = 'provider' THEN
		IF NEW.parent_id IS NOT NULL THEN
			RAISE EXCEPTION 'the provider account has no parent' USING ERRCODE = 'WRINV';
		END IF;
		NEW.path := ARRAY[NEW.id];
		RETURN NEW;
	END IF;
	SELECT * INTO p FROM accounts WHERE id = NEW.parent_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'parent account not found' USING ERRCODE = 'WRNFD';
	END IF;
	IF NEW.type = 'reseller' AND p.type <> 'provider' THEN
		RAISE EXCEPTION 'a reseller belongs directly to the provider' USING ERRCODE = 'WRINV';
	END IF;
	IF NEW.type = 'customer' AND p.type NOT IN ('provider', 'reseller') THEN
		RAISE EXCEPTION 'a customer belongs to the provider or a reseller' USING ERRCODE = 'WRINV';
	END IF;
	NEW.path := p.path || NEW.id;
	RETURN NEW;
END $$;
CREATE TRIGGER accounts_before_insert BEFORE INSERT ON accounts
	FOR EACH ROW EXECUTE FUNCTION wr_accounts_before_insert();

-- A child's quota may not exceed its parent's (NULL = unlimited, bounded by the parent anyway).
CREATE FUNCTION wr_accounts_check_quota() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	p accounts;
BEGIN
	IF NEW.parent_id IS NULL THEN
		RETURN NEW;
	END IF;
	SELECT * INTO p FROM accounts WHERE id = NEW.parent_id;
	IF p.quota_cores < NEW.quota_cores THEN
		RAISE EXCEPTION 'quota_cores % exceeds the parent account''s quota of %', NEW.quota_cores, p.quota_cores USING ERRCODE = 'WRQUO';
	END IF;
	IF p.quota_ram_mb < NEW.quota_ram_mb THEN
		RAISE EXCEPTION 'quota_ram_mb % exceeds the parent account''s quota of %', NEW.quota_ram_mb, p.quota_ram_mb USING ERRCODE = 'WRQUO';
	END IF;
	IF p.quota_disk_gb < NEW.quota_disk_gb THEN
		RAISE EXCEPTION 'quota_disk_gb % exceeds the parent account''s quota of %', NEW.quota_disk_gb, p.quota_disk_gb USING ERRCODE = 'WRQUO';
	END IF;
	IF p.quota_vservers < NEW.quota_vservers THEN
		RAISE EXCEPTION 'quota_vservers % exceeds the parent account''s quota of %', NEW.quota_vservers, p.quota_vservers USING ERRCODE = 'WRQUO';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER accounts_check_quota BEFORE INSERT OR UPDATE ON accounts
	FOR EACH ROW EXECUTE FUNCTION wr_accounts_check_quota();

CREATE TABLE users (
	id bigserial PRIMARY KEY,
	account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	username text NOT NULL CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$'),
	password_hash text NOT NULL,
	email text,
	display_name text,
	enabled boolean NOT NULL DEFAULT true,
	totp_secret text,
	totp_enabled boolean NOT NULL DEFAULT false,
	totp_pending_secret text,
	totp_last_step bigint NOT NULL DEFAULT -1,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username ON users (lower(username));
CREATE INDEX users_account ON users (account_id);

CREATE TABLE vdcs (
	id bigserial PRIMARY KEY,
	account_id bigint NOT NULL REFERENCES accounts(id),
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX vdcs_name ON vdcs (account_id, lower(name));

CREATE TABLE vservers (
	id bigserial PRIMARY KEY,
	account_id bigint NOT NULL REFERENCES accounts(id),
	vdc_id bigint REFERENCES vdcs(id),
	name text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
	cores integer NOT NULL CHECK (cores BETWEEN 1 AND 256),
	ram_mb integer NOT NULL CHECK (ram_mb BETWEEN 64 AND 4194304),
	disk_gb integer NOT NULL CHECK (disk_gb BETWEEN 1 AND 65536),
	state text NOT NULL DEFAULT 'defined',
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX vservers_name ON vservers (account_id, lower(name));
CREATE INDEX vservers_vdc ON vservers (vdc_id);

CREATE TABLE grants (
	id bigserial PRIMARY KEY,
	user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	scope_type text NOT NULL CHECK (scope_type IN ('account', 'vdc', 'vserver')),
	scope_id bigint NOT NULL,
	role text NOT NULL CHECK (role IN ('admin', 'operator', 'user', 'viewer')),
	created_by bigint,
	created_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (user_id, scope_type, scope_id, role)
);
CREATE INDEX grants_scope ON grants (scope_type, scope_id);

-- A grant dies with the object it was given on.
CREATE FUNCTION wr_drop_scope_grants() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM grants WHERE scope_type = TG_ARGV[0] AND scope_id = OLD.id;
	RETURN OLD;
END $$;
CREATE TRIGGER accounts_drop_grants AFTER DELETE ON accounts
	FOR EACH ROW EXECUTE FUNCTION wr_drop_scope_grants('account');
CREATE TRIGGER vdcs_drop_grants AFTER DELETE ON vdcs
	FOR EACH ROW EXECUTE FUNCTION wr_drop_scope_grants('vdc');
CREATE TRIGGER vservers_drop_grants AFTER DELETE ON vservers
	FOR EACH ROW EXECUTE FUNCTION wr_drop_scope_grants('vserver');

CREATE TABLE sessions (
	id bigserial PRIMARY KEY,
	token_hash text NOT NULL UNIQUE,
	user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	csrf_token text NOT NULL,
	mfa_pending boolean NOT NULL DEFAULT false,
	enrol_only boolean NOT NULL DEFAULT false,
	client_ip text,
	created_at timestamptz NOT NULL DEFAULT now(),
	last_seen timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
	id bigserial PRIMARY KEY,
	user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
	token_hash text NOT NULL UNIQUE,
	privileges text[],
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	revoked_at timestamptz,
	last_used_at timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE login_failures (
	id bigserial PRIMARY KEY,
	username text NOT NULL,
	client_ip text NOT NULL,
	at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_user ON login_failures (lower(username), at);
CREATE INDEX login_failures_ip ON login_failures (client_ip, at);

-- The job log users see. Scope columns copy the object's place in the tree at the time, so the
-- rows stay visible (to the right people only) after the object is gone.
CREATE TABLE tasks (
	id bigserial PRIMARY KEY,
	object_type text NOT NULL,
	object_id bigint,
	object_name text,
	action text NOT NULL,
	user_id bigint,
	username text,
	scope_path bigint[] NOT NULL,
	scope_vdc bigint,
	scope_vserver bigint,
	started_at timestamptz NOT NULL DEFAULT now(),
	ended_at timestamptz,
	status text NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
	info text
);
CREATE INDEX tasks_scope ON tasks USING gin (scope_path);
CREATE INDEX tasks_object ON tasks (object_type, object_id);

CREATE TABLE audit (
	id bigserial PRIMARY KEY,
	at timestamptz NOT NULL DEFAULT now(),
	user_id bigint,
	username text,
	scope_path bigint[],
	event text NOT NULL,
	object_type text,
	object_id bigint,
	detail text,
	client_ip text
);
CREATE INDEX audit_scope ON audit USING gin (scope_path);

CREATE FUNCTION wr_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'the audit log is append-only' USING ERRCODE = 'WRINV';
END $$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
	FOR EACH ROW EXECUTE FUNCTION wr_audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
	FOR EACH STATEMENT EXECUTE FUNCTION wr_audit_append_only();

-- Usage of an account's whole subtree, for quota checks.
CREATE FUNCTION wr_account_usage(acct bigint, OUT cores bigint, OUT ram_mb bigint,
		OUT disk_gb bigint, OUT vservers bigint) LANGUAGE sql STABLE AS $$
	SELECT coalesce(sum(v.cores), 0), coalesce(sum(v.ram_mb), 0), coalesce(sum(v.disk_gb), 0),
	       count(v.id)
	FROM vservers v JOIN accounts a ON a.id = v.account_id
	WHERE a.path @> ARRAY[acct];
$$;

-- Check that adding resources to ACCT stays within the quota of ACCT and every ancestor. The
-- ancestors are locked first (in path order, so concurrent callers cannot deadlock), and each
-- following query takes a fresh snapshot, so two concurrent creations cannot both slip through.
CREATE FUNCTION wr_quota_check(acct bigint, add_cores bigint, add_ram bigint, add_disk bigint,
		add_vservers bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	anc accounts;
	u record;
	p bigint[];
BEGIN
	SELECT path INTO p FROM accounts WHERE id = acct;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'account not found' USING ERRCODE = 'WRNFD';
	END IF;
	PERFORM 1 FROM accounts WHERE id = ANY(p) ORDER BY array_position(p, id) FOR UPDATE;
	FOR anc IN SELECT * FROM accounts WHERE id = ANY(p) ORDER BY array_position(p, id) LOOP
		SELECT * INTO u FROM wr_account_usage(anc.id);
		IF anc.quota_cores IS NOT NULL AND u.cores + add_cores > anc.quota_cores THEN
			RAISE EXCEPTION 'quota exceeded: % of % cores on account "%"', u.cores + add_cores, anc.quota_cores, anc.name USING ERRCODE = 'WRQUO';
		END IF;
		IF anc.quota_ram_mb IS NOT NULL AND u.ram_mb + add_ram > anc.quota_ram_mb THEN
			RAISE EXCEPTION 'quota exceeded: % of % MB RAM on account "%"', u.ram_mb + add_ram, anc.quota_ram_mb, anc.name USING ERRCODE = 'WRQUO';
		END IF;
		IF anc.quota_disk_gb IS NOT NULL AND u.disk_gb + add_disk > anc.quota_disk_gb THEN
			RAISE EXCEPTION 'quota exceeded: % of % GB disk on account "%"', u.disk_gb + add_disk, anc.quota_disk_gb, anc.name USING ERRCODE = 'WRQUO';
		END IF;
		IF anc.quota_vservers IS NOT NULL AND u.vservers + add_vservers > anc.quota_vservers THEN
			RAISE EXCEPTION 'quota exceeded: % of % vServers on account "%"', u.vservers + add_vservers, anc.quota_vservers, anc.name USING ERRCODE = 'WRQUO';
		END IF;
	END LOOP;
END $$;

CREATE FUNCTION wr_vserver_create(acct bigint, vdc bigint, vname text, vcores integer,
		vram integer, vdisk integer) RETURNS vservers LANGUAGE plpgsql AS $$
DECLARE
	v vservers;
BEGIN
	IF vdc IS NOT NULL AND NOT EXISTS (SELECT 1 FROM vdcs WHERE id = vdc AND account_id = acct) THEN
		RAISE EXCEPTION 'vDataCenter not found in this account' USING ERRCODE = 'WRNFD';
	END IF;
	PERFORM wr_quota_check(acct, vcores, vram, vdisk, 1);
	INSERT INTO vservers (account_id, vdc_id, name, cores, ram_mb, disk_gb)
		VALUES (acct, vdc, vname, vcores, vram, vdisk) RETURNING * INTO v;
	RETURN v;
END $$;

CREATE FUNCTION wr_account_delete(acct bigint) RETURNS accounts LANGUAGE plpgsql AS $$
DECLARE
	a accounts;
	n bigint;
BEGIN
	SELECT * INTO a FROM accounts WHERE id = acct FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'account not found' USING ERRCODE = 'WRNFD';
	END IF;
	IF a.type = 'provider' THEN
		RAISE EXCEPTION 'the provider account cannot be deleted' USING ERRCODE = 'WRCON';
	END IF;
	SELECT count(*) INTO n FROM accounts WHERE parent_id = acct;
	IF n > 0 THEN
		RAISE EXCEPTION 'account "%" still has % child account(s)', a.name, n USING ERRCODE = 'WRCON';
	END IF;
	SELECT count(*) INTO n FROM vservers WHERE account_id = acct;
	IF n > 0 THEN
		RAISE EXCEPTION 'account "%" still has % vServer(s)', a.name, n USING ERRCODE = 'WRCON';
	END IF;
	DELETE FROM grants g USING users u WHERE g.user_id = u.id AND u.account_id = acct;
	DELETE FROM users WHERE account_id = acct;
	DELETE FROM vdcs WHERE account_id = acct;
	DELETE FROM accounts WHERE id = acct;
	RETURN a;
END $$;
