"""dnsblctl remove and datasets: every list import is a dataset of its own
(its --source), an address two datasets list answers both values, and
remove takes an entry whole, one dataset's part, or the operator's
decision out of the store, keeping the operator history. Each test has a
fresh store and a fixed clock (ctlhelp.CtlTestCase)."""

import json
import os
import unittest

from ctlhelp import CtlTestCase


class TestRemove(CtlTestCase):
    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def import_list(self, source, text, *extra):
        path = self.write(source + ".txt", text)
        self.ctl_ok("import", "--format", "list", "--source", source, *extra, path)

    def codes(self, addr):
        doc = self.show_json(addr)
        return sorted(doc["codes"]) if doc["listed"] else []

    def test_two_datasets_answer_both_values_and_remove_takes_one(self):
        self.import_list("alpha", "192.0.2.0/24\n198.51.100.7\n")
        self.import_list("beta", "192.0.2.0/24\n203.0.113.9\n", "--code", "127.0.0.3")
        # Neither import overwrote the other's word on the shared prefix.
        self.assertEqual(self.codes("192.0.2.5"), ["127.0.0.3", "127.0.0.4"])
        rows = {r["prefix"]: r for r in self.list_json()}
        self.assertEqual(len(rows), 3)

        r = self.ctl_ok("remove", "192.0.2.0/24", "--dataset", "beta", "--by", "carol")
        self.assertEqual(r.out, "removed dataset beta from 192.0.2.0/24\n")
        self.assertEqual(self.codes("192.0.2.5"), ["127.0.0.4"])
        self.assertEqual(self.codes("203.0.113.9"), ["127.0.0.3"])
        # Gone already: nothing to remove, nothing written.
        r = self.ctl_fail(1, "remove", "192.0.2.0/24", "--dataset", "beta")
        self.assertIn("no part of dataset beta (its datasets: alpha)", r.err)
        hist = self.show_json("192.0.2.5")["operator_history"]
        self.assertEqual([(h["action"], h["by"], h["dataset"]) for h in hist],
                         [("remove", "carol", "beta")])

        # The last part gone, the entry goes; a store check stays clean.
        self.ctl_ok("remove", "192.0.2.0/24", "--dataset", "alpha")
        self.assertEqual(self.codes("192.0.2.5"), [])
        self.assertNotIn("192.0.2.0/24", {r["prefix"] for r in self.list_json()})
        self.ctl_ok("check")

    def test_remove_operator_decision_lets_the_dataset_answer_again(self):
        self.import_list("drop", "198.51.100.0/24\n")
        self.ctl_ok("allow", "198.51.100.0/24", "--reason", "customer")
        self.assertEqual(self.codes("198.51.100.1"), [])
        # The allow shows what it overrides, in text and JSON.
        self.assertEqual(self.show_text("198.51.100.1")["overrides"],
                         "drop 127.0.0.4 at 198.51.100.0/24")
        self.assertEqual(self.show_json("198.51.100.1")["overrides"],
                         [{"dataset": "drop", "code": "127.0.0.4", "prefix": "198.51.100.0/24"}])
        self.ctl_ok("remove", "198.51.100.0/24", "--dataset", "operator", "--reason", "ended")
        self.assertNotIn("overrides", self.show_text("198.51.100.1"))
        self.assertEqual(self.show_json("198.51.100.1")["overrides"], [])
        self.assertEqual(self.codes("198.51.100.1"), ["127.0.0.4"])
        r = self.ctl_fail(1, "remove", "198.51.100.0/24", "--dataset", "operator")
        self.assertIn("holds no operator decision", r.err)

    def test_remove_whole_entry_with_its_evidence_and_inner_entries_kept(self):
        self.ctl_ok("add", "192.0.2.0/24", "--reason", "net")
        self.ctl_ok("add", "192.0.2.7", "--reason", "host")
        self.ctl_ok("remove", "192.0.2.0/24")
        self.assertEqual(self.codes("192.0.2.8"), [])
        self.assertEqual(self.codes("192.0.2.7"), ["127.0.0.2"])
        self.ctl_ok("check")
        r = self.ctl_fail(1, "remove", "192.0.2.0/24")
        self.assertIn("no such entry", r.err)
        # A prefix that covers entries is not one of them.
        r = self.ctl_fail(1, "remove", "192.0.0.0/16")
        self.assertIn("no such entry", r.err)

    def test_zone_serves_only_its_datasets_for_list_imports(self):
        self.import_list("drop", "198.51.100.0/24\n")
        self.import_list("local", "203.0.113.0/24\n")
        conf = self.write("z.conf", 'zone "bl.example" { datasets = {"local"} }\n')
        out = self.ctl_ok("list", "--json", "--zone-config", conf).out
        rows = {r["prefix"]: r for r in json.loads(out)}
        self.assertFalse(rows["198.51.100.0/24"]["zones"][0]["listed"])
        self.assertTrue(rows["203.0.113.0/24"]["zones"][0]["listed"])
        # --zone names the dataset of a list, as for rbldnsd data: a zone
        # serving "bl.example" alone answers it, and not the others.
        path = self.write("z.txt", "192.0.2.0/25\n")
        self.ctl_ok("import", "--format", "list", "--zone", "bl.example", path)
        conf2 = self.write("z2.conf", 'zone "bl.example" { datasets = {"bl.example"} }\n')
        out = self.ctl_ok("list", "--json", "--listed", "--zone-config", conf2).out
        self.assertEqual([r["prefix"] for r in json.loads(out)], ["192.0.2.0/25"])

    def test_usage(self):
        r = self.ctl_fail(2, "remove", "192.0.2.1", "--dataset", "")
        self.assertIn("--dataset", r.err)


if __name__ == "__main__":
    unittest.main()
