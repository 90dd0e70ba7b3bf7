"""GET and HEAD of files (SPEC §3, README "Behaviour details"): index files,
redirects, the seed type policy, downloads, confinement (a traversal matrix
over raw sockets, symbolic links, dot-files), special files, encoded names."""
import hashlib
import os
import random
import re
import shutil
import socket
import stat
import tempfile
import unittest
import urllib.parse

import harness
from harness import ServerTest, build_request

HTML = "text/html; charset=utf-8"
OCTET = "application/octet-stream"
SECRET = b"TOPSECRET-7f3a9c1e-outside-the-root"
OUT_SECRET = b"OUTSIDE-DIR-SECRET-52b1d0"
DOT_SECRET = b"DOTFILE-SECRET-aa81c3"
PASSWD_MARK = b"root:x:0:0"


def _write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def _sha(b):
    return hashlib.sha256(b).hexdigest()


class Tree:
    """base/ holds root/ (the document root), secret.txt and secret.html
    just beside it, and outside/ (a directory outside the root)."""

    def __init__(self):
        self.base = tempfile.mkdtemp(prefix="mthttpd-files-")
        os.chmod(self.base, 0o755)
        self.root = os.path.join(self.base, "root")
        self.files = {}
        _write(os.path.join(self.base, "secret.txt"), SECRET + b"\n")
        _write(os.path.join(self.base, "secret.html"), SECRET + b"\n")
        _write(os.path.join(self.base, "outside", "page.html"), OUT_SECRET + b"\n")
        _write(os.path.join(self.base, "outside", "index.html"), OUT_SECRET + b"\n")
        _write(os.path.join(self.base, "outside", "x.txt"), OUT_SECRET + b"\n")
        rnd = os.urandom
        content = {
            "index.html": b"<!doctype html><title>home</title><p>home</p>\n",
            "about.html": b"<!doctype html><title>about</title>\n",
            "sample.txt": b"hello sample\n",
            "image.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
            "photo.jpg": b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4,
            "pic.jpeg": b"\xff\xd8\xff\xe1jpeg-ext",
            "UPPER.TXT": b"upper txt\n",
            "PIC.PNG": b"\x89PNG upper",
            "Photo.JPEG": b"\xff\xd8 upper jpeg",
            "Mixed.JpG": b"\xff\xd8 mixed jpg",
            "PAGE.HTML": b"<p>upper html</p>\n",
            "Other.Htm": b"<p>mixed htm</p>\n",
            "sub/index.html": b"<p>sub index</p>\n",
            "sub/page.htm": b"<p>sub page</p>\n",
            "sub/nested/index.html": b"<p>nested</p>\n",
            "emptydir/readme.txt": b"no index here\n",
            "my dir/index.html": b"<p>spaced dir</p>\n",
            "dir.txt/index.html": b"<p>dir with ext</p>\n",
            "data.json": b'{"a":1}\n',
            "style.css": b"body{}\n",
            "prog.exe": b"MZ\x90\x00",
            "noext": b"no extension\n",
            "archive.tar.gz": b"\x1f\x8b",
            "page.html.bak": b"backup\n",
            "trailingdot.": b"dot\n",
            "txt": b"named txt\n",
            "caf\u00e9.html": "<p>caf\u00e9</p>\n".encode(),
            "with space.html": b"<p>with space</p>\n",
            "my file.txt": b"spaced download\n",
            'a"b.txt': b"quote in name\n",
            "caf\u00e9.txt": b"utf-8 download name\n",
            "evil\r\nSet-Cookie: x=1.txt": b"header injection\n",
            "a+b.html": b"<p>plus</p>\n",
            ".env": DOT_SECRET + b" env\n",
            ".hidden.html": DOT_SECRET + b" hidden html\n",
            ".git/config": DOT_SECRET + b" git config\n",
            ".git/index.html": DOT_SECRET + b" git index\n",
            "sub/.hidden": DOT_SECRET + b" sub hidden\n",
            "sub/.hidden.txt": DOT_SECRET + b" sub hidden txt\n",
            # > 1 MiB, not a multiple of any page or buffer size
            "big.png": rnd(1024 * 1024 + 512 * 1024 + 7),
            "big5.txt": rnd(5 * 1024 * 1024),
        }
        for i in range(4):
            content["p%d.html" % i] = ("<p>page %d</p>\n" % i).encode()
        for rel, data in content.items():
            _write(os.path.join(self.root, rel), data)
            self.files[rel] = data
        os.chmod(self.root, 0o755)

        def link(name, target):
            p = os.path.join(self.root, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            os.symlink(target, p)

        # links that leave the root
        link("link_secret.txt", "../secret.txt")
        link("link_secret.html", "../secret.html")
        link("link_secret_abs.txt", os.path.join(self.base, "secret.txt"))
        link("link_passwd.txt", "/etc/passwd")
        link("link_passwd.html", "/etc/passwd")
        link("link_outdir", "../outside")
        link("link_outdir_abs", os.path.join(self.base, "outside"))
        link("link_rootdir", "/")
        link("sub/up.txt", "../../secret.txt")
        link("chain1.txt", "chain2.txt")
        link("chain2.txt", "../secret.txt")
        # links that stay inside
        link("link_inside.html", "about.html")
        link("link_inside_sub.htm", "sub/page.htm")
        link("link_insidedir", "sub")
        link("sub/link_up_inside.html", "../about.html")
        link("dangling.html", "does-not-exist.html")
        # links that end inside but that RESOLVE_BENEATH alone would refuse
        link("link_abs_inside.html", os.path.join(self.root, "about.html"))
        link("link_abs_insidedir", os.path.join(self.root, "sub"))
        link("link_out_and_in.html", "../root/about.html")
        link("link_abs_missing_out.txt", os.path.join(self.base, "no-such-file.txt"))
        link("loop_a.html", "loop_b.html")
        link("loop_b.html", "loop_a.html")
        # a directory whose name looks like a host
        _write(os.path.join(self.root, "evil.example", "index.html"), b"<p>not a host</p>\n")

        # special files
        os.mkfifo(os.path.join(self.root, "fifo.txt"))
        os.mkfifo(os.path.join(self.root, "fifo.html"))
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind(os.path.join(self.root, "sock.txt"))
        self.have_dev = True
        try:
            os.mknod(os.path.join(self.root, "dev.txt"), stat.S_IFCHR | 0o644, os.makedev(1, 3))
            os.mknod(os.path.join(self.root, "zero.html"), stat.S_IFCHR | 0o644, os.makedev(1, 5))
        except OSError:
            self.have_dev = False

    def cleanup(self):
        self.unix.close()
        shutil.rmtree(self.base, ignore_errors=True)


def raw_get(srv, target, method=b"GET", version=b"HTTP/1.1", extra=b""):
    """Sends one request with target given as raw bytes on a new connection
    and returns the Response."""
    if isinstance(target, str):
        target = target.encode("latin-1")
    req = (method + b" " + target + b" " + version + b"\r\nHost: " +
           srv.hostport().encode() + b"\r\n" + extra + b"\r\n")
    c = srv.connect()
    try:
        c.send(req)
        return c.read_response(method=method.decode())
    finally:
        c.close()


class FilesBase(ServerTest):
    threads = 2
    check_exit = True
    keep_root = True  # the Tree removes it, with what lies beside it

    @classmethod
    def build_root(cls):
        cls.tree = Tree()
        return cls.tree.root

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.tree.cleanup()

    def get(self, target, **kw):
        return raw_get(self.srv, target, **kw)

    def assertNoSecret(self, r):
        blob = r.head_raw + r.body
        for s in (SECRET, OUT_SECRET, DOT_SECRET, PASSWD_MARK):
            self.assertNotIn(s, blob, "secret content disclosed: %r" % (r,))

    def assertHtml(self, r, body):
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"), HTML)
        self.assertIsNone(r.header("Content-Disposition"), r)
        self.assertEqual(r.header("Content-Length"), str(len(body)))
        self.assertEqual(r.body, body)

    def assertDownload(self, r, name, body):
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"), OCTET)
        self.assertEqual(r.header("Content-Disposition"), 'attachment; filename="%s"' % name)
        self.assertEqual(r.header("Content-Length"), str(len(body)))
        self.assertEqual(len(r.body), len(body))
        self.assertTrue(r.body == body, "body differs (sha256 %s vs %s)" % (_sha(r.body), _sha(body)))


class TestIndexAndTypes(FilesBase):
    def test_root_serves_index_html_inline(self):
        self.assertHtml(self.get("/"), self.tree.files["index.html"])

    def test_index_html_by_name(self):
        self.assertHtml(self.get("/index.html"), self.tree.files["index.html"])

    def test_subdir_slash_serves_its_index(self):
        self.assertHtml(self.get("/sub/"), self.tree.files["sub/index.html"])
        self.assertHtml(self.get("/sub/nested/"), self.tree.files["sub/nested/index.html"])

    def test_dir_without_slash_redirects(self):
        for target, loc in (("/sub", "/sub/"), ("/sub/nested", "/sub/nested/"),
                            ("/dir.txt", "/dir.txt/"), ("/link_insidedir", "/link_insidedir/")):
            with self.subTest(target=target):
                r = self.get(target)
                self.assertEqual(r.status, 301, r)
                self.assertEqual(r.header("Location"), loc)
                self.assertIsNotNone(r.header("Content-Length"))

    def test_redirect_keeps_query(self):
        r = self.get("/sub?x=1&y=%2F")
        self.assertEqual(r.status, 301, r)
        self.assertEqual(r.header("Location"), "/sub/?x=1&y=%2F")

    def test_redirect_location_is_the_normalised_path(self):
        # "//evil.example/" in a Location is a network-path reference to
        # another host: the Location is built from the normalised path.
        for target, loc in (("//evil.example", "/evil.example/"),
                            ("///evil.example?x=1", "/evil.example/?x=1"),
                            ("//sub", "/sub/"), ("/./sub", "/sub/"), ("/x/../sub", "/sub/"),
                            ("/sub//nested", "/sub/nested/"), ("/%73ub", "/sub/"),
                            ("/link_abs_insidedir", "/link_abs_insidedir/"),
                            ("/sub?q={a|b}", "/sub/?q=%7Ba%7Cb%7D")):
            with self.subTest(target=target):
                r = self.get(target)
                self.assertEqual(r.status, 301, r)
                self.assertEqual(r.header("Location"), loc)

    def test_redirect_with_a_long_query(self):
        # fits the response head: 301 with the whole query
        q = "q=" + "a" * 3000
        r = self.get("/sub?" + q)
        self.assertEqual(r.status, 301, r)
        self.assertEqual(r.header("Location"), "/sub/?" + q)
        # would not fit once encoded (3 bytes each): 414, never a torn head
        r = self.get("/sub?q=" + "{" * 3000)
        self.assertEqual(r.status, 414, r)
        self.assertIn(b"redirect target too long", r.body)

    def test_redirect_location_stays_encoded(self):
        r = self.get("/my%20dir")
        self.assertEqual(r.status, 301, r)
        self.assertEqual(r.header("Location"), "/my%20dir/")
        self.assertHtml(self.get("/my%20dir/"), self.tree.files["my dir/index.html"])

    def test_dir_without_index_is_404_no_listing(self):
        r = self.get("/emptydir/")
        self.assertEqual(r.status, 404, r)
        self.assertNotIn(b"readme.txt", r.body)

    def test_file_with_trailing_slash_is_404(self):
        self.assertEqual(self.get("/about.html/").status, 404)
        self.assertEqual(self.get("/sample.txt/").status, 404)

    def test_htm_inline(self):
        self.assertHtml(self.get("/sub/page.htm"), self.tree.files["sub/page.htm"])

    def test_upper_case_html_extensions_inline(self):
        self.assertHtml(self.get("/PAGE.HTML"), self.tree.files["PAGE.HTML"])
        self.assertHtml(self.get("/Other.Htm"), self.tree.files["Other.Htm"])

    def test_downloads_are_attachments(self):
        for name in ("sample.txt", "image.png", "photo.jpg", "pic.jpeg"):
            with self.subTest(name=name):
                self.assertDownload(self.get("/" + name), name, self.tree.files[name])

    def test_upper_case_download_extensions(self):
        for name in ("UPPER.TXT", "PIC.PNG", "Photo.JPEG", "Mixed.JpG"):
            with self.subTest(name=name):
                self.assertDownload(self.get("/" + name), name, self.tree.files[name])

    def test_other_types_are_415(self):
        for name in ("data.json", "style.css", "prog.exe", "noext", "archive.tar.gz",
                     "page.html.bak", "trailingdot.", "txt"):
            with self.subTest(name=name):
                r = self.get("/" + name)
                self.assertEqual(r.status, 415, r)
                self.assertNotEqual(r.body, self.tree.files[name])
                self.assertIsNone(r.header("Content-Disposition"))

    def test_missing_is_404_even_for_refused_types(self):
        for target in ("/missing.html", "/missing.txt", "/missing.exe", "/missing.json",
                       "/nodir/x.html", "/sub/missing.htm"):
            with self.subTest(target=target):
                self.assertEqual(self.get(target).status, 404)

    def test_query_string_ignored(self):
        idx = self.tree.files["index.html"]
        self.assertHtml(self.get("/index.html?x=1"), idx)
        self.assertHtml(self.get("/?x=1"), idx)
        self.assertHtml(self.get("/index.html?"), idx)
        self.assertHtml(self.get("/index.html?../../secret.txt"), idx)
        self.assertHtml(self.get("/index.html?a=%00&b=%2e%2e"), idx)
        self.assertDownload(self.get("/sample.txt?download=1"), "sample.txt", self.tree.files["sample.txt"])

    def test_percent_encoded_utf8_name(self):
        body = self.tree.files["caf\u00e9.html"]
        self.assertHtml(self.get("/caf%C3%A9.html"), body)
        self.assertHtml(self.get("/caf%c3%a9.html"), body)

    def test_names_with_spaces_and_plus(self):
        self.assertHtml(self.get("/with%20space.html"), self.tree.files["with space.html"])
        self.assertDownload(self.get("/my%20file.txt"), "my file.txt", self.tree.files["my file.txt"])
        # '+' is not a space in a path
        self.assertHtml(self.get("/a+b.html"), self.tree.files["a+b.html"])
        self.assertHtml(self.get("/a%2Bb.html"), self.tree.files["a+b.html"])
        self.assertEqual(self.get("/a%20b.html").status, 404)

    def _disposition_name(self, r):
        """The file name a Content-Disposition value names: filename*
        (RFC 8187) when present, else the quoted-string filename."""
        v = r.header("Content-Disposition")
        m = re.match(r'^attachment; filename="((?:[^"\\\x00-\x1f\x7f]|\\[^\x00-\x1f\x7f])*)"'
                     r"(?:; filename\*=UTF-8''([A-Za-z0-9%!#$&+.^_`|~-]+))?$", v or "")
        self.assertIsNotNone(m, "malformed Content-Disposition %r" % v)
        if m.group(2):
            return urllib.parse.unquote(m.group(2), errors="strict")
        return re.sub(r"\\(.)", r"\1", m.group(1))

    def test_download_name_with_quote_is_quoted_safely(self):
        r = self.get("/a%22b.txt")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, self.tree.files['a"b.txt'])
        self.assertEqual(self._disposition_name(r), 'a"b.txt')

    def test_download_name_non_ascii(self):
        r = self.get("/caf%C3%A9.txt")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self._disposition_name(r), "caf\u00e9.txt")

    def test_encoded_crlf_in_name_cannot_inject_headers(self):
        for method in (b"GET", b"HEAD"):
            with self.subTest(method=method):
                r = self.get("/evil%0d%0aSet-Cookie:%20x=1.txt", method=method)
                self.assertIsNone(r.header("Set-Cookie"), r)
                self.assertIn(r.status, (200, 400, 403, 404), r)
                if r.status == 200:
                    self.assertEqual(self._disposition_name(r), "evil\r\nSet-Cookie: x=1.txt")

    def test_encoded_plain_letters(self):
        self.assertHtml(self.get("/%69ndex%2Ehtml"), self.tree.files["index.html"])

    def test_raw_space_in_target_is_400(self):
        self.assertEqual(self.get("/with space.html").status, 400)

    def test_bytes_outside_pchar_in_path_are_400(self):
        # RFC 9112 origin-form: segment = *pchar; a client must encode these.
        for ch in '"<>`{}|^[]':
            with self.subTest(ch=ch):
                self.assertEqual(self.get("/a%sb.html" % ch).status, 400)
        self.assertEqual(self.get('/about.html?q="x"').status, 400)
        # browsers leave these unencoded in a query: accepted there
        self.assertHtml(self.get("/about.html?q={a|b}^`[c]"), self.tree.files["about.html"])

    def test_name_too_long_for_any_file_is_404_and_keeps_the_connection(self):
        c = self.srv.connect()
        try:
            for target in ("/" + "A" * 300 + ".html", "/" + "a/" * 2500 + "x.html"):
                with self.subTest(n=len(target)):
                    c.send(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, self.srv.hostport())).encode())
                    r = c.read_response()
                    self.assertEqual(r.status, 404, r)
                    self.assertEqual(r.header("Connection"), "keep-alive", r)
            c.send(("GET /about.html HTTP/1.1\r\nHost: %s\r\n\r\n" % self.srv.hostport()).encode())
            self.assertHtml(c.read_response(), self.tree.files["about.html"])
        finally:
            c.close()


