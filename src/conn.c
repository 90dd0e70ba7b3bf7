/* One connection's state machine. Sockets are registered once, edge-
 * triggered, for input and output; every step runs until the system call
 * it needs says EAGAIN, so no readiness edge is ever lost. Handlers
 * (static_file.c, upload.c) only describe responses: respond() turns a
 * description into bytes, and every byte leaves through out_send() or
 * out_sendfile(). */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "compress.h"
#include "config.h"
#include "cors.h"
#include "hostmatch.h"
#include "iopool.h"
#include "metrics.h"
#include "netaddr.h"
#include "path.h"
#include "proxy_proto.h"
#include "static_file.h"
#include "tls.h"
#include "upload.h"
#include "uploads_read.h"

const char *const conn_state_names[] = {
#define X(name) #name,
	CONN_STATES(X)
#undef X
};

/* Room before a response's header lines for its status line, Date and
 * Server, which are written last (they depend on the status a handler
 * picks): the head is then contiguous without copying the fields. */
#define HEAD_RESERVE 160

/* A request body must arrive within BODY_GRACE_S seconds plus one second
 * for every --body-min-rate bytes received (Apache mod_reqtimeout's
 * body=20,MinRate=500): a client trickling bytes cannot hold a connection
 * by re-arming the idle timer. */
#define BODY_GRACE_S 20

enum step { STEP_GO, STEP_STOP };

static atomic_long open_conns;

static void conn_run(struct conn *c);
static void conn_close(struct conn *c);

long conn_open_count(void)
{
	return atomic_load_explicit(&open_conns, memory_order_relaxed);
}

static inline char *wbuf(struct conn *c)
{
	return c->buf + CONN_RBUF;
}

static inline void set_timer(struct conn *c, int id)
{
	ev_timer_set(c->set->loop, &c->timer, id);
}

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Notes when a request's first byte came, for the JSON log's duration
 * (the combined format has none: no clock read then). */
static inline void mark_request_start(struct conn *c)
{
	if (alog_get_format() == ALOG_JSON)
		c->req_t0_us = mono_us();
}

static bool body_pending(const struct conn *c)
{
	return c->body_left > 0 || (c->body_chunked && !c->chunk.done);
}

static bool ensure_buf(struct conn *c)
{
	if (c->buf == NULL)
		c->buf = ev_buf_get(c->set->loop);
	return c->buf != NULL;
}

static void release_buf(struct conn *c)
{
	if (c->buf && c->rlen == 0 && c->wlen == 0) {
		ev_buf_put(c->set->loop, c->buf);
		c->buf = NULL;
	}
}

/* Lets go of the response body and what it lives in. */
static void release_body(struct conn *c)
{
	c->file_fd = -1;
	c->file_left = 0;
	c->mem = NULL;
	c->mem_left = 0;
	if (c->ref) {
		fcache_put(&c->set->fcache, c->ref);
		c->ref = NULL;
	}
	cz_put(c->zref);
	c->zref = NULL;
	free(c->parts);
	c->parts = NULL;
	c->part_mem = NULL;
}

static const char *peer_text(const struct conn *c, char *buf, size_t cap)
{
	return log_addr_text(&c->client, buf, cap);
}

static void bury(struct conn *c)
{
	c->grave_next = c->set->graveyard;
	c->set->graveyard = c;
}

static void log_access(struct conn *c);

/* A response cut short (the client left, or shutdown): its access-log line
 * with the body bytes that really left. */
static void log_cut_response(struct conn *c)
{
	if (c->state != CS_WRITE || c->interim || c->status == 0)
		return;
	uint32_t unsent = c->wlen - c->woff;
	uint64_t not_left = unsent < c->body_in_wbuf ? unsent : c->body_in_wbuf;
	c->sent_body -= not_left < c->sent_body ? not_left : c->sent_body;
	log_access(c);
}

static void conn_close(struct conn *c)
{
	if (c->closed)
		return;
	log_cut_response(c);
	c->closed = true;
	set_timer(c, -1);
	release_body(c);
	if (c->tls) {
		tls_free(c->tls, true);
		c->tls = NULL;
	}
	if (c->io.fd >= 0) {
		close(c->io.fd);
		c->io.fd = -1;
	}
	if (c->job)
		return; /* job_done buries it */
	upload_free(c->up);
	c->up = NULL;
	bury(c);
}

static void conn_free(struct conn *c)
{
	if (c->buf)
		ev_buf_put(c->set->loop, c->buf);
	c->set->nconns--;
	atomic_fetch_sub_explicit(&open_conns, 1, memory_order_relaxed);
	free(c);
}

/* ---- the one way in, the one way out ---- */

/* Receives up to n bytes: every byte a client sends comes through here.
 * Returns what recv returns (errno set). */
static ssize_t in_recv(struct conn *c, void *p, size_t n)
{
	if (c->tls) {
		ssize_t r = tls_read(c->tls, p, n);
		if (r > 0)
			c->rx_ns = tls_rx_ns(c->tls);
		return r;
	}
	/* With the time the bytes reached the host (see make_fresh). */
	return ev_recv_stamped(c->io.fd, p, n, &c->rx_ns);
}

enum out { OUT_DONE, OUT_AGAIN, OUT_CLOSED };

/* Sends iov; *sent says how many bytes left. EINTR is retried here. */
static enum out out_send(struct conn *c, struct iovec *iov, int n, int flags, size_t *sent)
{
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
	for (;;) {
		ssize_t r = c->tls ? tls_writev(c->tls, iov, n)
			  : n == 1 ? send(c->io.fd, iov[0].iov_base, iov[0].iov_len, flags | MSG_NOSIGNAL)
				   : sendmsg(c->io.fd, &mh, flags | MSG_NOSIGNAL);
		if (r >= 0) {
			*sent = (size_t)r;
			return OUT_DONE;
		}
		if (errno == EINTR)
			continue;
		*sent = 0;
		return errno == EAGAIN ? OUT_AGAIN : OUT_CLOSED;
	}
}

static enum out out_sendfile(struct conn *c, size_t want, size_t *sent)
{
	for (;;) {
		off_t off = (off_t)c->file_off;
		ssize_t r = c->tls ? tls_sendfile(c->tls, c->file_fd, c->file_off, want)
				   : sendfile(c->io.fd, c->file_fd, &off, want);
		if (r > 0) {
			*sent = (size_t)r;
			return OUT_DONE;
		}
		*sent = 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return OUT_AGAIN;
		if (r == 0)
			log_warn("file shrank while being sent; closing the connection");
		return OUT_CLOSED;
	}
}

/* ---- responses ---- */

