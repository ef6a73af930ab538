/*
 * Live migration's QMP wrappers (see qmp_migrate.h). They build the arguments, send them with
 * qmp_execute() and check the reply's shape; the supervisor's migration logic is vm_migrate.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmp_migrate.h"

#define INT_FIELD_MAX (1LL << 62)

/* A command whose only result is success: adapts qmp_execute's callback. */
struct done_call {
	qmp_done_cb cb;
	void *arg;
};

static void
on_done(struct qmp *q, const json_t *ret, const struct qmp_error *err, void *arg)
{
	struct done_call d = *(struct done_call *)arg;

	free(arg);
	d.cb(q, err, d.arg);
}

static int
submit_done(struct qmp *q, const char *command, json_t *args, qmp_done_cb cb, void *arg)
{
	struct done_call *d = malloc(sizeof(*d));

	if (d == NULL) {
		json_decref(args);
		return -1;
	}
	d->cb = cb;
	d->arg = arg;
	if (qmp_execute(q, command, args, on_done, d) != 0) {
		free(d);
		return -1;
	}
	return 0;
}

int
qmp_migrate_set_capabilities(struct qmp *q, const struct qmp_migrate_caps *caps, qmp_done_cb cb,
			     void *arg)
{
	json_t *list =
		json_pack("[{s:s, s:b}, {s:s, s:b}, {s:s, s:b}]", "capability", "events", "state",
			  caps->events, "capability", "auto-converge", "state", caps->auto_converge,
			  "capability", "postcopy-ram", "state", caps->postcopy_ram);

	if (list == NULL)
		return -1;
	return submit_done(q, "migrate-set-capabilities", json_pack("{s:o}", "capabilities", list),
			   cb, arg);
}

int
qmp_migrate_set_parameters(struct qmp *q, int64_t downtime_ms, int64_t max_bandwidth,
			   qmp_done_cb cb, void *arg)
{
	return submit_done(q, "migrate-set-parameters",
			   json_pack("{s:I, s:I}", "downtime-limit", (json_int_t)downtime_ms,
				     "max-bandwidth", (json_int_t)max_bandwidth),
			   cb, arg);
}

int
qmp_migrate(struct qmp *q, const char *uri, qmp_done_cb cb, void *arg)
{
	return submit_done(q, "migrate", json_pack("{s:s}", "uri", uri), cb, arg);
}

int
qmp_migrate_incoming(struct qmp *q, const char *uri, qmp_done_cb cb, void *arg)
{
	return submit_done(q, "migrate-incoming", json_pack("{s:s}", "uri", uri), cb, arg);
}

int
qmp_migrate_cancel(struct qmp *q, qmp_done_cb cb, void *arg)
{
	return submit_done(q, "migrate_cancel", NULL, cb, arg);
}

int
qmp_migrate_start_postcopy(struct qmp *q, qmp_done_cb cb, void *arg)
{
	return submit_done(q, "migrate-start-postcopy", NULL, cb, arg);
}

int
qmp_tls_psk_add(struct qmp *q, const char *id, const char *dir, const char *username,
		qmp_done_cb cb, void *arg)
{
	json_t *args = json_pack("{s:s, s:s, s:s, s:s}", "qom-type", "tls-creds-psk", "id", id,
				 "dir", dir, "endpoint", username != NULL ? "client" : "server");

	if (args != NULL && username != NULL)
		json_object_set_new(args, "username", json_string(username));
	return submit_done(q, "object-add", args, cb, arg);
}

int
qmp_object_del(struct qmp *q, const char *id, qmp_done_cb cb, void *arg)
{
	return submit_done(q, "object-del", json_pack("{s:s}", "id", id), cb, arg);
}

int
qmp_migrate_set_tls(struct qmp *q, const char *creds_id, qmp_done_cb cb, void *arg)
{
	return submit_done(q, "migrate-set-parameters", json_pack("{s:s}", "tls-creds", creds_id),
			   cb, arg);
}

int
qmp_announce_self(struct qmp *q, qmp_done_cb cb, void *arg)
{
	return submit_done(q, "announce-self",
			   json_pack("{s:i, s:i, s:i, s:i}", "initial", 50, "max", 550, "rounds", 5,
				     "step", 100),
			   cb, arg);
}

