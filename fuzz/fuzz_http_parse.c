/* libFuzzer harness for the HTTP parser (src/http_parse.c).
 *
 * The input is parsed as a request head; a head is fed to hp_analyze. The
 * bytes after the head (or all of them when there is no head) are then fed
 * to the chunked decoder three ways: whole, in two pieces split at a
 * position picked from the input, and one byte at a time; the three must
 * agree on the outcome, the bytes consumed and the data. Every buffer is an
 * exact-size heap copy, so ASan catches any read past the end.
 *
 * Beyond "no crash" it checks the contract the server relies on: slices lie
 * inside the buffer, a complete head is incomplete one byte shorter, an
 * error is final (more bytes give the same error), and a prefix of an
 * incomplete head is incomplete too. */
#include "http_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(bool ok)
{
	if (!ok)
		abort();
}

static bool inside(struct hp_slice s, const char *buf, size_t n)
{
	if (s.p == NULL)
		return s.n == 0;
	return s.p >= buf && (size_t)(s.p - buf) <= n && s.n <= n - (size_t)(s.p - buf);
}

static char *copy(const void *p, size_t n)
{
	char *c = malloc(n ? n : 1);

	check(c != NULL);
	memcpy(c, p, n);
	return c;
}

static void check_head(const struct http_request *req, const char *buf, int r)
{
	size_t n = (size_t)r, i;

	check(r <= HP_MAX_HEAD && req->nheaders <= HP_MAX_HEADERS);
	check(inside(req->line, buf, n) && inside(req->method, buf, n) &&
	      inside(req->target, buf, n) && inside(req->authority, buf, n) &&
	      inside(req->path, buf, n) && inside(req->query, buf, n));
	check(req->path.p != NULL && req->path.n > 0);
	check(req->minor == 0 || req->minor == 1);
	check((req->form == HP_ABSOLUTE) == (req->authority.p != NULL));
	for (i = 0; i < req->nheaders; i++) {
		const struct hp_header *h = &req->headers[i];

		check(inside(h->name, buf, n) && inside(h->value, buf, n) && h->name.n > 0);
		check(h->value.n == 0 || (h->value.p[0] != ' ' && h->value.p[0] != '\t'));
		check(memchr(h->value.p, '\r', h->value.n) == NULL);
	}
}

/* A list field's lines (hp_field_lines): the first is the slice hp_analyze
 * kept, "multi" means more than one, and joined they are what
 * hp_join_field gives whenever that fits its buffer. */
static void check_list(const struct http_request *req, const char *name, struct hp_slice first,
		       bool multi)
{
	static char joined[HP_MAX_HEAD + 2 * HP_MAX_HEADERS], mine[HP_MAX_HEAD + 2 * HP_MAX_HEADERS];
	struct hp_slice lines[HP_MAX_HEADERS];
	size_t nl = hp_field_lines(req, name, lines, HP_MAX_HEADERS), jn, mn = 0;

	check(nl <= req->nheaders);
	check((nl == 0) == (first.p == NULL));
	check(nl == 0 || (lines[0].p == first.p && lines[0].n == first.n));
	check(multi == (nl > 1));
	for (size_t k = 0; k < nl; k++) {
		/* As hp_join_field: a separator only after something (an empty
		 * first line adds none; the list means the same either way). */
		if (mn) {
			memcpy(mine + mn, ", ", 2);
			mn += 2;
		}
		memcpy(mine + mn, lines[k].p, lines[k].n);
		mn += lines[k].n;
	}
	jn = hp_join_field(req, name, joined, sizeof(joined));
	check(jn == mn && memcmp(joined, mine, mn) == 0);
	if (nl > 1)
		check(hp_field_lines(req, name, lines, 1) == 1);
}

static void check_lists(const struct http_request *req, const struct hp_info *info)
{
	check_list(req, "if-match", info->if_match, info->if_match_multi);
	check_list(req, "If-None-Match", info->if_none_match, info->if_none_match_multi);
	check_list(req, "ACCEPT-ENCODING", info->accept_encoding, info->accept_encoding_multi);
}

static void check_info(const struct http_request *req, const char *buf, int r)
{
	struct hp_info info;
	const char *reason = (const char *)1;
	int st = hp_analyze(req, &info, &reason);
	size_t n = (size_t)r;

	check(st == 0 || st == 400 || st == 417 || st == 501);
	check(st == 0 ? reason == NULL : reason != NULL);
	if (st != 0)
		return;
	check(inside(info.host, buf, n) && inside(info.content_type, buf, n) &&
	      inside(info.range, buf, n) && inside(info.if_none_match, buf, n));
	check(!(info.chunked && info.has_length));
	check(req->minor == 0 || info.host.p != NULL);
	check(!info.has_length || info.length <= (uint64_t)INT64_MAX);
	check_lists(req, &info);
}

