/* POST /upload. The body streams through the JSON validator into a
 * temporary dot-file in the uploads directory; only a complete, valid text
 * is committed, by a pool thread: fsync, rename without replacing, fsync of
 * the directory. Then 201. Nothing else is ever left behind. */
#include "upload.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "iopool.h"
#include "json_check.h"
#include "log.h"
#include "ratelimit.h"

/* Temporary files are O_TMPFILE inodes of the uploads directory, given
 * their final name with linkat once complete: a crash leaves nothing, and
 * several instances can share the directory. Where the filesystem lacks
 * O_TMPFILE (NFS, some FUSE file systems) they are named dot-files
 * ".upload-<host>-<pid>-<id>.tmp", so that the clean-up at start removes
 * only those of dead processes of its own host. */
#define TMP_PREFIX ".upload-"
#define TMP_SUFFIX ".tmp"
#define TMP_ID_LEN 12
#define TMP_NAME_MAX 128
#define ID_LEN 8

/* Body bytes are gathered here and written by the pool, so the worker never
 * calls into the filesystem: a flush starts once UPLOAD_FLUSH bytes are
 * held, and since one call brings at most UPLOAD_SLICE_MAX bytes,
 * appending always fits. */
#define UPLOAD_FLUSH (48 * 1024)
#define UPLOAD_BUF (UPLOAD_FLUSH + UPLOAD_SLICE_MAX)

enum job { JOB_WRITE, JOB_COMMIT };

struct upload {
	struct ev_job job;           /* run by the pool; done is the caller's */
	int fd;                      /* the temporary file, -1 until created */
	int err;                     /* errno of the last job, 0 on success */
	uint8_t kind;                /* enum job */
	bool finished;               /* committed or discarded: nothing to undo */
	uint64_t bytes;
	bool anon;                   /* fd is an O_TMPFILE: no name until linked */
	uint64_t quota_held;         /* bytes reserved against --upload-quota */
	char tmp[TMP_NAME_MAX];      /* the named fallback's name */
	char name[64];               /* the final name */
	char peer[64];               /* the client, for the log */
	char reply[256];             /* the 201 body */
	struct json_check jc;
	size_t buf_n;
	char buf[UPLOAD_BUF];
};

/* Random bytes come from the kernel in batches: one getrandom() per 256
 * bytes instead of one per name. */
static __thread unsigned char rnd[256];
static __thread size_t rnd_left;

static unsigned char random_byte(void)
{
	while (rnd_left == 0) {
		if (getrandom(rnd, sizeof(rnd), 0) == (ssize_t)sizeof(rnd))
			rnd_left = sizeof(rnd);
	}
	return rnd[--rnd_left];
}

static void random_id(char *out, size_t n)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	for (size_t o = 0; o < n;) {
		unsigned char r = random_byte();
		/* 252 = 7 * 36: rejecting the rest keeps every character
		 * equally likely. */
		if (r < 252)
			out[o++] = alphabet[r % 36];
	}
	out[n] = '\0';
}

/* Durability of names: one fsync of the directory covers every rename done
 * before it started, so concurrent commits share it (group commit). */
static pthread_mutex_t dsync_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t dsync_cond = PTHREAD_COND_INITIALIZER;
static uint64_t renamed_gen;   /* renames done so far */
static uint64_t synced_gen;    /* renames covered by a finished fsync */
static bool dsync_running;
static int dsync_err;          /* errno of the last fsync, 0 if it worked */

/* Waits until a directory fsync that started after this thread's rename
 * has finished; runs it when nobody else is. Returns 0 or an errno. */
static int sync_dir_after_rename(void)
{
	pthread_mutex_lock(&dsync_lock);
	uint64_t mine = ++renamed_gen;
	int err = 0;
	for (;;) {
		if (synced_gen >= mine) {
			err = dsync_err;
			break;
		}
		if (!dsync_running) {
			dsync_running = true;
			uint64_t target = renamed_gen;
			pthread_mutex_unlock(&dsync_lock);
			int rc = fsync(cfg->uploads_fd) < 0 ? errno : 0;
			pthread_mutex_lock(&dsync_lock);
			dsync_running = false;
			synced_gen = target;
			dsync_err = rc;
			pthread_cond_broadcast(&dsync_cond);
			continue;
		}
		pthread_cond_wait(&dsync_cond, &dsync_lock);
	}
	pthread_mutex_unlock(&dsync_lock);
	return err;
}

static mode_t saved_umask;
static atomic_bool no_tmpfile;   /* O_TMPFILE refused once: named files */
static char host_tag[64];        /* this host's name, safe for a file name */

