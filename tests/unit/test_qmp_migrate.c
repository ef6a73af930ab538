/*
 * Unit tests for nodeagent/qmp_migrate.c against QMP sessions recorded from the real QEMU 7.2
 * (tests/unit/data/qmp_migrate/NAME.txt, written by record.py there): a fake QEMU on the same
 * event loop replays "<- " lines as QEMU sent them (the reply's id replaced by the client's) and
 * checks that the client sends exactly the "-> " lines (compared as JSON, ignoring the id). So
 * the arguments qmp_migrate.c builds are the ones QEMU accepted, and the replies it parses are
 * QEMU's own. Then qmp_migrate_parse_info() on hostile replies.
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
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "qmp.h"
#include "qmp_migrate.h"

#define MAX_LINES 64

/* ---- the fake QEMU ---- */

struct t {
	struct event_base *base;
	struct event *timer;
	bool timed_out;
	struct qmp *q;
	struct bufferevent *bev;
	char *line[MAX_LINES];
	bool from_qemu[MAX_LINES];
	size_t n, pos;
	json_int_t last_id;
	char mismatch[512];
	/* what the callbacks saw */
	bool ready, done, disconnected;
	char events[1024]; /* "MIGRATION:active;" ... */
	char err_cls[64], err_desc[256];
	struct qmp_migration_info info;
};

static void
fake_pump(struct t *t)
{
	while (t->pos < t->n && t->from_qemu[t->pos]) {
		json_t *msg = json_loads(t->line[t->pos++], 0, NULL);
		assert_non_null(msg);
		if (json_object_get(msg, "id") != NULL)
			json_object_set_new(msg, "id", json_integer(t->last_id));
		char *out = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER);
		evbuffer_add_printf(bufferevent_get_output(t->bev), "%s\r\n", out);
		free(out);
		json_decref(msg);
	}
}

static void
fake_read(struct bufferevent *bev, void *arg)
{
	struct t *t = arg;
	char *text;
	size_t len;

	while ((text = evbuffer_readln(bufferevent_get_input(bev), &len, EVBUFFER_EOL_LF)) !=
	       NULL) {
		json_t *got = json_loads(text, 0, NULL);
		if (got == NULL || t->pos >= t->n || t->from_qemu[t->pos]) {
			snprintf(t->mismatch, sizeof(t->mismatch), "unexpected: %s", text);
		} else {
			json_t *want = json_loads(t->line[t->pos], 0, NULL);
			t->last_id = json_integer_value(json_object_get(got, "id"));
			json_object_del(got, "id");
			json_object_del(want, "id");
			if (!json_equal(got, want))
				snprintf(t->mismatch, sizeof(t->mismatch), "sent %s, want %s", text,
					 t->line[t->pos]);
			json_decref(want);
			t->pos++;
			fake_pump(t);
		}
		json_decref(got);
		free(text);
	}
}

static void
load(struct t *t, const char *name)
{
	const char *srcdir = getenv("srcdir");
	char path[512], buf[65536];
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/unit/data/qmp_migrate/%s.txt", srcdir ? srcdir : ".",
		 name);
	if ((f = fopen(path, "r")) == NULL)
		fail_msg("cannot open %s", path);
	while (fgets(buf, sizeof(buf), f) != NULL) {
		buf[strcspn(buf, "\n")] = '\0';
		if (buf[0] == '#' || buf[0] == '\0')
			continue;
		assert_true(t->n < MAX_LINES);
		assert_true(strncmp(buf, "<- ", 3) == 0 || strncmp(buf, "-> ", 3) == 0);
		t->from_qemu[t->n] = buf[0] == '<';
		t->line[t->n++] = strdup(buf + 3);
	}
	fclose(f);
}

/* ---- the client ---- */

static void
on_ready(struct qmp *q, void *arg)
{
	((struct t *)arg)->ready = true;
}

