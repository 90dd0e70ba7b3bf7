/* Unit tests for the open-file cache (src/fcache.c) against a temporary
 * root and the real inotify: what each kind of change drops and what it
 * leaves, the watches placed and removed, admission, eviction, shedding,
 * and a file replaced before its first watch. Events are queued by the
 * changing system call itself, so calling fcache_changes() right after a
 * change is deterministic. */
#include "config.h"
#include "fcache.h"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct config conf = { .threads = 1 };
const struct config *cfg = &conf;

static char root[64];
static struct fcache fc;
static const struct mime_type html = { "text/html; charset=utf-8", false };

static const char *at(const char *rel)
{
	static char buf[2][PATH_MAX];
	static int k;
	k ^= 1;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", root, rel);
	return buf[k];
}

/* Writes rel (making its directories) with data. */
static void put(const char *rel, const char *data)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s", at(rel));
	for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	FILE *f = fopen(p, "w");
	if (f == NULL) {
		perror(p);
		exit(2);
	}
	fputs(data, f);
	fclose(f);
}

static int rm_tree(const char *p)
{
	DIR *d = opendir(p);
	if (d == NULL)
		return unlink(p);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char q[PATH_MAX];
		snprintf(q, sizeof(q), "%s/%s", p, de->d_name);
		rm_tree(q);
	}
	closedir(d);
	return rmdir(p);
}

/* What static_file.c does on a miss: open, fstat, offer it to the cache.
 * Returns true when the cache took it. */
static bool miss(const char *rel)
{
	int fd = openat(conf.root_fd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	struct stat sb;
	fstat(fd, &sb);
	struct fentry *e = fcache_insert(&fc, rel, strlen(rel), fd, &sb, &html);
	if (e == NULL) {
		close(fd);
		return false;
	}
	fcache_put(&fc, e);
	return true;
}

static bool cached(const char *rel)
{
	struct fentry *e = fcache_find(&fc, rel, strlen(rel));
	if (e == NULL)
		return false;
	fcache_put(&fc, e);
	return true;
}

/* The cached bytes of rel, or NULL. */
static const char *cached_data(const char *rel, size_t *n)
{
	struct fentry *e = fcache_find(&fc, rel, strlen(rel));
	if (e == NULL)
		return NULL;
	const char *d = e->data;
	*n = (size_t)e->rep[FC_IDENTITY].sb.st_size;
	fcache_put(&fc, e); /* the cache still holds it */
	return d;
}

/* Two misses: the second caches (the second-miss admission rule). */
static bool warm(const char *rel)
{
	if (cached(rel))
		return true;
	miss(rel);
	return miss(rel) && cached(rel);
}

/* The watches the kernel holds for the cache's inotify descriptor. */
static int kernel_watches(void)
{
	char p[64], line[512];
	snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", fc.ifd);
	FILE *f = fopen(p, "r");
	if (f == NULL)
		return -1;
	int n = 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "inotify wd:", 11) == 0)
			n++;
	fclose(f);
	return n;
}

/* At most n entries (and descriptors, for files that keep theirs). */
static void limit(unsigned n)
{
	fc.max = fc.n_max = n;
}

