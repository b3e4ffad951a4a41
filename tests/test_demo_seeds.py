"""The demo tells each seed report's story in the right place, with the figures as printed.

Expected figures come from the seed texts in ../shared/seeds (read when present); each is also
written here with the seed line it comes from, and a test checks that line is in the seed, so the
expectations cannot drift from the reports. Values are read from the bundled Parquet files with
pandas, apart from the roll-ups, which are the query layer's job (test_demo checks them in Python).
"""

import datetime as dt
import re

import pandas as pd
import pytest

from conftest import SHARED
from minsheng import metrics, repo

SEEDS = SHARED / "seeds"
ZHUZHOU = "430200000000"
YUEYANG, QUYUAN = "430600000000", "430671000000"
SEED_000 = "株洲日报"          # both seed-000 sources name the paper they were printed in
SEED_001 = "重点民生保障仗工作专报"

# The July 2023 task report of 屈原管理区 (seed 001): task → (actual, 完成率 as printed, the seed's words).
# The report prints the count done and the rate, not the target.
TASKS_2023_07 = {
    "开展就业技能培训": (453, 53.0, "完成培训453人,完成率53%"),
    "新增城镇就业": (1123, 74.8, "新增城镇就业1123人,完成率为74.8%"),
    "建设高标准农田": (4000, 88.8, "高标准农田建设项目已完成4000亩,完成率88.8%"),
    "实施医疗救助": (3357, 98.7, "医疗救助任务3357人次,完成率98.7%"),
    "新生儿出生缺陷免费筛查": (194, 64.6, "新生儿出生缺陷免费筛查完成194人,完成率64.6%"),
    "农村适龄妇女“两癌”免费筛查": (1000, 100.0, "“两癌”筛查已完成1000人,完成率100%"),
    "贫困残疾人家庭无障碍改造": (None, 85.7, "贫困残疾人家庭无障碍改造任务已完成85.7%"),
    "残疾儿童康复救助": (18, 51.7, "残疾儿童康复救助任务18人,已完成51.7%"),
    "新建5G基站": (29, 96.0, "新建29座5G基站点,完成96%"),
    "“湘易办”新增注册用户": (2.0, 64.1, "“湘易办”app新增注册人数2万人,完成率64.1%"),
}
PENSION_2023 = (76500, "2023年基本养老、工伤和失业保险参保人数分别达到76500人")
TOWNSHIPS = ("营田镇", "河市镇")  # "到营田镇、河市镇督导" — the other two are 天问街道 and 凤凰乡
TOWNSHIP_COUNT = "我区4个乡镇(街道)"


def seed_text(prefix: str) -> str:
    found = sorted(SEEDS.glob(f"{prefix}_*.txt")) if SEEDS.is_dir() else []
    if not found:
        pytest.skip(f"seed {prefix} not found in {SEEDS}")
    return found[0].read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def tables(demo_dir):
    return {n: pd.read_parquet(demo_dir / f"{n}.parquet") for n in ("regions", "observations", "targets")}


def test_the_expected_figures_are_the_seeds_words():
    text = seed_text("001")
    for task, (actual, rate, words) in TASKS_2023_07.items():
        assert words in text, task
        numbers = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", words)]
        assert rate in numbers and (actual is None or actual in numbers or actual * 1 in numbers), task
    assert PENSION_2023[1] in text and str(PENSION_2023[0]) in PENSION_2023[1]
    assert TOWNSHIP_COUNT in text and all(t in text for t in TOWNSHIPS)
    assert "屈原管理区" in text and "株洲" not in text          # the report is not 株洲市's


def test_quyuan_sits_under_yueyang_with_four_townships(tables):
    r = tables["regions"].set_index("code")
    assert r.loc[YUEYANG, ["name", "level"]].tolist() == ["岳阳市", "city"] and pd.isna(r.loc[YUEYANG, "parent_code"])
    assert r.loc[QUYUAN, ["name", "level", "parent_code"]].tolist() == ["屈原管理区", "county", YUEYANG]
    towns = r[r["parent_code"] == QUYUAN]
    assert len(towns) == int(re.search(r"(\d)个乡镇", TOWNSHIP_COUNT).group(1)) == 4
    assert set(towns["level"]) == {"township"} and set(TOWNSHIPS) <= set(towns["name"])
    assert all(c.startswith("430671") for c in towns.index)
    assert list(r.index[r["parent_code"] == YUEYANG]) == [QUYUAN]   # 岳阳市 holds only 屈原管理区


