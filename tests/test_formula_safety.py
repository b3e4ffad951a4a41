"""No file the product writes holds a live formula (issue 11, item 4).

Names that begin with = + - @ are accepted on import (through the real pipeline here) and
neutralised on output: in CSV (UTF-8 and GBK, command line and page), XLSX (数据 and 说明), the
import templates, the problem list and PPTX tables, each such text cell begins with a single
apostrophe and otherwise reads the same, while numbers (a negative one included) stay numbers.
Expected values are the hostile names themselves, written down here, not the product's output.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
import subprocess
import sys
import zipfile

import openpyxl
import pandas as pd
import pytest
from pptx import Presentation

from conftest import CITY, JIA, JIA1, JIA2, ROOT, YI, fixture_tables
from minsheng import changes, export, repo, safe_cells, slides, store
from minsheng.ingest import pipeline, template
from minsheng.ingest.problems import as_frame

LINK = '=HYPERLINK("http://198.51.100.7","x")'
HOSTILE = [LINK, "+1+1", "-2+3", "@SUM(A1)", "=1+1"]
TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
REGION_NAMES = {CITY: "=1+1", JIA: LINK, YI: "+1+1", JIA1: "-2+3", JIA2: "@SUM(A1)"}
NEGATIVE = -3.5  # 乙县's 资金 2023, written into the store as a number


def quoted(name: str) -> str:
    return "'" + name


def commit(directory, name: str, df: pd.DataFrame) -> None:
    """Import a CSV through the pipeline the page and the command line use, warnings accepted."""
    plan = pipeline.prepare(df.to_csv(index=False).encode("utf-8"), name, directory)
    assert not plan.errors, [str(p) for p in plan.errors]
    changes.commit(plan, actor="test", source="test", accept_warnings=True, directory=directory)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The fixture data with every text field an importer may fill set to a formula-like name."""
    d = tmp_path_factory.mktemp("hostile") / "data"
    t = fixture_tables()
    obs = t["observations"]
    obs.loc[(obs["indicator_id"] == "amt") & (obs["region_code"] == YI), "value"] = NEGATIVE
    store.write_tables(d, t, {"title": "测试数据", "demo": False, "data_date": "2023-03-31"})
    commit(d, "regions.csv", pd.DataFrame(dict(code=list(REGION_NAMES), name=list(REGION_NAMES.values()))))
    ind = t["indicators"].assign(name_zh=HOSTILE, source=LINK, domain="@SUM(A1)")
    commit(d, "indicators.csv", ind.drop(columns=["seq"]))
    # The import refuses = + @ in a unit (a unit is short plain text): such units can only be data
    # that predates that check, so they go in as a version of their own, below the importer.
    units = repo.indicators(d).assign(unit=["@SUM(A1)", "-2+3", "%", "=1+1", "+1+1"])
    store.commit(d, {"indicators": units[pd.read_parquet(store.table_path(store.resolve(d), "indicators")).columns]})
    commit(d, "targets.csv", t["targets"].assign(department=[LINK, "-2+3"], task=["+1+1", "@SUM(A1)"]))
    rows = obs[obs["indicator_id"] == "cnt"].head(4).assign(source=["=1+1", LINK, "@SUM(A1)", "-2+3"], value=99)
    commit(d, "observations.csv", rows[["indicator_id", "region_code", "period", "value", "source"]])
    stored = repo.regions(d)
    assert REGION_NAMES.items() <= dict(zip(stored["code"], stored["name"])).items()  # accepted, stored as written
    return d


def everything(directory):
    return export.check(["cnt", "stock", "rate", "std", "amt"], CITY, None, None, None, directory=directory)


def every_level(directory):
    return [everything(directory).with_(level=lv) for lv in (None, "county", "township")]


# --- what a safe file looks like ---------------------------------------------------------------

def csv_cells(data: bytes, encoding: str) -> list[list]:
    """The CSV's rows as a spreadsheet's reader sees them; every text field must be quoted (so that a
    separator inside a name cannot start a new cell): read again with unquoted fields as floats,
    a text field left unquoted fails."""
    text = data.decode(encoding)
    rows = list(csv.reader(io.StringIO(text)))
    assert_inert_texts(c for r in rows for c in r)
    typed = list(csv.reader(io.StringIO(text), quoting=csv.QUOTE_NONNUMERIC))
    assert [[str(c) for c in r] for r in typed if r][:1] == rows[:1]
    return typed


def assert_inert_texts(texts) -> None:
    """No text begins with a formula trigger unless it is a plain number, or digits behind the tab
    that keeps a CSV's code as text (issue 12)."""
    bad = [t for t in texts if isinstance(t, str) and t[:1] in TRIGGERS and not re.fullmatch(r"-?\d+(\.\d+)?|\t\d+", t)]
    assert not bad, bad


