/*
 * Asynchronous password hashing. The job owns copies of the password (wiped after use) and of the
 * parameters in force when it was queued, so a SIGHUP that changes argon2 settings mid-way cannot
 * mix them up.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "hashing.h"
#include "log.h"
#include "password.h"
#include "server.h"
#include "workq.h"

struct hash_job {
	struct call *c;
	struct password_params params;
	char *password;
	char *encoded; /* verify: stored hash */
	char *result;  /* hash: new hash; verify: rehash if needed */
	int match;
	hashing_hash_fn hash_next;
	hashing_verify_fn verify_next;
};

static struct password_params
current_params(const struct call *c)
{
	const struct settings *s = &c->srv->settings;
	struct password_params p = {.t_cost = (uint32_t)s->argon2_iterations,
				    .m_cost_kib = (uint32_t)s->argon2_memory_kib,
				    .parallelism = (uint32_t)s->argon2_parallelism};
	return p;
}

static void
job_free(struct hash_job *j)
{
	if (j->password != NULL) {
		explicit_bzero(j->password, strlen(j->password));
		free(j->password);
	}
	free(j->encoded);
	free(j->result);
	free(j);
}

static struct hash_job *
job_new(struct call *c, const char *password)
{
	struct hash_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->c = c;
	j->params = current_params(c);
	j->password = strdup(password);
	if (j->password == NULL) {
		free(j);
		return NULL;
	}
	return j;
}

static void
hash_work(void *p)
{
	struct hash_job *j = p;
	j->result = password_hash(j->password, &j->params);
}

static void
hash_done(void *p)
{
	struct hash_job *j = p;

	if (j->result == NULL) {
		log_error("argon2id hashing failed");
		call_fail(j->c, API_INTERNAL, "internal error (logged)");
	} else {
		j->hash_next(j->c, j->result);
	}
	job_free(j);
}

void
hashing_hash(struct call *c, const char *password, hashing_hash_fn next)
{
	struct hash_job *j = job_new(c, password);

	if (j == NULL) {
		call_fail(c, API_BUSY, "out of memory");
		return;
	}
	j->hash_next = next;
	if (!workq_submit(c->srv->workq, hash_work, hash_done, j)) {
		job_free(j);
		call_fail(c, API_BUSY, "out of memory");
	}
}

static void
verify_work(void *p)
{
	struct hash_job *j = p;

	if (j->encoded == NULL) {
		/* Unknown user: spend the same effort, then fail. */
		char *dummy = password_hash(j->password, &j->params);
		free(dummy);
		j->match = 0;
		return;
	}
	j->match = password_verify(j->encoded, j->password) == 1;
	if (j->match && password_needs_rehash(j->encoded, &j->params))
		j->result = password_hash(j->password, &j->params);
}

static void
verify_done(void *p)
{
	struct hash_job *j = p;

	j->verify_next(j->c, j->match, j->result);
	job_free(j);
}

void
hashing_verify(struct call *c, const char *encoded, const char *password, hashing_verify_fn next)
{
	struct hash_job *j = job_new(c, password);

	if (j == NULL || (encoded != NULL && (j->encoded = strdup(encoded)) == NULL)) {
		if (j)
			job_free(j);
		call_fail(c, API_BUSY, "out of memory");
		return;
	}
	j->verify_next = next;
	if (!workq_submit(c->srv->workq, verify_work, verify_done, j)) {
		job_free(j);
		call_fail(c, API_BUSY, "out of memory");
	}
}