static void setup(void)
{
	snprintf(root, sizeof(root), "/tmp/test_fcache.XXXXXX");
	if (mkdtemp(root) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
	conf.root = root;
	conf.root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (conf.root_fd < 0 || fcache_init(&fc) != 0) {
		perror("fcache_init");
		exit(2);
	}
}

static void teardown(void)
{
	fcache_destroy(&fc);
	close(conf.root_fd);
	rm_tree(root);
}

/* ---- the table: one change, what it drops, what it leaves ---- */

static void act_rewrite(void) { put("a/x.html", "x version 2, longer"); }
static void act_rewrite_sibling(void) { put("a/y.html", "y version 2"); }
static void act_create_elsewhere(void)
{
	char name[64];
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "uploads/upload_%d.json", i);
		put(name, "{}");
	}
	rename(at("uploads/upload_0.json"), at("uploads/upload_moved.json"));
	unlink(at("uploads/upload_1.json"));
}
static void act_create_beside(void)
{
	put("a/new.html", "new");
	unlink(at("a/new.html"));
}
static void act_log_in_root(void)
{
	for (int i = 0; i < 5; i++) {
		FILE *f = fopen(at("access.log"), "a");
		fputs("GET / 200\n", f);
		fclose(f);
	}
}
static void act_rename_over(void)
{
	put("a/x.tmp", "x replaced");
	rename(at("a/x.tmp"), at("a/x.html"));
}
static void act_truncate(void) { truncate(at("a/x.html"), 0); }
static void act_chmod(void) { chmod(at("a/x.html"), 0600); }
static void act_unlink(void) { unlink(at("a/x.html")); }
static void act_touch_mtime(void) { utimensat(AT_FDCWD, at("a/x.html"), NULL, 0); }
static void act_gz_appears(void) { put("a/x.html.gz", "gz"); }
static void act_rm_dir(void) { rm_tree(at("a")); }
static void act_move_dir(void) { rename(at("a"), at("a2")); }
static void act_move_deep_dir(void) { rename(at("b/c"), at("b/c2")); }
static void act_dir_over(void)
{
	mkdir(at("n"), 0755);
	put("n/c/z.html", "other z");
	rm_tree(at("b"));
	rename(at("n"), at("b"));
}
static void act_chmod_dir(void) { chmod(at("b"), 0711); }
static void act_write_hard_link(void)
{
	link(at("a/x.html"), at("hl.html"));
	put("hl.html", "written through another name");
}

struct change_case {
	int line;
	const char *what;
	void (*act)(void);
	const char *gone[4];
	const char *kept[5];
};

/* Every case starts from a/x.html, a/y.html, b/c/z.html, top.html, all
 * cached. */
static const struct change_case changes[] = {
	{ __LINE__, "rewrite in place", act_rewrite, { "a/x.html" },
	  { "a/y.html", "b/c/z.html", "top.html" } },
	{ __LINE__, "a sibling rewritten", act_rewrite_sibling, { "a/y.html" },
	  { "a/x.html", "b/c/z.html", "top.html" } },
	{ __LINE__, "files created in another directory", act_create_elsewhere, { NULL },
	  { "a/x.html", "a/y.html", "b/c/z.html", "top.html" } },
	{ __LINE__, "a file created and removed beside", act_create_beside, { NULL },
	  { "a/x.html", "a/y.html", "b/c/z.html", "top.html" } },
	{ __LINE__, "a log appended in the root", act_log_in_root, { NULL },
	  { "a/x.html", "a/y.html", "b/c/z.html", "top.html" } },
	{ __LINE__, "replaced by rename", act_rename_over, { "a/x.html" },
	  { "a/y.html", "b/c/z.html", "top.html" } },
	{ __LINE__, "truncated", act_truncate, { "a/x.html" },
	  { "a/y.html", "b/c/z.html", "top.html" } },
	{ __LINE__, "mode changed", act_chmod, { "a/x.html" },
	  { "a/y.html", "b/c/z.html", "top.html" } },
	{ __LINE__, "times changed", act_touch_mtime, { "a/x.html" },
	  { "a/y.html", "b/c/z.html", "top.html" } },
	{ __LINE__, "deleted", act_unlink, { "a/x.html" },
	  { "a/y.html", "b/c/z.html", "top.html" } },
	{ __LINE__, "a .gz sibling appears", act_gz_appears, { "a/x.html" },
	  { "a/y.html", "b/c/z.html", "top.html" } },
	{ __LINE__, "its directory deleted", act_rm_dir, { "a/x.html", "a/y.html" },
	  { "b/c/z.html", "top.html" } },
	{ __LINE__, "its directory moved", act_move_dir, { "a/x.html", "a/y.html" },
	  { "b/c/z.html", "top.html" } },
	{ __LINE__, "a directory on its path moved", act_move_deep_dir, { "b/c/z.html" },
	  { "a/x.html", "a/y.html", "top.html" } },
	{ __LINE__, "a directory on its path replaced", act_dir_over, { "b/c/z.html" },
	  { "a/x.html", "a/y.html", "top.html" } },
	{ __LINE__, "a directory on its path chmod", act_chmod_dir, { "b/c/z.html" },
	  { "a/x.html", "a/y.html", "top.html" } },
	{ __LINE__, "written through a hard link", act_write_hard_link, { "a/x.html" },
	  { "a/y.html", "b/c/z.html", "top.html" } },
};

