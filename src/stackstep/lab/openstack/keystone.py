"""Real keystone for the lab's ``modern`` scenario: PyPI's keystone in venvs, as RPMs.

Each keystone version gets a venv at ``/opt/venvs/keystone-<version>``, built once in a
throwaway container of the golden image (``systemd-nspawn --volatile=overlay``, so the
venv's interpreter is exactly the hosts' python3) from the pins of our lock files
(``locks/keystone-<version>.txt``, made from OpenStack's upper-constraints by
``scripts/lock-keystone.sh``; installed with ``--no-deps``, so nothing is resolved at
build time). The venv is packaged whole in ``openstack-keystone-<version>`` with a
``%config(noreplace)`` keystone.conf, ``keystone-manage``/``keystone-status`` wrappers
and the unit that serves it: ``httpd.service`` as in RDO, where keystone runs inside
httpd; in the lab it is gunicorn serving keystone's WSGI application on port 5000
(Debian's apache2 is not in the golden image). Built venvs and RPMs are cached under
``<lab cache>/keystone/`` keyed by the lock, the golden image and :data:`REVISION`.

The deb flavour is Ubuntu's ``keystone`` package: the same venv, the unit named
``apache2.service`` (Ubuntu serves keystone in apache2) and debhelper's maintainer scripts
(enable and start on install, restart after an upgrade, through ``invoke-rc.d``, so
``/usr/sbin/policy-rc.d`` can deny them).
"""

from __future__ import annotations

import hashlib
import platform
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from stackstep.lab.errors import LabError
from stackstep.lab.openstack.modern import deb_scripts
from stackstep.lab.repos import PackageSpec, build_packages
from stackstep.lab.system import run

# lab release name -> (OpenStack series number, keystone version)
RELEASES = {"flamingo": ("2025.2", "28.1.0"), "gazpacho": ("2026.1", "29.1.0")}
REVISION = 2  # bump when the package content below changes
# flavour -> (package name, release, the unit serving keystone)
FLAVOURS = {
    "rpm": ("openstack-keystone", "1.el9", "httpd"),
    "deb": ("keystone", "0ubuntu1", "apache2"),
}
PORT = 5000
ADMIN_PASSWORD = "lab-admin-secret"  # the lab's throwaway admin password
AUTH_FILE = "/etc/keystone/lab-admin-auth.json"
BUILD_TIMEOUT = 1800.0


def lock_text(version: str) -> str:
    lock = resources.files("stackstep.lab.openstack").joinpath("locks", f"keystone-{version}.txt")
    try:
        return lock.read_text()
    except FileNotFoundError:
        raise LabError(f"no lock file for keystone {version}") from None


def _key(version: str, golden: Path) -> str:
    text = f"{lock_text(version)}\n{golden.name}\n{REVISION}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def venv_path(version: str) -> str:
    return f"/opt/venvs/keystone-{version}"


def ensure_venv(cache: Path, golden: Path, version: str, log: Path | None = None) -> Path:
    """The venv for ``version`` (built in a container of ``golden`` if not cached)."""
    target = cache / "keystone" / f"venv-{version}-{_key(version, golden)}"
    if (target / ".complete").exists():
        return target / f"keystone-{version}"
    work = target.with_name(target.name + ".building")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "lock.txt").write_text(lock_text(version))
    venv = venv_path(version)
    script = (
        f"python3 -m venv {venv} && "
        f"{venv}/bin/pip install --quiet --no-deps --require-virtualenv "
        f"-r /opt/venvs/lock.txt"
    )
    run(
        [
            "systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "--volatile=overlay",
            "--resolv-conf=copy-host", "--timezone=off", f"--directory={golden}",
            f"--bind={work}:/opt/venvs",
            "--setenv=PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
            "--setenv=PIP_DISABLE_PIP_VERSION_CHECK=1", "--setenv=PIP_DEFAULT_TIMEOUT=180",
            "sh", "-c", script,
        ],
        timeout=BUILD_TIMEOUT,
        log=log,
    )  # fmt: skip
    (work / "lock.txt").unlink()
    (work / ".complete").write_text(version + "\n")
    shutil.rmtree(target, ignore_errors=True)
    work.rename(target)
    return target / f"keystone-{version}"


