"""Fill-in .xlsx templates for each import kind: Chinese headers with notes, drop-downs, a 说明 sheet.

What the columns are, which are required, their notes, widths, formats, drop-downs and checks is the
import contract (`contract.py`); the words the drop-downs offer are the vocabularies (`vocab.py`).
This module only lays them out in a workbook, every cell through `safe_cells.set_cell`: names from
the catalogue that begin with = + - @ are written as text with a leading apostrophe, never as
formulas (the drop-downs read those cells too).
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation

from minsheng import files, fmt, safe_cells, vocab
from minsheng.ingest import contract
from minsheng.ingest.contract import Column

DATA, HELP, CODES = "数据", "说明", "代码表"  # the importer skips 说明 and 代码表 (and hidden sheets)
ROWS = 10000  # validations cover this many rows; they are one range each, so no cells are created
HEAD_REQUIRED = PatternFill("solid", fgColor="1F4E79")  # dark: must be filled
HEAD_OPTIONAL = PatternFill("solid", fgColor="BDD7EE")


def _pick(indicators: pd.DataFrame, **want) -> pd.Series | None:
    """The first indicator with the wanted attributes, else the first one (None for an empty catalogue)."""
    for _, row in indicators.iterrows():
        if all(row.get(k) == v for k, v in want.items()):
            return row
    return indicators.iloc[0] if len(indicators) else None


def _example(kind: str, indicators: pd.DataFrame, regions: pd.DataFrame) -> list:
    """One plausible row for the 说明 sheet, from the deployment's own catalogue where it has one."""
    today = dt.date.today()
    month = dt.date(today.year, today.month, 1) - dt.timedelta(days=1)  # last complete month
    if kind == "observations":
        ind = _pick(indicators, kind="count", frequency="month")
        if ind is None or not len(regions):
            return ["mz_dibao_urban_persons", "430204000000", "石峰区", f"{month:%Y-%m}", 1234, None, None, "正式", "区民政局月报"]
        same = regions[regions["level"] == ind["report_level"]]
        reg = (same if len(same) else regions).iloc[0]
        period = {"month": f"{month:%Y-%m}", "quarter": f"{month.year}年第{(month.month - 1) // 3 + 1}季度"}.get(
            ind["frequency"], str(month.year))
        num, den = (985, 1000) if ind["kind"] == "rate" else (None, None)
        return [ind["id"], reg["code"], reg["name"], period, 98.5 if num else 1234, num, den, "正式", f"{reg['name']}月报"]
    if kind == "targets":
        ind = _pick(indicators, kind="count", cumulative=True)
        root = regions[regions["parent_code"].isna()] if len(regions) else regions
        code = root.iloc[0]["code"] if len(root) else "430200000000"
        iid, name, unit = ("mz_home_aging_mod", "适老化改造", "户") if ind is None else \
            (ind["id"], ind["name_zh"], ind["unit"])
        return [iid, code, today.year, 1100, "市民政局", f"完成{name} 1100 {unit}", f"{today.year}-12-31"]
    if kind == "regions":
        return ["430204001000", "响石岭街道", "乡镇", "430204000000", 113.09, 27.87]
    if kind == "forms":
        ind = _pick(indicators, frequency="month", report_level="township")
        iid = "mz_dibao_urban_persons" if ind is None else picked_indicator(ind["name_zh"], ind["id"])
        return ["mz_month", "民政月报", "乡镇", "月度", "次月5日", f"{today.year}-01-01", None, "民政", iid]
    return ["mz_home_aging_mod", "困难老年人家庭适老化改造", "Age-friendly home adaptations", "户", "民政", "计数", "月度",
            "是", "乡镇", "是", "年初至当月累计完成户数", "民政统计月报", 0]


def _lists(indicators: pd.DataFrame, regions: pd.DataFrame, kind: str) -> dict[str, tuple[str, list[tuple]]]:
    """Every drop-down's (heading, rows of value and meaning), in 代码表 column order. A return picks an
    indicator by name — 城市低保对象（mz_dibao_urban_persons）, read as its code on import — while the
    catalogue itself (kind "indicators") is keyed by bare codes."""
    domains = fmt.domain_order(list(fmt.DOMAINS) + [d for d in indicators.get("domain", []) if pd.notna(d) and d])
    by_name = kind != "indicators"
    catalogue = {
        "indicator": [(picked_indicator(n, i), n) if by_name else (i, n) for i, n in zip(indicators["id"], indicators["name_zh"])],
        "region": [(c, f"{n}（{vocab.LEVELS.label(lv)}）") for c, n, lv in zip(regions["code"], regions["name"], regions["level"])],
        "domain": [(d, "") for d in domains],
    }
    return {c.name: (c.heading, c.terms.offered() if c.terms else catalogue[c.name]) for c in contract.LISTS}