static void test_changes(void)
{
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		const struct change_case *tc = &changes[i];
		setup();
		put("a/x.html", "x");
		put("a/y.html", "y");
		put("b/c/z.html", "z");
		put("top.html", "top");
		put("uploads/.keep", "");
		const char *all[] = { "a/x.html", "a/y.html", "b/c/z.html", "top.html" };
		for (int k = 0; k < 4; k++)
			ASSERT_TRUE(tc->line, warm(all[k]));
		tc->act();
		fcache_changes(&fc);
		for (int k = 0; k < 4 && tc->gone[k]; k++)
			TEST_RECORD(!cached(tc->gone[k]), tc->line, "%s: %s still cached", tc->what,
				    tc->gone[k]);
		for (int k = 0; k < 5 && tc->kept[k]; k++)
			TEST_RECORD(cached(tc->kept[k]), tc->line, "%s: %s dropped", tc->what,
				    tc->kept[k]);
		/* A dropped file is cached again at its next miss, with what
		 * the file holds now. */
		if (tc->gone[0] && access(at(tc->gone[0]), F_OK) == 0) {
			ASSERT_TRUE(tc->line, miss(tc->gone[0]));
			struct stat sb;
			size_t n = 0;
			stat(at(tc->gone[0]), &sb);
			cached_data(tc->gone[0], &n);
			ASSERT_EQ(tc->line, n, sb.st_size);
		}
		/* The watches: one per component of what is still cached. */
		ASSERT_EQ(tc->line, kernel_watches(), fc.nodes);
		teardown();
	}
}

/* ---- watches come and go with the entries under them ---- */

static void test_watches(void)
{
	setup();
	put("a/x.html", "x");
	put("a/y.html", "y");
	put("b/z.html", "z");
	ASSERT_EQ(__LINE__, kernel_watches(), 0);
	ASSERT_TRUE(__LINE__, warm("a/x.html"));
	ASSERT_EQ(__LINE__, fc.nodes, 3); /* root, a, a/x.html */
	ASSERT_EQ(__LINE__, kernel_watches(), 3);
	ASSERT_TRUE(__LINE__, warm("a/y.html"));
	ASSERT_TRUE(__LINE__, warm("b/z.html"));
	ASSERT_EQ(__LINE__, kernel_watches(), 6);
	/* Hits place nothing. */
	for (int i = 0; i < 100; i++)
		cached("a/x.html");
	ASSERT_EQ(__LINE__, kernel_watches(), 6);
	put("a/x.html", "x2");
	fcache_changes(&fc);
	ASSERT_EQ(__LINE__, kernel_watches(), 5); /* a stays for a/y.html */
	put("a/y.html", "y2");
	fcache_changes(&fc);
	ASSERT_EQ(__LINE__, fc.nodes, 3);         /* root, b, b/z.html */
	ASSERT_EQ(__LINE__, kernel_watches(), 3);
	/* The removals' IN_IGNORED events drop nothing. */
	fcache_changes(&fc);
	ASSERT_TRUE(__LINE__, cached("b/z.html"));
	unlink(at("b/z.html"));
	fcache_changes(&fc);
	ASSERT_EQ(__LINE__, fc.nodes, 0);
	ASSERT_EQ(__LINE__, kernel_watches(), 0);
	ASSERT_EQ(__LINE__, fc.n, 0);

	/* Hard links share one watch; it stays until both are gone. */
	put("h/one.html", "h");
	link(at("h/one.html"), at("h/two.html"));
	ASSERT_TRUE(__LINE__, warm("h/one.html"));
	ASSERT_TRUE(__LINE__, warm("h/two.html"));
	ASSERT_EQ(__LINE__, kernel_watches(), 3); /* root, h, the inode */
	ASSERT_EQ(__LINE__, fc.nodes, 4);
	chmod(at("h/one.html"), 0640);            /* both names' inode */
	fcache_changes(&fc);
	ASSERT_TRUE(__LINE__, !cached("h/one.html"));
	ASSERT_TRUE(__LINE__, !cached("h/two.html"));
	ASSERT_EQ(__LINE__, kernel_watches(), 0);
	teardown();
}

