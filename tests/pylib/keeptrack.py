"""keeptrack.py - drive a real `keeptrack serve` from Python tests.

- `Http`: a small requests-like client on urllib with its own cookie jar
  (one per simulated browser), which never follows redirects by itself so
  tests can look at every hop.
- `Keeptrack`: starts `keeptrack serve` (binary from env KEEPTRACK_BIN)
  against a running spotify-emulator, on SQLite in a temporary folder or on
  PostgreSQL in a fresh schema of KEEPTRACK_TEST_PG; reads the port from
  its first stdout line; runs CLI subcommands with the same configuration;
  dumps the database for secret scans; stops the process.
- `Keeptrack.login(user)`: the full OAuth click-through over HTTP
  (keeptrack /api/auth/login -> emulator /authorize -> keeptrack callback).
- `backend_params()` / `make_keeptrack` for parametrized pytest fixtures
  (every integration test runs on SQLite and on PostgreSQL).

Standard library only (Debian's python3 + pytest).
"""
import http.cookiejar
import json as jsonlib
import os
import re
import select
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

TEST_CLIENT_ID = "keeptrack-test-client"
TEST_CLIENT_SECRET = "keeptrack-test-secret"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=10.0, interval=0.02, what="condition"):
    """Polls predicate() until it returns a truthy value, with a deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(interval)


class Response:
    def __init__(self, status, headers, body, url):
        self.status = status
        self.headers = headers  # email.message.Message: case-insensitive, get_all()
        self.body = body
        self.url = url

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return jsonlib.loads(self.body)

    @property
    def location(self):
        return self.headers.get("Location")

    def set_cookies(self):
        return self.headers.get_all("Set-Cookie") or []

    def __repr__(self):
        return f"<Response {self.status} {self.url} {self.text[:200]!r}>"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class Http:
    """One simulated browser or API client: a cookie jar and a base URL."""

    def __init__(self, base_url, json_default=True):
        self.base_url = base_url.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        self.json_default = json_default
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def request(self, method, path, json=None, data=None, headers=None, accept_json=None,
                timeout=30):
        url = path if path.startswith("http") else self.base_url + path
        hdrs = dict(headers or {})
        if accept_json if accept_json is not None else self.json_default:
            hdrs.setdefault("Accept", "application/json")
        body = data
        if json is not None:
            body = jsonlib.dumps(json).encode()
            hdrs.setdefault("Content-Type", "application/json")
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = b""
        req = urllib.request.Request(url, data=body, method=method, headers=hdrs)
        try:
            with self.opener.open(req, timeout=timeout) as r:
                return Response(r.status, r.headers, r.read(), url)
        except urllib.error.HTTPError as e:
            return Response(e.code, e.headers, e.read(), url)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def cookie(self, name):
        for c in self.jar:
            if c.name == name:
                return c.value
        return None

    def set_cookie(self, name, value, domain="127.0.0.1"):
        self.jar.set_cookie(http.cookiejar.Cookie(
            0, name, value, None, False, domain, False, False, "/", True, False, None, False,
            None, None, {}))

    def clear_cookie(self, name):
        for c in list(self.jar):
            if c.name == name:
                self.jar.clear(c.domain, c.path, c.name)


def pg_base_url():
    return os.environ.get("KEEPTRACK_TEST_PG") or None


def backend_params():
    """The back-ends every integration test runs on."""
    return ["sqlite", "postgres"]


def psql(url, sql):
    """Runs SQL through psql (no Python driver needed); returns stdout."""
    out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url,
                          "-c", sql], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"psql failed: {out.stderr.strip()}")
    return out.stdout


class Database:
    """Where a keeptrack instance keeps its data: a SQLite file or a fresh
    PostgreSQL schema (created here, dropped by close())."""

    def __init__(self, backend, tmpdir):
        self.backend = backend
        self.tmpdir = str(tmpdir)
        if backend == "sqlite":
            self.path = os.path.join(self.tmpdir, "keeptrack.db")
            self.url = self.path
        else:
            base = pg_base_url()
            if not base:
                import pytest
                pytest.skip("KEEPTRACK_TEST_PG is not set: skipping the PostgreSQL case")
            self.base = base
            self.schema = "kt_it_" + uuid.uuid4().hex[:12]
            try:
                psql(base, f"CREATE SCHEMA {self.schema}")
            except Exception as e:  # set but unusable: fail, do not skip
                raise RuntimeError(f"KEEPTRACK_TEST_PG is set but unusable: {e}")
            sep = "&" if "?" in base else "?"
            self.url = f"{base}{sep}options=-csearch_path%3D{self.schema}"

    def sql(self, statement):
        """Runs one statement (test hooks such as expiring a state)."""
        if self.backend == "sqlite":
            import sqlite3
            con = sqlite3.connect(self.path, timeout=10)
            try:
                rows = con.execute(statement).fetchall()
                con.commit()
                return rows
            finally:
                con.close()
        out = psql(self.url, statement)
        return [tuple(line.split("|")) for line in out.splitlines() if line]

    def dump(self):
        """Every byte the database holds, for secret scans: the SQLite file
        and its WAL; for PostgreSQL, every table of the schema as text
        (bytea shows as hex: scan for hex forms too)."""
        if self.backend == "sqlite":
            data = b""
            for suffix in ("", "-wal", "-journal"):
                p = self.path + suffix
                if os.path.exists(p):
                    with open(p, "rb") as f:
                        data += f.read()
            return data
        out = subprocess.run(["pg_dump", "--data-only", "--schema", self.schema, "-d", self.base],
                             capture_output=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(f"pg_dump failed: {out.stderr.decode()}")
        return out.stdout

    def close(self):
        if self.backend == "postgres":
            try:
                psql(self.base, f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
            except Exception:
                pass


class Keeptrack:
    """A running `keeptrack serve` wired to an emulator."""

    def __init__(self, emulator, db, tmpdir, env=None, client_secret=None):
        self.bin = os.environ["KEEPTRACK_BIN"]
        self.emulator = emulator
        self.db = db
        self.tmpdir = str(tmpdir)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ)
        for k in list(self.env):
            if k.startswith("KEEPTRACK_") or k.startswith("SPOTIFY_"):
                if k not in ("KEEPTRACK_BIN", "KEEPTRACK_TEST_PG"):
                    del self.env[k]
        self.env.update({
            "SPOTIFY_CLIENT_ID": TEST_CLIENT_ID,
            "SPOTIFY_ACCOUNTS_URL": emulator.base_url,
            "SPOTIFY_API_URL": emulator.api_url,
            "SPOTIFY_REDIRECT_URI": f"{self.base_url}/api/auth/callback",
            "KEEPTRACK_LISTEN": f"127.0.0.1:{self.port}",
            "KEEPTRACK_PUBLIC_URL": self.base_url,
            "KEEPTRACK_DB": db.url,
            "KEEPTRACK_DATA_DIR": os.path.join(self.tmpdir, "data"),
            "KEEPTRACK_SECRET_KEY_FILE": os.path.join(self.tmpdir, "secret.key"),
            "KEEPTRACK_HTTP_THREADS": "8",
            # no scheduled syncs unless a test asks (they would spend
            # emulator requests other tests count)
            "KEEPTRACK_SCHEDULER": "off",
        })
        if client_secret:
            self.env["SPOTIFY_CLIENT_SECRET"] = client_secret
        self.env.update(env or {})
        self.proc = None
        self.returncode = None
        self.log_path = os.path.join(self.tmpdir, f"keeptrack-{self.port}.log")

    # ---- process ----
    def start(self, timeout=20):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.bin, "serve"], env=self.env, stdout=subprocess.PIPE,
                                     stderr=self._log)
        line = self._read_line(timeout)
        m = re.match(r"keeptrack listening on (http://\S+)", line)
        if not m:
            self.stop()
            raise RuntimeError(f"keeptrack did not start: {line!r}; log: {self.log()}")
        wait_until(lambda: self.client().get("/healthz").status == 200, timeout,
                   what="keeptrack /healthz")
        return self

    def _read_line(self, timeout):
        deadline = time.monotonic() + timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
        return buf.decode("utf-8", "replace").split("\n", 1)[0]

    def stop(self):
        """SIGTERM and wait; returns the exit status (also when already stopped)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.proc.stdout.close()
            self._log.close()
            self.returncode = self.proc.returncode
        self.proc = None
        return self.returncode

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def cli(self, *args, env=None, timeout=60):
        e = dict(self.env)
        e.update(env or {})
        return subprocess.run([self.bin, *args], env=e, capture_output=True, text=True,
                              timeout=timeout)

    # ---- HTTP ----
    def client(self, json_default=True):
        return Http(self.base_url, json_default=json_default)

    def start_login(self, browser):
        """GET /api/auth/login as a browser: returns the /authorize URL."""
        r = browser.get("/api/auth/login", accept_json=False)
        assert r.status == 302, r
        return r.location

    def authorize(self, authorize_url, user=None):
        """What the user's browser does at the emulator: returns the
        callback URL the emulator redirects to."""
        url = authorize_url
        if user:
            url += "&" + urllib.parse.urlencode({"emulator_user": user})
        r = Http(self.emulator.base_url).get(url, accept_json=False)
        assert r.status in (302, 303), r
        return r.location

    def finish_login(self, browser, callback_url):
        return browser.get(callback_url, accept_json=False)

    def login(self, user=None, browser=None):
        """Full click-through; returns the logged-in browser (Http)."""
        browser = browser or self.client()
        cb = self.authorize(self.start_login(browser), user)
        r = self.finish_login(browser, cb)
        assert r.status == 302, r
        assert r.location == "/", r
        return browser

    @property
    def session_cookie(self):
        return "kt_session"

    @property
    def binding_cookie(self):
        return "kt_login"


def query_of(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
