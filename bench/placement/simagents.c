/*
 * simagents: many simulated node agents in one process, for benchmarks only. Each agent is a
 * real agent link (docs/ARCHITECTURE.md, "Link protocol"): mutual TLS to webrackd's agent
 * listener with a node certificate the CA signed through node-join, a hello with an inventory,
 * a heartbeat every second, and a reply to every command. The hypervisor is simulated: every
 * command succeeds at once (vm.start also sends the "started" event a real agent sends first),
 * so what a benchmark measures is the controller, its database and the link, not QEMU.
 *
 * One libevent loop drives all links. Handshakes are paced (at most -j at a time) so that a
 * thousand agents do not overrun the listener's accept backlog. Progress goes to stdout as
 * "status ..." lines every second and one "ready N" line when every agent has its welcome;
 * the benchmark driver (run.py) reads them.
 *
 * With --stats SECONDS every agent also sends a "stats" message that often, with synthetic,
 * growing counters for the node and for every VM it runs (vm.start adds one, vm.stop removes
 * it), as a real agent's sampler does (bench/stats).
 *
 * Usage: simagents -c HOST:PORT -a CA.crt -d DIR [-n N] [-j PARALLEL] [--cores N]
 *        [--ram-mb MB] [--free-gb GB] [--stats SECONDS]
 * DIR holds NAME.crt and NAME.key per node (as written by run.py after node-join).
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "jsonl.h"
#include "log.h"
#include "proto.h"
#include "tls.h"

#define HOUSEKEEPING_CORES 2
#define RETRY_SECONDS	   2
#define STATUS_SECONDS	   1
#define OUTPUT_MAX	   (4 * 1024 * 1024)

enum agent_state {
	AGENT_IDLE,
	AGENT_CONNECTING, /* TCP + TLS handshake, hello sent once connected */
	AGENT_HELLO_SENT,
	AGENT_UP, /* welcome received */
};

struct sim;

/* One simulated node. Owned by sim->agents; the bufferevent only while connected. */
struct agent {
	struct sim *sim;
	char name[64];
	X509 *cert;
	EVP_PKEY *key;
	struct bufferevent *bev;
	struct event *heartbeat;
	struct event *retry;
	enum agent_state state;
	int64_t epoch; /* highest epoch seen: commands below it are refused (fencing) */
	int64_t seq;
	int64_t next_pid;
	int64_t *vms; /* the VMs it runs (--stats) */
	size_t nvms, capvms;
	struct event *stats_timer;
	uint64_t samples;
};

/* The simulator: one loop, one client TLS context, every agent. */
struct sim {
	struct event_base *base;
	SSL_CTX *tls;
	char host[256];
	struct sockaddr_storage addr;
	int addrlen;
	struct agent *agents;
	size_t n;
	size_t next_start; /* agents[next_start..] have not tried to connect yet */
	int handshaking;
	int max_handshaking;
	int up;
	bool ready_said;
	int cores;
	long long ram_mb;
	long long free_gb;
	unsigned long long commands, heartbeats, events, errors, drops;
	struct event *status_timer;
	int stats_interval; /* 0: no stats messages */
	FILE *defines;	    /* --record-defines: every vm.define's args, one JSON line each */
};

static void agent_connect(struct agent *a);

static void
start_more(struct sim *s)
{
	while (s->handshaking < s->max_handshaking && s->next_start < s->n)
		agent_connect(&s->agents[s->next_start++]);
}

static void
agent_send(struct agent *a, json_t *msg)
{
	struct evbuffer *out;

	if (msg == NULL || a->bev == NULL) {
		json_decref(msg);
		return;
	}
	out = bufferevent_get_output(a->bev);
	if (evbuffer_get_length(out) > OUTPUT_MAX || !jsonl_write(out, msg))
		log_warn("%s: message not sent (output full or not encodable)", a->name);
	json_decref(msg);
}

static void
agent_drop(struct agent *a, const char *reason)
{
	struct sim *s = a->sim;
	struct timeval tv = {RETRY_SECONDS, 0};

	log_warn("%s: link down: %s; retrying in %d s", a->name, reason, RETRY_SECONDS);
	s->drops++;
	if (a->state == AGENT_UP)
		s->up--;
	else if (a->state != AGENT_IDLE)
		s->handshaking--;
	if (a->bev != NULL) {
		bufferevent_free(a->bev);
		a->bev = NULL;
	}
	evtimer_del(a->heartbeat);
	if (a->stats_timer != NULL)
		evtimer_del(a->stats_timer);
	a->state = AGENT_IDLE;
	evtimer_add(a->retry, &tv);
	start_more(s);
}

