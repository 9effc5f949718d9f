#!/bin/bash
# Re-record the Debian side of tests/data/outputs: a scratch dpkg root under /tmp with
# throwaway .debs (nova, glance, two kernels), a local apt repository holding newer ones,
# and apt/dpkg asked about that root only (this machine's own dpkg database is untouched).
# Needs (Debian 12): dpkg-dev (dpkg-scanpackages), apt, dpkg.  Run as root.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(cd "$HERE/.." && pwd)
W=${W:-/tmp/stackstep-rec-deb}
R=$W/root
rm -rf "$W" && mkdir -p "$W/debs" "$W/repo" "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates"
touch "$R/var/lib/dpkg/status" "$R/var/lib/dpkg/available"

deb() { # name version arch [depends] [conffile] [bootfile]
  local d=$W/src/$1_$2
  mkdir -p "$d/DEBIAN" "$d/usr/share/doc/$1"
  echo "$1 $2" > "$d/usr/share/doc/$1/VERSION"
  { echo "Package: $1"; echo "Version: $2"; echo "Architecture: $3"
    echo "Maintainer: stackstep <dev@example.invalid>"
    [ -n "${4:-}" ] && echo "Depends: $4"
    echo "Description: stackstep throwaway package $1"; } > "$d/DEBIAN/control"
  if [ -n "${5:-}" ]; then
    mkdir -p "$d/$(dirname "$5")"; printf '[DEFAULT]\n# shipped by %s\n' "$2" > "$d/$5"
    echo "$5" > "$d/DEBIAN/conffiles"
  fi
  if [ -n "${6:-}" ]; then
    mkdir -p "$d/boot"; echo vmlinuz > "$d/boot/vmlinuz-$6"; echo cfg > "$d/boot/config-$6"
    echo map > "$d/boot/System.map-$6"
  fi
  dpkg-deb -Zxz --root-owner-group -b "$d" "$W/debs/$1_$2_$3.deb" >/dev/null
}
for v in 2:27.1.0-1 2:27.2.0-1; do
  deb nova-common "$v" all "" /etc/nova/nova.conf
  deb nova-api "$v" all "nova-common (= $v)"
  deb python3-nova "$v" all
done
deb nova-scheduler 2:27.1.0-1 all "nova-common" /etc/default/nova-scheduler
deb glance-common 2:25.1.0-1 all "" /etc/glance/glance-api.conf
deb glance-common 2:25.2.0-1 all "" /etc/glance/glance-api.conf
deb linux-image-6.1.0-9-amd64 6.1.27-1 amd64 "" "" 6.1.0-9-amd64
deb linux-image-6.1.0-26-amd64 6.1.112-1 amd64 "" "" 6.1.0-26-amd64
deb linux-image-6.1.0-28-amd64 6.1.119-1 amd64 "" "" 6.1.0-28-amd64
deb linux-image-amd64 6.1.112-1 amd64 "linux-image-6.1.0-26-amd64"
deb linux-image-amd64 6.1.119-1 amd64 "linux-image-6.1.0-28-amd64"
D=$W/debs
dpk() { dpkg --root="$R" --force-not-root --force-script-chrootless "$@" >/dev/null; }
dpk -i $D/nova-common_2:27.1.0-1_all.deb $D/nova-api_2:27.1.0-1_all.deb $D/python3-nova_2:27.1.0-1_all.deb \
  $D/nova-scheduler_2:27.1.0-1_all.deb $D/glance-common_2:25.1.0-1_all.deb $D/linux-image-6.1.0-9-amd64_6.1.27-1_amd64.deb \
  $D/linux-image-6.1.0-26-amd64_6.1.112-1_amd64.deb $D/linux-image-amd64_6.1.112-1_amd64.deb
dpk -r nova-scheduler   # removed, config kept: state "rc"

mkdir -p "$OUT/dpkg-query" "$OUT/apt" "$OUT/boot" "$OUT/leftovers"
F='${Package}\t${Version}\t${db:Status-Abbrev}\n'
Q() { dpkg-query --admindir="$R/var/lib/dpkg" -W -f="$F" "$@" || true; }
Q 'nova-*' 'python3-nova*' 'glance-*' > "$OUT/dpkg-query/scratch-openstack.txt"
Q 'linux-image-*' > "$OUT/dpkg-query/scratch-kernels.txt"
ls "$R/boot" > "$OUT/boot/ls-boot-debian12.txt"

# apt, simulated, against a local repository with the newer packages
cp $D/*.deb "$W/repo/" && (cd "$W/repo" && dpkg-scanpackages -m . /dev/null > Packages 2>/dev/null)
mkdir -p "$W/apt/lists/partial" "$W/apt/cache/archives/partial" "$W/apt/etc/apt.conf.d" "$W/apt/etc/preferences.d"
echo "deb [trusted=yes] file:$W/repo ./" > "$W/apt/etc/sources.list"
A=(-o "Dir::State::status=$R/var/lib/dpkg/status" -o "Dir::State::Lists=$W/apt/lists"
   -o "Dir::Cache=$W/apt/cache" -o "Dir::Etc=$W/apt/etc" -o "Dir::Etc::SourceParts=$W/apt/etc/none"
   -o "Dir::Etc::Parts=$W/apt/etc/apt.conf.d" -o "Dir::Etc::PreferencesParts=$W/apt/etc/preferences.d"
   -o "APT::Architecture=amd64" -o "APT::Get::List-Cleanup=0")
apt-get "${A[@]}" -qq update
LC_ALL=C apt-get "${A[@]}" -s dist-upgrade > "$OUT/apt/scratch-simulate-dist-upgrade.txt"
LC_ALL=C apt-get "${A[@]}" -s -o Dpkg::Options::=--force-confold dist-upgrade -q=2 > "$OUT/apt/scratch-simulate-dist-upgrade-quiet.txt"
LC_ALL=C apt "${A[@]}" list --upgradable > "$OUT/apt/scratch-list-upgradable.txt" 2>/dev/null

# leftovers: edit conffiles, upgrade keeping (nova) / replacing (glance) the edited file
echo '# edited by the operator' >> "$R/etc/nova/nova.conf"
echo '# edited by the operator' >> "$R/etc/glance/glance-api.conf"
dpk --force-confold -i $D/nova-common_2:27.2.0-1_all.deb $D/nova-api_2:27.2.0-1_all.deb
dpk --force-confnew -i $D/glance-common_2:25.2.0-1_all.deb
Q 'nova-*' 'python3-nova*' 'glance-*' > "$OUT/dpkg-query/scratch-after-upgrade.txt"
unshare -m sh -c "mount --bind '$R/etc' /etc && find /etc -type f \\( -name '*.dpkg-dist' \
  -o -name '*.dpkg-old' -o -name '*.dpkg-new' -o -name '*.ucf-dist' -o -name '*.ucf-old' \\) -print" \
  > "$OUT/leftovers/find-deb.txt"
echo "recorded into $OUT"
