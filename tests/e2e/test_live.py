"""Live data: what dnsblctl commits while dnsbld runs is answered within a
second, with no reload and no signal (LMDB readers see the next committed
snapshot)."""

import threading
import time
import unittest

import dns.rcode

from dnsbltest import (ZONE_FILE, DnsAssertions, Server, ctl_ok, make_store, txt_strings,
                       v4name, v6name)

ZONE = "bl.example"
WITHIN = 1.0  # seconds a committed change may take to show


class LiveTest(DnsAssertions, unittest.TestCase):

    def setUp(self):
        self.db = make_store([("add", "203.0.113.1", "--reason", "already there")])
        self.srv = Server(["--db", self.db, "--zone", "%s=%s" % (ZONE, ZONE_FILE)])
        self.addCleanup(self.srv.stop_clean)

    def ctl(self, *args):
        ctl_ok(*args, db=self.db)
        return time.monotonic()

    def wait_answer(self, since, name, rdtype, check, tcp=False, v6=False):
        """Query until check(answer) is true; fail if that takes more than
        WITHIN seconds after since (when dnsblctl returned)."""
        last = None
        while True:
            last = self.srv.query(name, rdtype, tcp=tcp, v6=v6)
            if check(last):
                return last
            if time.monotonic() - since > WITHIN:
                self.fail("%s %s not as expected %.1f s after the commit; last answer:\n%s"
                          % (name, rdtype, WITHIN, last))
            time.sleep(0.02)

    @staticmethod
    def is_a(code):
        return lambda r: (r.rcode() == dns.rcode.NOERROR and len(r.answer) == 1
                          and {rd.to_text() for rd in r.answer[0]} == {code})

    @staticmethod
    def is_nx(r):
        return r.rcode() == dns.rcode.NXDOMAIN

    def test_add_delist_allow_are_live(self):
        n7 = v4name("192.0.2.7")
        self.assertNxdomain(self.srv.query(n7), ZONE)

        t = self.ctl("add", "192.0.2.0/24", "--reason", "live listing")
        self.wait_answer(t, n7, "A", self.is_a("127.0.0.2"))
        r = self.wait_answer(t, n7, "TXT", lambda r: r.answer, tcp=True)
        self.assertEqual(txt_strings(r.answer[0]),
                         ["192.0.2.7 is listed in bl.example: live listing"])

        t = self.ctl("add", "192.0.2.9", "--code", "127.0.0.5", "--reason", "own code")
        self.wait_answer(t, v4name("192.0.2.9"), "A", self.is_a("127.0.0.5"), v6=True)

        # An allow over an operator's own listing asks for --force.
        t = self.ctl("allow", "192.0.2.9", "--reason", "customer", "--force")
        self.wait_answer(t, v4name("192.0.2.9"), "A", self.is_nx)
        self.assertAnswer(self.srv.query(n7), "A", {"127.0.0.2"})

        t = self.ctl("delist", "192.0.2.0/24", "--reason", "resolved")
        self.wait_answer(t, n7, "A", self.is_nx, tcp=True)
        self.assertNxdomain(self.srv.query(n7, "TXT"), ZONE)

        t = self.ctl("add", "192.0.2.0/24", "--reason", "back again")
        r = self.wait_answer(t, n7, "TXT", lambda r: r.answer)
        self.assertEqual(txt_strings(r.answer[0]),
                         ["192.0.2.7 is listed in bl.example: back again"])

        self.assertAnswer(self.srv.query(v4name("203.0.113.1")), "A", {"127.0.0.2"})

    def test_ipv6_is_live(self):
        name = v6name("2001:db8:5::1")
        self.assertNxdomain(self.srv.query(name, tcp=True, v6=True), ZONE)
        t = self.ctl("add", "2001:db8:5::/48", "--reason", "v6 live")
        self.wait_answer(t, name, "A", self.is_a("127.0.0.2"), tcp=True, v6=True)
        t = self.ctl("allow", "2001:db8:5::1", "--reason", "ok")
        self.wait_answer(t, name, "A", self.is_nx, v6=True)
        self.assertAnswer(self.srv.query(v6name("2001:db8:5::2")), "A", {"127.0.0.2"})

    def test_answers_go_on_during_writes(self):
        """Queries keep being answered while dnsblctl commits many changes."""
        stop = threading.Event()
        failures = []
        count = [0]

        def ask():
            deadline = time.monotonic() + 60
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    r = self.srv.query(v4name("203.0.113.1"), timeout=1.0)
                    if {rd.to_text() for rrset in r.answer for rd in rrset} != {"127.0.0.2"}:
                        failures.append(str(r))
                except Exception as e:  # a timeout is a failure here
                    failures.append(repr(e))
                count[0] += 1

        th = threading.Thread(target=ask)
        th.start()
        try:
            for i in range(20):
                self.ctl("add", "198.51.100.%d" % (i + 1), "--reason", "batch %d" % i)
        finally:
            stop.set()
            th.join(10)
        self.assertEqual(failures, [])
        self.assertGreater(count[0], 0)
        t = time.monotonic()
        self.wait_answer(t, v4name("198.51.100.20"), "A", self.is_a("127.0.0.2"))
        self.assertFalse(any("reload" in l.lower() for l in self.srv.lines),
                         "the server reloaded:\n" + self.srv.log())


if __name__ == "__main__":
    unittest.main()
