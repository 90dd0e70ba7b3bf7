/* GET and HEAD of files under the root: a handler (see response.h). */
#ifndef MTHTTPD_STATIC_FILE_H
#define MTHTTPD_STATIC_FILE_H

#include "response.h"

/* Resolves h's path under the root (confined by openat2), picks the type
 * and representation, evaluates conditionals and ranges, and describes the
 * response in r: a file response holds a cache reference in r->ref and a
 * multipart body in r->parts, which the caller releases. Returns
 * H_RESPOND. */
enum hstep sf_serve(const struct hreq *h, struct response *r);

/* Serves the file of entry e (one reference, which passes to r->ref) as
 * sf_serve does once it has found it: its type e->mt, precompressed
 * siblings unless marked FC_ABSENT, conditionals and ranges. For other
 * handlers that open their own files (fcache_temp). Returns H_RESPOND. */
enum hstep sf_serve_entry(const struct hreq *h, struct fentry *e, struct response *r);

#endif
