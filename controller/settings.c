/*
 * The table of webrackd's configuration keys and the checks across keys. Adding a key means one
 * row here and one member in struct settings; parsing, bounds, -n and reload come for free.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "settings.h"
#include "tls.h"

#define OFF(m) offsetof(struct settings, m)

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};

const struct config_key settings_table[] = {
	{"listen", CONFIG_STRING, OFF(listen), "127.0.0.1:8443", 0, 0, NULL, false,
	 "address:port of the HTTPS listener ([v6]:port for IPv6)"},
	{"tls_cert", CONFIG_PATH, OFF(tls_cert), NULL, 0, 0, NULL, false,
	 "PEM certificate (chain) of the HTTPS listener"},
	{"tls_key", CONFIG_PATH, OFF(tls_key), NULL, 0, 0, NULL, false,
	 "PEM private key of the certificate"},
	{"db", CONFIG_STRING, OFF(db), "dbname=webrack", 0, 0, NULL, false,
	 "libpq connection string of the PostgreSQL database"},
	{"db_pool_size", CONFIG_INT, OFF(db_pool_size), "4", 1, 64, NULL, false,
	 "number of PostgreSQL connections"},
	{"db_queue_max", CONFIG_INT, OFF(db_queue_max), "1000", 1, 100000, NULL, true,
	 "queries waiting for a connection before callers get 'busy'"},
	{"log_level", CONFIG_ENUM, OFF(log_level), "info", 0, 0, log_levels, true,
	 "error, warn, info or debug"},
	{"log_syslog", CONFIG_BOOL, OFF(log_syslog), "no", 0, 0, NULL, false,
	 "log to syslog instead of stderr"},
	{"www_dir", CONFIG_PATH, OFF(www_dir), WEBRACK_DATADIR "/www", 0, 0, NULL, false,
	 "directory of the portal's static files"},
	{"sql_dir", CONFIG_PATH, OFF(sql_dir), WEBRACK_DATADIR "/sql", 0, 0, NULL, false,
	 "directory of the numbered SQL migrations"},
	{"max_body_bytes", CONFIG_INT, OFF(max_body_bytes), "1048576", 1024, 64 * 1048576LL, NULL,
	 false, "largest accepted request body"},
	{"session_idle_timeout", CONFIG_INT, OFF(session_idle_timeout), "1800", 60, 86400, NULL,
	 true, "seconds of inactivity after which a session ends"},
	{"session_absolute_timeout", CONFIG_INT, OFF(session_absolute_timeout), "43200", 300,
	 604800, NULL, true, "seconds after login at which a session ends regardless"},
	{"login_max_user_failures", CONFIG_INT, OFF(login_max_user_failures), "5", 1, 1000, NULL,
	 true, "failed logins per username within login_window before throttling"},
	{"login_max_ip_failures", CONFIG_INT, OFF(login_max_ip_failures), "20", 1, 100000, NULL,
	 true, "failed logins per client address within login_window before throttling"},
	{"login_window", CONFIG_INT, OFF(login_window), "900", 10, 86400, NULL, true,
	 "seconds over which failed logins are counted"},
	{"argon2_memory_kib", CONFIG_INT, OFF(argon2_memory_kib), "19456", 1024, 4194304, NULL,
	 true, "argon2id memory cost in KiB (OWASP: 19456); changing it rehashes at next login"},
	{"argon2_iterations", CONFIG_INT, OFF(argon2_iterations), "2", 1, 100, NULL, true,
	 "argon2id time cost"},
	{"argon2_parallelism", CONFIG_INT, OFF(argon2_parallelism), "1", 1, 16, NULL, true,
	 "argon2id lanes"},
	{"workers", CONFIG_INT, OFF(workers), "2", 1, 64, NULL, false,
	 "threads for blocking work (password hashing)"},
	{"drain_timeout", CONFIG_INT, OFF(drain_timeout), "10", 0, 300, NULL, true,
	 "seconds SIGTERM waits for requests in flight"},
	{"totp_issuer", CONFIG_STRING, OFF(totp_issuer), "webrack", 0, 0, NULL, true,
	 "issuer name shown in authenticator apps"},
	{"ca_cert", CONFIG_PATH, OFF(ca_cert), NULL, 0, 0, NULL, false,
	 "CA certificate that signs node certificates (webrackd --init-ca creates it)"},
	{"ca_key", CONFIG_PATH, OFF(ca_key), NULL, 0, 0, NULL, false, "private key of the CA"},
	{"agent_listen", CONFIG_STRING, OFF(agent_listen), "127.0.0.1:8444", 0, 0, NULL, false,
	 "address:port where node agents connect (mutual TLS)"},
	{"agent_names", CONFIG_STRING, OFF(agent_names), NULL, 0, 0, NULL, false,
	 "names and addresses agents dial, for the listener's certificate (default: the "
	 "agent_listen address, localhost, 127.0.0.1 and the host name)"},
	{"iso_dir", CONFIG_PATH, OFF(iso_dir), WEBRACK_LOCALSTATEDIR "/lib/webrack/isos", 0, 0,
	 NULL, false,
	 "the ISO library: *.iso files here (at the same path on every node) can be attached"},
	{"rrd_dir", CONFIG_PATH, OFF(rrd_dir), WEBRACK_LOCALSTATEDIR "/lib/webrack/rrd", 0, 0, NULL,
	 false,
	 "directory of the statistics RRDs (vserver-ID.rrd, node-ID.rrd; as rrdcached sees it "
	 "when rrdcached_address is set)"},
	{"rrdcached_address", CONFIG_STRING, OFF(rrdcached_address), NULL, 0, 0, NULL, false,
	 "write and read the RRDs through this rrdcached (unix:/path or host:port) instead of "
	 "directly"},
	{"stats_step", CONFIG_INT, OFF(stats_step), "10", 1, 300, NULL, false,
	 "RRD step in seconds (the agents' stats_interval); the first archive keeps 24 h of it"},
	{"ip_stale_after", CONFIG_INT, OFF(ip_stale_after), "3600", 1, 31536000, NULL, true,
	 "seconds after its last ARP/NDP sighting at which a guest address is stale (no longer "
	 "shown by vserver-get)"},
	{"public_url", CONFIG_STRING, OFF(public_url), NULL, 0, 0, NULL, false,
	 "https://HOST[:PORT] under which browsers reach the portal: console URLs and the "
	 "WebSocket Origin check (default: https:// + listen, Origin must match Host)"},
	{"vnc_listen", CONFIG_STRING, OFF(vnc_listen), NULL, 0, 0, NULL, false,
	 "address:port of the VeNCrypt console listener for native VNC viewers (e.g. "
	 "0.0.0.0:5901); unset: none"},
	{"vnc_advertise", CONFIG_STRING, OFF(vnc_advertise), NULL, 0, 0, NULL, false,
	 "host:port viewers are told to connect to (default: vnc_listen, with the public_url "
	 "host for a wildcard address)"},
	{"novnc_dir", CONFIG_PATH, OFF(novnc_dir), "/usr/share/novnc", 0, 0, NULL, false,
	 "noVNC (Debian package novnc), served under /novnc/ for the console page"},
	{"console_ticket_seconds", CONFIG_INT, OFF(console_ticket_seconds), "60", 2, 60, NULL, true,
	 "lifetime of a one-time console ticket"},
	{"soap_wsse_window", CONFIG_INT, OFF(soap_wsse_window), "300", 30, 3600, NULL, true,
	 "seconds a SOAP WS-Security UsernameToken's Created may lie in the past or future"},
	{"auth_cache_ttl", CONFIG_INT, OFF(auth_cache_ttl), "10", 0, 60, NULL, true,
	 "seconds an API token's principal is kept in memory (0: authenticate every call in "
	 "PostgreSQL); changes to tokens, users, accounts and grants drop it at once"},
	{"auth_cache_entries", CONFIG_INT, OFF(auth_cache_entries), "4096", 0, 1000000, NULL, false,
	 "API token principals cached at most (0: no cache)"},
	{"vserver_cache_ttl", CONFIG_INT, OFF(vserver_cache_ttl), "10", 0, 60, NULL, true,
	 "seconds a vServer read by vserver-get is kept in memory (0: read it from PostgreSQL "
	 "every call); any change to it, its NICs, addresses, node, ISO or account drops it at "
	 "once"},
	{"vserver_cache_entries", CONFIG_INT, OFF(vserver_cache_entries), "4096", 0, 1000000, NULL,
	 false, "vServers cached at most for vserver-get (0: no cache)"},
	{"db_pipeline_depth", CONFIG_INT, OFF(db_pipeline_depth), "8", 1, 64, NULL, true,
	 "queries in flight per PostgreSQL connection (pipeline mode; 1: one at a time); each "
	 "is still its own transaction"},
	{"failover_after", CONFIG_INT, OFF(failover_after), "13", 3, 3600, NULL, false,
	 "seconds without a heartbeat after which a node is declared dead and its failover "
	 "vServers restart elsewhere; must exceed node_fence_after + failover_margin"},
	{"failover_margin", CONFIG_INT, OFF(failover_margin), "2", 1, 600, NULL, false,
	 "seconds the agents' self-fencing must be done before the controller fails over"},
	{"node_fence_after", CONFIG_INT, OFF(node_fence_after), "10", 2, 3600, NULL, false,
	 "the fence_after of the node agents (node.conf); agents report theirs and a node with a "
	 "longer one is waited for longer"},
	{"migration_tls", CONFIG_BOOL, OFF(migration_tls), "no", 0, 0, NULL, true,
	 "live migration streams between nodes over TLS (QEMU tls-creds-psk, a fresh key per "
	 "migration handed to both agents over their links)"},
	CONFIG_END,
};

static void
check_readable(struct config_errors *errs, const char *file, const char *key, const char *path)
{
	if (path == NULL)
		config_report(errs, file, 0, "%s is required", key);
	else if (access(path, R_OK) != 0)
		config_report(errs, file, 0, "%s: cannot read '%s': %s", key, path,
			      strerror(errno));
}

bool
settings_load(struct settings *s, const char *file, struct config_errors *errs)
{
	int before = errs->count;
	char host[256];
	int port;

	memset(s, 0, sizeof(*s));
	if (!config_set_defaults(settings_table, s, errs))
		return false;
	if (!config_read_file(settings_table, s, file, errs))
		return false;

	if (!config_parse_hostport(s->listen, host, sizeof(host), &port))
		config_report(errs, file, 0, "listen: '%s' is not address:port", s->listen);
	if (s->session_idle_timeout > s->session_absolute_timeout)
		config_report(errs, file, 0,
			      "session_idle_timeout (%lld) is longer than session_absolute_timeout "
			      "(%lld)",
			      s->session_idle_timeout, s->session_absolute_timeout);
	if (!config_parse_hostport(s->agent_listen, host, sizeof(host), &port))
		config_report(errs, file, 0, "agent_listen: '%s' is not address:port",
			      s->agent_listen);
	if ((s->ca_cert == NULL) != (s->ca_key == NULL))
		config_report(errs, file, 0, "ca_cert and ca_key go together");
	if (s->vnc_listen != NULL &&
	    !config_parse_hostport(s->vnc_listen, host, sizeof(host), &port))
		config_report(errs, file, 0, "vnc_listen: '%s' is not address:port", s->vnc_listen);
	if (s->vnc_advertise != NULL &&
	    !config_parse_hostport(s->vnc_advertise, host, sizeof(host), &port))
		config_report(errs, file, 0, "vnc_advertise: '%s' is not host:port",
			      s->vnc_advertise);
	if (s->public_url != NULL &&
	    (strncmp(s->public_url, "https://", 8) != 0 || s->public_url[8] == '\0' ||
	     strchr(s->public_url + 8, '/') != NULL))
		config_report(errs, file, 0, "public_url: '%s' is not https://HOST[:PORT]",
			      s->public_url);
	/* A node must have killed its guests before they are started elsewhere. */
	if (s->failover_after <= s->node_fence_after + s->failover_margin)
		config_report(
			errs, file, 0,
			"failover_after (%lld) must be greater than node_fence_after (%lld) + "
			"failover_margin (%lld)",
			s->failover_after, s->node_fence_after, s->failover_margin);
	check_readable(errs, file, "tls_cert", s->tls_cert);
	check_readable(errs, file, "tls_key", s->tls_key);
	if (errs->count == before) {
		char why[256];
		if (!tls_check_pair(s->tls_cert, s->tls_key, why, sizeof(why)))
			config_report(errs, file, 0, "tls: %s", why);
	}
	return errs->count == before;
}

void
settings_free(struct settings *s)
{
	config_free(settings_table, s);
}
