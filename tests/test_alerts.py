"""预警 rules (minsheng/alerts.py): each rule fires on data made to trigger it and stays silent where it must,
every expected figure worked out here by hand; the area limit; the settings file's refusals; the command.

The fixture (tests/conftest.py's regions: 测试市 → 甲县 (甲一镇, 甲二镇), 乙县 (乙一镇)), data up to July 2024:
  task   year-to-date count, reported by counties: 甲县 exactly 15.0 points behind 序时进度 (滞后, not 严重),
         乙县 15.1 behind (严重滞后); 甲县's second task ahead of 序时进度
  stock  month-end count by townships, July of 2019–2024: 甲一镇 jumps (outlier, told with 甲县's), 甲二镇 the
         same five years running and then +2 (同比 0 four times: within the 5 % floor), 乙一镇 only two earlier
         years (one 同比: too few to judge)
  ytd    year-to-date count: July's figure in line with earlier Julys, far above every other month's
  std    a standard that jumps 70 %: a policy level, never an outlier
  amt    a yearly amount (2023) with own figures at county and city level beside the townships': 甲县 within
         tolerance, 乙县 and the city out of it; amt2: 甲县 own, but 甲二镇 has no figure (no complete set: silent)
  民政月报 (townships, monthly, 次月5日, from June 2024): 甲一镇 June late but in, July awaiting review;
         甲二镇 nothing (June 36 days late: 严重; July 5 days: 关注); 乙一镇 June sent back, July on time
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pandas as pd
import pytest

from conftest import CITY, JIA, JIA1, JIA2, YI, YI1, fixture_tables
from minsheng import alerts, cli, cycle, fields, forms, notes, store

TODAY = dt.date(2024, 8, 10)
QUYUAN = "430671000000"
STOCK = {JIA1: ([100, 102, 98, 101, 99], 150), JIA2: ([50] * 5, 52), YI1: ([None, None, None, 900, 905], 1100)}
TASK = {JIA: 520.0, YI: 519.0}  # of 1200 by July: 43.33 % (15.0 behind 58.33 %) and 43.25 % (15.08 → 15.1)
AMT = {JIA: 100.4, JIA1: 60.0, JIA2: 40.0, YI: 50.0, YI1: 45.0, CITY: 200.0}


def _obs(ind, region, period, value, num=None, den=None):
    return dict(indicator_id=ind, region_code=region, period=period, value=float(value), numerator=num,
                denominator=den, status="final", source="测试来源", batch_id="t")


def _indicators() -> pd.DataFrame:
    ind = [("task", "技能培训", "人", "count", "month", True, "county"),
           ("task2", "新增就业", "人", "count", "month", True, "county"),
           ("stock", "月末人数", "人", "count", "month", False, "township"),
           ("ytd", "累计人次", "人次", "count", "month", True, "township"),
           ("std", "低保标准", "元/月", "standard", "month", False, "county"),
           ("amt", "资金", "万元", "amount", "year", False, "township"),
           ("amt2", "补助资金", "万元", "amount", "year", False, "township")]
    return pd.DataFrame([dict(id=i, name_zh=n, name_en=i, unit=u, domain="民政", kind=k, frequency=f, cumulative=c,
                              report_level=lv, higher_is_better=True, description="", source="测试", seq=s)
                         for s, (i, n, u, k, f, c, lv) in enumerate(ind)])


def _observations() -> pd.DataFrame:
    o = []
    for region, total in TASK.items():  # evenly through the year to July
        o += [_obs("task", region, dt.date(2024, m, 1), round(total * m / 7)) for m in range(1, 8)]
    o += [_obs("task2", JIA, dt.date(2024, m, 1), 100 * m) for m in range(1, 8)]  # 700 of 1000: 70 % > 58.3 %
    for region, (history, now) in STOCK.items():
        o += [_obs("stock", region, dt.date(2019 + i, 7, 1), v) for i, v in enumerate(history) if v is not None]
        o.append(_obs("stock", region, dt.date(2024, 7, 1), now))
    for year in range(2020, 2025):  # July's year-to-date 700 + (year − 2020)·5, every month m·100 + …
        o += [_obs("ytd", JIA1, dt.date(year, m, 1), 100 * m + (year - 2020) * 5) for m in range(1, 8)]
    o += [_obs("std", JIA, dt.date(y, 7, 1), v) for y, v in zip(range(2020, 2025), [500, 510, 520, 530, 900])]
    # yearly: 2023's figures are the latest whose year is over by July 2024
    o += [_obs("amt", region, dt.date(2023, 1, 1), v) for region, v in AMT.items()]
    o += [_obs("amt2", JIA, dt.date(2023, 1, 1), 100.0), _obs("amt2", JIA1, dt.date(2023, 1, 1), 30.0)]
    return pd.DataFrame(o)


def _targets() -> pd.DataFrame:
    rows = [dict(indicator_id="task", region_code=r, year=2024, target=1200.0, department="人社局", task="开展技能培训",
                 deadline=dt.date(2024, 12, 31)) for r in TASK]
    rows.append(dict(indicator_id="task2", region_code=JIA, year=2024, target=1000.0, department="人社局",
                     task="新增城镇就业", deadline=dt.date(2024, 12, 31)))
    return pd.DataFrame(rows)


def _cycle() -> dict[str, pd.DataFrame]:
    form = forms._typed(pd.DataFrame([dict(form_id="mz_month", form_name="民政月报", report_level="township",
                                           frequency="month", deadline_day=5, valid_from=dt.date(2024, 6, 1),
                                           valid_to=None, department="民政", indicator_id="stock", position=0)]))
    june, july = dt.date(2024, 6, 1), dt.date(2024, 7, 1)

    def ev(region, period, seq, event, state, at):
        return dict(form_id="mz_month", region_code=region, period=period, seq=seq, event=event, state=state,
                    actor="测试", at=at, reason="请核实" if event == "return" else None, batch_id=None, changed=1)

    events = [ev(JIA1, june, 1, "submit", "submitted", "2024-07-08T09:00:00+08:00"),  # 3 days late
              ev(JIA1, june, 2, "approve", "approved", "2024-07-09T09:00:00+08:00"),
              ev(JIA1, july, 1, "submit", "submitted", "2024-08-04T09:00:00+08:00"),  # awaiting review
              ev(YI1, june, 1, "submit", "submitted", "2024-07-03T09:00:00+08:00"),
              ev(YI1, june, 2, "return", "returned", "2024-07-04T09:00:00+08:00"),  # sent back, not sent again
              ev(YI1, july, 1, "submit", "submitted", "2024-08-02T09:00:00+08:00"),
              ev(YI1, july, 2, "approve", "approved", "2024-08-03T09:00:00+08:00")]
    def note(month, owner, seq):
        return dict(indicator_id="task", region_code=JIA, year=2024, period=dt.date(2024, month, 1),
                    department="人社局", task="开展技能培训", progress="推进中", owner=owner, seq=seq, actor="测试",
                    at="2024-08-01T09:00:00+08:00")

    # 甲县's task: June's note names 张三, July's 李四 (in force at July), August's 王五 is after the month judged
    task_notes = [note(6, "张三", 1), note(7, "李四", 2), note(8, "王五", 3)]
    return dict(forms=form, submissions=fields.typed(pd.DataFrame(events), cycle.EVENTS),
                returns=fields.typed(pd.DataFrame(columns=list(cycle.RETURNS)), cycle.RETURNS),
                task_notes=fields.typed(pd.DataFrame(task_notes), notes.SCHEMA))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("alerts") / "data"
    t = fixture_tables()
    tables = dict(regions=t["regions"], indicators=_indicators(), observations=_observations(), targets=_targets())
    store.write_tables(d, tables | _cycle(), {"title": "预警测试", "demo": False, "data_date": "2024-07-31"})
    return d


@pytest.fixture(scope="module")
def found(data):
    return alerts.evaluate(data, TODAY)


def by_rule(found, rule):
    return {a.key: a for a in found if a.rule == rule}


# --- task_lag -----------------------------------------------------------------------------------------

def test_task_exactly_at_the_severe_gap_is_lagging_and_beyond_it_severe(found):
    lag = by_rule(found, "task_lag")
    elapsed = 7 / 12
    jia, yi = 520 / 1200, 519 / 1200
    assert round(100 * (elapsed - jia), 1) == 15.0 and round(100 * (elapsed - yi), 1) == 15.1  # the fixture's premise
    assert set(lag) == {f"task_lag:{JIA}:task:2024:滞后", f"task_lag:{YI}:task:2024:严重滞后"}  # task2 is ahead
    a = lag[f"task_lag:{JIA}:task:2024:滞后"]
    assert a.level == "关注" and a.title == "开展技能培训 滞后" and a.department == "人社局"
    assert a.period == dt.date(2024, 7, 1) and a.indicator_id == "task"
    assert a.text.startswith(f"甲县 开展技能培训：完成520人，完成率{100 * jia:.1f}%，落后序时进度15.0个百分点（滞后）")
    assert f"每月还需完成{-(-(1200 - 520) // 5)}人" in a.text  # 680 over August–December: 136 a month
    assert a.owner == "李四"  # the 责任人 of July's note, the latest up to the month judged
    b = lag[f"task_lag:{YI}:task:2024:严重滞后"]
    assert b.owner is None and b.level == "严重" and "完成519人" in b.text and f"完成率{100 * yi:.2f}"[:-1] in b.text


def test_a_lower_severe_gap_escalates_with_a_new_key(data):
    rules = alerts.Rules(task_lag=alerts.TaskLag(severe_gap=10))
    keys = {a.key for a in alerts.evaluate(data, TODAY, rules=rules) if a.rule == "task_lag"}
    assert keys == {f"task_lag:{JIA}:task:2024:严重滞后", f"task_lag:{YI}:task:2024:严重滞后"}


def test_the_data_date_at_today_never_runs_past_the_last_month_ended(data):
    # on 2024-07-20 July is not over: tasks are judged at June (6/12 elapsed). 甲县's June: round(520·6/7)=446
    # of 1200 = 37.2 %, 12.8 behind 50 % (滞后); 乙县's round(519·6/7)=445, 37.1 %, 12.9 behind (滞后)
    assert alerts.data_date(data, dt.date(2024, 7, 20)) == dt.date(2024, 6, 30)
    lag = by_rule(alerts.evaluate(data, dt.date(2024, 7, 20)), "task_lag")
    assert set(lag) == {f"task_lag:{JIA}:task:2024:滞后", f"task_lag:{YI}:task:2024:滞后"}
    assert lag[f"task_lag:{JIA}:task:2024:滞后"].owner == "张三"  # judged at June: June's note
    assert f"完成{round(520 * 6 / 7)}人，完成率{100 * round(520 * 6 / 7) / 1200:.1f}%" in lag[f"task_lag:{JIA}:task:2024:滞后"].text


# --- return_missing ---------------------------------------------------------------------------------

def test_returns_missing_past_their_deadline(found):
    miss = by_rule(found, "return_missing")
    june_days = (TODAY - dt.date(2024, 7, 5)).days    # 36: past the 10 days, 严重
    july_days = (TODAY - dt.date(2024, 8, 5)).days    # 5
    assert set(miss) == {f"return_missing:mz_month:{JIA2}:2024-06:严重", f"return_missing:mz_month:{JIA2}:2024-07",
                         f"return_missing:mz_month:{YI1}:2024-06:严重"}
    a = miss[f"return_missing:mz_month:{JIA2}:2024-06:严重"]
    assert a.level == "严重" and a.department == "民政" and a.period == dt.date(2024, 6, 1)
    assert a.text == f"甲二镇 2024年6月“民政月报”未报：截止日期2024年7月5日，已逾期{june_days}天"
    assert miss[f"return_missing:mz_month:{JIA2}:2024-07"].level == "关注"
    assert f"已逾期{july_days}天" in miss[f"return_missing:mz_month:{JIA2}:2024-07"].text
    assert "已退回，尚未重新上报" in miss[f"return_missing:mz_month:{YI1}:2024-06:严重"].text
    # 甲一镇: June came in late but came in; July awaits review — neither is missing
    assert not any(a.region_code == JIA1 for a in miss.values())


def test_no_return_is_missing_on_its_deadline_day(data):
    miss = by_rule(alerts.evaluate(data, dt.date(2024, 8, 5)), "return_missing")
    assert not any(k.endswith("2024-07") for k in miss) and f"return_missing:mz_month:{JIA2}:2024-06:严重" in miss


# --- outlier ---------------------------------------------------------------------------------------

def yoy(values: list[float]) -> pd.Series:
    """同比 in % of a run of one figure a year, worked out here: 100 · (this − last) / last."""
    v = pd.Series(values, dtype=float)
    return (100 * (v - v.shift()) / v.shift()).dropna().reset_index(drop=True)


def robust_range(changes: pd.Series, base: float) -> tuple[float, float]:
    """The figures a 同比 within median ± 3.5 · max(1.4826 · MAD, 5 %, one unit) gives from last year's."""
    med = changes.median()
    spread = max(1.4826 * (changes - med).abs().median(), 5.0, 100 / base)
    return base * (1 + (med - 3.5 * spread) / 100), base * (1 + (med + 3.5 * spread) / 100)


