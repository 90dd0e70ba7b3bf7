/* Server log on stderr and the access log (Combined Log Format or JSON). */
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
#include <sys/stat.h>
#include <unistd.h>

#include "http_resp.h"

#define ALOG_BUF 65536

static __thread char thread_name[24] = "main";
static int quiet;
static int alog_fd = -1;        /* -1: off */
static const char *alog_path;
static int alog_created;        /* alog_open created the file */
static enum alog_format alog_fmt = ALOG_COMBINED;

enum log_level { LV_ERROR, LV_WARN, LV_NOTICE, LV_INFO };
static const char *const level_tag[] = { "error", "warn", "notice", "info" };

void log_set_thread(const char *name)
{
	snprintf(thread_name, sizeof(thread_name), "%s", name);
}

void log_set_quiet(int q)
{
	quiet = q;
}

static void log_line(enum log_level lv, const char *fmt, va_list ap)
{
	char buf[2048];
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	size_t n = strftime(buf, sizeof(buf), "[%Y-%m-%d %H:%M:%S] ", &tm);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "[%s] [%s] ", thread_name, level_tag[lv]);
	int m = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += (size_t)m < sizeof(buf) - n - 1 ? (size_t)m : sizeof(buf) - n - 2;
	buf[n++] = '\n';
	/* One write per line: lines of different threads never interleave. */
	ssize_t r = write(STDERR_FILENO, buf, n);
	(void)r;
}

#define LOG_AT(lv, fmt)              \
	do {                         \
		va_list ap;          \
		va_start(ap, fmt);   \
		log_line(lv, fmt, ap); \
		va_end(ap);          \
	} while (0)

void log_info(const char *fmt, ...)
{
	if (quiet)
		return;
	LOG_AT(LV_INFO, fmt);
}

void log_refusal(const char *fmt, ...)
{
	if (quiet)
		return;
	LOG_AT(LV_INFO, fmt);
}

void log_notice(const char *fmt, ...)
{
	LOG_AT(LV_NOTICE, fmt);
}

void log_warn(const char *fmt, ...)
{
	LOG_AT(LV_WARN, fmt);
}

void log_error(const char *fmt, ...)
{
	LOG_AT(LV_ERROR, fmt);
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

void alog_set_format(enum alog_format f)
{
	alog_fmt = f;
}

static int is_stdout(const char *path)
{
	return strcmp(path, "-") == 0;
}

int alog_check(const char *path)
{
	if (path == NULL || is_stdout(path))
		return 0;
	struct stat st;
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return -EISDIR;
		return access(path, W_OK) < 0 ? -errno : 0;
	}
	if (errno != ENOENT)
		return -errno;
	/* Missing: its directory must exist and let us create it. */
	char dir[4096];
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		return -ENAMETOOLONG;
	if (stat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	return access(dir, W_OK | X_OK) < 0 ? -errno : 0;
}

/* Opens path for appending; *created tells whether this call made it. */
static int open_path(const char *path, int *created)
{
	*created = 0;
	if (is_stdout(path))
		return dup(STDOUT_FILENO);
	for (;;) {
		int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT)
			return fd;
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0) {
			*created = 1;
			return fd;
		}
		if (errno != EEXIST) /* else: created meanwhile, open that */
			return -1;
	}
}

int alog_open(const char *path)
{
	alog_path = path;
	if (path == NULL)
		return 0;
	int fd = open_path(path, &alog_created);
	if (fd < 0)
		return -errno;
	alog_fd = fd;
	return 0;
}

void alog_abandon(void)
{
	if (alog_fd < 0)
		return;
	close(alog_fd);
	alog_fd = -1;
	if (alog_created)
		unlink(alog_path);
	alog_created = 0;
}

const char *alog_describe(void)
{
	if (alog_fd < 0)
		return "off";
	return is_stdout(alog_path) ? "stdout" : alog_path;
}

int alog_reopen(void)
{
	if (alog_fd < 0 || is_stdout(alog_path))
		return 0;
	int created;
	int fd = open_path(alog_path, &created);
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
	return 1;
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

/* Appends v escaped as a JSON string, or null when absent. Printable ASCII
 * passes; '"' and '\\' get a backslash; every other byte (controls, DEL,
 * and bytes >= 0x80, which need not be UTF-8) becomes \u00XX, so the
 * output is valid JSON and valid UTF-8 whatever the client sent. At most
 * 2 + 6 * FIELD_MAX bytes. */
static size_t json_str(char *dst, const char *v, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	if (v == NULL) {
		memcpy(dst, "null", 4);
		return 4;
	}
	if (n > FIELD_MAX)
		n = FIELD_MAX;
	size_t o = 0;
	dst[o++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)v[i];
		if (ch == '"' || ch == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)ch;
		} else if (ch >= 0x20 && ch < 0x7f) {
			dst[o++] = (char)ch;
		} else {
			memcpy(dst + o, "\\u00", 4);
			dst[o + 4] = hex[ch >> 4];
			dst[o + 5] = hex[ch & 15];
			o += 6;
		}
	}
	dst[o++] = '"';
	return o;
}

