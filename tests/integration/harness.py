"""Shared helpers for the integration suite: start the real binary on a free
loopback port (HTTPS too), and other processes beside it; talk raw HTTP/1.1
over sockets, parse responses strictly; wait for access-log lines."""
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("MTHTTPD_BIN", os.path.join(TOP, "mthttpd"))
TIMEOUT = 10.0  # seconds any single socket wait may take

LISTEN_RE = re.compile(r"listening on (\S+):(\d+)")
HTTPS_RE = re.compile(r"HTTPS listening on (\S+):(\d+)")
OPENSSL = shutil.which("openssl")
SANITIZER_RE = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:")


def make_root(files=None, parent=None):
    """A fresh document root in a temp dir (inside parent, when given).
    files maps relative path -> bytes (or str); directories are created as
    needed. Returns the path."""
    root = tempfile.mkdtemp(prefix="mthttpd-root-", dir=parent)
    default = {
        "index.html": b"<!doctype html><title>home</title><p>home</p>\n",
        "about.html": b"<!doctype html><title>about</title>\n",
        "sample.txt": b"hello sample\n",
        "image.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
        "photo.jpg": b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4,
        "sub/index.html": b"<p>sub index</p>\n",
        "sub/page.htm": b"<p>sub page</p>\n",
        "data.json": b'{"a":1}\n',
        "style.css": b"body{}\n",
    }
    if files is not None:
        default.update(files)
    for rel, data in default.items():
        if data is None:
            continue
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
    return root


class Proc:
    """Any command run for a test (the server, a proxy in front of it, a
    socket activator): self.log holds its stderr lines, self.stdout_lines
    its stdout. Use as a context manager, or call stop()."""

    def __init__(self, argv, env=None, cwd=None, **popen):
        """popen: more keyword arguments for subprocess.Popen."""
        self.argv = list(argv)
        self.log = []
        self.log_cond = threading.Condition()
        self.stdout_lines = []
        self.proc = subprocess.Popen(self.argv, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env, **popen)
        self._start_pumps()

    def _start_pumps(self):
        """Threads that collect stderr into self.log, stdout into
        self.stdout_lines."""
        self.pumps = [threading.Thread(target=self._pump, args=(self.proc.stderr, self.log), daemon=True),
                      threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout_lines), daemon=True)]
        for t in self.pumps:
            t.start()

    def _pump(self, stream, into):
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.log_cond:
                into.append(line)
                self.log_cond.notify_all()

    def wait_log(self, pattern, timeout=TIMEOUT, start=0):
        """Waits for a stderr line matching pattern (regex or str) at index
        >= start; returns the match, or None on timeout or exit."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        with self.log_cond:
            i = start
            while True:
                while i < len(self.log):
                    m = rx.search(self.log[i])
                    if m:
                        return m
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and i >= len(self.log)):
                    # give the pump a moment to deliver the last lines
                    if self.proc.poll() is not None and left > 0:
                        self.log_cond.wait(min(left, 0.2))
                        if i < len(self.log):
                            continue
                    return None
                self.log_cond.wait(min(left, 0.2))

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Signals the process if it still runs (SIGKILL after timeout
        seconds), waits, and collects its last output; returns its exit
        code. Safe to call again."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for t in self.pumps:
            t.join(5)  # the last lines, sanitizer reports included
        for t, stream in zip(self.pumps, (self.proc.stderr, self.proc.stdout)):
            if not t.is_alive():  # else a child still holds the pipe open
                stream.close()
        return self.proc.returncode

    def check_sanitizers(self):
        """Fails if the process (mthttpd, or what execs it) reported memory
        errors, undefined behaviour or leaks (the SANITIZE=1 build prints
        them on stderr)."""
        with self.log_cond:
            bad = [l for l in self.log if SANITIZER_RE.search(l)]
        if bad:
            raise AssertionError("sanitizer report from the server: %s" % bad[:5])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Server(Proc):
    """The real binary on 127.0.0.1 (or host=...) on a free port.
    Use as a context manager, or call stop(). self.log holds stderr lines.
    tls=[(cert, key), ...] adds HTTPS on a free port too (self.tls_port),
    the first pair the default; self.ctx is then a client context that
    trusts the first certificate (see tls_connect)."""

    def __init__(self, *args, root=None, host="127.0.0.1", threads=2,
                 access_log=None, wait=True, extra_env=None, tls=None):
        self.own_root = root is None
        self.root = root if root is not None else make_root()
        self.tmp = tempfile.mkdtemp(prefix="mthttpd-run-")
        self.access_log = access_log if access_log is not None else os.path.join(self.tmp, "access.log")
        tls_args = []
        if tls:
            tls_args = ["--tls-port", "0"]
            for cert, key in tls:
                tls_args += ["--tls-cert", cert, "--tls-key", key]
        argv = [BIN, "--port", "0", "--host", host, "--threads", str(threads),
                "--root", self.root, "--access-log", self.access_log] + tls_args + list(args)
        env = dict(os.environ)
        if extra_env:
            env.update(extra_env)
        super().__init__(argv, env=env)
        self.host = host
        self.port = None
        self.tls_port = None
        if wait:
            m = self.wait_log(LISTEN_RE)
            if m is None:
                self.stop()
                raise RuntimeError("server did not start: %r" % self.log)
            self.port = int(m.group(2))
            if tls:
                m = self.wait_log(HTTPS_RE)
                if m is None:
                    self.stop()
                    raise RuntimeError("no HTTPS line: %r" % self.log)
                self.tls_port = int(m.group(2))
        if tls:
            self.ctx = tls_client_ctx(cafile=tls[0][0])

    def addr(self):
        return (self.host.strip("[]"), self.port)

    def connect(self, timeout=TIMEOUT):
        fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(self.addr())
        return Conn(s, self)

    def hostport(self):
        h = "[%s]" % self.host if ":" in self.host else self.host
        return "%s:%d" % (h, self.port)

    def request(self, raw, method=None):
        """One request on a fresh connection; returns the Response."""
        c = self.connect()
        try:
            c.send(raw)
            return c.read_response(method=method or raw.split(b" ", 1)[0].decode("latin-1"))
        finally:
            c.close()

    def get(self, path, headers=None, method="GET", version="HTTP/1.1", body=b""):
        return self.request(build_request(method, path, self.hostport(), headers, version, body), method)

    def tls_connect(self, ctx=None, server_hostname="localhost", session=None, timeout=TIMEOUT):
        """A TLS connection to the HTTPS port, handshake done, with ctx
        (default self.ctx); server_hostname None sends no SNI."""
        s = socket.create_connection((self.host.strip("[]"), self.tls_port), timeout=timeout)
        ctx = ctx or self.ctx
        return Conn(ctx.wrap_socket(s, server_hostname=server_hostname, session=session), self)

    def tls_get(self, path, headers=None, method="GET", body=b""):
        """One request over HTTPS on a fresh connection (Host localhost);
        returns the Response."""
        c = self.tls_connect()
        try:
            c.send(build_request(method, path, "localhost:%d" % self.tls_port, headers, body=body))
            return c.read_response(method)
        finally:
            c.close()

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Signals the server and waits; returns its exit code. Removes its
        temporary files (and its root, if it made it), then fails on any
        sanitizer report."""
        rc = super().stop(sig, timeout)
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self.own_root:
            shutil.rmtree(self.root, ignore_errors=True)
        self.check_sanitizers()
        return rc


