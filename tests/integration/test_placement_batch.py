"""Batched starts (controller/capacity.c, lifecycle.c, ops_lifecycle.c, sql/016): many
vserver-start calls at once against simulated node agents (bench/placement/simagents: the real
agent protocol over mutual TLS, every command answered at once). The task rows of a burst are
written in a few statements, placements are committed in batches by wr_place_batch() together
with each start's NIC, step and definition, and task ends are group-committed; the rules stay
those of single starts: every vCPU its own core, reserve nodes untouched, anti-affinity, a clear
"no capacity" error, one active task per vServer, and a controller killed in the middle of a
burst converges after a restart."""
import concurrent.futures
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import webrack_it as w

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench" / "placement"
NODES = 4
CORES = 8  # dedicated cores per simulated node


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    subprocess.run(["make", "-s", "-C", str(BENCH), "simagents"], check=True)
    sys.path.insert(0, str(BENCH))
    import run as bench  # the benchmark's node-join helpers

    st = w.Stack("pb", log_level="info")
    st.start()
    sim = None
    try:
        certdir = st.dir / "sim" / "certs"
        ca = bench.join_nodes(st, NODES, certdir, threads=2)
        defines = st.dir / "defines.jsonl"
        sim = bench.SimAgents(BENCH / "simagents", st.agent_port, ca, certdir, NODES,
                              st.dir / "simagents.log", extra=("--cores", str(CORES),
                                                               "--record-defines", str(defines)))
        assert sim.ready.wait(60), f"simulated agents not up: {sim.status}"
        db = st.db()
        db.autocommit = True

        def online():
            with db.cursor() as cur:
                cur.execute("SELECT count(*) FROM nodes WHERE state = 'online'")
                return cur.fetchone()[0] == NODES
        w.wait_until(online, 30, 0.1, "simulated nodes online")
        admin = st.admin()
        with db.cursor() as cur:
            cur.execute("SELECT id FROM nodes ORDER BY id")
            node_ids = [r[0] for r in cur.fetchall()]
        # The last node is kept for failover: no start may land there.
        admin.call("node-update", id=node_ids[-1], reserve=True)
        big = dict(quota_cores=1000, quota_ram_mb=10_000_000, quota_disk_gb=1_000_000,
                   quota_vservers=1000)
        tree = w.make_tree(st, admin, customer_quotas=big, reseller_quotas=big)
        token = tree.cadmin.api.call("token-create", name="pb")["secret"]
        e = type("Env", (), {})()
        e.stack, e.db, e.admin, e.tree, e.node_ids = st, db, admin, tree, node_ids
        e.token = token
        e.defines = defines
        e.api = st.api(token=token)
        yield e
        db.close()
    finally:
        if sim is not None:
            sim.stop()
        st.stop(check=False)


def rows(env, sql, *args):
    with env.db.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def create(env, n, **kw):
    return [w.make_vserver(env.api, env.tree.customer["id"], **kw)["id"] for _ in range(n)]


def start_all(env, vids, clients=16):
    """vserver-start for every id at once; returns {vid: task id or ApiError}."""
    def one(vid):
        try:
            return vid, env.stack.api(token=env.token).call("vserver-start", id=vid)["task_id"]
        except w.ApiError as e:
            return vid, e
    with concurrent.futures.ThreadPoolExecutor(clients) as ex:
        return dict(ex.map(one, vids))


def wait_tasks(env, task_ids, timeout=60):
    def ended():
        return rows(env, "SELECT count(*) FROM tasks WHERE id = ANY(%s) AND status IN "
                    "('done', 'failed')", list(task_ids))[0][0] == len(task_ids)
    w.wait_until(ended, timeout, 0.05, f"{len(task_ids)} tasks ended")
    return {r[0]: (r[1], r[2]) for r in rows(
        env, "SELECT id, status, info FROM tasks WHERE id = ANY(%s)", list(task_ids))}


def free_cores(env):
    return int(rows(env, "SELECT coalesce(sum(free_cores), 0) FROM node_capacity WHERE NOT "
                    "reserve")[0][0])


