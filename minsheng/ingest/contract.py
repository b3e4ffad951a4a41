"""The import contract: for each kind of file, its columns, each once.

A column says what clerks may call it, whether a file must have it (and what may stand in for it),
how its cells are read (free text within a length, numbers within each indicator kind's bounds),
whether it identifies a row (key) or is a field of the table (stored: the preview compares every one,
and a file without the column leaves the field as it is), and how the fill-in template shows it:
header note, width, number format, drop-down, data validation. The template (`template.py`) renders
this, the validator (`validate.py`) enforces it and the preview (`pipeline.py`) compares by it;
`tests/test_contract.py` holds the three to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from minsheng import vocab
from minsheng.ingest import cells


@dataclass(frozen=True)
class Choices:
    """A drop-down list: its column in the template's hidden 代码表, and the vocabulary behind it
    (None: the deployment's own indicators, regions or domains)."""
    name: str
    heading: str
    terms: vocab.Vocabulary | None = None


INDICATOR = Choices("indicator", "指标编码")
REGION = Choices("region", "区划代码")
LEVEL = Choices("level", "级别", vocab.LEVELS)
KIND = Choices("kind", "类型", vocab.KINDS)
FREQUENCY = Choices("frequency", "频度", vocab.FREQUENCIES)
STATUS = Choices("status", "状态", vocab.STATUSES)
YES_NO = Choices("bool", "是否", vocab.YES_NO)
DOMAIN = Choices("domain", "领域")
LISTS = (INDICATOR, REGION, LEVEL, KIND, FREQUENCY, STATUS, YES_NO, DOMAIN)  # the 代码表's columns, in order


@dataclass(frozen=True)
class Column:
    name: str                        # as stored in the table; also accepted as a header
    headers: tuple[str, ...]         # what clerks write for it; the first is the template's header
    note: str = ""                   # the template's header comment and its line in 说明
    width: int = 10
    required: bool = False           # a file without it is refused, unless `instead` or `chosen` applies
    instead: tuple[str, ...] = ()    # columns that, all present, stand in for this required one
    decisive: bool = False           # missing (with its stand-ins): the only problem named, the file is not this kind
    chosen: bool = False             # not needed when the import names it for the whole file (--indicator)
    wide: bool = False               # a wide table (one column per period) holds it in its headers and cells
    parse: Callable | None = None    # cell text → (value, None) or (None, message); by default its vocabulary's
    key: bool = False                # identifies a row; the preview joins on the keys
    stored: bool = True              # a column of the table: a changed value makes an existing row 修改
    reset: bool = False              # absent from a file, an existing row takes the default all the same
                                     # (it goes with the value); any other absent column is left as it is
    limit: int = 0                   # free text: at most this many characters (`cells.text`)
    choices: Choices | None = None   # the template's drop-down
    strict: bool = True              # False: the drop-down helps, but other values are allowed (new codes)
    fmt: str | None = None           # the template column's number format; "@" keeps codes and periods as text
    check: str | None = None         # the template's data validation: decimal | positive | year | date | lon | lat
    template: bool = True            # False: read on import, but not a column of the template

    @property
    def header(self) -> str:
        return self.headers[0]

    def read(self, text, *args):
        """The cell parsed: (value, None) or (None, message). Only for a column that has a parser or a
        vocabulary; the others (indicators, region codes and names) are checked against the catalogue."""
        parse = self.parse or cells.term(self.choices.terms)
        return parse(text, *args)


@dataclass(frozen=True)
class Kind:
    name: str                        # a vocab.FILES code
    columns: tuple[Column, ...]
    carried: tuple[str, ...] = ()    # table columns no file holds: an existing row keeps them, a new one is given them

    def __getitem__(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def keys(self) -> list[str]:
        return [c.name for c in self.columns if c.key]

    @property
    def compared(self) -> list[str]:
        """Every field a commit may change: the preview compares them all."""
        return [c.name for c in self.columns if c.stored and not c.key]

    def absent(self, cols: dict[str, int]) -> list[str]:
        """The fields a file without these columns leaves as they are on existing rows (not the keys, not
        what a wide table holds in its headers, not what goes with the value or stands in for a column)."""
        return [c.name for c in self.columns if c.stored and not (c.key or c.required or c.reset or c.wide)
                and c.name not in cols]

    @property
    def shown(self) -> list[Column]:
        """The template's columns, in order."""
        return [c for c in self.columns if c.template]

    @property
    def wide(self) -> list[str]:
        """The columns a wide table spreads out: the period in its headers, the value in the cells."""
        return [c.name for c in self.columns if c.wide]

    def periods(self, header: list[str], cols: dict[str, int]) -> list[tuple[int, str]]:
        """A wide table's period columns, (index, header); [] for a long table (one with a value column)."""
        if not self.wide or self.wide[-1] in cols:
            return []
        # a header typed 2026-09 often arrives as a date cell (2026-09-01): still a period column
        return [(i, h) for i, h in enumerate(header) if h and cells.period_shape(h)]

    def missing(self, cols: dict[str, int], *, wide: bool, chosen: bool) -> list[Column]:
        """The required columns a file lacks, in the order to name them: plain ones, then those the
        import may name for the whole file (`chosen`), then those with stand-ins. A column is there
        when all its stand-ins are; a wide table holds its `wide` columns in the headers and cells."""
        def lacks(c: Column) -> bool:
            return c.name not in cols and not (c.instead and all(x in cols for x in c.instead)) \
                and not (wide and c.wide) and not (c.chosen and chosen)
        return sorted((c for c in self.columns if c.required and lacks(c)), key=lambda c: (bool(c.instead), c.chosen))


# How long a free-text cell may be, in characters: a name fits a card title and a legend, an English
# name runs two to three times the characters of the Chinese one, a unit is a few signs (元/人·月),
# a department or domain a short phrase, a task or source a sentence, a description a paragraph.
NAME, NAME_EN, UNIT, SHORT, SENTENCE, PARAGRAPH = 60, 120, 16, 40, 200, 1000


def text(limit: int, **kw) -> dict:
    return dict(limit=limit, parse=cells.text(limit, **kw))


# What a value of each indicator kind may be, both ends included: a count, amount or standard is not
# negative and stays below 10^12 (a province's yuan fit; a sum of 31,000 such values stays finite); a rate
# is a percentage. A rate's numerator and denominator are counts.
LARGEST = 999_999_999_999
BOUNDS = {"count": (0, LARGEST), "amount": (0, LARGEST), "rate": (0, 100), "standard": (0, LARGEST)}
assert tuple(BOUNDS) == vocab.KINDS.codes
LON, LAT = (73, 136), (3, 54)  # China, in WGS84 degrees: a region's seat lies inside

CODE_NOTE = (f"{cells.CODE_SPELLED}统计用区划代码（如 4302、430204 或 430204000000），按文本填写，"
             "不要写成 4.30204E+11。")
NUMBER = dict(parse=cells.parse_number, check="decimal")

KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("observations", (
        Column("indicator_id", ("指标编码", "指标代码", "指标id"), required=True, chosen=True, key=True, width=26,
               note="指标的编码（如 mz_dibao_urban_persons），从下拉列表选择。编码与名称对照见“代码表”工作表。",
               choices=INDICATOR, fmt="@"),
        Column("region_code", ("区划代码", "行政区划代码", "统计用区划代码", "地区代码"), required=True,
               instead=("region_name",), decisive=True, key=True, width=16,
               note=CODE_NOTE + "从下拉列表选择或直接填写。", choices=REGION, fmt="@"),
        Column("region_name", ("区划名称", "地区", "地区名称", "单位", "乡镇", "乡镇街道", "区县"), width=14,
               stored=False, **text(NAME), note="选填，仅供核对；导入时以区划代码为准。"),
        Column("period", ("时期", "统计时期", "期别", "年月", "月份"), required=True, wide=True, key=True,
               parse=cells.parse_period, width=12, fmt="@",
               note="月度写 2026-10（或 2026年10月），季度写 2026年第3季度，年度写 2026。须与指标的报送频度一致。"),
        Column("value", ("数值", "值", "指标值", "本期数"), required=True, instead=("numerator", "denominator"),
               wide=True, width=12, **NUMBER,
               note="不带单位的数字，比率写百分数如 98.5（不写 % 号）。年内累计的月度指标写年初至当月的累计数。"),
        Column("numerator", ("分子",), reset=True, width=12, **NUMBER, note="比率类指标填写，如 参保人数；其他指标留空。"),
        Column("denominator", ("分母",), reset=True, width=12, **NUMBER,
               note="比率类指标填写，如 应参保人数；数值 = 分子 ÷ 分母 × 100。"),
        Column("status", ("状态", "数据状态"), reset=True, width=8,
               note="正式 或 初步（快报）；留空视为正式。", choices=STATUS),
        Column("source", ("来源", "数据来源"), width=24, **text(SENTENCE), note="数据来源，如“石峰区民政局月报”。"),
    )),
    Kind("targets", (
        Column("indicator_id", ("指标编码", "指标代码"), required=True, key=True, width=26,
               note="任务对应的指标编码，从下拉列表选择。", choices=INDICATOR, fmt="@"),
        Column("region_code", ("区划代码", "行政区划代码"), required=True, instead=("region_name",), key=True, width=16,
               note=CODE_NOTE + "目标所属的区划（通常为本市或本县）。", choices=REGION, fmt="@"),
        Column("region_name", ("区划名称", "地区"), stored=False, template=False, **text(NAME)),
        Column("year", ("年度", "年份"), required=True, key=True, parse=cells.parse_year, width=8, check="year",
               note="四位数年份，如 2026。"),
        Column("target", ("目标值", "目标", "年度目标"), required=True, parse=cells.parse_number,
               width=10, check="positive", note="大于 0 的数字，与指标同单位，不带单位；比率写百分数如 95。"),
        Column("department", ("部门", "责任单位", "牵头单位"), required=True, width=14, **text(SHORT),
               note="责任部门，如“市民政局”。"),
        Column("task", ("任务", "任务名称", "民生实事"), width=36, **text(SENTENCE),
               note="民生实事任务名称，如“完成困难老年人家庭适老化改造 1100 户”；留空时用指标名称。"),
        Column("deadline", ("截止日期", "完成时限", "期限"), parse=cells.parse_deadline, width=12,
               check="date", note="完成时限，日期如 2026-06-30；留空为当年 12 月 31 日。"),
    )),
    Kind("regions", (
        Column("code", ("区划代码", "统计用区划代码", "代码"), required=True, key=True, parse=cells.normalise_code,
               width=16, note=CODE_NOTE + "下拉列表为已有区划；新增区划直接填写。", choices=REGION, strict=False, fmt="@"),
        Column("name", ("名称", "区划名称"), required=True, width=14, **text(NAME), note="区划名称，如“石峰区”“响石岭街道”。"),
        Column("level", ("级别", "层级"), width=8, choices=LEVEL,
               note="市、县、乡镇 或 村（县含县级市、区，乡镇含街道，村含社区）；留空时按代码推断。"),
        Column("parent_code", ("上级代码", "上级区划代码"), parse=cells.normalise_code, width=16,
               note="上级区划的代码；留空时按代码推断（如 430204001000 的上级为 430204000000）。",
               choices=REGION, strict=False, fmt="@"),
        Column("lon", ("经度",), parse=cells.parse_number, width=10, check="lon",
               note="驻地经度，WGS84 小数度数，如 113.13；没有边界时地图在此处画点。"),
        Column("lat", ("纬度",), parse=cells.parse_number, width=10, check="lat",
               note="驻地纬度，WGS84 小数度数，如 27.83。"),
        Column("valid_from", ("启用日期", "设立日期"), parse=cells.day("启用日期"), width=12, check="date",
               note="选填：该代码开始使用的日期，如 2018-06-20；留空为一直有效。"),
        Column("valid_to", ("停用日期", "撤销日期"), parse=cells.day("停用日期"), width=12, check="date",
               note="选填：该代码最后有效的一天，如 2018-06-19；留空为仍在使用。某时期的数据计入该时期最后一天有效的区划。"),
        Column("successor_code", ("承继区划代码", "承继代码", "新区划代码"), parse=cells.normalise_code, width=16,
               note="选填：代码停用后由哪个区划承继（如 株洲县 430221 → 渌口区 430212）；须同时填写停用日期。",
               choices=REGION, strict=False, fmt="@"),
    )),
    Kind("indicators", (
        Column("id", ("指标编码", "指标代码"), required=True, key=True, width=26, choices=INDICATOR, strict=False, fmt="@",
               note="小写字母、数字和下划线，如 mz_dibao_urban_persons；一经使用不要更改。下拉列表为已有指标，新增直接填写。"),
        Column("name_zh", ("指标名称", "名称"), required=True, width=22, **text(NAME), note="中文名称，如“城市低保对象”。"),
        Column("name_en", ("英文名称",), width=22, **text(NAME_EN), note="英文名称，用于英文导出，如 Urban minimum-living recipients。"),
        Column("unit", ("单位", "计量单位"), required=True, width=8, **text(UNIT, unit=True), note="如 人、户、元/月、万元、%。比率类指标写 %。"),
        Column("domain", ("领域", "部门"), width=8, choices=DOMAIN, strict=False, **text(SHORT),
               note="民政、医保、卫健、人社、残联等，可从下拉列表选择或直接填写；留空为“其他”。"),
        Column("kind", ("类型", "指标类型"), required=True, width=8,
               choices=KIND, note="计数、金额、比率 或 标准：决定上级如何汇总（见“代码表”）。"),
        Column("frequency", ("频度", "频率", "报送频度"), required=True,
               width=8, choices=FREQUENCY, note="年度、季度 或 月度。"),
        Column("cumulative", ("累计", "是否累计"), parse=cells.parse_yes_no, width=6, choices=YES_NO,
               note="是：月度数值为年初至当月累计；否：为当月（或月末）数。留空为否。"),
        Column("report_level", ("报送级别", "报送层级"), width=10,
               choices=LEVEL, note="最低报送级别：市、县、乡镇 或 村；更高级别由看板汇总。留空为县。"),
        Column("higher_is_better", ("越大越好", "正向指标"), parse=cells.parse_yes_no, width=10, choices=YES_NO,
               note="是：数值越大越好；否：越小越好（如 失业率）。留空为是。"),
        Column("description", ("说明", "指标说明"), width=30, **text(PARAGRAPH, lines=True),
               note="统计口径：统计什么、截至何时、含不含哪些对象，如“月末在册人数，不含临时救助”。"),
        Column("source", ("来源",), width=24, **text(SENTENCE), note="数据来源或依据文件，如“民政统计月报”。"),
        Column("decimals", ("小数位数", "小数位"), parse=cells.parse_decimals, width=8, check="places",
               note="页面、图表和幻灯片显示几位小数（0–6 的整数；导出文件保留原值）。留空按单位：人、户、个、座、元等 0 位，"
                    "% 1 位，‰、年、岁、万人 2 位，其他万、亿单位 1 位。如 平均受教育年限 10.64 年 填 2。"),
    ), carried=("seq",)),
    # A 报表: one row per indicator it asks for, in the order the form lists them (minsheng/forms.py). A file
    # gives each form it names whole: the form's rows in the data become the file's (an indicator left out
    # is dropped from the form), other forms stay as they are.
    Kind("forms", (
        Column("form_id", ("报表编码", "报表代码"), required=True, key=True, width=14, fmt="@",
               note="小写字母、数字和下划线，如 mz_month；一经使用不要更改。同一报表的每个指标各占一行，报表的各项写法须一致。"),
        Column("form_name", ("报表名称",), required=True, width=16, **text(NAME), note="如“民政月报”。"),
        Column("report_level", ("填报级别", "报送级别"), required=True, width=10, choices=LEVEL,
               note="由哪一级填报：市、县、乡镇 或 村；每个该级区划每期交一份，由其上一级审核。"),
        Column("frequency", ("报送频度", "频度"), required=True, width=8, choices=FREQUENCY, note="年度、季度 或 月度。"),
        Column("deadline_day", ("报送时限", "截止时间"), required=True, width=12, parse=cells.deadline_day,
               note="期末后几日内报送，如 次月5日、次季首月10日、次年1月20日，或直接写天数 5。"),
        Column("valid_from", ("启用日期",), parse=cells.day("启用日期"), width=12, check="date",
               note="选填：报表从哪天起要求报送，如 2026-07-01；留空为一直要求。"),
        Column("valid_to", ("停用日期",), parse=cells.day("停用日期"), width=12, check="date",
               note="选填：报表最后要求报送的一天；留空为仍在使用。"),
        Column("department", ("主管部门", "部门"), width=10, **text(SHORT), note="如“民政”“医保”。"),
        Column("indicator_id", ("指标编码", "指标代码"), required=True, key=True, width=26, choices=INDICATOR, fmt="@",
               note="报表要求填报的指标，从下拉列表选择；须是已导入指标目录中的指标，频度与报表一致。"),
        Column("issued_by", ("下发单位", "下发区划", "适用区划"), width=16, fmt="@", **text(NAME),
               note="选填：由哪个区划下发，填区划代码或名称，如 430200000000 或 株洲市；只有它下面该级的区划填报，"
                    "须高于填报级别。留空为全部该级区划都填报。"),
    ), carried=("position",)),
)}
assert tuple(KINDS) == vocab.FILES.codes


