"""What dnsbld answers, case by case, over UDP and TCP on its IPv4 and IPv6
listeners: listed and unlisted addresses, invalid and partial names, the
RFC 5782 test points, the apex data from a zone file and synthesised, names
outside every zone, and the listing precedence (allow, delist, expiry).
The store is filled through dnsblctl before the server starts."""

import datetime
import unittest

import dns.flags
import dns.rcode

from dnsbltest import (TRANSPORTS, ZONE_FILE, DnsAssertions, Server, ctl, make_store,
                       txt_strings, v4name, v6name, v6partial)

ZONE = "bl.example"
OTHER = "other.example"  # served without a zone file: SOA/NS synthesised
NEG_TTL = 600            # min(SOA TTL 3600, SOA MINIMUM 600) of zones/bl.example.zone
TTL = 2100               # the default TTL of A/TXT answers

STORE = [
    ("add", "192.0.2.0/24", "--reason", "spam source"),
    ("allow", "192.0.2.200", "--reason", "our relay"),         # allow longer than a listing
    ("allow", "198.51.100.0/24", "--reason", "partner network"),
    ("add", "198.51.100.9", "--reason", "inside an allow", "--force"),  # allow shorter than a listing
    ("add", "203.0.113.0/24", "--reason", "net B"),
    ("add", "203.0.113.7", "--code", "127.0.0.3", "--reason", "X"),
    ("delist", "203.0.113.50", "--reason", "fixed"),           # delist inside a listed prefix
    ("add", "2001:db8:1::/48", "--reason", "v6 net"),
    ("add", "2001:db8:2::5", "--reason", "v6 host"),
    ("delist", "2001:db8:2::5", "--reason", "cleaned up"),     # delist of the listing itself
]

TESTPOINT_V6 = "::ffff:7f00:2"
TESTPOINT_V6_NOT = "::ffff:7f00:1"


def start_main_server():
    db = make_store(STORE)
    return Server(["--db", db, "--zone", "%s=%s" % (ZONE, ZONE_FILE), "--zone", OTHER])


class AnswerCase(DnsAssertions, unittest.TestCase):
    """Shared server for the read-only checks below."""

    @classmethod
    def setUpClass(cls):
        cls.srv = start_main_server()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop_clean()

    def each(self):
        """(label, query function) for UDP/TCP over IPv4/IPv6."""
        for label, kw in TRANSPORTS:
            def q(name, rdtype="A", _kw=kw, **more):
                args = dict(_kw)
                args.update(more)
                return self.srv.query(name, rdtype, **args)
            yield label, q

    def assertListed(self, q, name, code="127.0.0.2", ttl=TTL):
        return self.assertAnswer(q(name, "A"), "A", {code}, ttl=ttl)

    def assertTxt(self, q, name, text, ttl=TTL):
        rrset = self.assertAnswer(q(name, "TXT"), "TXT", ttl=ttl)
        self.assertEqual(txt_strings(rrset), [text])