def check_invariants(env):
    """Nothing left half-done: no active task, no transitional state, cores and MACs unique."""
    assert rows(env, "SELECT count(*) FROM tasks WHERE status IN ('queued', 'running') AND "
                "vserver_id IS NOT NULL")[0][0] == 0
    assert rows(env, "SELECT count(*) FROM vservers WHERE state IN ('starting', 'stopping', "
                "'deleting')")[0][0] == 0
    assert rows(env, "SELECT count(*) FROM (SELECT node_id, core FROM vcpu_cores GROUP BY 1, 2 "
                "HAVING count(*) > 1) d")[0][0] == 0
    assert rows(env, "SELECT count(*) FROM vcpu_cores c JOIN nodes n ON n.id = c.node_id WHERE "
                "n.reserve")[0][0] == 0


def test_burst_places_each_vserver_once_in_batches(env):
    vids = create(env, 12)
    # Hold the usable nodes' rows, so the first placement batch waits and the other starts
    # queue up behind it (in a quiet controller each start would be a batch of its own).
    blocker = env.stack.db()
    with blocker.cursor() as cur:
        cur.execute("SELECT id FROM nodes WHERE NOT reserve FOR UPDATE")
        started = start_all(env, vids)
        assert all(isinstance(t, int) for t in started.values()), started
        assert rows(env, "SELECT count(*) FROM vcpu_cores WHERE vserver_id = ANY(%s)",
                    vids)[0][0] == 0
    blocker.commit()
    blocker.close()
    ended = wait_tasks(env, started.values())
    assert {s for s, _ in ended.values()} == {"done"}, ended
    got = rows(env, "SELECT v.id, v.state, v.node_id, v.disk_created, v.disk_storage, "
                "v.disk_node_id, (SELECT count(*) FROM vcpu_cores c WHERE c.vserver_id = v.id), "
                "(SELECT count(*) FROM nics n WHERE n.vserver_id = v.id), "
                "(SELECT t.step FROM tasks t WHERE t.id = %s) FROM vservers v WHERE v.id = ANY(%s)",
                next(iter(started.values())), vids)
    for vid, state, node, disk, storage, disk_node, ncores, nnics, step in got:
        assert state == "running" and node in env.node_ids[:-1], (vid, state, node)
        assert disk and storage and disk_node == node, (vid, disk, storage, disk_node)
        assert ncores == 1 and nnics == 1, (vid, ncores, nnics)
        assert step is None
    macs = rows(env, "SELECT count(DISTINCT mac), count(*) FROM nics WHERE vserver_id = ANY(%s)",
                vids)[0]
    assert macs[0] == macs[1] == len(vids)
    # The placements were committed in fewer transactions than vServers (batches), and every
    # start left its audit trail: queued, then done.
    txns = rows(env, "SELECT count(DISTINCT xmin::text) FROM vcpu_cores WHERE vserver_id = "
                "ANY(%s)", vids)[0][0]
    assert txns < len(vids), f"{txns} placement transactions for {len(vids)} starts"
    events = dict(rows(env, "SELECT event, count(*) FROM audit WHERE object_type = 'vserver' AND "
                       "object_id = ANY(%s) GROUP BY 1", vids))
    assert events.get("vserver-start") == len(vids) and events.get("vserver-start.done") == \
        len(vids), events
    check_invariants(env)


def test_stopped_vservers_start_again_on_their_cores(env):
    """A stopped vServer keeps its node and cores; a burst of starts of such vServers goes
    through the same batches (no decision, the start's part only) and keeps them."""
    vids = [r[0] for r in rows(env, "SELECT id FROM vservers WHERE state = 'running' ORDER BY id "
                                "LIMIT 6")]
    assert len(vids) == 6
    before = rows(env, "SELECT vserver_id, node_id, core, xmin::text FROM vcpu_cores WHERE "
                  "vserver_id = ANY(%s) ORDER BY 1", vids)
    stops = {v: env.api.call("vserver-stop", id=v)["task_id"] for v in vids}
    assert all(s == "done" for s, _ in wait_tasks(env, stops.values()).values())
    # With the nodes' rows held, the starts wait in a placement batch (the long road would
    # have taken them to step 'disk' without one).
    blocker = env.stack.db()
    with blocker.cursor() as cur:
        cur.execute("SELECT id FROM nodes WHERE NOT reserve FOR UPDATE")
        started = start_all(env, vids)
        w.wait_until(lambda: rows(env, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                                  "'%%wr_place_batch(%%' AND wait_event_type = 'Lock'")[0][0],
                     10, 0.02, "a placement batch waiting for the nodes")
        assert rows(env, "SELECT status, step FROM tasks WHERE id = ANY(%s) GROUP BY 1, 2",
                    list(started.values())) == [("running", "begin")]
    blocker.commit()
    blocker.close()
    ended = wait_tasks(env, started.values())
    assert all(s == "done" and i == "" for s, i in ended.values()), ended
    assert rows(env, "SELECT vserver_id, node_id, core, xmin::text FROM vcpu_cores WHERE "
                "vserver_id = ANY(%s) ORDER BY 1", vids) == before
    assert rows(env, "SELECT count(*) FROM vservers WHERE id = ANY(%s) AND state = 'running'",
                vids)[0][0] == len(vids)
    assert rows(env, "SELECT count(*) FROM nics WHERE vserver_id = ANY(%s)", vids)[0][0] == \
        len(vids)
    check_invariants(env)


