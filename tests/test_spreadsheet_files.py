"""Export files open right in a spreadsheet (issue 12, item 12).

A real spreadsheet program reads the files here: LibreOffice headless (Debian's
libreoffice-calc-nogui, `make test-deps`) converts our CSV and XLSX, and the cells it made are read
back. Region codes must stay text with all 12 digits (Excel and WPS show a number-looking code as
4.30205E+11), counts are written as integers, the 数据 page offers the command line's encodings, and
demo data says so in the file. Expected values come from the fixture tables (tests/conftest.py)
and from arithmetic written here, never from the product's own output.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
import subprocess
import sys
import zipfile

import openpyxl
import pytest
from conftest import CITY, JIA, JIA1, JIA2, ROOT, YI, YI1, fixture_tables
from test_session import deferred  # noqa: F401 (a fixture)

from minsheng import audit, export, store
from minsheng.ingest import pipeline

OFFICE = shutil.which("soffice") or shutil.which("libreoffice")
needs_office = pytest.mark.skipif(OFFICE is None, reason="LibreOffice (soffice) is not installed")
# comma, double quote, UTF-8, from line 1, standard columns, quoted fields NOT forced to text, special
# numbers detected, … , formulas evaluated: how a spreadsheet opens a CSV that nobody set up for it
HARSH_CSV = "CSV:44,34,76,1,,0,false,true,false,false,false,-1,true"
TOWNS = {JIA1, JIA2, YI1}
COUNTIES = {JIA, YI}
CODE_COLUMN = "区划代码"
# 2023 参保率 of 甲一镇 set to 1 in 3: a rate with decimals beside the fixture's whole-number ones
THIRD = (1.0, 3.0)


def tables():
    t = fixture_tables()
    obs = t["observations"]
    third = (obs["indicator_id"] == "rate") & (obs["region_code"] == JIA1) & (obs["period"] == dt.date(2023, 1, 1))
    obs.loc[third, ["numerator", "denominator", "value"]] = [*THIRD, 100 * THIRD[0] / THIRD[1]]
    return t


def make_store(directory, demo: bool):
    store.write_tables(directory, tables(), {"title": "测试数据", "demo": demo, "data_date": "2023-03-31"})
    return directory


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("sheets_demo") / "data", demo=True)


@pytest.fixture(scope="module")
def real_store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("sheets_real") / "data", demo=False)


def towns(directory, indicators=("cnt", "rate")):
    """The townships' own reports: what a county sends and may import again."""
    return export.check(list(indicators), CITY, "township", None, None, directory=directory)


def everything(directory):
    return export.check(["cnt", "stock", "rate", "std", "amt"], CITY, "county", None, None, directory=directory)


def csv_rows(data: bytes, encoding: str = "utf-8-sig") -> list[dict[str, str]]:
    """The CSV's fields exactly as written (text, before any spreadsheet reads them)."""
    return list(csv.DictReader(io.StringIO(data.decode(encoding))))


def office(src, fmt: str, outdir, infilter: str | None = None):
    """Convert `src` with LibreOffice headless (its own profile, no network); returns the new file."""
    outdir.mkdir(exist_ok=True)
    args = [OFFICE, "--headless", "--norestore", f"-env:UserInstallation=file://{outdir}/profile"]
    args += [f"--infilter={infilter}"] if infilter else []
    subprocess.run([*args, "--convert-to", fmt, "--outdir", str(outdir), str(src)], check=True, timeout=180,
                   capture_output=True, env={"HOME": str(outdir), "PATH": "/usr/bin:/bin"})
    return outdir / f"{src.stem}.{fmt.split(':')[0]}"


def sheet_cells(path, sheet=0):
    """(header, rows of openpyxl cells) of a workbook LibreOffice wrote."""
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[sheet] if isinstance(sheet, int) else wb[sheet]
    rows = list(ws.iter_rows())
    return [c.value for c in rows[0]], rows[1:]


def assert_codes_are_text(head, rows, expected: set[str]) -> None:
    """Every cell of 区划代码 is a text cell, and what it holds is one of the 12-digit codes written."""
    col = next(i for i, h in enumerate(head) if h == CODE_COLUMN)
    cells = [r[col] for r in rows]
    assert cells and {c.data_type for c in cells} == {"s"}, [(c.value, c.data_type) for c in cells[:3]]
    assert {c.value.strip() for c in cells} == expected
    assert all(re.fullmatch(r"\s*\d{12}", c.value) for c in cells)


# --- region codes in a real spreadsheet ---------------------------------------------------------

@needs_office
def test_libreoffice_reads_the_csv_codes_as_text_with_all_12_digits(real_store, tmp_path):
    src = tmp_path / "export.csv"
    src.write_bytes(export.payload(towns(real_store), "csv", real_store))
    head, rows = sheet_cells(office(src, "xlsx", tmp_path / "out", HARSH_CSV))
    assert_codes_are_text(head, rows, TOWNS)


