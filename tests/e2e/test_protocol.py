"""The DNS protocol around the answers: opcodes, malformed and odd packets,
the question echoed byte for byte, EDNS(0), truncation, and TCP framing,
pipelining and the idle timeout. Raw packets are built by hand where
dnspython would refuse to make them."""

import os
import re
import shutil
import socket
import struct
import subprocess
import time
import unittest

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import dns.tsig

from dnsbltest import (EDNS_SIZE, TRANSPORTS, ZONE_FILE, DnsAssertions, Server, frame,
                       make_query, make_store, parse, recv_frame, tmpdir, txt_strings, v4name)

ZONE = "bl.example"
LONG = "long." + ZONE
LONG_TXT = ["%02d This TXT record is long on purpose. It tests truncation of UDP answers." % i
            for i in range(1, 11)]

OP_QUERY, OP_IQUERY, OP_STATUS, OP_NOTIFY, OP_UPDATE = 0, 1, 2, 4, 5
RC_NOERROR, RC_FORMERR, RC_NXDOMAIN, RC_NOTIMP, RC_REFUSED = 0, 1, 3, 4, 5


def header(wire):
    """(id, flags, qdcount, ancount, nscount, arcount) of a message."""
    return struct.unpack("!HHHHHH", wire[:12])


def flags_of(wire):
    _, f, *_ = header(wire)
    return {"qr": bool(f & 0x8000), "opcode": (f >> 11) & 0xF, "aa": bool(f & 0x0400),
            "tc": bool(f & 0x0200), "rd": bool(f & 0x0100), "ra": bool(f & 0x0080),
            "rcode": f & 0xF}


def with_opcode(wire, opcode):
    b = bytearray(wire)
    b[2] = (b[2] & 0x87) | (opcode << 3)
    return bytes(b)


def with_header(wire, **fields):
    """Replace header fields: id, flags, qd, an, ns, ar."""
    h = list(header(wire))
    for i, k in enumerate(("id", "flags", "qd", "an", "ns", "ar")):
        if k in fields:
            h[i] = fields[k]
    return struct.pack("!HHHHHH", *h) + wire[12:]


def qname_wire(text):
    out = b""
    for label in text.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def raw_query(qid, name, qtype=1, qclass=1, flags=0x0100):
    return struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 0) + qname_wire(name) + \
        struct.pack("!HH", qtype, qclass)


