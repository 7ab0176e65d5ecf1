"""dnsblctl CLI tests: every command, the 0/1/2 exit-code contract, the
exact error texts, and the decisions show reports (longest
prefix, allow precedence, delisting and who did it, expiry, the report's
keys); import itself is in test_import.py. Each test gets a fresh
temporary store (ctlhelp.CtlTestCase) and a fixed clock (dnsblctl --now)."""

import datetime
import json
import os
import shutil
import stat
import subprocess
import unittest

from ctlhelp import DEFAULT_NOW, CtlTestCase, run_ctl

COMMANDS = ["add", "delist", "allow", "show", "list", "import", "top", "export"]

SHOW_KEYS = {"address", "prefix", "listed", "allowed", "code", "reason", "expires",
             "first_seen", "last_seen"}
SHOW_OPTIONAL_KEYS = {"why", "state"}
# The per-address report's keys (issue "Feeds and reputation", operator view).
SHOW_REPORT_KEYS = {"known", "score", "threshold", "complaints", "counts", "volume",
                    "complaint_rate", "light", "codes", "clears_at", "sources",
                    "auth_failures", "snds", "history", "operator_history", "overrides"}
FIXTURES = os.environ.get("DNSBL_FIXTURES") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
LIST_KEYS = {"prefix", "state", "code", "reason", "expires", "first_seen", "last_seen",
             "dataset", "zones"}


