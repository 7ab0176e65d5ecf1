"""Zone transfers between dnsbld and DNS servers nobody here wrote.

Knot, NSD and BIND (Debian's knot, nsd, bind9) run as secondaries of
dnsbld, each with its own config in a temporary directory, TSIG-signed
transfers and NOTIFY from dnsbld. After the first AXFR and after each of a
series of changes (an add, a delisting, an allow, a sync that removes
entries, scores decaying as time passes) each must serve dnsbld's serial
and answer a fixed sample of over 10,000 questions (listed, unlisted,
prefix edges, exclusions, IPv6, test points) as dnsbld does, with the
differences doc/formats.md 4.8 states for any zone file: NOERROR with no
data where dnsbld says NXDOMAIN (both "not listed"), and a wildcard's TXT
naming the listed prefix instead of the address asked about. IXFR carries
only the change: its bytes are measured against the AXFR's with kdig.
XFR_PEERS=knot,nsd (say) runs the secondaries named only, for debugging.
"""

import base64
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import time
import unittest

from dnsbltest import FIXTURES, ZONE_FILE, Server, ctl, tmpdir
import dnsdiff
import peers

ZONE = "bl.example"
T0 = "2026-11-27T12:00:00Z"
T_LATER = "2027-02-27T12:00:00Z"  # three months on: scores have decayed, 30d expired
KEY = ("xfr", "hmac-sha256", base64.b64encode(b"dnsbld interop test key, 32 byte").decode())
CIDR = re.compile(r"[0-9a-f.:]+/\d+")
SAMPLE_MIN = 10000

CONFIG = """db = "{db}"
key "xfr" {{ algorithm = "hmac-sha256" secret = "{secret}" }}
zone "{zone}" {{
    file = "{zonefile}"
    threshold = 1
    allow_transfer = {{"127.0.0.1/32"}}
    transfer_key = "xfr"
    notify = {{{notify}}}
}}
"""


def normalise(ip, ours, theirs):
    """What a zone file cannot say as dnsbld does (doc/formats.md 4.8)."""
    if theirs == ("NOERROR", []) and ours == ("NXDOMAIN", []):
        theirs = ours
    if any(CIDR.search(t) for t in theirs[1]):
        theirs = (theirs[0], [CIDR.sub("ADDR", t) for t in theirs[1]])
        ours = (ours[0], [t.replace(str(ip), "ADDR") for t in ours[1]])
    return ours, theirs


def kdig_bytes(port, qtype):
    """(rcode text, bytes received) of a signed transfer asked with kdig."""
    r = subprocess.run(["kdig", "@127.0.0.1", "-p", str(port), "-y", "%s:%s:%s" % (KEY[1], KEY[0],
                        KEY[2]), qtype, ZONE + "."], capture_output=True, text=True, timeout=120)
    m = re.search(r";; Received (\d+) B", r.stdout)
    if not m:
        return r.stdout + r.stderr, 0
    return "NOERROR", int(m.group(1))


