/* The on-the-fly compressed representation of a static file: whether a
 * request gets one, and where its bytes come from (the compress.h cache,
 * filled inline for small files and in the background for large ones). */
#ifndef MTHTTPD_SF_COMPRESS_H
#define MTHTTPD_SF_COMPRESS_H

#include <stdbool.h>
#include <stddef.h>

#include "fcache.h"
#include "response.h"

struct cz_entry;

/* Files smaller than this are sent as they are: compression would not pay. */
#define SFZ_MIN 256
/* Files up to this size (their bytes are in the open-file cache) are
 * compressed inline on their first request, in under 2 ms at the default
 * levels; larger ones in the background, while that request gets the
 * identity. */
#define SFZ_INLINE_MAX FCACHE_DATA_MAX

/* True for the types worth compressing: text/ types, JSON, JavaScript, XML
 * (SVG, Atom, RSS, XHTML), YAML and wasm. type is a Content-Type value. */
bool sfz_compressible(const char *type);

/* True when a Cache-Control field of req has the no-transform directive. */
bool sfz_no_transform(const struct http_request *req);

/* For the identity representation of e: when compression is on, the client
 * takes gzip or br (br on a tie) and the file qualifies (type, size, no
 * Range, no no-transform), the compressed representation. On success *z
 * fills out as a representation (variant, ETag with its suffix, Content-
 * Length of the compressed bytes; hdr NULL: the 200 fields are cz_hdr()) and
 * the entry is returned with a reference the response must release; NULL
 * means the identity is sent. */
struct cz_entry *sfz_choose(const struct hreq *h, struct fentry *e, struct fc_rep *z);

#endif
