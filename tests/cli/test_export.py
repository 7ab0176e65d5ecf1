"""dnsblctl export checked against real servers: the rbldnsd export loaded
into Debian's rbldnsd, and the zone export loaded into NSD, answer A and
TXT questions (and NXDOMAIN) as dnsbld does on the same store, for every
prefix's edges, addresses just outside, a few inside and the test points;
and the CSV export imports into a fresh store with the same entries.

Differences the formats cannot avoid, and so not compared:
- rbldnsd's trie datasets hold one A value per prefix: an address dnsbld
  answers with several codes has its second, third ... value in extra
  datasets of the combined export, and rbldnsd answers them all; the zone
  export (one wildcard answer per name) leaves such addresses out.
- rbldnsd and NSD answer names between the apex and an address (empty
  non-terminals such as 2.0.192.bl.example) with NOERROR and no data;
  only full addresses are asked."""

import ipaddress
import json
import os
import random
import re
import shutil
import subprocess
import unittest

from ctlhelp import CtlTestCase, run_ctl
from dnsbltest import FIXTURES, ZONE_FILE, Server
import dnsdiff

NOW = "2025-06-03T00:00:00Z"
ZONE = "bl.example"
RBLDNSD_DIR = os.path.join(FIXTURES, "rbldnsd")


def free_port():
    return random.randint(20000, 60000)


