"""emulator.py - start and drive a spotify-emulator child process from tests.

    from emulator import Emulator, emulator_factory

    with Emulator(["--user", "alice:liked=10"]) as emu:
        emu.api_url                     # http://127.0.0.1:PORT/v1
        emu.truth("alice")["liked"]
        emu.mutate("alice", op="like", uri="spotify:track:...")
        emu.set_faults(fail_rate=1, only="GET /v1/me/tracks", count=2)
        emu.stats()["endpoints"]["GET /v1/me/tracks"]["count"]
        tokens = emu.login("alice", scope="user-library-read")   # OAuth code flow

The binary comes from env EMULATOR_BIN. The emulator listens on a free port
(--listen 127.0.0.1:0) and announces it on its first stdout line; start()
reads it and then polls /__emulator/health with a deadline. stop() sends
SIGTERM and waits. `emulator_factory` is a pytest fixture factory: in a
conftest or test module, `emu_factory = emulator_factory()` gives a fixture
`emu_factory(args)` that starts emulators and stops them all at teardown.

Standard library only (Debian's python3 + pytest).
"""
import base64
import hashlib
import json as jsonlib
import os
import secrets
import select
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

CLIENT_ID = "keeptrack-test-client"
CLIENT_SECRET = "keeptrack-test-secret"
DEFAULT_REDIRECT = "http://127.0.0.1:8080/api/auth/callback"
ANNOUNCE = "spotify-emulator listening on "


