/* The listening socket, the worker threads with their epoll loops and
 * timers, and the accept path. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "upload.h"

#define MAX_EVENTS 256
#define ACCEPT_BATCH 16
#define FREE_BUFS_MAX 32
#define EMFILE_PAUSE_MS 100

/* Tags that tell the listener and the wake-up eventfd from connections in
 * epoll_event.data.ptr. */
static char listen_tag, wake_tag, inotify_tag;

static int listen_fd = -1;
static struct worker *workers;
static atomic_long open_conns;
static atomic_bool stop_requested;
static atomic_long last_emfile_log; /* seconds; rate-limits that warning */

void server_conn_released(void)
{
	atomic_fetch_sub_explicit(&open_conns, 1, memory_order_relaxed);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int server_listen(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, cfg->host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(cfg->port);
		len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, cfg->host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(cfg->port);
		len = sizeof(*s6);
	} else {
		return -EINVAL;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Accepted sockets inherit TCP_NODELAY: one system call less per
	 * connection. Responses leave in one write (or corked with MSG_MORE
	 * before sendfile), so Nagle would only add delay. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* A connection reaches accept() with its first bytes (or after about
	 * a second of silence): the request is read right after accept4, with
	 * no epoll round for a socket that has nothing to say yet. */
	int defer = DEFER_ACCEPT_S;
	setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer));
	if (ss.ss_family == AF_INET6) {
		/* "::" means every interface, IPv4 included. */
		int v6only = 0;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 4096) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	((struct config *)cfg)->port = ntohs(ss.ss_family == AF_INET ? s4->sin_port : s6->sin6_port);
	listen_fd = fd;
	return 0;
}

/* ---- timers ---- */

void worker_timer(struct worker *w, struct conn *c, enum tlist_id id)
{
	if (c->tl != TL_NONE) {
		struct tlist *l = &w->timers[c->tl];
		if (c->tprev)
			c->tprev->tnext = c->tnext;
		else
			l->head = c->tnext;
		if (c->tnext)
			c->tnext->tprev = c->tprev;
		else
			l->tail = c->tprev;
		c->tprev = c->tnext = NULL;
		c->tl = TL_NONE;
	}
	if (id == TL_NONE)
		return;
	struct tlist *l = &w->timers[id];
	c->deadline_ms = w->now_ms + l->timeout_ms;
	c->tl = (int8_t)id;
	c->tprev = l->tail;
	if (l->tail)
		l->tail->tnext = c;
	else
		l->head = c;
	l->tail = c;
}

static int next_timeout(struct worker *w)
{
	int64_t next = w->alog_flushed_ms + 1000;
	for (int i = 0; i < TL_COUNT; i++)
		if (w->timers[i].head && w->timers[i].head->deadline_ms < next)
			next = w->timers[i].head->deadline_ms;
	if (!w->listening && w->accept_resume_ms && w->accept_resume_ms < next)
		next = w->accept_resume_ms;
	if (w->stopping && w->stop_deadline_ms < next)
		next = w->stop_deadline_ms;
	int64_t d = next - w->now_ms;
	/* COARSE clocks tick in milliseconds or more: round up so a timer is
	 * never polled early in a busy loop. */
	return d <= 0 ? 0 : (int)(d + 1);
}

static void expire_timers(struct worker *w)
{
	for (int i = 0; i < TL_COUNT; i++) {
		struct tlist *l = &w->timers[i];
		while (l->head && l->head->deadline_ms <= w->now_ms) {
			struct conn *c = l->head;
			worker_timer(w, c, TL_NONE);
			conn_timeout(c, i);
		}
	}
}

/* ---- buffers ---- */

char *worker_buf_get(struct worker *w)
{
	if (w->free_bufs) {
		char *b = w->free_bufs;
		w->free_bufs = *(void **)b;
		w->n_free_bufs--;
		return b;
	}
	return malloc(CONN_BUF);
}

void worker_buf_put(struct worker *w, char *buf)
{
	if (w->n_free_bufs >= FREE_BUFS_MAX) {
		free(buf);
		return;
	}
	*(void **)buf = w->free_bufs;
	w->free_bufs = buf;
	w->n_free_bufs++;
}

/* ---- accepting ---- */

static void listen_on(struct worker *w, bool on)
{
	if (on == w->listening)
		return;
	if (on) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &listen_tag };
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, listen_fd, &ev) == 0)
			w->listening = true;
	} else {
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, listen_fd, NULL);
		w->listening = false;
	}
}

