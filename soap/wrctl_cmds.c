/*
 * The commands of wrctl (see wrctl_cmds.h). An alias is only data: which operation, which
 * parameters its positional words fill, defaults and table columns. There is one code path for
 * aliases and plain operations, so "wrctl start web1" and "wrctl vserver-start --id web1" do
 * exactly the same thing, and an operation added to the server is a command at once.
 *
 * Names instead of ids: an integer parameter that names an object (id of a vserver-* operation,
 * vserver_id, node_id, iso_id, user_id, account_id, vdc_id, scope_id after scope_type, id after
 * kind) takes a name, looked up with the object's list operation, that is with the caller's own
 * rights: another tenant's vServer is "not found" by name exactly as by id.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wrctl.h"
#include "wrctl_args.h"
#include "wrctl_cmds.h"
#include "wrctl_config.h"
#include "wrctl_http.h"
#include "wrctl_output.h"
#include "wrctl_progress.h"
#include "wrctl_screenshot.h"

#define POSITIONAL_MAX 16

#define VS_COLUMNS "id,name,state,cores,ram_mb,disk_gb,node,iso"

const struct wrctl_alias wrctl_aliases[] = {
	{"list", "vserver-list", "", NULL, VS_COLUMNS, 0, ""},
	{"info", "vserver-get", "id", NULL, NULL, 0, "VS"},
	{"create", "vserver-create", "name", NULL, NULL, ALIAS_OWN_ACCOUNT,
	 "NAME --cores N --ram-mb N --disk-gb N"},
	{"start", "vserver-start", "id", NULL, NULL, 0, "VS"},
	{"shutdown", "vserver-shutdown", "id", NULL, NULL, 0, "VS [--timeout S]"},
	{"stop", "vserver-stop", "id", NULL, NULL, 0, "VS"},
	{"destroy", "vserver-stop", "id", NULL, NULL, 0, "VS"},
	{"reset", "vserver-reset", "id", NULL, NULL, 0, "VS"},
	{"pause", "vserver-pause", "id", NULL, NULL, 0, "VS"},
	{"resume", "vserver-resume", "id", NULL, NULL, 0, "VS"},
	{"park", "vserver-park", "id", NULL, NULL, 0, "VS"},
	{"unpark", "vserver-unpark", "id", NULL, NULL, 0, "VS"},
	{"resize", "vserver-resize", "id", NULL, NULL, 0,
	 "VS [--cores N] [--ram-mb N] [--disk-gb N]"},
	{"delete", "vserver-delete", "id", NULL, NULL, 0, "VS"},
	{"attach-iso", "vserver-attach-iso", "id,iso_id", NULL, NULL, 0, "VS ISO"},
	{"detach-iso", "vserver-detach-iso", "id", NULL, NULL, 0, "VS"},
	{"migrate", "vserver-migrate", "id,node_id", NULL, NULL, 0, "VS [NODE]"},
	{"migrate-cancel", "vserver-migrate-cancel", "id", NULL, NULL, 0, "VS"},
	{"isos", "iso-list", "", NULL, NULL, 0, ""},
	{"nodes", "node-list", "", NULL,
	 "id,name,state,dedicated,used_cores,ram_mb,accel,maintenance,reserve", 0, ""},
	{"node-info", "node-get", "id", NULL, NULL, 0, "NODE"},
	{"tasks", "task-list", "", NULL,
	 "id,action,object_type,object_name,username,status,started_at,info", 0, ""},
	{"task", "task-get", "id", NULL, NULL, 0, "ID"},
	{"accounts", "account-list", "", NULL, NULL, 0, ""},
	{"users", "user-list", "", NULL, NULL, 0, ""},
	{"grant", "grant", "user_id,scope_type,scope_id,role", NULL, NULL, 0,
	 "USER SCOPE_TYPE SCOPE ROLE"},
	{"revoke", "revoke", "id", NULL, NULL, 0, "GRANT_ID"},
	{"token", "token-create", "name", NULL, NULL, 0, "NAME [--expires-days N]"},
	{"whoami", "whoami", "", NULL, NULL, 0, ""},
	{"ip", "vserver-ips", "id", NULL, NULL, 0, "VS"},
	{"stats", "stats-get", "id", "kind=vserver", NULL, 0, "VS [--metric M] [--range R]"},
	{"console", "vserver-console-ticket", "id", NULL, NULL, ALIAS_CONSOLE, "VS"},
	{"screenshot", "vserver-console-ticket", "id", NULL, NULL, ALIAS_SCREENSHOT, "VS OUT.png"},
	{NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

const struct wrctl_alias *
wrctl_alias_find(const char *name)
{
	for (const struct wrctl_alias *a = wrctl_aliases; a->name != NULL; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

size_t
wrctl_cmd_positional(const struct wrctl_alias *alias, const struct wrctl_op *op, const char **names,
		     size_t max, char *buf, size_t buflen)
{
	size_t n = 0;

	if (alias != NULL && alias->positional != NULL) {
		snprintf(buf, buflen, "%s", alias->positional);
		for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && n + 1 < max;
		     t = strtok_r(NULL, ",", &save))
			names[n++] = t;
	} else if (op != NULL) {
		for (const struct param *p = op->params; p->name != NULL && n + 1 < max; p++)
			if (p->required)
				names[n++] = p->name;
	}
	names[n] = NULL;
	return n;
}

/* ---- names to ids ------------------------------------------------------------------------- */

