"""目标's drill-downs: one task's detail (a bar clicked, or ?task=), and the subdivision × task matrix."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from minsheng import charts, fmt, literal, matrix, metrics
from minsheng.selection import Selection
from minsheng.ui import data, drill
from minsheng.ui.text import T, amount, lang, md, unit

BADGE = {"已完成": "green", "超序时": "blue", "滞后": "orange", "严重滞后": "red"}  # as 总览's cards
GREY = "#E6E8EB"  # 无任务 / 未报 cells: no colour of a status, dark text


def chart_selected() -> None:
    """The goals chart's on_select: a click on a task's bar (or its 序时 mark) opens that task."""
    event = st.session_state.get("goals_chart") or {}
    points = (event.get("selection") or {}).get("points") or []
    ids = [p.get("customdata") for p in points if isinstance(p.get("customdata"), str)]
    if ids:
        drill.open_task(ids[0])


def subdivisions(sel: Selection, tasks: pd.DataFrame, gap: int,
                 indicators: pd.DataFrame) -> tuple[list[str], pd.DataFrame]:
    """The region's subdivisions and their matrix for `tasks`, as of the selection's month."""
    kids = data.tree().kids(sel.region)
    if not kids or tasks.empty:
        return kids, pd.DataFrame(columns=matrix.COLUMNS)
    targets = pd.concat([data.targets(sel.with_(region=k)) for k in kids], ignore_index=True)
    actuals = data.series(sel.with_(regions=tuple(kids)))
    key = (sel.key(), sel.as_of, gap, tuple(tasks["indicator_id"]))  # what decides the cells, version and area too
    return kids, _matrix(key, tasks, targets, actuals, kids, indicators, sel.year, sel.as_of, gap)


@st.cache_data(max_entries=64, show_spinner=False)
def _matrix(key: tuple, _tasks, _targets, _actuals, _kids, _indicators, year: int, month: int,
            gap: int) -> pd.DataFrame:
    """goal_table once per subdivision (≈ 10 ms each): kept per `key`, so a rerun does not judge them again."""
    return matrix.goal_matrix(_tasks, _targets, _actuals, _kids, dict(zip(_indicators["id"], _indicators["kind"])),
                              year, month, gap / 100, dict(zip(_indicators["id"], _indicators["frequency"])))


def _cell(r) -> tuple[str, str, str]:
    """A matrix cell's (background, text colour, HTML content): 完成率, and how far it is ahead of or
    behind the column's 序时进度 in points (a late report: the month it is as of, and its own 序时)."""
    if r.cell in (matrix.NO_TASK, matrix.NOT_REPORTED):
        return GREY, "#555", literal.html(T(r.cell))
    second = "" if pd.isna(r.gap) else f"{100 * r.gap:+.1f}"
    if pd.notna(r.reported_to):
        second = T("截至{m}月", m=int(r.reported_to)) + f" {second}（{T('序时 {p}', p=fmt.percent(r.elapsed))}）"
    return (charts.STATUS_COLORS.get(r.status, GREY), "#fff",
            f"<b>{literal.html(fmt.percent(r.completion))}</b><br><small>{literal.html(second)}</small>")


def _pace_row(tasks: pd.DataFrame, m: pd.DataFrame) -> str:
    """The row under the task names: each task's 序时进度 as of the month (a rate task has none)."""
    on_time = m[m["reported_to"].isna() & m["elapsed"].notna()].groupby("indicator_id")["elapsed"].first()
    shown = [fmt.percent(on_time[i]) if i in on_time.index else "—" for i in tasks["indicator_id"]]
    return "".join(f"<td class='ms-pace'>{literal.html(p)}</td>" for p in shown)


