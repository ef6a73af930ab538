#!/usr/bin/python3
"""The console benchmark: webrackd's console proxy versus websockify (Debian) carrying the same
RFB stream in the same run (see bench/README.md, section console).

Set-up: a private stack (PostgreSQL, webrackd), one webrack-node in a rack namespace (prefix
"wv") with its console endpoint, one vServer started from the test ISO. Its QEMU's VNC socket is
then replaced by `rfbbench serve` (a VNC source that answers every full-screen request at once),
so the carrier, not QEMU, sets the pace. The same source is reached three ways:

    direct      rfbbench client -> unix socket                       (baseline)
    websockify  client -> wss (websockify, TLS) -> unix socket
    webrackd    client -> wss (webrackd /console/ws, TLS) -> TLS to the node's console endpoint
                -> webrack-node -> unix socket   (the node hop: `rfbbench splice`, C)

Throughput: full 1024x768x32 bpp screens requested back to back for SECONDS (MB/s of RFB).
Latency: 1x1 incremental updates one at a time (median and p99 round trip); "added" is the
median minus the direct one. CPU: seconds of CPU per second of the flood for each process.
"""

import argparse
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(REPO / "tests" / "lib"))
import webrack_it as w  # noqa: E402
import netns  # noqa: E402
from test_zz_rack import GUEST_ISO, NodeAgent  # noqa: E402

RFBBENCH = HERE / "rfbbench"
CONSOLE_PORT = 5902
SECTION = "## Console proxy"


