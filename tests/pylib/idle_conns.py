"""Many idle keep-alive connections held open against a server (issue 17),
for the test that proves idle connections cost no service to others and for
bench/api's 10,000-idle figure.

IdleSet(host, port, path, headers).open(n, deadline_s) opens n connections
in batches, makes one GET on each (so each is a served keep-alive
connection, not just an accepted socket) and keeps them open;
ask_all(deadline_s) makes one more GET on every connection still held and
says what came back. Each round is one thread and a selector: every
request of a round is sent before any answer is read, so no connection
waits on another's turn in the client. Answers are counted by status;
a connection that was closed, reset or did not answer by the deadline is
an error, named with its index. Only Content-Length framed answers are
understood (what the routes used here send).

raise_nofile(n) raises this process's RLIMIT_NOFILE soft limit towards n
(never past the hard limit) and returns the new soft limit.
"""
import resource
import selectors
import socket
import time

BATCH = 500


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n if hard == resource.RLIM_INFINITY else min(n, hard)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        soft = want
    return soft


def _answer_len(buf):
    """Length of the complete answer at the start of buf, or 0 when more is needed."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return 0
    length = 0
    for line in buf[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return end + 4 + length if len(buf) >= end + 4 + length else 0


class IdleSet:
    def __init__(self, host, port, path, headers=None):
        self.addr = (host, port)
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()
        self.socks = []

    def _round(self, socks, deadline):
        """One GET on each socket; returns ({status: count}, [(index, error)])."""
        statuses, errors = {}, []
        sel = selectors.DefaultSelector()
        bufs = {}
        for i, s in socks:
            try:
                s.sendall(self.request)
            except OSError as e:
                errors.append((i, f"send: {e}"))
                continue
            s.setblocking(False)
            bufs[s] = b""
            sel.register(s, selectors.EVENT_READ, i)
        while bufs and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=max(0.0, min(1.0, deadline - time.monotonic()))):
                s, i = key.fileobj, key.data
                try:
                    chunk = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError as e:
                    chunk, err = None, f"recv: {e}"
                if not chunk:
                    errors.append((i, err if chunk is None else "closed by the server"))
                    sel.unregister(s)
                    del bufs[s]
                    continue
                bufs[s] += chunk
                n = _answer_len(bufs[s])
                if n:
                    status = int(bufs[s].split(b" ", 2)[1])
                    statuses[status] = statuses.get(status, 0) + 1
                    sel.unregister(s)
                    del bufs[s]
        for s in bufs:
            errors.append((sel.get_key(s).data, "no answer by the deadline"))
            sel.unregister(s)
        sel.close()
        for _, s in socks:
            s.setblocking(True)
        return statuses, errors

    def open(self, n, deadline_s):
        """Opens n more connections, one GET on each; returns (statuses, errors)."""
        deadline = time.monotonic() + deadline_s
        statuses, errors = {}, []
        while len(self.socks) < n and time.monotonic() < deadline:
            batch = []
            for _ in range(min(BATCH, n - len(self.socks))):
                i = len(self.socks)
                try:
                    s = socket.create_connection(self.addr, timeout=max(1.0, deadline - time.monotonic()))
                except OSError as e:
                    errors.append((i, f"connect: {e}"))
                    return statuses, errors
                self.socks.append(s)
                batch.append((i, s))
            st, err = self._round(batch, deadline)
            for k, v in st.items():
                statuses[k] = statuses.get(k, 0) + v
            errors += err
        return statuses, errors

    def ask_all(self, deadline_s):
        """One more GET on every held connection; returns (statuses, errors)."""
        return self._round(list(enumerate(self.socks)), time.monotonic() + deadline_s)

    def close(self):
        for s in self.socks:
            s.close()
        self.socks = []
