"""Fill-in .xlsx templates for each import kind: Chinese headers with notes, drop-downs, a 说明 sheet."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation

from minsheng import files, fmt, vocab

KINDS = ("observations", "targets", "regions", "indicators")
KIND_ZH = {"observations": "指标数据", "targets": "目标任务", "regions": "区划", "indicators": "指标目录"}
DATA, HELP, CODES = "数据", "说明", "代码表"  # the importer skips 说明 and 代码表 (and hidden sheets)
ROWS = 10000  # validations cover this many rows; they are one range each, so no cells are created
HEAD_REQUIRED = PatternFill("solid", fgColor="1F4E79")  # dark: must be filled
HEAD_OPTIONAL = PatternFill("solid", fgColor="BDD7EE")

# Fixed vocabularies, written the way the importer reads them (validate.LEVELS, IND_KINDS, FREQS …).
FIXED = {
    "level": [("市", "地级市"), ("县", "县、县级市、区"), ("乡镇", "乡、镇、街道"), ("村", "村、社区")],
    "kind": [("计数", "人数、户数、个数等，上级为下级之和"), ("金额", "资金、数量等，上级为下级之和"),
             ("比率", "百分数，上级为 Σ分子 ÷ Σ分母"), ("标准", "低保标准等，不加总")],
    "frequency": [("年度", "每年报一次"), ("季度", "每季度报一次"), ("月度", "每月报一次")],
    "status": [("正式", "正式数据（留空即为正式）"), ("初步", "快报、初步数据，之后会更正")],
    "bool": [("是", ""), ("否", "")],
}


@dataclass(frozen=True)
class Col:
    header: str
    required: bool
    note: str
    width: int
    choices: str | None = None   # a list in 代码表: indicator, region, level, kind, frequency, status, bool, domain
    strict: bool = True          # False: the drop-down helps, but other values are allowed (new codes)
    fmt: str | None = None       # "@" keeps codes and periods as text, so Excel does not turn them into numbers/dates
    check: str | None = None     # decimal | positive | year | date | lon | lat


CODE_NOTE = "6、9 或 12 位统计用区划代码（如 430204 或 430204000000），按文本填写，不要写成 4.30204E+11。"
COLUMNS = {
    "observations": [
        Col("指标编码", True, "指标的编码（如 mz_dibao_urban_persons），从下拉列表选择。编码与名称对照见“代码表”工作表。", 26,
            "indicator", fmt="@"),
        Col("区划代码", True, CODE_NOTE + "从下拉列表选择或直接填写。", 16, "region", fmt="@"),
        Col("区划名称", False, "选填，仅供核对；导入时以区划代码为准。", 14),
        Col("时期", True, "月度写 2026-10（或 2026年10月），季度写 2026年第3季度，年度写 2026。须与指标的报送频度一致。", 12,
            fmt="@"),
        Col("数值", True, "不带单位的数字，比率写百分数如 98.5（不写 % 号）。年内累计的月度指标写年初至当月的累计数。", 12,
            check="decimal"),
        Col("分子", False, "比率类指标填写，如 参保人数；其他指标留空。", 12, check="decimal"),
        Col("分母", False, "比率类指标填写，如 应参保人数；数值 = 分子 ÷ 分母 × 100。", 12, check="decimal"),
        Col("状态", False, "正式 或 初步（快报）；留空视为正式。", 8, "status"),
        Col("来源", False, "数据来源，如“石峰区民政局月报”。", 24),
    ],
    "targets": [
        Col("指标编码", True, "任务对应的指标编码，从下拉列表选择。", 26, "indicator", fmt="@"),
        Col("区划代码", True, CODE_NOTE + "目标所属的区划（通常为本市或本县）。", 16, "region", fmt="@"),
        Col("年度", True, "四位数年份，如 2026。", 8, check="year"),
        Col("目标值", True, "大于 0 的数字，与指标同单位，不带单位；比率写百分数如 95。", 10, check="positive"),
        Col("部门", True, "责任部门，如“市民政局”。", 14),
        Col("任务", False, "民生实事任务名称，如“完成困难老年人家庭适老化改造 1100 户”；留空时用指标名称。", 36),
        Col("截止日期", False, "完成时限，日期如 2026-06-30；留空为当年 12 月 31 日。", 12, check="date"),
    ],
    "regions": [
        Col("区划代码", True, CODE_NOTE + "下拉列表为已有区划；新增区划直接填写。", 16, "region", strict=False, fmt="@"),
        Col("名称", True, "区划名称，如“石峰区”“响石岭街道”。", 14),
        Col("级别", False, "市、县、乡镇 或 村（县含县级市、区，乡镇含街道，村含社区）；留空时按代码推断。", 8, "level"),
        Col("上级代码", False, "上级区划的代码；留空时按代码推断（如 430204001000 的上级为 430204000000）。", 16, "region",
            strict=False, fmt="@"),
        Col("经度", False, "驻地经度，WGS84 小数度数，如 113.13；没有边界时地图在此处画点。", 10, check="lon"),
        Col("纬度", False, "驻地纬度，WGS84 小数度数，如 27.83。", 10, check="lat"),
    ],
    "indicators": [
        Col("指标编码", True, "小写字母、数字和下划线，如 mz_dibao_urban_persons；一经使用不要更改。下拉列表为已有指标，新增直接填写。",
            26, "indicator", strict=False, fmt="@"),
        Col("指标名称", True, "中文名称，如“城市低保对象”。", 22),
        Col("英文名称", False, "英文名称，用于英文导出，如 Urban minimum-living recipients。", 22),
        Col("单位", True, "如 人、户、元/月、万元、%。比率类指标写 %。", 8),
        Col("领域", False, "民政、医保、卫健、人社、残联等，可从下拉列表选择或直接填写；留空为“其他”。", 8, "domain", strict=False),
        Col("类型", True, "计数、金额、比率 或 标准：决定上级如何汇总（见“代码表”）。", 8, "kind"),
        Col("频度", True, "年度、季度 或 月度。", 8, "frequency"),
        Col("累计", False, "是：月度数值为年初至当月累计；否：为当月（或月末）数。留空为否。", 6, "bool"),
        Col("报送级别", False, "最低报送级别：市、县、乡镇 或 村；更高级别由看板汇总。留空为县。", 10, "level"),
        Col("越大越好", False, "是：数值越大越好；否：越小越好（如 失业率）。留空为是。", 10, "bool"),
        Col("说明", False, "统计口径：统计什么、截至何时、含不含哪些对象，如“月末在册人数，不含临时救助”。", 30),
        Col("来源", False, "数据来源或依据文件，如“民政统计月报”。", 24),
    ],
}


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
    return ["mz_home_aging_mod", "困难老年人家庭适老化改造", "Age-friendly home adaptations", "户", "民政", "计数", "月度",
            "是", "乡镇", "是", "年初至当月累计完成户数", "民政统计月报"]


def _lists(indicators: pd.DataFrame, regions: pd.DataFrame) -> dict[str, tuple[str, list[tuple]]]:
    """Every drop-down's (heading, rows of value and meaning), in 代码表 column order."""
    domains = fmt.domain_order(list(fmt.DOMAINS) + [d for d in indicators.get("domain", []) if pd.notna(d) and d])
    return {
        "indicator": ("指标编码", list(zip(indicators["id"], indicators["name_zh"]))),
        "region": ("区划代码", [(c, f"{n}（{vocab.LEVELS.label(lv)}）")
                             for c, n, lv in zip(regions["code"], regions["name"], regions["level"])]),
        "level": ("级别", FIXED["level"]),
        "kind": ("类型", FIXED["kind"]),
        "frequency": ("频度", FIXED["frequency"]),
        "status": ("状态", FIXED["status"]),
        "bool": ("是否", FIXED["bool"]),
        "domain": ("领域", [(d, "") for d in domains]),
    }


