"""Joining rack servers: one-time join tokens, the CSR signed by the controller's CA, and the
rules around it (only the provider's staff, a token works once, the CN must be the node name)."""
import subprocess

import pytest

import webrack_it as w
from webrack_it import assert_err, uniq


def make_csr(tmp_path, cn):
    key, csr = tmp_path / f"{cn}.key", tmp_path / f"{cn}.csr"
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-subj", f"/CN={cn}",
                    "-keyout", key, "-out", csr], check=True, capture_output=True)
    return csr.read_text()


def verify_cert(tmp_path, cert_pem, ca_pem):
    (tmp_path / "node.crt").write_text(cert_pem)
    (tmp_path / "ca.crt").write_text(ca_pem)
    r = subprocess.run(["openssl", "verify", "-purpose", "sslclient", "-CAfile",
                        tmp_path / "ca.crt", tmp_path / "node.crt"], capture_output=True,
                       text=True)
    subj = subprocess.run(["openssl", "x509", "-noout", "-subject", "-in", tmp_path / "node.crt"],
                          capture_output=True, text=True, check=True).stdout
    return r.returncode == 0, subj


def node_name():
    return uniq("node").lower()


def test_join_with_token(stack, tmp_path):
    admin = stack.admin()
    name = node_name()
    tok = admin.call("node-join-token-create", name=name)
    assert tok["token"].startswith("wrj_") and tok["name"] == name
    anon = stack.api()
    res = anon.call("node-join", _csrf=None, token=tok["token"], csr_pem=make_csr(tmp_path, name))
    ok, subject = verify_cert(tmp_path, res["cert_pem"], res["ca_pem"])
    assert ok, "the node certificate does not verify against the CA it came with"
    assert f"CN = {name}" in subject
    assert res["agent_listen"].startswith("127.0.0.1:")
    nodes = {n["name"]: n for n in admin.items("node-list")}
    assert nodes[name]["state"] == "new" and nodes[name]["id"] == res["node_id"]
    # the token is spent
    e = anon.err("node-join", token=tok["token"], csr_pem=make_csr(tmp_path, name))
    assert_err(e, "unauthenticated", 401)
    # the join is audited
    assert [a for a in admin.items("audit-list", event="node.join") if a["detail"] == name]


def test_join_refuses_bad_csr_and_wrong_name(stack, tmp_path):
    admin = stack.admin()
    name = node_name()
    tok = admin.call("node-join-token-create", name=name)["token"]
    anon = stack.api()
    assert_err(anon.err("node-join", token=tok, csr_pem=make_csr(tmp_path, "someone-else")),
               "invalid", 400)
    assert_err(anon.err("node-join", token=tok, csr_pem="-----BEGIN CERTIFICATE REQUEST-----\n"
                        + "A" * 200 + "\n-----END CERTIFICATE REQUEST-----\n"), "invalid", 400)
    # a refused CSR does not spend the token
    res = anon.call("node-join", token=tok, csr_pem=make_csr(tmp_path, name))
    assert res["name"] == name
    assert_err(anon.err("node-join", token="wrj_" + "x" * 43, csr_pem=make_csr(tmp_path, name)),
               "unauthenticated", 401)


def test_nodes_are_provider_only(stack, tree):
    for api in (tree.radmin.api, tree.cadmin.api):
        assert_err(api.err("node-join-token-create", name=node_name()), "denied", 403)
        assert_err(api.err("node-list"), "denied", 403)


def test_node_flags(stack, tmp_path):
    admin = stack.admin()
    name = node_name()
    tok = admin.call("node-join-token-create", name=name)["token"]
    nid = stack.api().call("node-join", token=tok, csr_pem=make_csr(tmp_path, name))["node_id"]
    n = admin.call("node-update", id=nid, maintenance=True, reserve=True)
    assert n["maintenance"] is True and n["reserve"] is True
    assert admin.call("node-get", id=nid)["maintenance"] is True
    tasks = admin.items("task-list", object_type="node", object_id=nid)
    assert tasks and tasks[0]["action"] == "node-update" and tasks[0]["status"] == "done"


def wait_task(api, task_id, timeout=30):
    """Poll a task until it ends; returns the task row."""
    box = {}

    def ended():
        box["t"] = api.call("task-get", id=task_id)
        return box["t"]["status"] in ("done", "failed")
    w.wait_until(ended, timeout=timeout, what=f"task {task_id} to end")
    return box["t"]