class HttpResult:
    """status, headers (case-insensitive), raw body; .json() parses it."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return jsonlib.loads(self.body)

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return f"<HttpResult {self.status} {self.body[:200]!r}>"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def http(method, url, body=None, headers=None, timeout=30):
    """One request; never raises on HTTP status, never follows redirects.
    body: bytes, str, dict/list (sent as JSON) or None."""
    headers = dict(headers or {})
    data = None
    if isinstance(body, (dict, list)):
        data = jsonlib.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        data = body.encode()
    elif body is not None:
        data = body
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with _opener.open(req, timeout=timeout) as r:
            return HttpResult(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return HttpResult(e.code, e.headers, e.read())


def pkce_pair():
    """(verifier, S256 challenge)"""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class Emulator:
    def __init__(self, args=(), binary=None, start_timeout=20.0):
        self.binary = binary or os.environ.get("EMULATOR_BIN")
        if not self.binary:
            raise RuntimeError("EMULATOR_BIN is not set (path of build*/emulator/spotify-emulator)")
        self.args = list(args)
        self.start_timeout = start_timeout
        self.proc = None
        self.stderr = ""
        self.base_url = None
        self.api_url = None

    # -- process ------------------------------------------------------------
    def start(self):
        cmd = [self.binary]
        if not any(a == "--listen" or a.startswith("--listen=") for a in self.args):
            cmd += ["--listen", "127.0.0.1:0"]
        cmd += self.args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + self.start_timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                err = self._drain_stderr()
                self.stop()
                raise RuntimeError(f"emulator did not announce its port (got {line!r}); stderr: {err}")
            ready, _, _ = select.select([self.proc.stdout], [], [], min(left, 0.5))
            if ready:
                ch = os.read(self.proc.stdout.fileno(), 1)
                if not ch:
                    continue
                line += ch
        text = line.decode().strip()
        if not text.startswith(ANNOUNCE):
            self.stop()
            raise RuntimeError(f"unexpected first line from emulator: {text!r}")
        self.base_url = text[len(ANNOUNCE):]
        self.api_url = self.base_url + "/v1"
        while True:
            try:
                if self.control("GET", "health").get("ok"):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("emulator health check timed out")
            time.sleep(0.02)
        return self

    def _drain_stderr(self):
        if not self.proc.stderr:
            return ""
        chunks = []
        try:
            while select.select([self.proc.stderr], [], [], 0.2)[0]:
                chunk = os.read(self.proc.stderr.fileno(), 65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except (OSError, ValueError):
            pass
        return b"".join(chunks).decode("utf-8", "replace")

    def stop(self, timeout=10.0):
        """SIGTERM, then wait (SIGKILL after timeout). Returns the exit code
        (non-zero also when a sanitizer reported an error); self.stderr keeps
        what the emulator wrote to stderr."""
        if not self.proc:
            return None
        if self.proc.stdout is None:
            return self.proc.returncode  # already stopped
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr = self._drain_stderr()
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                f.close()
        self.proc.stdout = self.proc.stderr = None
        return self.proc.returncode

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        code = self.stop()
        if exc_type is None and code != 0:
            raise AssertionError(f"emulator exited with {code}: {self.stderr[-4000:]}")

    # -- control API ----------------------------------------------------------
    def control(self, method, path, json=None):
        """Calls /__emulator/<path>; returns the parsed JSON; raises on >= 400."""
        r = http(method, f"{self.base_url}/__emulator/{path.lstrip('/')}", json)
        if r.status >= 400:
            raise RuntimeError(f"control {method} {path} -> {r.status}: {r.text}")
        return r.json()

    def stats(self, since_ms=None):
        return self.control("GET", "stats" + (f"?since={since_ms}" if since_ms is not None else ""))

    def reset_stats(self):
        return self.control("POST", "stats/reset")

    def count(self, endpoint):
        """Requests counted for an endpoint template such as 'GET /v1/me/tracks'."""
        return self.stats()["endpoints"].get(endpoint, {}).get("count", 0)

    def truth(self, user, sections=None):
        q = "?sections=" + ",".join(sections) if sections else ""
        return self.control("GET", f"users/{user}/truth{q}")

    def mutate(self, user, op=None, **fields):
        body = dict(fields)
        if op is not None:
            body["op"] = op
        return self.control("POST", f"users/{user}/mutate", body)

    def set_faults(self, **faults):
        return self.control("POST", "faults", faults)

    def clear_faults(self, release=False):
        """Clears every fault; release=True also ends every wait a fault
        imposes now (a hung request is closed, a delayed one answered)."""
        return self.control("POST", "faults", {"reset": True, "release": release})

    def add_user(self, user_id, **spec):
        return self.control("POST", "users", dict(spec, id=user_id))

    def consent(self, user, deny=False):
        return self.control("POST", "consent", {"user": user, "deny": deny})

    def tokens(self):
        return self.control("GET", "tokens")

    # -- Spotify-side helpers ---------------------------------------------------
    def get(self, path_or_url, token=None, **kw):
        url = path_or_url if path_or_url.startswith("http") else self.api_url + path_or_url
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return http("GET", url, headers=headers, **kw)

    def api(self, method, path, token=None, body=None, **kw):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return http(method, self.api_url + path, body, headers=headers, **kw)

    def authorize(self, user=None, redirect_uri=DEFAULT_REDIRECT, scope="", state="st",
                  challenge=None, client_id=CLIENT_ID, extra=None):
        """GET /authorize; returns the HttpResult (302 with Location, or 400)."""
        q = {"client_id": client_id, "response_type": "code", "redirect_uri": redirect_uri,
             "scope": scope, "state": state}
        if challenge:
            q.update(code_challenge_method="S256", code_challenge=challenge)
        if user:
            q["emulator_user"] = user
        q.update(extra or {})
        return http("GET", f"{self.base_url}/authorize?{urllib.parse.urlencode(q)}")

    def token(self, form, basic=(CLIENT_ID, CLIENT_SECRET)):
        """POST /api/token with a form; basic=None sends no Authorization header."""
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if basic:
            cred = base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {cred}"
        return http("POST", f"{self.base_url}/api/token", urllib.parse.urlencode(form), headers=headers)

    def login(self, user, scope="", pkce=False, redirect_uri=DEFAULT_REDIRECT):
        """Full authorization-code flow as `user`; returns the token JSON."""
        verifier, challenge = pkce_pair() if pkce else (None, None)
        r = self.authorize(user, redirect_uri=redirect_uri, scope=scope, challenge=challenge)
        assert r.status == 302, r
        q = urllib.parse.parse_qs(urllib.parse.urlparse(r.headers["Location"]).query)
        form = {"grant_type": "authorization_code", "code": q["code"][0], "redirect_uri": redirect_uri}
        if pkce:
            form.update(client_id=CLIENT_ID, code_verifier=verifier)
            t = self.token(form, basic=None)
        else:
            t = self.token(form)
        assert t.status == 200, t
        return t.json()


def emulator_factory():
    """Returns a pytest fixture: `def test_x(emu_factory): emu = emu_factory([...])`.
    Every emulator it started is stopped at teardown."""
    import pytest

    @pytest.fixture
    def factory():
        started = []

        def make(args=(), **kw):
            emu = Emulator(args, **kw).start()
            started.append(emu)
            return emu

        yield make
        for emu in started:
            code = emu.stop()
            assert code == 0, f"emulator exited with {code}: {getattr(emu, 'stderr', '')[-4000:]}"

    return factory
