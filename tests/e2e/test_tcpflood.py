"""TCP under an idle-connection flood, against the real dnsbld: many
loopback client addresses hold the whole TCP table with idle connections
and keep reconnecting whatever the server closes; a fresh client from
another address must still get its TCP answer within a second, again and
again, and UDP must go on being answered. Under pressure the server closes
its longest-idle connection to admit a new one and shortens the idle
timeout (RFC 7766 section 6.2.3), see README "Hostile traffic".

Every client address is a loopback one: on Linux all of 127.0.0.0/8 is
local, so a socket bound to 127.0.1.7 is another client."""

import errno
import re
import resource
import selectors
import socket
import threading
import time
import unittest

from dnsbltest import (QUERY_TIMEOUT, ZONE_FILE, DnsAssertions, Server, frame, make_query,
                       make_store, parse, recv_frame, udp_from, v4name)

ZONE = "bl.example"
LISTED = v4name("192.0.2.7")

MAX_CLIENTS = 100
PER_CLIENT = 4
IDLE_TIMEOUT = 60  # long: only shedding can make room in time
FLOOD_SOURCES = 250  # 127.0.1.1 .. 127.0.1.250, PER_CLIENT connections each
ROUNDS = 20
ANSWER_WITHIN = 1.0


class Flood:
    """PER_CLIENT idle connections from each of FLOOD_SOURCES addresses,
    reconnected (at most burst every tick) whenever the server closes one.
    Runs in a thread until stop(); bounded by max_connects. The burst is
    half the table: one that cycles through a worker's whole share between
    a fresh client's connect and its query would shed that client too."""

    def __init__(self, addr, sources, per_client, tick=0.1, burst=MAX_CLIENTS // 2,
                 max_connects=40000):
        self.addr = addr
        self.slots = [("127.0.1.%d" % (i + 1), None) for i in range(sources)
                      for _ in range(per_client)]
        self.tick, self.burst, self.max_connects = tick, burst, max_connects
        self.connects = self.closed = 0
        self.sel = selectors.DefaultSelector()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def start(self):
        self.thread.start()

    def open(self, i):
        src = self.slots[i][0]
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((src, 0))
        rc = s.connect_ex(self.addr)
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            return
        self.slots[i] = (src, s)
        self.sel.register(s, selectors.EVENT_READ, i)
        self.connects += 1

    def run(self):
        while not self.done.is_set():
            budget = self.burst
            for i, (_, s) in enumerate(self.slots):
                if budget == 0 or self.connects >= self.max_connects:
                    break
                if s is None:
                    self.open(i)
                    budget -= 1
            deadline = time.monotonic() + self.tick
            while not self.done.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                for key, _ in self.sel.select(left):
                    i = key.data
                    s = self.slots[i][1]
                    try:
                        gone = s.recv(1) == b""
                    except BlockingIOError:
                        gone = False
                    except OSError:
                        gone = True
                    if gone:  # closed by the server: come back later
                        self.sel.unregister(s)
                        s.close()
                        self.slots[i] = (self.slots[i][0], None)
                        self.closed += 1

    def stop(self):
        self.done.set()
        self.thread.join(10)
        for src, s in self.slots:
            if s is not None:
                self.sel.unregister(s)
                s.close()
        self.sel.close()

    def held(self):
        return sum(1 for _, s in self.slots if s is not None)


def ask_tcp_once(srv, src, timeout):
    """One connection from src, one query; (answer or None, seconds)."""
    t0 = time.monotonic()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.bind((src, 0))
            s.connect(srv.addr())
            s.sendall(frame(make_query(LISTED).to_wire()))
            wire = recv_frame(s, max(0.01, timeout - (time.monotonic() - t0)))
    except OSError:
        wire = None
    return (None if wire is None else parse(wire)), time.monotonic() - t0


def served(srv):
    """The counters of the last "served:" line, as a dict."""
    line = srv.wait_log(r"info: served: ", 1) or ""
    pairs = re.findall(r"([a-z]+(?: [a-z]+)*) (\d+)", line.split("served: ")[-1])
    return {k: int(v) for k, v in pairs}


