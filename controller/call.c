/*
 * The mechanics every operation handler shares: answering, mapping database errors to stable API
 * codes, running SQL on the pool with the call as context, reading arguments, resolving an object
 * and checking the caller's rights on it. A handler is thereby a short chain of steps.
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_ops.h"
#include "call.h"
#include "journal.h"
#include "log.h"
#include "server.h"

/*
 * Finished calls are kept for reuse. A struct call is large (the principal holds up to
 * MAX_GRANTS grants): allocating one per request made glibc consolidate its small-chunk bins
 * every time (a large request), and zeroing a recycled one is cheaper.
 */
#define SPARE_MAX 64
static struct call *spare[SPARE_MAX];
static int nspare;

struct call *
call_new(struct server *srv, const struct op *op, json_t *args)
{
	struct call *c = nspare > 0 ? spare[--nspare] : malloc(sizeof(*c));
	struct timespec now;

	if (c == NULL)
		return NULL;
	memset(c, 0, sizeof(*c));
	clock_gettime(CLOCK_REALTIME, &now);
	c->started = (double)now.tv_sec + now.tv_nsec / 1e9;
	c->srv = srv;
	c->op = op;
	c->args = args;
	srv->inflight++;
	return c;
}

void
call_free(struct call *c)
{
	if (c->state_free != NULL)
		c->state_free(c->state);
	json_decref(c->args);
	json_decref(c->audit_detail);
	free(c->session_cookie);
	free(c->bearer);
	free(c->csrf_header);
	free(c->set_cookie);
	explicit_bzero(&c->who, sizeof(c->who));
	if (nspare < SPARE_MAX)
		spare[nspare++] = c;
	else
		free(c);
}

void
call_reply(struct call *c, json_t *result)
{
	journal_finish(c, API_OK, NULL, result);
}

void
call_fail(struct call *c, enum api_error err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	journal_finish(c, err, msg, NULL);
}

void
call_fail_db(struct call *c, const struct db_result *r)
{
	static const struct {
		const char *state;
		enum api_error err;
	} map[] = {
		{"WRNFD", API_NOT_FOUND}, {"WRCON", API_CONFLICT}, {"WRQUO", API_QUOTA},
		{"WRINV", API_INVALID},	  {"23505", API_CONFLICT}, /* unique violation */
		{"23503", API_CONFLICT},			   /* still referenced */
		{"23514", API_INVALID},				   /* check violation */
		{"22001", API_INVALID},				   /* string too long */
		{"22003", API_INVALID},				   /* numeric out of range */
		{"40001", API_BUSY},				   /* serialization failure */
		{"40P01", API_BUSY},				   /* deadlock */
	};

	switch (r->status) {
	case DB_OK:
		break;
	case DB_UNAVAILABLE:
		call_fail(c, API_UNAVAILABLE, "the database is unavailable; try again shortly");
		return;
	case DB_BUSY:
		call_fail(c, API_BUSY, "the controller is busy; try again shortly");
		return;
	case DB_SQL_ERROR:
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
			if (strcmp(r->sqlstate, map[i].state) != 0)
				continue;
			if (map[i].state[0] == 'W')
				call_fail(c, map[i].err, "%s", r->message);
			else if (strcmp(r->sqlstate, "23505") == 0 && r->message != NULL &&
				 strstr(r->message, "tasks_one_active_per_vserver") != NULL)
				call_fail(c, API_CONFLICT,
					  "another task is still running for this "
					  "vServer");
			else if (strcmp(r->sqlstate, "23503") == 0)
				call_fail(c, API_CONFLICT, "the object is still in use");
			else if (map[i].err == API_CONFLICT)
				call_fail(c, API_CONFLICT,
					  "an object with this name already exists");
			else if (map[i].err == API_BUSY)
				call_fail(c, API_BUSY, "concurrent change; try again");
			else
				call_fail(c, map[i].err, "a value is out of range or malformed");
			return;
		}
		break;
	}
	log_error("op %s by %s: SQL error %s: %s", c->op ? c->op->name : "?",
		  c->who.username[0] ? c->who.username : "-", r->sqlstate ? r->sqlstate : "-",
		  r->message ? r->message : "-");
	call_fail(c, API_INTERNAL, "internal error (logged)");
}

