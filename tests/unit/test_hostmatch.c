/* Unit tests for src/hostmatch.c: hm_parse_spec, hm_same and hm_match.
 * Every input is copied to the end of a page followed by a PROT_NONE page,
 * so any read past its end crashes. */
#include "hostmatch.h"
#include "test.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define GUARD_ROOM 65536
static char *guard_base;

static const char *guarded(const char *s, size_t n)
{
	char *end = guard_base + GUARD_ROOM;

	if (n > GUARD_ROOM)
		abort();
	memcpy(end - n, s, n);
	return end - n;
}

/* ---- hm_parse_spec ---- */

#define NAME HM_KIND_NAME
#define DOM HM_KIND_DOMAIN
#define V4 HM_KIND_IPV4
#define V6 HM_KIND_IPV6
#define ANY HM_KIND_ANY

struct spec_case {
	int line;
	const char *in;
	int want;         /* 0 or -1 */
	enum hm_kind kind;
	const char *text; /* the stored name, or the address as inet_ntop writes it */
};

static const struct spec_case spec_cases[] = {
	/* Today's forms. */
	{ __LINE__, "localhost", 0, NAME, "localhost" },
	{ __LINE__, "www.Example.COM", 0, NAME, "www.example.com" },
	{ __LINE__, "example.com.", 0, NAME, "example.com" },
	{ __LINE__, "my_host-1", 0, NAME, "my_host-1" },
	{ __LINE__, "127.0.0.1", 0, V4, "127.0.0.1" },
	{ __LINE__, "::1", 0, V6, "::1" },
	{ __LINE__, "[::1]", 0, V6, "::1" },
	{ __LINE__, "[0:0:0:0:0:0:0:1]", 0, V6, "::1" },
	{ __LINE__, "fe80::1", 0, V6, "fe80::1" },
	{ __LINE__, "2001:DB8::A", 0, V6, "2001:db8::a" },
	{ __LINE__, "::ffff:127.0.0.1", 0, V6, "::ffff:127.0.0.1" },
	{ __LINE__, "*", 0, ANY, "" },
	/* New: a port (ignored) and whole domains. */
	{ __LINE__, "www.example.com:9080", 0, NAME, "www.example.com" },
	{ __LINE__, "www.example.com.:9080", 0, NAME, "www.example.com" },
	{ __LINE__, "localhost:0", 0, NAME, "localhost" },
	{ __LINE__, "localhost:65535", 0, NAME, "localhost" },
	{ __LINE__, "127.0.0.1:8080", 0, V4, "127.0.0.1" },
	{ __LINE__, "[::1]:8080", 0, V6, "::1" },
	{ __LINE__, ".example.com", 0, DOM, "example.com" },
	{ __LINE__, ".Example.Com.", 0, DOM, "example.com" },
	{ __LINE__, ".example.com:443", 0, DOM, "example.com" },
	{ __LINE__, ".com", 0, DOM, "com" },
	/* A name that only looks like an address stays a name. */
	{ __LINE__, "1.2.3.256", 0, NAME, "1.2.3.256" },
	{ __LINE__, "127.1", 0, NAME, "127.1" },
	{ __LINE__, "127.000.0.1", 0, NAME, "127.000.0.1" },
	{ __LINE__, ".1.2.3", 0, DOM, "1.2.3" },
	{ __LINE__, ".1.2.3.4", -1, NAME, NULL },
	/* Refused. */
	{ __LINE__, "", -1, NAME, NULL },
	{ __LINE__, ".", -1, NAME, NULL },
	{ __LINE__, "..", -1, NAME, NULL },
	{ __LINE__, "..example.com", -1, NAME, NULL },
	{ __LINE__, "a..b", -1, NAME, NULL },
	{ __LINE__, "example.com..", -1, NAME, NULL },
	{ __LINE__, "*.example.com", -1, NAME, NULL },
	{ __LINE__, "**", -1, NAME, NULL },
	{ __LINE__, "* ", -1, NAME, NULL },
	{ __LINE__, "www.example.com ", -1, NAME, NULL },
	{ __LINE__, " localhost", -1, NAME, NULL },
	{ __LINE__, "local host", -1, NAME, NULL },
	{ __LINE__, "localhost:", -1, NAME, NULL },
	{ __LINE__, "localhost:65536", -1, NAME, NULL },
	{ __LINE__, "localhost:123456", -1, NAME, NULL },
	{ __LINE__, "localhost:80a", -1, NAME, NULL },
	{ __LINE__, "localhost:-1", -1, NAME, NULL },
	{ __LINE__, ":80", -1, NAME, NULL },
	{ __LINE__, "a:b:c", -1, NAME, NULL },
	{ __LINE__, "[::1", -1, NAME, NULL },
	{ __LINE__, "[]", -1, NAME, NULL },
	{ __LINE__, "[127.0.0.1]", -1, NAME, NULL },
	{ __LINE__, "[::1]x", -1, NAME, NULL },
	{ __LINE__, "[::1]:", -1, NAME, NULL },
	{ __LINE__, "[::1]:99999", -1, NAME, NULL },
	{ __LINE__, "[fe80::1%eth0]", -1, NAME, NULL },
	{ __LINE__, "1::2::3", -1, NAME, NULL },
	{ __LINE__, "http://example.com", -1, NAME, NULL },
	{ __LINE__, "example.com/", -1, NAME, NULL },
	{ __LINE__, "user@example.com", -1, NAME, NULL },
	{ __LINE__, "exa%6dple.com", -1, NAME, NULL },
	{ __LINE__, "b\xc3\xbc" "cher.de", -1, NAME, NULL },
	{ __LINE__, "a\tb", -1, NAME, NULL },
};

