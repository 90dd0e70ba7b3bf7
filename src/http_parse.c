/* Pure HTTP/1.1 request parser (RFC 9112): request line, field lines, the
 * fields that decide framing, and the chunked transfer coding. Strict by
 * design: whatever the grammar does not allow is an error, because every
 * leniency is a place where we and a proxy in front of us may disagree on
 * where a request ends (request smuggling). */
#include "http_parse.h"

#include "chars.h"

#include <string.h>
#include <strings.h>

/* HP_NO_SIMD builds the scalar scan alone, to test it on x86-64 too. */
#if defined(__SSE2__) && !defined(HP_NO_SIMD)
#define HP_SSE2 1
#include <emmintrin.h>
#endif

#define COLD __attribute__((cold, noinline))
#define ALWAYS_INLINE inline __attribute__((always_inline))

/* Character classes, one bit each, so every scan is one table lookup. */
#define C_TCHAR 0x01 /* token (RFC 9110 §5.6.2) */
#define C_HOST 0x02  /* reg-name: unreserved / sub-delims (RFC 3986 §3.2.2) */
#define C_HEX 0x04   /* HEXDIG */
#define C_QD 0x08    /* qdtext (RFC 9110 §5.6.4): HTAB SP 21 23-5B 5D-7E obs-text */
#define C_FVAL 0x10  /* field value byte: VCHAR obs-text SP HTAB */
#define C_TGT 0x20   /* request-target byte with no meaning to us: VCHAR but # % ? */
#define C_NOPATH 0x40 /* VCHAR that RFC 3986 allows in no path: " < > ` { } | ^ [ ] */

static const unsigned char cls[256] = {
	/* 0x00 */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 0x10 */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 0x20 */ 0x18, 0x3b, 0x70, 0x19, 0x3b, 0x19, 0x3b, 0x3b, 0x3a, 0x3a, 0x3b, 0x3b, 0x3a, 0x3b, 0x3b, 0x38,
	/* 0x30 */ 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x38, 0x3a, 0x78, 0x3a, 0x78, 0x18,
	/* 0x40 */ 0x38, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b,
	/* 0x50 */ 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x78, 0x30, 0x78, 0x79, 0x3b,
	/* 0x60 */ 0x79, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b,
	/* 0x70 */ 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x3b, 0x78, 0x79, 0x78, 0x3b, 0x00,
	/* 0x80 */ 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18,
	/* 0x90 */ 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18,
	/* 0xa0 */ 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18,
	/* 0xb0 */ 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18,
	/* 0xc0 */ 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18,
	/* 0xd0 */ 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18,
	/* 0xe0 */ 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18,
	/* 0xf0 */ 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18,
};

static inline bool is(unsigned char c, unsigned char klass)
{
	return (cls[c] & klass) != 0;
}

/* ASCII-only on purpose: the locale must not change how a field name or a
 * transfer coding is recognised. */
static bool ieq(const unsigned char *p, size_t n, const char *lit, size_t litn)
{
	size_t i;

	if (n != litn)
		return false;
	for (i = 0; i < n; i++)
		if (ch_lower(p[i]) != ch_lower((unsigned char)lit[i]))
			return false;
	return true;
}

bool hp_slice_ieq(struct hp_slice s, const char *lit)
{
	if (s.p == NULL)
		return false;
	return ieq((const unsigned char *)s.p, s.n, lit, strlen(lit));
}

/* ---- Host syntax (RFC 3986 §3.2.2, §3.2.3) ---- */

/* dec-octet "." dec-octet "." dec-octet "." dec-octet, no leading zeros. */
static bool ipv4_valid(const unsigned char *p, size_t n)
{
	size_t i = 0;
	int part;

	for (part = 0; part < 4; part++) {
		size_t d0 = i;
		unsigned v = 0;

		if (part > 0) {
			if (i == n || p[i] != '.')
				return false;
			d0 = ++i;
		}
		while (i < n && ch_is_digit(p[i]) && i - d0 < 3)
			v = v * 10 + (p[i++] - '0');
		if (i == d0 || v > 255 || (i - d0 > 1 && p[d0] == '0'))
			return false;
	}
	return i == n;
}

/* IPv6address: eight 16-bit groups, one "::" standing for one or more zero
 * groups, the last two groups possibly written as an IPv4 address. */
static bool ipv6_valid(const unsigned char *p, size_t n)
{
	size_t i = 0;
	int groups = 0;
	bool elided = false;

	if (n >= 2 && p[0] == ':' && p[1] == ':') {
		elided = true;
		i = 2;
		if (i == n)
			return true;
	}
	for (;;) {
		size_t g0 = i;

		while (i < n && is(p[i], C_HEX))
			i++;
		if (i < n && p[i] == '.') {
			if (!ipv4_valid(p + g0, n - g0))
				return false;
			groups += 2;
			break;
		}
		if (i == g0 || i - g0 > 4)
			return false;
		groups++;
		if (i == n)
			break;
		if (p[i] != ':' || ++i == n)
			return false;
		if (p[i] == ':') {
			if (elided)
				return false;
			elided = true;
			if (++i == n)
				break;
		}
		if (groups > 8)
			return false;
	}
	return elided ? groups <= 7 : groups == 8;
}

