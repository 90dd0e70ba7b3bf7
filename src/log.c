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

#include "http_resp.h"

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

void log_notice(const char *fmt, ...)
{
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

const char *log_addr_text(const void *addr, char *buf, size_t cap)
{
	const struct sockaddr *sa = addr;
	if (sa->sa_family == AF_INET6) {
		struct in6_addr a; /* copied: addr need not be aligned */
		memcpy(&a, &((const struct sockaddr_in6 *)addr)->sin6_addr, sizeof(a));
		if (IN6_IS_ADDR_V4MAPPED(&a))
			inet_ntop(AF_INET, &a.s6_addr[12], buf, (socklen_t)cap);
		else
			inet_ntop(AF_INET6, &a, buf, (socklen_t)cap);
	} else if (sa->sa_family == AF_INET) {
		struct in_addr a;
		memcpy(&a, &((const struct sockaddr_in *)addr)->sin_addr, sizeof(a));
		inet_ntop(AF_INET, &a, buf, (socklen_t)cap);
	} else {
		snprintf(buf, cap, "-");
	}
	return buf;
}

/* The peer address as text. The last one is kept per thread: most lines of
 * a busy log come from the same few clients, and inet_ntop is not free. */
static size_t format_addr(char *dst, const void *addr)
{
	static __thread unsigned char last_key[17];
	static __thread char last_txt[INET6_ADDRSTRLEN];
	static __thread size_t last_n;
	unsigned char key[17] = { 0 };
	const struct sockaddr *sa = addr;
	if (sa->sa_family == AF_INET6) {
		key[0] = 6;
		memcpy(key + 1, &((const struct sockaddr_in6 *)addr)->sin6_addr, 16);
	} else if (sa->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)addr)->sin_addr, 4);
	}
	if (last_n == 0 || memcmp(key, last_key, sizeof(key)) != 0) {
		last_n = strlen(log_addr_text(addr, last_txt, sizeof(last_txt)));
		memcpy(last_key, key, sizeof(key));
	}
	memcpy(dst, last_txt, last_n);
	return last_n;
}

#define FIELD_MAX 500 /* bytes of one client field that are logged */

/* Appends "value" escaped in quotes, or "-" when absent. At most
 * 2 + 4 * FIELD_MAX bytes. */
static size_t quoted(char *dst, const char *v, size_t n)
{
	if (v == NULL || n == 0) {
		memcpy(dst, "\"-\"", 3);
		return 3;
	}
	if (n > FIELD_MAX)
		n = FIELD_MAX;
	dst[0] = '"';
	size_t o = 1;
	size_t i = 0;
	while (i < n) {
		/* Copy the run that needs no escaping in one go. */
		size_t j = i;
		while (j < n && (unsigned char)v[j] >= 0x20 && (unsigned char)v[j] < 0x7f &&
		       v[j] != '"' && v[j] != '\\')
			j++;
		memcpy(dst + o, v + i, j - i);
		o += j - i;
		if (j == n)
			break;
		o += log_escape(dst + o, 5, v + j, 1);
		i = j + 1;
	}
	dst[o++] = '"';
	return o;
}

/* The longest line: address, stamp, three escaped fields, numbers. */
#define LINE_MAX_BYTES (INET6_ADDRSTRLEN + 48 + 3 * (2 + 4 * FIELD_MAX) + 48)

void alog_write(struct alog_buf *b, time_t now, const struct alog_entry *e)
{
	if (b->p == NULL)
		return;
	if (now != b->stamp_sec) {
		struct tm tm;
		localtime_r(&now, &tm);
		b->stamp_n = strftime(b->stamp, sizeof(b->stamp), "%d/%b/%Y:%H:%M:%S %z", &tm);
		b->stamp_sec = now;
	}
	if (b->n + LINE_MAX_BYTES > ALOG_BUF)
		alog_flush(b);
	/* Written in place: no intermediate copy, no printf. */
	char *d = b->p + b->n;
	size_t n = format_addr(d, e->addr);
	memcpy(d + n, " - - [", 6);
	n += 6;
	memcpy(d + n, b->stamp, b->stamp_n);
	n += b->stamp_n;
	memcpy(d + n, "] ", 2);
	n += 2;
	n += quoted(d + n, e->line, e->line_n);
	d[n++] = ' ';
	n += fmt_u64(d + n, (uint64_t)e->status);
	d[n++] = ' ';
	if (e->bytes) {
		n += fmt_u64(d + n, e->bytes);
	} else {
		d[n++] = '-';
	}
	d[n++] = ' ';
	n += quoted(d + n, e->referer, e->referer_n);
	d[n++] = ' ';
	n += quoted(d + n, e->agent, e->agent_n);
	d[n++] = '\n';
	b->n += n;
}
