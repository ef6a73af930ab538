-- A leaner wr_place_batch() and fewer index entries per vServer start (docs/ARCHITECTURE.md,
-- "Starts in sets"; bench/placement). Measured with the placement batch's statements on a kept
-- bench database (1,000 nodes, batches of 32), as the backend's CPU time per start.
--
-- * wr_place_batch() returns the parts of each start's VM definition as plain columns, and
--   webrackd builds the same definition of them (controller/capacity.c, start_info()):
--   building it as JSON here took about a tenth of the function's CPU. They come from what the
--   batch has read already: the task's UPDATE joins the vServer anyway, so it returns the
--   vServer's columns (018 read every vServer once more); the storage for the disk is chosen
--   once per vServer (018's LATERAL subquery was pulled up into the two places that name it and
--   ran twice); the bridge is read from the vServer's node once per vServer, not through a
--   lookup of the vServer and of its node per NIC. task_active is NULL for a row without a
--   start part; a start whose task ended meanwhile gets false and nothing else (the engine drops
--   it). The plan's free cores are listed without a function scan of the node's cores. The rest
--   is 018's.
-- * vcpu_cores_vserver (vserver_id) duplicated the leading column of vcpu_cores_vserver_vcpu
--   (vserver_id, vcpu, incoming, 011): every core taken added an entry to both. The unique
--   index serves every lookup by vserver_id (definitions, ON DELETE CASCADE, releases).
-- * vservers_vdc holds only vServers in a vDC: the placement's UPDATE of node_id is not HOT
--   (node_id is indexed), so it added an index entry for the NULL vdc_id of every vServer
--   outside a vDC too. Lookups by vdc_id (vdc-delete's foreign-key check) name a value, which
--   implies the predicate, so they still use it.

DROP INDEX vcpu_cores_vserver;
DROP INDEX vservers_vdc;
CREATE INDEX vservers_vdc ON vservers (vdc_id) WHERE vdc_id IS NOT NULL;

-- Other OUT columns than 018's: dropped, not replaced.
DROP FUNCTION wr_place_batch(bigint[], bigint[], bigint[]);

CREATE FUNCTION wr_place_batch(vs bigint[], nd bigint[], tk bigint[], OUT i integer,
			       OUT code text, OUT error text, OUT task_active boolean,
			       OUT disk_created boolean, OUT storage text, OUT name text, OUT uuid uuid,
			       OUT cores integer[], OUT ram_mb integer, OUT iso text, OUT bridge text,
			       OUT macs text[], OUT models text[])
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
			-- unnest() in the select list (ProjectSet) rather than in FROM: a function
			-- scan stored the node's 64 cores in a tuplestore first, for every vServer.
			SELECT ARRAY(SELECT d.c FROM (SELECT unnest(nn.dedicated) AS c) d WHERE d.c <> ALL(
				     ARRAY(SELECT u.core FROM vcpu_cores u WHERE u.node_id = nn.id))
				     ORDER BY d.c) AS free,
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
		RETURN QUERY SELECT p.k, codes[p.k], errors[p.k], NULL::boolean, NULL::boolean,
			NULL::text, NULL::text, NULL::uuid, NULL::integer[], NULL::integer, NULL::text,
			NULL::text, NULL::text[], NULL::text[]
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
	-- 021: the vServer's columns the definition needs come back from this UPDATE, which reads
	-- the row anyway (018 read every vServer of the batch once more for the definitions).
	RETURN QUERY
		WITH u AS (UPDATE tasks t SET status = 'running',
				step = CASE WHEN v.disk_created THEN 'define' ELSE 'disk' END
			FROM vservers v
			WHERE t.id = ANY(ARRAY(SELECT p.task FROM unnest(plan) p
					       WHERE p.task IS NOT NULL AND codes[p.k] IS NULL)) AND
			      v.id = t.vserver_id AND (t.status || '') IN ('queued', 'running')
			RETURNING t.id AS task, v.id, v.name, v.uuid, v.ram_mb, v.iso, v.disk_created,
				  v.disk_storage)
		SELECT p.k, codes[p.k], errors[p.k],
		       CASE WHEN p.task IS NOT NULL AND codes[p.k] IS NULL THEN u.task IS NOT NULL END,
		       u.disk_created, d.storage,
		       u.name, u.uuid,
		       CASE WHEN u.task IS NULL THEN NULL WHEN fast AND NOT p.prepared THEN p.slot ELSE
			ARRAY(SELECT c.core FROM vcpu_cores c WHERE c.vserver_id = u.id AND
			      NOT c.incoming ORDER BY c.vcpu) END,
		       u.ram_mb, u.iso, d.bridge, d.macs, d.models
		FROM unnest(plan) p
		LEFT JOIN u ON u.task = p.task
		LEFT JOIN LATERAL (
			SELECT CASE WHEN u.disk_created THEN u.disk_storage ELSE
				(SELECT st.name FROM node_storages st WHERE st.node_id = p.nd AND
				 (u.disk_storage IS NULL OR st.name = u.disk_storage)
				 ORDER BY st.shared DESC, st.name LIMIT 1) END AS storage,
			       (SELECT coalesce(n3.bridges[1], 'wrbr0') FROM nodes n3
				WHERE n3.id = p.nd) AS bridge,
			       x.macs, x.models
			FROM (SELECT array_agg(x.mac::text ORDER BY x.id) AS macs,
				     array_agg(x.model ORDER BY x.id) AS models
			      FROM nics x WHERE x.vserver_id = u.id) x
			WHERE u.task IS NOT NULL OFFSET 0) d ON true
		ORDER BY p.k;
END $$;
