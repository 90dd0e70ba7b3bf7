/* compress.c: the codecs round-trip (gzip through zlib's inflate, brotli
 * through libbrotlidec), and the cache keeps, finds, evicts and fills
 * entries by file identity. sf_compress.c: which types and requests are
 * compressed. */
#include <brotli/decode.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

#include "compress.h"
#include "config.h"
#include "http_parse.h"
#include "sf_compress.h"
#include "test.h"

static struct config test_cfg = {
	.compress = true, .compress_level_gzip = 6, .compress_level_br = 5,
	.compress_cache = 1 << 20, .compress_max = 8 << 20,
};
const struct config *cfg = &test_cfg;

/* Inflates a gzip stream: returns the length, or -1 when it is not one
 * whole valid stream. */
static long gunzip(const char *in, size_t n, char *out, size_t cap)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return -1;
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	int rc = inflate(&z, Z_FINISH);
	long got = (long)(cap - z.avail_out);
	bool whole = rc == Z_STREAM_END && z.avail_in == 0;
	inflateEnd(&z);
	return whole ? got : -1;
}

static long unbrotli(const char *in, size_t n, char *out, size_t cap)
{
	size_t got = cap;
	if (BrotliDecoderDecompress(n, (const uint8_t *)in, &got, (uint8_t *)out) !=
	    BROTLI_DECODER_RESULT_SUCCESS)
		return -1;
	return (long)got;
}

static long decode(int enc, const char *in, size_t n, char *out, size_t cap)
{
	return enc == CZ_GZIP ? gunzip(in, n, out, cap) : unbrotli(in, n, out, cap);
}

/* Text that compresses like a page does, but not trivially. */
static void fill_text(char *p, size_t n, unsigned seed)
{
	static const char *const words[] = { "<div class=\"row\">", "</div>\n", "lorem ", "ipsum ",
					     "<a href=\"/x\">", "</a>", "dolor ", "sit ", "amet, " };
	size_t i = 0;
	while (i < n) {
		seed = seed * 1103515245u + 12345u;
		const char *w = words[(seed >> 16) % 9];
		size_t k = strlen(w);
		if (k > n - i)
			k = n - i;
		memcpy(p + i, w, k);
		i += k;
	}
}

static void test_codecs(void)
{
	static const struct { int line; size_t n; } cases[] = {
		{ __LINE__, 0 }, { __LINE__, 1 }, { __LINE__, 300 }, { __LINE__, 20 * 1024 },
		{ __LINE__, 5 * 1024 * 1024 },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		size_t n = cases[c].n;
		char *in = malloc(n + 1), *back = malloc(n + 64);
		fill_text(in, n, (unsigned)c);
		for (int enc = CZ_GZIP; enc <= CZ_BR; enc++) {
			char *out = NULL;
			size_t out_n = 0;
			int rc = cz_encode(enc, enc == CZ_GZIP ? 6 : 5, in, n, &out, &out_n);
			ASSERT_EQ(cases[c].line, rc, 0);
			if (rc)
				continue;
			if (n >= 300)
				ASSERT_TRUE(cases[c].line, out_n < n / 2);
			long got = decode(enc, out, out_n, back, n + 64);
			ASSERT_EQ(cases[c].line, got, (long)n);
			ASSERT_TRUE(cases[c].line, got == (long)n && memcmp(in, back, n) == 0);
			free(out);
		}
		free(in);
		free(back);
	}
	char *out = NULL;
	size_t out_n = 0;
	ASSERT_EQ(__LINE__, cz_encode(CZ_GZIP, 0, "x", 1, &out, &out_n), -EINVAL);
	ASSERT_EQ(__LINE__, cz_encode(CZ_GZIP, 10, "x", 1, &out, &out_n), -EINVAL);
	ASSERT_EQ(__LINE__, cz_encode(CZ_BR, 12, "x", 1, &out, &out_n), -EINVAL);
	ASSERT_EQ(__LINE__, cz_encode(3, 5, "x", 1, &out, &out_n), -EINVAL);
	ASSERT_TRUE(__LINE__, out == NULL);
	/* Every level gives a stream that decodes to the input. */
	char in[4096], back[4200];
	fill_text(in, sizeof(in), 7);
	for (int enc = CZ_GZIP; enc <= CZ_BR; enc++) {
		for (int level = enc == CZ_GZIP ? 1 : 0; level <= (enc == CZ_GZIP ? 9 : 11); level++) {
			ASSERT_EQ(level, cz_encode(enc, level, in, sizeof(in), &out, &out_n), 0);
			long got = decode(enc, out, out_n, back, sizeof(back));
			ASSERT_TRUE(level, got == (long)sizeof(in) && memcmp(in, back, sizeof(in)) == 0);
			free(out);
		}
	}
}

