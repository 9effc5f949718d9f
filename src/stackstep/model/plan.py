"""The plan: a frozen tree of groups and steps with stable ids.

The engine executes it, the journal stores it (JSON + hash), the report renders it.
``Plan.to_dict`` is the documented, versioned JSON form (docs/plan-json.md,
docs/plan.schema.json); the hash is the SHA-256 of its canonical JSON text, so two
plans are the same plan exactly when their hashes are equal.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Literal, cast

from stackstep.model.command import Command

SCHEMA_VERSION = 1
Json = str | int | float | bool | None | list["Json"] | dict[str, "Json"]
Mode = Literal["sequential", "parallel"]


def json_list(value: Json | None) -> list[Json]:
    """``value`` when it is a JSON list, else [] (step data read back from a journal)."""
    return value if isinstance(value, list) else []


def plain_json(value: object) -> Json:
    """A copy of ``value`` as JSON reads it back: ``json.loads(json.dumps(value))``, but
    without the text for the plain values step data holds (lists, str-keyed dicts)."""
    kind = type(value)
    if kind is dict:
        items: dict[object, object] = value  # type: ignore[assignment]
        if all(type(k) is str for k in items):
            return {
                k: v if type(v) in _SCALARS else plain_json(v)  # type: ignore[misc]
                for k, v in items.items()
            }
    elif kind is list or kind is tuple:
        seq: list[object] = value  # type: ignore[assignment]
        return [v if type(v) in _SCALARS else plain_json(v) for v in seq]  # type: ignore[misc]
    elif kind in _SCALARS:
        return value  # type: ignore[return-value]
    loaded: Json = json.loads(json.dumps(value))  # subclasses, other keys: as JSON does it
    return loaded


_SCALARS = frozenset({str, int, float, bool, type(None)})


class StepKind(StrEnum):
    PREFLIGHT = "preflight"
    ENABLE_REPO = "enable-repo"
    PREFETCH = "prefetch-packages"
    STOP_UNITS = "stop-units"
    HOOK = "hook"
    UPGRADE_PACKAGES = "upgrade-packages"
    UPGRADE_CHECK = "upgrade-check"
    BACKUP_DB = "backup-db"
    MIGRATE_DB = "migrate-db"
    START_UNITS = "start-units"
    VERIFY = "verify"
    COLLECT_CONFIGS = "collect-configs"
    FULL_UPGRADE = "full-upgrade"
    RESTART_UNITS = "restart-units"
    REBOOT_CHECK = "reboot-check"


@dataclass(frozen=True)
class Step:
    id: str
    kind: StepKind
    title: str
    host: str | None = None
    service: str | None = None
    commands: tuple[Command, ...] = ()
    data: Mapping[str, Json] = field(default_factory=dict)
    restore: bool = False  # still runs after a halt: it brings service back
    timeout: int = 600

    def to_dict(self) -> dict[str, Json]:
        return {
            "type": "step",
            "id": self.id,
            "kind": str(self.kind),
            "title": self.title,
            "host": self.host,
            "service": self.service,
            "commands": cast(Json, [c.to_json() for c in self.commands]),
            "data": plain_json(dict(self.data)),
            "restore": self.restore,
            "timeout": self.timeout,
        }


@dataclass(frozen=True)
class Group:
    id: str
    title: str
    mode: Mode
    children: tuple[Node, ...]
    limit: int | None = None  # parallel groups: at most this many children at once
    service: str | None = None

    def to_dict(self) -> dict[str, Json]:
        return {
            "type": "group",
            "id": self.id,
            "title": self.title,
            "mode": self.mode,
            "limit": self.limit,
            "service": self.service,
            "children": [c.to_dict() for c in self.children],
        }

    def walk(self) -> Iterator[Node]:
        for child in self.children:
            yield child
            if isinstance(child, Group):
                yield from child.walk()


Node = Step | Group


@dataclass(frozen=True)
class Plan:
    cloud: str
    from_release: str
    to_release: str
    strategy: str
    root: Group
    options: Mapping[str, Json] = field(default_factory=dict)
    hosts: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    facts_source: str = "inventory"
    left_alone: tuple[tuple[str, str], ...] = ()  # (host, why): hosts given no step

    def steps(self) -> Iterator[Step]:
        return (n for n in self.root.walk() if isinstance(n, Step))

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps() if s.id == step_id), None)

    def body(self) -> dict[str, Json]:
        return {
            "schema": "stackstep.plan",
            "schema_version": SCHEMA_VERSION,
            "cloud": self.cloud,
            "from": self.from_release,
            "to": self.to_release,
            "strategy": self.strategy,
            "facts_source": self.facts_source,
            "options": dict(self.options),
            "hosts": list(self.hosts),
            "services": list(self.services),
            "warnings": list(self.warnings),
            "left_alone": [{"host": h, "reason": r} for h, r in self.left_alone],
            "root": self.root.to_dict(),
        }

    @cached_property
    def hash(self) -> str:
        """SHA-256 of the canonical JSON body (computed once: a plan never changes)."""
        return _digest(self.body())

    def to_dict(self) -> dict[str, Json]:
        body = self.body()
        if "hash" not in self.__dict__:  # the body just built gives the hash too
            self.__dict__["hash"] = _digest(body)
        return {**body, "hash": self.hash}


def _digest(body: dict[str, Json]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
