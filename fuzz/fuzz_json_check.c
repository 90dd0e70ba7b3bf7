/* libFuzzer harness for the streaming JSON validator (src/json_check.c).
 *
 * Input: one byte that picks a split position, then the JSON bytes. The
 * bytes are validated whole, in two feeds split at that position, and one
 * byte at a time; the three must agree on result, err_offset and err.
 * An error at offset k must also mean that the first k bytes are accepted
 * as a prefix and the first k + 1 are not, which pins err_offset down to
 * "the first offending byte" whatever the slicing.
 *
 * Seeds in fuzz/corpus/json/ therefore start with one split byte. */
#include "json_check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct outcome {
	int res;
	uint64_t off;
	const char *err;
};

/* Feeds in[0..n) as pieces [0, cut) and [cut, n), or bytewise when cut
 * is SIZE_MAX, then finishes. */
static struct outcome run(const uint8_t *in, size_t n, size_t cut)
{
	struct json_check jc;
	struct outcome o = { JC_MORE, 0, NULL };
	int r = JC_MORE;
	size_t i;

	jc_init(&jc);
	if (cut == SIZE_MAX) {
		for (i = 0; i < n && r == JC_MORE; i++)
			r = jc_feed(&jc, in + i, 1);
	} else {
		r = jc_feed(&jc, in, cut);
		if (r == JC_MORE)
			r = jc_feed(&jc, in + cut, n - cut);
	}
	if (r == JC_MORE)
		r = jc_finish(&jc);
	else if (jc_finish(&jc) != JC_ERROR)
		abort(); /* an error must stick */
	o.res = r;
	if (r == JC_ERROR) {
		o.off = jc.err_offset;
		o.err = jc.err;
		if (o.err == NULL || o.off > n)
			abort();
	} else if (r != JC_DONE || jc.offset != n) {
		abort();
	}
	return o;
}

static void same(const struct outcome *a, const struct outcome *b)
{
	if (a->res != b->res || a->off != b->off)
		abort();
	if (a->res == JC_ERROR && strcmp(a->err, b->err) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome whole, o;
	struct json_check jc;
	const uint8_t *in;
	size_t n, cut;

	if (size == 0)
		return 0;
	in = data + 1;
	n = size - 1;
	cut = data[0] % (n + 1);

	whole = run(in, n, n);
	o = run(in, n, cut);
	same(&whole, &o);
	o = run(in, n, SIZE_MAX);
	same(&whole, &o);

	if (whole.res == JC_ERROR && whole.off < n) {
		/* The first off bytes are a viable prefix: no error while
		 * feeding them, and finish either accepts or reports the
		 * end; one byte more is the error itself. */
		jc_init(&jc);
		if (jc_feed(&jc, in, whole.off) != JC_MORE)
			abort();
		if (jc_finish(&jc) == JC_ERROR && jc.err_offset != whole.off)
			abort();
		/* (A BOM is told from other bytes at offset 0 only when
		 * its third byte arrives, so the text may differ there.) */
		jc_init(&jc);
		if (jc_feed(&jc, in, whole.off + 1) == JC_MORE &&
		    jc_finish(&jc) != JC_ERROR)
			abort();
		if (jc.err_offset != whole.off)
			abort();
	}
	return 0;
}