struct kind {
	const char *kind, *list_op, *field, *label;
};

static const struct kind kinds[] = {
	{"vserver", "vserver-list", "name", "vServer"}, {"node", "node-list", "name", "node"},
	{"iso", "iso-list", "name", "ISO image"},	{"user", "user-list", "username", "user"},
	{"account", "account-list", "name", "account"}, {"vdc", "vdc-list", "name", "vDataCenter"},
};

static const struct kind *
kind_named(const char *name, size_t len)
{
	for (size_t i = 0; name && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strlen(kinds[i].kind) == len && strncmp(kinds[i].kind, name, len) == 0)
			return &kinds[i];
	return NULL;
}

struct resolve_ctx {
	struct wrctl_ctx *ctx;
	const struct wrctl_op *op;
	json_t *args; /* parsed so far: scope_type / kind pick the kind of scope_id / id */
};

static const struct kind *
kind_of(const struct resolve_ctx *rc, const char *param)
{
	size_t len = strlen(param);
	const char *picked;

	if (strcmp(param, "scope_id") == 0) {
		picked = json_string_value(json_object_get(rc->args, "scope_type"));
		return picked ? kind_named(picked, strlen(picked)) : NULL;
	}
	if (strcmp(param, "id") == 0) {
		picked = json_string_value(json_object_get(rc->args, "kind"));
		if (picked != NULL)
			return kind_named(picked, strlen(picked));
		/* "vserver-get" -> vserver; "task-get" -> none (tasks have no names) */
		return kind_named(rc->op->name, strcspn(rc->op->name, "-"));
	}
	if (len > 3 && strcmp(param + len - 3, "_id") == 0)
		return kind_named(param, len - 3);
	return NULL;
}

static bool
is_integer_text(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static int
resolve_name(void *arg, const struct param *p, const char *text, json_t **out, char *why,
	     size_t whylen)
{
	struct resolve_ctx *rc = arg;
	const struct kind *k;
	struct wrctl_reply r;

	if (p->type != PARAM_INT || is_integer_text(text) || (p->nullable && !strcmp(text, "null")))
		return 0;
	k = kind_of(rc, p->name);
	if (k == NULL || wrctl_ops_find(rc->ctx->ops, k->list_op) == NULL)
		return 0; /* the type mapping reports "must be an integer" */
	json_t *args = json_object();
	wrctl_http_call(rc->ctx->http, k->list_op, args, &r);
	json_decref(args);
	if (r.exit != WRCTL_OK) {
		snprintf(why, whylen, "cannot look up %s '%s': %s: %s", k->label, text, r.code,
			 r.message);
		int code = r.exit;
		wrctl_reply_clear(&r);
		return code;
	}
	size_t i, matches = 0;
	json_t *item, *id = NULL;
	json_array_foreach (json_object_get(r.result, "items"), i, item) {
		const char *name = json_string_value(json_object_get(item, k->field));
		if (name != NULL && strcmp(name, text) == 0) {
			matches++;
			id = json_object_get(item, "id");
		}
	}
	int code = WRCTL_OK;
	if (matches == 0) {
		snprintf(why, whylen, "no %s named '%.64s'", k->label, text);
		code = WRCTL_NOT_FOUND;
	} else if (matches > 1) {
		snprintf(why, whylen, "%zu %ss are named '%.64s': give the id", matches, k->label,
			 text);
		code = WRCTL_INVALID;
	} else if (!json_is_integer(id)) {
		snprintf(why, whylen, "the %s list has no id for '%.64s'", k->label, text);
		code = WRCTL_INTERNAL;
	} else {
		*out = json_integer(json_integer_value(id));
	}
	wrctl_reply_clear(&r);
	return code == WRCTL_OK ? 1 : code;
}

/* ---- running a command -------------------------------------------------------------------- */

/* Options of wrctl itself that may follow the command, unless the operation has such a
 * parameter. Removes them from argv (in place); returns the new argc or -1 (why filled). */
static int
take_run_options(struct wrctl_ctx *ctx, const struct wrctl_op *op, int argc, char **argv, char *why,
		 size_t whylen)
{
	int n = 0;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;
		if (strcmp(a, "--") == 0) {
			while (i < argc)
				argv[n++] = argv[i++];
			break;
		}
		if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) &&
		    wrctl_op_param(op, "output") == NULL) {
			val = i + 1 < argc ? argv[++i] : "";
		} else if (strncmp(a, "--output=", 9) == 0 &&
			   wrctl_op_param(op, "output") == NULL) {
			val = a + 9;
		} else if (strcmp(a, "--no-wait") == 0 && wrctl_op_param(op, "no_wait") == NULL) {
			ctx->no_wait = true;
			continue;
		} else if (strcmp(a, "--wait-timeout") == 0 &&
			   wrctl_op_param(op, "wait_timeout") == NULL) {
			long long t = i + 1 < argc ? atoll(argv[++i]) : 0;
			if (t < 1) {
				snprintf(why, whylen, "--wait-timeout needs a number of seconds");
				return -1;
			}
			ctx->cfg->wait_timeout = t;
			continue;
		} else {
			argv[n++] = argv[i];
			continue;
		}
		if (strcmp(val, "table") == 0) {
			ctx->cfg->output = WRCTL_OUT_TABLE;
		} else if (strcmp(val, "json") == 0) {
			ctx->cfg->output = WRCTL_OUT_JSON;
		} else {
			snprintf(why, whylen, "--output takes table or json");
			return -1;
		}
	}
	return n;
}

