/*
 * The operation description and its cache. The cache is only a speed-up: it is keyed by the
 * controller URL, written atomically (temporary file + rename) with mode 0600, trusted for
 * CACHE_SECONDS, and refetched whenever it is stale, unreadable or malformed. A stale entry is
 * never used against a reachable server, so a new operation shows up within minutes at most
 * (at once with --refresh).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "schema_json.h"
#include "wrctl.h"
#include "wrctl_config.h"
#include "wrctl_describe.h"
#include "wrctl_http.h"

#define CACHE_SECONDS 300 /* the server's Cache-Control max-age */
#define OPS_MAX	      4096

static void
op_free(struct wrctl_op *op)
{
	free(op->name);
	free(op->summary);
	free(op->result);
	schema_params_free(op->params);
}

void
wrctl_ops_free(struct wrctl_ops *ops)
{
	for (size_t i = 0; i < ops->n; i++)
		op_free(&ops->ops[i]);
	free(ops->ops);
	ops->ops = NULL;
	ops->n = 0;
}

static char *
dup_field(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return strdup(s ? s : "");
}

bool
wrctl_ops_from_json(const json_t *desc, struct wrctl_ops *out, char *why, size_t whylen)
{
	const json_t *arr = json_object_get(desc, "ops");
	size_t n = json_array_size(arr);

	memset(out, 0, sizeof(*out));
	if (!json_is_array(arr) || n == 0 || n > OPS_MAX) {
		snprintf(why, whylen, "the description has no list of operations");
		return false;
	}
	out->ops = calloc(n, sizeof(*out->ops));
	if (out->ops == NULL) {
		snprintf(why, whylen, "out of memory");
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *o = json_array_get(arr, i);
		const char *name = json_string_value(json_object_get(o, "name"));
		struct wrctl_op *op = &out->ops[out->n];

		if (name == NULL || *name == '\0') {
			snprintf(why, whylen, "operation %zu has no name", i);
			goto fail;
		}
		op->params = schema_params_from_json(json_object_get(o, "params"), why, whylen);
		if (op->params == NULL)
			goto fail;
		out->n++;
		op->name = strdup(name);
		op->summary = dup_field(o, "summary");
		op->result = dup_field(o, "result");
		op->mutates = json_is_true(json_object_get(o, "mutates"));
		op->public_op = json_is_true(json_object_get(o, "public"));
		if (op->name == NULL || op->summary == NULL || op->result == NULL) {
			snprintf(why, whylen, "out of memory");
			goto fail;
		}
	}
	return true;
fail:
	wrctl_ops_free(out);
	return false;
}

const struct wrctl_op *
wrctl_ops_find(const struct wrctl_ops *ops, const char *name)
{
	for (size_t i = 0; i < ops->n; i++)
		if (strcmp(ops->ops[i].name, name) == 0)
			return &ops->ops[i];
	return NULL;
}

const struct param *
wrctl_op_param(const struct wrctl_op *op, const char *name)
{
	for (const struct param *p = op->params; p->name != NULL; p++)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

/* FNV-1a: names the cache file after the URL (not a security measure). */
static unsigned long long
url_hash(const char *s)
{
	unsigned long long h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static bool
cache_path(const struct wrctl_config *cfg, char *buf, size_t len, char *dir, size_t dirlen)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");

	if (xdg != NULL && *xdg == '/')
		snprintf(dir, dirlen, "%s/webrack", xdg);
	else if (home != NULL && *home == '/')
		snprintf(dir, dirlen, "%s/.cache/webrack", home);
	else
		return false;
	snprintf(buf, len, "%s/wrctl-ops-%016llx.json", dir, url_hash(cfg->url ? cfg->url : ""));
	return true;
}

static json_t *
cache_read(const char *path, bool any_age)
{
	struct stat st;
	json_error_t jerr;

	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return NULL;
	if (!any_age && (time(NULL) - st.st_mtime > CACHE_SECONDS || st.st_mtime > time(NULL)))
		return NULL;
	return json_load_file(path, 0, &jerr);
}

static void
cache_write(const char *dir, const char *path, const json_t *desc)
{
	char tmp[1300], parent[1100];

	/* ~/.cache may not exist yet: create it and webrack/ below it, private. */
	snprintf(parent, sizeof(parent), "%s", dir);
	char *slash = strrchr(parent, '/');
	if (slash != NULL && slash != parent) {
		*slash = '\0';
		(void)mkdir(parent, 0700);
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return;
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	bool ok = json_dumpfd(desc, fd, JSON_COMPACT) == 0;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) != 0)
		unlink(tmp);
}

bool
wrctl_ops_load(struct wrctl_http *h, const struct wrctl_config *cfg, bool refresh, bool offline,
	       struct wrctl_ops *out, struct wrctl_reply *r)
{
	char path[1200], dir[1100], why[256];
	bool have_path = cache_path(cfg, path, sizeof(path), dir, sizeof(dir));
	json_t *desc = NULL;

	if (have_path && !refresh) {
		desc = cache_read(path, offline);
		if (desc != NULL && wrctl_ops_from_json(desc, out, why, sizeof(why))) {
			json_decref(desc);
			return true;
		}
		json_decref(desc);
	}
	if (offline) {
		wrctl_reply_fail(r, "local", "no cached operation table");
		return false;
	}
	if (!wrctl_http_get_json(h, "/api/v1/", &desc, r))
		return false;
	if (!wrctl_ops_from_json(desc, out, why, sizeof(why))) {
		json_decref(desc);
		wrctl_reply_fail(r, "internal", "the server's operation table is malformed: %s",
				 why);
		return false;
	}
	if (have_path)
		cache_write(dir, path, desc);
	json_decref(desc);
	return true;
}
