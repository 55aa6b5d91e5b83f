"""Jobs over HTTP (issue 5 "Jobs"): POST /api/sync -> 202 -> the job runs on
keeptrack's worker pool to done and the data is in the database; a
QUOTA_EXCEEDED sync is deferred (run_after in the future, server responsive)
and completes after run_after once the quota is back; user scoping; bad
parameters name themselves; one sync per user at a time; the scheduler
enqueues each period's sync once. Every test on SQLite and PostgreSQL.

Waiting is always polling with a deadline (keeptrack.wait_until), never a
fixed sleep.
"""
import datetime
import os
import re
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

import keeptrack as ktlib  # noqa: E402
from emulator import Emulator  # noqa: E402
from keeptrack import wait_until  # noqa: E402

ALICE = "alice:liked=40,playlists=3,playlist_items=5-20,followed=10"
BOB = "bob:liked=3,playlists=1,playlist_items=2"
# Fast pickup (poll 50 ms), no request budget, deferrals capped at 3 s so the
# QUOTA_EXCEEDED case completes within the test.
KT_ENV = {"KEEPTRACK_SPOTIFY_BUDGET": "1000", "KEEPTRACK_JOB_POLL_MS": "50",
          "KEEPTRACK_WORKERS": "2", "KEEPTRACK_JOB_MAX_DEFER_S": "3"}


@pytest.fixture
def emu():
    e = Emulator(["--redirect-uri", "any-loopback", "--user", ALICE, "--user", BOB]).start()
    yield e
    e.stop()


def start_kt(emu, db, tmp_path, **env):
    return ktlib.Keeptrack(emu, db, tmp_path, env=dict(KT_ENV, **env)).start()


@pytest.fixture
def kt(emu, db, tmp_path):
    k = start_kt(emu, db, tmp_path)
    yield k
    rc = k.stop()
    assert rc == 0, k.log()[-3000:]


def iso_ms(s):
    return int(datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)


def count(db, sql):
    return int(db.sql(sql)[0][0])


def wait_job(browser, job_id, states, timeout=60):
    def check():
        r = browser.get(f"/api/jobs/{job_id}")
        assert r.status == 200, r
        job = r.json()
        assert job["state"] != "failed" or "failed" in states, job
        return job if job["state"] in states else None
    return wait_until(check, timeout, interval=0.05, what=f"job {job_id} to be {states}")


def post_sync(browser, body):
    r = browser.post("/api/sync", json=body)
    assert r.status == 202, r
    job = r.json()
    assert r.location == f"/api/jobs/{job['id']}"
    return job


def test_sync_job_runs_to_done(kt, emu, db):
    browser = kt.login("alice")
    job = post_sync(browser, {"what": ["liked", "playlists"]})
    assert job["kind"] == "sync"
    assert job["params"] == {"what": "liked,playlists"}
    assert job["state"] in ("queued", "running", "done")
    assert job["attempts"] == 0 and job["max_attempts"] == 5
    assert job["created_at"].endswith("Z")
    done = wait_job(browser, job["id"], ("done",))
    assert done["error"] is None
    assert done["started_at"] and done["finished_at"]
    assert iso_ms(done["finished_at"]) >= iso_ms(done["started_at"])
    assert done["progress"]["total"] > 0
    assert done["progress"]["done"] == done["progress"]["total"]
    # the data is there
    truth = emu.truth("alice")
    assert count(db, "SELECT COUNT(*) FROM saved_tracks") == len(truth["liked"]) == 40
    assert count(db, "SELECT COUNT(*) FROM playlists") == len(truth["playlists"])
    assert count(db, "SELECT COUNT(*) FROM followed_artists") == 0  # not asked for
    # the list shows it, newest first
    r = browser.get("/api/jobs")
    assert r.status == 200 and [j["id"] for j in r.json()["jobs"]] == [job["id"]]
    # a comma-separated string works too
    job2 = post_sync(browser, {"what": "following"})
    assert job2["params"] == {"what": "following"}
    wait_job(browser, job2["id"], ("done",))
    assert count(db, "SELECT COUNT(*) FROM followed_artists") == 10
    r = browser.get("/api/jobs?limit=1")
    assert [j["id"] for j in r.json()["jobs"]] == [job2["id"]]


