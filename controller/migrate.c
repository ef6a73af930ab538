/*
 * Applies numbered migrations. An advisory lock serialises controllers that start together; each
 * file runs in its own transaction together with its schema_version row, so a failing migration
 * leaves the schema exactly as it was and the next start retries it.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "migrate.h"

#define MIGRATION_LOCK	    "7277657261636b" /* "wrerack": any constant shared by all controllers */
#define MIGRATION_MAX_BYTES (4 * 1024 * 1024)

static bool
exec_ok(PGconn *pg, const char *sql, const char *what)
{
	PGresult *r = PQexec(pg, sql);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok)
		log_error("%s: %s", what, PQerrorMessage(pg));
	PQclear(r);
	return ok;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = malloc(MIGRATION_MAX_BYTES + 1);
	if (buf != NULL) {
		n = fread(buf, 1, MIGRATION_MAX_BYTES + 1, f);
		if (n > MIGRATION_MAX_BYTES || ferror(f)) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
		}
	}
	fclose(f);
	return buf;
}

static bool
already_applied(PGconn *pg, int version, bool *applied)
{
	char v[16];
	const char *params[] = {v};
	snprintf(v, sizeof(v), "%d", version);
	PGresult *r = PQexecParams(pg, "SELECT 1 FROM schema_version WHERE version = $1", 1, NULL,
				   params, NULL, NULL, 0);
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok)
		log_error("cannot read schema_version: %s", PQerrorMessage(pg));
	*applied = ok && PQntuples(r) > 0;
	PQclear(r);
	return ok;
}

static bool
apply_one(PGconn *pg, const char *dir, const char *name, int version)
{
	char path[4096], v[16];
	bool ok = false;
	char *sql;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	sql = read_file(path);
	if (sql == NULL) {
		log_error("cannot read migration %s: %s", path, strerror(errno));
		return false;
	}
	if (!exec_ok(pg, "BEGIN", "begin migration"))
		goto out;
	if (!exec_ok(pg, sql, name)) {
		exec_ok(pg, "ROLLBACK", "rollback");
		goto out;
	}
	snprintf(v, sizeof(v), "%d", version);
	const char *params[] = {v, name};
	PGresult *r = PQexecParams(pg, "INSERT INTO schema_version (version, name) VALUES ($1, $2)",
				   2, NULL, params, NULL, NULL, 0);
	bool inserted = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!inserted || !exec_ok(pg, "COMMIT", "commit migration")) {
		exec_ok(pg, "ROLLBACK", "rollback");
		goto out;
	}
	log_info("applied migration %s", name);
	ok = true;
out:
	free(sql);
	return ok;
}

bool
migrate_apply(PGconn *pg, const char *sql_dir)
{
	DIR *d = opendir(sql_dir);
	char **names = NULL;
	size_t n = 0, cap = 0;
	bool ok = false;
	struct dirent *e;

	if (d == NULL) {
		log_error("cannot open sql_dir %s: %s", sql_dir, strerror(errno));
		return false;
	}
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len < 8 || strcmp(e->d_name + len - 4, ".sql") != 0 ||
		    strspn(e->d_name, "0123456789") != 3 || e->d_name[3] != '_')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			char **grown = realloc(names, cap * sizeof(*names));
			if (grown == NULL)
				goto out;
			names = grown;
		}
		if ((names[n] = strdup(e->d_name)) == NULL)
			goto out;
		n++;
	}
	qsort(names, n, sizeof(*names), by_name);

	if (!exec_ok(pg, "SELECT pg_advisory_lock(x'" MIGRATION_LOCK "'::bigint)", "lock") ||
	    !exec_ok(pg,
		     "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, "
		     "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
		     "schema_version"))
		goto unlock;
	for (size_t i = 0; i < n; i++) {
		int version = atoi(names[i]);
		bool applied;
		if (i > 0 && version == atoi(names[i - 1])) {
			log_error("two migrations numbered %03d", version);
			goto unlock;
		}
		if (!already_applied(pg, version, &applied))
			goto unlock;
		if (!applied && !apply_one(pg, sql_dir, names[i], version))
			goto unlock;
	}
	ok = true;
unlock:
	if (!exec_ok(pg, "SELECT pg_advisory_unlock(x'" MIGRATION_LOCK "'::bigint)", "unlock"))
		ok = false;
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return ok;
}
