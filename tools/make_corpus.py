"""Write the import test corpus (tests/corpus/bad, tests/corpus/good): tiny files of the kinds clerks send.

Old .xls needs xlwt, which the project does not depend on; run this with a throwaway interpreter:

    python3 -m venv /tmp/xlvenv && /tmp/xlvenv/bin/pip install xlwt openpyxl pandas pyarrow
    /tmp/xlvenv/bin/python tools/make_corpus.py

Deterministic: zip timestamps and document dates are fixed, so a rerun gives the same bytes.
What each bad file should produce is in tests/test_import.py (BAD); the good files all carry GOOD.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import re
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import xlwt
from openpyxl.utils import get_column_letter

OUT = Path(__file__).resolve().parent.parent / "tests" / "corpus"
STAMP = (2026, 11, 2, 8, 0, 0)

U, R, S = "mz_dibao_urban_persons", "yb_resident_insured_rate", "mz_dibao_std_urban"  # month/township, rate, standard
QST, XSL, SF = "430204901000", "430204902000", "430204000000"                         # 清水塘街道, 响石岭街道, 石峰区
# The good rows: (indicator, region, period, value, numerator, denominator). Against the demo data
# 清水塘 2026-09 is unchanged, 响石岭 2026-09 changes 138 → 139, the standard 731 is unchanged, the rest are new.
GOOD = [(U, QST, "2026-09", 77, None, None), (U, XSL, "2026-09", 139, None, None),
        (U, QST, "2026-11", 83, None, None), (U, XSL, "2026-11", 142, None, None),
        (R, QST, "2026", 98.4, 12300, 12500), (R, XSL, "2026", 98, 23030, 23500), (S, SF, "2026", 731, None, None)]
NAMES = {QST: "清水塘街道", XSL: "响石岭街道", SF: "石峰区"}
ZH = ["指标编码", "区划代码", "时期", "数值"]
ZH_RATE = ZH + ["分子", "分母"]
EN = ["indicator_id", "region_code", "period", "value", "numerator", "denominator"]


# --- writers ---------------------------------------------------------------------------------

def csv_bytes(rows, encoding="utf-8", bom=False) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows([["" if v is None else v for v in r] for r in rows])
    return (b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode(encoding)


def stable_zip(data: bytes) -> bytes:
    """Re-pack an OOXML zip with fixed entry times and document dates."""
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>2026-11-02T08:00:00Z", body)
            z.writestr(zipfile.ZipInfo(info.filename, STAMP), body, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def xlsx(*sheets, touch=None, extra: dict[str, bytes] | None = None) -> bytes:
    """sheets: (title, rows); touch(wb) adds merges, formats, formulas; extra: more zip entries (a macro)."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    wb.properties.creator = "石峰区民政局"
    for title, rows in sheets:
        ws = wb.create_sheet(title)
        for r in rows:
            ws.append(list(r))
        for i in range(1, ws.max_column + 1):
            ws.column_dimensions[get_column_letter(i)].width = 16
    if touch:
        touch(wb)
    buf = io.BytesIO()
    wb.save(buf)
    data = buf.getvalue()
    if extra:
        src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for info in src.infolist():
                body = src.read(info.filename)
                if info.filename == "[Content_Types].xml":
                    body = body.replace(b"sheet.main+xml", b"sheet.macroEnabled.main+xml").replace(
                        b"<Default ", b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/><Default ', 1)
                z.writestr(info, body)
            for name, body in extra.items():
                z.writestr(name, body)
        data = out.getvalue()
    return stable_zip(data)


def xls(*sheets, merge=None) -> bytes:
    """Excel 97-2003 via xlwt; merge=(sheet, r1, r2, c1, c2) merges a header range (0-based, inclusive)."""
    wb = xlwt.Workbook(encoding="utf-8")
    for title, rows in sheets:
        ws = wb.add_sheet(title)
        for i, r in enumerate(rows):
            for j, v in enumerate(r):
                if merge and merge[0] == title and merge[1] <= i <= merge[2] and merge[3] <= j <= merge[4]:
                    if (i, j) == (merge[1], merge[3]):
                        ws.write_merge(*merge[1:], v)
                elif v is not None:
                    ws.write(i, j, v)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def parquet(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def num(v):
    """A number as a clerk's spreadsheet holds it: 77 not 77.0."""
    return int(v) if isinstance(v, float) and v.is_integer() else v


# --- the good files: the same rows in every accepted format ------------------------------------

def good() -> dict[str, bytes]:
    month_zh = lambda p: f"{p[:4]}年{int(p[5:])}月" if len(p) > 4 else f"{p}年"  # noqa: E731
    zh_rows = [[i, c, p, v, n, d] for i, c, p, v, n, d in GOOD]
    readme = [["城市低保对象、城乡居民医保参保率、城市低保标准 月报"], ["填报单位：石峰区民政局、石峰区医疗保障局"],
              ["时期：月度写 2026-09，年度写 2026；比率填分子、分母"]]
    # numbers stored as text (as when a sheet was pasted from a web form), a status and a source column
    xlsx_rows = [ZH_RATE + ["区划名称", "状态", "来源"]] + [
        [i, c, p, str(v) if i == U else v, n, d, NAMES[c], "正式", "石峰区民政局"] for i, c, p, v, n, d in zh_rows]

    def dates(wb):  # 时期 as real Excel date cells, formatted the way clerks see them
        for row in wb["数据"].iter_rows(min_row=2, min_col=3, max_col=3):
            row[0].number_format = 'yyyy"年"m"月"' if row[0].value.month > 1 else 'yyyy"年"'
    short = [ZH_RATE] + [[i, int(c[:9] if c[6:9] != "000" else c[:6]),
                          dt.datetime(int(p[:4]), int(p[5:]) if len(p) > 4 else 1, 1), num(float(v)), n, d]
                         for i, c, p, v, n, d in GOOD]
    wide = [["区划名称", "2026年9月", "2026-11"], [NAMES[QST], 77, 83], [NAMES[XSL], 139, 142]]
    en = pd.DataFrame(GOOD, columns=EN)
    en["period"] = [dt.date(int(p[:4]), int(p[5:]) if len(p) > 4 else 1, 1) for p in en["period"]]
    en["value"] = en["value"].astype(float)
    return {
        "observations.xlsx": xlsx(("说明", readme), ("数据", xlsx_rows)),
        "observations.xls": xls(("Sheet1", [ZH_RATE] + [[i, c, month_zh(p), v, n, d] for i, c, p, v, n, d in zh_rows])),
        # UTF-8, English headers, the rate's value left for the numerator/denominator to give
        "observations_utf8.csv": csv_bytes([EN] + [[i, c, p, None if n else v, n, d] for i, c, p, v, n, d in GOOD]),
        "observations_utf8_bom.csv": csv_bytes([ZH_RATE] + [[i, c, p.replace("-", "/"), v, n, d]
                                                            for i, c, p, v, n, d in GOOD], bom=True),
        # GBK as Excel's “CSV (逗号分隔)” writes it on a Chinese Windows; regions by name
        "observations_gbk.csv": csv_bytes([["指标编码", "区划名称", "时期", "数值", "分子", "分母"]] + [
            [i, NAMES[c], p[:4] + "年" + (p[5:] + "月" if len(p) > 4 else ""), v, n, d] for i, c, p, v, n, d in GOOD],
            encoding="gbk"),
        "observations.parquet": parquet(en),
        "observations_short_codes_dates.xlsx": xlsx(("数据", short), touch=dates),
        "wide_by_name.xlsx": xlsx(("城市低保对象", wide)),
        "targets.xlsx": xlsx(("目标", [["指标编码", "区划代码", "年度", "目标值", "部门", "任务"],
                                       ["mz_home_aging_mod", SF, 2027, 150, "民政局", "困难老年人家庭适老化改造"],
                                       ["rs_skill_training", SF, 2026, 60, "人社局", "开展就业技能培训"]])),
        "regions_new_village.csv": csv_bytes([["区划代码", "名称", "经度", "纬度"],
                                              ["430204901001", "霞湾社区", "113.0712", "27.8772"]], bom=True),
        # ten times the same month a year before (2025-11: 85): a warning to confirm, not an error
        "warning_tenfold.csv": csv_bytes([ZH, [U, QST, "2026-11", 850]]),
        # month headers that Excel turned into dates when typed as 2026-09 (a wide table clerks send)
        "wide_date_headers.xlsx": xlsx(("数据", [["区划名称", dt.datetime(2026, 9, 1), dt.datetime(2026, 11, 1)],
                                                 [NAMES[QST], 77, 83], [NAMES[XSL], 139, 142]]),
                                       touch=lambda wb: [setattr(c, "number_format", "yyyy-mm") for c in wb["数据"][1][1:]]),
    }


# --- the bad files: one problem each -------------------------------------------------------------

def bad() -> dict[str, bytes]:
    ok_row = [U, XSL, "2026-11", 142]
    one = lambda *row, header=ZH, **kw: csv_bytes([header, list(row)], **kw)  # noqa: E731
    rate = lambda v, n, d, p="2026": csv_bytes([ZH_RATE, [R, QST, p, v, n, d]])  # noqa: E731
    sheet = lambda *rows, header=ZH, title="数据", **kw: xlsx((title, [header, *rows]), **kw)  # noqa: E731
    rnd = random.Random(20261102)
    macro = {"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + rnd.randbytes(504)}
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as z:
        for name, body in (("[Content_Types].xml", '<?xml version="1.0"?><Types/>'),
                           ("word/document.xml", "<w:document><w:body><w:p><w:r><w:t>2026年10月民政工作月报"
                                                 "</w:t></w:r></w:p></w:body></w:document>")):
            z.writestr(zipfile.ZipInfo(name, STAMP), body)
    good_xlsx = good()["observations.xlsx"]

    def percent(wb):  # a rate typed as 98.4% into a percent-formatted cell: Excel stores 0.984
        wb["数据"]["D2"].number_format = "0.0%"

    def decimal_month(wb):  # 2026.10 typed into a number cell: Excel keeps 2026.1, shows 2026.10
        wb["数据"]["C2"].number_format = "0.00"
    return {
        "gbk_wrong_header.csv": csv_bytes([["指标", "街道", "日期", "人数"], ["城市低保对象", "清水塘街道", "2026年10月", "82"]],
                                          encoding="gbk"),
        "merged_header.xls": xls(("Sheet1", [ZH + [None], ok_row + [None]]), merge=("Sheet1", 0, 0, 3, 4)),
        "merged_header.xlsx": sheet(ok_row, header=ZH + [None], touch=lambda wb: wb["数据"].merge_cells("D1:E1")),
        "rate_120.csv": rate("120%", None, None),
        "rate_numerator_gt_denominator.csv": rate(None, 12600, 12500),
        "rate_inconsistent.xlsx": sheet([R, QST, "2026", 95, 12300, 12500], header=ZH_RATE),
        "rate_numerator_only.csv": rate(98.4, 12300, None),
        "rate_percent_cell.xlsx": sheet([R, QST, "2026", 0.984], touch=percent),
        "unknown_code.csv": one(U, "430204999000", "2026-11", 80),
        "code_5_digits.csv": one(U, "43020", "2026-11", 80),
        "code_scientific_gbk.csv": one(U, "4.30205E+11", "2026/11", 80, encoding="gbk"),
        "code_name_mismatch.csv": one(U, QST, "响石岭街道", "2026-11", 142, header=["指标编码", "区划代码", "区划名称", "时期", "数值"]),
        "unknown_name.xlsx": sheet([U, "清水唐街道", "2026-11", 83], header=["指标编码", "区划名称", "时期", "数值"]),
        "total_row.xlsx": sheet([U, "清水塘街道", "2026-11", 83], [U, "响石岭街道", "2026-11", 142], [U, "合计", "2026-11", 225],
                                header=["指标编码", "区划名称", "时期", "数值"]),
        "indicator_name_not_id.csv": one("城市低保对象", QST, "2026-11", 83),
        "unknown_indicator.csv": one("mz_dibao_urban", QST, "2026-11", 83),
        "text_in_number.xlsx": sheet([U, QST, "2026-11", "暂无"]),
        "number_with_unit.csv": one(U, QST, "2026-11", "120人"),
        "blank_value.csv": one(U, QST, "2026-11", None),
        "negative_count.csv": one(U, QST, "2026-11", -5),
        "negative_standard.xlsx": sheet([S, SF, "2026", -731]),
        "county_row_for_township_indicator.csv": one(U, SF, "2026-11", 1200),
        "monthly_period_for_annual.csv": rate(98.4, 12300, 12500, p="2026-10"),
        "annual_period_for_monthly.csv": one(U, QST, "2026", 83),
        "period_month_13.csv": one(U, QST, "2026年13月", 83),
        "period_decimal_month.xlsx": sheet([U, QST, 2026.1, 82], touch=decimal_month),
        "duplicate_rows.csv": csv_bytes([ZH, [U, QST, "2026-11", 83], [U, QST, "2026-11", 83]]),
        "duplicate_across_sheets.xlsx": xlsx(("9月", [ZH, [U, QST, "2026-11", 83]]), ("10月", [ZH, [U, QST, "2026-11", 83]])),
        "duplicate_column.xlsx": sheet([U, QST, "2026-11", 83, 82], header=ZH + ["数值"]),
        "status_unknown.csv": one(U, QST, "2026-11", 83, "已审核", header=ZH + ["状态"]),
        "empty.csv": b"",
        "header_only.csv": csv_bytes([ZH]),
        "header_only.xlsx": sheet(),
        "blank_workbook.xlsx": xlsx(("Sheet1", [])),
        "formula_without_value.xlsx": sheet([R, QST, "2026", "=E2/F2*100", 12300, 12500], header=ZH_RATE),
        "macro.xlsm": sheet(ok_row, extra=macro),
        "macro_renamed.xlsx": sheet(ok_row, extra=macro),
        "monthly_report.docx": docx.getvalue(),
        "scan.pdf": b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
                    b"trailer<</Root 1 0 R>>\n%%EOF\n",
        "random_bytes.xlsx": rnd.randbytes(2048),
        "truncated.xls": xls(("Sheet1", [ZH, ok_row]))[:1500],
        "bad_encoding.csv": csv_bytes([ZH, ok_row])[:20] + b"\xff\xfe\xff" + csv_bytes([ZH, ok_row])[20:],
        "wide_without_indicator.xlsx": sheet([NAMES[QST], 77, 83], header=["区划名称", "2026-09", "2026-11"]),
        "target_zero.xlsx": sheet(["mz_home_aging_mod", SF, 2027, 0, "民政局"], header=["指标编码", "区划代码", "年度", "目标值", "部门"],
                                  title="目标"),
        "target_year_chinese.csv": one("mz_home_aging_mod", SF, "二〇二六", 150, "民政局",
                                       header=["指标编码", "区划代码", "年度", "目标值", "部门"]),
        "region_bad_level.csv": one("430204901001", "霞湾社区", "组", QST, header=["区划代码", "名称", "级别", "上级代码"]),
        "region_level_mismatch.csv": one("430204901001", "霞湾社区", "县", QST, header=["区划代码", "名称", "级别", "上级代码"]),
        "region_unknown_parent.csv": one("430204999001", "金山村", header=["区划代码", "名称"]),
        "region_lonlat_swapped.csv": one("430204901001", "霞湾社区", "村", QST, 27.8772, 113.0712,
                                         header=["区划代码", "名称", "级别", "上级代码", "经度", "纬度"]),
        "indicator_bad_kind.csv": one("mz_dibao_cover_rate", "低保覆盖率", "%", "百分比", "年度", "县",
                                      header=["指标编码", "指标名称", "单位", "类型", "频度", "报送级别"]),
        "too_big.csv": csv_bytes([ZH] + [[U, c, f"2026-{m}", 80 + m] for c in (QST, XSL) for m in (11, 12)]),
        "truncated.xlsx": good_xlsx[: len(good_xlsx) // 2],
    }


def main() -> None:
    good_files, bad_files = good(), bad()
    # a percent-formatted cell (shows 98.4%, holds 0.984) is read as shown: a good file now
    good_files["rate_percent_cell.xlsx"] = bad_files.pop("rate_percent_cell.xlsx")
    for name, files in (("good", good_files), ("bad", bad_files)):
        folder = OUT / name
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            if old.name not in files:
                old.unlink()
        for file, data in files.items():
            (folder / file).write_bytes(data)
        print(f"{folder}: {len(files)} files, {sum(map(len, files.values())) / 1024:.1f} KB")


if __name__ == "__main__":
    main()
