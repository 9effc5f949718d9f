"""Modern stand-in services for the HA lab: glance, placement, nova, neutron and cinder of
2025.2 (flamingo) and 2026.1 (gazpacho), as RDO-named RPMs or Ubuntu-named debs.

Every package ships the ``SERVICE.json`` its ``modern_standin.py`` reads (see that
script), its ``%config(noreplace)`` config files, CLI wrappers (``glance-manage``,
``nova-status``...) and systemd units (``Type=notify``, ``ExecReload`` = SIGHUP). The
scriptlets restart running units on upgrade as the distributions' do: RPM ``%postun``
``systemctl try-restart`` (RDO's ``%systemd_postun_with_restart``); deb ``postinst``
``invoke-rc.d UNIT restart`` (debhelper's restart-after-upgrade, so a stopped but enabled
unit starts too, unless ``/usr/sbin/policy-rc.d`` exits 101).

Stand-in choices (see docs/lab.md, "Modern stand-ins"): placement and cinder-api run in
their own units, not in httpd/apache2; glance has a gazpacho expand/migrate/contract
(upstream's last is 2024.1) so the ``db check`` codes 3/4/5 can be met; nova-compute
reads the cell DB itself (upstream goes through the conductor).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from stackstep.lab.repos import PackageSpec

Json = dict[str, Any]
RELEASES = ("flamingo", "gazpacho")
SERIES = {"flamingo": "2025.2", "gazpacho": "2026.1"}
VERSIONS = {
    "glance": {"flamingo": "31.0.0", "gazpacho": "32.0.0"},
    "placement": {"flamingo": "14.0.0", "gazpacho": "15.0.0"},
    "nova": {"flamingo": "32.0.0", "gazpacho": "33.0.0"},
    "neutron": {"flamingo": "27.0.0", "gazpacho": "28.0.0"},
    "cinder": {"flamingo": "27.0.0", "gazpacho": "28.0.0"},
}
FLAVOURS = ("rpm", "deb")
RPM_RELEASE, DEB_RELEASE = "1.el9", "0ubuntu1"
LIB = "/usr/lib/openstack-lab-modern"
SCRIPT = f"{LIB}/modern_standin.py"
SHARE = "/usr/share/openstack-lab"
UNIT_DIR = "/usr/lib/systemd/system"
COMMON = "openstack-lab-modern"
NEUTRON_AGENTS = ("openvswitch-agent", "dhcp-agent", "l3-agent", "metadata-agent")
HEALTH = {
    "glance": "/etc/glance/healthcheck_disable",
    "cinder": "/etc/cinder/healthcheck_disable",
    "neutron": "/var/lib/neutron/healthcheck_disable",
}
# service -> flavour -> package -> components (the first package is the service's
# common one: SERVICE.json, configs, CLIs, user)
LAYOUT: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "glance": {
        "rpm": {"openstack-glance": ("api",)},
        "deb": {"glance-common": (), "glance-api": ("api",)},
    },
    "placement": {
        "rpm": {"openstack-placement-common": (), "openstack-placement-api": ("api",)},
        "deb": {"placement-common": (), "placement-api": ("api",)},
    },
    "nova": {
        flavour: {
            f"{prefix}nova-common": (),
            **{f"{prefix}nova-{c}": (c,) for c in ("api", "conductor", "scheduler", "compute")},
        }
        for flavour, prefix in (("rpm", "openstack-"), ("deb", ""))
    },
    "neutron": {
        "rpm": {
            "openstack-neutron-common": (),
            "openstack-neutron-ml2": (),
            "openstack-neutron": ("server", "dhcp-agent", "l3-agent", "metadata-agent"),
            "openstack-neutron-openvswitch": ("openvswitch-agent",),
        },
        "deb": {
            "neutron-common": (),
            "neutron-plugin-ml2": (),
            "neutron-server": ("server",),
            **{f"neutron-{a}": (a,) for a in NEUTRON_AGENTS},
        },
    },
    "cinder": {
        "rpm": {"openstack-cinder": ("api", "scheduler", "volume")},
        "deb": {
            "cinder-common": (),
            **{f"cinder-{c}": (c,) for c in ("api", "scheduler", "volume")},
        },
    },
}
TOOLS = {
    "glance": ("glance-manage", "glance-status"),
    "placement": ("placement-manage", "placement-status"),
    "nova": ("nova-manage", "nova-status"),
    "neutron": ("neutron-db-manage", "neutron-status"),
    "cinder": ("cinder-manage", "cinder-status"),
}
ROLE_COMPONENTS = {
    "controller": [
        ("glance", "api"), ("placement", "api"), ("nova", "conductor"), ("nova", "scheduler"),
        ("nova", "api"), ("neutron", "server"), ("neutron", "dhcp-agent"),
        ("neutron", "l3-agent"), ("neutron", "metadata-agent"),
        ("neutron", "openvswitch-agent"), ("cinder", "scheduler"), ("cinder", "volume"),
        ("cinder", "api"),
    ],
    "compute": [("nova", "compute"), ("neutron", "openvswitch-agent")],
}  # fmt: skip


def unit_name(flavour: str, service: str, component: str) -> str:
    """``openstack-nova-api`` (rpm) / ``nova-api`` (deb); neutron's are the same in both."""
    if service == "neutron":
        return f"neutron-{component}"
    return f"openstack-{service}-{component}" if flavour == "rpm" else f"{service}-{component}"


