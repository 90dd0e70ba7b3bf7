/* mime_lookup under both policies, and mime_accept_q on Accept-Encoding
 * values, as tables tagged with their line. Every name and value is copied
 * to just before a guard page, so a read past its end crashes. */
#include <stdbool.h>
#include <stdlib.h>

#include "mime.h"
#include "test.h"

#define HTML "text/html; charset=utf-8"
#define OCTET "application/octet-stream"

struct lookup_case {
	int line;
	const char *name;
	enum mime_policy p;
	const char *type;  /* NULL: no type (415) */
	bool attachment;
};

#define L(name, p, type, att) { __LINE__, name, p, type, att }

static const struct lookup_case lookups[] = {
	/* --types seed: every rule, in several spellings. */
	L("index.html", MIME_SEED, HTML, false),
	L("a.htm", MIME_SEED, HTML, false),
	L("file.HTML", MIME_SEED, HTML, false),
	L("FILE.HtM", MIME_SEED, HTML, false),
	L("sub/dir/page.html", MIME_SEED, HTML, false),
	L("notes.txt", MIME_SEED, OCTET, true),
	L("NOTES.TXT", MIME_SEED, OCTET, true),
	L("pic.png", MIME_SEED, OCTET, true),
	L("pic.PNG", MIME_SEED, OCTET, true),
	L("photo.jpg", MIME_SEED, OCTET, true),
	L("photo.JPG", MIME_SEED, OCTET, true),
	L("photo.jpeg", MIME_SEED, OCTET, true),
	L("photo.JpEg", MIME_SEED, OCTET, true),
	L("data.json", MIME_SEED, NULL, false),
	L("style.css", MIME_SEED, NULL, false),
	L("x.exe", MIME_SEED, NULL, false),
	L("archive.tar.gz", MIME_SEED, NULL, false),
	L("page.html.gz", MIME_SEED, NULL, false),
	L("notes.txt.bak", MIME_SEED, NULL, false),
	L("archive.gz.html", MIME_SEED, HTML, false),
	L("README", MIME_SEED, NULL, false),
	L("file.", MIME_SEED, NULL, false),
	L("sub.html/README", MIME_SEED, NULL, false),
	L("sub.d/x.png", MIME_SEED, OCTET, true),
	L("x.htmlx", MIME_SEED, NULL, false),
	L("x.ht", MIME_SEED, NULL, false),
	L("x.thisisaverylongextension", MIME_SEED, NULL, false),
	L("", MIME_SEED, NULL, false),
	/* --types all: names the table does not know. */
	L("x.exe", MIME_ALL, OCTET, false),
	L("README", MIME_ALL, OCTET, false),
	L("file.", MIME_ALL, OCTET, false),
	L("", MIME_ALL, OCTET, false),
	L("sub.html/README", MIME_ALL, OCTET, false),
	L("x.thisisaverylongextension", MIME_ALL, OCTET, false),
	L("x.htmlx", MIME_ALL, OCTET, false),
	L("x.a", MIME_ALL, OCTET, false),
	L("x.zzzz", MIME_ALL, OCTET, false),
	L("x.0", MIME_ALL, OCTET, false),
	/* The last dot of the last segment decides. */
	L("archive.tar.gz", MIME_ALL, "application/gzip", false),
	L("archive.TAR.GZ", MIME_ALL, "application/gzip", false),
	L("archive.gz.tar", MIME_ALL, "application/x-tar", false),
	L("a.b.c.d.json", MIME_ALL, "application/json; charset=utf-8", false),
	L("dir.js/file.css", MIME_ALL, "text/css; charset=utf-8", false),
	L("file.HTML", MIME_ALL, HTML, false),
	L("notes.txt", MIME_ALL, "text/plain; charset=utf-8", false),
	L("pic.png", MIME_ALL, "image/png", false),
	L("photo.JPG", MIME_ALL, "image/jpeg", false),
	L("font.Woff2", MIME_ALL, "font/woff2", false),
};

