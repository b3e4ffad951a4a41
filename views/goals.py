"""目标: every task's target, actual, 完成率 against 序时进度, status and the monthly pace still needed."""

import datetime as dt

import pandas as pd
import streamlit as st

from minsheng import charts, fmt, metrics
from minsheng.ui import data, frame, state

# cell colours for the status column (no emoji: many office machines have no colour-emoji font)
STATUS_STYLE = {s: f"background-color: {c}; color: white; font-weight: 600" for s, c in charts.STATUS_COLORS.items()}


def inputs(sc: frame.Scope, targets: pd.DataFrame) -> dict:
    last_month = 12
    if sc.data_date and pd.Timestamp(sc.data_date).year == sc.year:
        last_month = pd.Timestamp(sc.data_date).month
    months = list(range(last_month, 0, -1))
    depts = sorted(targets["department"].unique().tolist())
    c1, c2, c3 = st.columns([1, 3, 1])
    with c1:
        month = state.choice(st.selectbox, "截至月份", months, key="gmonth", default=last_month, parse=int,
                             format_func=lambda m: f"{sc.year}年{m}月")
    with c2:
        chosen = state.choice(st.multiselect, "部门", depts, key="dept", default=[], multi=True,
                              placeholder="全部部门")
    with c3:
        gap = state.value(st.number_input, "严重滞后阈值（个百分点）", key="gap", default=15, parse=int,
                          valid=lambda v: isinstance(v, int) and 1 <= v <= 50, min_value=1, max_value=50, step=1,
                          help="完成率落后序时进度超过该值即为严重滞后")
    return dict(month=month, depts=chosen or depts, gap=gap)


def load(sc: frame.Scope, f: dict, targets: pd.DataFrame, indicators: pd.DataFrame) -> pd.DataFrame:
    t = targets[targets["department"].isin(f["depts"])]
    s = data.series(t["indicator_id"].unique(), [sc.region], dt.date(sc.year, 1, 1), dt.date(sc.year, f["month"], 1))
    kinds = dict(zip(indicators["id"], indicators["kind"]))
    g = metrics.goal_table(t, s, kinds, sc.year, f["month"], f["gap"] / 100)
    units = dict(zip(indicators["id"], indicators["unit"]))
    return g.assign(unit=g["indicator_id"].map(units), kind=g["indicator_id"].map(kinds))


def render(sc: frame.Scope, f: dict, g: pd.DataFrame) -> None:
    elapsed = metrics.elapsed_share(metrics.month_end(sc.year, f["month"]), dt.date(sc.year, 1, 1),
                                    dt.date(sc.year, 12, 31))
    counts = g["status"].value_counts()
    cols = st.columns(5)
    cols[0].metric("序时进度", fmt.percent(elapsed), help=f"截至{sc.year}年{f['month']}月底，全年已过 {f['month']}/12")
    for col, s in zip(cols[1:], reversed(metrics.STATUSES)):
        col.metric(s, f"{int(counts.get(s, 0))} 项")
    sub = f"{sc.region_name} · {sc.year}年 · 截至{f['month']}月 · 数据截至 {fmt.date_label(sc.data_date)}"
    st.plotly_chart(charts.goals(g, sub), key="goals_chart", config={"displaylogo": False})
    dec = {i: fmt.decimals_for(u, k) for i, u, k in zip(g["indicator_id"], g["unit"], g["kind"])}
    table = pd.DataFrame({
        "状态": g["status"].fillna("无数据"),
        "部门": g["department"],
        "任务": g["task"],
        "目标": [f"{fmt.number(v, dec[i])} {u}" for v, u, i in zip(g["target"], g["unit"], g["indicator_id"])],
        "完成": [f"{fmt.number(v, dec[i])} {u}" for v, u, i in zip(g["actual"], g["unit"], g["indicator_id"])],
        "完成率": 100 * g["completion"].astype(float),
        "序时进度": 100 * g["elapsed"].astype(float),
        "差距（个百分点）": 100 * g["gap"].astype(float),
        "每月还需": ["—" if p is None or pd.isna(p) else ("已完成" if p == 0 else f"{fmt.number(p, max(1, dec[i]) if dec[i] else 0)} {u}")
                 for p, u, i in zip(g["pace"], g["unit"], g["indicator_id"])],
    })
    styled = table.style.map(lambda v: STATUS_STYLE.get(v, ""), subset=["状态"])
    st.dataframe(styled, hide_index=True, width="stretch", height=35 * (len(table) + 1) + 3, column_config={
        "完成率": st.column_config.ProgressColumn(format="%.1f%%", min_value=0.0, max_value=100.0),
        "序时进度": st.column_config.NumberColumn(format="%.1f%%"),
        "差距（个百分点）": st.column_config.NumberColumn(format="%+.1f"),
    })
    st.caption("完成率 = 完成 ÷ 目标；序时进度 = 截至所选月份已过时间占任务期限的比例。"
               "状态：已完成（≥100%）、超序时（≥序时进度）、滞后、严重滞后（落后序时进度超过阈值）。"
               "比率类任务以达到目标值为完成，不计序时进度。按滞后程度排序，最需要关注的在前。")


sc = frame.scope()
indicators = data.indicators()
frame.header("目标", sc)
targets = data.targets(sc.region, sc.year)
if targets.empty:
    st.info(f"{sc.region_name} 在 {sc.year} 年没有设定目标任务。演示数据中，株洲市设有 2023 年（与种子报告一致）"
            "和本年度的任务，各区县设有本年度的任务。")
    g = pd.DataFrame()
else:
    with frame.controls():
        f = inputs(sc, targets)
    g = load(sc, f, targets, indicators)
    render(sc, f, g)
frame.footer(sc, indicators.loc[indicators["id"].isin(targets["indicator_id"]), "source"].tolist())
