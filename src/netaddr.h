/* Network addresses for --trusted-proxy, and the client address that
 * trusted proxies report in X-Forwarded-For or Forwarded (RFC 7239).
 * Pure: no I/O, no allocation.
 *
 * Choices made here, where the sources leave room:
 * - Networks are written ADDR or ADDR/PREFIX, ADDR an IPv4 dotted quad
 *   (no leading zeros) or an IPv6 literal without brackets or zone;
 *   PREFIX decimal without leading zeros, at most 32 or 128; without it the
 *   whole address. Bits set past the prefix are allowed and cleared.
 * - IPv4 is IPv4 however it arrives: a v4-mapped IPv6 address
 *   (::ffff:a.b.c.d, as a dual-stack socket reports IPv4 peers) is matched
 *   as the IPv4 address, and a network written ::ffff:a.b.c.d/96..128 is
 *   stored as the IPv4 network it covers. An IPv6 network shorter than /96
 *   (::/0 included) matches IPv6 peers only: write 0.0.0.0/0 for IPv4.
 * - The client is found right to left: the right-most element that is not
 *   a trusted address, where every element to its right is a valid, trusted
 *   address; when every element is trusted, the left-most. Elements left of
 *   the answer are never used. An element on the way that is not a usable
 *   address ("unknown", an obfuscated "_name", a port on an X-Forwarded-For
 *   element, a bracketed or otherwise malformed one) ends the search with no
 *   address: the caller then keeps the peer's address rather than guessing.
 * - X-Forwarded-For: comma-separated IPv4 or IPv6 literals with optional
 *   whitespace, empty elements skipped. "1.2.3.4:5" and "[::1]" are
 *   malformed: no standard defines them, and the proxies this server is
 *   deployed behind (HAProxy, nginx) never send them.
 * - Forwarded: the RFC 7239 grammar, with optional whitespace also allowed
 *   around ";" (some proxies write "; "). Each element must have exactly
 *   one for= (an element without one hides its client). Its value is a token
 *   or quoted-string naming an IPv4 address or a bracketed IPv6 address,
 *   each with an optional port (digits <= 65535, or an obfuscated "_port"),
 *   which is dropped. A syntax error makes the rest of that field line one
 *   malformed element, as its list can no longer be split reliably.
 * - Several field lines are one list, in order (RFC 9110 §5.3).
 * - The address returned has port 0; a v4-mapped IPv6 element is returned
 *   as the IPv4 address. */
#ifndef MTHTTPD_NETADDR_H
#define MTHTTPD_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define NA_TEXT_MAX 49 /* longest ADDR/PREFIX text: 45 + "/128" */

struct na_net {
	int family;              /* AF_INET or AF_INET6 */
	unsigned prefix;         /* 0..32 or 0..128 */
	unsigned char addr[16];  /* network byte order, bits past prefix zero;
	                          * IPv4 in addr[0..4) */
};

/* A list of networks, as na_trusted wants its argument. */
struct na_list {
	const struct na_net *v;
	size_t n;
};

/* A field value: pointer and length into the caller's buffer, like
 * struct hp_slice. */
struct na_slice {
	const char *p;
	size_t n;
};

enum na_header { NA_X_FORWARDED_FOR, NA_FORWARDED };

/* Parses "ADDR[/PREFIX]" from s[0..n). Returns 0 and fills *out, or -1
 * when s is not such a network (*out is then unspecified). */
int na_parse(const char *s, size_t n, struct na_net *out);

/* Is the address sa (AF_INET or AF_INET6; other families never match)
 * inside one of list[0..n)? */
bool na_match(const struct na_net *list, size_t n, const struct sockaddr *sa);

/* na_match over a struct na_list, in the shape na_client wants for its
 * predicate: na_client(..., na_trusted, &list, &out). */
bool na_trusted(const struct sockaddr *sa, void *list);

/* Finds the client address in the values[0..nvalues) of the field named by
 * kind (every line of it, in order), trusting the addresses for which
 * trusted(sa, arg) is true. Returns true and fills *out (a sockaddr_in or
 * sockaddr_in6, port 0) when there is a usable address; false when there is
 * none (no element, or a malformed or hidden one on the way): the caller
 * keeps the peer's address. The values are only read. */
bool na_client(enum na_header kind, const struct na_slice *values, size_t nvalues,
	       bool (*trusted)(const struct sockaddr *sa, void *arg), void *arg,
	       struct sockaddr_storage *out);

#endif