/* The whole --types all table: each must come back, in any case. */
static const struct {
	int line;
	const char *ext, *type;
} all_types[] = {
	{ __LINE__, "7z", "application/x-7z-compressed" },
	{ __LINE__, "aac", "audio/aac" },
	{ __LINE__, "apng", "image/apng" },
	{ __LINE__, "atom", "application/atom+xml; charset=utf-8" },
	{ __LINE__, "avi", "video/x-msvideo" },
	{ __LINE__, "avif", "image/avif" },
	{ __LINE__, "bmp", "image/bmp" },
	{ __LINE__, "bz2", "application/x-bzip2" },
	{ __LINE__, "css", "text/css; charset=utf-8" },
	{ __LINE__, "csv", "text/csv; charset=utf-8" },
	{ __LINE__, "eot", "application/vnd.ms-fontobject" },
	{ __LINE__, "epub", "application/epub+zip" },
	{ __LINE__, "flac", "audio/flac" },
	{ __LINE__, "gif", "image/gif" },
	{ __LINE__, "gz", "application/gzip" },
	{ __LINE__, "heic", "image/heic" },
	{ __LINE__, "htm", "text/html; charset=utf-8" },
	{ __LINE__, "html", "text/html; charset=utf-8" },
	{ __LINE__, "ico", "image/vnd.microsoft.icon" },
	{ __LINE__, "ics", "text/calendar; charset=utf-8" },
	{ __LINE__, "jpeg", "image/jpeg" },
	{ __LINE__, "jpg", "image/jpeg" },
	{ __LINE__, "js", "text/javascript; charset=utf-8" },
	{ __LINE__, "json", "application/json; charset=utf-8" },
	{ __LINE__, "jsonld", "application/ld+json; charset=utf-8" },
	{ __LINE__, "jxl", "image/jxl" },
	{ __LINE__, "m4a", "audio/mp4" },
	{ __LINE__, "m4v", "video/mp4" },
	{ __LINE__, "map", "application/json; charset=utf-8" },
	{ __LINE__, "md", "text/markdown; charset=utf-8" },
	{ __LINE__, "mid", "audio/midi" },
	{ __LINE__, "midi", "audio/midi" },
	{ __LINE__, "mjs", "text/javascript; charset=utf-8" },
	{ __LINE__, "mkv", "video/x-matroska" },
	{ __LINE__, "mov", "video/quicktime" },
	{ __LINE__, "mp3", "audio/mpeg" },
	{ __LINE__, "mp4", "video/mp4" },
	{ __LINE__, "mpeg", "video/mpeg" },
	{ __LINE__, "mpg", "video/mpeg" },
	{ __LINE__, "oga", "audio/ogg" },
	{ __LINE__, "ogg", "audio/ogg" },
	{ __LINE__, "ogv", "video/ogg" },
	{ __LINE__, "opus", "audio/ogg" },
	{ __LINE__, "otf", "font/otf" },
	{ __LINE__, "pdf", "application/pdf" },
	{ __LINE__, "png", "image/png" },
	{ __LINE__, "rss", "application/rss+xml; charset=utf-8" },
	{ __LINE__, "rtf", "application/rtf" },
	{ __LINE__, "svg", "image/svg+xml; charset=utf-8" },
	{ __LINE__, "tar", "application/x-tar" },
	{ __LINE__, "text", "text/plain; charset=utf-8" },
	{ __LINE__, "tgz", "application/gzip" },
	{ __LINE__, "tif", "image/tiff" },
	{ __LINE__, "tiff", "image/tiff" },
	{ __LINE__, "tsv", "text/tab-separated-values; charset=utf-8" },
	{ __LINE__, "ttf", "font/ttf" },
	{ __LINE__, "txt", "text/plain; charset=utf-8" },
	{ __LINE__, "vtt", "text/vtt; charset=utf-8" },
	{ __LINE__, "wasm", "application/wasm" },
	{ __LINE__, "wav", "audio/wav" },
	{ __LINE__, "weba", "audio/webm" },
	{ __LINE__, "webm", "video/webm" },
	{ __LINE__, "webmanifest", "application/manifest+json; charset=utf-8" },
	{ __LINE__, "webp", "image/webp" },
	{ __LINE__, "woff", "font/woff" },
	{ __LINE__, "woff2", "font/woff2" },
	{ __LINE__, "xhtml", "application/xhtml+xml; charset=utf-8" },
	{ __LINE__, "xml", "application/xml; charset=utf-8" },
	{ __LINE__, "xz", "application/x-xz" },
	{ __LINE__, "yaml", "application/yaml; charset=utf-8" },
	{ __LINE__, "yml", "application/yaml; charset=utf-8" },
	{ __LINE__, "zip", "application/zip" },
	{ __LINE__, "zst", "application/zstd" },
};

