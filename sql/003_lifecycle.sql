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
