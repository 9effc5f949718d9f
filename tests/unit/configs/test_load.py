"""Loading a review: the horizon hook `stackstep configs` merges settings with."""

from __future__ import annotations

from stackstep.catalog import load_catalog
from stackstep.configs.load import _settings_hooks

LOCAL_SETTINGS = "/etc/openstack-dashboard/local_settings"


def test_the_seed_series_carries_horizons_secret_and_host_and_adds_allowed_hosts():
    hooks = _settings_hooks(load_catalog(), {"from": "grizzly", "to": "havana"})
    assert hooks[LOCAL_SETTINGS] == (("SECRET_KEY", "OPENSTACK_HOST"), ("ALLOWED_HOSTS = ['*']",))
    assert _settings_hooks(load_catalog(), {"from": "nope", "to": "havana"}) == {}
