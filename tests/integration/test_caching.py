"""Caching, conditional requests, ranges, precompressed siblings and the
`--types all` table (SPEC §3, issue 5; RFC 9110 §8.8, §13, §14).

Every file gets an explicit modification time (os.utime with nanoseconds),
so dates are known exactly and never lie in the future. Changes to files are
made between two requests on one keep-alive connection with no sleeps: the
server must see them at once (its open-file cache is invalidated by
inotify)."""
import email.utils
import gzip
import os
import re
import time
import unittest

import harness
from harness import build_request

HTML = "text/html; charset=utf-8"
OCTET = "application/octet-stream"

# 2020-09-13 12:26:40.123456789 UTC: well in the past, with a sub-second part.
T0_NS = 1_600_000_000_123_456_789
T0 = T0_NS // 10**9
SEC = 10**9

BIG_SIZE = 1024 * 1024 + 300 * 1024 + 7      # > 1 MiB, not a round number
U64_MAX = "18446744073709551615"
STRONG_ETAG = re.compile(r'"[\x21\x23-\x7e]*"')
IMF_FIXDATE = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d "
                         r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
                         r"\d\d:\d\d:\d\d GMT")


def imf(t):
    """IMF-fixdate of the POSIX time t (whole seconds)."""
    return email.utils.formatdate(t, usegmt=True)


def write(path, data, mtime_ns=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


def set_mtime(path, mtime_ns):
    os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)


def without(headers, *names):
    drop = {n.lower() for n in names}
    return [(k, v) for k, v in headers if k.lower() not in drop]


class Base(harness.ServerTest):
    """One server per class on a root built by make_files (rel -> bytes),
    every file stamped with T0_NS unless mtimes says otherwise."""
    mtimes = {}

    @classmethod
    def make_files(cls):
        return {}

    @classmethod
    def build_root(cls):
        cls.files = cls.make_files()
        root = harness.make_root({})
        for rel, data in cls.files.items():
            write(os.path.join(root, rel), data, cls.mtimes.get(rel, T0_NS))
        return root

    def path(self, rel):
        return os.path.join(self.root, rel)

    def get(self, path, headers=None, method="GET"):
        return self.srv.get(path, headers=headers, method=method)

    def raw(self, path, field_lines, method="GET"):
        """A request whose fields are given as raw lines (names may repeat,
        which a dict cannot express)."""
        head = "%s %s HTTP/1.1\r\nHost: %s\r\n" % (method, path, self.srv.hostport())
        head += "".join(line + "\r\n" for line in field_lines) + "\r\n"
        return self.srv.request(head.encode("latin-1"), method)

    def req(self, conn, path, headers=None, method="GET"):
        """One request on an open keep-alive connection."""
        conn.send(build_request(method, path, self.srv.hostport(), headers))
        r = conn.read_response(method=method)
        self.assertNotEqual(r.header("Connection"), "close", r)
        return r

    # -- assertions -------------------------------------------------------

    def assert_validators(self, r, mtime_s=None, etag=None):
        et = r.header("ETag")
        self.assertIsNotNone(et, r)
        self.assertRegex(et, r"\A" + STRONG_ETAG.pattern + r"\Z", "ETag must be strong: %r" % et)
        lm = r.header("Last-Modified")
        self.assertIsNotNone(lm, r)
        self.assertRegex(lm, r"\A" + IMF_FIXDATE.pattern + r"\Z")
        if mtime_s is not None:
            self.assertEqual(lm, imf(mtime_s))
        if etag is not None:
            self.assertEqual(et, etag)
        self.assertEqual(r.header("Vary"), "Accept-Encoding", r)

    def assert_full(self, r, data, ctype=None):
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Length"), str(len(data)))
        self.assertIsNone(r.header("Content-Range"), r)
        self.assertEqual(r.header("Accept-Ranges"), "bytes")
        self.assertTrue(r.body == data, "200 body differs (%d bytes, want %d)" % (len(r.body), len(data)))
        if ctype is not None:
            self.assertEqual(r.header("Content-Type"), ctype)

    def assert_single(self, r, data, first, last, ctype=None):
        """A 206 with one part: first..last (inclusive) of data."""
        self.assertEqual(r.status, 206, r)
        self.assertEqual(r.header("Content-Range"), "bytes %d-%d/%d" % (first, last, len(data)))
        self.assertEqual(r.header("Content-Length"), str(last - first + 1))
        self.assertEqual(r.header("Accept-Ranges"), "bytes")
        self.assertFalse((r.header("Content-Type") or "").startswith("multipart/"), r)
        if ctype is not None:
            self.assertEqual(r.header("Content-Type"), ctype)
        self.assertTrue(r.body == data[first:last + 1],
                        "206 body differs from bytes %d-%d (got %d bytes)" % (first, last, len(r.body)))

    def assert_416(self, r, size):
        self.assertEqual(r.status, 416, r)
        self.assertEqual(r.header("Content-Range"), "bytes */%d" % size)
        self.assertEqual(len(r.body), int(r.header("Content-Length")))

    def assert_304(self, r, etag=None, mtime_s=None):
        self.assertEqual(r.status, 304, r)
        self.assertEqual(r.body, b"")
        self.assert_validators(r, mtime_s, etag)
        # README: every response has Content-Length "except 1xx and 304".
        self.assertIsNone(r.header("Content-Length"), r)
        self.assertIsNone(r.header("Content-Range"), r)

    def parse_multipart(self, r, data, ctype):
        """Checks a multipart/byteranges 206 part by part against data and
        returns [(first, last)]. Each part: boundary, Content-Type,
        Content-Range, blank line, exact bytes; then the closing boundary
        and nothing but an optional CRLF."""
        self.assertEqual(r.status, 206, r)
        self.assertIsNone(r.header("Content-Range"), "a multipart 206 has no top-level Content-Range")
        self.assertEqual(r.header("Accept-Ranges"), "bytes")
        ct = r.header("Content-Type") or ""
        m = re.fullmatch(r'multipart/byteranges;\s*boundary=("?)([0-9A-Za-z\'()+_,\-./:=? ]{0,69}'
                         r'[0-9A-Za-z\'()+_,\-./:=?])\1', ct)
        self.assertIsNotNone(m, "Content-Type %r" % ct)
        self.assertEqual(int(r.header("Content-Length")), len(r.body))
        delim = b"--" + m.group(2).encode()
        body = r.body
        i = 2 if body.startswith(b"\r\n") else 0
        self.assertEqual(body[i:i + len(delim)], delim, "body must open with the boundary: %r" % body[:80])
        i += len(delim)
        parts = []
        while True:
            if body[i:i + 2] == b"--":
                self.assertIn(body[i + 2:], (b"", b"\r\n"), "bytes after the closing boundary")
                break
            self.assertEqual(body[i:i + 2], b"\r\n", "boundary line not ended by CRLF at %d" % i)
            i += 2
            end = body.find(b"\r\n\r\n", i)
            self.assertGreaterEqual(end, 0, "part head not terminated")
            heads = {}
            for line in body[i:end].split(b"\r\n"):
                k, sep, v = line.partition(b":")
                self.assertTrue(sep, "bad part header %r" % line)
                self.assertNotIn(k.lower(), heads, "repeated part header %r" % k)
                heads[k.strip().lower()] = v.strip().decode("latin-1")
            i = end + 4
            self.assertEqual(heads.get(b"content-type"), ctype)
            cr = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", heads.get(b"content-range", ""))
            self.assertIsNotNone(cr, "part Content-Range %r" % heads.get(b"content-range"))
            first, last, size = (int(x) for x in cr.groups())
            self.assertEqual(size, len(data))
            self.assertLessEqual(first, last)
            self.assertLess(last, size)
            n = last - first + 1
            self.assertTrue(body[i:i + n] == data[first:last + 1],
                            "part %d-%d bytes differ" % (first, last))
            i += n
            self.assertEqual(body[i:i + 2 + len(delim)], b"\r\n" + delim,
                             "part %d-%d not followed by CRLF and the boundary" % (first, last))
            i += 2 + len(delim)
            parts.append((first, last))
        self.assertGreaterEqual(len(parts), 2, "a multipart answer with fewer than two parts")
        return parts


