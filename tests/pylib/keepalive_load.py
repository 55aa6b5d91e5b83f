"""A keep-alive HTTP/1.1 load client for tests that must know what happened to
every connection, which wrk does not say (it reports totals over a fixed time).

run(host, port, path, headers, connections, min_rounds, seconds, deadline_s)
opens `connections` sockets, sends one GET at a time on each (keep-alive),
and on each connection goes on until it has had `min_rounds` answers and
`seconds` have passed. It records per connection: answers, the time to the
first one, non-2xx statuses and errors (a refused connect, a reset, a close
the server did not announce, a malformed answer). One thread and a selector:
no connection waits on another's turn in the client, so a slow answer is the
server's. Everything stops at `deadline_s`; what was still open is reported
as unfinished, never waited on forever.

Only what these tests need of HTTP/1.1 is parsed: a status line, headers,
and a body framed by Content-Length or chunked encoding.
"""
import selectors
import socket
import time


class Conn:
    __slots__ = ("sock", "out", "inbuf", "answers", "first_s", "statuses", "error", "done",
                 "started", "sent_at")

    def __init__(self):
        self.sock = None
        self.out = b""
        self.inbuf = b""
        self.answers = 0
        self.first_s = None
        self.statuses = {}
        self.error = None
        self.done = False
        self.started = 0.0
        self.sent_at = 0.0


class Result:
    def __init__(self, conns, elapsed, latencies):
        self.conns = conns
        self.elapsed = elapsed
        self.latencies = sorted(latencies)

    @property
    def requests(self):
        return sum(c.answers for c in self.conns)

    @property
    def errors(self):
        return [c.error for c in self.conns if c.error]

    @property
    def non2xx(self):
        return sum(n for c in self.conns for s, n in c.statuses.items() if not 200 <= s < 300)

    @property
    def unfinished(self):
        return sum(1 for c in self.conns if not c.done and not c.error)

    @property
    def slowest_first_s(self):
        firsts = [c.first_s for c in self.conns if c.first_s is not None]
        return max(firsts) if firsts else None

    def summary(self):
        p = self.latencies
        pct = (lambda q: p[min(len(p) - 1, int(q * len(p)))] * 1000) if p else (lambda q: 0.0)
        errs = self.errors
        return (f"{self.requests} requests over {len(self.conns)} connections in {self.elapsed:.1f} s "
                f"({self.requests / max(self.elapsed, 1e-9):.0f} req/s), latency p50 {pct(0.5):.1f} ms "
                f"p99 {pct(0.99):.1f} ms, slowest first answer {self.slowest_first_s or 0:.1f} s, "
                f"{self.non2xx} non-2xx, {len(errs)} errors{(' (first: ' + errs[0] + ')') if errs else ''}, "
                f"{self.unfinished} unfinished")


def _parse_answer(buf):
    """(status, consumed bytes, server closes) for one whole answer at the
    start of buf; None when more bytes are needed; raises ValueError."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > 65536:
            raise ValueError("header block over 64 KiB")
        return None
    head = buf[:end].decode("latin-1").split("\r\n")
    parts = head[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ValueError(f"bad status line {head[0]!r}")
    fields = {}
    for line in head[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"bad header line {line!r}")
        fields[name.strip().lower()] = value.strip()
    closes = fields.get("connection", "").lower() == "close"
    pos = end + 4
    if "chunked" in fields.get("transfer-encoding", "").lower():
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            size = int(buf[pos:eol].split(b";")[0], 16)
            pos = eol + 2
            if size == 0:
                # no trailers expected: the final CRLF
                if len(buf) < pos + 2:
                    return None
                return int(parts[1]), pos + 2, closes
            if len(buf) < pos + size + 2:
                return None
            pos += size + 2
    length = int(fields.get("content-length", "0"))
    if len(buf) < pos + length:
        return None
    return int(parts[1]), pos + length, closes


def run(host, port, path, headers, connections, min_rounds, seconds, deadline_s):
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n" +
               "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()
    sel = selectors.DefaultSelector()
    conns = [Conn() for _ in range(connections)]
    latencies = []
    t0 = time.monotonic()

    def fail(c, why):
        c.error = why
        sel.unregister(c.sock)
        c.sock.close()

    def open_conn(c):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.sock = s
        c.started = time.monotonic()
        err = s.connect_ex((host, port))
        if err not in (0, 115):  # EINPROGRESS
            c.error = f"connect: errno {err}"
            s.close()
            return
        c.out = request
        c.sent_at = time.monotonic()
        sel.register(s, selectors.EVENT_WRITE, c)

    for c in conns:
        open_conn(c)
    live = sum(1 for c in conns if not c.error)
    while live and time.monotonic() - t0 < deadline_s:
        for key, ev in sel.select(timeout=0.5):
            c = key.data
            try:
                if ev & selectors.EVENT_WRITE and c.out:
                    n = c.sock.send(c.out)
                    c.out = c.out[n:]
                    if not c.out:
                        sel.modify(c.sock, selectors.EVENT_READ, c)
                    continue
                data = c.sock.recv(65536)
            except OSError as e:
                fail(c, f"socket: {e}")
                live -= 1
                continue
            if not data:
                fail(c, "closed by the server without Connection: close")
                live -= 1
                continue
            c.inbuf += data
            try:
                parsed = _parse_answer(c.inbuf)
            except ValueError as e:
                fail(c, f"malformed answer: {e}")
                live -= 1
                continue
            if parsed is None:
                continue
            status, used, closes = parsed
            now = time.monotonic()
            c.inbuf = c.inbuf[used:]
            c.answers += 1
            c.statuses[status] = c.statuses.get(status, 0) + 1
            latencies.append(now - c.sent_at)
            if c.first_s is None:
                c.first_s = now - c.started
            if c.answers >= min_rounds and now - t0 >= seconds:
                c.done = True
                sel.unregister(c.sock)
                c.sock.close()
                live -= 1
                continue
            if closes:  # announced: open a new connection and go on
                sel.unregister(c.sock)
                c.sock.close()
                open_conn(c)
                if c.error:
                    live -= 1
                continue
            c.out = request
            c.sent_at = now
            sel.modify(c.sock, selectors.EVENT_WRITE, c)
    elapsed = time.monotonic() - t0
    for c in conns:
        if not c.done and not c.error and c.sock is not None:
            sel.unregister(c.sock)
            c.sock.close()
    sel.close()
    return Result(conns, elapsed, latencies)