def rfc3339(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def unix(text):
    return int(datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
               .replace(tzinfo=datetime.timezone.utc).timestamp())


T0 = unix(DEFAULT_NOW)
HOUR = 3600
DAY = 86400


class TestHelpAndUsage(CtlTestCase):
    def test_tool_help_goes_to_stdout(self):
        for args in (["--help"], ["-h"], ["help"]):
            r = run_ctl(*args)
            self.assertEqual(r.rc, 0, args)
            self.assertEqual(r.err, "")
            self.assertTrue(r.out.startswith("Usage: dnsblctl"), r.out)
            for cmd in COMMANDS:
                self.assertRegex(r.out, r"(?m)^  %s\s" % cmd)

    def test_help_for_every_command(self):
        for cmd in COMMANDS:
            with self.subTest(cmd=cmd):
                a = run_ctl(cmd, "--help")
                b = run_ctl("help", cmd)
                self.assertEqual((a.rc, a.err), (0, ""))
                self.assertEqual((b.rc, b.err), (0, ""))
                self.assertTrue(a.out.startswith("Usage: dnsblctl %s" % cmd), a.out)
                self.assertEqual(a.out, b.out)
                self.assertIn("--db DIR", a.out)

    def test_help_with_other_arguments_still_helps(self):
        r = run_ctl("add", "300.1.2.3", "--help")
        self.assertEqual(r.rc, 0)
        self.assertTrue(r.out.startswith("Usage: dnsblctl add"))

    def test_help_documents_options(self):
        out = run_ctl("add", "--help").out
        for opt in ("--reason", "--code", "--expires"):
            self.assertIn(opt, out)
        self.assertIn("--json", run_ctl("show", "--help").out)
        self.assertIn("--json", run_ctl("list", "--help").out)

    def test_help_for_unknown_command(self):
        r = run_ctl("help", "frob")
        self.assertEqual(r.rc, 2)
        self.assertEqual(r.out, "")
        self.assertIn("'frob'", r.err)

    def test_version(self):
        r = run_ctl("--version")
        self.assertEqual((r.rc, r.err), (0, ""))
        self.assertRegex(r.out, r"^dnsblctl \d+\.\d+\.\d+\n$")

    def test_no_command_prints_usage_to_stderr(self):
        r = run_ctl()
        self.assertEqual(r.rc, 2)
        self.assertEqual(r.out, "")
        self.assertTrue(r.err.startswith("dnsblctl: "))
        self.assertIn("Usage: dnsblctl", r.err)

    def test_unknown_command(self):
        r = self.ctl_fail(2, "frob")
        self.assertEqual(self.first_error_line(r),
                         "dnsblctl: 'frob' is not a command (see dnsblctl --help)")

    def test_unknown_option_prints_usage_to_stderr(self):
        r = self.ctl_fail(2, "add", "192.0.2.1", "--bogus")
        self.assertEqual(self.first_error_line(r), "dnsblctl: add: unknown option '--bogus'")
        self.assertIn("Usage: dnsblctl add", r.err)
        r = self.ctl_fail(2, "list", "-x")
        self.assertEqual(self.first_error_line(r), "dnsblctl: list: unknown option '-x'")

    def test_unknown_global_option(self):
        r = self.ctl_fail(2, "--bogus", "list")
        self.assertIn("'--bogus'", self.first_error_line(r))

    def test_option_of_another_command_is_unknown(self):
        r = self.ctl_fail(2, "delist", "192.0.2.1", "--code", "127.0.0.3")
        self.assertEqual(self.first_error_line(r), "dnsblctl: delist: unknown option '--code'")

    def test_option_missing_its_argument(self):
        r = self.ctl_fail(2, "add", "192.0.2.1", "--reason")
        self.assertEqual(self.first_error_line(r),
                         "dnsblctl: add: option '--reason' needs an argument")
        r = run_ctl("--db")
        self.assertEqual(r.rc, 2)
        self.assertIn("'--db' needs an argument", r.err)

    def test_flag_given_an_argument(self):
        r = self.ctl_fail(2, "list", "--json=yes")
        self.assertEqual(self.first_error_line(r),
                         "dnsblctl: list: option '--json' takes no argument")

    def test_missing_operand(self):
        for cmd, what in (("add", "ADDR|PREFIX"), ("delist", "ADDR|PREFIX"),
                          ("allow", "ADDR|PREFIX"), ("show", "ADDR")):
            with self.subTest(cmd=cmd):
                r = self.ctl_fail(2, cmd)
                self.assertEqual(self.first_error_line(r), "dnsblctl: %s: missing %s" % (cmd, what))
                self.assertIn("Usage: dnsblctl %s" % cmd, r.err)

    def test_extra_operand(self):
        r = self.ctl_fail(2, "add", "192.0.2.1", "192.0.2.2")
        self.assertEqual(self.first_error_line(r), "dnsblctl: add: unexpected argument '192.0.2.2'")
        r = self.ctl_fail(2, "list", "192.0.2.1")
        self.assertEqual(self.first_error_line(r), "dnsblctl: list: unexpected argument '192.0.2.1'")

    def test_now_fixes_the_clock(self):
        # --now (testing) takes unix seconds or RFC 3339 and fixes the clock
        # of the whole run: a listing expires when --now passes its end.
        r = run_ctl("--now", "2026-11-27T12:00:00Z", "--db", self.db, "add", "192.0.2.7",
                    "--expires", "1h")
        self.assertEqual(r.rc, 0, r.err)
        for now, listed in (("1795784399", True), ("1795784400", False),
                            ("2026-11-27T13:30:00+01:00", True)):
            r = run_ctl("--now", now, "--db", self.db, "show", "192.0.2.7", "--json")
            self.assertEqual(r.rc, 0, r.err)
            self.assertEqual(json.loads(r.out)["listed"], listed, now)

    def test_now_rejects_a_bad_time(self):
        for bad in ("", "yesterday", "-5", "2026-13-01"):
            r = run_ctl("--now", bad, "--db", self.db, "add", "192.0.2.7")
            self.assertEqual(r.rc, 2, bad)
            self.assertIn("--now", r.err)
        self.assertEqual(self.list_json(), [])

    def test_no_store_given(self):
        r = run_ctl("show", "192.0.2.1")
        self.assertEqual(r.rc, 2)
        self.assertIn("--db DIR or set DNSBL_DB", r.err)
        self.assertEqual(self.list_json(), [])


class TestStoreSelection(CtlTestCase):
    def test_db_before_and_after_the_command(self):
        r = run_ctl("--db", self.db, "add", "192.0.2.1", now=self.now)
        self.assertEqual(r.rc, 0, r.err)
        r = run_ctl("show", "192.0.2.1", "--json", "--db", self.db, now=self.now)
        self.assertEqual(r.rc, 0, r.err)
        self.assertTrue(json.loads(r.out)["listed"])
        r = run_ctl("add", "--db", self.db, "192.0.2.2", now=self.now)
        self.assertEqual((r.rc, r.out), (0, "listed 192.0.2.2 (127.0.0.2)\n"))

    def test_db_from_environment(self):
        r = run_ctl("add", "192.0.2.1", env={"DNSBL_DB": self.db}, now=self.now)
        self.assertEqual(r.rc, 0, r.err)
        self.assertTrue(self.show_json("192.0.2.1")["listed"])
        r = run_ctl("show", "192.0.2.1", "--json", env={"DNSBL_DB": self.db}, now=self.now)
        self.assertTrue(json.loads(r.out)["listed"])

    def test_db_option_beats_environment(self):
        other = os.path.join(self.tmp, "other")
        os.mkdir(other)
        r = run_ctl("--db", self.db, "add", "192.0.2.1", env={"DNSBL_DB": other}, now=self.now)
        self.assertEqual(r.rc, 0, r.err)
        self.assertEqual(os.listdir(other), [])
        self.assertTrue(self.show_json("192.0.2.1")["listed"])

    def test_writes_never_create_the_store(self):
        # A mistyped --db must fail, not fill a new, empty store.
        db = os.path.join(self.tmp, "new", "store")
        empty = os.path.join(self.tmp, "empty")
        os.mkdir(empty)
        listed = os.path.join(self.tmp, "listed.txt")
        with open(listed, "w") as f:
            f.write("192.0.2.1\n")
        for where in (db, empty):
            for args in (("add", "192.0.2.1"), ("allow", "192.0.2.1"), ("delist", "192.0.2.1"),
                         ("reindex",), ("import", "--format", "list", listed)):
                with self.subTest(db=where, args=args):
                    r = self.ctl_fail(1, *args, db=where)
                    if args[0] != "delist":
                        self.assertEqual(
                            r.err, "dnsblctl: store %s does not exist: create it with dnsblctl "
                            "init %s (or pass --create)\n" % (where, where))
        self.assertFalse(os.path.exists(os.path.dirname(db)))
        self.assertEqual(os.listdir(empty), [])

    def test_create_makes_the_store_on_a_write(self):
        for i, (before, after) in enumerate(((("--create",), ()), ((), ("--create",)))):
            db = os.path.join(self.tmp, "new%d" % i, "store")
            r = self.ctl(*before, "add", "192.0.2.1", *after, db=db)
            self.assertEqual((r.rc, r.out), (0, "listed 192.0.2.1 (127.0.0.2)\n"), r.err)
            self.assertTrue(self.show_json("192.0.2.1", db=db)["listed"])
            self.assert_store_modes(db, dir_mode=0o750)
        listed = os.path.join(self.tmp, "listed.txt")
        with open(listed, "w") as f:
            f.write("192.0.2.1\n")
        r = self.ctl_ok("import", "--create", "--format", "list", listed,
                        db=os.path.join(self.tmp, "imported"))
        self.assertIn("imported 1", r.out)
        # --create belongs to the writes: a read refuses it.
        self.ctl_fail(2, "show", "192.0.2.1", "--create")

    def assert_store_modes(self, db, dir_mode=None):
        modes = {name: stat.S_IMODE(os.stat(os.path.join(db, name)).st_mode)
                 for name in ("data.mdb", "lock.mdb")}
        self.assertEqual(modes, {"data.mdb": 0o640, "lock.mdb": 0o660})
        if dir_mode is not None:
            self.assertEqual(stat.S_IMODE(os.stat(db).st_mode), dir_mode)

    def test_reads_never_create_the_store(self):
        empty = os.path.join(self.tmp, "empty")
        os.mkdir(empty)
        self.assertFalse(self.show_json("192.0.2.1", db=empty)["listed"])
        self.assertEqual(self.list_json(db=empty), [])
        self.ctl_fail(1, "delist", "192.0.2.1", db=empty)
        self.assertEqual(os.listdir(empty), [])

    def test_missing_directory_is_an_error_for_reads(self):
        db = os.path.join(self.tmp, "typo")
        for args in (("show", "192.0.2.1"), ("list",)):
            r = self.ctl_fail(1, *args, db=db)
            self.assertIn(db, r.err)
        self.assertFalse(os.path.exists(db))

    def test_store_error_exits_1_with_the_reason(self):
        path = os.path.join(self.tmp, "file")
        with open(path, "w") as f:
            f.write("not a store\n")
        for db in (path, os.path.join(path, "sub")):
            for args in (("add", "192.0.2.1"), ("allow", "192.0.2.1"), ("show", "192.0.2.1"),
                         ("list",)):
                with self.subTest(db=db, args=args):
                    r = self.ctl_fail(1, *args, db=db)
                    self.assertIn(path, r.err)
                    self.assertIn("directory", r.err.lower())
                    self.assertEqual(len(r.err.splitlines()), 1, r.err)

    @unittest.skipIf(os.geteuid() == 0, "root ignores directory permissions")
    def test_read_only_store_directory(self):
        os.chmod(self.db, 0o555)
        self.addCleanup(os.chmod, self.db, 0o755)
        r = self.ctl_fail(1, "add", "192.0.2.1")
        self.assertIn(self.db, r.err)


class TestAdd(CtlTestCase):
    def test_add_prints_what_it_listed(self):
        self.assertEqual(self.ctl_ok("add", "192.0.2.0/24").out, "listed 192.0.2.0/24 (127.0.0.2)\n")
        self.assertEqual(self.ctl_ok("add", "192.0.2.7", "--code", "127.0.0.5").out,
                         "listed 192.0.2.7 (127.0.0.5)\n")
        self.assertEqual(self.ctl_ok("add", "2001:DB8::/32").out, "listed 2001:db8::/32 (127.0.0.2)\n")
        self.assertEqual(self.ctl_ok("add", "::ffff:198.51.100.9").out,
                         "listed 198.51.100.9 (127.0.0.2)\n")

    def test_add_then_show_text(self):
        self.ctl_ok("add", "192.0.2.0/24", "--reason", "spam run", "--code", "127.0.0.4")
        kv = self.show_text("192.0.2.7")
        self.assertEqual(kv["address"], "192.0.2.7")
        self.assertEqual(kv["prefix"], "192.0.2.0/24")
        self.assertEqual(kv["listed"], "yes")
        self.assertEqual(kv["allowed"], "no")
        self.assertEqual(kv["code"], "127.0.0.4")
        self.assertEqual(kv["reason"], "spam run")
        self.assertEqual(kv["expires"], "never")
        self.assertEqual(kv["first seen"], DEFAULT_NOW)
        self.assertEqual(kv["last seen"], DEFAULT_NOW)

    def test_add_then_show_json(self):
        self.ctl_ok("add", "192.0.2.0/24", "--reason", "spam run", "--expires", "7d")
        doc = self.show_json("192.0.2.7")
        self.assertEqual(set(doc), SHOW_KEYS | SHOW_OPTIONAL_KEYS | SHOW_REPORT_KEYS, doc)
        self.assertEqual(doc["address"], "192.0.2.7")
        self.assertEqual(doc["prefix"], "192.0.2.0/24")
        self.assertIs(doc["listed"], True)
        self.assertIs(doc["allowed"], False)
        self.assertEqual(doc["code"], "127.0.0.2")
        self.assertEqual(doc["reason"], "spam run")
        self.assertEqual(doc["expires"], rfc3339(T0 + 7 * DAY))
        self.assertEqual(doc["first_seen"], DEFAULT_NOW)
        self.assertEqual(doc["last_seen"], DEFAULT_NOW)
        self.assertEqual(doc.get("why", "manual"), "manual")
        self.assertEqual(doc.get("state", "listed"), "listed")

    def test_add_ipv6(self):
        self.ctl_ok("add", "2001:db8:1::/48", "--reason", "v6 spam")
        doc = self.show_json("2001:db8:1::25")
        self.assertEqual(doc["address"], "2001:db8:1::25")
        self.assertEqual(doc["prefix"], "2001:db8:1::/48")
        self.assertTrue(doc["listed"])
        self.assertFalse(self.show_json("2001:db8:2::25")["listed"])

    def test_add_again_replaces_code_and_reason(self):
        self.ctl_ok("add", "192.0.2.7", "--reason", "first", "--code", "127.0.0.3")
        self.ctl_ok("add", "192.0.2.7", "--reason", "second", "--code", "127.0.0.9",
                    now=T0 + HOUR)
        doc = self.show_json("192.0.2.7")
        self.assertEqual((doc["code"], doc["reason"]), ("127.0.0.9", "second"))
        self.assertEqual(doc["first_seen"], DEFAULT_NOW)
        self.assertEqual(doc["last_seen"], rfc3339(T0 + HOUR))

    def test_expires_forms(self):
        cases = [("7d", T0 + 7 * DAY), ("12h", T0 + 12 * HOUR), ("3600", T0 + HOUR),
                 ("1d12h", T0 + 36 * HOUR), ("2027-01-01T00:00:00Z", unix("2027-01-01T00:00:00Z"))]
        for i, (text, want) in enumerate(cases):
            with self.subTest(expires=text):
                addr = "192.0.2.%d" % (i + 10)
                self.ctl_ok("add", addr, "--expires", text)
                self.assertEqual(self.show_json(addr)["expires"], rfc3339(want))

    def test_refuses_the_never_listed_test_point(self):
        for target in ("127.0.0.1", "::ffff:7f00:1", "::FFFF:127.0.0.1", "127.0.0.0/8",
                       "127.0.0.0/31", "0.0.0.0/0"):
            with self.subTest(target=target):
                r = self.ctl_fail(1, "add", target)
                line = self.first_error_line(r)
                self.assertIn("'%s'" % target, line)
                self.assertIn("127.0.0.1", line)
                self.assertIn("RFC 5782", line)
                self.assertIn("never be listed", line)
        self.assertEqual(self.list_json(), [])
        self.assertFalse(self.show_json("127.0.0.1")["listed"])

    def test_the_listed_test_point_may_be_listed(self):
        self.ctl_ok("add", "127.0.0.2", "--reason", "RFC 5782 test point")
        self.assertTrue(self.show_json("127.0.0.2")["listed"])
        self.ctl_ok("add", "126.0.0.0/8")

    def test_bad_code(self):
        for code, why in (("127.0.0.1", "not allowed"), ("127.255.255.252", "not allowed"),
                          ("127.255.255.253", "not allowed"), ("127.255.255.254", "not allowed"),
                          ("127.255.255.255", "not allowed"), ("10.0.0.2", "outside 127.0.0.0/8"),
                          ("128.0.0.2", "outside 127.0.0.0/8"), ("127.0.0", "not an IPv4"),
                          ("two", "not an IPv4"), ("127.0.0.256", "not an IPv4")):
            with self.subTest(code=code):
                r = self.ctl_fail(2, "add", "192.0.2.1", "--code", code)
                line = self.first_error_line(r)
                self.assertTrue(line.startswith("dnsblctl: --code '%s' " % code), line)
                self.assertIn(why, line)
        self.assertEqual(self.list_json(), [])

    def test_good_codes(self):
        for code in ("127.0.0.2", "127.0.0.10", "127.1.2.3", "127.255.255.251"):
            with self.subTest(code=code):
                self.assertEqual(self.ctl_ok("add", "192.0.2.1", "--code", code).out,
                                 "listed 192.0.2.1 (%s)\n" % code)

    def test_bad_address(self):
        r = self.ctl_fail(2, "add", "300.1.2.3")
        self.assertEqual(r.err.splitlines()[0],
                         "dnsblctl: '300.1.2.3' is not an IPv4/IPv6 address or prefix")
        for bad in ("example.com", "192.0.2", "192.0.2.0/33", "2001:db8::/129", "", "1.2.3.4/"):
            with self.subTest(addr=bad):
                r = self.ctl_fail(2, "add", bad)
                self.assertIn("'%s'" % bad, r.err)

    def test_host_bits_set_shows_the_corrected_prefix(self):
        r = self.ctl_fail(2, "add", "192.0.2.7/24")
        self.assertEqual(self.first_error_line(r),
                         "dnsblctl: '192.0.2.7/24' has host bits set; did you mean 192.0.2.0/24?")
        r = self.ctl_fail(2, "allow", "2001:db8::1/64")
        self.assertIn("2001:db8::/64", r.err)

    def test_bad_duration(self):
        for bad in ("3x", "-5", "0", "7 days", "2026-13-01T00:00:00Z"):
            with self.subTest(expires=bad):
                r = self.ctl_fail(2, "add", "192.0.2.1", "--expires", bad)
                self.assertTrue(self.first_error_line(r).startswith("dnsblctl: --expires '%s' " % bad),
                                r.err)
        self.assertEqual(self.list_json(), [])

    def test_expiry_in_the_past(self):
        r = self.ctl_fail(2, "add", "192.0.2.1", "--expires", "2020-01-01T00:00:00Z")
        self.assertIn("in the past", r.err)

    def test_reason_checks(self):
        r = self.ctl_fail(2, "add", "192.0.2.1", "--reason", "x" * 300)
        self.assertIn("--reason", r.err)
        self.ctl_ok("add", "192.0.2.1", "--reason", "x" * 255)
        self.assertEqual(self.show_json("192.0.2.1")["reason"], "x" * 255)
        r = self.ctl_fail(2, "add", "192.0.2.1", "--reason", "two\nlines")
        self.assertIn("control characters", r.err)

    def test_reason_is_escaped_in_json(self):
        reason = 'said "hi" \\ then left, ünïcödé ☃'
        self.ctl_ok("add", "192.0.2.1", "--reason", reason)
        self.assertEqual(self.show_json("192.0.2.1")["reason"], reason)
        self.assertEqual(self.list_json()[0]["reason"], reason)


class TestShow(CtlTestCase):
    def test_unknown_address(self):
        doc = self.show_json("192.0.2.1")
        self.assertEqual(doc["address"], "192.0.2.1")
        self.assertIs(doc["listed"], False)
        self.assertIs(doc["allowed"], False)
        for key in ("prefix", "code", "reason", "expires", "first_seen", "last_seen"):
            self.assertIsNone(doc[key], key)
        self.ctl_ok("add", "198.51.100.0/24")
        doc = self.show_json("192.0.2.1")
        self.assertIs(doc["listed"], False)
        self.assertIsNone(doc["prefix"])
        kv = self.show_text("2001:db8::1")
        self.assertEqual(kv["listed"], "no")

    def test_report_of_an_unknown_address(self):
        doc = self.show_json("192.0.2.1")
        self.assertIs(doc["known"], False)
        self.assertEqual((doc["score"], doc["threshold"], doc["complaints"], doc["volume"]),
                         (0, 10, 0, 0))
        self.assertEqual(doc["counts"], {k: 0 for k in ("abuse", "fraud", "virus", "other",
                                                         "not_spam", "auth_failure",
                                                         "trap_hits")})
        self.assertEqual(doc["auth_failures"], {"spf": 0, "dkim": 0, "dmarc": 0})
        self.assertIsNone(doc["complaint_rate"])
        self.assertIsNone(doc["clears_at"])
        self.assertIsNone(doc["snds"])
        self.assertEqual((doc["codes"], doc["sources"]), ([], []))
        self.assertEqual(doc["light"], "green")
        days = [h["day"] for h in doc["history"]]
        self.assertEqual(len(days), 30)
        self.assertEqual((days[0], days[-1]), ("2026-10-29", "2026-11-27"))
        self.assertTrue(all(h["complaints"] == h["trap_hits"] == h["volume"] == 0
                            for h in doc["history"]))

    def test_report_of_a_manual_listing(self):
        self.ctl_ok("add", "192.0.2.0/24", "--code", "127.0.0.10", "--reason", "r")
        doc = self.show_json("192.0.2.9")
        self.assertIs(doc["known"], True)
        self.assertEqual(doc["codes"], ["127.0.0.10"])
        self.assertEqual(doc["sources"], ["dnsblctl"])
        kv = self.show_text("192.0.2.9", now=T0 + HOUR)
        self.assertEqual(kv["known"], "yes")
        self.assertEqual(kv["listed since"], DEFAULT_NOW)
        self.assertEqual(kv["score"], "0.00 (threshold 10.00)")
        self.assertEqual(kv["clears at"], "not over the threshold")
        self.assertEqual(kv["light"], "red")  # listed: never green (README)
        self.assertEqual(kv["sources"], "dnsblctl")

    def test_chart_only_when_asked_or_on_a_terminal(self):
        self.ctl_ok("add", "192.0.2.9")
        self.assertNotIn("trend", self.ctl_ok("show", "192.0.2.9").out)
        out = self.ctl_ok("show", "192.0.2.9", "--chart").out
        self.assertIn("trend: 2026-10-29 .. 2026-11-27", out)
        lines = [l for l in out.splitlines() if l.startswith("  ")]
        self.assertEqual([l.split()[0] for l in lines], ["complaints", "trap", "volume"])
        self.assertTrue(all("\u2581" * 30 in l for l in lines), lines)

    def test_zone_config_needs_a_zone(self):
        r = self.ctl_fail(2, "show", "192.0.2.1", "--zone-config", "/nonexistent.conf")
        self.assertIn("--zone", r.err)

    def test_show_takes_a_single_address(self):
        r = self.ctl_fail(2, "show", "192.0.2.0/24")
        self.assertIn("'192.0.2.0/24'", self.first_error_line(r))
        self.assertIn("single address", self.first_error_line(r))
        r = self.ctl_fail(2, "show", "300.1.2.3")
        self.assertEqual(self.first_error_line(r),
                         "dnsblctl: '300.1.2.3' is not an IPv4/IPv6 address or prefix")

    def test_show_normalises_the_address(self):
        self.ctl_ok("add", "192.0.2.7")
        doc = self.show_json("::ffff:192.0.2.7")
        self.assertEqual(doc["address"], "192.0.2.7")
        self.assertTrue(doc["listed"])
        self.assertEqual(self.show_json("2001:DB8:0:0::1")["address"], "2001:db8::1")

    def test_text_is_one_key_value_line_each(self):
        self.ctl_ok("add", "192.0.2.0/24", "--reason", "r")
        out = self.ctl_ok("show", "192.0.2.9").out
        for line in out.splitlines():
            self.assertRegex(line, r"^[a-z][a-z ]*: \S")
        kv = self.show_text("192.0.2.9")
        for key in ("address", "prefix", "listed", "allowed", "code", "reason", "expires",
                    "first seen", "last seen"):
            self.assertIn(key, kv)

    def test_longest_prefix_decides(self):
        self.ctl_ok("add", "192.0.2.0/24", "--code", "127.0.0.2", "--reason", "wide")
        self.ctl_ok("add", "192.0.2.128/25", "--code", "127.0.0.3", "--reason", "narrow")
        self.ctl_ok("add", "192.0.2.200", "--code", "127.0.0.4", "--reason", "host")
        for addr, prefix, code, reason in (
                ("192.0.2.5", "192.0.2.0/24", "127.0.0.2", "wide"),
                ("192.0.2.129", "192.0.2.128/25", "127.0.0.3", "narrow"),
                ("192.0.2.200", "192.0.2.200", "127.0.0.4", "host")):
            with self.subTest(addr=addr):
                doc = self.show_json(addr)
                self.assertEqual((doc["prefix"], doc["code"], doc["reason"]), (prefix, code, reason))
                self.assertTrue(doc["listed"])
        self.assertFalse(self.show_json("192.0.3.1")["listed"])

    def test_longest_prefix_decides_ipv6(self):
        self.ctl_ok("add", "2001:db8::/32", "--code", "127.0.0.2")
        self.ctl_ok("add", "2001:db8:1::/48", "--code", "127.0.0.3")
        self.assertEqual(self.show_json("2001:db8:1::1")["prefix"], "2001:db8:1::/48")
        self.assertEqual(self.show_json("2001:db8:1::1")["code"], "127.0.0.3")
        self.assertEqual(self.show_json("2001:db8:2::1")["prefix"], "2001:db8::/32")
        self.assertFalse(self.show_json("2001:db9::1")["listed"])


class TestDelist(CtlTestCase):
    def test_delist_keeps_history(self):
        self.ctl_ok("add", "192.0.2.0/24", "--reason", "spam")
        r = self.ctl_ok("delist", "192.0.2.0/24", "--reason", "ticket 42", now=T0 + DAY)
        self.assertEqual(r.out, "delisted 192.0.2.0/24\n")
        doc = self.show_json("192.0.2.7")
        self.assertIs(doc["listed"], False)
        self.assertIs(doc["allowed"], False)
        self.assertIsNone(doc["code"])
        self.assertEqual(doc["prefix"], "192.0.2.0/24")
        self.assertEqual(doc["first_seen"], DEFAULT_NOW)
        self.assertEqual(doc["last_seen"], rfc3339(T0 + DAY))
        self.assertEqual(doc.get("state", "delisted"), "delisted")
        self.assertEqual(doc.get("why", "delisted"), "delisted")
        entries = self.list_json()
        self.assertEqual([(e["prefix"], e["state"]) for e in entries], [("192.0.2.0/24", "delisted")])
        self.assertEqual(self.show_text("192.0.2.7")["listed"], "no")

    def test_delist_records_who_and_why(self):
        self.ctl_ok("add", "192.0.2.7", "--reason", "spam")
        self.ctl_ok("delist", "192.0.2.7", "--reason", "ticket 42",
                    env={"USER": "alice", "SUDO_USER": None})
        self.assertEqual(self.show_text("192.0.2.7")["note"], "delisted: by alice: ticket 42")
        self.ctl_ok("add", "192.0.2.8")
        self.ctl_ok("delist", "192.0.2.8", env={"USER": "root", "SUDO_USER": "bob"})
        self.assertEqual(self.show_text("192.0.2.8")["note"], "delisted: by bob")

    def test_delist_inside_a_listed_prefix(self):
        self.ctl_ok("add", "192.0.2.0/24")
        self.ctl_ok("delist", "192.0.2.7")
        self.assertFalse(self.show_json("192.0.2.7")["listed"])
        self.assertTrue(self.show_json("192.0.2.8")["listed"])

    def test_delist_not_listed(self):
        r = self.ctl_fail(1, "delist", "192.0.2.9")
        self.assertEqual(r.err, "dnsblctl: 192.0.2.9 is not listed\n")
        self.ctl_ok("add", "198.51.100.0/24")
        r = self.ctl_fail(1, "delist", "192.0.2.9")
        self.assertEqual(r.err, "dnsblctl: 192.0.2.9 is not listed\n")
        # A listing inside the prefix does not make the whole prefix listed.
        self.ctl_ok("add", "192.0.2.9")
        r = self.ctl_fail(1, "delist", "192.0.2.0/24")
        self.assertEqual(r.err, "dnsblctl: 192.0.2.0/24 is not listed\n")
        self.assertEqual([e["prefix"] for e in self.list_json()], ["192.0.2.9", "198.51.100.0/24"])

    def test_delist_twice(self):
        self.ctl_ok("add", "2001:db8::/32")
        self.ctl_ok("delist", "2001:db8::/32")
        r = self.ctl_fail(1, "delist", "2001:db8::/32")
        self.assertEqual(r.err, "dnsblctl: 2001:db8::/32 is not listed\n")

    def test_delist_allowed_address_is_not_listed(self):
        self.ctl_ok("add", "192.0.2.0/24")
        self.ctl_ok("allow", "192.0.2.7")
        self.ctl_fail(1, "delist", "192.0.2.7")

    def test_relist_after_delist(self):
        self.ctl_ok("add", "192.0.2.7")
        self.ctl_ok("delist", "192.0.2.7", now=T0 + HOUR)
        self.ctl_ok("add", "192.0.2.7", "--reason", "again", now=T0 + 2 * HOUR)
        doc = self.show_json("192.0.2.7")
        self.assertTrue(doc["listed"])
        self.assertEqual(doc["first_seen"], DEFAULT_NOW)

    def test_bad_address(self):
        r = self.ctl_fail(2, "delist", "192.0.2.7/24")
        self.assertIn("did you mean 192.0.2.0/24?", r.err)


class TestAllow(CtlTestCase):
    def test_allow_prints(self):
        self.assertEqual(self.ctl_ok("allow", "192.0.2.7", "--reason", "customer").out,
                         "allowed 192.0.2.7\n")
        doc = self.show_json("192.0.2.7")
        self.assertIs(doc["allowed"], True)
        self.assertIs(doc["listed"], False)
        self.assertEqual(doc["reason"], "customer")
        self.assertEqual(self.show_text("192.0.2.7")["allowed"], "yes")

    def test_allow_beats_a_shorter_listing(self):
        self.ctl_ok("add", "192.0.2.0/24")
        self.ctl_ok("allow", "192.0.2.7")
        doc = self.show_json("192.0.2.7")
        self.assertEqual((doc["listed"], doc["allowed"], doc["prefix"]), (False, True, "192.0.2.7"))
        self.assertIsNone(doc["code"])
        self.assertTrue(self.show_json("192.0.2.8")["listed"])

    def test_allow_beats_a_longer_listing(self):
        self.ctl_ok("allow", "192.0.2.0/24", "--reason", "our network")
        self.ctl_ok("add", "192.0.2.7", "--reason", "spam", "--force")
        doc = self.show_json("192.0.2.7")
        self.assertEqual((doc["listed"], doc["allowed"]), (False, True))
        self.assertEqual(doc["prefix"], "192.0.2.0/24")
        self.assertEqual(doc["reason"], "our network")
        self.assertFalse(self.show_json("192.0.2.8")["listed"])

    def test_allow_ipv6(self):
        self.ctl_ok("add", "2001:db8::/32")
        self.ctl_ok("allow", "2001:db8:5::/48")
        self.assertTrue(self.show_json("2001:db8:5::1")["allowed"])
        self.assertTrue(self.show_json("2001:db8:6::1")["listed"])

    def test_allow_the_test_point(self):
        self.ctl_ok("allow", "127.0.0.1")
        self.assertTrue(self.show_json("127.0.0.1")["allowed"])


class TestExpiry(CtlTestCase):
    def test_listing_expires(self):
        self.ctl_ok("add", "192.0.2.7", "--expires", "1h")
        self.assertTrue(self.show_json("192.0.2.7", now=T0 + 30 * 60)["listed"])
        doc = self.show_json("192.0.2.7", now=T0 + 2 * HOUR)
        self.assertIs(doc["listed"], False)
        self.assertIsNone(doc["code"])
        self.assertEqual(doc["expires"], rfc3339(T0 + HOUR))
        self.assertEqual(doc.get("why", "expired"), "expired")
        # Once expired there is nothing to delist.
        self.ctl_fail(1, "delist", "192.0.2.7", now=T0 + 2 * HOUR)

    def test_clock_as_unix_seconds(self):
        self.ctl_ok("add", "192.0.2.7", "--expires", "2026-11-28T00:00:00Z", now=str(T0))
        self.assertTrue(self.show_json("192.0.2.7", now=str(T0 + 11 * HOUR))["listed"])
        self.assertFalse(self.show_json("192.0.2.7", now=str(T0 + 13 * HOUR))["listed"])

    def test_expired_longer_listing_falls_back_to_the_shorter(self):
        self.ctl_ok("add", "192.0.2.0/24", "--code", "127.0.0.2")
        self.ctl_ok("add", "192.0.2.7", "--code", "127.0.0.3", "--expires", "1d")
        self.assertEqual(self.show_json("192.0.2.7")["code"], "127.0.0.3")
        doc = self.show_json("192.0.2.7", now=T0 + 2 * DAY)
        self.assertEqual((doc["listed"], doc["code"], doc["prefix"]), (True, "127.0.0.2", "192.0.2.0/24"))

    def test_allow_expires(self):
        self.ctl_ok("add", "192.0.2.0/24")
        self.ctl_ok("allow", "192.0.2.7", "--expires", "12h")
        self.assertFalse(self.show_json("192.0.2.7", now=T0 + HOUR)["listed"])
        self.assertTrue(self.show_json("192.0.2.7", now=T0 + 13 * HOUR)["listed"])


class TestList(CtlTestCase):
    # Added out of order on purpose; the expected order is by address,
    # IPv4 before IPv6.
    ENTRIES = [
        ("add", "2001:db8::1", ["--reason", "v6 host"]),
        ("allow", "198.51.100.0/24", ["--reason", "partner net"]),
        ("add", "192.0.2.7", ["--code", "127.0.0.4", "--expires", "7d"]),
        ("add", "::2", []),
        ("add", "192.0.2.0/24", ["--reason", "spam run"]),
        ("add", "10.0.0.1", ["--reason", "x"]),
        ("add", "2001:db8::/32", []),
    ]
    ORDER = ["10.0.0.1", "192.0.2.0/24", "192.0.2.7", "198.51.100.0/24", "::2",
             "2001:db8::/32", "2001:db8::1"]

    def fill(self):
        for cmd, target, opts in self.ENTRIES:
            self.ctl_ok(cmd, target, *opts)

    def test_empty_store(self):
        r = self.ctl_ok("list")
        self.assertEqual(len(r.out.splitlines()), 1)
        self.assertTrue(r.out.startswith("PREFIX"))
        self.assertEqual(self.list_json(), [])

    def test_json_order_and_keys(self):
        self.fill()
        entries = self.list_json()
        self.assertEqual([e["prefix"] for e in entries], self.ORDER)
        for e in entries:
            self.assertEqual(set(e), LIST_KEYS, e)
            self.assertEqual(e["first_seen"], DEFAULT_NOW)
            self.assertEqual(e["last_seen"], DEFAULT_NOW)
        by = {e["prefix"]: e for e in entries}
        self.assertEqual(by["192.0.2.7"]["code"], "127.0.0.4")
        self.assertEqual(by["192.0.2.7"]["expires"], rfc3339(T0 + 7 * DAY))
        self.assertIsNone(by["192.0.2.7"]["reason"])
        self.assertEqual(by["192.0.2.0/24"]["code"], "127.0.0.2")
        self.assertIsNone(by["192.0.2.0/24"]["expires"])
        self.assertEqual(by["198.51.100.0/24"]["state"], "allowed")
        self.assertIsNone(by["198.51.100.0/24"]["code"])
        self.assertEqual(by["198.51.100.0/24"]["reason"], "partner net")
        self.assertEqual(by["2001:db8::1"]["state"], "listed")
        # What each answers in the one (unnamed, default-policy) zone.
        self.assertEqual(by["192.0.2.7"]["zones"], [
            {"zone": None, "listed": True, "why": "manual",
             "codes": [{"code": "127.0.0.4", "why": "manual"}]}])
        self.assertEqual(by["198.51.100.0/24"]["zones"], [
            {"zone": None, "listed": False, "why": "allowed", "codes": []}])

    def test_text_order_and_columns(self):
        self.fill()
        lines = self.ctl_ok("list").out.splitlines()
        header, rows = lines[0], lines[1:]
        self.assertEqual(header.split(),
                         ["PREFIX", "STATE", "LISTED", "CODE", "WHY", "EXPIRES", "REASON"])
        self.assertEqual([row.split()[0] for row in rows], self.ORDER)
        cols = {name: header.index(name)
                for name in ("STATE", "LISTED", "CODE", "WHY", "EXPIRES", "REASON")}
        for row in rows:
            for name, col in cols.items():
                self.assertNotEqual(row[col], " ", (name, row))
                self.assertEqual(row[col - 1], " ", (name, row))
        row = {r.split()[0]: r for r in rows}
        self.assertEqual(row["192.0.2.0/24"][cols["STATE"]:].split()[:4],
                         ["listed", "yes", "127.0.0.2", "manual"])
        self.assertEqual(row["192.0.2.0/24"][cols["REASON"]:], "spam run")
        self.assertEqual(row["192.0.2.7"][cols["EXPIRES"]:].split()[0], rfc3339(T0 + 7 * DAY))
        self.assertEqual(row["198.51.100.0/24"][cols["STATE"]:].split()[:4],
                         ["allowed", "no", "-", "allowed"])
        self.assertEqual(row["198.51.100.0/24"][cols["REASON"]:], "partner net")

    def test_list_shows_delisted_entries(self):
        self.ctl_ok("add", "192.0.2.7")
        self.ctl_ok("delist", "192.0.2.7")
        rows = self.ctl_ok("list").out.splitlines()[1:]
        self.assertEqual(rows[0].split()[:5], ["192.0.2.7", "delisted", "no", "-", "delisted"])

    def test_list_output_is_valid_json_with_one_entry(self):
        self.ctl_ok("add", "192.0.2.7")
        out = self.ctl_ok("list", "--json").out
        self.assertTrue(out.endswith("]\n"))
        self.assertEqual(len(json.loads(out)), 1)


class TestTopAndExport(CtlTestCase):
    def test_top_of_an_empty_store(self):
        self.assertEqual(self.ctl_ok("top", "--json").out, "[]\n")
        self.assertEqual(self.ctl_ok("top").out.split(),
                         ["ADDRESS", "SCORE", "COMPLAINTS", "TRAPS", "LIGHT", "LISTED"])

    def test_top_usage(self):
        r = self.ctl_fail(2, "top", "--by", "volume")
        self.assertIn("--by 'volume'", r.err)
        self.ctl_fail(2, "top", "--limit", "0")
        self.ctl_fail(2, "top", "192.0.2.1")

    def test_export_manual_listings(self):
        self.ctl_ok("add", "192.0.2.0/24", "--reason", "net, \"quoted\"", "--by", "alice")
        self.ctl_ok("allow", "192.0.2.7", "--by", "alice")
        out = self.ctl_ok("export", "--format", "csv").out.splitlines()
        # Each entry: when it was seen (a volume row of weight 0, naming its
        # source), its state, then the operator history.
        self.assertEqual(out, ["address_or_prefix,kind,weight,time,reason,code,expires,ttl,txt,"
                               "dataset,source,by,action,auth,snds",
                               "192.0.2.0/24,volume,0,%s,,,,,,,dnsblctl,,,," % DEFAULT_NOW,
                               '192.0.2.0/24,list,1,%s,"net, ""quoted""",,,,,,dnsblctl,,state,,'
                               % DEFAULT_NOW,
                               "192.0.2.7,volume,0,%s,,,,,,,dnsblctl,,,," % DEFAULT_NOW,
                               "192.0.2.7,allow,1,%s,,,,,,,dnsblctl,,state,," % DEFAULT_NOW,
                               '192.0.2.0/24,oplog,1,%s,"net, ""quoted""",,,,,,,alice,list,,'
                               % DEFAULT_NOW,
                               "192.0.2.7,oplog,1,%s,,,,,,,,alice,allow,," % DEFAULT_NOW])
        out = self.ctl_ok("export", "--format", "rbldnsd", "--zone", "bl.example").out.splitlines()
        self.assertIn("$TTL", " ".join(out))
        self.assertIn("!192.0.2.7", out)
        self.assertNotIn("$DATASET", " ".join(out))

    def test_export_replaces_the_output_atomically(self):
        path = os.path.join(self.tmp, "out.csv")
        with open(path, "w") as f:
            f.write("old\n")
        self.ctl_ok("add", "192.0.2.1")
        self.assertEqual(self.ctl_ok("export", "--format", "csv", "--output", path).out, "")
        with open(path) as f:
            self.assertIn("192.0.2.1,list", f.read())
        self.assertEqual([f for f in os.listdir(self.tmp) if f.startswith("out.csv.")], [])


def as_nobody():
    """argv prefix that runs a command as user nobody, or None."""
    if os.geteuid() != 0:
        return None
    if shutil.which("setpriv"):
        return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    if shutil.which("runuser"):
        return ["runuser", "-u", "nobody", "--"]
    return None


class TestInit(CtlTestCase):
    """Creating a store is explicit: dnsblctl init (or --create)."""

    def modes(self, db):
        return {name: stat.S_IMODE(os.stat(os.path.join(db, name)).st_mode)
                for name in (".", "data.mdb", "lock.mdb")}

    def test_init_makes_an_empty_store(self):
        db = os.path.join(self.tmp, "a", "store")
        # A umask that would shut everybody else out.
        p = subprocess.run(["sh", "-c", 'umask 077 && exec "$0" init "$1"',
                            os.environ["DNSBLCTL"], db], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout.startswith("created an empty store in %s (owner " % db), p.stdout)
        self.assertEqual(p.stderr, "")
        # Whatever the umask: readers need write access to lock.mdb.
        self.assertEqual(self.modes(db), {".": 0o750, "data.mdb": 0o640, "lock.mdb": 0o660})
        self.assertEqual(self.list_json(db=db), [])
        self.ctl_ok("check", db=db)
        self.ctl_ok("add", "192.0.2.1", db=db)

    def test_init_takes_db_and_environment(self):
        db = os.path.join(self.tmp, "viaenv")
        r = run_ctl("init", env={"DNSBL_DB": db})
        self.assertEqual(r.rc, 0, r.err)
        db2 = os.path.join(self.tmp, "viaopt")
        self.assertEqual(run_ctl("init", db=db2).rc, 0)
        for d in (db, db2):
            self.assertTrue(os.path.exists(os.path.join(d, "data.mdb")))
        r = run_ctl("init")
        self.assertEqual(r.rc, 2)
        self.assertIn("--db DIR or set DNSBL_DB", r.err)

    def test_init_refuses_an_existing_store_and_other_files(self):
        self.ctl_ok("add", "192.0.2.1")
        r = self.ctl_fail(1, "init", self.db)
        self.assertEqual(r.err, "dnsblctl: %s holds a store already: nothing done\n" % self.db)
        self.assertTrue(self.show_json("192.0.2.1")["listed"])
        other = os.path.join(self.tmp, "other")
        os.mkdir(other)
        with open(os.path.join(other, "notes.txt"), "w") as f:
            f.write("mine\n")
        r = self.ctl_fail(1, "init", other)
        self.assertIn("holds files but no store", r.err)
        self.assertEqual(os.listdir(other), ["notes.txt"])
        path = os.path.join(self.tmp, "file")
        open(path, "w").close()
        r = self.ctl_fail(1, "init", path)
        self.assertEqual(r.err, "dnsblctl: store directory %s: Not a directory\n" % path)

    def test_init_usage(self):
        self.ctl_fail(2, "init", "a", "b")
        r = self.ctl_fail(2, "init", os.path.join(self.tmp, "x"), "--owner", "no-such-user-here")
        self.assertIn("no user 'no-such-user-here'", r.err)
        r = self.ctl_fail(2, "init", os.path.join(self.tmp, "x"), "--owner", "root:no-such-group")
        self.assertIn("no group 'no-such-group'", r.err)
        self.ctl_fail(2, "init", os.path.join(self.tmp, "x"), "--owner", "root:")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "x")))
        self.assertIn("--owner USER[:GROUP]", self.ctl_ok("init", "--help").out)

    @unittest.skipUnless(os.geteuid() == 0, "needs root to give files away")
    def test_owner(self):
        db = os.path.join(self.tmp, "owned")
        r = self.ctl_ok("init", db, "--owner", "nobody")
        self.assertIn("(owner nobody:", r.out)
        import pwd
        pw = pwd.getpwnam("nobody")
        for name in (".", "data.mdb", "lock.mdb"):
            st = os.stat(os.path.join(db, name))
            self.assertEqual((st.st_uid, st.st_gid), (pw.pw_uid, pw.pw_gid), name)
        db = os.path.join(self.tmp, "owned-numeric")
        self.ctl_ok("init", db, "--owner", "%d:0" % pw.pw_uid)
        st = os.stat(os.path.join(db, "lock.mdb"))
        self.assertEqual((st.st_uid, st.st_gid), (pw.pw_uid, 0))

    @unittest.skipUnless(as_nobody(), "needs root and setpriv or runuser to run as nobody")
    def test_service_user_reads_a_store_root_made(self):
        """The store root makes for the service user: that user reads it
        (a reader needs write access to lock.mdb); one root made without
        --owner it cannot."""
        os.chmod(self.tmp, 0o755)
        binary = os.path.join(self.tmp, "dnsblctl")
        shutil.copy(os.environ["DNSBLCTL"], binary)
        os.chmod(binary, 0o755)
        probe = subprocess.run(as_nobody() + [binary, "--version"], capture_output=True)
        if probe.returncode != 0:
            self.skipTest("user nobody cannot run %s (is TMPDIR private?)" % binary)
        results = {}
        for name, owner in (("service", ("--owner", "nobody")), ("roots", ())):
            db = os.path.join(self.tmp, name)
            self.ctl_ok("init", db, *owner)
            self.ctl_ok("add", "192.0.2.1", "--reason", "root wrote it", db=db)
            p = subprocess.run(as_nobody() + [binary, "--db", db, "show", "192.0.2.1", "--json"],
                               capture_output=True, text=True, timeout=30)
            results[name] = p
        p = results["service"]
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(json.loads(p.stdout)["listed"])
        self.assertEqual(results["roots"].returncode, 1)
        self.assertIn("Permission denied", results["roots"].stderr)


