"""A bounded soak with hostile traffic: random mixes of valid and broken
request pieces and raw random bytes, sent in odd slices on many parallel
connections. The server must keep answering, exit 0 on SIGTERM, and (under
SANITIZE=1) report nothing. Seeded, so a failure can be replayed."""
import random
import socket
import threading
import time
import unittest

import harness

SECONDS = 6
THREADS = 6

PIECES = [
    b"GET ", b"POST ", b"HEAD ", b"PUT ", b"/", b"/upload", b"/index.html", b"/big.txt",
    b"/sub", b"/sub/", b"/../x", b"/%2e%2e/", b"/%00", b"?q=1", b"#f",
    b" HTTP/1.1\r\n", b" HTTP/1.0\r\n", b" HTTP/2.0\r\n", b"Host: localhost\r\n",
    b"Host: evil\r\n", b"Content-Length: 5\r\n", b"Content-Length: 99999999\r\n",
    b"Content-Length: -1\r\n", b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: gzip, chunked\r\n", b"Content-Type: application/json\r\n",
    b"Range: bytes=0-5,10-20,3-4\r\n", b"Range: bytes=-5\r\n", b"If-None-Match: *\r\n",
    b"If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n",
    b"Accept-Encoding: gzip, br\r\n", b"Expect: 100-continue\r\n", b"Connection: close\r\n",
    b"\r\n", b"5\r\nhello\r\n0\r\n\r\n", b"ffffffffffffffffff\r\n", b'{"a":[1,2,{"b":null}]}',
    b'{"a":', b"\x00", b"\xff\xfe", b"\r", b"\n", b" ", b":", b"\t",
]


class Soak(harness.ServerTest):
    class_server = False  # the test checks its own server's exit code

    def test_hostile_traffic_does_not_hurt(self):
        root = self.fresh_root({"big.txt": b"z" * 200000})
        srv = self.start_server("--header-timeout", "2", "--keepalive-timeout", "2",
                                "--max-upload", "64k", root=root, threads=2)
        counts = [0] * THREADS
        try:
            def client(seed):
                r = random.Random(seed)
                end = time.monotonic() + SECONDS
                while time.monotonic() < end:
                    if r.random() < 0.3:
                        data = bytes(r.getrandbits(8) for _ in range(r.randint(1, 300)))
                    else:
                        data = b"".join(r.choice(PIECES) for _ in range(r.randint(1, 40)))
                    try:
                        s = socket.create_connection(srv.addr(), timeout=2)
                        step = r.randint(1, 64)
                        for i in range(0, len(data), step):
                            s.sendall(data[i:i + step])
                        s.settimeout(0.3)
                        try:
                            while s.recv(65536):
                                pass
                        except OSError:
                            pass
                        s.close()
                        counts[seed] += 1
                    except OSError:
                        pass  # refused mid-write or reset: allowed

            threads = [threading.Thread(target=client, args=(i,)) for i in range(THREADS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(SECONDS + 30)
            self.assertGreater(sum(counts), 50, "too few connections made: %r" % counts)
            self.assertIsNone(srv.proc.poll(), "server died: %r" % srv.log[-10:])
            r = srv.get("/index.html")
            self.assertEqual(r.status, 200, r)
        finally:
            rc = srv.stop()
        self.assertEqual(rc, 0, srv.log[-10:])


if __name__ == "__main__":
    unittest.main()
