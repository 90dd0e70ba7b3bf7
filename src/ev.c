/* The event loop: epoll, timer lists, buffer cache, completion queue. */
#include "ev.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256
/* Released I/O buffers kept for reuse, per loop. Enough for the
 * connections that go idle together in a busy turn: freed instead, they
 * shrink the thread's malloc heap (madvise) only for the next turn to grow
 * it again. 128 buffers of CONN_BUF (24 KiB) are 3 MiB a loop at most. */
#define FREE_BUFS_MAX 128

static void drain_posted(struct ev_io *io, uint32_t events)
{
	(void)events;
	struct ev_loop *l = ev_container_of(io, struct ev_loop, wake);
	uint64_t v;
	ssize_t r = read(l->wakefd, &v, sizeof(v));
	(void)r;
	pthread_mutex_lock(&l->done_lock);
	struct ev_job *list = l->done_head;
	l->done_head = NULL;
	pthread_mutex_unlock(&l->done_lock);
	while (list) {
		struct ev_job *j = list;
		list = j->next;
		j->next = NULL;
		j->done(j);
	}
}

void ev_update_time(struct ev_loop *l)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	l->now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	l->now = time(NULL);
}

int ev_init(struct ev_loop *l, size_t buf_size)
{
	memset(l, 0, sizeof(*l));
	l->buf_size = buf_size;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->epfd < 0 || l->wakefd < 0) {
		int e = errno;
		if (l->epfd >= 0)
			close(l->epfd);
		if (l->wakefd >= 0)
			close(l->wakefd);
		return -e;
	}
	pthread_mutex_init(&l->done_lock, NULL);
	for (int i = 0; i < EV_TIMER_LISTS; i++)
		l->timers[i].timeout_ms = -1;
	l->wake.fd = l->wakefd;
	l->wake.cb = drain_posted;
	ev_update_time(l);
	return ev_add(l, &l->wake, EPOLLIN);
}

void ev_destroy(struct ev_loop *l)
{
	while (l->free_bufs) {
		char *b = l->free_bufs;
		l->free_bufs = *(void **)b;
		free(b);
	}
	close(l->epfd);
	close(l->wakefd);
	pthread_mutex_destroy(&l->done_lock);
}

int ev_add(struct ev_loop *l, struct ev_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };
	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, io->fd, &ev) < 0 ? -errno : 0;
}

void ev_del(struct ev_loop *l, struct ev_io *io)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
}

/* ---- timers ---- */

void ev_timer_list(struct ev_loop *l, int id, int64_t timeout_ms,
		   void (*expired)(struct ev_timer *t, int list))
{
	l->timers[id].timeout_ms = timeout_ms;
	l->timers[id].expired = expired;
}

void ev_timer_set(struct ev_loop *l, struct ev_timer *t, int id)
{
	if (t->list >= 0) {
		struct ev_timer_list *tl = &l->timers[t->list];
		if (t->prev)
			t->prev->next = t->next;
		else
			tl->head = t->next;
		if (t->next)
			t->next->prev = t->prev;
		else
			tl->tail = t->prev;
		t->prev = t->next = NULL;
		t->list = -1;
	}
	if (id < 0)
		return;
	struct ev_timer_list *tl = &l->timers[id];
	t->deadline_ms = l->now_ms + tl->timeout_ms;
	t->list = (int8_t)id;
	t->prev = tl->tail;
	if (tl->tail)
		tl->tail->next = t;
	else
		tl->head = t;
	tl->tail = t;
}

static int next_timeout(const struct ev_loop *l, int64_t max_wait_ms)
{
	int64_t next = l->now_ms + max_wait_ms;
	for (int i = 0; i < EV_TIMER_LISTS; i++)
		if (l->timers[i].head && l->timers[i].head->deadline_ms < next)
			next = l->timers[i].head->deadline_ms;
	int64_t d = next - l->now_ms;
	/* COARSE clocks tick in milliseconds or more: round up so a timer is
	 * never polled early in a busy loop. */
	return d <= 0 ? 0 : (int)(d + 1);
}

void ev_expire(struct ev_loop *l)
{
	for (int i = 0; i < EV_TIMER_LISTS; i++) {
		struct ev_timer_list *tl = &l->timers[i];
		while (tl->head && tl->head->deadline_ms <= l->now_ms) {
			struct ev_timer *t = tl->head;
			ev_timer_set(l, t, -1);
			tl->expired(t, i);
		}
	}
}

int ev_run_once(struct ev_loop *l, int64_t max_wait_ms)
{
	struct epoll_event evs[MAX_EVENTS];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int n = epoll_wait(l->epfd, evs, MAX_EVENTS, next_timeout(l, max_wait_ms));
	if (n < 0) {
		l->polled_ns = 0;
		return errno == EINTR ? 0 : -errno;
	}
	l->polled_ns = n < MAX_EVENTS ? (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec : 0;
	ev_update_time(l);
	for (int i = 0; i < n; i++) {
		struct ev_io *io = evs[i].data.ptr;
		io->cb(io, evs[i].events);
	}
	return n;
}

/* ---- buffers ---- */

char *ev_buf_get(struct ev_loop *l)
{
	if (l->free_bufs) {
		char *b = l->free_bufs;
		l->free_bufs = *(void **)b;
		l->n_free_bufs--;
		return b;
	}
	return malloc(l->buf_size);
}

void ev_buf_put(struct ev_loop *l, char *buf)
{
	if (l->n_free_bufs >= FREE_BUFS_MAX) {
		free(buf);
		return;
	}
	*(void **)buf = l->free_bufs;
	l->free_bufs = buf;
	l->n_free_bufs++;
}

/* ---- completions ---- */

void ev_wake(struct ev_loop *l)
{
	uint64_t one = 1;
	ssize_t r = write(l->wakefd, &one, sizeof(one));
	(void)r;
}

void ev_post(struct ev_job *job)
{
	struct ev_loop *l = job->loop;
	pthread_mutex_lock(&l->done_lock);
	bool was_empty = l->done_head == NULL;
	job->next = l->done_head;
	l->done_head = job;
	pthread_mutex_unlock(&l->done_lock);
	/* A non-empty list means a wake-up is pending already: the loop reads
	 * the eventfd before it takes the list. */
	if (was_empty)
		ev_wake(l);
}

ssize_t ev_recv_stamped(int fd, void *p, size_t n, int64_t *rx_ns)
{
	union {
		char b[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = p, .iov_len = n };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b),
	};
	ssize_t r = recvmsg(fd, &mh, 0);
	if (r > 0) {
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		struct timespec ts;
		*rx_ns = 0;
		if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
			memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
			*rx_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		}
	}
	return r;
}
