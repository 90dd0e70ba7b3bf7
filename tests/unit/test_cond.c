/* Unit tests for validators and preconditions (src/cond.c). String inputs
 * are copied to just before a PROT_NONE page, so a read past v[n) crashes. */
#include "cond.h"
#include "test.h"

#include <stdlib.h>

/* test.h's ASSERT_STR checks its pointer for NULL, which gcc -Waddress
 * flags when the pointer is an array: go through a pointer variable. */
#define ASSERT_BUF(line, buf, n, want)                                        \
	do {                                                                  \
		const char *buf_ = (buf);                                     \
		ASSERT_STR(line, buf_, n, want);                              \
	} while (0)

/* 06 Nov 1994 08:49:37 GMT, the RFC's example, and its neighbours. */
#define T94 784111777
#define D_EQ "Sun, 06 Nov 1994 08:49:37 GMT"
#define D_EQ_850 "Sunday, 06-Nov-94 08:49:37 GMT"
#define D_EQ_ASC "Sun Nov  6 08:49:37 1994"
#define D_BEFORE "Sun, 06 Nov 1994 08:49:36 GMT"
#define D_AFTER "Sun, 06 Nov 1994 08:49:38 GMT"
#define D_FUTURE "Fri, 31 Dec 9999 23:59:59 GMT"
#define D_BAD "Sun, 06 Nov 1994 08:49:37 UTC"

/* ---- etag_make --------------------------------------------------------- */

static void test_etag_make(void)
{
	char a[ETAG_MAX], b[ETAG_MAX];
	size_t na, nb;

	na = etag_make(a, 0x1234, 0x10, 0x5678, 0);
	ASSERT_BUF(__LINE__, a, na, "\"1234-10-5678\"");
	ASSERT_EQ(__LINE__, strlen(a), na);

	/* One nanosecond apart: different tags. */
	na = etag_make(a, 7, 100, 1700000000000000000LL, 0);
	nb = etag_make(b, 7, 100, 1700000000000000001LL, 0);
	ASSERT_TRUE(__LINE__, na != nb || memcmp(a, b, na) != 0);

	/* Inode or size alone changes the tag. */
	nb = etag_make(b, 8, 100, 1700000000000000000LL, 0);
	ASSERT_TRUE(__LINE__, na != nb || memcmp(a, b, na) != 0);
	nb = etag_make(b, 7, 101, 1700000000000000000LL, 0);
	ASSERT_TRUE(__LINE__, na != nb || memcmp(a, b, na) != 0);

	/* Variants: each encoding its own tag, all still strong and quoted. */
	na = etag_make(a, 1, 2, 3, 'b');
	ASSERT_BUF(__LINE__, a, na, "\"1-2-3-br\"");
	nb = etag_make(b, 1, 2, 3, 'g');
	ASSERT_BUF(__LINE__, b, nb, "\"1-2-3-gz\"");
	na = etag_make(a, 1, 2, 3, 0);
	ASSERT_BUF(__LINE__, a, na, "\"1-2-3\"");

	/* Same inputs, same tag. */
	nb = etag_make(b, 1, 2, 3, 0);
	ASSERT_TRUE(__LINE__, na == nb && memcmp(a, b, na) == 0);

	/* Worst case fits, with room for the NUL. */
	na = etag_make(a, UINT64_MAX, UINT64_MAX, INT64_MIN, 'b');
	ASSERT_TRUE(__LINE__, na < ETAG_MAX);
	ASSERT_BUF(__LINE__, a, na,
		   "\"ffffffffffffffff-ffffffffffffffff-8000000000000000-br\"");

	/* Pre-1970 mtimes are distinct from each other and from positives. */
	na = etag_make(a, 1, 1, -1, 0);
	nb = etag_make(b, 1, 1, 1, 0);
	ASSERT_TRUE(__LINE__, na != nb || memcmp(a, b, na) != 0);

	/* What we make is what we match. */
	na = etag_make(a, 42, 4096, 123456789, 'g');
	ASSERT_TRUE(__LINE__, etag_list_match(a, na, a, na, true));
	ASSERT_TRUE(__LINE__, cond_if_range(a, na, a, na, 0, 1));
}

/* ---- etag_list_match --------------------------------------------------- */

struct match_case {
	int line;
	const char *list, *etag;
	bool strong, want;
};

#define E "\"abc\""

