"""The plan: a frozen tree of groups and steps with stable ids.

The engine executes it, the journal stores it (JSON + hash), the report renders it.
``Plan.to_dict`` is the documented, versioned JSON form (docs/plan-json.md,
docs/plan.schema.json); the hash is the SHA-256 of its canonical JSON text, so two
plans are the same plan exactly when their hashes are equal.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
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
    """SHA-256 of ``json.dumps(body, sort_keys=True, separators=(",", ":"))``, fed piece
    by piece: the body and each group are written here, every other value (a step, the
    options) by the JSON encoder. A 5,000-host plan's text is never held whole."""
    digest = hashlib.sha256()
    _canonical(body, lambda text: digest.update(text.encode()))
    return digest.hexdigest()


def _canonical(value: Json, feed: Callable[[str], object]) -> None:
    if type(value) is dict and ("root" in value or "children" in value):
        items = cast("dict[object, Json]", value)
        if all(type(k) is str for k in items):
            sep = "{"
            for key in sorted(cast("dict[str, Json]", items)):
                feed(sep + encode_basestring_ascii(key) + ":")
                _canonical(items[key], feed)
                sep = ","
            feed("}" if sep == "," else "{}")
            return
    if type(value) is list and len(value) > 1:
        sep = "["
        for item in value:
            feed(sep)
            _canonical(item, feed)
            sep = ","
        feed("]")
        return
    feed(_canonical_text(value))


# the C encoder itself (json.dumps costs more to set up than to encode one step)
_C_CANONICAL = (
    c_make_encoder(
        None, json.JSONEncoder().default, encode_basestring_ascii, None, ":", ",", True, False, True
    )
    if c_make_encoder is not None
    else None
)


def _canonical_text(value: Json) -> str:
    if _C_CANONICAL is None:  # pragma: no cover - CPython has it
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return "".join(_C_CANONICAL(value, 0))
