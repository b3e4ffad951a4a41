"""总览: headline KPIs for the chosen region and year, with 同比 and attainment badges."""

import datetime as dt

import pandas as pd
import streamlit as st

from minsheng import fmt, metrics, slides, vocab
from minsheng.ui import data, exports, frame, state

STATUS_BADGE = {"已完成": "green", "超序时": "blue", "滞后": "orange", "严重滞后": "red"}


def inputs(indicators: pd.DataFrame) -> list[str]:
    domains = fmt.domain_order(indicators["domain"])
    return state.choice(st.pills, T("领域"), domains, key="domains", default=domains, multi=True,
                        selection_mode="multi", format_func=T) or []


def load(sc: frame.Scope, indicators: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    s = data.series(indicators["id"], [sc.region], dt.date(sc.year - 2, 1, 1), dt.date(sc.year, 12, 31))
    cards = metrics.kpis(s, indicators, sc.year)
    kinds = dict(zip(indicators["id"], indicators["kind"]))
    t = data.targets(sc.region, sc.year)
    month = 12
    if sc.data_date and pd.Timestamp(sc.data_date).year == sc.year:
        month = pd.Timestamp(sc.data_date).month
    goal = metrics.goal_table(t, s[s["indicator_id"].isin(t["indicator_id"])], kinds, sc.year, month)
    return cards, goal


def card(c, goal_row, lang: str) -> None:
    if pd.isna(c["value"]) and pd.notna(c.get("min_value")):
        value = f"{fmt.number(c['min_value'])}–{fmt.number(c['max_value'])} {frame.unit(c['unit'])}"
    else:
        value = fmt.value_with_unit(c["value"], c["unit"], c["kind"], lang)
    delta, color = None, "off"
    if c["yoy"] is not None:
        delta = c["yoy"].signed()
        hib = c["higher_is_better"]
        color = "off" if hib is None or pd.isna(hib) else ("normal" if hib else "inverse")
    no_period = c["period"] is None or pd.isna(c["period"])
    when = T("暂无数据") if no_period else fmt.period_label(c["period"], c["frequency"], lang)
    if c["stale"]:
        when += T("（本年尚未发布）")
    help_text = (f"{T(c['domain'])}｜{vocab.KINDS.label(c['kind'])}｜"
                 + T("来源：{source}", source=c.get("obs_source") or c.get("source") or "—"))
    if c.get("derived") and c["kind"] != "standard":
        help_text += "｜" + T("由 {n}/{m} 个下级单位汇总", n=int(c["n_reported"]), m=int(c["n_expected"]))
    with st.container(border=True):
        st.metric(frame.name(c), value, delta=delta, delta_color=color, help=help_text,
                  delta_description=T("同比") if delta else None)
        line = when
        if goal_row is not None and goal_row["status"]:
            badge = STATUS_BADGE.get(goal_row["status"], "gray")
            line += f"　:{badge}-badge[{T(goal_row['status'])} · {T('完成率')} {fmt.percent(goal_row['completion'])}]"
        st.caption(line)


def render(sc: frame.Scope, cards: pd.DataFrame, goal: pd.DataFrame, domains: list[str]) -> None:
    if goal["status"].notna().any():
        counts = goal["status"].value_counts()
        cols = st.columns(4)
        for col, s in zip(cols, reversed(metrics.STATUSES)):
            col.metric(T("目标任务 · {status}", status=T(s)), T("{n} 项", n=int(counts.get(s, 0))))
    shown = cards[cards["domain"].isin(domains)]
    if shown.empty or shown["value"].isna().all() and shown["min_value"].isna().all():
        st.info(T("{region} 在 {year} 年所选领域暂无数据。请换一个区域、年度或领域。", region=sc.region_name, year=sc.year))
        return
    goals_by_ind = {r["indicator_id"]: r for _, r in goal.iterrows()}
    # the five bureaus get a section each; the other departments on the 民生实事 list share one
    section = shown["domain"].where(shown["domain"].isin(fmt.DOMAINS), "其他部门")
    for name in list(dict.fromkeys(section[shown["domain"].isin(domains)])):
        d = shown[(section == name) & shown["domain"].isin(domains) & (shown["value"].notna() | shown["min_value"].notna())]
        if d.empty:
            continue
        st.subheader(T(name))
        cols = st.columns(4)
        for i, (_, c) in enumerate(d.iterrows()):
            with cols[i % 4]:
                card(c, goals_by_ind.get(c["indicator_id"]), sc.lang)


def deck_parts(cards: pd.DataFrame, domains: list[str]) -> list:
    """One KPI slide per department section, eight cards a slide, values in 万/亿 where they are large."""
    shown = cards[cards["domain"].isin(domains) & (cards["value"].notna() | cards["min_value"].notna())]
    section = shown["domain"].where(shown["domain"].isin(fmt.DOMAINS), "其他部门")
    parts = []
    for name in dict.fromkeys(section):
        items = []
        for _, c in shown[section == name].iterrows():
            if pd.isna(c["value"]):
                value = f"{fmt.number(c['min_value'])}–{fmt.number(c['max_value'])} {frame.unit(c['unit'])}"
            else:
                value = slides.kpi_value(c["value"], frame.unit(c["unit"]))
            items.append((frame.name(c), value, c["yoy"].label(T("同比")) if c["yoy"] is not None else ""))
        for k in range(0, len(items), 8):
            parts.append(slides.KpiGroup(T(name) + ("" if k == 0 else "（续）"), items[k:k + 8]))
    return parts


sc = frame.scope()
T = frame.translator(sc.lang)
indicators = data.indicators()
frame.header("总览", sc)
with frame.controls():
    domains = inputs(indicators)
cards, goal = load(sc, indicators)
render(sc, cards, goal, domains)
exports.deck_button(sc, "总览", lambda: deck_parts(cards, domains), cards["obs_source"].dropna().tolist(),
                    detail=dict(domains=domains))
frame.footer(sc, cards.loc[cards["domain"].isin(domains), "obs_source"].dropna().tolist())
