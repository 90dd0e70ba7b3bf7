/* ASCII character classes shared by the pure modules (RFC 5234 core rules,
 * RFC 9110 tokens). ASCII-only on purpose: the locale must never change how
 * a field name, a coding or a number is recognised, which <ctype.h> would. */
#ifndef MTHTTPD_CHARS_H
#define MTHTTPD_CHARS_H

#include <stdbool.h>
#include <stdint.h>

/* OWS = *( SP / HTAB ) (RFC 9110 §5.6.3). */
static inline bool ch_is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* DIGIT. */
static inline bool ch_is_digit(unsigned char c)
{
	return (unsigned)(c - '0') < 10;
}

/* Value of a HEXDIG (either case), or -1. */
static inline int ch_hex_value(unsigned char c)
{
	if (ch_is_digit(c))
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* HEXDIG, either case. */
static inline bool ch_is_hex(unsigned char c)
{
	return ch_hex_value(c) >= 0;
}

/* c with A..Z lowered, every other byte unchanged. */
static inline unsigned char ch_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* tchar (RFC 9110 §5.6.2): "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" /
 * "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA. One bit per
 * ASCII byte: bytes 0..63 in the first word, 64..127 in the second. */
static inline bool ch_is_tchar(unsigned char c)
{
	static const uint64_t tchar[2] = { 0x03ff6cfa00000000ULL, 0x57ffffffc7fffffeULL };

	return c < 128 && ((tchar[c >> 6] >> (c & 63)) & 1) != 0;
}

#endif
