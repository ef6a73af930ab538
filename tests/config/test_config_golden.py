"""Golden tests for `webrackd -n -c FILE`: every file in cases/ is checked and the exit status
plus everything webrackd prints must match cases/NAME.ok exactly. Add a case by adding NAME.conf
and running this test with WEBRACK_GOLDEN_UPDATE=1 once, then reading the .ok file it wrote."""
import os
import pathlib
import shutil
import subprocess

import pytest

HERE = pathlib.Path(__file__).resolve().parent
CASES = sorted((HERE / "cases").glob("*.conf"))
WEBRACKD = pathlib.Path(os.environ.get("WEBRACK_BUILD_DIR", HERE.parent.parent)) / "controller" / "webrackd"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A directory holding the cases and freshly made certificate files they refer to."""
    d = tmp_path_factory.mktemp("config-golden")
    for case in CASES:
        shutil.copy(case, d / case.name)
    for key, cert in (("key.pem", "cert.pem"), ("other-key.pem", "other-cert.pem")):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-keyout", d / key, "-out", d / cert],
                       check=True, capture_output=True)
    return d


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_config_check(case, workdir):
    proc = subprocess.run([str(WEBRACKD), "-n", "-c", case.name], cwd=workdir,
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
