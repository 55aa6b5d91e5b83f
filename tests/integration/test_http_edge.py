"""The HTTP edge with many connections and blocking handlers (issue 17), on
SQLite and PostgreSQL:

- 2,000 idle keep-alive connections (each answered once) are held open
  while other clients are served on new connections, and afterwards every
  idle one still answers on its own connection;
- requests whose handlers block on Spotify (the emulator holds alice's
  requests), more of them than the server has worker threads, stall
  neither /healthz, /api/artists/ nor /metrics on other connections; once
  Spotify lets go, each held request gets its own answer.

The 503 past the worker pool's queue is tested exactly in
tests/unit/http/test_http_server.c (test_worker_pool_full_answers_503),
where the bound is small enough to reach. No timing is asserted: a stalled
request shows up as a missing answer (urllib's 30 s timeout is the test's
failure, not a measurement).
"""
import os
import re
import socket
import sys
import threading
import urllib.parse

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

import idle_conns  # noqa: E402
from keeptrack import Keeptrack, wait_until  # noqa: E402

IDLE = 2000
WORKERS = 2
BLOCKED = 4  # more than WORKERS: two run, two wait in the queue
ADMIN = "edge-admin-token-0123456789"


@pytest.fixture
def ktw(emu, db, tmp_path):
    """keeptrack with two HTTP workers and the admin token (for /metrics)."""
    k = Keeptrack(emu, db, tmp_path, env={"KEEPTRACK_HTTP_WORKERS": str(WORKERS),
                                          "KEEPTRACK_ADMIN_TOKEN": ADMIN,
                                          "KEEPTRACK_SCHEDULER": "false"}).start()
    yield k
    rc = k.stop()
    assert rc == 0, k.log()


def healthy(resp):
    """/healthz's answer: ok, with the database at the latest schema."""
    assert resp.status == 200, resp
    body = resp.json()
    assert body["ok"] is True and body["db"] == "ok", body
    assert body["schema_version"] == body["schema_latest"], body


def in_flight(k):
    r = k.client().get("/metrics", headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status == 200, r
    m = re.search(r"^keeptrack_http_requests_in_flight (\d+)$", r.text, re.M)
    assert m, r.text[:500]
    return int(m.group(1)) - 1  # the scrape itself is in flight


def test_idle_connections_are_held_and_others_served(ktw, emu):
    # the server raises its own limit to the hard one; this client needs
    # IDLE descriptors of its own
    assert idle_conns.raise_nofile(IDLE + 500) >= IDLE + 500
    browser = ktw.login("alice")
    u = urllib.parse.urlsplit(ktw.base_url)
    idle = idle_conns.IdleSet(u.hostname, u.port, "/healthz")
    try:
        statuses, errors = idle.open(IDLE, 120)
        assert errors == [] and statuses == {200: IDLE}
        # others are served on new connections while the idle ones are held
        healthy(ktw.client().get("/healthz"))
        me = browser.get("/api/me")
        assert me.status == 200, me
        assert me.json()["spotify_id"] == "alice"
        artists = ktw.client().get("/api/artists/")
        assert artists.status == 200, artists
        assert artists.json()["artists"] == []  # no release refresh has run
        # and every idle connection is still there and answers
        statuses, errors = idle.ask_all(120)
        assert errors == [] and statuses == {200: IDLE}
    finally:
        idle.close()


def test_blocked_handlers_do_not_stall_other_connections(ktw, emu):
    # BLOCKED logins of alice, each stopped at its callback: the callback's
    # handler asks Spotify for the profile, which the emulator holds
    logins = []
    for _ in range(BLOCKED):
        b = ktw.client()
        logins.append((b, ktw.authorize(ktw.start_login(b), "alice")))
    before_artists = ktw.client().get("/api/artists/")
    assert before_artists.status == 200, before_artists
    emu.set_faults(user="alice", hang_rate=1, hang_ms=600_000)
    answers = [None] * BLOCKED

    def finish(i):
        b, cb = logins[i]
        answers[i] = ktw.finish_login(b, cb)

    threads = [threading.Thread(target=finish, args=(i,)) for i in range(BLOCKED)]
    for t in threads:
        t.start()
    try:
        # every worker holds a request at Spotify, and the rest wait in the
        # server's queue: all BLOCKED are in flight, none answered
        wait_until(lambda: emu.control("GET", "faults")["held"] == WORKERS, 30,
                   what="the workers' requests held by Spotify")
        wait_until(lambda: in_flight(ktw) == BLOCKED, 30, what="all blocked requests in flight")
        assert answers == [None] * BLOCKED
        # other connections are served meanwhile, with the usual answers
        for _ in range(5):
            healthy(ktw.client().get("/healthz"))
            r = ktw.client().get("/api/artists/")
            assert r.status == 200 and r.body == before_artists.body, r
        assert emu.control("GET", "faults")["held"] == WORKERS
        assert in_flight(ktw) == BLOCKED
    finally:
        # Spotify lets go: held requests are closed without an answer, the
        # queued ones find no fault any more
        emu.clear_faults(release=True)
        for t in threads:
            t.join(120)
    assert all(a is not None for a in answers), answers
    # each got its own complete answer: a login that failed at Spotify is
    # sent back to the UI with an error, one that ran after the release
    # logs in (302 to "/"); none was refused as busy
    for a in answers:
        assert a.status == 302, a
    assert sum(1 for a in answers if a.location == "/") >= BLOCKED - WORKERS, \
        [a.location for a in answers]
    assert emu.control("GET", "faults")["held"] == 0


def test_idle_timeout_closes_an_idle_connection(emu, db, tmp_path):
    """KEEPTRACK_HTTP_IDLE_TIMEOUT is what closes an idle keep-alive
    connection: with 1 s, an answered connection is closed by the server
    (the read ends with EOF after the one answer) and a new one is served."""
    k = Keeptrack(emu, db, tmp_path, env={"KEEPTRACK_HTTP_IDLE_TIMEOUT": "1"}).start()
    try:
        u = urllib.parse.urlsplit(k.base_url)
        # 20 s: far beyond 1 s, short of the 30 s default, so a server that
        # ignored the setting fails here with a timeout
        s = socket.create_connection((u.hostname, u.port), timeout=20)
        try:
            s.sendall(f"GET /healthz HTTP/1.1\r\nHost: {u.netloc}\r\n\r\n".encode())
            got = b""
            while True:  # until the server closes the connection (EOF)
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            assert got.startswith(b"HTTP/1.1 200 ") and got.count(b"HTTP/1.1 ") == 1, got[:200]
        finally:
            s.close()
        healthy(k.client().get("/healthz"))
    finally:
        rc = k.stop()
    assert rc == 0, k.log()
