/* Minimal unit-test helpers: count checks, print both sides on failure.
 * Each test program ends with test_summary(), which prints
 * "N passed, N failed" and returns the exit status. */
#ifndef MTHTTPD_TEST_H
#define MTHTTPD_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int test_passed, test_failed;

#define TEST_RECORD(ok, line, ...)                                            \
	do {                                                                  \
		if (ok) {                                                     \
			test_passed++;                                        \
		} else {                                                      \
			test_failed++;                                        \
			fprintf(stderr, "%s:%d (case line %d): ", __FILE__,   \
				__LINE__, (int)(line));                       \
			fprintf(stderr, __VA_ARGS__);                         \
			fputc('\n', stderr);                                  \
		}                                                             \
	} while (0)

/* ASSERT_EQ(case_line, got, want) for integers: prints both on failure. */
#define ASSERT_EQ(line, got, want)                                            \
	do {                                                                  \
		long long g_ = (long long)(got), w_ = (long long)(want);      \
		TEST_RECORD(g_ == w_, line, "%s == %lld, want %lld", #got,    \
			    g_, w_);                                          \
	} while (0)

/* ASSERT_STR(case_line, got_ptr, got_len, want_cstr). A function, so an
 * array argument does not trip -Waddress. */
static inline void test_str(int line, const char *file, int at, const char *what, const void *gp, size_t gn,
			    const char *want)
{
	size_t wn = strlen(want);
	int ok = gp != NULL && gn == wn && memcmp(gp, want, wn) == 0;
	if (ok) {
		test_passed++;
		return;
	}
	test_failed++;
	fprintf(stderr, "%s:%d (case line %d): %s == \"%.*s\", want \"%s\"\n", file, at,
		line, what, gp ? (int)gn : 6, gp ? (const char *)gp : "(null)", want);
}

#define ASSERT_STR(line, gp, gn, want) \
	test_str((int)(line), __FILE__, __LINE__, #gp, (gp), (size_t)(gn), (want))

#define ASSERT_TRUE(line, cond) TEST_RECORD((cond), line, "%s is false", #cond)

static inline int test_summary(void)
{
	printf("%d passed, %d failed\n", test_passed, test_failed);
	return test_failed ? 1 : 0;
}

#endif