KEYSTONE_CONF = """# keystone.conf shipped by openstack-keystone-{version} (stackstep lab)
[DEFAULT]
log_file = /var/log/keystone/keystone.log

[database]
connection = sqlite:////var/lib/keystone/keystone.db

[fernet_tokens]
key_repository = /etc/keystone/fernet-keys/

[credential]
key_repository = /etc/keystone/credential-keys/

[token]
provider = fernet
expiration = {expiration}
"""
# keystone's WSGI app; gunicorn's argv must not reach oslo.config, which would exit(2)
KS_WSGI = """import sys

sys.argv = sys.argv[:1]
from keystone.server.wsgi import initialize_public_application  # noqa: E402

application = initialize_public_application()
"""
HTTPD_UNIT = """[Unit]
Description=The lab's {unit}: keystone {version} under gunicorn on port {port}
After=network.target mariadb.service

[Service]
User=keystone
Group=keystone
Environment=OS_KEYSTONE_CONFIG_FILES=/etc/keystone/keystone.conf PYTHONWARNINGS=ignore
ExecStart={venv}/bin/gunicorn --pythonpath /usr/lib/openstack-keystone --bind 0.0.0.0:{port} \\
    --workers 1 --threads 4 --error-logfile /var/log/keystone/httpd.log ks_wsgi:application
Restart=no

[Install]
WantedBy=multi-user.target
"""
POST = """getent group keystone >/dev/null 2>&1 || groupadd -r keystone
getent passwd keystone >/dev/null 2>&1 || useradd -r -g keystone -M -d /var/lib/keystone \\
    -s /sbin/nologin keystone
mkdir -p /var/log/keystone /var/lib/keystone
chown keystone:keystone /var/log/keystone /var/lib/keystone
systemctl daemon-reload >/dev/null 2>&1 || :
"""


def unit(flavour: str) -> str:
    """The unit serving keystone: ``httpd`` (rpm), ``apache2`` (deb)."""
    return FLAVOURS[flavour][2]


def package_name(flavour: str) -> str:
    return FLAVOURS[flavour][0]


def package_spec(version: str, venv: Path, flavour: str = "rpm") -> PackageSpec:
    """``openstack-keystone-<version>`` (rpm) or ``keystone`` (deb): the venv at ``venv``
    plus what RDO's or Ubuntu's package adds."""
    name, release, served_by = FLAVOURS[flavour]
    post, scripts = POST, dict[str, str]()
    if flavour == "deb":
        restart, scripts = deb_scripts([served_by])
        post += restart
    wrappers = {
        f"/usr/bin/{tool}": f'#!/bin/sh\nexec {venv_path(version)}/bin/{tool} "$@"\n'
        for tool in ("keystone-manage", "keystone-status")
    }
    # the default changes between versions (token lifetime), so a local edit meets .rpmnew
    expiration = 3600 if version.startswith("28.") else 7200
    return PackageSpec(
        name=name,
        version=version,
        release=release,
        summary=f"OpenStack Identity {version} (PyPI keystone in a venv, stackstep lab)",
        files={
            "/usr/lib/openstack-keystone/ks_wsgi.py": KS_WSGI,
            f"/usr/lib/systemd/system/{served_by}.service": HTTPD_UNIT.format(
                unit=served_by, version=version, port=PORT, venv=venv_path(version)
            ),
        },
        config_files={
            "/etc/keystone/keystone.conf": KEYSTONE_CONF.format(
                version=version, expiration=expiration
            )
        },
        executables=wrappers,
        requires=("lab-base",),
        post_install=post,
        scripts=scripts,
        arch=platform.machine(),
        trees={venv_path(version): str(venv)},
    )


def ensure_package(
    cache: Path, golden: Path, version: str, flavour: str = "rpm", log: Path | None = None
) -> Path:
    """keystone ``version``'s package of ``flavour`` (venv and package built if not cached)."""
    folder = cache / "keystone" / f"{flavour}-{version}-{_key(version, golden)}"
    built = sorted(folder.glob(f"*.{flavour}"))
    if built:
        return built[0]
    venv = ensure_venv(cache, golden, version, log)
    with tempfile.TemporaryDirectory(prefix="lab-keystone-", dir=cache) as temp:
        spec = package_spec(version, venv, flavour)
        files = build_packages([spec], Path(temp), formats=(flavour,))
        work = folder.with_name(folder.name + ".building")
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        for path in files:
            shutil.move(path, work / path.name)
        shutil.rmtree(folder, ignore_errors=True)
        work.rename(folder)
    return sorted(folder.glob(f"*.{flavour}"))[0]


def prune(cache: Path, golden: Path) -> None:
    """Remove cached venvs and packages made for other locks, golden images or revisions."""
    current = {
        f"{kind}-{v}-{_key(v, golden)}"
        for _, v in RELEASES.values()
        for kind in ("venv", *FLAVOURS)
    }
    for old in (cache / "keystone").glob("*-*"):
        if old.is_dir() and old.name not in current:
            shutil.rmtree(old, ignore_errors=True)


def token_request(password: str = ADMIN_PASSWORD) -> str:
    """The JSON body that asks keystone for a project-scoped admin token."""
    return (
        '{"auth": {"identity": {"methods": ["password"], "password": {"user": '
        f'{{"name": "admin", "domain": {{"id": "default"}}, "password": "{password}"}}}}}}, '
        '"scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}'
    )
