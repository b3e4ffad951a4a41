"""Download buttons for slide-ready output: each chart as PNG/SVG, each page as a PPTX deck.

The files are made only when a button is clicked (deferred data), so drawing a page never waits
for the image renderer.
"""

from __future__ import annotations

import re
from typing import Callable

import plotly.graph_objects as go
import streamlit as st

from minsheng import images
from minsheng.ui.frame import Scope, T

PPTX_MIME = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def _safe(name: str) -> str:
    return re.sub(r"[\\/:*?\"<>|\s]+", "_", name).strip("_")[:80] or "chart"


def provenance(sc: Scope, title: str, subtitle: str, unit: str | None, source: str) -> images.Provenance:
    from minsheng import fmt

    return images.Provenance(title=title, subtitle=subtitle, unit=unit, source=source or "—",
                             data_date=fmt.date_label(sc.data_date, sc.lang), demo=sc.demo)


def chart_buttons(fig: go.Figure | Callable[[], go.Figure], prov: images.Provenance, key: str) -> None:
    """PNG (3840×2160) and SVG of the chart with title, subtitle, unit, source and data date baked in.
    `fig` may be a function that builds the figure, for exports that differ from what is on screen."""
    def figure() -> go.Figure:
        return fig() if callable(fig) else fig

    c1, c2, _ = st.columns([1, 1, 6])
    name = _safe(prov.title)
    c1.download_button(T("下载 PNG"), data=lambda: images.png(figure(), prov), file_name=f"{name}.png",
                       mime="image/png", key=f"{key}_png", on_click="ignore", icon=":material/image:")
    c2.download_button(T("下载 SVG"), data=lambda: images.svg(figure(), prov), file_name=f"{name}.svg",
                       mime="image/svg+xml", key=f"{key}_svg", on_click="ignore", icon=":material/draw:")


def deck_button(sc: Scope, page_title: str, build: Callable[[], list], sources: list[str], key: str = "deck") -> None:
    """导出汇报材料: one PPTX for the page, built from the parts `build` returns when clicked."""
    from minsheng import fmt, slides

    def make() -> bytes:
        subtitle = f"{sc.region_name} · {T('{year}年', year=sc.year)}"
        src = [(s, fmt.date_label(sc.data_date, sc.lang)) for s in sorted({s for s in sources if s})]
        return slides.deck(f"{T(page_title)} · {sc.region_name}", subtitle, build(), src, sc.demo)

    st.download_button(T("导出汇报材料"), data=make, file_name=f"{_safe(T(page_title) + '_' + sc.region_name)}.pptx",
                       mime=PPTX_MIME, key=key, on_click="ignore", icon=":material/slideshow:", type="primary")