# ---------------------------------------------------------------------------

class TestValidatorsAndConditionals(Base):
    """Last-Modified / ETag on every file response, and §13 preconditions,
    on the default (seed) type policy."""

    @classmethod
    def make_files(cls):
        return {
            "page.html": b"<!doctype html><title>page</title><p>caching</p>\n",
            "other.html": b"<!doctype html><title>other</title>\n",
            "big.png": os.urandom(BIG_SIZE),
            "style.css": b"body{color:red}\n",
            "future.html": b"<p>a modification time two days ahead</p>\n",
        }

    @classmethod
    def prepare_root(cls):
        ahead = time.time_ns() + 2 * 86400 * SEC
        set_mtime(os.path.join(cls.root, "future.html"), ahead)

    def setUp(self):
        r = self.get("/page.html")
        self.assertEqual(r.status, 200, r)
        self.etag = r.header("ETag")

    # -- validators --------------------------------------------------------

    def test_200_has_last_modified_and_strong_etag(self):
        r = self.get("/page.html")
        self.assert_full(r, self.files["page.html"], HTML)
        self.assert_validators(r, T0)
        self.assertEqual(r.header("Last-Modified"), "Sun, 13 Sep 2020 12:26:40 GMT")

    def test_etag_is_stable_and_differs_between_files(self):
        tags = {self.get("/page.html").header("ETag") for _ in range(4)}
        self.assertEqual(tags, {self.etag}, "ETag of an unchanged file must not vary")
        other = self.get("/other.html").header("ETag")
        big = self.get("/big.png", method="HEAD").header("ETag")
        self.assertEqual(len({self.etag, other, big}), 3)

    def test_206_and_304_carry_the_same_validators(self):
        r200 = self.get("/big.png", method="HEAD")
        etag = r200.header("ETag")
        self.assert_validators(r200, T0)
        r206 = self.get("/big.png", {"Range": "bytes=0-99"})
        self.assertEqual(r206.status, 206, r206)
        self.assert_validators(r206, T0, etag)
        r304 = self.get("/big.png", {"If-None-Match": etag})
        self.assert_304(r304, etag, T0)
        rmp = self.get("/big.png", {"Range": "bytes=0-0,10-10"})
        self.assertEqual(rmp.status, 206, rmp)
        self.assert_validators(rmp, T0, etag)

    def test_seed_policy_unchanged(self):
        r = self.get("/style.css")
        self.assertEqual(r.status, 415, r)
        r = self.get("/big.png", method="HEAD")
        self.assertEqual(r.header("Content-Type"), OCTET)
        self.assertEqual(r.header("Content-Disposition"), 'attachment; filename="big.png"')

    # -- If-None-Match -------------------------------------------------------

    def test_if_none_match_exact(self):
        self.assert_304(self.get("/page.html", {"If-None-Match": self.etag}), self.etag, T0)

    def test_if_none_match_list(self):
        for v in ('"nope", %s, "x"' % self.etag, '"a",%s' % self.etag, '%s , "b"' % self.etag,
                  ', "a",, %s' % self.etag):
            with self.subTest(v=v):
                self.assert_304(self.get("/page.html", {"If-None-Match": v}), self.etag, T0)

    def test_if_none_match_star(self):
        self.assert_304(self.get("/page.html", {"If-None-Match": "*"}), self.etag, T0)

    def test_if_none_match_weak_comparison(self):
        self.assert_304(self.get("/page.html", {"If-None-Match": "W/" + self.etag}), self.etag, T0)
        self.assert_304(self.get("/page.html", {"If-None-Match": '"z", W/' + self.etag}), self.etag, T0)

    def test_if_none_match_no_match_is_200(self):
        other = self.get("/other.html").header("ETag")
        for v in ('"nope"', other, 'W/"nope", "other"', self.etag[:-2] + '"'):
            with self.subTest(v=v):
                r = self.get("/page.html", {"If-None-Match": v})
                self.assert_full(r, self.files["page.html"], HTML)
                self.assert_validators(r, T0, self.etag)

    def test_head_if_none_match_is_304(self):
        self.assert_304(self.get("/page.html", {"If-None-Match": self.etag}, method="HEAD"), self.etag, T0)

    # -- If-Modified-Since ---------------------------------------------------

    def test_if_modified_since_equal_is_304(self):
        self.assert_304(self.get("/page.html", {"If-Modified-Since": imf(T0)}), self.etag, T0)

    def test_if_modified_since_later_is_304(self):
        for later in (T0 + 1, T0 + 86400 * 365):
            with self.subTest(later=later):
                self.assert_304(self.get("/page.html", {"If-Modified-Since": imf(later)}), self.etag, T0)

    def test_if_modified_since_earlier_is_200(self):
        for earlier in (T0 - 1, T0 - 86400 * 365):
            with self.subTest(earlier=earlier):
                r = self.get("/page.html", {"If-Modified-Since": imf(earlier)})
                self.assert_full(r, self.files["page.html"])

    def test_if_modified_since_obsolete_date_forms(self):
        # RFC 9110 §5.6.7: recipients accept rfc850-date and asctime-date.
        for v in ("Sunday, 13-Sep-20 12:26:40 GMT", "Sun Sep 13 12:26:40 2020"):
            with self.subTest(v=v):
                self.assert_304(self.get("/page.html", {"If-Modified-Since": v}), self.etag, T0)

    def test_if_modified_since_invalid_date_ignored(self):
        for v in ("yesterday", "2021-01-01T00:00:00Z", imf(T0 + 10) + ", " + imf(T0 + 10),
                  imf(T0 + 10).replace("GMT", "UTC"), "Sun, 13 Sep 2020 25:00:00 GMT", "0"):
            with self.subTest(v=v):
                r = self.get("/page.html", {"If-Modified-Since": v})
                self.assert_full(r, self.files["page.html"])

    def test_if_modified_since_ignored_when_if_none_match_present(self):
        r = self.get("/page.html", {"If-None-Match": '"nope"', "If-Modified-Since": imf(T0 + 3600)})
        self.assert_full(r, self.files["page.html"])
        r = self.get("/page.html", {"If-None-Match": self.etag, "If-Modified-Since": imf(T0 - 3600)})
        self.assert_304(r, self.etag, T0)

    # -- If-Match / If-Unmodified-Since --------------------------------------

    def test_if_match_current_and_star_pass(self):
        for v in (self.etag, "*", '"a", %s' % self.etag):
            with self.subTest(v=v):
                self.assert_full(self.get("/page.html", {"If-Match": v}), self.files["page.html"])

    def test_if_match_mismatch_is_412(self):
        for v in ('"nope"', "W/" + self.etag, '"a", "b"'):
            with self.subTest(v=v):
                r = self.get("/page.html", {"If-Match": v})
                self.assertEqual(r.status, 412, r)
                self.assertEqual(len(r.body), int(r.header("Content-Length")))

    def test_if_unmodified_since(self):
        r = self.get("/page.html", {"If-Unmodified-Since": imf(T0 - 1)})
        self.assertEqual(r.status, 412, r)
        for v in (imf(T0), imf(T0 + 1), "not a date"):
            with self.subTest(v=v):
                self.assert_full(self.get("/page.html", {"If-Unmodified-Since": v}), self.files["page.html"])

    def test_list_fields_split_over_several_lines(self):
        """RFC 9110 §5.3: If-None-Match and If-Match are lists; several
        field lines mean their comma-joined values."""
        cases = [(['If-None-Match: "a"', "If-None-Match: " + self.etag], 304),
                 (["If-None-Match: " + self.etag, 'If-None-Match: "a"'], 304),
                 (['If-Match: "a"', "If-Match: " + self.etag], 200),
                 (["If-Match: " + self.etag, 'If-Match: "a"'], 200),
                 (['If-Match: "a"', 'If-Match: "b"'], 412)]
        for lines, want in cases:
            with self.subTest(lines=lines):
                r = self.raw("/page.html", lines)
                self.assertEqual(r.status, want, r)
                if want == 304:
                    self.assert_304(r, self.etag, T0)
                elif want == 200:
                    self.assert_full(r, self.files["page.html"])

    def test_date_lists_are_ignored(self):
        """RFC 9110 §13.1.3/§13.1.4: an If-Modified-Since or
        If-Unmodified-Since value with more than one member (also when sent
        as several field lines) is ignored."""
        cases = [["If-Unmodified-Since: %s, %s" % (imf(T0 - 9), imf(T0 - 9))],
                 ["If-Modified-Since: %s, %s" % (imf(T0), imf(T0))],
                 ["If-Modified-Since: " + imf(T0), "If-Modified-Since: " + imf(T0)],
                 ["If-Unmodified-Since: " + imf(T0 - 9), "If-Unmodified-Since: " + imf(T0 - 9)]]
        for lines in cases:
            with self.subTest(lines=lines):
                self.assert_full(self.raw("/page.html", lines), self.files["page.html"])

    def test_last_modified_never_in_the_future(self):
        """RFC 9110 §8.8.2.1: a modification time later than the server's
        clock MUST be sent as the Date of the response instead."""
        r = self.get("/future.html")
        self.assert_full(r, self.files["future.html"])
        lm = email.utils.parsedate_to_datetime(r.header("Last-Modified"))
        date = email.utils.parsedate_to_datetime(r.header("Date"))
        self.assertLessEqual(lm, date, "Last-Modified %s is later than Date %s"
                             % (r.header("Last-Modified"), r.header("Date")))

    def test_412_keeps_the_connection(self):
        c = self.srv.connect()
        try:
            r = self.req(c, "/page.html", {"If-Match": '"nope"'})
            self.assertEqual(r.status, 412, r)
            self.assert_full(self.req(c, "/page.html"), self.files["page.html"])
        finally:
            c.close()

    # -- precedence (RFC 9110 §13.2.2) ---------------------------------------

    def test_precedence(self):
        big = self.files["big.png"]
        betag = self.get("/big.png", method="HEAD").header("ETag")
        cases = [
            # If-Match decides before everything else
            ({"If-Match": '"nope"', "If-None-Match": betag}, 412),
            ({"If-Match": '"nope"', "If-Modified-Since": imf(T0)}, 412),
            ({"If-Match": '"nope"', "Range": "bytes=0-9"}, 412),
            ({"If-Match": betag, "If-None-Match": betag}, 304),
            # If-Unmodified-Since is ignored when If-Match is present
            ({"If-Match": betag, "If-Unmodified-Since": imf(T0 - 100)}, 200),
            ({"If-Match": "*", "If-Unmodified-Since": imf(T0 - 100)}, 200),
            # If-Unmodified-Since before If-None-Match / If-Modified-Since
            ({"If-Unmodified-Since": imf(T0 - 100), "If-None-Match": betag}, 412),
            ({"If-Unmodified-Since": imf(T0 - 100), "If-Modified-Since": imf(T0)}, 412),
            ({"If-Unmodified-Since": imf(T0), "If-None-Match": betag}, 304),
            # conditionals before Range / If-Range
            ({"If-None-Match": betag, "Range": "bytes=0-9"}, 304),
            ({"If-Modified-Since": imf(T0), "Range": "bytes=0-9"}, 304),
            ({"If-Modified-Since": imf(T0 - 1), "Range": "bytes=0-9"}, 206),
            ({"If-None-Match": '"nope"', "Range": "bytes=0-9"}, 206),
            ({"If-Match": betag, "If-Range": betag, "Range": "bytes=0-9"}, 206),
            ({"If-None-Match": '"nope"', "If-Modified-Since": imf(T0), "Range": "bytes=0-9"}, 206),
        ]
        for hdrs, want in cases:
            with self.subTest(headers=hdrs):
                r = self.get("/big.png", hdrs)
                self.assertEqual(r.status, want, r)
                if want == 304:
                    self.assert_304(r, betag, T0)
                elif want == 206:
                    self.assert_single(r, big, 0, 9)
                elif want == 200:
                    self.assert_full(r, big)

    # -- HEAD mirrors GET, no body -------------------------------------------

    def test_head_mirrors_get(self):
        cases = [
            ("/big.png", {}),
            ("/big.png", {"Range": "bytes=100-199"}),
            ("/big.png", {"Range": "bytes=0-0,100-199,-5"}),
            ("/page.html", {"If-None-Match": self.etag}),
            ("/page.html", {"If-Modified-Since": imf(T0)}),
            ("/big.png", {"Range": "bytes=%d-" % BIG_SIZE}),
            ("/page.html", {"If-Match": '"nope"'}),
        ]
        for path, hdrs in cases:
            with self.subTest(path=path, headers=hdrs):
                g = self.get(path, hdrs)
                h = self.get(path, hdrs, method="HEAD")
                self.assertEqual(h.status, g.status)
                self.assertEqual(h.body, b"")
                gh, hh = without(g.headers, "Date"), without(h.headers, "Date")
                if (g.header("Content-Type") or "").startswith("multipart/byteranges"):
                    # each response may pick its own boundary; its length and
                    # everything else must agree
                    norm = lambda hs: [(k, re.sub(r"boundary=.*", "boundary=B", v)) for k, v in hs]
                    self.assertEqual(len(g.header("Content-Type")), len(h.header("Content-Type")))
                    gh, hh = norm(gh), norm(hh)
                self.assertEqual(hh, gh)

    def test_head_and_304_send_no_body(self):
        """HEAD 200, HEAD 206, HEAD multipart, 304 and a GET pipelined in one
        write: a stray body byte would break the framing of the next."""
        hp = self.srv.hostport()
        reqs = [("HEAD", "/big.png", {}),
                ("HEAD", "/big.png", {"Range": "bytes=0-99"}),
                ("HEAD", "/big.png", {"Range": "bytes=0-9,20-29"}),
                ("GET", "/page.html", {"If-None-Match": self.etag}),
                ("HEAD", "/page.html", {"If-None-Match": self.etag}),
                ("GET", "/page.html", {})]
        c = self.srv.connect()
        try:
            c.send(b"".join(build_request(m, p, hp, h) for m, p, h in reqs))
            got = [c.read_response(method=m) for m, _, _ in reqs]
        finally:
            c.close()
        self.assertEqual([r.status for r in got], [200, 206, 206, 304, 304, 200])
        self.assertEqual(got[0].header("Content-Length"), str(BIG_SIZE))
        self.assertEqual(got[1].header("Content-Length"), "100")
        self.assertEqual(got[1].header("Content-Range"), "bytes 0-99/%d" % BIG_SIZE)
        self.assertTrue(got[2].header("Content-Type").startswith("multipart/byteranges; boundary="))
        self.assertGreater(int(got[2].header("Content-Length")), 20)
        self.assert_full(got[5], self.files["page.html"])


