/* Stored uploads read back, and their listing (see uploads_read.h). */
#include "uploads_read.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fcache.h"
#include "path.h"
#include "static_file.h"
#include "upload.h"

#define PREFIX "uploads"
#define PREFIX_N (sizeof(PREFIX) - 1)
#define NAME_MAX_LEN 64

static const struct mime_type json_type = { "application/json", false };

bool ur_match(const struct http_request *req)
{
	char rel[PREFIX_N + NAME_MAX_LEN + 8];
	bool dir_slash;
	if (req->path.n < PREFIX_N + 2 || req->path.p[0] != '/')
		return false;
	/* Every GET asks: a path that neither spells the prefix nor has an
	 * escape cannot decode to it, and costs no decoding. */
	if (memchr(req->path.p, '%', req->path.n) == NULL &&
	    memmem(req->path.p, req->path.n, PREFIX "/", PREFIX_N + 1) == NULL)
		return false;
	int st = path_resolve(req->path.p, req->path.n, rel, sizeof(rel), &dir_slash);
	if (st == 414) /* too long for any upload's name: still ours (404) if under the prefix */
		return req->path.n > PREFIX_N + 2 && memcmp(req->path.p, "/" PREFIX "/", PREFIX_N + 2) == 0;
	if (st)
		return false;
	size_t n = strlen(rel);
	return (n == PREFIX_N && dir_slash && memcmp(rel, PREFIX, PREFIX_N) == 0) ||
	       (n > PREFIX_N + 1 && memcmp(rel, PREFIX "/", PREFIX_N + 1) == 0);
}

