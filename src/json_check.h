/* Streaming RFC 8259 validator: feed arbitrary slices, memory is constant. */
#ifndef MTHTTPD_JSON_CHECK_H
#define MTHTTPD_JSON_CHECK_H

#include <stddef.h>
#include <stdint.h>

#define JC_MAX_DEPTH 512

enum jc_result { JC_MORE = 0, JC_DONE = 1, JC_ERROR = -1 };

struct json_check {
	uint64_t offset;     /* bytes fed so far */
	uint64_t err_offset; /* on error: offset of the first offending byte */
	const char *err;     /* on error: static text, e.g. "invalid number" */
	int state;
	/* ... private state: the implementation may add fields, but no
	 * pointers to heap memory; the struct is all there is. */
	unsigned depth;                  /* open arrays and objects */
	uint8_t stack[JC_MAX_DEPTH / 8]; /* 1 bit per open container: 1 = object */
	uint8_t in_key;                  /* the open string is an object key */
	uint8_t lit;                     /* in a literal: index of the next byte */
};

void jc_init(struct json_check *jc);

/* Feeds buf[0..len) (any split, even inside a UTF-8 sequence or escape).
 * Returns JC_MORE, or JC_ERROR with err and err_offset set (then further
 * calls keep returning JC_ERROR). */
int jc_feed(struct json_check *jc, const void *buf, size_t len);

/* Ends the input. Returns JC_DONE when exactly one valid JSON text (with
 * optional surrounding whitespace) was fed, else JC_ERROR with err_offset
 * set (the end offset for a truncated text or an empty body). */
int jc_finish(struct json_check *jc);

#endif