def matrix_html(tasks: pd.DataFrame, m: pd.DataFrame, kids: list[str], names: dict, level: str) -> str:
    """The matrix as an HTML table, every value escaped; a legend under it."""
    head = "".join(f"<th>{literal.html(t)}<br><small>{literal.html(d)}</small></th>"
                   for t, d in zip(tasks["task"], tasks["department"]))
    cells = {(r.region_code, r.indicator_id): r for r in m.itertuples()}
    body = []
    for code in kids:
        tds = []
        for ind, task in zip(tasks["indicator_id"], tasks["task"]):
            r = cells[(code, ind)]
            bg, ink, content = _cell(r)
            tip = f"{names.get(code, code)} · {task} · {T(r.cell)}"
            tds.append(f"<td style='background:{bg};color:{ink}' title='{literal.html(tip)}' "
                       f"data-region='{literal.html(code)}' data-task='{literal.html(ind)}'>{content}</td>")
        body.append(f"<tr><th scope='row'>{literal.html(names.get(code, code))}</th>{''.join(tds)}</tr>")
    legend = "".join(f"<span><i style='background:{c}'></i>{literal.html(s)}</span>"
                     for s, c in [*((T(k), v) for k, v in charts.STATUS_COLORS.items()),
                                  (f"{T(matrix.NO_TASK)} / {T(matrix.NOT_REPORTED)}", GREY)])
    note = T("格内：完成率，及其领先（+）或落后（-）序时进度的百分点；灰色：无任务（未设目标）或未报（有目标、无数据）")
    legend += f"<div>{literal.html(note)}</div>"
    style = ("<style>.ms-matrix{overflow-x:auto}.ms-matrix table{border-collapse:collapse;font-size:.85rem}"
             ".ms-matrix th,.ms-matrix td{border:1px solid #fff;padding:.3rem .45rem;text-align:center;"
             "min-width:4.6rem}.ms-matrix thead th{background:#f4f6f8;font-weight:600;vertical-align:bottom}"
             ".ms-matrix tbody th{background:#f4f6f8;text-align:left;white-space:nowrap}"
             # the region names stay in view while a phone scrolls the tasks sideways
             ".ms-matrix tbody th,.ms-matrix thead th:first-child{position:sticky;left:0;z-index:1}"
             ".ms-matrix .ms-pace{background:#f4f6f8;font-size:.8rem;color:#333;font-weight:400}"
             ".ms-legend{font-size:.8rem;color:#444;margin-top:.4rem}"
             ".ms-legend span{margin-right:1rem;white-space:nowrap;display:inline-block}"
             ".ms-legend i{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:-1px}</style>")
    corner = literal.html(T("区县") if level == "city" else T("乡镇（街道）"))
    return (f"{style}<div class='ms-matrix' data-testid='ms-goal-matrix'><table><thead><tr><th>{corner}</th>{head}"
            f"</tr><tr><th class='ms-pace'>{literal.html(T('序时进度'))}</th>{_pace_row(tasks, m)}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div><div class='ms-legend'>{legend}</div>")


def render_matrix(sel: Selection, tasks: pd.DataFrame, kids: list[str], m: pd.DataFrame) -> None:
    """The matrix section of 目标, or a line saying why there is none."""
    st.subheader(T("各{level}完成情况", level=T("区县") if sel.region_level == "city" else T("乡镇（街道）")))
    if not kids:
        st.caption(T("{region} 没有下级区划。", region=md(sel.region_name)))
        return
    if not matrix.has_targets(m):
        st.caption(T("{region} 的下级区划没有设定这些任务的目标。", region=md(sel.region_name)))
        return
    st.caption(T("完成率对照序时进度（截至{month}月），与任务表同一算法；颜色为状态。", month=sel.as_of))
    st.html(matrix_html(tasks, m, kids, data.tree().labels, sel.region_level))


def _pace_line(sel: Selection, target: float, deadline) -> pd.Series:
    """Where the figure should stand at each month's end: the target times 序时进度 then."""
    end = pd.Timestamp(deadline).date() if pd.notna(deadline) else dt.date(sel.year, 12, 31)
    months = pd.to_datetime([dt.date(sel.year, k, 1) for k in range(1, sel.as_of + 1)])
    return pd.Series([target * metrics.elapsed_share(metrics.month_end(sel.year, k), dt.date(sel.year, 1, 1), end)
                      for k in range(1, sel.as_of + 1)], index=months)


def render_task(sel: Selection, g: pd.Series, shown: pd.Series, m: pd.DataFrame, indicators: pd.DataFrame) -> None:
    """One task: its figures as the table shows them, its months against the 序时 line, the subdivisions
    where it is set, and the way back to every task. `g` is its goal-table row, `shown` its table row."""
    st.button(T("返回全部任务"), icon=":material/arrow_back:", key="task_back", on_click=drill.open_task, args=(None,))
    ind = indicators.set_index("id").loc[g["indicator_id"]]
    status = T(g["status"]) if isinstance(g["status"], str) else T("无数据")
    st.subheader(md(f"{g['task']}（{g['department']}）"))
    st.caption(f":{BADGE.get(g['status'], 'gray')}-badge[{md(status)}] {md(sel.subtitle())}")
    figures = [(T("目标值"), shown[T("目标值")]), (T("完成"), shown[T("完成")]),
               (T("完成率"), fmt.percent(g["completion"])), (T("序时进度"), fmt.percent(g["elapsed"])),
               (T("差距（个百分点）"), "—" if pd.isna(g["gap"]) else f"{100 * g['gap']:+.1f}"),
               (T("每月还需"), shown[T("每月还需")])]
    with st.container(horizontal=True, gap="large"):  # as wide as each figure needs: units are not cut
        for label, value in figures:
            st.metric(label, md(value), width="content")
    s = data.series(sel)
    s = s[(s["indicator_id"] == g["indicator_id"]) & (s["region_code"] == sel.region)
          & (s["period"].dt.year == sel.year) & (s["period"].dt.month <= sel.as_of)].sort_values("period")
    dec = fmt.decimals_for(ind["unit"], ind["kind"], ind.get("decimals"))
    pace = None if ind["kind"] == "rate" else _pace_line(sel, float(g["target"]), g["deadline"])
    source = T("来源：") + ("；".join(fmt.sources(s["source"])) or "—")
    fig = charts.task_progress(s[["period", "value"]], float(g["target"]), pace, g["task"],
                               sel.subtitle(source), unit(ind["unit"]), dec, sel.lang)
    below = m[(m["indicator_id"] == g["indicator_id"]) & (m["cell"] != matrix.NO_TASK)]
    # a slide (presentation mode) puts the subdivisions beside the chart, so the task fits one screen
    chart_at, table_at = st.columns([3, 2]) if sel.present and not below.empty else (st.container(), st.container())
    with chart_at:
        st.plotly_chart(fig, key="task_chart", config=charts.PLOTLY_CONFIG)
    with table_at:
        if below.empty:
            st.caption(T("下级区划没有设定该任务的目标。"))
        else:
            _below_table(below, dec, unit(ind["unit"]), sel.present)


