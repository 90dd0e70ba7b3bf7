/* File types by extension, and Accept-Encoding negotiation.
 *
 * The type table is sorted by extension and searched by bisection: no
 * allocation, and the result points into the table. */
#include "mime.h"

#include "chars.h"

#include <string.h>

#define UTF8 "; charset=utf-8"

struct mime_ext {
	const char *ext; /* lower case, without the dot */
	struct mime_type mt;
};

/* Sorted by ext (strcmp order): mime_lookup bisects it. The unit test
 * looks up every entry, so one out of order fails there; add new entries
 * to tests/unit/test_mime.c too. Types are the IANA registrations where one exists
 * (RFC 9239 for JavaScript, RFC 8081 for fonts); where the registered name
 * is not what browsers act on, the one browsers use (audio/wav).
 * Everything that is text gets a charset, so a browser does not guess. */
static const struct mime_ext all_types[] = {
	{ "7z",          { "application/x-7z-compressed", false } },
	{ "aac",         { "audio/aac", false } },
	{ "apng",        { "image/apng", false } },
	{ "atom",        { "application/atom+xml" UTF8, false } },
	{ "avi",         { "video/x-msvideo", false } },
	{ "avif",        { "image/avif", false } },
	{ "bmp",         { "image/bmp", false } },
	{ "bz2",         { "application/x-bzip2", false } },
	{ "css",         { "text/css" UTF8, false } },
	{ "csv",         { "text/csv" UTF8, false } },
	{ "eot",         { "application/vnd.ms-fontobject", false } },
	{ "epub",        { "application/epub+zip", false } },
	{ "flac",        { "audio/flac", false } },
	{ "gif",         { "image/gif", false } },
	{ "gz",          { "application/gzip", false } },
	{ "heic",        { "image/heic", false } },
	{ "htm",         { "text/html" UTF8, false } },
	{ "html",        { "text/html" UTF8, false } },
	{ "ico",         { "image/vnd.microsoft.icon", false } },
	{ "ics",         { "text/calendar" UTF8, false } },
	{ "jpeg",        { "image/jpeg", false } },
	{ "jpg",         { "image/jpeg", false } },
	{ "js",          { "text/javascript" UTF8, false } },
	{ "json",        { "application/json" UTF8, false } },
	{ "jsonld",      { "application/ld+json" UTF8, false } },
	{ "jxl",         { "image/jxl", false } },
	{ "m4a",         { "audio/mp4", false } },
	{ "m4v",         { "video/mp4", false } },
	{ "map",         { "application/json" UTF8, false } },
	{ "md",          { "text/markdown" UTF8, false } },
	{ "mid",         { "audio/midi", false } },
	{ "midi",        { "audio/midi", false } },
	{ "mjs",         { "text/javascript" UTF8, false } },
	{ "mkv",         { "video/x-matroska", false } },
	{ "mov",         { "video/quicktime", false } },
	{ "mp3",         { "audio/mpeg", false } },
	{ "mp4",         { "video/mp4", false } },
	{ "mpeg",        { "video/mpeg", false } },
	{ "mpg",         { "video/mpeg", false } },
	{ "oga",         { "audio/ogg", false } },
	{ "ogg",         { "audio/ogg", false } },
	{ "ogv",         { "video/ogg", false } },
	{ "opus",        { "audio/ogg", false } },
	{ "otf",         { "font/otf", false } },
	{ "pdf",         { "application/pdf", false } },
	{ "png",         { "image/png", false } },
	{ "rss",         { "application/rss+xml" UTF8, false } },
	{ "rtf",         { "application/rtf", false } },
	{ "svg",         { "image/svg+xml" UTF8, false } },
	{ "tar",         { "application/x-tar", false } },
	{ "text",        { "text/plain" UTF8, false } },
	{ "tgz",         { "application/gzip", false } },
	{ "tif",         { "image/tiff", false } },
	{ "tiff",        { "image/tiff", false } },
	{ "tsv",         { "text/tab-separated-values" UTF8, false } },
	{ "ttf",         { "font/ttf", false } },
	{ "txt",         { "text/plain" UTF8, false } },
	{ "vtt",         { "text/vtt" UTF8, false } },
	{ "wasm",        { "application/wasm", false } },
	{ "wav",         { "audio/wav", false } },
	{ "weba",        { "audio/webm", false } },
	{ "webm",        { "video/webm", false } },
	{ "webmanifest", { "application/manifest+json" UTF8, false } },
	{ "webp",        { "image/webp", false } },
	{ "woff",        { "font/woff", false } },
	{ "woff2",       { "font/woff2", false } },
	{ "xhtml",       { "application/xhtml+xml" UTF8, false } },
	{ "xml",         { "application/xml" UTF8, false } },
	{ "xz",          { "application/x-xz", false } },
	{ "yaml",        { "application/yaml" UTF8, false } },
	{ "yml",         { "application/yaml" UTF8, false } },
	{ "zip",         { "application/zip", false } },
	{ "zst",         { "application/zstd", false } },
};

static const struct mime_type seed_html = { "text/html" UTF8, false };
static const struct mime_type seed_download = { "application/octet-stream", true };
static const struct mime_type all_unknown = { "application/octet-stream", false };

/* Longer than any extension in the table: such a name is unknown. */
#define EXT_MAX 16

/* Writes the lower-cased extension of name[0..n) (after the last '.' of
 * the last '/'-separated segment) to ext. Returns its length, or 0 when
 * there is none or it is too long to be in the table. */
static size_t extension(const char *name, size_t n, char ext[EXT_MAX + 1])
{
	size_t i = n, dot;

	while (i > 0 && name[i - 1] != '.' && name[i - 1] != '/')
		i--;
	if (i == 0 || name[i - 1] != '.')
		return 0;
	dot = i;
	if (n - dot > EXT_MAX)
		return 0;
	for (i = dot; i < n; i++)
		ext[i - dot] = (char)ch_lower((unsigned char)name[i]);
	ext[n - dot] = '\0';
	return n - dot;
}

