"""The real dnsbld answers UDP queries without allocating: the end-to-end
half of the "zero allocations per query" proof (tests/unit/test_noalloc.c
is the unit half, over packet_answer and the store reader).

dnsbld runs under valgrind's memcheck, one worker, three times on the same
store and config: answering no query, QUERIES_SMALL and QUERIES_LARGE UDP
queries (IPv4 and IPv6 clients; listed, unlisted, scored from ARF history,
allowlisted, apex data, NXDOMAIN, REFUSED; with and without EDNS), each
stopped by SIGTERM. memcheck's "total heap usage: N allocs" counts every
allocation of the process, so:

  - N(LARGE) - N(SMALL) must be at most NOISE: 1,500 more queries may not
    cost even one allocation each (the difference seen is 0);
  - N(SMALL) - N(0) must be at most ONCE_PER_WORKER: what the worker makes
    on its first query and keeps (its store reader's read transaction and
    two LMDB cursors: 3 are seen), never more.

TCP is measured the same way (one connection, TCP_SMALL and TCP_LARGE
queries on it) and held to its known cost, two allocations an answer in
libevent (see that test), failing once that cost is gone so the rule gets
tightened.

Skipped when valgrind is missing, and in the sanitizer build (valgrind and
AddressSanitizer cannot run together). About 20 s."""

import os
import re
import shutil
import signal
import socket
import stat
import unittest

import dns.rcode

import dnsbltest
from dnsbltest import (FIXTURES, ZONE_FILE, Server, ctl, frame, make_query, parse, recv_frame,
                       tmpdir, v4name, v6name)

VALGRIND = shutil.which("valgrind")
ARF = os.path.join(FIXTURES, "arf")
NOW = "2025-06-03T00:00:00Z"  # the day after the ARF reports: their history scores

QUERIES_SMALL = 500
QUERIES_LARGE = 2000
TCP_SMALL = 100
TCP_LARGE = 400     # under tcp_max_queries (1000): one connection answers them all
NOISE = 2           # allocations the larger run may add in all, whatever its length
ONCE_PER_WORKER = 4  # allocations the worker may make once, on its first query
BURST = 50          # datagrams in flight per socket
EXIT_WAIT = 60
HEAP_RE = re.compile(r"total heap usage: ([\d,]+) allocs, ([\d,]+) frees")


def built_with_asan(path):
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


def query_mix():
    """(name, rdtype, edns, v6 client) tuples cycled through by the runs."""
    mix = []
    for i in range(1, 9):
        mix.append((v4name("192.0.2.%d" % i), "A", None, False))          # listed /24
        mix.append((v4name("192.0.2.%d" % i), "TXT", 0, True))
        mix.append((v4name("192.0.3.%d" % i), "A", 0, False))             # unlisted
        mix.append((v6name("2001:db8:1::%x" % i), "TXT", None, True))     # listed /48
        mix.append((v6name("2001:db8:2::%x" % i), "A", 0, True))          # unlisted
        mix.append((v4name("198.51.100.%d" % i), "ANY", None, False))     # listed range
    mix.append((v4name("198.51.100.9"), "A", 0, False))                   # allowed in it
    for ip in ("192.0.2.45", "203.0.113.57", "198.51.100.14", "192.0.2.201"):
        mix.append((v4name(ip, "score.example"), "A", None, False))       # scored, history
        mix.append((v4name(ip, "score.example"), "TXT", 0, True))
    mix.append((v6name("2001:db8:40::17", "score.example"), "A", 0, True))
    mix += [("bl.example", "SOA", None, False), ("bl.example", "NS", 0, True),
            ("long.bl.example", "TXT", 0, False), ("nothere.bl.example", "A", None, True),
            ("2.0.0.127.bl.example", "A", None, False), ("7.2.0.192.elsewhere.test", "A", 0, True)]
    return mix