class ListedTest(AnswerCase):

    def test_listed_a_is_the_code(self):
        for label, q in self.each():
            with self.subTest(label):
                self.assertListed(q, v4name("192.0.2.7"))
                self.assertListed(q, v4name("192.0.2.0"))
                self.assertListed(q, v4name("192.0.2.255"))
                self.assertListed(q, v4name("203.0.113.8"))
                self.assertListed(q, v4name("203.0.113.7"), "127.0.0.3")

    def test_listed_txt_expands_the_template(self):
        for label, q in self.each():
            with self.subTest(label):
                self.assertTxt(q, v4name("192.0.2.7"),
                               "192.0.2.7 is listed in bl.example: spam source")
                self.assertTxt(q, v4name("203.0.113.7"), "203.0.113.7 is listed in bl.example: X")
                self.assertTxt(q, v4name("203.0.113.9"),
                               "203.0.113.9 is listed in bl.example: net B")

    def test_listed_any_gives_a_and_txt(self):
        for label, q in self.each():
            with self.subTest(label):
                r = q(v4name("192.0.2.7"), "ANY")
                self.assertAnswer(r, "A", {"127.0.0.2"}, ttl=TTL)
                rrset = self.assertAnswer(r, "TXT", ttl=TTL)
                self.assertEqual(txt_strings(rrset),
                                 ["192.0.2.7 is listed in bl.example: spam source"])

    def test_listed_other_types_are_nodata(self):
        for label, q in self.each():
            with self.subTest(label):
                for rdtype in ("AAAA", "MX", "NS", "SOA"):
                    self.assertNodata(q(v4name("192.0.2.7"), rdtype), ZONE, NEG_TTL)
                self.assertNodata(q(v6name("2001:db8:1::1"), "AAAA"), ZONE, NEG_TTL)

    def test_leading_zeros_in_octets(self):
        for label, q in self.each():
            with self.subTest(label):
                self.assertListed(q, "007.002.000.192." + ZONE)

    def test_listed_ipv6(self):
        for label, q in self.each():
            with self.subTest(label):
                self.assertListed(q, v6name("2001:db8:1:2::3"))
                self.assertListed(q, v6name("2001:db8:1:ffff:ffff:ffff:ffff:ffff"))
                self.assertTxt(q, v6name("2001:db8:1:2::3"),
                               "2001:db8:1:2::3 is listed in bl.example: v6 net")

    def test_ipv6_nibbles_are_case_insensitive(self):
        for label, q in self.each():
            with self.subTest(label):
                name = v6name("2001:db8:1:abcd::ef", upper=True)
                self.assertIn("D.C.B.A", name)
                self.assertListed(q, name)

    def test_other_zone_answers_from_the_same_store(self):
        for label, q in self.each():
            with self.subTest(label):
                self.assertListed(q, v4name("192.0.2.7", OTHER))
                self.assertTxt(q, v4name("192.0.2.7", OTHER),
                               "192.0.2.7 is listed in other.example: spam source")
                self.assertListed(q, v6name("2001:db8:1::9", OTHER))


class NotListedTest(AnswerCase):

    def test_unlisted_is_nxdomain(self):
        for label, q in self.each():
            with self.subTest(label):
                for ip in ("192.0.3.1", "10.0.0.1", "203.0.112.255"):
                    for rdtype in ("A", "TXT", "ANY", "AAAA"):
                        self.assertNxdomain(q(v4name(ip), rdtype), ZONE, NEG_TTL)
                self.assertNxdomain(q(v6name("2001:db8:4::1")), ZONE, NEG_TTL)
                self.assertNxdomain(q(v6name("2001:db8:4::abc", upper=True)), ZONE, NEG_TTL)

    def test_invalid_names_are_nxdomain(self):
        listed = v6name("2001:db8:1::1").split(".")
        bad6 = [
            "0." + ".".join(listed),                                  # 33 nibbles
            "g." + ".".join(listed[1:]),                              # not a hex digit
            "10." + ".".join(listed[1:]),                             # two digits
        ]
        for label, q in self.each():
            with self.subTest(label):
                for name in ("300.2.0.192", "x.2.0.192", "1.7.2.0.192", "1234.2.0.192",
                             "-1.2.0.192", "x.2.0.0.127", "a7.2.0.192"):
                    self.assertNxdomain(q(name + "." + ZONE), ZONE, NEG_TTL)
                for name in bad6:
                    self.assertNxdomain(q(name), ZONE, NEG_TTL)

    def test_unlisted_in_other_zone_uses_its_soa(self):
        for label, q in self.each():
            with self.subTest(label):
                soa = self.assertAnswer(q(OTHER, "SOA"), "SOA")
                neg = min(soa.ttl, soa[0].minimum)
                self.assertNxdomain(q(v4name("192.0.3.1", OTHER)), OTHER, neg)


