"""Looking at processes the tests started, through /proc: is a pid alive (not a zombie), its
threads with their names and allowed CPUs (to check vCPU pinning), its command line."""
import os
from pathlib import Path


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def threads(pid):
    """{tid: (comm, Cpus_allowed_list)} of a process."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            comm = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
            status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
        except OSError:
            continue
        allowed = [ln.split(":", 1)[1].strip() for ln in status.splitlines()
                   if ln.startswith("Cpus_allowed_list:")][0]
        out[int(tid)] = (comm, allowed)
    return out
