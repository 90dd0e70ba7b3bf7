/* GET and HEAD under /uploads/: a stored upload read back, and with
 * --upload-index the listing of the uploads directory. A handler (see
 * response.h). The URL prefix /uploads/ names the uploads directory
 * wherever it is (inside the root or not), and its documents are served
 * as application/json whatever --types says. */
#ifndef MTHTTPD_UPLOADS_READ_H
#define MTHTTPD_UPLOADS_READ_H

#include <stdbool.h>
#include <stddef.h>

#include "response.h"

/* The most entries one listing page may ask for, and the default. */
#define UR_LIMIT_MAX 1000
#define UR_LIMIT_DEFAULT 100

/* Is req's target under /uploads/ (after decoding and normalising, so
 * /%75ploads/x and /a/../uploads/x are too)? Such requests go to
 * ur_serve, never to the root. */
bool ur_match(const struct http_request *req);

/* Is name[0..n) the name of a stored upload,
 * upload_YYYYMMDD_HHMMSS_<id>.json with <id> of [a-z0-9]? Temporary files
 * never are. */
bool ur_valid_name(const char *name, size_t n);

/* Answers a GET or HEAD that ur_match accepted: /uploads/<name> is the
 * stored document with validators, conditionals and ranges (r->ref holds
 * the file, as for sf_serve); /uploads/ is the listing with
 * --upload-index; anything else 404. Returns H_RESPOND. */
enum hstep ur_serve(const struct hreq *h, struct response *r);

#endif
