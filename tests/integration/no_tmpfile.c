/* LD_PRELOAD shim for the upload tests: makes O_TMPFILE look unsupported
 * (EOPNOTSUPP), as on NFS or some FUSE file systems; every other open
 * passes to the real function of the same name. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>

typedef int (*openat_fn)(int, const char *, int, ...);

static int shim(const char *real, int dfd, const char *path, int flags, int mode)
{
	if ((flags & O_TMPFILE) == O_TMPFILE) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return ((openat_fn)dlsym(RTLD_NEXT, real))(dfd, path, flags, mode);
}

int openat(int dfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	int mode = va_arg(ap, int);
	va_end(ap);
	return shim("openat", dfd, path, flags, mode);
}

int openat64(int dfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	int mode = va_arg(ap, int);
	va_end(ap);
	return shim("openat64", dfd, path, flags, mode);
}