def _below_table(below: pd.DataFrame, dec: int, u: str, brief: bool) -> None:
    """The subdivisions' figures for one task, status cells in their colour (`brief`: a slide's columns)."""
    names = data.tree().labels
    t = pd.DataFrame({
        T("区域"): [names.get(c, c) for c in below["region_code"]],
        T("状态"): [T(c) for c in below["cell"]],
        T("目标值"): [f"{fmt.exact(v, dec)} {u}".rstrip() for v in below["target"]],
        T("完成"): ["—" if pd.isna(v) else f"{fmt.number(v, dec)} {u}".rstrip() for v in below["actual"]],
        T("完成率"): [fmt.percent(v) if pd.notna(v) else "—" for v in below["completion"]],
        T("序时进度"): [fmt.percent(v) if pd.notna(v) else "—" for v in below["elapsed"]],
        T("差距（个百分点）"): [f"{100 * v:+.1f}" if pd.notna(v) else "—" for v in below["gap"]],
    })
    if brief:
        t = t.drop(columns=[T("目标值"), T("完成")])
    style = {T(k): f"background-color: {c}; color: white; font-weight: 600" for k, c in charts.STATUS_COLORS.items()}
    row = 44 if brief else 35  # presentation mode's larger type makes taller rows: every row shows, no scroll
    st.dataframe(t.style.map(lambda v: style.get(v, ""), subset=[T("状态")]), placeholder="—", hide_index=True, width="stretch",
                 height=row * (len(t) + 1) + 3, key="task_below")


def goal_rows(g: pd.DataFrame, as_of: int) -> pd.DataFrame:
    """The goal table as shown (and as exported to slides), in the UI language; `as_of` is the month
    the report is made up to, named where a task's figure is older."""
    dec = {i: fmt.decimals_for(u, k, d) for i, u, k, d in
           zip(g["indicator_id"], g["unit"], g["kind"], g.get("decimals", pd.Series(None, index=g.index)))}

    def qty(v, u, i):  # no figure: a dash, not "— 人"; English counts 万 out (text.amount)
        return "—" if pd.isna(v) else amount(v, u, fmt.number(v, dec[i]))

    def done(r):  # the figure, and the month it is as of when the chosen month has none
        note = "" if pd.isna(r.reported_to) else f"（{fmt.lag_note(int(r.reported_to), as_of, r.frequency, lang())}）"
        return qty(r.actual, r.unit, r.indicator_id) + note

    def pace(p, u, k, i):
        if p is None or pd.isna(p):
            return "—"
        up = fmt.pace(p, k, dec[i])  # rounded up in the precision shown, and so in English too
        return T("已完成", context="每月还需") if p == 0 else amount(float(up.replace(",", "")), u, up)

    return pd.DataFrame({
        T("状态"): [T(s) if isinstance(s, str) else T("无数据") for s in g["status"]],
        T("部门"): g["department"],
        T("任务"): g["task"],
        T("目标值"): [amount(v, u, fmt.exact(v, dec[i])) for v, u, i in zip(g["target"], g["unit"], g["indicator_id"])],
        T("完成"): [done(r) for r in g.itertuples()],
        T("完成率"): 100 * g["completion"].astype(float),
        T("序时进度"): 100 * g["elapsed"].astype(float),
        T("差距（个百分点）"): 100 * g["gap"].astype(float),
        T("每月还需"): [pace(p, u, k, i) for p, u, k, i in zip(g["pace"], g["unit"], g["kind"], g["indicator_id"])],
    })
