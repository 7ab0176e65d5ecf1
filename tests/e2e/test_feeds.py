"""Feeds end to end: dnsblctl import fills a store behind a running dnsbld
(started from a config file written here, so zones have kinds and
policies), and the answers over UDP and TCP are checked against
fixtures/README.md and README.md "Reputation model": an rbldnsd migration
with its emitted apex zone file, ARF reports scored near their own dates,
SNDS exports, the blocklist/score/allowlist kinds over one store, decay and
delisting, an import under query load, and the rejection path.

The clock of both binaries is pinned with --now, so nothing depends on
the wall clock: evidence is dated by the feeds themselves."""

import ipaddress
import os
import shutil
import re
import threading
import time
import unittest

import dns.rcode

from dnsbltest import (FIXTURES, DnsAssertions, Server, ctl, make_query, tmpdir, txt_strings,
                       v4name, v6name)

ARF = os.path.join(FIXTURES, "arf")
SNDS = os.path.join(FIXTURES, "snds")
RBLDNSD = os.path.join(FIXTURES, "rbldnsd")

SUMMARY = re.compile(r"^read (\d+), imported (\d+), duplicates (\d+), rejected (\d+), "
                     r"warnings (\d+), seconds \d+(?:\.\d+)?$")
WITHIN = 1.0  # seconds a committed change may take to show (as in test_live)
UDP_TCP = [("udp4", dict(tcp=False, v6=False)), ("tcp4", dict(tcp=True, v6=False))]
ALL_TRANSPORTS = UDP_TCP + [("udp6", dict(tcp=False, v6=True)),
                            ("tcp6", dict(tcp=True, v6=True))]


def write(path, text, mode="w"):
    with open(path, mode) as f:
        f.write(text)
    return path


def new_dir(prefix):
    """A fresh directory holding an empty store directory "store"."""
    d = tmpdir(prefix)
    os.mkdir(os.path.join(d, "store"))
    return d


def write_config(d, zones):
    """d/dnsbld.conf serving d/store; zones maps a zone name to the text of
    its section. The harness's --listen options replace the listen list."""
    text = 'db = "store"\nworkers = 2\n'
    for name, body in zones.items():
        text += 'zone "%s" {\n%s\n}\n' % (name, body)
    return write(os.path.join(d, "dnsbld.conf"), text)


def start(conf, now):
    return Server(["--config", conf, "--now", now])


class Import:
    """One dnsblctl import run: exit status, output, summary numbers."""

    def __init__(self, db, now, *args):
        self.args = [str(a) for a in args]
        self.rc, self.out, self.err = ctl("import", "--create", *self.args, db=db, now=now,
                                          timeout=60)
        lines = self.out.strip().splitlines()
        m = SUMMARY.match(lines[-1]) if lines else None
        self.summary = None
        if m:
            self.summary = dict(zip(("read", "imported", "duplicates", "rejected", "warnings"),
                                    (int(g) for g in m.groups())))

    def __str__(self):
        return ("dnsblctl import %s: exit %d\nstdout:\n%s\nstderr:\n%s"
                % (" ".join(self.args), self.rc, self.out, self.err))


def answer_key(r):
    """What an answer says, comparable between two runs."""
    return (dns.rcode.to_text(r.rcode()),
            sorted((rr.rdtype, rr.ttl, tuple(sorted(rd.to_text() for rd in rr)))
                   for rr in r.answer))


class FeedCase(DnsAssertions, unittest.TestCase):
    """Helpers shared by the feed tests."""

    def imp(self, db, now, *args, rc=0):
        run = Import(db, now, *args)
        self.assertIsNotNone(run.summary, "no summary line as the last line of stdout\n%s" % run)
        self.assertEqual(run.rc, rc, str(run))
        return run

    def check_a(self, srv, name, codes, zone, ttl=None, transports=UDP_TCP):
        """codes: a set of A values, or None for NXDOMAIN."""
        for label, kw in transports:
            with self.subTest(name=name, transport=label):
                r = srv.query(name, "A", **kw)
                if codes is None:
                    self.assertNxdomain(r, zone)
                else:
                    self.assertAnswer(r, "A", set(codes), ttl=ttl)

    def score_of(self, srv, name, **kw):
        """X of the score zone's 127.0.4.X answer."""
        r = srv.query(name, "A", **kw)
        rr = self.assertAnswer(r, "A")
        self.assertEqual(len(rr), 1, str(r))
        value = rr[0].to_text()
        self.assertTrue(value.startswith("127.0.4."), "score answer %s:\n%s" % (value, r))
        x = int(value.rsplit(".", 1)[1])
        self.assertTrue(0 <= x <= 100, value)
        return x

    def check_test_points(self, srv, zone, transports=UDP_TCP):
        for label, kw in transports:
            with self.subTest(zone=zone, transport=label):
                self.assertAnswer(srv.query(v4name("127.0.0.2", zone), **kw), "A",
                                  {"127.0.0.2"})
                self.assertNxdomain(srv.query(v4name("127.0.0.1", zone), **kw), zone)
                self.assertAnswer(srv.query(v6name("::ffff:127.0.0.2", zone), **kw), "A",
                                  {"127.0.0.2"})
                self.assertNxdomain(srv.query(v6name("::ffff:127.0.0.1", zone), **kw), zone)


# --- 1. rbldnsd migration ---------------------------------------------------

DEF4 = "Listed by bl.example, see https://bl.example/lookup?ip={ip}"
TRAP4 = "Spam trap hits from {ip} - see https://bl.example/lookup?ip={ip}"
VOL4 = "Complaint volume too high ({ip})"
DEF6 = "IPv6 source {ip} is listed, see https://bl.example/v6"

