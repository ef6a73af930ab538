/*
 * The QMP commands of live migration, one small wrapper each on top of qmp_execute() (qmp.c):
 * capabilities and parameters, migrate / migrate-incoming / migrate_cancel /
 * migrate-start-postcopy, and query-migrate with its reply checked field by field (QEMU's
 * answer is hostile input like any other: every number is range-checked, every string capped).
 */
#ifndef WEBRACK_QMP_MIGRATE_H
#define WEBRACK_QMP_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>

#include "qmp.h"

/* "Unlimited" bandwidth: QEMU's default cap (128 MiB/s) cannot converge for a busy guest. */
#define QMP_MIGRATE_UNLIMITED_BPS (100LL * 1000 * 1000 * 1000)

/* Capabilities on (true) or off; QEMU names. */
struct qmp_migrate_caps {
	bool events;
	bool auto_converge;
	bool postcopy_ram;
};
int qmp_migrate_set_capabilities(struct qmp *q, const struct qmp_migrate_caps *caps, qmp_done_cb cb,
				 void *arg);
/* downtime-limit in ms, max-bandwidth in bytes/s. */
int qmp_migrate_set_parameters(struct qmp *q, int64_t downtime_ms, int64_t max_bandwidth,
			       qmp_done_cb cb, void *arg);
/* uri: "tcp:HOST:PORT" (checked by the caller). */
int qmp_migrate(struct qmp *q, const char *uri, qmp_done_cb cb, void *arg);
int qmp_migrate_incoming(struct qmp *q, const char *uri, qmp_done_cb cb, void *arg);
int qmp_migrate_cancel(struct qmp *q, qmp_done_cb cb, void *arg);
int qmp_migrate_start_postcopy(struct qmp *q, qmp_done_cb cb, void *arg);
/* TLS of the migration stream: a tls-creds-psk object (dir holds keys.psk, "USER:HEXKEY";
 * username: the client's user, NULL on the server), object-del, and the tls-creds parameter
 * ("" = plain TCP again). */
int qmp_tls_psk_add(struct qmp *q, const char *id, const char *dir, const char *username,
		    qmp_done_cb cb, void *arg);
int qmp_object_del(struct qmp *q, const char *id, qmp_done_cb cb, void *arg);
int qmp_migrate_set_tls(struct qmp *q, const char *creds_id, qmp_done_cb cb, void *arg);
/* announce-self: RARP for every NIC now and then 4 times more (50 ms, then 100 ms steps). */
int qmp_announce_self(struct qmp *q, qmp_done_cb cb, void *arg);

/* query-migrate. Absent numbers are 0 (has_ram tells whether the "ram" block was there). */
struct qmp_migration_info {
	char status[32]; /* "none", "setup", "active", "postcopy-active", "completed", ... */
	int64_t total_time_ms, downtime_ms, expected_downtime_ms, setup_time_ms;
	bool has_ram;
	int64_t transferred, remaining, total, dirty_pages_rate, page_size, dirty_sync_count;
	double mbps;
	int cpu_throttle_percentage;
	int listen_port;      /* destination: the port it listens on (socket-address), else 0 */
	char error_desc[256]; /* status "failed": QEMU's reason, else "" */
};
typedef void (*qmp_migration_cb)(struct qmp *q, const struct qmp_migration_info *info,
				 const struct qmp_error *err, void *arg);
int qmp_query_migrate(struct qmp *q, qmp_migration_cb cb, void *arg);

/* Parse a query-migrate "return" object (exposed for the unit tests); false if malformed. */
bool qmp_migrate_parse_info(const json_t *ret, struct qmp_migration_info *info)
	__attribute__((warn_unused_result));

/* Whether a status means the migration is still going on. */
bool qmp_migrate_active(const char *status);

#endif
