#!/usr/bin/env python3
"""Memory per idle HTTPS connection: opens N TLS keep-alive connections to
a running server (a full handshake and one GET each), then reads the
server's RSS and prints the growth per connection.

Usage: idle_tls.py PID HOST PORT N [PATH]

PID is the server's process (its /proc/PID/status VmRSS is read before and
after). Raise `ulimit -n` above N first. Loopback only.
"""
import socket
import ssl
import sys
import time


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def one(ctx, host, port, req):
    s = socket.create_connection((host, port), timeout=10)
    t = ctx.wrap_socket(s, server_hostname="localhost")
    t.sendall(req)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = t.recv(65536)
        if not chunk:
            raise EOFError("closed")
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    while len(body) < n:
        body += t.recv(65536)
    return t


def main():
    pid, host, port, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    path = sys.argv[5] if len(sys.argv) > 5 else "/"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    req = ("GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % path).encode()
    warm = [one(ctx, host, port, req) for _ in range(50)]  # pools, caches, first allocations
    for t in warm:
        t.close()
    before = rss_kib(pid)
    t0 = time.monotonic()
    held = [one(ctx, host, port, req) for _ in range(n)]
    secs = time.monotonic() - t0
    after = rss_kib(pid)
    per = (after - before) * 1024 / n
    print("connections=%d rss_before_kib=%d rss_after_kib=%d bytes_per_conn=%.0f secs=%.1f" %
          (len(held), before, after, per, secs))
    for t in held:
        t.close()


if __name__ == "__main__":
    main()
