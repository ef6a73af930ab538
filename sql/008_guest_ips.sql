-- Guest addresses learned by the node agents' ARP/NDP sniffers (docs/ARCHITECTURE.md, "Guest
-- IPs"), the addresses the provider allocated to a vServer, and the claims that contradicted
-- them. Every batch an agent sends is stored by one call of wr_guest_ips_store().

CREATE TABLE guest_ips (
	vserver_id bigint NOT NULL REFERENCES vservers(id) ON DELETE CASCADE,
	address inet NOT NULL CHECK (masklen(address) = CASE family(address) WHEN 4 THEN 32 ELSE 128 END),
	scope text NOT NULL CHECK (scope IN ('global', 'link')),
	tentative boolean NOT NULL DEFAULT false, -- only seen in an ARP probe or IPv6 DAD so far
	first_seen timestamptz NOT NULL DEFAULT now(),
	last_seen timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (vserver_id, address)
);
CREATE INDEX guest_ips_address ON guest_ips (address);

-- Allocated addresses: when a vServer has any, a global address outside them is a spoof. An
-- address is allocated to at most one vServer.
CREATE TABLE guest_ip_allocations (
	vserver_id bigint NOT NULL REFERENCES vservers(id) ON DELETE CASCADE,
	address inet NOT NULL CHECK (masklen(address) = CASE family(address) WHEN 4 THEN 32 ELSE 128 END),
	PRIMARY KEY (vserver_id, address)
);
CREATE UNIQUE INDEX guest_ip_allocations_address ON guest_ip_allocations (address);

-- Claims refused as spoofs; last_audit rate-limits their audit rows (one per address and 10 min).
CREATE TABLE guest_ip_spoofs (
	vserver_id bigint NOT NULL REFERENCES vservers(id) ON DELETE CASCADE,
	address inet NOT NULL,
	claims bigint NOT NULL DEFAULT 1,
	first_seen timestamptz NOT NULL DEFAULT now(),
	last_seen timestamptz NOT NULL DEFAULT now(),
	last_audit timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (vserver_id, address)
);

CREATE FUNCTION wr_ip_scope(a inet) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN a << inet '169.254.0.0/16' OR a << inet 'fe80::/10' THEN 'link'
		ELSE 'global' END
$$;

-- Store one batch from node nd: items [{vm, family, address, tentative}], checked by the
-- controller. Items for vServers not placed on nd are ignored. At most per_vserver addresses
-- (and as many spoofs) are kept per vServer, the most recently seen. Returns
-- {stored, ignored, spoofs: [{vserver_id, address, audited}]}.
CREATE FUNCTION wr_guest_ips_store(nd bigint, items jsonb, per_vserver integer)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	result jsonb;
	touched bigint[];
BEGIN
	WITH x AS (
		SELECT DISTINCT ON (vs, a) vs, a, tent FROM (
			SELECT (e->>'vm')::bigint AS vs, (e->>'address')::inet AS a,
				(e->>'tentative')::boolean AS tent
			FROM jsonb_array_elements(items) e) y
		ORDER BY vs, a, tent),
	v AS (SELECT x.*, s.account_id FROM x JOIN vservers s ON s.id = x.vs AND s.node_id = nd),
	c AS (SELECT v.*, wr_ip_scope(v.a) AS scope,
		wr_ip_scope(v.a) = 'global' AND (
			EXISTS (SELECT 1 FROM guest_ip_allocations g
				WHERE g.address = v.a AND g.vserver_id <> v.vs)
			OR (EXISTS (SELECT 1 FROM guest_ip_allocations g WHERE g.vserver_id = v.vs)
				AND NOT EXISTS (SELECT 1 FROM guest_ip_allocations g
					WHERE g.vserver_id = v.vs AND g.address = v.a))) AS spoof
		FROM v),
	ok AS (INSERT INTO guest_ips AS g (vserver_id, address, scope, tentative)
		SELECT vs, a, scope, tent FROM c WHERE NOT spoof
		ON CONFLICT (vserver_id, address) DO UPDATE SET last_seen = now(),
			tentative = g.tentative AND EXCLUDED.tentative
		RETURNING g.vserver_id),
	sp AS (INSERT INTO guest_ip_spoofs AS g (vserver_id, address)
		SELECT vs, a FROM c WHERE spoof
		ON CONFLICT (vserver_id, address) DO UPDATE SET last_seen = now(),
			claims = g.claims + 1,
			last_audit = CASE WHEN g.last_audit < now() - interval '10 minutes'
				THEN now() ELSE g.last_audit END
		RETURNING g.vserver_id, g.address, g.last_audit = now() AS audited),
	-- Audit rows: one per address and 10 minutes, and at most 10 per vServer and 10 minutes
	-- (a guest cycling through addresses would otherwise write one per claim).
	aud AS (INSERT INTO audit (scope_path, event, object_type, object_id, detail)
		SELECT a.path, 'vserver.ip_spoof', 'vserver', q.vserver_id,
			'claimed ' || host(q.address) || ', which is not allocated to it'
		FROM (SELECT sp.*, row_number() OVER (PARTITION BY sp.vserver_id
				ORDER BY sp.address) AS rn,
			(SELECT count(*) FROM guest_ip_spoofs s2 WHERE s2.vserver_id = sp.vserver_id
				AND s2.last_audit > now() - interval '10 minutes') AS recent
			FROM sp WHERE sp.audited) q
		JOIN vservers s ON s.id = q.vserver_id
		JOIN accounts a ON a.id = s.account_id WHERE q.rn + q.recent <= 10)
	SELECT jsonb_build_object(
		'stored', (SELECT count(*) FROM ok),
		'ignored', (SELECT count(*) FROM x) - (SELECT count(*) FROM v),
		'spoofs', (SELECT coalesce(jsonb_agg(jsonb_build_object('vserver_id', vserver_id,
			'address', host(address), 'audited', audited)), '[]') FROM sp)),
		ARRAY(SELECT DISTINCT vs FROM v)
	INTO result, touched;

	IF touched <> '{}' THEN
		DELETE FROM guest_ips g USING (SELECT vserver_id, address, row_number() OVER
				(PARTITION BY vserver_id ORDER BY last_seen DESC, first_seen DESC) AS rn
			FROM guest_ips WHERE vserver_id = ANY(touched)) r
		WHERE g.vserver_id = r.vserver_id AND g.address = r.address AND r.rn > per_vserver;
		DELETE FROM guest_ip_spoofs g USING (SELECT vserver_id, address, row_number() OVER
				(PARTITION BY vserver_id ORDER BY last_seen DESC) AS rn
			FROM guest_ip_spoofs WHERE vserver_id = ANY(touched)) r
		WHERE g.vserver_id = r.vserver_id AND g.address = r.address AND r.rn > per_vserver;
	END IF;
	IF jsonb_array_length(result->'spoofs') > 0 THEN
		PERFORM pg_notify('webrack_events', jsonb_build_object('event', 'vserver.ip_spoof',
			'node_id', nd, 'spoofs', result->'spoofs')::text);
	END IF;
	RETURN result;
END $$;

-- The addresses vserver-get shows: global scope, seen within stale_after seconds.
CREATE FUNCTION wr_guest_ips_fresh(vs bigint, stale_after integer) RETURNS json
LANGUAGE sql STABLE AS $$
	SELECT coalesce(json_agg(host(address) ORDER BY family(address), address), '[]')
	FROM guest_ips WHERE vserver_id = vs AND scope = 'global'
		AND last_seen > now() - make_interval(secs => stale_after)
$$;
