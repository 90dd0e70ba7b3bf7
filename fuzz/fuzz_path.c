/* libFuzzer harness for path_resolve. The input, with a '/' put in front,
 * is the request path. Checked:
 * - a resolved path can never reach outside the root or a dot-file: no
 *   segment "..", "." or starting with '.', no leading '/', no backslash,
 *   no NUL before the terminator, no empty segment ("a..b" is a name);
 * - resolving is idempotent: the result, with its '%' re-encoded, resolves
 *   to itself;
 * - a small output buffer changes nothing but the 414 boundary, which
 *   exercises the path where ".." climbs back from a result that did not
 *   fit. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"

#define OUTSZ 4096

static void check_result(const char *out, size_t outsz)
{
	size_t len = strnlen(out, outsz);

	if (len == outsz)
		abort();                /* not terminated inside out */
	if (len == 0)
		return;
	if (out[0] == '/' || out[len - 1] == '/')
		abort();
	if (memchr(out, '\\', len))
		abort();
	for (size_t i = 0; i < len; i++) {
		/* Segment starts: a dot there is a dot-file, "..", or ".". */
		if ((i == 0 || out[i - 1] == '/') && (out[i] == '.' || out[i] == '/'))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char big[OUTSZ], again[OUTSZ], small[32];
	static char re[3 * OUTSZ + 1];
	size_t n = size + 1;
	char *in = malloc(n);
	bool dir, dir2;

	if (!in)
		return 0;
	in[0] = '/';
	memcpy(in + 1, data, size);

	int st = path_resolve(in, n, big, sizeof(big), &dir);

	switch (st) {
	case 0:
		check_result(big, sizeof(big));
		break;
	case 400: case 403: case 404: case 414:
		if (big[0] != '\0' || dir)
			abort();
		break;
	default:
		abort();
	}

	if (st == 0) {
		/* Re-encode '%' so the text is taken literally. */
		size_t len = strlen(big), m = 0;

		re[m++] = '/';
		for (size_t i = 0; i < len; i++) {
			if (big[i] == '%') {
				memcpy(re + m, "%25", 3);
				m += 3;
			} else {
				re[m++] = big[i];
			}
		}
		if (path_resolve(re, m, again, sizeof(again), &dir2) != 0 ||
		    strcmp(again, big) != 0 || dir2 != (len == 0))
			abort();
	}

	/* The same path into a buffer of 1..32 bytes. */
	size_t ssz = 1 + size % sizeof(small);
	int st2 = path_resolve(in, n, small, ssz, &dir2);

	switch (st) {
	case 0:
		if (strlen(big) < ssz) {
			if (st2 != 0 || strcmp(small, big) != 0 || dir2 != dir)
				abort();
		} else if (st2 != 414) {
			abort();
		}
		break;
	case 404:
		if (st2 != 404 && st2 != 414)
			abort();
		break;
	default:
		if (st2 != st)
			abort();
	}
	free(in);
	return 0;
}
