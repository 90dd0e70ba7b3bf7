/* Response heads. Everything here appends to a caller's buffer. */
#include "http_resp.h"

#include <string.h>

#include "config.h"
#include "cond.h"

size_t fmt_u64(char *dst, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	memcpy(dst, tmp + i, sizeof(tmp) - i);
	return sizeof(tmp) - i;
}

void ob_u64(struct obuf *o, uint64_t v)
{
	char tmp[20];
	ob_put(o, tmp, fmt_u64(tmp, v));
}

const char *resp_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 304: return "Not Modified";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	case 507: return "Insufficient Storage";
	default: return "Unknown";
	}
}

/* Per thread, refreshed once a second: the date, and the whole start of a
 * 200 response (status line, Date, Server), the head most often sent. */
static __thread time_t date_sec = -1;
static __thread char date_buf[32];
static __thread char start200[96];
static __thread size_t start200_n;

static void put_start(struct obuf *o, int status, const char *date)
{
	char line[16] = "HTTP/1.1 ";
	line[9] = (char)('0' + status / 100);
	line[10] = (char)('0' + status / 10 % 10);
	line[11] = (char)('0' + status % 10);
	line[12] = ' ';
	ob_put(o, line, 13);
	ob_puts(o, resp_reason(status));
	ob_put(o, "\r\nDate: ", 8);
	ob_put(o, date, 29);
	ob_puts(o, "\r\nServer: mthttpd/" MTHTTPD_VERSION "\r\n");
}

const char *resp_date(time_t now)
{
	if (now != date_sec) {
		http_date_format(date_buf, now);
		date_sec = now;
		struct obuf o;
		obuf_init(&o, start200, sizeof(start200));
		put_start(&o, 200, date_buf);
		start200_n = o.ok ? o.n : 0;
	}
	return date_buf;
}

void resp_start(struct obuf *o, int status, time_t now)
{
	const char *date = resp_date(now);
	if (status == 200 && start200_n)
		ob_put(o, start200, start200_n);
	else
		put_start(o, status, date);
}

void resp_end(struct obuf *o, bool keep_alive, unsigned left)
{
	if (keep_alive) {
		ob_put(o, cfg->keepalive_hdr, cfg->keepalive_hdr_n);
		ob_u64(o, left);
		ob_put(o, "\r\n\r\n", 4);
	} else {
		ob_puts(o, "Connection: close\r\n\r\n");
	}
}

bool resp_must_close(int status)
{
	switch (status) {
	case 400: case 408: case 413: case 414:
	case 431: case 501: case 503: case 505:
		return true;
	default:
		return false;
	}
}
