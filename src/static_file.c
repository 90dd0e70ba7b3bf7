/* GET and HEAD of files: path resolution, confinement, type, headers,
 * and the zero-copy body. */
#include "static_file.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cond.h"
#include "fcache.h"
#include "config.h"
#include "conn.h"
#include "mime.h"
#include "path.h"
#include "server.h"
#include "range.h"

#define PATH_MAX_REL 4096

/* openat2 under the root: the kernel walks the path and refuses any step,
 * ".." or symbolic link, that would leave it. resolve adds flags such as
 * RESOLVE_NO_SYMLINKS. Returns the descriptor or -errno. */
static int open_under_root(const char *rel, uint64_t resolve)
{
	struct open_how how = {
		.flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | resolve,
	};
	long fd = syscall(SYS_openat2, cfg->root_fd, rel, &how, sizeof(how));
	return fd < 0 ? -errno : (int)fd;
}

static int open_error(int err, const char **detail)
{
	switch (err) {
	case -ENOENT:
	case -ENOTDIR:
	case -ENXIO:  /* a socket */
	case -ENODEV: /* a device without a driver */
		*detail = "no such file";
		return 404;
	case -EXDEV:
		*detail = "path leaves the document root";
		return 403;
	case -ELOOP:
		*detail = "too many symbolic links (a loop)";
		return 404;
	case -EACCES:
	case -EPERM:
		*detail = "file not readable";
		return 403;
	case -ENAMETOOLONG: /* no such name can exist: like nginx, 404 */
		*detail = "file name too long";
		return 404;
	case -EMFILE:
	case -ENFILE:
	case -ENOMEM:
		*detail = "server out of resources";
		return 503;
	default:
		*detail = "cannot open file";
		return 500;
	}
}

/* Content-Disposition for a download: a quoted ASCII filename, and the
 * exact name as filename* (RFC 6266) when it is not plain ASCII. */
static void put_disposition(struct obuf *o, const char *name)
{
	static const char hex[] = "0123456789ABCDEF";
	bool plain = true;
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f || *p == '"' || *p == '\\')
			plain = false;
	ob_puts(o, "Content-Disposition: attachment; filename=\"");
	for (const char *p = name; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		char out = (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') ? '_' : (char)ch;
		ob_put(o, &out, 1);
	}
	ob_put(o, "\"", 1);
	if (!plain) {
		ob_puts(o, "; filename*=UTF-8''");
		for (const char *p = name; *p; p++) {
			unsigned char ch = (unsigned char)*p;
			bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
				    (ch >= '0' && ch <= '9') || strchr("!#$&+-.^_`|~", ch);
			if (keep && ch) {
				ob_put(o, (const char *)&ch, 1);
			} else {
				char e[3] = { '%', hex[ch >> 4], hex[ch & 15] };
				ob_put(o, e, 3);
			}
		}
	}
	ob_put(o, "\r\n", 2);
}

/* Bytes a Location may carry as they are: RFC 3986 pchar and '/'; in the
 * query also '?' and '%' (which still starts the escapes the client sent). */
static bool uri_keep(unsigned char ch, bool query)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
		return true;
	if (ch == '%' || ch == '?')
		return query;
	return ch != 0 && strchr("-._~!$&'()*+,;=:@/", ch) != NULL;
}

/* Appends p[0..n), percent-encoded where needed. */
static void put_uri(struct obuf *o, const char *p, size_t n, bool query)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (uri_keep(ch, query)) {
			ob_put(o, p + i, 1);
		} else {
			char e[3] = { '%', hex[ch >> 4], hex[ch & 15] };
			ob_put(o, e, 3);
		}
	}
}

/* Room kept after the redirect's head for the Connection/Keep-Alive lines
 * and the body. */
#define REDIRECT_SLACK 512

/* 301 to the directory with a slash. The Location is built from the
 * normalised path, never from the raw one: "//evil.example" must not
 * become a network-path reference to another host. */
