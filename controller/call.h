/*
 * One API call on its way through webrackd: the request, its validated arguments, the
 * authenticated principal, the object it acts on, and the helpers with which operation handlers
 * query the database and answer. Bindings (JSON now, SOAP later) create calls; handlers never see
 * HTTP.
 */
#ifndef WEBRACK_CALL_H
#define WEBRACK_CALL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "db.h"
#include "rights.h"

struct server;
struct call;
struct op;

enum api_error {
	API_OK = 0,
	API_INVALID,
	API_UNAUTHENTICATED,
	API_DENIED,
	API_NOT_FOUND,
	API_CONFLICT,
	API_QUOTA,
	API_TOO_LARGE,
	API_THROTTLED,
	API_BUSY,
	API_UNAVAILABLE,
	API_INTERNAL,
};

/* AUTH_PASSWORD: a SOAP request carrying a WS-Security UsernameToken (password per request). */
enum auth_kind { AUTH_NONE, AUTH_SESSION, AUTH_TOKEN, AUTH_PASSWORD };

#define MAX_GRANTS 256
#define MAX_PATH   16

/* Who is calling. Filled from the session or token row, never from the request body. */
struct principal {
	enum auth_kind kind;
	int64_t user_id;
	char username[65];
	int64_t account_id;
	int64_t path[MAX_PATH];
	size_t path_len;
	struct grant grants[MAX_GRANTS];
	size_t ngrants;
	uint32_t token_mask; /* PRIV_ALL for sessions */
	int64_t session_id;
	int64_t token_id;
	bool mfa_pending;
	bool enrol_only;
	bool totp_enabled;
	char csrf[64];
};

/* An object resolved for a rights check; also the scope a task/audit row is filed under. */
struct subject {
	const char *type; /* "account", "user", "vserver", ... */
	int64_t id;
	char name[129];
	int64_t path[MAX_PATH];
	size_t path_len;
	int64_t vdc_id;
	int64_t vserver_id;
	int64_t owner_user_id; /* users: the user itself; tokens: the owner */
	uint32_t privs;	       /* the caller's effective privileges on it */
	bool set;
};

typedef void (*call_done_fn)(struct call *c);
typedef void (*call_rows_fn)(struct call *c, const PGresult *res);
typedef void (*call_json_fn)(struct call *c, json_t *value);

/* Owner: the binding that created it; freed by call_finish() after the reply. */
struct call {
	struct server *srv;
	const struct op *op;
	json_t *args;
	struct principal who;
	struct subject subject;
	char client_ip[64];
	char *session_cookie; /* raw cookie value presented, if any */
	char *bearer;	      /* raw bearer token presented, if any */
	char *csrf_header;
	double started;	  /* CLOCK_REALTIME seconds */
	char *set_cookie; /* Set-Cookie the binding must send */
	void *state;	  /* handler's own data, freed by state_free */
	void (*state_free)(void *);
	void *binding; /* the binding's request */
	void (*respond)(struct call *c, enum api_error err, const char *message, json_t *result);
	json_t *audit_detail;
	bool own_task; /* the handler queued a lifecycle task: no journal row of its own */
	struct {
		const void *kind;
		uint32_t need;
		call_done_fn next;
		call_json_fn fetched; /* call_resolve_fetch(): gets the object's JSON */
		const PGresult *row;  /* ... and may read the statement's row meanwhile */
		uint64_t cache_gen;   /* the vServer cache's generation when the read started */
		double cache_sent;    /* when it started (CLOCK_MONOTONIC seconds) */
	} resolving;		      /* call_resolve() in flight */
	struct {
		bool cacheable; /* store the principal the lookup finds */
		uint64_t gen;	/* the auth cache's generation when the lookup started */
		char key[65];	/* SHA-256 of the token, hex */
	} auth;
};

/*
 * A new call of op with its schema-checked args (owned by the call from now on), counted in
 * flight; NULL when out of memory (args then stay the caller's). The binding fills client_ip,
 * credentials, binding and respond.
 */
struct call *call_new(struct server *srv, const struct op *op, json_t *args);
/* Release a call once its answer is on the way; the binding's respond() calls it. */
void call_free(struct call *c);