@unittest.skipUnless(VALGRIND, "valgrind is not installed (deps.sh installs it)")
class NoAllocTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if built_with_asan(dnsbltest.DNSBLD):
            raise unittest.SkipTest("dnsbld is built with AddressSanitizer: valgrind runs in "
                                    "the plain build")
        cls.dir = tmpdir("dnsbl-noalloc-")
        cls.db = os.path.join(cls.dir, "store")
        os.mkdir(cls.db)
        for args in (("init", cls.db), ("add", "192.0.2.0/24", "--reason", "spam source"),
                     ("add", "198.51.100.0/24", "--reason", "range"),
                     ("allow", "198.51.100.9", "--reason", "partner"),
                     ("add", "2001:db8:1::/48", "--reason", "v6 net")):
            rc, out, err = ctl(*args, db=cls.db)
            if rc != 0:
                raise RuntimeError("dnsblctl %s: %s%s" % (args, out, err))
        arf = sorted(os.path.join(ARF, f) for f in os.listdir(ARF) if not f.startswith("07-"))
        rc, out, err = ctl("import", *arf, db=cls.db, now=NOW, timeout=60)
        if rc != 0:
            raise RuntimeError("dnsblctl import: %s%s" % (out, err))
        cls.conf = os.path.join(cls.dir, "dnsbld.conf")
        with open(cls.conf, "w") as f:
            f.write('db = "store"\nworkers = 1\n'
                    'zone "bl.example" {\n    file = "%s"\n    threshold = 1.5\n}\n'
                    'zone "score.example" {\n    kind = "score"\n}\n' % ZONE_FILE)

    def setUp(self):
        self.real = dnsbltest.DNSBLD
        self.addCleanup(setattr, dnsbltest, "DNSBLD", self.real)
        self.seen = set()

    def note(self, name, r):
        """Record what kind of answer came, to show the mix took its paths."""
        zone = "score" if name.endswith("score.example") else "bl"
        self.seen.add((zone, dns.rcode.to_text(r.rcode()), bool(r.answer)))

    def assertPathsTaken(self):
        for kind in (("bl", "NOERROR", True), ("bl", "NXDOMAIN", False),
                     ("bl", "REFUSED", False), ("score", "NOERROR", True)):
            self.assertIn(kind, self.seen, "no answer of this kind in %s" % sorted(self.seen))

    def heap_allocs(self, nqueries, tcp=False):
        """Start dnsbld under memcheck, answer nqueries queries (UDP, or TCP
        on one connection), stop it with SIGTERM; returns memcheck's total
        number of allocations."""
        run = "%s-%d" % ("tcp" if tcp else "udp", nqueries)
        vglog = os.path.join(self.dir, "valgrind-%s.log" % run)
        wrapper = os.path.join(self.dir, "dnsbld-valgrind-%s" % run)
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec %s --tool=memcheck --leak-check=no --track-fds=no "
                    "--log-file=%s %s \"$@\"\n" % (VALGRIND, vglog, self.real))
        os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IXUSR)
        dnsbltest.DNSBLD = wrapper
        srv = Server(["--config", self.conf, "--now", NOW], ready_timeout=60)
        try:
            answered = (self.ask_tcp if tcp else self.ask)(srv, nqueries)
            srv.signal(signal.SIGTERM)
            rc = srv.proc.wait(EXIT_WAIT)
        finally:
            srv.stop()
        with open(vglog) as f:
            report = f.read()
        self.assertEqual(rc, 0, "exit status %s\n%s\n%s" % (rc, report, srv.log()))
        self.assertEqual(answered, nqueries, "not every query was answered\n%s" % srv.log())
        m = HEAP_RE.search(report)
        self.assertIsNotNone(m, "no heap summary in the valgrind log:\n%s" % report)
        return int(m.group(1).replace(",", ""))

    def ask(self, srv, n):
        """n queries of the mix over UDP from an IPv4 and an IPv6 socket, up
        to BURST in flight on each; returns how many were answered."""
        mix = query_mix()
        socks = {}
        for v6 in (False, True):
            socks[v6] = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET,
                                      socket.SOCK_DGRAM)
            socks[v6].settimeout(10)
        answered = 0
        try:
            for start in range(0, n, 2 * BURST):
                pending = {False: set(), True: set()}
                for i in range(start, min(n, start + 2 * BURST)):
                    name, rdtype, edns, v6 = mix[i % len(mix)]
                    q = make_query(name, rdtype, edns=edns, qid=i)
                    socks[v6].sendto(q.to_wire(), srv.addr(v6))
                    pending[v6].add(i)
                for v6, s in socks.items():
                    while pending[v6]:
                        try:
                            wire, _ = s.recvfrom(65535)
                        except socket.timeout:
                            break
                        r = parse(wire)
                        if r.id in pending[v6]:
                            pending[v6].remove(r.id)
                            answered += 1
                            self.note(mix[r.id % len(mix)][0], r)
        finally:
            for s in socks.values():
                s.close()
        return answered

    def ask_tcp(self, srv, n):
        """n queries of the mix, one at a time on one TCP connection (IPv4:
        the answer path does not depend on the family of the connection)."""
        mix = query_mix()
        answered = 0
        with srv.tcp_connect(timeout=10) as s:
            for i in range(n):
                name, rdtype, edns, _ = mix[i % len(mix)]
                s.sendall(frame(make_query(name, rdtype, edns=edns, qid=i).to_wire()))
                wire = recv_frame(s, 10)
                r = None if wire is None else parse(wire)
                if r is not None and r.id == i:
                    answered += 1
                    self.note(name, r)
        return answered

    def test_udp_queries_allocate_nothing(self):
        idle = self.heap_allocs(0)
        small = self.heap_allocs(QUERIES_SMALL)
        large = self.heap_allocs(QUERIES_LARGE)
        summary = ("allocations: %d answering nothing, %d after %d UDP queries, %d after %d"
                   % (idle, small, QUERIES_SMALL, large, QUERIES_LARGE))
        print(summary)
        self.assertPathsTaken()
        self.assertLessEqual(abs(large - small), NOISE, summary)
        self.assertLessEqual(small - idle, ONCE_PER_WORKER, summary)

    # A known cost, not yet fixed: every TCP answer costs two allocations,
    # both in libevent under server/net.c's tcp_process. bufferevent_write
    # copies the answer from the worker's buffer into the connection's
    # output evbuffer, which allocates a chain (freed once sent); and the
    # next read allocates a new input chain in evbuffer_read, because
    # tcp_process drained (and so freed) the last one. The test holds that
    # cost to what it is, and fails once TCP stops allocating, so that it
    # gets tightened to the UDP rule above.
    TCP_KNOWN_PER_QUERY = 2

    def test_tcp_answers_allocate_no_more_than_known(self):
        small = self.heap_allocs(TCP_SMALL, tcp=True)
        large = self.heap_allocs(TCP_LARGE, tcp=True)
        extra = TCP_LARGE - TCP_SMALL
        summary = ("allocations: %d after %d TCP queries on one connection, %d after %d: "
                   "%.2f a query" % (small, TCP_SMALL, large, TCP_LARGE, (large - small) / extra))
        print(summary)
        self.assertPathsTaken()
        self.assertLessEqual(large - small, self.TCP_KNOWN_PER_QUERY * extra + NOISE, summary)
        if large - small <= NOISE:
            self.fail("TCP answers allocate nothing now: require it here as for UDP\n" + summary)


if __name__ == "__main__":
    unittest.main()