static int redirect_dir(struct conn *c, const struct http_request *req, const char *rel,
			size_t n, const char **detail)
{
	static const char body[] = "301 Moved Permanently: the directory is at the path with a '/'\n";
	struct obuf o;
	conn_head(c, &o, 301);
	ob_puts(&o, "Location: /");
	put_uri(&o, rel, n, false);
	if (n)
		ob_put(&o, "/", 1);
	if (req->query.p) {
		ob_put(&o, "?", 1);
		put_uri(&o, req->query.p, req->query.n, true);
	}
	ob_puts(&o, "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ");
	ob_u64(&o, sizeof(body) - 1);
	ob_put(&o, "\r\n", 2);
	if (!o.ok || o.n > o.cap - REDIRECT_SLACK) {
		/* The caller's error response starts a new head. */
		*detail = "redirect target too long";
		return 414;
	}
	conn_commit(c, &o, body, sizeof(body) - 1);
	return 0;
}

struct multipart {
	int n, i;                  /* parts, and the next one to send */
	bool closed;               /* the closing boundary was queued */
	uint64_t size;
	const char *type;
	char boundary[32];
	struct byte_range r[RANGE_MAX];
};

static int64_t mtime_ns(const struct stat *sb)
{
	return (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
}

/* RESOLVE_BENEATH refuses a symbolic link with an absolute target, or one
 * that steps out of the root and back in (EXDEV), even when it ends inside
 * the root. Such a path is resolved again without that rule, to an O_PATH
 * descriptor (no open side effects), and served only if the file reached
 * is inside the root: checked on that descriptor, so no rename race can
 * change the answer between the check and the open. Anything else is 403,
 * whether or not the target exists. */
static int open_followed(const char *rel)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_NO_MAGICLINKS,
	};
	long pfd = syscall(SYS_openat2, cfg->root_fd, rel, &how, sizeof(how));
	if (pfd < 0)
		return -EXDEV;
	char link[48], real[PATH_MAX_REL + 1];
	snprintf(link, sizeof(link), "/proc/self/fd/%ld", pfd);
	ssize_t n = readlink(link, real, sizeof(real) - 1);
	int fd = -EXDEV;
	size_t rn = strlen(cfg->root);
	if (n > 0) {
		real[n] = '\0';
		bool inside = rn == 1 || (strncmp(real, cfg->root, rn) == 0 &&
					  (real[rn] == '/' || real[rn] == '\0'));
		if (inside) {
			fd = open(link, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
			if (fd < 0)
				fd = -errno;
		}
	}
	close((int)pfd);
	return fd;
}

/* Opens rel beneath the root. *plain is set when no symbolic link was
 * crossed (only such paths may be cached: see fcache.c). */
static int open_file(const char *rel, bool *plain)
{
	int fd = open_under_root(rel, RESOLVE_NO_SYMLINKS);
	*plain = fd >= 0;
	if (fd == -ELOOP)
		fd = open_under_root(rel, 0);
	return fd == -EXDEV ? open_followed(rel) : fd;
}

/* Fills a sibling representation (rel + ".br" / ".gz") on first use: a
 * regular file, reached without symbolic links, not older than the
 * original. */
static void probe_sibling(struct fentry *e, int which)
{
	struct fc_rep *r = &e->rep[which];
	const struct fc_rep *id = &e->rep[FC_IDENTITY];
	char path[PATH_MAX_REL + 32];
	r->state = FC_ABSENT;
	if ((size_t)e->rel_n + 4 > sizeof(path))
		return;
	memcpy(path, e->rel, e->rel_n);
	memcpy(path + e->rel_n, which == FC_BR ? ".br" : ".gz", 4);
	int fd = open_under_root(path, RESOLVE_NO_SYMLINKS);
	if (fd < 0)
		return;
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || mtime_ns(&sb) < mtime_ns(&id->sb)) {
		close(fd);
		return;
	}
	fcache_rep_fill(r, fd, &sb);
}

/* The representation to send: a precompressed sibling when the client
 * takes its coding (the higher q wins, br on a tie), else the file. */
static struct fc_rep *choose_rep(struct fentry *e, const struct hp_info *info)
{
	if (info->accept_encoding.p == NULL)
		return &e->rep[FC_IDENTITY];
	int qb = mime_accept_q(info->accept_encoding.p, info->accept_encoding.n, "br");
	int qg = mime_accept_q(info->accept_encoding.p, info->accept_encoding.n, "gzip");
	int order[2] = { FC_BR, FC_GZ };
	int q[2] = { qb, qg };
	if (qg > qb) {
		order[0] = FC_GZ;
		order[1] = FC_BR;
		q[0] = qg;
		q[1] = qb;
	}
	for (int i = 0; i < 2; i++) {
		if (q[i] <= 0)
			continue;
		if (e->rep[order[i]].state == FC_UNKNOWN)
			probe_sibling(e, order[i]);
		if (e->rep[order[i]].state == FC_PRESENT)
			return &e->rep[order[i]];
	}
	return &e->rep[FC_IDENTITY];
}

