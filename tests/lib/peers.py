"""peers: standard DNS servers nobody here wrote (Knot, NSD, BIND), started
for a test on loopback, each with its own config in its own directory.

Secondary(kind, ...) transfers a zone from a primary at 127.0.0.1:port
(with a TSIG key when given) and takes NOTIFY from it; KnotPrimary serves a
zone file. Each picks a free port, waits until it answers, and stops (by
its PID) when the test ends. serial() is the SOA serial it serves, None
while it has no zone yet."""

import os
import random
import shutil
import signal
import socket
import subprocess
import time

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

BINARIES = {"knot": "knotd", "nsd": "nsd", "bind": "named"}


def available(kind):
    return shutil.which(BINARIES[kind]) is not None


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1 right now."""
    for _ in range(100):
        port = random.randint(20000, 60000)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            t.bind(("127.0.0.1", port))
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise RuntimeError("no free port on 127.0.0.1")


KNOT_SECONDARY = """server:
    rundir: "{dir}"
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: "{dir}/knot.log"
    any: info
database:
    storage: "{dir}"
{key}
remote:
  - id: primary
    address: 127.0.0.1@{primary}
{remote_key}
acl:
  - id: from_primary
    address: 127.0.0.1
    action: notify
{acl_key}
template:
  - id: default
    storage: "{dir}"
    zonefile-sync: -1
    zonefile-load: none
    journal-content: changes
zone:
  - domain: {zone}
    master: primary
    acl: from_primary
"""

KNOT_PRIMARY = """server:
    rundir: "{dir}"
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: "{dir}/knot.log"
    any: info
database:
    storage: "{dir}"
{key}
acl:
  - id: transfer
    address: 127.0.0.0/8
    action: transfer
{acl_key}
template:
  - id: default
    storage: "{dir}"
    zonefile-sync: -1
    zonefile-load: difference
    journal-content: changes
    semantic-checks: off
zone:
  - domain: {zone}
    file: "{zonefile}"
    acl: transfer
"""

NSD_SECONDARY = """server:
    ip-address: 127.0.0.1@{port}
    port: {port}
    do-ip6: no
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "{dir}"
    pidfile: "{dir}/nsd.pid"
    xfrdfile: "{dir}/xfrd.state"
    xfrdir: "{dir}"
    zonelistfile: "{dir}/zone.list"
    database: ""
    logfile: "{dir}/nsd.log"
    verbosity: 2
    # NSD limits a client to 200 answers a second by default: the test asks
    # thousands from one address.
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
{key}
zone:
    name: {zone}
    zonefile: "{dir}/{zone}.zone"
    request-xfr: 127.0.0.1@{primary} {keyname}
    allow-notify: 127.0.0.1 {keyname}
"""

BIND_SECONDARY = """options {{
    directory "{dir}";
    pid-file "{dir}/named.pid";
    session-keyfile "{dir}/session.key";
    managed-keys-directory "{dir}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
    transfers-in 2;
}};
controls {{ }};
logging {{
    channel file {{ file "{dir}/named.log"; print-time yes; severity info; }};
    category default {{ file; }};
    category xfer-in {{ file; }};
    category notify {{ file; }};
}};
{key}
zone "{zone}" {{
    type secondary;
    primaries {{ 127.0.0.1 port {primary}{bind_key}; }};
    file "{dir}/{zone}.db";
    allow-notify {{ 127.0.0.1; }};
}};
"""


class Peer:
    """A server process in its own directory; stop() ends it by PID."""

    name = "peer"

    def __init__(self, workdir, zone, key=None):
        self.dir = workdir
        os.makedirs(self.dir, exist_ok=True)
        self.zone = zone
        self.key = key  # (name, algorithm, base64 secret) or None
        self.port = None
        self.proc = None

    def argv(self, conf):
        raise NotImplementedError

    def config(self, port):
        raise NotImplementedError

    def log(self):
        path = os.path.join(self.dir, self.logname)
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def start(self, ready=None, timeout=20):
        """Start on a free port; ready(peer) says when it is up (default:
        it answers a question about the zone at all)."""
        last = ""
        fixed = self.port is not None  # a port others were told (NOTIFY targets)
        for _ in range(3):
            if not fixed:
                self.port = free_port()
            conf = os.path.join(self.dir, self.name + ".conf")
            with open(conf, "w") as f:
                f.write(self.config(self.port))
            with open(os.path.join(self.dir, "stderr"), "w") as err:
                self.proc = subprocess.Popen(self.argv(conf), stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=err)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                if (ready or Peer.answers)(self):
                    return self
                time.sleep(0.1)
            last = self.log() + open(os.path.join(self.dir, "stderr")).read()
            self.stop()
        raise RuntimeError("%s did not start:\n%s" % (self.name, last[-3000:]))

    def answers(self):
        try:
            q = dns.message.make_query(self.zone + ".", "SOA")
            dns.query.udp(q, "127.0.0.1", port=self.port, timeout=0.5)
            return True
        except (dns.exception.DNSException, OSError):
            return False

    def serial(self):
        """The SOA serial it serves for the zone, None when it has none."""
        try:
            q = dns.message.make_query(self.zone + ".", "SOA")
            r = dns.query.udp(q, "127.0.0.1", port=self.port, timeout=0.5)
        except (dns.exception.DNSException, OSError):
            return None
        if r.rcode() != dns.rcode.NOERROR:
            return None
        for rrs in r.answer:
            for rd in rrs:
                if rd.rdtype == dns.rdatatype.SOA:
                    return rd.serial
        return None

    def wait_serial(self, serial, timeout=30):
        """Seconds until it serves serial; raises naming the log if never."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.serial() == serial:
                return time.monotonic() - start
            time.sleep(0.05)
        raise AssertionError("%s still serves serial %s, not %s, after %d s; log:\n%s"
                             % (self.name, self.serial(), serial, timeout, self.log()[-3000:]))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