static const struct match_case match_cases[] = {
	{ __LINE__, "\"abc\"", E, true, true },
	{ __LINE__, "\"abc\"", E, false, true },
	{ __LINE__, "W/\"abc\"", E, true, false },
	{ __LINE__, "W/\"abc\"", E, false, true },
	{ __LINE__, "\"abc\"", "W/\"abc\"", true, false },
	{ __LINE__, "\"abc\"", "W/\"abc\"", false, true },
	{ __LINE__, "W/\"abc\"", "W/\"abc\"", true, false },
	{ __LINE__, "W/\"abc\"", "W/\"abc\"", false, true },
	{ __LINE__, "\"xyz\"", E, true, false },
	{ __LINE__, "\"xyz\"", E, false, false },
	{ __LINE__, "\"ABC\"", E, false, false },
	{ __LINE__, "\"abcd\"", E, false, false },
	{ __LINE__, "\"ab\"", E, false, false },
	{ __LINE__, "\"xyz\", \"abc\"", E, true, true },
	{ __LINE__, "\"xyz\",\"abc\"", E, true, true },
	{ __LINE__, "\"abc\",\"xyz\"", E, true, true },
	{ __LINE__, "W/\"abc\", \"abc\"", E, true, true },
	{ __LINE__, "W/\"xyz\", W/\"abc\"", E, false, true },
	{ __LINE__, "W/\"xyz\", W/\"abc\"", E, true, false },
	{ __LINE__, "*", E, true, true },
	{ __LINE__, "*", E, false, true },
	{ __LINE__, " * ", E, true, true },
	{ __LINE__, "*", "malformed", true, true },
	{ __LINE__, "\t\"abc\"\t", E, true, true },
	{ __LINE__, ", \"abc\" ,", E, true, true },
	{ __LINE__, ",,\"xyz\",,\"abc\",,", E, true, true },
	{ __LINE__, "\"abc\" ,\t\"xyz\"", E, true, true },
	{ __LINE__, "\"\"", "\"\"", true, true },
	{ __LINE__, "\"\"", E, false, false },
	{ __LINE__, "\"\xe9t\xe9\"", "\"\xe9t\xe9\"", true, true }, /* obs-text */
	{ __LINE__, "\"a\\b\"", "\"a\\b\"", true, true },        /* backslash is etagc */
	/* Empty lists match nothing. */
	{ __LINE__, "", E, false, false },
	{ __LINE__, " ", E, false, false },
	{ __LINE__, ",,", E, false, false },
	/* Malformed: nothing matches, even a tag that is present. */
	{ __LINE__, "abc", E, false, false },
	{ __LINE__, "\"abc", E, false, false },
	{ __LINE__, "abc\"", E, false, false },
	{ __LINE__, "\"abc\"\"xyz\"", E, false, false },
	{ __LINE__, "\"abc\" \"xyz\"", E, false, false },
	{ __LINE__, "\"abc\", bogus", E, false, false },
	{ __LINE__, "bogus, \"abc\"", E, false, false },
	{ __LINE__, "\"abc\" ; q=1", E, false, false },
	{ __LINE__, "w/\"abc\"", E, false, false },
	{ __LINE__, "W/ \"abc\"", E, false, false },
	{ __LINE__, "W\"abc\"", E, false, false },
	{ __LINE__, "W/", E, false, false },
	{ __LINE__, "\"ab c\"", "\"ab c\"", false, false },
	{ __LINE__, "\"a\"c\"", E, false, false },
	{ __LINE__, "\"a\x01\"", "\"a\x01\"", false, false },
	{ __LINE__, "\"a\x7f\"", "\"a\x7f\"", false, false },
	{ __LINE__, "*, \"abc\"", E, false, false },
	{ __LINE__, "\"abc\", *", E, false, false },
	{ __LINE__, "**", E, false, false },
	{ __LINE__, "'abc'", "'abc'", false, false },
	/* Our own tag malformed: matches nothing but "*". */
	{ __LINE__, "abc", "abc", false, false },
};

static void test_etag_list_match(void)
{
	for (size_t k = 0; k < sizeof(match_cases) / sizeof(match_cases[0]); k++) {
		const struct match_case *c = &match_cases[k];
		size_t ln = strlen(c->list), en = strlen(c->etag);
		bool got = etag_list_match(test_guard_at(0, c->list, ln), ln,
					   test_guard_at(1, c->etag, en), en, c->strong);

		ASSERT_EQ(c->line, got, c->want);
	}
	/* An absent header. */
	ASSERT_EQ(__LINE__, etag_list_match(NULL, 0, E, 5, false), false);
	printf("etag_list_match: %zu cases\n", sizeof(match_cases) / sizeof(match_cases[0]));
}

/* etag_lines_match gives the answer of the joined list: every match case
 * split into two field lines at each comma, and with an empty line before
 * or after it; each line on its own guard page. */
