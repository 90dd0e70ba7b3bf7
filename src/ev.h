/* One event loop: epoll, fixed-timeout timer lists, a cache of I/O buffers
 * and a completion queue that other threads post finished jobs to. It
 * knows nothing of HTTP or of connections (redis ae.c is the model): what
 * is registered is a struct ev_io with a callback. */
#ifndef MTHTTPD_EV_H
#define MTHTTPD_EV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct ev_loop;

/* A registered descriptor. cb runs with the epoll events that fired. */
struct ev_io {
	int fd;
	void (*cb)(struct ev_io *io, uint32_t events);
};

/* A timer node, embedded in its owner. A loop has EV_TIMER_LISTS lists,
 * each with one fixed timeout, so appending at the tail keeps a list
 * sorted by deadline: arming and disarming are O(1). */
#define EV_TIMER_LISTS 8

struct ev_timer {
	struct ev_timer *prev, *next;
	int64_t deadline_ms;
	int8_t list;             /* -1 when not armed */
};

/* A unit of blocking work: run on a pool thread, then done on the loop's
 * thread (posted with ev_post). ctx belongs to whoever set done. */
struct ev_job {
	struct ev_job *next;     /* the pool's queue, then the loop's list */
	struct ev_loop *loop;
	void (*run)(struct ev_job *job);
	void (*done)(struct ev_job *job);
	void *ctx;
};

struct ev_timer_list {
	struct ev_timer *head, *tail;
	int64_t timeout_ms;
	void (*expired)(struct ev_timer *t, int list);
};

struct ev_loop {
	int epfd;
	int wakefd;              /* eventfd: posted jobs and stop requests */
	struct ev_io wake;
	int64_t now_ms;          /* CLOCK_MONOTONIC_COARSE, once per turn */
	time_t now;              /* wall-clock seconds, likewise */
	int64_t polled_ns;       /* CLOCK_REALTIME taken just before the last
				  * epoll_wait: every descriptor that was
				  * ready before it was reported by that call
				  * (0 when the call filled its array, which
				  * may have left some out) */
	struct ev_timer_list timers[EV_TIMER_LISTS];
	void *free_bufs;         /* a small stack of released I/O buffers */
	int n_free_bufs;
	size_t buf_size;

	pthread_mutex_t done_lock;
	struct ev_job *done_head;
};

/* Sets up a loop whose I/O buffers are buf_size bytes. Returns 0 or
 * -errno. */
int ev_init(struct ev_loop *l, size_t buf_size);
void ev_destroy(struct ev_loop *l);

/* Registers io->fd for events (EPOLL* flags). Returns 0 or -errno. */
int ev_add(struct ev_loop *l, struct ev_io *io, uint32_t events);
/* Unregisters io->fd (not needed before close). */
void ev_del(struct ev_loop *l, struct ev_io *io);

/* Gives timer list id its fixed timeout and its expiry callback. */
void ev_timer_list(struct ev_loop *l, int id, int64_t timeout_ms,
		   void (*expired)(struct ev_timer *t, int list));
/* Arms t on list id (deadline: now + the list's timeout), or disarms it
 * with id -1. */
void ev_timer_set(struct ev_loop *l, struct ev_timer *t, int id);
/* The first armed timer of list id, or NULL. */
static inline struct ev_timer *ev_timer_first(const struct ev_loop *l, int id)
{
	return l->timers[id].head;
}

/* Waits for events at most until the next timer or max_wait_ms, and runs
 * the callbacks of the ready descriptors (posted jobs included). Returns
 * the number of events, or -errno. */
int ev_run_once(struct ev_loop *l, int64_t max_wait_ms);

/* Runs the callbacks of the timers whose deadline has passed. */
void ev_expire(struct ev_loop *l);

/* Refreshes now_ms and now. */
void ev_update_time(struct ev_loop *l);

/* An I/O buffer of buf_size bytes from the loop's cache, or NULL. */
char *ev_buf_get(struct ev_loop *l);
void ev_buf_put(struct ev_loop *l, char *buf);

/* Posts a finished job to its loop (any thread): job->done runs on the
 * loop's thread at its next turn. */
void ev_post(struct ev_job *job);

/* Wakes the loop from another thread (ev_run_once returns). */
void ev_wake(struct ev_loop *l);

#define ev_container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

/* recvmsg(fd) into p[0..n) with the kernel's receive time of the last
 * bytes read (SO_TIMESTAMPNS, CLOCK_REALTIME ns) in *rx_ns, 0 when the
 * socket gave none. Returns what recvmsg returns (errno kept). */
ssize_t ev_recv_stamped(int fd, void *p, size_t n, int64_t *rx_ns);

#endif