# fixtures/README.md, rbldnsd/: (query IP, A or None, TXT template or None)
IP4SET_ROWS = (
    [(ip, "127.0.0.2", DEF4) for ip in ("192.0.2.0", "192.0.2.99", "192.0.2.255")]
    + [(ip, None, None) for ip in ("192.0.2.1", "192.0.2.2")]
    + [(ip, "127.0.0.3", TRAP4) for ip in ("203.0.113.10", "203.0.113.15", "203.0.113.20")]
    + [(ip, None, None) for ip in ("203.0.113.9", "203.0.113.21")]
    + [("203.0.113.%d" % i, "127.0.0.2", VOL4) for i in range(100, 104)]
    + [("203.0.113.104", None, None)]
    + [(ip, "127.0.0.2", DEF4) for ip in ("198.51.100.0", "198.51.100.63")]
    + [(ip, None, None) for ip in ("198.51.100.64", "198.51.100.77")]
    + [("198.51.100.200", "127.0.0.4", DEF4),
       ("198.51.100.201", "127.0.0.5", None),
       ("198.51.100.202", "127.0.0.2", DEF4),
       ("203.0.113.250", "127.0.0.6",
        "Paying $50 will not delist you, see https://bl.example/lookup?ip={ip}")]
    # the skipped lines 34 (198.51.100.77/24) and 36 (203) list nothing
    + [("203.0.113.1", None, None), ("198.51.100.100", None, None)])

IP6TRIE_ROWS = (
    [(ip, "127.0.0.2", DEF6)
     for ip in ("2001:db8:1::1", "2001:db8:1:ffff:ffff:ffff:ffff:ffff", "2001:db8:1::54")]
    + [("2001:db8:1::53", None, None)]
    + [(ip, "127.0.0.2", DEF6) for ip in ("2001:db8:2::1", "2001:db8:2:ff::1")]
    + [("2001:db8:2:100::1", None, None),
       ("2001:db8:2:10::5", "127.0.0.10", DEF6),
       ("2001:db8:3:4::abcd", "127.0.0.3", "Snowshoe range, host {ip}"),
       ("2001:db8:3:5::1", None, None),
       ("2001:db8:5::25", "127.0.0.4", "Compromised host {ip}"),
       ("2001:db8:5::26", None, None),
       ("2001:db8:6::1", "127.0.0.2", DEF6)]
    + [(ip, None, None) for ip in ("2001:db8:6::2", "2001:db8:7::1")])

IP4SET_TTL = 1800  # $TTL 30m
IP6TRIE_TTL = 3600  # $TTL 1h
NEG_TTL = 600  # min(SOA TTL 3600, MINIMUM 10m)


class RbldnsdMigrationTest(FeedCase):
    """bl-main.ip4set and bl6.ip6trie imported into zone bl.example, the
    apex served from the zone file that --emit-zone wrote."""

    ZONE = "bl.example"

    @classmethod
    def setUpClass(cls):
        cls.dir = new_dir("feeds-rbldnsd-")
        cls.db = os.path.join(cls.dir, "store")
        cls.zonefile = os.path.join(cls.dir, "bl.zone")
        now = "2025-06-01T00:00:00Z"
        cls.runs = [
            Import(cls.db, now, "--format", "rbldnsd:ip4set", "--zone", cls.ZONE,
                   "--emit-zone", cls.zonefile, os.path.join(RBLDNSD, "bl-main.ip4set")),
            Import(cls.db, now, "--format", "rbldnsd:ip6trie", "--zone", cls.ZONE,
                   os.path.join(RBLDNSD, "bl6.ip6trie")),
        ]
        for run in cls.runs:
            if run.rc != 0:
                raise AssertionError(str(run))
        conf = write_config(cls.dir, {
            cls.ZONE: '    file = "bl.zone"',
            # a zone serving another data set sees none of this one
            "other.example": '    datasets = {"other.example"}',
        })
        cls.srv = start(conf, now)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop_clean()

    def test_import_warnings(self):
        ip4, ip6 = self.runs
        self.assertEqual(ip4.summary["warnings"], 2, str(ip4))
        self.assertEqual(ip4.summary["rejected"], 0, str(ip4))
        self.assertRegex(ip4.err, r"bl-main\.ip4set:34: .*198\.51\.100\.77/24")
        self.assertRegex(ip4.err, r"bl-main\.ip4set:35: .*'203'")
        self.assertEqual(ip6.summary["warnings"], 2, str(ip6))
        self.assertRegex(ip6.err, r"bl6\.ip6trie:15: .*'2001'")
        self.assertRegex(ip6.err, r"bl6\.ip6trie:16: .*2001:db8:7::1/64")

    def check_rows(self, rows, name_of, ttl):
        for ip, code, txt in rows:
            name = name_of(ip)
            want_txt = None if txt is None else txt.format(ip=str(ipaddress.ip_address(ip)))
            for label, kw in ALL_TRANSPORTS:
                with self.subTest(ip=ip, transport=label):
                    a = self.srv.query(name, "A", **kw)
                    t = self.srv.query(name, "TXT", **kw)
                    if code is None:
                        self.assertNxdomain(a, self.ZONE, ttl=NEG_TTL)
                        self.assertNxdomain(t, self.ZONE, ttl=NEG_TTL)
                        continue
                    self.assertAnswer(a, "A", {code}, ttl=ttl)
                    if want_txt is None:
                        self.assertNodata(t, self.ZONE, ttl=NEG_TTL)
                    else:
                        rr = self.assertAnswer(t, "TXT", ttl=ttl)
                        self.assertEqual(txt_strings(rr), [want_txt])

    def test_ip4set_answers(self):
        self.check_rows(IP4SET_ROWS, lambda ip: v4name(ip, self.ZONE), IP4SET_TTL)

    def test_ip6trie_answers(self):
        self.check_rows(IP6TRIE_ROWS, lambda ip: v6name(ip, self.ZONE), IP6TRIE_TTL)

    def test_ipv4_mapped_query(self):
        name = v6name("::ffff:192.0.2.99", self.ZONE)
        for label, kw in ALL_TRANSPORTS:
            with self.subTest(transport=label):
                self.assertAnswer(self.srv.query(name, **kw), "A", {"127.0.0.2"},
                                  ttl=IP4SET_TTL)
                rr = self.assertAnswer(self.srv.query(name, "TXT", **kw), "TXT",
                                       ttl=IP4SET_TTL)
                self.assertEqual(txt_strings(rr), [DEF4.format(ip="192.0.2.99")])

    def test_test_points_and_partial_name(self):
        self.check_test_points(self.srv, self.ZONE, ALL_TRANSPORTS)
        for label, kw in ALL_TRANSPORTS:
            with self.subTest(transport=label):
                # rbldnsd answers NXDOMAIN here, the bug not to copy
                self.assertNodata(self.srv.query("0.192." + self.ZONE, **kw), self.ZONE,
                                  ttl=NEG_TTL)

    def test_emitted_zone_file(self):
        with open(self.zonefile) as f:
            text = f.read()
        self.assertIn("2025060101", text)
        for label, kw in UDP_TCP:
            with self.subTest(transport=label):
                r = self.srv.query(self.ZONE, "SOA", **kw)
                rr = self.assertAnswer(r, "SOA", ttl=3600)
                self.assertEqual([rd.to_text() for rd in rr],
                                 ["ns1.bl.example. hostmaster.bl.example. "
                                  "2025060101 7200 1800 604800 600"])
                r = self.srv.query(self.ZONE, "NS", **kw)
                self.assertAnswer(r, "NS", {"ns1.bl.example.", "ns2.bl.example."}, ttl=86400)
                soa = self.assertNxdomain(self.srv.query(v4name("192.0.2.1", self.ZONE), **kw),
                                          self.ZONE, ttl=NEG_TTL)
                self.assertEqual(soa[0].serial, 2025060101)

    def test_other_data_set_not_served(self):
        z = "other.example"
        self.check_a(self.srv, v4name("192.0.2.99", z), None, z)
        self.check_a(self.srv, v6name("2001:db8:5::25", z), None, z)
        self.check_test_points(self.srv, z)