static void resp_init(struct conn *c, struct response *r)
{
	r->status = 0;
	r->detail = NULL;
	obuf_init(&r->hdr, wbuf(c) + HEAD_RESERVE, CONN_WBUF - HEAD_RESERVE);
	r->body = RB_NONE;
	r->mem = NULL;
	r->mem_n = 0;
	r->fd = -1;
	r->off = r->len = 0;
	r->parts = NULL;
	r->ref = NULL;
	r->zref = NULL;
	r->close = false;
	r->send_continue = false;
}

/* An error response's body: "<code> <reason>: <detail>". */
static size_t error_body(struct conn *c, struct response *r, char *body, size_t cap)
{
	int n = snprintf(body, cap, "%d %s: %s\n", r->status, resp_reason(r->status), r->detail);
	if (n < 0 || (size_t)n >= cap)
		n = (int)strlen(body);
	if (r->status != 404 && r->status != 408) {
		char ip[INET6_ADDRSTRLEN];
		log_refusal("refused %s: %d %s", peer_text(c, ip, sizeof(ip)), r->status, r->detail);
	}
	ob_puts(&r->hdr, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: ");
	ob_u64(&r->hdr, (uint64_t)n);
	ob_put(&r->hdr, "\r\n", 2);
	return (size_t)n;
}

/* Reads fd[off .. off+n) behind the head in o. A small file not held in
 * memory (a cache miss) then leaves with its head in one send(), as a
 * cached one does: pread() and one send() cost the kernel less than a
 * send() of the head and a sendfile() of a few KiB, which goes through a
 * pipe and hands the receiver page fragments. False when the file gave
 * fewer bytes (it shrank, or an I/O error): then o is as it was and the
 * body goes by sendfile(), which finds out and closes. */
static bool read_behind(struct obuf *o, int fd, uint64_t off, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, o->p + o->n + got, n - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	o->n += n;
	return true;
}

/* Turns the description r into the bytes to send, and starts sending. */
static void respond(struct conn *c, struct response *r)
{
	struct conn_set *s = c->set;
	char ebody[256];
	size_t ebody_n = 0;
	c->status = r->status;
	if (resp_must_close(r->status)) {
		c->keep_alive = false;
		c->linger = true;
	}
	if (r->close || s->stopping)
		c->keep_alive = false;
	if (c->expect_100 && body_pending(c)) {
		/* Answered without 100 Continue: the client may or may not send
		 * its body now, so the framing is lost; say so in this head. */
		c->keep_alive = false;
	}
	if (r->detail)
		ebody_n = error_body(c, r, ebody, sizeof(ebody));
	struct obuf *o = &r->hdr;
	cors_put(o, c->cors_allow, cfg->cors_vary);
	c->cors_allow = NULL;
	ob_puts(o, "X-Content-Type-Options: nosniff\r\n");
	if (c->tls && tls_hsts_header[0])
		ob_puts(o, tls_hsts_header);
	resp_end(o, c->keep_alive, (unsigned)(cfg->keepalive_max - (int)c->requests));

	char start[HEAD_RESERVE];
	struct obuf so;
	obuf_init(&so, start, sizeof(start));
	resp_start(&so, r->status, s->loop->now);
	memcpy(wbuf(c) + HEAD_RESERVE - so.n, start, so.n);
	c->woff = (uint32_t)(HEAD_RESERVE - so.n);

	c->ref = r->ref;
	c->zref = r->zref;
	if (c->head_only) {
		free(r->parts);
	} else if (r->detail) {
		ob_put(o, ebody, ebody_n);
		c->sent_body = c->body_in_wbuf = (uint32_t)ebody_n;
	} else if (r->body == RB_MEM) {
		if (r->mem_n <= o->cap - o->n) {
			/* A small body joins the head: one send() of one buffer
			 * costs the kernel less than a sendmsg() of two. */
			ob_put(o, r->mem, r->mem_n);
			c->sent_body = c->body_in_wbuf = (uint32_t)r->mem_n;
		} else {
			c->mem = r->mem;
			c->mem_left = r->mem_n;
		}
	} else if (r->body == RB_FILE && r->len) {
		if (r->len <= o->cap - o->n && read_behind(o, r->fd, r->off, (size_t)r->len)) {
			c->sent_body = c->body_in_wbuf = (uint32_t)r->len;
		} else {
			c->file_fd = r->fd;
			c->file_off = r->off;
			c->file_left = r->len;
		}
	} else if (r->body == RB_PARTS) {
		c->parts = r->parts;
		c->part = 0;
		c->part_mem = r->mem;
		c->file_fd = r->fd;
	}
	if (!o->ok || !so.ok) {
		/* Cannot happen with the sizes used; never send a torn head. */
		log_error("response head too large (status %d)", r->status);
		conn_close(c);
		return;
	}
	c->wlen = (uint32_t)(HEAD_RESERVE + o->n);
	c->state = CS_WRITE;
	set_timer(c, CT_BODY);
}

/* A refusal from the connection itself. */
static void conn_error(struct conn *c, int status, const char *detail, const char *extra)
{
	if (c->closed || !ensure_buf(c)) {
		conn_close(c);
		return;
	}
	struct response r;
	resp_init(c, &r);
	if (extra)
		ob_puts(&r.hdr, extra);
	resp_error(&r, status, detail);
	respond(c, &r);
}

/* Queues "100 Continue" ahead of reading the body. */
static void send_continue(struct conn *c)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	memcpy(wbuf(c), cont, sizeof(cont) - 1);
	c->woff = 0;
	c->wlen = sizeof(cont) - 1;
	c->interim = true;
	c->expect_100 = false;
	c->state = CS_WRITE;
}

/* ---- request dispatch ---- */

/* Is the Host one this server answers to? By name only: a proxy or a port
 * mapping changes the port, DNS rebinding is about the name. Returns 0,
 * 403 (not served here) or 400 (malformed). */
static int host_check(struct hp_slice h)
{
	if (cfg->host_any)
		return 0;
	switch (hm_match(cfg->hosts, cfg->n_hosts, h.p, h.n)) {
	case HM_ALLOWED:
		return 0;
	case HM_MALFORMED:
		return 400;
	default:
		return 403;
	}
}

/* Is the target /upload, compared after decoding and normalising (so
 * /%75pload and /x/../upload are /upload too)? */
static bool is_upload_path(const struct http_request *req)
{
	char rel[64];
	bool dir_slash;
	if (req->path.n == 7 && memcmp(req->path.p, "/upload", 7) == 0)
		return true;
	return req->path.n < sizeof(rel) && req->path.p[0] == '/' &&
	       path_resolve(req->path.p, req->path.n, rel, sizeof(rel), &dir_slash) == 0 &&
	       !dir_slash && strcmp(rel, "upload") == 0;
}

