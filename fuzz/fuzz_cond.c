/* libFuzzer harness for validators and preconditions (src/cond.c).
 *
 * Input: one flag byte (bit 0: GET/HEAD, bit 1: strong comparison), one
 * signed byte moving the file's mtime around the RFC's example date, then
 * up to six '\n'-separated parts: If-Match, If-None-Match,
 * If-Modified-Since, If-Unmodified-Since, If-Range, and our own ETag (the
 * default "e1" when absent or empty). A list split at its '\r' bytes stands
 * for the same field sent on several lines. Each part is copied to a heap
 * buffer of exactly its size, so ASan sees any read past it. Checked:
 * - answers are in range and deterministic;
 * - a strong match is also a weak one;
 * - a list on several lines (etag_lines_match, cond_input.*_lines) is
 *   answered as the lines joined with ", " (etag_list_match);
 * - an HTTP-date that parses formats to an IMF-fixdate that parses back to
 *   the same time (inside the years 0000..9999 the format can show);
 * - If-Range never holds on a weak tag, nor on a date not yet over. */
#include "cond.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define T94 784111777
#define NPARTS 6
#define MAX_LINES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

struct part {
	char *p; /* exact-size heap copy; NULL when absent */
	size_t n;
};

/* Splits a part at '\r' into lines (at most MAX_LINES; the rest stays in
 * the last one) and writes the lines joined with ", " to joined. */
static size_t split_lines(const struct part *v, struct hp_slice *lines, char *joined,
			  size_t *jn)
{
	size_t nl = 0, start = 0;

	*jn = 0;
	for (size_t i = 0; i <= v->n; i++) {
		if (i < v->n && (v->p[i] != '\r' || nl == MAX_LINES - 1))
			continue;
		lines[nl].p = v->p + start;
		lines[nl].n = i - start;
		if (nl) {
			memcpy(joined + *jn, ", ", 2);
			*jn += 2;
		}
		memcpy(joined + *jn, v->p + start, i - start);
		*jn += i - start;
		nl++;
		start = i + 1;
	}
	return nl;
}

static void check_list(const struct part *v, const char *etag, size_t en)
{
	struct hp_slice lines[MAX_LINES];
	char *joined;
	size_t jn, nl;

	if (v->p == NULL)
		return;
	for (int strong = 0; strong < 2; strong++) {
		bool m = etag_list_match(v->p, v->n, etag, en, strong);

		if (m != etag_list_match(v->p, v->n, etag, en, strong))
			abort();
		if (strong && m && !etag_list_match(v->p, v->n, etag, en, false))
			abort();
	}
	joined = malloc(v->n + 2 * MAX_LINES + 1);
	if (joined == NULL)
		return;
	nl = split_lines(v, lines, joined, &jn);
	for (int strong = 0; strong < 2; strong++)
		if (etag_lines_match(lines, nl, etag, en, strong) !=
		    etag_list_match(joined, jn, etag, en, strong))
			abort();
	free(joined);
}

static void check_date(const struct part *v)
{
	const int64_t lo = -62167219200LL, hi = 253402300799LL; /* 0000..9999 */
	char buf[32];
	time_t t, t2;

	if (v->p == NULL || http_date_parse(v->p, v->n, &t) != 0)
		return;
	if (http_date_format(buf, t) != 29 || strlen(buf) != 29)
		abort();
	if (http_date_parse(buf, 29, &t2) != 0)
		abort();
	if ((int64_t)t >= lo && (int64_t)t <= hi && t2 != t)
		abort();
}