@needs_office
def test_libreoffice_reads_the_gbk_csv_codes_as_text(real_store, tmp_path):
    src = tmp_path / "export.csv"
    src.write_bytes(export.payload(everything(real_store), "csv", real_store, "gbk"))
    gbk = HARSH_CSV.replace(",76,", ",85,")  # 85: LibreOffice's number for GBK (rtl_TextEncoding)
    head, rows = sheet_cells(office(src, "xlsx", tmp_path / "out", gbk))
    assert "区划名称" in head
    assert_codes_are_text(head, rows, COUNTIES)


@needs_office
def test_libreoffice_reads_the_xlsx_codes_as_text(real_store, tmp_path):
    src = tmp_path / "export.xlsx"
    src.write_bytes(export.payload(towns(real_store), "xlsx", real_store))
    head, rows = sheet_cells(office(src, "xlsx", tmp_path / "out"), "数据")
    assert_codes_are_text(head, rows, TOWNS)


# --- our own files import again -----------------------------------------------------------------

def imported_codes(data: bytes, file: str, directory) -> list[str]:
    plan = pipeline.prepare(data, file, directory)
    assert plan.kind == "observations" and not plan.errors, [str(p) for p in plan.problems[:5]]
    return sorted(plan.rows["region_code"])


def reported_codes(directory, indicators=("cnt", "rate")) -> list[str]:
    """The township rows the export holds, counted from the fixture tables."""
    obs = tables()["observations"]
    return sorted(obs[obs["indicator_id"].isin(indicators) & obs["region_code"].isin(TOWNS)]["region_code"])


def test_our_csv_and_xlsx_import_again_with_the_same_codes(real_store):
    sel = towns(real_store)
    for kind in ("csv", "xlsx"):
        assert imported_codes(export.payload(sel, kind, real_store), f"export.{kind}", real_store) == \
            reported_codes(real_store)
    gbk = export.payload(sel, "csv", real_store, "gbk")
    assert imported_codes(gbk, "export.csv", real_store) == reported_codes(real_store)


def test_a_demo_export_imports_again(demo_store):
    """The demo label in the header must not stop the file from importing."""
    data = export.payload(towns(demo_store), "csv", demo_store)
    assert imported_codes(data, "export.csv", demo_store) == reported_codes(demo_store)


@needs_office
def test_a_csv_saved_again_by_a_spreadsheet_imports_with_the_same_codes(real_store, tmp_path):
    """A clerk opens our CSV, saves it (as CSV, or as XLSX) and imports it: the codes are the same."""
    src = tmp_path / "export.csv"
    src.write_bytes(export.payload(towns(real_store), "csv", real_store))
    as_xlsx = office(src, "xlsx", tmp_path / "x", HARSH_CSV)
    as_csv = office(src, "csv:Text - txt - csv (StarCalc):44,34,76", tmp_path / "c", HARSH_CSV)
    for path in (as_xlsx, as_csv):
        assert imported_codes(path.read_bytes(), path.name, real_store) == reported_codes(real_store)


# --- numbers as written -------------------------------------------------------------------------

def expected_numbers():
    """What the CSV's 数值 field says for each township row, by hand: counts and other whole numbers
    bare, the 1-in-3 rate with the six decimals the export keeps."""
    obs = tables()["observations"]
    obs = obs[obs["indicator_id"].isin(["cnt", "rate"]) & obs["region_code"].isin(TOWNS)]
    out = {}
    for r in obs.itertuples():
        v = round(r.value, 6)
        out[(r.indicator_id, r.region_code, r.period.isoformat())] = str(int(v)) if v == int(v) else repr(v)
    return out


def test_csv_writes_counts_as_integers_and_keeps_decimals(real_store):
    rows = csv_rows(export.payload(towns(real_store), "csv", real_store))
    got = {(r["指标编码"], r[CODE_COLUMN].strip(), r["时期起始日"]): r["数值"] for r in rows}
    want = expected_numbers()
    assert got == want
    assert want[("rate", JIA1, "2023-01-01")] == "33.333333" and want[("cnt", YI1, "2023-03-01")] == "30"
    # the rate's parts too: 1 and 3, 90 and 100, not 1.0 and 100.0
    assert {(r["分子"], r["分母"]) for r in rows if r["指标编码"] == "rate"} >= {("1", "3"), ("10", "100")}
    assert {r["分子"] for r in rows if r["指标编码"] == "cnt"} == {""}  # empty stays empty
    amounts = csv_rows(export.payload(everything(real_store), "csv", real_store))
    assert sorted(r["数值"] for r in amounts if r["指标编码"] == "amt") == ["12.5", "7.5"]