def picked_indicator(name: str, code: str) -> str:
    """How a template's drop-down offers an indicator: its name, then its code (the importer's
    `validate.PICKED` reads the code back and checks the name)."""
    return f"{name}（{code}）"


def _code_sheet(wb: Workbook, lists: dict) -> dict[str, str]:
    """Write the hidden 代码表; return each list's absolute range for the validations."""
    ws = wb.create_sheet(CODES)
    ranges = {}
    for i, (key, (heading, rows)) in enumerate(lists.items()):
        col = 3 * i + 1  # value, meaning, blank separator
        safe_cells.set_cell(ws.cell(1, col), heading).font = Font(bold=True)
        safe_cells.set_cell(ws.cell(1, col + 1), "名称/含义").font = Font(bold=True)
        for r, (value, meaning) in enumerate(rows, 2):
            safe_cells.set_cell(ws.cell(r, col), str(value)).number_format = "@"
            safe_cells.set_cell(ws.cell(r, col + 1), meaning)
        letter = get_column_letter(col)
        ws.column_dimensions[letter].width = fmt.column_width([heading, *(str(v) for v, _ in rows)])
        ws.column_dimensions[get_column_letter(col + 1)].width = fmt.column_width(["名称/含义", *(m for _, m in rows)])
        if rows:
            # a range, not an inline list: Excel caps inline lists at 255 characters
            ranges[key] = f"{quote_sheetname(CODES)}!${letter}$2:${letter}${len(rows) + 1}"
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(3 * len(lists) - 1)}{max(len(r) for _, r in lists.values()) + 1}"
    ws.sheet_state = "hidden"  # keeps clerks from editing the lists; 说明 says how to unhide it
    return ranges


def _validation(col: Column, ranges: dict[str, str]) -> DataValidation | None:
    checks = {
        "decimal": dict(type="decimal", operator="between", formula1="-1E+15", formula2="1E+15",
                        error="请只填数字，不带单位、文字或 % 号"),
        "year": dict(type="whole", operator="between", formula1="2000", formula2="2100", error="请填四位数年份，如 2026"),
        "places": dict(type="whole", operator="between", formula1="0", formula2="6", error="请填 0 到 6 的整数，或留空按单位"),
        "positive": dict(type="decimal", operator="greaterThan", formula1="0", error="目标值须为大于 0 的数字，不带单位"),
        "date": dict(type="date", operator="between", formula1="DATE(1990,1,1)", formula2="DATE(2100,12,31)",
                     error="请填日期，如 2026-12-31"),
        "lon": dict(type="decimal", operator="between", formula1="73", formula2="136",
                    error="经度应在 73 到 136 之间（经度、纬度是否填反？）"),
        "lat": dict(type="decimal", operator="between", formula1="3", formula2="54",
                    error="纬度应在 3 到 54 之间（经度、纬度是否填反？）"),
    }
    if col.choices and col.choices.name in ranges:
        dv = DataValidation(type="list", formula1=ranges[col.choices.name], allow_blank=True,
                            showErrorMessage=col.strict, errorTitle="不在可选范围",
                            error=f"“{col.header}”请从下拉列表中选择")
    elif col.check:
        dv = DataValidation(allow_blank=True, showErrorMessage=True, errorTitle="格式不对", **checks[col.check])
    else:
        return None
    dv.promptTitle = col.header[:32]
    dv.prompt = col.note[:255]
    dv.showInputMessage = False  # the header comment already says it; a popup on every cell gets in the way
    return dv