# fixtures/README.md, rbldnsd/ for the other dataset types: (zone, query IP,
# A or None, TXT template or None, TTL). Each zone serves only its own
# data set; traps.bl.example is the "traps" section of bl.combined.
TYPES_ROWS = (
    [("proxies.example", ip, "127.0.0.9", "Open proxy at {ip}", 900)
     for ip in ("192.0.2.150", "192.0.2.151", "203.0.113.44")]
    + [("proxies.example", ip, None, None, None) for ip in ("192.0.2.152", "192.0.2.160")]
    + [("relays.example", ip, "127.0.0.2", "Relay network, host {ip}", 600)
       for ip in ("198.51.100.1", "198.51.100.127")]
    + [("relays.example", ip, "127.0.0.3", "Dial-up pool, host {ip}", 600)
       for ip in ("198.51.100.128", "198.51.100.255")]
    + [("relays.example", "198.51.100.129", None, None, None),
       ("relays.example", "203.0.113.31", "127.0.0.4", "Relay network, host {ip}", 600),
       ("relays.example", "203.0.113.32", None, None, None),
       ("relays.example", "192.0.2.64", "127.0.0.5", None, 600),
       ("relays.example", "192.0.2.7", None, None, None)]
    + [("pools.example", ip, "127.0.0.11", "IPv6 pool address {ip}", 7200)
       for ip in ("2001:db8:aa:1::1", "2001:db8:aa:2:ffff::1")]
    + [("pools.example", ip, None, None, None)
       for ip in ("2001:db8:aa:2::25", "2001:db8:aa:3::1", "2001:db8:ab::1")]
    + [("bl.example", ip, "127.0.0.2", "Listed, see https://bl.example/why?ip={ip}", 1200)
       for ip in ("192.0.2.32", "192.0.2.47")]
    + [("bl.example", ip, None, None, None)
       for ip in ("192.0.2.40", "192.0.2.48", "203.0.113.77", "198.51.100.1")]
    + [("bl.example", "2001:db8:c0:1::1", "127.0.0.2",
        "IPv6 {ip} listed, see https://bl.example/why?ip={ip}", 300),
       ("traps.bl.example", "203.0.113.77", "127.0.0.3", "Trap hit from {ip}", 1200),
       ("traps.bl.example", "192.0.2.32", None, None, None)])


