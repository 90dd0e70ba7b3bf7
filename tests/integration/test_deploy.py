"""Deployments (issue 12, items 4 and 5): socket activation, --reuse-port,
a restart under load that loses nothing, HAProxy and nginx in front of
several instances sharing one site, and the bad input a proxy setup meets
(malformed PROXY headers, forged X-Forwarded-For, OPTIONS with a body).

Needs haproxy, nginx, wrk and systemd-socket-activate (`make test-deps`
installs them) and root for the sysctl of the restart test."""
import csv
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import unittest

import harness
from harness import (BIN, TIMEOUT, TOP, Proc, free_port, make_root, matching, read_lines,
                     wait_access, wait_until)
from test_upload import no_tmpfile_env

DEPLOY = os.path.join(TOP, "deploy")
PAGE = b"<!doctype html><title>home</title><p>home</p>\n"  # make_root's index.html
MIGRATE_REQ = "/proc/sys/net/ipv4/tcp_migrate_req"
STORED = r"^upload_\d{8}_\d{6}_[a-z0-9]{6,}\.json$"  # a stored upload's name


def client(host, port, source=None, timeout=TIMEOUT):
    """A keep-alive HTTP client, optionally bound to a source address."""
    return http.client.HTTPConnection(host, port, timeout=timeout,
                                      source_address=(source, 0) if source else None)


def fetch(conn, method, path, body=None, headers=None):
    """One request on conn; returns (status, headers, body)."""
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    return r.status, r.getheaders(), r.read()


