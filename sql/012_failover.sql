-- Failover (controller/failover.c, docs/ARCHITECTURE.md "Failover"). vservers.failover and
-- nodes.reserve / nodes.state 'dead' / nodes.epoch exist since 002_nodes.sql; this adds the two
-- statements the failover monitor and the agent listener run.

-- Declare a node dead (when declare_dead and it is not dead yet: state 'dead', epoch + 1, an audit
-- row) and release every vServer still placed on a dead node, in one transaction:
--   * a vServer that was up (running, paused, starting, stopping) with the failover flag and its
--     disk on shared storage (or no disk yet): state 'stopped' with the reason, unplaced, and a
--     queued 'vserver-failover' task that the lifecycle engine runs like a start (placement may
--     use reserve nodes and prefers them);
--   * any other vServer that was up: state 'stopped' with the reason, unplaced, and a failed
--     'vserver-failover' task saying why it was not restarted;
--   * a vServer that was not up: unplaced (its cores are free again; it starts anywhere later).
-- A vServer with a task in progress is left alone and counted in "waiting"; the monitor calls
-- again (declare_dead false) until none is left. Every vServer gets an audit row.
-- Returns {declared, name, epoch, tasks: [task ids to run], stopped: [vServer ids], waiting}.
CREATE FUNCTION wr_node_fail(nd bigint, declare_dead boolean, reason text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	n nodes;
	v record;
	declared boolean := false;
	root bigint[];
	tasks bigint[] := '{}';
	stopped bigint[] := '{}';
	waiting integer := 0;
	shared boolean;
	tid bigint;
	why text;
BEGIN
	SELECT * INTO n FROM nodes WHERE id = nd FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'node not found' USING ERRCODE = 'WRNFD';
	END IF;
	SELECT ARRAY[id] INTO root FROM accounts WHERE type = 'provider' ORDER BY id LIMIT 1;
	IF declare_dead AND n.state <> 'dead' THEN
		UPDATE nodes SET state = 'dead', epoch = epoch + 1 WHERE id = nd RETURNING * INTO n;
		declared := true;
		INSERT INTO audit (username, scope_path, event, object_type, object_id, detail)
			VALUES ('failover', root, 'node.dead', 'node', nd,
				n.name || ': ' || reason || '; epoch now ' || n.epoch);
	END IF;
	IF n.state <> 'dead' THEN
		RETURN jsonb_build_object('declared', false, 'name', n.name, 'epoch', n.epoch,
			'tasks', '[]'::jsonb,
			'stopped', '[]'::jsonb, 'waiting', 0);
	END IF;
	FOR v IN SELECT s.id, s.name, s.state, s.failover, s.disk_created, s.disk_storage,
			s.disk_node_id, s.vdc_id, a.path
		 FROM vservers s JOIN accounts a ON a.id = s.account_id
		 WHERE s.node_id = nd ORDER BY s.id FOR UPDATE OF s LOOP
		IF EXISTS (SELECT 1 FROM tasks WHERE vserver_id = v.id
			   AND status IN ('queued', 'running')) THEN
			waiting := waiting + 1;
			CONTINUE;
		END IF;
		PERFORM wr_unplace_vserver(v.id);
		IF v.state NOT IN ('running', 'paused', 'starting', 'stopping') THEN
			CONTINUE;
		END IF;
		shared := NOT v.disk_created OR coalesce((SELECT st.shared FROM node_storages st
			WHERE st.node_id = v.disk_node_id AND st.name = v.disk_storage), false);
		IF v.failover AND shared THEN
			why := 'its node ' || n.name || ' failed (' || reason || '); restarting it on '
				|| 'another node';
			INSERT INTO tasks (object_type, object_id, object_name, action, username,
					   scope_path, scope_vdc, scope_vserver, status, step,
					   vserver_id, params)
				VALUES ('vserver', v.id, v.name, 'vserver-failover', 'failover', v.path,
					v.vdc_id, v.id, 'queued', 'begin', v.id,
					jsonb_build_object('from_node', nd, 'from_node_name', n.name,
							   'reason', reason))
				RETURNING id INTO tid;
			tasks := tasks || tid;
		ELSE
			why := 'stopped: its node ' || n.name || ' failed (' || reason || '); not '
				|| 'restarted elsewhere: ' || CASE WHEN NOT v.failover
				THEN 'failover is off for this vServer'
				ELSE 'its disk is on the local storage of that node' END;
			INSERT INTO tasks (object_type, object_id, object_name, action, username,
					   scope_path, scope_vdc, scope_vserver, status, ended_at,
					   info, vserver_id)
				VALUES ('vserver', v.id, v.name, 'vserver-failover', 'failover', v.path,
					v.vdc_id, v.id, 'failed', now(), why, v.id);
			stopped := stopped || v.id;
		END IF;
		UPDATE vservers SET state = 'stopped', error = why WHERE id = v.id;
		INSERT INTO audit (username, scope_path, event, object_type, object_id, detail)
			VALUES ('failover', v.path, CASE WHEN v.failover AND shared
				THEN 'vserver.failover' ELSE 'vserver.node_dead' END, 'vserver', v.id,
				why);
	END LOOP;
	RETURN jsonb_build_object('declared', declared, 'name', n.name, 'epoch', n.epoch,
		'tasks', to_jsonb(tasks), 'stopped', to_jsonb(stopped), 'waiting', waiting);
END $$;

-- What a node that says hello must no longer run: when its hello carries an epoch lower than
-- the node's (it was declared dead meanwhile), every VM it reports that the database no longer
-- places on it. Sent in the welcome as "revoked": [{id}]; the agent kills and forgets them.
CREATE FUNCTION wr_node_revoked(nd bigint, hello_epoch bigint, vms jsonb) RETURNS json
LANGUAGE sql STABLE AS $$
	SELECT coalesce(json_agg(json_build_object('id', x.id) ORDER BY x.id), '[]')
	FROM (SELECT DISTINCT (e->>'id')::bigint AS id FROM jsonb_array_elements(vms) e) x
	WHERE hello_epoch < (SELECT epoch FROM nodes WHERE id = nd)
	  AND NOT EXISTS (SELECT 1 FROM vservers v WHERE v.id = x.id AND v.node_id = nd);
$$;

-- Set a vServer's failover flag (NULL: unchanged) and return the row: vserver-create (around
-- wr_vserver_create, in the same statement) and vserver-update.
CREATE FUNCTION wr_vserver_set_failover(vs bigint, flag boolean) RETURNS SETOF vservers
LANGUAGE sql VOLATILE AS $$
	UPDATE vservers SET failover = coalesce(flag, failover) WHERE id = vs RETURNING *;
