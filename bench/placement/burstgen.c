/*
 * burstgen: the burst phase's client for bench/placement. C keep-alive HTTPS connections in one
 * libevent loop fire `POST /api/v1/vserver-start {"id": N}` (bearer token) for the vServer ids
 * read from stdin, one id per request, each connection sending its next request as soon as the
 * previous answer is complete, without waiting for the tasks. It replaces 32 Python threads,
 * whose TLS and HTTP cost (about 2 ms of CPU per call) was the burst's limit on a 2-core machine:
 * the same calls reach webrackd, only cheaper for the client.
 *
 * Prints one JSON object: {"seconds", "tasks": [task ids], "lat_ms": [per call],
 * "errors": ["code: message", ...]}. Certificates are not verified (127.0.0.1 only).
 *
 *   burstgen -p PORT -t TOKEN [-c CONNECTIONS] < ids
 */
#include <arpa/inet.h>
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
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

struct burst {
	struct event_base *base;
	SSL_CTX *tls;
	struct sockaddr_in addr;
	const char *token;
	long long *ids;
	size_t nids, next;
	json_t *tasks, *lat, *errors;
	int open;
};

struct conn {
	struct burst *b;
	struct bufferevent *bev;
	double sent_at;
	long status;
	long long body_len; /* -1 until the head is read */
};

static double
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void conn_done(struct conn *c);

static void
send_next(struct conn *c)
{
	struct burst *b = c->b;
	char body[64];

	if (b->next >= b->nids) {
		conn_done(c);
		return;
	}
	int blen = snprintf(body, sizeof(body), "{\"id\":%lld}", b->ids[b->next++]);
	evbuffer_add_printf(bufferevent_get_output(c->bev),
			    "POST /api/v1/vserver-start HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			    "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
			    "Content-Length: %d\r\n\r\n%s",
			    b->token, blen, body);
	c->sent_at = now_ms();
	c->body_len = -1;
}

static void
answered(struct conn *c, const char *body, size_t len)
{
	struct burst *b = c->b;
	json_t *res = json_loadb(body, len, 0, NULL);
	json_t *task = json_object_get(json_object_get(res, "result"), "task_id");

	json_array_append_new(b->lat, json_real(now_ms() - c->sent_at));
	if (c->status == 200 && json_is_true(json_object_get(res, "ok")) && json_is_integer(task)) {
		json_array_append(b->tasks, task);
	} else {
		json_t *err = json_object_get(res, "error");
		char line[300];
		snprintf(line, sizeof(line), "HTTP %ld %s: %s", c->status,
			 json_string_value(json_object_get(err, "code")) ?: "-",
			 json_string_value(json_object_get(err, "message")) ?: "-");
		json_array_append_new(b->errors, json_string(line));
	}
	json_decref(res);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	for (;;) {
		if (c->body_len < 0) {
			struct evbuffer_ptr pos = evbuffer_search(in, "\r\n\r\n", 4, NULL);
			if (pos.pos < 0)
				return;
			size_t hlen = (size_t)pos.pos + 4;
			char *head = malloc(hlen + 1);
			evbuffer_remove(in, head, hlen);
			head[hlen] = '\0';
			c->status = strtol(head + 9, NULL, 10);
			c->body_len = 0;
			for (char *l = strstr(head, "\r\n"); l != NULL; l = strstr(l + 2, "\r\n"))
				if (strncasecmp(l + 2, "Content-Length:", 15) == 0)
					c->body_len = strtoll(l + 17, NULL, 10);
			free(head);
		}
		if ((long long)evbuffer_get_length(in) < c->body_len)
			return;
		char *body = malloc((size_t)c->body_len + 1);
		evbuffer_remove(in, body, (size_t)c->body_len);
		answered(c, body, (size_t)c->body_len);
		free(body);
		send_next(c);
		if (c->bev == NULL)
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
		send_next(c);
		return;
	}
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
		json_array_append_new(c->b->errors, json_string("connection lost"));
		conn_done(c);
	}
}

static void
conn_done(struct conn *c)
{
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	c->bev = NULL;
	if (--c->b->open == 0)
		event_base_loopexit(c->b->base, NULL);
}

int
main(int argc, char **argv)
{
	struct burst b = {0};
	int port = 0, nconn = 32, opt;

	while ((opt = getopt(argc, argv, "p:t:c:")) != -1) {
		if (opt == 'p')
			port = atoi(optarg);
		else if (opt == 't')
			b.token = optarg;
		else if (opt == 'c')
			nconn = atoi(optarg);
		else
			return 2;
	}
	if (port <= 0 || b.token == NULL || nconn <= 0) {
		fprintf(stderr, "usage: burstgen -p PORT -t TOKEN [-c CONNECTIONS] < ids\n");
		return 2;
	}
	size_t cap = 1024;
	long long id;
	b.ids = malloc(cap * sizeof(*b.ids));
	while (scanf("%lld", &id) == 1) {
		if (b.nids == cap)
			b.ids = realloc(b.ids, (cap *= 2) * sizeof(*b.ids));
		b.ids[b.nids++] = id;
	}
	b.tasks = json_array();
	b.lat = json_array();
	b.errors = json_array();
	b.base = event_base_new();
	b.tls = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(b.tls, SSL_VERIFY_NONE, NULL);
	b.addr.sin_family = AF_INET;
	b.addr.sin_port = htons((uint16_t)port);
	b.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct conn *conns = calloc((size_t)nconn, sizeof(*conns));
	double t0 = now_ms();
	for (int i = 0; i < nconn; i++) {
		struct conn *c = &conns[i];
		c->b = &b;
		c->bev = bufferevent_openssl_socket_new(b.base, -1, SSL_new(b.tls),
							BUFFEREVENT_SSL_CONNECTING,
							BEV_OPT_CLOSE_ON_FREE);
		bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		b.open++;
		if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&b.addr,
					       sizeof(b.addr)) != 0)
			conn_done(c);
	}
	if (b.open > 0)
		event_base_dispatch(b.base);
	json_t *out = json_pack("{s:f, s:o, s:o, s:o}", "seconds", (now_ms() - t0) / 1e3, "tasks",
				b.tasks, "lat_ms", b.lat, "errors", b.errors);
	json_dumpf(out, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(out);
	free(conns);
	free(b.ids);
	SSL_CTX_free(b.tls);
	event_base_free(b.base);
	return 0;
}
