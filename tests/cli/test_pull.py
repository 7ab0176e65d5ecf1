"""dnsblctl pull: a real Knot (knotd, Debian package knot) on loopback is
the primary of a DNSBL-style zone (wildcards, hosts, an exclusion, IPv6,
A 127.0.0.x with TXT); dnsblctl pulls it by AXFR, then by IXFR after the
zone changes (Knot keeps the differences in its journal), with and
without TSIG; failures (wrong key, unreachable primary, an empty zone)
leave the old data; past the SOA expire the listings are withdrawn. After
a pull a real dnsbld on the store answers the pulled listings and not
the exclusions. Each test has its own Knot, config and zone file in a
temporary directory."""

import json
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import dns.exception
import dns.message
import dns.name
import dns.tsig
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset

from ctlhelp import CtlTestCase, run_ctl
from dnsbltest import Server, txt_strings

KNOTD = shutil.which("knotd") or "/usr/sbin/knotd"
KNOTC = shutil.which("knotc") or "/usr/sbin/knotc"
KEY = "c2VjcmV0LWtleS1mb3ItdHNpZy10ZXN0cy0xMjM0NTY="
OTHER_KEY = "b3RoZXItc2VjcmV0LWtleS1mb3ItdGVzdHMtOTg3NjU="
ZONE = "bl.example"
KEYRING = {dns.name.from_text("xfr."): dns.tsig.Key("xfr.", KEY, "hmac-sha256")}
SUMMARY = re.compile(r"^zone bl\.example: serial (\S+) -> (\d+) \((AXFR|IXFR)\), records (\d+), "
                     r"added (\d+), removed (\d+), changed (\d+), not addresses \d+, bytes (\d+), "
                     r"seconds [\d.]+$")