PLACE_COLUMNS = ("code, error, task_active, disk_created, storage, name, uuid::text, cores, "
                 "ram_mb, iso, bridge, macs, models")


def test_batch_definition_is_the_vservers_rows(env):
    """What wr_place_batch() hands the engine for a start (sql/021: the definition's parts as
    columns, MACs computed in the INSERT, the bridge of the vServer's node) is the vServer's
    rows: cores, RAM, disk, every NIC with its MAC, model and its node's bridge; the task goes to
    its next step. Both for a vServer placed by the batch and for a stopped one that keeps its
    node. Rolled back at the end."""
    fresh = create(env, 1)[0]
    stopped = create(env, 1)[0]
    t = start_all(env, [stopped])[stopped]
    assert wait_tasks(env, [t])[t][0] == "done"
    t = env.api.call("vserver-stop", id=stopped)["task_id"]
    assert wait_tasks(env, [t])[t][0] == "done"
    on = rows(env, "SELECT node_id FROM vservers WHERE id = %s", stopped)[0][0]
    to = rows(env, "SELECT id FROM node_capacity WHERE NOT reserve AND free_cores > 0 ORDER BY "
              "id LIMIT 1")[0][0]
    got, want = batch_in_rollback(env, [fresh, stopped], [to, on])
    for vid, row in zip((fresh, stopped), got):
        (code, error, active, disk_created, storage, name, uuid, cores, ram_mb, iso, bridge,
         macs, models) = row
        w_cores, node, nics, storages, step, v = want[vid]
        assert code is None and error is None, (vid, code, error)
        assert active is True and disk_created is v["disk_created"]
        assert (name, uuid, ram_mb, iso) == (v["name"], v["uuid"], v["ram_mb"], v["iso"])
        assert cores == w_cores and len(cores) == 1, (cores, w_cores)
        assert storage == (v["disk_storage"] if v["disk_created"] else storages[0])
        assert len(nics) == 1 and nics[0]["mac"].startswith("52:54:00:"), nics
        assert [{"mac": m, "model": k, "bridge": bridge} for m, k in zip(macs, models)] == nics
        assert step == ("define" if v["disk_created"] else "disk")
    assert want[stopped][5]["disk_created"] and not want[fresh][5]["disk_created"]