# --- what each service is (SERVICE.json) ------------------------------------------------


def _links(path: str) -> list[Json]:
    return [{"rel": "self", "href": path}]


def _roots(service: str, release: str) -> tuple[int, Json]:
    new = release == "gazpacho"
    if service == "glance":
        ids = ["v2.17", "v2.16", "v2.15"] if new else ["v2.16", "v2.15"]
        versions = [
            {"id": v, "status": "CURRENT" if i == 0 else "SUPPORTED", "links": _links("/v2/")}
            for i, v in enumerate(ids)
        ]
        return 300, {"versions": versions}
    if service == "placement":
        top = "1.40" if new else "1.39"
        return 200, {"versions": [{"id": "v1.0", "max_version": top, "min_version": "1.0",
                                   "status": "CURRENT", "links": _links("/")}]}  # fmt: skip
    if service == "nova":
        return 200, {"versions": [
            {"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "",
             "links": _links("/v2/")},
            {"id": "v2.1", "status": "CURRENT", "version": "2.101" if new else "2.100",
             "min_version": "2.1", "links": _links("/v2.1/")},
        ]}  # fmt: skip
    if service == "neutron":
        return 200, {"versions": [{"id": "v2.0", "status": "CURRENT", "links": _links("/v2.0/")}]}
    version = "3.72" if new else "3.71"
    current = {"id": "v3.0", "status": "CURRENT", "min_version": "3.0", "version": version}
    return 300, {"versions": [{**current, "links": _links("/v3/")}]}


def _by_release(flamingo: str, gazpacho: str) -> dict[str, str]:
    return {"flamingo": flamingo, "gazpacho": gazpacho}


def _api(service: str, release: str, port: int, port_key: str = "bind_port", **extra: Any) -> Json:
    status, root = _roots(service, release)
    return {
        "port": port, "port_option": ["DEFAULT", port_key], "root_status": status,
        "root": root, "healthcheck": HEALTH.get(service), "db": ["main"], **extra,
    }  # fmt: skip