/* "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ) */
static bool ipvfuture_valid(const unsigned char *p, size_t n)
{
	size_t i = 1;

	if (n < 4 || ch_lower(p[0]) != 'v')
		return false;
	while (i < n && is(p[i], C_HEX))
		i++;
	if (i == 1 || i == n || p[i] != '.' || ++i == n)
		return false;
	for (; i < n; i++)
		if (!is(p[i], C_HOST) && p[i] != ':')
			return false;
	return true;
}

/* uri-host [ ":" port ] with a non-empty host (RFC 9110 §4.2.1 forbids an
 * empty host in http URIs). No userinfo: RFC 9110 §4.2.4 says to treat it as
 * an error, it is a phishing device. */
static bool host_port_valid(const unsigned char *p, size_t n)
{
	size_t i = 0;

	if (n == 0)
		return false;
	if (p[0] == '[') {
		const unsigned char *close = memchr(p, ']', n);
		size_t in;

		if (close == NULL)
			return false;
		in = (size_t)(close - p) - 1;
		if (!ipv6_valid(p + 1, in) && !ipvfuture_valid(p + 1, in))
			return false;
		i = in + 2;
	} else {
		while (i < n && p[i] != ':') {
			if (is(p[i], C_HOST))
				i++;
			else if (p[i] == '%' && n - i > 2 && is(p[i + 1], C_HEX) &&
				 is(p[i + 2], C_HEX))
				i += 3;
			else
				return false;
		}
		if (i == 0)
			return false;
	}
	if (i == n)
		return true;
	if (p[i] != ':')
		return false;
	/* port = *DIGIT: "host:" is allowed by the grammar. */
	for (i++; i < n; i++)
		if (!ch_is_digit(p[i]))
			return false;
	return true;
}

/* ---- Request head ---- */

static COLD int fail(struct http_request *req, int status, const char *reason)
{
	req->status = status;
	req->reason = reason;
	return HP_ERROR;
}

/* Out of bytes with everything so far valid: wait for more, unless the limit
 * is what stopped us. */
static int need_more(struct http_request *req, size_t lim, bool line_done)
{
	if (lim < HP_MAX_HEAD)
		return HP_INCOMPLETE;
	if (line_done)
		return fail(req, 431, "request head too large");
	return fail(req, 414, "request line too long");
}

/* Index of the first byte at or after i that cannot be in a field value. */
static size_t scan_value(const unsigned char *s, size_t i, size_t lim)
{
#ifdef HP_SSE2
	/* Sixteen bytes at a time: flag bytes <= 0x1F and 0x7F; HTAB is the one
	 * control byte allowed, stepped over on the scalar path. */
	const __m128i ctl = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f);

	while (lim - i >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		__m128i low = _mm_cmpeq_epi8(_mm_min_epu8(v, ctl), v);
		int m = _mm_movemask_epi8(_mm_or_si128(low, _mm_cmpeq_epi8(v, del)));

		if (m == 0) {
			i += 16;
			continue;
		}
		i += (size_t)__builtin_ctz((unsigned)m);
		if (s[i] != '\t')
			return i;
		i++;
	}
#endif
	while (i < lim && is(s[i], C_FVAL))
		i++;
	return i;
}

static COLD int version_error(struct http_request *req, size_t k, unsigned char c)
{
	if (c == '\n')
		return fail(req, 400, "bare LF in request line");
	if (k == 9)
		return fail(req, 400, "bare CR in request line");
	if (k == 8 && ch_is_ows(c))
		return fail(req, 400, "trailing whitespace in request line");
	return fail(req, 400, "malformed HTTP version");
}

/* Printable ASCII that RFC 3986 allows in neither a path (pchar) nor a
 * query. The backslash is not among them: it is judged by the path rules
 * (an attempt to leave the root, 403). In a query, '{', '}', '|', '^' and
 * '`' are accepted as browsers send them unencoded there (WHATWG URL's
 * query percent-encode set leaves them out); '"', '<' and '>' never are. */
static bool path_bytes_valid(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (is(p[i], C_NOPATH))
			return false;
	return true;
}

static bool query_bytes_valid(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] == '"' || p[i] == '<' || p[i] == '>')
			return false;
	return true;
}