def raise_fd_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class TcpFloodTest(DnsAssertions, unittest.TestCase):

    def test_fresh_client_answered_during_idle_flood(self):
        sources = FLOOD_SOURCES
        if raise_fd_limit(sources * PER_CLIENT + 256) < sources * PER_CLIENT + 256:
            sources = 100  # still four times the table
        db = make_store([("add", "192.0.2.0/24")])
        srv = Server(["--db", db, "--zone", "%s=%s" % (ZONE, ZONE_FILE), "--workers", "2",
                      "--tcp-max-clients", MAX_CLIENTS, "--tcp-max-per-client", PER_CLIENT,
                      "--tcp-idle-timeout", IDLE_TIMEOUT], listen=("127.0.0.1:0",))
        flood = Flood(srv.addr(), sources, PER_CLIENT)
        times = []
        try:
            flood.start()
            # Let the flood fill the table: everything it opened is either
            # held or was closed by the server (and is being retried).
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and flood.connects < len(flood.slots):
                time.sleep(0.1)
            time.sleep(1.0)
            self.assertGreaterEqual(flood.held(), MAX_CLIENTS, "the flood does not fill the table")
            self.assertGreater(flood.closed, 0, "the table never filled")
            for r in range(ROUNDS):
                ans, took = ask_tcp_once(srv, "127.0.2.%d" % (r + 1), ANSWER_WITHIN)
                times.append(took)
                self.assertIsNotNone(ans, "round %d: no TCP answer within %.1f s during the flood "
                                     "(%d connects, %d closed by the server)"
                                     % (r, ANSWER_WITHIN, flood.connects, flood.closed))
                self.assertAnswer(ans, "A", {"127.0.0.2"})
                t0 = time.monotonic()
                wire = udp_from(srv, "127.0.3.1", make_query(LISTED).to_wire(), timeout=QUERY_TIMEOUT)
                self.assertIsNotNone(wire, "round %d: UDP unanswered during the flood" % r)
                self.assertLess(time.monotonic() - t0, ANSWER_WITHIN)
                self.assertAnswer(parse(wire), "A", {"127.0.0.2"})
                time.sleep(0.05)
        finally:
            flood.stop()
            print("fresh TCP client: answered in %s s (max %.3f); flood: %d connects, %d closed"
                  % (" ".join("%.3f" % t for t in times), max(times or [0]), flood.connects,
                     flood.closed))
            srv.stop_clean()
        c = served(srv)
        self.assertGreaterEqual(c["tcp shed"], ROUNDS, c)
        self.assertIsNotNone(srv.wait_log(r"warn: tcp: closed the longest-idle connection, from "
                                          r"127\.0\.\d+\.\d+#\d+, to admit one from "
                                          r"127\.0\.\d+\.\d+#\d+", 0), srv.log()[-2000:])


class TcpPressureTimeoutTest(DnsAssertions, unittest.TestCase):
    """More than half the table open: idle connections are closed after a
    tenth of tcp_idle_timeout, old ones as well as new ones; at most half
    open, they are left alone. A query sent a byte at a time is no
    activity. One worker: with two, the first to sweep
    may bring the table back to half, and the other rightly keeps its own."""

    def test_idle_timeout_shortened_over_half_full(self):
        idle = 20  # 2 s under pressure
        db = make_store([("add", "192.0.2.0/24")])
        srv = Server(["--db", db, "--zone", "%s=%s" % (ZONE, ZONE_FILE), "--workers", "1",
                      "--tcp-max-clients", 10, "--tcp-max-per-client", 10,
                      "--tcp-idle-timeout", idle], listen=("127.0.0.1:0",))
        conns = []
        try:
            def open_from(src):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.settimeout(QUERY_TIMEOUT)
                s.bind((src, 0))
                s.connect(srv.addr())
                conns.append(s)
                return s

            half = [open_from("127.0.4.%d" % i) for i in range(1, 6)]
            t0 = time.monotonic()
            # Half full, not more: the long timeout holds. Meanwhile the
            # first sends a query a byte at a time, which never ends: bytes
            # that make no query do not count as activity.
            half[0].sendall(b"\x00\x40")
            for _ in range(6):
                time.sleep(0.5)
                half[0].sendall(b"\x00")
            for s in half:
                s.setblocking(False)
                try:
                    self.assertNotEqual(s.recv(1), b"", "closed at half full")
                except BlockingIOError:
                    pass
            # One more is more than half: the five idle for 3 s are past
            # the shortened timeout (idle / 10) and go at once; that leaves
            # one open, no pressure, and it stays.
            more = open_from("127.0.4.6")
            t1 = time.monotonic()
            for s in half:
                s.setblocking(True)
                s.settimeout(max(0.1, t1 + 1.5 - time.monotonic()))
                try:
                    self.assertEqual(s.recv(1), b"")
                except ConnectionResetError:
                    pass
                except socket.timeout:
                    self.fail("an idle connection outlived the shortened timeout")
            more.settimeout(idle / 10 + 1)
            with self.assertRaises(socket.timeout, msg="closed without pressure"):
                more.recv(1)
            self.assertLess(time.monotonic() - t0, idle)
            srv.query(LISTED, tcp=True)  # and TCP serves as before
        finally:
            for s in conns:
                s.close()
            srv.stop_clean()
        self.assertGreaterEqual(served(srv)["tcp timeouts"], 5)


if __name__ == "__main__":
    unittest.main()
