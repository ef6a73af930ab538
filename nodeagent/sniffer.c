/*
 * ARP/NDP sniffing on guest taps (see sniffer.h for the why). Cost bounds, from the outside in:
 * the kernel runs the BPF filter and queues at most the pcap buffer; each tap is read at most
 * SNIFFER_DISPATCH_MAX frames per wake-up and SNIFFER_FRAME_BUDGET per second (then its read
 * event is paused until the next second, so a flood only fills the kernel buffer, whose drops
 * pcap counts); a claim that is already known and was sent within ip_refresh seconds costs a
 * lookup in a small table; new claims pass a token bucket per tap; a batch holds at most
 * PROTO_IPS_MAX items. So a guest flooding 100,000 frames of distinct addresses costs at most
 * SNIFFER_CLAIM_BURST + SNIFFER_CLAIM_RATE items per second on the link and in the database.
 */
#include "monotime.h"
#include "config.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>
#include <pcap/pcap.h>

#include "link.h"
#include "log.h"
#include "netframe.h"
#include "proto.h"
#include "sniffer.h"
#include "vmspec.h"

#define SNAPLEN	    256 /* ARP fits in 42 bytes, an NS/NA with options in a few more */
#define PCAP_BUFFER (256 * 1024)

struct known {
	int family;
	uint8_t addr[16];
	bool tentative;
	double sent; /* monotonic seconds */
};

/* One tap. Owner: its struct sniffers (list). */
struct tap_sniffer {
	struct tap_sniffer *next;
	struct sniffers *sn;
	int64_t vm;
	char name[IFNAMSIZ];
	pcap_t *pcap;
	struct event *read_ev;
	struct event *resume_ev; /* frame budget spent: read again next second */
	double tokens, tokens_at;
	int64_t budget_sec;
	unsigned budget_used;
	uint64_t frames;
	struct known known[SNIFFER_KNOWN_MAX];
	size_t nknown;
};

struct item {
	int64_t vm;
	int family;
	uint8_t addr[16];
	bool tentative;
};

struct sniffers {
	struct event_base *base;
	struct link *link;
	double refresh;
	struct tap_sniffer *taps;
	struct event *batch_ev;
	bool batch_armed;
	struct item pending[PROTO_IPS_MAX];
	size_t npending;
	uint64_t dropped_reported; /* reported in the next batch's "dropped" */
	struct sniffer_counters c;
	struct sniffer_counters logged; /* as of the last drop summary */
	double last_drop_log;
};

static void
arm_batch(struct sniffers *sn, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (sn->batch_armed)
		return;
	evtimer_add(sn->batch_ev, &tv);
	sn->batch_armed = true;
}

static void
log_drops(struct sniffers *sn, double now)
{
	struct sniffer_counters *c = &sn->c, *l = &sn->logged;

	if (now - sn->last_drop_log < SNIFFER_DROP_LOG_SEC)
		return;
	if (c->rate_dropped == l->rate_dropped && c->cap_dropped == l->cap_dropped &&
	    c->budget_pauses == l->budget_pauses && c->malformed == l->malformed)
		return;
	log_warn("guest address sniffing: %llu frame(s) read, %llu malformed, %llu claim(s) over "
		 "the per-tap rate, %llu over the batch cap, %llu frame-budget pause(s) (since "
		 "start)",
		 (unsigned long long)c->frames, (unsigned long long)c->malformed,
		 (unsigned long long)c->rate_dropped, (unsigned long long)c->cap_dropped,
		 (unsigned long long)c->budget_pauses);
	sn->logged = *c;
	sn->last_drop_log = now;
}

static void
on_batch(evutil_socket_t fd, short what, void *arg)
{
	struct sniffers *sn = arg;
	char text[INET6_ADDRSTRLEN];
	(void)fd;
	(void)what;

	sn->batch_armed = false;
	log_drops(sn, now_mono());
	if (sn->npending == 0)
		return;
	if (sn->link == NULL || !link_is_up(sn->link)) {
		arm_batch(sn, 1000); /* keep them (the batch is capped) until the link is back */
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; items != NULL && i < sn->npending; i++) {
		const struct item *it = &sn->pending[i];
		struct netframe_claim c = {.family = it->family};
		memcpy(c.addr, it->addr, sizeof(c.addr));
		json_array_append_new(items, json_pack("{s:I, s:s, s:s, s:b}", "vm",
						       (json_int_t)it->vm, "family",
						       netframe_family_name(it->family), "address",
						       netframe_addr_text(&c, text, sizeof(text)),
						       "tentative", it->tentative));
	}
	uint64_t dropped = sn->c.rate_dropped + sn->c.cap_dropped - sn->dropped_reported;
	json_t *msg = json_pack("{s:s, s:o, s:I}", "type", "ips", "items", items, "dropped",
				(json_int_t)dropped);
	if (link_send_ips(sn->link, msg)) {
		sn->c.claims_sent += sn->npending;
		sn->dropped_reported = sn->c.rate_dropped + sn->c.cap_dropped;
	} else {
		log_warn("%zu guest address(es) not sent: the link refused the batch",
			 sn->npending);
	}
	sn->npending = 0;
}

