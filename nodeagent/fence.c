/*
 * Self-fencing. "Contact" is the send time of the last heartbeat the controller echoed: the
 * controller received that heartbeat after we sent it, so it has heard from us at least that
 * late, and it declares us dead only failover_after (> fence_after + failover_margin) after its
 * last receipt. Our deadline, contact + fence_after, therefore always comes first, whatever the
 * network delays, and by the controller's deadline our guests are gone. Commands and welcomes do
 * not count as contact: a controller that can send but no longer hears us is about to fail us
 * over.
 *
 * A timer looks every FENCE_TICK_MS; an echo also looks before it refreshes the contact, so an
 * agent that was frozen (SIGSTOP, a hung disk) fences at once when it runs again, before any
 * message it finds waiting can make it believe it is in contact. Killed guests are left stopped
 * (no crash restart); the controller decides what runs where when we are back.
 *
 * The watchdog is armed at the first contact (a node that boots while the controller is away
 * must not reset in a loop), gets fence_after as its timeout and is fed only when contact is
 * refreshed, so a hung agent or a lost controller resets the node when the fence would have
 * killed the guests. Stopping the agent writes the magic 'V' and disarms it.
 */
#include "monotime.h"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/watchdog.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "agent_settings.h"
#include "fence.h"
#include "log.h"
#include "vm.h"

#define FENCE_TICK_MS 100
#define SENT_RING     64 /* heartbeats in flight we can match an echo to */
#define REVOKING_MAX  4096

/* Owner: main.c (fence_new / fence_free). */
struct fence {
	const struct agent_settings *s;
	struct vms *vms;
	double contact; /* CLOCK_MONOTONIC seconds */
	bool fenced;
	bool ever_contact;
	struct {
		long long seq;
		double at;
	} sent[SENT_RING];
	struct event *tick;
	int wd_fd;			/* -1: no watchdog (not configured, or not armed yet) */
	int64_t revoking[REVOKING_MAX]; /* revoked VMs whose QEMU has yet to exit */
	size_t nrevoking;
};

/* ---- the watchdog ---- */

static void
watchdog_arm(struct fence *f)
{
	int timeout = (int)f->s->fence_after;

	if (f->s->watchdog_device == NULL || f->wd_fd >= 0)
		return;
	f->wd_fd = open(f->s->watchdog_device, O_WRONLY | O_CLOEXEC);
	if (f->wd_fd < 0) {
		log_error("fence: cannot open watchdog %s: %s; running without it",
			  f->s->watchdog_device, strerror(errno));
		return;
	}
	if (ioctl(f->wd_fd, WDIOC_SETTIMEOUT, &timeout) != 0)
		log_warn("fence: %s: cannot set the timeout to %d s (%s); its own applies",
			 f->s->watchdog_device, timeout, strerror(errno));
	log_info("fence: watchdog %s armed (timeout %d s), fed while the controller hears us",
		 f->s->watchdog_device, timeout);
}

static void
watchdog_feed(struct fence *f)
{
	if (f->wd_fd >= 0 && write(f->wd_fd, ".", 1) != 1)
		log_warn("fence: cannot feed the watchdog: %s", strerror(errno));
}

/* ---- fencing ---- */

static void
fence_now(struct fence *f, double silent)
{
	int killed = 0;

	for (struct vm *vm = f->vms->list; vm != NULL; vm = vm->next) {
		killed += vm_has_qemu(vm);
		vm_kill_fenced(vm);
	}
	f->fenced = true;
	log_warn("fence: no contact with the controller for %.1f s (fence_after %lld s): killed "
		 "%d guest(s)%s",
		 silent, f->s->fence_after, killed,
		 f->wd_fd >= 0 ? "; the watchdog is no longer fed" : "");
}

static void
check(struct fence *f)
{
	double silent = now_mono() - f->contact;

	if (!f->fenced && silent >= (double)f->s->fence_after)
		fence_now(f, silent);
}

