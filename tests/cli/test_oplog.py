"""dnsblctl operator history: add, delist and allow record who did what,
when and why (who from --by, else $SUDO_USER, $USER, $LOGNAME, else the
uid), and show prints every action on the address and on the prefixes
containing it, oldest first, in text and as "operator_history" in --json.
Each test gets a fresh store and a fixed clock (ctlhelp.CtlTestCase), so
actions of one test fall in one second unless it moves the clock."""

import os
import unittest

from ctlhelp import CtlTestCase

NOBODY = {"SUDO_USER": None, "USER": None, "LOGNAME": None}


def env_of(**names):
    """The operator variables: only the ones given are set."""
    env = dict(NOBODY)
    env.update(names)
    return env


class TestOperatorHistory(CtlTestCase):
    def history_lines(self, addr, **kw):
        """show's "history: " lines, in order, without the key."""
        lines = self.ctl_ok("show", addr, **kw).out.splitlines()
        return [line[len("history: "):] for line in lines if line.startswith("history: ")]

    def history_json(self, addr, **kw):
        return self.show_json(addr, **kw)["operator_history"]

    def test_add_delist_allow_in_order_with_who_and_why(self):
        self.ctl_ok("add", "192.0.2.7", "--reason", "spam run", "--code", "127.0.0.3",
                    "--expires", "7d", "--by", "alice", env=env_of(USER="zed"))
        self.ctl_ok("delist", "192.0.2.7", "--reason", "ticket 42", env=env_of(USER="bob"))
        self.ctl_ok("allow", "192.0.2.7", "--reason", "our relay",
                    env=env_of(SUDO_USER="carol", USER="root"))
        now = "2026-11-27T12:00:00Z"
        self.assertEqual(self.history_lines("192.0.2.7"), [
            now + "  list  192.0.2.7  by alice  code 127.0.0.3  expires 2026-12-04T12:00:00Z"
                  "  reason: spam run",
            now + "  delist  192.0.2.7  by bob  reason: ticket 42",
            now + "  allow  192.0.2.7  by carol  reason: our relay",
        ])
        self.assertEqual(self.history_json("192.0.2.7"), [
            {"time": now, "action": "list", "prefix": "192.0.2.7", "by": "alice",
             "code": "127.0.0.3", "expires": "2026-12-04T12:00:00Z", "reason": "spam run",
             "dataset": None},
            {"time": now, "action": "delist", "prefix": "192.0.2.7", "by": "bob",
             "code": None, "expires": None, "reason": "ticket 42", "dataset": None},
            {"time": now, "action": "allow", "prefix": "192.0.2.7", "by": "carol",
             "code": None, "expires": None, "reason": "our relay", "dataset": None},
        ])
        # The last note stays as it was.
        self.assertEqual(self.show_text("192.0.2.7")["note"], "allowed: our relay")

    def test_the_same_action_twice_in_one_second_keeps_both(self):
        self.ctl_ok("add", "192.0.2.9", "--reason", "first", "--by", "alice")
        self.ctl_ok("add", "192.0.2.9", "--reason", "first", "--by", "alice")
        self.ctl_ok("add", "192.0.2.9", "--reason", "second", "--by", "bob")
        self.ctl_ok("delist", "192.0.2.9", "--by", "carol", now="2026-11-27T12:00:01Z")
        got = [(h["time"], h["action"], h["by"], h["reason"])
               for h in self.history_json("192.0.2.9")]
        self.assertEqual(got, [
            ("2026-11-27T12:00:00Z", "list", "alice", "first"),
            ("2026-11-27T12:00:00Z", "list", "alice", "first"),
            ("2026-11-27T12:00:00Z", "list", "bob", "second"),
            ("2026-11-27T12:00:01Z", "delist", "carol", None),
        ])
        self.assertEqual(len(self.history_lines("192.0.2.9")), 4)

    def test_actions_on_containing_prefixes_are_shown(self):
        self.ctl_ok("add", "198.51.100.0/24", "--reason", "wide", "--by", "alice")
        self.ctl_ok("allow", "198.51.100.7", "--reason", "exception", "--by", "bob",
                    now="2026-11-27T12:05:00Z")
        self.ctl_ok("add", "198.51.100.8", "--by", "carol", now="2026-11-27T12:10:00Z")
        got = [(h["prefix"], h["action"], h["by"]) for h in self.history_json("198.51.100.7")]
        self.assertEqual(got, [("198.51.100.0/24", "list", "alice"),
                               ("198.51.100.7", "allow", "bob")])
        got = [(h["prefix"], h["by"]) for h in self.history_json("198.51.100.8")]
        self.assertEqual(got, [("198.51.100.0/24", "alice"), ("198.51.100.8", "carol")])
        self.assertEqual(self.history_json("198.51.100.9")[0]["prefix"], "198.51.100.0/24")
        # Of one second, the wider decision first.
        self.ctl_ok("add", "203.0.113.0/24", "--by", "alice")
        self.ctl_ok("allow", "203.0.113.5", "--by", "alice")
        got = [h["prefix"] for h in self.history_json("203.0.113.5")]
        self.assertEqual(got, ["203.0.113.0/24", "203.0.113.5"])

    def test_who_falls_back_to_logname_then_the_uid(self):
        self.ctl_ok("add", "192.0.2.20", env=env_of(LOGNAME="dora"))
        self.ctl_ok("add", "192.0.2.20", env=env_of())
        self.ctl_ok("add", "192.0.2.20", env=env_of(SUDO_USER="", USER="erin"))
        got = [h["by"] for h in self.history_json("192.0.2.20")]
        self.assertEqual(got, ["dora", "uid %d" % os.getuid(), "erin"])

    def test_delist_note_still_names_who(self):
        self.ctl_ok("add", "192.0.2.30")
        self.ctl_ok("delist", "192.0.2.30", "--reason", "ticket 7", "--by", "frank",
                    env=env_of(USER="root"))
        self.assertEqual(self.show_text("192.0.2.30")["note"], "delisted: by frank: ticket 7")

    def test_bad_by_is_a_usage_error_and_writes_nothing(self):
        for by in ("", "x" * 64, "eve\x07"):
            with self.subTest(by=by):
                r = self.ctl_fail(2, "add", "192.0.2.40", "--by", by)
                self.assertIn("--by", r.err)
        self.ctl_ok("add", "192.0.2.40", "--by", "x" * 63)
        self.assertEqual([h["by"] for h in self.history_json("192.0.2.40")], ["x" * 63])
        self.assertEqual(self.show_json("192.0.2.41")["operator_history"], [])
        self.assertEqual(self.show_text("192.0.2.41")["history"], "none")

    def test_help_documents_by(self):
        for cmd in ("add", "delist", "allow"):
            with self.subTest(cmd=cmd):
                self.assertIn("--by NAME", self.ctl_ok(cmd, "--help").out)


if __name__ == "__main__":
    unittest.main()
