"""Import pipeline against a corpus of real files (tests/corpus, written by tools/make_corpus.py).

Every bad file gets its exact Chinese message at its row/column/sheet and leaves the data directory
byte-for-byte unchanged; every good file, in every accepted format, gives the same rows, commits,
and shows up in the queries. Only copies of data/ are ever written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import JIA, JIA1, ROOT, WITHOUT_RETURNS, YI, fixture_tables
from minsheng import repo, store
from minsheng.ingest import pipeline
from minsheng.ingest.problems import ImportRejected

CORPUS = ROOT / "tests" / "corpus"
BAD, GOOD_DIR = CORPUS / "bad", CORPUS / "good"
U, R, S = "mz_dibao_urban_persons", "yb_resident_insured_rate", "mz_dibao_std_urban"
QST, XSL, SF = "430204901000", "430204902000", "430204000000"
COLS = ["indicator_id", "region_code", "period", "value", "numerator", "denominator"]
NAN = float("nan")
# the rows every good observations file holds (tools/make_corpus.py GOOD), as the pipeline normalises them
REFERENCE = pd.DataFrame([
    (S, SF, dt.date(2026, 1, 1), 731.0, NAN, NAN),
    (U, QST, dt.date(2026, 9, 1), 77.0, NAN, NAN),      # unchanged
    (U, QST, dt.date(2026, 11, 1), 83.0, NAN, NAN),
    (U, XSL, dt.date(2026, 9, 1), 139.0, NAN, NAN),     # was 138
    (U, XSL, dt.date(2026, 11, 1), 142.0, NAN, NAN),
    (R, QST, dt.date(2026, 1, 1), 98.4, 12300.0, 12500.0),
    (R, XSL, dt.date(2026, 1, 1), 98.0, 23030.0, 23500.0),
], columns=COLS)

def fingerprint(directory: Path) -> dict[str, str]:
    """SHA-256 of every file (hidden .versions included) and the set of folders under a directory."""
    out = {}
    for root, dirs, files in os.walk(directory):
        rel = Path(root).relative_to(directory)
        out[f"{rel}/"] = "dir"
        for f in files:
            out[str(rel / f)] = hashlib.sha256((Path(root) / f).read_bytes()).hexdigest()
    return out


def copy_data(dest: Path) -> Path:
    shutil.copytree(ROOT / "data", dest, ignore=WITHOUT_RETURNS)
    return dest


@pytest.fixture(scope="module")
def shared_copy(tmp_path_factory) -> Path:
    """One copy of the demo data for the read-only checks; nothing may ever be committed to it."""
    return copy_data(tmp_path_factory.mktemp("import") / "data")


@pytest.fixture
def fresh(tmp_path) -> Path:
    """A copy of the demo data that a test may commit into."""
    return copy_data(tmp_path / "data")


def clean(rows: pd.DataFrame) -> pd.DataFrame:
    out = rows[COLS].sort_values(COLS[:3]).reset_index(drop=True)
    return out.astype({"value": float, "numerator": float, "denominator": float})


def prepare(path: Path, directory: Path, **kw) -> pipeline.Plan:
    return pipeline.prepare(path.read_bytes(), path.name, directory, **kw)


# --- bad files ---------------------------------------------------------------------------------

def case(file, message, marks=(), prepare=None, **where):
    """One bad file: the message it must get, and where (sheet/row/column) when that applies."""
    return pytest.param(file, message, where, prepare or {}, marks=marks, id=file)


def gap(reason):
    """A problem the pipeline does not catch yet: strict, so the fix has to remove the mark."""
    return pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason)


CASES = [
    # reading: file type, encoding, size, workbook structure
    case("empty.csv", "文件为空（0 字节）", row=None),
    case("header_only.csv", "只有表头，没有数据行", row=None),
    case("header_only.xlsx", "只有表头，没有数据行", sheet="数据"),
    case("blank_workbook.xlsx", "工作簿中没有任何数据", row=None),
    case("bad_encoding.csv", "无法识别文件编码（不是 UTF-8，也不是 GBK/GB18030；第 19 字节附近）", row=None),
    case("random_bytes.xlsx", "无法作为 Excel 文件打开（BadZipFile）；文件可能已损坏或扩展名不对", row=None),
    case("truncated.xlsx", "无法作为 Excel 文件打开（BadZipFile）", row=None),
    case("truncated.xls", "无法作为 Excel 97-2003 (.xls) 文件打开", row=None),
    case("macro.xlsm", "不接受含宏的工作簿（.xlsm）。请另存为 .xlsx 后再导入", row=None),
    case("macro_renamed.xlsx", "工作簿含有宏（VBA）。请另存为不含宏的 .xlsx 后再导入", row=None),
    case("monthly_report.docx", "不支持的文件类型“.docx”。可导入 .xlsx、.xls、.csv、.parquet", row=None),
    case("scan.pdf", "不支持的文件类型“.pdf”", row=None),
    case("too_big.csv", "文件过大（", row=None, prepare=dict(max_bytes=200)),
    case("merged_header.xls", "表头有合并单元格（D–E 列）。请取消合并，每列只写一个列名", sheet="Sheet1", row=1),
    case("merged_header.xlsx", "表头有合并单元格（D–E 列）。请取消合并，每列只写一个列名", sheet="数据", row=1),
    case("formula_without_value.xlsx", "单元格 D2 是公式（=E2/F2*100），但没有保存计算结果", sheet="数据", row=2, column="数值"),
    case("duplicate_column.xlsx", "列名“数值”重复出现", sheet="数据", row=1, column="数值"),
    case("gbk_wrong_header.csv", "缺少“区划代码”或“区划名称”列", row=1),
    case("wide_without_indicator.xlsx", "这是一行一个区划、一列一个时期的宽表：请指定导入哪个指标", sheet="数据", row=1),
    # indicators and regions named in the rows
    case("indicator_name_not_id.csv", "未知指标编码“城市低保对象”。“城市低保对象”是指标名称，请填指标编码 mz_dibao_urban_persons",
         row=2, column="指标编码"),
    case("unknown_indicator.csv", "未知指标编码“mz_dibao_urban”。是否为：", row=2, column="指标编码"),
    case("unknown_code.csv", "区划代码“430204999000”不在区划表中", row=2, column="区划代码"),
    case("code_5_digits.csv", "区划代码“43020”应为 2、4、6、9 或 12 位数字", row=2, column="区划代码"),
    case("code_scientific_gbk.csv", "区划代码“4.30205E+11”应为 2、4、6、9 或 12 位数字", row=2, column="区划代码"),
    case("unknown_name.xlsx", "找不到名为“清水唐街道”的区划。是否为：清水塘街道？", sheet="数据", row=2, column="区划名称"),
    case("total_row.xlsx", "找不到名为“合计”的区划", sheet="数据", row=4, column="区划名称"),
    case("county_row_for_township_indicator.csv",
         "石峰区是县级，而指标“城市低保对象”按乡镇级报送（上级数值由系统汇总，不需填报）", row=2, column="区划代码"),
    case("code_name_mismatch.csv", "响石岭街道", row=2),
    # periods
    case("monthly_period_for_annual.csv", "时期“2026-10”是月度，但该指标按年度报送", row=2, column="时期"),
    case("annual_period_for_monthly.csv", "时期“2026”是年度，但该指标按月度报送", row=2, column="时期"),
    case("period_month_13.csv", "无法识别的时期“2026年13月”", row=2, column="时期"),
    case("period_decimal_month.xlsx", "2026.1", sheet="数据", row=2, column="时期"),
    # values
    case("text_in_number.xlsx", "“暂无”不是数字（请只填数字，不带单位或文字）", sheet="数据", row=2, column="数值"),
    case("number_with_unit.csv", "“120人”不是数字（请只填数字，不带单位或文字）", row=2, column="数值"),
    case("blank_value.csv", "“数值”为空（未报送请整行删除，不要填 0）", row=2, column="数值"),
    case("negative_count.csv", "计数/金额不能为负数：-5", row=2, column="数值"),
    case("negative_standard.xlsx", "标准不能为负数：-731", sheet="数据", row=2, column="数值"),
    case("rate_120.csv", "比率 120% 超出 0–100% 范围", row=2, column="数值"),
    case("rate_numerator_gt_denominator.csv", "分子 12600 大于分母 12500", row=2, column="分子"),
    case("rate_inconsistent.xlsx", "数值 95% 与 分子/分母 = 98.40% 不一致", sheet="数据", row=2, column="数值"),
    case("rate_numerator_only.csv", "分子和分母须同时填写", row=2, column="分子"),
    case("status_unknown.csv", "状态“已审核”应为 正式/初步（final/provisional）", row=2, column="状态"),
    case("duplicate_rows.csv", "与第 2 行重复：同一指标、区划、时期出现两次", row=3, column="时期"),
    case("duplicate_across_sheets.xlsx", "与其他工作表中的一行重复", sheet="10月", row=2),
    # targets, regions, indicator catalogue
    case("target_zero.xlsx", "目标值须为大于 0 的数字", sheet="目标", row=2, column="目标值"),
    case("target_year_chinese.csv", "年度“二〇二六”应为四位年份，如 2026", row=2, column="年度"),
    case("region_bad_level.csv", "级别“组”应为 市/县/乡镇/村（city/county/township/village）", row=2, column="级别"),
    case("region_level_mismatch.csv", "级别", row=2, column="级别"),
    case("region_unknown_parent.csv", "上级代码 430204999000 不在区划表或本文件中", row=2),
    case("region_lonlat_swapped.csv", "不在中国范围内；经度、纬度是否填反？", row=2, column="经度"),
    case("indicator_bad_kind.csv", "类型“百分比”应为 计数/金额/比率/标准（count/amount/rate/standard）", row=2, column="类型"),
]


@pytest.fixture(scope="module")
def pristine(shared_copy) -> dict[str, str]:
    return fingerprint(shared_copy)


@pytest.mark.parametrize("file, message, where, kw", CASES)
def test_bad_file_is_rejected_and_changes_nothing(file, message, where, kw, shared_copy, pristine):
    plan = prepare(BAD / file, shared_copy, **kw)
    try:
        hits = [p for p in plan.errors if message in p.message]
        assert hits, f"{file}: expected “{message}”, got {[str(p) for p in plan.problems]}"
        assert len(plan.errors) == 1, f"{file}: one problem per file, got {[str(p) for p in plan.errors]}"
        got = hits[0]
        assert got.file == file
        for attr, value in where.items():
            assert getattr(got, attr) == value, f"{file}: {attr} is {getattr(got, attr)!r}, expected {value!r}"
        assert plan.counts == {} and plan.merged is None
        with pytest.raises(ImportRejected) as rejected:
            pipeline.commit(plan, shared_copy)
        assert got in rejected.value.problems
    finally:
        assert fingerprint(shared_copy) == pristine, f"{file} changed the data directory"


def test_corpus_table_covers_every_bad_file():
    files = {p.name for p in BAD.iterdir()}
    listed = [c.values[0] for c in CASES]
    assert len(listed) == len(set(listed)), "a bad file is listed twice"
    assert len(files) >= 30
    assert files == set(listed), f"not in CASES: {files - set(listed)}; no such file: {set(listed) - files}"


def test_corpus_is_small():
    assert sum(p.stat().st_size for d in (BAD, GOOD_DIR) for p in d.iterdir()) < 300 * 1024


# --- good files ----------------------------------------------------------------------------------

FORMATS = ["observations.xlsx", "observations.xls", "observations_utf8.csv", "observations_utf8_bom.csv",
           "observations_gbk.csv", "observations.parquet", "observations_short_codes_dates.xlsx"]
WIDE = dict(indicator=U, within=SF)
GOOD_FILES = {**{f: ({}, REFERENCE, {"新增": 4, "修改": 1, "未变": 2}) for f in FORMATS},
              "wide_by_name.xlsx": (WIDE, REFERENCE[REFERENCE.indicator_id == U], {"新增": 2, "修改": 1, "未变": 1})}
# the xlsx names its source (石峰区民政局): a commit changes the source of the two rows whose value stays
GOOD_FILES["observations.xlsx"] = ({}, REFERENCE, {"新增": 4, "修改": 3, "未变": 0})


@pytest.mark.parametrize("file", list(GOOD_FILES))
def test_good_file_gives_the_reference_rows(file, shared_copy):
    kw, expected, counts = GOOD_FILES[file]
    plan = prepare(GOOD_DIR / file, shared_copy, **kw)
    assert plan.problems == [], [str(p) for p in plan.problems]
    assert plan.kind == "observations"
    pd.testing.assert_frame_equal(clean(plan.rows), clean(expected))
    assert plan.counts == counts
    changed = plan.changes
    moved = changed[changed["修改内容"].str.contains("数值：")]
    assert len(moved) == 1 and moved.iloc[0]["region_code"] == XSL
    assert (moved.iloc[0]["value（原）"], moved.iloc[0]["value"]) == (138.0, 139.0)
    assert all(s.startswith("来源：") and s.endswith(" → 石峰区民政局") and "；" not in s
               for s in changed.drop(moved.index)["修改内容"])


@pytest.mark.parametrize("file", list(GOOD_FILES))
def test_good_file_commits_and_reimports_as_unchanged(file, fresh):
    kw, expected, counts = GOOD_FILES[file]
    plan = prepare(GOOD_DIR / file, fresh, **kw)
    vid = pipeline.commit(plan, fresh)
    assert store.current(fresh) == vid
    got = repo.series([U], [QST, XSL], dt.date(2026, 9, 1), dt.date(2026, 11, 1), directory=fresh)
    values = {(r.region_code, r.period.strftime("%Y-%m")): r.value for r in got.itertuples()}
    assert values == {(QST, "2026-09"): 77, (XSL, "2026-09"): 139, (QST, "2026-10"): 82, (XSL, "2026-10"): 141,
                      (QST, "2026-11"): 83, (XSL, "2026-11"): 142}
    if file != "wide_by_name.xlsx":
        rate = repo.series([R], [QST, SF], dt.date(2026, 1, 1), dt.date(2026, 1, 1), directory=fresh)
        assert rate.set_index("region_code").loc[QST, "value"] == pytest.approx(98.4)
        assert store.read_meta(fresh)["data_date"] == "2026-11-30"
    again = prepare(GOOD_DIR / file, fresh, **kw)
    assert again.problems == []
    assert again.counts == {"新增": 0, "修改": 0, "未变": len(expected)}


def test_good_targets_file(fresh):
    plan = prepare(GOOD_DIR / "targets.xlsx", fresh)
    assert plan.problems == [] and plan.kind == "targets"
    assert plan.counts == {"新增": 1, "修改": 1, "未变": 0}
    pipeline.commit(plan, fresh)
    new = repo.targets(SF, 2027, directory=fresh).set_index("indicator_id")
    assert new.loc["mz_home_aging_mod", "target"] == 150
    assert str(new.loc["mz_home_aging_mod", "deadline"])[:10] == "2027-12-31"
    assert repo.targets(SF, 2026, directory=fresh).set_index("indicator_id").loc["rs_skill_training", "target"] == 60
    assert prepare(GOOD_DIR / "targets.xlsx", fresh).counts == {"新增": 0, "修改": 0, "未变": 2}


def test_good_regions_file_adds_a_village_under_its_township(fresh):
    plan = prepare(GOOD_DIR / "regions_new_village.csv", fresh)
    assert plan.problems == [] and plan.kind == "regions"
    assert plan.counts == {"新增": 1, "修改": 0, "未变": 0}
    pipeline.commit(plan, fresh)
    village = repo.regions(directory=fresh).set_index("code").loc["430204901001"]
    assert (village["name"], village["level"], village["parent_code"]) == ("霞湾社区", "village", QST)
    assert prepare(GOOD_DIR / "regions_new_village.csv", fresh).counts == {"新增": 0, "修改": 0, "未变": 1}


def test_wide_table_with_date_headers(shared_copy):
    plan = prepare(GOOD_DIR / "wide_date_headers.xlsx", shared_copy, **WIDE)
    assert plan.problems == [], [str(p) for p in plan.problems]
    pd.testing.assert_frame_equal(clean(plan.rows), clean(REFERENCE[REFERENCE.indicator_id == U]))


def test_every_good_file_is_used():
    used = set(GOOD_FILES) | {"targets.xlsx", "regions_new_village.csv", "warning_tenfold.csv", "wide_date_headers.xlsx",
                              "rate_percent_cell.xlsx"}
    assert {p.name for p in GOOD_DIR.iterdir()} == used


# --- warnings ----------------------------------------------------------------------------------

def test_tenfold_value_is_a_warning_that_needs_confirming(fresh):
    before = fingerprint(fresh)
    plan = prepare(GOOD_DIR / "warning_tenfold.csv", fresh)
    assert plan.errors == []
    [w] = plan.warnings
    assert "与上年同期相比变化超过 3 倍（上年 85，本次 850），请核实" in w.message and w.row == 2
    with pytest.raises(ImportRejected):
        pipeline.commit(plan, fresh)
    assert fingerprint(fresh) == before
    pipeline.commit(plan, fresh, accept_warnings=True)
    got = repo.series([U], [QST], dt.date(2026, 11, 1), dt.date(2026, 11, 1), directory=fresh)
    assert got["value"].tolist() == [850]


# --- names ---------------------------------------------------------------------------------------

def test_ambiguous_name_lists_candidates_and_within_resolves(tmp_path):
    tables = fixture_tables()
    twin = dict(code="990102002000", name="甲一镇", level="township", parent_code=YI, lon=113.22, lat=26.92)
    tables["regions"] = pd.concat([tables["regions"], pd.DataFrame([twin])], ignore_index=True)
    store.write_tables(tmp_path, tables, {"title": "测试数据", "demo": False, "data_date": "2023-03-31"})
    data = "指标编码,区划名称,时期,数值\r\ncnt,甲一镇,2023-04,7\r\n".encode("gbk")
    before = fingerprint(tmp_path)

    plan = pipeline.prepare(data, "同名.csv", tmp_path)
    [e] = plan.errors
    assert e.message == "区划名称“甲一镇”不唯一，请改填区划代码。候选：990101001000 甲县甲一镇；990102002000 乙县甲一镇"
    assert (e.row, e.column) == (2, "区划名称")
    with pytest.raises(ImportRejected):
        pipeline.commit(plan, tmp_path)
    assert fingerprint(tmp_path) == before

    for within, code in ((JIA, JIA1), (YI, "990102002000")):
        plan = pipeline.prepare(data, "同名.csv", tmp_path, within=within)
        assert plan.problems == []
        assert plan.rows["region_code"].tolist() == [code]


# --- command line ----------------------------------------------------------------------------------

def cli(*args, data: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "MINSHENG_DATA": str(data), "PYTHONIOENCODING": "utf-8", **(env or {})}
    return subprocess.run([sys.executable, "-m", "minsheng", "import", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_cli_rejects_a_bad_file(fresh):
    before = fingerprint(fresh)
    run = cli(BAD / "rate_120.csv", data=fresh)
    assert run.returncode == 2
    assert "比率 120% 超出 0–100% 范围" in run.stderr and "Traceback" not in run.stderr
    assert fingerprint(fresh) == before


def test_cli_dry_run_then_commit(fresh):
    before = fingerprint(fresh)
    run = cli(GOOD_DIR / "observations.xlsx", "--dry-run", data=fresh)
    assert run.returncode == 0, run.stderr
    assert fingerprint(fresh) == before
    run = cli(GOOD_DIR / "observations.xlsx", data=fresh)
    assert run.returncode == 0, run.stderr
    assert store.current(fresh) != store.BASE
    got = repo.series([U], [QST], dt.date(2026, 11, 1), dt.date(2026, 11, 1), directory=fresh)
    assert got["value"].tolist() == [83]


def test_percent_formatted_cell_reads_as_the_percentage_shown(shared_copy):
    """A cell formatted 0.0% shows 98.4% but holds 0.984: it must import as 98.4, not 0.984."""
    plan = prepare(GOOD_DIR / "rate_percent_cell.xlsx", shared_copy)
    assert not plan.errors, [str(p) for p in plan.errors]
    assert plan.rows["value"].tolist() == [pytest.approx(98.4)]


def _tables(directory: Path) -> dict[str, pd.DataFrame]:
    folder = store.resolve(directory)
    return {name: pd.read_parquet(store.table_path(folder, name)) for name in store.TABLES}


@pytest.mark.parametrize("step", ["delta-written", "derived-built", "before-rename", "renamed", "current-written", "switched"])
def test_import_killed_during_commit_leaves_old_or_new_data_whole(fresh, step):
    """`kill -9` of `python -m minsheng import` at each step of its commit: old or new, never a mix."""
    old = _tables(fresh)
    run = cli(GOOD_DIR / "observations_utf8.csv", data=fresh, env={"MINSHENG_CRASH_AT": step})
    assert run.returncode == -9, (run.returncode, run.stderr)
    now = _tables(fresh)
    landed = step == "switched"
    assert store.current(fresh) == (store.history(fresh)[0]["id"] if landed else store.BASE)
    for name in store.TABLES:
        if name != "observations" or not landed:
            pd.testing.assert_frame_equal(now[name], old[name])
    got = repo.series([U], [QST], dt.date(2026, 11, 1), dt.date(2026, 11, 1), directory=fresh)
    assert got["value"].tolist() == ([83] if landed else [])
    # the next import cleans up whatever the killed one left and lands normally
    again = cli(GOOD_DIR / "observations_utf8.csv", data=fresh)
    assert again.returncode == 0, again.stderr
    assert not list((fresh / ".versions").glob(".tmp-*"))


def test_two_imports_at_once_both_land(fresh):
    """Two clerks import different files at the same moment: the lock serialises the commits and
    the second re-merges onto the first, so neither file's rows are lost."""
    a, b = fresh.parent / "a.csv", fresh.parent / "b.csv"
    a.write_text(f"指标编码,区划代码,时期,数值\n{U},{QST},2026-12,91\n", encoding="utf-8")
    b.write_text(f"指标编码,区划代码,时期,数值\n{U},{XSL},2026-12,92\n", encoding="utf-8")
    env = {**os.environ, "MINSHENG_DATA": str(fresh)}
    procs = [subprocess.Popen([sys.executable, "-m", "minsheng", "import", str(f)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in (a, b)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    hist = store.history(fresh)
    assert {h["file_name"] for h in hist[:2]} == {"a.csv", "b.csv"}
    got = repo.series([U], [QST, XSL], dt.date(2026, 12, 1), dt.date(2026, 12, 1), directory=fresh)
    assert sorted(got["value"].tolist()) == [91, 92]


def test_a_bad_name_in_a_wide_table_is_listed_once_not_once_per_period(shared_copy, tmp_path):
    f = tmp_path / "wide.csv"
    f.write_text("指标编码,区划名称,2026-09,2026-10\nmz_dibao_urban_persons,不存在街道,1,2\n", encoding="utf-8-sig")
    plan = prepare(f, shared_copy)
    named = [p for p in plan.errors if "不存在街道" in p.message]
    assert len(named) == 1 and named[0].row == 2 and named[0].column == "区划名称"
