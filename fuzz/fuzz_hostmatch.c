/* libFuzzer harness for src/hostmatch.c.
 *
 * Input: one mode byte, then text. Mode 0: hm_parse_spec of the text; an
 * accepted spec must be accepted again from its canonical text, be the
 * same entry (hm_same), and allow that text as a Host. Mode 1: hm_match of
 * the text as a Host against a fixed list; the answer is one of the three,
 * deterministic, and the list with "*" added allows exactly the Hosts that
 * are not malformed. */
#include "hostmatch.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static void check_spec(const char *s, size_t n)
{
	struct hm_entry e, again;
	const char *why = NULL;
	char text[HM_NAME_MAX + 8], addr[INET6_ADDRSTRLEN];

	if (hm_parse_spec(s, n, &e, &why) != 0) {
		if (why == NULL)
			abort();
		return;
	}
	switch (e.kind) {
	case HM_KIND_ANY:
		snprintf(text, sizeof(text), "*");
		break;
	case HM_KIND_IPV4:
		inet_ntop(AF_INET, e.addr, addr, sizeof(addr));
		snprintf(text, sizeof(text), "%s", addr);
		break;
	case HM_KIND_IPV6:
		inet_ntop(AF_INET6, e.addr, addr, sizeof(addr));
		snprintf(text, sizeof(text), "[%s]", addr);
		break;
	case HM_KIND_DOMAIN:
		snprintf(text, sizeof(text), ".%s", e.name);
		break;
	default:
		snprintf(text, sizeof(text), "%s", e.name);
		break;
	}
	if (e.kind != HM_KIND_ANY && strlen(e.name) != e.len)
		abort();
	if (hm_parse_spec(text, strlen(text), &again, &why) != 0 || !hm_same(&e, &again))
		abort();
	/* The entry allows its own name (a domain: the domain itself). */
	const char *host = e.kind == HM_KIND_DOMAIN ? text + 1 : text;

	if (e.kind != HM_KIND_ANY && hm_match(&e, 1, host, strlen(host)) != HM_ALLOWED)
		abort();
}

static void check_host(const char *s, size_t n)
{
	static const char *const specs[] = { "localhost", "127.0.0.1", "::1", ".example.org",
					     "www.example.com:8080", "*" };
	struct hm_entry list[6];
	const char *why;

	for (size_t k = 0; k < 6; k++)
		if (hm_parse_spec(specs[k], strlen(specs[k]), &list[k], &why) != 0)
			abort();
	enum hm_result r = hm_match(list, 5, s, n);

	if (r != HM_ALLOWED && r != HM_DENIED && r != HM_MALFORMED)
		abort();
	if (hm_match(list, 5, s, n) != r)
		abort();
	enum hm_result all = hm_match(list, 6, s, n);

	if ((r == HM_MALFORMED) != (all == HM_MALFORMED) || (r != HM_MALFORMED && all != HM_ALLOWED))
		abort();
	if (hm_match(NULL, 0, s, n) == HM_ALLOWED)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (len < 1)
		return 0;
	if (data[0] & 1)
		check_host((const char *)data + 1, len - 1);
	else
		check_spec((const char *)data + 1, len - 1);
	return 0;
}
