"""dnsblctl under faults: `check` on good and damaged stores, kill -9 in
the middle of a large import at several points (the store checks clean and
a re-run reaches the state of one clean import), two imports at once (they
serialise on LMDB's writer lock and both land, even while both grow the
map), a full disk (a small tmpfs; root only) and a read-only store
directory (as user nobody; root only): a clear error, exit 1, nothing
corrupted. Each test gets a fresh temporary store (ctlhelp.CtlTestCase)."""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from ctlhelp import CtlTestCase, ctl_binary

NOW = "2025-06-03T00:00:00Z"
T0 = 1748000000
SUMMARY_PREFIX = "read "


def csv_rows(n, first_octet=10, ips=2000, list_every=50):
    """n rows over `ips` addresses of first_octet.x.y.z: abuse, trap and
    volume evidence, and a manual listing now and then, so entries,
    history and dedup keys all grow."""
    rows = ["address_or_prefix,kind,weight,time,reason"]
    for i in range(n):
        k = i % ips + 1
        ip = "%d.%d.%d.%d" % (first_octet, (k >> 16) & 255, (k >> 8) & 255, k & 255)
        if i % list_every == 0:
            rows.append("%s,list,1,%d,listed by row %d" % (ip, T0 + i, i))
            continue
        kind = ("abuse", "trap", "volume")[i % 3]
        rows.append("%s,%s,%d,%d,row %d" % (ip, kind, 1000 if kind == "volume" else 1, T0 + i, i))
    return "\n".join(rows) + "\n"


def ctl_env(**extra):
    env = dict(os.environ)
    env.pop("DNSBL_DB", None)
    env.update(extra)
    return env


def can_mount_tmpfs():
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    d = tempfile.mkdtemp(prefix="dnsbl-mnt-probe-")
    try:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", d],
                            capture_output=True).returncode == 0
        if ok:
            subprocess.run(["umount", d], capture_output=True)
        return ok
    finally:
        os.rmdir(d)


def as_nobody():
    """argv prefix that runs a command as user nobody, or None."""
    if os.geteuid() != 0:
        return None
    if shutil.which("setpriv"):
        return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    if shutil.which("runuser"):
        return ["runuser", "-u", "nobody", "--"]
    return None


class FaultCase(CtlTestCase):
    """Stores that do not exist until a write makes them (with --create):
    how a store comes to be is part of what these tests vary."""

    def setUp(self):
        super().setUp()
        self.now = NOW
        self.db = os.path.join(self.tmp, "db")

    def ctl(self, *args, **kw):
        return super().ctl("--create", *args, **kw)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, text):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def check_ok(self, db=None):
        r = self.ctl("check", "--json", db=db or self.db)
        self.assertEqual(r.rc, 0, "check: %s %s" % (r.out, r.err))
        report = json.loads(r.out)
        self.assertTrue(report["consistent"])
        self.assertEqual(report["problems"], [])
        return report

    def snapshot(self, db, ips=2000):
        """What must equal between two stores: every entry, the evidence
        ranking and the counters."""
        top = ("top", "--by", "complaints", "--limit", str(ips), "--json")
        return (self.ctl_ok("list", "--json", db=db).out, self.ctl_ok(*top, db=db).out)


