/* libFuzzer harness for range_parse (src/range.c).
 *
 * Input: 8 bytes of representation size (little-endian), then the Range
 * field value. Checks the contract rather than exact answers: the return
 * is 0, RANGE_UNSATISFIABLE or 1..max; the ranges are inside the file,
 * pairwise disjoint and non-adjacent (in request order, not sorted); nothing is written past out[max); and
 * the parse is deterministic. */
#include "range.h"

#include <stdlib.h>
#include <string.h>

#define CANARY 0xa5a5a5a5a5a5a5a5ULL
#define SLACK 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct byte_range out[RANGE_MAX + SLACK], again[RANGE_MAX];
	uint64_t size = 0;
	const char *v;
	size_t n;
	int rc;

	if (len < 8)
		return 0;
	for (int k = 7; k >= 0; k--)
		size = size << 8 | data[k];
	v = (const char *)data + 8;
	n = len - 8;

	for (int k = 0; k < RANGE_MAX + SLACK; k++)
		out[k].first = out[k].last = CANARY;
	rc = range_parse(v, n, size, out, RANGE_MAX);

	if (rc != 0 && rc != RANGE_UNSATISFIABLE && (rc < 1 || rc > RANGE_MAX))
		abort();
	/* An empty file has nothing to satisfy. */
	if (size == 0 && rc > 0)
		abort();
	for (int k = 0; k < rc; k++) {
		if (out[k].first > out[k].last || out[k].last >= size)
			abort();
		/* Neither overlapping nor touching any other. */
		for (int j = 0; j < k; j++)
			if (out[k].first <= out[j].last + 1 && out[j].first <= out[k].last + 1)
				abort();
	}
	for (int k = RANGE_MAX; k < RANGE_MAX + SLACK; k++)
		if (out[k].first != CANARY || out[k].last != CANARY)
			abort();

	/* Pure: the same input gives the same answer. */
	if (range_parse(v, n, size, again, RANGE_MAX) != rc)
		abort();
	if (rc > 0 && memcmp(out, again, (size_t)rc * sizeof(out[0])) != 0)
		abort();

	/* A smaller max never yields more ranges, and only ever turns a
	 * result into "ignore". */
	{
		int r1 = range_parse(v, n, size, again, 1);

		if (r1 != rc && r1 != 0)
			abort();
		if (r1 > 1)
			abort();
	}
	return 0;
}
