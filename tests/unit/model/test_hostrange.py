import pytest

from stackstep.model.hostrange import RangeError, compress, expand


def test_expand_keeps_zero_padding():
    assert expand("compute[01:03]") == ["compute01", "compute02", "compute03"]


def test_expand_letters_and_several_ranges():
    assert expand("rack[a:b]-n[1:2]") == ["racka-n1", "racka-n2", "rackb-n1", "rackb-n2"]


def test_expand_addresses():
    assert expand("10.0.0.[9:11]") == ["10.0.0.9", "10.0.0.10", "10.0.0.11"]


def test_plain_name_is_itself():
    assert expand("controller") == ["controller"]


@pytest.mark.parametrize("bad", ["compute[01-20]", "compute[20:01]", "node[", "x[b:a]"])
def test_malformed_ranges_say_how_to_write_one(bad):
    with pytest.raises(RangeError):
        expand(bad)


def test_compress_round_trips_runs():
    names = [*expand("compute[01:20]"), "ctl1", "ctl2", *expand("st[1:3]")]
    assert compress(names) == ["compute[01:20]", "ctl1", "ctl2", "st[1:3]"]


def test_compress_breaks_at_gaps():
    assert compress(["n1", "n2", "n3", "n5", "n7", "n8", "n9"]) == ["n[1:3]", "n5", "n[7:9]"]
