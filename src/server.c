/* The listening socket, the worker threads with their event loops, and
 * the accept path. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "ev.h"
#include "iopool.h"
#include "log.h"
#include "metrics.h"
#include "upload.h"

#define ACCEPT_BATCH 16
#define EMFILE_PAUSE_MS 100
#define POOL_BASE 16    /* I/O threads whatever --threads says */
#define STOP_GRACE_MS 10000

struct worker {
	int id;
	pthread_t tid;
	struct ev_loop loop;
	struct conn_set set;
	struct ev_io listen;
	struct ev_io listen_tls;   /* the HTTPS port, when configured */
	bool listening;         /* the listen socket is in this loop */
	int64_t accept_resume_ms;  /* accepting paused until (after EMFILE) */
	int64_t stop_deadline_ms;
	int64_t alog_flushed_ms;
};

static int listen_fd = -1;
static bool listen_inherited; /* socket activation: the socket outlives us */
static int tls_fd = -1;     /* the HTTPS listener (--tls-cert) */
static struct worker *workers;
static int n_workers;
static atomic_bool stop_requested;
static atomic_long last_emfile_log; /* seconds; rate-limits that warning */

/* Options every listening socket gets, bound here or inherited. */
static void tune_listener(int fd)
{
	int one = 1;
	/* Accepted sockets inherit TCP_NODELAY: one system call less per
	 * connection. Responses leave in one write (or corked with MSG_MORE
	 * before sendfile), so Nagle would only add delay. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* A connection reaches accept() with its first bytes (or after about
	 * a second of silence): the request is read right after accept4, with
	 * no epoll round for a socket that has nothing to say yet. */
	int defer = DEFER_ACCEPT_S;
	setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer));
	/* Accepted sockets inherit receive timestamps, by which a request
	 * is known to have come before the last look at the file-change
	 * queue (conn.c, make_fresh). */
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
}

/* Records the address fd is bound to in the configuration (the port, and
 * the host for an inherited socket). */
static void note_address(int fd, bool inherited)
{
	static char host[INET6_ADDRSTRLEN];
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	struct config *c = (struct config *)cfg;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
	c->port = ntohs(ss.ss_family == AF_INET ? s4->sin_port : s6->sin6_port);
	if (inherited) {
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		c->host = host;
	}
}

/* Socket activation as systemd does it (sd_listen_fds(3), without
 * libsystemd): LISTEN_PID names this process and LISTEN_FDS counts the
 * sockets from descriptor 3. Returns 1 when a listening socket was taken,
 * 0 when none is passed, or -errno. */
static int inherit_listener(void)
{
	const char *pid = getenv("LISTEN_PID");
	const char *fds = getenv("LISTEN_FDS");
	if (pid == NULL || fds == NULL || strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	long n = strtol(fds, NULL, 10);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (n < 1)
		return 0;
	int fd = 3; /* SD_LISTEN_FDS_START */
	int type = 0, listening = 0;
	socklen_t l = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0)
		return -errno;
	l = sizeof(listening);
	if (type != SOCK_STREAM || getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l) < 0 ||
	    !listening)
		return -ENOTSOCK;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	for (long i = 1; i < n; i++)
		close(3 + (int)i); /* only one listener is used */
	tune_listener(fd);
	note_address(fd, true);
	listen_fd = fd;
	listen_inherited = true;
	return 1;
}

