/*
 * A screenshot through webrackd's console proxy: libvncclient connects to the VeNCrypt listener
 * (subtype X509Plain: TLS verified against ca_file or the system CAs, the ticket as password),
 * waits for one complete framebuffer and writes it as PNG. Used by `wrctl screenshot` and by the
 * console tests (tests/tools/vncshot).
 *
 * Debian's libvncclient (0.9.14) is built with GnuTLS and speaks VeNCrypt X509Plain; it has no
 * "do not verify" switch. insecure therefore fetches the proxy's certificate first (a VeNCrypt
 * handshake up to TLS, nothing sent) and trusts exactly that certificate for the real connection
 * (trust on first use, as `webrack-node join --insecure-first-join`).
 */
#ifndef WEBRACK_VNCSHOT_H
#define WEBRACK_VNCSHOT_H

#include <stdbool.h>
#include <stddef.h>

struct vncshot_target {
	const char *host;
	int port;
	const char *password;
	const char *ca_file;
	bool insecure;
};

/* What the last grab saw (for tests): size and how many pixels are not black. */
struct vncshot_info {
	int width, height;
	long nonblack;
};

/*
 * Connect with libvncclient (VeNCrypt/TLS, the password is the ticket), wait for one full
 * framebuffer, write it as PNG (libpng). 0 on success; else -1 with err filled.
 */
int vncshot_grab_png(const struct vncshot_target *t, const char *png_path, int timeout_seconds,
		     char *err, size_t errlen);

/* The same, also reporting what was grabbed (info may be NULL). */
int vncshot_grab_png_info(const struct vncshot_target *t, const char *png_path, int timeout_seconds,
			  struct vncshot_info *info, char *err, size_t errlen);

#endif
