/*
 * The ISO library: *.iso files in iso_dir (the same path on every node: shared storage),
 * registered by the provider with iso-rescan, public or owned by one account, and attached to a
 * vServer's CD-ROM drive (live when it runs, through the lifecycle engine).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "ops.h"
#include "server.h"

#define ISO_MAX_FILES 10000

static bool
iso_name_ok(const char *n)
{
	size_t len = strlen(n);

	if (len < 5 || len > 128 || strcmp(n + len - 4, ".iso") != 0 || n[0] == '.')
		return false;
	return strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
	       len;
}

static void
rescanned(struct call *c, json_t *result)
{
	call_reply(c, result ? result : json_object());
}

void
op_iso_rescan(struct call *c)
{
	static const char sql[] =
		"WITH f AS (SELECT x->>'name' AS name, x->>'path' AS path, (x->>'size')::bigint AS "
		"size FROM jsonb_array_elements($1::jsonb) x), "
		"gone AS (DELETE FROM isos WHERE path NOT IN (SELECT path FROM f) RETURNING id), "
		"up AS (INSERT INTO isos (name, path, size_bytes) SELECT name, path, size FROM f "
		"ON CONFLICT (path) DO UPDATE SET size_bytes = EXCLUDED.size_bytes RETURNING id) "
		"SELECT json_build_object('registered', (SELECT count(*) FROM up), 'removed', "
		"(SELECT count(*) FROM gone))";
	int64_t root = c->who.path[0];
	const char *dir = c->srv->settings.iso_dir;
	DIR *d;
	struct dirent *e;
	json_t *files = json_array();

	if ((call_privs(c, &root, 1, 0, 0) & PRIV_IMAGE_MANAGE) == 0 ||
	    (call_privs(c, &root, 1, 0, 0) & PRIV_ACCOUNT_MANAGE) == 0) {
		json_decref(files);
		call_fail(c, API_DENIED, "the ISO library is managed by the provider's staff");
		return;
	}
	c->subject.type = "iso";
	c->subject.path[0] = root;
	c->subject.path_len = 1;
	c->subject.set = true;
	snprintf(c->subject.name, sizeof(c->subject.name), "%s", dir);
	d = opendir(dir);
	if (d == NULL) {
		json_decref(files);
		call_fail(c, API_CONFLICT, "cannot read iso_dir %s: %s", dir, strerror(errno));
		return;
	}
	while ((e = readdir(d)) != NULL && json_array_size(files) < ISO_MAX_FILES) {
		char path[4096];
		struct stat st;
		if (!iso_name_ok(e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		json_array_append_new(files, json_pack("{s:s, s:s, s:I}", "name", e->d_name, "path",
						       path, "size", (json_int_t)st.st_size));
	}
	closedir(d);
	char *text = json_dumps(files, JSON_COMPACT);
	json_decref(files);
	const char *params[] = {text};
	call_sql_json(c, sql, 1, params, rescanned);
	free(text);
}

void
op_iso_list(struct call *c)
{
	/* Public images (no account) are everybody's; others follow the owning account's rights. */
	static const char sql[] =
		"SELECT coalesce(json_agg(json_build_object('id', i.id, 'name', i.name, "
		"'size_bytes', i.size_bytes, 'account_id', i.account_id, '_scope', "
		"json_build_object('path', coalesce(a.path, ARRAY[$1::bigint]), 'vdc', 0, "
		"'vserver', 0, 'user', CASE WHEN i.account_id IS NULL THEN $2::bigint ELSE 0 END)) "
		"ORDER BY i.name), '[]') FROM isos i LEFT JOIN accounts a ON a.id = i.account_id";
	char acct[24], uid[24];
	const char *params[] = {call_i64(acct, c->who.account_id), call_i64(uid, c->who.user_id)};

	c->resolving.need = PRIV_ACCOUNT_VIEW | PRIV_VSERVER_VIEW | PRIV_IMAGE_MANAGE;
	call_sql_json(c, sql, 2, params, ops_subtree_listed);
}

static void
iso_checked(struct call *c, json_t *ok)
{
	bool visible = json_is_true(ok);

	json_decref(ok);
	if (!visible) {
		call_fail(c, API_NOT_FOUND, "iso not found");
		return;
	}
	c->own_task = true;
	op_vserver_enqueue(c);
}

static void
attach_resolved(struct call *c)
{
	/* The image must be public or belong to an account on the vServer's own path. */
	static const char sql[] = "SELECT to_json(EXISTS (SELECT 1 FROM isos WHERE id = $1 AND "
				  "(account_id IS NULL OR account_id = ANY($2::bigint[]))))";
	char id[24], path[MAX_PATH * 24];

	if (!call_arg_has(c, "iso_id")) {
		/* Detaching needs no image check. */
		c->own_task = true;
		op_vserver_enqueue(c);
		return;
	}
	const char *params[] = {
		call_i64(id, call_arg_int(c, "iso_id", 0)),
		call_path_text(c->subject.path, c->subject.path_len, path, sizeof(path))};

	call_sql_json(c, sql, 2, params, iso_checked);
}

void
op_vserver_attach_iso(struct call *c)
{
	call_resolve(c, "vserver", call_arg_int(c, "id", 0), PRIV_VSERVER_EDIT, attach_resolved);
}