/* The request-target, once the line is complete and the version known. */
static int split_target(struct http_request *req, size_t q)
{
	const unsigned char *t = (const unsigned char *)req->target.p;
	size_t n = req->target.n, end = q ? q : n, a0, a1;
	const unsigned char *slash;

	if (q) {
		req->query.p = (const char *)t + q + 1;
		req->query.n = n - q - 1;
		if (!query_bytes_valid(t + q + 1, n - q - 1))
			return fail(req, 400, "invalid character in query");
	}
	if (t[0] == '/') {
		if (!path_bytes_valid(t, end))
			return fail(req, 400, "invalid character in path");
		req->form = HP_ORIGIN;
		req->path.p = (const char *)t;
		req->path.n = end;
		return 0;
	}
	if (t[0] == '*') {
		if (n != 1 || req->method.n != 7 || memcmp(req->method.p, "OPTIONS", 7) != 0)
			return fail(req, 400, "asterisk-form is only for OPTIONS");
		req->form = HP_ASTERISK;
		req->path.p = (const char *)t;
		req->path.n = 1;
		return 0;
	}
	if (end >= 7 && ieq(t, 7, "http://", 7))
		a0 = 7;
	else if (end >= 8 && ieq(t, 8, "https://", 8))
		a0 = 8;
	else
		return fail(req, 400, "unsupported request-target form");
	slash = memchr(t + a0, '/', end - a0);
	a1 = slash ? (size_t)(slash - t) : end;
	if (!host_port_valid(t + a0, a1 - a0))
		return fail(req, 400, "invalid authority in request-target");
	if (!path_bytes_valid(t + a1, end - a1))
		return fail(req, 400, "invalid character in path");
	req->form = HP_ABSOLUTE;
	req->authority.p = (const char *)t + a0;
	req->authority.n = a1 - a0;
	if (a1 < end) {
		req->path.p = (const char *)t + a1;
		req->path.n = end - a1;
	} else {
		/* An empty path means "/" (RFC 9112 §3.2.2); the second slash of
		 * "://" is one inside the caller's buffer, like every other slice. */
		req->path.p = (const char *)t + a0 - 1;
		req->path.n = 1;
	}
	return 0;
}

/* The byte that ended a field name was not a colon, or the name was empty. */
static COLD int field_name_error(struct http_request *req, unsigned char c)
{
	if (ch_is_ows(c))
		return fail(req, 400, "whitespace before colon");
	if (c == '\r' || c == '\n')
		return fail(req, 400, "field line without colon");
	if (c != ':')
		return fail(req, 400, "invalid character in field name");
	return fail(req, 400, "empty field name");
}

/* method SP request-target SP: the method and the raw target, with the
 * query's start noted in *q (0 when none). Returns the offset of the
 * HTTP-version, or HP_INCOMPLETE / HP_ERROR. */
static int parse_method_target(const char *buf, size_t lim, struct http_request *req, size_t *q)
{
	const unsigned char *s = (const unsigned char *)buf;
	size_t i = 0, t0;
	unsigned char c;

	/* method SP */
	while (i < lim && is(s[i], C_TCHAR))
		i++;
	if (i == lim)
		return need_more(req, lim, false);
	if (s[i] != ' ') {
		if (i == 0 && (s[0] == '\r' || s[0] == '\n'))
			return fail(req, 400, "empty line before request line");
		return fail(req, 400, "invalid character in method");
	}
	if (i == 0)
		return fail(req, 400, "empty method");
	req->method.p = buf;
	req->method.n = i;
	if (i == 3 && memcmp(buf, "GET", 3) == 0)
		req->m = HP_M_GET;
	else if (i == 4 && memcmp(buf, "HEAD", 4) == 0)
		req->m = HP_M_HEAD;
	else if (i == 4 && memcmp(buf, "POST", 4) == 0)
		req->m = HP_M_POST;

	/* request-target SP: printable ASCII, no fragment, valid %-escapes. */
	t0 = ++i;
	for (;;) {
		while (i < lim && is(s[i], C_TGT))
			i++;
		if (i == lim)
			return need_more(req, lim, false);
		c = s[i];
		if (c == ' ')
			break;
		if (c == '?') {
			if (*q == 0)
				*q = i - t0;
			i++;
		} else if (c == '%') {
			if ((lim - i > 1 && !is(s[i + 1], C_HEX)) ||
			    (lim - i > 2 && !is(s[i + 2], C_HEX)))
				return fail(req, 400, "bad percent-encoding in request-target");
			if (lim - i <= 2)
				return need_more(req, lim, false);
			i += 3;
		} else if (c == '#') {
			return fail(req, 400, "fragment in request-target");
		} else if (c == '\r' || c == '\n') {
			return fail(req, 400, "request line without HTTP version");
		} else {
			return fail(req, 400, "invalid character in request-target");
		}
	}
	if (i == t0)
		return fail(req, 400, "empty request-target or extra space");
	req->target.p = buf + t0;
	req->target.n = i - t0;
	return (int)(i + 1);
}

/* HTTP-version CRLF at s[v0..), checked byte by byte so that garbage is
 * reported before the line is complete. Returns 0, HP_INCOMPLETE or
 * HP_ERROR. */
