/* Unit tests for the static-file handler (src/static_file.c) without a
 * socket: a temporary document root, real request text through
 * hp_parse_request + hp_analyze, then sf_serve, and the response
 * description it fills checked field by field (status, detail, the header
 * lines as an exact set, the body kind and its bytes or range). Every case
 * runs as GET twice (the second usually a cache hit) and as HEAD, which
 * must describe the same response. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fcache.h"
#include "http_parse.h"
#include "response.h"
#include "static_file.h"
#include "test.h"

/* The library leaves the configuration to main.c. */
const struct config *cfg;
static struct config conf;

/* Every regular file gets this modification time (nanoseconds included,
 * so the ETag's are tested), except future.html. */
#define MTIME_S 1704164645 /* Tue, 02 Jan 2024 03:04:05 GMT */
#define MTIME_NS 123456789
#define LM "Tue, 02 Jan 2024 03:04:05 GMT"

#define BIG_N 40000 /* over FCACHE_DATA_MAX: described as a file range */

#define INDEX "<p>home</p>\n"
#define PAGE "<html><body>page</body></html>\n"
#define SMALL "hello, world\n"
#define PNG "\x89PNG\r\n\x1a\n\0\0\0\rIHDR"
#define CAFE "caf\xc3\xa9.txt"
#define REDIRECT_BODY "301 Moved Permanently: the directory is at the path with a '/'\n"

static char big[BIG_N];

struct tfile {
	const char *name;
	const char *data;
	size_t n;
};

#define F(name, lit) { name, lit, sizeof(lit) - 1 }

static struct tfile files[] = {
	F("index.html", INDEX),
	F("page.html", PAGE),
	F("small.txt", SMALL),
	F("SHOUT.TXT", "LOUD\n"),
	F("image.png", PNG),
	F("style.css", "body { color: red }\n"),
	F("empty.txt", ""),
	F(CAFE, "accent\n"),
	F(".secret.html", "secret\n"),
	F("gz.html", "<p>plain</p>\n"),
	F("gz.html.gz", "not really gzip, but a sibling\n"),
	F("future.html", "<p>later</p>\n"),
	F("dir/index.html", "<p>dir</p>\n"),
	{ "big.html", big, BIG_N },
};

static char root[4096], outside[4096];
static time_t now;

static const struct tfile *tfile_get(const char *name)
{
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (strcmp(files[i].name, name) == 0)
			return &files[i];
	fprintf(stderr, "test bug: no file %s\n", name);
	exit(2);
}

