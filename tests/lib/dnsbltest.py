"""dnsbltest: drive the real dnsbld and dnsblctl from end-to-end tests.

Server starts the daemon (env DNSBLD) on 127.0.0.1:0 and [::1]:0, learns
the ports from its "listening on" lines, keeps its stderr for assertions and
stops it by SIGTERM (SIGKILL after 5 s) on its own PID only. query() and the
raw_* helpers talk DNS to it; ctl() runs dnsblctl (env DNSBLCTL). Temporary
directories made by tmpdir() are removed when the interpreter exits.

Only the Python standard library and dnspython (Debian's python3-dnspython,
run with /usr/bin/python3) are used.
"""

import atexit
import ipaddress
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype

SOURCE = os.environ.get("DNSBL_SOURCE") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
DNSBLD = os.environ.get("DNSBLD") or os.path.join(SOURCE, "build", "server", "dnsbld")
DNSBLCTL = os.environ.get("DNSBLCTL") or os.path.join(SOURCE, "build", "tools", "dnsblctl")
ZONE_FILE = os.path.join(SOURCE, "zones", "bl.example.zone")
# The project's own feed inputs; tests/fixtures/README.md gives their answers.
FIXTURES = os.environ.get("DNSBL_FIXTURES") or os.path.join(SOURCE, "tests", "fixtures")

QUERY_TIMEOUT = 2.0
READY_TIMEOUT = 10.0
STOP_GRACE = 5.0
EDNS_SIZE = 1232  # what dnsbld advertises

_LISTEN_RE = re.compile(r"info: listening on (127\.0\.0\.1|\[::1\]):(\d+) udp\+tcp")
_READY_RE = re.compile(r"info: ready\b")

_tmpdirs = []
_servers = []


def _cleanup():
    for s in list(_servers):
        s.stop()
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)


def tmpdir(prefix="dnsbltest-"):
    """A fresh directory, removed when the test process exits."""
    d = tempfile.mkdtemp(prefix=prefix)
    _tmpdirs.append(d)
    return d


def clean_env():
    """os.environ without the variables that would change what the
    binaries do (the clock, the default store)."""
    env = dict(os.environ)
    env.pop("DNSBL_DB", None)
    return env


# --- names ---------------------------------------------------------------

def v4name(ip, zone="bl.example"):
    """7.2.0.192.bl.example for 192.0.2.7."""
    return ".".join(reversed(ip.split("."))) + "." + zone


def v6name(ip, zone="bl.example", upper=False):
    """The 32 reversed nibbles of ip (IPv4-mapped allowed) in front of zone."""
    nibbles = ipaddress.IPv6Address(ip).exploded.replace(":", "")
    name = ".".join(reversed(nibbles))
    if upper:
        name = name.upper()
    return name + "." + zone


def v6partial(ip, n, zone="bl.example"):
    """The last n labels of v6name(ip): the first n nibbles of the address."""
    labels = v6name(ip, zone="").rstrip(".").split(".")
    return ".".join(labels[32 - n:]) + "." + zone


# --- dnsblctl ------------------------------------------------------------

# A store gets its lookup filter and flat index only from 65,536 entries
# on; give these small ones theirs from the first write, so the answers
# checked here go through them as a big store's do, and through the
# B-tree for what later writes change (fewer than the 1,024 changes that
# rebuild the index).
INDEX_FROM_FIRST = ("--index-from", "0")


def ctl(*args, db=None, now=None, env=None, timeout=30):
    """Run dnsblctl [--now NOW] [--db DB] --index-from 0 ARGS...; returns
    (rc, stdout, stderr). now fixes dnsblctl's clock (unix seconds or RFC
    3339)."""
    cmd = [DNSBLCTL]
    if now is not None:
        cmd += ["--now", str(now)]
    if db is not None:
        cmd += ["--db", db]
    cmd += INDEX_FROM_FIRST
    cmd += [str(a) for a in args]
    full_env = clean_env()
    if env:
        full_env.update(env)
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout, env=full_env)
    return p.returncode, p.stdout, p.stderr


