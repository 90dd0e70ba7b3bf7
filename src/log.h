/* The server log (stderr) and the buffered access log. */
#ifndef MTHTTPD_LOG_H
#define MTHTTPD_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Names the calling thread in its log lines ("main", "worker-3"). */
void log_set_thread(const char *name);

/* With quiet set (--quiet), only notice, warn and error lines are written. */
void log_set_quiet(int quiet);

/* Each writes one line "[YYYY-MM-DD HH:MM:SS] [thread] [level] message" on
 * stderr with one write(2), so lines of different threads never mix.
 *
 * log_error   [error]   something failed (with strerror)
 * log_warn    [warn]    the server's own health: a limit reached, a file
 *                       changed under a transfer, stale files removed
 * log_notice  [notice]  information --quiet does not hide (the port chosen
 *                       for --port 0: a caller cannot learn it otherwise)
 * log_info    [info]    start-up, shutdown, stored uploads, SIGHUP
 * log_refusal [info]    one request refused or cut (status and reason): a
 *                       client's doing, not a warning about the server, so
 *                       --quiet hides it like log_info. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_refusal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
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

/* --log-format: one line per response in the Combined Log Format, or one
 * JSON object per line. Set before the workers start. */
enum alog_format { ALOG_COMBINED, ALOG_JSON };
void alog_set_format(enum alog_format f);

/* Checks, without creating or opening anything, that alog_open(path) can
 * succeed: an existing file must be writable and not a directory; a missing
 * one needs a writable, searchable directory. "-" (stdout) always passes.
 * Returns 0 or -errno. */
int alog_check(const char *path);

/* Opens the access log (path "-" is stdout; NULL: off), creating the file
 * with mode 0644 if missing. Returns 0 or -errno. */
int alog_open(const char *path);

/* Undoes alog_open for a start-up that fails after it: closes the log and
 * removes the file if alog_open created it. */
void alog_abandon(void);

/* Reopens the access log in place (SIGHUP), so descriptors held by the
 * workers stay valid. Returns 1 when a file was reopened, 0 when there is
 * nothing to reopen (off or stdout), -errno when the open failed: then the
 * old file stays in use (e.g. after a --user drop, when the dropped user may
 * not create the file in its directory). */
int alog_reopen(void);

/* What the access log writes to, for messages: a path, "stdout" or "off". */
const char *alog_describe(void);

/* A per-thread access-log buffer. */
struct alog_buf {
	char *p;
	size_t n;
	time_t stamp_sec;  /* the second stamp[] was made for */
	char stamp[32];    /* "25/Nov/2026:21:47:17 +0000" */
	size_t stamp_n;
};

/* One response. Every pointer may be NULL (absent, logged as "-" or null);
 * the bytes are the client's, unescaped: the formatter escapes them. */
struct alog_entry {
	const void *addr;  /* struct sockaddr (in or in6) of the peer */
	const char *line; size_t line_n;    /* request line, NULL for "-" */
	int status;
	uint64_t bytes;                     /* body bytes actually sent */
	const char *referer; size_t referer_n;
	const char *agent; size_t agent_n;
	/* For --log-format json only (combined ignores them). */
	const char *host; size_t host_n;    /* the Host field as received */
	/* The three parts of the request line; when method is NULL they are
	 * taken from line (split at its spaces). */
	const char *method; size_t method_n;
	const char *target; size_t target_n;
	const char *protocol; size_t protocol_n;
	uint64_t duration_us;  /* first byte of the request to the last of the response */
};

void alog_buf_init(struct alog_buf *b);
/* Appends one line in the configured format; flushes when the buffer
 * fills. A no-op when the access log is off. */
void alog_write(struct alog_buf *b, time_t now, const struct alog_entry *e);

/* Formats e as one JSON line (with its '\n') into dst, which must hold
 * ALOG_JSON_MAX bytes; stamp is the time field's text. Returns the length.
 * Client bytes are cut at 500 and escaped so the line is printable ASCII
 * and valid JSON whatever they were: '"' and '\\' with a backslash,
 * control bytes, DEL and bytes >= 0x80 as \u00XX. Exposed for unit tests. */
#define ALOG_JSON_MAX 20480
size_t alog_format_json(char *dst, const char *stamp, size_t stamp_n, const struct alog_entry *e);
void alog_flush(struct alog_buf *b);
void alog_buf_free(struct alog_buf *b);

#endif
