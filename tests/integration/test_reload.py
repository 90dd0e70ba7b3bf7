"""SIGHUP re-resolves the document root (issue 11 item 6): an atomic deploy
by switching a symbolic link, or by swapping directories, is served after
the reload, never a mix; a response in flight finishes on the old tree; a
root that cannot be resolved keeps the old one."""
import os
import shutil
import signal
import tempfile
import unittest

from harness import ServerTest


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def release(base, name, tag, big=0):
    d = os.path.join(base, name)
    write(os.path.join(d, "index.html"), b"<p>index of %s</p>\n" % tag)
    write(os.path.join(d, "about.html"), b"<p>about %s</p>\n" % tag)
    write(os.path.join(d, "sub", "page.html"), b"<p>sub page %s</p>\n" % tag)
    if big:
        write(os.path.join(d, "big.txt"), tag * (big // len(tag)))
    return d


def switch_link(link, target):
    """ln -sfn, atomically: a new link renamed over the old one."""
    tmp = link + ".new"
    os.symlink(target, tmp)
    os.replace(tmp, link)


class TestReload(ServerTest):
    class_server = False  # every test starts its own

    def setUp(self):
        self.base = tempfile.mkdtemp(prefix="mthttpd-deploy-")
        self.addCleanup(shutil.rmtree, self.base, True)
        self.up = os.path.join(self.base, "uploads")
        os.mkdir(self.up)

    def start(self, root):
        return self.start_server("--uploads", self.up, root=root, threads=2)

    def body(self, srv, path):
        r = srv.get(path)
        self.assertEqual(r.status, 200, r)
        return r.body

    def hup(self, srv, expect=r"SIGHUP: document root .* new directory"):
        n = len(srv.log)
        srv.proc.send_signal(signal.SIGHUP)
        self.assertIsNotNone(srv.wait_log(expect, start=n, timeout=5), srv.log[n:])
        # the reload is done once the notify/ready line or the access-log line follows
        self.assertIsNotNone(srv.wait_log(r"SIGHUP: (reopened|nothing to reopen)", start=n, timeout=5))

    def test_symlink_switch(self):
        release(self.base, "r1", b"one")
        release(self.base, "r2", b"two")
        cur = os.path.join(self.base, "current")
        os.symlink("r1", cur)
        srv = self.start(cur)
        for _ in range(3):  # cached (admitted at the second miss)
            for p in ("/", "/about.html", "/sub/page.html"):
                self.assertIn(b"one", self.body(srv, p))
        switch_link(cur, "r2")
        # Not yet reloaded: still the release it resolved at start.
        self.assertIn(b"one", self.body(srv, "/"))
        self.assertIn(b"one", self.body(srv, "/sub/page.html"))
        self.hup(srv)
        for _ in range(3):
            for p in ("/", "/about.html", "/sub/page.html"):
                self.assertIn(b"two", self.body(srv, p), p)
        # The old release can go away entirely.
        shutil.rmtree(os.path.join(self.base, "r1"))
        self.assertIn(b"two", self.body(srv, "/about.html"))

    def test_directory_swap(self):
        cur = release(self.base, "current", b"one")
        srv = self.start(cur)
        for _ in range(3):
            self.assertIn(b"one", self.body(srv, "/"))
        release(self.base, "next", b"two")
        os.rename(cur, os.path.join(self.base, "old"))
        os.rename(os.path.join(self.base, "next"), cur)
        self.hup(srv)
        for _ in range(2):
            for p in ("/", "/about.html", "/sub/page.html"):
                self.assertIn(b"two", self.body(srv, p), p)

    def test_response_in_flight_finishes_on_the_old_tree(self):
        size = 8 << 20
        release(self.base, "r1", b"1111", big=size)
        release(self.base, "r2", b"2222", big=size)
        cur = os.path.join(self.base, "current")
        os.symlink("r1", cur)
        srv = self.start(cur)
        c = srv.connect()
        try:
            c.send(b"GET /big.txt HTTP/1.1\r\nHost: %s\r\n\r\n" % srv.hostport().encode())
            first = c.sock.recv(65536)  # the download has begun
            self.assertTrue(first.startswith(b"HTTP/1.1 200"), first[:80])
            switch_link(cur, "r2")
            self.hup(srv)
            self.assertIn(b"2222", self.body(srv, "/index.html") + self.body(srv, "/big.txt")[:8])
            rest = bytearray(first)
            while True:
                d = c.sock.recv(1 << 20)
                if not d:
                    break
                rest += d
                head, _, b = bytes(rest).partition(b"\r\n\r\n")
                if len(b) >= size:
                    break
            head, _, b = bytes(rest).partition(b"\r\n\r\n")
            self.assertEqual(len(b), size)
            self.assertEqual(set(b), {ord("1")}, "a response mixed two releases")
        finally:
            c.close()

    def test_unresolvable_root_keeps_the_old_one(self):
        release(self.base, "r1", b"one")
        cur = os.path.join(self.base, "current")
        os.symlink("r1", cur)
        srv = self.start(cur)
        self.assertIn(b"one", self.body(srv, "/"))
        switch_link(cur, "missing-release")
        n = len(srv.log)
        srv.proc.send_signal(signal.SIGHUP)
        self.assertIsNotNone(srv.wait_log(r"SIGHUP: document root .*still serving", start=n, timeout=5),
                             srv.log[n:])
        self.assertIn(b"one", self.body(srv, "/"))
        self.assertIsNone(srv.proc.poll())


if __name__ == "__main__":
    unittest.main()