class TestDownloads(FilesBase):
    def _download(self, name):
        body = self.tree.files[name]
        r = self.get("/" + name)
        self.assertDownload(r, name, body)
        self.assertEqual(_sha(r.body), _sha(body))

    def test_large_random_binary_byte_exact(self):
        self._download("big.png")

    def test_5mib_file_byte_exact(self):
        self._download("big5.txt")

    def test_large_downloads_back_to_back_on_one_connection(self):
        c = self.srv.connect()
        try:
            for name in ("big.png", "big5.txt", "big.png"):
                c.send(build_request("GET", "/" + name, self.srv.hostport()))
                r = c.read_response()
                self.assertEqual(r.status, 200, r)
                self.assertEqual(_sha(r.body), _sha(self.tree.files[name]))
            # and the connection is still framed correctly
            c.send(build_request("GET", "/about.html", self.srv.hostport()))
            self.assertEqual(c.read_response().body, self.tree.files["about.html"])
        finally:
            c.close()


class TestHead(FilesBase):
    TARGETS = ["/", "/index.html", "/sub/page.htm", "/sample.txt", "/big.png", "/missing.html",
               "/sub", "/sub?q=1", "/data.json", "/.env", "/../secret.txt", "/link_secret.txt",
               "/emptydir/"]

    @staticmethod
    def _norm(r):
        return sorted((k.lower(), v) for k, v in r.headers if k.lower() != "date")

    def test_head_has_exactly_get_headers(self):
        for t in self.TARGETS:
            with self.subTest(target=t):
                g = self.get(t)
                h = self.get(t, method=b"HEAD")
                self.assertEqual(h.status, g.status)
                self.assertIsNotNone(h.header("Date"))
                self.assertEqual(self._norm(h), self._norm(g))

    def test_head_sends_no_body(self):
        # If HEAD sent a body, the next response on the connection would
        # not start with a status line.
        c = self.srv.connect()
        try:
            for t in ("/big.png", "/index.html", "/sample.txt", "/missing.html", "/data.json"):
                with self.subTest(target=t):
                    c.send(build_request("HEAD", t, self.srv.hostport()))
                    h = c.read_response(method="HEAD")
                    self.assertIn(h.status, (200, 404, 415))
                    self.assertEqual(c.buf, b"")
                    c.send(build_request("GET", "/about.html", self.srv.hostport()))
                    g = c.read_response()
                    self.assertEqual(g.status, 200, g)
                    self.assertEqual(g.body, self.tree.files["about.html"])
                    self.assertEqual(c.buf, b"")
        finally:
            c.close()

    def test_head_pipelined_in_one_write(self):
        hp = self.srv.hostport()
        req = (build_request("HEAD", "/big5.txt", hp) + build_request("HEAD", "/sample.txt", hp) +
               build_request("GET", "/p1.html", hp))
        c = self.srv.connect()
        try:
            c.send(req)
            a = c.read_response(method="HEAD")
            b = c.read_response(method="HEAD")
            g = c.read_response()
            self.assertEqual((a.status, b.status, g.status), (200, 200, 200))
            self.assertEqual(a.header("Content-Length"), str(len(self.tree.files["big5.txt"])))
            self.assertEqual(g.body, self.tree.files["p1.html"])
        finally:
            c.close()


