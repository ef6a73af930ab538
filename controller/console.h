/*
 * The console proxy's core: redeeming a one-time ticket, reaching the vServer's node and doing
 * the RFB handshake with QEMU, plus the registry of open consoles that the lifecycle engine
 * closes when a vServer stops or moves. Its two front ends are console_vnc.c (VeNCrypt for
 * native viewers) and console_ws.c (WebSocket for noVNC).
 *
 * A console open, step by step: the ticket's hash is consumed in one statement that also writes
 * the audit row; the node is told over the agent link to expect one connection with a fresh
 * token (console.allow); webrackd connects to the node's console endpoint (mutual TLS, the node
 * certificate's CN must be the node's name), presents {vm, token}, does RFB 3.8 with security
 * type None toward QEMU and keeps QEMU's ServerInit, which the front end forwards to its viewer
 * after its own handshake with it.
 */
#ifndef WEBRACK_CONSOLE_H
#define WEBRACK_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bufferevent;
struct server;

#define CONSOLE_OPEN_SECONDS	  20   /* from ticket to ServerInit */
#define CONSOLE_HANDSHAKE_SECONDS 15   /* a viewer's handshake (TLS, RFB) */
#define CONSOLE_PENDING_MAX	  1024 /* viewers in their handshake at once, per front end */
#define CONSOLE_TICKET_PREFIX	  "wrc_"

/*
 * The backend of one console once it is open: bev is the TLS connection to the node, positioned
 * right after QEMU's ServerInit (ownership passes to the callee); server_init holds that message.
 * On failure bev is NULL and code/message say why ("denied" for a bad ticket).
 */
struct console_backend {
	struct bufferevent *bev;
	const uint8_t *server_init;
	size_t server_init_len;
	int64_t vserver_id;
	int64_t user_id;
};
typedef void (*console_open_fn)(void *arg, const struct console_backend *b, const char *code,
				const char *message);

struct console_open;

/*
 * Redeem ticket and open the backend. want_vserver (0: any) must be the ticket's vServer; a
 * session cookie (NULL: none) must be a session of the ticket's user. via ("websocket",
 * "vencrypt") goes into the audit row. cb runs exactly once, unless console_open_cancel() came
 * first.
 */
struct console_open *console_open(struct server *srv, const char *ticket, int64_t want_vserver,
				  const char *session_cookie, const char *client_ip,
				  const char *via, console_open_fn cb, void *arg);
void console_open_cancel(struct console_open *o);

/* An open console, embedded in the front end's object; close() ends it with a reason. */
struct console_session {
	struct console_session *next;
	int64_t vserver_id;
	void (*close)(struct console_session *s, const char *reason);
};
void console_session_add(struct server *srv, struct console_session *s);
void console_session_remove(struct server *srv, struct console_session *s);

/* Close every open console of a vServer (it stopped, was deleted or moved). */
void console_revoke_vserver(struct server *srv, int64_t vserver_id, const char *reason);

/* Client TLS context for the nodes, and the VeNCrypt listener when vnc_listen is set. */
bool console_start(struct server *srv) __attribute__((warn_unused_result));
void console_stop(struct server *srv);

/* Where viewers connect: host and port from vnc_advertise / vnc_listen (port 0: no listener). */
void console_vnc_address(const struct server *srv, char *host, size_t hostlen, int *port);
/* https://HOST[:PORT] of the portal as browsers see it (public_url, else from listen). */
void console_public_origin(const struct server *srv, char *out, size_t len);

/* ---- the front ends (console_vnc.c, console_ws.c) ---- */
struct console_vnc;
struct console_vnc *console_vnc_start(struct server *srv, char *why, size_t whylen);
void console_vnc_stop(struct console_vnc *v);
struct evhttp_request;
/* GET /console/ws?vserver=ID&ticket=T: the WebSocket for noVNC. */
void console_ws_handle(struct server *srv, struct evhttp_request *req);

#endif
