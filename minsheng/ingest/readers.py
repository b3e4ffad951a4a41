"""Read the files clerks send (.xlsx, .xls, .csv in UTF-8/GBK, .parquet) into plain text tables.

Every cell comes back as text (or None) so validation sees exactly what the clerk typed — a
"1,234" or "暂无" is checked and quoted back, not silently turned into a number or NaN.

A small file can claim to expand without bound (a cell at XFD1048576, a zip bomb, entity
expansion, a Parquet dictionary of huge strings): each reader measures what the file declares
and what it holds against minsheng/ingest/limits.py before and while reading, and `read_isolated`
runs the whole read in a process with a memory and time limit (minsheng/ingest/sandbox.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import ParseError, iterparse

import pandas as pd

from minsheng.ingest import limits, sandbox
from minsheng.ingest.problems import Problem, error

MAX_BYTES = limits.MAX_BYTES
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


def _refusal(file: str, message: str, **where) -> list[Sheet]:
    """A file that cannot be read at all: one sheet with no header and the reason."""
    return [Sheet(file, None, [], [], problems=[error(file, message, **where)])]


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
        return _refusal(file, str(e))
    too_big = _csv_shape_problem(text)
    if too_big:
        return _refusal(file, too_big[0], row=too_big[1])
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, header=None, skip_blank_lines=False,
                         sep=None, engine="python") if text.strip() else pd.DataFrame()
    except (pd.errors.ParserError, csv.Error) as e:
        message, line = _csv_error(str(e))
        return _refusal(file, message, row=line)
    if df.empty:
        return _refusal(file, "文件没有任何数据")
    rows = df.values.tolist()
    header, body = _trim(rows[0], rows[1:])
    return [Sheet(file, None, header, body)]


def _csv_shape_problem(text: str) -> tuple[str, int | None] | None:
    """(message, line) when the text is not a table of bounded lines, rows and columns — checked on
    the raw lines before the CSV parser sees them (a 4.7 MB header of 100,000 names cost it 163 s)."""
    lines = text.split("\n")
    for no, line in enumerate(lines, 1):
        if len(line) > limits.MAX_LINE_CHARS:
            where = "表头（第 1 行）" if no == 1 else f"第 {no} 行"
            return (f"{where}长达 {len(line):,} 个字符，超过每行 {limits.MAX_LINE_CHARS:,} 个字符的上限："
                    "这不像正常的表格文件，请检查该行后再导入", no)
    if len(lines) > limits.MAX_ROWS + 2:
        return f"文件有 {len(lines):,} 行，超过上限 {limits.MAX_ROWS:,} 行。请按月份或区县拆分后导入", None
    try:  # the same guess the CSV parser makes: the delimiter from the first line
        delimiter = csv.Sniffer().sniff(lines[0]).delimiter
    except csv.Error:
        return None
    columns = max((len(r) for r in csv.reader([lines[0]], delimiter=delimiter)), default=0)
    if columns > limits.MAX_COLUMNS:
        return f"表头有 {columns:,} 列，超过上限 {limits.MAX_COLUMNS} 列：请只保留需要导入的列", 1
    return None


def _csv_error(message: str) -> tuple[str, int | None]:
    """The CSV parser's complaint in Chinese, pinned to its line where it names one."""
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if m:
        expected, line, saw = map(int, m.groups())
        return f"这一行有 {saw} 列，多于表头的 {expected} 列：请检查是否多了分隔符（逗号）", line
    m = re.search(r"line (\d+)", message)
    return (f"无法按表格读取（CSV 格式有误{f'，第 {m.group(1)} 行附近' if m else ''}）。请用 Excel 打开后另存为 CSV",
            None)


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


_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)""")
# how XML in UTF-16, UTF-32 or EBCDIC begins (byte-order marks, "<" or "<?xm" in those encodings)
_NOT_ASCII_XML = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\x00\x00\x00<", b"<\x00", b"\x00<", b"\x4c\x6f\xa7\x94")


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:,.0f} MB"


def _zip_problem(archive: zipfile.ZipFile) -> str | None:
    """Why a workbook's parts may not be unpacked, judged on the sizes the archive declares (the
    zip reader never returns more than a part declares) and on each part's first bytes."""
    parts = archive.infolist()
    if len(parts) > limits.MAX_ZIP_MEMBERS:
        return f"工作簿由 {len(parts):,} 个部件组成，超过上限 {limits.MAX_ZIP_MEMBERS:,} 个：文件结构异常"
    total = 0
    for part in parts:
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > limits.RATIO_FLOOR and ratio > limits.MAX_RATIO:
            return (f"工作簿中的“{part.filename}”解压后 {_mb(part.file_size)}，是压缩后大小的 {ratio:,.0f} 倍"
                    f"（上限 {limits.MAX_RATIO} 倍）：这是“压缩炸弹”式的异常文件，已拒绝")
        total += part.file_size
    if total > limits.MAX_UNCOMPRESSED:
        return f"工作簿解压后共 {_mb(total)}，超过上限 {_mb(limits.MAX_UNCOMPRESSED)}。请拆分后导入"
    for part in parts:
        why = _xml_part_problem(archive, part)
        if why:
            return why
    return None


