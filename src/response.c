/* The parts of a multipart/byteranges body (RFC 9110 14.6). */
#include "response.h"

#include "mime.h"

void hreq_accept_brgz(const struct hreq *h, int *br, int *gzip)
{
	const struct hp_info *info = h->info;
	*br = *gzip = 0;
	if (info->accept_encoding.p == NULL)
		return;
	if (info->accept_encoding_multi) {
		struct hp_slice v[HP_MAX_HEADERS];
		size_t n = hp_field_lines(h->req, "accept-encoding", v, HP_MAX_HEADERS);
		*br = mime_accept_q_lines(v, n, "br");
		*gzip = mime_accept_q_lines(v, n, "gzip");
	} else {
		*br = mime_accept_q(info->accept_encoding.p, info->accept_encoding.n, "br");
		*gzip = mime_accept_q(info->accept_encoding.p, info->accept_encoding.n, "gzip");
	}
}

void resp_content_range(struct obuf *o, uint64_t first, uint64_t last, uint64_t size)
{
	ob_puts(o, "Content-Range: bytes ");
	ob_u64(o, first);
	ob_put(o, "-", 1);
	ob_u64(o, last);
	ob_put(o, "/", 1);
	ob_u64(o, size);
	ob_put(o, "\r\n", 2);
}

void resp_part_head(struct obuf *o, const struct byteranges *br, int i)
{
	ob_puts(o, "\r\n--");
	ob_puts(o, br->boundary);
	if (i == br->n) {
		ob_puts(o, "--\r\n");
		return;
	}
	ob_puts(o, "\r\nContent-Type: ");
	ob_puts(o, br->type);
	ob_put(o, "\r\n", 2);
	resp_content_range(o, br->r[i].first, br->r[i].last, br->size);
	ob_put(o, "\r\n", 2);
}

uint64_t resp_parts_length(const struct byteranges *br)
{
	uint64_t total = 0;
	for (int i = 0; i <= br->n; i++) {
		char tmp[256];
		struct obuf o;
		obuf_init(&o, tmp, sizeof(tmp));
		resp_part_head(&o, br, i);
		total += o.n;
		if (i < br->n)
			total += br->r[i].last - br->r[i].first + 1;
	}
	return total;
}
