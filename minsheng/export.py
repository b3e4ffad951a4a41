"""The 数据 page's table as files: CSV that Excel/WPS open without garbled Chinese, XLSX with metadata."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from minsheng import files, fmt, lineage, repo, safe_cells, vocab
from minsheng.ingest import cells
from minsheng.regions import Tree
from minsheng.selection import Selection

LEVELS = vocab.LOCAL_LEVELS
COLUMNS = {
    "indicator_id": "指标编码", "name_zh": "指标名称", "region_code": "区划代码", "region_name": "区划名称",
    "current_code": "承继后区划代码",  # the code a row's region goes by now (the row keeps the one it was reported under)
    "level_zh": "级别", "period_label": "时期", "period": "时期起始日", "value": "数值", "unit": "单位",
    "numerator": "分子", "denominator": "分母", "min_value": "下级最小值", "max_value": "下级最大值",
    "basis": "口径", "status_zh": "数据状态", "source": "来源",
}


class ExportError(ValueError):
    """A filter that cannot be exported; the message is for the user, in Chinese."""


def parse_period(text: str, end: bool = False) -> dt.date:
    """A period as the command line takes it, read as the importer reads a 时期 cell: '2023' →
    2023-01-01 (2023-12-01 as an end), '2023-06' / '2023年6月' → 2023-06-01, '2023年第2季度' → its
    first month (its last as an end)."""
    shape = cells.period_shape(text or "")
    if shape is None:
        raise ExportError(f"无法识别的时期“{text}”，请写成 2023、2023-06 或 2023年6月")
    what, day = shape
    last = {"year": 11, "quarter": 2}.get(what, 0) if end else 0  # months from the first to the last
    return dt.date(day.year, day.month + last, 1)


def check(indicators: list[str], region: str | None, level: str | None, date_from: dt.date | None,
          date_to: dt.date | None, within: list[str] | None = None, directory: Path | None = None,
          area: str | None = None) -> Selection:
    """The command line's filter, checked against the catalogue and the regions, as a Selection.
    With `area` (the user's), a region outside it is refused like an unknown one."""
    cat = repo.indicators(directory).set_index("id")
    unknown = [i for i in indicators if i not in cat.index]
    if not indicators or unknown:
        raise ExportError(f"未知指标编码：{'、'.join(unknown) or '（未指定）'}；可用编码见 数据 页或 indicators 表")
    region = region or top(repo.regions(directory, area))
    own = repo.regions_below(region, None, directory, area=area)
    if own.empty:
        raise ExportError(f"未知区划代码：{region}")
    if level is not None and level not in LEVELS:
        raise ExportError(f"未知级别：{level}（可选 {'、'.join(LEVELS)}）")
    date_from = date_from or dt.date(1900, 1, 1)
    date_to = date_to or dt.date(2999, 12, 1)
    if date_from > date_to:
        raise ExportError("起始时期晚于结束时期")
    sel = Selection(region=region, region_name=own["name"].iloc[0], region_level=own["level"].iloc[0],
                    year=date_to.year, area=area, page="数据", indicators=tuple(indicators), level=level,
                    within=tuple(within or ()), start=date_from, end=date_to)
    if within:
        known = set(scope(sel.with_(within=()), directory)["code"])
        bad = [r for r in within if r not in known]
        if bad:
            raise ExportError(f"未知区划代码：{'、'.join(bad)}")
    return sel


def top(regions: pd.DataFrame) -> str:
    """The one region at the top of what the user may see; ExportError saying why there is none to pick."""
    tree = Tree(regions)
    if len(tree.roots) == 1:
        return tree.roots[0]
    if not tree.roots:
        raise ExportError("区划表中没有区划，无法确定导出哪个区划：请先导入区划，或用 --region 指定区划代码")
    shown = "、".join(f"{c} {tree.names[c]}" for c in tree.roots[:5]) + ("等" if len(tree.roots) > 5 else "")
    raise ExportError(f"区划表有 {len(tree.roots)} 个最高级区划（{shown}），无法确定导出哪个：请用 --region 指定区划代码")


def scope(sel: Selection, directory: Path | None = None) -> pd.DataFrame:
    """The regions an export covers: the region itself, or its regions at the selection's level —
    only those in `within` if it names any — inside the user's area (code, name, level …)."""
    reg = repo.regions_below(sel.region, sel.level, directory, area=sel.area)
    reg = reg[reg["code"].isin(sel.within)].reset_index(drop=True) if sel.within else reg
    if len(reg) and reg["successor_code"].notna().any():  # a code changed: follow it to the one in use now
        everyone = repo.regions(directory, sel.area)
        heir = dict(zip(everyone["code"], everyone["successor_code"])) | dict(zip(reg["code"], reg["successor_code"]))
        return reg.assign(current_code=[lineage.current_code(c, heir) for c in reg["code"]])
    return reg.assign(current_code=reg["code"])


def _decorate(s: pd.DataFrame, cat: pd.DataFrame, reg: pd.DataFrame) -> pd.DataFrame:
    """The series rows in the file's columns and words (`cat` by indicator id, `reg` by region code)."""
    s = s.assign(
        name_zh=s["indicator_id"].map(cat["name_zh"]), unit=s["indicator_id"].map(cat["unit"]),
        region_name=s["region_code"].map(reg["name"]), current_code=s["region_code"].map(reg["current_code"]),
        level_zh=s["region_code"].map(reg["level"]).map(vocab.LEVELS.labels),
        period_label=period_labels(s["period"], s["indicator_id"].map(cat["frequency"])),
        basis=np.where(s["derived"].astype(bool), "下级汇总", "本级报送"),
        status_zh=s["status"].map(vocab.STATUSES.labels),
        period=s["period"].dt.date,
        value=s["value"].round(6),
        **{c: pd.to_numeric(s[c], errors="coerce").astype("float64").round(6)
           for c in ("numerator", "denominator", "min_value", "max_value")},
    )
    return s[list(COLUMNS)].rename(columns=COLUMNS).reset_index(drop=True)


def batches(sel: Selection, directory: Path | None = None, batch_rows: int = 100_000,
            regions: pd.DataFrame | None = None) -> Iterator[pd.DataFrame]:
    """The export's rows as a stream of finished tables (Chinese headers), never all in memory at once
    (`regions`: the selection's scope, when the caller has it)."""
    reg = scope(sel, directory) if regions is None else regions
    if reg.empty:
        return
    cat = repo.indicators(directory).set_index("id")
    for s in repo.series_batches(**sel.params(reg["code"]), directory=directory, batch_rows=batch_rows):
        if len(s):
            yield _decorate(s, cat, reg.set_index("code"))


def table(sel: Selection, directory: Path | None = None, limit: int | None = None) -> pd.DataFrame:
    """The rows the 数据 page shows and exports: one per indicator, region and period (the first
    `limit` of them if given; the stream stops there)."""
    parts, n = [], 0
    for part in batches(sel, directory, batch_rows=min(limit or 100_000, 100_000)):
        parts.append(part if limit is None else part.head(limit - n))
        n += len(parts[-1])
        if limit is not None and n >= limit:
            break
    if not parts:
        return pd.DataFrame(columns=list(COLUMNS.values()))
    return pd.concat(parts, ignore_index=True)


def count(sel: Selection, directory: Path | None = None) -> int:
    """How many rows the export has, without building them."""
    reg = scope(sel, directory)
    return repo.series_count(**sel.params(reg["code"]), directory=directory) if len(reg) else 0


def period_labels(periods: pd.Series, frequency: pd.Series) -> pd.Series:
    """fmt.period_label for a whole column at once (a per-row call dominated large exports)."""
    year = periods.dt.year.astype(str)
    month = periods.dt.month
    labels = year + "年"
    labels = labels.where(frequency != "month", year + "年" + month.astype(str) + "月")
    return labels.where(frequency != "quarter", year + "年第" + ((month - 1) // 3 + 1).astype(str) + "季度")


def metadata(sel: Selection, df: pd.DataFrame | None = None, directory: Path | None = None, *,
             rows: int | None = None, sources: set[str] | None = None,
             regions: pd.DataFrame | None = None) -> list[tuple[str, str]]:
    """The 说明 sheet: filter, units, rules, sources and dates (from `df`, or `rows`/`sources` when streamed)."""
    meta = repo.meta(directory)
    ind = repo.indicators(directory)
    cat = ind.set_index("id")
    if df is not None:
        rows, sources = len(df), set(df["来源"].dropna()) if "来源" in df else set()
    reg = scope(sel, directory) if regions is None else regions
    described = sel.describe(ind, dict(zip(reg["code"], reg["name"])))
    out = [("标题", meta.get("title", "民生指标")), *described, ("行数", str(rows or 0))]
    for i in sel.indicators:
        c = cat.loc[i]
        out.append((f"口径：{c['name_zh']}", f"单位 {c['unit']}；{vocab.KINDS.label(c['kind'])}；"
                    f"{vocab.FREQUENCIES.label(c['frequency'])}{'，年内累计' if c['cumulative'] else ''}；"
                    f"报送到{vocab.LEVELS.label(c['report_level'])}"))
    out += [("来源", "；".join(sorted(sources or ())) or "—"), ("数据日期", meta.get("data_date") or "未知"),
            ("导出时间", dt.datetime.now().strftime("%Y-%m-%d %H:%M")),
            ("汇总规则", "计数/金额为下级之和；比率为Σ分子/Σ分母；标准类不加总，上级显示本级标准及下级最小–最大值")]
    if meta.get("demo"):
        out.append(("说明", "演示数据，非官方统计"))
    return out


ENCODING_LABELS = {"utf-8-sig": "UTF-8（带 BOM）", "gbk": "GBK", "gb18030": "GB18030", "utf-8": "UTF-8（无 BOM）"}
ENCODINGS = tuple(ENCODING_LABELS)  # the command line's --encoding and the 数据 page's choice
DEMO_VALUE = "数值（演示数据）"  # 数值's header in files of demo data; the importer ignores what brackets hold
XLSX_MAX_ROWS = 1_048_575  # Excel's limit, less the header row


def _check_encoding(encoding: str) -> None:
    if encoding not in ENCODINGS:
        raise ExportError(f"不支持的编码：{encoding}")


def _csv_bytes(df: pd.DataFrame, encoding: str, header: bool = True, before: int = 0) -> bytes:
    """A table as CSV bytes a spreadsheet cannot run and reads as meant: text neutralised and codes kept
    as text (safe_cells.csv_frame), every text field quoted, so a separator inside a name cannot start a
    new cell; numbers stay bare numbers, whole ones without ".0". Text the encoding cannot hold (€ in
    GBK) is refused, naming the row (`before` rows came earlier) and column."""
    text = _whole_numbers(safe_cells.csv_frame(df)).to_csv(index=False, header=header, quoting=csv.QUOTE_NONNUMERIC)
    try:
        return text.encode(encoding)
    except UnicodeEncodeError as e:
        raise _unencodable(df, encoding, before, e.object[e.start], header) from None


def _whole_numbers(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with whole values of float columns as ints, so a count reads "106", not "106.0" (XLSX cells
    do this by themselves). Values with decimals keep every one of them; nothing is rounded here."""
    out = df.copy()
    for col in out.columns:
        v = out[col].to_numpy()
        if v.dtype.kind != "f":
            continue
        whole = np.isfinite(v) & (v == np.trunc(v))
        if whole.any():
            values = v.astype(object)
            values[whole] = [int(x) for x in v[whole]]
            values[np.isnan(v)] = None
            out[col] = pd.Series(values, index=out.index, dtype=object)
    return out


def _unencodable(df: pd.DataFrame, encoding: str, before: int, char: str, header: bool) -> ExportError:
    """Where in `df` the first cell the encoding cannot hold is, as the file's row (header = row 1)."""
    def fits(v) -> bool:
        try:
            str(v).encode(encoding)
            return True
        except UnicodeEncodeError:
            return False

    grid = [[header and c, *df[c]] for c in df.columns]  # the header as row 0 when it is written
    bad = np.array([[isinstance(v, str) and not fits(v) for v in col] for col in grid]).T.nonzero()
    at = f"第 {before + bad[0][0] + 1} 行“{df.columns[bad[1][0]]}”列的" if len(bad[0]) else ""
    return ExportError(f"{at}字符“{char}”无法用 {encoding.upper()} 编码；请改用 UTF-8（默认）或 GB18030 导出")


def to_csv(df: pd.DataFrame, encoding: str = "utf-8-sig") -> bytes:
    """CSV bytes; UTF-8 with BOM by default (what Excel needs for Chinese), GBK on request."""
    _check_encoding(encoding)
    return _csv_bytes(df, encoding)


def _csv_stream(parts, f, encoding: str, columns=None) -> int:
    """Write tables one after another as one CSV (header and BOM once; `columns` when there are no
    rows); returns the row count."""
    _check_encoding(encoding)
    n = 0
    for part in parts:
        f.write(_csv_bytes(part, encoding if n == 0 else encoding.replace("-sig", ""), header=n == 0, before=n))
        n += len(part)
    if n == 0:
        f.write(to_csv(pd.DataFrame(columns=list(columns or COLUMNS.values())), encoding))
    return n


def _xlsx_stream(parts, f, meta, columns=None) -> int:
    """Write tables as the 数据 sheet of an XLSX, row by row (openpyxl write-only: memory stays flat),
    then the 说明 sheet from `meta(rows, sources)`; returns the row count. Every cell goes through
    safe_cells, so no text cell is ever a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)

    def append(ws, values) -> None:
        ws.append([safe_cells.set_cell(WriteOnlyCell(ws), v) for v in values])

    ws = wb.create_sheet("数据")
    ws.freeze_panes = "A2"
    n, sources, started = 0, set(), False
    for part in parts:
        if not started:
            for j, col in enumerate(part.columns):  # widths from the header and the first rows
                ws.column_dimensions[_letter(j)].width = fmt.column_width([col, *part[col].head(1000)])
            append(ws, part.columns)
            width = len(part.columns)
            started = True
        if n + len(part) > XLSX_MAX_ROWS:
            raise ExportError(f"XLSX 最多容纳 {XLSX_MAX_ROWS:,} 行，本次导出超过此数；请缩小范围或改用 CSV")
        values = part.astype(object).where(part.notna(), None)
        for row in values.itertuples(index=False, name=None):
            append(ws, row)
        n += len(part)
        if "来源" in part:
            sources |= set(part["来源"].dropna())
    if not started:
        width = len(list(columns or COLUMNS.values()))
        append(ws, columns or COLUMNS.values())
    ws.auto_filter.ref = f"A1:{_letter(width - 1)}{n + 1}"  # the header row filters, as a clerk would set it
    notes = [("项目", "内容"), *meta(n, sources)]
    ws2 = wb.create_sheet("说明")
    ws2.freeze_panes = "A2"
    ws2.column_dimensions["A"].width = fmt.column_width([r[0] for r in notes])
    ws2.column_dimensions["B"].width = fmt.column_width([r[1] for r in notes], most=120)
    for row in notes:
        append(ws2, row)
    wb.save(f)
    return n


def _letter(j: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(j + 1)


def to_xlsx(df: pd.DataFrame, meta: list[tuple[str, str]]) -> bytes:
    """XLSX with a 数据 sheet and a 说明 sheet (filter, units, sources, data date)."""
    buf = io.BytesIO()
    _xlsx_stream([df], buf, lambda rows, sources: meta)
    return buf.getvalue()


def stream(sel: Selection, f, kind: str, directory: Path | None = None, encoding: str = "utf-8-sig") -> int:
    """Write the export as CSV or XLSX to the binary file `f`, batch by batch; returns the row count."""
    reg = scope(sel, directory)
    parts, columns = _labelled(batches(sel, directory, regions=reg), repo.meta(directory).get("demo"))
    if kind == "csv":
        return _csv_stream(parts, f, encoding, columns)
    if kind == "xlsx":
        if count(sel, directory) > XLSX_MAX_ROWS:  # before writing a million rows only to refuse them
            raise ExportError(f"XLSX 最多容纳 {XLSX_MAX_ROWS:,} 行，本次导出超过此数；请缩小范围或改用 CSV")
        return _xlsx_stream(parts, f, lambda rows, sources: metadata(
            sel, directory=directory, rows=rows, sources=sources, regions=reg), columns)
    raise ExportError(f"输出文件须为 .csv 或 .xlsx：{kind}")


def _labelled(parts: Iterator[pd.DataFrame], demo: bool) -> tuple[Iterator[pd.DataFrame], list[str]]:
    """The tables as a file writes them, and its header: with demo data, 数值 is headed 数值（演示数据）.
    The label sits in the header, not in a line above it, so the header stays the first row: a
    spreadsheet's filter and the importer (which reads 数值（…） as 数值) take the file as it is, and
    the label goes wherever the file goes (renamed, or written by the command line)."""
    if not demo:
        return parts, list(COLUMNS.values())
    return (p.rename(columns={"数值": DEMO_VALUE}) for p in parts), [DEMO_VALUE if c == "数值" else c
                                                                   for c in COLUMNS.values()]


def file_stem(sel: Selection) -> str:
    """A download's file name without suffix, named as every download is (`Selection.file_stem`):
    区域_时期_数据[_演示数据], e.g. 株洲市_按区县_2021-2023年_数据_演示数据."""
    return sel.file_stem(sel.t("数据"))


def payload(sel: Selection, kind: str, directory: Path | None = None, encoding: str = "utf-8-sig") -> bytes:
    """The file's bytes, for a download button (built through a temporary file, not a table in memory)."""
    import tempfile

    with tempfile.TemporaryFile() as f:
        stream(sel, f, kind, directory, encoding)
        f.seek(0)
        return f.read()


def write(sel: Selection, out: Path, directory: Path | None = None, encoding: str = "utf-8-sig") -> int:
    """Write the export to `out` (.csv or .xlsx) atomically, streaming; returns the row count."""
    kind = out.suffix.lower().lstrip(".")
    if kind not in ("csv", "xlsx"):
        raise ExportError(f"输出文件须为 .csv 或 .xlsx：{out.name}")
    _check_encoding(encoding)

    def write_to(tmp: Path) -> int:
        with open(tmp, "wb") as f:
            return stream(sel, f, kind, directory, encoding)

    return files.atomic_write(out, write_to)
