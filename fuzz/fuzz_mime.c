/* libFuzzer harness for src/mime.c: the Accept-Encoding q-value parser
 * (mime_accept_q, mime_accept_q_lines) and the type lookup.
 *
 * Input: one byte choosing the coding asked about, then the field value.
 * The value is copied to a heap buffer of exactly its size, so ASan sees
 * any read past it. Checked:
 * - q is within 0..1000 and the answer is deterministic;
 * - letter case changes nothing (codings and "q" are case-insensitive);
 * - the value split at its '\r' bytes into field lines is answered as the
 *   lines joined with ", " (mime_accept_q_lines);
 * - mime_lookup on the same bytes as a file name: never NULL under
 *   MIME_ALL, and independent of case. */
#include "mime.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static const char *const codings[] = { "br", "gzip", "identity", "deflate", "zstd", "x-gzip", "*" };

static char *upper_copy(const char *v, size_t n)
{
	char *u = malloc(n ? n : 1);

	if (u == NULL)
		abort();
	for (size_t i = 0; i < n; i++)
		u[i] = v[i] >= 'a' && v[i] <= 'z' ? (char)(v[i] - 32) : v[i];
	return u;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct hp_slice lines[MAX_LINES];
	const char *coding;
	char *v, *u, *joined;
	size_t n, nl = 0, jn = 0, start = 0;
	int q;

	if (len < 1)
		return 0;
	coding = codings[data[0] % (sizeof(codings) / sizeof(codings[0]))];
	n = len - 1;
	v = malloc(n ? n : 1);
	joined = malloc(n + 2 * MAX_LINES + 1);
	if (v == NULL || joined == NULL)
		abort();
	memcpy(v, data + 1, n);

	q = mime_accept_q(v, n, coding);
	if (q < 0 || q > 1000)
		abort();
	if (mime_accept_q(v, n, coding) != q)
		abort();
	u = upper_copy(v, n);
	if (mime_accept_q(u, n, coding) != q)
		abort();

	/* Field lines against their join. */
	for (size_t i = 0; i <= n; i++) {
		if (i < n && (v[i] != '\r' || nl == MAX_LINES - 1))
			continue;
		lines[nl].p = v + start;
		lines[nl].n = i - start;
		if (nl) {
			memcpy(joined + jn, ", ", 2);
			jn += 2;
		}
		memcpy(joined + jn, v + start, i - start);
		jn += i - start;
		nl++;
		start = i + 1;
	}
	if (mime_accept_q_lines(lines, nl, coding) != mime_accept_q(joined, jn, coding))
		abort();
	if (mime_accept_q_lines(NULL, 0, coding) != mime_accept_q(NULL, 0, coding))
		abort();

	/* The same bytes as a file name. */
	{
		const struct mime_type *all = mime_lookup(v, n, MIME_ALL);
		const struct mime_type *seed = mime_lookup(v, n, MIME_SEED);

		if (all == NULL || all->type == NULL)
			abort();
		if (mime_lookup(u, n, MIME_ALL) != all || mime_lookup(u, n, MIME_SEED) != seed)
			abort();
	}

	free(u);
	free(joined);
	free(v);
	return 0;
}
