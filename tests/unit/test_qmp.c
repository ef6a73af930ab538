/*
 * Unit tests for nodeagent/qmp.c. A fake QEMU on the same event loop replays sessions recorded
 * from the real QEMU 7.2 (tests/unit/golden/qmp/NAME.txt, written by record.py there) through a
 * socketpair: "<- " lines are sent as QEMU sent them (with the id of the reply replaced by the id
 * the client chose), "-> " lines are what the client must send (compared as JSON, ignoring the
 * id). Then the hostile cases: malformed JSON, wrong shapes, unknown ids, over-long lines.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "qmp.h"

/* ---- Fake QEMU ---- */

struct fake {
	struct bufferevent *bev;
	char *dir[64];	/* "<" (QEMU sends) or ">" (client sends) */
	char *line[64]; /* the JSON text */
	size_t n, pos;
	json_int_t last_id;
	char mismatch[512];
};

static void
fake_send(struct fake *f, const char *text)
{
	json_t *msg = json_loads(text, 0, NULL);
	char *out = NULL;

	/* A reply answers the id the client chose, not the one of the recording. */
	if (msg != NULL && json_is_object(msg) && json_object_get(msg, "id") != NULL) {
		json_object_set_new(msg, "id", json_integer(f->last_id));
		out = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER);
		text = out;
	}
	evbuffer_add_printf(bufferevent_get_output(f->bev), "%s\r\n", text);
	free(out);
	json_decref(msg);
}

static void
fake_pump(struct fake *f)
{
	while (f->pos < f->n && f->dir[f->pos][0] == '<')
		fake_send(f, f->line[f->pos++]);
}

static void
fake_read(struct bufferevent *bev, void *arg)
{
	struct fake *f = arg;
	char *text;
	size_t len;

	while ((text = evbuffer_readln(bufferevent_get_input(bev), &len, EVBUFFER_EOL_LF)) !=
	       NULL) {
		json_t *got = json_loads(text, 0, NULL);
		if (got == NULL || f->pos >= f->n || f->dir[f->pos][0] != '>') {
			snprintf(f->mismatch, sizeof(f->mismatch), "unexpected from client: %s",
				 text);
		} else {
			json_t *want = json_loads(f->line[f->pos], 0, NULL);
			assert_non_null(want);
			f->last_id = json_integer_value(json_object_get(got, "id"));
			assert_true(json_is_integer(json_object_get(got, "id")));
			json_object_del(got, "id");
			json_object_del(want, "id");
			if (!json_equal(got, want))
				snprintf(f->mismatch, sizeof(f->mismatch),
					 "client sent %s, want %s", text, f->line[f->pos]);
			json_decref(want);
			f->pos++;
			fake_pump(f);
		}
		json_decref(got);
		free(text);
	}
}

static void
fake_add(struct fake *f, const char *dir, const char *line)
{
	assert_true(f->n < 64);
	f->dir[f->n] = strdup(dir);
	f->line[f->n] = strdup(line);
	f->n++;
}

static void
fake_load(struct fake *f, const char *name)
{
	const char *srcdir = getenv("srcdir");
	char path[512], buf[65536];

	snprintf(path, sizeof(path), "%s/tests/unit/golden/qmp/%s.txt", srcdir ? srcdir : ".",
		 name);
	FILE *file = fopen(path, "r");
	if (file == NULL)
		fail_msg("cannot open %s", path);
	while (fgets(buf, sizeof(buf), file) != NULL) {
		buf[strcspn(buf, "\n")] = '\0';
		if (strncmp(buf, "<- ", 3) == 0)
			fake_add(f, "<", buf + 3);
		else if (strncmp(buf, "-> ", 3) == 0)
			fake_add(f, ">", buf + 3);
		else
			assert_true(buf[0] == '#' || buf[0] == '\0');
	}
	fclose(file);
}

static void
fake_close(struct fake *f)
{
	if (f->bev != NULL)
		bufferevent_free(f->bev);
	f->bev = NULL;
}

/* ---- Test fixture: a client, a fake QEMU, and what the callbacks saw ---- */

