/* The open-file cache.
 *
 * Why it is safe: an entry is made only after inotify watches are placed on
 * the file and on every directory from the root down to it, and its
 * metadata and bytes are read after that, so any later change queues an
 * event. The kernel queues the event while the changing system call runs,
 * before anyone can send us a request that depends on it; the worker reads
 * the inotify descriptor before any connection of the same epoll batch
 * (server.c). Paths through symbolic links are not cached: a link's target
 * can change where no watch sees it. Any event drops the whole cache:
 * changes to a served tree are rare, and this keeps the rule simple. */
#include "fcache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "config.h"

#define FCACHE_SLOTS 1024            /* hash buckets (a power of two) */
#define FCACHE_ENTRIES 1024          /* entries at most */
#define FCACHE_BYTES (8u << 20)      /* bytes of file data at most */
#define WATCH_MASK (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | \
		    IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF)

static uint32_t hash_path(const char *p, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	return h;
}

int fcache_init(struct fcache *fc)
{
	memset(fc, 0, sizeof(*fc));
	fc->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fc->ifd < 0)
		return -errno;
	fc->tab = calloc(FCACHE_SLOTS, sizeof(*fc->tab));
	if (fc->tab == NULL) {
		close(fc->ifd);
		fc->ifd = -1;
		return -ENOMEM;
	}
	fc->mask = FCACHE_SLOTS - 1;
	return 0;
}

static void entry_free(struct fentry *e)
{
	for (int i = 0; i < FC_REPS; i++) {
		if (e->rep[i].state == FC_PRESENT)
			close(e->rep[i].fd);
		free(e->rep[i].hdr);
	}
	free(e->data);
	free(e);
}

/* Unlinks e from the table and the list; frees it once nobody uses it. */
static void drop(struct fcache *fc, struct fentry *e)
{
	struct fentry **pp = &fc->tab[e->hash & fc->mask];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->lprev)
		e->lprev->lnext = e->lnext;
	else
		fc->head = e->lnext;
	if (e->lnext)
		e->lnext->lprev = e->lprev;
	else
		fc->tail = e->lprev;
	fc->n--;
	if (e->data)
		fc->bytes -= (size_t)e->rep[FC_IDENTITY].sb.st_size;
	e->dead = true;
	fcache_put(fc, e);
}

static void drop_all(struct fcache *fc)
{
	while (fc->head)
		drop(fc, fc->head);
}

void fcache_destroy(struct fcache *fc)
{
	if (fc->tab == NULL)
		return;
	drop_all(fc);
	free(fc->tab);
	fc->tab = NULL;
	if (fc->ifd >= 0)
		close(fc->ifd);
	fc->ifd = -1;
}

struct fentry *fcache_find(struct fcache *fc, const char *rel, size_t n)
{
	if (fc->tab == NULL || fc->head == NULL)
		return NULL;
	uint32_t h = hash_path(rel, n);
	for (struct fentry *e = fc->tab[h & fc->mask]; e; e = e->hnext) {
		if (e->hash == h && e->rel_n == n && memcmp(e->rel, rel, n) == 0) {
			e->refs++;
			return e;
		}
	}
	return NULL;
}

void fcache_put(struct fcache *fc, struct fentry *e)
{
	(void)fc;
	if (--e->refs == 0)
		entry_free(e);
}

/* Watches the file and each directory from the root down to it. */
static bool watch_path(struct fcache *fc, const char *rel, size_t n)
{
	char path[PATH_MAX];
	size_t rl = strlen(cfg->root);
	if (rl + 1 + n + 1 > sizeof(path))
		return false;
	memcpy(path, cfg->root, rl);
	path[rl] = '\0';
	if (inotify_add_watch(fc->ifd, path, WATCH_MASK | IN_DONT_FOLLOW) < 0)
		return false;
	path[rl] = '/';
	memcpy(path + rl + 1, rel, n);
	path[rl + 1 + n] = '\0';
	for (size_t i = rl + 1; i <= rl + 1 + n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		char save = path[i];
		path[i] = '\0';
		int wd = inotify_add_watch(fc->ifd, path, WATCH_MASK | IN_DONT_FOLLOW);
		path[i] = save;
		if (wd < 0)
			return false;
	}
	return true;
}

