#!/usr/bin/env bash
# deps.sh: install the Debian 12 packages needed to build and test dnsbld.
# Only what is missing is installed, so a second run returns at once. As
# root it runs apt-get itself; otherwise it prints the command to run.
set -euo pipefail

packages=(
    build-essential cmake pkg-config clang
    libevent-dev libldns-dev liblmdb-dev lmdb-utils libconfuse-dev libcmocka-dev
    libgmime-3.0-dev zlib1g-dev libssl-dev
    rbldnsd nsd knot bind9
    python3 python3-dnspython
    bind9-dnsutils knot-dnsutils ldnsutils
    valgrind
)

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps.sh: no dpkg-query: this script knows Debian only; install by hand:" >&2
    echo "  ${packages[*]}" >&2
    exit 1
fi

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "deps.sh: all ${#packages[@]} packages are installed"
    exit 0
fi

install=(apt-get install -y --no-install-recommends "${missing[@]}")
if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing packages: ${missing[*]}" >&2
    echo "deps.sh: run this as root, then run me again:" >&2
    echo "sudo apt-get update && sudo ${install[*]}"
    exit 1
fi

echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
"${install[@]}"