def _code_sheet(wb: Workbook, lists: dict) -> dict[str, str]:
    """Write the hidden 代码表; return each list's absolute range for the validations."""
    ws = wb.create_sheet(CODES)
    ranges = {}
    for i, (key, (heading, rows)) in enumerate(lists.items()):
        col = 3 * i + 1  # value, meaning, blank separator
        ws.cell(1, col, heading).font = Font(bold=True)
        ws.cell(1, col + 1, "名称/含义").font = Font(bold=True)
        for r, (value, meaning) in enumerate(rows, 2):
            ws.cell(r, col, str(value)).number_format = "@"
            ws.cell(r, col + 1, meaning)
        letter = get_column_letter(col)
        ws.column_dimensions[letter].width = 16
        ws.column_dimensions[get_column_letter(col + 1)].width = 28
        if rows:
            # a range, not an inline list: Excel caps inline lists at 255 characters
            ranges[key] = f"{quote_sheetname(CODES)}!${letter}$2:${letter}${len(rows) + 1}"
    ws.freeze_panes = "A2"
    ws.sheet_state = "hidden"  # keeps clerks from editing the lists; 说明 says how to unhide it
    return ranges


def _validation(col: Col, ranges: dict[str, str]) -> DataValidation | None:
    checks = {
        "decimal": dict(type="decimal", operator="between", formula1="-1E+15", formula2="1E+15",
                        error="请只填数字，不带单位、文字或 % 号"),
        "year": dict(type="whole", operator="between", formula1="2000", formula2="2100", error="请填四位数年份，如 2026"),
        "positive": dict(type="decimal", operator="greaterThan", formula1="0", error="目标值须为大于 0 的数字，不带单位"),
        "date": dict(type="date", operator="between", formula1="DATE(1990,1,1)", formula2="DATE(2100,12,31)",
                     error="请填日期，如 2026-12-31"),
        "lon": dict(type="decimal", operator="between", formula1="73", formula2="136",
                    error="经度应在 73 到 136 之间（经度、纬度是否填反？）"),
        "lat": dict(type="decimal", operator="between", formula1="3", formula2="54",
                    error="纬度应在 3 到 54 之间（经度、纬度是否填反？）"),
    }
    if col.choices in ranges:
        dv = DataValidation(type="list", formula1=ranges[col.choices], allow_blank=True,
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


def _data_sheet(ws, cols: list[Col], ranges: dict[str, str]) -> None:
    for j, col in enumerate(cols, 1):
        c = ws.cell(1, j, col.header)
        c.font = Font(bold=True, color="FFFFFF" if col.required else "000000")
        c.fill = HEAD_REQUIRED if col.required else HEAD_OPTIONAL
        c.alignment = Alignment(horizontal="center", vertical="center")
        note = f"{'必填' if col.required else '选填'}。{col.note}"
        c.comment = Comment(note, "民生指标看板", width=260, height=40 + 18 * (len(note) // 16 + 1))
        letter = get_column_letter(j)
        ws.column_dimensions[letter].width = max(col.width, 2 * len(col.header) + 4)
        if col.fmt:
            ws.column_dimensions[letter].number_format = col.fmt  # column style: applies to what the clerk types
        if col.check == "date":
            ws.column_dimensions[letter].number_format = "yyyy-mm-dd"
        dv = _validation(col, ranges)
        if dv is not None:
            ws.add_data_validation(dv)
            dv.add(f"{letter}2:{letter}{ROWS + 1}")
    ws.freeze_panes = "A2"
    ws.row_dimensions[1].height = 22


def _help_sheet(ws, kind: str, cols: list[Col], example: list) -> None:
    bold = Font(bold=True)
    rows: list[tuple] = [
        (f"{KIND_ZH[kind]}导入模板 · 填写说明",),
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
            cell = ws.cell(r, j, v)
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
    if kind not in COLUMNS:
        raise ValueError(f"未知模板类型“{kind}”（可选：{'、'.join(KINDS)}）")
    cols = COLUMNS[kind]
    wb = Workbook()
    data = wb.active
    data.title = DATA  # first, so the file opens where the clerk types; 说明 is the next tab
    _help_sheet(wb.create_sheet(HELP), kind, cols, _example(kind, indicators, regions))
    ranges = _code_sheet(wb, _lists(indicators, regions))
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