static bool is_options(const struct http_request *req)
{
	return req->method.n == 7 && memcmp(req->method.p, "OPTIONS", 7) == 0;
}

static void slice_off(struct conn *c, struct hp_slice s, uint16_t *off, uint16_t *n)
{
	if (s.p == NULL) {
		*off = *n = 0;
		return;
	}
	*off = (uint16_t)(s.p - c->buf);
	*n = (uint16_t)s.n;
}

/* Freshness: a change made before a request was sent is applied before
 * the request is answered. The kernel queues a change's inotify event
 * while the changing call runs, so before the client can send anything
 * that depends on it; what is left is to know that the queue was looked
 * at after the request's bytes came in.
 *
 * - By time: the inotify descriptor sits in the loop's epoll set. When an
 *   epoll_wait did not report it, the queue was empty when it looked, so
 *   every change queued before the wait began (ev_loop.polled_ns) has been
 *   applied; so has every change queued before a read of the queue began.
 *   That instant is fresh_ns. A request whose bytes reached the host
 *   before fresh_ns (the kernel's receive timestamp, SO_TIMESTAMPNS) was
 *   sent after nothing that is still queued. Under load the bytes a turn
 *   reads came in during the turn before, so the queue is not read at all.
 * - By order, when the time is not known (a full epoll batch):
 *   a request whose bytes came in a recv after the last read of the queue
 *   makes this worker read it.
 * A step of the system clock backwards while a turn runs could make the
 * first rule skip a read it needed; it is the only gap (README, known
 * limits). */
static void make_fresh(struct conn *c)
{
	struct conn_set *s = c->set;
	if (c->rx_ns != 0 && c->rx_ns < s->fresh_ns)
		return;
	if (c->rx_seq > s->fresh_seq) {
		s->fresh_seq = s->rx_seq;
		s->fresh_ns = realtime_ns();
		fcache_changes(&s->fcache);
	}
}

static void submit_job(struct conn *c);

/* After SIGHUP re-resolved the document root: serve the new tree from
 * now on. Responses in flight hold their files and finish on the old. */
static void use_current_root(struct conn_set *s)
{
	if (!docroot_stale(s->root))
		return;
	struct docroot *r = docroot_get();
	fcache_set_root(&s->fcache, r->path, r->fd);
	docroot_put(s->root);
	s->root = r;
}

/* An upload's end, in the counters: stored, refused or failed. */
static void count_upload(struct conn *c, const struct response *r)
{
	struct metrics *m = c->set->m;
	if (r->status == 201) {
		mx_add(&m->uploads_stored, 1);
		mx_add(&m->upload_bytes, upload_size(c->up));
	} else {
		mx_add(r->status >= 500 ? &m->uploads_failed : &m->uploads_refused, 1);
	}
}

/* The upload handler's answer to a step: go on reading, wait for the
 * pool, or send its response. */
static void upload_step(struct conn *c, enum hstep st, struct response *r)
{
	switch (st) {
	case H_BODY:
		if (c->state != CS_READ_BODY) {
			c->state = CS_READ_BODY;
			set_timer(c, CT_BODY);
		}
		return;
	case H_IO:
		submit_job(c);
		return;
	case H_RESPOND:
		c->body_mode = BODY_NONE;
		count_upload(c, r);
		respond(c, r);
		return;
	}
}

static void dispatch_upload(struct conn *c, const struct hreq *h)
{
	struct response r;
	resp_init(c, &r);
	enum hstep st = upload_begin(h, &r, &c->up);
	if (st != H_BODY) {
		mx_add(r.status >= 500 ? &c->set->m->uploads_failed : &c->set->m->uploads_refused, 1);
		respond(c, &r);
		return;
	}
	c->body_mode = BODY_UPLOAD;
	if (r.send_continue)
		send_continue(c);
	else
		c->state = CS_READ_BODY;
}

/* --metrics: the counters, to allowed clients only (the request's client:
 * behind a trusted proxy, the one it names, never the proxy itself). */
static void answer_metrics(struct conn *c)
{
	if (!na_match(cfg->metrics_allow, cfg->n_metrics_allow, &c->client.sa)) {
		conn_error(c, 403, "metrics are not available to this client", NULL);
		return;
	}
	char body[6144];
	size_t n = metrics_render(body, sizeof(body), conn_open_count());
	if (n == 0) {
		conn_error(c, 500, "metrics do not fit", NULL);
		return;
	}
	struct response r;
	resp_init(c, &r);
	r.status = 200;
	ob_puts(&r.hdr, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
			"Cache-Control: no-store\r\nContent-Length: ");
	ob_u64(&r.hdr, n);
	ob_put(&r.hdr, "\r\n", 2);
	r.body = RB_MEM;
	r.mem = body;
	r.mem_n = n;
	respond(c, &r); /* copies the body behind the head: it fits */
}

/* OPTIONS (RFC 9110 9.3.7): 204 with Allow, no body and no length. */
static void answer_options(struct conn *c, const struct http_request *req)
{
	struct response r;
	resp_init(c, &r);
	r.status = 204;
	bool up = req->form != HP_ASTERISK && is_upload_path(req);
	ob_puts(&r.hdr, up ? "Allow: POST, OPTIONS\r\n" : "Allow: GET, HEAD, OPTIONS\r\n");
	if (c->cors_allow && cors_is_preflight(req) && (up || (req->form != HP_ASTERISK && ur_match(req))))
		cors_put_preflight(&r.hdr, up);
	respond(c, &r);
}

/* --redirect-https: 308 to the same target on the HTTPS port. */
static void redirect_https(struct conn *c, const struct http_request *req, struct hp_slice host)
{
	struct response r;
	resp_init(c, &r);
	r.status = 308;
	struct hp_slice t = req->form == HP_ABSOLUTE ? req->path : req->target;
	if (t.p == NULL || t.n == 0 || t.p[0] != '/')
		t = (struct hp_slice){ "/", 1 };
	tls_redirect_location(&r.hdr, host.p, host.n, t.p, t.n);
	ob_puts(&r.hdr, "Content-Length: 0\r\n");
	respond(c, &r);
}

/* With --trusted-proxy: the client of this request, when its peer is a
 * trusted proxy that names one (Forwarded, else X-Forwarded-For). */