static bool read_all(int fd, char *buf, size_t n)
{
	size_t off = 0;
	while (off < n) {
		ssize_t r = pread(fd, buf + off, n - off, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		off += (size_t)r;
	}
	return true;
}

static void rep_init(struct fentry *e, int fd, const struct stat *sb);

struct fentry *fcache_insert(struct fcache *fc, const char *rel, size_t n, int fd,
			     const struct stat *sb, const struct mime_type *mt)
{
	if (fc->tab == NULL || n > UINT16_MAX)
		return NULL;
	if (!watch_path(fc, rel, n))
		return NULL;
	/* Re-read after the watches: from here on every change is seen. */
	struct stat now;
	if (fstat(fd, &now) < 0 || now.st_ino != sb->st_ino || now.st_dev != sb->st_dev)
		return NULL;
	struct fentry *e = calloc(1, sizeof(*e) + n + 1);
	if (e == NULL)
		return NULL;
	bool small = now.st_size <= FCACHE_DATA_MAX && fc->bytes + (size_t)now.st_size <= FCACHE_BYTES;
	if (small && now.st_size > 0) {
		e->data = malloc((size_t)now.st_size);
		if (e->data == NULL || !read_all(fd, e->data, (size_t)now.st_size)) {
			free(e->data);
			free(e);
			return NULL;
		}
		fc->bytes += (size_t)now.st_size;
	}
	if (fc->n >= FCACHE_ENTRIES)
		drop(fc, fc->head);
	e->hash = hash_path(rel, n);
	e->refs = 2; /* the cache's and the caller's */
	e->mt = mt;
	e->rel_n = (uint16_t)n;
	memcpy(e->rel, rel, n);
	rep_init(e, fd, &now);
	struct fentry **slot = &fc->tab[e->hash & fc->mask];
	e->hnext = *slot;
	*slot = e;
	e->lprev = fc->tail;
	if (fc->tail)
		fc->tail->lnext = e;
	else
		fc->head = e;
	fc->tail = e;
	fc->n++;
	return e;
}

void fcache_rep_fill(struct fc_rep *r, int fd, const struct stat *sb)
{
	r->state = FC_PRESENT;
	r->fd = fd;
	r->sb = *sb;
	r->etag_n = (uint8_t)etag_make(r->etag, (uint64_t)sb->st_ino, (uint64_t)sb->st_size,
				       (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec,
				       r->variant);
	http_date_format(r->last_modified, sb->st_mtim.tv_sec);
}

static void rep_init(struct fentry *e, int fd, const struct stat *sb)
{
	e->rep[FC_BR].variant = 'b';
	e->rep[FC_GZ].variant = 'g';
	fcache_rep_fill(&e->rep[FC_IDENTITY], fd, sb);
}

struct fentry *fcache_temp(const char *rel, size_t n, int fd, const struct stat *sb,
			   const struct mime_type *mt)
{
	struct fentry *e = calloc(1, sizeof(*e) + n + 1);
	if (e == NULL)
		return NULL;
	e->refs = 1;
	e->dead = true;
	e->mt = mt;
	e->rel_n = (uint16_t)(n > UINT16_MAX ? UINT16_MAX : n);
	memcpy(e->rel, rel, e->rel_n);
	rep_init(e, fd, sb);
	return e;
}

void fcache_changes(struct fcache *fc)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool any = false;
	for (;;) {
		ssize_t r = read(fc->ifd, buf, sizeof(buf));
		if (r <= 0)
			break;
		for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= r;) {
			const struct inotify_event *ev = (const void *)(buf + off);
			/* A deleted file's inode goes (IN_DELETE_SELF, then
			 * IN_IGNORED) only when its last descriptor closes,
			 * i.e. when this cache drops it: the unlink itself was
			 * already reported by the watch on its directory.
			 * Counting them would empty the cache a second time,
			 * files cached since included. */
			if (ev->mask & ~(uint32_t)(IN_DELETE_SELF | IN_IGNORED))
				any = true;
			off += (ssize_t)sizeof(*ev) + ev->len;
		}
	}
	if (any)
		drop_all(fc);
}
