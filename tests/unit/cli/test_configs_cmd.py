"""`stackstep configs`: reading its words, and the horizon hook it merges settings with."""

from __future__ import annotations

import pytest

from stackstep.catalog import load_catalog
from stackstep.cli.configs_cmd import _parse_words
from stackstep.configs.load import _settings_hooks
from stackstep.errors import InputError

LOCAL_SETTINGS = "/etc/openstack-dashboard/local_settings"


def test_run_action_and_path_are_told_apart():
    assert _parse_words(()) == (None, None, None)
    assert _parse_words(("20261126-1305",)) == ("20261126-1305", None, None)
    assert _parse_words(("merge", "/etc/nova/nova.conf")) == (None, "merge", "/etc/nova/nova.conf")
    assert _parse_words(("2026", "keep", "/etc/a.rpmnew")) == ("2026", "keep", "/etc/a.rpmnew")
    with pytest.raises(InputError, match="ACTION PATH"):
        _parse_words(("merge",))
    with pytest.raises(InputError, match="ACTION PATH"):
        _parse_words(("2026", "drop", "/etc/a"))


def test_the_seed_series_carries_horizons_secret_and_host_and_adds_allowed_hosts():
    hooks = _settings_hooks(load_catalog(), {"from": "grizzly", "to": "havana"})
    assert hooks[LOCAL_SETTINGS] == (("SECRET_KEY", "OPENSTACK_HOST"), ("ALLOWED_HOSTS = ['*']",))
    assert _settings_hooks(load_catalog(), {"from": "nope", "to": "havana"}) == {}
