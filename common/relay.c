/*
 * Bufferevent splicing with backpressure (see relay.h). evbuffer_add_buffer() moves the chains
 * without copying, so relaying costs no memcpy of the payload.
 */
#include "config.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "relay.h"

struct side {
	struct relay *r;
	struct bufferevent *bev;
	struct side *peer;
	size_t moved; /* bytes read on this side and written to the peer */
	bool eof;
	bool tls;    /* a TLS bufferevent */
	bool corked; /* TCP_CORK set on its socket (a bulk transfer is queued) */
};

/* Owner: whoever called relay_new(); freed by relay_free(). */
struct relay {
	struct side a, b;
	relay_done_fn done;
	void *arg;
	bool finished;
};

static void
finish(struct relay *r, const char *reason)
{
	if (r->finished)
		return;
	r->finished = true;
	bufferevent_disable(r->a.bev, EV_READ | EV_WRITE);
	bufferevent_disable(r->b.bev, EV_READ | EV_WRITE);
	r->done(r->arg, reason);
}

/*
 * The TLS side: bufferevent_openssl decrypts one or two records per read event (its SSL_read
 * calls end with the space it reserved), the rest waits for the next turn of the loop. Decrypt
 * on, up to RELAY_SINGLE_IO and then to the end of the current record (a record's rest inside the
 * SSL would wait for no socket event). -1 when the connection ended (close_notify, EOF, error).
 */
static int
fill_tls(struct bufferevent *bev, SSL *ssl)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_iovec v;
	size_t total = evbuffer_get_length(in);

	ERR_clear_error();
	while (total < RELAY_SINGLE_IO || SSL_pending(ssl) > 0) {
		if (evbuffer_reserve_space(in, RELAY_TLS_CHUNK, &v, 1) != 1)
			return 0;
		int n = SSL_read(ssl, v.iov_base,
				 (int)(v.iov_len < RELAY_TLS_CHUNK ? v.iov_len : RELAY_TLS_CHUNK));
		if (n <= 0) {
			int e = SSL_get_error(ssl, n);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return 0;
			ERR_clear_error();
			return -1;
		}
		v.iov_len = (size_t)n;
		evbuffer_commit_space(in, &v, 1);
		total += (size_t)n;
	}
	return 0;
}

/*
 * The plain side: libevent 2.1 reads at most 4 KiB per read event from a socket
 * (EVBUFFER_MAX_READ; 2.2 made it settable), so a relay fed by a unix socket would forward 4 KiB
 * pieces: one TLS record and one wake-up of every later hop per 4 KiB. Take what else the socket
 * holds, up to RELAY_SINGLE_IO. EOF and errors are left to the bufferevent: the socket stays
 * readable and its next read reports them.
 */
static void
fill_socket(struct bufferevent *bev, evutil_socket_t fd)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_iovec v;

	/* A socket bufferevent keeps its input's end frozen outside its own reads. */
	evbuffer_unfreeze(in, 0);
	for (size_t total = evbuffer_get_length(in); total < RELAY_SINGLE_IO;) {
		size_t want = RELAY_SINGLE_IO - total;
		if (evbuffer_reserve_space(in, (ev_ssize_t)want, &v, 1) != 1)
			break;
		ssize_t n = read(fd, v.iov_base, v.iov_len < want ? v.iov_len : want);
		if (n <= 0)
			break;
		v.iov_len = (size_t)n;
		evbuffer_commit_space(in, &v, 1);
		total += (size_t)n;
	}
	evbuffer_freeze(in, 0);
}

int
relay_fill(struct bufferevent *bev)
{
	evutil_socket_t fd = bufferevent_getfd(bev);
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	if (fd < 0 || !(bufferevent_get_enabled(bev) & EV_READ))
		return 0;
	if (ssl != NULL)
		return fill_tls(bev, ssl);
	fill_socket(bev, fd);
	return 0;
}

void
relay_malloc_tune(void)
{
	mallopt(M_MMAP_THRESHOLD, 4 * RELAY_SINGLE_IO);
	mallopt(M_TRIM_THRESHOLD, 16 * RELAY_HIGH);
}

void
relay_nodelay(struct bufferevent *bev)
{
	int one = 1;
	evutil_socket_t fd = bufferevent_getfd(bev);

	/* Not a TCP socket (a unix socket): nothing to do, and no harm done. */
	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void
relay_cork(struct bufferevent *bev, bool on)
{
	int v = on;
	evutil_socket_t fd = bufferevent_getfd(bev);

	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, sizeof(v));
}

