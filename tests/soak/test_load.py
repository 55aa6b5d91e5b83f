"""Load and slow clients (issue 12) against `keeptrack serve`, on SQLite and
PostgreSQL:

- 1,000 concurrent keep-alive connections on the read API
  (tests/pylib/keepalive_load.py, which accounts for every connection):
  every connection is answered, its first answer within FIRST_ANSWER_S,
  and makes at least LOAD_MIN_ROUNDS requests and goes on for
  SOAK_LOAD_SECONDS (default 10; `make soak`: 60); no failed request (no
  socket error, no unannounced close, no non-2xx answer); memory bounded:
  the server's RSS after the run is within LOAD_RSS_GROWTH_MB of before,
  its peak within LOAD_RSS_PEAK_MB. Throughput is printed, never asserted:
  it is bench/api's to measure, on a quiet machine;
- slowloris: hundreds of sockets trickling header bytes do not block
  others (a normal request still answers within 5 s, not the 30 s
  connection timeout, while they hang);
- oversized request headers get 431, oversized bodies 413, and the server
  keeps serving.
"""
import os
import re
import resource
import socket
import sys
import threading

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

import keeptrack as ktlib  # noqa: E402
import keepalive_load  # noqa: E402
from emulator import Emulator  # noqa: E402

LOAD_SECONDS = int(os.environ.get("SOAK_LOAD_SECONDS", "5" if os.environ.get("KT_SANITIZED") else "10"))
CONNECTIONS = int(os.environ.get("SOAK_LOAD_CONNECTIONS", "1000"))
LOAD_MIN_ROUNDS = 3
# What a sanitizer build on 2 busy cores still meets with room to spare (it
# answered 1,000 connections' first requests in about 5 s at load 2-4); a
# server that starves a connection misses it.
FIRST_ANSWER_S = 60
LOAD_DEADLINE_S = LOAD_SECONDS + 240
# ASan's shadow memory, fake stacks and quarantine make its RSS much larger
# and keep it after the load (freed memory is quarantined, not returned):
# there only the peak is bounded, loosely.
SANITIZED = bool(os.environ.get("KT_SANITIZED"))
LOAD_RSS_GROWTH_MB = 64
LOAD_RSS_PEAK_MB = 2048 if SANITIZED else 512
ALICE = "alice:liked=300,playlists=4,playlist_items=20-60,followed=30,plays=40"
KT_ENV = {"KEEPTRACK_SPOTIFY_BUDGET": "1000"}


@pytest.fixture(params=ktlib.backend_params())
def db(request, tmp_path):
    d = ktlib.Database(request.param, tmp_path)
    yield d
    d.close()


@pytest.fixture
def env(db, tmp_path):
    # The load client and the server each need a descriptor per connection.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 8192))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    emu = Emulator(["--redirect-uri", "any-loopback", "--user", ALICE]).start()
    kt = ktlib.Keeptrack(emu, db, tmp_path, env=KT_ENV).start()
    browser = kt.login("alice")
    r = kt.cli("sync", "--user", "1", timeout=300)
    assert r.returncode == 0, r.stderr
    yield emu, kt, browser
    rc = kt.stop()
    emu.stop()
    assert rc == 0, kt.log()[-3000:]


def rss_kb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


