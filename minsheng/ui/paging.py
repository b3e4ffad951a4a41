"""Presentation mode's slides: a page's long content as a sequence of screens, one at a time.

A page hands its parts (sections of cards, pages of a table, one chart each) to `show`, which
returns them all outside presentation mode and, in it, only the slide `?slide=N` names — drawing
the counter and the small ‹ / › controls, which ← / → press (Streamlit's own button shortcuts: no
script of ours runs in the page). `&slide=N` stays in the URL, so each slide is a permalink.
"""

from __future__ import annotations

from typing import Sequence, TypeVar

import pandas as pd
import streamlit as st

from minsheng.ui import frame, state
from minsheng.ui.text import T, md

KEY = "slide"
P = TypeVar("P")


def presenting() -> bool:
    return frame.scope().present


def chunks(items: Sequence[P], size: int) -> list[Sequence[P]]:
    """`items` in consecutive pieces of at most `size` (a DataFrame by rows)."""
    if isinstance(items, pd.DataFrame):
        return [items.iloc[k:k + size] for k in range(0, len(items), size)] or [items]
    return [items[k:k + size] for k in range(0, len(items), size)] or [items]


def rows(df: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    """A table as slides of `size` rows in presentation mode; the whole table, once, otherwise."""
    return chunks(df, size) if presenting() else [df]


def grid(n: int, cap: int | None = None) -> dict:
    """`st.dataframe`'s height (and row height) that shows `n` rows whole, without an inner scroll bar;
    presentation mode's larger type needs taller rows (its default would cut the last ones off)."""
    row = 40 if presenting() else 35
    height = row * (n + 1) + 3
    return dict(height=min(height, cap) if cap else height, row_height=row)


def current(n: int) -> int:
    """The slide the URL names, counted from 0. None named is the first; one that is not a number from
    1 to `n` falls back to the first, and a toast says so (as a bad region or year does)."""
    raw = state.url_get(KEY)
    if raw in (None, ""):
        return 0
    try:
        k = int(raw)
    except ValueError:
        k = 0
    if 1 <= k <= n:
        return k - 1
    st.toast(T("没有第 {asked} 张幻灯片（共 {n} 张），已显示第 1 张。", asked=md(str(raw)[:10]), n=n),
             icon=":material/warning:")
    return 0


def _go(k: int) -> None:
    state.url_set(KEY, str(k))


def nav(i: int, n: int) -> None:
    """The counter and the ‹ / › controls, fixed at the slide's top right (out of the page's flow)."""
    with st.container(key="ms_slide_nav", horizontal=True, vertical_alignment="center", gap="small", width="content"):
        st.button(T("上一张"), key="ms_slide_prev", icon=":material/chevron_left:", type="tertiary",
                  shortcut="Left", disabled=i == 0, on_click=_go, args=(i,))
        st.markdown(T("{i} / {n}", i=i + 1, n=n))
        st.button(T("下一张"), key="ms_slide_next", icon=":material/chevron_right:", type="tertiary",
                  shortcut="Right", disabled=i == n - 1, on_click=_go, args=(i + 2,))


def show(parts: Sequence[P]) -> list[P]:
    """The parts to draw this run: every one outside presentation mode; in it, the current slide's
    (with the counter and controls when there is more than one)."""
    parts = list(parts)
    if not presenting():
        state.url_set(KEY, None)  # a slide means nothing on a scrolling page
        return parts
    if not parts:
        return []
    i = current(len(parts))
    state.url_set(KEY, str(i + 1))
    if len(parts) > 1:
        nav(i, len(parts))
    return [parts[i]]