class PrecedenceTest(AnswerCase):
    """An allow covering the address wins, shorter or longer; otherwise the
    longest prefix with an operator decision decides."""

    def test_allow_longer_than_listing(self):
        for label, q in self.each():
            with self.subTest(label):
                self.assertNxdomain(q(v4name("192.0.2.200")), ZONE, NEG_TTL)
                self.assertNxdomain(q(v4name("192.0.2.200"), "TXT"), ZONE, NEG_TTL)
                self.assertListed(q, v4name("192.0.2.201"))

    def test_allow_shorter_than_listing(self):
        for label, q in self.each():
            with self.subTest(label):
                self.assertNxdomain(q(v4name("198.51.100.9")), ZONE, NEG_TTL)
                self.assertNxdomain(q(v6name("::ffff:198.51.100.9")), ZONE, NEG_TTL)

    def test_longest_prefix_gives_the_code(self):
        for label, q in self.each():
            with self.subTest(label):
                self.assertListed(q, v4name("203.0.113.7"), "127.0.0.3")
                self.assertListed(q, v4name("203.0.113.6"), "127.0.0.2")

    def test_delist_inside_a_listed_prefix(self):
        for label, q in self.each():
            with self.subTest(label):
                self.assertNxdomain(q(v4name("203.0.113.50")), ZONE, NEG_TTL)
                self.assertListed(q, v4name("203.0.113.51"))

    def test_delist_of_a_listing(self):
        for label, q in self.each():
            with self.subTest(label):
                self.assertNxdomain(q(v6name("2001:db8:2::5")), ZONE, NEG_TTL)


class PartialNameTest(AnswerCase):
    """Names with fewer labels than an address are empty non-terminals:
    NOERROR, no answer, the SOA; never NXDOMAIN (QNAME minimisation)."""

    def test_ipv4_partial_names(self):
        for label, q in self.each():
            with self.subTest(label):
                for name in ("2.0.192", "0.192", "192", "0.0.10", "0.127"):
                    for rdtype in ("A", "TXT", "AAAA"):
                        self.assertNodata(q(name + "." + ZONE, rdtype), ZONE, NEG_TTL)

    def test_ipv6_partial_names(self):
        for label, q in self.each():
            with self.subTest(label):
                for ip in ("2001:db8:1:2::3", "2001:db8:4::1"):
                    for n in (5, 8, 12, 16, 20, 24, 31):
                        self.assertNodata(q(v6partial(ip, n)), ZONE, NEG_TTL)
                self.assertNodata(q(v6partial("2001:db8:1::1", 8, OTHER)), OTHER)

    def test_ipv6_partial_name_that_reads_as_ipv4(self):
        """1.0.0.2.bl.example is IPv4 2.0.0.1 (not listed) but also the
        first four nibbles of 2001:db8:1::/48, which is listed: names exist
        below it, so NXDOMAIN here would make RFC 8020 resolvers believe
        that no 2001::/16 address is listed."""
        for label, q in self.each():
            with self.subTest(label):
                name = v6partial("2001:db8:1::1", 4)
                self.assertEqual(name, "1.0.0.2." + ZONE)
                self.assertNodata(q(name), ZONE, NEG_TTL)


class TestPointTest(AnswerCase):

    def check_test_points(self, q, zone):
        self.assertListed(q, v4name("127.0.0.2", zone))
        txt = self.assertAnswer(q(v4name("127.0.0.2", zone), "TXT"), "TXT")
        self.assertTrue(txt_strings(txt)[0])
        self.assertNxdomain(q(v4name("127.0.0.1", zone)), zone)
        self.assertListed(q, v6name(TESTPOINT_V6, zone))
        self.assertNxdomain(q(v6name(TESTPOINT_V6_NOT, zone)), zone)

    def test_test_points_in_every_zone(self):
        for label, q in self.each():
            for zone in (ZONE, OTHER):
                with self.subTest(label, zone=zone):
                    self.check_test_points(q, zone)

    def test_ipv4_mapped_name_finds_ipv4_listing(self):
        for label, q in self.each():
            with self.subTest(label):
                name = v6name("::ffff:192.0.2.99")
                self.assertListed(q, name)
                txt = txt_strings(self.assertAnswer(q(name, "TXT"), "TXT"))
                self.assertEqual(len(txt), 1)
                self.assertIn("spam source", txt[0])
                self.assertNxdomain(q(v6name("::ffff:192.0.3.99")), ZONE, NEG_TTL)