/* ---- admission, eviction, shedding ---- */

static void test_admission_and_eviction(void)
{
	setup();
	char name[64];
	put("once.html", "1");
	ASSERT_TRUE(__LINE__, !miss("once.html")); /* first miss: remembered only */
	ASSERT_EQ(__LINE__, kernel_watches(), 0);
	ASSERT_TRUE(__LINE__, miss("once.html"));  /* second: cached */
	ASSERT_TRUE(__LINE__, cached("once.html"));

	/* A hot set survives a scan of files asked for once. */
	limit(16);
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "hot/%d.html", i);
		put(name, "hot");
		ASSERT_TRUE(__LINE__, warm(name));
	}
	for (int i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "scan/%d.html", i);
		put(name, "cold");
		miss(name);
		if (i % 100 == 0)
			for (int k = 0; k < 8; k++) {
				snprintf(name, sizeof(name), "hot/%d.html", k);
				cached(name);
			}
	}
	int hot = 0;
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "hot/%d.html", i);
		hot += cached(name);
	}
	ASSERT_EQ(__LINE__, hot, 8);
	ASSERT_TRUE(__LINE__, fc.n <= fc.n_max);

	/* Files asked for twice fill the cache up to max, never past it; the
	 * clock spares the entries hit since it last passed. */
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "scan/%d.html", i);
		warm(name);
		if (i % 4 == 0)
			for (int k = 0; k < 8; k++) {
				snprintf(name, sizeof(name), "hot/%d.html", k);
				cached(name);
			}
	}
	ASSERT_EQ(__LINE__, fc.n, fc.n_max);
	hot = 0;
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "hot/%d.html", i);
		hot += cached(name);
	}
	ASSERT_EQ(__LINE__, hot, 8);
	ASSERT_EQ(__LINE__, kernel_watches(), fc.nodes);
	teardown();
}

/* ---- the table: entries dropped in any order, the rest still found ---- */

static void test_table(void)
{
	conf.threads = FCACHE_ENTRIES_ALL / 64; /* 64 entries, in a table of 128 slots */
	setup();
	conf.threads = 1;
	ASSERT_EQ(__LINE__, fc.mask, 127u);
	char name[64];
	limit(64); /* filled half: runs of colliding paths */
	for (int i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "t/%d.html", i);
		put(name, "t");
	}
	for (int i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "t/%d.html", i);
		ASSERT_TRUE(__LINE__, warm(name));
	}
	fcache_changes(&fc); /* nothing changed since */
	ASSERT_EQ(__LINE__, fc.n, 64);
	/* Drop them in a scattered order (7 is prime to 64), checking after
	 * each drop that every other entry is still found and no dropped
	 * one is. */
	bool gone[64] = { false };
	for (int k = 0; k < 64; k++) {
		int d = k * 7 % 64;
		snprintf(name, sizeof(name), "t/%d.html", d);
		unlink(at(name));
		fcache_changes(&fc);
		gone[d] = true;
		int wrong = 0;
		for (int i = 0; i < 64; i++) {
			snprintf(name, sizeof(name), "t/%d.html", i);
			wrong += cached(name) == gone[i];
		}
		ASSERT_EQ(__LINE__, wrong, 0);
		ASSERT_EQ(__LINE__, fc.n, (unsigned)(63 - k));
	}
	teardown();
}

