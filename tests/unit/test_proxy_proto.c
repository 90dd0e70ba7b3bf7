/* Unit tests for pp_parse (src/proxy_proto.c). Each input is copied to the
 * end of a page followed by a PROT_NONE page, so any read past buf[len)
 * crashes. Besides the table, every case is also fed byte by byte: each
 * proper prefix of an accepted header must be PP_INCOMPLETE, and once a
 * prefix is PP_ERROR every longer one must be too. */
#include "proxy_proto.h"
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define INC PP_INCOMPLETE
#define ERR PP_ERROR

/* A literal with its exact length (binary inputs contain NUL bytes). */
#define B(s) s, sizeof(s) - 1

#define D90 "0123456789012345678901234567890123456789012345678901234567890123456789" \
	    "01234567890123456789"
#define SIG "\r\n\r\n\0\r\nQUIT\n"
#define V4_ADDRS "\x7f\x00\x00\x02" "\x7f\x00\x00\x01" "\x1f\x90" "\x00\x50"
#define V6_ADDRS "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01" \
		 "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01" "\x11\x67" "\x01\xbb"

struct pp_case {
	int line;
	const char *in;
	size_t n;
	int want;        /* bytes consumed, INC or ERR */
	int keep;        /* keep_peer expected when want > 0 */
	const char *src; /* address text, NULL when keep */
	int sport;
	const char *dst;
	int dport;
};

