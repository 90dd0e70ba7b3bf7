/* Building response heads: status lines, the common headers, error bodies. */
#ifndef MTHTTPD_HTTP_RESP_H
#define MTHTTPD_HTTP_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* An output buffer that refuses to overflow: once full, ok is false and
 * further appends are dropped. */
struct obuf {
	char *p;
	size_t n, cap;
	bool ok;
};

static inline void obuf_init(struct obuf *o, char *p, size_t cap)
{
	o->p = p;
	o->n = 0;
	o->cap = cap;
	o->ok = true;
}

/* Inline: on every response's path, and a literal's length then folds to
 * a constant. */
static inline void ob_put(struct obuf *o, const char *s, size_t n)
{
	if (!o->ok || o->cap - o->n < n) {
		o->ok = false;
		return;
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
}

static inline void ob_puts(struct obuf *o, const char *s)
{
	ob_put(o, s, strlen(s));
}

void ob_u64(struct obuf *o, uint64_t v);

/* Writes v in decimal to dst (room for 20 bytes, no NUL). Returns the
 * length. */
size_t fmt_u64(char *dst, uint64_t v);

/* The reason phrase of status, e.g. "Not Found". */
const char *resp_reason(int status);

/* Per-thread cache of the IMF-fixdate of the current second. Returns a
 * pointer to 29 characters valid until the next call in this thread. */
const char *resp_date(time_t now);

/* Appends "HTTP/1.1 <status> <reason>\r\nDate: ...\r\nServer: ...\r\n". */
void resp_start(struct obuf *o, int status, time_t now);

/* Appends Connection (and Keep-Alive with `left` requests remaining when
 * keep_alive) and the blank line that ends the head. */
void resp_end(struct obuf *o, bool keep_alive, unsigned left);

/* Does status leave the framing of the connection unknown (400, 408, 413,
 * 414, 431, 501, 503, 505), so the connection must close? */
bool resp_must_close(int status);

#endif