def test_a_jump_in_the_yoy_change_fires_once_at_the_top_and_a_flat_history_does_not(data, found):
    out = by_rule(found, "outlier")
    # 甲县 (a complete roll-up of its towns: 150,152,148,151,149 → 202)
    county = yoy([150, 152, 148, 151, 149, 202])
    low, high = robust_range(county[:-1], 149)
    assert (round(low, 2), round(high, 2)) == (122.93, 175.08)
    a = out[f"outlier:{JIA}:stock:2024-07:high"]
    assert a.level == "关注" and a.period == dt.date(2024, 7, 1) and 202 > high
    assert a.text == ("甲县 月末人数2024年7月为202人，同比+35.6%（上年同期149人），高于按往年同比推算的正常范围"
                      "（2020—2023年4个同比的中位数+0.0%，正常范围123人至175人），请核实")  # the bounds rounded inwards
    a = dataclasses.replace(a, text=a.text.removesuffix("，请核实") + "；其下1个区划同样偏高，不再逐一提示，请核实")
    # 甲一镇 jumps the same way: in the list as delivery reads it, told with 甲县 for one reader of the whole
    # area (fold), and on its own where 甲县 is not in the area evaluated
    folded = by_rule(alerts.evaluate(data, TODAY, fold=True), "outlier")
    assert f"outlier:{JIA1}:stock:2024-07:high" in out and f"outlier:{JIA1}:stock:2024-07:high" not in folded
    assert folded[f"outlier:{JIA}:stock:2024-07:high"] == a
    own = by_rule(alerts.evaluate(data, TODAY, area=JIA1, fold=True), "outlier")
    town = yoy([100, 102, 98, 101, 99, 150])
    low, high = robust_range(town[:-1], 99)
    assert (round(low, 2), round(high, 2)) == (81.68, 116.33) and 150 > high
    assert own[f"outlier:{JIA1}:stock:2024-07:high"].text == (
        "甲一镇 月末人数2024年7月为150人，同比+51.5%（上年同期99人），高于按往年同比推算的正常范围"
        "（2020—2023年4个同比的中位数+0.0%，正常范围82人至116人），请核实")
    regions = {a.region_code for a in out.values() if a.indicator_id == "stock"}
    assert regions == {JIA, JIA1}  # 甲二镇: 同比 0 four years, then +4 % within ±17.5 %; 乙一镇, 乙县, the city: < 3 同比