struct accept_case {
	int line;
	const char *v; /* NULL: no header */
	const char *coding;
	int q;
};

#define A(v, coding, q) { __LINE__, v, coding, q }

static const struct accept_case accepts[] = {
	/* No header: only identity. */
	A(NULL, "identity", 1000),
	A(NULL, "gzip", 0),
	A(NULL, "br", 0),
	/* Empty header: no coding wanted, identity still fine. */
	A("", "gzip", 0),
	A("", "identity", 1000),
	A("   ", "gzip", 0),
	/* Plain lists. */
	A("gzip", "gzip", 1000),
	A("gzip", "br", 0),
	A("gzip, deflate, br", "br", 1000),
	A("gzip, deflate, br", "deflate", 1000),
	A("gzip, deflate, br, zstd", "zstd", 1000),
	A("gzip,br", "br", 1000),
	A("GZIP", "gzip", 1000),
	A("gzip", "GZip", 1000),
	A("Br", "br", 1000),
	A("gzip", "identity", 1000),
	A("gzip2", "gzip", 0),
	A("gzi", "gzip", 0),
	/* q-values. */
	A("gzip;q=0", "gzip", 0),
	A("gzip;q=0.5", "gzip", 500),
	/* x-gzip is gzip (RFC 9110 8.4.1.3), but not the other way round. */
	A("x-gzip", "gzip", 1000),
	A("X-GZIP;q=0.3", "gzip", 300),
	A("x-gzip;q=0", "gzip", 0),
	A("gzip", "x-gzip", 0),
	A("x-gzip", "br", 0),
	A("gzip;q=1", "gzip", 1000),
	A("gzip;q=1.", "gzip", 1000),
	A("gzip;q=1.0", "gzip", 1000),
	A("gzip;q=1.000", "gzip", 1000),
	A("gzip;q=0.", "gzip", 0),
	A("gzip;q=0.001", "gzip", 1),
	A("gzip;q=0.05", "gzip", 50),
	A("gzip;q=0.123", "gzip", 123),
	A("gzip;q=0.999", "gzip", 999),
	A("gzip;Q=0.5", "gzip", 500),
	A("br;q=1.0, gzip;q=0.8, *;q=0.1", "gzip", 800),
	A("br;q=1.0, gzip;q=0.8, *;q=0.1", "br", 1000),
	A("br;q=1.0, gzip;q=0.8, *;q=0.1", "zstd", 100),
	/* OWS around elements and around ';'. */
	A("  gzip  ,  br  ", "br", 1000),
	A("gzip ; q=0.5", "gzip", 500),
	A("gzip\t;\tq=0.25\t", "gzip", 250),
	A("br;q=0.5 ,gzip", "br", 500),
	/* Malformed elements are skipped, the rest still count. */
	A("gzip;q=", "gzip", 0),
	A("gzip;q=2", "gzip", 0),
	A("gzip;q=1.001", "gzip", 0),
	A("gzip;q=1.5", "gzip", 0),
	A("gzip;q=0.1234", "gzip", 0),
	A("gzip;q=.5", "gzip", 0),
	A("gzip;q=-1", "gzip", 0),
	A("gzip;q=0.5x", "gzip", 0),
	A("gzip;q = 0.5", "gzip", 0),
	A("gzip;q=0.5;q=1", "gzip", 0),
	A("gzip;level=1", "gzip", 0),
	A("gzip;", "gzip", 0),
	A("gzip;q", "gzip", 0),
	A("gz ip", "gzip", 0),
	A("gzip br", "gzip", 0),
	A("gzip;q=abc, br", "br", 1000),
	A("gzip;q=abc, *", "gzip", 1000),
	A("\"gzip\", br", "gzip", 0),
	A(";q=0.5", "gzip", 0),
	A(",,gzip,,", "gzip", 1000),
	A(",", "gzip", 0),
	/* "*" matches what is not listed; an exact entry wins over it. */
	A("*", "gzip", 1000),
	A("*", "br", 1000),
	A("*;q=0.3", "br", 300),
	A("*;q=0", "gzip", 0),
	A("gzip;q=0, *", "gzip", 0),
	A("*, gzip;q=0", "gzip", 0),
	A("*;q=0, br", "br", 1000),
	A("*;q=0, br;q=0.7", "gzip", 0),
	A("br, *;q=0.2", "gzip", 200),
	/* The first entry for a coding wins. */
	A("gzip;q=0.2, gzip;q=0.9", "gzip", 200),
	A("gzip, gzip;q=0", "gzip", 1000),
	A("*;q=0.4, *;q=0.9", "br", 400),
	/* identity: acceptable unless refused. */
	A("identity;q=0", "identity", 0),
	A("identity;q=0.5", "identity", 500),
	A("identity", "identity", 1000),
	A("IDENTITY;q=0", "identity", 0),
	A("*;q=0", "identity", 0),
	A("*;q=0, identity", "identity", 1000),
	A("*;q=0, identity;q=0.5", "identity", 500),
	A("identity;q=0, *", "identity", 0),
	A("*;q=0.5", "identity", 1000),
	A("gzip;q=0", "identity", 1000),
	A("br, gzip", "identity", 1000),
	A("identity;q=x", "identity", 1000),
	A("*;q=x", "identity", 1000),
	A("identity;q=0", "gzip", 0),
};

