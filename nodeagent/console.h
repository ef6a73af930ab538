/*
 * The node's console endpoint. QEMU's VNC stays on its 0600 unix socket; controllers (and only
 * they: mutual TLS, client certificate from the node CA with CN PROTO_CONSOLE_CN) reach it here.
 * The controller first announces a console open over the agent link (command console.allow: vm,
 * SHA-256 of a one-time token, lifetime), then connects and sends one JSON line {vm, token}; the
 * agent checks the token (single use, not expired, same vm), answers one line {"ok":true} (or
 * {"ok":false, code, message}) and splices the connection to the VM's VNC socket.
 */
#ifndef WEBRACK_CONSOLE_H
#define WEBRACK_CONSOLE_H

#include <stddef.h>

struct event_base;
struct agent_settings;
struct command;
struct vms;

#define CONSOLE_ALLOW_MAX     256  /* announced, unused tokens kept at once */
#define CONSOLE_LINE_MAX      512  /* the request line */
#define CONSOLE_HELLO_SECONDS 10   /* TLS handshake + request line + VNC connect */
#define CONSOLE_SESSIONS_MAX  1024 /* connections at once */

struct console;

/*
 * Listen on s->console_listen with the node certificate (state_dir). Returns NULL with why set
 * on failure, NULL with why empty when no console_listen is configured.
 */
struct console *console_new(struct event_base *base, const struct agent_settings *s,
			    struct vms *vms, char *why, size_t whylen);

/* Close the listener and every console connection. */
void console_free(struct console *c);

/* Command console.allow {vm, token_hash, expires_in} (command table). */
void console_cmd_allow(struct command *cmd);

#endif
