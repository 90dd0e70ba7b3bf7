/* The ASCII class helpers of src/chars.h: a table of telling bytes, then
 * every byte 0..255 against definitions spelled out from the RFCs. */
#include "chars.h"
#include "test.h"

struct chars_case {
	int line;
	unsigned char c;
	bool ows, digit, tchar;
	int hex;             /* ch_hex_value */
	unsigned char lower; /* ch_lower */
};

#define C(c, ows, digit, tchar, hex, lower) { __LINE__, c, ows, digit, tchar, hex, lower }

static const struct chars_case cases[] = {
	C(' ', true, false, false, -1, ' '),
	C('\t', true, false, false, -1, '\t'),
	C('\n', false, false, false, -1, '\n'),
	C('\r', false, false, false, -1, '\r'),
	C('\v', false, false, false, -1, '\v'),
	C('\0', false, false, false, -1, '\0'),
	C('0', false, true, true, 0, '0'),
	C('9', false, true, true, 9, '9'),
	C('/', false, false, false, -1, '/'),  /* '0' - 1 */
	C(':', false, false, false, -1, ':'),  /* '9' + 1 */
	C('a', false, false, true, 10, 'a'),
	C('f', false, false, true, 15, 'f'),
	C('g', false, false, true, -1, 'g'),
	C('A', false, false, true, 10, 'a'),
	C('F', false, false, true, 15, 'f'),
	C('G', false, false, true, -1, 'g'),
	C('Z', false, false, true, -1, 'z'),
	C('@', false, false, false, -1, '@'),  /* 'A' - 1 */
	C('[', false, false, false, -1, '['),  /* 'Z' + 1 */
	C('`', false, false, true, -1, '`'),   /* 'a' - 1, a tchar */
	C('{', false, false, false, -1, '{'),  /* 'z' + 1 */
	C('!', false, false, true, -1, '!'),
	C('"', false, false, false, -1, '"'),
	C('~', false, false, true, -1, '~'),
	C(0x7f, false, false, false, -1, 0x7f),
	C(0x80, false, false, false, -1, 0x80),
	C(0xc1, false, false, false, -1, 0xc1), /* 'A' | 0x80 */
	C(0xe1, false, false, false, -1, 0xe1), /* 'a' | 0x80 */
	C(0xff, false, false, false, -1, 0xff),
};

int main(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct chars_case *k = &cases[i];

		ASSERT_EQ(k->line, ch_is_ows(k->c), k->ows);
		ASSERT_EQ(k->line, ch_is_digit(k->c), k->digit);
		ASSERT_EQ(k->line, ch_is_tchar(k->c), k->tchar);
		ASSERT_EQ(k->line, ch_hex_value(k->c), k->hex);
		ASSERT_EQ(k->line, ch_is_hex(k->c), k->hex >= 0);
		ASSERT_EQ(k->line, ch_lower(k->c), k->lower);
	}

	/* Every byte, against the grammar written out. */
	for (int c = 0; c < 256; c++) {
		const char *hexdigits = "0123456789abcdef";
		const char *hexupper = "0123456789ABCDEF";
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		bool digit = c >= '0' && c <= '9';
		bool tchar = c != 0 && (alpha || digit || strchr("!#$%&'*+-.^_`|~", c) != NULL);
		int hex = -1;

		for (int d = 0; d < 16; d++)
			if (c == hexdigits[d] || c == hexupper[d])
				hex = d;
		ASSERT_EQ(c, ch_is_ows((unsigned char)c), c == ' ' || c == '\t');
		ASSERT_EQ(c, ch_is_digit((unsigned char)c), digit);
		ASSERT_EQ(c, ch_is_tchar((unsigned char)c), tchar);
		ASSERT_EQ(c, ch_hex_value((unsigned char)c), hex);
		ASSERT_EQ(c, ch_lower((unsigned char)c), c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	printf("%zu table cases, 256 bytes\n", sizeof(cases) / sizeof(cases[0]));
	return test_summary();
}