static struct known *
known_find(struct tap_sniffer *t, const struct netframe_claim *c)
{
	size_t n = c->family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < t->nknown; i++)
		if (t->known[i].family == c->family && memcmp(t->known[i].addr, c->addr, n) == 0)
			return &t->known[i];
	return NULL;
}

/* A slot for a new address: a free one, else the least recently sent. */
static struct known *
known_slot(struct tap_sniffer *t)
{
	if (t->nknown < SNIFFER_KNOWN_MAX)
		return &t->known[t->nknown++];
	struct known *old = &t->known[0];
	for (size_t i = 1; i < t->nknown; i++)
		if (t->known[i].sent < old->sent)
			old = &t->known[i];
	return old;
}

static bool
take_token(struct tap_sniffer *t, double now)
{
	t->tokens += (now - t->tokens_at) * SNIFFER_CLAIM_RATE;
	t->tokens_at = now;
	if (t->tokens > SNIFFER_CLAIM_BURST)
		t->tokens = SNIFFER_CLAIM_BURST;
	if (t->tokens < 1.0)
		return false;
	t->tokens -= 1.0;
	return true;
}

static void
on_frame(u_char *arg, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct tap_sniffer *t = (struct tap_sniffer *)arg;
	struct sniffers *sn = t->sn;
	struct netframe_claim c;
	const char *why;
	char text[INET6_ADDRSTRLEN];

	sn->c.frames++;
	t->frames++;
	t->budget_used++;
	int rc = netframe_parse(bytes, h->caplen, &c, &why);
	if (rc < 0) {
		sn->c.malformed++;
		log_debug("%s (vm-%lld): malformed frame: %s", t->name, (long long)t->vm, why);
		return;
	}
	/* A tagged frame belongs to another L2 segment than the tap's: nothing to learn. */
	if (rc == 0 || c.vlan != 0)
		return;
	double now = now_mono();
	struct known *k = known_find(t, &c);
	if (k != NULL && now - k->sent < sn->refresh && (c.tentative || !k->tentative))
		return; /* sent recently, and not a probe that now turned into use */
	if (!take_token(t, now)) {
		sn->c.rate_dropped++;
		return;
	}
	if (sn->npending >= PROTO_IPS_MAX) {
		sn->c.cap_dropped++;
		return;
	}
	if (k == NULL) {
		log_info("vm-%lld: %s %s%s seen on %s (%s, frame time %lld.%06ld)",
			 (long long)t->vm, netframe_family_name(c.family),
			 netframe_addr_text(&c, text, sizeof(text)),
			 c.tentative ? " (tentative)" : "", t->name, netframe_kind_name(c.kind),
			 (long long)h->ts.tv_sec, (long)h->ts.tv_usec);
		k = known_slot(t);
		k->family = c.family;
		memcpy(k->addr, c.addr, sizeof(k->addr));
	}
	k->tentative = c.tentative;
	k->sent = now;
	struct item *it = &sn->pending[sn->npending++];
	it->vm = t->vm;
	it->family = c.family;
	memcpy(it->addr, c.addr, sizeof(it->addr));
	it->tentative = c.tentative;
	arm_batch(sn, SNIFFER_BATCH_MS);
}

static void tap_close(struct tap_sniffer *t, const char *reason);

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct tap_sniffer *t = arg;
	(void)fd;
	(void)what;

	event_add(t->read_ev, NULL);
}

static void
on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct tap_sniffer *t = arg;
	int64_t sec = (int64_t)now_mono();
	(void)fd;
	(void)what;

	if (sec != t->budget_sec) {
		t->budget_sec = sec;
		t->budget_used = 0;
	}
	int n = pcap_dispatch(t->pcap, SNIFFER_DISPATCH_MAX, on_frame, (u_char *)t);
	if (n == PCAP_ERROR) {
		/* The tap went away under us (QEMU gone, tap deleted): stop sniffing it. */
		tap_close(t, pcap_geterr(t->pcap));
		return;
	}
	if (t->budget_used >= SNIFFER_FRAME_BUDGET) {
		struct timeval tv = {0, 1000000 - (long)((now_mono() - (double)sec) * 1e6)};
		if (tv.tv_usec <= 0 || tv.tv_usec > 1000000)
			tv.tv_usec = 1000;
		t->sn->c.budget_pauses++;
		event_del(t->read_ev);
		evtimer_add(t->resume_ev, &tv);
	}
}

static void
tap_free(struct tap_sniffer *t)
{
	if (t->read_ev)
		event_free(t->read_ev);
	if (t->resume_ev)
		event_free(t->resume_ev);
	if (t->pcap)
		pcap_close(t->pcap);
	free(t);
}