struct t {
	struct event_base *base;
	struct event *timer;
	bool timed_out;
	struct qmp *q;
	struct fake fake;
	bool ready, disconnected, done;
	bool free_on_disconnect;
	char reason[256];
	char trace[4096];   /* "event NAME;" and "done RESULT;" in the order they happened */
	json_t *event_data; /* array of the events' data */
	struct qmp_status status;
	struct qmp_vcpu vcpus[8];
	size_t nvcpus;
	struct qmp_blockstat stats[8];
	size_t nstats;
	char err_cls[64], err_desc[256];
};

static void
trace(struct t *t, const char *fmt, ...)
{
	va_list ap;
	size_t used = strlen(t->trace);

	va_start(ap, fmt);
	vsnprintf(t->trace + used, sizeof(t->trace) - used, fmt, ap);
	va_end(ap);
}

static void
on_ready(struct qmp *q, void *arg)
{
	struct t *t = arg;
	t->ready = true;
}

static void
on_event(struct qmp *q, const char *name, const json_t *data, int64_t secs, int64_t usecs,
	 void *arg)
{
	struct t *t = arg;
	trace(t, "event %s;", name);
	json_array_append_new(t->event_data, data ? json_deep_copy(data) : json_null());
	assert_true(secs > 1600000000);
	assert_true(usecs >= 0 && usecs < 1000000);
}

static void
on_disconnected(struct qmp *q, const char *reason, void *arg)
{
	struct t *t = arg;
	t->disconnected = true;
	snprintf(t->reason, sizeof(t->reason), "%s", reason);
	trace(t, "disconnected;");
	if (t->free_on_disconnect) {
		qmp_free(q); /* deferred until this callback returns */
		t->q = NULL;
	}
}

static const struct qmp_callbacks callbacks = {on_ready, on_event, on_disconnected};

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct t *t = arg;
	t->timed_out = true;
}

static void
run_until(struct t *t, const bool *flag)
{
	struct timeval tv = {5, 0};

	t->timed_out = false;
	evtimer_add(t->timer, &tv);
	while (!*flag && !t->timed_out)
		event_base_loop(t->base, EVLOOP_ONCE);
	evtimer_del(t->timer);
	assert_false(t->timed_out);
}

/* Until the fake has seen every line the client must send. */
static void
wait_consumed(struct t *t)
{
	struct timeval tv = {5, 0};

	t->timed_out = false;
	evtimer_add(t->timer, &tv);
	while (t->fake.pos < t->fake.n && !t->timed_out)
		event_base_loop(t->base, EVLOOP_ONCE);
	evtimer_del(t->timer);
	assert_false(t->timed_out);
}

