/* HAProxy PROXY protocol parser (versions 1 and 2). Pure: no I/O, no
 * malloc. See proxy_proto.h for what is accepted. Every check runs on the
 * bytes already present, so a stream that cannot be a header is refused as
 * soon as the offending byte arrives, not when the buffer fills up. */
#include "proxy_proto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

static const unsigned char v1_sig[6] = { 'P', 'R', 'O', 'X', 'Y', ' ' };
static const unsigned char v2_sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
					  0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

enum { V2_LOCAL = 0, V2_PROXY = 1 };
enum { V2_AF_UNSPEC = 0, V2_AF_INET = 1, V2_AF_INET6 = 2, V2_AF_UNIX = 3 };
enum { V2_T_UNSPEC = 0, V2_T_STREAM = 1 };

/* Address block sizes of version 2, by family (proxy-protocol.txt §2.2). */
static const size_t v2_addr_len[4] = { 0, 12, 36, 216 };

/* Longest address texts: "255.255.255.255" and
 * "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255". */
#define V4_TEXT_MAX 15
#define V6_TEXT_MAX 45

static size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* ---- version 1 ---- */

enum v1_field { F_PROTO, F_SRC, F_DST, F_SPORT, F_DPORT, F_COUNT };

/* Could t[0..n) start (or, when whole, be) one of the protocol names?
 * *af is set to AF_INET, AF_INET6 or AF_UNSPEC for a whole name. */
static bool v1_proto(const unsigned char *t, size_t n, bool whole, int *af)
{
	static const struct {
		const char *name;
		int af;
	} protos[] = { { "TCP4", AF_INET }, { "TCP6", AF_INET6 }, { "UNKNOWN", AF_UNSPEC } };

	for (size_t k = 0; k < sizeof(protos) / sizeof(protos[0]); k++) {
		size_t pn = strlen(protos[k].name);

		if (whole ? n == pn && memcmp(t, protos[k].name, n) == 0
			  : n <= pn && memcmp(t, protos[k].name, n) == 0) {
			*af = protos[k].af;
			return true;
		}
	}
	return false;
}

/* An address literal of family af; a partial one only needs the right
 * characters and length. The whole one is stored in *sa. */
static bool v1_addr(const unsigned char *t, size_t n, bool whole, int af,
		    struct sockaddr_storage *sa)
{
	size_t max = af == AF_INET ? V4_TEXT_MAX : V6_TEXT_MAX;
	char text[V6_TEXT_MAX + 1];

	if (n > max)
		return false;
	for (size_t k = 0; k < n; k++)
		if (af == AF_INET ? !is_digit(t[k]) && t[k] != '.'
				  : !is_hex(t[k]) && t[k] != ':' && t[k] != '.')
			return false;
	if (!whole)
		return true;
	memcpy(text, t, n);
	text[n] = '\0';
	if (af == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)sa;

		s4->sin_family = AF_INET;
		return inet_pton(AF_INET, text, &s4->sin_addr) == 1;
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;

	s6->sin6_family = AF_INET6;
	return inet_pton(AF_INET6, text, &s6->sin6_addr) == 1;
}

/* A port: 1 to 5 digits, no leading zero except "0" itself, <= 65535. */
static bool v1_port(const unsigned char *t, size_t n, bool whole, int af,
		    struct sockaddr_storage *sa)
{
	uint32_t v = 0;

	if (n > 5 || (whole && n == 0) || (n > 1 && t[0] == '0'))
		return false;
	for (size_t k = 0; k < n; k++) {
		if (!is_digit(t[k]))
			return false;
		v = v * 10 + (uint32_t)(t[k] - '0');
	}
	if (v > 65535)
		return false;
	if (whole) {
		if (af == AF_INET)
			((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)v);
		else
			((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)v);
	}
	return true;
}

/* The fields of b[6..end): 0 when all are valid and whole, PP_INCOMPLETE
 * or PP_ERROR. complete: end is the CR of a CRLF; otherwise
 * end is the end of the bytes received so far, and the last field seen may
 * be cut short. */
static int v1_fields(const unsigned char *b, size_t end, bool complete, struct pp_result *out)
{
	int af = AF_UNSPEC;
	size_t i = sizeof(v1_sig);

	for (int f = F_PROTO; f < F_COUNT; f++) {
		size_t s = i;

		while (i < end && b[i] != ' ')
			i++;
		/* A field is whole when a space or the CRLF ends it. */
		bool whole = i < end || complete;
		size_t n = i - s;
		bool ok;

		if (whole && n == 0)
			return PP_ERROR; /* two spaces, or a space before CRLF */
		switch (f) {
		case F_PROTO:
			ok = v1_proto(b + s, n, whole, &af);
			if (ok && whole && af == AF_UNSPEC) {
				/* "PROXY UNKNOWN", then anything up to CRLF. */
				if (!complete)
					return PP_INCOMPLETE;
				memset(out, 0, sizeof(*out));
				out->version = 1;
				out->keep_peer = true;
				return 0;
			}
			break;
		case F_SRC:
			ok = v1_addr(b + s, n, whole, af, &out->src);
			break;
		case F_DST:
			ok = v1_addr(b + s, n, whole, af, &out->dst);
			break;
		case F_SPORT:
			ok = v1_port(b + s, n, whole, af, &out->src);
			break;
		default:
			ok = v1_port(b + s, n, whole, af, &out->dst);
			break;
		}
		if (!ok)
			return PP_ERROR;
		if (!whole)
			return PP_INCOMPLETE;
		if (i == end) {
			/* The CRLF came: only right after the destination port. */
			return f == F_DPORT ? 0 : PP_ERROR;
		}
		i++; /* the single space */
		if (f == F_DPORT)
			return PP_ERROR; /* a space after the last field */
	}
	return PP_ERROR;
}

