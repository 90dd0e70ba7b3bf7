/* The server log (stderr) and the buffered access log. */
#ifndef MTHTTPD_LOG_H
#define MTHTTPD_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Names the calling thread in its log lines ("main", "worker-3"). */
void log_set_thread(const char *name);

void log_set_quiet(int quiet);

/* One line "[YYYY-MM-DD HH:MM:SS] [thread] message" on stderr, written with
 * one write(2). log_info is suppressed by --quiet. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Information --quiet does not hide (what a caller cannot learn otherwise). */
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes src[0..n) into dst (cap bytes incl. NUL) with '"' and '\\' escaped
 * and control bytes and bytes >= 0x80 as \xHH, so a client cannot forge a
 * log line. Returns the length written (truncated to fit). */
size_t log_escape(char *dst, size_t cap, const char *src, size_t n);

/* A socket address (sockaddr_in or sockaddr_in6) as text into buf; an
 * IPv4-mapped IPv6 address is written as IPv4, so a client of a "::"
 * listener has one name in every log. Returns buf. */
const char *log_addr_text(const void *addr, char *buf, size_t cap);

/* Opens the access log (path "-" is stdout). Returns 0 or -errno. */
int alog_open(const char *path);
/* Reopens it in place (SIGHUP), so open descriptors stay valid. */
int alog_reopen(void);

/* A per-thread access-log buffer. */
struct alog_buf {
	char *p;
	size_t n;
	time_t stamp_sec;  /* the second stamp[] was made for */
	char stamp[32];    /* "25/Nov/2026:21:47:17 +0000" */
	size_t stamp_n;
};

struct alog_entry {
	const void *addr;  /* struct sockaddr (in or in6) of the peer */
	const char *line; size_t line_n;    /* request line, NULL for "-" */
	int status;
	uint64_t bytes;                     /* body bytes sent */
	const char *referer; size_t referer_n;
	const char *agent; size_t agent_n;
};

void alog_buf_init(struct alog_buf *b);
/* Appends one Combined Log Format line; flushes when the buffer fills. */
void alog_write(struct alog_buf *b, time_t now, const struct alog_entry *e);
void alog_flush(struct alog_buf *b);
void alog_buf_free(struct alog_buf *b);

#endif
