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
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(REPO / "tests" / "lib"))
import webrack_it as w  # noqa: E402
import netns  # noqa: E402
from test_zz_rack import GUEST_ISO, NodeAgent, ensure_guest_iso  # noqa: E402

RFBBENCH = HERE / "rfbbench"
CONSOLE_PORT = 5902
SECTION = "## Console proxy"
# The processes each path runs through (their CPU is charged to it).
PATH_PROCS = {"direct": ("client", "source"),
              "websockify": ("client", "websockify", "source"),
              "webrackd": ("client", "webrackd", "splice", "webrack-node", "source")}


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


def no_children(pid, deadline=3.0):
    """Wait until pid's per-connection children ended and were reaped (their CPU is then in
    pid's cutime/cstime)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            kids = "".join(Path(f"/proc/{pid}/task/{t}/children").read_text()
                           for t in os.listdir(f"/proc/{pid}/task"))
        except OSError:
            return
        if not kids.strip():
            return
        time.sleep(0.02)


def run_client(mode, target, seconds, pids):
    """Run the client; CPU seconds per second of every process of the path (forking ones with
    their children) and of the client itself."""
    forking = ("websockify", "source", "splice")
    before = {k: cpu_seconds(p, k in forking) for k, p in pids.items()}
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    r = subprocess.run([str(RFBBENCH), "client", mode, target, str(seconds)],
                       capture_output=True, text=True, timeout=seconds + 60)
    dt = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert r.returncode == 0, f"rfbbench client {mode} {target}: {r.stderr}"
    for k in forking:
        no_children(pids[k])
    cpu = {k: round((cpu_seconds(p, k in forking) - before[k]) / dt, 3)
           for k, p in pids.items()}
    cpu["client"] = round((ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / dt, 3)
    return r.stdout.strip(), cpu


def parse_flood(out):
    m = re.search(r"flood ([\d.]+) MB/s .* (\S+) (\S+)$", out)
    return float(m.group(1)), f"{m.group(2)} {m.group(3)}"


def aes_gcm_speed():
    """GB/s of one core for AES-128-GCM and AES-256-GCM on 16 KiB blocks (openssl speed)."""
    speeds = {}
    for alg in ("aes-128-gcm", "aes-256-gcm"):
        r = subprocess.run(["openssl", "speed", "-seconds", "2", "-bytes", "16384", "-evp", alg],
                           capture_output=True, text=True)
        m = re.search(r"^AES-\d+-GCM\s+([\d.]+)k", r.stdout, re.M)
        speeds[alg] = float(m.group(1)) * 1000 / 1e9 if m else 0.0
    return speeds


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
    ap.add_argument("--paths", default="direct,websockify,webrackd",
                    help="comma-separated subset to measure (implies --no-write unless all)")
    ap.add_argument("--perf", metavar="FILE",
                    help="perf record webrackd and webrack-node during webrackd's floods")
    a = ap.parse_args()
    paths = a.paths.split(",")
    if sorted(paths) != sorted(["direct", "websockify", "webrackd"]):
        a.no_write = True

    # SIGTERM/SIGINT unwind through the finally below, which stops everything started here
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    subprocess.run(["make", "-s", "-C", str(HERE)], check=True)
    load = os.getloadavg()[0]
    aes = aes_gcm_speed()
    netns.cleanup_stale("wv")
    workdir = tempfile.mkdtemp(prefix="wvb-", dir="/tmp")
    vnc_port = w.free_port()
    stack = w.Stack("bench-console", vnc_listen=f"127.0.0.1:{vnc_port}", log_level="info")
    procs, rack, agent = [], None, None
    try:
        stack.start()
        shutil.copyfile(ensure_guest_iso(), stack.iso_dir / GUEST_ISO.name)
        rack = netns.Rack(nodes=1, prefix="wv", dhcp=False,
                          forward_ports=[stack.port, stack.agent_port])
        splice_port = w.free_port()
        splice = subprocess.Popen([str(RFBBENCH), "splice", str(splice_port),
                                   rack.ns("n1"), str(CONSOLE_PORT)], stdout=subprocess.DEVNULL)
        procs.append(splice)
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
                "websockify": wsf.pid, "source": src.pid, "splice": splice.pid}
        results = {p: {"mbs": [], "rtt": [], "p99": [], "cpu": []}
                   for p in paths}
        for _ in range(a.rounds):
            for path in results:
                perf = None
                if a.perf and path == "webrackd":
                    perf = subprocess.Popen(["perf", "record", "-g", "-q", "-o", a.perf, "-p",
                                             f"{stack.proc.pid},{agent.proc.pid}"])
                out, cpu = run_client("flood", target(path), a.seconds, pids)
                if perf:
                    perf.send_signal(signal.SIGINT)
                    perf.wait(30)
                mbs, cipher = parse_flood(out)
                results[path]["mbs"].append(mbs)
                results[path]["cipher"] = cipher
                # CPU seconds per GB carried, per process of this path
                results[path]["cpu"].append({k: cpu[k] / (mbs / 1000)
                                             for k in PATH_PROCS[path]})
                out, _ = run_client("ping", target(path), a.seconds / 2, pids)
                med, p99 = parse_ping(out)
                results[path]["rtt"].append(med)
                results[path]["p99"].append(p99)
                print(f"{path:10s} {results[path]['mbs'][-1]:8.1f} MB/s  rtt {med} us "
                      f"(p99 {p99})  CPU s/s {cpu}", flush=True)
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

    direct_rtt = med(results["direct"]["rtt"]) if "direct" in results else 0
    rows = []
    for path, r in results.items():
        cpu = {k: med([c[k] for c in r["cpu"]]) for k in PATH_PROCS[path]}
        proxies = " + ".join(f"{k} {cpu[k]:.2f}" for k in PATH_PROCS[path]
                             if k not in ("client", "source")) or "-"
        rows.append((path, med(r["mbs"]), min(r["mbs"]), max(r["mbs"]), med(r["rtt"]),
                     med(r["rtt"]) - direct_rtt, med(r["p99"]), proxies,
                     cpu["client"], cpu["source"], sum(cpu.values())))
    mbs = {row[0]: row[1] for row in rows}
    ratio = mbs.get("webrackd", 0) / mbs["websockify"] if mbs.get("websockify") else 0
    verdict = "" if ratio >= 3 else ": not met on this machine"
    table = ["| path | throughput MB/s (median; min-max) | round trip median us | added us | "
             "p99 us | CPU s per GB carried: proxy processes | client | source | whole path |",
             "|---|---|---|---|---|---|---|---|---|"]
    for p, m, lo, hi, rtt, added, p99, proxies, client, source, total in rows:
        table.append(f"| {p} | {m:.0f} ({lo:.0f}-{hi:.0f}) | {rtt} | "
                     f"{'-' if p == 'direct' else added} | {p99} | {proxies} | {client:.2f} | "
                     f"{source:.2f} | {total:.2f} |")
    text = "\n".join(table)
    print("\n" + text + f"\n\nwebrackd / websockify throughput: {ratio:.1f}x (goal >= 3x)")
    if len(results) < 3:
        return
    cpu_model = "?"
    try:
        cpu_model = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text()).group(1)
    except (OSError, AttributeError):
        pass
    ncpu = os.cpu_count() or 1
    wr = {k: med([c[k] for c in results["webrackd"]["cpu"]]) for k in PATH_PROCS["webrackd"]}
    ends = wr["client"] + wr["source"]
    need_mbs = 3 * mbs["websockify"]
    budget = ncpu / (need_mbs / 1000)
    # the four AES-GCM passes of webrackd's path, at openssl speed's rate on one core
    a128, a256 = aes.get("aes-128-gcm") or 1, aes.get("aes-256-gcm") or 1
    browser = a128 if "AES_128" in results["webrackd"].get("cipher", "") else a256
    crypto = 2 / a128 + 2 / browser
    mine = wr["webrackd"] + wr["splice"] + wr["webrack-node"]
    crypto_mine = crypto - 1 / browser  # node encrypts, webrackd decrypts and encrypts again
    speeds = (f"AES-GCM at `openssl speed -evp` rates on one core (AES-128-GCM {a128:.2f} GB/s, "
              f"AES-256-GCM {a256:.2f} GB/s, 16 KiB blocks)")
    closing = (f" The per-process figures show where the time goes; all processes share the "
               f"same {ncpu} CPUs (on a loaded machine every figure rises). The added round trip "
               f"is the proxy's own cost per message (two more hops than websockify: the network "
               f"and the node agent).")
    floor_text = (
        f"3x websockify would be {need_mbs:.0f} MB/s; {ncpu} CPUs carry that only if the whole "
        f"path costs at most {budget:.2f} CPU s per GB. The client and the source (the same "
        f"programs on every path) cost {ends:.2f} s per GB on webrackd's path")
    if budget <= ends + crypto_mine:
        floor_text += (
            f", and webrackd and the node agent cannot cost less than their {crypto_mine:.2f} s "
            f"per GB of {speeds} before any copy, syscall or wake-up: "
            f"**out of reach on this machine** (websockify, next to the socket, encrypts once; "
            f"webrackd's path encrypts or decrypts every byte three times before the client).")
    else:
        floor_text += (
            f", so webrackd, the network and the node agent (now {mine:.2f} s per GB) would "
            f"have to cost at most {budget - ends:.2f} s per GB together; their {speeds} alone "
            f"costs {crypto_mine:.2f} s per GB.")
    # Measured bounds: what the rest of webrackd's path leaves (webrackd at no cost at all), and
    # what each proxy process would carry per connection with a core of its own (a controller on
    # its own machine, websockify on the node).
    others = sum(wr.values()) - wr["webrackd"]
    ws = {k: med([c[k] for c in results["websockify"]["cpu"]])
          for k in PATH_PROCS["websockify"]}
    cap_mbs = ncpu / others * 1000
    own_core = {"webrackd": 1000 / wr["webrackd"], "websockify": 1000 / ws["websockify"]}
    bounds_text = (
        f"Measured bounds. Without webrackd's own CPU (as if it cost nothing) the rest of its path "
        f"(client, source, network, node agent: {others:.2f} s per GB) caps the run at "
        f"{cap_mbs:.0f} MB/s, {cap_mbs / mbs['websockify']:.2f}x websockify. With a core of its "
        f"own (the controller on its own machine, websockify next to the VNC socket), one "
        f"connection through webrackd would carry {own_core['webrackd']:.0f} MB/s and one through "
        f"websockify {own_core['websockify']:.0f} MB/s "
        f"({own_core['webrackd'] / own_core['websockify']:.2f}x): webrackd decrypts and "
        f"encrypts every byte, websockify only encrypts it.")
    section = f"""{SECTION}