def test_a_steady_growth_is_not_an_outlier_but_a_break_in_it_is(tmp_path):
    """A figure growing 20 % a year is above every earlier year and is not flagged; a year of −10 % in the same
    run is, though as a level it lies well inside the earlier years' range (what a rule on levels would miss)."""
    from conftest import fixture_tables

    grow = [1000 * 1.2 ** i for i in range(6)]                        # 2019–2024: 1000 … 2488
    levels = pd.Series(grow[:-1])
    med, mad = levels.median(), (levels - levels.median()).abs().median()
    assert abs(grow[-2] * 0.9 - med) < 3.5 * 1.4826 * mad              # 1866 against 1440 ± 1494: in line as a level
    t = fixture_tables()
    for name, run in (("steady", grow), ("broken", grow[:-1] + [grow[-2] * 0.9])):
        d = tmp_path / name
        obs = pd.DataFrame([_obs("stock", JIA1, dt.date(2019 + i, 7, 1), round(v)) for i, v in enumerate(run)])
        store.write_tables(d, dict(regions=t["regions"], indicators=_indicators(), observations=obs, targets=_targets()),
                           {"title": "预警测试", "demo": False, "data_date": "2024-07-31"})
        out = by_rule(alerts.evaluate(d, TODAY, area=JIA1), "outlier")
        assert bool(out) == (name == "broken"), (name, out)
        if out:
            changes = yoy([round(v) for v in run])
            assert changes.iloc[-1] < robust_range(changes[:-1], round(run[-2]))[0]
            assert list(out) == [f"outlier:{JIA1}:stock:2024-07:low"]


