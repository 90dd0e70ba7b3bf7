/* A per-worker cache of files: metadata, validators, the precomputed
 * header block, and the bytes of small files or the descriptor of larger
 * ones. An entry is
 * dropped as soon as inotify reports a change to the file, to a sibling
 * that may stand for it (.br, .gz), or to a directory on its path, so a
 * changed file is never served from the cache (see fcache.c for the
 * ordering argument). Other entries stay. */
#ifndef MTHTTPD_FCACHE_H
#define MTHTTPD_FCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "cond.h"
#include "mime.h"

#define FCACHE_DATA_MAX (32 * 1024) /* files up to this size are held in memory,
					 * their descriptors closed */
#define FCACHE_ENTRIES_ALL 65536     /* entries, all workers together (or the descriptors) */
#define FCACHE_BYTES_ALL (128u << 20) /* bytes of file data, all workers together */
#define FCACHE_ADMIT_COST 32          /* hits a full cache earns per admission */
#define FCACHE_CREDIT_MAX (64 * FCACHE_ADMIT_COST) /* and saves at most */

enum { FC_IDENTITY, FC_BR, FC_GZ, FC_REPS };
enum fc_side { FC_UNKNOWN, FC_ABSENT, FC_PRESENT };

/* What a representation keeps of its file's stat: 40 bytes of the 144 of a
 * struct stat, with the same field names. */
struct fc_stat {
	off_t st_size;
	struct timespec st_mtim;
	ino_t st_ino;
	dev_t st_dev;
};

/* One representation: the file, or a precompressed sibling. */
struct fc_rep {
	int8_t state;             /* enum fc_side (the identity is always PRESENT) */
	char variant;             /* 0, 'b' or 'g' */
	uint8_t etag_n;
	int fd;                   /* -1: the identity held in memory */
	struct fc_stat sb;
	char etag[ETAG_MAX];
	char last_modified[30];   /* IMF-fixdate of sb.st_mtim, computed once */
	char *hdr;                /* the fields of a 200 from Content-Type to the
				   * validators, built at its first 200; NULL
				   * before or when Last-Modified is not fixed */
	uint16_t hdr_n;
	bool counted;             /* its fd is in fc->fds */
};

struct fc_node;
struct fentry;

struct fc_slot {
	uint32_t hash;            /* of the entry's path */
	struct fentry *e;         /* NULL: empty */
};

struct fentry {
	struct fentry *lprev, *lnext; /* the clock's order: head is the next
				   * candidate for eviction */
	struct fc_node *node;     /* the watched path's last component; NULL
				   * outside the cache */
	uint32_t hash;
	int refs;                 /* the cache's own plus each user's */
	bool dead;                /* dropped while in use */
	bool used;                /* hit since the clock last passed it */
	const struct mime_type *mt;
	char *data;               /* the identity bytes when held in memory
				   * (rep[FC_IDENTITY].fd is -1 then; NULL when
				   * empty), else NULL */
	struct fc_rep rep[FC_REPS];
	uint16_t rel_n;
	char rel[];               /* the path relative to the root */
};

struct fcache {
	int ifd;                  /* inotify descriptor, -1 when unavailable */
	struct fc_slot *tab;      /* entries by path (fcache.c: tab_remove) */
	unsigned mask;
	struct fentry *head, *tail;
	unsigned n, n_max;        /* entries, and at most (fcache.c: sizing) */
	unsigned fds, max;        /* descriptors the entries hold, and at most
				   * (fcache.c: sizing) */
	size_t bytes, bytes_max;  /* file bytes held in memory, and at most */
	struct fc_node **ntab;    /* watched path components by (parent, name) */
	struct fc_node **wtab;    /* the same by watch descriptor */
	unsigned nmask;
	unsigned nodes;           /* path components held (each one watch) */
	uint32_t *seen;           /* admission: hashes of paths missed once */
	unsigned seen_mask;
	unsigned credit;          /* admission to a full cache: hits earned,
				   * FCACHE_ADMIT_COST spent per admission */
	int64_t watch_retry_ns;   /* after ENOSPC: no new watch before this */
	struct metrics *m;        /* counters (overflows), or NULL */
	const char *root;         /* the document root's resolved path */
	int root_fd;              /* and its descriptor (owned by the caller) */
};

/* Sets up an empty cache sized for this worker (RLIMIT_NOFILE and
 * cfg->threads). Returns 0 or -errno (then the cache just stays empty and
 * every request opens its file). */
int fcache_init(struct fcache *fc);
void fcache_destroy(struct fcache *fc);

/* Serves from another document root from now on (SIGHUP re-resolved it):
 * drops every entry and watch. path and fd stay the caller's and must
 * outlive their use here. */
void fcache_set_root(struct fcache *fc, const char *path, int fd);

/* The entry for rel[0..n), with a reference the caller must put, or NULL. */
struct fentry *fcache_find(struct fcache *fc, const char *rel, size_t n);

/* Caches the regular file fd (opened beneath the root without crossing a
 * symbolic link, described by sb) as rel. On success the cache owns fd (and
 * may have closed it, holding the bytes instead) and the returned entry carries a reference for the caller; on NULL the caller
 * still owns fd. NULL also means "not admitted": a path is cached at its
 * second miss, so files asked for once never evict hot ones. */
struct fentry *fcache_insert(struct fcache *fc, const char *rel, size_t n, int fd,
			     const struct stat *sb, const struct mime_type *mt);

/* An entry outside the cache, for a file that cannot be cached (reached
 * through a symbolic link, or no inotify): owns fd, one reference for the
 * caller. NULL when out of memory (the caller still owns fd). */
struct fentry *fcache_temp(const char *rel, size_t n, int fd, const struct stat *sb,
			   const struct mime_type *mt);

/* Makes r describe the open file fd (with metadata sb) as PRESENT: keeps
 * both, and computes the validators once (ETag with r->variant,
 * Last-Modified). */
void fcache_rep_fill(struct fc_rep *r, int fd, const struct stat *sb);

/* fcache_rep_fill for r, a sibling representation of e (as the caller
 * holds e, it stays usable whatever happens here): when e is cached, fd
 * counts against the cache's descriptors, and cold entries make room. */
void fcache_rep_add(struct fcache *fc, struct fentry *e, struct fc_rep *r, int fd,
		    const struct stat *sb);

/* The bytes of rep, a representation of e, when the cache holds them in
 * memory ("" when empty); NULL when they are read from rep->fd. */
static inline const char *fentry_bytes(const struct fentry *e, const struct fc_rep *rep)
{
	if (rep != &e->rep[FC_IDENTITY] || rep->fd >= 0)
		return NULL;
	return e->data ? e->data : "";
}

/* Drops a reference. */
void fcache_put(struct fcache *fc, struct fentry *e);

/* Reads pending inotify events and drops the entries they touch; on a
 * queue overflow, every entry. One read(2) when nothing is pending; may be
 * called at any time. */
void fcache_changes(struct fcache *fc);

/* Drops entries that nobody is using and that hold descriptors, coldest
 * first, to give those back (on EMFILE or ENFILE): a quarter of the
 * entries, or 16 if that is more, or as many such as there are if fewer.
 * Entries held in memory stay. Returns how many were dropped (0: nothing
 * to give back). */
int fcache_shed(struct fcache *fc);

#endif
