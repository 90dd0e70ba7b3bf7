/* HAProxy PROXY protocol header parser, versions 1 (text) and 2 (binary),
 * after https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt.
 * Pure: bytes in, a result out; no I/O, no allocation.
 *
 * Strict on purpose: a listener configured for the PROXY protocol must
 * never take ordinary client bytes for a header, nor a header it does not
 * fully understand for a client's request.
 *
 * Version 1: "PROXY TCP4|TCP6 <src> <dst> <sport> <dport>\r\n" with single
 * spaces, address literals of the announced family (dotted quad without
 * leading zeros; any valid IPv6 text form), ports 0..65535 in decimal
 * without leading zeros, at most PP_V1_MAX bytes with the CRLF.
 * "PROXY UNKNOWN" may be followed by anything up to the CRLF (the spec says
 * to ignore it), and keeps the peer address.
 *
 * Version 2: the 12-byte signature, version 2, command LOCAL (keeps the
 * peer; family and block are ignored, as the spec says) or PROXY; family
 * AF_UNSPEC or AF_UNIX (keep the peer), AF_INET or AF_INET6 (give the
 * source); transport UNSPEC or STREAM (DGRAM and unknown values are errors);
 * the length must hold the family's address block. The TLVs after the
 * address block are skipped, but each must lie within the announced length
 * and together they must fill it exactly. A header longer than PP_MAX_LEN
 * bytes is refused. */
#ifndef MTHTTPD_PROXY_PROTO_H
#define MTHTTPD_PROXY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

enum { PP_INCOMPLETE = -1, PP_ERROR = -2 };

#define PP_V1_MAX 107   /* the longest version 1 line, CRLF included */
#define PP_V2_FIXED 16  /* signature, version/command, family, length */
#define PP_MAX_LEN 4096 /* the longest version 2 header accepted */

struct pp_result {
	int version;    /* 1 or 2 */
	bool keep_peer; /* LOCAL, UNKNOWN, AF_UNSPEC, AF_UNIX: use the socket's
	                 * own peer address; src and dst are then zeroed */
	struct sockaddr_storage src; /* the client: a sockaddr_in (AF_INET) or a
	                              * sockaddr_in6 (AF_INET6), port set, in
	                              * network byte order as in any sockaddr */
	struct sockaddr_storage dst; /* the address the client connected to */
};

/* Parses a PROXY header at the start of buf[0..len). Returns the number of
 * bytes it occupies (> 0; the connection's own data starts right after),
 * PP_INCOMPLETE when every byte so far is a valid beginning of a header and
 * more are needed, or PP_ERROR as soon as the bytes cannot begin a valid
 * header (in particular when the first bytes match neither signature).
 * *out is filled only on success; it holds copies, nothing points into buf. */
int pp_parse(const char *buf, size_t len, struct pp_result *out);

#endif