class ProtocolCase(DnsAssertions, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        db = make_store([("add", "192.0.2.0/24", "--reason", "spam source")])
        cls.srv = Server(["--db", db, "--zone", "%s=%s" % (ZONE, ZONE_FILE)])

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop_clean()

    def send(self, wire, tcp=False, v6=False, timeout=2.0):
        if tcp:
            return self.srv.raw_tcp(wire, v6=v6, timeout=timeout)
        return self.srv.raw_udp(wire, v6=v6, timeout=timeout)

    def assertStillAnswers(self):
        for label, kw in TRANSPORTS:
            r = self.srv.query(v4name("192.0.2.7"), **kw)
            self.assertAnswer(r, "A", {"127.0.0.2"})
        self.assertTrue(self.srv.alive())


class OpcodeAndFormatTest(ProtocolCase):

    def test_other_opcodes_are_notimp(self):
        q = make_query(v4name("192.0.2.7")).to_wire()
        for label, kw in TRANSPORTS:
            for op in (OP_IQUERY, OP_STATUS, OP_NOTIFY, OP_UPDATE, 3, 15):
                with self.subTest(label, opcode=op):
                    wire = with_opcode(q, op)
                    resp = self.send(wire, **kw)
                    self.assertIsNotNone(resp, "no answer to opcode %d" % op)
                    f = flags_of(resp)
                    self.assertEqual(resp[:2], wire[:2])
                    self.assertTrue(f["qr"])
                    self.assertEqual(f["rcode"], RC_NOTIMP)
                    self.assertEqual(f["opcode"], op)
                    self.assertEqual(header(resp)[3], 0, "NOTIMP with answers")

    def test_qdcount_zero_and_two_are_formerr(self):
        one = raw_query(0x1234, v4name("192.0.2.7"))
        two = with_header(one, qd=2) + one[12:]
        zero = struct.pack("!HHHHHH", 0x1234, 0x0100, 0, 0, 0, 0)
        for label, kw in TRANSPORTS:
            for what, wire in (("qdcount 0", zero), ("qdcount 2", two)):
                with self.subTest(label, case=what):
                    resp = self.send(wire, **kw)
                    self.assertIsNotNone(resp, "no answer to " + what)
                    self.assertEqual(resp[:2], wire[:2])
                    self.assertTrue(flags_of(resp)["qr"])
                    self.assertEqual(flags_of(resp)["rcode"], RC_FORMERR)
                    self.assertEqual(header(resp)[3], 0)

    def test_malformed_questions_are_formerr(self):
        good = raw_query(0x4242, v4name("192.0.2.7"))
        hdr = good[:12]
        cases = {
            "name cut short": hdr + b"\x017\x012",
            "no qtype/qclass": hdr + qname_wire(v4name("192.0.2.7")),
            "half a qtype": hdr + qname_wire(v4name("192.0.2.7")) + b"\x00",
            "label type 0x40": hdr + b"\x41" + b"a" * 65 + b"\x00\x00\x01\x00\x01",
            "pointer loop": hdr + b"\xc0\x0c\x00\x01\x00\x01",
            "name over 255": hdr + (b"\x3f" + b"a" * 63) * 4 + b"\x03abc\x00\x00\x01\x00\x01",
        }
        for label, kw in TRANSPORTS:
            for what, wire in cases.items():
                with self.subTest(label, case=what):
                    resp = self.send(wire, **kw)
                    self.assertIsNotNone(resp, "no answer to " + what)
                    self.assertEqual(resp[:2], wire[:2])
                    self.assertTrue(flags_of(resp)["qr"])
                    self.assertEqual(flags_of(resp)["rcode"], RC_FORMERR, what)
        self.assertStillAnswers()

    def test_responses_and_runts_get_no_answer(self):
        q = raw_query(0x7777, v4name("192.0.2.7"))
        silent = [with_header(q, flags=0x8100), with_header(q, flags=0x8500),
                  b"", b"\x00", q[:2], q[:11]]
        for v6 in (False, True):
            fam = socket.AF_INET6 if v6 else socket.AF_INET
            with socket.socket(fam, socket.SOCK_DGRAM) as s:
                dest = self.srv.addr(v6)
                for wire in silent:
                    s.sendto(wire, dest)
                s.settimeout(1.0)
                got = []
                try:
                    while True:
                        got.append(s.recvfrom(65535)[0])
                except socket.timeout:
                    pass
                self.assertEqual(got, [], "answers to responses or runts over UDP")
                good = raw_query(0x7778, v4name("192.0.2.7"))
                s.sendto(good, dest)
                s.settimeout(2.0)
                resp = s.recvfrom(65535)[0]
                self.assertEqual(resp[:2], good[:2])
        for v6 in (False, True):
            for wire in silent[:2] + silent[3:]:
                with self.subTest("tcp", v6=v6, wire=wire[:4]):
                    with self.srv.tcp_connect(v6) as s:
                        s.sendall(frame(wire))
                        self.assertIsNone(recv_frame(s, timeout=0.5))
        self.assertStillAnswers()

    def test_question_echoed_byte_for_byte(self):
        for label, kw in TRANSPORTS:
            for name in ("2.0.0.127.Bl.ExAmPle", "7.2.0.192.BL.EXAMPLE", "1.0.0.127.bL.eXaMpLe",
                         "WwW.Bl.ExAmple", "Bl.ExAmPlE", "Example.COM"):
                with self.subTest(label, name=name):
                    q = raw_query(0x2222, name, qtype=1)
                    resp = self.send(q, **kw)
                    self.assertIsNotNone(resp)
                    qlen = len(qname_wire(name)) + 4
                    self.assertEqual(header(resp)[2], 1)
                    self.assertEqual(resp[12:12 + qlen], q[12:12 + qlen])
        r = parse(self.send(raw_query(0x2223, "2.0.0.127.Bl.ExAmPle")))
        self.assertAnswer(r, "A", {"127.0.0.2"})
        r = parse(self.send(raw_query(0x2224, "Bl.ExAmPle", qtype=6)))
        self.assertAnswer(r, "SOA")

    def test_rd_copied_ra_clear(self):
        for rd in (0x0100, 0x0000):
            resp = self.send(raw_query(0x3333, v4name("192.0.2.7"), flags=rd))
            f = flags_of(resp)
            self.assertEqual(f["rd"], bool(rd))
            self.assertFalse(f["ra"])
            self.assertTrue(f["aa"])


class EdnsTest(ProtocolCase):

    NAMES = [(v4name("192.0.2.7"), "A", RC_NOERROR), (v4name("192.0.3.7"), "A", RC_NXDOMAIN),
             (v4name("192.0.2.7"), "MX", RC_NOERROR), ("2.0.192." + ZONE, "A", RC_NOERROR),
             (ZONE, "SOA", RC_NOERROR), (ZONE, "NS", RC_NOERROR),
             ("example.com", "A", RC_REFUSED)]

    def test_opt_in_every_answer_to_an_edns_query(self):
        for label, kw in TRANSPORTS:
            for name, rdtype, rcode in self.NAMES:
                for payload in (512, 1232, 4096):
                    with self.subTest(label, name=name, rdtype=rdtype, payload=payload):
                        r = self.srv.query(name, rdtype, edns=0, payload=payload, **kw)
                        self.assertEqual(r.rcode(), rcode, str(r))
                        self.assertEqual(r.edns, 0, "no OPT in answer:\n%s" % r)
                        self.assertEqual(r.payload, EDNS_SIZE)

    def test_opt_in_notimp_answer(self):
        q = make_query(v4name("192.0.2.7"), edns=0).to_wire()
        for label, kw in TRANSPORTS:
            with self.subTest(label):
                resp = self.send(with_opcode(q, OP_NOTIFY), **kw)
                self.assertIsNotNone(resp)
                self.assertEqual(flags_of(resp)["rcode"], RC_NOTIMP)
                r = parse(resp)
                self.assertEqual(r.edns, 0, "no OPT in NOTIMP answer:\n%s" % r)
                self.assertEqual(r.payload, EDNS_SIZE)

    def test_no_opt_without_edns(self):
        for label, kw in TRANSPORTS:
            for name, rdtype, rcode in self.NAMES:
                with self.subTest(label, name=name, rdtype=rdtype):
                    r = self.srv.query(name, rdtype, **kw)
                    self.assertEqual(r.rcode(), rcode, str(r))
                    self.assertEqual(r.edns, -1, "OPT in answer to a query without:\n%s" % r)

    def test_edns_version_1_is_badvers(self):
        for label, kw in TRANSPORTS:
            for name in (v4name("192.0.2.7"), v4name("192.0.3.7"), ZONE):
                with self.subTest(label, name=name):
                    q = make_query(name, "A", edns=1)
                    r = self.srv.exchange(q, **kw)
                    self.assertIsNotNone(r, "no answer to EDNS version 1")
                    self.assertEqual(r.rcode(), dns.rcode.BADVERS, str(r))
                    self.assertGreaterEqual(r.edns, 0, "BADVERS without OPT")
                    self.assertEqual(r.answer, [])

    def test_unknown_option_is_ignored(self):
        opt = dns.edns.GenericOption(65001, b"dnsbld-test")
        for label, kw in TRANSPORTS:
            with self.subTest(label):
                r = self.srv.query(v4name("192.0.2.7"), "A", edns=0, options=[opt], **kw)
                self.assertAnswer(r, "A", {"127.0.0.2"})
                self.assertEqual(r.edns, 0)
                r = self.srv.query(v4name("192.0.2.7"), "TXT", edns=0, want_dnssec=True,
                                   options=[opt], **kw)
                self.assertAnswer(r, "TXT")
                self.assertEqual(r.edns, 0)

    def test_two_opt_records_are_formerr(self):
        q = make_query(v4name("192.0.2.7"), edns=0).to_wire()
        opt = q[-11:]
        self.assertEqual(opt[:3], b"\x00\x00\x29")
        wire = with_header(q, ar=2) + opt
        for label, kw in TRANSPORTS:
            with self.subTest(label):
                resp = self.send(wire, **kw)
                self.assertIsNotNone(resp)
                self.assertEqual(flags_of(resp)["rcode"], RC_FORMERR)


class TruncationTest(ProtocolCase):

    def test_long_txt_over_udp_without_edns_is_truncated(self):
        for v6 in (False, True):
            for rdtype in ("TXT", "ANY"):
                with self.subTest(v6=v6, rdtype=rdtype):
                    r = self.srv.query(LONG, rdtype, v6=v6)
                    self.assertTrue(r.flags & dns.flags.TC, "TC clear:\n%s" % r)
                    self.assertLessEqual(len(r.wire), 512)
                    self.assertEqual(r.rcode(), dns.rcode.NOERROR)
                    self.assertEqual(r.answer, [], "a partial RRset was sent")

    def test_small_edns_payload_is_at_least_512(self):
        for payload in (0, 100, 512):
            with self.subTest(payload=payload):
                r = self.srv.query(LONG, "TXT", edns=0, payload=payload)
                self.assertTrue(r.flags & dns.flags.TC)
                self.assertLessEqual(len(r.wire), 512)
                self.assertEqual(r.edns, 0)
                r = self.srv.query(v4name("192.0.2.7"), "TXT", edns=0, payload=payload)
                self.assertAnswer(r, "TXT")

    def test_long_txt_fits_with_edns(self):
        for v6 in (False, True):
            with self.subTest(v6=v6):
                r = self.srv.query(LONG, "TXT", v6=v6, edns=0, payload=4096)
                self.assertGreater(len(r.wire), 512)
                self.assertLessEqual(len(r.wire), EDNS_SIZE)
                rrset = self.assertAnswer(r, "TXT", ttl=3600)
                self.assertEqual([[s.decode() for s in rd.strings] for rd in rrset], [LONG_TXT])

    def test_long_txt_over_tcp_is_complete(self):
        for v6 in (False, True):
            for edns in (None, 0):
                with self.subTest(v6=v6, edns=edns):
                    r = self.srv.query(LONG, "TXT", tcp=True, v6=v6, edns=edns)
                    rrset = self.assertAnswer(r, "TXT", ttl=3600)
                    self.assertEqual(txt_strings(rrset), ["".join(LONG_TXT)])
                    self.assertEqual([[s.decode() for s in rd.strings] for rd in rrset],
                                     [LONG_TXT])


class TcpTest(ProtocolCase):

    def test_pipelined_queries_answered_in_order(self):
        names = [v4name("192.0.2.7"), v4name("192.0.3.7"), ZONE]
        for v6 in (False, True):
            with self.subTest(v6=v6):
                qs = [make_query(n, "A" if i < 2 else "SOA", qid=0x100 + i)
                      for i, n in enumerate(names)]
                with self.srv.tcp_connect(v6) as s:
                    s.sendall(b"".join(frame(q.to_wire()) for q in qs))
                    answers = [recv_frame(s) for _ in qs]
                self.assertNotIn(None, answers)
                rs = [parse(a) for a in answers]
                self.assertEqual([r.id for r in rs], [0x100, 0x101, 0x102])
                self.assertAnswer(rs[0], "A", {"127.0.0.2"})
                self.assertEqual(rs[1].rcode(), dns.rcode.NXDOMAIN)
                self.assertAnswer(rs[2], "SOA")

    def test_long_pipelined_burst_answered_in_order(self):
        """Hundreds of queries in one write: frames cross the server's read
        chunks and the answers fill several of its output batches."""
        qs = []
        for i in range(900):
            if i % 10 == 9:
                qs.append((make_query(LONG, "TXT", qid=i), "TXT"))
            else:
                addr = "192.0.%d.%d" % (2 + i % 2, i % 250 + 1)
                qs.append((make_query(v4name(addr), qid=i), "A"))
        with self.srv.tcp_connect() as s:
            s.sendall(b"".join(frame(q.to_wire()) for q, _ in qs))
            answers = [recv_frame(s) for _ in qs]
        self.assertNotIn(None, answers)
        rs = [parse(a) for a in answers]
        self.assertEqual([r.id for r in rs], list(range(900)))
        for i, (r, (_, kind)) in enumerate(zip(rs, qs)):
            if kind == "TXT":
                self.assertEqual(txt_strings(self.assertAnswer(r, "TXT")), ["".join(LONG_TXT)])
            elif i % 2 == 0:
                self.assertAnswer(r, "A", {"127.0.0.2"})
            else:
                self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)

    def test_many_queries_on_one_connection(self):
        with self.srv.tcp_connect() as s:
            for i in range(20):
                q = make_query(v4name("192.0.2.%d" % i), qid=i + 1)
                s.sendall(frame(q.to_wire()))
                a = recv_frame(s)
                self.assertIsNotNone(a, "no answer to query %d on the connection" % i)
                self.assertAnswer(parse(a), "A", {"127.0.0.2"})

    def test_frame_split_across_writes(self):
        q = make_query(v4name("192.0.2.7")).to_wire()
        data = frame(q)
        with self.srv.tcp_connect() as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(len(data)):
                s.sendall(data[i:i + 1])
                if i in (0, 1, 5):
                    time.sleep(0.05)
            a = recv_frame(s)
        self.assertIsNotNone(a)
        self.assertAnswer(parse(a), "A", {"127.0.0.2"})

    def test_other_connections_unaffected_by_an_idle_one(self):
        with self.srv.tcp_connect() as idle:
            idle.sendall(b"\x00")  # half a length prefix, then nothing
            self.assertStillAnswers()


