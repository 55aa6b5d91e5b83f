"""Each fault: rate limit, QUOTA_EXCEEDED, 5xx, truncation, malformed bodies,
hangs (client timeout), drops and latency that does not block other requests."""
import http.client
import json
import socket
import threading
import time
import urllib.parse

import pytest


@pytest.fixture
def fe(emu_factory):
    e = emu_factory(["--user", "a:liked=60", "--threads", "4"])
    e.token_ = e.login("a")["access_token"]
    return e


def raw_get(e, path, token, timeout=10):
    u = urllib.parse.urlparse(e.api_url + path)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    c.request("GET", u.path + ("?" + u.query if u.query else ""), headers={"Authorization": f"Bearer {token}"})
    return c, c.getresponse()


def wait_held(e, n, timeout=10):
    """Polls until the emulator holds n requests (latency or hang faults)."""
    deadline = time.monotonic() + timeout
    while e.control("GET", "faults")["held"] < n:
        assert time.monotonic() < deadline, f"{n} requests never reached the emulator"
        time.sleep(0.01)


def test_rate_limit_429_with_retry_after(fe):
    fe.set_faults(rate_limit=5)
    codes = [fe.get("/me/tracks", fe.token_).status for _ in range(5)]
    assert codes == [200] * 5
    r = fe.get("/me/tracks", fe.token_)
    assert r.status == 429
    assert r.json() == {"error": {"status": 429, "message": "API rate limit exceeded"}}
    assert 1 <= int(r.headers["Retry-After"]) <= 30
    assert fe.control("GET", "health")["ok"], "control API is never limited"
    fe.control("POST", "clock", {"advance_s": 31})
    assert fe.get("/me/tracks", fe.token_).status == 200, "the window rolls"


def test_quota_exceeded(fe):
    fe.set_faults(quota_exceeded=True, quota_retry_after_s=7200)
    r = fe.get("/me", fe.token_)
    assert r.status == 429 and r.headers["Retry-After"] == "7200"
    assert r.json() == {"error": {"status": 429, "message": "Too many requests", "reason": "QUOTA_EXCEEDED"}}
    fe.set_faults(quota_exceeded=False)
    assert fe.get("/me", fe.token_).status == 200


def test_targeted_finite_5xx(fe):
    fe.set_faults(fail_rate=1, only="GET /v1/me/tracks", count=2)
    assert fe.get("/me", fe.token_).status == 200, "other endpoints untouched"
    codes = [fe.get("/me/tracks", fe.token_).status for _ in range(3)]
    assert codes[0] in (500, 502, 503) and codes[1] in (500, 502, 503) and codes[2] == 200
    ep = fe.stats()["endpoints"]["GET /v1/me/tracks"]
    assert ep["count"] == 3 and sum(ep["statuses"].values()) == 3 and ep["statuses"]["200"] == 1


def test_fail_rate_fraction(fe):
    fe.set_faults(fail_rate=0.5)
    codes = [fe.get("/me", fe.token_).status for _ in range(60)]
    fails = sum(c >= 500 for c in codes)
    assert 10 <= fails <= 50 and set(codes) <= {200, 500, 502, 503}


def test_truncated_body(fe):
    fe.set_faults(truncate_rate=1, count=1)
    c, resp = raw_get(fe, "/me/tracks?limit=50", fe.token_)
    declared = int(resp.headers["Content-Length"])
    with pytest.raises(http.client.IncompleteRead) as ex:
        resp.read()
    assert len(ex.value.partial) < declared
    c.close()
    assert fe.get("/me/tracks", fe.token_).status == 200


def test_malformed_body(fe):
    fe.set_faults(malformed_rate=1, count=1)
    r = fe.get("/me/tracks?limit=5", fe.token_)
    assert r.status == 200 and int(r.headers["Content-Length"]) == len(r.body)
    with pytest.raises(ValueError):
        json.loads(r.body)


def test_hang_needs_client_timeout_and_blocks_nothing(fe):
    fe.set_faults(hang_rate=1, only="GET /v1/me/tracks", count=1)
    with pytest.raises((socket.timeout, TimeoutError)):
        c, resp = raw_get(fe, "/me/tracks", fe.token_, timeout=0.5)
        resp.read()
    assert fe.control("GET", "faults")["held"] == 1
    assert fe.get("/me", fe.token_).status == 200, "answered while the other is held"
    assert fe.stats()["endpoints"]["GET /v1/me/tracks"]["statuses"] == {"0": 1}
    assert fe.stop() == 0, "shutdown releases the hung request"


