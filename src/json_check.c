/* Streaming RFC 8259 validator.
 *
 * One byte-driven state machine; the struct holds all state, so a slice may
 * end anywhere (inside a UTF-8 sequence, a \u escape, a number, a literal).
 *
 * err_offset is the length of the longest prefix that some valid JSON text
 * still starts with: the first byte after which no continuation could make
 * the input valid. That is the same whatever the slicing, which the unit
 * test and the fuzz harness check. */
#include "json_check.h"

#include "chars.h"

#include <string.h>

enum {
	/* Structure, outside strings: whitespace may come first. */
	ST_VALUE,      /* a value must follow: text start, after ':' */
	ST_ARR_FIRST,  /* after '[': a value or ']' */
	ST_ARR_NEXT,   /* after ',' in an array: a value */
	ST_ARR_AFTER,  /* after an array element: ',' or ']' */
	ST_OBJ_FIRST,  /* after '{': a key or '}' */
	ST_OBJ_KEY,    /* after ',' in an object: a key */
	ST_COLON,      /* after a key: ':' */
	ST_OBJ_AFTER,  /* after a member's value: ',' or '}' */
	ST_END,        /* the text is complete: only whitespace may follow */
	/* Strings. */
	ST_STR,        /* inside a string (jc->in_key tells which kind) */
	ST_ESC,        /* after '\' */
	ST_U1,         /* \u: first hex digit */
	ST_U2D,        /* second digit after D: decides surrogate or not */
	/* ST_U2..ST_U4H and ST_L3..ST_L4 are in reading order: a hex digit
	 * moves to st + 1, except that ST_U4 and ST_L4 end the escape. */
	ST_U2,         /* second digit, the first was not D */
	ST_U3,
	ST_U4,
	ST_U3H,        /* third digit of a high surrogate */
	ST_U4H,
	ST_LBS,        /* after a high surrogate: '\' of the low one */
	ST_LU,         /* its 'u' */
	ST_L1,         /* its digits: D, then C..F, then any two */
	ST_L2,
	ST_L3,
	ST_L4,
	/* UTF-8 continuation bytes: each state names the range of the next
	 * byte (see u8_tab), which is what rules out overlongs, surrogates
	 * and code points above U+10FFFF. */
	ST_U8_1,       /* one more byte, 80..BF */
	ST_U8_2,       /* two more, 80..BF */
	ST_U8_3,       /* three more, 80..BF */
	ST_U8_E0,      /* A0..BF, then one more */
	ST_U8_ED,      /* 80..9F, then one more */
	ST_U8_F0,      /* 90..BF, then two more */
	ST_U8_F4,      /* 80..8F, then two more */
	/* Numbers: -? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)? */
	ST_MINUS,      /* after '-': a digit */
	ST_ZERO,       /* after a leading 0: '.', 'e' or the end */
	ST_INT,        /* integer digits */
	ST_DOT,        /* after '.': a digit */
	ST_FRAC,       /* fraction digits */
	ST_EXP,        /* after 'e': sign or digit */
	ST_EXP_SIGN,   /* after the exponent's sign: a digit */
	ST_EXP_DIGITS, /* exponent digits */
	/* The rest. */
	ST_LIT,        /* inside true/false/null, jc->lit indexes lits[] */
	ST_BOM1,       /* EF at offset 0: a BOM or garbage, the message differs */
	ST_BOM2,
	ST_FINISHED,   /* jc_finish said JC_DONE */
	ST_ERROR,
};

/* The literals after their first byte, each NUL-terminated. */
static const char lits[] = "rue\0alse\0ull";
enum { LIT_TRUE = 0, LIT_FALSE = 4, LIT_NULL = 9 };

