"""What one cell of an import file says: a period, a number, a region code, a year, a date, yes or no,
or free text that holds nothing hidden.

Each parser returns (value, None), or (None, a Chinese message that quotes the text); an empty cell
(None) is (None, None) where emptiness is allowed, so the validator decides whether it is. Nothing here
knows about rows, files or the catalogue, and nothing imports pandas (auth reads region codes too).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import unicodedata

from minsheng import safe_cells, vocab

# Digits are ASCII (\d matches every script's digits otherwise, and int() reads them all): full-width ASCII,
# common in Chinese office files, is read as ASCII first; other scripts' digits, superscripts and `_` never read.
FULL_WIDTH = str.maketrans({chr(0xFF10 + i): str(i) for i in range(10)} | {"．": ".", "，": ",", "－": "-", "＋": "+",
                                                                         "％": "%", "ｅ": "e", "Ｅ": "E", "\u3000": " "})
GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?", re.ASCII)
NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
PERIOD_YEAR = re.compile(r"^(\d{4})\s*年?$", re.ASCII)
PERIOD_MONTH = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$", re.ASCII)
PERIOD_MONTH_COMPACT = re.compile(r"^(\d{4})(\d{2})$", re.ASCII)
PERIOD_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T].*)?$", re.ASCII)
PERIOD_QUARTER = re.compile(r"^(\d{4})\s*(?:[-\s]?[Qq]|年第|年)\s*([1-4一二三四])\s*(?:季度|季)?$", re.ASCII)
CN_DIGIT = {"一": 1, "二": 2, "三": 3, "四": 4}


def norm_header(h: str) -> str:
    """A header as compared with the contract's: without brackets and what they hold, spaces, _ - : * or case."""
    h = re.sub(r"[（(].*?[)）]", "", h or "")
    return re.sub(r"[\s_\-:：*＊]", "", h).lower()


def period_shape(text: str) -> tuple[str, dt.date] | None:
    """('year'|'quarter'|'month'|'date', first day) for a period written any of the usual ways."""
    t = text.translate(FULL_WIDTH).strip()
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
    if re.fullmatch(r"\d{4}\.\d", text.translate(FULL_WIDTH).strip(), re.ASCII):
        # a number cell typed 2026.10 is stored as 2026.1: October and January look the same
        return None, (f"时期“{shown(text)}”有歧义（数字单元格会把 2026.10 存成 2026.1），"
                      "请把该列设为文本，写作 2026-01 或 2026-10")
    shape = period_shape(text)
    if shape is None:
        return None, f"无法识别的时期“{shown(text)}”（月度写 2026-10 或 2026年10月，年度写 2026）"
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
        return None, f"时期“{shown(text)}”是{label(what)}，但该指标按{label(frequency)}报送"
    if not 1990 <= day.year <= 2100:
        return None, f"时期“{shown(text)}”的年份不合理"
    return day, None


def blank_is_none(parse):
    """An empty cell (None) parses as (None, None): whether it may be empty is the validator's call."""
    @functools.wraps(parse)
    def parse_cell(text, *args):
        return (None, None) if text is None else parse(text, *args)
    return parse_cell


@blank_is_none
def parse_number(text: str) -> tuple[float | None, str | None]:
    """A finite number in ASCII (or full-width) digits, with thousands separators and a trailing % allowed.
    Whether it is plausible for its indicator is the validator's call (`contract.BOUNDS`)."""
    t = text.translate(FULL_WIDTH).strip().removesuffix("%")
    if "," in t:  # thousands separators only where they belong: "1,5" or "12,34,5" is a typo, not 15
        if not GROUPED.fullmatch(t):
            return None, f"“{shown(text)}”的千位分隔符位置不对（应每三位一个，如 1,234,567）"
        t = t.replace(",", "")
    if not NUMBER.fullmatch(t):
        return None, f"“{shown(text)}”不是数字（请只填数字，不带单位或文字）"
    v = float(t) + 0.0  # + 0.0: no "-0" on a card
    if not math.isfinite(v):
        return None, f"“{shown(text)}”不是有效数字（超出可表示的范围）"
    return v, None


