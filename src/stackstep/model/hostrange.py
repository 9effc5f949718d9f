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
    """``web[01:03]`` -> web01, web02, web03; several ranges multiply out, left first."""
    match = _RANGE.search(pattern)
    if match is None:
        if "[" in pattern or "]" in pattern:
            raise RangeError(f"{pattern!r}: a range is written [START:END], e.g. compute[01:20]")
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end() :]
    rest = expand(tail)
    out: list[str] = []
    for item in _range_items(match):
        out.extend(f"{head}{item}{r}" for r in rest)
        if len(out) > MAX_EXPANSION:
            raise RangeError(f"{pattern!r} expands to more than {MAX_EXPANSION} names")
    return out


def _range_items(match: re.Match[str]) -> list[str]:
    if match.group(1) is not None:
        start_s, end_s = match.group(1), match.group(2)
        start, end = int(start_s), int(end_s)
        if end < start:
            raise RangeError(f"[{start_s}:{end_s}]: the end is before the start")
        width = len(start_s) if start_s.startswith("0") and len(start_s) > 1 else 0
        return [str(i).zfill(width) for i in range(start, end + 1)]
    start_c, end_c = match.group(3), match.group(4)
    if end_c < start_c:
        raise RangeError(f"[{start_c}:{end_c}]: the end is before the start")
    return [chr(c) for c in range(ord(start_c), ord(end_c) + 1)]


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