static void find_client(struct conn *c, const struct http_request *req)
{
	c->client = c->peer;
	if (cfg->n_trusted == 0 || !na_match(cfg->trusted, cfg->n_trusted, &c->peer.sa))
		return;
	struct hp_slice v[HP_MAX_HEADERS];
	struct na_slice nv[HP_MAX_HEADERS];
	enum na_header kind = NA_FORWARDED;
	size_t n = hp_field_lines(req, "forwarded", v, HP_MAX_HEADERS);
	if (n == 0) {
		kind = NA_X_FORWARDED_FOR;
		n = hp_field_lines(req, "x-forwarded-for", v, HP_MAX_HEADERS);
	}
	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++)
		nv[i] = (struct na_slice){ v[i].p, v[i].n };
	struct na_list trusted = { cfg->trusted, cfg->n_trusted };
	struct sockaddr_storage out;
	if (na_client(kind, nv, n, na_trusted, &trusted, &out))
		memcpy(&c->client, &out, sizeof(c->client));
}

static void dispatch(struct conn *c, const struct http_request *req, size_t head_len)
{
	struct conn_set *s = c->set;
	c->head_len = c->rpos = (uint32_t)head_len;
	c->requests++;
	c->idle = false;
	c->head_only = req->m == HP_M_HEAD;
	c->mx_method = (uint8_t)mx_method(req->method.p, req->method.n);
	if (c->requests > 1)
		mx_add(&s->m->keepalive_reuse, 1);
	slice_off(c, req->line, &c->line_off, &c->line_n);
	set_timer(c, CT_BODY);

	find_client(c, req);
	struct hp_info info;
	const char *reason = NULL;
	memset(&info, 0, sizeof(info));
	int st = hp_analyze(req, &info, &reason);
	slice_off(c, info.referer, &c->ref_off, &c->ref_n);
	slice_off(c, info.user_agent, &c->ua_off, &c->ua_n);
	slice_off(c, info.host, &c->host_off, &c->host_n);
	/* An unmet expectation (417) leaves the framing known: the body is
	 * consumed as for any refusal and the connection can stay. */
	if (st && st != 417) {
		c->keep_alive = false;
		conn_error(c, st, reason, NULL);
		return;
	}
	c->keep_alive = info.keep_alive && c->requests < (unsigned)cfg->keepalive_max && !s->stopping;
	c->body_start_ms = s->loop->now_ms;
	c->body_rx = 0;
	c->body_left = info.has_length ? info.length : 0;
	c->body_chunked = info.chunked;
	if (info.chunked)
		hp_chunked_init(&c->chunk);
	c->expect_100 = info.expect_continue;
	/* A body we will not read must still be consumed to keep the framing;
	 * past the upload limit closing is cheaper and safer. */
	if (c->body_left > cfg->max_upload)
		c->keep_alive = false;
	if (st) {
		conn_error(c, st, reason, NULL);
		return;
	}

	struct hp_slice host = req->form == HP_ABSOLUTE ? req->authority : info.host;
	st = host.p ? host_check(host) : 0;
	if (st) {
		if (st == 400)
			c->keep_alive = false;
		conn_error(c, st, st == 400 ? "malformed Host" : "host not served here", NULL);
		return;
	}

	if (cfg->redirect_https && c->tls == NULL) {
		redirect_https(c, req, host);
		return;
	}

	c->cors_allow = cors_for_request(req, cfg->cors_origins, cfg->n_cors);
	char ip[INET6_ADDRSTRLEN];
	struct hreq h = {
		.req = req, .info = &info, .fc = &s->fcache, .now = s->loop->now,
		.head_only = c->head_only, .peer = NULL, .m = s->m,
	};
	if (cfg->metrics_path && (req->m == HP_M_GET || req->m == HP_M_HEAD) &&
	    req->path.n == strlen(cfg->metrics_path) &&
	    memcmp(req->path.p, cfg->metrics_path, req->path.n) == 0) {
		answer_metrics(c);
	} else if (req->m == HP_M_GET || req->m == HP_M_HEAD) {
		use_current_root(s);
		h.root_fd = s->root->fd;
		h.root = s->root->path;
		make_fresh(c);
		struct response r;
		resp_init(c, &r);
		(ur_match(req) ? ur_serve : sf_serve)(&h, &r);
		respond(c, &r);
	} else if (req->m == HP_M_POST && is_upload_path(req)) {
		h.peer = peer_text(c, ip, sizeof(ip));
		dispatch_upload(c, &h);
	} else if (req->m == HP_M_POST) {
		conn_error(c, 405, "POST is only accepted on /upload", "Allow: GET, HEAD, OPTIONS\r\n");
	} else if (is_options(req)) {
		answer_options(c, req);
	} else {
		conn_error(c, 405, "method not allowed",
			   req->form != HP_ASTERISK && is_upload_path(req) ? "Allow: POST, OPTIONS\r\n"
									: "Allow: GET, HEAD, OPTIONS\r\n");
	}
}

/* ---- the blocking-I/O pool ---- */

static void job_done(struct ev_job *job)
{
	struct conn *c = job->ctx;
	c->job = NULL;
	if (c->closed) {
		/* The client left: an unfinished upload leaves nothing. */
		upload_free(c->up);
		c->up = NULL;
		bury(c);
		return;
	}
	struct response r;
	resp_init(c, &r);
	enum hstep st = upload_io_done(c->up, &r);
	if (st == H_RESPOND)
		mx_commit(c->set->m, (uint64_t)(mono_us() - c->job_t0_us));
	upload_step(c, st, &r);
	conn_run(c);
}

static void submit_job(struct conn *c)
{
	struct ev_job *job = upload_job(c->up);
	job->loop = c->set->loop;
	job->done = job_done;
	job->ctx = c;
	c->job = job;
	c->job_t0_us = mono_us();
	c->state = CS_WAIT_IO;
	set_timer(c, -1);
	iopool_submit(job);
}

/* ---- states ---- */

static void start_close(struct conn *c)
{
	if (!c->linger && c->rpos >= c->rlen && !body_pending(c)) {
		conn_close(c);
		return;
	}
	/* Closing with unread input would send a RST that can destroy the
	 * response in flight: half-close and drain for a while first. */
	if (c->tls)
		tls_close_notify(c->tls);
	shutdown(c->io.fd, SHUT_WR);
	c->state = CS_LINGER;
	set_timer(c, CT_LINGER);
}

static void next_request(struct conn *c)
{
	upload_free(c->up);
	c->up = NULL;
	if (!c->keep_alive || c->set->stopping) {
		start_close(c);
		return;
	}
	uint32_t rest = c->rlen - c->rpos;
	if (rest)
		memmove(c->buf, c->buf + c->rpos, rest);
	c->rlen = rest;
	c->rpos = c->head_len = c->scanned = 0;
	c->body_mode = BODY_NONE;
	c->body_left = 0;
	c->body_chunked = false;
	c->expect_100 = false;
	c->status = 0;
	c->sent_body = 0;
	c->head_only = false;
	c->line_n = c->ref_n = c->ua_n = c->host_n = 0;
	c->state = CS_READ_HEAD;
	if (rest) {
		mark_request_start(c);
		set_timer(c, CT_HEADER);
	} else {
		c->idle = true;
		set_timer(c, CT_IDLE);
	}
}

