"""What each stand-in service is, per release: the ``SERVICE.json`` documents read by
``standin.py`` (schema as real DDL, components, probes) and the shipped config texts.

Schema heads follow the real projects where known (nova 161 -> 216 with Grizzly's
compacted base at 133; quantum's alembic ``grizzly`` and ``havana`` revisions); the
tables and intermediate steps are plausible stand-ins, not the real ones.
"""

from __future__ import annotations

import json
from typing import Any

Json = dict[str, Any]
VERSIONS = {"grizzly": "2013.1", "havana": "2013.2"}
CLIENT_VERSIONS = {
    "python-glanceclient": {"grizzly": "0.9.0", "havana": "0.12.0"},
    "python-keystoneclient": {"grizzly": "0.2.3", "havana": "0.4.1"},
}
# the clients ship their code where the hosts' python3 imports from, as RDO's python-*
# packages do: a running service that loaded it holds stale code once it changes
CLIENT_MODULE = "/usr/lib/python3/dist-packages/{short}/__init__.py"
GLANCECLIENT_MODULE = CLIENT_MODULE.format(short="glanceclient")
# (service, database, user): the password is the user name, the host "controller".
DATABASES: list[tuple[str, str, str]] = [
    ("keystone", "keystone", "keystone"),
    ("glance", "glance", "glance"),
    ("cinder", "cinder", "cinder"),
    ("neutron", "ovs_quantum", "quantum"),
    ("nova", "nova", "nova"),
]
GLANCECLIENT_BREAKAGE = """Traceback (most recent call last):
  File "/usr/lib/python2.6/site-packages/nova/image/glance.py", line 212, in download
    image_chunks = self._client.call(context, 1, 'data', image_id)
  File "/usr/lib/python2.6/site-packages/glanceclient/common/http.py", line 158, in _http_request
    sock.setblocking(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
AttributeError: 'HTTPResponse' object has no attribute 'getsockopt'"""


def db_url(service: str) -> str:
    _, database, user = next(entry for entry in DATABASES if entry[0] == service)
    return f"mysql+pymysql://{user}:{user}@controller/{database}"


def _table(name: str, columns: str) -> str:
    return f"CREATE TABLE IF NOT EXISTS `{name}` ({columns}) ENGINE=InnoDB DEFAULT CHARSET=utf8"