# ======================================================================
class TestSocketActivation(harness.ServerTest):
    class_server = False  # every test starts its own

    def test_systemd_socket_activate(self):
        tool = harness.need("systemd-socket-activate")
        root = self.fresh_root()
        tmp = self.fresh_dir("mthttpd-deploy-")
        port = free_port()
        alog = os.path.join(tmp, "access.log")
        # No --port: were the passed socket ignored, mthttpd would listen
        # on 8080 and the request below would never be answered.
        p = Proc([tool, "-l", "127.0.0.1:%d" % port, "--", BIN, "--threads", "2",
                  "--root", root, "--access-log", alog])
        self.addCleanup(p.stop, signal.SIGKILL)
        self.assertIsNotNone(p.wait_log(r"Listening on 127\.0\.0\.1:%d as 3" % port), p.log)
        # systemd-socket-activate execs mthttpd at the first connection.
        c = client("127.0.0.1", port)
        status, _, body = fetch(c, "GET", "/index.html")
        self.assertEqual((status, body), (200, PAGE))
        self.assertEqual(fetch(c, "GET", "/sample.txt")[0], 200)  # same connection, kept alive
        c.close()
        self.assertIsNotNone(p.wait_log(r"\[main\] .*listening on 127\.0\.0\.1:%d$" % port), p.log)
        self.assertEqual(p.stop(), 0, p.log)
        p.check_sanitizers()  # the process is mthttpd once activated
        self.assertEqual(len(matching(alog, r'^127\.0\.0\.1 .*"GET /(index\.html|sample\.txt) HTTP/1\.1" 200 ')), 2)


    def test_restart_keeps_the_socket(self):
        """A restart as systemd does it for a socket-activated service: the
        listening socket outlives the process. The old process must leave
        it listening when it stops (not shut it down: the socket is
        shared), and a connection made while no process runs waits in its
        queue and is answered by the next one."""
        ls = socket.socket()
        self.addCleanup(ls.close)
        ls.bind(("127.0.0.1", 0))
        ls.listen(64)
        port = ls.getsockname()[1]
        root = self.fresh_root()

        def at_fd3():
            if ls.fileno() == 3:
                os.set_inheritable(3, True)  # dup2(3, 3) would keep close-on-exec
            else:
                os.dup2(ls.fileno(), 3)

        def start():
            # As systemd: the socket at descriptor 3, LISTEN_PID the pid
            # that execs mthttpd (sh's $$, kept by exec).
            p = Proc(["sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"', "sh", BIN,
                      "--threads", "2", "--root", root, "--access-log", "off"],
                     close_fds=False, preexec_fn=at_fd3)
            self.addCleanup(p.stop, signal.SIGKILL)
            self.assertIsNotNone(p.wait_log(r"\[main\] .*listening on 127\.0\.0\.1:%d$" % port), p.log)
            return p

        a = start()
        c = client("127.0.0.1", port)
        self.assertEqual(fetch(c, "GET", "/index.html")[::2], (200, PAGE))
        c.close()
        a.proc.send_signal(signal.SIGTERM)
        self.assertEqual(a.proc.wait(TIMEOUT), 0, a.log)
        # No process now: the handshake completes in the socket's queue.
        waiting = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.addCleanup(waiting.close)
        waiting.sendall(b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n" % port)
        b = start()
        got = b""
        while True:
            chunk = waiting.recv(65536)
            if not chunk:
                break
            got += chunk
        self.assertTrue(got.startswith(b"HTTP/1.1 200 "), got[:200])
        self.assertTrue(got.endswith(PAGE), got[-200:])
        self.assertEqual(b.stop(), 0, b.log)


# ======================================================================
class TestReusePort(harness.ServerTest):
    class_server = False  # every test starts its own

    def test_two_share_a_port_a_third_without_it_fails(self):
        root = self.fresh_root()
        tmp = self.fresh_dir("mthttpd-deploy-")
        port = free_port()
        logs = [os.path.join(tmp, "a.log"), os.path.join(tmp, "b.log")]
        srvs = []
        for lg in logs:
            s = self.start_server("--port", str(port), "--reuse-port", root=root, access_log=lg)
            self.assertEqual(s.port, port)
            srvs.append(s)
        # The kernel spreads connections over both by their 4-tuple: 40
        # connections all landing on one of two listeners has odds of 2^-39.
        for i in range(40):
            c = client("127.0.0.1", port)
            self.assertEqual(fetch(c, "GET", "/index.html?n=%d" % i)[:3:2], (200, PAGE))
            c.close()
        for s in srvs:
            self.assertEqual(s.stop(), 0)
        counts = [len(matching(lg, r'"GET /index\.html\?n=\d+ HTTP/1\.1" 200 ')) for lg in logs]
        self.assertEqual(sum(counts), 40, counts)
        self.assertTrue(all(counts), counts)
        # Without --reuse-port, the port is taken: a start-up failure.
        a = self.start_server("--port", str(port), "--reuse-port", root=root)
        c = self.start_server("--port", str(port), root=root, wait=False)
        self.assertEqual(c.proc.wait(TIMEOUT), 1, c.log)
        self.assertIsNotNone(c.wait_log(r"(?i)in use"), c.log)
        self.assertEqual(a.get("/index.html").status, 200)  # the first is unharmed


# ======================================================================
WRK_TOTAL = re.compile(r"^\s*(\d+) requests in ", re.M)
WRK_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
WRK_NON2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


class TestRestartUnderLoad(harness.ServerTest):
    class_server = False  # every test starts its own

    def setUp(self):
        if os.geteuid() != 0:
            raise AssertionError("the restart test sets net.ipv4.tcp_migrate_req: run it as root")
        with open(MIGRATE_REQ) as f:
            old = f.read().strip()
        # As a deployment would (issue 12: the README is to say so): without
        # it, Linux resets the connections still queued on a closing listener.
        subprocess.run(["sysctl", "-q", "-w", "net.ipv4.tcp_migrate_req=1"], check=True, timeout=TIMEOUT)
        self.addCleanup(subprocess.run, ["sysctl", "-q", "-w", "net.ipv4.tcp_migrate_req=" + old],
                        timeout=TIMEOUT)

    def test_restart_keep_alive(self):
        """wrk's 64 keep-alive connections: those on A get Connection: close
        (or, idle, are closed) and reconnect to B."""
        self.restart()

    def test_restart_connection_per_request(self):
        """--keepalive-max 1: every request a new connection, so some sit in
        A's accept queue when it stops listening; the kernel hands them to
        B (tcp_migrate_req). With the sysctl at 0 this test fails about one
        run in two (wrk counts read errors: the queued connections are
        reset). At 1 one window is left, in the kernel: a handshake whose
        last packet is being processed on one CPU while A's listener closes
        on the other passed the "still listening?" check in tcp_v4_rcv but
        finds the listener closed in inet_csk_reqsk_queue_add, which drops
        the new connection instead of migrating it (wrk: one read error;
        seen in 1 of about 40 runs of this test beside the rest of the
        suite, never 2). A client behind HAProxy with retry-on never sees
        it (README, "Running several instances"). So here at most
        KERNEL_RESETS read errors are allowed, nothing else."""
        self.restart("--keepalive-max", "1", read_errors_allowed=self.KERNEL_RESETS)

    KERNEL_RESETS = 2

    def restart(self, *extra, read_errors_allowed=0):
        wrk = harness.need("wrk")
        root = self.fresh_root()
        tmp = self.fresh_dir("mthttpd-deploy-")
        port = free_port()
        log_a, log_b = os.path.join(tmp, "a.log"), os.path.join(tmp, "b.log")
        args = ("--port", str(port), "--reuse-port") + extra
        a = self.start_server(*args, root=root, access_log=log_a)
        load = subprocess.Popen([wrk, "-t2", "-c64", "-d6s", "http://127.0.0.1:%d/index.html" % port],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: load.poll() is None and load.kill())
        # A is under load (its log has lines, so about a second in).
        wait_access(log_a, r'"GET /index\.html HTTP/1\.1" 200 ', n=100)
        b = self.start_server(*args, root=root, access_log=log_b)
        self.assertIsNotNone(b.wait_log(r"listening on 127\.0\.0\.1:%d$" % port))
        a.proc.send_signal(signal.SIGTERM)
        self.assertEqual(a.proc.wait(15), 0, a.log)
        t_a = time.monotonic()
        out = load.communicate(timeout=30)[0].decode("utf-8", "replace")
        self.assertEqual(load.returncode, 0, out)
        self.assertGreater(time.monotonic(), t_a + 0.5, "wrk ended before A was gone: no restart under load")
        self.assertEqual(a.stop(), 0)
        self.assertEqual(b.stop(), 0)
        m = WRK_TOTAL.search(out)
        self.assertIsNotNone(m, out)
        total = int(m.group(1))
        e = WRK_ERRORS.search(out)  # wrk prints this line only when some count is not 0
        connect, read, write, timeout = (int(x) for x in (e.groups() if e else ("0",) * 4))
        self.assertEqual((connect, write, timeout), (0, 0, 0),
                         "socket errors connect/write/timeout:\n" + out)
        self.assertLessEqual(read, read_errors_allowed, "read errors:\n" + out)
        self.assertIsNone(WRK_NON2XX.search(out), out)
        served_a = len(matching(log_a, r'"GET /index\.html HTTP/1\.1" 200 '))
        served_b = len(matching(log_b, r'"GET /index\.html HTTP/1\.1" 200 '))
        self.assertGreater(served_a, 0)
        self.assertGreater(served_b, 0)
        # Every response wrk counted was logged by one of the two (the
        # servers also answered the requests in flight when wrk stopped).
        self.assertGreaterEqual(served_a + served_b, total, out)
        bad = matching(log_a, r'" [^2]\d\d ') + matching(log_b, r'" [^2]\d\d ')
        self.assertEqual(bad, [])


# ======================================================================
class Haproxy(Proc):
    """deploy/haproxy.cfg, as shipped, with the ports and paths of this test
    substituted (each substitution must match: a changed file fails here)."""

    def __init__(self, tmp, backends):
        self.port = free_port()
        self.sock = os.path.join(tmp, "haproxy.sock")
        with open(os.path.join(DEPLOY, "haproxy.cfg")) as f:
            cfg = f.read()
        # maxconn 20000 needs 40000 descriptors, more than this machine's
        # hard limit may allow (HAProxy then refuses to start): 1000 here.
        subs = [(r"(?m)^(\s*maxconn) 20000$", r"\1 1000"),
                (r"(?m)^(\s*stats socket) /run/haproxy/mthttpd\.sock", r"\1 " + self.sock),
                (r"(?m)^(\s*bind) :9080$", r"\1 127.0.0.1:%d" % self.port),
                (r"(?m)^(\s*bind) 127\.0\.0\.1:9404$", r"\1 127.0.0.1:%d" % free_port())]
        for i, p in enumerate(backends, 1):
            subs.append((r"(?m)^(\s*server s%d) 127\.0\.0\.1:808%d$" % (i, i), r"\g<1> 127.0.0.1:%d" % p))
        for rx, rep in subs:
            cfg, n = re.subn(rx, rep, cfg)
            if n != 1:
                raise AssertionError("deploy/haproxy.cfg: /%s/ matched %d times" % (rx, n))
        self.cfg = os.path.join(tmp, "haproxy.cfg")
        with open(self.cfg, "w") as f:
            f.write(cfg)
        haproxy = harness.need("haproxy")
        chk = subprocess.run([haproxy, "-c", "-q", "-f", self.cfg], capture_output=True, timeout=TIMEOUT)
        if chk.returncode != 0:
            raise AssertionError("haproxy -c: %s" % (chk.stdout + chk.stderr).decode())
        super().__init__([haproxy, "-db", "-f", self.cfg])

    def stat(self):
        """The servers of backend mthttpd: {svname: status}, from the
        runtime API's `show stat` (CSV); {} while it is not up."""
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(TIMEOUT)
                s.connect(self.sock)
                s.sendall(b"show stat\n")
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        except (FileNotFoundError, ConnectionRefusedError):
            return {}
        rows = list(csv.reader(data.decode().lstrip("# ").splitlines()))
        head = rows[0]
        px, sv, st = head.index("pxname"), head.index("svname"), head.index("status")
        return {r[sv]: r[st] for r in rows[1:]
                if len(r) > st and r[px] == "mthttpd" and r[sv] not in ("BACKEND", "FRONTEND")}

    def wait_status(self, want, timeout=15):
        """Waits until the servers' statuses are exactly want (a dict)."""
        return wait_until(lambda: self.stat() == want, timeout,
                          "HAProxy to report %s (now %s)" % (want, self.stat()))


def upload_body(tag, i):
    return json.dumps({"tag": tag, "n": i, "pad": "x" * (i % 97)}).encode()


class TestHaproxy(harness.ServerTest):
    """Three instances, one root, one uploads directory, HAProxy in front.
    Class cleanups stop HAProxy, then the instances, then remove the
    directory that holds the root, uploads and logs."""
    class_server = False  # three instances of its own
    named_temps = False  # O_TMPFILE refused (as on NFS): named temporary files

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = cls.fresh_class_dir("mthttpd-deploy-")
        cls.root = make_root(parent=cls.tmp)
        cls.uploads = os.path.join(cls.tmp, "uploads")
        cls.logs = [os.path.join(cls.tmp, "s%d.log" % i) for i in (1, 2, 3)]
        cls.inst = [None] * 3
        for i in range(3):
            cls.start_instance(i, 0)
        cls.hap = Haproxy(cls.tmp, [s.port for s in cls.inst])
        cls.addClassCleanup(cls.hap.stop)

    @classmethod
    def start_instance(cls, i, port):
        cls.inst[i] = cls.start_class_server("--port", str(port), "--proxy-protocol", "--uploads", cls.uploads,
                                             "--allow-host", "www.example.com",
                                             root=cls.root, access_log=cls.logs[i],
                                             extra_env=no_tmpfile_env() if cls.named_temps else None)

    def all_up(self):
        self.hap.wait_status({"s1": "UP", "s2": "UP", "s3": "UP"})

    def stored(self):
        return sorted(os.listdir(self.uploads))

    def test_1_spread_and_real_client(self):
        self.all_up()
        c = client("127.0.0.1", self.hap.port)
        for i in range(60):
            status, _, body = fetch(c, "GET", "/index.html?spread=%d" % i)
            self.assertEqual((status, body), (200, PAGE), i)
        c.close()
        rx = r'"GET /index\.html\?spread=\d+ HTTP/1\.1" 200 '
        wait_until(lambda: sum(len(matching(lg, rx)) for lg in self.logs) >= 60, TIMEOUT, "60 GETs logged")
        counts = [len(matching(lg, rx)) for lg in self.logs]
        self.assertEqual(sum(counts), 60, counts)
        self.assertTrue(all(n >= 10 for n in counts), counts)  # round-robin: 20 each
        # The PROXY header names the client: 127.0.0.2, not HAProxy's 127.0.0.1.
        c = client("127.0.0.1", self.hap.port, source="127.0.0.2")
        self.assertEqual(fetch(c, "GET", "/sample.txt?who=me", headers={"Host": "www.example.com:80"})[0], 200)
        c.close()
        rx = r'"GET /sample\.txt\?who=me HTTP/1\.1" 200 '
        lines = wait_until(lambda: [l for lg in self.logs for l in matching(lg, rx)], TIMEOUT, "the line")
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith("127.0.0.2 - - ["), lines)
        # The health checks (OPTIONS, a LOCAL PROXY header) are logged with the peer.
        checks = matching(self.logs[0], r'"OPTIONS / HTTP/1\.1" 204 ')
        self.assertTrue(checks and all(l.startswith("127.0.0.1 ") for l in checks), checks[:3])

    def run_uploads(self, tag, n, threads, results, stop=None):
        """n uploads (or until stop is set) over threads keep-alive
        connections to HAProxy; appends (t_start, n, status or exception
        name, location) to results."""
        lock = threading.Lock()
        counter = iter(range(n))

        def work():
            c = client("127.0.0.1", self.hap.port)
            while stop is None or not stop.is_set():
                with lock:
                    i = next(counter, None)
                if i is None:
                    break
                t = time.monotonic()
                try:
                    st, hdrs, _ = fetch(c, "POST", "/upload", upload_body(tag, i),
                                        {"Content-Type": "application/json"})
                    loc = dict((k.lower(), v) for k, v in hdrs).get("location")
                except (OSError, http.client.HTTPException) as e:
                    st, loc = type(e).__name__, None
                    c.close()
                    c = client("127.0.0.1", self.hap.port)
                with lock:
                    results.append((t, i, st, loc))
            c.close()

        ts = [threading.Thread(target=work) for _ in range(threads)]
        for t in ts:
            t.start()
        return ts

    def check_stored(self, tag, results):
        """Every 201 of results names a stored file holding its bytes."""
        for t, i, st, loc in results:
            if st == 201:
                self.assertTrue(loc.startswith("/uploads/"), loc)
                self.assertRegex(loc[len("/uploads/"):], STORED)
                with open(os.path.join(self.uploads, loc[len("/uploads/"):]), "rb") as f:
                    self.assertEqual(f.read(), upload_body(tag, i), loc)

    def test_2_uploads_stored_once(self):
        self.all_up()
        before = set(self.stored())
        results = []
        for t in self.run_uploads("once", 300, 4, results):
            t.join(120)
        self.assertEqual(len(results), 300)
        self.assertEqual(sorted(st for _, _, st, _ in results if st != 201), [])
        self.check_stored("once", results)
        new = set(self.stored()) - before
        self.assertEqual(sorted(new), sorted(loc[len("/uploads/"):] for _, _, _, loc in results))
        # Spread over the three instances too.
        for lg in self.logs:
            self.assertTrue(wait_access(lg, r'"POST /upload HTTP/1\.1" 201 '), lg)
        for s in self.inst:
            fallback = s.wait_log(r"no O_TMPFILE .*using named temporary files", timeout=0)
            self.assertEqual(fallback is not None, self.named_temps, s.log)

    def test_3_kill_one_under_load(self):
        self.all_up()
        before = set(self.stored())
        stop = threading.Event()
        ups, gets = [], []

        def getter():
            c = client("127.0.0.1", self.hap.port)
            while not stop.is_set():
                t = time.monotonic()
                try:
                    st, _, body = fetch(c, "GET", "/index.html?load=1")
                    st = st if body == PAGE else "bad body"
                except (OSError, http.client.HTTPException) as e:
                    st = type(e).__name__
                    c.close()
                    c = client("127.0.0.1", self.hap.port)
                gets.append((t, st))
            c.close()

        ts = self.run_uploads("kill", 1 << 30, 2, ups, stop)
        ts += [threading.Thread(target=getter) for _ in range(2)]
        for t in ts[2:]:
            t.start()
        try:
            wait_until(lambda: len(ups) >= 20 and len(gets) >= 20, 30, "load to start")
            victim = self.inst[1]
            victim.proc.kill()
            victim.proc.wait(TIMEOUT)
            t_kill = time.monotonic()
            self.hap.wait_status({"s1": "UP", "s2": "DOWN", "s3": "UP"})
            t_down = time.monotonic()
            # The rest keeps serving: 30 uploads and 30 GETs begun after.
            wait_until(lambda: sum(1 for r in ups if r[0] > t_down) >= 30 and
                       sum(1 for r in gets if r[0] > t_down) >= 30, 30, "service after the kill")
        finally:
            stop.set()
            for t in ts:
                t.join(30)
        self.assertLess(t_down - t_kill, 10)
        after = [r for r in ups if r[0] > t_down] + [(r[0], None, r[1], None) for r in gets if r[0] > t_down]
        self.assertEqual([r for r in after if r[2] not in (200, 201)], [])
        # GETs are retried on another instance (retry-on, redispatch): none
        # fails, even those caught by the kill.
        self.assertEqual([g for g in gets if g[1] != 200], [])
        self.check_stored("kill", ups)
        # An upload cut by the kill got no 201: HAProxy does not repeat a
        # POST (HAProxy 2.6 closes the client's connection without an answer
        # then, http.client's RemoteDisconnected). It may or may not have
        # been stored, but whatever was stored is one whole document sent.
        sent = {upload_body("kill", i) for _, i, _, _ in ups}
        for name in set(self.stored()) - before:
            m = re.match(r"^\.upload-.+-(\d+)-[a-z0-9]+\.tmp$", name)
            if m and self.named_temps:
                # The killed instance's unfinished upload: only its own.
                self.assertEqual(int(m.group(1)), victim.proc.pid, name)
                continue
            self.assertRegex(name, STORED)
            with open(os.path.join(self.uploads, name), "rb") as f:
                self.assertIn(f.read(), sent, name)
        ok = {loc[len("/uploads/"):] for _, _, st, loc in ups if st == 201}
        self.assertLessEqual(ok, set(self.stored()))
        # Restarted on its port, it comes back UP; no temporary file is
        # left anywhere (O_TMPFILE: a killed upload leaves no name; named
        # ones of the dead process are removed at the start).
        self.start_instance(1, victim.port)
        victim.stop()
        self.all_up()
        self.assertEqual([n for n in self.stored() if not re.match(STORED, n)], [])
        c = client("127.0.0.1", self.hap.port)
        for _ in range(6):
            self.assertEqual(fetch(c, "GET", "/index.html?after=1")[0], 200)
        c.close()
        wait_access(self.logs[1], r'"GET /index\.html\?after=1 HTTP/1\.1" 200 ')