def ctl_ok(*args, db=None, env=None):
    """ctl() that must succeed; raises AssertionError with its output if not."""
    rc, out, err = ctl(*args, db=db, env=env)
    if rc != 0:
        raise AssertionError("dnsblctl %s: exit %d\nstdout: %s\nstderr: %s"
                             % (" ".join(str(a) for a in args), rc, out, err))
    return out


def make_store(commands=()):
    """A new store directory filled by running each dnsblctl command (a
    tuple of arguments) in order, after `dnsblctl init` (write commands
    never create a store). With no commands the directory is left empty:
    dnsbld creates an empty store in an existing directory."""
    db = os.path.join(tmpdir("dnsbl-store-"), "store")
    os.mkdir(db)
    if commands:
        ctl_ok("init", db)
    for c in commands:
        ctl_ok(*c, db=db)
    return db


# --- wire helpers --------------------------------------------------------

def make_query(name, rdtype="A", edns=None, payload=EDNS_SIZE, want_dnssec=False,
               options=None, rdclass="IN", qid=None):
    """A dns.message query. edns=None sends no OPT (unless want_dnssec);
    edns=N sends an OPT of version N advertising payload."""
    kw = {}
    if qid is not None:
        kw["id"] = qid
    q = dns.message.make_query(name, rdtype, rdclass, use_edns=False, **kw)
    if edns is not None or want_dnssec:
        # use_edns() directly: make_query() of dnspython 2.3 sends version 0
        # whatever version it is given.
        q.use_edns(0 if edns is None else edns, payload=payload, options=options or [],
                   ednsflags=dns.flags.DO if want_dnssec else 0)
    return q


def parse(wire):
    """dns.message from response bytes; the raw bytes are kept in .wire."""
    m = dns.message.from_wire(wire, raise_on_truncation=False)
    m.wire = wire
    return m


def frame(wire):
    return struct.pack("!H", len(wire)) + wire


def recv_exact(sock, n, deadline):
    buf = b""
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            chunk = sock.recv(n - len(buf))
        except socket.timeout:
            return None
        except (ConnectionResetError, BrokenPipeError):
            return None
        if not chunk:
            return None
        buf += chunk
    return buf


def recv_frame(sock, timeout=QUERY_TIMEOUT):
    """One length-prefixed DNS message from a TCP socket, or None on
    timeout or close."""
    deadline = time.monotonic() + timeout
    head = recv_exact(sock, 2, deadline)
    if head is None:
        return None
    (n,) = struct.unpack("!H", head)
    return recv_exact(sock, n, deadline)


def first_rrset(section, rdtype):
    """The first RRset of rdtype in a message section, or None."""
    rdtype = dns.rdatatype.from_text(rdtype) if isinstance(rdtype, str) else rdtype
    for rrset in section:
        if rrset.rdtype == rdtype:
            return rrset
    return None


def txt_strings(rrset):
    """Each TXT RR of rrset as its strings joined, decoded."""
    return [b"".join(rd.strings).decode("utf-8", "replace") for rd in rrset]


# --- the server ----------------------------------------------------------

class ServerError(RuntimeError):
    pass