class TestForce(CtlTestCase):
    """Dangerous writes ask for --force and change nothing without it."""

    def test_wide_prefixes(self):
        for cmd, target, width in (("add", "10.0.0.0/7", 8), ("add", "2000::/15", 16),
                                   ("allow", "0.0.0.0/0", 8), ("allow", "::/0", 16),
                                   ("allow", "128.0.0.0/1", 8)):
            with self.subTest(cmd=cmd, target=target):
                r = self.ctl_fail(1, cmd, target)
                self.assertEqual(
                    r.err, "dnsblctl: refusing to %s %s: it is shorter than /%d; pass --force if "
                    "you mean to %s that much of the address space\n"
                    % ("list" if cmd == "add" else cmd, target, width,
                       "list" if cmd == "add" else cmd))
        self.assertEqual(self.list_json(), [])
        # The shortest that passes without a word, and --force for the rest.
        self.ctl_ok("add", "10.0.0.0/8")
        self.ctl_ok("allow", "2001::/16")
        self.ctl_ok("add", "12.0.0.0/7", "--force")
        self.ctl_ok("allow", "::/0", "--force")
        self.assertEqual([e["prefix"] for e in self.list_json()],
                         ["10.0.0.0/8", "12.0.0.0/7", "::/0", "2001::/16"])
        # 127.0.0.1 stays refused, --force or not.
        r = self.ctl_fail(1, "add", "0.0.0.0/0", "--force")
        self.assertIn("RFC 5782", r.err)

    def test_add_over_an_allow(self):
        self.ctl_ok("allow", "192.0.2.0/24", "--reason", "our network")
        r = self.ctl_fail(1, "add", "192.0.2.0/24")
        self.assertEqual(r.err, "dnsblctl: 192.0.2.0/24 is allowed (allow entry 192.0.2.0/24, "
                         "reason: our network): listing it would replace the allow; pass --force "
                         "to list it anyway\n")
        r = self.ctl_fail(1, "add", "192.0.2.7")
        self.assertIn("inside the allow entry 192.0.2.0/24 (reason: our network)", r.err)
        self.assertIn("--force", r.err)
        self.assertEqual([(e["prefix"], e["state"]) for e in self.list_json()],
                         [("192.0.2.0/24", "allowed")])
        # Listing around an allow is fine: the allow stays an exception.
        self.ctl_ok("add", "192.0.0.0/16")
        # An expired allow no longer stands in the way.
        self.ctl_ok("allow", "198.51.100.7", "--expires", "1h")
        self.ctl_ok("add", "198.51.100.7", now="2026-11-27T14:00:00Z")
        # --force does it: over the same prefix the listing replaces the allow.
        self.ctl_ok("add", "192.0.2.0/24", "--force")
        self.assertTrue(self.show_json("192.0.2.5")["listed"])

    def test_allow_over_an_operator_listing(self):
        self.ctl_ok("add", "192.0.2.7", "--reason", "spam host")
        self.ctl_ok("add", "192.0.2.9")
        r = self.ctl_fail(1, "allow", "192.0.2.7")
        self.assertEqual(r.err, "dnsblctl: allowing 192.0.2.7 would undo the operator listing "
                         "192.0.2.7 (reason: spam host); pass --force to allow it anyway\n")
        r = self.ctl_fail(1, "allow", "192.0.2.0/24")
        self.assertIn("would undo the operator listing 192.0.2.7 (reason: spam host) and 1 other;",
                      r.err)
        self.assertTrue(self.show_json("192.0.2.7")["listed"])
        # An allow inside a listing is the exception it is for.
        self.ctl_ok("add", "198.51.100.0/24")
        self.ctl_ok("allow", "198.51.100.25")
        # Imported listings and expired or delisted ones are not the operator's word now.
        self.ctl_ok("delist", "192.0.2.9")
        self.ctl_ok("add", "203.0.113.5", "--expires", "1h")
        self.ctl_ok("allow", "203.0.113.0/24", now="2026-11-27T14:00:00Z")
        listed = os.path.join(self.tmp, "l.txt")
        with open(listed, "w") as f:
            f.write("233.252.0.1\n")
        self.ctl_ok("import", "--format", "list", listed)
        self.ctl_ok("allow", "233.252.0.0/24")
        r = self.ctl_fail(1, "allow", "192.0.2.0/24")
        self.assertIn("192.0.2.7 (reason: spam host);", r.err)
        self.ctl_ok("allow", "192.0.2.0/24", "--force")
        self.assertFalse(self.show_json("192.0.2.7")["listed"])

    def test_allow_checks_exactly_the_prefix(self):
        # Listings just outside the prefix, one covering it and one of the
        # other family are no reason to refuse.
        for target in ("192.0.2.7", "192.0.2.16", "192.0.2.0/24", "2001:db8::1"):
            self.ctl_ok("add", target)
        self.ctl_ok("allow", "192.0.2.8/29")
        self.ctl_ok("allow", "255.0.0.0/8")
        self.ctl_ok("add", "2001:db8::8")
        r = self.ctl_fail(1, "allow", "2001:db8::/64")
        self.assertIn("the operator listing 2001:db8::1 (reason: none given) and 1 other;", r.err)

    def test_force_is_only_for_add_and_allow(self):
        for cmd in ("delist", "show", "list"):
            self.ctl_fail(2, cmd, "192.0.2.1", "--force")