class TestCheck(FaultCase):
    def test_empty_and_missing(self):
        os.mkdir(self.db)
        r = self.ctl_ok("check")
        self.assertIn("no store here yet", r.out)
        report = json.loads(self.ctl_ok("check", "--json").out)
        self.assertEqual(report["exists"], False)
        self.assertTrue(report["consistent"])
        r = self.ctl("check", db=self.path("nope"))
        self.assertEqual(r.rc, 1)
        self.assertIn("nope", r.err)

    def test_consistent_store(self):
        big = self.write("rows.csv", csv_rows(3000, ips=300))
        self.ctl_ok("import", "--format", "csv", "--batch", "500", big)
        self.ctl_ok("add", "2001:db8::/32", "--reason", "v6")
        r = self.ctl_ok("check")
        self.assertRegex(r.out, r": consistent, 301 entries, serial \d+\n$")
        report = self.check_ok()
        self.assertEqual(report["entries"], 301)
        self.assertTrue(report["exists"])

    def test_usage(self):
        r = self.ctl("check", "extra")
        self.assertEqual(r.rc, 2)
        r = self.ctl("check", "--bogus")
        self.assertEqual(r.rc, 2)
        r = self.ctl("check", db=None, env={"DNSBL_DB": None})
        self.assertEqual(r.rc, 2)
        self.assertIn("--db", r.err)
        self.assertIn("check", self.ctl_ok("help").out)
        self.assertIn("--json", self.ctl_ok("check", "--help").out)

    @unittest.skipUnless(shutil.which("mdb_load"), "mdb_load (lmdb-utils) is needed to damage a store")
    def test_damaged_store(self):
        """Records written behind the store's back are each named."""
        self.ctl_ok("add", "192.0.2.0/24", "--reason", "net")
        self.ctl_ok("add", "198.51.100.7")

        def load(db_name, key_hex, value_hex):
            dump = ("VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n %s\n %s\nDATA=END\n"
                    % (key_hex, value_hex))
            p = subprocess.run(["mdb_load", "-s", db_name, self.db], input=dump.encode(),
                               capture_output=True)
            self.assertEqual(p.returncode, 0, p.stderr)

        v4 = "04" + "00" * 10 + "ffff"
        # 203.0.113.7: history without an entry; 192.0.2.0/24: a value cut short.
        load("history", v4 + "cb007107" + "20" + "00005000", "00" * 36)
        load("entries", v4 + "c0000200" + "18", "01ff")
        load("seen", "ab" * 31, "00" * 8)
        r = self.ctl("check")
        self.assertEqual(r.rc, 1, r.out + r.err)
        self.assertIn("problem: entries: 192.0.2.0/24: the 2-byte value does not decode", r.out)
        self.assertIn("problem: history: 203.0.113.7, day 2026-01-27: no entry for this prefix",
                      r.out)
        self.assertIn("problem: seen: key " + "ab" * 31 + ": 31 bytes, not 32", r.out)
        self.assertRegex(r.out, r": 3 problems found, 2 entries, serial \d+\n$")
        report = json.loads(self.ctl("check", "--json").out)
        self.assertFalse(report["consistent"])
        self.assertEqual(len(report["problems"]), 3)

    @unittest.skipUnless(shutil.which("mdb_load"), "mdb_load (lmdb-utils) is needed to damage a store")
    def test_other_schema_is_a_problem(self):
        self.ctl_ok("add", "192.0.2.1")
        dump = ("VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n %s\n %s\nDATA=END\n"
                % (b"schema".hex(), "00000009"))
        subprocess.run(["mdb_load", "-s", "meta", self.db], input=dump.encode(), check=True)
        r = self.ctl("check")
        self.assertEqual(r.rc, 1)
        self.assertIn("problem:", r.out)
        self.assertIn("schema version 9", r.out)