static void log_access(struct conn *c)
{
	struct metrics *m = c->set->m;
	if (c->status >= 100 && c->status < 600)
		mx_add(&m->requests[c->mx_method][c->status / 100 - 1], 1);
	mx_add(&m->response_bytes, c->sent_body);
	if (c->set->alog.p == NULL)
		return;
	bool json = alog_get_format() == ALOG_JSON;
	struct alog_entry e = {
		.addr = &c->client,
		.line = c->line_n ? c->buf + c->line_off : NULL,
		.line_n = c->line_n,
		.status = c->status,
		.bytes = c->sent_body,
		.referer = c->ref_n ? c->buf + c->ref_off : NULL,
		.referer_n = c->ref_n,
		.agent = c->ua_n ? c->buf + c->ua_off : NULL,
		.agent_n = c->ua_n,
		.host = c->host_n ? c->buf + c->host_off : NULL,
		.host_n = c->host_n,
		.duration_us = json && c->req_t0_us ? (uint64_t)(mono_us() - c->req_t0_us) : 0,
	};
	alog_write(&c->set->alog, c->set->loop->now, &e);
}

static void finish_response(struct conn *c)
{
	c->body_in_wbuf = 0;
	log_access(c);
	c->status = 0; /* logged: a close from here on is no cut response */
	release_body(c);
	c->wlen = c->woff = 0;
	if (c->keep_alive && body_pending(c) && c->body_mode != BODY_UPLOAD) {
		c->body_mode = BODY_DISCARD;
		c->sent_body = 0; /* counts discarded bytes from here */
		c->state = CS_READ_BODY;
		return;
	}
	next_request(c);
}

/* What the access log shows for a head that failed to parse: the request
 * line when it is complete and shaped like one (printable, three parts),
 * so "GET /%zz HTTP/1.1" is visible; else "-". */
static void log_line_of_bad_head(struct conn *c, const struct http_request *req)
{
	if (req->line.p) {
		slice_off(c, req->line, &c->line_off, &c->line_n);
		return;
	}
	size_t lim = c->rlen < HP_MAX_HEAD ? c->rlen : HP_MAX_HEAD;
	const char *cr = memchr(c->buf, '\r', lim);
	c->line_off = c->line_n = 0;
	if (cr == NULL || (size_t)(cr - c->buf) + 1 >= lim || cr[1] != '\n')
		return;
	int spaces = 0;
	for (const char *p = c->buf; p < cr; p++) {
		if (*p < 0x20 || *p > 0x7e)
			return;
		spaces += *p == ' ';
	}
	if (spaces == 2)
		c->line_n = (uint16_t)(cr - c->buf);
}

/* RFC 9112 2.2: a server SHOULD ignore at least one empty line (CRLF)
 * before a request line; some clients send one after a POST body. Whole
 * CRLF pairs only, all removed with one move. The header timeout bounds a
 * client that sends nothing else. */
static void skip_empty_lines(struct conn *c)
{
	uint32_t i = 0;
	while (i + 1 < c->rlen && c->buf[i] == '\r' && c->buf[i + 1] == '\n')
		i += 2;
	if (i == 0)
		return;
	memmove(c->buf, c->buf + i, c->rlen - i);
	c->rlen -= i;
	c->scanned = 0;
}

/* Should the head be parsed (again)? Always when its first bytes are new,
 * so a malformed start is refused at once; after an incomplete parse only
 * when a new line ended or the size limit is reached, since nothing else
 * can complete it. A client that sends its head a byte at a time then
 * costs a memchr per byte, not a parse of everything so far. A lone CR may
 * be the first half of an empty line: wait for more. */
static bool head_worth_parsing(const struct conn *c)
{
	if (c->rlen == 0 || (c->rlen == 1 && c->buf[0] == '\r'))
		return false;
	if (c->scanned == 0 || c->rlen >= HP_MAX_HEAD)
		return true;
	return c->rlen > c->scanned && memchr(c->buf + c->scanned, '\n', c->rlen - c->scanned);
}

/* One recv into the read buffer. Returns its result (errno kept). */
static ssize_t read_some(struct conn *c)
{
	size_t want = CONN_RBUF - c->rlen;
	if (c->rlen == 0 && c->state == CS_READ_HEAD)
		mark_request_start(c);
	ssize_t n = in_recv(c, c->buf + c->rlen, want);
	c->rdrained = (n > 0 && (size_t)n < want) || (n < 0 && errno == EAGAIN);
	if (n > 0) {
		c->rx_seq = ++c->set->rx_seq;
		c->rlen += (uint32_t)n;
		if (c->idle) {
			c->idle = false;
			set_timer(c, CT_HEADER);
		}
	}
	return n;
}

/* --proxy-protocol: the PROXY header that starts the connection. Returns
 * true once it is consumed; false while more bytes are needed, or when it
 * is malformed (the connection is then closed). */
static bool take_proxy_header(struct conn *c)
{
	struct pp_result pr;
	int n = pp_parse(c->buf, c->rlen, &pr);
	if (n == PP_INCOMPLETE)
		return false;
	if (n == PP_ERROR) {
		char ip[INET6_ADDRSTRLEN];
		log_refusal("client %s: no valid PROXY protocol header; closing",
			    log_addr_text(&c->peer, ip, sizeof(ip)));
		conn_close(c);
		return false;
	}
	if (!pr.keep_peer)
		memcpy(&c->peer, &pr.src, sizeof(c->peer));
	c->client = c->peer;
	c->pp_pending = false;
	c->rlen -= (uint32_t)n;
	memmove(c->buf, c->buf + n, c->rlen);
	c->scanned = 0;
	return true;
}

