/*
 * Creating the provider account and its first admin. Idempotent: run again, it resets the
 * password of that admin and keeps everything else. All in one transaction.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootstrap.h"
#include "log.h"
#include "password.h"

static PGresult *
run(PGconn *pg, const char *sql, int n, const char *const *params)
{
	PGresult *r = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_error("%s", PQerrorMessage(pg));
		PQclear(r);
		return NULL;
	}
	return r;
}

bool
bootstrap_admin(PGconn *pg, const struct settings *s, const char *username, const char *password)
{
	struct password_params pp = {.t_cost = (uint32_t)s->argon2_iterations,
				     .m_cost_kib = (uint32_t)s->argon2_memory_kib,
				     .parallelism = (uint32_t)s->argon2_parallelism};
	const char *why = NULL;
	PGresult *r;
	bool ok = false;

	if (!password_policy_ok(password, &why)) {
		log_error("password: %s", why);
		return false;
	}
	char *hash = password_hash(password, &pp);
	if (hash == NULL) {
		log_error("cannot hash the password");
		return false;
	}
	if ((r = run(pg, "BEGIN", 0, NULL)) == NULL)
		goto out;
	PQclear(r);
	r = run(pg,
		"INSERT INTO accounts (type, name) VALUES ('provider', 'Provider') "
		"ON CONFLICT DO NOTHING",
		0, NULL);
	if (r == NULL)
		goto rollback;
	PQclear(r);
	const char *p1[] = {username, hash};
	r = run(pg,
		"WITH prov AS (SELECT id FROM accounts WHERE type = 'provider'), "
		"u AS (INSERT INTO users (account_id, username, password_hash, display_name) "
		"SELECT id, $1, $2, 'Provider administrator' FROM prov "
		"ON CONFLICT (lower(username)) DO UPDATE SET password_hash = "
		"EXCLUDED.password_hash, "
		"enabled = true WHERE users.account_id = (SELECT id FROM prov) RETURNING id, "
		"account_id), "
		"g AS (INSERT INTO grants (user_id, scope_type, scope_id, role) "
		"SELECT id, 'account', account_id, 'admin' FROM u ON CONFLICT DO NOTHING), "
		"a AS (INSERT INTO audit (user_id, username, scope_path, event, detail) "
		"SELECT u.id, $1, ARRAY[u.account_id], 'bootstrap.admin', 'created or reset by "
		"webrackd --create-admin' FROM u) "
		"SELECT id FROM u",
		2, p1);
	if (r == NULL)
		goto rollback;
	if (PQntuples(r) != 1) {
		log_error("user '%s' exists and is not a provider user; choose another name",
			  username);
		PQclear(r);
		goto rollback;
	}
	PQclear(r);
	if ((r = run(pg, "COMMIT", 0, NULL)) == NULL)
		goto out;
	PQclear(r);
	ok = true;
	goto out;
rollback:
	r = run(pg, "ROLLBACK", 0, NULL);
	if (r != NULL)
		PQclear(r);
out:
	explicit_bzero(hash, strlen(hash));
	free(hash);
	return ok;
}
