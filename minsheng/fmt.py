"""How numbers, periods and regions are written in the UI and in exports (Chinese conventions)."""

from __future__ import annotations

import datetime as dt
import math
import unicodedata

import pandas as pd

from minsheng import i18n

DOMAINS = ("民政", "医保", "卫健", "人社", "残联")  # the bureaus this product is for come first


def domain_order(domains) -> list[str]:
    seen = list(dict.fromkeys(domains))
    return [d for d in DOMAINS if d in seen] + sorted(d for d in seen if d not in DOMAINS)


# Display precision when an indicator does not set its own (小数位数): what a published table of
# that unit prints. Whole things (人, 户, 个, 座, 次, 张 …) and yuan (standards and per-capita amounts
# are set and published in whole yuan) take none; a percentage one; a per-mille, years and ages two
# (平均受教育年限 10.64 年, 人均预期寿命 78.21 岁); 万人 two (a head count in 10,000s: 0.01 万 is 100
# people), other 万/亿 magnitudes one. Unknown units: a rate 1, anything else 0.
_UNIT_DECIMALS = {"%": 1, "‰": 2, "年": 2, "岁": 2, "万人": 2, "个百分点": 2}


def decimals_for(unit: str, kind: str, own=None) -> int:
    """How many decimals an indicator's values are shown with: its own `decimals` where set, else
    by unit (the rule above). Every page, chart and slide formats an indicator's values with this."""
    if own is not None and not pd.isna(own):
        return int(own)
    unit = (unit or "").strip()
    if unit in _UNIT_DECIMALS:
        return _UNIT_DECIMALS[unit]
    if kind == "rate":
        return 1
    return 1 if unit[:1] in ("万", "亿") else 0


def sources(values) -> list[str]:
    """The distinct sources behind some rows, each once: a roll-up's row carries its children's
    sources joined with "；", so they are split before counting ("甲；乙" and "乙" are two, not three)."""
    return sorted({part.strip() for v in values if isinstance(v, str) for part in v.split("；") if part.strip()})


def number(value, decimals: int = 0) -> str:
    """1234567.8 → '1,234,568'; missing → '—'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{decimals}f}"


def exact(value, decimals: int, most: int = 2) -> str:
    """A figure someone set (a target) in at least `decimals` places and as many more, up to `most`, as
    it has: a target of 34.8 人 (count ÷ a printed rate) reads 34.8, not 35, so 18 ÷ it is the 51.7 %
    shown beside it."""
    places = decimals
    if isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)):
        while places < most and round(value, places) != round(value, most):
            places += 1
    return number(value, places)


def pace(value: float, kind: str, decimals: int) -> str:
    """每月还需, never understated and never nothing: rounded up in the precision shown, so a count's
    whole units (stations, households) go up to the next whole one — one station left over five
    months is 1 a month, not 0 — and other quantities get more decimals where a positive remainder
    would show as 0: 0.0025 万人 is 0.003, not 0.00."""
    while kind != "count" and decimals < 6 and 0 < value < 10 ** -decimals / 2:
        decimals += 1
    step = 10 ** decimals
    return number(math.ceil(round(value * step, 9)) / step, decimals)  # round first: 3.0000000001 is 3


def lag_note(reported_to: int, month: int, frequency: str = "month", lang: str = "zh") -> str:
    """Which month a task's figure is as of when the chosen month has none: 截至10月，11月未报
    (10–11月 for two); for a quarterly figure only its month (the next quarter is not due yet)."""
    if frequency == "quarter":
        return i18n.t("截至{m}月", lang, m=reported_to)
    missing = f"{reported_to + 1}" if reported_to + 1 == month else f"{reported_to + 1}–{month}"
    return i18n.t("截至{m}月，{missing}月未报", lang, m=reported_to, missing=missing)


def span(low, high, unit: str = "", decimals: int = 0) -> str:
    """A range of values: a standard's min–max over its subdivisions, 580–620 元/月."""
    return f"{number(low, decimals)}–{number(high, decimals)} {unit}".rstrip()


