/*
 * Splice two bufferevents both ways: what one side reads is written to the other, with
 * backpressure (a side whose peer has more than RELAY_HIGH bytes unsent stops reading until that
 * drops below half), so a slow viewer can never make the process buffer without bound. The node
 * agent splices a controller's TLS connection to QEMU's VNC socket with it; webrackd splices a
 * VeNCrypt viewer to the node.
 */
#ifndef WEBRACK_RELAY_H
#define WEBRACK_RELAY_H

#include <stdbool.h>
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

/*
 * Read more than libevent 2.1 does per read event, up to RELAY_SINGLE_IO in the input: from a
 * plain socket (libevent reads 4 KiB), or decrypted from a TLS bufferevent's SSL (libevent
 * decrypts one or two records). Call at the start of the read callback. -1 when a TLS connection
 * ended (close_notify, EOF or error) inside the fill: handle it as BEV_EVENT_EOF.
 */
#define RELAY_TLS_CHUNK (64 * 1024)
int relay_fill(struct bufferevent *bev) __attribute__((warn_unused_result));

/*
 * A relay allocates and frees buffers of up to 2 * RELAY_SINGLE_IO at a high rate. With glibc's
 * defaults they are mmap()ed, or the heap's top is handed back after every burst, so the pages are
 * faulted in and cleared again and again (about a tenth of a console's CPU). Keep such buffers
 * on the heap and up to 16 * RELAY_HIGH of free heap: called once by a daemon serving consoles.
 */
void relay_malloc_tune(void);

/* TCP_NODELAY on a bufferevent's socket (a relay forwards every piece at once). */
void relay_nodelay(struct bufferevent *bev);

/*
 * TCP_CORK on a TLS side while at least RELAY_CORK_AT bytes are queued for it: OpenSSL writes
 * every 16 KiB record with a write() of its own, and with TCP_NODELAY each became a segment of
 * its own (on loopback a wake-up of the reader per record); corked, the kernel sends full
 * segments. The cork comes off when the output drained (the write callback), so its rest goes at
 * once; small updates are never corked and keep their latency.
 */
#define RELAY_CORK_AT (64 * 1024)
void relay_cork(struct bufferevent *bev, bool on);

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
