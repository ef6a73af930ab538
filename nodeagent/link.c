/*
 * The agent side of the agent link (docs/ARCHITECTURE.md, "Link protocol"). One struct link for
 * the agent's lifetime; each connection attempt gets a fresh bufferevent and a new generation
 * number, so a reply computed for a connection that is gone is never sent on its successor.
 *
 * States: IDLE (waiting to reconnect) -> CONNECTING (TCP + TLS) -> HELLO_SENT (waiting for the
 * welcome) -> UP (heartbeats, commands). Every failure goes through link_drop() with a reason that
 * is logged once, and leads back to IDLE with the backoff doubled.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/buffer.h>
#include <event2/dns.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "agent_settings.h"
#include "commands.h"
#include "fence.h"
#include "jsonl.h"
#include "link.h"
#include "log.h"
#include "proto.h"
#include "tls.h"

#define BACKOFF_MIN_MS	  500
#define BACKOFF_MAX_MS	  10000
#define WELCOME_TIMEOUT_S 10
#define OUTPUT_MAX_BYTES  (8 * 1024 * 1024)
#define EPOCH_FILE	  "epoch"

enum link_state {
	LINK_IDLE,
	LINK_CONNECTING,
	LINK_HELLO_SENT,
	LINK_UP,
};

/* Owner: main.c (link_new / link_free). */
struct link {
	struct event_base *base;
	const struct agent_settings *settings;
	struct link_callbacks cb;
	SSL_CTX *tls;
	struct evdns_base *dns;
	char host[256];
	int port;
	char epoch_path[PATH_MAX];

	enum link_state state;
	struct bufferevent *bev; /* NULL unless CONNECTING, HELLO_SENT or UP */
	unsigned generation;
	int backoff_ms;
	long long heartbeat_seq;
	long long epoch;

	struct event *retry_timer;
	struct event *welcome_timer;
	struct event *heartbeat_timer;

	time_t error_window_start; /* CLOCK_MONOTONIC seconds */
	int error_count;
	struct fence *fence; /* told of heartbeats sent and echoed, and of revoked VMs */
};

static void link_connect(struct link *link);

static time_t
mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* ---- epoch: the fencing token, durable before any command that carries it runs ---- */

static bool
epoch_load(const char *path, long long *epoch, char *why, size_t whylen)
{
	char buf[32];
	FILE *f = fopen(path, "re");

	*epoch = 0;
	if (f == NULL) {
		if (errno == ENOENT)
			return true;
		snprintf(why, whylen, "cannot open %s: %s", path, strerror(errno));
		return false;
	}
	bool ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	char *end;
	errno = 0;
	long long v = ok ? strtoll(buf, &end, 10) : -1;
	/*
	 * A damaged file must not silently become 0: that would let a stale leader command us.
	 * The admin has to look at it (and remove it only when sure).
	 */
	if (!ok || errno != 0 || end == buf || (*end != '\n' && *end != '\0') || v < 0) {
		snprintf(why, whylen,
			 "%s is damaged; fix or remove it (epoch = highest command "
			 "epoch accepted)",
			 path);
		return false;
	}
	*epoch = v;
	return true;
}