static enum step do_read_head(struct conn *c)
{
	if (!ensure_buf(c)) {
		conn_close(c);
		return STEP_STOP;
	}
	if (c->pp_pending && c->rlen && !take_proxy_header(c) && c->closed)
		return STEP_STOP;
	if (c->rlen && c->buf[0] == '\r')
		skip_empty_lines(c);
	if (!c->pp_pending && head_worth_parsing(c)) {
		struct http_request req;
		int r = hp_parse_request(c->buf, c->rlen, &req);
		c->scanned = c->rlen;
		if (r >= 0) {
			dispatch(c, &req, (size_t)r);
			return STEP_GO;
		}
		if (r == HP_ERROR) {
			log_line_of_bad_head(c, &req);
			c->requests++;
			c->keep_alive = false;
			/* A HEAD gets no body even when its head is refused
			 * (RFC 9110 §9.3.2): the method is known once parsed. */
			c->head_only = req.m == HP_M_HEAD;
			c->mx_method = req.method.p ? (uint8_t)mx_method(req.method.p, req.method.n)
						    : MX_OTHER;
			conn_error(c, req.status, req.reason, NULL);
			return STEP_GO;
		}
	}
	if (c->rdrained) {
		/* The socket was empty after the last read, and edge-triggered
		 * epoll reports any byte that arrives after it: no need to ask. */
		release_buf(c);
		return STEP_STOP;
	}
	ssize_t n = read_some(c);
	if (n > 0 || (n < 0 && errno == EINTR))
		return STEP_GO;
	if (n < 0 && errno == EAGAIN) {
		release_buf(c);
		return STEP_STOP;
	}
	conn_close(c);
	return STEP_STOP;
}

/* Has the body fallen below --body-min-rate? Then it is cut: 408 while
 * its request is unanswered, else just closed. */
static bool body_too_slow(struct conn *c)
{
	if (cfg->body_min_rate == 0)
		return false;
	int64_t allowed = (int64_t)BODY_GRACE_S * 1000 +
			  (int64_t)(c->body_rx * 1000 / cfg->body_min_rate);
	if (c->set->loop->now_ms - c->body_start_ms <= allowed)
		return false;
	char ip[INET6_ADDRSTRLEN];
	log_refusal("client %s sent its body too slowly (%llu bytes in %lld ms): closing",
		    peer_text(c, ip, sizeof(ip)), (unsigned long long)c->body_rx,
		    (long long)(c->set->loop->now_ms - c->body_start_ms));
	c->keep_alive = false;
	if (c->body_mode == BODY_DISCARD) {
		conn_close(c);
		return true;
	}
	c->body_mode = BODY_NONE;
	c->body_left = 0;
	c->body_chunked = false;
	conn_error(c, 408, "request body not received in time", NULL);
	return true;
}

/* Body bytes: to the upload, or counted and dropped. */
static bool body_bytes(struct conn *c, const char *p, size_t n)
{
	if (c->body_mode == BODY_UPLOAD) {
		struct response r;
		resp_init(c, &r);
		upload_step(c, upload_data(c->up, p, n, &r), &r);
		return c->state == CS_READ_BODY;
	}
	c->sent_body += n;
	if (c->sent_body > cfg->max_upload) {
		/* Discarding without end is a way to hold a worker. */
		conn_close(c);
		return false;
	}
	return true;
}

static void body_done(struct conn *c)
{
	if (c->body_mode == BODY_UPLOAD) {
		struct response r;
		resp_init(c, &r);
		upload_step(c, upload_end(c->up, &r), &r);
		return;
	}
	next_request(c);
}

/* A malformed chunked body. */
static void bad_chunk(struct conn *c)
{
	c->body_chunked = false;
	c->keep_alive = false;
	if (c->body_mode == BODY_DISCARD) {
		/* Its response is sent already: a second one would
		 * desynchronise the client. Just close. */
		c->linger = true;
		c->rpos = c->rlen;
		start_close(c);
		return;
	}
	c->body_mode = BODY_NONE;
	conn_error(c, 400, "malformed chunked body", NULL);
}

/* Feeds the buffered body bytes of a chunked body. Returns false when the
 * state changed (paused, answered, closed). */
static bool feed_chunked(struct conn *c, const char *p, size_t avail)
{
	size_t used = 0;
	struct hp_slice data = { NULL, 0 };
	if (hp_chunked_feed(&c->chunk, p, avail, &used, &data) == HP_ERROR) {
		bad_chunk(c);
		return false;
	}
	c->rpos += (uint32_t)used;
	if (c->body_mode == BODY_UPLOAD && data.n) {
		/* A chunk that declares more than the upload may hold is
		 * refused now, not after --max-upload bytes of it. */
		struct response r;
		resp_init(c, &r);
		enum hstep st = upload_announce(c->up, data.n + c->chunk.left, &r);
		if (st != H_BODY) {
			upload_step(c, st, &r);
			return false;
		}
	}
	return !data.n || body_bytes(c, data.p, data.n);
}

