/* What a handler is given (struct hreq) and what it answers (struct
 * response). A handler never touches a socket or a connection: it fills a
 * response description and returns; conn.c alone turns that into bytes
 * (lighttpd's write queue, darkhttpd's reply_type). */
#ifndef MTHTTPD_RESPONSE_H
#define MTHTTPD_RESPONSE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "http_parse.h"
#include "http_resp.h"
#include "range.h"

struct cz_entry;
struct fcache;
struct fentry;
struct metrics;

/* The request as a handler sees it. Everything is borrowed for the
 * duration of the call. */
struct hreq {
	const struct http_request *req;
	const struct hp_info *info;
	struct fcache *fc;          /* the worker's open-file cache */
	time_t now;
	bool head_only;             /* HEAD: the body is described, never sent */
	const char *peer;           /* the client's address as text, for logs */
	struct metrics *m;          /* this worker's counters */
	int root_fd;                /* the document root (docroot.h) */
	const char *root;           /* and its resolved path */
};

/* What a handler asks of the connection next. */
enum hstep {
	H_RESPOND,  /* the response is filled: send it */
	H_BODY,     /* read the request body and feed it to the handler */
	H_IO,       /* blocking work is queued: wait for its completion */
};

enum body_kind {
	RB_NONE,    /* no body (304, HEAD-only cases, or described in hdr) */
	RB_MEM,     /* mem[0..mem_n), owned by ref or static */
	RB_FILE,    /* fd[off .. off+len), owned by ref */
	RB_PARTS,   /* multipart/byteranges of fd, parts owned by the response */
};

/* A multipart/byteranges body: the parts' heads are generated as they
 * are sent (resp_part_head). */
struct byteranges {
	int n;
	uint64_t size;               /* of the whole representation */
	const char *type;            /* each part's Content-Type */
	char boundary[32];
	struct byte_range r[RANGE_MAX];
};

struct response {
	int status;
	/* Set for an error: the connection writes Content-Type text/plain,
	 * Content-Length and the one-line body "<code> <reason>: <detail>". */
	const char *detail;
	char detail_buf[128];        /* room for a detail with numbers */
	/* Header lines after Date/Server, each ending in CRLF. It points into
	 * the connection's write buffer, so it is never copied again. */
	struct obuf hdr;
	enum body_kind body;
	const char *mem;             /* RB_MEM: the body; RB_PARTS: the whole
				      * representation's bytes when in memory
				      * (the parts are cut from them), else NULL */
	size_t mem_n;
	int fd;
	uint64_t off, len;
	struct byteranges *parts;
	struct fentry *ref;          /* a cache reference the body lives in */
	struct cz_entry *zref;       /* or a compressed-body cache reference */
	bool close;                  /* the framing is lost: close after */
	bool send_continue;          /* H_BODY: answer Expect: 100-continue */
};

/* Appends "Content-Range: bytes first-last/size" and CRLF. */
void resp_content_range(struct obuf *o, uint64_t first, uint64_t last, uint64_t size);

/* The head of part i of br (CRLF, boundary, type, range, blank line), or
 * with i == br->n the closing boundary. */
void resp_part_head(struct obuf *o, const struct byteranges *br, int i);

/* The length of br's whole body: every part's head and bytes, and the
 * closing boundary. */
uint64_t resp_parts_length(const struct byteranges *br);

/* The q-values (0..1000) the request's Accept-Encoding gives br and gzip,
 * over all its field lines (RFC 9110 5.3); both 0 without the field. */
void hreq_accept_brgz(const struct hreq *h, int *br, int *gzip);

/* Fills r as an error with detail (a string that outlives r, or r's own
 * detail_buf). Returns H_RESPOND. */
static inline enum hstep resp_error(struct response *r, int status, const char *detail)
{
	r->status = status;
	r->detail = detail;
	r->body = RB_NONE;
	return H_RESPOND;
}

#endif