def test_agent_gets_the_definition_of_the_vservers_rows(env):
    """webrackd builds a start's VM definition of wr_place_batch()'s columns (capacity.c,
    start_info()); what the node receives in vm.define (recorded by simagents) is exactly the
    vServer's rows, keys in their order, for a first start and for a start of the stopped
    vServer (which keeps its node, cores and NIC). The vServer is deleted at the end."""
    vid = create(env, 1)[0]
    rows(env, "UPDATE vservers SET iso = 'x.iso' WHERE id = %s RETURNING id", vid)
    for action in ("vserver-start", "vserver-stop", "vserver-start"):
        t = env.api.call(action, id=vid)["task_id"]
        assert wait_tasks(env, [t])[t][0] == "done", action

    def ordered(text):
        return json.loads(text, object_pairs_hook=lambda kv: dict(kv, _keys=[k for k, _ in kv]))
    got = [spec for spec in map(ordered, env.defines.read_text().splitlines())
           if spec["id"] == vid]
    want = ordered(rows(
        env, "SELECT json_build_object('id', v.id, 'name', v.name, 'uuid', v.uuid, "
        "'cores', (SELECT json_agg(c.core ORDER BY c.vcpu) FROM vcpu_cores c WHERE "
        "c.vserver_id = v.id), 'ram_mb', v.ram_mb, 'disks', json_build_array("
        "json_build_object('storage', v.disk_storage, 'name', 'vs-' || v.id, 'bus', "
        "'virtio')), 'nics', (SELECT json_agg(json_build_object('mac', n.mac::text, "
        "'model', n.model, 'bridge', coalesce(nd.bridges[1], 'wrbr0')) ORDER BY n.id) "
        "FROM nics n WHERE n.vserver_id = v.id), 'iso', v.iso)::text FROM vservers v "
        "JOIN nodes nd ON nd.id = v.node_id WHERE v.id = %s", vid)[0][0])
    assert want["iso"] == "x.iso" and len(want["cores"]) == 1 and len(want["nics"]) == 1
    assert len(got) == 2 and all(spec == want for spec in got), (got, want)
    t = env.api.call("vserver-delete", id=vid)["task_id"]
    assert wait_tasks(env, [t])[t][0] == "done"


def batch_in_rollback(env, vids, nodes, task_status=("running",)):
    """wr_place_batch() for vids on nodes, each with a fresh start task in task_status (None: no
    task), inside a transaction that is rolled back; returns its rows (PLACE_COLUMNS) and, per
    vServer, what its rows say afterwards: cores, node, NICs with their node's bridge, storage
    candidates, the task's step and the vServer's own columns."""
    c = env.stack.db()
    try:
        with c.cursor() as cur:
            tasks = []
            for vid, status in zip(vids, task_status * len(vids)):
                if status is None:
                    tasks.append(0)
                    continue
                cur.execute("INSERT INTO tasks (object_type, object_id, action, scope_path, "
                            "status, step, vserver_id) VALUES ('vserver', %s, 'vserver-start', "
                            "'{}', %s, 'begin', %s) RETURNING id", (vid, status, vid))
                tasks.append(cur.fetchone()[0])
            cur.execute(f"SELECT {PLACE_COLUMNS} FROM wr_place_batch(%s::bigint[], "
                        "%s::bigint[], %s::bigint[]) ORDER BY i", (vids, nodes, tasks))
            got = cur.fetchall()
            want = {}
            for vid, task in zip(vids, tasks):
                if vid in want:
                    continue  # the first entry's task
                cur.execute(
                    "SELECT (SELECT json_agg(c.core ORDER BY c.vcpu) FROM vcpu_cores c WHERE "
                    "c.vserver_id = v.id), v.node_id, (SELECT json_agg(json_build_object("
                    "'mac', n.mac::text, 'model', n.model, 'bridge', coalesce(nd.bridges[1], "
                    "'wrbr0')) ORDER BY n.id) FROM nics n WHERE n.vserver_id = v.id), "
                    "(SELECT array_agg(s.name ORDER BY s.shared DESC, s.name) FROM "
                    "node_storages s WHERE s.node_id = v.node_id), (SELECT t.step FROM tasks t "
                    "WHERE t.id = %s), json_build_object('name', v.name, 'uuid', v.uuid, "
                    "'ram_mb', v.ram_mb, 'iso', v.iso, 'disk_created', v.disk_created, "
                    "'disk_storage', v.disk_storage) FROM vservers v LEFT JOIN nodes nd ON "
                    "nd.id = v.node_id WHERE v.id = %s", (task, vid))
                want[vid] = cur.fetchone()
    finally:
        c.rollback()
        c.close()
    return got, want


