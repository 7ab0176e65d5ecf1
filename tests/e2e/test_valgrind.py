"""dnsbld under valgrind's memcheck: started on a small store, asked a few
questions over UDP and TCP (IPv4 and IPv6), reloaded with SIGHUP and
stopped with SIGTERM, it exits 0 with no memory error and no definite or
indirect leak. Skipped when valgrind is missing, and in the sanitizer
build (AddressSanitizer and valgrind cannot run together; that build
finds leaks itself)."""

import os
import re
import shutil
import signal
import stat
import unittest

import dnsbltest
from dnsbltest import (ZONE_FILE, DnsAssertions, Server, make_store, tmpdir, v4name, v6name)

ZONE = "bl.example"
VALGRIND = shutil.which("valgrind")
EXIT_WAIT = 60  # valgrind's leak check at exit takes a while


def built_with_asan(path):
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


@unittest.skipUnless(VALGRIND, "valgrind is not installed (deps.sh installs it)")
class ValgrindTest(DnsAssertions, unittest.TestCase):
    def setUp(self):
        if built_with_asan(dnsbltest.DNSBLD):
            self.skipTest("dnsbld is built with AddressSanitizer: valgrind runs in the plain build")
        self.dir = tmpdir("dnsbl-valgrind-")
        self.vglog = os.path.join(self.dir, "valgrind.log")
        # dnsbltest starts DNSBLD with its own arguments: put valgrind in front
        # through a wrapper.
        wrapper = os.path.join(self.dir, "dnsbld-valgrind")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec %s --leak-check=full --error-exitcode=99 "
                    "--errors-for-leak-kinds=definite,indirect "
                    "--show-leak-kinds=definite,indirect --track-fds=no "
                    "--log-file=%s %s \"$@\"\n" % (VALGRIND, self.vglog, dnsbltest.DNSBLD))
        os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IXUSR)
        self.real = dnsbltest.DNSBLD
        dnsbltest.DNSBLD = wrapper
        self.addCleanup(setattr, dnsbltest, "DNSBLD", self.real)

    def test_clean_shutdown_without_leaks(self):
        db = make_store([("add", "192.0.2.0/24", "--reason", "spam source"),
                         ("add", "2001:db8:1::/48", "--reason", "v6 net")])
        srv = Server(["--db", db, "--zone", "%s=%s" % (ZONE, ZONE_FILE), "--zone", "other.example",
                      "--workers", "2"], ready_timeout=60)
        try:
            for tcp in (False, True):
                for v6 in (False, True):
                    kw = dict(tcp=tcp, v6=v6, timeout=5)
                    self.assertAnswer(srv.query(v4name("192.0.2.7"), **kw), "A", {"127.0.0.2"})
                    self.assertAnswer(srv.query(v6name("2001:db8:1::1"), "TXT", **kw), "TXT")
                    self.assertNxdomain(srv.query(v4name("192.0.3.7"), **kw), ZONE)
            self.assertAnswer(srv.query("long." + ZONE, "TXT", tcp=True, timeout=5), "TXT")
            mark = srv.mark()
            srv.signal(signal.SIGHUP)
            self.assertIsNotNone(srv.wait_log(r"info: reloaded", 30, since=mark), srv.log())
            self.assertAnswer(srv.query(v4name("192.0.2.7"), timeout=5), "A", {"127.0.0.2"})
            srv.signal(signal.SIGTERM)
            rc = srv.proc.wait(EXIT_WAIT)
        finally:
            srv.stop()
        with open(self.vglog) as f:
            report = f.read()
        self.assertEqual(rc, 0, "exit status %s (99: valgrind found errors or leaks)\n%s\n%s"
                         % (rc, report, srv.log()))
        self.assertIn("ERROR SUMMARY: 0 errors", report)
        self.assertNotRegex(report, r"definitely lost: [1-9]")
        self.assertNotRegex(report, r"indirectly lost: [1-9]")
        self.assertNotIn("Invalid read", report)
        self.assertNotIn("Invalid write", report)
        self.assertNotIn("uninitialised", report)


if __name__ == "__main__":
    unittest.main()
