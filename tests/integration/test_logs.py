"""Logs (SPEC §5, README "Behaviour details"): the access log in the Combined
Log Format (fields, byte counts, escaping of client bytes, flushing, SIGHUP
reopen, off, stdout) and the server's own log on stderr."""
import datetime
import json
import os
import re
import shutil
import signal
import socket
import tempfile
import time
import unittest
import subprocess
import uuid

from harness import BIN, TIMEOUT, ServerTest, build_request

CLF_RE = re.compile(r'^(\S+) - - \[(\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "(.*?)" (\d{3}) (\d+|-) "(.*?)" "(.*?)"$')
# The same format, but quoted fields only end at an unescaped quote.
Q = r'"((?:[^"\\]|\\.)*)"'
STRICT_RE = re.compile(r'^(\S+) - - \[([^\]]+)\] ' + Q + r' (\d{3}) (\d+|-) ' + Q + ' ' + Q + r'$')
SERVER_LOG_RE = re.compile(r"^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\] \[(main|worker-\d+|io)\] "
                           r"\[(error|warn|notice|info)\] .+")
WAIT = 3.0  # the log is flushed at least once a second; this leaves slack


def token():
    return uuid.uuid4().hex[:16]


def unescape(s):
    """Undoes the README escaping (\\" \\\\ \\xHH) of one field; returns bytes.
    Fails on any other backslash sequence."""
    out = bytearray()
    i = 0
    b = s.encode("ascii")
    while i < len(b):
        ch = b[i]
        if ch != 0x5C:
            out.append(ch)
            i += 1
            continue
        nxt = b[i + 1:i + 2]
        if nxt in (b'"', b"\\"):
            out += nxt
            i += 2
        elif nxt == b"x" and re.match(rb"[0-9a-fA-F]{2}", b[i + 2:i + 4]):
            out.append(int(b[i + 2:i + 4], 16))
            i += 4
        else:
            raise AssertionError("unknown escape in %r" % s)
    return bytes(out)


class Entry:
    def __init__(self, raw):
        self.raw = raw
        text = raw.decode("ascii")  # escaping leaves only ASCII
        m = STRICT_RE.match(text)
        if not m:
            raise AssertionError("not a Combined Log Format line: %r" % raw)
        self.host, self.time, req, status, nbytes, ref, ua = m.groups()
        self.request, self.referer, self.agent = unescape(req), unescape(ref), unescape(ua)
        self.status = int(status)
        self.bytes = nbytes