def test_thousand_connections_no_failures_memory_bounded(env):
    emu, kt, browser = env
    cookie = browser.cookie("kt_session")
    pid = kt.proc.pid
    for path in ("/api/library/tracks?limit=20", "/api/playlists", "/api/me"):
        assert browser.get(path).status == 200
    before = rss_kb(pid)
    res = keepalive_load.run("127.0.0.1", kt.port, "/api/library/tracks?limit=20",
                             {"Cookie": f"kt_session={cookie}", "Accept": "application/json"},
                             CONNECTIONS, LOAD_MIN_ROUNDS, LOAD_SECONDS, LOAD_DEADLINE_S)
    after, peak = rss_kb(pid), rss_kb(pid, "VmHWM")
    print(f"{res.summary()}; RSS {before // 1024} MB before, {after // 1024} MB after, "
          f"peak {peak // 1024} MB")
    assert not res.errors, res.summary()
    assert res.unfinished == 0, res.summary()
    assert res.non2xx == 0, res.summary()
    assert all(c.answers >= LOAD_MIN_ROUNDS for c in res.conns), res.summary()
    assert res.slowest_first_s < FIRST_ANSWER_S, res.summary()
    # Connection threads are gone once the client hangs up; poll until they are.
    if not SANITIZED:
        ktlib.wait_until(lambda: rss_kb(pid) - before < LOAD_RSS_GROWTH_MB * 1024, timeout=30,
                         what=f"RSS back within {LOAD_RSS_GROWTH_MB} MB of {before // 1024} MB "
                              f"(now {rss_kb(pid) // 1024} MB)")
    assert peak < LOAD_RSS_PEAK_MB * 1024, f"peak RSS {peak // 1024} MB"
    # Still serving, and the data is intact.
    r = browser.get("/api/library/tracks?limit=1")
    assert r.status == 200 and r.json()["total"] == 300


def trickle(sock, stop, failed):
    """Slowloris: a request line, then one header byte at a time; a send
    that fails (the server closed the socket) is recorded in `failed`."""
    try:
        sock.sendall(b"GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        while not stop.wait(0.5):
            sock.sendall(b"X")
    except OSError as e:
        if not stop.is_set():
            failed.append(repr(e))


def test_slow_clients_do_not_block_others(env):
    emu, kt, browser = env
    host, port = "127.0.0.1", kt.port
    stop = threading.Event()
    socks, threads, failed = [], [], []
    try:
        for _ in range(300):
            s = socket.create_connection((host, port), timeout=5)
            socks.append(s)
            t = threading.Thread(target=trickle, args=(s, stop, failed), daemon=True)
            t.start()
            threads.append(t)
        # While they hang: normal requests are answered. Blocked behind them
        # would mean waiting for the server's 30 s connection timeout, past
        # each request's 20 s; and every slow socket is still open after the
        # last answer, so none was dropped to make room.
        for _ in range(20):
            r = browser.get("/api/library/tracks?limit=5", timeout=20)
            assert r.status == 200, r
        assert kt.client().get("/healthz", timeout=20).status == 200
        assert not failed and all(t.is_alive() for t in threads), failed[:3]
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=5)
        for s in socks:
            s.close()


def raw_request(port, data, read_timeout=10):
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused while we were still sending: the answer is already there
        chunks = []
        try:
            while True:
                c = s.recv(65536)
                if not c:
                    break
                chunks.append(c)
        except (ConnectionResetError, socket.timeout):
            pass
        return b"".join(chunks)


def status_of(resp):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", resp)
    assert m, resp[:200]
    return int(m.group(1))


def test_oversized_headers_and_bodies(env):
    emu, kt, browser = env
    cookie = browser.cookie("kt_session")
    # One huge header, and many headers that together pass the limit.
    big = b"X-Big: " + b"a" * 100_000 + b"\r\n"
    resp = raw_request(kt.port, b"GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\n" + big + b"\r\n")
    assert status_of(resp) == 431, resp[:300]
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(1000))
    resp = raw_request(kt.port, b"GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\n" + many + b"\r\n")
    assert status_of(resp) == 431, resp[:300]
    # A body past the cap, announced by Content-Length: 413 before it is read.
    body = b"{" + b" " * (2 << 20) + b"}"
    head = (f"POST /api/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: kt_session={cookie}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    resp = raw_request(kt.port, head + body)
    assert status_of(resp) == 413, resp[:300]
    # Chunked, past the cap.
    chunk = b" " * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(40)) + b"0\r\n\r\n"
    head = (f"POST /api/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: kt_session={cookie}\r\n"
            f"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    resp = raw_request(kt.port, head + chunks)
    assert resp == b"" or status_of(resp) == 413, resp[:300]
    # A huge query string: refused (414/400/431), never a crash.
    resp = raw_request(kt.port, b"GET /api/library/tracks?q=" + b"a" * 200_000 +
                       b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert status_of(resp) in (400, 414, 431), resp[:300]
    # Still serving.
    assert browser.get("/api/me").status == 200
    assert kt.proc.poll() is None