class TestHaproxyNamedTemps(TestHaproxy):
    """The same where the uploads directory has no O_TMPFILE (NFS): named
    temporary files carry host and pid, and the restarted instance removes
    what its killed predecessor left."""
    named_temps = True


# ======================================================================
class Nginx(Proc):
    """deploy/nginx.conf, as shipped, with this test's ports and prefix."""

    def __init__(self, tmp, backends):
        self.port = free_port()
        self.prefix = os.path.join(tmp, "nginx")
        os.makedirs(os.path.join(self.prefix, "logs"))
        with open(os.path.join(DEPLOY, "nginx.conf")) as f:
            cfg = f.read()
        subs = [(r"(?m)^(\s*listen) 9080;$", r"\1 127.0.0.1:%d;" % self.port),
                (r"(?m)^(error_log) logs/error\.log warn;$", r"\1 stderr warn;")]
        for i, p in enumerate(backends, 1):
            subs.append((r"(?m)^(\s*server) 127\.0\.0\.1:808%d " % i, r"\g<1> 127.0.0.1:%d " % p))
        for rx, rep in subs:
            cfg, n = re.subn(rx, rep, cfg)
            if n != 1:
                raise AssertionError("deploy/nginx.conf: /%s/ matched %d times" % (rx, n))
        self.cfg = os.path.join(tmp, "nginx.conf")
        with open(self.cfg, "w") as f:
            f.write(cfg)
        nginx = harness.need("nginx")
        argv = [nginx, "-p", self.prefix + "/", "-c", self.cfg, "-g", "daemon off;"]
        chk = subprocess.run(argv[:-2] + ["-t", "-q"], capture_output=True, timeout=TIMEOUT)
        if chk.returncode != 0:
            raise AssertionError("nginx -t: %s" % (chk.stdout + chk.stderr).decode())
        super().__init__(argv)

        def listening():
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return True
            except OSError:
                if self.proc.poll() is not None:
                    raise AssertionError("nginx exited: %s" % self.log)
                return False
        wait_until(listening, TIMEOUT, "nginx to listen")


