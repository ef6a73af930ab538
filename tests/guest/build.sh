#!/bin/bash
# Build the webrack test guest ISO (see tests/guest/README.md):
#   Debian's kernel (vmlinuz + virtio modules) + busybox-static + a static helper
#   (wrguest.c) in an initramfs, on a BIOS-bootable isolinux ISO made by xorriso.
#
# usage: tests/guest/build.sh [-f] [-q] [OUTDIR]
#   OUTDIR  default: <repo>/var/guest; the ISO is OUTDIR/webrack-guest.iso
#   -f      rebuild even if the stamp says the ISO is current
#   -q      quiet: print only the ISO path
# The ISO is rebuilt only when this script, rootfs/, wrguest.c or a package
# version it uses changes (OUTDIR/webrack-guest.stamp holds the hash).
# Needs (as root, installed if missing): isolinux syslinux-common xorriso cpio
# gcc libc6-dev binutils; the kernel and busybox-static are fetched with
# `apt-get download` and unpacked, never installed on the host.
set -euo pipefail

HERE=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
FORCE=0 QUIET=0
while getopts fq o; do
	case $o in
	f) FORCE=1 ;;
	q) QUIET=1 ;;
	*) echo "usage: $0 [-f] [-q] [OUTDIR]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
OUT=${1:-$ROOT/var/guest}
ISO=$OUT/webrack-guest.iso
STAMP=$OUT/webrack-guest.stamp
CACHE=$OUT/cache

say() { [ "$QUIET" = 1 ] || echo "guest-build: $*" >&2; }
die() { echo "guest-build: error: $*" >&2; exit 1; }

# Modules the guest loads, in this order (DESIGN §9); dependencies found in a
# module's .modinfo are put before it, builtin ones (modules.builtin) are skipped.
# button + evdev: the ACPI power button as an input device; qemu_fw_cfg: parameters via -fw_cfg.
MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk
failover net_failover virtio_net button evdev qemu_fw_cfg"
# Kernel flavour: "cloud" (default: Debian's linux-image-cloud-amd64, LZ4-compressed and
# trimmed for VMs: boots about twice as fast under TCG as the generic one, whose XZ
# decompression alone takes 6-8 s there) or "generic" (linux-image-amd64, a ~10 MB ISO).
FLAVOUR=${WEBRACK_GUEST_KERNEL:-cloud}
case $FLAVOUR in
cloud) KERNEL_META=linux-image-cloud-amd64 ;;
generic) KERNEL_META=linux-image-amd64 ;;
*) die "WEBRACK_GUEST_KERNEL must be cloud or generic, not $FLAVOUR" ;;
esac
BUSYBOX_PKG=busybox-static
TOOL_PKGS="isolinux syslinux-common xorriso cpio gcc libc6-dev binutils"

mkdir -p "$OUT" "$CACHE"
exec 9>"$OUT/.build.lock"
flock 9

missing=()
for p in $TOOL_PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || die "missing Debian packages: ${missing[*]}"
	say "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -q -y --no-install-recommends "${missing[@]}" </dev/null >&2 ||
		{ apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -q -y --no-install-recommends "${missing[@]}" </dev/null >&2; } ||
		die "cannot install ${missing[*]}"
fi

# Hash of the local inputs; the stamp holds it and the full hash (local inputs +
# package versions). While apt's lists are older than the stamp, the versions
# cannot have changed, so the slow apt-cache queries are skipped.
tool_versions=$(dpkg-query -W -f='${Package}=${Version}\n' $TOOL_PKGS 2>/dev/null | sort)
LOCAL_HASH=$( {
	sha256sum "$HERE/build.sh" "$HERE/wrguest.c"
	(cd "$HERE" && find rootfs -type f -print0 | sort -z | xargs -0 sha256sum)
	(cd "$HERE" && find rootfs -print0 | sort -z | xargs -0 stat -c '%n %a')
	echo "$tool_versions"
	echo "$MODULES $KERNEL_META"
} | sha256sum | cut -d' ' -f1)
stamp_line() { sed -n "${1}p" "$STAMP" 2>/dev/null; }
if [ "$FORCE" = 0 ] && [ -s "$ISO" ] && [ "$(stamp_line 1)" = "$LOCAL_HASH" ] &&
	[ "$STAMP" -nt /var/lib/apt/lists ] && [ "$STAMP" -nt /var/lib/apt/lists/partial ]; then
	say "up to date: $ISO"
	echo "$ISO"
	exit 0
