"""dnsbld under faults: killed with SIGKILL while answering queries and
while dnsblctl writes, it starts again on the same store and answers at
once; and while an import grows the store's map (from a tiny one, set by
dnsblctl --map-size) it goes on answering every query, its workers
adopting the new size, and sees the imported data."""

import os
import shutil
import signal
import subprocess
import threading
import time
import unittest
import warnings

from dnsbltest import (DNSBLCTL, ZONE_FILE, DnsAssertions, Server, ServerError, clean_env,
                       ctl, ctl_ok, make_store, tmpdir, v4name)

ZONE = "bl.example"
READY_TO_ANSWER = 1.0  # seconds from "ready" to the first correct answer

# TCP connects refused while the server is down leave sockets to the GC.
warnings.filterwarnings("ignore", category=ResourceWarning)


def answer_of(srv, name, tcp=False, timeout=1.0):
    """The set of A values answered, or None on timeout / error."""
    try:
        r = srv.query(name, tcp=tcp, timeout=timeout)
    except (ServerError, OSError):
        return None
    return {rd.to_text() for rrset in r.answer for rd in rrset}


class Load:
    """Threads asking a listed and an unlisted name over UDP and TCP in a
    loop, recording every wrong answer and every miss (no answer to a
    question asked twice)."""

    def __init__(self, srv, threads=3, listed="192.0.2.7"):
        self.srv = srv
        self.listed = listed
        self.count = 0
        self.wrong = []
        self.missed = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                         for i in range(threads)]

    def _run(self, i):
        n = 0
        while not self._stop.is_set():
            tcp = (n + i) % 4 == 0
            for name, want in ((v4name(self.listed), {"127.0.0.2"}),
                               (v4name("198.18.0.1"), set())):
                got = answer_of(self.srv, name, tcp=tcp)
                if got is None and not self._stop.is_set():
                    got = answer_of(self.srv, name, tcp=tcp, timeout=2.0)  # a busy test machine
                with self._lock:
                    self.count += 1
                    if got is None:
                        self.missed += 1
                    elif got != want:
                        self.wrong.append("%s: %s" % (name, sorted(got)))
            n += 1

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join(10)


class KillTest(DnsAssertions, unittest.TestCase):
    def test_sigkill_under_load_then_restart(self):
        db = make_store([("add", "192.0.2.0/24", "--reason", "spam")])
        args = ["--db", db, "--zone", "%s=%s" % (ZONE, ZONE_FILE), "--workers", "3"]
        srv = Server(args)
        writer_stop = threading.Event()
        written = []

        def write_loop():
            # dnsblctl writing throughout, so the kill also lands while a
            # write transaction may be open in another process.
            i = 0
            while not writer_stop.is_set() and i < 2000:
                rc, _, _ = ctl("add", "203.0.113.%d" % (i % 250 + 1), "--reason", "w%d" % i,
                               db=db)
                if rc == 0:
                    written.append(i)
                i += 1

        writer = threading.Thread(target=write_loop, daemon=True)
        writer.start()
        try:
            with Load(srv) as load:
                time.sleep(1.0)
                srv.proc.send_signal(signal.SIGKILL)
                srv.proc.wait(5)
                time.sleep(0.2)
            self.assertEqual(srv.stop(), -signal.SIGKILL)
            self.assertGreater(load.count, 50)
            self.assertEqual(load.wrong, [])

            # Start again while the writer goes on; time the first answer
            # from the moment "ready" was logged.
            srv2 = Server(args, start=False)
            srv2.start()
            ready_at = self._ready_time(srv2)
            first = None
            while time.monotonic() - ready_at < 5:
                if answer_of(srv2, v4name("192.0.2.7"), timeout=0.5) == {"127.0.0.2"}:
                    first = time.monotonic() - ready_at
                    break
            self.assertIsNotNone(first, "no correct answer after the restart:\n" + srv2.log())
            self.assertLess(first, READY_TO_ANSWER, "first answer %.3f s after ready" % first)
            with Load(srv2) as load2:
                time.sleep(0.5)
            self.assertEqual(load2.wrong, [])
            self.assertEqual(load2.missed, 0)
        finally:
            writer_stop.set()
            writer.join(30)
        self.assertGreater(len(written), 0)
        # Every write dnsblctl reported done is there, and the store checks clean.
        last = written[-1]
        self.assertEqual(answer_of(srv2, v4name("203.0.113.%d" % (last % 250 + 1))),
                         {"127.0.0.2"})
        srv2.stop_clean()
        rc, out, err = ctl("check", db=db)
        self.assertEqual(rc, 0, out + err)

    def _ready_time(self, srv):
        """When the reader thread saw "ready" (start() returns right after);
        approximated by now, which is later, so the measure is strict."""
        self.assertIsNotNone(srv.wait_log(r"info: ready\b", 5))
        return time.monotonic()