def _data_sheet(ws, cols: list[Column], ranges: dict[str, str]) -> None:
    for j, col in enumerate(cols, 1):
        c = safe_cells.set_cell(ws.cell(1, j), col.header)
        c.font = Font(bold=True, color="FFFFFF" if col.required else "000000")
        c.fill = HEAD_REQUIRED if col.required else HEAD_OPTIONAL
        c.alignment = Alignment(horizontal="center", vertical="center")
        note = f"{'必填' if col.required else '选填'}。{col.note}"
        c.comment = Comment(note, "民生指标看板", width=260, height=40 + 18 * (len(note) // 16 + 1))
        letter = get_column_letter(j)
        ws.column_dimensions[letter].width = max(col.width, fmt.column_width([col.header]))
        if col.fmt:
            ws.column_dimensions[letter].number_format = col.fmt  # column style: applies to what the clerk types
        if col.check == "date":
            ws.column_dimensions[letter].number_format = "yyyy-mm-dd"
        dv = _validation(col, ranges)
        if dv is not None:
            ws.add_data_validation(dv)
            dv.add(f"{letter}2:{letter}{ROWS + 1}")
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{ROWS + 1}"  # the rows the clerk fills, filterable
    ws.row_dimensions[1].height = 22


def _help_sheet(ws, kind: str, cols: list[Column], example: list) -> None:
    bold = Font(bold=True)
    rows: list[tuple] = [
        (f"{vocab.FILES.label(kind)}导入模板 · 填写说明",),
        (),
        ("怎么填",),
        ("1", f"在“{DATA}”工作表第 2 行起每行填一条，不要改动第 1 行的列名，也不要合并单元格。"),
        ("2", "深蓝色表头为必填列，浅蓝色为选填列；把鼠标停在列名上可看到该列的填写要求。"),
        ("3", "带下拉箭头的列请从列表中选择；可选的编码和名称在隐藏的“代码表”工作表中（右键工作表标签 → 取消隐藏）。"),
        ("4", "数字只填数字，不带单位；不要用公式（或复制后“粘贴为数值”）。"),
        ("5", "保存为 .xlsx 后，在看板的“导入”页上传，或运行 python -m minsheng import 文件名。"
              "系统逐行检查并预览，没有错误、确认警告后才写入；写入后可撤销。"),
        (),
        ("各列要求", "列名", "必填", "填写要求"),
        *[("", c.header, "是" if c.required else "否", c.note) for c in cols],
        (),
        ("示例（一行）",),
        ("", *[c.header for c in cols]),
        ("", *example),
        (),
        ("也可以这样交",),
        ("CSV", "第一行为同样的列名；编码可为 UTF-8（含或不含 BOM）或 GBK（Excel“另存为 CSV”默认的中文编码）。"),
        ("Excel", "也接受 .xls（Excel 97-2003）；同一工作簿中可有多个同类工作表，“说明”“代码表”工作表不会被导入。"),
        ("列名", "也可用英文字段名（如 indicator_id、region_code），或常见别名（如 行政区划代码、年份、责任单位）。"),
    ]
    if kind == "observations":
        rows += [
            ("宽表", "一行一个区划、每个时期一列：列名写 区划代码（或 区划名称）和 2024、2025…（年度）或 2026-01、2026-02…（月度），"
                    "单元格填数值。可加一列“指标编码”；没有时导入时须选择指标（命令行 --indicator）。"),
            ("按名称", "没有区划代码时可只填区划名称；重名时导入时指定上级区划（命令行 --within）。"),
        ]
    bold_rows = {rows.index(("示例（一行）",)) + 2, next(i for i, v in enumerate(rows, 1) if v[:1] == ("各列要求",))}
    for r, values in enumerate(rows, 1):
        for j, v in enumerate(values, 1):
            cell = safe_cells.set_cell(ws.cell(r, j), v)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            if j == 1 or r in bold_rows:  # section labels and the two table headers
                cell.font = bold
    ws["A1"].font = Font(bold=True, size=14)
    ws.column_dimensions["A"].width = 14
    ws.column_dimensions["B"].width = 16
    ws.column_dimensions["C"].width = 14
    ws.column_dimensions["D"].width = 70
    for j in range(5, len(cols) + 2):
        ws.column_dimensions[get_column_letter(j)].width = 14


def workbook(kind: str, indicators: pd.DataFrame, regions: pd.DataFrame) -> Workbook:
    if kind not in contract.KINDS:
        raise ValueError(f"未知模板类型“{kind}”（可选：{'、'.join(contract.KINDS)}）")
    cols = contract.KINDS[kind].shown
    wb = Workbook()
    data = wb.active
    data.title = DATA  # first, so the file opens where the clerk types; 说明 is the next tab
    _help_sheet(wb.create_sheet(HELP), kind, cols, _example(kind, indicators, regions))
    ranges = _code_sheet(wb, _lists(indicators, regions, kind))
    _data_sheet(data, cols, ranges)
    wb.active = 0
    return wb


def template_bytes(kind: str, indicators: pd.DataFrame, regions: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    workbook(kind, indicators, regions).save(buf)
    return buf.getvalue()


def write_template(kind: str, out: Path, indicators: pd.DataFrame, regions: pd.DataFrame) -> None:
    """Write the template atomically (a half-written file would not open in Excel)."""
    payload = template_bytes(kind, indicators, regions)
    files.atomic_write(Path(out), lambda tmp: tmp.write_bytes(payload))