struct sql_step {
	struct call *c;
	call_rows_fn rows;
	call_json_fn json;
};

static void
sql_done(const struct db_result *r, void *p)
{
	struct sql_step *s = p;
	struct call *c = s->c;

	if (r->status != DB_OK) {
		call_fail_db(c, r);
		free(s);
		return;
	}
	if (s->rows != NULL) {
		s->rows(c, r->res);
		free(s);
		return;
	}
	json_t *value = NULL;
	if (call_json_column(c, r->res, 0, &value))
		s->json(c, value);
	free(s);
}

bool
call_json_column(struct call *c, const PGresult *res, int col, json_t **value)
{
	*value = NULL;
	if (PQntuples(res) > 0 && PQnfields(res) > col && !PQgetisnull(res, 0, col)) {
		json_error_t jerr;
		const char *text = PQgetvalue(res, 0, col);
		*value = json_loadb(text, (size_t)PQgetlength(res, 0, col), JSON_DECODE_ANY, &jerr);
		if (*value == NULL) {
			log_error("op %s: database returned malformed JSON: %s", c->op->name,
				  jerr.text);
			call_fail(c, API_INTERNAL, "internal error (logged)");
			return false;
		}
	}
	return true;
}

static void
sql_start(struct call *c, const char *sql, int n, const char *const *params, call_rows_fn rows,
	  call_json_fn json)
{
	struct sql_step *s = malloc(sizeof(*s));

	if (s == NULL) {
		call_fail(c, API_BUSY, "out of memory");
		return;
	}
	s->c = c;
	s->rows = rows;
	s->json = json;
	db_query(c->srv->db, sql, n, params, sql_done, s);
}

void
call_sql(struct call *c, const char *sql, int n, const char *const *params, call_rows_fn next)
{
	sql_start(c, sql, n, params, next, NULL);
}

void
call_sql_json(struct call *c, const char *sql, int n, const char *const *params, call_json_fn next)
{
	sql_start(c, sql, n, params, NULL, next);
}

void
call_sql_json_id(struct call *c, const char *sql, int64_t id, call_json_fn next)
{
	char buf[24];
	const char *params[] = {call_i64(buf, id)};

	call_sql_json(c, sql, 1, params, next);
}