class RbldnsdTypesTest(FeedCase):
    """The ip4tset, ip4trie, ip6tset and combined fixtures in one store,
    each zone serving its own data set; bl.example's apex comes from the
    zone file the combined import wrote, with traps.bl.example below it."""

    @classmethod
    def setUpClass(cls):
        cls.dir = new_dir("feeds-types-")
        cls.db = os.path.join(cls.dir, "store")
        now = "2025-06-02T00:00:00Z"
        cls.runs = {}
        for kind, fname, zone, extra in (
                ("ip4tset", "proxies.ip4tset", "proxies.example", ()),
                ("ip4trie", "relays.ip4trie", "relays.example", ()),
                ("ip6tset", "pools.ip6tset", "pools.example", ()),
                ("combined", "bl.combined", "bl.example",
                 ("--emit-zone", os.path.join(cls.dir, "bl.zone")))):
            run = Import(cls.db, now, "--format", "rbldnsd:" + kind, "--zone", zone, *extra,
                         os.path.join(RBLDNSD, fname))
            if run.rc != 0 or run.summary is None:
                raise AssertionError(str(run))
            cls.runs[kind] = run
        zones = {z: '    datasets = {"%s"}' % z
                 for z in ("proxies.example", "relays.example", "pools.example",
                           "traps.bl.example")}
        zones["bl.example"] = '    file = "bl.zone"\n    datasets = {"bl.example"}'
        cls.srv = start(write_config(cls.dir, zones), now)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop_clean()

    def test_import_counts(self):
        want = {"ip4tset": (6, 3, 3), "ip4trie": (6, 5, 1), "ip6tset": (5, 3, 2),
                "combined": (4, 4, 1)}
        for kind, (read, imported, warnings) in want.items():
            s = self.runs[kind].summary
            self.assertEqual((s["read"], s["imported"], s["rejected"], s["warnings"]),
                             (read, imported, 0, warnings), str(self.runs[kind]))

    def test_answers(self):
        for zone, ip, code, txt, ttl in TYPES_ROWS:
            name = v6name(ip, zone) if ":" in ip else v4name(ip, zone)
            for label, kw in UDP_TCP:
                with self.subTest(zone=zone, ip=ip, transport=label):
                    a = self.srv.query(name, "A", **kw)
                    if code is None:
                        self.assertNxdomain(a, zone)
                        continue
                    self.assertAnswer(a, "A", {code}, ttl=ttl)
                    t = self.srv.query(name, "TXT", **kw)
                    if txt is None:
                        self.assertNodata(t, zone)
                    else:
                        rr = self.assertAnswer(t, "TXT", ttl=ttl)
                        want = txt.format(ip=str(ipaddress.ip_address(ip)))
                        self.assertEqual(txt_strings(rr), [want])

    def test_combined_apex_and_test_points(self):
        rr = self.assertAnswer(self.srv.query("bl.example", "SOA"), "SOA", ttl=3600)
        self.assertEqual(rr[0].serial, 2025060201)
        for zone in ("proxies.example", "relays.example", "pools.example", "bl.example",
                     "traps.bl.example"):
            self.check_test_points(self.srv, zone)


# --- 2. ARF reports ---------------------------------------------------------

ARF_NOW = "2025-06-03T00:00:00Z"  # the day after every Arrival-Date (2 June 2025)
ARF_NO_RECORD = ["198.51.100.250", "198.51.100.251", "198.51.100.252", "198.51.100.253",
                 "198.51.100.254", "192.0.2.201", "2001:db8:ffff::10", "203.0.113.199"]


class ArfTest(FeedCase):
    """Every file of fixtures/arf imported behind a running server whose
    clock is the day after the reports. Two complaints a day old weigh
    2 * 2^(-0.5/7) = 1.9, so the threshold 1.5 lists them; not_spam
    weighs 0 in bl.example (the not-spam report of 192.0.2.45 does not
    offset its complaints there) and the default 1 in strict.example."""

    POLICY = "    threshold = 1.5\n"

    @classmethod
    def setUpClass(cls):
        cls.dir = new_dir("feeds-arf-")
        cls.db = os.path.join(cls.dir, "store")
        conf = write_config(cls.dir, {
            "bl.example": cls.POLICY + "    weights { not_spam = 0 }",
            "strict.example": cls.POLICY,
            "score.example": cls.POLICY + '    kind = "score"',
        })
        cls.srv = start(conf, ARF_NOW)
        cls.files = sorted(os.path.join(ARF, f) for f in os.listdir(ARF))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop_clean()

    def snapshot(self):
        names = []
        for ip in ["192.0.2.45", "203.0.113.57", "198.51.100.14", "198.51.100.73",
                   "198.51.100.99", "2001:db8:40::17"] + ARF_NO_RECORD:
            for zone in ("bl.example", "strict.example", "score.example"):
                names.append(v6name(ip, zone) if ":" in ip else v4name(ip, zone))
        out = {}
        for n in names:
            for rdtype in ("A", "TXT"):
                for label, kw in UDP_TCP:
                    out[(n, rdtype, label)] = answer_key(self.srv.query(n, rdtype, **kw))
        return out

    def test_import_score_and_reimport(self):
        # Before the import nothing is listed.
        self.check_a(self.srv, v4name("192.0.2.45"), None, "bl.example")

        first = self.imp(self.db, ARF_NOW, *self.files, rc=1)  # 07 is rejected
        self.assertEqual(first.summary["read"], 10, str(first))
        self.assertEqual(first.summary["rejected"], 1, str(first))
        self.assertEqual(first.summary["duplicates"], 0, str(first))
        self.assertIn("missing message/feedback-report part", first.err.lower())
        self.assertRegex(first.err, r"07-malformed-missing-feedback-part\.eml: "
                                    r"<no-fb-part-0007@halfdone\.example\.com>: ")

        bl = "bl.example"
        # Complaints: two abuse each, fraud x4 (Incidents: 4).
        for ip in ("192.0.2.45", "203.0.113.57", "198.51.100.14"):
            self.check_a(self.srv, v4name(ip, bl), {"127.0.0.2"}, bl)
        # One complaint, an auth failure alone: under the threshold.
        for ip in ("198.51.100.73", "198.51.100.99"):
            self.check_a(self.srv, v4name(ip, bl), None, bl)
        self.check_a(self.srv, v6name("2001:db8:40::17", bl), None, bl,
                     transports=ALL_TRANSPORTS)
        for ip in ARF_NO_RECORD:
            name = v6name(ip, bl) if ":" in ip else v4name(ip, bl)
            self.check_a(self.srv, name, None, bl)
        self.check_test_points(self.srv, bl)

        # With not_spam weighing 1, 192.0.2.45 is at one complaint's worth.
        st = "strict.example"
        self.check_a(self.srv, v4name("192.0.2.45", st), None, st)
        for ip in ("203.0.113.57", "198.51.100.14"):
            self.check_a(self.srv, v4name(ip, st), {"127.0.0.2"}, st)

        # The score zone: data for the six reported addresses only.
        sc = "score.example"
        x = {ip: self.score_of(self.srv, v6name(ip, sc) if ":" in ip else v4name(ip, sc))
             for ip in ("192.0.2.45", "203.0.113.57", "198.51.100.14", "198.51.100.73",
                        "198.51.100.99", "2001:db8:40::17")}
        self.assertLess(x["198.51.100.14"], x["203.0.113.57"], x)   # 4 complaints < 2
        self.assertLess(x["203.0.113.57"], x["198.51.100.73"], x)   # 2 complaints < 1
        self.assertEqual(x["192.0.2.45"], x["198.51.100.73"], x)    # 2 - 1 not-spam = 1
        self.assertEqual(x["2001:db8:40::17"], x["198.51.100.73"], x)
        self.assertLess(x["198.51.100.73"], x["198.51.100.99"], x)  # auth failure weighs 0.5
        for ip in ARF_NO_RECORD:
            name = v6name(ip, sc) if ":" in ip else v4name(ip, sc)
            self.check_a(self.srv, name, None, sc)

        # The same files again: only duplicates, not one answer changes.
        before = self.snapshot()
        again = self.imp(self.db, ARF_NOW, *self.files, rc=1)
        self.assertEqual(again.summary["imported"], 0, str(again))
        self.assertEqual(again.summary["duplicates"], 9, str(again))
        self.assertEqual(again.summary["rejected"], 1, str(again))
        self.assertEqual(self.snapshot(), before)


