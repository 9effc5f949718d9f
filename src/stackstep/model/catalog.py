"""The catalog as values: releases, upgrade paths, services and their quirks.

The data lives in TOML files (``stackstep/catalog/data``); ``stackstep.catalog`` loads and
validates it into these frozen values. Service knowledge is grouped in *series*: one
series holds the service data valid for a run of consecutive releases (the RDO
Grizzly/Havana era, the modern 2023.1+ era). A transition ``A -> B`` uses the series that
covers both releases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Family = Literal["rpm", "deb"]
FAMILIES: tuple[Family, ...] = ("rpm", "deb")
HookWhere = Literal["migrate-host", "service-hosts"]
HookKind = Literal["command", "rename-configs", "link", "settings-merge", "ini-ensure"]
HOOK_KINDS: tuple[HookKind, ...] = (
    "command",
    "rename-configs",
    "link",
    "settings-merge",
    "ini-ensure",
)


@dataclass(frozen=True)
class Release:
    name: str
    version: str
    order: int
    slurp: bool

    @property
    def label(self) -> str:
        return f"{self.name} ({self.version})"


@dataclass(frozen=True)
class PerFamily:
    """A value that differs between RPM (RDO, RHEL, CentOS) and Debian/Ubuntu hosts."""

    rpm: tuple[str, ...] = ()
    deb: tuple[str, ...] = ()

    def get(self, family: Family) -> tuple[str, ...]:
        return self.rpm if family == "rpm" else self.deb


@dataclass(frozen=True)
class Probe:
    """An unauthenticated API probe: GET ``path`` on ``port`` answers one of ``expect``."""

    port: int
    path: str
    expect: tuple[int, ...]
    deb_path: str | None = None  # where Debian/Ubuntu packaging serves it elsewhere
    scheme: str = "http"

    def path_for(self, family: Family) -> str:
        return self.deb_path if family == "deb" and self.deb_path else self.path


@dataclass(frozen=True)
class Guard:
    """Run a hook only when ``argv``'s output matches ``output_matches`` (a regex), or
    when it exits with one of ``exit_codes`` (``neutron-db-manage
    has_offline_migrations``: 1 = a contract is pending)."""

    argv: tuple[str, ...]
    output_matches: str = ""
    user: str | None = None
    exit_codes: tuple[int, ...] = ()


@dataclass(frozen=True)
class Hook:
    """An extra action of a service's upgrade (a quirk), as data.

    ``kind`` = command: run ``argv`` (as ``user``), optionally guarded by ``when``.
    ``kind`` = rename-configs / link / settings-merge / ini-ensure: a file action with
    ``params``.
    """

    name: str
    kind: HookKind
    where: HookWhere
    description: str
    argv: tuple[str, ...] = ()
    user: str | None = None
    when: Guard | None = None
    params: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    # a pre_upgrade hook that needs its service neither stopped nor running: it runs
    # before the stop, outside the outage
    before_stop: bool = False
    # a command that works in batches: this exit status means "progress made, run me
    # again" (`online_data_migrations --max-count N`: 1); 0 is done, anything else fails
    again_exit: int | None = None


@dataclass(frozen=True)
class Component:
    """A part of a service that runs on some hosts (nova's compute, cinder's volume)."""

    name: str
    units: PerFamily
    stop_units: PerFamily | None = None  # units before the upgrade, if renamed
    httpd: bool = False
    start_order: int = 50  # lower starts first within the service
    restart_after_final_upgrade: bool = False

    def units_to_stop(self, family: Family) -> tuple[str, ...]:
        source = self.stop_units if self.stop_units is not None else self.units
        return source.get(family)


@dataclass(frozen=True)
class Database:
    """Where the service's DB URL lives (for backups): an INI file, section and key."""

    config: str
    section: str
    key: str
    name: str


@dataclass(frozen=True)
class Rolling:
    """How a service is upgraded node by node behind a load balancer (``--strategy
    rolling``): the file that makes its ``/healthcheck`` answer 503 (drained by that
    file; without one, through HAProxy's admin socket), the expand commands run once on
    the first node before its new code starts (default: the ``migrate`` hooks, when they
    are additive), and the contract commands run once every node runs the new code."""

    healthcheck_disable: str | None = None
    expand: tuple[Hook, ...] | None = None  # None: the service's migrate hooks
    contract: tuple[Hook, ...] = ()
    # hooks run on each of its hosts in the roll before its units start there (nova:
    # [upgrade_levels] compute = auto, checked, set if absent, reported)
    before_start: tuple[Hook, ...] = ()
    # its services cache the RPC version pin of the oldest service at start: once every
    # host runs the new code, SIGHUP them (the API component, which has no such reset,
    # is restarted, one node at a time out of rotation)
    unpin: bool = False