def test_quyuan_goal_page_in_july_2023_reproduces_the_report():
    t = repo.targets(QUYUAN, 2023)
    assert set(t["task"]) == set(TASKS_2023_07)
    kinds = dict(zip(repo.indicators()["id"], repo.indicators()["kind"]))
    s = repo.series(t["indicator_id"], [QUYUAN], dt.date(2023, 1, 1), dt.date(2023, 7, 1))
    g = metrics.goal_table(t, s, kinds, 2023, 7).set_index("task")
    for task, (actual, rate, _) in TASKS_2023_07.items():
        assert round(100 * g.loc[task, "completion"], 1) == rate, task
        if actual is not None:
            assert g.loc[task, "actual"] == pytest.approx(actual), task
    # 7 of 12 months have passed: 53 % is behind, 74.8 % ahead, 两癌 done
    assert g.loc["开展就业技能培训", "status"] == "滞后" and g.loc["新增城镇就业", "status"] == "超序时"
    assert g.loc["农村适龄妇女“两癌”免费筛查", "status"] == "已完成"


def test_quyuan_pension_figure_is_quyuans_not_zhuzhous():
    pension = repo.series(["rs_pension_insured"], [QUYUAN, ZHUZHOU, YUEYANG], dt.date(2023, 1, 1), dt.date(2023, 1, 1))
    v = pension.set_index("region_code")["value"]
    assert v[QUYUAN] == PENSION_2023[0] and v[YUEYANG] == PENSION_2023[0]
    assert v[ZHUZHOU] > 10 * PENSION_2023[0]                       # a city of 3.9 million, not 71,521


def test_zhuzhou_no_longer_carries_the_reports_tasks(tables):
    t = tables["targets"]
    assert t.loc[t["region_code"].str.startswith("4302") & (t["year"] == 2023)].empty
    s = repo.series(["rs_skill_training", "rs_new_urban_jobs", "yb_medical_aid"], [ZHUZHOU],
                    dt.date(2023, 7, 1), dt.date(2023, 7, 1)).set_index("indicator_id")["value"]
    assert s["rs_skill_training"] != 453 and s["rs_new_urban_jobs"] != 1123 and s["yb_medical_aid"] != 3357


def _years(obs, needle):
    cited = obs[obs["source"].str.contains(needle, regex=False)]
    return cited.assign(year=pd.to_datetime(cited["period"]).dt.year)


def test_seed_000_is_cited_only_for_the_years_it_speaks_of(tables):
    """The 民政 review speaks of 2022; the 医保 report (March 2023) of 2023's enrolment, grids and
    service points and of 2022's ("去年") errands; and only of 株洲市."""
    text = seed_text("000")
    assert "2022年株洲市民政工作综述" in text and "去年,该区在全省" in text and "去年全区累计代办4763次" in text
    cited = _years(tables["observations"], SEED_000)
    assert not cited.empty and cited["region_code"].str.startswith("4302").all()
    mz = cited[cited["indicator_id"].str.startswith("mz_")]
    assert set(mz["year"]) == {2022}
    yb = cited[cited["indicator_id"].str.startswith("yb_")]
    assert yb["region_code"].str.startswith("430204").all()         # only 石峰区 and its townships
    assert set(yb.loc[yb["indicator_id"] == "yb_proxy_services", "year"]) == {2022}
    assert set(yb.loc[yb["indicator_id"] != "yb_proxy_services", "year"]) == {2023}


def test_seed_001_is_cited_only_for_quyuan_in_2023(tables):
    cited = _years(tables["observations"], SEED_001)
    assert not cited.empty and set(cited["region_code"]) == {QUYUAN} and set(cited["year"]) == {2023}
    assert (pd.to_datetime(cited["period"]).dt.month <= 7).all()     # the report is of July 21st


