"""dnsblctl show --evidence N: the evidence trail of an address as the
imports of $DNSBL_FIXTURES leave it (fixtures/README.md), in text and
JSON; what identifies each kind of record (ARF Message-ID, reporter,
Feedback-Type and auth results; trap envelope; fail2ban jail; SNDS
period and colour); its pruning by age (--evidence-days) on a newer
import; and show without --evidence printing no trail."""

import json
import os
import re
import unittest

from ctlhelp import CtlTestCase
from dnsbltest import FIXTURES

ARF = os.path.join(FIXTURES, "arf")
NOW = "2025-06-03T00:00:00Z"

# "  TIME KIND [xWEIGHT] DATASET name=value ..."
LINE = re.compile(r"^  (\S+) (\S+)(?: x(\S+))? (\S+)((?: [a-z-]+=(?:\"(?:[^\"\\]|\\.)*\"|\S+))*)$")
PAIR = re.compile(r" ([a-z-]+)=(\"(?:[^\"\\]|\\.)*\"|\S+)")


def trail(out):
    """show's evidence block: a list of (time, kind, dataset, {name: value})."""
    lines = out.splitlines()
    heads = [i for i, l in enumerate(lines) if l.startswith("evidence: ")]
    if not heads:
        return None
    start = heads[0]
    n = int(lines[start].split(": ")[1])
    rows = []
    for line in lines[start + 1:start + 1 + n]:
        m = LINE.match(line)
        if not m:
            raise AssertionError("not an evidence line: %r" % line)
        pairs = {}
        for name, value in PAIR.findall(m.group(5)):
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            pairs[name] = value
        rows.append((m.group(1), m.group(2), m.group(4), pairs))
    return rows


class EvidenceTestCase(CtlTestCase):
    def setUp(self):
        super().setUp()
        self.now = NOW

    def arf_files(self):
        return sorted(os.path.join(ARF, f) for f in os.listdir(ARF))

    def import_ok(self, *args):
        r = self.ctl(*args)
        self.assertEqual(r.rc, 0, r.err)
        return r

    def show_trail(self, addr, n, *opts):
        r = self.ctl_ok("show", addr, "--evidence", str(n), *opts)
        rows = trail(r.out)
        self.assertIsNotNone(rows, r.out)
        return rows


class TestArfEvidence(EvidenceTestCase):
    def setUp(self):
        super().setUp()
        r = self.ctl("import", *self.arf_files())
        self.assertEqual(r.rc, 1, r.err)  # 07 is rejected (fixtures/README.md)

    def test_report_identifiers(self):
        rows = self.show_trail("192.0.2.45", 5)
        self.assertEqual([(t, k, d) for t, k, d, _ in rows],
                         [("2025-06-02T07:48:16Z", "abuse", "arf"),
                          ("2025-06-02T11:14:52Z", "not_spam", "arf"),
                          ("2025-06-02T14:27:19Z", "abuse", "mbox")])
        first = rows[0][3]
        self.assertEqual(first["message-id"], "weekly-552-81@mailer.example.com")
        self.assertEqual(first["report-id"], "cfl-0001-20250602@complaints.example.net")
        self.assertEqual(first["reporter"], "loop@complaints.example.net")
        self.assertEqual(first["feedback-type"], "abuse")
        self.assertEqual((first["spf"], first["dkim"]), ("pass", "pass"))
        self.assertNotIn("dmarc", first)
        self.assertEqual(rows[1][3]["feedback-type"], "not-spam")

    def test_last_n_is_the_newest(self):
        rows = self.show_trail("192.0.2.45", 1)
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0][0], "2025-06-02T14:27:19Z")

    def test_auth_failure_results(self):
        rows = self.show_trail("198.51.100.99", 5)
        self.assertEqual(len(rows), 1)
        _, kind, _, ident = rows[0]
        self.assertEqual(kind, "auth_failure")
        self.assertEqual(ident["feedback-type"], "auth-failure")
        self.assertEqual((ident["spf"], ident["dmarc"]), ("fail", "fail"))
        self.assertNotIn("dkim", ident)

    def test_incidents_and_json(self):
        r = self.ctl_ok("show", "198.51.100.14", "--evidence", "3")
        self.assertIn(" fraud x4 mbox ", r.out)
        doc = json.loads(self.ctl_ok("show", "198.51.100.14", "--json", "--evidence", "3").out)
        self.assertEqual(len(doc["evidence"]), 1)
        ev = doc["evidence"][0]
        self.assertEqual(set(ev), {"time", "kind", "weight", "dataset", "ident"})
        self.assertEqual((ev["time"], ev["kind"], ev["weight"], ev["dataset"]),
                         ("2025-06-02T13:52:38Z", "fraud", 4, "mbox"))
        self.assertEqual(ev["ident"]["feedback-type"], "fraud")

    def test_no_trail_without_the_option(self):
        r = self.ctl_ok("show", "192.0.2.45")
        self.assertIsNone(trail(r.out))
        self.assertNotIn("evidence", json.loads(self.ctl_ok("show", "192.0.2.45", "--json").out))

    def test_rejected_and_unknown_have_none(self):
        for addr in ("203.0.113.199", "192.0.2.201", "192.0.2.99"):
            self.assertEqual(self.show_trail(addr, 5), [], addr)
        doc = json.loads(self.ctl_ok("show", "192.0.2.99", "--json", "--evidence", "2").out)
        self.assertEqual(doc["evidence"], [])

    def test_reimport_adds_nothing_and_check_passes(self):
        self.ctl("import", *self.arf_files())
        self.assertEqual(len(self.show_trail("192.0.2.45", 10)), 3)
        self.assertIn("consistent", self.ctl_ok("check").out)


