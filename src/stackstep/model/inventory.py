"""The inventory as values: hosts, how to reach them, and what they run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from stackstep.model.names import ENV_NAME

PackageManager = Literal["yum", "dnf", "apt"]
PACKAGE_MANAGERS: tuple[PackageManager, ...] = ("yum", "dnf", "apt")
InitSystem = Literal["systemd", "sysv"]
INIT_SYSTEMS: tuple[InitSystem, ...] = ("systemd", "sysv")
TransportKind = Literal["ssh", "local"]
TRANSPORTS: tuple[TransportKind, ...] = ("ssh", "local")


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    port: int = 22
    user: str = "root"
    identity_file: str | None = None
    become: bool = False
    jump: str | None = None
    transport: TransportKind = "ssh"  # local: run on this machine, no SSH
    env: Mapping[str, str] = field(default_factory=dict)  # extra environment for commands
    known_hosts: str | None = None  # this host's known_hosts file (the lab writes one)
    netns: str | None = None  # connect from inside this network namespace (the lab's)
    package_manager: PackageManager | None = None
    init: InitSystem | None = None
    roles: tuple[str, ...] = ()
    services: tuple[str, ...] = ()  # extra "service" or "service:component" entries
    migrate: tuple[str, ...] = ()  # services whose DB migration this host must run
    groups: tuple[str, ...] = ()  # Ansible groups the host is in (for messages)
    line: int | None = None  # where the host was defined, for messages

    def __post_init__(self) -> None:
        bad = next((k for k in self.env if not ENV_NAME.fullmatch(k)), None)
        if bad is not None:  # the loader refuses these; never build a host with one
            raise ValueError(f"invalid environment variable name {bad!r}")


DEFAULT_LB_SOCKET = "/run/haproxy/admin.sock"
SERVER_PLACEHOLDER = "{host}"


@dataclass(frozen=True)
class LoadBalancer:
    """The HAProxy hosts in front of the APIs (``load_balancer:``, docs/inventory.md)."""

    hosts: tuple[str, ...]  # inventory host names running HAProxy
    socket: str = DEFAULT_LB_SOCKET  # the admin-level stats socket on each of them
    backends: Mapping[str, str] = field(default_factory=dict)  # service -> backend name
    server: str = SERVER_PLACEHOLDER  # a node's server name in a backend ({host}: its name)
    drain_timeout: int = 120  # seconds to wait until every LB took a node out, sessions 0
    up_timeout: int = 60  # seconds to wait until every LB marks a node up again

    def backend(self, service: str) -> str:
        return self.backends.get(service, service)

    def server_name(self, host: str) -> str:
        return self.server.replace(SERVER_PLACEHOLDER, host)


@dataclass(frozen=True)
class Inventory:
    name: str
    source: str
    hosts: tuple[Host, ...]
    roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    release: str | None = None
    target: str | None = None
    repo_command: tuple[str, ...] = ()  # overrides the catalog's "enable repo" command
    smoke: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # service -> sh commands
    # service -> URL of its load-balanced endpoint, probed during a run (docs/inventory.md)
    endpoints: Mapping[str, str] = field(default_factory=dict)
    vip: str | None = None  # the load balancer's address: every probed service behind it
    load_balancer: LoadBalancer | None = None  # how to take a node out of rotation
    digest: str = ""
    notes: tuple[str, ...] = ()  # things the user should know (e.g. ignored Ansible groups)
    lines: Mapping[str, int] = field(default_factory=dict)  # key path -> line, for messages

    def host(self, name: str) -> Host | None:
        return next((h for h in self.hosts if h.name == name), None)