_AUDIT = "created_at DATETIME, updated_at DATETIME, deleted_at DATETIME, deleted INT DEFAULT 0"
# sqlalchemy-migrate repositories: (version, statements); a release's head cuts the list.
MIGRATE: dict[str, Json] = {
    "keystone": {
        "repository": "keystone",
        "heads": {"grizzly": 20, "havana": 34},
        "steps": [
            (
                1,
                [
                    _table(
                        "user",
                        "id VARCHAR(64) PRIMARY KEY, name VARCHAR(255) NOT NULL, "
                        "extra TEXT, password VARCHAR(128), enabled TINYINT(1), "
                        "domain_id VARCHAR(64) NOT NULL DEFAULT 'default'",
                    ),
                    _table(
                        "project",
                        "id VARCHAR(64) PRIMARY KEY, name VARCHAR(64) NOT NULL, "
                        "extra TEXT, description TEXT, enabled TINYINT(1)",
                    ),
                    _table(
                        "role",
                        "id VARCHAR(64) PRIMARY KEY, name VARCHAR(255) NOT NULL UNIQUE, extra TEXT",
                    ),
                    _table(
                        "token",
                        "id VARCHAR(64) PRIMARY KEY, expires DATETIME, extra TEXT, "
                        "valid TINYINT(1) NOT NULL DEFAULT 1",
                    ),
                ],
            ),
            (
                20,
                [
                    _table(
                        "trust",
                        "id VARCHAR(64) PRIMARY KEY, trustor_user_id VARCHAR(64) "
                        "NOT NULL, trustee_user_id VARCHAR(64) NOT NULL, expires_at DATETIME",
                    )
                ],
            ),
            # Havana rebuilds the token table (a copy) and fills user_id row by row from
            # each token's JSON: it crawls on Grizzly's never-purged tokens.
            (
                31,
                [
                    "ALTER TABLE token ADD COLUMN IF NOT EXISTS user_id VARCHAR(64), "
                    "ADD COLUMN IF NOT EXISTS trust_id VARCHAR(64), MODIFY extra MEDIUMTEXT, "
                    "ADD INDEX IF NOT EXISTS ix_token_expires (expires), "
                    "ADD INDEX IF NOT EXISTS ix_token_valid (valid), ALGORITHM=COPY",
                    {
                        "each": "SELECT id, extra FROM token WHERE user_id IS NULL",
                        "json_path": ["user", "id"],
                        "set": "UPDATE token SET user_id = %s WHERE id = %s",
                    },
                ],
            ),
            (
                33,
                [
                    _table(
                        "region",
                        "id VARCHAR(64) PRIMARY KEY, description VARCHAR(255) NOT NULL, "
                        "parent_region_id VARCHAR(64), extra TEXT",
                    )
                ],
            ),
            (34, ["ALTER TABLE `user` ADD COLUMN IF NOT EXISTS default_project_id VARCHAR(64)"]),
        ],
    },
    "glance": {
        "repository": "Glance Migrations",
        "heads": {"grizzly": 20, "havana": 28},
        "steps": [
            (
                1,
                [
                    _table(
                        "images",
                        "id VARCHAR(36) PRIMARY KEY, name VARCHAR(255), size BIGINT, "
                        f"status VARCHAR(30) NOT NULL, is_public TINYINT(1) NOT NULL, {_AUDIT}, "
                        "disk_format VARCHAR(20), container_format VARCHAR(20), "
                        "checksum VARCHAR(32), owner VARCHAR(255), "
                        "min_disk INT NOT NULL DEFAULT 0, "
                        "min_ram INT NOT NULL DEFAULT 0, protected TINYINT(1) NOT NULL DEFAULT 0",
                    ),
                    _table(
                        "image_properties",
                        "id INT AUTO_INCREMENT PRIMARY KEY, image_id "
                        f"VARCHAR(36) NOT NULL, name VARCHAR(255) NOT NULL, value TEXT, {_AUDIT}",
                    ),
                ],
            ),
            (
                20,
                [
                    _table(
                        "image_locations",
                        "id INT AUTO_INCREMENT PRIMARY KEY, image_id "
                        f"VARCHAR(36) NOT NULL, value TEXT NOT NULL, {_AUDIT}",
                    )
                ],
            ),
            (26, ["ALTER TABLE image_locations ADD COLUMN IF NOT EXISTS meta_data TEXT"]),
            (
                28,
                [
                    _table(
                        "image_tags",
                        "id INT AUTO_INCREMENT PRIMARY KEY, image_id VARCHAR(36) "
                        f"NOT NULL, value VARCHAR(255) NOT NULL, {_AUDIT}",
                    )
                ],
            ),
        ],
    },
    "cinder": {
        "repository": "cinder",
        "heads": {"grizzly": 9, "havana": 21},
        "steps": [
            (
                1,
                [
                    _table(
                        "volumes",
                        f"id VARCHAR(36) PRIMARY KEY, {_AUDIT}, size INT, "
                        "host VARCHAR(255), status VARCHAR(255), display_name VARCHAR(255), "
                        "project_id VARCHAR(255)",
                    ),
                    _table(
                        "services",
                        f"id INT AUTO_INCREMENT PRIMARY KEY, {_AUDIT}, "
                        "host VARCHAR(255), `binary` VARCHAR(255), topic VARCHAR(255), "
                        "report_count INT NOT NULL DEFAULT 0, disabled TINYINT(1)",
                    ),
                ],
            ),
            (
                9,
                [
                    _table(
                        "backups",
                        f"id VARCHAR(36) PRIMARY KEY, {_AUDIT}, volume_id "
                        "VARCHAR(36) NOT NULL, status VARCHAR(255), size INT",
                    )
                ],
            ),
            (
                13,
                [
                    _table(
                        "transfers",
                        f"id VARCHAR(36) PRIMARY KEY, {_AUDIT}, volume_id "
                        "VARCHAR(36) NOT NULL, display_name VARCHAR(255), salt VARCHAR(255)",
                    )
                ],
            ),
            (21, ["ALTER TABLE volumes ADD COLUMN IF NOT EXISTS bootable TINYINT(1) DEFAULT 0"]),
        ],
    },
    "nova": {
        "repository": "nova",
        "heads": {"grizzly": 161, "havana": 216},
        "steps": [
            (
                133,
                [
                    _table(
                        "instances",
                        f"id INT AUTO_INCREMENT PRIMARY KEY, {_AUDIT}, "
                        "uuid VARCHAR(36) UNIQUE, hostname VARCHAR(255), host VARCHAR(255), "
                        "vm_state VARCHAR(255), task_state VARCHAR(255), image_ref VARCHAR(255), "
                        "project_id VARCHAR(255)",
                    ),
                    _table(
                        "services",
                        f"id INT AUTO_INCREMENT PRIMARY KEY, {_AUDIT}, "
                        "host VARCHAR(255), `binary` VARCHAR(255), topic VARCHAR(255), "
                        "report_count INT NOT NULL DEFAULT 0, disabled TINYINT(1)",
                    ),
                ],
            ),
            (
                161,
                [
                    _table(
                        "instance_actions",
                        f"id INT AUTO_INCREMENT PRIMARY KEY, {_AUDIT}, "
                        "action VARCHAR(255), instance_uuid VARCHAR(36), "
                        "request_id VARCHAR(255)",
                    )
                ],
            ),
            (
                186,
                ["ALTER TABLE instances ADD COLUMN IF NOT EXISTS locked_by ENUM('owner', 'admin')"],
            ),
            (
                216,
                [
                    _table(
                        "instance_groups",
                        f"id INT AUTO_INCREMENT PRIMARY KEY, {_AUDIT}, "
                        "uuid VARCHAR(36) NOT NULL, name VARCHAR(255)",
                    )
                ],
            ),
        ],
    },
}
# alembic revisions of quantum/neutron (revision, down_revision, statements).
ALEMBIC: list[tuple[str, str | None, list[str]]] = [
    (
        "folsom",
        None,
        [
            _table(
                "networks",
                "id VARCHAR(36) PRIMARY KEY, tenant_id VARCHAR(255), name "
                "VARCHAR(255), status VARCHAR(16), admin_state_up TINYINT(1), shared TINYINT(1)",
            ),
            _table(
                "ports",
                "id VARCHAR(36) PRIMARY KEY, network_id VARCHAR(36) NOT NULL, "
                "tenant_id VARCHAR(255), mac_address VARCHAR(32) NOT NULL, status VARCHAR(16) "
                "NOT NULL, device_id VARCHAR(255) NOT NULL, device_owner VARCHAR(255) NOT NULL",
            ),
        ],
    ),
    (
        "grizzly",
        "folsom",
        [
            _table(
                "ovs_network_bindings",
                "network_id VARCHAR(36) PRIMARY KEY, network_type "
                "VARCHAR(32) NOT NULL, physical_network VARCHAR(64), segmentation_id INT",
            ),
            _table(
                "agents",
                "id VARCHAR(36) PRIMARY KEY, agent_type VARCHAR(255) NOT NULL, "
                "`binary` VARCHAR(255) NOT NULL, host VARCHAR(255) NOT NULL, "
                "heartbeat_timestamp DATETIME NOT NULL",
            ),
        ],
    ),
    (
        "3c6e57a23db4",
        "grizzly",
        [
            "ALTER TABLE agents ADD COLUMN IF NOT EXISTS description VARCHAR(255)",
        ],
    ),
    (
        "havana",
        "3c6e57a23db4",
        [
            _table(
                "portbindingports", "port_id VARCHAR(36) PRIMARY KEY, host VARCHAR(255) NOT NULL"
            ),
        ],
    ),
]


