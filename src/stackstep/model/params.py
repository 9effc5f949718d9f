"""Typed step parameters: what each kind of step needs besides its commands.

The planner writes them, the engine, the features and the reports read their fields.
``to_json`` is the step's ``data`` in the plan's JSON (docs/plan-json.md): its keys and
their order are part of the plan's hash and never change by accident. ``from_json``
reads them back from a plan a journal stored; it is forgiving (a key missing or of the
wrong type reads as its default), as a journal written by an older release may be.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias

from stackstep.model.catalog import HOOK_KINDS, Family, HookKind

if TYPE_CHECKING:
    from stackstep.model.plan import Json, StepKind

Unhealthy = Literal["warn", "block"]
HookValue = str | tuple[str, ...]


def _dict(value: object) -> Mapping[str, Json]:
    return value if isinstance(value, dict) else {}


def _texts(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _text(value: object, default: str = "") -> str:
    return default if value is None else str(value)


class _Params:
    """What every kind's parameters have: their JSON. Equal parameters (equal fields)
    write equal JSON: a plan's writers keep the text of each distinct value once."""

    def to_json(self) -> dict[str, Json]:
        raise NotImplementedError


@dataclass(frozen=True)
class NoParams(_Params):
    """Kinds whose commands say everything (prefetch, upgrade-check, full-upgrade,
    reboot-check)."""

    def to_json(self) -> dict[str, Json]:
        return {}

    @classmethod
    def from_json(cls, data: Json) -> NoParams:
        return NO_PARAMS


NO_PARAMS = NoParams()


@dataclass(frozen=True)
class Probe:
    """An API's probe: GET ``url`` answers one of ``expect``."""

    url: str
    expect: tuple[int, ...]

    def to_json(self) -> dict[str, Json]:
        return {"url": self.url, "expect": list(self.expect)}

    @classmethod
    def from_json(cls, data: Json) -> Probe:
        d = _dict(data)
        expect = d.get("expect")
        codes = tuple(int(str(c)) for c in expect) if isinstance(expect, list) else ()
        return cls(_text(d.get("url")), codes)


def _probe(value: Json | None) -> Probe | None:
    return Probe.from_json(value) if isinstance(value, dict) else None


@dataclass(frozen=True)
class ServiceCheck:
    """A service a preflight checks healthy: its units, probe, smoke commands, and the
    ``upgrade check`` on its migration host (run as ``user``)."""

    service: str
    units: tuple[str, ...]
    probe: Probe | None = None
    smoke: tuple[str, ...] | None = None
    upgrade_check: tuple[str, ...] | None = None
    user: str | None = None

    def to_json(self) -> dict[str, Json]:
        out: dict[str, Json] = {"service": self.service, "units": list(self.units)}
        if self.probe is not None:
            out["probe"] = self.probe.to_json()
        if self.smoke is not None:
            out["smoke"] = list(self.smoke)
        if self.upgrade_check is not None:
            out["upgrade_check"] = list(self.upgrade_check)
            out["user"] = self.user
        return out

    @classmethod
    def from_json(cls, data: Json) -> ServiceCheck:
        d = _dict(data)
        user = d.get("user")
        return cls(
            _text(d.get("service")),
            _texts(d.get("units")),
            _probe(d.get("probe")),
            _texts(d.get("smoke")) if "smoke" in d else None,
            _texts(d.get("upgrade_check")) if "upgrade_check" in d else None,
            None if user is None else str(user),
        )


@dataclass(frozen=True)
class Behind:
    """A package of ``service`` older here (``have``) than on its other hosts (``on``)."""

    service: str
    package: str
    have: str
    newest: str
    on: str

    def to_json(self) -> dict[str, Json]:
        return {
            "service": self.service,
            "package": self.package,
            "have": self.have,
            "newest": self.newest,
            "on": self.on,
        }

    @classmethod
    def from_json(cls, data: Json) -> Behind:
        d = _dict(data)
        names = ("service", "package", "have", "newest", "on")
        return cls(*(_text(d.get(k)) for k in names))


