-- Placement reads every node's used cores and RAM: index the vServers by node so the snapshot and
-- wr_place_vserver() do not scan every vServer once per node (bench/placement: ~10x).
CREATE INDEX vservers_node ON vservers (node_id) WHERE node_id IS NOT NULL;
CREATE INDEX vcpu_cores_vserver ON vcpu_cores (vserver_id);

-- The controller's queries are short; JIT compilation of the capacity view cost more than the
-- query itself. Only the database owner may change this, so it is best effort.
DO $$
BEGIN
	EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
EXCEPTION WHEN insufficient_privilege THEN
	RAISE NOTICE 'jit stays on: not the owner of database %', current_database();
END $$;