/* Binds a listening socket on cfg's host and port. Returns it or -errno. */
static int bind_listener(uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, cfg->host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, cfg->host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		len = sizeof(*s6);
	} else {
		return -EINVAL;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* --reuse-port: a new instance binds the same port while this one
	 * drains; the kernel spreads new connections over both. */
	if (cfg->reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	tune_listener(fd);
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
	return fd;
}

/* The HTTPS listener on --tls-port, bound here even when the plain one is
 * inherited. Returns 0 or -errno. */
static int listen_tls(void)
{
	if (cfg->n_tls == 0)
		return 0;
	int fd = bind_listener(cfg->tls_port);
	struct config *c = (struct config *)cfg;
	if (fd < 0) {
		/* The caller's error names cfg->port: make it the one that failed. */
		c->port = cfg->tls_port;
		return fd;
	}
	uint16_t plain = cfg->port;
	note_address(fd, false);
	c->tls_port = c->port;
	c->port = plain;
	tls_fd = fd;
	return 0;
}

int server_listen(void)
{
	int rc = inherit_listener();
	if (rc != 0)
		return rc < 0 ? rc : listen_tls();
	int fd = bind_listener(cfg->port);
	if (fd < 0)
		return fd;
	note_address(fd, false);
	listen_fd = fd;
	return listen_tls();
}

int server_loops(void)
{
	cpu_set_t set;
	int cpus = 0;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		cpus = CPU_COUNT(&set);
	if (cpus <= 0)
		cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus <= 0)
		cpus = 1;
	return cfg->threads < cpus ? cfg->threads : cpus;
}

int server_pool_threads(void)
{
	return POOL_BASE + cfg->threads - server_loops();
}

/* ---- accepting ---- */

static void listen_on(struct worker *w, bool on)
{
	if (on == w->listening)
		return;
	if (on) {
		w->listening = ev_add(&w->loop, &w->listen, EPOLLIN | EPOLLEXCLUSIVE) == 0;
		if (tls_fd >= 0 && ev_add(&w->loop, &w->listen_tls, EPOLLIN | EPOLLEXCLUSIVE) < 0 &&
		    w->listening) {
			ev_del(&w->loop, &w->listen);
			w->listening = false;
		}
	} else {
		ev_del(&w->loop, &w->listen);
		if (tls_fd >= 0)
			ev_del(&w->loop, &w->listen_tls);
		w->listening = false;
	}
}

/* Out of descriptors: stop accepting for a moment instead of spinning on a
 * level-triggered listener; closing connections frees descriptors again. */
static void pause_accepting(struct worker *w, int err)
{
	long now = (long)w->loop.now;
	long last = atomic_load(&last_emfile_log);
	if (now != last && atomic_compare_exchange_strong(&last_emfile_log, &last, now))
		log_warn("accept: %s; pausing accepts for %d ms", strerror(err), EMFILE_PAUSE_MS);
	listen_on(w, false);
	w->accept_resume_ms = w->loop.now_ms + EMFILE_PAUSE_MS;
}

static void accept_from(struct worker *w, int lfd, bool tls)
{
	if (w->set.stopping || atomic_load(&stop_requested))
		return;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			conn_accept(&w->set, fd, &ss, len, tls);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN)
			return;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			pause_accepting(w, errno);
			return;
		}
		log_error("accept: %s", strerror(errno));
		return;
	}
}

static void accept_some(struct ev_io *io, uint32_t events)
{
	(void)events;
	accept_from(ev_container_of(io, struct worker, listen), listen_fd, false);
}

static void accept_tls(struct ev_io *io, uint32_t events)
{
	(void)events;
	accept_from(ev_container_of(io, struct worker, listen_tls), tls_fd, true);
}

/* ---- the loop ---- */

static void begin_stop(struct worker *w)
{
	w->stop_deadline_ms = w->loop.now_ms + STOP_GRACE_MS;
	listen_on(w, false);
	w->accept_resume_ms = 0;
	conn_set_stop(&w->set);
}

/* The longest the loop may sleep: until the access log's next flush, the
 * end of an accept pause, or the shutdown deadline. */
static int64_t max_wait(const struct worker *w)
{
	int64_t next = w->alog_flushed_ms + 1000;
	if (!w->listening && w->accept_resume_ms && w->accept_resume_ms < next)
		next = w->accept_resume_ms;
	if (w->set.stopping && w->stop_deadline_ms < next)
		next = w->stop_deadline_ms;
	return next > w->loop.now_ms ? next - w->loop.now_ms : 0;
}