# (raw target, allowed statuses). 403: escape attempts; 400: NUL, malformed
# escapes, invalid UTF-8, targets that are not origin-form; 404: dot
# segments; 200: ".." that stays inside the root.
TRAVERSAL = [
    (b"/../secret.txt", {403}),
    (b"/../secret.html", {403}),
    (b"/../../../../../../../../etc/passwd", {403}),
    (b"/%2e%2e/secret.txt", {403}),
    (b"/%2E%2E/secret.txt", {403}),
    (b"/..%2fsecret.txt", {403}),
    (b"/..%2Fsecret.txt", {403}),
    (b"/%2e%2e%2fsecret.txt", {403}),
    (b"/.%2e/secret.txt", {403}),
    (b"/%2e./secret.txt", {403}),
    (b"/..", {403}),
    (b"/../", {403}),
    (b"/%2e%2e", {403}),
    (b"/sub/../../secret.txt", {403}),
    (b"/sub/%2e%2e/%2e%2e/secret.txt", {403}),
    (b"/sub/..%2f..%2fsecret.txt", {403}),
    (b"/a/../../secret.txt", {403}),
    (b"/./../secret.txt", {403}),
    (b"//../secret.txt", {403}),
    (b"/%2f..%2fsecret.txt", {403}),
    (b"/sub/./../../secret.txt", {403}),
    (b"/sub/page.htm/../../../secret.txt", {403}),
    (b"/index.html/../../secret.txt", {403}),
    (b"/static/..%2f..%2f..%2fetc/passwd", {403}),
    (b"/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", {403}),
    (b"/%2e%2e/%2e%2e/%2e%2e/etc/passwd", {403}),
    (b"/..%5csecret.txt", {403}),
    (b"/%5c..%5csecret.txt", {403}),
    (b"/%2e%2e%5c%2e%2e%5csecret.txt", {403}),
    (b"/..\\secret.txt", {403}),
    (b"/..\\..\\secret.txt", {403}),
    (b"/sub\\..\\..\\secret.txt", {403}),
    (b"/\\..\\secret.txt", {403}),
    (b"/%252e%252e/secret.txt", {403}),
    (b"/%252e%252e%252fsecret.txt", {403}),
    (b"/%25%32%65%25%32%65/secret.txt", {403}),
    (b"/sub/%252e%252e%252f%252e%252e%252fsecret.txt", {403}),
    (b"/..%252fsecret.txt", {403, 404}),
    (b"/%255c..%255csecret.txt", {403}),
    (b"/%c0%ae%c0%ae/secret.txt", {403}),
    (b"/%c0%ae%c0%ae%c0%afsecret.txt", {403}),
    (b"/%C0%AE%C0%AE/secret.txt", {403}),
    (b"/%e0%80%ae%e0%80%ae/secret.txt", {403}),
    (b"/%f0%80%80%ae%f0%80%80%ae/secret.txt", {403}),
    (b"/..%c0%afsecret.txt", {403}),
    (b"/..%c1%9csecret.txt", {403}),
    (b"/%c0%2e%c0%2e/secret.txt", {400, 403}),
    # NUL and malformed escapes
    (b"/index.html%00", {400}),
    (b"/index.html%00.txt", {400}),
    (b"/%00../secret.txt", {400}),
    (b"/..%00/secret.txt", {400, 403}),
    (b"/%zz", {400}),
    (b"/%2", {400}),
    (b"/index.html%", {400}),
    (b"/%g0index.html", {400}),
    (b"/%%32%65%%32%65/secret.txt", {400}),
    (b"/%u002e%u002e/secret.txt", {400}),
    (b"/%ff/secret.txt", {400}),
    (b"/%c3", {400}),
    (b"/%80.html", {400}),
    (b"/%ed%a0%80.html", {400}),
    (b"/%f4%90%80%80.html", {400}),
    (b"/caf\xc3\xa9.html", {400}),
    (b"/index.html\x00", {400}),
    (b"/index.html#frag", {400}),
    (b"../secret.txt", {400}),
    (b"secret.txt", {400}),
    (b"%2e%2e/secret.txt", {400}),
    # dot segments that are not ".." are dot-files
    (b"/.env", {404}),
    (b"/%2eenv", {404}),
    (b"/.git/config", {404}),
    (b"/%2egit/config", {404}),
    (b"/.git/", {404}),
    (b"/.git", {404}),
    (b"/sub/.hidden", {404}),
    (b"/sub/.hidden.txt", {404}),
    (b"/.hidden.html", {404}),
    (b"/...", {404}),
    (b"/..../secret.txt", {404}),
    (b"/..;/secret.txt", {404}),
    (b"/.%2e%2e/secret.txt", {404}),
    (b"/sub/.%2e./secret.txt", {404}),
    # ".." and "." that stay inside the root are resolved
    (b"/sub/../index.html", {200}),
    (b"/sub/%2e%2e/index.html", {200}),
    (b"/sub/..%2findex.html", {200}),
    (b"/%2e/index.html", {200}),
    (b"/./index.html", {200}),
    (b"//index.html", {200}),
    (b"/sub//page.htm", {200}),
    (b"/sub/./page.htm", {200}),
    (b"/sub%2fpage.htm", {200}),
    (b"/sub/nested/../../about.html", {200}),
]


