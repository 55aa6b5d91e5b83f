"""Database backups (issue 9, "Database backups"), end to end on SQLite and
PostgreSQL: `keeptrack backup` while the server runs, the checksum verifies,
no emulator-issued token is in the backup in plaintext, `keeptrack
restore-backup` brings back identical rows in every table (and refuses while
the server runs), a tampered backup is refused, retention deletes exactly the
expected files, an rclone local remote receives the file and its checksum,
and a failing remote is reported with a non-zero exit.

PostgreSQL cases use a fresh DATABASE each (not a schema of the shared test
database): restore refuses while other keeptrack connections use the
database, and other suites' servers share keeptrack_test.
"""
import binascii
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import urllib.parse
import uuid

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))

import keeptrack as ktlib  # noqa: E402


def pg_bin_dir(base_url):
    """The client binaries matching the server's major version."""
    major = ktlib.psql(base_url, "SHOW server_version_num").strip()[:-4]
    d = f"/usr/lib/postgresql/{major}/bin"
    return d if os.path.isdir(d) else None


class FreshPgDatabase:
    """A new PostgreSQL database (public schema) for one test."""

    backend = "postgres"

    def __init__(self, base):
        self.base = base
        self.name = "kt_bk_" + uuid.uuid4().hex[:12]
        try:
            ktlib.psql(base, f"CREATE DATABASE {self.name}")
        except Exception as e:  # set but unusable: fail, do not skip
            raise RuntimeError(f"KEEPTRACK_TEST_PG is set but unusable: {e}")
        u = urllib.parse.urlsplit(base)
        self.url = urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + self.name, u.query, ""))

    def sql(self, statement):
        out = ktlib.psql(self.url, statement)
        return [tuple(line.split("|")) for line in out.splitlines() if line]

    def tables(self):
        return sorted(r[0] for r in self.sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))

    def rows(self, table):
        out = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.url, "-c",
                              f"COPY (SELECT * FROM public.{table}) TO STDOUT"],
                             capture_output=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return sorted(out.stdout.splitlines())

    def close(self):
        try:
            ktlib.psql(self.base, f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        except Exception:
            pass


class SqliteDatabase(ktlib.Database):
    def __init__(self, tmpdir):
        super().__init__("sqlite", tmpdir)

    def tables(self):
        return sorted(r[0] for r in self.sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"))

    def rows(self, table):
        return sorted(repr(r) for r in self.sql(f"SELECT * FROM {table}"))


def snapshot(db):
    """Every row of every table, for exact comparison."""
    return {t: db.rows(t) for t in db.tables()}


@pytest.fixture(params=ktlib.backend_params())
def bdb(request, tmp_path):
    if request.param == "sqlite":
        d = SqliteDatabase(tmp_path)
    else:
        base = ktlib.pg_base_url()
        if not base:
            pytest.skip("KEEPTRACK_TEST_PG is not set: skipping the PostgreSQL case")
        d = FreshPgDatabase(base)
    yield d
    d.close()


@pytest.fixture
def backup_dir(tmp_path):
    return str(tmp_path / "backups")


@pytest.fixture
def bkt(emu, bdb, tmp_path, backup_dir):
    env = {"KEEPTRACK_BACKUP_DIR": backup_dir}
    if bdb.backend == "postgres":
        d = pg_bin_dir(bdb.base)
        if d:
            env["PATH"] = d + os.pathsep + os.environ.get("PATH", "")
    k = ktlib.Keeptrack(emu, bdb, tmp_path, env=env).start()
    yield k
    assert k.stop() == 0, k.log()


def run_backup(kt, env=None, ok=True):
    r = kt.cli("backup", env=env, timeout=120)
    if ok:
        assert r.returncode == 0, r.stderr
        m = re.search(r"^backup (\S+) \((\d+) bytes, sha256 ([0-9a-f]{64})\)$", r.stdout, re.M)
        assert m, r.stdout
        return r, m.group(1), m.group(3)
    return r, None, None


def ext_of(db):
    return ".pgdump" if db.backend == "postgres" else ".sqlite"


def forms(secret):
    raw = secret.encode()
    return [raw, binascii.hexlify(raw), binascii.hexlify(raw).upper()]


def test_backup_restores_identical_rows(bkt, emu, bdb, backup_dir):
    alice = bkt.login("alice")
    bob = bkt.login("bob")
    assert alice.post("/api/auth/refresh").status == 200  # a rotated token too
    before = snapshot(bdb)
    assert before["users"] and before["user_tokens"] and before["sessions"]

    # while the server runs
    r, path, digest = run_backup(bkt)
    assert os.path.dirname(path) == backup_dir
    name = os.path.basename(path)
    assert re.fullmatch(r"keeptrack-\d{8}T\d{6}Z" + re.escape(ext_of(bdb)), name)
    with open(path, "rb") as f:
        data = f.read()
    assert hashlib.sha256(data).hexdigest() == digest
    with open(path + ".sha256") as f:
        assert f.read() == f"{digest}  {name}\n"
    check = subprocess.run(["sha256sum", "-c", name + ".sha256"], cwd=backup_dir,
                           capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout.strip() == f"{name}: OK", check
    for p in (path, path + ".sha256"):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    assert sorted(os.listdir(backup_dir)) == [name, name + ".sha256"]

    # tokens are only in the backup sealed, like in the database
    tokens = emu.control("GET", "tokens")
    assert len(tokens["access"]) >= 3 and len(tokens["refresh"]) >= 3
    for secret in tokens["access"] + tokens["refresh"] + [alice.cookie("kt_session"),
                                                          bob.cookie("kt_session")]:
        for f in forms(secret):
            assert f not in data, "a secret is in the backup in plaintext"

    # change the data after the backup
    bdb.sql("DELETE FROM sessions")
    bdb.sql("UPDATE users SET display_name = 'changed'")
    assert snapshot(bdb) != before

    # refused while the server runs, nothing changed
    r = bkt.cli("restore-backup", path)
    assert r.returncode == 1
    assert "in use" in r.stderr and "stop" in r.stderr, r.stderr
    assert "refused" not in r.stdout
    changed = snapshot(bdb)

    bkt.stop()
    r = bkt.cli("restore-backup", path)
    assert r.returncode == 0, r.stderr
    assert "checksum verified" in r.stdout
    assert snapshot(bdb) == before
    if bdb.backend == "sqlite":
        kept = bdb.path + ".before-restore"
        assert f"kept as {kept}" in r.stdout
        side = SqliteDatabase.__new__(SqliteDatabase)
        side.backend, side.path = "sqlite", kept
        assert snapshot(side) == changed
    else:
        assert "schema public_before_restore" in r.stdout
        assert bdb.sql("SELECT COUNT(*) FROM public_before_restore.sessions") == [("0",)]

    # the restored database serves the old sessions again
    bkt.start()
    me = alice.get("/api/me")
    assert me.status == 200 and me.json()["status"] == "active", me
    log = bkt.log()
    assert all(t not in log for t in tokens["access"] + tokens["refresh"])


def test_tampered_or_unverifiable_backup_is_refused(bkt, bdb, backup_dir):
    bkt.login("alice")
    _, path, _ = run_backup(bkt)
    bkt.stop()
    before = snapshot(bdb)
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        b = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([b[0] ^ 0x01]))
    r = bkt.cli("restore-backup", path)
    assert r.returncode == 1
    assert "does not match its checksum" in r.stderr and "not restored" in r.stderr, r.stderr
    assert snapshot(bdb) == before

    os.unlink(path + ".sha256")
    r = bkt.cli("restore-backup", path)
    assert r.returncode == 1 and "no checksum file" in r.stderr, r.stderr

    other = os.path.join(backup_dir, "notes.sqlite")
    shutil.copy(path, other)
    r = bkt.cli("restore-backup", other)
    assert r.returncode == 1 and "not a keeptrack backup" in r.stderr, r.stderr
    r = bkt.cli("restore-backup")
    assert r.returncode == 2
    assert snapshot(bdb) == before
    bkt.start()


def fake_backup(backup_dir, name):
    path = os.path.join(backup_dir, name)
    with open(path, "wb") as f:
        f.write(b"old backup " + name.encode())
    with open(path + ".sha256", "w") as f:
        f.write(hashlib.sha256(b"old backup " + name.encode()).hexdigest() + "  " + name + "\n")


def test_retention_deletes_exactly_the_expected_files(bkt, bdb, backup_dir):
    os.makedirs(backup_dir, exist_ok=True)
    ext = ext_of(bdb)
    old = ["keeptrack-20200106T030000Z", "keeptrack-20200107T030000Z",
           "keeptrack-20200107T120000Z", "keeptrack-20200113T030000Z"]
    for n in old:
        fake_backup(backup_dir, n + ext)
    with open(os.path.join(backup_dir, "notes.txt"), "w") as f:
        f.write("not a backup")
    # 1 daily: today's new backup. 3 weekly: this week (the new backup),
    # week of 13 Jan 2020 (its only backup) and week of 6 Jan 2020 (its
    # newest: 7 Jan 12:00). Deleted: 6 Jan and 7 Jan 03:00.
    r, path, _ = run_backup(bkt, env={"KEEPTRACK_BACKUP_KEEP_DAILY": "1",
                                      "KEEPTRACK_BACKUP_KEEP_WEEKLY": "3"})
    assert "retention removed 2 old backup(s)" in r.stdout, r.stdout
    new = os.path.basename(path)
    kept = [new, "keeptrack-20200107T120000Z" + ext, "keeptrack-20200113T030000Z" + ext]
    expected = sorted(kept + [k + ".sha256" for k in kept] + ["notes.txt"])
    assert sorted(os.listdir(backup_dir)) == expected


RCLONE_CONF = "[offsite]\ntype = local\n"


def test_rclone_remote_receives_file_and_checksum(bkt, tmp_path, backup_dir):
    conf = tmp_path / "rclone.conf"
    conf.write_text(RCLONE_CONF)
    remote_dir = tmp_path / "remote" / "keeptrack"
    env = {"RCLONE_CONFIG": str(conf), "KEEPTRACK_BACKUP_RCLONE_REMOTE": f"offsite:{remote_dir}"}
    bkt.login("alice")
    r, path, _ = run_backup(bkt, env=env)
    assert f"copied to offsite:{remote_dir}" in r.stdout
    name = os.path.basename(path)
    assert sorted(os.listdir(remote_dir)) == [name, name + ".sha256"]
    for suffix in ("", ".sha256"):
        with open(path + suffix, "rb") as a, open(remote_dir / (name + suffix), "rb") as b:
            assert a.read() == b.read()


def test_failing_remote_is_reported(bkt, tmp_path, backup_dir):
    conf = tmp_path / "rclone.conf"
    conf.write_text(RCLONE_CONF)
    env = {"RCLONE_CONFIG": str(conf), "KEEPTRACK_BACKUP_RCLONE_REMOTE": "nosuchremote:keeptrack"}
    r, _, _ = run_backup(bkt, env=env, ok=False)
    assert r.returncode == 1
    assert "off-site copy failed" in r.stderr and "nosuchremote" in r.stderr, r.stderr
    assert "rclone exited with" in r.stderr
    # the local backup is kept and listed
    m = re.search(r"^backup (\S+) ", r.stdout, re.M)
    assert m and os.path.exists(m.group(1)), r.stdout
    assert "copied to" not in r.stdout

    # a remote that is not an rclone remote is a configuration error
    r = bkt.cli("backup", env={"KEEPTRACK_BACKUP_RCLONE_REMOTE": "--config=/etc/passwd"})
    assert r.returncode == 2 and "KEEPTRACK_BACKUP_RCLONE_REMOTE" in r.stderr, r.stderr


def test_pg_dump_missing_is_a_clear_error(bkt, bdb, tmp_path, backup_dir):
    if bdb.backend != "postgres":
        pytest.skip("pg_dump is only used for PostgreSQL")
    empty = tmp_path / "emptybin"
    empty.mkdir()
    r, _, _ = run_backup(bkt, env={"PATH": str(empty)}, ok=False)
    assert r.returncode == 1
    assert "pg_dump was not found on PATH" in r.stderr and "postgresql-client" in r.stderr, r.stderr
    assert not os.path.exists(backup_dir) or os.listdir(backup_dir) == []


def test_restore_of_the_other_backend_is_refused(bkt, bdb, backup_dir):
    os.makedirs(backup_dir, exist_ok=True)
    other = ".sqlite" if bdb.backend == "postgres" else ".pgdump"
    name = "keeptrack-20200106T030000Z" + other
    fake_backup(backup_dir, name)
    bkt.stop()
    r = bkt.cli("restore-backup", os.path.join(backup_dir, name))
    assert r.returncode == 1 and "backup but KEEPTRACK_DB is a" in r.stderr, r.stderr
    bkt.start()


def backup_jobs(db):
    rows = db.sql("SELECT state, attempts, COALESCE(error, ''), COALESCE(user_id, 0) FROM jobs "
                  "WHERE kind = 'backup' ORDER BY id")
    return [(r[0], int(r[1]), r[2], int(r[3])) for r in rows]


def start_scheduled(emu, bdb, tmp_path, backup_dir, **env):
    e = {"KEEPTRACK_BACKUP_DIR": backup_dir, "KEEPTRACK_SCHEDULER": "on",
         "KEEPTRACK_SCHEDULER_TICK_S": "1", "KEEPTRACK_JOB_POLL_MS": "50",
         "KEEPTRACK_BACKUP_INTERVAL_HOURS": "24", "KEEPTRACK_LOG_LEVEL": "debug",
         # no syncs: only the backup schedule is under test
         "KEEPTRACK_SYNC_LIBRARY_EVERY_S": "0", "KEEPTRACK_SYNC_RECENT_EVERY_S": "0",
         "KEEPTRACK_SYNC_TOP_EVERY_S": "0"}
    if bdb.backend == "postgres":
        d = pg_bin_dir(bdb.base)
        if d:
            e["PATH"] = d + os.pathsep + os.environ.get("PATH", "")
    e.update(env)
    return ktlib.Keeptrack(emu, bdb, tmp_path, env=e).start()


def test_scheduled_backup_job(emu, bdb, tmp_path, backup_dir):
    kt = start_scheduled(emu, bdb, tmp_path, backup_dir)
    try:
        jobs = ktlib.wait_until(lambda: [j for j in backup_jobs(bdb) if j[0] == "done"], 30,
                                interval=0.1, what="the scheduled backup")
        assert jobs == [("done", 0, "", 0)]
        names = sorted(os.listdir(backup_dir))
        assert len(names) == 2 and names[1] == names[0] + ".sha256", names
        assert names[0].endswith(ext_of(bdb))
        # later ticks in the same 24-hour period add no second backup
        ticks = kt.log().count("scheduler_tick")
        ktlib.wait_until(lambda: kt.log().count("scheduler_tick") >= ticks + 2, 20,
                         what="two more scheduler ticks")
        assert len(backup_jobs(bdb)) == 1
    finally:
        assert kt.stop() == 0, kt.log()[-3000:]


def test_scheduled_backup_with_failing_remote_is_recorded_and_retried(emu, bdb, tmp_path,
                                                                      backup_dir):
    conf = tmp_path / "rclone.conf"
    conf.write_text(RCLONE_CONF)
    kt = start_scheduled(emu, bdb, tmp_path, backup_dir, RCLONE_CONFIG=str(conf),
                         KEEPTRACK_BACKUP_RCLONE_REMOTE="nosuchremote:keeptrack",
                         KEEPTRACK_JOB_RETRY_BASE_S="1")
    try:
        jobs = ktlib.wait_until(lambda: [j for j in backup_jobs(bdb) if j[1] >= 2], 60,
                                interval=0.1, what="two failed attempts")
        state, attempts, error, _ = jobs[0]
        assert state in ("queued", "running", "failed")
        assert "off-site copy failed" in error and "nosuchremote" in error, error
        assert "backup_offsite_failed" in kt.log()
        # every attempt made a local backup all the same; retention keeps the
        # newest of the day
        made = kt.log().count("event=backup_created")
        assert made >= 2
        assert kt.log().count("event=backup_pruned") >= made - 2
        assert len([n for n in os.listdir(backup_dir) if n.endswith(ext_of(bdb))]) in (1, 2)
    finally:
        assert kt.stop() == 0, kt.log()[-3000:]
