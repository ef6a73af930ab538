"""Acting on the guest side of a running QEMU, for the guest-IP tests and bench/arp (stdlib only,
root).

    inj = TapInjector(qemu_pid, "wrt5n0")   # QEMU's own tap descriptor, duplicated
    inj.send(arp_frame(mac, "10.77.0.9", "10.77.0.1"))
    vnc_type(run_dir / "vnc.sock", "ip addr add 10.77.0.77/24 dev eth0\\n")

TapInjector duplicates QEMU's descriptor of the tap with pidfd_getfd(2). Writing a frame to a tap
descriptor is exactly what QEMU does with every frame the guest's NIC sends: the kernel receives
it on the tap as coming from the guest. So injected frames take the guest's path into the host
(and the sniffer sees them as the guest's), without a second tap, a veth or a fake VM. When QEMU
negotiated a virtio-net header (IFF_VNET_HDR), each write starts with an all-zero header.

vnc_type() types on the guest's VGA console through QEMU's VNC socket (RFB 3.8, security type
None: the socket is 0600 and local), so the test guest's tty1 shell runs the command itself.
"""

import ctypes
import fcntl
import os
import socket
import struct
import time

SYS_PIDFD_GETFD = 438  # x86_64
TUNGETIFF = 0x800454D2
TUNGETVNETHDRSZ = 0x800454D7
IFF_VNET_HDR = 0x4000

_libc = ctypes.CDLL(None, use_errno=True)


def tun_fds(pid, tap):
    """QEMU's descriptors of the tap (from /proc/PID/fdinfo, 'iff:' lines)."""
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                info = f.read()
        except OSError:
            continue
        for line in info.splitlines():
            if line.startswith("iff:") and line.split()[1] == tap:
                out.append(int(fd))
    return out


class TapInjector:
    def __init__(self, qemu_pid, tap):
        fds = tun_fds(qemu_pid, tap)
        if not fds:
            raise RuntimeError(f"QEMU {qemu_pid} holds no descriptor of {tap}")
        pidfd = os.pidfd_open(qemu_pid)
        try:
            fd = _libc.syscall(SYS_PIDFD_GETFD, pidfd, fds[0], 0)
            if fd < 0:
                raise OSError(ctypes.get_errno(), "pidfd_getfd")
        finally:
            os.close(pidfd)
        self.fd = fd
        ifr = bytearray(40)
        fcntl.ioctl(fd, TUNGETIFF, ifr)
        name = ifr[:16].split(b"\0")[0].decode()
        assert name == tap, (name, tap)
        flags = struct.unpack_from("H", ifr, 16)[0]
        self.hdr = b""
        if flags & IFF_VNET_HDR:
            sz = bytearray(4)
            fcntl.ioctl(fd, TUNGETVNETHDRSZ, sz)
            self.hdr = bytes(struct.unpack("i", sz)[0])

    def send(self, frame):
        os.write(self.fd, self.hdr + frame)

    def close(self):
        os.close(self.fd)


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def arp_frame(mac, sender_ip, target_ip, op=1):
    """An Ethernet broadcast ARP request (op 1) or reply (op 2) from mac claiming sender_ip."""
    m = mac_bytes(mac)
    return (b"\xff" * 6 + m + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + m +
            socket.inet_aton(sender_ip) + bytes(6) + socket.inet_aton(target_ip))


# ---- VNC keyboard ----

_SHIFTED = {'!': '1', '@': '2', '#': '3', '$': '4', '%': '5', '^': '6', '&': '7', '*': '8',
            '(': '9', ')': '0', '_': '-', '+': '=', '{': '[', '}': ']', '|': '\\', ':': ';',
            '"': "'", '<': ',', '>': '.', '?': '/', '~': '`'}


def _recv(s, n):
    b = b""
    while len(b) < n:
        chunk = s.recv(n - len(b))
        if not chunk:
            raise RuntimeError("VNC server closed the connection")
        b += chunk
    return b


def vnc_type(sock_path, text, delay=0.03):
    """Type text on the guest's keyboard ('\\n' = Return) through QEMU's VNC unix socket."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(str(sock_path))
    try:
        _recv(s, 12)
        s.sendall(b"RFB 003.008\n")
        n = _recv(s, 1)[0]
        types = _recv(s, n)
        if 1 not in types:
            raise RuntimeError(f"VNC server wants authentication ({list(types)})")
        s.sendall(b"\x01")
        if struct.unpack("!I", _recv(s, 4))[0] != 0:
            raise RuntimeError("VNC security handshake failed")
        s.sendall(b"\x01")  # shared
        hdr = _recv(s, 24)
        _recv(s, struct.unpack("!I", hdr[20:24])[0])

        def key(sym, down):
            s.sendall(struct.pack("!BBxxI", 4, 1 if down else 0, sym))
            time.sleep(delay)

        for ch in text:
            if ch == "\n":
                sym, shift = 0xFF0D, False
            elif ch.isupper() or ch in _SHIFTED:
                sym, shift = ord(ch), True
            else:
                sym, shift = ord(ch), False
            if shift:
                key(0xFFE1, True)
            key(sym, True)
            key(sym, False)
            if shift:
                key(0xFFE1, False)
    finally:
        s.close()
