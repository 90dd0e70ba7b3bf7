/* Unit tests for the streaming JSON validator (src/json_check.c).
 *
 * Every case is fed whole, split into two feeds at every byte position, and
 * one byte at a time; all must give the same result, err_offset and err.
 * Each feed is copied to the end of a page followed by a PROT_NONE page, so
 * any read past the slice crashes. */
#include "json_check.h"
#include "test.h"

#include <stdlib.h>

#define DONE JC_DONE
#define ERR JC_ERROR

/* Error texts, spelled once so a typo fails loudly rather than silently. */
#define E_NUM "invalid number"
#define E_CHAR "unexpected character"
#define E_UTF8 "invalid UTF-8"
#define E_SURR "unpaired surrogate"
#define E_DEEP "nesting too deep"
#define E_TRAIL "trailing data after JSON text"
#define E_EOF "unexpected end of input"
#define E_EMPTY "empty input"
#define E_CTRL "control character in string"
#define E_ESC "invalid escape"
#define E_BOM "byte order mark not allowed"
#define E_LIT "invalid literal"
#define E_COMMA "trailing comma"
#define E_KEY "object key must be a string"
#define E_COLON "expected ':' after object key"
#define E_AEND "expected ',' or ']'"
#define E_OEND "expected ',' or '}'"

struct jc_case {
	int line;
	const char *in;
	size_t len;
	int want;          /* JC_DONE or JC_ERROR */
	uint64_t off;      /* err_offset when JC_ERROR */
	const char *err;   /* err when JC_ERROR */
};

/* sizeof, not strlen: some inputs hold NUL bytes. */
#define OK(s) { __LINE__, s, sizeof(s) - 1, DONE, 0, NULL }
#define BAD(s, o, e) { __LINE__, s, sizeof(s) - 1, ERR, o, e }

