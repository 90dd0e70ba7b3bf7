"""Protocol conformance over raw sockets (SPEC §2, README "Behaviour
details"): the status line and required headers of every response, methods,
versions, malformed requests, request smuggling, head limits, bodies on
GET/HEAD, and the Host rules.

Every rejection that SPEC §2 says closes the connection is checked for the
close itself and for the absence of any further bytes, so a request smuggled
into a body can never get its own response unnoticed."""
import datetime
import re
import socket
import struct
import subprocess
import unittest

import harness
from harness import BIN, TIMEOUT, Server, ServerTest

REASONS = {
    100: "Continue", 200: "OK", 201: "Created", 204: "No Content",
    206: "Partial Content", 301: "Moved Permanently", 304: "Not Modified",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 411: "Length Required",
    413: "Content Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
    416: "Range Not Satisfiable", 417: "Expectation Failed",
    431: "Request Header Fields Too Large", 500: "Internal Server Error",
    501: "Not Implemented", 503: "Service Unavailable",
    505: "HTTP Version Not Supported", 507: "Insufficient Storage",
}
CLOSING = (400, 413, 414, 431, 501, 505)  # SPEC §2: framing unknown -> close

IMF_RE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d) "
                    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                    r"(\d{4}) (\d\d):(\d\d):(\d\d) GMT$")
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
          "Oct", "Nov", "Dec"]
KA_RE = re.compile(r"^timeout=(\d+), max=(\d+)$")
SERVER_RE = re.compile(r"^mthttpd/(\S+)$")

INDEX = b"<!doctype html><title>home</title><p>home</p>\n"
ABOUT = b"<!doctype html><title>about</title>\n"
SUBPAGE = b"<p>sub page</p>\n"


def enc(x):
    return x if isinstance(x, bytes) else x.encode("latin-1")


def ipv4_interface_addrs():
    """The IPv4 addresses of this machine's interfaces (SIOCGIFADDR)."""
    import fcntl
    out = []
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for _, name in socket.if_nameindex():
            try:
                res = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue
            out.append(socket.inet_ntoa(res[20:24]))
    finally:
        s.close()
    return out


