/*
 * The console benchmark's two RFB endpoints (bench/console/run.py drives them):
 *
 *   rfbbench serve SOCKET [WIDTH HEIGHT]
 *       A VNC source on a unix socket: RFB 3.8, security None, then every
 *       FramebufferUpdateRequest is answered at once: a non-incremental one with the whole
 *       screen (raw, 32 bpp, changing content), an incremental one with a 1x1 update. So the
 *       stream's rate is set by whoever carries it, not by a guest.
 *
 *   rfbbench splice PORT NETNS TARGET_PORT
 *       127.0.0.1:PORT in this namespace -> 127.0.0.1:TARGET_PORT in network namespace NETNS
 *       (a C stand-in for tests/lib/netns.py's Python reverse relay, which would otherwise be
 *       the slowest hop of the webrackd path: the management network of production; splice(2),
 *       no copy through this process).
 *
 *   rfbbench client MODE TARGET SECONDS
 *       MODE flood: request the whole screen again as soon as one arrived; prints MB/s.
 *       MODE ping:  request 1x1 updates one at a time; prints the median and p99 round trip (us).
 *       TARGET unix:PATH (straight to the source) or wss://HOST:PORT/PATH (a WebSocket proxy:
 *       webrackd's console or websockify; certificate not verified: loopback only).
 *
 * One process, blocking sockets: the client is the same program for every path, so the paths
 * are compared with the same client cost.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <openssl/ssl.h>

static void
die(const char *what)
{
	fprintf(stderr, "rfbbench: %s: %s\n", what, errno ? strerror(errno) : "failed");
	exit(1);
}

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- transport: plain fd or TLS + WebSocket framing ---- */

struct conn {
	int fd;
	SSL *ssl;
	bool ws;
	size_t left; /* payload bytes left in the current WebSocket frame */
};

static ssize_t
raw_read(struct conn *c, void *buf, size_t n)
{
	if (c->ssl) {
		int r = SSL_read(c->ssl, buf, (int)n);
		return r > 0 ? r : -1;
	}
	return read(c->fd, buf, n);
}

static void
raw_write(struct conn *c, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = c->ssl ? SSL_write(c->ssl, p, (int)n) : write(c->fd, p, n);
		if (w <= 0)
			die("write");
		p += w;
		n -= (size_t)w;
	}
}

static void
raw_read_full(struct conn *c, void *buf, size_t n)
{
	char *p = buf;

	while (n > 0) {
		ssize_t r = raw_read(c, p, n);
		if (r <= 0)
			die("read (closed)");
		p += r;
		n -= (size_t)r;
	}
}

/* Read up to n payload bytes (through WebSocket frames when c->ws). */
static size_t
conn_read(struct conn *c, void *buf, size_t n)
{
	if (!c->ws) {
		ssize_t r = raw_read(c, buf, n);
		if (r <= 0)
			die("read (closed)");
		return (size_t)r;
	}
	while (c->left == 0) {
		uint8_t h[2], ext[8];
		raw_read_full(c, h, 2);
		uint64_t len = h[1] & 0x7f;
		if (len == 126) {
			raw_read_full(c, ext, 2);
			len = (uint64_t)ext[0] << 8 | ext[1];
		} else if (len == 127) {
			raw_read_full(c, ext, 8);
			len = 0;
			for (int i = 0; i < 8; i++)
				len = len << 8 | ext[i];
		}
		if ((h[0] & 0x0f) == 8)
			die("WebSocket closed by the server");
		c->left = (size_t)len;
	}
	ssize_t r = raw_read(c, buf, n < c->left ? n : c->left);
	if (r <= 0)
		die("read (closed)");
	c->left -= (size_t)r;
	return (size_t)r;
}

static void
conn_read_full(struct conn *c, void *buf, size_t n)
{
	for (size_t got = 0; got < n;)
		got += conn_read(c, (char *)buf + got, n - got);
}

static void
conn_skip(struct conn *c, size_t n)
{
	static char sink[1 << 16];

	while (n > 0)
		n -= conn_read(c, sink, n < sizeof(sink) ? n : sizeof(sink));
}

