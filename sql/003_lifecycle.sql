-- vServer lifecycle: disks and media on node storage, and tasks that run in steps and survive a
-- controller restart (the engine resumes a running task from its step).

ALTER TABLE vservers ADD COLUMN disk_storage text;
ALTER TABLE vservers ADD COLUMN disk_created boolean NOT NULL DEFAULT false;
ALTER TABLE vservers ADD COLUMN iso text;
ALTER TABLE vservers ADD COLUMN nic_model text NOT NULL DEFAULT 'virtio'
	CHECK (nic_model IN ('virtio', 'e1000'));
ALTER TABLE vservers ADD COLUMN uuid uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE vservers DROP CONSTRAINT IF EXISTS vservers_state_check;
ALTER TABLE vservers ADD CONSTRAINT vservers_state_check CHECK (state IN ('defined', 'stopped',
	'starting', 'running', 'paused', 'stopping', 'parked', 'deleting', 'error'));

ALTER TABLE tasks ADD COLUMN vserver_id bigint;
ALTER TABLE tasks ADD COLUMN step text;
ALTER TABLE tasks ADD COLUMN params jsonb;
CREATE INDEX tasks_active ON tasks (status) WHERE status IN ('queued', 'running');
-- One active lifecycle task per vServer: a second start while one runs is a conflict, not a race.
CREATE UNIQUE INDEX tasks_one_active_per_vserver ON tasks (vserver_id)
	WHERE status IN ('queued', 'running') AND vserver_id IS NOT NULL;

-- A locally administered, unicast MAC from a sequence: unique by construction and by constraint.
CREATE FUNCTION wr_next_mac() RETURNS macaddr LANGUAGE sql AS $$
	SELECT ('52:54:00:' || lpad(to_hex((v >> 16) & 255), 2, '0') || ':' ||
		lpad(to_hex((v >> 8) & 255), 2, '0') || ':' || lpad(to_hex(v & 255), 2, '0'))::macaddr
	FROM (SELECT nextval('nic_mac_seq') AS v) s;
$$;

-- The ISO library: image files in the controller's iso_dir (shared with the nodes), public or
-- belonging to one account.
CREATE TABLE isos (
	id bigserial PRIMARY KEY,
	name text NOT NULL,
	path text NOT NULL UNIQUE,
	size_bytes bigint NOT NULL,
	account_id bigint REFERENCES accounts(id) ON DELETE CASCADE,
	created_at timestamptz NOT NULL DEFAULT now()
);

-- Where a vServer's disk lives: a disk on storage that is not shared ties the vServer to that node.
ALTER TABLE vservers ADD COLUMN disk_node_id bigint REFERENCES nodes(id);

-- Resize in one locked step: cores and RAM only while stopped (a placed vServer gives its cores
-- back and is placed again at the next start), disks only grow, and the account quotas hold.
CREATE FUNCTION wr_vserver_resize(vs bigint, ncores integer, nram integer, ndisk integer)
		RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	v vservers;
	cpu_ram_change boolean;
BEGIN
	SELECT * INTO v FROM vservers WHERE id = vs FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'vServer not found' USING ERRCODE = 'WRNFD';
	END IF;
	cpu_ram_change := coalesce(ncores, v.cores) <> v.cores OR coalesce(nram, v.ram_mb) <> v.ram_mb;
	IF cpu_ram_change AND v.state NOT IN ('defined', 'stopped', 'parked') THEN
		RAISE EXCEPTION 'stop the vServer before changing its cores or RAM (it is %)', v.state
			USING ERRCODE = 'WRCON';
	END IF;
	IF ndisk IS NOT NULL AND ndisk < v.disk_gb THEN
		RAISE EXCEPTION 'disks only grow (it has % GB)', v.disk_gb USING ERRCODE = 'WRINV';
	END IF;
	IF EXISTS (SELECT 1 FROM tasks WHERE vserver_id = vs AND status IN ('queued', 'running')) THEN
		RAISE EXCEPTION 'another task is still running for this vServer' USING ERRCODE = 'WRCON';
	END IF;
	PERFORM wr_quota_check(v.account_id, greatest(coalesce(ncores, v.cores) - v.cores, 0),
		greatest(coalesce(nram, v.ram_mb) - v.ram_mb, 0),
		greatest(coalesce(ndisk, v.disk_gb) - v.disk_gb, 0), 0);
	IF cpu_ram_change AND v.node_id IS NOT NULL THEN
		PERFORM wr_unplace_vserver(vs);
	END IF;
	UPDATE vservers SET cores = coalesce(ncores, cores), ram_mb = coalesce(nram, ram_mb),
		disk_gb = coalesce(ndisk, disk_gb) WHERE id = vs;
	RETURN jsonb_build_object('grow_disk', v.disk_created AND coalesce(ndisk, v.disk_gb) > v.disk_gb);
END $$;