def binary_version():
    p = subprocess.run([BIN, "--version"], capture_output=True, timeout=TIMEOUT,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode("utf-8", "replace")


class ProtoBase(ServerTest):
    """Helpers shared by every class below (no tests of its own)."""
    ka_timeout = 30

    # ---- building and exchanging -------------------------------------
    def rq(self, method="GET", target="/", version="HTTP/1.1", headers=(),
           host=True, body=b""):
        """Raw request bytes. headers: sequence of (name, value), sent in
        order and verbatim (repeats allowed). host=True: the server's
        host:port; None: no Host field; else that value."""
        lines = [enc(method) + b" " + enc(target) + b" " + enc(version)]
        if host is True:
            host = self.hp()
        if host is not None:
            lines.append(b"Host: " + enc(host))
        for k, v in headers:
            lines.append(enc(k) + b": " + enc(v))
        framed = any(k.lower() in ("content-length", "transfer-encoding") for k, _ in headers)
        if body and not framed:
            lines.append(b"Content-Length: %d" % len(enc(body)))
        return b"\r\n".join(lines) + b"\r\n\r\n" + enc(body)

    def hp(self):
        """The Host value ordinary requests use."""
        return self.srv.hostport()

    def smuggled(self):
        return b"GET /about.html HTTP/1.1\r\nHost: " + enc(self.hp()) + b"\r\n\r\n"

    def open(self):
        return self.srv.connect()

    def send(self, c, data):
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading it all

    def read(self, c, method="GET"):
        try:
            return c.read_response(method=method)
        except EOFError:
            self.fail("connection closed without a (complete) response; got %r" % c.buf[:300])
        except ConnectionResetError:
            self.fail("connection reset without a (complete) response; got %r" % c.buf[:300])
        except socket.timeout:
            self.fail("no complete response within %s s; got %r" % (TIMEOUT, c.buf[:300]))

    # ---- checks ------------------------------------------------------
    def check_common(self, r, persistent=None, method="GET"):
        """The bytes SPEC §2 requires on every response. Returns the
        Keep-Alive max (or None on a closing response)."""
        self.assertEqual(r.version, "HTTP/1.1", "status line %r" % r.head_raw.split(b"\r\n")[0])
        if r.status in REASONS:
            self.assertEqual(r.reason, REASONS[r.status], "reason phrase (RFC 9110 §15)")
        date = r.header("Date")
        self.assertIsNotNone(date, "no Date: %r" % r)
        m = IMF_RE.match(date)
        self.assertIsNotNone(m, "Date not IMF-fixdate: %r" % date)
        dt = datetime.datetime(int(m.group(4)), MONTHS.index(m.group(3)) + 1, int(m.group(2)),
                               int(m.group(5)), int(m.group(6)), int(m.group(7)),
                               tzinfo=datetime.timezone.utc)
        self.assertEqual(DAYS[dt.weekday()], m.group(1), "Date weekday wrong: %r" % date)
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(abs((now - dt).total_seconds()), 120, "Date not current (GMT): %r" % date)
        srv = r.header("Server")
        self.assertIsNotNone(srv, "no Server: %r" % r)
        self.assertRegex(srv, SERVER_RE)
        if not (100 <= r.status < 200 or r.status in (204, 304)):
            cl = r.header("Content-Length")
            self.assertIsNotNone(cl, "no Content-Length: %r" % r)
            self.assertRegex(cl, r"^\d+$")
            if method != "HEAD":
                self.assertEqual(int(cl), len(r.body))
        self.assertIsNone(r.header("Transfer-Encoding"))
        conn = r.header("Connection")
        self.assertIsNotNone(conn, "no Connection: %r" % r)
        self.assertIn(conn.lower(), ("keep-alive", "close"), "Connection: %r" % conn)
        ka = r.header("Keep-Alive")
        kamax = None
        if conn.lower() == "keep-alive":
            self.assertIsNotNone(ka, "persistent response without Keep-Alive: %r" % r)
            km = KA_RE.match(ka)
            self.assertIsNotNone(km, "Keep-Alive not 'timeout=N, max=M': %r" % ka)
            self.assertEqual(int(km.group(1)), self.ka_timeout, "Keep-Alive timeout: %r" % ka)
            kamax = int(km.group(2))
            self.assertGreaterEqual(kamax, 1, "max=0 on a persistent response: %r" % ka)
        else:
            self.assertIsNone(ka, "Keep-Alive on a closing response: %r" % ka)
        if persistent is not None:
            self.assertEqual(conn.lower(), "keep-alive" if persistent else "close",
                             "Connection header of %r" % r)
        return kamax

    def check_error(self, r, status, keywords=(), method="GET"):
        """An error response per README: text/plain; charset=utf-8 and
        '<code> <reason>: <detail>\\n'. keywords: one of them (lower case)
        must occur in the detail."""
        self.assertEqual(r.status, status, "expected %d, got %r body=%r" % (status, r, r.body[:200]))
        ct = r.header("Content-Type")
        self.assertIsNotNone(ct, "error without Content-Type: %r" % r)
        self.assertEqual(ct.lower().replace(" ", ""), "text/plain;charset=utf-8")
        if method == "HEAD":
            return
        m = re.match(rb"^(\d{3}) ([^:\r\n]+): ([^\r\n]*\S[^\r\n]*)\n$", r.body)
        self.assertIsNotNone(m, "error body not '<code> <reason>: <detail>\\n': %r" % r.body)
        self.assertEqual(int(m.group(1)), status)
        self.assertEqual(m.group(2).decode("latin-1"), r.reason)
        if keywords:
            detail = m.group(3).decode("latin-1").lower()
            self.assertTrue(any(k in detail for k in keywords),
                            "detail %r names none of %r" % (detail, keywords))

    def assert_closed(self, c):
        """No more bytes and the server closes: no response to anything
        that followed."""
        self.assertEqual(c.buf, b"", "bytes after the final response: %r" % c.buf[:300])
        closed = c.closed_by_peer()
        self.assertTrue(closed, "connection not closed, or more bytes sent: %r" % c.buf[:300])

    # ---- whole exchanges ---------------------------------------------
    def expect_reject(self, data, status, keywords=(), method=None):
        """data on a fresh connection earns exactly one error response
        with status, Connection: close, and the connection closes."""
        if method is None:
            method = enc(data).split(b" ", 1)[0].decode("latin-1")
        c = self.open()
        try:
            self.send(c, data)
            r = self.read(c, method)
            self.check_error(r, status, keywords, method)
            self.check_common(r, persistent=False, method=method)
            self.assert_closed(c)
            return r
        finally:
            c.close()

    def expect_answer(self, data, status, body=None, method="GET", follow=True, allow=None,
                      keywords=()):
        """data on a fresh connection earns status (and body); with follow,
        a pipelined GET /about.html (Connection: close) behind it must be
        answered correctly too, so the first request was framed exactly."""
        c = self.open()
        try:
            tail = self.rq("GET", "/about.html", headers=[("Connection", "close")]) if follow else b""
            self.send(c, enc(data) + tail)
            r = self.read(c, method)
            self.assertEqual(r.status, status, "got %r body=%r" % (r, r.body[:200]))
            self.check_common(r, persistent=True if follow else None, method=method)
            if body is not None:
                self.assertEqual(r.body, body)
            if allow is not None:
                self.assertEqual(r.header("Allow"), allow)
            if status >= 400:
                self.check_error(r, status, keywords, method)
            if follow:
                r2 = self.read(c)
                self.assertEqual(r2.status, 200, "pipelined follow-up: %r %r" % (r2, r2.body[:200]))
                self.assertEqual(r2.body, ABOUT, "pipelined follow-up got the wrong body")
                self.check_common(r2, persistent=False)
                self.assert_closed(c)
            return r
        finally:
            c.close()


def _gen(cls, prefix, table, fn):
    """Adds one test method per table row: fn(self, *row[1:])."""
    for row in table:
        name = "test_%s_%s" % (prefix, re.sub(r"\W+", "_", row[0]).strip("_"))
        assert not hasattr(cls, name), name

        def t(self, row=row):
            fn(self, *row[1:])
        t.__name__ = name
        t.__doc__ = "%s: %s" % (prefix, row[0])
        setattr(cls, name, t)


# ======================================================================
class TestResponseHeaders(ProtoBase):
    """Status line and the headers every response must carry."""

    def test_get_root_required_headers(self):
        r = self.srv.get("/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, INDEX)
        self.check_common(r, persistent=True)
        self.assertEqual(r.head_raw.split(b"\r\n")[0], b"HTTP/1.1 200 OK")

    def test_server_header_matches_version_output(self):
        r = self.srv.get("/")
        ver = SERVER_RE.match(r.header("Server")).group(1)
        rc, out = binary_version()
        self.assertEqual(rc, 0)
        self.assertIn(ver, out, "Server: mthttpd/%s but --version says %r" % (ver, out))

    def test_keep_alive_max_decreases_by_one(self):
        c = self.open()
        try:
            maxes = []
            for _ in range(4):
                c.send(self.rq())
                r = self.read(c)
                self.assertEqual(r.status, 200)
                maxes.append(self.check_common(r, persistent=True))
            # default --keepalive-max 100: 99 requests left after the first
            self.assertEqual(maxes, [99, 98, 97, 96])
        finally:
            c.close()

    def test_keep_alive_max_counts_error_responses_too(self):
        c = self.open()
        try:
            c.send(self.rq("GET", "/nope.html"))
            r1 = self.read(c)
            self.assertEqual(r1.status, 404)
            m1 = self.check_common(r1, persistent=True)
            self.check_error(r1, 404)
            c.send(self.rq("POST", "/", body=b"x"))
            r2 = self.read(c)
            self.assertEqual(r2.status, 405)
            m2 = self.check_common(r2, persistent=True)
            self.assertEqual(m2, m1 - 1)
        finally:
            c.close()

    def answered_then_closed(self, data):
        """data earns a 200 with INDEX that says Connection: close, and the
        server closes."""
        c = self.open()
        try:
            c.send(data)
            r = self.read(c)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, INDEX)
            self.check_common(r, persistent=False)
            self.assert_closed(c)
        finally:
            c.close()

    def test_connection_close_request(self):
        self.answered_then_closed(self.rq(headers=[("Connection", "close")]))

    def test_connection_close_among_tokens_case_insensitive(self):
        self.answered_then_closed(self.rq(headers=[("Connection", "X-Foo, CLOSE")]))

    def test_http10_defaults_to_close(self):
        self.answered_then_closed(self.rq(version="HTTP/1.0", host=None))

    def test_http10_keep_alive(self):
        c = self.open()
        try:
            c.send(self.rq(version="HTTP/1.0", headers=[("Connection", "Keep-Alive")]))
            r = self.read(c)
            self.assertEqual(r.status, 200)
            m1 = self.check_common(r, persistent=True)
            c.send(self.rq("GET", "/about.html", version="HTTP/1.0",
                           headers=[("Connection", "keep-alive")]))
            r2 = self.read(c)
            self.assertEqual(r2.body, ABOUT)
            self.assertEqual(self.check_common(r2, persistent=True), m1 - 1)
            c.send(self.rq("GET", "/", version="HTTP/1.0"))
            r3 = self.read(c)
            self.assertEqual(r3.status, 200)
            self.check_common(r3, persistent=False)
            self.assert_closed(c)
        finally:
            c.close()

    def test_head_same_headers_as_get_no_body(self):
        c = self.open()
        try:
            c.send(self.rq("GET", "/about.html"))
            g = self.read(c)
            c.send(self.rq("HEAD", "/about.html"))
            h = self.read(c, "HEAD")
            self.check_common(h, persistent=True, method="HEAD")
            self.assertEqual(h.status, 200)
            self.assertEqual(h.header("Content-Length"), str(len(ABOUT)))
            skip = {"date", "keep-alive"}
            self.assertEqual(sorted((k.lower(), v) for k, v in g.headers if k.lower() not in skip),
                             sorted((k.lower(), v) for k, v in h.headers if k.lower() not in skip))
            # no body bytes: the next response must start right away
            c.send(self.rq("GET", "/", headers=[("Connection", "close")]))
            r = self.read(c)
            self.assertEqual(r.body, INDEX)
            self.assert_closed(c)
        finally:
            c.close()

    def test_404_required_headers_and_text_body(self):
        r = self.expect_answer(self.rq("GET", "/missing.html"), 404)
        self.check_error(r, 404)

    def test_pipelined_three_answered_in_order(self):
        c = self.open()
        try:
            c.send(self.rq("GET", "/about.html") + self.rq("HEAD", "/") +
                   self.rq("GET", "/sub/page.htm", headers=[("Connection", "close")]))
            r1, r2, r3 = self.read(c), self.read(c, "HEAD"), self.read(c)
            self.assertEqual(r1.body, ABOUT)
            self.assertEqual(r2.status, 200)
            self.assertEqual(r2.header("Content-Length"), str(len(INDEX)))
            self.assertEqual(r3.body, SUBPAGE)
            m1 = self.check_common(r1, persistent=True)
            m2 = self.check_common(r2, persistent=True, method="HEAD")
            self.assertEqual(m2, m1 - 1)
            self.check_common(r3, persistent=False)
            self.assert_closed(c)
        finally:
            c.close()


# ======================================================================
class TestMethods(ProtoBase):
    """GET/HEAD/POST; anything else 405 with Allow (README)."""

    def test_get(self):
        self.expect_answer(self.rq("GET", "/"), 200, body=INDEX)

    def test_head(self):
        self.expect_answer(self.rq("HEAD", "/"), 200, method="HEAD")

    def test_post_root_405_allow_get_head(self):
        self.expect_answer(self.rq("POST", "/", headers=[("Content-Length", "0")]), 405,
                           allow="GET, HEAD, OPTIONS")

    def test_post_non_upload_path_with_body_405_and_body_discarded(self):
        self.expect_answer(self.rq("POST", "/about.html?x=1", body=b'{"a":1}'), 405,
                           allow="GET, HEAD, OPTIONS")

    def test_post_upload_subpath_405(self):
        self.expect_answer(self.rq("POST", "/upload/x", body=b'{"a":1}',
                                   headers=[("Content-Type", "application/json")]), 405,
                           allow="GET, HEAD, OPTIONS")

    def test_get_upload_405_allow_post(self):
        self.expect_answer(self.rq("GET", "/upload"), 405, allow="POST, OPTIONS")

    def test_get_upload_with_query_405_allow_post(self):
        self.expect_answer(self.rq("GET", "/upload?a=b"), 405, allow="POST, OPTIONS")

    def test_head_upload_405_allow_post(self):
        self.expect_answer(self.rq("HEAD", "/upload"), 405, method="HEAD", allow="POST, OPTIONS")

    def test_put_upload_405_allow_post(self):
        self.expect_answer(self.rq("PUT", "/upload", body=b"{}"), 405, allow="POST, OPTIONS")

    def _options(self, target, allow, body=b"", headers=()):
        # RFC 9110 9.3.7: 204 with Allow, no body and no Content-Length;
        # the connection stays open and a body sent with it is discarded.
        c = self.open()
        try:
            c.send(self.rq("OPTIONS", target, body=body, headers=list(headers)) + self.rq())
            r = self.read(c)
            self.assertEqual(r.status, 204, r)
            self.assertEqual(r.header("Allow"), allow)
            self.assertIsNone(r.header("Content-Length"))
            self.assertEqual(r.body, b"")
            self.assertEqual(r.header("Connection"), "keep-alive")
            self.assertEqual(self.read(c).status, 200)
        finally:
            c.close()

    def test_options_upload_204_allow_post(self):
        self._options("/upload", "POST, OPTIONS")

    def test_options_path_204(self):
        self._options("/index.html", "GET, HEAD, OPTIONS")
        self._options("/no-such-file", "GET, HEAD, OPTIONS")

    def test_options_asterisk_204(self):
        self._options("*", "GET, HEAD, OPTIONS")

    def test_options_with_body_is_discarded(self):
        self._options("/", "GET, HEAD, OPTIONS", body=b"GET /evil HTTP/1.1\r\n\r\n")
        self._options("/", "GET, HEAD, OPTIONS", body=b"5\r\nhello\r\n0\r\n\r\n",
                      headers=[("Transfer-Encoding", "chunked")])

    def test_haproxy_health_check_http10(self):
        # HAProxy's `option httpchk` sends exactly this: it must not be 405.
        c = self.open()
        try:
            c.send(b"OPTIONS / HTTP/1.0\r\n\r\n")
            r = self.read(c)
            self.assertEqual(r.status, 204, r)
            self.assertEqual(r.header("Connection"), "close")
        finally:
            c.close()

    def test_put_with_body_405_body_discarded(self):
        self.expect_answer(self.rq("PUT", "/index.html",
                                   body=b"GET /sub/page.htm HTTP/1.1\r\nHost: x\r\n\r\n"),
                           405, allow="GET, HEAD, OPTIONS")

    def test_put_with_chunked_body_405_body_discarded(self):
        self.expect_answer(self.rq("PUT", "/", headers=[("Transfer-Encoding", "chunked")],
                                   body=b"5\r\nhello\r\n0\r\n\r\n"), 405, allow="GET, HEAD, OPTIONS")


class TestHeadOfRefusedRequests(ProtoBase):
    """A HEAD gets no body, also when its head is refused by the parser."""

    def refused_head(self, raw, status):
        c = self.open()
        try:
            self.send(c, raw)
            r = self.read(c, method="HEAD")
            self.assertEqual(r.status, status, r)
            self.assertEqual(r.header("Connection"), "close", r)
            self.assertTrue(c.closed_by_peer(timeout=5), "bytes after the head: %r" % c.buf[:200])
            self.assertEqual(c.buf, b"", "a body was sent for HEAD")
        finally:
            c.close()

    def test_parser_refusals_send_no_body(self):
        cases = [
            (self.rq("HEAD", "/%zz"), 400),
            (self.rq("HEAD", "/a<b"), 400),
            (b"HEAD / HTTP/1.1\r\nHost: " + enc(self.hp()) + b"\r\nX : y\r\n\r\n", 400),
            (self.rq("HEAD", "/", headers=[("X-F%d" % i, "v") for i in range(101)]), 431),
            (self.rq("HEAD", "/" + "a" * 8200), 414),
            (self.rq("HEAD", "/", version="HTTP/3.0"), 505),
        ]
        for raw, status in cases:
            with self.subTest(raw=raw[:40], status=status):
                self.refused_head(raw, status)

    def test_bad_get_after_a_head_still_gets_its_body(self):
        c = self.open()
        try:
            self.send(c, self.rq("HEAD", "/") + self.rq("GET", "/%zz"))
            self.assertEqual(self.read(c, method="HEAD").status, 200)
            r = self.read(c)
            self.assertEqual(r.status, 400, r)
            self.assertTrue(r.body.startswith(b"400 Bad Request"), r.body)
        finally:
            c.close()


def _method_405(self, method):
    self.expect_answer(self.rq(method, "/"), 405, allow="GET, HEAD, OPTIONS")


_gen(TestMethods, "method_405", [
    ("PUT", "PUT"), ("DELETE", "DELETE"), ("PATCH", "PATCH"),
    ("TRACE", "TRACE"), ("lowercase get", "get"), ("mixed case Get", "Get"),
    ("lowercase head", "head"), ("lowercase post", "post"),
    ("odd but valid token", "X-FOO_1!#$%&'*+.^`|~"),
], _method_405)


# ======================================================================
class TestVersions(ProtoBase):

    def test_http11(self):
        self.expect_answer(self.rq(version="HTTP/1.1"), 200, body=INDEX)

    def test_http10_no_host(self):
        c = self.open()
        try:
            c.send(self.rq(version="HTTP/1.0", host=None))
            r = self.read(c)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, INDEX)
            self.check_common(r, persistent=False)
            self.assert_closed(c)
        finally:
            c.close()

    def test_http12_answered_as_11(self):
        self.expect_answer(self.rq(version="HTTP/1.2"), 200, body=INDEX)

    def test_http19_answered_as_11(self):
        self.expect_answer(self.rq(version="HTTP/1.9"), 200, body=INDEX)

    def test_http12_needs_host_like_11(self):
        self.expect_reject(self.rq(version="HTTP/1.2", host=None), 400, ("host",))


