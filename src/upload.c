/* POST /upload. The body streams through the JSON validator into a
 * temporary dot-file in the uploads directory; only a complete, valid text
 * is committed, by a pool thread: fsync, rename without replacing, fsync of
 * the directory. Then 201. Nothing else is ever left behind. */
#include "upload.h"

#include <arpa/inet.h>
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "json_check.h"
#include "log.h"
#include "server.h"

#define TMP_PREFIX ".upload-"
#define TMP_SUFFIX ".tmp"
#define ID_LEN 8
#define POOL_THREADS 16
#define POOL_STACK (128 * 1024)

/* Body bytes are gathered here and written by the pool, so the worker never
 * calls into the filesystem: a flush starts once UPLOAD_FLUSH bytes are
 * held, and since a slice of body is at most CONN_RBUF bytes, appending
 * always fits. */
#define UPLOAD_FLUSH (48 * 1024)
#define UPLOAD_BUF (UPLOAD_FLUSH + CONN_RBUF)

enum job { JOB_WRITE, JOB_COMMIT };

struct upload {
	int fd;                      /* the temporary file, -1 until created */
	int err;                     /* errno of the last job, 0 on success */
	uint8_t job;                 /* enum job on the pool */
	uint64_t bytes;
	char tmp[32];                /* ".upload-<id>.tmp" */
	char name[64];               /* the final name */
	struct json_check jc;
	size_t buf_n;
	char buf[UPLOAD_BUF];
};

/* ---- the blocking-I/O pool ---- */

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static struct conn *queue_head, *queue_tail;
static bool pool_stopping;
static pthread_t pool_tids[POOL_THREADS];
static int pool_n;

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

/* Creates the temporary file (if not yet) and writes what is buffered.
 * Runs on a pool thread. Returns 0 or an errno. */