class TestRanges(Base):
    """Byte ranges on a > 1 MiB random binary file (RFC 9110 §14)."""

    @classmethod
    def make_files(cls):
        return {"big.png": os.urandom(BIG_SIZE), "mid.txt": os.urandom(5000), "empty.html": b""}

    def setUp(self):
        self.data = self.files["big.png"]
        self.n = len(self.data)

    def rng(self, spec, path="/big.png", headers=None):
        h = {"Range": spec}
        h.update(headers or {})
        return self.get(path, h)

    def test_first_middle_last_open_ended(self):
        n = self.n
        cases = [("bytes=0-99", 0, 99),
                 ("bytes=500000-700000", 500000, 700000),
                 ("bytes=-100", n - 100, n - 1),
                 ("bytes=1000000-", 1000000, n - 1),
                 ("bytes=0-0", 0, 0),
                 ("bytes=%d-%d" % (n - 1, n - 1), n - 1, n - 1),
                 ("bytes=-1", n - 1, n - 1),
                 ("bytes=0-", 0, n - 1),
                 ("bytes=0-%d" % (n - 1), 0, n - 1),
                 ("bytes=65535-65536", 65535, 65536),
                 ("Bytes=10-19", 10, 19),           # range unit is case-insensitive
                 ("bytes=10-19,", 10, 19),           # empty list elements allowed
                 ]
        for spec, first, last in cases:
            with self.subTest(spec=spec):
                r = self.rng(spec)
                self.assert_single(r, self.data, first, last, OCTET)
                self.assert_validators(r, T0)

    def test_last_pos_clamped(self):
        n = self.n
        for spec in ("bytes=1000-%d" % n, "bytes=1000-%d" % (n + 12345), "bytes=1000-" + U64_MAX):
            with self.subTest(spec=spec):
                self.assert_single(self.rng(spec), self.data, 1000, n - 1)

    def test_suffix_longer_than_file_is_whole_file(self):
        self.assert_single(self.rng("bytes=-%d" % (self.n + 1)), self.data, 0, self.n - 1)

    def test_u64_max_last_pos_is_whole_file(self):
        self.assert_single(self.rng("bytes=0-" + U64_MAX), self.data, 0, self.n - 1)

    def test_twenty_digit_numbers(self):
        n = self.n
        ok = [("bytes=0-99999999999999999999", 0, n - 1),          # 20 digits, > 2^64
              ("bytes=-99999999999999999999", 0, n - 1),
              ("bytes=-" + U64_MAX, 0, n - 1),
              ("bytes=00000000000000000100-00000000000000000199", 100, 199),
              ("bytes=0-184467440737095516150000", 0, n - 1)]
        for spec, first, last in ok:
            with self.subTest(spec=spec):
                self.assert_single(self.rng(spec), self.data, first, last)
        for spec in ("bytes=18446744073709551616-", "bytes=" + U64_MAX + "-",
                     "bytes=99999999999999999999-99999999999999999999",
                     "bytes=" + U64_MAX + "-" + U64_MAX):
            with self.subTest(spec=spec):
                self.assert_416(self.rng(spec), n)

    def test_unsatisfiable_is_416(self):
        n = self.n
        for spec in ("bytes=%d-" % n, "bytes=%d-%d" % (n, n + 100), "bytes=-0",
                     "bytes=%d-,%d-%d" % (n + 1, n, n + 5), "bytes=-0,%d-" % n):
            with self.subTest(spec=spec):
                self.assert_416(self.rng(spec), n)

    def test_416_keeps_the_connection(self):
        c = self.srv.connect()
        try:
            self.assert_416(self.req(c, "/big.png", {"Range": "bytes=-0"}), self.n)
            self.assert_single(self.req(c, "/big.png", {"Range": "bytes=5-9"}), self.data, 5, 9)
        finally:
            c.close()

    def test_unsatisfiable_parts_dropped(self):
        n = self.n
        self.assert_single(self.rng("bytes=0-9,%d-" % n), self.data, 0, 9)
        self.assert_single(self.rng("bytes=-0,20-29"), self.data, 20, 29)

    def test_invalid_range_ignored(self):
        for spec in ("bytes=abc", "bytes=", "bytes=-", "bytes=--5", "bytes=5-2", "bytes=0-5-",
                     "bytes=0-5;x", "bytes 0-5", "bytes:0-5", "items=0-5", "bytes=0x10-0x20",
                     "bytes=+1-5", "bytes=1.5-2", "bytes=0 -5", "bytes=0-1,abc", "bytes=,",
                     "bytes=1-2 3-4", "=0-5", "bytes=-5-", "bytes=0-1,9-3", "bytes = 0-5",
                     "bytes=%d-0" % (self.n + 10)):
            with self.subTest(spec=spec):
                r = self.rng(spec, "/mid.txt")
                self.assert_full(r, self.files["mid.txt"])
        self.assert_full(self.rng("bytes=5-2"), self.data)

    def test_ranges_of_a_small_cached_file(self):
        data = self.files["mid.txt"]
        c = self.srv.connect()
        try:
            for _ in range(2):
                self.assert_full(self.req(c, "/mid.txt"), data)
            # Cached, its bytes in memory: the ranges are cut from them.
            self.assertTrue(harness.cached(self.srv.proc.pid, self.path("mid.txt")))
            self.assert_single(self.req(c, "/mid.txt", {"Range": "bytes=100-199"}), data, 100, 199)
            self.assert_single(self.req(c, "/mid.txt", {"Range": "bytes=-1"}), data, 4999, 4999)
            r = self.req(c, "/mid.txt", {"Range": "bytes=0-0,4000-4100"})
            self.assertEqual(self.parse_multipart(r, data, OCTET), [(0, 0), (4000, 4100)])
            self.assert_416(self.req(c, "/mid.txt", {"Range": "bytes=5000-"}), 5000)
            self.assert_full(self.req(c, "/mid.txt"), data)
        finally:
            c.close()

    def test_empty_file_ignores_range(self):
        for spec in ("bytes=0-0", "bytes=-5"):
            with self.subTest(spec=spec):
                r = self.rng(spec, "/empty.html")
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.header("Content-Length"), "0")
                self.assertEqual(r.body, b"")

    # -- multipart -------------------------------------------------------------

    def test_multipart_parsed_part_by_part(self):
        n = self.n
        cases = [("bytes=0-99,200-299,-100", [(0, 99), (200, 299), (n - 100, n - 1)]),
                 ("bytes=0-0,1000000-1100000,%d-" % (n - 1), [(0, 0), (1000000, 1100000), (n - 1, n - 1)]),
                 ("bytes=10-19 , 30-39", [(10, 19), (30, 39)]),
                 ("bytes=0-9,11-20", [(0, 9), (11, 20)]),          # a gap of one byte
                 ("bytes=5-9,%d-%s" % (n - 10, U64_MAX), [(5, 9), (n - 10, n - 1)])]
        for spec, want in cases:
            with self.subTest(spec=spec):
                r = self.rng(spec)
                self.assertEqual(self.parse_multipart(r, self.data, OCTET), want)
                self.assert_validators(r, T0)
                self.assertEqual(r.header("Content-Disposition"), 'attachment; filename="big.png"')

    def test_multipart_content_length_frames_the_next_response(self):
        c = self.srv.connect()
        try:
            r = self.req(c, "/big.png", {"Range": "bytes=0-9,100-109,-3"})
            self.parse_multipart(r, self.data, OCTET)
            self.assert_single(self.req(c, "/big.png", {"Range": "bytes=7-8"}), self.data, 7, 8)
            self.assertEqual(c.buf, b"")
        finally:
            c.close()

    def test_out_of_order_ranges(self):
        # Parts follow the request's order (RFC 9110 15.3.7.2); a merged
        # range stands where its earliest member was.
        r = self.rng("bytes=500-599,0-99")
        self.assertEqual(self.parse_multipart(r, self.data, OCTET), [(500, 599), (0, 99)])
        r = self.rng("bytes=900-909,0-9,300-309,5-20")
        self.assertEqual(self.parse_multipart(r, self.data, OCTET),
                         [(900, 909), (0, 20), (300, 309)])

    def test_overlapping_and_adjacent_ranges_coalesced(self):
        n = self.n
        cases = [("bytes=0-10,5-20", 0, 20),
                 ("bytes=0-9,10-19", 0, 19),
                 ("bytes=50-60,0-55", 0, 60),
                 ("bytes=100-199,150-160,120-", 100, n - 1),
                 ("bytes=-100,%d-" % (n - 50), n - 100, n - 1),
                 (",".join(["bytes=0-"] + ["0-"] * 15), 0, n - 1),     # 16 x the whole file
                 (",".join(["bytes=0-0"] + ["%d-%d" % (i, i) for i in range(1, 16)]), 0, 15)]
        for spec, first, last in cases:
            with self.subTest(spec=spec[:60]):
                self.assert_single(self.rng(spec), self.data, first, last, OCTET)

    def test_sixteen_ranges_served(self):
        specs = ["%d-%d" % (i * 1000, i * 1000 + 9) for i in range(16)]
        r = self.rng("bytes=" + ",".join(specs))
        parts = self.parse_multipart(r, self.data, OCTET)
        self.assertEqual(parts, [(i * 1000, i * 1000 + 9) for i in range(16)])

    def test_seventeen_ranges_ignored(self):
        for specs in (["%d-%d" % (i * 1000, i * 1000 + 9) for i in range(17)],
                      ["0-"] * 17, ["0-0"] * 40):
            with self.subTest(n=len(specs), first=specs[0]):
                self.assert_full(self.rng("bytes=" + ",".join(specs)), self.data)

    # -- If-Range ----------------------------------------------------------------

    def test_if_range(self):
        etag = self.get("/big.png", method="HEAD").header("ETag")
        lm = imf(T0)
        good = [etag, lm, " " + etag]
        bad = ['"0-0-0"', "W/" + etag, imf(T0 + 1), imf(T0 - 1), "garbage", etag + ", " + etag]
        for v in good:
            with self.subTest(if_range=v):
                self.assert_single(self.rng("bytes=0-99", headers={"If-Range": v}), self.data, 0, 99)
        for v in bad:
            with self.subTest(if_range=v):
                self.assert_full(self.rng("bytes=0-99", headers={"If-Range": v}), self.data)
        r = self.rng("bytes=0-9,20-29", headers={"If-Range": etag})
        self.assertEqual(self.parse_multipart(r, self.data, OCTET), [(0, 9), (20, 29)])
        self.assert_full(self.rng("bytes=0-9,20-29", headers={"If-Range": '"old"'}), self.data)
        # If-Range without Range means nothing
        self.assert_full(self.get("/big.png", {"If-Range": etag}), self.data)


