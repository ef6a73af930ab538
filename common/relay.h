/*
 * Splice two bufferevents both ways: what one side reads is written to the other, with
 * backpressure (a side whose peer has more than RELAY_HIGH bytes unsent stops reading until that
 * drops below half), so a slow viewer can never make the process buffer without bound. The node
 * agent splices a controller's TLS connection to QEMU's VNC socket with it; webrackd splices a
 * VeNCrypt viewer to the node.
 */
#ifndef WEBRACK_RELAY_H
#define WEBRACK_RELAY_H

#include <stddef.h>

struct bufferevent;
struct relay;
struct sockaddr;

#define RELAY_HIGH (1024 * 1024)

/*
 * libevent moves at most 16 KiB per read or write event by default, which caps a console at a
 * few dozen MB/s; a framebuffer update is megabytes. relay_tune() lifts that for one bufferevent.
 */
#define RELAY_SINGLE_IO (256 * 1024)
void relay_tune(struct bufferevent *bev);

/* Called once when either side closes or fails; the relay is still valid (free it there). */
typedef void (*relay_done_fn)(void *arg, const char *reason);

/*
 * Start relaying between a and b (ownership of both passes to the relay; bytes already in their
 * input buffers are relayed first). NULL when out of memory (a and b are then freed).
 */
struct relay *relay_new(struct bufferevent *a, struct bufferevent *b, relay_done_fn done,
			void *arg);

/* Close both sides and free. */
void relay_free(struct relay *r);

/* "ADDRESS:PORT" of an accepted peer, for the log lines about a relayed connection. */
void relay_peer_name(const struct sockaddr *sa, char *out, size_t len);

/* Bytes moved from a to b and from b to a so far. */
void relay_counts(const struct relay *r, size_t *a_to_b, size_t *b_to_a);

#endif