const char *
call_arg_str(struct call *c, const char *name)
{
	json_t *v = json_object_get(c->args, name);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

bool
call_arg_has(struct call *c, const char *name)
{
	return json_object_get(c->args, name) != NULL;
}

int64_t
call_arg_int(struct call *c, const char *name, int64_t def)
{
	json_t *v = json_object_get(c->args, name);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

bool
call_arg_bool(struct call *c, const char *name, bool def)
{
	json_t *v = json_object_get(c->args, name);
	return json_is_boolean(v) ? json_is_true(v) : def;
}

const char *
call_arg_text(struct call *c, const char *name, char *buf, size_t len)
{
	json_t *v = json_object_get(c->args, name);

	if (v == NULL || json_is_null(v))
		return NULL;
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	}
	if (json_is_boolean(v))
		return json_is_true(v) ? "true" : "false";
	if (json_is_array(v)) {
		/* Arrays of enum strings become a PostgreSQL text[] literal; entries are plain
		 * words. */
		size_t i, used = 0;
		json_t *e;
		used += (size_t)snprintf(buf + used, len - used, "{");
		json_array_foreach (v, i, e) {
			if (used >= len)
				break;
			used += (size_t)snprintf(buf + used, len - used, "%s\"%s\"", i ? "," : "",
						 json_string_value(e));
		}
		if (used < len)
			snprintf(buf + used, len - used, "}");
		return buf;
	}
	return NULL;
}

const char *
call_i64(char buf[24], int64_t v)
{
	snprintf(buf, 24, "%" PRId64, v);
	return buf;
}

const char *
call_path_text(const int64_t *path, size_t n, char *buf, size_t len)
{
	size_t used = (size_t)snprintf(buf, len, "{");

	for (size_t i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%" PRId64, i ? "," : "",
					 path[i]);
	if (used < len)
		snprintf(buf + used, len - used, "}");
	return buf;
}

bool
call_parse_path(const char *text, int64_t *path, size_t *n)
{
	/* PostgreSQL's text form of bigint[]: {1,2,3} */
	const char *p = text;
	size_t k = 0;

	if (*p++ != '{')
		return false;
	while (*p != '}') {
		char *end;
		long long v = strtoll(p, &end, 10);
		if (end == p || k >= MAX_PATH)
			return false;
		path[k++] = v;
		p = end;
		if (*p == ',')
			p++;
		else if (*p != '}')
			return false;
	}
	*n = k;
	return true;
}

uint32_t
call_privs(const struct call *c, const int64_t *path, size_t n, int64_t vdc, int64_t vserver)
{
	struct target t = {.path = path, .path_len = n, .vdc_id = vdc, .vserver_id = vserver};
	return rights_effective(c->who.grants, c->who.ngrants, &t, c->who.token_mask);
}

json_t *
call_filter_list(struct call *c, json_t *items, uint32_t need)
{
	json_t *out = json_array();
	size_t i;
	json_t *e;

	if (!json_is_array(items))
		return out;
	json_array_foreach (items, i, e) {
		json_t *scope = json_object_get(e, "_scope");
		int64_t path[MAX_PATH];
		size_t n = 0;
		json_t *jp = json_object_get(scope, "path");
		size_t k;
		json_t *pe;
		json_array_foreach (jp, k, pe) {
			if (n < MAX_PATH)
				path[n++] = json_integer_value(pe);
		}
		int64_t vdc = json_integer_value(json_object_get(scope, "vdc"));
		int64_t vs = json_integer_value(json_object_get(scope, "vserver"));
		int64_t owner = json_integer_value(json_object_get(scope, "user"));
		uint32_t privs = call_privs(c, path, n, vdc, vs);
		bool self = owner != 0 && owner == c->who.user_id;
		if ((privs & need) != 0 || self) {
			json_object_del(e, "_scope");
			json_array_append(out, e);
		}
	}
	json_decref(items);
	return out;
}

static void
append_id(char *buf, size_t len, int64_t id)
{
	size_t used = strlen(buf);

	if (used + 24 < len)
		snprintf(buf + used, len - used, "%s%" PRId64, used > 1 ? "," : "", id);
}

bool
call_scopes_with(const struct call *c, uint32_t priv, char *accounts, char *vdcs, char *vservers,
		 size_t len)
{
	bool any = false;

	snprintf(accounts, len, "{");
	snprintf(vdcs, len, "{");
	snprintf(vservers, len, "{");
	if ((c->who.token_mask & priv) == 0)
		goto out;
	for (size_t i = 0; i < c->who.ngrants; i++) {
		const struct grant *g = &c->who.grants[i];
		if ((rights_role_privs(g->role) & priv) == 0)
			continue;
		any = true;
		append_id(g->scope_type == SCOPE_ACCOUNT ? accounts
			  : g->scope_type == SCOPE_VDC	 ? vdcs
							 : vservers,
			  len, g->scope_id);
	}
out:
	strncat(accounts, "}", len - strlen(accounts) - 1);
	strncat(vdcs, "}", len - strlen(vdcs) - 1);
	strncat(vservers, "}", len - strlen(vservers) - 1);
	return any;
}