class ExportTestCase(CtlTestCase):
    def setUp(self):
        super().setUp()
        self.now = NOW
        self.db = os.path.join(self.tmp, "db")
        self.ctl_ok("init", self.db)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)
        return self.path(name)

    def build_store(self):
        """Imported rbldnsd data (excludes, TXT templates, $ substitutions),
        then operator listings with codes and expiries over and inside it,
        allows inside listed prefixes, and evidence (ARF reports)."""
        for kind, name in (("ip4set", "bl-main.ip4set"), ("ip6trie", "bl6.ip6trie")):
            r = self.ctl("import", "--format", "rbldnsd:" + kind, "--zone", ZONE,
                         os.path.join(RBLDNSD_DIR, name))
            self.assertEqual(r.rc, 0, r.err)  # warnings about lines the fixture gets wrong
        for args in (("add", "10.1.0.0/16", "--code", "127.0.0.10", "--reason", "wide"),
                     ("allow", "10.1.2.0/24"),
                     ("add", "10.1.2.128/25", "--code", "127.0.0.11", "--reason", "inside"),
                     ("allow", "10.1.2.200"),
                     ("add", "172.16.5.0/24", "--code", "127.0.0.4", "--expires", "30d",
                      "--reason", "for a month"),
                     ("add", "172.16.6.7", "--reason", "one host"),
                     ("add", "192.0.2.1", "--code", "127.0.0.9", "--reason", "over an exclusion"),
                     ("allow", "198.51.100.7", "--reason", "inside an imported /26"),
                     ("add", "2001:db8:77::/48", "--code", "127.0.0.12", "--reason", "v6 net"),
                     ("allow", "2001:db8:77::1"),
                     ("add", "2001:db8:78::5", "--reason", "v6 host")):
            self.ctl_ok(*args, "--force")  # the exceptions are the point here
        # A second list over the first one's prefixes and beside them: an
        # address both list answers both values.
        second = self.write("second.txt", "192.0.2.0/24\n198.51.100.0/26\n10.9.0.0/16\n"
                                          "10.9.4.4\n2001:db8:1::/48\n2001:db8:99::/64\n")
        self.ctl_ok("import", "--format", "list", "--source", "second", "--code", "127.0.0.7",
                    "--reason", "second list", second)
        arf = os.path.join(FIXTURES, "arf")
        r = self.ctl("import", *sorted(os.path.join(arf, f) for f in os.listdir(arf)))
        self.assertIn(r.rc, (0, 1), r.err)  # the fixtures hold rejects on purpose

    def prefixes(self):
        listing = json.loads(self.ctl_ok("list", "--json").out)
        return [ipaddress.ip_network(e["prefix"]) for e in listing]

    def sample(self):
        """Edges of every stored prefix and many addresses inside: a few
        thousand questions in all."""
        return dnsdiff.sample_addresses(self.prefixes(), inside=40, near=40)

    def dnsbld(self):
        return Server(["--db", self.db, "--zone", "%s=%s" % (ZONE, ZONE_FILE), "--now", NOW])

    def multi_code(self, addr):
        doc = json.loads(self.ctl_ok("show", str(addr), "--json").out)
        return len(doc.get("codes") or []) > 1

    def start_server(self, argv):
        """The server argv(port) runs, on a free loopback port, once it
        answers the zone's SOA; a few ports are tried (one may be taken),
        each for at most 10 s."""
        for _ in range(3):
            port = free_port()
            proc = subprocess.Popen(argv(port), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            try:
                dnsdiff.answer(port, ZONE + ".", "SOA", tries=100, proc=proc)
            except RuntimeError:
                proc.kill()
                proc.wait(5)
                continue
            self.addCleanup(proc.wait, 5)
            self.addCleanup(proc.terminate)
            return port, proc
        self.fail("%s did not start" % argv(0)[0])

    def compare(self, other_port, proc, addrs, skip_multi, normalise=None):
        """Every address's A and TXT answer from dnsbld and from the other
        server (normalise(ip, ours, theirs) may turn both into what is
        compared); returns how many were compared."""
        compared = 0
        with self.dnsbld() as srv:
            ours = srv.ports["127.0.0.1"]
            for ip in addrs:
                name = dnsdiff.qname(ip, ZONE)
                want_a = dnsdiff.answer(ours, name, "A")
                if skip_multi and len(want_a[1]) > 1:
                    continue
                for rdtype in ("A", "TXT"):
                    want = want_a if rdtype == "A" else dnsdiff.answer(ours, name, rdtype)
                    got = dnsdiff.answer(other_port, name, rdtype, proc=proc)
                    if normalise:
                        want, got = normalise(ip, want, got)
                    with self.subTest(ip=str(ip), rdtype=rdtype):
                        self.assertEqual(got, want)
                compared += 1
        return compared


class TestRbldnsdExport(ExportTestCase):
    @unittest.skipUnless(shutil.which("rbldnsd"), "rbldnsd is not installed (deps.sh)")
    def test_rbldnsd_answers_as_dnsbld(self):
        self.build_store()
        data = os.path.join(self.tmp, "bl.rbldnsd")
        self.ctl_ok("export", "--format", "rbldnsd", "--zone", ZONE, "--zone-file", ZONE_FILE,
                    "--output", data)
        with open(data) as f:
            text = f.read()
        self.assertIn("\n$SOA 3600 ns1.bl.example hostmaster.bl.example 2026112701 7200 1800 "
                      "604800 600\n", text)
        self.assertIn("\n$NS 3600 ns1.bl.example ns2.bl.example\n", text)
        self.assertNotIn("listed in :", text)
        # rbldnsd started as root reads its data as an unprivileged user.
        os.chmod(self.tmp, 0o755)
        os.chmod(data, 0o644)
        port, proc = self.start_server(
            lambda port: ["rbldnsd", "-n", "-f", "-b", "127.0.0.1/%d" % port, "-w", self.tmp,
                          "%s:combined:bl.rbldnsd" % ZONE])
        addrs = self.sample()
        self.assertGreater(len(addrs), 1500)
        n = self.compare(port, proc, addrs, skip_multi=False)
        self.assertEqual(n, len(addrs))
        self.assertTrue(any(self.multi_code(ip) for ip in ("192.0.2.99", "198.51.100.5")))
        # The apex: the SOA of the zone file, in answers and negative answers.
        rcode, soa = dnsdiff.answer(port, ZONE + ".", "SOA", proc=proc)
        self.assertEqual(soa, ["ns1.bl.example. hostmaster.bl.example. 2026112701 7200 1800 "
                               "604800 600"])

    def test_needs_a_zone(self):
        self.ctl_fail(2, "export", "--format", "rbldnsd")


NSD_CONF = """server:
    ip-address: 127.0.0.1@{port}
    port: {port}
    do-ip6: no
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "{dir}"
    pidfile: "{dir}/nsd.pid"
    xfrdfile: "{dir}/xfrd.state"
    zonelistfile: "{dir}/zone.list"
    database: ""
    logfile: "{dir}/nsd.log"
    verbosity: 1
remote-control:
    control-enable: no
zone:
    name: {zone}
    zonefile: "{dir}/{zone}.zone"
"""

CIDR = re.compile(r"[0-9a-f.:]+/\d+")


def zone_normalise(ip, ours, theirs):
    """What a zone file cannot say as dnsbld does: a wildcard's TXT names
    the deciding prefix, not the address asked about; a name that exists
    only to stop a wildcard answers NOERROR with no data, not NXDOMAIN."""
    if theirs == ("NOERROR", []) and ours == ("NXDOMAIN", []):
        theirs = ours
    if any(CIDR.search(t) for t in theirs[1]):
        theirs = (theirs[0], [CIDR.sub("ADDR", t) for t in theirs[1]])
        ours = (ours[0], [t.replace(str(ip), "ADDR") for t in ours[1]])
    return ours, theirs


class TestZoneExport(ExportTestCase):
    def start_nsd(self, nsd_dir):
        conf = os.path.join(nsd_dir, "nsd.conf")

        def argv(port):
            with open(conf, "w") as f:
                f.write(NSD_CONF.format(port=port, dir=nsd_dir, zone=ZONE))
            return ["nsd", "-d", "-c", conf]
        return self.start_server(argv)

    def export_zone(self, *extra):
        r = self.ctl("export", "--format", "zone", "--zone", ZONE, *extra)
        self.assertEqual(r.rc, 0, r.err)
        return r

    @unittest.skipUnless(shutil.which("nsd"), "nsd is not installed (deps.sh)")
    def test_nsd_answers_as_dnsbld(self):
        self.build_store()
        # Wide prefixes: wildcards, and split into wildcards when not on an
        # octet or nibble boundary.
        for args in (("add", "100.64.0.0/10", "--code", "127.0.0.5"),
                     ("allow", "100.70.1.2"),
                     ("add", "100.70.1.0/30", "--code", "127.0.0.6"),
                     ("add", "2001:db8:f000::/38", "--code", "127.0.0.7")):
            self.ctl_ok(*args)
        nsd_dir = os.path.join(self.tmp, "nsd")
        os.mkdir(nsd_dir)
        zone_path = os.path.join(nsd_dir, ZONE + ".zone")
        r = self.export_zone("--zone-file", ZONE_FILE, "--output", zone_path)
        self.assertEqual(r.err, "")  # nothing left out
        with open(zone_path) as f:
            text = f.read()
        self.assertIn("*.2.0.192.bl.example.", text)  # bl-main's 192.0.2.0/24
        self.assertIn("*.64.100.bl.example.", text)    # a /10 split on octets
        self.assertIn("*.127.100.bl.example.", text)
        self.assertNotIn("*.128.100.bl.example.", text)
        check = subprocess.run(["nsd-checkzone", ZONE, zone_path], capture_output=True,
                               timeout=60)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        port, proc = self.start_nsd(nsd_dir)
        addrs = self.sample()
        addrs += dnsdiff.sample_addresses([ipaddress.ip_network("100.70.1.0/24"),
                                           ipaddress.ip_network("2001:db8:f3ff::/48")],
                                          inside=50)
        self.assertGreater(len(addrs), 1500)
        n = self.compare(port, proc, addrs, skip_multi=False, normalise=zone_normalise)
        self.assertEqual(n, len(addrs))

    def test_exceptions_inside_a_wildcard(self):
        self.ctl_ok("add", "192.0.2.0/24", "--code", "127.0.0.10")
        self.ctl_ok("allow", "192.0.2.1")
        self.ctl_ok("add", "198.51.100.0/25")
        names = {}
        for line in self.export_zone().out.splitlines():
            if line.startswith(";") or not line.strip():
                continue
            owner, ttl, cls, rtype, data = line.split(None, 4)
            names.setdefault(owner, []).append((rtype, data))
        self.assertEqual(names["*.2.0.192.bl.example."][0], ("A", "127.0.0.10"))
        self.assertEqual(names["1.2.0.192.bl.example."], [("HINFO", '"dnsbl" "not listed"')])
        hosts = [o for o in names if o.endswith(".100.51.198.bl.example.")]
        self.assertEqual(len(hosts), 128)  # a /25: below the last label, one name each


# Fields of show --json that `export --format csv` does not carry back:
# none. (The evidence trail, which show prints only with --evidence, is
# not exported: doc/formats.md 5.)
CSV_LOST = set()


class TestCsvExport(ExportTestCase):
    def random_store(self, rnd):
        """Imported trie data with codes, TTLs, TXT templates and
        exclusions, a second list over some of it, then operator listings
        with codes, expiries, reasons and who, allows and delistings, some
        over the imported data; evidence from several sources over 40 days
        (complaints whose mail failed SPF, DKIM or DMARC, traps, volume),
        ARF reports, SNDS data and status rows; removals of whole entries
        and of one dataset's part, whose operator history stays."""
        lines = ["$TTL %d" % rnd.choice((300, 1800, 3600))]
        nets = []
        for _ in range(40):
            plen = rnd.choice((16, 20, 24, 28, 32))
            net = ipaddress.ip_network("10.%d.%d.%d/%d" % (rnd.randrange(4), rnd.randrange(256),
                                                           rnd.randrange(256), plen),
                                       strict=False)
            nets.append(net)
            if rnd.random() < 0.2:
                lines.append("!%s" % net)
            elif rnd.random() < 0.2:
                lines.append("%s :127.0.0.%d:" % (net, rnd.randrange(2, 30)))  # no TXT
            else:
                lines.append("%s :127.0.0.%d:Listed, \"really\", see $ %d" %
                             (net, rnd.randrange(2, 30), rnd.randrange(1000)))
        data = self.write("data.ip4trie", "\n".join(lines) + "\n")
        r = self.ctl("import", "--format", "rbldnsd:ip4trie", "--zone", ZONE, data)
        self.assertEqual(r.rc, 0, r.err)
        drop = self.write("drop.txt", "".join("%s ; SBL%d\n" % (n, i)
                                              for i, n in enumerate(rnd.sample(nets, 8))))
        self.ctl_ok("import", "--format", "list", "--source", "drop", drop)
        hosts = ["172.16.%d.%d" % (rnd.randrange(256), rnd.randrange(256)) for _ in range(15)]
        hosts += ["2001:db8:%x::%x" % (rnd.randrange(16), rnd.randrange(65536)) for _ in range(5)]
        hosts += [str(rnd.choice(nets)[0]) for _ in range(5)]
        for feed in ("feed-a", "feed-b"):
            rows = ["address_or_prefix,kind,weight,time,reason,auth"]
            for k in range(60):
                day = rnd.randrange(40)
                kind = rnd.choice(("abuse", "fraud", "virus", "other", "not_spam",
                                   "auth_failure", "trap", "volume"))
                auth = ""
                if kind in ("abuse", "fraud", "virus") and rnd.random() < 0.5:
                    auth = "+".join(rnd.sample(("spf", "dkim", "dmarc"), rnd.randrange(1, 4)))
                weight = rnd.randrange(1, 5000) if kind == "volume" else rnd.randrange(1, 9)
                rows.append("%s,%s,%d,%d,row %d,%s" % (rnd.choice(hosts), kind, weight,
                                                       1748908800 - day * 86400 -
                                                       rnd.randrange(86400), k, auth))
            self.ctl_ok("import", "--format", "csv", "--source", feed,
                        self.write(feed + ".csv", "\n".join(rows) + "\n"))
        arf = os.path.join(FIXTURES, "arf")
        r = self.ctl("import", *sorted(os.path.join(arf, f) for f in os.listdir(arf)))
        self.assertIn(r.rc, (0, 1), r.err)  # the fixtures hold rejects on purpose
        snds = os.path.join(FIXTURES, "snds")
        for name in sorted(os.listdir(snds)):
            r = self.ctl("import", "--format", "snds", os.path.join(snds, name))
            self.assertIn(r.rc, (0, 1), r.err)
        added = []
        for k in range(25):
            net = rnd.choice(nets) if rnd.random() < 0.5 else ipaddress.ip_network(
                "172.16.%d.0/%d" % (rnd.randrange(256), rnd.choice((24, 26, 32))), strict=False)
            if rnd.random() < 0.3:
                net = ipaddress.ip_network(rnd.choice(hosts))
            roll = rnd.random()
            args = ["--reason", "op %d, \"quoted\"" % k] if rnd.random() < 0.7 else []
            args += ["--by", rnd.choice(("alice", "bob", "carol"))]
            if roll < 0.5:
                args += ["--code", "127.0.0.%d" % rnd.randrange(2, 40)]
                if rnd.random() < 0.4:
                    args += ["--expires", "%dd" % rnd.randrange(1, 90)]
                self.ctl_ok("add", str(net), "--force", *args)
                added.append(net)
            elif roll < 0.8:
                if rnd.random() < 0.4:
                    args += ["--expires", "%dh" % rnd.randrange(1, 500)]
                self.ctl_ok("allow", str(net), "--force", *args)
            elif added:
                self.ctl("delist", str(rnd.choice(added)), *args)
        # Removals: the operator history outlives the entry.
        for net in rnd.sample(added, min(3, len(added))):
            self.ctl("remove", str(net), "--by", "dave", "--reason", "gone")
        for net in rnd.sample(nets, 3):
            self.ctl("remove", str(net), "--dataset", "bl.example", "--by", "erin")

    def view(self, db, addrs):
        """list --json, and show --json of addrs, without CSV_LOST."""
        listing = json.loads(self.ctl_ok("list", "--json", db=db).out)
        shows = {}
        for a in addrs:
            doc = json.loads(self.ctl_ok("show", str(a), "--json", db=db).out)
            shows[str(a)] = {k: v for k, v in doc.items() if k not in CSV_LOST}
        return listing, shows

    def test_csv_round_trips_entries(self):
        for seed in (1, 2):
            with self.subTest(seed=seed):
                self.db = os.path.join(self.tmp, "db%d" % seed)
                self.ctl_ok("init", self.db)
                rnd = random.Random(seed)
                self.random_store(rnd)
                out = self.path("export%d.csv" % seed)
                self.ctl_ok("export", "--format", "csv", "--output", out)
                other = os.path.join(self.tmp, "other%d" % seed)
                self.ctl_ok("init", other)
                r = self.ctl("import", out, db=other)
                self.assertEqual(r.rc, 0, r.err)
                # Each entry's first address, and one more inside; and the
                # addresses whose entry was removed (their history stays).
                addrs = [n.network_address for n in self.prefixes()]
                addrs += [n[rnd.randrange(n.num_addresses)] for n in self.prefixes()]
                with open(out) as f:
                    addrs += sorted({line.split(",")[0].split("/")[0] for line in f
                                     if ",oplog," in line})
                self.assertGreater(len(addrs), 100)
                want = self.view(self.db, addrs)
                self.assertEqual(self.view(other, addrs), want)
                # What the comparison covers, so a store that lost it all
                # cannot pass: evidence, SNDS, history of removed entries.
                shows = want[1].values()
                self.assertTrue(any(d["counts"]["abuse"] for d in shows))
                self.assertTrue(any(d["auth_failures"]["dmarc"] for d in shows))
                self.assertTrue(any(d["snds"] for d in shows))
                self.assertTrue(any(len(d["sources"]) > 2 for d in shows))
                self.assertTrue(any(not d["known"] and d["operator_history"] for d in shows))
                # Imported again, the export changes nothing: its evidence
                # and history count once.
                r = self.ctl("import", out, db=other)
                self.assertEqual(r.rc, 0, r.err)
                self.assertEqual(self.view(other, addrs), want)

    def test_csv_streams_an_empty_store(self):
        out = self.ctl_ok("export", "--format", "csv").out
        self.assertEqual(out, "address_or_prefix,kind,weight,time,reason,code,expires,ttl,txt,"
                              "dataset,source,by,action,auth,snds\n")