def value_with_unit(value, unit: str, kind: str, lang: str = "zh", decimals=None) -> str:
    """The value in its indicator's precision (`decimals`, the catalogue's; None: by unit) with its unit;
    in English a 万 unit is counted out (english_amount): 3.12 万人 is "31,200 persons"."""
    if lang == "en" and english_scaled(unit) and not _missing(value):
        return english_amount(value, unit)
    text = number(value, decimals_for(unit, kind, decimals))
    if text == "—":
        return text
    shown = i18n.unit(unit, lang)
    return f"{text}%" if unit == "%" else f"{text} {shown}".rstrip()


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def english_scaled(unit: str) -> bool:
    """A unit counted in ten-thousands (万人, 万元, 万小时): an English reader has no word for 万."""
    return (unit or "").startswith("万") and len(unit) > 1


def english_amount(value, unit: str) -> str:
    """A 万 amount as English writes it: counted out to whole units below a million (3.12 万人 →
    "31,200 persons"), in millions with two decimals from a million up (250.51 万人 → "2.51 million
    persons"); money in yuan as "CNY …" (25,051.1 万元 → "CNY 250.51 million")."""
    base = unit[1:]
    whole = value * 1e4
    shown = f"{whole / 1e6:,.2f} million" if abs(whole) >= 1e6 else f"{whole:,.0f}"
    if base == "元":
        return f"CNY {shown}"
    return f"{shown} {i18n.unit(base, 'en')}".rstrip()


def period_label(period, frequency: str, lang: str = "zh") -> str:
    p = pd.Timestamp(period)
    if lang == "en":
        if frequency == "month":
            return f"{i18n.MONTHS_EN[p.month - 1]} {p.year}"
        return f"Q{(p.month - 1) // 3 + 1} {p.year}" if frequency == "quarter" else str(p.year)
    if frequency == "month":
        return f"{p.year}年{p.month}月"
    if frequency == "quarter":
        return f"{p.year}年第{(p.month - 1) // 3 + 1}季度"
    return f"{p.year}年"


def date_label(d: str | dt.date | None, lang: str = "zh") -> str:
    if not d:
        return "未知" if lang == "zh" else "unknown"
    d = pd.Timestamp(d)
    return f"{d.year}-{d.month:02d}-{d.day:02d}" if lang == "en" else f"{d.year}年{d.month}月{d.day}日"


def percent(x, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{100 * x:.{digits}f}%"


def _scalable(unit: str) -> bool:
    """Plain counts and amounts (人, 元, 户, 次, 张 …) take 万/亿; rates, standards (元/月) and units that
    already carry a magnitude do not."""
    return not any(c in unit for c in "/%‰万亿") and "百分点" not in unit


def _plain(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def human_number(value, unit: str | None, decimals: int | None = None) -> tuple[str, str]:
    """(number, unit) the way a Chinese report writes it: 2609783 人 → ('260.98', '万人'); a value left
    in its own unit takes the indicator's `decimals` where given (10.64 年), else at most two."""
    unit = unit or ""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—", unit
    if _scalable(unit):
        for factor, prefix in ((1e8, "亿"), (1e4, "万")):
            if abs(value) >= factor:
                return f"{value / factor:,.2f}", prefix + unit
    return (_plain(value) if decimals is None else number(value, decimals)), unit


def width(text: str) -> int:
    """Display width in a terminal: CJK and full-width characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def column_width(values, least: float = 8, most: float = 60) -> float:
    """A spreadsheet column wide enough for its longest value: Excel's width counts characters of the
    default font, and a CJK character takes two (`width`), plus a margin for the filter's arrow."""
    longest = max((width(str(v)) for v in values if v is not None and not (isinstance(v, float) and v != v)),
                  default=0)
    return min(most, max(least, longest + 3))


def text_table(rows: list[tuple], right: tuple[int, ...] = ()) -> str:
    """Rows of text as aligned columns for a terminal (padded by display width, not length);
    the columns numbered in `right` are right-aligned."""
    rows = [tuple(str(c) for c in r) for r in rows]
    if not rows:
        return ""
    widths = [max(width(r[i]) for r in rows) for i in range(len(rows[0]))]

    def pad(c: str, w: int, i: int) -> str:
        gap = " " * (w - width(c))
        return gap + c if i in right else c + gap

    return "\n".join("  ".join(pad(c, w, i) for i, (c, w) in enumerate(zip(r, widths))).rstrip() for r in rows)