def _xml_part_problem(archive: zipfile.ZipFile, part: zipfile.ZipInfo) -> str | None:
    """A DTD (entity expansion, external entities) or an XML encoding other than UTF-8 in any part.
    Excel, WPS and LibreOffice never write either, so refusing them costs no real file; it keeps
    the XML parsers (expat, libxml2) away from entity handling altogether."""
    with archive.open(part) as f:
        head = f.read(256)
        if head.startswith(_NOT_ASCII_XML):
            return f"工作簿中的“{part.filename}”不是 UTF-8 编码的 XML：Excel 保存的文件不会这样，已拒绝"
        m = _XML_ENCODING.match(head.removeprefix(b"\xef\xbb\xbf"))
        if m and m.group(1).lower().replace(b"-", b"").replace(b"_", b"") != b"utf8":
            return f"工作簿中的“{part.filename}”声明了编码 {m.group(1).decode()}，不是 UTF-8：已拒绝"
        seen, chunk = b"", head
        while chunk:
            seen = seen[-16:] + chunk     # the overlap catches a declaration split across two reads
            if b"<!DOCTYPE" in seen or b"<!ENTITY" in seen:
                return (f"工作簿中的“{part.filename}”含有 DTD 或实体声明（<!DOCTYPE / <!ENTITY）：Excel 保存的文件"
                        "不会有，这是“实体膨胀”或外部实体式的异常文件，已拒绝")
            chunk = f.read(1024 * 1024)
    return None


_CELL_REF = re.compile(r"([A-Z]{1,3})([0-9]+)$")


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


@dataclass
class _Extent:
    """What a sheet's XML actually holds, found by one streaming pass before any cell is built:
    the box of cells with a value or formula (styled blanks far out do not count), merged ranges,
    and formulas whose result was never saved."""
    min_row: int = 0
    min_col: int = 0
    max_row: int = 0
    max_col: int = 0
    merged: list[str] = field(default_factory=list)
    unsaved: list[tuple[str, int, int, str]] = field(default_factory=list)   # (ref, row, column, formula)
    too_far: str | None = None                                               # the first cell beyond the limits


def _scan_sheet(source) -> _Extent:
    out = _Extent()
    row = col = 0
    open_elements = []   # the path from the root to the element being parsed
    cell = None          # the <c> being parsed: its value, formula and inline text stay attached to it
    for event, el in iterparse(source, events=("start", "end")):
        tag = el.tag.rpartition("}")[2]
        if event == "start":
            open_elements.append(el)
            if tag == "row":
                row, col = int(el.get("r") or row + 1), 0
            elif tag == "c":
                cell = el
            continue
        open_elements.pop()
        if cell is not None and el is not cell:
            continue
        if open_elements:
            open_elements[-1].remove(el)   # a finished element is dropped: memory stays flat
        if tag == "c":
            cell = None
            ref = _CELL_REF.match(el.get("r") or "")
            r, col = (int(ref.group(2)), _column_number(ref.group(1))) if ref else (row, col + 1)
            parts = {child.tag.rpartition("}")[2]: child for child in el}
            value = parts.get("v")
            if "is" in parts or "f" in parts or value is not None:
                if r > limits.MAX_ROWS or col > limits.MAX_COLUMNS:
                    out.too_far = el.get("r") or f"{_col_letter(col - 1)}{r}"
                    out.max_row, out.max_col = max(out.max_row, r), max(out.max_col, col)
                    return out
                out.min_row = min(out.min_row or r, r)
                out.min_col = min(out.min_col or col, col)
                out.max_row, out.max_col = max(out.max_row, r), max(out.max_col, col)
                if "f" in parts and (value is None or not value.text):
                    out.unsaved.append((el.get("r") or f"{_col_letter(col - 1)}{r}", r, col, parts["f"].text or ""))
        elif tag == "mergeCell" and el.get("ref"):
            out.merged.append(el.get("ref"))
    return out


def _extent_problem(title: str, extent: _Extent) -> str | None:
    rows = extent.max_row - extent.min_row + 1
    cols = extent.max_col - extent.min_col + 1
    if extent.too_far:
        return (f"工作表“{title}”在 {extent.too_far} 单元格（第 {extent.max_row:,} 行、第 {extent.max_col:,} 列）还有内容，"
                f"超过上限 {limits.MAX_ROWS:,} 行、{limits.MAX_COLUMNS} 列。请删除表格以外的内容后再导入")
    if rows * cols > limits.MAX_CELLS:
        return (f"工作表“{title}”有 {rows:,} 行 × {cols} 列，超过 {limits.MAX_CELLS:,} 个单元格的上限。"
                "请按月份或区县拆分后导入")
    return None


