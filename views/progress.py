"""报送进度: who has reported — for one 报表, the regions below the sidebar's region × the periods of the year
(or, for one period, × every 报表), each cell ✓ 按时 / 迟报 / 待审核 / 已退回 / 未报; the counts and rates
(报送率, 及时率) at each level, their trend, and the 催报 list as XLSX (minsheng/progress.py)."""

import datetime as dt

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from minsheng import charts, forms, lineage, literal, progress, safe_cells
from minsheng.ui import data, exports, frame, paging, reporting, session, text

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
VIEWS = {"periods": "按时期", "forms": "按报表（一个时期）"}
CELL_STYLE = {"✓ 按时": "background-color: #d9f2e3; color: #14532d", "迟报": "background-color: #fff1c2; color: #713f12",
              "待审核": "background-color: #dbeafe; color: #1e3a8a", "已退回": "background-color: #fde2e1; color: #7f1d1d",
              "未报": "background-color: #f3d0cf; color: #7f1d1d; font-weight: 600"}


def inputs(sc):
    options = reporting.forms_here(sc.region)
    options = [f for f in options if f.level != sc.region_level]
    if not options:
        st.info(text.md(f"{sc.region_name}下没有须报送的报表。报表由管理员在“导入”页导入（数据类型“报表”）。"))
        return None
    c1, c2, c3 = frame.controls().columns([3, 2, 2])
    view = c2.radio("视图", list(VIEWS), format_func=VIEWS.get, key="prg_view", horizontal=True)
    form = reporting.form_picker(options, "prg_form", c1)
    period = None
    if view == "forms":
        with c3:
            period = reporting.period_picker(form, sc.year, "prg_period")
        if period is None:
            return None
    return dict(form=form, forms=options, view=view, period=period)


def year_span(form: forms.Form, year: int) -> tuple[dt.date, dt.date]:
    """The periods of `year` that have ended (a return is owed for them): their first days' span."""
    return dt.date(year, 1, 1), min(reporting.today() - dt.timedelta(days=1), dt.date(year, 12, 31))


def ended(form: forms.Form, periods: list) -> list:
    return [p for p in periods if lineage.period_end(p, form.frequency) < reporting.today()]


def styled(m: pd.DataFrame):
    def paint(v):
        if not isinstance(v, str):
            return ""
        if v in CELL_STYLE:
            return CELL_STYLE[v]
        if v.startswith("✓"):
            return CELL_STYLE["✓ 按时"]
        return CELL_STYLE["未报"] if v.startswith("已报 0/") else CELL_STYLE["迟报"] if v.startswith("已报") else ""
    return m.style.map(paint, subset=[c for c in m.columns if c != "区划"])


def trend(sc, form: forms.Form, rates: pd.DataFrame) -> go.Figure:
    r = rates[rates["region_code"] == sc.region].sort_values("period")
    x = [forms.period_label(p, form.frequency) for p in r["period"]]
    fig = go.Figure()
    for col, name, color in (("report_rate", "报送率", "#0072B2"), ("on_time_rate", "及时率", "#E69F00")):
        fig.add_trace(go.Scatter(x=x, y=r[col], name=name, mode="lines+markers", line=dict(color=color, width=3),
                                 hovertemplate="%{x}<br>" + name + " %{y:.1f}%<extra></extra>"))
    fig.update_layout(title=dict(text=literal.plotly(f"{sc.region_name}“{form.name}”报送率与及时率")), height=320,
                      yaxis=dict(range=[0, 105], ticksuffix="%"), margin=dict(l=40, r=20, t=50, b=40),
                      legend=dict(orientation="h", y=-0.2), font=dict(family=charts.FONT))
    return fig


def by_forms(sc, options: list[forms.Form], period: dt.date) -> pd.DataFrame:
    """For one period: rows the regions below, a column per 报表 reported in that period."""
    named = [f.name for f in options]  # two 报表 of one name: each column says its code too
    tables = {f.name if named.count(f.name) == 1 else f"{f.name}（{f.id}）": reporting.cells(f, period, period, sc.region)
              for f in options if period in f.periods(period, period)}
    return progress.by_forms(tables, data.tree(), sc.region)


def load(sc, f: dict) -> dict:
    """The year's cells of the 报表 (the periods that have ended) and their counts and rates at each level."""
    form = f["form"]
    first, last = year_span(form, sc.year)
    table = reporting.cells(form, first, last, sc.region)
    table = table[table["period"].isin(ended(form, list(table["period"].unique())))]
    return dict(table=table, rates=progress.rates(table, data.regions(), sc.region) if len(table) else None)


