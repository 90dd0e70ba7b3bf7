/* The Host check by name. Pure: no I/O, no malloc. See hostmatch.h. */
#include "hostmatch.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#define V6_TEXT_MAX 45 /* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" */
#define V4_TEXT_MAX 15

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* reg-name characters besides pct-encoded: unreserved / sub-delims. */
static bool is_reg_char(char c)
{
	return is_alpha(c) || is_digit(c) || (c != '\0' && strchr("-._~!$&'()*+,;=", c) != NULL);
}

/* An IPv6 literal s[0..n), no brackets, into addr. */
static bool parse_v6(const char *s, size_t n, unsigned char *addr)
{
	char text[V6_TEXT_MAX + 1];

	if (n == 0 || n > V6_TEXT_MAX)
		return false;
	for (size_t k = 0; k < n; k++)
		if (!is_hex(s[k]) && s[k] != ':' && s[k] != '.')
			return false;
	memcpy(text, s, n);
	text[n] = '\0';
	return inet_pton(AF_INET6, text, addr) == 1;
}

/* An IPv4 dotted quad s[0..n) without leading zeros, into addr. */
static bool parse_v4(const char *s, size_t n, unsigned char *addr)
{
	char text[V4_TEXT_MAX + 1];

	if (n == 0 || n > V4_TEXT_MAX)
		return false;
	for (size_t k = 0; k < n; k++)
		if (!is_digit(s[k]) && s[k] != '.')
			return false;
	memcpy(text, s, n);
	text[n] = '\0';
	return inet_pton(AF_INET, text, addr) == 1;
}

/* ---- specs ---- */

/* ":" port in a spec: 1 to 5 digits, at most 65535. */
static bool spec_port(const char *p, size_t n)
{
	uint32_t v = 0;

	if (n == 0 || n > 5)
		return false;
	for (size_t k = 0; k < n; k++) {
		if (!is_digit(p[k]))
			return false;
		v = v * 10 + (uint32_t)(p[k] - '0');
	}
	return v <= 65535;
}

static int fail(const char **why, const char *reason)
{
	*why = reason;
	return -1;
}

int hm_parse_spec(const char *s, size_t n, struct hm_entry *out, const char **why)
{
	const char *colon;
	size_t name_n;
	bool domain = false;

	memset(out, 0, sizeof(*out));
	if (n == 0)
		return fail(why, "empty");
	if (n == 1 && s[0] == '*') {
		out->kind = HM_KIND_ANY;
		return 0;
	}
	if (s[0] == '[') {
		const char *close = memchr(s, ']', n);
		size_t in;

		if (close == NULL)
			return fail(why, "'[' without ']'");
		in = (size_t)(close - s) - 1;
		if (!parse_v6(s + 1, in, out->addr))
			return fail(why, "not an IPv6 address in brackets");
		if (in + 2 < n && (s[in + 2] != ':' || !spec_port(s + in + 3, n - in - 3)))
			return fail(why, "bad port");
		out->kind = HM_KIND_IPV6;
		return 0;
	}
	colon = memchr(s, ':', n);
	if (colon && memchr(colon + 1, ':', n - (size_t)(colon - s) - 1)) {
		/* Two colons or more: only a bare IPv6 address can have them. */
		if (!parse_v6(s, n, out->addr))
			return fail(why, "not an IPv6 address");
		out->kind = HM_KIND_IPV6;
		return 0;
	}
	name_n = colon ? (size_t)(colon - s) : n;
	if (colon && !spec_port(colon + 1, n - name_n - 1))
		return fail(why, "bad port (digits, at most 65535)");
	if (name_n > 1 && s[name_n - 1] == '.')
		name_n--; /* the root label's dot */
	if (name_n > 0 && s[0] == '.') {
		domain = true;
		s++;
		name_n--;
	}
	if (name_n == 0)
		return fail(why, "no name");
	if (name_n > HM_NAME_MAX)
		return fail(why, "name longer than 253 characters");
	if (parse_v4(s, name_n, out->addr)) {
		if (domain)
			return fail(why, "an IP address has no subdomains");
		out->kind = HM_KIND_IPV4;
		return 0;
	}
	for (size_t k = 0; k < name_n; k++) {
		char c = s[k];

		if (c == '.') {
			if (k == 0 || s[k - 1] == '.' || k + 1 == name_n)
				return fail(why, "empty label");
		} else if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_') {
			return fail(why, c == '*' ? "'*' only stands alone (use .example.com for a domain)"
						  : "a name has letters, digits, '-', '_' and dots");
		}
		out->name[k] = lower(c);
	}
	out->name[name_n] = '\0';
	out->len = name_n;
	out->kind = domain ? HM_KIND_DOMAIN : HM_KIND_NAME;
	return 0;
}

