"""`stackstep configs`: reading its words (loading a review: tests/unit/configs/test_load.py)."""

from __future__ import annotations

import pytest

from stackstep.cli.configs_cmd import _parse_words
from stackstep.errors import InputError


def test_run_action_and_path_are_told_apart():
    assert _parse_words(()) == (None, None, None)
    assert _parse_words(("20261126-1305",)) == ("20261126-1305", None, None)
    assert _parse_words(("merge", "/etc/nova/nova.conf")) == (None, "merge", "/etc/nova/nova.conf")
    assert _parse_words(("2026", "keep", "/etc/a.rpmnew")) == ("2026", "keep", "/etc/a.rpmnew")
    with pytest.raises(InputError, match="ACTION PATH"):
        _parse_words(("merge",))
    with pytest.raises(InputError, match="ACTION PATH"):
        _parse_words(("2026", "drop", "/etc/a"))