def test_batch_fallback_definition_reads_the_cores_taken(env):
    """sql/021: when a batch cannot take its plan at once (here: one vServer twice in it), each
    vServer is placed on its own (wr_place_vserver()) and its definition names the cores read
    back from vcpu_cores, with the storage, NIC and bridge of the node it went to; the second
    entry is told the vServer is placed already (WRPLD) and gets no start part."""
    vid = create(env, 1)[0]
    to = rows(env, "SELECT id FROM node_capacity WHERE NOT reserve AND free_cores > 0 ORDER BY "
              "id DESC LIMIT 1")[0][0]
    got, want = batch_in_rollback(env, [vid, vid], [to, to], ("running", None))
    cores, node, nics, storages, step, _ = want[vid]
    first, second = got
    (code, error, active, disk_created, storage, _, _, b_cores, _, _, bridge, macs,
     models) = first
    assert code is None and error is None, (code, error)
    assert second[0] == "WRPLD" and second[2:] == (None,) * 11, second
    assert node == to and step == "disk"
    assert active is True and disk_created is False and storage == storages[0]
    assert b_cores == cores and len(cores) == 1, (b_cores, cores)
    assert [{"mac": m, "model": k, "bridge": bridge} for m, k in zip(macs, models)] == nics
    assert len(nics) == 1


def test_batch_for_a_task_that_ended_places_but_defines_nothing(env):
    """sql/021: a start whose task ended before its batch (cancelled, or ended by a controller
    that went away) is still placed with its cores and NIC (what the batch decided), but the task
    is left alone and nothing of a definition comes back: the engine drops such a start."""
    vid = create(env, 1)[0]
    to = rows(env, "SELECT id FROM node_capacity WHERE NOT reserve AND free_cores > 0 ORDER BY "
              "id LIMIT 1")[0][0]
    got, want = batch_in_rollback(env, [vid], [to], ("failed",))
    cores, node, nics, storages, step, _ = want[vid]
    assert got == [(None, None, False) + (None,) * 10], got
    assert node == to and len(cores) == 1 and len(nics) == 1
    assert step == "begin"


def test_placement_indexes(env):
    """sql/021: no duplicate index on vcpu_cores.vserver_id (the unique (vserver_id, vcpu,
    incoming) index serves its lookups) and vservers_vdc only for vServers in a vDC; the lookups
    that need them still use them."""
    idx = dict(rows(env, "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN "
                    "('vcpu_cores', 'vservers')"))
    assert "vcpu_cores_vserver" not in idx and "vcpu_cores_vserver_vcpu" in idx
    assert idx["vservers_vdc"].endswith("WHERE (vdc_id IS NOT NULL)"), idx["vservers_vdc"]
    c = env.stack.db()
    try:
        with c.cursor() as cur:
            cur.execute("SET enable_seqscan = off")
            for sql, index in (("SELECT core FROM vcpu_cores WHERE vserver_id = $1",
                                "vcpu_cores_vserver_vcpu"),
                               ("SELECT 1 FROM ONLY vservers x WHERE $1 OPERATOR(pg_catalog.=) "
                                "vdc_id FOR KEY SHARE OF x", "vservers_vdc")):
                cur.execute("PREPARE q(bigint) AS " + sql)
                cur.execute("SET plan_cache_mode = force_generic_plan")
                cur.execute("EXPLAIN EXECUTE q(1)")
                plan = "\n".join(r[0] for r in cur.fetchall())
                assert re.search(rf"(using|on) {index}\b", plan), plan
                cur.execute("DEALLOCATE q")
    finally:
        c.rollback()
        c.close()


def test_starting_the_same_vserver_twice_at_once(env):
    """Two calls for one vServer in one burst: one task starts it; the other call is refused
    (one active task per vServer) or, when it came after the end, finds it running."""
    vids = create(env, 6)
    with concurrent.futures.ThreadPoolExecutor(12) as ex:
        results = list(ex.map(lambda v: (v, start_all(env, [v], 1)[v]), vids + vids))
    tasks = [t for _, t in results if isinstance(t, int)]
    refused = [t for _, t in results if not isinstance(t, int)]
    for e in refused:
        assert e.code == "conflict" and "another task is still running" in e.message, e
    ended = wait_tasks(env, tasks)
    assert all(s == "done" for s, _ in ended.values()), ended
    infos = sorted(i for _, i in ended.values())
    assert len(tasks) - infos.count("already running") == len(vids), infos
    for vid in vids:
        assert rows(env, "SELECT count(*) FROM vcpu_cores WHERE vserver_id = %s", vid)[0][0] == 1
    check_invariants(env)


