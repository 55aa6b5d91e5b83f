"""Playlist covers: GET/PUT /v1/playlists/{id}/images, the uploaded bytes
served at their own image URL, the playlist_cover mutation and the truth's
cover_sha256."""
import base64
import hashlib

import pytest

from emulator import http


def jpeg(n=64, salt=b"x"):
    """Bytes that pass for a JPEG (SOI + APP0 marker start), n long."""
    body = (salt * n)[: max(0, n - 4)]
    return b"\xff\xd8\xff\xe0" + body


@pytest.fixture
def me(emu_factory):
    e = emu_factory(["--user", "a:liked=5,playlists=2,playlist_items=3,followed_playlists=1"])
    e.tok = e.login("a")["access_token"]
    t = e.truth("a", ["playlists"])["playlists"]
    e.own = next(p for p in t if p["owner"]["id"] == "a" and not p["collaborative"])
    e.other = next(p for p in t if p["owner"]["id"] != "a")
    return e


def put_cover(e, pid, data, ctype="image/jpeg", token=None):
    return http("PUT", f"{e.api_url}/playlists/{pid}/images", data,
                {"Authorization": f"Bearer {token or e.tok}", "Content-Type": ctype})


def test_generated_cover_until_upload(me):
    imgs = me.get(f"/playlists/{me.own['id']}/images", me.tok).json()
    assert [(i["width"], i["height"]) for i in imgs] == [(640, 640), (300, 300), (64, 64)]
    assert imgs == me.own["images"] and me.own["cover_sha256"] is None
    assert me.count("GET /v1/playlists/{id}/images") == 1


def test_upload_serves_the_bytes_and_changes_snapshot(me):
    raw = jpeg(5000)
    r = put_cover(me, me.own["id"], base64.b64encode(raw))
    assert r.status == 202 and r.body == b""
    imgs = me.get(f"/playlists/{me.own['id']}/images", me.tok).json()
    sha = hashlib.sha256(raw).hexdigest()
    assert len(imgs) == 1 and imgs[0]["width"] is None and imgs[0]["height"] is None
    assert imgs[0]["url"] == f"{me.base_url}/image/ugc/{sha[:32]}"
    img = http("GET", imgs[0]["url"])  # no token: an image host
    assert img.status == 200 and img.body == raw and img.headers["Content-Type"] == "image/jpeg"
    assert me.control("GET", "images") == {"covers_served": 1}
    pl = next(p for p in me.truth("a", ["playlists"])["playlists"] if p["id"] == me.own["id"])
    assert pl["cover_sha256"] == sha and pl["images"] == imgs
    assert pl["snapshot_id"] != me.own["snapshot_id"]
    assert me.get(f"/playlists/{me.own['id']}", me.tok).json()["images"] == imgs
    # The image request is not a Web API request: not counted.
    assert me.count("PUT /v1/playlists/{id}/images") == 1
    assert "GET (unknown)" not in me.stats()["endpoints"]
    # A new upload gets a new URL; the old one is gone.
    raw2 = jpeg(300, b"y")
    assert put_cover(me, me.own["id"], base64.b64encode(raw2)).status == 202
    url2 = me.get(f"/playlists/{me.own['id']}/images", me.tok).json()[0]["url"]
    assert url2 != imgs[0]["url"] and http("GET", url2).body == raw2
    assert http("GET", imgs[0]["url"]).status == 404


def test_upload_refusals(me):
    pid = me.own["id"]
    ok = base64.b64encode(jpeg(100))
    assert put_cover(me, pid, ok, ctype="application/json").status == 400
    assert put_cover(me, pid, b"@@not base64@@").status == 400
    assert put_cover(me, pid, base64.b64encode(b"GIF89a not a jpeg")).status == 400
    assert put_cover(me, pid, b"").status == 400
    # 256 KB of base64 is the limit: one more byte is 413.
    limit = 256 * 1024
    at_limit = base64.b64encode(jpeg(limit // 4 * 3))
    assert len(at_limit) == limit
    assert put_cover(me, pid, at_limit).status == 202
    assert put_cover(me, pid, at_limit + b"A").status == 413
    r = put_cover(me, me.other["id"], ok)
    assert r.status == 403 and r.json()["error"]["status"] == 403
    assert put_cover(me, "nosuchplaylist0000000", ok).status == 404
    assert http("PUT", f"{me.api_url}/playlists/{pid}/images", ok,
                {"Content-Type": "image/jpeg"}).status == 401
    # The refusals left the accepted cover alone.
    truth = next(p for p in me.truth("a", ["playlists"])["playlists"] if p["id"] == pid)
    assert truth["cover_sha256"] == hashlib.sha256(base64.b64decode(at_limit)).hexdigest()
    assert http("GET", f"{me.base_url}/image/ugc/{'0' * 32}").status == 404
    assert http("GET", f"{me.base_url}/image/ugc/short").status == 404


def test_collaborator_may_not_change_cover(emu_factory):
    e = emu_factory(["--user", "a:playlists=1,playlist_items=2", "--user", "b:playlists=0"])
    t = e.truth("a", ["playlists"])["playlists"][0]
    tb = e.login("b")["access_token"]
    assert put_cover(e, t["id"], base64.b64encode(jpeg(50)), token=tb).status == 403


def test_mutation_sets_cover(me):
    raw = jpeg(700, b"z")
    r = me.mutate("a", op="playlist_cover", playlist=me.own["id"],
                  jpeg_base64=base64.b64encode(raw).decode())
    assert r["snapshot_id"] != me.own["snapshot_id"]
    pl = next(p for p in me.truth("a", ["playlists"])["playlists"] if p["id"] == me.own["id"])
    assert pl["cover_sha256"] == hashlib.sha256(raw).hexdigest()
    assert http("GET", pl["images"][0]["url"]).body == raw
    assert me.stats()["total"] == 2  # authorize + token: the mutation is not counted
    bad = http("POST", f"{me.base_url}/__emulator/users/a/mutate",
               {"op": "playlist_cover", "playlist": me.own["id"], "jpeg_base64": "bm9wZQ=="})
    assert bad.status == 400
    bad = http("POST", f"{me.base_url}/__emulator/users/a/mutate",
               {"op": "playlist_cover", "playlist": "nosuch", "jpeg_base64": "bm9wZQ=="})
    assert bad.status == 404
    # unchecked: any bytes, as a broken image host would serve.
    me.mutate("a", op="playlist_cover", playlist=me.own["id"], jpeg_base64="bm9wZQ==", unchecked=True)
    pl = next(p for p in me.truth("a", ["playlists"])["playlists"] if p["id"] == me.own["id"])
    assert http("GET", pl["images"][0]["url"]).body == b"nope"
