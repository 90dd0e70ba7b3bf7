"""Files over 4 GiB: sizes, offsets and ranges beyond 32 bits (a sparse
file, so the test costs no disk)."""
import os
import unittest

import harness

SIZE = (4 << 30) + 12345          # just over 4 GiB
MARK_AT = (4 << 30) + 1000        # bytes written past the 4 GiB line
MARK = b"past-4GiB:" + bytes(range(256))


class LargeFile(harness.ServerTest):
    @classmethod
    def prepare_root(cls):
        path = os.path.join(cls.root, "huge.txt")
        with open(path, "wb") as f:
            f.truncate(SIZE)
            f.seek(MARK_AT)
            f.write(MARK)

    def test_head_reports_the_64_bit_length(self):
        r = self.srv.get("/huge.txt", method="HEAD")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Length"), str(SIZE))
        self.assertEqual(r.body, b"")

    def test_range_past_4_gib_is_exact(self):
        first, last = MARK_AT - 5, MARK_AT + len(MARK) - 1
        r = self.srv.get("/huge.txt", headers={"Range": "bytes=%d-%d" % (first, last)})
        self.assertEqual(r.status, 206, r)
        self.assertEqual(r.header("Content-Range"), "bytes %d-%d/%d" % (first, last, SIZE))
        self.assertEqual(r.body, b"\0" * 5 + MARK)

    def test_suffix_range_of_a_huge_file(self):
        r = self.srv.get("/huge.txt", headers={"Range": "bytes=-100"})
        self.assertEqual(r.status, 206, r)
        self.assertEqual(r.header("Content-Range"), "bytes %d-%d/%d" % (SIZE - 100, SIZE - 1, SIZE))
        self.assertEqual(r.body, b"\0" * 100)

    def test_full_get_streams_past_4_gib(self):
        """Reads the whole 4 GiB body and checks its length and the bytes
        around the mark (bounded: loopback moves this in a few seconds)."""
        c = self.srv.connect(timeout=60)
        try:
            c.send(harness.build_request("GET", "/huge.txt", self.srv.hostport()))
            while b"\r\n\r\n" not in c.buf:
                c._fill()
            head, rest = c.buf.split(b"\r\n\r\n", 1)
            self.assertIn(b"Content-Length: %d" % SIZE, head)
            got, window = len(rest), b""
            buf = bytearray(1 << 20)
            view = memoryview(buf)
            while got < SIZE:
                n = c.sock.recv_into(view)
                self.assertGreater(n, 0, "closed after %d of %d bytes" % (got, SIZE))
                chunk = view[:n]
                if got <= MARK_AT + len(MARK) and got + n >= MARK_AT:
                    window += bytes(chunk)
                got += n
            self.assertEqual(got, SIZE)
            self.assertIn(MARK, window)
        finally:
            c.close()


if __name__ == "__main__":
    unittest.main()
