"""Discovery reads side by side on a host's connection: the first failure is what the
user sees, and no read is left running behind it."""

from __future__ import annotations

import asyncio

import pytest

from stackstep.discovery import _together
from stackstep.errors import TransportError


def test_reads_run_side_by_side_and_answer_in_order():
    started: list[str] = []

    async def read(name: str, delay: float) -> str:
        started.append(name)
        await asyncio.sleep(delay)
        return name

    async def main() -> list[str]:
        return await _together(read("slow", 0.05), read("fast", 0))

    assert asyncio.run(main()) == ["slow", "fast"]
    assert started == ["slow", "fast"]  # the second began before the first answered


def test_the_first_failure_is_raised_and_the_other_reads_are_cancelled():
    cancelled: list[str] = []

    async def hangs() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append("hangs")
            raise

    async def fails() -> None:
        raise TransportError("ctl", "connection lost")

    async def main() -> None:
        await _together(hangs(), fails())

    with pytest.raises(TransportError, match="connection lost"):
        asyncio.run(main())
    assert cancelled == ["hangs"]
