/* The open-file cache.
 *
 * Why it is safe: an entry is made only after inotify watches are placed on
 * every directory from the root down to the file and on the file itself,
 * and only if the path, looked up again after that (fstatat), still names
 * the inode that was opened; its metadata and bytes are read after that,
 * so any later change queues an event. The kernel queues the event while
 * the changing system call runs, before anyone can send us a request that
 * depends on it, and the worker reads the inotify descriptor before
 * answering such a request (server.c). Paths through symbolic links are
 * not cached: a link's target can change where no watch sees it.
 *
 * Narrow invalidation: the watched path components form a tree of nodes
 * (struct fc_node), each counting the entries at or under it, found by
 * (parent, name) and by watch descriptor. An event that names a child of a
 * watched directory (created, deleted, moved, written, its attributes
 * changed) drops the entries at or under that child, and the entry whose
 * .br or .gz sibling it is; an event on a watched file or directory itself
 * (written, attributes, deleted, moved, its watch gone) drops everything
 * at or under it; a queue overflow drops everything. So a stream of files
 * written where nothing is cached (uploads, logs) costs the cached ones
 * nothing. A component is watched while an entry lies at or under it: the
 * watch is placed with the first such entry and removed with the last.
 *
 * Admission: a path is cached at its second miss (its hash is remembered
 * at the first, in a direct-mapped table that forgets by overwriting), so
 * a scan of files asked for once costs each of them only openat2 + fstat +
 * close, places no watch, and evicts nothing. Eviction is a clock: a hit
 * sets a bit, and the hand spares an entry once per bit. Once the cache is
 * full, a newcomer must find its victim at once: if the entry under the
 * hand was hit since the hand last passed, it is spared and the newcomer
 * is refused (served, then closed), and the hand moves one step. So the
 * hand moves once per second miss. A hot entry is always spared; entries
 * not hit in a turn of the hand make room.
 *
 * Upkeep bounded by use: an admission to a full cache costs far more
 * than a hit saves (a file watch placed, and later removed with the
 * IN_IGNORED event that follows, a second fstatat, a look-up, a copy, an
 * entry made and freed, against an openat2, fstat, pread and close), so
 * a full cache admits one newcomer per FCACHE_ADMIT_COST hits, from a
 * credit that hits fill up to FCACHE_CREDIT_MAX. Where hits are spread
 * thinly over far more files than fit (uniform random GETs over a large
 * tree) any full cache hits as often as another, and churning it only
 * costs. Measured there (200,000 files, paired 3-s runs against a build
 * that caches nothing): one admission per 4 hits cost 1.05 x the CPU per
 * request of no cache at all, one per 32 hits 0.93 x. Where the cache is
 * hit, the credit is always there; a new hot set comes in at the pace of
 * the hits, faster as it is admitted. A path refused for want of credit
 * stays remembered, so it comes in at its next miss with credit.
 *
 * Memory, not descriptors, for small files: a file whose bytes are read
 * into the entry (FCACHE_DATA_MAX or less, while the byte budget lasts)
 * has its descriptor closed at once; the watches keep it fresh, and the
 * bytes serve every body and range. So the cache holds many more small
 * files than descriptors would allow, and a hit on one costs no system
 * call but the send.
 *
 * Sizing: descriptors and entries are both bounded. The descriptors (of
 * larger files, and of the .br and .gz siblings found): the caches of all
 * workers together hold at most half of RLIMIT_NOFILE, the other half
 * being left for connections, upload files and logs. So a worker holds at
 * most
 *     RLIMIT_NOFILE / (2 * threads)
 * descriptors, and never more than FCACHE_FDS_MAX; with a limit of 1,024
 * and 4 threads that is 128 a worker. Entries: FCACHE_ENTRIES_ALL (65,536,
 * fcache.h) shared out between the workers, or the descriptor bound when
 * that is more. Uniform random GETs over 200,000 files hit a third of the
 * time with 65,536, a sixth with 32,768 (0.92 x the CPU per request,
 * paired runs); an entry is about 0.9 KiB besides its bytes. A
 * newcomer that keeps its descriptor, with none free, evicts an entry
 * that holds one (evict_fd: the hand passes memory entries over). A
 * sibling found for a cached entry makes room for its descriptor at once
 * (fcache_rep_add). On EMFILE all the same, the caller sheds cold entries
 * that hold descriptors (fcache_shed) and retries once. File bytes in
 * memory: at most FCACHE_BYTES_ALL (128 MiB) shared out between the
 * workers, and never less than FCACHE_BYTES_MIN a worker. */
