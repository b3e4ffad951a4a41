"""趋势: indicators over time for a region and its children, as values, 同比 or 环比."""

import datetime as dt

import pandas as pd
import streamlit as st

from minsheng import charts, fmt, images, lineage, metrics, slides
from minsheng.selection import Selection
from minsheng.ui import comparable, data, exports, frame, grids, paging, state, text

DEFAULT = ["mz_home_aging_mod", "yb_resident_insured_rate"]
SLIDE_CHART = 700  # px: a chart alone on a 1920×1080 slide, under the title line, above the footer


def inputs(sc: Selection, indicators: pd.DataFrame, years: list[int]) -> tuple[Selection, bool]:
    ids = list(indicators["id"])
    c1, c2 = st.columns([3, 2])
    with c1:
        chosen = state.choice(st.multiselect, T("指标（可多选）"), ids, key="inds", default=DEFAULT, multi=True,
                              format_func=frame.indicator_label(indicators), max_selections=6,
                              placeholder=T("请选择指标"))
    with c2:
        lo, hi = min(years), max(years)
        span = state.value(st.slider, T("年份范围"), key="span", default=follow_year(sc.year, lo, hi),
                           min_value=lo, max_value=hi,
                           parse=lambda s: tuple(int(x) for x in s.split("-")),
                           valid=lambda v: isinstance(v, tuple) and len(v) == 2 and lo <= v[0] <= v[1] <= hi,
                           serialize=lambda v: f"{v[0]}-{v[1]}")
    c3, c4, c5 = st.columns([2, 2, 2])
    with c3:
        grain = state.choice(st.segmented_control, T("时间粒度"), ["year", "month"], key="grain", default="year",
                             format_func=lambda g: T("年度" if g == "year" else "月度", context="粒度"))
    with c4:
        views = ["value", "yoy"] + (["mom"] if grain == "month" else [])
        view = state.choice(st.segmented_control, T("显示"), views, key="view", default="value",
                            format_func=lambda v: T(charts.VIEW_LABEL[v]))
    with c5:
        kids = state.value(st.toggle, T("同时显示下级区划"), key="kids", default=True, parse=lambda s: s == "1",
                           valid=lambda v: isinstance(v, bool), serialize=lambda v: "1" if v else "0")
        lfl = comparable.toggle()
    # a year more than shown is read, so the first year shown has its 同比
    return sc.with_(indicators=chosen, start=dt.date(span[0], 1, 1), end=dt.date(span[1], 12, 31), history=1,
                    grain=grain or "year", view=view or "value", children=kids,
                    regions=[sc.region] + (data.tree().kids(sc.region) if kids else [])), lfl


def follow_year(year: int, lo: int, hi: int) -> tuple[int, int]:
    """The span's default ends at the sidebar year; a new sidebar year moves a span already chosen so
    that it ends there, its length kept where it fits (a span in the link is taken as it is)."""
    end = min(max(year, lo), hi)
    chosen, followed = state.get("span"), st.session_state.get("_span_year")
    if isinstance(chosen, tuple) and followed is not None and followed != year:
        state.set_value("span", (max(lo, end - (chosen[1] - chosen[0])), end))
    st.session_state["_span_year"] = year
    return lo, end


def shown(sel: Selection, s: pd.DataFrame) -> Selection:
    """The selection narrowed to the years the charts show, so titles and subtitles do not claim a
    span past the data (a 2018–2026 span whose data end in 2025 says 2018–2025)."""
    years = s.loc[s["value"].notna(), "period"].dt.year
    if years.empty:
        return sel
    first, last = int(years.min()), int(years.max())
    return sel.with_(start=max(sel.start, dt.date(first, 1, 1)), end=min(sel.end, dt.date(last, 12, 31)))


def load(sel: Selection, indicators: pd.DataFrame, like_for_like: bool) -> pd.DataFrame:
    s = lineage.series(sel, data.tree().heirs, dict(zip(indicators["id"], indicators["frequency"])), data.series)
    if s.empty:
        return s
    kinds, frequency = dict(zip(indicators["id"], indicators["kind"])), dict(zip(indicators["id"], indicators["frequency"]))
    s = metrics.with_changes(s, kinds, frequency, dict(zip(indicators["id"], indicators["cumulative"])))
    s = comparable.series(sel, s, kinds, like_for_like)
    if sel.grain == "year":  # each year's last period: the year-end value, or the latest in a year under way
        s = s.sort_values("period").groupby(["indicator_id", "region_code", s["period"].dt.year]).tail(1)
        s = s.assign(month=s["period"].dt.month, period=pd.to_datetime(s["period"].dt.year.astype(str) + "-01-01"))
    # a period nobody shown reported stays on the axis, as a break (and 未报 in the table)
    return metrics.complete_periods(s[s["period"].dt.year >= sel.start.year], frequency, sel.grain)


