"""Alerts (issue 18, item 5) end to end, on SQLite and PostgreSQL: the
causes against the emulator's truth, the API, and the deliveries to a
webhook and an SMTP server run by the test.

- A login near its refresh token's 6-month end (authorized_at moved back
  175 days, as the emulator's token age): one login_expiring alert; its
  webhook delivery is retried after two 500s with the queue's backoff, each
  attempt recorded, and the body is exactly the alert; later scheduler
  ticks make no second alert and send nothing more; the webhook's secret
  path never reaches the log. Dismissed, it stays away while the cause
  lasts. A revoked refresh token (the emulator's tokens/revoke; the
  refresh answers invalid_grant) replaces it with login_revoked.
- A playlist whose tracks Spotify takes away (the emulator's
  playlist_unavailable: the entries stay, null): one playlist_lost_tracks
  alert naming exactly those tracks, sent by webhook and by e-mail (the
  exact message the SMTP sink received); a user's own removal raises
  nothing; a second loss while it is open updates it without sending
  again; once dismissed, a new loss is a new alert.
- A sync deferred by QUOTA_EXCEEDED whose job is two days old (its
  created_at moved back, no sleeping): one sync_quota alert; when the
  sync completes the alert is resolved and leaves the list.
- A failing scheduled backup (the backup folder is a file): one instance
  alert that both users see; either may dismiss it, the other cannot
  dismiss a user's alert.
- Settings: channels on and off per user, the address, 400s naming the
  field.
"""
import base64
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

import keeptrack as ktlib  # noqa: E402
from receivers import SmtpSink, WebhookReceiver, wait_for  # noqa: E402
from stack import SyncedStack  # noqa: E402

ALICE = "alice:liked=5,playlists=2,playlist_items=4-6,albums=0,shows=0,episodes=0,followed=1,plays=5"
BOB = "bob:liked=3,playlists=1,playlist_items=2,plays=2"
DAY = 86400000
SECRET = "s3cr3t-hook-token-1f2e"
BASE_ENV = {
    "KEEPTRACK_SPOTIFY_BUDGET": "1000", "KEEPTRACK_SCHEDULER": "on",
    "KEEPTRACK_SCHEDULER_TICK_S": "1", "KEEPTRACK_SYNC_LIBRARY_EVERY_S": "0",
    "KEEPTRACK_SYNC_RECENT_EVERY_S": "0", "KEEPTRACK_SYNC_TOP_EVERY_S": "0",
    "KEEPTRACK_STATS_EVERY_S": "0", "KEEPTRACK_BACKUP_INTERVAL_HOURS": "0",
    "KEEPTRACK_RELEASES_INTERVAL_HOURS": "0", "KEEPTRACK_JOB_RETRY_BASE_S": "1",
    "KEEPTRACK_JOB_POLL_MS": "50", "KEEPTRACK_LOG_LEVEL": "debug",
}


class Env(SyncedStack):
    def __init__(self, db, tmp_path, statuses=(), extra=None):
        self.hook = WebhookReceiver(statuses)
        self.smtp = SmtpSink()
        env = {**BASE_ENV, "KEEPTRACK_ALERT_WEBHOOK_URL": self.hook.url(f"/hook/{SECRET}"),
               "KEEPTRACK_ALERT_SMTP_URL": self.smtp.url(),
               "KEEPTRACK_ALERT_EMAIL_TO": "owner@example.org", **(extra or {})}
        try:
            super().__init__(db, tmp_path, [ALICE, BOB], env, logins=("alice", "bob"))
        except BaseException:
            self.hook.close()
            self.smtp.close()
            raise
        self.alice, self.bob = self.clients["alice"], self.clients["bob"]

    def close(self):
        try:
            super().close()
        finally:
            self.hook.close()
            self.smtp.close()

    def alerts(self, who=None):
        r = (who or self.alice).get("/api/alerts")
        assert r.status == 200, r
        return r.json()["alerts"]

    def wait_alert(self, kind, who=None, timeout=60):
        return wait_for(lambda: [a for a in self.alerts(who) if a["kind"] == kind], timeout,
                        what=f"a {kind} alert")

    def ticks(self, n=3):
        seen = self.kt.log().count("scheduler_tick")
        ktlib.wait_until(lambda: self.kt.log().count("scheduler_tick") >= seen + n, 30,
                         what=f"{n} more scheduler ticks")

    def sync(self, who, what):
        r = who.post("/api/sync", json={"what": what})
        assert r.status == 202, r
        jid = r.json()["id"]
        return ktlib.wait_until(lambda: (lambda j: j if j["state"] in ("done", "failed", "deferred")
                                         else None)(who.get(f"/api/jobs/{jid}").json()),
                                60, interval=0.05, what="the sync job")

    def name_of(self, uid):
        return self.db.sql(f"SELECT display_name, spotify_id FROM users WHERE id = {uid}")[0]

    def link(self):
        return f"{self.kt.base_url}/#/alerts"