def _version_reject(self, version, status):
    self.expect_reject(self.rq(version=version), status)


_gen(TestVersions, "version", [
    ("HTTP/2.0", "HTTP/2.0", 505), ("HTTP/3.0", "HTTP/3.0", 505),
    ("HTTP/0.9", "HTTP/0.9", 505), ("HTTP/9.9", "HTTP/9.9", 505),
    ("HTTP/1.10", "HTTP/1.10", 400), ("HTTP/1", "HTTP/1", 400),
    ("http/1.1 lowercase", "http/1.1", 400), ("HTTP/1.1 trailing space", "HTTP/1.1 ", 400),
    ("HTTP/11", "HTTP/11", 400), ("HTTP/1.1.1", "HTTP/1.1.1", 400),
    ("HTTP/1 dot no minor", "HTTP/1.", 400), ("HTTP/ dot 1 no major", "HTTP/.1", 400), ("HTTP/1.x", "HTTP/1.x", 400),
    ("HTTP/ 1.1", "HTTP/ 1.1", 400), ("HTTPS/1.1", "HTTPS/1.1", 400),
    ("HTTP/10.0", "HTTP/10.0", 400), ("HTTP/2 no minor", "HTTP/2", 400),
    ("Http/1.1", "Http/1.1", 400), ("empty after space", "", 400),
], _version_reject)