static int parse_version(const unsigned char *s, size_t v0, size_t lim, struct http_request *req)
{
	size_t k, avail;

	if (lim - v0 >= 10 && memcmp(s + v0, "HTTP/1.1\r\n", 10) == 0) {
		req->minor = 1;
		return 0;
	}
	avail = lim - v0 < 10 ? lim - v0 : 10;
	for (k = 0; k < avail; k++) {
		unsigned char c = s[v0 + k];
		bool ok;

		if (k < 5)
			ok = c == (unsigned char)"HTTP/"[k];
		else if (k == 5 || k == 7)
			ok = ch_is_digit(c);
		else if (k == 6)
			ok = c == '.';
		else if (k == 8)
			ok = c == '\r';
		else
			ok = c == '\n';
		if (!ok)
			return version_error(req, k, c);
	}
	if (avail < 10)
		return need_more(req, lim, false);
	if (s[v0 + 5] != '1')
		return fail(req, 505, "unsupported HTTP version");
	/* HTTP/1.x with x > 1 is answered as 1.1 (RFC 9110 §2.5). */
	req->minor = s[v0 + 7] == '0' ? 0 : 1;
	return 0;
}

/* *( field-line CRLF ) CRLF from s[i..lim). Returns the length of the whole
 * head (through the blank line), HP_INCOMPLETE or HP_ERROR. */
static int parse_fields(const char *buf, size_t i, size_t lim, struct http_request *req)
{
	const unsigned char *s = (const unsigned char *)buf;

	for (;;) {
		struct hp_header *h;
		size_t n0, val, e;
		unsigned char c;

		if (i == lim)
			return need_more(req, lim, true);
		c = s[i];
		if (c == '\r') {
			if (lim - i < 2)
				return need_more(req, lim, true);
			if (s[i + 1] != '\n')
				return fail(req, 400, "bare CR in field");
			return (int)(i + 2);
		}
		if (ch_is_ows(c)) {
			/* RFC 9112 §2.2 and §5.2: both must be rejected by a
			 * server that does not want to be smuggled through. */
			if (req->nheaders == 0)
				return fail(req, 400, "whitespace before first field line");
			return fail(req, 400, "obs-fold not allowed");
		}
		if (c == '\n')
			return fail(req, 400, "bare LF in field");
		if (req->nheaders == HP_MAX_HEADERS)
			return fail(req, 431, "too many header fields");

		n0 = i;
		while (i < lim && is(s[i], C_TCHAR))
			i++;
		if (i == lim)
			return need_more(req, lim, true);
		if (s[i] != ':' || i == n0)
			return field_name_error(req, s[i]);
		h = &req->headers[req->nheaders];
		h->name.p = buf + n0;
		h->name.n = i - n0;

		i++;
		while (i < lim && ch_is_ows(s[i]))
			i++;
		val = i;
		i = scan_value(s, i, lim);
		if (i == lim)
			return need_more(req, lim, true);
		if (s[i] != '\r') {
			if (s[i] == '\n')
				return fail(req, 400, "bare LF in field");
			return fail(req, 400, "control character in field");
		}
		if (lim - i < 2)
			return need_more(req, lim, true);
		if (s[i + 1] != '\n')
			return fail(req, 400, "bare CR in field");
		for (e = i; e > val && ch_is_ows(s[e - 1]); e--)
			;
		h->value.p = buf + val;
		h->value.n = e - val;
		req->nheaders++;
		i += 2;
	}
}

int hp_parse_request(const char *buf, size_t len, struct http_request *req)
{
	size_t lim = len < HP_MAX_HEAD ? len : HP_MAX_HEAD;
	size_t v0, q = 0;
	int r;

	req->line = req->method = req->target = (struct hp_slice){ NULL, 0 };
	req->authority = req->path = req->query = (struct hp_slice){ NULL, 0 };
	req->m = HP_M_OTHER;
	req->form = HP_ORIGIN;
	req->minor = 0;
	req->nheaders = 0;
	req->status = 0;
	req->reason = NULL;

	r = parse_method_target(buf, lim, req, &q);
	if (r < 0)
		return r;
	v0 = (size_t)r;
	r = parse_version((const unsigned char *)buf, v0, lim, req);
	if (r != 0)
		return r;
	req->line.p = buf;
	req->line.n = v0 + 8;
	r = split_target(req, q);
	if (r != 0)
		return r;
	return parse_fields(buf, v0 + 10, lim, req);
}

/* ---- Field semantics ---- */

static COLD int bad(const char **reason, int status, const char *why)
{
	*reason = why;
	return status;
}

static bool name_is(const struct hp_header *h, const char *lit, size_t n)
{
	return ieq((const unsigned char *)h->name.p, h->name.n, lit, n);
}

#define NAME_IS(h, lit) name_is((h), (lit), sizeof(lit) - 1)

