"""Several `keeptrack serve` processes on one PostgreSQL (issue 11).

- 3 instances + emulator: 100 users, each logged in through two instances
  (login started on one, finished on another), 100 syncs enqueued across
  the three; one instance is killed with SIGKILL mid-way; every sync is done
  exactly once (one job per user, done; one finished run per user; the data
  in the database), and the emulator's request timestamps show the combined
  rate within the shared budget.
- concurrent forced refreshes of one user on all three instances make one
  token request (the rotation is serialised by a row lock);
- three schedulers create each period's job once.

PostgreSQL only: skipped with a message when KEEPTRACK_TEST_PG is unset
(SQLite is one process's database). Waiting is polling with a deadline.
"""
import os
import signal
import sys
import threading

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

import keeptrack as ktlib  # noqa: E402
import promtext  # noqa: E402
from emulator import Emulator  # noqa: E402
from keeptrack import wait_until  # noqa: E402

USERS = 100
LIKED = 120          # three pages of 50 per user
BUDGET = 40          # requests per second for the whole app (burst: one second's worth)
ADMIN = "multi-instance-admin-token-0123456789"
BASE_ENV = {
    "KEEPTRACK_WORKERS": "4", "KEEPTRACK_JOB_POLL_MS": "50", "KEEPTRACK_JOB_LEASE_S": "2",
    "KEEPTRACK_SCHEDULER": "false", "KEEPTRACK_SPOTIFY_BUDGET": str(BUDGET),
    "KEEPTRACK_BACKUP_INTERVAL_HOURS": "0", "KEEPTRACK_RELEASES_INTERVAL_HOURS": "0",
    "KEEPTRACK_SPOTIFY_CONCURRENCY": "4", "KEEPTRACK_ADMIN_TOKEN": ADMIN,
}


@pytest.fixture
def pgdb(tmp_path):
    if not ktlib.pg_base_url():
        pytest.skip("KEEPTRACK_TEST_PG is not set: several instances need PostgreSQL")
    d = ktlib.Database("postgres", tmp_path)
    yield d
    d.close()


@pytest.fixture
def emu():
    e = Emulator(["--redirect-uri", "any-loopback"]).start()
    yield e
    e.stop()


@pytest.fixture
def cluster(emu, pgdb, tmp_path):
    """start(n, **env) -> n instances on one database and one key file."""
    started = []

    def start(n, **env):
        out = []
        for _ in range(n):
            k = ktlib.Keeptrack(emu, pgdb, tmp_path, env=dict(BASE_ENV, **env)).start()
            started.append(k)
            out.append(k)
        return out
    yield start
    for k in started:
        if k.proc is not None and k.proc.poll() is None:
            assert k.stop() == 0, k.log()[-3000:]
        else:
            k.stop()


def rows(db, sql):
    return db.sql(sql)


def one(db, sql):
    return int(rows(db, sql)[0][0])


def login_across(a, b, user):
    """Starts the login on instance a and finishes it on instance b."""
    browser = a.client()
    callback = a.authorize(a.start_login(browser), user)
    browser.base_url = b.base_url  # the same browser, now talking to b
    r = b.finish_login(browser, callback)
    assert r.status == 302 and r.location == "/", r
    return browser