static void
fake_attach(struct t *t, int fd)
{
	t->fake.bev = bufferevent_socket_new(t->base, fd, BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(t->fake.bev);
	bufferevent_setcb(t->fake.bev, fake_read, NULL, NULL, &t->fake);
	bufferevent_enable(t->fake.bev, EV_READ | EV_WRITE);
	fake_pump(&t->fake);
}

static struct t *
start(const char *recording)
{
	struct t *t = calloc(1, sizeof(*t));
	int sv[2];

	assert_non_null(t);
	t->base = event_base_new();
	t->timer = evtimer_new(t->base, on_timer, t);
	t->event_data = json_array();
	if (recording != NULL)
		fake_load(&t->fake, recording);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	t->q = qmp_new(t->base, "vm-test", &callbacks, t);
	assert_non_null(t->q);
	assert_int_equal(qmp_attach_fd(t->q, sv[0]), 0);
	fake_attach(t, sv[1]);
	return t;
}

static void
finish(struct t *t)
{
	assert_string_equal(t->fake.mismatch, "");
	qmp_free(t->q);
	fake_close(&t->fake);
	for (size_t i = 0; i < t->fake.n; i++) {
		free(t->fake.dir[i]);
		free(t->fake.line[i]);
	}
	json_decref(t->event_data);
	event_free(t->timer);
	event_base_free(t->base);
	free(t);
}

static void
record_err(struct t *t, const struct qmp_error *err)
{
	if (err != NULL) {
		snprintf(t->err_cls, sizeof(t->err_cls), "%s", err->cls);
		snprintf(t->err_desc, sizeof(t->err_desc), "%s", err->desc);
	}
	t->done = true;
}

static void
on_done(struct qmp *q, const struct qmp_error *err, void *arg)
{
	struct t *t = arg;
	trace(t, "done %s;", err ? err->cls : "ok");
	record_err(t, err);
}

static void
on_status(struct qmp *q, const struct qmp_status *st, const struct qmp_error *err, void *arg)
{
	struct t *t = arg;
	assert_true((st == NULL) != (err == NULL));
	if (st != NULL)
		t->status = *st;
	trace(t, "done %s;", err ? err->cls : "ok");
	record_err(t, err);
}

static void
on_vcpus(struct qmp *q, const struct qmp_vcpu *v, size_t n, const struct qmp_error *err, void *arg)
{
	struct t *t = arg;
	assert_true(n <= 8);
	if (n > 0)
		memcpy(t->vcpus, v, n * sizeof(*v));
	t->nvcpus = n;
	record_err(t, err);
}

static void
on_blockstats(struct qmp *q, const struct qmp_blockstat *s, size_t n, const struct qmp_error *err,
	      void *arg)
{
	struct t *t = arg;
	assert_true(n <= 8);
	if (n > 0)
		memcpy(t->stats, s, n * sizeof(*s));
	t->nstats = n;
	record_err(t, err);
}

/* Run a recording to its end; the command was queued by the caller. */
static void
play(struct t *t)
{
	run_until(t, &t->done);
	assert_true(t->ready);
	assert_int_equal(t->fake.pos, t->fake.n);
	assert_false(t->disconnected);
}

/* ---- Replays of real QEMU sessions ---- */

static void
test_handshake(void **state)
{
	struct t *t = start("handshake");

	assert_false(qmp_is_ready(t->q));
	assert_string_equal(qmp_qemu_version(t->q), "");
	run_until(t, &t->ready);
	assert_true(qmp_is_ready(t->q));
	assert_string_equal(qmp_qemu_version(t->q), "7.2.22");
	assert_int_equal(t->fake.pos, t->fake.n);
	finish(t);
}

static void
test_query_status(void **state)
{
	struct t *t = start("query-status-prelaunch");

	/* Queued before the handshake: sent once capabilities are negotiated. */
	assert_int_equal(qmp_query_status(t->q, on_status, t), 0);
	play(t);
	assert_string_equal(t->status.status, "prelaunch");
	assert_false(t->status.running);
	finish(t);

	t = start("query-status-running");
	run_until(t, &t->ready);
	assert_int_equal(qmp_query_status(t->q, on_status, t), 0);
	play(t);
	assert_string_equal(t->status.status, "running");
	assert_true(t->status.running);
	finish(t);
}

static void
test_query_cpus_fast(void **state)
{
	struct t *t = start("query-cpus-fast");

	assert_int_equal(qmp_query_cpus_fast(t->q, on_vcpus, t), 0);
	play(t);
	assert_string_equal(t->err_cls, "");
	assert_int_equal(t->nvcpus, 2);
	assert_int_equal(t->vcpus[0].cpu_index, 0);
	assert_int_equal(t->vcpus[0].thread_id, 22257);
	assert_int_equal(t->vcpus[1].cpu_index, 1);
	assert_int_equal(t->vcpus[1].thread_id, 22258);
	finish(t);
}

/* QEMU sends RESUME/STOP/... before the reply: the event callback runs first. */
static void
expect_simple(const char *recording, int (*fn)(struct qmp *, qmp_done_cb, void *),
	      const char *want_trace)
{
	struct t *t = start(recording);

	assert_int_equal(fn(t->q, on_done, t), 0);
	play(t);
	assert_string_equal(t->trace, want_trace);
	finish(t);
}

static void
test_simple_commands(void **state)
{
	expect_simple("cont", qmp_cont, "event RESUME;done ok;");
	expect_simple("stop", qmp_stop, "event STOP;done ok;");
	expect_simple("system_reset", qmp_system_reset, "event RESET;done ok;");
	expect_simple("system_powerdown", qmp_system_powerdown, "event POWERDOWN;done ok;");
}

static void
test_quit(void **state)
{
	struct t *t = start("quit");

	assert_int_equal(qmp_quit(t->q, on_done, t), 0);
	play(t);
	assert_string_equal(t->trace, "event SHUTDOWN;done ok;");
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(t->event_data, 0), "reason")),
		"host-qmp-quit");
	/* Then QEMU exits. */
	fake_close(&t->fake);
	run_until(t, &t->disconnected);
	assert_string_equal(t->reason, "QEMU closed the connection");
	assert_false(qmp_is_ready(t->q));
	assert_int_equal(qmp_cont(t->q, on_done, t), -1);
	finish(t);
}

