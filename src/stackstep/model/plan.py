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
from typing import Literal

from stackstep.model.command import Command

SCHEMA_VERSION = 1
Json = str | int | float | bool | None | list["Json"] | dict[str, "Json"]
Mode = Literal["sequential", "parallel"]


def json_list(value: Json | None) -> list[Json]:
    """``value`` when it is a JSON list, else [] (step data read back from a journal)."""
    return value if isinstance(value, list) else []


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
            "commands": [c.to_json() for c in self.commands],
            "data": json.loads(json.dumps(dict(self.data))),
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
            "root": self.root.to_dict(),
        }

    @property
    def hash(self) -> str:
        canonical = json.dumps(self.body(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def to_dict(self) -> dict[str, Json]:
        return {**self.body(), "hash": self.hash}
