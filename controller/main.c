/*
 * webrackd: the webrack controller. Parses the command line, checks and loads the configuration,
 * applies migrations, and runs the event loop with the HTTPS API until SIGTERM (drain, then exit)
 * or SIGINT; SIGHUP reloads the reloadable settings.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "agents.h"
#include "auth.h"
#include "auth_cache.h"
#include "vserver_cache.h"
#include "api_ops.h"
#include "bootstrap.h"
#include "ca.h"
#include "call.h"
#include "capacity.h"
#include "console.h"
#include "db.h"
#include "failover.h"
#include "http.h"
#include "lifecycle.h"
#include "livemig.h"
#include "log.h"
#include "migrate.h"
#include "server.h"
#include "soap_wsdl.h"
#include "tls.h"
#include "stats_graph.h"
#include "stats_rrd.h"
#include "workq.h"

#define DEFAULT_CONFIG	    WEBRACK_SYSCONFDIR "/webrack/webrackd.conf"
#define MAINTENANCE_SECONDS 60

static void
usage(FILE *out)
{
	fprintf(out, "usage: webrackd [-c FILE] [-d] [-n]\n"
		     "       webrackd [-c FILE] --init-ca\n"
		     "       webrackd [-c FILE] --migrate\n"
		     "       webrackd [-c FILE] --create-admin USERNAME   (password from "
		     "WEBRACK_ADMIN_PASSWORD or stdin)\n"
		     "       webrackd --dump-api | --dump-wsdl[=URL] | --help-config | --version | "
		     "--help\n"
		     "\n"
		     "  -c, --config FILE    configuration file (default " DEFAULT_CONFIG ")\n"
		     "  -n, --check          check the configuration and exit\n"
		     "  -d, --debug          log at debug level\n"
		     "      --migrate        apply database migrations and exit\n"
		     "      --create-admin U create the provider account and admin U (or reset U's "
		     "password)\n"
		     "      --init-ca        create the CA that signs node certificates (ca_cert, "
		     "ca_key)\n"
		     "      --dump-api       print the API reference (Markdown) and exit\n"
		     "      --dump-wsdl[=URL] print the SOAP WSDL (endpoint URL, "
		     "default " SOAP_DEFAULT_LOCATION ") and exit\n"
		     "      --help-config    list every configuration key with its default\n"
		     "  -V, --version        print the version\n"
		     "  -h, --help           this text\n"
		     "\n"
		     "Signals: SIGTERM drains requests in flight and exits, SIGHUP reloads the "
		     "configuration.\n"
		     "See webrackd(8) and webrackd.conf(5).\n");
}

void
server_call_done(struct server *srv)
{
	srv->inflight--;
	if (srv->draining && srv->inflight == 0) {
		log_info("drained; exiting");
		event_base_loopexit(srv->base, NULL);
	}
}

static void
on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	log_warn("drain timeout: exiting with %d calls unanswered", srv->inflight);
	event_base_loopexit(srv->base, NULL);
}

static void
on_terminate(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	struct timeval tv = {srv->settings.drain_timeout, 0};

	if (srv->draining) {
		log_warn("second signal: exiting now");
		event_base_loopexit(srv->base, NULL);
		return;
	}
	log_info("%s: draining %d calls in flight (at most %lld s)", strsignal((int)sig),
		 srv->inflight, srv->settings.drain_timeout);
	srv->draining = true;
	http_stop_listening(srv);
	if (srv->inflight == 0) {
		event_base_loopexit(srv->base, NULL);
		return;
	}
	srv->drain_timer = evtimer_new(srv->base, on_drain_timeout, srv);
	evtimer_add(srv->drain_timer, &tv);
}

static void
on_reload(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	struct settings fresh;
	struct config_errors errs = {.out = stderr};

	log_info("SIGHUP: reloading %s", srv->config_file);
	if (!settings_load(&fresh, srv->config_file, &errs)) {
		log_error("configuration has %d error(s); keeping the running one", errs.count);
		settings_free(&fresh);
		return;
	}
	config_apply_reload(settings_table, &srv->settings, &fresh);
	settings_free(&fresh);
	log_set_level((enum log_level)srv->settings.log_level);
	db_set_queue_max(srv->db, (int)srv->settings.db_queue_max);
	db_set_pipeline_depth(srv->db, (int)srv->settings.db_pipeline_depth);
	log_info("configuration reloaded");
}

static void
maintenance_done(const struct db_result *r, void *arg)
{
	if (r->status != DB_OK)
		log_debug("maintenance skipped: %s", r->message ? r->message : "-");
}

/* Expired sessions and old login failures serve nobody; keep the tables small. */
static void
on_maintenance(evutil_socket_t fd, short what, void *arg)
{
	static const char sql[] =
		"WITH s AS (DELETE FROM sessions WHERE last_seen < now() - make_interval(secs => "
		"$1::int) OR created_at < now() - make_interval(secs => $2::int)) "
		"DELETE FROM login_failures WHERE at < now() - make_interval(secs => $3::int)";
	struct server *srv = arg;
	char idle[24], absolute[24], window[24];
	const char *params[] = {call_i64(idle, srv->settings.session_idle_timeout),
				call_i64(absolute, srv->settings.session_absolute_timeout),
				call_i64(window, srv->settings.login_window)};

	if (db_is_up(srv->db))
		db_query(srv->db, sql, 3, params, maintenance_done, NULL);
	auth_wsse_cleanup(srv);
}

