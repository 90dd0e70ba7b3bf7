/* Unit tests for src/cors.c: --cors-origin values, matching a request's
 * Origin, and the header lines. Inputs end right before a guard page. */
#include "cors.h"
#include "test.h"

struct origin_case {
	int line;
	const char *in;
	int want; /* 0 or -1 */
};

static const struct origin_case origin_cases[] = {
	{ __LINE__, "*", 0 },
	{ __LINE__, "http://app.example", 0 },
	{ __LINE__, "https://app.example:8443", 0 },
	{ __LINE__, "http://127.0.0.1:8000", 0 },
	{ __LINE__, "http://[::1]:8080", 0 },
	{ __LINE__, "http://[2001:db8::1]", 0 },
	{ __LINE__, "HTTP://App.Example", 0 },
	{ __LINE__, "chrome-extension://abcdef", 0 },
	{ __LINE__, "http://a-b.c.example:65535", 0 },
	{ __LINE__, "", -1 },
	{ __LINE__, "**", -1 },
	{ __LINE__, "app.example", -1 },
	{ __LINE__, "http:/app.example", -1 },
	{ __LINE__, "http://", -1 },
	{ __LINE__, "http://app.example/", -1 },
	{ __LINE__, "http://app.example/x", -1 },
	{ __LINE__, "http://app.example?q", -1 },
	{ __LINE__, "http://app.example#f", -1 },
	{ __LINE__, "http://user@app.example", -1 },
	{ __LINE__, "http://app.example:", -1 },
	{ __LINE__, "http://app.example:65536", -1 },
	{ __LINE__, "http://app.example:123456", -1 },
	{ __LINE__, "http://app.example:8a", -1 },
	{ __LINE__, "http://app..example", -1 },
	{ __LINE__, "http://.app.example", -1 },
	{ __LINE__, "http://app.example.", -1 },
	{ __LINE__, "http://app example", -1 },
	{ __LINE__, "http://[::1", -1 },
	{ __LINE__, "http://[zz::1]", -1 },
	{ __LINE__, "http://[]", -1 },
	{ __LINE__, "1http://app.example", -1 },
	{ __LINE__, "*.example.com", -1 },
	{ __LINE__, "null", -1 },
};

static void test_parse(void)
{
	for (size_t i = 0; i < sizeof(origin_cases) / sizeof(origin_cases[0]); i++) {
		const struct origin_case *c = &origin_cases[i];
		size_t n = strlen(c->in);
		const char *why = NULL;
		int got = cors_parse_origin(test_guarded(c->in, n), n, &why);
		ASSERT_EQ(c->line, got, c->want);
		if (got < 0)
			ASSERT_TRUE(c->line, why != NULL);
	}
}

struct match_case {
	int line;
	const char *origin; /* NULL: no Origin field */
	const char *want;   /* NULL: no CORS headers */
};

static const char *const list[] = { "http://app.example:8000", "HTTPS://Other.Example" };
static const char *const star[] = { "http://app.example:8000", "*" };

static const struct match_case match_cases[] = {
	{ __LINE__, "http://app.example:8000", "http://app.example:8000" },
	{ __LINE__, "http://APP.example:8000", "http://app.example:8000" },
	{ __LINE__, "https://other.example", "HTTPS://Other.Example" },
	{ __LINE__, "http://app.example", NULL },
	{ __LINE__, "http://app.example:80001", NULL },
	{ __LINE__, "http://app.example:800", NULL },
	{ __LINE__, "http://app.example:8000/", NULL },
	{ __LINE__, "null", NULL },
	{ __LINE__, "", NULL },
	{ __LINE__, NULL, NULL },
};

static void test_match(void)
{
	for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		const struct match_case *c = &match_cases[i];
		size_t n = c->origin ? strlen(c->origin) : 0;
		const char *o = c->origin ? test_guarded(c->origin, n) : NULL;
		const char *got = cors_match(list, 2, o, n);
		if (c->want == NULL)
			ASSERT_TRUE(c->line, got == NULL);
		else
			ASSERT_STR(c->line, got, got ? strlen(got) : 0, c->want);
		/* With "*" listed, any origin is allowed, a listed one as itself. */
		got = cors_match(star, 2, o, n);
		if (c->origin == NULL)
			ASSERT_TRUE(c->line, got == NULL);
		else
			ASSERT_TRUE(c->line, got != NULL);
		ASSERT_TRUE(c->line, cors_match(list, 0, o, n) == NULL);
	}
	ASSERT_TRUE(__LINE__, cors_varies(list, 2));
	ASSERT_TRUE(__LINE__, cors_varies(star, 2));
	ASSERT_TRUE(__LINE__, !cors_varies(star + 1, 1));
	ASSERT_TRUE(__LINE__, !cors_varies(list, 0));
}

static void test_lines(void)
{
	char buf[512];
	struct obuf o;
	obuf_init(&o, buf, sizeof(buf));
	cors_put(&o, "http://a.example", true);
	ASSERT_STR(__LINE__, o.p, o.n,
		   "Access-Control-Allow-Origin: http://a.example\r\n"
		   "Access-Control-Expose-Headers: Location\r\nVary: Origin\r\n");
	obuf_init(&o, buf, sizeof(buf));
	cors_put(&o, NULL, true);
	ASSERT_STR(__LINE__, o.p, o.n, "Vary: Origin\r\n");
	obuf_init(&o, buf, sizeof(buf));
	cors_put(&o, NULL, false);
	ASSERT_EQ(__LINE__, o.n, 0);
	obuf_init(&o, buf, sizeof(buf));
	cors_put_preflight(&o, true);
	ASSERT_STR(__LINE__, o.p, o.n,
		   "Access-Control-Allow-Methods: POST, OPTIONS\r\n"
		   "Access-Control-Allow-Headers: Content-Type, Authorization\r\n"
		   "Access-Control-Max-Age: 600\r\n");
	obuf_init(&o, buf, 20); /* too small: refused, never overflowed */
	cors_put_preflight(&o, false);
	ASSERT_TRUE(__LINE__, !o.ok);
}

int main(void)
{
	test_parse();
	test_match();
	test_lines();
	return test_summary();
}
