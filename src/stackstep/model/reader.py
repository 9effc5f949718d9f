"""Typed, forgiving reading of a parsed document (YAML or TOML), collecting problems.

Loaders walk their document with :class:`Node` cursors. Each accessor checks a type,
records a :class:`~stackstep.errors.Problem` (file, line, key path, what to do) when
the value is wrong, and returns a safe default so that reading goes on: the user gets
every mistake in one message instead of one per run. Line numbers come from a
``lines`` map (key path -> 1-based line) that the format-specific loader builds.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from stackstep.errors import Problem

PathKey = tuple[str | int, ...]
T = TypeVar("T")


def dotted(path: PathKey) -> str:
    out = ""
    for raw in path:
        part = raw
        if isinstance(part, str) and not part.isprintable():  # no faked lines in messages
            part = part.encode("unicode_escape").decode("ascii")
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class Doc:
    """One input file: its name, where its keys are, and the problems found so far."""

    def __init__(self, file: str, lines: Mapping[PathKey, int] | None = None) -> None:
        self.file = file
        self.lines = dict(lines or {})
        self.problems: list[Problem] = []

    def line(self, path: PathKey) -> int | None:
        for end in range(len(path), -1, -1):
            found = self.lines.get(tuple(path[:end]))
            if found is not None:
                return found
        return None

    def problem(self, path: PathKey, message: str, hint: str | None = None) -> None:
        key = dotted(path) or None
        self.problems.append(Problem(message, self.file, self.line(path), key, hint))


def _kind(value: object) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "true/false"}
    names |= {int: "a number", float: "a number", type(None): "empty"}
    return names.get(type(value), type(value).__name__)


class Node:
    """A cursor on one value of a document."""

    def __init__(self, doc: Doc, value: object, path: PathKey = ()) -> None:
        self.doc = doc
        self.value = value
        self.path = path

    def problem(self, message: str, hint: str | None = None, key: str | int | None = None) -> None:
        path = self.path if key is None else (*self.path, key)
        self.doc.problem(path, message, hint)

    @property
    def line(self) -> int | None:
        return self.doc.line(self.path)

    def is_mapping(self) -> bool:
        return isinstance(self.value, dict)

    def expect_mapping(self) -> bool:
        if isinstance(self.value, dict):
            return True
        self.problem(f"expected a mapping of keys, found {_kind(self.value)}")
        return False

    def key_names(self) -> list[str]:
        return [str(k) for k in self.value] if isinstance(self.value, dict) else []

    def child(self, key: str | int) -> Node:
        value: object = None
        if isinstance(self.value, dict):
            value = self.value.get(key)
        elif isinstance(self.value, list) and isinstance(key, int) and key < len(self.value):
            value = self.value[key]
        return Node(self.doc, value, (*self.path, key))

    def has(self, key: str) -> bool:
        return isinstance(self.value, dict) and self.value.get(key) is not None

    def items(self) -> list[tuple[str, Node]]:
        if not isinstance(self.value, dict):
            return []
        return [(str(k), self.child(k)) for k in self.value]

    def elements(self) -> list[Node]:
        if not isinstance(self.value, list):
            return []
        return [self.child(i) for i in range(len(self.value))]

    def allow_keys(self, allowed: Sequence[str], what: str = "key") -> None:
        """Report every key not in ``allowed``, with a did-you-mean."""
        for key in self.key_names():
            if key in allowed:
                continue
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "known: " + ", ".join(allowed)
            self.problem(f"unknown {what} {key!r}", hint, key=key)

    def _typed(
        self, key: str, check: Callable[[object], bool], want: str, required: bool
    ) -> object:
        node = self.child(key)
        if node.value is None:
            if required:
                self.problem(f"missing required key {key!r}", f"add {key}: <{want}>")
            return None
        if not check(node.value):
            node.problem(f"expected {want}, found {_kind(node.value)} {node.value!r}")
            return None
        return node.value

    def text(self, key: str, *, required: bool = False, choices: Sequence[str] = ()) -> str | None:
        value = self._typed(key, lambda v: isinstance(v, str) and v != "", "a string", required)
        if isinstance(value, str) and choices and value not in choices:
            close = difflib.get_close_matches(value, choices, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "one of: " + ", ".join(choices)
            self.child(key).problem(f"{value!r} is not allowed", hint)
            return None
        return value if isinstance(value, str) else None

    def number(self, key: str, *, lo: int | None = None, hi: int | None = None) -> int | None:
        def is_int(v: object) -> bool:
            return isinstance(v, int) and not isinstance(v, bool)

        value = self._typed(key, is_int, "a whole number", False)
        if not isinstance(value, int):
            return None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            self.child(key).problem(f"{value} is out of range", f"use {lo}..{hi}")
            return None
        return value

    def flag(self, key: str) -> bool | None:
        value = self._typed(key, lambda v: isinstance(v, bool), "true or false", False)
        return value if isinstance(value, bool) else None

    def texts(self, key: str, *, required: bool = False) -> tuple[str, ...]:
        """A list of strings; a single string is accepted as a list of one."""
        node = self.child(key)
        if isinstance(node.value, str):
            return (node.value,)
        raw = self._typed(key, lambda v: isinstance(v, list), "a list of strings", required)
        if not isinstance(raw, list):
            return ()
        out: list[str] = []
        for i, item in enumerate(raw):
            if isinstance(item, str) and item:
                out.append(item)
            else:
                node.problem(f"expected a string, found {_kind(item)} {item!r}", key=i)
        return tuple(out)
