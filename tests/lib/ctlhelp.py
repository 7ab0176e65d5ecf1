"""Shared helpers for the dnsblctl CLI tests.

run_ctl() runs the binary named by $DNSBLCTL with a clean environment
(no inherited DNSBL_DB) and returns rc/stdout/stderr;
CtlTestCase gives each test a fresh temporary directory holding an empty
store (made with `dnsblctl init`: write commands never create one) and a
fixed clock, so results never depend on the wall clock.
"""

import collections
import json
import os
import shutil
import subprocess
import tempfile
import unittest

CtlResult = collections.namedtuple("CtlResult", "rc out err")

# A fixed "now" for every test unless it moves the clock itself.
DEFAULT_NOW = "2026-11-27T12:00:00Z"


def ctl_binary():
    path = os.environ.get("DNSBLCTL")
    if not path:
        raise RuntimeError(
            "DNSBLCTL is not set: run the tests through ctest, or export "
            "DNSBLCTL=/path/to/build/tools/dnsblctl")
    return path


def run_ctl(*args, db=None, now=None, env=None, timeout=30):
    """Run dnsblctl ARGS. db adds "--db DB" in front of the arguments; now
    adds "--now NOW" (the testing option that fixes the clock); env adds or overrides variables (a value of None
    removes one)."""
    environ = dict(os.environ)
    environ.pop("DNSBL_DB", None)
    for key, value in (env or {}).items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    argv = [ctl_binary()]
    if now is not None:
        argv += ["--now", str(now)]
    if db is not None:
        argv += ["--db", db]
    argv += [str(a) for a in args]
    proc = subprocess.run(argv, capture_output=True, env=environ, timeout=timeout)
    return CtlResult(proc.returncode,
                     proc.stdout.decode("utf-8", "replace"),
                     proc.stderr.decode("utf-8", "replace"))


def parse_key_values(text):
    """'key: value' lines (show's text form) into a dict."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            out[key] = value
    return out


class CtlTestCase(unittest.TestCase):
    """A fresh, empty store directory per test (self.db) and a fixed clock."""

    maxDiff = None

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="dnsblctl-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.db = self.tmp
        self.now = DEFAULT_NOW
        self.init_store(self.db)

    def init_store(self, db):
        """Make an empty store in db, as an operator would."""
        r = run_ctl("init", db)
        self.assertEqual(r.rc, 0, "dnsblctl init %s: %r" % (db, r.err))
        return db

    def ctl(self, *args, **kw):
        kw.setdefault("db", self.db)
        kw.setdefault("now", self.now)
        return run_ctl(*args, **kw)

    def ctl_ok(self, *args, **kw):
        r = self.ctl(*args, **kw)
        self.assertEqual(r.rc, 0, "dnsblctl %s: rc %d, stderr %r" % (" ".join(args), r.rc, r.err))
        self.assertEqual(r.err, "")
        return r

    def ctl_fail(self, rc, *args, **kw):
        """Run, expect exit code rc, no stdout and a 'dnsblctl: ' message."""
        r = self.ctl(*args, **kw)
        self.assertEqual(r.rc, rc, "dnsblctl %s: stdout %r stderr %r" % (" ".join(args), r.out, r.err))
        self.assertEqual(r.out, "")
        self.assertTrue(r.err.startswith("dnsblctl: "), r.err)
        return r

    def first_error_line(self, r):
        return r.err.splitlines()[0]

    def show_json(self, addr, **kw):
        r = self.ctl_ok("show", addr, "--json", **kw)
        return json.loads(r.out)

    def show_text(self, addr, **kw):
        return parse_key_values(self.ctl_ok("show", addr, **kw).out)

    def list_json(self, **kw):
        return json.loads(self.ctl_ok("list", "--json", **kw).out)