def _knot_key(key):
    if not key:
        return "", "", ""
    name, alg, secret = key
    return ("key:\n  - id: %s\n    algorithm: %s\n    secret: %s\n" % (name, alg, secret),
            "    key: %s" % name, "    key: %s" % name)


class KnotSecondary(Peer):
    name = "knot"
    logname = "knot.log"

    def __init__(self, workdir, zone, primary, key=None):
        super().__init__(workdir, zone, key)
        self.primary = primary

    def config(self, port):
        k, rk, ak = _knot_key(self.key)
        return KNOT_SECONDARY.format(dir=self.dir, port=port, primary=self.primary, zone=self.zone,
                                     key=k, remote_key=rk, acl_key=ak)

    def argv(self, conf):
        return ["knotd", "-c", conf]


class KnotPrimary(Peer):
    name = "knot-primary"
    logname = "knot.log"

    def __init__(self, workdir, zone, zonefile, key=None):
        super().__init__(workdir, zone, key)
        self.zonefile = zonefile

    def config(self, port):
        k, _, ak = _knot_key(self.key)
        return KNOT_PRIMARY.format(dir=self.dir, port=port, zone=self.zone, key=k, acl_key=ak,
                                   zonefile=self.zonefile)

    def argv(self, conf):
        self.conf = conf
        return ["knotd", "-c", conf]

    def reload(self):
        """Load the zone file again (a difference: Knot then serves IXFR)."""
        subprocess.run(["knotc", "-c", self.conf, "zone-reload", self.zone], check=True,
                       capture_output=True, timeout=30)


class NsdSecondary(Peer):
    name = "nsd"
    logname = "nsd.log"

    def __init__(self, workdir, zone, primary, key=None):
        super().__init__(workdir, zone, key)
        self.primary = primary

    def config(self, port):
        key, keyname = "", "NOKEY"
        if self.key:
            name, alg, secret = self.key
            key = 'key:\n    name: "%s"\n    algorithm: %s\n    secret: "%s"\n' % (name, alg,
                                                                                  secret)
            keyname = name
        return NSD_SECONDARY.format(dir=self.dir, port=port, primary=self.primary, zone=self.zone,
                                    key=key, keyname=keyname)

    def argv(self, conf):
        return ["nsd", "-d", "-c", conf]


class BindSecondary(Peer):
    name = "bind"
    logname = "named.log"

    def __init__(self, workdir, zone, primary, key=None):
        super().__init__(workdir, zone, key)
        self.primary = primary

    def config(self, port):
        key, bind_key = "", ""
        if self.key:
            name, alg, secret = self.key
            key = 'key "%s" { algorithm %s; secret "%s"; };' % (name, alg, secret)
            bind_key = ' key "%s"' % name
        return BIND_SECONDARY.format(dir=self.dir, port=port, primary=self.primary,
                                     zone=self.zone, key=key, bind_key=bind_key)

    def argv(self, conf):
        return ["named", "-f", "-n", "1", "-c", conf]


SECONDARIES = {"knot": KnotSecondary, "nsd": NsdSecondary, "bind": BindSecondary}