def test_year_to_date_figures_compare_with_the_same_month_and_standards_are_skipped(found):
    ids = {a.indicator_id for a in found if a.rule == "outlier"}
    # July 2024's 720 against earlier Julys 700–715 grows as they did; against all months (100…715) it would not
    julys = yoy([700 + 5 * i for i in range(5)])
    low, high = robust_range(julys[:-1], 715)
    assert low < 720 < high
    assert "ytd" not in ids and "std" not in ids  # 900 against 500–530 (+70 %) would be far out: a policy level


def test_fewer_than_min_years_is_silent_and_min_years_is_a_setting(data):
    # 乙一镇: two earlier Julys (900, 905), one 同比 — silent by default (three 同比 needed)
    assert not by_rule(alerts.evaluate(data, TODAY, area=YI1), "outlier")
    # 甲一镇 has four (2020–2023); asking for five makes it silent too
    assert f"outlier:{JIA1}:stock:2024-07:high" in by_rule(alerts.evaluate(data, TODAY, area=JIA1), "outlier")
    rules = alerts.Rules(outlier=alerts.Outlier(min_years=5))
    assert not by_rule(alerts.evaluate(data, TODAY, area=JIA1, rules=rules), "outlier")


def test_the_level_basis_judges_the_value_against_earlier_values(data):
    """basis = "level": 甲一镇's 150 against the earlier Julys 100, 102, 98, 101, 99 themselves."""
    rules = alerts.Rules(outlier=alerts.Outlier(basis="level"))
    hist = pd.Series([100, 102, 98, 101, 99], dtype=float)
    med = hist.median()
    spread = max(1.4826 * (hist - med).abs().median(), 0.05 * med, 1)  # 1.48 < the 5 % floor: 5
    assert (med - 3.5 * spread, med + 3.5 * spread) == (82.5, 117.5)
    own = by_rule(alerts.evaluate(data, TODAY, area=JIA1, rules=rules), "outlier")
    assert own[f"outlier:{JIA1}:stock:2024-07:high"].text == (
        "甲一镇 月末人数2024年7月为150人，高于往年同期的正常范围（2019—2023年同期5个数值的中位数100人，"
        "正常范围83人至117人），请核实")  # the bounds rounded inwards
    # 乙一镇 with two earlier values is judged once min_years allows it: 1100 > 902.5 + 3.5 · 45.125
    rules = alerts.Rules(outlier=alerts.Outlier(basis="level", min_years=2))
    assert f"outlier:{YI1}:stock:2024-07:high" in by_rule(alerts.evaluate(data, TODAY, area=YI1, rules=rules), "outlier")
    # and seen from the city, 甲一镇 is told with 甲县 (150,152,148,151,149 → 202: out of line too)
    folded = by_rule(alerts.evaluate(data, TODAY, rules=alerts.Rules(outlier=alerts.Outlier(basis="level")), fold=True),
                     "outlier")
    assert {a.region_code for a in folded.values() if a.indicator_id == "stock"} == {JIA}
    assert folded[f"outlier:{JIA}:stock:2024-07:high"].text.endswith("；其下1个区划同样偏高，不再逐一提示，请核实")