def _county_year(obs, ind, code6):
    """A county's yearly value summed from its own rows (annual indicators), by year."""
    d = obs[(obs["indicator_id"] == ind) & obs["region_code"].str.startswith(code6)]
    return d.groupby(pd.to_datetime(d["period"]).dt.year)["value"].sum()


@pytest.mark.parametrize("ind,anchor_year,anchor", [
    ("yb_resident_insured", 2023, 192847), ("yb_service_points", 2023, 83), ("yb_grids", 2023, 273)])
def test_shifeng_counts_move_plausibly_around_the_seeds_figure(tables, ind, anchor_year, anchor):
    by_year = _county_year(tables["observations"], ind, "430204")
    assert by_year[anchor_year] == anchor
    moves = by_year.pct_change().dropna()
    assert moves.between(-0.15, 0.25).all(), moves.round(3).to_dict()


def test_shifeng_errands_move_plausibly_around_4763(tables):
    obs = tables["observations"]
    d = obs[(obs["indicator_id"] == "yb_proxy_services") & obs["region_code"].str.startswith("430204")]
    dec = d[pd.to_datetime(d["period"]).dt.month == 12]              # year-to-date at December: the year
    by_year = dec.groupby(pd.to_datetime(dec["period"]).dt.year)["value"].sum()
    assert by_year[2022] == 4763
    assert by_year.pct_change().dropna().between(-0.15, 0.30).all(), by_year.to_dict()


def test_shifeng_enrolment_rate_is_100_percent_without_every_township_at_100(tables):
    obs = tables["observations"]
    d = obs[(obs["indicator_id"] == "yb_resident_insured_rate") & obs["region_code"].str.startswith("4302")]
    d = d.assign(year=pd.to_datetime(d["period"]).dt.year, county=d["region_code"].str[:6])
    rate = d.groupby(["county", "year"]).apply(lambda g: 100 * g["numerator"].sum() / g["denominator"].sum(),
                                               include_groups=False)
    assert round(rate["430204", 2023], 1) == 100.0                  # "参保率达100%"
    towns_2023 = d[(d["county"] == "430204") & (d["year"] == 2023)]
    assert (towns_2023["value"].round(1) < 100.0).any()
    assert towns_2023["numerator"].sum() == 192847
    shifeng = rate["430204"]
    assert shifeng.diff().dropna().abs().max() <= 1.0               # percentage points a year
    # "连续三年参保率位居全市城区第一": first of the four urban districts in 2021–2023
    for year in (2021, 2022, 2023):
        urban = {c: rate[c, year] for c in ("430202", "430203", "430204", "430211")}
        assert max(urban, key=urban.get) == "430204", (year, urban)


@pytest.mark.parametrize("row,refused", [
    ([ZHUZHOU, "株洲市", "市", ""], False),           # the regions each city already has at the top stay there
    ([YUEYANG, "岳阳市", "市", ""], False),
    (["430300000000", "湘潭市", "市", ""], True),      # a new one beside them is still refused (issue 11)
])
def test_the_demos_two_cities_can_be_reimported_but_no_third_added(demo_dir, row, refused):
    from minsheng.ingest import validate
    from minsheng.ingest.readers import Sheet

    cat = validate.Catalog(repo.regions(demo_dir), repo.indicators(demo_dir))
    sheet = Sheet("regions.csv", None, ["区划代码", "名称", "级别", "上级代码"], [row])
    errors = [p.message for p in validate.parse_sheet(sheet, "regions", cat, factor=0).problems if p.level == "错误"]
    assert any("最高级" in e for e in errors) == refused, errors


def test_quyuan_remote_settlement_rate_at_the_end_of_june():
    assert "截至6月底,全区异地就医直接结算备案1380人次,直接结算率达93%" in seed_text("001")
    s = repo.series(["yb_remote_settle_rate"], [QUYUAN], dt.date(2023, 6, 1), dt.date(2023, 6, 1)).iloc[0]
    assert round(100 * s["numerator"] / s["denominator"], 1) == 93.0 and SEED_001 in s["source"]
