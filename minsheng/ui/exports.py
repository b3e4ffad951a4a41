"""Download buttons for slide-ready output: each chart as PNG/SVG, each page as a PPTX deck.

The files are made only when a button is clicked (deferred data), so drawing a page never waits
for the image renderer. Exports need the analyst role; each file built is written to the audit log
with the page's selection (`Selection.audit`).
"""

from __future__ import annotations

import contextvars
import threading
from typing import Callable

import plotly.graph_objects as go
import streamlit as st
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from minsheng import audit, fmt, images, slides, web
from minsheng.selection import Selection
from minsheng.ui import session
from minsheng.ui.text import T

PPTX_MIME = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def audited(build: Callable[[], bytes], **detail) -> Callable[[], bytes]:
    """`build` wrapped to write an export record when the file is actually made.

    Download callables run on a worker thread of the server without the session, so who and from
    where are taken now, when the button is drawn, and the file is built in the session's context
    (`in_context`)."""
    name, src = session.actor()
    ctx = get_script_run_ctx(suppress_warning=True)
    reads = contextvars.copy_context()  # the store this run reads (a 含未审核 view, store.read_from) goes along
    digest = session.cookie_digest()  # the browser whose click this is: its download link opens (web.note_export)

    def make() -> bytes:
        payload = in_context(lambda: reads.copy().run(build), ctx)
        audit.record("export", name, {**detail, "bytes": len(payload)}, src)
        web.note_export(digest)
        return payload

    return make


def in_context(build: Callable[[], bytes], ctx) -> bytes:
    """`build()` on a thread of its own that carries the drawing run's script context: the file is
    worded in the session's language and reads the same caches as the page, and the server log gets
    no "missing ScriptRunContext" line for each call a builder makes into Streamlit. The worker
    thread Streamlit lends to download callables is shared, so the context is not attached to it."""
    if ctx is None:  # bare mode (tests calling the builder directly)
        return build()
    box: dict = {}

    def run() -> None:
        try:
            box["payload"] = build()
        except BaseException as e:  # noqa: BLE001 (handed back to the caller's thread below)
            box["error"] = e

    worker = threading.Thread(target=run, name="minsheng-export", daemon=True)
    add_script_run_ctx(worker, ctx)
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["payload"]


def allowed() -> bool:
    """Whether this user may export; if not, a short caption stands where the buttons would be."""
    if session.can("export"):
        return True
    st.caption(T("下载和导出需要“分析”或“管理员”角色。"))
    return False


def provenance(sel: Selection, title: str, unit: str | None, source: str) -> images.Provenance:
    """What an image says about itself: the chart's title, the selection's place and period, its
    unit, source and data date (in the footer), and 演示数据 where it applies."""
    return images.Provenance(title=title, subtitle=sel.subtitle(dated=False), unit=unit, source=source or "—",
                             data_date=fmt.date_label(sel.data_date, sel.lang), demo=sel.demo)


def chart_buttons(fig: go.Figure | Callable[[], go.Figure], prov: images.Provenance, key: str,
                  sel: Selection) -> None:
    """PNG (3840×2160) and SVG of the chart with title, subtitle, unit, source and data date baked in.
    `fig` may be a function that builds the figure, for exports that differ from what is on screen."""
    if not allowed():
        return

    def figure() -> go.Figure:
        return fig() if callable(fig) else fig

    # side by side at their own width: fixed columns ([1, 1, 6]) cut the labels to "下··" in a narrow column
    row = st.container(horizontal=True)
    name = sel.file_stem(prov.title)  # 株洲市_2018-2023年_参保率: charts of several counties do not collide
    what = sel.audit(title=prov.title, subtitle=prov.subtitle)
    row.download_button(T("下载 PNG"), data=audited(lambda: images.png(figure(), prov), format="png", **what),
                        file_name=f"{name}.png", mime="image/png", key=f"{key}_png", on_click="ignore",
                        icon=":material/image:")
    row.download_button(T("下载 SVG"), data=audited(lambda: images.svg(figure(), prov), format="svg", **what),
                        file_name=f"{name}.svg", mime="image/svg+xml", key=f"{key}_svg", on_click="ignore",
                        icon=":material/draw:")


def deck_button(sel: Selection, build: Callable[[], list], sources: list[str], key: str = "deck", what: str = "",
                **detail) -> None:
    """导出汇报材料: one PPTX for the page, built from the parts `build` returns when clicked; every slide
    says its region, period, source and data date (`sel.origin`). `what`: the indicator a map deck shows."""
    if not allowed():
        return
    date = fmt.date_label(sel.data_date, sel.lang)
    stem = sel.file_stem("_".join(x for x in (sel.t(sel.page), what) if x))  # 株洲市_按区县_2025年_地图_参保率

    def make() -> bytes:
        src = [(s, date) for s in fmt.sources(sources)]
        return slides.deck(sel.deck_title(what), sel.deck_subtitle(), build(), src, sel.demo, origin=sel.origin,
                           dated=f"{sel.t('数据日期')}：{date}", lang=sel.lang)

    st.download_button(T("导出汇报材料"), data=audited(make, **sel.audit(format="pptx", **detail)),
                       file_name=f"{stem}.pptx", mime=PPTX_MIME, key=key,
                       on_click="ignore", icon=":material/slideshow:", type="primary")