class TestChanges(Base):
    """A file changed between two requests on one keep-alive connection is
    seen at once (the open-file cache is invalidated by inotify)."""

    @classmethod
    def make_files(cls):
        return {"small.html": b"<p>small version 1</p>\n",
                "small2.html": b"<p>second small v1</p>\n",
                "big.png": os.urandom(BIG_SIZE),
                "big2.txt": os.urandom(200 * 1024),
                "touch.html": b"<p>touch me</p>\n",
                "ren.html": b"<p>before rename</p>\n",
                "del.html": b"<p>to be deleted</p>\n",
                "d/sub/in.html": b"<p>in a subdirectory</p>\n",
                "index.html": b"<p>the home page</p>\n"}

    # A fresh server and root for every test, so that one test's changes
    # (or a failure) cannot leave the next one a cold cache.
    class_server = False

    def setUp(self):
        self.files = self.make_files()
        self.root = self.fresh_root({})
        for rel, data in self.files.items():
            write(os.path.join(self.root, rel), data, T0_NS)
        self.srv = self.start_server(root=self.root)

    def open_conn(self):
        c = self.srv.connect()
        self.addCleanup(c.close)
        return c

    def held_open(self, rel):
        """Whether the server's cache holds rel (it watches each cached
        file, README "Files")."""
        return harness.cached(self.srv.proc.pid, self.path(rel))

    def warm(self, c, path, data, rel=None):
        """Two GETs: the file is now in this worker's cache (checked, or the
        test would not exercise the invalidation at all)."""
        for _ in range(2):
            r = self.req(c, path)
            self.assert_full(r, data)
        rel = rel or path.lstrip("/")
        self.assertTrue(self.held_open(rel), "%s was not cached: nothing to invalidate; "
                        "server log: %r" % (rel, self.srv.log[-6:]))
        return r

    def check_changed(self, c, path, old, new, ctype=None):
        """old is the response before the change; new the bytes after."""
        old_etag = old.header("ETag")
        r = self.req(c, path, {"If-None-Match": old_etag})
        self.assert_full(r, new, ctype)
        self.assert_validators(r)
        self.assertNotEqual(r.header("ETag"), old_etag)
        self.assert_304(self.req(c, path, {"If-None-Match": r.header("ETag")}), r.header("ETag"))
        self.assert_full(self.req(c, path), new)
        r412 = self.req(c, path, {"If-Match": old_etag})
        self.assertEqual(r412.status, 412, r412)
        return r

    def test_small_file_rewritten_with_other_size(self):
        c = self.open_conn()
        old = self.warm(c, "/small.html", self.files["small.html"])
        new = b"<p>small version 2, longer than before</p>\n"
        write(self.path("small.html"), new, T0_NS + 5 * SEC)
        r = self.check_changed(c, "/small.html", old, new, HTML)
        self.assertEqual(r.header("Last-Modified"), imf(T0 + 5))
        # the old date no longer gives a 304
        self.assert_full(self.req(c, "/small.html", {"If-Modified-Since": imf(T0)}), new)

    def test_small_file_same_size_same_second(self):
        c = self.open_conn()
        p = self.path("small2.html")
        old = self.warm(c, "/small2.html", self.files["small2.html"])
        new = b"<p>second small v2</p>\n"
        self.assertEqual(len(new), len(self.files["small2.html"]))
        ino = os.stat(p).st_ino
        with open(p, "r+b") as f:               # in place: same inode, same size
            f.write(new)
        set_mtime(p, T0_NS + 500_000_000)       # same second, other nanoseconds
        self.assertEqual(os.stat(p).st_ino, ino)
        r = self.check_changed(c, "/small2.html", old, new)
        self.assertEqual(r.header("Last-Modified"), old.header("Last-Modified"))

    def test_big_file_rewritten_with_other_size(self):
        c = self.open_conn()
        old = self.warm(c, "/big.png", self.files["big.png"])
        new = os.urandom(BIG_SIZE - 4321)
        write(self.path("big.png"), new, T0_NS + 7 * SEC)
        self.check_changed(c, "/big.png", old, new)
        self.assert_single(self.req(c, "/big.png", {"Range": "bytes=-10"}), new, len(new) - 10, len(new) - 1)

    def test_big_file_same_size_same_second(self):
        c = self.open_conn()
        p = self.path("big2.txt")
        old = self.warm(c, "/big2.txt", self.files["big2.txt"])
        new = os.urandom(len(self.files["big2.txt"]))
        with open(p, "r+b") as f:
            f.write(new)
        set_mtime(p, T0_NS + 1)
        self.check_changed(c, "/big2.txt", old, new)

    def test_mtime_change_alone_changes_etag(self):
        c = self.open_conn()
        old = self.warm(c, "/touch.html", self.files["touch.html"])
        set_mtime(self.path("touch.html"), T0_NS + 3 * SEC)
        r = self.check_changed(c, "/touch.html", old, self.files["touch.html"])
        self.assertEqual(r.header("Last-Modified"), imf(T0 + 3))

    def test_replaced_by_rename(self):
        c = self.open_conn()
        old = self.warm(c, "/ren.html", self.files["ren.html"])
        new = b"<p>after rename, another inode</p>\n"
        tmp = self.path(".ren.html.tmp")
        write(tmp, new, T0_NS)                  # even with the very same mtime
        os.replace(tmp, self.path("ren.html"))
        self.check_changed(c, "/ren.html", old, new)

    def test_deleted_file_is_404_at_once(self):
        c = self.open_conn()
        self.warm(c, "/del.html", self.files["del.html"])
        os.unlink(self.path("del.html"))
        r = self.req(c, "/del.html")
        self.assertEqual(r.status, 404, r)
        r = self.req(c, "/del.html", {"If-None-Match": "*"})
        self.assertEqual(r.status, 404, r)
        write(self.path("del.html"), b"<p>back</p>\n", T0_NS)
        self.assert_full(self.req(c, "/del.html"), b"<p>back</p>\n")

    def test_if_range_date_is_weak_within_its_second(self):
        # A file rewritten within the second of its Last-Modified may have
        # changed twice under that date: the date is a weak validator then
        # and If-Range must not splice a range of the new bytes onto a copy
        # of the old (RFC 9110 8.8.2.2, 13.1.5). Once the second is over it
        # is strong. Which case a request falls in is read from its Date.
        c = self.open_conn()
        seen_same_second = False
        for attempt in range(20):
            data = (b"%02d" % attempt) * 50
            write(self.path("small.html"), data)
            lm = self.req(c, "/small.html").header("Last-Modified")
            r = self.req(c, "/small.html", {"Range": "bytes=10-19", "If-Range": lm})
            if r.header("Date") == lm:
                seen_same_second = True
                self.assert_full(r, data)
                break
            self.assertEqual(r.status, 206, r)
            self.assertEqual(r.body, data[10:20])
        self.assertTrue(seen_same_second, "no request fell in its file's second")

    def test_cache_still_works_after_a_cached_file_is_deleted(self):
        # The root's watch was once added with an unterminated path, often
        # the last cached file's: once that file was gone, every later file
        # failed to be watched, so the worker silently stopped caching. One
        # worker, a connection per request (as a browser or curl would).
        self.srv.stop()
        self.srv = self.start_server(root=self.root, threads=1)

        def get_alone(rel):
            c = self.srv.connect()
            try:
                r = self.req(c, "/" + rel)
            finally:
                c.close()
            return r

        # Two GETs each: a path is cached at its second miss (fcache.c).
        for _ in range(2):
            self.assert_full(get_alone("d/sub/in.html"), self.files["d/sub/in.html"])
        self.assertTrue(self.held_open("d/sub/in.html"))
        os.unlink(self.path("d/sub/in.html"))
        for rel in ("small.html", "small.html", "touch.html", "touch.html"):
            self.assert_full(get_alone(rel), self.files[rel])
        for rel in ("small.html", "touch.html"):
            self.assertTrue(self.held_open(rel), "%s is not cached" % rel)
        self.assertEqual(get_alone("d/sub/in.html").status, 404)

    def test_index_behind_slash_changes(self):
        c = self.open_conn()
        old = self.warm(c, "/", self.files["index.html"], "index.html")
        new = b"<p>a new home page</p>\n"
        write(self.path("index.html"), new, T0_NS + 9 * SEC)
        self.check_changed(c, "/", old, new, HTML)

    def test_directory_renamed(self):
        c = self.open_conn()
        self.warm(c, "/d/sub/in.html", self.files["d/sub/in.html"])
        os.rename(self.path("d/sub"), self.path("d/moved"))
        r = self.req(c, "/d/sub/in.html")
        self.assertEqual(r.status, 404, r)
        self.assert_full(self.req(c, "/d/moved/in.html"), self.files["d/sub/in.html"])


