"""What one cell of an import file says: a period, a number, a region code, a year, a date, yes or no.

Each parser returns (value, None), or (None, a Chinese message that quotes the text); an empty cell
(None) is (None, None) where emptiness is allowed, so the validator decides whether it is. Nothing here
knows about rows, files or the catalogue, and nothing imports pandas (auth reads region codes too).
"""

from __future__ import annotations

import datetime as dt
import functools
import re

from minsheng import vocab

PERIOD_YEAR = re.compile(r"^(\d{4})\s*年?$")
PERIOD_MONTH = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$")
PERIOD_MONTH_COMPACT = re.compile(r"^(\d{4})(\d{2})$")
PERIOD_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T].*)?$")
PERIOD_QUARTER = re.compile(r"^(\d{4})\s*(?:[-\s]?[Qq]|年第|年)\s*([1-4一二三四])\s*(?:季度|季)?$")
CN_DIGIT = {"一": 1, "二": 2, "三": 3, "四": 4}


def norm_header(h: str) -> str:
    """A header as compared with the contract's: without brackets and what they hold, spaces, _ - : * or case."""
    h = re.sub(r"[（(].*?[)）]", "", h or "")
    return re.sub(r"[\s_\-:：*＊]", "", h).lower()


def period_shape(text: str) -> tuple[str, dt.date] | None:
    """('year'|'quarter'|'month'|'date', first day) for a period written any of the usual ways."""
    t = text.strip()
    if m := PERIOD_YEAR.match(t):
        return "year", dt.date(int(m[1]), 1, 1)
    if m := PERIOD_QUARTER.match(t):
        q = CN_DIGIT.get(m[2]) or int(m[2])
        return "quarter", dt.date(int(m[1]), 3 * q - 2, 1)
    for pattern in (PERIOD_MONTH, PERIOD_MONTH_COMPACT):
        if (m := pattern.match(t)) and 1 <= int(m[2]) <= 12:
            return "month", dt.date(int(m[1]), int(m[2]), 1)
    if (m := PERIOD_DATE.match(t)) and 1 <= int(m[2]) <= 12:
        return "date", dt.date(int(m[1]), int(m[2]), 1)
    return None


def parse_period(text: str, frequency: str) -> tuple[dt.date | None, str | None]:
    """The first day of the period, which must be of the indicator's frequency."""
    if re.fullmatch(r"\d{4}\.\d", text.strip()):
        # a number cell typed 2026.10 is stored as 2026.1: October and January look the same
        return None, (f"时期“{text}”有歧义（数字单元格会把 2026.10 存成 2026.1），"
                      "请把该列设为文本，写作 2026-01 或 2026-10")
    shape = period_shape(text)
    if shape is None:
        return None, f"无法识别的时期“{text}”（月度写 2026-10 或 2026年10月，年度写 2026）"
    what, day = shape
    if what == "date":  # a date cell: take its month (or its year for annual data, if it is 1 January)
        if frequency == "month":
            return day, None
        if frequency == "year" and day.month == 1:
            return day, None
        if frequency == "quarter" and day.month in (1, 4, 7, 10):
            return day, None
        what = "month"
    if what != frequency:
        label = vocab.FREQUENCIES.label
        return None, f"时期“{text}”是{label(what)}，但该指标按{label(frequency)}报送"
    if not 1990 <= day.year <= 2100:
        return None, f"时期“{text}”的年份不合理"
    return day, None


def blank_is_none(parse):
    """An empty cell (None) parses as (None, None): whether it may be empty is the validator's call."""
    @functools.wraps(parse)
    def parse_cell(text, *args):
        return (None, None) if text is None else parse(text, *args)
    return parse_cell


@blank_is_none
def parse_number(text: str) -> tuple[float | None, str | None]:
    """A number, with thousands separators and a trailing % allowed."""
    t = text.strip().replace(",", "").replace("，", "").replace(" ", "")
    if t.endswith("%") or t.endswith("％"):
        t = t[:-1]
    try:
        v = float(t)
    except ValueError:
        return None, f"“{text}”不是数字（请只填数字，不带单位或文字）"
    if v != v or v in (float("inf"), float("-inf")):
        return None, f"“{text}”不是有效数字"
    return v, None


@blank_is_none
def parse_year(text: str) -> tuple[int | None, str | None]:
    """A four-digit year between 2000 and 2100 (a number cell's 2026.0 too)."""
    y, msg = parse_number(text)
    if msg or y is None or not y.is_integer() or not 2000 <= y <= 2100:
        return None, f"年度“{text}”应为四位年份，如 2026"
    return int(y), None


@blank_is_none
def parse_deadline(text: str) -> tuple[dt.date | None, str | None]:
    """A date written 2026-12-31 (or a month or year, taken as its first day)."""
    shape = period_shape(text)
    if not shape:
        return None, f"截止日期“{text}”无法识别（写作 2026-12-31）"
    m = re.match(r"^(\d{4})-(\d{2})-(\d{2})", text)
    return (dt.date(int(m[1]), int(m[2]), int(m[3])) if m else shape[1]), None


@functools.cache
def term(words: vocab.Vocabulary):
    """The parser of a closed vocabulary: the code a clerk meant, or a message with the offered words.
    An empty cell is no word of it: the validator gives the column's default before asking."""
    def parse(text: str | None):
        code = words.parse(text)
        return (None, f"“{text}”应为 {words.spelled()}") if code is None else (code, None)
    return parse


parse_yes_no = blank_is_none(term(vocab.YES_NO))  # 是 or 否 (true/false, 1/0, yes/no …)


def twelve_digits(text: str) -> str | None:
    """A 6-, 9- or 12-digit 统计用区划代码 (spaces ignored) as 12 digits; None if it is not one."""
    t = re.sub(r"\s", "", text)
    return t.ljust(12, "0") if t.isdigit() and len(t) in (6, 9, 12) else None


def normalise_code(text: str | None) -> tuple[str | None, str | None]:
    """6-, 9- or 12-digit 统计用区划代码 → 12 digits, also when Excel stored it as a number (430204.0)."""
    t = re.sub(r"\s", "", text or "")
    if re.fullmatch(r"\d+\.0+", t):
        t = t.split(".")[0]
    code = twelve_digits(t)
    if code is None:
        return None, f"区划代码“{text}”应为 6、9 或 12 位数字"
    return code, None


def level_of_code(code: str) -> str:
    """The level a 12-digit code has by its structure (省 2, 市 4, 县 6, 乡镇 9 digits, then 村)."""
    if code[2:] == "0" * 10:
        return "province"
    if code[4:] == "0" * 8:
        return "city"
    if code[6:] == "0" * 6:
        return "county"
    if code[9:] == "000":
        return "township"
    return "village"


def parent_of_code(code: str) -> str | None:
    """The parent a 12-digit code names in its digits (430204001000 → 430204000000)."""
    cut = {"city": 2, "county": 4, "township": 6, "village": 9}.get(level_of_code(code))
    return code[:cut].ljust(12, "0") if cut else None
