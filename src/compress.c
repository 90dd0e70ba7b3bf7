/* gzip and brotli, and the cache of compressed bodies (see compress.h). */
#include "compress.h"

#include <brotli/encode.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---- codecs ---- */

static int gzip_encode(int level, const void *in, size_t n, char **out, size_t *out_n)
{
	if (level < 1 || level > 9)
		return -EINVAL;
	z_stream z;
	memset(&z, 0, sizeof(z));
	/* windowBits 15 + 16: a gzip wrapper, which every client accepts
	 * (raw "deflate" is the one browsers disagree about). */
	if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	size_t cap = deflateBound(&z, (uLong)n) + 32;
	char *buf = malloc(cap);
	if (buf == NULL) {
		deflateEnd(&z);
		return -ENOMEM;
	}
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)buf;
	z.avail_out = (uInt)cap;
	int rc = deflate(&z, Z_FINISH);
	size_t done = cap - z.avail_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*out_n = done;
	return 0;
}

static int br_encode(int level, const void *in, size_t n, char **out, size_t *out_n)
{
	if (level < BROTLI_MIN_QUALITY || level > BROTLI_MAX_QUALITY)
		return -EINVAL;
	size_t cap = BrotliEncoderMaxCompressedSize(n);
	if (cap == 0)
		cap = n + 1024; /* only for inputs near SIZE_MAX: cannot happen here */
	char *buf = malloc(cap);
	if (buf == NULL)
		return -ENOMEM;
	size_t done = cap;
	if (!BrotliEncoderCompress(level, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, n,
				   (const uint8_t *)in, &done, (uint8_t *)buf)) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*out_n = done;
	return 0;
}

int cz_encode(int enc, int level, const void *in, size_t n, char **out, size_t *out_n)
{
	/* zlib counts input in uInt: larger inputs are not served compressed. */
	if (n > UINT32_MAX / 2)
		return -EINVAL;
	if (enc == CZ_GZIP)
		return gzip_encode(level, in, n, out, out_n);
	if (enc == CZ_BR)
		return br_encode(level, in, n, out, out_n);
	return -EINVAL;
}

static bool same_file(const struct stat *sb, const struct cz_key *k)
{
	return (uint64_t)sb->st_dev == k->dev && (uint64_t)sb->st_ino == k->ino &&
	       (uint64_t)sb->st_size == k->size &&
	       (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec == k->mtime_ns;
}

int cz_encode_fd(const struct cz_key *k, int level, int fd, char **out, size_t *out_n)
{
	if (k->size > UINT32_MAX / 2)
		return -EINVAL;
	size_t n = (size_t)k->size;
	char *in = malloc(n ? n : 1);
	if (in == NULL)
		return -ENOMEM;
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, in + got, n - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(in);
			return r < 0 ? -errno : -ESTALE; /* shrank */
		}
		got += (size_t)r;
	}
	/* Checked after the read: bytes read from a file that changed meanwhile
	 * carry a newer time than k's, and are not k's. */
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !same_file(&sb, k)) {
		free(in);
		return -ESTALE;
	}
	int rc = cz_encode(k->enc, level, in, n, out, out_n);
	free(in);
	return rc;
}

/* ---- the cache ---- */

#define CZ_BUCKETS 4096       /* a power of two */
#define CZ_QUEUE_MAX 64       /* background jobs waiting at most */
#define CZ_ENTRY_COST 256     /* bytes an entry costs beyond its body */

struct cz_job {
	struct cz_job *next;
	struct cz_entry *e;   /* the pending entry (one reference) */
	int fd;
	int level;
};

static pthread_mutex_t cz_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cz_cond = PTHREAD_COND_INITIALIZER;
static struct cz_entry *cz_tab[CZ_BUCKETS];
static struct cz_entry *lru_head, *lru_tail;
static size_t cz_used, cz_cap = 64u << 20;
static struct cz_job *job_head, *job_tail;
static int job_n;
static bool thread_up, thread_stop;
static pthread_t cz_tid;

static uint32_t key_hash(const struct cz_key *k)
{
	uint64_t h = k->ino * 0x9e3779b97f4a7c15ull;
	h ^= k->dev + (h << 6) + (h >> 2);
	h ^= (uint64_t)k->mtime_ns * 0xff51afd7ed558ccdull;
	h ^= k->size + (uint64_t)k->enc * 0xc4ceb9fe1a85ec53ull + (uint64_t)(uintptr_t)k->type;
	h ^= h >> 33;
	return (uint32_t)h & (CZ_BUCKETS - 1);
}

