/* POST /upload, a handler (see response.h): checks, streaming validation
 * into a temporary file, and the durable commit (fsync, rename, fsync of
 * the directory) as jobs for the blocking-I/O pool. The connection drives
 * it: it feeds the body, submits upload_job() whenever a call answers
 * H_IO, and calls upload_io_done() when that job is done. */
#ifndef MTHTTPD_UPLOAD_H
#define MTHTTPD_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ev.h"
#include "response.h"

/* The most body bytes one upload_data() call may bring. */
#define UPLOAD_SLICE_MAX (16 * 1024)

struct upload;

/* Records the process umask (call once at start-up, before threads). */
void upload_init(void);

/* Removes temporary files a crash may have left in the uploads dir.
 * Returns the number removed. */
int upload_cleanup_stale(void);

/* Sets up --upload-rate and --upload-quota (measures the uploads
 * directory). Call once at start-up, before workers run. */
void upload_limits_init(void);

/* Does the request carry the --upload-token (true when none is set)? */
bool upload_token_ok(const struct hp_info *info);

/* Checks a POST /upload (token, type, framing, size). H_BODY: *out is the
 * new upload, owned by the caller (upload_free), and r->send_continue says
 * whether to send 100 Continue first. H_RESPOND: r is the refusal. */
enum hstep upload_begin(const struct hreq *h, struct response *r, struct upload **out);

/* Body bytes as they arrive (n <= UPLOAD_SLICE_MAX). H_BODY: more, please;
 * H_IO: submit upload_job() and wait; H_RESPOND: r is the refusal and
 * nothing is left on disk. */
enum hstep upload_data(struct upload *u, const char *p, size_t n, struct response *r);

/* A chunk announces `more` bytes still to come: H_RESPOND with 413 when
 * they cannot fit in --max-upload, else H_BODY. */
enum hstep upload_announce(struct upload *u, uint64_t more, struct response *r);

/* The whole body arrived: H_IO (submit the commit) or H_RESPOND (invalid
 * JSON). */
enum hstep upload_end(struct upload *u, struct response *r);

/* The job to submit after H_IO; the caller sets its loop, done and ctx. */
struct ev_job *upload_job(struct upload *u);

/* On the caller's thread once the job is done: H_BODY (keep reading) or
 * H_RESPOND (the 201, whose body lives in u, or an error). */
enum hstep upload_io_done(struct upload *u, struct response *r);

/* The body bytes received so far. */
uint64_t upload_size(const struct upload *u);

/* Frees u, removing whatever it left on disk unless it was committed.
 * Never while its job is queued. NULL is fine. */
void upload_free(struct upload *u);

#endif