# Characters no text field may hold: controls (C0, DEL, C1), format characters (direction overrides and
# isolates, zero-width spaces and joiners, a BOM inside text), lone surrogates, line and paragraph separators.
# Private-use characters stay allowed: GB18030 maps rare characters of real names there.
HIDDEN = {"Cc", "Cf", "Cs", "Zl", "Zp"}
NEWLINES = "\n\r\x0b\x0c\x85\u2028\u2029"
UNIT_SIGNS = "%‰‱/·.-²³℃()（） "
CJK = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F))


def _hidden(ch: str, lines: bool) -> bool:
    return unicodedata.category(ch) in HIDDEN and not (lines and ch in "\n\r")


def unit_char(ch: str) -> bool:
    """What a unit may be written with: CJK, ASCII letters and digits, a space and a few signs (人、元/人·月、m²、%)."""
    return ch.isascii() and ch.isalnum() or ch in UNIT_SIGNS or any(a <= ord(ch) <= b for a, b in CJK)


def shown(text: str) -> str:
    """Cell text as a message may quote it: hidden characters (a terminal's escape sequences, direction
    overrides) written as U+XXXX, so a message neither hides nor runs anything."""
    return "".join(codepoint(ch) if _hidden(ch, False) else ch for ch in text)


def file_label(name: str, limit: int = 120) -> str:
    """An uploaded file's name as it may be shown and stored (a new row's 来源, the version history):
    no hidden characters, at most `limit` characters with the suffix kept."""
    name = "".join(ch for ch in name if not _hidden(ch, False)).strip() or "未命名文件"
    if len(name) <= limit:
        return name
    stem, dot, suffix = name.rpartition(".")
    return (stem[: limit - len(suffix) - 2] + "…" + dot + suffix) if dot and len(suffix) <= 8 else name[: limit - 1] + "…"


def codepoint(ch: str) -> str:
    return f"U+{ord(ch):04X}"


@functools.cache
def text(limit: int, *, lines: bool = False, unit: bool = False):
    """The parser of a free-text column: at most `limit` characters, nothing hidden (newlines only where
    `lines`), and for a unit only `unit_char`s. Messages name the character, never echo hidden text."""
    @blank_is_none
    def parse(t: str) -> tuple[str | None, str | None]:
        t = safe_cells.restore(t)  # a name from one of our own exports reads back as it was written
        if bad := next((ch for ch in t if _hidden(ch, lines)), None):
            where = "；只有“说明”可以分行" if bad in NEWLINES else "（不可见字符，可能来自复制粘贴），请删除"
            return None, f"含有控制字符 {codepoint(bad)}{where}"
        if unit and (bad := next((ch for ch in t if not unit_char(ch)), None)):
            shown = f"“{bad}”" if bad.isprintable() and not bad.isspace() else codepoint(bad)
            return None, f"单位只能由汉字、字母、数字、空格和 {' '.join(UNIT_SIGNS.strip())} 组成，不能含{shown}"
        if len(t) > limit:
            return None, f"共 {len(t)} 个字符，超过 {limit} 个字符的上限"
        return t, None
    return parse


@blank_is_none
def parse_year(text: str) -> tuple[int | None, str | None]:
    """A four-digit year between 2000 and 2100 (a number cell's 2026.0 too)."""
    y, msg = parse_number(text)
    if msg or y is None or not y.is_integer() or not 2000 <= y <= 2100:
        return None, f"年度“{shown(text)}”应为四位年份，如 2026"
    return int(y), None


MAX_DECIMALS = 6  # the most decimals an indicator may be shown with (data files keep full precision)


@blank_is_none
def parse_decimals(text: str) -> tuple[int | None, str | None]:
    """An indicator's display precision: a whole number of decimals, 0 to MAX_DECIMALS."""
    n, msg = parse_number(text)
    if msg or n is None or not n.is_integer() or not 0 <= n <= MAX_DECIMALS:
        return None, f"小数位数“{shown(text)}”应为 0–{MAX_DECIMALS} 的整数（留空按单位）"
    return int(n), None