static void
conn_write(struct conn *c, const void *buf, size_t n)
{
	if (!c->ws) {
		raw_write(c, buf, n);
		return;
	}
	uint8_t frame[16 + 256], mask[4];
	size_t h = 0;
	if (n > 256)
		die("message too long");
	RAND_bytes(mask, 4);
	frame[h++] = 0x82;
	frame[h++] = 0x80 | (uint8_t)(n < 126 ? n : 126);
	if (n >= 126) {
		frame[h++] = (uint8_t)(n >> 8);
		frame[h++] = (uint8_t)n;
	}
	memcpy(frame + h, mask, 4);
	h += 4;
	for (size_t i = 0; i < n; i++)
		frame[h + i] = ((const uint8_t *)buf)[i] ^ mask[i % 4];
	raw_write(c, frame, h + n);
}

static void
connect_target(struct conn *c, const char *target)
{
	memset(c, 0, sizeof(*c));
	if (strncmp(target, "unix:", 5) == 0) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", target + 5);
		c->fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
			die("connect unix");
		return;
	}
	char host[256], path[1024];
	int port;
	if (sscanf(target, "wss://%255[^:]:%d%1023s", host, &port, path) != 3)
		die("TARGET must be unix:PATH or wss://HOST:PORT/PATH");
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
	char ps[16];
	snprintf(ps, sizeof(ps), "%d", port);
	if (getaddrinfo(host, ps, &hints, &ai) != 0)
		die("getaddrinfo");
	c->fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (c->fd < 0 || connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0)
		die("connect");
	freeaddrinfo(ai);
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	c->ssl = SSL_new(ctx);
	SSL_set_fd(c->ssl, c->fd);
	if (SSL_connect(c->ssl) != 1)
		die("TLS handshake");
	char req[2048];
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n"
			 "Origin: https://%s:%d\r\n\r\n",
			 path, host, port, host, port);
	raw_write(c, req, (size_t)n);
	/* the response head, byte by byte (it is short) */
	char head[4096];
	size_t len = 0;
	while (len < 4 || memcmp(head + len - 4, "\r\n\r\n", 4) != 0) {
		if (len + 1 >= sizeof(head))
			die("HTTP answer too long");
		raw_read_full(c, head + len, 1);
		len++;
	}
	head[len] = '\0';
	if (strncmp(head, "HTTP/1.1 101", 12) != 0) {
		fprintf(stderr, "rfbbench: upgrade refused:\n%s\n", head);
		exit(1);
	}
	c->ws = true;
}

/* ---- the client ---- */

static void
rfb_handshake(struct conn *c, int *w, int *h)
{
	uint8_t buf[64], n;

	conn_read_full(c, buf, 12);
	conn_write(c, "RFB 003.008\n", 12);
	conn_read_full(c, &n, 1);
	if (n == 0)
		die("server refused");
	conn_read_full(c, buf, n);
	if (memchr(buf, 1, n) == NULL)
		die("no security type None");
	conn_write(c, "\001", 1);
	conn_read_full(c, buf, 4);
	conn_write(c, "\001", 1);
	conn_read_full(c, buf, 24);
	*w = buf[0] << 8 | buf[1];
	*h = buf[2] << 8 | buf[3];
	uint32_t nl = (uint32_t)buf[20] << 24 | (uint32_t)buf[21] << 16 | buf[22] << 8 | buf[23];
	conn_skip(c, nl);
	/* 32 bpp true colour, raw only */
	static const uint8_t pf[20] = {0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0};
	static const uint8_t enc[8] = {2, 0, 0, 1, 0, 0, 0, 0};
	conn_write(c, pf, 20);
	conn_write(c, enc, 8);
}

static void
request(struct conn *c, bool incremental, int w, int h)
{
	uint8_t m[10] = {3,	     incremental,	0,	   0, 0, 0, (uint8_t)(w >> 8),
			 (uint8_t)w, (uint8_t)(h >> 8), (uint8_t)h};
	conn_write(c, m, 10);
}

