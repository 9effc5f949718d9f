"""Exit codes, one table (documented in docs/exit-codes.md)."""

OK = 0  # done: the command did all it was asked
FAILED = 1  # a step failed; the run halted and can be resumed
INPUT = 2  # usage or input error: bad option, inventory, catalog, impossible plan
BLOCKED = 3  # preflight found problems (unreachable host, no sudo, low disk, ...)
REFUSED = 4  # refused to act: e.g. resume of a run whose plan changed (use --replan)
INTERNAL = 70  # a bug in stackstep: please report it with the log file
INTERRUPTED = 130  # stopped by Ctrl-C; the journal is ready to resume

TABLE = (
    (OK, "ok", "the command did all it was asked"),
    (FAILED, "failed", "a step failed; the run halted and can be resumed"),
    (INPUT, "input", "usage or input error: option, inventory, catalog, impossible plan"),
    (BLOCKED, "blocked", "preflight found problems; nothing was changed"),
    (REFUSED, "refused", "refused to act (e.g. resume of a changed plan without --replan)"),
    (INTERNAL, "internal", "a bug in stackstep; please report it with the log file"),
    (INTERRUPTED, "interrupted", "stopped by Ctrl-C; the journal is ready to resume"),
)