static int write_out(struct upload *u)
{
	if (u->fd < 0) {
		u->fd = openat(cfg->uploads_fd, u->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (u->fd < 0)
			return errno;
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

/* Makes the upload durable under its final name. Runs on a pool thread. */
static int commit(struct upload *u)
{
	int dfd = cfg->uploads_fd;
	int e = write_out(u);
	if (e)
		return e;
	if (fsync(u->fd) < 0)
		return errno;
	e = close(u->fd) < 0 ? errno : 0;
	u->fd = -1;
	if (e)
		return e;
	for (int tries = 0;; tries++) {
		time_t t = time(NULL);
		struct tm tm;
		gmtime_r(&t, &tm);
		char id[ID_LEN + 1];
		random_id(id, ID_LEN);
		snprintf(u->name, sizeof(u->name), "upload_%04d%02d%02d_%02d%02d%02d_%s.json",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, id);
		/* Never replace a file: RENAME_NOREPLACE, or link+unlink where
		 * the filesystem lacks it. */
		int rc = renameat2(dfd, u->tmp, dfd, u->name, RENAME_NOREPLACE);
		if (rc < 0 && errno == EINVAL) {
			rc = linkat(dfd, u->tmp, dfd, u->name, 0);
			if (rc == 0)
				unlinkat(dfd, u->tmp, 0);
		}
		if (rc == 0)
			break;
		if (errno != EEXIST || tries >= 16)
			return errno;
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

/* Removes whatever an upload has on disk (pool thread or worker). */
static void discard_files(struct upload *u)
{
	if (u->fd >= 0) {
		close(u->fd);
		u->fd = -1;
		unlinkat(cfg->uploads_fd, u->tmp, 0);
	} else if (u->job == JOB_COMMIT) {
		unlinkat(cfg->uploads_fd, u->tmp, 0);
	}
}

static void *pool_main(void *arg)
{
	(void)arg;
	log_set_thread("io");
	/* The event loops come first when the CPU is short: a flush may wait,
	 * a GET should not. */
	setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
	pthread_mutex_lock(&pool_lock);
	for (;;) {
		while (queue_head == NULL && !pool_stopping)
			pthread_cond_wait(&pool_cond, &pool_lock);
		if (queue_head == NULL)
			break;
		struct conn *c = queue_head;
		queue_head = c->next_done;
		if (queue_head == NULL)
			queue_tail = NULL;
		c->next_done = NULL;
		pthread_mutex_unlock(&pool_lock);

		struct upload *u = c->up;
		u->err = u->job == JOB_COMMIT ? commit(u) : write_out(u);
		if (u->err)
			discard_files(u);
		worker_complete(c->w, c);

		pthread_mutex_lock(&pool_lock);
	}
	pthread_mutex_unlock(&pool_lock);
	return NULL;
}

int upload_pool_start(void)
{
	saved_umask = umask(022);
	umask(saved_umask);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, POOL_STACK);
	for (pool_n = 0; pool_n < POOL_THREADS; pool_n++) {
		int rc = pthread_create(&pool_tids[pool_n], &attr, pool_main, NULL);
		if (rc != 0) {
			pthread_attr_destroy(&attr);
			return -rc;
		}
	}
	pthread_attr_destroy(&attr);
	return 0;
}

void upload_pool_stop(void)
{
	pthread_mutex_lock(&pool_lock);
	pool_stopping = true;
	pthread_cond_broadcast(&pool_cond);
	pthread_mutex_unlock(&pool_lock);
	for (int i = 0; i < pool_n; i++)
		pthread_join(pool_tids[i], NULL);
}

static void pool_submit(struct conn *c, enum job job)
{
	c->up->job = (uint8_t)job;
	c->io_pending = true;
	c->state = CS_WAIT_IO;
	worker_timer(c->w, c, TL_NONE);
	c->next_done = NULL; /* the link serves the queue now, the worker's list later */
	pthread_mutex_lock(&pool_lock);
	if (queue_tail)
		queue_tail->next_done = c;
	else
		queue_head = c;
	queue_tail = c;
	pthread_mutex_unlock(&pool_lock);
	/* Signalled after unlocking, so the woken thread does not at once
	 * block again on the mutex we hold. */
	pthread_cond_signal(&pool_cond);
}

int upload_cleanup_stale(void)
{
	int dfd = dup(cfg->uploads_fd);
	if (dfd < 0)
		return 0;
	DIR *d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return 0;
	}
	int removed = 0;
	size_t pl = strlen(TMP_PREFIX), sl = strlen(TMP_SUFFIX);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		if (n > pl + sl && strncmp(e->d_name, TMP_PREFIX, pl) == 0 &&
		    strcmp(e->d_name + n - sl, TMP_SUFFIX) == 0 &&
		    unlinkat(cfg->uploads_fd, e->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	return removed;
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

static bool is_json_type(struct hp_slice ct)
{
	static const char want[] = "application/json";
	size_t n = sizeof(want) - 1;
	if (ct.p == NULL || ct.n < n || strncasecmp(ct.p, want, n) != 0)
		return false;
	size_t i = n;
	while (i < ct.n && (ct.p[i] == ' ' || ct.p[i] == '\t'))
		i++;
	return i == ct.n || ct.p[i] == ';';
}

static void upload_free(struct conn *c)
{
	free(c->up);
	c->up = NULL;
}

/* The refusal texts that carry numbers; valid until the next call in this
 * thread (conn_error copies them at once). */
static const char *too_large(void)
{
	static __thread char msg[64];
	snprintf(msg, sizeof(msg), "upload larger than %llu bytes",
		 (unsigned long long)cfg->max_upload);
	return msg;
}

static const char *invalid_json(const struct json_check *jc)
{
	static __thread char msg[128];
	snprintf(msg, sizeof(msg), "invalid JSON at byte %llu: %s",
		 (unsigned long long)jc->err_offset, jc->err);
	return msg;
}

int upload_begin(struct conn *c, const struct http_request *req, const struct hp_info *info,
		 const char **detail, const char **extra)
{
	(void)req;
	if (cfg->upload_token && (info->authorization_dup || !authorized(info))) {
		*detail = info->authorization_dup ? "several Authorization fields"
						  : "a valid bearer token is required";
		*extra = "WWW-Authenticate: Bearer realm=\"mthttpd\"\r\n";
		return 401;
	}
	if (info->content_type_dup || !is_json_type(info->content_type)) {
		*detail = info->content_type_dup ? "several Content-Type fields"
						 : "Content-Type must be application/json";
		return 415;
	}
	if (!info->has_length && !info->chunked) {
		*detail = "Content-Length or chunked framing required";
		return 411;
	}
	if (info->has_length && info->length > cfg->max_upload) {
		*detail = too_large();
		c->keep_alive = false;
		return 413;
	}
	struct upload *u = malloc(sizeof(*u));
	if (u == NULL) {
		*detail = "out of memory";
		return 503;
	}
	u->fd = -1;
	u->err = 0;
	u->job = JOB_WRITE;
	u->bytes = 0;
	u->buf_n = 0;
	u->name[0] = '\0';
	char id[ID_LEN + 5];
	random_id(id, sizeof(id) - 1);
	snprintf(u->tmp, sizeof(u->tmp), TMP_PREFIX "%s" TMP_SUFFIX, id);
	jc_init(&u->jc);
	c->up = u;
	if (c->expect_100 && !(info->has_length && info->length == 0)) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		/* First bytes on a socket whose buffer is empty: this send
		 * does not block, and if it cannot complete the peer is gone. */
		if (send(c->fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(cont) - 1) {
			conn_close(c);
			return 0;
		}
		c->expect_100 = false;
	}
	c->body_mode = BODY_UPLOAD;
	c->state = CS_READ_BODY;
	return 0;
}

static int fail(struct conn *c, int err, const char **detail)
{
	char ip[INET6_ADDRSTRLEN];
	log_error("upload from %s: %s", conn_peer_str(c, ip, sizeof(ip)), strerror(err));
	upload_abort(c);
	if (err == ENOSPC || err == EDQUOT) {
		*detail = "no space left for uploads";
		return 507;
	}
	*detail = "cannot store upload";
	return 500;
}

int upload_data(struct conn *c, const char *p, size_t n, const char **detail)
{
	struct upload *u = c->up;
	u->bytes += n;
	if (u->bytes > cfg->max_upload) {
		*detail = too_large();
		upload_abort(c);
		return 413;
	}
	if (jc_feed(&u->jc, p, n) == JC_ERROR) {
		*detail = invalid_json(&u->jc);
		upload_abort(c);
		return 400;
	}
	memcpy(u->buf + u->buf_n, p, n);
	u->buf_n += n;
	/* Hand a full buffer to the pool; reading pauses until it is written. */
	if (u->buf_n >= UPLOAD_FLUSH)
		pool_submit(c, JOB_WRITE);
	return 0;
}

int upload_announce(struct conn *c, uint64_t more, const char **detail)
{
	struct upload *u = c->up;
	if (more > cfg->max_upload - u->bytes) { /* u->bytes <= max_upload */
		*detail = too_large();
		upload_abort(c);
		return 413;
	}
	return 0;
}

void upload_end(struct conn *c)
{
	struct upload *u = c->up;
	if (jc_finish(&u->jc) != JC_DONE) {
		const char *msg = invalid_json(&u->jc);
		upload_abort(c);
		c->body_mode = BODY_NONE;
		c->keep_alive = false;
		conn_error(c, 400, msg, NULL);
		return;
	}
	pool_submit(c, JOB_COMMIT);
}

void upload_completed(struct conn *c)
{
	struct upload *u = c->up;
	char ip[INET6_ADDRSTRLEN];
	c->io_pending = false;
	if (u->job == JOB_COMMIT && u->err == 0)
		log_info("stored upload %s (%llu bytes) from %s", u->name,
			 (unsigned long long)u->bytes, conn_peer_str(c, ip, sizeof(ip)));
	if (c->closed) {
		/* The client left: an unfinished upload leaves nothing. */
		if (u->job != JOB_COMMIT)
			discard_files(u);
		upload_free(c);
		c->next_done = c->w->graveyard;
		c->w->graveyard = c;
		return;
	}
	if (u->err) {
		const char *detail = NULL;
		int st = fail(c, u->err, &detail);
		c->body_mode = BODY_NONE;
		c->keep_alive = false;
		conn_error(c, st, detail, NULL);
		conn_resume(c);
		return;
	}
	if (u->job == JOB_WRITE) {
		c->state = CS_READ_BODY;
		worker_timer(c->w, c, TL_BODY);
		conn_resume(c);
		return;
	}
	c->body_mode = BODY_NONE;
	char body[256];
	int n = snprintf(body, sizeof(body),
			 "{\"status\":\"success\",\"message\":\"File created successfully\","
			 "\"filepath\":\"/uploads/%s\"}", u->name);
	struct obuf o;
	conn_head(c, &o, 201);
	ob_puts(&o, "Location: /uploads/");
	ob_puts(&o, u->name);
	ob_puts(&o, "\r\nContent-Type: application/json\r\nContent-Length: ");
	ob_u64(&o, (uint64_t)n);
	ob_put(&o, "\r\n", 2);
	upload_free(c);
	conn_commit(c, &o, body, (size_t)n);
	conn_resume(c);
}

void upload_abort(struct conn *c)
{
	struct upload *u = c->up;
	if (u == NULL || c->io_pending)
		return; /* the pool owns it until upload_completed */
	discard_files(u);
	upload_free(c);
}
