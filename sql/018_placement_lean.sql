-- Leaner writes per vServer start (docs/ARCHITECTURE.md, "Starts in sets"; bench/placement).
--
-- * Room on the pages of tasks and vservers for HOT updates (an UPDATE that changes no indexed
--   column and finds room on its page adds no index entries): a task is inserted as 'running'
--   when the engine takes it at once, so the placement batch's UPDATE of its step is HOT; the
--   task's end changes its status (in the partial indexes' predicates) and is not. The end's
--   UPDATE of the vServer (state, error, disk columns: none indexed) is HOT; the placement's
--   (node_id, indexed) is not. Only pages written from now on get the room (an existing
--   installation gets it for its existing rows with VACUUM FULL of these tables).
-- * wr_place_batch(): the first NIC's MAC computed in the INSERT from nic_mac_seq, the value
--   wr_next_mac() gives, instead of one call of that function per row; the NICs of the VM
--   definitions built in one aggregate with their bridge.

ALTER TABLE tasks SET (fillfactor = 50);
ALTER TABLE vservers SET (fillfactor = 80);
-- The agents' heartbeat flush updates last_seen of every connected node every second or so
-- (controller/agents.c): with room on the page those updates are HOT too (1,000 nodes: ~90 %
-- of them were not, each adding entries to both of the nodes' indexes).
ALTER TABLE nodes SET (fillfactor = 50);

CREATE OR REPLACE FUNCTION wr_place_batch(vs bigint[], nd bigint[], tk bigint[], OUT i integer,
			       OUT code text, OUT error text, OUT info json)
		RETURNS SETOF record LANGUAGE plpgsql
		-- Planned once per connection: the arrays' sizes never change the right plan (index
		-- lookups per element), and planning every statement again cost more than running it.
		SET plan_cache_mode = force_generic_plan AS $$
DECLARE
	n integer := coalesce(array_length(vs, 1), 0);
	plan wr_place_plan[];
	codes text[];
	errors text[];
	fast boolean;
	started bigint[];
	active bigint[];