static void
ignore_notice(void *arg, const char *message)
{
}

/* Resume unfinished lifecycle tasks once the pool is connected. */
static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct timeval again = {1, 0};

	if (!db_is_up(srv->db)) {
		evtimer_add(srv->resume_timer, &again);
		return;
	}
	lifecycle_resume_all(srv);
	livemig_resume_cleanups(srv);
}

static PGconn *
connect_blocking(const struct settings *s)
{
	PGconn *pg = PQconnectdb(s->db);

	if (PQstatus(pg) != CONNECTION_OK) {
		log_error("cannot connect to PostgreSQL (%s): %s", s->db, PQerrorMessage(pg));
		PQfinish(pg);
		return NULL;
	}
	PQsetNoticeProcessor(pg, ignore_notice, NULL);
	return pg;
}

static char *
read_admin_password(void)
{
	const char *env = getenv("WEBRACK_ADMIN_PASSWORD");
	char buf[1100];

	if (env != NULL)
		return strdup(env);
	if (fgets(buf, sizeof(buf), stdin) == NULL)
		return NULL;
	buf[strcspn(buf, "\r\n")] = '\0';
	char *pw = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return pw;
}

/* Every node agent holds a connection: lift the soft descriptor limit to the hard one. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_warn("cannot raise the descriptor limit: %s", strerror(errno));
	}
}

/* --init-ca: create the node CA once; an existing one is never overwritten. */
static int
create_ca(const struct settings *s)
{
	char why[256], host[128] = "controller", cn[200];

	if (s->ca_cert == NULL) {
		fprintf(stderr, "set ca_cert and ca_key in the configuration first\n");
		return 1;
	}
	if (access(s->ca_cert, F_OK) == 0 || access(s->ca_key, F_OK) == 0) {
		printf("CA already exists (%s); not touching it\n", s->ca_cert);
		return 0;
	}
	gethostname(host, sizeof(host) - 1);
	snprintf(cn, sizeof(cn), "webrack node CA %s", host);
	if (!ca_init(s->ca_cert, s->ca_key, cn, why, sizeof(why))) {
		fprintf(stderr, "cannot create the CA: %s\n", why);
		return 1;
	}
	printf("created CA %s (key %s)\n", s->ca_cert, s->ca_key);
	return 0;
}