/* 1*19DIGIT, at most INT64_MAX: the body length must fit an off_t. */
static bool parse_length(struct hp_slice v, uint64_t *out)
{
	uint64_t x = 0;
	size_t i;

	if (v.n == 0 || v.n > 19)
		return false;
	for (i = 0; i < v.n; i++) {
		unsigned char c = (unsigned char)v.p[i];

		if (!ch_is_digit(c))
			return false;
		x = x * 10 + (c - '0');
	}
	if (x > (uint64_t)INT64_MAX)
		return false;
	*out = x;
	return true;
}

/* Transfer-Encoding list, summed over all its field lines. */
struct te_list {
	unsigned codings, chunked;
	bool last_chunked, other;
};

static size_t skip_ows(const unsigned char *p, size_t i, size_t n)
{
	while (i < n && ch_is_ows(p[i]))
		i++;
	return i;
}

static size_t skip_token(const unsigned char *p, size_t i, size_t n)
{
	while (i < n && is(p[i], C_TCHAR))
		i++;
	return i;
}

/* quoted-string starting at p[i] == '"'; returns the index after it, or 0. */
static size_t skip_quoted(const unsigned char *p, size_t i, size_t n)
{
	for (i++; i < n; i++) {
		if (p[i] == '"')
			return i + 1;
		if (p[i] == '\\') {
			if (++i == n || !(is(p[i], C_FVAL)))
				return 0;
		} else if (!is(p[i], C_QD)) {
			return 0;
		}
	}
	return 0;
}

/* #transfer-coding, transfer-coding = token *( OWS ";" OWS
 * transfer-parameter ), transfer-parameter = token BWS "=" BWS ( token /
 * quoted-string ). Empty list elements are allowed (RFC 9110 §5.6.1), an
 * empty field line is not. Returns false on a syntax error. */
static bool te_parse(struct hp_slice v, struct te_list *te)
{
	const unsigned char *p = (const unsigned char *)v.p;
	size_t n = v.n, i = 0;
	unsigned before = te->codings;

	for (;;) {
		size_t t0;
		bool chunked, params = false;

		i = skip_ows(p, i, n);
		if (i == n)
			break;
		if (p[i] == ',') {
			i++;
			continue;
		}
		t0 = i;
		i = skip_token(p, i, n);
		if (i == t0)
			return false;
		chunked = ieq(p + t0, i - t0, "chunked", 7);
		i = skip_ows(p, i, n);
		while (i < n && p[i] == ';') {
			size_t a0;

			i = skip_ows(p, i + 1, n);
			a0 = i;
			i = skip_token(p, i, n);
			if (i == a0)
				return false;
			i = skip_ows(p, i, n);
			if (i == n || p[i] != '=')
				return false;
			i = skip_ows(p, i + 1, n);
			if (i < n && p[i] == '"') {
				i = skip_quoted(p, i, n);
				if (i == 0)
					return false;
			} else {
				a0 = i;
				i = skip_token(p, i, n);
				if (i == a0)
					return false;
			}
			i = skip_ows(p, i, n);
			params = true;
		}
		/* chunked has no parameters (RFC 9112 §7.1). */
		if (chunked && params)
			return false;
		if (i < n && p[i] != ',')
			return false;
		te->codings++;
		te->chunked += chunked;
		te->other |= !chunked;
		te->last_chunked = chunked;
	}
	return te->codings > before;
}

/* Steps through a comma-separated list (RFC 9110 5.6.1): the next member,
 * with surrounding OWS removed, is p[*e0..*e1) (possibly empty). Returns
 * false when the list is exhausted. */
static bool next_member(const unsigned char *p, size_t n, size_t *i, size_t *e0, size_t *e1)
{
	if (*i >= n)
		return false;
	size_t j = skip_ows(p, *i, n);
	*e0 = j;
	while (j < n && p[j] != ',')
		j++;
	for (*e1 = j; *e1 > *e0 && ch_is_ows(p[*e1 - 1]); (*e1)--)
		;
	*i = j + 1;
	return true;
}

/* Connection = #connection-option: notes "close" and "keep-alive". Other
 * members (hop-by-hop field names) mean nothing to an origin server. */
static void connection_parse(struct hp_slice v, bool *close, bool *keep)
{
	const unsigned char *p = (const unsigned char *)v.p;
	size_t i = 0, e0, e1;

	while (next_member(p, v.n, &i, &e0, &e1)) {
		if (ieq(p + e0, e1 - e0, "close", 5))
			*close = true;
		else if (ieq(p + e0, e1 - e0, "keep-alive", 10))
			*keep = true;
	}
}

/* #expectation: every non-empty member must be 100-continue. The whole
 * list is read, so *cont is set whenever 100-continue is a member, even
 * after or before one we do not know ("foo, 100-continue"): the caller then
 * knows that a client may be waiting before it sends the body. Returns
 * false when another expectation is present (417). */
