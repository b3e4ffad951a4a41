"""Read the files clerks send (.xlsx, .xls, .csv in UTF-8/GBK, .parquet) into plain text tables.

Every cell comes back as text (or None) so validation sees exactly what the clerk typed — a
"1,234" or "暂无" is checked and quoted back, not silently turned into a number or NaN.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from minsheng.ingest.problems import Problem, error

MAX_BYTES = 50 * 1024 * 1024
SKIP_SHEETS = {"说明", "填表说明", "代码表", "readme", "README"}


@dataclass
class Sheet:
    """One table read from a file: header texts and rows of cell texts (None for empty cells)."""
    file: str
    name: str | None
    header: list[str]
    rows: list[list[str | None]]
    first_row: int = 2          # the Excel row number of rows[0] (the header is row first_row - 1)
    problems: list[Problem] = field(default_factory=list)


def cell_text(v) -> str | None:
    """A cell as the clerk sees it: 1234.0 → '1234', dates as ISO, blanks as None."""
    if v is None:
        return None
    if isinstance(v, float):
        if v != v:  # NaN
            return None
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, (dt.datetime, pd.Timestamp)):
        return v.strftime("%Y-%m-%d") if (v.hour, v.minute, v.second) == (0, 0, 0) else v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    s = str(v).strip()
    return s or None


def decode(data: bytes, file: str) -> tuple[str, str]:
    """Text and the encoding it was in: UTF-8 (with or without BOM), else GB18030 (a superset of GBK)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as e:
        raise ValueError(f"无法识别文件编码（不是 UTF-8，也不是 GBK/GB18030；第 {e.start} 字节附近）") from e


def _trim(header: list, rows: list[list]) -> tuple[list[str], list[list[str | None]]]:
    """Drop trailing empty columns and fully empty rows (Excel often keeps formatting far out)."""
    header = [cell_text(h) or "" for h in header]
    width = len(header)
    while width and not header[width - 1] and not any(len(r) >= width and cell_text(r[width - 1]) for r in rows):
        width -= 1
    header = header[:width]
    out = []
    for r in rows:
        cells = [cell_text(x) for x in list(r)[:width]] + [None] * max(0, width - len(r))
        out.append(cells)
    while out and all(c is None for c in out[-1]):
        out.pop()
    return header, out


def _read_csv(data: bytes, file: str) -> list[Sheet]:
    try:
        text, _ = decode(data, file)
    except ValueError as e:
        return [Sheet(file, None, [], [], problems=[error(file, str(e))])]
    df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, header=None, skip_blank_lines=False,
                     sep=None, engine="python") if text.strip() else pd.DataFrame()
    if df.empty:
        return [Sheet(file, None, [], [], problems=[error(file, "文件没有任何数据")])]
    rows = df.values.tolist()
    header, body = _trim(rows[0], rows[1:])
    return [Sheet(file, None, header, body)]


def _merged_header_problem(file: str, sheet: str, ranges: list[tuple[int, int, int, int]]) -> list[Problem]:
    """Merged cells in the header row (rows/cols 0-based, inclusive) make column names ambiguous."""
    out = []
    for r0, c0, r1, c1 in ranges:
        if r0 <= 0 <= r1:
            cols = f"{_col_letter(c0)}–{_col_letter(c1)}" if c1 > c0 else _col_letter(c0)
            out.append(error(file, f"表头有合并单元格（{cols} 列）。请取消合并，每列只写一个列名", sheet=sheet, row=1))
    return out