static void test_spec(void)
{
	for (size_t k = 0; k < sizeof(spec_cases) / sizeof(spec_cases[0]); k++) {
		const struct spec_case *c = &spec_cases[k];
		struct hm_entry e;
		const char *why = NULL;
		char txt[INET6_ADDRSTRLEN] = "";
		size_t n = strlen(c->in);
		int rc = hm_parse_spec(guarded(c->in, n), n, &e, &why);

		ASSERT_EQ(c->line, rc, c->want);
		if (rc != 0) {
			ASSERT_TRUE(c->line, why != NULL && why[0] != '\0');
			continue;
		}
		if (c->want != 0)
			continue;
		ASSERT_EQ(c->line, e.kind, c->kind);
		if (e.kind == V4)
			inet_ntop(AF_INET, e.addr, txt, sizeof(txt));
		else if (e.kind == V6)
			inet_ntop(AF_INET6, e.addr, txt, sizeof(txt));
		if (e.kind == V4 || e.kind == V6) {
			ASSERT_STR(c->line, txt, strlen(txt), c->text);
		} else {
			ASSERT_STR(c->line, e.name, e.len, c->text);
			ASSERT_EQ(c->line, strlen(e.name), e.len);
		}
	}

	/* The longest name: 253 characters, in labels of 63. */
	char name[300];
	struct hm_entry e;
	const char *why;

	memset(name, 'a', sizeof(name));
	for (int k = 63; k < 300; k += 64)
		name[k] = '.';
	ASSERT_EQ(__LINE__, hm_parse_spec(guarded(name, 253), 253, &e, &why), 0);
	ASSERT_EQ(__LINE__, e.len, 253);
	ASSERT_EQ(__LINE__, hm_parse_spec(guarded(name, 254), 254, &e, &why), -1);
	name[253] = '.'; /* a trailing dot does not count */
	ASSERT_EQ(__LINE__, hm_parse_spec(guarded(name, 254), 254, &e, &why), 0);
}

/* ---- hm_same ---- */

static void test_same(void)
{
	static const struct {
		int line;
		const char *a, *b;
		int want;
	} cases[] = {
		{ __LINE__, "localhost", "LOCALHOST.", 1 },
		{ __LINE__, "localhost", "localhost:8080", 1 },
		{ __LINE__, "::1", "[0:0:0:0:0:0:0:1]:80", 1 },
		{ __LINE__, "127.0.0.1", "127.0.0.1:1", 1 },
		{ __LINE__, ".example.com", ".EXAMPLE.com.", 1 },
		{ __LINE__, "*", "*", 1 },
		{ __LINE__, "example.com", ".example.com", 0 },
		{ __LINE__, "127.0.0.1", "::ffff:127.0.0.1", 0 },
		{ __LINE__, "127.0.0.1", "127.0.0.2", 0 },
		{ __LINE__, "::1", "::2", 0 },
		{ __LINE__, "a", "ab", 0 },
		{ __LINE__, "*", "localhost", 0 },
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct hm_entry a, b;
		const char *why;

		if (hm_parse_spec(cases[k].a, strlen(cases[k].a), &a, &why) ||
		    hm_parse_spec(cases[k].b, strlen(cases[k].b), &b, &why))
			abort();
		ASSERT_EQ(cases[k].line, hm_same(&a, &b), cases[k].want);
		ASSERT_EQ(cases[k].line, hm_same(&b, &a), cases[k].want);
	}
}