def test_whole_numbers_lose_nothing_and_only_digit_text_gets_the_tab():
    import pandas as pd

    df = pd.DataFrame({"代码": ["430205000000", "0731", "12a", "-3.5", None, "=1+1"],
                       "数值": [106.0, -0.0, 1e16, 2.5, float("nan"), 33.333333]})
    rows = list(csv.reader(io.StringIO(export.to_csv(df).decode("utf-8-sig"))))[1:]
    assert [r[0] for r in rows] == ["\t430205000000", "\t0731", "12a", "-3.5", "", "'=1+1"]
    assert [r[1] for r in rows] == ["106", "0", "10000000000000000", "2.5", "", "33.333333"]
    assert [float(r[1]) for r in rows if r[1]] == [106.0, 0.0, 1e16, 2.5, 33.333333]  # the same numbers


def test_xlsx_writes_counts_as_integers_and_keeps_decimals(real_store):
    data = export.payload(towns(real_store), "xlsx", real_store)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb["数据"]
    head = [c.value for c in ws[1]]
    at = {h: i for i, h in enumerate(head)}
    got = {}
    for row in ws.iter_rows(min_row=2):
        v = row[at["数值"]]
        assert v.data_type == "n"
        got[(row[at["指标编码"]].value, row[at[CODE_COLUMN]].value, row[at["时期起始日"]].value.date().isoformat())] = v.value
    want = expected_numbers()
    assert {k: str(v) for k, v in got.items()} == want  # an int prints without ".0", the rate with its decimals
    xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert not re.search(r"<v>\d+\.0</v>", xml)


# --- encodings ----------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
def test_gbk_bytes_decode_as_gbk_with_the_chinese_header(real_store, encoding):
    data = export.payload(everything(real_store), "csv", real_store, encoding)
    assert not data.startswith(b"\xef\xbb\xbf")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    text = data.decode(encoding)
    assert text.startswith('"指标编码","指标名称","区划代码","区划名称"')
    assert "甲县" in text and "县（市、区）" in text


def test_the_page_offers_the_command_lines_encodings():
    """`python -m minsheng export --help` lists the encodings; the page's choice has the same ones."""
    r = subprocess.run([sys.executable, "-m", "minsheng", "export", "--help"], cwd=ROOT, capture_output=True,
                       text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"})
    cli = re.search(r"--encoding \{([^}]*)\}", r.stdout).group(1).split(",")
    assert "gbk" in cli and list(export.ENCODING_LABELS) == cli


# --- the demo label -----------------------------------------------------------------------------

def test_demo_csv_and_xlsx_say_demo_data(demo_store, real_store):
    for kind in ("csv", "xlsx"):
        demo = export.payload(towns(demo_store), kind, demo_store)
        real = export.payload(towns(real_store), kind, real_store)
        if kind == "csv":
            head = demo.decode("utf-8-sig").splitlines()[0]
            assert "演示数据" in head and "演示数据" not in real.decode("utf-8-sig")
            assert len(csv_rows(demo)) == len(csv_rows(real))  # no extra line: the header is still row 1
        else:
            wb = openpyxl.load_workbook(io.BytesIO(demo))
            assert any("演示数据" in str(c.value) for c in wb["数据"][1])
            assert any("演示数据" in str(v) for row in wb["说明"].iter_rows(values_only=True) for v in row)
            wb = openpyxl.load_workbook(io.BytesIO(real))
            assert not any("演示数据" in str(v) for ws in wb for row in ws.iter_rows(values_only=True) for v in row)
    assert "演示数据" in export.file_stem(towns(demo_store).with_(demo=True))
    assert "演示数据" not in export.file_stem(towns(real_store))


# --- the 数据 page ------------------------------------------------------------------------------

def test_explore_page_encoding_choice_changes_the_csv_download(demo_store, monkeypatch, deferred):  # noqa: F811
    """The choice is bound to the URL (?xenc=gbk) and the CSV button's file, as a click builds it
    through the audited download path, is in that encoding."""
    from test_pages import app

    def csv_download(at):
        button = next(b for b in at.get("download_button") if b.proto.label.startswith("下载 CSV"))
        return button.proto.label, deferred[button.proto.deferred_file_id]()

    monkeypatch.setenv("MINSHENG_DATA", str(demo_store))
    at = app("explore", region=CITY, xinds="cnt", xlevel="county")
    label, data = csv_download(at)
    assert label == "下载 CSV" and data.startswith(b"\xef\xbb\xbf") and at.query_params["xenc"] == "utf-8-sig"
    at.selectbox(key="_w_xenc").set_value("gbk").run()
    assert not at.exception and at.query_params["xenc"] == "gbk"
    label, data = csv_download(at)
    assert label == "下载 CSV（GBK）" and not data.startswith(b"\xef\xbb\xbf")
    text = data.decode("gbk")
    assert text.startswith('"指标编码","指标名称","区划代码"') and "甲县" in text and "数值（演示数据）" in text
    last = json.loads(audit.log_path().read_text(encoding="utf-8").splitlines()[-1])
    assert last["action"] == "export" and last["detail"]["format"] == "csv" and last["detail"]["encoding"] == "gbk"
    again = app("explore", region=CITY, xinds="cnt", xlevel="county", xenc="gbk")  # a copied link keeps it
    assert csv_download(again)[0] == "下载 CSV（GBK）"