/* ---- a full cache: the hand's one step decides ---- */

static void test_full_cache_admission(void)
{
	setup();
	char name[64];
	limit(4);
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "f/%d.html", i);
		put(name, "x");
		ASSERT_TRUE(__LINE__, warm(name)); /* each one hit once */
	}
	ASSERT_EQ(__LINE__, fc.n, 4);
	ASSERT_EQ(__LINE__, fc.fds, 0); /* bytes in memory: descriptors closed */
	int watches = kernel_watches();
	/* Every entry was hit: each newcomer is refused, and the hand moves
	 * one step, sparing (and clearing) one entry a time. */
	put("g/new.html", "n");
	miss("g/new.html");
	for (int i = 0; i < 4; i++) {
		ASSERT_TRUE(__LINE__, !miss("g/new.html"));
		miss("g/new.html"); /* remembered again */
	}
	ASSERT_EQ(__LINE__, fc.n, 4);
	ASSERT_EQ(__LINE__, kernel_watches(), watches); /* nothing placed, nothing removed */
	/* A full turn cleared every bit: the next newcomer evicts one. */
	ASSERT_TRUE(__LINE__, !cached("g/new.html"));
	ASSERT_TRUE(__LINE__, miss("g/new.html"));
	ASSERT_TRUE(__LINE__, cached("g/new.html"));
	ASSERT_EQ(__LINE__, fc.n, 4);
	/* A hot entry is never the one refused in favour of a newcomer. */
	for (int round = 0; round < 50; round++) {
		ASSERT_TRUE(__LINE__, cached("g/new.html"));
		snprintf(name, sizeof(name), "s/%d.html", round);
		put(name, "s");
		miss(name);
		miss(name);
	}
	ASSERT_TRUE(__LINE__, cached("g/new.html"));
	ASSERT_EQ(__LINE__, fc.n, 4);
	ASSERT_EQ(__LINE__, fcache_shed(&fc), 0); /* no descriptor to give back */
	ASSERT_EQ(__LINE__, fc.n, 4);
	teardown();
}

/* ---- descriptors: only the files not held in memory keep theirs ---- */

/* Writes rel with n bytes (all c). */
static void put_n(const char *rel, size_t n, char c)
{
	char *b = malloc(n + 1);
	memset(b, c, n);
	b[n] = '\0';
	put(rel, b);
	free(b);
}

