"""Uploads a client can use (issue 13): the Location of a 201 read back
byte for byte whatever --types says and wherever --uploads points, the
opt-in listing, application/*+json, CORS with --cors-origin, --upload-rate
(429) and --upload-quota (507) answered before the body, nosniff on every
response, and the 415 that names --types all."""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import harness
from harness import Server, build_request, make_root

LOCATION_RE = re.compile(r"^/uploads/(upload_\d{8}_\d{6}_[a-z0-9]{6,}\.json)$")
ORIGIN = "http://app.example:8000"


def upload_raw(srv, body, ctype="application/json", headers=None):
    h = {"Content-Type": ctype, "Content-Length": str(len(body))}
    h.update(headers or {})
    return build_request("POST", "/upload", srv.hostport(), h) + body


def post(srv, body, **kw):
    return srv.request(upload_raw(srv, body, **kw), "POST")


def stored_name(test, r):
    test.assertEqual(r.status, 201, r)
    m = LOCATION_RE.match(r.header("Location") or "")
    test.assertIsNotNone(m, r.header("Location"))
    return m.group(1)


def head_only(srv, head):
    """Sends a request head whose body never follows; returns the response
    the server gives without it (it must answer from the head alone)."""
    c = srv.connect()
    try:
        c.send(head)
        return c.read_response("POST")
    finally:
        c.close()


class UploadsDir:
    """An uploads directory outside the root, removed afterwards."""

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="mthttpd-uploads-")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


class OutsideUploads(harness.ServerTest):
    """A class server with --uploads in a directory of its own outside the
    root (cls.updir), filled by fill_uploads() before the server starts."""
    uploads_args = ()

    @classmethod
    def fill_uploads(cls):
        pass

    @classmethod
    def setUpClass(cls):
        cls.updir = tempfile.mkdtemp(prefix="mthttpd-uploads-")
        cls.server_args = ("--uploads", cls.updir) + tuple(cls.uploads_args)
        try:
            cls.fill_uploads()
            super().setUpClass()
        except BaseException:
            shutil.rmtree(cls.updir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.updir, ignore_errors=True)