class TestFlatIndex(FaultCase):
    """dnsblctl reindex, the rebuild a write does when it is due, and what
    check says about an index written behind the store's back."""

    FLAT = ("--index-from", "0")  # an index from the first write

    def reindex_json(self, **kw):
        return json.loads(self.ctl_ok("reindex", "--json", **kw).out)

    def test_reindex_reports_and_keeps_answers(self):
        rows = self.write("l.txt", "192.0.2.0/24\n198.51.100.7\n10.0.0.0/8\n10.1.2.3\n2001:db8::/32\n")
        self.ctl_ok("import", "--format", "list", rows)
        before = self.ctl_ok("list", "--json").out
        shown = self.ctl_ok("show", "10.1.2.3").out
        r = self.ctl_ok("reindex")
        self.assertRegex(r.out, r"flat index rebuilt: 5 entries, 1 distinct values, \d+ bytes, "
                                r"0 changes folded in, seconds [\d.]+\n$")
        report = self.reindex_json()
        self.assertEqual((report["entries"], report["values"], report["changes"]), (5, 1, 0))
        self.assertGreater(report["bytes"], 64)
        self.check_ok()
        self.assertEqual(self.ctl_ok("list", "--json").out, before)
        self.assertEqual(self.ctl_ok("show", "10.1.2.3").out, shown)

    def test_writes_are_counted_until_a_rebuild_is_due(self):
        rows = self.write("l.txt", "192.0.2.0/24\n198.51.100.7\n")
        self.ctl_ok(*self.FLAT, "import", "--format", "list", rows)
        # The import built the index; two adds are changes since, below the
        # 1,024 that make a rebuild due: the index stays, the adds marked.
        self.ctl_ok(*self.FLAT, "add", "203.0.113.9")
        self.ctl_ok(*self.FLAT, "add", "192.0.2.77", "--reason", "inside the /24")
        self.check_ok()
        self.assertEqual(self.reindex_json()["changes"], 2)
        self.assertEqual(self.reindex_json()["changes"], 0)
        # Due after one change: the write rebuilds it before it exits.
        self.ctl_ok(*self.FLAT, "--reindex-after", "1", "add", "203.0.113.10")
        self.assertEqual(self.reindex_json()["changes"], 0)
        self.check_ok()

    def test_store_options_misused(self):
        """The store options are checked before any store is touched."""
        for args in (("--map-size", "lots"), ("--map-size", "1m,512k"), ("--map-size", "1k"),
                     ("--index-from", "x"), ("--reindex-after", "-1")):
            r = self.ctl(*args, "add", "192.0.2.1")
            self.assertEqual(r.rc, 2, r.err)
            self.assertIn(args[0], r.err)
            self.assertEqual(r.out, "")
        self.assertFalse(os.path.exists(os.path.join(self.db, "data.mdb")))
        self.assertIn("--map-size", self.ctl_ok("--help").out)
        # A map that may not grow past 1 MiB: a write that needs more fails
        # whole, says why, and what came before stays.
        self.ctl_ok("--map-size", "256k,1m", "add", "192.0.2.1")
        rows = self.write("big.txt", "".join("10.%d.%d.0/24\n" % (i >> 8, i & 255)
                                             for i in range(30000)))
        r = self.ctl("--map-size", "256k,1m", "import", "--format", "list", rows)
        self.assertEqual(r.rc, 1, r.err)
        self.assertIn("limit of 1 MiB", r.err)
        self.assertIn("192.0.2.1", self.ctl_ok("list").out)
        self.check_ok()

    def test_usage(self):
        self.assertEqual(self.ctl("reindex", "extra").rc, 2)
        self.assertEqual(self.ctl("reindex", "--bogus").rc, 2)
        r = self.ctl("reindex", db=None, env={"DNSBL_DB": None})
        self.assertEqual(r.rc, 2)
        self.assertIn("--db", r.err)
        self.assertIn("reindex", self.ctl_ok("help").out)
        self.assertIn("flat index", self.ctl_ok("reindex", "--help").out)

    @unittest.skipUnless(shutil.which("mdb_load"), "mdb_load (lmdb-utils) is needed to damage a store")
    def test_damaged_index_is_named_and_reindex_repairs_it(self):
        self.ctl_ok("add", "192.0.2.0/24", "--reason", "net")
        self.ctl_ok("add", "198.51.100.7")
        self.ctl_ok("reindex")

        def load(key, value_hex):
            dump = ("VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n %s\n %s\nDATA=END\n"
                    % (key.encode().hex(), value_hex))
            p = subprocess.run(["mdb_load", "-s", "meta", self.db], input=dump.encode(),
                               capture_output=True)
            self.assertEqual(p.returncode, 0, p.stderr)

        load("flat", "00" * 100)
        r = self.ctl("check")
        self.assertEqual(r.rc, 1, r.out + r.err)
        self.assertIn("problem: meta: flat: the 100-byte record is not a flat index this "
                      "program reads", r.out)
        # The server would answer from the B-tree meanwhile; reindex builds
        # a new index from it.
        self.ctl_ok("reindex")
        self.check_ok()
        load("flatdirty", "ff" * 10)
        r = self.ctl("check")
        self.assertEqual(r.rc, 1, r.out + r.err)
        self.assertIn("problem: meta: flatdirty is 10 bytes", r.out)
        # The next write finds the index unusable and rebuilds it.
        self.ctl_ok("add", "203.0.113.5")
        self.check_ok()
        self.ctl_ok("reindex")
        self.check_ok()


