/*
 * QMP client. A small state machine (greeting -> capabilities -> ready -> closed) around one
 * bufferevent. Commands are pipelined: QEMU executes them in order, and every reply carries the
 * "id" we sent, which is matched against the list of sent commands; a reply to an id we never
 * sent is a protocol violation. Commands queued before the handshake finishes wait in a second
 * list and go out when it does.
 *
 * Validation happens in two layers: the envelope here (a message is exactly one of greeting,
 * event, return, error, each with its fields of the right type), and the payload in each wrapper
 * (json_unpack with strict types, plus ranges). Unknown keys inside a payload are ignored on
 * purpose: newer QEMUs add fields, and refusing them would make an upgrade break the agent.
 *
 * Callbacks may call qmp_free(); the object is then only marked and freed when the outermost
 * callback returns (q->busy counts the nesting), the way tmux defers frees.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "log.h"
#include "qemu_cmdline.h"
#include "qmp.h"

enum qmp_state {
	QMP_IDLE,     /* created, no socket yet */
	QMP_GREETING, /* waiting for {"QMP": ...} */
	QMP_CAPS,     /* qmp_capabilities sent */
	QMP_READY,
	QMP_CLOSED,
};

struct qmp_cmd;
/* Turns the raw reply into the wrapper's typed callback. */
typedef void (*qmp_dispatch_fn)(struct qmp *q, struct qmp_cmd *c, const json_t *ret,
				const struct qmp_error *err);

/* One command; owned by q->waiting or q->sent until its callback has run. */
struct qmp_cmd {
	TAILQ_ENTRY(qmp_cmd) entry;
	int64_t id;
	char *line; /* the JSON text to send, without the newline */
	qmp_dispatch_fn dispatch;
	void (*cb)(void); /* the caller's callback, cast back by dispatch */
	void *arg;
};
TAILQ_HEAD(qmp_cmd_list, qmp_cmd);

struct qmp {
	struct event_base *base;
	struct bufferevent *bev;
	enum qmp_state state;
	char label[64];
	char version[32];
	struct qmp_callbacks cbs;
	void *arg;
	int64_t next_id;
	struct qmp_cmd_list waiting; /* queued before QMP_READY */
	struct qmp_cmd_list sent;    /* written, reply outstanding */
	int busy;		     /* callback nesting depth */
	bool doomed;		     /* qmp_free() called while busy */
};

static void qmp_close(struct qmp *q, const char *reason);

/* A copy of a string from QEMU fit for a log line: no control characters, bounded. */
static const char *
printable(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < len; i++)
		buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

static void
really_free(struct qmp *q)
{
	if (q->bev != NULL)
		bufferevent_free(q->bev);
	free(q);
}

static void
enter(struct qmp *q)
{
	q->busy++;
}

/* Returns true when q was freed: the caller must not touch it again. */
static bool
leave(struct qmp *q)
{
	if (--q->busy == 0 && q->doomed) {
		really_free(q);
		return true;
	}
	return false;
}

static void
cmd_free(struct qmp_cmd *c)
{
	free(c->line);
	free(c);
}

/* Run and free a command's callback; the command is already unlinked. */
static void
cmd_complete(struct qmp *q, struct qmp_cmd *c, const json_t *ret, const struct qmp_error *err)
{
	enter(q);
	c->dispatch(q, c, ret, err);
	cmd_free(c);
	leave(q);
}

static void
fail_list(struct qmp *q, struct qmp_cmd_list *list, const char *reason)
{
	struct qmp_error err = {"Disconnected", reason};
	struct qmp_cmd *c;

	while ((c = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, c, entry);
		cmd_complete(q, c, NULL, &err);
	}
}

static void
send_cmd(struct qmp *q, struct qmp_cmd *c)
{
	struct evbuffer *out = bufferevent_get_output(q->bev);

	if (evbuffer_add(out, c->line, strlen(c->line)) != 0 || evbuffer_add(out, "\n", 1) != 0) {
		TAILQ_INSERT_TAIL(&q->sent, c, entry);
		qmp_close(q, "out of memory");
		return;
	}
	log_debug("%s: -> %s", q->label, c->line);
	TAILQ_INSERT_TAIL(&q->sent, c, entry);
}

/*
 * Close the link: every pending command fails, then the disconnected callback runs. Logged as a
 * warning unless the agent itself asked for it.
 */