class ReadBackOutsideRoot(OutsideUploads):
    """--uploads outside the root, default --types seed."""

    def test_location_returns_the_bytes_sent(self):
        bodies = [b'{"a":1}', b' [1, 2.5e3, "\xc3\xa9\xe2\x82\xac", null, {"k": [true, false]}] \n',
                  b'"' + b"x" * 70000 + b'"', b"0"]
        for body in bodies:
            with self.subTest(n=len(body)):
                name = stored_name(self, post(self.srv, body))
                r = self.srv.get("/uploads/" + name)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body, body)
                self.assertEqual(r.header("Content-Type"), "application/json")
                self.assertIsNone(r.header("Content-Disposition"))
                self.assertEqual(r.header("Content-Length"), str(len(body)))
                self.assertIsNotNone(r.header("ETag"))
                self.assertIsNotNone(r.header("Last-Modified"))
                self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
                with open(os.path.join(self.updir, name), "rb") as f:
                    self.assertEqual(f.read(), body)

    def test_head_conditionals_ranges(self):
        body = b'{"hello":"world","n":[1,2,3]}'
        name = stored_name(self, post(self.srv, body))
        path = "/uploads/" + name
        g = self.srv.get(path)
        h = self.srv.get(path, method="HEAD")
        self.assertEqual(h.status, 200)
        self.assertEqual(h.body, b"")
        self.assertEqual(h.header("Content-Length"), str(len(body)))
        self.assertEqual(h.header("ETag"), g.header("ETag"))
        r = self.srv.get(path, {"If-None-Match": g.header("ETag")})
        self.assertEqual(r.status, 304)
        r = self.srv.get(path, {"If-Modified-Since": g.header("Last-Modified")})
        self.assertEqual(r.status, 304)
        r = self.srv.get(path, {"If-Match": '"nope"'})
        self.assertEqual(r.status, 412)
        r = self.srv.get(path, {"Range": "bytes=2-6"})
        self.assertEqual(r.status, 206)
        self.assertEqual(r.body, body[2:7])
        self.assertEqual(r.header("Content-Range"), "bytes 2-6/%d" % len(body))
        r = self.srv.get(path, {"Range": "bytes=0-0,-1"})
        self.assertEqual(r.status, 206)
        self.assertIn(b"multipart/byteranges", r.head_raw)
        r = self.srv.get(path, {"Range": "bytes=9999-"})
        self.assertEqual(r.status, 416)

    def test_decoded_and_normalised_targets(self):
        body = b'{"x":true}'
        name = stored_name(self, post(self.srv, body))
        for target in ("/%75ploads/" + name, "/a/../uploads/" + name, "//uploads/" + name):
            with self.subTest(target=target):
                r = self.srv.get(target)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.body, body)

    def test_other_names_temp_files_and_links_are_404(self):
        name = stored_name(self, post(self.srv, b"[]"))
        for n, data in ((".upload-host-1-abcdefabcdef.tmp", b"{}"), ("notes.txt", b"hi"),
                        ("upload_2026.json", b"{}"), ("upload_20260101_000000_ABCDEF.json", b"{}")):
            with open(os.path.join(self.updir, n), "wb") as f:
                f.write(data)
        link = "upload_20260101_000000_link01.json"
        os.symlink(os.path.join(self.updir, name), os.path.join(self.updir, link))
        os.mkdir(os.path.join(self.updir, "upload_20260101_000000_dir001.json"))
        for target in ("/uploads/.upload-host-1-abcdefabcdef.tmp", "/uploads/notes.txt",
                       "/uploads/upload_2026.json", "/uploads/upload_20260101_000000_ABCDEF.json",
                       "/uploads/" + link, "/uploads/upload_20260101_000000_dir001.json",
                       "/uploads/upload_20260101_000000_absent.json", "/uploads/" + name + "/",
                       "/uploads/sub/" + name, "/uploads/"):
            with self.subTest(target=target):
                r = self.srv.get(target)
                self.assertEqual(r.status, 404, r)
                self.assertNotIn(b"{}", r.body)
                self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")

    def test_no_precompressed_sibling_from_the_root(self):
        # A file in the ROOT named like the upload plus .gz must not be
        # taken for its gzip representation.
        body = b'{"plain":1}'
        name = stored_name(self, post(self.srv, body))
        with open(os.path.join(self.srv.root, name + ".gz"), "wb") as f:
            f.write(b"\x1f\x8bNOT THE UPLOAD")
        r = self.srv.get("/uploads/" + name, {"Accept-Encoding": "gzip, br"})
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("Content-Encoding"))
        self.assertEqual(r.body, body)

    def test_415_names_the_option(self):
        r = self.srv.get("/style.css")
        self.assertEqual(r.status, 415)
        self.assertIn(b"--types all", r.body)
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")

    def test_nosniff_on_every_kind_of_response(self):
        cases = [self.srv.get("/"), self.srv.get("/missing.html"), self.srv.get("/upload"),
                 self.srv.get("/", method="OPTIONS"), self.srv.get("/", method="DELETE"),
                 self.srv.request(b"GARBAGE\r\n\r\n"), post(self.srv, b"{"),
                 post(self.srv, b"{}")]
        r = self.srv.get("/")
        cases.append(self.srv.get("/", {"If-None-Match": r.header("ETag")}))
        for r in cases:
            with self.subTest(status=r.status):
                self.assertEqual(r.all("X-Content-Type-Options"), ["nosniff"])

    def test_listing_is_off_by_default(self):
        r = self.srv.get("/uploads/")
        self.assertEqual(r.status, 404)


class ReadBackInsideRoot(harness.ServerTest):
    """The default uploads dir ROOT/uploads under --types seed: .json is
    not a seed type, yet the Location resolves."""

    def test_default_uploads_dir(self):
        body = b'{"inside":"root"}'
        name = stored_name(self, post(self.srv, body))
        self.assertTrue(os.path.exists(os.path.join(self.srv.root, "uploads", name)))
        r = self.srv.get("/uploads/" + name)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, body)
        self.assertEqual(r.header("Content-Type"), "application/json")
        # Other files under /uploads/ are not served, even when in the root.
        with open(os.path.join(self.srv.root, "uploads", "readme.html"), "wb") as f:
            f.write(b"<p>hi</p>")
        self.assertEqual(self.srv.get("/uploads/readme.html").status, 404)


