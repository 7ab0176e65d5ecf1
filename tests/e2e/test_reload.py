"""Signals: SIGHUP reloads the zone files (a broken file leaves the old data
in force and logs an error) while queries go on being answered; SIGTERM
stops the server cleanly."""

import os
import re
import shutil
import signal
import threading
import time
import unittest

from dnsbltest import (ZONE_FILE, DnsAssertions, Server, make_store, tmpdir, txt_strings,
                       v4name)

ZONE = "bl.example"
APEX_TXT = "bl.example DNSBL, see https://bl.example/"
RELOAD_WITHIN = 3.0


class Querier:
    """Asks two questions in a loop from a thread and records every
    failure (timeout or wrong answer) until stopped."""

    def __init__(self, srv):
        self.srv = srv
        self.failures = []
        self.count = 0
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        deadline = time.monotonic() + 90
        while not self._stop.is_set() and time.monotonic() < deadline:
            for name, want in ((v4name("192.0.2.7"), "127.0.0.2"),
                               (v4name("127.0.0.2"), "127.0.0.2")):
                try:
                    r = self.srv.query(name, timeout=1.0)
                    got = {rd.to_text() for rrset in r.answer for rd in rrset}
                    if got != {want}:
                        self.failures.append("%s: %s" % (name, r))
                except Exception as e:
                    self.failures.append("%s: %r" % (name, e))
                self.count += 1
            try:
                self.srv.query(ZONE, "SOA", timeout=1.0)
            except Exception as e:
                self.failures.append("SOA: %r" % e)
            time.sleep(0.005)

    def __enter__(self):
        self._th.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._th.join(10)