static void
test_block_resize(void **state)
{
	struct t *t = start("block_resize");

	assert_int_equal(qmp_block_resize(t->q, "disk1", 64 << 20, on_done, t), 0);
	play(t);
	assert_string_equal(t->trace, "done ok;");
	finish(t);

	t = start("block_resize-error");
	assert_int_equal(qmp_block_resize(t->q, "nosuchdisk", 1 << 20, on_done, t), 0);
	play(t);
	assert_string_equal(t->err_cls, "GenericError");
	assert_string_equal(t->err_desc, "Cannot find device='' nor node-name='nosuchdisk'");
	assert_true(qmp_is_ready(t->q)); /* an error reply is not a protocol violation */
	finish(t);

	t = start("handshake");
	assert_int_equal(qmp_block_resize(t->q, "disk0", 0, on_done, t), -1);
	finish(t);
}

static void
test_media(void **state)
{
	struct t *t = start("change-medium");

	assert_int_equal(qmp_change_medium(t->q, "/tmp/wr/other.iso", on_done, t), 0);
	play(t);
	assert_string_equal(t->trace, "event DEVICE_TRAY_MOVED;event DEVICE_TRAY_MOVED;done ok;");
	assert_true(json_is_true(json_object_get(json_array_get(t->event_data, 0), "tray-open")));
	assert_true(json_is_false(json_object_get(json_array_get(t->event_data, 1), "tray-open")));
	assert_int_equal(qmp_change_medium(t->q, "nbd:evil:1234", on_done, t), -1);
	assert_int_equal(qmp_change_medium(t->q, "/srv/../etc/shadow", on_done, t), -1);
	finish(t);

	t = start("eject");
	assert_int_equal(qmp_eject(t->q, on_done, t), 0);
	play(t);
	assert_string_equal(t->trace, "event DEVICE_TRAY_MOVED;done ok;");
	finish(t);
}

static void
test_query_blockstats(void **state)
{
	struct t *t = start("query-blockstats");

	assert_int_equal(qmp_query_blockstats(t->q, on_blockstats, t), 0);
	play(t);
	assert_string_equal(t->err_cls, "");
	assert_int_equal(t->nstats, 3);
	assert_string_equal(t->stats[0].node, ""); /* the cdrom was ejected */
	assert_string_equal(t->stats[0].qdev, "cdrom0");
	assert_int_equal(t->stats[0].rd_bytes, 4096);
	assert_int_equal(t->stats[0].rd_ops, 2);
	assert_string_equal(t->stats[1].node, "disk0");
	assert_string_equal(t->stats[1].qdev, "/machine/peripheral/virtio-disk0/virtio-backend");
	assert_int_equal(t->stats[1].rd_bytes, 512);
	assert_int_equal(t->stats[1].rd_ops, 1);
	assert_int_equal(t->stats[1].wr_bytes, 0);
	assert_string_equal(t->stats[2].node, "disk1");
	finish(t);
}

static void
on_raw(struct qmp *q, const json_t *ret, const struct qmp_error *err, void *arg)
{
	struct t *t = arg;
	trace(t, "raw %s;", err ? err->cls : json_is_object(ret) ? "object" : "other");
	record_err(t, err);
}

static void
test_execute_generic(void **state)
{
	struct t *t = start("handshake");

	fake_add(&t->fake, ">", "{\"execute\": \"query-name\"}");
	fake_add(&t->fake, "<", "{\"return\": {\"name\": \"x\"}, \"id\": 0}");
	assert_int_equal(qmp_execute(t->q, "query-name", NULL, on_raw, t), 0);
	play(t);
	assert_string_equal(t->trace, "raw object;");
	finish(t);
}

/* ---- Hostile input ---- */

