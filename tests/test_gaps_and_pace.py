"""Gaps stay gaps, 环比 of year-to-date figures, thresholds in the precision shown, 每月还需 never nothing.

Each test builds its own tiny data (a city, two counties, three townships, a month nobody reported)
and checks the page's numbers against pandas or hand arithmetic in the test.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT
from minsheng import charts, fmt, metrics, store
from minsheng.ui import pages

CITY, A, B = "980100000000", "980101000000", "980102000000"
A1, A2, B1 = "980101001000", "980101002000", "980102001000"
SILENT = pd.Timestamp("2024-11-01")  # nobody reports November 2024: not the city, no county, no township
PER_MONTH = {A1: 100, A2: 200, B1: 300}  # each township's monthly increment of the year-to-date figure


def ytd(region: str, year: int, month: int) -> float:
    """A township's year-to-date count: its increment grows by 1 % a month (so 环比 is not flat)."""
    return sum(round(PER_MONTH[region] * (1 + 0.01 * m) * (1.2 if year == 2024 else 1.0)) for m in range(1, month + 1))


def tables() -> dict[str, pd.DataFrame]:
    regions = pd.DataFrame([
        dict(code=CITY, name="缺报市", level="city", parent_code=None, lon=113.0, lat=27.0),
        dict(code=A, name="甲区", level="county", parent_code=CITY, lon=113.1, lat=27.1),
        dict(code=B, name="乙区", level="county", parent_code=CITY, lon=113.2, lat=26.9),
        dict(code=A1, name="甲一街道", level="township", parent_code=A, lon=113.11, lat=27.11),
        dict(code=A2, name="甲二镇", level="township", parent_code=A, lon=113.12, lat=27.12),
        dict(code=B1, name="乙一乡", level="township", parent_code=B, lon=113.21, lat=26.91),
    ])
    ind = [("ytd", "累计服务人次", "人次", "count", "township"), ("g5", "新建5G基站", "座", "count", "county"),
           ("app", "新增注册", "万人", "amount", "county"), ("zero", "无障碍改造", "户", "count", "county")]
    indicators = pd.DataFrame([dict(id=i, name_zh=n, name_en=i, unit=u, domain="民政", kind=k, frequency="month",
                                    cumulative=True, report_level=lv, higher_is_better=True, description="",
                                    source="测试", seq=s) for s, (i, n, u, k, lv) in enumerate(ind)])
    obs = []

    def o(ind_id, region, period, value):
        obs.append(dict(indicator_id=ind_id, region_code=region, period=pd.Timestamp(period).date(),
                        value=float(value), numerator=None, denominator=None, status="final", source="测试来源",
                        batch_id="t"))

    for year in (2023, 2024):
        for m in range(1, 13):
            if pd.Timestamp(year, m, 1) == SILENT:
                continue
            for r in PER_MONTH:
                o("ytd", r, f"{year}-{m:02d}-01", ytd(r, year, m))
    for m in range(1, 11):  # the county tasks report up to October 2024
        o("g5", A, f"2024-{m:02d}-01", min(29, 3 * m))       # 29 of 30 stations by October: 1 left
        o("app", A, f"2024-{m:02d}-01", round(0.3 * m, 2))  # 3.00 of 3.005 万人: 50 people left
        o("zero", A, f"2024-{m:02d}-01", 0)                 # nothing done yet
    targets = pd.DataFrame([
        dict(indicator_id="ytd", region_code=CITY, year=2024, target=TARGET, department="民政局", task="服务人次",
             deadline=dt.date(2024, 12, 31)),
        dict(indicator_id="g5", region_code=A, year=2024, target=30.0, department="科工局", task="新建5G基站",
             deadline=dt.date(2024, 12, 31)),
        dict(indicator_id="app", region_code=A, year=2024, target=3.005, department="审批局", task="新增注册",
             deadline=dt.date(2024, 12, 31)),
        dict(indicator_id="zero", region_code=A, year=2024, target=50.0, department="残联", task="无障碍改造",
             deadline=dt.date(2024, 12, 31)),
    ])
    return dict(regions=regions, indicators=indicators, observations=pd.DataFrame(obs), targets=targets)


CITY_OCT = sum(ytd(r, 2024, 10) for r in PER_MONTH)
TARGET = float(round(CITY_OCT / 0.86))  # 86 % done in October: ahead of October's 10/12, behind November's 11/12


