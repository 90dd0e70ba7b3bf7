"""HTTPS (issue 15): the same behaviour as plain HTTP over TLS (GET, HEAD,
ranges, conditionals, uploads, keep-alive, pipelining, timeouts), the
protocol policy (TLS 1.2/1.3 only, AEAD suites, ALPN http/1.1), SNI,
resumption, SIGHUP reload, start-up checks, --redirect-https, --hsts, a
plain request on the TLS port. Certificates are made at test time with
the openssl CLI; clients are Python's ssl and openssl s_client."""
import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
import unittest

import harness
from harness import OPENSSL, Conn, build_request, make_cert, tls_client_ctx

BIG = os.urandom(3 * 1024 * 1024 + 12345)


def run(*argv, cwd=None, input=None, timeout=20):
    return subprocess.run(list(argv), cwd=cwd, input=input, capture_output=True, timeout=timeout)


def make_expired_cert(d, cn="expired.test"):
    """A certificate valid only on 2020-01-01 (openssl ca sets the dates)."""
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\n"
                "default_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n")
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("01\n")
    for argv in (["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "old.key"],
                 ["req", "-new", "-key", "old.key", "-subj", "/CN=" + cn, "-out", "old.csr"],
                 ["ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile", "old.key", "-in", "old.csr",
                  "-out", "old.crt", "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
                  "-notext"]):
        p = run(OPENSSL, *argv, cwd=d)
        if p.returncode != 0:
            raise RuntimeError(p.stderr.decode())
    return os.path.join(d, "old.crt"), os.path.join(d, "old.key")


def peer_cn(sock):
    der = sock.getpeercert(binary_form=True)
    p = run(OPENSSL, "x509", "-inform", "DER", "-noout", "-subject", input=der)
    m = re.search(rb"CN\s*=\s*([^,\n/]+)", p.stdout)
    return m.group(1).decode().strip() if m else None


class TestHTTPSBasics(harness.TLSServerTest):
    root_files = {"big.png": BIG}
    server_args = ("--hsts", "31536000", "--header-timeout", "3")

    def host(self):
        return "localhost:%d" % self.srv.tls_port

    def stored(self, location):
        with open(os.path.join(self.srv.root, location.lstrip("/")), "rb") as f:
            return f.read()

    def test_get_verifies_and_has_hsts(self):
        r = self.srv.tls_get("/sample.txt")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"hello sample\n")
        self.assertEqual(r.header("Strict-Transport-Security"), "max-age=31536000")

    def test_plain_port_has_no_hsts(self):
        r = self.srv.get("/sample.txt")
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("Strict-Transport-Security"))

    def test_head(self):
        r = self.srv.tls_get("/big.png", method="HEAD")
        self.assertEqual(r.status, 200)
        self.assertEqual(int(r.header("Content-Length")), len(BIG))
        self.assertEqual(r.body, b"")

    def test_large_file(self):
        r = self.srv.tls_get("/big.png")
        self.assertEqual(r.status, 200)
        self.assertEqual(hashlib.sha256(r.body).digest(), hashlib.sha256(BIG).digest())

    def test_large_file_slow_reader(self):
        # The socket fills: the server's writes say WANT_WRITE and resume.
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
        s.settimeout(harness.TIMEOUT)
        s.connect(("127.0.0.1", self.srv.tls_port))
        c = Conn(self.srv.ctx.wrap_socket(s, server_hostname="localhost"))
        try:
            c.send(build_request("GET", "/big.png", self.host()))
            got = b""
            while b"\r\n\r\n" not in got:
                got += c.sock.recv(1024)
            head, body = got.split(b"\r\n\r\n", 1)
            while len(body) < len(BIG):
                chunk = c.sock.recv(7000)
                self.assertTrue(chunk, "closed after %d bytes" % len(body))
                body += chunk
            self.assertEqual(body, BIG)
        finally:
            c.close()

    def test_interleaved_slow_downloads(self):
        # Four slow readers at once, read in turn: the server's records for
        # one connection wait in that connection's own buffer while the
        # worker writes to the others (tls.c's stage); the first connection
        # pipelines two GETs. Every body arrives whole and in order.
        conns = []
        try:
            for _ in range(4):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
                s.settimeout(harness.TIMEOUT)
                s.connect(("127.0.0.1", self.srv.tls_port))
                conns.append(self.srv.ctx.wrap_socket(s, server_hostname="localhost"))
            req = build_request("GET", "/big.png", self.host())
            conns[0].sendall(req + req)
            for c in conns[1:]:
                c.sendall(req)
            want = [2, 1, 1, 1]
            raw = [b""] * 4
            bodies = [[] for _ in conns]
            while any(len(b) < w for b, w in zip(bodies, want)):
                for i, c in enumerate(conns):
                    if len(bodies[i]) == want[i]:
                        continue
                    chunk = c.recv(7000)
                    self.assertTrue(chunk, "connection %d closed early" % i)
                    raw[i] += chunk
                    while b"\r\n\r\n" in raw[i]:
                        head, rest = raw[i].split(b"\r\n\r\n", 1)
                        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head[:40])
                        if len(rest) < len(BIG):
                            break
                        bodies[i].append(rest[:len(BIG)])
                        raw[i] = rest[len(BIG):]
            for i, bl in enumerate(bodies):
                for b in bl:
                    self.assertEqual(hashlib.sha256(b).digest(), hashlib.sha256(BIG).digest(), i)
        finally:
            for c in conns:
                c.close()

    def test_file_changed_between_requests_is_fresh(self):
        # Freshness over HTTPS: each rewrite is seen by the very next GET
        # on the same keep-alive connection, the file cached in between
        # (HTTPS requests carry their receive time, as plain ones do: the
        # TLS read BIO uses recvmsg with SO_TIMESTAMPNS). Three connections
        # of 45 rewrites (the default --keepalive-max is 100).
        path = os.path.join(self.srv.root, "fresh.txt")
        for n in range(3):
            c = self.srv.tls_connect()
            try:
                for i in range(45):
                    body = ("version %d.%d %s\n" % (n, i, "x" * (i % 7))).encode()
                    with open(path + ".tmp", "wb") as f:
                        f.write(body)
                    os.rename(path + ".tmp", path)
                    for _ in range(2):
                        c.send(build_request("GET", "/fresh.txt", self.host()))
                        r = c.read_response()
                        self.assertEqual(r.status, 200, (n, i))
                        self.assertEqual(r.body, body, (n, i))
            finally:
                c.close()

    def test_ranges(self):
        r = self.srv.tls_get("/big.png", headers={"Range": "bytes=100-199"})
        self.assertEqual(r.status, 206)
        self.assertEqual(r.body, BIG[100:200])
        r = self.srv.tls_get("/big.png", headers={"Range": "bytes=0-9,2000000-2000009"})
        self.assertEqual(r.status, 206)
        self.assertIn(BIG[0:10], r.body)
        self.assertIn(BIG[2000000:2000010], r.body)
        self.assertTrue(r.header("Content-Type").startswith("multipart/byteranges"))

    def test_conditional(self):
        r = self.srv.tls_get("/sample.txt")
        etag = r.header("ETag")
        self.assertTrue(etag)
        r = self.srv.tls_get("/sample.txt", headers={"If-None-Match": etag})
        self.assertEqual(r.status, 304)
        self.assertEqual(r.body, b"")

    def test_upload_content_length(self):
        body = b'{"tls": true, "n": [1, 2, 3]}'
        r = self.srv.tls_get("/upload", method="POST", body=body,
                             headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 201, r)
        loc = r.header("Location")
        self.assertTrue(loc.startswith("/uploads/"))
        self.assertEqual(self.stored(loc), body)

    def test_upload_chunked(self):
        body = b'{"chunked": "yes", "pad": "' + b"x" * 40000 + b'"}'
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 9000]), body[i:i + 9000])
                          for i in range(0, len(body), 9000)) + b"0\r\n\r\n"
        c = self.srv.tls_connect()
        try:
            c.send(build_request("POST", "/upload", self.host(),
                                 {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
                   + chunks)
            r = c.read_response("POST")
            self.assertEqual(r.status, 201, r)
            self.assertEqual(self.stored(r.header("Location")), body)
        finally:
            c.close()

    def test_upload_100_continue(self):
        body = b'{"expect": "100-continue"}'
        c = self.srv.tls_connect()
        try:
            c.send(build_request("POST", "/upload", self.host(),
                                 {"Content-Type": "application/json", "Content-Length": str(len(body)),
                                  "Expect": "100-continue"}))
            r = c.read_response("POST")
            self.assertEqual(r.status, 100)
            c.send(body)
            r = c.read_response("POST")
            self.assertEqual(r.status, 201, r)
        finally:
            c.close()

    def test_keep_alive(self):
        c = self.srv.tls_connect()
        try:
            for i in range(5):
                c.send(build_request("GET", "/sample.txt", self.host()))
                r = c.read_response()
                self.assertEqual(r.status, 200)
                self.assertEqual(r.body, b"hello sample\n")
                self.assertNotEqual(r.header("Connection"), "close")
        finally:
            c.close()

    def test_pipelining(self):
        c = self.srv.tls_connect()
        try:
            paths = ["/sample.txt", "/about.html", "/big.png", "/sub/page.htm", "/sample.txt"]
            c.send(b"".join(build_request("GET", p, self.host()) for p in paths))
            want = [b"hello sample\n", b"<!doctype html><title>about</title>\n", BIG, b"<p>sub page</p>\n", b"hello sample\n"]
            for p, w in zip(paths, want):
                r = c.read_response()
                self.assertEqual(r.status, 200, (p, r, r.body[:100]))
                self.assertEqual(r.body, w)
        finally:
            c.close()

    def test_header_timeout_after_handshake(self):
        c = self.srv.tls_connect()
        try:
            c.send(b"GET /sample.txt HTTP/1.1\r\nHost: x")
            t0 = time.monotonic()
            r = c.read_response()
            self.assertEqual(r.status, 408)
            self.assertLess(time.monotonic() - t0, 8)
        finally:
            c.close()

    def test_handshake_timeout(self):
        # A client that connects and sends half a ClientHello.
        s = socket.create_connection(("127.0.0.1", self.srv.tls_port), timeout=harness.TIMEOUT)
        try:
            s.sendall(b"\x16\x03\x01\x02\x00\x01")
            t0 = time.monotonic()
            data = s.recv(100)
            self.assertIn(data, (b"",), "no bytes before the close")
            self.assertLess(time.monotonic() - t0, 8)
        except ConnectionResetError:
            pass
        finally:
            s.close()

    def test_plain_http_on_tls_port(self):
        s = socket.create_connection(("127.0.0.1", self.srv.tls_port), timeout=harness.TIMEOUT)
        c = Conn(s)
        try:
            c.send(build_request("GET", "/sample.txt", self.host()))
            r = c.read_response()
            self.assertEqual(r.status, 400)
            self.assertIn(b"HTTPS", r.body)
            self.assertEqual(r.header("Connection"), "close")
            self.assertTrue(c.closed_by_peer())
        finally:
            c.close()

    def test_alpn(self):
        ctx = tls_client_ctx(cafile=self.cert)
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        c = self.srv.tls_connect(ctx)
        self.assertEqual(c.sock.selected_alpn_protocol(), "http/1.1")
        c.close()
        ctx = tls_client_ctx(cafile=self.cert)
        ctx.set_alpn_protocols(["h2"])
        c = self.srv.tls_connect(ctx)
        try:
            self.assertIsNone(c.sock.selected_alpn_protocol())
            c.send(build_request("GET", "/sample.txt", self.host()))
            self.assertEqual(c.read_response().status, 200)
        finally:
            c.close()

    def test_versions_12_and_13(self):
        for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = tls_client_ctx(cafile=self.cert, minimum_version=v, maximum_version=v)
            c = self.srv.tls_connect(ctx)
            try:
                self.assertEqual(c.sock.version(), {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                                    ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[v])
                cipher = c.sock.cipher()[0]
                self.assertRegex(cipher, r"GCM|CHACHA20")
                c.send(build_request("GET", "/sample.txt", self.host()))
                self.assertEqual(c.read_response().status, 200)
            finally:
                c.close()

    def s_client(self, *args, input=b""):
        return run(OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % self.srv.tls_port,
                   "-servername", "localhost", *args, input=input)

    def test_old_versions_and_cbc_refused(self):
        n0 = len(self.srv.log)
        for args in (["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"],
                     ["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"],
                     ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"]):
            p = self.s_client(*args)
            out = p.stdout + p.stderr
            self.assertRegex(out, rb"(?i)alert|handshake failure|no protocols|wrong version|"
                                  rb"unsupported protocol", args)
            self.assertNotRegex(out, rb"New, TLSv1\.[0-3], Cipher is [A-Z]", args)
        # The server saw them as failed handshakes (counted, logged at most
        # once a second).
        self.assertIsNotNone(self.srv.wait_log(r"TLS handshake with 127\.0\.0\.1 failed", start=n0))

    def test_resumption_openssl(self):
        sess = os.path.join(self.fresh_dir("mthttpd-tls-"), "sess.pem")
        req = build_request("GET", "/sample.txt", self.host(), {"Connection": "close"})
        for ver in ("-tls1_3", "-tls1_2"):
            p = self.s_client(ver, "-sess_out", sess, "-ign_eof", input=req)
            self.assertIn(b"hello sample", p.stdout)
            p = self.s_client(ver, "-sess_in", sess, "-ign_eof", input=req)
            self.assertIn(b"hello sample", p.stdout)
            self.assertRegex(p.stdout, rb"Reused, TLSv1\.[23]", ver)

    def test_resumption_renews_tls13_ticket(self):
        # A TLS 1.3 client uses a ticket once (RFC 8446 C.4): a resumed
        # connection must hand out a new ticket, or the next connection
        # is a full handshake. Four connections, each resuming with the
        # ticket the one before it received.
        d = self.fresh_dir("mthttpd-tls-")
        req = build_request("GET", "/sample.txt", self.host(), {"Connection": "close"})
        prev = None
        for i in range(4):
            out = os.path.join(d, "sess%d.pem" % i)
            args = ["-tls1_3", "-sess_out", out, "-ign_eof"] + (["-sess_in", prev] if prev else [])
            p = self.s_client(*args, input=req)
            self.assertIn(b"hello sample", p.stdout, i)
            self.assertRegex(p.stdout, rb"Reused, TLSv1\.3" if prev else rb"New, TLSv1\.3", i)
            self.assertTrue(os.path.exists(out), "connection %d received no ticket" % i)
            prev = out

    def test_resumption_python(self):
        for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = tls_client_ctx(cafile=self.cert, minimum_version=v, maximum_version=v)
            c = self.srv.tls_connect(ctx)
            c.send(build_request("GET", "/sample.txt", self.host()))
            c.read_response()  # TLS 1.3 tickets come after the handshake
            sess = c.sock.session
            c.close()
            c = self.srv.tls_connect(ctx, session=sess)
            try:
                self.assertTrue(c.sock.session_reused, v)
                c.send(build_request("GET", "/sample.txt", self.host()))
                self.assertEqual(c.read_response().status, 200)
            finally:
                c.close()

    def test_handshake_failures_rate_limited(self):
        n0 = len(self.srv.log)
        t0 = time.monotonic()
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", self.srv.tls_port), timeout=harness.TIMEOUT)
            s.sendall(b"\x16\x03\x01\x00\x05hello")
            try:
                while s.recv(100):
                    pass
            except ConnectionResetError:
                pass
            s.close()
        secs = time.monotonic() - t0
        self.assertIsNotNone(self.srv.wait_log(r"TLS handshake with .* failed", start=n0))
        lines = [l for l in self.srv.log[n0:] if "TLS handshake with" in l]
        self.assertLessEqual(len(lines), int(secs) + 2, lines)
        self.assertGreaterEqual(len(lines), 1)


@unittest.skipIf(OPENSSL is None, "openssl CLI missing")
class TestSNIAndReload(harness.ServerTest):
    class_server = False  # every test starts its own

    def setUp(self):
        self.dir = self.fresh_dir("mthttpd-tls-")
        self.a = make_cert(self.dir, "a", "a.test")
        self.b = make_cert(self.dir, "b", "b.test", ["DNS:b.test", "DNS:*.b.test"])
        self.srv = self.start_server(tls=[self.a, self.b])
        self.noverify = tls_client_ctx()

    def cn(self, name):
        c = self.srv.tls_connect(self.noverify, server_hostname=name)
        try:
            c.send(build_request("GET", "/sample.txt", "localhost"))
            self.assertEqual(c.read_response().status, 200)
            return peer_cn(c.sock)
        finally:
            c.close()

    def test_sni_selects(self):
        self.assertEqual(self.cn("a.test"), "a.test")
        self.assertEqual(self.cn("b.test"), "b.test")
        self.assertEqual(self.cn("x.b.test"), "b.test")
        self.assertEqual(self.cn("other.test"), "a.test")  # the first pair is the default
        self.assertEqual(self.cn(None), "a.test")

    def test_sighup_reload(self):
        self.assertEqual(self.cn("a.test"), "a.test")
        held = self.srv.tls_connect(self.noverify, server_hostname="a.test")
        new = make_cert(self.dir, "new", "a2.test", ["DNS:a.test"])
        os.replace(new[0], self.a[0])
        os.replace(new[1], self.a[1])
        n0 = len(self.srv.log)
        self.srv.proc.send_signal(signal.SIGHUP)
        self.assertIsNotNone(self.srv.wait_log(r"reloaded 2 TLS certificate", start=n0))
        self.assertEqual(self.cn("a.test"), "a2.test")
        # A connection made before the reload goes on working.
        held.send(build_request("GET", "/sample.txt", "localhost"))
        self.assertEqual(held.read_response().status, 200)
        held.close()
        # A bad pair (key of another cert) keeps the loaded one.
        shutil.copy(self.b[1], self.a[1])
        n0 = len(self.srv.log)
        self.srv.proc.send_signal(signal.SIGHUP)
        self.assertIsNotNone(self.srv.wait_log(r"does not match.*still serving", start=n0))
        self.assertEqual(self.cn("a.test"), "a2.test")
        self.assertEqual(self.cn("b.test"), "b.test")


@unittest.skipIf(OPENSSL is None, "openssl CLI missing")
class TestRedirect(harness.TLSServerTest):
    root_files = {"big.png": BIG}
    server_args = ("--redirect-https",)

    def test_plain_redirects(self):
        r = self.srv.get("/sub/page.htm?x=1", headers={})
        self.assertEqual(r.status, 308)
        self.assertEqual(r.header("Location"), "https://127.0.0.1:%d/sub/page.htm?x=1" % self.srv.tls_port)
        self.assertEqual(r.body, b"")
        raw = build_request("HEAD", "/a", "localhost:8080")
        r = self.srv.request(raw, "HEAD")
        self.assertEqual(r.status, 308)
        self.assertEqual(r.header("Location"), "https://localhost:%d/a" % self.srv.tls_port)
        self.assertEqual(self.srv.tls_get("/sample.txt").status, 200)


@unittest.skipIf(OPENSSL is None, "openssl CLI missing")
class TestStartupChecks(harness.ServerTest):
    class_server = False  # every test starts its own, if any

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dir = cls.fresh_class_dir("mthttpd-tls-")
        cls.a = make_cert(cls.dir, "a", "a.test")
        cls.b = make_cert(cls.dir, "b", "b.test")

    def start_fails(self, *args):
        p = run(harness.BIN, "--port", "0", "--tls-port", "0", "--root", self.fresh_root(),
                "--access-log", "off", *args, timeout=15)
        err = p.stderr.decode()
        self.assertEqual(p.returncode, 1, err)
        errors = [l for l in err.splitlines() if "[error]" in l]
        self.assertEqual(len(errors), 1, err)
        self.assertNotRegex(err, harness.SANITIZER_RE)
        return errors[0]

    def test_missing_file(self):
        line = self.start_fails("--tls-cert", self.a[0], "--tls-key", self.dir + "/nope.key")
        self.assertIn("nope.key", line)
        self.assertIn("No such file", line)

    def test_key_not_matching(self):
        line = self.start_fails("--tls-cert", self.a[0], "--tls-key", self.b[1])
        self.assertIn("does not match", line)

    def test_second_pair_checked_too(self):
        line = self.start_fails("--tls-cert", self.a[0], "--tls-key", self.a[1],
                                "--tls-cert", self.b[0], "--tls-key", self.a[1])
        self.assertIn("does not match", line)

    def test_not_a_certificate(self):
        line = self.start_fails("--tls-cert", self.a[1], "--tls-key", self.a[1])
        self.assertIn(os.path.basename(self.a[1]), line)

    def test_weak_key_outside_policy(self):
        weak = make_cert(self.dir, "weak", "weak.test", keyalg="rsa", bits=1024)
        line = self.start_fails("--tls-cert", weak[0], "--tls-key", weak[1])
        self.assertIn("weak.crt", line)

    def test_unreadable_file(self):
        if os.geteuid() == 0:
            self.skipTest("root reads any file")
        path = os.path.join(self.dir, "locked.key")
        shutil.copy(self.a[1], path)
        os.chmod(path, 0)
        line = self.start_fails("--tls-cert", self.a[0], "--tls-key", path)
        self.assertIn("Permission denied", line)

    def test_expired_only_warns(self):
        old = make_expired_cert(self.fresh_dir("mthttpd-tls-"))
        srv = self.start_server(tls=[old])
        self.assertIsNotNone(srv.wait_log(r"\[warn\].*old\.crt has expired"))
        c = srv.tls_connect(tls_client_ctx())
        try:
            c.send(build_request("GET", "/sample.txt", "localhost"))
            self.assertEqual(c.read_response().status, 200)
        finally:
            c.close()

    def test_usage_errors(self):
        p = run(harness.BIN, "--tls-cert", self.a[0], timeout=10)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"--tls-key", p.stderr)
        p = run(harness.BIN, "--redirect-https", timeout=10)
        self.assertEqual(p.returncode, 2)


if __name__ == "__main__":
    unittest.main()
