"""Connections (SPEC §2 "Connections", §6): keep-alive and its limits,
pipelining, idle and header timeouts, slow clients, --max-conns, many idle
connections on few threads, parallel clients."""
import random
import re
import resource
import select
import socket
import threading
import time
import unittest

from harness import ServerTest, build_request

KA_RE = re.compile(r"^timeout=(\d+), max=(\d+)$")


def pages(n=20, prefix="p"):
    return {"%s%d.html" % (prefix, i): ("<p>page %d %s</p>\n" % (i, "x" * i)).encode() for i in range(n)}


class Base(ServerTest):
    threads = 2
    extra_files = {}
    check_exit = True

    @classmethod
    def make_files(cls):
        cls.files = pages()
        cls.files.update(cls.extra_files)
        return cls.files

    def req(self, path, method="GET", version="HTTP/1.1", headers=None, host=True):
        return build_request(method, path, self.srv.hostport() if host else None, headers, version)

    def assertPage(self, r, i, prefix="p"):
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, self.files["%s%d.html" % (prefix, i)])

    def assertKeepAlive(self, r, timeout=None, left=None):
        self.assertEqual(r.header("Connection"), "keep-alive", r)
        ka = r.header("Keep-Alive")
        self.assertIsNotNone(ka, r)
        m = KA_RE.match(ka)
        self.assertIsNotNone(m, "bad Keep-Alive %r" % ka)
        if timeout is not None:
            self.assertEqual(int(m.group(1)), timeout, ka)
        if left is not None:
            self.assertEqual(int(m.group(2)), left, ka)

    def assertClose(self, r):
        self.assertEqual(r.header("Connection"), "close", r)
        self.assertIsNone(r.header("Keep-Alive"), r)