@pytest.fixture(scope="module")
def gap_env(tmp_path_factory):
    d = tmp_path_factory.mktemp("gaps")
    store.write_tables(d / "data", tables(), {"title": "缺报测试", "demo": False, "data_date": "2024-12-31"})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MINSHENG_DATA", str(d / "data"))
        mp.setenv("MINSHENG_USERS", str(d / "users.json"))
        mp.setenv("MINSHENG_AUDIT", str(d / "audit.log"))
        yield d / "data"


def app(page: str, **params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    at.switch_page(pages.get(page).script)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def spec(at, i=0) -> dict:
    return json.loads(at.get("plotly_chart")[i].proto.spec)


def ys(trace: dict) -> list:
    """A trace's y values as the browser gets them (Plotly sends numbers as typed arrays), gaps as None."""
    y = trace["y"]
    if isinstance(y, dict):
        y = np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]).tolist()
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in y]


def _frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["indicator_id", "region_code", "period", "value"]).assign(
        period=lambda d: pd.to_datetime(d["period"]))


# --- 5. gaps stay gaps ---------------------------------------------------------------------------

def test_trend_keeps_a_silent_month_on_the_axis_as_a_break(gap_env):
    at = app("trend", region=A, year="2024", inds="ytd", grain="month", span="2024-2024")
    data = spec(at)["data"]
    lines = [t for t in data if t["name"] in ("甲区", "甲一街道", "甲二镇")]
    assert len(lines) == 3
    months = [pd.Timestamp(x) for x in lines[0]["x"]]
    assert months == list(pd.date_range("2024-01-01", "2024-12-01", freq="MS"))  # every month, November too
    for t in lines:
        assert t["connectgaps"] is False
        assert ys(t)[10] is None  # November: a missing point, so the line breaks there
        assert all(v is not None for i, v in enumerate(ys(t)) if i != 10)
    focus = dict(zip(months, ys(lines[0])))
    assert focus[pd.Timestamp("2024-10-01")] == ytd(A1, 2024, 10) + ytd(A2, 2024, 10)
    assert focus[pd.Timestamp("2024-12-01")] == ytd(A1, 2024, 12) + ytd(A2, 2024, 12)
    # the break is named where the pointer goes and in the table
    missing = [t for t in data if t["name"] == "未报"]
    assert len(missing) == 1 and [pd.Timestamp(x) for x in missing[0]["x"]] == [SILENT]
    assert "甲区" in missing[0]["text"][0] and "未报" in missing[0]["hovertemplate"] + missing[0]["text"][0]
    table = at.dataframe[0].value
    nov = table[(table["时期"] == "2024年11月")].set_index("区域")
    assert set(nov.index) == {"甲区", "甲一街道", "甲二镇"}
    assert (nov[[c for c in nov.columns if c.startswith("数值")][0]] == "未报").all()


def test_a_region_with_every_month_reported_has_no_break_marker():
    df = _frame([("k", "r", f"2024-{m:02d}-01", m) for m in range(1, 13)]).assign(source="s")
    full = metrics.complete_periods(df, {"k": "month"}, "month")
    assert len(full) == 12 and full["value"].notna().all() and not full["unreported"].any()
    fig = charts.trend(full, dict(name_zh="k", unit="人", kind="count", frequency="month"), {"r": "某区"}, "r",
                       "value", "", "month")
    assert [t.name for t in fig.data] == ["某区"]


def test_complete_periods_fills_every_period_between_the_first_and_last_report():
    df = _frame([("k", "r", "2023-01-01", 1), ("k", "r", "2023-04-01", 4), ("k", "new", "2023-03-01", 3),
                 ("y", "r", "2021-01-01", 9), ("y", "r", "2023-01-01", 7)])
    full = metrics.complete_periods(df, {"k": "month", "y": "year"}, "month")
    k = full[full["indicator_id"] == "k"].set_index(["region_code", "period"])
    months = list(pd.date_range("2023-01-01", "2023-04-01", freq="MS"))
    assert list(k.loc["r"].index) == months and list(k.loc["new"].index) == months
    assert k.loc["r", "value"].tolist()[::3] == [1, 4] and k.loc["r", "value"][1:3].isna().all()
    # 未报 from a region's own first report on: "new" reported first in March, so not in January
    assert k.loc["r", "unreported"].tolist() == [False, True, True, False]
    assert k.loc["new", "unreported"].tolist() == [False, False, False, True]
    y = full[full["indicator_id"] == "y"].set_index("period")
    assert list(y.index) == [pd.Timestamp("2021-01-01"), pd.Timestamp("2022-01-01"), pd.Timestamp("2023-01-01")]
    assert math.isnan(y.loc["2022-01-01", "value"]) and y["unreported"].tolist() == [False, True, False]