static const struct pp_case cases[] = {
	/* Version 1, the forms HAProxy and nginx send. */
	{ __LINE__, B("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"), 45, 0, "192.0.2.1", 56324,
	  "198.51.100.2", 443 },
	{ __LINE__, B("PROXY TCP6 2001:db8::1 ::1 4711 80\r\n"), 36, 0, "2001:db8::1", 4711, "::1", 80 },
	{ __LINE__, B("PROXY TCP6 ::ffff:192.0.2.1 ::1 0 65535\r\n"), 41, 0, "::ffff:192.0.2.1", 0, "::1",
	  65535 },
	{ __LINE__, B("PROXY TCP4 0.0.0.0 255.255.255.255 0 0\r\n"), 40, 0, "0.0.0.0", 0,
	  "255.255.255.255", 0 },
	{ __LINE__, B("PROXY UNKNOWN\r\n"), 15, 1, NULL, 0, NULL, 0 },
	/* UNKNOWN: the rest of the line is ignored (spec §2.1). */
	{ __LINE__, B("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"), 35, 1, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY UNKNOWN whatever\r\nGET / HTTP/1.1\r\n"), 24, 1, NULL, 0, NULL, 0 },
	/* The connection's data follows and is not consumed. */
	{ __LINE__, B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nGET / HTTP/1.1\r\n\r\n"), 32, 0, "1.2.3.4", 1,
	  "5.6.7.8", 2 },
	/* The longest TCP6 line inet_ntop can produce (104 bytes), and the
	 * longest line of all (107). */
	{ __LINE__,
	  B("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"),
	  104, 0, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
	  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535 },
	{ __LINE__, B("PROXY TCP6 ::ffff:1.2.3.4 ::ffff:255.255.255.255 1 2\r\n"), 54, 0,
	  "::ffff:1.2.3.4", 1, "::ffff:255.255.255.255", 2 },
	{ __LINE__, B("PROXY UNKNOWN " D90 "0\r\n"), 107, 1, NULL, 0, NULL, 0 },

	/* Version 1, incomplete. */
	{ __LINE__, B(""), INC, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("P"), INC, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY"), INC, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY UNKNOWN"), INC, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY UNKNOWN\r"), INC, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2"), INC, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r"), INC, 0, NULL, 0, NULL, 0 },

	/* Version 1, refused as soon as it is known. */
	{ __LINE__, B("GET / HTTP/1.1\r\n\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("G"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PR0"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY\tTCP4"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY  TCP4"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP5"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY UNKNOWNX\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY \r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY UNKNOWN a\nb\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	/* Addresses of the wrong family or not addresses at all. */
	{ __LINE__, B("PROXY TCP4 ::1 ::1 1 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4 localhost 5.6.7.8 1 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4 1111.2.3.4 5.6.7.8 1 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4 1.2.3.4.5.6.7.8.9.0.1 5.6.7.8 1 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP6 [::1] ::1 1 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP6 1::2::3 ::1 1 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP6 g::1 ::1 1 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	/* Ports: decimal, 0..65535, no sign, no leading zero. */
	{ __LINE__, B("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4 1.2.3.4 5.6.7.8 99999 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4 1.2.3.4 5.6.7.8 100000 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4 1.2.3.4 5.6.7.8 00 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4 1.2.3.4 5.6.7.8 1 02\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4 1.2.3.4 5.6.7.8 0x10 2\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2a\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	/* Longer than 107 bytes without a CRLF, or with the LF as byte 108. */
	{ __LINE__, B("PROXY UNKNOWN " D90 "012"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("PROXY UNKNOWN " D90 "01\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	/* Dotted IPv6 tails are valid but make a TCP6 line too long. */
	{ __LINE__,
	  B("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 "
	    "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 65535 65535\r\n"),
	  ERR, 0, NULL, 0, NULL, 0 },

	/* Version 2, PROXY over TCP/IPv4 and IPv6. */
	{ __LINE__, B(SIG "\x21\x11\x00\x0c" V4_ADDRS), 28, 0, "127.0.0.2", 8080, "127.0.0.1", 80 },
	{ __LINE__, B(SIG "\x21\x21\x00\x24" V6_ADDRS), 52, 0, "2001:db8::1", 4455, "::1", 443 },
	/* Transport UNSPEC is accepted as well as STREAM. */
	{ __LINE__, B(SIG "\x21\x10\x00\x0c" V4_ADDRS), 28, 0, "127.0.0.2", 8080, "127.0.0.1", 80 },
	/* Data after the header is left alone. */
	{ __LINE__, B(SIG "\x21\x11\x00\x0c" V4_ADDRS "GET"), 28, 0, "127.0.0.2", 8080, "127.0.0.1",
	  80 },
	/* TLVs after the addresses: skipped, and they must fill the block. */
	{ __LINE__, B(SIG "\x21\x11\x00\x16" V4_ADDRS "\x01\x00\x02h2" "\x04\x00\x02\0\0"), 38, 0,
	  "127.0.0.2", 8080, "127.0.0.1", 80 },
	{ __LINE__, B(SIG "\x21\x11\x00\x0f" V4_ADDRS "\x04\x00\x00"), 31, 0, "127.0.0.2", 8080,
	  "127.0.0.1", 80 },
	{ __LINE__, B(SIG "\x21\x11\x00\x0e" V4_ADDRS "\x04\x00"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B(SIG "\x21\x11\x00\x0d" V4_ADDRS "\x04"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B(SIG "\x21\x11\x00\x10" V4_ADDRS "\x04\x00\x02h"), ERR, 0, NULL, 0, NULL, 0 },
	/* A TLV that overruns the block is refused before it arrives. */
	{ __LINE__, B(SIG "\x21\x11\x00\x10" V4_ADDRS "\x04\x01\x00"), ERR, 0, NULL, 0, NULL, 0 },
	/* LOCAL (health checks): keep the peer, whatever the family says. */
	{ __LINE__, B(SIG "\x20\x00\x00\x00"), 16, 1, NULL, 0, NULL, 0 },
	{ __LINE__, B(SIG "\x20\x11\x00\x0c" V4_ADDRS), 28, 1, NULL, 0, NULL, 0 },
	{ __LINE__, B(SIG "\x20\xff\x00\x03xyz"), 19, 1, NULL, 0, NULL, 0 },
	/* PROXY with AF_UNSPEC or AF_UNIX: keep the peer. */
	{ __LINE__, B(SIG "\x21\x00\x00\x00"), 16, 1, NULL, 0, NULL, 0 },
	{ __LINE__, B(SIG "\x21\x00\x00\x03\x04\x00\x00"), 19, 1, NULL, 0, NULL, 0 },
	/* Version 2, incomplete. */
	{ __LINE__, B("\r"), INC, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("\r\n\r\n\0"), INC, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B(SIG), INC, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B(SIG "\x21"), INC, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B(SIG "\x21\x11\x00"), INC, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B(SIG "\x21\x11\x00\x0c\x7f"), INC, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B(SIG "\x21\x11\x0f\xf0"), INC, 0, NULL, 0, NULL, 0 },
	/* Version 2, refused. */
	{ __LINE__, B("\r\n\r\n\r\n"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("\r\n\r\n\0\r\nQUIT\r"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B("\r\nGET"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B(SIG "\x11"), ERR, 0, NULL, 0, NULL, 0 },   /* version 1 */
	{ __LINE__, B(SIG "\x31"), ERR, 0, NULL, 0, NULL, 0 },   /* version 3 */
	{ __LINE__, B(SIG "\x22"), ERR, 0, NULL, 0, NULL, 0 },   /* command 2 */
	{ __LINE__, B(SIG "\x2f"), ERR, 0, NULL, 0, NULL, 0 },   /* command 15 */
	{ __LINE__, B(SIG "\x21\x12"), ERR, 0, NULL, 0, NULL, 0 }, /* DGRAM */
	{ __LINE__, B(SIG "\x21\x13"), ERR, 0, NULL, 0, NULL, 0 }, /* transport 3 */
	{ __LINE__, B(SIG "\x21\x41"), ERR, 0, NULL, 0, NULL, 0 }, /* family 4 */
	{ __LINE__, B(SIG "\x21\xf1"), ERR, 0, NULL, 0, NULL, 0 }, /* family 15 */
	/* Too short for the family's addresses. */
	{ __LINE__, B(SIG "\x21\x11\x00\x0b"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B(SIG "\x21\x11\x00\x00"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B(SIG "\x21\x21\x00\x0c"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B(SIG "\x21\x31\x00\x24"), ERR, 0, NULL, 0, NULL, 0 },
	/* Longer than PP_MAX_LEN. */
	{ __LINE__, B(SIG "\x21\x11\x0f\xf1"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B(SIG "\x21\x11\xff\xff"), ERR, 0, NULL, 0, NULL, 0 },
	{ __LINE__, B(SIG "\x20\x00\xff\xff"), ERR, 0, NULL, 0, NULL, 0 },
};

/* A copy of s ending right where a PROT_NONE page begins. */
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

static void check_addr(int line, const struct sockaddr_storage *ss, const char *want, int port)
{
	char txt[INET6_ADDRSTRLEN] = "";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s->sin_addr, txt, sizeof(txt));
		ASSERT_EQ(line, ntohs(s->sin_port), port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s->sin6_addr, txt, sizeof(txt));
		ASSERT_EQ(line, ntohs(s->sin6_port), port);
	}
	ASSERT_STR(line, txt, strlen(txt), want);
}

/* The whole input, then every prefix of it. */
static void check(const struct pp_case *c)
{
	struct pp_result r;
	int rc, seen_error = 0;

	memset(&r, 0xa5, sizeof(r));
	rc = pp_parse(guarded(c->in, c->n), c->n, &r);
	ASSERT_EQ(c->line, rc, c->want);
	if (rc > 0 && c->want > 0) {
		ASSERT_EQ(c->line, r.keep_peer, c->keep);
		ASSERT_EQ(c->line, r.version, c->in[0] == 'P' ? 1 : 2);
		if (c->keep) {
			ASSERT_EQ(c->line, r.src.ss_family, AF_UNSPEC);
		} else {
			check_addr(c->line, &r.src, c->src, c->sport);
			check_addr(c->line, &r.dst, c->dst, c->dport);
		}
	}
	for (size_t k = 0; k < c->n; k++) {
		int p = pp_parse(guarded(c->in, k), k, &r);

		if (c->want > 0 && (int)k < c->want) {
			ASSERT_EQ(c->line, p, INC);
		} else if (c->want == ERR) {
			/* Incomplete until refused, then refused for good. */
			if (seen_error)
				ASSERT_EQ(c->line, p, ERR);
			else if (p != INC)
				ASSERT_EQ(c->line, p, ERR);
			seen_error |= p == ERR;
		} else if (c->want == INC) {
			ASSERT_EQ(c->line, p, INC);
		}
	}
}

/* Any first byte other than 'P' and '\r' is refused at once, and a v2
 * family/transport byte is checked for every value. */
static void test_bytes(void)
{
	struct pp_result r;
	char b[17] = SIG "\x21";

	for (int c = 0; c < 256; c++) {
		char one = (char)c;
		int want = c == 'P' || c == '\r' ? INC : ERR;

		ASSERT_EQ(c, pp_parse(guarded(&one, 1), 1, &r), want);
	}
	for (int v = 0; v < 256; v++) {
		int fam = v >> 4, tr = v & 15;
		int want = fam <= 3 && tr <= 1 ? INC : ERR;

		b[13] = (char)v;
		ASSERT_EQ(v, pp_parse(guarded(b, 14), 14, &r), want);
	}
	/* The version/command byte: only 0x20 and 0x21. */
	for (int v = 0; v < 256; v++) {
		b[12] = (char)v;
		ASSERT_EQ(v, pp_parse(guarded(b, 13), 13, &r), v == 0x20 || v == 0x21 ? INC : ERR);
	}
}

/* A v2 header of exactly PP_MAX_LEN bytes with one big TLV is accepted;
 * one byte more is not. */
static void test_v2_max(void)
{
	static char b[PP_MAX_LEN + 1];
	struct pp_result r;
	size_t body = PP_MAX_LEN - PP_V2_FIXED, tlv = body - 12 - 3;

	memcpy(b, SIG "\x21\x11", 14);
	b[14] = (char)(body >> 8);
	b[15] = (char)(body & 0xff);
	memcpy(b + 16, V4_ADDRS, 12);
	b[28] = 0x04; /* PP2_TYPE_NOOP */
	b[29] = (char)(tlv >> 8);
	b[30] = (char)(tlv & 0xff);
	ASSERT_EQ(__LINE__, pp_parse(guarded(b, PP_MAX_LEN), PP_MAX_LEN, &r), PP_MAX_LEN);
	ASSERT_EQ(__LINE__, pp_parse(guarded(b, PP_MAX_LEN - 1), PP_MAX_LEN - 1, &r), INC);
	body++;
	tlv++;
	b[14] = (char)(body >> 8);
	b[15] = (char)(body & 0xff);
	b[29] = (char)(tlv >> 8);
	b[30] = (char)(tlv & 0xff);
	ASSERT_EQ(__LINE__, pp_parse(guarded(b, PP_MAX_LEN + 1), PP_MAX_LEN + 1, &r), ERR);
}

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);

	guard_base = mmap(NULL, GUARD_ROOM + (size_t)page, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (guard_base == MAP_FAILED || mprotect(guard_base + GUARD_ROOM, (size_t)page, PROT_NONE))
		return 2;

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
		check(&cases[k]);
	test_bytes();
	test_v2_max();
	printf("pp_parse: %zu table cases\n", sizeof(cases) / sizeof(cases[0]));
	return test_summary();
}
