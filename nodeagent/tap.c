/*
 * Persistent tap devices for guest NICs, made with the tun driver's ioctls rather than by
 * running `ip`: no fork, no shell, and an error is an errno we can name. A tap is created
 * persistent (TUNSETPERSIST 1) so that it outlives the fd the agent used to create it; QEMU opens
 * it by name with its own flags (vnet_hdr, multiqueue), and TUNSETPERSIST 0 removes it once QEMU
 * has closed it. The bridge is joined with SIOCBRADDIF. sysfs tells whether a device exists and
 * which bridge (master) it is in, which keeps both directions idempotent.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"

#define SYS_NET "/sys/class/net"

bool
tap_name(int64_t vm_id, size_t index, char *buf, size_t len)
{
	int n = snprintf(buf, len, TAP_PREFIX "%" PRId64 "n%zu", vm_id, index);

	return vm_id > 0 && n > 0 && (size_t)n < len && n < IFNAMSIZ;
}

bool
tap_bridge_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len < 1 || len >= IFNAMSIZ || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

static bool
own_tap_name(const char *name)
{
	/* Same alphabet as a bridge, and only names this module hands out. */
	return tap_bridge_name_ok(name) && strncmp(name, TAP_PREFIX, strlen(TAP_PREFIX)) == 0;
}

bool
tap_exists(const char *name)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), SYS_NET "/%s", name);
	return tap_bridge_name_ok(name) && stat(path, &st) == 0;
}

static bool
is_bridge(const char *name)
{
	char path[80];
	struct stat st;

	snprintf(path, sizeof(path), SYS_NET "/%s/bridge", name);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The bridge name is in master into buf, "" when in none. */
static void
master_of(const char *name, char *buf, size_t len)
{
	char path[80], target[PATH_MAX];
	ssize_t n;

	buf[0] = '\0';
	snprintf(path, sizeof(path), SYS_NET "/%s/master", name);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return;
	target[n] = '\0';
	const char *base = strrchr(target, '/');
	base = base != NULL ? base + 1 : target;
	if (strlen(base) < len) /* longer is no interface name */
		memcpy(buf, base, strlen(base) + 1);
}

/* TUNSETIFF on a fresh /dev/net/tun fd; the fd, or -1 with why. */
static int
tun_attach(const char *name, char *why, size_t whylen)
{
	struct ifreq ifr = {0};
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		snprintf(why, whylen, "cannot open /dev/net/tun: %s", strerror(errno));
		return -1;
	}
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
		snprintf(why, whylen, "tap %s: TUNSETIFF: %s%s", name, strerror(errno),
			 errno == EBUSY ? " (still in use by a QEMU?)" : "");
		close(fd);
		return -1;
	}
	return fd;
}

static int
set_up(int sock, const char *name, char *why, size_t whylen)
{
	struct ifreq ifr = {0};

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(sock, SIOCGIFFLAGS, &ifr) != 0) {
		snprintf(why, whylen, "tap %s: SIOCGIFFLAGS: %s", name, strerror(errno));
		return -1;
	}
	if (ifr.ifr_flags & IFF_UP)
		return 0;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(sock, SIOCSIFFLAGS, &ifr) != 0) {
		snprintf(why, whylen, "tap %s: cannot bring it up: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}

static int
bridge_ioctl(int sock, unsigned long req, const char *bridge, const char *name, char *why,
	     size_t whylen)
{
	struct ifreq ifr = {0};
	unsigned int index = if_nametoindex(name);

	if (index == 0) {
		snprintf(why, whylen, "tap %s vanished: %s", name, strerror(errno));
		return -1;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", bridge);
	ifr.ifr_ifindex = (int)index;
	if (ioctl(sock, req, &ifr) != 0) {
		snprintf(why, whylen, "tap %s: cannot %s bridge %s: %s", name,
			 req == SIOCBRADDIF ? "join" : "leave", bridge, strerror(errno));
		return -1;
	}
	return 0;
}

int
tap_create(const char *name, const char *bridge, char *why, size_t whylen)
{
	char master[IFNAMSIZ + 1];
	int fd = -1, sock = -1, rc = -1;

	if (!own_tap_name(name)) {
		snprintf(why, whylen, "'%s' is not a tap name of this agent", name);
		return -1;
	}
	if (!tap_bridge_name_ok(bridge) || !is_bridge(bridge)) {
		snprintf(why, whylen, "bridge %s does not exist on this node", bridge);
		return -1;
	}
	if (tap_exists(name) && !is_bridge(name)) {
		/* Ours from an earlier start: reuse it (TUNSETIFF below would attach just the
		 * same). */
		log_debug("tap %s exists already", name);
	} else {
		fd = tun_attach(name, why, whylen);
		if (fd < 0)
			return -1;
		if (ioctl(fd, TUNSETPERSIST, 1) != 0) {
			snprintf(why, whylen, "tap %s: TUNSETPERSIST: %s", name, strerror(errno));
			goto out;
		}
	}
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		goto out;
	}
	if (set_up(sock, name, why, whylen) != 0)
		goto out;
	master_of(name, master, sizeof(master));
	if (strcmp(master, bridge) != 0) {
		if (master[0] != '\0' &&
		    bridge_ioctl(sock, SIOCBRDELIF, master, name, why, whylen) != 0)
			goto out;
		if (bridge_ioctl(sock, SIOCBRADDIF, bridge, name, why, whylen) != 0)
			goto out;
	}
	log_info("tap %s up in bridge %s", name, bridge);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (sock >= 0)
		close(sock);
	return rc;
}

int
tap_delete(const char *name, char *why, size_t whylen)
{
	if (!own_tap_name(name)) {
		snprintf(why, whylen, "'%s' is not a tap name of this agent", name);
		return -1;
	}
	if (!tap_exists(name))
		return 0;
	int fd = tun_attach(name, why, whylen);
	if (fd < 0)
		return -1;
	if (ioctl(fd, TUNSETPERSIST, 0) != 0) {
		snprintf(why, whylen, "tap %s: TUNSETPERSIST 0: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd); /* the last reference: the device goes away with it */
	log_info("tap %s deleted", name);
	return 0;
}