/* After the handshake and with one command pending, QEMU sends text: the link must close. */
static void
expect_violation(const char *text, const char *reason_fragment)
{
	struct t *t = start("handshake");

	run_until(t, &t->ready);
	fake_add(&t->fake, ">", "{\"execute\": \"query-status\"}");
	assert_int_equal(qmp_query_status(t->q, on_status, t), 0);
	wait_consumed(t);
	evbuffer_add(bufferevent_get_output(t->fake.bev), text, strlen(text));
	t->free_on_disconnect = true;
	run_until(t, &t->disconnected);
	if (strstr(t->reason, reason_fragment) == NULL)
		fail_msg("%.40s...: reason '%s', want '%s'", text, t->reason, reason_fragment);
	/* The pending command failed first, then the disconnect callback ran (and freed q). */
	assert_string_equal(t->trace, "done Disconnected;disconnected;");
	assert_string_equal(t->err_cls, "Disconnected");
	assert_null(t->q);
	finish(t);
}

static void
test_malformed(void **state)
{
	expect_violation("{\"return\": {}, \"id\"\n", "invalid JSON");
	expect_violation("\"just a string\"\n", "invalid JSON");
	expect_violation("[1, 2]\n", "not a JSON object");
	expect_violation("{\"return\": {}, \"return\": {}, \"id\": 2}\n", "invalid JSON");
	expect_violation("{\"return\": {}, \"id\": 99}\n", "never sent");
	expect_violation("{\"return\": {}}\n", "malformed reply");
	expect_violation("{\"return\": {}, \"id\": \"2\"}\n", "malformed reply");
	expect_violation(
		"{\"return\": {}, \"error\": {\"class\": \"x\", \"desc\": \"y\"}, \"id\": 2}\n",
		"malformed reply");
	expect_violation("{\"error\": {\"class\": 1, \"desc\": \"y\"}, \"id\": 2}\n",
			 "malformed error reply");
	expect_violation("{\"event\": \"STOP\", \"timestamp\": {\"seconds\": \"1\", "
			 "\"microseconds\": 0}}\n",
			 "malformed event");
	expect_violation("{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1795318020, "
			 "\"microseconds\": 0}, \"id\": 2}\n",
			 "malformed event");
	expect_violation("{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1795318020, "
			 "\"microseconds\": 0}, \"data\": [1]}\n",
			 "malformed event");
	expect_violation("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, "
			 "\"major\": 7}, \"package\": \"\"}, \"capabilities\": []}}\n",
			 "second greeting");
	expect_violation("{\"hello\": 1}\n", "unrecognised");
	expect_violation("{\"return\": {\"a\": \"\\u0000\"}, \"id\": 2}\n", "invalid JSON");
}

static void
test_no_greeting(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	int sv[2];

	t->base = event_base_new();
	t->timer = evtimer_new(t->base, on_timer, t);
	t->event_data = json_array();
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	t->q = qmp_new(t->base, "vm-test", &callbacks, t);
	assert_int_equal(qmp_attach_fd(t->q, sv[0]), 0);
	assert_int_equal(qmp_cont(t->q, on_done, t), 0);
	fake_add(&t->fake, "<",
		 "{\"timestamp\": {\"seconds\": 1795318020, \"microseconds\": 1}, \"event\": "
		 "\"STOP\"}");
	fake_attach(t, sv[1]);
	run_until(t, &t->disconnected);
	assert_string_equal(t->reason, "QEMU did not start with a greeting");
	assert_string_equal(t->trace, "done Disconnected;disconnected;");
	finish(t);
}

static void
test_overlong_line(void **state)
{
	/* Without a newline: closed once more than 1 MiB is buffered. */
	char *big = malloc(QMP_LINE_MAX + 3);
	memset(big, 'x', QMP_LINE_MAX + 1);
	big[QMP_LINE_MAX + 1] = '\0';
	expect_violation(big, "longer than 1 MiB");

	/* A JSON string one byte over the cap, newline-terminated. */
	big[0] = '"';
	big[QMP_LINE_MAX] = '"';
	big[QMP_LINE_MAX + 1] = '\n';
	big[QMP_LINE_MAX + 2] = '\0';
	expect_violation(big, "longer than 1 MiB");

	/* Exactly at the cap is still a line: this object is read, then refused for its content. */
	memset(big, 'x', QMP_LINE_MAX);
	memcpy(big, "{\"a\":\"", 6);
	memcpy(big + QMP_LINE_MAX - 2, "\"}\n", 4);
	expect_violation(big, "unrecognised message");
	free(big);
}