def cpu_seconds(pid, children=False):
    """CPU of pid, with its children live or exited (websockify forks one per connection)."""
    def fields(p):
        with open(f"/proc/{p}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()

    ticks = sum(int(x) for x in fields(pid)[11:15 if children else 13])
    for task in os.listdir(f"/proc/{pid}/task") if children else ():
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                for child in f.read().split():
                    ticks += sum(int(x) for x in fields(child)[11:13])
        except OSError:
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


def run_client(mode, target, seconds, pids):
    before = {k: cpu_seconds(p, k == "websockify") for k, p in pids.items()}
    t0 = time.monotonic()
    r = subprocess.run([str(RFBBENCH), "client", mode, target, str(seconds)],
                       capture_output=True, text=True, timeout=seconds + 60)
    dt = time.monotonic() - t0
    assert r.returncode == 0, f"rfbbench client {mode} {target}: {r.stderr}"
    cpu = {k: round((cpu_seconds(p, k == "websockify") - before[k]) / dt, 2)
           for k, p in pids.items()}
    return r.stdout.strip(), cpu


def parse_flood(out):
    return float(re.search(r"flood ([\d.]+) MB/s", out).group(1))


def parse_ping(out):
    m = re.search(r"median (\d+) us p99 (\d+) us", out)
    return int(m.group(1)), int(m.group(2))


def wait_task(api, tid):
    def done():
        t = api.call("task-get", id=tid)
        return t if t["status"] in ("done", "failed") else None

    t = w.wait_until(done, 180, 0.2, f"task {tid}")
    assert t["status"] == "done", t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per path")
    ap.add_argument("--no-write", action="store_true", help="do not update docs/BENCHMARKS.md")
    a = ap.parse_args()

    # SIGTERM/SIGINT unwind through the finally below, which stops everything started here
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    subprocess.run(["make", "-s", "-C", str(HERE)], check=True)
    load = os.getloadavg()[0]
    netns.cleanup_stale("wv")
    workdir = tempfile.mkdtemp(prefix="wvb-", dir="/tmp")
    vnc_port = w.free_port()
    stack = w.Stack("bench-console", vnc_listen=f"127.0.0.1:{vnc_port}", log_level="info")
    procs, rack, agent = [], None, None
    try:
        stack.start()
        shutil.copyfile(GUEST_ISO, stack.iso_dir / GUEST_ISO.name)
        rack = netns.Rack(nodes=1, prefix="wv", dhcp=False,
                          forward_ports=[stack.port, stack.agent_port])
        splice_port = w.free_port()
        procs.append(subprocess.Popen([str(RFBBENCH), "splice", str(splice_port),
                                       rack.ns("n1"), str(CONSOLE_PORT)],
                                      stdout=subprocess.DEVNULL))
        agent = NodeAgent(stack, rack, "n1", workdir)
        with open(agent.conf, "a") as f:
            f.write(f"console_listen = 127.0.0.1:{CONSOLE_PORT}\n"
                    f"console_advertise = 127.0.0.1:{splice_port}\nlog_level = info\n")
        admin = stack.admin()
        agent.join(admin)
        agent.start()
        w.wait_until(lambda: any(n["state"] == "online" for n in admin.items("node-list")),
                     30, 0.2, "node online")
        admin.call("iso-rescan")
        iso = [i for i in admin.items("iso-list") if i["name"] == GUEST_ISO.name][0]
        tree = w.make_tree(stack, admin)
        api = tree.cadmin.api
        vid = w.make_vserver(api, tree.customer["id"], cores=1, ram_mb=256, disk_gb=1)["id"]
        wait_task(api, api.call("vserver-attach-iso", id=vid, iso_id=iso["id"])["task_id"])
        wait_task(api, api.call("vserver-start", id=vid)["task_id"])

        # The VNC source replaces QEMU's VNC socket; QEMU stays (paused: no TCG load), so the
        # agent still has a VM to open a console to.
        wait_task(api, api.call("vserver-pause", id=vid)["task_id"])
        sock = agent.run / f"vm-{vid}" / "vnc.sock"
        sock.unlink()
        src = subprocess.Popen([str(RFBBENCH), "serve", str(sock), "1024", "768"],
                               stdout=subprocess.PIPE, text=True)
        procs.append(src)
        src.stdout.readline()
        wsf_port = w.free_port()
        wsf = subprocess.Popen(["websockify", f"--cert={stack.dir / 'cert.pem'}",
                                f"--key={stack.dir / 'key.pem'}", f"--unix-target={sock}",
                                f"127.0.0.1:{wsf_port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(wsf)
        w.wait_until(lambda: subprocess.run([str(RFBBENCH), "client", "ping",
                                             f"wss://127.0.0.1:{wsf_port}/", "0.1"],
                                            capture_output=True).returncode == 0,
                     20, 0.2, "websockify")

        def target(path):
            if path == "direct":
                return f"unix:{sock}"
            if path == "websockify":
                return f"wss://127.0.0.1:{wsf_port}/"
            t = api.call("vserver-console-ticket", id=vid)["ticket"]
            return f"wss://127.0.0.1:{stack.port}/console/ws?vserver={vid}&ticket={t}"

        pids = {"webrackd": stack.proc.pid, "webrack-node": agent.proc.pid,
                "websockify": wsf.pid}
        results = {p: {"mbs": [], "rtt": [], "p99": [], "cpu": []}
                   for p in ("direct", "websockify", "webrackd")}
        for _ in range(a.rounds):
            for path in results:
                out, cpu = run_client("flood", target(path), a.seconds, pids)
                results[path]["mbs"].append(parse_flood(out))
                results[path]["cpu"].append(cpu)
                out, _ = run_client("ping", target(path), a.seconds / 2, pids)
                med, p99 = parse_ping(out)
                results[path]["rtt"].append(med)
                results[path]["p99"].append(p99)
                print(f"{path:10s} {results[path]['mbs'][-1]:8.1f} MB/s  rtt {med} us "
                      f"(p99 {p99})  cpu {cpu}", flush=True)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        if agent:
            agent.terminate()
        if rack:
            rack.close()
        shutil.rmtree(workdir, ignore_errors=True)
        stack.terminate()
        stack.stop(check=False)

    def med(xs):
        return sorted(xs)[len(xs) // 2]

    direct_rtt = med(results["direct"]["rtt"])
    rows = []
    for path, r in results.items():
        cpu = {k: med([c[k] for c in r["cpu"]]) for k in r["cpu"][0]}
        who = {"direct": "-", "websockify": f"websockify {cpu['websockify']}",
               "webrackd": f"webrackd {cpu['webrackd']}, webrack-node {cpu['webrack-node']}"}
        rows.append((path, med(r["mbs"]), min(r["mbs"]), max(r["mbs"]), med(r["rtt"]),
                     med(r["rtt"]) - direct_rtt, med(r["p99"]), who[path]))
    ratio = rows[2][1] / rows[1][1]
    verdict = "" if ratio >= 3 else ": not met on this machine"
    table = ["| path | throughput MB/s (median; min-max) | round trip median us | added us | "
             "p99 us | CPU s/s during the flood |", "|---|---|---|---|---|---|"]
    for p, m, lo, hi, rtt, added, p99, cpu in rows:
        table.append(f"| {p} | {m:.0f} ({lo:.0f}-{hi:.0f}) | {rtt} | "
                     f"{'-' if p == 'direct' else added} | {p99} | {cpu} |")
    text = "\n".join(table)
    print("\n" + text + f"\n\nwebrackd / websockify throughput: {ratio:.1f}x (goal >= 3x)")
    if a.no_write:
        return
    cpu_model = "?"
    try:
        cpu_model = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text()).group(1)
    except (OSError, AttributeError):
        pass
    section = f"""{SECTION}

Written by `bench/console/run.py` ({time.strftime('%Y-%m-%d')}, {platform.node()}, {os.cpu_count()} CPUs
{cpu_model}, load average {load:.2f} at the start; {a.rounds} alternating rounds of
{a.seconds:g} s per path, medians).

The same RFB stream (`rfbbench serve`: 1024x768, 32 bpp raw, every full-screen request answered
at once, in place of the vServer's QEMU VNC socket) carried three ways; the client is the same C
program for all three. webrackd's path is the whole production path: browser TLS to webrackd's
`/console/ws`, webrackd's own TLS connection to the node's console endpoint, webrack-node's splice
to the VNC socket. websockify (Debian {websockify_version()}) is one Python process with TLS in
front of the same socket.

{text}

webrackd carries **{ratio:.1f}x** websockify's throughput (goal: at least 3x{verdict}).
Per byte, webrackd decrypts (the node's TLS) and encrypts (the browser's TLS) and the node agent
encrypts once more, where websockify, next to the socket, only encrypts; on loopback every hop
also pays the kernel's copies, and all processes (client, source, node hop, webrackd, agent,
websockify) share the same {os.cpu_count()} CPUs. The added round trip is the figure that shows
the proxy's own cost per message.
"""
    write_section(REPO / "docs" / "BENCHMARKS.md", section)


def websockify_version():
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "websockify"],
                       capture_output=True, text=True)
    return r.stdout.strip() or "?"


def write_section(path, section):
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    start = old.find(SECTION + "\n")
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + section
    else:
        nxt = old.find("\n## ", start + len(SECTION))
        new = old[:start] + section + (old[nxt + 1:] if nxt >= 0 else "")
    path.write_text(new.rstrip("\n") + "\n")
    print(f"wrote the '{SECTION[3:]}' section of {path}")


if __name__ == "__main__":
    main()