def test_start_arriving_while_another_start_ends_finds_the_vserver_running(env):
    """The race behind the burst above, made deterministic: a start's end (task done, vServer
    running) is still uncommitted when the next vserver-start comes. The new task's INSERT waits
    on the one-active-task index until that end commits and then goes on with a snapshot taken
    before it; the vServer it hands the engine must nevertheless be the running one, so the new
    task ends "already running" and sends the node nothing (a stale 'stopped' would start it a
    second time)."""
    vid = create(env, 1)[0]
    t = start_all(env, [vid])[vid]
    assert wait_tasks(env, [t])[t][0] == "done"
    t = env.api.call("vserver-stop", id=vid)["task_id"]
    assert wait_tasks(env, [t])[t][0] == "done"
    # A start task the engine does not run (a copy of the stop's row), then its end held open
    # in a transaction.
    fake = rows(env, "INSERT INTO tasks (object_type, object_id, object_name, action, user_id, "
                "username, scope_path, status, step, vserver_id, params) SELECT object_type, "
                "object_id, object_name, 'vserver-start', user_id, username, scope_path, "
                "'running', 'started', vserver_id, '{}' FROM tasks WHERE id = %s RETURNING id",
                t)[0][0]
    ending = env.stack.db()
    try:
        with ending.cursor() as cur:
            cur.execute("UPDATE tasks SET status = 'done', info = '', ended_at = now() "
                        "WHERE id = %s", (fake,))
            cur.execute("UPDATE vservers SET state = 'running' WHERE id = %s", (vid,))
        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            call = ex.submit(start_all, env, [vid], 1)
            w.wait_until(lambda: rows(env, "SELECT count(*) FROM pg_stat_activity WHERE query "
                                      "LIKE '%%INSERT INTO tasks%%' AND wait_event_type = "
                                      "'Lock'")[0][0],
                         10, 0.02, "vserver-start waiting for the other task's end")
            ending.commit()
            second = call.result(timeout=30)[vid]
        assert isinstance(second, int), second
        assert wait_tasks(env, [second])[second] == ("done", "already running")
    finally:
        ending.rollback()
        ending.close()
    # The node was told nothing: the vServer is in fact stopped there; put the rows back.
    rows(env, "UPDATE vservers SET state = 'stopped' WHERE id = %s RETURNING id", vid)
    check_invariants(env)


def test_anti_affinity_group_spreads_and_says_what_is_missing(env):
    usable = NODES - 1
    vids = create(env, usable + 1, anti_affinity=w.uniq("grp"))
    started = start_all(env, vids)
    ended = wait_tasks(env, started.values())
    done = [v for v, t in started.items() if ended[t][0] == "done"]
    failed = [ended[t][1] for v, t in started.items() if ended[t][0] == "failed"]
    assert len(done) == usable and len(failed) == 1, ended
    assert failed[0].startswith("no capacity: ") and "anti-affinity" in failed[0], failed
    nodes = rows(env, "SELECT DISTINCT node_id FROM vservers WHERE id = ANY(%s)", done)
    assert len(nodes) == usable
    check_invariants(env)


def test_no_capacity_is_a_clear_error_for_the_rest_of_the_burst(env):
    room = free_cores(env)
    assert room > 0
    vids = create(env, room + 3)
    started = start_all(env, vids)
    ended = wait_tasks(env, started.values())
    status = [s for s, _ in ended.values()]
    assert status.count("done") == room and status.count("failed") == 3, ended
    for s, info in ended.values():
        if s == "failed":
            assert info.startswith("no capacity: no usable node has 1 free dedicated core"), info
    assert free_cores(env) == 0
    failed_vs = [v for v, t in started.items() if ended[t][0] == "failed"]
    assert rows(env, "SELECT count(*) FROM vservers WHERE id = ANY(%s) AND node_id IS NULL AND "
                "state = 'defined'", failed_vs)[0][0] == 3
    check_invariants(env)


