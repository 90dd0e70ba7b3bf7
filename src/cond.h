/* Validators and conditional requests (RFC 9110 §8.8, §13). Pure. */
#ifndef MTHTTPD_COND_H
#define MTHTTPD_COND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "http_parse.h" /* struct hp_slice: the type only, no call */

#define ETAG_MAX 64

/* Writes a strong ETag (with quotes) for a file's identity into buf
 * (ETAG_MAX bytes), from inode, size and mtime in nanoseconds, plus a
 * variant tag (0 identity, 'b' br, 'g' gzip) so each encoding has its own.
 * Returns its length. */
size_t etag_make(char *buf, uint64_t ino, uint64_t size, int64_t mtime_ns, char variant);

/* Does the list v[0..n) (If-Match / If-None-Match syntax: "*" or
 * comma-separated entity tags, W/ allowed) match etag? strong: use the
 * strong comparison (If-Match, If-Range), else the weak one. A malformed
 * list matches nothing. */
bool etag_list_match(const char *v, size_t n, const char *etag, size_t elen, bool strong);

/* etag_list_match over a list sent on several field lines (RFC 9110
 * §5.3): lines[0..nlines) are the values of each line, in order, which
 * together form one list. The answer is the one etag_list_match gives for
 * the lines joined with ", ", without a copy and without a length cap;
 * so "*" matches only as the single line, and a malformed line makes the
 * whole list match nothing. nlines == 0 matches nothing. */
bool etag_lines_match(const struct hp_slice *lines, size_t nlines, const char *etag,
		      size_t elen, bool strong);

/* Parses an HTTP-date (IMF-fixdate, or the obsolete RFC 850 and asctime
 * forms). Returns 0 and *t, or -1. */
int http_date_parse(const char *v, size_t n, time_t *t);

/* Writes the IMF-fixdate of t into buf (at least 30 bytes), NUL-terminated.
 * Returns 29. */
size_t http_date_format(char *buf, time_t t);

struct cond_input {
	const char *if_match, *if_none_match, *if_modified_since, *if_unmodified_since;
	size_t if_match_n, if_none_match_n, if_modified_since_n, if_unmodified_since_n;
	/* If-Match / If-None-Match on every field line that carries them
	 * (hp_field_lines): when not NULL, used instead of the slice above,
	 * so a list split over several lines is read whole. */
	const struct hp_slice *if_match_lines, *if_none_match_lines;
	size_t if_match_nlines, if_none_match_nlines;
	const char *etag; size_t etag_n;
	time_t mtime;      /* whole seconds of the file's modification time */
	bool get_or_head;
};

enum cond_result { COND_PASS = 0, COND_NOT_MODIFIED = 304, COND_FAILED = 412 };

/* Evaluates the preconditions in the order of RFC 9110 §13.2.2 (absent
 * fields have p == NULL and *_lines == NULL). Returns what to answer. */
enum cond_result cond_evaluate(const struct cond_input *in);

/* If-Range (RFC 9110 §13.1.5): true when the Range may be honoured, i.e.
 * v is a strong ETag equal to etag, or an HTTP-date equal to mtime when
 * that second is over at now (before, the date is a weak validator). */
bool cond_if_range(const char *v, size_t n, const char *etag, size_t etag_n, time_t mtime,
		   time_t now);

#endif
