-- Live migration (controller/livemig.c). While a vServer moves, the target node's cores are
-- reserved as ordinary vcpu_cores rows marked "incoming": the (node_id, core) primary key keeps
-- protecting them against every placement, and node_capacity counts them without a change. Its
-- RAM on the target is held by the vserver_migrations row. The switch (node, cores) is one
-- statement, wr_migration_switch(); giving up is wr_migration_release().

ALTER TABLE vcpu_cores ADD COLUMN incoming boolean NOT NULL DEFAULT false;
-- One row per vCPU and per side: the running cores and, during a migration, the reserved ones.
ALTER TABLE vcpu_cores DROP CONSTRAINT vcpu_cores_vserver_id_vcpu_key;
CREATE UNIQUE INDEX vcpu_cores_vserver_vcpu ON vcpu_cores (vserver_id, vcpu, incoming);

-- The live progress of a task (migration: percent, bytes, dirty rate, expected downtime).
ALTER TABLE tasks ADD COLUMN progress jsonb;

CREATE TABLE vserver_migrations (
	vserver_id bigint PRIMARY KEY REFERENCES vservers(id) ON DELETE CASCADE,
	task_id bigint NOT NULL REFERENCES tasks(id),
	source_node_id bigint NOT NULL REFERENCES nodes(id),
	target_node_id bigint NOT NULL REFERENCES nodes(id),
	ram_mb integer NOT NULL,
	started_at timestamptz NOT NULL DEFAULT now(),
	CHECK (source_node_id <> target_node_id)
);

-- RAM promised to incoming migrations counts as used on the target.
CREATE OR REPLACE VIEW node_capacity AS
	SELECT n.id, n.name, n.state = 'online' AS online, n.maintenance, n.reserve,
	       coalesce(n.vdc_id, 0) AS vdc_id,
	       coalesce(array_length(n.dedicated, 1), 0) -
		       (SELECT count(*) FROM vcpu_cores c WHERE c.node_id = n.id) AS free_cores,
	       coalesce(n.ram_mb, 0) - n.reserve_ram_mb -
		       coalesce((SELECT sum(v.ram_mb) FROM vservers v WHERE v.node_id = n.id), 0) -
		       coalesce((SELECT sum(m.ram_mb) FROM vserver_migrations m
				 WHERE m.target_node_id = n.id), 0)
		       AS free_ram_mb,
	       coalesce((SELECT sum(s.free_gb) FROM node_storages s WHERE s.node_id = n.id), 0)
		       AS free_disk_gb
	FROM nodes n;

-- Reserve the target's cores and RAM for a migration of vs (task tk) to node nd, locking the
-- node row like wr_place_vserver(). Raises WRCON (no room, wrong state), WRNFD, WRINV. Idempotent
-- for the same task: a resumed task finds its reservation and gets the same cores back.
CREATE FUNCTION wr_migration_reserve(vs bigint, nd bigint, tk bigint) RETURNS integer[]
		LANGUAGE plpgsql AS $$
DECLARE
	n nodes;
	v vservers;
	m vserver_migrations;
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
	SELECT * INTO m FROM vserver_migrations WHERE vserver_id = vs;
	IF FOUND THEN
		IF m.task_id <> tk OR m.target_node_id <> nd THEN
			RAISE EXCEPTION 'vServer "%" is already migrating', v.name USING ERRCODE = 'WRCON';
		END IF;
		RETURN (SELECT array_agg(core ORDER BY vcpu) FROM vcpu_cores
			WHERE vserver_id = vs AND incoming);
	END IF;
	IF v.node_id IS NULL OR v.state <> 'running' THEN
		RAISE EXCEPTION 'only a running vServer can be migrated (it is %)', v.state
			USING ERRCODE = 'WRCON';
	END IF;
	IF v.node_id = nd THEN
		RAISE EXCEPTION 'the vServer already runs on node "%"', n.name USING ERRCODE = 'WRINV';
	END IF;
	IF n.state <> 'online' OR n.maintenance THEN
		RAISE EXCEPTION 'node "%" is not online or in maintenance', n.name
			USING ERRCODE = 'WRCON';
	END IF;
	IF n.vdc_id IS NOT NULL AND n.vdc_id IS DISTINCT FROM v.vdc_id THEN
		RAISE EXCEPTION 'node "%" belongs to another vDataCenter', n.name
			USING ERRCODE = 'WRCON';
	END IF;
	SELECT coalesce(array_agg(c ORDER BY c), '{}') INTO free_cores FROM unnest(n.dedicated) c
		WHERE c NOT IN (SELECT core FROM vcpu_cores WHERE node_id = nd);
	IF coalesce(array_length(free_cores, 1), 0) < v.cores THEN
		RAISE EXCEPTION 'no capacity: node "%" has only % free dedicated cores, % needed',
			n.name, coalesce(array_length(free_cores, 1), 0), v.cores
			USING ERRCODE = 'WRCON';
	END IF;
	SELECT coalesce((SELECT sum(ram_mb) FROM vservers WHERE node_id = nd), 0) +
	       coalesce((SELECT sum(ram_mb) FROM vserver_migrations WHERE target_node_id = nd), 0)
		INTO used_ram;
	IF used_ram + v.ram_mb > n.ram_mb - n.reserve_ram_mb THEN
		RAISE EXCEPTION 'no capacity: node "%" has only % MB RAM free, % needed', n.name,
			n.ram_mb - n.reserve_ram_mb - used_ram, v.ram_mb USING ERRCODE = 'WRCON';
	END IF;
	INSERT INTO vcpu_cores (node_id, core, vserver_id, vcpu, incoming)
		SELECT nd, free_cores[i], vs, i - 1, true FROM generate_series(1, v.cores) i;
	INSERT INTO vserver_migrations (vserver_id, task_id, source_node_id, target_node_id, ram_mb)
		VALUES (vs, tk, v.node_id, nd, v.ram_mb);
	RETURN free_cores[1:v.cores];
END $$;

-- The switch, in one transaction: the vServer runs on the target with the reserved cores, the
-- source's cores are free. Idempotent (a resumed task may run it twice).
CREATE FUNCTION wr_migration_switch(vs bigint, tk bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	m vserver_migrations;
BEGIN
	SELECT * INTO m FROM vserver_migrations WHERE vserver_id = vs AND task_id = tk FOR UPDATE;
	IF NOT FOUND THEN
		RETURN (SELECT node_id FROM vservers WHERE id = vs);
	END IF;
	DELETE FROM vcpu_cores WHERE vserver_id = vs AND NOT incoming;
	UPDATE vcpu_cores SET incoming = false WHERE vserver_id = vs AND incoming;
	UPDATE vservers SET node_id = m.target_node_id, state = 'running', error = NULL
		WHERE id = vs;
	DELETE FROM vserver_migrations WHERE vserver_id = vs;
	RETURN m.target_node_id;
END $$;

-- Give the reservation back (the vServer stays where it runs).
CREATE FUNCTION wr_migration_release(vs bigint, tk bigint) RETURNS void LANGUAGE sql AS $$
	DELETE FROM vcpu_cores WHERE vserver_id = vs AND incoming AND
		EXISTS (SELECT 1 FROM vserver_migrations WHERE vserver_id = vs AND task_id = tk);
	DELETE FROM vserver_migrations WHERE vserver_id = vs AND task_id = tk;
$$;
