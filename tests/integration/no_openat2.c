/* LD_PRELOAD shim for test_cli: makes openat2 look absent (ENOSYS), as on a
 * kernel older than 5.6 or under valgrind; every other syscall() passes. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/syscall.h>

long syscall(long nr, ...)
{
	if (nr == SYS_openat2) {
		errno = ENOSYS;
		return -1;
	}
	va_list ap;
	va_start(ap, nr);
	long a[6];
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	long (*real)(long, ...) = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
