/* One client connection: read, parse, dispatch, write, keep-alive. */
#ifndef MTHTTPD_CONN_H
#define MTHTTPD_CONN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "http_parse.h"
#include "http_resp.h"

struct worker;
struct upload;
struct multipart;
struct fentry;

/* Read buffer (request heads and body bytes) and write buffer (response
 * heads and small bodies) share one allocation, held only while busy. */
#define CONN_RBUF 16384
#define CONN_WBUF 8192
#define CONN_BUF (CONN_RBUF + CONN_WBUF)

#define CONN_STATES(X) \
	X(READ_HEAD)   /* waiting for / reading a request head */ \
	X(READ_BODY)   /* reading a body: an upload's, or one to discard */ \
	X(WAIT_IO)     /* an upload is being flushed off the loop */ \
	X(WRITE)       /* sending the response head and body */ \
	X(LINGER)      /* response sent, draining input before close */

enum conn_state {
#define X(name) CS_##name,
	CONN_STATES(X)
#undef X
};

extern const char *const conn_state_names[];

enum body_mode { BODY_NONE, BODY_DISCARD, BODY_UPLOAD };

struct conn {
	int fd;
	uint8_t state;           /* enum conn_state */
	int8_t tl;               /* enum tlist_id the conn is on */
	uint8_t body_mode;       /* enum body_mode */
	bool keep_alive;         /* after this response */
	bool head_only;          /* HEAD: no body bytes */
	bool closed;             /* in the graveyard */
	bool io_pending;         /* a blocking job holds this conn */
	bool linger;             /* drain input before closing */
	bool reject;             /* accepted over --max-conns */
	bool idle;               /* between requests, nothing received */
	bool body_chunked;
	bool expect_100;         /* the client waits for 100 Continue */
	struct worker *w;
	struct conn *tprev, *tnext;
	int64_t deadline_ms;
	struct conn *next_done;  /* graveyard / completion queue link */

	char *buf;               /* NULL while idle */
	uint32_t rlen;           /* bytes in the read buffer */
	uint32_t rpos;           /* first unconsumed byte after the head */
	uint32_t head_len;       /* the current request's head */
	uint32_t scanned;        /* bytes the parser found incomplete so far */
	uint32_t wlen, woff;     /* write buffer fill and position */
	bool rdrained;           /* the last recv emptied the socket */
	int file_fd;             /* -1 when no file body; owned by fe */
	uint64_t file_off, file_left;
	const char *mem;         /* a body in memory (owned by fe) */
	size_t mem_left;
	struct fentry *fe;       /* the file entry the body comes from */
	uint64_t body_left;      /* Content-Length bytes still to read */
	struct hp_chunked chunk;

	unsigned requests;       /* on this connection so far */
	int status;              /* of the current response (access log) */
	uint64_t sent_body;      /* body bytes of the current response */
	uint16_t line_off, line_n, ref_off, ref_n, ua_off, ua_n; /* into buf */

	struct upload *up;
	struct multipart *mp;    /* multipart/byteranges in progress, or NULL */
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} peer;
};

/* Takes ownership of a connected non-blocking socket. Returns the conn, or
 * NULL (the socket is then closed). */
struct conn *conn_new(struct worker *w, int fd, const void *addr, unsigned addrlen, bool reject);

/* Runs the state machine after readiness events. */
void conn_event(struct conn *c, uint32_t events);

/* A timer of c fired (on list id). */
void conn_timeout(struct conn *c, int id);

/* Closes the socket; the struct is freed after the current event batch (or
 * when a blocking job that holds it finishes). */
void conn_close(struct conn *c);
void conn_free(struct conn *c);

/* Worker shutdown: closes c if it is idle between requests. */
void conn_stop_idle(struct conn *c);

/* Response building for handlers. conn_head starts a response with status,
 * returning the buffer to append header fields to; conn_commit ends the
 * head (Connection, Keep-Alive), appends body[0..n) unless HEAD, and starts
 * writing. conn_entry hands c a reference to the file entry that owns the
 * body's descriptor or bytes; conn_file and conn_mem then name the body. */
struct obuf *conn_head(struct conn *c, struct obuf *o, int status);
void conn_commit(struct conn *c, struct obuf *o, const char *body, size_t n);
void conn_entry(struct conn *c, struct fentry *e);
void conn_file(struct conn *c, int fd, uint64_t off, uint64_t len);
void conn_mem(struct conn *c, const char *p, size_t n);

/* A complete error response: text/plain body "<code> <reason>: detail".
 * extra is NULL or more header lines ending in CRLF. Closes afterwards when
 * the status leaves framing unknown. */
void conn_error(struct conn *c, int status, const char *detail, const char *extra);

/* The upload path resumes the state machine after its own steps. */
void conn_resume(struct conn *c);

/* The peer's address as text (for the server log). */
const char *conn_peer_str(const struct conn *c, char *buf, size_t cap);

#endif