static void
close_link(struct qmp *q, const char *reason, bool by_agent)
{
	if (q->state == QMP_CLOSED)
		return;
	q->state = QMP_CLOSED;
	if (by_agent)
		log_debug("%s: QMP connection closed: %s", q->label, reason);
	else
		log_warn("%s: QMP connection closed: %s", q->label, reason);
	if (q->bev != NULL) {
		bufferevent_free(q->bev);
		q->bev = NULL;
	}
	enter(q);
	fail_list(q, &q->sent, reason);
	fail_list(q, &q->waiting, reason);
	if (q->cbs.disconnected != NULL)
		q->cbs.disconnected(q, reason, q->arg);
	leave(q);
}

static void
qmp_close(struct qmp *q, const char *reason)
{
	close_link(q, reason, false);
}

static struct qmp_cmd *
cmd_new(struct qmp *q, const char *command, json_t *arguments, qmp_dispatch_fn dispatch,
	void (*cb)(void), void *arg)
{
	struct qmp_cmd *c = calloc(1, sizeof(*c));
	json_t *msg = json_pack("{s:s}", "execute", command);

	if (c == NULL || msg == NULL)
		goto fail;
	if (arguments != NULL && json_object_set(msg, "arguments", arguments) != 0)
		goto fail;
	c->id = q->next_id++;
	if (json_object_set_new(msg, "id", json_integer(c->id)) != 0)
		goto fail;
	c->line = json_dumps(msg, JSON_COMPACT);
	if (c->line == NULL)
		goto fail;
	c->dispatch = dispatch;
	c->cb = cb;
	c->arg = arg;
	json_decref(msg);
	json_decref(arguments);
	return c;
fail:
	log_error("%s: out of memory for %s", q->label, command);
	free(c);
	json_decref(msg);
	json_decref(arguments);
	return NULL;
}

/* Queue (or send) a command; -1 when closed or out of memory, nothing is called then. */
static int
submit(struct qmp *q, const char *command, json_t *arguments, qmp_dispatch_fn dispatch,
       void (*cb)(void), void *arg)
{
	if (q->state == QMP_CLOSED || q->doomed) {
		log_warn("%s: %s refused: QMP connection is closed", q->label, command);
		json_decref(arguments);
		return -1;
	}
	struct qmp_cmd *c = cmd_new(q, command, arguments, dispatch, cb, arg);
	if (c == NULL)
		return -1;
	if (q->state == QMP_READY)
		send_cmd(q, c);
	else
		TAILQ_INSERT_TAIL(&q->waiting, c, entry);
	return 0;
}

/* ---- Handshake ---- */

static void
caps_done(struct qmp *q, struct qmp_cmd *c, const json_t *ret, const struct qmp_error *err)
{
	char buf[256];

	if (err != NULL) {
		if (strcmp(err->cls, "Disconnected") != 0) {
			snprintf(buf, sizeof(buf), "qmp_capabilities refused: %.200s", err->desc);
			qmp_close(q, printable(buf, buf, sizeof(buf)));
		}
		return;
	}
	q->state = QMP_READY;
	/* Commands may legitimately take long (none of ours should); the timeout was for QEMU to
	 * say hello at all. */
	bufferevent_set_timeouts(q->bev, NULL, NULL);
	log_debug("%s: QMP ready (QEMU %s)", q->label, q->version);
	struct qmp_cmd *w;
	while (q->state == QMP_READY && (w = TAILQ_FIRST(&q->waiting)) != NULL) {
		TAILQ_REMOVE(&q->waiting, w, entry);
		send_cmd(q, w);
	}
	if (q->state == QMP_READY && q->cbs.ready != NULL)
		q->cbs.ready(q, q->arg);
}

static void
handle_greeting(struct qmp *q, json_t *msg)
{
	json_int_t major, minor, micro;
	json_t *caps;
	json_error_t jerr;

	if (q->state != QMP_GREETING) {
		qmp_close(q, "unexpected second greeting");
		return;
	}
	if (json_unpack_ex(msg, &jerr, 0, "{s:{s:{s:{s:I, s:I, s:I}}, s:o}}", "QMP", "version",
			   "qemu", "major", &major, "minor", &minor, "micro", &micro,
			   "capabilities", &caps) != 0 ||
	    !json_is_array(caps) || major < 0 || major > 999 || minor < 0 || minor > 999 ||
	    micro < 0 || micro > 999) {
		qmp_close(q, "malformed greeting");
		return;
	}
	snprintf(q->version, sizeof(q->version), "%d.%d.%d", (int)major, (int)minor, (int)micro);

	/* qmp_capabilities jumps the queue: it is the only command allowed before it. */
	struct qmp_cmd *c = cmd_new(q, "qmp_capabilities", NULL, caps_done, NULL, NULL);
	if (c == NULL) {
		qmp_close(q, "out of memory");
		return;
	}
	q->state = QMP_CAPS;
	send_cmd(q, c);
}

