/*
 * fsync_probe — how many durable small-file creations per second this
 * disk sustains with N threads in parallel.
 *
 * Each thread repeats what a durable upload costs:
 *   open(tmp, O_CREAT|O_EXCL) + write(SIZE bytes) + fsync + close
 *   + rename(tmp, final) + fsync(directory)
 * for DURATION seconds, in DIR (which must be on the same filesystem as the
 * server's uploads directory for the number to mean anything).
 * Files are left in DIR (the caller removes them): deleting them between
 * runs would make the next run reuse freed space, which costs up to three
 * times the CPU on ext4 here.
 *
 * Usage: fsync_probe DIR THREADS DURATION_S [SIZE]
 * Prints one line:
 *   "ops=N seconds=S ops_per_s=R cpu_us_per_op=C threads=T size=B"
 * where C is the probe's own user+system CPU time per operation (what the
 * kernel charges for the file system work, the floor for a server's).
 * Exit 0 on success, 1 on any I/O error (with a message on stderr).
 *
 * Build: cc -O2 -pthread -o fsync_probe fsync_probe.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char *g_dir;
static int g_dirfd = -1;
static size_t g_size = 200;
static double g_deadline;
static atomic_long g_ops;
static atomic_int g_failed;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(const char *what, const char *path)
{
	fprintf(stderr, "fsync_probe: %s %s: %s\n", what, path, strerror(errno));
	atomic_store(&g_failed, 1);
}

static void *worker(void *arg)
{
	long id = (long)arg;
	char *body = malloc(g_size);
	char tmp[4096], fin[4096];
	long seq = 0;

	if (!body) {
		atomic_store(&g_failed, 1);
		return NULL;
	}
	/* A JSON-looking payload of exactly g_size bytes. */
	memset(body, ' ', g_size);
	if (g_size >= 2) {
		body[0] = '{';
		body[g_size - 1] = '}';
	}

	while (!atomic_load(&g_failed) && now_s() < g_deadline) {
		/* Named per process: a run never replaces (and so frees) the
		 * files of an earlier one in the same directory. */
		snprintf(tmp, sizeof tmp, "%s/.tmp_%ld_%ld_%ld", g_dir, (long)getpid(), id, seq);
		snprintf(fin, sizeof fin, "%s/probe_%ld_%ld_%ld.json", g_dir, (long)getpid(), id, seq);
		seq++;

		int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0) {
			fail("open", tmp);
			break;
		}
		size_t off = 0;
		while (off < g_size) {
			ssize_t n = write(fd, body + off, g_size - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				fail("write", tmp);
				break;
			}
			off += (size_t)n;
		}
		if (off < g_size) {
			close(fd);
			break;
		}
		if (fsync(fd) < 0) {
			fail("fsync", tmp);
			close(fd);
			break;
		}
		close(fd);
		if (rename(tmp, fin) < 0) {
			fail("rename", tmp);
			break;
		}
		if (fsync(g_dirfd) < 0) {
			fail("fsync dir", g_dir);
			break;
		}
		atomic_fetch_add(&g_ops, 1);
	}
	free(body);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: fsync_probe DIR THREADS DURATION_S [SIZE]\n");
		return 2;
	}
	g_dir = argv[1];
	int threads = atoi(argv[2]);
	double duration = atof(argv[3]);
	if (argc == 5)
		g_size = (size_t)strtoul(argv[4], NULL, 10);
	if (threads < 1 || threads > 1024 || duration <= 0 || duration > 3600 ||
	    g_size < 1 || g_size > (1u << 20)) {
		fprintf(stderr, "fsync_probe: bad arguments\n");
		return 2;
	}
	g_dirfd = open(g_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (g_dirfd < 0) {
		fail("open dir", g_dir);
		return 1;
	}

	pthread_t *tids = calloc((size_t)threads, sizeof *tids);
	if (!tids)
		return 1;
	double start = now_s();
	g_deadline = start + duration;
	int started = 0;
	for (long i = 0; i < threads; i++) {
		if (pthread_create(&tids[i], NULL, worker, (void *)i) != 0) {
			fprintf(stderr, "fsync_probe: pthread_create failed\n");
			atomic_store(&g_failed, 1);
			break;
		}
		started++;
	}
	for (int i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	double elapsed = now_s() - start;
	free(tids);
	close(g_dirfd);

	long ops = atomic_load(&g_ops);
	struct rusage ru;
	double cpu_us = 0;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu_us = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
			 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	printf("ops=%ld seconds=%.3f ops_per_s=%.1f cpu_us_per_op=%.1f threads=%d size=%zu\n",
	       ops, elapsed, elapsed > 0 ? (double)ops / elapsed : 0.0,
	       ops > 0 ? cpu_us / (double)ops : 0.0, threads, g_size);
	return atomic_load(&g_failed) ? 1 : 0;
}
