"""Compression on the fly (issue 16): gzip and br for text, compressed once.

Every compressed body is decoded and compared with the file byte for byte:
gzip with Python's gzip module, brotli with a small helper built here
against libbrotlidec (the standard library has no brotli).

identity;q=0 with nothing else acceptable: the identity is sent. RFC 9110
§12.5.3 lets a server answer a request whose Accept-Encoding matches none
of the codings it has either with 406 or by disregarding the field
(§12.1); like nginx, h2o and lighttpd, mthttpd disregards it, which never
breaks a client that sent an odd field."""
import gzip
import os
import re
import subprocess
import tempfile
import time
import unittest

import harness
from harness import build_request

T0_NS = 1_600_000_000_123_456_789
STRONG_ETAG = re.compile(r'\A"[\x21\x23-\x7e]*"\Z')


def text(n, seed=1):
    """n bytes of page-like text that compresses well but not trivially."""
    words = [b"<div class=\"row\">", b"</div>\n", b"lorem ", b"ipsum ", b"<a href=\"/x\">",
             b"</a>", b"dolor ", b"sit ", b"amet, ", b"consectetur "]
    out = bytearray()
    x = seed
    while len(out) < n:
        x = (x * 1103515245 + 12345) & 0x7fffffff
        out += words[(x >> 16) % len(words)]
        if (x >> 8) % 7 == 0:
            out += b"%d " % (x % 100000)
    return bytes(out[:n])


SITE = {
    "index.html": text(3000, 1),
    "about.html": text(900, 2),
    "tiny.html": b"<p>small</p>\n" * 10,          # 130 bytes: not worth it
    "empty.html": b"",
    "style.css": (b"body { margin: 0; padding: 0 }\n.row { display: flex }\n" * 40),
    "app.js": (b"function f(a, b) { return a + b; }\nconsole.log(f(1, 2));\n" * 30),
    "data.json": (b'{"name": "value", "list": [1, 2, 3], "nested": {"k": true}}\n' * 20),
    "logo.svg": b'<svg xmlns="http://www.w3.org/2000/svg">' + b'<rect x="1" y="2"/>' * 50 + b"</svg>\n",
    "feed.xml": b"<?xml version=\"1.0\"?><feed>" + b"<entry><t>x</t></entry>" * 40 + b"</feed>\n",
    "notes.txt": text(2000, 3),
    "image.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
    "pack.zip": b"PK\x03\x04" + bytes(range(256)) * 8,
    "pre.html": text(2000, 4),
    "pre.html.gz": b"\x1f\x8b precompressed stand-in",
    "page.bin": text(2000, 5),
}
TEXT = ["index.html", "about.html", "style.css", "app.js", "data.json", "logo.svg",
        "feed.xml", "notes.txt"]


def write(root, rel, data, mtime_ns=T0_NS):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)
    os.utime(p, ns=(mtime_ns, mtime_ns))


_unbrotli = None


def unbrotli(data):
    global _unbrotli
    if _unbrotli is None:
        d = tempfile.mkdtemp(prefix="mthttpd-unbrotli-")
        exe = os.path.join(d, "unbrotli")
        src = os.path.join(harness.HERE, "unbrotli.c")
        subprocess.run(["cc", "-O1", "-o", exe, src, "-lbrotlidec"], check=True, timeout=60)
        _unbrotli = exe
    p = subprocess.run([_unbrotli], input=data, capture_output=True, timeout=harness.TIMEOUT)
    if p.returncode != 0:
        raise AssertionError("not a valid brotli stream (%d bytes)" % len(data))
    return p.stdout


def decode(r):
    enc = r.header("Content-Encoding")
    if enc == "gzip":
        return gzip.decompress(r.body)
    if enc == "br":
        return unbrotli(r.body)
    assert enc is None, enc
    return r.body


