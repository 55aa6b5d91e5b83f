"""The keeptrack command line: help, configuration errors at start, migrate,
config dump (issue 4, "Binary, configuration, store")."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

from keeptrack import Keeptrack  # noqa: E402

COMMANDS = ["serve", "demo", "sync", "shuffle", "trending-playlist", "tops-playlist",
            "import-history", "export", "restore", "migrate", "users", "keys", "config", "backup",
            "restore-backup"]


def run(*args, env=None):
    e = {k: v for k, v in os.environ.items()
         if not (k.startswith("KEEPTRACK_") or k.startswith("SPOTIFY_"))}
    e.update(env or {})
    return subprocess.run([os.environ["KEEPTRACK_BIN"], *args], env=e, capture_output=True,
                          text=True, timeout=60)


def test_help_lists_every_subcommand():
    r = run("--help")
    assert r.returncode == 0
    listed = [line.split()[0] for line in r.stdout.splitlines()
              if line.startswith("  ") and line.strip()]
    assert listed == COMMANDS
    for cmd in COMMANDS:
        h = run(cmd, "--help")
        assert h.returncode == 0, cmd
        assert h.stdout.startswith(f"usage: keeptrack {cmd}"), cmd
        assert "--spotify-client-id" in h.stdout and "SPOTIFY_CLIENT_ID" in h.stdout
    bad = run("frobnicate")
    assert bad.returncode == 2 and "unknown command 'frobnicate'" in bad.stderr


def test_invalid_configuration_fails_at_start(tmp_path):
    base = {"KEEPTRACK_DATA_DIR": str(tmp_path), "SPOTIFY_CLIENT_ID": "x"}
    cases = [
        ({"SPOTIFY_CLIENT_ID": ""}, "SPOTIFY_CLIENT_ID"),
        ({"SPOTIFY_REDIRECT_URI": "http://localhost:8080/api/auth/callback"},
         "SPOTIFY_REDIRECT_URI"),
        ({"KEEPTRACK_HTTP_THREADS": "-1"}, "KEEPTRACK_HTTP_THREADS"),
        ({"KEEPTRACK_HTTP_THREADS": "many"}, "KEEPTRACK_HTTP_THREADS"),
        ({"KEEPTRACK_SECRET_KEY": "too-short"}, "KEEPTRACK_SECRET_KEY"),
        ({"KEEPTRACK_LOG_LEVEL": "loud"}, "KEEPTRACK_LOG_LEVEL"),
        ({"SPOTIFY_API_URL": "not a url"}, "SPOTIFY_API_URL"),
    ]
    for extra, option in cases:
        env = dict(base)
        env.update(extra)
        r = run("serve", env=env)
        assert r.returncode == 2, (extra, r.stderr)
        assert option in r.stderr, (extra, r.stderr)
        assert r.stderr.startswith("keeptrack: invalid configuration:")
    # flags too
    r = run("serve", "--http-threads", "257", env=base)
    assert r.returncode == 2 and "--http-threads" in r.stderr
    r = run("serve", "--no-such-flag", env=base)
    assert r.returncode == 2 and "--no-such-flag" in r.stderr


def test_migrate_and_config(emu, db, tmp_path):
    k = Keeptrack(emu, db, tmp_path)
    r = k.cli("migrate")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("schema version 0 -> ")
    latest = r.stdout.split("(latest ")[1].rstrip(")\n")
    assert r.stdout.strip() == f"schema version 0 -> {latest} (latest {latest})"
    r = k.cli("migrate")
    assert r.stdout.strip() == f"schema version {latest} -> {latest} (latest {latest})"
    secret = "s3cr3t-admin-token-0123456789abcdef"
    r = k.cli("config", env={"KEEPTRACK_ADMIN_TOKEN": secret,
                             "SPOTIFY_CLIENT_SECRET": "client-secret-value"})
    assert r.returncode == 0, r.stderr
    assert secret not in r.stdout and "client-secret-value" not in r.stdout
    assert "SPOTIFY_CLIENT_ID" in r.stdout and "keeptrack-test-client" in r.stdout


def test_serve_stops_gracefully(kt):
    browser = kt.login("alice")
    assert browser.get("/api/me").status == 200
    assert kt.stop() == 0
