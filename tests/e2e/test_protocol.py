"""The DNS protocol around the answers: opcodes, malformed and odd packets,
the question echoed byte for byte, EDNS(0), truncation, and TCP framing,
pipelining and the idle timeout. Raw packets are built by hand where
dnspython would refuse to make them."""

import os
import socket
import struct
import time
import unittest

import dns.edns
import dns.flags
import dns.message
import dns.rcode

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


if __name__ == "__main__":
    unittest.main()