class TestListEffective(CtlTestCase):
    """list says what each entry answers in each zone, whatever made it so."""

    CONF = ('zone "bl.example" { datasets = {"bl.example"} }\n'
            'zone "traps.bl.example" { datasets = {"traps.bl.example"} }\n')

    def fill(self):
        rows = os.path.join(self.tmp, "ev.csv")
        with open(rows, "w") as f:
            f.write("address_or_prefix,kind,weight,time,reason\n"
                    "198.51.100.50,abuse,20,%s,spam\n"
                    "198.51.100.51,abuse,1,%s,one complaint\n" % (DEFAULT_NOW, DEFAULT_NOW))
        self.ctl_ok("import", "--format", "csv", rows)
        self.ctl_ok("import", "--format", "snds",
                    os.path.join(FIXTURES, "snds", "snds-ipstatus.csv"))
        r = self.ctl("import", "--format", "rbldnsd:combined", "--zone", "bl.example",
                     os.path.join(FIXTURES, "rbldnsd", "bl.combined"))
        self.assertEqual(r.rc, 0, r.err)
        self.ctl_ok("add", "10.0.0.1", "--reason", "by hand")
        self.ctl_ok("allow", "10.0.0.2", "--reason", "partner")

    def rows(self, *args):
        lines = self.ctl_ok("list", *args).out.splitlines()
        return lines[0].split(), {line.split()[0]: line.split() for line in lines[1:]}

    def test_score_snds_and_imported_listings_show_their_code(self):
        self.fill()
        _, rows = self.rows()
        # PREFIX STATE LISTED CODE WHY ...
        self.assertEqual(rows["198.51.100.50"][1:5], ["none", "yes", "127.0.0.2", "complaints"])
        self.assertEqual(rows["198.51.100.51"][1:5], ["none", "no", "-", "-"])
        self.assertEqual(rows["192.0.2.64/29"][1:5], ["none", "yes", "127.0.0.4", "snds"])
        self.assertEqual(rows["192.0.2.32/28"][1:5], ["none", "yes", "127.0.0.2", "imported"])
        self.assertEqual(rows["192.0.2.40"][1:5], ["none", "no", "-", "excluded"])
        self.assertEqual(rows["10.0.0.1"][1:5], ["listed", "yes", "127.0.0.2", "manual"])
        self.assertEqual(rows["10.0.0.2"][1:5], ["allowed", "no", "-", "allowed"])
        by = {e["prefix"]: e for e in self.list_json()}
        self.assertEqual(by["198.51.100.50"]["zones"],
                         [{"zone": None, "listed": True, "why": "complaints",
                           "codes": [{"code": "127.0.0.2", "why": "complaints"}]}])
        self.assertEqual(by["192.0.2.32/28"]["dataset"], "bl.example")
        self.assertIsNone(by["10.0.0.1"]["dataset"])

    def test_filters(self):
        self.fill()
        _, listed = self.rows("--listed")
        self.assertIn("198.51.100.50", listed)
        self.assertIn("10.0.0.1", listed)
        for gone in ("198.51.100.51", "192.0.2.40", "10.0.0.2"):
            self.assertNotIn(gone, listed)
        self.assertTrue(all(r[2] == "yes" for r in listed.values()))
        _, snds = self.rows("--why", "SnDs")
        self.assertEqual(set(snds), {"192.0.2.64/29", "203.0.113.200/30"})
        _, hand = self.rows("--why", "BY HAND")
        self.assertEqual(set(hand), {"10.0.0.1"})
        _, traps = self.rows("--dataset", "traps.bl.example")
        self.assertTrue(traps)
        self.assertEqual({r[4] for r in traps.values()}, {"imported"})
        entries = json.loads(self.ctl_ok("list", "--json", "--dataset", "traps.bl.example",
                                         "--listed", "--why", "imported").out)
        self.assertEqual({e["prefix"] for e in entries}, set(traps))
        self.assertEqual(json.loads(self.ctl_ok("list", "--json", "--dataset", "nope").out), [])

    def test_zones(self):
        self.fill()
        conf = os.path.join(self.tmp, "dnsbld.conf")
        with open(conf, "w") as f:
            f.write(self.CONF)
        header, _ = self.rows("--zone-config", conf)
        self.assertEqual(header[:2], ["PREFIX", "ZONE"])
        lines = self.ctl_ok("list", "--zone-config", conf, "--dataset",
                            "traps.bl.example").out.splitlines()[1:]
        per_zone = {}
        for line in lines:
            cols = line.split()
            per_zone.setdefault(cols[0], {})[cols[1]] = cols[3]
        self.assertTrue(per_zone)
        for prefix, zones in per_zone.items():
            self.assertEqual(zones, {"bl.example": "no", "traps.bl.example": "yes"}, prefix)
        _, one = self.rows("--zone-config", conf, "--zone", "traps.bl.example", "--dataset",
                           "traps.bl.example", "--listed")
        self.assertEqual(set(one), set(per_zone))
        entries = json.loads(self.ctl_ok("list", "--json", "--zone-config", conf, "--dataset",
                                         "traps.bl.example").out)
        self.assertEqual([z["zone"] for z in entries[0]["zones"]],
                         ["bl.example", "traps.bl.example"])
        entries = json.loads(self.ctl_ok("list", "--json", "--zone-config", conf, "--listed",
                                         "--dataset", "traps.bl.example").out)
        self.assertEqual([z["zone"] for z in entries[0]["zones"]], ["traps.bl.example"])
        # A named zone without a config: the default policy, and a ZONE column.
        header, rows = self.rows("--zone", "other.example")
        self.assertEqual(header[1], "ZONE")
        self.assertEqual(rows["10.0.0.1"][1], "other.example")
        r = self.ctl_fail(1, "list", "--zone-config", conf, "--zone", "missing.example")
        self.assertIn("no zone 'missing.example'", r.err)


if __name__ == "__main__":
    unittest.main()
