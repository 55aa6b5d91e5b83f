"""`keeptrack demo` (what `make run` starts): emulator + keeptrack on SQLite,
prints one banner (the URL once, no log lines: those go to a file), a
browser can log in, Ctrl-C stops both. The demo always
uses SQLite (by design), so this test has no PostgreSQL variant."""
import os
import re
import select
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

from keeptrack import Http, free_port  # noqa: E402


def read_until(proc, pattern, timeout=30):
    """Reads the demo's stdout until pattern appears; returns all of it."""
    deadline = time.monotonic() + timeout
    out = b""
    while time.monotonic() < deadline:
        if re.search(pattern, out):
            return out
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            out += chunk
    raise AssertionError(f"demo did not print {pattern!r}: {out!r}")


def test_demo_prints_url_and_logs_in(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("KEEPTRACK_") or k.startswith("SPOTIFY_"))}
    env.update({"KEEPTRACK_EMULATOR": os.environ["EMULATOR_BIN"],
                "KEEPTRACK_DATA_DIR": str(tmp_path),
                "KEEPTRACK_LISTEN": f"127.0.0.1:{port}"})
    proc = subprocess.Popen([os.environ["KEEPTRACK_BIN"], "demo"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out = read_until(proc, rb"Press Ctrl-C to stop")
        m = re.search(rb"Open (http://127\.0\.0\.1:(\d+))/ in your browser", out)
        url = m.group(1).decode()
        assert int(m.group(2)) == port
        # What the terminal shows: the banner alone, the URL once.
        assert b"level=" not in out, out
        assert out.count(url.encode()) == 1, out
        emu = re.search(rb"spotify-emulator at (http://127\.0\.0\.1:\d+)", out).group(1)
        browser = Http(url, json_default=False)
        r = browser.get("/api/auth/login")
        assert r.status == 302 and r.location.startswith(emu.decode() + "/authorize?")
        cb = Http(emu.decode()).get(r.location)
        assert cb.status == 302
        r = browser.get(cb.location)
        assert r.status == 302 and r.location == "/"
        me = browser.get("/api/me", accept_json=True).json()
        assert me["spotify_id"] == "demo" and me["status"] == "active"
        assert os.path.exists(tmp_path / "demo" / "keeptrack.db")
        log = (tmp_path / "demo" / "keeptrack.log").read_text()
        assert "event=serve_started" in log and "route=/api/me" in log
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=20)
    assert rc == 0
    # the emulator went away with the demo
    r = subprocess.run(["pgrep", "-f", f"redirect-uri http://127.0.0.1:{port}/"],
                       capture_output=True)
    assert r.returncode == 1, r.stdout