/* mime_accept_q_lines gives the answer of the joined list: every case
 * split into two field lines at each comma, and with an empty line before
 * or after it, each line on its own guard page. Then issue 11 item 5: an
 * Accept-Encoding over 1,024 bytes on two lines is read whole. */
static void test_accept_lines(const struct accept_case *cases, size_t ncases)
{
	size_t checked = 0;

	for (size_t i = 0; i < ncases; i++) {
		const struct accept_case *c = &cases[i];
		size_t n = c->v ? strlen(c->v) : 0;

		if (c->v == NULL) {
			ASSERT_EQ(c->line, mime_accept_q_lines(NULL, 0, c->coding), c->q);
			continue;
		}
		struct hp_slice one = { test_guard_at(0, c->v, n), n };

		ASSERT_EQ(c->line, mime_accept_q_lines(&one, 1, c->coding), c->q);
		for (size_t cut = 0; cut <= n + 1; cut++) {
			size_t n0 = cut == 0 ? 0 : cut > n ? n : cut - 1;
			size_t r0 = cut == 0 ? 0 : cut > n ? n : cut;
			struct hp_slice two[2];
			char joined[512];
			int jn;

			if (cut > 0 && cut <= n && c->v[cut - 1] != ',')
				continue;
			jn = snprintf(joined, sizeof(joined), "%.*s, %.*s", (int)n0, c->v,
				      (int)(n - r0), c->v + r0);
			two[0] = (struct hp_slice){ test_guard_at(0, c->v, n0), n0 };
			two[1] = (struct hp_slice){ test_guard_at(1, c->v + r0, n - r0), n - r0 };
			ASSERT_EQ(c->line, mime_accept_q_lines(two, 2, c->coding),
				  mime_accept_q(joined, (size_t)jn, c->coding));
			checked++;
		}
	}

	/* A first line of 40 codings we do not have (over 1 KiB), br and
	 * gzip on the second: both are seen, and the first entry for a
	 * coding still wins across lines. */
	char big[2048];
	size_t bn = 0;

	for (int t = 0; t < 40; t++)
		bn += (size_t)snprintf(big + bn, sizeof(big) - bn, "%sx-coding-number-%02d;q=0.5",
				       t ? ", " : "", t);
	ASSERT_TRUE(__LINE__, bn > 1024);
	struct hp_slice lines[3] = {
		{ test_guard_at(0, big, bn), bn },
		{ test_guard_at(1, "br, gzip;q=0.3", 14), 14 },
		{ test_guard_at(2, "gzip, identity;q=0", 18), 18 },
	};
	ASSERT_EQ(__LINE__, mime_accept_q_lines(lines, 2, "br"), 1000);
	ASSERT_EQ(__LINE__, mime_accept_q_lines(lines, 2, "gzip"), 300);
	ASSERT_EQ(__LINE__, mime_accept_q_lines(lines, 1, "br"), 0);
	ASSERT_EQ(__LINE__, mime_accept_q_lines(lines, 3, "gzip"), 300);
	ASSERT_EQ(__LINE__, mime_accept_q_lines(lines, 3, "identity"), 0);
	ASSERT_EQ(__LINE__, mime_accept_q_lines(lines, 2, "identity"), 1000);
	ASSERT_EQ(__LINE__, mime_accept_q_lines(lines + 2, 1, "gzip"), 1000);
	printf("mime_accept_q_lines: %zu splits\n", checked);
}