def test_rule_for_one_user(emu_factory):
    e = emu_factory(["--user", "a:liked=5", "--user", "b:liked=5"])
    ta, tb = e.login("a")["access_token"], e.login("b")["access_token"]
    r = e.set_faults(user="b", fail_rate=1, count=2)
    assert r["rules"][0]["user"] == "b" and r["rules"][0]["count"] == 2
    assert [e.get("/me/tracks", ta).status for _ in range(3)] == [200] * 3, "a is untouched"
    assert e.get("/me/tracks", tb).status in (500, 502, 503)
    # a hung request is logged at once, with its user
    e.set_faults(user="b", hang_rate=1, count=1)
    with pytest.raises((socket.timeout, TimeoutError)):
        c, resp = raw_get(e, "/me/tracks", tb, timeout=0.5)
        resp.read()
    held = [q for q in e.stats()["requests"] if q["status"] == 0]
    assert [(q["user"], q["endpoint"]) for q in held] == [("b", "GET /v1/me/tracks")]
    assert e.get("/me/tracks", tb).status in (500, 502, 503), "the first rule's second count"
    assert e.get("/me/tracks", tb).status == 200
    from emulator import http as h
    assert h("POST", e.base_url + "/__emulator/faults", {"user": 7, "hang_rate": 1}).status == 400
    assert e.stop() == 0, "shutdown releases the hung request"


def test_release_ends_held_requests(fe):
    """A hang and a long latency hold requests until released: the hung one
    is closed without an answer, the delayed one answered."""
    fe.set_faults(hang_rate=1, only="GET /v1/me/tracks")
    fe.set_faults(latency_ms=600_000, only="GET /v1/me")
    outcome = {}

    def call(name, path):
        try:
            c, resp = raw_get(fe, path, fe.token_, timeout=60)
            outcome[name] = resp.status
        except (http.client.RemoteDisconnected, ConnectionResetError) as e:
            outcome[name] = type(e).__name__
    threads = [threading.Thread(target=call, args=a) for a in (("hung", "/me/tracks"), ("slow", "/me"))]
    for th in threads:
        th.start()
    from emulator import http as h
    wait_held(fe, 2)
    assert outcome == {}
    assert h("POST", fe.base_url + "/__emulator/faults", {"release": "yes"}).status == 400
    r = fe.clear_faults(release=True)
    assert r["rules"] == []
    for th in threads:
        th.join(30)
        assert not th.is_alive()
    assert outcome["slow"] == 200, outcome
    assert outcome["hung"] in ("RemoteDisconnected", "ConnectionResetError"), outcome
    assert fe.control("GET", "faults")["held"] == 0
    assert fe.get("/me/tracks", fe.token_).status == 200


def test_dropped_connection(fe):
    fe.set_faults(drop_rate=1, count=1)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError, http.client.BadStatusLine)):
        c, resp = raw_get(fe, "/me", fe.token_)
    assert fe.get("/me", fe.token_).status == 200


def test_latency_does_not_block_other_requests(fe):
    """More delayed requests than the emulator has pool threads (4) are held
    at once, and other requests are still answered meanwhile: a delay
    suspends the connection, it does not sleep a thread."""
    fe.set_faults(latency_ms=600_000, only="GET /v1/me/tracks")
    statuses = []

    def slow():
        statuses.append(fe.get("/me/tracks", fe.token_).status)
    threads = [threading.Thread(target=slow) for _ in range(8)]
    for th in threads:
        th.start()
    wait_held(fe, 8)
    for _ in range(5):
        assert fe.get("/me", fe.token_).status == 200
    assert statuses == [] and fe.control("GET", "faults")["held"] == 8
    fe.clear_faults(release=True)
    for th in threads:
        th.join(30)
    assert statuses == [200] * 8


def test_faults_endpoint_validation(fe):
    r = fe.set_faults(latency_ms=5, jitter_ms=2)
    assert r["latency_ms"] == 5 and r["jitter_ms"] == 2 and r["rules"] == []
    from emulator import http as h
    bad = h("POST", fe.base_url + "/__emulator/faults", {"fail_rate": 2})
    assert bad.status == 400
    bad = h("POST", fe.base_url + "/__emulator/faults", {"mode": "sideways"})
    assert bad.status == 400
    r = fe.set_faults(drop_rate=1, only="GET /v1/me", count=3)
    assert r["rules"][0]["only"] == "GET /v1/me" and r["rules"][0]["count"] == 3
    r = fe.clear_faults()
    assert r["rules"] == [] and r["latency_ms"] == 0