static const struct jc_case cases[] = {
	/* Numbers: every part of -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)? */
	OK("0"),
	OK("-0"),
	OK("1"),
	OK("-1"),
	OK("9"),
	OK("1234567890"),
	OK("123456789012345678901234567890123456789012345678901234567890"),
	OK("0.0"),
	OK("-0.0"),
	OK("0.000000000000000000000000000001"),
	OK("3.14159"),
	OK("0e0"),
	OK("0E0"),
	OK("-0e-0"),
	OK("1E+2"),
	OK("1e-2"),
	OK("1e01"),
	OK("1E00"),
	OK("1.5e10"),
	OK("-1.25E-300"),
	OK("1e999999999999999999999999999999"),
	OK("-1e-999999999999999999999999999999"),
	OK("[-0,0e-0,1E00,-0.5,10,-10]"),
	OK(" 42 "),
	BAD("01", 1, E_NUM),
	BAD("00", 1, E_NUM),
	BAD("-01", 2, E_NUM),
	BAD("-", 1, E_EOF),
	BAD("-a", 1, E_NUM),
	BAD("--1", 1, E_NUM),
	BAD("- 1", 1, E_NUM),
	BAD("+1", 0, E_NUM),
	BAD(".5", 0, E_NUM),
	BAD("-.5", 1, E_NUM),
	BAD("5.", 2, E_EOF),
	BAD("5.a", 2, E_NUM),
	BAD("1.e5", 2, E_NUM),
	BAD("1e", 2, E_EOF),
	BAD("1E", 2, E_EOF),
	BAD("1e+", 3, E_EOF),
	BAD("1E-", 3, E_EOF),
	BAD("1e+a", 3, E_NUM),
	BAD("1e+-1", 3, E_NUM),
	BAD("1ee5", 2, E_NUM),
	BAD("1e5.0", 3, E_NUM),
	BAD("1e5e5", 3, E_NUM),
	BAD("1.2.3", 3, E_NUM),
	BAD("1-2", 1, E_NUM),
	BAD("1+2", 1, E_NUM),
	BAD("0x10", 1, E_TRAIL),
	BAD("1 2", 2, E_TRAIL),
	BAD("NaN", 0, E_CHAR),
	BAD("Infinity", 0, E_CHAR),
	BAD("-Infinity", 1, E_NUM),
	BAD("[01]", 2, E_NUM),
	BAD("[1.]", 3, E_NUM),
	BAD("[-]", 2, E_NUM),
	BAD("[1e]", 3, E_NUM),
	BAD("[0x10]", 2, E_AEND),
	BAD("[1 2]", 3, E_AEND),
	BAD("[1", 2, E_EOF),
	BAD("[1.5e3", 6, E_EOF),
	BAD("1\0", 1, E_TRAIL),

	/* Literals: exactly true, false, null. */
	OK("true"),
	OK("false"),
	OK("null"),
	OK("[true,false,null]"),
	BAD("t", 1, E_EOF),
	BAD("tru", 3, E_EOF),
	BAD("fals", 4, E_EOF),
	BAD("nul", 3, E_EOF),
	BAD("trux", 3, E_LIT),
	BAD("falsE", 4, E_LIT),
	BAD("nil", 1, E_LIT),
	BAD("True", 0, E_CHAR),
	BAD("NULL", 0, E_CHAR),
	BAD("truee", 4, E_TRAIL),
	BAD("nulll", 4, E_TRAIL),
	BAD("undefined", 0, E_CHAR),
	BAD("[true false]", 6, E_AEND),
	BAD("[truefalse]", 5, E_AEND),
	BAD("{\"a\":tru}", 8, E_LIT),

	/* Strings and escapes. */
	OK("\"\""),
	OK("\"abc\""),
	OK("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""),
	OK("\"a\\\"b\""),
	OK("\"\\u0000\""),
	OK("\"\\u00e9\\u00E9\\u20AC\""),
	OK("\"\\uFFFF\\uffff\\uFFFE\""),
	OK("\"\\uD7FF\\uE000\""),
	OK("\"\x7f\""),
	OK("\"/* not a comment */\""),
	OK("\"a very long string that spans several eight-byte words, for the fast path\""),
	BAD("\"abc", 4, E_EOF),
	BAD("\"", 1, E_EOF),
	BAD("\"\\", 2, E_EOF),
	BAD("\"\\\"", 3, E_EOF),
	BAD("\"a\x01z\"", 2, E_CTRL),
	BAD("\"\0\"", 1, E_CTRL),
	BAD("\"\t\"", 1, E_CTRL),
	BAD("\"\n\"", 1, E_CTRL),
	BAD("\"\r\"", 1, E_CTRL),
	BAD("\"\x1f\"", 1, E_CTRL),
	BAD("\"0123456789abcdef\x1f\"", 17, E_CTRL),
	BAD("'abc'", 0, E_CHAR),
	BAD("\"\\a\"", 2, E_ESC),
	BAD("\"\\x41\"", 2, E_ESC),
	BAD("\"\\'\"", 2, E_ESC),
	BAD("\"\\U0041\"", 2, E_ESC),
	BAD("\"\\0\"", 2, E_ESC),
	BAD("\"\\ \"", 2, E_ESC),
	BAD("\"\\u\"", 3, E_ESC),
	BAD("\"\\u12\"", 5, E_ESC),
	BAD("\"\\u123\"", 6, E_ESC),
	BAD("\"\\u12G4\"", 5, E_ESC),
	BAD("\"\\uD\"", 4, E_ESC),
	BAD("\"\\u", 3, E_EOF),
	BAD("\"\\u00", 5, E_EOF),

	/* \u surrogates: a high one must be followed at once by \u and a low
	 * one; the error is at the first byte that rules a pair out. */
	OK("\"\\uD800\\uDC00\""),
	OK("\"\\udbff\\udfff\""),
	OK("\"\\uD83D\\uDE00\""),
	OK("\"\\uDbFf\\uDcAb\""),
	OK("\"x\\uD83D\\uDE00y\\uD83D\\uDE00\""),
	BAD("\"\\uDC00\"", 4, E_SURR),
	BAD("\"\\uDFFF\"", 4, E_SURR),
	BAD("\"\\udcab\"", 4, E_SURR),
	BAD("\"\\uD800\"", 7, E_SURR),
	BAD("\"\\uDBFFx\"", 7, E_SURR),
	BAD("\"\\uD800\\n\"", 8, E_SURR),
	BAD("\"\\uD800\\u0041\"", 9, E_SURR),
	BAD("\"\\uD800\\uE000\"", 9, E_SURR),
	BAD("\"\\uD800\\uD800\"", 10, E_SURR),
	BAD("\"\\uD800\\uDBFF\"", 10, E_SURR),
	BAD("\"\\uDC00\\uD800\"", 4, E_SURR),
	BAD("\"\\uD800\\u\"", 9, E_ESC),
	BAD("\"\\uD800\\u'\"", 9, E_ESC),
	BAD("\"\\uD800\\uDx\"", 10, E_ESC),
	BAD("\"\\uD800\\uDCx\"", 11, E_ESC),
	BAD("\"\\uD800\\uDC0\"", 12, E_ESC),
	BAD("\"\\uD800", 7, E_EOF),
	BAD("\"\\uD800\\", 8, E_EOF),
	BAD("\"\\uD800\\uDC", 11, E_EOF),

	/* UTF-8 in strings: each boundary of RFC 3629's table, valid and not. */
	OK("\"\xc2\x80\""),             /* U+0080, smallest 2-byte */
	OK("\"\xdf\xbf\""),             /* U+07FF */
	OK("\"\xc2\x85\""),             /* U+0085, a C1 control: allowed */
	OK("\"\xe0\xa0\x80\""),         /* U+0800, smallest 3-byte */
	OK("\"\xe2\x82\xac\""),         /* U+20AC */
	OK("\"\xed\x9f\xbf\""),         /* U+D7FF, just below surrogates */
	OK("\"\xee\x80\x80\""),         /* U+E000, just above */
	OK("\"\xef\xbf\xbf\""),         /* U+FFFF */
	OK("\"\xef\xbb\xbf\""),         /* U+FEFF inside a string is data */
	OK("\"\xf0\x90\x80\x80\""),     /* U+10000, smallest 4-byte */
	OK("\"\xf3\xbf\xbf\xbf\""),
	OK("\"\xf4\x8f\xbf\xbf\""),     /* U+10FFFF, the last */
	OK("{\"caf\xc3\xa9\":\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80\"}"),
	BAD("\"\x80\"", 1, E_UTF8),     /* stray continuation bytes */
	BAD("\"\xbf\"", 1, E_UTF8),
	BAD("\"ab\x85\"", 3, E_UTF8),
	BAD("\"\xe2\x82\xac\x80\"", 4, E_UTF8),
	BAD("\"\xc0\x80\"", 1, E_UTF8), /* overlong 2-byte */
	BAD("\"\xc1\xbf\"", 1, E_UTF8),
	BAD("\"\xe0\x80\x80\"", 2, E_UTF8), /* overlong 3-byte */
	BAD("\"\xe0\x9f\xbf\"", 2, E_UTF8),
	BAD("\"\xf0\x80\x80\x80\"", 2, E_UTF8), /* overlong 4-byte */
	BAD("\"\xf0\x8f\xbf\xbf\"", 2, E_UTF8),
	BAD("\"\xed\xa0\x80\"", 2, E_UTF8), /* U+D800 encoded */
	BAD("\"\xed\xbf\xbf\"", 2, E_UTF8), /* U+DFFF encoded */
	BAD("\"\xed\xa0\xbd\xed\xb8\x80\"", 2, E_UTF8), /* CESU-8 pair */
	BAD("\"\xf4\x90\x80\x80\"", 2, E_UTF8), /* U+110000 */
	BAD("\"\xf5\x80\x80\x80\"", 1, E_UTF8),
	BAD("\"\xf7\xbf\xbf\xbf\"", 1, E_UTF8),
	BAD("\"\xf8\x88\x80\x80\x80\"", 1, E_UTF8), /* 5-byte form */
	BAD("\"\xfc\x84\x80\x80\x80\x80\"", 1, E_UTF8), /* 6-byte form */
	BAD("\"\xfe\"", 1, E_UTF8),
	BAD("\"\xff\"", 1, E_UTF8),
	BAD("\"\xc2\"", 2, E_UTF8),     /* truncated by the end of the string */
	BAD("\"\xe2\x82\"", 3, E_UTF8),
	BAD("\"\xf0\x9f\x98\"", 4, E_UTF8),
	BAD("\"\xc2\x41\"", 2, E_UTF8),
	BAD("\"\xc2\xc2\x80\"", 2, E_UTF8),
	BAD("\"\xe2\\n\"", 2, E_UTF8),
	BAD("\"\xc2", 2, E_EOF),        /* truncated by the end of input */
	BAD("\"\xe2\x82", 3, E_EOF),
	BAD("\"\xf0\x9f\x98", 4, E_EOF),
	BAD("\"\xf4", 2, E_EOF),

	/* Outside strings any non-ASCII byte is wrong. */
	BAD("\xc3\xa9", 0, E_CHAR),
	BAD("[\xc2\xa0]", 1, E_CHAR),   /* NBSP is not whitespace */
	BAD("\xc2\xa0" "1", 0, E_CHAR),
	BAD("1\xc2\xa0", 1, E_TRAIL),
	BAD("[1,\x80]", 3, E_CHAR),
	BAD(" \xe3\x80\x80" "1", 1, E_CHAR), /* U+3000 ideographic space */
	BAD("\xfe\xff", 0, E_CHAR),     /* UTF-16 BOM */
	BAD("\xff\xfe", 0, E_CHAR),

	/* The UTF-8 BOM: an error, at 0, whatever follows. */
	BAD("\xef\xbb\xbf{}", 0, E_BOM),
	BAD("\xef\xbb\xbf", 0, E_BOM),
	BAD("\xef\xbb\xbf" "1", 0, E_BOM),
	BAD("\xef\xbb", 0, E_CHAR),
	BAD("\xef", 0, E_CHAR),
	BAD("\xef\xbbx", 0, E_CHAR),
	BAD("\xef\xbc\x91", 0, E_CHAR), /* fullwidth digit one */
	BAD(" \xef\xbb\xbf{}", 1, E_CHAR),
	BAD("{}\xef\xbb\xbf", 2, E_TRAIL),

	/* Whitespace: SP, HTAB, LF, CR only. */
	OK(" \t\r\n1 \t\r\n"),
	OK("[ ]"),
	OK("{ }"),
	OK("[ 1 , 2 ]"),
	OK("\r\n{\r\n\t\"a\" :\t1 ,\n \"b\"\n:\n[ ]\r\n}\r\n"),
	BAD("\x0c" "1", 0, E_CHAR),     /* form feed */
	BAD("1\x0c", 1, E_TRAIL),
	BAD("\x0b" "1", 0, E_CHAR),     /* vertical tab */
	BAD("[1,\x0b" "2]", 3, E_CHAR),
	BAD("[1\x0c]", 2, E_AEND),
	BAD("{\"a\"\x0c:1}", 4, E_COLON),
	BAD("{\x0c\"a\":1}", 1, E_KEY),
	BAD("\0", 0, E_CHAR),
	BAD("\x1a", 0, E_CHAR),

	/* Empty input. */
	BAD("", 0, E_EMPTY),
	BAD(" ", 1, E_EMPTY),
	BAD(" \t\r\n", 4, E_EMPTY),

	/* Arrays and objects. */
	OK("[]"),
	OK("{}"),
	OK("[1,2,3]"),
	OK("[[],[[]],{}]"),
	OK("{\"a\":1}"),
	OK("{\"\":\"\"}"),
	OK("{\"a\":1,\"a\":2}"),
	OK("{\"a\":{\"a\":{\"a\":null}}}"),
	OK("{\"a\":1,\"b\":[true,false,null],\"c\":{},\"d\":\"\"}"),
	OK("[{\"a\":[{}]},{\"b\":[[{\"c\":[]}]]}]"),
	OK("[\"a\",{\"b\":\"c\"},\"d\"]"),
	BAD("[", 1, E_EOF),
	BAD("{", 1, E_EOF),
	BAD("]", 0, E_CHAR),
	BAD("}", 0, E_CHAR),
	BAD(":", 0, E_CHAR),
	BAD(",", 0, E_CHAR),
	BAD("[1,", 3, E_EOF),
	BAD("[[]", 3, E_EOF),
	BAD("{\"a\"", 4, E_EOF),
	BAD("{\"a", 3, E_EOF),
	BAD("{\"a\":", 5, E_EOF),
	BAD("{\"a\":1", 6, E_EOF),
	BAD("[1,]", 3, E_COMMA),
	BAD("[1,2,]", 5, E_COMMA),
	BAD("[,1]", 1, E_CHAR),
	BAD("[,]", 1, E_CHAR),
	BAD("[1,,2]", 3, E_CHAR),
	BAD("[1:2]", 2, E_AEND),
	BAD("[\"a\":1]", 4, E_AEND),
	BAD("{\"a\":1,}", 7, E_COMMA),
	BAD("{,}", 1, E_KEY),
	BAD("{\"a\"}", 4, E_COLON),
	BAD("{\"a\" 1}", 5, E_COLON),
	BAD("{\"a\",1}", 4, E_COLON),
	BAD("{\"a\"::1}", 5, E_CHAR),
	BAD("{\"a\":}", 5, E_CHAR),
	BAD("{\"a\":1 \"b\":2}", 7, E_OEND),
	BAD("{\"a\":1:2}", 6, E_OEND),
	BAD("{1:2}", 1, E_KEY),
	BAD("{a:1}", 1, E_KEY),
	BAD("{null:1}", 1, E_KEY),
	BAD("{'a':1}", 1, E_KEY),
	BAD("{[]:1}", 1, E_KEY),
	BAD("{\"a\":1,2}", 7, E_KEY),
	BAD("[1}", 2, E_AEND),
	BAD("{\"a\":1]", 6, E_OEND),
	BAD("[}", 1, E_CHAR),
	BAD("{]", 1, E_KEY),
	BAD("[{]}", 2, E_KEY),
	BAD("{\"a\":[}", 6, E_CHAR),
	BAD("{\"a\":[1}", 7, E_AEND),
	BAD("[{}}", 3, E_AEND),

	/* One text only. */
	BAD("[]]", 2, E_TRAIL),
	BAD("{}}", 2, E_TRAIL),
	BAD("[1]x", 3, E_TRAIL),
	BAD("{}{}", 2, E_TRAIL),
	BAD("[] []", 3, E_TRAIL),
	BAD("\"a\"\"b\"", 3, E_TRAIL),
	BAD("null null", 5, E_TRAIL),
	BAD("1,2", 1, E_TRAIL),
	BAD("/*c*/1", 0, E_CHAR),
	BAD("1//c", 1, E_TRAIL),
	BAD("{}\n\n#", 4, E_TRAIL),
};

struct outcome {
	int res;
	uint64_t off;
	const char *err;
};

/* Feeds in[0..n) in pieces ending at each cuts[i], then finishes. A feed
 * after an error must keep the first error; offset must count every byte. */
static int run(const uint8_t *in, size_t n, const size_t *cuts, size_t ncuts,
	       struct outcome *o)
{
	struct json_check jc;
	size_t at = 0, i;
	int r = JC_MORE, bad = 0;

	jc_init(&jc);
	for (i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : n;
		int fr = jc_feed(&jc, test_guarded(in + at, to - at), to - at);

		if (r == JC_ERROR && (fr != JC_ERROR || jc.err_offset != o->off))
			bad = 1;
		if (fr != JC_MORE && fr != JC_ERROR)
			bad = 1;
		if (r != JC_ERROR && fr == JC_ERROR) {
			o->off = jc.err_offset;
			o->err = jc.err;
		}
		if (r != JC_ERROR)
			r = fr;
		at = to;
	}
	if (jc.offset != n)
		bad = 1;
	if (r != JC_ERROR) {
		r = jc_finish(&jc);
		o->off = r == JC_ERROR ? jc.err_offset : 0;
		o->err = r == JC_ERROR ? jc.err : NULL;
	} else if (jc_finish(&jc) != JC_ERROR || jc.err_offset != o->off) {
		bad = 1;
	}
	o->res = r;
	return bad;
}

static int same(const struct outcome *a, const struct outcome *b)
{
	if (a->res != b->res || a->off != b->off)
		return 0;
	if (a->err == NULL || b->err == NULL)
		return a->err == b->err;
	return strcmp(a->err, b->err) == 0;
}

static void check(int line, const uint8_t *in, size_t n, int want,
		  uint64_t off, const char *err)
{
	struct outcome w = { want, want == JC_ERROR ? off : 0, err }, o;
	size_t k, *cuts;

	/* (a) whole */
	if (run(in, n, NULL, 0, &o))
		TEST_RECORD(0, line, "whole: inconsistent state after the result");
	TEST_RECORD(same(&o, &w), line, "whole: got %d at %" PRIu64 " (%s), want %d at %" PRIu64 " (%s)",
		    o.res, o.off, o.err ? o.err : "-", w.res, w.off, w.err ? w.err : "-");

	/* (b) two feeds, split at every position including 0 and n */
	for (k = 0; k <= n; k++) {
		int bad = run(in, n, &k, 1, &o);

		if (bad || !same(&o, &w)) {
			TEST_RECORD(0, line, "split at %zu: got %d at %" PRIu64 " (%s)%s",
				    k, o.res, o.off, o.err ? o.err : "-",
				    bad ? ", inconsistent state" : "");
			break;
		}
	}
	if (k > n)
		TEST_RECORD(1, line, "split");

	/* (c) one byte at a time */
	cuts = malloc((n ? n : 1) * sizeof(*cuts));
	for (k = 0; k < n; k++)
		cuts[k] = k + 1;
	if (run(in, n, cuts, n, &o) || !same(&o, &w))
		TEST_RECORD(0, line, "bytewise: got %d at %" PRIu64 " (%s)",
			    o.res, o.off, o.err ? o.err : "-");
	else
		TEST_RECORD(1, line, "bytewise");
	free(cuts);
}

static size_t ncases;

static void check_case(const struct jc_case *c)
{
	check(c->line, (const uint8_t *)c->in, c->len, c->want, c->off, c->err);
	ncases++;
}

/* Appends count copies of s to b at *n. */
static void rep(uint8_t *b, size_t *n, const char *s, int count)
{
	size_t l = strlen(s);

	while (count-- > 0) {
		memcpy(b + *n, s, l);
		*n += l;
	}
}

/* Nesting at and just past JC_MAX_DEPTH, for arrays, objects and both. */
static void test_depth(void)
{
	static uint8_t b[8 * (JC_MAX_DEPTH + 2)];
	size_t n;
	int i;

	n = 0;
	rep(b, &n, "[", JC_MAX_DEPTH);
	rep(b, &n, "]", JC_MAX_DEPTH);
	check(__LINE__, b, n, DONE, 0, NULL), ncases++;

	n = 0;
	rep(b, &n, "[", JC_MAX_DEPTH + 1);
	rep(b, &n, "]", JC_MAX_DEPTH + 1);
	check(__LINE__, b, n, ERR, JC_MAX_DEPTH, E_DEEP), ncases++;

	n = 0;
	rep(b, &n, "[", JC_MAX_DEPTH);
	check(__LINE__, b, n, ERR, JC_MAX_DEPTH, E_EOF), ncases++;

	/* Depth is what is open, not what was ever opened. */
	n = 0;
	rep(b, &n, "[", JC_MAX_DEPTH);
	rep(b, &n, "]", 1);
	rep(b, &n, ",[", 1);
	rep(b, &n, "]", JC_MAX_DEPTH);
	check(__LINE__, b, n, DONE, 0, NULL), ncases++;

	n = 0;
	rep(b, &n, "{\"a\":", JC_MAX_DEPTH);
	rep(b, &n, "1", 1);
	rep(b, &n, "}", JC_MAX_DEPTH);
	check(__LINE__, b, n, DONE, 0, NULL), ncases++;

	n = 0;
	rep(b, &n, "{\"a\":", JC_MAX_DEPTH + 1);
	rep(b, &n, "1", 1);
	rep(b, &n, "}", JC_MAX_DEPTH + 1);
	check(__LINE__, b, n, ERR, 5 * JC_MAX_DEPTH, E_DEEP), ncases++;

	n = 0;
	rep(b, &n, "{\"a\":", JC_MAX_DEPTH - 1);
	rep(b, &n, "{}", 1);
	rep(b, &n, "}", JC_MAX_DEPTH - 1);
	check(__LINE__, b, n, DONE, 0, NULL), ncases++;

	n = 0;
	rep(b, &n, "{\"a\":", JC_MAX_DEPTH - 1);
	rep(b, &n, "[{", 1);
	check(__LINE__, b, n, ERR, 5 * (JC_MAX_DEPTH - 1) + 1, E_DEEP), ncases++;

	/* Alternating kinds: each close must match its own opener, across
	 * every byte of the bit stack. */
	n = 0;
	for (i = 0; i < JC_MAX_DEPTH / 2; i++)
		rep(b, &n, "[{\"k\":", 1);
	rep(b, &n, "0", 1);
	for (i = 0; i < JC_MAX_DEPTH / 2; i++)
		rep(b, &n, "}]", 1);
	check(__LINE__, b, n, DONE, 0, NULL), ncases++;

	n = 0;
	for (i = 0; i < JC_MAX_DEPTH / 2; i++)
		rep(b, &n, "[{\"k\":", 1);
	rep(b, &n, "[]", 1);
	check(__LINE__, b, n, ERR, 6 * (JC_MAX_DEPTH / 2), E_DEEP), ncases++;

	n = 0;
	for (i = 0; i < JC_MAX_DEPTH / 2; i++)
		rep(b, &n, "[{\"k\":", 1);
	rep(b, &n, "0}]}}", 1);
	check(__LINE__, b, n, ERR, 6 * (JC_MAX_DEPTH / 2) + 4, E_AEND), ncases++;
}

/* After JC_ERROR nothing changes; after JC_DONE more bytes are an error. */
static void test_api(void)
{
	struct json_check jc;

	jc_init(&jc);
	ASSERT_EQ(__LINE__, jc_feed(&jc, "[1,", 3), JC_MORE);
	ASSERT_EQ(__LINE__, jc_feed(&jc, NULL, 0), JC_MORE);
	ASSERT_EQ(__LINE__, jc_feed(&jc, "x", 1), JC_ERROR);
	ASSERT_EQ(__LINE__, jc.err_offset, 3);
	ASSERT_EQ(__LINE__, jc_feed(&jc, "2]", 2), JC_ERROR);
	ASSERT_EQ(__LINE__, jc_finish(&jc), JC_ERROR);
	ASSERT_EQ(__LINE__, jc.err_offset, 3);
	ASSERT_EQ(__LINE__, jc.offset, 6);
	ASSERT_STR(__LINE__, jc.err, jc.err ? strlen(jc.err) : 0, E_CHAR);

	jc_init(&jc);
	ASSERT_EQ(__LINE__, jc_feed(&jc, "{}", 2), JC_MORE);
	ASSERT_EQ(__LINE__, jc_finish(&jc), JC_DONE);
	ASSERT_EQ(__LINE__, jc_finish(&jc), JC_DONE);
	ASSERT_EQ(__LINE__, jc_feed(&jc, " ", 1), JC_ERROR);
	ASSERT_EQ(__LINE__, jc.err_offset, 2);

	/* jc_init resets everything, even after an error. */
	jc_init(&jc);
	ASSERT_EQ(__LINE__, jc_feed(&jc, "\"\\uD834\\uDD1E\"", 14), JC_MORE);
	ASSERT_EQ(__LINE__, jc_finish(&jc), JC_DONE);
	ASSERT_EQ(__LINE__, jc.offset, 14);
}

/* 100 MiB of one valid array in 64 KiB slices that cut tokens anywhere:
 * the element's length does not divide the slice size. */
static void test_big_stream(void)
{
	static const char elem[] =
		"{\"id\":12345,\"name\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"
		" and a run of plain ASCII text long enough for the word loop\","
		"\"esc\":\"\\n\\t\\\"\\u00e9\\ud83d\\ude00\",\"v\":[0,-1.5e+10,3.25,"
		"true,false,null,1e-7],\"o\":{\"a\":[[],{}]}},\n";
	enum { SLICE = 64 * 1024, SLICES = 1600 };
	size_t el = sizeof(elem) - 1, i, n = 0, pos;
	uint8_t *stream = malloc(SLICE + 2 * el);
	struct json_check jc;
	int r;

	while (n + el <= SLICE + 2 * el) {
		memcpy(stream + n, elem, el);
		n += el;
	}
	jc_init(&jc);
	r = jc_feed(&jc, "[", 1);
	for (i = 0; i < SLICES && r == JC_MORE; i++) {
		pos = i * SLICE % el;
		r = jc_feed(&jc, stream + pos, SLICE);
	}
	ASSERT_EQ(__LINE__, r, JC_MORE);
	/* Finish the element the last slice stopped in, then close. */
	pos = (size_t)SLICES * SLICE % el;
	if (r == JC_MORE)
		r = jc_feed(&jc, elem + pos, el - pos);
	if (r == JC_MORE)
		r = jc_feed(&jc, "0]", 2);
	ASSERT_EQ(__LINE__, r, JC_MORE);
	ASSERT_EQ(__LINE__, jc_finish(&jc), JC_DONE);
	ASSERT_EQ(__LINE__, jc.offset, 1 + (uint64_t)SLICES * SLICE + (el - pos) + 2);
	free(stream);
}

int main(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(&cases[i]);
	test_depth();
	test_api();
	test_big_stream();
	printf("%zu cases\n", ncases);
	return test_summary();
}