def _read_xlsx(data: bytes, file: str) -> list[Sheet]:
    import openpyxl
    from openpyxl.utils.cell import range_boundaries

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        why = _zip_problem(archive)
        if why:
            return _refusal(file, why)
        # read-only: cells are streamed from the XML, never a grid as large as the sheet claims
        values = openpyxl.load_workbook(io.BytesIO(data), data_only=True, read_only=True)
    except (zipfile.BadZipFile, zlib.error, KeyError, OSError, ValueError, ParseError) as e:
        return _refusal(file, f"无法作为 Excel 文件打开（{type(e).__name__}）；文件可能已损坏或扩展名不对")
    sheets = []
    for ws in values.worksheets:
        if ws.title in SKIP_SHEETS or ws.sheet_state != "visible":
            continue
        try:
            with archive.open(ws._worksheet_path) as src:   # the part openpyxl itself streams
                extent = _scan_sheet(src)
        except (KeyError, ValueError, ParseError) as e:
            return _refusal(file, f"无法读取工作表（{type(e).__name__}）；文件可能已损坏", sheet=ws.title)
        why = _extent_problem(ws.title, extent)
        if why:
            return _refusal(file, why, sheet=ws.title)
        if not extent.max_row:
            continue
        merged = [range_boundaries(ref) for ref in extent.merged]
        problems = _merged_header_problem(
            file, ws.title, [(r0 - extent.min_row, c0 - 1, r1 - extent.min_row, c1 - 1) for c0, r0, c1, r1 in merged])
        # a cell formatted as a percentage shows 98.4% but holds 0.984: read it as the clerk sees it
        rows = [[f"{c.value * 100:.10g}%" if isinstance(c.value, (int, float)) and not isinstance(c.value, bool)
                 and "%" in (c.number_format or "") else c.value for c in r]
                for r in ws.iter_rows(min_row=extent.min_row, max_row=extent.max_row,
                                      min_col=extent.min_col, max_col=extent.max_col)]
        if all(cell_text(c) is None for r in rows for c in r):
            continue
        # a formula whose result Excel never saved (file written by a script, not opened in Excel)
        for ref, r, c, formula in extent.unsaved:
            k = c - extent.min_col
            problems.append(error(file, f"单元格 {ref} 是公式（{f'={formula[:40]}' if formula else '共享公式'}），但没有保存计算结果。"
                                  "请在 Excel 中打开后保存，或粘贴为数值", sheet=ws.title, row=r,
                                  column=cell_text(rows[0][k]) if 0 <= k < len(rows[0]) else None))
        header, body = _trim(rows[0], rows[1:])
        sheets.append(Sheet(file, ws.title, header, body, first_row=extent.min_row + 1, problems=problems))
    return sheets or _refusal(file, "工作簿中没有任何数据")


def _read_xls(data: bytes, file: str) -> list[Sheet]:
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as e:  # calamine raises its own error types for every broken-file case
        return _refusal(file, f"无法作为 Excel 97-2003 (.xls) 文件打开（{e}）")
    sheets = []
    for name in wb.sheet_names:
        if name in SKIP_SHEETS:
            continue
        ws = wb.get_sheet_by_name(name)   # the format itself caps a sheet at 65,536 × 256 cells
        if ws.height > limits.MAX_ROWS + 1 or ws.width > limits.MAX_COLUMNS or ws.height * ws.width > limits.MAX_CELLS:
            return _refusal(file, f"工作表“{name}”有 {ws.height:,} 行 × {ws.width} 列，超过上限 {limits.MAX_ROWS:,} 行、"
                                  f"{limits.MAX_COLUMNS} 列。请删除表格以外的内容后再导入", sheet=name)
        rows = ws.to_python(skip_empty_area=False)
        if not rows or all(cell_text(c) is None for r in rows for c in r):
            continue
        merged = ws.merged_cell_ranges or []
        problems = _merged_header_problem(file, name, [(a[0], a[1], b[0], b[1]) for a, b in merged])
        header, body = _trim(rows[0], rows[1:])
        sheets.append(Sheet(file, name, header, body, problems=problems))
    return sheets or _refusal(file, "工作簿中没有任何数据")