def complete_lines(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    return data.split(b"\n")[:-1]


class LogTest(ServerTest):
    class_server = False  # unless a class says otherwise, each test starts its own

    def check_all_lines(self, lines):
        for ln in lines:
            self.assertTrue(all(0x20 <= c < 0x7F for c in ln), "raw control or non-ASCII byte: %r" % ln)
            self.assertRegex(ln.decode("ascii"), CLF_RE)
            Entry(ln)

    def wait_for(self, path, pred, count=1, timeout=WAIT):
        """Polls the log until count lines satisfy pred; checks every line
        of the file; returns the matching Entries."""
        deadline = time.monotonic() + timeout
        while True:
            lines = complete_lines(path)
            hits = [ln for ln in lines if pred(ln)]
            if len(hits) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        self.check_all_lines(lines)
        self.assertEqual(len(hits), count, "expected %d log lines in %.1fs, got %r (file: %r)"
                         % (count, timeout, hits, lines[-5:]))
        return [Entry(ln) for ln in hits]

    def wait_token(self, path, tok, count=1, timeout=WAIT):
        t = tok.encode()
        return self.wait_for(path, lambda ln: t in ln, count, timeout)


class TestAccessLog(LogTest):
    class_server = True
    threads = 2
    check_exit = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.path = cls.srv.access_log
        with open(os.path.join(cls.root, "index.html"), "rb") as f:
            cls.index = f.read()

    def send(self, raw):
        c = self.srv.connect()
        try:
            c.send(raw)
            return c.read_response(method=raw.split(b" ", 1)[0].decode("latin-1"))
        finally:
            c.close()

    def check_time(self, e):
        t = datetime.datetime.strptime(e.time, "%d/%b/%Y:%H:%M:%S %z")
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(abs((now - t).total_seconds()), 120, e.time)

    def test_200_with_referer_and_agent(self):
        tok = token()
        r = self.srv.get("/index.html", headers={"Referer": "http://ref.example/%s" % tok,
                                                 "User-Agent": "log-test/1.0 (%s)" % tok})
        self.assertEqual(r.status, 200)
        t0 = time.monotonic()
        (e,) = self.wait_token(self.path, tok)
        self.assertLess(time.monotonic() - t0, 2.0, "access log not flushed within ~1 s")
        self.assertEqual(e.host, "127.0.0.1")
        self.assertEqual(e.request, b"GET /index.html HTTP/1.1")
        self.assertEqual(e.status, 200)
        self.assertEqual(e.bytes, str(len(self.index)))
        self.assertEqual(e.referer, ("http://ref.example/%s" % tok).encode())
        self.assertEqual(e.agent, ("log-test/1.0 (%s)" % tok).encode())
        self.check_time(e)

    def test_404(self):
        tok = token()
        r = self.srv.get("/missing-%s.html" % tok)
        self.assertEqual(r.status, 404)
        (e,) = self.wait_token(self.path, tok)
        self.assertEqual(e.request, ("GET /missing-%s.html HTTP/1.1" % tok).encode())
        self.assertEqual(e.status, 404)
        self.assertEqual(e.bytes, str(len(r.body)) if r.body else "-")
        self.assertEqual((e.referer, e.agent), (b"-", b"-"))

    def test_400_with_request_line(self):
        tok = token()
        r = self.srv.get("/%%zz?t=%s" % tok, headers={"User-Agent": "ua-" + tok})
        self.assertEqual(r.status, 400)
        (e,) = self.wait_token(self.path, tok)
        self.assertEqual(e.request, ("GET /%%zz?t=%s HTTP/1.1" % tok).encode())
        self.assertEqual(e.status, 400)
        self.assertEqual(e.bytes, str(len(r.body)) if r.body else "-")

    def test_400_unparsable_request_line_is_dash(self):
        before = len(complete_lines(self.path))
        r = self.send(b"BLAH\r\n\r\n")
        self.assertEqual(r.status, 400)
        deadline = time.monotonic() + WAIT
        while len(complete_lines(self.path)) <= before and time.monotonic() < deadline:
            time.sleep(0.02)
        new = complete_lines(self.path)[before:]
        self.check_all_lines(new)
        self.assertEqual(len(new), 1, new)
        e = Entry(new[0])
        self.assertEqual((e.request, e.status), (b"-", 400))
        self.assertEqual(e.bytes, str(len(r.body)) if r.body else "-")

    def test_head_counts_no_body_bytes(self):
        tok = token()
        r = self.srv.get("/index.html?%s" % tok, method="HEAD")
        self.assertEqual(r.status, 200)
        (e,) = self.wait_token(self.path, tok)
        self.assertEqual(e.request, ("HEAD /index.html?%s HTTP/1.1" % tok).encode())
        self.assertIn(e.bytes, ("-", "0"))

    def test_http10_without_referer_or_agent(self):
        tok = token()
        r = self.send(("GET /about.html?%s HTTP/1.0\r\n\r\n" % tok).encode())
        self.assertEqual(r.status, 200)
        (e,) = self.wait_token(self.path, tok)
        self.assertEqual(e.request, ("GET /about.html?%s HTTP/1.0" % tok).encode())
        self.assertEqual((e.referer, e.agent), (b"-", b"-"))
        self.assertEqual(e.bytes, str(len(r.body)))

    def test_pipelined_requests_one_line_each(self):
        tok = token()
        hp = self.srv.hostport()
        c = self.srv.connect()
        try:
            c.send(b"".join(build_request("GET", "/index.html?%s-%d" % (tok, i), hp) for i in range(5)))
            for _ in range(5):
                self.assertEqual(c.read_response().status, 200)
        finally:
            c.close()
        es = self.wait_token(self.path, tok, count=5)
        self.assertEqual(sorted(e.request for e in es),
                         [("GET /index.html?%s-%d HTTP/1.1" % (tok, i)).encode() for i in range(5)])

    def test_quotes_and_backslashes_in_headers_escaped(self):
        tok = token()
        ua = 'evil" 200 1 "-" "x\\y %s \\"' % tok
        ref = 'r"\\"q" 404 "%s' % tok
        r = self.srv.get("/index.html", headers={"User-Agent": ua, "Referer": ref})
        self.assertEqual(r.status, 200)
        (e,) = self.wait_token(self.path, tok)
        self.assertEqual(e.agent, ua.encode())
        self.assertEqual(e.referer, ref.encode())
        self.assertEqual(e.status, 200)
        self.assertIn(b'\\"', e.raw)
        self.assertIn(b"\\\\", e.raw)

    def test_quotes_in_request_target_escaped(self):
        tok = token()
        line = ('GET /index.html?q="x"\\y"%%22&t=%s HTTP/1.1' % tok).encode()
        before = len(complete_lines(self.path))
        r = self.send(line + b"\r\nHost: " + self.srv.hostport().encode() + b"\r\n\r\n")
        deadline = time.monotonic() + WAIT
        while len(complete_lines(self.path)) <= before and time.monotonic() < deadline:
            time.sleep(0.02)
        new = complete_lines(self.path)[before:]
        self.check_all_lines(new)
        self.assertEqual(len(new), 1, new)
        e = Entry(new[0])
        self.assertIn(e.request, (line, b"-"))
        self.assertEqual(e.status, r.status)

    def test_obs_text_escaped_as_hex(self):
        tok = token()
        ua = b"caf\xc3\xa9 \xff\x80 " + tok.encode()
        hp = self.srv.hostport().encode()
        r = self.send(b"GET /index.html HTTP/1.1\r\nHost: " + hp + b"\r\nUser-Agent: " + ua + b"\r\n\r\n")
        self.assertEqual(r.status, 200)
        (e,) = self.wait_token(self.path, tok)
        self.assertEqual(e.agent, ua)
        self.assertIn(b"caf\\xc3\\xa9 \\xff\\x80", e.raw.lower())

    def test_tab_in_header_escaped(self):
        tok = token()
        ua = "a\tb %s" % tok
        r = self.srv.get("/index.html", headers={"User-Agent": ua})
        self.assertEqual(r.status, 200)
        (e,) = self.wait_token(self.path, tok)
        self.assertNotIn(b"\t", e.raw)
        self.assertEqual(e.agent, ua.encode())

    def test_control_byte_refused_and_not_logged_raw(self):
        tok = token()
        hp = self.srv.hostport().encode()
        r = self.send(b"GET /index.html?ctl=" + tok.encode() + b" HTTP/1.1\r\nHost: " + hp +
                      b"\r\nUser-Agent: x\x1b[31mred\x1b]0;pwn\x07\r\n\r\n")
        self.assertEqual(r.status, 400)
        (e,) = self.wait_token(self.path, tok)
        self.assertEqual(e.status, 400)
        self.assertNotIn(b"\x1b", e.raw)
        self.assertNotIn(b"\x07", e.raw)

    def test_encoded_newline_in_target_cannot_forge_a_line(self):
        tok = token()
        forged = "/index.html?%s=%%0a127.0.0.1%%20-%%20-%%20%%5b01/Jan/2020:00:00:00%%20+0000%%5d%%0d%%0a" % tok
        before = len(complete_lines(self.path))
        r = self.srv.get(forged)
        self.assertEqual(r.status, 200)
        (e,) = self.wait_token(self.path, tok)
        self.assertEqual(e.request, ("GET %s HTTP/1.1" % forged).encode())
        self.assertEqual(len(complete_lines(self.path)), before + 1)


class TestCutResponses(LogTest):
    """Every response started gets its line, with the body bytes that really
    left: a download the client abandons, and one cut by shutdown."""
    BIG = 64 << 20

    def setUp(self):
        self.root = self.fresh_root()
        with open(os.path.join(self.root, "big.txt"), "wb") as f:
            f.truncate(self.BIG)

    def start_download(self, srv, tok):
        c = srv.connect()
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        c.send(("GET /big.txt?%s HTTP/1.1\r\nHost: %s\r\n\r\n" % (tok, srv.hostport())).encode())
        got = 0
        while got < 1 << 20:  # read a MiB, then stop reading
            got += len(c.sock.recv(65536))
        return c

    def check_cut(self, path, tok):
        (e,) = self.wait_token(path, tok)
        self.assertEqual(e.status, 200)
        self.assertGreater(int(e.bytes), 0)
        self.assertLess(int(e.bytes), self.BIG, "a cut transfer logged as complete")

    def test_client_leaves_mid_download(self):
        srv = self.start_server(root=self.root, threads=1)
        tok = token()
        c = self.start_download(srv, tok)
        c.close()
        self.check_cut(srv.access_log, tok)

    def test_shutdown_cuts_a_download(self):
        srv = self.start_server(root=self.root, threads=1)
        tok = token()
        c = self.start_download(srv, tok)
        try:
            srv.proc.send_signal(signal.SIGTERM)
            self.assertEqual(srv.proc.wait(20), 0)
        finally:
            c.close()
        self.check_cut(srv.access_log, tok)


class TestAccessLogOff(LogTest):
    def test_off_writes_nothing(self):
        cwd = os.getcwd()
        tmp = tempfile.mkdtemp(prefix="mthttpd-cwd-")
        root = self.fresh_root()
        try:
            os.chdir(tmp)
            try:
                srv = self.start_server(root=root, access_log="off")
            finally:
                os.chdir(cwd)
            try:
                for _ in range(3):
                    self.assertEqual(srv.get("/index.html").status, 200)
                srv.proc.send_signal(signal.SIGTERM)
                self.assertEqual(srv.proc.wait(15), 0)
                self.assertEqual(os.listdir(tmp), [], "files created in the server's cwd")
                self.assertEqual(os.listdir(srv.tmp), [])
                self.assertFalse(any("GET /index.html" in ln for ln in srv.stdout_lines), srv.stdout_lines)
            finally:
                srv.stop()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class TestAccessLogStdout(LogTest):
    def test_dash_is_stdout(self):
        root = self.fresh_root()
        srv = self.start_server(root=root, access_log="-")
        try:
            tok = token()
            self.assertEqual(srv.get("/index.html?%s" % tok).status, 200)
            m = None
            deadline = time.monotonic() + WAIT
            while m is None and time.monotonic() < deadline:
                with srv.log_cond:
                    hits = [ln for ln in srv.stdout_lines if tok in ln]
                    if not hits:
                        srv.log_cond.wait(0.2)
                        continue
                m = hits
            self.assertIsNotNone(m, "no access log line on stdout: %r" % srv.stdout_lines[-5:])
            self.assertEqual(len(m), 1)
            self.assertRegex(m[0], CLF_RE)
            self.assertFalse(any(tok in ln for ln in srv.log), "access log line went to stderr")
        finally:
            srv.stop()


class TestReopenAndExit(LogTest):
    def setUp(self):
        self.root = self.fresh_root()
        self.dir = tempfile.mkdtemp(prefix="mthttpd-logs-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.path = os.path.join(self.dir, "access.log")
        self.srv = self.start_server(root=self.root, access_log=self.path, threads=2)

    def test_sighup_reopens(self):
        a = token()
        self.assertEqual(self.srv.get("/index.html?%s" % a).status, 200)
        self.wait_token(self.path, a)
        old = self.path + ".1"
        os.rename(self.path, old)
        self.srv.proc.send_signal(signal.SIGHUP)
        # Requests until the server has reopened (the new file appears).
        sent = []
        deadline = time.monotonic() + 5
        while not os.path.exists(self.path) and time.monotonic() < deadline:
            t = token()
            self.assertEqual(self.srv.get("/about.html?%s" % t).status, 200)
            sent.append(t)
            wait_until = time.monotonic() + 0.3
            while not os.path.exists(self.path) and time.monotonic() < wait_until:
                time.sleep(0.02)
        self.assertIsNone(self.srv.proc.poll(), "SIGHUP killed the server")
        self.assertTrue(os.path.exists(self.path), "access log not reopened after SIGHUP")
        c = token()
        self.assertEqual(self.srv.get("/index.html?%s" % c).status, 200)
        (e,) = self.wait_token(self.path, c)
        self.assertEqual(e.status, 200)
        # Each worker buffers its lines for up to a second, so a request the
        # other worker served may still be in memory; exit flushes every
        # buffer, so the count below is exact.
        self.srv.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.srv.proc.wait(15), 0)
        self.check_all_lines(complete_lines(old))
        self.check_all_lines(complete_lines(self.path))
        self.assertEqual(sum(a.encode() in ln for ln in complete_lines(old)), 1)
        self.assertFalse(any(c.encode() in ln for ln in complete_lines(old)))
        # nothing lost, nothing doubled across the two files
        for t in sent:
            n = sum(t.encode() in ln for ln in complete_lines(old) + complete_lines(self.path))
            self.assertEqual(n, 1, "request %s logged %d times" % (t, n))

    def test_flushed_at_exit(self):
        toks = [token() for _ in range(20)]
        hp = self.srv.hostport()
        c = self.srv.connect()
        try:
            for t in toks:
                c.send(build_request("GET", "/index.html?%s" % t, hp))
                self.assertEqual(c.read_response().status, 200)
        finally:
            c.close()
        self.srv.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.srv.proc.wait(15), 0)
        lines = complete_lines(self.path)
        self.check_all_lines(lines)
        for t in toks:
            self.assertEqual(sum(t.encode() in ln for ln in lines), 1, "line for %s missing after exit" % t)