static void test_etag_lines_match(void)
{
	size_t checked = 0;

	for (size_t k = 0; k < sizeof(match_cases) / sizeof(match_cases[0]); k++) {
		const struct match_case *c = &match_cases[k];
		size_t ln = strlen(c->list), en = strlen(c->etag);
		const char *etag = test_guard_at(2, c->etag, en);
		struct hp_slice one = { test_guard_at(0, c->list, ln), ln };

		ASSERT_EQ(c->line, etag_lines_match(&one, 1, etag, en, c->strong), c->want);
		for (size_t cut = 0; cut <= ln + 1; cut++) {
			/* cut 0 and ln + 1: an empty line before or after. */
			size_t n0 = cut == 0 ? 0 : cut > ln ? ln : cut - 1;
			size_t r0 = cut == 0 ? 0 : cut > ln ? ln : cut;
			char joined[256];
			struct hp_slice two[2];
			int jn;

			if (cut > 0 && cut <= ln && c->list[cut - 1] != ',')
				continue;
			jn = snprintf(joined, sizeof(joined), "%.*s, %.*s", (int)n0, c->list,
				      (int)(ln - r0), c->list + r0);
			two[0] = (struct hp_slice){ test_guard_at(0, c->list, n0), n0 };
			two[1] = (struct hp_slice){ test_guard_at(1, c->list + r0, ln - r0), ln - r0 };
			ASSERT_EQ(c->line, etag_lines_match(two, 2, etag, en, c->strong),
				  etag_list_match(joined, (size_t)jn, etag, en, c->strong));
			checked++;
		}
	}
	ASSERT_EQ(__LINE__, etag_lines_match(NULL, 0, E, 5, false), false);
	printf("etag_lines_match: %zu splits\n", checked);
}

/* ---- http_date_parse / http_date_format -------------------------------- */

struct date_case {
	int line;
	const char *v;
	int want;
	time_t t;
};

static const struct date_case date_cases[] = {
	/* The three forms of the RFC's example. */
	{ __LINE__, D_EQ, 0, T94 },
	{ __LINE__, D_EQ_850, 0, T94 },
	{ __LINE__, D_EQ_ASC, 0, T94 },
	{ __LINE__, "Sun Nov 06 08:49:37 1994", 0, T94 }, /* date3 allows 2DIGIT */
	{ __LINE__, " " D_EQ "\t", 0, T94 },              /* field OWS */
	{ __LINE__, "Thu, 01 Jan 1970 00:00:00 GMT", 0, 0 },
	{ __LINE__, "Wed, 31 Dec 1969 23:59:59 GMT", 0, -1 },
	{ __LINE__, "Thu Jan  1 00:00:00 1970", 0, 0 },
	{ __LINE__, "Tue, 19 Jan 2038 03:14:07 GMT", 0, 2147483647 },
	{ __LINE__, "Tue, 19 Jan 2038 03:14:08 GMT", 0, 2147483648LL },
	{ __LINE__, "Tue, 29 Feb 2000 00:00:00 GMT", 0, 951782400 },
	{ __LINE__, "Thu, 29 Feb 2024 12:00:00 GMT", 0, 1709208000 },
	{ __LINE__, "Thu Feb 29 12:00:00 2024", 0, 1709208000 },
	{ __LINE__, "Thursday, 29-Feb-24 12:00:00 GMT", 0, 1709208000 },
	{ __LINE__, "Mon, 01 Mar 2100 00:00:00 GMT", 0, 4107542400LL },
	{ __LINE__, "Fri, 31 Dec 9999 23:59:59 GMT", 0, 253402300799LL },
	{ __LINE__, "Sat, 01 Jan 0000 00:00:00 GMT", 0, -62167219200LL },
	{ __LINE__, "Mon, 01 Jan 1900 00:00:00 GMT", 0, -2208988800LL },
	/* A leap second reads as the next second. */
	{ __LINE__, "Wed, 31 Dec 2014 23:59:60 GMT", 0, 1420070400 },
	/* The day name is not checked against the date. */
	{ __LINE__, "Mon, 06 Nov 1994 08:49:37 GMT", 0, T94 },
	{ __LINE__, "Wednesday, 06-Nov-94 08:49:37 GMT", 0, T94 },
	{ __LINE__, "Tuesday, 06-Nov-94 08:49:37 GMT", 0, T94 },
	{ __LINE__, "Saturday, 06-Nov-94 08:49:37 GMT", 0, T94 },
	{ __LINE__, "Monday, 06-Nov-94 08:49:37 GMT", 0, T94 },
	{ __LINE__, "Friday, 06-Nov-94 08:49:37 GMT", 0, T94 },

	/* Invalid. */
	{ __LINE__, "", -1, 0 },
	{ __LINE__, "   ", -1, 0 },
	{ __LINE__, "Sun, 06 Nov 1994 08:49:37 gmt", -1, 0 },
	{ __LINE__, "Sun, 06 Nov 1994 08:49:37 UTC", -1, 0 },
	{ __LINE__, "Sun, 06 Nov 1994 08:49:37 +0000", -1, 0 },
	{ __LINE__, "Sun, 06 Nov 1994 08:49:37", -1, 0 },
	{ __LINE__, "Sun, 06 Nov 1994 08:49:37 GMTx", -1, 0 },
	{ __LINE__, "Sun, 06 Nov 1994 08:49:37  GMT", -1, 0 },
	{ __LINE__, "sun, 06 Nov 1994 08:49:37 GMT", -1, 0 },
	{ __LINE__, "SUN, 06 Nov 1994 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Xyz, 06 Nov 1994 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Sun, 06 nov 1994 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Sun, 06 NOV 1994 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Sun, 06 November 1994 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Sun, 6 Nov 1994 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Sun,  6 Nov 1994 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Sun,06 Nov 1994 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Sun 06 Nov 1994 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Sun, 06 Nov 94 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Sun, 06 Nov 01994 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Sun, 06-Nov-1994 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Sun, 00 Nov 1994 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Sun, 32 Dec 1994 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Sun, 31 Nov 1994 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Sun, 29 Feb 1900 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Sun, 29 Feb 2023 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Sun, 30 Feb 2024 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Sun, 06 Nov 1994 24:00:00 GMT", -1, 0 },
	{ __LINE__, "Sun, 06 Nov 1994 08:60:00 GMT", -1, 0 },
	{ __LINE__, "Sun, 06 Nov 1994 08:49:61 GMT", -1, 0 },
	{ __LINE__, "Sun, 06 Nov 1994 8:49:37 GMT", -1, 0 },
	{ __LINE__, "Sun, 06 Nov 1994 08:49 GMT", -1, 0 },
	{ __LINE__, "Sun, 06 Nov 1994 08.49.37 GMT", -1, 0 },
	{ __LINE__, "Sun, 0x Nov 1994 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Sun, -6 Nov 1994 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Sunday, 06-Nov-1994 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Sunday, 06 Nov 1994 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Sunday, 06-nov-94 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Sunday, 06-Nov-94 08:49:37", -1, 0 },
	{ __LINE__, "Sunday 06-Nov-94 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Sundae, 06-Nov-94 08:49:37 GMT", -1, 0 },
	{ __LINE__, "Sun Nov 6 08:49:37 1994", -1, 0 },
	{ __LINE__, "Sun Nov  6 08:49:37 1994 GMT", -1, 0 },
	{ __LINE__, "Sun Nov  6 08:49:37 94", -1, 0 },
	{ __LINE__, "Sun Nov  06 08:49:37 1994", -1, 0 },
	{ __LINE__, "Sun Nov 6  08:49:37 1994", -1, 0 },
	{ __LINE__, "Sun nov  6 08:49:37 1994", -1, 0 },
	{ __LINE__, "Sun Feb 29 00:00:00 2023", -1, 0 },
	{ __LINE__, "Sun Nov  0 08:49:37 1994", -1, 0 },
	{ __LINE__, "1994-11-06T08:49:37Z", -1, 0 },
	{ __LINE__, "784111777", -1, 0 },
};