def window_max(times_ms, width_ms):
    """Most requests seen in any window [t, t + width) starting at a request."""
    best, j = 0, 0
    for i, t in enumerate(times_ms):
        while times_ms[j] < t - width_ms + 1e-9 and j < i:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_hundred_syncs_three_instances_one_killed(cluster, emu, pgdb):
    a, b, c = kts = cluster(3)
    names = [f"u{i:03d}" for i in range(USERS)]
    for n in names:
        emu.add_user(n, liked=LIKED, playlists=0, followed=0, albums=0, shows=0, episodes=0)

    # every login is started on one instance and finished on the next
    browsers = {}
    for i, n in enumerate(names):
        browsers[n] = login_across(kts[i % 3], kts[(i + 1) % 3], n)
    assert one(pgdb, "SELECT COUNT(*) FROM users WHERE status = 'active'") == USERS
    for i, n in enumerate(names[:6]):  # the session works on every instance
        for k in kts:
            browsers[n].base_url = k.base_url
            assert browsers[n].get("/api/me").status == 200

    # One user's Spotify requests are held (a hang far longer than the test),
    # so that user's job cannot end while it is running: the instance running
    # it is the one killed, and the kill provably lands on a job in flight.
    # Spotify is also slowed a little so the others' jobs overlap it.
    victim = names[USERS // 2]
    victim_id = one(pgdb, f"SELECT id FROM users WHERE spotify_id = '{victim}'")
    emu.set_faults(latency_ms=60)
    emu.set_faults(user=victim, hang_rate=1, hang_ms=600_000)
    for i, n in enumerate(names):
        br = browsers[n]
        br.base_url = kts[(i + 2) % 3].base_url
        r = br.post("/api/sync", json={"what": ["liked"]})
        assert r.status == 202, r
    assert one(pgdb, "SELECT COUNT(*) FROM jobs") == USERS

    # kill -9 the instance running the victim's job, once its request is held
    # at the emulator and a quarter of the syncs are done (worker names are
    # host/pid/wN/nonce)
    def victim_held():
        if one(pgdb, "SELECT COUNT(*) FROM jobs WHERE state = 'done'") < USERS // 4:
            return None
        if not any(r["user"] == victim and r["status"] == 0 for r in emu.stats()["requests"]):
            return None
        claimed = rows(pgdb, f"SELECT claimed_by FROM jobs WHERE user_id = {victim_id} "
                             "AND state = 'running'")
        return claimed[0][0] if claimed else None
    claimed_by = wait_until(victim_held, 60, interval=0.02, what="the victim's job held mid-way")
    pid = int(claimed_by.split("/")[1])
    killed = next(k for k in kts if k.proc.pid == pid)
    victim_job = one(pgdb, f"SELECT id FROM jobs WHERE user_id = {victim_id}")
    killed.proc.send_signal(signal.SIGKILL)
    killed.proc.wait()
    # what it was running when it died: the victim's job and at most one job
    # per worker
    lost = [int(r[0]) for r in rows(pgdb, "SELECT id FROM jobs WHERE state = 'running' AND "
                                          f"claimed_by LIKE '%/{pid}/%'")]
    assert victim_job in lost and len(lost) <= int(BASE_ENV["KEEPTRACK_WORKERS"]), lost
    emu.clear_faults()

    def finished():
        states = dict((s, int(n)) for s, n in
                      rows(pgdb, "SELECT state, COUNT(*) FROM jobs GROUP BY state"))
        return states if states.get("done", 0) == USERS else None
    states = wait_until(finished, 75, interval=0.1, what="every sync to be done")
    assert states == {"done": USERS}, states

    # exactly once: one job per user, one finished run per user, the data there
    assert one(pgdb, "SELECT COUNT(DISTINCT user_id) FROM jobs") == USERS
    assert one(pgdb, "SELECT COUNT(*) FROM sync_runs WHERE status = 'done'") == USERS
    assert one(pgdb, "SELECT COUNT(DISTINCT user_id) FROM sync_runs WHERE status = 'done'") == USERS
    assert one(pgdb, "SELECT COUNT(*) FROM sync_runs WHERE status NOT IN ('done', 'running')") == 0
    per_user = rows(pgdb, "SELECT user_id, COUNT(*) FROM saved_tracks GROUP BY user_id")
    assert len(per_user) == USERS and all(int(n) == LIKED for _, n in per_user)
    # the jobs the killed instance held were reclaimed (one attempt lost each)
    # and finished by the others
    ids = ",".join(str(i) for i in lost)
    assert one(pgdb, f"SELECT COUNT(*) FROM jobs WHERE id IN ({ids}) AND attempts = 1 "
                     "AND state = 'done'") == len(lost)

    # the combined Web API rate of the three instances stayed within the budget
    times = sorted(r["t_ms"] for r in emu.stats()["requests"] if r["path"].startswith("/v1/"))
    assert len(times) >= USERS * 3
    burst = BUDGET
    for width_s in (1, 2, 5):
        # a token bucket admits at most burst + rate * width in any window;
        # +3 covers the spread between taking a token and the emulator
        # stamping the request
        assert window_max(times, width_s * 1000) <= burst + BUDGET * width_s + 3, width_s
    span_s = (times[-1] - times[0]) / 1000
    assert len(times) <= burst + BUDGET * span_s + 3
    # Whether the budget bound depends on how fast this machine ran the
    # instances (a sanitizer build on busy cores may never reach 40/s), so it
    # is printed, not asserted; the bucket itself is tested exactly in
    # test_spotify_client (test_budget_and_accounting) and the store suites.
    waits = 0
    for k in kts:
        if k.proc.poll() is None:
            r = k.client().get("/metrics", headers={"Authorization": f"Bearer {ADMIN}"})
            assert r.status == 200, r
            waits += promtext.parse(r.text)["keeptrack_spotify_budget_waits_total"].value()
    print(f"{len(times)} Web API requests in {span_s:.1f} s, busiest 5 s: "
          f"{window_max(times, 5000)}, budget waits on the surviving instances: {waits:.0f}")


def test_concurrent_refreshes_make_one_token_request(cluster, emu, pgdb):
    emu.add_user("alice", liked=3)
    kts = cluster(3)
    browser = kts[0].login("alice")
    before = emu.tokens()
    # the first token request is held at the emulator until the other two
    # refreshes are provably waiting behind it (on the user's row lock)
    emu.set_faults(only="POST /api/token", count=1, latency_ms=600_000)
    results = [None] * 3

    def refresh(i):
        br = ktlib.Http(kts[i].base_url)
        br.set_cookie(kts[i].session_cookie, browser.cookie(kts[i].session_cookie))
        results[i] = br.post("/api/auth/refresh")
    threads = [threading.Thread(target=refresh, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    wait_until(lambda: emu.control("GET", "faults")["held"] == 1, 20,
               what="the first token request to be held")
    # (the statement is store_auth.c's; other tests may share the server)
    waiting = ("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
               "AND query LIKE 'SELECT user_id FROM user_tokens WHERE user_id = % FOR UPDATE'")
    wait_until(lambda: one(pgdb, waiting) == 2, 20,
               what="the two other refreshes to wait on the lock")
    emu.clear_faults(release=True)
    for t in threads:
        t.join(30)
    assert [r.status for r in results] == [200, 200, 200], results
    refreshes = [r for r in emu.stats()["requests"]
                 if r["endpoint"] == "POST /api/token" and r.get("grant_type") == "refresh_token"]
    assert len(refreshes) == 1 and refreshes[0]["status"] == 200
    assert len(emu.tokens()["refresh"]) == len(before["refresh"]) + 1
    # the rotated token was stored once and works from any instance
    for k in kts:
        browser.base_url = k.base_url
        assert browser.get("/api/me").json()["status"] == "active"
    emu.clear_faults()
    assert browser.post("/api/auth/refresh").status == 200
    assert all(r["status"] == 200 for r in emu.stats()["requests"]
               if r["endpoint"] == "POST /api/token")


def test_three_schedulers_make_each_period_job_once(cluster, emu, pgdb):
    emu.add_user("alice", liked=3, playlists=0, followed=0)
    emu.add_user("bob", liked=2, playlists=0, followed=0)
    year = "31536000"
    kts = cluster(3, KEEPTRACK_SCHEDULER="on", KEEPTRACK_SCHEDULER_TICK_S="1",
                  KEEPTRACK_LOG_LEVEL="debug", KEEPTRACK_SYNC_LIBRARY_EVERY_S=year,
                  KEEPTRACK_SYNC_RECENT_EVERY_S=year, KEEPTRACK_SYNC_TOP_EVERY_S=year,
                  KEEPTRACK_STATS_EVERY_S="0")  # tracker/stats jobs: test_stats.py
    login_across(kts[0], kts[1], "alice")
    login_across(kts[1], kts[2], "bob")

    def all_done():
        n = rows(pgdb, "SELECT COUNT(*), SUM(CASE WHEN state = 'done' THEN 1 ELSE 0 END) FROM jobs")
        return int(n[0][0]) == 6 and n[0][1] and int(n[0][1]) == 6
    wait_until(all_done, 60, interval=0.1, what="the six scheduled syncs")
    # three more ticks on every instance add nothing
    ticks = [k.log().count("scheduler_tick") for k in kts]
    wait_until(lambda: all(k.log().count("scheduler_tick") >= t + 3 for k, t in zip(kts, ticks)),
               20, what="three more ticks on each instance")
    assert one(pgdb, "SELECT COUNT(*) FROM jobs") == 6
    assert one(pgdb, "SELECT COUNT(DISTINCT dedupe_key) FROM jobs") == 6
    assert one(pgdb, "SELECT COUNT(*) FROM sync_runs WHERE status = 'done'") == 6
