/* Request path -> path relative to the document root. Pure: no I/O. */
#ifndef MTHTTPD_PATH_H
#define MTHTTPD_PATH_H

#include <stdbool.h>
#include <stddef.h>

/* Percent-decodes path[0..n) once (n > 0, path[0] == '/', no query) and
 * normalises it: "." segments and empty segments dropped, ".." removes the
 * previous segment. Writes the result relative to the root (no leading
 * '/', "" for the root itself) NUL-terminated into out[0..outsz).
 * *dir_slash is set when the decoded path ends in '/' (or is the root).
 * Returns 0, or the HTTP status the path earns:
 *   400  malformed %-escape, NUL (%00), invalid UTF-8 that is not overlong;
 *   403  an attempt to leave the root: ".." above the root, a backslash
 *        (raw or decoded), a still-encoded '.', '/', '\\' or '%' after
 *        decoding (double encoding), an overlong UTF-8 sequence;
 *   404  a segment starting with '.' (dot-files and dot-directories);
 *   414  the result does not fit in out. */
int path_resolve(const char *path, size_t n, char *out, size_t outsz, bool *dir_slash);

#endif
