"""Exact paging of the emulated Web API against the ground truth."""
import urllib.parse

import pytest


def walk(emu, token, url):
    """Follows `next` links; returns (pages, items)."""
    pages, items = [], []
    while url:
        r = emu.get(url, token)
        assert r.status == 200, r
        page = r.json()
        pages.append(page)
        items += page["items"]
        url = page["next"]
        assert len(pages) < 1000
    return pages, items


def check_offset_pages(emu, pages, path, limit, total, extra=""):
    for i, page in enumerate(pages):
        off = i * limit
        assert page["offset"] == off
        assert page["limit"] == limit
        assert page["total"] == total
        assert page["href"] == f"{emu.api_url}{path}?offset={off}&limit={limit}{extra}"
        nxt = f"{emu.api_url}{path}?offset={off + limit}&limit={limit}{extra}" if off + limit < total else None
        assert page["next"] == nxt
        prev = f"{emu.api_url}{path}?offset={max(off - limit, 0)}&limit={limit}{extra}" if off > 0 else None
        assert page["previous"] == prev
        assert len(page["items"]) == min(limit, total - off)


@pytest.mark.parametrize("limit", [1, 7, 50])
def test_liked_songs_pages_match_truth(emu, alice_token, limit):
    truth = emu.truth("alice", ["liked"])["liked"]
    assert len(truth) == 123
    pages, items = walk(emu, alice_token, f"{emu.api_url}/me/tracks?limit={limit}")
    check_offset_pages(emu, pages, "/me/tracks", limit, 123)
    assert items == truth
    added = [i["added_at"] for i in items]
    assert added == sorted(added, reverse=True), "liked songs are newest first"
    assert len({i["track"]["id"] for i in items}) == 123


def test_default_limit_and_offset_beyond_total(emu, alice_token):
    page = emu.get("/me/tracks", alice_token).json()
    assert page["limit"] == 20 and page["offset"] == 0 and len(page["items"]) == 20
    page = emu.get("/me/tracks?offset=500&limit=10", alice_token).json()
    assert page["items"] == [] and page["next"] is None and page["total"] == 123
    assert page["previous"] == f"{emu.api_url}/me/tracks?offset=490&limit=10"


def test_empty_library(emu):
    token = emu.login("carol")["access_token"]
    for path in ["/me/tracks", "/me/playlists", "/me/albums", "/me/shows", "/me/episodes"]:
        page = emu.get(path, token).json()
        assert (page["total"], page["items"], page["next"], page["previous"]) == (0, [], None, None), path
    fol = emu.get("/me/following?type=artist", token).json()["artists"]
    assert fol["total"] == 0 and fol["items"] == [] and fol["next"] is None
    rp = emu.get("/me/player/recently-played", token).json()
    assert rp["items"] == [] and rp["next"] is None


def test_playlists_and_items_match_truth(emu, alice_token):
    truth = emu.truth("alice", ["playlists"])["playlists"]
    assert len(truth) == 12
    pages, items = walk(emu, alice_token, f"{emu.api_url}/me/playlists?limit=5")
    check_offset_pages(emu, pages, "/me/playlists", 5, 12)
    assert [p["id"] for p in items] == [p["id"] for p in truth]
    for simple, t in zip(items, truth):
        assert simple["snapshot_id"] == t["snapshot_id"]
        assert simple["items"]["total"] == t["items_total"] == simple["tracks"]["total"]
        mine = t["owner"]["id"] == "alice" or t["collaborative"]
        if not mine:
            assert t["items"] is None
            continue
        path = f"/playlists/{t['id']}/items"
        ipages, pitems = walk(emu, alice_token, f"{emu.api_url}{path}?limit=50")
        check_offset_pages(emu, ipages, path, 50, t["items_total"])
        assert pitems == t["items"]
        for it in pitems:
            assert it["item"] == it["track"]


def test_playlists_have_local_null_and_episode_entries(emu):
    truth = emu.truth("alice", ["playlists"])["playlists"]
    entries = [it for p in truth if p["items"] for it in p["items"]]
    local = [it for it in entries if it["is_local"]]
    assert local and all(it["item"]["id"] is None and it["item"]["uri"].startswith("spotify:local:")
                         for it in local)
    assert any(it["item"] is None for it in entries), "null track entries"
    assert any(it["item"] and it["item"]["type"] == "episode" for it in entries)
    owners = {p["owner"]["id"] for p in truth}
    assert "alice" in owners and len(owners) > 1, "playlists owned by others"