static json_t *
inventory(const struct sim *s)
{
	json_t *hk = json_array(), *ded = json_array();

	for (int i = 0; i < HOUSEKEEPING_CORES + s->cores; i++)
		json_array_append_new(i < HOUSEKEEPING_CORES ? hk : ded, json_integer(i));
	return json_pack("{s:i, s:o, s:o, s:I, s:[s], s:[{s:s, s:s, s:b, s:I}], s:s, s:b, s:s}",
			 "cores", HOUSEKEEPING_CORES + s->cores, "housekeeping", hk, "dedicated",
			 ded, "ram_mb", (json_int_t)s->ram_mb, "bridges", "wrbr0", "storages",
			 "name", "shared", "path", "/srv/webrack/shared", "shared", 1, "free_gb",
			 (json_int_t)s->free_gb, "qemu_version", "simulated", "kvm", 0, "accel",
			 "tcg");
}

static void
send_hello(struct agent *a)
{
	char why[256];
	json_t *hello = json_pack("{s:s, s:s, s:I, s:o, s:[]}", "type", "hello", "version",
				  "webrack-node/" PACKAGE_VERSION "-sim", "epoch",
				  (json_int_t)a->epoch, "inventory", inventory(a->sim), "vms");

	/* Checked as the controller will check it: a bug here would only measure error paths. */
	if (hello == NULL ||
	    proto_check(PROTO_FROM_AGENT, hello, why, sizeof(why)) != PROTO_HELLO) {
		log_error("%s: hello does not pass its schema: %s", a->name,
			  hello ? why : "cannot build it");
		json_decref(hello);
		exit(1);
	}
	agent_send(a, hello);
	a->state = AGENT_HELLO_SENT;
}

static void
on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;

	a->sim->heartbeats++;
	agent_send(a, json_pack("{s:s, s:I}", "type", "heartbeat", "seq", (json_int_t)a->seq++));
}

static void
vm_track(struct agent *a, int64_t vm, bool running)
{
	for (size_t i = 0; i < a->nvms; i++) {
		if (a->vms[i] == vm) {
			if (!running)
				a->vms[i] = a->vms[--a->nvms];
			return;
		}
	}
	if (!running)
		return;
	if (a->nvms == a->capvms) {
		size_t cap = a->capvms ? a->capvms * 2 : 16;
		int64_t *v = realloc(a->vms, cap * sizeof(*v));
		if (v == NULL)
			return;
		a->vms = v;
		a->capvms = cap;
	}
	a->vms[a->nvms++] = vm;
}

/* Synthetic counters that grow like a busy guest's; at most PROTO_STATS_VMS VMs a message. */
static void
on_stats(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	json_int_t k = (json_int_t)++a->samples, t = (json_int_t)time(NULL);
	size_t i = 0;

	do {
		json_t *vms = json_array();
		for (size_t n = 0; i < a->nvms && n < PROTO_STATS_VMS; i++, n++)
			json_array_append_new(
				vms,
				json_pack("{s:I, s:i, s:I, s:I, s:i, s:I, s:I, s:I, s:I, s:I, "
					  "s:I, s:I, s:I}",
					  "id", (json_int_t)a->vms[i], "vcpus", 1, "cpu_ms",
					  k * 2500, "rss_kb", (json_int_t)262144, "ram_mb", 256,
					  "disk_rd_bytes", k * 40960, "disk_wr_bytes", k * 81920,
					  "disk_rd_ops", k * 10, "disk_wr_ops", k * 20,
					  "net_rx_bytes", k * 150000, "net_tx_bytes", k * 90000,
					  "net_rx_packets", k * 120, "net_tx_packets", k * 80));
		json_t *msg = json_pack("{s:s, s:I, s:o}", "type", "stats", "time", t, "vms", vms);
		if (msg != NULL && i <= PROTO_STATS_VMS)
			json_object_set_new(
				msg, "node",
				json_pack("{s:I, s:I, s:i, s:I, s:I, s:I, s:I, s:I, s:I}",
					  "cpu_busy_ms", k * 5000, "cpu_idle_ms", k * 15000,
					  "load1_milli", 1500, "mem_total_kb",
					  (json_int_t)a->sim->ram_mb * 1024, "mem_available_kb",
					  (json_int_t)a->sim->ram_mb * 512, "net_rx_bytes",
					  k * 1000000, "net_tx_bytes", k * 900000, "net_rx_packets",
					  k * 1000, "net_tx_packets", k * 900));
		agent_send(a, msg);
	} while (i < a->nvms);
}

