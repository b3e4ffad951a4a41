"""The arithmetic by indicator kind, against numbers worked out by hand."""

import datetime as dt

import pandas as pd
import pytest

from minsheng import metrics


def test_count_rollup_is_the_sum():
    assert metrics.rollup("count", [{"value": 3}, {"value": 4}, {"value": None}])["value"] == 7


def test_rate_rollup_recomputes_from_numerator_and_denominator():
    # 90/100, 10/100, 270/300: Σ = 370/500 = 74 %; the mean of the three rates would be 63.3 %
    rows = [{"value": 90, "numerator": 90, "denominator": 100},
            {"value": 10, "numerator": 10, "denominator": 100},
            {"value": 90, "numerator": 270, "denominator": 300}]
    r = metrics.rollup("rate", rows)
    assert r["value"] == pytest.approx(74.0)
    assert (r["numerator"], r["denominator"]) == (370, 500)


def test_standard_is_never_summed():
    r = metrics.rollup("standard", [{"value": 580}, {"value": 620}])
    assert r["value"] is None
    assert (r["min"], r["max"]) == (580, 620)


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        metrics.rollup("average", [])


@pytest.mark.parametrize("kind,cur,prev,expected,unit", [
    ("count", 41, 27, 51.851851, "%"),
    ("amount", 25934, 24841, 4.4000, "%"),        # 福彩销售 2022: 同比 +4.4 %
    ("standard", 625, 601, 3.993344, "%"),
    ("rate", 74.0, 68.0, 6.0, "个百分点"),          # rates change in percentage points, not %
])
def test_change_by_kind(kind, cur, prev, expected, unit):
    c = metrics.change(kind, cur, prev)
    assert c.value == pytest.approx(expected, abs=1e-4)
    assert c.unit == unit


def test_change_of_a_gap_is_empty_not_zero():
    assert metrics.change("count", 10, None) is None
    assert metrics.change("count", None, 10) is None
    assert metrics.change("count", 10, float("nan")) is None
    assert metrics.change("count", 10, 0) is None


def test_change_labels():
    assert metrics.change("rate", 74, 68).label() == "同比 +6.00 个百分点"
    assert metrics.change("count", 90, 100).label("环比") == "环比 -10.0%"


def test_elapsed_share_is_months_passed():
    y = 2023
    assert metrics.elapsed_share(dt.date(y, 7, 31), dt.date(y, 1, 1), dt.date(y, 12, 31)) == pytest.approx(7 / 12)
    assert metrics.elapsed_share(dt.date(y, 12, 31), dt.date(y, 1, 1), dt.date(y, 12, 31)) == 1
    # a task due at the end of June is fully due by July
    assert metrics.elapsed_share(dt.date(y, 7, 31), dt.date(y, 1, 1), dt.date(y, 6, 30)) == 1
    assert metrics.elapsed_share(dt.date(y, 3, 31), dt.date(y, 1, 1), dt.date(y, 6, 30)) == pytest.approx(0.5)


@pytest.mark.parametrize("done,elapsed,expected", [
    (1.0, 7 / 12, "已完成"),
    (1.2, 0.1, "已完成"),
    (0.748, 7 / 12, "超序时"),       # 新增城镇就业 in July: ahead
    (7 / 12, 7 / 12, "超序时"),       # exactly on pace counts as on pace
    (0.53, 7 / 12, "滞后"),          # 就业技能培训 in July: 5.3 points behind
    (0.40, 7 / 12, "严重滞后"),      # 18.3 points behind > 15
    (None, 0.5, None),
])
def test_status_thresholds(done, elapsed, expected):
    assert metrics.status(done, elapsed) == expected


def test_severe_threshold_is_configurable():
    assert metrics.status(0.53, 7 / 12, severe_gap=0.05) == "严重滞后"
    assert metrics.status(0.40, 7 / 12, severe_gap=0.25) == "滞后"


def test_pace_needed():
    # 855 to train, 453 done after July: 402 in 5 months = 80.4 a month
    assert metrics.pace_needed(855, 453, 5) == pytest.approx(80.4)
    assert metrics.pace_needed(100, 120, 5) == 0
    assert metrics.pace_needed(100, 50, 0) is None


def _series(rows):
    return pd.DataFrame(rows, columns=["indicator_id", "region_code", "period", "value"]).assign(
        period=lambda d: pd.to_datetime(d["period"]))


def test_year_on_year_for_cumulative_is_ytd_against_ytd():
    s = _series([("c", "r", "2022-03-01", 27), ("c", "r", "2022-12-01", 100), ("c", "r", "2023-03-01", 41)])
    latest = metrics.latest_in_year(s, 2023)
    assert latest["value"].tolist() == [41]
    # compared with March 2022 (27), not with the full year 2022 (100)
    assert metrics.year_ago(s, latest).tolist() == [27]


def test_with_changes_leaves_gaps_as_gaps():
    s = _series([("k", "r", "2023-01-01", 100), ("k", "r", "2023-03-01", 120), ("k", "r", "2022-03-01", 100)])
    out = metrics.with_changes(s, {"k": "count"}, {"k": "month"}).set_index("period")
    assert out.loc["2023-03-01", "yoy"] == pytest.approx(20.0)
    assert pd.isna(out.loc["2023-03-01", "mom"])  # February missing: no 环比 against January
    assert pd.isna(out.loc["2023-01-01", "yoy"])


def test_goal_table_orders_the_most_lagging_first():
    targets = pd.DataFrame([
        dict(indicator_id="a", target=855.0, department="人社局", task="培训", deadline=dt.date(2023, 12, 31)),
        dict(indicator_id="b", target=1501.0, department="人社局", task="就业", deadline=dt.date(2023, 12, 31)),
        dict(indicator_id="c", target=1000.0, department="妇联", task="两癌", deadline=dt.date(2023, 12, 31)),
        dict(indicator_id="d", target=100.0, department="残联", task="严重", deadline=dt.date(2023, 12, 31)),
    ])
    actual = _series([("a", "x", "2023-07-01", 453), ("b", "x", "2023-07-01", 1123),
                      ("c", "x", "2023-07-01", 1000), ("d", "x", "2023-06-01", 30)])
    g = metrics.goal_table(targets, actual, {k: "count" for k in "abcd"}, 2023, 7)
    assert g["task"].tolist() == ["严重", "培训", "就业", "两癌"]
    assert g["status"].tolist() == ["严重滞后", "滞后", "超序时", "已完成"]
    row = g.set_index("task").loc["培训"]
    assert row["completion"] == pytest.approx(453 / 855)
    assert row["elapsed"] == pytest.approx(7 / 12)
    assert row["pace"] == pytest.approx((855 - 453) / 5)