# --- children_sum ----------------------------------------------------------------------------------

def test_own_value_against_the_sum_of_children(found):
    sums = by_rule(found, "children_sum")
    jia_diff = AMT[JIA] - AMT[JIA1] - AMT[JIA2]                          # 0.4
    assert jia_diff <= 0.005 * AMT[JIA] + 3 * 0.05                       # 0.4 ≤ 0.652: within tolerance
    assert set(sums) == {f"children_sum:{YI}:amt:2023-01", f"children_sum:{CITY}:amt:2023-01"}  # amt2: 甲二镇 missing
    yi = sums[f"children_sum:{YI}:amt:2023-01"]
    assert yi.text == (f"乙县 资金2023年本级填报50.0万元，下级1个乡镇合计45.0万元，多5.0万元（{100 * 5 / 45:.1f}%），请核实")
    city = sums[f"children_sum:{CITY}:amt:2023-01"]
    total = AMT[JIA] + AMT[YI]                                          # the counties' own figures: 150.4
    assert f"下级2个区县合计{total:.1f}万元，多{200 - total:.1f}万元" in city.text and city.level == "关注"


def test_a_generous_tolerance_silences_children_sum(data):
    rules = alerts.Rules(children_sum=alerts.ChildrenSum(tolerance_pct=30))
    assert not by_rule(alerts.evaluate(data, TODAY, rules=rules), "children_sum")