class MapGrowthTest(DnsAssertions, unittest.TestCase):
    def test_answers_while_the_map_grows(self):
        tiny = ("--map-size", "1m")
        db = os.path.join(tmpdir("dnsbl-grow-"), "store")
        ctl_ok(*tiny, "--create", "add", "192.0.2.0/24", "--reason", "spam", db=db)
        rows = ["address_or_prefix,kind,weight,time,reason"]
        for i in range(120000):
            rows.append("10.%d.%d.%d,list,1,1748000000,row %d"
                        % ((i >> 16) & 255, (i >> 8) & 255, i & 255, i))
        csv = os.path.join(tmpdir("dnsbl-grow-csv-"), "rows.csv")
        with open(csv, "w") as f:
            f.write("\n".join(rows) + "\n")

        with Server(["--db", db, "--zone", "%s=%s" % (ZONE, ZONE_FILE), "--workers", "3"]) as srv:
            with Load(srv, threads=3) as load:
                rc, out, err = ctl(*tiny, "import", "--format", "csv", "--batch", "2000", csv,
                                   db=db, timeout=300)
                time.sleep(0.3)
            self.assertEqual(rc, 0, out + err)
            self.assertGreater(load.count, 100)
            self.assertEqual(load.wrong, [])
            self.assertEqual(load.missed, 0, "queries unanswered while the map grew")
            self.assertNotIn("cannot begin a store read", srv.log())
            # The imported rows are served, by every worker.
            for i in (0, 4097, 65535, 119999):
                ip = "10.%d.%d.%d" % ((i >> 16) & 255, (i >> 8) & 255, i & 255)
                for tcp in (False, True):
                    self.assertEqual(answer_of(srv, v4name(ip), tcp=tcp), {"127.0.0.2"}, ip)
        if shutil.which("mdb_stat"):
            info = subprocess.run(["mdb_stat", "-e", db], capture_output=True, text=True).stdout
            size = int(info.split("Map size:")[1].split()[0])
            self.assertGreaterEqual(size, 8 << 20, "the map did not grow:\n" + info)
        rc, out, err = ctl("check", db=db)
        self.assertEqual(rc, 0, out + err)


if __name__ == "__main__":
    unittest.main()


class HalfCreatedStoreTest(DnsAssertions, unittest.TestCase):
    @unittest.skipUnless(shutil.which("mdb_load"), "mdb_load (lmdb-utils) is not installed")
    def test_store_whose_first_commit_never_happened(self):
        """An import killed before its first commit leaves a data.mdb with
        no schema: dnsbld finishes making it an empty store and serves."""
        db = tmpdir("dnsbl-half-")
        subprocess.run(["mdb_load", "-f", os.devnull, db], check=True)
        self.assertGreater(os.path.getsize(os.path.join(db, "data.mdb")), 0)
        with Server(["--db", db, "--zone", "%s=%s" % (ZONE, ZONE_FILE)]) as srv:
            self.assertIn("was never completed", srv.log())
            self.assertEqual(answer_of(srv, v4name("127.0.0.2")), {"127.0.0.2"})
            ctl_ok("add", "192.0.2.7", "--reason", "after repair", db=db)
            deadline = time.monotonic() + 1
            while answer_of(srv, v4name("192.0.2.7")) != {"127.0.0.2"}:
                self.assertLess(time.monotonic(), deadline, "the listing never showed")
                time.sleep(0.02)
