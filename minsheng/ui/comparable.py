"""The like-for-like switch and its glue on 总览 and 趋势 (the rules: minsheng/comparable.py).

Like for like is on by default (README, “同比与覆盖”): where the same units reported in both periods
nothing changes; where they did not, a 同比 of all reporters mostly measures who reported. The switch
is bound to the URL (`?lfl=0` shows the change of the totals as shown). The like-for-like query runs
only for the rows on screen whose counts are incomplete in either period.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from minsheng import comparable, fmt, repo
from minsheng.selection import Selection
from minsheng.ui import state
from minsheng.ui.text import T, md


def toggle() -> bool:
    return state.value(st.toggle, T("同比按同口径"), key="lfl", default=True, parse=lambda s: s == "1",
                       valid=lambda v: isinstance(v, bool), serialize=lambda v: "1" if v else "0",
                       help=T("只比较两期都报送的下级单位；关闭则比较两期已报单位的合计"))


@st.cache_data(max_entries=128, show_spinner=False)
def _like_for_like(ver: str, area: str | None, ids: tuple, regions: tuple, d0: dt.date, d1: dt.date) -> pd.DataFrame:
    return repo.like_for_like(list(ids), list(regions), d0, d1, area=area)


def _asked(sel: Selection, rows: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """repo.like_for_like for just the indicators, regions and periods of the rows that need it."""
    need = comparable.to_ask(rows, kinds)
    if need.empty:
        return pd.DataFrame(columns=[*comparable.KEYS, "value", "base_value", "n_both"])
    d0, d1 = need["period"].min().date(), need["period"].max().date()
    return _like_for_like(sel.version, sel.area, tuple(sorted(need["indicator_id"].unique())),
                          tuple(sorted(need["region_code"].unique())), d0, d1)


def cards(sel: Selection, cards: pd.DataFrame, series: pd.DataFrame, on: bool) -> pd.DataFrame:
    """总览's cards with coverage a year before, the like-for-like 同比 when `on`, and `yoy_note`."""
    out = comparable.with_base_coverage(cards.assign(region_code=sel.region), series)
    if on:
        out = comparable.apply_cards(out, _asked(sel, out, dict(zip(out["indicator_id"], out["kind"]))))
    out["yoy_note"] = [comparable.note(r, sel.lang) if r["yoy"] is not None else "" for _, r in out.iterrows()]
    return out


def series(sel: Selection, s: pd.DataFrame, kinds: dict[str, str], on: bool) -> pd.DataFrame:
    """趋势's series (with_changes done) with coverage a year before and the like-for-like 同比 when `on`."""
    out = comparable.with_base_coverage(s, s)
    return comparable.apply_series(out, _asked(sel, out, kinds), kinds) if on else out


def basis(d: pd.DataFrame, view: str) -> str:
    """The chart's word for its basis when it shows 同比 taken like for like somewhere (its images say so too)."""
    return T("同比按同口径") if view == "yoy" and "n_both" in d and d["n_both"].notna().any() else ""


def caption(sel: Selection, d: pd.DataFrame, names: dict[str, str], grain: str, limit: int = 6) -> None:
    """Under a trend: where the reporters' count differs from a year before, and on which basis 同比 is."""
    shown = d[comparable.uneven(d) & d["yoy"].notna()]
    if shown.empty:
        return
    items = [f"{fmt.period_label(r['period'], grain, sel.lang)} {names.get(r['region_code'], r['region_code'])}"
             + comparable.note(r, sel.lang) for _, r in shown.head(limit).iterrows()]
    more = T("等 {n} 处", n=len(shown)) if len(shown) > limit else ""
    like = "n_both" in shown and shown["n_both"].notna().any()
    basis = T("同比按同口径（只比两期都报送的单位）") if like else T("同比按两期已报单位合计")
    st.caption(md(T("{basis}。已报单位数与上年不同：", basis=basis) + "；".join(items) + more))
