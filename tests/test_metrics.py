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


def _kpis_one_by_one(series: pd.DataFrame, indicators: pd.DataFrame, year: int) -> pd.DataFrame:
    """The KPI cards the plain way: filter each indicator, take its latest row in the year (else
    the year before, stale), look up the same period a year earlier."""
    rows = []
    for ind_id, kind in zip(indicators["id"], indicators["kind"]):
        s = series[series["indicator_id"] == ind_id]
        cur, stale = metrics.latest_in_year(s, year), False
        if cur.empty:
            cur = metrics.latest_in_year(s, year - 1)
            stale = not cur.empty
        if cur.empty:
            rows.append(dict(indicator_id=ind_id, stale=False, yoy=None))
            continue
        r = cur.iloc[0]
        prev = metrics.year_ago(s, cur).iloc[0]
        rows.append(dict(indicator_id=ind_id, value=r["value"], min_value=r["min_value"], max_value=r["max_value"],
                         period=r["period"], stale=stale,
                         yoy=None if stale else metrics.change(kind, r["value"], prev), obs_source=r["source"],
                         derived=bool(r["derived"]), n_reported=r["n_reported"], n_expected=r["n_expected"]))
    out = pd.DataFrame(rows, columns=metrics.KPI_COLUMNS)
    out["stale"] = out["stale"].fillna(False).astype(bool)
    return out.merge(indicators, left_on="indicator_id", right_on="id", how="left")


def _kpi_frame() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every kind and frequency; indicators complete, a year behind, two years behind, never
    reported, with a gap a year ago, a zero a year ago; a standard reported as min–max only."""
    spec = [  # id, kind, frequency, years with data, months left out
        ("c_full", "count", "month", (2021, 2022, 2023), ()),
        ("c_ytd_gap", "count", "month", (2022, 2023), (9, 10, 11, 12)),   # 2023 stops in August
        ("c_stale", "count", "month", (2021, 2022), ()),
        ("c_old", "count", "month", (2020, 2021), ()),                  # nothing in 2022 or 2023
        ("c_none", "count", "month", (), ()),
        ("a_quarter", "amount", "quarter", (2022, 2023), ()),
        ("a_zero", "amount", "year", (2022, 2023), ()),                  # a year ago is 0: no 同比
        ("r_year", "rate", "year", (2021, 2022, 2023), ()),
        ("r_stale", "rate", "year", (2021, 2022), ()),
        ("r_no_base", "rate", "year", (2023,), ()),                       # no 2022 to compare with
        ("s_std", "standard", "year", (2022, 2023), ()),
    ]
    indicators = pd.DataFrame([dict(id=i, kind=k, frequency=f, name_zh=i, unit="个", domain="民政",
                                    higher_is_better=True, source="目录") for i, k, f, _, _ in spec])
    months = {"month": range(1, 13), "quarter": (1, 4, 7, 10), "year": (1,)}
    rows, n = [], 0
    for i, kind, freq, years, skip in spec:
        for y in years:
            for m in months[freq]:
                if y == 2023 and m in skip:
                    continue
                n += 1
                v = 0.0 if i == "a_zero" and y == 2022 else float(10 + 7 * n % 23 + y - 2020)
                std = kind == "standard"
                rows.append(dict(indicator_id=i, region_code="r1", period=pd.Timestamp(y, m, 1),
                                 value=float("nan") if std else v, min_value=v if std else float("nan"),
                                 max_value=v + 5 if std else float("nan"), source=f"来源{i}", derived=n % 2 == 0,
                                 n_reported=n % 5, n_expected=5))
    rows.append(dict(indicator_id="not_listed", region_code="r1", period=pd.Timestamp(2023, 1, 1), value=1.0,
                     source="x", derived=False, n_reported=0, n_expected=0))
    series = pd.DataFrame(rows).sample(frac=1, random_state=1).reset_index(drop=True)  # order must not matter
    return series, indicators


def _yoy(df):
    return [None if c is None else (c.unit, round(c.value, 9)) for c in df["yoy"]]


def test_kpis_match_a_per_indicator_computation():
    series, indicators = _kpi_frame()
    for year in (2022, 2023, 2024):
        got, want = metrics.kpis(series, indicators, year), _kpis_one_by_one(series, indicators, year)
        assert _yoy(got) == _yoy(want), year
        pd.testing.assert_frame_equal(got.drop(columns="yoy"), want.drop(columns="yoy"))
    k = metrics.kpis(series, indicators, 2023).set_index("indicator_id")
    assert k.loc["c_ytd_gap", "period"] == pd.Timestamp(2023, 8, 1) and not k.loc["c_ytd_gap", "stale"]
    assert k.loc["c_stale", "stale"] and k.loc["c_stale", "period"] == pd.Timestamp(2022, 12, 1)
    assert k.loc["c_stale", "yoy"] is None and k.loc["r_stale", "stale"]
    assert pd.isna(k.loc["c_old", "period"]) and not k.loc["c_old", "stale"] and pd.isna(k.loc["c_none", "value"])
    assert k.loc["a_zero", "yoy"] is None and k.loc["r_no_base", "yoy"] is None
    assert k.loc["r_year", "yoy"].unit == "个百分点" and k.loc["c_full", "yoy"].unit == "%"
    assert pd.isna(k.loc["s_std", "value"]) and k.loc["s_std", "max_value"] == k.loc["s_std", "min_value"] + 5
    assert list(k.index) == indicators["id"].tolist()


def test_kpis_of_an_empty_series():
    series, indicators = _kpi_frame()
    k = metrics.kpis(series.iloc[:0], indicators, 2023)
    assert len(k) == len(indicators) and k["value"].isna().all() and not k["stale"].any()
    assert k["yoy"].map(lambda c: c is None).all()


def test_direction_reads_numpy_and_nullable_booleans():
    import numpy as np

    flags = pd.array([True, False, None], dtype="boolean")
    assert [metrics.direction(x) for x in flags] == [1, -1, None]
    assert metrics.direction(np.False_) == -1 and metrics.direction(np.True_) == 1
    assert metrics.direction(False) == -1 and metrics.direction(None) is None and metrics.direction(float("nan")) is None


def test_ranked_puts_the_best_first_and_gaps_last():
    t = pd.DataFrame({"name": ["a", "b", "c", "d"], "value": [3.0, None, 1.0, 2.0]})
    assert metrics.ranked(t, True)["name"].tolist() == ["a", "d", "c", "b"]
    assert metrics.ranked(t, pd.array([False], dtype="boolean")[0])["name"].tolist() == ["c", "d", "a", "b"]
    assert metrics.ranked(t, False)["rank"].tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize("latest,year,month", [("2026-10-31", 2026, 10), ("2026-10-31", 2025, 12),
                                               ("2026-10-31", 2027, 12), (None, 2026, 12)])
def test_last_month_with_data_in_a_year(latest, year, month):
    assert metrics.last_month(latest, year) == month