class ReloadTest(DnsAssertions, unittest.TestCase):

    def setUp(self):
        self.dir = tmpdir()
        self.zone = os.path.join(self.dir, "bl.example.zone")
        shutil.copyfile(ZONE_FILE, self.zone)
        db = make_store([("add", "192.0.2.0/24", "--reason", "spam source")])
        self.srv = Server(["--db", db, "--zone", "%s=%s" % (ZONE, self.zone)])
        self.addCleanup(self.srv.stop_clean)

    def write_zone(self, text):
        tmp = self.zone + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.zone)

    def edited(self, apex_txt=None, serial=None, extra=""):
        with open(ZONE_FILE) as f:
            text = f.read()
        if apex_txt is not None:
            text = text.replace('"%s"' % APEX_TXT, '"%s"' % apex_txt)
        if serial is not None:
            text = text.replace("2026112701", str(serial))
        return text + extra

    def apex_txt(self):
        r = self.srv.query(ZONE, "TXT")
        return txt_strings(r.answer[0]) if r.answer else []

    def hup_and_wait_txt(self, want):
        self.srv.signal(signal.SIGHUP)
        deadline = time.monotonic() + RELOAD_WITHIN
        while time.monotonic() < deadline:
            if self.apex_txt() == [want]:
                return
            time.sleep(0.05)
        self.fail("apex TXT still %r %.0f s after SIGHUP; log:\n%s"
                  % (self.apex_txt(), RELOAD_WITHIN, self.srv.log()))

    def hup_expect_error(self):
        mark = self.srv.mark()
        self.srv.signal(signal.SIGHUP)
        line = self.srv.wait_log(r"\berror:", RELOAD_WITHIN, since=mark)
        self.assertIsNotNone(line, "no error logged after SIGHUP with a broken zone file; log:\n"
                             + self.srv.log())
        return line

    def test_sighup_reloads_the_zone_file(self):
        with Querier(self.srv) as qr:
            self.write_zone(self.edited(apex_txt="new text 1", serial=2026112702,
                                        extra='added IN TXT "a new name"\n'))
            self.hup_and_wait_txt("new text 1")
            soa = self.srv.query(ZONE, "SOA", tcp=True)
            self.assertEqual(soa.answer[0][0].serial, 2026112702)
            self.assertAnswer(self.srv.query("added." + ZONE, "TXT"), "TXT")

            self.write_zone(self.edited(apex_txt="new text 2"))
            self.hup_and_wait_txt("new text 2")
            self.assertNxdomain(self.srv.query("added." + ZONE, "TXT"), ZONE, 600)
            time.sleep(0.2)
        self.assertEqual(qr.failures, [], "queries failed during the reloads")
        self.assertGreater(qr.count, 10)
        self.assertTrue(self.srv.alive())

    def test_broken_zone_file_keeps_the_old_data(self):
        self.write_zone(self.edited(apex_txt="good text"))
        self.hup_and_wait_txt("good text")
        broken = [
            self.edited(apex_txt="bad text", extra="ns3 IN A 999.1.2.3\n"),
            self.edited(apex_txt="bad text").split("600 )")[0],       # cut inside the SOA
            "",                                                       # empty: no SOA
            self.edited(apex_txt="bad text").replace("IN  SOA", "IN  SAO"),
        ]
        with Querier(self.srv) as qr:
            for i, text in enumerate(broken):
                with self.subTest(i=i):
                    self.write_zone(text)
                    self.hup_expect_error()
                    time.sleep(0.1)
                    self.assertEqual(self.apex_txt(), ["good text"])
                    self.assertAnswer(self.srv.query("ns1." + ZONE, "A"), "A", {"192.0.2.53"})
                    self.assertAnswer(self.srv.query(v4name("192.0.2.7")), "A", {"127.0.0.2"})
            os.unlink(self.zone)
            self.hup_expect_error()
            self.assertEqual(self.apex_txt(), ["good text"])
            self.write_zone(self.edited(apex_txt="fixed text"))
            self.hup_and_wait_txt("fixed text")
        self.assertEqual(qr.failures, [], "queries failed during the reloads")
        self.assertTrue(self.srv.alive())

    def test_sighup_rereads_the_config_file(self):
        conf = os.path.join(self.dir, "dnsbld.conf")
        zone_conf = 'zone "bl.example" {\n  file = "bl.example.zone"\n  ttl = %d\n  txt = "%s"\n}\n'
        with open(conf, "w") as f:
            f.write(zone_conf % (300, "first: {reason}"))
        db = make_store([("add", "192.0.2.0/24", "--reason", "spam source")])
        with Server(["--config", conf, "--db", db]) as srv:
            r = srv.query(v4name("192.0.2.7"), "TXT")
            self.assertAnswer(r, "TXT", ttl=300)
            self.assertEqual(txt_strings(r.answer[0]), ["first: spam source"])
            with open(conf + ".tmp", "w") as f:
                f.write(zone_conf % (60, "second: {reason}") + 'zone "other.example" {\n}\n')
            os.replace(conf + ".tmp", conf)
            srv.signal(signal.SIGHUP)
            deadline = time.monotonic() + RELOAD_WITHIN
            while time.monotonic() < deadline:
                r = srv.query(v4name("192.0.2.7"), "TXT")
                if txt_strings(r.answer[0]) == ["second: spam source"]:
                    break
                time.sleep(0.05)
            self.assertEqual(txt_strings(r.answer[0]), ["second: spam source"], srv.log())
            self.assertAnswer(r, "TXT", ttl=60)
            self.assertAnswer(srv.query(v4name("192.0.2.7", "other.example")), "A",
                              {"127.0.0.2"})

            with open(conf, "a") as f:
                f.write("tcp_idle_timeout = 0\n")  # out of range: the reload must fail
            mark = srv.mark()
            srv.signal(signal.SIGHUP)
            self.assertIsNotNone(srv.wait_log(r"\berror:.*dnsbld\.conf", RELOAD_WITHIN, mark),
                                 srv.log())
            r = srv.query(v4name("192.0.2.7"), "TXT")
            self.assertEqual(txt_strings(r.answer[0]), ["second: spam source"])

    def test_sigterm_stops_cleanly(self):
        self.srv.query(v4name("192.0.2.7"))
        self.srv.query(ZONE, "SOA", tcp=True)
        open_conn = self.srv.tcp_connect()  # an open TCP connection must not hold it up
        try:
            start = time.monotonic()
            rc = self.srv.stop()
            took = time.monotonic() - start
        finally:
            open_conn.close()
        self.assertEqual(rc, 0, "exit status after SIGTERM; log:\n" + self.srv.log())
        self.assertLess(took, 3.0)
        self.assertEqual(self.srv.sanitizer_reports(), [])
        self.assertFalse(any(re.search(r"\berror:", l) for l in self.srv.lines),
                         "errors logged:\n" + self.srv.log())


if __name__ == "__main__":
    unittest.main()
