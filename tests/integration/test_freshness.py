"""The open-file cache is never stale, sheds descriptors, and a change
touches only what it changed (issue 10 item 1, issue 11 items 3 and 8,
issue 17 item 2).

Every change below is complete (its system calls returned) before the
request that checks it is sent, so the server must answer with the file as
it is now: inotify queued the event during the change."""
import os
import random
import re
import stat
import subprocess
import tempfile
import time
import unittest

import harness
from harness import build_request

ROUNDS = 500          # per kind of change
STALE_TRIALS = 3000   # issue 11 item 8


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


class KeptConn:
    """One kept-alive connection, opened again if the server closes it."""

    def __init__(self, srv):
        self.srv = srv
        self.c = None

    def conn(self):
        if self.c is None:
            self.c = self.srv.connect()
        return self.c

    def get(self, path):
        for attempt in range(2):
            self.conn()
            try:
                self.c.send(build_request("GET", path, self.srv.hostport()))
                r = self.c.read_response()
            except (EOFError, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt:
                    raise
                continue
            if (r.header("Connection") or "").lower() == "close":
                self.close()
            return r

    def close(self):
        if self.c is not None:
            self.c.close()
        self.c = None


class TestChanges(harness.ServerTest):
    """At least ROUNDS rounds of each kind of change to a cached file; after
    each, a GET on a new connection and one on a kept-alive connection must
    both return exactly the file's bytes."""

    server_args = ("--keepalive-max", "1000000")
    threads = 2
    root_files = {"f/page.html": b"start\n"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stale = {}

    def check_rounds(self, kind, change):
        rnd = random.Random(kind)
        path = os.path.join(self.root, "f", kind + ".html")
        url = "/f/%s.html" % kind
        write(path, b"initial " + kind.encode() + b"\n")
        kept = KeptConn(self.srv)
        self.addCleanup(kept.close)
        stale = []
        for i in range(ROUNDS):
            # Two GETs first, so that the file is cached (second-miss
            # admission) and the change below has something to invalidate.
            for _ in range(2):
                self.srv.get(url)
                kept.get(url)
            change(path, i, rnd)
            with open(path, "rb") as f:
                want = f.read()
            for how, r in (("new connection", self.srv.get(url)), ("kept-alive", kept.get(url))):
                if r.status != 200 or r.body != want:
                    stale.append((i, how, r.status, r.body[:40], want[:40]))
        self.stale[kind] = len(stale)
        self.assertEqual(stale, [], "%s: %d of %d answers stale" % (kind, len(stale), 2 * ROUNDS))

    def test_rewrite_in_place(self):
        def change(path, i, rnd):
            # Same inode; every other round the same size as before.
            size = 40 if i % 2 else rnd.randrange(1, 3000)
            with open(path, "r+b") as f:
                f.truncate(0)
                f.write(("%06d" % i).encode().ljust(size, b"r"))
        self.check_rounds("rewrite", change)

    def test_replace_by_rename(self):
        def change(path, i, rnd):
            tmp = path + ".tmp"
            write(tmp, ("renamed %d " % i).encode() * rnd.randrange(1, 200))
            os.rename(tmp, path)
        self.check_rounds("rename", change)

    def test_delete_and_recreate(self):
        def change(path, i, rnd):
            os.unlink(path)
            write(path, ("recreated %d " % i).encode() * rnd.randrange(1, 200))
        self.check_rounds("recreate", change)

    def test_truncate(self):
        def change(path, i, rnd):
            write(path, ("%06d" % i).encode() * 500)   # 3,000 bytes
            os.truncate(path, rnd.randrange(0, 3000))
        self.check_rounds("truncate", change)


class TestChangesUnderLoad(TestChanges):
    """The same rounds while other clients keep the worker busy: its
    epoll_wait then rarely sleeps, and a request is mostly judged fresh by
    its receive time against the start of the wait (conn.c, make_fresh),
    not by a read of the inotify queue. One worker, so every request
    shares its turns."""

    threads = 1
    LOAD_CONNS = 6

    def setUp(self):
        import threading
        stop = threading.Event()
        errors = []
        write(os.path.join(self.root, "f", "other.html"), b"other\n" * 50)

        def load():
            # Keep-alive GETs, two in flight per connection, until stopped
            # (the test's own length bounds it).
            conns = [self.srv.connect() for _ in range(self.LOAD_CONNS)]
            req = build_request("GET", "/f/other.html", self.srv.hostport()) * 2
            try:
                while not stop.is_set():
                    for c in conns:
                        c.send(req)
                    for c in conns:
                        for _ in range(2):
                            if c.read_response().status != 200:
                                errors.append("load: not 200")
            except Exception as e:  # reported below, not swallowed
                errors.append(repr(e))
            finally:
                for c in conns:
                    c.close()

        t = threading.Thread(target=load, daemon=True)
        t.start()

        def finish():
            stop.set()
            t.join(harness.TIMEOUT)
            self.assertFalse(t.is_alive(), "load thread did not stop")
            self.assertEqual(errors, [])
        self.addCleanup(finish)


class TestOtherNames(harness.ServerTest):
    """A cached file changed through a name the server does not watch: a
    hard link outside the root (made before or after the file was cached),
    or a descriptor opened before it was cached. The write reaches the
    file's inode, not the directory the server watches, so only the watch
    on the file itself sees it (a directory's watch hears nothing of a
    link() made elsewhere nor of writes through that link)."""
    server_args = ("--keepalive-max", "1000000")
    threads = 1
    root_files = {"h/a.html": b"a0\n", "h/b.html": b"b0\n", "h/c.html": b"c0\n"}

    def cache(self, conn, url, body):
        for _ in range(2):  # admitted at the second miss
            r = conn.get(url)
            self.assertEqual((r.status, r.body), (200, body))

    def test_hard_link_outside_the_root(self):
        out = tempfile.mkdtemp(prefix="mthttpd-links-")
        self.addCleanup(__import__("shutil").rmtree, out, True)
        conn = KeptConn(self.srv)
        self.addCleanup(conn.close)
        path = os.path.join(self.root, "h/a.html")
        other = os.path.join(out, "a-link")
        os.link(path, other)  # made before the file is cached
        body = b"a0\n"
        self.cache(conn, "/h/a.html", body)
        for i in range(50):
            body = b"via the other link %d\n" % i
            write(other, body)
            self.assertEqual(conn.get("/h/a.html").body, body, "round %d" % i)
            self.assertEqual(self.srv.get("/h/a.html").body, body, "round %d" % i)

    def test_link_made_after_caching(self):
        out = tempfile.mkdtemp(prefix="mthttpd-links-")
        self.addCleanup(__import__("shutil").rmtree, out, True)
        conn = KeptConn(self.srv)
        self.addCleanup(conn.close)
        path = os.path.join(self.root, "h/b.html")
        for i in range(50):
            body = b"b round %d\n" % i
            write(path, body)
            self.cache(conn, "/h/b.html", body)
            other = os.path.join(out, "b-link-%d" % i)
            os.link(path, other)  # the file has one name while cached
            body = b"written through the new link %d\n" % i
            with open(other, "r+b") as f:  # in place: the same inode
                f.write(body)
                f.truncate()
            self.assertEqual(conn.get("/h/b.html").body, body, "round %d" % i)
            os.unlink(other)

    def test_descriptor_opened_before_caching(self):
        conn = KeptConn(self.srv)
        self.addCleanup(conn.close)
        path = os.path.join(self.root, "h/c.html")
        fd = os.open(path, os.O_WRONLY)
        self.addCleanup(os.close, fd)
        body = b"c0\n"
        for i in range(50):
            self.cache(conn, "/h/c.html", body)
            body = b"through an old descriptor %d\n" % i
            os.ftruncate(fd, 0)
            os.pwrite(fd, body, 0)
            self.assertEqual(conn.get("/h/c.html").body, body, "round %d" % i)


class TestReplacedBeforeFirstWatch(harness.ServerTest):
    """Issue 11 item 8: a file in a directory nothing watched yet, replaced by
    rename 0-80 us after the GET that caches it was sent, is not cached with
    its old inode. The loop is race_rename.c (a Python loop's timing is too
    coarse to hit the window): 3,000 trials, each checked at once and again
    after 20 ms; the racing GET is the path's first in half of them and its
    second (the one the cache admits) in the others."""
    class_server = False  # every test starts its own

    def test_no_stale_after_rename_over(self):
        tmp = tempfile.mkdtemp(prefix="mthttpd-race-")
        self.addCleanup(__import__("shutil").rmtree, tmp, True)
        exe = os.path.join(tmp, "race_rename")
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "race_rename.c")
        subprocess.run(["cc", "-O2", "-o", exe, src], check=True)
        root = os.path.join(tmp, "root")
        os.mkdir(root)
        with self.start_server("--keepalive-max", "1000000", root=root, threads=1,
                               access_log="off") as srv:
            p = subprocess.run([exe, str(srv.port), root, str(STALE_TRIALS), "55"],
                               capture_output=True, timeout=90)
            self.assertEqual(p.returncode, 0, p.stderr)
            m = re.fullmatch(rb"trials (\d+) stale (\d+)\n", p.stdout)
            self.assertIsNotNone(m, p.stdout)
            done, stale = int(m.group(1)), int(m.group(2))
            self.assertEqual(stale, 0, "%d stale answers in %d trials" % (stale, done))
            # Bounded in time: on a machine too loaded for all the trials,
            # those that ran must still be enough to mean something.
            self.assertGreaterEqual(done, 1000, "only %d trials in 55 s" % done)


class TestNarrowInvalidation(harness.ServerTest):
    """Uploads into a watched directory drop nothing that is cached."""
    class_server = False  # every test starts its own

    def test_uploads_cost_the_hot_set_nothing(self):
        # The uploads go into a directory that also holds a served file:
        # every upload is an event on that directory's watch.
        root = self.fresh_root({"docs/readme.txt": b"about uploads\n"})
        with self.start_server("--uploads", os.path.join(root, "docs"), root=root, threads=1) as srv:
            for url in ("/index.html", "/docs/readme.txt"):
                for _ in range(2):
                    self.assertEqual(srv.get(url).status, 200)
            index = harness.watches(srv.proc.pid, os.path.join(root, "index.html"))
            readme = harness.watches(srv.proc.pid, os.path.join(root, "docs/readme.txt"))
            self.assertTrue(index and readme, "not cached: nothing to keep")
            for i in range(20):
                r = srv.get("/upload", method="POST", body=b'{"n":%d}' % i,
                            headers={"Content-Type": "application/json"})
                self.assertEqual(r.status, 201, r)
            # Still the same watches: neither entry was dropped (a new
            # entry would have a new watch descriptor).
            self.assertEqual(harness.watches(srv.proc.pid, os.path.join(root, "index.html")), index)
            self.assertEqual(harness.watches(srv.proc.pid, os.path.join(root, "docs/readme.txt")), readme)
            # A change beside them drops only what changed.
            write(os.path.join(root, "docs/readme.txt"), b"changed\n")
            self.assertEqual(srv.get("/docs/readme.txt").body, b"changed\n")
            self.assertEqual(harness.watches(srv.proc.pid, os.path.join(root, "index.html")), index)


class TestLowDescriptorLimit(harness.ServerTest):
    """Issue 11 item 3: with RLIMIT_NOFILE 1024 and 4 threads, 3,000
    distinct files (each asked for twice, so the caches take them) leave
    the server able to serve every file afterwards."""
    class_server = False  # every test starts its own

    def limited_server(self, root, threads):
        """The server under RLIMIT_NOFILE 1024, soft and hard (it raises
        its soft limit to the hard one at start)."""
        wrapper = os.path.join(root + "-nofile.sh")
        self.addCleanup(os.unlink, wrapper)
        write(wrapper, b'#!/bin/sh\nulimit -S -n 1024 && ulimit -H -n 1024 && exec "$REAL_BIN" "$@"\n')
        os.chmod(wrapper, stat.S_IRWXU)
        saved = harness.BIN
        harness.BIN = wrapper
        try:
            srv = self.start_server("--keepalive-max", "1000000", root=root, threads=threads,
                                    access_log="off", extra_env={"REAL_BIN": saved})
        finally:
            harness.BIN = saved
        with open("/proc/%d/limits" % srv.proc.pid) as f:
            self.assertRegex(f.read(), r"Max open files\s+1024\s+1024")
        return srv

    def test_served_after_many_files(self):
        root = self.fresh_root({})
        for i in range(3000):
            d = os.path.join(root, "many", "%02d" % (i % 50))
            os.makedirs(d, exist_ok=True)
            write(os.path.join(d, "%d.html" % i), b"file %d\n" % i)
        srv = self.limited_server(root, 4)
        with srv:
            conns = [KeptConn(srv) for _ in range(8)]
            try:
                bad = 0
                for i in range(3000):
                    for k in range(2):
                        r = conns[(i + k) % 8].get("/many/%02d/%d.html" % (i % 50, i))
                        bad += r.status != 200
                self.assertEqual(bad, 0)
                ok = 0
                for i in range(50):
                    j = i * 59 % 3000
                    r = srv.get("/many/%02d/%d.html" % (j % 50, j))
                    ok += r.status == 200 and r.body == b"file %d\n" % j
                self.assertEqual(ok, 50)
            finally:
                for c in conns:
                    c.close()

    def test_cache_gives_descriptors_back(self):
        """Every descriptor taken (cached files and idle connections), a
        request for another file is still served: the cache sheds cold
        entries and the open is tried again. The files are over 32 KiB,
        so that the cache keeps their descriptors (smaller ones it holds
        in memory)."""
        root = self.fresh_root({})
        os.mkdir(os.path.join(root, "w"))
        body = lambda i: (b"w %d\n" % i).ljust(33 * 1024, b".")
        for i in range(400):
            write(os.path.join(root, "w", "%d.html" % i), body(i))
        srv = self.limited_server(root, 1)
        fds = "/proc/%d/fd" % srv.proc.pid
        socks = []
        try:
            with srv:
                kept = KeptConn(srv)
                socks.append(kept)
                for i in range(300):   # more than the cache takes
                    for _ in range(2):
                        self.assertEqual(kept.get("/w/%d.html" % i).status, 200)
                cached = len(os.listdir(fds))
                self.assertGreater(cached, 100, "the cache holds too few to shed")
                # Idle connections for every descriptor left, and more:
                # those wait in the backlog.
                for _ in range(1024 - cached + 16):
                    socks.append(srv.connect())
                deadline = time.monotonic() + harness.TIMEOUT
                while len(os.listdir(fds)) < 1024:
                    self.assertLess(time.monotonic(), deadline, "descriptors never ran out")
                    time.sleep(0.01)
                for i in range(300, 310):
                    r = kept.get("/w/%d.html" % i)
                    self.assertEqual((r.status, r.body), (200, body(i)))
        finally:
            for c in socks:
                c.close()


if __name__ == "__main__":
    unittest.main()
