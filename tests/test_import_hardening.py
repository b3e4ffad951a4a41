"""Import hardening (issue 11): text fields, the region tree, partial files and bounded numbers.

Every hostile or unlucky file here is built by the test, refused with a Chinese message at its row
and column, and leaves the data directory byte-for-byte unchanged; what is accepted is checked
against values written out by hand, never against the product's own output.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from conftest import ROOT
from minsheng import repo, store
from minsheng.ingest import contract, pipeline, validate
from minsheng.ingest.problems import ImportRejected, as_frame, error
from minsheng.ingest.readers import Sheet
from test_import import copy_data, fingerprint

CATALOG = pipeline.catalog(ROOT / "data")
CITY, HT, LS, SF = "430200000000", "430202000000", "430203000000", "430204000000"
QST, XSL = "430204901000", "430204902000"           # townships of 石峰区
SF_TOWNSHIPS = [f"4302049{n:02d}000" for n in range(1, 9)]
U, R, S = "mz_dibao_urban_persons", "yb_resident_insured_rate", "mz_dibao_std_urban"


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One copy of the demo data for checks that must refuse: nothing may land in it."""
    return copy_data(tmp_path_factory.mktemp("hardening") / "data")


@pytest.fixture
def fresh(tmp_path):
    return copy_data(tmp_path / "data")