def _doc(kind: str, body: object) -> Json:
    return {"type": kind, "body": body if isinstance(body, str) else json.dumps(body)}


def _api(port: int, path: str, status: int, body: object, db: bool = True) -> Json:
    kind = "text/plain" if isinstance(body, str) else "application/json"
    return {"port": port, "path": path, "status": status, "db": db, **_doc(kind, body)}


def _versions(*pairs: tuple[str, str]) -> Json:
    return {"versions": [{"id": i, "status": s, "links": []} for i, s in pairs]}


def _components(service: str, release: str) -> dict[str, Json]:
    version, grizzly = VERSIONS[release], release == "grizzly"
    db: Json = {"db": True}
    if service == "keystone":
        keystone = {
            "id": "v3.0",
            "status": "stable",
            "updated": "2013-03-06T00:00:00Z",
            "release": version,
        }
        return {"keystone": _api(5000, "/v3", 200, {"version": keystone})}
    if service == "glance":
        top = "v2.1" if grizzly else "v2.2"
        pairs = [
            (top, "CURRENT"),
            ("v2.0", "SUPPORTED"),
            ("v1.1", "CURRENT"),
            ("v1.0", "SUPPORTED"),
        ]
        return {
            "api": _api(9292, "/", 300, _versions(*pairs)),
            "registry": _api(9191, "/", 200, {"images": []}),
        }
    if service == "cinder":
        api = _api(8776, "/", 200, _versions(("v1.0", "CURRENT"), ("v2.0", "CURRENT")))
        return {"api": api, "scheduler": db, "volume": db}
    if service == "nova":
        pairs = [("v2.0", "CURRENT")] + ([] if grizzly else [("v3.0", "EXPERIMENTAL")])
        # whatever its release, a running nova-compute breaks when the glance client it
        # loaded at start changes under it (the seed's reason to restart it at the end)
        compute: Json = {
            "db": False,
            "watch": GLANCECLIENT_MODULE,
            "breaks_on_change": GLANCECLIENT_BREAKAGE,
        }
        return {
            "api": _api(8774, "/", 200, _versions(*pairs)),
            **{name: db for name in ("scheduler", "conductor", "cert", "consoleauth")},
            "novncproxy": {**_api(6080, "/", 200, "noVNC\n", db=False), "type": "text/html"},
            "compute": compute,
        }
    if service in ("quantum", "neutron"):
        server = _api(9696, "/", 200, _versions(("v2.0", "CURRENT")))
        if not grizzly:
            server["checks"] = [
                {
                    "file": "/etc/neutron/neutron.conf",
                    "pattern": r"^core_plugin\s*=\s*quantum\.",
                    "present": False,
                    "error": "ImportError: No module named quantum.plugins "
                    "(core_plugin still names a quantum class)",
                }
            ]
        agents = ("openvswitch-agent", "dhcp-agent", "l3-agent", "metadata-agent")
        return {"server": server, **{name: {} for name in agents}}
    if service == "swift":
        ports = {"proxy": 8080, "account": 6002, "container": 6001, "object": 6000}
        workers = {
            "account": ("auditor", "reaper", "replicator"),
            "container": ("auditor", "replicator", "updater"),
            "object": ("auditor", "replicator", "updater"),
        }
        out = {
            name: _api(port, "/healthcheck", 200, "OK", db=False) for name, port in ports.items()
        }
        out.update({f"{s}-{w}": {} for s, names in workers.items() for w in names})
        return out
    if service == "horizon":
        html = f"<html><title>OpenStack Dashboard {version}</title></html>\n"
        dashboard: Json = {**_api(80, "/dashboard", 200, html, db=False), "type": "text/html"}
        if not grizzly:
            dashboard["checks"] = [
                {
                    "file": "/etc/openstack-dashboard/local_settings",
                    "pattern": r"^ALLOWED_HOSTS\s*=",
                    "present": True,
                    "error": "ImproperlyConfigured: ALLOWED_HOSTS is not set: "
                    "Django >= 1.5 requires ALLOWED_HOSTS in local_settings",
                }
            ]
        return {"dashboard": dashboard}
    raise ValueError(f"unknown service {service!r}")