static bool expect_parse(struct hp_slice v, bool *cont)
{
	const unsigned char *p = (const unsigned char *)v.p;
	size_t i = 0, e0, e1;
	bool ok = true;

	while (next_member(p, v.n, &i, &e0, &e1)) {
		if (e1 == e0)
			continue;
		if (ieq(p + e0, e1 - e0, "100-continue", 12))
			*cont = true;
		else
			ok = false;
	}
	return ok;
}

static void first(struct hp_slice *dst, const struct hp_header *h)
{
	if (dst->p == NULL)
		*dst = h->value;
}

/* A list field (RFC 9110 5.3): several lines mean one comma-joined list;
 * the slice keeps the first line and *multi says there are more. */
static void list_field(struct hp_slice *dst, bool *multi, const struct hp_header *h)
{
	if (dst->p != NULL)
		*multi = true;
	else
		*dst = h->value;
}

/* A field with a single value: a second line makes it invalid, and the
 * caller ignores it (RFC 9110 13.1.3, 13.1.4). */
static void single(struct hp_slice *dst, bool *dup, const struct hp_header *h)
{
	if (dst->p != NULL)
		*dup = true;
	else
		*dst = h->value;
}

size_t hp_field_lines(const struct http_request *req, const char *name, struct hp_slice *out,
		      size_t cap)
{
	size_t len = strlen(name), found = 0;

	for (size_t k = 0; k < req->nheaders && found < cap; k++) {
		const struct hp_header *h = &req->headers[k];

		if (ieq((const unsigned char *)h->name.p, h->name.n, name, len))
			out[found++] = h->value;
	}
	return found;
}

size_t hp_join_field(const struct http_request *req, const char *name, char *out, size_t cap)
{
	size_t n = 0, len = strlen(name);
	for (size_t k = 0; k < req->nheaders; k++) {
		const struct hp_header *h = &req->headers[k];
		if (h->name.n != len || strncasecmp(h->name.p, name, len) != 0)
			continue;
		size_t need = (n ? 2 : 0) + h->value.n;
		if (n + need >= cap)
			return 0;
		if (n) {
			out[n++] = ',';
			out[n++] = ' ';
		}
		memcpy(out + n, h->value.p, h->value.n);
		n += h->value.n;
	}
	return n;
}

int hp_analyze(const struct http_request *req, struct hp_info *info, const char **reason)
{
	struct te_list te = { 0, 0, false, false };
	bool te_seen = false, close = false, keep = false, cont = false;
	bool expect_bad = false;
	bool dup_range = false, dup_if_range = false, dup_ims = false, dup_ius = false;
	size_t k;

	memset(info, 0, sizeof(*info));
	*reason = NULL;
	for (k = 0; k < req->nheaders; k++) {
		const struct hp_header *h = &req->headers[k];

		/* Dispatch on the length first: most fields are none of ours. */
		switch (h->name.n) {
		case 4:
			if (NAME_IS(h, "host")) {
				if (info->host.p != NULL)
					return bad(reason, 400, "several Host fields");
				/* An empty Host is valid (RFC 9112 3.2: the
				 * target had no authority), but names no host
				 * served here: the caller's 403. */
				if (h->value.n &&
				    !host_port_valid((const unsigned char *)h->value.p, h->value.n))
					return bad(reason, 400, "invalid Host");
				info->host = h->value;
			}
			break;
		case 5:
			if (NAME_IS(h, "range"))
				single(&info->range, &dup_range, h);
			break;
		case 6:
			if (NAME_IS(h, "expect") && !expect_parse(h->value, &cont))
				expect_bad = true;
			break;
		case 7:
			if (NAME_IS(h, "referer"))
				first(&info->referer, h);
			break;
		case 8:
			if (NAME_IS(h, "if-match"))
				list_field(&info->if_match, &info->if_match_multi, h);
			else if (NAME_IS(h, "if-range"))
				single(&info->if_range, &dup_if_range, h);
			break;
		case 10:
			if (NAME_IS(h, "connection"))
				connection_parse(h->value, &close, &keep);
			else if (NAME_IS(h, "user-agent"))
				first(&info->user_agent, h);
			break;
		case 12:
			if (NAME_IS(h, "content-type"))
				single(&info->content_type, &info->content_type_dup, h);
			break;
		case 13:
			if (NAME_IS(h, "authorization"))
				single(&info->authorization, &info->authorization_dup, h);
			else if (NAME_IS(h, "if-none-match"))
				list_field(&info->if_none_match, &info->if_none_match_multi, h);
			break;
		case 14:
			if (NAME_IS(h, "content-length")) {
				uint64_t v;

				if (!parse_length(h->value, &v))
					return bad(reason, 400, "invalid Content-Length");
				/* Repeats are tolerated only when they cannot
				 * frame the body two ways (RFC 9110 §8.6). */
				if (info->has_length && info->length != v)
					return bad(reason, 400, "different Content-Length values");
				info->has_length = true;
				info->length = v;
			}
			break;
		case 15:
			if (NAME_IS(h, "accept-encoding"))
				list_field(&info->accept_encoding, &info->accept_encoding_multi, h);
			break;
		case 17:
			if (NAME_IS(h, "transfer-encoding")) {
				te_seen = true;
				if (!te_parse(h->value, &te))
					return bad(reason, 400, "invalid Transfer-Encoding");
			} else if (NAME_IS(h, "if-modified-since")) {
				single(&info->if_modified_since, &dup_ims, h);
			}
			break;
		case 19:
			if (NAME_IS(h, "if-unmodified-since"))
				single(&info->if_unmodified_since, &dup_ius, h);
			break;
		}
	}

	if (dup_range)
		info->range = (struct hp_slice){ NULL, 0 };
	if (dup_if_range)
		info->if_range = (struct hp_slice){ NULL, 0 };
	if (dup_ims)
		info->if_modified_since = (struct hp_slice){ NULL, 0 };
	if (dup_ius)
		info->if_unmodified_since = (struct hp_slice){ NULL, 0 };

	if (req->minor == 1 && info->host.p == NULL)
		return bad(reason, 400, "missing Host");
	if (te_seen) {
		/* RFC 9112 §6.1: TE in 1.0 or with CL may be a smuggling
		 * attempt; refuse rather than pick one. */
		if (req->minor == 0)
			return bad(reason, 400, "Transfer-Encoding in HTTP/1.0");
		if (info->has_length)
			return bad(reason, 400, "both Content-Length and Transfer-Encoding");
		if (te.chunked > 1)
			return bad(reason, 400, "chunked applied more than once");
		if (!te.last_chunked)
			return bad(reason, 400, "final transfer coding is not chunked");
		if (te.other)
			return bad(reason, 501, "unsupported transfer coding");
		info->chunked = true;
	}
	info->keep_alive = close ? false : (req->minor == 1 || keep);
	/* RFC 9110 §10.1.1: a 100-continue in HTTP/1.0 is ignored. */
	info->expect_continue = cont && req->minor == 1;
	if (expect_bad)
		return bad(reason, 417, "unsupported expectation");
	return 0;
}