static int
apply_defaults(const struct wrctl_alias *alias, const struct wrctl_op *op, json_t *args, char *why,
	       size_t whylen)
{
	char buf[256];

	if (alias == NULL || alias->defaults == NULL)
		return WRCTL_OK;
	snprintf(buf, sizeof(buf), "%s", alias->defaults);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		const struct param *p = wrctl_op_param(op, t);
		if (p == NULL)
			continue; /* the server dropped it: leave it to the server */
		json_t *v = wrctl_args_value(p, eq + 1, NULL, why, whylen);
		if (v == NULL)
			return WRCTL_INTERNAL;
		json_object_set_new(args, p->name, v);
	}
	return WRCTL_OK;
}

/* account_id of the caller, for "wrctl create NAME ..." without --account-id. */
static int
own_account(struct wrctl_ctx *ctx, json_t *args)
{
	struct wrctl_reply r;
	json_t *none = json_object();

	wrctl_http_call(ctx->http, "whoami", none, &r);
	json_decref(none);
	if (r.exit != WRCTL_OK) {
		wrctl_warn("%s: %s", r.code, r.message);
		int code = r.exit;
		wrctl_reply_clear(&r);
		return code;
	}
	json_t *id = json_object_get(json_object_get(r.result, "user"), "account_id");
	if (json_is_integer(id))
		json_object_set_new(args, "account_id", json_integer(json_integer_value(id)));
	wrctl_reply_clear(&r);
	return WRCTL_OK;
}

static void
print_console(struct wrctl_ctx *ctx, const json_t *t)
{
	char port[32];

	wrctl_output_scalar(json_object_get(t, "vencrypt_port"), port, sizeof(port));
	fprintf(ctx->out, "browser:   %s\n", json_string_value(json_object_get(t, "url")) ?: "-");
	fprintf(ctx->out, "vencrypt:  %s:%s\n",
		json_string_value(json_object_get(t, "vencrypt_host")) ?: "-", port);
	fprintf(ctx->out, "password:  %s\n",
		json_string_value(json_object_get(t, "ticket")) ?: "-");
	fprintf(ctx->out, "expires:   in %lld s, valid once\n",
		(long long)json_integer_value(json_object_get(t, "expires_in")));
}

/* The answer of a long operation: {task_id, status} (and nothing that is an object). */
static bool
is_task_answer(const json_t *result, long long *id)
{
	json_t *tid = json_object_get(result, "task_id");

	if (!json_is_integer(tid) || !json_is_string(json_object_get(result, "status")))
		return false;
	*id = json_integer_value(tid);
	return true;
}

