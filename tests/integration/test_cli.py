"""Command line (SPEC §1), signals, and the server's own log format
(SPEC §5): usage errors exit 2 with one line on stderr, run-time errors
exit 1, the positional form works, SIGTERM/SIGINT exit 0, SIGPIPE never
kills, start-up and worker lines are formatted as specified."""
import datetime
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import BIN, TIMEOUT, Server

LOG_RE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\] \[(main|worker-(\d+))\] "
                    r"\[(error|warn|notice|info)\] \S")
LONG_OPTIONS = ["--port", "--host", "--threads", "--root", "--uploads", "--allow-host",
                "--max-conns", "--max-upload", "--keepalive-timeout", "--keepalive-max",
                "--header-timeout", "--access-log", "--upload-token", "--types", "--quiet",
                "--help", "--version", "--log-format", "--user"]
SHORT_OPTIONS = ["-p", "-H", "-t", "-r", "-q", "-h", "-V"]


def free_port(host="127.0.0.1"):
    """A port that was free a moment ago (bound, then closed)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(args, cwd=None, timeout=TIMEOUT):
    """Runs the binary to completion; (rc, stdout, stderr) as text.
    A binary that does not exit (it started serving) fails the test."""
    try:
        p = subprocess.run([BIN] + list(args), cwd=cwd, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("%r did not exit within %s s (stderr %r)"
                             % (args, timeout, (e.stderr or b"")[:500]))
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


class RawServer(Server):
    """harness.Server with a free-form argv and working directory (for the
    positional form and other start-ups the harness does not build)."""

    def __init__(self, args, cwd=None, host="127.0.0.1", wait=True):
        self.own_root = False
        self.root = None
        self.tmp = tempfile.mkdtemp(prefix="mthttpd-run-")
        self.argv = [BIN] + list(args)
        self.log = []
        self.log_cond = threading.Condition()
        self.stdout_lines = []
        self.proc = subprocess.Popen(self.argv, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._start_pumps()
        self.host = host
        self.port = None
        if wait:
            m = self.wait_log(harness.LISTEN_RE)
            if m is None:
                self.stop()
                raise RuntimeError("server did not start: %r" % self.log)
            self.port = int(m.group(2))


def start_partial_upload(srv, length, first):
    """Opens a connection to srv and sends an upload head announcing
    `length` body bytes, then only `first`. Returns the connection."""
    c = srv.connect()
    c.send(harness.build_request("POST", "/upload", srv.hostport(),
                                 {"Content-Type": "application/json",
                                  "Content-Length": str(length)}) + first)
    return c


def http_get(host, port, path="/", hosthdr=None, timeout=TIMEOUT):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    c = harness.Conn(s)
    try:
        hh = hosthdr or ("[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port))
        c.send(harness.build_request("GET", path, hh, {"Connection": "close"}))
        return c.read_response()
    finally:
        c.close()


def check_log_line(tc, line):
    m = LOG_RE.match(line)
    tc.assertIsNotNone(m, "log line not '[YYYY-MM-DD HH:MM:SS] [thread] msg': %r" % line)
    ts = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")
    now_local = datetime.datetime.now()
    now_utc = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    tc.assertTrue(min(abs((ts - now_local).total_seconds()),
                      abs((ts - now_utc).total_seconds())) < 120,
                  "log timestamp not current: %r" % line)
    return m


class CliBase(harness.ServerTest):
    """A root and a cwd per class; every test starts its own servers."""
    class_server = False
    class_root = True

    @classmethod
    def prepare_root(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mthttpd-cli-")
        # the default root is ./resources: give the cwd one
        shutil.copytree(cls.root, os.path.join(cls.tmp, "resources"))

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def base(self):
        return ["--root", self.root, "--access-log", "off"]

    def assert_one_line_error(self, args, rc_expected, mention=()):
        rc, out, err = run(args, cwd=self.tmp)
        self.assertEqual(rc, rc_expected, "%r: exit %d, stderr %r" % (args, rc, err))
        lines = err.splitlines()
        self.assertEqual(len(lines), 1, "%r: stderr must be one line, got %r" % (args, err))
        self.assertTrue(err.endswith("\n"), "stderr line not newline-terminated: %r" % err)
        self.assertTrue(lines[0].strip(), "empty error line")
        self.assertNotIn("listening", err)
        if mention:
            low = lines[0].lower()
            self.assertTrue(any(m.lower() in low for m in mention),
                            "%r: error line %r names none of %r" % (args, lines[0], mention))
        return lines[0]


# ======================================================================
class TestHelpVersion(CliBase):

    def check_help(self, flag):
        rc, out, err = run([flag], cwd=self.tmp)
        self.assertEqual(rc, 0, err)
        self.assertEqual(err, "", "help wrote to stderr")
        self.assertRegex(out.lower(), r"usage")
        for opt in LONG_OPTIONS + SHORT_OPTIONS:
            self.assertRegex(out, r"(^|[\s,\[])%s\b" % re.escape(opt), "help lacks %s" % opt)
        self.assertIn("PORT", out)
        self.assertIn("THREADS", out)

    def test_help_long(self):
        self.check_help("--help")

    def test_help_short(self):
        self.check_help("-h")

    def test_help_wins_over_other_options(self):
        rc, out, err = run(["--port", "0", "--help"], cwd=self.tmp)
        self.assertEqual(rc, 0)
        self.assertIn("--port", out)
        self.assertNotIn("listening", err)

    def check_version(self, flag):
        rc, out, err = run([flag], cwd=self.tmp)
        self.assertEqual(rc, 0, err)
        self.assertEqual(err, "")
        self.assertRegex(out.splitlines()[0], r"^mthttpd v?\d+\.\d+(\.\d+)?\S*$")

    def test_version_long(self):
        self.check_version("--version")

    def test_version_short(self):
        self.check_version("-V")

    def test_version_output_identical(self):
        self.assertEqual(run(["--version"])[1], run(["-V"])[1])


# ======================================================================
class TestUsageErrors(CliBase):
    """Usage errors: exit 2, exactly one clear line on stderr, never start."""


def _usage(self, args, mention, with_base=True):
    argv = (self.base() + ["--port", "0"] if with_base else []) + list(args)
    self.assert_one_line_error(argv, 2, mention)


BAD_USAGE = [
    ("unknown long option", ["--bogus"], ("bogus",)),
    ("unknown short option", ["-z"], ("-z", "'z'", "z'", "option")),
    ("port 70000", ["--port", "70000"], ("70000", "port")),
    ("port 65536", ["--port", "65536"], ("65536", "port")),
    ("port abc", ["--port", "abc"], ("abc", "port")),
    ("port negative", ["--port", "-1"], ("-1", "port")),
    ("port empty", ["--port", ""], ("port",)),
    ("port trailing junk", ["--port", "80x"], ("80x", "port")),
    ("port missing argument", ["--port"], ("port",)),
    ("short port abc", ["-p", "abc"], ("abc", "port")),
    ("threads 0", ["--threads", "0"], ("0", "thread")),
    ("threads 1025", ["--threads", "1025"], ("1025", "thread")),
    ("threads abc", ["--threads", "abc"], ("abc", "thread")),
    ("threads negative", ["--threads", "-4"], ("-4", "thread")),
    ("short threads 0", ["-t", "0"], ("0", "thread")),
    ("max-upload 5X", ["--max-upload", "5X"], ("5x", "upload")),
    ("max-upload negative", ["--max-upload", "-5"], ("-5", "upload")),
    # values that could never match a Host: refused, not silently kept
    ("allow-host with a bad port", ["--allow-host", "example.com:80x"], ("example.com:80x",)),
    ("allow-host port out of range", ["--allow-host", "example.com:70000"], ("example.com:70000",)),
    ("allow-host empty label", ["--allow-host", "a..example.com"], ("a..example.com",)),
    ("allow-host wildcard", ["--allow-host", "*.wild.com"], ("*.wild.com",)),
    ("allow-host with a space", ["--allow-host", "a b"], ("a b",)),
    ("allow-host empty", ["--allow-host", ""], ("allow-host",)),
    ("allow-host bad brackets", ["--allow-host", "[nothost]"], ("[nothost]",)),
    ("max-upload empty", ["--max-upload", ""], ("upload",)),
    ("max-upload kk", ["--max-upload", "5kk"], ("5kk", "upload")),
    ("types bogus", ["--types", "bogus"], ("bogus", "types")),
    ("host not a literal", ["--host", "not-an-ip"], ("not-an-ip", "host")),
    ("host bad IPv4", ["--host", "999.1.1.1"], ("999.1.1.1", "host")),
    ("max-conns abc", ["--max-conns", "abc"], ("abc", "conns")),
    ("keepalive-timeout abc", ["--keepalive-timeout", "abc"], ("abc", "keepalive")),
    ("keepalive-max abc", ["--keepalive-max", "abc"], ("abc", "keepalive")),
    ("header-timeout abc", ["--header-timeout", "abc"], ("abc", "header")),
    ("log-format bogus", ["--log-format", "xml"], ("xml", "log-format")),
    ("log-format empty", ["--log-format", ""], ("log-format",)),
    ("user unknown", ["--user", "no-such-user-mthttpd"], ("no-such-user-mthttpd",)),
    ("user unknown group", ["--user", "root:no-such-group-mthttpd"], ("no-such-group-mthttpd",)),
    ("user empty", ["--user", ""], ("--user",)),
    ("user missing argument", ["--user"], ("user",)),
]
for _row in BAD_USAGE:
    def _t(self, row=_row):
        _usage(self, row[1], row[2])
    _t.__name__ = "test_" + re.sub(r"\W+", "_", _row[0])
    setattr(TestUsageErrors, _t.__name__, _t)

BAD_POSITIONAL = [
    ("positional port abc", ["abc"], ("abc", "port")),
    ("positional port 70000", ["70000"], ("70000", "port")),
    ("positional bad host", ["8080", "not-an-ip"], ("not-an-ip", "host")),
    ("positional threads 0", ["8080", "127.0.0.1", "0"], ("0", "thread")),
    ("positional threads 1025", ["8080", "127.0.0.1", "1025"], ("1025", "thread")),
    ("positional too many", ["8080", "127.0.0.1", "2", "extra"], ("extra", "argument", "usage")),
]
for _row in BAD_POSITIONAL:
    def _t(self, row=_row):
        _usage(self, row[1], row[2], with_base=False)
    _t.__name__ = "test_" + re.sub(r"\W+", "_", _row[0])
    setattr(TestUsageErrors, _t.__name__, _t)


# ======================================================================
class TestRuntimeErrors(CliBase):
    """Run-time errors: exit 1, one line on stderr naming the cause."""

    def test_missing_root(self):
        missing = os.path.join(self.tmp, "no-such-root")
        self.assert_one_line_error(["--root", missing, "--port", "0", "--access-log", "off"], 1,
                                   (missing,))

    def test_root_is_a_file(self):
        f = os.path.join(self.root, "index.html")
        self.assert_one_line_error(["--root", f, "--port", "0", "--access-log", "off"], 1, (f,))

    def test_default_root_missing(self):
        empty = tempfile.mkdtemp(prefix="mthttpd-cli-empty-")
        try:
            rc, out, err = run(["--port", "0", "--access-log", "off"], cwd=empty)
            self.assertEqual(rc, 1, err)
            self.assertEqual(len(err.splitlines()), 1, err)
            self.assertIn("resources", err)
        finally:
            shutil.rmtree(empty, ignore_errors=True)

    def test_failed_start_changes_nothing(self):
        # A second start on a port in use must not touch the running
        # server's uploads (its temporary files included), create the
        # uploads directory or the access log.
        srv = self.start_server(threads=1)
        c = None
        try:
            c = start_partial_upload(srv, 70000, b"[" + b"1," * 30000)
            updir = os.path.join(srv.root, "uploads")
            deadline = time.monotonic() + TIMEOUT
            fds = "/proc/%d/fd" % srv.proc.pid

            def temp_held():
                # an O_TMPFILE inode of the uploads directory, held open
                for fd in os.listdir(fds):
                    try:
                        t = os.readlink(os.path.join(fds, fd))
                    except OSError:
                        continue
                    if t.startswith(os.path.realpath(updir) + "/#"):
                        return True
                return False
            while not temp_held():
                self.assertLess(time.monotonic(), deadline, "no temporary file appeared")
                time.sleep(0.02)  # polling for the pool's first write
            tmp_before = sorted(os.listdir(updir))
            newup = os.path.join(self.tmp, "never-created")
            alog = os.path.join(self.tmp, "never-created.log")
            for extra in ([], ["--uploads", newup, "--access-log", alog]):
                with self.subTest(extra=extra):
                    rc, out, err = run(["--root", srv.root, "--port", str(srv.port)] + extra, cwd=self.tmp)
                    self.assertEqual(rc, 1, err)
                    self.assertEqual(len(err.splitlines()), 1, err)
                    self.assertIn("address already in use", err.lower())
                    self.assertEqual(sorted(os.listdir(updir)), tmp_before)
                    self.assertFalse(os.path.exists(newup))
                    self.assertFalse(os.path.exists(alog))
            c.send(b"1" * (70000 - 1 - 2 * 30000 - 1) + b"]")
            r = c.read_response("POST")
            self.assertEqual(r.status, 201, r)
        finally:
            if c is not None:
                c.close()
            srv.stop()

    def test_uploads_directory_of_a_running_server(self):
        # Several instances may share one uploads directory (no lock).
        srv = self.start_server(threads=1)
        try:
            srv2 = self.start_server(root=srv.root, threads=1)
            try:
                self.assertEqual(http_get("127.0.0.1", srv2.port).status, 200)
            finally:
                srv2.stop()
            self.assertEqual(http_get("127.0.0.1", srv.port).status, 200)
        finally:
            srv.stop()

    @unittest.skipIf(os.geteuid() == 0, "root may write anywhere")
    def test_uploads_not_writable(self):
        ro = tempfile.mkdtemp(prefix="mthttpd-cli-ro-")
        try:
            os.chmod(ro, 0o555)
            self.assert_one_line_error(self.base() + ["--port", "0", "--uploads", ro], 1, (ro,))
        finally:
            os.chmod(ro, 0o755)
            shutil.rmtree(ro, ignore_errors=True)

    def test_uploads_cannot_be_created(self):
        bad = os.path.join(self.root, "index.html", "uploads")
        self.assert_one_line_error(self.base() + ["--port", "0", "--uploads", bad], 1, (bad,))

    def test_no_openat2(self):
        # Without openat2 (Linux < 5.6, valgrind, a strict sandbox) every
        # request would fail: the server must refuse to start instead.
        so = os.path.join(self.tmp, "no_openat2.so")
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "no_openat2.c")
        subprocess.run(["cc", "-shared", "-fPIC", "-o", so, src, "-ldl"], check=True)
        env = dict(os.environ, LD_PRELOAD=so,
                   ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
        p = subprocess.run([BIN] + self.base() + ["--port", "0"], cwd=self.tmp, env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
        err = p.stderr.decode()
        self.assertEqual(p.returncode, 1, err)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn("openat2", err)
        self.assertIn("5.6", err)

    def test_port_in_use(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            port = s.getsockname()[1]
            line = self.assert_one_line_error(self.base() + ["--port", str(port)], 1,
                                              ("address already in use",))
            self.assertIn(str(port), line)
        finally:
            s.close()

    def test_port_in_use_positional(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            port = s.getsockname()[1]
            rc, out, err = run([str(port), "127.0.0.1", "2"], cwd=self.tmp)
            self.assertEqual(rc, 1, err)
            self.assertEqual(len(err.splitlines()), 1, err)
            self.assertIn("address already in use", err.lower())
        finally:
            s.close()

    def test_address_not_local(self):
        # 192.0.2.1 is TEST-NET-1: no interface has it, bind() fails
        self.assert_one_line_error(self.base() + ["--port", "0", "--host", "192.0.2.1"], 1,
                                   ("192.0.2.1",))


# ======================================================================
class TestStartupChangesNothing(CliBase):
    """Issue 14 item 7: nothing is created, removed or opened for writing
    until every check has passed. Each failing combination must leave the
    new uploads directory and the new access log uncreated, an existing
    log untouched, and a stale temporary upload file in place."""

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="mthttpd-promise-")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.newup = os.path.join(self.work, "new-uploads")
        self.newlog = os.path.join(self.work, "new.log")

    def snapshot(self, *dirs):
        out = {}
        for d in dirs:
            for dp, dn, fn in os.walk(d):
                for n in dn + fn:
                    p = os.path.join(dp, n)
                    st = os.lstat(p)
                    out[p] = (st.st_size, st.st_mtime_ns, st.st_mode)
        return out

    def check(self, args, rc_expected, mention, dirs=()):
        before = self.snapshot(self.work, self.root, *dirs)
        line = self.assert_one_line_error(args, rc_expected, mention)
        self.assertEqual(self.snapshot(self.work, self.root, *dirs), before,
                         "a failed start changed files: %r" % line)
        self.assertFalse(os.path.exists(self.newup))
        self.assertFalse(os.path.exists(self.newlog))
        return line

    def test_issue_example_uploads_then_bad_log(self):
        self.check(["--root", self.root, "--port", "0", "--uploads", self.newup,
                    "--access-log", "/nonexistent-mthttpd/a.log"], 1, ("/nonexistent-mthttpd/a.log",))

    def test_log_is_a_directory(self):
        self.check(["--root", self.root, "--port", "0", "--uploads", self.newup,
                    "--access-log", self.work], 1, (self.work,))

    def test_log_in_a_file_not_a_directory(self):
        bad = os.path.join(self.root, "index.html", "a.log")
        self.check(["--root", self.root, "--port", "0", "--uploads", self.newup, "--access-log", bad], 1, (bad,))

    def test_uploads_not_creatable_new_log(self):
        bad = os.path.join(self.work, "missing-parent", "up")
        self.check(["--root", self.root, "--port", "0", "--uploads", bad, "--access-log", self.newlog], 1, (bad,))

    def test_uploads_is_a_file_new_log(self):
        f = os.path.join(self.root, "sample.txt")
        self.check(["--root", self.root, "--port", "0", "--uploads", f, "--access-log", self.newlog], 1, (f,))

    def test_missing_root_new_uploads_new_log(self):
        missing = os.path.join(self.work, "no-root")
        self.check(["--root", missing, "--port", "0", "--uploads", self.newup, "--access-log", self.newlog],
                   1, (missing,))

    def test_port_in_use_new_uploads_new_log(self):
        s = socket.socket()
        self.addCleanup(s.close)
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        self.check(["--root", self.root, "--port", str(s.getsockname()[1]), "--uploads", self.newup,
                    "--access-log", self.newlog], 1, ("address already in use",))

    def test_usage_error_after_paths(self):
        self.check(["--root", self.root, "--port", "0", "--uploads", self.newup, "--access-log", self.newlog,
                    "--threads", "0"], 2, ("thread",))

    def test_existing_log_untouched_and_stale_temp_kept(self):
        # An existing access log and a crash's temporary upload file: a
        # start that then fails (port in use) neither writes the one nor
        # removes the other.
        up = os.path.join(self.work, "up")
        os.mkdir(up)
        stale = os.path.join(up, ".upload-stale0001.tmp")
        with open(stale, "w") as f:
            f.write("[1,")
        log = os.path.join(self.work, "existing.log")
        with open(log, "w") as f:
            f.write("old line\n")
        s = socket.socket()
        self.addCleanup(s.close)
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        self.check(["--root", self.root, "--port", str(s.getsockname()[1]), "--uploads", up,
                    "--access-log", log], 1, ("address already in use",))
        self.assertTrue(os.path.exists(stale))
        with open(log) as f:
            self.assertEqual(f.read(), "old line\n")

    def test_shared_uploads_new_log(self):
        # A second server on the same root shares its uploads directory.
        srv = self.start_server(threads=1)
        srv2 = self.start_server(root=srv.root, access_log=self.newlog, threads=1)
        self.assertTrue(os.path.isfile(self.newlog))
        self.assertEqual(http_get("127.0.0.1", srv.port).status, 200)
        self.assertEqual(http_get("127.0.0.1", srv2.port).status, 200)

    def test_success_creates_both(self):
        # The counterpart: the same paths with every check passing are
        # created (the uploads directory and the log).
        srv = self.start_server("--uploads", self.newup, root=self.root, access_log=self.newlog, threads=1)
        self.assertTrue(os.path.isdir(self.newup))
        self.assertTrue(os.path.isfile(self.newlog))
        self.assertEqual(srv.stop(), 0)


# ======================================================================
class TestPositional(CliBase):
    """mthttpd PORT HOST THREADS, root ./resources."""

    def start(self, args):
        srv = RawServer(args, cwd=self.tmp)
        self.addCleanup(srv.stop)
        return srv

    def test_port_host_threads(self):
        port = free_port()
        srv = self.start([str(port), "127.0.0.1", "3"])
        self.assertEqual(srv.port, port)
        self.assertIsNotNone(srv.wait_log(r"\[main\] .*127\.0\.0\.1:%d" % port))
        self.assertIsNotNone(srv.wait_log(r"\[main\] .*\b3\b.*thread|\[main\] .*thread.*\b3\b"))
        r = http_get("127.0.0.1", port)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"<!doctype html><title>home</title><p>home</p>\n")
        self.assertEqual(srv.stop(), 0)

    def test_port_only(self):
        port = free_port()
        srv = self.start([str(port)])
        self.assertEqual(srv.port, port)
        self.assertIsNotNone(srv.wait_log(r"listening on 127\.0\.0\.1:%d" % port))
        self.assertIsNotNone(srv.wait_log(r"\[main\] .*\b10\b.*thread|\[main\] .*thread.*\b10\b"))
        self.assertEqual(http_get("127.0.0.1", port).status, 200)

    def test_port_host_ipv6(self):
        try:
            t = socket.socket(socket.AF_INET6)
            t.bind(("::1", 0))
            t.close()
        except OSError:
            self.skipTest("no IPv6 loopback")
        port = free_port()
        srv = self.start([str(port), "::1", "2"])
        self.assertIsNotNone(srv.wait_log(r"listening on \[::1\]:%d" % port))
        self.assertEqual(http_get("::1", port).status, 200)

    def test_port_zero_logs_chosen_port(self):
        srv = self.start(["0", "127.0.0.1", "1"])
        self.assertNotEqual(srv.port, 0)
        self.assertEqual(http_get("127.0.0.1", srv.port).status, 200)


# ======================================================================
class TestValidBoundaries(CliBase):
    """Values at the edges of their ranges start the server."""

    def start(self, *args):
        srv = self.start_server(*args, root=self.root, threads=1)
        self.assertEqual(http_get("127.0.0.1", srv.port).status, 200)
        return srv

    def test_threads_1024(self):
        srv = self.start_server("--threads", "1024", root=self.root)
        self.assertEqual(http_get("127.0.0.1", srv.port).status, 200)
        self.assertEqual(srv.stop(), 0)

    def test_max_upload_suffixes(self):
        for v in ("1k", "5M", "1G", "100"):
            with self.subTest(v=v):
                srv = self.start("--max-upload", v)
                self.assertEqual(srv.stop(), 0)

    def test_short_options(self):
        port = free_port()
        srv = RawServer(["-p", str(port), "-H", "127.0.0.1", "-t", "2", "-r", self.root])
        self.addCleanup(srv.stop)
        self.assertEqual(srv.port, port)
        self.assertEqual(http_get("127.0.0.1", port).status, 200)

    def test_types_all(self):
        self.start("--types", "all")


# ======================================================================
class TestSignals(harness.ServerTest):
    class_server = False  # every test starts its own

    def test_sigterm_exit_0_and_shutdown_logged(self):
        srv = self.start_server()
        try:
            self.assertEqual(http_get("127.0.0.1", srv.port).status, 200)
            n = len(srv.log)
            rc = srv.stop(signal.SIGTERM)
            self.assertEqual(rc, 0)
            m = srv.wait_log(r"(?i)\[main\] .*(shut|stopp|exit|terminat)", start=n)
            self.assertIsNotNone(m, "no shutdown line after SIGTERM: %r" % srv.log[n:])
            for line in srv.log[n:]:
                check_log_line(self, line)
        finally:
            srv.stop()

    def test_sigint_exit_0(self):
        srv = self.start_server()
        try:
            self.assertEqual(http_get("127.0.0.1", srv.port).status, 200)
            n = len(srv.log)
            self.assertEqual(srv.stop(signal.SIGINT), 0)
            self.assertIsNotNone(srv.wait_log(r"(?i)\[main\] .*(shut|stopp|exit|terminat)",
                                              start=n))
        finally:
            srv.stop()

    def test_sigterm_closes_idle_keepalive_connection(self):
        srv = self.start_server()
        try:
            c = srv.connect()
            c.send(harness.build_request("GET", "/", srv.hostport()))
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("Connection"), "keep-alive")
            srv.proc.send_signal(signal.SIGTERM)
            self.assertTrue(c.closed_by_peer(), "idle connection not closed on SIGTERM")
            self.assertEqual(srv.proc.wait(TIMEOUT), 0)
            c.close()
        finally:
            srv.stop()

    def test_sigterm_stops_accepting(self):
        srv = self.start_server()
        try:
            port = srv.port
            self.assertEqual(srv.stop(signal.SIGTERM), 0)
            s = socket.socket()
            s.settimeout(TIMEOUT)
            with self.assertRaises(ConnectionRefusedError):
                s.connect(("127.0.0.1", port))
            s.close()
        finally:
            srv.stop()

    def test_sigterm_refuses_new_clients_while_draining(self):
        # "stop accepting": while an in-flight upload keeps the server
        # draining, a new client is refused at once, not left in the
        # backlog until the exit resets it.
        srv = self.start_server(threads=2)
        c = None
        try:
            c = start_partial_upload(srv, 100, b"[1,")
            start = len(srv.log)
            srv.proc.send_signal(signal.SIGTERM)
            self.assertIsNotNone(srv.wait_log(r"stopping", start=start))
            s = socket.socket()
            s.settimeout(TIMEOUT)
            t0 = time.monotonic()
            with self.assertRaises((ConnectionRefusedError, ConnectionResetError)):
                s.connect(("127.0.0.1", srv.port))
                s.sendall(harness.build_request("GET", "/", srv.hostport()))
                if not s.recv(1):
                    raise ConnectionResetError("closed without an answer")
            s.close()
            self.assertLess(time.monotonic() - t0, 3.0, "the new client was kept waiting")
            self.assertIsNone(srv.proc.poll(), "server gone before the in-flight upload ended")
        finally:
            if c is not None:
                c.close()
            self.assertEqual(srv.stop(), 0)

    def test_sigpipe_never_kills(self):
        big = os.urandom(1 << 20) * 32  # 32 MiB, far beyond any socket buffer
        root = self.fresh_root({"big.txt": big})
        srv = self.start_server(root=root, threads=1)
        try:
            req = harness.build_request("GET", "/big.txt", srv.hostport())
            for i in range(6):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.settimeout(TIMEOUT)
                s.connect(("127.0.0.1", srv.port))
                s.sendall(req * (1 + i % 2))  # also with a pipelined second
                if i % 3 != 2:
                    self.assertTrue(s.recv(1024))  # the response has started
                if i % 3 == 1:  # abortive close: RST at once
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                s.close()  # unread data: the kernel answers further writes with RST
                # the single worker must still answer
                r = http_get("127.0.0.1", srv.port, "/index.html")
                self.assertEqual(r.status, 200)
                self.assertIsNone(srv.proc.poll(), "server died (rc %r)" % srv.proc.returncode)
            # a client that reads 1 MiB of the body, then vanishes
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
            s.sendall(req)
            got = 0
            while got < 1 << 20:
                got += len(s.recv(65536))
            s.close()
            self.assertEqual(http_get("127.0.0.1", srv.port).status, 200)
            self.assertEqual(srv.stop(), 0, "exit status after the aborted downloads")
        finally:
            srv.stop()


# ======================================================================
class TestLogFormat(harness.ServerTest):
    """SPEC §5: '[YYYY-MM-DD HH:MM:SS] [thread] message'; start-up lines
    name the address, thread count, root and uploads dir."""
    threads = 7

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mthttpd-cli-log-")
        cls.uploads = os.path.join(cls.tmp, "new-uploads")
        cls.server_args = ("--uploads", cls.uploads)
        try:
            super().setUpClass()
        except BaseException:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def main_line(self, pattern):
        m = self.srv.wait_log(re.compile(r"\[main\] .*" + pattern))
        self.assertIsNotNone(m, "no [main] start-up line matching %r in %r" % (pattern, self.srv.log))
        return m

    def test_startup_lines_formatted(self):
        i = [j for j, ln in enumerate(self.srv.log) if "listening on" in ln][0]
        for line in self.srv.log[:i + 1]:
            check_log_line(self, line)
        self.assertEqual(LOG_RE.match(self.srv.log[i]).group(2), "main")

    def test_startup_names_address(self):
        self.main_line(re.escape("127.0.0.1:%d" % self.srv.port))

    def test_startup_names_thread_count(self):
        self.main_line(r"(\b7\b.*thread|thread.*\b7\b)")

    def test_startup_names_root(self):
        self.main_line("(%s|%s)" % (re.escape(self.srv.root),
                                    re.escape(os.path.realpath(self.srv.root))))

    def test_startup_names_uploads_dir(self):
        self.main_line("(%s|%s)" % (re.escape(self.uploads),
                                    re.escape(os.path.realpath(self.uploads))))

    def test_uploads_dir_created(self):
        self.assertTrue(os.path.isdir(self.uploads))

    def test_worker_lines_tagged(self):
        n = len(self.srv.log)
        for i in range(8):  # refused requests are warnings (SPEC §5)
            c = self.srv.connect()
            try:
                c.send(b"GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
                self.assertEqual(c.read_response().status, 403)
            finally:
                c.close()
        m = self.srv.wait_log(r"\[worker-\d+\]", start=n)
        self.assertIsNotNone(m, "no [worker-N] line after refused requests: %r" % self.srv.log[n:])
        workers = set()
        for line in self.srv.log[n:]:
            wm = check_log_line(self, line)
            if wm.group(3):
                workers.add(int(wm.group(3)))
        self.assertTrue(workers)
        self.assertTrue(all(1 <= w <= 7 for w in workers), workers)


class TestQuiet(harness.ServerTest):
    """-q: only warnings and errors on stderr."""
    class_server = False  # every test starts its own

    def test_quiet_suppresses_info(self):
        root = self.fresh_root()
        port = free_port()
        p = subprocess.Popen([BIN, "-q", "--port", str(port), "--root", root,
                              "--access-log", "off", "--threads", "2"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            # no log line to wait on: wait on the socket itself
            deadline = time.monotonic() + TIMEOUT
            while True:
                try:
                    r = http_get("127.0.0.1", port)
                    break
                except ConnectionRefusedError:
                    self.assertIsNone(p.poll(), "server exited with %r" % p.returncode)
                    self.assertLess(time.monotonic(), deadline, "server never listened")
                    time.sleep(0.02)
            self.assertEqual(r.status, 200)
            p.send_signal(signal.SIGTERM)
            out, err = p.communicate(timeout=15)
            self.assertEqual(p.returncode, 0)
            err = err.decode("utf-8", "replace")
            self.assertNotIn("listening", err)
            self.assertNotIn(root, err)
            self.assertNotRegex(err, r"(?i)shut|stopp")
            for line in err.splitlines():
                check_log_line(self, line)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

    def test_quiet_still_says_the_port_it_chose(self):
        # --port 0: the listening line is the only way to learn the port
        root = self.fresh_root()
        p = subprocess.Popen([BIN, "-q", "--port", "0", "--root", root,
                              "--access-log", "off", "--threads", "1"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            line = p.stderr.readline().decode("utf-8", "replace")
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)$", line.strip())
            self.assertIsNotNone(m, line)
            check_log_line(self, line.rstrip("\n"))
            r = http_get("127.0.0.1", int(m.group(1)))
            self.assertEqual(r.status, 200)
            p.send_signal(signal.SIGTERM)
            out, err = p.communicate(timeout=15)
            self.assertEqual(p.returncode, 0)
            # nothing else: the rest stays quiet
            self.assertNotIn(root, err.decode("utf-8", "replace"))
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

    def test_not_quiet_shows_info(self):
        # the counterpart: the same start-up without -q logs info lines
        srv = self.start_server(threads=2)
        try:
            self.assertIsNotNone(srv.wait_log(r"\[main\] .*listening on"))
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main()
