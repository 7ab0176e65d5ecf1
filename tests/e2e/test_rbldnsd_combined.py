"""rbldnsd combined data with subzones (doc/formats.md 4.6): Debian's
rbldnsd and dnsbld serve the same combined files, and every answer is
compared: rcode, A and TXT records with their TTLs, for the edges of every
prefix in the data and the addresses around them, in the base zone, in
every subzone the data names and in one it does not, IPv4 and IPv6.

Where dnsbld differs on purpose (doc/formats.md 4.6) the names are left
out of the comparison and checked on their own: the RFC 5782 test points
of the base zone, and the subzone's own name. Then what the operator's
word does in a subzone (README "Subzones"), which rbldnsd has no notion
of."""

import ipaddress
import os
import shutil
import socket
import subprocess
import time
import unittest

import dns.exception
import dns.message
import dns.query
import dns.rcode

from dnsbltest import (FIXTURES, DnsAssertions, Server, ctl, ctl_ok, make_query, tmpdir, v4name,
                       v6name)

RBLDNSD = os.path.join(FIXTURES, "rbldnsd")
ZONE = "bl.example"
NOW = "2025-06-03T00:00:00Z"
TEST_POINTS = {"127.0.0.1", "127.0.0.2"}


def data_prefixes(path):
    """Every prefix the file's entry lines name (listed or excluded)."""
    nets = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#$:;":
                continue
            tok = line.split()[0].lstrip("!")
            try:
                nets.append(ipaddress.ip_network(tok, strict=False))
            except ValueError:
                continue  # a domain name of a skipped section
    return nets


def probe_addresses(path):
    """The first and last address of every prefix, and their neighbours."""
    out = set()
    for net in data_prefixes(path):
        first, last = int(net.network_address), int(net.broadcast_address)
        top = 2 ** net.max_prefixlen - 1
        for v in (first - 1, first, first + 1, last - 1, last, last + 1):
            if 0 <= v <= top:
                out.add(str(ipaddress.ip_address(v) if net.version == 6
                            else ipaddress.IPv4Address(v)))
    return sorted(out, key=lambda a: (":" in a, a))


def subzones(path):
    """The subzones the file's $DATASET lines name, "@" left out."""
    subs = set()
    with open(path) as f:
        for line in f:
            words = line.split("#")[0].split()
            if words and words[0] == "$DATASET":
                subs.update(w.lower() for w in words[2:] if w != "@")
    return sorted(subs)


def without_acl(src, dst):
    """src without its acl sections: rbldnsd refuses the whole zone for
    one (dnsbld skips it with a warning, doc/formats.md 4.6), and both
    servers must read the same file."""
    keep = True
    with open(src) as f, open(dst, "w") as out:
        for line in f:
            words = line.split()
            if words and words[0] == "$DATASET":
                keep = not words[1].split(":")[0] == "acl"
            if keep:
                out.write(line)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answer_of(r):
    """What an answer says: rcode and the answer section, order aside."""
    return (dns.rcode.to_text(r.rcode()),
            sorted((rr.name.to_text().lower(), rr.rdtype, rr.ttl, rd.to_text())
                   for rr in r.answer for rd in rr))