class TestNginx(harness.ServerTest):
    class_server = False  # every test starts its own

    def test_names_and_forwarded_client(self):
        tmp = self.fresh_dir("mthttpd-deploy-")
        root = self.fresh_root()
        logs = [os.path.join(tmp, "s%d.log" % i) for i in (1, 2, 3)]
        inst = []
        for lg in logs:
            s = self.start_server("--trusted-proxy", "127.0.0.1", "--allow-host", "www.example.com",
                                  "--uploads", os.path.join(tmp, "uploads"), root=root, access_log=lg)
            inst.append(s)
        ngx = Nginx(tmp, [s.port for s in inst])
        self.addCleanup(ngx.stop)
        # The real name (nginx passes it without the port): 200 from each.
        c = client("127.0.0.1", ngx.port, source="127.0.0.3")
        for i in range(6):
            status, _, body = fetch(c, "GET", "/index.html?via=nginx%d" % i,
                                    headers={"Host": "www.example.com:%d" % ngx.port,
                                             "X-Forwarded-For": "203.0.113.9"})
            self.assertEqual((status, body), (200, PAGE))
        # A name not allowed is still refused, behind the proxy too.
        self.assertEqual(fetch(c, "GET", "/index.html", headers={"Host": "evil.example.net"})[0], 403)
        doc = b'{"via": "nginx"}'
        status, hdrs, _ = fetch(c, "POST", "/upload", doc, {"Host": "www.example.com",
                                                           "Content-Type": "application/json"})
        self.assertEqual(status, 201)
        loc = dict((k.lower(), v) for k, v in hdrs)["location"]
        with open(os.path.join(tmp, "uploads", loc[len("/uploads/"):]), "rb") as f:
            self.assertEqual(f.read(), doc)
        c.close()
        rx = r'"GET /index\.html\?via=nginx\d HTTP/1\.1" 200 '
        wait_until(lambda: sum(len(matching(lg, rx)) for lg in logs) >= 6, TIMEOUT, "6 lines")
        lines = [l for lg in logs for l in matching(lg, rx)]
        self.assertEqual(len(lines), 6, lines)
        # The client nginx saw, 127.0.0.3: not nginx (127.0.0.1), not the
        # address the client forged in X-Forwarded-For.
        self.assertEqual([l.split(" ", 1)[0] for l in lines], ["127.0.0.3"] * 6)
        self.assertTrue(all(matching(lg, rx) for lg in logs), "not spread: %s" % lines)
        self.assertEqual(ngx.stop(signal.SIGQUIT), 0, ngx.log)


