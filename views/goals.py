"""目标: every task's target, actual, 完成率 against 序时进度, status and the monthly pace still needed."""

import datetime as dt

import pandas as pd
import streamlit as st

from minsheng import charts, fmt, i18n, images, metrics, slides
from minsheng.selection import Selection
from minsheng.ui import briefing, data, drill, exports, frame, grids, paging, state, tasks, text

ROWS_PER_SLIDE = 16  # task rows on a slide: with the title, the header row, the notes and the footer, 1080 px
MATRIX_ROWS = 9  # subdivisions of the 区县 × 任务 matrix on a slide
# cell colours for the status column (no emoji: many office machines have no colour-emoji font)
STATUS_STYLE = {s: f"background-color: {c}; color: white; font-weight: 600" for s, c in charts.STATUS_COLORS.items()}


def inputs(sc: Selection, targets: pd.DataFrame) -> tuple[Selection, list[str], int]:
    """The month the report is made up to and the departments; returns the selection, the departments
    and the 严重滞后 threshold."""
    last_month = metrics.last_month(sc.data_date, sc.year)
    months = list(range(last_month, 0, -1))
    depts = sorted(targets["department"].unique().tolist())
    c1, c2, c3 = st.columns([1, 3, 1])
    with c1:
        month = state.choice(st.selectbox, T("截至月份"), months, key="gmonth", default=last_month, parse=int,
                             format_func=lambda m: fmt.period_label(dt.date(sc.year, m, 1), "month", sc.lang))
    with c2:
        chosen = state.choice(st.multiselect, T("部门"), depts, key="dept", default=[], multi=True,
                              placeholder=T("全部部门"))
    with c3:
        gap = state.value(st.number_input, T("严重滞后阈值（个百分点）"), key="gap", default=15, parse=int,
                          valid=lambda v: isinstance(v, int) and 1 <= v <= 50, min_value=1, max_value=50, step=1,
                          help=T("完成率落后序时进度超过该值即为严重滞后"))
    chosen = chosen or depts
    ids = targets.loc[targets["department"].isin(chosen), "indicator_id"].unique()
    return (sc.with_(indicators=tuple(ids), start=dt.date(sc.year, 1, 1), end=dt.date(sc.year, month, 1), as_of=month),
            chosen, gap)


def load(sel: Selection, depts: list[str], gap: int, targets: pd.DataFrame, indicators: pd.DataFrame) -> pd.DataFrame:
    t = targets[targets["department"].isin(depts)]
    kinds = dict(zip(indicators["id"], indicators["kind"]))
    frequency = dict(zip(indicators["id"], indicators["frequency"]))
    g = metrics.goal_table(t, data.series(sel), kinds, sel.year, sel.as_of, gap / 100, frequency)
    units, places = dict(zip(indicators["id"], indicators["unit"])), dict(zip(indicators["id"], indicators["decimals"]))
    return g.assign(unit=g["indicator_id"].map(units), kind=g["indicator_id"].map(kinds),
                    frequency=g["indicator_id"].map(frequency), decimals=g["indicator_id"].map(places))


def render(sel: Selection, g: pd.DataFrame, matrices: list) -> None:
    """The counts and chart, the task table and the 区县 × 任务 matrix (`matrices` draw it, in presentation
    mode a slide each); in presentation mode the chart, the table a page a slide, then the matrix."""
    elapsed = metrics.elapsed_share(metrics.month_end(sel.year, sel.as_of), dt.date(sel.year, 1, 1),
                                    dt.date(sel.year, 12, 31))
    table = tasks.goal_rows(g, sel.as_of)
    pages = paging.rows(table, ROWS_PER_SLIDE)
    fig = charts.goals(g, sel.subtitle(), sel.lang)
    source = "；".join(fmt.sources(g["source"]))  # the reports behind the figures shown, of this year
    prov = exports.provenance(sel, T("重点民生实事完成率与序时进度"), "%", source)
    for part in paging.show(["chart", *pages, *matrices]):
        if isinstance(part, pd.DataFrame):
            render_table(sel, g, part, last=part is pages[-1])
        elif callable(part):
            part()
        else:
            render_chart(sel, g, elapsed, fig, prov)
    exports.deck_button(sel, lambda: deck_parts(sel, g, table, elapsed, fig, prov), [prov.source], rows=len(table))
    if not paging.presenting():  # the month's notes and the brief are for the desk, not the meeting room's screen
        briefing.render_month(sel)
        briefing.brief_buttons(sel)


def render_chart(sel: Selection, g: pd.DataFrame, elapsed: float, fig, prov) -> None:
    counts = g["status"].value_counts()
    cols = st.container(key="ms_status").columns(5)  # a phone shows them two by two (frame.NARROW_CSS)
    cols[0].metric(T("序时进度"), fmt.percent(elapsed),
                   help=T("截至{year}年{month}月底，全年已过 {month}/12", year=sel.year, month=sel.as_of))
    for col, s in zip(cols[1:], reversed(metrics.STATUSES)):
        col.metric(T(s), T("{n} 项", n=int(counts.get(s, 0))))
    st.plotly_chart(fig, key="goals_chart", config=charts.PLOTLY_CONFIG, on_select=tasks.chart_selected,
                    selection_mode="points")  # a click on a bar opens its task (?task=)
    exports.chart_buttons(fig, prov, key="goals_chart", sel=sel)


