/*
 * loadgen: a closed-loop HTTPS load generator for bench/soap. N keep-alive connections (libevent
 * bufferevent_openssl, one loop, one thread) each send one request, wait for the whole answer,
 * and send the next, for a fixed time; every latency after the warm-up is recorded and the run
 * ends with one JSON line: requests, rate, p50/p90/p99/max and the status codes seen.
 *
 * It speaks just enough HTTP/1.1 for the two servers it measures (nginx, webrackd): answers
 * with Content-Length (chunked answers count as errors), keep-alive, and a reconnect when the
 * server closes. Certificates are not verified: it only ever talks to 127.0.0.1.
 *
 *   loadgen -p PORT -u PATH [-m GET|POST] [-b BODYFILE] [-H 'Name: value']... \
 *           [-c CONNECTIONS] [-d SECONDS] [-w WARMUP_SECONDS]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define HEADERS_MAX 32
#define HEAD_MAX    (64 * 1024)

struct conn;

struct run {
	struct event_base *base;
	SSL_CTX *tls;
	struct sockaddr_in addr;
	char *request; /* the whole request, sent as is */
	size_t request_len;
	double t_start, t_measure, t_end;
	bool stopping;
	double *lat; /* ms, requests finished inside the measured window */
	size_t nlat, caplat;
	long errors, conn_errors, statuses[6]; /* 1xx..5xx by first digit */
	long long bytes;
	int nconns;
	struct conn *conns;
};

struct conn {
	struct run *run;
	struct bufferevent *bev;
	double sent_at;
	bool have_head;
	long status;
	long long body_left;
	bool close_after;
};

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void conn_open(struct conn *c);

static void
send_request(struct conn *c)
{
	c->have_head = false;
	c->sent_at = now();
	bufferevent_write(c->bev, c->run->request, c->run->request_len);
}

static void
record(struct conn *c)
{
	struct run *r = c->run;
	double t = now();

	/* only requests sent after the warm-up and answered before the stop count */
	if (c->status >= 100 && c->status < 600)
		r->statuses[c->status / 100]++;
	if (c->status < 200 || c->status > 299)
		r->errors++;
	else if (c->sent_at >= r->t_measure && !r->stopping) {
		if (r->nlat == r->caplat) {
			r->caplat = r->caplat ? r->caplat * 2 : 65536;
			r->lat = realloc(r->lat, r->caplat * sizeof(*r->lat));
			if (r->lat == NULL) {
				perror("realloc");
				exit(2);
			}
		}
		r->lat[r->nlat++] = (t - c->sent_at) * 1000.0;
	}
}

/* Parse the status line and the two headers we care about; false on a malformed head. */
static bool
parse_head(struct conn *c, const char *head, size_t len)
{
	char line[1024];
	const char *p = head, *end = head + len;

	c->status = 0;
	c->body_left = -1;
	c->close_after = false;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((eol ? eol : end) - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		snprintf(line, sizeof(line), "%.*s",
			 (int)(n < sizeof(line) - 1 ? n : sizeof(line) - 1), p);
		if (c->status == 0) {
			if (sscanf(line, "HTTP/1.%*d %ld", &c->status) != 1)
				return false;
		} else if (strncasecmp(line, "content-length:", 15) == 0) {
			c->body_left = atoll(line + 15);
		} else if (strncasecmp(line, "transfer-encoding:", 18) == 0) {
			return false; /* chunked: not needed for the servers measured */
		} else if (strncasecmp(line, "connection:", 11) == 0 && strcasestr(line, "close")) {
			c->close_after = true;
		}
		p = eol ? eol + 1 : end;
	}
	return c->status > 0 && c->body_left >= 0;
}

static void
conn_fail(struct conn *c)
{
	c->run->conn_errors++;
	bufferevent_free(c->bev);
	c->bev = NULL;
	if (!c->run->stopping)
		conn_open(c);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	for (;;) {
		if (!c->have_head) {
			struct evbuffer_ptr pos = evbuffer_search(in, "\r\n\r\n", 4, NULL);
			if (pos.pos < 0) {
				if (evbuffer_get_length(in) > HEAD_MAX)
					conn_fail(c);
				return;
			}
			size_t hlen = (size_t)pos.pos + 4;
			char *head = (char *)evbuffer_pullup(in, (ev_ssize_t)hlen);
			if (!parse_head(c, head, hlen)) {
				conn_fail(c);
				return;
			}
			evbuffer_drain(in, hlen);
			c->run->bytes += (long long)hlen;
			c->have_head = true;
		}
		size_t avail = evbuffer_get_length(in);
		size_t take = avail < (size_t)c->body_left ? avail : (size_t)c->body_left;
		evbuffer_drain(in, take);
		c->body_left -= (long long)take;
		c->run->bytes += (long long)take;
		if (c->body_left > 0)
			return;
		record(c);
		if (c->run->stopping)
			return;
		if (c->close_after) {
			bufferevent_free(c->bev);
			c->bev = NULL;
			conn_open(c);
			return;
		}
		send_request(c);
		if (evbuffer_get_length(in) == 0)
			return;
	}
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		int one = 1;
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		send_request(c);
		return;
	}
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF))
		conn_fail(c);
}