class TestFeedEvidence(EvidenceTestCase):
    def test_traps(self):
        self.ctl("import", "--source", "trapnet", os.path.join(FIXTURES, "traps", "traps.csv"))
        rows = self.show_trail("203.0.113.7", 10)
        self.assertGreaterEqual(len(rows), 2)
        t, kind, dataset, ident = rows[0]
        self.assertEqual((t, kind, dataset), ("2025-06-01T09:12:40Z", "trap", "trapnet"))
        self.assertEqual(ident, {"helo": "mx.sprayer.example", "mail-from": "bulk@sprayer.example",
                                 "rcpt-to": "spamtrap-a@bl.example"})
        self.assertIn("spamtrap-b@bl.example", [r[3].get("rcpt-to") for r in rows])

    def test_fail2ban_jail(self):
        self.ctl("import", os.path.join(FIXTURES, "fail2ban", "fail2ban.log"))
        rows = self.show_trail("203.0.113.9", 10)
        self.assertTrue(rows)
        self.assertEqual(rows[0][1:3], ("other", "fail2ban"))
        self.assertEqual(rows[0][3], {"jail": "postfix-sasl"})

    def test_snds_period_and_colour(self):
        self.ctl("import", os.path.join(FIXTURES, "snds", "snds-data-2025-06-01.csv"))
        rows = self.show_trail("192.0.2.12", 10)
        self.assertEqual(len(rows), 1)  # the row stands for its trap hits and complaints
        t, kind, dataset, ident = rows[0]
        self.assertEqual((kind, dataset), ("snds", "snds"))
        self.assertEqual(ident, {"colour": "yellow",
                                 "period": "2025-06-01T00:00:00Z/2025-06-01T23:59:00Z"})

    def test_covering_entries_merge(self):
        # A blocked /29 of the IP-status export and a trap hit inside it:
        # the address shows both entries' records, oldest first.
        traps = os.path.join(self.tmp, "traps.csv")
        with open(traps, "w") as f:
            f.write("timestamp,ip,helo,mail_from,rcpt_to\n"
                    "2025-06-01T08:00:00Z,192.0.2.66,h.example,\"a b\"@x.example,t@bl.example\n")
        status = os.path.join(FIXTURES, "snds", "snds-ipstatus.csv")
        self.import_ok("import", traps)
        self.import_ok("import", "--format", "snds", status)
        rows = self.show_trail("192.0.2.66", 5)
        self.assertEqual([r[1] for r in rows], ["trap", "snds_status"])
        # A space: shown quoted, read back whole.
        self.assertEqual(rows[0][3]["mail-from"], "a b@x.example")
        self.assertEqual(rows[1][3], {"status": "blocked", "reason": "Blocked due to user "
                                      "complaints or other evidence of spamming"})
        self.assertEqual(len(self.show_trail("192.0.2.66", 1)), 1)
        self.assertEqual(self.show_trail("192.0.2.66", 1)[0][1], "snds_status")


class TestPruning(EvidenceTestCase):
    def report(self, name, when, msgid):
        """A copy of arf/01 (192.0.2.45) arriving at when, with its own Message-ID."""
        with open(os.path.join(ARF, "01-abuse-ipv4.eml")) as f:
            text = f.read()
        text = re.sub(r"(?m)^Arrival-Date: .*$", "Arrival-Date: " + when, text)
        text = text.replace("<cfl-0001-20250602@complaints.example.net>", "<%s>" % msgid)
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_old_evidence_goes_with_a_newer_import(self):
        old = self.report("old.eml", "Wed, 1 Jan 2025 10:00:00 +0000", "old@complaints.example.net")
        new = self.report("new.eml", "Mon, 2 Jun 2025 10:00:00 +0000", "new@complaints.example.net")
        self.import_ok("import", old)
        rows = self.show_trail("192.0.2.45", 5)
        self.assertEqual([r[3]["report-id"] for r in rows], ["old@complaints.example.net"])
        # 152 days later, past the default 90: the old record goes.
        self.import_ok("import", new)
        rows = self.show_trail("192.0.2.45", 5)
        self.assertEqual([r[3]["report-id"] for r in rows], ["new@complaints.example.net"])
        # The counters still hold both.
        self.assertEqual(self.show_json("192.0.2.45")["counts"]["abuse"], 2)
        self.assertIn("consistent", self.ctl_ok("check").out)

    def test_evidence_days_keeps_longer(self):
        old = self.report("old.eml", "Wed, 1 Jan 2025 10:00:00 +0000", "old@complaints.example.net")
        new = self.report("new.eml", "Mon, 2 Jun 2025 10:00:00 +0000", "new@complaints.example.net")
        self.import_ok("--evidence-days", "200", "import", old)
        self.import_ok("--evidence-days", "200", "import", new)
        self.assertEqual(len(self.show_trail("192.0.2.45", 5)), 2)
        # A shorter retention on the next write drops it.
        self.import_ok("--evidence-days", "30", "import",
                    self.report("newer.eml", "Tue, 3 Jun 2025 10:00:00 +0000",
                                "newer@complaints.example.net"))
        rows = self.show_trail("192.0.2.45", 5)
        self.assertEqual([r[3]["report-id"] for r in rows],
                         ["new@complaints.example.net", "newer@complaints.example.net"])


class TestUsage(EvidenceTestCase):
    def test_bad_counts(self):
        for bad in ("0", "-1", "x", "1001"):
            r = self.ctl_fail(2, "show", "192.0.2.45", "--evidence", bad)
            self.assertIn("--evidence", r.err)
        for bad in ("0", "36501", "3d"):
            r = self.ctl_fail(2, "--evidence-days", bad, "show", "192.0.2.45")
            self.assertIn("--evidence-days", r.err)


if __name__ == "__main__":
    unittest.main()