# --- 3. SNDS ----------------------------------------------------------------

SNDS_NOW = "2025-06-01T10:00:00Z"

# fixtures/README.md, "Default listing" columns.
SNDS_DATA = [
    ("192.0.2.10", None), ("192.0.2.11", None), ("192.0.2.12", {"127.0.0.2", "127.0.0.3"}),
    ("192.0.2.13", None), ("198.51.100.20", {"127.0.0.2", "127.0.0.3", "127.0.0.4"}),
    ("198.51.100.21", {"127.0.0.2", "127.0.0.3"}),
    ("198.51.100.22", {"127.0.0.2", "127.0.0.3", "127.0.0.4"}),
    ("203.0.113.5", {"127.0.0.2", "127.0.0.4"}), ("203.0.113.9", None), ("203.0.113.10", None),
] + [("203.0.113.%d" % i, None) for i in range(64, 72)]  # the rejected range line
SNDS_STATUS = (
    [("192.0.2.%d" % i, {"127.0.0.4"}) for i in range(64, 72)]
    + [("192.0.2.63", None), ("192.0.2.72", None), ("198.51.100.128", None)]
    + [("203.0.113.%d" % i, {"127.0.0.4"}) for i in range(200, 204)]
    + [("203.0.113.199", None), ("203.0.113.204", None)])


class SndsTest(FeedCase):

    ZONE = "bl.example"

    @classmethod
    def setUpClass(cls):
        cls.dir = new_dir("feeds-snds-")
        cls.db = os.path.join(cls.dir, "store")
        conf = write_config(cls.dir, {cls.ZONE: '    kind = "blocklist"'})
        cls.srv = start(conf, SNDS_NOW)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop_clean()

    def test_data_and_ip_status(self):
        data = self.imp(self.db, SNDS_NOW, "--format", "snds",
                        os.path.join(SNDS, "snds-data-2025-06-01.csv"), rc=1)
        self.assertEqual(data.summary["read"], 12, str(data))
        self.assertEqual(data.summary["rejected"], 2, str(data))
        self.assertRegex(data.err, r"snds-data-2025-06-01\.csv:9: ")
        self.assertRegex(data.err, r"snds-data-2025-06-01\.csv:12: ")
        status = self.imp(self.db, SNDS_NOW, "--format", "snds",
                          os.path.join(SNDS, "snds-ipstatus.csv"))
        self.assertEqual(status.summary["rejected"], 0, str(status))

        for ip, codes in SNDS_DATA + SNDS_STATUS:
            self.check_a(self.srv, v4name(ip, self.ZONE), codes, self.ZONE)
        # three A records in one RRset for the RED address with complaints
        # (its complaint rate times its volume) and trap hits
        r = self.srv.query(v4name("198.51.100.20", self.ZONE))
        self.assertEqual(len(self.assertAnswer(r, "A")), 3, str(r))
        self.check_test_points(self.srv, self.ZONE)


# --- 4. the three zone kinds over one store ---------------------------------

KINDS_NOW = "2025-06-02T00:00:00Z"
KINDS_DAY = "2025-06-01T12:00:00Z"  # half a day earlier: decay 2^(-0.5/7)
KINDS_CSV = """\
address_or_prefix,kind,weight,time,reason
192.0.2.1,abuse,3,{d},a few complaints
192.0.2.2,abuse,30,{d},many complaints
192.0.2.3,trap,1,{d},one trap hit
192.0.2.4,abuse,30,{d},many complaints from a big sender
192.0.2.4,volume,1000000,{d},its volume
192.0.2.5,abuse,30,{d},many complaints then allowed
""".format(d=KINDS_DAY)