def csv(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def refused(directory, data: bytes, name: str = "f.csv", **kw):
    """The file's errors; the commit is refused and the directory is unchanged."""
    before = fingerprint(directory)
    plan = pipeline.prepare(data, name, directory, **kw)
    assert plan.errors, [str(p) for p in plan.problems]
    with pytest.raises(ImportRejected):
        pipeline.commit(plan, directory)
    assert fingerprint(directory) == before
    return plan.errors


def one_row(kind: str, row: dict[str, str | None]) -> validate.Parsed:
    """The validator on a one-row sheet with the columns of `row` (contract names) under their headers."""
    spec = contract.KINDS[kind]
    sheet = Sheet("f.csv", None, [spec[c].header for c in row], [list(row.values())])
    return validate.parse_sheet(sheet, kind, CATALOG, factor=0)


def errors_of(parsed: validate.Parsed) -> list[tuple[int | None, str | None, str]]:
    return [(p.row, p.column, p.message) for p in parsed.problems if p.level == "错误"]


INDICATOR = dict(id="zz_new", name_zh="新指标", name_en="New", unit="人", domain="民政", kind="计数", frequency="月度",
                 description="说明", source="来源")
REGION = dict(code="430204909000", name="新街道", lon="113.1", lat="27.8")
TARGET = dict(indicator_id=U, region_code=SF, year="2027", target="5", department="民政局", task="任务")
OBS = dict(indicator_id=U, region_code=QST, period="2026-12", value="5", source="月报")
ROWS = dict(indicators=INDICATOR, regions=REGION, targets=TARGET, observations=OBS)
TEXT = [(k, c) for k, row in ROWS.items() for c in row
        if c in ("name_zh", "name_en", "unit", "domain", "description", "source", "name", "department", "task")]


# --- 1. text fields: no control or direction characters, bounded length, a unit is plain ------------------

@pytest.mark.parametrize("kind, column", TEXT)
@pytest.mark.parametrize("bad, shown", [("\x07", "U+0007"), ("\x1b[31m", "U+001B"), ("\x85", "U+0085"),
                                        ("\u202e", "U+202E"), ("\u2066", "U+2066"), ("\u200b", "U+200B"),
                                        ("\ufeff", "U+FEFF"), ("\x7f", "U+007F")])
def test_control_and_direction_characters_are_refused_in_every_text_field(kind, column, bad, shown):
    row = {**ROWS[kind], column: f"甲{bad}乙"}
    [(line, header, message)] = errors_of(one_row(kind, row))
    assert (line, header) == (2, contract.KINDS[kind][column].header)
    assert shown in message, message


@pytest.mark.parametrize("kind, column", TEXT)
def test_over_long_text_is_refused_and_the_limit_accepted(kind, column):
    limit = contract.KINDS[kind][column].limit
    assert 16 <= limit <= 1000
    ok = "元" * limit if column == "unit" else "字" * limit
    assert errors_of(one_row(kind, {**ROWS[kind], column: ok})) == []
    [(line, header, message)] = errors_of(one_row(kind, {**ROWS[kind], column: ok + "字"}))
    assert (line, header) == (2, contract.KINDS[kind][column].header)
    assert f"超过 {limit} 个字符" in message and f"{limit + 1}" in message


def test_a_newline_is_allowed_in_a_description_only():
    assert errors_of(one_row("indicators", {**INDICATOR, "description": "第一行\n第二行"})) == []
    [(_, header, message)] = errors_of(one_row("indicators", {**INDICATOR, "name_zh": "第一行\n第二行"}))
    assert header == "指标名称" and "U+000A" in message


@pytest.mark.parametrize("unit", ["人", "元/人·月", "%", "‰", "m²", "m³", "℃", "万元", "kg", "人次（万）", "(户)",
                                  "元/月", "km - 2", "10.5 亩"])
def test_plain_units_are_accepted(unit):
    assert errors_of(one_row("indicators", {**INDICATOR, "unit": unit})) == []


@pytest.mark.parametrize("unit, char", [('<iframe srcdoc="x">', "<"), ("人>", ">"), ("[人]", "["), ("人!", "!"),
                                        ("*人", "*"), ("_人_", "_"), ("`人`", "`"), ("人:", ":"), ("$", "$"),
                                        ("&amp;", "&"), ('"人', '"'), ("人🙂", "🙂")])
def test_a_unit_with_markup_characters_is_refused_naming_the_character(unit, char):
    [(line, header, message)] = errors_of(one_row("indicators", {**INDICATOR, "unit": unit}))
    assert (line, header) == (2, "单位")
    assert f"“{char}”" in message and "单位只能" in message


@pytest.mark.parametrize("unit", ["人\u3000次", "人\xa0次"])
def test_a_unit_with_an_odd_space_names_its_code_point(unit):
    [(_, header, message)] = errors_of(one_row("indicators", {**INDICATOR, "unit": unit}))
    assert header == "单位" and f"U+{ord(unit[1]):04X}" in message


def test_a_hostile_unit_file_is_refused_end_to_end(shared):
    data = csv("指标编码,指标名称,单位,类型,频度", 'zz_x,某指标,"<iframe srcdoc=""<script>alert(1)</script>"">",计数,月度')
    [e] = refused(shared, data, "units.csv")
    assert (e.file, e.row, e.column) == ("units.csv", 2, "单位") and "“<”" in e.message


def test_formula_leading_names_are_accepted_for_output_to_neutralise():
    assert errors_of(one_row("indicators", {**INDICATOR, "name_zh": "=HYPERLINK(\"x\")", "source": "+1"})) == []


# --- 8. regions that would break the tree, judged on the merged tree --------------------------------------

REGIONS_HEADER = "区划代码,名称,级别,上级代码"
TREE_CASES = [
    pytest.param([f"{HT},荷塘区,县,{QST}"], 2, "不高于", id="county-under-township"),
    pytest.param([f"{HT},荷塘区,县,{LS}"], 2, "不高于", id="county-under-county"),
    pytest.param([f"{QST},清水塘街道,乡镇,{QST}"], 2, "是它自己", id="self-parent"),
    pytest.param([f"{QST},清水塘街道,乡镇,{XSL}", f"{XSL},响石岭街道,乡镇,{QST}"], 2, "不高于", id="two-cycle"),
    pytest.param(["430204901001,甲村,村,430204901002", "430204901002,乙村,村,430204901003",
                  "430204901003,丙村,村,430204901001"], 2, "不高于", id="three-cycle"),
    pytest.param([f"{SF},石峰区,县,430299000000"], 2, "不在区划表或本文件中", id="missing-parent"),
    pytest.param(["430300000000,湘潭市,市,"], 2, "只能有一个最高级区划", id="second-city"),
    pytest.param(["430000000000,湖南省,省,"], 2, "只能有一个最高级区划", id="a-province-beside-the-city"),
    pytest.param([f"430204909000,新街道,乡镇,{SF}", f"{CITY},株洲市,市,{QST}"], 3, "不高于", id="city-under-township"),
]


@pytest.mark.parametrize("lines, row, message", TREE_CASES)
def test_a_region_file_that_breaks_the_tree_is_refused_naming_the_row(shared, lines, row, message):
    errors = refused(shared, csv(REGIONS_HEADER, *lines), "regions.csv")
    hits = [e for e in errors if message in e.message]
    assert hits, [str(e) for e in errors]
    assert hits[0].row == row and hits[0].file == "regions.csv"


def test_a_cycle_in_the_merged_tree_is_named_even_when_levels_agree():
    """A cycle through existing regions (possible only in bad current data) is still found."""
    regions = CATALOG.regions.copy()
    regions.loc[regions["code"] == SF, "parent_code"] = QST  # current data already broken
    cat = validate.Catalog(regions, CATALOG.indicators)
    sheet = Sheet("r.csv", None, ["区划代码", "名称", "上级代码"], [[QST, "清水塘街道", SF]])
    problems = [p for p in validate.parse_sheet(sheet, "regions", cat, factor=0).problems if p.level == "错误"]
    assert any("循环" in p.message and p.row == 2 for p in problems), [str(p) for p in problems]


def test_a_good_region_file_still_lands(fresh):
    plan = pipeline.prepare(csv(REGIONS_HEADER, f"430204909000,新街道,乡镇,{SF}", "430204909001,新社区,村,"),
                            "ok.csv", fresh)
    assert plan.errors == [], [str(p) for p in plan.errors]
    pipeline.commit(plan, fresh)
    got = repo.regions(directory=fresh).set_index("code")
    assert got.loc["430204909001", "parent_code"] == "430204909000"


# --- 9. absent columns leave fields as they are; the preview shows every change --------------------------

def _table(directory, name):
    return pd.read_parquet(store.table_path(store.resolve(directory), name))


def test_an_indicators_file_with_only_the_required_columns_keeps_the_other_fields(fresh):
    before = _table(fresh, "indicators").set_index("id")
    old = before.loc[S]
    data = csv("指标编码,指标名称,单位,类型,频度", f"{S},城市低保标准,元/月,标准,年度", "zz_new,新指标,人,计数,月度")
    plan = pipeline.prepare(data, "partial.csv", fresh)
    assert plan.errors == []
    assert plan.counts == {"新增": 1, "修改": 0, "未变": 1}
    pipeline.commit(plan, fresh)
    after = _table(fresh, "indicators").set_index("id")
    for c in ("name_en", "domain", "source", "seq", "description", "higher_is_better", "cumulative", "report_level"):
        assert after.loc[S, c] == old[c], c
    new = after.loc["zz_new"]
    assert (new["name_en"], new["domain"], new["description"], new["source"]) == ("", "其他", "", "partial.csv")
    assert new["seq"] == before["seq"].max() + 1 and bool(new["higher_is_better"]) is True
    kept = after.drop(index="zz_new")
    assert kept[before.columns].sort_index().equals(before.sort_index())
    assert kept.drop(columns=before.columns).isna().all().all()  # a field added since (minsheng/fields.py): empty


FIELDS = [("英文名称", "name_en", "Other name"), ("领域", "domain", "医保"), ("越大越好", "higher_is_better", "否"),
          ("说明", "description", "新说明"), ("来源", "source", "新来源"), ("累计", "cumulative", "是"),
          ("报送级别", "report_level", "乡镇")]


@pytest.mark.parametrize("header, column, value", FIELDS)
def test_the_preview_shows_a_change_in_any_indicator_field(shared, header, column, value):
    data = csv(f"指标编码,指标名称,单位,类型,频度,{header}", f"{S},城市低保标准,元/月,标准,年度,{value}")
    plan = pipeline.prepare(data, "one.csv", shared)
    assert plan.errors == []
    assert plan.counts == {"新增": 0, "修改": 1, "未变": 0}
    [said] = plan.changes["修改内容"].tolist()
    assert said.startswith(f"{header}：") and " → " in said and "；" not in said, said


def test_the_preview_says_old_and_new_for_each_changed_field(shared):
    data = csv("指标编码,指标名称,单位,类型,频度,英文名称,领域", f"{S},城市低保标准,元/月,标准,年度,Other,医保")
    plan = pipeline.prepare(data, "two.csv", shared)
    assert plan.changes["修改内容"].tolist() == ["英文名称：Urban minimum living standard → Other；领域：民政 → 医保"]


def test_a_regions_file_without_coordinates_keeps_them(fresh):
    before = _table(fresh, "regions").set_index("code")
    plan = pipeline.prepare(csv("区划代码,名称", f"{QST},清水塘街道"), "names.csv", fresh)
    assert plan.errors == [] and plan.counts == {"新增": 0, "修改": 0, "未变": 1}
    moved = pipeline.prepare(csv("区划代码,名称,经度,纬度", f"{QST},清水塘街道,113.5,27.5"), "xy.csv", fresh)
    assert moved.counts["修改"] == 1 and moved.changes["修改内容"].iloc[0].startswith("经度：")
    pipeline.commit(plan, fresh)
    after = _table(fresh, "regions").set_index("code")
    assert (after.loc[QST, "lon"], after.loc[QST, "lat"]) == (before.loc[QST, "lon"], before.loc[QST, "lat"])


def test_a_targets_file_without_task_or_deadline_keeps_them(fresh):
    cur = _table(fresh, "targets")
    row = cur[(cur.indicator_id == "rs_skill_training") & (cur.region_code == CITY) & (cur.year == 2026)].iloc[0]
    old_deadline = pd.Timestamp(row["deadline"]).date()
    data = csv("指标编码,区划代码,年度,目标值,部门", f"rs_skill_training,{CITY},2026,{row['target']:g},{row['department']}")
    plan = pipeline.prepare(data, "t.csv", fresh)
    assert plan.errors == [] and plan.counts == {"新增": 0, "修改": 0, "未变": 1}
    assert plan.changes.empty
    changed = pipeline.prepare(csv("指标编码,区划代码,年度,目标值,部门,任务",
                                   f"rs_skill_training,{CITY},2026,901,{row['department']},新任务"), "t2.csv", fresh)
    assert changed.changes["修改内容"].tolist() == [f"目标值：{row['target']:g} → 901；任务：{row['task']} → 新任务"]
    pipeline.commit(changed, fresh)
    after = _table(fresh, "targets")
    got = after[(after.indicator_id == "rs_skill_training") & (after.region_code == CITY) & (after.year == 2026)].iloc[0]
    assert pd.Timestamp(got["deadline"]).date() == old_deadline and got["task"] == "新任务"


def test_an_observations_file_without_a_source_column_keeps_the_source(fresh):
    old = "演示数据生成器"  # the demo's source of every row; 清水塘街道 had 77 in 2026-09
    same = pipeline.prepare(csv("指标编码,区划代码,时期,数值", f"{U},{QST},2026-09,77"), "same.csv", fresh)
    assert same.errors == [] and same.counts == {"新增": 0, "修改": 0, "未变": 1}
    named = pipeline.prepare(csv("指标编码,区划代码,时期,数值,来源", f"{U},{QST},2026-09,77,石峰区月报"), "n.csv", fresh)
    assert named.counts == {"新增": 0, "修改": 1, "未变": 0}
    assert named.changes["修改内容"].tolist() == [f"来源：{old} → 石峰区月报"]
    pipeline.commit(same, fresh)
    got = _table(fresh, "observations")
    got = got[(got.indicator_id == U) & (got.region_code == QST) & (pd.to_datetime(got.period) == "2026-09-01")]
    assert got["source"].tolist() == [old] and got["value"].tolist() == [77]


def test_the_preview_words_a_level_by_its_label(shared):
    plan = pipeline.prepare(csv("指标编码,指标名称,单位,类型,频度,报送级别", f"{S},城市低保标准,元/月,标准,年度,乡镇"),
                            "lv.csv", shared)
    assert plan.changes["修改内容"].tolist() == ["报送级别：县（市、区） → 乡镇（街道）"]


@pytest.mark.parametrize("column", ["kind", "frequency"])
def test_an_empty_kind_or_frequency_cell_is_called_empty_not_none(column):
    header = contract.KINDS["indicators"][column].header
    [(line, at, message)] = errors_of(one_row("indicators", {**INDICATOR, column: None}))
    assert (line, at) == (2, header)
    assert "None" not in message and message.startswith(f"“{header}”为空"), message


# --- 14. numbers: finite, ASCII (or full-width) digits, within each kind's bounds -------------------------

def obs(value: str | None, indicator: str = U, region: str = QST, period: str = "2026-12", **more) -> validate.Parsed:
    return one_row("observations", dict(indicator_id=indicator, region_code=region, period=period, value=value, **more))


@pytest.mark.parametrize("text", ["1.7e308", "1e999", "inf", "-inf", "nan", "Infinity", "1e12", "2e12"])
def test_huge_and_non_finite_counts_are_refused(text):
    [(line, header, message)] = errors_of(obs(text))
    assert (line, header) == (2, "数值"), message


@pytest.mark.parametrize("text, kind_of", [("1e12", S), ("1.7e308", S)])
def test_huge_standards_are_refused(text, kind_of):
    [(line, header, _)] = errors_of(obs(text, kind_of, SF, "2026"))
    assert (line, header) == (2, "数值")


@pytest.mark.parametrize("text", ["١٢٣", "۱۲۳", "१२३", "১২৩", "๑๒๓", "²", "1²", "12_000", "Ⅻ", "𝟏𝟐"])
def test_digits_of_other_scripts_and_superscripts_are_not_numbers(text):
    [(line, header, message)] = errors_of(obs(text))
    assert (line, header) == (2, "数值") and "不是数字" in message


@pytest.mark.parametrize("text, value", [("１２３", 123.0), ("１，２３４．５", 1234.5), ("９８％", 98.0), ("1,234", 1234.0),
                                         ("999999999999", 999999999999.0), ("1.5e3", 1500.0)])
def test_full_width_ascii_digits_read_as_their_ascii_number(text, value):
    parsed = obs(text)
    assert errors_of(parsed) == []
    assert parsed.rows["value"].tolist() == [value]


@pytest.mark.parametrize("period", ["٢٠٢٦-١٢", "२०२६-१२", "2026-١٢", "²⁰²⁶-12"])
def test_periods_in_other_scripts_digits_are_refused(period):
    [(line, header, _)] = errors_of(obs("5", period=period))
    assert (line, header) == (2, "时期")


def test_full_width_periods_and_codes_read_as_ascii():
    parsed = obs("5", region="４３０２０４９０１０００", period="２０２６-１２")
    assert errors_of(parsed) == []
    assert parsed.rows[["region_code", "period"]].values.tolist() == [[QST, dt.date(2026, 12, 1)]]


@pytest.mark.parametrize("code", ["٤٣٠٢٠٤٩٠٩٠٠٠", "४३०२०४९०९०००", "43020490900²"])
def test_region_codes_in_other_scripts_digits_are_refused(code):
    [(line, header, _)] = errors_of(one_row("regions", {**REGION, "code": code}))
    assert (line, header) == (2, "区划代码")


@pytest.mark.parametrize("deadline", ["2027-02-31", "٢٠٢٧-١٢-٣١"])
def test_a_deadline_off_the_calendar_or_in_other_digits_is_refused(deadline):
    [(line, header, _)] = errors_of(one_row("targets", {**TARGET, "deadline": deadline}))
    assert (line, header) == (2, "截止日期")


@pytest.mark.parametrize("num, den", [("1e12", "2e12"), ("1.7e308", "1.7e308"), ("１", "١")])
def test_rate_numerator_and_denominator_are_bounded_numbers(num, den):
    parsed = obs(None, R, QST, "2026", numerator=num, denominator=den)
    headers = [h for _, h, _ in errors_of(parsed)]
    assert headers and set(headers) <= {"分子", "分母"}, errors_of(parsed)


@pytest.mark.parametrize("target", ["1e12", "1.7e308", "inf", "١٠"])
def test_targets_are_bounded(target):
    [(line, header, _)] = errors_of(one_row("targets", {**TARGET, "target": target}))
    assert (line, header) == (2, "目标值")


def test_a_rate_target_above_100_is_refused():
    [(line, header, message)] = errors_of(one_row("targets", {**TARGET, "indicator_id": R, "target": "101"}))
    assert (line, header) == (2, "目标值") and "100" in message


@pytest.mark.parametrize("lon, lat, at", [("1e308", "27.8", "经度"), ("113.1", "-1e308", "纬度"), ("200", "27.8", "经度"),
                                         ("113.1", None, "纬度"), (None, "27.8", "经度")])
def test_coordinates_are_bounded_one_by_one(lon, lat, at):
    parsed = one_row("regions", {**REGION, "lon": lon, "lat": lat})
    assert [h for _, h, _ in errors_of(parsed)] == [at], errors_of(parsed)


def test_a_roll_up_of_values_at_the_bound_stays_finite(fresh):
    big = 999_999_999_999
    lines = [f"{U},{code},2026-12,{big}" for code in SF_TOWNSHIPS]
    plan = pipeline.prepare(csv("指标编码,区划代码,时期,数值", *lines), "big.csv", fresh)
    assert plan.errors == [], [str(p) for p in plan.errors]
    pipeline.commit(plan, fresh, accept_warnings=True)
    got = repo.series([U], [SF], dt.date(2026, 12, 1), dt.date(2026, 12, 1), directory=fresh)
    [total] = got["value"].tolist()
    assert math.isfinite(total) and total == pytest.approx(big * len(SF_TOWNSHIPS), rel=1e-12)
    huge = [f"{U},{code},2026-12,1.7e308" for code in SF_TOWNSHIPS]
    errors = refused(fresh, csv("指标编码,区划代码,时期,数值", *huge), "huge.csv")
    assert [e.row for e in errors] == list(range(2, 2 + len(SF_TOWNSHIPS)))


# --- found by the attack on the merged fixes ------------------------------------------------------

@pytest.mark.parametrize("text", ["1,5", "12,34,5", "1,,,2", "1 2", "1234,567"])
def test_misplaced_thousands_separators_and_inner_spaces_are_not_numbers(text):
    """Read as 15, 12345, 12, 12 and 1234567 before: a typo a clerk would sign off."""
    [(line, header, _)] = errors_of(obs(text))
    assert (line, header) == (2, "数值")


@pytest.mark.parametrize("text, number", [("1,234", 1234.0), ("1,234,567.5", 1234567.5), ("-0", 0.0), ("12", 12.0)])
def test_well_grouped_numbers_read_and_minus_zero_is_zero(text, number):
    parsed = obs(text)
    assert errors_of(parsed) == []
    value = parsed.rows["value"].iloc[0]
    assert value == number and math.copysign(1, value) == 1


def test_a_period_after_this_month_is_refused():
    """One row dated 2062 moved the data date (and every user's default year) forward."""
    later = dt.date.today().replace(day=1) + dt.timedelta(days=32)
    [(line, header, message)] = errors_of(obs("5", period=f"{later.year}-{later.month:02d}"))
    assert (line, header) == (2, "时期") and "晚于本月" in message
    assert errors_of(obs("5", period=f"{dt.date.today():%Y-%m}")) == []


def test_a_hidden_character_in_a_cell_is_quoted_by_code_point():
    """Messages are printed by the command line too: an escape sequence there clears the screen."""
    for parsed in (obs("\x1b[2J5"), obs("5", period="2026\x1b[8m-01"), obs("5", region="4302\x1b]0;x\x07")):
        [(_, _, message)] = errors_of(parsed)
        assert not {"\x1b", "\x07"} & set(message) and "U+001B" in message, message


def test_an_upload_name_is_stored_without_hidden_characters_and_bounded(fresh):
    """The file name becomes a new row's 来源 and the history's file: no escape sequence, no direction
    override, and at most 120 characters, the suffix kept."""
    name = "x\u202egpj.csv\x1b[8m" + "长" * 300 + ".csv"
    plan = pipeline.prepare(csv("指标编码,区划代码,时期,数值", f"{U},{QST},2026-11,300"), name, fresh)
    assert not plan.errors, [str(p) for p in plan.errors]
    assert plan.file.startswith("xgpj.csv[8m长") and plan.file.endswith("….csv") and len(plan.file) == 120
    assert set(plan.rows["source"]) <= {plan.file}


def test_the_problem_table_leaves_what_does_not_apply_blank():
    """A CSV has no sheet and a file-level problem no column: the clerk saw "None" in both."""
    [row] = as_frame([error("坏.csv", "这一行有 5 列", row=2)]).to_dict("records")
    assert (row["工作表"], row["列"], row["行"]) == ("", "", 2)
