"""Issue 11 (hardening): the holes an attack run found, each with a check
that fails on the behaviour the issue reported.

 1. a multipart range answer is not held back by the kernel's cork timer;
 2. a client that never reads is closed once its send buffer stays full;
 4. an Expect list with 100-continue and an unknown member never desyncs
    the connection;
 5. If-Match / If-None-Match lists split over field lines longer than
    1 KiB together are evaluated whole;
 7. a request body must arrive at --body-min-rate after a 20 s grace;
 slowhttptest's slow-headers, slow-body and slow-read attacks leave the
 server answering a normal client within 100 ms."""
import fcntl
import math
import os
import re
import select
import shutil
import socket
import struct
import subprocess
import tempfile
import termios
import threading
import time
import unittest

import harness
from harness import ServerTest, build_request

UPLOAD_RE = re.compile(r"^upload_.*\.json$")
TMP_RE = re.compile(r"^\.upload-.*\.tmp$")
TCP_ESTABLISHED = 1
SO_TIMESTAMP = 29  # Linux asm-generic and x86; Python does not name it


def listing(d):
    try:
        return set(os.listdir(d))
    except FileNotFoundError:
        return set()


def poll(cond, timeout=harness.TIMEOUT, step=0.02):
    """Calls cond() until it returns a true value or timeout passes; returns
    the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


def tcp_state(sock):
    """The kernel's TCP state of sock (1 is ESTABLISHED), from TCP_INFO."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]


