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

#endif