class TestTraversal(FilesBase):
    def test_traversal_matrix(self):
        for target, allowed in TRAVERSAL:
            for method in (b"GET", b"HEAD"):
                with self.subTest(target=target, method=method):
                    r = self.get(target, method=method)
                    self.assertIn(r.status, allowed, "%s %r -> %r" % (method, target, r))
                    self.assertNoSecret(r)
                    if method == b"GET" and r.status != 200:
                        self.assertNotEqual(r.body, self.tree.files["index.html"])

    def test_absolute_form_cannot_escape(self):
        hp = self.srv.hostport().encode()
        for path in (b"/../secret.txt", b"/%2e%2e/secret.txt", b"/..%2fsecret.txt"):
            with self.subTest(path=path):
                r = self.get(b"http://" + hp + path)
                self.assertEqual(r.status, 403, r)
                self.assertNoSecret(r)

    def test_server_still_serves_after_matrix(self):
        self.assertHtml(self.get("/"), self.tree.files["index.html"])


class TestSymlinks(FilesBase):
    def test_links_leaving_the_root_are_403(self):
        for t in ("/link_secret.txt", "/link_secret.html", "/link_secret_abs.txt",
                  "/link_passwd.txt", "/link_passwd.html", "/link_outdir", "/link_outdir/",
                  "/link_outdir/page.html", "/link_outdir/x.txt", "/link_outdir_abs/page.html",
                  "/link_rootdir/etc/passwd", "/sub/up.txt", "/chain1.txt"):
            for method in (b"GET", b"HEAD"):
                with self.subTest(target=t, method=method):
                    r = self.get(t, method=method)
                    self.assertEqual(r.status, 403, r)
                    self.assertNoSecret(r)

    def assertServedAs(self, cases):
        """cases: (target, the root-relative file it must serve)."""
        for target, rel in cases:
            with self.subTest(target=target):
                self.assertHtml(self.get(target), self.tree.files[rel])

    def test_links_inside_the_root_are_followed(self):
        self.assertServedAs([("/link_inside.html", "about.html"),
                             ("/link_inside_sub.htm", "sub/page.htm"),
                             ("/link_insidedir/page.htm", "sub/page.htm"),
                             ("/link_insidedir/", "sub/index.html"),
                             ("/sub/link_up_inside.html", "about.html")])

    def test_dangling_link_is_404(self):
        self.assertEqual(self.get("/dangling.html").status, 404)

    def test_absolute_or_out_and_back_links_ending_inside_are_followed(self):
        self.assertServedAs([("/link_abs_inside.html", "about.html"),
                             ("/link_out_and_in.html", "about.html"),
                             ("/link_abs_insidedir/page.htm", "sub/page.htm"),
                             ("/link_abs_insidedir/", "sub/index.html"),
                             # "/" as a link target, then the root's own
                             # absolute path: inside.
                             ("/link_rootdir" + self.tree.root + "/about.html", "about.html")])

    def test_link_out_of_the_root_is_403_whether_or_not_its_target_exists(self):
        for t in ("/link_abs_missing_out.txt", "/link_secret_abs.txt"):
            with self.subTest(target=t):
                r = self.get(t)
                self.assertEqual(r.status, 403, r)
                self.assertNoSecret(r)

    def test_link_loop_is_404(self):
        for t in ("/loop_a.html", "/loop_b.html"):
            with self.subTest(target=t):
                self.assertEqual(self.get(t).status, 404)


