"""dnsdiff: ask two DNS servers on loopback the same questions and compare.

answer() asks one name and type over UDP (TCP when truncated) and returns
what a DNSBL client sees: the rcode and the sorted A or TXT data of the
answer section. sample_addresses() picks the addresses worth asking about
a set of prefixes: each prefix's first and last address, the ones just
outside it, a few inside, and the RFC 5782 test points."""

import ipaddress
import random
import select
import socket
import time

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.reversename


def qname(ip, zone):
    """7.2.0.192.ZONE. for 192.0.2.7, nibbles for IPv6."""
    rev = dns.reversename.from_address(str(ip)).to_text()
    for suffix in (".in-addr.arpa.", ".ip6.arpa."):
        if rev.endswith(suffix):
            return rev[: -len(suffix)] + "." + zone + "."
    raise ValueError(ip)


def answer(port, name, rdtype, tries=50, proc=None):
    """(rcode text, sorted answer data) from 127.0.0.1:port; retries while
    the server is starting (bounded: tries * 0.1 s)."""
    q = dns.message.make_query(name, rdtype)
    for _ in range(tries):
        if proc is not None and proc.poll() is not None:
            break
        try:
            r = dns.query.udp(q, "127.0.0.1", port=port, timeout=1.0)
            if r.flags & dns.flags.TC:
                r = dns.query.tcp(q, "127.0.0.1", port=port, timeout=2.0)
        except (dns.exception.Timeout, ConnectionRefusedError, socket.error):
            time.sleep(0.1)
            continue
        data = sorted(rd.to_text() for rrs in r.answer if rrs.rdtype == q.question[0].rdtype
                      for rd in rrs)
        return dns.rcode.to_text(r.rcode()), data
    raise RuntimeError("no answer from 127.0.0.1:%d to %s %s" % (port, name, rdtype))


def sample_addresses(prefixes, seed=1, inside=3, near=0):
    """Addresses at and around every prefix (ipaddress networks), a few
    random ones inside each (inside), near random ones in the network 8
    bits shorter, and the test points; sorted, no duplicates."""
    rnd = random.Random(seed)
    out = {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("127.0.0.2")}
    for net in prefixes:
        first, last = int(net.network_address), int(net.broadcast_address)
        top = 2 ** net.max_prefixlen - 1
        cls = type(net.network_address)
        for v in (first, last, first - 1, last + 1):
            if 0 <= v <= top:
                out.add(cls(v))
        for _ in range(inside):
            out.add(cls(rnd.randint(first, last)))
        wider = net.supernet(new_prefix=max(0, net.prefixlen - 8))
        for _ in range(near):
            out.add(cls(rnd.randint(int(wider.network_address), int(wider.broadcast_address))))
    return sorted(out, key=lambda a: (a.version, int(a)))


def _data(r, rdtype):
    return sorted(rd.to_text() for rrs in r.answer if rrs.rdtype == rdtype for rd in rrs)


def answers_bulk(port, names, rdtype, window=200, timeout=1.0, rounds=5):
    """answer() for many names at once: {name: (rcode, sorted data)}, with
    up to `window` questions in flight over one UDP socket; truncated
    answers are asked again over TCP, lost ones again up to `rounds`
    times. Raises RuntimeError naming what never got an answer."""
    rdtype = dns.rdatatype.from_text(rdtype) if isinstance(rdtype, str) else rdtype
    out = {}
    todo = list(dict.fromkeys(names))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        for _ in range(rounds):
            if not todo:
                break
            pending = {}  # id -> name
            queue = list(todo)
            next_id = random.randrange(65536)
            deadline = time.monotonic() + timeout
            while queue or pending:
                while queue and len(pending) < window:
                    name = queue.pop()
                    while next_id in pending:
                        next_id = (next_id + 1) % 65536
                    q = dns.message.make_query(name, rdtype)
                    q.id = next_id
                    pending[next_id] = (name, q)
                    next_id = (next_id + 1) % 65536
                    sock.sendto(q.to_wire(), ("127.0.0.1", port))
                    deadline = time.monotonic() + timeout
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                ready, _, _ = select.select([sock], [], [], left)
                if not ready:
                    continue
                while True:
                    try:
                        wire, _ = sock.recvfrom(65535)
                    except BlockingIOError:
                        break
                    try:
                        r = dns.message.from_wire(wire)
                    except dns.exception.DNSException:
                        continue
                    item = pending.get(r.id)
                    # A late answer from an earlier round may reuse an id.
                    if item is None or not r.question or r.question[0] != item[1].question[0]:
                        continue
                    del pending[r.id]
                    name, q = item
                    if r.flags & dns.flags.TC:
                        r = dns.query.tcp(q, "127.0.0.1", port=port, timeout=2.0)
                    out[name] = (dns.rcode.to_text(r.rcode()), _data(r, rdtype))
            todo = [n for n in todo if n not in out]
    finally:
        sock.close()
    if todo:
        raise RuntimeError("no answer from 127.0.0.1:%d to %d questions, e.g. %s %s"
                           % (port, len(todo), todo[0], dns.rdatatype.to_text(rdtype)))
    return out