def test_default_is_everything(kt, emu, db):
    browser = kt.login("alice")
    job = post_sync(browser, None)
    assert set(job["params"]["what"].split(",")) == {
        "liked", "playlists", "albums", "shows", "episodes", "following", "top", "recent"}
    wait_job(browser, job["id"], ("done",))
    assert count(db, "SELECT COUNT(*) FROM saved_tracks") == 40


def test_bad_parameters_are_named(kt):
    browser = kt.login("alice")
    for body, needle in [({"what": ["liked", "bogus"]}, "bogus"), ({"what": "liked,nope"}, "nope"),
                         ({"what": 5}, "what"), ({"what": [1]}, "what[0]"),
                         ({"what": []}, "what")]:
        r = browser.post("/api/sync", json=body)
        assert r.status == 400, (body, r)
        msg = r.json()["error"]["message"]
        assert needle in msg and "what" in msg, (body, msg)
    r = browser.post("/api/sync", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status == 400
    assert browser.get("/api/jobs/abc").status == 400
    assert "id" in browser.get("/api/jobs/abc").json()["error"]["message"]
    assert browser.get("/api/jobs/999999").status == 404
    r = browser.get("/api/jobs?limit=0")
    assert r.status == 400 and "limit" in r.json()["error"]["message"]
    assert browser.get("/api/jobs").json() == {"jobs": []}


def test_other_users_job_is_404(kt):
    alice = kt.login("alice")
    bob = kt.login("bob")
    job = post_sync(alice, {"what": "liked"})
    r = bob.get(f"/api/jobs/{job['id']}")
    assert r.status == 404, r
    assert bob.get("/api/jobs").json() == {"jobs": []}
    anon = kt.client()
    assert anon.get(f"/api/jobs/{job['id']}").status == 401
    assert anon.post("/api/sync", json={}).status == 401
    assert anon.get("/api/jobs").status == 401
    wait_job(alice, job["id"], ("done",))


def test_one_sync_per_user_at_a_time(kt, emu):
    alice = kt.login("alice")
    bob = kt.login("bob")
    # alice's Spotify requests are held until released: her first sync
    # cannot end, however slow the machine, while the second is posted
    emu.set_faults(user="alice", hang_rate=1)
    first = post_sync(alice, {"what": "liked,playlists"})
    again = post_sync(alice, {"what": "following"})
    assert again["id"] == first["id"]  # the user's queued/running sync
    other = post_sync(bob, {"what": "liked"})  # other users are independent:
    assert other["id"] != first["id"]
    wait_job(bob, other["id"], ("done",))  # bob's ends while alice's is held
    assert alice.get(f"/api/jobs/{first['id']}").json()["state"] in ("queued", "running")
    emu.clear_faults(release=True)
    wait_job(alice, first["id"], ("done",))
    later = post_sync(alice, {"what": "following"})  # the lane is free again
    assert later["id"] not in (first["id"], other["id"])
    wait_job(alice, later["id"], ("done",))


def test_quota_exceeded_defers_then_completes(kt, emu, db):
    browser = kt.login("alice")
    emu.set_faults(quota_exceeded=True, quota_retry_after_s=3600)
    before = int(time.time() * 1000)
    job = post_sync(browser, {"what": ["liked"]})
    deferred = wait_job(browser, job["id"], ("deferred",))
    run_after = iso_ms(deferred["run_after"])
    # in the future, pushed back by the cap (3 s) and not by Spotify's hour
    assert run_after > int(time.time() * 1000) - 50
    assert before < run_after <= int(time.time() * 1000) + 3000 + 500
    assert deferred["attempts"] == 0 and deferred["error"] is None
    assert "quota" in (deferred["message"] or "").lower()
    # the server stays responsive meanwhile: nothing sleeps on the quota
    t0 = time.monotonic()
    assert browser.get("/api/me").status == 200
    assert kt.client().get("/healthz").status == 200
    assert browser.get(f"/api/jobs/{job['id']}").json()["state"] == "deferred"
    assert time.monotonic() - t0 < 2.0
    emu.clear_faults()
    done = wait_job(browser, job["id"], ("done",), timeout=30)
    assert iso_ms(done["finished_at"]) >= run_after
    assert done["attempts"] == 0
    assert count(db, "SELECT COUNT(*) FROM saved_tracks") == 40


def test_scheduler_enqueues_each_period_once(emu, db, tmp_path):
    year = "31536000"  # long periods: no boundary is crossed during the test
    kt = start_kt(emu, db, tmp_path, KEEPTRACK_SCHEDULER="on", KEEPTRACK_SCHEDULER_TICK_S="1",
                  KEEPTRACK_LOG_LEVEL="debug",
                  KEEPTRACK_SYNC_LIBRARY_EVERY_S=year, KEEPTRACK_SYNC_RECENT_EVERY_S=year,
                  KEEPTRACK_SYNC_TOP_EVERY_S=year,
                  KEEPTRACK_STATS_EVERY_S="0",  # tracker/stats jobs: test_stats.py
                  KEEPTRACK_BACKUP_INTERVAL_HOURS="0",  # only syncs: backups and
                  KEEPTRACK_RELEASES_INTERVAL_HOURS="0")  # releases have their own tests
    try:
        browser = kt.login("alice")

        def all_done():
            jobs = browser.get("/api/jobs").json()["jobs"]
            whats = sorted(j["params"]["what"] for j in jobs)
            if whats == ["library", "recent", "top"] and all(j["state"] == "done" for j in jobs):
                return jobs
            return None
        jobs = wait_until(all_done, 60, interval=0.1, what="the scheduled syncs")
        assert len(jobs) == 3
        assert count(db, "SELECT COUNT(*) FROM saved_tracks") == 40
        # later ticks in the same periods add nothing
        ticks = kt.log().count("scheduler_tick")
        wait_until(lambda: kt.log().count("scheduler_tick") >= ticks + 3, 20,
                   what="three more scheduler ticks")
        assert count(db, "SELECT COUNT(*) FROM jobs") == 3
    finally:
        assert kt.stop() == 0, kt.log()[-3000:]


def test_graceful_stop_gives_a_running_sync_back(emu, db, tmp_path):
    """SIGTERM during a long sync: the run stops within a page instead of
    finishing (recorded "stopped", Liked Songs not half-written), the job
    goes back to the queue, and the next instance finishes it exactly."""
    emu.add_user("erin", liked=2000, playlists=0, followed_playlists=0, albums=0, shows=0,
                 episodes=0, followed=0, plays=0)
    a = start_kt(emu, db, tmp_path)
    b = None
    try:
        browser = a.login("erin")
        # 40 pages: 5 rounds of 1 s at concurrency 8, so the stop (at most
        # the 8 pages in flight after it) lands well before the last page
        # even on a busy machine
        emu.set_faults(latency_ms=1000)
        emu.reset_stats()
        job = post_sync(browser, {"what": "liked"})

        def started():
            j = browser.get(f"/api/jobs/{job['id']}").json()
            m = re.search(r"liked songs (\d+)/2000", j.get("message") or "")
            # past the first page (the incremental check reports 50 already), so
            # the parallel walk of the other pages is under way
            return j if j["state"] == "running" and m and int(m.group(1)) >= 100 else None
        wait_until(started, 30, interval=0.02, what="the sync to be under way")
        assert a.stop() == 0, a.log()[-3000:]
        pages = emu.count("GET /v1/me/tracks")
        assert 2 <= pages < 40, pages  # stopped early, not run to the end
        assert count(db, f"SELECT COUNT(*) FROM jobs WHERE id = {job['id']} "
                         "AND state = 'queued' AND claimed_by IS NULL") == 1
        uid = count(db, "SELECT id FROM users WHERE spotify_id = 'erin'")
        assert [r[0] for r in db.sql(f"SELECT status FROM sync_runs WHERE user_id = {uid}")] == [
            "stopped"]
        assert count(db, f"SELECT COUNT(*) FROM saved_tracks WHERE user_id = {uid}") == 0
        emu.clear_faults()
        b = start_kt(emu, db, tmp_path)
        browser.base_url = b.base_url
        done = wait_job(browser, job["id"], ("done",), timeout=60)
        assert done["attempts"] == 0  # given back, not failed
        liked = [e["track"]["uri"] for e in emu.truth("erin")["liked"]]
        assert [r[0] for r in db.sql(f"SELECT track_uri FROM saved_tracks WHERE user_id = {uid} "
                                     "ORDER BY position")] == liked
    finally:
        a.stop()
        if b:
            assert b.stop() == 0, b.log()[-3000:]


def test_killed_instance_job_finishes_elsewhere(emu, db, tmp_path):
    """Issue 11's rule on two processes sharing one database: kill -9 the
    instance running a sync; another instance reclaims it once the heartbeat
    lapses (lease 2 s) and finishes it."""
    lease = {"KEEPTRACK_JOB_LEASE_S": "2"}
    a = start_kt(emu, db, tmp_path, **lease)
    b = None
    try:
        browser = a.login("alice")
        # alice's requests are held: the sync cannot end before the kill,
        # however slow the machine
        emu.set_faults(user="alice", hang_rate=1)
        job = post_sync(browser, {"what": "liked,playlists,following"})
        wait_job(browser, job["id"], ("running",))
        wait_until(lambda: any(r["user"] == "alice" and r["status"] == 0
                               for r in emu.stats()["requests"]), 30, what="a request held")
        a.proc.kill()
        a.proc.wait()
        emu.clear_faults()
        b = start_kt(emu, db, tmp_path, **lease)  # same key file and database
        browser.base_url = b.base_url  # the session lives in the database
        done = wait_job(browser, job["id"], ("done",), timeout=60)
        assert done["attempts"] == 1  # the lost run counts as one attempt
        assert count(db, "SELECT COUNT(*) FROM saved_tracks") == 40
        assert count(db, "SELECT COUNT(*) FROM followed_artists") == 10
    finally:
        a.stop()
        if b:
            assert b.stop() == 0, b.log()[-3000:]


def refuse_job_done(db):
    """Makes the database refuse to mark any job done."""
    if db.backend == "sqlite":
        db.sql("CREATE TRIGGER kt_test_refuse BEFORE UPDATE OF state ON jobs "
               "WHEN NEW.state = 'done' BEGIN SELECT RAISE(ABORT, 'test refuses to end a job'); END")
    else:
        db.sql("CREATE FUNCTION kt_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
               "IF NEW.state = 'done' THEN RAISE EXCEPTION 'test refuses to end a job'; END IF; "
               "RETURN NEW; END $$; CREATE TRIGGER kt_test_refuse BEFORE UPDATE ON jobs "
               "FOR EACH ROW EXECUTE PROCEDURE kt_test_refuse()")


def test_run_and_job_are_done_together(emu, db, tmp_path):
    """A sync's "done" and its job's "done" commit in one transaction: when
    the job cannot be marked done, the run is not recorded as done either (it
    failed, and the job is retried), so a process that dies between the two
    writes can no longer leave a finished run whose job then runs again (seen
    as 101 finished runs for 100 jobs in test_multi_instance)."""
    kt = start_kt(emu, db, tmp_path, KEEPTRACK_JOB_RETRY_BASE_S="1")
    try:
        browser = kt.login("bob")
        uid = count(db, "SELECT id FROM users WHERE spotify_id = 'bob'")
        refuse_job_done(db)
        job = post_sync(browser, {"what": "liked"})

        def a_run_ended():
            runs = db.sql(f"SELECT status, error FROM sync_runs WHERE user_id = {uid} "
                          "AND status <> 'running'")
            return runs or None
        runs = wait_until(a_run_ended, 30, interval=0.05, what="a run to end")
        assert [r[0] for r in runs] == ["failed"], runs
        assert "test refuses to end a job" in runs[0][1], runs
        db.sql("DROP TRIGGER kt_test_refuse" + ("" if db.backend == "sqlite" else " ON jobs"))
        done = wait_job(browser, job["id"], ("done",))
        assert done["attempts"] >= 1  # the refused run counts as one attempt
        statuses = [r[0] for r in db.sql(f"SELECT status FROM sync_runs WHERE user_id = {uid} "
                                         "ORDER BY id")]
        assert statuses[-1] == "done" and set(statuses[:-1]) == {"failed"}, statuses
        assert count(db, f"SELECT COUNT(*) FROM saved_tracks WHERE user_id = {uid}") == 3
    finally:
        assert kt.stop() == 0, kt.log()[-3000:]