$$;

-- A node that fenced itself but was not declared dead (it was away longer than fence_after but
-- shorter than failover_after, or the controller was): its hello lists the VMs it killed
-- ("fenced": true). Failover vServers among them that are still placed there and have no task
-- in progress get a 'vserver-failover' task, which starts them where they are. Returns the
-- task ids.
CREATE FUNCTION wr_node_fenced_restart(nd bigint, vms jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	v record;
	nname text;
	tasks bigint[] := '{}';
	tid bigint;
	why text;
BEGIN
	SELECT name INTO nname FROM nodes WHERE id = nd AND state <> 'dead';
	IF NOT FOUND THEN
		RETURN '[]'::jsonb;
	END IF;
	FOR v IN SELECT s.id, s.name, s.vdc_id, a.path
		 FROM vservers s JOIN accounts a ON a.id = s.account_id
		 WHERE s.node_id = nd AND s.failover AND s.state IN ('running', 'paused', 'stopped')
		   AND s.id IN (SELECT (e->>'id')::bigint FROM jsonb_array_elements(vms) e
				WHERE (e->>'fenced')::boolean)
		   AND NOT EXISTS (SELECT 1 FROM tasks k WHERE k.vserver_id = s.id
				   AND k.status IN ('queued', 'running'))
		 ORDER BY s.id FOR UPDATE OF s LOOP
		why := 'its node ' || nname || ' lost the controller and fenced itself; starting it '
			|| 'there again';
		INSERT INTO tasks (object_type, object_id, object_name, action, username, scope_path,
				   scope_vdc, scope_vserver, status, step, vserver_id, params)
			VALUES ('vserver', v.id, v.name, 'vserver-failover', 'failover', v.path, v.vdc_id,
				v.id, 'queued', 'begin', v.id,
				jsonb_build_object('reason', why, 'same_node', true))
			RETURNING id INTO tid;
		tasks := tasks || tid;
		UPDATE vservers SET state = 'stopped', error = why WHERE id = v.id;
		INSERT INTO audit (username, scope_path, event, object_type, object_id, detail)
			VALUES ('failover', v.path, 'vserver.fence_restart', 'vserver', v.id, why);
	END LOOP;
	RETURN to_jsonb(tasks);
END $$;