class Base(harness.ServerTest):
    server_args = ("--types", "all")

    @classmethod
    def prepare_root(cls):
        for rel, data in SITE.items():
            write(cls.root, rel, data)

    def get(self, path, ae=None, method="GET", **more):
        h = dict(more)
        if ae is not None:
            h["Accept-Encoding"] = ae
        return self.srv.get(path, headers=h, method=method)

    def req(self, conn, path, headers, method="GET"):
        conn.send(build_request(method, path, self.srv.hostport(), headers))
        return conn.read_response(method=method)

    def assert_encoded(self, r, enc, data):
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Encoding"), enc, r)
        self.assertEqual(r.header("Vary"), "Accept-Encoding")
        self.assertEqual(r.header("Content-Length"), str(len(r.body)))
        self.assertRegex(r.header("ETag"), STRONG_ETAG)
        self.assertTrue(r.header("ETag").endswith("-%s\"" % ("gz" if enc == "gzip" else "br")), r)
        self.assertLess(len(r.body), len(data))
        self.assertTrue(decode(r) == data, "decoded %s body differs" % enc)

    def assert_identity(self, r, data):
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.header("Content-Encoding"), r)
        self.assertEqual(r.header("Vary"), "Accept-Encoding")
        self.assertTrue(r.body == data, "identity body differs")


class TestCodecs(Base):
    def test_text_files_round_trip(self):
        for rel in TEXT:
            for ae, enc in (("gzip", "gzip"), ("br", "br"), ("gzip, br", "br"),
                            ("gzip, deflate, br, zstd", "br")):
                with self.subTest(rel=rel, ae=ae):
                    self.assert_encoded(self.get("/" + rel, ae), enc, SITE[rel])

    def test_same_bytes_every_time(self):
        # Compressed once: the second response is the cached first.
        a = self.get("/about.html", "br")
        b = self.get("/about.html", "br")
        self.assert_encoded(b, "br", SITE["about.html"])
        self.assertEqual(a.body, b.body)
        self.assertEqual(a.header("ETag"), b.header("ETag"))

    def test_etag_is_identity_plus_suffix(self):
        ident = self.get("/index.html").header("ETag")
        self.assertEqual(self.get("/index.html", "gzip").header("ETag"), ident[:-1] + '-gz"')
        self.assertEqual(self.get("/index.html", "br").header("ETag"), ident[:-1] + '-br"')

    def test_not_worth_it(self):
        for rel in ("tiny.html", "empty.html", "image.png", "pack.zip", "page.bin"):
            with self.subTest(rel=rel):
                self.assert_identity(self.get("/" + rel, "gzip, br"), SITE[rel])

    def test_no_accept_encoding(self):
        self.assert_identity(self.get("/index.html"), SITE["index.html"])
        self.assert_identity(self.get("/index.html", ""), SITE["index.html"])

    def test_head_matches_get(self):
        for ae in ("gzip", "br"):
            g = self.get("/style.css", ae)
            h = self.get("/style.css", ae, method="HEAD")
            self.assertEqual(h.status, 200)
            self.assertEqual(h.body, b"")
            for f in ("Content-Encoding", "Content-Length", "ETag", "Last-Modified", "Vary",
                      "Content-Type"):
                self.assertEqual(h.header(f), g.header(f), f)

    def test_head_first(self):
        # A HEAD that comes first compresses too, and GET then agrees.
        h = self.get("/feed.xml", "gzip", method="HEAD")
        g = self.get("/feed.xml", "gzip")
        self.assertEqual(h.header("Content-Length"), g.header("Content-Length"))
        self.assert_encoded(g, "gzip", SITE["feed.xml"])