class TestPrecompressed(Base):
    """<file>.br / <file>.gz beside the file, chosen by Accept-Encoding."""

    X = b"<!doctype html><title>x</title>\n" + b"<p>precompressed sibling test</p>\n" * 1500

    @classmethod
    def make_files(cls):
        x = cls.X
        return {
            "x.html": x,
            "x.html.gz": gzip.compress(x, mtime=0),
            "x.html.br": b"BR-FAKE" + os.urandom(3000),   # the server does not look inside
            "gzonly.html": b"<p>gz only</p>\n",
            "gzonly.html.gz": gzip.compress(b"<p>gz only</p>\n", mtime=0),
            "old.html": b"<p>old siblings</p>\n",
            "old.html.gz": b"OLD-GZ-1ns",
            "old.html.br": b"OLD-BR-1s",
            "newer.html": b"<p>newer siblings</p>\n",
            "newer.html.gz": b"NEWER-GZ",
            "dirsib.html": b"<p>a directory named like a sibling</p>\n",
            "dirsib.html.gz/inner.html": b"<p>not a sibling</p>\n",
            "linksib.html": b"<p>a symbolic link as sibling</p>\n",
            "target.gz.html": b"LINKED-GZ",
            "dyn.html": b"<p>siblings come and go</p>\n",
            "plain.html": b"<p>no siblings at all</p>\n",
        }

    mtimes = {"old.html.gz": T0_NS - 1, "old.html.br": T0_NS - SEC,
              "newer.html.gz": T0_NS + 60 * SEC}

    @classmethod
    def prepare_root(cls):
        os.symlink("target.gz.html", os.path.join(cls.root, "linksib.html.gz"))

    def setUp(self):
        self.x = self.files["x.html"]
        self.gz = self.files["x.html.gz"]
        self.br = self.files["x.html.br"]
        self.id_etag = self.get("/x.html").header("ETag")

    def ae(self, value, path="/x.html", extra=None, method="GET"):
        h = {"Accept-Encoding": value}
        h.update(extra or {})
        return self.get(path, h, method)

    def assert_variant(self, r, data, coding, ctype=HTML):
        self.assertEqual(r.header("Content-Encoding"), coding, r)
        self.assert_full(r, data, ctype)
        self.assert_validators(r)
        self.assertIsNone(r.header("Content-Disposition"))

    def test_gzip(self):
        r = self.ae("gzip")
        self.assert_variant(r, self.gz, "gzip")
        self.assertNotEqual(r.header("ETag"), self.id_etag)
        self.assertEqual(gzip.decompress(r.body), self.x)

    def test_br(self):
        r = self.ae("br")
        self.assert_variant(r, self.br, "br")
        self.assertNotEqual(r.header("ETag"), self.id_etag)
        self.assertNotEqual(r.header("ETag"), self.ae("gzip").header("ETag"))

    def test_q_values(self):
        cases = [("gzip;q=0.5, br;q=0.8", "br"),
                 ("gzip;q=1, br;q=0.5", "gzip"),
                 ("br;q=0, gzip", "gzip"),
                 ("gzip, br", "br"),                 # a tie goes to br
                 ("br;q=0.5, gzip;q=0.5", "br"),
                 ("gzip, deflate, br, zstd", "br"),
                 ("GZIP", "gzip"),                   # codings are case-insensitive
                 ("deflate, gzip;q=0.001", "gzip"),
                 ("*", "br"),
                 ("*;q=0.2, gzip;q=0.3", "gzip"),
                 ("br;q=0.999, gzip;q=1.000", "gzip"),
                 ("identity, gzip;Q=0.1", "gzip")]
        for value, coding in cases:
            with self.subTest(accept_encoding=value):
                self.assert_variant(self.ae(value), self.gz if coding == "gzip" else self.br, coding)

    def test_identity(self):
        for value in ("identity", "", "deflate", "br;q=0, gzip;q=0", "*;q=0", "gzip;q=0, br;q=0.000",
                      "compress, zstd"):
            with self.subTest(accept_encoding=value):
                r = self.ae(value)
                self.assert_full(r, self.x, HTML)
                self.assertIsNone(r.header("Content-Encoding"))
                self.assert_validators(r, T0, self.id_etag)
        r = self.get("/x.html")
        self.assert_full(r, self.x, HTML)
        self.assertIsNone(r.header("Content-Encoding"))
        self.assert_validators(r, T0, self.id_etag)

    def test_accept_encoding_split_over_several_lines(self):
        """RFC 9110 §5.3: Accept-Encoding is a list; two field lines mean
        their comma-joined value ("deflate, br" -> br)."""
        cases = [(["Accept-Encoding: deflate", "Accept-Encoding: br"], "br"),
                 (["Accept-Encoding: gzip;q=0.1", "Accept-Encoding: br;q=0"], "gzip"),
                 (["Accept-Encoding: identity", "Accept-Encoding: gzip"], "gzip")]
        for lines, coding in cases:
            with self.subTest(lines=lines):
                r = self.raw("/x.html", lines)
                self.assert_variant(r, self.br if coding == "br" else self.gz, coding)

    def test_vary_without_siblings(self):
        for ae in (None, "gzip, br"):
            with self.subTest(accept_encoding=ae):
                r = self.get("/plain.html", {"Accept-Encoding": ae} if ae else None)
                self.assert_full(r, self.files["plain.html"], HTML)
                self.assertIsNone(r.header("Content-Encoding"))
                self.assertEqual(r.header("Vary"), "Accept-Encoding")

    def test_only_the_existing_sibling(self):
        gz = self.files["gzonly.html.gz"]
        self.assert_variant(self.ae("br, gzip", "/gzonly.html"), gz, "gzip")
        self.assert_variant(self.ae("br;q=1, gzip;q=0.1", "/gzonly.html"), gz, "gzip")
        r = self.ae("br", "/gzonly.html")
        self.assert_full(r, self.files["gzonly.html"], HTML)
        self.assertIsNone(r.header("Content-Encoding"))

    def test_older_sibling_not_used(self):
        for ae in ("gzip", "br"):
            with self.subTest(accept_encoding=ae):
                r = self.ae(ae, "/old.html")
                self.assert_full(r, self.files["old.html"], HTML)
                self.assertIsNone(r.header("Content-Encoding"))

    def test_newer_sibling_used(self):
        r = self.ae("gzip", "/newer.html")
        self.assert_variant(r, self.files["newer.html.gz"], "gzip")
        self.assertEqual(r.header("Last-Modified"), imf(T0 + 60))

    def test_directory_sibling_not_used(self):
        r = self.ae("gzip", "/dirsib.html")
        self.assert_full(r, self.files["dirsib.html"], HTML)
        self.assertIsNone(r.header("Content-Encoding"))

    def test_symlinked_sibling_not_used(self):
        r = self.ae("gzip", "/linksib.html")
        self.assert_full(r, self.files["linksib.html"], HTML)
        self.assertIsNone(r.header("Content-Encoding"))

    def test_head_mirrors_get(self):
        for ae, extra in (("gzip", {}), ("br", {"Range": "bytes=0-9"}), ("gzip", {"Range": "bytes=0-1,5-6"})):
            with self.subTest(ae=ae, extra=extra):
                g = self.ae(ae, extra=extra)
                h = self.ae(ae, extra=extra, method="HEAD")
                self.assertEqual(h.status, g.status)
                norm = lambda hs: [(k, re.sub(r"boundary=.*", "boundary=B", v)) for k, v in without(hs, "Date")]
                self.assertEqual(norm(h.headers), norm(g.headers))
                self.assertEqual(h.body, b"")

    def test_conditionals_per_variant(self):
        gz_etag = self.ae("gzip").header("ETag")
        self.assert_304(self.ae("gzip", extra={"If-None-Match": gz_etag}), gz_etag)
        # the identity tag does not validate the gzip representation and back
        self.assert_variant(self.ae("gzip", extra={"If-None-Match": self.id_etag}), self.gz, "gzip")
        r = self.get("/x.html", {"If-None-Match": gz_etag})
        self.assert_full(r, self.x, HTML)
        self.assertEqual(r.header("ETag"), self.id_etag)
        r = self.ae("gzip", extra={"If-Match": self.id_etag})
        self.assertEqual(r.status, 412, r)

    def test_ranges_apply_to_compressed_bytes(self):
        gz, br = self.gz, self.br
        r = self.ae("gzip", extra={"Range": "bytes=0-9"})
        self.assert_single(r, gz, 0, 9, HTML)
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        self.assertNotEqual(r.header("ETag"), self.id_etag)
        r = self.ae("gzip", extra={"Range": "bytes=-100"})
        self.assert_single(r, gz, len(gz) - 100, len(gz) - 1)
        r = self.ae("br", extra={"Range": "bytes=%d-" % (len(br) - 7)})
        self.assert_single(r, br, len(br) - 7, len(br) - 1)
        self.assertEqual(r.header("Content-Encoding"), "br")
        # a range past the compressed length but inside the original: 416
        self.assertGreater(len(self.x), len(gz) + 10)
        self.assert_416(self.ae("gzip", extra={"Range": "bytes=%d-" % (len(gz) + 5)}), len(gz))
        r = self.ae("br", extra={"Range": "bytes=0-4,100-109"})
        self.assertEqual(r.header("Content-Encoding"), "br")
        self.assertEqual(self.parse_multipart(r, br, HTML), [(0, 4), (100, 109)])
        gz_etag = self.ae("gzip", method="HEAD").header("ETag")
        self.assert_single(self.ae("gzip", extra={"Range": "bytes=3-5", "If-Range": gz_etag}), gz, 3, 5)
        self.assert_full(self.ae("gzip", extra={"Range": "bytes=3-5", "If-Range": self.id_etag}), gz)

    def test_siblings_appear_change_and_vanish_at_once(self):
        c = self.srv.connect()
        self.addCleanup(c.close)
        ident = self.files["dyn.html"]
        h = {"Accept-Encoding": "gzip, br"}
        for _ in range(2):
            r = self.req(c, "/dyn.html", h)
            self.assert_full(r, ident)
            self.assertIsNone(r.header("Content-Encoding"))
        gz = gzip.compress(ident, mtime=0)
        write(self.path("dyn.html.gz"), gz, T0_NS + SEC)
        r = self.req(c, "/dyn.html", h)
        self.assert_variant(r, gz, "gzip")
        write(self.path("dyn.html.br"), b"DYN-BR", T0_NS)     # same mtime: not older
        self.assert_variant(self.req(c, "/dyn.html", h), b"DYN-BR", "br")
        set_mtime(self.path("dyn.html"), T0_NS + SEC + 1)     # now both are older
        r = self.req(c, "/dyn.html", h)
        self.assert_full(r, ident)
        self.assertIsNone(r.header("Content-Encoding"))
        set_mtime(self.path("dyn.html.gz"), T0_NS + 2 * SEC)  # the gz is current again
        self.assert_variant(self.req(c, "/dyn.html", h), gz, "gzip")
        gz2 = gzip.compress(ident * 3, mtime=0)               # rewritten in place, other size
        write(self.path("dyn.html.gz"), gz2, T0_NS + 3 * SEC)
        self.assert_variant(self.req(c, "/dyn.html", h), gz2, "gzip")
        os.unlink(self.path("dyn.html.gz"))
        r = self.req(c, "/dyn.html", h)
        self.assert_full(r, ident)
        self.assertIsNone(r.header("Content-Encoding"))