class MediaTypes(harness.ServerTest):
    def test_json_and_suffix_types(self):
        body = b'{"data":{"type":"x","id":"1"}}'
        for ct in ("application/json", "application/vnd.api+json",
                   "application/vnd.api+json; charset=utf-8", "Application/Problem+JSON",
                   "application/ld+json;profile=\"http://www.w3.org/ns/json-ld#compacted\"",
                   "application/geo+json ; charset=UTF-8"):
            with self.subTest(ct=ct):
                name = stored_name(self, post(self.srv, body, ctype=ct))
                r = self.srv.get("/uploads/" + name)
                self.assertEqual(r.body, body)
                self.assertEqual(r.header("Content-Type"), "application/json")

    def test_other_types_415(self):
        for ct in ("application/+json", "application/jsonx", "text/json", "application/json-seq",
                   "application/x-json", "text/plain+json", "application/vnd.api+json5",
                   "application/json/x", "application/ json", "application/xml"):
            with self.subTest(ct=ct):
                r = post(self.srv, b"{}", ctype=ct)
                self.assertEqual(r.status, 415, r)
                self.assertIn(b"+json", r.body)


class Listing(OutsideUploads):
    uploads_args = ("--upload-index",)

    @classmethod
    def fill_uploads(cls):
        # Five documents with known, distinct modification times, plus
        # files that are no stored upload.
        cls.names = []
        for i in range(5):
            n = "upload_20260101_00000%d_abc%03d.json" % (i, i)
            with open(os.path.join(cls.updir, n), "wb") as f:
                f.write(b"[" + b"1," * i + b"0]")
            os.utime(os.path.join(cls.updir, n), (1767225600 + i * 60, 1767225600 + i * 60))
            cls.names.append(n)
        for n in (".upload-h-1-aaaaaaaaaaaa.tmp", "other.json", "upload_x.json"):
            with open(os.path.join(cls.updir, n), "wb") as f:
                f.write(b"{}")

    def page(self, query=""):
        r = self.srv.get("/uploads/" + query)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"), "application/json")
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
        return json.loads(r.body)

    def test_newest_first_with_fields(self):
        v = self.page()
        self.assertEqual([e["name"] for e in v], self.names[::-1])
        e = v[0]
        self.assertEqual(set(e), {"name", "bytes", "modified"})
        self.assertEqual(e["bytes"], os.path.getsize(os.path.join(self.updir, self.names[4])))
        self.assertEqual(e["modified"], "2026-01-01T00:04:00Z")

    def test_paging(self):
        self.assertEqual([e["name"] for e in self.page("?limit=2")], self.names[:2:-1][:2])
        self.assertEqual([e["name"] for e in self.page("?limit=2&after=" + self.names[3])],
                         [self.names[2], self.names[1]])
        self.assertEqual([e["name"] for e in self.page("?after=" + self.names[1])], [self.names[0]])
        self.assertEqual(self.page("?after=" + self.names[0]), [])
        self.assertEqual(len(self.page("?limit=1000")), 5)
        self.assertEqual(len(self.page("?limit=1")), 1)

    def test_after_naming_nothing_is_an_empty_page(self):
        for q in ("?after=upload_20990101_000000_zzzzzz.json", "?after=nothing", "?after=",
                  "?after=other.json", "?after=%2e%2e", "?after=" + "x" * 300):
            with self.subTest(q=q):
                self.assertEqual(self.page(q), [])

    def test_bad_limit_400(self):
        for q in ("?limit=0", "?limit=1001", "?limit=abc", "?limit=", "?limit=-1", "?limit=1e3",
                  "?limit=99999999999999999999", "?limit=5&limit=x"):
            with self.subTest(q=q):
                r = self.srv.get("/uploads/" + q)
                self.assertEqual(r.status, 400, r)
                self.assertIn(b"limit", r.body)

    def test_head_and_new_uploads_appear(self):
        h = self.srv.get("/uploads/", method="HEAD")
        self.assertEqual(h.status, 200)
        self.assertEqual(h.body, b"")
        name = stored_name(self, post(self.srv, b'{"new":1}'))
        self.addCleanup(os.remove, os.path.join(self.updir, name))  # the other tests count five
        v = self.page("?limit=1")
        self.assertEqual(v[0]["name"], name)
        self.assertEqual(v[0]["bytes"], 9)


class ListingToken(unittest.TestCase):
    def test_listing_requires_the_token(self):
        with UploadsDir() as d, Server("--uploads", d, "--upload-index", "--upload-token", "tok") as srv:
            r = srv.get("/uploads/")
            self.assertEqual(r.status, 401)
            self.assertIn("Bearer", r.header("WWW-Authenticate"))
            r = srv.get("/uploads/", {"Authorization": "Bearer wrong"})
            self.assertEqual(r.status, 401)
            r = srv.get("/uploads/", {"Authorization": "Bearer tok"})
            self.assertEqual(r.status, 200)
            self.assertEqual(json.loads(r.body), [])


