"""Hostile input gets Spotify-shaped 4xx and never crashes the emulator."""
import socket
import urllib.parse

import pytest

from emulator import http


@pytest.fixture(scope="module")
def bad(emu):
    tok = emu.login("alice")["access_token"]
    truth = emu.truth("alice", ["playlists"])["playlists"]
    own = next(p["id"] for p in truth if p["owner"]["id"] == "alice")
    return tok, own


def err_of(r):
    return r.json()["error"]


@pytest.mark.parametrize("path,status,message", [
    ("/me/tracks?limit=0", 400, "Invalid limit"),
    ("/me/tracks?limit=51", 400, "Invalid limit"),
    ("/me/tracks?limit=-1", 400, "Invalid limit"),
    ("/me/tracks?limit=abc", 400, "Invalid limit"),
    ("/me/tracks?limit=99999999999999999999999", 400, "Invalid limit"),
    ("/me/tracks?offset=-5", 400, "Invalid offset"),
    ("/me/playlists?limit=100", 400, "Invalid limit"),
    ("/playlists/xyz", 404, "Resource not found"),
    ("/playlists/" + "A" * 22, 404, "Resource not found"),
    ("/tracks/" + "%FF%FE" * 11, 404, "Resource not found"),
    ("/artists/../../etc/passwd", 404, None),
    ("/me/top/planets", 404, "Service not found"),
    ("/me/top/tracks?time_range=forever", 400, "Invalid time range"),
    ("/me/following", 400, "Missing parameter type"),
    ("/me/following?type=user", 400, "Bad search type field type"),
    ("/me/player/recently-played?after=1&before=2", 400, None),
    ("/me/player/recently-played?before=yesterday", 400, None),
    ("/me/library/contains", 400, None),
    ("/me/library/contains?uris=not-a-uri", 400, None),
    ("/nothing/here", 404, "Service not found"),
])
def test_bad_get_requests(emu, bad, path, status, message):
    r = emu.get(path, bad[0])
    assert r.status == status, r
    if message:
        assert err_of(r) == {"status": status, "message": message}


def test_bad_bodies_and_uris(emu, bad):
    tok, own = bad
    r = emu.api("POST", "/me/playlists", tok, b"{not json")
    assert r.status == 400 and err_of(r)["message"] == "Error parsing JSON."
    assert emu.api("POST", "/me/playlists", tok, {"public": True}).status == 400
    assert emu.api("POST", "/me/playlists", tok, b"[1,2]").status == 400
    deep = b"[" * 100000 + b"]" * 100000
    assert emu.api("POST", "/me/playlists", tok, deep).status == 400
    many = ",".join(["spotify:track:" + "0" * 22] * 101)
    r = emu.api("POST", f"/playlists/{own}/items?uris={many}", tok)
    assert r.status == 400 and "maximum of 100" in err_of(r)["message"]
    r = emu.api("POST", f"/playlists/{own}/items", tok, {"uris": ["spotify:track:" + "0" * 22]})
    assert r.status == 400
    r = emu.api("POST", f"/playlists/{own}/items", tok, {"uris": ["spotify:local:a:b:c:1"]})
    assert r.status == 400
    r = emu.api("PUT", f"/playlists/{own}/items", tok, {"range_start": 0, "insert_before": 99999})
    assert r.status == 400
    r = emu.api("PUT", f"/playlists/{own}/items", tok, {"range_start": "x", "insert_before": 0})
    assert r.status == 400
    r = emu.api("DELETE", f"/playlists/{own}/items", tok, {"items": "all"})
    assert r.status == 400
    forty_one = ",".join(["spotify:track:" + "1" * 22] * 41)
    r = emu.api("PUT", f"/me/library?uris={forty_one}", tok)
    assert r.status == 400 and "40" in err_of(r)["message"]
    r = emu.api("PUT", "/me/library?uris=spotify:track:" + "1" * 22, tok)
    assert r.status == 404
    r = emu.api("PATCH", "/me", tok)
    assert r.status == 405


def test_oversized_and_raw_garbage(emu):
    r = http("POST", emu.base_url + "/api/token", b"x" * (2 * 1024 * 1024),
             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 413
    r = http("POST", emu.base_url + "/api/token", "grant_type=%zz%&code=%",
             headers={"Authorization": "Basic !!!notbase64"})
    assert r.status == 400
    r = http("GET", emu.base_url + "/authorize?" + urllib.parse.urlencode({"client_id": "\x00\xff" * 50}))
    assert r.status == 400
    r = http("GET", emu.api_url + "/me/tracks?" + "a=b&" * 1000)
    assert r.status == 401
    r = http("GET", emu.api_url + "/tracks/" + "%00" * 22)
    assert r.status == 401, "no token: auth is checked first"
    host, port = emu.base_url.rsplit(":", 1)
    for junk in (b"\x00\x01\x02 garbage\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"POST /api/token HTTP/1.1\r\n"
                 b"Content-Length: 99999999999\r\n\r\nabc", b"GET /v1/me HTTP/1.1\r\nHost: x\r\n" + b"X: y\r\n" * 500,
                 b"GET /v1/me/tracks?" + b"a=b&" * 30000 + b" HTTP/1.1\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", int(port)), timeout=5) as s:
            s.settimeout(0.5)
            try:
                s.sendall(junk)
                s.shutdown(socket.SHUT_WR)
                s.recv(4096)
            except OSError:
                pass  # closed or no answer: both fine, as long as the server lives
    r = http("POST", emu.base_url + "/__emulator/users/alice/mutate", b"\xff\xfe")
    assert r.status == 400
    r = http("GET", emu.base_url + "/__emulator/users/" + "a" * 500 + "/truth")
    assert r.status == 404
    assert http("GET", emu.base_url + "/__emulator/health").json() == {"ok": True}
    assert emu.alive()