@dataclass(frozen=True)
class RepoCheck:
    """The read-only check that the target repository answers."""

    what: str
    argv: tuple[str, ...]

    def to_json(self) -> dict[str, Json]:
        return {"what": self.what, "argv": list(self.argv)}

    @classmethod
    def from_json(cls, data: Json) -> RepoCheck:
        d = _dict(data)
        return cls(_text(d.get("what"), "the target repository answers"), _texts(d.get("argv")))


@dataclass(frozen=True)
class PreflightParams(_Params):
    min_free_gib: float
    services: tuple[ServiceCheck, ...]
    unhealthy: Unhealthy
    family: Family
    behind: tuple[Behind, ...] = ()
    repository: RepoCheck | None = None
    checks: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Json]:
        out: dict[str, Json] = {
            "min_free_gib": self.min_free_gib,
            "services": [s.to_json() for s in self.services],
            "unhealthy": self.unhealthy,
            "family": self.family,
            "behind": [b.to_json() for b in self.behind],
        }
        if self.repository is not None:
            out["repository"] = self.repository.to_json()
        out["checks"] = list(self.checks)
        return out

    @classmethod
    def from_json(cls, data: Json) -> PreflightParams:
        d = _dict(data)
        services, behind, repository = d.get("services"), d.get("behind"), d.get("repository")
        return cls(
            float(str(d.get("min_free_gib", 1.0))),
            tuple(map(ServiceCheck.from_json, services if isinstance(services, list) else [])),
            "warn" if d.get("unhealthy") == "warn" else "block",
            "deb" if d.get("family") == "deb" else "rpm",
            tuple(
                Behind.from_json(e)
                for e in (behind if isinstance(behind, list) else [])
                if isinstance(e, dict) and "package" in e
            ),
            RepoCheck.from_json(repository) if isinstance(repository, dict) else None,
            _texts(d.get("checks")),
        )


@dataclass(frozen=True)
class RepoParams(_Params):
    release: str

    def to_json(self) -> dict[str, Json]:
        return {"release": self.release}

    @classmethod
    def from_json(cls, data: Json) -> RepoParams:
        return cls(_text(_dict(data).get("release")))


@dataclass(frozen=True)
class UnitsParams(_Params):
    """stop-units, start-units: the units their commands stop or start."""

    units: tuple[str, ...]

    def to_json(self) -> dict[str, Json]:
        return {"units": list(self.units)}

    @classmethod
    def from_json(cls, data: Json) -> UnitsParams:
        return cls(_texts(_dict(data).get("units")))


@dataclass(frozen=True)
class PackagesParams(_Params):
    """upgrade-packages: the package globs its commands upgrade; ``cached``: from the
    packages the prefetch downloaded (yum/dnf ``-C``, no metadata refresh)."""

    packages: tuple[str, ...]
    cached: bool = False

    def to_json(self) -> dict[str, Json]:
        out: dict[str, Json] = {"packages": list(self.packages)}
        if self.cached:
            out["cached"] = True
        return out

    @classmethod
    def from_json(cls, data: Json) -> PackagesParams:
        d = _dict(data)
        return cls(_texts(d.get("packages")), d.get("cached") is True)


@dataclass(frozen=True)
class Guard:
    """A hook runs only when ``argv``'s output matches ``output_matches``, or (with
    ``exit_codes``) when it exits with one of them."""

    argv: tuple[str, ...]
    output_matches: str
    exit_codes: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Json]:
        out: dict[str, Json] = {"argv": list(self.argv), "output_matches": self.output_matches}
        if self.exit_codes:
            out["exit"] = list(self.exit_codes)
        return out

    @classmethod
    def from_json(cls, data: Json) -> Guard:
        d = _dict(data)
        codes = d.get("exit")
        exits = tuple(c for c in codes if isinstance(c, int)) if isinstance(codes, list) else ()
        return cls(_texts(d.get("argv")), _text(d.get("output_matches")), exits)