static void accept_some(struct worker *w)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN)
				return;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* Out of descriptors: stop accepting for a moment
				 * instead of spinning on a level-triggered listener;
				 * closing connections frees descriptors again. */
				long now = (long)w->now;
				long last = atomic_load(&last_emfile_log);
				if (now != last && atomic_compare_exchange_strong(&last_emfile_log, &last, now))
					log_warn("accept: %s; pausing accepts for %d ms",
						 strerror(errno), EMFILE_PAUSE_MS);
				listen_on(w, false);
				w->accept_resume_ms = w->now_ms + EMFILE_PAUSE_MS;
				return;
			}
			log_error("accept: %s", strerror(errno));
			return;
		}
		long n = atomic_fetch_add_explicit(&open_conns, 1, memory_order_relaxed);
		bool reject = n >= cfg->max_conns;
		if (reject && n >= cfg->max_conns + 64 + cfg->max_conns / 8) {
			/* Shed load: far over the limit, not even a 503. */
			close(fd);
			server_conn_released();
			continue;
		}
		if (conn_new(w, fd, &ss, len, reject) == NULL)
			server_conn_released();
	}
}

/* ---- the loop ---- */

static void drain_wake(struct worker *w)
{
	uint64_t v;
	ssize_t r = read(w->wakefd, &v, sizeof(v));
	(void)r;
	pthread_mutex_lock(&w->done_lock);
	struct conn *list = w->done_head;
	w->done_head = NULL;
	pthread_mutex_unlock(&w->done_lock);
	while (list) {
		struct conn *c = list;
		list = c->next_done;
		c->next_done = NULL;
		upload_completed(c);
	}
}

void worker_complete(struct worker *w, struct conn *c)
{
	pthread_mutex_lock(&w->done_lock);
	bool was_empty = w->done_head == NULL;
	c->next_done = w->done_head;
	w->done_head = c;
	pthread_mutex_unlock(&w->done_lock);
	/* A non-empty list means a wake-up is pending already: the worker
	 * reads the eventfd before it takes the list. */
	if (was_empty) {
		uint64_t one = 1;
		ssize_t r = write(w->wakefd, &one, sizeof(one));
		(void)r;
	}
}

static void begin_stop(struct worker *w)
{
	w->stopping = true;
	w->stop_deadline_ms = w->now_ms + 10000;
	listen_on(w, false);
	w->accept_resume_ms = 0;
	/* Idle connections go now; busy ones close after their response. */
	struct conn *c = w->timers[TL_IDLE].head;
	while (c) {
		struct conn *next = c->tnext;
		conn_stop_idle(c);
		c = next;
	}
	for (int id = TL_HEADER; id <= TL_SILENT; id++) {
		c = w->timers[id].head;
		while (c) {
			struct conn *next = c->tnext;
			conn_stop_idle(c);
			c = next;
		}
	}
}

static void free_graveyard(struct worker *w)
{
	while (w->graveyard) {
		struct conn *c = w->graveyard;
		w->graveyard = c->next_done;
		conn_free(c);
	}
}

