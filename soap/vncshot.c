/*
 * Screenshots through the console proxy with libvncclient (see vncshot.h). libvncclient is
 * blocking and reports through a global log hook; both are fine for the command-line tools that
 * use this file, which grab one picture and exit.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <png.h>
#include <rfb/rfbclient.h>

#include "vncshot.h"

/* libvncclient logs through a global hook: keep its last line for error messages. */
static char last_log[256];

static void
capture_log(const char *fmt, ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	line[strcspn(line, "\n")] = '\0';
	if (line[0] != '\0')
		snprintf(last_log, sizeof(last_log), "%s", line);
	if (getenv("VNCSHOT_DEBUG") != NULL)
		fprintf(stderr, "libvncclient: %s\n", line);
}

static int tag; /* the client data key */

struct grab {
	const struct vncshot_target *t;
	const char *ca_file;
	long covered; /* pixels received since the connection started */
	bool complete;
};

static rfbCredential *
get_credential(rfbClient *cl, int type)
{
	struct grab *g = rfbClientGetClientData(cl, &tag);
	rfbCredential *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if (type == rfbCredentialTypeX509) {
		if (g->ca_file != NULL)
			c->x509Credential.x509CACertFile = strdup(g->ca_file);
		return c;
	}
	if (type == rfbCredentialTypeUser) {
		c->userCredential.username = strdup("ticket");
		c->userCredential.password = strdup(g->t->password ? g->t->password : "");
		return c;
	}
	free(c);
	return NULL;
}

static void
got_update(rfbClient *cl, int x, int y, int w, int h)
{
	struct grab *g = rfbClientGetClientData(cl, &tag);

	g->covered += (long)w * h;
	if (getenv("VNCSHOT_DEBUG") != NULL)
		fprintf(stderr, "vncshot: update %d,%d %dx%d\n", x, y, w, h);
}

static void
finished_update(rfbClient *cl)
{
	struct grab *g = rfbClientGetClientData(cl, &tag);

	/* A full-screen request is answered once the rectangles cover the screen. */
	if (g->covered >= (long)cl->width * cl->height)
		g->complete = true;
}

static int
write_png(rfbClient *cl, const char *path, struct vncshot_info *info, char *err, size_t errlen)
{
	int w = cl->width, h = cl->height;
	const uint8_t *fb = cl->frameBuffer;
	FILE *f = fopen(path, "wb");
	png_structp png = NULL;
	png_infop pinfo = NULL;
	uint8_t *row = malloc((size_t)w * 3);
	long nonblack = 0;
	int rc = -1;

	if (f == NULL || row == NULL) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		goto out;
	}
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	pinfo = png ? png_create_info_struct(png) : NULL;
	if (pinfo == NULL || setjmp(png_jmpbuf(png))) {
		snprintf(err, errlen, "libpng failed writing %s", path);
		goto out;
	}
	png_init_io(png, f);
	png_set_IHDR(png, pinfo, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, pinfo);
	for (int y = 0; y < h; y++) {
		/* rfbGetClient(8, 3, 4): little-endian 32 bpp, red at bit 0, blue at bit 16. */
		const uint8_t *src = fb + (size_t)y * w * 4;
		for (int x = 0; x < w; x++) {
			row[3 * x] = src[4 * x];
			row[3 * x + 1] = src[4 * x + 1];
			row[3 * x + 2] = src[4 * x + 2];
			if (src[4 * x] | src[4 * x + 1] | src[4 * x + 2])
				nonblack++;
		}
		png_write_row(png, row);
	}
	png_write_end(png, NULL);
	if (info != NULL) {
		info->width = w;
		info->height = h;
		info->nonblack = nonblack;
	}
	rc = 0;
out:
	if (png != NULL)
		png_destroy_write_struct(&png, pinfo ? &pinfo : NULL);
	free(row);
	if (f != NULL && fclose(f) != 0 && rc == 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		rc = -1;
	}
	return rc;
}

/* ---- trust on first use: the proxy's certificate, before the real connection ---- */