/* Next-byte range and successor for the UTF-8 states, from ST_U8_1 on. */
static const struct {
	uint8_t lo, hi, next;
} u8_tab[] = {
	[ST_U8_1 - ST_U8_1] = { 0x80, 0xBF, ST_STR },
	[ST_U8_2 - ST_U8_1] = { 0x80, 0xBF, ST_U8_1 },
	[ST_U8_3 - ST_U8_1] = { 0x80, 0xBF, ST_U8_2 },
	[ST_U8_E0 - ST_U8_1] = { 0xA0, 0xBF, ST_U8_1 },
	[ST_U8_ED - ST_U8_1] = { 0x80, 0x9F, ST_U8_1 },
	[ST_U8_F0 - ST_U8_1] = { 0x90, 0xBF, ST_U8_2 },
	[ST_U8_F4 - ST_U8_1] = { 0x80, 0x8F, ST_U8_2 },
};

static inline int is_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Bytes that cannot follow a complete number in valid JSON but look like
 * they belong to it: "01", "1.2.3", "1e5e5", "1-2" are bad numbers rather
 * than "unexpected character". */
static inline int is_numchar(uint8_t c)
{
	return ch_is_digit(c) || c == '.' || c == 'e' || c == 'E' || c == '+' ||
	       c == '-';
}

/* Whether p[0..4) is w[0..4), as one load and compare. */
static inline int word4_is(const uint8_t *p, const char *w)
{
	uint32_t a, b;

	memcpy(&a, p, 4);
	memcpy(&b, w, 4);
	return a == b;
}