def _read_parquet(data: bytes, file: str) -> list[Sheet]:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(io.BytesIO(data)).metadata
        why = _parquet_problem(meta)
        if why:
            return _refusal(file, why)
        # text columns stay dictionary-encoded until their decoded size is known
        text = [meta.schema.column(i).name for i in range(meta.num_columns)
                if meta.schema.column(i).physical_type == "BYTE_ARRAY"]
        table = pq.ParquetFile(io.BytesIO(data), read_dictionary=text).read()
    except Exception as e:  # pyarrow raises several unrelated types for a bad file
        return _refusal(file, f"无法读取 Parquet 文件（{type(e).__name__}）")
    decoded = _decoded_text_bytes(table)
    if decoded > limits.MAX_TEXT_BYTES:
        return _refusal(file, f"文件中的文本展开后共 {_mb(decoded)}，超过上限 {_mb(limits.MAX_TEXT_BYTES)}："
                              "少量重复的超长文本被压缩成了很小的文件，已拒绝")
    df = table.to_pandas()
    if df.empty:
        return _refusal(file, "文件没有任何数据")
    return [Sheet(file, None, [str(c) for c in df.columns], [[cell_text(v) for v in r] for r in df.itertuples(index=False)])]


def _parquet_problem(meta) -> str | None:
    """Judged on the footer alone: row and column counts, and the pages' declared unpacked size."""
    if meta.num_rows > limits.MAX_ROWS:
        return f"文件声明有 {meta.num_rows:,} 行，超过上限 {limits.MAX_ROWS:,} 行。请拆分后导入"
    if meta.num_columns > limits.MAX_COLUMNS:
        return f"文件有 {meta.num_columns:,} 列，超过上限 {limits.MAX_COLUMNS} 列"
    if meta.num_rows * meta.num_columns > limits.MAX_CELLS:
        return f"文件有 {meta.num_rows:,} 行 × {meta.num_columns} 列，超过 {limits.MAX_CELLS:,} 个单元格的上限。请拆分后导入"
    unpacked = sum(meta.row_group(g).column(c).total_uncompressed_size
                   for g in range(meta.num_row_groups) for c in range(meta.num_columns))
    if unpacked > limits.MAX_UNCOMPRESSED:
        return f"文件解压后共 {_mb(unpacked)}，超过上限 {_mb(limits.MAX_UNCOMPRESSED)}。请拆分后导入"
    return None


def _is_text(t) -> bool:
    import pyarrow as pa

    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t)


def _decoded_text_bytes(table) -> int:
    """Bytes of all text cells once every dictionary is expanded, computed from the indices alone."""
    import pyarrow as pa
    import pyarrow.compute as pc

    total = 0
    for column in table.columns:
        for chunk in column.chunks:
            if pa.types.is_dictionary(chunk.type):
                if _is_text(chunk.type.value_type):
                    lengths = pc.binary_length(chunk.dictionary)
                    total += pc.sum(pc.take(lengths, chunk.indices)).as_py() or 0
            elif _is_text(chunk.type):
                total += pc.sum(pc.binary_length(chunk)).as_py() or 0
    return total


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} 字节"


READERS = {".csv": _read_csv, ".txt": _read_csv, ".xlsx": _read_xlsx, ".xls": _read_xls, ".parquet": _read_parquet}


def read(data: bytes, file: str, max_bytes: int = MAX_BYTES) -> list[Sheet]:
    """Read an uploaded or local file's bytes; problems that stop reading come back on the sheet."""
    suffix = Path(file).suffix.lower()
    if suffix in (".xlsm", ".xltm"):
        return _refusal(file, "不接受含宏的工作簿（.xlsm）。请另存为 .xlsx 后再导入")
    if suffix not in READERS:
        return _refusal(file, f"不支持的文件类型“{suffix or '无扩展名'}”。可导入 .xlsx、.xls、.csv、.parquet（边界用 .geojson）")
    if len(data) == 0:
        return _refusal(file, "文件为空（0 字节）")
    if len(data) > max_bytes:
        return _refusal(file, f"文件过大（{_size(len(data))}，上限 {_size(max_bytes)}）。请按月份或区县拆分后导入")
    if suffix == ".xlsx" and b"vbaProject.bin" in data[:2_000_000] and zipfile.is_zipfile(io.BytesIO(data)):
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        if any(n.endswith("vbaProject.bin") for n in names):
            return _refusal(file, "工作簿含有宏（VBA）。请另存为不含宏的 .xlsx 后再导入")
    return READERS[suffix](data, file)


def read_isolated(data: bytes, file: str, max_bytes: int = MAX_BYTES) -> list[Sheet]:
    """`read` in a separate process with a memory and a time limit: what the 导入 page and the
    command line use, so one hostile upload cannot stall or starve the server."""
    if not data or len(data) > max_bytes:
        return read(data, file, max_bytes)   # refused on its size alone: nothing to isolate
    try:
        return sandbox.run(read, data, file, max_bytes)
    except sandbox.Refused as e:
        return _refusal(file, str(e))
