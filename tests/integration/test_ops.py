"""Operations (issue 11): GET /metrics behind the admin token, in the
Prometheus text format, with counters that move by exactly the requests
made; graceful shutdown on SIGTERM during a slow request; access logs that
carry route patterns and never a cookie, token, code or state value.

Runs on SQLite and PostgreSQL (conftest's `db` fixture)."""
import os
import signal
import socket
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

import promtext  # noqa: E402
from keeptrack import Http, Keeptrack, query_of, wait_until  # noqa: E402

ADMIN = "ops-test-admin-token-0123456789abcdef"
STATES = ("queued", "running", "deferred", "done", "failed")


@pytest.fixture
def kto(emu, db, tmp_path):
    """keeptrack with an admin token and debug logs (the most a log can say)."""
    k = Keeptrack(emu, db, tmp_path, env={"KEEPTRACK_ADMIN_TOKEN": ADMIN,
                                          "KEEPTRACK_LOG_LEVEL": "debug",
                                          "KEEPTRACK_SCHEDULER": "false"}).start()
    yield k
    rc = k.stop()
    assert rc == 0, k.log()


def scrape(k):
    r = k.client().get("/metrics", headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status == 200, r
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return promtext.parse(r.text)


def http_count(fams, route, status, method="GET"):
    return fams["keeptrack_http_requests_total"].get(method=method, route=route,
                                                      status=str(status))


def scrape_when(k, predicate, what):
    """Scrapes until predicate(families) holds: a request's metrics are
    recorded when libmicrohttpd finishes it, a moment after the client has
    read the answer."""
    box = {}

    def ok():
        box["f"] = scrape(k)
        return predicate(box["f"])
    wait_until(ok, 10, what=what)
    return box["f"]


# ---- the parser itself must be strict, or the tests below prove nothing ----

GOOD = ('# HELP a_total A.\n# TYPE a_total counter\na_total{x="q\\"\\\\\\n"} 3\n'
        '# TYPE h histogram\nh_bucket{le="0.5"} 1\nh_bucket{le="+Inf"} 2\nh_sum 0.7\nh_count 2\n')


def test_parser_accepts_the_format():
    f = promtext.parse(GOOD)
    assert f["a_total"].value(x='q"\\\n') == 3
    assert f["h"].value("h_count") == 2


@pytest.mark.parametrize("bad", [
    GOOD.rstrip("\n"),                                              # no final newline
    GOOD.replace('\\"', '\\t'),                                      # bad escape
    GOOD.replace("a_total{", "a_total {"),                           # space before labels
    GOOD.replace('h_bucket{le="+Inf"} 2', 'h_bucket{le="+Inf"} 3'),   # +Inf != count
    GOOD.replace('h_bucket{le="0.5"} 1', 'h_bucket{le="0.5"} 5'),     # not cumulative
    GOOD.replace('h_sum 0.7\n', ''),                                  # no _sum
    GOOD.replace('# TYPE a_total counter', '# TYPE a_total counter\n# TYPE a_total gauge'),
    GOOD + 'a_total{x="q\\"\\\\\\n"} 4\n',                           # duplicate + not contiguous
    GOOD.replace("a_total{x", "a_total{1x"),                         # bad label name
    GOOD.replace("} 3", "} three"),                                  # bad value
    "# TYPE c counter\nc 1\n",                                       # counter without _total
])
def test_parser_refuses_malformed_text(bad):
    with pytest.raises(promtext.ParseError):
        promtext.parse(bad)


# ---- GET /metrics ----

def test_metrics_needs_the_admin_token(kto):
    c = kto.client()
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789abcdef"},
                    {"Authorization": f"Basic {ADMIN}"}, {"Authorization": f"Bearer {ADMIN}x"},
                    {"Authorization": f"Bearer {ADMIN[:-1]}"}):
        r = c.get("/metrics", headers=headers)
        assert r.status == 401, (headers, r)
        assert r.json()["error"]["code"] == "unauthorized"
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        assert ADMIN not in r.text
    assert c.get("/metrics", headers={"Authorization": f"bearer {ADMIN}"}).status == 200


