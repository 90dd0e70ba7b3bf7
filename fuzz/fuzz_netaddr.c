/* libFuzzer harness for src/netaddr.c.
 *
 * Input: one mode byte, then text. Mode 0: na_parse of the text. Modes 1
 * and 2: the text split at '\n' into at most 8 field lines of
 * X-Forwarded-For (1) or Forwarded (2), given to na_client with a few
 * trusted networks. Checks the contract rather than exact answers: a parsed
 * network is canonical (family, prefix in range, no bits past it), parses
 * again from its own text to the same network and contains its own
 * address; a client found is AF_INET or AF_INET6 with port 0 and never a
 * v4-mapped IPv6 address, is untrusted unless trusting nothing at all
 * changes the answer, and the answers are deterministic. */
#include "netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static bool trust_none(const struct sockaddr *sa, void *arg)
{
	(void)sa;
	(void)arg;
	return false;
}

static void check_parse(const char *s, size_t n)
{
	struct na_net net, again;
	char text[NA_TEXT_MAX + 8], addr[INET6_ADDRSTRLEN];
	struct sockaddr_storage ss;

	if (na_parse(s, n, &net) != 0)
		return;
	unsigned max = net.family == AF_INET ? 32 : 128;

	if ((net.family != AF_INET && net.family != AF_INET6) || net.prefix > max)
		abort();
	for (unsigned bit = net.prefix; bit < 128; bit++)
		if (net.addr[bit / 8] & (0x80u >> (bit % 8)))
			abort();
	if (!inet_ntop(net.family, net.addr, addr, sizeof(addr)))
		abort();
	int tn = snprintf(text, sizeof(text), "%s/%u", addr, net.prefix);

	if (na_parse(text, (size_t)tn, &again) != 0 || memcmp(&net, &again, sizeof(net)) != 0)
		abort();
	memset(&ss, 0, sizeof(ss));
	if (net.family == AF_INET) {
		ss.ss_family = AF_INET;
		memcpy(&((struct sockaddr_in *)&ss)->sin_addr, net.addr, 4);
	} else {
		ss.ss_family = AF_INET6;
		memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, net.addr, 16);
	}
	if (!na_match(&net, 1, (struct sockaddr *)&ss))
		abort();
}

static void check_client(enum na_header kind, const char *s, size_t n)
{
	static const char *const specs[] = { "10.0.0.0/8", "127.0.0.1", "::1", "fd00::/8" };
	struct na_net nets[4];
	struct na_list list = { nets, 4 };
	struct na_slice v[8];
	size_t nv = 0, i = 0;
	struct sockaddr_storage out, again;

	for (size_t k = 0; k < 4; k++)
		if (na_parse(specs[k], strlen(specs[k]), &nets[k]) != 0)
			abort();
	while (nv < 8 && i <= n) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t e = nl ? (size_t)(nl - s) : n;

		v[nv].p = s + i;
		v[nv].n = e - i;
		nv++;
		i = e + 1;
	}
	memset(&out, 0, sizeof(out));
	bool got = na_client(kind, v, nv, na_trusted, &list, &out);

	memset(&again, 0, sizeof(again));
	if (na_client(kind, v, nv, na_trusted, &list, &again) != got ||
	    (got && memcmp(&out, &again, sizeof(out)) != 0))
		abort();
	if (!got)
		return;
	if (out.ss_family == AF_INET) {
		if (((struct sockaddr_in *)&out)->sin_port != 0)
			abort();
	} else if (out.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&out;

		if (s6->sin6_port != 0 || IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			abort();
	} else {
		abort();
	}
	/* A trusted answer means every element was trusted, so the answer
	 * with nothing trusted is the right-most element instead: it exists. */
	if (na_trusted((struct sockaddr *)&out, &list) &&
	    !na_client(kind, v, nv, trust_none, NULL, &again))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (len < 1)
		return 0;
	const char *s = (const char *)data + 1;
	size_t n = len - 1;

	switch (data[0] % 3) {
	case 0:
		check_parse(s, n);
		break;
	case 1:
		check_client(NA_X_FORWARDED_FOR, s, n);
		break;
	default:
		check_client(NA_FORWARDED, s, n);
		break;
	}
	return 0;
}
