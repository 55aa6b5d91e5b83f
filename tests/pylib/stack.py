"""A spotify-emulator and a keeptrack started together for a test, with
users logged in and synced: the common start of the feature tests (share
links, playlists from tops, ...). A test subclasses it to add its own
helpers; close() stops both and asserts keeptrack stopped cleanly.
"""
from emulator import Emulator
import keeptrack as ktlib


class SyncedStack:
    def __init__(self, db, tmp_path, users, env, logins=("alice",)):
        """users: emulator --user specs; env: keeptrack's environment; every
        login in `logins` (in this order, so users 1, 2, ...) is made and
        fully synced with `keeptrack sync`. The logged-in clients are in
        self.clients by name."""
        self.db = db
        args = ["--redirect-uri", "any-loopback"]
        for u in users:
            args += ["--user", u]
        self.emu = Emulator(args).start()
        self.kt = None
        try:
            self.kt = ktlib.Keeptrack(self.emu, db, tmp_path, env=env).start()
            self.clients = {name: self.kt.login(name) for name in logins}
            for n in range(1, len(logins) + 1):
                r = self.kt.cli("sync", "--user", str(n), timeout=300)
                assert r.returncode == 0, (r.stdout, r.stderr)
        except BaseException:
            if self.kt:
                self.kt.stop()
            self.emu.stop()
            raise

    def close(self):
        rc = self.kt.stop()
        self.emu.stop()
        assert rc == 0, self.kt.log()[-3000:]
