"""Which packages a unit's code can come from: its package's dependency closure.

A Python process's imported modules leave no trace outside it, so the after phase counts
a changed module against a running interpreter (drivers/loaded.py). Counting *every*
module of its Python version restarts services that cannot have imported it: keystone
does not import glanceclient, yet a glanceclient upgrade while keystone runs would
restart it. A unit's code, though, can only come from what its package needs: the unit
file's owner (``systemctl show -p FragmentPath`` then ``rpm -qf``) and, recursively,
every package providing something it requires (``REQUIRENAME`` against ``PROVIDENAME``,
the package names included). A module of a package outside that closure does not count
for the unit.

Only rpm hosts are read this way; a unit whose owner cannot be found (no unit file, a
file no package owns) and every unit of a dpkg host have no closure, and every module
of its interpreter's version still counts for it (the safe side). File requires
(``/bin/sh``) and rich dependencies are not followed: they name the system, not
OpenStack's libraries.

The command is data; :func:`parse_closures` reads what it prints
(tests/data/outputs/requires/).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from stackstep.model.command import Command, cmd

# $@: the units. A line per unit with the package owning its unit file, then every
# installed package's requires and provides (one line each).
_SCRIPT = r"""
for unit in "$@"; do
    file=$(systemctl show -p FragmentPath --value -- "$unit" 2>/dev/null)
    [ -n "$file" ] || continue
    owner=$(rpm -qf --qf '%{NAME}\n' -- "$file" 2>/dev/null | head -n 1)
    case "$owner" in ""|*" "*) continue ;; esac
    printf 'unit\t%s\t%s\n' "$unit" "$owner"
done
rpm -qa --qf '[require\t%{=NAME}\t%{REQUIRENAME}\n]' 2>/dev/null
rpm -qa --qf '[provide\t%{=NAME}\t%{PROVIDENAME}\n]' 2>/dev/null
"""


def closure_command(units: Iterable[str]) -> Command:
    """The owners of ``units`` and the rpm database's requires and provides."""
    return cmd("sh", "-c", _SCRIPT, "stackstep-requires", *units)


def parse_closures(text: str) -> dict[str, frozenset[str]]:
    """Each unit whose owner was found -> the names of the packages its code can come
    from (the owner and, recursively, every provider of what it requires)."""
    owners: dict[str, str] = {}
    requires: dict[str, set[str]] = {}
    providers: dict[str, set[str]] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 3 or not parts[1] or not parts[2]:
            continue
        kind, name, value = parts
        if kind == "unit":
            owners[name] = value
        elif kind == "require" and not value.startswith(("/", "(", "rpmlib(")):
            requires.setdefault(name, set()).add(value)
        elif kind == "provide":
            providers.setdefault(value, set()).add(name)
    return {unit: _closure(owner, requires, providers) for unit, owner in owners.items()}


def _closure(
    owner: str, requires: Mapping[str, set[str]], providers: Mapping[str, set[str]]
) -> frozenset[str]:
    found, todo = {owner}, [owner]
    while todo:
        for capability in requires.get(todo.pop(), ()):
            for package in providers.get(capability, {capability}):
                if package not in found:
                    found.add(package)
                    todo.append(package)
    return frozenset(found)