#include "fcache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "metrics.h"
#include "log.h"

#define FCACHE_FDS_MAX 16384      /* descriptors a worker at most, whatever the limit */
#define FCACHE_BYTES_MIN (8u << 20)   /* ... but at least this much a worker */
#define WATCH_RETRY_NS 1000000000     /* after ENOSPC, no new watch for 1 s */
#define WATCH_MASK (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | \
		    IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF)

/* One watched path component: the root (no parent, empty name), a
 * directory, or a cached file. It exists while count > 0, where count is
 * 1 for its own entry plus the counts of its children. */
struct fc_node {
	struct fc_node *hnext;        /* fc->ntab chain */
	struct fc_node *wnext;        /* fc->wtab chain */
	struct fc_node *parent;
	struct fc_node *child;        /* first child */
	struct fc_node *sprev, *snext; /* siblings */
	struct fentry *entry;         /* the entry whose path ends here */
	uint32_t hash;
	int wd;                       /* -1 until its watch is placed */
	unsigned count;
	uint16_t name_n;
	char name[];
};

static uint32_t hash_path(const char *p, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	return h;
}

static uint32_t hash_node(const struct fc_node *parent, const char *name, size_t n)
{
	uint64_t p = (uint64_t)(uintptr_t)parent;
	return hash_path(name, n) ^ (uint32_t)((p >> 4) * 0x9e3779b1u);
}

static uint32_t hash_wd(int wd)
{
	return (uint32_t)wd * 0x9e3779b1u >> 7;
}

static unsigned pow2_at_least(unsigned n, unsigned min)
{
	unsigned p = min;
	while (p < n)
		p <<= 1;
	return p;
}

static uint64_t worker_threads(void)
{
	return cfg != NULL && cfg->threads > 0 ? (uint64_t)cfg->threads : 1;
}

/* Descriptors a worker's entries may hold: see "Sizing" above. */
static unsigned max_fds(void)
{
	struct rlimit rl;
	uint64_t nofile = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		nofile = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX / 2 : (uint64_t)rl.rlim_cur;
	uint64_t m = nofile / (2 * worker_threads());
	return m > FCACHE_FDS_MAX ? FCACHE_FDS_MAX : (unsigned)m;
}

int fcache_init(struct fcache *fc)
{
	memset(fc, 0, sizeof(*fc));
	fc->root = cfg->root;
	fc->root_fd = cfg->root_fd;
	fc->max = max_fds();
	fc->n_max = FCACHE_ENTRIES_ALL / (unsigned)worker_threads();
	if (fc->n_max < fc->max)
		fc->n_max = fc->max;
	fc->credit = FCACHE_CREDIT_MAX;
	fc->bytes_max = FCACHE_BYTES_ALL / worker_threads();
	if (fc->bytes_max < FCACHE_BYTES_MIN)
		fc->bytes_max = FCACHE_BYTES_MIN;
	fc->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fc->ifd < 0)
		return -errno;
	unsigned slots = pow2_at_least(2 * fc->n_max, 32); /* at most half full */
	unsigned nslots = pow2_at_least(2 * fc->n_max, 32);
	fc->tab = calloc(slots, sizeof(*fc->tab));
	fc->ntab = calloc(nslots, sizeof(*fc->ntab));
	fc->wtab = calloc(nslots, sizeof(*fc->wtab));
	fc->seen = calloc(nslots, sizeof(*fc->seen));
	if (fc->tab == NULL || fc->ntab == NULL || fc->wtab == NULL || fc->seen == NULL) {
		fcache_destroy(fc);
		return -ENOMEM;
	}
	fc->mask = slots - 1;
	fc->nmask = nslots - 1;
	fc->seen_mask = nslots - 1;
	return 0;
}

