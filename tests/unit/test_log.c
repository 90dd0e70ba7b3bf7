/* Unit tests for the access log's JSON line formatter (src/log.c):
 * exact output for a table of entries, then hostile bytes: every byte value
 * in every client field must come out as printable ASCII that the project's
 * own RFC 8259 validator accepts and that decodes back to the input. */
#include "config.h"
#include "json_check.h"
#include "log.h"
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

/* log.c links http_resp.c, which reads the configuration main.c owns. */
static struct config test_config;
const struct config *cfg = &test_config;

#define STAMP "2026-12-04T16:32:12+00:00"

static struct sockaddr_in v4(const char *ip)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

#define S(x) (x), (sizeof(x) - 1)

struct json_case {
	int line;
	struct alog_entry e;
	const char *want;
};

static int json_valid(const char *p, size_t n)
{
	struct json_check jc;
	jc_init(&jc);
	if (jc_feed(&jc, p, n) == JC_ERROR)
		return 0;
	return jc_finish(&jc) == JC_DONE;
}

static void test_table(void)
{
	static struct sockaddr_in a4;
	static struct sockaddr_in6 a6;
	a4 = v4("192.0.2.7");
	a6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:10.1.2.3", &a6.sin6_addr);
	const struct json_case cases[] = {
		{ __LINE__,
		  { .addr = &a4, .line = S("GET /index.html HTTP/1.1"), .status = 200, .bytes = 1234,
		    .referer = S("http://r.example/"), .agent = S("curl/8.0"), .host = S("localhost:8080"),
		    .duration_us = 57 },
		  "{\"time\":\"" STAMP "\",\"client\":\"192.0.2.7\",\"host\":\"localhost:8080\","
		  "\"method\":\"GET\",\"target\":\"/index.html\",\"protocol\":\"HTTP/1.1\",\"status\":200,"
		  "\"bytes\":1234,\"duration_us\":57,\"referer\":\"http://r.example/\","
		  "\"user_agent\":\"curl/8.0\"}\n" },
		/* Absent fields are null; no line at all. A mapped IPv6 peer is
		 * named as IPv4. */
		{ __LINE__,
		  { .addr = &a6, .status = 400 },
		  "{\"time\":\"" STAMP "\",\"client\":\"10.1.2.3\",\"host\":null,\"method\":null,"
		  "\"target\":null,\"protocol\":null,\"status\":400,\"bytes\":0,\"duration_us\":0,"
		  "\"referer\":null,\"user_agent\":null}\n" },
		/* Explicit parts win over the line. */
		{ __LINE__,
		  { .addr = &a4, .line = S("ignored line here"), .method = S("HEAD"), .target = S("/a b"),
		    .protocol = S("HTTP/1.0"), .status = 304 },
		  "{\"time\":\"" STAMP "\",\"client\":\"192.0.2.7\",\"host\":null,\"method\":\"HEAD\","
		  "\"target\":\"/a b\",\"protocol\":\"HTTP/1.0\",\"status\":304,\"bytes\":0,"
		  "\"duration_us\":0,\"referer\":null,\"user_agent\":null}\n" },
		/* A line without two spaces is all method. */
		{ __LINE__,
		  { .addr = &a4, .line = S("BLAH"), .status = 400 },
		  "{\"time\":\"" STAMP "\",\"client\":\"192.0.2.7\",\"host\":null,\"method\":\"BLAH\","
		  "\"target\":null,\"protocol\":null,\"status\":400,\"bytes\":0,\"duration_us\":0,"
		  "\"referer\":null,\"user_agent\":null}\n" },
		/* Quotes, backslashes, controls, DEL and high bytes escaped. */
		{ __LINE__,
		  { .addr = &a4, .line = S("GET /q?\"x\\ HTTP/1.1"), .status = 200,
		    .agent = S("a\"b\\c\td\ne\x7f\xc3\xa9\xff"), .referer = S("\x1b]0;x\x07"),
		    .bytes = UINT64_MAX, .duration_us = 18446744073709551615u },
		  "{\"time\":\"" STAMP "\",\"client\":\"192.0.2.7\",\"host\":null,\"method\":\"GET\","
		  "\"target\":\"/q?\\\"x\\\\\",\"protocol\":\"HTTP/1.1\",\"status\":200,"
		  "\"bytes\":18446744073709551615,\"duration_us\":18446744073709551615,"
		  "\"referer\":\"\\u001b]0;x\\u0007\","
		  "\"user_agent\":\"a\\\"b\\\\c\\u0009d\\u000ae\\u007f\\u00c3\\u00a9\\u00ff\"}\n" },
		/* An empty but present field is "" (not null). */
		{ __LINE__,
		  { .addr = &a4, .host = "", .host_n = 0, .status = 200 },
		  "{\"time\":\"" STAMP "\",\"client\":\"192.0.2.7\",\"host\":\"\",\"method\":null,"
		  "\"target\":null,\"protocol\":null,\"status\":200,\"bytes\":0,\"duration_us\":0,"
		  "\"referer\":null,\"user_agent\":null}\n" },
	};
	char *out = malloc(ALOG_JSON_MAX);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct json_case *c = &cases[i];
		size_t n = alog_format_json(out, S(STAMP), &c->e);
		ASSERT_STR(c->line, out, n, c->want);
		ASSERT_TRUE(c->line, n > 0 && json_valid(out, n - 1));
	}
	free(out);
}

