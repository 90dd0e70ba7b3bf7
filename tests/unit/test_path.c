/* path_resolve: a table of request paths with the status, result and
 * dir_slash each must give. Every input is copied to just before a guard
 * page and every output buffer has exactly outsz bytes before another, so
 * a read or write one byte too far crashes the run. */
#include <stdbool.h>
#include <stdlib.h>

#include "path.h"
#include "test.h"

struct path_case {
	int line;
	const char *in;
	size_t n;
	size_t outsz;
	int status;
	const char *out; /* on 0 */
	bool dir;        /* on 0 */
};

/* sizeof, not strlen: a literal may hold a raw NUL. */
#define OK(in, out, dir) { __LINE__, in, sizeof(in) - 1, 4096, 0, out, dir }
#define ERR(in, st) { __LINE__, in, sizeof(in) - 1, 4096, st, "", false }
#define SZ(in, outsz, st, out, dir) { __LINE__, in, sizeof(in) - 1, outsz, st, out, dir }

static const struct path_case cases[] = {
	/* Plain paths and normalisation. */
	OK("/", "", true),
	OK("/index.html", "index.html", false),
	OK("/sub/", "sub", true),
	OK("/sub", "sub", false),
	OK("/sub/index.html", "sub/index.html", false),
	OK("/a/./b", "a/b", false),
	OK("/a//b", "a/b", false),
	OK("//", "", true),
	OK("///a///", "a", true),
	OK("/./", "", true),
	OK("/.", "", true),
	OK("/sub/.", "sub", true),
	OK("/sub/..", "", true),
	OK("/sub/x/..", "sub", true),
	OK("/sub/x/../", "sub", true),
	OK("/a/b/../c", "a/c", false),
	OK("/a/../b.html", "b.html", false),
	OK("/a/b/c/../../d/./e", "a/d/e", false),
	OK("/a./b", "a./b", false),
	OK("/a..", "a..", false),
	OK("/a.b.c", "a.b.c", false),
	OK("/.hidden/..", "", true),
	OK("/.git/../a", "a", false),
	OK("/a%20b.txt", "a b.txt", false),
	OK("/%41%42c", "ABc", false),
	OK("/%7e", "~", false),
	OK("/a%3fb", "a?b", false),
	OK("/a%2fb", "a/b", false),
	OK("/a%2Fb%2F", "a/b", true),
	OK("/%2F", "", true),
	OK("/%2F%2F", "", true),
	OK("/%2e", "", true),
	OK("/a/.%2e/b", "b", false),
	OK("/sub/%2e%2e/index.html", "index.html", false),
	OK("/sub/..%2findex.html", "index.html", false),
	/* A '%' left after decoding is only refused before the hex of one
	 * of the four characters that make a second-level traversal. */
	OK("/%25", "%", false),
	OK("/100%25.txt", "100%.txt", false),
	OK("/%2541", "%41", false),
	OK("/%25zz", "%zz", false),
	OK("/%25%25", "%%", false),
	OK("/%252", "%2", false),
	OK("/%25/2e", "%/2e", false),
	/* Valid UTF-8, encoded or raw. */
	OK("/caf%C3%A9.html", "caf\xc3\xa9.html", false),
	OK("/caf%c3%a9.html", "caf\xc3\xa9.html", false),
	OK("/caf%C3%a9", "caf\xc3\xa9", false),
	OK("/caf\xc3\xa9.html", "caf\xc3\xa9.html", false),
	OK("/%C2%80", "\xc2\x80", false),
	OK("/%DF%BF", "\xdf\xbf", false),
	OK("/%E0%A0%80", "\xe0\xa0\x80", false),
	OK("/%E2%82%AC", "\xe2\x82\xac", false),
	OK("/%ED%9F%BF", "\xed\x9f\xbf", false),
	OK("/%EE%80%80", "\xee\x80\x80", false),
	OK("/%EF%BF%BF", "\xef\xbf\xbf", false),
	OK("/%F0%90%80%80", "\xf0\x90\x80\x80", false),
	OK("/%F0%9F%98%80.png", "\xf0\x9f\x98\x80.png", false),
	OK("/%F4%8F%BF%BF", "\xf4\x8f\xbf\xbf", false),
	OK("/%E6%97%A5/%E6%9C%AC/", "\xe6\x97\xa5/\xe6\x9c\xac", true),

	/* Traversal matrix: every spelling of "go up" must be refused. */
	ERR("/..", 403),
	ERR("/../", 403),
	ERR("/../etc/passwd", 403),
	ERR("/../../../../etc/passwd", 403),
	ERR("/..%2f", 403),
	ERR("/..%2F", 403),
	ERR("/..%2fetc%2fpasswd", 403),
	ERR("/%2e%2e", 403),
	ERR("/%2e%2e/", 403),
	ERR("/%2e%2e%2f", 403),
	ERR("/%2E%2E%2F", 403),
	ERR("/%2E%2e/", 403),
	ERR("/%2e%2E", 403),
	ERR("/%2e%2e%2f%2e%2e%2fetc%2fpasswd", 403),
	ERR("/.%2e", 403),
	ERR("/.%2e/", 403),
	ERR("/%2e./", 403),
	ERR("/%2E%2E%5C", 403),
	ERR("/%2e%2e%5c", 403),
	ERR("/..%5c", 403),
	ERR("/..%5C", 403),
	ERR("/%5C", 403),
	ERR("/..\\", 403),
	ERR("/..\\..\\etc\\passwd", 403),
	ERR("/a\\b", 403),
	ERR("/a/..\\..\\b", 403),
	OK("/a/..", "", true),
	ERR("/a/../..", 403),
	ERR("/a/b/../../..", 403),
	ERR("/a/b/../../../etc/passwd", 403),
	ERR("/a/../../b", 403),
	ERR("/.hidden/../..", 403),
	ERR("/x/..%2f..%2fetc/passwd", 403),
	ERR("/x/%2e%2e/%2e%2e/etc/passwd", 403),
	ERR("/a/..%2F..%2F..%2Fb", 403),
	ERR("/sub/%2e%2e/%2e%2e", 403),
	ERR("/sub/..%2f..%2f", 403),
	ERR("/%252e%252e%252f", 403),
	ERR("/%252e%252e/", 403),
	ERR("/%252E%252E%252F", 403),
	ERR("/..%252f", 403),
	ERR("/..%255c", 403),
	ERR("/%252f", 403),
	ERR("/%255c", 403),
	ERR("/%255C", 403),
	ERR("/%2525", 403),
	ERR("/%25252e", 403),
	ERR("/%25%32%65", 403),
	ERR("/%25%32%45", 403),
	ERR("/%25%32%66", 403),
	ERR("/%25%35%63", 403),
	ERR("/%25%32%35", 403),
	ERR("/%252%65", 403),
	ERR("/%25%25%32%65", 403),
	ERR("/a/%252e%252e/b", 403),
	ERR("/%c0%ae%c0%ae/", 403),
	ERR("/%C0%AE%C0%AE/", 403),
	ERR("/%c0%ae", 403),
	ERR("/%c0%af", 403),
	ERR("/..%c0%af", 403),
	ERR("/..%c0%afetc%c0%afpasswd", 403),
	ERR("/%c1%9c", 403),
	ERR("/%c1%81", 403),
	ERR("/%c0", 403),
	ERR("/\xc0\xae\xc0\xae/", 403),
	ERR("/%e0%80%ae", 403),
	ERR("/%e0%80%af", 403),
	ERR("/%E0%80%AE%E0%80%AE/", 403),
	ERR("/%e0%9f%bf", 403),
	ERR("/%f0%80%80%ae", 403),
	ERR("/%f0%80%80%af", 403),
	ERR("/%f0%8f%bf%bf", 403),
	ERR("/..%00/", 400),
	ERR("/%u002e%u002e/", 400),
	ERR("/....//", 404),
	ERR("/....//....//etc/passwd", 404),
	ERR("/.../", 404),
	ERR("/..;/", 404),
	ERR("/..a", 404),

	/* Dot-files and dot-directories. */
	ERR("/.git/config", 404),
	ERR("/.git/", 404),
	ERR("/.git", 404),
	ERR("/.env", 404),
	ERR("/.htaccess", 404),
	ERR("/sub/.hidden/x", 404),
	ERR("/sub/.hidden", 404),
	ERR("/sub/.hidden/", 404),
	ERR("/%2egit/config", 404),
	ERR("/%2Eenv", 404),
	ERR("/.well-known/security.txt", 404),
	ERR("/a/.b/../.c", 404),

	/* Malformed escapes, NUL, control bytes. */
	ERR("/%00", 400),
	ERR("/a%00.html", 400),
	ERR("/index.html%00.txt", 400),
	ERR("/a\0b", 400),
	ERR("/%", 400),
	ERR("/a%", 400),
	ERR("/%2", 400),
	ERR("/a%2", 400),
	ERR("/%zz", 400),
	ERR("/%g0", 400),
	ERR("/%2g", 400),
	ERR("/%%32%65", 400),
	ERR("/% 2", 400),
	ERR("/%01", 400),
	ERR("/%1f", 400),
	ERR("/%1F", 400),
	ERR("/%7f", 400),
	ERR("/%0d%0a", 400),
	ERR("/a%09b", 400),
	ERR("/a\x01", 400),
	ERR("/a\x7f", 400),

	/* Invalid UTF-8 that is not overlong. */
	ERR("/%80", 400),
	ERR("/%bf", 400),
	ERR("/a%80b", 400),
	ERR("/\x80", 400),
	ERR("/%c3", 400),
	ERR("/%c3/", 400),
	ERR("/%c3%28", 400),
	ERR("/%c3%c3%a9", 400),
	ERR("/%e2%82", 400),
	ERR("/%e2%82/", 400),
	ERR("/%e0%c0%80", 400),
	ERR("/%e0%7f%80", 400),
	ERR("/%f0%9f%98", 400),
	ERR("/%ed%a0%80", 400),
	ERR("/%ed%bf%bf", 400),
	ERR("/%f4%90%80%80", 400),
	ERR("/%f5%80%80%80", 400),
	ERR("/%f8%80%80%80%80", 400),
	ERR("/%fe", 400),
	ERR("/%ff", 400),
	ERR("/%c2%80%80", 400),

	/* The first refusal in the input wins; 404 and 414 come last. */
	ERR("/../%zz", 403),
	ERR("/%zz/../..", 400),
	ERR("/\\%00", 403),
	ERR("/%00\\", 400),
	ERR("/.git/%00", 400),
	ERR("/.git/..%5c", 403),
	ERR("/.git/../..", 403),

	/* Not the caller's contract, answered safely anyway. */
	{ __LINE__, "", 0, 4096, 400, "", false },
	ERR("a", 400),
	ERR("index.html", 400),
	ERR("%2f", 400),

	/* The result must fit in out, NUL included; only the final result
	 * counts, not what ".." later removes. */
	SZ("/", 1, 0, "", true),
	SZ("/a", 1, 414, "", false),
	SZ("/abc", 4, 0, "abc", false),
	SZ("/abc", 3, 414, "", false),
	SZ("/abc/def", 8, 0, "abc/def", false),
	SZ("/abc/def", 7, 414, "", false),
	SZ("/abc/def/", 8, 0, "abc/def", true),
	SZ("/abc/de", 7, 0, "abc/de", false),
	SZ("/abc/", 4, 0, "abc", true),
	SZ("/aaaaaaaa/../b", 2, 0, "b", false),
	SZ("/aaaa/bbbb/cccc/../../../d", 3, 0, "d", false),
	SZ("/aaaa/bbbb/cccc/../../..", 1, 0, "", true),
	SZ("/aaaa/bbbb/../c", 7, 0, "aaaa/c", false),
	SZ("/aaaa/bbbb/../c", 6, 414, "", false),
	SZ("/aa/bbbb/.././cc", 6, 0, "aa/cc", false),
	SZ("/aaaa/bbbb/../../../x", 3, 403, "", false),
	SZ("/a/.bbbbbb/..", 3, 0, "a", true),
	SZ("/.a/bbbbbbbbb/..", 4, 404, "", false),
	SZ("/.aaaaaaaa", 4, 414, "", false),
	SZ("/aaaa/%zz", 3, 400, "", false),
	SZ("/%c3%a9%c3%a9", 5, 0, "\xc3\xa9\xc3\xa9", false),
	SZ("/%c3%a9%c3%a9", 4, 414, "", false),
};

