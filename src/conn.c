/* One connection's state machine. Sockets are registered once, edge-
 * triggered, for input and output; every step runs until the system call
 * it needs says EAGAIN, so no readiness edge is ever lost. */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "config.h"
#include "fcache.h"
#include "log.h"
#include "path.h"
#include "server.h"
#include "static_file.h"
#include "upload.h"

const char *const conn_state_names[] = {
#define X(name) #name,
	CONN_STATES(X)
#undef X
};

enum step { STEP_GO, STEP_STOP };

static void conn_run(struct conn *c);

static inline char *wbuf(struct conn *c)
{
	return c->buf + CONN_RBUF;
}

static bool body_pending(const struct conn *c)
{
	return c->body_left > 0 || (c->body_chunked && !c->chunk.done);
}

static bool ensure_buf(struct conn *c)
{
	if (c->buf == NULL)
		c->buf = worker_buf_get(c->w);
	return c->buf != NULL;
}

static void release_buf(struct conn *c)
{
	if (c->buf && c->rlen == 0 && c->wlen == 0) {
		worker_buf_put(c->w, c->buf);
		c->buf = NULL;
	}
}

/* Lets go of the response body's file entry. */
static void release_body(struct conn *c)
{
	c->file_fd = -1;
	c->file_left = 0;
	c->mem = NULL;
	c->mem_left = 0;
	if (c->fe) {
		fcache_put(&c->w->fcache, c->fe);
		c->fe = NULL;
	}
	if (c->mp)
		sf_multipart_free(c);
}

const char *conn_peer_str(const struct conn *c, char *buf, size_t cap)
{
	return log_addr_text(&c->peer, buf, cap);
}

struct conn *conn_new(struct worker *w, int fd, const void *addr, unsigned addrlen, bool reject)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->w = w;
	c->tl = TL_NONE;
	c->file_fd = -1;
	memcpy(&c->peer, addr, addrlen < sizeof(c->peer) ? addrlen : sizeof(c->peer));
	w->nconns++;
	c->state = CS_READ_HEAD;
	if (reject) {
		c->reject = true;
		if (!ensure_buf(c)) {
			conn_close(c);
			return c;
		}
		conn_error(c, 503, "too many open connections", "Retry-After: 1\r\n");
	} else {
		worker_timer(w, c, TL_HEADER);
	}
	/* Serve what is already there first: a request that arrived with the
	 * connection and ends it (Connection: close) never costs an epoll_ctl.
	 * Registering after EAGAIN loses nothing: EPOLL_CTL_ADD reports the
	 * readiness the socket has at that moment. */
	conn_run(c);
	if (!c->closed && c->tl == TL_HEADER && c->state == CS_READ_HEAD && c->rlen == 0) {
		/* Nothing came with the connection: the kernel held it for
		 * DEFER_ACCEPT_S seconds of silence, which count. */
		worker_timer(w, c, TL_SILENT);
	}
	if (!c->closed) {
		struct epoll_event ev = {
			.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
			.data.ptr = c,
		};
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			log_error("epoll_ctl: %s", strerror(errno));
			conn_close(c);
		}
	}
	return c;
}

void conn_close(struct conn *c)
{
	if (c->closed)
		return;
	c->closed = true;
	worker_timer(c->w, c, TL_NONE);
	if (c->up)
		upload_abort(c);
	release_body(c);
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	if (c->io_pending)
		return; /* upload_completed buries it */
	c->next_done = c->w->graveyard;
	c->w->graveyard = c;
}

void conn_free(struct conn *c)
{
	if (c->buf)
		worker_buf_put(c->w, c->buf);
	c->w->nconns--;
	server_conn_released();
	free(c);
}

void conn_stop_idle(struct conn *c)
{
	if (c->state == CS_READ_HEAD && c->rlen == 0)
		conn_close(c);
}

/* ---- responses ---- */

struct obuf *conn_head(struct conn *c, struct obuf *o, int status)
{
	obuf_init(o, wbuf(c), CONN_WBUF);
	resp_start(o, status, c->w->now);
	c->status = status;
	return o;
}

