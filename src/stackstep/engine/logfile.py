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
            self._file.write(
                f"    exit {event.data.get('exit_status')} in {event.data.get('seconds')} s\n"
            )
            for stream in ("stdout", "stderr"):
                text = str(event.data.get(stream) or "").rstrip("\n")
                for line in text.splitlines():
                    self._file.write(f"    {stream[3:]}| {line}\n")
        elif event.kind == "step-failed":
            for line in str(event.data.get("output_tail") or "").splitlines():
                self._file.write(f"    | {line}\n")
            if event.data.get("hint"):
                self._file.write(f"    fix: {event.data['hint']}\n")

    def close(self) -> None:
        self._file.close()
