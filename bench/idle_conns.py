#!/usr/bin/env python3
"""Hold N idle HTTP/1.1 keep-alive connections open against one server.

Usage: idle_conns.py HOST PORT N [PATH] [--timeout S] [--batch B]

Every connection sends one GET for PATH (default /) and reads the whole
response, so what is held afterwards is a real idle keep-alive connection, not
a bare TCP handshake waiting in the listen queue. Then the script prints

    READY opened=N ok=K failed=F secs=T

on stdout and waits for commands on stdin, one per line:

    check   send one more GET on every open connection and print
            CHECK ok=K failed=F secs=T   (are they still alive and served?)
    quit    (or end of input) close everything and exit 0

The caller must raise `ulimit -n` above N first. Only loopback is intended.
"""
import errno
import selectors
import socket
import sys
import time


class Conn:
    __slots__ = ("sock", "state", "buf", "need")

    def __init__(self, sock):
        self.sock = sock
        self.state = "connecting"
        self.buf = b""
        self.need = -1  # total bytes of the response once the head is parsed


def parse_head(buf):
    """Return (status, total_len, keep_alive) once the head is complete, else None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buf[:end].decode("latin-1").split("\r\n")
    try:
        status = int(head[0].split(" ", 2)[1])
    except (IndexError, ValueError):
        return (0, end + 4, False)
    clen = 0
    keep = True
    for line in head[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        value = value.strip()
        if name == "content-length":
            try:
                clen = int(value)
            except ValueError:
                return (0, end + 4, False)
        elif name == "connection" and value.lower() == "close":
            keep = False
    return (status, end + 4 + clen, keep)


def run_requests(conns, request, timeout, new_host=None, total=0, batch=512):
    """Drive connections until each has one complete response.

    With new_host=(host, port) and total=N, opens N new connections (at most
    `batch` in flight). Otherwise sends `request` on every conn of `conns`.
    Returns (ok_list, failed_count).
    """
    sel = selectors.DefaultSelector()
    ok, failed = [], 0
    deadline = time.monotonic() + timeout
    pending = list(conns)
    started = 0
    in_flight = 0

    def start_one():
        nonlocal started, in_flight, failed
        if new_host is not None:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c = Conn(s)
            err = s.connect_ex(new_host)
            if err not in (0, errno.EINPROGRESS):
                s.close()
                failed += 1
                started += 1
                return
            sel.register(s, selectors.EVENT_WRITE, c)
        else:
            c = pending.pop()
            c.buf = b""
            c.need = -1
            c.state = "sending"
            try:
                c.sock.send(request)
            except OSError:
                c.sock.close()
                failed += 1
                started += 1
                return
            c.state = "reading"
            sel.register(c.sock, selectors.EVENT_READ, c)
        started += 1
        in_flight += 1

    target = total if new_host is not None else len(pending)
    while True:
        while in_flight < batch and started < target:
            start_one()
        if in_flight == 0 and started >= target:
            break
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for key, _ in sel.select(timeout=min(left, 1.0)):
            c = key.data
            s = c.sock
            done = False
            bad = False
            if c.state == "connecting":
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err != 0:
                    bad = True
                else:
                    try:
                        s.send(request)
                        c.state = "reading"
                        sel.modify(s, selectors.EVENT_READ, c)
                    except OSError:
                        bad = True
            else:
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    bad = True
                else:
                    c.buf += data
                    if c.need < 0:
                        h = parse_head(c.buf)
                        if h is not None:
                            status, need, keep = h
                            if status != 200 or not keep:
                                bad = True
                            c.need = need
                    if not bad and c.need >= 0 and len(c.buf) >= c.need:
                        done = True
            if bad or done:
                sel.unregister(s)
                in_flight -= 1
                if bad:
                    s.close()
                    failed += 1
                else:
                    c.state = "idle"
                    c.buf = b""
                    ok.append(c)
    # Whatever is still in flight at the deadline counts as failed.
    for key in list(sel.get_map().values()):
        key.data.sock.close()
        failed += 1
    failed += target - started
    sel.close()
    return ok, failed


def main():
    args = [a for a in sys.argv[1:]]
    timeout = 120.0
    batch = 512
    if "--timeout" in args:
        i = args.index("--timeout")
        timeout = float(args[i + 1])
        del args[i:i + 2]
    if "--batch" in args:
        i = args.index("--batch")
        batch = int(args[i + 1])
        del args[i:i + 2]
    if len(args) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    host, port, n = args[0], int(args[1]), int(args[2])
    path = args[3] if len(args) == 4 else "/"
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
               f"User-Agent: idle_conns\r\n\r\n").encode()

    t0 = time.monotonic()
    conns, failed = run_requests([], request, timeout, new_host=(host, port),
                                 total=n, batch=batch)
    print(f"READY opened={n} ok={len(conns)} failed={failed} "
          f"secs={time.monotonic() - t0:.2f}", flush=True)

    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "check":
            t0 = time.monotonic()
            conns, failed = run_requests(conns, request, timeout, batch=batch)
            print(f"CHECK ok={len(conns)} failed={failed} "
                  f"secs={time.monotonic() - t0:.2f}", flush=True)
        elif cmd == "quit":
            break
    for c in conns:
        c.sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
