"""Exports from the 数据 page and `python -m minsheng export`: same rows, readable in Excel."""

import datetime as dt
import io
import subprocess
import sys

import openpyxl
import pandas as pd
import pytest

from conftest import CITY, JIA, ROOT, YI
from minsheng import export


def test_csv_has_bom_and_round_trips(fixture_dir):
    q = export.check(["rate"], CITY, "county", dt.date(2022, 1, 1), dt.date(2023, 12, 1), directory=fixture_dir)
    df = export.table(q, fixture_dir)
    data = export.to_csv(df)
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype={"区划代码": str})
    assert back.columns[:3].tolist() == ["指标编码", "指标名称", "区划代码"]
    assert back["区划代码"].str.startswith("\t").all()  # kept as text in a spreadsheet (README); a program strips it
    back["区划代码"] = back["区划代码"].str.strip()
    assert sorted(back["区划代码"].unique()) == [JIA, YI]
    assert back.set_index(["区划代码", "时期"]).loc[(JIA, "2023年"), "数值"] == pytest.approx(50.0)


def test_gbk_on_request(fixture_dir):
    q = export.check(["amt"], CITY, None, None, None, directory=fixture_dir)
    data = export.to_csv(export.table(q, fixture_dir), "gbk")
    assert "资金".encode("gbk") in data and not data.startswith(b"\xef\xbb\xbf")


def test_xlsx_has_data_and_metadata_sheets(fixture_dir):
    q = export.check(["std"], CITY, None, None, None, directory=fixture_dir)
    df = export.table(q, fixture_dir)
    wb = openpyxl.load_workbook(io.BytesIO(export.to_xlsx(df, export.metadata(q, df, fixture_dir))))
    assert wb.sheetnames == ["数据", "说明"]
    assert wb["数据"].max_row == len(df) + 1 == 3
    meta = {r[0]: r[1] for r in wb["说明"].iter_rows(min_row=2, values_only=True)}
    assert meta["区域"] == f"测试市（{CITY}）"
    assert "元/月" in meta["口径：低保标准"] and meta["数据日期"] == "2023-03-31"
    assert meta["来源"] == "测试来源std"


def test_level_selects_the_subtree_at_that_level(fixture_dir):
    q = export.check(["cnt"], CITY, "township", dt.date(2023, 3, 1), dt.date(2023, 3, 1), directory=fixture_dir)
    df = export.table(q, fixture_dir)
    assert df["数值"].tolist() == [6, 5, 30]
    q = export.check(["cnt"], JIA, "township", dt.date(2023, 3, 1), dt.date(2023, 3, 1), directory=fixture_dir)
    assert len(export.table(q, fixture_dir)) == 2


@pytest.mark.parametrize("kwargs,message", [
    (dict(indicators=["nope"]), "未知指标编码"),
    (dict(indicators=["cnt"], region="123"), "未知区划代码"),
    (dict(indicators=["cnt"], level="planet"), "未知级别"),
    (dict(indicators=["cnt"], date_from=dt.date(2024, 1, 1), date_to=dt.date(2023, 1, 1)), "起始时期晚于结束时期"),
])
def test_bad_filters_are_refused_in_chinese(fixture_dir, kwargs, message):
    args = dict(region=None, level=None, date_from=None, date_to=None) | kwargs
    with pytest.raises(export.ExportError, match=message):
        export.check(args.pop("indicators"), directory=fixture_dir, **args)


@pytest.mark.parametrize("text,end,expected", [
    ("2023", False, dt.date(2023, 1, 1)), ("2023", True, dt.date(2023, 12, 1)),
    ("2023-06", False, dt.date(2023, 6, 1)), ("2023年6月", False, dt.date(2023, 6, 1)),
])
def test_parse_period(text, end, expected):
    assert export.parse_period(text, end) == expected


def test_parse_period_refuses_nonsense():
    with pytest.raises(export.ExportError):
        export.parse_period("2023-13")