@pytest.fixture
def env(db, tmp_path):
    e = Env(db, tmp_path, statuses=(500, 500))
    yield e
    e.close()


def json_body(alert, link):
    return {"source": "keeptrack", "id": alert["id"], "kind": alert["kind"],
            "scope": alert["scope"], "subject": alert["subject"], "title": alert["title"],
            "message": alert["message"], "details": alert["details"],
            "created_at": alert["created_at"], "link": link}


def test_login_expiring_retried_once_deduplicated_then_revoked(env, db):
    now = int(time.time() * 1000)
    authorized = now - 175 * DAY
    env.emu.control("POST", "tokens/age", {"user": "alice", "days": 175})
    db.sql(f"UPDATE users SET authorized_at = {authorized} WHERE spotify_id = 'alice'")
    [a] = env.wait_alert("login_expiring")
    name = env.name_of(1)[0] or "alice"
    assert a["scope"] == "user" and a["subject"] == "" and a["state"] == "open"
    assert a["title"] == "Your Spotify login needs renewing"
    assert a["message"] == (f"Spotify's login for {name} ends in 7 days (refresh tokens last 6 "
                            "months from consent): log in again before then to keep syncing.")
    assert a["details"] == {"spotify_id": "alice", "expires_at": authorized + 183 * DAY,
                            "days_left": 7}
    # two 500s, then 200: three attempts, spaced by the queue's backoff
    wait_for(lambda: env.hook.count() >= 3, 60, what="three webhook attempts")
    assert [r[0] for r in env.hook.requests] == [f"/hook/{SECRET}"] * 3
    assert all(r[1]["Content-Type"] == "application/json" for r in env.hook.requests)
    assert env.hook.bodies() == [json_body(a, env.link())] * 3
    def hooked():
        d = [d for d in env.alerts()[0]["deliveries"] if d["channel"] == "webhook"]
        return d if len(d) == 3 else None
    got = wait_for(hooked, 30, what="three recorded attempts")
    assert [(d["attempt"], d["ok"], d["status"]) for d in got] == [
        (1, False, 500), (2, False, 500), (3, True, 200)]
    assert got[0]["error"] == f"the webhook at 127.0.0.1:{env.hook.port} answered 500"
    assert all(SECRET not in (d["error"] or "") for d in got)
    # the e-mail went out once too (one attempt, accepted: 250)
    wait_for(lambda: env.smtp.count() == 1, 30, what="the e-mail")
    mails = wait_for(lambda: [d for d in env.alerts()[0]["deliveries"]
                              if d["channel"] == "email"], 30, what="the e-mail's record")
    assert [(d["attempt"], d["ok"], d["status"]) for d in mails] == [(1, True, 250)]
    # no duplicates however many checks see the cause
    env.ticks(3)
    assert [x["id"] for x in env.alerts()] == [a["id"]]
    assert env.hook.count() == 3 and env.smtp.count() == 1
    assert env.alerts(env.bob) == []
    assert env.bob.post(f"/api/alerts/{a['id']}/dismiss").status == 404
    # dismissed: gone, and not raised again while the cause lasts
    r = env.alice.post(f"/api/alerts/{a['id']}/dismiss")
    assert r.status == 200 and r.json() == {"id": a["id"], "dismissed": True}, r
    env.ticks(2)
    assert env.alerts() == [] and env.hook.count() == 3
    # revoked: the refresh answers invalid_grant, the login must be made again
    env.emu.control("POST", "tokens/revoke", {"user": "alice"})
    assert env.alice.post("/api/auth/refresh").status == 401
    [rv] = env.wait_alert("login_revoked")
    assert rv["title"] == "Log in to Spotify again" and rv["details"] == {"spotify_id": "alice"}
    assert rv["message"] == (f"Spotify no longer accepts keeptrack's login for {name} (the "
                             "refresh token was revoked or expired): syncing stops until you "
                             "log in again.")
    assert [x["kind"] for x in env.alerts()] == ["login_revoked"]
    wait_for(lambda: env.hook.count() == 4, 30, what="the revoked alert's webhook")
    assert env.hook.bodies()[3] == json_body(rv, env.link())
    assert SECRET not in env.kt.log()
    # logging in again resolves it
    env.kt.login("alice")
    env.ticks(2)
    assert env.alerts() == []


