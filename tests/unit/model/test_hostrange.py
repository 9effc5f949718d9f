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


def test_a_huge_range_is_refused_from_its_bounds_alone():
    import time

    started = time.process_time()  # CPU: no flake on a busy machine
    with pytest.raises(RangeError, match="expands to 100000000 names, more than the 100000"):
        expand("c[1:100000000]")
    with pytest.raises(RangeError, match="more than the 100000"):
        expand("n[1:1000][1:1000]")
    with pytest.raises(RangeError, match="more than the 100000"):
        expand("n[1:99999999999999999999999999]")
    assert time.process_time() - started < 0.1


def test_many_ranges_in_one_pattern_need_no_recursion():
    assert expand("n" + "[1:1]" * 5000) == ["n" + "1" * 5000]


def test_range_of_exactly_the_cap_is_accepted():
    assert len(expand("c[1:100000]")) == 100_000
