"""Official division lists (统计用区划代码) in the shapes they are published in (issue 12, item 3).

Codes of 2, 4, 6, 9 and 12 digits; a list of one city that starts at the city; a province above it;
town lists that write each code over two columns; 街道/镇/乡/管理处/农场 names. Every file is built
here; levels, parents and codes are checked against expectations written out by hand. A file that
renames a region, or moves it, waits for the clerk's confirmation; one that would put a town on its
county's code is refused, and a refused file leaves the data directory byte-for-byte unchanged.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from conftest import CITY as T_CITY, JIA, JIA1, JIA2, ROOT, YI, YI1, fixture_tables
from minsheng import store
from minsheng.ingest import cells, pipeline
from minsheng.ingest.problems import ImportRejected
from minsheng.regions import Tree
from test_import import fingerprint

PROVINCE, CITY, HT, LS = "430000000000", "430200000000", "430202000000", "430203000000"
YT, CGT, JS = "430202001000", "430202002000", "430203001000"   # 月塘街道, 茨菇塘街道 (荷塘区), 建设街道 (芦淞区)
CODES = {T_CITY: CITY, JIA: HT, YI: LS, JIA1: YT, JIA2: CGT, YI1: JS}
NAMES = {CITY: "株洲市", HT: "荷塘区", LS: "芦淞区", YT: "月塘街道", CGT: "茨菇塘街道", JS: "建设街道"}


def tables(**changes) -> dict[str, pd.DataFrame]:
    """The shared hand-made data (conftest) on official codes: 株洲市 with 荷塘区 and 芦淞区 and three 街道.
    `changes`: code → {column: value} for regions stored otherwise."""
    t = fixture_tables()
    reg = t["regions"].assign(code=t["regions"]["code"].map(CODES), parent_code=t["regions"]["parent_code"].map(CODES))
    reg["name"] = reg["code"].map(NAMES)
    for code, fields in changes.items():
        for c, v in fields.items():
            reg.loc[reg["code"] == code, c] = v
    t["regions"] = reg
    for k in ("observations", "targets"):
        t[k]["region_code"] = t[k]["region_code"].map(CODES)
    return t


def make_store(directory: Path, extra: pd.DataFrame | None = None, **changes) -> Path:
    t = tables(**changes)
    if extra is not None:
        t["regions"] = pd.concat([t["regions"], extra], ignore_index=True)
    store.write_tables(directory, t, {"title": "测试数据", "demo": False, "data_date": "2023-03-31"})
    return directory


@pytest.fixture
def data(tmp_path) -> Path:
    return make_store(tmp_path / "data")


def csv(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def regions(directory: Path) -> pd.DataFrame:
    return pd.read_parquet(store.table_path(store.resolve(directory), "regions")).set_index("code")


def parent(value) -> str | None:
    return value if isinstance(value, str) else None


def cli(*args, data: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MINSHENG_DATA": str(data), "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "minsheng", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


# --- codes of every official length ---------------------------------------------------------------

@pytest.mark.parametrize("text, want", [
    ("43", "430000000000"), ("4302", "430200000000"), ("4302.0", "430200000000"), ("430202", "430202000000"),
    ("430202001", "430202001000"), ("430202001001", "430202001001"), ("４３０２", "430200000000")])
def test_codes_of_every_official_length_read_as_twelve_digits(text, want):
    assert cells.normalise_code(text) == (want, None)


@pytest.mark.parametrize("text", ["4", "430", "43020", "4302020", "43020200", "4302020010", "43020200100"])
def test_other_lengths_are_refused_naming_the_lengths(text):
    code, msg = cells.normalise_code(text)
    assert code is None and msg == f"区划代码“{text}”应为 2、4、6、9 或 12 位数字"


# --- a list of one city starts at the city; a province may stand above it -------------------------------

@pytest.mark.parametrize("city", ["4302", "430200", "430200000000"])
def test_a_city_row_without_its_province_is_the_top(data, city):
    plan = pipeline.prepare(csv("区划代码,名称,级别,上级代码", f"{city},株洲市,市,", "430211,天元区,县,"), "市.csv", data)
    assert plan.problems == [], [str(p) for p in plan.problems]
    got = plan.rows.set_index("code")
    assert parent(got.loc[CITY, "parent_code"]) is None                # not 430000000000, which is no region
    assert (got.loc["430211000000", "parent_code"], got.loc["430211000000", "level"]) == (CITY, "county")
    assert plan.counts == {"新增": 1, "修改": 0, "未变": 1}
    pipeline.commit(plan, data)
    held = regions(data)
    assert parent(held.loc[CITY, "parent_code"]) is None and held.loc["430211000000", "parent_code"] == CITY
    run = cli("export", "--indicator", "cnt", "--level", "county", "--out", data.parent / "x.xlsx", data=data)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert "已导出 12 行" in run.stdout  # 荷塘区 and 芦淞区: 3 months of 2023 and 3 of 2022 each (天元区 none)


def test_a_province_row_is_accepted_as_the_top_above_the_city(data):
    before = fingerprint(data)
    plan = pipeline.prepare(csv("区划代码,名称,级别,上级代码", "43,湖南省,,", "4302,株洲市,,"), "省.csv", data)
    assert plan.errors == [], [str(p) for p in plan.errors]
    got = plan.rows.set_index("code")
    assert (got.loc[PROVINCE, "level"], parent(got.loc[PROVINCE, "parent_code"])) == ("province", None)
    assert got.loc[CITY, "parent_code"] == PROVINCE
    # the city held at the top moves under the province: a change the clerk confirms
    assert [(w.row, w.message) for w in plan.warnings] == [
        (3, f"将修改已有区划 {CITY}：上级 （无，为最高级） → {PROVINCE} 湖南省。请核实代码无误后确认导入")]
    with pytest.raises(ImportRejected):
        pipeline.commit(plan, data)
    assert fingerprint(data) == before
    pipeline.commit(plan, data, accept_warnings=True)
    tree = Tree(regions(data).reset_index())
    assert tree.roots == [PROVINCE] and tree.path(YT) == [PROVINCE, CITY, HT, YT]


def test_an_official_list_with_every_kind_of_township_lands_at_the_right_levels(data):
    """The NBS shape: 统计用区划代码 of each level's own length, 城乡分类代码 on villages (a class, not part
    of a code), townships that are 街道, 镇, 乡, a 管理处 and a 农场."""
    lines = ["统计用区划代码,城乡分类代码,名称", "4302,,株洲市", "430202,,荷塘区", "430202001,,月塘街道", "430202100,,仙庾镇",
             "430202200,,明照乡", "430202400,,金山管理处", "430202401,,新马农场", "430202001001,111,龙泉社区",
             "430202100201,220,长塘村"]
    plan = pipeline.prepare(csv(*lines), "统计用区划代码.csv", data)
    assert plan.kind == "regions" and plan.problems == [], [str(p) for p in plan.problems]
    got = plan.rows.set_index("code")
    want = {CITY: ("city", None), HT: ("county", CITY), YT: ("township", HT), "430202100000": ("township", HT),
            "430202200000": ("township", HT), "430202400000": ("township", HT), "430202401000": ("township", HT),
            "430202001001": ("village", YT), "430202100201": ("village", "430202100000")}
    assert {c: (r.level, parent(r.parent_code)) for c, r in got.iterrows()} == want
    assert plan.counts == {"新增": 6, "修改": 0, "未变": 3}


def test_export_without_a_region_names_the_tops_when_there_are_several(tmp_path):
    extra = pd.DataFrame([dict(code="430300000000", name="湘潭市", level="city", parent_code=None)])
    directory = make_store(tmp_path / "data", extra)
    run = cli("export", "--indicator", "cnt", "--out", tmp_path / "x.csv", data=directory)
    said = "导出失败：区划表有 2 个最高级区划（430200000000 株洲市、430300000000 湘潭市），无法确定导出哪个：请用 --region 指定区划代码"
    assert (run.returncode, run.stderr.strip()) == (2, said)
    assert cli("export", "--indicator", "cnt", "--region", HT, "--out", tmp_path / "x.csv",
               data=directory).returncode == 0


def test_export_without_regions_says_to_import_them_first():
    from minsheng import export

    with pytest.raises(export.ExportError, match="^区划表中没有区划，无法确定导出哪个区划：请先导入区划"):
        export.top(pd.DataFrame(columns=["code", "name", "level", "parent_code"]))


# --- a code over two columns ---------------------------------------------------------------------------

@pytest.mark.parametrize("first, second", [("区划代码", "乡镇代码"), ("统计用区划代码", "代码"), ("区划代码", "code")])
def test_a_split_code_town_file_is_joined_not_read_as_its_county(data, first, second):
    plan = pipeline.prepare(csv(f"{first},{second},名称", "430202,001000,月塘街道"), "乡镇.csv", data)
    assert plan.errors == [], [str(p) for p in plan.errors]
    assert plan.rows["code"].tolist() == [YT] and plan.counts == {"新增": 0, "修改": 0, "未变": 1}
    [said] = plan.warnings
    assert said.message == (f"区划代码分写在“{first}”和“{second}”两列（第 2 行：430202 + 001000），已拼接为一个代码"
                            f"（{YT}），共 1 行：请核实后确认导入")
    assert (said.row, said.column) == (1, first)


def test_a_split_code_list_keeps_its_county_rows_and_adds_new_towns_and_villages(data):
    lines = ["区划代码,乡镇代码,名称", "430202,,荷塘区", "430202,001000,月塘街道", "430202,003000,仙庾镇",
             "430202,003201,长塘村"]
    plan = pipeline.prepare(csv(*lines), "荷塘区乡镇.csv", data)
    assert plan.errors == [], [str(p) for p in plan.errors]
    got = plan.rows.set_index("code")
    assert {c: parent(r.parent_code) for c, r in got.iterrows()} == {
        HT: CITY, YT: HT, "430202003000": HT, "430202003201": "430202003000"}
    assert plan.counts == {"新增": 2, "修改": 0, "未变": 2} and len(plan.warnings) == 1
    pipeline.commit(plan, data, accept_warnings=True)
    held = regions(data)
    assert held.loc[HT, "name"] == "荷塘区" and held.loc["430202003000", "name"] == "仙庾镇"


def test_a_nine_and_three_digit_split_is_joined_too(data):
    plan = pipeline.prepare(csv("区划代码,村代码,名称", "430202001,001,龙泉社区"), "村.csv", data)
    assert plan.errors == [] and plan.rows["code"].tolist() == ["430202001001"]
    assert plan.rows["parent_code"].tolist() == [YT] and plan.rows["level"].tolist() == ["village"]


def test_a_split_that_does_not_join_on_every_row_is_refused_naming_both_columns(data):
    before = fingerprint(data)
    # Excel dropped 000 from a number cell: 1000 cannot be the second half of a code
    plan = pipeline.prepare(csv("区划代码,乡镇代码,名称", "430202,001000,月塘街道", "430202,2000,茨菇塘街道"), "乡镇.csv", data)
    assert [(e.row, e.column, e.message) for e in plan.errors] == [(1, "区划代码", (
        "“区划代码”和“乡镇代码”两列像是把区划代码分成了两段（第 2 行：430202 + 001000），但第 3 行的“430202”和“2000”"
        "拼不成 2、4、6、9 或 12 位代码：请把区划代码合并为一列完整的代码（按文本填写）后重新导入"))]
    with pytest.raises(ImportRejected):
        pipeline.commit(plan, data)
    assert fingerprint(data) == before


def test_an_observations_file_with_a_split_code_lands_on_the_township(data):
    plan = pipeline.prepare(csv("区划代码,乡镇代码,指标编码,时期,数值", "430202,001000,cnt,2023-04,8"), "月报.csv", data,
                            factor=0)
    assert plan.errors == [], [str(p) for p in plan.errors]
    assert plan.rows["region_code"].tolist() == [YT] and plan.rows["value"].tolist() == [8.0]
    assert len(plan.warnings) == 1 and "两列" in plan.warnings[0].message


# --- a code that lands on a region of another level ----------------------------------------------------

def test_a_town_name_on_a_county_code_is_an_error_naming_the_county(data):
    before = fingerprint(data)
    plan = pipeline.prepare(csv("区划代码,名称", "430202,月塘街道"), "乡镇.csv", data)
    assert [(e.row, e.column, e.message) for e in plan.errors] == [(2, "区划代码", (
        f"区划代码 {HT} 是已有的县级区划“荷塘区”，而“月塘街道”是乡镇级的名称：代码是否被截断，或分在了两列？请核对区划代码"))]
    with pytest.raises(ImportRejected):
        pipeline.commit(plan, data)
    assert fingerprint(data) == before


def test_a_village_name_on_a_new_township_code_is_an_error_unless_the_level_is_written(data):
    plan = pipeline.prepare(csv("区划代码,名称", "430202005,龙泉村"), "村.csv", data)
    assert [(e.row, e.column, e.message) for e in plan.errors] == [(2, "区划代码", (
        "“龙泉村”是村级的名称，而区划代码 430202005000 按结构是乡镇级：代码是否被截断，或分在了两列？"
        "如级别确为乡镇级，请在“级别”列写明"))]
    written = pipeline.prepare(csv("区划代码,名称,级别", "430202005,龙泉村,乡镇"), "村.csv", data)
    assert written.problems == [] and written.rows["level"].tolist() == ["township"]


def test_a_stated_level_on_a_code_of_another_level_names_the_region_held(data):
    plan = pipeline.prepare(csv("区划代码,名称,级别", "430202,月塘街道,乡镇"), "乡镇.csv", data)
    assert [(e.row, e.column, e.message) for e in plan.errors] == [(2, "级别", (
        f"级别“乡镇”与区划代码 {HT} 不符：按统计用区划代码的结构它是县级（该代码已是县级区划“荷塘区”）"))]


# --- renames, moves and new levels wait for a confirmation ---------------------------------------------

RENAME = csv("区划代码,名称,上级代码", "430202,荷塘新区,", f"430202002,茨菇塘街道,{LS}")
RENAMED = [(2, "名称", f"将修改已有区划 {HT}：名称“荷塘区”→“荷塘新区”。请核实代码无误后确认导入"),
           (3, "上级代码", f"将修改已有区划 {CGT}：上级 {HT} 荷塘区 → {LS} 芦淞区。请核实代码无误后确认导入")]


def test_a_rename_or_a_move_is_a_warning_listing_old_and_new(data):
    before = fingerprint(data)
    plan = pipeline.prepare(RENAME, "更名.csv", data)
    assert plan.errors == [] and [(w.row, w.column, w.message) for w in plan.warnings] == RENAMED
    with pytest.raises(ImportRejected):
        pipeline.commit(plan, data)
    assert fingerprint(data) == before


def test_the_command_line_needs_yes_for_a_rename(data, tmp_path):
    path = tmp_path / "更名.csv"
    path.write_bytes(RENAME)
    before = fingerprint(data)
    run = cli("import", path, data=data)
    assert run.returncode == 3 and "有 2 个警告" in run.stderr and "名称“荷塘区”→“荷塘新区”" in run.stderr
    assert fingerprint(data) == before
    run = cli("import", path, "--yes", data=data)
    assert run.returncode == 0, run.stderr
    held = regions(data)
    assert held.loc[HT, "name"] == "荷塘新区" and held.loc[CGT, "parent_code"] == LS


def test_a_new_level_for_a_region_held_at_the_wrong_one_is_a_warning(tmp_path):
    directory = make_store(tmp_path / "data", **{YT: {"level": "village"}})  # stored wrongly as a village
    plan = pipeline.prepare(csv("区划代码,名称,级别", "430202001,月塘街道,乡镇"), "级别.csv", directory)
    assert plan.errors == [] and [(w.row, w.column, w.message) for w in plan.warnings] == [
        (2, "级别", f"将修改已有区划 {YT}：级别 村（社区） → 乡镇（街道）。请核实代码无误后确认导入")]


def test_the_import_page_asks_to_confirm_a_rename_before_the_commit(data, monkeypatch):
    monkeypatch.setenv("MINSHENG_DATA", str(data))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.run()
    at.switch_page("views/import_page.py").run()
    at.file_uploader(key="imp_file").set_value(("更名.csv", RENAME, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert [(r["行"], r["列"], r["问题"]) for _, r in table.iterrows()] == RENAMED
    assert at.button(key="imp_commit").disabled and store.current(data) == store.BASE
    at.checkbox(key="imp_confirm").check().run()
    assert not at.button(key="imp_commit").disabled
    at.button(key="imp_commit").click().run()
    assert any("已导入" in s.value for s in at.success)
    assert regions(data).loc[HT, "name"] == "荷塘新区"
