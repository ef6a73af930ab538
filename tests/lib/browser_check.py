"""Run one of the Chromium helpers in tests/lib (novnc_view.mjs, portal_stats.mjs,
portal_row.mjs) from a pytest test and return its JSON report. playwright-core is installed on
first use (tests/browser/ensure-playwright); the browser is Debian's chromium."""

import json
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(script, *args, timeout=120, password=None):
    """The report (a dict) of `node tests/lib/SCRIPT ARGS...`; password goes in through the
    environment (WEBRACK_PASSWORD), never on the command line."""
    subprocess.run([str(REPO / "tests" / "browser" / "ensure-playwright")], check=True,
                   timeout=600)
    env = dict(os.environ)
    if password is not None:
        env["WEBRACK_PASSWORD"] = password
    r = subprocess.run(["node", str(REPO / "tests" / "lib" / script), *map(str, args)],
                       capture_output=True, text=True, timeout=timeout, env=env)
    assert r.returncode == 0, f"{script} failed ({r.returncode}): {r.stderr[-2000:]}"
    return json.loads(r.stdout.strip().splitlines()[-1])
