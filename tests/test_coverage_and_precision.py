"""同比 across unequal coverage (like for like) and each indicator's display precision.

Two stores built here. `coverage`: a city → 2 counties → 2 townships → 10 villages, where some
villages stop reporting and one starts: the city's 同比 of all reporters against like for like
(only villages reporting in both periods). `precision`: a province → 2 cities → counties, with
standards (低保标准) carried only by the counties and 平均受教育年限 in years with two decimals (the
2020 census values where ../shared/reference is present). Every expectation is computed here, by
hand or with pandas, from the rows written — never from the product's answers.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT, SHARED, app
from minsheng import fmt, repo, store
from minsheng.ingest import contract, pipeline, template
from minsheng.reference import KEYS, Reference, same
from minsheng.ui import pages

CENSUS = SHARED / "reference" / "census2020_hunan_by_county" / "education_hunan.csv"

# --- the coverage store -------------------------------------------------------------------------

CITY, CA, CB = "980100000000", "980101000000", "980102000000"
TA, TB = "980101001000", "980102001000"
VILLAGES = [f"{t[:9]}{i:03d}" for t in (TA, TB) for i in range(1, 6)]  # 0–4 under 甲, 5–9 under 乙
# who reports which month: 2023-11 all but village 9; 2024-11 villages 0–6 and 9 (7 and 8 fall silent)
REPORTING = {"2023-10-01": range(10), "2024-10-01": range(10),
             "2023-11-01": range(9), "2024-11-01": [0, 1, 2, 3, 4, 5, 6, 9]}
RATE_REPORTING = {"2023-01-01": range(10), "2024-01-01": [0, 1, 2, 3, 4, 5, 6, 7]}


def households(i: int, period: str) -> float:
    return 100.0 + 10 * i + (1 if period.startswith("2024") else 0) + (5 if "-11-" in period else 0)


def rate_parts(i: int, period: str) -> tuple[float, float]:
    den = 200.0 + 50 * i
    return (0.9 if period.startswith("2024") else 0.8) * den - i, den


def coverage_tables() -> dict[str, pd.DataFrame]:
    regions = [dict(code=CITY, name="覆盖市", level="city", parent_code=None, lon=None, lat=None),
               dict(code=CA, name="甲县", level="county", parent_code=CITY, lon=None, lat=None),
               dict(code=CB, name="乙县", level="county", parent_code=CITY, lon=None, lat=None),
               dict(code=TA, name="甲镇", level="township", parent_code=CA, lon=None, lat=None),
               dict(code=TB, name="乙镇", level="township", parent_code=CB, lon=None, lat=None)]
    regions += [dict(code=v, name=f"村{i}", level="village", parent_code=TA if i < 5 else TB, lon=None, lat=None)
                for i, v in enumerate(VILLAGES)]
    indicators = pd.DataFrame([
        dict(id="hh", name_zh="在册户数", name_en="Households", unit="户", domain="民政", kind="count",
             frequency="month", cumulative=False, report_level="village", higher_is_better=True, description="",
             source="测试", seq=1),
        dict(id="cov", name_zh="参保率", name_en="Coverage", unit="%", domain="医保", kind="rate",
             frequency="year", cumulative=False, report_level="village", higher_is_better=True, description="",
             source="测试", seq=2)])
    obs = []
    for period, who in REPORTING.items():
        obs += [dict(indicator_id="hh", region_code=VILLAGES[i], period=dt.date.fromisoformat(period),
                     value=households(i, period), numerator=None, denominator=None, status="final",
                     source="村报", batch_id="t") for i in who]
    for period, who in RATE_REPORTING.items():
        for i in who:
            n, d = rate_parts(i, period)
            obs.append(dict(indicator_id="cov", region_code=VILLAGES[i], period=dt.date.fromisoformat(period),
                            value=100 * n / d, numerator=n, denominator=d, status="final", source="村报", batch_id="t"))
    targets = pd.DataFrame(columns=["indicator_id", "region_code", "year", "target", "department", "task", "deadline"])
    return dict(regions=pd.DataFrame(regions), indicators=indicators, observations=pd.DataFrame(obs), targets=targets)


@pytest.fixture(scope="module")
def coverage_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("coverage")
    store.write_tables(d, coverage_tables(), {"title": "覆盖测试", "demo": False, "data_date": "2024-11-30"})
    return d


def leaf_rows() -> pd.DataFrame:
    o = coverage_tables()["observations"]
    o["period"] = pd.to_datetime(o["period"])
    o["county"] = o["region_code"].str[:6] + "000000"
    return o


def expected_changes(region: str, indicator: str) -> pd.DataFrame:
    """Per period, 同比 over all reporters and like for like (villages in both periods), in pandas."""
    o = leaf_rows()
    o = o[(o["indicator_id"] == indicator) & ((o["county"] == region) | (region == CITY))]
    prev = o.assign(period=o["period"] + pd.DateOffset(years=1))
    rows = []
    for period, cur in o.groupby("period"):
        base = prev[prev["period"] == period]
        if base.empty:
            continue
        both = cur.merge(base, on="region_code", suffixes=("", "_b"))
        if indicator == "cov":
            def rate(df, s=""):
                return 100 * df["numerator" + s].sum() / df["denominator" + s].sum()
            plain, lfl = rate(cur) - rate(base), rate(both) - rate(both, "_b")
        else:
            plain = 100 * (cur["value"].sum() - base["value"].sum()) / base["value"].sum()
            lfl = 100 * (both["value"].sum() - both["value_b"].sum()) / both["value_b"].sum()
        rows.append(dict(period=period, plain=plain, lfl=lfl, n=len(cur), n0=len(base), both=len(both)))
    return pd.DataFrame(rows).set_index("period")


def test_like_for_like_sums_only_regions_reporting_in_both_periods(coverage_dir):
    got = repo.like_for_like(["hh", "cov"], [CITY, CA, CB], dt.date(2024, 1, 1), dt.date(2024, 12, 1), coverage_dir)
    assert set(got["period"].dt.year) == {2024}
    for region in (CITY, CA, CB):
        for ind in ("hh", "cov"):
            want = expected_changes(region, ind)
            mine = got[(got["region_code"] == region) & (got["indicator_id"] == ind)].set_index("period")
            assert list(mine.index) == list(want.index), (region, ind)
            for period, w in want.iterrows():
                row = mine.loc[period]
                assert row["n_both"] == w["both"]
                kind = "rate" if ind == "cov" else "count"
                change = row["value"] - row["base_value"] if kind == "rate" else \
                    100 * (row["value"] - row["base_value"]) / row["base_value"]
                assert change == pytest.approx(w["lfl"], abs=1e-9), (region, ind, period)
    # the city's 2024-11 by hand: villages 0–6 in both; 101+10i+5 against 100+10i+5
    both = sum(106 + 10 * i for i in range(7)), sum(105 + 10 * i for i in range(7))
    city = got[(got["region_code"] == CITY) & (got["indicator_id"] == "hh") & (got["period"] == "2024-11-01")].iloc[0]
    assert (city["value"], city["base_value"], city["n_both"]) == (both[0], both[1], 7)


def test_like_for_like_respects_the_area(coverage_dir):
    got = repo.like_for_like(["hh"], [CITY, CA], dt.date(2024, 1, 1), dt.date(2024, 12, 1), coverage_dir, area=CB)
    assert got.empty


def overview(directory: Path, monkeypatch, **params) -> AppTest:
    monkeypatch.setenv("MINSHENG_DATA", str(directory))
    return app(**params)


def card(at, label: str):
    return next(m for m in at.metric if m.label == label)


def test_overview_yoy_shows_coverage_and_toggles_like_for_like(coverage_dir, monkeypatch):
    want = expected_changes(CITY, "hh").loc["2024-11-01"]
    assert (want["n"], want["n0"]) == (8, 9) and want["plain"] != pytest.approx(want["lfl"])
    at = overview(coverage_dir, monkeypatch, region=CITY, year="2024")
    lfl = card(at, "在册户数").delta
    assert lfl == f"{want['lfl']:+.1f}%（同口径 7 个，已报 8/10，上年 9/10）"
    at.toggle(key="_w_lfl").set_value(False).run()
    assert not at.exception
    plain = card(at, "在册户数").delta
    assert plain == f"{want['plain']:+.1f}%（已报 8/10，上年 9/10）"
    assert at.query_params["lfl"] == "0"
    # the rate: percentage points, like for like again when switched back
    at.toggle(key="_w_lfl").set_value(True).run()
    rate = expected_changes(CITY, "cov").loc["2024-01-01"]
    assert card(at, "参保率").delta == f"{rate['lfl']:+.2f} 个百分点（同口径 8 个，已报 8/10，上年 10/10）"


def test_trend_yoy_like_for_like_and_its_coverage(coverage_dir, monkeypatch):
    monkeypatch.setenv("MINSHENG_DATA", str(coverage_dir))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    for k, v in dict(region=CITY, inds="hh", view="yoy", grain="month", kids="0", span="2024-2024").items():
        at.query_params[k] = v
    at.run()
    at.switch_page(pages.get("trend").script)
    at.run()
    assert not at.exception, [e.value for e in at.exception]

    def november():
        trace = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
        y = trace["y"]  # plotly sends arrays base64-encoded
        y = np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]) if isinstance(y, dict) else y
        return dict(zip([x[:10] for x in trace["x"]], y))

    want = expected_changes(CITY, "hh")
    shown = november()
    assert shown["2024-11-01"] == pytest.approx(want.loc["2024-11-01", "lfl"])
    assert shown["2024-10-01"] == pytest.approx(want.loc["2024-10-01", "plain"])  # full coverage: the same
    assert any("已报 8/10，上年 9/10" in c.value for c in at.caption)
    title = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["title"]["text"]
    assert "同比按同口径" in title  # the chart (and its image) says on which basis
    at.toggle(key="_w_lfl").set_value(False).run()
    assert november()["2024-11-01"] == pytest.approx(want.loc["2024-11-01", "plain"])
    assert "同比按同口径" not in json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["title"]["text"]


# --- the precision store ------------------------------------------------------------------------

PROV = "430000000000"


def census_years() -> pd.DataFrame:
    """平均受教育年限 of the counties of 株洲市 and 湘潭市 (2020 census), or a hand-made stand-in."""
    if CENSUS.exists():
        c = pd.read_csv(CENSUS, encoding="utf-8-sig", dtype={"CODE": str})
        c = c[c["CODE"].str[:4].isin(["4302", "4303"]) & (c["CODE"] != "430271")]  # 430271: not an official code
        return pd.DataFrame({"code": c["CODE"] + "000000", "name": c["NAME"], "years": c["EDUC_AVGY"]})
    return pd.DataFrame({"code": ["430202000000", "430203000000", "430302000000"], "name": ["甲区", "乙区", "丙区"],
                         "years": [10.64, 11.27, 9.83]})


def precision_tables() -> dict[str, pd.DataFrame]:
    edu = census_years()
    regions = [dict(code=PROV, name="测试省", level="province", parent_code=None, lon=None, lat=None),
               dict(code="430200000000", name="一市", level="city", parent_code=PROV, lon=None, lat=None),
               dict(code="430300000000", name="二市", level="city", parent_code=PROV, lon=None, lat=None)]
    regions += [dict(code=c, name=n, level="county", parent_code=c[:4] + "00000000", lon=None, lat=None)
                for c, n in zip(edu["code"], edu["name"])]
    indicators = pd.DataFrame([
        dict(id="edu_years", name_zh="平均受教育年限", name_en="Years of schooling", unit="年", domain="其他",
             kind="standard", frequency="year", cumulative=False, report_level="county", higher_is_better=True,
             description="", source="第七次人口普查", seq=1, decimals=None),
        dict(id="dibao", name_zh="低保标准", name_en="Minimum living standard", unit="元/月", domain="民政",
             kind="standard", frequency="year", cumulative=False, report_level="county", higher_is_better=True,
             description="", source="测试", seq=2, decimals=None),
        dict(id="subsidy", name_zh="补贴标准", name_en="Subsidy", unit="元/月", domain="民政", kind="standard",
             frequency="year", cumulative=False, report_level="county", higher_is_better=True, description="",
             source="测试", seq=3, decimals=2)])
    obs = []
    for i, (code, years) in enumerate(zip(edu["code"], edu["years"])):
        for ind, v in (("edu_years", years), ("dibao", 600.0 + 15 * i), ("subsidy", 80.25 + i)):
            obs.append(dict(indicator_id=ind, region_code=code, period=dt.date(2020, 1, 1), value=float(v),
                            numerator=None, denominator=None, status="final", source="测试", batch_id="t"))
    targets = pd.DataFrame(columns=["indicator_id", "region_code", "year", "target", "department", "task", "deadline"])
    return dict(regions=pd.DataFrame(regions), indicators=indicators, observations=pd.DataFrame(obs), targets=targets)


@pytest.fixture(scope="module")
def precision_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("precision")
    store.write_tables(d, precision_tables(), {"title": "精度测试", "demo": False, "data_date": "2020-12-31"})
    return d


@pytest.mark.parametrize("unit, kind, own, want", [
    ("人", "count", None, 0), ("户", "count", None, 0), ("个", "count", None, 0), ("座", "count", None, 0),
    ("人次", "count", None, 0), ("元", "amount", None, 0), ("元/月", "standard", None, 0), ("%", "rate", None, 1),
    ("年", "standard", None, 2), ("岁", "standard", None, 2), ("‰", "rate", None, 2), ("万人", "count", None, 2),
    ("万元", "amount", None, 1), ("元/月", "standard", 2, 2), ("%", "rate", 0, 0), ("年", "amount", 1, 1),
])
def test_decimals_default_by_unit_and_an_indicators_own(unit, kind, own, want):
    assert fmt.decimals_for(unit, kind, own) == want


def test_decimals_is_a_column_of_the_contract_the_template_and_the_catalogue(precision_dir):
    col = contract.KINDS["indicators"]["decimals"]
    assert col.header == "小数位数"
    wb = openpyxl.load_workbook(io.BytesIO(template.template_bytes("indicators", repo.indicators(precision_dir),
                                                                   repo.regions(precision_dir))))
    assert "小数位数" in [c.value for c in next(wb.worksheets[0].iter_rows(max_row=1))]
    cat = repo.indicators(precision_dir).set_index("id")["decimals"]
    assert cat.to_dict() == {"edu_years": 2, "dibao": 0, "subsidy": 2}  # 年 → 2, 元 → 0, its own 2


def test_a_table_written_before_decimals_existed_reads_the_default_by_unit(coverage_dir):
    assert "decimals" not in pd.read_parquet(store.table_path(coverage_dir, "indicators")).columns
    assert repo.indicators(coverage_dir).set_index("id")["decimals"].to_dict() == {"hh": 0, "cov": 1}  # 户, %


def test_an_import_sets_and_checks_decimals(tmp_path):
    d = tmp_path / "data"
    store.write_tables(d, precision_tables(), {"title": "精度测试", "demo": False, "data_date": "2020-12-31"})
    good = "指标编码,指标名称,单位,类型,频度,报送级别,小数位数\ndibao,低保标准,元/月,标准,年度,县,2\n"
    plan = pipeline.prepare(good.encode("utf-8-sig"), "指标.csv", d)
    assert not plan.errors, [p.message for p in plan.errors]
    pipeline.commit(plan, d, accept_warnings=True)
    assert repo.indicators(d).set_index("id").loc["dibao", "decimals"] == 2
    bad = good.replace(",2\n", ",七\n")
    plan = pipeline.prepare(bad.encode("utf-8-sig"), "指标.csv", d)
    [p] = plan.errors
    assert (p.row, p.column) == (2, "小数位数") and "0–6" in p.message


def test_a_standard_above_its_children_ranges_over_the_descendants_that_carry_it(precision_dir):
    edu = census_years()
    s = repo.series(["edu_years", "dibao"], [PROV, "430200000000"], dt.date(2020, 1, 1), dt.date(2020, 1, 1),
                    precision_dir)
    prov = s[(s["region_code"] == PROV)].set_index("indicator_id")
    assert (prov.loc["edu_years", "min_value"], prov.loc["edu_years", "max_value"]) == (edu["years"].min(),
                                                                                        edu["years"].max())
    dibao = [600.0 + 15 * i for i in range(len(edu))]
    assert (prov.loc["dibao", "min_value"], prov.loc["dibao", "max_value"]) == (min(dibao), max(dibao))
    assert (prov.loc["dibao", "n_reported"], prov.loc["dibao", "n_expected"]) == (len(edu), len(edu))
    zz = edu[edu["code"].str.startswith("4302")]
    city = s[(s["region_code"] == "430200000000") & (s["indicator_id"] == "edu_years")].iloc[0]
    assert (city["min_value"], city["max_value"], city["n_reported"]) == (zz["years"].min(), zz["years"].max(), len(zz))
    # the oracle agrees, region by region
    codes = repo.regions(precision_dir)["code"].tolist()
    ours = repo.series(["edu_years", "dibao", "subsidy"], codes, dt.date(2000, 1, 1), dt.date(2030, 1, 1), precision_dir)
    theirs = Reference(precision_dir).series(["edu_years", "dibao", "subsidy"], codes, dt.date(2000, 1, 1),
                                             dt.date(2030, 1, 1))
    assert same(ours[theirs.columns.tolist()], theirs, KEYS) is None


def test_cards_show_each_indicators_precision(precision_dir, monkeypatch):
    edu = census_years()
    county = edu.iloc[0]
    at = overview(precision_dir, monkeypatch, region=county["code"], year="2020")
    assert card(at, "平均受教育年限").value == f"{county['years']:.2f} 年"       # 10.64 年, not 11 年
    assert card(at, "低保标准").value == "600 元/月"
    assert card(at, "补贴标准").value == "80.25 元/月"
    at = overview(precision_dir, monkeypatch, region=PROV, year="2020")
    assert card(at, "平均受教育年限").value == f"{edu['years'].min():.2f}–{edu['years'].max():.2f} 年"
    n = len(edu)
    assert card(at, "补贴标准").value == f"80.25–{80.25 + n - 1:.2f} 元/月"


def test_a_real_census_value_keeps_its_two_decimals():
    if not CENSUS.exists():
        pytest.skip("../shared/reference 不在本机")
    c = pd.read_csv(CENSUS, encoding="utf-8-sig", dtype={"CODE": str}).set_index("CODE")
    years = float(c.loc["430202", "EDUC_AVGY"])  # 荷塘区
    assert fmt.value_with_unit(years, "年", "standard") == f"{years:.2f} 年"
    assert round(years) != years  # the census figure has decimals a whole-year display would lose