class TestSpecialFiles(FilesBase):
    def test_fifo_is_404_and_does_not_block(self):
        for t in ("/fifo.txt", "/fifo.html"):
            with self.subTest(target=t):
                self.assertEqual(self.get(t).status, 404)
        self.assertHtml(self.get("/about.html"), self.tree.files["about.html"])

    def test_socket_file_is_404(self):
        self.assertEqual(self.get("/sock.txt").status, 404)

    def test_device_is_404(self):
        if not self.tree.have_dev:
            self.skipTest("cannot create device nodes here")
        self.assertEqual(self.get("/dev.txt").status, 404)
        c = self.srv.connect(timeout=5)
        try:
            c.send(build_request("GET", "/zero.html", self.srv.hostport()))
            r = c.read_response()
            self.assertEqual(r.status, 404, r)
        finally:
            c.close()

    def test_special_files_keep_connection(self):
        c = self.srv.connect()
        try:
            for t in ("/fifo.txt", "/sock.txt", "/about.html"):
                c.send(build_request("GET", t, self.srv.hostport()))
                r = c.read_response()
                self.assertEqual(r.status, 200 if t == "/about.html" else 404, (t, r))
        finally:
            c.close()


WRAPPER = """#!/bin/sh
exec setpriv --inh-caps=-dac_override,-dac_read_search \
  --bounding-set=-dac_override,-dac_read_search -- "$MTHTTPD_REAL_BIN" "$@"
"""


