/* Which requests get a compressed body, and from where (see sf_compress.h). */
#include "sf_compress.h"

#include <stdlib.h>
#include <string.h>

#include "chars.h"
#include "compress.h"
#include "config.h"
#include "mime.h"

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

bool sfz_compressible(const char *type)
{
	if (has_prefix(type, "text/"))
		return true;
	if (has_prefix(type, "image/svg+xml") || has_prefix(type, "application/wasm") ||
	    has_prefix(type, "application/javascript") || has_prefix(type, "application/yaml"))
		return true;
	if (!has_prefix(type, "application/"))
		return false;
	/* application/json, ld+json, manifest+json, xml, atom+xml, rss+xml,
	 * xhtml+xml: the suffix names the syntax (RFC 6839). */
	const char *end = strchr(type, ';');
	size_t n = end ? (size_t)(end - type) : strlen(type);
	return (n >= 4 && (memcmp(type + n - 4, "json", 4) == 0 || memcmp(type + n - 3, "xml", 3) == 0));
}

/* True when v[0..n) has the directive no-transform (a token of its own:
 * not inside another name or a quoted value's prefix). */
static bool has_no_transform(const char *v, size_t n)
{
	static const char want[] = "no-transform";
	const size_t wn = sizeof(want) - 1;
	for (size_t i = 0; i + wn <= n; i++) {
		if (i > 0 && v[i - 1] != ',' && v[i - 1] != ' ' && v[i - 1] != '\t')
			continue;
		size_t j = 0;
		while (j < wn && ch_lower((unsigned char)v[i + j]) == want[j])
			j++;
		if (j < wn)
			continue;
		if (i + wn == n || v[i + wn] == ',' || v[i + wn] == ' ' || v[i + wn] == '\t' ||
		    v[i + wn] == ';' || v[i + wn] == '=')
			return true;
	}
	return false;
}

bool sfz_no_transform(const struct http_request *req)
{
	struct hp_slice v[HP_MAX_HEADERS];
	size_t n = hp_field_lines(req, "cache-control", v, HP_MAX_HEADERS);
	for (size_t i = 0; i < n; i++)
		if (has_no_transform(v[i].p, v[i].n))
			return true;
	return false;
}

/* The encoding the client prefers of gzip and br (br on a tie), or 0. */
static int pick_encoding(const struct hreq *h)
{
	int qb, qg;
	hreq_accept_brgz(h, &qb, &qg);
	if (qb <= 0 && qg <= 0)
		return 0;
	return qb >= qg ? CZ_BR : CZ_GZIP;
}

/* The cached entry for k, compressing it inline when small; NULL when the
 * identity must be sent (too large: queued; or out of memory). */
static struct cz_entry *get_entry(const struct cz_key *k, const struct fentry *e, int fd)
{
	bool pending;
	struct cz_entry *z = cz_find(k, &pending);
	if (z || pending)
		return z;
	int level = k->enc == CZ_BR ? cfg->compress_level_br : cfg->compress_level_gzip;
	if (k->size > SFZ_INLINE_MAX) {
		cz_submit(k, level, fd);
		return NULL;
	}
	char *out = NULL;
	size_t out_n = 0;
	int rc = e->data ? cz_encode(k->enc, level, e->data, (size_t)k->size, &out, &out_n)
			 : cz_encode_fd(k, level, fd, &out, &out_n);
	if (rc < 0)
		return NULL;
	if (out_n >= k->size) {
		free(out);
		out = NULL;
	}
	return cz_add(k, out, out_n);
}

struct cz_entry *sfz_choose(const struct hreq *h, struct fentry *e, struct fc_rep *z)
{
	const struct fc_rep *id = &e->rep[FC_IDENTITY];
	uint64_t size = (uint64_t)id->sb.st_size;
	if (!cfg->compress || size < SFZ_MIN || size > cfg->compress_max || h->info->range.p)
		return NULL;
	int enc = pick_encoding(h);
	if (enc == 0 || !sfz_compressible(e->mt->type) || sfz_no_transform(h->req))
		return NULL;
	struct cz_key k = {
		.dev = (uint64_t)id->sb.st_dev, .ino = (uint64_t)id->sb.st_ino, .size = size,
		.mtime_ns = (int64_t)id->sb.st_mtim.tv_sec * 1000000000 + id->sb.st_mtim.tv_nsec,
		.type = e->mt, .enc = enc,
	};
	struct cz_entry *c = get_entry(&k, e, id->fd);
	if (c == NULL)
		return NULL;
	if (c->useless || id->etag_n < 2 || id->etag_n + 3 > ETAG_MAX) {
		cz_put(c);
		return NULL;
	}
	/* The identity's validators, and its ETag with the coding's suffix
	 * inside the quotes, as etag_make writes it for a sibling. */
	z->state = FC_PRESENT;
	z->variant = enc == CZ_BR ? 'b' : 'g';
	z->fd = -1;
	z->sb = id->sb;
	z->sb.st_size = (off_t)c->n;
	memcpy(z->etag, id->etag, id->etag_n - 1u);
	memcpy(z->etag + id->etag_n - 1, enc == CZ_BR ? "-br\"" : "-gz\"", 4);
	z->etag_n = (uint8_t)(id->etag_n + 3);
	memcpy(z->last_modified, id->last_modified, sizeof(z->last_modified));
	z->hdr = NULL; /* the caller takes the fields from cz_hdr(c) */
	z->hdr_n = 0;
	return c;
}
