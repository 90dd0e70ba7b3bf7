/* libFuzzer harness for pp_parse (src/proxy_proto.c).
 *
 * Input: the first bytes of a connection. Checks the contract rather than
 * exact answers: the return is PP_INCOMPLETE, PP_ERROR or a length within
 * the input and PP_MAX_LEN; an accepted header is accepted alike with
 * nothing after it and is incomplete one byte short; an incomplete input
 * was incomplete one byte short too (never an error first); an accepted
 * address has family AF_INET or AF_INET6 unless the peer is kept; and the
 * parse is deterministic. */
#include "proxy_proto.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const char *b = (const char *)data;
	struct pp_result r, again;
	int rc;

	memset(&r, 0, sizeof(r));
	rc = pp_parse(b, len, &r);
	if (rc != PP_INCOMPLETE && rc != PP_ERROR && (rc <= 0 || (size_t)rc > len || rc > PP_MAX_LEN))
		abort();
	if (rc == PP_INCOMPLETE && len >= PP_MAX_LEN)
		abort();
	if (rc == PP_INCOMPLETE && len > 0 && pp_parse(b, len - 1, &again) != PP_INCOMPLETE)
		abort();
	if (rc > 0) {
		if (r.version != 1 && r.version != 2)
			abort();
		if (r.version == 1 && rc > PP_V1_MAX)
			abort();
		if (r.keep_peer ? r.src.ss_family != AF_UNSPEC
				: r.src.ss_family != AF_INET && r.src.ss_family != AF_INET6)
			abort();
		if (!r.keep_peer && r.dst.ss_family != r.src.ss_family)
			abort();
		/* The header alone says the same; one byte less is not enough. */
		memset(&again, 0, sizeof(again));
		if (pp_parse(b, (size_t)rc, &again) != rc || memcmp(&r, &again, sizeof(r)) != 0)
			abort();
		if (pp_parse(b, (size_t)rc - 1, &again) != PP_INCOMPLETE)
			abort();
	}
	/* Pure: the same input gives the same answer. */
	memset(&again, 0, sizeof(again));
	if (pp_parse(b, len, &again) != rc || (rc > 0 && memcmp(&r, &again, sizeof(r)) != 0))
		abort();
	return 0;
}