class TestServerLog(LogTest):
    def test_stderr_lines_well_formed(self):
        root = self.fresh_root()
        threads = 3
        srv = self.start_server("--header-timeout", "1", root=root, threads=threads)
        try:
            m = srv.wait_log(r"\[main\] .*listening on")
            self.assertIsNotNone(m, srv.log)
            hp = srv.hostport().encode()
            self.assertEqual(srv.get("/index.html").status, 200)
            self.assertEqual(srv.get("/missing.html").status, 404)
            n0 = len(srv.log)
            self.assertEqual(srv.request(b"GET /\x1b[2J\x1b]0;pwn\x07 HTTP/1.1\r\nHost: " + hp + b"\r\n\r\n").status, 400)
            self.assertEqual(srv.request(b"GET / HTTP/1.1\r\nHost: " + hp + b"\r\nX-Evil: a\x1bb\r\n\r\n").status, 400)
            # a refused request is logged by the worker with the reason
            w = srv.wait_log(r"\[worker-(\d+)\] ", start=n0, timeout=3)
            self.assertIsNotNone(w, "no worker log line for a refused request: %r" % srv.log[n0:])
            self.assertTrue(1 <= int(w.group(1)) <= threads, w.group(0))
            # a header timeout
            c = srv.connect()
            try:
                c.send(b"GET / HTTP/1.1\r\n")
                self.assertEqual(c.read_response().status, 408)
            finally:
                c.close()
            n1 = len(srv.log)
            srv.proc.send_signal(signal.SIGTERM)
            self.assertEqual(srv.proc.wait(15), 0)
            self.assertIsNotNone(srv.wait_log(r"\[main\] ", start=n1, timeout=3), "no shutdown line")
            with srv.log_cond:
                lines = list(srv.log)
            self.assertTrue(lines)
            for ln in lines:
                self.assertRegex(ln, SERVER_LOG_RE)
                self.assertFalse(any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in ln),
                                 "control byte in server log: %r" % ln)
                mm = re.match(r"^\[[^\]]+\] \[worker-(\d+)\]", ln)
                if mm:
                    self.assertTrue(1 <= int(mm.group(1)) <= threads, ln)
        finally:
            srv.stop()

    def test_ipv4_client_of_a_dual_stack_listener_has_one_name(self):
        # On "::" an IPv4 client is an IPv4-mapped address; both logs name
        # it 127.0.0.1, so a log-scanning rule sees one client, not two.
        srv = self.start_server("--allow-host", "*", host="::", threads=1)
        try:
            hp = ("127.0.0.1:%d" % srv.port).encode()
            n0 = len(srv.log)
            srv.host = "127.0.0.1"
            self.assertEqual(srv.request(b"GET /%zz HTTP/1.1\r\nHost: " + hp + b"\r\n\r\n").status, 400)
            m = srv.wait_log(r"refused (\S+): 400", start=n0, timeout=3)
            self.assertIsNotNone(m, srv.log[n0:])
            self.assertEqual(m.group(1), "127.0.0.1")
            srv.proc.send_signal(signal.SIGTERM)
            self.assertEqual(srv.proc.wait(15), 0)
            with open(srv.access_log) as f:
                self.assertTrue(f.read().startswith("127.0.0.1 "))
        finally:
            srv.stop()