class ZoneKindsTest(FeedCase):

    BL, SC, WL = "bl.example", "score.example", "wl.example"

    @classmethod
    def setUpClass(cls):
        cls.dir = new_dir("feeds-kinds-")
        cls.db = os.path.join(cls.dir, "store")
        csv = write(os.path.join(cls.dir, "evidence.csv"), KINDS_CSV)
        run = Import(cls.db, KINDS_NOW, "--format", "csv", csv)
        if run.rc != 0 or run.summary is None or run.summary["imported"] != 6:
            raise AssertionError(str(run))
        for args in (("allow", "192.0.2.5", "--reason", "our customer"),
                     ("allow", "192.0.2.6", "--reason", "partner"),
                     ("allow", "198.51.100.0/28", "--reason", "our relays"),
                     ("add", "192.0.2.8", "--reason", "by hand")):
            rc, out, err = ctl(*args, db=cls.db, now=KINDS_NOW)
            if rc != 0:
                raise AssertionError("dnsblctl %s: %d\n%s%s" % (args, rc, out, err))
        conf = write_config(cls.dir, {
            cls.BL: '    kind = "blocklist"',
            cls.SC: '    kind = "score"',
            cls.WL: '    kind = "allowlist"',
        })
        cls.srv = start(conf, KINDS_NOW)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop_clean()

    @staticmethod
    def expected_x(score, threshold=10.0):
        return round(100 * threshold / (threshold + score))

    def test_score_zone(self):
        f = 2 ** (-0.5 / 7)
        for label, kw in UDP_TCP:
            with self.subTest(transport=label):
                x = {i: self.score_of(self.srv, v4name("192.0.2.%d" % i, self.SC), **kw)
                     for i in (1, 2, 3, 4, 5, 8)}
                # more evidence, lower X
                self.assertGreater(x[1], x[3], x)  # 3 complaints vs one trap hit (15)
                self.assertGreater(x[3], x[2], x)  # one trap hit vs 30 complaints
                # 30 complaints in a million messages: rate 0.003%, factor 0.03
                self.assertGreater(x[4], x[1], x)
                # README: X = round(100 * threshold / (threshold + score))
                for i, score in ((1, 3 * f), (2, 30 * f), (3, 15 * f), (4, 0.03 * 30 * f)):
                    self.assertAlmostEqual(x[i], self.expected_x(score), delta=1,
                                           msg="192.0.2.%d: %s" % (i, x))
                self.assertEqual(x[5], 100, x)  # allowed, with data
                self.assertEqual(x[8], 0, x)    # manually listed
        self.check_a(self.srv, v4name("192.0.2.99", self.SC), None, self.SC)
        self.check_a(self.srv, v4name("198.51.100.200", self.SC), None, self.SC)

    def test_allowlist_zone(self):
        for ip in ("192.0.2.5", "192.0.2.6", "198.51.100.0", "198.51.100.9", "198.51.100.15"):
            self.check_a(self.srv, v4name(ip, self.WL), {"127.0.0.2"}, self.WL)
        for ip in ("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.8", "192.0.2.99",
                   "198.51.100.16"):
            self.check_a(self.srv, v4name(ip, self.WL), None, self.WL)

    def test_blocklist_zone(self):
        want = {"192.0.2.1": None,                 # 2.9 < 10
                "192.0.2.2": {"127.0.0.2"},        # complaints
                "192.0.2.3": {"127.0.0.3"},        # trap hit
                "192.0.2.4": None,                 # low complaint rate
                "192.0.2.5": None,                 # allowed beats the score
                "192.0.2.6": None,
                "192.0.2.8": {"127.0.0.2"},        # by hand
                "192.0.2.99": None,
                "198.51.100.9": None}
        for ip, codes in want.items():
            self.check_a(self.srv, v4name(ip, self.BL), codes, self.BL)

    def test_test_points_in_every_kind(self):
        for zone in (self.BL, self.SC, self.WL):
            self.check_test_points(self.srv, zone)


class LineFeedsTest(FeedCase):
    """The DROP lists, trap hits, fail2ban log and maildir of
    fixtures/README.md in one store behind a blocklist and a score zone."""

    BL, SC = "bl.example", "score.example"
    NOW = "2025-06-03T00:00:00Z"

    @classmethod
    def setUpClass(cls):
        cls.dir = new_dir("feeds-lines-")
        cls.db = os.path.join(cls.dir, "store")
        # A copy: importing a maildir marks what it read.
        maildir = os.path.join(cls.dir, "maildir")
        shutil.copytree(os.path.join(FIXTURES, "maildir"), maildir)
        cls.runs = [Import(cls.db, cls.NOW, *args) for args in (
            ("--code", "127.0.0.9", os.path.join(FIXTURES, "list", "drop.txt")),
            ("--format", "list", "--code", "127.0.0.10",
             os.path.join(FIXTURES, "list", "drop.json")),
            (os.path.join(FIXTURES, "traps", "traps.csv"),),
            (os.path.join(FIXTURES, "fail2ban", "fail2ban.log"),),
            (maildir,))]
        conf = write_config(cls.dir, {cls.BL: "", cls.SC: '    kind = "score"'})
        cls.srv = start(conf, cls.NOW)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop_clean()

    def test_imports(self):
        want = [(3, 3, 0), (3, 2, 1), (5, 3, 1), (8, 4, 0), (2, 2, 0)]
        for run, (read, imported, rejected) in zip(self.runs, want):
            self.assertIsNotNone(run.summary, str(run))
            s = run.summary
            self.assertEqual((s["read"], s["imported"], s["rejected"]),
                             (read, imported, rejected), str(run))

    def test_blocklist(self):
        want = {"192.0.2.1": {"127.0.0.9"}, "203.0.113.200": {"127.0.0.9"},
                "2001:db8:dead::1": {"127.0.0.9"}, "198.51.100.64": {"127.0.0.10"},
                "2001:db8:bad:ff::1": {"127.0.0.10"},
                "203.0.113.7": {"127.0.0.3"}, "2001:db8:7a::9": {"127.0.0.3"},  # trap hits
                "192.0.2.128": None, "198.51.100.128": None, "203.0.113.88": None}
        for ip, codes in want.items():
            name = v6name(ip, self.BL) if ":" in ip else v4name(ip, self.BL)
            self.check_a(self.srv, name, codes, self.BL)
        rr = self.assertAnswer(self.srv.query(v4name("192.0.2.1", self.BL), "TXT"), "TXT")
        self.assertEqual(txt_strings(rr), ["SBL000101"])  # the line's own text
        self.check_test_points(self.srv, self.BL)

    def test_score_zone_has_the_evidence(self):
        for ip in ("203.0.113.7", "203.0.113.9", "2001:db8:f2b::4", "198.51.100.61",
                   "198.51.100.33", "2001:db8:77::5"):
            name = v6name(ip, self.SC) if ":" in ip else v4name(ip, self.SC)
            self.assertLess(self.score_of(self.srv, name), 100, ip)
        # tmp/ of the maildir was never read.
        self.check_a(self.srv, v4name("203.0.113.88", self.SC), None, self.SC)