# ======================================================================
class TestMalformedRequestLine(ProtoBase):
    """RFC 9112 §3 grammar, exactly: anything else is 400 and close."""

    def test_leading_crlf_before_request_line_ignored(self):
        # RFC 9112 §2.2: a server SHOULD ignore empty lines (CRLF) before a
        # request line; README says mthttpd does.
        self.expect_answer(b"\r\n" + self.rq(), 200, body=INDEX)
        self.expect_answer(b"\r\n\r\n\r\n" + self.rq(), 200, body=INDEX)

    def answer_to_pieces(self, pieces):
        """Sends pieces as separate writes (no Nagle) on a new connection
        and returns the one response."""
        c = self.open()
        try:
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for p in pieces:
                self.send(c, p)
            return self.read(c)
        finally:
            c.close()

    def test_head_sent_a_byte_at_a_time(self):
        # The server parses again only when a line ends; the answer must
        # not change.
        raw = self.rq(headers=[("Connection", "close")])
        r = self.answer_to_pieces([bytes([b]) for b in raw])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, INDEX)

    def test_bad_first_byte_refused_without_a_line_end(self):
        # A malformed start is refused at once, not after a CRLF.
        r = self.answer_to_pieces([b"\x01"])
        self.assertEqual(r.status, 400, r)

    def test_empty_line_split_across_writes(self):
        r = self.answer_to_pieces([b"\r", b"\n" + self.rq(headers=[("Connection", "close")])])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, INDEX)

    def test_crlf_after_a_post_body_is_ignored(self):
        # Old clients add CRLF after a body; the next request still parses.
        req = self.rq("POST", "/about.html", body=b'{"a":1}') + b"\r\n"
        self.expect_answer(req, 405, allow="GET, HEAD, OPTIONS")

    def test_lone_cr_before_request_line_400(self):
        self.expect_reject(b"\rGET / HTTP/1.1\r\nHost: %s\r\n\r\n" % self.hp().encode(), 400,
                           method="GET")

    def test_leading_lf_before_request_line_400(self):
        self.expect_reject(b"\n" + self.rq(), 400, method="GET")

    def test_query_string_ok(self):
        self.expect_answer(self.rq("GET", "/?a=b&c=%20d"), 200, body=INDEX)

    def test_asterisk_ok_only_for_options(self):
        self.expect_reject(self.rq("GET", "*"), 400)


def _line_reject(self, line, status=400):
    data = enc(line) + b"\r\nHost: " + enc(self.hp()) + b"\r\n\r\n"
    self.expect_reject(data, status, method="GET")


_gen(TestMalformedRequestLine, "request_line", [
    ("double space after method", "GET  / HTTP/1.1"),
    ("double space before version", "GET /  HTTP/1.1"),
    ("tab instead of SP after method", "GET\t/ HTTP/1.1"),
    ("tab instead of SP before version", "GET /\tHTTP/1.1"),
    ("missing version", "GET /"),
    ("missing version trailing SP", "GET / "),
    ("method only", "GET"),
    ("empty request line", ""),
    ("leading space", " GET / HTTP/1.1"),
    ("trailing space", "GET / HTTP/1.1 "),
    ("missing method", "/ HTTP/1.1"),
    ("space in target", "GET /a b HTTP/1.1"),
    ("four parts", "GET / HTTP/1.1 extra"),
    ("non-token method paren", "GE(T / HTTP/1.1"),
    ("non-token method slash", "GET/ / HTTP/1.1"),
    ("non-ASCII method", b"G\xc3\x89T / HTTP/1.1"),
    ("bare CR ends line", b"GET / HTTP/1.1\r"),
    ("bare CR in target", b"GET /a\rb HTTP/1.1"),
    ("NUL in target", b"GET /\x00 HTTP/1.1"),
    ("NUL in method", b"GE\x00T / HTTP/1.1"),
    ("control byte in target", b"GET /a\x01b HTTP/1.1"),
    ("ESC in target", b"GET /\x1b[31m HTTP/1.1"),
    ("DEL in target", b"GET /a\x7fb HTTP/1.1"),
    ("vertical tab in target", b"GET /a\x0bb HTTP/1.1"),
    ("non-ASCII target", b"GET /caf\xc3\xa9.html HTTP/1.1"),
    ("latin-1 byte in target", b"GET /\xe9 HTTP/1.1"),
    ("fragment in target", "GET /index.html#top HTTP/1.1"),
    ("empty fragment", "GET /# HTTP/1.1"),
    ("bad escape %zz", "GET /%zz HTTP/1.1"),
    ("truncated escape", "GET /index.html%2 HTTP/1.1"),
    ("lone percent", "GET /% HTTP/1.1"),
    ("escaped NUL", "GET /index.html%00 HTTP/1.1"),
    ("relative target", "GET index.html HTTP/1.1"),
    ("empty target", "GET  HTTP/1.1"),
    ("authority-form for GET", "GET 127.0.0.1:80 HTTP/1.1"),
], _line_reject)


def _raw_reject(self, data, status=400):
    self.expect_reject(data.replace(b"{H}", enc(self.hp())), status, method="GET")


_gen(TestMalformedRequestLine, "line_ending", [
    ("all bare LF", b"GET / HTTP/1.1\nHost: {H}\n\n"),
    ("bare LF after request line", b"GET / HTTP/1.1\nHost: {H}\r\n\r\n"),
    ("bare LF after field", b"GET / HTTP/1.1\r\nHost: {H}\nX-A: b\r\n\r\n"),
    ("bare LF final line", b"GET / HTTP/1.1\r\nHost: {H}\r\n\n"),
    ("LF CR LF final", b"GET / HTTP/1.1\r\nHost: {H}\n\r\n"),
    ("CR CR LF", b"GET / HTTP/1.1\r\r\nHost: {H}\r\n\r\n"),
    ("bare CR between fields", b"GET / HTTP/1.1\r\nHost: {H}\rX-A: b\r\n\r\n"),
    ("bare CR final", b"GET / HTTP/1.1\r\nHost: {H}\r\n\rX"),
], _raw_reject)


# ======================================================================
class TestFieldSyntax(ProtoBase):
    """Field lines: token names, colon right after the name, no obs-fold,
    no CR/LF/NUL/control bytes in values (SPEC §2)."""

    def test_whitespace_before_first_field_400(self):
        data = b"GET / HTTP/1.1\r\n X-A: b\r\nHost: " + enc(self.hp()) + b"\r\n\r\n"
        self.expect_reject(data, 400)

    def test_tab_before_first_field_400(self):
        data = b"GET / HTTP/1.1\r\n\tHost: " + enc(self.hp()) + b"\r\n\r\n"
        self.expect_reject(data, 400)

    def test_whitespace_before_colon_in_host_400(self):
        data = b"GET / HTTP/1.1\r\nHost : " + enc(self.hp()) + b"\r\n\r\n"
        self.expect_reject(data, 400)


def _field_reject(self, line):
    data = (b"GET / HTTP/1.1\r\nHost: " + enc(self.hp()) + b"\r\n" + enc(line)
            + b"\r\n\r\n")
    self.expect_reject(data, 400)


_gen(TestFieldSyntax, "field_reject", [
    ("space before colon", b"X-A : b"),
    ("tab before colon", b"X-A\t: b"),
    ("obs-fold space", b"X-A: b\r\n c"),
    ("obs-fold tab", b"X-A: b\r\n\tc"),
    ("no colon", b"X-A b"),
    ("name only", b"X-A"),
    ("empty name", b": b"),
    ("space in name", b"X A: b"),
    ("quote in name", b'X"A: b'),
    ("paren in name", b"X(A): b"),
    ("non-ASCII name", b"X-\xc3\xa9: b"),
    ("NUL in name", b"X-\x00A: b"),
    ("bare CR in value", b"X-A: a\rb"),
    ("NUL in value", b"X-A: a\x00b"),
    ("SOH in value", b"X-A: a\x01b"),
    ("backspace in value", b"X-A: a\x08b"),
    ("vertical tab in value", b"X-A: a\x0bb"),
    ("form feed in value", b"X-A: a\x0cb"),
    ("ESC in value", b"X-A: \x1b[2J"),
    ("DEL in value", b"X-A: a\x7fb"),
    ("NUL at value end", b"X-A: ab\x00"),
    ("NUL in second field value", b"X-B: c\r\nUser-Agent: x\x00y"),
], _field_reject)


def _field_accept(self, line):
    self.expect_answer(b"GET / HTTP/1.1\r\nHost: " + enc(self.hp()) + b"\r\n"
                       + enc(line) + b"\r\n\r\n", 200, body=INDEX)


_gen(TestFieldSyntax, "field_accept", [
    ("no space after colon", b"X-A:b"),
    ("extra OWS around value", b"X-A:  \t b \t "),
    ("HTAB inside value", b"X-A: a\tb"),
    ("obs-text in value", b"X-A: caf\xc3\xa9"),
    ("empty value", b"X-A:"),
    ("empty value with OWS", b"X-A:   "),
    ("all tchars in name", b"!#$%&'*+-.^_`|~09AZaz: v"),
    ("value with colons and quotes", b'X-A: "a:b", c=d; e'),
], _field_accept)


