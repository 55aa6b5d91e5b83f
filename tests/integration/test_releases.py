"""New releases and GET /api/artists/ (issue 8), end to end on SQLite and
PostgreSQL, in development and extended mode.

The expected answer is computed here, independently of keeptrack, from the
emulator: its ground truth (who follows which artists, top artists) and its
own Web API (/artists/{id}/albums in development mode, /browse/new-releases
in extended mode, read with a client-credentials token of the test's own).
Checked:
- GET /api/artists/ (global and scope=me) and GET /api/releases equal the
  expected artists and releases exactly, in order, with paging links;
- a re-run adds no duplicates and keeps the ETag; in development mode it
  spends no /artists/{id}/albums request (artists checked recently);
- a `new_release` mutation appears after a refresh; releases older than the
  window age out;
- 1,000 GETs cause zero requests to the emulator;
- the client-credentials token is requested once per expiry (the emulator's
  clock is advanced past it);
- bad parameters are 400 naming them; scope=me needs a session; 304 on
  If-None-Match; Cache-Control.
"""
import datetime
import os
import sys
import urllib.parse

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

import keeptrack as ktlib  # noqa: E402
from emulator import Emulator  # noqa: E402

ALICE = "alice:liked=20,playlists=1,playlist_items=3,followed=24,plays=5"
BOB = "bob:liked=8,playlists=0,followed=9,plays=0"
KT_ENV = {"KEEPTRACK_SPOTIFY_BUDGET": "1000", "KEEPTRACK_JOB_POLL_MS": "50"}
WINDOW = 28


@pytest.fixture(params=["development", "extended"])
def mode(request):
    return request.param


@pytest.fixture
def emu(mode):
    e = Emulator(["--redirect-uri", "any-loopback", "--mode", mode, "--user", ALICE,
                  "--user", BOB]).start()
    yield e
    assert e.stop() == 0, e.stderr[-3000:]


def start_kt(emu, db, tmp_path, **env):
    return ktlib.Keeptrack(emu, db, tmp_path, env=dict(KT_ENV, **env),
                           client_secret=ktlib.TEST_CLIENT_SECRET).start()


def start_env(emu, db, tmp_path, **env):
    """keeptrack with alice and bob logged in and their following + top
    items synced. Returns (kt, alice's browser)."""
    kt = start_kt(emu, db, tmp_path, **env)
    alice = kt.login("alice")
    kt.login("bob", browser=kt.client())
    for uid in ("1", "2"):
        r = kt.cli("sync", "--user", uid, "following", "top", timeout=120)
        assert r.returncode == 0, (r.stdout, r.stderr, kt.log()[-3000:])
    return kt, alice


@pytest.fixture
def env(emu, db, tmp_path):
    kt, alice = start_env(emu, db, tmp_path)
    yield emu, kt, alice
    assert kt.stop() == 0, kt.log()[-3000:]


# ---- the expected answer, from the emulator alone ----

def window_start(days):
    return (datetime.datetime.now(datetime.timezone.utc).date()
            - datetime.timedelta(days=days)).isoformat()


def release_day(date):
    return {4: date + "-01-01", 7: date + "-01"}.get(len(date), date)


def app_token(emu):
    r = emu.token({"grant_type": "client_credentials"})
    assert r.status == 200, r
    return r.json()["access_token"]


def all_pages(emu, token, path, key=None):
    out, url = [], emu.api_url + path
    while url:
        r = emu.get(url, token=token)
        assert r.status == 200, r
        page = r.json()[key] if key else r.json()
        out += page["items"]
        url = page["next"]
    return out


def wanted_artists(emu, users=("alice", "bob")):
    """Followed and top artists of the users, and every artist object the
    sync stored in full (their images)."""
    ids, full = set(), {}
    for u in users:
        t = emu.truth(u, sections=["followed_artists", "top"])
        for a in t["followed_artists"]:
            ids.add(a["id"])
            full[a["id"]] = a
        for rng in t["top"].values():
            for a in rng["artists"]:
                ids.add(a["id"])
                full[a["id"]] = a
    return ids, full


def expected_albums(emu, mode, days=WINDOW, users=("alice", "bob")):
    """album id -> simplified album object, for albums inside the window."""
    token = app_token(emu)
    since = window_start(days)
    if mode == "extended":
        albums = all_pages(emu, token, "/browse/new-releases?limit=50", key="albums")
    else:
        ids, _ = wanted_artists(emu, users)
        albums = []
        for aid in sorted(ids):
            albums += all_pages(emu, token,
                                f"/artists/{aid}/albums?include_groups=album,single&limit=10")
    return {a["id"]: a for a in albums if release_day(a["release_date"]) >= since}


