"""Hostile traffic and privileges against the real dnsbld: response rate
limiting (drops, slips, TCP never limited, other prefixes untouched, one
budget per prefix whatever the source port), zone ACLs (allow, refuse, the
error answer) over UDP and TCP, TCP connection limits with many idle
connections, minimal ANY over UDP, and dropping root (--user, --chroot,
--refuse-root; those need root and are skipped otherwise).

Every client address is a loopback one: on Linux all of 127.0.0.0/8 is
local, so a socket bound to 127.0.0.2 is a second client."""

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import time
import unittest

import dns.flags
import dns.rcode

from dnsbltest import (DNSBLD, QUERY_TIMEOUT, ZONE_FILE, DnsAssertions, Server, ServerError,
                       clean_env, ctl_ok, frame, make_query, make_store, parse, recv_frame,
                       tmpdir, txt_strings, udp_from, v4name)

ZONE = "bl.example"
OTHER = "other.example"
LISTED = v4name("192.0.2.7")
ERROR_TXT = ("Query refused: this list is not for public resolvers; "
             "query it from your own resolver")
# Sanitized builds: LeakSanitizer reads /proc/PID/task at exit, which a
# chroot hides; everything else stays checked there.
NO_LEAK_CHECK = {"ASAN_OPTIONS": "detect_leaks=0"}


def is_root():
    return os.geteuid() == 0


def nobody():
    try:
        import pwd
        return pwd.getpwnam("nobody")
    except KeyError:
        return None


# --- talking from a chosen source address ---------------------------------

def tcp_open(srv, src, v6=False, timeout=QUERY_TIMEOUT):
    host, port = srv.addr(v6)
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect((host, port))
    return s


def tcp_from(srv, src, wire, v6=False, timeout=QUERY_TIMEOUT):
    try:
        with tcp_open(srv, src, v6, timeout) as s:
            s.sendall(frame(wire))
            return recv_frame(s, timeout)
    except OSError:
        return None


def ask_from(srv, src, name, rdtype="A", tcp=False, v6=False):
    q = make_query(name, rdtype)
    wire = (tcp_from if tcp else udp_from)(srv, src, q.to_wire(), v6=v6)
    if wire is None:
        raise ServerError("no answer to %s %s from %s over %s"
                          % (name, rdtype, src, "tcp" if tcp else "udp"))
    return parse(wire)


def closed_by_peer(socks, wait=0.5):
    """Which sockets the server has closed (EOF or reset) within wait."""
    closed = set()
    deadline = time.monotonic() + wait
    while len(closed) < len(socks):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([s for s in socks if s not in closed], [], [], left)
        for s in ready:
            try:
                if s.recv(1) == b"":
                    closed.add(s)
            except OSError:
                closed.add(s)
    return closed


def served(srv):
    """The counters of the last "served:" line, as a dict."""
    line = srv.wait_log(r"info: served: ", 1) or ""
    pairs = re.findall(r"([a-z]+(?: [a-z]+)*) (\d+)", line.split("served: ")[-1])
    return {k: int(v) for k, v in pairs}


