/* Response heads. Everything here appends to a caller's buffer. */
#include "http_resp.h"

#include <string.h>

#include "config.h"
#include "cond.h"

void ob_put(struct obuf *o, const char *s, size_t n)
{
	if (!o->ok || o->cap - o->n < n) {
		o->ok = false;
		return;
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
}

void ob_puts(struct obuf *o, const char *s)
{
	ob_put(o, s, strlen(s));
}

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

static __thread time_t date_sec = -1;
static __thread char date_buf[32];

const char *resp_date(time_t now)
{
	if (now != date_sec) {
		http_date_format(date_buf, now);
		date_sec = now;
	}
	return date_buf;
}

void resp_start(struct obuf *o, int status, time_t now)
{
	char line[64];
	size_t n = 0;
	memcpy(line, "HTTP/1.1 ", 9);
	n = 9;
	line[n++] = (char)('0' + status / 100);
	line[n++] = (char)('0' + status / 10 % 10);
	line[n++] = (char)('0' + status % 10);
	line[n++] = ' ';
	ob_put(o, line, n);
	ob_puts(o, resp_reason(status));
	ob_put(o, "\r\nDate: ", 8);
	ob_put(o, resp_date(now), 29);
	ob_puts(o, "\r\nServer: mthttpd/" MTHTTPD_VERSION "\r\n");
}

void resp_end(struct obuf *o, bool keep_alive, unsigned left)
{
	if (keep_alive) {
		ob_puts(o, "Connection: keep-alive\r\nKeep-Alive: ");
		ob_puts(o, cfg->keepalive_hdr);
		ob_u64(o, left);
		ob_put(o, "\r\n\r\n", 4);
	} else {
		ob_puts(o, "Connection: close\r\n\r\n");
	}
}

bool resp_must_close(int status)
{
	switch (status) {
	case 400: case 408: case 413: case 414: case 417:
	case 431: case 501: case 503: case 505:
		return true;
	default:
		return false;
	}
}
