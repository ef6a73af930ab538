#!/usr/bin/python3
"""Record QMP exchanges with a real QEMU for tests/unit/test_qmp.c.

usage: record.py QMP_SOCKET OUT_DIR ISO_PATH [SCENARIO...]

Starts one QMP session per scenario on an already running QEMU (started paused, -S, from a
command line made by nodeagent/qemu_cmdline.c with at least disk0, disk1 and the cdrom) and
writes OUT_DIR/NAME.txt: "<- " lines are what QEMU sent, "-> " lines what the client sent,
verbatim apart from the trailing CR/LF. Events arriving within 0.3 s of a reply are recorded too.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "lib"))
from qmp_record import RecordingSession  # noqa: E402

SCENARIOS = [
    ("handshake", []),
    ("query-status-prelaunch", [("query-status", None)]),
    ("query-cpus-fast", [("query-cpus-fast", None)]),
    ("cont", [("cont", None)]),
    ("query-status-running", [("query-status", None)]),
    ("stop", [("stop", None)]),
    ("block_resize", [("block_resize", {"node-name": "disk1", "size": 67108864})]),
    ("block_resize-error", [("block_resize", {"node-name": "nosuchdisk", "size": 1048576})]),
    ("change-medium", [("blockdev-change-medium",
                        {"id": "cdrom0", "filename": "@ISO@", "format": "raw",
                         "read-only-mode": "read-only"})]),
    ("eject", [("eject", {"id": "cdrom0", "force": True})]),
    ("query-blockstats", [("query-blockstats", None)]),
    ("system_reset", [("system_reset", None)]),
    ("system_powerdown", [("system_powerdown", None)]),
    ("quit", [("quit", None)]),
]


def main():
    sock_path, out_dir, iso = sys.argv[1:4]
    only = sys.argv[4:]
    for name, commands in SCENARIOS:
        if only and name not in only:
            continue
        s = RecordingSession(sock_path)
        s.recv(5)  # greeting
        s.cmd("qmp_capabilities", ident=1, trailing=0.3)
        for i, (execute, args) in enumerate(commands):
            if args is not None:
                args = json.loads(json.dumps(args).replace("@ISO@", iso))
            s.cmd(execute, args, ident=i + 2, trailing=0.3)
        s.close()
        ver = json.loads(s.lines[0][3:])["QMP"]["version"]
        s.write("%s/%s.txt" % (out_dir, name), "# recorded from QEMU %d.%d.%d (%s) by record.py" % (
            ver["qemu"]["major"], ver["qemu"]["minor"], ver["qemu"]["micro"], ver["package"]))
        time.sleep(0.2)


if __name__ == "__main__":
    main()