def document(service: str, release: str) -> Json:
    """The ``SERVICE.json`` of ``service`` in ``release`` (read by modern_standin.py)."""
    spec: Json = {
        "service": service, "release": release, "releases": list(RELEASES),
        "version": VERSIONS[service][release], "cli": TOOLS[service][0],
        "databases": {"main": ["database", "connection"]}, "checks": [], "db_wait": 30,
    }  # fmt: skip
    up = {"action": "upgrade"}
    if service == "glance":
        run = "glance-manage db {}"
        spec["config"] = ["/etc/glance/glance-api.conf"]
        spec["branches"] = {
            "expand": {"db": "main", "run": run.format("expand"),
                       "revisions": _by_release("2024_1_expand01", "2026_1_expand01")},
            "migrate": {"db": "main", "run": run.format("migrate"), "after": "expand",
                        "after_error": "Data migration did not run. Database expansion is not "
                        "complete. Please run `glance-manage db expand` first.",
                        "revisions": _by_release("2024_1_migrate01", "2026_1_migrate01")},
            "contract": {"db": "main", "run": run.format("contract"), "after": "migrate",
                         "breaks_older": True, "after_roll": True,
                         "after_error": "Database contraction did not run. Database "
                         "migration is not complete. Please run `glance-manage db migrate`.",
                         "revisions": _by_release("2024_1_contract01", "2026_1_contract01")},
        }  # fmt: skip
        spec["commands"] = {
            "db check": {"action": "glance_check"},
            "db sync": {**up, "branches": ["expand", "migrate", "contract"]},
            "db expand": {**up, "branches": ["expand"]},
            "db migrate": {**up, "branches": ["migrate"]},
            "db contract": {**up, "branches": ["contract"]},
            "db version": {"action": "version"},
        }
        spec["components"] = {"api": _api("glance", release, 9292)}
    elif service == "placement":  # no schema change since 2022 (a082b8bb98d0)
        spec["config"] = ["/etc/placement/placement.conf"]
        spec["databases"] = {"main": ["placement_database", "connection"]}
        revisions = _by_release("a082b8bb98d0", "a082b8bb98d0")
        spec["branches"] = {
            "main": {"db": "main", "run": "placement-manage db sync", "revisions": revisions}
        }
        spec["online"] = {"branch": "main", "rows": 0, "flag": "--max-count",
                          "name": "create_incomplete_consumers"}  # fmt: skip
        spec["commands"] = {
            "db sync": {**up, "branches": ["main"]},
            "db online_data_migrations": {"action": "online"},
            "db version": {"action": "version"},
        }
        spec["checks"] = ["online_migrations"]
        spec["components"] = {"api": _api("placement", release, 8778)}
    elif service == "nova":
        spec["config"] = ["/etc/nova/nova.conf"]
        spec["databases"] = {
            "api": ["api_database", "connection"],
            "main": ["database", "connection"],
        }
        spec["branches"] = {
            "api": {"db": "api", "run": "nova-manage api_db sync",
                    "revisions": _by_release("2025_2_api01", "2026_1_api01")},
            "main": {"db": "main", "run": "nova-manage db sync",
                     "revisions": _by_release("2025_2_main01", "2026_1_main01")},
        }  # fmt: skip
        spec["tables"] = {"main": [SERVICES_DDL]}
        spec["online"] = {"branch": "main", "rows": 120, "flag": "--max-count",
                          "name": "populate_instance_compute_id"}  # fmt: skip
        spec["commands"] = {
            "api_db sync": {**up, "branches": ["api"]},
            "db sync": {**up, "branches": ["main"]},
            "db online_data_migrations": {"action": "online"},
            "api_db version": {"action": "version"},
            "db version": {"action": "version"},
            "service list": {"action": "service_list"},
        }
        spec["checks"] = ["old_computes", "service_user_token"]
        # service versions: epoxy 68, flamingo 70, gazpacho 72; both accept computes >= epoxy
        spec["nova"] = {
            "version": 70 if release == "flamingo" else 72, "oldest": 68, "oldest_name": "Epoxy",
            "rpc": {"66": "6.2", "68": "6.3", "70": "6.4", "72": "6.5"},
        }  # fmt: skip
        both = ["api", "main"]
        spec["components"] = {
            "conductor": {"db": both, "binary": "nova-conductor", "pins": True,
                          "hup_resets_pins": True},
            "scheduler": {"db": both, "binary": "nova-scheduler", "pins": True,
                          "hup_resets_pins": True},
            "compute": {"db": ["main"], "binary": "nova-compute", "pins": True,
                        "hup_resets_pins": True},
            "api": _api("nova", release, 8774, "osapi_compute_listen_port", db=both,
                        binary="nova-osapi_compute", pins=True),
        }  # fmt: skip
    elif service == "neutron":  # no contract migration since newton (5c85685d616d)
        spec["config"] = ["/etc/neutron/neutron.conf"]
        spec["branches"] = {
            "expand": {"db": "main", "run": "neutron-db-manage upgrade --expand",
                       "revisions": _by_release("2025_2_expand01", "2026_1_expand01")},
            "contract": {"db": "main", "run": "neutron-db-manage upgrade --contract",
                         "after": "expand", "breaks_older": True, "after_roll": True,
                         "after_error": "run neutron-db-manage upgrade --expand first",
                         "revisions": _by_release("5c85685d616d", "5c85685d616d")},
        }  # fmt: skip
        spec["commands"] = {
            "upgrade --expand": {**up, "branches": ["expand"]},
            "upgrade --contract": {**up, "branches": ["contract"]},
            "upgrade heads": {**up, "branches": ["expand", "contract"]},
            "upgrade head": {**up, "branches": ["expand", "contract"]},
            "has_offline_migrations": {"action": "offline"},
            "current": {"action": "version"},
        }
        spec["components"] = {"server": _api("neutron", release, 9696)}
        spec["components"].update({agent: {} for agent in NEUTRON_AGENTS})
    elif service == "cinder":
        spec["config"] = ["/etc/cinder/cinder.conf"]
        revisions = _by_release("2025_2_01", "2026_1_01")
        spec["branches"] = {
            "main": {"db": "main", "run": "cinder-manage db sync", "revisions": revisions}
        }
        spec["tables"] = {"main": [SERVICES_DDL]}
        spec["online"] = {"branch": "main", "rows": 120, "flag": "--max_count",
                          "name": "volume_use_quota_online_data_migration"}  # fmt: skip
        spec["commands"] = {
            "db sync": {**up, "branches": ["main"]},
            "db online_data_migrations": {"action": "online"},
            "db version": {"action": "version"},
            "service list": {"action": "service_list"},
            "service remove": {"action": "service_remove"},
        }
        new = release == "gazpacho"
        spec["cinder"] = {"rpc": {"cinder-scheduler": "3.13" if new else "3.12",
                                  "cinder-volume": "3.20" if new else "3.19"}}  # fmt: skip
        spec["components"] = {
            "scheduler": {"db": ["main"], "binary": "cinder-scheduler", "pins": True,
                          "hup_resets_pins": True},
            "volume": {"db": ["main"], "binary": "cinder-volume", "pins": True,
                       "hup_resets_pins": True},
            "api": _api("cinder", release, 8776, "osapi_volume_listen_port", pins=True),
        }  # fmt: skip
    else:
        raise ValueError(f"unknown modern stand-in service {service!r}")
    return spec


