/* Request path -> path relative to the document root.
 *
 * One pass over the request path: each byte is percent-decoded (once), the
 * decoded byte is checked (NUL, control bytes, backslash, a second level of
 * encoding, UTF-8), and then fed to the segment normaliser, which writes
 * the result straight into the caller's buffer. No allocation, no copy of
 * the input.
 *
 * Order of answers: a bad byte (400/403) or a ".." above the root (403) is
 * reported as soon as it is seen, so the first one in the input wins. A
 * dot-segment (404) or an oversized result (414) can only be judged on the
 * final result, so those are decided at the end; 414 before 404, because a
 * result that did not fit was not kept and cannot be inspected.
 *
 * Decisions where the rules leave room:
 * - A '/' produced by decoding (%2f) separates segments like a raw one: the
 *   path is decoded once, then normalised, so "/a/..%2fb" is "b" and
 *   "/..%2f" is a ".." above the root (403).
 * - "...." and other segments of dots are ordinary names that start with '.'
 *   (404); only "." and ".." are special, as in POSIX.
 * - A segment that starts with '.' and is later removed by ".." is gone:
 *   "/.git/../a" is "a". Nothing inside the dot-directory is served.
 * - An overlong lead byte (C0, C1) is 403 whatever follows it; E0 and F0
 *   are 403 only when the next byte is a continuation byte that makes the
 *   sequence overlong. F5..FF are 400 (never valid), not 403.
 * - The intermediate result may be longer than out: ".." can bring it back
 *   below the limit. Only the final result must fit (414 otherwise).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memrchr */
#endif
#include "path.h"

#include "chars.h"

#include <string.h>

/* The normaliser's state: a stack of segments kept as the text of the
 * result in out[0..pos). Segments that did not fit are counted (vdepth)
 * but not stored; while any exists, nothing more is written, and a ".."
 * that pops the last of them restores pos to where the first began. */
struct norm {
	char *out;
	size_t cap;          /* bytes of out usable for the path (outsz - 1) */
	size_t pos;          /* length of the stored result */
	size_t seg_start;    /* pos before the current segment (and its '/') */
	size_t seg_len;      /* decoded length of the current segment */
	unsigned char c0, c1; /* its first two bytes, to recognise "." and ".." */
	bool seg_over;       /* the current segment did not fit */
	size_t vdepth;       /* segments on the stack that did not fit */
	size_t over_start;   /* seg_start of the first (lowest) of those */
	size_t ndot;         /* stored segments that start with '.' */
};

static inline void seg_byte(struct norm *s, unsigned char c)
{
	if (s->seg_len == 0) {
		s->seg_start = s->pos;
		s->seg_over = s->vdepth > 0;
		s->c0 = c;
		if (!s->seg_over && s->pos > 0) {
			if (s->pos < s->cap)
				s->out[s->pos++] = '/';
			else
				s->seg_over = true;
		}
	} else if (s->seg_len == 1) {
		s->c1 = c;
	}
	s->seg_len++;
	if (!s->seg_over) {
		if (s->pos < s->cap)
			s->out[s->pos++] = (char)c;
		else
			s->seg_over = true;
	}
}

/* Ends the current segment. Returns 0 or 403 for ".." above the root. */
static int seg_end(struct norm *s)
{
	size_t len = s->seg_len;

	s->seg_len = 0;
	if (len == 0 || (len == 1 && s->c0 == '.'))
		goto drop;
	if (len == 2 && s->c0 == '.' && s->c1 == '.') {
		if (s->vdepth > 0) {
			if (--s->vdepth == 0)
				s->pos = s->over_start;
			return 0;
		}
		s->pos = s->seg_start;
		if (s->pos == 0)
			return 403;
		const char *slash = memrchr(s->out, '/', s->pos);
		size_t first = slash ? (size_t)(slash - s->out) + 1 : 0;

		if (s->out[first] == '.')
			s->ndot--;
		s->pos = slash ? (size_t)(slash - s->out) : 0;
		return 0;
	}
	if (s->seg_over) {
		if (s->vdepth++ == 0)
			s->over_start = s->seg_start;
		return 0;
	}
	if (s->c0 == '.')
		s->ndot++;
	return 0;
drop:
	/* Undo what this segment wrote; a segment started while others did
	 * not fit wrote nothing. */
	if (s->vdepth == 0 && len > 0)
		s->pos = s->seg_start;
	return 0;
}

