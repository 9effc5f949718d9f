#!/bin/bash
# Re-record the outputs taken from this (Debian 12) machine itself: read-only commands.
set -uo pipefail
OUT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT/dpkg-query" "$OUT/apt" "$OUT/os-release" "$OUT/leftovers"
F='${Package}\t${Version}\t${db:Status-Abbrev}\n'
dpkg-query -W -f="$F" 'openssh*' > "$OUT/dpkg-query/host-openssh.txt"
dpkg-query -W -f="$F" 'python3*' > "$OUT/dpkg-query/host-python3.txt"
dpkg-query -W -f="$F" 'no-such-package*' > "$OUT/dpkg-query/host-none-rc1.txt" 2>/dev/null
LC_ALL=C apt-get -s dist-upgrade > "$OUT/apt/host-simulate-dist-upgrade.txt"
LC_ALL=C apt list --upgradable > "$OUT/apt/host-list-upgradable.txt" 2>/dev/null
cp /etc/os-release "$OUT/os-release/debian-12-host.txt"
find /etc -type f \( -name '*.rpmnew' -o -name '*.rpmsave' -o -name '*.rpmorig' \
  -o -name '*.dpkg-dist' -o -name '*.dpkg-old' -o -name '*.ucf-dist' \) -print \
  > "$OUT/leftovers/find-host-none.txt"
echo "recorded into $OUT"