def test_goals_as_of_a_month_nobody_reported_use_the_latest_month_and_say_so(gap_env):
    at = app("goals", region=CITY, year="2024", gmonth="11")
    row = at.dataframe[0].value.set_index("任务").loc["服务人次"]
    assert row["完成"] == f"{CITY_OCT:,.0f} 人次（截至10月，11月未报）"
    # what is shown is October: 序时进度 10/12, status against it, the pace over November and December
    assert round(row["序时进度"], 1) == round(100 * 10 / 12, 1)
    assert round(row["完成率"], 1) == round(100 * CITY_OCT / TARGET, 1)
    assert row["状态"] == "超序时"
    assert row["每月还需"] == f"{math.ceil((TARGET - CITY_OCT) / 2):,} 人次"
    assert any("11月未报" in c.value for c in at.caption)
    at.selectbox(key="_w_gmonth").set_value(12).run()  # December is reported: no note
    dec = at.dataframe[0].value.set_index("任务").loc["服务人次"]
    assert dec["完成"] == f"{sum(ytd(r, 2024, 12) for r in PER_MONTH):,.0f} 人次"


def test_goal_table_as_of_an_unreported_month_by_hand():
    targets = pd.DataFrame([dict(indicator_id="c", target=1200.0, department="d", task="t",
                                 deadline=dt.date(2024, 12, 31))])
    actual = _frame([("c", "x", "2024-09-01", 900), ("c", "x", "2024-10-01", 1000)])
    g = metrics.goal_table(targets, actual, {"c": "count"}, 2024, 11).iloc[0]
    assert g["actual"] == 1000 and g["actual_period"] == pd.Timestamp("2024-10-01")
    assert g["elapsed"] == pytest.approx(10 / 12)
    assert g["status"] == "超序时"            # 83.3 % done at 83.3 % of the year, not 91.7 %
    assert g["months_left"] == 2 and g["pace"] == pytest.approx(100)
    assert g["reported_to"] == 10 and fmt.lag_note(g["reported_to"], 11, "month") == "截至10月，11月未报"
    two = metrics.goal_table(targets, actual.iloc[:1], {"c": "count"}, 2024, 11).iloc[0]
    assert fmt.lag_note(two["reported_to"], 11, "month") == "截至9月，10–11月未报" and two["months_left"] == 3
    assert two["elapsed"] == pytest.approx(9 / 12) and two["pace"] == pytest.approx(300 / 3)
    on_time = metrics.goal_table(targets, actual, {"c": "count"}, 2024, 10).iloc[0]
    assert pd.isna(on_time["reported_to"]) and on_time["months_left"] == 2
    # an annual figure is the year's: no month to be late for
    yearly = metrics.goal_table(targets, _frame([("c", "x", "2024-01-01", 600)]), {"c": "count"}, 2024, 6,
                                frequency={"c": "year"}).iloc[0]
    assert pd.isna(yearly["reported_to"]) and yearly["elapsed"] == pytest.approx(6 / 12)


# --- 6. 环比 of year-to-date indicators compares monthly increments --------------------------------

def test_mom_of_a_cumulative_indicator_compares_monthly_increments():
    rows = [("c", "r", f"{y}-{m:02d}-01", ytd(A1, y, m)) for y in (2023, 2024) for m in range(1, 13)
            if pd.Timestamp(y, m, 1) != SILENT]
    df = _frame(rows)
    out = metrics.with_changes(df, {"c": "count"}, {"c": "month"}, cumulative={"c": True}).set_index("period")
    # by pandas: the increment is YTD minus the month before within a year, January's is its YTD
    s = df.set_index("period")["value"].reindex(pd.date_range("2023-01-01", "2024-12-01", freq="MS"))
    inc = s - s.shift(1)
    inc[inc.index.month == 1] = s[s.index.month == 1]
    expected = 100 * (inc / inc.shift(1) - 1)
    for p in out.index:
        if pd.isna(expected[p]):
            assert pd.isna(out.loc[p, "mom"]), p
        else:
            assert out.loc[p, "mom"] == pytest.approx(expected[p]), p
    # no sawtooth: January is a plain month, not −92 %
    assert out.loc["2024-01-01", "mom"] == pytest.approx(100 * (round(100 * 1.01 * 1.2) / round(100 * 1.12) - 1))
    assert abs(out.loc["2024-02-01", "mom"]) < 2
    assert SILENT not in out.index and pd.isna(out.loc["2024-12-01", "mom"])  # no November: no December increment
    # a stock (not cumulative) still compares the values themselves
    stock = metrics.with_changes(df, {"c": "count"}, {"c": "month"}, cumulative={"c": False}).set_index("period")
    assert stock.loc["2024-02-01", "mom"] == pytest.approx(100 * (ytd(A1, 2024, 2) / ytd(A1, 2024, 1) - 1))


