#!/bin/sh
# The seed's procedure, run literally: "Scenario 2: One service at a time" of RDO's
# Grizzly -> Havana upgrade notes (the seed page; for quantum and horizon, the steps of the
# per-service pages it links, as the project's reference notes restate them), as an
# operator types it: one ssh command after another, host after host, no checks, no waits.
#
# Needs: root and the lab with a fresh Grizzly cloud (`stackstep lab deploy --scenario
# havana`). The hosts' addresses exist only in the lab's network namespace, so run it
# there (plain OpenSSH, host keys checked):
#
#     ip netns exec stlab sh bench/seed_upgrade.sh
#
# bench/downtime.py runs it this way and watches it with stackstep's prober. The hosts and
# the SSH key default to the lab's; CONTROLLER, NETWORK, COMPUTES, STORAGE, SSH_KEY and
# KNOWN_HOSTS override them. Exit 0 when every command succeeded (set -e: the first
# failure stops it, as an operator would stop).
#
# Every line marked CHANGE differs from the seed's text; the comment says why it was
# needed for the procedure to complete on the lab. Everything else is the seed's.
set -eu

SSH_KEY=${SSH_KEY:-/var/lib/stackstep/lab/ssh/client_ed25519}
KNOWN_HOSTS=${KNOWN_HOSTS:-/var/lib/stackstep/lab/ssh/known_hosts}
CONTROLLER=${CONTROLLER:-10.254.0.11}
NETWORK=${NETWORK:-10.254.0.12}
COMPUTES=${COMPUTES:-10.254.0.13 10.254.0.14}
STORAGE=${STORAGE:-10.254.0.15}
ALL="$CONTROLLER $NETWORK $COMPUTES $STORAGE"

# `# command` on a host, as the seed writes it, over ssh as root.
on() {
    host=$1
    shift
    echo "$(date +%T.%3N) [$host] # $*"
    # CHANGE: BatchMode (no password prompt: the script runs unattended) and the lab's
    # key and known_hosts file (the lab's hosts are not in root's own known_hosts).
    ssh -n -o BatchMode=yes -i "$SSH_KEY" -o UserKnownHostsFile="$KNOWN_HOSTS" \
        -o StrictHostKeyChecking=yes "root@$host" "$@"
}

# --- Pre-upgrade: "On all of your hosts: install the Havana yum repository." ----------
for h in $ALL; do
    # CHANGE: the lab's rdo-release-havana package is served by its Grizzly repository
    # (RDO's was a URL: yum install http://rdo.fedorapeople.org/.../rdo-release-havana.rpm);
    # -y: nobody answers yum's question in a script (the same for every yum below).
    on "$h" yum -y install rdo-release-havana
done

# --- Service upgrades, in the seed's order: stop, yum upgrade *svc*, DB, start --------

# 1. Keystone (controller)
on "$CONTROLLER" openstack-service stop keystone
on "$CONTROLLER" "yum -y upgrade '*keystone*'"
# The seed's DB command; it does not flush Grizzly's expired tokens first (stackstep does:
# keystone-manage token_flush), so the migration rewrites every token row.
on "$CONTROLLER" keystone-manage db_sync
on "$CONTROLLER" openstack-service start keystone

# 2. Swift (proxy on the controller, account/container/object servers on storage): no DB
for h in $CONTROLLER $STORAGE; do on "$h" openstack-service stop swift; done
for h in $CONTROLLER $STORAGE; do on "$h" "yum -y upgrade '*swift*'"; done
for h in $CONTROLLER $STORAGE; do on "$h" openstack-service start swift; done

# 3. Cinder (API and scheduler on the controller, volume on storage)
for h in $CONTROLLER $STORAGE; do on "$h" openstack-service stop cinder; done
for h in $CONTROLLER $STORAGE; do on "$h" "yum -y upgrade '*cinder*'"; done
on "$CONTROLLER" cinder-manage db sync
for h in $CONTROLLER $STORAGE; do on "$h" openstack-service start cinder; done

# 4. Glance (controller)
on "$CONTROLLER" openstack-service stop glance
on "$CONTROLLER" "yum -y upgrade '*glance*'"
on "$CONTROLLER" glance-manage db_sync
on "$CONTROLLER" openstack-service start glance