class Server:
    """One running dnsbld. Use as a context manager or call stop()."""

    def __init__(self, args=(), env=None, listen=("127.0.0.1:0", "[::1]:0"),
                 ready_timeout=READY_TIMEOUT, start=True):
        self.args = [str(a) for a in args]
        self.env = dict(env or {})
        self.listen = list(listen)
        self.ready_timeout = ready_timeout
        self.proc = None
        self.lines = []
        self.ports = {}  # "127.0.0.1" / "::1" -> port
        self.returncode = None
        self._cond = threading.Condition()
        self._eof = False
        self._reader = None
        if start:
            self.start()

    # -- life cycle --

    def start(self):
        cmd = [DNSBLD]
        for addr in self.listen:
            cmd += ["--listen", addr]
        cmd += self.args
        env = clean_env()
        env.update(self.env)
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env)
        _servers.append(self)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        if not self.wait_log(_READY_RE, self.ready_timeout):
            self.stop()
            raise ServerError("dnsbld did not become ready within %.0f s\ncommand: %s\n"
                              "stderr:\n%s" % (self.ready_timeout, " ".join(cmd), self.log()))
        for line in self.lines:
            m = _LISTEN_RE.search(line)
            if m:
                self.ports[m.group(1).strip("[]")] = int(m.group(2))
        want = {a.rsplit(":", 1)[0].strip("[]") for a in self.listen}
        if not want.issubset(self.ports):
            self.stop()
            raise ServerError("dnsbld did not log a 'listening on' line for each of %s\n"
                              "stderr:\n%s" % (sorted(want), self.log()))
        return self

    def _drain(self):
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def stop(self):
        """SIGTERM, then SIGKILL after 5 s; returns the exit status
        (negative: killed by that signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._reader is not None:
            self._reader.join(2)
        if self.proc.stderr is not None and not self._reader.is_alive():
            self.proc.stderr.close()
        if self in _servers:
            _servers.remove(self)
        self.returncode = self.proc.returncode
        return self.returncode

    def stop_clean(self):
        """stop(), then raise ServerError unless dnsbld exited with status 0
        and logged nothing from a sanitizer (a leak or an error found by
        ASan/UBSan makes the status non-zero)."""
        rc = self.stop()
        reports = self.sanitizer_reports()
        if rc != 0 or reports:
            raise ServerError("dnsbld exit status %s after SIGTERM%s; log:\n%s"
                              % (rc, " with sanitizer reports" if reports else "", self.log()))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self.stop_clean()
        else:
            self.stop()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    @property
    def pid(self):
        return self.proc.pid

    # -- the log --

    def log(self):
        with self._cond:
            return "\n".join(self.lines)

    def mark(self):
        """A position in the log, for wait_log(..., since=mark)."""
        with self._cond:
            return len(self.lines)

    def wait_log(self, pattern, timeout, since=0):
        """Wait for a stderr line matching pattern (a regex), from line
        index since on; returns the line or None."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        with self._cond:
            i = since
            while True:
                while i < len(self.lines):
                    if rx.search(self.lines[i]):
                        return self.lines[i]
                    i += 1
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    return None
                self._cond.wait(left)

    def sanitizer_reports(self):
        """Lines of the log that come from ASan/UBSan."""
        return [l for l in self.lines
                if "AddressSanitizer" in l or "runtime error:" in l or "LeakSanitizer" in l]

    # -- talking DNS --

    def addr(self, v6=False):
        host = "::1" if v6 else "127.0.0.1"
        return host, self.ports[host]

    def raw_udp(self, data, v6=False, timeout=QUERY_TIMEOUT, match_id=True):
        """Send one datagram, return the first answer (bytes) or None on
        timeout. With match_id, datagrams with another ID are skipped."""
        host, port = self.addr(v6)
        fam = socket.AF_INET6 if v6 else socket.AF_INET
        with socket.socket(fam, socket.SOCK_DGRAM) as s:
            s.sendto(data, (host, port))
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                s.settimeout(left)
                try:
                    resp, _ = s.recvfrom(65535)
                except socket.timeout:
                    return None
                if not match_id or len(data) < 2 or resp[:2] == data[:2]:
                    return resp

    def tcp_connect(self, v6=False, timeout=QUERY_TIMEOUT):
        host, port = self.addr(v6)
        fam = socket.AF_INET6 if v6 else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect((host, port))
        return s

    def raw_tcp(self, data, v6=False, timeout=QUERY_TIMEOUT):
        """Send one framed message on a new connection, return the answer
        (bytes, without the length prefix) or None."""
        with self.tcp_connect(v6, timeout) as s:
            s.sendall(frame(data))
            return recv_frame(s, timeout)

    def exchange(self, msg, tcp=False, v6=False, timeout=QUERY_TIMEOUT):
        """Send a dns.message, return the parsed answer (with .wire) or
        None on timeout."""
        wire = msg.to_wire()
        resp = (self.raw_tcp if tcp else self.raw_udp)(wire, v6=v6, timeout=timeout)
        return None if resp is None else parse(resp)

    def query(self, name, rdtype="A", tcp=False, v6=False, edns=None, payload=EDNS_SIZE,
              want_dnssec=False, options=None, timeout=QUERY_TIMEOUT):
        """Ask name/rdtype; returns the answer as a dns.message (raw bytes
        in .wire). Raises ServerError on timeout."""
        q = make_query(name, rdtype, edns=edns, payload=payload, want_dnssec=want_dnssec,
                       options=options)
        r = self.exchange(q, tcp=tcp, v6=v6, timeout=timeout)
        if r is None:
            raise ServerError("no answer to %s %s over %s/%s within %.1f s"
                              % (name, rdtype, "tcp" if tcp else "udp", "v6" if v6 else "v4",
                                 timeout))
        if r.id != q.id:
            raise ServerError("answer ID %d does not match query ID %d" % (r.id, q.id))
        return r