class TestKilledImport(FaultCase):
    ROWS = 200000
    BATCH = "2000"
    expected_batches = None  # set by each test: the serial of a whole import

    def test_kill_at_several_points(self):
        """kill -9 at six points of a 100-batch import: each time the store
        checks clean, and a re-run ends in the state of a clean import."""
        big = self.write("big.csv", csv_rows(self.ROWS))
        batches = self.ROWS // int(self.BATCH)
        clean = self.path("clean")
        start = time.monotonic()
        self.ctl_ok("import", "--format", "csv", "--batch", self.BATCH, big, db=clean, timeout=300)
        took = time.monotonic() - start
        want = self.snapshot(clean)
        self.assertEqual(self.check_ok(clean)["serial"], batches)

        committed = []
        self.expected_batches = batches
        for i, frac in enumerate((0.0, 0.1, 0.3, 0.5, 0.7, 0.9)):
            with self.subTest(kill_at="%.0f%%" % (frac * 100)):
                delay = 0.02 + frac * took
                # A busy machine may run the import faster or slower than the
                # clean run: kill earlier until the kill lands mid-import.
                for attempt in range(5):
                    db = self.path("db%d-%d" % (i, attempt))
                    serial = self.kill_import(big, db, delay)
                    if serial < batches:
                        break
                    delay *= 0.6
                committed.append(serial)
                self.assertLess(serial, batches, "every kill came after the import finished")
                r = self.ctl("import", "--format", "csv", "--batch", self.BATCH, big, db=db,
                             timeout=300)
                self.assertEqual(r.rc, 0, r.err)
                self.check_ok(db)
                self.assertEqual(self.snapshot(db), want)
        print("batches committed at the kills: %s of %d" % (committed, batches))

    def test_kill_list_import_while_sorted_batches_commit(self):
        """Listings wait for the end of the input and go in sorted, batch
        by batch: killed then, the store checks clean and a re-run ends
        in the state of a clean import."""
        rows = ["address_or_prefix,kind,weight,time,reason"]
        for i in range(100000):
            k = (i * 7919) % 100000 + 1  # a scattered order over 10.x.y.z
            rows.append("10.%d.%d.%d,list,1,%d,row %d" % ((k >> 16) & 255, (k >> 8) & 255,
                                                            k & 255, T0 + i, i))
        big = self.write("list.csv", "\n".join(rows) + "\n")
        batch = "1000"
        batches = 100
        clean = self.path("clean")
        start = time.monotonic()
        self.ctl_ok("import", "--format", "csv", "--batch", batch, big, db=clean, timeout=300)
        took = time.monotonic() - start
        want = self.ctl_ok("list", "--json", db=clean).out
        self.assertEqual(self.check_ok(clean)["serial"], batches)

        committed = []
        self.expected_batches = batches
        for i, frac in enumerate((0.5, 0.8, 0.95)):
            with self.subTest(kill_at="%.0f%%" % (frac * 100)):
                delay = frac * took
                for attempt in range(5):
                    db = self.path("list%d-%d" % (i, attempt))
                    serial = self.kill_import(big, db, delay, batch)
                    if serial < batches:
                        break
                    delay *= 0.7
                committed.append(serial)
                r = self.ctl("import", "--format", "csv", "--batch", batch, big, db=db,
                             timeout=300)
                self.assertEqual(r.rc, 0, r.err)
                self.check_ok(db)
                self.assertEqual(self.ctl_ok("list", "--json", db=db).out, want)
        print("sorted batches committed at the kills: %s of %d" % (committed, batches))

    def kill_import(self, big, db, delay, batch=None):
        """Start an import into db, SIGKILL it after delay seconds, check
        the store; returns how many batches it had committed (the serial)."""
        proc = subprocess.Popen([ctl_binary(), "--now", NOW, "--db", db, "--create", "import",
                                 "--format", "csv", "--batch",
                                 batch or self.BATCH, big],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ctl_env())
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
        self.assertIn(proc.returncode, (0, -signal.SIGKILL), err)
        # A kill can land after the summary, while the process exits: the
        # import had finished then, which the caller's serial shows (and
        # kills earlier). A summary before the last commit would be a lie.
        finished = SUMMARY_PREFIX in out.decode()
        if not os.path.isdir(db):
            self.assertFalse(finished, "a summary, but no store")
            return 0
        report = self.check_ok(db)
        serial = report["serial"] or 0
        if finished and self.expected_batches is not None:
            self.assertEqual(serial, self.expected_batches,
                             "the summary came before every batch was committed")
        return serial