/* A temporary file holding data: its descriptor, and its key in *k. */
static int temp_file(const char *data, size_t n, int enc, struct cz_key *k)
{
	char path[] = "/tmp/test_compress.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) {
		perror("mkstemp");
		exit(2);
	}
	unlink(path);
	if (write(fd, data, n) != (ssize_t)n) {
		perror("write");
		exit(2);
	}
	struct stat sb;
	fstat(fd, &sb);
	*k = (struct cz_key){
		.dev = (uint64_t)sb.st_dev, .ino = (uint64_t)sb.st_ino, .size = (uint64_t)sb.st_size,
		.mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec,
		.type = NULL, .enc = enc,
	};
	return fd;
}

static void test_encode_fd(void)
{
	char text[10000], back[10100];
	fill_text(text, sizeof(text), 3);
	struct cz_key k;
	int fd = temp_file(text, sizeof(text), CZ_BR, &k);
	char *out = NULL;
	size_t out_n = 0;
	ASSERT_EQ(__LINE__, cz_encode_fd(&k, 5, fd, &out, &out_n), 0);
	ASSERT_EQ(__LINE__, unbrotli(out, out_n, back, sizeof(back)), (long)sizeof(text));
	ASSERT_TRUE(__LINE__, memcmp(back, text, sizeof(text)) == 0);
	free(out);
	/* Not the file k names: another time, another size. */
	struct cz_key old = k;
	old.mtime_ns -= 1;
	ASSERT_EQ(__LINE__, cz_encode_fd(&old, 5, fd, &out, &out_n), -ESTALE);
	old = k;
	old.size += 10;
	ASSERT_EQ(__LINE__, cz_encode_fd(&old, 5, fd, &out, &out_n), -ESTALE);
	close(fd);
}

static struct cz_key key(uint64_t ino, int enc)
{
	return (struct cz_key){ .dev = 1, .ino = ino, .size = 1000, .mtime_ns = 5, .enc = enc };
}

static char *bytes(size_t n, char fill)
{
	char *p = malloc(n);
	memset(p, fill, n);
	return p;
}

static void test_cache(void)
{
	bool pending;
	struct cz_key k1 = key(1, CZ_GZIP);
	ASSERT_TRUE(__LINE__, cz_find(&k1, &pending) == NULL && !pending);
	struct cz_entry *e = cz_add(&k1, bytes(100, 'a'), 100);
	ASSERT_TRUE(__LINE__, e != NULL && e->n == 100 && e->data[99] == 'a' && !e->useless);
	cz_put(e);
	e = cz_find(&k1, &pending);
	ASSERT_TRUE(__LINE__, e != NULL && e->n == 100);
	cz_put(e);
	/* Another encoding, another time, another size, another type: misses. */
	struct cz_key other[4] = { key(1, CZ_BR), k1, k1, k1 };
	other[1].mtime_ns++;
	other[2].size++;
	other[3].type = &test_cfg;
	for (int i = 0; i < 4; i++)
		ASSERT_TRUE(i, cz_find(&other[i], &pending) == NULL);
	/* A second add for the same key gives the first entry. */
	e = cz_add(&k1, bytes(50, 'b'), 50);
	ASSERT_TRUE(__LINE__, e != NULL && e->n == 100 && e->data[0] == 'a');
	cz_put(e);
	/* Useless: kept, so it is not compressed again, and marked. */
	struct cz_key k2 = key(2, CZ_BR);
	cz_put(cz_add(&k2, NULL, 0));
	e = cz_find(&k2, &pending);
	ASSERT_TRUE(__LINE__, e != NULL && e->useless && e->data == NULL);
	cz_put(e);
	/* The header block is set once. */
	e = cz_find(&k1, &pending);
	cz_set_hdr(e, "A: 1\r\n", 6);
	cz_set_hdr(e, "B: 22\r\n", 7);
	const struct cz_hdr *hd = cz_hdr(e);
	ASSERT_TRUE(__LINE__, hd != NULL);
	if (hd)
		ASSERT_STR(__LINE__, hd->b, hd->n, "A: 1\r\n");
	cz_put(e);
}

/* With a 1 MiB bound, 300 KiB entries: the fourth evicts the least
 * recently used, and an entry in use survives its eviction. */