class ApexTest(AnswerCase):

    def test_soa(self):
        for label, q in self.each():
            with self.subTest(label):
                rrset = self.assertAnswer(
                    q(ZONE, "SOA"), "SOA",
                    {"ns1.bl.example. hostmaster.bl.example. 2026112701 7200 1800 604800 600"},
                    ttl=3600)
                self.assertEqual(len(rrset), 1)

    def test_ns_with_glue(self):
        for label, q in self.each():
            with self.subTest(label):
                r = q(ZONE, "NS")
                self.assertAnswer(r, "NS", {"ns1.bl.example.", "ns2.bl.example."})
                glue = {(rr.name.to_text(), rd.to_text()) for rr in r.additional
                        for rd in rr if rd.rdtype in (1, 28)}
                self.assertEqual(glue, {("ns1.bl.example.", "192.0.2.53"),
                                        ("ns1.bl.example.", "2001:db8::53"),
                                        ("ns2.bl.example.", "198.51.100.53")}, str(r))

    def test_apex_txt_and_nodata(self):
        for label, q in self.each():
            with self.subTest(label):
                self.assertTxt(q, ZONE, "bl.example DNSBL, see https://bl.example/", ttl=3600)
                self.assertNodata(q(ZONE, "A"), ZONE, NEG_TTL)
                self.assertNodata(q(ZONE, "MX"), ZONE, NEG_TTL)

    def test_names_from_the_zone_file(self):
        for label, q in self.each():
            with self.subTest(label):
                self.assertTxt(q, "www." + ZONE,
                               "Listing policy and removal: https://bl.example/policy", ttl=3600)
                self.assertNodata(q("www." + ZONE, "A"), ZONE, NEG_TTL)
                self.assertAnswer(q("ns1." + ZONE, "A"), "A", {"192.0.2.53"}, ttl=3600)
                self.assertAnswer(q("ns1." + ZONE, "AAAA"), "AAAA", {"2001:db8::53"})
                self.assertAnswer(q("ns2." + ZONE, "A"), "A", {"198.51.100.53"})
                self.assertNodata(q("ns2." + ZONE, "AAAA"), ZONE, NEG_TTL)

    def test_names_not_in_the_file_are_nxdomain(self):
        for label, q in self.each():
            with self.subTest(label):
                for name in ("foo", "x.www", "ns3", "long.www"):
                    self.assertNxdomain(q(name + "." + ZONE), ZONE, NEG_TTL)
                    self.assertNxdomain(q(name + "." + ZONE, "TXT"), ZONE, NEG_TTL)

    def test_synthesised_apex(self):
        for label, q in self.each():
            with self.subTest(label):
                soa = self.assertAnswer(q(OTHER, "SOA"), "SOA")
                self.assertEqual(len(soa), 1)
                ns = self.assertAnswer(q(OTHER, "NS"), "NS")
                self.assertGreaterEqual(len(ns), 1)
                neg = min(soa.ttl, soa[0].minimum)
                self.assertNodata(q(OTHER, "TXT"), OTHER, neg)
                self.assertNxdomain(q("foo." + OTHER), OTHER, neg)
                self.assertNxdomain(q("www." + OTHER, "TXT"), OTHER, neg)


class OutsideTest(AnswerCase):

    def test_names_outside_every_zone_are_refused(self):
        for label, q in self.each():
            with self.subTest(label):
                for name in ("example.com", "bl.example.com", "example", "com",
                             v4name("192.0.2.7", "xbl.example"), "2.0.0.127.example.org", "."):
                    r = q(name)
                    self.assertRcode(r, dns.rcode.REFUSED)
                    self.assertEqual(r.answer, [], str(r))
                    self.assertFalse(r.flags & dns.flags.RA)


