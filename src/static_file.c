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

#include "compress.h"
#include "cond.h"
#include "config.h"
#include "fcache.h"
#include "metrics.h"
#include "mime.h"
#include "path.h"
#include "range.h"
#include "sf_compress.h"

#define PATH_MAX_REL 4096

/* openat2 under the root: the kernel walks the path and refuses any step,
 * ".." or symbolic link, that would leave it. resolve adds flags such as
 * RESOLVE_NO_SYMLINKS. Returns the descriptor or -errno. */
static int open_under_root(int root_fd, const char *rel, uint64_t resolve)
{
	struct open_how how = {
		.flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | resolve,
	};
	long fd = syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));
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
static enum hstep redirect_dir(const struct http_request *req, const char *rel, size_t n,
			       struct response *r)
{
	static const char body[] = "301 Moved Permanently: the directory is at the path with a '/'\n";
	struct obuf *o = &r->hdr;
	size_t start = o->n;
	ob_puts(o, "Location: /");
	put_uri(o, rel, n, false);
	if (n)
		ob_put(o, "/", 1);
	if (req->query.p) {
		ob_put(o, "?", 1);
		put_uri(o, req->query.p, req->query.n, true);
	}
	ob_puts(o, "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ");
	ob_u64(o, sizeof(body) - 1);
	ob_put(o, "\r\n", 2);
	if (!o->ok || o->n > o->cap - REDIRECT_SLACK) {
		o->n = start;
		o->ok = true;
		return resp_error(r, 414, "redirect target too long");
	}
	r->status = 301;
	r->body = RB_MEM;
	r->mem = body;
	r->mem_n = sizeof(body) - 1;
	return H_RESPOND;
}

static int64_t mtime_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* RESOLVE_BENEATH refuses a symbolic link with an absolute target, or one
 * that steps out of the root and back in (EXDEV), even when it ends inside
 * the root. Such a path is resolved again without that rule, to an O_PATH
 * descriptor (no open side effects), and served only if the file reached
 * is inside the root: checked on that descriptor, so no rename race can
 * change the answer between the check and the open. Anything else is 403,
 * whether or not the target exists. */
