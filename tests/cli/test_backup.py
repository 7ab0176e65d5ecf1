"""dnsblctl backup and restore: a backup taken while dnsbld serves the
store and imports commit is one of the store's committed states (its
`list` equals the reference store's at the same serial) and passes
`check`; restore refuses a non-empty directory and a damaged or
truncated backup, leaving nothing behind; a restored store served by
dnsbld answers as the original does."""

import ipaddress
import json
import os
import threading

from ctlhelp import CtlTestCase, run_ctl
from dnsbltest import ZONE_FILE, Server
import dnsdiff

NOW = "2026-11-27T12:00:00Z"
FILES = 12        # import runs, one commit each
ROWS = 400        # prefixes per run


def rows(i):
    """The i-th import: ROWS /32s and a few /24s in 10.i.0.0/16."""
    out = ["10.%d.%d.%d" % (i, k // 250, k % 250 + 1) for k in range(ROWS)]
    out += ["10.%d.%d.0/24" % (i, 200 + k) for k in range(4)]
    return "\n".join(out) + "\n"


class TestBackup(CtlTestCase):
    def setUp(self):
        super().setUp()
        self.db = os.path.join(self.tmp, "db")
        self.assertEqual(run_ctl("init", self.db).rc, 0)
        self.files = []
        for i in range(FILES):
            p = os.path.join(self.tmp, "list%02d.txt" % i)
            with open(p, "w") as f:
                f.write(rows(i))
            self.files.append(p)

    def import_file(self, i, db):
        return run_ctl("import", "--format", "list", "--code", "127.0.0.%d" % (i % 5 + 2),
                       "--reason", "run %d" % i, self.files[i], db=db, now=NOW)

    def state(self, db):
        """(serial, list --json) of the store in db, after check passed."""
        r = run_ctl("check", "--json", db=db, now=NOW)
        self.assertEqual(r.rc, 0, r.out + r.err)
        doc = json.loads(r.out)
        self.assertTrue(doc["consistent"])
        r = run_ctl("list", "--json", db=db, now=NOW)
        self.assertEqual(r.rc, 0, r.err)
        return doc["serial"], json.loads(r.out)

    def reference(self):
        """serial -> list --json after each import, in a store of its own."""
        ref_db = os.path.join(self.tmp, "ref")
        self.assertEqual(run_ctl("init", ref_db).rc, 0)
        run_ctl("add", "192.0.2.0/24", "--reason", "before", db=ref_db, now=NOW)
        states = dict([self.state(ref_db)])
        for i in range(FILES):
            self.assertEqual(self.import_file(i, ref_db).rc, 0)
            serial, listing = self.state(ref_db)
            states[serial] = listing
        return states

    def restore(self, src, name):
        dest = os.path.join(self.tmp, name)
        r = run_ctl("restore", src, dest)
        self.assertEqual(r.rc, 0, r.err)
        return dest

    def test_backup_while_serving_and_importing(self):
        states = self.reference()
        self.assertEqual(run_ctl("add", "192.0.2.0/24", "--reason", "before", db=self.db,
                                 now=NOW).rc, 0)
        backups = []
        with Server(["--db", self.db, "--zone", "bl.example=%s" % ZONE_FILE]) as srv:
            errors = []

            def importer():
                for i in range(FILES):
                    r = self.import_file(i, self.db)
                    if r.rc != 0:
                        errors.append(r.err)

            t = threading.Thread(target=importer)
            t.start()
            n = 0
            while t.is_alive() or n == 0:
                dest = os.path.join(self.tmp, "backup%d" % n)
                r = run_ctl("backup", dest, db=self.db)
                self.assertEqual(r.rc, 0, r.err)
                self.assertEqual(os.listdir(dest), ["data.mdb"])  # no temp file left
                backups.append(dest)
                n += 1
                # dnsbld goes on answering meanwhile.
                rcode, a = dnsdiff.answer(srv.ports["127.0.0.1"], "7.2.0.192.bl.example.", "A")
                self.assertEqual((rcode, a), ("NOERROR", ["127.0.0.2"]))
            t.join(120)
            self.assertEqual(errors, [])
        seen = set()
        for k, b in enumerate(backups):
            with self.subTest(backup=b):
                serial, listing = self.state(self.restore(b, "restored%d" % k))
                self.assertIn(serial, states)
                self.assertEqual(listing, states[serial])
                seen.add(serial)
        # The last backup, taken after the imports, holds them all.
        final = os.path.join(self.tmp, "final")
        self.assertEqual(run_ctl("backup", final, db=self.db).rc, 0)
        serial, listing = self.state(self.restore(final, "restored-final"))
        self.assertEqual(serial, max(states))
        self.assertEqual(listing, states[serial])

    def test_restored_store_answers_like_the_original(self):
        for args in (("add", "192.0.2.0/24", "--reason", "spam source {ip}"),
                     ("add", "192.0.2.77", "--code", "127.0.0.4", "--reason", "trap"),
                     ("allow", "192.0.2.1"),
                     ("add", "2001:db8::/48", "--code", "127.0.0.10"),
                     ("add", "198.51.100.128/25", "--code", "127.0.0.3")):
            self.ctl_ok(*args)
        self.import_file(0, self.db)
        backup = os.path.join(self.tmp, "b")
        self.ctl_ok("backup", backup)
        restored = self.restore(backup, "restored")
        nets = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "192.0.2.77/32",
                                                  "192.0.2.1/32", "2001:db8::/48",
                                                  "198.51.100.128/25", "10.0.0.0/22")]
        zone = "bl.example=%s" % ZONE_FILE
        with Server(["--db", self.db, "--zone", zone, "--now", NOW]) as a, \
                Server(["--db", restored, "--zone", zone, "--now", NOW]) as b:
            pa, pb = a.ports["127.0.0.1"], b.ports["127.0.0.1"]
            for ip in dnsdiff.sample_addresses(nets):
                name = dnsdiff.qname(ip, "bl.example")
                for rdtype in ("A", "TXT"):
                    with self.subTest(ip=str(ip), rdtype=rdtype):
                        self.assertEqual(dnsdiff.answer(pb, name, rdtype),
                                         dnsdiff.answer(pa, name, rdtype))

    def test_restore_refuses_a_non_empty_directory(self):
        self.ctl_ok("add", "192.0.2.1")
        backup = os.path.join(self.tmp, "b")
        self.ctl_ok("backup", backup)
        dest = os.path.join(self.tmp, "busy")
        os.mkdir(dest)
        with open(os.path.join(dest, "keep"), "w") as f:
            f.write("x")
        r = self.ctl_fail(1, "restore", backup, dest)
        self.assertIn("not empty", r.err)
        self.assertEqual(os.listdir(dest), ["keep"])
        # Over the live store itself: refused the same way.
        r = self.ctl_fail(1, "restore", backup, self.db)
        self.assertIn("not empty", r.err)
        # Backing up into the store's own directory is refused too.
        r = self.ctl_fail(1, "backup", self.db)
        self.assertIn("live store", r.err)

    def test_restore_refuses_a_damaged_backup(self):
        for i in range(3):
            self.import_file(i, self.db)
        backup = os.path.join(self.tmp, "b")
        self.ctl_ok("backup", backup)
        with open(os.path.join(backup, "data.mdb"), "rb") as f:
            data = f.read()
        self.assertGreater(len(data), 5 * 4096)
        cases = {
            "truncated": data[: len(data) // 2],
            "short": data[:100],
            "garbage": bytes(range(256)) * 64,
            # Overwrite the pages after the two meta pages.
            "scribbled": data[:8192] + b"\xa5" * (len(data) - 8192),
        }
        for name, content in cases.items():
            with self.subTest(case=name):
                src = os.path.join(self.tmp, name + ".mdb")
                with open(src, "wb") as f:
                    f.write(content)
                dest = os.path.join(self.tmp, "r-" + name)
                r = self.ctl_fail(1, "restore", src, dest)
                self.assertIn("nothing restored", r.err)
                self.assertFalse(os.path.exists(dest), os.listdir(self.tmp))
        r = self.ctl_fail(1, "restore", os.path.join(self.tmp, "truncated.mdb"),
                          os.path.join(self.tmp, "x"))
        self.assertIn("truncated", r.err)
        # An empty existing directory is kept (it was the caller's), but empty.
        empty = os.path.join(self.tmp, "empty")
        os.mkdir(empty)
        self.ctl_fail(1, "restore", os.path.join(self.tmp, "garbage.mdb"), empty)
        self.assertEqual(os.listdir(empty), [])

    def test_usage(self):
        self.ctl_fail(2, "restore", "only-one")
        self.ctl_fail(2, "backup")
        r = self.ctl_fail(1, "restore", os.path.join(self.tmp, "nothing"),
                          os.path.join(self.tmp, "x"))
        self.assertIn("nothing", r.err)