# Extension -> Content-Type expected with --types all (standard registrations;
# text types carry charset=utf-8 as the README says).
ALL_TYPES = {
    "html": HTML, "htm": HTML,
    "css": "text/css; charset=utf-8",
    "js": "text/javascript; charset=utf-8", "mjs": "text/javascript; charset=utf-8",
    "json": "application/json; charset=utf-8", "map": "application/json; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "xml": "application/xml; charset=utf-8",
    "svg": "image/svg+xml; charset=utf-8",
    "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
    "webp": "image/webp", "avif": "image/avif", "bmp": "image/bmp",
    "ico": "image/vnd.microsoft.icon", "tif": "image/tiff", "tiff": "image/tiff",
    "pdf": "application/pdf", "wasm": "application/wasm",
    "woff": "font/woff", "woff2": "font/woff2", "ttf": "font/ttf", "otf": "font/otf",
    "mp4": "video/mp4", "webm": "video/webm", "mov": "video/quicktime", "mpeg": "video/mpeg",
    "mp3": "audio/mpeg", "ogg": "audio/ogg", "wav": "audio/wav", "flac": "audio/flac",
    "m4a": "audio/mp4", "aac": "audio/aac",
    "zip": "application/zip", "gz": "application/gzip", "tar": "application/x-tar",
    "7z": "application/x-7z-compressed", "bz2": "application/x-bzip2", "xz": "application/x-xz",
    "epub": "application/epub+zip", "rtf": "application/rtf",
    "webmanifest": "application/manifest+json; charset=utf-8",
    "ics": "text/calendar; charset=utf-8", "vtt": "text/vtt; charset=utf-8",
    "tsv": "text/tab-separated-values; charset=utf-8",
    "xhtml": "application/xhtml+xml; charset=utf-8",
    "yaml": "application/yaml; charset=utf-8", "yml": "application/yaml; charset=utf-8",
}