def test_start_without_capacity_fails_with_reason(stack, tree):
    """No node can take the vServer: the start task fails and says what is missing, the
    vServer is not left in a transitional state, and a second task may follow."""
    api = tree.cadmin.api
    vs = api.call("vserver-create", account_id=tree.customer["id"], name=uniq("vs"), cores=8,
                  ram_mb=512, disk_gb=1)
    q = api.call("vserver-start", id=vs["id"])
    assert q["status"] == "queued"
    t = wait_task(api, q["task_id"])
    assert t["status"] == "failed" and t["action"] == "vserver-start"
    assert "no capacity" in t["info"], t["info"]
    after = api.call("vserver-get", id=vs["id"])
    assert after["state"] == "defined"
    # the failure is in the job log for the customer, and the next task is accepted
    assert q["task_id"] in w.ids(api.items("task-list", object_type="vserver",
                                           object_id=vs["id"]))
    q2 = api.call("vserver-stop", id=vs["id"])
    assert wait_task(api, q2["task_id"])["status"] == "done"  # stopping a stopped one: nothing to do


def test_power_ops_need_rights(stack, tree):
    viewer = w.make_user(stack, tree.cadmin.api, tree.customer["id"], role="viewer")
    vs = tree.cadmin.api.call("vserver-create", account_id=tree.customer["id"],
                              name=uniq("vs"), cores=1, ram_mb=256, disk_gb=1)
    assert_err(viewer.api.err("vserver-start", id=vs["id"]), "denied", 403)
    assert_err(tree.radmin.api.err("vserver-start", id=vs["id"] + 100000), "not_found", 404)
    outsider = w.make_tree(stack, stack.admin())
    assert_err(outsider.cadmin.api.err("vserver-stop", id=vs["id"]), "not_found", 404)


def test_iso_library(stack, tree):
    """Provider registers the ISOs in iso_dir; customers list public images and attach one
    (recorded for the next start when the vServer is not running); foreign or unknown images are
    not found; only the provider rescans."""
    import os
    iso_dir = stack.iso_dir
    name = uniq("img") + ".iso"
    with open(os.path.join(iso_dir, name), "wb") as f:
        f.write(b"\0" * 4096)
    (open(os.path.join(iso_dir, "not an iso.txt"), "w")).close()
    admin = stack.admin()
    assert_err(tree.cadmin.api.err("iso-rescan"), "denied", 403)
    res = admin.call("iso-rescan")
    assert res["registered"] >= 1
    isos = {i["name"]: i for i in tree.cadmin.api.items("iso-list")}
    assert name in isos and isos[name]["size_bytes"] == 4096
    assert "not an iso.txt" not in isos
    vs = tree.cadmin.api.call("vserver-create", account_id=tree.customer["id"], name=uniq("vs"),
                              cores=1, ram_mb=256, disk_gb=1)
    t = tree.cadmin.api.call("vserver-attach-iso", id=vs["id"], iso_id=isos[name]["id"])
    t = wait_task(tree.cadmin.api, t["task_id"])
    assert t["status"] == "done", t
    assert_err(tree.cadmin.api.err("vserver-attach-iso", id=vs["id"], iso_id=10 ** 9),
               "not_found", 404)
    t = wait_task(tree.cadmin.api, tree.cadmin.api.call("vserver-detach-iso",
                                                        id=vs["id"])["task_id"])
    assert t["status"] == "done", t
    os.unlink(os.path.join(iso_dir, name))
    assert admin.call("iso-rescan")["removed"] >= 1
    assert name not in {i["name"] for i in tree.cadmin.api.items("iso-list")}


def test_resize_rules(stack, tree):
    api = tree.cadmin.api
    vs = api.call("vserver-create", account_id=tree.customer["id"], name=uniq("vs"), cores=1,
                  ram_mb=256, disk_gb=2)
    r = api.call("vserver-resize", id=vs["id"], cores=2, ram_mb=512, disk_gb=4)
    assert (r["cores"], r["ram_mb"], r["disk_gb"]) == (2, 512, 4)
    assert_err(api.err("vserver-resize", id=vs["id"], disk_gb=3), "invalid", 400)
    quota = tree.customer["quota_cores"]
    assert_err(api.err("vserver-resize", id=vs["id"], cores=quota + 1), "quota", 409)
    assert api.call("vserver-get", id=vs["id"])["cores"] == 2  # nothing half-done
    viewer = w.make_user(stack, api, tree.customer["id"], role="viewer")
    assert_err(viewer.api.err("vserver-resize", id=vs["id"], cores=1), "denied", 403)


def test_vserver_options(stack, tree):
    api = tree.cadmin.api
    vs = api.call("vserver-create", account_id=tree.customer["id"], name=uniq("vs"), cores=1,
                  ram_mb=256, disk_gb=1, nic_model="e1000", anti_affinity="web",
                  template="debian-12")
    assert (vs["nic_model"], vs["anti_affinity"], vs["template"]) == ("e1000", "web", "debian-12")
    assert vs["node_id"] is None and vs["state"] == "defined"
    assert_err(api.err("vserver-create", account_id=tree.customer["id"], name=uniq("vs"),
                       cores=1, ram_mb=256, disk_gb=1, nic_model="rtl8139"), "invalid", 400)
    assert_err(api.err("vserver-create", account_id=tree.customer["id"], name=uniq("vs"),
                       cores=1, ram_mb=256, disk_gb=1, template="../etc/passwd"), "invalid", 400)