def expected_artists_view(emu, albums, release_limit=5, only=None):
    _, full = wanted_artists(emu)
    by_artist = {}
    for al in albums.values():
        for ar in al["artists"]:
            if only is not None and ar["id"] not in only:
                continue
            by_artist.setdefault(ar["id"], (ar, []))[1].append(al)
    out = []
    for aid, (ar, rels) in by_artist.items():
        rels.sort(key=lambda al: al["id"])
        rels.sort(key=lambda al: release_day(al["release_date"]), reverse=True)
        images = full.get(aid, {}).get("images") or []
        out.append({
            "id": aid, "name": ar["name"], "url": ar["external_urls"]["spotify"],
            "image": images[0]["url"] if images else None,
            "releases": [{"id": al["id"], "name": al["name"], "type": al["album_type"],
                          "release_date": al["release_date"],
                          "url": al["external_urls"]["spotify"],
                          "image": al["images"][0]["url"] if al["images"] else None}
                         for al in rels[:release_limit]],
            "_latest": release_day(rels[0]["release_date"]),
        })
    out.sort(key=lambda a: a["id"])
    out.sort(key=lambda a: a["_latest"], reverse=True)
    for a in out:
        del a["_latest"]
    return out


# ---- keeptrack side ----

def refresh(browser, timeout=120):
    r = browser.post("/api/releases/refresh")
    assert r.status == 202, r
    job = r.json()
    assert job["kind"] == "releases"
    assert r.location == f"/api/jobs/{job['id']}"

    def done():
        j = browser.get(f"/api/jobs/{job['id']}").json()
        assert j["state"] != "failed", j
        return j if j["state"] == "done" else None
    return ktlib.wait_until(done, timeout, interval=0.05, what="the releases job")


def get_all_artists(client, query=""):
    out, offset, total = [], 0, None
    while True:
        r = client.get(f"/api/artists/?limit=7&offset={offset}{query}")
        assert r.status == 200, r
        page = r.json()
        p = page["paging"]
        assert (p["limit"], p["offset"]) == (7, offset)
        total = p["total"] if total is None else total
        assert p["total"] == total
        if offset:
            assert p["previous"] == f"/api/artists/?limit=7&offset={max(0, offset - 7)}" \
                + link_suffix(query)
        else:
            assert p["previous"] is None
        out += page["artists"]
        offset += 7
        if offset >= total:
            assert p["next"] is None
            assert len(out) == total
            return out
        assert p["next"] == f"/api/artists/?limit=7&offset={offset}" + link_suffix(query)


def link_suffix(query):
    q = dict(urllib.parse.parse_qsl(query.lstrip("&")))
    s = f"&release_limit={q.get('release_limit', 5)}"
    if "since" in q:
        s += f"&since={q['since']}"
    if q.get("scope") == "me":
        s += "&scope=me"
    return s


def count(db, sql):
    return int(db.sql(sql)[0][0])


def client_credentials_requests(emu):
    return sum(1 for r in emu.stats()["requests"]
               if r["endpoint"] == "POST /api/token" and r.get("grant_type") == "client_credentials")


# ---- tests ----

