"""dnsblctl import (and the commands that read what it wrote: show, top,
export): every fixture group of $DNSBL_FIXTURES imported into a fresh
store and checked against the totals of fixtures/README.md, re-imports
that change nothing, rejects with their file:line and the reject
directory, gzip, standard input, maildir, auto-detection, --dry-run, the
summary line, exit codes, and an import killed halfway then run again.
Each test gets a fresh temporary store (ctlhelp.CtlTestCase)."""

import gzip
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import time
import unittest

from ctlhelp import CtlTestCase, ctl_binary
from dnsbltest import FIXTURES

ARF = os.path.join(FIXTURES, "arf")
SNDS = os.path.join(FIXTURES, "snds")
RBLDNSD = os.path.join(FIXTURES, "rbldnsd")
MAILDIR = os.path.join(FIXTURES, "maildir")

# Close to the fixtures' own dates (June 2025), so scores have not decayed.
NOW = "2025-06-03T00:00:00Z"

SUMMARY = re.compile(r"^read (\d+), imported (\d+), duplicates (\d+), rejected (\d+), "
                     r"warnings (\d+), seconds \d+\.\d\d$")

SHOW_V2_KEYS = {"address", "prefix", "listed", "allowed", "code", "reason", "expires",
                "first_seen", "last_seen", "why", "state", "known", "score", "threshold",
                "complaints", "counts", "volume", "complaint_rate", "light", "codes",
                "clears_at", "sources", "auth_failures", "snds", "history", "operator_history",
                "overrides"}
COUNT_KEYS = {"abuse", "fraud", "virus", "other", "not_spam", "auth_failure", "trap_hits"}

# fixtures/README.md, arf/ totals after importing every file.
ARF_TOTALS = {
    "192.0.2.45": dict(abuse=2, not_spam=1, complaints=2),
    "2001:db8:40::17": dict(abuse=1, complaints=1),
    "203.0.113.57": dict(abuse=2, complaints=2),
    "198.51.100.73": dict(abuse=1, complaints=1),
    "198.51.100.14": dict(fraud=4, complaints=4),
    "198.51.100.99": dict(auth_failure=1, complaints=0),
}
ARF_NO_RECORD = ["198.51.100.250", "198.51.100.251", "198.51.100.252", "198.51.100.253",
                 "198.51.100.254", "192.0.2.201", "2001:db8:ffff::10", "203.0.113.199"]


def arf_files():
    return sorted(os.path.join(ARF, f) for f in os.listdir(ARF))


def summary(r):
    """The numbers of the summary line, the last line on stdout."""
    lines = r.out.splitlines()
    m = SUMMARY.match(lines[-1]) if lines else None
    if not m:
        raise AssertionError("no summary line in %r" % r.out)
    return dict(zip(("read", "imported", "duplicates", "rejected", "warnings"),
                    (int(g) for g in m.groups())))


class ImportTestCase(CtlTestCase):
    def setUp(self):
        super().setUp()
        self.now = NOW
        self.db = os.path.join(self.tmp, "db")

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, text, mode="w"):
        p = self.path(name)
        with open(p, mode) as f:
            f.write(text)
        return p

    def imp(self, *args, rc=0, **kw):
        """dnsblctl import --create ARGS: the first import makes the store."""
        r = self.ctl("import", "--create", *args, **kw)
        self.assertEqual(r.rc, rc, "import %s: rc %d\nstdout %r\nstderr %r" % (args, r.rc, r.out, r.err))
        return r

    def show(self, addr, *args, **kw):
        r = self.ctl("show", addr, "--json", *args, **kw)
        self.assertEqual(r.rc, 0, r.err)
        return json.loads(r.out)

    def listing(self, **kw):
        r = self.ctl("list", "--json", **kw)
        self.assertEqual(r.rc, 0, r.err)
        return json.loads(r.out)

    def assert_counts(self, addr, **want):
        doc = self.show(addr)
        self.assertTrue(doc["known"], addr)
        counts = dict(doc["counts"])
        expect = {k: 0 for k in COUNT_KEYS}
        expect.update({k: v for k, v in want.items() if k in COUNT_KEYS})
        self.assertEqual(counts, expect, addr)
        if "complaints" in want:
            self.assertEqual(doc["complaints"], want["complaints"], addr)
        return doc