class TestSeverity(LogTest):
    """Each server-log line carries its level after the thread; --quiet keeps
    warnings and errors; a refused request is not a warning."""

    def test_levels(self):
        root = self.fresh_root()
        srv = self.start_server(root=root, threads=1)
        try:
            # --port 0: the line naming the chosen port is a notice (-q keeps it)
            self.assertIsNotNone(srv.wait_log(r"^\[[^\]]+\] \[main\] \[notice\] mthttpd/\S+ listening on "))
            self.assertIsNotNone(srv.wait_log(r"^\[[^\]]+\] \[main\] \[info\] threads 1, root "))
            n = len(srv.log)
            self.assertEqual(srv.get("/%zz").status, 400)
            m = srv.wait_log(r"^\[[^\]]+\] \[worker-1\] \[(\w+)\] refused 127\.0\.0\.1: 400 ", start=n)
            self.assertIsNotNone(m, srv.log[n:])
            self.assertEqual(srv.stop(), 0)
            self.assertIsNotNone(srv.wait_log(r"^\[[^\]]+\] \[main\] \[info\] stopped$"))
            for ln in srv.log:
                self.assertRegex(ln, SERVER_LOG_RE)
        finally:
            srv.stop()

    def test_refusal_is_info_and_quiet_hides_it(self):
        root = self.fresh_root()
        for quiet in (False, True):
            srv = self.start_server(*(["-q"] if quiet else []), root=root, threads=1)
            try:
                n = len(srv.log)
                self.assertEqual(srv.get("/%zz").status, 400)
                self.assertEqual(srv.get("/").status, 200)
                self.assertEqual(srv.stop(), 0)
                refused = [ln for ln in srv.log[n:] if "refused" in ln]
                if quiet:
                    self.assertEqual(refused, [])
                else:
                    self.assertEqual(len(refused), 1, srv.log[n:])
                    self.assertRegex(refused[0], r"\[worker-1\] \[info\] refused 127\.0\.0\.1: 400 ")
            finally:
                srv.stop()

    def test_quiet_keeps_warnings(self):
        # A stale temporary upload file is removed at start with a warning:
        # --quiet must still show it, and nothing at info level.
        root = self.fresh_root()
        os.mkdir(os.path.join(root, "uploads"))
        stale = os.path.join(root, "uploads", ".upload-crashed1.tmp")
        with open(stale, "w") as f:
            f.write("[")
        # a name without host and pid: removed once over an hour old
        old = time.time() - 2 * 3600
        os.utime(stale, (old, old))
        srv = self.start_server("-q", root=root, threads=1)
        try:
            m = srv.wait_log(r"\[main\] \[warn\] removed 1 temporary upload file")
            self.assertIsNotNone(m, srv.log)
            self.assertFalse(os.path.exists(os.path.join(root, "uploads", ".upload-crashed1.tmp")))
            self.assertEqual(srv.get("/").status, 200)
            self.assertEqual(srv.stop(), 0)
            for ln in srv.log:
                self.assertRegex(ln, SERVER_LOG_RE)
                self.assertNotIn("[info]", ln)
        finally:
            srv.stop()