static bool
read_full(int fd, void *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

static int
connect_tcp(const char *host, int port, int timeout_seconds)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	char port_text[16];
	int fd = -1;

	snprintf(port_text, sizeof(port_text), "%d", port);
	if (getaddrinfo(host, port_text, &hints, &ai) != 0)
		return -1;
	for (struct addrinfo *a = ai; a != NULL && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		struct timeval tv = {timeout_seconds, 0};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	return fd;
}

/* VeNCrypt up to the TLS handshake, then save the server's certificate as PEM in path. */
static int
fetch_certificate(const struct vncshot_target *t, const char *path, int timeout_seconds, char *err,
		  size_t errlen)
{
	static const uint8_t x509plain[4] = {0, 0, 1, 6}; /* 262 */
	uint8_t buf[64];
	int fd = connect_tcp(t->host, t->port, timeout_seconds), rc = -1;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	X509 *cert = NULL;
	FILE *f = NULL;

	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s:%d", t->host, t->port);
		return -1;
	}
	/* version; one security type (19); VeNCrypt 0.2; status; subtypes; accept byte */
	if (!read_full(fd, buf, 12) || write(fd, "RFB 003.008\n", 12) != 12 ||
	    !read_full(fd, buf, 2) || buf[0] != 1 || buf[1] != 19 || write(fd, "\023", 1) != 1 ||
	    !read_full(fd, buf, 2) || write(fd, "\000\002", 2) != 2 || !read_full(fd, buf, 2) ||
	    buf[0] != 0 || buf[1] != 1 || !read_full(fd, buf, 4) || write(fd, x509plain, 4) != 4 ||
	    !read_full(fd, buf, 1) || buf[0] != 1) {
		snprintf(err, errlen, "%s:%d does not offer VeNCrypt X509Plain", t->host, t->port);
		goto out;
	}
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    (ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1 ||
	    (cert = SSL_get1_peer_certificate(ssl)) == NULL) {
		snprintf(err, errlen, "TLS with %s:%d failed", t->host, t->port);
		goto out;
	}
	f = fopen(path, "w");
	if (f == NULL || PEM_write_X509(f, cert) != 1) {
		snprintf(err, errlen, "cannot write %s", path);
		goto out;
	}
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	X509_free(cert);
	if (ssl != NULL)
		SSL_shutdown(ssl);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return rc;
}

static bool
wait_complete(rfbClient *cl, struct grab *g, time_t deadline, int timeout_seconds, char *err,
	      size_t errlen)
{
	while (!g->complete) {
		if (time(NULL) >= deadline) {
			snprintf(err, errlen, "no complete framebuffer within %d s",
				 timeout_seconds);
			return false;
		}
		int n = WaitForMessage(cl, 200000);
		if (n < 0 || (n > 0 && !HandleRFBServerMessage(cl))) {
			snprintf(err, errlen, "the console closed: %s",
				 last_log[0] ? last_log : "?");
			return false;
		}
	}
	return true;
}

int
vncshot_grab_png_info(const struct vncshot_target *t, const char *png_path, int timeout_seconds,
		      struct vncshot_info *info, char *err, size_t errlen)
{
	struct grab g = {t, t->ca_file, false};
	char tofu[] = "/tmp/vncshot-ca-XXXXXX";
	bool have_tofu = false;
	rfbClient *cl;
	time_t deadline = time(NULL) + timeout_seconds;
	int rc = -1;

	last_log[0] = '\0';
	rfbClientLog = capture_log;
	rfbClientErr = capture_log;
	if (t->insecure && t->ca_file == NULL) {
		int fd = mkstemp(tofu);
		if (fd < 0) {
			snprintf(err, errlen, "cannot create a temporary file");
			return -1;
		}
		close(fd);
		have_tofu = true;
		if (fetch_certificate(t, tofu, timeout_seconds, err, errlen) != 0)
			goto out_tofu;
		g.ca_file = tofu;
	}
	cl = rfbGetClient(8, 3, 4);
	if (cl == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out_tofu;
	}
	rfbClientSetClientData(cl, &tag, &g);
	cl->GetCredential = get_credential;
	cl->GotFrameBufferUpdate = got_update;
	cl->FinishedFrameBufferUpdate = finished_update;
	cl->serverHost = strdup(t->host);
	cl->serverPort = t->port;
	cl->connectTimeout = (unsigned)timeout_seconds;
	cl->readTimeout = (unsigned)timeout_seconds;
	cl->appData.encodingsString = "raw";
	if (!rfbInitClient(cl, NULL, NULL)) { /* frees cl */
		snprintf(err, errlen, "VNC connection to %s:%d failed: %s", t->host, t->port,
			 last_log[0] ? last_log : "?");
		goto out_tofu;
	}
	/*
	 * The answer to libvncclient's own first request can be all black (QEMU answers it before
	 * it applied the pixel format), so the picture is the answer to a second full request.
	 */
	for (int round = 0; round < 2; round++) {
		if (round == 1) {
			g.complete = false;
			g.covered = 0;
			if (!SendFramebufferUpdateRequest(cl, 0, 0, cl->width, cl->height, FALSE)) {
				snprintf(err, errlen, "the console closed");
				goto out;
			}
		}
		if (!wait_complete(cl, &g, deadline, timeout_seconds, err, errlen))
			goto out;
	}
	rc = write_png(cl, png_path, info, err, errlen);
out:
	free(cl->frameBuffer);
	cl->frameBuffer = NULL;
	rfbClientCleanup(cl);
out_tofu:
	if (have_tofu)
		unlink(tofu);
	return rc;
}

int
vncshot_grab_png(const struct vncshot_target *t, const char *png_path, int timeout_seconds,
		 char *err, size_t errlen)
{
	return vncshot_grab_png_info(t, png_path, timeout_seconds, NULL, err, errlen);
}