# --- 5. decay and delisting -------------------------------------------------

DAY = 86400
D = 1741608000  # 2025-03-10T12:00:00Z


def at(days):
    return str(D + int(days * DAY))


class DecayDelistTest(FeedCase):
    """20 complaints on day D: listed at D+1 (score 18), decayed away by
    D+30 (about 1); an operator delisting is answered at once and clears
    the evidence up to its day; complaints after it list again."""

    ZONE = "bl.example"
    IP = "192.0.2.77"

    def setUp(self):
        self.dir = new_dir("feeds-decay-")
        self.db = os.path.join(self.dir, "store")
        self.conf = write_config(self.dir, {self.ZONE: ""})
        self.name = v4name(self.IP, self.ZONE)

    def csv(self, fname, day, count):
        rows = "".join("%s,abuse,1,%d,complaint %d\n" % (self.IP, D + int(day * DAY) + i, i)
                       for i in range(count))
        return write(os.path.join(self.dir, fname),
                     "address_or_prefix,kind,weight,time,reason\n" + rows)

    def wait_nx(self, srv, since):
        last = None
        while time.monotonic() - since <= WITHIN:
            last = srv.query(self.name)
            if last.rcode() == dns.rcode.NXDOMAIN:
                return last
            time.sleep(0.02)
        self.fail("%s still answers %.1f s after the delisting:\n%s" % (self.name, WITHIN, last))

    def test_decay_delist_relist(self):
        self.imp(self.db, at(0), "--format", "csv", self.csv("d0.csv", 0, 20))

        # D+1 and D+30 side by side over the same store.
        with start(self.conf, at(1)) as day1, start(self.conf, at(30)) as day30:
            self.check_a(day1, self.name, {"127.0.0.2"}, self.ZONE)
            self.check_a(day30, self.name, None, self.ZONE)

        with start(self.conf, at(1)) as srv:
            self.check_a(srv, self.name, {"127.0.0.2"}, self.ZONE)
            rc, out, err = ctl("delist", self.IP, "--reason", "cleaned up", db=self.db,
                               now=at(1))
            self.assertEqual(rc, 0, out + err)
            r = self.wait_nx(srv, time.monotonic())
            self.assertNxdomain(r, self.ZONE)
            self.check_a(srv, self.name, None, self.ZONE)

        with start(self.conf, at(3)) as srv:
            # Still delisted two days later: the 20 complaints of D no longer count.
            self.check_a(srv, self.name, None, self.ZONE)
            # Five new ones alone stay under the threshold...
            self.imp(self.db, at(3), "--format", "csv", self.csv("d2a.csv", 2, 5))
            self.check_a(srv, self.name, None, self.ZONE)
            # ...fifteen more list the address again, live.
            self.imp(self.db, at(3), "--format", "csv", self.csv("d2b.csv", 2.1, 15))
            self.check_a(srv, self.name, {"127.0.0.2"}, self.ZONE)


# --- 6. an import under query load -------------------------------------------

LIVE_ROWS = 5000
LIVE_NOW = "2025-06-01T00:00:00Z"


def live_ip(i):
    return "2001:db8:6000::%x" % (i + 1)


