/*
 * Asynchronous QMP client on the agent's libevent loop: one struct qmp per QEMU, talking over the
 * VM's 0600 unix socket. It reads the greeting, negotiates capabilities, then sends queued
 * commands (each with an "id") and calls back with the parsed reply; asynchronous events go to an
 * event callback. Everything QEMU sends is treated as hostile until validated: lines are capped at
 * QMP_LINE_MAX, every message must be a JSON object of a known shape, and each wrapper checks the
 * types and ranges of the fields it uses. A protocol violation closes the connection with a
 * logged reason; QEMU itself is left alone (the supervisor decides what to do with it).
 */
#ifndef WEBRACK_QMP_H
#define WEBRACK_QMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>
#include <jansson.h>

#define QMP_LINE_MAX	   (1024 * 1024)
#define QMP_HANDSHAKE_SEC  10 /* greeting + qmp_capabilities must complete within this */
#define QMP_MAX_VCPUS	   1024
#define QMP_MAX_BLOCKSTATS 64

struct qmp;

/*
 * A failed command: QEMU's error class and description ("GenericError", "CommandNotFound" ...),
 * or class "Disconnected" (the link went away before the reply; desc = the reason) or "Malformed"
 * (the reply did not have the documented shape). Valid only during the callback.
 */
struct qmp_error {
	const char *cls;
	const char *desc;
};

struct qmp_callbacks {
	/* Capabilities negotiated: commands are now sent as they are queued. */
	void (*ready)(struct qmp *q, void *arg);
	/* An event; data is an object or NULL, borrowed for the callback. */
	void (*event)(struct qmp *q, const char *name, const json_t *data, int64_t seconds,
		      int64_t microseconds, void *arg);
	/* The link is closed (EOF, error, protocol violation, handshake timeout). Called once,
	 * after every pending command's callback; the object stays allocated until qmp_free(). */
	void (*disconnected)(struct qmp *q, const char *reason, void *arg);
};

/* label names the VM in log lines ("vm-42"). Returns NULL when out of memory. */
struct qmp *qmp_new(struct event_base *base, const char *label, const struct qmp_callbacks *cbs,
		    void *arg);
/* Start connecting to QEMU's QMP socket (non-blocking). */
int qmp_connect(struct qmp *q, const char *socket_path) __attribute__((warn_unused_result));
/* Use an already connected stream socket (tests: one end of a socketpair). Takes ownership. */
int qmp_attach_fd(struct qmp *q, int fd) __attribute__((warn_unused_result));
/*
 * Close and free. Commands still pending get their callback with class "Disconnected" first.
 * Safe to call from inside any callback of this object (the free is deferred until it returns).
 */
void qmp_free(struct qmp *q);

bool qmp_is_ready(const struct qmp *q);
/* "7.2.22" once the greeting was read, "" before. */
const char *qmp_qemu_version(const struct qmp *q);

/*
 * Generic command. arguments (an object or NULL) is stolen. The callback runs exactly once: with
 * ret (borrowed) and err NULL, or with ret NULL and err set. Returns -1 (and steals arguments,
 * calling nothing) when the link is already closed.
 */
typedef void (*qmp_reply_cb)(struct qmp *q, const json_t *ret, const struct qmp_error *err,
			     void *arg);
int qmp_execute(struct qmp *q, const char *command, json_t *arguments, qmp_reply_cb cb, void *arg);

/* Commands without a result. */
typedef void (*qmp_done_cb)(struct qmp *q, const struct qmp_error *err, void *arg);
int qmp_cont(struct qmp *q, qmp_done_cb cb, void *arg);
int qmp_stop(struct qmp *q, qmp_done_cb cb, void *arg);
int qmp_system_powerdown(struct qmp *q, qmp_done_cb cb, void *arg);
int qmp_system_reset(struct qmp *q, qmp_done_cb cb, void *arg);
int qmp_quit(struct qmp *q, qmp_done_cb cb, void *arg);
/* Grow (or shrink) the block node (qemu_disk_node_name) to bytes. */
int qmp_block_resize(struct qmp *q, const char *node_name, int64_t bytes, qmp_done_cb cb,
		     void *arg);
/* Insert an ISO (absolute path, opened read-only as raw) into QEMU_CDROM_ID / eject it. */
int qmp_change_medium(struct qmp *q, const char *iso_path, qmp_done_cb cb, void *arg);
int qmp_eject(struct qmp *q, qmp_done_cb cb, void *arg);

struct qmp_status {
	char status[32]; /* "prelaunch", "running", "paused", "shutdown" ... */
	bool running;
};
typedef void (*qmp_status_cb)(struct qmp *q, const struct qmp_status *st,
			      const struct qmp_error *err, void *arg);
int qmp_query_status(struct qmp *q, qmp_status_cb cb, void *arg);

struct qmp_vcpu {
	int cpu_index;
	pid_t thread_id;
};
typedef void (*qmp_vcpus_cb)(struct qmp *q, const struct qmp_vcpu *vcpus, size_t n,
			     const struct qmp_error *err, void *arg);
int qmp_query_cpus_fast(struct qmp *q, qmp_vcpus_cb cb, void *arg);

struct qmp_blockstat {
	char node[64];	/* block node name ("disk0"), "" for an empty cdrom */
	char qdev[128]; /* device ("cdrom0", "/machine/peripheral/virtio-disk0/virtio-backend") */
	uint64_t rd_bytes, wr_bytes, rd_ops, wr_ops;
};
typedef void (*qmp_blockstats_cb)(struct qmp *q, const struct qmp_blockstat *stats, size_t n,
				  const struct qmp_error *err, void *arg);
int qmp_query_blockstats(struct qmp *q, qmp_blockstats_cb cb, void *arg);

#endif
