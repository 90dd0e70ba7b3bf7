"""--metrics (issue 14 item 6): Prometheus text on one path, only to
--metrics-allow clients; a scrape, known requests, a scrape again, and the
differences checked exactly."""
import re
import socket
import subprocess
import unittest

from harness import ServerTest, make_root, BIN

SAMPLE = re.compile(r'^([a-z_]+)(\{[^}]*\})? (\S+)$')


def parse(text):
    out = {}
    for ln in text.splitlines():
        if not ln or ln.startswith("#"):
            continue
        m = SAMPLE.match(ln)
        assert m, "not a sample line: %r" % ln
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


class TestMetrics(ServerTest):
    server_args = ("--metrics", "/metrics")
    threads = 2

    def scrape(self):
        r = self.srv.get("/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("text/plain; version=0.0.4"), r)
        # every metric has HELP and TYPE
        names = {m.group(1) for m in re.finditer(r"^# TYPE (\S+) ", r.body.decode(), re.M)}
        for k in parse(r.body.decode()):
            base = re.sub(r"(_bucket|_sum|_count)?(\{.*)?$", "", k)
            self.assertIn(base, names, k)
        return parse(r.body.decode())

    def test_differences_are_exact(self):
        a = self.scrape()
        # known traffic: 3 GET 200 on one keep-alive connection, 1 HEAD 200,
        # 1 GET 404, 1 DELETE 405, 1 upload stored, 1 upload refused (415)
        c = self.srv.connect()
        try:
            for _ in range(3):
                c.send(b"GET /sample.txt HTTP/1.1\r\nHost: %s\r\n\r\n" % self.srv.hostport().encode())
                self.assertEqual(c.read_response().status, 200)
        finally:
            c.close()
        self.assertEqual(self.srv.request(b"HEAD /index.html HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                                          % self.srv.hostport().encode(), "HEAD").status, 200)
        self.assertEqual(self.srv.get("/missing.html").status, 404)
        self.assertEqual(self.srv.request(b"DELETE / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                                          % self.srv.hostport().encode()).status, 405)
        body = b'{"metrics": true}'
        up = (b"POST /upload HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (self.srv.hostport().encode(), len(body)) + body)
        self.assertEqual(self.srv.request(up, "POST").status, 201)
        bad = up.replace(b"application/json", b"text/plain")
        self.assertEqual(self.srv.request(bad, "POST").status, 415)
        b = self.scrape()

        def d(k):
            return b.get(k, 0) - a.get(k, 0)
        # the first scrape's own request is counted by the second
        self.assertEqual(d('mthttpd_requests_total{method="GET",code="2xx"}'), 3 + 1)
        self.assertEqual(d('mthttpd_requests_total{method="HEAD",code="2xx"}'), 1)
        self.assertEqual(d('mthttpd_requests_total{method="GET",code="4xx"}'), 1)
        self.assertEqual(d('mthttpd_requests_total{method="other",code="4xx"}'), 1)
        self.assertEqual(d('mthttpd_requests_total{method="POST",code="2xx"}'), 1)
        self.assertEqual(d('mthttpd_requests_total{method="POST",code="4xx"}'), 1)
        self.assertEqual(d("mthttpd_keepalive_requests_total"), 2)
        self.assertEqual(d("mthttpd_uploads_stored_total"), 1)
        self.assertEqual(d("mthttpd_uploads_refused_total"), 1)
        self.assertEqual(d("mthttpd_uploads_failed_total"), 0)
        self.assertEqual(d("mthttpd_upload_bytes_total"), len(body))
        self.assertEqual(d("mthttpd_upload_commit_seconds_count"), 1)
        self.assertEqual(d('mthttpd_upload_commit_seconds_bucket{le="+Inf"}'), 1)
        self.assertGreater(d("mthttpd_upload_commit_seconds_sum"), 0)
        # 8 connections besides the kept-alive one's first: 1 + 1 + 1 + 1 + 1 + 1 + scrape
        self.assertEqual(d("mthttpd_connections_accepted_total"), 7)
        self.assertEqual(d("mthttpd_connections_refused_total"), 0)
        self.assertEqual(d("mthttpd_file_cache_hits_total") + d("mthttpd_file_cache_misses_total"), 5)
        with open(self.srv.root + "/sample.txt", "rb") as f:
            sample = len(f.read())
        with open(self.srv.root + "/index.html", "rb") as f:
            _ = f.read()
        self.assertGreaterEqual(d("mthttpd_response_body_bytes_total"), 3 * sample)
        self.assertGreater(b["mthttpd_start_time_seconds"], 1.7e9)

    def test_not_allowed_client_gets_403(self):
        srv = self.start_server("--metrics", "/m", "--metrics-allow", "10.0.0.0/8", threads=1)
        try:
            r = srv.get("/m")
            self.assertEqual(r.status, 403, r)
            self.assertNotIn(b"mthttpd_", r.body)
        finally:
            srv.stop()

    def test_off_by_default(self):
        srv = self.start_server(threads=1)
        try:
            self.assertEqual(srv.get("/metrics").status, 404)
        finally:
            srv.stop()

    def test_bad_options_exit_2(self):
        for args in (["--metrics", "/upload"], ["--metrics", "/uploads/x"], ["--metrics", "metrics"],
                     ["--metrics", "/a b"], ["--metrics", "/m", "--metrics-allow", "garbage"],
                     ["--metrics", "/m", "--metrics-allow", "10.0.0.0/33"]):
            with self.subTest(args=args):
                p = subprocess.run([BIN, "--port", "0", "--root", make_root()] + args,
                                   capture_output=True, timeout=10)
                self.assertEqual(p.returncode, 2, p)
                self.assertEqual(len(p.stderr.decode().strip().splitlines()), 1, p.stderr)


if __name__ == "__main__":
    unittest.main()
