"""The stand-in OpenStack services as RDO-named RPMs, ready for :meth:`LabRepos.release`.

Each service package ships its ``SERVICE.json`` (see ``services.py``), config files
(``%config(noreplace)``, defaults from ``configs.py``), its CLI wrappers and systemd units
(``Type=notify``, ``Restart=no``) running ``standin.py serve SERVICE COMPONENT``.
``%post`` creates the service user and, on first install, runs ``systemctl preset`` on
its units: with no preset file that enables them (as the brief's ``systemctl enable``);
:func:`unit_preset` gives the file that limits a host to its roles' units.
Every package requires ``lab-base`` (:data:`stackstep.lab.repos.BASE_PACKAGE`, released
separately) through ``openstack-lab-common``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from importlib import resources

from stackstep.lab.openstack.configs import config_files
from stackstep.lab.openstack.services import (
    CLIENT_MODULE,
    CLIENT_VERSIONS,
    DATABASES,
    VERSIONS,
    document,
)
from stackstep.lab.repos import PackageSpec

__all__ = [
    "DATABASES",
    "RELEASES",
    "kernel_package",
    "release_packages",
    "release_repo_package",
    "role_packages",
    "role_units",
    "unit_preset",
]
RELEASES = ("grizzly", "havana")
ROLES = ("controller", "network", "compute", "storage")
LIB = "/usr/lib/openstack-lab"
STANDIN = f"{LIB}/standin.py"
SHARE = "/usr/share/openstack-lab"
UNIT_DIR = "/usr/lib/systemd/system"
LAB_KERNEL = "/run/lab-kernel"
NOVA = ("api", "scheduler", "conductor", "cert", "consoleauth", "novncproxy", "compute")
HTTPD_VERSION = "2.2.15"  # the same httpd under both releases, as on RHEL 6

UNAME_SHIM = f"""#!/bin/sh
# Lab hosts never boot a kernel: `uname -r` answers the newest lab kernel installed at
# the last boot (recorded by lab-kernel.service); everything else is the real uname.
if [ -s {LAB_KERNEL} ] && {{ [ "$*" = "-r" ] || [ "$*" = "--kernel-release" ]; }}; then
    cat {LAB_KERNEL}
    exit 0