class TestTypesAll(Base):
    server_args = ("--types", "all")

    @classmethod
    def make_files(cls):
        files = {"t/f.%s" % ext: ("content of %s\n" % ext).encode() for ext in ALL_TYPES}
        files.update({
            "t/unknown.qqq": b"unknown ext\n",
            "t/noext": b"no extension\n",
            "t/archive.tar.gz": b"\x1f\x8b tar.gz\n",
            "t/UPPER.CSS": b"upper{}\n",
            "t/Mixed.Js": b"mixed();\n",
            "t/trailing.": b"trailing dot\n",
            "t/app.js": b"console.log('app');\n" * 50,
            "t/app.js.gz": gzip.compress(b"console.log('app');\n" * 50, mtime=0),
        })
        return files

    def check(self, name, ctype):
        r = self.get("/t/" + name)
        self.assert_full(r, self.files["t/" + name], ctype)
        self.assertIsNone(r.header("Content-Disposition"), "%s must be inline" % name)
        self.assert_validators(r, T0)

    def test_at_least_forty_types_inline(self):
        self.assertGreaterEqual(len(ALL_TYPES), 40)
        for ext, ctype in sorted(ALL_TYPES.items()):
            with self.subTest(ext=ext):
                self.check("f." + ext, ctype)

    def test_unknown_extensions_are_octet_stream_inline(self):
        for name in ("unknown.qqq", "noext", "trailing."):
            with self.subTest(name=name):
                self.check(name, OCTET)

    def test_extension_rules(self):
        self.check("archive.tar.gz", "application/gzip")
        self.check("UPPER.CSS", "text/css; charset=utf-8")
        self.check("Mixed.Js", "text/javascript; charset=utf-8")

    def test_precompressed_keeps_the_type(self):
        r = self.get("/t/app.js", {"Accept-Encoding": "gzip"})
        self.assert_full(r, self.files["t/app.js.gz"], "text/javascript; charset=utf-8")
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        r = self.get("/t/app.js.gz")
        self.assert_full(r, self.files["t/app.js.gz"], "application/gzip")
        self.assertIsNone(r.header("Content-Encoding"))

    def test_ranges_and_conditionals_under_all(self):
        data = self.files["t/f.pdf"]
        r = self.get("/t/f.pdf", {"Range": "bytes=2-5"})
        self.assert_single(r, data, 2, 5, "application/pdf")
        self.assert_304(self.get("/t/f.pdf", {"If-None-Match": r.header("ETag")}), r.header("ETag"), T0)


