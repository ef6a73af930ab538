"""The test guest ISO: tests/guest/build.sh builds it once into var/guest/ (cached there).

    from guest_iso import GUEST_ISO, ensure_guest_iso
    ensure_guest_iso()        # builds it first when it is missing or empty
"""

import subprocess
from pathlib import Path

__all__ = ["GUEST_ISO", "GUEST_BUILD", "ensure_guest_iso"]

REPO = Path(__file__).resolve().parents[2]
GUEST_ISO = REPO / "var" / "guest" / "webrack-guest.iso"
GUEST_BUILD = REPO / "tests" / "guest" / "build.sh"


def ensure_guest_iso():
    """The ISO's path, built first when missing; AssertionError with the build's output when
    the build fails (a test module's fixture then fails with it)."""
    if not (GUEST_ISO.is_file() and GUEST_ISO.stat().st_size > 0):
        r = subprocess.run([str(GUEST_BUILD)], capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, f"tests/guest/build.sh failed:\n{r.stdout}\n{r.stderr}"
    return GUEST_ISO
