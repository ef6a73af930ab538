-- Rack servers (nodes), their join tokens, and where vServers run: the node, the dedicated cores
-- of each vCPU (exclusive cluster-wide by primary key), disks and NICs with unique MACs.

CREATE TABLE nodes (
	id bigserial PRIMARY KEY,
	name text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
	state text NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'online', 'offline', 'dead')),
	epoch bigint NOT NULL DEFAULT 1,
	cores integer,
	housekeeping integer[],
	dedicated integer[],
	ram_mb bigint,
	reserve_ram_mb bigint NOT NULL DEFAULT 0,
	bridges text[],
	qemu_version text,
	kvm boolean,
	accel text,
	reserve boolean NOT NULL DEFAULT false,
	maintenance boolean NOT NULL DEFAULT false,
	vdc_id bigint REFERENCES vdcs(id),
	agent_version text,
	last_seen timestamptz,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX nodes_name ON nodes (name);

CREATE TABLE node_join_tokens (
	id bigserial PRIMARY KEY,
	node_name text NOT NULL,
	token_hash text NOT NULL UNIQUE,
	created_by bigint,
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	used_at timestamptz
);

CREATE TABLE node_storages (
	node_id bigint NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
	name text NOT NULL,
	path text NOT NULL,
	shared boolean NOT NULL DEFAULT false,
	free_gb bigint,
	PRIMARY KEY (node_id, name)
);

ALTER TABLE vservers ADD COLUMN node_id bigint REFERENCES nodes(id);
ALTER TABLE vservers ADD COLUMN anti_affinity text;
ALTER TABLE vservers ADD COLUMN failover boolean NOT NULL DEFAULT false;
ALTER TABLE vservers ADD COLUMN error text;

-- One row per vCPU; the primary key makes a core belong to at most one vCPU in the whole cluster.
CREATE TABLE vcpu_cores (
	node_id bigint NOT NULL REFERENCES nodes(id),
	core integer NOT NULL CHECK (core >= 0),
	vserver_id bigint NOT NULL REFERENCES vservers(id) ON DELETE CASCADE,
	vcpu integer NOT NULL CHECK (vcpu >= 0),
	PRIMARY KEY (node_id, core),
	UNIQUE (vserver_id, vcpu)
);

CREATE TABLE nics (
	id bigserial PRIMARY KEY,
	vserver_id bigint NOT NULL REFERENCES vservers(id) ON DELETE CASCADE,
	mac macaddr NOT NULL UNIQUE,
	model text NOT NULL DEFAULT 'virtio' CHECK (model IN ('virtio', 'e1000'))
);
CREATE SEQUENCE nic_mac_seq;

-- Commit a placement: take the node's lowest free dedicated cores for the vServer's vCPUs.
-- The node row is locked, so concurrent placements on one node queue up; the vcpu_cores primary
-- key is the last line of defence. Raises WRCON when the node no longer has room.
CREATE FUNCTION wr_place_vserver(vs bigint, nd bigint) RETURNS integer[] LANGUAGE plpgsql AS $$
DECLARE
	n nodes;
	v vservers;
	free_cores integer[];
	used_ram bigint;
BEGIN
	SELECT * INTO n FROM nodes WHERE id = nd FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'node not found' USING ERRCODE = 'WRNFD';
	END IF;
	SELECT * INTO v FROM vservers WHERE id = vs FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'vServer not found' USING ERRCODE = 'WRNFD';
	END IF;
	IF v.node_id IS NOT NULL THEN
		RAISE EXCEPTION 'vServer "%" is already placed', v.name USING ERRCODE = 'WRCON';
	END IF;
	SELECT coalesce(array_agg(c ORDER BY c), '{}') INTO free_cores FROM unnest(n.dedicated) c
		WHERE c NOT IN (SELECT core FROM vcpu_cores WHERE node_id = nd);
	IF coalesce(array_length(free_cores, 1), 0) < v.cores THEN
		RAISE EXCEPTION 'node "%" has only % free dedicated cores, % needed', n.name,
			coalesce(array_length(free_cores, 1), 0), v.cores USING ERRCODE = 'WRCON';
	END IF;
	SELECT coalesce(sum(ram_mb), 0) INTO used_ram FROM vservers WHERE node_id = nd;
	IF used_ram + v.ram_mb > n.ram_mb - n.reserve_ram_mb THEN
		RAISE EXCEPTION 'node "%" has only % MB RAM free, % needed', n.name,
			n.ram_mb - n.reserve_ram_mb - used_ram, v.ram_mb USING ERRCODE = 'WRCON';
	END IF;
	INSERT INTO vcpu_cores (node_id, core, vserver_id, vcpu)
		SELECT nd, free_cores[i], vs, i - 1 FROM generate_series(1, v.cores) i;
	UPDATE vservers SET node_id = nd WHERE id = vs;
	RETURN free_cores[1:v.cores];
END $$;

-- Release a vServer's node, cores and RAM (park, delete, failed start).
CREATE FUNCTION wr_unplace_vserver(vs bigint) RETURNS void LANGUAGE sql AS $$
	DELETE FROM vcpu_cores WHERE vserver_id = vs;
	UPDATE vservers SET node_id = NULL WHERE id = vs;
$$;

-- The scheduler's snapshot: capacity left on every node.
CREATE VIEW node_capacity AS
	SELECT n.id, n.name, n.state = 'online' AS online, n.maintenance, n.reserve,
	       coalesce(n.vdc_id, 0) AS vdc_id,
	       coalesce(array_length(n.dedicated, 1), 0) -
		       (SELECT count(*) FROM vcpu_cores c WHERE c.node_id = n.id) AS free_cores,
	       coalesce(n.ram_mb, 0) - n.reserve_ram_mb -
		       coalesce((SELECT sum(v.ram_mb) FROM vservers v WHERE v.node_id = n.id), 0)
		       AS free_ram_mb,
	       coalesce((SELECT sum(s.free_gb) FROM node_storages s WHERE s.node_id = n.id), 0)
		       AS free_disk_gb
	FROM nodes n;