TRANSPORTS = [
    ("udp4", dict(tcp=False, v6=False)),
    ("tcp4", dict(tcp=True, v6=False)),
    ("udp6", dict(tcp=False, v6=True)),
    ("tcp6", dict(tcp=True, v6=True)),
]


def wait_until(pred, timeout, step=0.02):
    """Poll pred() until it returns a true value or timeout passes; returns
    the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


# --- assertions shared by the test cases ---------------------------------

class DnsAssertions:
    """Mixin for unittest.TestCase with DNS answer checks."""

    def assertRcode(self, r, rcode):
        self.assertEqual(dns.rcode.to_text(r.rcode()), dns.rcode.to_text(rcode),
                         "rcode; answer was:\n%s" % r)

    def assertAuthoritative(self, r):
        self.assertTrue(r.flags & dns.flags.QR, "QR clear")
        self.assertTrue(r.flags & dns.flags.AA, "AA clear:\n%s" % r)
        self.assertFalse(r.flags & dns.flags.RA, "RA set:\n%s" % r)
        self.assertFalse(r.flags & dns.flags.TC, "TC set:\n%s" % r)

    def assertSoaAuthority(self, r, zone, ttl=None):
        soas = [rr for rr in r.authority if rr.rdtype == dns.rdatatype.SOA]
        self.assertEqual(len(soas), 1, "one SOA in authority:\n%s" % r)
        self.assertEqual(soas[0].name, dns.name.from_text(zone))
        self.assertEqual(len(soas[0]), 1)
        if ttl is not None:
            self.assertEqual(soas[0].ttl, ttl, "negative TTL:\n%s" % r)
        return soas[0]

    def assertNxdomain(self, r, zone, ttl=None):
        self.assertRcode(r, dns.rcode.NXDOMAIN)
        self.assertAuthoritative(r)
        self.assertEqual(r.answer, [], "NXDOMAIN with answers:\n%s" % r)
        return self.assertSoaAuthority(r, zone, ttl)

    def assertNodata(self, r, zone, ttl=None):
        self.assertRcode(r, dns.rcode.NOERROR)
        self.assertAuthoritative(r)
        self.assertEqual(r.answer, [], "NODATA with answers:\n%s" % r)
        return self.assertSoaAuthority(r, zone, ttl)

    def assertAnswer(self, r, rdtype, values=None, ttl=None):
        """NOERROR, authoritative, an answer RRset of rdtype at the question
        name; values (a set of texts) compared when given. Returns it."""
        self.assertRcode(r, dns.rcode.NOERROR)
        self.assertAuthoritative(r)
        rdtype = dns.rdatatype.from_text(rdtype) if isinstance(rdtype, str) else rdtype
        sets = [rr for rr in r.answer if rr.rdtype == rdtype]
        self.assertEqual(len(sets), 1, "one %s RRset in answer:\n%s"
                         % (dns.rdatatype.to_text(rdtype), r))
        rrset = sets[0]
        self.assertEqual(rrset.name, r.question[0].name)
        if values is not None:
            self.assertEqual({rd.to_text() for rd in rrset}, set(values), str(r))
        if ttl is not None:
            self.assertEqual(rrset.ttl, ttl, "answer TTL:\n%s" % r)
        return rrset


# --- talking from a chosen source address ---------------------------------

def udp_from(srv, src, wire, v6=False, timeout=QUERY_TIMEOUT):
    """Send one datagram from src (an address of this host); the answer
    with the same ID as bytes, or None."""
    host, port = srv.addr(v6)
    with socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((src, 0))
        s.sendto(wire, (host, port))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            s.settimeout(left)
            try:
                resp = s.recv(65535)
            except socket.timeout:
                return None
            if resp[:2] == wire[:2]:
                return resp
