#!/usr/bin/env bash
# demo.sh: quick start. Installs the build dependencies (deps.sh), builds
# dnsbld and dnsblctl in build/, fills a fresh demo store in demo/store
# with dnsblctl, prints dig commands to try, then runs dnsbld in the
# foreground on 127.0.0.1 and ::1, port $PORT (default 5353). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")"

PORT=${PORT:-5353}
./deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc 2>/dev/null || echo 2)"

dnsbld=build/server/dnsbld
dnsblctl=build/tools/dnsblctl
store=demo/store

# A fresh store on every run, so the demo always starts from the same data.
rm -rf "$store"
"$dnsblctl" init "$store" >/dev/null
ctl() { "$dnsblctl" --db "$store" "$@" >/dev/null; }
ctl add 192.0.2.0/24 --reason "demo: spam source network"
ctl allow 192.0.2.25 --reason "demo: our own relay"
ctl add 198.51.100.7 --reason "demo: complaints from our users"
ctl add 203.0.113.9 --code 127.0.0.3 --reason "demo: spam-trap hits"
ctl add 2001:db8:bad::/48 --reason "demo: IPv6 spam network"
ctl add 2001:db8::dead --reason "demo: IPv6 host"
echo
echo "demo store in $store:"
"$dnsblctl" --db "$store" list

listen=(--listen "127.0.0.1:$PORT")
# ::1 only where the loopback has it (IPv6 can be switched off).
if grep -q '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null; then
    listen+=(--listen "[::1]:$PORT")
fi

d="dig @127.0.0.1 -p $PORT +norec"
cat <<MSG

dnsbld is starting on 127.0.0.1:$PORT (and [::1]:$PORT). In another terminal, try:

  $d 7.2.0.192.bl.example A          # listed (192.0.2.0/24): 127.0.0.2
  $d 7.2.0.192.bl.example TXT        # the reason
  $d 25.2.0.192.bl.example A         # allowed inside the listed /24: NXDOMAIN
  $d 9.113.0.203.bl.example A        # listed with its own code: 127.0.0.3
  $d 7.100.51.198.bl.example ANY     # A and TXT together
  $d 8.100.51.198.bl.example A       # not listed: NXDOMAIN with the SOA
  $d 2.0.192.bl.example A            # partial name: NOERROR, no answer
  $d 1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.a.b.0.8.b.d.0.1.0.0.2.bl.example A   # 2001:db8:bad::1
  $d d.a.e.d.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example TXT # 2001:db8::dead
  $d 2.0.0.127.bl.example A          # RFC 5782 test point: always 127.0.0.2
  $d 1.0.0.127.bl.example A          # RFC 5782 test point: never listed
  $d bl.example SOA                  # apex data from zones/bl.example.zone
  $d bl.example NS
  $d +noedns +ignore long.bl.example TXT   # too big for UDP: truncated (tc flag)
  $d +tcp long.bl.example TXT        # the same over TCP: complete

Changes are live, no reload needed:

  $dnsblctl --db $store add 198.51.100.8 --reason "just now"
  $d 8.100.51.198.bl.example A

MSG
exec "$dnsbld" --db "$store" --zone bl.example=zones/bl.example.zone "${listen[@]}"