static int
run_server(struct server *srv)
{
	char why[512];
	struct event *sigterm, *sigint, *sighup;
	struct timeval maint = {MAINTENANCE_SECONDS, 0};
	int rc = 1;

	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	srv->started = (double)now.tv_sec + now.tv_nsec / 1e9;
	srv->tls = tls_server_ctx(srv->settings.tls_cert, srv->settings.tls_key, why, sizeof(why));
	if (srv->tls == NULL) {
		log_error("tls: %s", why);
		return 1;
	}
	evthread_use_pthreads();
	/*
	 * epoll changelist: the event changes of one loop pass (evhttp switches a connection's
	 * read and write interest several times per request) become one epoll_ctl per socket.
	 */
	struct event_config *evcfg = event_config_new();
	if (evcfg != NULL) {
		event_config_set_flag(evcfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
		srv->base = event_base_new_with_config(evcfg);
		event_config_free(evcfg);
	}
	if (srv->base == NULL)
		goto out;
	srv->workq = workq_new(srv->base, (int)srv->settings.workers);
	if (srv->workq != NULL && (srv->stats_writer = stats_writer_new(srv)) == NULL)
		goto out;
	srv->db = db_new(srv->base, srv->settings.db, (int)srv->settings.db_pool_size,
			 (int)srv->settings.db_queue_max);
	srv->capacity = capacity_new(srv);
	if (srv->db != NULL)
		db_set_pipeline_depth(srv->db, (int)srv->settings.db_pipeline_depth);
	if (srv->db != NULL && !auth_start(srv)) /* auth cache: before any request */
		goto out;
	if (srv->workq == NULL || srv->db == NULL || srv->capacity == NULL || !http_start(srv) ||
	    !agents_start(srv) || !console_start(srv) || !failover_start(srv))
		goto out;

	sigterm = evsignal_new(srv->base, SIGTERM, on_terminate, srv);
	sigint = evsignal_new(srv->base, SIGINT, on_terminate, srv);
	sighup = evsignal_new(srv->base, SIGHUP, on_reload, srv);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	evsignal_add(sighup, NULL);
	srv->maint_timer = event_new(srv->base, -1, EV_PERSIST, on_maintenance, srv);
	evtimer_add(srv->maint_timer, &maint);

	/* Tasks a previous run left unfinished continue (the pool queues until PostgreSQL is up).
	 */
	srv->resume_timer = evtimer_new(srv->base, on_resume, srv);
	struct timeval soon = {1, 0};
	evtimer_add(srv->resume_timer, &soon);
	log_info("webrackd %s ready", PACKAGE_VERSION);
	event_base_dispatch(srv->base);
	rc = 0;

	event_free(sigterm);
	event_free(sigint);
	event_free(sighup);
	event_free(srv->maint_timer);
	event_free(srv->resume_timer);
	if (srv->drain_timer)
		event_free(srv->drain_timer);
out:
	console_stop(srv); /* before evhttp: open consoles own their connections */
	agents_stop(srv);
	http_free(srv);
	capacity_free(srv->capacity);
	workq_free(srv->workq);
	stats_graph_cache_free(srv);
	stats_writer_free(srv->stats_writer);
	db_free(srv->db);
	failover_stop(srv); /* after db_free: it answers the monitor's queries in flight */
	auth_cache_free(srv->auth_cache);
	vserver_cache_free(srv->vserver_cache);
	if (srv->base)
		event_base_free(srv->base);
	SSL_CTX_free(srv->tls);
	return rc;
}

int
main(int argc, char **argv)
{
	enum {
		OPT_MIGRATE = 256,
		OPT_CREATE_ADMIN,
		OPT_DUMP_API,
		OPT_HELP_CONFIG,
		OPT_INIT_CA,
		OPT_DUMP_WSDL
	};
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check", no_argument, NULL, 'n'},
		{"debug", no_argument, NULL, 'd'},
		{"migrate", no_argument, NULL, OPT_MIGRATE},
		{"create-admin", required_argument, NULL, OPT_CREATE_ADMIN},
		{"dump-api", no_argument, NULL, OPT_DUMP_API},
		{"dump-wsdl", optional_argument, NULL, OPT_DUMP_WSDL},
		{"init-ca", no_argument, NULL, OPT_INIT_CA},
		{"help-config", no_argument, NULL, OPT_HELP_CONFIG},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct server srv = {.config_file = DEFAULT_CONFIG};
	bool check = false, debug = false, migrate_only = false, init_ca = false;
	const char *admin = NULL;
	int ch;

	while ((ch = getopt_long(argc, argv, "c:ndVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			srv.config_file = optarg;
			break;
		case 'n':
			check = true;
			break;
		case 'd':
			debug = true;
			break;
		case OPT_MIGRATE:
			migrate_only = true;
			break;
		case OPT_CREATE_ADMIN:
			admin = optarg;
			break;
		case OPT_INIT_CA:
			init_ca = true;
			break;
		case OPT_DUMP_API:
			api_ops_write_markdown(stdout);
			return 0;
		case OPT_DUMP_WSDL:
			return soap_wsdl_write(stdout, optarg ? optarg : SOAP_DEFAULT_LOCATION) &&
					       fflush(stdout) == 0
				       ? 0
				       : 1;
		case OPT_HELP_CONFIG:
			config_print_table(settings_table, stdout);
			return 0;
		case 'V':
			printf("webrackd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	struct config_errors errs = {.out = stderr};
	if (!settings_load(&srv.settings, srv.config_file, &errs)) {
		fprintf(stderr, "%s: %d error(s)\n", srv.config_file, errs.count);
		settings_free(&srv.settings);
		return 1;
	}
	if (init_ca) {
		int r = create_ca(&srv.settings);
		settings_free(&srv.settings);
		return r;
	}
	if (check) {
		printf("%s: configuration OK\n", srv.config_file);
		settings_free(&srv.settings);
		return 0;
	}
	log_open("webrackd", srv.settings.log_syslog);
	log_set_level(debug ? LOG_LVL_DEBUG : (enum log_level)srv.settings.log_level);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();

	int rc = 1;
	PGconn *pg = connect_blocking(&srv.settings);
	if (pg == NULL)
		goto out;
	bool migrated = migrate_apply(pg, srv.settings.sql_dir);
	if (migrated && admin != NULL) {
		char *pw = read_admin_password();
		if (pw == NULL) {
			log_error("no password given (WEBRACK_ADMIN_PASSWORD or stdin)");
		} else {
			if (bootstrap_admin(pg, &srv.settings, admin, pw)) {
				printf("provider admin '%s' ready\n", admin);
				rc = 0;
			}
			explicit_bzero(pw, strlen(pw));
			free(pw);
		}
	}
	PQfinish(pg);
	if (!migrated || admin != NULL)
		goto out;
	if (migrate_only) {
		printf("database schema up to date\n");
		rc = 0;
		goto out;
	}
	rc = run_server(&srv);
out:
	settings_free(&srv.settings);
	return rc;
}
