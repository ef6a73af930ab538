/*
 * webrackd's settings: the struct every module reads, and the one key table (name, type, default,
 * bounds, reloadable) that fills it from /etc/webrack/webrackd.conf.
 */
#ifndef WEBRACK_SETTINGS_H
#define WEBRACK_SETTINGS_H

#include <stdbool.h>
#include <stdio.h>

#include "conffile.h"

struct settings {
	char *listen;
	char *tls_cert;
	char *tls_key;
	char *db;
	long long db_pool_size;
	long long db_queue_max;
	int log_level; /* enum log_level */
	bool log_syslog;
	char *www_dir;
	char *sql_dir;
	long long max_body_bytes;
	long long session_idle_timeout;
	long long session_absolute_timeout;
	long long login_max_user_failures;
	long long login_max_ip_failures;
	long long login_window;
	long long argon2_memory_kib;
	long long argon2_iterations;
	long long argon2_parallelism;
	long long workers;
	long long drain_timeout;
	char *totp_issuer;
	char *ca_cert;
	char *ca_key;
	char *agent_listen;
	char *agent_names;
	char *iso_dir;
	char *rrd_dir;
	char *rrdcached_address;
	long long stats_step;
	long long ip_stale_after;
	char *public_url;
	char *vnc_listen; /* NULL: no VeNCrypt listener */
	char *vnc_advertise;
	char *novnc_dir;
	long long console_ticket_seconds;
	long long soap_wsse_window;
	long long failover_after;   /* seconds of silence before a node is declared dead */
	long long failover_margin;  /* failover_after must exceed node_fence_after + this */
	long long node_fence_after; /* the agents' fence_after, for the check above */
	/* seconds an API token's principal is cached (0: off), principals cached at most */
	long long auth_cache_ttl;
	long long auth_cache_entries;
	/* queries in flight per PostgreSQL connection */
	long long db_pipeline_depth;
	/* seconds a vserver-get read is cached (0: off), vServers cached at most */
	long long vserver_cache_ttl;
	long long vserver_cache_entries;
	bool migration_tls; /* live migration streams over TLS (livemig.c) */
};

extern const struct config_key settings_table[];

/*
 * Defaults, then FILE, then the checks that span several keys (files readable, the certificate
 * matching its key, timeouts consistent). Errors go to errs; false if there was any.
 */
bool settings_load(struct settings *s, const char *file, struct config_errors *errs)
	__attribute__((warn_unused_result));

void settings_free(struct settings *s);

#endif