static void die(const char *what)
{
	fprintf(stderr, "setup: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void put_file(const char *dir, const char *name, const char *data, size_t n,
		     time_t sec, long nsec)
{
	char path[8192];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die(path);
	if (n && write(fd, data, n) != (ssize_t)n)
		die(path);
	struct timespec ts[2] = { { sec, nsec }, { sec, nsec } };
	if (futimens(fd, ts) < 0)
		die(path);
	close(fd);
}

static void put_link(const char *name, const char *target)
{
	char path[8192];
	snprintf(path, sizeof(path), "%s/%s", root, name);
	if (symlink(target, path) < 0)
		die(path);
}

static void make_tree(void)
{
	char tmp[8192];
	const char *base = getenv("TMPDIR");
	if (base == NULL || *base == '\0')
		base = "/tmp";
	snprintf(tmp, sizeof(tmp), "%s/mthttpd-sf-root.XXXXXX", base);
	if (mkdtemp(tmp) == NULL || realpath(tmp, root) == NULL)
		die("mkdtemp root");
	snprintf(tmp, sizeof(tmp), "%s/mthttpd-sf-out.XXXXXX", base);
	if (mkdtemp(tmp) == NULL || realpath(tmp, outside) == NULL)
		die("mkdtemp outside");

	for (size_t i = 0; i < BIG_N; i++)
		big[i] = (char)(i % 64 == 63 ? '\n' : 'a' + i % 26);
	snprintf(tmp, sizeof(tmp), "%s/dir", root);
	if (mkdir(tmp, 0755) < 0)
		die(tmp);
	snprintf(tmp, sizeof(tmp), "%s/empty", root);
	if (mkdir(tmp, 0755) < 0)
		die(tmp);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		bool future = strcmp(files[i].name, "future.html") == 0;
		put_file(root, files[i].name, files[i].data, files[i].n,
			 future ? now + 86400 : MTIME_S, MTIME_NS);
	}
	put_file(outside, "x.html", "<p>outside</p>\n", 15, MTIME_S, 0);

	snprintf(tmp, sizeof(tmp), "%s/fifo.html", root);
	if (mkfifo(tmp, 0644) < 0)
		die(tmp);
	put_link("in.html", "page.html");                /* stays inside */
	snprintf(tmp, sizeof(tmp), "%s/page.html", root);
	put_link("abs_in.html", tmp);                    /* absolute, ends inside */
	snprintf(tmp, sizeof(tmp), "%s/x.html", outside);
	put_link("out.html", tmp);                       /* absolute, outside */
	snprintf(tmp, sizeof(tmp), "../%s/x.html", strrchr(outside, '/') + 1);
	put_link("rel_out.html", tmp);                   /* relative, outside */
	put_link("outdir", outside);                     /* a directory outside */
	put_link("loop.html", "loop.html");
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void remove_tree(void)
{
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	nftw(outside, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Open descriptors of this process, to show that nothing leaks. */
static int count_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

/* ---- the cases --------------------------------------------------------- */

#define WHOLE UINT64_MAX /* RB_FILE .len: the whole file */

struct sf_case {
	int line;
	enum mime_policy types;
	const char *target;
	const char *fields;        /* extra request fields; "$E" is the ETag */
	int status;
	const char *detail;        /* the error's detail; NULL when not an error */
	const char *file;          /* the representation: its bytes, its $E and $S */
	char variant;              /* its ETag's variant: 0, or 'g' for .gz */
	enum body_kind body;
	uint64_t off, len;         /* RB_FILE */
	const char *mem;           /* RB_MEM: NULL for the file's bytes */
	int nparts;                /* RB_PARTS */
	struct byte_range parts[3];
	const char *ptype;         /* each part's Content-Type */
	/* Exactly these header lines, in any order. Tokens: $E the ETag, $S
	 * the file's size, $D the Date of now, $B the multipart boundary, $P
	 * the multipart body's length (computed here), $N the mem body's
	 * length. */
	const char *hdr;
};

#define C .line = __LINE__
#define HTML_T "Content-Type: text/html; charset=utf-8\r\n"
#define OCTET_T(name) \
	"Content-Type: application/octet-stream\r\n" \
	"Content-Disposition: attachment; filename=\"" name "\"\r\n"
#define VALID "Last-Modified: " LM "\r\nETag: $E\r\nVary: Accept-Encoding\r\n"
#define FULL "Content-Length: $S\r\nAccept-Ranges: bytes\r\n" VALID
#define RANGE(first, last, size, n) \
	"Content-Range: bytes " #first "-" #last "/" #size "\r\n" \
	"Content-Length: " #n "\r\nAccept-Ranges: bytes\r\n" VALID
#define MULTI_T "Content-Type: multipart/byteranges; boundary=$B\r\n"
#define MULTI_REST "Content-Length: $P\r\nAccept-Ranges: bytes\r\n" VALID
#define MULTI MULTI_T MULTI_REST
#define REDIRECT(loc) "Location: " loc "\r\n" \
	"Content-Type: text/plain; charset=utf-8\r\nContent-Length: $N\r\n"
#define HTML "text/html; charset=utf-8"
#define LEAVES "path leaves the document root"

static const struct sf_case cases[] = {
	/* 200 from memory (small, cached) under the seed policy. */
	{ C, .target = "/small.txt", .status = 200, .file = "small.txt", .body = RB_MEM,
	  .hdr = OCTET_T("small.txt") FULL },
	{ C, .target = "/page.html", .status = 200, .file = "page.html", .body = RB_MEM,
	  .hdr = HTML_T FULL },
	{ C, .target = "/page.html?x=1&y", .status = 200, .file = "page.html", .body = RB_MEM,
	  .hdr = HTML_T FULL },
	{ C, .target = "/dir/../page.html", .status = 200, .file = "page.html", .body = RB_MEM,
	  .hdr = HTML_T FULL },
	{ C, .target = "/%70age.html", .status = 200, .file = "page.html", .body = RB_MEM,
	  .hdr = HTML_T FULL },
	{ C, .target = "/", .status = 200, .file = "index.html", .body = RB_MEM,
	  .hdr = HTML_T FULL },
	{ C, .target = "/dir/", .status = 200, .file = "dir/index.html", .body = RB_MEM,
	  .hdr = HTML_T FULL },
	{ C, .target = "/image.png", .status = 200, .file = "image.png", .body = RB_MEM,
	  .hdr = OCTET_T("image.png") FULL },
	{ C, .target = "/SHOUT.TXT", .status = 200, .file = "SHOUT.TXT", .body = RB_MEM,
	  .hdr = OCTET_T("SHOUT.TXT") FULL },
	/* A name that is not plain ASCII: a safe filename and the exact one
	 * as filename* (RFC 6266). */
	{ C, .target = "/caf%C3%A9.txt", .status = 200, .file = CAFE, .body = RB_MEM,
	  .hdr = "Content-Type: application/octet-stream\r\n"
		 "Content-Disposition: attachment; filename=\"caf__.txt\"; "
		 "filename*=UTF-8''caf%C3%A9.txt\r\n" FULL },
	/* Over 32 KiB: not held in memory, a range of the open file. */
	{ C, .target = "/big.html", .status = 200, .file = "big.html", .body = RB_FILE,
	  .off = 0, .len = WHOLE, .hdr = HTML_T FULL },
	/* Empty: held as no bytes (no descriptor kept), and a Range is ignored. */
	{ C, .target = "/empty.txt", .status = 200, .file = "empty.txt", .body = RB_MEM,
	  .mem = "", .hdr = OCTET_T("empty.txt") FULL },
	{ C, .target = "/empty.txt", .fields = "Range: bytes=0-0\r\n", .status = 200,
	  .file = "empty.txt", .body = RB_MEM, .mem = "", .hdr = OCTET_T("empty.txt") FULL },
	/* A modification time in the future: Last-Modified is the Date. */
	{ C, .target = "/future.html", .status = 200, .file = "future.html", .body = RB_MEM,
	  .hdr = HTML_T "Content-Length: $S\r\nAccept-Ranges: bytes\r\n"
		 "Last-Modified: $D\r\nETag: $E\r\nVary: Accept-Encoding\r\n" },

	/* Symbolic links that stay inside are followed, never cached: the
	 * body is the file's range, not memory. */
	{ C, .target = "/in.html", .status = 200, .file = "page.html", .body = RB_FILE,
	  .off = 0, .len = WHOLE, .hdr = HTML_T FULL },
	{ C, .target = "/abs_in.html", .status = 200, .file = "page.html", .body = RB_FILE,
	  .off = 0, .len = WHOLE, .hdr = HTML_T FULL },

	/* Precompressed sibling: its own length and ETag, Content-Encoding. */
	{ C, .target = "/gz.html", .fields = "Accept-Encoding: gzip, br;q=0\r\n", .status = 200,
	  .file = "gz.html.gz", .variant = 'g', .body = RB_FILE, .off = 0, .len = WHOLE,
	  .hdr = HTML_T "Content-Encoding: gzip\r\n" FULL },
	{ C, .target = "/gz.html", .status = 200, .file = "gz.html", .body = RB_MEM,
	  .hdr = HTML_T FULL },
	{ C, .target = "/gz.html", .fields = "Accept-Encoding: gzip;q=0\r\n", .status = 200,
	  .file = "gz.html", .body = RB_MEM, .hdr = HTML_T FULL },

	/* Conditional requests (RFC 9110 13.2.2 order). */
	{ C, .target = "/small.txt", .fields = "If-None-Match: $E\r\n", .status = 304,
	  .file = "small.txt", .body = RB_NONE, .hdr = VALID },
	{ C, .target = "/small.txt", .fields = "If-None-Match: \"x\", $E\r\n", .status = 304,
	  .file = "small.txt", .body = RB_NONE, .hdr = VALID },
	{ C, .target = "/small.txt", .fields = "If-None-Match: *\r\n", .status = 304,
	  .file = "small.txt", .body = RB_NONE, .hdr = VALID },
	{ C, .target = "/big.html", .fields = "If-Modified-Since: " LM "\r\n", .status = 304,
	  .file = "big.html", .body = RB_NONE, .hdr = VALID },
	{ C, .target = "/small.txt", .fields = "If-None-Match: \"other\"\r\n", .status = 200,
	  .file = "small.txt", .body = RB_MEM, .hdr = OCTET_T("small.txt") FULL },
	/* If-None-Match is evaluated instead of If-Modified-Since. */
	{ C, .target = "/small.txt",
	  .fields = "If-None-Match: \"other\"\r\nIf-Modified-Since: " LM "\r\n",
	  .status = 200, .file = "small.txt", .body = RB_MEM, .hdr = OCTET_T("small.txt") FULL },
	{ C, .target = "/small.txt", .fields = "If-Match: \"nope\"\r\n", .status = 412,
	  .detail = "precondition failed", .file = "small.txt", .body = RB_NONE, .hdr = "" },
	{ C, .target = "/small.txt", .fields = "If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n",
	  .status = 412, .detail = "precondition failed", .file = "small.txt", .body = RB_NONE,
	  .hdr = "" },
	{ C, .target = "/small.txt", .fields = "If-Match: $E\r\n", .status = 200,
	  .file = "small.txt", .body = RB_MEM, .hdr = OCTET_T("small.txt") FULL },
	/* Preconditions come before the range. */
	{ C, .target = "/big.html", .fields = "If-None-Match: $E\r\nRange: bytes=0-9\r\n",
	  .status = 304, .file = "big.html", .body = RB_NONE, .hdr = VALID },

	/* One range: of the file, or of its bytes in memory when cached there. */
	{ C, .target = "/big.html", .fields = "Range: bytes=0-9\r\n", .status = 206,
	  .file = "big.html", .body = RB_FILE, .off = 0, .len = 10,
	  .hdr = HTML_T RANGE(0, 9, 40000, 10) },
	{ C, .target = "/big.html", .fields = "Range: bytes=39990-\r\n", .status = 206,
	  .file = "big.html", .body = RB_FILE, .off = 39990, .len = 10,
	  .hdr = HTML_T RANGE(39990, 39999, 40000, 10) },
	{ C, .target = "/small.txt", .fields = "Range: bytes=-5\r\n", .status = 206,
	  .file = "small.txt", .body = RB_MEM, .mem = SMALL + 8,
	  .hdr = OCTET_T("small.txt") RANGE(8, 12, 13, 5) },
	{ C, .target = "/big.html", .fields = "Range: bytes=0-9\r\nIf-Range: $E\r\n", .status = 206,
	  .file = "big.html", .body = RB_FILE, .off = 0, .len = 10,
	  .hdr = HTML_T RANGE(0, 9, 40000, 10) },
	{ C, .target = "/big.html", .fields = "Range: bytes=0-9\r\nIf-Range: " LM "\r\n",
	  .status = 206, .file = "big.html", .body = RB_FILE, .off = 0, .len = 10,
	  .hdr = HTML_T RANGE(0, 9, 40000, 10) },
	/* A stale If-Range or a malformed Range: the whole file. */
	{ C, .target = "/big.html", .fields = "Range: bytes=0-9\r\nIf-Range: \"other\"\r\n",
	  .status = 200, .file = "big.html", .body = RB_FILE, .off = 0, .len = WHOLE,
	  .hdr = HTML_T FULL },
	{ C, .target = "/big.html", .fields = "Range: bytes=9-0\r\n", .status = 200,
	  .file = "big.html", .body = RB_FILE, .off = 0, .len = WHOLE, .hdr = HTML_T FULL },
	{ C, .target = "/small.txt", .fields = "Range: items=0-1\r\n", .status = 200,
	  .file = "small.txt", .body = RB_MEM, .hdr = OCTET_T("small.txt") FULL },

	/* Several ranges: multipart/byteranges, parts in the request's order. */
	{ C, .target = "/big.html", .fields = "Range: bytes=0-9,100-199\r\n", .status = 206,
	  .file = "big.html", .body = RB_PARTS, .nparts = 2, .parts = { { 0, 9 }, { 100, 199 } },
	  .ptype = HTML, .hdr = MULTI },
	{ C, .target = "/big.html", .fields = "Range: bytes=500-599,0-9,-1\r\n", .status = 206,
	  .file = "big.html", .body = RB_PARTS, .nparts = 3,
	  .parts = { { 500, 599 }, { 0, 9 }, { 39999, 39999 } }, .ptype = HTML, .hdr = MULTI },
	{ C, .target = "/small.txt", .fields = "Range: bytes=0-0,-1\r\n", .status = 206,
	  .file = "small.txt", .body = RB_PARTS, .nparts = 2, .parts = { { 0, 0 }, { 12, 12 } },
	  .ptype = "application/octet-stream",
	  .hdr = MULTI_T "Content-Disposition: attachment; filename=\"small.txt\"\r\n"
		 MULTI_REST },
	/* Overlapping ranges coalesce into one. */
	{ C, .target = "/big.html", .fields = "Range: bytes=0-9,5-19\r\n", .status = 206,
	  .file = "big.html", .body = RB_FILE, .off = 0, .len = 20,
	  .hdr = HTML_T RANGE(0, 19, 40000, 20) },

	/* 416: nothing satisfiable. */
	{ C, .target = "/big.html", .fields = "Range: bytes=40000-\r\n", .status = 416,
	  .detail = "range not satisfiable", .file = "big.html", .body = RB_NONE,
	  .hdr = "Content-Range: bytes */40000\r\n" },
	{ C, .target = "/small.txt", .fields = "Range: bytes=13-20,99-\r\n", .status = 416,
	  .detail = "range not satisfiable", .file = "small.txt", .body = RB_NONE,
	  .hdr = "Content-Range: bytes */13\r\n" },

	/* 404. */
	{ C, .target = "/missing.html", .status = 404, .detail = "no such file", .hdr = "" },
	{ C, .target = "/missing.exe", .status = 404, .detail = "no such file", .hdr = "" },
	{ C, .target = "/dir/missing.html", .status = 404, .detail = "no such file", .hdr = "" },
	{ C, .target = "/.secret.html", .status = 404, .detail = "no such file", .hdr = "" },
	{ C, .target = "/%2esecret.html", .status = 404, .detail = "no such file", .hdr = "" },
	{ C, .target = "/dir/../.secret.html", .status = 404, .detail = "no such file", .hdr = "" },
	{ C, .target = "/empty/", .status = 404, .detail = "no such file", .hdr = "" },
	{ C, .target = "/page.html/", .status = 404, .detail = "no such file", .hdr = "" },
	{ C, .target = "/fifo.html", .status = 404, .detail = "not a regular file", .hdr = "" },
	{ C, .target = "/loop.html", .status = 404, .detail = "too many symbolic links (a loop)",
	  .hdr = "" },
	{ C, .target = "/upload/", .status = 404, .detail = "no such file", .hdr = "" },

	/* 403: out of the root, by a link or by "..". */
	{ C, .target = "/out.html", .status = 403, .detail = LEAVES, .hdr = "" },
	{ C, .target = "/rel_out.html", .status = 403, .detail = LEAVES, .hdr = "" },
	{ C, .target = "/outdir/x.html", .status = 403, .detail = LEAVES, .hdr = "" },
	{ C, .target = "/outdir/missing.html", .status = 403, .detail = LEAVES, .hdr = "" },
	{ C, .target = "/../etc/passwd", .status = 403, .detail = LEAVES, .hdr = "" },
	{ C, .target = "/dir/../../page.html", .status = 403, .detail = LEAVES, .hdr = "" },
	{ C, .target = "/%2e%2e/page.html", .status = 403, .detail = LEAVES, .hdr = "" },
	{ C, .target = "/dir%5cindex.html", .status = 403, .detail = LEAVES, .hdr = "" },

	/* 400 from the path itself. */
	{ C, .target = "/page%00.html", .status = 400, .detail = "malformed path", .hdr = "" },

	/* 415: a type the seed policy does not serve (it exists). */
	{ C, .target = "/style.css", .status = 415, .detail = "file type not served under --types seed (use --types all)", .hdr = "" },
	{ C, .target = "/gz.html.gz", .status = 415, .detail = "file type not served under --types seed (use --types all)", .hdr = "" },

	/* 405: GET and HEAD of the upload path. */
	{ C, .target = "/upload", .status = 405, .detail = "GET and HEAD are not allowed on /upload",
	  .hdr = "Allow: POST, OPTIONS\r\n" },
	{ C, .target = "/upload?x=1", .status = 405,
	  .detail = "GET and HEAD are not allowed on /upload", .hdr = "Allow: POST, OPTIONS\r\n" },
	{ C, .target = "/dir/../upload", .status = 405,
	  .detail = "GET and HEAD are not allowed on /upload", .hdr = "Allow: POST, OPTIONS\r\n" },

	/* 301: a directory without its slash, built from the normalised path. */
	{ C, .target = "/dir", .status = 301, .body = RB_MEM, .mem = REDIRECT_BODY,
	  .hdr = REDIRECT("/dir/") },
	{ C, .target = "/empty", .status = 301, .body = RB_MEM, .mem = REDIRECT_BODY,
	  .hdr = REDIRECT("/empty/") },
	{ C, .target = "/dir?a=b&c=%41", .status = 301, .body = RB_MEM, .mem = REDIRECT_BODY,
	  .hdr = REDIRECT("/dir/?a=b&c=%41") },
	{ C, .target = "//dir", .status = 301, .body = RB_MEM, .mem = REDIRECT_BODY,
	  .hdr = REDIRECT("/dir/") },
	{ C, .target = "/empty/../dir", .status = 301, .body = RB_MEM, .mem = REDIRECT_BODY,
	  .hdr = REDIRECT("/dir/") },

	/* --types all: real types, inline. */
	{ C, .types = MIME_ALL, .target = "/style.css", .status = 200, .file = "style.css",
	  .body = RB_MEM, .hdr = "Content-Type: text/css; charset=utf-8\r\n" FULL },
	{ C, .types = MIME_ALL, .target = "/small.txt", .status = 200, .file = "small.txt",
	  .body = RB_MEM, .hdr = "Content-Type: text/plain; charset=utf-8\r\n" FULL },
	{ C, .types = MIME_ALL, .target = "/image.png", .status = 200, .file = "image.png",
	  .body = RB_MEM, .hdr = "Content-Type: image/png\r\n" FULL },
	{ C, .types = MIME_ALL, .target = "/big.html", .fields = "Range: bytes=1-2,4-5\r\n",
	  .status = 206, .file = "big.html", .body = RB_PARTS, .nparts = 2,
	  .parts = { { 1, 2 }, { 4, 5 } }, .ptype = HTML, .hdr = MULTI },
	{ C, .types = MIME_ALL, .target = "/missing.css", .status = 404, .detail = "no such file",
	  .hdr = "" },
};

/* ---- running one request ----------------------------------------------- */

struct expect_ctx {
	char etag[ETAG_MAX];
	uint64_t size;
	char date[40];
	const char *boundary;
	uint64_t parts_len;
	size_t mem_n;
};

static void fmt_date(char *buf, size_t cap, time_t t)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, cap, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* Replaces the tokens of tmpl (see struct sf_case). */
static void expand(const char *tmpl, const struct expect_ctx *x, char *out, size_t cap)
{
	size_t n = 0;
	for (const char *p = tmpl; *p && n + 64 < cap; p++) {
		if (p[0] != '$' || p[1] == '\0') {
			out[n++] = *p;
			continue;
		}
		p++;
		switch (*p) {
		case 'E':
			n += (size_t)snprintf(out + n, cap - n, "%s", x->etag);
			break;
		case 'S':
			n += (size_t)snprintf(out + n, cap - n, "%" PRIu64, x->size);
			break;
		case 'D':
			n += (size_t)snprintf(out + n, cap - n, "%s", x->date);
			break;
		case 'B':
			n += (size_t)snprintf(out + n, cap - n, "%s", x->boundary ? x->boundary : "?");
			break;
		case 'P':
			n += (size_t)snprintf(out + n, cap - n, "%" PRIu64, x->parts_len);
			break;
		case 'N':
			n += (size_t)snprintf(out + n, cap - n, "%zu", x->mem_n);
			break;
		default:
			out[n++] = '$';
			out[n++] = *p;
		}
	}
	out[n] = '\0';
}

/* The multipart body's length, written out here independently of
 * resp_parts_length: per part CRLF "--" boundary CRLF, Content-Type,
 * Content-Range, a blank line and the bytes; then the closing boundary. */
static uint64_t parts_length(const struct sf_case *c, const char *boundary, uint64_t size)
{
	char head[512];
	uint64_t total = 0;
	for (int i = 0; i < c->nparts; i++) {
		int k = snprintf(head, sizeof(head),
				 "\r\n--%s\r\nContent-Type: %s\r\nContent-Range: bytes %" PRIu64
				 "-%" PRIu64 "/%" PRIu64 "\r\n\r\n",
				 boundary, c->ptype, c->parts[i].first, c->parts[i].last, size);
		total += (uint64_t)k + c->parts[i].last - c->parts[i].first + 1;
	}
	total += strlen("\r\n--") + strlen(boundary) + strlen("--\r\n");
	return total;
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Splits a header block into its lines (each must end in CRLF). Returns
 * the count, or -1 when the block does not end in CRLF. */
static int split_lines(char *block, char **lines, int max)
{
	int k = 0;
	char *p = block;
	while (*p) {
		char *e = strstr(p, "\r\n");
		if (e == NULL || k == max)
			return -1;
		*e = '\0';
		lines[k++] = p;
		p = e + 2;
	}
	qsort(lines, (size_t)k, sizeof(*lines), cmp_line);
	return k;
}

/* The header block got[0..n) holds exactly the lines of want, in any
 * order, each once. */
static void check_lines(int line, const char *got, size_t n, const char *want)
{
	char g[8192], w[8192];
	char *gl[64], *wl[64];
	bool ok = n < sizeof(g) && strlen(want) < sizeof(w) && memchr(got, '\0', n) == NULL;
	if (ok) {
		memcpy(g, got, n);
		g[n] = '\0';
		strcpy(w, want);
		int gn = split_lines(g, gl, 64), wn = split_lines(w, wl, 64);
		ok = gn >= 0 && gn == wn;
		for (int i = 0; ok && i < gn; i++)
			ok = strcmp(gl[i], wl[i]) == 0;
	}
	TEST_RECORD(ok, line, "header lines differ:\n--- got:\n%.*s--- want:\n%s---", (int)n, got,
		    want);
}

static void resp_setup(struct response *r, char *buf, size_t cap)
{
	memset(r, 0, sizeof(*r));
	obuf_init(&r->hdr, buf, cap);
	r->body = RB_NONE;
	r->fd = -1;
}

static void resp_release(struct fcache *fc, struct response *r)
{
	if (r->ref)
		fcache_put(fc, r->ref);
	free(r->parts);
	r->ref = NULL;
	r->parts = NULL;
}

/* The request text; its slices point into it, so it lives as long as the
 * call. */
struct parsed {
	char text[4096];
	struct http_request req;
	struct hp_info info;
};

/* Parses "METHOD target HTTP/1.1", Host, and fields. Returns 0, or -1
 * (recorded as a failure of case line). */
static int parse(int line, struct parsed *p, const char *method, const char *target,
		 const char *fields)
{
	int n = snprintf(p->text, sizeof(p->text), "%s %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n",
			 method, target, fields);
	int used = hp_parse_request(p->text, (size_t)n, &p->req);
	ASSERT_EQ(line, used, n);
	if (used != n)
		return -1;
	const char *reason = NULL;
	int st = hp_analyze(&p->req, &p->info, &reason);
	ASSERT_EQ(line, st, 0);
	return st ? -1 : 0;
}

/* Serves one request into r (hdr over buf). Returns sf_serve's step, or
 * -1 when the request did not parse. */
static int serve(int line, struct fcache *fc, struct parsed *p, const char *method,
		 const char *target, const char *fields, struct response *r, char *buf, size_t cap)
{
	resp_setup(r, buf, cap);
	if (parse(line, p, method, target, fields) < 0)
		return -1;
	struct hreq h = {
		.req = &p->req,
		.info = &p->info,
		.fc = fc,
		.now = now,
		.head_only = strcmp(method, "HEAD") == 0,
		.peer = "127.0.0.1",
		.root_fd = cfg->root_fd,
		.root = cfg->root,
	};
	return (int)sf_serve(&h, r);
}

static void file_ctx(const struct sf_case *c, struct expect_ctx *x)
{
	memset(x, 0, sizeof(*x));
	fmt_date(x->date, sizeof(x->date), now);
	if (c->file == NULL)
		return;
	char path[8192];
	struct stat sb;
	snprintf(path, sizeof(path), "%s/%s", root, c->file);
	if (stat(path, &sb) < 0)
		die(path);
	x->size = (uint64_t)sb.st_size;
	/* README: a strong ETag of inode, size and mtime in nanoseconds. */
	snprintf(x->etag, sizeof(x->etag), "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "%s\"",
		 (uint64_t)sb.st_ino, (uint64_t)sb.st_size,
		 (uint64_t)sb.st_mtim.tv_sec * 1000000000u + (uint64_t)sb.st_mtim.tv_nsec,
		 c->variant == 'g' ? "-gz" : c->variant == 'b' ? "-br" : "");
}

/* Checks r against c. */
static void check_response(const struct sf_case *c, const struct response *r, int step)
{
	int L = c->line;
	struct expect_ctx x;
	file_ctx(c, &x);
	ASSERT_EQ(L, step, H_RESPOND);
	ASSERT_EQ(L, r->status, c->status);
	ASSERT_TRUE(L, r->hdr.ok);
	if (c->detail)
		ASSERT_STR(L, r->detail, r->detail ? strlen(r->detail) : 0, c->detail);
	else
		ASSERT_TRUE(L, r->detail == NULL);
	ASSERT_EQ(L, r->body, c->body);
	ASSERT_TRUE(L, !r->close && !r->send_continue);
	/* A file that was found is held by the response until it is sent. */
	ASSERT_EQ(L, r->ref != NULL, c->file != NULL);
	ASSERT_EQ(L, r->parts != NULL, c->body == RB_PARTS);

	const struct tfile *tf = c->file ? tfile_get(c->file) : NULL;
	switch (c->body) {
	case RB_NONE:
		break;
	case RB_MEM: {
		const char *want = c->mem ? c->mem : tf->data;
		size_t want_n = c->mem ? strlen(c->mem) : tf->n;
		ASSERT_EQ(L, r->mem_n, want_n);
		ASSERT_TRUE(L, r->mem != NULL && r->mem_n == want_n &&
				       memcmp(r->mem, want, want_n) == 0);
		x.mem_n = r->mem_n;
		break;
	}
	case RB_FILE: {
		uint64_t want_len = c->len == WHOLE ? tf->n : c->len;
		ASSERT_EQ(L, r->off, c->off);
		ASSERT_EQ(L, r->len, want_len);
		/* The descriptor is the representation's file, open for reading. */
		char path[8192];
		struct stat want_sb, got_sb;
		snprintf(path, sizeof(path), "%s/%s", root, c->file);
		ASSERT_TRUE(L, r->fd >= 0 && fstat(r->fd, &got_sb) == 0 && stat(path, &want_sb) == 0 &&
				       got_sb.st_ino == want_sb.st_ino && got_sb.st_dev == want_sb.st_dev);
		char head[64];
		size_t k = want_len < sizeof(head) ? (size_t)want_len : sizeof(head);
		ASSERT_TRUE(L, r->fd < 0 || (pread(r->fd, head, k, (off_t)c->off) == (ssize_t)k &&
					     memcmp(head, tf->data + c->off, k) == 0));
		break;
	}
	case RB_PARTS: {
		const struct byteranges *br = r->parts;
		if (br == NULL)
			break;
		ASSERT_EQ(L, br->n, c->nparts);
		ASSERT_EQ(L, br->size, tf->n);
		ASSERT_STR(L, br->type, strlen(br->type), c->ptype);
		for (int i = 0; i < c->nparts && i < br->n; i++) {
			ASSERT_EQ(L, br->r[i].first, c->parts[i].first);
			ASSERT_EQ(L, br->r[i].last, c->parts[i].last);
		}
		/* RFC 2046 boundary: 1..70 characters, none that needs quoting. */
		size_t bn = strnlen(br->boundary, sizeof(br->boundary));
		ASSERT_TRUE(L, bn > 0 && bn < sizeof(br->boundary) &&
				       strspn(br->boundary, "abcdefghijklmnopqrstuvwxyz"
							    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == bn);
		/* The parts come from the file, or from its bytes in memory. */
		ASSERT_TRUE(L, r->mem == NULL ? r->fd >= 0 : memcmp(r->mem, tf->data, tf->n) == 0);
		x.boundary = br->boundary;
		x.parts_len = parts_length(c, br->boundary, tf->n);
		ASSERT_EQ(L, resp_parts_length(br), x.parts_len);
		break;
	}
	}
	char want[8192];
	expand(c->hdr, &x, want, sizeof(want));
	check_lines(L, r->hdr.p, r->hdr.n, want);
}

/* Checks one run, and says which run it was when anything failed. */
static void check_run(const struct sf_case *c, const struct response *r, int step,
		      const char *which)
{
	int failed = test_failed;
	if (step >= 0)
		check_response(c, r, step);
	if (test_failed != failed)
		fprintf(stderr, "  (case line %d, %s %s)\n", c->line, which, c->target);
}

/* GET twice and HEAD once: the same description each time. A first,
 * unchecked GET lets the cache admit the file (it caches at the second
 * miss), so the checked runs see the cached representation. */
static void run_case(struct fcache *fc, const struct sf_case *c)
{
	static struct parsed p;
	char fields[1024], buf1[8192 - 160], buf2[8192 - 160];
	struct expect_ctx x;
	file_ctx(c, &x);
	expand(c->fields ? c->fields : "", &x, fields, sizeof(fields));

	struct response r1, r2;
	if (serve(c->line, fc, &p, "GET", c->target, fields, &r1, buf1, sizeof(buf1)) >= 0)
		resp_release(fc, &r1);
	int s1 = serve(c->line, fc, &p, "GET", c->target, fields, &r1, buf1, sizeof(buf1));
	check_run(c, &r1, s1, "first GET");
	int s2 = serve(c->line, fc, &p, "GET", c->target, fields, &r2, buf2, sizeof(buf2));
	check_run(c, &r2, s2, "second GET");
	/* Apart from a multipart boundary, twice is exactly the same. */
	if (s1 >= 0 && s2 >= 0 && c->body != RB_PARTS) {
		ASSERT_TRUE(c->line, r1.hdr.n == r2.hdr.n && memcmp(buf1, buf2, r1.hdr.n) == 0);
		ASSERT_TRUE(c->line, r1.mem_n == r2.mem_n && r1.off == r2.off && r1.len == r2.len);
	}
	resp_release(fc, &r1);
	resp_release(fc, &r2);

	int s3 = serve(c->line, fc, &p, "HEAD", c->target, fields, &r1, buf1, sizeof(buf1));
	check_run(c, &r1, s3, "HEAD");
	resp_release(fc, &r1);
}

/* ---- sequences --------------------------------------------------------- */

/* Finds "name: value\r\n" in a header block; copies the value. */
static bool header_value(const struct response *r, const char *name, char *out, size_t cap)
{
	size_t nn = strlen(name);
	const char *p = r->hdr.p, *end = r->hdr.p + r->hdr.n;
	while (p < end) {
		const char *e = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (e == NULL)
			return false;
		if ((size_t)(e - p) > nn + 2 && strncasecmp(p, name, nn) == 0 && p[nn] == ':' &&
		    p[nn + 1] == ' ') {
			size_t vn = (size_t)(e - p) - nn - 2;
			if (vn >= cap)
				return false;
			memcpy(out, p + nn + 2, vn);
			out[vn] = '\0';
			return true;
		}
		p = e + 2;
	}
	return false;
}

/* A fresh cache: the first request opens the file without caching it (a
 * file is admitted at its second miss), the second fills the cache, the
 * third is answered from it with the same description, and the ETag of
 * that 200 gives a 304. */
static void test_cache_hit(void)
{
	static struct parsed p;
	struct fcache fc;
	char b1[4096], b2[4096], etag[ETAG_MAX + 8], fields[256];
	struct response r1, r2;

	ASSERT_EQ(__LINE__, fcache_init(&fc), 0);
	ASSERT_EQ(__LINE__, fc.n, 0);
	serve(__LINE__, &fc, &p, "GET", "/small.txt", "", &r1, b1, sizeof(b1));
	ASSERT_EQ(__LINE__, r1.status, 200);
	ASSERT_EQ(__LINE__, fc.n, 0); /* a first miss: not admitted yet */
	ASSERT_TRUE(__LINE__, r1.ref != NULL && r1.ref->dead && r1.body == RB_FILE);
	resp_release(&fc, &r1);
	serve(__LINE__, &fc, &p, "GET", "/small.txt", "", &r1, b1, sizeof(b1));
	ASSERT_EQ(__LINE__, r1.status, 200);
	ASSERT_EQ(__LINE__, fc.n, 1); /* a miss, now cached */
	serve(__LINE__, &fc, &p, "GET", "/small.txt", "", &r2, b2, sizeof(b2));
	ASSERT_EQ(__LINE__, r2.status, 200);
	ASSERT_EQ(__LINE__, fc.n, 1); /* a hit: nothing new */
	ASSERT_TRUE(__LINE__, r1.ref != NULL && r1.ref == r2.ref);
	ASSERT_TRUE(__LINE__, r1.body == RB_MEM && r2.body == RB_MEM && r1.mem == r2.mem &&
				      r1.mem_n == r2.mem_n);
	ASSERT_TRUE(__LINE__, r1.hdr.n == r2.hdr.n && memcmp(b1, b2, r1.hdr.n) == 0);
	/* The cache's reference and the two responses'. */
	ASSERT_EQ(__LINE__, r1.ref ? r1.ref->refs : 0, 3);

	bool have = header_value(&r1, "ETag", etag, sizeof(etag));
	ASSERT_TRUE(__LINE__, have);
	snprintf(fields, sizeof(fields), "If-None-Match: %s\r\n", have ? etag : "\"none\"");
	resp_release(&fc, &r1);
	resp_release(&fc, &r2);
	serve(__LINE__, &fc, &p, "GET", "/small.txt", fields, &r1, b1, sizeof(b1));
	ASSERT_EQ(__LINE__, r1.status, 304);
	ASSERT_EQ(__LINE__, r1.body, RB_NONE);
	ASSERT_TRUE(__LINE__, header_value(&r1, "ETag", b2, sizeof(b2)) && strcmp(b2, etag) == 0);
	resp_release(&fc, &r1);

	/* A path through a link is opened each time and never cached. */
	serve(__LINE__, &fc, &p, "GET", "/in.html", "", &r1, b1, sizeof(b1));
	ASSERT_EQ(__LINE__, r1.status, 200);
	ASSERT_EQ(__LINE__, fc.n, 1);
	ASSERT_TRUE(__LINE__, r1.ref != NULL && r1.ref->dead);
	resp_release(&fc, &r1);

	/* Errors leave nothing in the cache. */
	serve(__LINE__, &fc, &p, "GET", "/style.css", "", &r1, b1, sizeof(b1));
	ASSERT_EQ(__LINE__, r1.status, 415);
	ASSERT_EQ(__LINE__, fc.n, 1);
	resp_release(&fc, &r1);
	fcache_destroy(&fc);
}

/* The redirect's Location must fit with room to spare: one that does not
 * is 414, and the header block is left as it was. */
static void test_redirect_too_long(void)
{
	static struct parsed p;
	struct fcache fc;
	char buf[600];
	struct response r;
	ASSERT_EQ(__LINE__, fcache_init(&fc), 0);
	serve(__LINE__, &fc, &p, "GET", "/dir?aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	      "", &r, buf, sizeof(buf));
	ASSERT_EQ(__LINE__, r.status, 414);
	ASSERT_EQ(__LINE__, r.body, RB_NONE);
	ASSERT_EQ(__LINE__, r.hdr.n, 0);
	ASSERT_TRUE(__LINE__, r.hdr.ok);
	ASSERT_TRUE(__LINE__, r.ref == NULL);
	resp_release(&fc, &r);
	fcache_destroy(&fc);
}

int main(void)
{
	now = time(NULL);
	atexit(remove_tree); /* also when setup fails half-way */
	make_tree();
	int fds_before = count_fds();

	conf.root = root;
	conf.root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (conf.root_fd < 0)
		die(root);
	cfg = &conf;

	size_t ncases = sizeof(cases) / sizeof(cases[0]);
	const enum mime_policy policies[] = { MIME_SEED, MIME_ALL };
	/* One cache per policy, as in a server: an entry keeps its type. */
	for (size_t k = 0; k < 2; k++) {
		struct fcache fc;
		conf.types = policies[k];
		ASSERT_EQ(__LINE__, fcache_init(&fc), 0);
		for (size_t i = 0; i < ncases; i++)
			if (cases[i].types == policies[k])
				run_case(&fc, &cases[i]);
		fcache_destroy(&fc);
	}
	conf.types = MIME_SEED;
	test_cache_hit();
	test_redirect_too_long();

	close(conf.root_fd);
	/* Every descriptor the handler and the caches opened is closed. */
	ASSERT_EQ(__LINE__, count_fds(), fds_before);
	printf("sf_serve: %zu table cases\n", ncases);
	return test_summary();
}