static bool key_eq(const struct cz_key *a, const struct cz_key *b)
{
	return a->ino == b->ino && a->dev == b->dev && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns && a->enc == b->enc && a->type == b->type;
}

static size_t cost(const struct cz_entry *e)
{
	return e->n + (e->hdr ? e->hdr->n : 0) + CZ_ENTRY_COST;
}

static void entry_free(struct cz_entry *e)
{
	free(e->data);
	free(e->hdr);
	free(e);
}

/* Locked: drops e's last reference if it was. */
static void unref_locked(struct cz_entry *e)
{
	if (--e->refs == 0)
		entry_free(e);
}

static void lru_unlink(struct cz_entry *e)
{
	if (e->lprev)
		e->lprev->lnext = e->lnext;
	else if (lru_head == e)
		lru_head = e->lnext;
	if (e->lnext)
		e->lnext->lprev = e->lprev;
	else if (lru_tail == e)
		lru_tail = e->lprev;
	e->lprev = e->lnext = NULL;
}

static void lru_push(struct cz_entry *e)
{
	e->lprev = NULL;
	e->lnext = lru_head;
	if (lru_head)
		lru_head->lprev = e;
	lru_head = e;
	if (lru_tail == NULL)
		lru_tail = e;
}

/* Locked: takes e out of the table (and the LRU, and the byte count) and
 * drops the cache's reference. */
static void unlist_locked(struct cz_entry *e)
{
	struct cz_entry **pp = &cz_tab[key_hash(&e->key)];
	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	e->hnext = NULL;
	if (!e->pending) {
		lru_unlink(e);
		cz_used -= cost(e);
	}
	e->listed = false;
	unref_locked(e);
}

static void evict_locked(void)
{
	while (cz_used > cz_cap && lru_tail)
		unlist_locked(lru_tail);
}

static struct cz_entry *lookup_locked(const struct cz_key *k)
{
	for (struct cz_entry *e = cz_tab[key_hash(k)]; e; e = e->hnext)
		if (key_eq(&e->key, k))
			return e;
	return NULL;
}

static void link_locked(struct cz_entry *e)
{
	uint32_t h = key_hash(&e->key);
	e->hnext = cz_tab[h];
	cz_tab[h] = e;
	e->listed = true;
	e->refs++;
}

struct cz_entry *cz_find(const struct cz_key *k, bool *pending)
{
	*pending = false;
	pthread_mutex_lock(&cz_lock);
	struct cz_entry *e = lookup_locked(k);
	if (e && e->pending) {
		*pending = true;
		e = NULL;
	} else if (e) {
		e->refs++;
		if (lru_head != e) {
			lru_unlink(e);
			lru_push(e);
		}
	}
	pthread_mutex_unlock(&cz_lock);
	return e;
}

/* Locked: makes the (listed, pending) entry e ready with data, or takes it
 * out when data is NULL and not because it was useless. */
static void fill_locked(struct cz_entry *e, char *data, size_t n, bool useless)
{
	e->data = data;
	e->n = data ? n : 0;
	e->useless = useless;
	e->pending = false;
	if (!e->listed)
		return;
	if (cost(e) > cz_cap) {
		e->pending = true; /* not counted: unlist_locked must not uncount it */
		unlist_locked(e);
		e->pending = false;
		return;
	}
	lru_push(e);
	cz_used += cost(e);
	evict_locked();
}

struct cz_entry *cz_add(const struct cz_key *k, char *data, size_t n)
{
	struct cz_entry *e = calloc(1, sizeof(*e));
	if (e == NULL) {
		free(data);
		return NULL;
	}
	e->key = *k;
	e->refs = 1;
	e->pending = true;
	pthread_mutex_lock(&cz_lock);
	struct cz_entry *old = lookup_locked(k);
	if (old && !old->pending) {
		old->refs++;
		pthread_mutex_unlock(&cz_lock);
		free(data);
		free(e);
		return old;
	}
	if (old)
		unlist_locked(old); /* the background job finds it unlisted and drops it */
	link_locked(e);
	fill_locked(e, data, n, data == NULL);
	pthread_mutex_unlock(&cz_lock);
	return e;
}