/* The simulated hypervisor: every command succeeds at once, as a real agent's reply would. */
static void
on_command(struct agent *a, json_t *msg)
{
	struct sim *s = a->sim;
	json_int_t id = json_integer_value(json_object_get(msg, "id"));
	int64_t epoch = json_integer_value(json_object_get(msg, "epoch"));
	const char *op = json_string_value(json_object_get(msg, "op"));
	json_t *args = json_object_get(msg, "args");
	json_t *result;

	s->commands++;
	if (epoch < a->epoch) {
		agent_send(a, json_pack("{s:s, s:I, s:b, s:{s:s, s:s}}", "type", "reply", "id", id,
					"ok", 0, "error", "code", "stale_epoch", "message",
					"the command's epoch is older than one already seen"));
		return;
	}
	a->epoch = epoch;
	if (strcmp(op, "vm.start") == 0) {
		json_int_t vm = json_integer_value(json_object_get(args, "id"));
		json_int_t pid = (json_int_t)(a->next_pid++);
		char detail[32];
		snprintf(detail, sizeof(detail), "pid %lld", (long long)pid);
		if (vm > 0) {
			s->events++;
			vm_track(a, vm, true);
			agent_send(a, json_pack("{s:s, s:I, s:s, s:s}", "type", "event", "vm", vm,
						"event", "started", "detail", detail));
		}
		result = json_pack("{s:I}", "pid", pid);
	} else if (strcmp(op, "vm.stop") == 0 || strcmp(op, "vm.shutdown") == 0) {
		json_int_t vm = json_integer_value(json_object_get(args, "id"));
		if (vm > 0) {
			s->events++;
			vm_track(a, vm, false);
			agent_send(a, json_pack("{s:s, s:I, s:s, s:s}", "type", "event", "vm", vm,
						"event", "stopped", "detail", "simulated"));
		}
		result = json_object();
	} else {
		if (s->defines != NULL && strcmp(op, "vm.define") == 0) {
			/* As received, keys in their order: what a real agent would define. */
			char *line = json_dumps(args, JSON_COMPACT | JSON_PRESERVE_ORDER);
			if (line != NULL) {
				fprintf(s->defines, "%s\n", line);
				fflush(s->defines);
				free(line);
			}
		}
		result = json_object();
	}
	agent_send(a, json_pack("{s:s, s:I, s:b, s:o}", "type", "reply", "id", id, "ok", 1,
				"result", result));
}