/* Runs one case; the input and the output live in buffers of exactly
 * their size. */
static void run(int line, const char *in, size_t n, size_t outsz, int want,
		const char *want_out, bool want_dir)
{
	const char *inb = test_guard_at(0, in, n);
	char *out = test_guard_buf(1, outsz);
	bool dir = !want_dir;

	if (outsz)
		memset(out, 'X', outsz);
	int st = path_resolve(inb, n, out, outsz, &dir);

	ASSERT_EQ(line, st, want);
	if (want == 0) {
		ASSERT_STR(line, out, strnlen(out, outsz), want_out);
		ASSERT_EQ(line, dir, want_dir);
	} else {
		/* Nothing half-resolved is left for a careless caller. */
		if (outsz)
			ASSERT_EQ(line, out[0], '\0');
		ASSERT_EQ(line, dir, false);
	}
}

/* Paths too long to write out: built here. */
static void long_paths(void)
{
	enum { BIG = 40000 };
	static char in[BIG], want[BIG];
	size_t n;

	/* One segment as long as out allows, then one byte more. */
	in[0] = '/';
	memset(in + 1, 'a', 4095);
	memset(want, 'a', 4095);
	want[4095] = '\0';
	run(__LINE__, in, 4096, 4096, 0, want, false);
	in[4096] = 'a';
	run(__LINE__, in, 4097, 4096, 414, "", false);
	memset(in + 1, 'a', 5000);
	run(__LINE__, in, 5001, 4096, 414, "", false);

	/* Far too long, then taken back to the root. */
	memcpy(in + 5001, "/..", 3);
	run(__LINE__, in, 5004, 4096, 0, "", true);
	memcpy(in + 5004, "/b", 2);
	run(__LINE__, in, 5006, 4096, 0, "b", false);

	/* 2000 segments: "a/a/.../a" is 3999 bytes. */
	for (n = 0; n < 2000; n++)
		memcpy(in + 2 * n, "/a", 2);
	for (n = 0; n < 2000; n++)
		memcpy(want + 2 * n, "a/", 2);
	want[3999] = '\0';
	run(__LINE__, in, 4000, 4096, 0, want, false);
	run(__LINE__, in, 4000, 3999, 414, "", false);
	run(__LINE__, in, 4000, 4000, 0, want, false);

	/* 5000 segments down and 5000 up, then one more up. */
	for (n = 0; n < 5000; n++)
		memcpy(in + 2 * n, "/a", 2);
	for (n = 0; n < 5000; n++)
		memcpy(in + 10000 + 3 * n, "/..", 3);
	run(__LINE__, in, 25000, 4096, 0, "", true);
	memcpy(in + 25000, "/..", 3);
	run(__LINE__, in, 25003, 4096, 403, "", false);
}

int main(void)
{
	size_t ncases = sizeof(cases) / sizeof(cases[0]);

	for (size_t i = 0; i < ncases; i++) {
		const struct path_case *c = &cases[i];

		run(c->line, c->in, c->n, c->outsz, c->status, c->out, c->dir);
	}
	long_paths();

	/* outsz 0: not even the NUL fits. */
	{
		bool dir = true;
		char dummy = 'X';

		ASSERT_EQ(__LINE__, path_resolve("/", 1, &dummy, 0, &dir), 414);
		ASSERT_EQ(__LINE__, dummy, 'X');
		ASSERT_EQ(__LINE__, dir, false);
	}
	printf("%zu table cases\n", ncases);
	return test_summary();
}
