"""Golden tests for `webrack-node -n -c FILE`: every file in node-cases/ is checked and the exit
status plus everything webrack-node prints must match node-cases/NAME.ok exactly. Add a case by
adding NAME.conf and running this test with WEBRACK_GOLDEN_UPDATE=1 once, then reading the .ok
file it wrote. The core-list cases assume at least 2 online cores and fewer than 4096."""
import os
import pathlib
import shutil
import subprocess

import pytest

HERE = pathlib.Path(__file__).resolve().parent
CASES = sorted((HERE / "node-cases").glob("*.conf"))
NODE = pathlib.Path(os.environ.get("WEBRACK_BUILD_DIR", HERE.parent.parent)) / "nodeagent" / "webrack-node"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A directory holding copies of the cases, so that messages name them by their bare names."""
    d = tmp_path_factory.mktemp("node-config-golden")
    for case in CASES:
        shutil.copy(case, d / case.name)
    return d


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2 and (os.cpu_count() or 1) < 2,
                    reason="the cases split cores 0 and 1")
@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_node_config_check(case, workdir):
    proc = subprocess.run([str(NODE), "-n", "-c", case.name], cwd=workdir,
                          capture_output=True, text=True, timeout=30)
    actual = f"exit {proc.returncode}\n{proc.stdout}{proc.stderr}"
    golden = case.with_suffix(".ok")
    if os.environ.get("WEBRACK_GOLDEN_UPDATE") == "1":
        golden.write_text(actual)
    assert golden.exists(), f"{golden.name} missing; run with WEBRACK_GOLDEN_UPDATE=1"
    assert actual == golden.read_text()


def test_every_case_has_a_golden_file():
    for case in CASES:
        assert case.with_suffix(".ok").exists(), case.name