/* ---- Chunked body (RFC 9112 §7.1) ---- */

#define CHUNK_LINE_MAX 4096  /* size line with extensions, without CRLF */
#define TRAILER_MAX 8192     /* trailer section with its final CRLF */
#define CHUNK_SIZE_MAX UINT64_MAX /* any size that fits in 64 bits */

enum {
	CH_SIZE0,      /* first HEXDIG of chunk-size */
	CH_SIZE,       /* more HEXDIG, or what follows the size */
	CH_EXT_WS,     /* BWS that must lead to ";" */
	CH_EXT_NAME0,  /* BWS, then the first byte of ext-name */
	CH_EXT_NAME,   /* ext-name */
	CH_EXT_NAME_WS, /* BWS after ext-name: "=" or ";" follows */
	CH_EXT_VAL0,   /* BWS, then token or quoted-string */
	CH_EXT_TOKEN,  /* token value */
	CH_EXT_QSTR,   /* inside a quoted-string */
	CH_EXT_QPAIR,  /* after a backslash in a quoted-string */
	CH_EXT_QEND,   /* after the closing quote */
	CH_SIZE_LF,    /* LF ending the size line */
	CH_DATA,       /* chunk data */
	CH_DATA_CR,    /* CRLF after the data */
	CH_DATA_LF,
	CH_TR_LINE,    /* start of a trailer line, or the final CRLF */
	CH_TR_NAME,
	CH_TR_VALUE,
	CH_TR_LF,
	CH_END_LF,     /* LF ending the trailer section */
	CH_DONE,
	CH_ERROR,
};

void hp_chunked_init(struct hp_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CH_SIZE0;
}

/* Where the size line goes after a byte that ends an element: BWS ";", CR,
 * or an error. */
static int ext_next(unsigned char b)
{
	if (b == ';')
		return CH_EXT_NAME0;
	if (b == '\r')
		return CH_SIZE_LF;
	if (ch_is_ows(b))
		return CH_EXT_WS;
	return CH_ERROR;
}

/* The state after byte b in state st (any state but CH_DATA, CH_DONE and
 * CH_ERROR), CH_ERROR included. One switch over every state, so the
 * decoder pays one jump per byte; inlined early so that gcc threads the
 * jumps between states as it did when this was the body of the loop. */