/* The validators and representation headers every file response has. */
static void put_validators(struct obuf *o, const struct fc_rep *r, time_t now)
{
	/* A modification time in the future is not a Last-Modified a client
	 * can use: send the Date instead (RFC 9110 8.8.2.1). */
	ob_puts(o, "Last-Modified: ");
	ob_put(o, r->sb.st_mtim.tv_sec > now ? resp_date(now) : r->last_modified, 29);
	ob_puts(o, "\r\nETag: ");
	ob_put(o, r->etag, r->etag_n);
	ob_puts(o, "\r\nVary: Accept-Encoding\r\n");
}

static void put_type(struct obuf *o, const struct mime_type *mt, const struct fc_rep *r,
		     const char *base)
{
	ob_puts(o, "Content-Type: ");
	ob_puts(o, mt->type);
	ob_put(o, "\r\n", 2);
	if (r->variant)
		ob_puts(o, r->variant == 'b' ? "Content-Encoding: br\r\n" : "Content-Encoding: gzip\r\n");
	if (mt->attachment)
		put_disposition(o, base);
}

/* The fields of a 200 between the start line and Connection. */
static void put_fields_200(struct obuf *o, const struct mime_type *mt, const struct fc_rep *r,
			   const char *base, time_t now)
{
	put_type(o, mt, r, base);
	ob_puts(o, "Content-Length: ");
	ob_u64(o, (uint64_t)r->sb.st_size);
	ob_puts(o, "\r\nAccept-Ranges: bytes\r\n");
	put_validators(o, r, now);
}

/* Keeps r's 200 fields as one block, built once: they depend only on the
 * file, its type and its name while Last-Modified is the file's own (the
 * caller checks that the modification time is not in the future). On any
 * failure r->hdr stays NULL and the fields are written each time. */
static void make_hdr(struct fc_rep *r, const struct mime_type *mt, const char *base)
{
	char tmp[2048];
	struct obuf o;
	obuf_init(&o, tmp, sizeof(tmp));
	put_fields_200(&o, mt, r, base, r->sb.st_mtim.tv_sec);
	if (!o.ok)
		return;
	r->hdr = malloc(o.n);
	if (r->hdr == NULL)
		return;
	memcpy(r->hdr, tmp, o.n);
	r->hdr_n = (uint16_t)o.n;
}

static void put_content_range(struct obuf *o, uint64_t first, uint64_t last, uint64_t size)
{
	ob_puts(o, "Content-Range: bytes ");
	ob_u64(o, first);
	ob_put(o, "-", 1);
	ob_u64(o, last);
	ob_put(o, "/", 1);
	ob_u64(o, size);
	ob_put(o, "\r\n", 2);
}

/* The head of one part: CRLF, boundary, type, range, blank line. */
static void put_part_head(struct obuf *o, const struct multipart *mp, int i)
{
	ob_puts(o, "\r\n--");
	ob_puts(o, mp->boundary);
	ob_puts(o, "\r\nContent-Type: ");
	ob_puts(o, mp->type);
	ob_put(o, "\r\n", 2);
	put_content_range(o, mp->r[i].first, mp->r[i].last, mp->size);
	ob_put(o, "\r\n", 2);
}

static size_t part_head_len(const struct multipart *mp, int i)
{
	char tmp[256];
	struct obuf o;
	obuf_init(&o, tmp, sizeof(tmp));
	put_part_head(&o, mp, i);
	return o.n;
}

bool sf_multipart_next(struct conn *c)
{
	struct multipart *mp = c->mp;
	if (mp->closed || c->head_only)
		return false;
	struct obuf o;
	obuf_init(&o, c->buf + CONN_RBUF, CONN_WBUF);
	if (mp->i < mp->n) {
		put_part_head(&o, mp, mp->i);
		c->file_off = mp->r[mp->i].first;
		c->file_left = mp->r[mp->i].last - mp->r[mp->i].first + 1;
		mp->i++;
	} else {
		ob_puts(&o, "\r\n--");
		ob_puts(&o, mp->boundary);
		ob_puts(&o, "--\r\n");
		mp->closed = true;
	}
	c->wlen = (uint32_t)o.n;
	c->woff = 0;
	c->sent_body += o.n;
	return true;
}