/* ---- hm_match ---- */

#define OK HM_ALLOWED
#define NO HM_DENIED
#define BAD HM_MALFORMED

/* The list most cases run against: what a server bound to 192.0.2.10
 * with three --allow-host options would have. */
static const char *const std_specs[] = { "localhost", "127.0.0.1", "::1", "192.0.2.10",
					 "www.example.com:9080", ".example.org", "[2001:db8::10]",
					 "fe80::1", NULL };
static const char *const any_specs[] = { "localhost", "*", NULL };
static const char *const no_specs[] = { NULL };

enum list_id { STD, ALL, NONE };

struct match_case {
	int line;
	enum list_id list;
	const char *host;
	enum hm_result want;
};

static const struct match_case match_cases[] = {
	/* Today's accepted forms, any case, trailing dot, any port. */
	{ __LINE__, STD, "localhost", OK },
	{ __LINE__, STD, "LocalHost", OK },
	{ __LINE__, STD, "localhost.", OK },
	{ __LINE__, STD, "localhost:8080", OK },
	{ __LINE__, STD, "localhost.:8080", OK },
	{ __LINE__, STD, "localhost:9080", OK },
	{ __LINE__, STD, "localhost:0", OK },
	{ __LINE__, STD, "localhost:65535", OK },
	{ __LINE__, STD, "localhost:", OK }, /* port = *DIGIT */
	{ __LINE__, STD, "localhost:00080", OK },
	{ __LINE__, STD, "127.0.0.1", OK },
	{ __LINE__, STD, "127.0.0.1:8096", OK },
	{ __LINE__, STD, "127.0.0.1.", OK },
	{ __LINE__, STD, "[::1]", OK },
	{ __LINE__, STD, "[::1]:8080", OK },
	{ __LINE__, STD, "192.0.2.10:80", OK },
	{ __LINE__, STD, "[fe80::1]", OK },
	/* IPv6 compared as addresses. */
	{ __LINE__, STD, "[0:0:0:0:0:0:0:1]", OK },
	{ __LINE__, STD, "[0000:0000:0000:0000:0000:0000:0000:0001]:80", OK },
	{ __LINE__, STD, "[::0:1]", OK },
	{ __LINE__, STD, "[2001:DB8:0::10]", OK },
	{ __LINE__, STD, "[::2]", NO },
	{ __LINE__, STD, "[::ffff:127.0.0.1]", NO },
	{ __LINE__, STD, "[::127.0.0.1]", NO },
	/* Names with a port from the spec: any port. */
	{ __LINE__, STD, "www.example.com", OK },
	{ __LINE__, STD, "WWW.EXAMPLE.COM:9080", OK },
	{ __LINE__, STD, "www.example.com:443", OK },
	{ __LINE__, STD, "example.com", NO },
	{ __LINE__, STD, "a.www.example.com", NO },
	{ __LINE__, STD, "www.example.co", NO },
	{ __LINE__, STD, "ww.example.com", NO },
	/* Domains. */
	{ __LINE__, STD, "example.org", OK },
	{ __LINE__, STD, "example.org.", OK },
	{ __LINE__, STD, "www.example.org", OK },
	{ __LINE__, STD, "a.b.c.Example.ORG:1", OK },
	{ __LINE__, STD, "badexample.org", NO },
	{ __LINE__, STD, ".example.org", NO },
	{ __LINE__, STD, "example.org.evil.com", NO },
	{ __LINE__, STD, "xample.org", NO },
	{ __LINE__, STD, "org", NO },
	/* IPv4 literals compared as addresses; look-alikes are names. */
	{ __LINE__, STD, "127.0.0.2", NO },
	{ __LINE__, STD, "127.1", NO },
	{ __LINE__, STD, "127.000.000.001", NO },
	{ __LINE__, STD, "0x7f.0.0.1", NO },
	{ __LINE__, STD, "2130706433", NO },
	/* Not ours, but valid: 403. */
	{ __LINE__, STD, "", NO },
	{ __LINE__, STD, "evil.com", NO },
	{ __LINE__, STD, "localhost.localdomain", NO },
	{ __LINE__, STD, "localhos", NO },
	{ __LINE__, STD, "localhostt", NO },
	{ __LINE__, STD, ".", NO },
	{ __LINE__, STD, "..", NO },
	{ __LINE__, STD, "loc%61lhost", NO },
	{ __LINE__, STD, "local_host", NO },
	{ __LINE__, STD, "a!$&'()*+,;=b", NO },
	{ __LINE__, STD, "[v1.x]", NO },
	{ __LINE__, STD, "[v1.x]:80", NO },
	/* Malformed: 400. */
	{ __LINE__, STD, ":80", BAD },
	{ __LINE__, STD, ":", BAD },
	{ __LINE__, STD, "localhost:65536", BAD },
	{ __LINE__, STD, "localhost:99999999999999999999", BAD },
	{ __LINE__, STD, "localhost:8o", BAD },
	{ __LINE__, STD, "localhost:-1", BAD },
	{ __LINE__, STD, "localhost:80:80", BAD },
	{ __LINE__, STD, "localhost :80", BAD },
	{ __LINE__, STD, "local host", BAD },
	{ __LINE__, STD, " localhost", BAD },
	{ __LINE__, STD, "localhost\t", BAD },
	{ __LINE__, STD, "user@localhost", BAD },
	{ __LINE__, STD, "localhost/", BAD },
	{ __LINE__, STD, "localhost?", BAD },
	{ __LINE__, STD, "localhost#", BAD },
	{ __LINE__, STD, "loc%6lhost", BAD },
	{ __LINE__, STD, "localhost%", BAD },
	{ __LINE__, STD, "localhost%4", BAD },
	{ __LINE__, STD, "local\"host", BAD },
	{ __LINE__, STD, "b\xc3\xbc" "cher.de", BAD },
	{ __LINE__, STD, "::1", BAD },
	{ __LINE__, STD, "[::1", BAD },
	{ __LINE__, STD, "[::1]]", BAD },
	{ __LINE__, STD, "[::1]x", BAD },
	{ __LINE__, STD, "[::1]:x", BAD },
	{ __LINE__, STD, "[]", BAD },
	{ __LINE__, STD, "[127.0.0.1]", BAD },
	{ __LINE__, STD, "[localhost]", BAD },
	{ __LINE__, STD, "[fe80::1%25eth0]", BAD },
	{ __LINE__, STD, "[1::2::3]", BAD },
	{ __LINE__, STD, "[v.x]", BAD },
	{ __LINE__, STD, "[v1.]", BAD },
	{ __LINE__, STD, "[v1x]", BAD },
	/* "*": everything valid, but malformed is still malformed. */
	{ __LINE__, ALL, "evil.com", OK },
	{ __LINE__, ALL, "evil.com:1", OK },
	{ __LINE__, ALL, "", OK },
	{ __LINE__, ALL, "[2001:db8::1]", OK },
	{ __LINE__, ALL, "evil.com:65536", BAD },
	{ __LINE__, ALL, "ev il", BAD },
	/* An empty list allows nothing. */
	{ __LINE__, NONE, "localhost", NO },
	{ __LINE__, NONE, "", NO },
	{ __LINE__, NONE, "[::1", BAD },
};