def _host_form_accept(self, line):
    data = b"GET / HTTP/1.1\r\n" + enc(line).replace(b"{H}", enc(self.hp())) + b"\r\n\r\n"
    self.expect_answer(data, 200, body=INDEX)


_gen(TestFieldSyntax, "host_field_accept", [
    ("lowercase name", "host: {H}"),
    ("uppercase name", "HOST: {H}"),
    ("no space", "Host:{H}"),
    ("trailing OWS", "Host: {H} \t"),
], _host_form_accept)


# ======================================================================
class TestSmuggling(ProtoBase):
    """SPEC §2 strict framing: every vector 400 (501 for an unknown
    coding), the connection closes, and the request hidden behind the
    head is never answered."""

    def test_te_chunked_case_insensitive_accepted(self):
        self.expect_answer(self.rq("GET", "/", headers=[("Transfer-Encoding", "Chunked")],
                                   body=b"5\r\nhello\r\n0\r\n\r\n"), 200, body=INDEX)

    def test_te_chunked_tab_ows_accepted(self):
        self.expect_answer(self.rq("GET", "/", headers=[("Transfer-Encoding", "\tchunked\t")],
                                   body=b"5\r\nhello\r\n0\r\n\r\n"), 200, body=INDEX)

    def test_cl_trailing_ows_is_not_part_of_value(self):
        # RFC 9112 §5: field-line = name ":" OWS value OWS, so "5 " is 5
        self.expect_answer(self.rq("GET", "/", headers=[("Content-Length", "5 ")], body=b"hello"),
                           200, body=INDEX)

    def test_cl_leading_zeros_are_digits(self):
        self.expect_answer(self.rq("GET", "/", headers=[("Content-Length", "005")], body=b"hello"),
                           200, body=INDEX)

    def test_cl_identical_repeat_accepted(self):
        # SPEC §2 rejects *different* values; identical repeats are one length
        self.expect_answer(self.rq("GET", "/", headers=[("Content-Length", "5"),
                                                         ("Content-Length", "5")], body=b"hello"),
                           200, body=INDEX)


def _smuggle(self, headers, body, status, version="HTTP/1.1", method="POST", kw=None):
    data = self.rq(method, "/", version=version, headers=headers) + body + self.smuggled()
    if kw is None:  # the detail must say what was wrong with the framing
        kw = ("content-length", "length", "transfer", "coding", "chunked", "encoding", "framing")
    self.expect_reject(data, status, kw, method=method)


CL = "Content-Length"
TE = "Transfer-Encoding"
Z = b"0\r\n\r\n"
_gen(TestSmuggling, "smuggle", [
    ("CL then TE", [(CL, "5"), (TE, "chunked")], Z, 400),
    ("TE then CL", [(TE, "chunked"), (CL, "5")], Z, 400),
    ("CL 0 with TE", [(CL, "0"), (TE, "chunked")], Z, 400),
    ("CL with TE on GET", [(CL, "5"), (TE, "chunked")], Z, 400, "HTTP/1.1", "GET"),
    ("two different CL", [(CL, "5"), (CL, "6")], b"hello", 400),
    ("two different CL on GET", [(CL, "5"), (CL, "6")], b"hello", 400, "HTTP/1.1", "GET"),
    ("CL list different", [(CL, "5, 6")], b"hello", 400),
    ("CL list same", [(CL, "5, 5")], b"hello", 400),
    ("CL plus sign", [(CL, "+5")], b"hello", 400),
    ("CL minus", [(CL, "-5")], b"hello", 400),
    ("CL hex", [(CL, "0x5")], b"hello", 400),
    ("CL inner space", [(CL, "5 5")], b"hello", 400),
    ("CL decimal point", [(CL, "5.0")], b"hello", 400),
    ("CL exponent", [(CL, "5e0")], b"hello", 400),
    ("CL empty", [(CL, "")], b"hello", 400),
    ("CL letters", [(CL, "five")], b"hello", 400),
    ("CL non-ASCII digit", [(CL, b"\xd9\xa5")], b"hello", 400),
    ("CL 2^64 overflow", [(CL, "18446744073709551616")], b"hello", 400),
    ("CL huge overflow", [(CL, "9" * 40)], b"hello", 400),
    ("TE gzip", [(TE, "gzip")], Z, 400),
    ("TE identity", [(TE, "identity")], Z, 400),
    ("TE chunked then gzip", [(TE, "chunked, gzip")], Z, 400),
    ("TE chunked chunked", [(TE, "chunked, chunked")], Z, 400),
    ("TE chunked in two fields", [(TE, "chunked"), (TE, "chunked")], Z, 400),
    ("TE empty", [(TE, "")], Z, 400),
    ("TE chunk", [(TE, "chunk")], Z, 400),
    ("TE xchunked", [(TE, "xchunked")], Z, 400),
    ("TE quoted chunked", [(TE, '"chunked"')], Z, 400),
    ("TE chunked with VT", [(TE, b"\x0bchunked")], Z, 400, "HTTP/1.1", "POST", ()),
    ("TE gzip comma chunked 501", [(TE, "gzip, chunked")], Z, 501),
    ("TE deflate comma chunked 501", [(TE, "deflate, chunked")], Z, 501),
    ("TE gzip and chunked in two fields 501", [(TE, "gzip"), (TE, "chunked")], Z, 501),
    ("TE in HTTP 1.0", [(TE, "chunked")], Z, 400, "HTTP/1.0"),
    ("TE in HTTP 1.0 on GET", [(TE, "chunked")], Z, 400, "HTTP/1.0", "GET"),
], _smuggle)


def _smuggle_raw(self, fields):
    data = (b"POST / HTTP/1.1\r\nHost: " + enc(self.hp()) + b"\r\n" + fields
            + b"\r\n\r\n" + Z + self.smuggled())
    self.expect_reject(data, 400, method="POST")


_gen(TestSmuggling, "smuggle_field", [
    ("TE space before colon", b"Transfer-Encoding : chunked"),
    ("CL space before colon", b"Content-Length : 5"),
    ("TE obs-fold", b"X-A: b\r\n Transfer-Encoding: chunked"),
    ("TE folded value", b"Transfer-Encoding:\r\n chunked"),
    ("CL bare CR", b"Content-Length: 5\rTransfer-Encoding: chunked"),
    ("TE bare LF smuggles CL", b"X-A: b\nContent-Length: 5"),
], _smuggle_raw)


# ======================================================================
class TestChunkedBodies(ProtoBase):
    """Malformed chunked bodies: 400 (or the already-sent 405 on POST /)
    and close; well-formed ones pass."""

    def test_post_root_wellformed_chunked_405_keeps_connection(self):
        self.expect_answer(self.rq("POST", "/", headers=[(TE, "chunked")],
                                   body=b"5\r\nhello\r\n0\r\n\r\n"), 405, allow="GET, HEAD, OPTIONS")

    def test_upload_wellformed_chunked_control_201(self):
        c = self.open()
        try:
            c.send(self.rq("POST", "/upload", headers=[("Content-Type", "application/json"),
                                                       (TE, "chunked")],
                           body=b"5\r\n[1,2]\r\n0\r\n\r\n"))
            r = self.read(c)
            self.assertEqual(r.status, 201, "%r %r" % (r, r.body))
            self.check_common(r, persistent=True)
        finally:
            c.close()

    def test_chunk_ext_and_trailer_accepted(self):
        body = (b"0005;name=value;q=\"a \\\"b\\\"\"\r\nhello\r\n"
                b"A\r\n0123456789\r\na;x\r\nabcdefghij\r\n0\r\nX-Trailer: v\r\n\r\n")
        self.expect_answer(self.rq("GET", "/", headers=[(TE, "chunked")], body=body),
                           200, body=INDEX)

    def test_chunk_ext_with_bws_accepted(self):
        # RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS val ] )
        body = b"5 ; a = b\r\nhello\r\n0\r\n\r\n"
        self.expect_answer(self.rq("GET", "/", headers=[(TE, "chunked")], body=body),
                           200, body=INDEX)