static void
tap_close(struct tap_sniffer *t, const char *reason)
{
	struct pcap_stat ps = {0};

	for (struct tap_sniffer **pp = &t->sn->taps; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	/* ps_drop: frames the kernel dropped because we did not read them in time. */
	(void)pcap_stats(t->pcap, &ps);
	log_info("%s (vm-%lld): sniffer closed (%s): %llu frame(s) read, %u dropped by the kernel",
		 t->name, (long long)t->vm, reason, (unsigned long long)t->frames, ps.ps_drop);
	tap_free(t);
}

static int
tap_open(struct sniffers *sn, int64_t vm, const char *name)
{
	char err[PCAP_ERRBUF_SIZE] = "";
	struct bpf_program prog;
	struct tap_sniffer *t = calloc(1, sizeof(*t));
	int rc;

	if (t == NULL)
		return -1;
	t->sn = sn;
	t->vm = vm;
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->tokens = SNIFFER_CLAIM_BURST;
	t->tokens_at = now_mono();
	t->pcap = pcap_create(name, err);
	if (t->pcap == NULL)
		goto fail;
	/* Immediate mode: a frame is handed over when it arrives, not when a block fills. */
	if (pcap_set_snaplen(t->pcap, SNAPLEN) != 0 || pcap_set_immediate_mode(t->pcap, 1) != 0 ||
	    pcap_set_buffer_size(t->pcap, PCAP_BUFFER) != 0 || pcap_set_promisc(t->pcap, 0) != 0)
		goto fail_pcap;
	rc = pcap_activate(t->pcap);
	if (rc < 0)
		goto fail_pcap;
	/* Only what the guest sent: frames the bridge forwards to the guest are someone else's. */
	if (pcap_setdirection(t->pcap, PCAP_D_IN) != 0 ||
	    pcap_compile(t->pcap, &prog, SNIFFER_FILTER, 1, PCAP_NETMASK_UNKNOWN) != 0)
		goto fail_pcap;
	rc = pcap_setfilter(t->pcap, &prog);
	pcap_freecode(&prog);
	if (rc != 0 || pcap_setnonblock(t->pcap, 1, err) != 0)
		goto fail_pcap;
	int fd = pcap_get_selectable_fd(t->pcap);
	if (fd < 0) {
		snprintf(err, sizeof(err), "no selectable descriptor");
		goto fail;
	}
	t->read_ev = event_new(sn->base, fd, EV_READ | EV_PERSIST, on_readable, t);
	t->resume_ev = evtimer_new(sn->base, on_resume, t);
	if (t->read_ev == NULL || t->resume_ev == NULL || event_add(t->read_ev, NULL) != 0) {
		snprintf(err, sizeof(err), "cannot watch its descriptor");
		goto fail;
	}
	t->next = sn->taps;
	sn->taps = t;
	log_info("%s (vm-%lld): sniffing ARP/NDP", name, (long long)vm);
	return 0;
fail_pcap:
	snprintf(err, sizeof(err), "%s", pcap_geterr(t->pcap));
fail:
	log_warn("%s (vm-%lld): cannot sniff guest addresses: %s", name, (long long)vm, err);
	tap_free(t);
	return -1;
}

struct sniffers *
sniffers_new(struct event_base *base, int refresh_sec)
{
	struct sniffers *sn = calloc(1, sizeof(*sn));

	if (sn == NULL)
		return NULL;
	sn->base = base;
	sn->refresh = refresh_sec;
	sn->batch_ev = evtimer_new(base, on_batch, sn);
	if (sn->batch_ev == NULL) {
		free(sn);
		return NULL;
	}
	return sn;
}

void
sniffers_set_link(struct sniffers *sn, struct link *link)
{
	if (sn != NULL)
		sn->link = link;
}

void
sniffers_vm_up(struct sniffers *sn, const struct vm_spec *run)
{
	if (sn == NULL)
		return;
	for (size_t i = 0; i < run->nnics; i++) {
		bool have = false;
		for (struct tap_sniffer *t = sn->taps; t != NULL; t = t->next)
			have = have || strcmp(t->name, run->nics[i].tap) == 0;
		if (!have)
			(void)tap_open(sn, run->id, run->nics[i].tap);
	}
}

void
sniffers_vm_down(struct sniffers *sn, int64_t vm)
{
	if (sn == NULL)
		return;
	for (struct tap_sniffer *t = sn->taps, *next; t != NULL; t = next) {
		next = t->next;
		if (t->vm == vm)
			tap_close(t, "the VM stopped");
	}
	/* Claims of that VM still pending stay: they were true when seen. */
}

void
sniffers_counters(const struct sniffers *sn, struct sniffer_counters *out)
{
	*out = sn->c;
}

void
sniffers_free(struct sniffers *sn)
{
	if (sn == NULL)
		return;
	while (sn->taps != NULL) {
		struct tap_sniffer *t = sn->taps;
		sn->taps = t->next;
		tap_free(t);
	}
	event_free(sn->batch_ev);
	free(sn);
}