@dataclass(frozen=True)
class HookParams(_Params):
    hook: str
    phase: str
    hook_kind: HookKind
    description: str
    when: Guard | None = None
    params: tuple[tuple[str, HookValue], ...] | None = None  # a file hook's, in catalog order
    again_exit: int | None = None  # exit status meaning "progress made, run again"

    def to_json(self) -> dict[str, Json]:
        out: dict[str, Json] = {
            "hook": self.hook,
            "phase": self.phase,
            "hook_kind": self.hook_kind,
            "description": self.description,
        }
        if self.when is not None:
            out["when"] = self.when.to_json()
        if self.params is not None:
            out["params"] = {k: v if isinstance(v, str) else list(v) for k, v in self.params}
        if self.again_exit is not None:
            out["again_exit"] = self.again_exit
        return out

    @classmethod
    def from_json(cls, data: Json) -> HookParams:
        d = _dict(data)
        when, params = d.get("when"), d.get("params")
        return cls(
            _text(d.get("hook")),
            _text(d.get("phase")),
            next((k for k in HOOK_KINDS if k == d.get("hook_kind")), "command"),
            _text(d.get("description")),
            Guard.from_json(when) if isinstance(when, dict) else None,
            tuple((k, v if isinstance(v, str) else _texts(v)) for k, v in params.items())
            if isinstance(params, dict)
            else None,
            again if isinstance(again := d.get("again_exit"), int) else None,
        )


@dataclass(frozen=True)
class BackupParams(_Params):
    """backup-db: the database, and where its URL is (config file, section, key)."""

    database: str
    config: str
    section: str
    key: str

    def to_json(self) -> dict[str, Json]:
        return {
            "database": self.database,
            "config": self.config,
            "section": self.section,
            "key": self.key,
        }

    @classmethod
    def from_json(cls, data: Json) -> BackupParams:
        d = _dict(data)
        return cls(*(_text(d.get(k)) for k in ("database", "config", "section", "key")))


@dataclass(frozen=True)
class MigrateParams(_Params):
    hooks: tuple[str, ...]

    def to_json(self) -> dict[str, Json]:
        return {"hooks": list(self.hooks)}

    @classmethod
    def from_json(cls, data: Json) -> MigrateParams:
        return cls(_texts(_dict(data).get("hooks")))


@dataclass(frozen=True)
class VerifyParams(_Params):
    """verify: the units its commands check, the API probe, the smoke commands."""

    units: tuple[str, ...]
    probe: Probe | None = None
    smoke: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, Json]:
        out: dict[str, Json] = {"units": list(self.units)}
        if self.probe is not None:
            out["probe"] = self.probe.to_json()
        if self.smoke is not None:
            out["smoke"] = list(self.smoke)
        return out

    @classmethod
    def from_json(cls, data: Json) -> VerifyParams:
        d = _dict(data)
        smoke = _texts(d.get("smoke")) if "smoke" in d else None
        return cls(_texts(d.get("units")), _probe(d.get("probe")), smoke)


@dataclass(frozen=True)
class CollectParams(_Params):
    """collect-configs: where its command looks, for files with which suffixes."""

    dirs: tuple[str, ...]
    suffixes: tuple[str, ...]

    def to_json(self) -> dict[str, Json]:
        return {"dirs": list(self.dirs), "suffixes": list(self.suffixes)}

    @classmethod
    def from_json(cls, data: Json) -> CollectParams:
        d = _dict(data)
        return cls(_texts(d.get("dirs")), _texts(d.get("suffixes")))


@dataclass(frozen=True)
class RestartParams(_Params):
    """restart-units: candidates, the SysV fallback, and the APIs to wait for."""

    units: tuple[str, ...]
    fallback: tuple[str, ...]
    detect_stale: bool
    library_packages: tuple[str, ...]
    probes: tuple[Probe, ...] = ()

    def to_json(self) -> dict[str, Json]:
        return {
            "units": list(self.units),
            "fallback": list(self.fallback),
            "detect_stale": self.detect_stale,
            "library_packages": list(self.library_packages),
            "probes": [p.to_json() for p in self.probes],
        }

    @classmethod
    def from_json(cls, data: Json) -> RestartParams:
        d = _dict(data)
        probes = d.get("probes")
        return cls(
            _texts(d.get("units")),
            _texts(d.get("fallback")),
            bool(d.get("detect_stale")),
            _texts(d.get("library_packages")),
            tuple(Probe.from_json(p) for p in (probes if isinstance(probes, list) else [])),
        )


