/* Unit tests for src/netaddr.c: na_parse, na_match and na_client. Every
 * input is copied to the end of a page followed by a PROT_NONE page, so
 * any read past its end crashes. */
#include "netaddr.h"
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* Guarded copies: each gets its own page pair, so several can be alive at
 * once (na_client reads all its lines together). */
#define GUARD_SLOTS 4
#define GUARD_ROOM 65536
static char *guard_base[GUARD_SLOTS];

static const char *guarded_in(int slot, const char *s, size_t n)
{
	char *end = guard_base[slot] + GUARD_ROOM;

	if (n > GUARD_ROOM)
		abort();
	memcpy(end - n, s, n);
	return end - n;
}

static const char *guarded(const char *s, size_t n)
{
	return guarded_in(0, s, n);
}

/* ---- na_parse ---- */

struct parse_case {
	int line;
	const char *in;
	int want;          /* 0 or -1 */
	int family;
	unsigned prefix;
	const char *addr;  /* the stored (masked) address */
};

static const struct parse_case parse_cases[] = {
	{ __LINE__, "127.0.0.1", 0, AF_INET, 32, "127.0.0.1" },
	{ __LINE__, "10.0.0.0/8", 0, AF_INET, 8, "10.0.0.0" },
	{ __LINE__, "10.1.2.3/8", 0, AF_INET, 8, "10.0.0.0" },   /* masked */
	{ __LINE__, "192.168.77.200/20", 0, AF_INET, 20, "192.168.64.0" },
	{ __LINE__, "1.2.3.4/0", 0, AF_INET, 0, "0.0.0.0" },
	{ __LINE__, "0.0.0.0/0", 0, AF_INET, 0, "0.0.0.0" },
	{ __LINE__, "255.255.255.255/32", 0, AF_INET, 32, "255.255.255.255" },
	{ __LINE__, "1.2.3.255/31", 0, AF_INET, 31, "1.2.3.254" },
	{ __LINE__, "::1", 0, AF_INET6, 128, "::1" },
	{ __LINE__, "::/0", 0, AF_INET6, 0, "::" },
	{ __LINE__, "fd00::/8", 0, AF_INET6, 8, "fd00::" },
	{ __LINE__, "2001:db8:ffff::1/33", 0, AF_INET6, 33, "2001:db8:8000::" },
	{ __LINE__, "2001:db8::1/127", 0, AF_INET6, 127, "2001:db8::" },
	{ __LINE__, "2001:DB8::1/128", 0, AF_INET6, 128, "2001:db8::1" },
	{ __LINE__, "1:2:3:4:5:6:7:8", 0, AF_INET6, 128, "1:2:3:4:5:6:7:8" },
	/* v4-mapped networks of /96 and longer are IPv4 networks. */
	{ __LINE__, "::ffff:10.1.2.3", 0, AF_INET, 32, "10.1.2.3" },
	{ __LINE__, "::ffff:10.1.2.3/104", 0, AF_INET, 8, "10.0.0.0" },
	{ __LINE__, "::ffff:0.0.0.0/96", 0, AF_INET, 0, "0.0.0.0" },
	{ __LINE__, "::ffff:0.0.0.0/95", 0, AF_INET6, 95, "::fffe:0:0" },
	/* Garbage. */
	{ __LINE__, "", -1, 0, 0, NULL },
	{ __LINE__, "/8", -1, 0, 0, NULL },
	{ __LINE__, "10.0.0.0/", -1, 0, 0, NULL },
	{ __LINE__, "10.0.0.0/33", -1, 0, 0, NULL },
	{ __LINE__, "10.0.0.0/100", -1, 0, 0, NULL },
	{ __LINE__, "10.0.0.0/08", -1, 0, 0, NULL },
	{ __LINE__, "10.0.0.0/00", -1, 0, 0, NULL },
	{ __LINE__, "10.0.0.0/-1", -1, 0, 0, NULL },
	{ __LINE__, "10.0.0.0/+8", -1, 0, 0, NULL },
	{ __LINE__, "10.0.0.0/8/8", -1, 0, 0, NULL },
	{ __LINE__, "10.0.0.0/8 ", -1, 0, 0, NULL },
	{ __LINE__, " 10.0.0.0/8", -1, 0, 0, NULL },
	{ __LINE__, "10.0.0.0 /8", -1, 0, 0, NULL },
	{ __LINE__, "10.0.0/8", -1, 0, 0, NULL },
	{ __LINE__, "10.0.0.00/8", -1, 0, 0, NULL },
	{ __LINE__, "010.0.0.0", -1, 0, 0, NULL },
	{ __LINE__, "10.0.0.256", -1, 0, 0, NULL },
	{ __LINE__, "10", -1, 0, 0, NULL },
	{ __LINE__, "0x0a.0.0.1", -1, 0, 0, NULL },
	{ __LINE__, "localhost", -1, 0, 0, NULL },
	{ __LINE__, "::1/129", -1, 0, 0, NULL },
	{ __LINE__, "::1/1280", -1, 0, 0, NULL },
	{ __LINE__, "[::1]", -1, 0, 0, NULL },
	{ __LINE__, "[::1]/128", -1, 0, 0, NULL },
	{ __LINE__, "fe80::1%eth0", -1, 0, 0, NULL },
	{ __LINE__, "1::2::3", -1, 0, 0, NULL },
	{ __LINE__, "1:2:3:4:5:6:7:8:9", -1, 0, 0, NULL },
	{ __LINE__, "::ffff:1.2.3.4.5", -1, 0, 0, NULL },
	{ __LINE__, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.2555", -1, 0, 0, NULL },
};

static void test_parse(void)
{
	for (size_t k = 0; k < sizeof(parse_cases) / sizeof(parse_cases[0]); k++) {
		const struct parse_case *c = &parse_cases[k];
		struct na_net net;
		char txt[INET6_ADDRSTRLEN] = "";
		size_t n = strlen(c->in);
		int rc = na_parse(guarded(c->in, n), n, &net);

		ASSERT_EQ(c->line, rc, c->want);
		if (rc != 0 || c->want != 0)
			continue;
		ASSERT_EQ(c->line, net.family, c->family);
		ASSERT_EQ(c->line, net.prefix, c->prefix);
		inet_ntop(net.family, net.addr, txt, sizeof(txt));
		ASSERT_STR(c->line, txt, strlen(txt), c->addr);
		if (net.family == AF_INET) {
			static const unsigned char zero[12];

			ASSERT_TRUE(c->line, memcmp(net.addr + 4, zero, 12) == 0);
		}
	}
}

/* ---- na_match ---- */

static void make_sa(const char *text, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(text, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(1234);
		if (inet_pton(AF_INET6, text, &s6->sin6_addr) != 1)
			abort();
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(1234);
		if (inet_pton(AF_INET, text, &s4->sin_addr) != 1)
			abort();
	}
}

struct match_case {
	int line;
	const char *nets[4];
	const char *addr;
	int want;
};

static const struct match_case match_cases[] = {
	{ __LINE__, { "10.0.0.0/8" }, "10.255.1.2", 1 },
	{ __LINE__, { "10.0.0.0/8" }, "11.0.0.0", 0 },
	{ __LINE__, { "10.0.0.0/8" }, "9.255.255.255", 0 },
	{ __LINE__, { "192.168.64.0/20" }, "192.168.79.255", 1 },
	{ __LINE__, { "192.168.64.0/20" }, "192.168.80.0", 0 },
	{ __LINE__, { "192.168.64.0/20" }, "192.168.63.255", 0 },
	{ __LINE__, { "1.2.3.4" }, "1.2.3.4", 1 },
	{ __LINE__, { "1.2.3.4" }, "1.2.3.5", 0 },
	{ __LINE__, { "0.0.0.0/0" }, "203.0.113.9", 1 },
	{ __LINE__, { "1.2.3.4/31" }, "1.2.3.5", 1 },
	{ __LINE__, { "1.2.3.4/31" }, "1.2.3.6", 0 },
	/* IPv4 entries match v4-mapped peers of dual-stack sockets. */
	{ __LINE__, { "10.0.0.0/8" }, "::ffff:10.9.9.9", 1 },
	{ __LINE__, { "10.0.0.0/8" }, "::ffff:11.9.9.9", 0 },
	{ __LINE__, { "0.0.0.0/0" }, "::ffff:1.1.1.1", 1 },
	{ __LINE__, { "::ffff:10.0.0.0/104" }, "10.2.3.4", 1 },
	{ __LINE__, { "::ffff:10.0.0.0/104" }, "::ffff:10.2.3.4", 1 },
	/* but not IPv6 peers, nor IPv4-compatible forms. */
	{ __LINE__, { "0.0.0.0/0" }, "::1", 0 },
	{ __LINE__, { "10.0.0.0/8" }, "::10.1.2.3", 0 },
	{ __LINE__, { "10.0.0.0/8" }, "a00::", 0 },
	/* IPv6 entries. */
	{ __LINE__, { "::1" }, "::1", 1 },
	{ __LINE__, { "::1" }, "::2", 0 },
	{ __LINE__, { "fd00::/8" }, "fdff:1::7", 1 },
	{ __LINE__, { "fd00::/8" }, "fc00::1", 0 },
	{ __LINE__, { "2001:db8::/33" }, "2001:db8:7fff::1", 1 },
	{ __LINE__, { "2001:db8::/33" }, "2001:db8:8000::1", 0 },
	{ __LINE__, { "::/0" }, "2001:db8::1", 1 },
	{ __LINE__, { "::/0" }, "127.0.0.1", 0 },        /* documented */
	{ __LINE__, { "::/0" }, "::ffff:127.0.0.1", 0 }, /* ditto */
	{ __LINE__, { "::1" }, "127.0.0.1", 0 },
	/* Lists: any entry. */
	{ __LINE__, { "10.0.0.0/8", "::1", "192.168.0.0/16" }, "192.168.1.1", 1 },
	{ __LINE__, { "10.0.0.0/8", "::1", "192.168.0.0/16" }, "::1", 1 },
	{ __LINE__, { "10.0.0.0/8", "::1", "192.168.0.0/16" }, "172.16.0.1", 0 },
	{ __LINE__, { NULL }, "127.0.0.1", 0 },
};

static size_t make_list(const char *const *specs, size_t max, struct na_net *out)
{
	size_t n = 0;

	while (n < max && specs[n]) {
		if (na_parse(specs[n], strlen(specs[n]), &out[n]) != 0)
			abort();
		n++;
	}
	return n;
}

static void test_match(void)
{
	for (size_t k = 0; k < sizeof(match_cases) / sizeof(match_cases[0]); k++) {
		const struct match_case *c = &match_cases[k];
		struct na_net nets[4];
		struct sockaddr_storage ss;
		size_t n = make_list(c->nets, 4, nets);
		struct na_list list = { nets, n };

		make_sa(c->addr, &ss);
		ASSERT_EQ(c->line, na_match(nets, n, (struct sockaddr *)&ss), c->want);
		ASSERT_EQ(c->line, na_trusted((struct sockaddr *)&ss, &list), c->want);
	}
	/* Families other than IPv4 and IPv6 never match. */
	struct na_net any;
	struct sockaddr_storage ss;

	na_parse("0.0.0.0/0", 9, &any);
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	ASSERT_EQ(__LINE__, na_match(&any, 1, (struct sockaddr *)&ss), 0);
}

/* ---- na_client ---- */

#define XFF NA_X_FORWARDED_FOR
#define FWD NA_FORWARDED

/* The proxies trusted by every na_client case. */
static const char *const trusted_specs[] = { "10.0.0.0/8", "127.0.0.0/8", "::1", "fd00::/8",
					     NULL };

struct client_case {
	int line;
	enum na_header kind;
	const char *lines[3]; /* field lines, NULL-terminated */
	const char *want;     /* the client, or NULL for "keep the peer" */
};

static const struct client_case client_cases[] = {
	/* X-Forwarded-For: the right-most untrusted address. */
	{ __LINE__, XFF, { "203.0.113.7" }, "203.0.113.7" },
	{ __LINE__, XFF, { "203.0.113.7, 10.0.0.2" }, "203.0.113.7" },
	{ __LINE__, XFF, { "203.0.113.7,10.0.0.2,127.0.0.1" }, "203.0.113.7" },
	/* A forged left part is ignored: the proxy appended the real one. */
	{ __LINE__, XFF, { "1.1.1.1, 198.51.100.4, 10.0.0.2" }, "198.51.100.4" },
	{ __LINE__, XFF, { "garbage, 198.51.100.4" }, "198.51.100.4" },
	{ __LINE__, XFF, { "unknown, 198.51.100.4, 10.0.0.2" }, "198.51.100.4" },
	{ __LINE__, XFF, { "1.2.3.4:80, 198.51.100.4" }, "198.51.100.4" },
	/* OWS and empty elements. */
	{ __LINE__, XFF, { "  203.0.113.7 ,\t10.0.0.2\t" }, "203.0.113.7" },
	{ __LINE__, XFF, { ",203.0.113.7,,10.0.0.2,," }, "203.0.113.7" },
	/* IPv6, and v4-mapped returned as IPv4. */
	{ __LINE__, XFF, { "2001:db8::7, ::1" }, "2001:db8::7" },
	{ __LINE__, XFF, { "::ffff:203.0.113.7" }, "203.0.113.7" },
	{ __LINE__, XFF, { "203.0.113.7, ::ffff:10.1.1.1" }, "203.0.113.7" },
	/* Every element trusted: the left-most. */
	{ __LINE__, XFF, { "10.0.0.9, 10.0.0.2" }, "10.0.0.9" },
	{ __LINE__, XFF, { "fd00::5, ::1, 127.0.0.1" }, "fd00::5" },
	/* Several lines are one list, in order. */
	{ __LINE__, XFF, { "203.0.113.7", "10.0.0.2" }, "203.0.113.7" },
	{ __LINE__, XFF, { "10.0.0.2", "203.0.113.7" }, "203.0.113.7" },
	{ __LINE__, XFF, { "198.51.100.1, 203.0.113.7", "10.0.0.2", "127.0.0.1" }, "203.0.113.7" },
	{ __LINE__, XFF, { "junk", "203.0.113.7" }, "203.0.113.7" },
	{ __LINE__, XFF, { "203.0.113.7", "junk" }, NULL },
	{ __LINE__, XFF, { "", "203.0.113.7", "" }, "203.0.113.7" },
	/* Nothing usable on the way: keep the peer. */
	{ __LINE__, XFF, { "" }, NULL },
	{ __LINE__, XFF, { " , ," }, NULL },
	{ __LINE__, XFF, { NULL }, NULL },
	{ __LINE__, XFF, { "unknown" }, NULL },
	{ __LINE__, XFF, { "203.0.113.7, unknown" }, NULL },
	{ __LINE__, XFF, { "203.0.113.7, _hidden, 10.0.0.2" }, NULL },
	{ __LINE__, XFF, { "203.0.113.7:4711" }, NULL },
	{ __LINE__, XFF, { "[2001:db8::7]" }, NULL },
	{ __LINE__, XFF, { "[2001:db8::7]:80" }, NULL },
	{ __LINE__, XFF, { "203.0.113.7 10.0.0.2" }, NULL },
	{ __LINE__, XFF, { "203.0.113.7;10.0.0.2" }, NULL },
	{ __LINE__, XFF, { "203.0.113.07" }, NULL },
	{ __LINE__, XFF, { "203.0.113" }, NULL },
	{ __LINE__, XFF, { "localhost" }, NULL },
	{ __LINE__, XFF, { "\"203.0.113.7\"" }, NULL },
	{ __LINE__, XFF, { "fe80::1%eth0" }, NULL },
	{ __LINE__, XFF, { "for=203.0.113.7" }, NULL },

	/* Forwarded (RFC 7239): the same walk over for= values. */
	{ __LINE__, FWD, { "for=203.0.113.7" }, "203.0.113.7" },
	{ __LINE__, FWD, { "for=203.0.113.7, for=10.0.0.2" }, "203.0.113.7" },
	{ __LINE__, FWD, { "FOR=203.0.113.7;proto=http;by=10.0.0.2" }, "203.0.113.7" },
	{ __LINE__, FWD, { "proto=https;for=203.0.113.7;host=example.com" }, "203.0.113.7" },
	{ __LINE__, FWD, { "for=\"203.0.113.7\"" }, "203.0.113.7" },
	{ __LINE__, FWD, { "for=\"203.0.113.7:4711\"" }, "203.0.113.7" },
	{ __LINE__, FWD, { "for=\"203.0.113.7:_port\"" }, "203.0.113.7" },
	{ __LINE__, FWD, { "for=\"[2001:db8:cafe::17]:4711\"" }, "2001:db8:cafe::17" },
	{ __LINE__, FWD, { "for=\"[2001:db8:cafe::17]\"" }, "2001:db8:cafe::17" },
	{ __LINE__, FWD, { "for=\"[::ffff:203.0.113.7]\"" }, "203.0.113.7" },
	{ __LINE__, FWD, { "for=\"\\[2001:db8::1\\]\"" }, "2001:db8::1" }, /* quoted-pairs */
	{ __LINE__, FWD, { "for=192.0.2.43, for=198.51.100.17;by=203.0.113.60;proto=http;host=ex.com" },
	  "198.51.100.17" },
	{ __LINE__, FWD, { "for=203.0.113.7; proto=http" }, "203.0.113.7" },
	{ __LINE__, FWD, { "for=203.0.113.7 ;proto=http" }, "203.0.113.7" },
	{ __LINE__, FWD, { "for=203.0.113.7;", "for=10.0.0.2" }, "203.0.113.7" },
	{ __LINE__, FWD, { "by=\"a,b;c\";for=203.0.113.7, for=10.0.0.2" }, "203.0.113.7" },
	{ __LINE__, FWD, { " , for=203.0.113.7 ,, for=\"[::1]:80\" , " }, "203.0.113.7" },
	{ __LINE__, FWD, { "for=10.0.0.3, for=10.0.0.2" }, "10.0.0.3" },
	{ __LINE__, FWD, { "for=1.1.1.1, for=198.51.100.4, for=10.0.0.2" }, "198.51.100.4" },
	{ __LINE__, FWD, { "for=unknown, for=198.51.100.4" }, "198.51.100.4" },
	/* A broken line only spoils itself. */
	{ __LINE__, FWD, { "for=\"1.1.1.1", "for=198.51.100.4" }, "198.51.100.4" },
	{ __LINE__, FWD, { "for=198.51.100.4", "for=\"1.1.1.1" }, NULL },
	/* Hidden, unknown, missing or repeated for=: keep the peer. */
	{ __LINE__, FWD, { "for=unknown" }, NULL },
	{ __LINE__, FWD, { "for=UNKNOWN, for=10.0.0.2" }, NULL },
	{ __LINE__, FWD, { "for=_hidden" }, NULL },
	{ __LINE__, FWD, { "for=\"_gazonk\"" }, NULL },
	{ __LINE__, FWD, { "for=203.0.113.7, proto=http" }, NULL },
	{ __LINE__, FWD, { "for=203.0.113.7;for=203.0.113.8" }, NULL },
	{ __LINE__, FWD, { ";" }, NULL },
	{ __LINE__, FWD, { "" }, NULL },
	{ __LINE__, FWD, { NULL }, NULL },
	/* Malformed values and syntax. */
	{ __LINE__, FWD, { "for=[2001:db8::1]" }, NULL },          /* brackets need quotes */
	{ __LINE__, FWD, { "for=2001:db8::1" }, NULL },
	{ __LINE__, FWD, { "for=\"2001:db8::1\"" }, NULL },        /* v6 needs brackets */
	{ __LINE__, FWD, { "for=203.0.113.7:80" }, NULL },         /* ':' needs quotes */
	{ __LINE__, FWD, { "for=\"203.0.113.7:\"" }, NULL },
	{ __LINE__, FWD, { "for=\"203.0.113.7:65536\"" }, NULL },
	{ __LINE__, FWD, { "for=\"203.0.113.7:123456\"" }, NULL },
	{ __LINE__, FWD, { "for=\"203.0.113.7:_\"" }, NULL },
	{ __LINE__, FWD, { "for=\"203.0.113.7:_a+b\"" }, NULL },
	{ __LINE__, FWD, { "for=\"203.0.113.7:8x\"" }, NULL },
	{ __LINE__, FWD, { "for=\"[2001:db8::1]x\"" }, NULL },
	{ __LINE__, FWD, { "for=\"[2001:db8::1\"" }, NULL },
	{ __LINE__, FWD, { "for=\"[203.0.113.7]\"" }, NULL },
	{ __LINE__, FWD, { "for=\"[fe80::1%25eth0]\"" }, NULL },
	{ __LINE__, FWD, { "for=\"203.0.113.7" }, NULL },
	{ __LINE__, FWD, { "for=\"203.0.113.7\\" }, NULL },
	{ __LINE__, FWD, { "for=\"203.0.113.7\"x" }, NULL },
	{ __LINE__, FWD, { "for=" }, NULL },
	{ __LINE__, FWD, { "for" }, NULL },
	{ __LINE__, FWD, { "=203.0.113.7" }, NULL },
	{ __LINE__, FWD, { "for =203.0.113.7" }, NULL },
	{ __LINE__, FWD, { "for= 203.0.113.7" }, NULL },
	{ __LINE__, FWD, { "fo r=203.0.113.7" }, NULL },
	{ __LINE__, FWD, { "203.0.113.7" }, NULL },
	{ __LINE__, FWD, { "for=203.0.113.7 by=x" }, NULL },
	{ __LINE__, FWD, { "for=\"a\x01\"" }, NULL },
	{ __LINE__, FWD, { "for=\"" "0123456789012345678901234567890123456789012345678901234567890123"
			   "4\"" },
	  NULL },
};

static void test_client(void)
{
	struct na_net nets[8];
	struct na_list list = { nets, make_list(trusted_specs, 8, nets) };

	for (size_t k = 0; k < sizeof(client_cases) / sizeof(client_cases[0]); k++) {
		const struct client_case *c = &client_cases[k];
		struct na_slice v[3];
		struct sockaddr_storage out;
		size_t n = 0;
		char txt[INET6_ADDRSTRLEN] = "";

		while (n < 3 && c->lines[n]) {
			v[n].n = strlen(c->lines[n]);
			v[n].p = guarded_in((int)n, c->lines[n], v[n].n);
			n++;
		}
		memset(&out, 0xa5, sizeof(out));
		bool got = na_client(c->kind, v, n, na_trusted, &list, &out);

		ASSERT_EQ(c->line, got, c->want != NULL);
		if (!got || c->want == NULL)
			continue;
		if (out.ss_family == AF_INET) {
			const struct sockaddr_in *s = (const struct sockaddr_in *)&out;

			inet_ntop(AF_INET, &s->sin_addr, txt, sizeof(txt));
			ASSERT_EQ(c->line, s->sin_port, 0);
		} else if (out.ss_family == AF_INET6) {
			const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&out;

			inet_ntop(AF_INET6, &s->sin6_addr, txt, sizeof(txt));
			ASSERT_EQ(c->line, s->sin6_port, 0);
		}
		ASSERT_STR(c->line, txt, strlen(txt), c->want);
	}

	/* A line slice with p == NULL (an absent field) is skipped. */
	struct na_slice v[2] = { { NULL, 0 }, { "203.0.113.7", 11 } };
	struct sockaddr_storage out;

	ASSERT_TRUE(__LINE__, na_client(XFF, v, 2, na_trusted, &list, &out));

	/* A long list is walked in one pass: 2000 trusted hops after one
	 * client. */
	static char big[40000];
	size_t len = (size_t)snprintf(big, sizeof(big), "198.51.100.9");

	for (int k = 0; k < 2000; k++)
		len += (size_t)snprintf(big + len, sizeof(big) - len, ", 10.0.%d.%d", k / 256, k % 256);
	v[0].p = guarded(big, len);
	v[0].n = len;
	ASSERT_TRUE(__LINE__, na_client(XFF, v, 1, na_trusted, &list, &out));
	ASSERT_EQ(__LINE__, out.ss_family, AF_INET);
	ASSERT_EQ(__LINE__, ((struct sockaddr_in *)&out)->sin_addr.s_addr, inet_addr("198.51.100.9"));
}

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);

	for (int k = 0; k < GUARD_SLOTS; k++) {
		guard_base[k] = mmap(NULL, GUARD_ROOM + (size_t)page, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (guard_base[k] == MAP_FAILED ||
		    mprotect(guard_base[k] + GUARD_ROOM, (size_t)page, PROT_NONE))
			return 2;
	}
	test_parse();
	test_match();
	test_client();
	printf("netaddr: %zu parse, %zu match, %zu client cases\n",
	       sizeof(parse_cases) / sizeof(parse_cases[0]),
	       sizeof(match_cases) / sizeof(match_cases[0]),
	       sizeof(client_cases) / sizeof(client_cases[0]));
	return test_summary();
}