@blank_is_none
def parse_deadline(text: str) -> tuple[dt.date | None, str | None]:
    """A date written 2026-12-31 (or a month or year, taken as its first day)."""
    shape = period_shape(text)
    if not shape:
        return None, f"截止日期“{shown(text)}”无法识别（写作 2026-12-31）"
    m = PERIOD_DATE.match(text.translate(FULL_WIDTH).strip())
    try:
        return (dt.date(int(m[1]), int(m[2]), int(m[3])) if m else shape[1]), None
    except ValueError:  # 2026-02-31
        return None, f"截止日期“{shown(text)}”不是日历上的日期"


def day(what: str):
    """The parser of a cell that holds one calendar day (2018-06-19), for the column called `what`:
    a month or a year alone is refused, since the day a code starts or stops decides which periods it
    counts in."""
    def parse(text: str) -> tuple[dt.date | None, str | None]:
        m = PERIOD_DATE.match(text.translate(FULL_WIDTH).strip())
        if not m:
            return None, f"{what}“{shown(text)}”无法识别：请写完整日期，如 2018-06-19"
        try:
            return dt.date(int(m[1]), int(m[2]), int(m[3])), None
        except ValueError:
            return None, f"{what}“{shown(text)}”不是日历上的日期"
    return blank_is_none(parse)


def deadline_day(text) -> tuple[int | None, str | None]:
    """A 报表's 报送时限 (次月5日, 次季首月10日, 次年1月20日, 期末后45日, or a bare 5): days after the period's
    last day (minsheng/forms.py says the rule once)."""
    from minsheng import forms

    if isinstance(text, (int, float)) and float(text).is_integer():
        text = str(int(text))
    try:
        return forms.parse_deadline(shown(str(text))), None
    except forms.FormError as e:
        return None, str(e)


_DEADLINE_OF = {"次月": "month", "次季首月": "quarter", "次季度首月": "quarter", "次年1月": "year", "次年一月": "year"}


def deadline_mismatch(text, frequency: str) -> str | None:
    """A 报送时限 written for another frequency (次年1月20日 on a monthly form): what is wrong, else None.
    期末后N日 and a bare number fit every frequency."""
    s = str(text).strip().replace(" ", "")
    for prefix, meant in _DEADLINE_OF.items():
        if s.startswith(prefix) and meant != frequency:
            return (f"报送时限“{shown(s)}”是{vocab.FREQUENCIES.label(meant)}报表的写法，本报表是"
                    f"{vocab.FREQUENCIES.label(frequency)}报表：请写 {_DEADLINE_EXAMPLE[frequency]} 或 期末后多少日")
    return None


_DEADLINE_EXAMPLE = {"month": "次月5日", "quarter": "次季首月10日", "year": "次年1月20日"}


@functools.cache
def term(words: vocab.Vocabulary):
    """The parser of a closed vocabulary: the code a clerk meant, or a message with the offered words.
    An empty cell is no word of it: the validator gives the column's default before asking."""
    def parse(text: str | None):
        code = words.parse(text)
        return (None, f"“{shown(text)}”应为 {words.spelled()}") if code is None else (code, None)
    return parse


parse_yes_no = blank_is_none(term(vocab.YES_NO))  # 是 or 否 (true/false, 1/0, yes/no …)


CODE_LENGTHS = (2, 4, 6, 9, 12)  # 省 43, 市 4302, 县 430202, 乡镇 430202001, 村 430202001001: official lists write each
CODE_SPELLED = "2、4、6、9 或 12 位"


def twelve_digits(text: str) -> str | None:
    """A 2-, 4-, 6-, 9- or 12-digit 统计用区划代码 (spaces ignored) as 12 digits; None if it is not one."""
    t = re.sub(r"\s", "", text)
    return t.ljust(12, "0") if t.isascii() and t.isdigit() and len(t) in CODE_LENGTHS else None


def normalise_code(text: str | None) -> tuple[str | None, str | None]:
    """A 统计用区划代码 of any official length → 12 digits, also when Excel stored it as a number (430204.0)."""
    t = re.sub(r"\s", "", (text or "").translate(FULL_WIDTH))
    if re.fullmatch(r"\d+\.0+", t, re.ASCII):
        t = t.split(".")[0]
    code = twelve_digits(t)
    if code is None:
        return None, f"区划代码“{shown(text)}”应为 {CODE_SPELLED}数字"
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