static void test_eviction(void)
{
	bool pending;
	struct cz_key k[6];
	for (int i = 0; i < 6; i++)
		k[i] = key(100 + (uint64_t)i, CZ_GZIP);
	for (int i = 0; i < 3; i++)
		cz_put(cz_add(&k[i], bytes(300 << 10, (char)('0' + i)), 300 << 10));
	struct cz_entry *held = cz_find(&k[0], &pending); /* now the most recent */
	ASSERT_TRUE(__LINE__, held != NULL);
	cz_put(cz_add(&k[3], bytes(300 << 10, '3'), 300 << 10));
	struct cz_entry *e = cz_find(&k[1], &pending);
	ASSERT_TRUE(__LINE__, e == NULL);
	cz_put(e);
	ASSERT_TRUE(__LINE__, cz_bytes() <= (1u << 20));
	cz_put(cz_add(&k[4], bytes(300 << 10, '4'), 300 << 10));
	ASSERT_TRUE(__LINE__, cz_find(&k[2], &pending) == NULL);
	cz_put(cz_add(&k[5], bytes(300 << 10, '5'), 300 << 10));
	/* k[0] was the least recent now: gone from the cache, alive for us. */
	ASSERT_TRUE(__LINE__, cz_find(&k[0], &pending) == NULL);
	ASSERT_TRUE(__LINE__, held->data[(300 << 10) - 1] == '0');
	cz_put(held);
	/* Larger than the whole cache: served once, never listed. */
	struct cz_key big = key(200, CZ_BR);
	e = cz_add(&big, bytes(2 << 20, 'x'), 2 << 20);
	ASSERT_TRUE(__LINE__, e != NULL && e->n == (2u << 20));
	cz_put(e);
	ASSERT_TRUE(__LINE__, cz_find(&big, &pending) == NULL);
	ASSERT_TRUE(__LINE__, cz_bytes() <= (1u << 20));
}

/* The background thread fills a submitted key; until then it is pending. */
static void test_submit(void)
{
	size_t n = 200 * 1024;
	char *text = malloc(n), *back = malloc(n + 64);
	fill_text(text, n, 11);
	struct cz_key k;
	int fd = temp_file(text, n, CZ_GZIP, &k);
	cz_submit(&k, 6, fd);
	close(fd); /* the job has its own duplicate */
	bool pending = true;
	struct cz_entry *e = NULL;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		e = cz_find(&k, &pending);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (e == NULL && pending && t.tv_sec - t0.tv_sec < 10);
	ASSERT_TRUE(__LINE__, e != NULL);
	if (e) {
		ASSERT_EQ(__LINE__, gunzip(e->data, e->n, back, n + 64), (long)n);
		ASSERT_TRUE(__LINE__, memcmp(text, back, n) == 0);
		cz_put(e);
	}
	free(text);
	free(back);
}

static void test_types(void)
{
	static const struct { int line; const char *type; bool yes; } cases[] = {
		{ __LINE__, "text/html; charset=utf-8", true },
		{ __LINE__, "text/css; charset=utf-8", true },
		{ __LINE__, "text/javascript; charset=utf-8", true },
		{ __LINE__, "application/json; charset=utf-8", true },
		{ __LINE__, "application/ld+json; charset=utf-8", true },
		{ __LINE__, "application/manifest+json; charset=utf-8", true },
		{ __LINE__, "application/xml; charset=utf-8", true },
		{ __LINE__, "application/atom+xml; charset=utf-8", true },
		{ __LINE__, "application/xhtml+xml; charset=utf-8", true },
		{ __LINE__, "image/svg+xml; charset=utf-8", true },
		{ __LINE__, "application/wasm", true },
		{ __LINE__, "application/yaml; charset=utf-8", true },
		{ __LINE__, "application/octet-stream", false },
		{ __LINE__, "application/gzip", false },
		{ __LINE__, "application/zip", false },
		{ __LINE__, "application/pdf", false },
		{ __LINE__, "image/png", false },
		{ __LINE__, "image/jpeg", false },
		{ __LINE__, "font/woff2", false },
		{ __LINE__, "video/mp4", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ASSERT_EQ(cases[i].line, sfz_compressible(cases[i].type), cases[i].yes);
}

static void test_no_transform(void)
{
	static const struct { int line; const char *fields; bool yes; } cases[] = {
		{ __LINE__, "", false },
		{ __LINE__, "Cache-Control: no-transform\r\n", true },
		{ __LINE__, "Cache-Control: No-Transform\r\n", true },
		{ __LINE__, "Cache-Control: max-age=0, no-transform\r\n", true },
		{ __LINE__, "Cache-Control: max-age=0,no-transform,no-cache\r\n", true },
		{ __LINE__, "Cache-Control: no-cache\r\nCache-Control: no-transform\r\n", true },
		{ __LINE__, "Cache-Control: no-transformer\r\n", false },
		{ __LINE__, "Cache-Control: x-no-transform\r\n", false },
		{ __LINE__, "Cache-Control: no-cache\r\n", false },
		{ __LINE__, "X-Cache-Control: no-transform\r\n", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[512];
		int n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\n%s\r\n", cases[i].fields);
		struct http_request req;
		int rc = hp_parse_request(buf, (size_t)n, &req);
		ASSERT_EQ(cases[i].line, rc, n);
		if (rc == n)
			ASSERT_EQ(cases[i].line, sfz_no_transform(&req), cases[i].yes);
	}
}

int main(void)
{
	test_codecs();
	test_encode_fd();
	test_types();
	test_no_transform();
	if (cz_init(1 << 20) != 0) {
		fprintf(stderr, "cz_init failed\n");
		return 2;
	}
	test_cache();
	test_eviction();
	test_submit();
	cz_destroy();
	return test_summary();
}