void conn_commit(struct conn *c, struct obuf *o, const char *body, size_t n)
{
	if (resp_must_close(c->status)) {
		c->keep_alive = false;
		c->linger = true;
	}
	if (c->w->stopping)
		c->keep_alive = false;
	if (c->expect_100 && body_pending(c)) {
		/* Answered without 100 Continue: the client may or may not send
		 * its body now, so the framing is lost; say so in this head. */
		c->keep_alive = false;
	}
	resp_end(o, c->keep_alive, (unsigned)(cfg->keepalive_max - (int)c->requests));
	if (!c->head_only && n) {
		ob_put(o, body, n);
		c->sent_body = n;
	}
	if (c->mem_left && c->mem_left <= o->cap - o->n) {
		/* A small cached body joins the head: one send() of one buffer
		 * costs the kernel less than a sendmsg() of two. */
		ob_put(o, c->mem, c->mem_left);
		c->sent_body = c->mem_left;
		c->mem_left = 0;
	}
	if (!o->ok) {
		/* Cannot happen with the sizes used; never send a torn head. */
		log_error("response head too large (status %d)", c->status);
		conn_close(c);
		return;
	}
	c->wlen = (uint32_t)o->n;
	c->woff = 0;
	c->state = CS_WRITE;
	worker_timer(c->w, c, TL_BODY);
}

void conn_entry(struct conn *c, struct fentry *e)
{
	c->fe = e;
}

void conn_file(struct conn *c, int fd, uint64_t off, uint64_t len)
{
	if (c->head_only || len == 0)
		return;
	c->file_fd = fd;
	c->file_off = off;
	c->file_left = len;
}

void conn_mem(struct conn *c, const char *p, size_t n)
{
	if (c->head_only || n == 0)
		return;
	c->mem = p;
	c->mem_left = n;
}