static enum step do_read_body(struct conn *c)
{
	if (!body_pending(c)) { /* Content-Length: 0 */
		body_done(c);
		return STEP_GO;
	}
	for (;;) {
		while (c->rpos < c->rlen) {
			const char *p = c->buf + c->rpos;
			size_t avail = c->rlen - c->rpos;
			if (c->body_chunked) {
				if (!feed_chunked(c, p, avail))
					return STEP_GO;
			} else {
				size_t take = avail < c->body_left ? avail : (size_t)c->body_left;
				c->rpos += (uint32_t)take;
				c->body_left -= take;
				if (take && !body_bytes(c, p, take))
					return STEP_GO;
			}
			if (!body_pending(c)) {
				body_done(c);
				return STEP_GO;
			}
		}
		/* All buffered body bytes are used: read more behind the head. */
		c->rpos = c->rlen = c->head_len;
		ssize_t n = read_some(c);
		if (n > 0) {
			c->body_rx += (uint64_t)n;
			if (body_too_slow(c))
				return STEP_GO;
			set_timer(c, CT_BODY);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return STEP_STOP;
		if (c->body_mode == BODY_UPLOAD) {
			char ip[INET6_ADDRSTRLEN];
			log_refusal("upload from %s: client left mid-body; nothing stored",
				    peer_text(c, ip, sizeof(ip)));
		}
		conn_close(c);
		return STEP_STOP;
	}
}

/* Are more bytes of this response to follow the ones in the write buffer
 * or memory? Only then may they be held back with MSG_MORE. */
static bool more_follows(const struct conn *c)
{
	return c->file_left || (c->parts && c->part <= c->parts->n);
}

/* Flags for the last bytes of a response. When the connection closes right
 * after, MSG_MORE holds them back for the moment until close() or
 * shutdown() queues the FIN, which then leaves in the same segment: one
 * packet (and one ACK) less per connection. */
static int send_flags(const struct conn *c)
{
	if (more_follows(c))
		return MSG_MORE;
	return c->keep_alive || c->interim ? 0 : MSG_MORE;
}

/* Queues the next part head of a multipart body (or its closing
 * boundary) in the write buffer, with that part's file range. */
static void next_part(struct conn *c)
{
	struct byteranges *br = c->parts;
	struct obuf o;
	obuf_init(&o, wbuf(c), CONN_WBUF);
	resp_part_head(&o, br, c->part);
	if (c->part < br->n) {
		uint64_t first = br->r[c->part].first, len = br->r[c->part].last - first + 1;
		if (c->part_mem) {
			c->mem = c->part_mem + first;
			c->mem_left = (size_t)len;
		} else {
			c->file_off = first;
			c->file_left = len;
		}
	}
	c->part++;
	c->wlen = (uint32_t)o.n;
	c->woff = 0;
	c->sent_body += o.n;
}

/* Sends the write buffer (and a body in memory with it). */
static enum step write_buffered(struct conn *c)
{
	while (c->woff < c->wlen || c->mem_left) {
		struct iovec iov[2] = {
			{ wbuf(c) + c->woff, c->wlen - c->woff },
			{ (void *)c->mem, c->mem_left },
		};
		int n = c->woff < c->wlen ? (c->mem_left ? 2 : 1) : 1;
		struct iovec *v = c->woff < c->wlen ? iov : iov + 1;
		size_t sent;
		enum out r = out_send(c, v, n, send_flags(c), &sent);
		if (r == OUT_AGAIN)
			return STEP_STOP;
		if (r == OUT_CLOSED) {
			conn_close(c);
			return STEP_STOP;
		}
		size_t h = c->wlen - c->woff;
		if (v == iov && sent < h) {
			c->woff += (uint32_t)sent;
		} else {
			if (v == iov) {
				c->woff = c->wlen;
				sent -= h;
			}
			c->mem += sent;
			c->mem_left -= sent;
			c->sent_body += sent;
		}
		/* Only progress re-arms the timer: a client that never reads
		 * must not keep its connection by sending. */
		if (c->woff < c->wlen || c->mem_left)
			set_timer(c, CT_BODY);
	}
	return STEP_GO;
}

static enum step do_write(struct conn *c)
{
	for (;;) {
		if (write_buffered(c) == STEP_STOP)
			return STEP_STOP;
		while (c->file_left) {
			size_t want = c->file_left < (1u << 30) ? (size_t)c->file_left : (1u << 30);
			size_t sent;
			enum out r = out_sendfile(c, want, &sent);
			if (r == OUT_AGAIN)
				return STEP_STOP;
			if (r == OUT_CLOSED) {
				conn_close(c);
				return STEP_STOP;
			}
			c->file_off += sent;
			c->file_left -= sent;
			c->sent_body += sent;
			if (c->file_left)
				set_timer(c, CT_BODY);
		}
		if (!c->parts || c->part > c->parts->n)
			break;
		next_part(c);
	}
	if (c->tls && !c->keep_alive && !c->interim)
		tls_end(c->tls); /* its close_notify leaves with the response */
	int fl = c->tls ? tls_flush(c->tls) : 0;
	if (fl < 0) {
		if (fl != -EAGAIN)
			conn_close(c);
		return STEP_STOP;
	}
	if (c->interim) {
		c->interim = false;
		c->wlen = c->woff = 0;
		c->state = CS_READ_BODY;
		set_timer(c, CT_BODY);
		return STEP_GO;
	}
	finish_response(c);
	return STEP_GO;
}

static enum step do_linger(struct conn *c)
{
	char sink[4096];
	for (;;) {
		ssize_t n = in_recv(c, sink, sizeof(sink));
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return STEP_STOP;
		conn_close(c);
		return STEP_STOP;
	}
}

/* TLS: the handshake before the first request, under the header timer. */
static enum step do_handshake(struct conn *c)
{
	char ip[INET6_ADDRSTRLEN];
	switch (tls_handshake(c->tls, peer_text(c, ip, sizeof(ip)))) {
	case TLS_HS_DONE:
		c->state = CS_READ_HEAD;
		c->rdrained = false;
		return STEP_GO;
	case TLS_HS_AGAIN:
		return STEP_STOP;
	case TLS_HS_PLAIN:
		/* Said in clear text, where the client will read it. */
		tls_free(c->tls, false);
		c->tls = NULL;
		c->state = CS_READ_HEAD;
		c->keep_alive = false;
		conn_error(c, 400, "this port speaks HTTPS; plain HTTP is not served here", NULL);
		return STEP_GO;
	case TLS_HS_FAILED:
	default:
		conn_close(c);
		return STEP_STOP;
	}
}

static void conn_run(struct conn *c)
{
	while (!c->closed) {
		enum step s;
		switch (c->state) {
		case CS_HANDSHAKE:
			s = do_handshake(c);
			break;
		case CS_READ_HEAD:
			s = do_read_head(c);
			break;
		case CS_READ_BODY:
			s = do_read_body(c);
			break;
		case CS_WRITE:
			s = do_write(c);
			break;
		case CS_LINGER:
			s = do_linger(c);
			break;
		case CS_WAIT_IO:
		default:
			return;
		}
		if (s == STEP_STOP)
			return;
	}
}

/* ---- events, timers, the set ---- */

static void enqueue(struct conn *c)
{
	if (c->queued)
		return;
	c->queued = true;
	c->run_next = c->set->runq;
	c->set->runq = c;
}

/* Readiness: read what is there now, and run the connection after every
 * connection of this turn has read, so that one look at the file-change
 * queue serves them all (see make_fresh). */
static void conn_io(struct ev_io *io, uint32_t events)
{
	struct conn *c = ev_container_of(io, struct conn, io);
	if (c->closed)
		return;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		c->rdrained = false;
		if (c->tls)
			tls_readable(c->tls);
	}
	if (c->state == CS_READ_HEAD && !c->rdrained && c->rlen < CONN_RBUF && ensure_buf(c))
		read_some(c);
	enqueue(c);
}

static void conn_timeout(struct ev_timer *t, int id)
{
	struct conn *c = ev_container_of(t, struct conn, timer);
	char ip[INET6_ADDRSTRLEN];
	switch (id) {
	case CT_HEADER:
	case CT_SILENT:
		if (c->state == CS_READ_HEAD && ensure_buf(c)) {
			log_refusal("header timeout from %s: 408", peer_text(c, ip, sizeof(ip)));
			c->line_n = c->ref_n = c->ua_n = c->host_n = 0;
			c->keep_alive = false;
			c->rpos = c->rlen; /* the partial head is dropped */
			conn_error(c, 408, "request head not received in time", NULL);
			conn_run(c);
			return;
		}
		break;
	case CT_BODY:
		log_refusal("client %s stalled in %s: closing", peer_text(c, ip, sizeof(ip)),
			    conn_state_names[c->state]);
		break;
	default:
		break;
	}
	conn_close(c);
}