BEGIN
	IF n <> coalesce(array_length(nd, 1), 0) OR n <> coalesce(array_length(tk, 1), 0) THEN
		RAISE EXCEPTION 'wr_place_batch: % vServers, % nodes, % tasks', n,
			array_length(nd, 1), array_length(tk, 1) USING ERRCODE = '22023';
	END IF;
	IF n = 0 THEN
		RETURN;
	END IF;
	codes := array_fill(NULL::text, ARRAY[n]);
	errors := array_fill(NULL::text, ARRAY[n]);
	-- Nodes first, then vServers, each in id order (wr_place_vserver's order, node by node).
	-- NO KEY UPDATE serializes the placements on a node like wr_place_vserver's FOR UPDATE
	-- (the two conflict) without blocking other transactions' foreign-key checks on the node
	-- (a task's end recording its disk's node waited for whole batches).
	PERFORM 1 FROM nodes WHERE id = ANY(nd) ORDER BY id FOR NO KEY UPDATE;
	PERFORM 1 FROM vservers WHERE id = ANY(vs) ORDER BY id FOR NO KEY UPDATE;
	-- The plan: the vServers going to one node take consecutive slices of its free cores.
	plan := ARRAY(
		SELECT ROW(q.k, q.vs, q.nd, q.task, q.cores, q.free[q.cc - q.cores + 1 : q.cc],
			   q.v_ok AND q.free IS NOT NULL AND (q.placed IS NULL OR q.prepared) AND
			   q.dup = 1 AND q.cc <= cardinality(q.free) AND q.cr <= q.ram_free,
			   q.prepared)::wr_place_plan
		FROM (SELECT r.k::integer AS k, r.vs, r.nd, nullif(r.task, 0) AS task,
			     v.id IS NOT NULL AS v_ok, v.cores, v.node_id AS placed, v.prepared,
			     f.free, f.ram_free,
			     sum(v.cores) OVER w AS cc, sum(v.ram_mb) OVER w AS cr,
			     count(*) OVER (PARTITION BY r.vs) AS dup
		      FROM unnest(vs, nd, tk) WITH ORDINALITY AS r(vs, nd, task, k)
		      LEFT JOIN LATERAL (SELECT x.id, x.node_id,
					 x.node_id IS NOT NULL AND x.node_id = r.nd AND
					 nullif(r.task, 0) IS NOT NULL AS prepared,
					 CASE WHEN x.node_id = r.nd THEN 0 ELSE x.cores END AS cores,
					 CASE WHEN x.node_id = r.nd THEN 0 ELSE x.ram_mb END AS ram_mb
					 FROM vservers x WHERE x.id = r.vs) v ON true
		      LEFT JOIN LATERAL (
			SELECT ARRAY(SELECT c FROM unnest(nn.dedicated) c WHERE c <> ALL(
				     ARRAY(SELECT u.core FROM vcpu_cores u WHERE u.node_id = nn.id))
				     ORDER BY c) AS free,
			       nn.ram_mb - nn.reserve_ram_mb -
			       coalesce((SELECT sum(x.ram_mb) FROM vservers x WHERE x.node_id = nn.id),
					0) AS ram_free
			FROM nodes nn WHERE nn.id = r.nd) f ON true
		      WINDOW w AS (PARTITION BY r.nd ORDER BY r.k)) q
		ORDER BY q.k);
	fast := (SELECT bool_and(p.ok) FROM unnest(plan) p);
	IF fast THEN
		BEGIN
			INSERT INTO vcpu_cores (node_id, core, vserver_id, vcpu)
				SELECT p.nd, p.slot[g], p.vs, g - 1
				FROM unnest(plan) p, generate_series(1, p.cores) g;
			UPDATE vservers v SET node_id = p.nd FROM unnest(plan) p
				WHERE v.id = p.vs AND NOT p.prepared;
		EXCEPTION WHEN unique_violation THEN
			fast := false; -- someone took a core without locking its node: one by one
		END;
	END IF;
	IF NOT fast THEN
		FOR k IN 1 .. n LOOP
			IF plan[k].prepared THEN
				CONTINUE; -- keeps its cores
			END IF;
			-- Placed meanwhile (its task was read before another one ended): WRPLD tells
			-- the engine to read it again rather than fail.
			IF EXISTS (SELECT 1 FROM vservers WHERE id = vs[k] AND node_id IS NOT NULL) THEN
				codes[k] := 'WRPLD';
				errors[k] := 'the vServer is placed already';
				CONTINUE;
			END IF;
			BEGIN
				PERFORM wr_place_vserver(vs[k], nd[k]);
			EXCEPTION
				WHEN SQLSTATE 'WRCON' OR SQLSTATE 'WRNFD' THEN
					codes[k] := SQLSTATE;
					errors[k] := SQLERRM;
				WHEN unique_violation THEN
					codes[k] := 'WRCON';
					errors[k] := SQLERRM;
			END;
		END LOOP;
	END IF;

	-- The start tasks of the placed vServers: first NIC, step, definition. Set-based over the
	-- batch, so a plan never probes a table once per vServer.
	started := ARRAY(SELECT p.vs FROM unnest(plan) p
			 WHERE p.task IS NOT NULL AND codes[p.k] IS NULL);
	IF cardinality(started) = 0 THEN
		RETURN QUERY SELECT p.k, codes[p.k], errors[p.k], NULL::json
			FROM unnest(plan) p ORDER BY p.k;
		RETURN;
	END IF;
	-- wr_next_mac() inline: a call of that SQL function per row cost more than the INSERT.
	INSERT INTO nics (vserver_id, mac, model)
		SELECT q.id, ('525400' || lpad(to_hex(q.m & 16777215), 6, '0'))::macaddr, q.nic_model
		FROM (SELECT v.id, v.nic_model, nextval('nic_mac_seq') AS m FROM vservers v
		      WHERE v.id = ANY(started) AND v.id NOT IN
			(SELECT x.vserver_id FROM nics x WHERE x.vserver_id = ANY(started))
		      ORDER BY v.id) q;
	-- By primary key: the status test is written so that no partial index on status can serve
	-- it (with a burst in flight, scanning the active tasks once per vServer cost most of the
	-- batch). A task is inserted 'running' (controller/ops_lifecycle.c), so this changes only
	-- its step: no indexed column, a HOT update on the page the fillfactor left room on.
	WITH u AS (UPDATE tasks t SET status = 'running',
			step = CASE WHEN v.disk_created THEN 'define' ELSE 'disk' END
		FROM vservers v
		WHERE t.id = ANY(ARRAY(SELECT p.task FROM unnest(plan) p
				       WHERE p.task IS NOT NULL AND codes[p.k] IS NULL)) AND
		      v.id = t.vserver_id AND (t.status || '') IN ('queued', 'running')
		RETURNING t.id)
	SELECT coalesce(array_agg(u.id), '{}') INTO active FROM u;
	RETURN QUERY
		SELECT p.k, codes[p.k], errors[p.k],
		       CASE WHEN p.task IS NOT NULL AND codes[p.k] IS NULL THEN
			json_build_object('disk_created', v.disk_created, 'storage', s.storage,
				'task_active', p.task = ANY(active),
				'spec', json_build_object('id', v.id, 'name', v.name, 'uuid', v.uuid,
					'cores', CASE WHEN fast AND NOT p.prepared THEN to_json(p.slot) ELSE
						(SELECT json_agg(c.core ORDER BY c.vcpu) FROM vcpu_cores c
						 WHERE c.vserver_id = v.id AND NOT c.incoming) END,
					'ram_mb', v.ram_mb,
					'disks', json_build_array(json_build_object('storage', s.storage,
						'name', 'vs-' || v.id, 'bus', 'virtio')),
					'nics', nj.nics, 'iso', v.iso))
		       END
		FROM unnest(plan) p
		LEFT JOIN vservers v ON v.id = p.vs
		-- The NICs with their node's bridge in one aggregate (016 built them as json, then
		-- took every element apart again as jsonb to add the bridge).
		LEFT JOIN (SELECT x.vserver_id, json_agg(json_build_object('mac', x.mac::text,
					'model', x.model, 'bridge', coalesce(n3.bridges[1], 'wrbr0'))
					ORDER BY x.id) AS nics
			   FROM nics x JOIN vservers v3 ON v3.id = x.vserver_id
			   LEFT JOIN nodes n3 ON n3.id = v3.node_id
			   WHERE x.vserver_id = ANY(started) AND v3.id = ANY(started)
			   GROUP BY x.vserver_id) nj ON nj.vserver_id = p.vs
		LEFT JOIN LATERAL (SELECT CASE WHEN v.disk_created THEN v.disk_storage ELSE
				(SELECT st.name FROM node_storages st WHERE st.node_id = v.node_id AND
				 (v.disk_storage IS NULL OR st.name = v.disk_storage)
				 ORDER BY st.shared DESC, st.name LIMIT 1) END AS storage) s ON true
		ORDER BY p.k;
END $$;
