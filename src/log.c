/* Server log on stderr and the Combined Log Format access log. */
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ALOG_BUF 65536

static __thread char thread_name[24] = "main";
static int quiet;
static int alog_fd = -1;        /* -1: off */
static const char *alog_path;

void log_set_thread(const char *name)
{
	snprintf(thread_name, sizeof(thread_name), "%s", name);
}

void log_set_quiet(int q)
{
	quiet = q;
}

static void log_line(const char *fmt, va_list ap)
{
	char buf[2048];
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	size_t n = strftime(buf, sizeof(buf), "[%Y-%m-%d %H:%M:%S] ", &tm);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "[%s] ", thread_name);
	int m = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += (size_t)m < sizeof(buf) - n - 1 ? (size_t)m : sizeof(buf) - n - 2;
	buf[n++] = '\n';
	/* One write per line: lines of different threads never interleave. */
	ssize_t r = write(STDERR_FILENO, buf, n);
	(void)r;
}

void log_info(const char *fmt, ...)
{
	if (quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_line(fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line(fmt, ap);
	va_end(ap);
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line(fmt, ap);
	va_end(ap);
}

size_t log_escape(char *dst, size_t cap, const char *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	if (cap == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)src[i];
		if (ch == '"' || ch == '\\') {
			if (o + 2 >= cap)
				break;
			dst[o++] = '\\';
			dst[o++] = (char)ch;
		} else if (ch < 0x20 || ch >= 0x7f) {
			if (o + 4 >= cap)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[ch >> 4];
			dst[o++] = hex[ch & 15];
		} else {
			if (o + 1 >= cap)
				break;
			dst[o++] = (char)ch;
		}
	}
	dst[o] = '\0';
	return o;
}

static int open_path(const char *path)
{
	if (strcmp(path, "-") == 0)
		return dup(STDOUT_FILENO);
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

int alog_open(const char *path)
{
	alog_path = path;
	if (path == NULL)
		return 0;
	int fd = open_path(path);
	if (fd < 0)
		return -errno;
	alog_fd = fd;
	return 0;
}

int alog_reopen(void)
{
	if (alog_fd < 0 || strcmp(alog_path, "-") == 0)
		return 0;
	int fd = open_path(alog_path);
	if (fd < 0)
		return -errno;
	/* dup2 swaps the file under the same number: writers never see a
	 * closed descriptor. */
	if (dup2(fd, alog_fd) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	close(fd);
	return 0;
}

int alog_enabled(void)
{
	return alog_fd >= 0;
}

void alog_buf_init(struct alog_buf *b)
{
	memset(b, 0, sizeof(*b));
	if (alog_fd >= 0)
		b->p = malloc(ALOG_BUF);
}

void alog_flush(struct alog_buf *b)
{
	size_t off = 0;
	while (off < b->n) {
		ssize_t r = write(alog_fd, b->p + off, b->n - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	b->n = 0;
}

void alog_buf_free(struct alog_buf *b)
{
	if (b->p) {
		alog_flush(b);
		free(b->p);
	}
	b->p = NULL;
}

static size_t format_addr(char *dst, size_t cap, const void *addr)
{
	const struct sockaddr *sa = addr;
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = addr;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], dst, (socklen_t)cap);
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, dst, (socklen_t)cap);
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = addr;
		inet_ntop(AF_INET, &s4->sin_addr, dst, (socklen_t)cap);
	} else {
		snprintf(dst, cap, "-");
	}
	return strlen(dst);
}

/* Appends "value" escaped in quotes, or "-" when absent. */
static size_t quoted(char *dst, size_t cap, const char *v, size_t n)
{
	if (v == NULL || n == 0)
		return (size_t)snprintf(dst, cap, "\"-\"");
	dst[0] = '"';
	size_t o = 1 + log_escape(dst + 1, cap - 2, v, n);
	dst[o++] = '"';
	dst[o] = '\0';
	return o;
}

void alog_write(struct alog_buf *b, time_t now, const struct alog_entry *e)
{
	if (b->p == NULL)
		return;
	if (now != b->stamp_sec) {
		struct tm tm;
		localtime_r(&now, &tm);
		strftime(b->stamp, sizeof(b->stamp), "%d/%b/%Y:%H:%M:%S %z", &tm);
		b->stamp_sec = now;
	}
	/* The worst case of one line: three escaped fields of at most 2 KiB. */
	char line[4 * 2048 + 256];
	size_t n = format_addr(line, 64, e->addr);
	n += (size_t)snprintf(line + n, sizeof(line) - n, " - - [%s] ", b->stamp);
	n += quoted(line + n, 2048, e->line, e->line_n > 500 ? 500 : e->line_n);
	n += (size_t)snprintf(line + n, sizeof(line) - n, " %d ", e->status);
	if (e->bytes)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%llu ", (unsigned long long)e->bytes);
	else
		n += (size_t)snprintf(line + n, sizeof(line) - n, "- ");
	n += quoted(line + n, 2048, e->referer, e->referer_n > 500 ? 500 : e->referer_n);
	line[n++] = ' ';
	n += quoted(line + n, 2048, e->agent, e->agent_n > 500 ? 500 : e->agent_n);
	line[n++] = '\n';
	if (b->n + n > ALOG_BUF)
		alog_flush(b);
	memcpy(b->p + b->n, line, n);
	b->n += n;
}