class TestConcurrentImports(FaultCase):
    def test_two_imports_at_once(self):
        """Two imports of disjoint data started together into a store that
        does not exist yet, each growing a tiny map: both exit 0 and the
        store holds both, as after the two imports one after the other."""
        a = self.write("a.csv", csv_rows(60000, first_octet=10))
        b = self.write("b.csv", csv_rows(60000, first_octet=11))
        procs = [subprocess.Popen([ctl_binary(), "--now", NOW, "--db", self.db, "--map-size", "1m",
                                   "--create", "import", "--format", "csv", "--batch", "1000", path],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ctl_env())
                 for path in (a, b)]
        for p in procs:
            out, err = p.communicate(timeout=300)
            self.assertEqual(p.returncode, 0, err)
            self.assertIn("imported 60000,", out.decode())
        self.check_ok()

        seq = self.path("sequential")
        self.ctl_ok("import", "--format", "csv", a, db=seq, timeout=300)
        self.ctl_ok("import", "--format", "csv", b, db=seq, timeout=300)
        self.assertEqual(self.snapshot(self.db, 4000), self.snapshot(seq, 4000))
        self.assertEqual(len(json.loads(self.ctl_ok("list", "--json").out)), 4000)
        if shutil.which("mdb_stat"):
            info = subprocess.run(["mdb_stat", "-e", self.db], capture_output=True,
                                  text=True).stdout
            size = int(info.split("Map size:")[1].split()[0])
            self.assertGreater(size, 1 << 20, "the map did not grow:\n" + info)