class TestNegotiation(Base):
    CASES = [
        ("gzip;q=0, br;q=0", None),
        ("br;q=0, gzip", "gzip"),
        ("gzip;q=0.5, br;q=0.8", "br"),
        ("gzip, br;q=0.5", "gzip"),
        ("gzip;q=0.5, br;q=0.5", "br"),
        ("*", "br"),
        ("*;q=0", None),
        ("*, br;q=0", "gzip"),
        ("identity", None),
        ("deflate", None),
        ("GZIP", "gzip"),
        ("gzip;q=0.001", "gzip"),
        ("gzip;q=1.5", None),        # malformed: skipped
        ("identity;q=0", None),      # nothing acceptable: identity (see the module text)
        ("identity;q=0, *;q=0", None),
        ("gzip, identity;q=0", "gzip"),
    ]

    def test_q_values(self):
        data = SITE["index.html"]
        for ae, enc in self.CASES:
            with self.subTest(ae=ae):
                r = self.get("/index.html", ae)
                if enc is None:
                    self.assert_identity(r, data)
                else:
                    self.assert_encoded(r, enc, data)

    def test_several_lines(self):
        head = ("GET /index.html HTTP/1.1\r\nHost: %s\r\nAccept-Encoding: gzip;q=0.2\r\n"
                "Accept-Encoding: br;q=0.1\r\n\r\n" % self.srv.hostport())
        r = self.srv.request(head.encode(), "GET")
        self.assert_encoded(r, "gzip", SITE["index.html"])

    def test_no_transform(self):
        for cc in ("no-transform", "max-age=0, no-transform", "No-Transform"):
            with self.subTest(cc=cc):
                r = self.get("/index.html", "gzip, br", **{"Cache-Control": cc})
                self.assert_identity(r, SITE["index.html"])
        r = self.get("/index.html", "gzip", **{"Cache-Control": "no-cache"})
        self.assert_encoded(r, "gzip", SITE["index.html"])

    def test_range_stays_identity(self):
        data = SITE["index.html"]
        r = self.get("/index.html", "gzip, br", Range="bytes=10-99")
        self.assertEqual(r.status, 206, r)
        self.assertIsNone(r.header("Content-Encoding"))
        self.assertEqual(r.header("Content-Range"), "bytes 10-99/%d" % len(data))
        self.assertEqual(r.body, data[10:100])
        self.assertEqual(r.header("ETag"), self.get("/index.html").header("ETag"))

    def test_errors_not_compressed(self):
        r = self.get("/missing.html", "gzip, br")
        self.assertEqual(r.status, 404)
        self.assertIsNone(r.header("Content-Encoding"))

    def test_precompressed_sibling_wins(self):
        r = self.get("/pre.html", "gzip")
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        self.assertEqual(r.body, SITE["pre.html.gz"])
        # No .br sibling: br is made on the fly.
        self.assert_encoded(self.get("/pre.html", "br"), "br", SITE["pre.html"])
        # Both acceptable, br preferred but only .gz exists: the sibling.
        self.assertEqual(self.get("/pre.html", "br;q=0.9, gzip").body, SITE["pre.html.gz"])


class TestConditional(Base):
    def test_304_per_representation(self):
        gz = self.get("/app.js", "gzip")
        br = self.get("/app.js", "br")
        ident = self.get("/app.js")
        tags = {"gzip": gz.header("ETag"), "br": br.header("ETag"), None: ident.header("ETag")}
        self.assertEqual(len(set(tags.values())), 3, tags)
        for ae in ("gzip", "br", None):
            for tag_of in ("gzip", "br", None):
                with self.subTest(ae=ae, inm=tag_of):
                    r = self.get("/app.js", ae, **{"If-None-Match": tags[tag_of]})
                    if ae == tag_of:
                        self.assertEqual(r.status, 304, r)
                        self.assertEqual(r.header("ETag"), tags[ae])
                        self.assertEqual(r.header("Vary"), "Accept-Encoding")
                        self.assertIsNone(r.header("Content-Length"))
                    else:
                        self.assertEqual(r.status, 200, r)
                        self.assertEqual(r.header("ETag"), tags[ae])
                        self.assertTrue(decode(r) == SITE["app.js"])

    def test_if_none_match_list(self):
        gz = self.get("/app.js", "gzip").header("ETag")
        r = self.get("/app.js", "gzip", **{"If-None-Match": '"nope", %s' % gz})
        self.assertEqual(r.status, 304)

    def test_if_match_per_representation(self):
        gz = self.get("/app.js", "gzip").header("ETag")
        self.assertEqual(self.get("/app.js", "gzip", **{"If-Match": gz}).status, 200)
        self.assertEqual(self.get("/app.js", "br", **{"If-Match": gz}).status, 412)

    def test_if_modified_since(self):
        r = self.get("/app.js", "gzip", **{"If-Modified-Since": "Sun, 13 Sep 2020 12:26:40 GMT"})
        self.assertEqual(r.status, 304)
        self.assertTrue(r.header("ETag").endswith('-gz"'))


