"""Control API: stats, users, mutations (truth and snapshot_id follow), consent."""
import time

import pytest

from emulator import http


def test_stats_counts_and_reset(emu_factory):
    e = emu_factory(["--user", "a:liked=3"])
    t = e.login("a")["access_token"]
    t0 = time.time() * 1000
    e.get("/me/tracks?limit=2", t)
    e.get("/me/tracks", t)
    e.get("/nope", t)
    s = e.stats()
    assert s["total"] == 5  # authorize, token, 2x tracks, unknown; control calls are not counted
    assert s["endpoints"]["GET /v1/me/tracks"] == {"count": 2, "statuses": {"200": 2}}
    assert s["endpoints"]["GET /authorize"]["statuses"] == {"302": 1}
    assert s["endpoints"]["GET /v1/(unknown)"]["statuses"] == {"404": 1}
    reqs = [q for q in s["requests"] if q["endpoint"] == "GET /v1/me/tracks"]
    assert reqs[0]["path"] == "/v1/me/tracks?limit=2" and reqs[0]["user"] == "a" and reqs[0]["status"] == 200
    assert reqs[0]["t_ms"] >= t0 - 1000
    later = e.stats(since_ms=reqs[1]["t_ms"])
    assert [q["path"] for q in later["requests"]][-2:] == ["/v1/me/tracks", "/v1/nope"]
    e.reset_stats()
    s = e.stats()
    assert s == {"total": 0, "endpoints": {}, "requests": []}


def test_users_list_and_create(emu_factory):
    e = emu_factory(["--user", "a:liked=3"])
    users = e.control("GET", "users")
    assert [u["id"] for u in users] == ["a"] and len(users[0]["account_id"]) == 22
    made = e.add_user("newbie", liked=4, playlists=1, playlist_items="2-2")
    assert made["id"] == "newbie"
    truth = e.truth("newbie")
    assert len(truth["liked"]) == 4 and len(truth["playlists"]) == 5
    dup = http("POST", e.base_url + "/__emulator/users", {"id": "newbie"})
    assert dup.status == 409
    bad = http("POST", e.base_url + "/__emulator/users", {"id": "x", "liked": "lots"})
    assert bad.status == 400
    bad = http("POST", e.base_url + "/__emulator/users", {"id": "bad id!"})
    assert bad.status == 400
    tok = e.login("newbie")["access_token"]
    assert e.get("/me/tracks", tok).json()["total"] == 4


@pytest.fixture
def me(emu_factory):
    e = emu_factory(["--user", "a:liked=10,playlists=2,playlist_items=5,followed_playlists=1,followed=3,plays=5"])
    e.tok = e.login("a")["access_token"]
    e.t = e.truth("a")
    return e


def test_like_unlike(me):
    other = next(p["items"] for p in me.t["playlists"] if p["items"])
    liked_ids = {x["track"]["id"] for x in me.t["liked"]}
    new = next(i["item"] for i in other if i["item"] and i["item"]["type"] == "track"
               and not i["is_local"] and i["item"]["id"] not in liked_ids)
    r = me.mutate("a", op="like", uri=new["uri"])
    assert r == {"changed": True, "liked_total": 11}
    first = me.get("/me/tracks?limit=1", me.tok).json()
    assert first["total"] == 11 and first["items"][0]["track"]["id"] == new["id"]
    assert me.truth("a", ["liked"])["liked"][0]["track"]["id"] == new["id"]
    assert me.mutate("a", op="unlike", uri=new["uri"])["liked_total"] == 10
    assert me.truth("a", ["liked"])["liked"] == me.t["liked"]


def test_playlist_mutations_change_snapshot(me):
    pl = next(p for p in me.t["playlists"] if p["owner"]["id"] == "a")
    uri = me.t["liked"][0]["track"]["uri"]
    r = me.mutate("a", op="playlist_add", playlist=pl["id"], uris=[uri, uri], position=1)
    assert r["snapshot_id"] != pl["snapshot_id"] and r["total"] == 7
    items = me.get(f"/playlists/{pl['id']}/items?limit=50", me.tok).json()["items"]
    assert [i["item"]["uri"] for i in items[1:3]] == [uri, uri]
    r2 = me.mutate("a", op="playlist_reorder", playlist=pl["id"], range_start=0, insert_before=7)
    assert r2["snapshot_id"] != r["snapshot_id"]
    items2 = me.get(f"/playlists/{pl['id']}/items?limit=50", me.tok).json()["items"]
    assert items2 == items[1:] + items[:1]
    r3 = me.mutate("a", op="playlist_remove", playlist=pl["id"], uris=[uri])
    assert r3["total"] == 5 and r3["snapshot_id"] not in (r["snapshot_id"], r2["snapshot_id"])
    simple = [p for p in me.get("/me/playlists", me.tok).json()["items"] if p["id"] == pl["id"]][0]
    assert simple["snapshot_id"] == r3["snapshot_id"]


def test_play_follow_new_release(me):
    uri = me.t["liked"][3]["track"]["uri"]
    r = me.mutate("a", op="play", uri=uri, played_at="2030-01-01T00:00:00.250Z")
    assert r["plays"] == 6 and r["played_at_ms"] == 1893456000250
    rp = me.get("/me/player/recently-played?limit=1", me.tok).json()
    assert rp["items"][0]["track"]["uri"] == uri and rp["items"][0]["played_at"] == "2030-01-01T00:00:00.250Z"
    artist = me.t["liked"][3]["track"]["artists"][0]
    followed = {a["id"] for a in me.t["followed_artists"]}
    op = "unfollow" if artist["id"] in followed else "follow"
    assert me.mutate("a", op=op, uri=artist["uri"])["changed"] is True
    assert (artist["id"] in {a["id"] for a in me.truth("a", ["followed_artists"])["followed_artists"]}) == (op == "follow")
    album = me.mutate("a", op="new_release", artist=artist["id"], name="Brand New", album_type="album",
                      release_date="2030-02-03", tracks=3)
    assert album["name"] == "Brand New" and album["release_date"] == "2030-02-03" and album["total_tracks"] == 3
    first = me.get(f"/artists/{artist['id']}/albums?limit=1", me.tok).json()["items"][0]
    assert first["id"] == album["id"] and first["album_group"] == "album"


@pytest.mark.parametrize("body,status", [
    ({"op": "like", "uri": "spotify:track:" + "0" * 22}, 404),
    ({"op": "like", "uri": "nonsense"}, 400),
    ({"op": "playlist_add", "playlist": "nope", "uris": []}, 404),
    ({"op": "teleport"}, 400),
    ({}, 400),
])
def test_mutation_errors(me, body, status):
    r = http("POST", me.base_url + "/__emulator/users/a/mutate", body)
    assert r.status == status and "error" in r.json()
    assert http("POST", me.base_url + "/__emulator/users/zed/mutate", {"op": "like"}).status == 404