Written by `bench/console/run.py` ({time.strftime('%Y-%m-%d')}, {platform.node()}, {ncpu} CPUs
{cpu_model}, load average {load:.2f} at the start; {a.rounds} alternating rounds of
{a.seconds:g} s per path, medians).

The same RFB stream (`rfbbench serve`: 1024x768, 32 bpp raw, every full-screen request answered
at once, in place of the vServer's QEMU VNC socket) carried three ways; the client is the same C
program for all three (two requests in flight). webrackd's path is the whole production path:
browser TLS to webrackd's `/console/ws`, webrackd's own TLS connection to the node's console
endpoint, the management network (here `rfbbench splice`, splice(2) between the root and the
node namespace, its CPU charged to webrackd's path), webrack-node's relay to the VNC socket.
websockify (Debian {websockify_version()}) is a Python daemon (a forked process per connection,
its CPU counted) with TLS in front of the same socket and the same certificate, run with its
Debian defaults. Browser-side TLS: websockify {results["websockify"].get("cipher", "?")},
webrackd {results["webrackd"].get("cipher", "?")}. The paths alternate within each round.

{text}

webrackd carries **{ratio:.1f}x** websockify's throughput (goal: at least 3x{verdict}).

{textwrap.fill(floor_text + closing, 98, break_on_hyphens=False)}

{textwrap.fill(bounds_text, 98, break_on_hyphens=False)}

"""
    if a.no_write:
        print("\n" + section)
        return
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
