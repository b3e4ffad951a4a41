"""趋势: indicators over time for a region and its children, as values, 同比 or 环比."""

import datetime as dt

import pandas as pd
import streamlit as st

from minsheng import charts, fmt, images, metrics, slides
from minsheng.ui import data, exports, frame, state

DEFAULT = ["mz_home_aging_mod", "yb_resident_insured_rate"]


def inputs(indicators: pd.DataFrame, years: list[int]) -> dict:
    ids = list(indicators["id"])
    c1, c2 = st.columns([3, 2])
    with c1:
        chosen = state.choice(st.multiselect, T("指标（可多选）"), ids, key="inds", default=DEFAULT, multi=True,
                              format_func=frame.indicator_label(indicators), max_selections=6)
    with c2:
        lo, hi = min(years), max(years)
        span = state.value(st.slider, T("年份范围"), key="span", default=(lo, hi), min_value=lo, max_value=hi,
                           parse=lambda s: tuple(int(x) for x in s.split("-")),
                           valid=lambda v: isinstance(v, tuple) and len(v) == 2 and lo <= v[0] <= v[1] <= hi,
                           serialize=lambda v: f"{v[0]}-{v[1]}")
    c3, c4, c5 = st.columns([2, 2, 2])
    with c3:
        grain = state.choice(st.segmented_control, T("时间粒度"), ["year", "month"], key="grain", default="year",
                             format_func=lambda g: T("年度（粒度）" if g == "year" else "月度（粒度）").replace("（粒度）", ""))
    with c4:
        views = ["value", "yoy"] + (["mom"] if grain == "month" else [])
        view = state.choice(st.segmented_control, T("显示"), views, key="view", default="value",
                            format_func=lambda v: T(charts.VIEW_LABEL[v]))
    with c5:
        kids = state.value(st.toggle, T("同时显示下级区划"), key="kids", default=True, parse=lambda s: s == "1",
                           valid=lambda v: isinstance(v, bool), serialize=lambda v: "1" if v else "0")
    return dict(ids=chosen, span=span, grain=grain or "year", view=view or "value", kids=kids)


def load(sc: frame.Scope, f: dict, indicators: pd.DataFrame) -> pd.DataFrame:
    regions = [sc.region] + (frame.children_of(sc.region)["code"].tolist() if f["kids"] else [])
    # a year more than shown, so the first year shown has its 同比
    s = data.series(f["ids"], regions, dt.date(f["span"][0] - 1, 1, 1), dt.date(f["span"][1], 12, 31))
    if s.empty:
        return s
    kinds = dict(zip(indicators["id"], indicators["kind"]))
    freq = dict(zip(indicators["id"], indicators["frequency"]))
    s = metrics.with_changes(s, kinds, freq)
    if f["grain"] == "year":
        s = s.sort_values("period").groupby(["indicator_id", "region_code", s["period"].dt.year]).tail(1)
        s = s.assign(month=s["period"].dt.month, period=pd.to_datetime(s["period"].dt.year.astype(str) + "-01-01"))
    return s[s["period"].dt.year >= f["span"][0]]


def render(sc: frame.Scope, s: pd.DataFrame, f: dict, indicators: pd.DataFrame) -> tuple[list[str], list]:
    """Draw each indicator's chart; returns the sources and the (figure, provenance) pairs for the deck."""
    names = dict(zip(data.regions()["code"], data.regions()["name"]))
    ind = indicators.set_index("id")
    sources, figures = [], []
    for ind_id in f["ids"]:
        d = s[s["indicator_id"] == ind_id]
        row = ind.loc[ind_id].to_dict() | {"id": ind_id}
        if d.empty:
            st.info(T("{name}：{region} 在 {y0}–{y1} 年暂无数据。", name=frame.name(row), region=sc.region_name,
                      y0=f["span"][0], y1=f["span"][1]))
            continue
        if f["grain"] == "year" and row["frequency"] == "month":
            partial = d[(d["region_code"] == sc.region) & (d["month"] < 12)]
            note = "；".join(T("{y}年截至{m}月", y=int(p.year), m=int(m)) for p, m in zip(partial["period"], partial["month"]))
        else:
            note = ""
        source = d["source"].dropna().iloc[0] if d["source"].notna().any() else "—"
        sub = (f"{sc.region_name}{T('及下级区划') if f['kids'] else ''} · {f['span'][0]}–{f['span'][1]}"
               f" · {T('累计值') if row['cumulative'] else ''}{T('年末/最新值') if f['grain'] == 'year' else T('月度值')}"
               f"{'（' + note + '）' if note else ''} · {T('来源：')}{source}"
               f" · {T('数据截至 {date}', date=fmt.date_label(sc.data_date, sc.lang))}")
        sources += d["source"].dropna().unique().tolist()
        fig = charts.trend(d, row | {"name_zh": frame.name(row)}, names, sc.region, f["view"], sub, f["grain"], sc.lang)
        st.plotly_chart(fig, key=f"trend_{ind_id}", config={"displaylogo": False})
        title = frame.name(row) + ("" if f["view"] == "value" else f"（{T(charts.VIEW_LABEL[f['view']])}）")
        unit = frame.unit(row["unit"]) if f["view"] == "value" else (T("个百分点") if row["kind"] == "rate" else "%")
        short = f"{sc.region_name}{T('及下级区划') if f['kids'] else ''} · {f['span'][0]}–{f['span'][1]}"
        prov = exports.provenance(sc, title, short, unit, source)
        exports.chart_buttons(fig, prov, key=f"trend_{ind_id}",
                              detail=dict(page="趋势", region=sc.region, indicators=[ind_id], view=f["view"]))
        figures.append((fig, prov))
        if row["kind"] == "standard" and f["view"] == "value":
            st.caption(T("标准类指标不加总：上级区划显示其本级标准。"))
        with st.expander(T("{name} · 数据表", name=frame.name(row))):
            t = d.assign(区域=d["region_code"].map(names),
                         时期=[fmt.period_label(p, f["grain"], sc.lang) for p in d["period"]])
            cols = {"区域": T("区域"), "时期": T("时期"), "value": f"{T('数值')}（{frame.unit(row['unit'])}）",
                    "yoy": T("同比（个百分点）") if row["kind"] == "rate" else T("同比（%）"),
                    "mom": T("环比（个百分点）") if row["kind"] == "rate" else T("环比（%）")}
            t = t[[c for c in cols if c in t.columns]].rename(columns=cols)
            st.dataframe(t, hide_index=True, width="stretch")
    return sources, figures


sc = frame.scope()
T = frame.translator(sc.lang)
indicators = data.indicators()
frame.header("趋势", sc)
with frame.controls():
    f = inputs(indicators, sorted(frame.available_years()))
if not f["ids"]:
    st.info(T("请至少选择一个指标。"))
    sources = []
else:
    s = load(sc, f, indicators)
    sources, figures = render(sc, s, f, indicators) if not s.empty else ([], [])
    if figures:
        exports.deck_button(sc, "趋势", lambda: [slides.Chart(p.title, images.png(fig, p)) for fig, p in figures], sources,
                            detail=dict(indicators=f["ids"]))
    if s.empty:
        st.info(T("{region} 在所选年份暂无这些指标的数据。", region=sc.region_name))
frame.footer(sc, sources)