static void inotify_ready(struct ev_io *io, uint32_t events)
{
	(void)events;
	struct conn_set *s = ev_container_of(io, struct conn_set, inotify);
	s->fresh_seq = s->rx_seq;
	s->fresh_ns = realtime_ns();
	fcache_changes(&s->fcache);
}

bool conn_accept(struct conn_set *s, int fd, const void *addr, unsigned addrlen, bool tls)
{
	long n = atomic_fetch_add_explicit(&open_conns, 1, memory_order_relaxed);
	bool reject = n >= cfg->max_conns;
	if (tls && reject) {
		/* No 503 without a handshake: just closed. */
		close(fd);
		atomic_fetch_sub_explicit(&open_conns, 1, memory_order_relaxed);
		return false;
	}
	struct conn *c = NULL;
	/* Shed load: far over the limit, not even a 503. */
	if (!reject || n < cfg->max_conns + 64 + cfg->max_conns / 8)
		c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		atomic_fetch_sub_explicit(&open_conns, 1, memory_order_relaxed);
		return false;
	}
	mx_add(reject ? &s->m->conns_refused : &s->m->conns_accepted, 1);
	c->io.fd = fd;
	c->io.cb = conn_io;
	c->timer.list = -1;
	c->set = s;
	c->file_fd = -1;
	memcpy(&c->peer, addr, addrlen < sizeof(c->peer) ? addrlen : sizeof(c->peer));
	c->client = c->peer;
	c->pp_pending = cfg->proxy_protocol;
	s->nconns++;
	c->state = CS_READ_HEAD;
	if (tls) {
		c->tls = tls_new(fd);
		if (c->tls == NULL) {
			s->nconns--;
			close(fd);
			free(c);
			atomic_fetch_sub_explicit(&open_conns, 1, memory_order_relaxed);
			return false;
		}
		c->state = CS_HANDSHAKE;
		set_timer(c, CT_HEADER);
	} else if (reject) {
		conn_error(c, 503, "too many open connections", "Retry-After: 1\r\n");
	} else {
		set_timer(c, CT_HEADER);
		/* A connection reaches accept() with its first bytes (see
		 * TCP_DEFER_ACCEPT): read them now, answer after this turn. */
		if (ensure_buf(c))
			read_some(c);
	}
	c->rdrained = false;
	enqueue(c);
	return true;
}

/* The first run of a new connection: registered only after it, so a
 * request that arrived with the connection and ends it (Connection:
 * close) never costs an epoll_ctl. Registering after EAGAIN loses
 * nothing: EPOLL_CTL_ADD reports the readiness the socket has then. */
static void first_run(struct conn *c)
{
	conn_run(c);
	if (c->closed)
		return;
	if (c->timer.list == CT_HEADER && c->state == CS_READ_HEAD && c->rlen == 0) {
		/* Nothing came with the connection: the kernel held it for
		 * DEFER_ACCEPT_S seconds of silence, which count. */
		set_timer(c, CT_SILENT);
	}
	int rc = ev_add(c->set->loop, &c->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
	c->registered = rc == 0;
	if (rc < 0) {
		log_error("epoll_ctl: %s", strerror(-rc));
		conn_close(c);
	}
}

void conn_set_turn(struct conn_set *s)
{
	/* Not a maximum: a clock stepped back must not stop reads for as
	 * long as the step (see make_fresh). */
	s->fresh_ns = s->loop->polled_ns;
	while (s->runq) {
		struct conn *c = s->runq;
		s->runq = c->run_next;
		c->run_next = NULL;
		c->queued = false;
		if (c->closed)
			continue;
		if (!c->registered)
			first_run(c);
		else
			conn_run(c);
	}
	ev_expire(s->loop);
	tls_turn_end();
	while (s->graveyard) {
		struct conn *c = s->graveyard;
		s->graveyard = c->grave_next;
		conn_free(c);
	}
}

static void drain_idle_list(struct conn_set *s, int id)
{
	struct ev_timer *t = ev_timer_first(s->loop, id);
	while (t) {
		struct ev_timer *next = t->next;
		struct conn *c = ev_container_of(t, struct conn, timer);
		if ((c->state == CS_READ_HEAD && c->rlen == 0) || c->state == CS_HANDSHAKE) {
			c->idle = true; /* a byte that comes re-arms the head timer */
			set_timer(c, CT_DRAIN);
		}
		t = next;
	}
}

void conn_set_stop(struct conn_set *s)
{
	s->stopping = true;
	/* Idle connections go once idle for DRAIN_IDLE_MS; busy ones close
	 * after their response, which says Connection: close. */
	drain_idle_list(s, CT_IDLE);
	drain_idle_list(s, CT_HEADER);
	drain_idle_list(s, CT_SILENT);
}

void conn_set_close_all(struct conn_set *s)
{
	for (int i = 0; i < CT_COUNT; i++) {
		struct ev_timer *t;
		while ((t = ev_timer_first(s->loop, i)) != NULL)
			conn_close(ev_container_of(t, struct conn, timer));
	}
}

int conn_set_init(struct conn_set *s, struct ev_loop *l, struct metrics *m)
{
	memset(s, 0, sizeof(*s));
	s->loop = l;
	s->m = m;
	ev_timer_list(l, CT_HEADER, (int64_t)cfg->header_timeout * 1000, conn_timeout);
	ev_timer_list(l, CT_SILENT, (int64_t)(cfg->header_timeout - DEFER_ACCEPT_S) * 1000,
		      conn_timeout);
	ev_timer_list(l, CT_IDLE, (int64_t)cfg->keepalive_timeout * 1000, conn_timeout);
	ev_timer_list(l, CT_BODY, (int64_t)cfg->keepalive_timeout * 1000, conn_timeout);
	ev_timer_list(l, CT_LINGER, 2000, conn_timeout);
	ev_timer_list(l, CT_DRAIN, DRAIN_IDLE_MS, conn_timeout);
	alog_buf_init(&s->alog);
	s->root = docroot_get();
	int rc = fcache_init(&s->fcache);
	s->fcache.m = m;
	fcache_set_root(&s->fcache, s->root->path, s->root->fd);
	if (rc < 0)
		return rc;
	s->inotify.fd = s->fcache.ifd;
	s->inotify.cb = inotify_ready;
	rc = ev_add(l, &s->inotify, EPOLLIN);
	if (rc < 0)
		fcache_destroy(&s->fcache);
	return rc;
}

void conn_set_destroy(struct conn_set *s)
{
	tls_thread_end();
	alog_buf_free(&s->alog);
	fcache_destroy(&s->fcache);
	docroot_put(s->root);
}
