"""Database backups and restores: the service's database, read from the URL in its
config file on the host, dumped before its upgrade and put back by a restore (the
commands: stackstep.drivers.database)."""

from __future__ import annotations

import configparser
from urllib.parse import urlsplit

from stackstep.drivers import database
from stackstep.engine.hooks import OnCommand, run_or_fail
from stackstep.errors import StepFailed
from stackstep.model.params import BackupParams
from stackstep.model.plan import Step
from stackstep.transport.base import Transport


def database_url(config_text: str, section: str, key: str) -> str | None:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    parser.read_string(config_text)
    for name in (section, section.lower(), section.upper()):
        if parser.has_option(name, key):
            return parser.get(name, key).strip()
    if section == "DEFAULT" and key in parser.defaults():
        return parser.defaults()[key].strip()
    return None


async def _database(step: Step, transport: Transport) -> database.DbTarget:
    """The service's database, from the URL in its config file on the host."""
    params = step.params if isinstance(step.params, BackupParams) else BackupParams("", "", "", "")
    config, section, key = params.config, params.section, params.key
    url = database_url((await transport.get(config)).decode(errors="replace"), section, key)
    if not url:
        raise StepFailed(
            step.id,
            step.host,
            f"no [{section}] {key} in {config}",
            hint="check the service's config file",
        )
    target = database.parse_url(url)
    if target is None:
        raise StepFailed(
            step.id,
            step.host,
            f"cannot back up or restore a {urlsplit(url).scheme!r} database",
            hint="stackstep knows MySQL/MariaDB and SQLite only: take a backup by hand, "
            "then resume with --no-backup",
        )
    return target


async def backup_database(
    step: Step, transport: Transport, run_id: str, on_command: OnCommand
) -> tuple[str, str]:
    """Back the service's database up on its host; returns (path on host, message)."""
    target = await _database(step, transport)
    stem = step.params.database if isinstance(step.params, BackupParams) else "db"
    command, stdin = database.backup_command(target, run_id, stem)
    result = await run_or_fail(step, transport, on_command, command, stdin=stdin)
    dest = database.written_path(result.stdout, run_id, target.backup_file(stem))
    if target.kind == "sqlite":
        return dest, f"copied {target.name} to {dest} (SQLite online backup)"
    return dest, f"dumped database {target.name} to {dest}"


async def restore_database(
    step: Step, transport: Transport, backup: str, on_command: OnCommand
) -> str:
    """Put ``backup`` back into the service's database (its units stopped)."""
    target = await _database(step, transport)
    if target.kind != database.kind_of_backup(backup) or "`" in target.name:
        raise StepFailed(
            step.id,
            step.host,
            f"{backup} cannot be restored into the {target.kind} database {target.name}",
            hint="the service's database URL changed since the backup; restore it by hand",
        )
    command, stdin = database.restore_command(target, backup)
    await run_or_fail(step, transport, on_command, command, stdin=stdin)
    return f"restored {target.name} from {backup}"
