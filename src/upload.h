/* POST /upload: checks, streaming validation into a temporary file, and
 * the durable commit (fsync, rename, fsync dir) on a blocking-I/O pool. */
#ifndef MTHTTPD_UPLOAD_H
#define MTHTTPD_UPLOAD_H

#include <stddef.h>

#include "http_parse.h"

struct conn;

/* Starts and stops the pool of threads that run fsync and rename, so the
 * event loops never wait on the disk. Returns 0 or -errno. */
int upload_pool_start(void);
void upload_pool_stop(void);

/* Removes temporary files a crash may have left in the uploads dir.
 * Returns the number removed. */
int upload_cleanup_stale(void);

/* Checks a POST /upload (token, type, framing, size) and opens the
 * temporary file. Returns 0 when the body is to be streamed in
 * (c->body_mode is BODY_UPLOAD), or the status to answer with *detail and
 * *extra (header lines or NULL) set. */
int upload_begin(struct conn *c, const struct http_request *req, const struct hp_info *info,
		 const char **detail, const char **extra);

/* Body bytes as they arrive. Returns 0, or the status to answer (the
 * upload is then already discarded) with *detail set. */
int upload_data(struct conn *c, const char *p, size_t n, const char **detail);

/* A chunk announces `more` bytes still to come: 413 (the upload is then
 * discarded, *detail set) when they cannot fit in --max-upload, else 0. */
int upload_announce(struct conn *c, uint64_t more, const char **detail);

/* The whole body arrived: check the end of the JSON text and hand the
 * commit to the pool (c->state becomes CS_WAIT_IO), or answer an error. */
void upload_end(struct conn *c);

/* On the worker's thread, when the pool finished c's commit. */
void upload_completed(struct conn *c);

/* The client is gone or the server is stopping: remove what was written.
 * A commit already on the pool finishes, and its files stay consistent. */
void upload_abort(struct conn *c);

#endif