def render_table(sel: Selection, g: pd.DataFrame, table: pd.DataFrame, last: bool = True) -> None:
    """The task table (one page of it on a slide); the notes under its last page."""
    style = {T(k): v for k, v in STATUS_STYLE.items()}
    styled = table.style.map(lambda v: style.get(v, ""), subset=[T("状态")])
    st.dataframe(styled, placeholder="—", hide_index=True, width="stretch", **paging.grid(len(table)), column_config=grids.widths(table) | {
        T("完成率"): st.column_config.ProgressColumn(format="%.1f%%", min_value=0.0, max_value=100.0),
        T("序时进度"): st.column_config.NumberColumn(format="%.1f%%"),
        T("差距（个百分点）"): st.column_config.NumberColumn(format="%+.1f"),
    })
    if not last:
        return
    late = int(g["reported_to"].notna().sum())
    if late:
        st.caption(T("{n} 项任务{month}月未报：按最近报送月份计算完成率、序时进度和每月还需（见“完成”列）。",
                     n=late, month=sel.as_of))
    st.caption(T("完成率 = 完成 ÷ 目标；序时进度 = 截至所选月份已过时间占任务期限的比例。"
                 "状态：已完成（≥100%）、超序时（≥序时进度）、滞后、严重滞后（落后序时进度超过阈值）。"
                 "比率类任务以达到目标值为完成，不计序时进度。按滞后程度排序，最需要关注的在前。"))


def deck_parts(sel: Selection, g: pd.DataFrame, table: pd.DataFrame, elapsed: float, fig, prov) -> list:
    """Slides for the 目标 page: the status counts, the chart, and the task table as a native table
    (lagging tasks first, rows filled in their status colour), every figure as the page writes it."""
    counts = g["status"].value_counts()
    month = T("截至{month}月", month=sel.as_of, mon=f"{i18n.MONTHS_EN[sel.as_of - 1]} {sel.year}")  # as the footer says it
    kpi = slides.KpiGroup(T("总体进度（{period}）", period=month), [(T("序时进度"), fmt.percent(elapsed), "")] + [
        (T(s), T("{n} 项", n=int(counts.get(s, 0))), "") for s in reversed(metrics.STATUSES)])
    shown = table.copy()
    for c in (T("完成率"), T("序时进度")):  # the page's "%.1f%%" and "%+.1f" column formats
        shown[c] = [fmt.percent(v / 100) if pd.notna(v) else "—" for v in shown[c]]
    shown[T("差距（个百分点）")] = [f"{v:+.1f}" if pd.notna(v) else "—" for v in shown[T("差距（个百分点）")]]
    fills = {i: charts.STATUS_COLORS[s] for i, s in enumerate(g["status"]) if s in ("滞后", "严重滞后")}
    rows = [[str(v) for v in r] for r in shown.itertuples(index=False)]
    return [kpi, slides.Chart(T("完成率与序时进度（{period}）", period=month), images.png(fig, prov)),
            slides.Table(T("任务推进明细（{period}）", period=month), list(shown.columns), rows, fills)]


sc, T = frame.start()
indicators = data.indicators()
targets = data.targets(sc)
if targets.empty:
    st.info(T("{region} 在 {year} 年没有设定目标任务。", region=text.md(sc.region_name), year=sc.year)
            + (T("演示数据中，株洲市及其各区县设有本年度的任务，岳阳市屈原管理区设有 2023 年的任务（与种子报告一致）。")
               if sc.demo else ""))
    g = pd.DataFrame()
else:
    with frame.controls():
        sel, depts, gap = inputs(sc, targets)
    g = load(sel, depts, gap, targets, indicators)
    listed = targets[targets["department"].isin(depts)].drop_duplicates("indicator_id")  # the matrix's columns
    kids, m = tasks.subdivisions(sel, listed, gap, indicators)
    task = drill.task()
    if task in set(g["indicator_id"]):
        i = g.index[g["indicator_id"] == task][0]
        tasks.render_task(sel, g.loc[i], tasks.goal_rows(g, sel.as_of).loc[i], m, indicators)
        briefing.render_task(sel, g.loc[i])
    else:
        if task:  # a permalink to a task this region or these departments do not have
            st.warning(T("链接中的任务不在所选区域与部门的任务中，已显示全部任务。"))
            drill.open_task(None)
        render(sel, g, [lambda k=k: tasks.render_matrix(sel, listed, k, m) for k in paging.chunks(kids, MATRIX_ROWS)]
               if paging.presenting() else [lambda: tasks.render_matrix(sel, listed, kids, m)])
frame.footer(sc, g["source"].tolist() if "source" in g else [])
