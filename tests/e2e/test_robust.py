"""Garbage in: random and mutated packets over UDP, broken TCP streams and
many idle connections. The server must stay up, never send a datagram that
is not a response or is larger than 1232 bytes, and answer correctly
afterwards."""

import random
import select
import socket
import struct
import time
import unittest

from dnsbltest import (EDNS_SIZE, TRANSPORTS, ZONE_FILE, DnsAssertions, Server, frame,
                       make_query, make_store, recv_frame, v4name, v6name)

ZONE = "bl.example"
PACKETS = 2000
SEED = 20261127


def templates():
    out = []
    for name, rdtype, edns in ((v4name("192.0.2.7"), "A", None), (v4name("192.0.2.7"), "ANY", 0),
                               ("long." + ZONE, "TXT", None), ("long." + ZONE, "TXT", 0),
                               (ZONE, "NS", 0), (v6name("2001:db8:1::1"), "TXT", None),
                               ("2.0.192." + ZONE, "A", 0), ("example.com", "A", None)):
        out.append(make_query(name, rdtype, edns=edns).to_wire())
    return out


def garbage(rng, tmpl):
    """One bad packet: random bytes, a cut, byte flips, a random header, or
    random labels."""
    kind = rng.randrange(6)
    t = rng.choice(tmpl)
    if kind == 0:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 600)))
    if kind == 1:
        return t[:rng.randint(0, len(t))]
    if kind == 2:
        b = bytearray(t)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.getrandbits(8)
        return bytes(b)
    if kind == 3:
        hdr = struct.pack("!HHHHHH", rng.getrandbits(16), rng.getrandbits(16) & 0x7fff,
                          rng.choice([0, 1, 2, 0xffff]), rng.choice([0, 1, 0xffff]),
                          rng.choice([0, 1, 0xffff]), rng.choice([0, 1, 2, 0xffff]))
        return hdr + t[12:]
    if kind == 4:
        return t + bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 100)))
    labels = b""
    for _ in range(rng.randint(1, 40)):
        n = rng.choice([0, 1, 2, 3, 63, 64, 0xc0, 0xff])
        labels += bytes([n]) + bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 8)))
    return t[:12] + labels + t[-4:]


class GarbageTest(DnsAssertions, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        db = make_store([("add", "192.0.2.0/24", "--reason", "spam source"),
                         ("add", "2001:db8:1::/48", "--reason", "v6 net")])
        # 64 idle connections come from two addresses: above the default
        # per-client TCP limit (16), which test_hostile checks on its own.
        cls.srv = Server(["--db", db, "--zone", "%s=%s" % (ZONE, ZONE_FILE),
                          "--zone", "other.example", "--tcp-max-per-client", "128"])

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop_clean()

    def assertHealthy(self):
        self.assertTrue(self.srv.alive(), "dnsbld died; log:\n" + self.srv.log())
        self.assertEqual(self.srv.sanitizer_reports(), [])
        for label, kw in TRANSPORTS:
            with self.subTest(label):
                self.assertAnswer(self.srv.query(v4name("192.0.2.7"), **kw), "A", {"127.0.0.2"})
                self.assertNxdomain(self.srv.query(v4name("192.0.3.7"), **kw), ZONE, 600)
                self.assertAnswer(self.srv.query(v6name("2001:db8:1::1"), "TXT", **kw), "TXT")
                self.assertAnswer(self.srv.query(ZONE, "SOA", **kw), "SOA")

    def test_random_udp_packets(self):
        rng = random.Random(SEED)
        tmpl = templates()
        socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
                 socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)]
        dests = [self.srv.addr(False), self.srv.addr(True)]
        got = []

        def drain(wait):
            deadline = time.monotonic() + wait
            while True:
                left = max(0.0, deadline - time.monotonic())
                ready, _, _ = select.select(socks, [], [], left)
                if not ready:
                    return
                for s in ready:
                    got.append(s.recv(65535))

        try:
            for s in socks:
                s.setblocking(False)
            for i in range(PACKETS):
                j = i % 2
                try:
                    socks[j].sendto(garbage(rng, tmpl), dests[j])
                except (BlockingIOError, OSError):
                    pass
                if i % 50 == 49:
                    drain(0.005)
            drain(1.0)
        finally:
            for s in socks:
                s.close()
        for resp in got:
            self.assertGreaterEqual(len(resp), 12)
            self.assertTrue(resp[2] & 0x80, "a datagram without QR: %r" % resp[:16])
            self.assertLessEqual(len(resp), EDNS_SIZE)
        self.assertHealthy()

    def test_broken_tcp_streams(self):
        q = make_query(v4name("192.0.2.7")).to_wire()
        rng = random.Random(SEED + 1)
        streams = [
            b"",                                   # connect, close
            b"\x00",                               # half a length prefix
            b"\x00\x00",                           # zero-length frame
            b"\xff\xff" + b"\x01" * 10,            # announces 65535, sends 10
            frame(q)[: len(q) // 2],               # half a frame
            struct.pack("!H", 11) + q[:11],        # a frame shorter than a header
            struct.pack("!H", len(q) + 40) + q,    # length larger than the message
            struct.pack("!H", 5) + q,              # length smaller than the message
            bytes(rng.getrandbits(8) for _ in range(3000)),
            frame(bytes(rng.getrandbits(8) for _ in range(300))) * 3,
        ]
        for v6 in (False, True):
            for i, data in enumerate(streams):
                with self.subTest(v6=v6, stream=i):
                    with self.srv.tcp_connect(v6) as s:
                        try:
                            s.sendall(data)
                        except OSError:
                            pass
                        s.settimeout(0.2)
                        try:
                            s.recv(65535)
                        except (socket.timeout, OSError):
                            pass
                    self.assertTrue(self.srv.alive(), "dnsbld died; log:\n" + self.srv.log())
        # Close with data unread on our side (RST).
        s = self.srv.tcp_connect()
        s.sendall(frame(make_query("long." + ZONE, "TXT").to_wire()) * 50)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        self.assertHealthy()

    def test_many_idle_connections(self):
        conns = []
        try:
            for i in range(64):
                conns.append(self.srv.tcp_connect(v6=bool(i % 2)))
            self.assertHealthy()
            s = conns[10]
            s.sendall(frame(make_query(v4name("192.0.2.8")).to_wire()))
            a = recv_frame(s)
            self.assertIsNotNone(a, "no answer on a connection opened among 64")
        finally:
            for s in conns:
                s.close()
        self.assertHealthy()


if __name__ == "__main__":
    unittest.main()