SERVICES_DDL = (
    "CREATE TABLE IF NOT EXISTS services (id INT AUTO_INCREMENT PRIMARY KEY, "
    "host VARCHAR(255) NOT NULL, `binary` VARCHAR(255) NOT NULL, version INT NOT NULL DEFAULT 0, "
    "rpc_current_version VARCHAR(36), forced_down TINYINT(1) NOT NULL DEFAULT 0, "
    "deleted INT NOT NULL DEFAULT 0, created_at DATETIME, updated_at DATETIME, "
    "UNIQUE KEY uniq_services0host0binary0deleted (host, `binary`, deleted))"
)


# --- config files ---------------------------------------------------------------------


def config_files(service: str, release: str) -> dict[str, str]:
    """The defaults each common package ships (every option commented, as upstream)."""
    head = (
        f"# shipped by {service} {VERSIONS[service][release]} ({release}, stackstep lab stand-in)\n"
    )
    db = "#connection = <None>\n"
    texts = {
        "glance": {
            "/etc/glance/glance-api.conf": f"[DEFAULT]\n#bind_port = 9292\n\n[database]\n{db}"
        },
        "placement": {"/etc/placement/placement.conf": f"[DEFAULT]\n\n[placement_database]\n{db}"},
        "nova": {
            "/etc/nova/nova.conf": (
                "[DEFAULT]\n#host = <current_hostname>\n#osapi_compute_listen_port = 8774\n\n"
                f"[api_database]\n{db}\n[database]\n{db}\n"
                "[service_user]\n#send_service_user_token = false\n\n"
                "[upgrade_levels]\n#compute = <None>\n"
            )
        },
        "neutron": {
            "/etc/neutron/neutron.conf": f"[DEFAULT]\n#bind_port = 9696\n\n[database]\n{db}",
            "/etc/neutron/plugins/ml2/ml2_conf.ini": "[ml2]\n#mechanism_drivers =\n",
        },
        "cinder": {
            "/etc/cinder/cinder.conf": (
                f"[DEFAULT]\n#host = <current_hostname>\n#osapi_volume_listen_port = 8776\n\n"
                f"[database]\n{db}"
            )
        },
    }
    return {path: head + text for path, text in texts[service].items()}