class Rbldnsd:
    """Debian's rbldnsd serving one combined file of dir as ZONE."""

    def __init__(self, d, fname):
        os.chmod(d, 0o755)  # started as root, it reads as its own user
        self.proc = None
        for _ in range(5):
            self.port = free_port()
            self.proc = subprocess.Popen(
                ["rbldnsd", "-n", "-f", "-b", "127.0.0.1/%d" % self.port, "-w", d,
                 "%s:combined:%s" % (ZONE, fname)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if self.ask(make_query(ZONE, "SOA")) is not None:
                return
            self.stop()
        raise AssertionError("rbldnsd did not start")

    def ask(self, q):
        for _ in range(50):
            if self.proc.poll() is not None:
                return None
            try:
                return dns.query.udp(q, "127.0.0.1", port=self.port, timeout=0.5)
            except (dns.exception.Timeout, ConnectionRefusedError, OSError):
                time.sleep(0.1)
        return None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            self.proc.wait(5)
            self.proc.stderr.close()


class CombinedCase(DnsAssertions):
    """Mixed into a TestCase with FIXTURE, a file of fixtures/rbldnsd, and
    REJECTED, the sections its import reports as rejected."""
    FIXTURE = None
    REJECTED = 0

    @classmethod
    def setUpClass(cls):
        cls.dir = tmpdir("rbldnsd-combined-")
        cls.data = os.path.join(cls.dir, cls.FIXTURE)
        without_acl(os.path.join(RBLDNSD, cls.FIXTURE), cls.data)
        db = os.path.join(cls.dir, "store")
        ctl_ok("init", db=db)
        rc, out, err = ctl("import", "--format", "rbldnsd:combined", "--zone", ZONE,
                           "--emit-zone", os.path.join(cls.dir, "bl.zone"), cls.data, db=db,
                           now=NOW, timeout=60)
        # a rejected section (a domain dataset) makes the exit status 1
        if rc != (1 if cls.REJECTED else 0) or ("rejected %d," % cls.REJECTED) not in out:
            raise AssertionError("import: exit %d\n%s%s" % (rc, out, err))
        cls.db = db
        cls.srv = Server(["--db", db, "--zone", "%s=%s" % (ZONE, os.path.join(cls.dir, "bl.zone")),
                          "--now", NOW, "--workers", "1"])
        cls.rbl = None
        if shutil.which("rbldnsd"):
            try:
                cls.rbl = Rbldnsd(cls.dir, cls.FIXTURE)
            except BaseException:
                cls.srv.stop()
                raise

    @classmethod
    def tearDownClass(cls):
        if cls.rbl:
            cls.rbl.stop()
        cls.srv.stop_clean()

    def names(self):
        """(zone, address, name) for every compared query."""
        zones = [ZONE] + ["%s.%s" % (s, ZONE) for s in subzones(self.data)]
        zones.append("nosuch.%s" % ZONE)
        for zone in zones:
            for ip in probe_addresses(self.data):
                if zone == ZONE and ip in TEST_POINTS:
                    continue
                name = v6name(ip, zone) if ":" in ip else v4name(ip, zone)
                yield zone, ip, name

    @unittest.skipUnless(shutil.which("rbldnsd"), "rbldnsd is not installed")
    def test_answers_equal_rbldnsd(self):
        n = listed = 0
        for zone, ip, name in self.names():
            for rdtype in ("A", "TXT"):
                q = make_query(name, rdtype)
                want = self.rbl.ask(q)
                self.assertIsNotNone(want, "rbldnsd gave no answer to %s %s" % (name, rdtype))
                got = self.srv.exchange(q)
                self.assertIsNotNone(got, "dnsbld gave no answer to %s %s" % (name, rdtype))
                with self.subTest(name=name, rdtype=rdtype):
                    self.assertEqual(answer_of(got), answer_of(want))
                n += 1
                listed += bool(want.answer)
        # the comparison covered listed and unlisted names alike
        self.assertGreater(listed, 4)
        self.assertGreater(n - listed, 4)

    def test_subzone_name_and_test_points(self):
        """Documented differences: the subzone's own name is NXDOMAIN (its
        datasets are not known without a store lookup), and a subzone
        answers its data only, no RFC 5782 test points."""
        for sub in subzones(self.data):
            zone = "%s.%s" % (sub, ZONE)
            self.assertNxdomain(self.srv.query(zone, "A"), ZONE)
            self.assertNxdomain(self.srv.query(v4name("127.0.0.2", zone), "A"), ZONE)
        self.assertAnswer(self.srv.query(v4name("127.0.0.2", ZONE), "A"), "A", {"127.0.0.2"})


class SubzonesTest(CombinedCase, unittest.TestCase):
    """fixtures/rbldnsd/subzones.combined: the layout of rbldnsd's manual."""
    FIXTURE = "subzones.combined"
    REJECTED = 1  # its dnset section

    def test_two_datasets_both_answer(self):
        both = v4name("192.0.2.10", ZONE)
        self.assertAnswer(self.srv.query(both, "A"), "A", {"127.0.0.2", "127.0.0.3"})
        self.assertAnswer(self.srv.query(v4name("192.0.2.10", "proxies." + ZONE), "A"), "A",
                          {"127.0.0.2"})
        self.assertAnswer(self.srv.query(v4name("192.0.2.10", "relays." + ZONE), "A"), "A",
                          {"127.0.0.3"})
        # two sections bound to one subzone: each keeps its value
        self.assertAnswer(self.srv.query(v4name("198.51.100.7", "dynamic." + ZONE), "A"), "A",
                          {"127.0.0.12"})
        self.assertAnswer(self.srv.query(v4name("198.51.100.7", ZONE), "A"), "A", {"127.0.0.2"})
        self.assertAnswer(self.srv.query(v6name("2001:db8:d:5::1", "DYNAMIC." + ZONE), "A"), "A",
                          {"127.0.0.10"})
        self.assertNxdomain(self.srv.query(v6name("2001:db8:d:5::1", ZONE), "A"), ZONE)


class BlCombinedTest(CombinedCase, unittest.TestCase):
    """fixtures/rbldnsd/bl.combined: the project's own combined fixture."""
    FIXTURE = "bl.combined"


class OperatorInSubzonesTest(DnsAssertions, unittest.TestCase):
    """README "Subzones": an allow or a delisting holds in every subzone; a
    manual listing answers in the zone itself only."""

    def test_operator_word(self):
        d = tmpdir("rbldnsd-subzone-op-")
        db = os.path.join(d, "store")
        ctl_ok("init", db=db)
        rc, out, err = ctl("import", "--format", "rbldnsd:combined", "--zone", ZONE,
                           os.path.join(RBLDNSD, "subzones.combined"), db=db, now=NOW)
        self.assertEqual(rc, 1, out + err)  # its dnset section is rejected
        for args in (("allow", "192.0.2.10", "--reason", "fixed"),
                     ("delist", "203.0.113.5", "--reason", "ticket 1"),
                     ("add", "198.51.100.77", "--reason", "operator")):
            rc, out, err = ctl(*args, db=db, now=NOW)
            self.assertEqual(rc, 0, out + err)
        with Server(["--db", db, "--zone", ZONE, "--now", NOW]) as srv:
            for zone in (ZONE, "proxies." + ZONE, "relays." + ZONE):
                self.assertNxdomain(srv.query(v4name("192.0.2.10", zone), "A"), ZONE)
            self.assertNxdomain(srv.query(v4name("203.0.113.5", "relays." + ZONE), "A"), ZONE)
            self.assertNxdomain(srv.query(v4name("203.0.113.5", ZONE), "A"), ZONE)
            self.assertAnswer(srv.query(v4name("198.51.100.77", ZONE), "A"), "A", {"127.0.0.2"})
            # the dynamic subzone answers its own data, not the operator's
            self.assertAnswer(srv.query(v4name("198.51.100.77", "dynamic." + ZONE), "A"), "A",
                              {"127.0.0.10"})
            self.assertNxdomain(srv.query(v4name("198.51.100.77", "proxies." + ZONE), "A"), ZONE)
            self.assertAnswer(srv.query(v4name("192.0.2.17", "proxies." + ZONE), "A"), "A",
                              {"127.0.0.2"})


if __name__ == "__main__":
    unittest.main()
