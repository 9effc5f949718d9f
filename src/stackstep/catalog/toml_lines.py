"""Find the line of each key path in a TOML text (tomllib gives no positions).

A small line scanner, good for the shapes our catalog files use: ``[table]``,
``[[array.of.tables]]``, ``key = value`` (dotted keys too) and arrays of inline tables
written one element per line. Paths it cannot place fall back to their nearest parent.
"""

from __future__ import annotations

import re

from stackstep.model.reader import PathKey

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\".]+)\s*=\s*(.*)$")


def _split_key(key: str) -> list[str]:
    return [part.strip().strip('"') for part in key.split(".")]


def toml_lines(text: str) -> dict[PathKey, int]:
    lines: dict[PathKey, int] = {}
    counts: dict[PathKey, int] = {}
    table: PathKey = ()
    open_array: PathKey | None = None
    array_index = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if open_array is not None:
            if stripped.startswith("{"):
                lines.setdefault((*open_array, array_index), number)
                array_index += 1
            if stripped.startswith("]"):
                open_array = None
            continue
        header = _HEADER.match(raw)
        if header:
            table = _table_path(header.group(1) == "[[", _split_key(header.group(2)), counts)
            lines.setdefault(table, number)
            continue
        key = _KEY.match(raw)
        if key:
            path = (*table, *_split_key(key.group(1)))
            lines.setdefault(path, number)
            value = key.group(2).strip()
            if value.startswith("[") and not _closes(value):
                open_array, array_index = path, 0
    return lines


def _closes(value: str) -> bool:
    code = value.split("#", 1)[0].rstrip()
    return code.count("[") <= code.count("]")


def _table_path(is_array: bool, names: list[str], counts: dict[PathKey, int]) -> PathKey:
    path: PathKey = ()
    for i, name in enumerate(names):
        path = (*path, name)
        last = i == len(names) - 1
        if last and is_array:
            index = counts.get(path, -1) + 1
            counts[path] = index
            path = (*path, index)
        elif path in counts:
            path = (*path, counts[path])
    return path