static void test_date_parse(void)
{
	for (size_t k = 0; k < sizeof(date_cases) / sizeof(date_cases[0]); k++) {
		const struct date_case *c = &date_cases[k];
		size_t n = strlen(c->v);
		time_t t = 12345;
		int rc = http_date_parse(test_guarded(c->v, n), n, &t);

		ASSERT_EQ(c->line, rc, c->want);
		if (c->want == 0)
			ASSERT_EQ(c->line, t, c->t);
	}
	printf("http_date_parse: %zu cases\n", sizeof(date_cases) / sizeof(date_cases[0]));

	/* Every proper prefix of a valid date is invalid (and read in bounds). */
	static const char *const full[] = { D_EQ, D_EQ_850, D_EQ_ASC };
	for (size_t k = 0; k < 3; k++) {
		for (size_t n = 0; n < strlen(full[k]); n++) {
			time_t t;

			ASSERT_EQ(__LINE__, http_date_parse(test_guarded(full[k], n), n, &t), -1);
		}
	}

	/* An embedded NUL is just a wrong byte. */
	{
		static const char nul[] = "Sun, 06 Nov 1994 08:49:37\0GMT";
		time_t t;

		ASSERT_EQ(__LINE__, http_date_parse(test_guarded(nul, sizeof(nul) - 1),
						    sizeof(nul) - 1, &t), -1);
	}
	ASSERT_EQ(__LINE__, http_date_parse(NULL, 0, &(time_t){ 0 }), -1);
}

/* RFC 850 dates: a two-digit year more than 50 years ahead is in the past
 * century. Expectations are relative to today's year. */