# ======================================================================
class TestBadProxyInput(harness.ServerTest):
    class_server = False  # every test starts its own

    def setUp(self):
        self.tmp = self.fresh_dir("mthttpd-deploy-")

    def server(self, *args):
        """A server of this test and its access log (kept after it stops)."""
        alog = os.path.join(self.tmp, "access-%d.log" % len(os.listdir(self.tmp)))
        return self.start_server(*args, access_log=alog), alog

    def test_malformed_proxy_header_closed_and_logged(self):
        s, alog = self.server("--proxy-protocol")
        req = b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n"
        bad = [b"PROXY TCP4 1.2.3.4 127.0.0.1 5555\r\n",          # a field missing
               b"PROXY TCP4 1.2.3.400 127.0.0.1 5555 80\r\n",     # not an address
               b"PROXY TCP6 1.2.3.4 127.0.0.1 5555 80\r\n",       # family mismatch
               b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x04" + bytes(4),  # v2, too short for TCP4
               req]                                               # no header at all
        for i, head in enumerate(bad):
            start = len(s.log)
            c = s.connect()
            c.send(head + (req if head is not req else b""))
            self.assertTrue(c.closed_by_peer(), head)
            self.assertEqual(c.buf, b"", head)  # closed without an answer
            c.close()
            self.assertIsNotNone(s.wait_log(r"client 127\.0\.0\.1: no valid PROXY protocol header; closing",
                                            start=start), (head, s.log[start:]))
        # A good one names the client; a v2 LOCAL (health check) keeps the peer.
        c = s.connect()
        c.send(b"PROXY TCP4 192.0.2.7 127.0.0.1 5555 80\r\n" + req)
        self.assertEqual(c.read_response().body, PAGE)
        c.close()
        local = b"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00"
        c = s.connect()
        c.send(local + req.replace(b"index.html", b"sample.txt"))
        self.assertEqual(c.read_response().status, 200)
        c.close()
        # (Each worker thread buffers its own lines: the order may vary.)
        self.assertEqual(sorted(l.split(" ", 1)[0] + " " + l.split('"')[1]
                                for l in wait_access(alog, r'" 200 ', n=2)),
                         ["127.0.0.1 GET /sample.txt HTTP/1.1", "192.0.2.7 GET /index.html HTTP/1.1"])
        # The refused connections had no request: no access log line (the
        # log is complete once the server has exited).
        self.assertEqual(s.stop(), 0)
        self.assertEqual(len(read_lines(alog)), 2, read_lines(alog))

    def forged(self, *args):
        s, alog = self.server(*args)
        r = s.get("/index.html", headers={"X-Forwarded-For": "198.51.100.7",
                                          "Forwarded": "for=198.51.100.8"})
        self.assertEqual(r.status, 200)
        return wait_access(alog, r'"GET /index\.html HTTP/1\.1" 200 ')[0].split(" ", 1)[0]

    def test_forged_forwarded_for_from_untrusted_peer_ignored(self):
        self.assertEqual(self.forged(), "127.0.0.1")
        self.assertEqual(self.forged("--trusted-proxy", "127.0.0.9"), "127.0.0.1")
        self.assertEqual(self.forged("--trusted-proxy", "10.0.0.0/8"), "127.0.0.1")
        # From a trusted peer the header counts (so the checks above can fail).
        self.assertIn(self.forged("--trusted-proxy", "127.0.0.0/8"), ("198.51.100.7", "198.51.100.8"))

    def test_options_with_body_is_discarded(self):
        s, _ = self.server()
        c = s.connect()
        c.send(b"OPTIONS / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\n\r\nhello world"
               b"OPTIONS /upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n0\r\n\r\n"
               b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
        r = c.read_response("OPTIONS")
        self.assertEqual((r.status, r.header("Allow"), r.header("Content-Length")),
                         (204, "GET, HEAD, OPTIONS", None))
        r = c.read_response("OPTIONS")
        self.assertEqual((r.status, r.header("Allow")), (204, "POST, OPTIONS"))
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, PAGE))
        self.assertEqual(r.header("Connection"), "keep-alive")
        c.close()


if __name__ == "__main__":
    unittest.main()