# (service, config section, database name): user and password are the service's name
DATABASES = [
    ("glance", "database", "glance"),
    ("placement", "placement_database", "placement"),
    ("nova", "api_database", "nova_api"),
    ("nova", "database", "nova"),
    ("neutron", "database", "neutron"),
    ("cinder", "database", "cinder"),
]


def site_config(service: str, release: str, db_host: str) -> dict[str, str]:
    """The shipped config files with what a lab deploy sets: the DB URLs on ``db_host``
    (see :data:`DATABASES`) and, for nova, ``[service_user] send_service_user_token``
    (nova-status fails without it). ``[upgrade_levels] compute`` is stackstep's to set."""
    texts = config_files(service, release)
    main = document(service, release)["config"][0]
    for owner, section, name in DATABASES:
        if owner == service:
            url = f"mysql+pymysql://{service}:{service}@{db_host}/{name}"
            shipped = f"[{section}]\n#connection = <None>\n"
            texts[main] = texts[main].replace(shipped, f"[{section}]\nconnection = {url}\n")
    texts[main] = texts[main].replace(
        "#send_service_user_token = false", "send_service_user_token = true"
    )
    return texts


# --- packages -------------------------------------------------------------------------


def _unit_text(unit: str, service: str, component: str) -> str:
    return (
        f"[Unit]\nDescription=OpenStack {service} {component} (stackstep lab modern stand-in)\n"
        "After=network-online.target mariadb.service\n\n"
        "[Service]\nType=notify\n"
        f"ExecStart=/usr/bin/python3 {SCRIPT} serve {service} {component}\n"
        "ExecReload=/bin/kill -HUP $MAINPID\nRestart=no\n"
        f"SyslogIdentifier={unit}\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )


def _user(user: str) -> str:
    return (
        f"getent passwd {user} >/dev/null 2>&1 || useradd -r -M -d /var/lib/{user} "
        f"-s /sbin/nologin {user} >/dev/null 2>&1 || :\n"
        f"mkdir -p /var/lib/{user} && chown {user} /var/lib/{user} 2>/dev/null || :\n"
    )


def rpm_scripts(unit_names: list[str]) -> tuple[str, dict[str, str]]:
    """%post, and %preun/%postun as RDO's %systemd_post/_preun/_postun_with_restart."""
    names = " ".join(f"{u}.service" for u in unit_names)
    post = "systemctl daemon-reload >/dev/null 2>&1 || :\n"
    post += f'if [ "$1" -eq 1 ]; then\n    systemctl preset {names} >/dev/null 2>&1 || :\nfi\n'
    preun = (
        'if [ "$1" -eq 0 ]; then\n'
        f"    systemctl --no-reload disable --now {names} >/dev/null 2>&1 || :\nfi\n"
    )
    postun = "systemctl daemon-reload >/dev/null 2>&1 || :\n"
    postun += (
        "# %systemd_postun_with_restart: an upgrade restarts what runs (with the new code)\n"
        f'if [ "$1" -ge 1 ]; then\n    systemctl try-restart {names} >/dev/null 2>&1 || :\nfi\n'
    )
    return post, {"preun": preun, "postun": postun}


def deb_scripts(unit_names: list[str]) -> tuple[str, dict[str, str]]:
    """postinst (configure) and prerm as debhelper's with restart-after-upgrade: install
    starts, upgrade restarts (a stopped enabled unit starts), both through invoke-rc.d,
    which asks /usr/sbin/policy-rc.d (exit 101: denied)."""
    post = "systemctl daemon-reload >/dev/null 2>&1 || true\n"
    for unit in unit_names:
        post += (
            f'[ -n "$2" ] || systemctl enable {unit}.service >/dev/null 2>&1 || true\n'
            f'if [ -n "$2" ]; then _dh_action=restart; else _dh_action=start; fi\n'
            f"invoke-rc.d {unit} $_dh_action || true\n"
        )
    prerm = "".join(
        f'if [ "$1" = remove ]; then invoke-rc.d {u} stop || true; fi\n' for u in unit_names
    )
    return post, {"prerm": prerm}


# neutron-db-manage is run with --config-file /etc/neutron/plugin.ini (the catalog, RDO)
PLUGIN_INI = (
    "[ -e /etc/neutron/plugin.ini ] || "
    "ln -s plugins/ml2/ml2_conf.ini /etc/neutron/plugin.ini 2>/dev/null || :\n"
)


def standin_sources() -> dict[str, str]:
    folder = resources.files(__package__)
    return {
        f"{LIB}/{name}": folder.joinpath(name).read_text()
        for name in ("modern_standin.py", "standin.py")
    }


def release_packages(release: str, flavour: str = "rpm") -> list[PackageSpec]:
    """Every modern stand-in package of ``release`` for ``flavour`` (build them with
    ``formats=(flavour,)``): RDO names and units for rpm, Ubuntu's for deb."""
    if release not in RELEASES or flavour not in FLAVOURS:
        raise ValueError(f"unknown release/flavour {release!r}/{flavour!r}")
    pkg_release = RPM_RELEASE if flavour == "rpm" else DEB_RELEASE
    scripts = rpm_scripts if flavour == "rpm" else deb_scripts
    specs = [
        PackageSpec(
            name=COMMON, version=SERIES[release], release=pkg_release,
            summary="The stackstep lab's modern stand-in OpenStack code",
            files=standin_sources(), requires=("lab-base", "python3"),
        )
    ]  # fmt: skip
    for service, layouts in LAYOUT.items():
        version = VERSIONS[service][release]
        packages = list(layouts[flavour].items())
        common = packages[0][0]
        for name, components in packages:
            units = [unit_name(flavour, service, c) for c in components]
            files: dict[str, str | bytes] = {
                f"{UNIT_DIR}/{u}.service": _unit_text(u, service, c)
                for u, c in zip(units, components, strict=True)
            }
            configs: dict[str, str] = {}
            post, extra = scripts(units) if units else ("", {})
            exact = version if flavour == "rpm" else f"{version}-{pkg_release}"  # dpkg's "="
            requires: tuple[str, ...] = (f"{common} = {exact}",)
            if name == common:
                files[f"{SHARE}/{service}.json"] = json.dumps(document(service, release), indent=1)
                configs = {
                    p: t for p, t in config_files(service, release).items() if "ml2" not in p
                }
                post = _user(service) + post
                requires = (COMMON,)
            elif "ml2" in name:
                configs = {p: t for p, t in config_files(service, release).items() if "ml2" in p}
                post = PLUGIN_INI
            specs.append(
                PackageSpec(
                    name=name, version=version, release=pkg_release,
                    summary=f"OpenStack {service} {' '.join(components) or 'common files'} "
                    f"{version} (stackstep lab stand-in)",
                    files=files, config_files=configs,
                    executables={
                        f"/usr/bin/{tool}": _wrapper(service, tool)
                        for tool in (TOOLS[service] if name == common else ())
                    },
                    requires=requires, post_install=post, scripts=extra,
                )
            )  # fmt: skip
    return specs


def _wrapper(service: str, tool: str) -> str:
    mode = "status" if tool.endswith("-status") else "manage"
    return f'#!/bin/sh\nexec /usr/bin/python3 {SCRIPT} {mode} {service} "$@"\n'


def role_packages(flavour: str, role: str) -> list[str]:
    """What to install on a ``controller`` or ``compute`` host of the HA scenario."""
    wanted = set(ROLE_COMPONENTS[role])
    found = [COMMON]
    for service, layouts in LAYOUT.items():
        packages = list(layouts[flavour].items())
        mine = [p for p, comps in packages if any((service, c) in wanted for c in comps)]
        if mine:
            found += [packages[0][0], *mine]
            if service == "neutron":
                found.append(next(p for p, _ in packages if "ml2" in p))
    return list(dict.fromkeys(found))


def role_units(flavour: str, role: str) -> list[str]:
    """The units a host of ``role`` runs, in start order (placement before nova, nova's
    conductor first and api last, cinder-api last)."""
    return [unit_name(flavour, s, c) for s, c in ROLE_COMPONENTS[role]]
