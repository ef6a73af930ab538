"""Golden tests for `-n` (check the configuration and exit) of both daemons: every NAME.conf in
cases/ (webrackd) and node-cases/ (webrack-node) is checked, and the exit status plus everything
the daemon prints must match NAME.ok exactly. Add a case by adding NAME.conf and running this test
with WEBRACK_GOLDEN_UPDATE=1 once, then reading the .ok file it wrote. The node core-list cases
assume at least 2 online cores."""
import os
import pathlib
import shutil
import subprocess

import pytest

HERE = pathlib.Path(__file__).resolve().parent
BUILD = pathlib.Path(os.environ.get("WEBRACK_BUILD_DIR", HERE.parent.parent))
DAEMONS = {
    "cases": BUILD / "controller" / "webrackd",
    "node-cases": BUILD / "nodeagent" / "webrack-node",
}
CASES = [(d, c) for d in DAEMONS for c in sorted((HERE / d).glob("*.conf"))]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """Copies of the cases (so messages name them by their bare names) and freshly made
    certificate files the controller cases refer to, one directory per daemon."""
    root = tmp_path_factory.mktemp("config-golden")
    for d in DAEMONS:
        (root / d).mkdir()
    for d, case in CASES:
        shutil.copy(case, root / d / case.name)
    for key, cert in (("key.pem", "cert.pem"), ("other-key.pem", "other-cert.pem")):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-keyout", root / "cases" / key,
                        "-out", root / "cases" / cert], check=True, capture_output=True)
    return root


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="the node cases split cores 0 and 1")
@pytest.mark.parametrize("daemon_dir,case", CASES, ids=[f"{d}/{c.stem}" for d, c in CASES])
def test_config_check(daemon_dir, case, workdir):
    proc = subprocess.run([str(DAEMONS[daemon_dir]), "-n", "-c", case.name],
                          cwd=workdir / daemon_dir, capture_output=True, text=True, timeout=30)
    actual = f"exit {proc.returncode}\n{proc.stdout}{proc.stderr}"
    golden = case.with_suffix(".ok")
    if os.environ.get("WEBRACK_GOLDEN_UPDATE") == "1":
        golden.write_text(actual)
    assert golden.exists(), f"{golden.name} missing; run with WEBRACK_GOLDEN_UPDATE=1"
    assert actual == golden.read_text()


def test_every_case_has_a_golden_file():
    for _, case in CASES:
        assert case.with_suffix(".ok").exists(), case.name