/* ---- path nodes and their watches ---- */

static struct fc_node *node_find(struct fcache *fc, const struct fc_node *parent,
				 const char *name, size_t n)
{
	uint32_t h = hash_node(parent, name, n);
	for (struct fc_node *x = fc->ntab[h & fc->nmask]; x; x = x->hnext)
		if (x->hash == h && x->parent == parent && x->name_n == n &&
		    memcmp(x->name, name, n) == 0)
			return x;
	return NULL;
}

/* The node for name under parent, made (unwatched, count 0) when missing;
 * NULL when out of memory. */
static struct fc_node *node_get(struct fcache *fc, struct fc_node *parent,
				const char *name, size_t n)
{
	struct fc_node *x = node_find(fc, parent, name, n);
	if (x != NULL)
		return x;
	x = calloc(1, sizeof(*x) + n + 1);
	if (x == NULL)
		return NULL;
	x->hash = hash_node(parent, name, n);
	x->parent = parent;
	x->wd = -1;
	x->name_n = (uint16_t)n;
	memcpy(x->name, name, n);
	struct fc_node **slot = &fc->ntab[x->hash & fc->nmask];
	x->hnext = *slot;
	*slot = x;
	if (parent != NULL) {
		x->snext = parent->child;
		if (parent->child)
			parent->child->sprev = x;
		parent->child = x;
	}
	fc->nodes++;
	return x;
}

static struct fc_node *wd_first(struct fcache *fc, int wd)
{
	for (struct fc_node *x = fc->wtab[hash_wd(wd) & fc->nmask]; x; x = x->wnext)
		if (x->wd == wd)
			return x;
	return NULL;
}

/* Frees x, which has no entry and no child, and removes its watch unless
 * another node shares it (hard links of one inode share one watch). */
static void node_free(struct fcache *fc, struct fc_node *x)
{
	struct fc_node **pp = &fc->ntab[x->hash & fc->nmask];
	while (*pp != x)
		pp = &(*pp)->hnext;
	*pp = x->hnext;
	if (x->parent != NULL) {
		if (x->sprev)
			x->sprev->snext = x->snext;
		else
			x->parent->child = x->snext;
		if (x->snext)
			x->snext->sprev = x->sprev;
	}
	if (x->wd >= 0) {
		pp = &fc->wtab[hash_wd(x->wd) & fc->nmask];
		while (*pp != x)
			pp = &(*pp)->wnext;
		*pp = x->wnext;
		/* The kernel may have removed it already (the inode is gone):
		 * then this fails with EINVAL, which is harmless. */
		if (fc->ifd >= 0 && wd_first(fc, x->wd) == NULL)
			inotify_rm_watch(fc->ifd, x->wd);
	}
	fc->nodes--;
	free(x);
}