Direction = Literal["out", "in"]


def _pairs(value: object) -> tuple[tuple[str, str], ...]:
    items = value if isinstance(value, list) else []
    return tuple((str(p[0]), str(p[1])) for p in items if isinstance(p, list) and len(p) == 2)


@dataclass(frozen=True)
class DrainParams(_Params):
    """drain: take a node out of the load balancers' rotation (``out``) or put it back
    (``in``). ``files``: the services' health check disable files on the node (their
    ``/healthcheck`` answers 503 while one exists); ``pairs``: (backend, server) set to
    ``drain``/``ready`` through HAProxy's admin ``socket`` on the step's host (an LB)."""

    direction: Direction
    node: str
    files: tuple[str, ...] = ()
    pairs: tuple[tuple[str, str], ...] = ()
    socket: str = ""

    def to_json(self) -> dict[str, Json]:
        return {
            "direction": self.direction,
            "node": self.node,
            "files": list(self.files),
            "pairs": [list(p) for p in self.pairs],
            "socket": self.socket,
        }

    @classmethod
    def from_json(cls, data: Json) -> DrainParams:
        d = _dict(data)
        direction: Direction = "in" if d.get("direction") == "in" else "out"
        return cls(
            direction,
            _text(d.get("node")),
            _texts(d.get("files")),
            _pairs(d.get("pairs")),
            _text(d.get("socket")),
        )


@dataclass(frozen=True)
class LbWaitParams(_Params):
    """lb-wait: on one HAProxy host, poll its admin ``socket`` until every
    (backend, server) pair is out of rotation with no session left (``out``) or marked
    up again (``in``); after ``timeout`` seconds, fail naming what is not there yet."""

    direction: Direction
    node: str
    pairs: tuple[tuple[str, str], ...]
    socket: str
    timeout: int

    def to_json(self) -> dict[str, Json]:
        return {
            "direction": self.direction,
            "node": self.node,
            "pairs": [list(p) for p in self.pairs],
            "socket": self.socket,
            "timeout": self.timeout,
        }

    @classmethod
    def from_json(cls, data: Json) -> LbWaitParams:
        d = _dict(data)
        direction: Direction = "in" if d.get("direction") == "in" else "out"
        timeout = d.get("timeout")
        return cls(
            direction,
            _text(d.get("node")),
            _pairs(d.get("pairs")),
            _text(d.get("socket")),
            timeout if isinstance(timeout, int) else 120,
        )


StepParams: TypeAlias = (
    NoParams
    | PreflightParams
    | RepoParams
    | UnitsParams
    | PackagesParams
    | HookParams
    | BackupParams
    | MigrateParams
    | VerifyParams
    | CollectParams
    | RestartParams
    | DrainParams
    | LbWaitParams
)

PARAMS_OF: dict[str, type[StepParams]] = {
    "preflight": PreflightParams,
    "enable-repo": RepoParams,
    "prefetch-packages": NoParams,
    "stop-units": UnitsParams,
    "hook": HookParams,
    "upgrade-packages": PackagesParams,
    "upgrade-check": NoParams,
    "backup-db": BackupParams,
    "migrate-db": MigrateParams,
    "start-units": UnitsParams,
    "verify": VerifyParams,
    "collect-configs": CollectParams,
    "full-upgrade": NoParams,
    "restart-units": RestartParams,
    "reboot-check": NoParams,
    "drain": DrainParams,
    "lb-wait": LbWaitParams,
}


def params_from_json(kind: StepKind | str, data: Json) -> StepParams:
    """A step's parameters read back from its ``data`` in a stored plan."""
    return PARAMS_OF[str(kind)].from_json(data)