BAD_CHUNKED = [
    ("negative size", b"-5\r\n[1,2]\r\n0\r\n\r\n"),
    ("plus sign", b"+5\r\n[1,2]\r\n0\r\n\r\n"),
    ("0x prefix", b"0x5\r\n[1,2]\r\n0\r\n\r\n"),
    ("leading space", b" 5\r\n[1,2]\r\n0\r\n\r\n"),
    ("trailing space no ext", b"5 \r\n[1,2]\r\n0\r\n\r\n"),
    ("non-hex size", b"zz\r\n[1,2]\r\n0\r\n\r\n"),
    ("empty size", b"\r\n[1,2]\r\n0\r\n\r\n"),
    ("size 2^64 overflow", b"10000000000000000\r\n[1,2]\r\n0\r\n\r\n"),
    ("size 40 digits", b"f" * 40 + b"\r\n[1,2]\r\n0\r\n\r\n"),
    ("missing CRLF after data", b"5\r\n[1,2]XX0\r\n\r\n"),
    ("data longer than size", b"3\r\n[1,2]\r\n0\r\n\r\n"),
    ("bare LF after size", b"5\n[1,2]\r\n0\r\n\r\n"),
    ("bare LF after data", b"5\r\n[1,2]\n0\r\n\r\n"),
    ("bare CR after size", b"5\r[1,2]\r\n0\r\n\r\n"),
    ("empty extension", b"5;\r\n[1,2]\r\n0\r\n\r\n"),
    ("extension without name", b"5;=x\r\n[1,2]\r\n0\r\n\r\n"),
    ("extension empty value", b"5;a=\r\n[1,2]\r\n0\r\n\r\n"),
    ("unterminated quoted extension", b'5;a="x\r\n[1,2]\r\n0\r\n\r\n'),
    ("space inside extension", b"5;a b\r\n[1,2]\r\n0\r\n\r\n"),
    ("control byte in extension", b"5;a=\x01\r\n[1,2]\r\n0\r\n\r\n"),
    ("oversized size line", b"5;" + b"a=b;" * 1100 + b"a=b\r\n[1,2]\r\n0\r\n\r\n"),
    ("last chunk then request no blank line", b"5\r\n[1,2]\r\n0\r\n"),
    ("trailer without colon", b"5\r\n[1,2]\r\n0\r\nX-T v\r\n\r\n"),
    ("trailer obs-fold", b"5\r\n[1,2]\r\n0\r\nX-T: v\r\n w\r\n\r\n"),
    ("trailer space before colon", b"5\r\n[1,2]\r\n0\r\nX-T : v\r\n\r\n"),
    ("trailer bare LF", b"5\r\n[1,2]\r\n0\r\nX-T: v\n\r\n"),
    ("final bare LF", b"5\r\n[1,2]\r\n0\r\n\n"),
    ("trailer NUL", b"5\r\n[1,2]\r\n0\r\nX-T: a\x00b\r\n\r\n"),
    ("oversized trailers", b"5\r\n[1,2]\r\n0\r\n" + (b"X-T: " + b"a" * 1000 + b"\r\n") * 10 + b"\r\n"),
]


def _bad_chunked_post_root(self, body):
    """POST / with a broken chunked body: the server may already have
    answered 405 for the well-formed head, or answer 400; either way one
    response at most, then close, and the smuggled request unanswered."""
    c = self.open()
    try:
        self.send(c, self.rq("POST", "/", headers=[(TE, "chunked")]) + body + self.smuggled())
        r = self.read(c, "POST")
        self.assertIn(r.status, (400, 405), "%r %r" % (r, r.body[:200]))
        self.check_common(r, persistent=False if r.status == 400 else None)
        self.check_error(r, r.status)
        self.assert_closed(c)
    finally:
        c.close()


def _bad_chunked_upload(self, body):
    data = self.rq("POST", "/upload", headers=[("Content-Type", "application/json"),
                                               (TE, "chunked")]) + body + self.smuggled()
    self.expect_reject(data, 400, method="POST")


_gen(TestChunkedBodies, "bad_chunked_post_root", BAD_CHUNKED, _bad_chunked_post_root)
_gen(TestChunkedBodies, "bad_chunked_upload", BAD_CHUNKED, _bad_chunked_upload)


# ======================================================================
class TestBodyOnGetHead(ProtoBase):
    """SPEC §2: a body on GET/HEAD is read and discarded."""

    def test_get_with_content_length_body(self):
        self.expect_answer(self.rq("GET", "/", body=b"hello"), 200, body=INDEX)

    def test_get_with_chunked_body(self):
        self.expect_answer(self.rq("GET", "/", headers=[(TE, "chunked")],
                                   body=b"5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n"), 200, body=INDEX)

    def test_head_with_content_length_body(self):
        self.expect_answer(self.rq("HEAD", "/", body=b"hello"), 200, method="HEAD")

    def test_head_with_chunked_body(self):
        self.expect_answer(self.rq("HEAD", "/", headers=[(TE, "chunked")],
                                   body=b"5\r\nhello\r\n0\r\n\r\n"), 200, method="HEAD")

    def test_get_body_holding_a_request_is_not_answered(self):
        inner = b"GET /sub/page.htm HTTP/1.1\r\nHost: " + enc(self.hp()) + b"\r\n\r\n"
        self.expect_answer(self.rq("GET", "/", body=inner), 200, body=INDEX)

    def test_get_chunked_body_holding_a_request_is_not_answered(self):
        inner = b"GET /sub/page.htm HTTP/1.1\r\nHost: " + enc(self.hp()) + b"\r\n\r\n"
        body = b"%x\r\n" % len(inner) + inner + b"\r\n0\r\n\r\n"
        self.expect_answer(self.rq("GET", "/", headers=[(TE, "chunked")], body=body),
                           200, body=INDEX)

    def test_get_with_large_body(self):
        body = b"x" * (256 * 1024)
        self.expect_answer(self.rq("GET", "/", body=body), 200, body=INDEX)

    def test_get_404_with_body(self):
        self.expect_answer(self.rq("GET", "/missing.html", body=b"hello"), 404)

    def test_get_with_cl_zero(self):
        self.expect_answer(self.rq("GET", "/", headers=[(CL, "0")]), 200, body=INDEX)


# ======================================================================
class TestExpectations(ProtoBase):
    """An Expect other than 100-continue gets 417 (RFC 9110 §10.1.1). The
    framing is known, so the body is consumed and the connection stays
    (SPEC §2: only 400, 413, 414, 431, 501, 505 close) -- unless the client
    may still be waiting for a 100 that never comes."""

    def test_unknown_expectation_with_a_body(self):
        self.expect_answer(self.rq("POST", "/upload", headers=[("Content-Type", "application/json"),
                                                               ("Expect", "foo")], body=b"{}"),
                           417, keywords=("expect",))

    def test_unknown_expectation_with_a_chunked_body(self):
        self.expect_answer(self.rq("POST", "/upload", headers=[("Content-Type", "application/json"),
                                                               ("Expect", "200-ok"), (TE, "chunked")],
                                   body=b"2\r\n{}\r\n0\r\n\r\n"), 417)

    def test_unknown_expectation_on_get(self):
        self.expect_answer(self.rq("GET", "/", headers=[("Expect", "bar")]), 417)

    def test_unknown_expectation_with_a_body_holding_a_request(self):
        inner = b"GET /sub/page.htm HTTP/1.1\r\nHost: " + enc(self.hp()) + b"\r\n\r\n"
        self.expect_answer(self.rq("POST", "/", headers=[("Expect", "x")], body=inner), 417)

    def test_with_100_continue_and_body_unsent_closes(self):
        # The client may be waiting for 100 Continue: whether its body
        # comes is unknown, so the response says close and means it.
        c = self.open()
        try:
            self.send(c, self.rq("POST", "/upload", headers=[("Content-Type", "application/json"),
                                                             ("Expect", "100-continue, foo"),
                                                             (CL, "2")]))
            r = self.read(c, "POST")
            self.check_error(r, 417, (), "POST")
            self.check_common(r, persistent=False, method="POST")
        finally:
            c.close()


