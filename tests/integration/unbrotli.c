/* Test helper: decodes a brotli stream from standard input to standard
 * output (Python's standard library has no brotli). Exit 1 when the input
 * is not one whole valid stream. */
#include <brotli/decode.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	size_t cap = 1 << 20, n = 0;
	unsigned char *in = malloc(cap);
	size_t r;
	while (in && (r = fread(in + n, 1, cap - n, stdin)) > 0) {
		n += r;
		if (n == cap)
			in = realloc(in, cap *= 2);
	}
	if (in == NULL)
		return 2;
	BrotliDecoderState *s = BrotliDecoderCreateInstance(NULL, NULL, NULL);
	const uint8_t *next_in = in;
	size_t avail_in = n;
	unsigned char out[65536];
	BrotliDecoderResult res;
	do {
		uint8_t *next_out = out;
		size_t avail_out = sizeof(out);
		res = BrotliDecoderDecompressStream(s, &avail_in, &next_in, &avail_out, &next_out, NULL);
		fwrite(out, 1, sizeof(out) - avail_out, stdout);
	} while (res == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT);
	BrotliDecoderDestroyInstance(s);
	free(in);
	return res == BROTLI_DECODER_RESULT_SUCCESS && avail_in == 0 ? 0 : 1;
}