def test_controller_killed_in_a_burst_converges(env):
    # Make room again: park what the earlier tests started (cores and RAM released).
    running = [r[0] for r in rows(env, "SELECT id FROM vservers WHERE state = 'running'")]
    stops = {}
    for vid in running:
        stops[vid] = env.api.call("vserver-stop", id=vid)["task_id"]
    wait_tasks(env, stops.values())
    parks = {vid: env.api.call("vserver-park", id=vid)["task_id"] for vid in running}
    ended = wait_tasks(env, parks.values())
    assert all(s == "done" for s, _ in ended.values()), ended
    room = free_cores(env)
    vids = create(env, min(room, 16))
    st = env.stack
    # The first half starts and ends; the second is killed while its placement batch waits for
    # the nodes' rows (held here), so webrackd dies with tasks not placed yet (step 'begin')
    # and a batch in flight.
    first = start_all(env, vids[:len(vids) // 2])
    wait_tasks(env, first.values())
    blocker = st.db()
    with blocker.cursor() as cur:
        cur.execute("SELECT id FROM nodes WHERE NOT reserve FOR UPDATE")
        started = start_all(env, vids[len(vids) // 2:])
        st.proc.send_signal(signal.SIGKILL)
        st.proc.wait(10)
        at_kill = rows(env, "SELECT status || '/' || step, count(*) FROM tasks WHERE id = "
                       "ANY(%s) GROUP BY 1", list(started.values()))
    blocker.commit()
    blocker.close()
    print(f"webrackd killed; tasks by status at the kill: {at_kill}")
    assert dict(at_kill).get("running/begin"), at_kill
    started.update(first)
    st._logf.close()
    st.launch()  # same configuration, database and CA; the agents reconnect
    ended = wait_tasks(env, started.values(), timeout=120)
    for s, info in ended.values():
        assert s == "done" or (s == "failed" and info), ended
    done = [v for v, t in started.items() if ended[t][0] == "done"]
    assert done, ended
    assert rows(env, "SELECT count(*) FROM vservers WHERE id = ANY(%s) AND state = 'running' AND "
                "disk_created AND node_id IS NOT NULL", done)[0][0] == len(done)
    for vid in vids:
        n = rows(env, "SELECT count(*) FROM vcpu_cores WHERE vserver_id = %s", vid)[0][0]
        assert n in (0, 1)
        assert rows(env, "SELECT count(*) FROM nics WHERE vserver_id = %s", vid)[0][0] <= 1
    check_invariants(env)


def test_console_tickets_revoked_exactly_when_they_must_be(env):
    """sql/019: the console trigger fires only when it deletes something (a state other than
    running/paused, or a vServer leaving its node), so a start (node set from none, state set
    to running) queues no trigger call; every revoking change still revokes."""
    vid = create(env, 1)[0]
    started = start_all(env, [vid])
    assert all(s == "done" for s, _ in wait_tasks(env, started.values()).values())
    nodes = env.node_ids[:-1]
    db = env.stack.db()
    try:
        with db.cursor() as cur:
            cur.execute("SELECT id FROM users ORDER BY id LIMIT 1")
            uid = cur.fetchone()[0]

            def ticket():
                cur.execute("INSERT INTO console_tickets (hash, user_id, vserver_id, expires_at) "
                            "VALUES (encode(sha256(gen_random_uuid()::text::bytea), 'hex'), "
                            "%s, %s, now() + interval '30 s')", (uid, vid))

            def tickets():
                cur.execute("SELECT count(*) FROM console_tickets WHERE vserver_id = %s", (vid,))
                return cur.fetchone()[0]

            ticket()
            cur.execute("UPDATE vservers SET state = 'paused' WHERE id = %s", (vid,))
            cur.execute("UPDATE vservers SET state = 'running' WHERE id = %s", (vid,))
            assert tickets() == 1, "running <-> paused keeps the tickets"
            cur.execute("UPDATE vservers SET state = 'stopped' WHERE id = %s", (vid,))
            assert tickets() == 0, "a stopped vServer's tickets are revoked"
            cur.execute("UPDATE vservers SET state = 'running' WHERE id = %s", (vid,))
            ticket()
            cur.execute("UPDATE vservers SET node_id = (SELECT id FROM nodes WHERE id <> "
                        "vservers.node_id AND id = ANY(%s) LIMIT 1) WHERE id = %s", (nodes, vid))
            assert tickets() == 0, "a vServer moved to another node loses its tickets"
            ticket()
            cur.execute("UPDATE vservers SET node_id = NULL WHERE id = %s", (vid,))
            assert tickets() == 0, "a vServer leaving its node loses its tickets"
            # The trigger's condition: no call for a placement from no node or for 'running'.
            cur.execute("SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgname = "
                        "'vservers_console_revoke'")
            definition = cur.fetchone()[0]
            assert "(old.node_id IS NOT NULL)" in definition, definition
    finally:
        db.rollback()
        db.close()