class Cors(harness.ServerTest):
    server_args = ("--cors-origin", ORIGIN, "--cors-origin", "https://other.example")

    def preflight(self, path, origin, method="POST"):
        return self.srv.get(path, {"Origin": origin, "Access-Control-Request-Method": method,
                                   "Access-Control-Request-Headers": "content-type, authorization"},
                            method="OPTIONS")

    def test_preflight_upload(self):
        r = self.preflight("/upload", ORIGIN)
        self.assertEqual(r.status, 204)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), ORIGIN)
        self.assertIn("POST", r.header("Access-Control-Allow-Methods"))
        self.assertEqual(r.header("Access-Control-Allow-Headers"), "Content-Type, Authorization")
        self.assertTrue(int(r.header("Access-Control-Max-Age")) > 0)
        self.assertIn("Origin", r.all("Vary"))
        self.assertEqual(r.body, b"")

    def test_preflight_uploads_path(self):
        r = self.preflight("/uploads/upload_20260101_000000_abcdef.json", "https://other.example", "GET")
        self.assertEqual(r.status, 204)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), "https://other.example")
        self.assertIn("GET", r.header("Access-Control-Allow-Methods"))

    def test_actual_upload_and_read_back(self):
        body = b'{"cross":"origin"}'
        r = post(self.srv, body, headers={"Origin": ORIGIN})
        name = stored_name(self, r)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), ORIGIN)
        self.assertEqual(r.header("Access-Control-Expose-Headers"), "Location")
        self.assertIn("Origin", r.all("Vary"))
        g = self.srv.get("/uploads/" + name, {"Origin": ORIGIN})
        self.assertEqual(g.body, body)
        self.assertEqual(g.header("Access-Control-Allow-Origin"), ORIGIN)
        # Refusals carry it too, so the page can read the message.
        r = post(self.srv, b'{"a":', headers={"Origin": ORIGIN})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), ORIGIN)

    def test_origin_not_listed_gets_nothing(self):
        for origin in ("http://evil.example", "http://app.example:8001", "http://app.example",
                       "null", ORIGIN + "/"):
            with self.subTest(origin=origin):
                r = self.preflight("/upload", origin)
                self.assertEqual(r.status, 204)
                self.assertEqual([k for k, _ in r.headers if k.lower().startswith("access-control")], [])
                r = post(self.srv, b"{}", headers={"Origin": origin})
                self.assertEqual(r.status, 201)
                self.assertIsNone(r.header("Access-Control-Allow-Origin"))

    def test_case_insensitive_scheme_and_host(self):
        r = self.preflight("/upload", "HTTP://APP.example:8000")
        self.assertIsNotNone(r.header("Access-Control-Allow-Origin"))

    def test_no_stale_origin_on_keep_alive(self):
        c = self.srv.connect()
        try:
            c.send(build_request("GET", "/", self.srv.hostport(), {"Origin": ORIGIN}))
            r1 = c.read_response()
            c.send(build_request("GET", "/", self.srv.hostport()))
            r2 = c.read_response()
        finally:
            c.close()
        self.assertEqual(r1.header("Access-Control-Allow-Origin"), ORIGIN)
        self.assertIsNone(r2.header("Access-Control-Allow-Origin"))