fi

# The kernel package behind the metapackage, and the candidate versions.
candidate() { apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p' | grep -v '(none)' || true; }
resolve() {
	KPKG=$(apt-cache depends "$KERNEL_META" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1)
	KVER=""
	[ -n "$KPKG" ] && KVER=$(candidate "$KPKG")
	BVER=$(candidate "$BUSYBOX_PKG")
}
resolve
if { [ -z "$KVER" ] || [ -z "$BVER" ]; } && [ "$(id -u)" = 0 ]; then
	say "no candidate for $KERNEL_META/$BUSYBOX_PKG: apt-get update"
	apt-get update -q >&2 || true
	resolve
fi
if [ -z "$KPKG" ] || [ -z "$KVER" ] || [ -z "$BVER" ]; then
	# no apt lists (yet): fall back to what an earlier build left in the cache
	say "apt knows no $KERNEL_META/$BUSYBOX_PKG candidate; trying the cache"
	kdeb=$(ls -1 "$CACHE"/linux-image-[0-9]*"${KERNEL_META#linux-image}"_*.deb 2>/dev/null | { [ "$FLAVOUR" = cloud ] && cat || grep -v -- -cloud-; } | sort -V | tail -n1 || true)
	bdeb=$(ls -1 "$CACHE"/busybox-static_*.deb 2>/dev/null | sort -V | tail -n1 || true)
	[ -n "$kdeb" ] && [ -n "$bdeb" ] || die "run apt-get update first (no kernel/busybox candidate, nothing cached)"
	KPKG=$(dpkg-deb -f "$kdeb" Package) KVER=$(dpkg-deb -f "$kdeb" Version)
	BVER=$(dpkg-deb -f "$bdeb" Version)
fi
HASH=$(echo "$LOCAL_HASH $KPKG=$KVER $BUSYBOX_PKG=$BVER" | sha256sum | cut -d' ' -f1)

if [ "$FORCE" = 0 ] && [ -s "$ISO" ] && [ "$(stamp_line 2)" = "$HASH" ]; then
	printf '%s\n%s\n' "$LOCAL_HASH" "$HASH" >"$STAMP"
	say "up to date: $ISO"
	echo "$ISO"
	exit 0
fi

T0=$(date +%s.%N)
WORK=$(mktemp -d "$OUT/.work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# fetch a .deb into the cache (apt-get download), reuse it when it is there
fetch() { # PKG VERSION
	local pkg=$1 ver=$2 f
	f=$(ls -1 "$CACHE/${pkg}_${ver//:/%3a}_"*.deb 2>/dev/null | head -n1 || true)
	if [ -z "$f" ]; then
		say "downloading $pkg=$ver"
		# apt's sandbox user cannot write into root-owned dirs: download in a world-writable temp dir
		local d
		d=$(mktemp -d)
		chmod 0777 "$d"
		(cd "$d" && apt-get download -q "$pkg=$ver" >&2) || { rm -rf "$d"; die "apt-get download $pkg=$ver failed"; }
		mv "$d"/*.deb "$CACHE/"
		rm -rf "$d"
		f=$(ls -1 "$CACHE/${pkg}_${ver//:/%3a}_"*.deb | head -n1)
		# keep only this version of the package in the cache
		for old in "$CACHE/${pkg}_"*.deb; do [ "$old" = "$f" ] || rm -f "$old"; done
	fi
	echo "$f"
}
KDEB=$(fetch "$KPKG" "$KVER")
BDEB=$(fetch "$BUSYBOX_PKG" "$BVER")

say "unpacking $(basename "$KDEB") and $(basename "$BDEB")"
mkdir -p "$WORK/k" "$WORK/b"
dpkg-deb -x "$KDEB" "$WORK/k"
dpkg-deb -x "$BDEB" "$WORK/b"
VMLINUZ=$(ls -1 "$WORK"/k/boot/vmlinuz-* | head -n1)
MODDIR=$(ls -d "$WORK"/k/lib/modules/*/ | head -n1)
[ -f "$VMLINUZ" ] && [ -d "$MODDIR" ] || die "no kernel/modules in $KDEB"
BUSYBOX=$WORK/b/bin/busybox
[ -x "$BUSYBOX" ] || die "no bin/busybox in $BDEB"

# --- initramfs tree ---
R=$WORK/root
mkdir -p "$R"/{bin,sbin,etc,proc,sys,dev,run,tmp,root,lib/modules,usr/bin,usr/sbin}
cp "$BUSYBOX" "$R/bin/busybox"
for applet in $("$BUSYBOX" --list-full); do
	[ -e "$R/$applet" ] || ln -s /bin/busybox "$R/$applet"
done
cp -a "$HERE/rootfs/." "$R/"
chmod 0755 "$R/init"
echo "root:x:0:0:root:/root:/bin/sh" >"$R/etc/passwd"
echo "root:x:0:" >"$R/etc/group"

say "compiling wrguest (static)"
gcc -static -Os -s -Wall -Wextra -Werror -o "$R/bin/wrguest" "$HERE/wrguest.c"

# modules: resolve file, builtin state and dependencies
norm() { echo "${1//-/_}"; }
modfile() { # module name -> path of its .ko[.xz|.zst] or nothing
	find "$MODDIR/kernel" -type f \( -name "$1.ko*" -o -name "${1//_/-}.ko*" \) | head -n1
}
is_builtin() {
	sed 's,.*/,,; s,\.ko.*$,,; s,-,_,g' "$MODDIR/modules.builtin" | grep -qx "$(norm "$1")"
}
declare -A DONE=()
ORDER=()
unpack_ko() { # SRC DST
	case "$1" in
	*.ko.xz) xz -dc "$1" >"$2" ;;
	*.ko.zst) zstd -qdc "$1" >"$2" ;;
	*.ko.gz) gzip -dc "$1" >"$2" ;;
	*) cp "$1" "$2" ;;
	esac
}
add_module() {
	local m f deps d
	m=$(norm "$1")
	[ -z "${DONE[$m]:-}" ] || return 0
	DONE[$m]=1
	if is_builtin "$m"; then
		say "module $m: builtin"
		return 0
	fi
	f=$(modfile "$m")
	[ -n "$f" ] || die "module $m neither builtin nor in $KPKG"
	unpack_ko "$f" "$WORK/$m.ko"
	deps=$(objcopy -O binary --only-section=.modinfo "$WORK/$m.ko" /dev/stdout | tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' ')
	for d in $deps; do add_module "$d"; done
	mv "$WORK/$m.ko" "$R/lib/modules/$m.ko"
	ORDER+=("$m")
}
for m in $MODULES; do add_module "$m"; done
printf '%s\n' "${ORDER[@]}" >"$R/lib/modules/order"
say "modules loaded in order: ${ORDER[*]}"