def test_artists_equal_the_truth_and_rerun_adds_nothing(env, mode, db):
    emu, kt, alice = env
    albums = expected_albums(emu, mode)
    assert albums, "the emulator generates recent releases"
    emu.reset_stats()
    job = refresh(alice)
    assert job["message"] == "done"
    if mode == "development":
        assert emu.count("GET /v1/browse/new-releases") == 1  # the mode probe (403)
        ids, _ = wanted_artists(emu)
        assert emu.count("GET /v1/artists/{id}/albums") == len(ids)
    else:
        assert emu.count("GET /v1/artists/{id}/albums") == 0
        assert emu.count("GET /v1/browse/new-releases") >= 2  # the probe, then every page

    public = kt.client()  # no session: scope=global works without one
    want = expected_artists_view(emu, albums)
    assert get_all_artists(public) == want
    r = public.get("/api/artists/")
    assert r.json()["artists"] == want[:20]
    assert public.get("/api/artists").json() == r.json()  # without the slash too
    # release_limit and since
    assert get_all_artists(public, "&release_limit=1") == expected_artists_view(emu, albums, 1)
    since = window_start(7)
    recent = {k: v for k, v in albums.items() if release_day(v["release_date"]) >= since}
    assert get_all_artists(public, f"&since={since}&release_limit=50") == \
        expected_artists_view(emu, recent, 50)
    # scope=me: alice's followed artists only
    followed = {a["id"] for a in emu.truth("alice", ["followed_artists"])["followed_artists"]}
    assert get_all_artists(alice, "&scope=me") == \
        expected_artists_view(emu, albums, only=followed)

    # the album-centric view
    rels = []
    while True:
        page = public.get(f"/api/releases?limit=100&offset={len(rels)}").json()
        rels += page["releases"]
        if len(rels) >= page["paging"]["total"]:
            break
    order = sorted(albums.values(), key=lambda a: a["id"])
    order.sort(key=lambda a: release_day(a["release_date"]), reverse=True)
    assert [r["id"] for r in rels] == [a["id"] for a in order]
    source = "new_releases" if mode == "extended" else "artist_albums"
    for got, al in zip(rels, order):
        assert got["found_via"] == [source]
        assert got["total_tracks"] == al["total_tracks"]
        assert got["release_date_precision"] == al["release_date_precision"]
        assert [a["id"] for a in got["artists"]] == [a["id"] for a in al["artists"]]

    # a re-run adds nothing and keeps the ETag
    etag = public.get("/api/artists/").headers["ETag"]
    n_rel = count(kt.db, "SELECT COUNT(*) FROM releases")
    n_art = count(kt.db, "SELECT COUNT(*) FROM release_artists")
    n_src = count(kt.db, "SELECT COUNT(*) FROM release_sources")
    assert n_rel == len(albums)
    emu.reset_stats()
    refresh(alice)
    if mode == "development":  # every artist was checked moments ago
        assert emu.count("GET /v1/artists/{id}/albums") == 0
    assert count(kt.db, "SELECT COUNT(*) FROM releases") == n_rel
    assert count(kt.db, "SELECT COUNT(*) FROM release_artists") == n_art
    assert count(kt.db, "SELECT COUNT(*) FROM release_sources") == n_src
    assert public.get("/api/artists/").headers["ETag"] == etag
    assert get_all_artists(public) == want


def test_new_release_appears_and_old_ones_age_out(emu, mode, db, tmp_path):
    # recheck 0: every refresh walks every artist again (development mode)
    kt = start_kt(emu, db, tmp_path, KEEPTRACK_RELEASES_RECHECK_HOURS="0")
    try:
        alice = kt.login("alice")
        r = kt.cli("sync", "--user", "1", "following", "top", timeout=120)
        assert r.returncode == 0, r.stderr
        refresh(alice)
        artist = emu.truth("alice", ["followed_artists"])["followed_artists"][-1]
        today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
        new = emu.mutate("alice", op="new_release", artist=artist["id"], name="Brand New Thing",
                         album_type="album", release_date=today, tracks=7)
        etag = kt.client().get("/api/artists/").headers["ETag"]
        refresh(alice)
        r = kt.client().get("/api/artists/?limit=100&release_limit=50")
        assert r.headers["ETag"] != etag
        mine = [a for a in r.json()["artists"] if a["id"] == artist["id"]]
        assert len(mine) == 1
        assert mine[0]["releases"][0] == {
            "id": new["id"], "name": "Brand New Thing", "type": "album", "release_date": today,
            "url": new["external_urls"]["spotify"], "image": new["images"][0]["url"]}
        assert count(db, f"SELECT COUNT(*) FROM releases WHERE id = '{new['id']}'") == 1
    finally:
        assert kt.stop() == 0, kt.log()[-3000:]
    # a narrower window: everything older ages out at the next run
    kt = start_kt(emu, db, tmp_path, KEEPTRACK_RELEASES_WINDOW_DAYS="5",
                  KEEPTRACK_RELEASES_RECHECK_HOURS="0")
    try:
        alice = kt.login("alice")
        refresh(alice)
        since = window_start(5)
        kept = {row[0] for row in db.sql("SELECT id FROM releases")}
        assert kept == set(expected_albums(emu, mode, days=5, users=("alice",)))
        assert new["id"] in kept
        got = get_all_artists(kt.client(), "&release_limit=50")
        assert {rel["id"] for a in got for rel in a["releases"]} == kept
        assert all(release_day(rel["release_date"]) >= since for a in got for rel in a["releases"])
    finally:
        assert kt.stop() == 0, kt.log()[-3000:]


