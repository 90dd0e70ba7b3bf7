/* Unit tests of the HTTP/1.1 parser: request heads, field semantics
 * (framing and smuggling vectors), limits, and the chunked decoder. Every
 * input ends exactly at a PROT_NONE page, so reading past len crashes. */
#include <stdlib.h>

#include "http_parse.h"
#include "test.h"

#define S(lit) lit, sizeof(lit) - 1
#define ALL 0 /* want: the whole input is one complete head */
#define G(lit) test_guarded(lit, sizeof(lit) - 1), sizeof(lit) - 1 /* a literal on the guard page */

static int parse(const char *in, size_t n, struct http_request *req)
{
	return hp_parse_request(test_guarded(in, n), n, req);
}

/* ---- hp_parse_request: whole heads ---- */

struct parse_case {
	int line;
	const char *in;
	size_t n;
	int want;   /* ALL, HP_INCOMPLETE or HP_ERROR */
	int status; /* on HP_ERROR */
};

#define OK(lit) { __LINE__, S(lit), ALL, 0 }
#define INC(lit) { __LINE__, S(lit), HP_INCOMPLETE, 0 }
#define BAD(lit, st) { __LINE__, S(lit), HP_ERROR, st }

#define H "Host: a\r\n\r\n"

static const struct parse_case parse_cases[] = {
	/* Well-formed. */
	OK("GET / HTTP/1.1\r\n" H),
	OK("GET / HTTP/1.1\r\n\r\n"),
	OK("GET / HTTP/1.0\r\n\r\n"),
	OK("GET / HTTP/1.2\r\n\r\n"),
	OK("GET / HTTP/1.9\r\n\r\n"),
	OK("HEAD /a/b?c=d HTTP/1.1\r\n" H),
	OK("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n"),
	OK("DELETE /x HTTP/1.1\r\n" H),
	OK("get / HTTP/1.1\r\n" H),
	OK("M-SEARCH /x HTTP/1.1\r\n" H),
	BAD("M-SEARCH * HTTP/1.1\r\n" H, 400),
	OK("OPTIONS * HTTP/1.1\r\n" H),
	OK("GET //a HTTP/1.1\r\n" H),
	OK("GET /a%20b%2F%2f\\c HTTP/1.1\r\n" H),
	OK("GET /!$&'()*+,;=:@-._~ HTTP/1.1\r\n" H),
	/* Not pchar: 400 in a path (the backslash is left to the path rules). */
	BAD("GET /a\"b HTTP/1.1\r\n" H, 400),
	BAD("GET /a<b HTTP/1.1\r\n" H, 400),
	BAD("GET /a>b HTTP/1.1\r\n" H, 400),
	BAD("GET /a`b HTTP/1.1\r\n" H, 400),
	BAD("GET /a{b HTTP/1.1\r\n" H, 400),
	BAD("GET /a}b HTTP/1.1\r\n" H, 400),
	BAD("GET /a|b HTTP/1.1\r\n" H, 400),
	BAD("GET /a^b HTTP/1.1\r\n" H, 400),
	BAD("GET /a[b HTTP/1.1\r\n" H, 400),
	BAD("GET /a]b HTTP/1.1\r\n" H, 400),
	BAD("GET http://a/x<y HTTP/1.1\r\n" H, 400),
	BAD("GET /x?a\"b HTTP/1.1\r\n" H, 400),
	BAD("GET /x?a<b HTTP/1.1\r\n" H, 400),
	BAD("GET /x?a>b HTTP/1.1\r\n" H, 400),
	/* In a query, what browsers send unencoded is accepted. */
	OK("GET /x?q={a|b}^`[c] HTTP/1.1\r\n" H),
	OK("GET /a\\b HTTP/1.1\r\n" H),
	OK("GET /?a?b/c HTTP/1.1\r\n" H),
	OK("GET http://a HTTP/1.1\r\n" H),
	OK("GET HTTP://A:8080/x?y HTTP/1.1\r\n" H),
	OK("GET https://[::1]:443/x HTTP/1.1\r\n" H),
	OK("GET http://[v1.x:y]/ HTTP/1.1\r\n" H),
	OK("GET http://a:/ HTTP/1.1\r\n" H),
	OK("GET http://a%41.b/ HTTP/1.1\r\n" H),
	OK("GET http://1.2.3.4?q HTTP/1.1\r\n" H),
	OK("GET / HTTP/1.1\r\nHost:a\r\n\r\n"),
	OK("GET / HTTP/1.1\r\nX:\r\n\r\n"),
	OK("GET / HTTP/1.1\r\nX: \t \r\n\r\n"),
	OK("GET / HTTP/1.1\r\nX: \x80\xff\xc3\xa9\r\n\r\n"),
	OK("GET / HTTP/1.1\r\nX: a\tb \"c\" (d) \\e\r\n\r\n"),
	OK("GET / HTTP/1.1\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n"),

	/* Incomplete but valid so far. */
	INC(""),
	INC("G"),
	INC("GET"),
	INC("GET "),
	INC("GET /"),
	INC("GET /%"),
	INC("GET /%4"),
	INC("GET / "),
	INC("GET / H"),
	INC("GET / HTTP/2"),
	INC("GET / HTTP/2.0"),
	INC("GET / HTTP/1.1"),
	INC("GET / HTTP/1.1\r"),
	INC("GET / HTTP/1.1\r\n"),
	INC("GET / HTTP/1.1\r\nHost"),
	INC("GET / HTTP/1.1\r\nHost:"),
	INC("GET / HTTP/1.1\r\nHost: a"),
	INC("GET / HTTP/1.1\r\nHost: a\r"),
	INC("GET / HTTP/1.1\r\nHost: a\r\n"),
	INC("GET / HTTP/1.1\r\nHost: a\r\n\r"),

	/* Request line. */
	BAD("\r\nGET / HTTP/1.1\r\n" H, 400),
	BAD("\nGET / HTTP/1.1\r\n" H, 400),
	BAD(" GET / HTTP/1.1\r\n" H, 400),
	BAD("GET  / HTTP/1.1\r\n" H, 400),
	BAD("GET /  HTTP/1.1\r\n" H, 400),
	BAD("GET / HTTP/1.1 \r\n" H, 400),
	BAD("GET / HTTP/1.1\t\r\n" H, 400),
	BAD("GET\t/ HTTP/1.1\r\n" H, 400),
	BAD("GET /\tHTTP/1.1\r\n" H, 400),
	BAD("G@T / HTTP/1.1\r\n" H, 400),
	BAD("GE(T / HTTP/1.1\r\n" H, 400),
	BAD("G\0ET / HTTP/1.1\r\n" H, 400),
	BAD("G\0", 400),
	BAD("GET\x01", 400),
	BAD("GET\x7f / HTTP/1.1\r\n" H, 400),
	BAD("G\xc3\x89T / HTTP/1.1\r\n" H, 400),
	BAD("GET / HTTP/1.1\n" H, 400),
	BAD("GET / HTTP/1.1\rX", 400),
	BAD("GET / HTTP/1.1\r\r\n" H, 400),
	BAD("GET /\r\n" H, 400),
	BAD("GET /\n", 400),
	BAD("GET\r\n" H, 400),
	BAD("GET / http/1.1\r\n" H, 400),
	BAD("GET / HTTP/1\r\n" H, 400),
	BAD("GET / HTTP/1.\r\n" H, 400),
	BAD("GET / HTTP/11\r\n" H, 400),
	BAD("GET / HTTP/1.1.1\r\n" H, 400),
	BAD("GET / HTTP/10.1\r\n" H, 400),
	BAD("GET / HTTP/1.x\r\n" H, 400),
	BAD("GET / HTTPS/1.1\r\n" H, 400),
	BAD("GET / HTTP /1.1\r\n" H, 400),
	BAD("GET / HTTP/ 1.1\r\n" H, 400),
	BAD("GET / X", 400),
	BAD("GET / HTTP/a", 400),
	BAD("GET / HTTP/2.0\r\n" H, 505),
	BAD("GET / HTTP/2.0\r\n", 505),
	BAD("GET / HTTP/0.9\r\n" H, 505),
	BAD("GET / HTTP/3.0\r\n" H, 505),
	BAD("GET / HTTP/9.9\r\n" H, 505),
	BAD("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
	BAD("GET / HTTP/2.0 \r\n" H, 400),

	/* Request-target. */
	BAD("GET /a#b HTTP/1.1\r\n" H, 400),
	BAD("GET /# HTTP/1.1\r\n" H, 400),
	BAD("GET /%zz HTTP/1.1\r\n" H, 400),
	BAD("GET /%2 HTTP/1.1\r\n" H, 400),
	BAD("GET /% HTTP/1.1\r\n" H, 400),
	BAD("GET /%4g HTTP/1.1\r\n" H, 400),
	BAD("GET /%g", 400),
	BAD("GET /%4g", 400),
	BAD("GET /a\x7f HTTP/1.1\r\n" H, 400),
	BAD("GET /\x80 HTTP/1.1\r\n" H, 400),
	BAD("GET /\xc3\xa9 HTTP/1.1\r\n" H, 400),
	BAD("GET /a\0b HTTP/1.1\r\n" H, 400),
	BAD("GET /a\x1b HTTP/1.1\r\n" H, 400),
	BAD("GET /a\rb HTTP/1.1\r\n" H, 400),
	BAD("GET a HTTP/1.1\r\n" H, 400),
	BAD("GET ?a HTTP/1.1\r\n" H, 400),
	BAD("GET example.com/ HTTP/1.1\r\n" H, 400),
	BAD("CONNECT example.com:443 HTTP/1.1\r\n" H, 400),
	BAD("GET * HTTP/1.1\r\n" H, 400),
	BAD("options * HTTP/1.1\r\n" H, 400),
	BAD("OPTIONS *a HTTP/1.1\r\n" H, 400),
	BAD("OPTIONS */ HTTP/1.1\r\n" H, 400),
	BAD("GET ftp://a/ HTTP/1.1\r\n" H, 400),
	BAD("GET httpx://a/ HTTP/1.1\r\n" H, 400),
	BAD("GET http:/a HTTP/1.1\r\n" H, 400),
	BAD("GET http:// HTTP/1.1\r\n" H, 400),
	BAD("GET http:///x HTTP/1.1\r\n" H, 400),
	BAD("GET http://?x HTTP/1.1\r\n" H, 400),
	BAD("GET http://u@a/ HTTP/1.1\r\n" H, 400),
	BAD("GET http://a:b/ HTTP/1.1\r\n" H, 400),
	BAD("GET http://a:80:90/ HTTP/1.1\r\n" H, 400),
	BAD("GET http://:80/ HTTP/1.1\r\n" H, 400),
	BAD("GET http://[::1/ HTTP/1.1\r\n" H, 400),
	BAD("GET http://[1.2.3.4]/ HTTP/1.1\r\n" H, 400),
	BAD("GET http://[::1]x/ HTTP/1.1\r\n" H, 400),
	BAD("GET http://a\"b/ HTTP/1.1\r\n" H, 400),
	BAD("GET http://a b/ HTTP/1.1\r\n" H, 400),

	/* Field lines. */
	BAD("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\n\tHost: a\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nHost: a\r\n ", 400),
	BAD("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nHost ", 400),
	BAD("GET / HTTP/1.1\r\nHost a\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nHost\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nHost\n", 400),
	BAD("GET / HTTP/1.1\r\n: a\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nHo@st: a\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nHo\0st: a\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nX\x7f: a\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\n\xc3\xa9: a\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nX(y): a\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nHost: a\0", 400),
	BAD("GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nX: \x0b\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nX: a\x0c\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nX:\x1f\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nHost: a\r\n\n", 400),
	BAD("GET / HTTP/1.1\r\nHost: a\r\n\rX", 400),
	BAD("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", 400),
	BAD("GET / HTTP/1.1\r\n\n", 400),
	BAD("GET / HTTP/1.1\r\nX: 0123456789abcdef0123456789abcdef\x01"
	    "0123456789abcdef\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nX: 0123456789abcdef0123456789abcdef\t"
	    "0123456789abcde\nf\r\n\r\n", 400),
};

static void test_parse_cases(void)
{
	size_t k;

	for (k = 0; k < sizeof(parse_cases) / sizeof(parse_cases[0]); k++) {
		const struct parse_case *tc = &parse_cases[k];
		struct http_request req;
		int r;

		r = parse(tc->in, tc->n, &req);
		if (tc->want == ALL) {
			ASSERT_EQ(tc->line, r, (int)tc->n);
			continue;
		}
		ASSERT_EQ(tc->line, r, tc->want);
		if (tc->want == HP_ERROR && r == HP_ERROR) {
			ASSERT_EQ(tc->line, req.status, tc->status);
			ASSERT_TRUE(tc->line, req.reason != NULL && req.reason[0] != '\0');
		}
	}
}

/* The reason strings the server shows in its error bodies and log. */
static const struct {
	int line;
	const char *in;
	size_t n;
	int status;
	const char *reason;
} reason_cases[] = {
	{ __LINE__, S("\r\nGET"), 400, "empty line before request line" },
	{ __LINE__, S(" GET"), 400, "empty method" },
	{ __LINE__, S("G\x01"), 400, "invalid character in method" },
	{ __LINE__, S("GET  /"), 400, "empty request-target or extra space" },
	{ __LINE__, S("GET /%x"), 400, "bad percent-encoding in request-target" },
	{ __LINE__, S("GET /#"), 400, "fragment in request-target" },
	{ __LINE__, S("GET /\x80"), 400, "invalid character in request-target" },
	{ __LINE__, S("GET /\r\n"), 400, "request line without HTTP version" },
	{ __LINE__, S("GET / HTTP/1.1\n"), 400, "bare LF in request line" },
	{ __LINE__, S("GET / HTTP/1.1\rx"), 400, "bare CR in request line" },
	{ __LINE__, S("GET / HTTP/1.1 "), 400, "trailing whitespace in request line" },
	{ __LINE__, S("GET / HTTP/x"), 400, "malformed HTTP version" },
	{ __LINE__, S("GET / HTTP/2.0\r\n"), 505, "unsupported HTTP version" },
	{ __LINE__, S("GET * HTTP/1.1\r\n"), 400, "asterisk-form is only for OPTIONS" },
	{ __LINE__, S("GET x HTTP/1.1\r\n"), 400, "unsupported request-target form" },
	{ __LINE__, S("GET http://u@h/ HTTP/1.1\r\n"), 400, "invalid authority in request-target" },
	{ __LINE__, S("GET / HTTP/1.1\r\n X"), 400, "whitespace before first field line" },
	{ __LINE__, S("GET / HTTP/1.1\r\nA: b\r\n c"), 400, "obs-fold not allowed" },
	{ __LINE__, S("GET / HTTP/1.1\r\nA :"), 400, "whitespace before colon" },
	{ __LINE__, S("GET / HTTP/1.1\r\nA\r\n"), 400, "field line without colon" },
	{ __LINE__, S("GET / HTTP/1.1\r\n: b"), 400, "empty field name" },
	{ __LINE__, S("GET / HTTP/1.1\r\nA\x01"), 400, "invalid character in field name" },
	{ __LINE__, S("GET / HTTP/1.1\r\nA: \x01"), 400, "control character in field" },
	{ __LINE__, S("GET / HTTP/1.1\r\nA: \0"), 400, "control character in field" },
	{ __LINE__, S("GET / HTTP/1.1\r\nA: b\rc"), 400, "bare CR in field" },
	{ __LINE__, S("GET / HTTP/1.1\r\nA: b\r\n\rc"), 400, "bare CR in field" },
	{ __LINE__, S("GET / HTTP/1.1\r\nA: b\nc"), 400, "bare LF in field" },
	{ __LINE__, S("GET / HTTP/1.1\r\n\n"), 400, "bare LF in field" },
};

static void test_reasons(void)
{
	size_t k;

	for (k = 0; k < sizeof(reason_cases) / sizeof(reason_cases[0]); k++) {
		struct http_request req;
		int r = parse(reason_cases[k].in, reason_cases[k].n, &req);

		ASSERT_EQ(reason_cases[k].line, r, HP_ERROR);
		ASSERT_EQ(reason_cases[k].line, req.status, reason_cases[k].status);
		TEST_RECORD(req.reason && strcmp(req.reason, reason_cases[k].reason) == 0,
			    reason_cases[k].line, "reason \"%s\", want \"%s\"",
			    req.reason ? req.reason : "(null)", reason_cases[k].reason);
	}
}

/* ---- hp_parse_request: what the slices say ---- */

struct slice_case {
	int line;
	const char *in;
	size_t n;
	enum hp_method m;
	const char *method;
	enum hp_form form;
	const char *authority; /* NULL: absent */
	const char *path;
	const char *query;     /* NULL: no '?' */
	int minor;
	size_t nheaders;
	const char *name0, *value0; /* the first field, when nheaders > 0 */
};

static const struct slice_case slice_cases[] = {
	{ __LINE__, S("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), HP_M_GET, "GET",
	  HP_ORIGIN, NULL, "/", NULL, 1, 1, "Host", "a" },
	{ __LINE__, S("HEAD /a/b?x=1&y=2 HTTP/1.0\r\n\r\n"), HP_M_HEAD, "HEAD",
	  HP_ORIGIN, NULL, "/a/b", "x=1&y=2", 0, 0, NULL, NULL },
	{ __LINE__, S("POST /? HTTP/1.1\r\n\r\n"), HP_M_POST, "POST",
	  HP_ORIGIN, NULL, "/", "", 1, 0, NULL, NULL },
	{ __LINE__, S("GET /a?b?c HTTP/1.2\r\n\r\n"), HP_M_GET, "GET",
	  HP_ORIGIN, NULL, "/a", "b?c", 1, 0, NULL, NULL },
	{ __LINE__, S("PUT /%41 HTTP/1.9\r\n\r\n"), HP_M_OTHER, "PUT",
	  HP_ORIGIN, NULL, "/%41", NULL, 1, 0, NULL, NULL },
	{ __LINE__, S("post / HTTP/1.1\r\n\r\n"), HP_M_OTHER, "post",
	  HP_ORIGIN, NULL, "/", NULL, 1, 0, NULL, NULL },
	{ __LINE__, S("GETS / HTTP/1.1\r\n\r\n"), HP_M_OTHER, "GETS",
	  HP_ORIGIN, NULL, "/", NULL, 1, 0, NULL, NULL },
	{ __LINE__, S("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), HP_M_OTHER, "OPTIONS",
	  HP_ASTERISK, NULL, "*", NULL, 1, 1, "Host", "a" },
	{ __LINE__, S("GET http://example.com HTTP/1.1\r\n\r\n"), HP_M_GET, "GET",
	  HP_ABSOLUTE, "example.com", "/", NULL, 1, 0, NULL, NULL },
	{ __LINE__, S("GET HTTP://EXAMPLE.com:8080/a/b?c HTTP/1.1\r\n\r\n"), HP_M_GET, "GET",
	  HP_ABSOLUTE, "EXAMPLE.com:8080", "/a/b", "c", 1, 0, NULL, NULL },
	{ __LINE__, S("GET https://[::1]:443/x HTTP/1.1\r\n\r\n"), HP_M_GET, "GET",
	  HP_ABSOLUTE, "[::1]:443", "/x", NULL, 1, 0, NULL, NULL },
	{ __LINE__, S("GET http://127.0.0.1?x/y HTTP/1.1\r\n\r\n"), HP_M_GET, "GET",
	  HP_ABSOLUTE, "127.0.0.1", "/", "x/y", 1, 0, NULL, NULL },
	{ __LINE__, S("GET hTtPs://a: HTTP/1.0\r\n\r\n"), HP_M_GET, "GET",
	  HP_ABSOLUTE, "a:", "/", NULL, 0, 0, NULL, NULL },
	{ __LINE__, S("GET / HTTP/1.1\r\nX:   a b  \t\r\nY: z\r\n\r\n"), HP_M_GET, "GET",
	  HP_ORIGIN, NULL, "/", NULL, 1, 2, "X", "a b" },
	{ __LINE__, S("GET / HTTP/1.1\r\nX-Y:\t\tv\t\r\n\r\n"), HP_M_GET, "GET",
	  HP_ORIGIN, NULL, "/", NULL, 1, 1, "X-Y", "v" },
	{ __LINE__, S("GET / HTTP/1.1\r\nEmpty: \t \r\n\r\n"), HP_M_GET, "GET",
	  HP_ORIGIN, NULL, "/", NULL, 1, 1, "Empty", "" },
	{ __LINE__, S("GET / HTTP/1.1\r\nx:y\r\n\r\n"), HP_M_GET, "GET",
	  HP_ORIGIN, NULL, "/", NULL, 1, 1, "x", "y" },
	{ __LINE__, S("GET / HTTP/1.1\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\t"
		      "AppleWebKit/537.36 (KHTML, like Gecko)   \r\n\r\n"),
	  HP_M_GET, "GET", HP_ORIGIN, NULL, "/", NULL, 1, 1, "User-Agent",
	  "Mozilla/5.0 (X11; Linux x86_64)\tAppleWebKit/537.36 (KHTML, like Gecko)" },
};

static void check_slice(int line, struct hp_slice s, const char *want, const char *what)
{
	if (want == NULL) {
		TEST_RECORD(s.p == NULL, line, "%s should be absent", what);
		return;
	}
	ASSERT_STR(line, s.p, s.n, want);
}

static void test_slices(void)
{
	size_t k;

	for (k = 0; k < sizeof(slice_cases) / sizeof(slice_cases[0]); k++) {
		const struct slice_case *tc = &slice_cases[k];
		struct http_request req;
		const char *buf = test_guarded(tc->in, tc->n);
		int r = hp_parse_request(buf, tc->n, &req);
		size_t i;

		ASSERT_EQ(tc->line, r, (int)tc->n);
		if (r != (int)tc->n)
			continue;
		ASSERT_EQ(tc->line, req.m, tc->m);
		check_slice(tc->line, req.method, tc->method, "method");
		ASSERT_EQ(tc->line, req.form, tc->form);
		check_slice(tc->line, req.authority, tc->authority, "authority");
		check_slice(tc->line, req.path, tc->path, "path");
		check_slice(tc->line, req.query, tc->query, "query");
		ASSERT_EQ(tc->line, req.minor, tc->minor);
		ASSERT_EQ(tc->line, req.nheaders, tc->nheaders);
		/* The request line is everything before the first CRLF. */
		ASSERT_EQ(tc->line, req.line.p == buf, 1);
		ASSERT_EQ(tc->line, req.line.n,
			  (size_t)((const char *)memchr(buf, '\r', tc->n) - buf));
		ASSERT_EQ(tc->line, req.target.p == req.method.p + req.method.n + 1, 1);
		ASSERT_EQ(tc->line, req.target.p + req.target.n + 9 == buf + req.line.n, 1);
		/* Every slice points into the buffer. */
		ASSERT_TRUE(tc->line, req.path.p >= buf && req.path.p + req.path.n <= buf + tc->n);
		if (tc->nheaders > 0) {
			check_slice(tc->line, req.headers[0].name, tc->name0, "name");
			check_slice(tc->line, req.headers[0].value, tc->value0, "value");
		}
		for (i = 0; i < req.nheaders; i++)
			ASSERT_TRUE(tc->line, req.headers[i].value.p >= buf &&
				    req.headers[i].value.p + req.headers[i].value.n <= buf + tc->n);
	}
}

/* Every proper prefix of a complete head needs more bytes; bytes after the
 * head (a pipelined request, a body) are not consumed. */
static void test_prefixes(void)
{
	static const struct {
		int line;
		const char *in;
		size_t n;
	} cases[] = {
		{ __LINE__, S("GET / HTTP/1.1\r\nHost: a\r\n\r\n") },
		{ __LINE__, S("POST /up?x=%41 HTTP/1.0\r\nContent-Length: 3\r\nX:  y \r\n\r\n") },
		{ __LINE__, S("OPTIONS * HTTP/1.1\r\nHost: [::1]:80\r\n\r\n") },
		{ __LINE__, S("GET https://a.b:1/c?d HTTP/1.9\r\nA:\r\nB:\t\x80\r\n\r\n") },
		{ __LINE__, S("GET / HTTP/1.1\r\nUser-Agent: 0123456789abcdef0123456789abcdef"
			      "\t0123456789abcdef0123456789abcdef\r\n\r\n") },
	};
	size_t k, i;

	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct http_request req;
		char tmp[256];
		int first_bad = -1, got = 0;

		for (i = 0; i < cases[k].n; i++) {
			int r = parse(cases[k].in, i, &req);

			if (r != HP_INCOMPLETE && first_bad < 0) {
				first_bad = (int)i;
				got = r;
			}
		}
		TEST_RECORD(first_bad < 0, cases[k].line,
			    "prefix of %d bytes gave %d, want HP_INCOMPLETE", first_bad, got);
		ASSERT_EQ(cases[k].line, parse(cases[k].in, cases[k].n, &req), (int)cases[k].n);

		memcpy(tmp, cases[k].in, cases[k].n);
		memcpy(tmp + cases[k].n, "GET / HTTP/1.1\r\n", 16);
		ASSERT_EQ(cases[k].line, parse(tmp, cases[k].n + 16, &req), (int)cases[k].n);
		memcpy(tmp + cases[k].n, "\r\n\0\x01 bad", 8);
		ASSERT_EQ(cases[k].line, parse(tmp, cases[k].n + 8, &req), (int)cases[k].n);
	}
}

/* ---- Limits ---- */

static char big[3 * HP_MAX_HEAD];

/* A head of exactly total bytes: a request line of line_len bytes (CRLF
 * included), then "X: aaa...\r\n" filling up, then the final CRLF. */
static size_t make_head(size_t line_len, size_t total)
{
	size_t n = 0;

	memcpy(big, "GET /", 5);
	n = 5;
	memset(big + n, 'a', line_len - 5 - 11);
	n = line_len - 11;
	memcpy(big + n, " HTTP/1.1\r\n", 11);
	n += 11;
	if (total > n + 2) {
		memcpy(big + n, "X: ", 3);
		memset(big + n + 3, 'b', total - n - 7);
		memcpy(big + total - 4, "\r\n", 2);
	}
	memcpy(big + total - 2, "\r\n", 2);
	return total;
}

static void test_limits(void)
{
	struct http_request req;
	size_t n, i;

	/* A complete head of exactly HP_MAX_HEAD bytes is accepted. */
	n = make_head(100, HP_MAX_HEAD);
	ASSERT_EQ(__LINE__, parse(big, n, &req), HP_MAX_HEAD);
	ASSERT_EQ(__LINE__, req.headers[0].value.n, HP_MAX_HEAD - 100 - 7);
	memcpy(big + n, "GET / HTTP/1.1\r\n", 16);
	ASSERT_EQ(__LINE__, parse(big, n + 16, &req), HP_MAX_HEAD);
	ASSERT_EQ(__LINE__, parse(big, n - 1, &req), HP_INCOMPLETE);
	/* One byte more is too large, however much has arrived. */
	n = make_head(100, HP_MAX_HEAD + 1);
	ASSERT_EQ(__LINE__, parse(big, n, &req), HP_ERROR);
	ASSERT_EQ(__LINE__, req.status, 431);
	ASSERT_EQ(__LINE__, parse(big, HP_MAX_HEAD, &req), HP_ERROR);
	ASSERT_EQ(__LINE__, req.status, 431);
	ASSERT_EQ(__LINE__, parse(big, HP_MAX_HEAD - 1, &req), HP_INCOMPLETE);
	memset(big + n, 'z', 1000);
	ASSERT_EQ(__LINE__, parse(big, n + 1000, &req), HP_ERROR);
	ASSERT_EQ(__LINE__, req.status, 431);

	/* The longest request line: its LF is the last byte looked at. The
	 * head it starts cannot be complete within the limit: 431. */
	n = make_head(HP_MAX_HEAD, HP_MAX_HEAD + 2);
	ASSERT_EQ(__LINE__, parse(big, HP_MAX_HEAD - 1, &req), HP_INCOMPLETE);
	ASSERT_EQ(__LINE__, parse(big, HP_MAX_HEAD, &req), HP_ERROR);
	ASSERT_EQ(__LINE__, req.status, 431);
	ASSERT_EQ(__LINE__, parse(big, n, &req), HP_ERROR);
	ASSERT_EQ(__LINE__, req.status, 431);
	/* One byte longer: the LF is past the limit, the CR is not. */
	n = make_head(HP_MAX_HEAD + 1, HP_MAX_HEAD + 3);
	ASSERT_EQ(__LINE__, parse(big, HP_MAX_HEAD - 1, &req), HP_INCOMPLETE);
	ASSERT_EQ(__LINE__, parse(big, HP_MAX_HEAD, &req), HP_ERROR);
	ASSERT_EQ(__LINE__, req.status, 414);
	ASSERT_EQ(__LINE__, parse(big, n, &req), HP_ERROR);
	ASSERT_EQ(__LINE__, req.status, 414);
	/* A request line far longer than the limit. */
	n = make_head(2 * HP_MAX_HEAD, 2 * HP_MAX_HEAD + 2);
	ASSERT_EQ(__LINE__, parse(big, n, &req), HP_ERROR);
	ASSERT_EQ(__LINE__, req.status, 414);
	ASSERT_TRUE(__LINE__, req.reason != NULL);
	/* Also when the limit falls inside a %-escape or the method. */
	memcpy(big + HP_MAX_HEAD - 2, "%4", 2);
	ASSERT_EQ(__LINE__, parse(big, HP_MAX_HEAD, &req), HP_ERROR);
	ASSERT_EQ(__LINE__, req.status, 414);
	memset(big, 'G', HP_MAX_HEAD);
	ASSERT_EQ(__LINE__, parse(big, HP_MAX_HEAD, &req), HP_ERROR);
	ASSERT_EQ(__LINE__, req.status, 414);
	ASSERT_EQ(__LINE__, parse(big, HP_MAX_HEAD - 1, &req), HP_INCOMPLETE);
	/* Past the limit nothing is read: an error there is not seen. */
	n = make_head(100, HP_MAX_HEAD);
	big[n] = '\0';
	ASSERT_EQ(__LINE__, parse(big, n + 1, &req), HP_MAX_HEAD);

	/* 100 fields are accepted, 101 are not. */
	n = (size_t)sprintf(big, "GET / HTTP/1.1\r\n");
	for (i = 0; i < HP_MAX_HEADERS; i++)
		n += (size_t)sprintf(big + n, "X-%zu: %zu\r\n", i, i);
	memcpy(big + n, "\r\n", 2);
	ASSERT_EQ(__LINE__, parse(big, n + 2, &req), (int)n + 2);
	ASSERT_EQ(__LINE__, req.nheaders, HP_MAX_HEADERS);
	ASSERT_STR(__LINE__, req.headers[99].name.p, req.headers[99].name.n, "X-99");
	ASSERT_STR(__LINE__, req.headers[99].value.p, req.headers[99].value.n, "99");
	ASSERT_EQ(__LINE__, parse(big, n, &req), HP_INCOMPLETE);
	memcpy(big + n, "Y: 1\r\n\r\n", 8);
	ASSERT_EQ(__LINE__, parse(big, n + 8, &req), HP_ERROR);
	ASSERT_EQ(__LINE__, req.status, 431);
	ASSERT_EQ(__LINE__, parse(big, n + 1, &req), HP_ERROR);
	ASSERT_EQ(__LINE__, req.status, 431);

	/* Long values with tabs and controls at every offset exercise the
	 * vector scan and its tail. */
	for (i = 0; i < 40; i++) {
		size_t h = (size_t)sprintf(big, "GET / HTTP/1.1\r\nX: ");

		memset(big + h, 'v', 40);
		big[h + i] = '\t';
		memcpy(big + h + 40, "\r\n\r\n", 4);
		ASSERT_EQ(__LINE__, parse(big, h + 44, &req), (int)h + 44);
		big[h + i] = '\x7f';
		ASSERT_EQ(__LINE__, parse(big, h + 44, &req), HP_ERROR);
		big[h + i] = '\0';
		ASSERT_EQ(__LINE__, parse(big, h + 44, &req), HP_ERROR);
		big[h + i] = '\x80';
		ASSERT_EQ(__LINE__, parse(big, h + 44, &req), (int)h + 44);
		ASSERT_EQ(__LINE__, parse(big, h + i + 1, &req), HP_INCOMPLETE);
	}
}

/* ---- hp_analyze, and every smuggling vector end to end ---- */

struct analyze_case {
	int line;
	const char *in;
	size_t n;
	int status;      /* from hp_parse_request if it fails, else hp_analyze */
	int has_length;  /* -1: do not check the fields below */
	uint64_t length;
	int chunked, keep_alive, expect;
	const char *host; /* NULL: absent */
};

#define REQ11 "GET / HTTP/1.1\r\nHost: h\r\n"
#define POST11 "POST / HTTP/1.1\r\nHost: h\r\n"
#define POST10 "POST / HTTP/1.0\r\n"
#define A_OK(lit, hl, l, ch, ka, ex, host) { __LINE__, S(lit), 0, hl, l, ch, ka, ex, host }
#define A_ERR(lit, st) { __LINE__, S(lit), st, -1, 0, 0, 0, 0, NULL }
/* 417, and whether info.expect_continue was still set. */
#define A_417(lit, ex) { __LINE__, S(lit), 417, -1, 0, 0, 0, ex, NULL }

static const struct analyze_case analyze_cases[] = {
	/* An empty Host is valid (RFC 9112 3.2); the server then refuses the
	 * name (403), not the syntax. */
	A_OK("GET / HTTP/1.1\r\nHost:\r\n\r\n", 0, 0, 0, 1, 0, ""),
	A_OK("GET / HTTP/1.0\r\nHost: \r\n\r\n", 0, 0, 0, 0, 0, ""),
	A_OK(REQ11 "\r\n", 0, 0, 0, 1, 0, "h"),
	A_OK("GET / HTTP/1.0\r\n\r\n", 0, 0, 0, 0, 0, NULL),
	A_OK("GET / HTTP/1.2\r\nhOST: h\r\n\r\n", 0, 0, 0, 1, 0, "h"),

	/* Connection and persistence. */
	A_OK("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, 0, 0, 1, 0, NULL),
	A_OK("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 0, 0, 0, 1, 0, NULL),
	A_OK("GET / HTTP/1.0\r\nConnection: foo ,keep-alive\r\n\r\n", 0, 0, 0, 1, 0, NULL),
	A_OK("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", 0, 0, 0, 0, 0, NULL),
	A_OK("GET / HTTP/1.0\r\nConnection: keep-alives\r\n\r\n", 0, 0, 0, 0, 0, NULL),
	A_OK(REQ11 "Connection: close\r\n\r\n", 0, 0, 0, 0, 0, "h"),
	A_OK(REQ11 "connection: foo, CLOSE\r\n\r\n", 0, 0, 0, 0, 0, "h"),
	A_OK(REQ11 "Connection: te\r\nConnection: close\r\n\r\n", 0, 0, 0, 0, 0, "h"),
	A_OK(REQ11 "Connection: keep-alive\r\n\r\n", 0, 0, 0, 1, 0, "h"),
	A_OK(REQ11 "Connection: closed\r\n\r\n", 0, 0, 0, 1, 0, "h"),
	A_OK(REQ11 "Connection:\r\n\r\n", 0, 0, 0, 1, 0, "h"),

	/* Host. */
	A_ERR("GET / HTTP/1.1\r\n\r\n", 400),
	A_ERR("GET http://h/ HTTP/1.1\r\n\r\n", 400),
	A_ERR(REQ11 "Host: h\r\n\r\n", 400),
	A_ERR(REQ11 "Host: i\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.0\r\nHost: h\r\nHOST: h\r\n\r\n", 400),

	A_ERR("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
	A_OK("GET / HTTP/1.1\r\nHost: a,b\r\n\r\n", 0, 0, 0, 1, 0, "a,b"),
	A_ERR("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: a:b\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: a:80:80\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: :80\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: a?b\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: a#b\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: a%4\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: a\x80\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: ::1\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: [::1]]\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: [1:2:3:4:5:6:7:8:9]\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: [1:2:3:4:5:6:7]\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: [1::2::3]\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: [12345::]\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: [:1]\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: [1:]\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: [:::]\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: []\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: [::ffff:1.2.3.256]\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: [::ffff:1.2.3]\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: [::ffff:01.2.3.4]\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: [1.2.3.4]\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: [v1.]\r\n\r\n", 400),
	A_ERR("GET / HTTP/1.1\r\nHost: [vx.a]\r\n\r\n", 400),
	A_OK("GET / HTTP/1.1\r\nHost: a:\r\n\r\n", 0, 0, 0, 1, 0, "a:"),
	A_OK("GET / HTTP/1.1\r\nHost: LocalHost:8080\r\n\r\n", 0, 0, 0, 1, 0, "LocalHost:8080"),
	A_OK("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 0, 0, 0, 1, 0, "127.0.0.1"),
	A_OK("GET / HTTP/1.1\r\nHost: 999.1.1.1\r\n\r\n", 0, 0, 0, 1, 0, "999.1.1.1"),
	A_OK("GET / HTTP/1.1\r\nHost: a%41-._~!$&'()*+,;=\r\n\r\n", 0, 0, 0, 1, 0,
	     "a%41-._~!$&'()*+,;="),
	A_OK("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 0, 0, 0, 1, 0, "[::1]:8080"),
	A_OK("GET / HTTP/1.1\r\nHost: [::]\r\n\r\n", 0, 0, 0, 1, 0, "[::]"),
	A_OK("GET / HTTP/1.1\r\nHost: [1:2:3:4:5:6:7:8]\r\n\r\n", 0, 0, 0, 1, 0,
	     "[1:2:3:4:5:6:7:8]"),
	A_OK("GET / HTTP/1.1\r\nHost: [1:2:3:4:5:6:7::]\r\n\r\n", 0, 0, 0, 1, 0,
	     "[1:2:3:4:5:6:7::]"),
	A_OK("GET / HTTP/1.1\r\nHost: [::2:3:4:5:6:7:8]\r\n\r\n", 0, 0, 0, 1, 0,
	     "[::2:3:4:5:6:7:8]"),
	A_OK("GET / HTTP/1.1\r\nHost: [FE80::abcd:1]:1\r\n\r\n", 0, 0, 0, 1, 0,
	     "[FE80::abcd:1]:1"),
	A_OK("GET / HTTP/1.1\r\nHost: [::ffff:192.168.0.255]\r\n\r\n", 0, 0, 0, 1, 0,
	     "[::ffff:192.168.0.255]"),
	A_OK("GET / HTTP/1.1\r\nHost: [1:2:3:4:5:6:1.2.3.4]\r\n\r\n", 0, 0, 0, 1, 0,
	     "[1:2:3:4:5:6:1.2.3.4]"),
	A_OK("GET / HTTP/1.1\r\nHost: [v7.a:b]\r\n\r\n", 0, 0, 0, 1, 0, "[v7.a:b]"),

	/* Content-Length. */
	A_OK(POST11 "Content-Length: 5\r\n\r\n", 1, 5, 0, 1, 0, "h"),
	A_OK(POST11 "Content-Length: 0\r\n\r\n", 1, 0, 0, 1, 0, "h"),
	A_OK(POST11 "content-length:  007 \r\n\r\n", 1, 7, 0, 1, 0, "h"),
	A_OK(POST11 "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", 1, 5, 0, 1, 0, "h"),
	A_OK(POST11 "Content-Length: 5\r\nContent-Length: 05\r\n\r\n", 1, 5, 0, 1, 0, "h"),
	A_OK(POST11 "Content-Length: 9223372036854775807\r\n\r\n", 1, INT64_MAX, 0, 1, 0, "h"),
	A_OK(POST11 "Content-Length: 0000000000000000001\r\n\r\n", 1, 1, 0, 1, 0, "h"),
	A_OK(POST10 "Content-Length: 3\r\n\r\n", 1, 3, 0, 0, 0, NULL),
	A_ERR(POST11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
	A_ERR(POST11 "Content-Length: 5\r\nX: y\r\nCONTENT-LENGTH: 50\r\n\r\n", 400),
	A_ERR(POST11 "Content-Length: 5, 5\r\n\r\n", 400),
	A_ERR(POST11 "Content-Length: 5,5\r\n\r\n", 400),
	A_ERR(POST11 "Content-Length: 5 5\r\n\r\n", 400),
	A_ERR(POST11 "Content-Length: +5\r\n\r\n", 400),
	A_ERR(POST11 "Content-Length: -1\r\n\r\n", 400),
	A_ERR(POST11 "Content-Length: 0x5\r\n\r\n", 400),
	A_ERR(POST11 "Content-Length: 5a\r\n\r\n", 400),
	A_ERR(POST11 "Content-Length: 5.0\r\n\r\n", 400),
	A_ERR(POST11 "Content-Length: \"5\"\r\n\r\n", 400),
	A_ERR(POST11 "Content-Length: \xd9\xa5\r\n\r\n", 400),
	A_ERR(POST11 "Content-Length:\r\n\r\n", 400),
	A_ERR(POST11 "Content-Length: 9223372036854775808\r\n\r\n", 400),
	A_ERR(POST11 "Content-Length: 18446744073709551616\r\n\r\n", 400),
	A_ERR(POST11 "Content-Length: 00000000000000000001\r\n\r\n", 400),
	A_ERR(POST11 "Content-Length: 99999999999999999999999\r\n\r\n", 400),
	A_ERR(POST11 "Content-Length : 5\r\n\r\n", 400),
	A_ERR(POST11 "Content-Length: 5\r\n 6\r\n\r\n", 400),

	/* Transfer-Encoding. */
	A_OK(POST11 "Transfer-Encoding: chunked\r\n\r\n", 0, 0, 1, 1, 0, "h"),
	A_OK(POST11 "transfer-encoding: Chunked\r\n\r\n", 0, 0, 1, 1, 0, "h"),
	A_OK(POST11 "Transfer-Encoding: , chunked ,\r\n\r\n", 0, 0, 1, 1, 0, "h"),
	A_ERR(POST11 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400),
	A_ERR(POST11 "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
	A_ERR(POST10 "Transfer-Encoding: chunked\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: gzip\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: identity\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: chunked, gzip\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: chunked, chunked\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding:\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: ,\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: , ,\t,\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding:\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: \r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: chunk\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: chunked;a=b\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: chunked;\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: gzip chunked\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: chu nked\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: \"chunked\"\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: gzip;, chunked\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: gzip;q, chunked\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: gzip;q=, chunked\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: gzip;q=\"1, chunked\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: gzip/1, chunked\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: chunked\x80\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: \x0b" "chunked\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: chunked\r\n \r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding : chunked\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding:\x00chunked\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
	A_ERR(POST11 "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
	A_ERR(POST11 "Transfer-Encoding: x-foo ; q = 1 ;r=\"a \\\" b\", chunked\r\n\r\n", 501),
	A_ERR(POST11 "Transfer-Encoding: identity, , chunked\r\n\r\n", 501),

	/* Expect. */
	A_OK(POST11 "Content-Length: 1\r\nExpect: 100-continue\r\n\r\n", 1, 1, 0, 1, 1, "h"),
	A_OK(POST11 "Content-Length: 1\r\nexpect: 100-Continue\r\n\r\n", 1, 1, 0, 1, 1, "h"),
	A_OK(POST10 "Content-Length: 1\r\nExpect: 100-continue\r\n\r\n", 1, 1, 0, 0, 0, NULL),
	A_417(POST11 "Expect: foo\r\n\r\n", 0),
	A_417(POST11 "Expect: 100-continue;a=b\r\n\r\n", 0),
	A_417(POST11 "Expect: 200-ok\r\n\r\n", 0),
	A_417(POST11 "Expect: 100-continuex\r\n\r\n", 0),
	A_417(POST11 "Expect: 100-continue foo\r\n\r\n", 0),
	A_417(POST11 "Expect: foo, bar\r\n\r\n", 0),
	/* Expect is a list: every member is read, so a 100-continue is seen
	 * wherever it stands, and any unknown member still earns 417. */
	A_417(POST11 "Expect: 100-continue, foo\r\n\r\n", 1),
	A_417(POST11 "Expect: foo, 100-continue\r\n\r\n", 1),
	A_417(POST11 "Expect: FOO ,\t100-CONTINUE\r\n\r\n", 1),
	A_417(POST11 "Expect: ,foo,,100-Continue,\r\n\r\n", 1),
	A_417(POST11 "Expect: foo\r\nExpect: 100-continue\r\n\r\n", 1),
	A_417(POST11 "Expect: 100-continue\r\nexpect: foo\r\n\r\n", 1),
	A_417(POST10 "Expect: foo, 100-continue\r\n\r\n", 0), /* ignored in 1.0 */
	A_OK(POST11 "Content-Length: 1\r\nExpect: , 100-continue ,,\r\n\r\n", 1, 1, 0, 1, 1, "h"),
	A_OK(POST11 "Content-Length: 1\r\nExpect: 100-continue,100-CONTINUE\r\n\r\n", 1, 1, 0, 1, 1, "h"),
	A_OK(POST11 "Content-Length: 1\r\nExpect: ,\r\nExpect: 100-continue\r\n\r\n", 1, 1, 0, 1, 1, "h"),
	A_OK(POST11 "Content-Length: 1\r\nExpect: , ,\t,\r\n\r\n", 1, 1, 0, 1, 0, "h"),
	A_OK(POST11 "Content-Length: 1\r\nExpect:\r\n\r\n", 1, 1, 0, 1, 0, "h"),
	/* Framing errors come before the expectation. */
	A_ERR(POST11 "Expect: foo\r\nContent-Length: x\r\n\r\n", 400),
	A_ERR(POST11 "Expect: foo\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),

	/* The rest of SPEC §2's smuggling list, through the parser. */
	A_ERR(POST11 "Content-Length: 5\r\n\tTransfer-Encoding: chunked\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding:\r\n chunked\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: chunked\rContent-Length: 5\r\n\r\n", 400),
	A_ERR(POST11 "Content-Length: 5\rX: y\r\n\r\n", 400),
	A_ERR(POST11 "Content-Length: 5\nTransfer-Encoding: chunked\r\n\r\n", 400),
	A_ERR(POST11 "Content-Length: 5\0\r\n\r\n", 400),
	A_ERR(POST11 "Transfer-Encoding: chunked\x01\r\n\r\n", 400),
};

static void test_analyze(void)
{
	size_t k;

	for (k = 0; k < sizeof(analyze_cases) / sizeof(analyze_cases[0]); k++) {
		const struct analyze_case *tc = &analyze_cases[k];
		struct http_request req;
		struct hp_info info;
		const char *reason = NULL;
		int r = parse(tc->in, tc->n, &req), st;

		if (r == HP_ERROR) {
			ASSERT_EQ(tc->line, req.status, tc->status);
			continue;
		}
		TEST_RECORD(r > 0, tc->line, "parse gave %d", r);
		if (r <= 0)
			continue;
		st = hp_analyze(&req, &info, &reason);
		ASSERT_EQ(tc->line, st, tc->status);
		if (st == 417)
			ASSERT_EQ(tc->line, info.expect_continue, tc->expect);
		if (st != 0) {
			ASSERT_TRUE(tc->line, reason != NULL && reason[0] != '\0');
			continue;
		}
		if (tc->has_length < 0)
			continue;
		ASSERT_EQ(tc->line, info.has_length, tc->has_length);
		ASSERT_EQ(tc->line, info.length, tc->length);
		ASSERT_EQ(tc->line, info.chunked, tc->chunked);
		ASSERT_EQ(tc->line, info.keep_alive, tc->keep_alive);
		ASSERT_EQ(tc->line, info.expect_continue, tc->expect);
		check_slice(tc->line, info.host, tc->host, "host");
	}
}

/* The remaining fields land in their slices; the first occurrence wins,
 * except that a repeated Range is ignored. */
/* List fields on several lines are flagged and joinable; repeated dates
 * and If-Range are dropped (RFC 9110 5.3, 13.1.3, 13.1.4). */
/* hp_field_lines: every line of a name, in order, any case, whatever the
 * length; cap bounds what is stored. */
static void test_field_lines(void)
{
	static const char in[] =
		"GET / HTTP/1.1\r\n"
		"Host: h\r\n"
		"If-None-Match: \"a\"\r\n"
		"Accept-Encoding: br\r\n"
		"if-none-match:\r\n"
		"IF-NONE-MATCH:  W/\"b\" , \"c\"\t\r\n"
		"If-None-Matches: \"no\"\r\n"
		"\r\n";
	struct http_request req;
	struct hp_slice out[HP_MAX_HEADERS];
	int r = parse(in, sizeof(in) - 1, &req);

	ASSERT_EQ(__LINE__, r, (int)sizeof(in) - 1);
	if (r <= 0)
		return;
	ASSERT_EQ(__LINE__, hp_field_lines(&req, "if-none-match", out, HP_MAX_HEADERS), 3);
	check_slice(__LINE__, out[0], "\"a\"", "line 1");
	check_slice(__LINE__, out[1], "", "line 2");
	check_slice(__LINE__, out[2], "W/\"b\" , \"c\"", "line 3");
	ASSERT_EQ(__LINE__, hp_field_lines(&req, "If-None-Match", out, 2), 2);
	ASSERT_EQ(__LINE__, hp_field_lines(&req, "accept-encoding", out, HP_MAX_HEADERS), 1);
	check_slice(__LINE__, out[0], "br", "accept-encoding");
	ASSERT_EQ(__LINE__, hp_field_lines(&req, "if-match", out, HP_MAX_HEADERS), 0);

	/* HP_MAX_HEADERS lines of one name: none is left out. */
	static char many[HP_MAX_HEAD];
	size_t n = (size_t)snprintf(many, sizeof(many), "GET / HTTP/1.1\r\n");

	for (int k = 0; k < HP_MAX_HEADERS; k++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "Accept-Encoding: c%d\r\n", k);
	n += (size_t)snprintf(many + n, sizeof(many) - n, "\r\n");
	r = parse(many, n, &req);
	ASSERT_EQ(__LINE__, r, (int)n);
	if (r <= 0)
		return;
	ASSERT_EQ(__LINE__, hp_field_lines(&req, "accept-encoding", out, HP_MAX_HEADERS),
		  HP_MAX_HEADERS);
	check_slice(__LINE__, out[HP_MAX_HEADERS - 1], "c99", "last line");
}

static void test_analyze_repeats(void)
{
	static const char in[] =
		"GET / HTTP/1.1\r\n"
		"Host: h\r\n"
		"If-None-Match: \"a\"\r\n"
		"Accept-Encoding: deflate\r\n"
		"If-None-Match: \"b\", W/\"c\"\r\n"
		"If-Match: \"m\"\r\n"
		"If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
		"If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
		"If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
		"if-unmodified-since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
		"If-Range: \"x\"\r\n"
		"If-Range: \"y\"\r\n"
		"accept-encoding: br;q=0.5\r\n"
		"Content-Type: application/json\r\n"
		"content-type: text/plain\r\n"
		"Authorization: Bearer a\r\n"
		"\r\n";
	struct http_request req;
	struct hp_info info;
	const char *reason;
	char buf[256];
	int r = parse(in, sizeof(in) - 1, &req);

	ASSERT_EQ(__LINE__, r, (int)sizeof(in) - 1);
	ASSERT_EQ(__LINE__, hp_analyze(&req, &info, &reason), 0);
	ASSERT_EQ(__LINE__, info.if_none_match_multi, 1);
	ASSERT_EQ(__LINE__, info.accept_encoding_multi, 1);
	ASSERT_EQ(__LINE__, info.if_match_multi, 0);
	ASSERT_EQ(__LINE__, info.content_type_dup, 1);
	ASSERT_STR(__LINE__, info.content_type.p, info.content_type.n, "application/json");
	ASSERT_EQ(__LINE__, info.authorization_dup, 0);
	ASSERT_STR(__LINE__, info.if_none_match.p, info.if_none_match.n, "\"a\"");
	ASSERT_TRUE(__LINE__, info.if_modified_since.p == NULL);
	ASSERT_TRUE(__LINE__, info.if_unmodified_since.p == NULL);
	ASSERT_TRUE(__LINE__, info.if_range.p == NULL);
	size_t n = hp_join_field(&req, "if-none-match", buf, sizeof(buf));
	ASSERT_STR(__LINE__, buf, n, "\"a\", \"b\", W/\"c\"");
	n = hp_join_field(&req, "Accept-Encoding", buf, sizeof(buf));
	ASSERT_STR(__LINE__, buf, n, "deflate, br;q=0.5");
	n = hp_join_field(&req, "if-match", buf, sizeof(buf));
	ASSERT_STR(__LINE__, buf, n, "\"m\"");
	/* Too long for the buffer: 0, never a truncated list. */
	ASSERT_EQ(__LINE__, hp_join_field(&req, "if-none-match", buf, 10), 0);
	ASSERT_EQ(__LINE__, hp_join_field(&req, "x-absent", buf, sizeof(buf)), 0);
}

static void test_analyze_slices(void)
{
	static const char in[] =
		"GET / HTTP/1.1\r\n"
		"HOST: example.com:80\r\n"
		"content-type: text/plain\r\n"
		"Content-Type: text/html\r\n"
		"Authorization: Basic eA==\r\n"
		"User-Agent: ua\r\n"
		"Referer: http://r/\r\n"
		"If-Match: \"a\"\r\n"
		"If-None-Match: W/\"b\", \"c\"\r\n"
		"If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
		"If-Unmodified-Since: Mon, 07 Nov 1994 08:49:37 GMT\r\n"
		"If-Range: \"d\"\r\n"
		"Range: bytes=0-1\r\n"
		"range: bytes=5-\r\n"
		"Accept-Encoding: gzip\r\n"
		"X-Content-Type: no\r\n"
		"\r\n";
	struct http_request req;
	struct hp_info info;
	const char *reason;
	int r = parse(in, sizeof(in) - 1, &req);

	ASSERT_EQ(__LINE__, r, (int)sizeof(in) - 1);
	ASSERT_EQ(__LINE__, hp_analyze(&req, &info, &reason), 0);
	ASSERT_STR(__LINE__, info.host.p, info.host.n, "example.com:80");
	ASSERT_STR(__LINE__, info.content_type.p, info.content_type.n, "text/plain");
	ASSERT_STR(__LINE__, info.authorization.p, info.authorization.n, "Basic eA==");
	ASSERT_STR(__LINE__, info.user_agent.p, info.user_agent.n, "ua");
	ASSERT_STR(__LINE__, info.referer.p, info.referer.n, "http://r/");
	ASSERT_STR(__LINE__, info.if_match.p, info.if_match.n, "\"a\"");
	ASSERT_STR(__LINE__, info.if_none_match.p, info.if_none_match.n, "W/\"b\", \"c\"");
	ASSERT_STR(__LINE__, info.if_modified_since.p, info.if_modified_since.n,
		   "Sun, 06 Nov 1994 08:49:37 GMT");
	ASSERT_STR(__LINE__, info.if_unmodified_since.p, info.if_unmodified_since.n,
		   "Mon, 07 Nov 1994 08:49:37 GMT");
	ASSERT_STR(__LINE__, info.if_range.p, info.if_range.n, "\"d\"");
	/* Range came twice: invalid, so ignored. */
	ASSERT_TRUE(__LINE__, info.range.p == NULL);
	ASSERT_STR(__LINE__, info.accept_encoding.p, info.accept_encoding.n, "gzip");
	ASSERT_EQ(__LINE__, info.has_length, 0);
	ASSERT_EQ(__LINE__, info.chunked, 0);
	ASSERT_EQ(__LINE__, info.keep_alive, 1);

	r = parse(S("GET / HTTP/1.0\r\n\r\n"), &req);
	ASSERT_EQ(__LINE__, r, 18);
	ASSERT_EQ(__LINE__, hp_analyze(&req, &info, &reason), 0);
	ASSERT_TRUE(__LINE__, info.content_type.p == NULL && info.range.p == NULL &&
			      info.host.p == NULL && info.user_agent.p == NULL);
}

static void test_slice_ieq(void)
{
	struct hp_slice s = { "Chunked", 7 }, none = { NULL, 0 }, empty = { "x", 0 };

	ASSERT_TRUE(__LINE__, hp_slice_ieq(s, "chunked"));
	ASSERT_TRUE(__LINE__, hp_slice_ieq(s, "CHUNKED"));
	ASSERT_TRUE(__LINE__, !hp_slice_ieq(s, "chunke"));
	ASSERT_TRUE(__LINE__, !hp_slice_ieq(s, "chunked "));
	ASSERT_TRUE(__LINE__, !hp_slice_ieq(s, "chunkeD\x01"));
	ASSERT_TRUE(__LINE__, !hp_slice_ieq(none, ""));
	ASSERT_TRUE(__LINE__, hp_slice_ieq(empty, ""));
	s.p = "a-[";
	s.n = 3;
	ASSERT_TRUE(__LINE__, !hp_slice_ieq(s, "A-{"));
	ASSERT_TRUE(__LINE__, hp_slice_ieq(s, "A-["));
}

/* ---- Chunked decoder ---- */

#define STUCK (-3)

/* Feeds in[0..n) in pieces of at most step bytes, except that the first
 * piece ends at cut (when cut > 0). Each piece is copied to the guard page.
 * Appends the data to out. Returns HP_ERROR, STUCK (no progress without
 * being done), or 0 with *used set to the bytes consumed until done (or n). */
static int feed(const char *in, size_t n, size_t cut, size_t step, char *out,
		size_t *outn, size_t *used, bool *done)
{
	struct hp_chunked c;
	size_t off = 0;

	hp_chunked_init(&c);
	*outn = 0;
	while (off < n && !c.done) {
		size_t end = cut > off ? cut : off + step;
		const char *piece;
		size_t pn, at = 0;

		if (end > n)
			end = n;
		pn = end - off;
		piece = test_guarded(in + off, pn);
		while (at < pn && !c.done) {
			struct hp_slice d;
			size_t used1;

			if (hp_chunked_feed(&c, piece + at, pn - at, &used1, &d) != 0)
				return HP_ERROR;
			if (d.n > 0) {
				if (d.p != piece + at + used1 - d.n)
					return STUCK; /* data not where it was fed */
				memcpy(out + *outn, d.p, d.n);
				*outn += d.n;
			}
			if (used1 == 0 && d.n == 0 && !c.done)
				return STUCK;
			at += used1;
		}
		off += at;
	}
	*used = off;
	*done = c.done;
	return 0;
}

struct chunk_case {
	int line;
	const char *in;
	size_t n;
	const char *data;
	size_t datan;
	size_t rest; /* bytes after the body, not to be consumed */
};

#define CH_OK(lit, d, rest) { __LINE__, S(lit), S(d), rest }

static const struct chunk_case chunk_ok[] = {
	CH_OK("0\r\n\r\n", "", 0),
	CH_OK("000\r\n\r\n", "", 0),
	CH_OK("5\r\nhello\r\n0\r\n\r\n", "hello", 0),
	CH_OK("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", 0),
	CH_OK("A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n",
	      "0123456789abcdefghij", 0),
	CH_OK("0005\r\nhello\r\n00000000000000000000000\r\n\r\n", "hello", 0),
	CH_OK("3\r\n\r\n\r\r\n1\r\n\0\r\n0\r\n\r\n", "\r\n\r\0", 0),
	CH_OK("1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n", "abc", 0),
	CH_OK("5;a\r\nhello\r\n0\r\n\r\n", "hello", 0),
	CH_OK("5;a=b\r\nhello\r\n0\r\n\r\n", "hello", 0),
	CH_OK("5 ; a = b ; c\t;d=\"\"\r\nhello\r\n0\r\n\r\n", "hello", 0),
	CH_OK("5\t;a=\"q s\\\"x\\\\\"\r\nhello\r\n0\r\n\r\n", "hello", 0),
	CH_OK("5;a=\"\x80\xff\t!#[]\"\r\nhello\r\n0\r\n\r\n", "hello", 0),
	CH_OK("5;a=b;c=d;e \t=\t f\r\nhello\r\n0;last\r\n\r\n", "hello", 0),
	CH_OK("5;!#$%&'*+-.^_`|~=!#$%&'*+-.^_`|~\r\nhello\r\n0\r\n\r\n", "hello", 0),
	CH_OK("0\r\nX: y\r\n\r\n", "", 0),
	CH_OK("2\r\nhi\r\n0;x=1\r\nExpires: Sun, 06 Nov 1994\r\nZ:\r\nA:\tb\t\x80\r\n\r\n",
	      "hi", 0),
	CH_OK("0\r\n\r\nGET / HTTP/1.1\r\n", "", 16),
	CH_OK("2\r\nhi\r\n0\r\nX: y\r\n\r\n\r\n", "hi", 2),
	CH_OK("10\r\n0123456789abcdef\r\n0\r\n\r\nX", "0123456789abcdef", 1),
};

#define CH_BAD(lit) { __LINE__, S(lit) }

static const struct {
	int line;
	const char *in;
	size_t n;
} chunk_bad[] = {
	CH_BAD("g\r\n"),
	CH_BAD("0x5\r\nhello\r\n0\r\n\r\n"),
	CH_BAD("0X5\r\n"),
	CH_BAD("+5\r\nhello\r\n0\r\n\r\n"),
	CH_BAD("-5\r\n"),
	CH_BAD(" 5\r\nhello\r\n0\r\n\r\n"),
	CH_BAD("\t5\r\n"),
	CH_BAD("\r\n"),
	CH_BAD(";a\r\n"),
	CH_BAD("5 \r\nhello\r\n0\r\n\r\n"),
	CH_BAD("5\t\r\n"),
	CH_BAD("5 5\r\n"),
	CH_BAD("5\nhello\r\n0\r\n\r\n"),
	CH_BAD("5\rhello\r\n"),
	CH_BAD("5\r\r\n"),
	CH_BAD("5\r\nhelloX\r\n0\r\n\r\n"),
	CH_BAD("5\r\nhello0\r\n\r\n"),
	CH_BAD("5\r\nhello\n0\r\n\r\n"),
	CH_BAD("5\r\nhello\r0\r\n\r\n"),
	CH_BAD("5\r\nhello\r\n\r\n"),
	CH_BAD("5\r\nhel\r\n"
	       "0\r\n\r\n\r\n\r\n\r\n"),
	CH_BAD("10000000000000000\r\n"),
	CH_BAD("FFFFFFFFFFFFFFFF0\r\n"),
	CH_BAD("1FFFFFFFFFFFFFFFFFFFF\r\n"),
	CH_BAD("5;\r\nhello\r\n"),
	CH_BAD("5;=b\r\n"),
	CH_BAD("5;a=\r\n"),
	CH_BAD("5;a=\"b\r\n"),
	CH_BAD("5;a b\r\n"),
	CH_BAD("5;a=b c\r\n"),
	CH_BAD("5;a=b \r\n"),
	CH_BAD("5;a \r\n"),
	CH_BAD("5 ;a\t\r\n"),
	CH_BAD("5,a\r\n"),
	CH_BAD("5;a,b\r\n"),
	CH_BAD("5;a;\r\n"),
	CH_BAD("5;a=b=c\r\n"),
	CH_BAD("5;a=\"x\"y\r\n"),
	CH_BAD("5;a=\"\x01\"\r\n"),
	CH_BAD("5;a=\"\\\x01\"\r\n"),
	CH_BAD("5;a=\"\x7f\"\r\n"),
	CH_BAD("5;a\0\r\n"),
	CH_BAD("5;a=b\n"),
	CH_BAD("5;\xc3\xa9\r\n"),
	CH_BAD("5;(a)\r\n"),
	CH_BAD("0\r\nX y\r\n\r\n"),
	CH_BAD("0\r\nX : y\r\n\r\n"),
	CH_BAD("0\r\n X: y\r\n\r\n"),
	CH_BAD("0\r\nX: y\r\n z\r\n\r\n"),
	CH_BAD("0\r\nX: y\n\r\n"),
	CH_BAD("0\r\nX: y\r\r\n\r\n"),
	CH_BAD("0\r\n: y\r\n\r\n"),
	CH_BAD("0\r\nX: \x01\r\n\r\n"),
	CH_BAD("0\r\nX: \0\r\n\r\n"),
	CH_BAD("0\r\nX\r\n\r\n"),
	CH_BAD("0\r\n\r\r"),
	CH_BAD("0\r\n\n"),
	CH_BAD("0\r\n\rX"),
};

static void test_chunked_ok(void)
{
	static char out[64 * 1024];
	size_t k;

	for (k = 0; k < sizeof(chunk_ok) / sizeof(chunk_ok[0]); k++) {
		const struct chunk_case *tc = &chunk_ok[k];
		size_t body = tc->n - tc->rest, cut, outn, used;
		bool done;
		int r;

		/* Whole, byte by byte, and split in two at every position. */
		r = feed(tc->in, tc->n, 0, tc->n, out, &outn, &used, &done);
		ASSERT_EQ(tc->line, r, 0);
		ASSERT_EQ(tc->line, done, 1);
		ASSERT_EQ(tc->line, used, body);
		TEST_RECORD(outn == tc->datan && memcmp(out, tc->data, outn) == 0,
			    tc->line, "whole: data differs (%zu bytes)", outn);

		r = feed(tc->in, tc->n, 0, 1, out, &outn, &used, &done);
		ASSERT_EQ(tc->line, r, 0);
		ASSERT_EQ(tc->line, done, 1);
		ASSERT_EQ(tc->line, used, body);
		TEST_RECORD(outn == tc->datan && memcmp(out, tc->data, outn) == 0,
			    tc->line, "bytewise: data differs (%zu bytes)", outn);

		for (cut = 1; cut < tc->n; cut++) {
			r = feed(tc->in, tc->n, cut, tc->n, out, &outn, &used, &done);
			if (r != 0 || !done || used != body || outn != tc->datan ||
			    memcmp(out, tc->data, outn) != 0) {
				TEST_RECORD(0, tc->line, "split at %zu: r=%d done=%d used=%zu",
					    cut, r, done, used);
				break;
			}
		}
		TEST_RECORD(cut >= tc->n, tc->line, "split test");
	}
}

static void test_chunked_bad(void)
{
	static char out[64 * 1024];
	size_t k;

	for (k = 0; k < sizeof(chunk_bad) / sizeof(chunk_bad[0]); k++) {
		const char *in = chunk_bad[k].in;
		size_t n = chunk_bad[k].n, cut, outn, used;
		int line = chunk_bad[k].line;
		bool done;

		ASSERT_EQ(line, feed(in, n, 0, n, out, &outn, &used, &done), HP_ERROR);
		ASSERT_EQ(line, feed(in, n, 0, 1, out, &outn, &used, &done), HP_ERROR);
		for (cut = 1; cut < n; cut++)
			if (feed(in, n, cut, n, out, &outn, &used, &done) != HP_ERROR)
				break;
		TEST_RECORD(cut >= n, line, "split at %zu: no error", cut);
	}
}

/* An error is sticky, and a finished body takes no more bytes. */
static void test_chunked_state(void)
{
	struct hp_chunked c;
	struct hp_slice d;
	size_t used;

	hp_chunked_init(&c);
	ASSERT_EQ(__LINE__, hp_chunked_feed(&c, G("x"), &used, &d), HP_ERROR);
	ASSERT_EQ(__LINE__, hp_chunked_feed(&c, G("0\r\n\r\n"), &used, &d), HP_ERROR);
	ASSERT_EQ(__LINE__, c.done, 0);

	hp_chunked_init(&c);
	ASSERT_EQ(__LINE__, hp_chunked_feed(&c, G(""), &used, &d), 0);
	ASSERT_EQ(__LINE__, used, 0);
	ASSERT_EQ(__LINE__, d.n, 0);
	ASSERT_EQ(__LINE__, hp_chunked_feed(&c, G("3\r\nab"), &used, &d), 0);
	ASSERT_EQ(__LINE__, used, 5);
	ASSERT_STR(__LINE__, d.p, d.n, "ab");
	ASSERT_EQ(__LINE__, c.left, 1);
	ASSERT_EQ(__LINE__, hp_chunked_feed(&c, G("c\r\n0\r\n\r\nrest"), &used, &d), 0);
	ASSERT_EQ(__LINE__, used, 1);
	ASSERT_STR(__LINE__, d.p, d.n, "c");
	ASSERT_EQ(__LINE__, hp_chunked_feed(&c, G("\r\n0\r\n\r\nrest"), &used, &d), 0);
	ASSERT_EQ(__LINE__, used, 7);
	ASSERT_EQ(__LINE__, c.done, 1);
	ASSERT_EQ(__LINE__, hp_chunked_feed(&c, G("rest"), &used, &d), 0);
	ASSERT_EQ(__LINE__, used, 0);
	ASSERT_EQ(__LINE__, d.n, 0);

	/* Any size that fits in 64 bits is accepted (RFC 9112 7.1 sets no
	 * bound), and counted down; leading zeros do not count. */
	hp_chunked_init(&c);
	ASSERT_EQ(__LINE__, hp_chunked_feed(&c, G("4000000000000000\r\nxy"), &used, &d), 0);
	ASSERT_EQ(__LINE__, d.n, 2);
	ASSERT_EQ(__LINE__, c.left, (UINT64_C(1) << 62) - 2);
	hp_chunked_init(&c);
	ASSERT_EQ(__LINE__, hp_chunked_feed(&c, G("7fffffffffffffff\r\n"), &used, &d), 0);
	ASSERT_EQ(__LINE__, c.left, UINT64_C(0x7fffffffffffffff));
	hp_chunked_init(&c);
	ASSERT_EQ(__LINE__, hp_chunked_feed(&c, G("0000000000000000ffffffffffffffff\r\n"),
					    &used, &d), 0);
	ASSERT_EQ(__LINE__, c.left, UINT64_MAX);
	/* One more digit would overflow: refused. */
	hp_chunked_init(&c);
	ASSERT_EQ(__LINE__, hp_chunked_feed(&c, G("10000000000000000\r\n"), &used, &d) < 0, 1);
	hp_chunked_init(&c);
	ASSERT_EQ(__LINE__, hp_chunked_feed(&c, G("fffffffffffffffff\r\n"), &used, &d) < 0, 1);
}

/* Line and trailer size limits, exactly at the boundary. */
static void test_chunked_limits(void)
{
	static char in[16 * 1024], out[64];
	size_t n, outn, used;
	bool done;

	/* A size line of 4096 bytes before its CRLF is accepted, 4097 not. */
	n = (size_t)sprintf(in, "1;a=");
	memset(in + n, 'b', 4096 - n);
	n = 4096;
	memcpy(in + n, "\r\nx\r\n0\r\n\r\n", 10);
	ASSERT_EQ(__LINE__, feed(in, n + 10, 0, n + 10, out, &outn, &used, &done), 0);
	ASSERT_EQ(__LINE__, done, 1);
	ASSERT_EQ(__LINE__, feed(in, n + 10, 0, 7, out, &outn, &used, &done), 0);
	ASSERT_EQ(__LINE__, done, 1);
	memmove(in + 5, in + 4, n + 10 - 4);
	ASSERT_EQ(__LINE__, feed(in, n + 11, 0, n + 11, out, &outn, &used, &done), HP_ERROR);
	ASSERT_EQ(__LINE__, feed(in, n + 11, 0, 13, out, &outn, &used, &done), HP_ERROR);
	/* The limit also holds for a line that never ends, and for zeros. */
	memset(in, '0', 5000);
	ASSERT_EQ(__LINE__, feed(in, 5000, 0, 5000, out, &outn, &used, &done), HP_ERROR);
	ASSERT_EQ(__LINE__, feed(in, 4096, 0, 4096, out, &outn, &used, &done), 0);
	ASSERT_EQ(__LINE__, done, 0);

	/* A trailer section of 8192 bytes, final CRLF included, is
	 * accepted; 8193 is not. */
	n = (size_t)sprintf(in, "0\r\nX: ");
	memset(in + n, 'v', 3 + 8192 - n - 4);
	n = 3 + 8192 - 4;
	memcpy(in + n, "\r\n\r\n", 4);
	ASSERT_EQ(__LINE__, feed(in, n + 4, 0, n + 4, out, &outn, &used, &done), 0);
	ASSERT_EQ(__LINE__, done, 1);
	ASSERT_EQ(__LINE__, used, n + 4);
	memmove(in + 7, in + 6, n + 4 - 6);
	ASSERT_EQ(__LINE__, feed(in, n + 5, 0, n + 5, out, &outn, &used, &done), HP_ERROR);
	ASSERT_EQ(__LINE__, feed(in, n + 5, 0, 100, out, &outn, &used, &done), HP_ERROR);
	/* Many small trailer lines count too. */
	n = (size_t)sprintf(in, "0\r\n");
	while (n < 9000)
		n += (size_t)sprintf(in + n, "A: b\r\n");
	memcpy(in + n, "\r\n", 2);
	ASSERT_EQ(__LINE__, feed(in, n + 2, 0, n + 2, out, &outn, &used, &done), HP_ERROR);
}

int main(void)
{
	test_parse_cases();
	test_reasons();
	test_slices();
	test_prefixes();
	test_limits();
	test_analyze();
	test_analyze_slices();
	test_analyze_repeats();
	test_field_lines();
	test_slice_ieq();
	test_chunked_ok();
	test_chunked_bad();
	test_chunked_state();
	test_chunked_limits();
	return test_summary();
}