def basis(sel: Selection, row: dict, d: pd.DataFrame) -> str:
    """What the values are: 累计值年末/最新值, with the years that are not complete yet."""
    note = ""
    if sel.grain == "year" and row["frequency"] == "month":
        partial = d[(d["region_code"] == sel.region) & (d["month"] < 12)]
        note = "；".join(T("{y}年截至{m}月", y=int(p.year), m=int(m)) for p, m in zip(partial["period"], partial["month"]))
    each = {"month": "月度值", "quarter": "季度值"}.get(row["frequency"], "年度值")  # a monthly view of a yearly one
    return (f"{T('累计值') if row['cumulative'] else ''}{T('年末/最新值') if sel.grain == 'year' else T(each)}"
            f"{T('（{note}）', note=note) if note else ''}")


def render(sel: Selection, s: pd.DataFrame, indicators: pd.DataFrame) -> tuple[list[str], list]:
    """Draw each indicator's chart; returns the sources and the (figure, provenance) pairs for the deck."""
    names = data.tree().labels
    ind = indicators.set_index("id")
    sources, figures = [], []
    for ind_id in paging.show(sel.indicators):  # presentation mode: a chart a slide
        d = s[s["indicator_id"] == ind_id]
        row = ind.loc[ind_id].to_dict() | {"id": ind_id}
        if d.empty:
            st.info(T("{name}：{region} 在 {y0}–{y1} 年暂无数据。", name=text.md(text.name(row)), region=text.md(sel.region_name),
                      y0=sel.start.year, y1=sel.end.year))
            continue
        part = shown(sel.with_(indicators=(ind_id,)), d)  # this chart's years: its subtitle and audit record
        source = d["source"].dropna().iloc[0] if d["source"].notna().any() else "—"
        sources += d["source"].dropna().unique().tolist()
        joined = lineage.note(lineage.predecessors(sel.region, data.tree().heirs))  # 2018 年前为株洲县
        sub = part.subtitle(basis(sel, row, d), comparable.basis(d, sel.view), T("来源：") + source, joined)
        fig = charts.trend(d, row | {"name_zh": text.name(row)}, names, sel.region, sel.view, sub, sel.grain, sel.lang)
        st.plotly_chart(fig, key=f"trend_{ind_id}", config=charts.PLOTLY_CONFIG,
                        height=SLIDE_CHART if sel.present else "content")
        title = text.name(row) + ("" if sel.view == "value" else f"（{T(charts.view_label(row, sel.view))}）")
        prov = exports.provenance(part, title, charts.axis_unit(row, sel.view, sel.lang), source)
        exports.chart_buttons(fig, prov, key=f"trend_{ind_id}", sel=part)
        figures.append((fig, prov, part.when()))
        comparable.caption(sel, d, names, sel.grain)
        if joined:
            st.caption(text.md(joined))
        if row["kind"] == "standard" and sel.view == "value":
            st.caption(T("标准类指标不加总：上级区划显示其本级标准。"))
        with st.expander(T("{name} · 数据表", name=text.md(text.name(row)))):
            rows = table(sel, d, row, names)
            st.dataframe(rows, placeholder="—", hide_index=True, width="stretch", column_config=grids.changes_config(rows, 3))
    return sources, figures


def table(sel: Selection, d: pd.DataFrame, row: dict, names: dict) -> pd.DataFrame:
    """One chart's numbers as a table under it: 未报 where nothing was reported, no 环比 by year."""
    dec = fmt.decimals_for(row["unit"], row["kind"], row.get("decimals"))
    whole = sel.lang == "en" and fmt.english_scaled(row["unit"])  # English counts 万 out: 31,200 persons
    shown = [T("未报") if silent else fmt.number(v * 1e4, 0) if whole else fmt.number(v, dec)
             for v, silent in zip(d["value"], d["unreported"])]
    t = d.assign(区域=d["region_code"].map(names), 时期=[fmt.period_label(p, sel.grain, sel.lang) for p in d["period"]],
                 value=shown)
    t = grids.in_reading_order(t, data.tree().order)  # by period, then regions as the picker lists them
    cols = {"区域": T("区域"), "时期": T("时期"), "value": text.bracket(T("数值"), text.unit(row["unit"][1:] if whole else row["unit"]), sel.lang),
            "yoy": text.change_label("同比", row["kind"], sel.lang),
            "mom": text.change_label(charts.view_label(row, "mom"), row["kind"], sel.lang)}
    keep = [c for c in cols if c in t.columns and not (c == "mom" and sel.grain == "year")]
    return t[keep].rename(columns=cols)


sc = frame.scope()
T = frame.translator(sc.lang)
head = st.container()  # the title line says the span the charts show: drawn once it is known
indicators = data.indicators()
with frame.controls():
    sel, like_for_like = inputs(sc, indicators, sorted(frame.available_years()))
sources = []
if not sel.indicators:
    with head:
        frame.header(sc)
    st.info(T("请至少选择一个指标。"))
else:
    s = load(sel, indicators, like_for_like)
    sel = shown(sel, s)
    with head:
        frame.header(sc, sel.when())
    sources, figures = render(sel, s, indicators) if not s.empty else ([], [])
    if figures:
        exports.deck_button(sel, lambda: [slides.Chart(T("{name}（{period}）", name=p.title, period=when), images.png(fig, p),
                                                       source=p.source, period=when) for fig, p, when in figures], sources)
    if s.empty:
        st.info(T("{region} 在所选年份暂无这些指标的数据。", region=text.md(sel.region_name)))
frame.footer(sel, sources)
