"""The config files the stand-in packages ship, per release.

Every default names its release in a header comment and changes a few options between
Grizzly and Havana, so a locally edited file gives ``.rpmnew`` (or, for quantum's
files, ``.rpmsave`` when openstack-neutron obsoletes the package).
"""

from __future__ import annotations

from stackstep.lab.openstack.services import VERSIONS, db_url

GRIZZLY_SECRET = "lab-grizzly-secret-key"


def _ini(release: str, package: str, sections: dict[str, dict[str, str]]) -> str:
    lines = [f"# Default configuration shipped by {package}-{VERSIONS[release]} (stackstep lab)"]
    for section, values in sections.items():
        lines += ["", f"[{section}]", *(f"{key} = {value}" for key, value in values.items())]
    return "\n".join(lines) + "\n"


def _network(release: str, name: str) -> dict[str, str]:
    """Quantum's or neutron's files (``name`` is the project name of the release)."""
    package = f"openstack-{name}"
    title = name.capitalize()
    plugin = {
        "DATABASE": {"sql_connection": db_url("neutron"), "reconnect_interval": "2"},
        "OVS": {
            "tenant_network_type": "vlan",
            "network_vlan_ranges": "physnet1:1000:2999",
            "integration_bridge": "br-int",
        },
        "SECURITYGROUP": {
            "firewall_driver": f"{name}.agent.linux.iptables_firewall."
            "OVSHybridIptablesFirewallDriver"
        },
    }
    if release == "havana":
        plugin["AGENT"] = {"polling_interval": "2"}
    main = {
        "DEFAULT": {
            "core_plugin": f"{name}.plugins.openvswitch.ovs_{name}_plugin.OVS{title}PluginV2",
            "rpc_backend": f"{name}.openstack.common.rpc.impl_qpid",
            "auth_strategy": "keystone",
        },
        "keystone_authtoken": {
            "auth_host": "controller",
            "admin_tenant_name": "services",
            "admin_user": name,
            "admin_password": name,
        },
        "DATABASE": {"sql_connection": db_url("neutron")},
    }
    if release == "havana":
        main["DEFAULT"]["notify_nova_on_port_status_changes"] = "False"
    driver = f"{name}.agent.linux.interface.OVSInterfaceDriver"
    files = {
        f"/etc/{name}/{name}.conf": _ini(release, package, main),
        f"/etc/{name}/dhcp_agent.ini": _ini(
            release,
            package,
            {
                "DEFAULT": {
                    "interface_driver": driver,
                    "dhcp_driver": f"{name}.agent.linux.dhcp.Dnsmasq",
                }
            },
        ),
        f"/etc/{name}/l3_agent.ini": _ini(
            release,
            package,
            {"DEFAULT": {"interface_driver": driver, "external_network_bridge": "br-ex"}},
        ),
        f"/etc/{name}/metadata_agent.ini": _ini(
            release,
            package,
            {
                "DEFAULT": {
                    "auth_url": "http://controller:35357/v2.0",
                    "admin_user": name,
                    "nova_metadata_ip": "controller",
                }
            },
        ),
    }
    ovs = f"/etc/{name}/plugins/openvswitch/ovs_{name}_plugin.ini"
    files[ovs] = _ini(release, f"{package}-openvswitch", plugin)
    if name == "quantum":  # packstack's /etc/quantum/plugin.ini symlink, as a plain file
        files["/etc/quantum/plugin.ini"] = files[ovs]
    return files