/* One FramebufferUpdate of raw rectangles; returns its payload size. */
static size_t
read_update(struct conn *c)
{
	uint8_t hd[4], r[12];
	size_t total = 0;

	conn_read_full(c, hd, 4);
	if (hd[0] != 0)
		die("unexpected server message");
	int nrects = hd[2] << 8 | hd[3];
	for (int i = 0; i < nrects; i++) {
		conn_read_full(c, r, 12);
		size_t rw = (size_t)(r[4] << 8 | r[5]), rh = (size_t)(r[6] << 8 | r[7]);
		conn_skip(c, rw * rh * 4);
		total += 12 + rw * rh * 4;
	}
	return total + 4;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int
client(const char *mode, const char *target, double seconds)
{
	struct conn c;
	int w, h;

	connect_target(&c, target);
	rfb_handshake(&c, &w, &h);
	if (strcmp(mode, "flood") == 0) {
		/* keep two requests in flight, as viewers do */
		double t0 = now(), end = t0 + seconds;
		size_t bytes = 0;
		long updates = 0;
		request(&c, false, w, h);
		request(&c, false, w, h);
		while (now() < end) {
			bytes += read_update(&c);
			updates++;
			request(&c, false, w, h);
		}
		double dt = now() - t0;
		printf("flood %.1f MB/s %.1f updates/s %dx%d %s %s\n", (double)bytes / dt / 1e6,
		       (double)updates / dt, w, h, c.ssl ? SSL_get_version(c.ssl) : "plain",
		       c.ssl ? SSL_get_cipher_name(c.ssl) : "-");
		return 0;
	}
	size_t cap = 200000, n = 0;
	double *rtt = malloc(cap * sizeof(*rtt)), end = now() + seconds;
	request(&c, false, w, h); /* drain the first full screen */
	read_update(&c);
	while (now() < end && n < cap) {
		double t = now();
		request(&c, true, w, h);
		read_update(&c);
		rtt[n++] = (now() - t) * 1e6;
	}
	qsort(rtt, n, sizeof(*rtt), cmp_double);
	printf("ping %zu round trips median %.0f us p99 %.0f us\n", n, rtt[n / 2],
	       rtt[n * 99 / 100]);
	return 0;
}

/* ---- the source ---- */

static void
serve_one(int fd, int w, int h)
{
	struct conn c = {.fd = fd};
	uint8_t buf[64], init[24 + 5] = {0};
	size_t frame = (size_t)w * h * 4;
	uint8_t *pixels = malloc(16 + frame);
	uint32_t tick = 0;

	conn_write(&c, "RFB 003.008\n", 12);
	conn_read_full(&c, buf, 12);
	conn_write(&c, "\001\001", 2);
	conn_read_full(&c, buf, 1);
	conn_write(&c, "\0\0\0\0", 4);
	conn_read_full(&c, buf, 1);
	init[0] = (uint8_t)(w >> 8);
	init[1] = (uint8_t)w;
	init[2] = (uint8_t)(h >> 8);
	init[3] = (uint8_t)h;
	uint8_t pf[16] = {32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0};
	memcpy(init + 4, pf, 16);
	init[23] = 5;
	memcpy(init + 24, "flood", 5);
	conn_write(&c, init, sizeof(init));
	for (;;) {
		ssize_t r = read(fd, buf, 1);
		if (r <= 0)
			break;
		size_t need = buf[0] == 0 ? 19 : buf[0] == 2 ? 3 : buf[0] == 3 ? 9 : 0;
		if (buf[0] == 2) {
			conn_read_full(&c, buf + 1, 3);
			need = (size_t)(buf[2] << 8 | buf[3]) * 4;
		} else if (need == 0)
			break;
		else {
			conn_read_full(&c, buf + 1, need);
			need = 0;
		}
		if (buf[0] == 2) {
			conn_skip(&c, need);
			continue;
		}
		if (buf[0] != 3)
			continue;
		bool incremental = buf[1] != 0;
		uint16_t uw = incremental ? 1 : (uint16_t)w, uh = incremental ? 1 : (uint16_t)h;
		uint8_t hd[16] = {0,
				  0,
				  0,
				  1,
				  0,
				  0,
				  0,
				  0,
				  (uint8_t)(uw >> 8),
				  (uint8_t)uw,
				  (uint8_t)(uh >> 8),
				  (uint8_t)uh,
				  0,
				  0,
				  0,
				  0};
		memcpy(pixels, hd, 16);
		tick++;
		size_t n = (size_t)uw * uh * 4;
		for (size_t i = 0; i < n; i += 4096)
			memset(pixels + 16 + i, (int)(tick + i / 4096),
			       n - i < 4096 ? n - i : 4096);
		raw_write(&c, pixels, 16 + n);
	}
	free(pixels);
	close(fd);
}

static void
on_sigchld(int sig)
{
	int saved = errno;

	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	errno = saved;
}

/*
 * Wait for the per-connection children (not SIG_IGN): a waited-for child's CPU time is added to
 * this process's (cutime, cstime), which is how run.py charges it to the path.
 */
static void
reap_children(void)
{
	struct sigaction sa = {.sa_handler = on_sigchld, .sa_flags = SA_RESTART | SA_NOCLDSTOP};

	sigaction(SIGCHLD, &sa, NULL);
}

static int
serve(const char *path, int w, int h)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int l = socket(AF_UNIX, SOCK_STREAM, 0);

	reap_children();
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	unlink(path);
	if (l < 0 || bind(l, (struct sockaddr *)&sun, sizeof(sun)) != 0 || listen(l, 16) != 0)
		die("listen");
	printf("serving %dx%d on %s\n", w, h, path);
	fflush(stdout);
	for (;;) {
		int fd = accept(l, NULL, NULL);
		if (fd < 0)
			continue;
		if (fork() == 0) {
			close(l);
			serve_one(fd, w, h);
			_exit(0);
		}
		close(fd);
	}
}