const struct mime_type *mime_lookup(const char *name, size_t n, enum mime_policy p)
{
	char ext[EXT_MAX + 1];
	size_t len = extension(name, n, ext);

	if (p == MIME_SEED) {
		if (len == 0)
			return NULL;
		if (!strcmp(ext, "html") || !strcmp(ext, "htm"))
			return &seed_html;
		if (!strcmp(ext, "txt") || !strcmp(ext, "png") ||
		    !strcmp(ext, "jpg") || !strcmp(ext, "jpeg"))
			return &seed_download;
		return NULL;
	}

	if (len > 0) {
		size_t lo = 0, hi = sizeof(all_types) / sizeof(all_types[0]);

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int c = strcmp(ext, all_types[mid].ext);

			if (c == 0)
				return &all_types[mid].mt;
			if (c < 0)
				hi = mid;
			else
				lo = mid + 1;
		}
	}
	return &all_unknown;
}

/* Accept-Encoding (RFC 9110 §12.5.3):
 *   #( codings [ OWS ";" OWS "q=" qvalue ] ), codings = token
 *   qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
 * Parsed strictly: anything else in an element (other parameters, a
 * second q, spaces around '=', four decimals) makes the element malformed,
 * and it is skipped as if absent, which at worst withholds a coding. */

/* Parses a qvalue in s[0..n). Returns thousandths, or -1 if malformed. */
static int parse_q(const char *s, size_t n)
{
	int q, scale = 100;

	if (n == 0 || (s[0] != '0' && s[0] != '1'))
		return -1;
	q = (s[0] - '0') * 1000;
	if (n == 1)
		return q;
	if (s[1] != '.' || n > 5)
		return -1;
	for (size_t i = 2; i < n; i++, scale /= 10) {
		if (!ch_is_digit((unsigned char)s[i]))
			return -1;
		q += (s[i] - '0') * scale;
	}
	return q > 1000 ? -1 : q;
}

/* Case-insensitive comparison of a[0..an) with the C string b. */
static bool token_eq(const char *a, size_t an, const char *b)
{
	size_t i;

	for (i = 0; i < an; i++) {
		if (b[i] == '\0' ||
		    ch_lower((unsigned char)a[i]) != ch_lower((unsigned char)b[i]))
			return false;
	}
	return b[i] == '\0';
}

/* The q-values one list v[0..n) gives: *exact for coding itself (or
 * x-gzip for gzip), *star for "*"; each stays as it is when already set
 * (>= 0), as the first entry for a coding wins. */
static void accept_scan(const char *v, size_t n, const char *coding, int *exact, int *star)
{
	size_t i = 0;

	while (i < n) {
		size_t tok, tok_n, end;
		int q = 1000;

		/* Find the end of the element first, so that a malformed one
		 * is skipped whole. qvalues and tokens hold no ','. */
		for (end = i; end < n && v[end] != ','; end++)
			;
		while (i < end && ch_is_ows(v[i]))
			i++;
		tok = i;
		while (i < end && ch_is_tchar((unsigned char)v[i]))
			i++;
		tok_n = i - tok;
		while (i < end && ch_is_ows(v[i]))
			i++;
		if (i < end && v[i] == ';') {
			size_t qs;

			i++;
			while (i < end && ch_is_ows(v[i]))
				i++;
			if (end - i < 2 || ch_lower((unsigned char)v[i]) != 'q' || v[i + 1] != '=')
				goto next;
			qs = i += 2;
			while (i < end && !ch_is_ows(v[i]))
				i++;
			q = parse_q(v + qs, i - qs);
			if (q < 0)
				goto next;
			while (i < end && ch_is_ows(v[i]))
				i++;
		}
		/* An empty element (",," or a stray ',') is allowed by the list
		 * syntax and means nothing; trailing junk is malformed. */
		if (i != end || tok_n == 0)
			goto next;
		/* "x-gzip" is gzip (RFC 9110 8.4.1.3). */
		if (token_eq(v + tok, tok_n, coding) ||
		    (tok_n == 6 && token_eq(v + tok, tok_n, "x-gzip") && token_eq(coding, strlen(coding), "gzip"))) {
			if (*exact < 0)
				*exact = q; /* the first entry for a coding wins */
		} else if (tok_n == 1 && v[tok] == '*') {
			if (*star < 0)
				*star = q;
		}
next:
		i = end + 1;
	}
}

/* The answer once every list was scanned. */
static int accept_result(bool identity, int exact, int star)
{
	if (exact >= 0)
		return exact;
	if (identity)
		return star == 0 ? 0 : 1000;
	return star >= 0 ? star : 0;
}

int mime_accept_q(const char *v, size_t n, const char *coding)
{
	bool identity = token_eq(coding, strlen(coding), "identity");
	int exact = -1, star = -1;

	if (v == NULL)
		return identity ? 1000 : 0;
	accept_scan(v, n, coding, &exact, &star);
	return accept_result(identity, exact, star);
}

int mime_accept_q_lines(const struct hp_slice *lines, size_t nlines, const char *coding)
{
	bool identity = token_eq(coding, strlen(coding), "identity");
	int exact = -1, star = -1;

	/* An element ends at a ',' or at the end of its line, as it would
	 * at the ", " a join puts between lines. */
	if (nlines == 0)
		return identity ? 1000 : 0;
	for (size_t k = 0; k < nlines; k++)
		accept_scan(lines[k].p, lines[k].n, coding, &exact, &star);
	return accept_result(identity, exact, star);
}