def _col_letter(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def _read_xlsx(data: bytes, file: str) -> list[Sheet]:
    import openpyxl

    try:
        values = openpyxl.load_workbook(io.BytesIO(data), data_only=True, read_only=False)
        formulas = openpyxl.load_workbook(io.BytesIO(data), data_only=False, read_only=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
        return [Sheet(file, None, [], [], problems=[error(file, f"无法作为 Excel 文件打开（{type(e).__name__}）；文件可能已损坏或扩展名不对")])]
    sheets = []
    for ws in values.worksheets:
        if ws.title in SKIP_SHEETS or ws.sheet_state != "visible":
            continue
        problems = _merged_header_problem(
            file, ws.title, [(m.min_row - 1, m.min_col - 1, m.max_row - 1, m.max_col - 1) for m in ws.merged_cells.ranges])
        fws = formulas[ws.title]
        # a cell formatted as a percentage shows 98.4% but holds 0.984: read it as the clerk sees it
        rows = [[f"{c.value * 100:.10g}%" if isinstance(c.value, (int, float)) and not isinstance(c.value, bool)
                 and "%" in (c.number_format or "") else c.value for c in r] for r in ws.iter_rows()]
        if not rows or all(cell_text(c) is None for r in rows for c in r):
            continue
        # a formula whose result Excel never saved (file written by a script, not opened in Excel)
        for frow, vrow in zip(fws.iter_rows(), ws.iter_rows()):
            for fc, vc in zip(frow, vrow):
                if fc.data_type == "f" and vc.value is None:
                    problems.append(error(file, f"单元格 {fc.coordinate} 是公式（{str(fc.value)[:40]}），但没有保存计算结果。"
                                          "请在 Excel 中打开后保存，或粘贴为数值", sheet=ws.title, row=fc.row,
                                          column=cell_text(rows[0][fc.column - 1]) if fc.column - 1 < len(rows[0]) else None))
        header, body = _trim(rows[0], rows[1:])
        sheets.append(Sheet(file, ws.title, header, body, problems=problems))
    return sheets or [Sheet(file, None, [], [], problems=[error(file, "工作簿中没有任何数据")])]


def _read_xls(data: bytes, file: str) -> list[Sheet]:
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as e:  # calamine raises its own error types for every broken-file case
        return [Sheet(file, None, [], [], problems=[error(file, f"无法作为 Excel 97-2003 (.xls) 文件打开（{e}）")])]
    sheets = []
    for name in wb.sheet_names:
        if name in SKIP_SHEETS:
            continue
        ws = wb.get_sheet_by_name(name)
        rows = ws.to_python(skip_empty_area=False)
        if not rows or all(cell_text(c) is None for r in rows for c in r):
            continue
        merged = ws.merged_cell_ranges or []
        problems = _merged_header_problem(file, name, [(a[0], a[1], b[0], b[1]) for a, b in merged])
        header, body = _trim(rows[0], rows[1:])
        sheets.append(Sheet(file, name, header, body, problems=problems))
    return sheets or [Sheet(file, None, [], [], problems=[error(file, "工作簿中没有任何数据")])]


def _read_parquet(data: bytes, file: str) -> list[Sheet]:
    try:
        df = pd.read_parquet(io.BytesIO(data))
    except Exception as e:  # pyarrow raises several unrelated types for a bad file
        return [Sheet(file, None, [], [], problems=[error(file, f"无法读取 Parquet 文件（{type(e).__name__}）")])]
    if df.empty:
        return [Sheet(file, None, [], [], problems=[error(file, "文件没有任何数据")])]
    return [Sheet(file, None, [str(c) for c in df.columns], [[cell_text(v) for v in r] for r in df.itertuples(index=False)])]


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} 字节"


READERS = {".csv": _read_csv, ".txt": _read_csv, ".xlsx": _read_xlsx, ".xls": _read_xls, ".parquet": _read_parquet}


def read(data: bytes, file: str, max_bytes: int = MAX_BYTES) -> list[Sheet]:
    """Read an uploaded or local file's bytes; problems that stop reading come back on the sheet."""
    suffix = Path(file).suffix.lower()
    if suffix in (".xlsm", ".xltm"):
        return [Sheet(file, None, [], [], problems=[error(file, "不接受含宏的工作簿（.xlsm）。请另存为 .xlsx 后再导入")])]
    if suffix not in READERS:
        return [Sheet(file, None, [], [], problems=[error(
            file, f"不支持的文件类型“{suffix or '无扩展名'}”。可导入 .xlsx、.xls、.csv、.parquet（边界用 .geojson）")])]
    if len(data) == 0:
        return [Sheet(file, None, [], [], problems=[error(file, "文件为空（0 字节）")])]
    if len(data) > max_bytes:
        return [Sheet(file, None, [], [], problems=[error(
            file, f"文件过大（{_size(len(data))}，上限 {_size(max_bytes)}）。请按月份或区县拆分后导入")])]
    if suffix == ".xlsx" and b"vbaProject.bin" in data[:2_000_000] and zipfile.is_zipfile(io.BytesIO(data)):
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        if any(n.endswith("vbaProject.bin") for n in names):
            return [Sheet(file, None, [], [], problems=[error(file, "工作簿含有宏（VBA）。请另存为不含宏的 .xlsx 后再导入")])]
    return READERS[suffix](data, file)