def document(service: str, release: str) -> Json:
    """The ``/usr/share/openstack-lab/SERVICE.json`` of ``service`` in ``release``."""
    out: Json = {"service": service, "release": release, "version": VERSIONS[release]}
    out["components"] = _components(service, release)
    if service in MIGRATE:
        repo = MIGRATE[service]
        head = repo["heads"][release]
        steps = [[v, s] for v, s in repo["steps"] if v <= head]
        path = f"/usr/lib/python2.6/site-packages/{service}/db/sqlalchemy/migrate_repo"
        out["schema"] = {
            "kind": "migrate",
            "repository": repo["repository"],
            "path": path,
            "head": head,
            "steps": steps,
        }
        cli = f"{service}-manage"
        commands = {"db sync": "sync", "db version": "version"}
        if service in ("keystone", "glance"):
            commands = {"db_sync": "sync", "db_version": "version"}
            if service == "glance" and release == "havana":
                commands |= {"db sync": "sync", "db version": "version"}
            if service == "keystone" and release == "havana":
                commands["token_flush"] = "token_flush"
        sync = next(c for c, action in commands.items() if action == "sync")
        out |= {"cli": cli, "commands": commands, "sync": f"{cli} {sync}"}
        config, section, key = {
            "keystone": ("/etc/keystone/keystone.conf", "sql", "connection"),
            "glance": ("/etc/glance/glance-registry.conf", "DEFAULT", "sql_connection"),
            "cinder": ("/etc/cinder/cinder.conf", "DEFAULT", "sql_connection"),
            "nova": ("/etc/nova/nova.conf", "DEFAULT", "sql_connection"),
        }[service]
        out["database"] = {"config": config, "section": section, "key": key}
    elif service in ("quantum", "neutron"):
        head = "grizzly" if release == "grizzly" else "havana"
        revisions = ALEMBIC[: [r for r, _, _ in ALEMBIC].index(head) + 1]
        out["schema"] = {
            "kind": "alembic",
            "head": head,
            "marker": "networks",
            "revisions": revisions,
            "autocreate": release == "grizzly",
        }
        cli = f"{service}-db-manage"
        commands = {"current": "current", "stamp": "stamp", "upgrade": "upgrade"}
        db = {
            "config": f"/etc/{service}/plugin.ini",
            "section": "DATABASE",
            "key": "sql_connection",
            "aliases": ["connection"],
        }
        out |= {"cli": cli, "commands": commands, "sync": f"{cli} upgrade head", "database": db}
    return out