def tls_client_ctx(cafile=None, **kw):
    """A client SSLContext that trusts cafile (host names not checked), or,
    without one, verifies nothing; kw sets attributes (minimum_version=...)."""
    if cafile is not None:
        ctx = ssl.create_default_context(cafile=cafile)
        ctx.check_hostname = False
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


def make_cert(d, name, cn, sans=None, keyalg="ec", bits=2048):
    """A self-signed certificate (30 days) and its key in directory d, made
    with the openssl CLI: returns (cert path, key path). sans are
    subjectAltName entries ("DNS:x", "IP:1.2.3.4"; default DNS:cn); keyalg
    "ec" is P-256, "rsa" has bits bits."""
    cert, key = os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")
    if keyalg == "ec":
        newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    else:
        newkey = ["-newkey", "rsa:%d" % bits]
    san = ",".join(sans or ["DNS:" + cn])
    p = subprocess.run([OPENSSL or "openssl", "req", "-x509", *newkey, "-nodes", "-keyout", key,
                        "-out", cert, "-days", "30", "-subj", "/CN=" + cn,
                        "-addext", "subjectAltName=" + san], capture_output=True, timeout=20)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.decode())
    return cert, key


def free_port(host="127.0.0.1"):
    """A TCP port free on host right now (for a listener that cannot be
    given port 0: a proxy's front end, a port shared by --reuse-port)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def need(tool):
    """A tool the test cannot do without: `make test-deps` installs it (a
    Debian package). Missing: fail, loudly, rather than skip."""
    path = shutil.which(tool)
    if path is None:
        raise AssertionError("%s is not installed: run `make test-deps` as root" % tool)
    return path


def watches(pid, path):
    """The inotify watches process pid holds on path's inode, as
    "fd/wd" strings. mthttpd's file cache watches each file it holds
    (README "Files"; small files' bytes are held in memory, so a
    descriptor is no sign of it); a dropped entry's watch goes, and a new
    one gets a new watch descriptor."""
    st = os.stat(path)
    want = " ino:%x sdev:" % st.st_ino
    d = "/proc/%d/fdinfo" % pid
    out = []
    for fd in os.listdir(d):
        try:
            with open(os.path.join(d, fd)) as f:
                for line in f:
                    if line.startswith("inotify wd:") and want in line:
                        out.append("%s/%s" % (fd, line.split()[1]))
        except OSError:
            pass
    return out


def cached(pid, path):
    """Whether process pid's file cache holds path (see watches)."""
    return bool(watches(pid, path))