def assert_export_csv(data: bytes, encoding: str) -> None:
    rows = csv_cells(data, encoding)
    head, body = rows[0], rows[1:]
    table = pd.DataFrame(body, columns=head)
    names = set(table["区划名称"])
    assert {quoted(REGION_NAMES[c]) for c in (JIA, YI)} <= names and "=1+1" not in names
    assert set(table["指标名称"]) <= {quoted(n) for n in HOSTILE}
    assert any(s.startswith(quoted(LINK)) for s in table["来源"])  # a county's: its townships' sources
    amt = table[(table["指标编码"] == "amt") & (table["区划代码"].str.strip() == YI)]
    assert amt["数值"].tolist() == [NEGATIVE]  # a float: the reader saw it unquoted, a number


def sheet_xml(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/sheet")}


def assert_no_formula_cells(data: bytes, texts: bool = True) -> openpyxl.Workbook:
    """No <f> element in any sheet, no cell openpyxl reads as a formula, and (with `texts`) no text
    that begins with a trigger unneutralised."""
    xml = sheet_xml(data)
    assert xml and not [n for n, x in xml.items() if re.search(r"<f[\s>/]", x)], "a cell holds a formula"
    wb = openpyxl.load_workbook(io.BytesIO(data))
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    if texts:
        assert_inert_texts(c.value for c in cells)
    return wb


# --- the data export ---------------------------------------------------------------------------

def run_cli(*args, data_dir):
    env = {"MINSHENG_DATA": str(data_dir), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "minsheng", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_cli_csv_has_no_live_formula(hostile, tmp_path, encoding):
    out = tmp_path / "out.csv"
    r = run_cli("export", "--indicator", "cnt,stock,rate,std,amt", "--level", "county", "--encoding", encoding,
                "--out", str(out), data_dir=hostile)
    assert r.returncode == 0, r.stderr
    assert_export_csv(out.read_bytes(), encoding)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_page_csv_has_no_live_formula(hostile, encoding):
    for sel in every_level(hostile):
        csv_cells(export.payload(sel, "csv", hostile, encoding), encoding)
    assert_export_csv(export.payload(every_level(hostile)[1], "csv", hostile, encoding), encoding)
    # the whole-table writer (problem lists use it too) follows the same rules
    assert_export_csv(export.to_csv(export.table(every_level(hostile)[1], hostile), encoding), encoding)


def assert_export_xlsx(data: bytes) -> None:
    wb = assert_no_formula_cells(data)
    ws = wb["数据"]
    head = [c.value for c in ws[1]]
    table = pd.DataFrame([[c.value for c in r] for r in ws.iter_rows(min_row=2)], columns=head)
    assert {quoted(REGION_NAMES[c]) for c in (JIA, YI)} <= set(table["区划名称"])
    assert set(table["指标名称"]) <= {quoted(n) for n in HOSTILE}
    assert any(s.startswith(quoted(LINK)) for s in table["来源"])
    amt = table[(table["指标编码"] == "amt") & (table["区划代码"] == YI)]
    assert amt["数值"].tolist() == [NEGATIVE]
    number = next(c for c in ws.iter_rows(min_row=2) if c[0].value == "amt" and c[2].value == YI)[head.index("数值")]
    assert number.data_type == "n"
    meta = {r[0].value: r[1].value for r in wb["说明"].iter_rows(min_row=2)}
    assert meta["区域"].startswith(quoted("=1+1")) and meta["来源"].startswith("'")


def test_cli_xlsx_has_no_formula_cell(hostile, tmp_path):
    out = tmp_path / "out.xlsx"
    r = run_cli("export", "--indicator", "cnt,stock,rate,std,amt", "--level", "county", "--out", str(out),
                data_dir=hostile)
    assert r.returncode == 0, r.stderr
    assert_export_xlsx(out.read_bytes())


def test_page_xlsx_has_no_formula_cell(hostile):
    for sel in every_level(hostile):
        assert_no_formula_cells(export.payload(sel, "xlsx", hostile))
    assert_export_xlsx(export.payload(every_level(hostile)[1], "xlsx", hostile))
    sel = every_level(hostile)[1]
    df = export.table(sel, hostile)
    assert_export_xlsx(export.to_xlsx(df, export.metadata(sel, df, hostile)))


@pytest.mark.skipif(not (shutil.which("soffice") or shutil.which("libreoffice")), reason="LibreOffice not installed")
def test_libreoffice_reads_the_csv_without_formulas(hostile, tmp_path):
    src = tmp_path / "export.csv"
    src.write_bytes(export.payload(every_level(hostile)[1], "csv", hostile))
    office = shutil.which("soffice") or shutil.which("libreoffice")
    # comma, double quote, UTF-8, from line 1, … , evaluate formulas: read as harshly as Excel does
    subprocess.run([office, "--headless", "--infilter=CSV:44,34,76,1,,0,false,true,false,false,false,-1,true",
                    "--convert-to", "xlsx", "--outdir",
                    str(tmp_path), str(src)], check=True, timeout=180, capture_output=True,
                   env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    # how it shows the apostrophe is LibreOffice's business; no cell may be a formula
    assert_no_formula_cells((tmp_path / "export.xlsx").read_bytes(), texts=False)


# --- templates, the problem list, decks, file names ---------------------------------------------

@pytest.mark.parametrize("kind", ["observations", "targets", "regions", "indicators"])
def test_templates_have_no_formula_cell(hostile, kind):
    wb = assert_no_formula_cells(template.template_bytes(kind, repo.indicators(hostile), repo.regions(hostile)))
    codes = {c.value for row in wb[template.CODES].iter_rows() for c in row}
    assert {quoted(n) for n in HOSTILE} <= codes  # indicator and region names, quoted, still there
    if kind == "indicators":
        assert quoted("@SUM(A1)") in codes  # the hostile domain in the 领域 list


def test_problem_list_has_no_live_formula(hostile):
    bad = pd.DataFrame(dict(indicator_id=["cnt", "+1+1"], region_code=[LINK, JIA1], period=["2023-01", "2023-01"],
                            value=["@SUM(A1)", "-2+3"]))
    plan = pipeline.prepare(bad.to_csv(index=False).encode(), "=1+1.csv", hostile)
    assert plan.errors
    data = export.to_csv(as_frame(plan.problems))  # what 下载问题清单 on the 导入 page serves
    rows = csv_cells(data, "utf-8-sig")
    assert {r[rows[0].index("文件")] for r in rows[1:]} == {quoted("=1+1.csv")}


def test_deck_tables_are_inert_and_keep_numbers():
    rows = [[n, "-3.5", "+4.0%", "-1,234"] for n in HOSTILE]
    deck = slides.deck("数据", "测试市", [slides.Table("表", ["名称", "数值", "变化", "人数"], rows)], [], False,
                       origin=lambda source, period: f"区域：测试市 · 来源：{source}")
    prs = Presentation(io.BytesIO(deck))
    table = next(s.table for slide in prs.slides for s in slide.shapes if s.has_table and s.table.cell(0, 0).text == "名称")
    got = [[table.cell(i, j).text for j in range(4)] for i in range(1, len(rows) + 1)]
    assert got == [[quoted(n), "-3.5", "+4.0%", "-1,234"] for n in HOSTILE]


def test_the_neutraliser_covers_owasps_triggers_and_leaves_numbers():
    for t in ["=1+1", "+1+1", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1", "\n=1+1", "  =1+1", "-", "+"]:
        assert safe_cells.text(t) == "'" + t
    for t in ["-3.5", "+4.0%", "-1,234", "-1e5", "测试市", "a=b", "", None, -3.5, dt.date(2023, 1, 1)]:
        assert safe_cells.text(t) == t
    df = pd.DataFrame({"名称": ["=1+1", "甲县", None], "数值": [-3.5, 2.0, None], "代码": ["-1", "2", "3"]})
    out = safe_cells.frame(df)
    assert out["名称"].tolist()[:2] == ["'=1+1", "甲县"] and pd.isna(out["名称"].iloc[2])
    assert out["数值"].dtype == df["数值"].dtype and out["数值"].iloc[0] == -3.5
    assert out["代码"].tolist() == ["-1", "2", "3"] and df["名称"].iloc[0] == "=1+1"  # a copy


def test_download_file_names_carry_no_trigger():
    assert safe_cells.file_name(LINK) == "HYPERLINK(_http_198.51.100.7_,_x_)"
    assert safe_cells.file_name("-2+3_问题清单") == "2+3_问题清单"
    assert safe_cells.file_name("@SUM(A1) · 2023") == "SUM(A1)_·_2023"
    assert safe_cells.file_name("=../") == "导出"


def test_tables_on_pages_offer_no_unneutralised_csv_download():
    """st.dataframe's own "Download as CSV" writes cells verbatim (and skips the role check and
    the audit): the app turns it off, so every download goes through the neutralised writers."""
    code = "from streamlit import config; config.get_config_options(force_reparse=True); " \
           "print(config.get_option('client.disableDataExport'))"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "True", r.stderr


def test_a_neutralised_name_imported_again_reads_as_written(hostile, tmp_path):
    """A clerk exports regions, fixes a number and imports the file again: the apostrophe the export
    put before `=HYPERLINK(…)` must not become part of the region's name."""
    d = tmp_path / "data"
    shutil.copytree(hostile, d)
    exported = export.to_csv(repo.regions(d)[["code", "name"]])
    assert quoted(LINK.replace('"', '""')) in exported.decode("utf-8-sig")  # the export neutralised it
    plan = pipeline.prepare(exported, "regions.csv", d)
    assert not plan.errors, [str(p) for p in plan.errors]
    assert plan.counts.get("修改", 0) == 0, plan.changes  # nothing changes: every name reads back as stored
    assert dict(zip(plan.rows["code"], plan.rows["name"]))[JIA] == LINK


def test_a_character_xml_cannot_hold_does_not_stop_an_xlsx():
    """Data stored before the import's text rule may hold a control character; openpyxl refuses to
    write one, which stopped the whole export. The cell shows U+FFFD in its place instead."""
    wb = openpyxl.Workbook()
    safe_cells.set_cell(wb.active["A1"], "甲\x1b[8m乙")
    out = io.BytesIO()
    wb.save(out)
    assert openpyxl.load_workbook(out).active["A1"].value == "甲\ufffd[8m乙"
