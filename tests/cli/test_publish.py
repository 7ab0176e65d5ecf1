"""dnsblctl publish: each zone's published view for zone transfers
(doc/store-format.md "Published view"). The published records are those
export --format zone writes; the serial starts at the publish time and
moves by one only when the answers changed; every write command publishes
again with the config the store remembers; time alone (a score decaying
under the threshold) moves the serial at the next publish; the journal
holds the last journal_max changes, which publish --show --since prints as
IXFR would send them."""

import calendar
import os
import re
import time
import unittest

from ctlhelp import CtlTestCase

NOW = "2026-11-27T12:00:00Z"
T0 = calendar.timegm(time.strptime(NOW, "%Y-%m-%dT%H:%M:%SZ"))
DAY = 86400
ZONE = "bl.example"
LINE = re.compile(r"^(\S+): serial (\d+) \((first publish|unchanged|changed, was (\d+))\), "
                  r"names added (\d+), removed (\d+), changed (\d+); (\d+) names, (\d+) records; "
                  r"[0-9.]+ s$")


class PublishTestCase(CtlTestCase):
    def setUp(self):
        super().setUp()
        self.now = NOW
        self.conf = self.write_conf('zone "%s" { }\n' % ZONE)

    def write_conf(self, text, name="dnsbld.conf"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def publish(self, *args, **kw):
        """publish ARGS; the zone lines parsed, by zone name."""
        r = self.ctl_ok("publish", *args, **kw)
        out = {}
        for line in r.out.splitlines():
            m = LINE.match(line)
            self.assertIsNotNone(m, line)
            out[m.group(1)] = {
                "serial": int(m.group(2)), "what": m.group(3).split(",")[0],
                "added": int(m.group(5)), "removed": int(m.group(6)),
                "changed": int(m.group(7)), "names": int(m.group(8)),
                "records": int(m.group(9))}
        return out

    def show(self, *args, zone=ZONE, **kw):
        """publish --show: (header fields, record lines)."""
        r = self.ctl_ok("publish", "--show", "--zone", zone, *args, **kw)
        lines = r.out.splitlines()
        head = lines[0].split()
        self.assertEqual(head[:2], [";", "zone"])
        fields = dict(zip(head[3::2], head[4::2]))
        return fields, lines[1:]

    def serial(self, zone=ZONE):
        return int(self.show(zone=zone)[0]["serial"])

    def records(self, zone=ZONE, **kw):
        return sorted(self.show(zone=zone, **kw)[1])

    def export_records(self, zone=ZONE, **kw):
        """export --format zone without the apex (SOA, NS) and comments."""
        out = self.ctl_ok("export", "--format", "zone", "--zone", zone, **kw).out
        recs = []
        for line in out.splitlines():
            if not line or line.startswith(";"):
                continue
            if line.split()[0] == zone + "." and line.split()[3] in ("SOA", "NS"):
                continue
            recs.append(line)
        return sorted(recs)

    def fill(self):
        """Listings on and off octet boundaries, an allow inside one, a
        code, IPv6, and a delisted host under a listed prefix."""
        self.ctl_ok("--no-publish", "add", "192.0.2.0/24", "--reason", "net")
        self.ctl_ok("--no-publish", "add", "198.51.100.0/23", "--code", "127.0.0.10")
        self.ctl_ok("--no-publish", "add", "10.16.0.0/12", "--reason", "wide")
        self.ctl_ok("--no-publish", "allow", "192.0.2.77", "--reason", "partner")
        self.ctl_ok("--no-publish", "add", "2001:db8:4::/48", "--reason", "v6")
        self.ctl_ok("--no-publish", "add", "203.0.113.9")


class TestPublish(PublishTestCase):
    def test_first_publish_equals_export_and_repeats_unchanged(self):
        self.fill()
        zones = self.publish("--config", self.conf)
        z = zones[ZONE]
        self.assertEqual((z["serial"], z["what"]), (T0, "first publish"))
        self.assertEqual(z["added"], z["names"])
        pub = self.records()
        self.assertEqual(pub, self.export_records())
        self.assertEqual(len(pub), z["records"])
        # The pieces the representation must have: a wildcard, a split
        # prefix, the HINFO filler of the allow, IPv6 nibbles, the test point.
        text = "\n".join(pub)
        for want in ("*.2.0.192.bl.example.", "*.100.51.198.bl.example.",
                     "*.101.51.198.bl.example.", "*.16.10.bl.example.", "*.31.10.bl.example.",
                     "77.2.0.192.bl.example.\t2100\tIN\tHINFO",
                     "*.4.0.0.0.8.b.d.0.1.0.0.2.bl.example.", "2.0.0.127.bl.example.",
                     "9.113.0.203.bl.example."):
            self.assertIn(want, text)
        self.assertNotIn("77.2.0.192.bl.example.\t2100\tIN\tA", text)
        # Nothing changed: nothing moves, even later.
        again = self.publish("--config", self.conf, now=T0 + 600)[ZONE]
        self.assertEqual((again["serial"], again["what"]), (T0, "unchanged"))
        fields, _ = self.show()
        self.assertEqual(fields["published"], NOW)
        self.assertEqual(fields["oldest"], str(T0))

    def test_write_commands_publish_again(self):
        self.publish("--config", self.conf)
        serial = T0
        steps = [("add", "192.0.2.0/24"), ("allow", "192.0.2.7"), ("delist", "192.0.2.0/24"),
                 ("add", "198.51.100.0/24"), ("remove", "198.51.100.0/24")]
        for cmd, arg in steps:
            self.ctl_ok(cmd, arg)
            serial += 1
            self.assertEqual(self.serial(), serial, "after %s %s" % (cmd, arg))
            self.assertEqual(self.records(), self.export_records(), "after %s" % cmd)
        # import, and its undo.
        rows = os.path.join(self.tmp, "list.txt")
        with open(rows, "w") as f:
            f.write("203.0.113.0/24\n")
        self.ctl_ok("import", "--format", "list", "--source", "drop", rows)
        self.assertEqual(self.serial(), serial + 1)
        self.assertIn("*.113.0.203.bl.example.", "\n".join(self.records()))
        ident = self.ctl_ok("imports").out.splitlines()[-1].split()[0]
        self.ctl_ok("undo", ident)
        self.assertEqual(self.serial(), serial + 2)
        self.assertNotIn("*.113.0.203.bl.example.", "\n".join(self.records()))
        # --no-publish leaves it to the next publish, which remembers the config.
        self.ctl_ok("--no-publish", "add", "192.0.2.0/24")
        self.assertEqual(self.serial(), serial + 2)
        z = self.publish()[ZONE]
        self.assertEqual((z["serial"], z["what"]), (serial + 3, "changed"))

    def test_a_missing_config_is_a_warning_not_a_failed_write(self):
        self.publish("--config", self.conf)
        os.unlink(self.conf)
        r = self.ctl("add", "192.0.2.0/24")
        self.assertEqual(r.rc, 0, r.err)
        self.assertIn("warning", r.err)
        self.assertIn("dnsbld.conf", r.err)
        self.assertEqual(self.serial(), T0)
        self.assertEqual(self.ctl_ok("show", "192.0.2.1", "--json").rc, 0)
        # And publish without a config the store can read fails.
        self.assertEqual(self.ctl("publish").rc, 1)

    def test_no_config_remembered(self):
        r = self.ctl_fail(2, "publish")
        self.assertIn("--config", r.err)
        # Writes without a remembered config say nothing about publishing.
        self.assertEqual(self.ctl_ok("add", "192.0.2.0/24").err, "")
        self.ctl_fail(1, "publish", "--show", "--zone", ZONE)

    def test_score_decay_moves_the_serial(self):
        rows = os.path.join(self.tmp, "ev.csv")
        with open(rows, "w") as f:
            f.write("address_or_prefix,kind,weight,time,reason\n"
                    "198.51.100.50,abuse,20,%s,spam\n" % NOW)
        self.ctl_ok("import", "--format", "csv", rows)
        self.publish("--config", self.conf)
        self.assertIn("50.100.51.198.bl.example.", "\n".join(self.records()))
        # A day later the score (half-life 7 days) is still over 10.
        z = self.publish(now=T0 + DAY)[ZONE]
        self.assertEqual((z["serial"], z["what"]), (T0, "unchanged"))
        # Eight days later it is under: the name goes, the serial moves.
        z = self.publish(now=T0 + 8 * DAY)[ZONE]
        self.assertEqual((z["serial"], z["what"], z["removed"]), (T0 + 1, "changed", 1))
        self.assertNotIn("50.100.51.198.bl.example.", "\n".join(self.records()))
        self.assertEqual(self.records(), self.export_records(now=T0 + 8 * DAY))
        # The change as IXFR sends it: the old serial, the deletions, the new one.
        _, lines = self.show("--since", str(T0))
        self.assertEqual(lines[0], "; from serial %d" % T0)
        self.assertTrue(all(line.startswith("- 50.100.51.198.bl.example.")
                            for line in lines[1:3]), lines)
        self.assertEqual(lines[3:], ["; to serial %d" % (T0 + 1)])

    def test_journal_is_bounded(self):
        conf = self.write_conf('zone "%s" { journal_max = 2 }\n' % ZONE, "j.conf")
        self.publish("--config", conf)
        for i in range(4):
            self.ctl_ok("add", "192.0.2.%d" % (10 + i))
        fields, _ = self.show()
        self.assertEqual((fields["serial"], fields["oldest"]), (str(T0 + 4), str(T0 + 2)))
        r = self.ctl_fail(1, "publish", "--show", "--zone", ZONE, "--since", str(T0 + 1))
        self.assertIn("journal", r.err)
        _, lines = self.show("--since", str(T0 + 2))
        self.assertEqual([l for l in lines if l.startswith(";")],
                         ["; from serial %d" % (T0 + 2), "; to serial %d" % (T0 + 3),
                          "; from serial %d" % (T0 + 3), "; to serial %d" % (T0 + 4)])
        self.assertEqual(len([l for l in lines if l.startswith("+ 13.2.0.192.bl.example.")]), 2)
        # Current: nothing to send.
        _, lines = self.show("--since", str(T0 + 4))
        self.assertEqual(lines, [])

    def test_zones_of_the_config_and_its_db(self):
        self.ctl_ok("--no-publish", "add", "192.0.2.0/24")
        conf = self.write_conf('db = "%s"\nzone "%s" { ttl = 60 }\nzone "Other.Example." { }\n'
                               % (self.db, ZONE), "two.conf")
        # The config's db serves when no --db is given.
        zones = self.publish("--config", conf, db=None)
        self.assertEqual(sorted(zones), ["bl.example", "other.example"])
        self.assertIn("\t60\tIN\tA", "\n".join(self.records()))
        self.assertIn("*.2.0.192.other.example.", "\n".join(self.records(zone="other.example")))
        # --db wins over it, and --zone publishes one.
        other = os.path.join(self.tmp, "other")
        self.init_store(other)
        zones = self.publish("--config", conf, "--zone", "other.example", db=other)
        self.assertEqual(list(zones), ["other.example"])
        self.assertNotIn("*.2.0.192", "\n".join(self.records(zone="other.example", db=other)))
        r = self.ctl_fail(1, "publish", "--config", conf, "--zone", "nope.example")
        self.assertIn("nope.example", r.err)


if __name__ == "__main__":
    unittest.main()