static size_t make_list(const char *const *specs, struct hm_entry *out, size_t max)
{
	size_t n = 0;
	const char *why;

	for (; specs[n]; n++)
		if (n == max || hm_parse_spec(specs[n], strlen(specs[n]), &out[n], &why) != 0)
			abort();
	return n;
}

static void test_match(void)
{
	struct hm_entry lists[3][16];
	size_t counts[3];

	counts[STD] = make_list(std_specs, lists[STD], 16);
	counts[ALL] = make_list(any_specs, lists[ALL], 16);
	counts[NONE] = make_list(no_specs, lists[NONE], 16);
	for (size_t k = 0; k < sizeof(match_cases) / sizeof(match_cases[0]); k++) {
		const struct match_case *c = &match_cases[k];
		size_t n = strlen(c->host);

		ASSERT_EQ(c->line, hm_match(lists[c->list], counts[c->list], guarded(c->host, n), n),
			  c->want);
	}
}

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);

	guard_base = mmap(NULL, GUARD_ROOM + (size_t)page, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (guard_base == MAP_FAILED || mprotect(guard_base + GUARD_ROOM, (size_t)page, PROT_NONE))
		return 2;
	test_spec();
	test_same();
	test_match();
	printf("hostmatch: %zu spec, %zu match cases\n", sizeof(spec_cases) / sizeof(spec_cases[0]),
	       sizeof(match_cases) / sizeof(match_cases[0]));
	return test_summary();
}
