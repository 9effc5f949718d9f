#!/bin/bash
# Re-record tests/data/outputs/{rpm,dnf,leftovers}: builds throwaway rpms with rpmbuild,
# installs them into a scratch rpm root under /tmp and asks rpm/dnf about it.
# Needs (Debian 12): apt-get install rpm dnf createrepo-c.  Run as root (rpm --root).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(cd "$HERE/.." && pwd)
W=${W:-/tmp/stackstep-rec}
R=$W/root
rm -rf "$W" && mkdir -p "$W/repo" "$W/repo-same" "$R"

build() { # name epoch(-=none) version release arch [obsoletes]
  local args=(--define "_topdir $W/build" --define "pkgname $1" --define "pkgver $3"
    --define "pkgrel $4" --define "pkgarch $5" --define "_target_cpu x86_64")
  [ "$2" != - ] && args+=(--define "pkgepoch $2")
  [ "$1" = kernel ] && args+=(--define "kver 1")
  [ -n "${6:-}" ] && args+=(--define "pkgobsoletes $6")
  rpmbuild -bb --quiet "${args[@]}" "$HERE/throwaway.spec" >/dev/null 2>&1
}
rpmi() { rpm --root "$R" "$@" 2>&1 | grep -v -e Alien -e 'assuming you know' || true; }

LONG=python3-neutron-dynamic-routing-tests-tempest-plugin
for k in 70.13.1.el9_0 284.11.1.el9_2 362.el9 427.13.1.el9_4; do build kernel - 5.14.0 $k x86_64; done
for v in 27.1.0 27.2.0; do
  for n in openstack-nova-common openstack-nova-api python3-nova; do build $n 1 $v 1.el9 noarch; done
done
build openstack-glance 1 25.1.0 1.el9 noarch
build python-novaclient - 17.0.0 1.el9 noarch
build python3-novaclient - 18.2.0 1.el9 noarch 'python-novaclient < 18'
build $LONG - 2.0.0 1.el9 noarch
build $LONG - 3.1.0 1.el9 noarch
N=$W/build/RPMS/noarch K=$W/build/RPMS/x86_64

rpm --root "$R" --initdb
rpmi -i $N/openstack-nova-common-27.1.0-1.el9.noarch.rpm $N/openstack-nova-api-27.1.0-1.el9.noarch.rpm \
  $N/python3-nova-27.1.0-1.el9.noarch.rpm $N/openstack-glance-25.1.0-1.el9.noarch.rpm \
  $N/python-novaclient-17.0.0-1.el9.noarch.rpm $N/$LONG-2.0.0-1.el9.noarch.rpm
# kernels one second apart, the last one older than the one before (an admin rolling back)
for k in 70.13.1.el9_0 362.el9 284.11.1.el9_2; do
  sleep 1.1; rpmi -i --oldpackage $K/kernel-5.14.0-$k.x86_64.rpm
done

QF='%{NAME}\t%{EPOCH}:%{VERSION}-%{RELEASE}\t%{ARCH}\t%{INSTALLTIME}\n'
mkdir -p "$OUT/rpm" "$OUT/dnf" "$OUT/boot" "$OUT/leftovers"
rpm --root "$R" -qa --qf "$QF" 'openstack-*' 'python3-nova*' 'kernel*' > "$OUT/rpm/qa-openstack.txt"
rpm --root "$R" -qa --qf "$QF" 'openstack-nova*' > "$OUT/rpm/qa-nova.txt"
rpm --root "$R" -qa --qf "$QF" 'no-such-*' > "$OUT/rpm/qa-none.txt"
rpm --root "$R" -qa --qf "$QF" > "$OUT/rpm/qa-all.txt"
LC_ALL=C rpm --root "$R" -q --last kernel > "$OUT/rpm/q-last-kernel.txt"
mkdir -p "$W/empty" && rpm --root "$W/empty" --initdb
LC_ALL=C rpm --root "$W/empty" -q --last kernel > "$OUT/rpm/q-last-kernel-not-installed-rc1.txt" || true
ls "$R/boot" > "$OUT/boot/ls-boot-rhel9.txt"

# dnf against a local file:// repository holding newer packages
cp $N/*.rpm $K/*.rpm "$W/repo/" && createrepo_c -q "$W/repo"
for f in $(rpm --root "$R" -qa --qf '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}.rpm\n'); do
  cp "$W/repo/$f" "$W/repo-same/"
done
createrepo_c -q "$W/repo-same"
dnfr() { # repo-dir args...
  local d=$1; shift
  dnf --installroot="$R" --releasever=9 --forcearch=x86_64 --setopt=reposdir=/dev/null \
    --setopt=cachedir="$W/cache-$(basename "$d")" --repofrompath="rec,file://$d" \
    --setopt=rec.gpgcheck=0 --refresh "$@"
}
dnfr "$W/repo" -q check-update > "$OUT/dnf/check-update-quiet-rc100.txt" || [ $? = 100 ]
dnfr "$W/repo" check-update > "$OUT/dnf/check-update-verbose-rc100.txt" 2>/dev/null || [ $? = 100 ]
dnfr "$W/repo" -q check-update 'openstack-nova*' > "$OUT/dnf/check-update-nova-glob-rc100.txt" || [ $? = 100 ]
dnfr "$W/repo" -q list --upgrades > "$OUT/dnf/list-upgrades-quiet.txt"
dnfr "$W/repo-same" -q check-update > "$OUT/dnf/check-update-none-rc0.txt"
dnfr "$W/repo-same" -q list --upgrades > "$OUT/dnf/list-upgrades-none.txt" || true

# leftovers: edit both config files, then upgrade (noreplace -> .rpmnew, plain %config -> .rpmsave)
echo '# edited by the operator' >> "$R/etc/nova/nova.conf"
echo '# edited by the operator' >> "$R/etc/nova/api-paste.ini"
rpmi -U $N/openstack-nova-common-27.2.0-1.el9.noarch.rpm
# find sees the scratch root's etc as /etc (private mount namespace), as on a real host
unshare -m sh -c "mount --bind '$R/etc' /etc && find /etc -type f \\( -name '*.rpmnew' \
  -o -name '*.rpmsave' -o -name '*.rpmorig' \\) -print" > "$OUT/leftovers/find-rpm.txt"
echo "recorded into $OUT"