static int
finish(struct wrctl_ctx *ctx, const struct wrctl_alias *alias, json_t *result, const char *png_path)
{
	long long tid;

	if (alias != NULL && (alias->flags & ALIAS_SCREENSHOT)) {
		int rc = wrctl_screenshot(ctx->cfg, result, png_path);
		if (rc == WRCTL_OK)
			fprintf(ctx->err, "wrote %s\n", png_path);
		return rc;
	}

	if (!ctx->no_wait && is_task_answer(result, &tid)) {
		struct wrctl_reply r = {0};
		json_t *task = NULL;
		int rc = wrctl_progress_wait(ctx->http, ctx->ops, tid, ctx->cfg->wait_timeout,
					     ctx->err, ctx->tty, &task, &r);
		if (task != NULL && (rc == WRCTL_OK || rc == WRCTL_TASK_FAILED))
			wrctl_output_result(ctx->out, task, ctx->cfg->output, NULL);
		if (rc == WRCTL_TASK_FAILED) {
			const char *info = json_string_value(json_object_get(task, "info"));
			wrctl_warn("task %lld failed: %s", tid, info ? info : "(no reason given)");
		} else if (rc != WRCTL_OK) {
			wrctl_warn("%s: %s", r.code, r.message);
		}
		json_decref(task);
		wrctl_reply_clear(&r);
		return rc;
	}
	if (alias != NULL && (alias->flags & ALIAS_CONSOLE) && ctx->cfg->output == WRCTL_OUT_TABLE)
		print_console(ctx, result);
	else
		wrctl_output_result(ctx->out, result, ctx->cfg->output,
				    alias ? alias->columns : NULL);
	return WRCTL_OK;
}

int
wrctl_cmd_run(struct wrctl_ctx *ctx, const char *command, int argc, char **argv)
{
	const struct wrctl_alias *alias = wrctl_alias_find(command);
	const char *opname = alias ? alias->op : command;
	const struct wrctl_op *op = wrctl_ops_find(ctx->ops, opname);
	const char *positional[POSITIONAL_MAX];
	char why[1024] = "", posbuf[512];
	struct wrctl_reply r = {0};
	int rc;

	if (op == NULL) {
		if (alias != NULL)
			wrctl_warn("'%s' needs the operation %s, which this controller does not "
				   "have",
				   command, opname);
		else
			wrctl_warn("unknown command '%s' (wrctl --help lists them)", command);
		return WRCTL_USAGE;
	}
	argc = take_run_options(ctx, op, argc, argv, why, sizeof(why));
	if (argc < 0) {
		wrctl_warn("%s", why);
		return WRCTL_USAGE;
	}
	/* screenshot VS OUT.png: the last word is the file, not a parameter */
	const char *png_path = NULL;
	if (alias != NULL && (alias->flags & ALIAS_SCREENSHOT)) {
		if (argc < 2 || argv[argc - 1][0] == '-') {
			wrctl_warn("usage: wrctl screenshot VS OUT.png");
			return WRCTL_USAGE;
		}
		png_path = argv[--argc];
	}
	wrctl_cmd_positional(alias, op, positional, POSITIONAL_MAX, posbuf, sizeof(posbuf));

	json_t *args = json_object();
	struct resolve_ctx rctx = {ctx, op, args};
	struct wrctl_args_ctx actx = {resolve_name, &rctx, NULL};
	rc = apply_defaults(alias, op, args, why, sizeof(why));
	if (rc == WRCTL_OK)
		rc = wrctl_args_parse(op->params, positional, argc, argv, &actx, args, why,
				      sizeof(why));
	if (rc == WRCTL_OK && alias != NULL && (alias->flags & ALIAS_OWN_ACCOUNT) &&
	    json_object_get(args, "account_id") == NULL && wrctl_op_param(op, "account_id")) {
		rc = own_account(ctx, args);
		why[0] = '\0';
	}
	if (rc == WRCTL_OK)
		rc = wrctl_args_check(op->params, args, why, sizeof(why));
	if (rc != WRCTL_OK) {
		if (why[0] != '\0' && (rc == WRCTL_USAGE || rc == WRCTL_INVALID))
			wrctl_warn("%s (wrctl help %s)", why, command);
		else if (why[0] != '\0')
			wrctl_warn("%s", why);
		json_decref(args);
		return rc;
	}
	wrctl_http_call(ctx->http, op->name, args, &r);
	json_decref(args);
	if (r.exit != WRCTL_OK) {
		wrctl_warn("%s: %s", r.code, r.message);
		rc = r.exit;
	} else {
		rc = finish(ctx, alias, r.result, png_path);
	}
	wrctl_reply_clear(&r);
	return rc;
}