/* ---- Incoming messages ---- */

static void
handle_event(struct qmp *q, json_t *msg)
{
	const char *name;
	json_t *data = NULL;
	json_int_t secs, usecs;
	json_error_t jerr;

	if (json_unpack_ex(msg, &jerr, JSON_STRICT, "{s:s, s:{s:I, s:I}, s?o}", "event", &name,
			   "timestamp", "seconds", &secs, "microseconds", &usecs, "data",
			   &data) != 0 ||
	    (data != NULL && !json_is_object(data)) || name[0] == '\0') {
		qmp_close(q, "malformed event");
		return;
	}
	if (q->state != QMP_READY && q->state != QMP_CAPS) {
		qmp_close(q, "event before the greeting");
		return;
	}
	log_debug("%s: event %s", q->label, name);
	if (q->cbs.event != NULL) {
		enter(q);
		q->cbs.event(q, name, data, secs, usecs, q->arg);
		leave(q);
	}
}

static void
handle_reply(struct qmp *q, json_t *msg)
{
	json_t *id = json_object_get(msg, "id");
	json_t *ret = json_object_get(msg, "return");
	json_t *error = json_object_get(msg, "error");
	struct qmp_error err;
	struct qmp_cmd *c;
	char buf[256];

	if ((ret != NULL) == (error != NULL) || json_object_size(msg) != 2 ||
	    !json_is_integer(id)) {
		qmp_close(q, "malformed reply (needs an integer id and one of return/error)");
		return;
	}
	if (error != NULL &&
	    json_unpack(error, "{s:s, s:s}", "class", &err.cls, "desc", &err.desc) != 0) {
		qmp_close(q, "malformed error reply");
		return;
	}
	TAILQ_FOREACH(c, &q->sent, entry)
	{
		if (c->id == json_integer_value(id))
			break;
	}
	if (c == NULL) {
		snprintf(buf, sizeof(buf), "reply to id %lld, which was never sent",
			 (long long)json_integer_value(id));
		qmp_close(q, buf);
		return;
	}
	TAILQ_REMOVE(&q->sent, c, entry);
	if (error != NULL) {
		char cls[64], desc[256];
		log_info("%s: QMP command id %lld failed: %s: %s", q->label, (long long)c->id,
			 printable(err.cls, cls, sizeof(cls)),
			 printable(err.desc, desc, sizeof(desc)));
	}
	cmd_complete(q, c, ret, error != NULL ? &err : NULL);
}

static void
handle_line(struct qmp *q, const char *line, size_t len)
{
	json_error_t jerr;
	char buf[256];
	json_t *msg = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);

	if (msg == NULL) {
		snprintf(buf, sizeof(buf), "invalid JSON from QEMU at column %d: %.100s",
			 jerr.column, jerr.text);
		qmp_close(q, buf);
		return;
	}
	if (!json_is_object(msg)) {
		qmp_close(q, "a message from QEMU is not a JSON object");
	} else if (json_object_get(msg, "QMP") != NULL && json_object_size(msg) == 1) {
		handle_greeting(q, msg);
	} else if (q->state == QMP_GREETING) {
		qmp_close(q, "QEMU did not start with a greeting");
	} else if (json_object_get(msg, "event") != NULL) {
		handle_event(q, msg);
	} else if (json_object_get(msg, "return") != NULL ||
		   json_object_get(msg, "error") != NULL) {
		handle_reply(q, msg);
	} else {
		qmp_close(q, "unrecognised message from QEMU");
	}
	json_decref(msg);
}