class XfrCase(unittest.TestCase):
    """A store with a bit of everything, a dnsbld config that lets
    127.0.0.1 transfer it with the key, and a sample of questions."""

    notify_ports = ()

    def setUp(self):
        self.tmp = tmpdir("xfr-interop-")
        self.db = os.path.join(self.tmp, "db")
        self.ctl_ok("init", self.db, now=T0)
        self.port = peers.free_port()
        self.server = None
        self.figures = []

    def write_config(self, notify_ports=()):
        self.conf = os.path.join(self.tmp, "dnsbld.conf")
        with open(self.conf, "w") as f:
            f.write(CONFIG.format(db=self.db, secret=KEY[2], zone=ZONE, zonefile=ZONE_FILE,
                                  notify=", ".join('"127.0.0.1:%d"' % p for p in notify_ports)))
    def tearDown(self):
        if self.server:
            self.server.stop()
        if self.figures:
            sys.stderr.write("\n" + "\n".join(self.figures) + "\n")

    # -- dnsblctl and dnsbld --

    def ctl_ok(self, *args, now=T0):
        rc, out, err = ctl(*args, db=None if args[0] == "init" else self.db, now=now,
                           timeout=300)
        self.assertEqual(rc, 0, "dnsblctl %s: %s" % (" ".join(args), err))
        return out

    def build_store(self):
        """Imported lists (rbldnsd with exclusions, a plain list with a
        second value), operator listings, allows and expiries inside and
        over them, IPv6, and complaint evidence listed by its score."""
        rbl = os.path.join(FIXTURES, "rbldnsd")
        for kind, name in (("ip4set", "bl-main.ip4set"), ("ip6trie", "bl6.ip6trie")):
            ctl("import", "--format", "rbldnsd:" + kind, "--zone", ZONE,
                os.path.join(rbl, name), db=self.db, now=T0)
        for args in (("add", "10.1.0.0/16", "--code", "127.0.0.10", "--reason", "wide"),
                     ("allow", "10.1.2.0/24"),
                     ("add", "10.1.2.128/25", "--code", "127.0.0.11", "--reason", "inside"),
                     ("allow", "10.1.2.200"),
                     ("add", "172.16.5.0/24", "--code", "127.0.0.4", "--expires", "30d",
                      "--reason", "for a month"),
                     ("add", "100.64.0.0/10", "--code", "127.0.0.5"),
                     ("allow", "100.70.1.2"),
                     ("add", "100.70.1.0/30", "--code", "127.0.0.6"),
                     ("add", "2001:db8:77::/48", "--code", "127.0.0.12", "--reason", "v6 net"),
                     ("allow", "2001:db8:77::1"),
                     ("add", "2001:db8:f000::/38", "--code", "127.0.0.7"),
                     ("add", "2001:db8:78::5", "--reason", "v6 host")):
            self.ctl_ok(*args, "--force")
        self.second = os.path.join(self.tmp, "second.txt")
        with open(self.second, "w") as f:
            f.write("192.0.2.0/24\n198.51.100.0/26\n10.9.0.0/16\n10.9.4.4\n"
                    "2001:db8:1::/48\n2001:db8:99::/64\n")
            for i in range(200):
                f.write("203.0.%d.%d\n" % (i % 100, i))
        self.ctl_ok("import", "--format", "list", "--source", "second", "--code", "127.0.0.7",
                    "--reason", "second list", self.second)
        arf = os.path.join(FIXTURES, "arf")
        ctl("import", *sorted(os.path.join(arf, f) for f in os.listdir(arf)), db=self.db, now=T0)

    def sample(self):
        listing = json.loads(self.ctl_ok("list", "--json"))
        prefixes = [ipaddress.ip_network(e["prefix"]) for e in listing]
        addrs = dnsdiff.sample_addresses(prefixes, inside=40, near=40)
        extra = [ipaddress.ip_network(n) for n in ("100.70.1.0/24", "2001:db8:f3ff::/48",
                                                   "203.0.113.0/24", "10.1.2.0/24")]
        addrs = sorted(set(addrs) | set(dnsdiff.sample_addresses(extra, inside=600)),
                       key=lambda a: (a.version, int(a)))
        self.assertGreaterEqual(len(addrs), SAMPLE_MIN)
        return addrs

    def start_dnsbld(self, now):
        if self.server:
            self.server.stop()
        self.server = Server(["--config", self.conf, "--now", now],
                             listen=("127.0.0.1:%d" % self.port,))
        return self.server

    def wait_secondary(self, s, serial, timeout=30):
        try:
            return s.wait_serial(serial, timeout=timeout)
        except AssertionError as e:
            raise AssertionError("%s\ndnsbld's log:\n%s" % (e, self.server.log()[-3000:]))

    def wait_new_serial(self, before, label, timeout=10):
        """dnsbld's serial once it moved from before (it reads the
        published serial on a timer)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            now = self.serial()
            if now is not None and now != before:
                return now
            time.sleep(0.05)
        self.fail("%s did not move dnsbld's serial from %s" % (label, before))

    def serial(self, port=None):
        s = peers.Peer(self.tmp, ZONE)
        s.port = port or self.port
        return s.serial()

    # -- the comparison --

    def compare(self, addrs, label, others):
        """Every name's A and TXT answer from each of others (objects with
        .name and .port) must be dnsbld's, up to normalise()."""
        names = {dnsdiff.qname(ip, ZONE): ip for ip in addrs}
        want = {t: dnsdiff.answers_bulk(self.port, names, t) for t in ("A", "TXT")}
        multi = sum(1 for n in names if len(want["A"][n][1]) > 1)
        listed = sum(1 for n in names if want["A"][n][1])
        self.assertGreater(listed, len(names) // 20, "the sample hardly touches a listing")
        for s in others:
            bad = []
            for t in ("A", "TXT"):
                got = dnsdiff.answers_bulk(s.port, names, t)
                for n, ip in names.items():
                    ours, theirs = normalise(ip, want[t][n], got[n])
                    if ours != theirs:
                        bad.append("%s %s: dnsbld %s, %s %s" % (ip, t, ours, s.name, theirs))
            self.assertEqual(bad[:20], [], "%s: %s answers %d of %d questions otherwise"
                             % (label, s.name, len(bad), 2 * len(names)))
        self.figures.append("%s: %d names (%d listed, %d with two values or more), A and TXT, "
                            "equal on %s" % (label, len(names), listed, multi,
                                             ", ".join(s.name for s in others)))


@unittest.skipUnless(all(peers.available(k) for k in peers.SECONDARIES)
                     and shutil.which("kdig"), "knot, nsd, bind9 or kdig missing (deps.sh)")
class TestSecondaries(XfrCase):
    def setUp(self):
        super().setUp()
        self.secondaries = [cls(os.path.join(self.tmp, kind), ZONE, self.port, key=KEY)
                            for kind, cls in sorted(peers.SECONDARIES.items())
                            if kind in os.environ.get("XFR_PEERS", kind)]
        for s in self.secondaries:
            s.port = peers.free_port()
            self.addCleanup(s.stop)
        self.write_config([s.port for s in self.secondaries])

    def step(self, label, addrs, change, now=T0):
        """Apply change (a dnsblctl command that publishes), then every
        secondary must reach the new serial by NOTIFY and answer alike."""
        before = self.serial()
        change()
        t0 = time.monotonic()  # the write command has published
        after = self.wait_new_serial(before, label)
        waits = []
        for s in self.secondaries:
            self.wait_secondary(s, after)
            waits.append(time.monotonic() - t0)
        # dnsbld reads the serial every 0.5 s, NOTIFY goes out at once and
        # the secondary asks IXFR: about a second; 5 s leaves room for a
        # loaded machine (the figures below say what it was).
        self.assertLess(max(waits), 5.0, "%s: secondaries slow to follow" % label)
        rc, ixfr = kdig_bytes(self.port, "IXFR=%d" % before)
        _, axfr = kdig_bytes(self.port, "AXFR")
        self.assertEqual(rc, "NOERROR")
        self.figures.append("%s: serial %d -> %d, secondaries current %s s after the write "
                            "command; IXFR %d B, AXFR %d B" % (label, before, after,
                                           "/".join("%.2f" % w for w in waits), ixfr, axfr))
        self.compare(addrs, label, self.secondaries)
        return ixfr, axfr

    def test_secondaries_answer_as_dnsbld(self):
        self.build_store()
        self.ctl_ok("publish", "--config", self.conf)
        addrs = self.sample()
        self.start_dnsbld(T0)
        serial = self.serial()
        self.assertIsNotNone(serial)
        for s in self.secondaries:
            s.start(ready=lambda p: p.answers())
            s.wait_serial(serial, timeout=60)
        self.compare(addrs, "first AXFR", self.secondaries)

        small = []
        small.append(self.step("add", addrs, lambda: self.ctl_ok(
            "add", "203.0.113.0/24", "--code", "127.0.0.8", "--reason", "new")))
        small.append(self.step("delist", addrs, lambda: self.ctl_ok("delist", "203.0.113.77")))
        small.append(self.step("allow", addrs, lambda: self.ctl_ok(
            "allow", "100.65.3.0/24", "--reason", "cleaned up")))
        with open(self.second, "w") as f:
            f.write("192.0.2.0/24\n10.9.0.0/16\n")
        self.step("sync", addrs, lambda: self.ctl_ok(
            "import", "--sync", "--force", "--format", "list", "--source", "second", "--code",
            "127.0.0.7", "--reason", "second list", self.second))
        for ixfr, axfr in small:
            self.assertLess(ixfr * 10, axfr, "an IXFR of one change is not small")

        # Time passes: scores decay, the 30-day listing ends. dnsbld is
        # stopped first (a secondary whose transfer a stopping primary cuts
        # retries only after the SOA retry), the publish at the later time
        # moves the serial, and dnsbld started with that clock notifies
        # the secondaries of it.
        before = self.serial()
        self.server.stop()
        self.server = None
        self.ctl_ok("publish", "--config", self.conf, now=T_LATER)
        self.start_dnsbld(T_LATER)
        after = self.wait_new_serial(before, "decay")
        for s in self.secondaries:
            self.wait_secondary(s, after)
        self.compare(addrs, "three months later", self.secondaries)


class Dnsbld:
    """A second dnsbld, on the store a pull filled."""

    name = "dnsbld (pulled)"

    def __init__(self, db):
        self.srv = Server(["--db", db, "--zone", "%s=%s" % (ZONE, ZONE_FILE), "--now", T0],
                          listen=("127.0.0.1:0",))
        self.port = self.srv.ports["127.0.0.1"]

    def stop(self):
        self.srv.stop()


class TestChain(XfrCase):
    """dnsbld as primary, dnsblctl pull into a second store, a second
    dnsbld serving it: the chain answers as the primary does, first by
    AXFR, then by IXFR after a change."""

    def pull(self, db):
        rc, out, err = ctl("pull", ZONE, "--from", "127.0.0.1:%d" % self.port, "--tsig",
                           "%s:%s:%s" % (KEY[1], KEY[0], KEY[2]), db=db, now=T0, timeout=300)
        self.assertEqual(rc, 0, err)
        return out

    def test_pull_from_dnsbld_answers_alike(self):
        self.build_store()
        self.write_config()
        self.ctl_ok("publish", "--config", self.conf)
        addrs = self.sample()
        self.start_dnsbld(T0)
        second = os.path.join(self.tmp, "second-db")
        rc, _, err = ctl("init", second)
        self.assertEqual(rc, 0, err)
        out = self.pull(second)
        self.assertIn("AXFR", out)
        chained = Dnsbld(second)
        self.addCleanup(chained.stop)
        self.compare(addrs, "chain after AXFR", [chained])
        self.ctl_ok("add", "203.0.113.0/24", "--code", "127.0.0.8", "--reason", "new")
        self.ctl_ok("delist", "192.0.2.77")
        # One of a prefix's two values leaves: the IXFR deletes that A alone.
        self.ctl_ok("remove", "198.51.100.0/26", "--dataset", "second")
        out = self.pull(second)
        self.assertIn("IXFR", out)
        self.compare(addrs, "chain after IXFR", [chained])


if __name__ == "__main__":
    unittest.main()
