"""Links from a number to what lies behind it: a KPI card to its trend, a goals bar to its task.

A link carries the frame's URL state (region, year, language, presentation mode) beside what it
opens, so it is also a permalink; `state` lets a followed link's values win over the session's.
"""

from __future__ import annotations

import streamlit as st

from minsheng.ui import pages, state
from minsheng.ui.text import T, md

FRAME_KEYS = ("region", "year", "lang", "present")  # what the router keeps in every page's URL


def frame_params(**extra) -> dict[str, str]:
    """The frame's URL parameters as this run wrote them, with `extra` beside them."""
    url = state.url_dict()
    params = {k: url[k] for k in FRAME_KEYS if url.get(k) not in (None, "")}
    return params | {k: str(v) for k, v in extra.items()}


def trend_link(indicator_id: str, name: str) -> None:
    """A card's way to its trend: the trend page with this one indicator, for the card's region."""
    st.page_link(pages.get("trend").script, label=T("看趋势"), icon=":material/show_chart:", width="content",
                 query_params=frame_params(inds=indicator_id), help=T("打开“{name}”的趋势", name=md(name)))  # help is markdown


TASK_KEY = "task"  # 目标: ?task=<indicator id> opens that task's detail


def task() -> str | None:
    """The task the URL has open (a bar clicked, or a permalink); None for the task list. The URL is
    its only home: leaving 目标 through the menu closes it, as the menu clears a page's parameters."""
    return state.url_get(TASK_KEY) or None


def open_task(task_id: str | None) -> None:
    """Open a task's detail (None: back to the list), as a permalink."""
    state.url_set(TASK_KEY, task_id or None)
