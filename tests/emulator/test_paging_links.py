"""Every paging link (href, next, previous) of every paged endpoint, in both
modes, checked against the request that made it: the same path (a client
that asked /users/{id}/playlists is not sent to /me/playlists), the same
query (every argument the request gave, plus offset and limit with their
defaults filled in), `next` one page on and `previous` one page back (cursor
endpoints: the cursor of the page's edge). Each walk follows `next` to the
end, so every page of it is checked against the link that fetched it. The
pages embedded in GET /playlists/{id} and GET /albums/{id} lead to their own
endpoints, at a limit the mode accepts.
"""
import urllib.parse

import pytest

from conftest import SPEC_ALICE, TODAY
from emulator import Emulator

MODES = ("development", "extended")


@pytest.fixture(scope="module", params=MODES)
def env(request):
    e = Emulator(["--seed", "7", "--today", TODAY, "--user", SPEC_ALICE, "--mode", request.param,
                  "--redirect-uri", "any-loopback"]).start()
    token = e.login("alice")["access_token"]
    yield e, token, request.param
    code = e.stop()
    assert code == 0, f"emulator exited with {code}: {e.stderr[-4000:]}"


def split(emu, url):
    """(path under the API, {arg: value}) of a link; each argument once."""
    u = urllib.parse.urlsplit(url)
    assert url.startswith(emu.api_url + "/"), url
    pairs = urllib.parse.parse_qsl(u.query, keep_blank_values=True, strict_parsing=True)
    args = dict(pairs)
    assert len(args) == len(pairs), f"an argument repeated in {url}"
    return u.path[len(urllib.parse.urlsplit(emu.api_url).path):], args


def link(emu, path, args):
    return f"{emu.api_url}{path}?{urllib.parse.urlencode(args)}"


def walk_offset(emu, token, path, query, default_limit=20, wrap=None, total=None):
    """Walks an offset-paged list from GET path?query; checks every page's
    links against the request that fetched it; returns the items."""
    url = link(emu, path, query) if query else f"{emu.api_url}{path}"
    items, pages = [], 0
    while url:
        r = emu.get(url, token)
        assert r.status == 200, (url, r)
        page = r.json()[wrap] if wrap else r.json()
        req_path, req = split(emu, url)
        assert req_path == path
        want = {"offset": "0", "limit": str(default_limit), **req}
        off, lim = int(want["offset"]), int(want["limit"])
        assert split(emu, page["href"]) == (path, want), (url, page["href"])
        assert (page["offset"], page["limit"]) == (off, lim)
        if total is not None:
            assert page["total"] == total
        if off + lim < page["total"]:
            assert split(emu, page["next"]) == (path, {**want, "offset": str(off + lim)})
        else:
            assert page["next"] is None, page["next"]
        if off > 0:
            assert split(emu, page["previous"]) == (path, {**want, "offset": str(max(off - lim, 0))})
        else:
            assert page["previous"] is None
        items += page["items"]
        url = page["next"]
        pages += 1
        assert pages < 500
    return items


@pytest.fixture(scope="module")
def lib(env):
    emu, token, mode = env
    truth = emu.truth("alice")
    own = [p for p in truth["playlists"] if p["owner"]["id"] == "alice"]
    other = next(p for p in truth["playlists"] if p["owner"]["id"] != "alice" and p["public"])
    return dict(truth=truth, own=max(own, key=lambda p: p["items_total"]),
                other_owner=other["owner"]["id"],
                artist=truth["followed_artists"][0]["id"],
                album=truth["liked"][0]["track"]["album"]["id"])


@pytest.mark.parametrize("path,query,n_key", [
    ("/me/tracks", {}, "liked"),
    ("/me/tracks", {"limit": "50"}, "liked"),
    ("/me/tracks", {"offset": "7", "limit": "13"}, "liked"),
    ("/me/albums", {"limit": "2"}, "albums"),
    ("/me/shows", {"limit": "2"}, "shows"),
    ("/me/episodes", {"offset": "1", "limit": "2"}, "episodes"),
    ("/me/playlists", {"limit": "5"}, "playlists"),
])
def test_library_lists(env, lib, path, query, n_key):
    emu, token, _ = env
    items = walk_offset(emu, token, path, query, total=len(lib["truth"][n_key]))
    assert len(items) == len(lib["truth"][n_key]) - int(query.get("offset", 0))


def test_own_playlists_under_users_keep_their_path(env, lib):
    emu, token, mode = env
    if mode == "development":
        assert emu.get("/users/alice/playlists?limit=5", token).status == 403
        return
    items = walk_offset(emu, token, "/users/alice/playlists", {"limit": "5"})
    assert [p["id"] for p in items] == [p["id"] for p in lib["truth"]["playlists"]]
    theirs = walk_offset(emu, token, f"/users/{lib['other_owner']}/playlists", {"limit": "1"})
    assert theirs and all(p["owner"]["id"] == lib["other_owner"] for p in theirs)


@pytest.mark.parametrize("ep", ["items", "tracks"])
def test_playlist_items(env, lib, ep):
    emu, token, mode = env
    pl = lib["own"]
    path = f"/playlists/{pl['id']}/{ep}"
    if mode == "development" and ep == "tracks":
        assert emu.get(path, token).status == 403
        return
    limits = ["7", "50"] + (["100"] if mode == "extended" else [])
    for limit in limits:
        items = walk_offset(emu, token, path, {"limit": limit}, total=pl["items_total"])
        assert items == pl["items"]