def test_trend_mom_of_cumulative_is_labelled_and_the_yearly_table_has_no_mom(gap_env):
    at = app("trend", region=CITY, year="2024", inds="ytd", grain="month", span="2024-2024", view="mom")
    s = spec(at)
    assert "环比按当月增量" in s["layout"]["title"]["text"]
    city = next(t for t in s["data"] if t["name"] == "缺报市")
    feb = sum(ytd(r, 2024, 2) - ytd(r, 2024, 1) for r in PER_MONTH)
    jan = sum(ytd(r, 2024, 1) for r in PER_MONTH)
    assert ys(city)[1] == pytest.approx(100 * (feb / jan - 1))
    assert any("环比按当月增量" in c for c in at.dataframe[0].value.columns)
    at.segmented_control(key="_w_grain").set_value("year").run()
    assert not any("环比" in c for c in at.dataframe[0].value.columns)


# --- 8. thresholds in the precision shown --------------------------------------------------------

@pytest.mark.parametrize("done,elapsed,expected", [
    (0.35, 0.5, "滞后"),          # 0.5 − 0.35 = 0.15000000000000002: exactly 15.0 points behind
    (0.2, 0.35, "滞后"),          # 0.35 − 0.2 = 0.14999999999999997: also 15.0
    (0.349, 0.5, "严重滞后"),     # 15.1 points
    (0.41664, 5 / 12, "超序时"),  # 41.7 % against 41.7 %: shown as +0.0
    (0.4155, 5 / 12, "滞后"),     # −0.1 shown
])
def test_status_compares_in_tenths_of_a_point(done, elapsed, expected):
    assert metrics.status(done, elapsed) == expected


def test_goal_table_gap_and_status_agree_with_what_is_shown():
    targets = pd.DataFrame([dict(indicator_id=i, target=t, department="d", task=i, deadline=dt.date(2024, 12, 31))
                            for i, t in (("a", 100.0), ("b", 100.0))])
    actual = _frame([("a", "x", "2024-06-01", 35), ("b", "x", "2024-05-01", 41.664)])
    g = metrics.goal_table(targets, actual, {"a": "count", "b": "count"}, 2024, 6).set_index("indicator_id")
    assert g.loc["a", "status"] == "滞后" and f"{100 * g.loc['a', 'gap']:+.1f}" == "-15.0"
    # b: reported to May, so May's 5/12 applies; 41.664 % shows as 41.7 %, as does 5/12: on time
    assert g.loc["b", "status"] == "超序时" and f"{100 * g.loc['b', 'gap']:+.1f}" == "+0.0"


# --- 10. 每月还需 never rounds remaining work to nothing --------------------------------------------

@pytest.mark.parametrize("pace,unit,kind,decimals,expected", [
    (1 / 5, "座", "count", 0, "1"),          # one station over five months: 1 a month, not 0
    (2.2, "座", "count", 0, "3"),            # whole units round up
    (10825.0, "人次", "count", 0, "10,825"),
    (0.02 / 5, "万人", "amount", 2, "0.004"),  # 40 people a month, not "0.00 万人"
    (1.234, "万元", "amount", 1, "1.3"),      # rounded up in the precision shown, never down
    (0.5, "万元", "amount", 1, "0.5"),
])
def test_pace_text_is_never_nothing(pace, unit, kind, decimals, expected):
    assert fmt.pace(pace, kind, decimals) == expected


def test_goals_pace_and_zero_tasks_on_the_page(gap_env):
    at = app("goals", region=A, year="2024", gmonth="10")
    t = at.dataframe[0].value.set_index("任务")
    assert t.loc["新建5G基站", "每月还需"] == "1 座"           # 1 left over November and December
    assert t.loc["新增注册", "每月还需"] == "0.003 万人"       # 25 people a month, not "0.00 万人"
    assert t.loc["无障碍改造", "完成率"] == 0.0
    assert t.loc["无障碍改造", "每月还需"] == "25 户"
    bars = spec(at)["data"][0]
    i = bars["y"].index("无障碍改造（残联）")
    assert bars["text"][i] == "0.0%"
    tp = bars["textposition"]
    assert (tp if isinstance(tp, str) else tp[i]) == "outside"  # a zero bar has no inside to write in