# ======================================================================
class TestLimits(ProtoBase):
    """Head at most 8192 bytes: 414 for the request line, 431 for the
    fields, 431 for more than 100 fields."""

    def head_of(self, size, pad_name=b"X-Pad"):
        base = b"GET /index.html HTTP/1.1\r\nHost: " + enc(self.hp()) + b"\r\n"
        fixed = len(base) + len(pad_name) + 2 + 2 + 2  # ": " CRLF CRLF
        return base + pad_name + b": " + b"a" * (size - fixed) + b"\r\n\r\n"

    def test_head_exactly_8192_ok(self):
        data = self.head_of(8192)
        self.assertEqual(len(data), 8192)
        self.expect_answer(data, 200, body=INDEX)

    def test_head_8193_431(self):
        data = self.head_of(8193)
        self.assertEqual(len(data), 8193)
        self.expect_reject(data, 431)

    def test_long_request_line_within_limit_ok(self):
        host = b"Host: " + enc(self.hp()) + b"\r\n\r\n"
        fixed = len(b"GET /index.html? HTTP/1.1\r\n") + len(host)
        data = b"GET /index.html?" + b"q" * (8192 - fixed) + b" HTTP/1.1\r\n" + host
        self.assertEqual(len(data), 8192)
        self.expect_answer(data, 200, body=INDEX)

    def test_request_line_over_8192_414(self):
        self.expect_reject(self.rq("GET", "/" + "a" * 8300), 414)

    def test_request_line_over_8192_no_crlf_yet_414(self):
        # the server must not wait for the end of an over-long line
        c = self.open()
        try:
            self.send(c, b"GET /" + b"a" * 9000)
            r = self.read(c)
            self.check_error(r, 414)
            self.check_common(r, persistent=False)
            self.assert_closed(c)
        finally:
            c.close()

    def test_query_over_8192_414(self):
        self.expect_reject(self.rq("GET", "/index.html?" + "q" * 9000), 414)

    def test_one_huge_field_431(self):
        self.expect_reject(self.rq(headers=[("X-Big", "a" * 9000)]), 431)

    def test_many_fields_over_8192_431(self):
        self.expect_reject(self.rq(headers=[("X-F%d" % i, "v" * 200) for i in range(50)]), 431)

    def test_long_request_line_plus_fields_over_8192_431(self):
        self.expect_reject(self.rq("GET", "/index.html?" + "q" * 5000,
                                   headers=[("X-Big", "a" * 5000)]), 431)

    def test_100_fields_ok(self):
        data = self.rq(headers=[("X-F%d" % i, "v") for i in range(99)])  # + Host = 100
        self.expect_answer(data, 200, body=INDEX)

    def test_101_fields_431(self):
        data = self.rq(headers=[("X-F%d" % i, "v") for i in range(100)])  # + Host = 101
        self.expect_reject(data, 431)

    def test_101_empty_fields_431(self):
        data = self.rq(headers=[("A", "") for _ in range(100)])
        self.expect_reject(data, 431)


# ======================================================================
class TestHost(ProtoBase):
    """SPEC §2 Host rules on a server bound to 127.0.0.1."""

    def test_http11_without_host_400(self):
        self.expect_reject(self.rq(host=None), 400, ("host",))

    def test_two_identical_host_400(self):
        self.expect_reject(self.rq(headers=[("Host", self.hp())]), 400, ("host",))

    def test_two_different_host_400(self):
        self.expect_reject(self.rq(headers=[("Host", "evil.example")]), 400, ("host",))

    def test_http10_without_host_ok(self):
        c = self.open()
        try:
            c.send(self.rq(version="HTTP/1.0", host=None))
            r = self.read(c)
            self.assertEqual(r.status, 200)
            self.check_common(r, persistent=False)
        finally:
            c.close()

    def test_http10_with_empty_or_foreign_host_403(self):
        for host in ("", "evil.example"):
            with self.subTest(host=host):
                c = self.open()
                try:
                    c.send(self.rq(version="HTTP/1.0", host=host))
                    r = self.read(c)
                    self.check_error(r, 403, ("host",))
                    self.check_common(r, persistent=False)
                finally:
                    c.close()

    def test_absolute_form_ok(self):
        self.expect_answer(self.rq("GET", "http://127.0.0.1:%d/" % self.srv.port), 200, body=INDEX)

    def test_absolute_form_path_and_query(self):
        self.expect_answer(self.rq("GET", "http://localhost:%d/sub/page.htm?x=1" % self.srv.port),
                           200, body=SUBPAGE)

    def test_absolute_form_host_case_insensitive(self):
        self.expect_answer(self.rq("GET", "http://LOCALHOST:%d/" % self.srv.port), 200, body=INDEX)

    def test_absolute_form_foreign_host_403(self):
        self.expect_answer(self.rq("GET", "http://evil.example/"), 403, keywords=("host",))

    def test_absolute_form_foreign_host_with_port_403(self):
        self.expect_answer(self.rq("GET", "http://evil.example:%d/" % self.srv.port), 403)

    def test_absolute_form_other_port_is_accepted(self):
        # the name decides, not the port (proxies and port mappings)
        self.expect_answer(self.rq("GET", "http://127.0.0.1:%d/" % self.other_port()), 200,
                           body=INDEX)

    def test_absolute_form_overrides_host_field(self):
        # RFC 9112 §3.2.2: the origin server MUST ignore Host and use the target
        self.expect_answer(self.rq("GET", "http://127.0.0.1:%d/" % self.srv.port,
                                   host="evil.example"), 200, body=INDEX)

    def test_absolute_form_foreign_with_good_host_field_403(self):
        self.expect_answer(self.rq("GET", "http://evil.example/", host=self.hp()), 403)

    def test_absolute_form_without_host_field_400(self):
        self.expect_reject(self.rq("GET", "http://127.0.0.1:%d/" % self.srv.port, host=None),
                           400, ("host",))

    def test_hostname_not_accepted_on_loopback_bind(self):
        name = socket.gethostname()
        if name.lower() in ("localhost", "localhost.localdomain"):
            self.skipTest("host name is localhost")
        self.expect_answer(self.rq(host=name), 403)

    def test_interface_address_not_accepted_on_loopback_bind(self):
        addrs = [a for a in ipv4_interface_addrs() if not a.startswith("127.")]
        if not addrs:
            self.skipTest("no non-loopback IPv4 interface")
        self.expect_answer(self.rq(host=addrs[0]), 403)

    def other_port(self):
        return self.srv.port + 1 if self.srv.port < 65535 else self.srv.port - 1


def _host_ok(self, host):
    p = self.srv.port
    host = host.replace("{P}", str(p)).replace("{Q}", str(p + 1 if p < 65535 else p - 1))
    self.expect_answer(self.rq(host=host), 200, body=INDEX)


def _host_403(self, host):
    p = self.srv.port
    host = host.replace("{P}", str(p)).replace("{Q}", str(p + 1 if p < 65535 else p - 1))
    self.expect_answer(self.rq(host=host), 403, keywords=("host",))


def _host_400(self, host):
    self.expect_reject(self.rq(host=host.replace("{P}", str(self.srv.port))), 400, ("host",))


_gen(TestHost, "host_ok", [
    ("localhost", "localhost"), ("LOCALHOST", "LOCALHOST"), ("LocalHost port", "LocalHost:{P}"),
    ("localhost port", "localhost:{P}"), ("127.0.0.1", "127.0.0.1"),
    ("127.0.0.1 port", "127.0.0.1:{P}"), ("[::1]", "[::1]"), ("[::1] port", "[::1]:{P}"),
    # the root label's dot: the same name (nginx compares without it too)
    ("localhost trailing dot", "localhost."), ("localhost trailing dot port", "localhost.:{P}"),
    # the port is not checked: a proxy or a port mapping changes it
    ("localhost other port", "localhost:{Q}"), ("127.0.0.1 other port", "127.0.0.1:{Q}"),
    ("[::1] other port", "[::1]:{Q}"), ("localhost port 80", "localhost:80"),
], _host_ok)
_gen(TestHost, "host_403", [
    ("evil.example", "evil.example"), ("evil.example port", "evil.example:{P}"),
    ("127.0.0.2", "127.0.0.2"), ("localhost.evil.example", "localhost.evil.example"),
    ("[::2]", "[::2]"), ("0.0.0.0", "0.0.0.0"), ("localhost two dots", "localhost.."),
    # valid (RFC 9112 3.2: a target without authority), but names nothing
    ("empty", ""),
], _host_403)
_gen(TestHost, "host_400", [
    ("space inside", "local host"), ("non-numeric port", "localhost:abc"),
    ("userinfo", "user@localhost:{P}"), ("unclosed IPv6", "[::1"),
    ("two ports", "localhost:{P}:{P}"), ("slash", "localhost/x"),
    ("port too large", "localhost:65536"),
], _host_400)


