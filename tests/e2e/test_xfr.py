"""Zone transfers out of dnsbld (README, "Zone transfers"): AXFR and IXFR
over TCP from the view `dnsblctl publish` stores, IXFR over UDP, the SOA
serial, refusals (allow_transfer, transfer_key) and their log lines, NOTIFY
with retries, malformed requests, and a 100,000-entry zone streamed while
UDP queries go on being answered."""

import base64
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
import unittest

import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.tsigkeyring
import dns.zone

from dnsbltest import (DNSBLCTL, Server, ctl_ok, frame, make_query, make_store, parse,
                       recv_frame, tmpdir, v4name)

KDIG = shutil.which("kdig")
DIG = shutil.which("dig")
SECRET = base64.b64encode(b"transfer-secret-of-32-bytes-long").decode()
WRONG = base64.b64encode(b"another-secret-of-32-bytes-long!").decode()
NOTIFY_WITHIN = 1.5  # the serial poll is 500 ms; a publish takes a few ms


def soa_rrset(zone, serial):
    return dns.rrset.from_text(zone + ".", 0, "IN", "SOA",
                               "ns.%s. hostmaster.%s. %d 1 1 1 1" % (zone, zone, serial))


def xfr_query(zone, rdtype="AXFR", serial=None, edns=None):
    q = make_query(zone, rdtype, edns=edns)
    if serial is not None:
        q.authority.append(soa_rrset(zone, serial))
    return q


def parse_xfr(wire):
    """A transfer message, each record on its own (the two SOA of an AXFR
    in one message are one RRset to dnspython otherwise)."""
    return dns.message.from_wire(wire, one_rr_per_rrset=True, raise_on_truncation=False)


def read_stream(sock, timeout=10.0):
    """The messages of one transfer: until a message ends with the SOA the
    first one began with (or one message with a non-zero rcode or a lone
    SOA). Returns (messages, records as (name, ttl, type, rdata text))."""
    msgs, records = [], []
    first_serial = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        wire = recv_frame(sock, timeout=deadline - time.monotonic())
        if wire is None:
            raise AssertionError("the stream stopped after %d messages" % len(msgs))
        m = parse_xfr(wire)
        msgs.append(m)
        if m.rcode() != dns.rcode.NOERROR:
            return msgs, records
        for rrset in m.answer:
            for rd in rrset:
                records.append((rrset.name.to_text().lower(), rrset.ttl,
                                dns.rdatatype.to_text(rrset.rdtype), rd.to_text()))
        if not records or records[0][2] != "SOA":
            raise AssertionError("the first record is no SOA: %r" % (records[:1],))
        if first_serial is None:
            first_serial = records[0][3].split()[2]
        last = records[-1]
        if len(records) == 1:  # IXFR of a current client: the SOA alone
            return msgs, records
        if len(records) > 1 and last[2] == "SOA" and last[3].split()[2] == first_serial:
            return msgs, records
    raise AssertionError("the stream did not end within %.0f s" % timeout)


def transfer(srv, q, v6=False, timeout=10.0):
    with srv.tcp_connect(v6, timeout=timeout) as s:
        s.sendall(frame(q.to_wire()))
        return read_stream(s, timeout)


def serial_of(srv, zone):
    r = srv.query(zone, "SOA")
    return r.answer[0][0].serial


def export_records(db, zone, config):
    out = ctl_ok("export", "--format", "zone", "--zone", zone, "--zone-config", config, db=db)
    recs = set()
    for line in out.splitlines():
        if not line or line.startswith(";"):
            continue
        name, ttl, _cls, rtype, rdata = line.split(None, 4)
        if rtype == "SOA":
            continue
        rr = dns.rrset.from_text(name, int(ttl), "IN", rtype, rdata)
        recs.add((name.lower(), int(ttl), rtype, rr[0].to_text()))
    return recs