def map_headers(header: list[str], kind: str) -> dict[str, int]:
    """column name → index in `header`, for the columns of `kind` the header names (the first one wins)."""
    lookup = {cells.norm_header(h): c.name for c in KINDS[kind].columns for h in (c.name, *c.headers)}
    found: dict[str, int] = {}
    for i, h in enumerate(header):
        name = lookup.get(cells.norm_header(h))
        if name and name not in found:
            found[name] = i
    return found


def guess_kind(header: list[str]) -> str:
    """The kind whose headers a file uses most; observations wins ties (the monthly returns)."""
    found = {k: map_headers(header, k) for k in KINDS}
    if "form_id" in found["forms"]:  # before the catalogue: a 报表 names 报送频度 too
        return "forms"
    if "target" in found["targets"]:
        return "targets"
    if "frequency" in found["indicators"] or "unit" in found["indicators"] and "kind" in found["indicators"]:
        return "indicators"
    returns = {"indicator_id", "value"} <= set(found["observations"])  # our own export has 级别 too
    if not returns and ("level" in found["regions"] or "parent_code" in found["regions"]):
        return "regions"
    return max(KINDS, key=lambda k: (len(found[k]), k == "observations"))


# --- the tables the store keeps -------------------------------------------------------------------
# A table's columns are its kind's stored columns and the carried ones, so a column added to the
# contract is a column of a new, empty table too (`python -m minsheng init`). Its type follows from
# how its cells are read; the columns no file holds are named here.
_READ_AS = {cells.parse_number: "float64", cells.parse_year: "int64", cells.parse_period: "date32",
            cells.parse_deadline: "date32", cells.parse_yes_no: "bool"}
