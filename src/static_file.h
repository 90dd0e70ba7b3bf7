/* GET and HEAD of files under the root. */
#ifndef MTHTTPD_STATIC_FILE_H
#define MTHTTPD_STATIC_FILE_H

#include <stdbool.h>

#include "http_parse.h"

struct conn;

/* Resolves req's path under the root (confined by openat2), picks the
 * type, and prepares the response on c. Returns 0 when a response was
 * prepared, or the error status to answer with *detail set. */
int sf_serve(struct conn *c, const struct http_request *req, const struct hp_info *info,
	     const char **detail);

/* Multipart/byteranges: prepares the next part's head (or the closing
 * boundary) in c's write buffer and its file range. Returns false when
 * there is nothing more to send. */
bool sf_multipart_next(struct conn *c);

/* Releases what a multipart response holds. */
void sf_multipart_free(struct conn *c);

#endif