class TestSighupSays(LogTest):
    """SIGHUP names what it reopened, or says there was nothing to reopen."""

    def hup(self, access_log, pattern):
        root = self.fresh_root()
        srv = self.start_server(root=root, access_log=access_log, threads=1)
        try:
            n = len(srv.log)
            srv.proc.send_signal(signal.SIGHUP)
            m = srv.wait_log(pattern, start=n)
            self.assertIsNotNone(m, srv.log[n:])
            self.assertEqual(srv.get("/").status, 200)
            self.assertEqual(srv.stop(), 0)
        finally:
            srv.stop()

    def test_file(self):
        d = tempfile.mkdtemp(prefix="mthttpd-hup-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "access.log")
        self.hup(path, r"\[main\] \[info\] SIGHUP: reopened access log %s$" % re.escape(path))

    def test_off(self):
        self.hup("off", r"\[main\] \[info\] SIGHUP: nothing to reopen \(access log off\)$")

    def test_stdout(self):
        self.hup("-", r"\[main\] \[info\] SIGHUP: nothing to reopen \(access log is stdout\)$")

    def test_reopen_failure_keeps_old_file(self):
        d = tempfile.mkdtemp(prefix="mthttpd-hup-")
        self.addCleanup(shutil.rmtree, d, True)
        logdir = os.path.join(d, "logs")
        os.mkdir(logdir)
        path = os.path.join(logdir, "access.log")
        root = self.fresh_root()
        srv = self.start_server(root=root, access_log=path, threads=1)
        try:
            # the log's directory disappears: the reopen cannot create it
            os.rename(logdir, logdir + ".old")
            n = len(srv.log)
            srv.proc.send_signal(signal.SIGHUP)
            m = srv.wait_log(r"\[main\] \[error\] SIGHUP: cannot reopen access log %s: No such file or "
                             r"directory; still writing to the file opened before$" % re.escape(path), start=n)
            self.assertIsNotNone(m, srv.log[n:])
            tok = token()
            self.assertEqual(srv.get("/?%s" % tok).status, 200)
            self.wait_token(os.path.join(logdir + ".old", "access.log"), tok)
            self.assertEqual(srv.stop(), 0)
        finally:
            srv.stop()


class TestJsonFormat(LogTest):
    """--log-format json: one object per line, every field escaped."""

    class_server = True
    server_args = ("--log-format", "json")
    threads = 2

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.path = cls.srv.access_log

    def json_lines(self, tok, count=1):
        t = tok.encode()
        deadline = time.monotonic() + WAIT
        while True:
            lines = complete_lines(self.path)
            hits = [ln for ln in lines if t in ln]
            if len(hits) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        objs = []
        for ln in lines:
            self.assertTrue(all(0x20 <= c < 0x7F for c in ln), "raw control or non-ASCII byte: %r" % ln)
            objs.append(json.loads(ln.decode("ascii")))
        self.assertEqual(len(hits), count, lines[-3:])
        return [json.loads(h.decode("ascii")) for h in hits]

    def test_fields(self):
        tok = token()
        r = self.srv.get("/index.html?%s" % tok, headers={"Referer": "http://r.example/" + tok,
                                                         "User-Agent": "json-test/" + tok})
        self.assertEqual(r.status, 200)
        (o,) = self.json_lines(tok)
        self.assertEqual(set(o), {"time", "client", "host", "method", "target", "protocol", "status", "bytes",
                                  "duration_us", "referer", "user_agent"})
        self.assertEqual(o["client"], "127.0.0.1")
        self.assertEqual((o["method"], o["target"], o["protocol"]), ("GET", "/index.html?" + tok, "HTTP/1.1"))
        self.assertEqual((o["status"], o["bytes"]), (200, len(r.body)))
        self.assertEqual((o["referer"], o["user_agent"]), ("http://r.example/" + tok, "json-test/" + tok))
        self.assertIsInstance(o["duration_us"], int)
        self.assertTrue(o["host"] is None or isinstance(o["host"], str))
        t = datetime.datetime.strptime(o["time"], "%Y-%m-%dT%H:%M:%S%z")
        self.assertLess(abs((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds()), 120)

    def test_host_and_duration_filled(self):
        tok = token()
        self.assertEqual(self.srv.get("/index.html?%s" % tok).status, 200)
        (o,) = self.json_lines(tok)
        self.assertEqual(o["host"], self.srv.hostport())
        self.assertGreater(o["duration_us"], 0)

    def test_absent_fields_are_null(self):
        tok = token()
        r = self.srv.request(("GET /about.html?%s HTTP/1.0\r\n\r\n" % tok).encode())
        self.assertEqual(r.status, 200)
        (o,) = self.json_lines(tok)
        self.assertEqual((o["referer"], o["user_agent"], o["host"]), (None, None, None))
        self.assertEqual(o["protocol"], "HTTP/1.0")

    def test_hostile_bytes(self):
        tok = token()
        ua = b'q"b\\s\tt caf\xc3\xa9 \xff\x80 ' + tok.encode()
        hp = self.srv.hostport().encode()
        r = self.srv.request(b"GET /index.html HTTP/1.1\r\nHost: " + hp + b"\r\nUser-Agent: " + ua + b"\r\n\r\n")
        self.assertEqual(r.status, 200)
        (o,) = self.json_lines(tok)
        # each byte comes back as the code point of the same value
        self.assertEqual(o["user_agent"], ua.decode("latin-1"))
        raw = [ln for ln in complete_lines(self.path) if tok.encode() in ln][0]
        self.assertIn(b"\\u00c3\\u00a9 \\u00ff\\u0080", raw)
        self.assertIn(b"\\u0009", raw)
        self.assertIn(b'q\\"b\\\\s', raw)

    def test_unparsable_request(self):
        before = len(complete_lines(self.path))
        r = self.srv.request(b"BLAH\r\n\r\n")
        self.assertEqual(r.status, 400)
        deadline = time.monotonic() + WAIT
        while len(complete_lines(self.path)) <= before and time.monotonic() < deadline:
            time.sleep(0.02)
        new = complete_lines(self.path)[before:]
        self.assertEqual(len(new), 1, new)
        o = json.loads(new[0])
        self.assertEqual((o["method"], o["target"], o["status"]), (None, None, 400))


if __name__ == "__main__":
    unittest.main()