@pytest.mark.parametrize("kind", ["tracks", "artists"])
def test_top_items(env, lib, kind):
    emu, token, _ = env
    n = len(lib["truth"]["top"]["short_term"][kind])
    walk_offset(emu, token, f"/me/top/{kind}", {"time_range": "short_term", "limit": "10"}, total=n)
    # Without time_range the links carry none either (medium_term is the default).
    n = len(lib["truth"]["top"]["medium_term"][kind])
    walk_offset(emu, token, f"/me/top/{kind}", {"limit": "10"}, total=n)


def test_artist_albums(env, lib):
    emu, token, mode = env
    path = f"/artists/{lib['artist']}/albums"
    default = 20 if mode == "extended" else 10
    walk_offset(emu, token, path, {"limit": "2"}, default_limit=default)
    walk_offset(emu, token, path, {"include_groups": "album,single", "limit": "2"},
                default_limit=default)
    walk_offset(emu, token, path, {}, default_limit=default)


def test_new_releases(env):
    emu, token, mode = env
    if mode == "development":
        assert emu.get("/browse/new-releases?limit=3", token).status == 403
        return
    walk_offset(emu, token, "/browse/new-releases", {"limit": "3"}, wrap="albums")


def test_album_tracks_embedded_and_paged(env, lib):
    """An album of 60 tracks: GET /albums/{id} embeds 50 and its `next`
    leads to GET /albums/{id}/tracks, which pages the rest."""
    emu, token, _ = env
    album = emu.mutate("alice", "new_release", artist=lib["artist"], name="Long one",
                       album_type="album", tracks=60)
    full = emu.get(f"/albums/{album['id']}", token).json()["tracks"]
    path = f"/albums/{album['id']}/tracks"
    assert split(emu, full["href"]) == (path, {"offset": "0", "limit": "50"})
    assert split(emu, full["next"]) == (path, {"offset": "50", "limit": "50"})
    rest = walk_offset(emu, token, path, {"offset": "50", "limit": "50"}, total=60)
    assert [t["id"] for t in full["items"] + rest] == \
        [t["id"] for t in walk_offset(emu, token, path, {"limit": "7"}, total=60)]
    assert len(rest) == 10


def test_playlist_embedded_items_lead_to_a_request_the_mode_accepts(env, lib):
    """GET /playlists/{id} embeds the first 100 items; following `next`
    (as a stock client does) must get the rest, not a 400 for limit=100 in
    development mode."""
    emu, token, mode = env
    pl = lib["own"]
    assert pl["items_total"] > 100, "the module's library has a playlist of more than 100 items"
    full = emu.get(f"/playlists/{pl['id']}", token).json()
    path = f"/playlists/{pl['id']}/items"
    step = "100" if mode == "extended" else "50"
    for key in ("items", "tracks"):
        emb = full[key]
        assert split(emu, emb["href"]) == (path, {"offset": "0", "limit": "100"})
        assert split(emu, emb["next"]) == (path, {"offset": "100", "limit": step})
        assert emb["previous"] is None
        _, q = split(emu, emb["next"])
        rest = walk_offset(emu, token, path, q, total=pl["items_total"])
        assert emb["items"] + rest == pl["items"]


def test_following_cursor_links(env, lib):
    emu, token, _ = env
    truth = lib["truth"]["followed_artists"]
    url, got = f"{emu.api_url}/me/following?type=artist&limit=20", []
    while url:
        page = emu.get(url, token).json()["artists"]
        path, req = split(emu, url)
        assert path == "/me/following"
        assert split(emu, page["href"]) == (path, req)
        got += page["items"]
        if page["next"]:
            assert split(emu, page["next"]) == \
                (path, {**req, "after": page["items"][-1]["id"]})
        url = page["next"]
    assert got == truth
    # No limit asked: the links carry the default.
    page = emu.get("/me/following?type=artist", token).json()["artists"]
    assert split(emu, page["href"]) == ("/me/following", {"type": "artist", "limit": "20"})


def test_recently_played_cursor_links(env):
    emu, token, _ = env
    url, seen = f"{emu.api_url}/me/player/recently-played?limit=20", 0
    while url:
        page = emu.get(url, token).json()
        path, req = split(emu, url)
        assert path == "/me/player/recently-played"
        assert split(emu, page["href"]) == (path, req)
        seen += len(page["items"])
        if page["next"]:
            nxt = {k: v for k, v in req.items() if k not in ("before", "after")}
            assert split(emu, page["next"]) == \
                (path, {**nxt, "before": page["cursors"]["before"]})
        url = page["next"]
    assert seen == 50
    newest = emu.get("/me/player/recently-played?limit=50", token).json()["items"]
    page = emu.get(f"/me/player/recently-played?limit=5&after=0", token).json()
    assert split(emu, page["href"]) == ("/me/player/recently-played", {"after": "0", "limit": "5"})
    assert split(emu, page["next"]) == \
        ("/me/player/recently-played", {"after": page["cursors"]["after"], "limit": "5"})
    assert page["items"] == newest[-5:]