/*
 * Move bytes both ways with splice(2) through a pipe per direction: the kernel moves the pages,
 * this process copies nothing (a network between controller and node costs neither of them CPU;
 * the stand-in should cost as little as it can).
 */
static void
pump(int a, int b)
{
	struct pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
	int pipes[2][2];

	for (int i = 0; i < 2; i++) {
		if (pipe2(pipes[i], O_CLOEXEC) != 0)
			die("pipe");
		fcntl(pipes[i][1], F_SETPIPE_SZ, 1 << 20);
	}
	for (;;) {
		if (poll(p, 2, -1) < 0)
			return;
		for (int i = 0; i < 2; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = splice(p[i].fd, NULL, pipes[i][1], NULL, 1 << 20,
					   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n == 0 || (n < 0 && errno != EAGAIN))
				return;
			while (n > 0) {
				ssize_t w = splice(pipes[i][0], NULL, p[1 - i].fd, NULL, (size_t)n,
						   SPLICE_F_MOVE);
				if (w <= 0)
					return;
				n -= w;
			}
		}
	}
}

static int
splice_ns(int port, const char *ns, int target)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	char path[512];

	reap_children();
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(l, 64) != 0)
		die("listen");
	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	printf("splicing 127.0.0.1:%d -> %s 127.0.0.1:%d\n", port, ns, target);
	fflush(stdout);
	for (;;) {
		int c = accept(l, NULL, NULL);
		if (c < 0)
			continue;
		if (fork() == 0) {
			int nsfd = open(path, O_RDONLY | O_CLOEXEC);
			if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0)
				die("setns");
			struct sockaddr_in t = {.sin_family = AF_INET,
						.sin_port = htons((uint16_t)target)};
			t.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			int u = socket(AF_INET, SOCK_STREAM, 0);
			if (u < 0 || connect(u, (struct sockaddr *)&t, sizeof(t)) != 0)
				die("connect in the namespace");
			pump(c, u);
			_exit(0);
		}
		close(c);
	}
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 3 && strcmp(argv[1], "serve") == 0)
		return serve(argv[2], argc > 4 ? atoi(argv[3]) : 1024,
			     argc > 4 ? atoi(argv[4]) : 768);
	if (argc == 5 && strcmp(argv[1], "splice") == 0)
		return splice_ns(atoi(argv[2]), argv[3], atoi(argv[4]));
	if (argc == 5 && strcmp(argv[1], "client") == 0)
		return client(argv[2], argv[3], atof(argv[4]));
	fprintf(stderr, "usage: rfbbench serve SOCKET [W H] | splice PORT NETNS TARGET_PORT |\n"
			"       client flood|ping TARGET SECONDS\n");
	return 2;
}
