"""dnsbld's configuration file: per-zone policy (ttl, code, txt template),
paths relative to the file, the command line replacing what the file says,
the shipped example config, and refusing to start on bad input."""

import os
import shutil
import subprocess
import unittest

from dnsbltest import (DNSBLD, SOURCE, TRANSPORTS, ZONE_FILE, DnsAssertions, Server, ctl,
                       make_store, tmpdir, txt_strings, v4name)

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



class CheckConfigTest(unittest.TestCase):
    """dnsbld --check-config: what an operator runs before SIGHUP."""

    def check(self, *args):
        return subprocess.run([DNSBLD, *args], stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=20)

    def test_good_config(self):
        d = tmpdir()
        store = make_store(STORE)
        conf = write(os.path.join(d, "dnsbld.conf"),
                     'db = "%s"\nlisten = {"127.0.0.1:5399"}\n'
                     'key "xfr" { algorithm = "hmac-sha256" secret = "c2VjcmV0c2VjcmV0" }\n'
                     'zone "bl.example" {\n  file = "%s"\n  threshold = 3\n'
                     '  allow_transfer = {"127.0.0.1"}\n  transfer_key = "xfr"\n'
                     '  notify = {"127.0.0.1:5301", "127.0.0.1:5302"}\n}\n'
                     'zone "other.example" { }\n' % (store, ZONE_FILE))
        p = self.check("--check-config=" + conf)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        out = p.stdout
        self.assertIn("store %s\n" % store, out)
        self.assertIn("listen 127.0.0.1:5399 (UDP and TCP)", out)
        self.assertIn("zone bl.example: blocklist, file %s" % ZONE_FILE, out)
        self.assertIn("threshold 3,", out)
        self.assertIn("transfers: allowed to the allow_transfer list, signed with key xfr, "
                      "NOTIFY to 2 targets", out)
        self.assertIn("zone other.example: blocklist, file none (SOA and NS synthesised)", out)
        self.assertIn("published: never", out)
        self.assertNotIn("c2VjcmV0", out)  # the secret never shows
        self.assertTrue(out.endswith("ok\n"))
        # Once published, the serial it would answer.
        rc, _, err = ctl("publish", "--config", conf, db=store)
        self.assertEqual(rc, 0, err)
        p = self.check("-c", conf, "--check-config")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"zone bl.example: .*\n.*\n  published: serial \d+, \d+ names")

    def test_problems_are_named(self):
        d = tmpdir()
        conf = write(os.path.join(d, "bad.conf"),
                     'db = "%s"\nzone "bl.example" { file = "%s" }\n'
                     % (os.path.join(d, "no-store"), os.path.join(d, "missing.zone")))
        p = self.check("--check-config=" + conf)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no listen address", p.stderr)
        self.assertIn("missing.zone", p.stderr)
        self.assertIn("no-store", p.stderr)
        self.assertIn("3 problems: nothing would be served", p.stderr)
        self.assertNotIn("ok\n", p.stdout)
        conf = write(os.path.join(d, "syntax.conf"), "workers = 2\nno_such_key = 1\n")
        p = self.check("--check-config=" + conf)
        self.assertEqual(p.returncode, 1)
        self.assertIn("syntax.conf", p.stderr)

if __name__ == "__main__":
    unittest.main()