class Listener:
    """A UDP socket on 127.0.0.1 that records NOTIFY messages and, when
    answer is set, acknowledges each (RFC 1996 4.7)."""

    def __init__(self, answer):
        self.answer = answer
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.got = []  # (monotonic time, dns.message)
        self.lock = threading.Lock()
        self._stop = False
        self._th = threading.Thread(target=self._run, daemon=True)
        self._th.start()

    def _run(self):
        self.sock.settimeout(0.2)
        deadline = time.monotonic() + 120
        while not self._stop and time.monotonic() < deadline:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                # The zones' key: a signed NOTIFY is checked as it is parsed.
                m = dns.message.from_wire(data, ignore_trailing=True, keyring=(
                    dns.tsigkeyring.from_text({"xfr.": ("hmac-sha256", SECRET)})))
            except Exception:
                m = None
            with self.lock:
                self.got.append((time.monotonic(), m, data))
            if self.answer and m is not None:
                r = dns.message.make_response(m)
                self.sock.sendto(r.to_wire(), peer)

    def messages(self):
        with self.lock:
            return list(self.got)

    def close(self):
        self._stop = True
        self._th.join(2)
        self.sock.close()


class XfrTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.acked = Listener(answer=True)
        cls.silent = Listener(answer=False)
        cls.db = make_store([("add", "192.0.2.0/24", "--reason", "spam"),
                             ("add", "198.51.100.7", "--reason", "one host"),
                             ("add", "2001:db8:1::/48", "--reason", "v6 net"),
                             ("allow", "192.0.2.9", "--reason", "a good host")])
        d = tmpdir("dnsbl-xfr-")
        cls.config = os.path.join(d, "dnsbld.conf")
        with open(cls.config, "w") as f:
            f.write("""db = "%s"
key "xfr" { algorithm = "hmac-sha256"  secret = "%s" }
zone "bl.example" {
    allow_transfer = {"127.0.0.0/8", "::1/128"}
    notify = {"127.0.0.1:%d"}
}
zone "signed.example" {
    allow_transfer = {"127.0.0.0/8"}
    transfer_key = "xfr"
    notify = {"127.0.0.1:%d"}
}
zone "tight.example" { allow_transfer = {"10.0.0.0/8", "2001:db8::/32"} }
zone "closed.example" { }
""" % (cls.db, SECRET, cls.acked.port, cls.silent.port))
        ctl_ok("publish", "--config", cls.config, db=cls.db)
        cls.srv = Server(["-c", cls.config, "--workers", "2"])
        cls.start_serial = serial_of(cls.srv, "bl.example")

    @classmethod
    def tearDownClass(cls):
        cls.acked.close()
        cls.silent.close()
        cls.srv.stop_clean()  # exit status 0, no sanitizer report

    def wait_serial(self, zone, old, timeout=3.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = serial_of(self.srv, zone)
            if s != old:
                return s
            time.sleep(0.05)
        self.fail("the serial of %s stayed %d" % (zone, old))

    def test_axfr_carries_the_published_set(self):
        for v6 in (False, True):
            msgs, recs = transfer(self.srv, xfr_query("bl.example"), v6=v6)
            self.assertEqual(msgs[0].rcode(), dns.rcode.NOERROR)
            self.assertTrue(msgs[0].flags & dns.flags.AA)
            serial = serial_of(self.srv, "bl.example")
            self.assertEqual(recs[0][2], "SOA")
            self.assertEqual(recs[-1], recs[0])
            self.assertEqual(int(recs[0][3].split()[2]), serial)
            body = set(recs[1:-1])
            self.assertEqual(len(body), len(recs) - 2, "a record sent twice")
            self.assertEqual(body, export_records(self.db, "bl.example", self.config))
            names = {r[0] for r in body}
            self.assertIn("*.2.0.192.bl.example.", names)
            self.assertIn("9.2.0.192.bl.example.", names)  # the allowed host, explicit

    def test_pipelined_and_half_closed(self):
        """A query after the AXFR on the same connection is answered after
        the stream; a client that half-closes still gets the whole zone."""
        with self.srv.tcp_connect() as s:
            s.sendall(frame(xfr_query("bl.example").to_wire()) +
                      frame(make_query(v4name("198.51.100.7"), "A", qid=4242).to_wire()))
            msgs, recs = read_stream(s)
            self.assertEqual(recs[-1][2], "SOA")
            r = parse(recv_frame(s, 3))
            self.assertEqual(r.id, 4242)
            self.assertEqual(r.answer[0][0].to_text(), "127.0.0.2")
        with self.srv.tcp_connect() as s:
            s.sendall(frame(xfr_query("bl.example").to_wire()))
            s.shutdown(socket.SHUT_WR)
            msgs, recs = read_stream(s)
            self.assertEqual(recs[-1], recs[0])

    def test_dnspython_and_dig_take_the_zone(self):
        z = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", "bl.example",
                                            port=self.srv.ports["127.0.0.1"], timeout=5))
        self.assertIn(dns.name.from_text("7.100.51.198", None), z.nodes)
        if DIG:
            out = subprocess.run([DIG, "@127.0.0.1", "-p", str(self.srv.ports["127.0.0.1"]),
                                  "AXFR", "bl.example"], capture_output=True, text=True,
                                 timeout=10).stdout
            self.assertIn("7.100.51.198.bl.example.", out)
            self.assertEqual(out.count("\tSOA\t"), 2, out)

    def test_soa_serial_is_the_published_serial(self):
        serial = serial_of(self.srv, "bl.example")
        out = ctl_ok("publish", "--zone", "bl.example", db=self.db)
        self.assertIn("serial %d" % serial, out)
        r = self.srv.query(v4name("203.0.113.200"), "A")  # NXDOMAIN with the SOA
        self.assertEqual(r.authority[0][0].serial, serial)
        # An unpublished zone keeps the zone file's serial.
        self.assertNotEqual(serial_of(self.srv, "closed.example"), 0)

    def test_ixfr_carries_only_the_change_then_notify(self):
        s1 = serial_of(self.srv, "bl.example")
        before_acked = len(self.acked.messages())
        before_silent = len(self.silent.messages())
        t0 = time.monotonic()
        ctl_ok("add", "203.0.113.77", "--reason", "new one", db=self.db)
        s2 = self.wait_serial("bl.example", s1)
        self.assertEqual(s2, (s1 + 1) & 0xffffffff)

        msgs, recs = transfer(self.srv, xfr_query("bl.example", "IXFR", serial=s1))
        types = [r[2] for r in recs]
        serials = [int(r[3].split()[2]) for r in recs if r[2] == "SOA"]
        self.assertEqual(serials, [s2, s1, s2, s2])
        added = [r for r in recs if r[2] != "SOA"]
        self.assertEqual({r[0] for r in added}, {"77.113.0.203.bl.example."})
        self.assertEqual(sorted(r[2] for r in added), ["A", "TXT"])
        self.assertEqual(types[1], "SOA")
        self.assertEqual(types[2], "SOA")  # nothing deleted

        # NOTIFY reached the acknowledging listener within a second or so.
        deadline = t0 + NOTIFY_WITHIN + 1
        while time.monotonic() < deadline and len(self.acked.messages()) <= before_acked:
            time.sleep(0.02)
        got = [g for g in self.acked.messages()[before_acked:] if g[1].answer[0][0].serial == s2]
        self.assertTrue(got, "no NOTIFY")
        when, m, _ = got[0]
        self.assertLess(when - t0, NOTIFY_WITHIN + 0.5)
        self.assertEqual(m.opcode(), dns.opcode.NOTIFY)
        self.assertTrue(m.flags & dns.flags.AA)
        self.assertEqual(m.question[0].rdtype, dns.rdatatype.SOA)
        self.assertEqual(m.answer[0][0].serial, s2)
        self.assertIsNotNone(self.srv.wait_log(r"notify: bl\.example serial %d acknowledged" % s2,
                                               3))
        # The signed zone's silent target is sent the NOTIFY again, 2 s
        # apart, with the same ID, signed with the zone's key.
        s2_signed = serial_of(self.srv, "signed.example")

        def silent_tries():
            return [g for g in self.silent.messages()[before_silent:]
                    if g[1] is not None and g[1].answer[0][0].serial == s2_signed]

        deadline = time.monotonic() + 6
        while time.monotonic() < deadline and len(silent_tries()) < 2:
            time.sleep(0.05)
        tries = silent_tries()
        self.assertGreaterEqual(len(tries), 2, self.srv.log())
        self.assertEqual(tries[0][2][:2], tries[1][2][:2])
        self.assertGreater(tries[1][0] - tries[0][0], 1.5)
        keyring = dns.tsigkeyring.from_text({"xfr.": ("hmac-sha256", SECRET)})
        m = dns.message.from_wire(tries[1][2], keyring=keyring)  # checks the MAC
        self.assertTrue(m.had_tsig)
        self.assertIsNotNone(self.srv.wait_log(r"notify: sent signed\.example serial \d+ to "
                                               r"127\.0\.0\.1:%d \(try 2 of 5\)" % self.silent.port,
                                               3))

        # An IXFR from a serial older than the journal: the whole zone.
        msgs, recs = transfer(self.srv, xfr_query("bl.example", "IXFR", serial=s1 - 1000))
        self.assertEqual(recs[0][2], "SOA")
        self.assertNotEqual(recs[1][2], "SOA")
        self.assertEqual(set(recs[1:-1]), export_records(self.db, "bl.example", self.config))
        # A current client: the SOA alone.
        msgs, recs = transfer(self.srv, xfr_query("bl.example", "IXFR", serial=s2))
        self.assertEqual(len(recs), 1)
        self.assertEqual(int(recs[0][3].split()[2]), s2)
        # The silent target: given up after 5 tries, 2 s apart, and said so.
        self.assertIsNotNone(self.srv.wait_log(
            r"notify: signed\.example serial \d+ to 127\.0\.0\.1:%d failed: no answer to 5 tries"
            % self.silent.port, 14), self.srv.log())
        self.assertEqual(len(silent_tries()), 5)

    def test_notify_at_start(self):
        """Once ready, dnsbld tells the secondaries the serial it serves:
        they may have missed one while it was down."""
        lines = self.srv.log().splitlines()
        ready = next(i for i, l in enumerate(lines) if "info: ready" in l)
        want = "notify: sent bl.example serial %d to 127.0.0.1:%d (try 1 of 5)" % (
            self.start_serial, self.acked.port)
        self.assertTrue(any(want in l for l in lines[ready:]), self.srv.log())

    def test_ixfr_over_udp(self):
        s = serial_of(self.srv, "bl.example")
        r = self.srv.exchange(xfr_query("bl.example", "IXFR", serial=s, edns=0))
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertFalse(r.flags & dns.flags.TC)
        self.assertEqual(len(r.answer), 1)
        self.assertEqual(r.answer[0][0].serial, s)
        self.assertEqual(r.edns, 0)
        r = self.srv.exchange(xfr_query("bl.example", "IXFR", serial=s - 1))
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertTrue(r.flags & dns.flags.TC)
        self.assertEqual(r.answer, [])
        # Signed with the zone's key: the SOA, signed (dnspython checks it).
        keyring = dns.tsigkeyring.from_text({"xfr.": ("hmac-sha256", SECRET)})
        s2 = serial_of(self.srv, "signed.example")
        q = xfr_query("signed.example", "IXFR", serial=s2)
        q.use_tsig(keyring, keyname="xfr.")
        wire = self.srv.raw_udp(q.to_wire())
        r = dns.message.from_wire(wire, keyring=keyring, request_mac=q.mac)
        self.assertTrue(r.had_tsig)
        self.assertEqual(r.answer[0][0].serial, s2)
        # A secondary's signed SOA query (BIND refreshes so): answered and
        # signed; a wrong key: NOTAUTH.
        for tcp in (False, True):
            q = make_query("signed.example", "SOA")
            q.use_tsig(keyring, keyname="xfr.")
            wire = (self.srv.raw_tcp if tcp else self.srv.raw_udp)(q.to_wire())
            r = dns.message.from_wire(wire, keyring=keyring, request_mac=q.mac)
            self.assertTrue(r.had_tsig)
            self.assertEqual(r.rcode(), dns.rcode.NOERROR)
            self.assertEqual(r.answer[0][0].serial, s2)
        q = make_query("signed.example", "SOA")
        q.use_tsig(dns.tsigkeyring.from_text({"xfr.": ("hmac-sha256", WRONG)}), keyname="xfr.")
        wire = self.srv.raw_udp(q.to_wire())
        self.assertEqual(wire[3] & 0x0f, dns.rcode.NOTAUTH)
        # Unsigned for that zone: REFUSED.
        r = self.srv.exchange(xfr_query("signed.example", "IXFR", serial=s2))
        self.assertEqual(r.rcode(), dns.rcode.REFUSED)
        # AXFR over UDP is no transfer (RFC 5936 4.2).
        r = self.srv.exchange(xfr_query("bl.example"))
        self.assertEqual(r.rcode(), dns.rcode.REFUSED)

    def assertRefused(self, zone, reason, rdtype="AXFR"):
        since = self.srv.mark()
        msgs, recs = transfer(self.srv, xfr_query(zone, rdtype, serial=1 if rdtype == "IXFR"
                                                  else None))
        self.assertEqual(len(msgs), 1)
        self.assertEqual(msgs[0].rcode(), dns.rcode.REFUSED)
        self.assertEqual(recs, [])
        line = self.srv.wait_log(r"xfr: refused %s of %s to 127\.0\.0\.1#\d+: %s"
                                 % (rdtype, zone.replace(".", r"\."), reason), 3, since=since)
        self.assertIsNotNone(line, self.srv.log())

    def test_refused_outside_allow_transfer(self):
        self.assertRefused("tight.example", "not in allow_transfer")
        self.assertRefused("tight.example", "not in allow_transfer", "IXFR")
        self.assertRefused("closed.example", "the zone has no allow_transfer")

    def test_transfer_key(self):
        self.assertRefused("signed.example", "not signed with transfer_key xfr")
        port = self.srv.ports["127.0.0.1"]

        def with_key(name, secret):
            keyring = dns.tsigkeyring.from_text({name: ("hmac-sha256", secret)})
            q = xfr_query("signed.example")
            q.use_tsig(keyring, keyname=name)
            with self.srv.tcp_connect() as s:
                s.sendall(frame(q.to_wire()))
                out = []
                while True:
                    w = recv_frame(s, 5)
                    if w is None:
                        return out
                    out.append(w)
                    if w[3] & 0x0f != 0 or struct.unpack("!H", w[6:8])[0] > 1:
                        return out

        since = self.srv.mark()
        for name, secret, err in (("xfr.", WRONG, "BADSIG"), ("other.", SECRET, "BADKEY")):
            wires = with_key(name, secret)
            self.assertEqual(len(wires), 1)
            self.assertEqual(wires[0][3] & 0x0f, dns.rcode.NOTAUTH)
            self.assertEqual(struct.unpack("!HHH", wires[0][6:12]), (0, 0, 1))  # the TSIG
            # dnspython reads the error in the TSIG record (RFC 8945 5.3.2).
            with self.assertRaises((dns.tsig.PeerBadSignature, dns.tsig.PeerBadKey)):
                dns.message.from_wire(wires[0], keyring=dns.tsigkeyring.from_text(
                    {name: ("hmac-sha256", secret)}))
            self.assertIsNotNone(self.srv.wait_log(r"xfr: refused AXFR of signed\.example to "
                                                   r"127\.0\.0\.1#\d+: TSIG %s" % err, 3,
                                                   since=since))
        # The right key: dnspython checks every message's signature.
        keyring = dns.tsigkeyring.from_text({"xfr.": ("hmac-sha256", SECRET)})
        z = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", "signed.example", port=port,
                                            keyring=keyring, keyname="xfr.", timeout=5))
        self.assertIn(dns.name.from_text("7.100.51.198", None), z.nodes)
        if KDIG:
            out = subprocess.run([KDIG, "@127.0.0.1", "-p", str(port), "-y",
                                  "hmac-sha256:xfr:" + SECRET, "AXFR", "signed.example"],
                                 capture_output=True, text=True, timeout=10).stdout
            self.assertIn("7.100.51.198.signed.example.", out)
            self.assertNotIn(";; ERROR", out)
        # No secret in the log, ever.
        self.assertNotIn(SECRET, self.srv.log())
        self.assertNotIn(WRONG, self.srv.log())

    def test_malformed_requests_do_not_hurt(self):
        good = xfr_query("bl.example").to_wire()
        ixfr = xfr_query("bl.example", "IXFR", serial=5).to_wire()
        cases = [
            good[:12],                               # header only
            good[:-3],                               # cut question
            good[:6] + b"\x00\x01" + good[8:],       # an answer count, no answer
            good[:8] + b"\x00\x01" + good[10:],      # AXFR with authority
            ixfr[:8] + b"\x00\x00" + ixfr[10:],      # IXFR without its SOA
            ixfr[:-10],                              # IXFR with a cut SOA
            ixfr[:-22] + b"\x3f\x01" + ixfr[-20:],   # SOA rdata name running over
            good[:10] + b"\x00\x01" + good[12:] + b"\x00\x00\xfa\x00\xff" + b"\x00" * 8,
        ]
        for i, wire in enumerate(cases):
            with self.subTest(i):
                with self.srv.tcp_connect() as s:
                    s.sendall(frame(wire))
                    r = recv_frame(s, 3)
                if r is not None and len(r) >= 12:
                    self.assertIn(parse(r).rcode(), (dns.rcode.FORMERR, dns.rcode.REFUSED,
                                                     dns.rcode.NOTAUTH))
        self.assertTrue(self.srv.alive())
        msgs, recs = transfer(self.srv, xfr_query("bl.example"))
        self.assertEqual(msgs[0].rcode(), dns.rcode.NOERROR)


