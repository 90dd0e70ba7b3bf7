/* Range header parsing (RFC 9110 §14). Pure. */
#ifndef MTHTTPD_RANGE_H
#define MTHTTPD_RANGE_H

#include <stddef.h>
#include <stdint.h>

#define RANGE_MAX 16          /* more ranges than this: the header is ignored */
#define RANGE_UNSATISFIABLE (-1)

struct byte_range {
	uint64_t first, last; /* inclusive, last < size */
};

/* Parses the Range value v[0..n) for a representation of size bytes.
 * Returns the number of satisfiable ranges written to out[0..max) (with
 * overlapping or adjacent ranges coalesced, in the order of the request: a
 * merged range stands where its earliest member was), 0 when the header is
 * to be ignored (not "bytes=", syntactically invalid, more than max
 * ranges), or RANGE_UNSATISFIABLE when it is valid but no range can be
 * satisfied. Numbers of any length never overflow: a last-pos past the end
 * is clamped, a first-pos too large is unsatisfiable. */
int range_parse(const char *v, size_t n, uint64_t size, struct byte_range *out, int max);

#endif
