/* The current document root: a reference-counted descriptor swapped under
 * a mutex; workers check a generation number per request. */
#include "docroot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct docroot *current;
static atomic_uint generation;

int docroot_set(const char *given)
{
	char real[PATH_MAX];
	if (realpath(given, real) == NULL)
		return -errno;
	int fd = open(real, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat a, b;
	if (current && fstat(fd, &a) == 0 && fstat(current->fd, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino && strcmp(real, current->path) == 0) {
		close(fd);
		return 0;
	}
	size_t n = strlen(real);
	struct docroot *r = malloc(sizeof(*r) + n + 1);
	if (r == NULL) {
		close(fd);
		return -ENOMEM;
	}
	r->fd = fd;
	atomic_init(&r->refs, 1); /* the current pointer's */
	memcpy(r->path, real, n + 1);
	pthread_mutex_lock(&lock);
	struct docroot *old = current;
	r->gen = atomic_load(&generation) + 1;
	current = r;
	atomic_store_explicit(&generation, r->gen, memory_order_release);
	pthread_mutex_unlock(&lock);
	if (old)
		docroot_put(old);
	return 1;
}

struct docroot *docroot_get(void)
{
	pthread_mutex_lock(&lock);
	struct docroot *r = current;
	atomic_fetch_add(&r->refs, 1);
	pthread_mutex_unlock(&lock);
	return r;
}

void docroot_put(struct docroot *r)
{
	if (r && atomic_fetch_sub(&r->refs, 1) == 1) {
		close(r->fd);
		free(r);
	}
}

bool docroot_stale(const struct docroot *r)
{
	return r->gen != atomic_load_explicit(&generation, memory_order_relaxed);
}