static void
on_read(struct bufferevent *bev, void *ctx)
{
	struct qmp *q = ctx;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line = NULL;

	enter(q);
	while (q->state != QMP_CLOSED && !q->doomed) {
		size_t eol_len;
		struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		if (eol.pos < 0) {
			if (evbuffer_get_length(in) > QMP_LINE_MAX)
				qmp_close(q, "line from QEMU longer than 1 MiB");
			break;
		}
		size_t len = (size_t)eol.pos;
		if (len > QMP_LINE_MAX) {
			qmp_close(q, "line from QEMU longer than 1 MiB");
			break;
		}
		line = malloc(len + 1);
		if (line == NULL) {
			qmp_close(q, "out of memory");
			break;
		}
		evbuffer_remove(in, line, len);
		evbuffer_drain(in, eol_len);
		if (len > 0 && line[len - 1] == '\r')
			len--;
		line[len] = '\0';
		if (len > 0)
			handle_line(q, line, len);
		free(line);
		line = NULL;
	}
	leave(q);
}

static void
on_event(struct bufferevent *bev, short what, void *ctx)
{
	struct qmp *q = ctx;
	char buf[128];

	if (what & BEV_EVENT_CONNECTED)
		return;
	enter(q);
	if (what & BEV_EVENT_TIMEOUT) {
		qmp_close(q, "QMP handshake timed out");
	} else if (what & BEV_EVENT_EOF) {
		/* Lines already buffered (the reply to quit, SHUTDOWN) were read before the EOF. */
		qmp_close(q, "QEMU closed the connection");
	} else if (what & BEV_EVENT_ERROR) {
		snprintf(buf, sizeof(buf), "socket error: %s", strerror(EVUTIL_SOCKET_ERROR()));
		qmp_close(q, buf);
	}
	leave(q);
}

/* ---- Life cycle ---- */

struct qmp *
qmp_new(struct event_base *base, const char *label, const struct qmp_callbacks *cbs, void *arg)
{
	struct qmp *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	q->base = base;
	snprintf(q->label, sizeof(q->label), "%s", label);
	if (cbs != NULL)
		q->cbs = *cbs;
	q->arg = arg;
	q->next_id = 1;
	TAILQ_INIT(&q->waiting);
	TAILQ_INIT(&q->sent);
	return q;
}