static void
pump(struct side *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct evbuffer *out = bufferevent_get_output(s->peer->bev);

	s->moved += evbuffer_get_length(in);
	evbuffer_add_buffer(out, in);
	if (!s->peer->corked && s->peer->tls && evbuffer_get_length(out) >= RELAY_CORK_AT) {
		relay_cork(s->peer->bev, true);
		s->peer->corked = true;
	}
	if (evbuffer_get_length(out) >= RELAY_HIGH) {
		/* The peer is slow: stop reading until its output drains below half. */
		bufferevent_disable(s->bev, EV_READ);
		bufferevent_setwatermark(s->peer->bev, EV_WRITE, RELAY_HIGH / 2, 0);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg);

static void
on_read(struct bufferevent *bev, void *arg)
{
	if (relay_fill(bev) != 0) {
		/* The TLS connection ended inside the fill: as if the bufferevent had seen it. */
		bufferevent_disable(bev, EV_READ);
		on_event(bev, BEV_EVENT_READING | BEV_EVENT_EOF, arg);
		return;
	}
	pump(arg);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct side *s = arg; /* s's output drained below the watermark */
	struct relay *r = s->r;

	if (s->corked) {
		relay_cork(bev, false); /* the output drained: the cork's rest goes now */
		s->corked = false;
	}
	if (s->peer->eof) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			finish(r, "closed by the other side");
		return;
	}
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	bufferevent_enable(s->peer->bev, EV_READ);
	/* Records a paused fill left inside the peer's SSL: no socket event would fetch them. */
	SSL *ssl = bufferevent_openssl_get_ssl(s->peer->bev);
	if (ssl != NULL && SSL_pending(ssl) > 0)
		on_read(s->peer->bev, s->peer);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct side *s = arg;
	struct relay *r = s->r;

	if (what & BEV_EVENT_EOF) {
		/* Deliver what is left, then end when the peer has written it. */
		pump(s);
		s->eof = true;
		bufferevent_setwatermark(s->peer->bev, EV_WRITE, 0, 0);
		if (evbuffer_get_length(bufferevent_get_output(s->peer->bev)) == 0)
			finish(r, s == &r->a ? "closed by side a" : "closed by side b");
		return;
	}
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		finish(r, what & BEV_EVENT_TIMEOUT ? "timeout" : "connection error");
}

void
relay_tune(struct bufferevent *bev)
{
	bufferevent_set_max_single_read(bev, RELAY_SINGLE_IO);
	bufferevent_set_max_single_write(bev, RELAY_SINGLE_IO);
	/*
	 * A TLS bufferevent reads 4 KiB per event unless a read high-water mark says how much it
	 * may read; the callbacks always empty the input, so the mark never stops reading.
	 */
	bufferevent_setwatermark(bev, EV_READ, 0, RELAY_SINGLE_IO);
}

struct relay *
relay_new(struct bufferevent *a, struct bufferevent *b, relay_done_fn done, void *arg)
{
	struct relay *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		bufferevent_free(a);
		bufferevent_free(b);
		return NULL;
	}
	r->done = done;
	r->arg = arg;
	r->a = (struct side){r, a, &r->b, 0, false, bufferevent_openssl_get_ssl(a) != NULL, false};
	r->b = (struct side){r, b, &r->a, 0, false, bufferevent_openssl_get_ssl(b) != NULL, false};
	bufferevent_setwatermark(a, EV_WRITE, 0, 0);
	bufferevent_setwatermark(b, EV_WRITE, 0, 0);
	relay_tune(a);
	relay_tune(b);
	relay_nodelay(a);
	relay_nodelay(b);
	bufferevent_setcb(a, on_read, on_write, on_event, &r->a);
	bufferevent_setcb(b, on_read, on_write, on_event, &r->b);
	bufferevent_set_timeouts(a, NULL, NULL);
	bufferevent_set_timeouts(b, NULL, NULL);
	bufferevent_enable(a, EV_READ | EV_WRITE);
	bufferevent_enable(b, EV_READ | EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_input(a)) > 0)
		pump(&r->a);
	if (evbuffer_get_length(bufferevent_get_input(b)) > 0)
		pump(&r->b);
	return r;
}

void
relay_free(struct relay *r)
{
	if (r == NULL)
		return;
	bufferevent_free(r->a.bev);
	bufferevent_free(r->b.bev);
	free(r);
}

void
relay_counts(const struct relay *r, size_t *a_to_b, size_t *b_to_a)
{
	*a_to_b = r->a.moved;
	*b_to_a = r->b.moved;
}

void
relay_peer_name(const struct sockaddr *sa, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
	}
	snprintf(out, len, "%s:%d", host, port);
}