class TestKeepAlive(Base):
    server_args = ("--keepalive-timeout", "7")

    def test_http11_persistent_by_default(self):
        c = self.srv.connect()
        try:
            for i in range(3):
                c.send(self.req("/p%d.html" % i))
                r = c.read_response()
                self.assertPage(r, i)
                self.assertKeepAlive(r, timeout=7, left=99 - i)
        finally:
            c.close()

    def test_http11_connection_close_honoured(self):
        for value in ("close", "Close", "CLOSE", "foo, close", "keep-alive, close"):
            with self.subTest(value=value):
                c = self.srv.connect()
                try:
                    c.send(self.req("/p1.html", headers={"Connection": value}))
                    r = c.read_response()
                    self.assertPage(r, 1)
                    self.assertClose(r)
                    self.assertTrue(c.closed_by_peer(timeout=5), "server kept the connection open")
                finally:
                    c.close()

    def test_http10_closes_by_default(self):
        for host in (True, False):
            with self.subTest(host=host):
                c = self.srv.connect()
                try:
                    c.send(self.req("/p2.html", version="HTTP/1.0", host=host))
                    r = c.read_response()
                    self.assertPage(r, 2)
                    self.assertClose(r)
                    self.assertTrue(c.closed_by_peer(timeout=5), "HTTP/1.0 connection kept open")
                finally:
                    c.close()

    def test_http10_keep_alive_on_request(self):
        c = self.srv.connect()
        try:
            for i, value in enumerate(("keep-alive", "Keep-Alive")):
                c.send(self.req("/p%d.html" % i, version="HTTP/1.0", headers={"Connection": value}))
                r = c.read_response()
                self.assertPage(r, i)
                self.assertKeepAlive(r, timeout=7, left=99 - i)
            # without the header the HTTP/1.0 request ends the connection
            c.send(self.req("/p3.html", version="HTTP/1.0"))
            r = c.read_response()
            self.assertPage(r, 3)
            self.assertClose(r)
            self.assertTrue(c.closed_by_peer(timeout=5))
        finally:
            c.close()

    def test_non_fatal_errors_keep_the_connection(self):
        c = self.srv.connect()
        try:
            c.send(self.req("/missing.html"))
            r = c.read_response()
            self.assertEqual(r.status, 404, r)
            self.assertKeepAlive(r)
            c.send(self.req("/data.json"))
            r = c.read_response()
            self.assertEqual(r.status, 415, r)
            self.assertKeepAlive(r)
            c.send(self.req("/p4.html"))
            self.assertPage(c.read_response(), 4)
        finally:
            c.close()

    def test_bad_request_closes(self):
        c = self.srv.connect()
        try:
            c.send(b"GET /p1.html HTTP/1.1\r\nHost: " + self.srv.hostport().encode() +
                   b"\r\nBad Header: x\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 400, r)
            self.assertClose(r)
            self.assertTrue(c.closed_by_peer(timeout=5))
        finally:
            c.close()


class TestKeepAliveMax(Base):
    server_args = ("--keepalive-max", "5", "--keepalive-timeout", "9")

    def test_countdown_then_close(self):
        c = self.srv.connect()
        try:
            for i in range(5):
                c.send(self.req("/p%d.html" % i))
                r = c.read_response()
                self.assertPage(r, i)
                if i < 4:
                    self.assertKeepAlive(r, timeout=9, left=4 - i)
                else:
                    self.assertClose(r)
            self.assertTrue(c.closed_by_peer(timeout=5), "connection open after the last request")
        finally:
            c.close()

    def test_pipelined_past_the_limit(self):
        c = self.srv.connect()
        try:
            c.send(b"".join(self.req("/p%d.html" % i) for i in range(7)))
            for i in range(5):
                r = c.read_response()
                self.assertPage(r, i)
                if i == 4:
                    self.assertClose(r)
            self.assertTrue(c.closed_by_peer(timeout=5), "a 6th response was sent: %r" % c.buf[:200])
        finally:
            c.close()

    def test_http10_keepalive_also_counted(self):
        c = self.srv.connect()
        try:
            for i in range(5):
                c.send(self.req("/p%d.html" % i, version="HTTP/1.0", headers={"Connection": "keep-alive"}))
                r = c.read_response()
                self.assertPage(r, i)
                if i < 4:
                    self.assertKeepAlive(r, left=4 - i)
                else:
                    self.assertClose(r)
            self.assertTrue(c.closed_by_peer(timeout=5))
        finally:
            c.close()


class TestPipelining(Base):
    extra_files = {"big%d.png" % i: bytes([i]) * 100 + random.Random(i).randbytes(700 * 1024) for i in range(3)}

    def test_twenty_in_one_write(self):
        reqs = []
        for i in range(20):
            if i == 7:
                reqs.append(self.req("/p7.html", method="HEAD"))
            elif i == 13:
                reqs.append(self.req("/missing13.html"))
            else:
                reqs.append(self.req("/p%d.html" % i))
        c = self.srv.connect()
        try:
            c.send(b"".join(reqs))
            for i in range(20):
                with self.subTest(i=i):
                    if i == 7:
                        r = c.read_response(method="HEAD")
                        self.assertEqual(r.status, 200)
                        self.assertEqual(r.header("Content-Length"), str(len(self.files["p7.html"])))
                    elif i == 13:
                        r = c.read_response()
                        self.assertEqual(r.status, 404)
                    else:
                        self.assertPage(c.read_response(), i)
            # nothing extra, and the connection still works
            c.send(self.req("/p19.html", headers={"Connection": "close"}))
            self.assertPage(c.read_response(), 19)
            self.assertEqual(c.buf, b"")
        finally:
            c.close()

    def test_pipelined_large_and_small_interleaved(self):
        order = ["big0.png", "p0.html", "big1.png", "p1.html", "big2.png", "p2.html", "big0.png"]
        c = self.srv.connect()
        try:
            c.send(b"".join(self.req("/" + n) for n in order))
            for n in order:
                r = c.read_response()
                self.assertEqual(r.status, 200, r)
                self.assertTrue(r.body == self.files[n], "wrong body for %s" % n)
        finally:
            c.close()

    def test_body_on_get_is_discarded(self):
        hp = self.srv.hostport()
        # the body looks like a request: it must not be parsed as one
        body = b"GET /p9.html HTTP/1.1\r\nHost: x\r\n\r\n"
        data = (build_request("GET", "/p1.html", hp, {"Content-Length": str(len(body))}) + body +
                build_request("HEAD", "/p3.html", hp, {"Content-Length": "5"}) + b"hello" +
                build_request("GET", "/p2.html", hp))
        c = self.srv.connect()
        try:
            c.send(data)
            self.assertPage(c.read_response(), 1)
            r = c.read_response(method="HEAD")
            self.assertEqual(r.status, 200, r)
            self.assertPage(c.read_response(), 2)
            c.send(self.req("/p4.html", headers={"Connection": "close"}))
            self.assertPage(c.read_response(), 4)
            self.assertEqual(c.buf, b"")
        finally:
            c.close()

    def test_pipelined_in_tiny_pieces(self):
        data = b"".join(self.req("/p%d.html" % i) for i in range(10))
        c = self.srv.connect()
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            for off in range(0, len(data), 7):
                c.send(data[off:off + 7])
            for i in range(10):
                self.assertPage(c.read_response(), i)
        finally:
            c.close()


class TestIdleTimeout(Base):
    server_args = ("--keepalive-timeout", "1")

    def test_idle_connection_closed_silently(self):
        c = self.srv.connect()
        try:
            c.send(self.req("/p1.html"))
            r = c.read_response()
            self.assertPage(r, 1)
            self.assertKeepAlive(r, timeout=1)
            t0 = time.monotonic()
            self.assertTrue(c.closed_by_peer(timeout=5), "idle connection not closed (or bytes sent: %r)" % c.buf)
            dt = time.monotonic() - t0
            self.assertGreaterEqual(dt, 0.5, "closed after %.2fs, before the idle timeout" % dt)
        finally:
            c.close()

    def test_activity_resets_the_idle_timer(self):
        c = self.srv.connect()
        try:
            for i in range(4):
                c.send(self.req("/p%d.html" % i))
                self.assertPage(c.read_response(), i)
                time.sleep(0.6)  # pacing: total idle time exceeds 1 s, each gap does not
        finally:
            c.close()


class TestHeaderTimeout(Base):
    server_args = ("--header-timeout", "1", "--keepalive-timeout", "10")
    threads = 1

    def expect_408(self, c, t0, limit):
        r = c.read_response()
        dt = time.monotonic() - t0
        self.assertEqual(r.status, 408, r)
        self.assertEqual(r.header("Connection"), "close", r)
        self.assertLessEqual(dt, limit, "408 after %.2fs" % dt)
        self.assertTrue(c.closed_by_peer(timeout=5), "connection kept open after 408")
        return dt

    def test_partial_head_gets_408(self):
        c = self.srv.connect()
        try:
            t0 = time.monotonic()
            c.send(b"GET /p1.html HTTP/1.1\r\nHost: " + self.srv.hostport().encode() + b"\r\n")
            dt = self.expect_408(c, t0, 4.0)
            self.assertGreaterEqual(dt, 0.5, "408 before the header timeout")
        finally:
            c.close()

    def test_silent_connection_gets_408(self):
        # The listener defers accept until the first bytes arrive, or
        # about a second of silence: a client that never speaks is still
        # accepted, answered 408 and closed, just that much later.
        c = self.srv.connect()
        try:
            t0 = time.monotonic()
            dt = self.expect_408(c, t0, 1 + 5.0)
            self.assertGreaterEqual(dt, 0.5, "408 before the header timeout")
        finally:
            c.close()

    def test_silent_and_partial_heads_get_408_on_time(self):
        # A client that never speaks is handed over by the kernel only
        # after the listener's one second of TCP_DEFER_ACCEPT; that second
        # counts towards its header timeout (3 s here), so it gets its 408
        # when a client that sent part of a head does, not a second later.
        srv = self.start_server("--header-timeout", "3", threads=1)
        try:
            for partial in (b"", b"GET / HTTP/1.1\r\n"):
                with self.subTest(partial=partial):
                    c = srv.connect()
                    try:
                        t0 = time.monotonic()
                        if partial:
                            c.send(partial)
                        dt = self.expect_408(c, t0, 3.8)
                        self.assertGreaterEqual(dt, 2.5, "408 before the header timeout")
                    finally:
                        c.close()
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_slowloris_gets_408(self):
        head = (b"GET /p1.html HTTP/1.1\r\nHost: " + self.srv.hostport().encode() +
                b"\r\nUser-Agent: slowloris" + b"-" * 200 + b"\r\n\r\n")
        c = self.srv.connect()
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            t0 = time.monotonic()
            sent = 0
            while sent < len(head) - 4 and time.monotonic() - t0 < 6:
                try:
                    c.send(head[sent:sent + 1])
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += 1
                p = select.poll()
                p.register(c.sock, select.POLLIN)
                if p.poll(300):  # pacing: 1 byte every 0.3 s, stop once answered
                    break
            self.assertLess(sent, len(head) - 4, "server never answered the slowloris")
            self.expect_408(c, t0, 1 + 2.5)
        finally:
            c.close()

    def test_partial_second_request_gets_408(self):
        c = self.srv.connect()
        try:
            c.send(self.req("/p2.html"))
            self.assertPage(c.read_response(), 2)
            t0 = time.monotonic()
            c.send(b"GET /p3.html HTTP/1.1\r\nHo")
            self.expect_408(c, t0, 4.0)
        finally:
            c.close()

    def test_head_in_pieces_within_timeout_is_served(self):
        data = self.req("/p5.html")
        c = self.srv.connect()
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            c.send(data[:10])
            time.sleep(0.3)  # pacing: a slow but timely client
            c.send(data[10:30])
            time.sleep(0.3)
            c.send(data[30:])
            self.assertPage(c.read_response(), 5)
        finally:
            c.close()


class TestSlowClients(Base):
    server_args = ("--header-timeout", "10")
    threads = 1

    def test_slow_clients_do_not_hold_the_only_worker(self):
        slow = [self.srv.connect() for _ in range(5)]
        try:
            for s in slow:
                s.send(b"GET /p1.html HTTP/1.1\r\nHost: x")
            t0 = time.monotonic()
            r = self.srv.get("/p6.html")
            self.assertPage(r, 6)
            self.assertLess(time.monotonic() - t0, 3.0, "one worker held by slow clients")
            # the slow ones are still waiting, not answered or dropped
            for s in slow:
                self.assertFalse(s.closed_by_peer(timeout=0.05), s.buf)
        finally:
            for s in slow:
                s.close()


class TestMaxConns(Base):
    server_args = ("--max-conns", "5")

    def test_sixth_connection_gets_503_then_capacity_returns(self):
        conns = []
        try:
            for i in range(5):
                c = self.srv.connect()
                conns.append(c)
                c.send(self.req("/p%d.html" % i))
                r = c.read_response()
                self.assertPage(r, i)
                self.assertKeepAlive(r)
            extra = self.srv.connect()
            try:
                extra.send(self.req("/p5.html"))
                r = extra.read_response()
                self.assertEqual(r.status, 503, r)
                self.assertEqual(r.header("Retry-After"), "1")
                self.assertEqual(r.header("Connection"), "close")
                self.assertTrue(extra.closed_by_peer(timeout=5), "503 connection kept open")
            finally:
                extra.close()
            # the five are still served
            for i, c in enumerate(conns):
                c.send(self.req("/p%d.html" % (i + 10)))
                self.assertPage(c.read_response(), i + 10)
            # close one: a new client is served once the server has seen it go
            conns.pop(0).close()
            deadline = time.monotonic() + 5
            statuses = []
            while True:
                n = self.srv.connect()
                try:
                    n.send(self.req("/p9.html"))
                    r = n.read_response()
                    statuses.append(r.status)
                    if r.status == 200:
                        self.assertPage(r, 9)
                        conns.append(n)
                        break
                    self.assertEqual(r.status, 503, r)
                    n.close()
                except (EOFError, ConnectionResetError):
                    n.close()
                self.assertLess(time.monotonic(), deadline, "no capacity after a close: %r" % statuses)
            for i, c in enumerate(conns):
                c.send(self.req("/p%d.html" % (i + 15)))
                self.assertPage(c.read_response(), i + 15)
        finally:
            for c in conns:
                c.close()


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        return False
    if soft != resource.RLIM_INFINITY and soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    return True


class TestManyIdleConnections(Base):
    """SPEC 6: 10,000 idle keep-alive clients with the default 10 threads
    must not stop an eleventh client from being served at once."""
    N = 10000
    threads = 10
    # The default --max-conns is exactly 10,000: leave room for the new one.
    server_args = ("--max-conns", "10100")

    @classmethod
    def setUpClass(cls):
        # The server inherits the limit from this process, so raise it
        # first; each process needs N descriptors and some spare.
        if not raise_nofile(cls.N + 1024):
            raise unittest.SkipTest("RLIMIT_NOFILE hard limit too low")
        super().setUpClass()

    def test_idle_clients_do_not_starve_a_new_one(self):
        conns = []
        try:
            for _ in range(self.N):
                conns.append(self.srv.connect())
            for i, c in enumerate(conns):
                c.send(self.req("/p%d.html" % (i % 20)))
            for i, c in enumerate(conns):
                r = c.read_response()
                self.assertPage(r, i % 20)
                self.assertKeepAlive(r)
            t0 = time.monotonic()
            r = self.srv.get("/p3.html")
            dt = time.monotonic() - t0
            self.assertPage(r, 3)
            # A liveness bound, not a benchmark: blocked would mean 10 s+.
            self.assertLess(dt, 5.0, "new client waited %.2fs behind %d idle ones" % (dt, self.N))
            for i in random.Random(7).sample(range(self.N), 50):
                conns[i].send(self.req("/p%d.html" % ((i + 1) % 20)))
                r = conns[i].read_response()
                self.assertPage(r, (i + 1) % 20)
                self.assertKeepAlive(r)
        finally:
            for c in conns:
                c.close()


class TestOutOfDescriptors(Base):
    """The server runs with RLIMIT_NOFILE 64 (inherited from this process,
    lowered just while it starts); more clients than that must not crash it,
    and it accepts again once descriptors are free."""
    LIMIT = 64

    @classmethod
    def setUpClass(cls):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (cls.LIMIT, hard))
        try:
            super().setUpClass()
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    def test_recovers_after_running_out(self):
        conns = []
        try:
            for i in range(3 * self.LIMIT):
                c = self.srv.connect()
                conns.append(c)
                c.send(self.req("/p%d.html" % (i % 20)))
            # the first ones were accepted and answered
            for i in range(10):
                self.assertPage(conns[i].read_response(), i % 20)
            self.assertIsNone(self.srv.proc.poll(), "server died when out of descriptors")
        finally:
            for c in conns:
                c.close()
        deadline = time.monotonic() + 5
        last = None
        while True:
            try:
                r = self.srv.get("/p7.html")
                if r.status == 200:
                    self.assertPage(r, 7)
                    break
                last = r
            except (OSError, EOFError) as e:
                last = e
            self.assertIsNone(self.srv.proc.poll(), "server died")
            self.assertLess(time.monotonic(), deadline, "not serving again after descriptors freed: %r" % (last,))
        # and keeps serving normally
        for i in range(5):
            self.assertPage(self.srv.get("/p%d.html" % i), i)