@unittest.skipUnless(shutil.which("setpriv") or os.geteuid() != 0,
                     "running as root without setpriv: root reads every file")
class TestUnreadable(ServerTest):
    """A file the server cannot read is 403. As root the server runs
    without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH, so mode 000 binds."""
    threads = 2
    check_exit = True
    keep_root = True  # the Tree removes it, with what lies beside it

    @classmethod
    def build_root(cls):
        cls.tree = Tree()
        return cls.tree.root

    @classmethod
    def prepare_root(cls):
        for rel in ("locked.html", "locked.txt"):
            p = os.path.join(cls.tree.root, rel)
            _write(p, SECRET + b" locked\n")
            os.chmod(p, 0)
        os.chmod(os.path.join(cls.tree.root, "emptydir"), 0)
        if os.geteuid() == 0:
            cls.wrapper = os.path.join(cls.tree.base, "run-without-dac.sh")
            with open(cls.wrapper, "w") as f:
                f.write(WRAPPER)
            os.chmod(cls.wrapper, 0o755)
            cls.extra_env = {"MTHTTPD_REAL_BIN": os.path.abspath(harness.BIN)}
            harness.BIN = cls.wrapper  # setUpClass puts it back

    @classmethod
    def setUpClass(cls):
        old = harness.BIN
        try:
            super().setUpClass()
        finally:
            harness.BIN = old

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            os.chmod(os.path.join(cls.tree.root, "emptydir"), 0o755)
            cls.tree.cleanup()

    def test_unreadable_file_is_403(self):
        for t in ("/locked.html", "/locked.txt"):
            with self.subTest(target=t):
                r = raw_get(self.srv, t)
                self.assertEqual(r.status, 403, r)
                self.assertNotIn(SECRET, r.body)

    def test_file_in_unsearchable_dir_is_403(self):
        r = raw_get(self.srv, "/emptydir/readme.txt")
        self.assertEqual(r.status, 403, r)

    def test_readable_file_still_served(self):
        r = raw_get(self.srv, "/about.html")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, self.tree.files["about.html"])