static void close_all(struct worker *w)
{
	for (int i = 0; i < TL_COUNT; i++)
		while (w->timers[i].head)
			conn_close(w->timers[i].head);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char name[24];
	snprintf(name, sizeof(name), "worker-%d", w->id);
	log_set_thread(name);
	pthread_setname_np(pthread_self(), name);
	alog_buf_init(&w->alog);
	if (fcache_init(&w->fcache) == 0) {
		struct epoll_event iev = { .events = EPOLLIN, .data.ptr = &inotify_tag };
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->fcache.ifd, &iev) < 0)
			fcache_destroy(&w->fcache);
	} else {
		/* Once, not once per worker: with many threads the per-user
		 * inotify limit runs out for all of them at once. */
		static atomic_bool warned;
		if (!atomic_exchange(&warned, true))
			log_warn("inotify unavailable for some workers (%s): their files are "
				 "opened on every request", strerror(errno));
	}

	struct epoll_event evs[MAX_EVENTS];
	w->now_ms = mono_ms();
	w->now = time(NULL);
	w->alog_flushed_ms = w->now_ms;
	listen_on(w, true);

	for (;;) {
		int n = epoll_wait(w->epfd, evs, MAX_EVENTS, next_timeout(w));
		if (n < 0 && errno != EINTR) {
			log_error("epoll_wait: %s", strerror(errno));
			break;
		}
		w->now_ms = mono_ms();
		w->now = time(NULL);
		/* File changes first: a request in this batch may have been
		 * sent after the change, and must not see the old file. */
		for (int i = 0; i < n; i++)
			if (evs[i].data.ptr == &inotify_tag)
				fcache_changes(&w->fcache);
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &inotify_tag) {
				continue;
			} else if (p == &listen_tag) {
				if (!w->stopping && !atomic_load(&stop_requested))
					accept_some(w);
			} else if (p == &wake_tag) {
				drain_wake(w);
			} else {
				struct conn *c = p;
				if (!c->closed)
					conn_event(c, evs[i].events);
			}
		}
		if (!w->stopping && atomic_load(&stop_requested))
			begin_stop(w);
		expire_timers(w);
		free_graveyard(w);
		if (!w->listening && !w->stopping && w->accept_resume_ms &&
		    w->now_ms >= w->accept_resume_ms) {
			w->accept_resume_ms = 0;
			listen_on(w, true);
		}
		if (w->now_ms - w->alog_flushed_ms >= 1000) {
			if (w->alog.n)
				alog_flush(&w->alog);
			w->alog_flushed_ms = w->now_ms;
		}
		if (w->stopping && (w->nconns == 0 || w->now_ms >= w->stop_deadline_ms)) {
			if (w->nconns)
				log_warn("shutdown: closing %ld unfinished connection(s)", w->nconns);
			close_all(w);
			free_graveyard(w);
			if (w->nconns == 0)
				break;
			/* Only connections held by blocking jobs are left: wait
			 * for their completions. */
			w->stop_deadline_ms = w->now_ms + 1000;
		}
	}
	alog_buf_free(&w->alog);
	fcache_destroy(&w->fcache);
	while (w->free_bufs) {
		char *b = w->free_bufs;
		w->free_bufs = *(void **)b;
		free(b);
	}
	return NULL;
}

int server_start(void)
{
	workers = calloc((size_t)cfg->threads, sizeof(*workers));
	if (workers == NULL)
		return -ENOMEM;
	int rc = upload_pool_start();
	if (rc < 0)
		return rc;
	for (int i = 0; i < cfg->threads; i++) {
		struct worker *w = &workers[i];
		w->id = i + 1;
		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		w->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (w->epfd < 0 || w->wakefd < 0)
			return -errno;
		pthread_mutex_init(&w->done_lock, NULL);
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &wake_tag };
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wakefd, &ev) < 0)
			return -errno;
		w->timers[TL_HEADER].timeout_ms = (int64_t)cfg->header_timeout * 1000;
		w->timers[TL_SILENT].timeout_ms = (int64_t)(cfg->header_timeout - DEFER_ACCEPT_S) * 1000;
		w->timers[TL_IDLE].timeout_ms = (int64_t)cfg->keepalive_timeout * 1000;
		w->timers[TL_BODY].timeout_ms = (int64_t)cfg->keepalive_timeout * 1000;
		w->timers[TL_LINGER].timeout_ms = 2000;
	}
	for (int i = 0; i < cfg->threads; i++) {
		rc = pthread_create(&workers[i].tid, NULL, worker_main, &workers[i]);
		if (rc != 0)
			return -rc;
	}
	return 0;
}

void server_stop_listening(void)
{
	atomic_store(&stop_requested, true);
	/* Stop listening now, not when the last worker is done: a client that
	 * connects during the drain is refused at once (and can go elsewhere)
	 * instead of waiting in the backlog to be reset. The descriptor stays
	 * open until the workers have left it. */
	shutdown(listen_fd, SHUT_RDWR);
}

void server_stop(void)
{
	server_stop_listening();
	for (int i = 0; i < cfg->threads; i++) {
		uint64_t one = 1;
		ssize_t r = write(workers[i].wakefd, &one, sizeof(one));
		(void)r;
	}
	for (int i = 0; i < cfg->threads; i++)
		pthread_join(workers[i].tid, NULL);
	upload_pool_stop();
	close(listen_fd);
	for (int i = 0; i < cfg->threads; i++) {
		close(workers[i].epfd);
		close(workers[i].wakefd);
		pthread_mutex_destroy(&workers[i].done_lock);
	}
	free(workers);
}