bool
qmp_migrate_active(const char *status)
{
	static const char *const active[] = {"setup",
					     "active",
					     "postcopy-active",
					     "postcopy-paused",
					     "postcopy-recover",
					     "pre-switchover",
					     "device",
					     "wait-unplug",
					     "cancelling",
					     NULL};
	for (size_t i = 0; active[i] != NULL; i++)
		if (strcmp(status, active[i]) == 0)
			return true;
	return false;
}

/* An optional non-negative integer field; false if present but not one. */
static bool
get_int(const json_t *obj, const char *key, int64_t *out)
{
	const json_t *v = json_object_get(obj, key);

	*out = 0;
	if (v == NULL)
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > INT_FIELD_MAX)
		return false;
	*out = (int64_t)json_integer_value(v);
	return true;
}

bool
qmp_migrate_parse_info(const json_t *ret, struct qmp_migration_info *info)
{
	const json_t *ram, *v;
	int64_t n;

	memset(info, 0, sizeof(*info));
	if (!json_is_object(ret))
		return false;
	v = json_object_get(ret, "status");
	if (v == NULL) {
		snprintf(info->status, sizeof(info->status), "none");
	} else if (!json_is_string(v) || json_string_length(v) >= sizeof(info->status)) {
		return false;
	} else {
		snprintf(info->status, sizeof(info->status), "%s", json_string_value(v));
	}
	if (!get_int(ret, "total-time", &info->total_time_ms) ||
	    !get_int(ret, "downtime", &info->downtime_ms) ||
	    !get_int(ret, "expected-downtime", &info->expected_downtime_ms) ||
	    !get_int(ret, "setup-time", &info->setup_time_ms) ||
	    !get_int(ret, "cpu-throttle-percentage", &n) || n > 100)
		return false;
	info->cpu_throttle_percentage = (int)n;
	v = json_object_get(ret, "error-desc");
	if (v != NULL) {
		if (!json_is_string(v))
			return false;
		snprintf(info->error_desc, sizeof(info->error_desc), "%s", json_string_value(v));
		for (char *p = info->error_desc; *p; p++)
			if ((unsigned char)*p < 0x20)
				*p = ' ';
	}
	ram = json_object_get(ret, "ram");
	if (ram != NULL) {
		if (!json_is_object(ram) || !get_int(ram, "transferred", &info->transferred) ||
		    !get_int(ram, "remaining", &info->remaining) ||
		    !get_int(ram, "total", &info->total) ||
		    !get_int(ram, "dirty-pages-rate", &info->dirty_pages_rate) ||
		    !get_int(ram, "page-size", &info->page_size) ||
		    !get_int(ram, "dirty-sync-count", &info->dirty_sync_count))
			return false;
		v = json_object_get(ram, "mbps");
		if (v != NULL && (!json_is_number(v) || json_number_value(v) < 0))
			return false;
		info->mbps = v != NULL ? json_number_value(v) : 0;
		info->has_ram = true;
	}
	/* Destination listening on port 0: the port the kernel gave it. */
	v = json_object_get(ret, "socket-address");
	if (v != NULL) {
		const json_t *a = json_array_get(v, 0), *port = json_object_get(a, "port");
		if (!json_is_array(v) || (a != NULL && !json_is_object(a)))
			return false;
		if (json_is_string(port)) {
			char *end;
			long p = strtol(json_string_value(port), &end, 10);
			if (*end != '\0' || p <= 0 || p > 65535)
				return false;
			info->listen_port = (int)p;
		}
	}
	return true;
}

struct query_call {
	qmp_migration_cb cb;
	void *arg;
};

static void
on_info(struct qmp *q, const json_t *ret, const struct qmp_error *err, void *arg)
{
	struct query_call c = *(struct query_call *)arg;
	struct qmp_migration_info info;
	struct qmp_error bad = {"Malformed", "query-migrate: unexpected reply"};

	free(arg);
	if (err != NULL) {
		c.cb(q, NULL, err, c.arg);
		return;
	}
	if (!qmp_migrate_parse_info(ret, &info)) {
		c.cb(q, NULL, &bad, c.arg);
		return;
	}
	c.cb(q, &info, NULL, c.arg);
}

int
qmp_query_migrate(struct qmp *q, qmp_migration_cb cb, void *arg)
{
	struct query_call *c = malloc(sizeof(*c));

	if (c == NULL)
		return -1;
	c->cb = cb;
	c->arg = arg;
	if (qmp_execute(q, "query-migrate", NULL, on_info, c) != 0) {
		free(c);
		return -1;
	}
	return 0;
}
