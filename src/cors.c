/* CORS: --cors-origin values, matching a request's Origin, header lines. */
#include "cors.h"

#include <string.h>
#include <strings.h>

#define CORS_STR_(x) #x
#define CORS_STR(x) CORS_STR_(x)

static bool is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* A host of an origin: a bracketed IPv6 literal, or a name of letters,
 * digits, '-' and '.' (IPv4 addresses included) without empty labels. */
static bool valid_host(const char *h, size_t n)
{
	if (n == 0)
		return false;
	if (h[0] == '[') {
		if (n < 4 || h[n - 1] != ']')
			return false;
		for (size_t i = 1; i + 1 < n; i++)
			if (!(is_digit(h[i]) || (h[i] >= 'a' && h[i] <= 'f') || (h[i] >= 'A' && h[i] <= 'F') ||
			      h[i] == ':' || h[i] == '.'))
				return false;
		return memchr(h, ':', n) != NULL;
	}
	if (h[0] == '.' || h[0] == '-' || h[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = h[i];
		if (ch == '.' && h[i + 1] == '.')
			return false;
		if (!(is_alpha(ch) || is_digit(ch) || ch == '-' || ch == '.'))
			return false;
	}
	return true;
}

int cors_parse_origin(const char *s, size_t n, const char **why)
{
	if (n == 1 && s[0] == '*')
		return 0;
	size_t i = 0;
	if (n == 0 || !is_alpha(s[0])) {
		*why = "expected scheme://host[:port] or '*'";
		return -1;
	}
	while (i < n && (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
		i++;
	if (n - i < 3 || memcmp(s + i, "://", 3) != 0) {
		*why = "expected scheme://host[:port] or '*'";
		return -1;
	}
	const char *h = s + i + 3;
	size_t hn = n - i - 3;
	if (memchr(h, '/', hn) || memchr(h, '?', hn) || memchr(h, '#', hn) || memchr(h, '@', hn)) {
		*why = "an origin has no path, query, fragment or user (scheme://host[:port])";
		return -1;
	}
	/* The port: digits after the last ':' outside brackets. */
	const char *close = memrchr(h, ']', hn);
	const char *colon = memrchr(h, ':', hn);
	if (colon && (close == NULL || colon > close)) {
		size_t pn = hn - (size_t)(colon + 1 - h);
		unsigned long port = 0;
		if (pn == 0 || pn > 5) {
			*why = "invalid port";
			return -1;
		}
		for (size_t k = 0; k < pn; k++) {
			if (!is_digit(colon[1 + k])) {
				*why = "invalid port";
				return -1;
			}
			port = port * 10 + (unsigned long)(colon[1 + k] - '0');
		}
		if (port > 65535) {
			*why = "invalid port";
			return -1;
		}
		hn = (size_t)(colon - h);
	}
	if (!valid_host(h, hn)) {
		*why = "invalid host";
		return -1;
	}
	return 0;
}

/* Origins compare case-insensitively in scheme and host (browsers send
 * them lower-case; a list written with capitals still matches). */
const char *cors_match(const char *const *list, size_t nlist, const char *origin, size_t n)
{
	if (origin == NULL)
		return NULL;
	for (size_t i = 0; i < nlist; i++) {
		if (strcmp(list[i], "*") == 0)
			return list[i];
		if (strlen(list[i]) == n && strncasecmp(list[i], origin, n) == 0)
			return list[i];
	}
	return NULL;
}

const char *cors_for_request(const struct http_request *req, const char *const *list, size_t nlist)
{
	struct hp_slice v[2];
	if (nlist == 0 || hp_field_lines(req, "origin", v, 2) != 1)
		return NULL;
	return cors_match(list, nlist, v[0].p, v[0].n);
}

bool cors_is_preflight(const struct http_request *req)
{
	struct hp_slice v[1];
	return hp_field_lines(req, "access-control-request-method", v, 1) == 1;
}

bool cors_varies(const char *const *list, size_t nlist)
{
	for (size_t i = 0; i < nlist; i++)
		if (strcmp(list[i], "*") != 0)
			return true;
	return false;
}

void cors_put(struct obuf *o, const char *allow, bool vary)
{
	if (allow) {
		ob_puts(o, "Access-Control-Allow-Origin: ");
		ob_puts(o, allow);
		ob_puts(o, "\r\nAccess-Control-Expose-Headers: Location\r\n");
	}
	if (vary)
		ob_puts(o, "Vary: Origin\r\n");
}

void cors_put_preflight(struct obuf *o, bool allow_post)
{
	ob_puts(o, allow_post ? "Access-Control-Allow-Methods: POST, OPTIONS\r\n"
			      : "Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\n");
	ob_puts(o, "Access-Control-Allow-Headers: Content-Type, Authorization\r\n"
		   "Access-Control-Max-Age: " CORS_STR(CORS_MAX_AGE) "\r\n");
}