class BigZoneTest(unittest.TestCase):
    """100,000 entries: the transfer completes, in many messages of at
    most 64 KB, while UDP queries are answered all along."""

    ENTRIES = 100000

    def test_big_zone_streams_while_udp_is_answered(self):
        db = make_store()
        ctl_ok("init", db)
        d = tmpdir("dnsbl-xfrbig-")
        lst = os.path.join(d, "list.txt")
        with open(lst, "w") as f:
            for i in range(self.ENTRIES):
                f.write("10.%d.%d.%d\n" % (i >> 16, (i >> 8) & 255, i & 255))
        ctl_ok("import", "--format", "list", "--reason", "bulk", lst, db=db)
        config = os.path.join(d, "dnsbld.conf")
        with open(config, "w") as f:
            f.write('db = "%s"\nzone "bl.example" { allow_transfer = {"127.0.0.1/32"} }\n' % db)
        ctl_ok("publish", "--config", config, db=db)
        with Server(["-c", config, "--workers", "2"]) as srv:
            stop = threading.Event()
            answered, failed = [0], []

            def ask():
                while not stop.is_set():
                    try:
                        r = srv.query(v4name("10.0.1.2"), timeout=1.0)
                        if not r.answer or not r.answer[0][0].to_text().startswith("127.0.0."):
                            failed.append(r.to_text())
                        answered[0] += 1
                    except Exception as e:  # a timeout is a failure
                        failed.append(str(e))

            th = threading.Thread(target=ask, daemon=True)
            th.start()
            sizes, count = [], 0
            first = last = None
            with srv.tcp_connect(timeout=30) as s:
                s.sendall(frame(xfr_query("bl.example").to_wire()))
                t0 = time.monotonic()
                while True:
                    w = recv_frame(s, 30)
                    self.assertIsNotNone(w, "the stream stopped")
                    sizes.append(len(w))
                    m = parse_xfr(w)
                    for rrset in m.answer:
                        for rd in rrset:
                            count += 1
                            if rrset.rdtype == dns.rdatatype.SOA:
                                if first is None:
                                    first = rd.serial
                                else:
                                    last = rd.serial
                    if last is not None:
                        break
                    time.sleep(0.002)  # a slow reader: the stream waits for it
                took = time.monotonic() - t0
            stop.set()
            th.join(5)
            self.assertEqual(first, last)
            # Two records per entry, the test point's two, the apex NS, two SOA.
            self.assertEqual(count, 2 * self.ENTRIES + 2 + 1 + 2)
            self.assertGreater(len(sizes), 10)
            self.assertLessEqual(max(sizes), 65535)
            self.assertEqual(failed, [])
            self.assertGreater(answered[0], 10, "took %.2f s" % took)
            self.assertIsNotNone(srv.wait_log(r"xfr: AXFR of bl\.example to .*: done", 3))


if __name__ == "__main__":
    unittest.main()