static void test_descriptors(void)
{
	setup();
	char name[64];
	fc.max = 4;
	fc.n_max = 16;
	/* Small files: their bytes in memory, no descriptor held. */
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "s/%d.html", i);
		put_n(name, FCACHE_DATA_MAX, (char)('a' + i));
		ASSERT_TRUE(__LINE__, warm(name));
		size_t n = 0;
		const char *d = cached_data(name, &n);
		ASSERT_TRUE(__LINE__, d != NULL && n == FCACHE_DATA_MAX && d[0] == 'a' + i &&
				      d[n - 1] == 'a' + i);
		struct fentry *e = fcache_find(&fc, name, strlen(name));
		ASSERT_EQ(__LINE__, e->rep[FC_IDENTITY].fd, -1);
		fcache_put(&fc, e);
	}
	ASSERT_EQ(__LINE__, fc.n, 6);
	ASSERT_EQ(__LINE__, fc.fds, 0); /* more entries than max: none holds one */
	/* Larger files keep their descriptor, at most max of them: a fifth
	 * one gets in once the hand has found an entry not hit since it
	 * passed (each refusal moves it one step). */
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "b/%d.html", i);
		put_n(name, FCACHE_DATA_MAX + 1, 'b');
		int tries = 0;
		while (!warm(name) && ++tries < 16)
			;
		ASSERT_TRUE(__LINE__, tries < 16);
		struct fentry *e = fcache_find(&fc, name, strlen(name));
		ASSERT_TRUE(__LINE__, e->data == NULL && e->rep[FC_IDENTITY].fd >= 0);
		fcache_put(&fc, e);
	}
	ASSERT_TRUE(__LINE__, fc.fds <= 4);
	ASSERT_TRUE(__LINE__, fc.n <= 10);
	/* A sibling's descriptor counts, and makes room at once. */
	struct fentry *e = fcache_find(&fc, "b/4.html", 8);
	ASSERT_TRUE(__LINE__, e != NULL);
	for (int tries = 0; fc.fds < 4; tries++) {
		ASSERT_TRUE(__LINE__, tries < 64);
		if (tries >= 64)
			break;
		snprintf(name, sizeof(name), "c/%u.html", fc.n);
		put_n(name, FCACHE_DATA_MAX + 1, 'c');
		warm(name);
	}
	unsigned n = fc.n;
	put("b/4.html.gz", "gz");
	int fd = openat(conf.root_fd, "b/4.html.gz", O_RDONLY | O_CLOEXEC);
	struct stat sb;
	fstat(fd, &sb);
	fcache_rep_add(&fc, e, &e->rep[FC_GZ], fd, &sb);
	ASSERT_TRUE(__LINE__, fc.fds <= 4);
	ASSERT_TRUE(__LINE__, fc.n < n);
	ASSERT_TRUE(__LINE__, e->node != NULL); /* hit just now: spared */
	ASSERT_TRUE(__LINE__, e->rep[FC_GZ].counted);

	/* Shedding gives descriptors back: it drops the unused entries that
	 * hold one, never one in use, and leaves those held in memory. */
	unsigned in_mem = 0;
	for (struct fentry *x = fc.head; x != NULL; x = x->lnext)
		in_mem += x->rep[FC_IDENTITY].fd < 0;
	ASSERT_EQ(__LINE__, in_mem, 6); /* evictions for descriptors passed them over */
	ASSERT_TRUE(__LINE__, fc.n - in_mem >= 2);
	int unused_fd_entries = (int)(fc.n - in_mem - 1);
	ASSERT_EQ(__LINE__, fcache_shed(&fc), unused_fd_entries);
	ASSERT_EQ(__LINE__, fc.n, in_mem + 1);
	ASSERT_EQ(__LINE__, fc.fds, 2); /* the busy entry's, and its sibling's */
	fcache_put(&fc, e);
	ASSERT_EQ(__LINE__, fcache_shed(&fc), 1);
	ASSERT_EQ(__LINE__, fcache_shed(&fc), 0);
	ASSERT_EQ(__LINE__, fc.fds, 0);
	ASSERT_EQ(__LINE__, fc.n, in_mem);

	/* Entries (memory or not) are bounded by n_max. */
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "m/%d.html", i);
		put(name, "m");
		miss(name);
		miss(name);
		ASSERT_TRUE(__LINE__, fc.n <= 16);
	}
	ASSERT_EQ(__LINE__, fc.n, 16);
	ASSERT_EQ(__LINE__, kernel_watches(), fc.nodes);
	teardown();
}

/* ---- a full cache nobody hits: admissions paid for by hits ---- */

/* Asks for n files never asked for before, twice each (so each qualifies
 * at its second miss); returns how many were admitted. */
static int second_misses(const char *dir, int from, int n)
{
	char name[64];
	int admitted = 0;
	for (int i = from; i < from + n; i++) {
		snprintf(name, sizeof(name), "%s/%d.html", dir, i);
		put(name, "s");
		miss(name);
		admitted += miss(name);
	}
	return admitted;
}

