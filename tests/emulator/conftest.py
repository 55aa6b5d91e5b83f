"""Shared fixtures of the spotify-emulator functional tests (EMULATOR_BIN)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))

from emulator import Emulator, emulator_factory  # noqa: E402

TODAY = "2026-11-20"

emu_factory = emulator_factory()

SPEC_ALICE = ("alice:liked=123,playlists=7,playlist_items=0-120,followed_playlists=5,"
              "albums=7,shows=3,episodes=5,followed=45,plays=80")


@pytest.fixture(scope="module")
def emu():
    """alice (medium library), bob (small), carol (empty), development mode."""
    e = Emulator(["--seed", "7", "--today", TODAY, "--user", SPEC_ALICE,
                  "--user", "bob:liked=5,playlists=2,playlist_items=3,followed_playlists=1,followed=2,plays=3",
                  "--user", "carol:liked=0,playlists=0,followed_playlists=0,albums=0,shows=0,episodes=0,"
                            "followed=0,plays=0",
                  "--redirect-uri", "http://127.0.0.1:8080/api/auth/callback",
                  "--redirect-uri", "any-loopback"]).start()
    yield e
    code = e.stop()
    assert code == 0, f"emulator exited with {code} on SIGTERM: {e.stderr[-4000:]}"


@pytest.fixture(scope="module")
def alice_token(emu):
    return emu.login("alice")["access_token"]