# --- configured rules ----------------------------------------------------------------------------------

def write_rules(data, text: str):
    (data / "settings").mkdir(exist_ok=True)
    (data / "settings" / "alert_rules.toml").write_text(text, encoding="utf-8")


@pytest.fixture
def settings(data):
    yield data
    (data / "settings" / "alert_rules.toml").unlink(missing_ok=True)


def test_threshold_rules_from_the_settings_file(settings):
    write_rules(settings, """
[outlier]
enabled = false

[[rule]]
id = "few"
name = "月末人数过少"
indicator = "stock"
level = "township"
op = "<"
threshold = 60
severity = "严重"

[[rule]]
id = "jump"
indicator = "stock"
level = "township"
op = "yoy_rise_pct"
threshold = 25
""")
    found = alerts.evaluate(settings, TODAY)
    assert not by_rule(found, "outlier")
    few = by_rule(found, "rule:few")
    assert set(few) == {f"rule:few:{JIA2}:2024-07"}  # 52 < 60; 150 and 1100 are not
    assert few[f"rule:few:{JIA2}:2024-07"].text == "甲二镇 月末人数2024年7月为52人，低于60人（规则“月末人数过少”）"
    assert few[f"rule:few:{JIA2}:2024-07"].level == "严重"
    jump = by_rule(found, "rule:jump")
    # 甲一镇 150 vs 99: +51.5 %; 甲二镇 52 vs 50: +4 %; 乙一镇 1100 vs 905: +21.5 %
    assert set(jump) == {f"rule:jump:{JIA1}:2024-07"}
    assert f"同比上升{100 * (150 - 99) / 99:.1f}%，超过25%" in jump[f"rule:jump:{JIA1}:2024-07"].text
    assert found[0].level == "严重"  # worst first


def test_no_settings_folder_means_the_built_in_defaults(data, tmp_path):
    assert alerts.load_rules(tmp_path) == alerts.Rules()
    assert alerts.check_rules_file(alerts.DEFAULT_FILE) == alerts.Rules()  # the shipped file says the defaults
    assert alerts.Rules().task_lag.severe_gap == 15 and alerts.Rules().outlier.k == 3.5


@pytest.mark.parametrize("text, words", [
    ("[outlier]\nkk = 3\n", ["[outlier]", "kk"]),
    ("[warn]\nx = 1\n", ["[warn]"]),
    ("[outlier]\nk = \"3\"\n", ["[outlier]", "k", "数字"]),
    ("[outlier]\nbasis = \"median\"\n", ["[outlier]", "basis", "'yoy' 或 'level'", "median"]),
    ("[outlier]\nbasis = 1\n", ["[outlier]", "basis", "'yoy' 或 'level'"]),
    ("[task_lag]\nenabled = 1\n", ["[task_lag]", "enabled", "true 或 false"]),
    ("[children_sum]\ntolerance_pct = -1\n", ["tolerance_pct", "0 到 100"]),
    ('[[rule]]\nid = "a"\nindicator = "stock"\nlevel = "township"\nop = "<"\nthreshold = 1\n'
     '[[rule]]\nid = "b2"\nindicator = "nope"\nlevel = "township"\nop = "<"\nthreshold = 1\n',
     ["第 2 条规则", "id = 'b2'", "indicator", "nope"]),
    ('[[rule]]\nid = "b"\nindicator = "stock"\nlevel = "township"\nop = "=="\nthreshold = 1\n',
     ["第 1 条规则", "id = 'b'", "op", "=="]),
    ('[[rule]]\nid = "c"\nindicator = "stock"\nlevel = "township"\nop = ">"\nthreshold = "十"\n',
     ["第 1 条规则", "id = 'c'", "threshold", "数字"]),
    ('[[rule]]\nid = "d"\nindicator = "stock"\nlevel = "town"\nop = ">"\nthreshold = 1\n', ["id = 'd'", "level"]),
    ('[[rule]]\nid = "e"\nindicator = "stock"\nlevel = "township"\nop = ">"\nthreshold = 1\ncolour = "红"\n',
     ["id = 'e'", "colour"]),
    ('[[rule]]\nindicator = "stock"\nlevel = "township"\nop = ">"\nthreshold = 1\n', ["未写 id", "缺少必填项 id"]),
    ('[[rule]]\nid = "f"\nindicator = "stock"\nlevel = "township"\nop = ">"\nthreshold = 1\n'
     '[[rule]]\nid = "f"\nindicator = "stock"\nlevel = "township"\nop = ">"\nthreshold = 2\n', ["第 2 条规则", "重复"]),
    ("[outlier\nk = 3\n", ["不是有效的 TOML", "第 1 行"]),
])
def test_settings_are_refused_naming_file_rule_and_key(settings, text, words):
    write_rules(settings, text)
    with pytest.raises(alerts.RulesError) as e:
        alerts.load_rules(settings)
    message = str(e.value)
    assert "settings/alert_rules.toml" in message, message
    for w in words:
        assert w in message, (w, message)
    with pytest.raises(alerts.RulesError):  # evaluate refuses the same file rather than run half the rules
        alerts.evaluate(settings, TODAY)