class LiveImportTest(FeedCase):

    ZONE = "bl.example"

    def test_import_while_answering(self):
        d = new_dir("feeds-live-")
        db = os.path.join(d, "store")
        conf = write_config(d, {self.ZONE: ""})
        csv = write(os.path.join(d, "list.csv"),
                    "address_or_prefix,kind,weight,time,reason\n"
                    + "".join("%s,list,,,bulk %d\n" % (live_ip(i), i) for i in range(LIVE_ROWS)))
        sample = [live_ip(i) for i in range(0, LIVE_ROWS, LIVE_ROWS // 100)]
        probe = [v6name(ip, self.ZONE) for ip in sample[:10]] + [v4name("127.0.0.2", self.ZONE)]

        with start(conf, LIVE_NOW) as srv:
            stop = threading.Event()
            lock = threading.Lock()
            stats = {"asked": 0, "timeouts": [], "errors": [], "times": []}

            def ask(k):
                i = k
                deadline = time.monotonic() + 60  # bounded whatever happens
                while not stop.is_set() and time.monotonic() < deadline:
                    name = probe[i % len(probe)]
                    tcp, v6 = i % 2 == 1, i % 4 >= 2
                    how = "%s/%s" % ("tcp" if tcp else "udp", "v6" if v6 else "v4")
                    try:
                        r = srv.exchange(make_query(name, "A"), tcp=tcp, v6=v6)
                    except OSError as e:
                        r, err = None, (name, how, repr(e))
                    else:
                        err = None
                    with lock:
                        stats["asked"] += 1
                        stats["times"].append(time.monotonic())
                        if err:
                            stats["errors"].append(err)
                        elif r is None:
                            stats["timeouts"].append((name, how))
                        elif r.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                            stats["errors"].append((name, how, dns.rcode.to_text(r.rcode())))
                    i += 1

            threads = [threading.Thread(target=ask, args=(k,)) for k in range(2)]
            for t in threads:
                t.start()
            try:
                time.sleep(0.1)
                # Small batches: hundreds of commits while the server reads.
                began = time.monotonic()
                run = self.imp(db, LIVE_NOW, "--format", "csv", "--batch", "10", csv)
                done = time.monotonic()
                time.sleep(0.1)
            finally:
                stop.set()
                for t in threads:
                    t.join(10)
            self.assertEqual(run.summary["read"], LIVE_ROWS, str(run))
            self.assertEqual(run.summary["imported"], LIVE_ROWS, str(run))
            self.assertEqual(run.summary["rejected"], 0, str(run))
            during = sum(1 for t in stats["times"] if began <= t <= done)
            self.assertGreater(during, 10, "queries answered while the import ran (%.2f s)"
                               % (done - began))
            self.assertEqual(stats["timeouts"], [], "queries unanswered during the import")
            self.assertEqual(stats["errors"], [])

            def all_listed():
                for ip in sample:
                    r = srv.query(v6name(ip, self.ZONE))
                    if r.rcode() != dns.rcode.NOERROR or not r.answer:
                        return False
                return True

            listed = False
            while not listed and time.monotonic() - done <= WITHIN:
                listed = all_listed()
            self.assertTrue(listed,
                            "not all of the sample listed %.1f s after the import" % WITHIN)
            for ip in sample[::10]:
                for label, kw in UDP_TCP:
                    with self.subTest(ip=ip, transport=label):
                        rr = self.assertAnswer(srv.query(v6name(ip, self.ZONE), **kw), "A")
                        self.assertTrue(all(rd.to_text().startswith("127.0.0.") for rd in rr))
            self.check_a(srv, v6name(live_ip(LIVE_ROWS), self.ZONE), None, self.ZONE)


# --- 7. the rejection path -------------------------------------------------

class RejectionTest(FeedCase):
    """Rejected records land in --reject-dir as they were read, count in
    the summary, make the exit status 1, and change no answer."""

    BL, SC = "bl.example", "score.example"
    NOW = "2025-06-03T00:00:00Z"

    def test_rejects_go_to_the_directory(self):
        d = new_dir("feeds-reject-")
        db = os.path.join(d, "store")
        rejects = os.path.join(d, "rejects")
        conf = write_config(d, {self.BL: "    threshold = 0.5",
                                self.SC: '    kind = "score"\n    threshold = 0.5'})

        # An ARF report for 192.0.2.150 without Feedback-Type.
        with open(os.path.join(ARF, "01-abuse-ipv4.eml"), "rb") as f:
            report = f.read()
        self.assertIn(b"Feedback-Type: abuse\n", report)
        broken = (report.replace(b"Feedback-Type: abuse\n", b"")
                  .replace(b"192.0.2.45", b"192.0.2.150")
                  .replace(b"cfl-0001-20250602@", b"no-feedback-type-0001@"))
        arf = write(os.path.join(d, "no-type.eml"), broken, "wb")
        # SNDS: a good RED row for 192.0.2.160, then a bad IP on line 2.
        good = ("192.0.2.160,6/1/2025 12:00 AM,6/1/2025 11:59 PM,100,100,100,RED,1.2%,"
                ",,0,mta.example.com,,\r\n")
        bad = ("192.0.2.999,6/1/2025 12:00 AM,6/1/2025 11:59 PM,100,100,100,RED,1.2%,"
               ",,0,bad.example.com,,\r\n")
        snds = write(os.path.join(d, "snds.csv"), (good + bad).encode(), "wb")

        watched = {ip: [v4name(ip, z) for z in (self.BL, self.SC)]
                   for ip in ("192.0.2.150", "192.0.2.45", "192.0.2.160")}
        with start(conf, self.NOW) as srv:
            before = {n: answer_key(srv.query(n)) for ns in watched.values() for n in ns}

            r1 = self.imp(db, self.NOW, "--format", "arf", "--reject-dir", rejects, arf, rc=1)
            self.assertEqual((r1.summary["read"], r1.summary["imported"],
                              r1.summary["rejected"]), (1, 0, 1), str(r1))
            self.assertIn("missing feedback-type", r1.err.lower())
            self.assertIn("no-type.eml: <no-feedback-type-0001@complaints.example.net>: ", r1.err)

            r2 = self.imp(db, self.NOW, "--format", "snds", "--reject-dir", rejects, snds,
                          rc=1)
            self.assertEqual(r2.summary["rejected"], 1, str(r2))
            self.assertRegex(r2.err, r"snds\.csv:2: ")

            # The raw records, as read.
            files = sorted(os.listdir(rejects))
            self.assertEqual(len(files), 2, files)
            got = {}
            for fn in files:
                with open(os.path.join(rejects, fn), "rb") as f:
                    got[fn] = f.read()
            eml = [fn for fn in files if fn.startswith("no-type.eml")]
            rej = [fn for fn in files if fn.startswith("snds.csv")]
            self.assertEqual(len(eml), 1, files)
            self.assertEqual(len(rej), 1, files)
            self.assertTrue(eml[0].endswith(".eml"), files)
            self.assertEqual(got[eml[0]].replace(b"\r\n", b"\n"), broken)
            self.assertIn(b"192.0.2.999", got[rej[0]])
            self.assertNotIn(b"192.0.2.160", got[rej[0]])

            # The broken report left no trace; the good SNDS row went in.
            for n in watched["192.0.2.150"] + watched["192.0.2.45"]:
                self.assertEqual(answer_key(srv.query(n)), before[n], n)
            self.check_a(srv, watched["192.0.2.150"][1], None, self.SC)
            # RED, and its 1.2% of 100 recipients is one complaint, over 0.5.
            self.check_a(srv, watched["192.0.2.160"][0], {"127.0.0.4", "127.0.0.2"}, self.BL)
            self.assertEqual(self.score_of(srv, watched["192.0.2.160"][1]), 0)


if __name__ == "__main__":
    unittest.main()