static void test_date_two_digit_year(void)
{
	static const int ahead[] = { 0, 1, 10, 30, 49, -1, -10, -30, -49, 51, 60, 80, 99 };
	static const char *const wday[7] = {
		"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
	};
	time_t now = time(NULL);
	struct tm tm;
	int cy;

	gmtime_r(&now, &tm);
	cy = tm.tm_year + 1900;
	for (size_t k = 0; k < sizeof(ahead) / sizeof(ahead[0]); k++) {
		/* 1 July: far from the window's edges whatever today is, except
		 * at exactly +-50 which is not tested. */
		int y = cy + ahead[k], want_y = ahead[k] > 50 ? y - 100 : y;
		struct tm w = { .tm_year = want_y - 1900, .tm_mon = 6, .tm_mday = 1 };
		time_t want = timegm(&w);
		char buf[64];
		time_t t = 0;
		int n;

		gmtime_r(&want, &w);
		n = snprintf(buf, sizeof(buf), "%s, 01-Jul-%02d 00:00:00 GMT",
			     wday[w.tm_wday], ((y % 100) + 100) % 100);
		ASSERT_EQ(__LINE__, http_date_parse(test_guarded(buf, (size_t)n), (size_t)n, &t), 0);
		ASSERT_EQ(__LINE__, t, want);
	}
}

/* Our own formatting against gmtime_r's fields, and back through the
 * parser. Silent unless it fails, so that the sweeps below count as one
 * check each rather than flooding the totals. */
