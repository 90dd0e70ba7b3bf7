/* One client connection: read, parse, dispatch to a handler, write the
 * response it describes, keep-alive. The only place bytes reach a client
 * socket. */
#ifndef MTHTTPD_CONN_H
#define MTHTTPD_CONN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "docroot.h"
#include "ev.h"
#include "fcache.h"
#include "http_parse.h"
#include "log.h"
#include "response.h"

struct upload;
struct ssl_st;

/* Read buffer (request heads and body bytes) and write buffer (response
 * heads and small bodies) share one allocation, held only while busy. */
#define CONN_RBUF 16384
#define CONN_WBUF 8192
#define CONN_BUF (CONN_RBUF + CONN_WBUF)

#define CONN_STATES(X) \
	X(HANDSHAKE)   /* TLS: the handshake, before the first request */ \
	X(READ_HEAD)   /* waiting for / reading a request head */ \
	X(READ_BODY)   /* reading a body: an upload's, or one to discard */ \
	X(WAIT_IO)     /* a blocking job of the handler is running */ \
	X(WRITE)       /* sending the response head and body */ \
	X(LINGER)      /* response sent, draining input before close */

enum conn_state {
#define X(name) CS_##name,
	CONN_STATES(X)
#undef X
};

extern const char *const conn_state_names[];

/* Timer lists of a worker's loop. Each has one fixed timeout. CT_SILENT is
 * the head timeout of a connection handed over without a byte:
 * TCP_DEFER_ACCEPT held it for a second already, so that second is taken
 * off. */
enum conn_timer { CT_HEADER, CT_SILENT, CT_IDLE, CT_BODY, CT_LINGER, CT_DRAIN, CT_COUNT };

/* At shutdown a connection with no request in progress is closed only
 * after this long without one: a busy client's next request, already on
 * its way, is answered (with Connection: close) instead of being lost in
 * a close that crosses it. */
#define DRAIN_IDLE_MS 500

#define DEFER_ACCEPT_S 1 /* the listener's TCP_DEFER_ACCEPT, seconds */

enum body_mode { BODY_NONE, BODY_DISCARD, BODY_UPLOAD };

struct conn {
	struct ev_io io;
	struct ev_timer timer;
	struct ev_job *job;      /* the handler's job while in CS_WAIT_IO */
	struct conn_set *set;
	uint8_t state;           /* enum conn_state */
	uint8_t body_mode;       /* enum body_mode */
	bool keep_alive;         /* after this response */
	bool head_only;          /* HEAD: no body bytes */
	bool closed;             /* in the graveyard */
	bool queued;             /* on the set's run queue */
	bool linger;             /* drain input before closing */
	bool idle;               /* between requests, nothing received */
	bool body_chunked;
	bool expect_100;         /* the client waits for 100 Continue */
	bool interim;            /* the write buffer holds a 1xx, not a response */
	bool rdrained;           /* the last recv emptied the socket */
	bool registered;         /* with the loop's epoll */
	bool pp_pending;         /* --proxy-protocol: the header is still to come */
	struct conn *run_next;   /* the set's run queue */
	struct conn *grave_next; /* the set's graveyard */
	uint64_t rx_seq;         /* the set's rx_seq at this conn's last recv */
	int64_t rx_ns;           /* when the bytes of that recv reached the
				  * host (CLOCK_REALTIME), 0 when unknown */

	char *buf;               /* NULL while idle */
	uint32_t rlen;           /* bytes in the read buffer */
	uint32_t rpos;           /* first unconsumed byte after the head */
	uint32_t head_len;       /* the current request's head */
	uint32_t scanned;        /* bytes the parser found incomplete so far */
	uint32_t wlen, woff;     /* write buffer fill and position */

	/* The body being sent, from the handler's response. */
	const char *mem;
	size_t mem_left;
	int file_fd;             /* -1 when no file body */
	uint64_t file_off, file_left;
	struct byteranges *parts;
	int part;                /* the next part head to queue */
	const char *part_mem;    /* the parts' bytes when in memory, else NULL */
	struct fentry *ref;      /* the cache entry the body lives in */
	struct cz_entry *zref;   /* the compressed body's cache entry */

	uint64_t body_left;      /* Content-Length bytes still to read */
	uint64_t body_rx;        /* bytes received for the body so far */
	int64_t body_start_ms;   /* when the request head was complete */
	struct hp_chunked chunk;

	unsigned requests;       /* on this connection so far */
	int status;              /* of the current response (access log) */
	uint64_t sent_body;      /* body bytes of the current response */
	uint16_t line_off, line_n, ref_off, ref_n, ua_off, ua_n, host_off, host_n; /* into buf */
	uint32_t body_in_wbuf;   /* body bytes copied behind the head */
	uint8_t mx_method;       /* the request's method, for the counters */
	int64_t job_t0_us;       /* when the handler's job was submitted */
	int64_t req_t0_us;       /* first byte of the request (JSON log only) */

	struct upload *up;
	struct ssl_st *tls;      /* HTTPS: every byte goes through it; else NULL */
	const char *cors_allow;  /* Access-Control-Allow-Origin of this response (cors.h) */
	/* The socket's peer, or the client a PROXY header named; and the
	 * client of the current request (the peer, or what a trusted proxy's
	 * X-Forwarded-For / Forwarded says), which the logs show. */
	union conn_addr {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} peer, client;
};

/* The connections of one worker and what they share: the loop, the
 * open-file cache, the access-log buffer. Owned by one thread. */
struct conn_set {
	struct ev_loop *loop;
	struct fcache fcache;
	struct ev_io inotify;
	struct alog_buf alog;
	struct docroot *root;    /* the document root this worker serves */
	struct metrics *m;       /* this worker's counters (metrics.h) */
	bool stopping;
	long nconns;
	struct conn *runq;       /* connections with new input this turn */
	struct conn *graveyard;  /* closed, freed after the current turn */
	/* Freshness (see make_fresh): every change queued before fresh_ns
	 * has been applied; rx_seq counts recv calls that brought bytes, and
	 * fresh_seq is rx_seq as it was when inotify was last read. */
	uint64_t rx_seq, fresh_seq;
	int64_t fresh_ns;
};

/* Sets up s on loop l (timer lists, open-file cache, access-log buffer),
 * counting into m. Returns 0 or -errno; without inotify the cache just
 * stays empty. */
int conn_set_init(struct conn_set *s, struct ev_loop *l, struct metrics *m);
void conn_set_destroy(struct conn_set *s);

/* Runs the connections queued this turn, then frees the closed ones. */
void conn_set_turn(struct conn_set *s);

/* Shutdown: from now on responses say Connection: close, and idle
 * connections are closed. */
void conn_set_stop(struct conn_set *s);

/* Closes every connection (the shutdown deadline passed). */
void conn_set_close_all(struct conn_set *s);

/* Takes ownership of an accepted non-blocking socket, counted against
 * --max-conns (503 past it; a TLS one is just closed then). With tls the
 * connection starts with a TLS handshake. Returns false when it was closed
 * at once. */
bool conn_accept(struct conn_set *s, int fd, const void *addr, unsigned addrlen, bool tls);

/* Client connections open in the whole process. */
long conn_open_count(void);

#endif