/* Creates the temporary file: O_TMPFILE, or the named fallback. Returns 0
 * or an errno. */
static int create_tmp(struct upload *u)
{
	if (!atomic_load_explicit(&no_tmpfile, memory_order_relaxed)) {
		u->fd = openat(cfg->uploads_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
		if (u->fd >= 0) {
			u->anon = true;
			return 0;
		}
		if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL && errno != ENOENT)
			return errno;
		if (!atomic_exchange(&no_tmpfile, true))
			log_warn("uploads directory %s: no O_TMPFILE (%s); using named temporary files",
				 cfg->uploads, strerror(errno));
	}
	char id[TMP_ID_LEN + 1];
	random_id(id, TMP_ID_LEN);
	snprintf(u->tmp, sizeof(u->tmp), TMP_PREFIX "%s-%ld-%s" TMP_SUFFIX, host_tag, (long)getpid(), id);
	u->fd = openat(cfg->uploads_fd, u->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	return u->fd < 0 ? errno : 0;
}

/* Creates the temporary file (if not yet) and writes what is buffered.
 * Runs on a pool thread. Returns 0 or an errno. */
static int write_out(struct upload *u)
{
	if (u->fd < 0) {
		int e = create_tmp(u);
		if (e)
			return e;
		if (saved_umask & 0644)
			fchmod(u->fd, 0644); /* whatever the umask */
	}
	size_t off = 0;
	while (off < u->buf_n) {
		ssize_t w = write(u->fd, u->buf + off, u->buf_n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno;
		off += (size_t)w;
	}
	u->buf_n = 0;
	return 0;
}

/* Gives the O_TMPFILE fd the name `name`, never replacing a file. Returns
 * 0, or -1 with errno. */
static int link_anon(int fd, int dfd, const char *name)
{
	char proc[40];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	int rc = linkat(AT_FDCWD, proc, dfd, name, AT_SYMLINK_FOLLOW);
	if (rc < 0 && errno == ENOENT) /* no /proc: needs CAP_DAC_READ_SEARCH */
		rc = linkat(fd, "", dfd, name, AT_EMPTY_PATH);
	return rc;
}

/* Makes the upload durable under its final name. Runs on a pool thread. */
static int commit(struct upload *u)
{
	int dfd = cfg->uploads_fd;
	int e = write_out(u);
	if (e)
		return e;
	if (fsync(u->fd) < 0)
		return errno;
	if (!u->anon) {
		e = close(u->fd) < 0 ? errno : 0;
		u->fd = -1;
		if (e)
			return e;
	}
	for (int tries = 0;; tries++) {
		time_t t = time(NULL);
		struct tm tm;
		gmtime_r(&t, &tm);
		char id[ID_LEN + 1];
		random_id(id, ID_LEN);
		snprintf(u->name, sizeof(u->name), "upload_%04d%02d%02d_%02d%02d%02d_%s.json",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, id);
		/* Never replace a file: linkat fails on an existing name, and
		 * so does RENAME_NOREPLACE (link+unlink where the filesystem
		 * lacks it). */
		int rc = u->anon ? link_anon(u->fd, dfd, u->name)
				 : renameat2(dfd, u->tmp, dfd, u->name, RENAME_NOREPLACE);
		if (rc < 0 && errno == EINVAL && !u->anon) {
			rc = linkat(dfd, u->tmp, dfd, u->name, 0);
			if (rc == 0)
				unlinkat(dfd, u->tmp, 0);
		}
		if (rc == 0)
			break;
		if (errno != EEXIST || tries >= 16)
			return errno;
	}
	if (u->anon) {
		e = close(u->fd) < 0 ? errno : 0;
		u->fd = -1;
		if (e) {
			unlinkat(dfd, u->name, 0);
			u->name[0] = '\0';
			return e;
		}
	}
	e = sync_dir_after_rename();
	if (e) {
		/* The name may not survive a crash: take it back rather than
		 * answer 201 for something that is not durable. */
		unlinkat(dfd, u->name, 0);
		u->name[0] = '\0';
		return e;
	}
	return 0;
}

/* --upload-quota: the bytes the uploads directory holds, measured at
 * start and raised by every commit (reserved before it, given back if it
 * fails). Exact for this process; instances sharing the directory each
 * count only their own uploads since they started, and files removed
 * while running are not noticed until the next start. */
static _Atomic uint64_t quota_used;

/* --upload-rate (ratelimit.h); NULL when off. */
static struct ratelimit *upload_rl;

static void quota_release(struct upload *u)
{
	if (u->quota_held) {
		atomic_fetch_sub(&quota_used, u->quota_held);
		u->quota_held = 0;
	}
}

/* Reserves n bytes of the quota. Returns false when they do not fit. */
static bool quota_reserve(struct upload *u, uint64_t n)
{
	uint64_t used = atomic_load(&quota_used);
	do {
		if (n > cfg->upload_quota || used > cfg->upload_quota - n)
			return false;
	} while (!atomic_compare_exchange_weak(&quota_used, &used, used + n));
	u->quota_held = n;
	return true;
}

/* Would n more bytes pass the quota (nothing reserved)? */
static bool quota_exceeded(uint64_t n)
{
	uint64_t used = atomic_load_explicit(&quota_used, memory_order_relaxed);
	return cfg->upload_quota && (n > cfg->upload_quota || used > cfg->upload_quota - n);
}

/* Removes whatever an upload has on disk (pool thread or worker). */
static void discard_files(struct upload *u)
{
	if (u->finished)
		return;
	quota_release(u);
	if (u->fd >= 0) {
		close(u->fd);
		u->fd = -1;
		if (!u->anon)
			unlinkat(cfg->uploads_fd, u->tmp, 0);
	} else if (u->kind == JOB_COMMIT && !u->anon && u->tmp[0]) {
		unlinkat(cfg->uploads_fd, u->tmp, 0);
	}
	u->finished = true;
}

/* The pool's side of a job. */
static void run_job(struct ev_job *job)
{
	struct upload *u = ev_container_of(job, struct upload, job);
	u->err = u->kind == JOB_COMMIT ? commit(u) : write_out(u);
	if (u->err)
		discard_files(u);
	else if (u->kind == JOB_COMMIT)
		u->finished = true;
}

void upload_init(void)
{
	saved_umask = umask(022);
	umask(saved_umask);
	char h[256];
	if (gethostname(h, sizeof(h)) < 0)
		strcpy(h, "localhost");
	h[sizeof(h) - 1] = '\0';
	size_t i = 0;
	for (; h[i] && i + 1 < sizeof(host_tag); i++) {
		char ch = h[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
			  ch == '.' || ch == '_';
		host_tag[i] = ok ? ch : '_';
	}
	host_tag[i] = '\0';
}

/* Is name a temporary file this start may remove: a named fallback of
 * this host whose process is gone, or one from before names carried the
 * host and pid that is over an hour old? */
static bool stale_tmp(const char *name, time_t now)
{
	size_t n = strlen(name), pl = strlen(TMP_PREFIX), sl = strlen(TMP_SUFFIX);
	if (n <= pl + sl || strncmp(name, TMP_PREFIX, pl) != 0 || strcmp(name + n - sl, TMP_SUFFIX) != 0)
		return false;
	/* ".upload-<host>-<pid>-<id>.tmp", read from the right. */
	const char *end = name + n - sl;
	const char *dash_id = end - TMP_ID_LEN - 1;
	if (dash_id > name + pl && *dash_id == '-') {
		const char *p = dash_id;
		while (p > name + pl && p[-1] >= '0' && p[-1] <= '9')
			p--;
		if (p < dash_id && p > name + pl + 1 && p[-1] == '-') {
			size_t hn = (size_t)(p - 1 - (name + pl));
			long pid = strtol(p, NULL, 10);
			return hn == strlen(host_tag) && memcmp(name + pl, host_tag, hn) == 0 &&
			       pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
		}
	}
	struct stat sb;
	return fstatat(cfg->uploads_fd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && now - sb.st_mtime > 3600;
}

/* A directory stream over the uploads directory, or NULL. */
static DIR *open_uploads_dir(void)
{
	int dfd = openat(cfg->uploads_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return NULL;
	DIR *d = fdopendir(dfd);
	if (d == NULL)
		close(dfd);
	return d;
}

int upload_cleanup_stale(void)
{
	upload_init();
	DIR *d = open_uploads_dir();
	if (d == NULL)
		return 0;
	int removed = 0;
	time_t now = time(NULL);
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (stale_tmp(e->d_name, now) && unlinkat(cfg->uploads_fd, e->d_name, 0) == 0)
			removed++;
	closedir(d);
	return removed;
}

/* The bytes of the regular files in the uploads directory. */
static uint64_t uploads_size(void)
{
	DIR *d = open_uploads_dir();
	if (d == NULL)
		return 0;
	uint64_t total = 0;
	struct dirent *e;
	struct stat sb;
	while ((e = readdir(d)) != NULL)
		if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode))
			total += (uint64_t)sb.st_size;
	closedir(d);
	return total;
}

void upload_limits_init(void)
{
	if (cfg->upload_rate) {
		upload_rl = rl_new(cfg->upload_rate);
		if (upload_rl == NULL)
			log_warn("--upload-rate: out of memory; uploads are not rate-limited");
	}
	if (cfg->upload_quota) {
		atomic_store(&quota_used, uploads_size());
		log_info("uploads directory holds %llu of %llu bytes (--upload-quota)",
			 (unsigned long long)atomic_load(&quota_used),
			 (unsigned long long)cfg->upload_quota);
	}
}

/* ---- the request ---- */

/* Compares without an early exit, so the time taken does not tell how much
 * of a guessed token was right. */
static bool token_equal(const char *a, size_t an, const char *b, size_t bn)
{
	unsigned char diff = an != bn;
	for (size_t i = 0; i < bn; i++)
		diff |= (unsigned char)(b[i] ^ (i < an ? a[i] : 0));
	return diff == 0;
}

static bool authorized(const struct hp_info *info)
{
	struct hp_slice v = info->authorization;
	const char *tok = cfg->upload_token;
	if (v.p == NULL || v.n < 7 || strncasecmp(v.p, "Bearer ", 7) != 0)
		return false;
	size_t i = 7;
	while (i < v.n && v.p[i] == ' ')
		i++;
	return token_equal(v.p + i, v.n - i, tok, strlen(tok));
}

bool upload_token_ok(const struct hp_info *info)
{
	return cfg->upload_token == NULL || (!info->authorization_dup && authorized(info));
}

/* application/json, or application/<x>+json (RFC 6839 structured syntax
 * suffix), parameters allowed, case-insensitive. */
static bool is_json_type(struct hp_slice ct)
{
	static const char app[] = "application/";
	size_t n = sizeof(app) - 1;
	if (ct.p == NULL || ct.n < n || strncasecmp(ct.p, app, n) != 0)
		return false;
	size_t i = n;
	/* The subtype: RFC 6838 restricted-name characters. */
	while (i < ct.n && (isalnum((unsigned char)ct.p[i]) || strchr("!#$&-^_.+", ct.p[i])))
		i++;
	size_t sn = i - n;
	const char *sub = ct.p + n;
	bool json = (sn == 4 && strncasecmp(sub, "json", 4) == 0) ||
		    (sn > 5 && strncasecmp(sub + sn - 5, "+json", 5) == 0);
	if (!json)
		return false;
	while (i < ct.n && (ct.p[i] == ' ' || ct.p[i] == '\t'))
		i++;
	return i == ct.n || ct.p[i] == ';';
}

/* 507: the upload does not fit in --upload-quota. */
static enum hstep over_quota(struct response *r)
{
	snprintf(r->detail_buf, sizeof(r->detail_buf), "uploads directory quota of %llu bytes reached",
		 (unsigned long long)cfg->upload_quota);
	return resp_error(r, 507, r->detail_buf);
}

/* The limits the head already tells about: the rate (429) and the quota
 * (507, when Content-Length says the size). Returns 0 or the status
 * filled in r. */
static int limits_check(const struct hreq *h, struct response *r)
{
	const struct hp_info *info = h->info;
	unsigned retry = 0;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	int64_t now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (upload_rl && !rl_take(upload_rl, h->peer ? h->peer : "-", now_ms, &retry)) {
		ob_puts(&r->hdr, "Retry-After: ");
		ob_u64(&r->hdr, retry);
		ob_put(&r->hdr, "\r\n", 2);
		snprintf(r->detail_buf, sizeof(r->detail_buf), "more than %u uploads a minute",
			 cfg->upload_rate);
		resp_error(r, 429, r->detail_buf);
		return 429;
	}
	if (info->has_length && quota_exceeded(info->length)) {
		over_quota(r);
		return 507;
	}
	return 0;
}

/* The refusal texts that carry numbers, written into the response. */
static enum hstep too_large(struct response *r)
{
	snprintf(r->detail_buf, sizeof(r->detail_buf), "upload larger than %llu bytes",
		 (unsigned long long)cfg->max_upload);
	r->close = true;
	return resp_error(r, 413, r->detail_buf);
}

static enum hstep invalid_json(const struct json_check *jc, struct response *r)
{
	snprintf(r->detail_buf, sizeof(r->detail_buf), "invalid JSON at byte %llu: %s",
		 (unsigned long long)jc->err_offset, jc->err);
	return resp_error(r, 400, r->detail_buf);
}

enum hstep upload_begin(const struct hreq *h, struct response *r, struct upload **out)
{
	const struct hp_info *info = h->info;
	*out = NULL;
	if (cfg->upload_token && (info->authorization_dup || !authorized(info))) {
		ob_puts(&r->hdr, "WWW-Authenticate: Bearer realm=\"mthttpd\"\r\n");
		return resp_error(r, 401, info->authorization_dup ? "several Authorization fields"
						  : "a valid bearer token is required");
	}
	if (info->content_type_dup || !is_json_type(info->content_type))
		return resp_error(r, 415, info->content_type_dup ? "several Content-Type fields"
					   : "Content-Type must be application/json or application/*+json");
	if (!info->has_length && !info->chunked)
		return resp_error(r, 411, "Content-Length or chunked framing required");
	if (info->has_length && info->length > cfg->max_upload)
		return too_large(r);
	if (limits_check(h, r))
		return H_RESPOND;
	struct upload *u = malloc(sizeof(*u));
	if (u == NULL)
		return resp_error(r, 503, "out of memory");
	memset(&u->job, 0, sizeof(u->job));
	u->job.run = run_job;
	u->fd = -1;
	u->err = 0;
	u->kind = JOB_WRITE;
	u->finished = false;
	u->anon = false;
	u->quota_held = 0;
	u->tmp[0] = '\0';
	u->bytes = 0;
	u->buf_n = 0;
	u->name[0] = '\0';
	snprintf(u->peer, sizeof(u->peer), "%s", h->peer ? h->peer : "-");
	jc_init(&u->jc);
	*out = u;
	r->send_continue = info->expect_continue && !(info->has_length && info->length == 0);
	return H_BODY;
}

static enum hstep fail(struct upload *u, int err, struct response *r)
{
	log_error("upload from %s: %s", u->peer, strerror(err));
	discard_files(u);
	r->close = true;
	if (err == ENOSPC || err == EDQUOT)
		return resp_error(r, 507, "no space left for uploads");
	return resp_error(r, 500, "cannot store upload");
}

enum hstep upload_data(struct upload *u, const char *p, size_t n, struct response *r)
{
	u->bytes += n;
	if (u->bytes > cfg->max_upload) {
		discard_files(u);
		return too_large(r);
	}
	if (quota_exceeded(u->bytes)) {
		discard_files(u);
		r->close = true;
		return over_quota(r);
	}
	if (jc_feed(&u->jc, p, n) == JC_ERROR) {
		discard_files(u);
		r->close = true;
		return invalid_json(&u->jc, r);
	}
	memcpy(u->buf + u->buf_n, p, n);
	u->buf_n += n;
	/* Hand a full buffer to the pool; reading pauses until it is written. */
	if (u->buf_n >= UPLOAD_FLUSH) {
		u->kind = JOB_WRITE;
		return H_IO;
	}
	return H_BODY;
}

enum hstep upload_announce(struct upload *u, uint64_t more, struct response *r)
{
	if (more > cfg->max_upload - u->bytes) { /* u->bytes <= max_upload */
		discard_files(u);
		return too_large(r);
	}
	return H_BODY;
}

enum hstep upload_end(struct upload *u, struct response *r)
{
	if (jc_finish(&u->jc) != JC_DONE) {
		discard_files(u);
		r->close = true;
		return invalid_json(&u->jc, r);
	}
	if (cfg->upload_quota && !quota_reserve(u, u->bytes)) {
		discard_files(u);
		return over_quota(r);
	}
	u->kind = JOB_COMMIT;
	return H_IO;
}

struct ev_job *upload_job(struct upload *u)
{
	return &u->job;
}

enum hstep upload_io_done(struct upload *u, struct response *r)
{
	if (u->err)
		return fail(u, u->err, r);
	if (u->kind == JOB_WRITE)
		return H_BODY;
	log_info("stored upload %s (%llu bytes) from %s", u->name, (unsigned long long)u->bytes,
		 u->peer);
	int n = snprintf(u->reply, sizeof(u->reply),
			 "{\"status\":\"success\",\"message\":\"File created successfully\","
			 "\"filepath\":\"/uploads/%s\"}", u->name);
	r->status = 201;
	ob_puts(&r->hdr, "Location: /uploads/");
	ob_puts(&r->hdr, u->name);
	ob_puts(&r->hdr, "\r\nContent-Type: application/json\r\nContent-Length: ");
	ob_u64(&r->hdr, (uint64_t)n);
	ob_put(&r->hdr, "\r\n", 2);
	r->body = RB_MEM;
	r->mem = u->reply;
	r->mem_n = (size_t)n;
	return H_RESPOND;
}

uint64_t upload_size(const struct upload *u)
{
	return u->bytes;
}

void upload_free(struct upload *u)
{
	if (u == NULL)
		return;
	discard_files(u);
	free(u);
}