# --- area, order, determinism, command ------------------------------------------------------------------

def test_the_area_limits_every_rule_and_an_unknown_area_gives_nothing(data, found):
    jia = alerts.evaluate(data, TODAY, area=JIA)
    assert jia and all(a.region_code in (JIA, JIA1, JIA2) for a in jia)
    assert {a.rule for a in jia} == {"task_lag", "return_missing", "outlier"}
    assert [a for a in found if a.region_code in (JIA, JIA1, JIA2)] == jia  # the same alerts as seen from above
    assert not any(a.region_code in (YI, YI1, CITY) for a in jia)
    assert alerts.evaluate(data, TODAY, area="990199000000") == []
    assert alerts.evaluate(data, TODAY, area="") == []


def test_sorted_worst_first_then_region_then_key_and_the_same_every_run(data, found):
    assert alerts.evaluate(data, TODAY) == found
    order = [(alerts.LEVELS.index(a.level), a.region_code, a.key) for a in found]
    assert order == sorted(order) and len({a.key for a in found}) == len(found)
    assert all(a.level in alerts.LEVELS and a.text and a.title for a in found)


def test_the_command_prints_the_alerts(data, found, monkeypatch, capsys):
    monkeypatch.setenv("MINSHENG_DATA", str(data))
    assert cli.main(["alerts", "--date", TODAY.isoformat(), "--json", "--area", "990102"]) == 0
    got = json.loads(capsys.readouterr().out)
    want = [dataclasses.asdict(a) | {"period": a.period.isoformat()} for a in found if a.region_code in (YI, YI1)]
    assert got == want and got
    assert cli.main(["alerts", "--date", TODAY.isoformat()]) == 0
    out = capsys.readouterr().out
    # the table is for one reader: 甲一镇's 数值异常 is told with 甲县's (fold); JSON, for scripts, has every alert
    folded = alerts.evaluate(data, TODAY, fold=True)
    assert len(folded) == len(found) - 1
    assert "甲二镇 2024年6月“民政月报”未报" in out and f"共 {len(folded)} 条" in out and "其下1个区划同样偏高" in out
    assert cli.main(["alerts", "--area", "990199"]) == 2
    assert "不在区划表中" in capsys.readouterr().err


# --- the bundled demo ---------------------------------------------------------------------------------

def test_demo_quyuan_july_2023_skill_training_is_lagging(demo_dir):
    found = alerts.evaluate(demo_dir, dt.date(2023, 8, 10), area=QUYUAN)
    lag = {a.indicator_id: a for a in found if a.rule == "task_lag"}
    a = lag["rs_skill_training"]
    assert a.key == f"task_lag:{QUYUAN}:rs_skill_training:2023:滞后" and a.level == "关注"
    assert a.period == dt.date(2023, 7, 1) and a.department == "人社局"
    assert "453人" in a.text and "完成率53.0%" in a.text and f"{453 / 855:.3f}" == "0.530"
    assert "新增城镇就业" not in {x.title.split()[0] for x in lag.values()}  # 74.8 % is ahead of 58.3 %
    assert all(x.region_code.startswith("430671") for x in found)
