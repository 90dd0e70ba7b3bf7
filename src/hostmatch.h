/* The Host check by name (issue 12): which Host header values this server
 * answers to. Pure: no I/O, no allocation.
 *
 * Only the name decides. DNS rebinding is about the name, and proxies and
 * port mappings change the port, so a port in Host is checked for syntax
 * (digits, at most 65535; an empty port, "name:", is valid RFC 3986 syntax
 * and accepted) and otherwise ignored.
 *
 * An allowed-host spec (--allow-host, and the names the server adds itself:
 * localhost, 127.0.0.1, ::1, the bound address, the machine's names) is one of
 *   name          letters, digits, '-', '_' in dot-separated non-empty
 *                 labels, at most 253 characters; any case; one trailing
 *                 dot ignored
 *   name:port     the same; the port (1 to 5 digits, <= 65535) is ignored
 *   .example.com  example.com and every name under it (a.example.com,
 *                 a.b.example.com), not badexample.com
 *   a.b.c.d       an IPv4 address (compared as an address)
 *   [v6] or v6    an IPv6 address, bare or in brackets, [v6]:port too
 *                 (compared as an address: [0:0:0:0:0:0:0:1] is [::1])
 *   *             every Host
 * Anything else is refused with a reason (spaces, empty labels, "*.x",
 * a bad port, a bad address in brackets, ".1.2.3.4", other characters).
 *
 * A Host value (RFC 9110 §7.2, RFC 3986 §3.2.2) is matched case-insensitively
 * with one trailing dot ignored; IPv4 literals are compared as addresses
 * with IPv4 entries, IPv6 literals (in brackets) with IPv6 entries. A
 * syntactically invalid Host is HM_MALFORMED (the server answers 400); a
 * valid one that names no allowed host is HM_DENIED (403). An empty Host is
 * valid but names no host: HM_DENIED, unless "*" is in the list. */
#ifndef MTHTTPD_HOSTMATCH_H
#define MTHTTPD_HOSTMATCH_H

#include <stdbool.h>
#include <stddef.h>

#define HM_NAME_MAX 253

enum hm_kind { HM_KIND_NAME, HM_KIND_DOMAIN, HM_KIND_IPV4, HM_KIND_IPV6, HM_KIND_ANY };

struct hm_entry {
	enum hm_kind kind;
	unsigned char addr[16];       /* IPV4: addr[0..4); IPV6: all 16 */
	size_t len;                   /* of name */
	char name[HM_NAME_MAX + 1];   /* NAME, DOMAIN: lower case, without the
	                               * trailing dot (and, for DOMAIN, without
	                               * the leading one), NUL-terminated */
};

enum hm_result { HM_ALLOWED, HM_DENIED, HM_MALFORMED };

/* Parses the spec s[0..n) into *out. Returns 0, or -1 with *why set to a
 * static English phrase saying what is wrong (*out is then unspecified). */
int hm_parse_spec(const char *s, size_t n, struct hm_entry *out, const char **why);

/* Do a and b accept exactly the same Hosts (for removing duplicates)? */
bool hm_same(const struct hm_entry *a, const struct hm_entry *b);

/* Checks the Host value host[0..n) (as sent, OWS already trimmed) against
 * list[0..count). Returns HM_ALLOWED, HM_DENIED or HM_MALFORMED. */
enum hm_result hm_match(const struct hm_entry *list, size_t count, const char *host, size_t n);

#endif