static void test_admission_credit(void)
{
	setup();
	limit(8);
	ASSERT_EQ(__LINE__, second_misses("fill", 0, 8), 8); /* not full: no credit needed */
	ASSERT_EQ(__LINE__, fc.credit, FCACHE_CREDIT_MAX);
	/* Full and never hit: the saved credit pays for its admissions, then
	 * nothing more is admitted, whatever comes. */
	int burst = FCACHE_CREDIT_MAX / FCACHE_ADMIT_COST;
	ASSERT_EQ(__LINE__, second_misses("scan", 0, burst + 200), burst);
	ASSERT_EQ(__LINE__, fc.credit, 0);
	ASSERT_EQ(__LINE__, fc.n, 8);
	ASSERT_EQ(__LINE__, kernel_watches(), fc.nodes);
	/* Hits pay: one admission per FCACHE_ADMIT_COST of them. */
	int hits = 0;
	for (int i = 0; i < 8 * FCACHE_ADMIT_COST; i++) {
		struct fentry *e = fc.head;
		ASSERT_TRUE(__LINE__, e != NULL);
		hits += cached(e->rel);
	}
	ASSERT_EQ(__LINE__, hits, 8 * FCACHE_ADMIT_COST);
	ASSERT_EQ(__LINE__, fc.credit, 8 * FCACHE_ADMIT_COST);
	/* The head was hit, so the hand spares it once: a newcomer can be
	 * refused by the clock (its credit kept) before one is admitted. */
	int admitted = second_misses("paid", 0, 64);
	ASSERT_EQ(__LINE__, admitted, 8);
	ASSERT_EQ(__LINE__, fc.credit, 0);
	/* A path refused for want of credit is still remembered: with credit
	 * again, its next miss admits it. */
	put("late.html", "l");
	miss("late.html");
	ASSERT_TRUE(__LINE__, !miss("late.html"));
	for (int i = 0; i < FCACHE_ADMIT_COST; i++)
		cached(fc.tail->rel);
	ASSERT_TRUE(__LINE__, miss("late.html"));
	ASSERT_TRUE(__LINE__, cached("late.html"));
	ASSERT_EQ(__LINE__, fc.n, 8);
	teardown();
}

/* ---- a file replaced between its open and the first watch ---- */

static void test_replaced_before_first_watch(void)
{
	setup();
	put("fresh/f.html", "old");
	ASSERT_TRUE(__LINE__, !miss("fresh/f.html")); /* remembered: the next is admitted */
	int fd = openat(conf.root_fd, "fresh/f.html", O_RDONLY | O_CLOEXEC);
	struct stat sb;
	fstat(fd, &sb);
	put("fresh/f.tmp", "new");
	rename(at("fresh/f.tmp"), at("fresh/f.html")); /* nothing watches fresh/ yet */
	struct fentry *e = fcache_insert(&fc, "fresh/f.html", 12, fd, &sb, &html);
	ASSERT_TRUE(__LINE__, e == NULL);
	close(fd);
	ASSERT_EQ(__LINE__, fc.nodes, 0);
	ASSERT_EQ(__LINE__, kernel_watches(), 0);
	/* Rewritten in place (other size) before the watch: not cached either. */
	fd = openat(conf.root_fd, "fresh/f.html", O_RDONLY | O_CLOEXEC);
	fstat(fd, &sb);
	put("fresh/f.html", "newer, and longer");
	miss("fresh/f.html"); /* remember it again */
	e = fcache_insert(&fc, "fresh/f.html", 12, fd, &sb, &html);
	ASSERT_TRUE(__LINE__, e == NULL);
	close(fd);
	/* Unchanged: cached, with the file's bytes as they are. */
	miss("fresh/f.html");
	ASSERT_TRUE(__LINE__, miss("fresh/f.html"));
	size_t n = 0;
	const char *d = cached_data("fresh/f.html", &n);
	ASSERT_STR(__LINE__, d, n, "newer, and longer");
	teardown();
}

/* ---- lost events drop everything ---- */

