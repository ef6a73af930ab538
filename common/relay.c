/*
 * Bufferevent splicing with backpressure (see relay.h). evbuffer_add_buffer() moves the chains
 * without copying, so relaying costs no memcpy of the payload.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "relay.h"

struct side {
	struct relay *r;
	struct bufferevent *bev;
	struct side *peer;
	size_t moved; /* bytes read on this side and written to the peer */
	bool eof;
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

static void
pump(struct side *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct evbuffer *out = bufferevent_get_output(s->peer->bev);

	s->moved += evbuffer_get_length(in);
	evbuffer_add_buffer(out, in);
	if (evbuffer_get_length(out) >= RELAY_HIGH) {
		/* The peer is slow: stop reading until its output drains below half. */
		bufferevent_disable(s->bev, EV_READ);
		bufferevent_setwatermark(s->peer->bev, EV_WRITE, RELAY_HIGH / 2, 0);
	}
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	pump(arg);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct side *s = arg; /* s's output drained below the watermark */
	struct relay *r = s->r;

	if (s->peer->eof) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			finish(r, "closed by the other side");
		return;
	}
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	bufferevent_enable(s->peer->bev, EV_READ);
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
	r->a = (struct side){r, a, &r->b, 0, false};
	r->b = (struct side){r, b, &r->a, 0, false};
	bufferevent_setwatermark(a, EV_WRITE, 0, 0);
	bufferevent_setwatermark(b, EV_WRITE, 0, 0);
	relay_tune(a);
	relay_tune(b);
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
