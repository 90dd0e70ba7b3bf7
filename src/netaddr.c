/* Trusted networks and the forwarded client address. Pure: no I/O, no
 * malloc. See netaddr.h for the rules. */
#include "netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#define ADDR_TEXT_MAX 45 /* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" */

static const unsigned char v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* tchar of RFC 9110 §5.6.2. */
static bool is_tchar(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* ALPHA / DIGIT / "." / "_" / "-": the characters of obfuscated
 * identifiers (RFC 7239 §6.3). */
static bool is_obfchar(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c == '.' || c == '_' || c == '-';
}

/* An IPv4 or IPv6 literal s[0..n) (IPv6 when it has a ':'), into *family
 * and addr (4 or 16 bytes). */
static bool parse_ip(const char *s, size_t n, int *family, unsigned char *addr)
{
	char text[ADDR_TEXT_MAX + 1];

	if (n == 0 || n > ADDR_TEXT_MAX)
		return false;
	memcpy(text, s, n);
	text[n] = '\0';
	*family = memchr(s, ':', n) ? AF_INET6 : AF_INET;
	return inet_pton(*family, text, addr) == 1;
}

/* Turns a v4-mapped IPv6 address into IPv4 in place. */
static void unmap(int *family, unsigned char *addr)
{
	if (*family == AF_INET6 && memcmp(addr, v4_mapped, sizeof(v4_mapped)) == 0) {
		memmove(addr, addr + 12, 4);
		memset(addr + 4, 0, 12);
		*family = AF_INET;
	}
}

static void clear_past(unsigned char *addr, unsigned prefix)
{
	for (unsigned bit = prefix; bit < 128; bit++)
		addr[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
}

int na_parse(const char *s, size_t n, struct na_net *out)
{
	const char *slash = memchr(s, '/', n);
	size_t an = slash ? (size_t)(slash - s) : n;
	unsigned max, prefix;

	memset(out, 0, sizeof(*out));
	if (!parse_ip(s, an, &out->family, out->addr))
		return -1;
	max = out->family == AF_INET ? 32 : 128;
	prefix = max;
	if (slash) {
		const char *p = slash + 1;
		size_t pn = n - an - 1;

		if (pn == 0 || pn > 3 || (pn > 1 && p[0] == '0'))
			return -1;
		prefix = 0;
		for (size_t k = 0; k < pn; k++) {
			if (!is_digit(p[k]))
				return -1;
			prefix = prefix * 10 + (unsigned)(p[k] - '0');
		}
		if (prefix > max)
			return -1;
	}
	if (out->family == AF_INET6 && prefix >= 96 &&
	    memcmp(out->addr, v4_mapped, sizeof(v4_mapped)) == 0) {
		unmap(&out->family, out->addr);
		prefix -= 96;
	}
	out->prefix = prefix;
	clear_past(out->addr, prefix);
	return 0;
}

/* The address of sa as family + bytes, v4-mapped ones as IPv4. */
static bool sa_bytes(const struct sockaddr *sa, int *family, unsigned char *addr)
{
	if (sa->sa_family == AF_INET) {
		*family = AF_INET;
		memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		*family = AF_INET6;
		memcpy(addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		unmap(family, addr);
		return true;
	}
	return false;
}

static bool net_contains(const struct na_net *net, int family, const unsigned char *addr)
{
	unsigned full = net->prefix / 8, rest = net->prefix % 8;

	if (net->family != family)
		return false;
	if (memcmp(net->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff00u >> rest);

	return (addr[full] & mask) == net->addr[full];
}

bool na_match(const struct na_net *list, size_t n, const struct sockaddr *sa)
{
	unsigned char addr[16] = { 0 };
	int family;

	if (!sa_bytes(sa, &family, addr))
		return false;
	for (size_t k = 0; k < n; k++)
		if (net_contains(&list[k], family, addr))
			return true;
	return false;
}

bool na_trusted(const struct sockaddr *sa, void *list)
{
	const struct na_list *l = list;

	return na_match(l->v, l->n, sa);
}

/* ---- the client address ---- */

/* The search, fed element by element from left to right; the answer is
 * the right-most element that is not trusted (or the left-most when all
 * are), so only the last such element needs keeping. */
struct walk {
	bool (*trusted)(const struct sockaddr *sa, void *arg);
	void *arg;
	bool have_cand, cand_bad, have_first;
	struct sockaddr_storage cand, first;
};

static void walk_bad(struct walk *w)
{
	w->have_cand = true;
	w->cand_bad = true;
}

static void walk_addr(struct walk *w, int family, unsigned char *addr)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	unmap(&family, addr);
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, addr, 4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, addr, 16);
	}
	if (!w->have_first) {
		w->have_first = true;
		w->first = ss;
	}
	if (!w->trusted((const struct sockaddr *)&ss, w->arg)) {
		w->have_cand = true;
		w->cand_bad = false;
		w->cand = ss;
	}
}

/* One X-Forwarded-For element, OWS already trimmed. */
static void xff_element(struct walk *w, const char *s, size_t n)
{
	unsigned char addr[16];
	int family;

	if (parse_ip(s, n, &family, addr))
		walk_addr(w, family, addr);
	else
		walk_bad(w);
}

static void xff_line(struct walk *w, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		const char *comma = memchr(s + i, ',', n - i);
		size_t end = comma ? (size_t)(comma - s) : n;
		size_t a = i, b = end;

		while (a < b && is_ows(s[a]))
			a++;
		while (b > a && is_ows(s[b - 1]))
			b--;
		if (a < b)
			xff_element(w, s + a, b - a);
		i = end + 1;
	}
}

