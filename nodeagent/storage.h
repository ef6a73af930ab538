/*
 * The node's disk images: qcow2 files NAME.qcow2 in the one storage the agent is configured with
 * (storage_name / storage_path). Creating and offline growing run qemu-img as a child process
 * watched by the event loop (a pidfd and a pipe for its output), never a blocking wait, with a
 * time limit; deleting is an unlink. Every operation is idempotent: creating an existing image of
 * the requested size, deleting a missing one, growing to the current size all succeed.
 */
#ifndef WEBRACK_STORAGE_H
#define WEBRACK_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>

struct agent_settings;

#define STORAGE_NAME_MAX     63
#define STORAGE_MAX_GB	     (64LL * 1024) /* 64 TiB */
#define STORAGE_QEMU_IMG_SEC 120	   /* qemu-img create/resize must finish within this */
#define STORAGE_OUTPUT_MAX   2048	   /* bytes of qemu-img's output kept for the error */

/*
 * The outcome of an operation: code NULL on success, else a stable error code ("invalid",
 * "unknown_storage", "exists", "not_found", "shrink", "qemu_img", "timeout", "internal") and a
 * message. Both strings are valid during the call only. Called exactly once, possibly before the
 * starting function returns.
 */
typedef void (*storage_cb)(const char *code, const char *message, void *arg);

/* A disk or backing image name: 1..63 of [a-z0-9-]. */
bool storage_name_ok(const char *name) __attribute__((warn_unused_result));

/*
 * storage_path/NAME.qcow2 into buf, after checking that storage is this node's storage and name
 * is valid. false with code/why set otherwise.
 */
bool storage_disk_path(const struct agent_settings *s, const char *storage, const char *name,
		       char *buf, size_t len, const char **code, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/* Virtual size (bytes) from a qcow2 header; -1 with why when the file is not a qcow2 image. */
int storage_qcow2_size(const char *path, uint64_t *bytes, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/* qemu-img create -f qcow2 [-b BACKING.qcow2 -F qcow2] NAME.qcow2 SIZEG (idempotent). */
void storage_create(struct event_base *base, const struct agent_settings *s, const char *storage,
		    const char *name, int64_t size_gb, const char *backing, storage_cb cb,
		    void *arg);

/* unlink NAME.qcow2 (missing = success). */
void storage_delete(const struct agent_settings *s, const char *storage, const char *name,
		    storage_cb cb, void *arg);

/* qemu-img resize NAME.qcow2 SIZEG of a disk no QEMU has open (same size = success). */
void storage_grow(struct event_base *base, const struct agent_settings *s, const char *storage,
		  const char *name, int64_t size_gb, storage_cb cb, void *arg);

/* ---- process helpers, shared with the VM supervisor ---- */

/* pidfd_open(2): a descriptor that polls readable once pid has exited; -1 with errno. */
int storage_pidfd_open(pid_t pid);

/*
 * In a freshly forked child: stdin from /dev/null, stdout and stderr to out_fd, every other
 * descriptor closed, signal mask and SIGPIPE back to defaults. Only async-signal-safe calls.
 */
void storage_child_fds(int out_fd);

#endif