static void
conn_open(struct conn *c)
{
	struct run *r = c->run;
	SSL *ssl = SSL_new(r->tls);

	c->bev = bufferevent_openssl_socket_new(r->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE);
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&r->addr, sizeof(r->addr)) != 0)
		conn_fail(c);
}

static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;

	r->stopping = true;
	r->t_end = now();
	event_base_loopbreak(r->base);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double
pct(const struct run *r, double p)
{
	if (r->nlat == 0)
		return 0;
	size_t i = (size_t)(p / 100.0 * (double)(r->nlat - 1) + 0.5);
	return r->lat[i];
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)n + 1)) == NULL ||
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		perror(path);
		exit(2);
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

int
main(int argc, char **argv)
{
	struct run r = {0};
	const char *method = "GET", *path = "/", *bodyfile = NULL, *headers[HEADERS_MAX];
	int port = 0, nh = 0, opt;
	double duration = 10, warmup = 2;
	char *body = NULL;
	size_t body_len = 0;

	r.nconns = 1;
	while ((opt = getopt(argc, argv, "p:u:m:b:H:c:d:w:")) != -1) {
		switch (opt) {
		case 'p':
			port = atoi(optarg);
			break;
		case 'u':
			path = optarg;
			break;
		case 'm':
			method = optarg;
			break;
		case 'b':
			bodyfile = optarg;
			break;
		case 'H':
			if (nh < HEADERS_MAX)
				headers[nh++] = optarg;
			break;
		case 'c':
			r.nconns = atoi(optarg);
			break;
		case 'd':
			duration = atof(optarg);
			break;
		case 'w':
			warmup = atof(optarg);
			break;
		default:
			fprintf(stderr, "usage: loadgen -p PORT -u PATH [-m METHOD] [-b BODYFILE] "
					"[-H HEADER]... [-c N] [-d SECONDS] [-w SECONDS]\n");
			return 1;
		}
	}
	if (port <= 0 || port > 65535 || r.nconns < 1 || r.nconns > 10000 || duration <= 0) {
		fprintf(stderr, "loadgen: bad -p, -c or -d\n");
		return 1;
	}
	if (bodyfile != NULL)
		body = read_file(bodyfile, &body_len);

	/* The request, built once. */
	size_t cap = 4096 + body_len;
	for (int i = 0; i < nh; i++)
		cap += strlen(headers[i]) + 2;
	r.request = malloc(cap);
	int n = snprintf(r.request, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", method, path,
			 port);
	for (int i = 0; i < nh; i++)
		n += snprintf(r.request + n, cap - (size_t)n, "%s\r\n", headers[i]);
	if (body != NULL)
		n += snprintf(r.request + n, cap - (size_t)n, "Content-Length: %zu\r\n", body_len);
	n += snprintf(r.request + n, cap - (size_t)n, "\r\n");
	if (body != NULL) {
		memcpy(r.request + n, body, body_len);
		n += (int)body_len;
	}
	r.request_len = (size_t)n;

	r.tls = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(r.tls, SSL_VERIFY_NONE, NULL);
	r.base = event_base_new();
	r.addr.sin_family = AF_INET;
	r.addr.sin_port = htons((unsigned short)port);
	r.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r.conns = calloc((size_t)r.nconns, sizeof(*r.conns));

	r.t_start = now();
	r.t_measure = r.t_start + warmup;
	for (int i = 0; i < r.nconns; i++) {
		r.conns[i].run = &r;
		conn_open(&r.conns[i]);
	}
	struct timeval tv = {
		(time_t)(warmup + duration),
		(suseconds_t)((warmup + duration - (double)(time_t)(warmup + duration)) * 1e6)};
	struct event *stop = evtimer_new(r.base, on_stop, &r);
	evtimer_add(stop, &tv);
	event_base_dispatch(r.base);

	qsort(r.lat, r.nlat, sizeof(*r.lat), cmp_double);
	double window = r.t_end - r.t_measure;
	printf("{\"connections\": %d, \"seconds\": %.3f, \"requests\": %zu, \"rps\": %.1f, "
	       "\"p50_ms\": %.3f, \"p90_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f, "
	       "\"errors\": %ld, \"connection_errors\": %ld, \"bytes\": %lld, \"status\": "
	       "{\"2xx\": "
	       "%ld, \"3xx\": %ld, \"4xx\": %ld, \"5xx\": %ld}}\n",
	       r.nconns, window, r.nlat, window > 0 ? (double)r.nlat / window : 0, pct(&r, 50),
	       pct(&r, 90), pct(&r, 99), r.nlat ? r.lat[r.nlat - 1] : 0, r.errors, r.conn_errors,
	       r.bytes, r.statuses[2], r.statuses[3], r.statuses[4], r.statuses[5]);
	for (int i = 0; i < r.nconns; i++)
		if (r.conns[i].bev != NULL)
			bufferevent_free(r.conns[i].bev);
	event_free(stop);
	event_base_free(r.base);
	SSL_CTX_free(r.tls);
	free(r.conns);
	free(r.lat);
	free(r.request);
	free(body);
	return 0;
}