static void forget_revoked(struct fence *f);

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct fence *f = arg;

	check(f);
	if (f->nrevoking > 0)
		forget_revoked(f);
}

void
fence_heartbeat_sent(struct fence *f, long long seq)
{
	if (f == NULL)
		return;
	f->sent[seq % SENT_RING].seq = seq;
	f->sent[seq % SENT_RING].at = now_mono();
}

void
fence_heartbeat_echoed(struct fence *f, long long seq)
{
	if (f == NULL || seq < 0 || f->sent[seq % SENT_RING].seq != seq)
		return;
	double at = f->sent[seq % SENT_RING].at;
	/* Fence first if the deadline passed (we may just have been frozen). */
	check(f);
	if (at <= f->contact)
		return;
	if (f->fenced)
		log_info("fence: the controller hears us again");
	f->contact = at;
	f->fenced = false;
	if (!f->ever_contact) {
		f->ever_contact = true;
		watchdog_arm(f);
	}
	if (now_mono() - at < (double)f->s->fence_after)
		watchdog_feed(f);
}

bool
fence_is_fenced(const struct fence *f)
{
	return f != NULL && f->fenced;
}

/* ---- revoked VMs ---- */

static bool
forget(struct vm *vm)
{
	char why[256];
	long long id = vm->spec.id;

	if (vm_has_qemu(vm))
		return false;
	if (vm_remove(vm, why, sizeof(why)) != 0) {
		log_error("fence: cannot forget revoked vm-%lld: %s", id, why);
		return true; /* nothing more we can do; do not spin on it */
	}
	log_info("fence: vm-%lld revoked by the controller: forgotten", id);
	return true;
}

static void
forget_revoked(struct fence *f)
{
	size_t kept = 0;

	for (size_t i = 0; i < f->nrevoking; i++) {
		struct vm *vm = vms_find(f->vms, f->revoking[i]);
		if (vm != NULL && !forget(vm))
			f->revoking[kept++] = f->revoking[i];
	}
	f->nrevoking = kept;
}

void
fence_revoke(struct fence *f, const json_t *revoked)
{
	size_t i;
	const json_t *e;

	if (f == NULL)
		return;
	json_array_foreach (revoked, i, e) {
		int64_t id = json_integer_value(json_object_get(e, "id"));
		struct vm *vm = vms_find(f->vms, id);
		if (vm == NULL)
			continue;
		if (vm_has_qemu(vm)) {
			/* Should have been fenced already; never let it run on. */
			log_warn("fence: revoked vm-%lld still runs (pid %d): killing it",
				 (long long)id, (int)vm->pid);
			vm_kill_fenced(vm);
			if (f->nrevoking < REVOKING_MAX)
				f->revoking[f->nrevoking++] = id;
			continue;
		}
		vm_kill_fenced(vm); /* a pending crash restart */
		forget(vm);
	}
}

/* ---- life cycle ---- */

struct fence *
fence_new(struct event_base *base, const struct agent_settings *s, struct vms *vms, char *why,
	  size_t whylen)
{
	struct fence *f = calloc(1, sizeof(*f));
	struct timeval tv = {0, FENCE_TICK_MS * 1000};

	if (f == NULL || (f->tick = event_new(base, -1, EV_PERSIST, on_tick, f)) == NULL) {
		free(f);
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	f->s = s;
	f->vms = vms;
	f->wd_fd = -1;
	f->contact = now_mono();
	for (size_t i = 0; i < SENT_RING; i++)
		f->sent[i].seq = -1;
	event_add(f->tick, &tv);
	return f;
}

void
fence_free(struct fence *f)
{
	if (f == NULL)
		return;
	if (f->wd_fd >= 0) {
		/* The magic close: a stopped agent must not reset the node. */
		if (write(f->wd_fd, "V", 1) != 1)
			log_warn("fence: cannot disarm the watchdog: %s", strerror(errno));
		close(f->wd_fd);
		log_info("fence: watchdog disarmed");
	}
	event_free(f->tick);
	free(f);
}