static void
test_malformed_payload(void **state)
{
	struct t *t = start("handshake");

	/* A reply of the wrong shape fails the command, not the link. */
	fake_add(&t->fake, ">", "{\"execute\": \"query-cpus-fast\"}");
	fake_add(&t->fake, "<",
		 "{\"return\": [{\"cpu-index\": 0, \"thread-id\": \"123\"}], \"id\": 0}");
	assert_int_equal(qmp_query_cpus_fast(t->q, on_vcpus, t), 0);
	play(t);
	assert_string_equal(t->err_cls, "Malformed");
	assert_int_equal(t->nvcpus, 0);
	assert_true(qmp_is_ready(t->q));

	t->done = false;
	fake_add(&t->fake, ">", "{\"execute\": \"query-cpus-fast\"}");
	fake_add(&t->fake, "<", "{\"return\": [{\"cpu-index\": 0, \"thread-id\": -5}], \"id\": 0}");
	assert_int_equal(qmp_query_cpus_fast(t->q, on_vcpus, t), 0);
	play(t);
	assert_string_equal(t->err_cls, "Malformed");

	t->done = false;
	fake_add(&t->fake, ">", "{\"execute\": \"query-status\"}");
	fake_add(&t->fake, "<",
		 "{\"return\": {\"status\": \"running\", \"running\": 1}, \"id\": 0}");
	assert_int_equal(qmp_query_status(t->q, on_status, t), 0);
	play(t);
	assert_string_equal(t->err_cls, "Malformed");

	t->done = false;
	fake_add(&t->fake, ">", "{\"execute\": \"query-blockstats\"}");
	fake_add(&t->fake, "<",
		 "{\"return\": [{\"qdev\": \"x\", \"stats\": {\"rd_bytes\": -1, \"wr_bytes\": 0, "
		 "\"rd_operations\": 0, \"wr_operations\": 0}}], \"id\": 0}");
	assert_int_equal(qmp_query_blockstats(t->q, on_blockstats, t), 0);
	play(t);
	assert_string_equal(t->err_cls, "Malformed");
	finish(t);
}

static void
test_free_with_pending(void **state)
{
	struct t *t = start("handshake");

	run_until(t, &t->ready);
	fake_add(&t->fake, ">", "{\"execute\": \"stop\"}");
	assert_int_equal(qmp_stop(t->q, on_done, t), 0);
	qmp_free(t->q);
	t->q = NULL;
	/* Every command's callback runs exactly once, even when the agent gives up the link. */
	assert_string_equal(t->trace, "done Disconnected;disconnected;");
	finish(t);
}

static void
test_connect_unix(void **state)
{
	char dir[] = "/tmp/test_qmp.XXXXXX";
	char path[64];
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct t *t = calloc(1, sizeof(*t));

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/qmp.sock", dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(lfd, 1), 0);

	t->base = event_base_new();
	t->timer = evtimer_new(t->base, on_timer, t);
	t->event_data = json_array();
	fake_load(&t->fake, "query-status-running");
	t->q = qmp_new(t->base, "vm-test", &callbacks, t);
	assert_int_equal(qmp_connect(t->q, path), 0);
	assert_int_equal(qmp_query_status(t->q, on_status, t), 0);
	int fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	fake_attach(t, fd);
	play(t);
	assert_true(t->status.running);
	finish(t);
	close(lfd);
	unlink(path);
	rmdir(dir);

	/* Nobody listening: the failure arrives as a disconnect. */
	t = calloc(1, sizeof(*t));
	t->base = event_base_new();
	t->timer = evtimer_new(t->base, on_timer, t);
	t->event_data = json_array();
	t->q = qmp_new(t->base, "vm-test", &callbacks, t);
	if (qmp_connect(t->q, path) == 0)
		run_until(t, &t->disconnected);
	assert_false(qmp_is_ready(t->q));
	finish(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_query_status),
		cmocka_unit_test(test_query_cpus_fast),
		cmocka_unit_test(test_simple_commands),
		cmocka_unit_test(test_quit),
		cmocka_unit_test(test_block_resize),
		cmocka_unit_test(test_media),
		cmocka_unit_test(test_query_blockstats),
		cmocka_unit_test(test_execute_generic),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_no_greeting),
		cmocka_unit_test(test_overlong_line),
		cmocka_unit_test(test_malformed_payload),
		cmocka_unit_test(test_free_with_pending),
		cmocka_unit_test(test_connect_unix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
