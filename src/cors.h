/* Cross-origin resource sharing (the Fetch standard's CORS protocol) for
 * --cors-origin: which origins may read responses and upload, and the
 * header lines that say so. Pure: no I/O, no allocation. */
#ifndef MTHTTPD_CORS_H
#define MTHTTPD_CORS_H

#include <stdbool.h>
#include <stddef.h>

#include "http_parse.h"
#include "http_resp.h"

/* Seconds a browser may keep a preflight's answer. */
#define CORS_MAX_AGE 600

/* Checks s[0..n) as a --cors-origin value: "*", or an origin as browsers
 * serialise it, scheme "://" host [":" port] (a host name, an IPv4
 * address or a bracketed IPv6 literal; no path, no trailing slash).
 * Returns 0, or -1 with *why set to a static explanation. */
int cors_parse_origin(const char *s, size_t n, const char **why);

/* The Access-Control-Allow-Origin value for a request whose Origin field
 * is origin[0..n) (NULL: none), given the configured list: "*" when the
 * list holds "*", the listed entry equal to the origin (scheme and host
 * compared case-insensitively), or NULL (no CORS headers). The result
 * points into list. */
const char *cors_match(const char *const *list, size_t nlist, const char *origin, size_t n);

/* cors_match for req's Origin field; several Origin lines are none. */
const char *cors_for_request(const struct http_request *req, const char *const *list, size_t nlist);

/* Is req a CORS preflight (it carries Access-Control-Request-Method)? */
bool cors_is_preflight(const struct http_request *req);

/* Does the answer depend on the request's Origin (some listed origin is
 * not "*")? Then every response says Vary: Origin. */
bool cors_varies(const char *const *list, size_t nlist);

/* The lines of an actual response: Access-Control-Allow-Origin: allow and
 * Access-Control-Expose-Headers (allow may be NULL: nothing), then
 * Vary: Origin when vary. */
void cors_put(struct obuf *o, const char *allow, bool vary);

/* The extra lines of a preflight's 204: the methods and request headers
 * allowed, and how long to remember them. allow_post: the target is
 * /upload. */
void cors_put_preflight(struct obuf *o, bool allow_post);

#endif