IDLE_TIMEOUT = 1
MAX_QUERIES = 5


class TcpIdleTimeoutTest(DnsAssertions, unittest.TestCase):
    """A connection that sends nothing is closed after tcp_idle_timeout;
    one that has had tcp_max_queries answers is closed too."""

    @classmethod
    def setUpClass(cls):
        conf = os.path.join(tmpdir(), "dnsbld.conf")
        with open(conf, "w") as f:
            f.write("tcp_idle_timeout = %d\ntcp_max_queries = %d\n" % (IDLE_TIMEOUT, MAX_QUERIES))
        db = make_store([("add", "192.0.2.0/24", "--reason", "spam source")])
        cls.srv = Server(["--config", conf, "--db", db, "--zone", "%s=%s" % (ZONE, ZONE_FILE)])

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop_clean()

    def closed_within(self, s, limit):
        """Seconds until the server closed s, or None if still open at limit."""
        start = time.monotonic()
        deadline = start + limit
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = s.recv(4096)
            except socket.timeout:
                return None
            except ConnectionResetError:
                return time.monotonic() - start
            if not data:
                return time.monotonic() - start
        return None

    def test_silent_connection_is_closed(self):
        with self.srv.tcp_connect() as s:
            t = self.closed_within(s, IDLE_TIMEOUT + 3)
        self.assertIsNotNone(t, "idle connection still open after %d s" % (IDLE_TIMEOUT + 3))
        self.assertGreaterEqual(t, IDLE_TIMEOUT * 0.5)

    def test_connection_idle_after_a_query_is_closed(self):
        with self.srv.tcp_connect() as s:
            s.sendall(frame(make_query(v4name("192.0.2.7")).to_wire()))
            a = recv_frame(s)
            self.assertAnswer(parse(a), "A", {"127.0.0.2"})
            t = self.closed_within(s, IDLE_TIMEOUT + 3)
        self.assertIsNotNone(t, "idle connection still open after %d s" % (IDLE_TIMEOUT + 3))

    def test_connection_closed_after_max_queries(self):
        with self.srv.tcp_connect() as s:
            for i in range(MAX_QUERIES):
                s.sendall(frame(make_query(v4name("192.0.2.7"), qid=i + 1).to_wire()))
                a = recv_frame(s)
                self.assertIsNotNone(a, "no answer to query %d" % (i + 1))
                self.assertEqual(parse(a).id, i + 1)
            t = self.closed_within(s, 0.5)
        self.assertIsNotNone(t, "still open after %d queries" % MAX_QUERIES)

    def test_half_frame_then_silence_is_closed(self):
        with self.srv.tcp_connect() as s:
            s.sendall(b"\x00\x30" + b"\x12" * 10)
            t = self.closed_within(s, IDLE_TIMEOUT + 3)
        self.assertIsNotNone(t, "stalled connection still open after %d s" % (IDLE_TIMEOUT + 3))
        r = self.srv.query(v4name("192.0.2.7"), tcp=True)
        self.assertAnswer(r, "A", {"127.0.0.2"})