def run_cli(*args, data_dir):
    env = {"MINSHENG_DATA": str(data_dir), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "minsheng", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_writes_what_the_page_would(fixture_dir, tmp_path):
    out = tmp_path / "县级参保率.csv"
    r = run_cli("export", "--indicator", "rate", "--region", CITY, "--level", "county", "--from", "2022",
                "--to", "2023", "--out", str(out), data_dir=fixture_dir)
    assert r.returncode == 0, r.stderr
    q = export.check(["rate"], CITY, "county", dt.date(2022, 1, 1), dt.date(2023, 12, 1), directory=fixture_dir)
    assert out.read_bytes() == export.to_csv(export.table(q, fixture_dir))
    assert "已导出 4 行" in r.stdout


def test_cli_xlsx_and_errors(fixture_dir, tmp_path):
    out = tmp_path / "out.xlsx"
    assert run_cli("export", "--indicator", "cnt,amt", "--out", str(out), data_dir=fixture_dir).returncode == 0
    assert openpyxl.load_workbook(out).sheetnames == ["数据", "说明"]
    bad = run_cli("export", "--indicator", "nope", "--out", str(tmp_path / "x.csv"), data_dir=fixture_dir)
    assert bad.returncode == 2 and "未知指标编码" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "x.csv").exists()
    bad = run_cli("export", "--indicator", "cnt", "--out", str(tmp_path / "x.txt"), data_dir=fixture_dir)
    assert bad.returncode == 2 and ".csv 或 .xlsx" in bad.stderr


def test_period_labels_match_the_single_value_formatter():
    from minsheng import fmt

    periods = pd.Series(pd.to_datetime(["2023-06-01", "2023-01-01", "2023-04-01", "2024-12-01"]))
    freq = pd.Series(["month", "year", "quarter", "month"])
    assert export.period_labels(periods, freq).tolist() == [fmt.period_label(p, f) for p, f in zip(periods, freq)]


def test_xlsx_over_excels_row_limit_is_refused_before_writing(fixture_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 3)
    q = export.check(["cnt"], CITY, "township", None, None, directory=fixture_dir)
    with pytest.raises(export.ExportError, match="XLSX 最多容纳 3 行"):
        export.write(q, tmp_path / "x.xlsx", fixture_dir)
    assert not list(tmp_path.iterdir())  # nothing written, not even a temporary file
    assert export.write(q, tmp_path / "x.csv", fixture_dir) == export.count(q, fixture_dir) > 3


def test_streamed_csv_equals_the_table_in_batches(fixture_dir):
    q = export.check(["cnt", "rate", "std"], CITY, "township", None, None, directory=fixture_dir)
    whole = export.to_csv(export.table(q, fixture_dir))
    buf = io.BytesIO()
    n = export._csv_stream(export.batches(q, fixture_dir, batch_rows=2), buf, "utf-8-sig")
    assert buf.getvalue() == whole and n == len(export.table(q, fixture_dir))
    assert len(export.table(q, fixture_dir, limit=3)) == 3


def test_text_gbk_cannot_hold_is_refused_in_chinese(tmp_path):
    """A name with a character outside GBK (€, an emoji) gets a message naming it and the row, not a
    UnicodeEncodeError traceback; UTF-8 and GB18030 still write it."""
    df = pd.DataFrame({"区划名称": ["甲县", "乙县€"], "数值": [1.0, 2.0]})
    with pytest.raises(export.ExportError, match="第 3 行“区划名称”列的字符“€”.*GB18030"):
        export.to_csv(df, "gbk")
    assert "乙县€" in export.to_csv(df, "gb18030").decode("gb18030")
    parts = [df.head(1), df.tail(1)]  # the second batch: its row counts on from the first
    with pytest.raises(export.ExportError, match="第 3 行"):
        export._csv_stream(iter(parts), io.BytesIO(), "gbk")
