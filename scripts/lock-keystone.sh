#!/bin/bash
# Regenerate the lab's keystone lock files (src/stackstep/lab/openstack/locks/) from the
# OpenStack upper-constraints files: resolve keystone + gunicorn + PyMySQL under each
# release's constraints in a throwaway venv (Debian's python3, as on the lab hosts) and
# freeze the result. The lab installs exactly these pins, without resolving (--no-deps).
# usage: scripts/lock-keystone.sh [UPPER_CONSTRAINTS_DIR]
set -euo pipefail
UC=${1:-$(dirname "$0")/../../shared/data/openstack-upper-constraints}
OUT=$(dirname "$0")/../src/stackstep/lab/openstack/locks
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
for pair in "28.1.0 2025.2" "29.1.0 2026.1"; do
    set -- $pair
    /usr/bin/python3 -m venv "$WORK/ks$1"
    "$WORK/ks$1/bin/pip" install -q -c "$UC/$2.txt" "keystone==$1" gunicorn PyMySQL
    {
        echo "# keystone $1 for the stackstep lab: the closure of keystone==$1, gunicorn, PyMySQL"
        echo "# under OpenStack $2 upper-constraints. Made by scripts/lock-keystone.sh; do not edit."
        "$WORK/ks$1/bin/pip" freeze --all --exclude pip --exclude setuptools --exclude wheel
    } > "$OUT/keystone-$1.txt"
done
