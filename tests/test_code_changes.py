"""Code changes: 430221 株洲县 became 430212 渌口区 in 2018.

A store built here: a city with two county-level units, one of which (株洲县) is retired on
2018-06-19 and succeeded by 渌口区 from 2018-06-20; observations before and after, and a few rows
left under the retired code after it stopped (written behind the importer's back, as if the
retirement were recorded later). A code counts in a period when it is valid on the period's last
day, so June 2018 and the whole year 2018 are 渌口区's. Every expectation is counted by hand or in
pandas here, never taken from the product.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT
from minsheng import export, repo, store
from minsheng.ingest import pipeline
from minsheng.reference import KEYS, Reference, same
from minsheng.ui import pages

CITY, HETANG, OLD, NEW = "430200000000", "430202000000", "430221000000", "430212000000"
STOP, START = dt.date(2018, 6, 19), dt.date(2018, 6, 20)
MONTHS = pd.date_range("2017-01-01", "2019-12-01", freq="MS")
YEARS = (2017, 2018, 2019)


def _row(ind, region, period, value, num=None, den=None):
    return dict(indicator_id=ind, region_code=region, period=pd.Timestamp(period).date(), value=float(value),
                numerator=num, denominator=den, status="final", source=f"{region}来源", batch_id="t")


def tables() -> dict[str, pd.DataFrame]:
    regions = pd.DataFrame([
        dict(code=CITY, name="株洲市", level="city", parent_code=None, lon=113.1, lat=27.8,
             valid_from=pd.NaT, valid_to=pd.NaT, successor_code=None),
        dict(code=HETANG, name="荷塘区", level="county", parent_code=CITY, lon=113.2, lat=27.9,
             valid_from=pd.NaT, valid_to=pd.NaT, successor_code=None),
        dict(code=OLD, name="株洲县", level="county", parent_code=CITY, lon=113.1, lat=27.6,
             valid_from=pd.NaT, valid_to=pd.Timestamp(STOP), successor_code=NEW),
        dict(code=NEW, name="渌口区", level="county", parent_code=CITY, lon=113.1, lat=27.6,
             valid_from=pd.Timestamp(START), valid_to=pd.NaT, successor_code=None),
    ])
    ind = [("pop", "月末人数", "人", "count", "month"), ("rate", "参保率", "%", "rate", "year"),
           ("std", "低保标准", "元/月", "standard", "year")]
    indicators = pd.DataFrame([dict(id=i, name_zh=n, name_en=i, unit=u, domain="民政", kind=k, frequency=f,
                                    cumulative=False, report_level="county", higher_is_better=True,
                                    description="", source="测试", seq=s)
                               for s, (i, n, u, k, f) in enumerate(ind)])
    o = []
    for k, m in enumerate(MONTHS):
        o.append(_row("pop", HETANG, m, 1000 + k))
        if m < pd.Timestamp("2018-06-01"):
            o.append(_row("pop", OLD, m, 500 + k))
        else:
            o.append(_row("pop", NEW, m, 600 + k))
    # left under the retired code after it stopped: June (its last day is after 06-19) and July 2018
    o += [_row("pop", OLD, "2018-06-01", 9999), _row("pop", OLD, "2018-07-01", 9999)]
    for y in YEARS:
        o.append(_row("rate", HETANG, f"{y}-01-01", 90.0, 90.0, 100.0))
        o.append(_row("std", HETANG, f"{y}-01-01", 600 + y % 10))
    o += [_row("rate", OLD, "2017-01-01", 80.0, 160.0, 200.0), _row("std", OLD, "2017-01-01", 500),
          _row("rate", NEW, "2018-01-01", 85.0, 170.0, 200.0), _row("rate", NEW, "2019-01-01", 86.0, 172.0, 200.0),
          _row("std", NEW, "2018-01-01", 520), _row("std", NEW, "2019-01-01", 530),
          _row("rate", OLD, "2018-01-01", 10.0, 20.0, 200.0), _row("std", OLD, "2018-01-01", 1)]  # after it stopped
    targets = pd.DataFrame(columns=["indicator_id", "region_code", "year", "target", "department", "task", "deadline"])
    return dict(regions=regions, indicators=indicators, observations=pd.DataFrame(o), targets=targets)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("code_changes")
    store.write_tables(d, tables(), {"title": "代码变更测试", "demo": False, "data_date": "2019-12-31"})
    return d


def valid(region: str, day: pd.Timestamp) -> bool:
    """By hand: 株洲县 through 2018-06-19, 渌口区 from 2018-06-20, 荷塘区 always."""
    return {OLD: day.date() <= STOP, NEW: day.date() >= START}.get(region, True)


def city(data, ind):
    s = repo.series([ind], [CITY], dt.date(2017, 1, 1), dt.date(2019, 12, 1), data)
    return s.set_index("period")


# --- coverage and roll-ups ------------------------------------------------------------------------------

def test_coverage_counts_each_county_only_while_its_code_is_valid(data):
    # two county-level units in every period: 荷塘区 and whichever of 株洲县 / 渌口区 is valid then
    # (main: 3 in every period, "由 2/3")
    for ind in ("pop", "rate", "std"):
        s = city(data, ind)
        assert (s["n_expected"] == 2).all(), (ind, s["n_expected"].to_dict())
        assert (s["n_reported"] == 2).all(), (ind, s["n_reported"].to_dict())
    pop = city(data, "pop")
    assert len(pop) == len(MONTHS) and pop.loc[pd.Timestamp("2018-06-01"), "n_expected"] == 2


def test_roll_up_sums_leave_out_rows_outside_a_codes_validity(data):
    t = tables()
    o = t["observations"][t["observations"]["indicator_id"] == "pop"].copy()
    o["period"] = pd.to_datetime(o["period"])
    month_end = o["period"] + pd.offsets.MonthEnd(0)
    keep = [valid(r, e) for r, e in zip(o["region_code"], month_end)]
    want = o[keep].groupby("period")["value"].sum()
    got = city(data, "pop")["value"]
    assert got.sort_index().tolist() == want.sort_index().tolist()
    assert got[pd.Timestamp("2018-06-01")] == 1000 + 17 + 600 + 17  # not 株洲县's stray 9,999
    rate = city(data, "rate")
    assert rate.loc[pd.Timestamp("2018-01-01"), "value"] == pytest.approx(100 * (90 + 170) / (100 + 200))
    std = city(data, "std")
    assert (std.loc[pd.Timestamp("2018-01-01"), "min_value"], std.loc[pd.Timestamp("2018-01-01"), "max_value"]) \
        == (520, 608)  # 株洲县's value after its end is not the minimum


def test_the_independent_oracle_agrees_on_every_region(data):
    regions = [CITY, HETANG, OLD, NEW]
    ours = repo.series(["pop", "rate", "std"], regions, dt.date(2017, 1, 1), dt.date(2019, 12, 1), data)
    theirs = Reference(data).series(["pop", "rate", "std"], regions, dt.date(2017, 1, 1), dt.date(2019, 12, 1))
    assert same(ours[theirs.columns.tolist()], theirs, KEYS) is None
    assert set(theirs.loc[theirs["region_code"] == CITY, "n_expected"]) == {2}


def test_the_map_draws_the_codes_valid_in_its_period(data):
    shown = lambda day: set(repo.regions_below(CITY, "county", data, on=day)["code"])  # noqa: E731
    assert shown(dt.date(2018, 5, 31)) == {HETANG, OLD}
    assert shown(dt.date(2018, 6, 30)) == {HETANG, NEW}
    assert set(repo.regions_below(CITY, "county", data)["code"]) == {HETANG, OLD, NEW}  # exports list all


def test_map_page_ranks_two_counties_not_three(data, monkeypatch):
    monkeypatch.setenv("MINSHENG_DATA", str(data))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.query_params["ind"] = "rate"
    at.query_params["year"] = "2019"
    at.run()
    at.switch_page(pages.get("map").script)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert sorted(at.dataframe[0].value["区域"]) == ["渌口区", "荷塘区"]
    at.selectbox(key="_w_year").set_value(2017).run()  # before the change: 株洲县 in its place
    assert not at.exception, [e.value for e in at.exception]
    # a retired code's label says so wherever it is shown (minsheng/regions.py Tree.label)
    assert sorted(at.dataframe[0].value["区域"]) == ["株洲县（2018年停用）", "荷塘区"]


# --- the trend: one line across the change, with a note ---------------------------------------------------

def _numbers(values) -> list[float]:
    """A plotly array as numbers (plotly sends numeric arrays as base64 typed arrays)."""
    if isinstance(values, dict):
        import base64

        import numpy as np
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def test_trend_joins_the_predecessors_history_with_a_note(data, monkeypatch):
    monkeypatch.setenv("MINSHENG_DATA", str(data))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    for k, v in dict(region=NEW, inds="pop", grain="month", span="2017-2019", kids="0").items():
        at.query_params[k] = v
    at.run()
    at.switch_page(pages.get("trend").script)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert len(spec["data"]) == 1  # one line, 渌口区's, from 2017 on
    line = spec["data"][0]
    xs = [str(x)[:7] for x in line["x"]]
    assert xs[0] == "2017-01" and xs[-1] == "2019-12" and len(xs) == len(MONTHS)
    by_month = dict(zip(xs, _numbers(line["y"])))
    assert by_month["2017-01"] == 500 and by_month["2018-05"] == 500 + 16  # 株洲县's, as 渌口区's history
    assert by_month["2018-06"] == 600 + 17  # 渌口区's own, not the stray 9,999
    captions = " ".join(c.value for c in at.caption)
    assert "2018年6月20日前为株洲县（430221000000）" in captions


def test_a_citys_trend_draws_the_retired_county_inside_its_successors_line(data, monkeypatch):
    monkeypatch.setenv("MINSHENG_DATA", str(data))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    for k, v in dict(region=CITY, inds="rate", span="2017-2019").items():
        at.query_params[k] = v
    at.run()
    at.switch_page(pages.get("trend").script)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    names = sorted(d["name"] for d in json.loads(at.get("plotly_chart")[0].proto.spec)["data"])
    assert names == sorted(["株洲市", "荷塘区", "渌口区"])


# --- exports: the code each row was reported under, and the one in use now --------------------------------

def test_export_keeps_the_reported_code_beside_the_current_one(data):
    q = export.check(["rate"], CITY, "county", dt.date(2017, 1, 1), dt.date(2019, 12, 1), directory=data)
    df = export.table(q, data)
    assert "承继后区划代码" in df.columns
    pairs = set(zip(df["区划代码"], df["承继后区划代码"]))
    assert pairs == {(HETANG, HETANG), (OLD, NEW), (NEW, NEW)}
    ref = Reference(data)
    theirs = ref.table(ref.series(["rate"], ref.scope(CITY, "county"), dt.date(2017, 1, 1), dt.date(2019, 12, 1)),
                       export.COLUMNS)
    assert same(df, theirs, ["指标编码", "区划代码", "时期起始日"]) is None


# --- imports ---------------------------------------------------------------------------------------------

def _csv(text: str) -> bytes:
    return text.encode("utf-8-sig")


@pytest.fixture
def fresh(data, tmp_path):
    import shutil
    d = tmp_path / "d"
    shutil.copytree(data, d)
    return d


def test_observations_under_a_retired_code_are_accepted_inside_its_validity_only(fresh):
    plan = pipeline.prepare(_csv("指标编码,区划代码,时期,数值\npop,430221,2018-05,10\npop,430221,2024-03,10\n"
                                 "pop,430212,2018-05,10\n"), "返回.csv", fresh, kind="observations")
    errors = {(p.row, p.column): p.message for p in plan.errors}
    assert set(errors) == {(3, "区划代码"), (4, "区划代码")}
    assert errors[(3, "区划代码")] == ("区划代码 430221000000（株洲县）已于 2018-06-19 停用，时期“2024-03”不在其有效期内"
                                     "（至 2018-06-19），承继区划为 430212000000 渌口区：该时期的数据请报在承继区划下")
    assert errors[(4, "区划代码")] == ("区划代码 430212000000（渌口区）2018-06-20 起启用，时期“2018-05”早于其有效期"
                                     "（2018-06-20 起）")
    ok = pipeline.prepare(_csv("指标编码,区划代码,时期,数值\npop,430221,2018-05,10\nrate,430212,2018,85\n"),
                          "返回.csv", fresh, kind="observations")
    assert not ok.errors, [p.message for p in ok.errors]


def test_a_regions_file_records_validity_and_successor(fresh):
    plan = pipeline.prepare(_csv("区划代码,名称,启用日期,停用日期,承继区划代码\n"
                                 "430221,株洲县,,2018-06-19,430212\n430212,渌口区,2018-06-20,,\n"
                                 "430281,醴陵市,,,\n"), "区划.csv", fresh, kind="regions")
    assert not plan.errors, [p.message for p in plan.errors]
    merged = plan.merged.set_index("code")
    assert pd.Timestamp(merged.loc[OLD, "valid_to"]).date() == STOP and merged.loc[OLD, "successor_code"] == NEW
    assert pd.Timestamp(merged.loc[NEW, "valid_from"]).date() == START
    assert pd.isna(merged.loc["430281000000", "valid_to"])
    pipeline.commit(plan, fresh)
    stored = pd.read_parquet(store.table_path(store.resolve(fresh), "regions")).set_index("code")
    assert stored.loc[OLD, "successor_code"] == NEW and pd.Timestamp(stored.loc[OLD, "valid_to"]).date() == STOP


@pytest.mark.parametrize("rows,column,message", [
    ("430299,甲县,2018-02-30,,", "启用日期", "启用日期“2018-02-30”不是日历上的日期"),
    ("430299,甲县,2018-06,,", "启用日期", "启用日期“2018-06”无法识别：请写完整日期，如 2018-06-19"),
    ("430299,甲县,2019-01-01,2018-12-31,", "停用日期", "停用日期 2018-12-31 早于启用日期 2019-01-01"),
    ("430299,甲县,,2018-12-31,430298", "承继区划代码",
     "承继区划代码 430298000000 不在区划表或本文件中：请先导入承继区划，或在本文件中一并列出"),
    ("430299,甲县,,,430212", "停用日期", "“停用日期”为空：填写了承继区划代码，须写明该代码停用的日期"),
    ("430299,甲县,,2017-12-31,430212", "承继区划代码",
     "承继区划 430212000000 渌口区在 2018-01-01（甲县停用次日）不在有效期内（其有效期：2018-06-20 起）：请核对启用日期、停用日期"),
    ("430299,甲县,,2019-12-31,430298\n430298,乙县,2020-01-01,2020-12-31,430299", "承继区划代码", "承继关系形成循环"),
])
def test_a_regions_file_with_a_broken_succession_is_refused(fresh, rows, column, message):
    plan = pipeline.prepare(_csv("区划代码,名称,启用日期,停用日期,承继区划代码\n" + rows + "\n"), "区划.csv", fresh,
                            kind="regions")
    assert plan.errors and plan.errors[0].row == 2
    said = [(p.column, p.message) for p in plan.errors]
    assert any(c == column and message in m for c, m in said), said


def test_a_version_made_before_validity_windows_is_read_without_rewriting_it(data, tmp_path):
    # an older version's coverage.parquet: one count per (region, level), no windows; its files are
    # covered by the version's checksums, so the reader computes the windowed coverage in memory
    import shutil

    from minsheng import db, rollup
    d = tmp_path / "old"
    shutil.copytree(data, d)
    old = pd.DataFrame({"region_code": [CITY], "level": ["county"], "n_below": [3]})
    old.to_parquet(rollup.path(d, "coverage"), index=False)
    before = rollup.path(d, "coverage").read_bytes()
    db.reset(d)
    s = repo.series(["pop", "std"], [CITY], dt.date(2017, 1, 1), dt.date(2019, 12, 1), d)
    assert set(s["n_expected"]) == {2}
    assert rollup.path(d, "coverage").read_bytes() == before


def test_a_township_code_change_rolls_up_through_every_level_as_the_oracle_says(tmp_path):
    # the shared hand-made fixture, with 甲二镇 retired after January 2023 and succeeded by 甲三镇;
    # 甲二镇's February figure stays behind (outside its validity), 甲三镇 reports from February
    from conftest import JIA, JIA2, fixture_tables
    t = fixture_tables()
    new = "990101003000"
    reg = t["regions"]
    reg.loc[reg["code"] == JIA2, ["valid_to", "successor_code"]] = [pd.Timestamp("2023-01-31"), new]
    t["regions"] = pd.concat([reg, pd.DataFrame([dict(code=new, name="甲三镇", level="township", parent_code=JIA,
                                                      lon=113.13, lat=27.13, valid_from=pd.Timestamp("2023-02-01"),
                                                      valid_to=pd.NaT, successor_code=None)])], ignore_index=True)
    obs = t["observations"]
    moved = (obs["region_code"] == JIA2) & (obs["period"] == dt.date(2023, 3, 1))
    t["observations"] = pd.concat([obs[~moved], obs[moved].assign(region_code=new, value=obs[moved]["value"] + 1)],
                                  ignore_index=True)
    store.write_tables(tmp_path, t, {"title": "测试"})
    codes, ids = t["regions"]["code"].tolist(), t["indicators"]["id"].tolist()
    d0, d1 = dt.date(2022, 1, 1), dt.date(2023, 12, 1)
    ours = repo.series(ids, codes, d0, d1, tmp_path)
    theirs = Reference(tmp_path).series(ids, codes, d0, d1)
    assert same(ours[theirs.columns.tolist()], theirs, KEYS) is None
    cnt = ours[(ours["indicator_id"] == "cnt") & (ours["region_code"] == JIA)].set_index("period")
    # by hand: 甲县 expects 甲一镇 and one of 甲二镇 / 甲三镇 in every month; in February 2023 only
    # 甲一镇 is valid-and-reporting (甲二镇's row is after its end, 甲三镇 has none): 1 of 2
    assert (cnt["n_expected"] == 2).all()
    assert cnt.loc[pd.Timestamp("2023-02-01"), ["value", "n_reported"]].tolist() == [3, 1]
    assert cnt.loc[pd.Timestamp("2023-03-01"), ["value", "n_reported"]].tolist() == [6 + 5 + 1, 2]


def test_a_retired_code_in_a_later_period_names_the_successor_in_use_then(fresh):
    # 渌口区 itself changes again in 2021 (to a made-up 430213): a 2024 row under 株洲县 is sent on to it
    plan = pipeline.prepare(_csv("区划代码,名称,启用日期,停用日期,承继区划代码\n430212,渌口区,2018-06-20,2020-12-31,430213\n"
                                 "430213,渌口新区,2021-01-01,,\n"), "区划.csv", fresh, kind="regions")
    pipeline.commit(plan, fresh)
    rows = pipeline.prepare(_csv("指标编码,区划代码,时期,数值\npop,430221,2024-03,10\npop,430221,2019-03,10\n"),
                            "返回.csv", fresh, kind="observations")
    said = {p.row: p.message for p in rows.errors}
    assert said[2].endswith("承继区划为 430213000000 渌口新区：该时期的数据请报在承继区划下")
    assert said[3].endswith("承继区划为 430212000000 渌口区：该时期的数据请报在承继区划下")


def test_like_for_like_compares_a_merged_region_with_the_sum_of_the_old_ones_once(tmp_path):
    # 撤并: a second county merged into 渌口区 along with 株洲县. Both old codes are one unit with 渌口区, so
    # 2019-03 compares 渌口区 (once) with 株洲县 + the merged county of 2018-03; pairing rows rather than units
    # counted 渌口区 twice (against each old code) and called it three units
    merged = "430299000000"
    t = tables()
    t["regions"] = pd.concat([t["regions"], pd.DataFrame([dict(
        code=merged, name="并入县", level="county", parent_code=CITY, lon=113.0, lat=27.5,
        valid_from=pd.NaT, valid_to=pd.Timestamp(STOP), successor_code=NEW)])], ignore_index=True)
    t["observations"] = pd.concat([t["observations"], pd.DataFrame(
        [_row("pop", merged, m, 300 + k) for k, m in enumerate(MONTHS) if m < pd.Timestamp("2018-06-01")])],
        ignore_index=True)
    store.write_tables(tmp_path, t, {"title": "撤并测试", "demo": False, "data_date": "2019-12-31"})
    pop = t["observations"].query("indicator_id == 'pop'").assign(period=lambda d: pd.to_datetime(d["period"]))

    def value(code, period):
        return float(pop[(pop["region_code"] == code) & (pop["period"] == pd.Timestamp(period))]["value"].iloc[0])

    got = repo.like_for_like(["pop"], [CITY], dt.date(2019, 3, 1), dt.date(2019, 3, 1), tmp_path).iloc[0]
    assert got["n_both"] == 2  # 荷塘区, and 渌口区 with what it took over
    assert got["value"] == value(HETANG, "2019-03-01") + value(NEW, "2019-03-01")
    assert got["base_value"] == value(HETANG, "2018-03-01") + value(OLD, "2018-03-01") + value(merged, "2018-03-01")
    ids, codes = ["pop", "rate", "std"], t["regions"]["code"].tolist()
    mine = repo.like_for_like(ids, codes, dt.date(2017, 1, 1), dt.date(2019, 12, 1), tmp_path)
    want = Reference(tmp_path).like_for_like(ids, codes, dt.date(2017, 1, 1), dt.date(2019, 12, 1))
    assert len(want) > 20 and same(mine[want.columns.tolist()], want, KEYS) is None


def test_the_overview_card_says_two_of_two_in_every_year(data, monkeypatch):
    monkeypatch.setenv("MINSHENG_DATA", str(data))
    seen = {}
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.query_params["year"] = "2017"
    at.run()
    for year in (2017, 2018, 2019):
        if year != 2017:
            at.selectbox(key="_w_year").set_value(year).run()
        assert not at.exception, [e.value for e in at.exception]
        seen[year] = {m.label: m.help for m in at.metric}
    for year, cards in seen.items():
        helps = [h for h in cards.values() if h and "下级单位汇总" in h]
        assert helps and all("由 2/2 个下级单位汇总" in h for h in helps), (year, cards)
    assert seen[2017]["参保率"] != seen[2019]["参保率"]  # the year changed what the card says


def test_like_for_like_pairs_a_successor_with_its_predecessor_a_year_before(data):
    # found in review: 2019-03 against 2018-03 compared 荷塘区 alone (同口径 1 个) — 渌口区 and 株洲县,
    # one county under two codes, never met; and rows outside a code's validity must not count either
    o = tables()["observations"]
    pop = o[o["indicator_id"] == "pop"].assign(period=lambda d: pd.to_datetime(d["period"]))

    def value(code, period):
        return float(pop[(pop["region_code"] == code) & (pop["period"] == period)]["value"].iloc[0])

    got = repo.like_for_like(["pop"], [CITY], dt.date(2019, 3, 1), dt.date(2019, 6, 1), data).set_index("period")
    for month, old_then in (("2019-03-01", OLD), ("2019-06-01", NEW)):  # June 2018 is 渌口区's (valid on the 30th)
        p, base = pd.Timestamp(month), pd.Timestamp(month) - pd.DateOffset(years=1)
        assert got.loc[p, "n_both"] == 2
        assert got.loc[p, "value"] == value(HETANG, p) + value(NEW, p)
        assert got.loc[p, "base_value"] == value(HETANG, base) + value(old_then, base)  # never the 9999 left under 株洲县