static int v1_parse(const unsigned char *b, size_t len, struct pp_result *out)
{
	struct pp_result r;
	size_t scan = min_sz(len, PP_V1_MAX);
	size_t cr = 0;
	int rc;

	if (len < sizeof(v1_sig))
		return PP_INCOMPLETE;
	for (size_t i = sizeof(v1_sig); i < scan; i++) {
		if (b[i] == '\n')
			return PP_ERROR;
		if (b[i] == '\r') {
			cr = i;
			break;
		}
	}
	if (cr == 0) {
		if (len >= PP_V1_MAX)
			return PP_ERROR; /* no CRLF within the longest line */
		memset(&r, 0, sizeof(r));
		rc = v1_fields(b, len, false, &r);
		return rc == PP_ERROR ? PP_ERROR : PP_INCOMPLETE;
	}
	if (cr + 1 < len && b[cr + 1] != '\n')
		return PP_ERROR;
	if (cr + 1 == PP_V1_MAX)
		return PP_ERROR; /* the LF would be byte 108 */
	memset(&r, 0, sizeof(r));
	if (cr + 1 == len) {
		rc = v1_fields(b, cr, false, &r);
		return rc == PP_ERROR ? PP_ERROR : PP_INCOMPLETE;
	}
	rc = v1_fields(b, cr, true, &r);
	if (rc < 0)
		return rc;
	r.version = 1;
	memcpy(out, &r, sizeof(r));
	return (int)(cr + 2);
}

/* ---- version 2 ---- */

/* The TLVs in b[start..total), of which b[0..avail) are present: each must
 * end within total, and the last must end at total exactly. Returns
 * PP_ERROR, or 0 when nothing seen so far is wrong. */
static int v2_tlvs(const unsigned char *b, size_t start, size_t total, size_t avail)
{
	size_t p = start;

	while (p < total) {
		if (total - p < 3)
			return PP_ERROR; /* room left for no TLV header */
		if (p + 3 > avail)
			return 0;
		size_t n = (size_t)b[p + 1] << 8 | b[p + 2];

		if (n > total - p - 3)
			return PP_ERROR;
		p += 3 + n;
	}
	return 0;
}

static int v2_parse(const unsigned char *b, size_t len, struct pp_result *out)
{
	if (len <= 12)
		return PP_INCOMPLETE;
	int cmd = b[12] & 0x0f;

	if (b[12] >> 4 != 2 || (cmd != V2_LOCAL && cmd != V2_PROXY))
		return PP_ERROR;
	if (len <= 13)
		return PP_INCOMPLETE;
	int fam = b[13] >> 4, tr = b[13] & 0x0f;

	/* LOCAL: "the receiver must ... discard the protocol block including
	 * the family which is ignored". */
	if (cmd == V2_PROXY && (fam > V2_AF_UNIX || (tr != V2_T_UNSPEC && tr != V2_T_STREAM)))
		return PP_ERROR;
	if (len < PP_V2_FIXED)
		return PP_INCOMPLETE;
	size_t total = PP_V2_FIXED + ((size_t)b[14] << 8 | b[15]);

	if (total > PP_MAX_LEN)
		return PP_ERROR;
	if (cmd == V2_PROXY) {
		size_t start = PP_V2_FIXED + v2_addr_len[fam];

		if (total < start)
			return PP_ERROR;
		if (v2_tlvs(b, start, total, len) < 0)
			return PP_ERROR;
	}
	if (len < total)
		return PP_INCOMPLETE;

	memset(out, 0, sizeof(*out));
	out->version = 2;
	if (cmd == V2_LOCAL || fam == V2_AF_UNSPEC || fam == V2_AF_UNIX) {
		out->keep_peer = true;
	} else if (fam == V2_AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&out->src;
		struct sockaddr_in *d = (struct sockaddr_in *)&out->dst;

		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, b + 16, 4);
		memcpy(&d->sin_addr, b + 20, 4);
		memcpy(&s->sin_port, b + 24, 2); /* both in network order */
		memcpy(&d->sin_port, b + 26, 2);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&out->src;
		struct sockaddr_in6 *d = (struct sockaddr_in6 *)&out->dst;

		s->sin6_family = d->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, b + 16, 16);
		memcpy(&d->sin6_addr, b + 32, 16);
		memcpy(&s->sin6_port, b + 48, 2);
		memcpy(&d->sin6_port, b + 50, 2);
	}
	return (int)total;
}

int pp_parse(const char *buf, size_t len, struct pp_result *out)
{
	const unsigned char *b = (const unsigned char *)buf;

	if (len == 0)
		return PP_INCOMPLETE;
	if (b[0] == v1_sig[0]) {
		if (memcmp(b, v1_sig, min_sz(len, sizeof(v1_sig))) != 0)
			return PP_ERROR;
		return v1_parse(b, len, out);
	}
	if (memcmp(b, v2_sig, min_sz(len, sizeof(v2_sig))) != 0)
		return PP_ERROR;
	return v2_parse(b, len, out);
}