static int
start(struct qmp *q, int fd, const struct sockaddr *sa, socklen_t salen)
{
	struct timeval tv = {QMP_HANDSHAKE_SEC, 0};

	if (q->state != QMP_IDLE) {
		log_error("%s: QMP client already started", q->label);
		return -1;
	}
	q->bev = bufferevent_socket_new(q->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (q->bev == NULL) {
		log_error("%s: cannot create a bufferevent", q->label);
		close(fd);
		return -1;
	}
	bufferevent_setcb(q->bev, on_read, NULL, on_event, q);
	bufferevent_set_timeouts(q->bev, &tv, NULL);
	if (sa != NULL && bufferevent_socket_connect(q->bev, sa, (int)salen) != 0) {
		log_warn("%s: cannot connect to QMP: %s", q->label, strerror(errno));
		bufferevent_free(q->bev);
		q->bev = NULL;
		return -1;
	}
	if (bufferevent_enable(q->bev, EV_READ | EV_WRITE) != 0) {
		bufferevent_free(q->bev);
		q->bev = NULL;
		return -1;
	}
	q->state = QMP_GREETING;
	return 0;
}

int
qmp_connect(struct qmp *q, const char *socket_path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	if (strlen(socket_path) >= sizeof(sun.sun_path)) {
		log_error("%s: QMP socket path too long: %s", q->label, socket_path);
		return -1;
	}
	memcpy(sun.sun_path, socket_path, strlen(socket_path) + 1);
	/* fd -1: libevent creates a non-blocking, close-on-exec socket of sun's family. */
	return start(q, -1, (const struct sockaddr *)&sun, sizeof(sun));
}

int
qmp_attach_fd(struct qmp *q, int fd)
{
	if (evutil_make_socket_nonblocking(fd) != 0 || evutil_make_socket_closeonexec(fd) != 0) {
		log_error("%s: cannot configure fd %d", q->label, fd);
		close(fd);
		return -1;
	}
	return start(q, fd, NULL, 0);
}

void
qmp_free(struct qmp *q)
{
	if (q == NULL || q->doomed)
		return;
	enter(q);
	close_link(q, "closed by the agent", true);
	q->doomed = true;
	leave(q);
}

bool
qmp_is_ready(const struct qmp *q)
{
	return q->state == QMP_READY;
}

const char *
qmp_qemu_version(const struct qmp *q)
{
	return q->version;
}

static void
dispatch_raw(struct qmp *q, struct qmp_cmd *c, const json_t *ret, const struct qmp_error *err)
{
	((qmp_reply_cb)c->cb)(q, ret, err, c->arg);
}

int
qmp_execute(struct qmp *q, const char *command, json_t *arguments, qmp_reply_cb cb, void *arg)
{
	return submit(q, command, arguments, dispatch_raw, (void (*)(void))cb, arg);
}

/* ---- Wrappers ---- */

static const struct qmp_error malformed_reply = {"Malformed", "reply of an unexpected shape"};

static const struct qmp_error *
reject(struct qmp *q, const struct qmp_cmd *c, const char *what)
{
	log_warn("%s: malformed reply to command id %lld: %s", q->label, (long long)c->id, what);
	return &malformed_reply;
}

static void
dispatch_done(struct qmp *q, struct qmp_cmd *c, const json_t *ret, const struct qmp_error *err)
{
	if (err == NULL && !json_is_object(ret))
		err = reject(q, c, "return is not an object");
	((qmp_done_cb)c->cb)(q, err, c->arg);
}

static int
submit_done(struct qmp *q, const char *command, json_t *arguments, qmp_done_cb cb, void *arg)
{
	return submit(q, command, arguments, dispatch_done, (void (*)(void))cb, arg);
}

int
qmp_cont(struct qmp *q, qmp_done_cb cb, void *arg)
{
	return submit_done(q, "cont", NULL, cb, arg);
}

int
qmp_stop(struct qmp *q, qmp_done_cb cb, void *arg)
{
	return submit_done(q, "stop", NULL, cb, arg);
}

int
qmp_system_powerdown(struct qmp *q, qmp_done_cb cb, void *arg)
{
	return submit_done(q, "system_powerdown", NULL, cb, arg);
}

int
qmp_system_reset(struct qmp *q, qmp_done_cb cb, void *arg)
{
	return submit_done(q, "system_reset", NULL, cb, arg);
}

int
qmp_quit(struct qmp *q, qmp_done_cb cb, void *arg)
{
	return submit_done(q, "quit", NULL, cb, arg);
}

int
qmp_block_resize(struct qmp *q, const char *node_name, int64_t bytes, qmp_done_cb cb, void *arg)
{
	if (bytes <= 0) {
		log_error("%s: block_resize of %s to %lld bytes refused", q->label, node_name,
			  (long long)bytes);
		return -1;
	}
	return submit_done(
		q, "block_resize",
		json_pack("{s:s, s:I}", "node-name", node_name, "size", (json_int_t)bytes), cb,
		arg);
}

int
qmp_change_medium(struct qmp *q, const char *iso_path, qmp_done_cb cb, void *arg)
{
	/*
	 * blockdev-change-medium opens the file through the legacy path that understands protocol
	 * prefixes ("nbd:", "json:"); an absolute path has none. format=raw stops probing.
	 */
	char why[128];
	if (!vmspec_path_ok(iso_path, why, sizeof(why), "ISO path")) {
		log_error("%s: %s", q->label, why);
		return -1;
	}
	return submit_done(q, "blockdev-change-medium",
			   json_pack("{s:s, s:s, s:s, s:s}", "id", QEMU_CDROM_ID, "filename",
				     iso_path, "format", "raw", "read-only-mode", "read-only"),
			   cb, arg);
}

int
qmp_eject(struct qmp *q, qmp_done_cb cb, void *arg)
{
	/* force: the tenant wants the ISO out even if the guest locked the tray. */
	return submit_done(q, "eject", json_pack("{s:s, s:b}", "id", QEMU_CDROM_ID, "force", 1), cb,
			   arg);
}

static void
dispatch_status(struct qmp *q, struct qmp_cmd *c, const json_t *ret, const struct qmp_error *err)
{
	struct qmp_status st;
	const char *status;
	int running;

	if (err == NULL && (json_unpack((json_t *)ret, "{s:s, s:b}", "status", &status, "running",
					&running) != 0 ||
			    strlen(status) >= sizeof(st.status)))
		err = reject(q, c, "query-status");
	if (err != NULL) {
		((qmp_status_cb)c->cb)(q, NULL, err, c->arg);
		return;
	}
	snprintf(st.status, sizeof(st.status), "%s", status);
	st.running = running != 0;
	((qmp_status_cb)c->cb)(q, &st, NULL, c->arg);
}

int
qmp_query_status(struct qmp *q, qmp_status_cb cb, void *arg)
{
	return submit(q, "query-status", NULL, dispatch_status, (void (*)(void))cb, arg);
}

static void
dispatch_vcpus(struct qmp *q, struct qmp_cmd *c, const json_t *ret, const struct qmp_error *err)
{
	struct qmp_vcpu *v = NULL;
	size_t n = 0, i;
	json_t *e;

	if (err == NULL && (!json_is_array(ret) || json_array_size(ret) == 0 ||
			    json_array_size(ret) > QMP_MAX_VCPUS))
		err = reject(q, c, "query-cpus-fast: not an array of 1..1024 vCPUs");
	if (err == NULL && (v = calloc(json_array_size(ret), sizeof(*v))) == NULL)
		err = reject(q, c, "out of memory");
	if (err == NULL) {
		json_array_foreach (ret, i, e) {
			json_int_t idx, tid;
			if (json_unpack(e, "{s:I, s:I}", "cpu-index", &idx, "thread-id", &tid) !=
				    0 ||
			    idx < 0 || idx >= QMP_MAX_VCPUS || tid <= 0 || tid > INT32_MAX) {
				err = reject(q, c, "query-cpus-fast: bad cpu-index or thread-id");
				break;
			}
			v[n].cpu_index = (int)idx;
			v[n].thread_id = (pid_t)tid;
			n++;
		}
	}
	if (err != NULL)
		((qmp_vcpus_cb)c->cb)(q, NULL, 0, err, c->arg);
	else
		((qmp_vcpus_cb)c->cb)(q, v, n, NULL, c->arg);
	free(v);
}

int
qmp_query_cpus_fast(struct qmp *q, qmp_vcpus_cb cb, void *arg)
{
	return submit(q, "query-cpus-fast", NULL, dispatch_vcpus, (void (*)(void))cb, arg);
}

static bool
blockstat_from_json(const json_t *e, struct qmp_blockstat *s)
{
	const char *node = "", *qdev = "";
	json_int_t rb, wb, ro, wo;

	if (json_unpack((json_t *)e, "{s?s, s?s, s:{s:I, s:I, s:I, s:I}}", "node-name", &node,
			"qdev", &qdev, "stats", "rd_bytes", &rb, "wr_bytes", &wb, "rd_operations",
			&ro, "wr_operations", &wo) != 0)
		return false;
	if (rb < 0 || wb < 0 || ro < 0 || wo < 0 || strlen(node) >= sizeof(s->node) ||
	    strlen(qdev) >= sizeof(s->qdev))
		return false;
	snprintf(s->node, sizeof(s->node), "%s", node);
	snprintf(s->qdev, sizeof(s->qdev), "%s", qdev);
	s->rd_bytes = (uint64_t)rb;
	s->wr_bytes = (uint64_t)wb;
	s->rd_ops = (uint64_t)ro;
	s->wr_ops = (uint64_t)wo;
	return true;
}

static void
dispatch_blockstats(struct qmp *q, struct qmp_cmd *c, const json_t *ret,
		    const struct qmp_error *err)
{
	struct qmp_blockstat *s = NULL;
	size_t i;
	json_t *e;

	if (err == NULL && (!json_is_array(ret) || json_array_size(ret) > QMP_MAX_BLOCKSTATS))
		err = reject(q, c, "query-blockstats: not an array of at most 64 devices");
	if (err == NULL && (s = calloc(json_array_size(ret) + 1, sizeof(*s))) == NULL)
		err = reject(q, c, "out of memory");
	if (err == NULL) {
		json_array_foreach (ret, i, e) {
			if (!blockstat_from_json(e, &s[i])) {
				err = reject(q, c, "query-blockstats: bad entry");
				break;
			}
		}
	}
	if (err != NULL)
		((qmp_blockstats_cb)c->cb)(q, NULL, 0, err, c->arg);
	else
		((qmp_blockstats_cb)c->cb)(q, s, json_array_size(ret), NULL, c->arg);
	free(s);
}

int
qmp_query_blockstats(struct qmp *q, qmp_blockstats_cb cb, void *arg)
{
	return submit(q, "query-blockstats", NULL, dispatch_blockstats, (void (*)(void))cb, arg);
}