static int open_followed(const struct hreq *h, const char *rel)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_NO_MAGICLINKS,
	};
	long pfd = syscall(SYS_openat2, h->root_fd, rel, &how, sizeof(how));
	if (pfd < 0)
		return -EXDEV;
	char link[48], real[PATH_MAX_REL + 1];
	snprintf(link, sizeof(link), "/proc/self/fd/%ld", pfd);
	ssize_t n = readlink(link, real, sizeof(real) - 1);
	int fd = -EXDEV;
	size_t rn = strlen(h->root);
	if (n > 0) {
		real[n] = '\0';
		bool inside = rn == 1 || (strncmp(real, h->root, rn) == 0 &&
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
static int open_file(const struct hreq *h, const char *rel, bool *plain)
{
	int fd = open_under_root(h->root_fd, rel, RESOLVE_NO_SYMLINKS);
	*plain = fd >= 0;
	if (fd == -ELOOP)
		fd = open_under_root(h->root_fd, rel, 0);
	return fd == -EXDEV ? open_followed(h, rel) : fd;
}

/* Fills a sibling representation (rel + ".br" / ".gz") on first use: a
 * regular file, reached without symbolic links, not older than the
 * original. */
static void probe_sibling(const struct hreq *h, struct fentry *e, int which)
{
	struct fc_rep *r = &e->rep[which];
	const struct fc_rep *id = &e->rep[FC_IDENTITY];
	char path[PATH_MAX_REL + 32];
	r->state = FC_ABSENT;
	if ((size_t)e->rel_n + 4 > sizeof(path))
		return;
	memcpy(path, e->rel, e->rel_n);
	memcpy(path + e->rel_n, which == FC_BR ? ".br" : ".gz", 4);
	int fd = open_under_root(h->root_fd, path, RESOLVE_NO_SYMLINKS);
	if (fd < 0)
		return;
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || mtime_ns(&sb.st_mtim) < mtime_ns(&id->sb.st_mtim)) {
		close(fd);
		return;
	}
	fcache_rep_add(h->fc, e, r, fd, &sb);
}

/* The representation to send: a precompressed sibling when the client
 * takes its coding (the higher q wins, br on a tie), else the file. */
static struct fc_rep *choose_rep(struct fentry *e, const struct hreq *h)
{
	if (h->info->accept_encoding.p == NULL)
		return &e->rep[FC_IDENTITY];
	int qb, qg;
	hreq_accept_brgz(h, &qb, &qg);
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
			probe_sibling(h, e, order[i]);
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

static enum hstep not_modified(const struct hreq *h, const struct fc_rep *rep,
			       struct response *r)
{
	r->status = 304;
	put_validators(&r->hdr, rep, h->now);
	return H_RESPOND;
}

/* The ranges rg[0..n) of rep, whose bytes are at mem when in memory
 * (else mem is NULL and they are read from rep->fd). */
static enum hstep serve_ranges(const struct hreq *h, const struct fc_rep *rep, const char *mem,
			       const struct mime_type *mt, const char *base,
			       const struct byte_range *rg, int n, struct response *r)
{
	uint64_t size = (uint64_t)rep->sb.st_size;
	struct obuf *o = &r->hdr;
	r->status = 206;
	r->fd = rep->fd;
	r->mem = mem;
	if (n == 1) {
		uint64_t len = rg[0].last - rg[0].first + 1;
		put_type(o, mt, rep, base);
		resp_content_range(o, rg[0].first, rg[0].last, size);
		ob_puts(o, "Content-Length: ");
		ob_u64(o, len);
		ob_puts(o, "\r\nAccept-Ranges: bytes\r\n");
		put_validators(o, rep, h->now);
		if (mem) {
			r->body = RB_MEM;
			r->mem = mem + rg[0].first;
			r->mem_n = len;
			return H_RESPOND;
		}
		r->body = RB_FILE;
		r->off = rg[0].first;
		r->len = len;
		return H_RESPOND;
	}
	struct byteranges *br = calloc(1, sizeof(*br));
	if (br == NULL)
		return resp_error(r, 503, "out of memory");
	br->n = n;
	br->size = size;
	br->type = mt->type;
	memcpy(br->r, rg, (size_t)n * sizeof(*rg));
	char id[17];
	snprintf(id, sizeof(id), "%016llx",
		 (unsigned long long)((uintptr_t)br ^ (uint64_t)rep->sb.st_ino * 0x9e3779b97f4a7c15ull));
	snprintf(br->boundary, sizeof(br->boundary), "mthttpd-%s", id);
	ob_puts(o, "Content-Type: multipart/byteranges; boundary=");
	ob_puts(o, br->boundary);
	ob_put(o, "\r\n", 2);
	if (rep->variant)
		ob_puts(o, rep->variant == 'b' ? "Content-Encoding: br\r\n" : "Content-Encoding: gzip\r\n");
	if (mt->attachment)
		put_disposition(o, base);
	ob_puts(o, "Content-Length: ");
	ob_u64(o, resp_parts_length(br));
	ob_puts(o, "\r\nAccept-Ranges: bytes\r\n");
	put_validators(o, rep, h->now);
	r->body = RB_PARTS;
	r->parts = br;
	return H_RESPOND;
}

/* A 200 of the compressed representation rep, whose bytes and fields
 * are kept in r->zref: the fields are built once, like make_hdr's. */
static enum hstep serve_compressed(const struct hreq *h, const struct fc_rep *rep,
				   const struct mime_type *mt, const char *base, bool fixed,
				   struct response *r)
{
	const struct cz_hdr *zh = cz_hdr(r->zref);
	if (fixed && zh == NULL) {
		char tmp[2048];
		struct obuf o;
		obuf_init(&o, tmp, sizeof(tmp));
		put_fields_200(&o, mt, rep, base, rep->sb.st_mtim.tv_sec);
		if (o.ok)
			cz_set_hdr(r->zref, tmp, o.n);
		zh = cz_hdr(r->zref);
	}
	if (fixed && zh)
		ob_put(&r->hdr, zh->b, zh->n);
	else
		put_fields_200(&r->hdr, mt, rep, base, h->now);
	r->body = RB_MEM;
	r->mem = r->zref->data;
	r->mem_n = r->zref->n;
	return H_RESPOND;
}

/* Opens and checks rel for a cache miss: *out is the entry (one reference
 * for the caller), or NULL when r was filled instead (an error, or the
 * redirect of a directory without its slash). Returns H_RESPOND. */
static enum hstep open_entry(const struct hreq *h, const char *rel, size_t n, bool dir_slash,
			     struct fentry **out, struct response *r)
{
	bool plain;
	const char *detail = NULL;
	*out = NULL;
	int fd = open_file(h, rel, &plain);
	/* Out of descriptors: give back cold cached ones, then try once more. */
	if ((fd == -EMFILE || fd == -ENFILE) && fcache_shed(h->fc) > 0)
		fd = open_file(h, rel, &plain);
	if (fd < 0) {
		int st = open_error(fd, &detail);
		return resp_error(r, st, detail);
	}
	struct stat sb;
	if (fstat(fd, &sb) < 0) {
		close(fd);
		return resp_error(r, 500, "cannot stat file");
	}
	if (S_ISDIR(sb.st_mode) && !dir_slash) {
		close(fd);
		return redirect_dir(h->req, rel, n, r);
	}
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		return resp_error(r, 404, "not a regular file");
	}
	const char *base = memrchr(rel, '/', n);
	base = base ? base + 1 : rel;
	const struct mime_type *mt = mime_lookup(base, n - (size_t)(base - rel), cfg->types);
	if (mt == NULL) {
		close(fd);
		return resp_error(r, 415, "file type not served under --types seed (use --types all)");
	}
	struct fentry *e = plain ? fcache_insert(h->fc, rel, n, fd, &sb, mt) : NULL;
	if (e == NULL)
		e = fcache_temp(rel, n, fd, &sb, mt);
	if (e == NULL) {
		close(fd);
		return resp_error(r, 503, "out of memory");
	}
	*out = e;
	return H_RESPOND;
}

enum hstep sf_serve(const struct hreq *h, struct response *r)
{
	const struct http_request *req = h->req;
	char rel[PATH_MAX_REL + 16];
	bool dir_slash = false;
	int st = path_resolve(req->path.p, req->path.n, rel, PATH_MAX_REL, &dir_slash);
	if (st) {
		/* A path too long for any file names nothing: 404, and the
		 * connection stays (414 is for a request line over the limit). */
		return resp_error(r, st == 414 ? 404 : st,
				  st == 400 ? "malformed path" : st == 403 ? "path leaves the document root"
				  : st == 404 ? "no such file" : "path too long");
	}
	size_t n = strlen(rel);
	if (!dir_slash && n == 6 && memcmp(rel, "upload", 6) == 0) {
		ob_puts(&r->hdr, "Allow: POST, OPTIONS\r\n");
		return resp_error(r, 405, "GET and HEAD are not allowed on /upload");
	}
	if (dir_slash) {
		if (n)
			rel[n++] = '/';
		memcpy(rel + n, "index.html", sizeof("index.html"));
		n += sizeof("index.html") - 1;
	}
	struct fentry *e = fcache_find(h->fc, rel, n);
	if (h->m)
		mx_add(e ? &h->m->cache_hits : &h->m->cache_misses, 1);
	if (e == NULL) {
		open_entry(h, rel, n, dir_slash, &e, r);
		if (e == NULL)
			return H_RESPOND;
	}
	return sf_serve_entry(h, e, r);
}

enum hstep sf_serve_entry(const struct hreq *h, struct fentry *e, struct response *r)
{
	const struct http_request *req = h->req;
	const struct hp_info *info = h->info;
	/* From here r holds the reference: it is dropped with the response. */
	r->ref = e;
	const char *base = memrchr(e->rel, '/', e->rel_n);
	base = base ? base + 1 : e->rel;
	const struct mime_type *mt = e->mt;
	struct fc_rep *rep = choose_rep(e, h);
	struct fc_rep zrep; /* compressed on the fly: its body is in r->zref */
	if (rep == &e->rep[FC_IDENTITY] && (r->zref = sfz_choose(h, e, &zrep)))
		rep = &zrep;

	struct cond_input ci = {
		.if_match = info->if_match.p, .if_match_n = info->if_match.n,
		.if_none_match = info->if_none_match.p, .if_none_match_n = info->if_none_match.n,
		.if_modified_since = info->if_modified_since.p,
		.if_modified_since_n = info->if_modified_since.n,
		.if_unmodified_since = info->if_unmodified_since.p,
		.if_unmodified_since_n = info->if_unmodified_since.n,
		.etag = rep->etag, .etag_n = rep->etag_n,
		.mtime = rep->sb.st_mtim.tv_sec,
		.get_or_head = true,
	};
	struct hp_slice im[HP_MAX_HEADERS], inm[HP_MAX_HEADERS];
	if (info->if_match_multi) {
		ci.if_match_lines = im;
		ci.if_match_nlines = hp_field_lines(req, "if-match", im, HP_MAX_HEADERS);
	}
	if (info->if_none_match_multi) {
		ci.if_none_match_lines = inm;
		ci.if_none_match_nlines = hp_field_lines(req, "if-none-match", inm, HP_MAX_HEADERS);
	}
	switch (cond_evaluate(&ci)) {
	case COND_NOT_MODIFIED:
		return not_modified(h, rep, r);
	case COND_FAILED:
		return resp_error(r, 412, "precondition failed");
	case COND_PASS:
		break;
	}

	uint64_t size = (uint64_t)rep->sb.st_size;
	/* An empty representation has no ranges to select (RFC 9110 14.2
	 * lets the server ignore Range then). */
	if (info->range.p && size > 0 &&
	    (info->if_range.p == NULL ||
	     cond_if_range(info->if_range.p, info->if_range.n, rep->etag, rep->etag_n,
			   rep->sb.st_mtim.tv_sec, h->now))) {
		struct byte_range rg[RANGE_MAX];
		int k = range_parse(info->range.p, info->range.n, size, rg, RANGE_MAX);
		if (k == RANGE_UNSATISFIABLE) {
			ob_puts(&r->hdr, "Content-Range: bytes */");
			ob_u64(&r->hdr, size);
			ob_put(&r->hdr, "\r\n", 2);
			return resp_error(r, 416, "range not satisfiable");
		}
		if (k > 0)
			return serve_ranges(h, rep, fentry_bytes(e, rep), mt, base, rg, k, r);
	}

	r->status = 200;
	/* A modification time in the future makes Last-Modified the Date,
	 * which changes: no fixed block then. */
	bool fixed = rep->sb.st_mtim.tv_sec <= h->now;
	if (r->zref)
		return serve_compressed(h, rep, mt, base, fixed, r);
	if (fixed && rep->hdr == NULL)
		make_hdr(rep, mt, base);
	if (fixed && rep->hdr)
		ob_put(&r->hdr, rep->hdr, rep->hdr_n);
	else
		put_fields_200(&r->hdr, mt, rep, base, h->now);
	const char *mem = fentry_bytes(e, rep);
	if (mem) {
		r->body = RB_MEM;
		r->mem = mem;
		r->mem_n = size;
	} else {
		r->body = RB_FILE;
		r->fd = rep->fd;
		r->off = 0;
		r->len = size;
	}
	return H_RESPOND;
}