/* A string byte that needs no attention: printable ASCII but '"' and '\'. */
static inline int is_plain(uint8_t c)
{
	return (unsigned)(c - 0x20) < 0x60 && c != '"' && c != '\\';
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Skips plain string bytes, 8 at a time while a whole word is plain:
 * string contents are most of an upload's bytes. The tests are exact for
 * "some byte matches", which is all that is asked of them. */
static inline const uint8_t *skip_plain(const uint8_t *p, const uint8_t *end)
{
	while (end - p >= 8) {
		uint64_t v, q, b, special;

		memcpy(&v, p, 8);
		q = v ^ (ONES * '"');
		b = v ^ (ONES * '\\');
		special = ((v - ONES * 0x20) & ~v) | /* a byte < 0x20 */
			  ((q - ONES) & ~q) |         /* a '"' */
			  ((b - ONES) & ~b) |         /* a '\' */
			  v;                          /* a byte >= 0x80 */
		if (special & HIGHS)
			break;
		p += 8;
	}
	while (p < end && is_plain(*p))
		p++;
	return p;
}

/* The state for the continuation bytes after lead byte c, or -1 when c
 * cannot start a sequence: a stray continuation byte (80..BF), an overlong
 * lead (C0, C1) or one beyond U+10FFFF (F5..FF). */
static inline int u8_lead(uint8_t c)
{
	if (c < 0xC2)
		return -1;
	if (c < 0xE0)
		return ST_U8_1;
	if (c == 0xE0)
		return ST_U8_E0;
	if (c == 0xED)
		return ST_U8_ED;
	if (c < 0xF0)
		return ST_U8_2;
	if (c == 0xF0)
		return ST_U8_F0;
	if (c < 0xF4)
		return ST_U8_3;
	if (c == 0xF4)
		return ST_U8_F4;
	return -1;
}

/* The state after continuation byte c in UTF-8 state st, or -1. */
static inline int u8_next(int st, uint8_t c)
{
	int i = st - ST_U8_1;

	if (c < u8_tab[i].lo || c > u8_tab[i].hi)
		return -1;
	return u8_tab[i].next;
}

/* The state once a value is complete: what its container expects next. */
static inline int after_value(const struct json_check *jc)
{
	unsigned d = jc->depth;

	if (d == 0)
		return ST_END;
	d--;
	return (jc->stack[d >> 3] >> (d & 7)) & 1 ? ST_OBJ_AFTER : ST_ARR_AFTER;
}

static inline void push(struct json_check *jc, int is_object)
{
	unsigned d = jc->depth++;
	uint8_t bit = (uint8_t)(1u << (d & 7));

	if (is_object)
		jc->stack[d >> 3] |= bit;
	else
		jc->stack[d >> 3] &= (uint8_t)~bit;
}

/* The state after the innermost array or object closes. */
static inline int close_container(struct json_check *jc)
{
	jc->depth--;
	return after_value(jc);
}

enum { NUM_END = -1, NUM_BAD = -2 };

/* Reads number bytes at *pp from number state st, in straight-line code
 * rather than a state per byte: numbers are most of a numeric upload.
 * Returns the number state reached at the end of the slice, NUM_END when
 * the number ended before *pp, or NUM_BAD when *pp cannot continue it. A
 * number's end must not look like more number: "01", "1.2.3", "1-2". */
static int scan_number(int st, const uint8_t **pp, const uint8_t *end)
{
	const uint8_t *p = *pp;

	switch (st) {
	case ST_MINUS:
		goto minus;
	case ST_ZERO:
		goto zero;
	case ST_INT:
		goto integer;
	case ST_DOT:
		goto dot;
	case ST_FRAC:
		goto fraction;
	case ST_EXP:
		goto exponent;
	case ST_EXP_SIGN:
		goto exp_sign;
	default:
		goto exp_digits;
	}
minus:
	if (p == end) {
		st = ST_MINUS;
		goto out;
	}
	if (*p == '0') {
		p++;
		goto zero;
	}
	if (!ch_is_digit(*p))
		goto bad;
	p++;
integer:
	while (p < end && ch_is_digit(*p))
		p++;
	if (p == end) {
		st = ST_INT;
		goto out;
	}
	goto point;
zero:
	if (p == end) {
		st = ST_ZERO;
		goto out;
	}
point:
	if (*p == '.') {
		p++;
		goto dot;
	}
	if ((*p | 0x20) == 'e') {
		p++;
		goto exponent;
	}
	goto done;
dot:
	if (p == end) {
		st = ST_DOT;
		goto out;
	}
	if (!ch_is_digit(*p))
		goto bad;
	p++;
fraction:
	while (p < end && ch_is_digit(*p))
		p++;
	if (p == end) {
		st = ST_FRAC;
		goto out;
	}
	if ((*p | 0x20) == 'e') {
		p++;
		goto exponent;
	}
	goto done;
exponent:
	if (p == end) {
		st = ST_EXP;
		goto out;
	}
	if (*p == '+' || *p == '-')
		p++;
	else if (!ch_is_digit(*p))
		goto bad;
	else
		goto exp_digits;
exp_sign:
	if (p == end) {
		st = ST_EXP_SIGN;
		goto out;
	}
	if (!ch_is_digit(*p))
		goto bad;
	p++;
exp_digits:
	while (p < end && ch_is_digit(*p))
		p++;
	if (p == end) {
		st = ST_EXP_DIGITS;
		goto out;
	}
done:
	st = is_numchar(*p) ? NUM_BAD : NUM_END;
	goto out;
bad:
	st = NUM_BAD;
out:
	*pp = p;
	return st;
}

void jc_init(struct json_check *jc)
{
	memset(jc, 0, sizeof(*jc));
	jc->state = ST_VALUE;
}

/* The scanners below each handle one group of states. Each takes the
 * state and the position *pp in a slice that ends at end, consumes what it
 * can, and returns the next state, or SCAN_FAIL with *msg set and *pp at
 * the offending byte, or SCAN_FAIL_AT0 when the error belongs at offset 0
 * (the BOM cases). Plain pointers rather than a cursor struct: they stay
 * in registers once the scanners are inlined into jc_feed. */
enum { SCAN_FAIL = -1, SCAN_FAIL_AT0 = -2 };

static inline int scan_fail(const char **msg, const char *why)
{
	*msg = why;
	return SCAN_FAIL;
}

/* ST_VALUE, ST_ARR_FIRST, ST_ARR_NEXT at byte c (not whitespace): the
 * start of a value. A number's first byte moves to its number state; the
 * rest of the number is read by the number case. */
static int scan_value(struct json_check *jc, int st, const uint8_t **pp, const uint8_t *end,
		      const uint8_t *start, const char **msg)
{
	uint8_t c = **pp;
	int s;

	if (st == ST_ARR_FIRST && c == ']') {
		(*pp)++;
		return close_container(jc);
	}
	switch (c) {
	case '[':
	case '{':
		if (jc->depth == JC_MAX_DEPTH)
			return scan_fail(msg, "nesting too deep");
		push(jc, c == '{');
		st = c == '{' ? ST_OBJ_FIRST : ST_ARR_FIRST;
		break;
	case '"':
		jc->in_key = 0;
		st = ST_STR;
		break;
	case '-':
		st = ST_MINUS;
		break;
	case '0':
		st = ST_ZERO;
		break;
	case '1' ... '9':
		st = ST_INT;
		break;
	case 't':
	case 'f':
	case 'n':
		/* A literal whole in this slice needs no state. */
		s = c == 'f' ? 5 : 4;
		if (end - *pp >= s &&
		    word4_is(*pp + s - 4, c == 't' ? "true" : c == 'f' ? "alse" : "null")) {
			*pp += s;
			return after_value(jc);
		}
		jc->lit = c == 't' ? LIT_TRUE : c == 'f' ? LIT_FALSE : LIT_NULL;
		st = ST_LIT;
		break;
	case 0xEF:
		/* Decide between "BOM" and plain garbage later; the offset
		 * is 0 either way. */
		if (*pp == start && jc->offset == 0) {
			st = ST_BOM1;
			break;
		}
		return scan_fail(msg, "unexpected character");
	case '+':
	case '.':
		return scan_fail(msg, "invalid number");
	case ']':
		if (st == ST_ARR_NEXT)
			return scan_fail(msg, "trailing comma");
		return scan_fail(msg, "unexpected character");
	default:
		return scan_fail(msg, "unexpected character");
	}
	(*pp)++;
	return st;
}

/* The punctuation states between values (not whitespace): ST_ARR_AFTER,
 * ST_OBJ_FIRST, ST_OBJ_KEY, ST_COLON, ST_OBJ_AFTER, ST_END. */
static int scan_punct(struct json_check *jc, int st, const uint8_t **pp, const char **msg)
{
	uint8_t c = **pp;

	switch (st) {
	case ST_ARR_AFTER:
		if (c == ',')
			st = ST_ARR_NEXT;
		else if (c == ']')
			st = close_container(jc);
		else
			return scan_fail(msg, "expected ',' or ']'");
		break;
	case ST_OBJ_FIRST:
	case ST_OBJ_KEY:
		if (c == '"') {
			jc->in_key = 1;
			st = ST_STR;
		} else if (c == '}' && st == ST_OBJ_FIRST) {
			st = close_container(jc);
		} else if (c == '}') {
			return scan_fail(msg, "trailing comma");
		} else {
			return scan_fail(msg, "object key must be a string");
		}
		break;
	case ST_COLON:
		if (c != ':')
			return scan_fail(msg, "expected ':' after object key");
		st = ST_VALUE;
		break;
	case ST_OBJ_AFTER:
		if (c == ',')
			st = ST_OBJ_KEY;
		else if (c == '}')
			st = close_container(jc);
		else
			return scan_fail(msg, "expected ',' or '}'");
		break;
	default: /* ST_END */
		return scan_fail(msg, "trailing data after JSON text");
	}
	(*pp)++;
	return st;
}

/* ST_STR: stays here for a whole run of string bytes; only the slice's end
 * inside a UTF-8 sequence needs a state of its own. */
static int scan_string(struct json_check *jc, const uint8_t **pp, const uint8_t *end,
		       const char **msg)
{
	const uint8_t *p = *pp;
	int st = ST_STR, s;
	uint8_t c;

	for (;;) {
		p = skip_plain(p, end);
		if (p == end)
			break;
		c = *p;
		if (c == '"') {
			st = jc->in_key ? ST_COLON : after_value(jc);
			p++;
			break;
		}
		if (c == '\\') {
			st = ST_ESC;
			p++;
			break;
		}
		if (c < 0x20) {
			*pp = p;
			return scan_fail(msg, "control character in string");
		}
		/* Whole 2- and 3-byte sequences without special ranges, most
		 * non-ASCII text, skip the states. */
		if (c >= 0xC2 && c <= 0xDF && end - p >= 2 && (p[1] & 0xC0) == 0x80) {
			p += 2;
			continue;
		}
		if (c >= 0xE1 && c <= 0xEF && c != 0xED && end - p >= 3 &&
		    (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
			p += 3;
			continue;
		}
		s = u8_lead(c);
		if (s < 0)
			goto bad_utf8;
		p++;
		while (s != ST_STR) {
			if (p == end) {
				*pp = p;
				return s;
			}
			s = u8_next(s, *p);
			if (s < 0)
				goto bad_utf8;
			p++;
		}
	}
	*pp = p;
	return st;
bad_utf8:
	*pp = p;
	return scan_fail(msg, "invalid UTF-8");
}

/* The escape states, ST_ESC through ST_L4: one byte each. */
static int scan_escape(int st, const uint8_t **pp, const char **msg)
{
	uint8_t c = **pp;

	switch (st) {
	case ST_ESC:
		switch (c) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			st = ST_STR;
			break;
		case 'u':
			st = ST_U1;
			break;
		default:
			goto bad_escape;
		}
		break;
	case ST_U1:
		if ((c | 0x20) == 'd')
			st = ST_U2D;
		else if (ch_is_hex(c))
			st = ST_U2;
		else
			goto bad_escape;
		break;
	case ST_U2D:
		/* D8..DB starts a high surrogate, DC..DF a low one, which is
		 * unpaired by construction. */
		if (c >= '0' && c <= '7')
			st = ST_U3;
		else if (c == '8' || c == '9' || (unsigned)((c | 0x20) - 'a') < 2)
			st = ST_U3H;
		else if (ch_is_hex(c))
			goto unpaired;
		else
			goto bad_escape;
		break;
	case ST_LBS:
		if (c != '\\')
			goto unpaired;
		st = ST_LU;
		break;
	case ST_LU:
		if (c != 'u')
			goto unpaired;
		st = ST_L1;
		break;
	case ST_L1:
		if ((c | 0x20) == 'd')
			st = ST_L2;
		else if (ch_is_hex(c))
			goto unpaired;
		else
			goto bad_escape;
		break;
	case ST_L2:
		if ((unsigned)((c | 0x20) - 'c') < 4)
			st = ST_L3;
		else if (ch_is_hex(c))
			goto unpaired;
		else
			goto bad_escape;
		break;
	default: /* ST_U2, ST_U3, ST_U4, ST_U3H, ST_U4H, ST_L3, ST_L4 */
		if (!ch_is_hex(c))
			goto bad_escape;
		st = st == ST_U4 || st == ST_L4 ? ST_STR : st + 1;
		break;
	}
	(*pp)++;
	return st;
bad_escape:
	return scan_fail(msg, "invalid escape");
unpaired:
	return scan_fail(msg, "unpaired surrogate");
}

/* ST_LIT, ST_BOM1, ST_BOM2: one byte each. */
static int scan_other(struct json_check *jc, int st, const uint8_t **pp, const char **msg)
{
	uint8_t c = **pp;

	switch (st) {
	case ST_LIT:
		if (c != (uint8_t)lits[jc->lit])
			return scan_fail(msg, "invalid literal");
		(*pp)++;
		return lits[++jc->lit] == '\0' ? after_value(jc) : ST_LIT;
	case ST_BOM1:
		if (c != 0xBB)
			break;
		(*pp)++;
		return ST_BOM2;
	case ST_BOM2:
		if (c != 0xBF)
			break;
		*msg = "byte order mark not allowed";
		return SCAN_FAIL_AT0;
	default:
		/* ST_FINISHED and ST_ERROR are handled by jc_feed. */
		return scan_fail(msg, "internal error");
	}
	/* The EF at offset 0 was the first bad byte: nothing starts with it. */
	*msg = "unexpected character";
	return SCAN_FAIL_AT0;
}

int jc_feed(struct json_check *jc, const void *buf, size_t len)
{
	const uint8_t *start = buf, *p = buf, *end;
	const char *msg = NULL;
	uint64_t at;
	int st = jc->state;

	if (st == ST_ERROR) {
		jc->offset += len;
		return JC_ERROR;
	}
	if (len == 0)
		return JC_MORE;
	if (st == ST_FINISHED) {
		msg = "data after end of input";
		st = SCAN_FAIL;
		goto fail;
	}
	end = p + len;
	while (p < end) {
		/* Whitespace between tokens, often whole indentation runs. */
		if (st <= ST_END && is_ws(*p)) {
			while (++p < end && is_ws(*p))
				;
			continue;
		}
		switch (st) {
		case ST_VALUE:
		case ST_ARR_FIRST:
		case ST_ARR_NEXT:
			st = scan_value(jc, st, &p, end, start, &msg);
			/* A number goes on at once: most of a numeric upload. */
			if (st < ST_MINUS || st > ST_EXP_DIGITS)
				break;
			/* fallthrough */
		case ST_MINUS ... ST_EXP_DIGITS:
			st = scan_number(st, &p, end);
			if (st == NUM_BAD)
				st = scan_fail(&msg, "invalid number");
			/* The byte after the number is read again as
			 * structure. */
			else if (st == NUM_END)
				st = after_value(jc);
			break;
		case ST_ARR_AFTER:
		case ST_OBJ_FIRST:
		case ST_OBJ_KEY:
		case ST_COLON:
		case ST_OBJ_AFTER:
		case ST_END:
			st = scan_punct(jc, st, &p, &msg);
			break;
		case ST_STR:
			st = scan_string(jc, &p, end, &msg);
			break;
		case ST_ESC ... ST_L4:
			st = scan_escape(st, &p, &msg);
			break;
		case ST_U8_1 ... ST_U8_F4:
			st = u8_next(st, *p);
			if (st < 0)
				st = scan_fail(&msg, "invalid UTF-8");
			else
				p++;
			break;
		default:
			st = scan_other(jc, st, &p, &msg);
			break;
		}
		if (st < 0)
			goto fail;
	}
	jc->state = st;
	jc->offset += len;
	return JC_MORE;

fail:
	at = st == SCAN_FAIL_AT0 ? 0 : jc->offset + (uint64_t)(p - start);
	jc->state = ST_ERROR;
	jc->err = msg;
	jc->err_offset = at;
	jc->offset += len;
	return JC_ERROR;
}

int jc_finish(struct json_check *jc)
{
	const char *msg = "unexpected end of input";
	uint64_t at = jc->offset;

	switch (jc->state) {
	case ST_ERROR:
		return JC_ERROR;
	case ST_FINISHED:
		return JC_DONE;
	case ST_END:
		jc->state = ST_FINISHED;
		return JC_DONE;
	case ST_ZERO:
	case ST_INT:
	case ST_FRAC:
	case ST_EXP_DIGITS:
		/* A top-level number ends with the input. */
		if (jc->depth == 0) {
			jc->state = ST_FINISHED;
			return JC_DONE;
		}
		break;
	case ST_VALUE:
		if (jc->depth == 0)
			msg = "empty input";
		break;
	case ST_BOM1:
	case ST_BOM2:
		msg = "unexpected character";
		at = 0;
		break;
	default:
		break;
	}
	jc->state = ST_ERROR;
	jc->err = msg;
	jc->err_offset = at;
	return JC_ERROR;
}