static size_t put(char *dst, const char *s)
{
	size_t n = strlen(s);
	memcpy(dst, s, n);
	return n;
}

size_t alog_format_json(char *dst, const char *stamp, size_t stamp_n, const struct alog_entry *e)
{
	const char *m = e->method, *t = e->target, *p = e->protocol;
	size_t mn = e->method_n, tn = e->target_n, pn = e->protocol_n;
	if (m == NULL && e->line != NULL) {
		/* "METHOD SP target SP protocol": split at the first and last
		 * space; a line without two spaces is all method. */
		const char *sp1 = memchr(e->line, ' ', e->line_n);
		const char *sp2 = NULL;
		for (const char *q = e->line + e->line_n; q > e->line; q--)
			if (q[-1] == ' ') {
				sp2 = q - 1;
				break;
			}
		m = e->line;
		if (sp1 != NULL && sp2 != sp1) {
			mn = (size_t)(sp1 - m);
			t = sp1 + 1;
			tn = (size_t)(sp2 - t);
			p = sp2 + 1;
			pn = (size_t)(e->line + e->line_n - p);
		} else {
			mn = e->line_n;
		}
	}
	char addr[INET6_ADDRSTRLEN];
	size_t n = 0;
	n += put(dst + n, "{\"time\":\"");
	memcpy(dst + n, stamp, stamp_n);
	n += stamp_n;
	n += put(dst + n, "\",\"client\":\"");
	n += put(dst + n, log_addr_text(e->addr, addr, sizeof(addr)));
	n += put(dst + n, "\",\"host\":");
	n += json_str(dst + n, e->host, e->host_n);
	n += put(dst + n, ",\"method\":");
	n += json_str(dst + n, m, mn);
	n += put(dst + n, ",\"target\":");
	n += json_str(dst + n, t, tn);
	n += put(dst + n, ",\"protocol\":");
	n += json_str(dst + n, p, pn);
	n += put(dst + n, ",\"status\":");
	n += fmt_u64(dst + n, (uint64_t)e->status);
	n += put(dst + n, ",\"bytes\":");
	n += fmt_u64(dst + n, e->bytes);
	n += put(dst + n, ",\"duration_us\":");
	n += fmt_u64(dst + n, e->duration_us);
	n += put(dst + n, ",\"referer\":");
	n += json_str(dst + n, e->referer, e->referer_n);
	n += put(dst + n, ",\"user_agent\":");
	n += json_str(dst + n, e->agent, e->agent_n);
	n += put(dst + n, "}\n");
	return n;
}

/* The longest line: address, stamp, three escaped fields, numbers. */
#define LINE_MAX_BYTES (INET6_ADDRSTRLEN + 48 + 3 * (2 + 4 * FIELD_MAX) + 48)

/* The time stamp of second now for the configured format: CLF's
 * "25/Nov/2026:21:47:17 +0000", or ISO 8601 "2026-11-25T21:47:17+00:00". */
static void make_stamp(struct alog_buf *b, time_t now)
{
	struct tm tm;
	localtime_r(&now, &tm);
	if (alog_fmt == ALOG_JSON) {
		size_t n = strftime(b->stamp, sizeof(b->stamp), "%Y-%m-%dT%H:%M:%S%z", &tm);
		if (n >= 5) { /* +hhmm -> +hh:mm */
			memmove(b->stamp + n - 1, b->stamp + n - 2, 3);
			b->stamp[n - 2] = ':';
			n++;
		}
		b->stamp_n = n;
	} else {
		b->stamp_n = strftime(b->stamp, sizeof(b->stamp), "%d/%b/%Y:%H:%M:%S %z", &tm);
	}
	b->stamp_sec = now;
}

void alog_write(struct alog_buf *b, time_t now, const struct alog_entry *e)
{
	if (b->p == NULL)
		return;
	if (now != b->stamp_sec || b->stamp_n == 0)
		make_stamp(b, now);
	if (alog_fmt == ALOG_JSON) {
		if (b->n + ALOG_JSON_MAX > ALOG_BUF)
			alog_flush(b);
		b->n += alog_format_json(b->p + b->n, b->stamp, b->stamp_n, e);
		return;
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
