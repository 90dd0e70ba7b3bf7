"""POST /upload (SPEC §4, issue 3, README "Behaviour details"): routing,
token, Content-Type, framing, size limit, streaming JSON validation with the
byte offset of the first error, chunked bodies, 100-continue, keep-alive,
concurrency, client disconnects, a 100 MiB body in bounded memory, disk
full, kill -9 and restart, temporary files never served, the server log."""
import calendar
import datetime
import hashlib
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import ServerTest, build_request

NAME_RE = re.compile(r"^upload_(\d{8})_(\d{6})_([a-z0-9]{6,})\.json$")
LOCATION_RE = re.compile(r"^/uploads/(upload_\d{8}_\d{6}_[a-z0-9]{6,}\.json)$")
TMP_RE = re.compile(r"^\.upload-.*\.tmp$")
OFFSET_RE = re.compile(rb"(?i)\b(?:byte|offset)\b\D{0,16}?(\d+)")
TOKEN = "s3cret"


# ---------------------------------------------------------------- helpers

def upload_request(srv, body, ctype="application/json", path="/upload", headers=None,
                   length=True):
    """The bytes of a POST: Content-Type (unless None), Content-Length
    (unless length is False or headers frame the body), then body."""
    h = {}
    if ctype is not None:
        h["Content-Type"] = ctype
    h.update(headers or {})
    framed = any(k.lower() in ("content-length", "transfer-encoding") for k in h)
    if length and not framed:
        h["Content-Length"] = str(len(body))
    head = build_request("POST", path, srv.hostport(), h)
    return head + body


def upload_with_fields(srv, fields, body=b'{"a":1}'):
    """A POST /upload whose fields are sent verbatim and in order
    (repeats allowed: build_request takes a dict), then Content-Length."""
    return (b"POST /upload HTTP/1.1\r\nHost: " + srv.hostport().encode() + b"\r\n" +
            b"".join(k.encode() + b": " + v.encode() + b"\r\n" for k, v in fields) +
            b"Content-Length: %d\r\n\r\n" % len(body) + body)


def chunked(pieces, ext=None, trailer=b""):
    """A chunked body: one chunk per piece (ext maps index -> extension
    text such as b';a=b'), the last chunk, trailer fields, CRLF."""
    out = b""
    for i, p in enumerate(pieces):
        out += b"%x" % len(p) + (ext or {}).get(i, b"") + b"\r\n" + p + b"\r\n"
    return out + b"0\r\n" + trailer + b"\r\n"


def post(srv, body, **kw):
    return srv.request(upload_request(srv, body, **kw), "POST")


def listing(d):
    try:
        return set(os.listdir(d))
    except FileNotFoundError:
        return set()


def temps(d, srv=None):
    """The temporary files of uploads in d: named ones (the fallback where
    O_TMPFILE is missing), and, when srv is given, the unnamed O_TMPFILE
    inodes its process holds in d (as "fd:<target>")."""
    out = {n for n in listing(d) if TMP_RE.match(n)}
    if srv is not None and srv.proc.poll() is None:
        real = os.path.realpath(d)
        fds = "/proc/%d/fd" % srv.proc.pid
        try:
            entries = os.listdir(fds)
        except OSError:
            entries = []
        for fd in entries:
            try:
                t = os.readlink(os.path.join(fds, fd))
            except OSError:
                continue
            if t.startswith(real + "/#") and t.endswith(" (deleted)"):
                out.add("fd:" + t)
    return out


_SHIM = None