int main(void)
{
	size_t nl = sizeof(lookups) / sizeof(lookups[0]);
	size_t nt = sizeof(all_types) / sizeof(all_types[0]);
	size_t na = sizeof(accepts) / sizeof(accepts[0]);

	for (size_t i = 0; i < nl; i++) {
		const struct lookup_case *c = &lookups[i];
		const struct mime_type *m =
			mime_lookup(test_guarded(c->name, strlen(c->name)), strlen(c->name), c->p);

		if (!c->type) {
			ASSERT_TRUE(c->line, m == NULL);
			continue;
		}
		ASSERT_TRUE(c->line, m != NULL);
		if (!m)
			continue;
		ASSERT_STR(c->line, m->type, strlen(m->type), c->type);
		ASSERT_EQ(c->line, m->attachment, c->attachment);
	}

	/* Every table entry, lower, upper and mixed case, bare and with a
	 * directory in front: inline under all, and the seed verdict under
	 * seed (only html/htm/txt/png/jpg/jpeg have one). */
	for (size_t i = 0; i < nt; i++) {
		char name[64], upper[64], mixed[64];
		const char *ext = all_types[i].ext;
		int line = all_types[i].line;

		snprintf(name, sizeof(name), "dir.x/file.%s", ext);
		for (size_t j = 0; j <= strlen(name); j++) {
			upper[j] = (char)(name[j] >= 'a' && name[j] <= 'z' ?
					  name[j] - 32 : name[j]);
			mixed[j] = j % 2 ? upper[j] : name[j];
		}
		const char *names[] = { name, upper, mixed, name + 6 };

		for (size_t k = 0; k < 4; k++) {
			const struct mime_type *m =
				mime_lookup(test_guarded(names[k], strlen(names[k])),
					    strlen(names[k]), MIME_ALL);

			ASSERT_TRUE(line, m != NULL);
			if (!m)
				continue;
			TEST_RECORD(!strcmp(m->type, all_types[i].type), line,
				    "%s -> \"%s\", want \"%s\"", names[k],
				    m->type, all_types[i].type);
			ASSERT_EQ(line, m->attachment, false);
		}

		const struct mime_type *s =
			mime_lookup(test_guarded(name, strlen(name)), strlen(name), MIME_SEED);
		bool html = !strcmp(ext, "html") || !strcmp(ext, "htm");
		bool dl = !strcmp(ext, "txt") || !strcmp(ext, "png") ||
			  !strcmp(ext, "jpg") || !strcmp(ext, "jpeg");

		if (html || dl) {
			ASSERT_TRUE(line, s != NULL);
			if (s)
				ASSERT_EQ(line, s->attachment, dl);
		} else {
			TEST_RECORD(s == NULL, line, "%s has a seed type", name);
		}

		/* Text is labelled UTF-8: every text/ type, and the JSON,
		 * XML and YAML families. */
		const char *t = all_types[i].type;
		bool texty = !strncmp(t, "text/", 5) || strstr(t, "json") ||
			     strstr(t, "xml") || strstr(t, "yaml");

		TEST_RECORD(texty == (strstr(t, "; charset=utf-8") != NULL),
			    line, "%s: charset does not match its kind", t);
	}
	ASSERT_TRUE(__LINE__, nt >= 45);

	/* The extension is read from name[0..n) only. */
	ASSERT_TRUE(__LINE__, mime_lookup("a.html.png", 6, MIME_SEED) == mime_lookup("a.html", 6, MIME_SEED));
	ASSERT_TRUE(__LINE__, mime_lookup("a.htmlx", 6, MIME_SEED) != NULL);
	/* Results are static: the same pointer each time. */
	ASSERT_TRUE(__LINE__, mime_lookup("a.css", 5, MIME_ALL) == mime_lookup("b.CSS", 5, MIME_ALL));

	for (size_t i = 0; i < na; i++) {
		const struct accept_case *c = &accepts[i];
		size_t n = c->v ? strlen(c->v) : 0;

		ASSERT_EQ(c->line, mime_accept_q(test_guarded(c->v, n), n, c->coding), c->q);
	}

	test_accept_lines(accepts, na);

	printf("%zu lookup cases, %zu table types, %zu Accept-Encoding cases\n",
	       nl, nt, na);
	return test_summary();
}