void conn_error(struct conn *c, int status, const char *detail, const char *extra)
{
	char body[256];
	int n = snprintf(body, sizeof(body), "%d %s: %s\n", status, resp_reason(status), detail);
	if (n < 0 || (size_t)n >= sizeof(body))
		n = (int)strlen(body);
	if (status != 404 && status != 408) {
		char ip[INET6_ADDRSTRLEN];
		log_warn("refused %s: %d %s", conn_peer_str(c, ip, sizeof(ip)), status, detail);
	}
	if (c->closed)
		return;
	struct obuf o;
	conn_head(c, &o, status);
	ob_puts(&o, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: ");
	ob_u64(&o, (uint64_t)n);
	ob_put(&o, "\r\n", 2);
	if (extra)
		ob_puts(&o, extra);
	conn_commit(c, &o, body, (size_t)n);
}

/* ---- request dispatch ---- */

static bool host_allowed(struct hp_slice h)
{
	if (cfg->host_any)
		return true;
	if (h.n == 0)
		return false; /* an empty Host names nothing served here */
	size_t name_n = h.n;
	if (h.p[0] == '[') {
		const char *e = memchr(h.p, ']', h.n);
		if (e == NULL)
			return false;
		name_n = (size_t)(e - h.p) + 1;
	} else {
		const char *colon = memchr(h.p, ':', h.n);
		if (colon)
			name_n = (size_t)(colon - h.p);
	}
	if (name_n < h.n) {
		if (h.p[name_n] != ':')
			return false;
		uint32_t port = 0;
		for (size_t i = name_n + 1; i < h.n; i++) {
			if (h.p[i] < '0' || h.p[i] > '9')
				return false;
			port = port * 10 + (uint32_t)(h.p[i] - '0');
			if (port > 65535)
				return false;
		}
		if (name_n + 1 < h.n && port != cfg->port)
			return false;
	}
	/* "localhost." is the same name as "localhost" (a fully qualified
	 * name's root label); nginx compares without it too. */
	if (name_n > 1 && h.p[name_n - 1] == '.')
		name_n--;
	for (size_t i = 0; i < cfg->n_host_names; i++) {
		const char *n = cfg->host_names[i];
		if (strlen(n) == name_n && strncasecmp(n, h.p, name_n) == 0)
			return true;
	}
	return false;
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

static void slice_off(struct conn *c, struct hp_slice s, uint16_t *off, uint16_t *n)
{
	if (s.p == NULL) {
		*off = *n = 0;
		return;
	}
	*off = (uint16_t)(s.p - c->buf);
	*n = (uint16_t)s.n;
}

static void join_list(const struct http_request *req, const char *name, bool multi,
		      struct hp_slice *v, char *buf)
{
	if (!multi)
		return;
	size_t n = hp_join_field(req, name, buf, 1024);
	if (n)
		*v = (struct hp_slice){ buf, n };
}

static void dispatch(struct conn *c, const struct http_request *req, size_t head_len)
{
	struct worker *w = c->w;
	c->head_len = c->rpos = (uint32_t)head_len;
	c->requests++;
	c->idle = false;
	c->head_only = req->m == HP_M_HEAD;
	slice_off(c, req->line, &c->line_off, &c->line_n);
	worker_timer(w, c, TL_BODY);

	struct hp_info info;
	const char *reason = NULL;
	memset(&info, 0, sizeof(info));
	int st = hp_analyze(req, &info, &reason);
	slice_off(c, info.referer, &c->ref_off, &c->ref_n);
	slice_off(c, info.user_agent, &c->ua_off, &c->ua_n);
	/* An unmet expectation (417) leaves the framing known: the body is
	 * consumed as for any refusal and the connection can stay. */
	if (st && st != 417) {
		c->keep_alive = false;
		conn_error(c, st, reason, NULL);
		return;
	}
	c->keep_alive = info.keep_alive && c->requests < (unsigned)cfg->keepalive_max && !w->stopping;
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
	if (host.p && !host_allowed(host)) {
		conn_error(c, 403, "host not served here", NULL);
		return;
	}

	/* List fields on several lines become one list (RFC 9110 5.3). */
	char joined[3][1024];
	join_list(req, "if-match", info.if_match_multi, &info.if_match, joined[0]);
	join_list(req, "if-none-match", info.if_none_match_multi, &info.if_none_match, joined[1]);
	join_list(req, "accept-encoding", info.accept_encoding_multi, &info.accept_encoding,
		  joined[2]);

	const char *detail = "not allowed";
	const char *extra = NULL;
	if (req->m == HP_M_GET || req->m == HP_M_HEAD) {
		/* sf_serve resolves the path anyway and answers 405 for
		 * /upload itself: no second resolution on the hot path. */
		st = sf_serve(c, req, &info, &detail);
		if (st == 405)
			extra = "Allow: POST\r\n";
	} else if (req->m == HP_M_POST && is_upload_path(req)) {
		st = upload_begin(c, req, &info, &detail, &extra);
		if (st == 0)
			return;
	} else if (req->m == HP_M_POST) {
		st = 405;
		detail = "POST is only accepted on /upload";
		extra = "Allow: GET, HEAD\r\n";
	} else {
		st = 405;
		detail = "method not allowed";
		/* "*" asks about the server as a whole (RFC 9110 §9.3.7). */
		extra = req->form == HP_ASTERISK ? "Allow: GET, HEAD, POST\r\n"
			: is_upload_path(req)     ? "Allow: POST\r\n"
						  : "Allow: GET, HEAD\r\n";
	}
	if (st)
		conn_error(c, st, detail, extra);
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
	shutdown(c->fd, SHUT_WR);
	c->state = CS_LINGER;
	worker_timer(c->w, c, TL_LINGER);
}

static void next_request(struct conn *c)
{
	if (!c->keep_alive || c->w->stopping) {
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
	c->line_n = c->ref_n = c->ua_n = 0;
	c->state = CS_READ_HEAD;
	if (rest) {
		worker_timer(c->w, c, TL_HEADER);
	} else {
		c->idle = true;
		worker_timer(c->w, c, TL_IDLE);
	}
}

static void log_access(struct conn *c)
{
	if (c->w->alog.p == NULL)
		return;
	struct alog_entry e = {
		.addr = &c->peer,
		.line = c->line_n ? c->buf + c->line_off : NULL,
		.line_n = c->line_n,
		.status = c->status,
		.bytes = c->sent_body,
		.referer = c->ref_n ? c->buf + c->ref_off : NULL,
		.referer_n = c->ref_n,
		.agent = c->ua_n ? c->buf + c->ua_off : NULL,
		.agent_n = c->ua_n,
	};
	alog_write(&c->w->alog, c->w->now, &e);
}

static void finish_response(struct conn *c)
{
	log_access(c);
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

static enum step do_read_head(struct conn *c)
{
	if (!ensure_buf(c)) {
		conn_close(c);
		return STEP_STOP;
	}
	if (c->rlen && c->buf[0] == '\r')
		skip_empty_lines(c);
	if (head_worth_parsing(c)) {
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
	size_t want = CONN_RBUF - c->rlen;
	ssize_t n = recv(c->fd, c->buf + c->rlen, want, 0);
	c->rdrained = n > 0 && (size_t)n < want;
	if (n > 0) {
		if (c->idle) {
			c->idle = false;
			worker_timer(c->w, c, TL_HEADER);
		}
		c->rlen += (uint32_t)n;
		return STEP_GO;
	}
	if (n < 0 && errno == EINTR)
		return STEP_GO;
	if (n < 0 && errno == EAGAIN) {
		release_buf(c);
		return STEP_STOP;
	}
	conn_close(c);
	return STEP_STOP;
}

/* Body bytes: to the upload, or counted and dropped. */
static bool body_bytes(struct conn *c, const char *p, size_t n)
{
	if (c->body_mode == BODY_UPLOAD) {
		const char *detail = NULL;
		int st = upload_data(c, p, n, &detail);
		if (st) {
			c->body_mode = BODY_NONE;
			c->keep_alive = false;
			conn_error(c, st, detail, NULL);
			return false;
		}
		return true;
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
		upload_end(c);
		return;
	}
	next_request(c);
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
				size_t used = 0;
				struct hp_slice data = { NULL, 0 };
				if (hp_chunked_feed(&c->chunk, p, avail, &used, &data) == HP_ERROR) {
					if (c->body_mode == BODY_DISCARD) {
						/* Its response is sent already: a
						 * second one would desynchronise the
						 * client. Just close. */
						c->linger = true;
						c->keep_alive = false;
						c->body_chunked = false;
						c->rpos = c->rlen;
						start_close(c);
						return STEP_GO;
					}
					if (c->body_mode == BODY_UPLOAD)
						upload_abort(c);
					c->body_mode = BODY_NONE;
					c->body_chunked = false;
					c->keep_alive = false;
					conn_error(c, 400, "malformed chunked body", NULL);
					return STEP_GO;
				}
				c->rpos += (uint32_t)used;
				if (c->body_mode == BODY_UPLOAD && data.n) {
					/* A chunk that declares more than the
					 * upload may hold is refused now, not
					 * after --max-upload bytes of it. */
					const char *detail = NULL;
					int st = upload_announce(c, data.n + c->chunk.left, &detail);
					if (st) {
						c->body_mode = BODY_NONE;
						c->keep_alive = false;
						conn_error(c, st, detail, NULL);
						return STEP_GO;
					}
				}
				if (data.n && !body_bytes(c, data.p, data.n))
					return STEP_GO;
				if (c->state != CS_READ_BODY)
					return STEP_GO; /* paused for the disk */
			} else {
				size_t take = avail < c->body_left ? avail : (size_t)c->body_left;
				c->rpos += (uint32_t)take;
				c->body_left -= take;
				if (take && !body_bytes(c, p, take))
					return STEP_GO;
				if (c->state != CS_READ_BODY)
					return STEP_GO; /* paused for the disk */
			}
			if (!body_pending(c)) {
				body_done(c);
				return STEP_GO;
			}
		}
		/* All buffered body bytes are used: read more behind the head. */
		c->rpos = c->rlen = c->head_len;
		ssize_t n = recv(c->fd, c->buf + c->rlen, CONN_RBUF - c->rlen, 0);
		if (n > 0) {
			c->rlen += (uint32_t)n;
			worker_timer(c->w, c, TL_BODY);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return STEP_STOP;
		if (c->body_mode == BODY_UPLOAD) {
			char ip[INET6_ADDRSTRLEN];
			log_warn("upload from %s: client left mid-body; nothing stored",
				 conn_peer_str(c, ip, sizeof(ip)));
		}
		conn_close(c);
		return STEP_STOP;
	}
}

/* After a send or recv that moved nothing (EINTR is the caller's): wait
 * for readiness on EAGAIN; the peer is gone or broken otherwise. */
static enum step wait_or_close(struct conn *c, ssize_t n)
{
	if (n < 0 && errno == EAGAIN)
		return STEP_STOP;
	conn_close(c);
	return STEP_STOP;
}

/* Flags for the last bytes of a response. When the connection closes right
 * after, MSG_MORE holds them back for the moment until close() or
 * shutdown() queues the FIN, which then leaves in the same segment: one
 * packet (and one ACK) less per connection. */
static int last_flags(const struct conn *c)
{
	return c->keep_alive ? 0 : MSG_MORE;
}

static enum step do_write(struct conn *c)
{
again:
	while (c->mem_left) {
		/* Head and in-memory body in one system call. */
		struct iovec iov[2] = {
			{ wbuf(c) + c->woff, c->wlen - c->woff },
			{ (void *)c->mem, c->mem_left },
		};
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
		ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | last_flags(c));
		if (n > 0) {
			size_t h = c->wlen - c->woff;
			if ((size_t)n < h) {
				c->woff += (uint32_t)n;
				continue;
			}
			c->woff = c->wlen;
			c->mem += (size_t)n - h;
			c->mem_left -= (size_t)n - h;
			c->sent_body += (size_t)n - h;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return wait_or_close(c, n);
	}
	while (c->woff < c->wlen) {
		int flags = MSG_NOSIGNAL | (c->file_left || c->mp ? MSG_MORE : last_flags(c));
		ssize_t n = send(c->fd, wbuf(c) + c->woff, c->wlen - c->woff, flags);
		if (n > 0) {
			c->woff += (uint32_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return wait_or_close(c, n);
	}
	while (c->file_left) {
		off_t off = (off_t)c->file_off;
		size_t want = c->file_left < (1u << 30) ? (size_t)c->file_left : (1u << 30);
		ssize_t n = sendfile(c->fd, c->file_fd, &off, want);
		if (n > 0) {
			c->file_off = (uint64_t)off;
			c->file_left -= (uint64_t)n;
			c->sent_body += (uint64_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			worker_timer(c->w, c, TL_BODY);
			return STEP_STOP;
		}
		if (n == 0)
			log_warn("file shrank while being sent; closing the connection");
		conn_close(c);
		return STEP_STOP;
	}
	if (c->mp && sf_multipart_next(c))
		goto again;
	finish_response(c);
	return STEP_GO;
}

static enum step do_linger(struct conn *c)
{
	char sink[4096];
	for (;;) {
		ssize_t n = recv(c->fd, sink, sizeof(sink), 0);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		return wait_or_close(c, n);
	}
}

static void conn_run(struct conn *c)
{
	while (!c->closed) {
		enum step s;
		switch (c->state) {
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

void conn_event(struct conn *c, uint32_t events)
{
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->rdrained = false;
	conn_run(c);
}

void conn_resume(struct conn *c)
{
	conn_run(c);
}

void conn_timeout(struct conn *c, int id)
{
	char ip[INET6_ADDRSTRLEN];
	switch (id) {
	case TL_HEADER:
	case TL_SILENT:
		if (c->state == CS_READ_HEAD && ensure_buf(c)) {
			log_warn("header timeout from %s: 408", conn_peer_str(c, ip, sizeof(ip)));
			c->line_n = c->ref_n = c->ua_n = 0;
			c->keep_alive = false;
			c->rpos = c->rlen; /* the partial head is dropped */
			conn_error(c, 408, "request head not received in time", NULL);
			conn_run(c);
			return;
		}
		break;
	case TL_BODY:
		log_warn("client %s stalled in %s: closing",
			 conn_peer_str(c, ip, sizeof(ip)), conn_state_names[c->state]);
		break;
	default:
		break;
	}
	conn_close(c);
}