def inq(sock):
    """Bytes waiting unread in sock's receive queue."""
    return int.from_bytes(fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0" * 4), "little")


def parse_multipart(body, boundary):
    """The parts of a multipart body as a list of (headers dict with
    lower-case names, data); fails on anything not well-formed."""
    pieces = (b"\r\n" + body).split(b"\r\n--" + boundary)
    if len(pieces) < 2:
        raise AssertionError("no boundary %r in %r" % (boundary, body))
    # pieces[0] is the preamble (RFC 2046 §5.1.1), ignored.
    last = pieces[-1]
    if not last.startswith(b"--") or last[2:] not in (b"", b"\r\n"):
        raise AssertionError("no closing boundary at the end: %r" % last)
    parts = []
    for p in pieces[1:-1]:
        if not p.startswith(b"\r\n"):
            raise AssertionError("boundary line not ended by CRLF: %r" % p)
        head, sep, data = p[2:].partition(b"\r\n\r\n")
        if not sep:
            raise AssertionError("part without a blank line: %r" % p)
        fields = {}
        for line in head.split(b"\r\n"):
            k, colon, v = line.partition(b":")
            if not colon or not k:
                raise AssertionError("bad part field %r" % line)
            fields[k.decode("latin-1").lower()] = v.strip().decode("latin-1")
        parts.append((fields, data))
    return parts


# ------------------------------------------------------------------ 1

class TestMultipartLatency(ServerTest):
    """Issue 11.1: the closing boundary of a multipart/byteranges answer
    went out with MSG_MORE on a keep-alive connection, and the kernel held
    it ~200 ms until its cork timer fired."""
    DATA = b"0123456789abcdef"
    root_files = {"ten.txt": DATA}

    def test_two_ranges_answered_at_once_five_times(self):
        req = build_request("GET", "/ten.txt", self.srv.hostport(), {"Range": "bytes=0-0,2-2"})
        c = self.srv.connect()
        try:
            for i in range(5):
                t0 = time.monotonic()
                c.send(req)
                r = c.read_response()  # framed by Content-Length: ends with the closing boundary
                dt = time.monotonic() - t0
                self.assertEqual(r.status, 206, r)
                self.assertEqual(r.header("Connection"), "keep-alive", r)
                m = re.match(r"^multipart/byteranges; ?boundary=(\"?)([^\";]+)\1$",
                             r.header("Content-Type") or "")
                self.assertIsNotNone(m, r)
                parts = parse_multipart(r.body, m.group(2).encode())
                self.assertEqual(len(parts), 2, parts)
                for (fields, data), (a, want) in zip(parts, ((0, b"0"), (2, b"2"))):
                    self.assertEqual(fields.get("content-range"),
                                     "bytes %d-%d/%d" % (a, a, len(self.DATA)), fields)
                    self.assertIn("content-type", fields)
                    self.assertEqual(data, want)
                self.assertLess(dt, 0.050, "response %d took %.0f ms (the closing boundary "
                                "held back?)" % (i + 1, dt * 1000))
        finally:
            c.close()


# ------------------------------------------------------------------ 2

class TestClientThatNeverReads(ServerTest):
    """Issue 11.2: a client that asks for a big file, never reads and sends
    a byte every 0.5 s must be closed --keepalive-timeout after its send
    buffer filled (each byte used to restart the write timer)."""
    KEEPALIVE = 3
    server_args = ("--keepalive-timeout", str(KEEPALIVE))

    @classmethod
    def prepare_root(cls):
        with open(os.path.join(cls.root, "big.txt"), "wb") as f:
            f.truncate(64 << 20)  # sparse: reads as zeros

    def test_closed_within_timeout_after_send_buffer_full(self):
        srv = self.srv
        n0 = len(srv.log)
        c = srv.connect()
        # What the client trickles: the next request, one byte at a time.
        trickle = build_request("GET", "/index.html", srv.hostport())
        try:
            c.send(build_request("GET", "/big.txt", srv.hostport()))
            # The send buffer is full when our receive queue stops growing.
            t_full, last = time.monotonic(), -1
            while time.monotonic() - t_full < 0.3:
                n = inq(c.sock)
                if n != last:
                    t_full, last = time.monotonic(), n
                time.sleep(0.01)
            self.assertGreater(last, 0, "nothing of the response arrived")
            closed_at = how = None
            sent = 0
            next_byte = time.monotonic()
            deadline = t_full + 12
            while time.monotonic() < deadline:
                if srv.wait_log("stalled", timeout=0.1, start=n0):
                    closed_at, how = time.monotonic(), "server log"
                    break
                if tcp_state(c.sock) != TCP_ESTABLISHED:
                    closed_at, how = time.monotonic(), "TCP state"
                    break
                if time.monotonic() >= next_byte:
                    try:
                        c.sock.send(trickle[sent % len(trickle):][:1])
                        sent += 1
                    except OSError:
                        closed_at, how = time.monotonic(), "send error"
                        break
                    next_byte += 0.5
            self.assertIsNotNone(closed_at, "still connected %.0f s after the send buffer filled "
                                 "(%d bytes trickled)" % (time.monotonic() - t_full, sent))
            took = closed_at - t_full
            # The log line is seen at once; the socket only when our next
            # byte draws the reset (up to one 0.5 s tick later).
            slack = 0.2 if how == "server log" else 0.7
            self.assertLessEqual(took, self.KEEPALIVE + 1 + slack,
                                 "closed %.2f s after the send buffer filled (seen by %s)" % (took, how))
            # The socket is really gone: a byte more draws a reset.
            def dead():
                try:
                    c.sock.send(b"\r")
                except OSError:
                    return True
                return tcp_state(c.sock) != TCP_ESTABLISHED
            self.assertTrue(poll(dead, timeout=3, step=0.1), "the server logged the stall but "
                            "the connection is still established")
        finally:
            c.close()


# ------------------------------------------------------------------ 4

class TestExpectLists(ServerTest):
    """Issue 11.4: `Expect: foo, 100-continue` got 417 with keep-alive, and
    the next request was eaten as the refused body (400)."""
    BODY = b'{"expect": "list", "n": [1, 2, 3]}'
    VALUES = ("foo, 100-continue", "100-continue, foo")

    @classmethod
    def prepare_root(cls):
        cls.updir = os.path.join(cls.root, "uploads")

    def head(self, expect):
        return build_request("POST", "/upload", self.srv.hostport(),
                             {"Content-Type": "application/json",
                              "Content-Length": str(len(self.BODY)), "Expect": expect})

    def check_next(self, c, r, what):
        """After the 417 r: a close is announced and done, or the next
        request (already sent, or sent now) gets its 200."""
        if r.header("Connection") == "close":
            self.assertTrue(c.closed_by_peer(timeout=5), "%s: 417 said close, connection kept" % what)
            return
        self.assertEqual(r.header("Connection"), "keep-alive", "%s: %r" % (what, r))
        try:
            nxt = c.read_response()
        except (EOFError, ConnectionResetError):
            self.fail("%s: 417 said keep-alive, then the next request got no answer" % what)
        self.assertEqual(nxt.status, 200, "%s: the request after the 417 (eaten as its body?): %r"
                         % (what, nxt))
        self.assertEqual(nxt.body, b"<!doctype html><title>home</title><p>home</p>\n")

    def assert_nothing_stored(self, before, what):
        new = {n for n in listing(self.updir) - before if UPLOAD_RE.match(n) or TMP_RE.match(n)}
        self.assertEqual(new, set(), "%s: stored after a 417" % what)

    def test_body_not_sent_yet(self):
        """The client waits for 100 Continue, gets 417, and (if the
        connection stays) sends its next request instead of the body."""
        for value in self.VALUES:
            with self.subTest(expect=value):
                before = listing(self.updir)
                c = self.srv.connect()
                try:
                    c.send(self.head(value))
                    r = c.read_response("POST")
                    self.assertEqual(r.status, 417, r)
                    if r.header("Connection") != "close":
                        c.send(build_request("GET", "/index.html", self.srv.hostport()))
                    self.check_next(c, r, value)
                finally:
                    c.close()
                self.assert_nothing_stored(before, value)

    def test_body_sent_at_once_then_pipelined_get(self):
        """The client does not wait: head, body and a GET in one write. The
        GET is answered 200, or the connection ends; never a 400."""
        for value in self.VALUES:
            with self.subTest(expect=value):
                before = listing(self.updir)
                c = self.srv.connect()
                try:
                    c.send(self.head(value) + self.BODY +
                           build_request("GET", "/index.html", self.srv.hostport()))
                    r = c.read_response("POST")
                    self.assertEqual(r.status, 417, r)
                    self.check_next(c, r, value)
                finally:
                    c.close()
                self.assert_nothing_stored(before, value)


# ------------------------------------------------------------------ 5

class TestLongConditionalLists(ServerTest):
    """Issue 11.5: If-Match / If-None-Match field lines were joined into a
    1 KiB buffer; what did not fit was lost (412 where 200 was due, 200
    where 304 was due)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.srv.get("/index.html")
        assert r.status == 200 and r.header("ETag"), r
        cls.etag = r.header("ETag")
        cls.page = r.body

    @staticmethod
    def filler(first, last):
        return ", ".join('"x%04d"' % i for i in range(first, last + 1))

    def layouts(self, real):
        """(label, [field values]) with the real ETag (when real) only at
        the end of the last line, and the lines joined longer than 1 KiB."""
        tail = (", " + self.etag) if real else ""
        out = [("first line over 1 KiB", [self.filler(1, 130), self.filler(131, 140) + tail]),
               ("each line under 1 KiB", [self.filler(1, 80), self.filler(81, 150) + tail]),
               ("three lines", [self.filler(1, 100), self.filler(101, 200), self.filler(201, 210) + tail]),
               ("one line of 3 KiB", [self.filler(1, 330) + tail])]
        for label, values in out:
            joined = ", ".join(values)
            assert len(joined) > 1024, (label, len(joined))
            assert all(len(v) < 4096 for v in values)
        return out

    def send(self, name, values):
        raw = ("GET /index.html HTTP/1.1\r\nHost: %s\r\n" % self.srv.hostport() +
               "".join("%s: %s\r\n" % (name, v) for v in values) + "\r\n").encode()
        return self.srv.request(raw)

    def test_if_none_match_real_etag_in_second_line_304(self):
        for label, values in self.layouts(real=True):
            with self.subTest(label):
                r = self.send("If-None-Match", values)
                self.assertEqual(r.status, 304, r)
                self.assertEqual(r.header("ETag"), self.etag, r)
                self.assertEqual(r.body, b"")
        for label, values in self.layouts(real=False):
            with self.subTest(label + ", no match"):
                r = self.send("If-None-Match", values)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body, self.page)

    def test_if_match_real_etag_in_second_line_200(self):
        for label, values in self.layouts(real=True):
            with self.subTest(label):
                r = self.send("If-Match", values)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body, self.page)
        for label, values in self.layouts(real=False):
            with self.subTest(label + ", no match"):
                r = self.send("If-Match", values)
                self.assertEqual(r.status, 412, r)


# ------------------------------------------------------------------ 7

class TestSlowBodies(ServerTest):
    """Issue 11.7: --body-min-rate BYTES/S (default 500, 0 disables), as
    mod_reqtimeout's body=20,MinRate=500: a body must arrive within 20 s
    plus 1 s per MinRate bytes received, else 408 (when it can) and close.
    The two clients run at the same time, against two servers."""
    GRACE = 20
    class_server = False  # every test starts its own

    def test_body_min_rate_option(self):
        for value in ("0", "500", "2000"):
            with self.subTest(value=value):
                srv = self.start_server("--body-min-rate", value)
                try:
                    self.assertEqual(srv.get("/index.html").status, 200)
                finally:
                    srv.stop()
        for value in ("-1", "abc", ""):
            with self.subTest(value=value):
                p = subprocess.run([harness.BIN, "--port", "0", "--body-min-rate", value],
                                   capture_output=True, timeout=10)
                self.assertEqual(p.returncode, 2, p)
                self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)

    def trickler(self, res):
        """Two bytes every 1.5 s against the default rate: cut within 45 s,
        not before the grace is over; nothing left in the uploads dir."""
        root = self.fresh_root()
        srv = None
        try:
            srv = self.start_server(root=root)  # the default --body-min-rate
            updir = os.path.join(root, "uploads")
            c = srv.connect()
            t0 = time.monotonic()
            c.send(build_request("POST", "/upload", srv.hostport(),
                                 {"Content-Type": "application/json", "Content-Length": "10000"}))
            body = b"[" + b"1," * 5000
            sent, got, closed_at, how = 0, b"", None, None
            next_tick = t0
            c.sock.setblocking(False)
            while time.monotonic() - t0 < 45:
                now = time.monotonic()
                if now >= next_tick:
                    try:
                        c.sock.send(body[sent:sent + 2])
                        sent += 2
                    except (BrokenPipeError, ConnectionResetError):
                        closed_at, how = time.monotonic(), "send error"
                        break
                    next_tick += 1.5
                    continue
                readable, _, _ = select.select([c.sock], [], [], next_tick - now)
                if readable:
                    try:
                        data = c.sock.recv(65536)
                    except ConnectionResetError:
                        closed_at, how = time.monotonic(), "reset"
                        break
                    if not data:
                        closed_at, how = time.monotonic(), "EOF"
                        break
                    got += data
            c.close()
            res["elapsed"] = (closed_at or time.monotonic()) - t0
            res["closed"], res["how"], res["sent"], res["got"] = closed_at is not None, how, sent, got
            def left():
                return {n for n in listing(updir) if UPLOAD_RE.match(n) or TMP_RE.match(n)}
            poll(lambda: not left(), timeout=3)  # a removal may lag the close a little
            res["left"] = left()
        except Exception as e:  # reported by the test, not lost in the thread
            res["error"] = repr(e)
        finally:
            if srv is not None:
                srv.stop()

    def steady(self, res):
        """A slow but honest client, 8 KiB/s for ~25 s with
        --body-min-rate 2000: not cut, 201, the file holds its bytes."""
        root = self.fresh_root()
        srv = None
        try:
            srv = self.start_server("--body-min-rate", "2000", root=root)
            updir = os.path.join(root, "uploads")
            size = 25 * 8192
            prefix = b'{"slow": "'
            body = prefix + b"s" * (size - len(prefix) - 2) + b'"}'
            c = srv.connect()
            t0 = time.monotonic()
            c.send(build_request("POST", "/upload", srv.hostport(),
                                 {"Content-Type": "application/json", "Content-Length": str(size)}))
            piece = 2048  # every 0.25 s: 8 KiB/s
            for i, off in enumerate(range(0, size, piece)):
                wait = t0 + i * 0.25 - time.monotonic()
                if wait > 0:
                    r, _, _ = select.select([c.sock], [], [], wait)
                    if r:  # the server answered (or closed) before the body was all sent
                        break
                c.send(body[off:off + piece])
            r = c.read_response("POST")
            res["elapsed"] = time.monotonic() - t0
            c.close()
            res["status"], res["resp"] = r.status, r
            m = re.search(rb'"filepath":"/uploads/([^"]+)"', r.body)
            stored = None
            if m:
                with open(os.path.join(updir, m.group(1).decode()), "rb") as f:
                    stored = f.read()
            res["stored_ok"] = stored == body
        except Exception as e:
            res["error"] = repr(e)
        finally:
            if srv is not None:
                srv.stop()

    def test_trickled_body_cut_steady_slow_body_not(self):
        trick, steady = {}, {}
        threads = [threading.Thread(target=self.trickler, args=(trick,)),
                   threading.Thread(target=self.steady, args=(steady,))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        with self.subTest("2 bytes every 1.5 s, default rate"):
            self.assertNotIn("error", trick, trick)
            self.assertTrue(trick["closed"], "still connected after %.0f s (%d body bytes sent)"
                            % (trick["elapsed"], trick["sent"]))
            self.assertLessEqual(trick["elapsed"], 45, trick)
            self.assertGreaterEqual(trick["elapsed"], self.GRACE - 1,
                                    "cut after %.1f s, inside the %d s grace" % (trick["elapsed"], self.GRACE))
            if trick["got"]:
                self.assertRegex(trick["got"], rb"^HTTP/1\.1 408 ", trick["got"][:200])
            self.assertEqual(trick["left"], set(), "left in the uploads dir")
        with self.subTest("8 KiB/s for 25 s, --body-min-rate 2000"):
            self.assertNotIn("error", steady, steady)
            self.assertEqual(steady["status"], 201, steady["resp"])
            self.assertTrue(steady["stored_ok"], "stored file differs from the body sent")
            self.assertGreater(steady["elapsed"], self.GRACE + 3,
                               "the body took %.1f s: not past the grace period" % steady["elapsed"])


# ------------------------------------------------------------ slowhttptest

class TestSlowHttpTest(ServerTest):
    """slowhttptest's three slow modes, one after the other, each at most
    15 s, while a normal client GETs /index.html every 100 ms on fresh
    connections: every GET succeeds, their p99 under 100 ms."""
    LENGTH = 15
    CONNS = 300
    RATE = 100

    server_args = ("--header-timeout", "5", "--keepalive-timeout", "5",
                   "--max-conns", "4000", "--access-log", "off", "-q")
    root_files = {"big.txt": b"b" * (1 << 20)}

    @classmethod
    def setUpClass(cls):
        cls.tool = shutil.which("slowhttptest")
        super().setUpClass()
        cls.page = b"<!doctype html><title>home</title><p>home</p>\n"

    def timed_get(self, req):
        """One request on a fresh connection that the server closes after
        answering. Returns (Response, seconds from before connect() to the
        kernel's receive timestamp of the last byte): the load on this
        shared machine may wake this thread late, which is not the server's
        latency."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
            sock.settimeout(5)
            t0 = time.time()  # the timestamps are CLOCK_REALTIME
            sock.connect(self.srv.addr())
            sock.sendall(req)
            data, last = b"", None
            while True:
                chunk, anc, _, _ = sock.recvmsg(65536, socket.CMSG_SPACE(16))
                if not chunk:
                    break
                data += chunk
                last = time.time()
                for level, kind, tv in anc:
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMP and len(tv) >= 16:
                        sec, usec = struct.unpack("qq", tv[:16])
                        last = sec + usec / 1e6
        finally:
            sock.close()
        c = harness.Conn(None)
        c.buf = data
        return c.read_response(), (last or time.time()) - t0

    def normal_client(self, stop, lat, errs):
        req = build_request("GET", "/index.html", self.srv.hostport(), {"Connection": "close"})
        while not stop.is_set():
            try:
                r, took = self.timed_get(req)
                if r.status != 200 or r.body != self.page:
                    errs.append("got %r" % r)
                else:
                    lat.append(took)
            except Exception as e:
                errs.append(repr(e))
            stop.wait(0.1)

    def attack(self, mode, path, extra):
        self.assertIsNotNone(self.tool, "slowhttptest is not installed (make test-deps)")
        out = tempfile.mkdtemp(prefix="mthttpd-slow-")
        stop, lat, errs = threading.Event(), [], []
        client = threading.Thread(target=self.normal_client, args=(stop, lat, errs))
        try:
            argv = [self.tool, mode, "-c", str(self.CONNS), "-r", str(self.RATE), "-l", str(self.LENGTH),
                    "-u", "http://%s%s" % (self.srv.hostport(), path),
                    "-g", "-o", os.path.join(out, "stats")] + list(extra)
            client.start()
            p = subprocess.run(argv, capture_output=True, timeout=self.LENGTH + 20, cwd=out)
            stop.set()
            client.join(10)
            text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", p.stdout.decode("utf-8", "replace"))
            self.assertEqual(p.returncode, 0, text[-2000:])
            ended = re.search(r"Test ended on (\d+)\w* second\s*\nExit status:\s*(.*)", text)
            self.assertIsNotNone(ended, text[-2000:])
            with open(os.path.join(out, "stats.csv")) as f:
                rows = [line.strip().split(",") for line in f if line.strip()]
            self.assertEqual(rows[0][:4], ["Seconds", "Closed", "Pending", "Connected"], rows[0])
            opened = max(int(row[1]) + int(row[3]) for row in rows[1:])
            self.assertGreaterEqual(opened, 50, "slowhttptest hardly connected: %r" % rows)
        finally:
            stop.set()
            if client.is_alive():
                client.join(10)
            shutil.rmtree(out, ignore_errors=True)
        self.assertEqual(errs, [], "normal GETs failed during %s" % mode)
        self.assertGreaterEqual(len(lat), 10, "too few normal GETs")
        lat.sort()
        p99 = lat[math.ceil(0.99 * len(lat)) - 1]
        # The load average says whether this machine was shared at the time:
        # on an overloaded one a worker waits for a CPU, whatever it does.
        self.assertLess(p99, 0.100, "%s: normal GET p99 %.1f ms over %d requests (max %.1f ms, "
                        "%d over 100 ms; load average %.1f on %d CPUs)"
                        % (mode, p99 * 1000, len(lat), lat[-1] * 1000, sum(x >= 0.1 for x in lat),
                           os.getloadavg()[0], os.cpu_count()))
        self.assertIsNone(self.srv.proc.poll(), "server exited")
        return ended.group(2).strip()

    def test_1_slow_headers(self):
        self.attack("-H", "/index.html", ["-i", "1"])

    def test_2_slow_body(self):
        # Its body is form data under the JSON type we give it: refused
        # early; the attack must not slow the server meanwhile.
        self.attack("-B", "/upload", ["-i", "1", "-t", "POST", "-f", "application/json", "-s", "8192"])

    def test_3_slow_read(self):
        self.attack("-X", "/big.txt", ["-k", "3", "-n", "1", "-w", "1", "-y", "512", "-z", "32"])


if __name__ == "__main__":
    unittest.main()
