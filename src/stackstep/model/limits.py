"""Bounds on what stackstep reads from inventories and catalogs, and the checked read.

Every input file is a regular file of at most ``MAX_FILE_BYTES``, valid UTF-8; a YAML
document nests at most ``MAX_DEPTH`` levels and, aliases expanded, holds at most
``MAX_NODES`` values, of which aliases add at most ``MAX_ALIASED``; a file names at
most ``MAX_HOSTS`` hosts (ranges expanded). These figures are the ones
docs/inventory.md and docs/catalog.md give.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

MAX_FILE_BYTES = 16 * 1024 * 1024  # 16 MiB
MAX_DEPTH = 64  # nested lists/mappings (YAML and TOML)
MAX_NODES = 1_000_000  # values in one YAML document, aliases expanded
MAX_ALIASED = 100_000  # values YAML aliases may add to a document (their expansion)
MAX_HOSTS = 100_000  # host names one file may give, ranges expanded
MAX_INCLUDES = 8  # `ansible:` imports one inventory may chain


_SPECIAL = re.compile(r"[\[\]{}\"'#\n\\]")


class InputFileError(ValueError):
    """The file cannot be read as input; the message says why (no path in it)."""


def read_input(path: str | Path) -> str:
    """The text of ``path``: a regular file, at most MAX_FILE_BYTES, UTF-8."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise InputFileError(exc.strerror or str(exc)) from None
    try:
        data = _read_regular(fd)
    except OSError as exc:
        raise InputFileError(exc.strerror or str(exc)) from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise InputFileError(_too_big())
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(f"not a UTF-8 text file (byte {exc.start})") from None


def _read_regular(fd: int) -> bytes:
    """At most MAX_FILE_BYTES + 1 bytes of a regular file (a device could be endless)."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise InputFileError("not a regular file (a device, pipe or directory)")
    if info.st_size > MAX_FILE_BYTES:
        raise InputFileError(_too_big())
    chunks: list[bytes] = []
    left = MAX_FILE_BYTES + 1
    while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _too_big() -> str:
    return f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB, the most stackstep reads"


def nesting_too_deep(text: str, *, multiline_quotes: bool) -> int | None:
    """The line where ``[``/``{`` nesting passes MAX_DEPTH outside strings and comments.

    Parsers recurse (tomllib) or look back over every open level (PyYAML's scanner) once
    per level: this linear scan refuses a deep file first. A rough lexer is enough: it
    can only miss depth (the parser's own bound then applies), never invent it outside
    a string. YAML quotes (``multiline_quotes=False``) are taken to end with the line.
    """
    depth, line, quote, i = 0, 1, "", 0
    while (found := _SPECIAL.search(text, i)) is not None:
        i, char = found.start(), found.group()
        if char == "\n":
            line += 1
            quote = quote if multiline_quotes else ""
        elif quote:
            i, quote, escaped_newline = _in_quote(text, i, char, quote)
            line += escaped_newline
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line
        elif char in "]}":
            depth = max(depth - 1, 0)
        else:
            i, quote = _outside_quote(text, i, char, multiline_quotes)
        i += 1
    return None


def _in_quote(text: str, i: int, char: str, quote: str) -> tuple[int, str, int]:
    """Inside ``quote``, at ``text[i] == char``.

    Returns the index of the last character read, the quote still open ("" once it
    closed) and 1 when a backslash escaped the newline of a double-quoted string.
    """
    if char == "\\" and quote[0] == '"':
        return i + 1, quote, int(text.startswith("\n", i + 1))
    if text.startswith(quote, i):
        return i + len(quote) - 1, "", 0
    return i, quote, 0


def _outside_quote(text: str, i: int, char: str, multiline_quotes: bool) -> tuple[int, str]:
    """Outside strings, at ``text[i] == char``: a comment is skipped to its line's end, a
    quote opens (tripled when ``multiline_quotes`` and the text has three).

    Returns the index of the last character read and the quote opened ("" for none).
    """
    if char == "#":
        end = text.find("\n", i)
        return (len(text) if end < 0 else end) - 1, ""
    if char in "\"'":
        long = multiline_quotes and text.startswith(char * 3, i)
        quote = char * 3 if long else char
        return i + len(quote) - 1, quote
    return i, ""