/* Frees the nodes from x upwards that nothing counts (a failed insert's). */
static void node_prune(struct fcache *fc, struct fc_node *x)
{
	while (x != NULL && x->count == 0 && x->child == NULL && x->entry == NULL) {
		struct fc_node *p = x->parent;
		node_free(fc, x);
		x = p;
	}
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Places x's watch on path. Returns false when it cannot be placed. */
static bool node_watch(struct fcache *fc, struct fc_node *x, const char *path)
{
	if (x->wd >= 0)
		return true;
	int wd = inotify_add_watch(fc->ifd, path, WATCH_MASK | IN_DONT_FOLLOW);
	if (wd < 0) {
		if (errno == ENOSPC) {
			/* The per-user watch limit: serve without caching
			 * more, and try again a second later. */
			static atomic_bool warned; /* once, not once per worker */
			fc->watch_retry_ns = now_ns() + WATCH_RETRY_NS;
			if (!atomic_exchange(&warned, true))
				log_warn("inotify watch limit reached (fs.inotify.max_user_watches): "
					 "files not yet cached are opened on every request");
		}
		return false;
	}
	x->wd = wd;
	struct fc_node **slot = &fc->wtab[hash_wd(wd) & fc->nmask];
	x->wnext = *slot;
	*slot = x;
	return true;
}

/* Makes and watches the nodes of rel[0..n), root first, then each
 * directory down, then the file. Returns the file's node (count not yet
 * taken), or NULL (and nothing is left behind). */
static struct fc_node *watch_path(struct fcache *fc, const char *rel, size_t n)
{
	char path[PATH_MAX];
	size_t rl = strlen(fc->root);
	if (rl + 1 + n + 1 > sizeof(path))
		return NULL;
	memcpy(path, fc->root, rl);
	path[rl] = '/';
	memcpy(path + rl + 1, rel, n);
	path[rl + 1 + n] = '\0';
	struct fc_node *x = node_get(fc, NULL, "", 0);
	if (x == NULL)
		return NULL;
	path[rl] = '\0';
	bool ok = node_watch(fc, x, path);
	path[rl] = '/';
	for (size_t start = 0; ok && start < n;) {
		const char *slash = memchr(rel + start, '/', n - start);
		size_t end = slash ? (size_t)(slash - rel) : n;
		struct fc_node *y = node_get(fc, x, rel + start, end - start);
		if (y == NULL) {
			ok = false;
			break;
		}
		x = y;
		char save = path[rl + 1 + end];
		path[rl + 1 + end] = '\0';
		ok = node_watch(fc, x, path);
		path[rl + 1 + end] = save;
		start = end + 1;
	}
	if (!ok) {
		node_prune(fc, x);
		return NULL;
	}
	return x;
}

/* ---- entries ---- */

static void entry_free(struct fentry *e)
{
	for (int i = 0; i < FC_REPS; i++) {
		if (e->rep[i].state == FC_PRESENT && e->rep[i].fd >= 0)
			close(e->rep[i].fd);
		free(e->rep[i].hdr);
	}
	free(e->data);
	free(e);
}

/* The table of entries by path: open addressing, linear probing, at most
 * half full, each slot with its path's hash, so that a miss (most requests
 * over a large tree) reads one or two slots and no entry. */
static void tab_insert(struct fcache *fc, struct fentry *e)
{
	unsigned i = e->hash & fc->mask;
	while (fc->tab[i].e != NULL)
		i = (i + 1) & fc->mask;
	fc->tab[i].hash = e->hash;
	fc->tab[i].e = e;
}

static void tab_remove(struct fcache *fc, struct fentry *e)
{
	unsigned m = fc->mask, i = e->hash & m;
	while (fc->tab[i].e != e)
		i = (i + 1) & m;
	/* Backward shift: a later slot of the run moves into the hole unless
	 * its home lies cyclically in (hole, slot]. */
	for (unsigned j = (i + 1) & m; fc->tab[j].e != NULL; j = (j + 1) & m) {
		unsigned home = fc->tab[j].hash & m;
		if (((j - home) & m) >= ((j - i) & m)) {
			fc->tab[i] = fc->tab[j];
			i = j;
		}
	}
	fc->tab[i].e = NULL;
}

static void list_unlink(struct fcache *fc, struct fentry *e)
{
	if (e->lprev)
		e->lprev->lnext = e->lnext;
	else
		fc->head = e->lnext;
	if (e->lnext)
		e->lnext->lprev = e->lprev;
	else
		fc->tail = e->lprev;
}

static void list_append(struct fcache *fc, struct fentry *e)
{
	e->lnext = NULL;
	e->lprev = fc->tail;
	if (fc->tail)
		fc->tail->lnext = e;
	else
		fc->head = e;
	fc->tail = e;
}

/* Unlinks e from the table, the clock and its nodes (whose watches go with
 * the last entry under them); frees it once nobody uses it. */
static void drop(struct fcache *fc, struct fentry *e)
{
	tab_remove(fc, e);
	list_unlink(fc, e);
	fc->n--;
	for (int i = 0; i < FC_REPS; i++) {
		if (e->rep[i].counted)
			fc->fds--;
		e->rep[i].counted = false;
	}
	if (e->data)
		fc->bytes -= (size_t)e->rep[FC_IDENTITY].sb.st_size;
	struct fc_node *x = e->node;
	e->node = NULL;
	x->entry = NULL;
	while (x != NULL) {
		struct fc_node *p = x->parent;
		if (--x->count == 0)
			node_free(fc, x);
		x = p;
	}
	e->dead = true;
	fcache_put(fc, e);
}

/* Drops e because its file changed: its path is admitted again at its next
 * miss, as it was wanted. */
static void invalidate(struct fcache *fc, struct fentry *e)
{
	fc->seen[e->hash & fc->seen_mask] = e->hash;
	drop(fc, e);
}

/* Drops every entry at or under x; x itself is freed with the last. */
static void drop_under(struct fcache *fc, struct fc_node *x)
{
	for (unsigned k = x->count; k > 0; k--) {
		struct fc_node *y = x;
		while (y->entry == NULL)
			y = y->child; /* each child counts at least one entry */
		invalidate(fc, y->entry);
	}
}

static void drop_all(struct fcache *fc)
{
	while (fc->head)
		drop(fc, fc->head);
}

void fcache_set_root(struct fcache *fc, const char *path, int fd)
{
	if (fc->tab)
		drop_all(fc);
	fc->root = path;
	fc->root_fd = fd;
}

void fcache_destroy(struct fcache *fc)
{
	if (fc->ifd >= 0)
		close(fc->ifd); /* the watches go with it */
	fc->ifd = -1;
	if (fc->tab != NULL)
		drop_all(fc);
	free(fc->tab);
	free(fc->ntab);
	free(fc->wtab);
	free(fc->seen);
	fc->tab = NULL;
	fc->ntab = NULL;
	fc->wtab = NULL;
	fc->seen = NULL;
}

struct fentry *fcache_find(struct fcache *fc, const char *rel, size_t n)
{
	if (fc->tab == NULL || fc->head == NULL)
		return NULL;
	uint32_t h = hash_path(rel, n);
	for (unsigned i = h & fc->mask; fc->tab[i].e != NULL; i = (i + 1) & fc->mask) {
		struct fentry *e = fc->tab[i].e;
		if (fc->tab[i].hash == h && e->rel_n == n && memcmp(e->rel, rel, n) == 0) {
			e->refs++;
			e->used = true;
			if (fc->credit < FCACHE_CREDIT_MAX)
				fc->credit++;
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

/* The clock: the hand spares an entry hit since it last passed. */
static void evict_one(struct fcache *fc)
{
	while (fc->head->used) {
		struct fentry *e = fc->head;
		e->used = false;
		list_unlink(fc, e);
		list_append(fc, e);
	}
	drop(fc, fc->head);
}

static bool holds_fd(const struct fentry *e)
{
	for (int i = 0; i < FC_REPS; i++)
		if (e->rep[i].counted)
			return true;
	return false;
}

/* Evicts an entry holding a descriptor (some does: fc->fds > 0). The hand
 * passes entries held in memory over, moving them behind it with their
 * bits kept, so the next such eviction does not walk them again; an entry
 * with a descriptor is spared once per bit, as in evict_one. */
static void evict_fd(struct fcache *fc)
{
	for (unsigned k = 0; fc->head != NULL; k++) {
		struct fentry *e = fc->head;
		bool fd = holds_fd(e);
		if (fd && (!e->used || k > 2 * fc->n)) {
			drop(fc, e);
			return;
		}
		if (fd)
			e->used = false;
		list_unlink(fc, e);
		list_append(fc, e);
	}
}

int fcache_shed(struct fcache *fc)
{
	if (fc->tab == NULL)
		return 0;
	unsigned want = fc->n / 4 < 16 ? 16 : fc->n / 4;
	int dropped = 0;
	for (struct fentry *e = fc->head; e != NULL && (unsigned)dropped < want;) {
		struct fentry *next = e->lnext;
		if (e->refs == 1 && holds_fd(e)) {
			drop(fc, e);
			dropped++;
		}
		e = next;
	}
	return dropped;
}

/* Full, and a newcomer asks in: true when the entry under the hand may
 * make room for it (not hit since the hand last passed); else the hand
 * spares that entry, moves on one step, and the newcomer is refused. */
static bool victim_ready(struct fcache *fc)
{
	struct fentry *e = fc->head;
	if (e == NULL || !e->used)
		return true;
	e->used = false;
	list_unlink(fc, e);
	list_append(fc, e);
	return false;
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

/* The second-miss rule: true when rel's hash was seen at an earlier miss
 * (then it is forgotten), else remembers it. */
static bool admit(struct fcache *fc, uint32_t h)
{
	uint32_t *slot = &fc->seen[h & fc->seen_mask];
	if (*slot == h && h != 0) {
		*slot = 0;
		return true;
	}
	*slot = h;
	return false;
}

struct fentry *fcache_insert(struct fcache *fc, const char *rel, size_t n, int fd,
			     const struct stat *sb, const struct mime_type *mt)
{
	char path[PATH_MAX];
	if (fc->tab == NULL || fc->max == 0 || n == 0 || n >= sizeof(path))
		return NULL;
	uint32_t h = hash_path(rel, n);
	if (!admit(fc, h))
		return NULL;
	if (fc->watch_retry_ns && now_ns() < fc->watch_retry_ns)
		return NULL;
	fc->watch_retry_ns = 0;
	/* Bytes that fit in memory leave the descriptor closed: such an
	 * entry counts against the entries, not the descriptors. */
	bool mem = sb->st_size <= FCACHE_DATA_MAX &&
		   fc->bytes + (size_t)sb->st_size <= fc->bytes_max;
	bool full = fc->n >= fc->n_max || (!mem && fc->fds >= fc->max);
	if (full && fc->credit < FCACHE_ADMIT_COST) {
		fc->seen[h & fc->seen_mask] = h; /* still wanted: next time */
		return NULL;
	}
	if (full && !victim_ready(fc))
		return NULL;
	struct fc_node *leaf = watch_path(fc, rel, n);
	if (leaf == NULL)
		return NULL;
	/* The watches are in place: from here on every change is seen. The
	 * path must still name what was opened (it may have been replaced
	 * before the first watch on its directory), with the same size and
	 * time (written in place before the file's own watch). */
	memcpy(path, rel, n);
	path[n] = '\0';
	struct stat now;
	struct fentry *e = NULL;
	if (leaf->entry != NULL || fstatat(fc->root_fd, path, &now, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(now.st_mode) || now.st_ino != sb->st_ino || now.st_dev != sb->st_dev ||
	    now.st_size != sb->st_size || now.st_mtim.tv_sec != sb->st_mtim.tv_sec ||
	    now.st_mtim.tv_nsec != sb->st_mtim.tv_nsec ||
	    (e = calloc(1, sizeof(*e) + n + 1)) == NULL) {
		node_prune(fc, leaf);
		return NULL;
	}
	if (mem && now.st_size > 0) {
		e->data = malloc((size_t)now.st_size);
		if (e->data == NULL || !read_all(fd, e->data, (size_t)now.st_size)) {
			free(e->data);
			free(e);
			node_prune(fc, leaf);
			return NULL;
		}
	}
	/* Counted before the eviction, so that it cannot free these nodes. */
	leaf->entry = e;
	e->node = leaf;
	for (struct fc_node *x = leaf; x != NULL; x = x->parent)
		x->count++;
	if (full)
		fc->credit -= FCACHE_ADMIT_COST;
	while (fc->head != NULL && (fc->n >= fc->n_max || (!mem && fc->fds >= fc->max))) {
		if (!mem && fc->fds >= fc->max)
			evict_fd(fc);
		else
			evict_one(fc);
	}
	if (e->data)
		fc->bytes += (size_t)now.st_size;
	e->hash = h;
	e->refs = 2; /* the cache's and the caller's */
	e->mt = mt;
	e->rel_n = (uint16_t)n;
	memcpy(e->rel, rel, n);
	if (mem) {
		close(fd);
		fd = -1;
	}
	rep_init(e, fd, &now);
	if (!mem) {
		e->rep[FC_IDENTITY].counted = true;
		fc->fds++;
	}
	tab_insert(fc, e);
	list_append(fc, e);
	fc->n++;
	return e;
}

void fcache_rep_fill(struct fc_rep *r, int fd, const struct stat *sb)
{
	r->state = FC_PRESENT;
	r->fd = fd;
	r->sb = (struct fc_stat){ .st_size = sb->st_size, .st_mtim = sb->st_mtim,
				  .st_ino = sb->st_ino, .st_dev = sb->st_dev };
	r->etag_n = (uint8_t)etag_make(r->etag, (uint64_t)sb->st_ino, (uint64_t)sb->st_size,
				       (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec,
				       r->variant);
	http_date_format(r->last_modified, sb->st_mtim.tv_sec);
}

void fcache_rep_add(struct fcache *fc, struct fentry *e, struct fc_rep *r, int fd,
		    const struct stat *sb)
{
	fcache_rep_fill(r, fd, sb);
	if (e->node == NULL)
		return; /* outside the cache: the entry alone owns it */
	r->counted = true;
	fc->fds++;
	/* May drop e too: the caller's reference keeps it alive. */
	while (fc->fds > fc->max && fc->n > 1)
		evict_fd(fc);
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

/* An event naming a child of the watched directory wd: drops the entries
 * at or under that child, and the file a ".br" or ".gz" child stands for. */
static void child_changed(struct fcache *fc, int wd, const char *name, size_t n)
{
	bool sibling = n > 3 && (memcmp(name + n - 3, ".br", 3) == 0 ||
				 memcmp(name + n - 3, ".gz", 3) == 0);
again:
	for (struct fc_node *x = fc->wtab[hash_wd(wd) & fc->nmask]; x; x = x->wnext) {
		if (x->wd != wd)
			continue;
		struct fc_node *c = node_find(fc, x, name, n);
		if (c == NULL && sibling)
			c = node_find(fc, x, name, n - 3);
		if (c != NULL) {
			drop_under(fc, c); /* may free x: look again */
			goto again;
		}
	}
}

/* An event on the watched file or directory wd itself (written, attributes,
 * deleted, moved, or its watch gone): drops everything at or under it. */
static void self_changed(struct fcache *fc, int wd)
{
	struct fc_node *x;
	while ((x = wd_first(fc, wd)) != NULL)
		drop_under(fc, x);
}

void fcache_changes(struct fcache *fc)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	if (fc->ifd < 0)
		return;
	for (;;) {
		ssize_t r = read(fc->ifd, buf, sizeof(buf));
		if (r <= 0)
			break;
		for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= r;) {
			const struct inotify_event *ev = (const void *)(buf + off);
			off += (ssize_t)sizeof(*ev) + ev->len;
			if (fc->tab == NULL)
				continue;
			if (ev->mask & IN_Q_OVERFLOW) {
				drop_all(fc); /* events were lost: anything may have changed */
				if (fc->m)
					mx_add(&fc->m->inotify_overflows, 1);
			}
			else if (ev->len > 0 && ev->name[0] != '\0')
				child_changed(fc, ev->wd, ev->name, strnlen(ev->name, ev->len));
			else
				self_changed(fc, ev->wd);
		}
	}
}