class CorsOff(harness.ServerTest):
    def test_nothing_changes_without_the_option(self):
        r = self.srv.get("/upload", {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
                         method="OPTIONS")
        self.assertEqual(r.status, 204)
        self.assertEqual(r.header("Allow"), "POST, OPTIONS")
        self.assertEqual([k for k, _ in r.headers if k.lower().startswith("access-control")], [])
        self.assertEqual(r.all("Vary"), [])
        r = post(self.srv, b"{}", headers={"Origin": ORIGIN})
        self.assertEqual([k for k, _ in r.headers if k.lower().startswith("access-control")], [])


class CorsWildcard(harness.ServerTest):
    server_args = ("--cors-origin", "*")

    def test_star(self):
        r = self.srv.get("/upload", {"Origin": "http://anything.example:1",
                                     "Access-Control-Request-Method": "POST"}, method="OPTIONS")
        self.assertEqual(r.header("Access-Control-Allow-Origin"), "*")
        self.assertEqual(r.header("Access-Control-Allow-Headers"), "Content-Type, Authorization")
        r = self.srv.get("/index.html")
        self.assertIsNone(r.header("Access-Control-Allow-Origin"))  # no Origin sent


class CorsOriginOption(unittest.TestCase):
    def run_bin(self, *args):
        p = subprocess.run([harness.BIN, "--port", "0", "--root", make_root()] + list(args),
                           capture_output=True, timeout=harness.TIMEOUT)
        return p.returncode, p.stderr.decode()

    def test_bad_origins_exit_2(self):
        for bad in ("example.com", "http://x/", "http://x:99999", "ftp//x", "http://", "http://a b",
                    "http://x:", "http://user@x", "*.example.com", "http://x/path", "", "1http://x",
                    "http://[::1", "http://x?q"):
            with self.subTest(origin=bad):
                rc, err = self.run_bin("--cors-origin", bad)
                self.assertEqual(rc, 2, err)
                self.assertIn("--cors-origin", err)
                self.assertEqual(len(err.strip().splitlines()), 1)

    def test_good_origins_start(self):
        with Server("--cors-origin", "http://[::1]:8080", "--cors-origin", "https://a-b.c.example",
                    "--cors-origin", "http://127.0.0.1") as srv:
            r = srv.get("/", {"Origin": "http://[::1]:8080"})
            self.assertEqual(r.header("Access-Control-Allow-Origin"), "http://[::1]:8080")


class RateLimit(unittest.TestCase):
    def test_429_with_retry_after_before_the_body(self):
        with UploadsDir() as d, Server("--uploads", d, "--upload-rate", "3", "--threads", "4") as srv:
            for i in range(3):
                stored_name(self, post(srv, b"[%d]" % i))
            head = build_request("POST", "/upload", srv.hostport(),
                                 {"Content-Type": "application/json", "Content-Length": "1000"})
            r = head_only(srv, head)  # the body is never sent
            self.assertEqual(r.status, 429, r)
            ra = int(r.header("Retry-After"))
            self.assertTrue(1 <= ra <= 20, ra)  # a token comes back every 20 s
            self.assertEqual(len([n for n in os.listdir(d) if n.endswith(".json")]), 3)
            # Reading is not limited.
            self.assertEqual(srv.get("/").status, 200)


class Quota(unittest.TestCase):
    def test_507_before_the_body_and_on_commit(self):
        with UploadsDir() as d:
            with open(os.path.join(d, "upload_20260101_000000_seed01.json"), "wb") as f:
                f.write(b'"' + b"a" * 58 + b'"')  # 60 bytes, measured at start
            with Server("--uploads", d, "--upload-quota", "100") as srv:
                self.assertTrue(srv.wait_log(r"holds 60 of 100 bytes"))
                stored_name(self, post(srv, b'"' + b"a" * 28 + b'"'))  # 30 bytes: 90 used
                head = build_request("POST", "/upload", srv.hostport(),
                                     {"Content-Type": "application/json", "Content-Length": "11"})
                r = head_only(srv, head)
                self.assertEqual(r.status, 507, r)
                self.assertIn(b"quota", r.body)
                # Chunked: the size is known only as it arrives.
                body = b"5\r\n[1,2]\r\n8\r\n,3,4,5,6\r\n0\r\n\r\n"
                raw = build_request("POST", "/upload", srv.hostport(),
                                    {"Content-Type": "application/json",
                                     "Transfer-Encoding": "chunked"}) + body
                r = srv.request(raw, "POST")
                self.assertEqual(r.status, 507, r)
                stored_name(self, post(srv, b"[1,2,3,45]"))  # exactly 100
                self.assertEqual(post(srv, b"1").status, 507)
                files = [n for n in os.listdir(d) if not n.startswith(".")]
                self.assertEqual(len(files), 3, files)
                self.assertEqual(sum(os.path.getsize(os.path.join(d, n)) for n in files), 100)


class SampleSite(unittest.TestCase):
    def test_upload_page_is_served(self):
        root = os.path.join(harness.TOP, "resources")
        with UploadsDir() as d, Server("--uploads", d, root=root) as srv:
            r = srv.get("/upload.html")
            self.assertEqual(r.status, 200)
            self.assertTrue(r.header("Content-Type").startswith("text/html"))
            self.assertIn(b"fetch(", r.body)
            self.assertIn(b'type="file"', r.body)
            self.assertIn(b"<textarea", r.body)


if __name__ == "__main__":
    unittest.main()