static void
on_event(struct qmp *q, const char *name, const json_t *data, int64_t secs, int64_t usecs,
	 void *arg)
{
	struct t *t = arg;
	const char *status = json_string_value(json_object_get(data, "status"));
	size_t used = strlen(t->events);

	if (strcmp(name, "MIGRATION") == 0)
		snprintf(t->events + used, sizeof(t->events) - used, "%s;", status ?: "?");
}

static void
on_disconnected(struct qmp *q, const char *reason, void *arg)
{
	((struct t *)arg)->disconnected = true; /* qmp_free() says so too */
}

static const struct qmp_callbacks callbacks = {on_ready, on_event, on_disconnected};

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	((struct t *)arg)->timed_out = true;
}

static struct t *
start(const char *recording)
{
	struct t *t = calloc(1, sizeof(*t));
	int sv[2];

	assert_non_null(t);
	load(t, recording);
	t->base = event_base_new();
	t->timer = evtimer_new(t->base, on_timer, t);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	t->q = qmp_new(t->base, "vm-test", &callbacks, t);
	assert_non_null(t->q);
	assert_int_equal(qmp_attach_fd(t->q, sv[0]), 0);
	t->bev = bufferevent_socket_new(t->base, sv[1], BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(t->bev, fake_read, NULL, NULL, t);
	bufferevent_enable(t->bev, EV_READ | EV_WRITE);
	fake_pump(t);
	return t;
}

/* Run the loop until the command's callback ran. */
static void
wait_done(struct t *t)
{
	struct timeval tv = {5, 0};

	t->timed_out = false;
	evtimer_add(t->timer, &tv);
	while (!t->done && !t->timed_out)
		event_base_loop(t->base, EVLOOP_ONCE);
	evtimer_del(t->timer);
	assert_false(t->timed_out);
	assert_false(t->disconnected);
	assert_string_equal(t->mismatch, "");
	t->done = false;
}

static void
finish(struct t *t)
{
	/* the recording's trailing events, then every line must have been played */
	while (event_base_loop(t->base, EVLOOP_NONBLOCK) == 0 && t->pos < t->n)
		;
	assert_string_equal(t->mismatch, "");
	assert_int_equal(t->pos, t->n);
	qmp_free(t->q);
	bufferevent_free(t->bev);
	for (size_t i = 0; i < t->n; i++)
		free(t->line[i]);
	event_free(t->timer);
	event_base_free(t->base);
	free(t);
}

static void
on_done(struct qmp *q, const struct qmp_error *err, void *arg)
{
	struct t *t = arg;

	snprintf(t->err_cls, sizeof(t->err_cls), "%s", err ? err->cls : "");
	snprintf(t->err_desc, sizeof(t->err_desc), "%s", err ? err->desc : "");
	t->done = true;
}

static void
on_info(struct qmp *q, const struct qmp_migration_info *info, const struct qmp_error *err,
	void *arg)
{
	struct t *t = arg;

	assert_true((info == NULL) != (err == NULL));
	snprintf(t->err_cls, sizeof(t->err_cls), "%s", err ? err->cls : "");
	if (info != NULL)
		t->info = *info;
	t->done = true;
}

/* The uri the recorded "migrate" used (the target's port of that recording). */
static const char *
recorded_uri(const struct t *t)
{
	static char uri[128];

	for (size_t i = 0; i < t->n; i++) {
		json_t *msg = json_loads(t->line[i], 0, NULL);
		const char *cmd = json_string_value(json_object_get(msg, "execute"));
		if (!t->from_qemu[i] && cmd != NULL && strcmp(cmd, "migrate") == 0) {
			snprintf(uri, sizeof(uri), "%s",
				 json_string_value(json_object_get(
					 json_object_get(msg, "arguments"), "uri")));
			json_decref(msg);
			return uri;
		}
		json_decref(msg);
	}
	fail_msg("no migrate in the recording");
	return NULL;
}

static void
caps(struct t *t, bool auto_converge)
{
	struct qmp_migrate_caps c = {.events = true, .auto_converge = auto_converge};

	assert_int_equal(qmp_migrate_set_capabilities(t->q, &c, on_done, t), 0);
	wait_done(t);
	assert_string_equal(t->err_cls, "");
}

/* ---- replays ---- */

static void
test_query_never_migrated(void **state)
{
	struct t *t = start("query-migrate-none");

	assert_int_equal(qmp_query_migrate(t->q, on_info, t), 0);
	wait_done(t);
	assert_true(t->ready);
	assert_string_equal(t->info.status, "none");
	assert_false(t->info.has_ram);
	assert_int_equal(t->info.listen_port, 0);
	assert_false(qmp_migrate_active(t->info.status));
	finish(t);
}

static void
test_capabilities_and_parameters(void **state)
{
	struct t *t = start("caps-params");

	caps(t, true);
	assert_int_equal(
		qmp_migrate_set_parameters(t->q, 100, QMP_MIGRATE_UNLIMITED_BPS, on_done, t), 0);
	wait_done(t);
	assert_string_equal(t->err_cls, "");
	finish(t);
}

static void
test_incoming_port(void **state)
{
	struct t *t = start("incoming");

	caps(t, false);
	assert_int_equal(qmp_migrate_incoming(t->q, "tcp:127.0.0.1:0", on_done, t), 0);
	wait_done(t);
	assert_string_equal(t->err_cls, "");
	assert_int_equal(qmp_query_migrate(t->q, on_info, t), 0);
	wait_done(t);
	/* the port the kernel gave, which QEMU reports as a string */
	assert_true(t->info.listen_port > 1024 && t->info.listen_port <= 65535);
	finish(t);
}

static void
test_active_progress_then_cancel(void **state)
{
	struct t *t = start("migrate-active-cancel");

	caps(t, false);
	assert_int_equal(qmp_migrate_set_parameters(t->q, 100, 50000, on_done, t), 0);
	wait_done(t);
	assert_int_equal(qmp_migrate(t->q, recorded_uri(t), on_done, t), 0);
	wait_done(t);
	assert_string_equal(t->err_cls, "");
	assert_int_equal(qmp_query_migrate(t->q, on_info, t), 0);
	wait_done(t);
	assert_string_equal(t->events, "setup;active;");
	assert_string_equal(t->info.status, "active");
	assert_true(qmp_migrate_active(t->info.status));
	assert_true(t->info.has_ram);
	assert_int_equal(t->info.total, 34086912); /* 32 MiB of RAM + ROMs */
	assert_true(t->info.transferred > 0 && t->info.remaining > 0);
	assert_true(t->info.remaining < t->info.total);
	assert_int_equal(t->info.expected_downtime_ms, 100);
	assert_int_equal(t->info.page_size, 4096);
	assert_true(t->info.mbps > 0 && t->info.mbps < 1);
	assert_int_equal(qmp_migrate_cancel(t->q, on_done, t), 0);
	wait_done(t);
	assert_string_equal(t->err_cls, "");
	finish(t);
	/* cancelling is still active; cancelled is not */
	assert_true(qmp_migrate_active("cancelling"));
	assert_false(qmp_migrate_active("cancelled"));
}

static void
test_completed(void **state)
{
	struct t *t = start("migrate-completed");

	caps(t, true);
	assert_int_equal(
		qmp_migrate_set_parameters(t->q, 100, QMP_MIGRATE_UNLIMITED_BPS, on_done, t), 0);
	wait_done(t);
	assert_int_equal(qmp_migrate(t->q, recorded_uri(t), on_done, t), 0);
	wait_done(t);
	assert_int_equal(qmp_query_migrate(t->q, on_info, t), 0);
	wait_done(t);
	assert_string_equal(t->info.status, "completed");
	assert_false(qmp_migrate_active(t->info.status));
	assert_true(t->info.total_time_ms > 0);
	assert_true(t->info.downtime_ms > 0 && t->info.downtime_ms <= t->info.total_time_ms);
	assert_int_equal(t->info.remaining, 0);
	assert_true(t->info.transferred > 0 && t->info.dirty_sync_count >= 2);
	assert_string_equal(t->info.error_desc, "");
	finish(t);
}

static void
test_failed_with_reason(void **state)
{
	struct t *t = start("migrate-failed");

	caps(t, false);
	assert_int_equal(qmp_migrate(t->q, recorded_uri(t), on_done, t), 0);
	wait_done(t);
	assert_int_equal(qmp_query_migrate(t->q, on_info, t), 0);
	wait_done(t);
	assert_string_equal(t->info.status, "failed");
	assert_non_null(strstr(t->info.error_desc, "Connection refused"));
	assert_false(t->info.has_ram);
	finish(t);
}

static void
test_postcopy_refused_and_announce(void **state)
{
	struct t *t = start("postcopy-error-announce");

	assert_int_equal(qmp_migrate_start_postcopy(t->q, on_done, t), 0);
	wait_done(t);
	assert_string_equal(t->err_cls, "GenericError");
	assert_non_null(strstr(t->err_desc, "postcopy"));
	assert_int_equal(qmp_announce_self(t->q, on_done, t), 0);
	wait_done(t);
	assert_string_equal(t->err_cls, "");
	finish(t);
}

/* ---- hostile replies ---- */

static bool
parse(const char *text, struct qmp_migration_info *info)
{
	json_t *ret = json_loads(text, 0, NULL);
	bool ok;

	assert_non_null(ret);
	ok = qmp_migrate_parse_info(ret, info);
	json_decref(ret);
	return ok;
}

static void
test_parse_hostile(void **state)
{
	struct qmp_migration_info i;
	static const char *const bad[] = {
		"[]",
		"{\"status\": 7}",
		"{\"status\": \"a-status-name-much-longer-than-the-field-holds\"}",
		"{\"status\": \"active\", \"total-time\": -1}",
		"{\"status\": \"active\", \"downtime\": 1.5}",
		"{\"status\": \"active\", \"cpu-throttle-percentage\": 101}",
		"{\"status\": \"active\", \"ram\": []}",
		"{\"status\": \"active\", \"ram\": {\"transferred\": \"1\"}}",
		"{\"status\": \"active\", \"ram\": {\"remaining\": 4611686018427387905}}",
		"{\"status\": \"active\", \"ram\": {\"mbps\": -3}}",
		"{\"status\": \"failed\", \"error-desc\": 3}",
		"{\"socket-address\": {}}",
		"{\"socket-address\": [7]}",
		"{\"socket-address\": [{\"port\": \"0\"}]}",
		"{\"socket-address\": [{\"port\": \"65536\"}]}",
		"{\"socket-address\": [{\"port\": \"80x\"}]}",
	};

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		if (parse(bad[k], &i))
			fail_msg("accepted %s", bad[k]);
	/* absent status: none; control characters in QEMU's reason are blanked */
	assert_true(parse("{}", &i));
	assert_string_equal(i.status, "none");
	assert_true(parse("{\"status\": \"failed\", \"error-desc\": \"a\\nb\\u001bc\"}", &i));
	assert_string_equal(i.error_desc, "a b c");
	assert_true(parse("{\"status\": \"active\", \"cpu-throttle-percentage\": 99, \"ram\": "
			  "{\"mbps\": 12, \"dirty-pages-rate\": 10}}",
			  &i));
	assert_int_equal(i.cpu_throttle_percentage, 99);
	assert_true(i.mbps == 12.0 && i.dirty_pages_rate == 10 && i.has_ram);
	assert_false(qmp_migrate_active("completed"));
	assert_true(qmp_migrate_active("postcopy-active"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_never_migrated),
		cmocka_unit_test(test_capabilities_and_parameters),
		cmocka_unit_test(test_incoming_port),
		cmocka_unit_test(test_active_progress_then_cancel),
		cmocka_unit_test(test_completed),
		cmocka_unit_test(test_failed_with_reason),
		cmocka_unit_test(test_postcopy_refused_and_announce),
		cmocka_unit_test(test_parse_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