def _local_settings(release: str) -> str:
    lines = [
        f"# local_settings shipped by openstack-dashboard-{VERSIONS[release]} (stackstep lab)",
        "import os",
        "from django.utils.translation import ugettext_lazy as _",
        "from openstack_dashboard import exceptions",
        "",
        "DEBUG = False",
        "TEMPLATE_DEBUG = DEBUG",
    ]
    if release == "grizzly":
        lines += [f"SECRET_KEY = '{GRIZZLY_SECRET}'"]
    else:
        lines += [
            "# Django >= 1.5: the host names this dashboard answers to.",
            "ALLOWED_HOSTS = ['localhost']",
            "# Set to a long random string (the installer keeps the previous one).",
            "SECRET_KEY = None",
        ]
    lines += [
        'OPENSTACK_HOST = "127.0.0.1"',
        'OPENSTACK_KEYSTONE_URL = "http://%s:5000/v2.0" % OPENSTACK_HOST',
        'OPENSTACK_KEYSTONE_DEFAULT_ROLE = "Member"',
        "CACHES = {'default': {'BACKEND': 'django.core.cache.backends.locmem.LocMemCache'}}",
    ]
    return "\n".join(lines) + "\n"


def config_files(release: str) -> dict[str, dict[str, str]]:
    """package name -> {path: default text} for every config file of ``release``."""
    havana = release == "havana"
    keystone_token = {"provider": "keystone.token.providers.pki.Provider"}
    if havana:
        keystone_token["expiration"] = "3600"

    def with_db(service: str, values: dict[str, str]) -> dict[str, str]:
        return {**values, "sql_connection": db_url(service)}

    out: dict[str, dict[str, str]] = {
        "openstack-keystone": {
            "/etc/keystone/keystone.conf": _ini(
                release,
                "openstack-keystone",
                {
                    "DEFAULT": {"admin_token": "ADMIN", "public_port": "5000"},
                    "sql": {"connection": db_url("keystone")},
                    "token": keystone_token,
                },
            )
        },
        "openstack-glance": {
            f"/etc/glance/glance-{part}.conf": _ini(
                release,
                "openstack-glance",
                {
                    "DEFAULT": with_db(
                        "glance",
                        {"bind_port": port, "workers": "1"}
                        | ({"show_image_direct_url": "False"} if havana else {}),
                    ),
                    "paste_deploy": {"flavor": "keystone"},
                },
            )
            for part, port in (("api", "9292"), ("registry", "9191"))
        },
        "openstack-cinder": {
            "/etc/cinder/cinder.conf": _ini(
                release,
                "openstack-cinder",
                {
                    "DEFAULT": with_db(
                        "cinder",
                        {"osapi_volume_listen_port": "8776", "volume_group": "cinder-volumes"}
                        | ({"enable_v2_api": "True"} if havana else {}),
                    ),
                },
            )
        },
        "openstack-nova-common": {
            "/etc/nova/nova.conf": _ini(
                release,
                "openstack-nova-common",
                {
                    "DEFAULT": with_db(
                        "nova",
                        {
                            "glance_host": "controller",
                            "network_api_class": "nova.network.neutronv2.api.API"
                            if havana
                            else "nova.network.quantumv2.api.API",
                            "compute_driver": "libvirt.LibvirtDriver",
                        },
                    ),
                },
            )
        },
        "openstack-swift": {
            "/etc/swift/swift.conf": _ini(
                release, "openstack-swift", {"swift-hash": {"swift_hash_path_suffix": "lab"}}
            )
        },
        "openstack-dashboard": {
            "/etc/openstack-dashboard/local_settings": _local_settings(release)
        },
    }
    for part, port in (
        ("proxy", "8080"),
        ("account", "6002"),
        ("container", "6001"),
        ("object", "6000"),
    ):
        values = {"bind_port": port, "workers": "1" if havana else "2"}
        out[f"openstack-swift-{part}"] = {
            f"/etc/swift/{part}-server.conf": _ini(
                release, f"openstack-swift-{part}", {"DEFAULT": values}
            )
        }
    name = "neutron" if havana else "quantum"
    files = _network(release, name)
    ovs = f"/etc/{name}/plugins/openvswitch/ovs_{name}_plugin.ini"
    out[f"openstack-{name}-openvswitch"] = {ovs: files.pop(ovs)}
    out[f"openstack-{name}"] = files
    return out
