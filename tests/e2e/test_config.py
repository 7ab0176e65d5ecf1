"""dnsbld's configuration file: per-zone policy (ttl, code, txt template),
paths relative to the file, the command line replacing what the file says,
the shipped example config, and refusing to start on bad input."""

import os
import shutil
import subprocess
import unittest

from dnsbltest import (DNSBLD, SOURCE, TRANSPORTS, ZONE_FILE, DnsAssertions, Server, make_store,
                       tmpdir, txt_strings, v4name)

STORE = [("add", "192.0.2.0/24", "--reason", "spam source"),
         ("add", "203.0.113.7", "--code", "127.0.0.3", "--reason", "X")]


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


class ConfigFileTest(DnsAssertions, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tmpdir()
        shutil.copytree(make_store(STORE), os.path.join(cls.dir, "store"))
        shutil.copyfile(ZONE_FILE, os.path.join(cls.dir, "bl.zone"))
        cls.conf = write(os.path.join(cls.dir, "dnsbld.conf"), """\
# paths are relative to this file
db = "store"
workers = 2
tcp_idle_timeout = 30
zone "bl.example" {
    file = "bl.zone"
    ttl = 300
    code = "127.0.0.10"
    txt = "{ip} ({code}) in {zone}: {reason}"
}
zone "other.example" {
}
""")
        # Started from another directory, so relative paths must follow the file.
        cls.srv = Server(["--config", cls.conf])

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop_clean()

    def test_zone_policy(self):
        for label, kw in TRANSPORTS:
            with self.subTest(label):
                q = self.srv.query
                self.assertAnswer(q(v4name("192.0.2.7"), **kw), "A", {"127.0.0.10"}, ttl=300)
                txt = self.assertAnswer(q(v4name("192.0.2.7"), "TXT", **kw), "TXT", ttl=300)
                self.assertEqual(txt_strings(txt),
                                 ["192.0.2.7 (127.0.0.10) in bl.example: spam source"])
                self.assertAnswer(q(v4name("203.0.113.7"), **kw), "A", {"127.0.0.3"}, ttl=300)
                txt = self.assertAnswer(q(v4name("203.0.113.7"), "TXT", **kw), "TXT")
                self.assertEqual(txt_strings(txt), ["203.0.113.7 (127.0.0.3) in bl.example: X"])
                self.assertAnswer(q(v4name("127.0.0.2"), **kw), "A", {"127.0.0.2"})

    def test_zone_with_default_policy(self):
        for label, kw in TRANSPORTS:
            with self.subTest(label):
                r = self.srv.query(v4name("192.0.2.7", "other.example"), **kw)
                self.assertAnswer(r, "A", {"127.0.0.2"}, ttl=2100)
                r = self.srv.query(v4name("192.0.2.7", "other.example"), "TXT", **kw)
                self.assertEqual(txt_strings(self.assertAnswer(r, "TXT")),
                                 ["192.0.2.7 is listed in other.example: spam source"])

    def test_zone_file_relative_to_the_config(self):
        r = self.srv.query("bl.example", "SOA")
        self.assertEqual(r.answer[0][0].serial, 2026112701)

    def test_command_line_zones_replace_the_files(self):
        with Server(["--config", self.conf, "--zone", "third.example"]) as srv:
            self.assertAnswer(srv.query(v4name("192.0.2.7", "third.example")), "A",
                              {"127.0.0.2"})
            self.assertEqual(srv.query(v4name("192.0.2.7")).rcode(), 5)  # REFUSED


class ShippedConfigTest(DnsAssertions, unittest.TestCase):

    def test_example_config_loads(self):
        conf = os.path.join(SOURCE, "zones", "dnsbld.conf")
        self.assertTrue(os.path.exists(conf), conf + " is missing")
        db = make_store(STORE)
        with Server(["--config", conf, "--db", db]) as srv:
            r = srv.query("bl.example", "SOA")
            self.assertAnswer(r, "SOA")
            self.assertEqual(r.answer[0][0].serial, 2026112701)
            self.assertAnswer(srv.query(v4name("127.0.0.2")),
                              "A", {"127.0.0.2"})


class RefuseToStartTest(unittest.TestCase):

    def run_dnsbld(self, *args):
        p = subprocess.run([DNSBLD, "--listen", "127.0.0.1:0", *args], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=20)
        self.assertNotEqual(p.returncode, 0, "dnsbld started; stderr:\n" + p.stderr)
        self.assertNotIn("info: ready", p.stderr)
        return p.stderr

    def test_bad_config_file(self):
        d = tmpdir()
        conf = write(os.path.join(d, "bad.conf"), "workers = 2\nno_such_key = 1\n")
        err = self.run_dnsbld("--config", conf, "--db", make_store(STORE), "--zone", "bl.example")
        self.assertIn("bad.conf", err)
        conf = write(os.path.join(d, "bad2.conf"), 'tcp_idle_timeout = 0\n')
        err = self.run_dnsbld("--config", conf, "--db", make_store(STORE), "--zone", "bl.example")
        self.assertIn("bad2.conf:1", err)

    def test_missing_store(self):
        missing = os.path.join(tmpdir(), "no-store")
        err = self.run_dnsbld("--db", missing, "--zone", "bl.example")
        self.assertIn(missing, err)

    def test_broken_zone_file(self):
        d = tmpdir()
        zf = write(os.path.join(d, "broken.zone"), "@ IN SOA ns1 hostmaster (1 2 3\n")
        err = self.run_dnsbld("--db", make_store(STORE), "--zone", "bl.example=" + zf)
        self.assertIn("broken.zone", err)

    def test_unknown_option(self):
        self.run_dnsbld("--no-such-option")


if __name__ == "__main__":
    unittest.main()
