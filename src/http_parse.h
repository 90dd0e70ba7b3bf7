/* Pure HTTP/1.1 request parser (RFC 9112), in the shape of picohttpparser:
 * bytes in, slices out; no I/O, no allocation. Every slice points into the
 * caller's buffer and is valid only while that buffer is. */
#ifndef MTHTTPD_HTTP_PARSE_H
#define MTHTTPD_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HP_MAX_HEAD 8192   /* request line + fields + final CRLF, in bytes */
#define HP_MAX_HEADERS 100 /* field lines at most */

enum { HP_INCOMPLETE = -1, HP_ERROR = -2 };

struct hp_slice {
	const char *p; /* NULL when absent */
	size_t n;
};

struct hp_header {
	struct hp_slice name, value; /* value has surrounding OWS trimmed */
};

enum hp_method { HP_M_OTHER, HP_M_GET, HP_M_HEAD, HP_M_POST };
enum hp_form { HP_ORIGIN, HP_ABSOLUTE, HP_ASTERISK };

struct http_request {
	struct hp_slice line;      /* the request line without CRLF (for the access log) */
	struct hp_slice method;    /* the method token as sent */
	enum hp_method m;          /* GET/HEAD/POST, else HP_M_OTHER (case-sensitive) */
	struct hp_slice target;    /* the raw request-target */
	enum hp_form form;
	struct hp_slice authority; /* absolute-form only: host[:port], else {NULL,0} */
	struct hp_slice path;      /* absolute-path, starting with '/', no query;
	                            * "*" for the asterisk form */
	struct hp_slice query;     /* after '?', without it; p == NULL when no '?' */
	int minor;                 /* 0 for HTTP/1.0, 1 for HTTP/1.1 .. HTTP/1.9 */
	size_t nheaders;
	struct hp_header headers[HP_MAX_HEADERS];
	int status;                /* on HP_ERROR: 400, 414, 431 or 505 */
	const char *reason;        /* on HP_ERROR: static text saying what was wrong */
};

/* Parses one request head from buf[0..len).
 * Returns the number of bytes the head takes (through the blank line),
 * HP_INCOMPLETE when more bytes are needed, or HP_ERROR with req->status and
 * req->reason set. Only the first HP_MAX_HEAD bytes are ever looked at: when
 * len >= HP_MAX_HEAD and no complete head is found, the answer is HP_ERROR
 * with 414 (request line not complete) or 431 (fields too long).
 * Never reads buf[len] or beyond. */
int hp_parse_request(const char *buf, size_t len, struct http_request *req);

/* What the fields of a parsed request mean for framing and dispatch. */
struct hp_info {
	struct hp_slice host;      /* the Host value; p == NULL when absent */
	bool has_length;           /* Content-Length present */
	uint64_t length;           /* its value */
	bool chunked;              /* Transfer-Encoding: chunked */
	bool keep_alive;           /* version default adjusted by Connection */
	bool expect_continue;      /* 100-continue is a member of the Expect list
	                            * (HTTP/1.1), also when the answer is 417 */
	struct hp_slice content_type, authorization, user_agent, referer;
	struct hp_slice if_match, if_none_match, if_modified_since,
		if_unmodified_since, if_range, range, accept_encoding;
	/* List fields sent on several lines: the slice holds the first line
	 * only; hp_join_field() gives the whole list. */
	bool if_match_multi, if_none_match_multi, accept_encoding_multi;
	/* Singleton fields sent more than once (RFC 9110 §5.3: invalid); the
	 * slice keeps the first. */
	bool content_type_dup, authorization_dup;
};

/* Interprets the fields of req (a successful hp_parse_request).
 * Returns 0, or the status the request earns with *reason set to static
 * text: 400 (no Host in 1.1, several Host, bad Host syntax, CL with TE,
 * different CL values, CL not all digits or overflowing, bad TE list, TE in
 * HTTP/1.0), 501 (a well-formed TE list ending in chunked with another
 * coding), 417 (an expectation other than 100-continue; the whole list is
 * read first, so info is complete, expect_continue included). Repeated
 * Range, If-Range, If-Modified-Since and If-Unmodified-Since are dropped
 * (invalid, so ignored); for other repeated singletons the first wins. */
int hp_analyze(const struct http_request *req, struct hp_info *info, const char **reason);

/* The values of every field line called name (case-insensitive), in the
 * order sent, into out[0..cap): a list field sent on several lines is one
 * list (RFC 9110 §5.3). Returns how many were stored; with cap ==
 * HP_MAX_HEADERS none is ever left out, whatever their length. The slices
 * point into the request's buffer, like req's own. */
size_t hp_field_lines(const struct http_request *req, const char *name, struct hp_slice *out,
		      size_t cap);

/* Joins the values of every field called name (case-insensitive) with
 * ", " into out[0..cap). Returns the length, or 0 when it does not fit.
 * Kept for old callers: hp_field_lines() has no length cap. */
size_t hp_join_field(const struct http_request *req, const char *name, char *out, size_t cap);

/* Streaming decoder of a chunked body (RFC 9112 §7.1). */
struct hp_chunked {
	int state;
	uint64_t left;      /* bytes left in the current chunk */
	unsigned line;      /* bytes in the current size or trailer line */
	unsigned trailers;  /* bytes of trailer section so far */
	bool done;          /* the last chunk and trailer section were read */
};

void hp_chunked_init(struct hp_chunked *c);

/* Feeds buf[0..len). Sets *consumed to the bytes used. Data found is
 * returned in *data (data->n may be 0), pointing into buf; a call returns
 * after at most one run of data, so call again with the rest. Returns 0
 * (go on; check c->done), or HP_ERROR for a malformed body (bad chunk size,
 * overflow, bad extension, missing CRLF, bad or oversized trailer section;
 * size/extension lines over 4096 bytes or trailers over 8192 bytes). */
int hp_chunked_feed(struct hp_chunked *c, const char *buf, size_t len,
		    size_t *consumed, struct hp_slice *data);

/* Case-insensitive comparison of a slice with a NUL-terminated ASCII string. */
bool hp_slice_ieq(struct hp_slice s, const char *lit);

#endif