void cz_set_hdr(struct cz_entry *e, const char *hdr, size_t n)
{
	if (n > UINT16_MAX)
		return;
	struct cz_hdr *copy = malloc(sizeof(*copy) + n);
	if (copy == NULL)
		return;
	copy->n = (uint16_t)n;
	memcpy(copy->b, hdr, n);
	pthread_mutex_lock(&cz_lock);
	if (e->hdr == NULL) {
		bool counted = e->listed && !e->pending;
		if (counted)
			cz_used -= cost(e);
		__atomic_store_n(&e->hdr, copy, __ATOMIC_RELEASE);
		copy = NULL;
		if (counted) {
			cz_used += cost(e);
			evict_locked();
		}
	}
	pthread_mutex_unlock(&cz_lock);
	free(copy);
}

void cz_put(struct cz_entry *e)
{
	if (e == NULL)
		return;
	pthread_mutex_lock(&cz_lock);
	unref_locked(e);
	pthread_mutex_unlock(&cz_lock);
}

size_t cz_bytes(void)
{
	pthread_mutex_lock(&cz_lock);
	size_t n = cz_used;
	pthread_mutex_unlock(&cz_lock);
	return n;
}

static void run_job(struct cz_job *j)
{
	char *out = NULL;
	size_t out_n = 0;
	int rc = cz_encode_fd(&j->e->key, j->level, j->fd, &out, &out_n);
	close(j->fd);
	bool useless = rc == 0 && out_n >= j->e->key.size;
	if (rc < 0 || useless) {
		free(out);
		out = NULL;
	}
	pthread_mutex_lock(&cz_lock);
	if (rc < 0 && j->e->listed) {
		/* Not cached: a later request tries again. */
		unlist_locked(j->e);
	} else {
		fill_locked(j->e, out, out_n, useless);
		out = NULL;
	}
	unref_locked(j->e);
	pthread_mutex_unlock(&cz_lock);
	free(out);
	free(j);
}

static void *cz_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&cz_lock);
	for (;;) {
		while (job_head == NULL && !thread_stop)
			pthread_cond_wait(&cz_cond, &cz_lock);
		if (thread_stop)
			break;
		struct cz_job *j = job_head;
		job_head = j->next;
		if (job_head == NULL)
			job_tail = NULL;
		job_n--;
		pthread_mutex_unlock(&cz_lock);
		run_job(j);
		pthread_mutex_lock(&cz_lock);
	}
	pthread_mutex_unlock(&cz_lock);
	return NULL;
}

int cz_init(size_t cache_bytes)
{
	cz_cap = cache_bytes;
	thread_stop = false;
	int rc = pthread_create(&cz_tid, NULL, cz_main, NULL);
	if (rc)
		return -rc;
	thread_up = true;
	return 0;
}

void cz_destroy(void)
{
	if (thread_up) {
		pthread_mutex_lock(&cz_lock);
		thread_stop = true;
		pthread_cond_broadcast(&cz_cond);
		pthread_mutex_unlock(&cz_lock);
		pthread_join(cz_tid, NULL);
		thread_up = false;
	}
	pthread_mutex_lock(&cz_lock);
	while (job_head) {
		struct cz_job *j = job_head;
		job_head = j->next;
		close(j->fd);
		if (j->e->listed)
			unlist_locked(j->e);
		unref_locked(j->e);
		free(j);
	}
	job_tail = NULL;
	job_n = 0;
	for (size_t i = 0; i < CZ_BUCKETS; i++)
		while (cz_tab[i])
			unlist_locked(cz_tab[i]);
	pthread_mutex_unlock(&cz_lock);
}

void cz_submit(const struct cz_key *k, int level, int fd)
{
	if (!thread_up)
		return;
	struct cz_job *j = malloc(sizeof(*j));
	struct cz_entry *e = calloc(1, sizeof(*e));
	int dfd = -1;
	if (j == NULL || e == NULL || (dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		free(j);
		free(e);
		return;
	}
	e->key = *k;
	e->pending = true;
	e->refs = 1; /* the job's */
	j->e = e;
	j->fd = dfd;
	j->level = level;
	j->next = NULL;
	pthread_mutex_lock(&cz_lock);
	if (job_n >= CZ_QUEUE_MAX || lookup_locked(k)) {
		pthread_mutex_unlock(&cz_lock);
		close(dfd);
		free(j);
		free(e);
		return;
	}
	link_locked(e);
	if (job_tail)
		job_tail->next = j;
	else
		job_head = j;
	job_tail = j;
	job_n++;
	pthread_cond_signal(&cz_cond);
	pthread_mutex_unlock(&cz_lock);
}