static void check_parse(const uint8_t *data, size_t size)
{
	struct http_request *req = malloc(sizeof(*req));
	char *buf = copy(data, size), *more;
	size_t half = size / 2;
	int r, r2, status;
	const char *reason;

	check(req != NULL);
	r = hp_parse_request(buf, size, req);
	if (r > 0) {
		check((size_t)r <= size);
		check_head(req, buf, r);
		check_info(req, buf, r);
		/* Complete exactly when its last byte arrives. */
		free(buf);
		buf = copy(data, (size_t)r);
		check(hp_parse_request(buf, (size_t)r, req) == r);
		check(hp_parse_request(buf, (size_t)r - 1, req) == HP_INCOMPLETE);
	} else if (r == HP_ERROR) {
		status = req->status;
		reason = req->reason;
		check(reason != NULL);
		check(status == 400 || status == 431 || status == 505 ||
		      (status == 414 && size >= HP_MAX_HEAD));
		/* More bytes cannot make a malformed head good. */
		more = malloc(size + 4);
		check(more != NULL);
		memcpy(more, data, size);
		memcpy(more + size, "\r\n\r\n", 4);
		r2 = hp_parse_request(more, size + 4, req);
		check(r2 == HP_ERROR && req->status == status && req->reason == reason);
		free(more);
	} else {
		check(r == HP_INCOMPLETE && size < HP_MAX_HEAD);
	}
	/* A prefix of an incomplete head, or a proper prefix of a complete
	 * one, is incomplete; a prefix of an erroneous one is incomplete or
	 * the same error. */
	free(buf);
	buf = copy(data, half);
	status = req->status;
	r2 = hp_parse_request(buf, half, req);
	if (r == HP_INCOMPLETE || (r > 0 && half < (size_t)r))
		check(r2 == HP_INCOMPLETE);
	else if (r == HP_ERROR && status != 414 && status != 431)
		check(r2 == HP_INCOMPLETE || (r2 == HP_ERROR && req->status == status));
	free(buf);
	free(req);
}

struct outcome {
	int err;
	bool done;
	size_t used, outn;
};

/* Feeds in[0..n) as pieces [0, cut) and [cut, n), or one byte at a time
 * when cut is SIZE_MAX; each piece is its own heap block. */
static struct outcome run(const uint8_t *in, size_t n, size_t cut, char *out)
{
	struct hp_chunked c;
	struct outcome o = { 0, false, 0, 0 };

	hp_chunked_init(&c);
	while (o.used < n && !c.done) {
		size_t end = cut == SIZE_MAX ? o.used + 1 : (o.used < cut ? cut : n);
		size_t pn = end - o.used, at = 0;
		char *piece = copy(in + o.used, pn);

		while (at < pn && !c.done) {
			struct hp_slice d;
			size_t used;

			if (hp_chunked_feed(&c, piece + at, pn - at, &used, &d) != 0) {
				o.err = 1;
				break;
			}
			check(used <= pn - at);
			check(d.n == 0 || (d.p == piece + at + used - d.n));
			check(used > 0 || d.n > 0 || c.done);
			memcpy(out + o.outn, d.p ? d.p : "", d.n);
			o.outn += d.n;
			at += used;
		}
		free(piece);
		o.used += at;
		if (o.err)
			break;
	}
	o.done = c.done;
	check(!(o.err && o.done));
	return o;
}

static void check_chunked(const uint8_t *in, size_t n, size_t cut)
{
	char *a = malloc(n + 1), *b = malloc(n + 1), *c = malloc(n + 1);
	struct outcome whole, split, bytes;

	check(a && b && c);
	whole = run(in, n, n, a);
	split = run(in, n, cut, b);
	bytes = run(in, n, SIZE_MAX, c);
	check(whole.err == split.err && whole.err == bytes.err);
	check(whole.done == split.done && whole.done == bytes.done);
	if (!whole.err) {
		check(whole.used == split.used && whole.used == bytes.used);
		check(whole.outn == split.outn && whole.outn == bytes.outn);
		check(memcmp(a, b, whole.outn) == 0 && memcmp(a, c, whole.outn) == 0);
	}
	free(a);
	free(b);
	free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request *req = malloc(sizeof(*req));
	const uint8_t *body = data;
	size_t n = size, cut;
	int r;

	check(req != NULL);
	check_parse(data, size);
	r = hp_parse_request((const char *)data, size, req);
	if (r > 0) {
		body = data + r;
		n = size - (size_t)r;
	}
	free(req);
	cut = size ? ((size_t)data[size - 1] * 257u + data[0]) % (n + 1) : 0;
	check_chunked(body, n, cut);
	return 0;
}