static bool
epoch_store(struct link *link, long long epoch)
{
	char tmp[PATH_MAX + 8], text[32];
	int n = snprintf(text, sizeof(text), "%lld\n", epoch);
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", link->epoch_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text, (size_t)n) != n || fsync(fd) != 0) {
		log_error("cannot write %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	close(fd);
	if (rename(tmp, link->epoch_path) != 0) {
		log_error("cannot rename %s: %s", tmp, strerror(errno));
		return false;
	}
	int dfd = open(link->settings->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	log_info("epoch %lld -> %lld", link->epoch, epoch);
	link->epoch = epoch;
	return true;
}

/* ---- sending ---- */

static bool
link_send(struct link *link, json_t *msg)
{
	bool ok = false;

	if (link->bev == NULL || msg == NULL) {
		json_decref(msg);
		return false;
	}
	struct evbuffer *out = bufferevent_get_output(link->bev);
	if (evbuffer_get_length(out) > OUTPUT_MAX_BYTES)
		log_warn("controller does not read: %zu bytes queued", evbuffer_get_length(out));
	else if (!jsonl_write(out, msg))
		log_error("cannot encode a '%s' message",
			  json_string_value(json_object_get(msg, "type")));
	else
		ok = true;
	json_decref(msg);
	return ok;
}

/* Messages must not carry control characters (the schema refuses them); replace them. */
static json_t *
clean_string(const char *s)
{
	char buf[PROTO_MESSAGE_MAX + 1];
	size_t n = 0;

	for (; s != NULL && *s != '\0' && n < PROTO_MESSAGE_MAX; s++)
		buf[n++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? ' ' : *s;
	buf[n] = '\0';
	/* Truncation may split a UTF-8 sequence; json_string refuses that, so fall back. */
	json_t *v = json_string(buf);
	return v != NULL ? v : json_string("(message not valid UTF-8)");
}

static void
send_error(struct link *link, const char *code, const char *message)
{
	link_send(link, json_pack("{s:s, s:s, s:o}", "type", "error", "code", code, "message",
				  clean_string(message)));
}

bool
link_send_reply(struct link *link, unsigned generation, long long id, json_t *result,
		const char *code, const char *message)
{
	json_t *msg;

	if (link->state != LINK_UP || generation != link->generation) {
		log_debug("reply to command %lld dropped: its connection is gone", id);
		json_decref(result);
		return false;
	}
	if (code == NULL)
		msg = json_pack("{s:s, s:I, s:b, s:o}", "type", "reply", "id", (json_int_t)id, "ok",
				1, "result", result != NULL ? result : json_object());
	else
		msg = json_pack("{s:s, s:I, s:b, s:{s:s, s:o}}", "type", "reply", "id",
				(json_int_t)id, "ok", 0, "error", "code", code, "message",
				clean_string(message));
	return link_send(link, msg);
}

bool
link_send_event(struct link *link, long long vm, const char *event, const char *detail)
{
	if (link->state != LINK_UP) {
		log_debug("event %s of vm %lld not sent: link down", event, vm);
		return false;
	}
	return link_send(link,
			 json_pack("{s:s, s:I, s:s, s:o}", "type", "event", "vm", (json_int_t)vm,
				   "event", event, "detail", clean_string(detail)));
}

bool
link_send_stats(struct link *link, json_t *msg)
{
	if (link->state != LINK_UP) {
		json_decref(msg);
		return false;
	}
	return link_send(link, msg);
}

bool
link_send_ips(struct link *link, json_t *msg)
{
	return link_send_stats(link, msg); /* the same rule: only while up, else dropped */
}

void
link_set_fence(struct link *link, struct fence *fence)
{
	link->fence = fence;
}

bool
link_is_up(const struct link *link)
{
	return link->state == LINK_UP;
}

long long
link_epoch(const struct link *link)
{
	return link->epoch;
}

/* ---- connection teardown and reconnect ---- */

static void
link_drop(struct link *link, const char *reason)
{
	struct timeval tv = {link->backoff_ms / 1000, (link->backoff_ms % 1000) * 1000};

	log_warn("controller %s:%d: %s; reconnecting in %d.%d s", link->host, link->port, reason,
		 link->backoff_ms / 1000, link->backoff_ms % 1000 / 100);
	if (link->bev != NULL) {
		bufferevent_free(link->bev);
		link->bev = NULL;
	}
	evtimer_del(link->welcome_timer);
	evtimer_del(link->heartbeat_timer);
	link->state = LINK_IDLE;
	link->generation++;
	evtimer_add(link->retry_timer, &tv);
	link->backoff_ms *= 2;
	if (link->backoff_ms > BACKOFF_MAX_MS)
		link->backoff_ms = BACKOFF_MAX_MS;
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	link_connect(arg);
}

static void
on_welcome_timeout(evutil_socket_t fd, short what, void *arg)
{
	link_drop(arg, "no welcome within 10 s");
}

static void
on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct link *link = arg;
	long long seq = link->heartbeat_seq++;

	if (link_send(link, json_pack("{s:s, s:I}", "type", "heartbeat", "seq", (json_int_t)seq)))
		fence_heartbeat_sent(link->fence, seq);
}

/* ---- receiving ---- */

/* Count a bad message; false when the controller has sent too many and the link was dropped. */
static bool
count_error(struct link *link, const char *why)
{
	time_t now = mono_seconds();

	if (now - link->error_window_start >= 60) {
		link->error_window_start = now;
		link->error_count = 0;
	}
	/* The first few name the problem; a flood must not flood the log as well. */
	if (link->error_count < 5)
		log_warn("controller %s:%d sent a bad message: %s", link->host, link->port, why);
	else if (link->error_count == 5)
		log_warn("controller %s:%d: more bad messages; not logging them for a minute",
			 link->host, link->port);
	if (++link->error_count > LINK_MAX_ERRORS_PER_MINUTE) {
		link_drop(link, "more than 100 bad messages in a minute");
		return false;
	}
	send_error(link, "invalid", why);
	return true;
}

static void
handle_welcome(struct link *link, const json_t *msg)
{
	long long epoch = json_integer_value(json_object_get(msg, "epoch"));
	long long interval = json_integer_value(json_object_get(msg, "heartbeat_interval"));
	struct timeval tv = {interval, 0};

	/* Declared dead while away: forget those VMs before taking the new epoch. */
	fence_revoke(link->fence, json_object_get(msg, "revoked"));
	if (epoch > link->epoch && !epoch_store(link, epoch)) {
		link_drop(link, "cannot persist the epoch");
		return;
	}
	if (epoch < link->epoch)
		log_warn("controller welcomes us with epoch %lld, lower than the %lld we accepted; "
			 "its commands with a lower epoch will be refused",
			 epoch, link->epoch);
	evtimer_del(link->welcome_timer);
	link->state = LINK_UP;
	link->backoff_ms = BACKOFF_MIN_MS;
	link->heartbeat_seq = 0;
	event_del(link->heartbeat_timer);
	event_add(link->heartbeat_timer, &tv);
	log_info("link to controller %s:%d up (epoch %lld, heartbeat every %lld s)", link->host,
		 link->port, link->epoch, interval);
	on_heartbeat(-1, 0, link);
}

static void
handle_command(struct link *link, const json_t *msg)
{
	long long epoch = json_integer_value(json_object_get(msg, "epoch"));
	long long id = json_integer_value(json_object_get(msg, "id"));
	char text[200];

	if (epoch < link->epoch) {
		snprintf(text, sizeof(text), "command epoch %lld is lower than %lld", epoch,
			 link->epoch);
		log_warn("refusing command %lld (%s): %s", id,
			 json_string_value(json_object_get(msg, "op")), text);
		link_send_reply(link, link->generation, id, NULL, "stale_epoch", text);
		return;
	}
	if (epoch > link->epoch && !epoch_store(link, epoch)) {
		link_send_reply(link, link->generation, id, NULL, "internal",
				"cannot persist the epoch");
		return;
	}
	commands_dispatch(link, link->generation, msg, link->cb.arg);
}

/* One checked message; false when the link was dropped. */
static bool
handle_message(struct link *link, const json_t *msg, enum proto_type type)
{
	unsigned generation = link->generation;

	switch (type) {
	case PROTO_ERROR:
		log_warn("controller %s:%d reports %s: %s", link->host, link->port,
			 json_string_value(json_object_get(msg, "code")),
			 json_string_value(json_object_get(msg, "message")));
		return true;
	case PROTO_WELCOME:
		if (link->state == LINK_UP)
			return count_error(link, "unexpected second welcome");
		handle_welcome(link, msg);
		break;
	case PROTO_BEAT:
		if (link->state != LINK_UP)
			return count_error(link, "heartbeat before welcome");
		fence_heartbeat_echoed(link->fence,
				       json_integer_value(json_object_get(msg, "seq")));
		return true;
	case PROTO_COMMAND:
		if (link->state != LINK_UP) {
			link_drop(link, "command before welcome");
			return false;
		}
		handle_command(link, msg);
		break;
	default:
		return count_error(link, "message type not for agents");
	}
	return link->generation == generation;
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct link *link = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned generation = link->generation;

	while (link->bev != NULL && link->generation == generation) {
		char why[512];
		json_t *msg;
		enum jsonl_status st = jsonl_read(in, &msg, why, sizeof(why));

		if (st == JSONL_AGAIN)
			return;
		if (st == JSONL_TOO_LONG) {
			link_drop(link, why);
			return;
		}
		if (st == JSONL_BAD) {
			if (!count_error(link, why))
				return;
			continue;
		}
		enum proto_type type = proto_check(PROTO_FROM_CONTROLLER, msg, why, sizeof(why));
		bool go_on = type == PROTO_INVALID ? count_error(link, why)
						   : handle_message(link, msg, type);
		json_decref(msg);
		if (!go_on)
			return;
	}
}

static void
describe_failure(struct bufferevent *bev, short events, char *out, size_t len)
{
	unsigned long e = bufferevent_get_openssl_error(bev);
	int dns = bufferevent_socket_get_dns_error(bev);
	int err = EVUTIL_SOCKET_ERROR();

	if (dns != 0) {
		snprintf(out, len, "cannot resolve: %s", evutil_gai_strerror(dns));
	} else if (e != 0 && ERR_GET_LIB(e) != 0 &&
		   ERR_GET_REASON(e) != SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		char buf[256];
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		long verify = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
		ERR_error_string_n(e, buf, sizeof(buf));
		if (verify != X509_V_OK)
			snprintf(out, len, "TLS: controller certificate refused: %s",
				 X509_verify_cert_error_string(verify));
		else
			snprintf(out, len, "TLS: %s", buf);
		while (bufferevent_get_openssl_error(bev) != 0)
			;
	} else if ((events & BEV_EVENT_EOF) || e != 0) {
		/* An abrupt close (no close_notify) arrives as SSL_ERROR_SYSCALL or as EOF. */
		snprintf(out, len, "connection closed by the controller");
	} else if ((events & BEV_EVENT_TIMEOUT) && (events & BEV_EVENT_READING)) {
		/* The controller echoes every heartbeat: silence means a dead path (fence.c). */
		snprintf(out, len, "nothing heard from the controller in time");
	} else if (events & BEV_EVENT_TIMEOUT) {
		snprintf(out, len, "write timeout");
	} else if (err != 0) {
		snprintf(out, len, "%s", evutil_socket_error_to_string(err));
	} else {
		snprintf(out, len, "connection failed");
	}
}

static void
send_hello(struct link *link)
{
	json_t *inventory = link->cb.inventory ? link->cb.inventory(link->cb.arg) : NULL;
	json_t *vms = link->cb.vms ? link->cb.vms(link->cb.arg) : json_array();
	char why[256];
	json_t *hello = json_pack("{s:s, s:s, s:I, s:o, s:o}", "type", "hello", "version",
				  "webrack-node/" PACKAGE_VERSION, "epoch", (json_int_t)link->epoch,
				  "inventory", inventory, "vms", vms);

	/* Check our own message as the controller will: a bug here is better found here. */
	if (hello == NULL ||
	    proto_check(PROTO_FROM_AGENT, hello, why, sizeof(why)) != PROTO_HELLO) {
		log_error("hello does not pass its own schema: %s",
			  hello == NULL ? "cannot build it" : why);
		json_decref(hello);
		link_drop(link, "no valid hello");
		return;
	}
	link_send(link, hello);
	link->state = LINK_HELLO_SENT;
}

static void
on_event(struct bufferevent *bev, short events, void *arg)
{
	struct link *link = arg;
	char why[300];

	if (events & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		char cn[256] = "?";
		if (!tls_peer_cn(ssl, cn, sizeof(cn)))
			snprintf(cn, sizeof(cn), "?");
		log_info("connected to controller %s:%d (%s, certificate CN %s)", link->host,
			 link->port, SSL_get_version(ssl), cn);
		send_hello(link);
		return;
	}
	describe_failure(bev, events, why, sizeof(why));
	link_drop(link, why);
}

static bool
is_ip_literal(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static void
link_connect(struct link *link)
{
	SSL *ssl = SSL_new(link->tls);
	struct timeval write_tv = {link->settings->fence_after, 0};
	struct timeval welcome_tv = {WELCOME_TIMEOUT_S, 0};

	if (ssl == NULL) {
		link_drop(link, "cannot create a TLS session");
		return;
	}
	/* The controller's certificate must name the host or address we dial (SAN). */
	X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (is_ip_literal(link->host)) {
		X509_VERIFY_PARAM_set1_ip_asc(param, link->host);
	} else {
		X509_VERIFY_PARAM_set1_host(param, link->host, 0);
		SSL_set_tlsext_host_name(ssl, link->host);
	}
	link->bev = bufferevent_openssl_socket_new(link->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
						   BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (link->bev == NULL) {
		SSL_free(ssl);
		link_drop(link, "cannot create a connection");
		return;
	}
	link->state = LINK_CONNECTING;
	bufferevent_setcb(link->bev, on_read, NULL, on_event, link);
	/*
	 * A controller that stops reading for fence_after seconds is as good as gone; so is one we
	 * hear nothing from (it echoes every heartbeat): a connection that died silently, e.g. in
	 * a partition, is replaced instead of waiting for TCP to give up.
	 */
	bufferevent_set_timeouts(link->bev, &write_tv, &write_tv);
	bufferevent_enable(link->bev, EV_READ | EV_WRITE);
	evtimer_add(link->welcome_timer, &welcome_tv);
	log_debug("connecting to controller %s:%d", link->host, link->port);
	if (bufferevent_socket_connect_hostname(link->bev, link->dns, AF_UNSPEC, link->host,
						link->port) != 0 &&
	    link->bev != NULL)
		link_drop(link, "cannot start connecting");
}

/* ---- life cycle ---- */

struct link *
link_new(struct event_base *base, const struct agent_settings *s, const struct link_callbacks *cb,
	 char *why, size_t whylen)
{
	char cert[PATH_MAX], key[PATH_MAX], ca[PATH_MAX], inner[400];
	struct link *link = calloc(1, sizeof(*link));

	if (link == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	link->base = base;
	link->settings = s;
	link->cb = *cb;
	link->backoff_ms = BACKOFF_MIN_MS;
	if (!config_parse_hostport(s->controller, link->host, sizeof(link->host), &link->port) ||
	    !agent_settings_state_path(s, "node.crt", cert, sizeof(cert)) ||
	    !agent_settings_state_path(s, "node.key", key, sizeof(key)) ||
	    !agent_settings_state_path(s, "ca.crt", ca, sizeof(ca)) ||
	    !agent_settings_state_path(s, EPOCH_FILE, link->epoch_path, sizeof(link->epoch_path))) {
		snprintf(why, whylen, "bad controller address or state_dir");
		goto fail;
	}
	if (access(cert, F_OK) != 0) {
		snprintf(why, whylen,
			 "%s missing: this node has not joined yet (webrack-node join URL TOKEN)",
			 cert);
		goto fail;
	}
	link->tls = tls_client_ctx(cert, key, ca, inner, sizeof(inner));
	if (link->tls == NULL) {
		snprintf(why, whylen, "%s", inner);
		goto fail;
	}
	if (!epoch_load(link->epoch_path, &link->epoch, why, whylen))
		goto fail;
	link->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
						 EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (link->dns == NULL)
		link->dns = evdns_base_new(base, 0); /* no resolv.conf: IP addresses still work */
	link->retry_timer = evtimer_new(base, on_retry, link);
	link->welcome_timer = evtimer_new(base, on_welcome_timeout, link);
	link->heartbeat_timer = event_new(base, -1, EV_PERSIST, on_heartbeat, link);
	if (link->dns == NULL || link->retry_timer == NULL || link->welcome_timer == NULL ||
	    link->heartbeat_timer == NULL) {
		snprintf(why, whylen, "out of memory");
		goto fail;
	}
	return link;
fail:
	link_free(link);
	return NULL;
}

void
link_start(struct link *link)
{
	struct timeval now = {0, 0};

	evtimer_add(link->retry_timer, &now);
}

void
link_free(struct link *link)
{
	if (link == NULL)
		return;
	if (link->bev != NULL)
		bufferevent_free(link->bev);
	if (link->retry_timer)
		event_free(link->retry_timer);
	if (link->welcome_timer)
		event_free(link->welcome_timer);
	if (link->heartbeat_timer)
		event_free(link->heartbeat_timer);
	if (link->dns)
		evdns_base_free(link->dns, 0);
	SSL_CTX_free(link->tls);
	free(link);
}
