/* Listening socket, worker threads and their epoll loops, timers. */
#ifndef MTHTTPD_SERVER_H
#define MTHTTPD_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "fcache.h"
#include "log.h"

struct conn;

/* Timer lists. Each has one fixed timeout, so appending at the tail keeps
 * it sorted by deadline: arming and disarming are O(1). TL_SILENT is the
 * head timeout of a connection handed over without a byte: TCP_DEFER_ACCEPT
 * held it for a second already, so that second is taken off. */
enum tlist_id { TL_HEADER, TL_SILENT, TL_IDLE, TL_BODY, TL_LINGER, TL_COUNT, TL_NONE = -1 };

#define DEFER_ACCEPT_S 1 /* the listener's TCP_DEFER_ACCEPT, seconds */

struct tlist {
	struct conn *head, *tail;
	int64_t timeout_ms;
};

struct worker {
	int id;
	pthread_t tid;
	int epfd;
	int wakefd;             /* eventfd: shutdown and I/O completions */
	bool listening;         /* the listen socket is in epfd */
	bool stopping;
	int64_t now_ms;         /* CLOCK_MONOTONIC, updated once per loop turn */
	time_t now;             /* wall-clock seconds, likewise */
	int64_t accept_resume_ms;  /* accepting paused until (after EMFILE) */
	int64_t stop_deadline_ms;
	long nconns;
	struct tlist timers[TL_COUNT];
	struct conn *graveyard; /* closed, freed after the current batch */
	void *free_bufs;        /* a small stack of released I/O buffers */
	int n_free_bufs;
	struct alog_buf alog;
	struct fcache fcache;
	int64_t alog_flushed_ms;

	/* Completed blocking jobs, handed over by the I/O pool. */
	pthread_mutex_t done_lock;
	struct conn *done_head;
};

/* Binds the listening socket described by cfg (updating its port when 0).
 * Returns 0 or -errno. */
int server_listen(void);

/* Starts the workers and the I/O pool. Returns 0 or -errno. */
int server_start(void);

/* Stops accepting: from its return a new client is refused. Safe to call
 * more than once. */
void server_stop_listening(void);

/* Stops accepting (if not done yet), asks every worker to drain and stop,
 * and waits for them (at most ~10 s for in-flight requests). */
void server_stop(void);

/* Arms c's timer on list id (from now), or disarms it with TL_NONE. */
void worker_timer(struct worker *w, struct conn *c, enum tlist_id id);

/* An I/O buffer of CONN_BUF bytes from the worker's cache, or NULL. */
char *worker_buf_get(struct worker *w);
void worker_buf_put(struct worker *w, char *buf);

/* Hands a conn whose blocking job finished back to its worker (any thread). */
void worker_complete(struct worker *w, struct conn *c);

/* A connection counted against --max-conns is gone. */
void server_conn_released(void);

#endif