static ALWAYS_INLINE int chunk_step(struct hp_chunked *c, int st, unsigned char b)
{
	switch (st) {
	case CH_SIZE0:
		if (!is(b, C_HEX)) {
			st = CH_ERROR;
			break;
		}
		c->left = (unsigned)ch_hex_value(b);
		st = CH_SIZE;
		break;
	case CH_SIZE:
		if (is(b, C_HEX)) {
			/* A size that does not fit in 64 bits is
			 * refused before it can overflow (leading zeros
			 * are fine). Sizes past --max-upload are the
			 * caller's to refuse. */
			if (c->left > (CHUNK_SIZE_MAX >> 4)) {
				st = CH_ERROR;
				break;
			}
			c->left = (c->left << 4) | (unsigned)ch_hex_value(b);
			break;
		}
		st = ext_next(b);
		break;
	case CH_EXT_WS:
		if (!ch_is_ows(b))
			st = b == ';' ? CH_EXT_NAME0 : CH_ERROR;
		break;
	case CH_EXT_NAME0:
		if (!ch_is_ows(b))
			st = is(b, C_TCHAR) ? CH_EXT_NAME : CH_ERROR;
		break;
	case CH_EXT_NAME:
		if (is(b, C_TCHAR))
			break;
		if (b == '=')
			st = CH_EXT_VAL0;
		else if (ch_is_ows(b))
			st = CH_EXT_NAME_WS;
		else
			st = ext_next(b);
		break;
	case CH_EXT_NAME_WS:
		if (b == '=')
			st = CH_EXT_VAL0;
		else if (b == ';')
			st = CH_EXT_NAME0;
		else if (!ch_is_ows(b))
			st = CH_ERROR;
		break;
	case CH_EXT_VAL0:
		if (is(b, C_TCHAR))
			st = CH_EXT_TOKEN;
		else if (b == '"')
			st = CH_EXT_QSTR;
		else if (!ch_is_ows(b))
			st = CH_ERROR;
		break;
	case CH_EXT_TOKEN:
		if (!is(b, C_TCHAR))
			st = ext_next(b);
		break;
	case CH_EXT_QSTR:
		if (b == '"')
			st = CH_EXT_QEND;
		else if (b == '\\')
			st = CH_EXT_QPAIR;
		else if (!is(b, C_QD))
			st = CH_ERROR;
		break;
	case CH_EXT_QPAIR:
		st = is(b, C_FVAL) ? CH_EXT_QSTR : CH_ERROR;
		break;
	case CH_EXT_QEND:
		st = ext_next(b);
		break;
	case CH_SIZE_LF:
		if (b != '\n') {
			st = CH_ERROR;
			break;
		}
		c->line = 0;
		st = c->left ? CH_DATA : CH_TR_LINE;
		break;
	case CH_DATA_CR:
		st = b == '\r' ? CH_DATA_LF : CH_ERROR;
		break;
	case CH_DATA_LF:
		st = b == '\n' ? CH_SIZE0 : CH_ERROR;
		break;
	case CH_TR_LINE:
		if (b == '\r')
			st = CH_END_LF;
		else if (is(b, C_TCHAR))
			st = CH_TR_NAME;
		else
			st = CH_ERROR; /* obs-fold, bare LF, empty name ... */
		break;
	case CH_TR_NAME:
		if (b == ':')
			st = CH_TR_VALUE;
		else if (!is(b, C_TCHAR))
			st = CH_ERROR;
		break;
	case CH_TR_VALUE:
		if (b == '\r')
			st = CH_TR_LF;
		else if (!is(b, C_FVAL))
			st = CH_ERROR;
		break;
	case CH_TR_LF:
		st = b == '\n' ? CH_TR_LINE : CH_ERROR;
		break;
	case CH_END_LF:
		if (b != '\n') {
			st = CH_ERROR;
			break;
		}
		st = CH_DONE;
		c->done = true;
		break;
	}
	return st;
}

int hp_chunked_feed(struct hp_chunked *c, const char *buf, size_t len,
		    size_t *consumed, struct hp_slice *data)
{
	const unsigned char *s = (const unsigned char *)buf;
	size_t i = 0;
	int st = c->state;

	data->p = NULL;
	data->n = 0;
	while (i < len) {
		if (st == CH_DATA) {
			size_t n = len - i;

			if (n > c->left)
				n = (size_t)c->left;
			data->p = buf + i;
			data->n = n;
			i += n;
			c->left -= n;
			if (c->left == 0)
				st = CH_DATA_CR;
			break;
		}
		if (st == CH_DONE || st == CH_ERROR)
			break;
		if (st <= CH_SIZE_LF) {
			if (++c->line > CHUNK_LINE_MAX + 2) {
				st = CH_ERROR;
				break;
			}
		} else if (st >= CH_TR_LINE) {
			if (++c->trailers > TRAILER_MAX) {
				st = CH_ERROR;
				break;
			}
		}
		st = chunk_step(c, st, s[i]);
		if (st == CH_ERROR)
			break;
		i++;
	}
	c->state = st;
	*consumed = i;
	return st == CH_ERROR ? HP_ERROR : 0;
}