void sf_multipart_free(struct conn *c)
{
	free(c->mp);
	c->mp = NULL;
}

static void not_modified(struct conn *c, const struct fc_rep *r)
{
	struct obuf o;
	conn_head(c, &o, 304);
	put_validators(&o, r, c->w->now);
	conn_commit(c, &o, NULL, 0);
}

static int serve_ranges(struct conn *c, const struct fc_rep *r, const struct mime_type *mt,
			const char *base, const struct byte_range *rg, int n)
{
	uint64_t size = (uint64_t)r->sb.st_size;
	struct obuf o;
	if (n == 1) {
		uint64_t len = rg[0].last - rg[0].first + 1;
		conn_head(c, &o, 206);
		put_type(&o, mt, r, base);
		put_content_range(&o, rg[0].first, rg[0].last, size);
		ob_puts(&o, "Content-Length: ");
		ob_u64(&o, len);
		ob_puts(&o, "\r\nAccept-Ranges: bytes\r\n");
		put_validators(&o, r, c->w->now);
		conn_file(c, r->fd, rg[0].first, len);
		conn_commit(c, &o, NULL, 0);
		return 0;
	}
	struct multipart *mp = calloc(1, sizeof(*mp));
	if (mp == NULL)
		return 503;
	mp->n = n;
	mp->size = size;
	mp->type = mt->type;
	memcpy(mp->r, rg, (size_t)n * sizeof(*rg));
	char id[17];
	snprintf(id, sizeof(id), "%016llx", (unsigned long long)((uintptr_t)mp ^ (uint64_t)r->sb.st_ino * 0x9e3779b97f4a7c15ull));
	snprintf(mp->boundary, sizeof(mp->boundary), "mthttpd-%s", id);
	uint64_t total = 0;
	for (int i = 0; i < n; i++)
		total += part_head_len(mp, i) + (rg[i].last - rg[i].first + 1);
	total += 4 + strlen(mp->boundary) + 4; /* CRLF "--" boundary "--" CRLF */
	conn_head(c, &o, 206);
	ob_puts(&o, "Content-Type: multipart/byteranges; boundary=");
	ob_puts(&o, mp->boundary);
	ob_put(&o, "\r\n", 2);
	if (r->variant)
		ob_puts(&o, r->variant == 'b' ? "Content-Encoding: br\r\n" : "Content-Encoding: gzip\r\n");
	if (mt->attachment)
		put_disposition(&o, base);
	ob_puts(&o, "Content-Length: ");
	ob_u64(&o, total);
	ob_puts(&o, "\r\nAccept-Ranges: bytes\r\n");
	put_validators(&o, r, c->w->now);
	if (c->head_only) {
		free(mp);
	} else {
		c->mp = mp;
		c->file_fd = r->fd;
	}
	conn_commit(c, &o, NULL, 0);
	return 0;
}

/* Opens and checks rel for a cache miss. Returns 0 with *out (one
 * reference for the caller), or an error status with *detail; a directory
 * without the slash is redirected here (*out stays NULL, returns 0). */
static int open_entry(struct conn *c, const struct http_request *req, const char *rel,
		      size_t n, bool dir_slash, struct fentry **out, const char **detail)
{
	bool plain;
	*out = NULL;
	int fd = open_file(rel, &plain);
	/* Out of descriptors: give back cold cached ones, then try once more. */
	if ((fd == -EMFILE || fd == -ENFILE) && fcache_shed(&c->w->fcache) > 0)
		fd = open_file(rel, &plain);
	if (fd < 0)
		return open_error(fd, detail);
	struct stat sb;
	if (fstat(fd, &sb) < 0) {
		close(fd);
		*detail = "cannot stat file";
		return 500;
	}
	if (S_ISDIR(sb.st_mode) && !dir_slash) {
		close(fd);
		return redirect_dir(c, req, rel, n, detail);
	}
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		*detail = "not a regular file";
		return 404;
	}
	const char *base = memrchr(rel, '/', n);
	base = base ? base + 1 : rel;
	const struct mime_type *mt = mime_lookup(base, n - (size_t)(base - rel), cfg->types);
	if (mt == NULL) {
		close(fd);
		*detail = "file type not served";
		return 415;
	}
	struct fentry *e = plain ? fcache_insert(&c->w->fcache, rel, n, fd, &sb, mt) : NULL;
	if (e == NULL)
		e = fcache_temp(rel, n, fd, &sb, mt);
	if (e == NULL) {
		close(fd);
		*detail = "out of memory";
		return 503;
	}
	*out = e;
	return 0;
}

