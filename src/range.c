/* Range header parsing (RFC 9110 §14.1, §14.2). Pure: no I/O, no malloc.
 *
 *   Range        = ranges-specifier
 *   ranges-specifier = range-unit "=" range-set
 *   range-set    = 1#range-spec
 *   range-spec   = int-range / suffix-range / other-range
 *   int-range    = first-pos "-" [ last-pos ]
 *   suffix-range = "-" suffix-length
 *
 * Only the "bytes" unit is understood; any other unit, and every syntax
 * error, makes the whole header ignorable (return 0, serve 200), which is
 * what §14.2 allows a server to do with a Range it does not like. */
#include "range.h"

#include "chars.h"

#include <stdbool.h>
#include <string.h>

/* A run of digits, kept as a slice so that numbers longer than 64 bits can
 * still be compared exactly (first-pos <= last-pos must hold for the real
 * values, not for their saturated ones). */
struct num {
	const char *p; /* first significant digit (leading zeros skipped) */
	size_t n;      /* count of significant digits, 0 for the value zero */
	uint64_t v;    /* value, saturated at UINT64_MAX */
};

/* Reads 1*DIGIT at v[*i..n). Returns false when there is no digit. */
static bool read_num(const char *v, size_t n, size_t *i, struct num *out)
{
	size_t j = *i;

	if (j >= n || !ch_is_digit(v[j]))
		return false;
	while (j < n && v[j] == '0')
		j++;
	out->p = v + j;
	out->v = 0;
	for (; j < n && ch_is_digit(v[j]); j++) {
		unsigned d = (unsigned)(v[j] - '0');

		/* Saturate rather than wrap: a huge number must stay huge. */
		if (out->v > (UINT64_MAX - d) / 10)
			out->v = UINT64_MAX;
		else
			out->v = out->v * 10 + d;
	}
	out->n = (size_t)(v + j - out->p);
	*i = j;
	return true;
}

/* Exact a <= b on the decimal strings, whatever their length. */
static bool num_le(const struct num *a, const struct num *b)
{
	if (a->n != b->n)
		return a->n < b->n;
	return memcmp(a->p, b->p, a->n) <= 0;
}

/* Parses one range-spec spanning exactly v[0..n) (OWS already trimmed).
 * Returns -1 on a syntax error, 0 when it is valid but unsatisfiable for
 * size, 1 with *r set when it is satisfiable. */
static int parse_spec(const char *v, size_t n, uint64_t size, struct byte_range *r)
{
	struct num a, b;
	size_t i = 0;

	if (v[0] == '-') {
		i = 1;
		if (!read_num(v, n, &i, &b) || i != n)
			return -1;
		/* "-0" asks for nothing, and an empty file has no last bytes. */
		if (b.v == 0 || size == 0)
			return 0;
		r->first = b.v >= size ? 0 : size - b.v;
		r->last = size - 1;
		return 1;
	}
	if (!read_num(v, n, &i, &a) || i >= n || v[i] != '-')
		return -1;
	i++;
	if (i == n) {
		if (a.v >= size)
			return 0;
		r->first = a.v;
		r->last = size - 1;
		return 1;
	}
	if (!read_num(v, n, &i, &b) || i != n)
		return -1;
	/* §14.1.1: a last-pos below first-pos makes the whole set invalid. */
	if (!num_le(&a, &b))
		return -1;
	if (a.v >= size)
		return 0;
	r->first = a.v;
	r->last = b.v < size - 1 ? b.v : size - 1;
	return 1;
}

/* Do a and b overlap or touch? last < size <= UINT64_MAX, so last + 1
 * cannot wrap. */
static bool touches(struct byte_range a, struct byte_range b)
{
	return a.first <= b.last + 1 && b.first <= a.last + 1;
}

/* Merges overlapping and adjacent ranges, keeping the order in which they
 * were requested: a merged range stands where its earliest member stood
 * (RFC 9110 15.3.7.2: parts SHOULD follow the request's order). Few
 * elements (at most max): quadratic is fine. Returns the new count. */
static int coalesce(struct byte_range *r, int n)
{
	int k = 0;

	for (int i = 0; i < n; i++) {
		struct byte_range cur = r[i];
		int at = -1;

		for (int j = 0; j < k; j++) {
			if (!touches(r[j], cur))
				continue;
			if (r[j].first < cur.first)
				cur.first = r[j].first;
			if (r[j].last > cur.last)
				cur.last = r[j].last;
			if (at < 0) {
				at = j;
				continue;
			}
			/* cur now joins two kept ranges: the later one goes. */
			memmove(&r[j], &r[j + 1], (size_t)(k - j - 1) * sizeof(*r));
			k--;
			j--;
		}
		if (at < 0)
			r[k++] = cur;
		else
			r[at] = cur;
	}
	return k;
}

int range_parse(const char *v, size_t n, uint64_t size, struct byte_range *out, int max)
{
	static const char unit[] = "bytes=";
	size_t i = 0;
	int specs = 0, got = 0;

	/* The field value should arrive trimmed; tolerate it if not. */
	while (n > 0 && ch_is_ows(v[n - 1]))
		n--;
	while (i < n && ch_is_ows(v[i]))
		i++;

	/* Range units are case-insensitive (§14.1); no OWS around "=". */
	for (size_t k = 0; k < sizeof(unit) - 1; k++, i++)
		if (i >= n || ch_lower(v[i]) != unit[k])
			return 0;

	/* 1#range-spec with the §5.6.1.2 leniency: empty elements are
	 * allowed, but at least one spec must be present. */
	while (i < n) {
		size_t s, e;
		struct byte_range r;
		int rc;

		while (i < n && ch_is_ows(v[i]))
			i++;
		s = i;
		while (i < n && v[i] != ',' && !ch_is_ows(v[i]))
			i++;
		e = i;
		while (i < n && ch_is_ows(v[i]))
			i++;
		if (i < n && v[i] != ',')
			return 0; /* whitespace inside a spec: "0 -1" */
		i++; /* past the ',' (or past the end) */
		if (s == e)
			continue;
		/* Too many ranges is an attack or a mistake: ignore the
		 * header. Stopping here is fine, the answer cannot change. */
		if (++specs > max)
			return 0;
		rc = parse_spec(v + s, e - s, size, &r);
		if (rc < 0)
			return 0;
		if (rc > 0)
			out[got++] = r;
	}
	if (specs == 0)
		return 0;
	if (got == 0)
		return RANGE_UNSATISFIABLE;
	return coalesce(out, got);
}
