"""The UI language and its translator: every string a page shows goes through `T` (minsheng/i18n.py)."""

from __future__ import annotations

import streamlit as st

from minsheng import fmt, i18n, literal
from minsheng.ui import state


def lang() -> str:
    """The UI language: the session's choice, else the URL's (the router needs it before the sidebar)."""
    chosen = state.get("lang") or st.query_params.get("lang")
    return chosen if chosen in i18n.LANGS else "zh"


md = literal.markdown  # a data value in markdown — every label, caption, alert, metric and help text a page draws


def T(text: str, **values) -> str:  # noqa: N802 (reads like gettext's _)
    """A UI string in the session's language."""
    return i18n.t(text, lang(), **values)


def translator(language: str):
    """T with the language fixed now: widget format functions may be called later, outside the
    session's script run (AppTest does), where the session's choice cannot be read."""
    return lambda text, context=None, **values: i18n.t(text, language, context=context, **values)


def name(row, language: str | None = None) -> str:
    """An indicator's name in the UI language (the Chinese name where no English one is given)."""
    en = row.get("name_en") if hasattr(row, "get") else None
    return en if (language or lang()) == "en" and isinstance(en, str) and en else row["name_zh"]


def unit(u: str, language: str | None = None) -> str:
    return i18n.unit(u, language or lang())


def amount(value, u: str, shown: str, language: str | None = None) -> str:
    """`shown` (the value as a page formats it) with its unit; in English a 万 unit is counted out
    (fmt.english_amount: 110 万人 → "1.10 million persons")."""
    if (language or lang()) == "en" and fmt.english_scaled(u) and isinstance(value, (int, float)):
        return fmt.english_amount(value, u)
    return f"{shown} {unit(u, language)}".rstrip()


def bracket(head: str, inner: str, language: str | None = None) -> str:
    """A heading with its unit: 数值（人）, Value (persons)."""
    return f"{head} ({inner})" if (language or lang()) == "en" else f"{head}（{inner}）"


def change_label(what: str, kind: str, language: str | None = None) -> str:
    """The column heading of a change: 同比（个百分点） for rates, which change in points, 同比（%） otherwise."""
    return i18n.t(f"{what}（个百分点）" if kind == "rate" else f"{what}（%）", language or lang())
