"""A small line model of INI files that keeps what configparser loses: comments, order,
continuation lines, repeated keys (oslo.config's multi-valued options) and repeated
sections. :func:`render_merged` writes a merge: theirs' blocks in order, ours' entries
wherever ours won (see :mod:`stackstep.configs.merge`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from stackstep.errors import InputError

Side = Literal["ours", "theirs"]
Key = tuple[str, str]  # (section, key); Python settings use section ""
Values = tuple[str, ...]  # every value of a key in file order; () = not set

_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*(?:[#;].*)?$")
_ENTRY = re.compile(r"^\s*([^=:\s#;\[][^=:]*?)\s*[=:]\s*(.*)$")
_COMMENTED_KEY = re.compile(r"^\s*[#;]\s*([A-Za-z0-9_.\-]+)\s*[=:]")


@dataclass(frozen=True)
class Block:
    """One line of an INI file, or an entry with its continuation lines."""

    kind: Literal["blank", "comment", "section", "entry"]
    text: str  # the raw line(s), each ending in a newline
    section: str
    key: str = ""
    value: str = ""  # stripped; continuation lines joined with a newline


def parse_ini(text: str, name: str = "file") -> tuple[Block, ...]:
    """The lines of an INI file as blocks; InputError for a line that fits no form."""
    blocks: list[Block] = []
    section = ""
    for number, line in enumerate(text.splitlines(), 1):
        stripped, last = line.strip(), blocks[-1] if blocks else None
        if stripped and line[0] in " \t" and last is not None and last.kind == "entry":
            more = f"{last.value}\n{stripped}"
            blocks[-1] = replace(last, text=last.text + line + "\n", value=more)
        elif not stripped:
            blocks.append(Block("blank", line + "\n", section))
        elif stripped[0] in "#;":
            blocks.append(Block("comment", line + "\n", section))
        elif found := _SECTION.match(line):
            section = found.group(1).strip()
            blocks.append(Block("section", line + "\n", section))
        elif found := _ENTRY.match(line):
            key, value = found.group(1).strip(), found.group(2).strip()
            blocks.append(Block("entry", line + "\n", section, key, value))
        else:
            raise InputError(
                f"{name}:{number}: not a line of an INI file: {stripped[:60]!r}",
                hint="merge works key by key on INI and Python settings files; "
                "use keep or accept for this one, or edit it by hand",
            )
    return tuple(blocks)


def ini_values(blocks: Sequence[Block]) -> dict[Key, Values]:
    """(section, key) -> every value in file order (repeated keys are multi-valued)."""
    out: dict[Key, Values] = {}
    for block in blocks:
        if block.kind == "entry":
            key = (block.section, block.key)
            out[key] = (*out.get(key, ()), block.value)
    return out


def render_merged(
    ours: Sequence[Block], theirs: Sequence[Block], take: set[Key], known_comments: set[str]
) -> str:
    """Theirs' blocks with ours' entries for the keys in ``take``: in place of theirs'
    entries, after a commented-out default, at the end of the section, or in a section
    of their own at the end. Ours' comment lines just above such an entry go with it
    unless a default file has them (``known_comments``)."""
    return _IniWriter(ours, theirs, take, known_comments).render()


class _IniWriter:
    """Theirs' blocks in order, with ours' entries wherever ours won."""

    def __init__(
        self,
        ours: Sequence[Block],
        theirs: Sequence[Block],
        take: set[Key],
        known_comments: set[str],
    ) -> None:
        self.ours, self.theirs, self.known, self.take = ours, theirs, known_comments, take
        in_theirs = ini_values(theirs)
        self.insert = [k for k in ini_values(ours) if k in self.take and k not in in_theirs]
        self.done: set[Key] = set()

    def render(self) -> str:
        ends = self._section_ends()
        out = [] if "" in ends.values() else [self._pending("")]
        for index, block in enumerate(self.theirs):
            out.append(self._block(block))
            if index in ends:
                out.append(self._pending(ends[index]))
        present = {b.section for b in self.theirs} | {""}
        for section in dict.fromkeys(k[0] for k in self.insert if k[0] not in present):
            out.append(self._new_section(section, bool("".join(out).strip())))
        return "".join(out)

    def _block(self, block: Block) -> str:
        if block.kind == "entry":
            key = (block.section, block.key)
            if key not in self.take:
                return block.text
            return "" if key in self.done else self._ours(key)
        found = _COMMENTED_KEY.match(block.text) if block.kind == "comment" else None
        key = (block.section, found.group(1)) if found else ("", "")
        if key in self.insert and key not in self.done:
            return block.text + self._ours(key)  # right after its commented-out default
        return block.text

    def _pending(self, section: str) -> str:
        keys = [k for k in self.insert if k[0] == section and k not in self.done]
        return "".join(self._ours(k) for k in keys)

    def _section_ends(self) -> dict[int, str]:
        """Index of the last non-blank block of each section's first run in theirs."""
        last: dict[str, int] = {}
        closed: set[str] = set()
        current = ""
        for index, block in enumerate(self.theirs):
            if block.kind == "section" and block.section != current:
                closed.add(current)
                current = block.section
            if block.kind != "blank" and current not in closed:
                last[current] = index
        return {index: section for section, index in last.items()}

    def _new_section(self, section: str, after_text: bool) -> str:
        header = next(
            i for i, b in enumerate(self.ours) if b.kind == "section" and b.section == section
        )
        body = self._pending(section)
        return (
            ("\n" if after_text else "")
            + self._comments_above(header)
            + self.ours[header].text
            + body
        )

    def _ours(self, key: Key) -> str:
        """Ours' lines for ``key``: the site's comments above its first entry, then every
        entry of it (a multi-valued key keeps all its lines, in order)."""
        self.done.add(key)
        entries = [
            i for i, b in enumerate(self.ours) if b.kind == "entry" and (b.section, b.key) == key
        ]
        if not entries:
            return ""
        start = self._comment_start(entries[0])
        above = self._comments_above(entries[0])
        if start > 0 and self.ours[start - 1].kind == "section" and self._repeated(start - 1):
            above = self._comments_above(start - 1) + above  # a section the site appended
        return above + "".join(self.ours[i].text for i in entries)

    def _comment_start(self, index: int) -> int:
        while index > 0 and self.ours[index - 1].kind == "comment":
            index -= 1
        return index

    def _comments_above(self, index: int) -> str:
        """The comment lines right above block ``index`` that no default file has."""
        lines = [b.text for b in self.ours[self._comment_start(index) : index]]
        return "".join(line for line in lines if line.strip() not in self.known)

    def _repeated(self, header: int) -> bool:
        section = self.ours[header].section
        return any(b.kind == "section" and b.section == section for b in self.ours[:header])