class TestDiskFull(FaultCase):
    @unittest.skipUnless(can_mount_tmpfs(), "needs root and tmpfs mounts to fill a disk")
    def test_disk_full_is_a_clear_error(self):
        mnt = self.path("small")
        os.mkdir(mnt)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt], check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", mnt], capture_output=True)
        db = os.path.join(mnt, "db")
        small = self.write("small.csv", csv_rows(500, ips=500, list_every=7))
        self.ctl_ok("import", "--format", "csv", small, db=db)
        before = self.snapshot(db)

        big = self.write("big.csv", csv_rows(100000, first_octet=11, ips=50000))
        r = self.ctl("import", "--format", "csv", "--batch", "2000", big, db=db, timeout=300)
        self.assertEqual(r.rc, 1, r.out + r.err)
        # LMDB's commit sees a short write (EIO) or ENOSPC; either way the
        # message says the disk is full.
        self.assertIn("the disk holding the store is full", r.err)
        self.assertIn(db, r.err)
        self.assertRegex(r.out, r"^read \d+, imported \d+,")  # the summary still comes
        self.check_ok(db)
        # Whole batches only: what was there is intact, and 11.x entries
        # came in lots of the batch's 2000 addresses.
        entries = json.loads(self.ctl_ok("list", "--json", db=db).out)
        old = [e for e in entries if e["prefix"].startswith("10.")]
        new = [e for e in entries if e["prefix"].startswith("11.")]
        self.assertEqual(len(old), 500)
        self.assertEqual(len(new) % 2000, 0)
        self.assertEqual(self.snapshot(db)[0].count('"10.'), before[0].count('"10.'))

    @unittest.skipUnless(can_mount_tmpfs(), "needs root and tmpfs mounts for a read-only mount")
    def test_read_only_filesystem(self):
        mnt = self.path("ro")
        os.mkdir(mnt)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt], check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", mnt], capture_output=True)
        db = os.path.join(mnt, "db")
        self.ctl_ok("add", "192.0.2.1", "--reason", "before", db=db)
        before = self.ctl_ok("list", "--json", db=db).out
        subprocess.run(["mount", "-o", "remount,ro", mnt], check=True)
        r = self.ctl("add", "192.0.2.2", db=db)
        self.assertEqual(r.rc, 1)
        self.assertIn("Read-only file system", r.err)
        self.assertIn(db, r.err)
        subprocess.run(["mount", "-o", "remount,rw", mnt], check=True)
        self.assertEqual(self.ctl_ok("list", "--json", db=db).out, before)
        self.check_ok(db)


class TestReadOnlyStoreDir(FaultCase):
    def setUp(self):
        super().setUp()
        prefix = as_nobody()
        if prefix is None:
            self.skipTest("needs root and setpriv or runuser to run as nobody (root ignores "
                          "permissions)")
        # nobody must reach the binary, the inputs and the store; the build
        # tree may sit in a folder only root can enter, so run a copy.
        os.chmod(self.tmp, 0o755)
        self.binary = os.path.join(self.tmp, "dnsblctl")
        shutil.copy(ctl_binary(), self.binary)
        os.chmod(self.binary, 0o755)
        probe = subprocess.run(prefix + [self.binary, "--version"], capture_output=True)
        if probe.returncode != 0:
            self.skipTest("user nobody cannot run %s: %s" % (self.binary, probe.stderr))
        self.prefix = prefix

    def run_as_nobody(self, *args, db=None):
        p = subprocess.run(self.prefix + [self.binary, "--now", NOW, "--db", db or self.db] + list(args),
                           capture_output=True, text=True, env=ctl_env(), timeout=120)
        return p

    def make_read_only(self, path):
        os.chmod(path, 0o555)
        for name in os.listdir(path):
            os.chmod(os.path.join(path, name), 0o444)

    def test_existing_store(self):
        rows = self.write("rows.csv", csv_rows(2000, ips=200))
        os.chmod(rows, 0o644)
        self.ctl_ok("import", "--format", "csv", rows)
        before = self.snapshot(self.db, 200)
        self.make_read_only(self.db)
        more = self.write("more.csv", csv_rows(2000, first_octet=11, ips=200))
        os.chmod(more, 0o644)
        for args in (("import", "--format", "csv", more), ("add", "198.51.100.1")):
            with self.subTest(args[0]):
                p = self.run_as_nobody(*args)
                self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
                self.assertIn("Permission denied", p.stderr)
                self.assertIn(self.db, p.stderr)
                self.assertIn("write access", p.stderr)
        os.chmod(self.db, 0o750)
        self.assertEqual(self.snapshot(self.db, 200), before)
        self.check_ok()

    def test_empty_directory(self):
        os.mkdir(self.db)
        os.chmod(self.db, 0o555)
        p = self.run_as_nobody("--create", "add", "198.51.100.1")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("Permission denied", p.stderr)
        self.assertEqual(os.listdir(self.db), [])


if __name__ == "__main__":
    unittest.main()