def first_tracks(emu, user, n):
    """(playlist id, name, [track uris]) of the user's owned playlists with
    at least n tracks."""
    out = []
    for p in emu.truth(user, ["playlists"])["playlists"]:
        if p.get("items") is None or p["owner"]["id"] != user:
            continue
        uris = [(e.get("item") or e.get("track") or {}).get("uri") for e in p["items"]]
        uris = [u for u in uris if u and u.startswith("spotify:track:")]
        if len(uris) >= n:
            out.append((p["id"], p["name"], uris))
    return out


def email_text(alert, link):
    subject = f"[keeptrack] {alert['title']}"
    if not subject.isascii():
        subject = "=?UTF-8?B?" + base64.b64encode(subject.encode()).decode() + "?="
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(alert["created_at"] // 1000))
    return ("From: keeptrack <keeptrack@localhost>\r\nTo: <me@example.org>\r\n"
            f"Subject: {subject}\r\nDate: {date}\r\n"
            f"Message-ID: <alert-{alert['id']}.{alert['created_at']}@keeptrack>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\nAuto-Submitted: auto-generated\r\n\r\n"
            f"{alert['message']}\r\n\r\n{link}\r\n")


def test_playlist_lost_tracks(db, tmp_path):
    env = Env(db, tmp_path)
    try:
        r = env.alice.request("PUT", "/api/alerts/settings", json={"email_to": "me@example.org"})
        assert r.status == 200 and r.json()["email_to"] == "me@example.org", r
        owned = sorted(first_tracks(env.emu, "alice", 2), key=lambda o: -len(o[2]))
        assert len(owned) >= 2 and len(owned[0][2]) >= 3, owned
        (pid, name, uris), (pid2, _, uris2) = owned[0], owned[1]
        # the user's own removal: a new version, no alert
        env.emu.mutate("alice", op="playlist_remove", playlist=pid2, uris=[uris2[0]])
        assert env.sync(env.alice, ["playlists"])["state"] == "done"
        assert env.alerts() == []
        # Spotify takes a track away: the entry stays, null
        snap = env.emu.mutate("alice", op="playlist_unavailable", playlist=pid,
                              uris=[uris[0]])["snapshot_id"]
        assert env.sync(env.alice, ["playlists"])["state"] == "done"
        [a] = env.alerts()
        assert a["kind"] == "playlist_lost_tracks" and a["subject"] == pid
        assert a["title"] == f"A playlist lost tracks: {name}"
        assert a["message"] == (f"Spotify made 1 track of \"{name}\" unavailable; the version "
                                "before is kept and can be restored.")
        assert a["details"] == {"playlist": pid, "name": name, "snapshot_id": snap,
                                "tracks": [uris[0]]}
        wait_for(lambda: env.hook.count() == 1 and env.smtp.count() == 1, 30,
                 what="the webhook and the e-mail")
        assert env.hook.bodies() == [json_body(a, env.link())]
        [(mail_from, rcpt, data)] = env.smtp.messages
        assert mail_from == "<keeptrack@localhost>" and rcpt == ["<me@example.org>"]
        assert data == email_text(a, env.link())
        # a re-sync without change and a second loss while open: one alert
        assert env.sync(env.alice, ["playlists"])["state"] == "done"
        snap2 = env.emu.mutate("alice", op="playlist_unavailable", playlist=pid,
                               uris=[uris[1]])["snapshot_id"]
        assert env.sync(env.alice, ["playlists"])["state"] == "done"
        [b] = env.alerts()
        assert b["id"] == a["id"] and b["details"]["tracks"] == [uris[1]]
        assert b["details"]["snapshot_id"] == snap2
        env.ticks(2)
        assert env.hook.count() == 1 and env.smtp.count() == 1
        # dismissed, a later loss is a new alert
        assert env.alice.post(f"/api/alerts/{a['id']}/dismiss").status == 200
        assert env.alerts() == []
        # this time through `keeptrack sync`, which checks as the job does
        env.emu.mutate("alice", op="playlist_unavailable", playlist=pid, uris=[uris[2]])
        r = env.kt.cli("sync", "--user", "1", "playlists", timeout=300)
        assert r.returncode == 0, (r.stdout, r.stderr)
        [c] = env.alerts()
        assert c["id"] != a["id"] and c["details"]["tracks"] == [uris[2]]
        wait_for(lambda: env.hook.count() == 2, 30, what="the new alert's webhook")
        assert SECRET not in env.kt.log()
    finally:
        env.close()


def test_sync_deferred_by_quota(db, tmp_path):
    env = Env(db, tmp_path)
    try:
        env.emu.set_faults(quota_exceeded=True)
        job = env.sync(env.alice, ["liked"])
        assert job["state"] == "deferred", job
        env.ticks(2)
        assert env.alerts() == []  # deferred, but not for a day yet
        created = int(db.sql(f"SELECT created_at FROM jobs WHERE id = {job['id']}")[0][0])
        db.sql(f"UPDATE jobs SET created_at = {created - 2 * DAY} WHERE id = {job['id']}")
        [a] = env.wait_alert("sync_quota")
        assert a["title"] == "Syncing is held back by Spotify's quota"
        assert a["message"].startswith("Spotify's quota for this app is exhausted (429 "
                                       "QUOTA_EXCEEDED): your sync has been waiting for 48 hours")
        assert a["details"] == {"deferred_since": created - 2 * DAY}
        env.ticks(2)
        assert [x["id"] for x in env.alerts()] == [a["id"]]
        assert env.alerts(env.bob) == []
        # quota back: the sync runs, the alert is resolved
        env.emu.clear_faults()
        db.sql(f"UPDATE jobs SET run_after = 0 WHERE id = {job['id']}")
        ktlib.wait_until(lambda: env.alice.get(f"/api/jobs/{job['id']}").json()["state"] == "done",
                         60, what="the sync to finish")
        wait_for(lambda: env.alerts() == [] or None, 30, what="the alert to be resolved")
        assert env.hook.count() == 1
    finally:
        env.close()


def test_backup_failure_is_an_instance_alert(db, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the backups should go")
    env = Env(db, tmp_path, extra={"KEEPTRACK_BACKUP_INTERVAL_HOURS": "1",
                                   "KEEPTRACK_BACKUP_DIR": str(blocked)})
    try:
        [a] = env.wait_alert("backup_failed")
        assert a["scope"] == "instance" and a["title"] == "The database backup failed"
        assert a["details"]["stage"] == "local"
        assert [x["id"] for x in env.alerts(env.bob)] == [a["id"]]
        wait_for(lambda: env.hook.count() >= 1 and env.smtp.count() >= 1, 30,
                 what="the deliveries")
        env.ticks(3)
        assert len([x for x in env.alerts() if x["kind"] == "backup_failed"]) == 1
        assert env.hook.count() == 1 and env.smtp.count() == 1
        assert env.smtp.messages[0][1] == ["<owner@example.org>"]
        assert env.bob.post(f"/api/alerts/{a['id']}/dismiss").status == 200
        assert env.alerts() == [] and env.alerts(env.bob) == []
    finally:
        env.close()


def test_settings_and_bad_input(env):
    s = env.alice.get("/api/alerts/settings")
    assert s.status == 200, s
    assert s.json() == {"webhook": True, "email": True, "email_to": None,
                        "channels": {"webhook": {"configured": True,
                                                 "host": f"127.0.0.1:{env.hook.port}",
                                                 "format": "json"},
                                     "email": {"configured": True,
                                               "default_to": "owner@example.org"}}}
    assert SECRET not in s.text
    r = env.alice.request("PUT", "/api/alerts/settings", json={"webhook": False,
                                                               "email_to": "a@b.example"})
    assert r.status == 200 and r.json()["webhook"] is False and r.json()["email"] is True
    assert r.json()["email_to"] == "a@b.example"
    for body, field in [({"webhook": "yes"}, "webhook"), ({"email": 1}, "email"),
                        ({"email_to": "not an address"}, "email_to"),
                        ({"email_to": "a@b@c"}, "email_to"), ({"colour": "red"}, "colour")]:
        r = env.alice.request("PUT", "/api/alerts/settings", json=body)
        assert r.status == 400 and r.json()["error"]["message"].startswith(field), (body, r)
    assert env.alice.get("/api/alerts/settings").json()["email_to"] == "a@b.example"
    assert env.bob.get("/api/alerts/settings").json()["webhook"] is True
    assert env.alice.post("/api/alerts/abc/dismiss").status == 400
    assert env.alice.post("/api/alerts/999999/dismiss").status == 404
    anon = env.kt.client()
    assert anon.get("/api/alerts").status == 401
    # with the webhook off for alice, her next alert is only e-mailed
    db_now = int(time.time() * 1000) - 176 * DAY
    env.db.sql(f"UPDATE users SET authorized_at = {db_now} WHERE spotify_id = 'alice'")
    env.wait_alert("login_expiring")
    wait_for(lambda: env.smtp.count() == 1, 30, what="the e-mail")
    assert env.smtp.messages[0][1] == ["<a@b.example>"]
    env.ticks(2)
    assert env.hook.count() == 0
