/* The document root, re-resolvable at run time: SIGHUP opens the root's
 * path anew, so an atomic deploy (a symbolic link switched from one
 * release to the next) is picked up. A worker keeps the root it has until
 * it notices a newer one; requests in flight finish on the old tree. */
#ifndef MTHTTPD_DOCROOT_H
#define MTHTTPD_DOCROOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct docroot {
	int fd;                  /* O_PATH | O_DIRECTORY */
	unsigned gen;            /* docroot_set's count when it was made */
	atomic_int refs;
	char path[];             /* the resolved path, no symbolic link in it */
};

/* Resolves `given` (which may be or contain a symbolic link) and makes it
 * the current root. Returns 1 when the root changed (another directory),
 * 0 when it is the same directory as before, or -errno (the current root
 * is kept). Main thread only. */
int docroot_set(const char *given);

/* The current root, with a reference for the caller. */
struct docroot *docroot_get(void);
void docroot_put(struct docroot *r);

/* Is r older than the current root? One relaxed atomic load. */
bool docroot_stale(const struct docroot *r);

#endif