bool hm_same(const struct hm_entry *a, const struct hm_entry *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case HM_KIND_ANY:
		return true;
	case HM_KIND_IPV4:
		return memcmp(a->addr, b->addr, 4) == 0;
	case HM_KIND_IPV6:
		return memcmp(a->addr, b->addr, 16) == 0;
	default:
		return a->len == b->len && memcmp(a->name, b->name, a->len) == 0;
	}
}

/* ---- Host values ---- */

/* "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ) */
static bool ipvfuture_valid(const char *p, size_t n)
{
	size_t i = 1;

	if (n < 4 || lower(p[0]) != 'v')
		return false;
	while (i < n && is_hex(p[i]))
		i++;
	if (i == 1 || i == n || p[i] != '.' || ++i == n)
		return false;
	for (; i < n; i++)
		if (!is_reg_char(p[i]) && p[i] != ':')
			return false;
	return true;
}

static bool name_eq(const char *host, size_t n, const char *lower_name, size_t ln)
{
	if (n != ln)
		return false;
	for (size_t k = 0; k < n; k++)
		if (lower(host[k]) != lower_name[k])
			return false;
	return true;
}

/* Is host[0..n) the domain d or a name under it? */
static bool in_domain(const char *host, size_t n, const char *d, size_t dn)
{
	if (n == dn)
		return name_eq(host, n, d, dn);
	return n > dn + 1 && host[n - dn - 1] == '.' && name_eq(host + n - dn, dn, d, dn);
}

enum hm_result hm_match(const struct hm_entry *list, size_t count, const char *host, size_t n)
{
	enum { H_NAME, H_V4, H_V6, H_FUTURE } form = H_NAME;
	unsigned char addr[16];
	bool any = false;
	size_t i = 0, name_n;

	for (size_t k = 0; k < count; k++)
		any |= list[k].kind == HM_KIND_ANY;
	if (n == 0)
		return any ? HM_ALLOWED : HM_DENIED; /* valid, but names no host */

	/* uri-host: IP-literal / IPv4address / reg-name */
	if (host[0] == '[') {
		const char *close = memchr(host, ']', n);
		size_t in;

		if (close == NULL)
			return HM_MALFORMED;
		in = (size_t)(close - host) - 1;
		if (parse_v6(host + 1, in, addr))
			form = H_V6;
		else if (ipvfuture_valid(host + 1, in))
			form = H_FUTURE; /* valid, but never one of ours */
		else
			return HM_MALFORMED;
		i = in + 2;
	} else {
		while (i < n && host[i] != ':') {
			if (is_reg_char(host[i]))
				i++;
			else if (host[i] == '%' && n - i > 2 && is_hex(host[i + 1]) && is_hex(host[i + 2]))
				i += 3;
			else
				return HM_MALFORMED;
		}
		if (i == 0)
			return HM_MALFORMED; /* ":80": RFC 9110 §4.2.1 wants a host */
	}
	name_n = i;
	/* [ ":" port ], port = *DIGIT, here at most 65535. */
	if (i < n) {
		uint32_t port = 0;

		if (host[i] != ':')
			return HM_MALFORMED;
		for (i++; i < n; i++) {
			if (!is_digit(host[i]))
				return HM_MALFORMED;
			port = port * 10 + (uint32_t)(host[i] - '0');
			if (port > 65535)
				return HM_MALFORMED;
		}
	}
	if (any)
		return HM_ALLOWED;
	if (form == H_NAME) {
		if (name_n > 1 && host[name_n - 1] == '.')
			name_n--; /* "localhost." is "localhost" */
		if (parse_v4(host, name_n, addr))
			form = H_V4;
	}
	for (size_t k = 0; k < count; k++) {
		const struct hm_entry *e = &list[k];

		if (form == H_V4 && e->kind == HM_KIND_IPV4 && memcmp(e->addr, addr, 4) == 0)
			return HM_ALLOWED;
		if (form == H_V6 && e->kind == HM_KIND_IPV6 && memcmp(e->addr, addr, 16) == 0)
			return HM_ALLOWED;
		if (form == H_NAME && e->kind == HM_KIND_NAME &&
		    name_eq(host, name_n, e->name, e->len))
			return HM_ALLOWED;
		if (form == H_NAME && e->kind == HM_KIND_DOMAIN &&
		    in_domain(host, name_n, e->name, e->len))
			return HM_ALLOWED;
	}
	return HM_DENIED;
}