static bool all_digits(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

bool ur_valid_name(const char *name, size_t n)
{
	/* "upload_" 8 "_" 6 "_" id ".json" */
	static const size_t fixed = 7 + 8 + 1 + 6 + 1 + 5;
	if (n < fixed + 6 || n > NAME_MAX_LEN || memcmp(name, "upload_", 7) != 0 ||
	    !all_digits(name + 7, 8) || name[15] != '_' || !all_digits(name + 16, 6) ||
	    name[22] != '_' || memcmp(name + n - 5, ".json", 5) != 0)
		return false;
	for (size_t i = 23; i < n - 5; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9')))
			return false;
	return true;
}

/* One stored upload, as the listing orders it: newest first (modification
 * time, then name, both descending). */
struct item {
	int64_t mtime_ns;
	uint64_t bytes;
	time_t mtime;
	char name[NAME_MAX_LEN + 1];
};

static int64_t mtime_ns(const struct stat *sb)
{
	return (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
}

/* Is a newer than b? */
static bool newer(const struct item *a, const struct item *b)
{
	return a->mtime_ns != b->mtime_ns ? a->mtime_ns > b->mtime_ns : strcmp(a->name, b->name) > 0;
}

/* Reads name's metadata into it. Returns false when it is no stored
 * upload (absent, not a regular file, not an upload's name). */
static bool stat_item(int dfd, const char *name, struct item *it)
{
	size_t n = strlen(name);
	struct stat sb;
	if (!ur_valid_name(name, n) || fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(sb.st_mode))
		return false;
	memcpy(it->name, name, n + 1);
	it->mtime_ns = mtime_ns(&sb);
	it->mtime = sb.st_mtim.tv_sec;
	it->bytes = (uint64_t)sb.st_size;
	return true;
}

/* Keeps the newest `limit` items older than *after (NULL: any) in
 * v[0..*n), newest first. Returns 0 or -errno. */
static int collect(const struct item *after, struct item *v, size_t limit, size_t *n)
{
	*n = 0;
	int dfd = openat(cfg->uploads_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	DIR *d = fdopendir(dfd);
	if (d == NULL) {
		int e = -errno;
		close(dfd);
		return e;
	}
	struct dirent *de;
	struct item it;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != 'u' || !stat_item(dirfd(d), de->d_name, &it))
			continue;
		if (after && !newer(after, &it))
			continue;
		if (*n == limit && !newer(&it, &v[limit - 1]))
			continue;
		size_t i = *n < limit ? (*n)++ : limit - 1;
		while (i > 0 && newer(&it, &v[i - 1])) {
			v[i] = v[i - 1];
			i--;
		}
		v[i] = it;
	}
	closedir(d);
	return 0;
}

/* The listing's query: limit (1..UR_LIMIT_MAX) and after. Returns 0 or
 * 400 with *why set. */
static int parse_query(struct hp_slice q, size_t *limit, char *after, size_t after_cap,
		       bool *has_after, const char **why)
{
	*limit = UR_LIMIT_DEFAULT;
	*has_after = false;
	const char *p = q.p, *end = q.p ? q.p + q.n : NULL;
	while (p && p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *e = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(e - p));
		const char *v = eq ? eq + 1 : e;
		size_t kn = (size_t)((eq ? eq : e) - p), vn = (size_t)(e - v);
		if (kn == 5 && memcmp(p, "limit", 5) == 0) {
			unsigned long x = 0;
			if (vn == 0 || vn > 7 || !all_digits(v, vn)) {
				*why = "limit must be a number from 1 to 1000";
				return 400;
			}
			for (size_t i = 0; i < vn; i++)
				x = x * 10 + (unsigned long)(v[i] - '0');
			if (x < 1 || x > UR_LIMIT_MAX) {
				*why = "limit must be a number from 1 to 1000";
				return 400;
			}
			*limit = x;
		} else if (kn == 5 && memcmp(p, "after", 5) == 0) {
			/* A name needs no escapes; one that has them names
			 * nothing, which is an empty page. */
			*has_after = true;
			size_t cn = vn < after_cap ? vn : after_cap - 1;
			memcpy(after, v, cn);
			after[cn] = '\0';
			if (vn >= after_cap)
				after[0] = '\0';
		}
		p = amp ? amp + 1 : end;
	}
	return 0;
}

/* Writes the items as a JSON array into a fresh anonymous file. Returns
 * its descriptor or -errno. */
static int write_listing(const struct item *v, size_t n)
{
	size_t cap = 2 + n * (NAME_MAX_LEN + 96);
	char *buf = malloc(cap);
	if (buf == NULL)
		return -ENOMEM;
	size_t len = 0;
	buf[len++] = '[';
	for (size_t i = 0; i < n; i++) {
		struct tm tm;
		gmtime_r(&v[i].mtime, &tm);
		len += (size_t)snprintf(buf + len, cap - len,
					"%s{\"name\":\"%s\",\"bytes\":%llu,\"modified\":\"%04d-%02d-%02dT%02d:%02d:%02dZ\"}",
					i ? "," : "", v[i].name, (unsigned long long)v[i].bytes,
					tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
					tm.tm_sec);
	}
	buf[len++] = ']';
	int fd = memfd_create("mthttpd-uploads-index", MFD_CLOEXEC);
	int rc = fd < 0 ? -errno : 0;
	for (size_t off = 0; rc == 0 && off < len;) {
		ssize_t w = write(fd, buf + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			rc = -errno;
		else
			off += (size_t)w;
	}
	free(buf);
	if (rc < 0 && fd >= 0)
		close(fd);
	return rc < 0 ? rc : fd;
}

/* Wraps fd (owned from here) as an uncached entry of the JSON type, with
 * no precompressed siblings. NULL when out of memory (fd is closed). */
static struct fentry *wrap(const char *name, size_t n, int fd, const struct stat *sb)
{
	struct fentry *e = fcache_temp(name, n, fd, sb, &json_type);
	if (e == NULL) {
		close(fd);
		return NULL;
	}
	e->rep[FC_BR].state = FC_ABSENT;
	e->rep[FC_GZ].state = FC_ABSENT;
	return e;
}

static enum hstep serve_listing(const struct hreq *h, struct response *r)
{
	if (!upload_token_ok(h->info)) {
		ob_puts(&r->hdr, "WWW-Authenticate: Bearer realm=\"mthttpd\"\r\n");
		return resp_error(r, 401, "a valid bearer token is required");
	}
	size_t limit, n = 0;
	bool has_after;
	char after_name[NAME_MAX_LEN + 1];
	const char *why = NULL;
	if (parse_query(h->req->query, &limit, after_name, sizeof(after_name), &has_after, &why))
		return resp_error(r, 400, why);
	struct item after;
	struct item *v = malloc(limit * sizeof(*v));
	if (v == NULL)
		return resp_error(r, 503, "out of memory");
	/* An after that names no stored upload is the end: an empty page. */
	if (!has_after || stat_item(cfg->uploads_fd, after_name, &after)) {
		int rc = collect(has_after ? &after : NULL, v, limit, &n);
		if (rc < 0) {
			free(v);
			return resp_error(r, rc == -EMFILE || rc == -ENFILE ? 503 : 500,
					  "cannot read the uploads directory");
		}
	}
	int fd = write_listing(v, n);
	free(v);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) < 0) {
		if (fd >= 0)
			close(fd);
		return resp_error(r, 503, "cannot build the listing");
	}
	struct fentry *e = wrap("uploads/", PREFIX_N + 1, fd, &sb);
	if (e == NULL)
		return resp_error(r, 503, "out of memory");
	r->ref = e;
	r->status = 200;
	ob_puts(&r->hdr, "Content-Type: application/json\r\nCache-Control: no-store\r\nContent-Length: ");
	ob_u64(&r->hdr, (uint64_t)sb.st_size);
	ob_put(&r->hdr, "\r\n", 2);
	r->body = RB_FILE;
	r->fd = e->rep[FC_IDENTITY].fd;
	r->off = 0;
	r->len = (uint64_t)sb.st_size;
	return H_RESPOND;
}

static enum hstep serve_document(const struct hreq *h, const char *name, size_t n,
				 struct response *r)
{
	/* No symbolic links: the directory holds only what uploads put there. */
	int fd = openat(cfg->uploads_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
			return resp_error(r, 503, "server out of resources");
		if (errno == EACCES || errno == EPERM)
			return resp_error(r, 403, "file not readable");
		return resp_error(r, 404, "no such upload");
	}
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return resp_error(r, 404, "no such upload");
	}
	struct fentry *e = wrap(name, n, fd, &sb);
	if (e == NULL)
		return resp_error(r, 503, "out of memory");
	return sf_serve_entry(h, e, r);
}

enum hstep ur_serve(const struct hreq *h, struct response *r)
{
	const struct http_request *req = h->req;
	char rel[PREFIX_N + NAME_MAX_LEN + 8];
	bool dir_slash = false;
	if (path_resolve(req->path.p, req->path.n, rel, sizeof(rel), &dir_slash))
		return resp_error(r, 404, "no such upload");
	size_t n = strlen(rel);
	if (n == PREFIX_N && dir_slash) {
		if (!cfg->upload_index)
			return resp_error(r, 404, "no such file");
		return serve_listing(h, r);
	}
	const char *name = rel + PREFIX_N + 1;
	size_t nn = n - PREFIX_N - 1;
	if (dir_slash || !ur_valid_name(name, nn))
		return resp_error(r, 404, "no such upload");
	return serve_document(h, name, nn, r);
}
