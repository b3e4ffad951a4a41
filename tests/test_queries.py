"""queries/*.sql on the tiny fixture dataset: roll-ups by kind, gaps, bound parameters."""

import datetime as dt

import pandas as pd
import pytest

from conftest import CITY, JIA, JIA1, JIA2, YI, YI1
from minsheng import repo

D0, D1 = dt.date(2022, 1, 1), dt.date(2023, 12, 1)


def one(df, region, period):
    r = df[(df["region_code"] == region) & (df["period"] == pd.Timestamp(period))]
    assert len(r) == 1, f"expected one row for {region} {period}, got {len(r)}"
    return r.iloc[0]


def test_counts_sum_over_the_reporting_level(fixture_dir):
    s = repo.series(["cnt"], [CITY, JIA, YI], D0, D1, fixture_dir)
    assert one(s, CITY, "2023-03-01")["value"] == 6 + 5 + 30
    assert one(s, JIA, "2023-03-01")["value"] == 11
    assert one(s, CITY, "2022-03-01")["value"] == 27
    assert bool(one(s, CITY, "2023-03-01")["derived"])
    # one provisional child makes the roll-up provisional
    assert one(s, CITY, "2023-03-01")["status"] == "provisional"
    assert one(s, CITY, "2023-02-01")["status"] == "final"


def test_rates_roll_up_as_sum_of_numerators_over_sum_of_denominators(fixture_dir):
    s = repo.series(["rate"], [CITY, JIA, YI], D0, D1, fixture_dir)
    city = one(s, CITY, "2023-01-01")
    assert city["value"] == pytest.approx(74.0)      # 370/500, not the mean of rates (63.3)
    assert (city["numerator"], city["denominator"]) == (370, 500)
    assert one(s, JIA, "2023-01-01")["value"] == pytest.approx(50.0)
    assert one(s, CITY, "2022-01-01")["value"] == pytest.approx(68.0)


def test_standards_show_own_value_or_children_range_never_a_sum(fixture_dir):
    s = repo.series(["std"], [CITY], D0, D1, fixture_dir)
    y23 = one(s, CITY, "2023-01-01")
    assert y23["value"] == 600 and not y23["derived"]
    assert (y23["min_value"], y23["max_value"]) == (580, 620)
    y22 = one(s, CITY, "2022-01-01")
    assert pd.isna(y22["value"])                      # 550 + 560 would be nonsense
    assert (y22["min_value"], y22["max_value"]) == (550, 560)


def test_amounts_and_reporting_completeness(fixture_dir):
    s = repo.series(["amt"], [CITY], D0, D1, fixture_dir)
    r = one(s, CITY, "2023-01-01")
    assert r["value"] == pytest.approx(20.0)
    assert (r["n_reported"], r["n_expected"]) == (2, 2)


def test_missing_period_is_a_gap_and_partial_rollup_says_so(fixture_dir):
    s = repo.series(["stock"], [YI1, CITY], D0, D1, fixture_dir)
    assert s[(s["region_code"] == YI1)]["period"].dt.month.tolist() == [1, 3]   # no zero row for February
    feb = one(s, CITY, "2023-02-01")
    assert feb["value"] == 110 + 50
    assert (feb["n_reported"], feb["n_expected"]) == (2, 3)


def test_period_bounds_are_inclusive(fixture_dir):
    s = repo.series(["cnt"], [JIA1], dt.date(2023, 2, 1), dt.date(2023, 3, 1), fixture_dir)
    assert s["period"].dt.month.tolist() == [2, 3]


def test_injection_strings_are_just_values(fixture_dir):
    evil = "990100000000' or '1'='1"
    assert repo.series(["cnt"], [evil], D0, D1, fixture_dir).empty
    assert repo.series(["cnt'); drop table regions; --"], [CITY], D0, D1, fixture_dir).empty
    assert repo.targets("x' or 1=1 --", 2023, fixture_dir).empty
    assert len(repo.regions(fixture_dir)) == 6


def test_targets_and_catalogue(fixture_dir):
    t = repo.targets(CITY, 2023, fixture_dir)
    assert sorted(t["task"]) == ["参保率任务", "累计任务"]
    assert repo.targets(CITY, 2022, fixture_dir).empty
    assert repo.indicators(fixture_dir)["id"].tolist() == ["cnt", "stock", "rate", "std", "amt"]
    p = repo.periods(fixture_dir).set_index("indicator_id")
    assert pd.Timestamp(p.loc["cnt", "last_period"]) == pd.Timestamp("2023-03-01")


def test_unknown_query_name_is_refused():
    with pytest.raises(ValueError):
        repo.load_sql("../secrets")


def test_regions_below_a_region_at_a_level_within_the_area(fixture_dir):
    def codes(root, level, area=None):
        return repo.regions_below(root, level, fixture_dir, area=area)["code"].tolist()

    assert codes(CITY, "township") == [JIA1, JIA2, YI1]
    assert codes(CITY, "county") == [JIA, YI] and codes(JIA, "county") == [JIA]   # the region itself counts
    assert codes(JIA, None) == [JIA] and codes(JIA, "city") == []
    assert codes(CITY, "township", area=JIA) == [JIA1, JIA2]                     # only the area's subtree
    assert codes(YI, "township", area=JIA) == [] and codes(JIA, None, area=YI1) == []
    assert codes("990101' or 1=1 --", "township") == []                          # a value, never SQL