fi
exec /usr/bin/uname "$@"
"""
KERNEL_RECORD = f"""#!/bin/sh
# At boot: the newest installed lab kernel is the one this host now "runs".
newest=$(cat /lib/modules/*/lab-kernel 2>/dev/null | sort -V | tail -n 1)
[ -z "$newest" ] || echo "$newest" > {LAB_KERNEL}
exit 0
"""
KERNEL_UNIT = f"""[Unit]
Description=Record the lab kernel this boot runs (uname -r of the lab)
DefaultDependencies=no
After=local-fs.target
Before=sysinit.target ssh.service sshd.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart={LIB}/lab-kernel-record

[Install]
WantedBy=sysinit.target
"""
OPENSTACK_SERVICE = """#!/bin/sh
# openstack-service (openstack-utils, lab stand-in): act on the OpenStack units enabled
# at boot whose names start with openstack, neutron or quantum (not neutron-*-cleanup).
# An argument is a prefix: `nova` matches ^(openstack-)?nova.
[ $# -ge 1 ] || { echo "usage: openstack-service ACTION [SERVICE...]" >&2; exit 1; }
action=$1; shift
units=$(systemctl list-unit-files --type=service --no-legend 2>/dev/null |
    awk '$2 == "enabled" {sub(/\\.service$/, "", $1); print $1}' |
    grep -E '^(openstack|neutron|quantum)' | grep -vE '^neutron-.*-cleanup$')
if [ $# -gt 0 ]; then
    pattern=$(printf '%s|' "$@")
    units=$(printf '%s\\n' $units | grep -E "^(openstack-)?(${pattern%|})")
fi
[ -n "$units" ] || exit 0
case $action in
    list) printf '%s\\n' $units ;;
    *) exec systemctl "$action" $units ;;
esac
"""


def standin_source() -> str:
    """The text of ``standin.py``, shipped to the hosts in ``openstack-lab-common``."""
    return resources.files(__package__).joinpath("standin.py").read_text()


def units(release: str) -> list[tuple[str, str, str, str]]:
    """(package, unit, service, component) of every systemd unit of ``release``."""
    net = "neutron" if release == "havana" else "quantum"
    rows = [
        ("openstack-keystone", "openstack-keystone", "keystone", "keystone"),
        ("openstack-glance", "openstack-glance-api", "glance", "api"),
        ("openstack-glance", "openstack-glance-registry", "glance", "registry"),
        *(
            ("openstack-cinder", f"openstack-cinder-{c}", "cinder", c)
            for c in ("api", "scheduler", "volume")
        ),
        *((f"openstack-nova-{c}", f"openstack-nova-{c}", "nova", c) for c in NOVA),
        *(
            (f"openstack-{net}", f"{net}-{c}", net, c)
            for c in ("server", "dhcp-agent", "l3-agent", "metadata-agent")
        ),
        (f"openstack-{net}-openvswitch", f"{net}-openvswitch-agent", net, "openvswitch-agent"),
        *(
            (f"openstack-swift-{c.split('-')[0]}", f"openstack-swift-{c}", "swift", c)
            for c in document("swift", release)["components"]
        ),
        ("httpd", "httpd", "horizon", "dashboard"),
    ]
    return rows


def _unit_text(unit: str, service: str, component: str) -> str:
    return (
        f"[Unit]\nDescription=OpenStack {service} {component} (stackstep lab stand-in)\n"
        "After=network.target mariadb.service\n\n"
        f"[Service]\nType=notify\n"
        f"ExecStart=/usr/bin/python3 {STANDIN} serve {service} {component}\nRestart=no\n"
        f"SyslogIdentifier={unit}\n\n[Install]\nWantedBy=multi-user.target\n"
    )


def _post(user: str | None, unit_names: Iterable[str]) -> str:
    lines = []
    if user:
        lines.append(
            f"getent passwd {user} >/dev/null 2>&1 || useradd -r -M -d /var/lib/{user} "
            f"-s /sbin/nologin {user} >/dev/null 2>&1 || true"
        )
    names = " ".join(f"{u}.service" for u in unit_names)
    if names:
        lines.append("systemctl daemon-reload >/dev/null 2>&1 || true")
        lines.append(f'[ "$1" != 1 ] || systemctl preset {names} >/dev/null 2>&1 || true')
    return "\n".join(lines)


def _wrapper(service: str) -> str:
    return f'#!/bin/sh\nexec /usr/bin/python3 {STANDIN} manage {service} "$@"\n'


def release_packages(release: str) -> list[PackageSpec]:
    """Every package of ``release`` (RDO names, versions 2013.1 / 2013.2)."""
    version, havana = VERSIONS[release], release == "havana"
    net = "neutron" if havana else "quantum"
    configs = config_files(release)
    unit_rows = units(release)
    # package -> (summary, service json, manage wrappers, user, requires)
    table: dict[str, tuple[str, str | None, dict[str, str], str | None, tuple[str, ...]]] = {
        "openstack-keystone": (
            "OpenStack Identity",
            "keystone",
            {"keystone-manage": "keystone"},
            "keystone",
            (),
        ),
        "openstack-glance": (
            "OpenStack Image Service",
            "glance",
            {"glance-manage": "glance"},
            "glance",
            ("python-glanceclient",),
        ),
        "openstack-cinder": (
            "OpenStack Volume service",
            "cinder",
            {"cinder-manage": "cinder"},
            "cinder",
            (),
        ),
        "openstack-nova-common": (
            "Components common to all OpenStack Nova services",
            "nova",
            {"nova-manage": "nova"},
            "nova",
            ("python-glanceclient >= 0.9.0", "python-keystoneclient"),
        ),
        f"openstack-{net}": (
            f"OpenStack Networking ({net})",
            net,
            {f"{net}-db-manage": net},
            net,
            (),
        ),
        f"openstack-{net}-openvswitch": (
            f"{net.capitalize()} openvswitch plugin",
            None,
            {},
            None,
            (f"openstack-{net} = {version}",),
        ),
        "openstack-swift": ("OpenStack Object Storage (swift)", "swift", {}, "swift", ()),
        "openstack-dashboard": ("OpenStack Dashboard", "horizon", {}, None, ("httpd",)),
    }
    table.update(
        {
            f"openstack-nova-{c}": (
                f"OpenStack Nova {c}",
                None,
                {},
                None,
                (f"openstack-nova-common = {version}",),
            )
            for c in NOVA
        }
    )
    for part in ("proxy", "account", "container", "object"):
        table[f"openstack-swift-{part}"] = (
            f"A swift {part} server",
            None,
            {},
            None,
            (f"openstack-swift = {version}",),
        )
    specs = []
    for name, (summary, service, wrappers, user, requires) in table.items():
        mine = [(u, s, c) for p, u, s, c in unit_rows if p == name]
        files: dict[str, str | bytes] = {
            f"{UNIT_DIR}/{u}.service": _unit_text(u, s, c) for u, s, c in mine
        }
        if service:
            files[f"{SHARE}/{service}.json"] = json.dumps(document(service, release), indent=1)
        obsoletes: tuple[str, ...] = ()
        provides: tuple[str, ...] = ()
        if havana and net in name:
            old = name.replace("neutron", "quantum")
            obsoletes, provides = (f"{old} < {version}",), (f"{old} = {version}",)
        specs.append(
            PackageSpec(
                name=name,
                version=version,
                summary=summary,
                files=files,
                config_files=configs.get(name, {}),
                executables={f"/usr/bin/{cmd}": _wrapper(svc) for cmd, svc in wrappers.items()},
                requires=("openstack-lab-common", *requires),
                obsoletes=obsoletes,
                provides=provides,
                post_install=_post(user, (u for u, _, _ in mine)),
            )
        )
    httpd_units = [(u, s, c) for p, u, s, c in unit_rows if p == "httpd"]
    specs += [
        PackageSpec(
            name="httpd",
            version=HTTPD_VERSION,
            summary="Apache HTTP Server (serves horizon)",
            files={f"{UNIT_DIR}/{u}.service": _unit_text(u, s, c) for u, s, c in httpd_units},
            requires=("openstack-lab-common",),
            post_install=_post("apache", ["httpd"]),
        ),
        PackageSpec(
            name="openstack-utils",
            version=version,
            summary="Helpers for OpenStack services",
            executables={"/usr/bin/openstack-service": OPENSTACK_SERVICE},
            requires=("openstack-lab-common",),
        ),
        PackageSpec(
            name="openstack-lab-common",
            version=version,
            summary="The stackstep lab's stand-in OpenStack code and kernel shim",
            files={STANDIN: standin_source(), f"{UNIT_DIR}/lab-kernel.service": KERNEL_UNIT},
            executables={
                "/usr/local/bin/uname": UNAME_SHIM,
                f"{LIB}/lab-kernel-record": KERNEL_RECORD,
            },
            requires=("lab-base", "python3", "/bin/sh"),
            post_install=(
                f"[ -s {LAB_KERNEL} ] || {LIB}/lab-kernel-record\n" + _post(None, ["lab-kernel"])
            ),
        ),
    ]
    for client, versions in CLIENT_VERSIONS.items():
        short = client.removeprefix("python-")
        specs.append(
            PackageSpec(
                name=client,
                version=versions[release],
                summary=f"Python API and CLI ({short})",
                files={CLIENT_MODULE.format(short=short): f'__version__ = "{versions[release]}"\n'},
            )
        )
    return specs


_ROLE_UNITS = {
    "controller": [
        "openstack-keystone",
        "openstack-glance-api",
        "openstack-glance-registry",
        "openstack-cinder-api",
        "openstack-cinder-scheduler",
        "{net}-server",
        *(f"openstack-nova-{c}" for c in NOVA if c != "compute"),
        "httpd",
        "openstack-swift-proxy",
    ],
    "network": [
        f"{{net}}-{c}" for c in ("openvswitch-agent", "dhcp-agent", "l3-agent", "metadata-agent")
    ],
    "compute": ["openstack-nova-compute", "{net}-openvswitch-agent"],
    "storage": ["openstack-cinder-volume"],
}


def _roles(role: str) -> list[str]:
    if role == "all-in-one":
        return list(ROLES)
    if role not in ROLES:
        raise ValueError(f"unknown lab role {role!r} (one of {', '.join(ROLES)}, all-in-one)")
    return [role]


def role_units(release: str, role: str) -> list[str]:
    """The units a host of ``role`` runs in ``release`` (the catalog's roles.toml)."""
    net = "neutron" if release == "havana" else "quantum"
    found = [u.format(net=net) for r in _roles(role) for u in _ROLE_UNITS[r]]
    if "storage" in _roles(role):
        found += [
            u
            for p, u, _, _ in units(release)
            if p.startswith("openstack-swift-") and not p.endswith("proxy")
        ]
    return list(dict.fromkeys(found))


def role_packages(release: str, role: str) -> list[str]:
    """What to ``dnf install`` on a host of ``role`` (controller, network, compute,
    storage, or all-in-one)."""
    by_unit = {u: p for p, u, _, _ in units(release)}
    found = [by_unit[u] for u in role_units(release, role)]
    if "controller" in _roles(role):
        net = "neutron" if release == "havana" else "quantum"
        # the server loads the plugin's config, as on RDO (openstack-quantum-openvswitch)
        found += [
            f"openstack-{net}-openvswitch",
            "openstack-dashboard",
            "python-keystoneclient",
            "python-glanceclient",
        ]
    return list(dict.fromkeys(["openstack-lab-common", "openstack-utils", *found]))


def unit_preset(roles: Iterable[str]) -> str:
    """A systemd preset file (``/etc/systemd/system-preset/50-lab.preset``) enabling the
    units of ``roles`` in both releases and disabling every other stand-in unit; write it
    before installing, so each ``%post`` preset enables only what the host runs."""
    roles = list(roles)
    wanted = {u for r in RELEASES for role in roles for u in role_units(r, role)}
    every = sorted({u for r in RELEASES for _, u, _, _ in units(r)})
    lines = [f"{'enable' if u in wanted else 'disable'} {u}.service" for u in every]
    return "# stackstep lab: units of roles " + ", ".join(roles) + "\n" + "\n".join(lines) + "\n"


def release_repo_package(release: str, base_url: str, version: str = "") -> PackageSpec:
    """``rdo-release-<release>``: the lab's stand-in for rdo-release-havana.rpm, a repo file
    for the lab repository served at ``base_url`` (its root, as for
    :meth:`LabRepos.rpm_repo_file`: the RPMs are under ``base_url/rpm``)."""
    text = (
        f"[lab-{release}]\nname=OpenStack {release.capitalize()} (stackstep lab)\n"
        f"baseurl={base_url.rstrip('/')}/rpm\nenabled=1\ngpgcheck=0\nrepo_gpgcheck=0\n"
        "metadata_expire=0\n"
    )
    return PackageSpec(
        name=f"rdo-release-{release}",
        version=version or VERSIONS[release],
        summary=f"OpenStack {release.capitalize()} repository configuration",
        config_files={f"/etc/yum.repos.d/lab-{release}.repo": text},
    )


def apt_release_package(release: str, base_url: str, version: str) -> PackageSpec:
    """``lab-cloud-archive-<release>``: the deb hosts' stand-in for Ubuntu's
    ``add-apt-repository cloud-archive:<release>``, an apt source for the lab repository
    served at ``base_url`` (its root: the debs are under ``base_url/deb``)."""
    line = f"deb [trusted=yes] {base_url.rstrip('/')}/deb ./\n"
    return PackageSpec(
        name=f"lab-cloud-archive-{release}",
        version=version,
        summary=f"OpenStack {release.capitalize()} apt source (stackstep lab)",
        config_files={f"/etc/apt/sources.list.d/cloudarchive-{release}.list": line},
    )


def kernel_package(release_number: str) -> PackageSpec:
    """``kernel-5.14.0-<n>.el9`` (installonly in dnf by name): installs
    ``/lib/modules/<release>/lab-kernel``; the first kernel installed on a host that has
    not "booted" one yet becomes the running one (``/run/lab-kernel``)."""
    kernel = f"5.14.0-{release_number}.el9.x86_64"
    return PackageSpec(
        name="kernel",
        version="5.14.0",
        release=f"{release_number}.el9",
        arch="x86_64",
        summary="The Linux kernel (stackstep lab stand-in)",
        files={f"/lib/modules/{kernel}/lab-kernel": f"{kernel}\n"},
        post_install=f"[ -s {LAB_KERNEL} ] || {{ echo {kernel} >{LAB_KERNEL}; }} 2>/dev/null || :",
    )