class TestParallelClients(Base):
    CLIENTS = 64
    PER = 20
    threads = 2
    extra_files = {"f%d.html" % i: random.Random(100 + i).randbytes(n)
                   for i, n in enumerate((0, 1, 100, 4096, 65537, 150000, 300001))}

    def test_parallel_clients_all_correct(self):
        names = sorted(self.files)
        errors = []
        done = [0]
        lock = threading.Lock()
        barrier = threading.Barrier(self.CLIENTS, timeout=20)

        def client(k):
            rnd = random.Random(k)
            keep = k % 2 == 0
            c = None
            try:
                barrier.wait()
                for j in range(self.PER):
                    name = rnd.choice(names)
                    if c is None:
                        c = self.srv.connect()
                    hdrs = {} if keep else {"Connection": "close"}
                    hdrs["X-Client"] = "%d-%d" % (k, j)
                    c.send(self.req("/" + name, headers=hdrs))
                    r = c.read_response()
                    if r.status != 200 or r.body != self.files[name]:
                        with lock:
                            errors.append((k, j, name, r.status, len(r.body)))
                    else:
                        with lock:
                            done[0] += 1
                    if not keep:
                        c.close()
                        c = None
            except Exception as e:  # noqa: BLE001 - reported below
                with lock:
                    errors.append((k, repr(e)))
            finally:
                if c is not None:
                    c.close()

        ts = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(self.CLIENTS)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        self.assertFalse(any(t.is_alive() for t in ts), "clients still running after 60 s")
        self.assertEqual(errors, [])
        self.assertEqual(done[0], self.CLIENTS * self.PER)


if __name__ == "__main__":
    unittest.main()