def test_metrics_absent_without_admin_token(kt):
    r = kt.client().get("/metrics", headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status == 404
    assert r.json()["error"]["code"] == "not_found"


def test_metrics_parse_and_count_exactly(kto):
    # every earlier request (the fixture's readiness polls of /healthz) is
    # counted first: nothing in flight but this scrape. Otherwise a poll
    # counted just after `before` (its answer was read, its completion not
    # yet run: seen on a busy machine) made /healthz +6 and the wait below
    # never ended.
    before = scrape_when(kto, lambda f: f["keeptrack_http_requests_in_flight"].value() == 1,
                         "earlier requests to be counted")
    c = kto.client()
    for _ in range(5):
        assert c.get("/healthz").status == 200
    for _ in range(3):
        assert c.get("/api/me").status == 401
    assert c.get("/api/jobs/12345").status == 401
    for p in ("/no/such/page", "/another-secret-looking-path?code=abc"):
        assert c.get(p).status == 404
    assert c.request("DELETE", "/healthz").status == 405

    after = scrape_when(kto, lambda f: http_count(f, "/healthz", 200)
                        == http_count(before, "/healthz", 200) + 5 and
                        http_count(f, "unmatched", 404) == http_count(before, "unmatched", 404) + 2
                        and http_count(f, "unmatched", 405, "DELETE") == 1,
                        "the requests to be counted")
    assert http_count(after, "/healthz", 200) - http_count(before, "/healthz", 200) == 5
    assert http_count(after, "/api/me", 401) - http_count(before, "/api/me", 401) == 3
    assert http_count(after, "/api/jobs/{id}", 401) - http_count(before, "/api/jobs/{id}", 401) == 1
    assert http_count(after, "unmatched", 404) - http_count(before, "unmatched", 404) == 2
    # no route matched the method: counted as unmatched, under the method
    assert (http_count(after, "unmatched", 405, method="DELETE")
            - http_count(before, "unmatched", 405, method="DELETE")) == 1
    # the first scrape is counted too (exactly once)
    assert http_count(after, "/metrics", 200) - http_count(before, "/metrics", 200) >= 1

    hist = after["keeptrack_http_request_duration_seconds"]
    assert hist.type == "histogram"
    hb = before["keeptrack_http_request_duration_seconds"]
    assert (hist.value("keeptrack_http_request_duration_seconds_count", method="GET", route="/healthz")
            - hb.get("keeptrack_http_request_duration_seconds_count", method="GET",
                     route="/healthz")) == 5
    # route labels are patterns: no raw path or query string anywhere
    text = kto.client().get("/metrics", headers={"Authorization": f"Bearer {ADMIN}"}).text
    for raw in ("12345", "/no/such/page", "secret-looking", "code=abc"):
        assert raw not in text

    assert after["keeptrack_http_requests_in_flight"].value() >= 1  # the scrape itself
    assert after["process_start_time_seconds"].value() <= time.time()
    assert after["process_start_time_seconds"].value() > time.time() - 600
    assert after["keeptrack_metrics_db_up"].value() == 1
    assert after["keeptrack_db_pool_connections_max"].value() >= 1
    jobs = after["keeptrack_jobs"]
    assert jobs.type == "gauge"
    assert {s[1]["state"] for s in jobs.samples} == set(STATES)
    assert after["keeptrack_jobs_deferred"].value() == jobs.value(state="deferred")


def test_metrics_spotify_tokens_jobs_and_syncs(kto, emu, db):
    browser = kto.login("alice")
    assert browser.post("/api/auth/refresh").status == 200
    r = browser.post("/api/sync", json={"what": ["liked"]})
    assert r.status == 202, r
    job = r.json()["id"]
    wait_until(lambda: browser.get(f"/api/jobs/{job}").json()["state"] == "done", 30,
               what="the sync job")
    f = scrape(kto)
    sp = f["keeptrack_spotify_requests_total"]
    assert sp.type == "counter"
    # compare with what the emulator saw
    emu_stats = emu.stats()["endpoints"]
    assert sp.value(endpoint="GET /me", status="200") == emu_stats["GET /v1/me"]["count"]
    token_posts = sum(v for (n, ls, v) in sp.samples if ls["endpoint"] == "POST /api/token")
    assert token_posts == emu_stats["POST /api/token"]["count"] == 2  # the code, one refresh
    assert f["keeptrack_token_refreshes_total"].value(outcome="ok") == 1
    jobs = f["keeptrack_jobs"]
    assert jobs.value(state="done") == 1
    assert sum(jobs.value(state=s) for s in STATES) == 1
    sync = f["keeptrack_sync_duration_seconds"]
    runs = int(db.sql("SELECT COUNT(*) FROM sync_runs WHERE finished_at IS NOT NULL")[0][0])
    assert runs >= 1
    assert sum(v for (n, ls, v) in sync.samples
               if n == "keeptrack_sync_duration_seconds_count") == runs
    # a revoked refresh token is counted as such
    emu.control("POST", "tokens/revoke", {"user": "alice"})
    assert browser.post("/api/auth/refresh").status == 401
    assert scrape(kto)["keeptrack_token_refreshes_total"].value(outcome="revoked") == 1


# ---- graceful shutdown ----

def in_flight_now(k):
    try:
        r = k.client().get("/metrics", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=0.5)
    except OSError:
        return 0
    return promtext.parse(r.text)["keeptrack_http_requests_in_flight"].value()


def connect_refused(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except (ConnectionRefusedError, ConnectionResetError):
        # A connection queued in the backlog while the listener closes is
        # reset rather than refused: both mean nobody accepts any more.
        return True


def test_sigterm_lets_a_slow_request_finish(kto, emu):
    browser = kto.client()
    callback = kto.authorize(kto.start_login(browser), "alice")
    # the code exchange inside the callback is held at the emulator until
    # released, so the callback is provably in flight through the stop
    emu.set_faults(only="POST /api/token", count=1, latency_ms=600_000)
    result = {}

    def slow():
        result["r"] = kto.finish_login(browser, callback)
    t = threading.Thread(target=slow)
    t.start()
    # the callback is in flight once the gauge counts it next to the scrape
    # libmicrohttpd binds each connection to one pool thread: a scrape that
    # lands on the callback's (busy) thread waits for it, so each attempt
    # gives up after 0.5 s and the next one comes on a new connection.
    wait_until(lambda: in_flight_now(kto) >= 2, 10, what="the callback to be in flight")
    wait_until(lambda: emu.control("GET", "faults")["held"] == 1, 10,
               what="the code exchange to be held at the emulator")
    kto.proc.send_signal(signal.SIGTERM)
    # new connections are refused at once, while the callback still runs
    wait_until(lambda: connect_refused(kto.port), 5, what="the listener to close")
    assert t.is_alive()
    emu.clear_faults(release=True)
    t.join(20)
    assert not t.is_alive()
    r = result["r"]
    assert r.status == 302 and r.location == "/", r
    assert browser.cookie(kto.session_cookie)
    assert r.headers.get("Connection", "").lower() == "close"
    assert kto.proc.wait(20) == 0
    log = kto.log()
    assert "event=serve_stopping signal=15" in log
    assert "http_stop_timeout" not in log


# ---- access logs ----

def test_access_logs_hold_no_secret(kto, emu):
    browser = kto.client()
    authorize_url = kto.start_login(browser)
    state = query_of(authorize_url)["state"]
    binding = browser.cookie(kto.binding_cookie)
    callback = kto.authorize(authorize_url, "alice")
    code = query_of(callback)["code"]
    r = kto.finish_login(browser, callback)
    assert r.status == 302, r
    session = browser.cookie(kto.session_cookie)
    assert browser.post("/api/auth/refresh").status == 200
    assert browser.get("/api/me").status == 200
    # a replayed callback and a bogus one log their failure, not their values
    assert kto.finish_login(Http(kto.base_url), callback).status >= 400
    assert browser.get("/metrics", headers={"Authorization": f"Bearer {ADMIN}"}).status == 200
    assert browser.post("/api/auth/logout").status in (200, 204, 302)
    tokens = emu.tokens()
    kto.stop()
    log = kto.log()
    lines = [ln for ln in log.splitlines() if "event=http_request" in ln]
    assert any("route=/api/auth/callback" in ln and "status=302" in ln for ln in lines), log
    assert any("route=/metrics" in ln for ln in lines)
    secrets = [state, code, binding, session, ADMIN] + tokens["access"] + tokens["refresh"]
    assert all(s and len(s) >= 16 for s in secrets)
    for s in secrets:
        assert s not in log
    for ln in lines:
        assert "?" not in ln and "code=" not in ln


# ---- keeptrack users list ----

def test_users_list_shows_status_last_sync_and_token_expiry(kto, emu):
    alice = kto.login("alice")
    kto.login("bob")
    r = alice.post("/api/sync", json={"what": ["liked"]})
    assert r.status == 202, r
    job = r.json()["id"]
    wait_until(lambda: alice.get(f"/api/jobs/{job}").json()["state"] == "done", 30,
               what="the sync job")
    me = alice.get("/api/me").json()
    out = kto.cli("users", "list")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["ID", "ACCOUNT", "NAME", "STATUS", "LAST_SYNC", "SYNC_STATUS",
                                "TOKEN_EXPIRES", "REAUTH_BY"]
    rows = {ln.split()[1]: ln.split() for ln in lines[1:]}
    assert len(rows) == 2
    a = rows[me["account_id"]]
    # the name may hold spaces: read the last five columns from the right
    assert a[0] == str(me["id"])
    status, last_sync, sync_status, token, reauth = a[-5:]
    assert status == "active"
    assert sync_status == "done" and last_sync.endswith("Z") and last_sync != "-"
    assert token == me["access_token_expires_at"].split(".")[0].rstrip("Z") + "Z"
    assert reauth == me["refresh_token_expires_at"].split(".")[0].rstrip("Z") + "Z"
    b = next(v for k, v in rows.items() if k != me["account_id"])
    assert b[-5:-3] == ["active", "-"] and b[-3] == "-"  # bob never synced
