/*
 * The ARP/NDP sniffers of the node agent: one libpcap handle per guest tap, reading only frames
 * the guest sent (PCAP_D_IN on the tap) through a BPF filter for ARP and neighbour
 * solicitations/advertisements, nonblocking on the agent's event loop. A frame is attributed by
 * the tap it came through, never by a MAC in it. Claimed addresses (common/netframe.c) are
 * deduplicated per tap and sent to the controller as one "ips" message per batch interval;
 * per-tap frame budgets and claim token buckets plus a per-batch cap keep a flooding guest from
 * costing more than bounded CPU, link bytes and database rows. What is dropped is counted and
 * logged.
 */
#ifndef WEBRACK_SNIFFER_H
#define WEBRACK_SNIFFER_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

struct link;
struct sniffers;
struct vm_spec;

#define SNIFFER_FILTER	     "arp or (icmp6 and (ip6[40] == 135 or ip6[40] == 136))"
#define SNIFFER_BATCH_MS     200   /* a new address reaches the controller within this */
#define SNIFFER_CLAIM_RATE   20	   /* claims (new or refreshed) per second and tap ... */
#define SNIFFER_CLAIM_BURST  40	   /* ... with this burst */
#define SNIFFER_FRAME_BUDGET 20000 /* frames parsed per second and tap; more wait in the kernel */
#define SNIFFER_KNOWN_MAX    64	   /* addresses remembered per tap (least recently sent evicted) */
#define SNIFFER_DISPATCH_MAX 512   /* frames handled per wake-up of one tap */
#define SNIFFER_DROP_LOG_SEC 10	   /* drop summaries at most this often */

struct sniffer_counters {
	uint64_t frames;	/* frames read from all taps */
	uint64_t malformed;	/* refused by the parser */
	uint64_t claims_sent;	/* items sent to the controller */
	uint64_t rate_dropped;	/* claims over a tap's token bucket */
	uint64_t cap_dropped;	/* claims over the batch cap */
	uint64_t budget_pauses; /* times a tap hit its frame budget */
};

/* Owner: main(); lives as long as the agent. link may be NULL (then batches wait). */
/* refresh_sec: a known address seen again is re-sent at most this often (ip_refresh). */
struct sniffers *sniffers_new(struct event_base *base, int refresh_sec);
void sniffers_set_link(struct sniffers *sn, struct link *link);
void sniffers_free(struct sniffers *sn);

/*
 * The VM's QEMU runs with run (started or re-attached to): sniff on each of its taps not
 * sniffed yet. A tap that cannot be opened is logged and skipped. sn NULL: nothing.
 */
void sniffers_vm_up(struct sniffers *sn, const struct vm_spec *run);
/* The VM's QEMU is gone (before its taps are deleted). sn NULL: nothing. */
void sniffers_vm_down(struct sniffers *sn, int64_t vm);

void sniffers_counters(const struct sniffers *sn, struct sniffer_counters *out);

#endif