say "packing initramfs"
(cd "$R" && find . -print0 | sort -z | cpio --null -o -H newc --quiet --reproducible) | gzip -9n >"$WORK/initrd.gz"

# --- ISO ---
I=$WORK/iso
mkdir -p "$I/isolinux" "$I/boot"
cp "$VMLINUZ" "$I/boot/vmlinuz"
cp "$WORK/initrd.gz" "$I/boot/initrd.gz"
cp /usr/lib/ISOLINUX/isolinux.bin "$I/isolinux/"
cp /usr/lib/syslinux/modules/bios/ldlinux.c32 "$I/isolinux/"
cat >"$I/isolinux/isolinux.cfg" <<EOF
serial 0 115200
default webrack
prompt 0
timeout 0
label webrack
  kernel /boot/vmlinuz
  initrd /boot/initrd.gz
  append console=tty0 console=ttyS0,115200 quiet panic=-1 mitigations=off cryptomgr.notests tsc=reliable no_timer_check
EOF
echo "kernel: $KPKG $KVER; busybox-static $BVER; built $(date -u +%FT%TZ)" >"$I/VERSION"

say "writing ISO"
xorriso -as mkisofs -quiet -o "$WORK/guest.iso" -V WEBRACK_GUEST -J -R \
	-isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin \
	-b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table \
	"$I" 2>"$WORK/xorriso.log" || { cat "$WORK/xorriso.log" >&2; die "xorriso failed"; }
mv -f "$WORK/guest.iso" "$ISO"
printf '%s\n%s\n' "$LOCAL_HASH" "$HASH" >"$STAMP"
T1=$(date +%s.%N)
say "built $ISO ($(stat -c %s "$ISO") bytes) in $(awk "BEGIN{printf \"%.1f\", $T1 - $T0}") s"
echo "$ISO"