def wait_until(pred, timeout, what):
    """Polls pred() until it returns a true value (returned) or fails the
    test after timeout seconds, naming what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.05)


def read_lines(path):
    """The lines of a (log) file as text; [] while it does not exist."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        return []


def matching(path, rx):
    """The lines of the file at path that match regex rx."""
    r = re.compile(rx)
    return [l for l in read_lines(path) if r.search(l)]


def wait_access(path, rx, n=1, timeout=TIMEOUT):
    """Waits until the access log at path has at least n lines matching rx
    (the server flushes it at least once a second) and returns them."""
    return wait_until(lambda: (lambda ls: ls if len(ls) >= n else None)(matching(path, rx)),
                      timeout, "%d line(s) /%s/ in %s" % (n, rx, path))


def build_request(method, path, host, headers=None, version="HTTP/1.1", body=b""):
    lines = ["%s %s %s" % (method, path, version)]
    if host is not None:
        lines.append("Host: %s" % host)
    for k, v in (headers or {}).items():
        lines.append("%s: %s" % (k, v))
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k in (headers or {})):
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Response:
    def __init__(self, version, status, reason, headers, body, head_raw):
        self.version, self.status, self.reason = version, status, reason
        self.headers = headers  # list of (name, value) as received
        self.body = body
        self.head_raw = head_raw

    def header(self, name):
        """The single value of name (case-insensitive), or None. Fails the
        test if the field appears more than once."""
        vals = self.all(name)
        if len(vals) > 1:
            raise AssertionError("header %s repeated: %r" % (name, vals))
        return vals[0] if vals else None

    def all(self, name):
        n = name.lower()
        return [v for k, v in self.headers if k.lower() == n]

    def __repr__(self):
        return "<Response %d %r %r body=%d bytes>" % (self.status, self.reason, self.headers, len(self.body))


