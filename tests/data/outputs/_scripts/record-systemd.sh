#!/bin/bash
# Re-record tests/data/outputs/systemctl.  systemd is not PID 1 on the development
# machine (systemctl there says "System has not been booted with systemd as init system"),
# so this boots the machine's own tree in a throwaway systemd-nspawn container
# (overlay on a bind mount of /, changes vanish on exit), creates throwaway units and
# asks the container's systemd.  Needs: systemd-container (systemd-nspawn), root.
set -euo pipefail
OUT=$(cd "$(dirname "$0")/.." && pwd)/systemctl
ROOT=/tmp/stackstep-nsroot
mkdir -p "$ROOT" "$OUT"
mountpoint -q "$ROOT" || mount --bind / "$ROOT"
setsid systemd-nspawn -D "$ROOT" --volatile=overlay -M stackstep-rec --register=no \
  --keep-unit --link-journal=no --console=passive -b >/tmp/stackstep-nspawn.log 2>&1 &
NSPAWN=$!
trap 'kill "$NSPAWN" 2>/dev/null || true; sleep 2; umount "$ROOT" || true' EXIT
sleep 8
PID1=$(pgrep -P "$NSPAWN" -x systemd)
X() { nsenter -t "$PID1" -a "$@"; }
X systemctl stop postgresql.service 'postgresql@*' 2>/dev/null || true  # shares our network
X sh -c '
cd /etc/systemd/system
mk() { # name type exec install
  printf "[Unit]\nDescription=stackstep throwaway %s\n\n[Service]\nType=%s\nExecStart=%s\n" "$1" "$2" "$3" > $1.service
  if [ -n "$4" ]; then printf "\n[Install]\nWantedBy=multi-user.target\n" >> $1.service; fi
}
mk openstack-nova-api simple "/bin/sleep infinity" y
mk openstack-nova-scheduler simple "/bin/sleep infinity" y
mk openstack-nova-compute simple "/bin/false" y
mk openstack-glance-api simple "/bin/sleep infinity" y
mk openstack-nova-novncproxy simple "/bin/sleep infinity" ""
mk neutron-server simple "/bin/sleep infinity" y
mk neutron-ovs-cleanup oneshot "/bin/true" y
mk neutron-openvswitch-agent simple "/bin/sleep infinity" y
mk httpd simple "/bin/sleep infinity" y
systemctl daemon-reload
systemctl enable openstack-nova-api openstack-nova-scheduler openstack-nova-compute \
  neutron-server neutron-ovs-cleanup neutron-openvswitch-agent httpd
systemctl mask openstack-glance-registry
systemctl start openstack-nova-api neutron-server httpd openstack-glance-api
systemctl start openstack-nova-compute
systemctl start neutron-openvswitch-agent; systemctl stop neutron-openvswitch-agent
sleep 1' 2>/dev/null
L() { X systemctl list-unit-files --type=service --no-legend --no-pager "$@"; }
L 'openstack-*' 'neutron-*' 'quantum-*' 'httpd*' 'apache2*' > "$OUT/list-unit-files-openstack.txt"
L 'openstack-nova*' > "$OUT/list-unit-files-nova.txt"
L 'openstack-*' 'neutron-*' 'quantum-*' 'httpd*' 'apache2*' 'sys*' 'dbus*' 'getty*' \
  > "$OUT/list-unit-files-mixed.txt"
L 'no-such-*' > "$OUT/list-unit-files-none.txt" || true   # exits 1, prints nothing
U() { X systemctl list-units --all --type=service --no-legend --no-pager "$@"; }
U --plain 'openstack-*' 'neutron-*' 'quantum-*' 'httpd*' 'apache2*' \
  > "$OUT/list-units-openstack.txt"
U 'openstack-*' 'neutron-*' 'quantum-*' 'httpd*' 'apache2*' > "$OUT/list-units-bullets.txt"
U --plain 'no-such-*' > "$OUT/list-units-none.txt"   # exits 0, prints nothing
P=Id,LoadState,ActiveState,SubState,UnitFileState,MainPID,ExecMainStartTimestampMonotonic
S() { X systemctl show --no-pager -p "$P" "$@"; }
S openstack-nova-api.service > "$OUT/show-active.txt"
S openstack-nova-scheduler.service neutron-openvswitch-agent.service > "$OUT/show-inactive.txt"
S openstack-nova-compute.service > "$OUT/show-failed.txt"
S openstack-no-such.service > "$OUT/show-not-found.txt"
S dbus-org.freedesktop.login1.service > "$OUT/show-alias.txt"
S openstack-nova-api.service openstack-nova-scheduler.service openstack-nova-compute.service \
  openstack-glance-api.service openstack-glance-registry.service \
  openstack-nova-novncproxy.service neutron-server.service neutron-ovs-cleanup.service \
  neutron-openvswitch-agent.service httpd.service openstack-no-such.service \
  > "$OUT/show-mixed.txt"
X systemctl poweroff || true
echo "recorded into $OUT"