@dataclass(frozen=True)
class Service:
    name: str
    title: str
    components: tuple[Component, ...]
    packages: PerFamily
    aliases: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    migrate_on: str | None = None  # component whose first host runs the migration
    migrate: tuple[Hook, ...] = ()
    pre_upgrade: tuple[Hook, ...] = ()
    post_upgrade: tuple[Hook, ...] = ()
    post_start: tuple[Hook, ...] = ()
    upgrade_check: tuple[str, ...] = ()
    database: Database | None = None
    probe: Probe | None = None
    probe_on: str | None = None  # component whose hosts answer the probe
    config_dirs: tuple[str, ...] = ()
    rolling: Rolling | None = None  # None: not upgraded node by node (cold switch)

    def expand_hooks(self) -> tuple[Hook, ...]:
        """What runs on the first node of a rolling upgrade, before its new code starts."""
        if self.rolling is not None and self.rolling.expand is not None:
            return self.rolling.expand
        return self.migrate

    def component(self, name: str) -> Component | None:
        return next((c for c in self.components if c.name == name), None)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class RepoCommand:
    """How to enable a release's package repository; ``{name}``/``{version}`` expand."""

    rpm: tuple[str, ...]
    deb: tuple[str, ...]

    def argv(self, family: Family, release: Release) -> tuple[str, ...]:
        source = self.rpm if family == "rpm" else self.deb
        return tuple(t.format(name=release.name, version=release.version) for t in source)


@dataclass(frozen=True)
class Series:
    name: str
    title: str
    releases: tuple[str, ...]
    services: tuple[Service, ...]
    repo: RepoCommand
    config_suffixes: tuple[str, ...]
    # packages whose change makes a running OpenStack unit stale (restart after the final upgrade)
    library_packages: tuple[str, ...] = ("python*", "openstack-*")

    def service(self, name: str) -> Service | None:
        return next((s for s in self.services if name in s.names), None)


@dataclass(frozen=True)
class RoleConflict:
    """Roles that one host cannot hold together."""

    roles: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Catalog:
    releases: tuple[Release, ...]
    series: tuple[Series, ...]
    roles: Mapping[str, tuple[str, ...]]
    ansible_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    conflicts: tuple[RoleConflict, ...] = ()
    sources: tuple[str, ...] = ()
    digest: str = ""

    def release(self, name: str) -> Release | None:
        key = name.strip().lower()
        return next((r for r in self.releases if key in (r.name, r.version)), None)

    def next_release(self, release: Release) -> Release | None:
        later = [r for r in self.releases if r.order > release.order]
        return min(later, key=lambda r: r.order) if later else None

    def targets(self, release: Release) -> tuple[Release, ...]:
        """Releases reachable from ``release`` in one supported upgrade."""
        out: list[Release] = []
        nxt = self.next_release(release)
        if nxt is not None:
            out.append(nxt)
        if release.slurp:
            slurps = [r for r in self.releases if r.slurp and r.order > release.order]
            if slurps:
                skip = min(slurps, key=lambda r: r.order)
                if skip not in out:
                    out.append(skip)
        return tuple(out)

    def is_path(self, src: Release, dst: Release) -> bool:
        return dst in self.targets(src)

    def series_for(self, src: Release, dst: Release) -> Series | None:
        return next(
            (s for s in self.series if src.name in s.releases and dst.name in s.releases),
            None,
        )

    def service_names(self) -> set[str]:
        """Service names, aliases and service:component of every series."""
        out: set[str] = set()
        for series in self.series:
            for service in series.services:
                out.update(service.names)
                out.update(f"{n}:{c.name}" for n in service.names for c in service.components)
        return out

    def ansible_group_map(self) -> dict[str, tuple[str, ...]]:
        """Ansible group -> stackstep roles/services: same-named ones, then the table."""
        names = self.service_names() | set(self.roles)
        return {**{n: (n,) for n in sorted(names)}, **self.ansible_groups}
