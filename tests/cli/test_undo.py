"""dnsblctl imports and undo: every import run is recorded (id, time,
who, source, formats, files, counts); undo ID takes exactly that import
back, evidence, history, operator history and listings alike. On
randomised data, import + undo leaves every `show --json` (with its
evidence), `list --json` and the CSV export as they were before the
import; undoing a middle import keeps what the later ones did. Each test
has a fresh store and a fixed clock (ctlhelp.CtlTestCase)."""

import json
import os
import random
import unittest

from ctlhelp import CtlTestCase

FIXTURES = os.environ.get("DNSBL_FIXTURES", "")
KINDS = ["abuse", "abuse", "fraud", "trap", "not_spam", "volume", "list", "allow", "delist"]


class TestUndo(CtlTestCase):
    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def import_(self, *args, **kw):
        """dnsblctl import; stderr may say which format it detected."""
        r = self.ctl("import", *args, **kw)
        self.assertEqual(r.rc, 0, r.err)
        return r

    def imports(self):
        return json.loads(self.ctl_ok("imports", "--json").out)

    def last_id(self):
        return self.imports()[-1]["id"]

    def state(self, addrs):
        """What an operator can see of the store: show --json of every
        address (with its evidence), the entries and the CSV export."""
        shows = {a: json.loads(self.ctl_ok("show", a, "--json", "--evidence", "100").out)
                 for a in addrs}
        entries = self.list_json()
        export = self.ctl_ok("export", "--format", "csv").out
        return shows, entries, export

    def assert_same_state(self, want, got):
        for addr in want[0]:
            self.assertEqual(want[0][addr], got[0][addr], addr)
        self.assertEqual(want[1], got[1])
        self.assertEqual(want[2], got[2])

    # ---- randomised data ----

    def random_pool(self, rng):
        hosts = ["192.0.2.%d" % rng.randrange(1, 40) for _ in range(12)]
        hosts += ["198.51.100.%d" % rng.randrange(1, 40) for _ in range(8)]
        hosts += ["2001:db8:%x::%x" % (rng.randrange(3), rng.randrange(1, 9)) for _ in range(4)]
        nets = ["192.0.2.0/26", "192.0.2.0/24", "198.51.100.0/28", "2001:db8:1::/48"]
        return sorted(set(hosts)), nets

    def random_csv(self, rng, hosts, nets, rows, tag):
        lines = ["address_or_prefix,kind,weight,time,reason"]
        for i in range(rows):
            kind = rng.choice(KINDS)
            where = rng.choice(nets) if kind in ("list", "allow", "delist") and rng.random() < 0.4 \
                else rng.choice(hosts)
            day = rng.randrange(1, 25)
            lines.append("%s,%s,%d,2026-11-%02dT%02d:%02d:00Z,%s row %d" % (
                where, kind, rng.randrange(1, 4), day, rng.randrange(24), rng.randrange(60),
                tag, i))
        return "\n".join(lines) + "\n"

    def random_list(self, rng, hosts, nets, n):
        picks = rng.sample(hosts, min(n, len(hosts))) + rng.sample(nets, 2)
        return "\n".join(picks) + "\n"

    def test_import_then_undo_leaves_the_store_as_it_was(self):
        for seed in (11, 12, 13):
            rng = random.Random(seed)
            hosts, nets = self.random_pool(rng)
            addrs = hosts + ["192.0.2.50", "198.51.100.9"]
            self.import_("--format", "csv", "--source", "base%d" % seed,
                         self.write("base%d.csv" % seed, self.random_csv(rng, hosts, nets, 40, "b")))
            self.import_("--format", "list", "--source", "drop",
                         self.write("drop%d.txt" % seed, self.random_list(rng, hosts, nets, 6)))
            before = self.state(addrs)
            # an import of evidence, operator rows and listings over the same addresses
            self.import_("--format", "csv", "--source", "feed%d" % seed,
                         self.write("feed%d.csv" % seed, self.random_csv(rng, hosts, nets, 50, "f")))
            changed = self.state(addrs)
            self.assertNotEqual(before, changed)
            r = self.ctl_ok("undo", str(self.last_id()))
            self.assertTrue(r.out.startswith("undone import "), r.out)
            self.assert_same_state(before, self.state(addrs))
            # a list import with its own dataset, over listed entries
            self.import_("--format", "list", "--source", "extra", "--code", "127.0.0.3",
                         self.write("extra%d.txt" % seed, self.random_list(rng, hosts, nets, 8)))
            self.ctl_ok("undo", str(self.last_id()))
            self.assert_same_state(before, self.state(addrs))
            self.ctl_ok("check")

    def test_undo_of_a_middle_import_keeps_the_later_ones(self):
        arf = sorted(os.path.join(FIXTURES, "arf", f) for f in os.listdir(os.path.join(FIXTURES, "arf"))
                     if f.startswith(("01", "02", "03", "04")))
        self.import_(*arf)
        addrs = ["192.0.2.45", "2001:db8:40::17", "203.0.113.57", "198.51.100.73",
                 "198.51.100.7", "198.51.100.20", "192.0.2.99"]
        before = self.state(addrs)
        # the middle import: a list of its own dataset, over an ARF address too
        self.import_("--format", "list", "--source", "drop",
                     self.write("drop.txt", "198.51.100.0/27\n192.0.2.45\n203.0.113.57\n"))
        middle = self.last_id()
        # a later one: more reports on the same addresses, and another list
        self.import_(os.path.join(FIXTURES, "arf", "05-not-spam.eml"))
        self.import_("--format", "list", "--source", "local", "--code", "127.0.0.3",
                     self.write("local.txt", "192.0.2.99\n203.0.113.57\n"))
        later = self.state(["192.0.2.45", "203.0.113.57", "192.0.2.99"])

        r = self.ctl_ok("undo", str(middle), "--json")
        doc = json.loads(r.out)
        self.assertEqual(doc["import"]["id"], middle)
        self.assertEqual(doc["import"]["state"], "undone")
        # drop's /27 goes back whole; the two addresses later imports wrote
        # to again are merged
        self.assertEqual(doc["undone"]["entries"], 1)
        self.assertEqual(doc["undone"]["kept"], 2)

        # what only the middle import touched is as before it
        after = self.state(addrs)
        for addr in ("2001:db8:40::17", "198.51.100.73", "198.51.100.7", "198.51.100.20"):
            self.assertEqual(before[0][addr], after[0][addr], addr)
        # the later imports' listings and reports stay; drop's are gone
        self.assertEqual(after[0]["192.0.2.99"], later[0]["192.0.2.99"])
        doc = after[0]["203.0.113.57"]
        self.assertEqual(doc["codes"], ["127.0.0.3"])
        self.assertEqual(after[0]["192.0.2.45"]["counts"], later[0]["192.0.2.45"]["counts"])
        self.assertFalse(after[0]["192.0.2.45"]["listed"] and
                         "127.0.0.4" in after[0]["192.0.2.45"].get("codes", []))
        self.assertEqual(after[0]["198.51.100.20"]["listed"], False)
        self.ctl_ok("check")

    def test_imports_lists_each_run_with_its_counts(self):
        self.assertEqual(self.imports(), [])
        self.assertEqual(self.ctl_ok("imports").out, "no imports recorded\n")
        path = self.write("drop.txt", "192.0.2.0/24\n198.51.100.7\n")
        self.import_("--format", "list", "--source", "drop", path, env={"SUDO_USER": "alice"})
        arf = [os.path.join(FIXTURES, "arf", f) for f in
               ("01-abuse-ipv4.eml", "07-malformed-missing-feedback-part.eml")]
        r = self.ctl("import", *arf, env={"SUDO_USER": "bob"})
        self.assertEqual(r.rc, 1)  # one report rejected
        self.import_("--dry-run", "--format", "list", path)  # records nothing
        log = self.imports()
        self.assertEqual(len(log), 2)
        first, second = log
        self.assertEqual(first["id"], 1)
        self.assertEqual(first["state"], "done")
        self.assertEqual(first["who"], "alice")
        self.assertEqual(first["source"], "drop")
        self.assertEqual(first["format"], "list")
        self.assertEqual(first["files"], path)
        self.assertFalse(first["sync"])
        self.assertEqual(first["counts"], {"read": 2, "imported": 2, "duplicates": 0,
                                           "rejected": 0, "changed": 2})
        self.assertEqual(first["time"], "2026-11-27T12:00:00Z")
        self.assertEqual(second["id"], 2)
        self.assertEqual(second["who"], "bob")
        self.assertEqual(second["source"], "")
        self.assertEqual(second["format"], "arf")
        self.assertEqual(second["files"], ", ".join(arf))
        self.assertEqual(second["counts"]["read"], 2)
        self.assertEqual(second["counts"]["rejected"], 1)
        text = self.ctl_ok("imports").out.splitlines()
        self.assertTrue(text[0].startswith("ID "), text)
        self.assertEqual(len(text), 3)
        self.assertIn("alice", text[1])
        self.assertIn(path, text[1])

    def test_prune_drops_old_undo_records_only(self):
        old = self.write("old.txt", "192.0.2.0/24\n")
        new = self.write("new.txt", "198.51.100.0/24\n")
        self.import_("--format", "list", "--source", "old", old, now="2026-10-01T00:00:00Z")
        self.import_("--format", "list", "--source", "new", new)
        r = self.ctl_ok("prune", "--older-than", "30d")
        self.assertEqual(r.out.splitlines()[0], "pruned 1 import, 1 undo records")
        states = {i["source"]: i["state"] for i in json.loads(self.ctl_ok("imports", "--json").out)}
        self.assertEqual(states, {"old": "pruned", "new": "done"})
        r = self.ctl_fail(1, "undo", "1")
        self.assertIn("pruned", r.err)
        # The data stays; the newer import still undoes.
        self.assertTrue(self.show_json("192.0.2.1")["listed"])
        self.ctl_ok("undo", "2")
        self.assertFalse(self.show_json("198.51.100.1")["listed"])
        self.ctl_ok("check")
        # A duration is needed: a date (a typo away from "everything") is refused.
        self.ctl_fail(2, "prune")
        self.ctl_fail(2, "prune", "--older-than", "2026-01-01")

    def test_undo_errors(self):
        self.import_("--format", "list", "--source", "drop",
                     self.write("drop.txt", "192.0.2.0/24\n"))
        r = self.ctl_fail(1, "undo", "9")
        self.assertIn("no import 9", r.err)
        self.ctl_ok("undo", "1")
        r = self.ctl_fail(1, "undo", "1")
        self.assertIn("import 1 is undone already", r.err)
        self.assertEqual(self.imports()[0]["state"], "undone")
        r = self.ctl_fail(2, "undo", "one")
        self.assertIn("'one' is not an import id", r.err)
        self.ctl_fail(2, "undo")
        self.ctl_fail(2, "undo", "1", "2")
        self.assertFalse(self.show_json("192.0.2.1")["listed"])


if __name__ == "__main__":
    unittest.main()