class TestChanges(Base):
    def test_changed_file(self):
        # On one keep-alive connection, no sleep: the new bytes, never the
        # old compressed ones.
        c = self.srv.connect()
        try:
            old = text(5000, 10)
            write(self.root, "changing.html", old, T0_NS)
            for enc in ("gzip", "br"):
                r = self.req(c, "/changing.html", {"Accept-Encoding": enc})
                self.assert_encoded(r, enc, old)
            tags = set()
            for i, n in enumerate((5000, 4000, 6000)):
                new = text(n, 20 + i)
                write(self.root, "changing.html", new, T0_NS + (i + 1) * 10**9)
                for enc in ("gzip", "br"):
                    r = self.req(c, "/changing.html", {"Accept-Encoding": enc})
                    self.assert_encoded(r, enc, new)
                    tags.add(r.header("ETag"))
            self.assertEqual(len(tags), 6)
        finally:
            c.close()

    def test_same_size_same_second(self):
        # Same size, a modification time 1 ns later: still a new key.
        c = self.srv.connect()
        try:
            a, b = text(3000, 30), text(3000, 31)
            write(self.root, "ns.html", a, T0_NS)
            self.assert_encoded(self.req(c, "/ns.html", {"Accept-Encoding": "gzip"}), "gzip", a)
            write(self.root, "ns.html", b, T0_NS + 1)
            self.assert_encoded(self.req(c, "/ns.html", {"Accept-Encoding": "gzip"}), "gzip", b)
        finally:
            c.close()

    def test_large_file_in_background(self):
        # 5 MiB: compressed on the background thread. Until it is done the
        # identity is sent (byte-exact too); then the compressed bytes.
        data = text(5 * 1024 * 1024, 40)
        write(self.root, "big.html", data)
        for enc in ("gzip", "br"):
            deadline = time.monotonic() + 60
            while True:
                r = self.get("/big.html", enc)
                if r.header("Content-Encoding") is not None or time.monotonic() > deadline:
                    break
                self.assert_identity(r, data)
                time.sleep(0.02)  # polling a condition, bounded by the deadline
            self.assert_encoded(r, enc, data)


class TestSeedTypes(Base):
    server_args = ()  # --types seed: only HTML is compressed

    def test_only_html(self):
        self.assert_encoded(self.get("/index.html", "gzip"), "gzip", SITE["index.html"])
        r = self.get("/notes.txt", "gzip, br")
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("Content-Encoding"))
        self.assertEqual(r.body, SITE["notes.txt"])


class TestOff(Base):
    server_args = ("--types", "all", "--compress", "off")

    def test_identity(self):
        for rel in TEXT:
            self.assert_identity(self.get("/" + rel, "gzip, br"), SITE[rel])


class TestLimits(Base):
    server_args = ("--types", "all", "--compress-max", "1k", "--compress-level-gzip", "1",
                   "--compress-level-br", "11", "--compress-cache", "64k")

    def test_over_max(self):
        self.assert_identity(self.get("/index.html", "gzip, br"), SITE["index.html"])
        self.assert_encoded(self.get("/about.html", "gzip"), "gzip", SITE["about.html"])
        self.assert_encoded(self.get("/about.html", "br"), "br", SITE["about.html"])

    def test_bad_options(self):
        for args in (["--compress", "yes"], ["--compress-level-gzip", "0"],
                     ["--compress-level-br", "12"], ["--compress-cache", "x"],
                     ["--compress-max", "-1"]):
            with self.subTest(args=args):
                p = subprocess.run([harness.BIN, "--port", "0"] + args, stdin=subprocess.DEVNULL,
                                   capture_output=True, timeout=harness.TIMEOUT)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(args[0], p.stderr.decode())


if __name__ == "__main__":
    unittest.main()
