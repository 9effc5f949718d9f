"""The per-run log file: every event with full detail (commands and their output)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TextIO

from stackstep.engine.events import Event


class LogWriter:
    """A listener appending each event to ``path`` (0600), flushed line by line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file: TextIO = os.fdopen(fd, "a", encoding="utf-8", buffering=1)

    def __call__(self, event: Event) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.time))
        where = " ".join(x for x in (event.host and f"[{event.host}]", event.step_id) if x)
        self._file.write(f"{stamp} {event.kind:<14} {where} {event.message}".rstrip() + "\n")
        if event.kind == "command":
            self._file.write(f"    exit {event.exit_status} in {event.seconds} s\n")
            for name, text in (("out", event.output("stdout")), ("err", event.output("stderr"))):
                for line in text.rstrip("\n").splitlines():
                    self._file.write(f"    {name}| {line}\n")
        elif event.kind == "step-failed":
            for line in event.output_tail.splitlines():
                self._file.write(f"    | {line}\n")
            if event.hint:
                self._file.write(f"    fix: {event.hint}\n")

    def close(self) -> None:
        self._file.close()