/* Answer the call (takes ownership of result) and end it. */
void call_reply(struct call *c, json_t *result);
void call_fail(struct call *c, enum api_error err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void call_fail_db(struct call *c, const struct db_result *r);

/*
 * Run one statement; next runs only on success, any failure answers the call. call_sql_json
 * expects at most one row with one json column and passes it parsed (NULL for no row).
 */
void call_sql(struct call *c, const char *sql, int n, const char *const *params, call_rows_fn next);
void call_sql_json(struct call *c, const char *sql, int n, const char *const *params,
		   call_json_fn next);

/*
 * Column col of the first row as JSON into *value (NULL for no row or SQL NULL). False when it
 * is malformed: then the call has been answered (internal error, logged).
 */
bool call_json_column(struct call *c, const PGresult *res, int col, json_t **value)
	__attribute__((warn_unused_result));

/* The most common statement: one whose only parameter $1 is an object id. */
void call_sql_json_id(struct call *c, const char *sql, int64_t id, call_json_fn next);

/* Arguments, already schema-checked. */
const char *call_arg_str(struct call *c, const char *name); /* NULL if absent or null */
bool call_arg_has(struct call *c, const char *name);
int64_t call_arg_int(struct call *c, const char *name, int64_t def);
bool call_arg_bool(struct call *c, const char *name, bool def);
/* Argument as PostgreSQL text parameter into buf (NULL for absent/null). */
const char *call_arg_text(struct call *c, const char *name, char *buf, size_t len);

/* Helpers for numbers as query parameters. */
const char *call_i64(char buf[24], int64_t v);
const char *call_path_text(const int64_t *path, size_t n, char *buf, size_t len);
bool call_parse_path(const char *text, int64_t *path, size_t *n);

/*
 * Resolve an object of a kind ("account", "user", "vserver", "vdc", "grant", "token", "task")
 * into c->subject and check privileges: invisible → not_found, visible without `need` → denied.
 */
void call_resolve(struct call *c, const char *kind, int64_t id, uint32_t need, call_done_fn next);

/*
 * call_resolve() and the read of the object in one statement (one round trip, one snapshot):
 * sql's first five columns are those of the kind's resolve query (RESOLVE_<KIND>_COLS, FROM
 * RESOLVE_<KIND>_FROM, whose $1 is the id), the sixth the object as a JSON object, and any
 * further column (JSON) becomes a member of it named by the column (except names starting with
 * '_', which next may read from c->resolving.row while it runs); params[0] is ignored
 * (the id goes there). next gets the JSON only when the rights check passed; a missing or
 * invisible object is not_found exactly as with call_resolve().
 */
void call_resolve_fetch(struct call *c, const char *kind, int64_t id, uint32_t need,
			const char *sql, int n, const char **params, call_json_fn next);

/*
 * The rights check of call_resolve() on a subject resolved earlier (s: as c->subject was after
 * a resolve of kind; its privs are computed again for this caller). True when the caller may go
 * on; otherwise the call has been answered (not_found or denied, the same words).
 */
bool call_resolved_from(struct call *c, const char *kind, const struct subject *s, uint32_t need)
	__attribute__((warn_unused_result));

/* The vserver kind's resolve query, for call_resolve_fetch() statements. */
#define RESOLVE_VSERVER_COLS "a.path, coalesce(v.vdc_id, 0), v.id, v.name, 0"
#define RESOLVE_VSERVER_FROM "vservers v JOIN accounts a ON a.id = v.account_id WHERE v.id = $1"

/* The caller's privileges on an object placed at (path, vdc, vserver). */
uint32_t call_privs(const struct call *c, const int64_t *path, size_t n, int64_t vdc,
		    int64_t vserver);

/*
 * The scopes on which the caller holds priv, as PostgreSQL bigint[] literals (account, vdc and
 * vserver ids), so that a log query can narrow to exactly those rows and page in SQL. Returns
 * false when there is none.
 */
bool call_scopes_with(const struct call *c, uint32_t priv, char *accounts, char *vdcs,
		      char *vservers, size_t len);

/*
 * Filter a list of objects by rights: every element carries "_scope": {path, vdc, vserver,
 * user}; kept when keep(privs, element) says so, and "_scope" is removed.
 */
json_t *call_filter_list(struct call *c, json_t *items, uint32_t need);

#endif