class Conn:
    def __init__(self, sock, server=None):
        self.sock = sock
        self.buf = b""
        self.server = server

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def read_response(self, method="GET"):
        """Reads one response, framed strictly by its headers. Interim 1xx
        responses are returned like any other (call again for the final)."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        m = re.match(rb"(HTTP/\d\.\d) (\d{3}) ?(.*)$", lines[0])
        if not m:
            raise AssertionError("bad status line %r" % lines[0])
        headers = []
        for ln in lines[1:]:
            k, sep, v = ln.partition(b":")
            if not sep or k != k.strip() or not k:
                raise AssertionError("bad header line %r" % ln)
            headers.append((k.decode("latin-1"), v.strip().decode("latin-1")))
        status = int(m.group(2))
        r = Response(m.group(1).decode(), status, m.group(3).decode("latin-1"), headers, b"", head)
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return r
        cl = r.header("Content-Length")
        if cl is None:
            if r.header("Transfer-Encoding"):
                raise AssertionError("unexpected chunked response")
            # read to close
            try:
                while True:
                    self._fill()
            except (EOFError, ConnectionResetError):
                pass
            r.body, self.buf = self.buf, b""
            return r
        n = int(cl)
        while len(self.buf) < n:
            self._fill()
        r.body, self.buf = self.buf[:n], self.buf[n:]
        return r

    def closed_by_peer(self, timeout=TIMEOUT):
        """True when the server closes (EOF or reset) with no further bytes
        within timeout; any bytes received instead fail the check."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(TIMEOUT)
        if data:
            self.buf += data
            return False
        return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class ServerTest(unittest.TestCase):
    """Base class: one server for the whole class, on a root of its own.

    Class attributes a subclass may override:
      server_args    extra command-line arguments
      server_kwargs  extra keyword arguments for Server (host=..., ...)
      threads        --threads (None: Server's default)
      root_files     files for make_root (rel -> bytes); None: the defaults
      extra_env      environment added to the server's
      keep_root      leave cls.root on disk after the class (default False)
      check_exit     fail the class when the server does not exit 0 on
                     SIGTERM (default False)
      class_server   False: no class server (every test starts its own)
      class_root     build cls.root for the class (default: only when there
                     is a class server)
    Hooks: make_files() builds the root's files (default root_files),
    build_root() makes cls.root, prepare_root() adjusts it before the
    server starts. The class gets cls.root and cls.srv.
    For a server per test, use self.start_server() / self.fresh_root() /
    self.fresh_dir(): each cleans up after the test by itself. For more
    than cls.srv per class (several instances behind a proxy), use
    cls.start_class_server() / cls.fresh_class_dir(): each cleans up after
    the class (a class cleanup, run after tearDownClass, even when
    setUpClass failed). Other processes (a proxy: a harness.Proc) are
    stopped by the same means: self.addCleanup(p.stop),
    cls.addClassCleanup(p.stop)."""
    server_args = ()
    server_kwargs = {}
    threads = None
    root_files = None
    extra_env = None
    keep_root = False
    check_exit = False
    class_server = True
    class_root = None

    @classmethod
    def make_files(cls):
        return cls.root_files

    @classmethod
    def build_root(cls):
        return make_root(cls.make_files())

    @classmethod
    def prepare_root(cls):
        pass

    @classmethod
    def server_options(cls, **kw):
        """The keyword arguments for a Server of this class, kw winning."""
        opts = {"root": cls.root}
        if cls.threads is not None:
            opts["threads"] = cls.threads
        if cls.extra_env is not None:
            opts["extra_env"] = cls.extra_env
        opts.update(cls.server_kwargs)
        opts.update(kw)
        return opts

    @classmethod
    def _has_root(cls):
        return cls.class_server if cls.class_root is None else cls.class_root

    @classmethod
    def setUpClass(cls):
        if not cls._has_root():
            return
        cls.root = cls.build_root()
        try:
            cls.prepare_root()
            if cls.class_server:
                cls.srv = Server(*cls.server_args, **cls.server_options())
        except BaseException:
            if not cls.keep_root:
                shutil.rmtree(cls.root, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        if not cls._has_root():
            return
        rc = 0
        try:
            if cls.class_server:
                rc = cls.srv.stop()
        finally:
            if not cls.keep_root:
                shutil.rmtree(cls.root, ignore_errors=True)
        if cls.check_exit and rc != 0:
            raise AssertionError("server exited with %r on SIGTERM; stderr tail: %r"
                                 % (rc, cls.srv.log[-10:]))

    def fresh_root(self, files=None):
        """A new document root (make_root(files)) removed after the test."""
        root = make_root(files)
        self.addCleanup(shutil.rmtree, root, True)
        return root

    def start_server(self, *args, **kw):
        """A server of its own for this test, stopped after it (a no-op if
        the test stopped it first). Takes Server's arguments; with no root=
        it gets a default root of its own."""
        srv = Server(*args, **kw)
        self.addCleanup(srv.stop)
        return srv

    def fresh_dir(self, prefix="mthttpd-test-"):
        """An empty temporary directory removed after the test."""
        d = tempfile.mkdtemp(prefix=prefix)
        self.addCleanup(shutil.rmtree, d, True)
        return d

    @classmethod
    def fresh_class_dir(cls, prefix="mthttpd-test-"):
        """An empty temporary directory removed after the class."""
        d = tempfile.mkdtemp(prefix=prefix)
        cls.addClassCleanup(shutil.rmtree, d, True)
        return d

    @classmethod
    def start_class_server(cls, *args, **kw):
        """A server for the rest of the class, stopped after it (also when
        started by a test). Takes Server's arguments, as start_server."""
        srv = Server(*args, **kw)
        cls.addClassCleanup(srv.stop)
        return srv


@unittest.skipIf(OPENSSL is None, "openssl CLI missing")
class TLSServerTest(ServerTest):
    """ServerTest with HTTPS: one server for the class on the certificate
    cls.cert / cls.key (localhost, 127.0.0.1), made in cls.dir;
    cls.srv.ctx trusts it."""

    @classmethod
    def setUpClass(cls):
        cls.dir = cls.fresh_class_dir("mthttpd-tls-")
        cls.cert, cls.key = make_cert(cls.dir, "a", "localhost", ["DNS:localhost", "IP:127.0.0.1"])
        cls.server_kwargs = dict(cls.server_kwargs, tls=[(cls.cert, cls.key)])
        super().setUpClass()