_CHECKED_AS = {"decimal": "float64", "positive": "float64", "lon": "float64", "lat": "float64", "year": "int64",
               "date": "date32"}
_NAMED = {"seq": "int64", "position": "int64", "deadline_day": "int64", "valid_from": "date32", "valid_to": "date32", "batch_id": "string", "decimals": "int64"}
STAMPED = {"observations": ("batch_id",)}  # written by the import itself (the file's checksum), not by a clerk


def table_columns(kind: str) -> list[tuple[str, str]]:
    """(column, type) of the table `kind` fills, in order: string, float64, int64, date32 or bool."""
    spec = KINDS[kind]
    out = [(c.name, _NAMED.get(c.name) or _READ_AS.get(c.parse) or _CHECKED_AS.get(c.check) or "string")
           for c in spec.columns if c.stored]
    return out + [(c, _NAMED.get(c, "string")) for c in (*spec.carried, *STAMPED.get(kind, ()))]


def empty_table(kind: str):
    """The table `kind` fills with no rows, as a pyarrow Table: what a new store starts with."""
    import pyarrow as pa

    types = {"string": pa.large_string(), "float64": pa.float64(), "int64": pa.int64(), "date32": pa.date32(),
             "bool": pa.bool_()}
    return pa.schema([(name, types[t]) for name, t in table_columns(kind)]).empty_table()