def test_following_cursor_paging(emu, alice_token):
    truth = emu.truth("alice", ["followed_artists"])["followed_artists"]
    assert len(truth) == 45
    url = f"{emu.api_url}/me/following?type=artist&limit=20"
    got, after = [], None
    while url:
        page = emu.get(url, alice_token).json()["artists"]
        assert page["total"] == 45 and page["limit"] == 20
        got += page["items"]
        after = page["cursors"]["after"]
        if page["next"]:
            assert after == page["items"][-1]["id"]
            assert page["next"] == f"{emu.api_url}/me/following?type=artist&after={after}&limit=20"
        url = page["next"]
    assert after is None
    assert got == truth
    assert [a["id"] for a in got] == sorted(a["id"] for a in got)


def test_recently_played_cursors(emu, alice_token):
    truth = emu.truth("alice", ["recently_played"])["recently_played"]
    assert len(truth) == 80
    page = emu.get("/me/player/recently-played?limit=20", alice_token).json()
    got = page["items"]
    while page["next"]:
        assert "before=" in page["next"]
        page = emu.get(page["next"], alice_token).json()
        got += page["items"]
    assert got == truth[:50], "only the last 50 plays are reachable"
    # after: the plays newer than a cursor, the oldest ones first chosen, newest first in the page
    cursor = int(page["cursors"]["before"]) if page["cursors"] else None
    mid_ms = truth[10]["played_at"]
    r = emu.get(f"/me/player/recently-played?limit=5&after={_ms(mid_ms)}", alice_token).json()
    assert r["items"] == truth[5:10]
    assert r["cursors"]["after"] == str(_ms(truth[5]["played_at"]))
    assert cursor is not None


def _ms(iso):
    import datetime
    dt = datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    return int(round(dt.timestamp() * 1000))


@pytest.mark.parametrize("kind", ["tracks", "artists"])
@pytest.mark.parametrize("rng", ["short_term", "medium_term", "long_term"])
def test_top_items(emu, alice_token, kind, rng):
    truth = emu.truth("alice", ["top"])["top"][rng][kind]
    assert truth
    pages, items = walk(emu, alice_token, f"{emu.api_url}/me/top/{kind}?time_range={rng}&limit=10")
    check_offset_pages(emu, pages, f"/me/top/{kind}", 10, len(truth), f"&time_range={rng}")
    assert items == truth


@pytest.mark.parametrize("path,key,n", [("/me/albums", "albums", 7), ("/me/shows", "shows", 3),
                                        ("/me/episodes", "episodes", 5)])
def test_saved_collections(emu, alice_token, path, key, n):
    truth = emu.truth("alice", [key])[key]
    assert len(truth) == n
    pages, items = walk(emu, alice_token, f"{emu.api_url}{path}?limit=2")
    check_offset_pages(emu, pages, path, 2, n)
    assert items == truth


def test_artist_albums_paging_and_groups(emu, alice_token):
    artist = emu.truth("alice", ["followed_artists"])["followed_artists"][0]["id"]
    path = f"/artists/{artist}/albums"
    pages, items = walk(emu, alice_token, f"{emu.api_url}{path}?limit=2")
    check_offset_pages(emu, pages, path, 2, len(items))
    dates = [a["release_date"] for a in items]
    assert dates == sorted(dates, reverse=True)
    assert {a["album_group"] for a in items} <= {"album", "single", "compilation", "appears_on"}
    singles = emu.get(f"{path}?include_groups=single&limit=10", alice_token).json()
    assert all(a["album_group"] == "single" for a in singles["items"])
    assert singles["href"].endswith("&include_groups=single")
    assert emu.get(f"{path}?limit=11", alice_token).status == 400, "development mode: limit <= 10"


def test_followed_artists_have_recent_releases(emu, alice_token):
    followed = emu.truth("alice", ["followed_artists"])["followed_artists"]
    with_recent = 0
    for a in followed:
        first = emu.get(f"/artists/{a['id']}/albums?limit=1", alice_token).json()["items"]
        with_recent += bool(first) and first[0]["release_date"] >= "2026-11-07"
    assert with_recent >= 45 // 8, "some followed artists released something in the last two weeks"


def test_next_links_keep_the_query_exact(emu, alice_token):
    page = emu.get("/me/tracks?limit=3&offset=4", alice_token).json()
    q = urllib.parse.parse_qs(urllib.parse.urlparse(page["next"]).query)
    assert q == {"offset": ["7"], "limit": ["3"]}
