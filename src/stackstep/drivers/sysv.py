"""SysV init reads (RHEL 6 and other hosts without systemd): status and boot enablement.

``service NAME status`` follows the LSB exit codes: 0 running; 1 dead but a pid file
remains; 2 dead but a lock file remains; 3 not running; 4 (and anything else) unknown.
``chkconfig --list`` prints one line per init script: the name padded to 15 columns,
then ``\\t0:off\\t1:off\\t2:on ...``, and then an ``xinetd based services:`` section.
Run both with ``LC_ALL=C``: chkconfig translates ``on``/``off``.
"""

from __future__ import annotations

import re

from stackstep.model.command import Command, cmd, not_option

_RUNLEVEL = re.compile(r"^([0-6]):(\S+)$")
_UNRECOGNIZED = ("unrecognized service", "not found", "no such file")


def status_command(service: str) -> Command:
    return cmd("service", not_option(service, "unit"), "status")


def chkconfig_list_command() -> Command:
    return Command(("chkconfig", "--list"), (("LC_ALL", "C"),))


def parse_sysv_status(exit_status: int, text: str) -> bool | None:
    """Is the service running? True, False, or None when the script cannot tell.

    0 -> running. 3 -> stopped. 1 and 2 (LSB "dead, but a pid/lock file remains")
    -> stopped, except that the ``service`` wrapper also exits 1 for a script that
    does not exist ("unrecognized service"), which is unknown, not stopped.
    """
    if exit_status == 0:
        return True
    if exit_status == 3:
        return False
    if exit_status in (1, 2) and not any(s in text.lower() for s in _UNRECOGNIZED):
        return False
    return None


def _runlevels(fields: list[str]) -> dict[int, bool]:
    levels: dict[int, bool] = {}
    for field in fields:
        found = _RUNLEVEL.match(field)
        if found:
            levels[int(found.group(1))] = found.group(2) == "on"
    return levels


def parse_chkconfig_list(text: str, runlevel: int = 3) -> dict[str, bool]:
    """``chkconfig --list`` -> ``{service: starts at boot in runlevel 3}``.

    xinetd services (indented ``name: on`` lines after ``xinetd based services:``) and
    RHEL 7's note about systemd are skipped: they are not init scripts.
    """
    services: dict[str, bool] = {}
    for line in text.splitlines():
        if not line or line[0].isspace():
            continue
        fields = line.split()
        levels = _runlevels(fields[1:])
        if runlevel in levels:
            services[fields[0]] = levels[runlevel]
    return services