/* A for= node, unquoted: nodename [ ":" node-port ] (RFC 7239 §6). */
static void forwarded_node(struct walk *w, const char *s, size_t n)
{
	unsigned char addr[16];
	int family;
	size_t an, i;

	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (close == NULL)
			goto bad;
		an = (size_t)(close - s) - 1;
		if (!memchr(s + 1, ':', an) || !parse_ip(s + 1, an, &family, addr))
			goto bad;
		i = an + 2;
	} else {
		const char *colon = memchr(s, ':', n);

		an = colon ? (size_t)(colon - s) : n;
		/* "unknown" and "_hidden" land here and fail too. */
		if (!parse_ip(s, an, &family, addr))
			goto bad;
		i = an;
	}
	if (i < n) {
		size_t pn = n - i - 1;
		const char *p = s + i + 1;
		uint32_t port = 0;

		if (s[i] != ':' || pn == 0)
			goto bad;
		if (p[0] == '_') {
			/* obfport = "_" 1*(ALPHA / DIGIT / "." / "_" / "-") */
			if (pn == 1)
				goto bad;
			for (size_t k = 1; k < pn; k++)
				if (!is_obfchar(p[k]))
					goto bad;
		} else {
			if (pn > 5)
				goto bad;
			for (size_t k = 0; k < pn; k++) {
				if (!is_digit(p[k]))
					goto bad;
				port = port * 10 + (uint32_t)(p[k] - '0');
			}
			if (port > 65535)
				goto bad;
		}
	}
	walk_addr(w, family, addr);
	return;
bad:
	walk_bad(w);
}

/* Reads a token at s[*i..n). */
static bool read_token(const char *s, size_t n, size_t *i)
{
	size_t j = *i;

	while (j < n && is_tchar(s[j]))
		j++;
	if (j == *i)
		return false;
	*i = j;
	return true;
}

/* Reads a value (token or quoted-string) at s[*i..n) into val (unquoted)
 * when it fits in cap bytes; *vn = cap + 1 marks one that does not. */
static bool read_value(const char *s, size_t n, size_t *i, char *val, size_t cap, size_t *vn)
{
	size_t j = *i, k = 0;

	if (j < n && s[j] == '"') {
		for (j++;; j++) {
			char c;

			if (j == n)
				return false;
			c = s[j];
			if (c == '"')
				break;
			if (c == '\\') {
				if (++j == n)
					return false;
				c = s[j];
				if (c != '\t' && (c < 0x20 || c == 0x7f))
					return false;
			} else if (c != '\t' && (unsigned char)c < 0x20) {
				return false; /* qdtext excludes controls */
			} else if (c == 0x7f) {
				return false;
			}
			if (k < cap)
				val[k] = c;
			k++;
		}
		*i = j + 1;
	} else {
		size_t t0 = j;

		if (!read_token(s, n, &j))
			return false;
		k = j - t0;
		if (k <= cap)
			memcpy(val, s + t0, k);
		*i = j;
	}
	*vn = k <= cap ? k : cap + 1;
	return true;
}

/* The node text of for= values: longest useful "[" v6 "]:" port. */
#define NODE_MAX 64

/* Parses the elements of one Forwarded line, feeding each to the walk. */
static void forwarded_line(struct walk *w, const char *s, size_t n)
{
	size_t i = 0;

	for (;;) {
		char node[NODE_MAX];
		size_t node_n = 0;
		int nfor = 0;

		/* Empty list elements and the OWS around commas. */
		while (i < n && (is_ows(s[i]) || s[i] == ','))
			i++;
		if (i == n)
			return;
		/* forwarded-element = [ pair ] *( ";" [ pair ] ) */
		for (;;) {
			if (s[i] != ';') {
				size_t name0 = i, vn;
				char val[NODE_MAX];

				if (!read_token(s, n, &i) || i == n || s[i] != '=')
					goto bad;
				bool is_for = i - name0 == 3 && strncasecmp(s + name0, "for", 3) == 0;

				i++;
				if (!read_value(s, n, &i, val, sizeof(val), &vn))
					goto bad;
				if (is_for) {
					nfor++;
					node_n = vn;
					if (vn <= sizeof(val))
						memcpy(node, val, vn);
				}
			}
			while (i < n && is_ows(s[i]))
				i++;
			if (i == n || s[i] == ',')
				break;
			if (s[i] != ';')
				goto bad;
			i++;
			while (i < n && is_ows(s[i]))
				i++;
			if (i == n || s[i] == ',')
				break;
		}
		if (nfor != 1 || node_n > NODE_MAX)
			walk_bad(w);
		else
			forwarded_node(w, node, node_n);
	}
bad:
	walk_bad(w);
}

bool na_client(enum na_header kind, const struct na_slice *values, size_t nvalues,
	       bool (*trusted)(const struct sockaddr *sa, void *arg), void *arg,
	       struct sockaddr_storage *out)
{
	struct walk w;

	memset(&w, 0, sizeof(w));
	w.trusted = trusted;
	w.arg = arg;
	for (size_t k = 0; k < nvalues; k++) {
		if (values[k].p == NULL)
			continue;
		if (kind == NA_FORWARDED)
			forwarded_line(&w, values[k].p, values[k].n);
		else
			xff_line(&w, values[k].p, values[k].n);
	}
	if (w.have_cand) {
		if (w.cand_bad)
			return false;
		*out = w.cand;
		return true;
	}
	if (!w.have_first)
		return false;
	*out = w.first; /* every element trusted: the left-most is the client */
	return true;
}