static bool round_trips(time_t t)
{
	static const char *const wd[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const mo[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	char buf[40], want[40];
	struct tm tm;
	time_t back = 0;
	size_t n;

	memset(buf, 'X', sizeof(buf));
	n = http_date_format(buf, t);
	if (gmtime_r(&t, &tm) == NULL)
		return false;
	snprintf(want, sizeof(want), "%s, %02d %s %04d %02d:%02d:%02d GMT", wd[tm.tm_wday],
		 tm.tm_mday, mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
	if (n != 29 || buf[29] != '\0' || buf[30] != 'X' || strcmp(buf, want) != 0 ||
	    http_date_parse(buf, n, &back) != 0 || back != t) {
		fprintf(stderr, "round trip of %lld: \"%.29s\" want \"%s\", back %lld\n",
			(long long)t, buf, want, (long long)back);
		return false;
	}
	return true;
}

static void test_date_round_trip(void)
{
	static const long long fixed[] = {
		0, 1, -1, 59, 60, 86399, 86400, -86400, -86401,
		T94, 951782399, 951782400, 951868800, /* 2000-02-28/29/03-01 */
		1709164800, 1709251199,               /* 2024-02-29 */
		2147483647, 2147483648LL, 4294967295LL, 4294967296LL,
		4107456000LL, 4107542400LL,           /* 2100-02-28, 2100-03-01 */
		-2208988800LL, -2203891200LL,         /* 1900-01-01, 1900-03-01 */
		-62167219200LL,                       /* 0000-01-01 */
		-62162121600LL,                       /* 0000-02-29 (0 is a leap year) */
		253402300799LL,                       /* 9999-12-31 23:59:59 */
		253370764800LL,                       /* 9999-01-01 */
		1234567890, 1700000000, 1893456000,
	};
	uint64_t x = 88172645463325252ULL;
	char buf[32];
	size_t n;
	int bad;

	for (size_t k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++)
		ASSERT_TRUE(__LINE__, round_trips((time_t)fixed[k]));

	/* Every day of 1968..1973 and 2096..2104 at a varying time of day. */
	bad = 0;
	for (long long d = -731; d < 1461; d++)
		bad += !round_trips((time_t)(d * 86400 + (d * 7919) % 86400));
	ASSERT_EQ(__LINE__, bad, 0);
	bad = 0;
	for (long long d = 46021; d < 49308; d++)
		bad += !round_trips((time_t)(d * 86400 + (d * 7919) % 86400));
	ASSERT_EQ(__LINE__, bad, 0);

	/* Pseudo-random instants over the whole 0000..9999 range. */
	bad = 0;
	for (int k = 0; k < 20000; k++) {
		long long span = 253402300799LL + 62167219200LL + 1;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		bad += !round_trips((time_t)((long long)(x % (uint64_t)span) - 62167219200LL));
	}
	ASSERT_EQ(__LINE__, bad, 0);

	/* Out of the 4-digit range: clamped. */
	n = http_date_format(buf, (time_t)INT64_MAX);
	ASSERT_BUF(__LINE__, buf, n, "Fri, 31 Dec 9999 23:59:59 GMT");
	n = http_date_format(buf, (time_t)253402300800LL);
	ASSERT_BUF(__LINE__, buf, n, "Fri, 31 Dec 9999 23:59:59 GMT");
	n = http_date_format(buf, (time_t)INT64_MIN);
	ASSERT_BUF(__LINE__, buf, n, "Sat, 01 Jan 0000 00:00:00 GMT");
	n = http_date_format(buf, (time_t)-62167219201LL);
	ASSERT_BUF(__LINE__, buf, n, "Sat, 01 Jan 0000 00:00:00 GMT");
	n = http_date_format(buf, (time_t)T94);
	ASSERT_BUF(__LINE__, buf, n, D_EQ);
}

/* ---- cond_evaluate ----------------------------------------------------- */

struct eval_case {
	int line;
	const char *im, *inm, *ims, *ius;
	bool get;
	enum cond_result want;
};

#define ET "\"e1\""
#define PASS COND_PASS
#define N304 COND_NOT_MODIFIED
#define F412 COND_FAILED

static const struct eval_case eval_cases[] = {
	/* No preconditions. */
	{ __LINE__, NULL, NULL, NULL, NULL, true, PASS },
	{ __LINE__, NULL, NULL, NULL, NULL, false, PASS },
	/* Step 1: If-Match, strong comparison. */
	{ __LINE__, ET, NULL, NULL, NULL, true, PASS },
	{ __LINE__, ET, NULL, NULL, NULL, false, PASS },
	{ __LINE__, "\"x\", " ET, NULL, NULL, NULL, true, PASS },
	{ __LINE__, "\"x\"", NULL, NULL, NULL, true, F412 },
	{ __LINE__, "\"x\"", NULL, NULL, NULL, false, F412 },
	{ __LINE__, "*", NULL, NULL, NULL, false, PASS },
	{ __LINE__, "W/" ET, NULL, NULL, NULL, true, F412 },
	{ __LINE__, "e1", NULL, NULL, NULL, true, F412 },
	{ __LINE__, "", NULL, NULL, NULL, true, F412 },
	/* Step 2: If-Unmodified-Since, only without If-Match. */
	{ __LINE__, NULL, NULL, NULL, D_EQ, false, PASS },
	{ __LINE__, NULL, NULL, NULL, D_AFTER, false, PASS },
	{ __LINE__, NULL, NULL, NULL, D_BEFORE, false, F412 },
	{ __LINE__, NULL, NULL, NULL, D_BEFORE, true, F412 },
	{ __LINE__, NULL, NULL, NULL, D_BAD, false, PASS },
	{ __LINE__, NULL, NULL, NULL, "", false, PASS },
	{ __LINE__, NULL, NULL, NULL, D_EQ_850, false, PASS },
	{ __LINE__, NULL, NULL, NULL, D_EQ_ASC, false, PASS },
	{ __LINE__, ET, NULL, NULL, D_BEFORE, false, PASS },
	{ __LINE__, "\"x\"", NULL, NULL, D_AFTER, false, F412 },
	/* Step 3: If-None-Match, weak comparison. */
	{ __LINE__, NULL, ET, NULL, NULL, true, N304 },
	{ __LINE__, NULL, ET, NULL, NULL, false, F412 },
	{ __LINE__, NULL, "W/" ET, NULL, NULL, true, N304 },
	{ __LINE__, NULL, "W/" ET, NULL, NULL, false, F412 },
	{ __LINE__, NULL, "\"x\", " ET, NULL, NULL, true, N304 },
	{ __LINE__, NULL, "\"x\"", NULL, NULL, true, PASS },
	{ __LINE__, NULL, "\"x\"", NULL, NULL, false, PASS },
	{ __LINE__, NULL, "*", NULL, NULL, true, N304 },
	{ __LINE__, NULL, "*", NULL, NULL, false, F412 },
	{ __LINE__, NULL, "e1", NULL, NULL, true, PASS },
	{ __LINE__, NULL, ET " x", NULL, NULL, true, PASS },
	/* Step 4: If-Modified-Since, GET/HEAD only, without If-None-Match. */
	{ __LINE__, NULL, NULL, D_EQ, NULL, true, N304 },
	{ __LINE__, NULL, NULL, D_AFTER, NULL, true, N304 },
	{ __LINE__, NULL, NULL, D_EQ_850, NULL, true, N304 },
	{ __LINE__, NULL, NULL, D_EQ_ASC, NULL, true, N304 },
	{ __LINE__, NULL, NULL, D_BEFORE, NULL, true, PASS },
	{ __LINE__, NULL, NULL, D_EQ, NULL, false, PASS },
	{ __LINE__, NULL, NULL, D_BAD, NULL, true, PASS },
	{ __LINE__, NULL, NULL, "", NULL, true, PASS },
	{ __LINE__, NULL, NULL, D_FUTURE, NULL, true, PASS },
	{ __LINE__, NULL, "\"x\"", D_EQ, NULL, true, PASS },
	{ __LINE__, NULL, "", D_EQ, NULL, true, PASS },
	{ __LINE__, NULL, ET, D_BEFORE, NULL, true, N304 },
	/* Precedence across steps. */
	{ __LINE__, "\"x\"", ET, NULL, NULL, true, F412 },
	{ __LINE__, ET, ET, NULL, NULL, true, N304 },
	{ __LINE__, ET, ET, NULL, NULL, false, F412 },
	{ __LINE__, "*", "*", NULL, NULL, true, N304 },
	{ __LINE__, NULL, ET, NULL, D_BEFORE, true, F412 },
	{ __LINE__, NULL, NULL, D_EQ, D_BEFORE, true, F412 },
	{ __LINE__, NULL, NULL, D_EQ, D_BAD, true, N304 },
	{ __LINE__, NULL, NULL, D_BEFORE, D_EQ, true, PASS },
	{ __LINE__, ET, "\"x\"", D_EQ, D_BEFORE, true, PASS },
	{ __LINE__, "\"x\"", NULL, D_EQ, NULL, true, F412 },
};

static size_t len0(const char *s)
{
	return s ? strlen(s) : 0;
}

static void test_cond_evaluate(void)
{
	for (size_t k = 0; k < sizeof(eval_cases) / sizeof(eval_cases[0]); k++) {
		const struct eval_case *c = &eval_cases[k];
		struct cond_input in = {
			.if_match = c->im, .if_match_n = len0(c->im),
			.if_none_match = c->inm, .if_none_match_n = len0(c->inm),
			.if_modified_since = c->ims, .if_modified_since_n = len0(c->ims),
			.if_unmodified_since = c->ius, .if_unmodified_since_n = len0(c->ius),
			.etag = ET, .etag_n = strlen(ET),
			.mtime = T94,
			.get_or_head = c->get,
		};

		ASSERT_EQ(c->line, cond_evaluate(&in), c->want);

		/* The same lists given as one field line each. */
		struct hp_slice im = { c->im, len0(c->im) }, inm = { c->inm, len0(c->inm) };

		in.if_match = in.if_none_match = NULL;
		in.if_match_lines = c->im ? &im : NULL;
		in.if_match_nlines = c->im ? 1 : 0;
		in.if_none_match_lines = c->inm ? &inm : NULL;
		in.if_none_match_nlines = c->inm ? 1 : 0;
		ASSERT_EQ(c->line, cond_evaluate(&in), c->want);
	}
	printf("cond_evaluate: %zu cases\n", sizeof(eval_cases) / sizeof(eval_cases[0]));

	/* A date later than our clock, even by one second, is ignored. */
	{
		char now_s[32], soon_s[32];
		time_t now = time(NULL);
		struct cond_input in = {
			.if_modified_since = now_s, .if_modified_since_n = 29,
			.etag = ET, .etag_n = strlen(ET),
			.mtime = now - 10, .get_or_head = true,
		};

		http_date_format(now_s, now);
		ASSERT_EQ(__LINE__, cond_evaluate(&in), COND_NOT_MODIFIED);
		http_date_format(soon_s, now + 3600);
		in.if_modified_since = soon_s;
		ASSERT_EQ(__LINE__, cond_evaluate(&in), COND_PASS);
	}
}

/* Issue 11 item 5: If-Match / If-None-Match split over two field lines
 * whose join is over 1,024 bytes. The lists are read across both lines
 * straight from the parsed request (hp_field_lines), with no length cap:
 * 200 where the old 1 KiB join lost the second line and answered 412, and
 * 304 where it answered 200. */
static void test_long_lists(void)
{
	static const char *const names[2] = { "If-Match", "If-None-Match" };
	char head[8192];

	for (int which = 0; which < 2; which++) {
		for (int second_has_it = 0; second_has_it < 2; second_has_it++) {
			struct http_request req;
			struct hp_info info;
			struct hp_slice lines[HP_MAX_HEADERS];
			const char *reason;
			char joined[1024];
			size_t n = 0, nl;
			int line = __LINE__, r;

			n += (size_t)snprintf(head + n, sizeof(head) - n,
					      "GET / HTTP/1.1\r\nHost: h\r\n%s: ", names[which]);
			for (int t = 0; t < 40; t++) /* 40 x 32 bytes: over 1 KiB */
				n += (size_t)snprintf(head + n, sizeof(head) - n,
						      "%s\"other-tag-number-%02d-xxxxxx\"",
						      t ? ", " : "", t);
			n += (size_t)snprintf(head + n, sizeof(head) - n, "\r\n%s: \"y\", %s\r\n\r\n",
					      names[which], second_has_it ? ET : "\"z\"");
			r = hp_parse_request(test_guarded(head, n), n, &req);
			ASSERT_EQ(line, r, (int)n);
			if (r != (int)n)
				continue;
			ASSERT_EQ(line, hp_analyze(&req, &info, &reason), 0);
			ASSERT_EQ(line, which ? info.if_none_match_multi : info.if_match_multi, true);
			/* The old join does not fit: the second line was lost. */
			ASSERT_EQ(line, hp_join_field(&req, names[which], joined, sizeof(joined)), 0);
			ASSERT_TRUE(line, (which ? info.if_none_match.n : info.if_match.n) > 1024);

			nl = hp_field_lines(&req, names[which], lines, HP_MAX_HEADERS);
			ASSERT_EQ(line, nl, 2);

			struct cond_input in = {
				.etag = ET, .etag_n = strlen(ET), .mtime = T94, .get_or_head = true,
			};
			if (which == 0) {
				in.if_match_lines = lines;
				in.if_match_nlines = nl;
				ASSERT_EQ(line, cond_evaluate(&in), second_has_it ? PASS : F412);
			} else {
				in.if_none_match_lines = lines;
				in.if_none_match_nlines = nl;
				ASSERT_EQ(line, cond_evaluate(&in), second_has_it ? N304 : PASS);
			}
		}
	}

	/* A malformed second line makes the whole If-Match list match
	 * nothing, as the joined list would. */
	{
		struct hp_slice lines[2] = { { ET, strlen(ET) }, { "\"a\" junk", 10 } };
		struct cond_input in = {
			.if_match_lines = lines, .if_match_nlines = 2,
			.etag = ET, .etag_n = strlen(ET), .mtime = T94, .get_or_head = true,
		};

		ASSERT_EQ(__LINE__, cond_evaluate(&in), F412);
		lines[1] = (struct hp_slice){ "*", 1 }; /* "*" only stands alone */
		ASSERT_EQ(__LINE__, cond_evaluate(&in), F412);
		in.if_match_nlines = 1;
		lines[0] = lines[1];
		ASSERT_EQ(__LINE__, cond_evaluate(&in), PASS);
	}
}

/* ---- cond_if_range ----------------------------------------------------- */

struct if_range_case {
	int line;
	const char *v, *etag;
	bool want;
};

static const struct if_range_case if_range_cases[] = {
	{ __LINE__, ET, ET, true },
	{ __LINE__, " " ET " ", ET, true },
	{ __LINE__, "W/" ET, ET, false },
	{ __LINE__, "\"e2\"", ET, false },
	{ __LINE__, "\"E1\"", ET, false },
	{ __LINE__, ET, "W/" ET, false },
	{ __LINE__, "W/" ET, "W/" ET, false },
	{ __LINE__, ET ", \"e2\"", ET, false },
	{ __LINE__, "\"e1", ET, false },
	{ __LINE__, "\"e1\"x", ET, false },
	{ __LINE__, "W/e1", ET, false },
	{ __LINE__, "*", ET, false },
	{ __LINE__, "e1", ET, false },
	{ __LINE__, "", ET, false },
	{ __LINE__, D_EQ, ET, true },
	{ __LINE__, D_EQ_850, ET, true },
	{ __LINE__, D_EQ_ASC, ET, true },
	{ __LINE__, D_BEFORE, ET, false },
	{ __LINE__, D_AFTER, ET, false },
	{ __LINE__, D_BAD, ET, false },
	{ __LINE__, "garbage", ET, false },
};

static void test_if_range(void)
{
	for (size_t k = 0; k < sizeof(if_range_cases) / sizeof(if_range_cases[0]); k++) {
		const struct if_range_case *c = &if_range_cases[k];
		size_t n = strlen(c->v), en = strlen(c->etag);

		ASSERT_EQ(c->line, cond_if_range(test_guard_at(0, c->v, n), n,
						 test_guard_at(1, c->etag, en), en, T94, T94 + 60),
			  c->want);
	}
	ASSERT_EQ(__LINE__, cond_if_range(NULL, 0, ET, 4, T94, T94 + 60), false);
	/* A date is strong only once the second of the modification is over
	 * (and never for a modification time in the future); a strong ETag
	 * does not depend on the clock. */
	ASSERT_EQ(__LINE__, cond_if_range(D_EQ, strlen(D_EQ), ET, 4, T94, T94 + 1), true);
	ASSERT_EQ(__LINE__, cond_if_range(D_EQ, strlen(D_EQ), ET, 4, T94, T94), false);
	ASSERT_EQ(__LINE__, cond_if_range(D_EQ, strlen(D_EQ), ET, 4, T94, T94 - 5), false);
	ASSERT_EQ(__LINE__, cond_if_range(ET, strlen(ET), ET, 4, T94, T94), true);
	ASSERT_EQ(__LINE__, cond_if_range(ET, strlen(ET), ET, 4, T94, T94 - 5), true);
	printf("cond_if_range: %zu cases\n", sizeof(if_range_cases) / sizeof(if_range_cases[0]));
}

int main(void)
{
	test_etag_make();
	test_etag_list_match();
	test_date_parse();
	test_date_two_digit_year();
	test_date_round_trip();
	test_etag_lines_match();
	test_cond_evaluate();
	test_long_lists();
	test_if_range();
	return test_summary();
}
