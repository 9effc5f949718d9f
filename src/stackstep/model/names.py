"""What a name from an inventory or a catalog may look like before it reaches a command.

Each check returns None for a good value, else what is wrong (a sentence fragment the
loaders put after the value). Nothing here starts with ``-`` (it would be read as an
option) or holds a control character (it would fake lines on a screen or in a log).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from urllib.parse import urlsplit

Check = Callable[[str], "str | None"]

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HOST_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:+@%-]*")
_DNS_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
_USER = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\$?")
_UNIT = re.compile(r"[A-Za-z0-9_:.@\\-]+")
_PACKAGE = re.compile(r"[A-Za-z0-9_+.*?:~\[\]-]+")
_SIMPLE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_HAPROXY = re.compile(r"[A-Za-z0-9_.:-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def env_name(key: str) -> str | None:
    if ENV_NAME.fullmatch(key):
        return None
    return "is not a valid environment variable name: use [A-Za-z_][A-Za-z0-9_]*"


def _option_or_control(value: str) -> str | None:
    if not value:
        return "is empty"
    if value.startswith("-"):
        return "starts with '-', so a command would read it as an option"
    if _CONTROL.search(value):
        return "holds a control character (a newline, tab, escape, ...)"
    return None


def _matching(pattern: re.Pattern[str], reason: str, longest: int = 4096) -> Check:
    """A check: no option or control character, at most ``longest``, all ``pattern``."""

    def check(value: str) -> str | None:
        bad = _option_or_control(value)
        if bad is None and (len(value) > longest or not pattern.fullmatch(value)):
            bad = reason
        return bad

    return check


host_name = _matching(
    _HOST_NAME, "is not a host name: use letters, digits and . _ - : + @ % only", 253
)
user = _matching(_USER, "is not a user name: use letters, digits and _ . - (at most 32)", 32)
unit = _matching(_UNIT, "is not a unit name: use letters, digits and : _ . @ - \\ only")
package = _matching(
    _PACKAGE, "is not a package name or glob: use letters, digits and + . _ - * ? [ ] : ~"
)
# service, component, alias, network namespace and database names
simple_name = _matching(_SIMPLE, "is not a plain name: use letters, digits and _ . - only")
# HAProxy backend and server names (what its configuration accepts)
haproxy_name = _matching(
    _HAPROXY, "is not an HAProxy backend or server name: use letters, digits and _ . : - only", 255
)


_INI = re.compile(r"[A-Za-z0-9_.:/-]+")
# an INI section, key or value stackstep writes into a config file (one token)
ini_token = _matching(_INI, "is not an INI name or value: use letters, digits and _ . : / -", 255)


def address(value: str) -> str | None:
    """An IP address (v4 or v6) or a DNS name: it goes into ssh and into probe URLs."""
    bad = _option_or_control(value)
    if bad is not None:
        return bad
    try:
        ipaddress.ip_address(value)
    except ValueError:
        labels = value.removesuffix(".").split(".")
        if labels[-1].isdigit():  # no top-level domain is all digits: a mistyped address
            return "is not an IP address (and a DNS name does not end in digits)"
        if len(value) <= 253 and all(_DNS_LABEL.fullmatch(label) for label in labels):
            return None
        return "is neither an IP address nor a DNS name"
    return None


def http_url(value: str) -> str | None:
    """An http:// or https:// URL whose host is an IP address or a DNS name (a probed
    endpoint): no credentials, no spaces or control characters."""
    bad = _option_or_control(value)
    if bad is not None:
        return bad
    if len(value) > 2048 or any(c.isspace() for c in value):
        return "is not a URL (it holds spaces or is too long)"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        return f"is not a URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an http:// or https:// URL with a host"
    if parts.username is not None or parts.password is not None:
        return "holds credentials: probes are unauthenticated"
    del port
    return address(parts.hostname)


def absolute_path(value: str) -> str | None:
    bad = _option_or_control(value)
    if bad is None and not value.startswith("/"):
        bad = "is not an absolute path (it must start with /)"
    elif bad is None and ".." in value.split("/"):
        bad = "holds a '..' component"
    return bad


def plain_text(value: str) -> str | None:
    """Free text that is never a command (no control characters, no leading '-')."""
    return _option_or_control(value)


def printable(value: str) -> str | None:
    """Text shown on screens and in logs: no control character (it could fake lines)."""
    return (
        "holds a control character (a newline, tab, escape, ...)"
        if _CONTROL.search(value)
        else None
    )