class TestWatchLimit(harness.ServerTest):
    """Issue 17 item 5: past the inotify watch limit the server serves every
    file correctly, opening on each request what it cannot cache, and says
    so once in its log. The server runs in a user namespace of its own whose
    limit (/proc/sys/user/max_inotify_watches) is 3, so the machine's
    fs.inotify.max_user_watches is left alone; skipped where user
    namespaces are not allowed."""
    class_server = False  # every test starts its own

    def limited_server(self, root, watches):
        wrapper = root + "-watches.sh"
        self.addCleanup(os.unlink, wrapper)
        write(wrapper, b'#!/bin/sh\nexec unshare --user --map-root-user sh -c '
                       b'\'echo "$WATCHES" >/proc/sys/user/max_inotify_watches && exec "$REAL_BIN" "$@"\''
                       b' sh "$@"\n')
        os.chmod(wrapper, 0o700)
        saved = harness.BIN
        harness.BIN = wrapper
        try:
            return self.start_server("--keepalive-max", "1000000", root=root, threads=1,
                                     access_log="off",
                                     extra_env={"REAL_BIN": saved, "WATCHES": str(watches)})
        except RuntimeError as e:
            self.skipTest("no user namespace with its own watch limit here: %s" % e)
        finally:
            harness.BIN = saved

    def test_serves_on_and_logs_once(self):
        files = {"a/x.html": b"x0\n"}
        for i in range(30):
            files["b/%d.html" % i] = b"page %d\n" % i
        root = self.fresh_root(files)
        srv = self.limited_server(root, 3)  # the root, a, a/x.html
        with srv:
            c = srv.connect()
            try:
                def get(url):
                    c.send(build_request("GET", url, srv.hostport()))
                    return c.read_response()
                for _ in range(2):
                    self.assertEqual(get("/a/x.html").body, b"x0\n")  # cached at the second
                warn = re.compile(r"inotify watch limit reached")
                bad = 0
                for rnd in range(3):
                    for i in range(30):
                        r = get("/b/%d.html" % i)
                        bad += (r.status, r.body) != (200, b"page %d\n" % i)
                self.assertEqual(bad, 0)
                self.assertIsNotNone(srv.wait_log(warn, timeout=5))
                # Not cached, so never stale: each request opens the file.
                for i in range(30):
                    write(os.path.join(root, "b/%d.html" % i), b"changed %d\n" % i)
                    r = get("/b/%d.html" % i)
                    bad += (r.status, r.body) != (200, b"changed %d\n" % i)
                self.assertEqual(bad, 0)
                # The file that was cached stays fresh too.
                write(os.path.join(root, "a/x.html"), b"x1\n")
                self.assertEqual(get("/a/x.html").body, b"x1\n")
            finally:
                c.close()
            srv.stop()
            self.assertEqual(sum(1 for line in srv.log if warn.search(line)), 1, srv.log)


if __name__ == "__main__":
    unittest.main()