# 5. Quantum -> Neutron (server on the controller, agents on network and computes). The
# seed's quantum page: stop quantum everywhere, remove the quantum user, stamp the
# unversioned Grizzly DB, upgrade, move the *.rpmsave configs to /etc/neutron renaming
# quantum to neutron (sql_connection and admin_user lines kept), point plugin.ini at the
# plugin's config, migrate, start neutron.
QUANTUM_HOSTS="$CONTROLLER $NETWORK $COMPUTES"
QCONF="--config-file /etc/quantum/quantum.conf --config-file /etc/quantum/plugin.ini"
NCONF="--config-file /etc/neutron/neutron.conf --config-file /etc/neutron/plugin.ini"
for h in $QUANTUM_HOSTS; do on "$h" openstack-service stop quantum; done
for h in $QUANTUM_HOSTS; do on "$h" userdel quantum; done
on "$CONTROLLER" "if quantum-db-manage $QCONF current | grep -q None; then
    quantum-db-manage $QCONF stamp grizzly; fi"
for h in $QUANTUM_HOSTS; do on "$h" "yum -y upgrade '*quantum*'"; done
for h in $QUANTUM_HOSTS; do
    on "$h" 'cd /etc/quantum && for f in $(find . -name "*.rpmsave"); do
        to=/etc/neutron/$(echo "${f%.rpmsave}" | sed s/quantum/neutron/g)
        mkdir -p "$(dirname "$to")"
        sed "/^ *\(sql_connection\|admin_user\)/!s/quantum/neutron/g" "$f" > "$to"
    done'
    on "$h" ln -sfn /etc/neutron/plugins/openvswitch/ovs_neutron_plugin.ini \
        /etc/neutron/plugin.ini
done
on "$CONTROLLER" "neutron-db-manage $NCONF upgrade head"
for h in $QUANTUM_HOSTS; do on "$h" openstack-service start neutron; done

# 6. Nova (API, conductor, scheduler... on the controller, compute on the computes)
for h in $CONTROLLER $COMPUTES; do on "$h" openstack-service stop nova; done
for h in $CONTROLLER $COMPUTES; do on "$h" "yum -y upgrade '*nova*'"; done
on "$CONTROLLER" nova-manage db sync
for h in $CONTROLLER $COMPUTES; do on "$h" openstack-service start nova; done

# 7. Horizon (httpd on the controller): no DB. The seed's horizon page: take the new
# local_settings (.rpmnew) carrying SECRET_KEY and OPENSTACK_HOST over, add ALLOWED_HOSTS
# (Django >= 1.5 refuses to serve without it), restart httpd.
# CHANGE: openstack-service does not act on httpd (not an openstack-* unit): its unit
# is named directly.
on "$CONTROLLER" systemctl stop httpd
# CHANGE: '*horizon*' alone matches no package on the lab (yum then fails: "No packages
# marked for upgrade"); RDO's python-django-horizon matched it, and its openstack-dashboard
# (the lab's one horizon package, with local_settings) was upgraded beside it.
on "$CONTROLLER" "yum -y upgrade '*horizon*' openstack-dashboard"
on "$CONTROLLER" 'cd /etc/openstack-dashboard && cp local_settings local_settings.grizzly &&
    cp local_settings.rpmnew local_settings &&
    for key in SECRET_KEY OPENSTACK_HOST; do
        line=$(grep "^$key *=" local_settings.grizzly | tail -n 1)
        [ -z "$line" ] || { sed -i "/^$key *=/d" local_settings; echo "$line" >> local_settings; }
    done &&
    { grep -q "^ALLOWED_HOSTS" local_settings || echo "ALLOWED_HOSTS = [\"*\"]" >> local_settings; }'
on "$CONTROLLER" systemctl start httpd

# --- Final package upgrade: "on all of your systems", then restart nova-compute -------
# (the new glance client breaks the running Grizzly nova-compute). The *.rpmnew review
# and "test that the service is functioning" are a person's reading, not commands.
for h in $ALL; do on "$h" yum -y upgrade; done
for h in $COMPUTES; do on "$h" openstack-service restart nova-compute; done
echo "$(date +%T.%3N) done"
