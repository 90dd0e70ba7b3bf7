/* Unit tests for range_parse (src/range.c). Each input is copied to the end
 * of a page followed by a PROT_NONE page, so any read past v[n) crashes. */
#include "range.h"
#include "test.h"

#include <stdlib.h>

#define U64MAX UINT64_MAX
#define UNSAT RANGE_UNSATISFIABLE
#define SZ 10000 /* the default representation size */

struct range_case {
	int line;
	const char *v;
	uint64_t size;
	int want;
	struct byte_range r[RANGE_MAX];
};

static const struct range_case cases[] = {
	/* Single ranges: first, middle, last, suffix, open-ended. */
	{ __LINE__, "bytes=0-499", SZ, 1, { { 0, 499 } } },
	{ __LINE__, "bytes=500-999", SZ, 1, { { 500, 999 } } },
	{ __LINE__, "bytes=9500-9999", SZ, 1, { { 9500, 9999 } } },
	{ __LINE__, "bytes=-500", SZ, 1, { { 9500, 9999 } } },
	{ __LINE__, "bytes=9500-", SZ, 1, { { 9500, 9999 } } },
	{ __LINE__, "bytes=0-", SZ, 1, { { 0, 9999 } } },
	{ __LINE__, "bytes=0-0", SZ, 1, { { 0, 0 } } },
	{ __LINE__, "bytes=-1", SZ, 1, { { 9999, 9999 } } },
	{ __LINE__, "bytes=9999-", SZ, 1, { { 9999, 9999 } } },
	{ __LINE__, "bytes=9999-9999", SZ, 1, { { 9999, 9999 } } },
	{ __LINE__, "bytes=00005-00010", SZ, 1, { { 5, 10 } } },
	{ __LINE__, "bytes=0-0", 1, 1, { { 0, 0 } } },
	{ __LINE__, "bytes=-1", 1, 1, { { 0, 0 } } },

	/* Clamping and huge numbers: never overflow. */
	{ __LINE__, "bytes=9000-20000", SZ, 1, { { 9000, 9999 } } },
	{ __LINE__, "bytes=0-10000", SZ, 1, { { 0, 9999 } } },
	{ __LINE__, "bytes=0-18446744073709551615", SZ, 1, { { 0, 9999 } } },
	{ __LINE__, "bytes=0-18446744073709551616", SZ, 1, { { 0, 9999 } } },
	{ __LINE__, "bytes=0-99999999999999999999999", SZ, 1, { { 0, 9999 } } },
	{ __LINE__, "bytes=5-000000000000000000000000000007", SZ, 1, { { 5, 7 } } },
	{ __LINE__, "bytes=-10000", SZ, 1, { { 0, 9999 } } },
	{ __LINE__, "bytes=-10001", SZ, 1, { { 0, 9999 } } },
	{ __LINE__, "bytes=-18446744073709551615", SZ, 1, { { 0, 9999 } } },
	{ __LINE__, "bytes=-99999999999999999999", SZ, 1, { { 0, 9999 } } },

	/* Unsatisfiable: valid syntax, nothing to send. */
	{ __LINE__, "bytes=10000-", SZ, UNSAT, { { 0, 0 } } },
	{ __LINE__, "bytes=10000-10005", SZ, UNSAT, { { 0, 0 } } },
	{ __LINE__, "bytes=18446744073709551615-", SZ, UNSAT, { { 0, 0 } } },
	{ __LINE__, "bytes=18446744073709551616-", SZ, UNSAT, { { 0, 0 } } },
	{ __LINE__, "bytes=18446744073709551616-18446744073709551617", SZ, UNSAT, { { 0, 0 } } },
	{ __LINE__, "bytes=99999999999999999999999-", SZ, UNSAT, { { 0, 0 } } },
	{ __LINE__, "bytes=-0", SZ, UNSAT, { { 0, 0 } } },
	{ __LINE__, "bytes=-000", SZ, UNSAT, { { 0, 0 } } },
	{ __LINE__, "bytes=10000-,20000-30000,-0", SZ, UNSAT, { { 0, 0 } } },

	/* An empty representation: every valid range is unsatisfiable. */
	{ __LINE__, "bytes=0-", 0, UNSAT, { { 0, 0 } } },
	{ __LINE__, "bytes=0-0", 0, UNSAT, { { 0, 0 } } },
	{ __LINE__, "bytes=-5", 0, UNSAT, { { 0, 0 } } },
	{ __LINE__, "bytes=-0", 0, UNSAT, { { 0, 0 } } },
	{ __LINE__, "bytes=0-0,-1,5-", 0, UNSAT, { { 0, 0 } } },
	{ __LINE__, "bytes=0-x", 0, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=1-0", 0, 0, { { 0, 0 } } },

	/* The largest possible size: last byte is U64MAX - 1. */
	{ __LINE__, "bytes=0-", U64MAX, 1, { { 0, U64MAX - 1 } } },
	{ __LINE__, "bytes=0-99999999999999999999999", U64MAX, 1, { { 0, U64MAX - 1 } } },
	{ __LINE__, "bytes=18446744073709551614-", U64MAX, 1, { { U64MAX - 1, U64MAX - 1 } } },
	{ __LINE__, "bytes=18446744073709551615-", U64MAX, UNSAT, { { 0, 0 } } },
	{ __LINE__, "bytes=-1", U64MAX, 1, { { U64MAX - 1, U64MAX - 1 } } },
	{ __LINE__, "bytes=-18446744073709551615", U64MAX, 1, { { 0, U64MAX - 1 } } },
	{ __LINE__, "bytes=-18446744073709551616", U64MAX, 1, { { 0, U64MAX - 1 } } },
	{ __LINE__, "bytes=0-18446744073709551613,18446744073709551614-", U64MAX, 1,
	  { { 0, U64MAX - 1 } } },

	/* Several ranges: in request order, overlapping and adjacent ones
	 * merged where their earliest member stood. */
	{ __LINE__, "bytes=0-99,200-299", SZ, 2, { { 0, 99 }, { 200, 299 } } },
	{ __LINE__, "bytes=900-999,0-99", SZ, 2, { { 900, 999 }, { 0, 99 } } },
	{ __LINE__, "bytes=-1,0-0", SZ, 2, { { 9999, 9999 }, { 0, 0 } } },
	{ __LINE__, "bytes=500-600,601-999", SZ, 1, { { 500, 999 } } },
	{ __LINE__, "bytes=601-999,500-600", SZ, 1, { { 500, 999 } } },
	{ __LINE__, "bytes=500-600,602-999", SZ, 2, { { 500, 600 }, { 602, 999 } } },
	{ __LINE__, "bytes=500-700,601-999", SZ, 1, { { 500, 999 } } },
	{ __LINE__, "bytes=0-99,50-60,10-20", SZ, 1, { { 0, 99 } } },
	{ __LINE__, "bytes=200-299,0-99,100-199", SZ, 1, { { 0, 299 } } },
	{ __LINE__, "bytes=0-0,0-0,0-0", SZ, 1, { { 0, 0 } } },
	{ __LINE__, "bytes=9000-,-500", SZ, 1, { { 9000, 9999 } } },
	{ __LINE__, "bytes=0-,5-10", SZ, 1, { { 0, 9999 } } },
	{ __LINE__, "bytes=30-39,10-19,50-59,20-29", SZ, 2, { { 10, 39 }, { 50, 59 } } },
	{ __LINE__, "bytes=8-9,0-1,4-5", SZ, 3, { { 8, 9 }, { 0, 1 }, { 4, 5 } } },
	/* A late range that bridges two earlier ones joins them at the first. */
	{ __LINE__, "bytes=20-29,0-9,10-19", SZ, 1, { { 0, 29 } } },
	{ __LINE__, "bytes=50-59,0-9,30-39,10-12", SZ, 3, { { 50, 59 }, { 0, 12 }, { 30, 39 } } },
	{ __LINE__, "bytes=50-59,0-9,30-39,8-31", SZ, 2, { { 50, 59 }, { 0, 39 } } },
	{ __LINE__, "bytes=0-1,10000-20000", SZ, 1, { { 0, 1 } } },
	{ __LINE__, "bytes=99999999999999999999-,5-5", SZ, 1, { { 5, 5 } } },
	{ __LINE__, "bytes=9990-20000,-5", SZ, 1, { { 9990, 9999 } } },

	/* List syntax: OWS around commas, empty elements (§5.6.1.2). */
	{ __LINE__, "bytes=0-1,,4-5", SZ, 2, { { 0, 1 }, { 4, 5 } } },
	{ __LINE__, "bytes=0-1,,2-3", SZ, 1, { { 0, 3 } } },
	{ __LINE__, "bytes=,0-1", SZ, 1, { { 0, 1 } } },
	{ __LINE__, "bytes=0-1,", SZ, 1, { { 0, 1 } } },
	{ __LINE__, "bytes=, ,0-1, ,", SZ, 1, { { 0, 1 } } },
	{ __LINE__, "bytes=0-1 , 4-5", SZ, 2, { { 0, 1 }, { 4, 5 } } },
	{ __LINE__, "bytes=0-1\t,\t4-5", SZ, 2, { { 0, 1 }, { 4, 5 } } },
	{ __LINE__, "bytes= 0-1", SZ, 1, { { 0, 1 } } },
	{ __LINE__, "bytes=0-1 ", SZ, 1, { { 0, 1 } } },
	{ __LINE__, " bytes=0-1", SZ, 1, { { 0, 1 } } },

	/* The unit is case-insensitive. */
	{ __LINE__, "BYTES=0-1", SZ, 1, { { 0, 1 } } },
	{ __LINE__, "Bytes=0-1", SZ, 1, { { 0, 1 } } },
	{ __LINE__, "bYtEs=-1", SZ, 1, { { 9999, 9999 } } },

	/* Malformed anywhere: the header is ignored (0). */
	{ __LINE__, "", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes= ", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=,", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=, ,,", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=-", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=--1", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=0--1", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=1-0", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=10-9", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=20000-10000", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=99999999999999999999999-18446744073709551615", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=18446744073709551616-18446744073709551615", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=0-1,5-4", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes 0-1", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes =0-1", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes:0-1", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "byte=0-1", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytesx=0-1", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "items=0-1", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "=0-1", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "0-1", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=a-1", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=0-1a", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=0x10-20", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=+1-2", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=-+1", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=1.5-2", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=0 -1", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=0- 1", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=1 0-20", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=- 1", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=1-2-3", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=-1-2", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=0-1 2-3", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=0-1;2-3", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=0-1,x", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=0-1,*", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=0-1\r\n", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes==0-1", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=10000-,x", SZ, 0, { { 0, 0 } } },
	{ __LINE__, "bytes=\xd9\xa0-1", SZ, 0, { { 0, 0 } } }, /* Arabic-Indic zero */
};

/* Runs one case and checks both the return and every range. out has more
 * room than max, and the spare slots must stay untouched. */
static void check(int line, const char *s, size_t n, uint64_t size, int max, int want,
		  const struct byte_range *wr)
{
	struct byte_range out[RANGE_MAX + 4];
	int got;

	for (size_t k = 0; k < sizeof(out) / sizeof(out[0]); k++)
		out[k].first = out[k].last = 0xdeadbeef;
	got = range_parse(test_guarded(s, n), n, size, out, max);
	ASSERT_EQ(line, got, want);
	for (int k = 0; k < got && k < want; k++) {
		ASSERT_EQ(line, out[k].first, wr[k].first);
		ASSERT_EQ(line, out[k].last, wr[k].last);
	}
	for (int k = max > 0 ? max : 0; k < (int)(sizeof(out) / sizeof(out[0])); k++)
		ASSERT_TRUE(line, out[k].first == 0xdeadbeef && out[k].last == 0xdeadbeef);
}

/* Builds "bytes=" and count specs "a-a" with a = k * stride. */
static size_t make_specs(char *buf, size_t cap, int count, int stride)
{
	size_t len = (size_t)snprintf(buf, cap, "bytes=");

	for (int k = 0; k < count; k++)
		len += (size_t)snprintf(buf + len, cap - len, "%s%d-%d", k ? "," : "",
					k * stride, k * stride);
	return len;
}

static void test_counts(void)
{
	static char buf[16384];
	struct byte_range want[RANGE_MAX];
	size_t len;

	/* Exactly RANGE_MAX disjoint specs: all kept, in order. */
	for (int k = 0; k < RANGE_MAX; k++)
		want[k].first = want[k].last = (uint64_t)k * 2;
	len = make_specs(buf, sizeof(buf), RANGE_MAX, 2);
	check(__LINE__, buf, len, SZ, RANGE_MAX, RANGE_MAX, want);

	/* One more: the header is ignored. */
	len = make_specs(buf, sizeof(buf), RANGE_MAX + 1, 2);
	check(__LINE__, buf, len, SZ, RANGE_MAX, 0, want);

	/* 16 adjacent specs coalesce into one. */
	want[0].first = 0;
	want[0].last = RANGE_MAX - 1;
	len = make_specs(buf, sizeof(buf), RANGE_MAX, 1);
	check(__LINE__, buf, len, SZ, RANGE_MAX, 1, want);

	/* 17 that would coalesce into one still count as 17. */
	len = make_specs(buf, sizeof(buf), RANGE_MAX + 1, 1);
	check(__LINE__, buf, len, SZ, RANGE_MAX, 0, want);

	/* 17 unsatisfiable specs: too many beats unsatisfiable. */
	len = make_specs(buf, sizeof(buf), RANGE_MAX + 1, 1);
	check(__LINE__, buf, len, 0, RANGE_MAX, 0, want);

	/* 1000 specs. */
	len = make_specs(buf, sizeof(buf), 1000, 3);
	check(__LINE__, buf, len, SZ, RANGE_MAX, 0, want);

	/* Empty elements do not count as specs. */
	len = (size_t)snprintf(buf, sizeof(buf), "bytes=,,,,,,,,,,,,,,,,,,,,,,,0-0");
	want[0].first = want[0].last = 0;
	check(__LINE__, buf, len, SZ, 1, 1, want);

	/* A smaller max from the caller. */
	check(__LINE__, "bytes=0-0,5-5", 13, SZ, 1, 0, want);
	check(__LINE__, "bytes=0-0", 9, SZ, 0, 0, want);
	want[0].last = 1;
	check(__LINE__, "bytes=0-0,1-1", 13, SZ, 2, 1, want);

	/* Stop-early must not hide a later syntax error's verdict: both are
	 * 0, but check a 17th spec that is malformed anyway. */
	len = make_specs(buf, sizeof(buf), RANGE_MAX, 2);
	len += (size_t)snprintf(buf + len, sizeof(buf) - len, ",zz");
	check(__LINE__, buf, len, SZ, RANGE_MAX, 0, want);
}

int main(void)
{
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct range_case *c = &cases[k];

		check(c->line, c->v, strlen(c->v), c->size, RANGE_MAX, c->want, c->r);
	}
	test_counts();
	printf("range_parse: %zu table cases\n", sizeof(cases) / sizeof(cases[0]));
	return test_summary();
}