/* Reads back one JSON string value (the text after "key":) into dst;
 * returns its length, or -1 if it is not a string of only the escapes the
 * formatter writes. */
static long decode_field(const char *json, const char *key, unsigned char *dst)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	const char *p = strstr(json, pat);
	if (p == NULL)
		return -1;
	p += strlen(pat);
	long n = 0;
	while (*p != '"') {
		if (*p == '\0')
			return -1;
		if (*p != '\\') {
			dst[n++] = (unsigned char)*p++;
			continue;
		}
		if (p[1] == '"' || p[1] == '\\') {
			dst[n++] = (unsigned char)p[1];
			p += 2;
		} else if (p[1] == 'u' && p[2] == '0' && p[3] == '0') {
			unsigned v;
			if (sscanf(p + 4, "%2x", &v) != 1)
				return -1;
			dst[n++] = (unsigned char)v;
			p += 6;
		} else {
			return -1;
		}
	}
	return n;
}

static void test_hostile_bytes(void)
{
	struct sockaddr_in a = v4("127.0.0.1");
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	char *out = malloc(ALOG_JSON_MAX + 1);
	const char *keys[] = { "host", "target", "referer", "user_agent" };
	for (int f = 0; f < 4; f++) {
		struct alog_entry e = { .addr = &a, .status = 200, .method = S("GET"),
					.protocol = S("HTTP/1.1") };
		const char *v = (const char *)all;
		switch (f) {
		case 0: e.host = v; e.host_n = sizeof(all); break;
		case 1: e.target = v; e.target_n = sizeof(all); break;
		case 2: e.referer = v; e.referer_n = sizeof(all); break;
		default: e.agent = v; e.agent_n = sizeof(all); break;
		}
		size_t n = alog_format_json(out, S(STAMP), &e);
		out[n] = '\0';
		ASSERT_TRUE(f, n > 0 && out[n - 1] == '\n');
		size_t bad = 0;
		for (size_t i = 0; i + 1 < n; i++)
			if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f)
				bad++;
		ASSERT_EQ(f, bad, 0);
		ASSERT_TRUE(f, json_valid(out, n - 1));
		unsigned char back[256 * 2];
		long bn = decode_field(out, keys[f], back);
		ASSERT_EQ(f, bn, 256);
		ASSERT_TRUE(f, bn == 256 && memcmp(back, all, 256) == 0);
	}
	/* Every field at its worst at once, far over the cut: the line stays
	 * within ALOG_JSON_MAX and each field is cut at 500 input bytes. */
	char *big = malloc(5000);
	memset(big, 0x01, 5000);
	struct alog_entry e = { .addr = &a, .status = 200, .host = big, .host_n = 5000,
				.method = big, .method_n = 5000, .target = big, .target_n = 5000,
				.protocol = big, .protocol_n = 5000, .referer = big, .referer_n = 5000,
				.agent = big, .agent_n = 5000, .bytes = UINT64_MAX,
				.duration_us = UINT64_MAX };
	size_t n = alog_format_json(out, S(STAMP), &e);
	out[n] = '\0';
	ASSERT_TRUE(__LINE__, n <= ALOG_JSON_MAX);
	ASSERT_TRUE(__LINE__, json_valid(out, n - 1));
	unsigned char *back = malloc(5000);
	ASSERT_EQ(__LINE__, decode_field(out, "user_agent", back), 500);
	free(back);
	free(big);
	free(out);
}

int main(void)
{
	test_table();
	test_hostile_bytes();
	return test_summary();
}