# --- what a compliance tester and the usual clients check ------------------

DIG = shutil.which("dig")
KDIG = shutil.which("kdig")
TSIG_SECRET = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
RC_NOTAUTH = 9


def client_header(out):
    """(status, flags, has OPT) from dig's or kdig's text output."""
    status = re.search(r"status: ([A-Z0-9]+)", out)
    flags = re.search(r";; [Ff]lags: ([a-z ]*);", out)
    return (status.group(1) if status else None, set(flags.group(1).split()) if flags else None,
            "EDNS" in out)


class ComplianceTest(ProtocolCase):
    """ISC's DNS compliance tester (genreport -f -c) tests, made with dig and
    kdig, and the answers to opcodes, TSIG and zone transfers it and RFC
    8906 expect. Every query here also goes through the query log."""

    @classmethod
    def setUpClass(cls):
        db = make_store([("add", "192.0.2.0/24", "--reason", "spam source")])
        cls.srv = Server(["--db", db, "--zone", "%s=%s" % (ZONE, ZONE_FILE), "--log-queries"])

    def run_client(self, prog, *args):
        host, port = self.srv.addr()
        timing = ["+time=2", "+tries=1"] if prog == DIG else ["+time=2", "+retry=0"]
        p = subprocess.run([prog, "@" + host, "-p", str(port), *timing, *args],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
        return p.stdout + p.stderr

    # genreport's dig commands (its -f and -c sets) with the status and
    # OPT its checks expect: every one NOERROR and AA, but EDNS version 1,
    # which is BADVERS with an OPT of version 0.
    GENREPORT_DIG = [
        ("dns", "+noedns +noad +norec SOA", "NOERROR", False),
        ("aa", "+noedns +noad +norec +aaflag SOA", "NOERROR", False),
        ("ad", "+noedns +ad +norec SOA", "NOERROR", False),
        ("cd", "+noedns +noad +norec +cd SOA", "NOERROR", False),
        ("rd", "+noedns +noad +rec SOA", "NOERROR", False),
        ("zflag", "+noedns +noad +norec +zflag SOA", "NOERROR", False),
        ("type666", "+noedns +noad +norec TYPE666", "NOERROR", False),
        ("tcp", "+noedns +noad +norec +tcp SOA", "NOERROR", False),
        ("edns", "+edns=0 +nocookie +noad +norec SOA", "NOERROR", True),
        ("edns1", "+edns=1 +noednsneg +nocookie +noad +norec SOA", "BADVERS", True),
        ("edns@512", "+edns=0 +nocookie +noad +norec +dnssec +ignore +bufsize=512 DNSKEY",
         "NOERROR", True),
        ("ednsopt", "+edns=0 +nocookie +noad +norec +ednsopt=100 SOA", "NOERROR", True),
        ("edns1opt", "+edns=1 +noednsneg +nocookie +noad +norec +ednsopt=100 SOA", "BADVERS",
         True),
        ("do", "+edns=0 +nocookie +noad +norec +dnssec SOA", "NOERROR", True),
        ("ednsflags", "+edns=0 +nocookie +noad +norec +ednsflags=0x80 SOA", "NOERROR", True),
        ("ednsnsid", "+edns=0 +nocookie +noad +norec +nsid SOA", "NOERROR", True),
        ("ednscookie", "+edns=0 +noad +norec +cookie SOA", "NOERROR", True),
        ("ednsexpire", "+edns=0 +nocookie +noad +norec +expire SOA", "NOERROR", True),
        ("ednssubnet", "+edns=0 +nocookie +noad +norec +subnet=0.0.0.0/0 SOA", "NOERROR", True),
        ("edns1nsid", "+edns=1 +noednsneg +nocookie +noad +norec +nsid SOA", "BADVERS", True),
        ("ednstcp", "+edns=0 +nocookie +noad +norec +dnssec +bufsize=512 +tcp DNSKEY", "NOERROR",
         True),
        ("bind11", "+edns=0 +cookie=0102030405060708 +noad +norec +dnssec SOA", "NOERROR", True),
        ("dig11", "+edns=0 +cookie=0102030405060708 +ad +rec SOA", "NOERROR", True),
    ]

    @unittest.skipUnless(DIG, "dig (bind9-dnsutils) is not installed")
    def test_genreport_checks_with_dig(self):
        for name, args, status, opt in self.GENREPORT_DIG:
            with self.subTest(name):
                out = self.run_client(DIG, *args.split(), ZONE)
                got, flags, has_opt = client_header(out)
                self.assertEqual(got, status, out)
                self.assertEqual(has_opt, opt, out)
                self.assertIn("qr", flags, out)
                if status == "NOERROR":
                    self.assertIn("aa", flags, out)
                self.assertNotIn("ra", flags, out)
                self.assertEqual("rd" in flags, "+rec" in args.split(), out)
                self.assertNotIn("ad", flags, out)
                # dig warns about a reply that does not match its query.
                warnings = [l for l in out.splitlines() if "WARNING" in l
                            and "recursion requested but not available" not in l]
                self.assertEqual(warnings, [], out)

    @unittest.skipUnless(KDIG, "kdig (knot-dnsutils) is not installed")
    def test_edns_and_tcp_checks_with_kdig(self):
        cases = [
            ("+noedns SOA", "NOERROR", False),
            ("+noedns +tcp SOA", "NOERROR", False),
            ("+edns=0 SOA", "NOERROR", True),
            ("+edns=0 +tcp SOA", "NOERROR", True),
            ("+edns=1 SOA", "BADVERS", True),
            ("+edns=0 +dnssec +bufsize=512 DNSKEY", "NOERROR", True),
            ("+edns=0 +nsid SOA", "NOERROR", True),
            ("+edns=0 +cookie SOA", "NOERROR", True),
            ("+edns=0 +subnet=192.0.2.0/24 SOA", "NOERROR", True),
            ("+edns=0 +ednsopt=100 SOA", "NOERROR", True),
            ("+edns=0 +padding=64 +tcp SOA", "NOERROR", True),
            ("+edns=0 +cd +adflag SOA", "NOERROR", True),
        ]
        for args, status, opt in cases:
            with self.subTest(args):
                out = self.run_client(KDIG, "+norec", *args.split(), ZONE)
                got, flags, has_opt = client_header(out)
                self.assertEqual(got, status, out)
                self.assertEqual(has_opt, opt, out)
                if status == "NOERROR":
                    self.assertIn("aa", flags, out)
                self.assertNotIn("WARNING", out, out)

    def test_header_only_unknown_opcode_is_notimp(self):
        # genreport's "opcode" and "opcodeflg": opcode 15, no question, and
        # every flag set; the answer has none of them but QR.
        for flags in (15 << 11, 15 << 11 | 0x07F0):
            wire = struct.pack("!HHHHHH", 0x4321, flags, 0, 0, 0, 0)
            for label, kw in TRANSPORTS:
                with self.subTest(label, flags=hex(flags)):
                    resp = self.send(wire, **kw)
                    self.assertIsNotNone(resp)
                    self.assertEqual(resp, struct.pack("!HHHHHH", 0x4321, 0x8000 | 15 << 11 | 4,
                                                       0, 0, 0, 0))

    @unittest.skipUnless(DIG, "dig (bind9-dnsutils) is not installed")
    def test_dig_opcode_is_notimp(self):
        for args in (["+header-only"], [ZONE, "SOA"], ["+tcp", ZONE, "SOA"],
                     ["+rec", "+cd", "+adflag", ZONE, "SOA"]):
            for op in (3, 6, 15):
                with self.subTest(" ".join(args), opcode=op):
                    out = self.run_client(DIG, "+opcode=%d" % op, *args)
                    status, flags, has_opt = client_header(out)
                    self.assertEqual(status, "NOTIMP", out)
                    self.assertEqual(flags, {"qr"}, out)
                    self.assertTrue(has_opt, out)

    def test_formerr_echoes_question_and_opt(self):
        q = make_query(v4name("192.0.2.7"), edns=0).to_wire()
        qlen = len(qname_wire(v4name("192.0.2.7"))) + 4
        answer_rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 1])
        # An A record in the answer section of a query: malformed, but the
        # question and the OPT both parsed.
        wire = with_header(q, an=1)[:12 + qlen] + answer_rr + q[12 + qlen:]
        for label, kw in TRANSPORTS:
            with self.subTest(label):
                resp = self.send(wire, **kw)
                self.assertIsNotNone(resp)
                self.assertEqual(flags_of(resp)["rcode"], RC_FORMERR)
                self.assertEqual(header(resp)[2:], (1, 0, 0, 1))
                self.assertEqual(resp[12:12 + qlen], q[12:12 + qlen])
                r = parse(resp)
                self.assertEqual(r.edns, 0, "no OPT in FORMERR answer:\n%s" % r)
                self.assertEqual(r.payload, EDNS_SIZE)
        # Without EDNS: the question alone.
        q = raw_query(0x5151, v4name("192.0.2.7"))
        wire = with_header(q, an=1) + answer_rr
        resp = self.send(wire)
        self.assertEqual(flags_of(resp)["rcode"], RC_FORMERR)
        self.assertEqual(header(resp)[2:], (1, 0, 0, 0))
        self.assertEqual(resp[12:], q[12:])

    def assertBadkey(self, out):
        status, flags, _ = client_header(out)
        self.assertIn(status, ("NOTAUTH", "BADKEY"), out)  # kdig shows the TSIG error
        self.assertNotIn("aa", flags, out)
        self.assertRegex(out, r"TSIG\s+hmac-sha256\.\s+\d+\s+300\s+0\s+\d+\s+BADKEY\s+0", out)

    @unittest.skipUnless(DIG and KDIG, "dig and kdig are not installed")
    def test_tsig_signed_query_is_notauth_badkey(self):
        key = "hmac-sha256:dnsbl-key:" + TSIG_SECRET
        for args in ([], ["+tcp"], ["+edns=0"]):
            for name, rdtype in ((ZONE, "SOA"), (v4name("192.0.2.7"), "A")):
                with self.subTest(" ".join(args), name=name):
                    out = self.run_client(DIG, "+norec", "-y", key, *args, name, rdtype)
                    self.assertEqual(client_header(out)[0], "NOTAUTH", out)
                    self.assertBadkey(out)
                    self.assertNotIn("ANSWER SECTION", out)
                    out = self.run_client(KDIG, "+norec", "-y", key, *args, name, rdtype)
                    self.assertBadkey(out)
        # dnspython: the rcode, and the TSIG record last and unsigned.
        q = make_query(ZONE, "SOA")
        q.use_tsig(dns.tsig.Key("dnsbl-key.", TSIG_SECRET, "hmac-sha256"))
        wire = q.to_wire()
        for label, kw in TRANSPORTS:
            with self.subTest(label):
                resp = self.send(wire, **kw)
                self.assertEqual(flags_of(resp)["rcode"], RC_NOTAUTH)
                self.assertEqual(header(resp)[2:], (1, 0, 0, 1))
                tail = struct.pack("!HHHH", 0, q.id, 17, 0)  # MAC size, original ID, error, other
                self.assertTrue(resp.endswith(tail), resp.hex())
                self.assertIn(qname_wire("dnsbl-key") + struct.pack("!HHI", 250, 255, 0), resp)

    @unittest.skipUnless(DIG and KDIG, "dig and kdig are not installed")
    def test_zone_transfers_are_refused(self):
        for args in (["AXFR"], ["IXFR=2026010101"], ["+notcp", "IXFR=5"]):
            with self.subTest(" ".join(args)):
                out = self.run_client(KDIG, ZONE, *args)
                self.assertIn("REFUSED", out)
                self.assertNotIn(" SOA ", out)
                out = self.run_client(DIG, ZONE, *args)
                self.assertNotIn(" SOA ", out)  # no zone sent, dig says "Transfer failed."
        # The rcode itself, with the question echoed; an IXFR query holds
        # the client's SOA in authority (RFC 1995 3), which is no FORMERR.
        soa = dns.rrset.from_text(ZONE + ".", 0, "IN", "SOA",
                                  "ns1.%s. hostmaster.%s. 5 1 1 1 1" % (ZONE, ZONE))
        for rdtype in ("AXFR", "IXFR"):
            for label, kw in TRANSPORTS:
                with self.subTest(label, rdtype=rdtype):
                    q = make_query(ZONE, rdtype, edns=0)
                    if rdtype == "IXFR":
                        q.authority.append(soa)
                    r = self.srv.exchange(q, **kw)
                    self.assertIsNotNone(r)
                    self.assertEqual(r.rcode(), dns.rcode.REFUSED, str(r))
                    self.assertEqual(len(r.question), 1)
                    self.assertEqual(r.answer + r.authority, [])
                    self.assertFalse(r.flags & dns.flags.AA)
                    self.assertEqual(r.edns, 0)

    def test_query_log_names_types_and_rcodes(self):
        since = self.srv.mark()
        self.srv.query(ZONE, "ANY")
        self.srv.query(ZONE, "AXFR", tcp=True)
        self.srv.query(ZONE, "TYPE65280")
        q = make_query(ZONE, "SOA")
        q.use_tsig(dns.tsig.Key("dnsbl-key.", TSIG_SECRET, "hmac-sha256"))
        self.send(q.to_wire())
        for pattern in (r" udp bl\.example\. ANY NOERROR$", r" tcp bl\.example\. AXFR REFUSED$",
                        r" udp bl\.example\. TYPE65280 NOERROR$",
                        r" udp bl\.example\. SOA NOTAUTH$"):
            self.assertIsNotNone(self.srv.wait_log(pattern, 5, since=since),
                                 "no log line like %r in:\n%s" % (pattern, self.srv.log()))


if __name__ == "__main__":
    unittest.main()
