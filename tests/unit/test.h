/* Minimal unit-test helpers: count checks, print both sides on failure,
 * and place inputs before a guard page. Each test program ends with
 * test_summary(), which prints "N passed, N failed" and returns the exit
 * status. */
#ifndef MTHTTPD_TEST_H
#define MTHTTPD_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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

/* ---- Guard pages (the picohttpparser test's idea) ----
 * Every input a pure function reads is first copied so that it ends exactly
 * where a PROT_NONE page begins: a read one byte past its end crashes the
 * test, with or without a sanitizer. Each slot has its own guard page, so
 * several inputs can be live at once (a list and the tag it is matched
 * against, an input and an output buffer). */
#define TEST_GUARD_ROOM (64 * 1024) /* largest area a slot holds */
#define TEST_GUARD_SLOTS 4

/* A writable area of n bytes in slot (0..TEST_GUARD_SLOTS-1) ending right
 * before its guard page. The slot is reused: the next call for it
 * overwrites the area. Exits 2 when the pages cannot be set up or n is too
 * large, as a broken test must not pass. */
static inline void *test_guard_buf(int slot, size_t n)
{
	static char *base;
	static size_t room, stride;

	if (base == NULL) {
		size_t page = (size_t)sysconf(_SC_PAGESIZE);
		void *m;

		room = (TEST_GUARD_ROOM + page - 1) / page * page;
		stride = room + page;
		m = mmap(NULL, TEST_GUARD_SLOTS * stride, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED) {
			perror("guard pages");
			exit(2);
		}
		base = m;
		for (int k = 0; k < TEST_GUARD_SLOTS; k++) {
			if (mprotect(base + (size_t)k * stride + room, page, PROT_NONE) != 0) {
				perror("guard pages");
				exit(2);
			}
		}
	}
	if (slot < 0 || slot >= TEST_GUARD_SLOTS || n > TEST_GUARD_ROOM) {
		fprintf(stderr, "guard slot %d cannot hold %zu bytes\n", slot, n);
		exit(2);
	}
	return base + (size_t)slot * stride + room - n;
}

/* Copies s[0..n) into slot so that it ends right before the guard page and
 * returns the copy; NULL stays NULL (an absent value). s may itself be a
 * guarded copy. */
static inline const void *test_guard_at(int slot, const void *s, size_t n)
{
	void *dst;

	if (s == NULL)
		return NULL;
	dst = test_guard_buf(slot, n);
	memmove(dst, s, n);
	return dst;
}

/* test_guard_at() in slot 0: the common case of one input at a time. */
static inline const void *test_guarded(const void *s, size_t n)
{
	return test_guard_at(0, s, n);
}

static inline int test_summary(void)
{
	printf("%d passed, %d failed\n", test_passed, test_failed);
	return test_failed ? 1 : 0;
}

#endif
