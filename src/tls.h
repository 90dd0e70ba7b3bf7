/* HTTPS through OpenSSL 3: the server contexts (one per certificate/key
 * pair, chosen by SNI), the protocol policy, session resumption, reload on
 * SIGHUP, and the non-blocking record I/O conn.c calls in place of recv,
 * send and sendfile for a TLS connection. No socket is touched here except
 * through the SSL object conn.c hands in. */
#ifndef MTHTTPD_TLS_H
#define MTHTTPD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "http_resp.h"

struct ssl_st; /* OpenSSL's SSL */

/* Builds the contexts from cfg's --tls-cert/--tls-key pairs. Returns 0, or
 * -1 with a one-line reason in err (missing or unreadable file, key not
 * matching its certificate, a key no cipher of the policy can use). An
 * expired certificate is only warned about. */
int tls_setup(char *err, size_t cap);

/* Is HTTPS configured (tls_setup succeeded with at least one pair)? */
bool tls_enabled(void);

/* SIGHUP: reads every pair again. On failure the contexts in use stay and
 * the error is logged; connections already open keep theirs. Returns 0 or
 * -1. */
int tls_reload(void);

/* The process's contexts, at exit. */
void tls_shutdown_all(void);

/* "Strict-Transport-Security: max-age=N\r\n", or "" without --hsts. */
extern char tls_hsts_header[64];

/* Appends "Location: https://HOST[:PORT]TARGET\r\n" for --redirect-https:
 * host is the Host value (its port, if any, replaced by the TLS port). */
void tls_redirect_location(struct obuf *o, const char *host, size_t host_n, const char *target,
			   size_t target_n);

/* A server-side SSL object on fd with the current contexts. Returns NULL
 * when out of memory. The caller frees it with tls_free. */
struct ssl_st *tls_new(int fd);

/* Sends close_notify once (best effort, never waits): before a
 * half-close, or from tls_free. */
void tls_close_notify(struct ssl_st *s);

/* Queues close_notify behind the response gathered (when it fits), so the
 * next tls_flush sends both in one write(): for a response that ends the
 * connection. tls_close_notify then has nothing more to do. */
void tls_end(struct ssl_st *s);

/* Frees s, after tls_close_notify and a last flush when notify is set. */
void tls_free(struct ssl_st *s, bool notify);

enum tls_hs {
	TLS_HS_DONE,    /* handshake complete */
	TLS_HS_AGAIN,   /* needs the socket to be readable or writable */
	TLS_HS_FAILED,  /* counted and (rate-limited) logged; close */
	TLS_HS_PLAIN,   /* the client spoke plain HTTP: answer 400 in clear */
};

/* Drives the handshake. peer is for the (rate-limited) failure log. */
enum tls_hs tls_handshake(struct ssl_st *s, const char *peer);

/* The socket reported readiness (an epoll event with EPOLLIN, EPOLLRDHUP,
 * EPOLLHUP or EPOLLERR): reads may find bytes again (see tls.c). */
void tls_readable(struct ssl_st *s);

/* The kernel's receive time (CLOCK_REALTIME ns) of the last bytes read
 * from the socket, or 0 when unknown: every byte tls_read has returned
 * arrived no later. */
int64_t tls_rx_ns(struct ssl_st *s);

/* Like recv: bytes read (as many records as fit in n), 0 at close_notify
 * or end of stream, or -1 with errno EAGAIN (no more input now) or
 * ECONNRESET. A short count means the socket had no more bytes. */
ssize_t tls_read(struct ssl_st *s, void *p, size_t n);

/* Like sendmsg: writes at most one record's worth of iov (small pieces
 * gathered into one record), returns the bytes taken or -1 with errno
 * EAGAIN or EPIPE. After EAGAIN the same bytes must be offered again. */
ssize_t tls_writev(struct ssl_st *s, const struct iovec *iov, int n);

/* File bytes fd[off .. off+len): with kTLS SSL_sendfile, else one pread of
 * up to 256 KiB (the connection's share of the stage, see tls.c) into the
 * worker's buffer, written as 16 KiB records until the socket is full.
 * Returns bytes sent, 0 when the file ended early, or -1 with errno EAGAIN
 * or EPIPE/EIO. */
ssize_t tls_sendfile(struct ssl_st *s, int fd, uint64_t off, size_t len);

/* Writes the records gathered so far (see tls.c): at the end of a
 * response, before waiting for the next request. Returns 0 when nothing is
 * left, -EAGAIN (the socket is full: wait for it), or -EPIPE. */
int tls_flush(struct ssl_st *s);

/* At the end of a worker's turn: sends what any connection left gathered
 * in this thread's stage (tls_flush normally has). */
void tls_turn_end(void);

/* When a worker ends: frees this thread's stage and file buffer. */
void tls_thread_end(void);

/* Handshake failures since start (for tests and logs). */
unsigned long tls_failures(void);

#endif
