/*
 * Worker pool. Jobs go through a mutex-protected FIFO to the threads; finished jobs go through a
 * second FIFO and an eventfd to the loop, which runs their completions. The loop never waits on a
 * lock held for longer than a list operation.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "workq.h"

struct job {
	struct job *next;
	workq_work_fn work;
	workq_done_fn done;
	void *arg;
};

struct job_list {
	struct job *head, *tail;
};

/* Owner: the daemon's main(); threads and the event are torn down by workq_free. */
struct workq {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct job_list todo, finished;
	bool stopping;
	int nthreads;
	pthread_t *threads;
	int efd;
	struct event *ev;
};

static void
list_push(struct job_list *l, struct job *j)
{
	j->next = NULL;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static struct job *
list_take_all(struct job_list *l)
{
	struct job *h = l->head;
	l->head = l->tail = NULL;
	return h;
}

static void *
worker_main(void *p)
{
	struct workq *wq = p;

	pthread_mutex_lock(&wq->lock);
	for (;;) {
		while (wq->todo.head == NULL && !wq->stopping)
			pthread_cond_wait(&wq->wake, &wq->lock);
		struct job *j = wq->todo.head;
		if (j == NULL)
			break; /* stopping and nothing left */
		wq->todo.head = j->next;
		if (wq->todo.head == NULL)
			wq->todo.tail = NULL;
		pthread_mutex_unlock(&wq->lock);

		j->work(j->arg);

		pthread_mutex_lock(&wq->lock);
		list_push(&wq->finished, j);
		uint64_t one = 1;
		/* The eventfd counter cannot overflow here; a failed write would only delay. */
		if (write(wq->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_error("eventfd write: %s", strerror(errno));
	}
	pthread_mutex_unlock(&wq->lock);
	return NULL;
}

static void
run_completions(struct workq *wq)
{
	pthread_mutex_lock(&wq->lock);
	struct job *j = list_take_all(&wq->finished);
	pthread_mutex_unlock(&wq->lock);

	while (j != NULL) {
		struct job *next = j->next;
		j->done(j->arg);
		free(j);
		j = next;
	}
}

static void
on_eventfd(evutil_socket_t fd, short what, void *p)
{
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_error("eventfd read: %s", strerror(errno));
	run_completions(p);
}

struct workq *
workq_new(struct event_base *base, int nthreads)
{
	struct workq *wq = calloc(1, sizeof(*wq));

	if (wq == NULL)
		return NULL;
	pthread_mutex_init(&wq->lock, NULL);
	pthread_cond_init(&wq->wake, NULL);
	wq->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	wq->threads = calloc((size_t)nthreads, sizeof(pthread_t));
	if (wq->efd < 0 || wq->threads == NULL)
		goto fail;
	wq->ev = event_new(base, wq->efd, EV_READ | EV_PERSIST, on_eventfd, wq);
	if (wq->ev == NULL || event_add(wq->ev, NULL) != 0)
		goto fail;
	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&wq->threads[i], NULL, worker_main, wq) != 0)
			goto fail;
		wq->nthreads++;
	}
	return wq;
fail:
	log_error("cannot start %d worker threads", nthreads);
	workq_free(wq);
	return NULL;
}

bool
workq_submit(struct workq *wq, workq_work_fn work, workq_done_fn done, void *arg)
{
	struct job *j = malloc(sizeof(*j));

	if (j == NULL)
		return false;
	j->work = work;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&wq->lock);
	list_push(&wq->todo, j);
	pthread_cond_signal(&wq->wake);
	pthread_mutex_unlock(&wq->lock);
	return true;
}

void
workq_free(struct workq *wq)
{
	if (wq == NULL)
		return;
	pthread_mutex_lock(&wq->lock);
	wq->stopping = true;
	pthread_cond_broadcast(&wq->wake);
	pthread_mutex_unlock(&wq->lock);
	for (int i = 0; i < wq->nthreads; i++)
		pthread_join(wq->threads[i], NULL);
	run_completions(wq);
	if (wq->ev)
		event_free(wq->ev);
	if (wq->efd >= 0)
		close(wq->efd);
	free(wq->threads);
	pthread_cond_destroy(&wq->wake);
	pthread_mutex_destroy(&wq->lock);
	free(wq);
}