class EmptyStoreTest(DnsAssertions, unittest.TestCase):
    """The test points do not depend on the store."""

    def test_test_points_with_an_empty_store(self):
        with Server(["--db", make_store(), "--zone", "%s=%s" % (ZONE, ZONE_FILE)]) as srv:
            for label, kw in TRANSPORTS:
                with self.subTest(label):
                    self.assertAnswer(srv.query(v4name("127.0.0.2"), **kw), "A", {"127.0.0.2"})
                    self.assertNxdomain(srv.query(v4name("127.0.0.1"), **kw), ZONE, NEG_TTL)
                    self.assertAnswer(srv.query(v6name(TESTPOINT_V6), **kw), "A", {"127.0.0.2"})
                    self.assertNxdomain(srv.query(v6name(TESTPOINT_V6_NOT), **kw), ZONE,
                                        NEG_TTL)
                    self.assertNxdomain(srv.query(v4name("192.0.2.7"), **kw), ZONE, NEG_TTL)

    def test_test_points_whatever_the_store_holds(self):
        """Whether or not dnsblctl accepts these commands, the server keeps
        127.0.0.2 listed and 127.0.0.1 unlisted."""
        db = make_store()
        for cmd in (("add", "127.0.0.0/8", "--reason", "everything"),
                    ("add", "127.0.0.1", "--reason", "must be refused"),
                    ("allow", "127.0.0.2", "--reason", "must not matter"),
                    ("add", "::ffff:127.0.0.0/104", "--reason", "everything")):
            ctl(*cmd, db=db)
        with Server(["--db", db, "--zone", "%s=%s" % (ZONE, ZONE_FILE)]) as srv:
            for label, kw in TRANSPORTS[:2]:
                with self.subTest(label):
                    self.assertAnswer(srv.query(v4name("127.0.0.2"), **kw), "A", {"127.0.0.2"})
                    self.assertNxdomain(srv.query(v4name("127.0.0.1"), **kw), ZONE, NEG_TTL)
                    self.assertAnswer(srv.query(v6name(TESTPOINT_V6), **kw), "A", {"127.0.0.2"})
                    self.assertNxdomain(srv.query(v6name(TESTPOINT_V6_NOT), **kw), ZONE,
                                        NEG_TTL)


def rfc3339(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class ExpiryTest(DnsAssertions, unittest.TestCase):
    """A manual listing past its --expires no longer counts; a covering
    listing that is still in force takes over. dnsbld --now moves the
    server's clock."""

    @classmethod
    def setUpClass(cls):
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        cls.expires = rfc3339(now + datetime.timedelta(days=30))
        cls.later = rfc3339(now + datetime.timedelta(days=60))
        cls.db = make_store([
            ("add", "192.0.2.0/24", "--reason", "spam source"),
            ("add", "192.0.2.77", "--code", "127.0.0.4", "--expires", cls.expires,
             "--reason", "for a while"),
            ("add", "198.51.100.77", "--expires", cls.expires, "--reason", "for a while"),
        ])

    def server(self, now=None):
        args = ["--db", self.db, "--zone", "%s=%s" % (ZONE, ZONE_FILE)]
        return Server(args + (["--now", now] if now else []))

    def test_before_expiry(self):
        with self.server() as srv:
            for label, kw in TRANSPORTS[:2]:
                with self.subTest(label):
                    self.assertAnswer(srv.query(v4name("192.0.2.77"), **kw), "A",
                                      {"127.0.0.4"})
                    self.assertAnswer(srv.query(v4name("198.51.100.77"), **kw), "A",
                                      {"127.0.0.2"})

    def test_after_expiry(self):
        with self.server(self.later) as srv:
            for label, kw in TRANSPORTS[:2]:
                with self.subTest(label):
                    self.assertAnswer(srv.query(v4name("192.0.2.77"), **kw), "A",
                                      {"127.0.0.2"})
                    txt = self.assertAnswer(srv.query(v4name("192.0.2.77"), "TXT", **kw), "TXT")
                    self.assertEqual(txt_strings(txt),
                                     ["192.0.2.77 is listed in bl.example: spam source"])
                    self.assertNxdomain(srv.query(v4name("198.51.100.77"), **kw), ZONE,
                                        NEG_TTL)
                    self.assertAnswer(srv.query(v4name("127.0.0.2"), **kw), "A", {"127.0.0.2"})


if __name__ == "__main__":
    unittest.main()