def test_reads_never_call_spotify_and_cache_headers(env, mode):
    emu, kt, alice = env
    refresh(alice)
    public = kt.client()
    emu.reset_stats()
    queries = ["", "?limit=3", "?release_limit=2", "?offset=5&limit=5"]
    for i in range(1000):
        if i % 10 == 9:
            r = alice.get("/api/artists/?scope=me")
        elif i % 10 == 8:
            r = public.get("/api/releases?limit=5")
        else:
            r = public.get("/api/artists/" + queries[i % 4])
        assert r.status == 200, r
    assert emu.stats()["total"] == 0

    r = public.get("/api/artists/")
    etag = r.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 10
    assert r.headers["Cache-Control"] == "public, max-age=30"
    r304 = public.get("/api/artists/", headers={"If-None-Match": etag})
    assert r304.status == 304 and r304.body == b""
    assert r304.headers["ETag"] == etag
    assert public.get("/api/artists/", headers={"If-None-Match": f'"x", W/{etag}'}).status == 304
    assert public.get("/api/artists/", headers={"If-None-Match": '"nope"'}).status == 200
    me = alice.get("/api/artists/?scope=me")
    assert me.headers["Cache-Control"] == "private, max-age=30"
    assert alice.get("/api/artists/?scope=me",
                     headers={"If-None-Match": me.headers["ETag"]}).status == 304


def test_app_token_requested_once_per_expiry(emu, db, tmp_path):
    # recheck 0: every refresh calls Spotify in development mode too
    kt, alice = start_env(emu, db, tmp_path, KEEPTRACK_RELEASES_RECHECK_HOURS="0")
    try:
        emu.reset_stats()
        refresh(alice)
        refresh(alice)
        assert client_credentials_requests(emu) == 1
        emu.control("POST", "clock", {"advance_s": 3700})  # past the token's hour
        refresh(alice)
        assert client_credentials_requests(emu) == 2
        refresh(alice)
        assert client_credentials_requests(emu) == 2
    finally:
        assert kt.stop() == 0, kt.log()[-3000:]


def test_without_client_secret_a_users_token_is_used(emu, mode, db, tmp_path):
    """No SPOTIFY_CLIENT_SECRET (a PKCE-only setup): the job uses the first
    active user's token instead of the app's."""
    kt = ktlib.Keeptrack(emu, db, tmp_path, env=KT_ENV).start()
    try:
        alice = kt.login("alice")
        r = kt.cli("sync", "--user", "1", "following", "top", timeout=120)
        assert r.returncode == 0, r.stderr
        albums = expected_albums(emu, mode, users=("alice",))
        emu.reset_stats()
        refresh(alice)
        assert client_credentials_requests(emu) == 0
        assert {row[0] for row in db.sql("SELECT id FROM releases")} == set(albums)
        users = {r.get("user") for r in emu.stats()["requests"] if r["endpoint"].startswith("GET")}
        assert users == {"alice"}
    finally:
        assert kt.stop() == 0, kt.log()[-3000:]


BAD = [("limit=0", "limit"), ("limit=101", "limit"), ("limit=x", "limit"), ("limit=", "limit"),
       ("offset=-1", "offset"), ("offset=1e3", "offset"), ("release_limit=0", "release_limit"),
       ("release_limit=51", "release_limit"), ("since=2026-13-01", "since"),
       ("since=yesterday", "since"), ("since=2026-1-01", "since"), ("scope=all", "scope")]


def test_bad_parameters_are_named(emu, db, tmp_path):
    kt = start_kt(emu, db, tmp_path)
    try:
        c = kt.client()
        for query, name in BAD:
            r = c.get(f"/api/artists/?{query}")
            assert r.status == 400, (query, r)
            err = r.json()["error"]
            assert err["code"] == f"bad_{name}", (query, err)
            assert err["message"].startswith(f"{name}:"), (query, err)
            if name != "release_limit":
                assert c.get(f"/api/releases?{query}").status == 400, query
        # scope=me needs a session; global does not
        assert c.get("/api/artists/?scope=me").status == 401
        r = c.get("/api/artists/?scope=global")
        assert r.status == 200
        assert r.json() == {"artists": [], "paging": {"limit": 20, "offset": 0, "total": 0,
                                                      "next": None, "previous": None}}
        assert c.post("/api/releases/refresh").status == 401
    finally:
        assert kt.stop() == 0, kt.log()[-3000:]
