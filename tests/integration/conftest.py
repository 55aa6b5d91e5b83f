"""Fixtures for keeptrack's integration tests.

Every test runs on both back-ends (`backend` is parametrized: sqlite and
postgres; the PostgreSQL cases skip when KEEPTRACK_TEST_PG is unset and fail
when it is set but unusable). Each test gets its own spotify-emulator (users
alice and bob, any loopback redirect URI accepted) and its own keeptrack
(`kt`), with a fresh database.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

import keeptrack as ktlib  # noqa: E402
from emulator import Emulator  # noqa: E402


@pytest.fixture
def emu():
    e = Emulator(["--redirect-uri", "any-loopback",
                  "--user", "alice:liked=5,playlists=1,playlist_items=3",
                  "--user", "bob:liked=3,playlists=1,playlist_items=2"])
    e.start()
    yield e
    e.stop()


@pytest.fixture(params=ktlib.backend_params())
def db(request, tmp_path):
    d = ktlib.Database(request.param, tmp_path)
    yield d
    d.close()


@pytest.fixture
def kt(emu, db, tmp_path):
    k = ktlib.Keeptrack(emu, db, tmp_path).start()
    yield k
    rc = k.stop()
    # A clean exit on SIGTERM: the server stops gracefully.
    assert rc == 0, k.log()