static void
on_welcome(struct agent *a, json_t *msg)
{
	struct sim *s = a->sim;
	json_int_t every = json_integer_value(json_object_get(msg, "heartbeat_interval"));
	struct timeval tv = {every > 0 ? (time_t)every : 1, 0};

	if (a->state != AGENT_HELLO_SENT) {
		log_warn("%s: unexpected welcome", a->name);
		return;
	}
	a->epoch = json_integer_value(json_object_get(msg, "epoch"));
	a->state = AGENT_UP;
	s->handshaking--;
	s->up++;
	/* Links come up at different times, so the heartbeats are spread over the second. */
	evtimer_add(a->heartbeat, &tv);
	if (s->stats_interval > 0) {
		struct timeval stats_every = {s->stats_interval, 0};
		if (a->stats_timer == NULL)
			a->stats_timer = event_new(s->base, -1, EV_PERSIST, on_stats, a);
		if (a->stats_timer != NULL)
			evtimer_add(a->stats_timer, &stats_every);
	}
	if (!s->ready_said && (size_t)s->up == s->n) {
		s->ready_said = true;
		printf("ready %d\n", s->up);
		fflush(stdout);
	}
	start_more(s);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct agent *a = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char why[256];

	for (;;) {
		json_t *msg = NULL;
		switch (jsonl_read(in, &msg, why, sizeof(why))) {
		case JSONL_AGAIN:
			return;
		case JSONL_TOO_LONG:
			agent_drop(a, "line too long");
			return;
		case JSONL_BAD:
			a->sim->errors++;
			log_warn("%s: bad line from the controller: %s", a->name, why);
			continue;
		case JSONL_OK:
			break;
		}
		switch (proto_check(PROTO_FROM_CONTROLLER, msg, why, sizeof(why))) {
		case PROTO_WELCOME:
			on_welcome(a, msg);
			break;
		case PROTO_COMMAND:
			on_command(a, msg);
			break;
		case PROTO_BEAT: /* the controller's heartbeat echo (failover): nothing to do */
			break;
		case PROTO_ERROR:
			a->sim->errors++;
			log_warn("%s: controller says %s: %s", a->name,
				 json_string_value(json_object_get(msg, "code")),
				 json_string_value(json_object_get(msg, "message")));
			break;
		default:
			a->sim->errors++;
			log_warn("%s: bad message from the controller: %s", a->name, why);
			break;
		}
		json_decref(msg);
		if (a->bev == NULL)
			return;
	}
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct agent *a = arg;
	char reason[256];

	if (what & BEV_EVENT_CONNECTED) {
		send_hello(a);
		return;
	}
	unsigned long e = bufferevent_get_openssl_error(bev);
	if (e != 0)
		ERR_error_string_n(e, reason, sizeof(reason));
	else
		snprintf(reason, sizeof(reason), "%s",
			 what & BEV_EVENT_EOF
				 ? "closed by the controller"
				 : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	agent_drop(a, reason);
}

static void
agent_connect(struct agent *a)
{
	struct sim *s = a->sim;
	SSL *ssl = SSL_new(s->tls);

	if (ssl == NULL || SSL_use_certificate(ssl, a->cert) != 1 ||
	    SSL_use_PrivateKey(ssl, a->key) != 1) {
		log_error("%s: cannot set up a TLS session", a->name);
		SSL_free(ssl);
		exit(1);
	}
	/* The listener's certificate must name the address we dial, as for a real agent. */
	X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
	if (X509_VERIFY_PARAM_set1_ip_asc(param, s->host) != 1)
		X509_VERIFY_PARAM_set1_host(param, s->host, 0);
	a->bev = bufferevent_openssl_socket_new(s->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (a->bev == NULL) {
		SSL_free(ssl);
		log_error("%s: cannot create a connection", a->name);
		exit(1);
	}
	a->state = AGENT_CONNECTING;
	s->handshaking++;
	bufferevent_setcb(a->bev, on_read, NULL, on_event, a);
	bufferevent_enable(a->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(a->bev, (struct sockaddr *)&s->addr, s->addrlen) != 0 &&
	    a->bev != NULL)
		agent_drop(a, "cannot start connecting");
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;

	if (a->sim->handshaking >= a->sim->max_handshaking) {
		struct timeval tv = {0, 200000};
		evtimer_add(a->retry, &tv);
		return;
	}
	agent_connect(a);
}

static void
on_status(evutil_socket_t fd, short what, void *arg)
{
	struct sim *s = arg;

	printf("status up=%d handshaking=%d commands=%llu events=%llu heartbeats=%llu "
	       "errors=%llu drops=%llu\n",
	       s->up, s->handshaking, s->commands, s->events, s->heartbeats, s->errors, s->drops);
	fflush(stdout);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static int
cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Every NAME.crt of dir with its NAME.key, in name order, at most max (0: all). */
static bool
load_agents(struct sim *s, const char *dir, size_t max)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (d == NULL) {
		log_error("%s: %s", dir, strerror(errno));
		return false;
	}
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len < 5 || len > 60 || strcmp(e->d_name + len - 4, ".crt") != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			names = realloc(names, cap * sizeof(*names));
			if (names == NULL)
				abort();
		}
		names[n++] = strndup(e->d_name, len - 4);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	if (max != 0 && n > max) {
		for (size_t i = max; i < n; i++)
			free(names[i]);
		n = max;
	}
	s->agents = calloc(n ? n : 1, sizeof(*s->agents));
	if (s->agents == NULL)
		abort();
	for (size_t i = 0; i < n; i++) {
		struct agent *a = &s->agents[i];
		char path[PATH_MAX];
		FILE *f;

		a->sim = s;
		snprintf(a->name, sizeof(a->name), "%s", names[i]);
		snprintf(path, sizeof(path), "%s/%s.crt", dir, names[i]);
		if ((f = fopen(path, "r")) != NULL) {
			a->cert = PEM_read_X509(f, NULL, NULL, NULL);
			fclose(f);
		}
		snprintf(path, sizeof(path), "%s/%s.key", dir, names[i]);
		if ((f = fopen(path, "r")) != NULL) {
			a->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
			fclose(f);
		}
		if (a->cert == NULL || a->key == NULL) {
			log_error("%s/%s: cannot read the .crt/.key pair", dir, names[i]);
			return false;
		}
		a->heartbeat = event_new(s->base, -1, EV_PERSIST, on_heartbeat, a);
		a->retry = evtimer_new(s->base, on_retry, a);
		a->next_pid = 1000;
		free(names[i]);
	}
	free(names);
	s->n = n;
	return n > 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: simagents -c HOST:PORT -a CA.crt -d DIR [-n N] [-j PARALLEL] "
			"[--cores N] [--ram-mb MB] [--free-gb GB] [--stats SECONDS] "
			"[--record-defines FILE] [-v]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"cores", required_argument, NULL, 'C'},
		{"ram-mb", required_argument, NULL, 'R'},
		{"free-gb", required_argument, NULL, 'G'},
		{"stats", required_argument, NULL, 'S'},
		{"record-defines", required_argument, NULL, 'D'},
		{NULL, 0, NULL, 0},
	};
	struct sim s = {.max_handshaking = 32, .cores = 64, .ram_mb = 262144, .free_gb = 1000000};
	const char *connect_to = NULL, *ca = NULL, *dir = NULL;
	size_t max = 0;
	char why[256];
	int ch;

	log_open("simagents", false);
	log_set_level(LOG_LVL_WARN);
	while ((ch = getopt_long(argc, argv, "c:a:d:n:j:v", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			connect_to = optarg;
			break;
		case 'a':
			ca = optarg;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'n':
			max = (size_t)strtoul(optarg, NULL, 10);
			break;
		case 'j':
			s.max_handshaking = atoi(optarg) > 0 ? atoi(optarg) : 1;
			break;
		case 'C':
			s.cores = atoi(optarg);
			break;
		case 'R':
			s.ram_mb = strtoll(optarg, NULL, 10);
			break;
		case 'G':
			s.free_gb = strtoll(optarg, NULL, 10);
			break;
		case 'S':
			s.stats_interval = atoi(optarg);
			break;
		case 'D':
			s.defines = fopen(optarg, "a");
			if (s.defines == NULL) {
				log_error("%s: %s", optarg, strerror(errno));
				return 1;
			}
			break;
		case 'v':
			log_set_level(LOG_LVL_DEBUG);
			break;
		default:
			usage();
		}
	}
	if (connect_to == NULL || ca == NULL || dir == NULL || s.cores < 1)
		usage();

	/* One socket per agent: make sure the descriptor limit allows them all. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);

	const char *colon = strrchr(connect_to, ':');
	if (colon == NULL || (size_t)(colon - connect_to) >= sizeof(s.host))
		usage();
	snprintf(s.host, sizeof(s.host), "%.*s", (int)(colon - connect_to), connect_to);
	if (s.host[0] == '[') {
		memmove(s.host, s.host + 1, strlen(s.host));
		s.host[strcspn(s.host, "]")] = '\0';
	}
	s.addrlen = sizeof(s.addr);
	if (evutil_parse_sockaddr_port(connect_to, (struct sockaddr *)&s.addr, &s.addrlen) != 0) {
		log_error("-c %s: not a numeric HOST:PORT", connect_to);
		return 1;
	}
	s.tls = tls_client_ctx(NULL, NULL, ca, why, sizeof(why));
	if (s.tls == NULL) {
		log_error("%s", why);
		return 1;
	}
	s.base = event_base_new();
	if (s.base == NULL || !load_agents(&s, dir, max))
		return 1;
	if (rl.rlim_cur < s.n + 64)
		log_warn("only %llu file descriptors for %zu agents",
			 (unsigned long long)rl.rlim_cur, s.n);

	struct event *sigint = evsignal_new(s.base, SIGINT, on_signal, s.base);
	struct event *sigterm = evsignal_new(s.base, SIGTERM, on_signal, s.base);
	struct timeval every = {STATUS_SECONDS, 0};
	s.status_timer = event_new(s.base, -1, EV_PERSIST, on_status, &s);
	evsignal_add(sigint, NULL);
	evsignal_add(sigterm, NULL);
	evtimer_add(s.status_timer, &every);
	printf("starting %zu agents\n", s.n);
	fflush(stdout);
	start_more(&s);
	event_base_dispatch(s.base);

	on_status(-1, 0, &s);
	for (size_t i = 0; i < s.n; i++) {
		struct agent *a = &s.agents[i];
		if (a->bev != NULL)
			bufferevent_free(a->bev);
		event_free(a->heartbeat);
		if (a->stats_timer != NULL)
			event_free(a->stats_timer);
		free(a->vms);
		event_free(a->retry);
		X509_free(a->cert);
		EVP_PKEY_free(a->key);
	}
	free(s.agents);
	event_free(s.status_timer);
	event_free(sigint);
	event_free(sigterm);
	SSL_CTX_free(s.tls);
	event_base_free(s.base);
	return 0;
}