class TestArf(ImportTestCase):
    def test_totals_table(self):
        r = self.imp(*arf_files(), rc=1)
        self.assertEqual(summary(r), dict(read=10, imported=9, duplicates=0, rejected=1,
                                          warnings=summary(r)["warnings"]))
        for addr, want in ARF_TOTALS.items():
            with self.subTest(addr=addr):
                doc = self.assert_counts(addr, **want)
                self.assertEqual(set(doc), SHOW_V2_KEYS)
        for addr in ARF_NO_RECORD:
            with self.subTest(addr=addr):
                doc = self.show(addr)
                self.assertIs(doc["known"], False)
                self.assertIsNone(doc["prefix"])
                self.assertEqual(doc["complaints"], 0)

    def test_rejected_report_names_file_and_message_id(self):
        bad = os.path.join(ARF, "07-malformed-missing-feedback-part.eml")
        r = self.imp(bad, rc=1)
        self.assertIn("%s: <no-fb-part-0007@halfdone.example.com>: missing message/feedback-report "
                      "part" % bad, r.err)
        self.assertEqual(summary(r)["rejected"], 1)
        self.assertEqual(summary(r)["imported"], 0)
        self.assertIs(self.show("203.0.113.199")["known"], False)

    def test_reject_dir_gets_the_raw_message(self):
        rej = self.path("rejects/deeper")
        bad = os.path.join(ARF, "07-malformed-missing-feedback-part.eml")
        self.imp("--reject-dir", rej, *arf_files(), rc=1)
        self.assertEqual(os.listdir(rej), ["07-malformed-missing-feedback-part.eml.1.eml"])
        with open(os.path.join(rej, os.listdir(rej)[0]), "rb") as f, open(bad, "rb") as g:
            self.assertEqual(f.read(), g.read())

    def test_import_twice_changes_nothing(self):
        self.imp(*arf_files(), rc=1)
        before = [self.ctl_ok("list", "--json").out] + \
            [self.ctl_ok("show", a, "--json").out for a in ARF_TOTALS]
        r = self.imp(*arf_files(), rc=1)
        self.assertEqual(summary(r), dict(read=10, imported=0, duplicates=9, rejected=1,
                                          warnings=summary(r)["warnings"]))
        after = [self.ctl_ok("list", "--json").out] + \
            [self.ctl_ok("show", a, "--json").out for a in ARF_TOTALS]
        self.assertEqual(before, after)

    def test_auto_detection_says_what_it_chose(self):
        r = self.imp(*arf_files(), rc=1)
        for f in arf_files():
            fmt = "mbox" if f.endswith(".mbox") else "arf"
            self.assertIn("dnsblctl: %s: detected format %s\n" % (f, fmt), r.err)
        r = self.imp("--format", "arf", os.path.join(ARF, "01-abuse-ipv4.eml"))
        self.assertNotIn("detected", r.err)

    def maildir_copy(self):
        """The fixture maildir, copied: an import marks what it reads."""
        md = self.path("Maildir")
        shutil.copytree(MAILDIR, md)
        return md

    def maildir_names(self, md):
        return {sub: sorted(os.listdir(os.path.join(md, sub))) for sub in ("new", "cur", "tmp")
                if os.path.isdir(os.path.join(md, sub))}

    def test_maildir(self):
        # fixtures/README.md, maildir/: new/ and cur/ are read, tmp/ never,
        # nor a message of cur/ flagged seen.
        md = self.maildir_copy()
        r = self.imp(md)
        self.assertIn("dnsblctl: %s: detected format maildir" % md, r.err)
        self.assertEqual(summary(r), dict(read=2, imported=2, duplicates=0, rejected=0,
                                          warnings=0))
        self.assert_counts("198.51.100.33", abuse=1, complaints=1)
        self.assert_counts("2001:db8:77::5", virus=2, complaints=2)
        self.assertIs(self.show("203.0.113.88")["known"], False)
        self.assertIs(self.show("203.0.113.89")["known"], False)
        # Marked as a mail reader marks them (maildir(5)), so the next run
        # reads nothing.
        self.assertEqual(self.maildir_names(md), {
            "new": [],
            "cur": ["1748877000.M1P4021.mx.bl.example:2,S",
                    "1748877600.M2P4021.mx.bl.example:2,FS",
                    "1748878800.M4P4021.mx.bl.example:2,RS"],
            "tmp": ["1748878200.M3P4021.mx.bl.example"]})
        r = self.imp("--format", "maildir", md)
        self.assertEqual(summary(r)["read"], 0)
        self.assertIn("no messages found", r.err)
        # A fresh copy read again: everything is a duplicate.
        again = self.path("Maildir2")
        shutil.copytree(MAILDIR, again)
        r = self.imp("--format", "maildir", again)
        self.assertEqual(summary(r)["duplicates"], 2)

    def test_maildir_new_mail_between_runs(self):
        """Cron: only what arrived since the last run is read."""
        md = self.maildir_copy()
        self.imp(md)
        shutil.copy(os.path.join(ARF, "01-abuse-ipv4.eml"),
                    os.path.join(md, "new", "1748880000.M5P4021.mx.bl.example"))
        r = self.imp(md)
        self.assertEqual((summary(r)["read"], summary(r)["imported"]), (1, 1))
        self.assertIn("1748880000.M5P4021.mx.bl.example:2,S", self.maildir_names(md)["cur"])

    def test_maildir_done_dir(self):
        md = self.maildir_copy()
        done = self.path("done")
        os.mkdir(done)
        rejects = self.path("rejects")
        bad = os.path.join(md, "new", "1748881000.M6P4021.mx.bl.example")
        shutil.copy(os.path.join(ARF, "07-malformed-missing-feedback-part.eml"), bad)
        r = self.imp("--done", done, "--reject-dir", rejects, md, rc=1)
        self.assertEqual((summary(r)["read"], summary(r)["rejected"]), (3, 1))
        # Rejected or not, every message read went to --done, as it was named.
        self.assertEqual(sorted(os.listdir(done)), [
            "1748877000.M1P4021.mx.bl.example", "1748877600.M2P4021.mx.bl.example:2,F",
            "1748881000.M6P4021.mx.bl.example"])
        self.assertEqual(len(os.listdir(rejects)), 1)
        self.assertEqual(self.maildir_names(md)["new"], [])
        self.assertEqual(self.maildir_names(md)["cur"], ["1748878800.M4P4021.mx.bl.example:2,RS"])
        r = self.ctl("import", "--done", self.path("nowhere"), md)
        self.assertEqual(r.rc, 2, r.err)
        self.assertIn("--done", r.err)

    def test_maildir_dry_run_leaves_it(self):
        md = self.maildir_copy()
        before = self.maildir_names(md)
        r = self.imp("--dry-run", md)
        self.assertEqual(summary(r)["read"], 2)
        self.assertEqual(self.maildir_names(md), before)

    def test_maildir_without_cur_and_tmp(self):
        """A maildir that has only new/ yet (git keeps no empty folders)."""
        md = self.path("Maildir")
        shutil.copytree(os.path.join(MAILDIR, "new"), os.path.join(md, "new"))
        r = self.imp(md)
        self.assertIn("detected format maildir", r.err)
        self.assertEqual(summary(r)["imported"], 1)
        self.assert_counts("198.51.100.33", abuse=1, complaints=1)

    def test_folder_of_eml_files(self):
        folder = self.path("reports")
        os.mkdir(folder)
        for f in arf_files():
            if f.endswith(".eml"):
                shutil.copy(f, folder)
        self.write("reports/notes.txt", "not a message, not read\n")
        r = self.imp(folder, rc=1)
        self.assertIn("dnsblctl: %s: detected format arf" % folder, r.err)
        self.assertEqual(summary(r)["read"], 7)
        self.assertEqual(summary(r)["rejected"], 1)
        self.assert_counts("192.0.2.45", abuse=1, not_spam=1)

    def test_gzip_input(self):
        src = os.path.join(ARF, "08-batch-3-reports.mbox")
        gz = self.path("batch.mbox.gz")
        with open(src, "rb") as f, gzip.open(gz, "wb") as g:
            g.write(f.read())
        r = self.imp(gz)
        self.assertIn("detected format mbox", r.err)
        self.assertEqual(summary(r)["imported"], 3)
        self.assert_counts("198.51.100.14", fraud=4, complaints=4)
        # The same reports uncompressed are duplicates.
        self.assertEqual(summary(self.imp(src))["duplicates"], 3)

    def test_truncated_gzip_is_an_error(self):
        gz = self.path("cut.csv.gz")
        with gzip.open(gz, "wb") as g:
            g.write(b"address_or_prefix,kind,weight,time,reason\n" +
                    b"192.0.2.7,abuse,1,2025-06-01T00:00:00Z,x\n" * 2000)
        with open(gz, "rb") as f:
            data = f.read()
        with open(gz, "wb") as f:
            f.write(data[:len(data) // 2])
        r = self.imp(gz, rc=1)
        self.assertIn(gz, r.err)
        self.assertIn("gzip", r.err)

    def test_stdin_input(self):
        with open(os.path.join(ARF, "08-batch-3-reports.mbox"), "rb") as f:
            data = f.read()
        env = dict(os.environ)
        env.pop("DNSBL_DB", None)
        proc = subprocess.run([ctl_binary(), "--now", NOW, "--db", self.db, "import", "--create", "-"],
                              input=data,
                              capture_output=True, env=env, timeout=30)
        err = proc.stderr.decode()
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("dnsblctl: -: detected format mbox", err)
        self.assert_counts("203.0.113.57", abuse=1, complaints=1)
        self.assert_counts("198.51.100.14", fraud=4, complaints=4)

    def test_scores_and_top(self):
        self.imp(*arf_files(), rc=1)
        doc = self.show("198.51.100.14")
        self.assertGreater(doc["score"], 0)
        self.assertEqual(doc["threshold"], 10)
        self.assertIn(doc["light"], ("green", "yellow", "red"))
        self.assertEqual(doc["sources"], ["mbox"])
        self.assertEqual(doc["first_seen"], "2025-06-02T13:52:38Z")
        hist = doc["history"]
        self.assertEqual(len(hist), 30)
        self.assertEqual(hist[-1]["day"], "2025-06-03")
        self.assertEqual(hist[0]["day"], "2025-05-05")
        self.assertEqual(hist[-2], {"day": "2025-06-02", "complaints": 4, "trap_hits": 0,
                                    "volume": 0})
        self.assertEqual(sum(h["complaints"] for h in hist), 4)
        self.assertIsNone(doc["complaint_rate"])
        r = self.ctl_ok("top", "--by", "complaints", "--json")
        rows = json.loads(r.out)
        self.assertEqual([x["address"] for x in rows[:3]],
                         ["198.51.100.14", "192.0.2.45", "203.0.113.57"])
        self.assertEqual([x["complaints"] for x in rows], [4, 2, 2, 1, 1])
        r = self.ctl_ok("top", "--json")
        rows = json.loads(r.out)
        self.assertEqual(rows[0]["address"], "198.51.100.14")
        self.assertEqual([x["score"] for x in rows], sorted((x["score"] for x in rows), reverse=True))
        self.assertEqual(len(json.loads(self.ctl_ok("top", "--limit", "2", "--json").out)), 2)
        text = self.ctl_ok("top").out.splitlines()
        self.assertEqual(text[0].split(), ["ADDRESS", "SCORE", "COMPLAINTS", "TRAPS", "LIGHT",
                                           "LISTED"])
        self.assertEqual(text[1].split()[0], "198.51.100.14")


    def test_zone_config_policy(self):
        self.imp(*arf_files(), rc=1)
        conf = self.write("dnsbld.conf", 'zone "bl.example" {\n  threshold = 2\n}\n')
        self.assertIs(self.show("198.51.100.14")["listed"], False)
        doc = self.show("198.51.100.14", "--zone-config", conf, "--zone", "bl.example")
        self.assertEqual((doc["listed"], doc["why"], doc["codes"]),
                         (True, "complaints", ["127.0.0.2"]))
        self.assertEqual(doc["threshold"], 2)
        self.assertEqual(doc["light"], "red")
        self.assertGreater(doc["clears_at"], "2025-06-03T00:00:00Z")
        kv = dict(l.split(": ", 1) for l in self.ctl_ok(
            "show", "198.51.100.14", "--zone-config", conf, "--zone", "bl.example").out.splitlines()
            if ": " in l)
        self.assertEqual(kv["listed since"], "2025-06-02T00:00:00Z")
        self.assertEqual(kv["clears at"], doc["clears_at"])
        rows = json.loads(self.ctl_ok("top", "--json", "--zone-config", conf, "--zone",
                                      "bl.example").out)
        self.assertEqual([r["address"] for r in rows if r["listed"]], ["198.51.100.14"])
        r = self.ctl_fail(1, "show", "198.51.100.14", "--zone-config", conf, "--zone", "x.example")
        self.assertIn("no zone 'x.example'", r.err)


class TestSnds(ImportTestCase):
    DATA = os.path.join(SNDS, "snds-data-2025-06-01.csv")
    STATUS = os.path.join(SNDS, "snds-ipstatus.csv")
    # Line, IP, colour, trap hits, complaint rate (qualifier, percent) or None.
    ROWS = [
        (1, "192.0.2.10", "green", 0, ("<", 0.1)),
        (2, "192.0.2.11", "green", 0, ("<", 0.1)),
        (3, "192.0.2.12", "yellow", 1, ("=", 0.3)),
        (4, "192.0.2.13", "green", 0, ("<", 0.1)),
        (5, "198.51.100.20", "red", 37, ("=", 2.6)),
        (6, "198.51.100.21", "yellow", 4, ("=", 0.6)),
        (7, "198.51.100.22", "red", 112, ("=", 8.9)),
        (8, "203.0.113.5", "red", 0, ("=", 1.2)),
        (10, "203.0.113.9", "green", 0, None),
        (11, "203.0.113.10", "yellow", 0, ("<", 0.1)),
    ]

    def test_data_export(self):
        r = self.imp(self.DATA, rc=1)
        self.assertIn("dnsblctl: %s: detected format snds" % self.DATA, r.err)
        rejects = [l for l in r.err.splitlines() if not l.startswith("dnsblctl: ")]
        self.assertEqual(len(rejects), 2, r.err)
        self.assertTrue(rejects[0].startswith(self.DATA + ":9: "), rejects)
        self.assertTrue(rejects[1].startswith(self.DATA + ":12: "), rejects)
        s = summary(r)
        self.assertEqual((s["read"], s["rejected"]), (12, 2))
        for line, ip, colour, traps, rate in self.ROWS:
            with self.subTest(line=line, ip=ip):
                doc = self.show(ip)
                self.assertEqual(doc["snds"]["colour"], colour)
                self.assertEqual(doc["counts"]["trap_hits"], traps)
                self.assertEqual(doc["snds"]["trap_hits"], traps)
                if rate is None:
                    self.assertIsNone(doc["snds"]["complaint_rate"])
                else:
                    got = doc["snds"]["complaint_rate"]
                    self.assertEqual(got["qualifier"], rate[0])
                    self.assertAlmostEqual(got["percent"], rate[1], places=4)
                self.assertEqual(doc["volume"], doc["snds"]["recipients"])
                self.assertIn("snds", doc["sources"])
        self.assertEqual(self.show("192.0.2.10")["volume"], 18391)
        self.assertEqual(self.show("192.0.2.10")["snds"]["start"][:10], "2025-06-01")
        for ip in ("203.0.113.64", "203.0.113.67", "203.0.113.71"):
            self.assertIs(self.show(ip)["known"], False, ip)
        # Default policy (doc/formats.md 3.5): RED lists with 127.0.0.4.
        for ip in ("198.51.100.20", "198.51.100.22", "203.0.113.5"):
            doc = self.show(ip)
            self.assertTrue(doc["listed"], ip)
            self.assertIn("127.0.0.4", doc["codes"], ip)
        for ip in ("192.0.2.10", "192.0.2.11", "192.0.2.13", "203.0.113.9", "203.0.113.10"):
            self.assertIs(self.show(ip)["listed"], False, ip)

    def test_ip_status_export(self):
        r = self.imp(self.STATUS)
        self.assertEqual(summary(r)["rejected"], 0)
        for ip in ("192.0.2.64", "192.0.2.67", "192.0.2.71", "203.0.113.200", "203.0.113.203"):
            doc = self.show(ip)
            self.assertEqual((doc["listed"], doc["codes"]), (True, ["127.0.0.4"]), ip)
            self.assertEqual(doc["snds"]["status"], "blocked", ip)
        for ip in ("192.0.2.63", "192.0.2.72", "203.0.113.204"):
            self.assertIs(self.show(ip)["listed"], False, ip)
        doc = self.show("198.51.100.128")
        self.assertEqual((doc["known"], doc["listed"]), (True, False))
        self.assertEqual(doc["snds"]["status"], "junked")

    def test_complaint_rate_counts(self):
        """doc/formats.md 3.5: the complaint rate times the recipients counts
        as complaints on the row's activity day; "< 0.1%" counts none."""
        self.imp(self.DATA, rc=1)
        want = {"192.0.2.12": 68, "198.51.100.20": 869, "198.51.100.21": 39,
                "198.51.100.22": 5235, "203.0.113.5": 18, "192.0.2.10": 0, "203.0.113.9": 0,
                "203.0.113.10": 0}
        for ip, n in want.items():
            doc = self.show(ip)
            self.assertEqual((doc["complaints"], doc["counts"]["abuse"]), (n, n), ip)
            self.assertEqual(doc["history"][-3]["day"], "2025-06-01", ip)
            self.assertEqual(doc["history"][-3]["complaints"], n, ip)
        doc = self.show("203.0.113.5")
        self.assertEqual(doc["codes"], ["127.0.0.4", "127.0.0.2"])
        self.assertGreaterEqual(doc["score"], 10)
        doc = self.show("192.0.2.12")
        self.assertEqual(doc["codes"], ["127.0.0.2", "127.0.0.3"])
        self.assertIs(self.show("192.0.2.10")["listed"], False)
        # They decay like other evidence: two months on, nothing is left.
        self.assertIs(self.show("192.0.2.12", now="2025-08-01T00:00:00Z")["listed"], False)

    def test_red_and_blocked_age_out(self):
        """RED and blocked list for snds_max_age (7 days) after the row
        (the status file's date), unless a newer one confirms them."""
        status = self.path("status.csv")
        shutil.copy(self.STATUS, status)
        june1 = 1748736000  # 2025-06-01T00:00:00Z
        os.utime(status, (june1, june1))
        self.imp(self.DATA, status, rc=1)
        self.assertIn("127.0.0.4", self.show("203.0.113.5")["codes"])
        self.assertEqual(self.show("192.0.2.64")["codes"], ["127.0.0.4"])
        # The RED row's activity ended on 1 June 23:59: listed to 8 June 23:58.
        later = "2025-06-08T23:58:00Z"
        self.assertIn("127.0.0.4", self.show("203.0.113.5", now=later)["codes"])
        self.assertEqual(self.show("192.0.2.64", now="2025-06-07T23:59:59Z")["codes"],
                         ["127.0.0.4"])
        late = "2025-06-09T00:00:00Z"
        self.assertNotIn("127.0.0.4", self.show("203.0.113.5", now=late)["codes"])
        doc = self.show("192.0.2.64", now=late)
        self.assertEqual((doc["listed"], doc["snds"]["status"]), (False, "blocked"))
        # An SNDS row from 2025 does not list in 2026.
        self.assertIs(self.show("203.0.113.5", now="2026-06-01T00:00:00Z")["listed"], False)
        # A newer status file confirms the range; the zone may keep them longer.
        june20 = june1 + 19 * 86400
        os.utime(status, (june20, june20))
        self.imp(status)
        self.assertEqual(self.show("192.0.2.64", now="2025-06-22T00:00:00Z")["codes"],
                         ["127.0.0.4"])
        conf = self.write("dnsbld.conf", 'zone "bl.example" {\n  snds_max_age = "30d"\n}\n')
        doc = self.show("203.0.113.5", "--zone-config", conf, "--zone", "bl.example",
                        now="2025-06-20T00:00:00Z")
        self.assertIn("127.0.0.4", doc["codes"])

    def test_listed_is_never_green(self):
        """README "Traffic light": a listed address is red whatever its score."""
        self.imp(self.STATUS)
        doc = self.show("192.0.2.64")
        self.assertEqual((doc["listed"], doc["score"], doc["light"]), (True, 0, "red"))
        text = self.ctl_ok("show", "192.0.2.64").out
        self.assertIn("light: red\n", text)
        self.ctl_ok("add", "198.51.100.9", "--reason", "manual")
        self.assertEqual(self.show("198.51.100.9")["light"], "red")
        self.assertEqual(self.show("192.0.2.63")["light"], "green")

    def test_import_twice(self):
        first = summary(self.imp(self.DATA, self.STATUS, rc=1))
        before = self.listing()
        shows = [self.show(ip) for _, ip, _, _, _ in self.ROWS]
        r = self.imp(self.DATA, self.STATUS, rc=1)
        # Data rows carry dedup keys; the three status rows are listings,
        # which apply again to the same effect.
        self.assertEqual(summary(r)["duplicates"] + summary(r)["imported"], first["imported"])
        self.assertLessEqual(summary(r)["imported"], 3)
        self.assertEqual(self.listing(), before)
        self.assertEqual([self.show(ip) for _, ip, _, _, _ in self.ROWS], shows)


class TestRbldnsd(ImportTestCase):
    MAIN = os.path.join(RBLDNSD, "bl-main.ip4set")
    V6 = os.path.join(RBLDNSD, "bl6.ip6trie")

    def test_ip4set_with_zone_file(self):
        zone = self.path("apex.zone")
        r = self.imp("--format", "rbldnsd:ip4set", "--zone", "bl.example", "--emit-zone", zone,
                     self.MAIN)
        self.assertEqual(summary(r)["warnings"], 2)
        self.assertEqual(summary(r)["rejected"], 0)
        self.assertIn(self.MAIN + ":34: warning: ", r.err)
        self.assertIn(self.MAIN + ":35: warning: ", r.err)
        with open(zone) as f:
            text = f.read()
        self.assertRegex(text, r"bl\.example\.\s+3600\s+IN\s+SOA\s+ns1\.bl\.example\. "
                               r"hostmaster\.bl\.example\. 2025060101 7200 1800 604800 600")
        self.assertRegex(text, r"bl\.example\.\s+86400\s+IN\s+NS\s+ns1\.bl\.example\.")
        self.assertRegex(text, r"bl\.example\.\s+86400\s+IN\s+NS\s+ns2\.bl\.example\.")
        cases = {"192.0.2.0": ["127.0.0.2"], "192.0.2.255": ["127.0.0.2"], "192.0.2.1": [],
                 "192.0.2.2": [], "203.0.113.15": ["127.0.0.3"], "203.0.113.21": [],
                 "203.0.113.103": ["127.0.0.2"], "203.0.113.104": [],
                 "198.51.100.63": ["127.0.0.2"], "198.51.100.64": [], "198.51.100.77": [],
                 "198.51.100.200": ["127.0.0.4"], "198.51.100.201": ["127.0.0.5"],
                 "203.0.113.250": ["127.0.0.6"]}
        for ip, codes in cases.items():
            with self.subTest(ip=ip):
                doc = self.show(ip)
                self.assertEqual(doc["codes"], codes)
                self.assertEqual(doc["listed"], bool(codes))
        self.assertEqual(self.show("192.0.2.1")["why"], "excluded")

    def test_ip6trie(self):
        r = self.imp("--format", "rbldnsd:ip6trie", "--zone", "bl.example", self.V6)
        self.assertEqual(summary(r)["warnings"], 2)
        self.assertIn(self.V6 + ":15: warning: ", r.err)
        self.assertIn(self.V6 + ":16: warning: ", r.err)
        cases = {"2001:db8:1::1": ["127.0.0.2"], "2001:db8:1::53": [],
                 "2001:db8:2:ff::1": ["127.0.0.2"], "2001:db8:2:100::1": [],
                 "2001:db8:2:10::5": ["127.0.0.10"], "2001:db8:3:4::abcd": ["127.0.0.3"],
                 "2001:db8:5::25": ["127.0.0.4"], "2001:db8:5::26": [],
                 "2001:db8:6::1": ["127.0.0.2"], "2001:db8:7::1": []}
        for ip, codes in cases.items():
            with self.subTest(ip=ip):
                self.assertEqual(self.show(ip)["codes"], codes)

    def import_type(self, kind, fname, zone, counts, *extra):
        """fname of fixtures/rbldnsd as dataset type kind into zone; counts
        are (read, imported, warnings) of its README section."""
        f = os.path.join(RBLDNSD, fname)
        r = self.imp("--format", "rbldnsd:" + kind, "--zone", zone, *extra, f)
        read, imported, warnings = counts
        self.assertEqual(summary(r), dict(read=read, imported=imported, duplicates=0,
                                          rejected=0, warnings=warnings))
        return f, r

    def codes_of(self, cases):
        for ip, codes in cases.items():
            with self.subTest(ip=ip):
                self.assertEqual(self.show(ip)["codes"], codes)

    def test_ip4tset(self):
        f, r = self.import_type("ip4tset", "proxies.ip4tset", "proxies.example", (6, 3, 3))
        for line in (9, 10, 12):
            self.assertIn("%s:%d: warning: " % (f, line), r.err)
        self.codes_of({"192.0.2.150": ["127.0.0.9"], "192.0.2.151": ["127.0.0.9"],
                       "203.0.113.44": ["127.0.0.9"], "192.0.2.152": [], "192.0.2.160": []})
        self.assertEqual(self.show("192.0.2.150")["reason"], "Open proxy at $")

    def test_ip4trie(self):
        f, r = self.import_type("ip4trie", "relays.ip4trie", "relays.example", (6, 5, 1))
        self.assertIn(f + ":12: warning: '192.0.2.7/24' has host bits set", r.err)
        self.codes_of({"198.51.100.1": ["127.0.0.2"], "198.51.100.127": ["127.0.0.2"],
                       "198.51.100.128": ["127.0.0.3"], "198.51.100.129": [],
                       "198.51.100.255": ["127.0.0.3"], "203.0.113.31": ["127.0.0.4"],
                       "203.0.113.32": [], "192.0.2.64": ["127.0.0.5"], "192.0.2.7": []})
        self.assertEqual(self.show("198.51.100.129")["why"], "excluded")

    def test_ip6tset(self):
        f, r = self.import_type("ip6tset", "pools.ip6tset", "pools.example", (5, 3, 2))
        self.assertIn(f + ":10: warning: ", r.err)
        self.assertIn(f + ":11: warning: ", r.err)
        self.codes_of({"2001:db8:aa:1::1": ["127.0.0.11"], "2001:db8:aa:2:ffff::1": ["127.0.0.11"],
                       "2001:db8:aa:2::25": [], "2001:db8:aa:3::1": [], "2001:db8:ab::1": []})

    def test_combined(self):
        zone = self.path("apex.zone")
        f, r = self.import_type("combined", "bl.combined", "bl.example", (4, 4, 1),
                                "--emit-zone", zone)
        self.assertIn(f + ":24: warning: acl section skipped", r.err)
        with open(zone) as g:
            self.assertRegex(g.read(), r"bl\.example\.\s+3600\s+IN\s+SOA\s+ns1\.bl\.example\. "
                                       r"hostmaster\.bl\.example\. 2025060201 7200 1800 604800 600")
        self.codes_of({"192.0.2.32": ["127.0.0.2"], "192.0.2.47": ["127.0.0.2"],
                       "192.0.2.40": [], "192.0.2.48": [], "2001:db8:c0:1::1": ["127.0.0.2"],
                       "203.0.113.77": [], "198.51.100.1": []})
        # the traps section answers in its subzone only (doc/formats.md
        # 4.6), not in the zone show looks at; its part is stored
        self.assertIn("203.0.113.77", [e["prefix"] for e in self.listing()])

    def test_never_auto_detected(self):
        r = self.imp(self.MAIN, rc=1)
        self.assertIn("rbldnsd:TYPE", r.err)
        self.assertEqual(summary(r)["read"], 0)
        self.assertFalse(os.path.exists(os.path.join(self.db, "data.mdb")) and
                         self.listing())

    def test_type_is_required(self):
        for fmt, msg in (("rbldnsd", "needs the dataset type"),
                         ("rbldnsd:ip5set", "unknown rbldnsd dataset type 'ip5set'")):
            with self.subTest(fmt=fmt):
                r = self.ctl_fail(2, "import", "--format", fmt, self.MAIN)
                self.assertIn(msg, r.err)

    # ip4set lines whose blocks overlap the way rbldnsd resolves per
    # octet-aligned block (doc/formats.md 4.4), with what each address must
    # answer; every prefix stays the one entry the operator wrote.
    OVERLAPS = (":127.0.0.2:listed\n"
                "198.51.100.0/25 :127.0.0.3:half\n"      # one /25, not 128 /32s
                "203.0.113.0/24 :127.0.0.2:whole\n"
                "!203.0.113.0/26\n"                      # a hole in a longer level
                "192.0.2.0/26 :127.0.0.4:inner\n"
                "!192.0.2.0/25\n"                        # same level: exclusion wins
                "!192.0.2.128/25\n"
                "192.0.2.130 :127.0.0.5:single\n"        # same level, written later
                "198.51.100.200-198.51.100.210 :127.0.0.6:range\n"
                "!198.51.100.204/31\n")
    OVERLAP_ANSWERS = {
        "198.51.100.0": ["127.0.0.3"], "198.51.100.127": ["127.0.0.3"], "198.51.100.128": [],
        "203.0.113.0": [], "203.0.113.63": [], "203.0.113.64": ["127.0.0.2"],
        "203.0.113.255": ["127.0.0.2"], "192.0.2.0": [], "192.0.2.63": [], "192.0.2.64": [],
        "192.0.2.130": [], "192.0.2.131": [], "198.51.100.199": [],
        "198.51.100.200": ["127.0.0.6"], "198.51.100.203": ["127.0.0.6"],
        "198.51.100.204": [], "198.51.100.205": [], "198.51.100.206": ["127.0.0.6"],
        "198.51.100.210": ["127.0.0.6"], "198.51.100.211": []}

    def test_ip4set_prefixes_stay_whole(self):
        """A /25 in ip4set data is one /25 entry, so delisting what the
        operator wrote works; answers stay rbldnsd's."""
        data = self.write("overlaps.ip4set", self.OVERLAPS)
        r = self.imp("--format", "rbldnsd:ip4set", "--zone", "bl.example", data)
        # 9 entry lines; the range is the 3 prefixes .200/29, .208/31 and
        # .210 (200-207, 208-209, 210).
        self.assertEqual((summary(r)["read"], summary(r)["warnings"]), (9, 0), r.err)
        prefixes = sorted(e["prefix"] for e in self.listing())
        for p in ("198.51.100.0/25", "203.0.113.0/26", "192.0.2.0/26", "192.0.2.0/25",
                  "192.0.2.128/25", "198.51.100.200/29", "198.51.100.208/31",
                  "198.51.100.210", "198.51.100.204/31"):
            self.assertIn(p, prefixes)
        self.assertFalse(any(p.startswith("198.51.100.5") for p in prefixes), prefixes)
        self.assertEqual(summary(r)["imported"], 11)
        for ip, codes in self.OVERLAP_ANSWERS.items():
            with self.subTest(ip=ip):
                self.assertEqual(self.show(ip)["codes"], codes)
        self.ctl_ok("delist", "198.51.100.0/25", "--reason", "ticket 7")
        self.assertIs(self.show("198.51.100.5")["listed"], False)

    @unittest.skipUnless(shutil.which("rbldnsd"), "rbldnsd is not installed")
    def test_ip4set_prefixes_answer_as_rbldnsd(self):
        import dns.exception
        import dns.message
        import dns.query
        import dns.reversename
        self.write("overlaps.ip4set", self.OVERLAPS)
        self.imp("--format", "rbldnsd:ip4set", "--zone", "bl.example",
                 self.path("overlaps.ip4set"))
        os.chmod(self.tmp, 0o755)  # rbldnsd started as root reads as another user
        port = random.randint(20000, 60000)
        proc = subprocess.Popen(["rbldnsd", "-n", "-f", "-b", "127.0.0.1/%d" % port, "-w",
                                 self.tmp, "bl.example:ip4set:overlaps.ip4set"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(proc.stderr.close)
        self.addCleanup(proc.wait, 5)
        self.addCleanup(proc.kill)

        def ask(ip):
            name = dns.reversename.from_address(ip).to_text().replace(".in-addr.arpa.",
                                                                      ".bl.example.")
            q = dns.message.make_query(name, "A")
            for _ in range(50):
                if proc.poll() is not None:
                    break
                try:
                    resp = dns.query.udp(q, "127.0.0.1", port=port, timeout=0.5)
                    return sorted(rd.to_text() for rrs in resp.answer for rd in rrs)
                except (dns.exception.Timeout, ConnectionRefusedError, socket.error):
                    time.sleep(0.1)
            self.fail("rbldnsd did not answer on port %d: %s" % (port, proc.stderr.read()))

        for ip in self.OVERLAP_ANSWERS:
            with self.subTest(ip=ip):
                self.assertEqual(self.show(ip)["codes"], ask(ip))

    def test_import_twice(self):
        args = ("--format", "rbldnsd:ip4set", "--zone", "bl.example", self.MAIN)
        self.imp(*args)
        before = self.listing()
        self.imp(*args)
        self.assertEqual(self.listing(), before)


class TestExport(ImportTestCase):
    def import_rbldnsd(self):
        self.imp("--format", "rbldnsd:ip4set", "--zone", "bl.example",
                 os.path.join(RBLDNSD, "bl-main.ip4set"))
        self.imp("--format", "rbldnsd:ip6trie", "--zone", "bl.example",
                 os.path.join(RBLDNSD, "bl6.ip6trie"))

    def test_rbldnsd_text(self):
        self.import_rbldnsd()
        out = self.path("bl.rbldnsd")
        r = self.ctl_ok("export", "--format", "rbldnsd", "--zone", "bl.example", "--output", out)
        self.assertEqual(r.out, "")
        with open(out) as f:
            lines = f.read().splitlines()
        self.assertTrue(lines[0].startswith("#"))
        self.assertEqual(sum(1 for l in lines if l.startswith("$TTL ")), 2)  # one per section
        self.assertIn("$DATASET ip4trie @", lines)
        self.assertIn("$DATASET ip6trie @", lines)
        self.assertIn("127.0.0.2 :127.0.0.2:RFC 5782 test point: always listed", lines)
        self.assertIn("!127.0.0.1", lines)
        self.assertIn("192.0.2.0/24 :127.0.0.2:Listed by bl.example, see "
                      "https://bl.example/lookup?ip=$", lines)
        self.assertIn("!192.0.2.1", lines)
        self.assertIn("198.51.100.201 :127.0.0.5:", lines)
        self.assertIn("203.0.113.250 :127.0.0.6:Paying $$50 will not delist you, see "
                      "https://bl.example/lookup?ip=$", lines)
        self.assertIn("!2001:db8:1::53", lines)
        self.assertEqual([f for f in os.listdir(self.tmp) if f.startswith("bl.rbldnsd.")], [])

    @unittest.skipUnless(shutil.which("rbldnsd"), "rbldnsd is not installed")
    def test_rbldnsd_answers_the_same(self):
        import dns.message
        import dns.query
        import dns.rdatatype
        self.import_rbldnsd()
        out = self.path("bl.rbldnsd")
        self.ctl_ok("export", "--format", "rbldnsd", "--zone", "bl.example", "--output", out)
        # rbldnsd started as root reads its data as an unprivileged user.
        os.chmod(self.tmp, 0o755)
        port = random.randint(20000, 60000)
        proc = subprocess.Popen(["rbldnsd", "-n", "-f", "-b", "127.0.0.1/%d" % port, "-w", self.tmp,
                                 "bl.example:combined:bl.rbldnsd"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(proc.stderr.close)
        self.addCleanup(proc.wait, 5)
        self.addCleanup(proc.kill)

        def ask(ip, rdtype):
            rev = dns.reversename.from_address(ip).to_text()
            name = rev.replace(".in-addr.arpa.", ".bl.example.").replace(".ip6.arpa.", ".bl.example.")
            q = dns.message.make_query(name, rdtype)
            for _ in range(50):
                if proc.poll() is not None:
                    break
                try:
                    resp = dns.query.udp(q, "127.0.0.1", port=port, timeout=0.5)
                    return sorted(rd.to_text().strip('"') for rrs in resp.answer for rd in rrs)
                except (dns.exception.Timeout, ConnectionRefusedError, socket.error):
                    time.sleep(0.1)
            self.fail("rbldnsd did not answer on port %d: %s" % (port, proc.stderr.read()))

        import dns.reversename
        import dns.exception
        lookup = "https://bl.example/lookup?ip="
        for ip, a, txt in (
                ("192.0.2.99", ["127.0.0.2"], "Listed by bl.example, see %s192.0.2.99" % lookup),
                ("192.0.2.1", [], None), ("203.0.113.104", [], None),
                ("203.0.113.15", ["127.0.0.3"],
                 "Spam trap hits from 203.0.113.15 - see %s203.0.113.15" % lookup),
                ("198.51.100.201", ["127.0.0.5"], None),
                ("203.0.113.250", ["127.0.0.6"],
                 "Paying $50 will not delist you, see %s203.0.113.250" % lookup),
                ("127.0.0.2", ["127.0.0.2"], "RFC 5782 test point: always listed"),
                ("127.0.0.1", [], None), ("2001:db8:1::53", [], None),
                ("2001:db8:2:10::5", ["127.0.0.10"],
                 "IPv6 source 2001:db8:2:10::5 is listed, see https://bl.example/v6"),
                ("2001:db8:5::25", ["127.0.0.4"], "Compromised host 2001:db8:5::25")):
            with self.subTest(ip=ip):
                self.assertEqual(ask(ip, "A"), a)
                self.assertEqual(ask(ip, "TXT"), [txt] if txt else [])

    def test_zone_file(self):
        self.init_store(self.db)
        self.ctl_ok("add", "192.0.2.0/30", "--reason", "four hosts", "--code", "127.0.0.10")
        self.ctl_ok("allow", "192.0.2.1")
        self.ctl_ok("add", "2001:db8::5", "--reason", "v6 host")
        self.ctl_ok("add", "10.0.0.0/8", "--reason", "too wide")
        r = self.ctl("export", "--format", "zone", "--zone", "BL.Example.")
        self.assertEqual(r.rc, 0, r.err)
        self.assertEqual(r.err, "")
        names = {}
        for line in r.out.splitlines():
            if line.startswith(";") or not line.strip():
                continue
            owner, ttl, cls, rtype, data = line.split(None, 4)
            names.setdefault(owner, []).append((rtype, data))
        apex = names.pop("bl.example.")
        self.assertEqual(sorted(t for t, _ in apex), ["NS", "SOA"])
        self.assertEqual(names.pop("2.0.0.127.bl.example."),
                         [("A", "127.0.0.2"), ("TXT", '"RFC 5782 test point: always listed"')])
        for host in ("0", "2", "3"):
            recs = names.pop("%s.2.0.192.bl.example." % host)
            self.assertEqual(recs[0], ("A", "127.0.0.10"))
            self.assertEqual(recs[1][0], "TXT")
        v6 = "5" + ".0" * 23 + ".8.b.d.0.1.0.0.2.bl.example."
        self.assertEqual(names.pop(v6)[0], ("A", "127.0.0.2"))
        self.assertEqual(names.pop("*.10.bl.example.")[0], ("A", "127.0.0.2"))
        self.assertEqual(names, {})  # 192.0.2.1 allowed: no name, nothing else

    def test_zone_needs_a_name_and_a_format(self):
        self.ctl_fail(2, "export", "--format", "zone")
        self.ctl_fail(2, "export")
        self.ctl_fail(2, "export", "--format", "bind")

    def test_csv_imports_back_to_the_same_listings(self):
        self.import_rbldnsd()
        self.ctl_ok("allow", "192.0.2.99")
        out = self.path("export.csv")
        self.ctl_ok("export", "--format", "csv", "--output", out)
        with open(out) as f:
            self.assertEqual(f.readline(), "address_or_prefix,kind,weight,time,reason,code,"
                                           "expires,ttl,txt,dataset,source,by,action,auth,"
                                           "snds\n")
        other = self.path("other")
        r = self.imp(out, db=other)
        self.assertEqual(summary(r)["rejected"], 0)
        for ip in ("192.0.2.0", "192.0.2.1", "192.0.2.99", "192.0.2.100", "203.0.113.15",
                   "203.0.113.9", "198.51.100.201", "2001:db8:1::1", "2001:db8:1::53",
                   "2001:db8:2:100::1", "2001:db8:6::1", "127.0.0.2"):
            with self.subTest(ip=ip):
                # 127.0.0.2 is the server's test point: no row, no entry.
                self.assertEqual(self.show(ip, db=other)["listed"], self.show(ip)["listed"])


class TestSmallFeeds(ImportTestCase):
    """The line feeds of fixtures/README.md: CSV, DROP text and JSON,
    trap hits, fail2ban."""

    def test_csv(self):
        f = os.path.join(FIXTURES, "csv", "operator.csv")
        r = self.imp(f, rc=1)
        self.assertIn("dnsblctl: %s: detected format csv" % f, r.err)
        self.assertIn(f + ":8: unknown kind 'bogus'", r.err)
        self.assertIn(f + ":9: no time", r.err)
        self.assertEqual(summary(r), dict(read=8, imported=6, duplicates=0, rejected=2,
                                          warnings=0))
        doc = self.assert_counts("192.0.2.7", abuse=3, trap_hits=2, complaints=3)
        self.assertEqual(doc["volume"], 1000)
        self.assertAlmostEqual(doc["complaint_rate"], 0.003)
        self.assertEqual(doc["sources"], ["csv"])
        self.assert_counts("2001:db8:e::1", fraud=1, complaints=1)
        doc = self.show("198.51.100.5")
        self.assertEqual((doc["listed"], doc["why"], doc["reason"]),
                         (True, "manual", "listed by hand"))
        self.assertEqual(self.show("198.51.100.7")["allowed"], True)
        self.assertIs(self.show("192.0.2.8")["known"], False)
        self.assertIs(self.show("192.0.2.9")["known"], False)
        # Again: the evidence rows are duplicates, list and allow apply again.
        r = self.imp(f, rc=1)
        self.assertEqual((summary(r)["imported"], summary(r)["duplicates"]), (2, 4))

    def test_csv_listings_by_header_name(self):
        f = os.path.join(FIXTURES, "csv", "listings.csv")
        r = self.imp(f)
        self.assertIn("detected format csv", r.err)
        self.assertIn(f + ":2: warning: unknown column 'ticket' ignored", r.err)
        self.assertEqual(summary(r), dict(read=3, imported=3, duplicates=0, rejected=0,
                                          warnings=1))
        for ip, reason in (("203.0.113.0", "spam run"), ("203.0.113.15", "spam run"),
                           ("2001:db8:f:ffff::1", "a whole customer network")):
            with self.subTest(ip=ip):
                doc = self.show(ip)
                self.assertEqual((doc["listed"], doc["why"], doc["reason"]),
                                 (True, "manual", reason))
        doc = self.show("203.0.113.9")
        self.assertEqual((doc["listed"], doc["allowed"]), (False, True))
        self.assertIs(self.show("203.0.113.16")["listed"], False)

    def test_drop_text(self):
        f = os.path.join(FIXTURES, "list", "drop.txt")
        r = self.imp("--code", "127.0.0.9", "--source", "drop", f)
        self.assertIn("detected format list", r.err)
        self.assertEqual(summary(r), dict(read=3, imported=3, duplicates=0, rejected=0,
                                          warnings=0))
        for ip, sbl in (("192.0.2.0", "SBL000101"), ("192.0.2.127", "SBL000101"),
                        ("203.0.113.200", "SBL000102"), ("2001:db8:dead:1::1", "SBL000103")):
            with self.subTest(ip=ip):
                doc = self.show(ip)
                self.assertEqual((doc["listed"], doc["codes"], doc["why"], doc["reason"]),
                                 (True, ["127.0.0.9"], "imported", sbl))
                self.assertEqual(doc["sources"], ["drop"])
        for ip in ("192.0.2.128", "203.0.113.127"):
            self.assertIs(self.show(ip)["listed"], False, ip)
        # --reason replaces the SBL numbers.
        self.imp("--format", "list", "--reason", "DROP", f)
        self.assertEqual(self.show("192.0.2.1")["reason"], "DROP")

    def test_drop_json(self):
        f = os.path.join(FIXTURES, "list", "drop.json")
        r = self.imp("--format", "list", "--code", "127.0.0.9", f, rc=1)
        self.assertIn(f + ":3: '192.0.2.300/32' is not an IPv4/IPv6 address or prefix", r.err)
        # The metadata line on the end is neither a record nor an error.
        self.assertEqual(summary(r), dict(read=3, imported=2, duplicates=0, rejected=1,
                                          warnings=0))
        for ip, sbl in (("198.51.100.64", "SBL000201"), ("198.51.100.127", "SBL000201"),
                        ("2001:db8:bad::1", "SBL000202")):
            with self.subTest(ip=ip):
                doc = self.show(ip)
                self.assertEqual((doc["listed"], doc["codes"], doc["reason"]),
                                 (True, ["127.0.0.9"], sbl))
        self.assertIs(self.show("198.51.100.128")["listed"], False)

    def test_traps(self):
        f = os.path.join(FIXTURES, "traps", "traps.csv")
        r = self.imp(f, rc=1)
        self.assertIn("detected format traps", r.err)
        self.assertIn(f + ":6: '198.51.100.0/24' is a prefix", r.err)
        # Line 3 is line 2 again, its time written in unix seconds.
        self.assertEqual(summary(r), dict(read=5, imported=3, duplicates=1, rejected=1,
                                          warnings=0))
        self.assert_counts("203.0.113.7", trap_hits=2)
        self.assert_counts("2001:db8:7a::9", trap_hits=1)
        self.assertEqual(self.show("203.0.113.7")["sources"], ["traps"])
        self.assertEqual(summary(self.imp(f, rc=1))["duplicates"], 4)

    def test_fail2ban(self):
        f = os.path.join(FIXTURES, "fail2ban", "fail2ban.log")
        r = self.imp(f)
        self.assertIn("detected format fail2ban", r.err)
        self.assertIn(f + ":9: warning: not a fail2ban log line", r.err)
        self.assertEqual(summary(r), dict(read=8, imported=4, duplicates=0, rejected=0,
                                          warnings=1))
        self.assert_counts("203.0.113.9", other=2, complaints=0)
        self.assert_counts("2001:db8:f2b::4", other=1)
        self.assert_counts("198.51.100.61", other=1)
        self.assertEqual(self.show("203.0.113.9")["sources"], ["fail2ban"])
        self.assertEqual(summary(self.imp(f))["duplicates"], 4)

    def test_never_lists_127_0_0_1(self):
        f = self.write("bad.txt", "192.0.2.1\n# comment\n127.0.0.1\n\n127.0.0.0/8 ; covers it\n"
                                  "127.0.0.2\n")
        rej = self.path("rej")
        r = self.imp("--format", "list", "--reject-dir", rej, f, rc=1)
        self.assertIn(f + ":3: refusing to list 127.0.0.1, the RFC 5782 test point", r.err)
        self.assertIn(f + ":5: refusing to list 127.0.0.0/8: it covers 127.0.0.1", r.err)
        self.assertEqual(summary(r)["rejected"], 2)
        self.assertEqual(summary(r)["imported"], 2)
        self.assertEqual(sorted(os.listdir(rej)), ["bad.txt.3.rej", "bad.txt.5.rej"])
        with open(os.path.join(rej, "bad.txt.5.rej")) as g:
            self.assertEqual(g.read(), "127.0.0.0/8 ; covers it\n")
        self.assertIs(self.show("127.0.0.1")["known"], False)
        self.assertTrue(self.show("127.0.0.2")["listed"])
        c = self.write("bad.csv", "address_or_prefix,kind,weight,time,reason\n"
                                  "127.0.0.1,list,1,,no\n127.0.0.1,abuse,1,2025-06-01,fine\n")
        r = self.imp(c, rc=1)
        self.assertIn(c + ":2: refusing to list 127.0.0.1", r.err)
        self.assertEqual(summary(r)["imported"], 1)
        self.assertIs(self.show("127.0.0.1")["listed"], False)

    def test_every_format_reports_the_stores_refusal(self):
        """127.0.0.1, a prefix covering it and 0.0.0.0/0 are refused in
        every format that lists, with the one message the store's rule
        gives; the other rows are imported."""
        never = ("127.0.0.1", "127.0.0.0/8", "0.0.0.0/0")
        csv = "address_or_prefix,kind,weight,time,reason\n192.0.2.2,list,1,,ok\n" + \
              "".join("%s,list,1,,no\n" % a for a in never)
        snds = "192.0.2.4,192.0.2.4,Yes,Blocked\n127.0.0.0,127.0.0.255,Yes,Blocked\n" \
               "0.0.0.0,255.255.255.255,Yes,Blocked\n"
        cases = (
            (("--format", "list"), "l.txt", "192.0.2.1\n" + "\n".join(never) + "\n", never),
            (("--format", "csv"), "c.csv", csv, never),
            (("--format", "rbldnsd:ip4trie", "--zone", "bl.example"), "r.trie",
             ":127.0.0.2:listed $\n192.0.2.3\n" + "\n".join(never) + "\n", never),
            (("--format", "rbldnsd:ip4set", "--zone", "bl.example"), "r.set",
             ":127.0.0.2:listed $\n192.0.2.5\n127.0.0.1\n", ("127.0.0.1",)),
            (("--format", "snds"), "s.csv", snds, ("127.0.0.0/24", "0.0.0.0/0")),
        )
        for args, name, text, refused in cases:
            with self.subTest(format=args[1]):
                f = self.write(name, text)
                r = self.imp(*args, f, rc=1)
                self.assertEqual(summary(r)["rejected"], len(refused))
                self.assertEqual(summary(r)["imported"], 1)
                for a in refused:
                    if a == "127.0.0.1":
                        want = "refusing to list 127.0.0.1, the RFC 5782 test point that " \
                               "must never be listed"
                    else:
                        want = "refusing to list %s: it covers 127.0.0.1, the RFC 5782 test " \
                               "point that must never be listed" % a
                    self.assertIn(want, r.err)
                self.assertIs(self.show("127.0.0.1")["listed"], False)
                self.assertIs(self.show("127.0.0.1")["known"], False)


class TestSortedListImport(ImportTestCase):
    """List rows carry no dedup keys: an input of them is held whole,
    sorted by prefix and committed --batch rows per transaction."""

    def rows(self, n=1000, seed=7):
        """n list rows in random order over IPv4 and IPv6 addresses and
        prefixes; every tenth prefix comes again later with another reason."""
        rnd = random.Random(seed)
        prefixes = []
        for i in range(n - n // 10):
            if i % 7 == 0:
                prefixes.append("2001:db8:%x:%x::/64" % (rnd.randrange(65536), rnd.randrange(65536)))
            elif i % 11 == 0:
                prefixes.append("10.%d.%d.0/24" % (rnd.randrange(256), rnd.randrange(256)))
            else:
                prefixes.append("10.%d.%d.%d" % (rnd.randrange(256), rnd.randrange(256),
                                                 rnd.randrange(1, 255)))
        prefixes = list(dict.fromkeys(prefixes))
        rnd.shuffle(prefixes)
        rows = [(p, "first %d" % i) for i, p in enumerate(prefixes)]
        rows += [(p, "again %d" % i) for i, p in enumerate(prefixes[::10])]
        return rows

    @staticmethod
    def write_rows(path, rows):
        with open(path, "w") as f:
            f.write("address_or_prefix,kind,weight,time,reason\n")
            for i, (p, reason) in enumerate(rows):
                f.write("%s,list,1,%d,%s\n" % (p, 1767225600 + i, reason))
        return path

    @staticmethod
    def batches(rows, batch):
        """Transactions of a sorted commit: batch rows each, one prefix never split."""
        import ipaddress
        keys = sorted(((n.version, int(n.network_address), n.prefixlen)
                       for n in (ipaddress.ip_network(p) for p, _ in rows)))
        count = j = 0
        while j < len(keys):
            end = min(j + batch, len(keys))
            while end < len(keys) and keys[end] == keys[end - 1]:
                end += 1
            count += 1
            j = end
        return count

    def serial(self, db=None):
        r = self.ctl("check", "--json", db=db or self.db)
        self.assertEqual(r.rc, 0, r.out + r.err)
        report = json.loads(r.out)
        self.assertTrue(report["consistent"], report)
        return report["serial"]

    def test_same_store_as_one_transaction(self):
        rows = self.rows()
        path = self.write_rows(self.path("list.csv"), rows)
        r = self.imp("--format", "csv", "--batch", "100", path)
        self.assertEqual(summary(r)["imported"], len(rows))
        self.assertEqual(self.serial(), self.batches(rows, 100))
        one = self.path("one")
        self.imp("--format", "csv", "--batch", "10000000", path, db=one)
        self.assertEqual(self.serial(db=one), 1)
        self.assertEqual(self.listing(), self.listing(db=one))
        # A prefix given twice keeps its input order: the later row wins.
        again = {p: reason for p, reason in rows}
        for p, reason in rows[::97]:
            with self.subTest(prefix=p):
                self.assertEqual(self.show(p.split("/")[0])["reason"], again[p])

    def test_reimport_changes_nothing(self):
        rows = self.rows()
        path = self.write_rows(self.path("list.csv"), rows)
        self.imp("--format", "csv", "--batch", "100", path)
        before = self.listing()
        r = self.imp("--format", "csv", "--batch", "100", path)
        self.assertEqual(summary(r)["imported"] + summary(r)["duplicates"], len(rows))
        self.assertEqual(self.listing(), before)
        self.serial()

    def test_list_rows_then_evidence(self):
        """Held list rows are committed before the first keyed row, and
        the store ends as after one transaction."""
        rows = self.rows(300)
        path = self.path("mixed.csv")
        self.write_rows(path, rows)
        with open(path, "a") as f:
            for i, (p, _) in enumerate(rows[:250]):
                f.write("%s,abuse,1,%d,report %d\n" % (p.split("/")[0], 1767300000 + i, i))
        r = self.imp("--format", "csv", "--batch", "100", path)
        self.assertEqual(summary(r)["imported"], len(rows) + 250)
        self.serial()
        one = self.path("one")
        self.imp("--format", "csv", "--batch", "10000000", path, db=one)
        self.assertEqual(self.listing(), self.listing(db=one))
        top = ("top", "--by", "complaints", "--limit", "1000", "--json")
        self.assertEqual(self.ctl_ok(*top).out, self.ctl_ok(*top, db=one).out)


class TestRunBehaviour(ImportTestCase):
    def test_summary_line_is_always_last(self):
        r = self.imp("--format", "csv", "/dev/null", rc=1)
        self.assertEqual(summary(r), dict(read=0, imported=0, duplicates=0, rejected=0, warnings=0))
        self.assertEqual(len(r.out.splitlines()), 1)

    def test_nothing_recognised_fails(self):
        """An input that gives no record is the wrong file or format: exit 1."""
        r = self.imp("--format", "csv", "/dev/null", rc=1)
        self.assertIn("dnsblctl: no csv records found in /dev/null", r.err)
        log = self.write("other.log", "a line some other program wrote\nand another\n")
        r = self.imp("--format", "fail2ban", log, rc=1)
        self.assertIn("no fail2ban records found in %s" % log, r.err)
        self.assertEqual(summary(r)["warnings"], 2)
        # A quiet day: log lines without a ban are records read, not a failure.
        quiet = self.write("quiet.log", "2025-06-01 10:20:29,102 fail2ban.server         [1021]: "
                                        "INFO    Starting Fail2ban v1.0.2\n")
        self.assertEqual(summary(self.imp("--format", "fail2ban", quiet))["read"], 1)
        comments = self.write("drop.txt", "; DROP list, nothing in it today\n")
        r = self.imp("--format", "list", comments, rc=1)
        self.assertIn("no list records found in %s" % comments, r.err)
        # One good input beside it still goes in; the run fails.
        good = self.write("good.txt", "192.0.2.1\n")
        r = self.imp("--format", "list", comments, good, rc=1)
        self.assertEqual(summary(r)["imported"], 1)

    def test_exact_read_counts(self):
        """read counts records: comments, blank lines and the end of the
        file are no records (fixtures/README.md)."""
        text = "# comment\n\n192.0.2.1\n; another\n192.0.2.2 ; text\n"
        for name, data in (("lf.txt", text), ("crlf.txt", text.replace("\n", "\r\n")),
                           ("noeol.txt", text.rstrip("\n"))):
            with self.subTest(name=name):
                r = self.imp("--format", "list", self.write(name, data), db=self.path("db-" + name))
                self.assertEqual((summary(r)["read"], summary(r)["imported"]), (2, 2))
        csv = self.write("e.csv", "address_or_prefix,kind,weight,time,reason\n"
                                  "192.0.2.7,abuse,1,2025-06-01T10:00:00Z,x\n\n")
        self.assertEqual(summary(self.imp(csv))["read"], 1)

    def test_binary_input_is_refused_and_never_echoed(self):
        for name, data, what in (
                ("nul.txt", b"192.0.2.1\n192.0.2.2\x00\x1b[2J\x07\n", "NUL byte at offset 19"),
                ("latin1.csv", b"address_or_prefix,kind,weight,time,reason\n"
                               b"192.0.2.7,abuse,1,2025-06-01T10:00:00Z,caf\xe9\n",
                 "invalid UTF-8 at offset 84")):
            with self.subTest(name=name):
                path = self.write(name, data, "wb")
                fmt = "list" if name.endswith(".txt") else "csv"
                r = self.ctl("import", "--create", "--format", fmt, path)
                self.assertEqual(r.rc, 1, r.err)
                self.assertIn("%s: binary data (%s), not %s input" % (path, what, fmt), r.err)
                self.assertEqual(summary(r)["read"], 0)
                self.assertNotIn("\x1b", r.err + r.out)
                self.assertNotIn("\x07", r.err + r.out)
        self.assertIs(self.show("192.0.2.1")["known"], False)
        # Mail is MIME and may be 8-bit: not refused for its bytes.
        eml = self.path("8bit.eml")
        with open(os.path.join(ARF, "01-abuse-ipv4.eml"), "rb") as f:
            data = f.read()
        with open(eml, "wb") as f:
            f.write(data.replace(b"\n\n", b"\n\n\xe9\n", 1))
        self.imp("--format", "arf", eml)

    def test_messages_escape_control_bytes(self):
        """A warning or reject quoting a field never writes its control
        bytes to the terminal."""
        csv = self.write("ctl.csv", "address_or_prefix,kind,weight,time,reason\n"
                                    "192.0.2.7,bo\x1b[31mgus,1,2025-06-01T10:00:00Z,x\n")
        r = self.imp(csv, rc=1)
        self.assertNotIn("\x1b", r.err)
        self.assertIn("unknown kind 'bo\\x1b[31mgus'", r.err)

    def test_csv_times_without_zone_are_utc(self):
        csv = self.write("t.csv", "address_or_prefix,kind,weight,time,reason\n"
                                  "192.0.2.7,abuse,1,2025-06-01 10:00:00,x\n")
        self.imp(csv)
        self.assertEqual(self.show("192.0.2.7")["first_seen"], "2025-06-01T10:00:00Z")
        traps = self.write("traps.csv", "timestamp,ip,helo,mail_from,rcpt_to\n"
                                        "2025-06-01 09:12:40,203.0.113.7,h,m,r\n")
        self.imp(traps)
        self.assertEqual(self.show("203.0.113.7")["first_seen"], "2025-06-01T09:12:40Z")

    def test_drop_json_is_detected(self):
        path = os.path.join(FIXTURES, "list", "drop.json")
        r = self.imp(path, rc=1)  # line 3 is a bad prefix
        self.assertIn("dnsblctl: %s: detected format list" % path, r.err)
        self.assertEqual((summary(r)["read"], summary(r)["imported"], summary(r)["rejected"]),
                         (3, 2, 1))

    def test_dry_run_leaves_no_store(self):
        db = self.path("never")
        r = self.imp("--dry-run", *arf_files(), db=db, rc=1)
        self.assertEqual(summary(r)["imported"], 9)
        self.assertEqual(summary(r)["rejected"], 1)
        self.assertFalse(os.path.exists(db))
        r = self.imp("--dry-run", os.path.join(ARF, "01-abuse-ipv4.eml"), db=None)
        self.assertEqual(summary(r)["imported"], 1)

    def test_usage_errors(self):
        f = os.path.join(ARF, "01-abuse-ipv4.eml")
        cases = [(["--format", "pdf", f], "unknown format 'pdf'"),
                 ([], "missing PATH"),
                 (["--emit-zone", self.path("z"), f], "--emit-zone needs --format rbldnsd"),
                 (["--batch", "0", f], "--batch '0'"),
                 (["--batch", "x", f], "--batch 'x'"),
                 (["--code", "127.0.0.1", f], "--code '127.0.0.1'"),
                 (["--source", "a,b", f], "--source"),
                 (["--format", "rbldnsd:combined", f], "--zone")]
        for args, msg in cases:
            with self.subTest(args=args):
                r = self.ctl_fail(2, "import", *args)
                self.assertIn(msg, r.err)
        self.assertFalse(os.path.exists(self.db))

    def test_input_errors_exit_1(self):
        r = self.imp(self.path("missing.csv"), os.path.join(ARF, "01-abuse-ipv4.eml"), rc=1)
        self.assertIn("missing.csv: No such file or directory", r.err)
        self.assertEqual(summary(r)["imported"], 1)
        r = self.imp("--format", "csv", ARF, rc=1)
        self.assertIn("is a directory", r.err)
        r = self.imp("--format", "maildir", os.path.join(ARF, "01-abuse-ipv4.eml"), rc=1)
        self.assertIn("reads a directory", r.err)
        nothing = self.write("nothing.bin", b"\x00\x01\x02binary\xff", "wb")
        r = self.imp(nothing, rc=1)
        self.assertIn("cannot tell the format", r.err)

    def test_help(self):
        r = self.ctl_ok("import", "--help")
        for opt in ("--format", "--source", "--zone", "--code", "--reason", "--dry-run",
                    "--reject-dir", "--emit-zone", "--batch", "--done", "rbldnsd:TYPE", "maildir"):
            self.assertIn(opt, r.out)

    def test_kill_mid_import_then_rerun(self):
        """Killed between batches, a re-run reaches the state of one clean run."""
        ips = ["192.0.2.%d" % i for i in range(1, 255)] + \
              ["198.51.100.%d" % i for i in range(1, 255)]
        rows = ["address_or_prefix,kind,weight,time,reason"]
        for i in range(300000):
            kind = ("abuse", "trap", "volume")[i % 3]
            rows.append("%s,%s,%d,%d,row %d" % (ips[i % len(ips)], kind,
                                                1000 if kind == "volume" else 1,
                                                1748000000 + i, i))
        big = self.write("big.csv", "\n".join(rows) + "\n")
        clean = self.path("clean")
        self.imp("--format", "csv", big, db=clean)

        env = dict(os.environ)
        env.pop("DNSBL_DB", None)
        proc = subprocess.Popen([ctl_binary(), "--now", NOW, "--db", self.db, "import",
                                 "--create", "--format", "csv",
                                 "--batch", "1000", big],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        if proc.returncode == -signal.SIGKILL:
            self.assertEqual(out, b"")  # killed before its summary
        r = self.imp("--format", "csv", big)
        if proc.returncode == -signal.SIGKILL:
            self.assertGreater(summary(r)["imported"], 0)
        self.assertEqual(summary(r)["imported"] + summary(r)["duplicates"], 300000)
        self.assertEqual(self.listing(), self.listing(db=clean))
        top = ("top", "--by", "complaints", "--limit", "1000", "--json")
        self.assertEqual(self.ctl_ok(*top).out, self.ctl_ok(*top, db=clean).out)
        for ip in (ips[0], ips[100], ips[-1]):
            self.assertEqual(self.show(ip), self.show(ip, db=clean))


if __name__ == "__main__":
    unittest.main()