def blast(srv, n, srcs=("127.0.0.1",), sockets=1, chunk=50):
    """n queries for LISTED over UDP, spread over that many client sockets
    (source ports) bound in turn to each address of srcs; returns (answers
    as messages, seconds spent)."""
    host, port = srv.addr()
    socks = []
    for i in range(sockets):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((srcs[i % len(srcs)], 0))
        s.setblocking(False)
        socks.append(s)
    got = []

    def drain(wait):
        deadline = time.monotonic() + wait
        while True:
            ready, _, _ = select.select(socks, [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                return
            for s in ready:
                try:
                    got.append(parse(s.recv(65535)))
                except BlockingIOError:
                    pass

    start = time.monotonic()
    try:
        for i in range(n):
            q = make_query(LISTED, qid=i % 65536).to_wire()
            try:
                socks[i % sockets].sendto(q, (host, port))
            except BlockingIOError:
                drain(0.01)
            if i % chunk == chunk - 1:
                drain(0)
        spent = time.monotonic() - start
        drain(0.5)
    finally:
        for s in socks:
            s.close()
    return got, spent


# --- response rate limiting ----------------------------------------------

class RrlTest(DnsAssertions, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.db = make_store([("add", "192.0.2.0/24", "--reason", "spam run")])

    def start(self, *extra, listen=("127.0.0.1:0", "[::1]:0")):
        return Server(["--db", self.db, "--zone", "%s=%s" % (ZONE, ZONE_FILE), "--workers", "2"]
                      + [str(a) for a in extra], listen=listen)

    def split(self, answers):
        full = [a for a in answers if not a.flags & dns.flags.TC]
        tc = [a for a in answers if a.flags & dns.flags.TC]
        for a in full:
            self.assertAnswer(a, "A", {"127.0.0.2"})
        for a in tc:
            # A slipped answer: the question and TC, nothing else, never a listing.
            self.assertRcode(a, dns.rcode.NOERROR)
            self.assertEqual((a.answer, a.authority, a.additional), ([], [], []), str(a))
            self.assertEqual(len(a.question), 1)
        return full, tc

    def test_burst_is_limited(self):
        rate, n = 50, 2000
        srv = self.start("--rrl-rate", rate, "--rrl-ipv4-prefix", 32)
        try:
            self.assertIsNotNone(srv.wait_log(r"info: rate limiting UDP answers to 50 a second "
                                              r"per /32 \(IPv4\) or /56 \(IPv6\), slip 2", 1))
            answers, spent = blast(srv, n)
            full, tc = self.split(answers)
            # One second's worth at once, then the rate: never more.
            self.assertGreaterEqual(len(full), rate * 0.8)
            self.assertLessEqual(len(full), rate * (1 + spent + 0.2) + 2, "spent %.2f s" % spent)
            limited = n - len(full)
            # slip 2: every second limited answer goes out truncated, the rest are dropped.
            self.assertGreater(len(tc), 0)
            self.assertLessEqual(len(tc), limited // 2 + 1)
            self.assertGreaterEqual(len(tc), limited // 2 * 0.9)
            # TCP proves the source address: never limited.
            for _ in range(3):
                self.assertAnswer(srv.query(LISTED, tcp=True), "A", {"127.0.0.2"})
            # Another client (its own /32) is not limited.
            self.assertAnswer(ask_from(srv, "127.0.0.2", LISTED), "A", {"127.0.0.2"})
            self.assertAnswer(srv.query(LISTED, v6=True), "A", {"127.0.0.2"})
        finally:
            srv.stop_clean()
        c = served(srv)
        self.assertEqual(c["rrl limited"], c["rrl dropped"] + c["rrl slipped"], c)
        self.assertGreaterEqual(c["rrl slipped"], len(tc))
        self.assertLessEqual(c["rrl limited"], limited)
        self.assertGreaterEqual(c["rrl limited"], limited - 20)
        self.assertEqual(c["tcp queries"], 3)

    def test_slip_zero_and_one(self):
        for slip, want_tc in ((0, False), (1, True)):
            with self.subTest(slip=slip):
                srv = self.start("--rrl-rate", 10, "--rrl-slip", slip)
                try:
                    answers, _ = blast(srv, 300)
                    full, tc = self.split(answers)
                    self.assertLessEqual(len(full), 20)
                    if want_tc:
                        self.assertEqual(len(full) + len(tc), 300)
                    else:
                        self.assertEqual(tc, [])
                finally:
                    srv.stop_clean()
                c = served(srv)
                self.assertEqual(c["rrl slipped" if want_tc else "rrl dropped"], 300 - len(full))

    def test_one_budget_per_prefix_whatever_the_port(self):
        # 400 client sockets of one /24 (two addresses in it) over 4
        # workers: the kernel would spread them over the workers by source
        # port; dnsbld steers them by prefix, so the whole server answers
        # the rate, not 4 times it.
        rate = 20
        srv = self.start("--rrl-rate", rate, "--workers", 4, listen=("127.0.0.1:0",))
        try:
            if srv.wait_log(r"cannot steer clients", 0.2):
                self.skipTest("the kernel refused the reuseport BPF program")
            answers, spent = blast(srv, 400, srcs=("127.0.0.1", "127.0.0.2"), sockets=400)
            full, _ = self.split(answers)
            self.assertGreaterEqual(len(full), rate * 0.8)
            self.assertLessEqual(len(full), rate * (1 + spent + 0.2) + 2, "spent %.2f s" % spent)
        finally:
            srv.stop_clean()

    def test_off_by_default(self):
        srv = self.start()
        try:
            answers, _ = blast(srv, 300)
            full, tc = self.split(answers)
            self.assertEqual((len(full), tc), (300, []))
        finally:
            srv.stop_clean()
        self.assertEqual(served(srv)["rrl limited"], 0)


# --- zone ACLs -------------------------------------------------------------

ACL_CONF = """
zone "bl.example" {
    file = "%(zone_file)s"
    acl {
        refuse = {"127.0.0.2/32"}
        error = {"127.0.0.3/32", "::1"}
    }
}
zone "other.example" {
    acl {
        refuse = {"0.0.0.0/0", "::/0"}
        allow = {"127.0.0.1/32"}
        error = {"127.0.0.3"}
        error_code = "127.255.255.255"
        error_txt = "rate exceeded"
        error_ttl = 30
    }
}
"""


class AclTest(DnsAssertions, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        db = make_store([("add", "192.0.2.0/24", "--reason", "spam run")])
        cls.conf = os.path.join(tmpdir(), "dnsbld.conf")
        with open(cls.conf, "w") as f:
            f.write(ACL_CONF % {"zone_file": ZONE_FILE})
        cls.srv = Server(["--config", cls.conf, "--db", db])

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop_clean()

    def assertErrorAnswer(self, r, code, ttl, txt):
        self.assertAuthoritative(r)
        self.assertRcode(r, dns.rcode.NOERROR)
        a = [rr for rr in r.answer if rr.rdtype == dns.rdatatype.A]
        t = [rr for rr in r.answer if rr.rdtype == dns.rdatatype.TXT]
        self.assertEqual(len(a), 1, str(r))
        self.assertEqual({rd.to_text() for rd in a[0]}, {code})
        self.assertEqual(a[0].ttl, ttl)
        self.assertEqual(txt_strings(t[0]), [txt])
        self.assertEqual(t[0].ttl, ttl)

    def test_allowed_client(self):
        for tcp in (False, True):
            with self.subTest(tcp=tcp):
                for zone in (ZONE, OTHER):
                    r = ask_from(self.srv, "127.0.0.1", v4name("192.0.2.7", zone), tcp=tcp)
                    self.assertAnswer(r, "A", {"127.0.0.2"})

    def test_refused_client(self):
        for tcp in (False, True):
            with self.subTest(tcp=tcp):
                for name, rdtype in ((LISTED, "A"), (ZONE, "SOA"),
                                     (v4name("192.0.2.7", OTHER), "A"), (OTHER, "SOA")):
                    r = ask_from(self.srv, "127.0.0.2", name, rdtype, tcp=tcp)
                    self.assertRcode(r, dns.rcode.REFUSED)
                    self.assertFalse(r.flags & dns.flags.AA)
                    self.assertEqual(r.answer, [])
                # ::1 is in ::/0 for other.example.
                r = ask_from(self.srv, "::1", v4name("192.0.2.7", OTHER), tcp=tcp, v6=True)
                self.assertRcode(r, dns.rcode.REFUSED)

    def test_error_client(self):
        for tcp in (False, True):
            with self.subTest(tcp=tcp):
                # Listed, unlisted and the test point alike: the error code.
                for ip in ("192.0.2.7", "192.0.3.7", "127.0.0.2"):
                    r = ask_from(self.srv, "127.0.0.3", v4name(ip), "ANY", tcp=tcp)
                    self.assertErrorAnswer(r, "127.255.255.254", 60, ERROR_TXT)
                    r = ask_from(self.srv, "::1", v4name(ip), "ANY", tcp=tcp, v6=True)
                    self.assertErrorAnswer(r, "127.255.255.254", 60, ERROR_TXT)
                r = ask_from(self.srv, "127.0.0.3", v4name("192.0.2.7", OTHER), "ANY", tcp=tcp)
                self.assertErrorAnswer(r, "127.255.255.255", 30, "rate exceeded")
                # A alone, and the apex as usual.
                r = ask_from(self.srv, "127.0.0.3", LISTED, "A", tcp=tcp)
                self.assertAnswer(r, "A", {"127.255.255.254"}, ttl=60)
                r = ask_from(self.srv, "127.0.0.3", ZONE, "SOA", tcp=tcp)
                self.assertAnswer(r, "SOA")

    def test_reload_changes_acl(self):
        with open(self.conf) as f:
            text = f.read()
        try:
            with open(self.conf, "w") as f:
                f.write(text.replace('refuse = {"127.0.0.2/32"}', 'allow = {"127.0.0.2/32"}'))
            mark = self.srv.mark()
            self.srv.signal(signal.SIGHUP)
            self.assertIsNotNone(self.srv.wait_log(r"info: reloaded", 5, since=mark),
                                 self.srv.log())
            self.assertAnswer(ask_from(self.srv, "127.0.0.2", LISTED), "A", {"127.0.0.2"})
        finally:
            with open(self.conf, "w") as f:
                f.write(text)
            mark = self.srv.mark()
            self.srv.signal(signal.SIGHUP)
            self.srv.wait_log(r"info: reloaded", 5, since=mark)
        self.assertRcode(ask_from(self.srv, "127.0.0.2", LISTED), dns.rcode.REFUSED)


# --- TCP limits -----------------------------------------------------------

class TcpLimitTest(DnsAssertions, unittest.TestCase):

    def test_idle_connections_cannot_starve_others(self):
        db = make_store([("add", "192.0.2.0/24")])
        idle = 60  # a tenth of it (6 s) while more than half the table is open
        # One worker: which connection is the longest idle is then the
        # server's, not the kernel's pick of a worker.
        srv = Server(["--db", db, "--zone", "%s=%s" % (ZONE, ZONE_FILE), "--workers", "1",
                      "--tcp-max-clients", 12, "--tcp-max-per-client", 4,
                      "--tcp-idle-timeout", idle], listen=("127.0.0.1:0",))
        conns = []
        try:
            # Six from one client: four stay, the two over the limit are closed at once.
            first = [tcp_open(srv, "127.0.0.1") for _ in range(6)]
            conns += first
            closed = closed_by_peer(first)
            self.assertEqual(len(closed), 2, srv.log())
            kept = [s for s in first if s not in closed]
            kept[0].sendall(frame(make_query(LISTED).to_wire()))
            self.assertIsNotNone(recv_frame(kept[0]), "a kept connection still answers")
            # UDP from that client and a fresh TCP client elsewhere are answered.
            self.assertAnswer(ask_from(srv, "127.0.0.1", LISTED), "A", {"127.0.0.2"})
            self.assertAnswer(ask_from(srv, "127.0.0.9", LISTED, tcp=True), "A", {"127.0.0.2"})

            # Up to the global cap from more sources: 4 + 4 + 4 = 12.
            time.sleep(0.5)  # the server has seen the fresh client go
            more = [tcp_open(srv, src) for src in ("127.0.0.2", "127.0.0.3") for _ in range(4)]
            conns += more
            self.assertEqual(closed_by_peer(more), set(), srv.log())
            # One more from elsewhere: the longest-idle connection (one of
            # the first client's that never asked anything) makes room.
            over = tcp_open(srv, "127.0.0.4")
            conns.append(over)
            open_now = kept + more
            shed = closed_by_peer(open_now + [over])
            self.assertEqual(len(shed), 1, srv.log())
            self.assertIn(shed.pop(), kept[1:])
            over.sendall(frame(make_query(LISTED).to_wire()))
            self.assertIsNotNone(recv_frame(over), "the admitted connection answers")
            # UDP goes on, from anywhere.
            for src in ("127.0.0.1", "127.0.0.4", "127.0.0.5"):
                self.assertAnswer(ask_from(srv, src, LISTED), "A", {"127.0.0.2"})

            # More than half open: idle ones are closed after idle / 10
            # (the last one too, if it is past that when the rest go), and
            # then TCP serves again.
            gone = closed_by_peer([s for s in conns if s not in closed and s is not over],
                                  wait=idle / 10 + 3)
            self.assertEqual(len(gone), 12)
            self.assertAnswer(ask_from(srv, "127.0.0.4", LISTED, tcp=True), "A", {"127.0.0.2"})
        finally:
            for s in conns:
                s.close()
            srv.stop_clean()
        c = served(srv)
        self.assertEqual(c["tcp refused"], 2, c)
        self.assertEqual(c["tcp shed"], 1, c)
        self.assertGreaterEqual(c["tcp timeouts"], 11, c)
        self.assertIsNotNone(srv.wait_log(r"warn: tcp: closed a connection from 127\.0\.0\.1#\d+: "
                                          r"it has 4 open \(tcp_max_per_client\)", 0))
        self.assertIsNotNone(srv.wait_log(r"warn: tcp: closed the longest-idle connection, from "
                                          r"127\.0\.0\.1#\d+, to admit one from 127\.0\.0\.4#\d+: "
                                          r"12 are open \(tcp_max_clients\)", 0))
        # At most one such line a second.
        lines = [l for l in srv.lines if "tcp: closed a connection" in l]
        stamps = [l.split(" ")[0] for l in lines]
        self.assertEqual(len(stamps), len(set(stamps)), lines)


# --- amplification --------------------------------------------------------

class AnyTest(DnsAssertions, unittest.TestCase):

    def test_any_minimal_over_udp(self):
        db = make_store([("add", "192.0.2.0/24", "--reason", "spam run")])
        with Server(["--db", db, "--zone", "%s=%s" % (ZONE, ZONE_FILE)]) as srv:
            for v6 in (False, True):
                r = srv.query(ZONE, "ANY", v6=v6, edns=0)
                self.assertEqual([rr.rdtype for rr in r.answer], [dns.rdatatype.SOA], str(r))
                self.assertFalse(r.flags & dns.flags.TC)
                r = srv.query(ZONE, "ANY", tcp=True, v6=v6)
                self.assertGreater(len(r.answer), 1)
                r = srv.query(LISTED, "ANY", v6=v6)
                self.assertEqual({rr.rdtype for rr in r.answer},
                                 {dns.rdatatype.A, dns.rdatatype.TXT})


# --- options ------------------------------------------------------------

class OptionTest(unittest.TestCase):

    def test_bad_values_are_usage_errors(self):
        for opt, val, want in (("--rrl-rate", "lots", "--rrl-rate 'lots': give a number from 0"),
                               ("--rrl-slip", "101", "--rrl-slip '101'"),
                               ("--rrl-ipv4-prefix", "33", "from 0 to 32"),
                               ("--rrl-ipv6-prefix", "-1", "from 0 to 128"),
                               ("--tcp-max-clients", "0", "from 1 to 65535"),
                               ("--tcp-max-per-client", "65536", "from 1 to 65535"),
                               ("--tcp-idle-timeout", "0", "from 1 to 86400"),
                               ("--tcp-max-queries", "x", "--tcp-max-queries 'x'"),
                               ("--user", "", "--user ''"),
                               ("--now", "tomorrow", "--now 'tomorrow': give unix seconds")):
            with self.subTest(opt=opt):
                p = subprocess.run([DNSBLD, opt, val], capture_output=True, text=True, timeout=10,
                                   env=clean_env())
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(want, p.stderr)
        p = subprocess.run([DNSBLD, "--help"], capture_output=True, text=True, timeout=10)
        for opt in ("--rrl-rate", "--rrl-slip", "--rrl-ipv4-prefix", "--rrl-ipv6-prefix",
                    "--tcp-max-clients", "--tcp-max-per-client", "--tcp-idle-timeout",
                    "--tcp-max-queries", "--user", "--chroot", "--refuse-root", "--now"):
            self.assertIn(opt, p.stdout)


# --- privileges -----------------------------------------------------------

def proc_ids(pid, key):
    """The four ids of the Uid: or Gid: line of every thread of pid."""
    ids = set()
    for task in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, task)) as f:
            for line in f:
                if line.startswith(key + ":"):
                    ids.add(tuple(int(x) for x in line.split()[1:]))
    return ids


@unittest.skipUnless(is_root() and nobody(), "needs root and a user 'nobody'")
class PrivilegeTest(DnsAssertions, unittest.TestCase):

    def run_dnsbld(self, *args):
        p = subprocess.run([DNSBLD, "--listen", "127.0.0.1:0"] + [str(a) for a in args],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20,
                           env=clean_env())
        return p.returncode, p.stderr

    def zone_file_for_nobody(self, pw):
        """A copy of the zone file that nobody can read again on a reload:
        the checkout itself may sit in a folder only root can enter."""
        d = tmpdir("dnsbl-nobody-")
        os.chmod(d, 0o755)
        zone_file = os.path.join(d, os.path.basename(ZONE_FILE))
        shutil.copy(ZONE_FILE, zone_file)
        os.chmod(zone_file, 0o644)
        probe = subprocess.run(["test", "-r", zone_file], user=pw.pw_uid, group=pw.pw_gid,
                               extra_groups=[], timeout=10)
        if probe.returncode != 0:
            self.skipTest("user nobody cannot reach %s (is TMPDIR private?)" % zone_file)
        return zone_file

    def test_user_drops_root(self):
        pw = nobody()
        db = make_store([("add", "192.0.2.0/24")])
        zone_file = self.zone_file_for_nobody(pw)
        srv = Server(["--db", db, "--zone", "%s=%s" % (ZONE, zone_file), "--user", "nobody",
                      "--workers", "2"])
        try:
            self.assertIsNotNone(srv.wait_log(r"info: running as user nobody \(uid %d, gid %d\)"
                                              % (pw.pw_uid, pw.pw_gid), 1))
            self.assertIsNone(srv.wait_log(r"RUNNING AS ROOT", 0))
            self.assertEqual(proc_ids(srv.pid, "Uid"), {(pw.pw_uid,) * 4})
            self.assertEqual(proc_ids(srv.pid, "Gid"), {(pw.pw_gid,) * 4})
            for tcp in (False, True):
                self.assertAnswer(srv.query(LISTED, tcp=tcp), "A", {"127.0.0.2"})
            # The store was opened before the switch (its directory is
            # root's, mode 0700): a new listing is still seen at once.
            ctl_ok("add", "198.51.100.8", db=db)
            self.assertAnswer(srv.query(v4name("198.51.100.8")), "A", {"127.0.0.2"})
            mark = srv.mark()
            srv.signal(signal.SIGHUP)  # nobody can read the zone file
            self.assertIsNotNone(srv.wait_log(r"info: reloaded", 5, since=mark), srv.log())
        finally:
            rc = srv.stop()
        self.assertEqual(rc, 0, srv.log())
        self.assertEqual(srv.sanitizer_reports(), [])

    def test_root_warns_or_refuses(self):
        db = make_store()
        zone = "--zone=%s=%s" % (ZONE, ZONE_FILE)
        with Server(["--db", db, zone]) as srv:
            self.assertIsNotNone(srv.wait_log(r"warn: RUNNING AS ROOT", 0))
        rc, err = self.run_dnsbld("--db", db, zone, "--refuse-root")
        self.assertEqual(rc, 1, err)
        self.assertIn("refusing to run as root", err)
        self.assertNotIn("listening on", err)
        conf = os.path.join(tmpdir(), "dnsbld.conf")
        with open(conf, "w") as f:
            f.write("refuse_root = true\n")
        rc, err = self.run_dnsbld("--config", conf, "--db", db, zone)
        self.assertEqual(rc, 1, err)
        self.assertIn("refusing to run as root", err)
        rc, err = self.run_dnsbld("--db", db, zone, "--user", "no-such-user-here")
        self.assertEqual(rc, 1, err)
        self.assertIn("user no-such-user-here", err)

    def test_chroot(self):
        root = os.path.realpath(tmpdir("dnsbl-jail-"))
        os.chmod(root, 0o755)
        os.mkdir(os.path.join(root, "store"))
        ctl_ok("init", os.path.join(root, "store"))
        ctl_ok("add", "192.0.2.0/24", db=os.path.join(root, "store"))
        zone_file = os.path.join(root, "bl.example.zone")
        shutil.copy(ZONE_FILE, zone_file)
        os.chmod(zone_file, 0o644)
        conf = os.path.join(root, "dnsbld.conf")
        with open(conf, "w") as f:
            f.write('db = "store"\nzone "bl.example" { file = "bl.example.zone" }\n')
        os.chmod(conf, 0o644)
        srv = Server(["--config", conf, "--chroot", root, "--user", "nobody"], env=NO_LEAK_CHECK)
        try:
            self.assertEqual(os.readlink("/proc/%d/root" % srv.pid), root)
            self.assertAnswer(srv.query(LISTED), "A", {"127.0.0.2"})
            # A reload finds the files again, inside the chroot.
            with open(zone_file, "a") as f:
                f.write('jailed IN TXT "inside"\n')
            mark = srv.mark()
            srv.signal(signal.SIGHUP)
            self.assertIsNotNone(srv.wait_log(r"info: reloaded", 5, since=mark), srv.log())
            self.assertIsNone(srv.wait_log(r"error:", 0, since=mark), srv.log())
            r = srv.query("jailed." + ZONE, "TXT")
            self.assertEqual(txt_strings(self.assertAnswer(r, "TXT")), ["inside"])
        finally:
            rc = srv.stop()
        self.assertEqual(rc, 0, srv.log())


if __name__ == "__main__":
    unittest.main()
