"""Same seed and specs -> byte-identical ground truth; another seed differs."""
from emulator import Emulator, http

ARGS = ["--today", "2026-11-20", "--user", "a:liked=40,playlists=3,playlist_items=0-30,plays=10",
        "--user", "b:liked=7"]


def truth_bytes(extra):
    with Emulator(ARGS + extra) as e:
        # keep hrefs comparable: replace the port
        out = {}
        for u in ("a", "b"):
            body = http("GET", f"{e.base_url}/__emulator/users/{u}/truth").body
            out[u] = body.replace(e.base_url.encode(), b"BASE")
        return out


def test_same_seed_identical_truth():
    one, two = truth_bytes(["--seed", "42"]), truth_bytes(["--seed", "42"])
    assert one == two
    assert len(one["a"]) > 10000


def test_other_seed_differs_and_users_independent():
    one, other = truth_bytes(["--seed", "42"]), truth_bytes(["--seed", "43"])
    assert one["a"] != other["a"]
    with Emulator(["--today", "2026-11-20", "--seed", "42", "--user", "b:liked=7"]) as e:
        alone = http("GET", f"{e.base_url}/__emulator/users/b/truth").body.replace(e.base_url.encode(), b"BASE")
    assert alone == one["b"], "a user's library does not depend on the users created before it"
