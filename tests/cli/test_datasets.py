"""dnsblctl datasets: every named dataset with its kind, what the entries
hold of it (entries, listed, excluded, addresses), the format, files and
time of its last import, and with --zone-config the zones it feeds; an
import records the datasets it wrote to, and a name whose 32-bit id is
another's is refused before anything of it is written."""

import json
import os

from ctlhelp import CtlTestCase
from dnsbltest import FIXTURES

LATER = "2026-11-28T08:00:00Z"

# Two names with the same model_dataset_id (32-bit FNV-1a).
COLLIDE_A = "ds757038"
COLLIDE_B = "ds1009420"

CONF = ('zone "bl.example" { datasets = {"bl.example", "drop"} }\n'
        'zone "traps.bl.example" { datasets = {"traps.bl.example"} }\n'
        'zone "all.example" { }\n')


class TestDatasets(CtlTestCase):
    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def datasets(self, *args):
        return {d["name"]: d for d in json.loads(self.ctl_ok("datasets", "--json", *args).out)}

    def fill(self):
        self.drop = self.write("drop.txt", "198.51.100.0/24 ; SBL1\n"
                                           "203.0.113.128/25 ; SBL2\n"
                                           "198.51.100.7 ; inside the /24\n"
                                           "2001:db8::/48 ; SBL3\n"
                                           "2001:db8:1::5\n"
                                           "2001:db8:1::6 ; the same /64\n")
        self.ctl_ok("import", "--format", "list", "--source", "drop", self.drop)
        self.combined = os.path.join(FIXTURES, "rbldnsd", "bl.combined")
        r = self.ctl("import", "--format", "rbldnsd:combined", "--zone", "bl.example",
                     self.combined)
        self.assertEqual(r.rc, 0, r.err)  # a warning about the acl section
        self.arf = os.path.join(FIXTURES, "arf", "01-abuse-ipv4.eml")
        self.ctl("import", "--format", "arf", "--source", "complaints", self.arf)
        self.ctl_ok("add", "192.0.2.9", "--reason", "by hand")
        self.ctl_ok("allow", "192.0.2.10")

    def test_lists_every_dataset(self):
        self.fill()
        ds = self.datasets()
        # The combined file's second section bound to @ (its IPv6 data) is a
        # dataset of its own, so an address both list answers both values.
        self.assertEqual(set(ds), {"drop", "bl.example", "bl.example~2", "traps.bl.example",
                                   "complaints", "operator"})
        self.assertEqual(ds["bl.example~2"]["addresses"]["ipv4"], 0)
        self.assertGreater(ds["bl.example~2"]["listed"], 0)
        drop = ds["drop"]
        self.assertEqual(drop["kind"], "list")
        self.assertEqual((drop["entries"], drop["listed"], drop["excluded"]), (6, 6, 0))
        # IPv4: the union of the listed prefixes (the /32 is inside the /24);
        # IPv6: the /48's 65,536 /64s and one more for the two hosts.
        self.assertEqual(drop["addresses"], {"ipv4": 256 + 128, "ipv6_64s": 65536 + 1,
                                             "ipv6_prefixes": 3})
        self.assertEqual(drop["format"], "list")
        self.assertEqual(drop["files"], [self.drop])
        self.assertEqual(drop["last_import"], "2026-11-27T12:00:00Z")
        self.assertIsNone(drop["last_sync"])
        self.assertIsNone(drop["zones"])
        bl = ds["bl.example"]
        self.assertEqual(bl["kind"], "list")
        self.assertEqual(bl["format"], "rbldnsd:combined")
        self.assertEqual(bl["files"], [self.combined])
        self.assertEqual(bl["excluded"], 1)  # !192.0.2.40
        self.assertEqual(bl["listed"], bl["entries"] - 1)
        self.assertEqual(bl["addresses"]["ipv4"], 16)  # 192.0.2.32/28
        self.assertEqual(ds["traps.bl.example"]["listed"], 1)
        ev = ds["complaints"]
        self.assertEqual(ev["kind"], "evidence")
        self.assertEqual(ev["format"], "arf")
        self.assertEqual(ev["entries"], 1)
        self.assertEqual((ev["listed"], ev["addresses"]["ipv4"]), (0, 0))
        op = ds["operator"]
        self.assertEqual(op["kind"], "operator")
        self.assertEqual((op["entries"], op["listed"], op["excluded"]), (2, 1, 1))
        self.assertEqual(op["addresses"]["ipv4"], 1)
        # The text form: a header and a line per dataset.
        lines = self.ctl_ok("datasets").out.splitlines()
        self.assertEqual(lines[0].split()[:5], ["NAME", "KIND", "ENTRIES", "LISTED", "EXCLUDED"])
        rows = {line.split()[0]: line.split() for line in lines[1:]}
        self.assertEqual(rows["drop"][1:7], ["list", "6", "6", "0", "384", "65537"])
        self.assertEqual(rows["drop"][-1], self.drop)

    def test_zones_it_feeds(self):
        self.fill()
        conf = self.write("dnsbld.conf", CONF)
        ds = self.datasets("--zone-config", conf)
        self.assertEqual(ds["drop"]["zones"], ["bl.example", "all.example"])
        self.assertEqual(ds["traps.bl.example"]["zones"], ["traps.bl.example", "all.example"])
        self.assertEqual(ds["complaints"]["zones"], ["all.example"])
        self.assertEqual(ds["operator"]["zones"],
                         ["bl.example", "traps.bl.example", "all.example"])
        line = [l for l in self.ctl_ok("datasets", "--zone-config", conf).out.splitlines()
                if l.startswith("drop ")][0]
        self.assertIn(" bl.example,all.example ", line)
        self.ctl_fail(1, "datasets", "--zone-config", os.path.join(self.tmp, "missing.conf"))

    def test_reimport_moves_the_time(self):
        self.fill()
        other = self.write("drop2.txt", "198.51.100.0/24\n")
        self.now = LATER
        self.ctl_ok("import", "--format", "list", "--source", "drop", other)
        drop = self.datasets()["drop"]
        self.assertEqual(drop["last_import"], LATER)
        self.assertEqual(drop["files"], [other])
        # The entries still hold what the first import gave (no sync).
        self.assertEqual(drop["entries"], 6)
        # A dry run records nothing.
        self.ctl_ok("import", "--dry-run", "--format", "list", "--source", "fresh", other)
        self.assertNotIn("fresh", self.datasets())

    def test_collision_refused(self):
        a = self.write("a.txt", "192.0.2.1\n")
        b = self.write("b.txt", "192.0.2.2\n192.0.2.1\n")
        self.ctl_ok("import", "--format", "list", "--source", COLLIDE_A, a)
        r = self.ctl("import", "--format", "list", "--source", COLLIDE_B, b)
        self.assertEqual(r.rc, 1)
        self.assertIn("dataset %s" % COLLIDE_B, r.err)
        self.assertIn("that of dataset %s" % COLLIDE_A, r.err)
        self.assertIn("collide", r.err)
        # Nothing of the second name was written.
        self.assertEqual(set(self.datasets()), {COLLIDE_A})
        self.assertEqual(self.ctl("show", "192.0.2.2", "--json").rc, 0)
        self.assertFalse(json.loads(self.ctl_ok("show", "192.0.2.2", "--json").out)["known"])
        shown = json.loads(self.ctl_ok("show", "192.0.2.1", "--json").out)
        self.assertEqual(shown["sources"], [COLLIDE_A])

    def test_empty_store(self):
        self.assertEqual(json.loads(self.ctl_ok("datasets", "--json").out), [])
        self.assertEqual(len(self.ctl_ok("datasets").out.splitlines()), 1)
        self.ctl_fail(2, "datasets", "extra")