int path_resolve(const char *path, size_t n, char *out, size_t outsz, bool *dir_slash)
{
	const unsigned char *p = (const unsigned char *)path;
	struct norm s = { .out = out, .cap = outsz ? outsz - 1 : 0 };
	unsigned need = 0;         /* UTF-8 continuation bytes still expected */
	unsigned char lo = 0x80, hi = 0xbf; /* range of the next one */
	bool overlong_below = false; /* next one below lo means overlong */
	int pct = 0, pct_hi = 0;   /* decoded "%", "%X" seen: double encoding */
	bool last_dir;
	int st = 0;

	*dir_slash = false;
	if (outsz > 0)
		out[0] = '\0';
	if (n == 0 || p[0] != '/')
		return 400;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (c == '%') {
			int h, l;

			if (n - i < 3 || (h = ch_hex_value(p[i + 1])) < 0 ||
			    (l = ch_hex_value(p[i + 2])) < 0)
				goto bad;
			c = (unsigned char)(h << 4 | l);
			i += 2;
		}

		if (need > 0) {
			if (c < lo || c > hi) {
				/* Only the first continuation byte has a range
				 * narrower than 80..BF. */
				if (overlong_below && c >= 0x80 && c < lo)
					goto forbidden;
				goto bad;
			}
			need--;
			lo = 0x80;
			hi = 0xbf;
			overlong_below = false;
			pct = 0;
			seg_byte(&s, c);
			continue;
		}

		if (c >= 0x80) {
			if (c < 0xc0 || c > 0xf4)
				goto bad;       /* stray continuation, F5..FF */
			if (c < 0xc2)
				goto forbidden; /* C0, C1: always overlong */
			if (c < 0xe0) {
				need = 1;
			} else if (c < 0xf0) {
				need = 2;
				if (c == 0xe0) {
					lo = 0xa0;
					overlong_below = true;
				} else if (c == 0xed) {
					hi = 0x9f; /* above: surrogates */
				}
			} else {
				need = 3;
				if (c == 0xf0) {
					lo = 0x90;
					overlong_below = true;
				} else if (c == 0xf4) {
					hi = 0x8f; /* above: > U+10FFFF */
				}
			}
			pct = 0;
			seg_byte(&s, c);
			continue;
		}

		if (c < 0x20 || c == 0x7f)
			goto bad;               /* NUL and control bytes */
		if (c == '\\')
			goto forbidden;

		/* A '%' left after decoding followed by the hex of '.', '/',
		 * '\\' or '%' is a second level of encoding, meant to slip a
		 * traversal past a decoder that runs once. */
		if (pct == 2) {
			int l = ch_hex_value(c);

			if (l >= 0) {
				int v = pct_hi << 4 | l;

				if (v == '.' || v == '/' || v == '\\' || v == '%')
					goto forbidden;
			}
			pct = 0;
		} else if (pct == 1) {
			pct_hi = ch_hex_value(c);
			pct = pct_hi >= 0 ? 2 : 0;
		}
		if (c == '%')
			pct = 1;

		if (c == '/') {
			if ((st = seg_end(&s)) != 0)
				goto fail;
			continue;
		}
		seg_byte(&s, c);
	}
	if (need > 0)
		goto bad;                       /* truncated UTF-8 sequence */

	/* The last segment names a directory when it is "", "." or "..":
	 * "/", "/sub/", "/sub/." and "/sub/x/.." all do. */
	last_dir = s.seg_len == 0 ||
		   (s.seg_len == 1 && s.c0 == '.') ||
		   (s.seg_len == 2 && s.c0 == '.' && s.c1 == '.');
	if ((st = seg_end(&s)) != 0)
		goto fail;
	if (s.vdepth > 0 || outsz == 0) {
		st = 414;
		goto fail;
	}
	if (s.ndot > 0) {
		st = 404;
		goto fail;
	}
	out[s.pos] = '\0';
	*dir_slash = last_dir;
	return 0;

bad:
	st = 400;
	goto fail;
forbidden:
	st = 403;
fail:
	if (outsz > 0)
		out[0] = '\0';
	return st;
}
