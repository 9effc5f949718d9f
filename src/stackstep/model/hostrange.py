"""Host ranges such as ``compute[01:20]`` or ``10.0.0.[11:30]``, both ways.

``expand`` turns a pattern into names; ``compress`` turns names back into the shortest
readable list of patterns (used when a plan shows the same step on many hosts).
"""

from __future__ import annotations

import re
from itertools import groupby

_RANGE = re.compile(r"\[([0-9]+):([0-9]+)\]|\[([a-z]):([a-z])\]")
MAX_EXPANSION = 100_000


class RangeError(ValueError):
    """A malformed range; the message says what is wrong."""


def expand(pattern: str) -> list[str]:
    """``web[01:03]`` -> web01, web02, web03; several ranges multiply out, left first.

    The size is worked out from the bounds first: a pattern that would give more than
    ``MAX_EXPANSION`` names is refused before any name is built.
    """
    matches = list(_RANGE.finditer(pattern))
    rest = _RANGE.sub("", pattern)
    if "[" in rest or "]" in rest:
        raise RangeError(f"{pattern!r}: a range is written [START:END], e.g. compute[01:20]")
    if not matches:
        return [pattern]
    size = 1
    for match in matches:
        size *= _range_size(match)
        if size > MAX_EXPANSION:
            raise RangeError(
                f"{pattern!r} expands to {_total(matches)} names, "
                f"more than the {MAX_EXPANSION} stackstep accepts"
            )
    out = [pattern[: matches[0].start()]]
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(pattern)
        tail = pattern[match.end() : end]
        out = [f"{head}{item}{tail}" for head in out for item in _range_items(match)]
    return out


def size(pattern: str) -> int:
    """How many names ``expand(pattern)`` gives, from the bounds alone (RangeError if bad)."""
    if "[" in _RANGE.sub("", pattern) or "]" in _RANGE.sub("", pattern):
        raise RangeError(f"{pattern!r}: a range is written [START:END], e.g. compute[01:20]")
    return _total(list(_RANGE.finditer(pattern)))


def _total(matches: list[re.Match[str]]) -> int:
    total = 1
    for match in matches:
        total *= _range_size(match)
    return total


def _range_size(match: re.Match[str]) -> int:
    if match.group(1) is not None:
        start, end = int(match.group(1)), int(match.group(2))
        if end < start:
            raise RangeError(f"[{match.group(1)}:{match.group(2)}]: the end is before the start")
        return end - start + 1
    start_c, end_c = match.group(3), match.group(4)
    if end_c < start_c:
        raise RangeError(f"[{start_c}:{end_c}]: the end is before the start")
    return ord(end_c) - ord(start_c) + 1


def _range_items(match: re.Match[str]) -> list[str]:
    if match.group(1) is not None:
        start_s, end_s = match.group(1), match.group(2)
        width = len(start_s) if start_s.startswith("0") and len(start_s) > 1 else 0
        return [str(i).zfill(width) for i in range(int(start_s), int(end_s) + 1)]
    return [chr(c) for c in range(ord(match.group(3)), ord(match.group(4)) + 1)]


_TRAILING = re.compile(r"^(.*?)([0-9]+)$")


def compress(names: list[str]) -> list[str]:
    """compute01..compute20 -> ['compute[01:20]']; keeps first-seen order of prefixes."""
    keyed: list[tuple[str, int, int, str]] = []
    for name in names:
        m = _TRAILING.match(name)
        if m is None:
            keyed.append((name, -1, 0, name))
        else:
            keyed.append((m.group(1), len(m.group(2)), int(m.group(2)), name))
    order = {k[:2]: i for i, k in reversed(list(enumerate(keyed)))}
    keyed.sort(key=lambda k: (order[k[:2]], k[2]))
    out: list[str] = []
    for (prefix, width), group in groupby(keyed, key=lambda k: k[:2]):
        items = list(group)
        if width < 0:
            out.extend(i[3] for i in items)
            continue
        out.extend(_runs(prefix, width, [i[2] for i in items], [i[3] for i in items]))
    return out


def _runs(prefix: str, width: int, numbers: list[int], names: list[str]) -> list[str]:
    out: list[str] = []
    start = 0
    for i in range(1, len(numbers) + 1):
        if i == len(numbers) or numbers[i] != numbers[i - 1] + 1:
            if i - start >= 3:
                lo, hi = names[start][len(prefix) :], names[i - 1][len(prefix) :]
                out.append(f"{prefix}[{lo}:{hi}]")
            else:
                out.extend(names[start:i])
            start = i
    return out
