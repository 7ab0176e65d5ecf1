"""dnsblctl import --sync: the input becomes the whole truth of its
datasets (its --source, or the datasets the data names): what left the
file leaves the store, in one write transaction; a sync that would remove
more than --max-remove (default 50%) of what the datasets held, or whose
input had rejects, changes nothing unless --force. Other datasets and the
operator's decisions are never touched. Fresh store and fixed clock per
test (ctlhelp.CtlTestCase)."""

import json
import os
import unittest

from ctlhelp import CtlTestCase


class TestSync(CtlTestCase):
    def write(self, name, lines):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write("".join(l + "\n" for l in lines))
        return path

    def sync(self, source, lines, *extra, rc=0):
        path = self.write(source + ".txt", lines)
        r = self.ctl("import", "--format", "list", "--source", source, "--sync", *extra, path)
        self.assertEqual(r.rc, rc, r.err)
        return r

    def prefixes(self, dataset=None):
        kw = ("--dataset", dataset) if dataset else ()
        return sorted(r["prefix"] for r in json.loads(self.ctl_ok("list", "--json", *kw).out))

    def listed(self, addr):
        return self.show_json(addr)["listed"]

    def test_what_left_the_file_leaves_the_store(self):
        ten = ["198.51.100.%d" % i for i in range(10)]
        r = self.sync("drop", ten)
        self.assertIn("synced: 0 entries of its datasets before, 0 removed", r.out)
        # 1 of 10 left the file, 1 came in.
        r = self.sync("drop", ten[1:] + ["203.0.113.0/24"])
        self.assertIn("synced: 10 entries of its datasets before, 1 removed", r.out)
        self.assertFalse(self.listed("198.51.100.0"))
        self.assertTrue(self.listed("203.0.113.9"))
        self.assertEqual(self.prefixes("drop"), sorted(ten[1:] + ["203.0.113.0/24"]))
        # The same file again changes nothing: no new serial.
        before = self.ctl_ok("check").out
        r = self.sync("drop", ten[1:] + ["203.0.113.0/24"])
        self.assertIn("0 removed, 0 changed", r.out)
        self.assertEqual(self.ctl_ok("check").out, before)
        self.ctl_ok("check")

    def test_other_datasets_and_the_operator_are_kept(self):
        self.sync("drop", ["192.0.2.0/24", "198.51.100.7"])
        self.sync("local", ["192.0.2.0/24", "203.0.113.5"])
        self.ctl_ok("add", "198.51.100.7", "--reason", "by hand")
        self.sync("drop", ["192.0.2.0/24", "198.51.100.8"], "--max-remove", "60")
        # local's word on the shared /24 and its own entry stay.
        self.assertEqual(self.prefixes("local"), ["192.0.2.0/24", "203.0.113.5"])
        # drop's listing of .7 went; the operator's listing of it stays.
        self.assertEqual(self.prefixes("drop"), ["192.0.2.0/24", "198.51.100.8"])
        doc = self.show_json("198.51.100.7")
        self.assertTrue(doc["listed"])
        self.assertEqual(doc["why"], "manual")

    def test_a_cut_or_empty_input_delists_nothing(self):
        ten = ["198.51.100.%d" % i for i in range(10)]
        self.sync("drop", ten)
        # Four of ten is within 50%; six is not.
        r = self.sync("drop", ten[:4], rc=1)
        self.assertIn("would remove 6 of the 10 entries", r.err)
        self.assertIn("--force", r.err)
        self.assertEqual(len(self.prefixes("drop")), 10)
        r = self.sync("drop", [], rc=1)
        self.assertEqual(len(self.prefixes("drop")), 10)
        # A stricter limit, then --force.
        r = self.sync("drop", ten[:8], "--max-remove", "10", rc=1)
        self.assertIn("more than 10%", r.err)
        r = self.sync("drop", ten[:4], "--force")
        self.assertIn("6 removed", r.out)
        self.assertEqual(len(self.prefixes("drop")), 4)

    def test_rejects_stop_a_sync_unless_forced(self):
        ten = ["198.51.100.%d" % i for i in range(10)]
        self.sync("drop", ten)
        r = self.sync("drop", ten[:9] + ["not an address"], rc=1)
        self.assertIn("nothing synced: 1 record was rejected", r.err)
        self.assertEqual(len(self.prefixes("drop")), 10)
        self.sync("drop", ten[:9] + ["not an address"], "--force", rc=1)  # rc 1: a reject
        self.assertEqual(len(self.prefixes("drop")), 9)

    def test_evidence_is_not_list_data(self):
        path = os.path.join(self.tmp, "t.csv")
        with open(path, "w") as f:
            f.write("address,kind,weight,time\n192.0.2.1,abuse,1,2026-11-27T11:00:00Z\n")
        r = self.ctl("import", "--format", "csv", "--sync", path)
        self.assertEqual(r.rc, 1)
        self.assertIn("--sync takes list data", r.err)
        self.assertFalse(self.show_json("192.0.2.1")["listed"])
        self.assertEqual(self.prefixes(), [])

    def test_usage(self):
        path = self.write("x.txt", ["192.0.2.1"])
        r = self.ctl_fail(2, "import", "--format", "list", "--force", path)
        self.assertIn("--sync", r.err)
        r = self.ctl_fail(2, "import", "--format", "list", "--sync", "--max-remove", "150", path)
        self.assertIn("--max-remove", r.err)


if __name__ == "__main__":
    unittest.main()