# ======================================================================
class TestKeepAliveMax(ProtoBase):
    """--keepalive-max 3 --keepalive-timeout 7: max=2, max=1, then close."""
    server_args = ("--keepalive-max", "3", "--keepalive-timeout", "7")
    ka_timeout = 7

    def test_sequential_requests(self):
        c = self.open()
        try:
            got = []
            for i in range(3):
                c.send(self.rq())
                r = self.read(c)
                self.assertEqual(r.status, 200)
                got.append(self.check_common(r, persistent=(i < 2)))
            self.assertEqual(got, [2, 1, None])
            self.assert_closed(c)
        finally:
            c.close()

    def test_pipelined_fourth_not_answered(self):
        c = self.open()
        try:
            c.send(self.rq() * 3 + self.rq("GET", "/about.html"))
            rs = [self.read(c) for _ in range(3)]
            self.assertEqual([r.body for r in rs], [INDEX] * 3)
            self.assertEqual([self.check_common(r) for r in rs], [2, 1, None])
            self.assert_closed(c)
        finally:
            c.close()

    def test_http10_keep_alive_counts(self):
        c = self.open()
        try:
            ka = [("Connection", "keep-alive")]
            c.send(self.rq(version="HTTP/1.0", headers=ka))
            self.assertEqual(self.check_common(self.read(c), persistent=True), 2)
            c.send(self.rq(version="HTTP/1.0", headers=ka))
            self.assertEqual(self.check_common(self.read(c), persistent=True), 1)
            c.send(self.rq(version="HTTP/1.0", headers=ka))
            self.check_common(self.read(c), persistent=False)
            self.assert_closed(c)
        finally:
            c.close()


# ======================================================================
class TestAllowHostForms(ProtoBase):
    """--allow-host name:port (port ignored), .domain (and subdomains), an
    IP literal; IPv6 compared as an address."""
    server_args = ("--allow-host", "www.example.com:9080", "--allow-host", ".example.net",
                   "--allow-host", "192.0.2.7", "--allow-host", "[2001:db8::1]")

    def test_name_with_port_spec(self):
        for host in ("www.example.com", "www.example.com:9080", "www.example.com:1"):
            with self.subTest(host=host):
                self.expect_answer(self.rq(host=host), 200, body=INDEX)

    def test_domain_and_subdomains(self):
        for host in ("example.net", "a.example.net", "A.B.Example.NET:8080", "x.example.net."):
            with self.subTest(host=host):
                self.expect_answer(self.rq(host=host), 200, body=INDEX)
        for host in ("badexample.net", "example.net.evil", "example.com"):
            with self.subTest(host=host):
                self.expect_answer(self.rq(host=host), 403)

    def test_addresses(self):
        for host in ("192.0.2.7", "192.0.2.7:80", "[2001:db8::1]", "[2001:0db8:0:0:0:0:0:1]:443",
                     "[0:0:0:0:0:0:0:1]"):
            with self.subTest(host=host):
                self.expect_answer(self.rq(host=host), 200, body=INDEX)
        self.expect_answer(self.rq(host="192.0.2.8"), 403)


class TestAllowHost(ProtoBase):
    server_args = ("--allow-host", "example.org", "--allow-host", "www.example.net",
                   "--allow-host", "Trailing.Example.")

    def test_allowed_name_given_with_a_trailing_dot(self):
        for host in ("trailing.example", "TRAILING.example.", "trailing.example.:%d" % self.srv.port):
            with self.subTest(host=host):
                self.expect_answer(self.rq(host=host), 200, body=INDEX)

    def test_allowed_name(self):
        self.expect_answer(self.rq(host="example.org"), 200, body=INDEX)

    def test_allowed_name_uppercase(self):
        self.expect_answer(self.rq(host="EXAMPLE.ORG"), 200, body=INDEX)

    def test_allowed_name_with_port(self):
        self.expect_answer(self.rq(host="example.org:%d" % self.srv.port), 200, body=INDEX)

    def test_second_allowed_name(self):
        self.expect_answer(self.rq(host="www.example.net"), 200, body=INDEX)

    def test_allowed_name_other_port_ok(self):
        self.expect_answer(self.rq(host="example.org:1"), 200, body=INDEX)

    def test_other_name_still_403(self):
        self.expect_answer(self.rq(host="sub.example.org"), 403)

    def test_localhost_still_ok(self):
        self.expect_answer(self.rq(host="localhost"), 200, body=INDEX)

    def test_absolute_form_allowed_name(self):
        self.expect_answer(self.rq("GET", "http://example.org/", host="example.org"), 200,
                           body=INDEX)


class TestAllowAnyHost(ProtoBase):
    server_args = ("--allow-host", "*")

    def test_any_name_ok(self):
        self.expect_answer(self.rq(host="evil.example"), 200, body=INDEX)

    def test_any_name_with_port_ok(self):
        self.expect_answer(self.rq(host="evil.example:%d" % self.srv.port), 200, body=INDEX)

    def test_absolute_form_any_name_ok(self):
        self.expect_answer(self.rq("GET", "http://evil.example/about.html", host="evil.example"),
                           200, body=ABOUT, follow=False)

    def test_host_still_required_in_11(self):
        self.expect_reject(self.rq(host=None), 400, ("host",))

    def test_two_host_still_400(self):
        self.expect_reject(self.rq(host="a.example", headers=[("Host", "b.example")]), 400,
                           ("host",))


class TestAnyAddress(ProtoBase):
    """Bound to 0.0.0.0: the machine's host name and interface addresses
    are accepted too."""
    server_kwargs = {"host": "0.0.0.0"}

    def hp(self):
        return "127.0.0.1:%d" % self.srv.port

    def open(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=TIMEOUT)
        s.settimeout(TIMEOUT)
        return harness.Conn(s, self.srv)

    def test_hostname(self):
        self.expect_answer(self.rq(host=socket.gethostname()), 200, body=INDEX)

    def test_hostname_with_port(self):
        self.expect_answer(self.rq(host="%s:%d" % (socket.gethostname(), self.srv.port)), 200,
                           body=INDEX)

    def test_hostname_uppercase(self):
        self.expect_answer(self.rq(host=socket.gethostname().upper()), 200, body=INDEX)

    def test_interface_addresses(self):
        addrs = ipv4_interface_addrs()
        self.assertTrue(addrs)
        for a in addrs:
            with self.subTest(addr=a):
                self.expect_answer(self.rq(host="%s:%d" % (a, self.srv.port)), 200, body=INDEX)

    def test_localhost(self):
        self.expect_answer(self.rq(host="localhost:%d" % self.srv.port), 200, body=INDEX)

    def test_foreign_403(self):
        self.expect_answer(self.rq(host="evil.example"), 403)

    def test_other_port_ok(self):
        self.expect_answer(self.rq(host="%s:1" % socket.gethostname()), 200, body=INDEX)


class TestIPv6Loopback(ProtoBase):
    server_kwargs = {"host": "::1"}

    @classmethod
    def setUpClass(cls):
        try:
            s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s.bind(("::1", 0))
            s.close()
        except OSError:
            raise unittest.SkipTest("no IPv6 loopback")
        super().setUpClass()

    def test_bracketed_with_port(self):
        self.assertEqual(self.srv.hostport(), "[::1]:%d" % self.srv.port)
        self.expect_answer(self.rq(host="[::1]:%d" % self.srv.port), 200, body=INDEX)

    def test_bracketed(self):
        self.expect_answer(self.rq(host="[::1]"), 200, body=INDEX)

    def test_localhost(self):
        self.expect_answer(self.rq(host="localhost:%d" % self.srv.port), 200, body=INDEX)

    def test_absolute_form(self):
        self.expect_answer(self.rq("GET", "http://[::1]:%d/about.html" % self.srv.port), 200,
                           body=ABOUT, follow=False)

    def test_foreign_403(self):
        self.expect_answer(self.rq(host="[::2]:%d" % self.srv.port), 403)

    def test_other_port_ok(self):
        self.expect_answer(self.rq(host="[::1]:%d" % (self.srv.port ^ 1)), 200, body=INDEX)


if __name__ == "__main__":
    unittest.main()