# Serial 1: the zone as a DNSBL publishes it.
V1 = """
*.2.0.192 IN A 127.0.0.2
*.2.0.192 IN TXT "listed: see https://bl.example/lookup"
7.2.0.192 IN HINFO "dnsbl" "not listed"
9.113.0.203 IN A 127.0.0.3
9.113.0.203 IN TXT "host listed"
*.10 IN A 127.0.0.4
*.51.198 IN A 127.0.0.2
*.8.b.d.0.1.0.0.2 IN A 127.0.0.2
*.8.b.d.0.1.0.0.2 IN TXT "v6 net"
"""
# 3001::1, a /128 host: its 32 nibbles, last first.
V1 += ".".join(reversed("30010000000000000000000000000001")) + " IN A 127.0.0.9\n"
# Serial 2: a host's code changes, 10/8 leaves, 100.64/16 comes.
V2 = V1.replace("9.113.0.203 IN A 127.0.0.3", "9.113.0.203 IN A 127.0.0.5") \
       .replace("*.10 IN A 127.0.0.4\n", "") + "*.64.100 IN A 127.0.0.6\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port():
    """A loopback port nothing listens on (bound, never listening)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


class Knot:
    """One knotd serving ZONE from a zone file in its own directory."""

    def __init__(self, d, records, serial=1, tsig=False, expire=86400):
        self.d = d
        self.port = free_port()
        self.expire = expire
        self.zonefile = os.path.join(d, "bl.example.zone")
        self.conf = os.path.join(d, "knot.conf")
        self.write_zone(records, serial)
        key = ("key:\n  - id: xfr\n    algorithm: hmac-sha256\n    secret: %s\n" % KEY) if tsig else ""
        acl_key = "    key: xfr\n" if tsig else ""
        with open(self.conf, "w") as f:
            f.write("server:\n    listen: 127.0.0.1@%d\n    rundir: %s\n" % (self.port, d)
                    + key
                    + "acl:\n  - id: xfr_acl\n    address: 127.0.0.0/8\n    action: transfer\n"
                    + acl_key
                    + "database:\n    storage: %s\n" % d
                    + "log:\n  - target: stderr\n    any: info\n"
                    + "zone:\n  - domain: %s\n    file: %s\n    acl: xfr_acl\n" % (ZONE, self.zonefile)
                    + "    zonefile-load: difference\n    journal-content: changes\n"
                    + "    semantic-checks: off\n")
        self.log = open(os.path.join(d, "knotd.log"), "w")
        self.proc = subprocess.Popen([KNOTD, "-c", self.conf], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.wait_serial(serial)

    def write_zone(self, records, serial):
        with open(self.zonefile, "w") as f:
            f.write("$ORIGIN %s.\n$TTL 300\n" % ZONE)
            f.write("@ IN SOA ns.bl.example. hostmaster.bl.example. %d 300 60 %d 300\n"
                    % (serial, self.expire))
            f.write("@ IN NS ns.example.\n@ IN TXT \"apex text\"\n")
            f.write(records)

    def soa_serial(self):
        q = dns.message.make_query(ZONE, "SOA")
        try:
            r = dns.query.tcp(q, "127.0.0.1", port=self.port, timeout=1)
        except (OSError, dns.exception.DNSException):
            return None
        for rrset in r.answer:
            if rrset.rdtype == dns.rdatatype.SOA:
                return rrset[0].serial
        return None

    def wait_serial(self, serial, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("knotd exited: %s" % open(self.log.name).read())
            if self.soa_serial() == serial:
                return
            time.sleep(0.05)
        raise AssertionError("knotd does not serve serial %d: %s" % (serial, open(self.log.name).read()))

    def change(self, records, serial):
        self.write_zone(records, serial)
        subprocess.run([KNOTC, "-c", self.conf, "zone-reload", ZONE], check=True,
                       capture_output=True, timeout=10)
        self.wait_serial(serial)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@unittest.skipUnless(os.path.exists(KNOTD), "knotd (Debian package knot) is not installed")
class TestPull(CtlTestCase):
    def start_knot(self, records=V1, **kw):
        d = tempfile.mkdtemp(prefix="knot-", dir=self.tmp)
        k = Knot(d, records, **kw)
        self.addCleanup(k.stop)
        return k

    def pull(self, knot_or_port, *extra, rc=0, now=None):
        port = knot_or_port if isinstance(knot_or_port, int) else knot_or_port.port
        r = self.ctl("pull", ZONE, "--from", "127.0.0.1:%d" % port, "--timeout", "5", *extra,
                     now=now or self.now)
        self.assertEqual(r.rc, rc, "pull: out %r err %r" % (r.out, r.err))
        if rc == 0:
            m = SUMMARY.match(r.out.strip())
            self.assertIsNotNone(m, r.out)
            return dict(zip(("from", "to", "how", "records", "added", "removed", "changed",
                             "bytes"), m.groups()))
        self.assertEqual(r.out, "")
        return r.err

    def listing(self):
        rows = json.loads(self.ctl_ok("list", "--json", "--dataset", ZONE).out)
        return {r["prefix"]: (r["zones"][0]["listed"], r["code"]) for r in rows}

    WANT_V1 = {"192.0.2.0/24", "192.0.2.7", "203.0.113.9", "10.0.0.0/8", "198.51.0.0/16",
               "2001:db8::/32", "3001::1"}

    def test_axfr_then_ixfr(self):
        knot = self.start_knot()
        s = self.pull(knot)
        self.assertEqual((s["from"], s["to"], s["how"]), ("none", "1", "AXFR"))
        self.assertEqual(s["added"], "7")
        got = self.listing()
        self.assertEqual(set(got), self.WANT_V1)
        self.assertFalse(got["192.0.2.7"][0])  # the HINFO: an exclusion
        self.assertTrue(got["192.0.2.0/24"][0])
        axfr_bytes = int(s["bytes"])
        # Nothing changed: the current SOA only.
        r = self.ctl_ok("pull", ZONE, "--from", "127.0.0.1:%d" % knot.port)
        self.assertIn("serial 1, up to date (IXFR)", r.out)

        knot.change(V2, 2)
        s = self.pull(knot)
        self.assertEqual((s["from"], s["to"], s["how"]), ("1", "2", "IXFR"))
        self.assertEqual((s["added"], s["removed"]), ("2", "1"))
        self.assertLess(int(s["bytes"]), axfr_bytes)  # only the difference came
        got = self.listing()
        self.assertEqual(set(got), self.WANT_V1 - {"10.0.0.0/8"} | {"100.64.0.0/16"})
        show = self.show_json("203.0.113.9")
        self.assertTrue(show["listed"])
        self.assertEqual(show["code"], "127.0.0.5")
        # The TXT the difference did not touch stays.
        self.assertIn("host listed", json.dumps(show))
        # The pull is in the imports log.
        imports = json.loads(self.ctl_ok("imports", "--json").out)
        self.assertEqual([i["format"] for i in imports], ["axfr", "ixfr"])
        self.ctl_ok("check")
        # Undoing the IXFR takes the data back to serial 1: the next pull
        # cannot build on serial 2 and takes the whole zone again.
        self.ctl_ok("undo", str(imports[1]["id"]))
        self.assertEqual(self.show_json("203.0.113.9")["code"], "127.0.0.3")
        s = self.pull(knot)
        self.assertEqual((s["from"], s["to"], s["how"]), ("none", "2", "AXFR"))
        self.assertEqual(self.show_json("203.0.113.9")["code"], "127.0.0.5")
        got = self.listing()
        self.assertEqual(set(got), self.WANT_V1 - {"10.0.0.0/8"} | {"100.64.0.0/16"})

        # A real dnsbld on the store answers what was pulled.
        conf = os.path.join(self.tmp, "dnsbld.conf")
        with open(conf, "w") as f:
            f.write('db = "%s"\nworkers = 1\nzone "%s" {\n    datasets = {"%s"}\n}\n'
                    % (self.db, ZONE, ZONE))
        with Server(["--config", conf, "--now", self.now]) as srv:
            r = srv.query("3.2.0.192.%s" % ZONE)
            self.assertEqual([rr.to_text() for rr in r.answer[0]], ["127.0.0.2"])
            r = srv.query("3.2.0.192.%s" % ZONE, "TXT")
            self.assertEqual(txt_strings(r.answer[0]), ["listed: see https://bl.example/lookup"])
            r = srv.query("9.113.0.203.%s" % ZONE)
            self.assertEqual([rr.to_text() for rr in r.answer[0]], ["127.0.0.5"])
            r = srv.query("9.113.0.203.%s" % ZONE, "TXT")
            self.assertEqual(txt_strings(r.answer[0]), ["host listed"])
            r = srv.query("1.0.64.100.%s" % ZONE)
            self.assertEqual([rr.to_text() for rr in r.answer[0]], ["127.0.0.6"])
            v6 = ".".join(reversed("20010db8000000000000000000000001")) + "." + ZONE
            r = srv.query(v6)
            self.assertEqual([rr.to_text() for rr in r.answer[0]], ["127.0.0.2"])
            # the exclusion inside the wildcard, and what left: not listed
            for name in ("7.2.0.192", "1.0.0.10"):
                r = srv.query("%s.%s" % (name, ZONE))
                self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN, name)

    # 5,000 more hosts: the AXFR spans several messages, each signed on
    # the one before (RFC 8945 5.3.1).
    MANY = "".join("%d.%d.51.198 IN A 127.0.0.2\n" % (i % 250, 100 + i // 250) for i in range(5000))

    def test_tsig(self):
        knot = self.start_knot(V1 + self.MANY, tsig=True)
        s = self.pull(knot, "--tsig", "hmac-sha256:xfr:" + KEY)
        self.assertEqual(s["how"], "AXFR")
        self.assertEqual(s["added"], "5007")
        self.assertGreater(int(s["bytes"]), 65535)
        before = self.listing()
        knot.change(V2 + self.MANY, 2)
        err = self.pull(knot, "--tsig", "hmac-sha256:xfr:" + OTHER_KEY, rc=1)
        self.assertIn("pull bl.example from 127.0.0.1:%d: message 1: bad TSIG (key xfr): BADSIG"
                      % knot.port, err)
        self.assertIn("the old data stays", err)
        self.assertNotIn(OTHER_KEY, err)
        err = self.pull(knot, rc=1)  # no key: Knot refuses
        self.assertIn("NOTAUTH", err)
        self.assertEqual(self.listing(), before)
        keyfile = os.path.join(self.tmp, "xfr.key")
        with open(keyfile, "w") as f:
            f.write("xfr:%s\n" % KEY)  # the algorithm defaults to hmac-sha256
        s = self.pull(knot, "--tsig-file", keyfile)
        self.assertEqual((s["from"], s["to"], s["how"]), ("1", "2", "IXFR"))
        r = self.ctl("pull", ZONE, "--from", "127.0.0.1:%d" % knot.port, "--tsig", "xfr:***")
        self.assertEqual(r.rc, 2)
        self.assertIn("--tsig: TSIG key 'xfr': the secret is not base64", r.err)

    def test_unreachable_and_expiry(self):
        knot = self.start_knot(expire=3600)
        self.pull(knot)
        before = self.listing()
        knot.stop()
        sock, port = closed_port()
        self.addCleanup(sock.close)
        err = self.pull(port, rc=1)
        self.assertIn("pull bl.example from 127.0.0.1:%d: connect: Connection refused" % port, err)
        self.assertEqual(self.listing(), before)
        # Within the SOA expire (3600 s) the data stays; past it, it goes.
        err = self.pull(port, rc=1, now="2026-11-27T12:59:00Z")
        self.assertNotIn("expired", err)
        self.assertEqual(self.listing(), before)
        err = self.pull(port, rc=1, now="2026-11-27T13:00:01Z")
        self.assertIn("zone bl.example expired", err)
        self.assertIn("7 listings of dataset bl.example withdrawn", err)
        self.assertIn("Connection refused", err)
        self.assertEqual(self.listing(), {})

    def test_if_due(self):
        """--if-due follows the SOA: refresh (300 s) after a success,
        retry (60 s) after a failure."""
        knot = self.start_knot()
        self.pull(knot)  # at 12:00:00
        r = self.ctl("pull", ZONE, "--from", "127.0.0.1:%d" % knot.port, "--if-due",
                     now="2026-11-27T12:01:40Z")
        self.assertEqual(r.rc, 0, r.err)
        self.assertEqual(r.out, "zone bl.example: serial 1, next pull due in 200 s "
                                "(SOA refresh 300 s)\n")
        knot.change(V2, 2)
        s = self.pull(knot, "--if-due", now="2026-11-27T12:05:00Z")
        self.assertEqual((s["from"], s["to"], s["how"]), ("1", "2", "IXFR"))
        knot.stop()
        sock, port = closed_port()
        self.addCleanup(sock.close)
        self.pull(port, "--if-due", rc=1, now="2026-11-27T12:10:00Z")
        r = self.ctl("pull", ZONE, "--from", "127.0.0.1:%d" % port, "--if-due",
                     now="2026-11-27T12:10:30Z")
        self.assertEqual(r.rc, 0, r.err)
        self.assertIn("next pull due in 30 s (SOA retry 60 s)", r.out)
        self.pull(port, "--if-due", rc=1, now="2026-11-27T12:11:00Z")

    def test_empty_zone_refused(self):
        knot = self.start_knot()
        self.pull(knot)
        before = self.listing()
        knot.change("", 2)
        err = self.pull(knot, "--axfr", rc=1)
        self.assertIn("holds no listing", err)
        self.assertEqual(self.listing(), before)
        s = self.pull(knot, "--axfr", "--allow-empty")
        self.assertEqual(s["removed"], "7")
        self.assertEqual(self.listing(), {})

    def test_timeout(self):
        # A listener that accepts and never answers.
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        self.addCleanup(srv.close)
        t0 = time.monotonic()
        r = self.ctl("pull", ZONE, "--from", "127.0.0.1:%d" % srv.getsockname()[1],
                     "--timeout", "1")
        self.assertEqual(r.rc, 1)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertIn("timed out after 1 s waiting for message 1", r.err)


class FakePrimary:
    """A loopback TCP primary written here, for what Knot will not send:
    answer(query) returns the messages (dns.message) of one exchange."""

    def __init__(self, answer, v6=False):
        self.answer = answer
        self.queries = []
        self.sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET)
        self.sock.bind(("::1" if v6 else "127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            with conn:
                conn.settimeout(5)
                try:
                    n = struct.unpack(">H", conn.recv(2, socket.MSG_WAITALL))[0]
                    # dnspython checks the TSIG of a signed request
                    q = dns.message.from_wire(conn.recv(n, socket.MSG_WAITALL), keyring=KEYRING)
                    self.queries.append(q)
                    ctx = None
                    for m in self.answer(q):
                        m.id = q.id
                        if m.tsig is None:
                            w = m.to_wire()
                        else:  # each signed on the one before (RFC 8945 5.3.1)
                            w = m.to_wire(multi=True, tsig_ctx=ctx)
                            ctx = m.tsig_ctx
                        conn.sendall(struct.pack(">H", len(w)) + w)
                except (OSError, struct.error, dns.exception.DNSException):
                    pass

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


def rr_message(q, records, rcode=0, sign=True):
    m = dns.message.make_response(q)
    if not sign:
        m.tsig = None
    m.set_rcode(rcode)
    for text in records:
        name, ttl, cls, typ, rdata = text.split(None, 4)
        m.answer.append(dns.rrset.from_text(name, int(ttl), cls, typ, rdata))
    return m


def soa(serial):
    return "bl.example. 300 IN SOA ns.bl.example. h.bl.example. %d 300 60 3600 300" % serial


class TestPullStreams(CtlTestCase):
    """Streams a real primary would not send: each fails naming the
    message and record, and the old data stays."""

    def primary(self, answer, v6=False):
        p = FakePrimary(answer, v6)
        self.addCleanup(p.stop)
        return p

    def pull(self, p, rc):
        r = self.ctl("pull", ZONE, "--from", "127.0.0.1:%d" % p.port, "--timeout", "5")
        self.assertEqual(r.rc, rc, r.err)
        return r

    def good(self, q):
        return [rr_message(q, [soa(5), "*.2.0.192.bl.example. 300 IN A 127.0.0.2"]),
                rr_message(q, ["9.113.0.203.bl.example. 300 IN A 127.0.0.3", soa(5)])]

    def test_ixfr_refused_falls_back_to_axfr(self):
        def answer(q):
            if q.question[0].rdtype == dns.rdatatype.IXFR:
                return [rr_message(q, [], rcode=dns.rcode.NOTIMP)]
            return self.good(q)
        p = self.primary(answer)
        self.assertIn("(AXFR)", self.pull(p, 0).out)
        r = self.pull(p, 0)
        self.assertIn("serial 5 -> 5 (AXFR)", r.out)
        self.assertEqual([q.question[0].rdtype for q in p.queries],
                         [dns.rdatatype.AXFR, dns.rdatatype.IXFR, dns.rdatatype.AXFR])
        # the IXFR asked from the serial applied (RFC 1995 3)
        self.assertEqual(p.queries[1].authority[0][0].serial, 5)

    def test_tsig_stream_signed_by_dnspython(self):
        # dnspython, another TSIG implementation, signs a 3-message AXFR.
        def answer(q):
            return [rr_message(q, [soa(5), "*.2.0.192.bl.example. 300 IN A 127.0.0.2"]),
                    rr_message(q, ["*.3.0.192.bl.example. 300 IN A 127.0.0.2"]),
                    rr_message(q, ["9.113.0.203.bl.example. 300 IN A 127.0.0.3", soa(5)])]
        p = self.primary(answer)
        r = self.ctl("pull", ZONE, "--from", "127.0.0.1:%d" % p.port, "--tsig", "xfr:" + KEY)
        self.assertEqual(r.rc, 0, r.err)
        self.assertIn("(AXFR), records 5, added 3", r.out)
        # the same stream under another key fails at the first message
        r = self.ctl("pull", ZONE, "--from", "127.0.0.1:%d" % p.port, "--axfr",
                     "--tsig", "xfr:" + OTHER_KEY)
        self.assertEqual(r.rc, 1)
        self.assertEqual(len(p.queries), 1)  # dnspython refused the request: no answer
        self.assertIn("closed the connection", r.err)

    def test_ipv6_primary(self):
        p = self.primary(self.good, v6=True)
        r = self.ctl("pull", ZONE, "--from", "[::1]:%d" % p.port)
        self.assertEqual(r.rc, 0, r.err)
        self.assertIn("serial none -> 5 (AXFR)", r.out)

    def test_unsigned_refusal_is_named(self):
        p = self.primary(lambda q: [rr_message(q, [], rcode=dns.rcode.REFUSED, sign=False)])
        r = self.ctl("pull", ZONE, "--from", "127.0.0.1:%d" % p.port, "--tsig", "xfr:" + KEY)
        self.assertEqual(r.rc, 1)
        self.assertIn("message 1: the primary answered REFUSED", r.err)
        # a signed request went out
        self.assertTrue(p.queries[0].had_tsig)

    def test_malformed_streams_keep_the_old_data(self):
        p = self.primary(self.good)
        self.pull(p, 0)
        before = self.ctl_ok("list").out
        bad = {
            "message 2: the last SOA has serial 6, the first 5":
                lambda q: [rr_message(q, [soa(5), "*.3.0.192.bl.example. 300 IN A 127.0.0.2"]),
                           rr_message(q, [soa(6)])],
            "message 1: record 2: 'x.other.example.' is outside the zone":
                lambda q: [rr_message(q, [soa(6), "x.other.example. 300 IN A 127.0.0.2", soa(6)])],
            "message 2: record 1: '1.300.bl.example.' does not map to an address":
                lambda q: [rr_message(q, [soa(6)]),
                           rr_message(q, ["1.300.bl.example. 300 IN A 127.0.0.2", soa(6)])],
            "message 1: serial going backwards: the primary has 4, we have 5":
                lambda q: [rr_message(q, [soa(4), "*.3.0.192.bl.example. 300 IN A 127.0.0.2",
                                          soa(4)])],
            "message 1: record 1: the transfer does not start with the zone's SOA":
                lambda q: [rr_message(q, ["*.3.0.192.bl.example. 300 IN A 127.0.0.2"])],
            "message 2: the primary closed the connection before the transfer ended":
                lambda q: [rr_message(q, [soa(6), "*.3.0.192.bl.example. 300 IN A 127.0.0.2"])],
        }
        for want, answer in bad.items():
            p.answer = answer
            r = self.pull(p, 1)
            self.assertIn("pull bl.example from 127.0.0.1:%d: %s" % (p.port, want), r.err)
            self.assertIn("the old data stays", r.err)
            self.assertEqual(self.ctl_ok("list").out, before, want)
        self.ctl_ok("check")

if __name__ == "__main__":
    unittest.main()