static enum cond_result evaluate(const struct part *p, const char *etag, size_t en,
				 time_t mtime, bool get, bool as_lines)
{
	struct hp_slice im[MAX_LINES], inm[MAX_LINES];
	char *joined = NULL;
	size_t jn;
	struct cond_input in = {
		.if_match = p[0].p, .if_match_n = p[0].n,
		.if_none_match = p[1].p, .if_none_match_n = p[1].n,
		.if_modified_since = p[2].p, .if_modified_since_n = p[2].n,
		.if_unmodified_since = p[3].p, .if_unmodified_since_n = p[3].n,
		.etag = etag, .etag_n = en,
		.mtime = mtime,
		.get_or_head = get,
	};
	enum cond_result r;

	if (as_lines) {
		joined = malloc(p[0].n + p[1].n + 2 * MAX_LINES + 1);
		if (joined == NULL)
			abort();
		if (p[0].p) {
			in.if_match_lines = im;
			in.if_match_nlines = split_lines(&p[0], im, joined, &jn);
		}
		if (p[1].p) {
			in.if_none_match_lines = inm;
			in.if_none_match_nlines = split_lines(&p[1], inm, joined, &jn);
		}
		/* The single slices must be ignored when lines are given. */
		in.if_match = in.if_none_match = "\"decoy\"";
		in.if_match_n = in.if_none_match_n = 7;
		if (!p[0].p)
			in.if_match = NULL;
		if (!p[1].p)
			in.if_none_match = NULL;
	}
	r = cond_evaluate(&in);
	free(joined);
	return r;
}

/* The joined form of a list part, as the single-slice evaluation sees it. */
static struct part joined_part(const struct part *v)
{
	struct hp_slice lines[MAX_LINES];
	struct part j = { NULL, 0 };

	if (v->p == NULL)
		return j;
	j.p = malloc(v->n + 2 * MAX_LINES + 1);
	if (j.p == NULL)
		abort();
	split_lines(v, lines, j.p, &j.n);
	return j;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct part p[NPARTS] = { { NULL, 0 } };
	const char *etag = "\"e1\"";
	size_t en = 4, i, start, k = 0;
	bool get, strong;
	time_t mtime;

	if (len < 2)
		return 0;
	get = data[0] & 1;
	strong = data[0] & 2;
	mtime = T94 + (int8_t)data[1];
	data += 2;
	len -= 2;
	for (i = 0, start = 0; i <= len && k < NPARTS; i++) {
		if (i < len && data[i] != '\n')
			continue;
		p[k].n = i - start;
		p[k].p = malloc(p[k].n ? p[k].n : 1);
		if (p[k].p == NULL)
			abort();
		memcpy(p[k].p, data + start, p[k].n);
		k++;
		start = i + 1;
	}
	if (p[5].p && p[5].n) {
		etag = p[5].p;
		en = p[5].n;
	}

	check_list(&p[0], etag, en);
	check_list(&p[1], etag, en);
	for (k = 0; k < 5; k++)
		check_date(&p[k]);

	/* cond_evaluate: in range, never 304 but for GET/HEAD, and the same
	 * over the lines as over their join. */
	{
		struct part q[NPARTS];
		enum cond_result r, rl;

		memcpy(q, p, sizeof(q));
		q[0] = joined_part(&p[0]);
		q[1] = joined_part(&p[1]);
		r = evaluate(q, etag, en, mtime, get, false);
		if (r != COND_PASS && r != COND_NOT_MODIFIED && r != COND_FAILED)
			abort();
		if (r == COND_NOT_MODIFIED && !get)
			abort();
		rl = evaluate(p, etag, en, mtime, get, true);
		if (rl != r)
			abort();
		free(q[0].p);
		free(q[1].p);
	}

	/* If-Range: deterministic; a weak tag never matches; a date only
	 * once its second is over. */
	if (p[4].p) {
		time_t now = mtime + (strong ? 1 : 0);
		bool ok = cond_if_range(p[4].p, p[4].n, etag, en, mtime, now);
		const char *v = p[4].p;
		size_t n = p[4].n;

		if (ok != cond_if_range(p[4].p, p[4].n, etag, en, mtime, now))
			abort();
		while (n && (*v == ' ' || *v == '\t')) {
			v++;
			n--;
		}
		if (ok && n >= 2 && v[0] == 'W' && v[1] == '/')
			abort();
		if (ok && n && v[0] != '"' && !(now > mtime))
			abort();
	}

	for (k = 0; k < NPARTS; k++)
		free(p[k].p);
	return 0;
}