def render(sc, f: dict, loaded: dict) -> None:
    form, table, rates = f["form"], loaded["table"], loaded["rates"]
    if table.empty:
        st.info(text.md(f"{sc.year}年“{form.name}”在{sc.region_name}下没有应报的时期。"))
        return
    if f["period"] is None:  # the period being reported now
        shown = sorted(table["period"].unique(), reverse=True)
        period = shown[reporting.default_period(form, shown)]
    else:
        period = f["period"]
    now = rates[(rates["region_code"] == sc.region) & (rates["period"] == period)]
    label = forms.period_label(period, form.frequency)

    def counts() -> None:
        st.markdown(f"**{text.md(form.name)} · {label}** · 报送时限 {form.deadline_text}"
                    f"（截至 {form.deadline(period):%Y年%-m月%-d日}）")
        if not now.empty:
            r = now.iloc[0]
            cols = st.container(key="ms_status").columns(6)
            for col, (name, value) in zip(cols, (("应报", r["expected"]), ("已报", r["reported"]), ("按时", r["on_time"]),
                                                 ("待审核", r["pending"]), ("已退回", r["returned"]), ("未报", r["missing"]))):
                col.metric(name, f"{int(value)}")
            st.caption(text.md(f"报送率 {r['report_rate']:.1f}%（已报 ÷ 应报） · 及时率 {r['on_time_rate']:.1f}%（按时 ÷ 应报）"
                               "。待审核计入已报；已退回、未报不计。"))
        if f["view"] == "forms":
            m = by_forms(sc, f["forms"], period)
            st.markdown(f"**{label}各报表报送情况**")
        else:
            m = progress.grid(table, form, data.tree(), sc.region)
            st.markdown(f"**{sc.year}年“{text.md(form.name)}”逐期报送情况**")
        if not m.empty:
            st.dataframe(styled(m), hide_index=True, width="stretch", key="prg_matrix", placeholder="—",
                         height=min(560, 35 * (len(m) + 1) + 3))
            if exports.allowed():
                what = f"{sc.year}年“{form.name}”逐期报送情况" if f["view"] == "periods" else f"{label}各报表报送情况"
                st.download_button("下载报送情况（XLSX）", exports.audited(
                    lambda: progress.grid_xlsx(m, what, sc.region_name, form), format="xlsx", what="progress",
                    form=form.id, rows=len(m), region=sc.region), key="prg_grid_xlsx", on_click="ignore",
                    file_name=safe_cells.file_name(f"{sc.region_name}_{what}") + ".xlsx", mime=XLSX_MIME,
                    icon=":material/download:")

    def levels() -> None:
        st.markdown(f"**{label}各级报送率**")
        st.dataframe(progress.levels(rates, data.tree(), sc.region, period), hide_index=True, width="stretch", key="prg_levels",
                     placeholder="—",
                     column_config={c: st.column_config.NumberColumn(c, format="%.1f%%") for c in ("报送率", "及时率")})
        if rates["period"].nunique() > 1:
            st.plotly_chart(trend(sc, form, rates), key="prg_trend", config=charts.PLOTLY_CONFIG)

    for part in paging.show([counts, levels, lambda: chase_button(sc, form, table)]):  # a slide each
        part()


def chase_button(sc, form: forms.Form, table: pd.DataFrame) -> None:
    due = progress.chase(table, form, data.regions())
    if not session.can("review"):  # the accounts to chase are for the offices that chase
        due = due.drop(columns=["填报账号"])
    st.markdown(f"**催报清单**：截止日期已过仍未报送（含已退回未重报）{len(due)} 条")
    if due.empty:
        return
    st.dataframe(due.head(200), hide_index=True, width="stretch", key="prg_chase", placeholder="—",
                 height=min(300, 35 * (min(len(due), 200) + 1) + 3))
    if session.can("export"):  # the caption for those who may not is above, once
        st.download_button("下载催报清单（XLSX）",
                           exports.audited(lambda: progress.chase_xlsx(due, form, sc.region_name), format="xlsx",
                                           what="chase", form=form.id, rows=len(due), region=sc.region),
                           file_name=safe_cells.file_name(f"{sc.region_name}_{form.name}_催报清单") + ".xlsx", mime=XLSX_MIME, key="prg_chase_xlsx",
                           on_click="ignore", icon=":material/download:")


sc, T = frame.start()
picked = inputs(sc)
if picked:
    loaded = load(sc, picked)
    render(sc, picked, loaded)
frame.footer(sc, [])