/* After a turn: resume accepting, flush the access log. */
static void housekeeping(struct worker *w)
{
	int64_t now = w->loop.now_ms;
	if (!w->listening && !w->set.stopping && w->accept_resume_ms && now >= w->accept_resume_ms) {
		w->accept_resume_ms = 0;
		listen_on(w, true);
	}
	if (now - w->alog_flushed_ms >= 1000) {
		if (w->set.alog.n)
			alog_flush(&w->set.alog);
		w->alog_flushed_ms = now;
	}
}

/* Returns true when the worker is done stopping. */
static bool stop_step(struct worker *w)
{
	if (!w->set.stopping || (w->set.nconns && w->loop.now_ms < w->stop_deadline_ms))
		return false;
	if (w->set.nconns)
		log_warn("shutdown: closing %ld unfinished connection(s)", w->set.nconns);
	conn_set_close_all(&w->set);
	conn_set_turn(&w->set);
	if (w->set.nconns == 0)
		return true;
	/* Only connections held by blocking jobs are left: wait for their
	 * completions. */
	w->stop_deadline_ms = w->loop.now_ms + 1000;
	return false;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char name[24];
	snprintf(name, sizeof(name), "worker-%d", w->id);
	log_set_thread(name);
	pthread_setname_np(pthread_self(), name);
	if (conn_set_init(&w->set, &w->loop, metrics_of(w->id - 1)) < 0) {
		/* Once, not once per worker: with many threads the per-user
		 * inotify limit runs out for all of them at once. */
		static atomic_bool warned;
		if (!atomic_exchange(&warned, true))
			log_warn("inotify unavailable for some workers (%s): their files are "
				 "opened on every request", strerror(errno));
	}
	ev_update_time(&w->loop);
	w->alog_flushed_ms = w->loop.now_ms;
	listen_on(w, true);

	for (;;) {
		int n = ev_run_once(&w->loop, max_wait(w));
		if (n < 0) {
			log_error("epoll_wait: %s", strerror(-n));
			break;
		}
		if (!w->set.stopping && atomic_load(&stop_requested))
			begin_stop(w);
		conn_set_turn(&w->set);
		housekeeping(w);
		if (stop_step(w))
			break;
	}
	alog_flush(&w->set.alog);
	conn_set_destroy(&w->set);
	return NULL;
}

int server_start(void)
{
	n_workers = server_loops();
	workers = calloc((size_t)n_workers, sizeof(*workers));
	if (workers == NULL)
		return -ENOMEM;
	upload_init();
	metrics_init(n_workers);
	int rc = iopool_start(server_pool_threads());
	if (rc < 0)
		return rc;
	log_info("%d event loop(s), %d I/O thread(s)", n_workers, server_pool_threads());
	for (int i = 0; i < n_workers; i++) {
		struct worker *w = &workers[i];
		w->id = i + 1;
		rc = ev_init(&w->loop, CONN_BUF);
		if (rc < 0)
			return rc;
		w->listen.fd = listen_fd;
		w->listen.cb = accept_some;
		w->listen_tls.fd = tls_fd;
		w->listen_tls.cb = accept_tls;
	}
	for (int i = 0; i < n_workers; i++) {
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
	 * open until the workers have left it. An inherited socket is shared
	 * with whoever passed it (systemd), which keeps it across a restart:
	 * shut down, it would refuse the next process's clients too. Its
	 * clients wait in its queue for that process instead. */
	if (!listen_inherited)
		shutdown(listen_fd, SHUT_RDWR);
	if (tls_fd >= 0)
		shutdown(tls_fd, SHUT_RDWR);
}

void server_stop(void)
{
	server_stop_listening();
	for (int i = 0; i < n_workers; i++)
		ev_wake(&workers[i].loop);
	for (int i = 0; i < n_workers; i++)
		pthread_join(workers[i].tid, NULL);
	iopool_stop();
	close(listen_fd);
	if (tls_fd >= 0)
		close(tls_fd);
	for (int i = 0; i < n_workers; i++)
		ev_destroy(&workers[i].loop);
	free(workers);
}
