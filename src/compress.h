/* On-the-fly compression: the codecs (gzip over zlib, brotli over
 * libbrotlienc) as pure buffer-to-buffer functions, and one process-wide
 * cache of compressed bodies, so that a file is compressed once and then
 * served at the cost of a cached file.
 *
 * The cache is keyed by file identity (device, inode, size, modification
 * time in ns), the type and the encoding: a file changed on disk has a new
 * key and can never match its old compressed bytes; the old entry ages out
 * of the LRU. It is bounded in bytes and shared by all workers (one mutex,
 * held only for a hash lookup or a list splice, never while compressing).
 * Large files are compressed on the cache's own background thread, so the
 * event loops never wait for a codec. */
#ifndef MTHTTPD_COMPRESS_H
#define MTHTTPD_COMPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum cz_enc { CZ_GZIP = 1, CZ_BR = 2 };

struct cz_key {
	uint64_t dev, ino, size;
	int64_t mtime_ns;
	const void *type;         /* the mime_type the header was built for */
	int enc;                  /* enum cz_enc */
};

struct cz_entry {
	struct cz_entry *hnext;   /* hash chain */
	struct cz_entry *lprev, *lnext; /* LRU, most recent first */
	struct cz_key key;
	int refs;                 /* the cache's own while listed, plus each user's */
	bool pending;             /* a background job is filling it */
	bool useless;             /* compressed, it was not smaller: send identity */
	bool listed;              /* in the hash table */
	char *data;               /* the compressed body (malloc) */
	size_t n;
	struct cz_hdr *hdr;       /* a 200's fields, built once by the handler:
				   * read it with cz_hdr() */
};

/* A header block, set once and never changed: readers on other threads
 * see either NULL or the whole block. */
struct cz_hdr {
	uint16_t n;
	char b[];
};

static inline const struct cz_hdr *cz_hdr(const struct cz_entry *e)
{
	return __atomic_load_n(&e->hdr, __ATOMIC_ACQUIRE);
}

/* ---- codecs (pure) ---- */

/* Compresses in[0..n) with enc at level (gzip 1..9, br 0..11) into a new
 * malloc'd buffer *out of *out_n bytes, which the caller frees. Returns 0,
 * -ENOMEM, or -EINVAL (unknown encoding or level). An empty input gives a
 * valid stream of the empty body. */
int cz_encode(int enc, int level, const void *in, size_t n, char **out, size_t *out_n);

/* Reads the whole file fd (size k->size) and compresses it. Fails with
 * -ESTALE when the file read is not the one k names (its size or time
 * changed meanwhile), so a changing file is never cached under an old key.
 * Returns 0 or -errno; on success *out is the caller's. */
int cz_encode_fd(const struct cz_key *k, int level, int fd, char **out, size_t *out_n);

/* ---- the cache ---- */

/* Sets the cache's bound in bytes and starts its background thread.
 * Returns 0 or -errno (then cz_submit does nothing). */
int cz_init(size_t cache_bytes);

/* Stops the thread (queued jobs are dropped) and frees every entry not
 * in use. */
void cz_destroy(void);

/* The entry for k with a reference the caller must put, or NULL. An entry
 * still being filled is never returned: *pending is set instead. */
struct cz_entry *cz_find(const struct cz_key *k, bool *pending);

/* Caches data[0..n) (malloc'd; the cache takes it) as k's body, or marks
 * k useless when data is NULL. Returns the entry with a reference for the
 * caller (an earlier entry for k if one was added meanwhile), or NULL when
 * out of memory (data is freed). An entry larger than the whole cache is
 * returned unlisted and freed with its last reference. */
struct cz_entry *cz_add(const struct cz_key *k, char *data, size_t n);

/* Keeps hdr[0..n) (copied) as e's 200 fields unless it has some already. */
void cz_set_hdr(struct cz_entry *e, const char *hdr, size_t n);

/* Drops a reference. */
void cz_put(struct cz_entry *e);

/* Queues k's compression at level on the background thread, reading a
 * duplicate of fd; a later cz_find answers once it is done. Does nothing
 * when k is cached or queued already, or when the queue is full. */
void cz_submit(const struct cz_key *k, int level, int fd);

/* Bytes held by listed entries (for tests and logs). */
size_t cz_bytes(void);

#endif
