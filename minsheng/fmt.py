"""How numbers, periods and regions are written in the UI and in exports (Chinese conventions)."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from minsheng import i18n

LEVEL_ZH = {"province": "省", "city": "市", "county": "县（市、区）", "township": "乡镇（街道）", "village": "村（社区）"}
KIND_ZH = {"count": "计数", "amount": "金额/数量", "rate": "比率", "standard": "标准"}
FREQ_ZH = {"year": "年度", "quarter": "季度", "month": "月度"}
DOMAINS = ("民政", "医保", "卫健", "人社", "残联")  # the bureaus this product is for come first


def domain_order(domains) -> list[str]:
    seen = list(dict.fromkeys(domains))
    return [d for d in DOMAINS if d in seen] + sorted(d for d in seen if d not in DOMAINS)


STATUS_ZH = {"final": "正式", "provisional": "初步"}


def decimals_for(unit: str, kind: str) -> int:
    if kind == "rate":
        return 1
    if unit in ("万元", "万小时", "万人", "亿元"):
        return 2 if unit == "万人" else 1
    return 0


def number(value, decimals: int = 0) -> str:
    """1234567.8 → '1,234,568'; missing → '—'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{decimals}f}"


def value_with_unit(value, unit: str, kind: str, lang: str = "zh") -> str:
    text = number(value, decimals_for(unit, kind))
    if text == "—":
        return text
    shown = i18n.unit(unit, lang)
    return f"{text}%" if unit == "%" else f"{text} {shown}".rstrip()


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