static void test_overflow(void)
{
	setup();
	put("a/x.html", "x");
	put("b/y.html", "y");
	put("spam/.keep", "");
	ASSERT_TRUE(__LINE__, warm("a/x.html"));
	ASSERT_TRUE(__LINE__, warm("b/y.html"));
	ASSERT_TRUE(__LINE__, warm("spam/.keep"));
	/* Distinct names are never merged: this queues over 16,384 events. */
	char name[128];
	for (int i = 0; i < 9000; i++) {
		snprintf(name, sizeof(name), "%s/spam/%d", root, i);
		int fd = open(name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		close(fd);
	}
	fcache_changes(&fc);
	ASSERT_EQ(__LINE__, fc.n, 0);
	ASSERT_TRUE(__LINE__, !cached("a/x.html"));
	ASSERT_EQ(__LINE__, kernel_watches(), 0);
	teardown();
}

/* ---- the inotify watch limit ---- */

static bool write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	return ok;
}

/* In a child process, in a user namespace of its own whose watch limit is
 * 3: the cache serves on without caching past it, and caches again once
 * watches are free. Skipped where user namespaces are not allowed. */
static void test_watch_limit(void)
{
	int pfd[2];
	if (pipe(pfd) < 0)
		return;
	uid_t uid = getuid();
	gid_t gid = getgid();
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		char map[64];
		int skip[2] = { -1, -1 };
		if (unshare(CLONE_NEWUSER) < 0 || !write_file("/proc/self/setgroups", "deny") ||
		    (snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid), !write_file("/proc/self/uid_map", map)) ||
		    (snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid), !write_file("/proc/self/gid_map", map)) ||
		    !write_file("/proc/sys/user/max_inotify_watches", "3")) {
			write(pfd[1], skip, sizeof(skip));
			_exit(0);
		}
		setup();
		put("a/x.html", "x");
		put("b/y.html", "y");
		ASSERT_TRUE(__LINE__, warm("a/x.html"));  /* root, a, a/x.html */
		ASSERT_TRUE(__LINE__, !warm("b/y.html")); /* no watch left */
		ASSERT_EQ(__LINE__, fc.nodes, 3);          /* nothing half-made left */
		ASSERT_EQ(__LINE__, kernel_watches(), 3);
		ASSERT_TRUE(__LINE__, cached("a/x.html"));
		ASSERT_TRUE(__LINE__, fc.watch_retry_ns != 0);
		put("a/x.html", "x2");
		fcache_changes(&fc);
		ASSERT_EQ(__LINE__, kernel_watches(), 0);
		fc.watch_retry_ns = 1; /* as if the second had passed */
		ASSERT_TRUE(__LINE__, warm("b/y.html"));
		teardown();
		int counts[2] = { test_passed, test_failed };
		write(pfd[1], counts, sizeof(counts));
		_exit(0);
	}
	close(pfd[1]);
	int counts[2] = { 0, 1 };
	if (pid < 0 || read(pfd[0], counts, sizeof(counts)) != sizeof(counts))
		counts[1] = 1;
	close(pfd[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	if (counts[0] < 0) {
		printf("skipped: the watch-limit test (no user namespace)\n");
		return;
	}
	test_passed = counts[0];
	test_failed = counts[1];
}

/* ---- sizing ---- */

static void test_sizing(void)
{
	setup();
	ASSERT_TRUE(__LINE__, fc.max >= 1 && fc.max <= 16384);
	ASSERT_TRUE(__LINE__, fc.n_max >= fc.max && fc.n_max >= FCACHE_ENTRIES_ALL / (unsigned)conf.threads);
	teardown();
	conf.threads = 8;
	setup();
	ASSERT_TRUE(__LINE__, fc.n_max >= fc.max && fc.n_max >= 4096);
	teardown();
	conf.threads = 1;
}

int main(void)
{
	test_changes();
	test_watches();
	test_admission_and_eviction();
	test_table();
	test_full_cache_admission();
	test_descriptors();
	test_admission_credit();
	test_replaced_before_first_watch();
	test_overflow();
	test_watch_limit();
	test_sizing();
	return test_summary();
}