def no_tmpfile_env():
    """LD_PRELOAD of tests/integration/no_tmpfile.c: O_TMPFILE fails with
    EOPNOTSUPP, as on NFS, so the server uses named temporary files."""
    global _SHIM
    if _SHIM is None:
        out = os.path.join(tempfile.mkdtemp(prefix="mthttpd-shim-"), "no_tmpfile.so")
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "no_tmpfile.c")
        subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", out, src, "-ldl"], check=True)
        _SHIM = out
    env = {"LD_PRELOAD": _SHIM}
    if os.environ.get("ASAN_OPTIONS") is not None or "asan" in harness.BIN:
        env["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
    return env


# The server holds up to 48 KiB of a body in memory before its first write;
# a partial body this long has reached the disk as a temporary file.
SPILL = b"[" + b"1," * 40000          # 80001 bytes of a valid JSON prefix
SPILL_CL = "200000"


def poll(cond, timeout=harness.TIMEOUT, step=0.02):
    """Calls cond() until it returns a true value or timeout passes; returns
    the last value. (Polling with a deadline, not a sleep as a guess.)"""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


def vm_kb(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def error_offset(body):
    m = OFFSET_RE.search(body)
    return int(m.group(1)) if m else None


class UploadCase(ServerTest):
    """Checks shared by every class: self.srv and self.updir are set."""
    class_server = False  # OwnServer has one; the others start their own

    def check_created(self, resp, sent, t0, t1, srv=None, updir=None):
        """resp is a correct 201 for the bytes sent, made between t0 and t1
        (time.time()); the file holds exactly sent, mode 0644, and the log
        has one line naming it. Returns the file name."""
        srv = srv or self.srv
        updir = updir or self.updir
        self.assertEqual(resp.status, 201, "%r body=%r" % (resp, resp.body[:300]))
        loc = resp.header("Location")
        self.assertIsNotNone(loc, resp)
        m = LOCATION_RE.match(loc)
        self.assertIsNotNone(m, "bad Location %r" % loc)
        name = m.group(1)
        nm = NAME_RE.match(name)
        stamp = calendar.timegm(time.strptime(nm.group(1) + nm.group(2), "%Y%m%d%H%M%S"))
        self.assertTrue(int(t0) - 1 <= stamp <= t1 + 1,
                        "name %s is not the UTC time of the upload (%s..%s)" % (
                            name, datetime.datetime.fromtimestamp(t0, datetime.timezone.utc),
                            datetime.datetime.fromtimestamp(t1, datetime.timezone.utc)))
        self.assertEqual(resp.header("Content-Type"), "application/json")
        want = ('{"status":"success","message":"File created successfully",'
                '"filepath":"/uploads/%s"}' % name).encode()
        self.assertEqual(resp.body, want)
        path = os.path.join(updir, name)
        st = os.lstat(path)
        self.assertTrue(stat.S_ISREG(st.st_mode), name)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o644, "mode of %s is %o" % (name, st.st_mode))
        with open(path, "rb") as f:
            self.assertEqual(f.read(), sent, "stored bytes of %s differ" % name)
        self.assertIsNotNone(srv.wait_log(re.escape(name), timeout=5),
                             "no log line names %s" % name)
        lines = [ln for ln in srv.log if name in ln]
        self.assertEqual(len(lines), 1, lines)
        return name

    def upload_ok(self, body, **kw):
        t0 = time.time()
        r = post(self.srv, body, **kw)
        t1 = time.time()
        return self.check_created(r, body, t0, t1)

    def assert_nothing_new(self, before, what=""):
        """No final and no temporary file beyond `before` (polled briefly,
        in case the server removes a temporary file just after answering)."""
        ok = poll(lambda: listing(self.updir) == before, timeout=3)
        self.assertTrue(ok, "%s: left in uploads dir: %r" % (what, listing(self.updir) - before))

    def refused(self, raw, status, what=None):
        """Sends raw on a fresh connection; asserts status and that nothing
        was stored. Returns the response."""
        before = listing(self.updir)
        r = self.srv.request(raw, raw.split(b" ", 1)[0].decode())
        self.assertEqual(r.status, status, "%s: %r %r" % (what or raw[:120], r, r.body[:200]))
        self.assertNotIn(r.status, (200, 201))
        self.assertIsNone(r.header("Location"), r)
        self.assert_nothing_new(before, what or raw[:120])
        return r


class OwnServer(UploadCase):
    """One server for the class, with its own root and uploads dir."""
    class_server = True
    threads = 2
    named_temps = False   # run with O_TMPFILE refused (named temporary files)

    @classmethod
    def prepare_root(cls):
        cls.updir = os.path.join(cls.root, "uploads")
        cls.extra_env = no_tmpfile_env() if cls.named_temps else None


# ---------------------------------------------------------------- basics

VALID_EDGE = [
    ("depth 512", b"[" * 512 + b"]" * 512),
    ("objects depth 512", b'{"a":' * 511 + b"{}" + b"}" * 511),
    ("escaped surrogate pair", b'"\\ud83d\\ude00"'),
    ("every escape", b'"\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\uFFFF\\uabcd"'),
    ("bare integer", b"123"),
    ("bare zero", b"0"),
    ("minus zero", b"-0"),
    ("fraction exponent", b"-0.5e-10"),
    ("exponent plus", b"1E+2"),
    ("huge integer", b"123456789012345678901234567890123456789"),
    ("bare string", b'"just a string"'),
    ("null", b"null"),
    ("true", b"true"),
    ("false", b"false"),
    ("empty object", b"{}"),
    ("empty array", b"[]"),
    ("surrounding whitespace", b' \t\r\n {"a" : [ 1 , 2 , {"b":null} ] } \n\t\r '),
    ("number then whitespace", b"42 \n"),
    ("raw 4-byte UTF-8", '"😀 é 中"'.encode()),
    ("U+10FFFF", b'"\xf4\x8f\xbf\xbf"'),
    ("U+D7FF and U+E000", b'"\xed\x9f\xbf\xee\x80\x80"'),
    ("DEL in string", b'"\x7f"'),
]

# (name, body, exact offset or None when only "some offset is named")
INVALID = [
    ("empty body", b"", 0),
    ("only whitespace", b"  \n ", 4),
    ("open brace", b"{", 1),
    ("trailing comma in array", b"[1,]", 3),
    ("trailing comma in object", b'{"a":1,}', 7),
    ("leading zero", b"01", 1),
    ("NaN", b"NaN", 0),
    ("Infinity", b"Infinity", 0),
    ("-Infinity", b"-Infinity", 1),
    ("plus sign", b"+1", 0),
    ("leading dot", b".5", 0),
    ("trailing dot", b"1.", 2),
    ("bare minus", b"-", 1),
    ("empty exponent", b"1e", 2),
    ("hex number", b"0x10", 1),
    ("BOM then {}", b"\xef\xbb\xbf{}", 0),
    ("invalid UTF-8 byte", b'"\xff"', 1),
    ("overlong UTF-8", b'"\xc0\xaf"', None),
    ("UTF-8 encoded surrogate", b'"\xed\xa0\x80"', None),
    ("above U+10FFFF", b'"\xf4\x90\x80\x80"', None),
    ("truncated UTF-8 sequence", b'"\xe2\x82"', None),
    ("lone high surrogate", b'"\\ud800"', None),
    ("lone low surrogate", b'"\\udc00"', None),
    ("high surrogate then non-low", b'"\\ud800\\u0041"', None),
    ("depth 513", b"[" * 513 + b"]" * 513, 512),
    ("trailing garbage", b"{} x", 3),
    ("two texts", b'{"a":1}{"b":2}', 7),
    ("extra close", b"[1]]", 3),
    ("missing comma", b"[1 2]", 3),
    ("missing colon", b'{"a" 1}', 5),
    ("missing value", b'{"a":}', 5),
    ("single quotes", b"{'a':1}", 1),
    ("leading comma", b"[,1]", 1),
    ("unterminated string", b'"abc', 4),
    ("control byte in string", b'"a\x01"', 2),
    ("bad escape", b'"\\x"', 2),
    ("truncated literal", b"tru", 3),
    ("wrong literal", b"nul1", 3),
    ("NUL byte", b"\x00", 0),
    ("unclosed array", b"[1,2", 4),
    ("early error, long body", b'{"a":1}x' + b" " * 200000, 7),
]


class UploadBasics(OwnServer):
    threads = 2

    def test_created_exact_bytes_name_mode_log(self):
        body = ('  {"name": "Zoë 😀", "tabs":\t"a\\tb", "list": [1, 2.5e3, -0, null, true],'
                '\r\n "nested": {"k": "中文 \\u00e9\\ud83d\\ude00"}}  \n').encode()
        t0 = time.time()
        r = post(self.srv, body)
        t1 = time.time()
        name = self.check_created(r, body, t0, t1)
        today = {time.strftime("%Y%m%d", time.gmtime(t)) for t in (t0, t1)}
        self.assertIn(NAME_RE.match(name).group(1), today, "not today's UTC date")
        # Issue 3: the line names the file, the size and the client.
        line = [ln for ln in self.srv.log if name in ln][0]
        self.assertRegex(line, r"\b%d\b" % len(body))
        self.assertIn("127.0.0.1", line)

    def test_absolute_form_target(self):
        self.upload_ok(b'{"absolute": 1}', path="http://%s/upload?y=2" % self.srv.hostport())

    def test_content_type_parameters_and_case(self):
        for ct in ("application/json; charset=utf-8", "APPLICATION/JSON",
                   "Application/Json;charset=UTF-8", "application/json ; charset=utf-8"):
            with self.subTest(ct=ct):
                self.upload_ok(b'{"ct":"%s"}' % ct.encode(), ctype=ct)

    def test_query_string_ignored(self):
        self.upload_ok(b'{"q":1}', path="/upload?x=1")
        self.upload_ok(b'{"q":2}', path="/upload?")

    def test_post_elsewhere_405(self):
        for path in ("/other", "/uploads", "/uploads/", "/index.html", "/upload/x", "/", "/uploadx"):
            with self.subTest(path=path):
                r = self.refused(upload_request(self.srv, b'{"a":1}', path=path), 405, path)
                self.assertEqual(r.header("Allow"), "GET, HEAD, OPTIONS", r)

    def test_get_head_upload_405(self):
        for method in ("GET", "HEAD"):
            for path in ("/upload", "/upload?x=1"):
                with self.subTest(method=method, path=path):
                    raw = build_request(method, path, self.srv.hostport())
                    r = self.refused(raw, 405, "%s %s" % (method, path))
                    self.assertEqual(r.header("Allow"), "POST, OPTIONS", r)
                    if method == "HEAD":
                        self.assertEqual(r.body, b"")

    def test_wrong_content_type_415(self):
        cases = [("text/plain", "text/plain"), ("application/jsonx", "application/jsonx"),
                 ("application/json-seq", "application/json-seq"),  # +json types are JSON (issue 13)
                 ("text/json", "text/json"), ("application/x-www-form-urlencoded", "form"),
                 ("multipart/form-data; boundary=x", "multipart"), (None, "missing")]
        for ct, label in cases:
            with self.subTest(ct=label):
                start = len(self.srv.log)
                r = self.refused(upload_request(self.srv, b'{"a":1}', ctype=ct), 415, label)
                self.assertIn(b"415", r.body)
                # Issue 3: one log line per refused upload, with the reason.
                self.assertIsNotNone(self.srv.wait_log(r"415", start=start, timeout=5),
                                     "refusal not logged: %r" % self.srv.log[start:])

    def test_several_content_type_fields_415(self):
        # A singleton field sent twice (RFC 9110 §5.3) is ambiguous: refused
        # in either order, not decided by whichever line comes first.
        for cts in (("application/json", "text/plain"), ("text/plain", "application/json"),
                    ("application/json", "application/json")):
            with self.subTest(cts=cts):
                raw = upload_with_fields(self.srv, [("Content-Type", ct) for ct in cts])
                r = self.refused(raw, 415, "Content-Type %r" % (cts,))
                self.assertIn(b"several Content-Type", r.body)

    def test_no_framing_411(self):
        raw = upload_request(self.srv, b"", length=False)
        r = self.refused(raw, 411, "no framing")
        self.assertIn(b"411", r.body)

    def test_invalid_json_400_with_offset(self):
        for label, body, off in INVALID:
            with self.subTest(label):
                hdrs = {"Content-Length": "0"} if not body else None
                r = self.refused(upload_request(self.srv, body, headers=hdrs), 400, label)
                got = error_offset(r.body)
                self.assertIsNotNone(got, "%s: no byte offset in %r" % (label, r.body))
                if off is not None:
                    self.assertEqual(got, off, "%s: %r" % (label, r.body))
                else:
                    self.assertLessEqual(got, len(body), "%s: %r" % (label, r.body))

    def test_invalid_json_chunked_400(self):
        for label, body, off in [("trailing comma", b"[1,]", 3),
                                 ("invalid UTF-8 across chunks", b'["\xe2\x82x"]', 4),
                                 ("depth 513 in 1-byte chunks", b"[" * 513 + b"]" * 513, 512)]:
            with self.subTest(label):
                pieces = [body[i:i + 1] for i in range(len(body))] if "1-byte" in label else \
                    [body[:2], body[2:]]
                raw = upload_request(self.srv, chunked(pieces),
                                     headers={"Transfer-Encoding": "chunked"})
                r = self.refused(raw, 400, label)
                self.assertEqual(error_offset(r.body), off, r.body)

    def test_valid_edge_bodies_201(self):
        for label, body in VALID_EDGE:
            with self.subTest(label):
                self.upload_ok(body)

    def test_chunked_uploads(self):
        text = '{"greeting": "héllo wörld 😀 中文", "n": [1, 22, 333]}\n'.encode()
        cases = []
        # 1-byte chunks: every UTF-8 sequence is split.
        cases.append(("1-byte chunks", [text[i:i + 1] for i in range(len(text))], None, b""))
        # A boundary inside the 4-byte emoji and one inside a 2-byte char.
        e = text.index("😀".encode())
        cases.append(("boundary inside UTF-8", [text[:e + 1], text[e + 1:e + 3], text[e + 3:]], None, b""))
        # Odd sizes (hex with letters), extensions of every allowed form.
        sizes, pieces, i = [3, 7, 1, 13, 10, 11], [], 0
        for s in sizes:
            pieces.append(text[i:i + s])
            i += s
        pieces.append(text[i:])
        ext = {0: b";name=value", 1: b';q="quoted; str"', 2: b";flag", 3: b";a=1;b=2",
               4: b" ; w = 1", 5: b";x=\"\\\"\""}
        cases.append(("odd sizes with extensions", pieces, ext, b""))
        cases.append(("trailer fields", [text[:20], text[20:]], None, b"X-Checksum: abc\r\nX-Other: 1\r\n"))
        for label, pcs, ext, trailer in cases:
            with self.subTest(label):
                self.assertEqual(b"".join(pcs), text)
                body = chunked(pcs, ext, trailer)
                # Uppercase hex sizes and leading zeros are valid chunk-size too.
                if label == "odd sizes with extensions":
                    body = body.replace(b"\r\nd;a=1", b"\r\n000D;a=1")
                    self.assertIn(b"000D;a=1", body)
                head = build_request("POST", "/upload", self.srv.hostport(),
                                     {"Content-Type": "application/json",
                                      "Transfer-Encoding": "chunked"})
                c = self.srv.connect()
                try:
                    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    t0 = time.time()
                    c.send(head)
                    # Several writes, so the server sees the body in pieces.
                    step = 5 if label == "1-byte chunks" else 3
                    for k in range(0, len(body), step):
                        c.send(body[k:k + step])
                    r = c.read_response("POST")
                    t1 = time.time()
                finally:
                    c.close()
                self.check_created(r, text, t0, t1)

    def test_expect_100_continue(self):
        body = b'{"expect": "100-continue", "v": [1, 2, 3]}'
        raw = upload_request(self.srv, b"", headers={"Content-Length": str(len(body)),
                                                      "Expect": "100-continue"})
        c = self.srv.connect()
        try:
            t0 = time.time()
            c.send(raw)
            interim = c.read_response("POST")
            self.assertEqual(interim.status, 100, interim)
            self.assertEqual(interim.version, "HTTP/1.1")
            self.assertEqual(interim.body, b"")
            c.send(body)
            r = c.read_response("POST")
            t1 = time.time()
        finally:
            c.close()
        self.check_created(r, body, t0, t1)

    def test_expect_100_chunked(self):
        text = b'{"chunked": true}'
        raw = upload_request(self.srv, b"", headers={"Transfer-Encoding": "chunked",
                                                      "Expect": "100-continue"})
        c = self.srv.connect()
        try:
            t0 = time.time()
            c.send(raw)
            interim = c.read_response("POST")
            self.assertEqual(interim.status, 100, interim)
            c.send(chunked([text[:5], text[5:]]))
            r = c.read_response("POST")
            t1 = time.time()
        finally:
            c.close()
        self.check_created(r, text, t0, t1)

    def test_expect_100_refused_gets_final_status(self):
        for label, ct, path, status in [("bad type", "text/plain", "/upload", 415),
                                        ("wrong path", "application/json", "/other", 405)]:
            with self.subTest(label):
                before = listing(self.updir)
                raw = upload_request(self.srv, b"", ctype=ct, path=path,
                                     headers={"Content-Length": "20", "Expect": "100-continue"})
                c = self.srv.connect()
                try:
                    c.send(raw)  # the head only: a client waits for 100
                    r = c.read_response("POST")
                    # the body may or may not follow now: the framing is
                    # lost, and the head must say the connection ends
                    self.assertEqual(r.header("Connection"), "close", r)
                    self.assertIsNone(r.header("Keep-Alive"), r)
                    self.assertTrue(c.closed_by_peer(timeout=5), "connection kept open")
                finally:
                    c.close()
                self.assertEqual(r.status, status, "%r (no 100 Continue expected)" % r)
                self.assert_nothing_new(before, label)

    def test_expect_100_on_a_get_with_a_body_says_close(self):
        c = self.srv.connect()
        try:
            c.send(b"GET /index.html HTTP/1.1\r\nHost: " + self.srv.hostport().encode() +
                   b"\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
            r = c.read_response("GET")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header("Connection"), "close", r)
            self.assertTrue(c.closed_by_peer(timeout=5), "connection kept open")
        finally:
            c.close()

    def test_keep_alive_two_uploads(self):
        bodies = [b'{"first": 1}', b'[ "second", 2 ]\n']
        c = self.srv.connect()
        names = []
        try:
            for b in bodies:
                t0 = time.time()
                c.send(upload_request(self.srv, b))
                r = c.read_response("POST")
                t1 = time.time()
                self.assertNotEqual((r.header("Connection") or "").lower(), "close", r)
                names.append(self.check_created(r, b, t0, t1))
        finally:
            c.close()
        self.assertNotEqual(names[0], names[1])

    def test_chunked_large_random_sizes(self):
        import random
        rnd = random.Random(1234)
        parts = [b"["]
        for i in range(20000):
            parts.append(('{"i":%d,"s":"%s","u":"é😀中"},' % (i, "q" * rnd.randrange(0, 60))).encode())
        parts.append(b"null]")
        text = b"".join(parts)
        self.assertGreater(len(text), 1 << 20)
        pieces, i = [], 0
        while i < len(text):
            n = rnd.choice((1, 2, 3, 7, 255, 4096, 65535, 100003))
            pieces.append(text[i:i + n])
            i += n
        ext = {k: b";k%d=v" % k for k in range(0, len(pieces), 17)}
        body = chunked(pieces, ext)
        c = self.srv.connect()
        try:
            t0 = time.time()
            c.send(upload_request(self.srv, b"", headers={"Transfer-Encoding": "chunked"}))
            k = 0
            while k < len(body):
                n = rnd.randrange(1, 70000)
                c.send(body[k:k + n])
                k += n
            r = c.read_response("POST")
            t1 = time.time()
        finally:
            c.close()
        self.check_created(r, text, t0, t1)

    def test_malformed_chunked_framing_400_nothing_stored(self):
        for label, body in [("bad size", b"3\r\n[1,\r\nzz\r\n"),
                            ("no CRLF after data", b"3\r\n[1,XX2\r\n2]\r\n0\r\n\r\n"),
                            ("size with 0x prefix", b"3\r\n[1,\r\n0x2\r\n2]\r\n0\r\n\r\n")]:
            with self.subTest(label):
                raw = upload_request(self.srv, body, headers={"Transfer-Encoding": "chunked"})
                self.refused(raw, 400, label)

    def test_empty_chunked_body_400(self):
        raw = upload_request(self.srv, b"0\r\n\r\n", headers={"Transfer-Encoding": "chunked"})
        r = self.refused(raw, 400, "empty chunked body")
        self.assertEqual(error_offset(r.body), 0, r.body)

    def test_expect_100_keeps_connection(self):
        # A successful upload after 100 Continue is an ordinary 201 on a
        # persistent HTTP/1.1 connection (SPEC §2 "Connections").
        c = self.srv.connect()
        try:
            for k in range(2):
                body = b'{"expect_round": %d}' % k
                t0 = time.time()
                c.send(upload_request(self.srv, b"", headers={"Content-Length": str(len(body)),
                                                              "Expect": "100-continue"}))
                interim = c.read_response("POST")
                self.assertEqual(interim.status, 100, interim)
                c.send(body)
                r = c.read_response("POST")
                t1 = time.time()
                self.check_created(r, body, t0, t1)
                self.assertEqual((r.header("Connection") or "").lower(), "keep-alive",
                                 "201 after 100 Continue closes the connection: %r" % r)
        finally:
            c.close()

    def test_expect_100_with_empty_body_gets_final_status(self):
        # Content-Length: 0 cannot succeed (empty input is not JSON), so no
        # 100 Continue: "only when the request can succeed" (SPEC §4).
        before = listing(self.updir)
        c = self.srv.connect()
        try:
            c.send(upload_request(self.srv, b"", headers={"Content-Length": "0",
                                                          "Expect": "100-continue"}))
            r = c.read_response("POST")
        finally:
            c.close()
        self.assertEqual(r.status, 400, "%r (no 100 Continue expected)" % r)
        self.assert_nothing_new(before, "expect with an empty body")

    def test_expect_ignored_for_http10(self):
        body = b'{"v": "1.0"}'
        raw = (b"POST /upload HTTP/1.0\r\nHost: %s\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % (self.srv.hostport().encode(), len(body)))
        c = self.srv.connect()
        try:
            t0 = time.time()
            c.send(raw + body)
            r = c.read_response("POST")
            t1 = time.time()
        finally:
            c.close()
        self.check_created(r, body, t0, t1)  # directly, no 100 for HTTP/1.0

    def test_pipelined_uploads_and_get(self):
        bodies = [b'{"pipe": 1}', b'["pipe", 2]']
        c = self.srv.connect()
        try:
            t0 = time.time()
            c.send(upload_request(self.srv, bodies[0]) + upload_request(self.srv, bodies[1]) +
                   build_request("GET", "/sample.txt", self.srv.hostport()))
            r1 = c.read_response("POST")
            r2 = c.read_response("POST")
            r3 = c.read_response("GET")
            t1 = time.time()
        finally:
            c.close()
        n1 = self.check_created(r1, bodies[0], t0, t1)
        n2 = self.check_created(r2, bodies[1], t0, t1)
        self.assertNotEqual(n1, n2)
        self.assertEqual((r3.status, r3.body), (200, b"hello sample\n"))

    def test_half_close_after_body(self):
        body = b'{"half": "close"}'
        c = self.srv.connect()
        try:
            t0 = time.time()
            c.send(upload_request(self.srv, body))
            c.sock.shutdown(socket.SHUT_WR)
            r = c.read_response("POST")
            t1 = time.time()
        finally:
            c.close()
        self.check_created(r, body, t0, t1)

    def test_disconnect_variants_leave_nothing(self):
        import struct
        for label, extra, raw_tail, rst in [
                ("chunked, FIN", {"Transfer-Encoding": "chunked"},
                 b"%x\r\n" % len(SPILL) + SPILL + b"\r\n3\r\n", False),
                ("length, RST", {"Content-Length": SPILL_CL}, SPILL, True)]:
            with self.subTest(label):
                before = listing(self.updir)
                c = self.srv.connect()
                try:
                    c.send(upload_request(self.srv, b"", headers=extra) + raw_tail)
                    self.assertTrue(poll(lambda: temps(self.updir, self.srv) - before),
                                    "no temporary file while the body streams in")
                    if rst:
                        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                finally:
                    c.close()
                self.assertTrue(poll(lambda: listing(self.updir) == before),
                                "left behind: %r" % (listing(self.updir) - before))

    def test_temp_files_never_served(self):
        planted = os.path.join(self.updir, ".upload-x.tmp")
        with open(planted, "wb") as f:
            f.write(b'{"secret":"temp"}')
        try:
            for path in ("/uploads/.upload-x.tmp", "/uploads/%2eupload-x.tmp"):
                with self.subTest(path=path):
                    r = self.srv.get(path)
                    self.assertEqual(r.status, 404, r)
                    self.assertNotIn(b"secret", r.body)
        finally:
            os.unlink(planted)
        # The temporary file of an upload in flight is not served either.
        before = temps(self.updir, self.srv)
        c = self.srv.connect()
        try:
            c.send(upload_request(self.srv, b"", headers={"Content-Length": SPILL_CL}) +
                   b'["in flight",' + SPILL[1:])
            new = poll(lambda: temps(self.updir, self.srv) - before)
            self.assertTrue(new, "no temporary file appeared for an upload in flight")
            for t in new:
                if t.startswith("fd:"):
                    continue  # unnamed: nothing to ask for
                r = self.srv.get("/uploads/" + t)
                self.assertEqual(r.status, 404, (t, r))
                self.assertNotIn(b"in flight", r.body)
        finally:
            c.close()
        self.assertTrue(poll(lambda: not (temps(self.updir, self.srv) - before)),
                        "temporary file left after the client went away")

    def test_disconnect_mid_body_leaves_nothing(self):
        before = listing(self.updir)
        start = len(self.srv.log)
        c = self.srv.connect()
        try:
            c.send(upload_request(self.srv, b"", headers={"Content-Length": SPILL_CL}))
            c.send(SPILL)  # a valid prefix, long enough to reach the disk
            # The server has begun the upload once its temporary file exists.
            self.assertTrue(poll(lambda: temps(self.updir, self.srv) - before),
                            "no temporary file while the body streams in")
        finally:
            c.close()
        self.assertTrue(poll(lambda: listing(self.updir) == before),
                        "left behind after a disconnect: %r" % (listing(self.updir) - before))
        m = self.srv.wait_log(r"(?i)(mid-body|disconnect|client (left|gone|closed)|nothing stored)",
                              start=start)
        self.assertIsNotNone(m, "server log does not mention the abandoned upload: %r"
                             % self.srv.log[start:])


# ---------------------------------------------------------------- token

class UploadToken(OwnServer):
    server_args = ("--upload-token", TOKEN)

    def test_missing_or_wrong_token_401(self):
        cases = [("no Authorization", None), ("wrong token", "Bearer wrong"),
                 ("prefix of token", "Bearer s3cre"), ("token plus a byte", "Bearer s3cretX"),
                 ("empty bearer", "Bearer "), ("Basic scheme", "Basic czNjcmV0"),
                 ("Basic with the token", "Basic s3cret"), ("token without scheme", "s3cret"),
                 ("other case token", "Bearer S3CRET")]
        for label, auth in cases:
            with self.subTest(label):
                hdrs = {"Authorization": auth} if auth is not None else None
                r = self.refused(upload_request(self.srv, b'{"a":1}', headers=hdrs), 401, label)
                wa = r.header("WWW-Authenticate")
                self.assertIsNotNone(wa, r)
                self.assertTrue(re.match(r"(?i)^Bearer\b", wa), wa)

    def test_token_checked_before_type_and_expect(self):
        r = self.refused(upload_request(self.srv, b"hello", ctype="text/plain"), 401, "no token, bad type")
        self.assertIsNotNone(r.header("WWW-Authenticate"))
        before = listing(self.updir)
        c = self.srv.connect()
        try:
            c.send(upload_request(self.srv, b"", headers={"Content-Length": "10", "Expect": "100-continue",
                                                          "Authorization": "Bearer nope"}))
            r = c.read_response("POST")
        finally:
            c.close()
        self.assertEqual(r.status, 401, "%r (no 100 Continue expected)" % r)
        self.assert_nothing_new(before, "expect with a wrong token")

    def test_several_authorization_fields_401(self):
        for auths in (("Bearer " + TOKEN, "Bearer wrong"), ("Bearer wrong", "Bearer " + TOKEN),
                      ("Bearer " + TOKEN, "Bearer " + TOKEN)):
            with self.subTest(auths=auths):
                fields = [("Authorization", a) for a in auths] + [("Content-Type", "application/json")]
                r = self.refused(upload_with_fields(self.srv, fields), 401, "Authorization %r" % (auths,))
                self.assertIsNotNone(r.header("WWW-Authenticate"), r)

    def test_right_token_201(self):
        for auth in ("Bearer " + TOKEN, "bearer " + TOKEN):
            with self.subTest(auth=auth):
                self.upload_ok(b'{"authorized": true}', headers={"Authorization": auth})


# ---------------------------------------------------------------- limits

class UploadLimit(OwnServer):
    server_args = ("--max-upload", "1k")

    def test_exactly_the_limit_is_accepted(self):
        body = b"[" + b"1," * 510 + b"1 ]"
        self.assertEqual(len(body), 1024)
        self.upload_ok(body)

    def test_content_length_over_limit_413_before_body(self):
        for cl in ("1025", "99999999999"):
            with self.subTest(cl=cl):
                before = listing(self.updir)
                c = self.srv.connect()
                try:
                    c.send(upload_request(self.srv, b"", headers={"Content-Length": cl}))
                    r = c.read_response("POST")  # no body was sent at all
                    self.assertEqual(r.status, 413, r)
                    self.assertTrue(c.closed_by_peer(), "connection not closed after 413")
                finally:
                    c.close()
                self.assert_nothing_new(before, "CL %s" % cl)

    def test_expect_100_too_large_gets_413(self):
        before = listing(self.updir)
        c = self.srv.connect()
        try:
            c.send(upload_request(self.srv, b"", headers={"Content-Length": "5000",
                                                          "Expect": "100-continue"}))
            r = c.read_response("POST")
            self.assertEqual(r.status, 413, "%r (no 100 Continue expected)" % r)
            self.assertTrue(c.closed_by_peer(), "connection not closed after 413")
        finally:
            c.close()
        self.assert_nothing_new(before, "expect, too large")

    def test_chunked_crossing_limit_413(self):
        before = listing(self.updir)
        # 3 chunks of 400 bytes of a valid JSON prefix: 1200 bytes, and no
        # last chunk, so the 413 must come as soon as the limit is crossed.
        prefix = (b"[" + b"1," * 600)[:1200]
        pieces = [prefix[i:i + 400] for i in range(0, 1200, 400)]
        body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces)
        self.chunked_413(body)
        self.assert_nothing_new(before, "chunked over the limit")

    def chunked_413(self, body):
        """A chunked upload of body (unfinished) gets 413 and a close."""
        c = self.srv.connect()
        try:
            c.send(upload_request(self.srv, body, headers={"Transfer-Encoding": "chunked"}))
            r = c.read_response("POST")
            self.assertEqual(r.status, 413, r)
            self.assertTrue(c.closed_by_peer(), "connection not closed after 413")
        finally:
            c.close()

    def test_chunk_declaring_more_than_the_limit_413_at_once(self):
        # The chunk's size line already says it cannot fit: 413 with the
        # first bytes of it, not after 1 KiB of it has arrived. The two
        # sizes: just over the limit after a first chunk, and the largest
        # size 64 bits can hold.
        for first, size in ((b"200\r\n" + b"[" + b"1," * 255 + b"1\r\n", 0x201),
                            (b"", 0xffffffffffffffff)):
            with self.subTest(size=size):
                before = listing(self.updir)
                self.chunked_413(first + b"%x\r\n" % size + b",2,3")
                self.assert_nothing_new(before, "chunk size over the limit")


class UploadStall(OwnServer):
    server_args = ("--keepalive-timeout", "1")

    def test_stalled_body_closed_and_nothing_stored(self):
        before = listing(self.updir)
        c = self.srv.connect()
        try:
            c.send(upload_request(self.srv, b"", headers={"Content-Length": SPILL_CL}) + SPILL)
            self.assertTrue(poll(lambda: temps(self.updir, self.srv) - before),
                            "no temporary file while the body streams in")
            # README: a body that stalls past --keepalive-timeout closes.
            self.assertTrue(c.closed_by_peer(timeout=6), "stalled upload not closed: %r" % c.buf)
        finally:
            c.close()
        self.assertTrue(poll(lambda: listing(self.updir) == before),
                        "left behind after a stall: %r" % (listing(self.updir) - before))


class UploadIoError(OwnServer):
    def test_uploads_dir_gone_500(self):
        shutil.rmtree(self.updir)
        try:
            r = post(self.srv, b'{"x": 1}')
            self.assertEqual(r.status, 500, (r, r.body))
            self.assertIsNone(r.header("Location"))
            self.assertFalse(os.path.exists(self.updir), "the server recreated %s" % self.updir)
        finally:
            os.makedirs(self.updir, exist_ok=True)


# ---------------------------------------------------------------- concurrency

class UploadConcurrent(OwnServer):
    threads = 4

    def test_64_concurrent_uploads(self):
        n = 64
        barrier = threading.Barrier(n, timeout=harness.TIMEOUT)
        results = [None] * n
        bodies = [('{"client": %d, "pad": "%s", "u": "é😀"}' % (i, "x" * (i * 37))).encode()
                  for i in range(n)]

        def one(i):
            try:
                raw = upload_request(self.srv, bodies[i])
                c = self.srv.connect()
                try:
                    barrier.wait()
                    t0 = time.time()
                    c.send(raw)
                    r = c.read_response("POST")
                    results[i] = (r, t0, time.time())
                finally:
                    c.close()
            except Exception as e:  # reported below
                results[i] = e

        ths = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in ths:
            t.start()
        for t in ths:
            t.join(60)
        names = []
        for i, res in enumerate(results):
            self.assertIsInstance(res, tuple, "client %d: %r" % (i, res))
            r, t0, t1 = res
            names.append(self.check_created(r, bodies[i], t0, t1))
        self.assertEqual(len(set(names)), n, "names are not distinct")
        self.assertFalse(temps(self.updir))


# ---------------------------------------------------------------- big body

class UploadBig(OwnServer):
    server_args = ("--max-upload", "200M")
    threads = 2

    def test_100mib_streamed_in_bounded_memory(self):
        total = 100 << 20
        elem = '{"id":%d,"s":"stream é 😀 \\n \\u00e9","n":-12.5e3,"b":[true,false,null]},'
        piece_n = 1 << 20
        pid = self.srv.proc.pid
        samples, stop = [], threading.Event()

        def sampler():
            while not stop.is_set():
                v = vm_kb(pid, "VmRSS")
                if v is not None:
                    samples.append(v)
                stop.wait(0.02)

        th = threading.Thread(target=sampler, daemon=True)
        h = hashlib.sha256()
        c = self.srv.connect(timeout=60)
        try:
            c.send(upload_request(self.srv, b"", headers={"Content-Length": str(total)}))
            th.start()
            c.send(b"[")
            h.update(b"[")
            sent, buf, i = 1, bytearray(), 0
            while True:
                left = total - sent - len(buf)
                e = (elem % i).encode()
                i += 1
                last = len(e) + 2 > left
                if last:
                    # The last value, padded with whitespace to the size.
                    buf += b" " * (left - 2) + b"0]"
                else:
                    buf += e
                if last or len(buf) >= piece_n:
                    c.send(bytes(buf))
                    h.update(buf)
                    sent += len(buf)
                    buf = bytearray()
                if last:
                    break
            self.assertEqual(sent, total)
            t1 = time.time()
            r = c.read_response("POST")
            t2 = time.time()
        finally:
            stop.set()
            c.close()
        th.join(5)
        hwm = vm_kb(pid, "VmHWM")
        self.assertEqual(r.status, 201, (r, r.body))
        name = LOCATION_RE.match(r.header("Location")).group(1)
        path = os.path.join(self.updir, name)
        self.assertEqual(os.path.getsize(path), total)
        fh = hashlib.sha256()
        with open(path, "rb") as f:
            for blk in iter(lambda: f.read(1 << 20), b""):
                fh.update(blk)
        self.assertEqual(fh.hexdigest(), h.hexdigest(), "stored 100 MiB body differs")
        self.assertGreater(len(samples), 5, "too few RSS samples")
        peak = max(samples + ([hwm] if hwm else []))
        self.assertLess(peak, 64 * 1024, "server RSS reached %d KiB during a 100 MiB upload" % peak)
        self.assertIsNotNone(self.srv.wait_log(re.escape(name), timeout=5))
        self.assertFalse(temps(self.updir))


# ---------------------------------------------------------------- disk full

class UploadDiskFull(UploadCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to mount a small tmpfs")
        self.base = tempfile.mkdtemp(prefix="mthttpd-full-")
        self.updir = os.path.join(self.base, "up")
        os.mkdir(self.updir)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", self.updir],
                           capture_output=True, timeout=20)
        if p.returncode != 0:
            shutil.rmtree(self.base, ignore_errors=True)
            self.skipTest("cannot mount a tmpfs: %s" % p.stderr.decode(errors="replace").strip())
        self.root = self.fresh_root()
        self.srv = self.start_server("--uploads", self.updir, root=self.root)

    def tearDown(self):
        self.srv.stop()
        subprocess.run(["umount", self.updir], capture_output=True, timeout=20)
        if os.path.ismount(self.updir):
            subprocess.run(["umount", "-l", self.updir], capture_output=True, timeout=20)
        shutil.rmtree(self.base, ignore_errors=True)

    def test_disk_full_507_leaves_nothing(self):
        body = b"[" + b'"0123456789abcdefghijklmnopqrstuvwxyz",' * 5400 + b"1]"
        self.assertGreater(len(body), 200000)
        c = self.srv.connect()
        errs = []

        def sender():
            try:
                c.send(upload_request(self.srv, body))
            except OSError as e:  # the server may stop reading after 507
                errs.append(e)

        th = threading.Thread(target=sender, daemon=True)
        try:
            th.start()
            r = c.read_response("POST")
        finally:
            th.join(harness.TIMEOUT)
            c.close()
        self.assertEqual(r.status, 507, (r, r.body))
        self.assertTrue(poll(lambda: listing(self.updir) == set(), timeout=3),
                        "left on the full disk: %r" % listing(self.updir))
        # The space was given back: a small upload fits again.
        self.upload_ok(b'{"small": true}')


# ---------------------------------------------------------------- crash

class UploadCrash(UploadCase):
    named_temps = False

    def setUp(self):
        self.root = self.fresh_root()
        self.updir = tempfile.mkdtemp(prefix="mthttpd-crash-up-")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.stop(sig=signal.SIGKILL)
        shutil.rmtree(self.updir, ignore_errors=True)

    def start(self):
        s = self.start_server("--uploads", self.updir, root=self.root, threads=2,
                              extra_env=no_tmpfile_env() if self.named_temps else None)
        self.servers.append(s)
        return s

    def test_kill_9_then_restart(self):
        srv = self.start()
        self.srv = srv
        # Uploads left half-sent: their temporary files exist at the kill.
        partial = []
        for k in range(3):
            c = srv.connect()
            c.send(upload_request(srv, b"", headers={"Content-Length": SPILL_CL}) +
                   b'{"partial": %d, "pad": "' % k + b"p" * 70000)
            partial.append(c)
        self.assertTrue(poll(lambda: len(temps(self.updir, srv)) >= 3),
                        "no temporary files for uploads in flight: %r" % listing(self.updir))
        stale = temps(self.updir)
        # Named temporary files only where O_TMPFILE is missing.
        self.assertEqual(len(stale) >= 3, self.named_temps, stale)

        done, cond = [], threading.Condition()
        stop = threading.Event()

        def looper(t):
            seq = 0
            while not stop.is_set():
                body = ('{"t": %d, "seq": %d, "pad": "%s"}' % (t, seq, "z" * 20000)).encode()
                seq += 1
                try:
                    r = post(srv, body)
                except (OSError, EOFError, AssertionError):
                    return
                if r.status != 201:
                    return
                with cond:
                    done.append((r, body))
                    cond.notify_all()

        ths = [threading.Thread(target=looper, args=(t,), daemon=True) for t in range(4)]
        for t in ths:
            t.start()
        with cond:
            ok = cond.wait_for(lambda: len(done) >= 12, timeout=20)
        self.assertTrue(ok, "uploads did not complete before the kill: %d" % len(done))
        srv.proc.send_signal(signal.SIGKILL)  # while the loopers upload
        srv.proc.wait(harness.TIMEOUT)
        stop.set()
        for t in ths:
            t.join(harness.TIMEOUT)
        for c in partial:
            c.close()
        self.assertTrue(stale <= listing(self.updir), "temporary files vanished before restart")
        if not self.named_temps:
            # O_TMPFILE: a crash leaves nothing at all to clean up.
            self.assertFalse(temps(self.updir), listing(self.updir))
        with cond:
            answered = list(done)

        srv2 = self.start()
        self.srv = srv2
        left = temps(self.updir)
        self.assertFalse(left, "temporary files remain after restart: %r" % left)
        names = set()
        for r, body in answered:
            self.assertEqual(r.status, 201)
            name = LOCATION_RE.match(r.header("Location")).group(1)
            names.add(name)
            with open(os.path.join(self.updir, name), "rb") as f:
                self.assertEqual(f.read(), body, "%s damaged by the crash" % name)
        self.assertEqual(len(names), len(answered))
        # Only complete, valid uploads ever carry a final name.
        for n in listing(self.updir):
            self.assertTrue(NAME_RE.match(n), "unexpected file %r after restart" % n)
        # And the restarted server works.
        self.upload_ok(b'{"after": "restart"}')


class UploadNamedTemps(OwnServer):
    """Where O_TMPFILE is missing: the same guarantees with named files."""
    named_temps = True
    test_disconnect_variants_leave_nothing = UploadBasics.test_disconnect_variants_leave_nothing
    test_temp_files_never_served = UploadBasics.test_temp_files_never_served
    test_disconnect_mid_body_leaves_nothing = UploadBasics.test_disconnect_mid_body_leaves_nothing

    def test_upload_and_name_format(self):
        self.upload_ok(b'{"named": "temps"}')
        self.assertFalse(temps(self.updir), listing(self.updir))


class UploadCrashNamedTemps(UploadCrash):
    """The same where the filesystem lacks O_TMPFILE (NFS): named temporary
    files carry host and pid; a restart removes those of dead processes of
    this host only."""
    named_temps = True

    def test_only_dead_processes_temps_of_this_host_are_removed(self):
        host = re.sub(r"[^A-Za-z0-9._]", "_", socket.gethostname())[:63]
        dead = subprocess.Popen(["true"])
        dead.wait()
        names = {
            "mine_dead": ".upload-%s-%d-aaaaaaaaaaaa.tmp" % (host, dead.pid),
            "mine_alive": ".upload-%s-%d-bbbbbbbbbbbb.tmp" % (host, os.getpid()),
            "other_host": ".upload-otherhost-%d-cccccccccccc.tmp" % dead.pid,
            "legacy_new": ".upload-dddddddddddd.tmp",
            "legacy_old": ".upload-eeeeeeeeeeee.tmp",
        }
        for n in names.values():
            with open(os.path.join(self.updir, n), "wb") as f:
                f.write(b"{")
        old = time.time() - 2 * 3600
        os.utime(os.path.join(self.updir, names["legacy_old"]), (old, old))
        srv = self.start()
        self.srv = srv
        left = listing(self.updir)
        self.assertNotIn(names["mine_dead"], left)
        self.assertNotIn(names["legacy_old"], left)
        for k in ("mine_alive", "other_host", "legacy_new"):
            self.assertIn(names[k], left, k)
        self.assertIsNotNone(srv.wait_log(r"removed 2 temporary upload file", timeout=3), srv.log)
        self.upload_ok(b'{"named": true}')
        self.assertIsNotNone(srv.wait_log(r"no O_TMPFILE", timeout=3), srv.log)


class UploadSharedDirectory(UploadCase):
    """Several instances on one uploads directory (issue 12): no lock, no
    clean-up of each other's files, every upload stored exactly once."""

    def test_three_instances_share_uploads(self):
        root = self.fresh_root()
        updir = tempfile.mkdtemp(prefix="mthttpd-shared-up-")
        self.addCleanup(shutil.rmtree, updir, True)
        srvs = []
        for i in range(3):
            s = self.start_server("--uploads", updir, root=root, threads=1,
                                  extra_env=no_tmpfile_env() if i == 2 else None)
            srvs.append(s)
        sent = {}
        lock = threading.Lock()

        def worker(k):
            for j in range(20):
                body = ('{"instance": %d, "n": %d}' % (k % 3, j)).encode()
                r = post(srvs[k % 3], body)
                self.assertEqual(r.status, 201, r)
                name = LOCATION_RE.match(r.header("Location")).group(1)
                with lock:
                    self.assertNotIn(name, sent)
                    sent[name] = body

        ths = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
        for t in ths:
            t.start()
        for t in ths:
            t.join(60)
        self.assertEqual(len(sent), 120)
        for name, body in sent.items():
            with open(os.path.join(updir, name), "rb") as f:
                self.assertEqual(f.read(), body)
        self.assertEqual({n for n in listing(updir) if not TMP_RE.match(n)}, set(sent))
        self.assertFalse(temps(updir), listing(updir))


if __name__ == "__main__":
    unittest.main()
