/* File types by extension, and Accept-Encoding negotiation. Pure. */
#ifndef MTHTTPD_MIME_H
#define MTHTTPD_MIME_H

#include <stdbool.h>
#include <stddef.h>

#include "http_parse.h" /* struct hp_slice: the type only, no call */

enum mime_policy { MIME_SEED, MIME_ALL };

struct mime_type {
	const char *type;  /* Content-Type value */
	bool attachment;   /* send Content-Disposition: attachment */
};

/* Type of the file called name[0..n) (a base name or path; the extension is
 * matched case-insensitively). Under MIME_SEED: .html/.htm inline as
 * text/html; charset=utf-8; .txt/.png/.jpg/.jpeg as application/octet-stream
 * attachments; anything else NULL (the caller answers 415). Under MIME_ALL
 * never NULL: a built-in table of real types, inline, text types with
 * "; charset=utf-8", unknown extensions application/octet-stream.
 * The result is static. */
const struct mime_type *mime_lookup(const char *name, size_t n, enum mime_policy p);

/* q-value (0..1000) the Accept-Encoding value v[0..n) gives to coding (e.g.
 * "br", "gzip"): an exact entry wins over "*", absent means 0 (except that
 * "identity" is acceptable unless refused). A malformed element is
 * skipped. v == NULL (no header) gives 0 for every coding but identity. */
int mime_accept_q(const char *v, size_t n, const char *coding);

/* mime_accept_q over an Accept-Encoding sent on several field lines (RFC
 * 9110 §5.3): lines[0..nlines) are the values of each line, in order (from
 * hp_field_lines). The answer is the one mime_accept_q gives for the lines
 * joined with ", ", without a copy or a length cap; nlines == 0 is an
 * absent header. */
int mime_accept_q_lines(const struct hp_slice *lines, size_t nlines, const char *coding);

#endif