if __name__ == "__main__":
    unittest.main()


class TestBodySizes(ServerTest):
    """Small cached bodies leave in the head's buffer (8 KiB), larger cached
    ones (up to 32 KiB) from memory after it, the rest by sendfile: every
    size across those edges, with short and long head fields, byte for
    byte, first from disk and then from the cache, GET and HEAD, and
    pipelined on one connection."""
    SIZES = (0, 1, 1024, 7000, 7500, 7700, 7800, 7900, 8000, 8191, 8192, 8193,
             9000, 32 * 1024 - 1, 32 * 1024, 32 * 1024 + 1, 70000)
    LONG = "n" * 200  # a long name makes the Content-Disposition long

    server_args = ("--keepalive-max", "100000")
    threads = 1
    check_exit = True

    @classmethod
    def make_files(cls):
        rnd = random.Random(7)
        cls.files = {}
        for n in cls.SIZES:
            data = rnd.randbytes(n)
            cls.files["s%d.txt" % n] = data
            cls.files["%s%d.txt" % (cls.LONG, n)] = data
            cls.files["h%d.html" % n] = data
        return cls.files

    def test_every_size_twice_on_one_connection(self):
        c = self.srv.connect()
        try:
            for rnd in (1, 2):
                for name, data in sorted(self.files.items()):
                    with self.subTest(name=name[-12:], round=rnd):
                        c.send(build_request("GET", "/" + name, self.srv.hostport()))
                        r = c.read_response()
                        self.assertEqual(r.status, 200, r)
                        self.assertEqual(r.header("Content-Length"), str(len(data)))
                        self.assertEqual(r.header("Connection"), "keep-alive")
                        self.assertTrue(r.body == data, "%s: body differs" % name)
        finally:
            c.close()

    def test_head_matches_get_without_body(self):
        c = self.srv.connect()
        try:
            for name in sorted(self.files):
                with self.subTest(name=name[-12:]):
                    c.send(build_request("GET", "/" + name, self.srv.hostport()))
                    g = c.read_response()
                    c.send(build_request("HEAD", "/" + name, self.srv.hostport()))
                    h = c.read_response(method="HEAD")
                    self.assertEqual(h.status, 200, h)
                    self.assertEqual(h.body, b"")
                    norm = lambda r: sorted((k.lower(), v) for k, v in r.headers
                                            if k.lower() not in ("date", "keep-alive"))
                    self.assertEqual(norm(h), norm(g))
            # The connection is still framed: a GET after all the HEADs.
            c.send(build_request("GET", "/s1024.txt", self.srv.hostport()))
            self.assertEqual(c.read_response().body, self.files["s1024.txt"])
        finally:
            c.close()

    def test_pipelined_in_one_write(self):
        names = sorted(self.files)
        c = self.srv.connect()
        try:
            c.send(b"".join(build_request("GET", "/" + n, self.srv.hostport()) for n in names))
            for n in names:
                r = c.read_response()
                self.assertEqual(r.status, 200, r)
                self.assertTrue(r.body == self.files[n], "%s: body differs" % n[-12:])
        finally:
            c.close()