int sf_serve(struct conn *c, const struct http_request *req, const struct hp_info *info,
	     const char **detail)
{
	char rel[PATH_MAX_REL + 16];
	bool dir_slash = false;
	int st = path_resolve(req->path.p, req->path.n, rel, PATH_MAX_REL, &dir_slash);
	if (st) {
		*detail = st == 400 ? "malformed path" : st == 403 ? "path leaves the document root"
			: st == 404 ? "no such file" : "path too long";
		/* A path too long for any file names nothing: 404, and the
		 * connection stays (414 is for a request line over the limit). */
		return st == 414 ? 404 : st;
	}
	size_t n = strlen(rel);
	if (!dir_slash && n == 6 && memcmp(rel, "upload", 6) == 0) {
		*detail = "GET and HEAD are not allowed on /upload";
		return 405;
	}
	if (dir_slash) {
		if (n)
			rel[n++] = '/';
		memcpy(rel + n, "index.html", sizeof("index.html"));
		n += sizeof("index.html") - 1;
	}
	struct fentry *e = fcache_find(&c->w->fcache, rel, n);
	if (e == NULL) {
		st = open_entry(c, req, rel, n, dir_slash, &e, detail);
		if (st || e == NULL)
			return st;
	}
	/* From here c holds the reference: it is dropped with the response. */
	conn_entry(c, e);
	const char *base = memrchr(e->rel, '/', e->rel_n);
	base = base ? base + 1 : e->rel;
	const struct mime_type *mt = e->mt;
	struct fc_rep *r = choose_rep(e, info);

	struct cond_input ci = {
		.if_match = info->if_match.p, .if_match_n = info->if_match.n,
		.if_none_match = info->if_none_match.p, .if_none_match_n = info->if_none_match.n,
		.if_modified_since = info->if_modified_since.p,
		.if_modified_since_n = info->if_modified_since.n,
		.if_unmodified_since = info->if_unmodified_since.p,
		.if_unmodified_since_n = info->if_unmodified_since.n,
		.etag = r->etag, .etag_n = r->etag_n,
		.mtime = r->sb.st_mtim.tv_sec,
		.get_or_head = true,
	};
	switch (cond_evaluate(&ci)) {
	case COND_NOT_MODIFIED:
		not_modified(c, r);
		return 0;
	case COND_FAILED:
		*detail = "precondition failed";
		return 412;
	case COND_PASS:
		break;
	}

	uint64_t size = (uint64_t)r->sb.st_size;
	/* An empty representation has no ranges to select (RFC 9110 14.2
	 * lets the server ignore Range then). */
	if (info->range.p && size > 0 &&
	    (info->if_range.p == NULL ||
	     cond_if_range(info->if_range.p, info->if_range.n, r->etag, r->etag_n, r->sb.st_mtim.tv_sec,
			   c->w->now))) {
		struct byte_range rg[RANGE_MAX];
		int k = range_parse(info->range.p, info->range.n, size, rg, RANGE_MAX);
		if (k == RANGE_UNSATISFIABLE) {
			static __thread char extra[64];
			snprintf(extra, sizeof(extra), "Content-Range: bytes */%llu\r\n",
				 (unsigned long long)size);
			conn_error(c, 416, "range not satisfiable", extra);
			return 0;
		}
		if (k > 0) {
			st = serve_ranges(c, r, mt, base, rg, k);
			if (st)
				*detail = "out of memory";
			return st;
		}
	}

	struct obuf o;
	conn_head(c, &o, 200);
	/* A modification time in the future makes Last-Modified the Date,
	 * which changes: no fixed block then. */
	bool fixed = r->sb.st_mtim.tv_sec <= c->w->now;
	if (fixed && r->hdr == NULL)
		make_hdr(r, mt, base);
	if (fixed && r->hdr)
		ob_put(&o, r->hdr, r->hdr_n);
	else
		put_fields_200(&o, mt, r, base, c->w->now);
	if (r == &e->rep[FC_IDENTITY] && e->data)
		conn_mem(c, e->data, size);
	else
		conn_file(c, r->fd, 0, size);
	conn_commit(c, &o, NULL, 0);
	return 0;
}
