"""总览: headline KPIs for the chosen region and year, with 同比 and attainment badges."""

import datetime as dt

import pandas as pd
import streamlit as st

from minsheng import fmt, metrics, slides, vocab
from minsheng.selection import Selection
from minsheng.ui import comparable, data, drill, exports, frame, paging, reporting, state, text

STATUS_BADGE = {"已完成": "green", "超序时": "blue", "滞后": "orange", "严重滞后": "red"}
DELTA_COLOR = {1: "normal", -1: "inverse", None: "off"}
PER_SLIDE = 12  # cards on a slide: three rows of four fit 1920×1080 with the title and the footer


def inputs(indicators: pd.DataFrame) -> tuple[list[str], bool]:
    domains = fmt.domain_order(indicators["domain"])
    chosen = state.choice(st.pills, T("领域"), domains, key="domains", default=domains, multi=True,
                          selection_mode="multi", format_func=lambda d: text.md(T(d))) or []
    return chosen, comparable.toggle()


def load(sel: Selection, indicators: pd.DataFrame, like_for_like: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cards (latest value in the year, 同比 against two years read before, like for like where
    coverage differs and `like_for_like`) and the region's tasks."""
    s = data.series(sel)
    cards = metrics.kpis(s, indicators, sel.year)
    ups, standards = data.tree().ancestors(sel.region), indicators[indicators["kind"] == "standard"]
    if ups and not standards.empty:  # a township shows the standards its county sets for it
        above = data.series(sel.with_(indicators=tuple(standards["id"]), regions=tuple(ups)))
        cards = metrics.inherit_standards(cards, above, ups, standards, sel.year)
    cards = comparable.cards(sel, cards, s, like_for_like)
    kinds = dict(zip(indicators["id"], indicators["kind"]))
    t = data.targets(sel)
    goal = metrics.goal_table(t, s[s["indicator_id"].isin(t["indicator_id"])], kinds, sel.year,
                              metrics.last_month(sel.data_date, sel.year),
                              frequency=dict(zip(indicators["id"], indicators["frequency"])))
    return cards, goal


def sections(cards: pd.DataFrame, domains: list[str]):
    """(section, its cards with a value) in page order: the five bureaus get a section each, the
    other departments on the 民生实事 list share one."""
    shown = cards[cards["domain"].isin(domains) & (cards["value"].notna() | cards["min_value"].notna())]
    section = shown["domain"].where(shown["domain"].isin(fmt.DOMAINS), "其他部门")
    for name in dict.fromkeys(section):
        yield name, shown[section == name]


def card_value(c) -> str:
    """A card's number with its unit, as the card and its slide write it; a standard without its own
    value shows its subdivisions' range."""
    dec = fmt.decimals_for(c["unit"], c["kind"], c.get("decimals"))
    if pd.isna(c["value"]) and pd.notna(c.get("min_value")):
        return fmt.span(c["min_value"], c["max_value"], text.unit(c["unit"]), dec)
    return fmt.value_with_unit(c["value"], c["unit"], c["kind"], text.lang(), dec)


def card(c, goal_row) -> None:
    delta = c["yoy"].signed(text.lang()) + c["yoy_note"] if c["yoy"] is not None else None
    when = T("暂无数据") if c["period"] is None or pd.isna(c["period"]) else \
        fmt.period_label(c["period"], c["frequency"], text.lang())
    if c["stale"]:
        when += T("（本年尚未发布）")
    if c.get("applies_from"):
        when += "　" + T("执行{name}标准", name=text.md(data.tree().names.get(c["applies_from"], c["applies_from"])))
    help_text = (f"{text.md(T(c['domain']))}｜{vocab.KINDS.label(c['kind'])}｜"
                 + T("来源：{source}", source=text.md(c.get("obs_source") or c.get("source") or "—")))
    if c.get("derived") and c["kind"] != "standard":
        help_text += "｜" + T("由 {n}/{m} 个下级单位汇总", n=int(c["n_reported"]), m=int(c["n_expected"]))
    with st.container(border=True):
        st.metric(text.md(text.name(c)), text.md(card_value(c)), delta=delta, help=help_text,
                  delta_color=DELTA_COLOR[metrics.direction(c["higher_is_better"])] if delta else "off",
                  delta_description=T("同比") if delta else None)
        if goal_row is not None and goal_row["status"]:
            badge = STATUS_BADGE.get(goal_row["status"], "gray")
            when += f"　:{badge}-badge[{T(goal_row['status'])} · {T('完成率')} {fmt.percent(goal_row['completion'])}]"
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):  # one line where it fits
            st.caption(when, width="stretch")
            drill.trend_link(c["indicator_id"], text.name(c))


def render(sel: Selection, cards: pd.DataFrame, goal: pd.DataFrame, domains: list[str]) -> None:
    """The status summary and the lagging tasks, then each section's cards; in presentation mode one
    slide each (a long section over several)."""
    parts = (["summary"] if goal["status"].notna().any() else []) + [
        (name, k > 0, piece) for name, d in sections(cards, domains)
        for k, piece in enumerate(paging.chunks(d, PER_SLIDE) if paging.presenting() else [d])]
    if not any(isinstance(p, tuple) for p in parts):
        st.info(T("{region} 在 {year} 年所选领域暂无数据。请换一个区域、年度或领域。", region=text.md(sel.region_name),
                  year=sel.year))
    goals_by_ind = {r["indicator_id"]: r for _, r in goal.iterrows()}
    for part in paging.show(parts):
        if part == "summary":
            render_summary(goal)
            continue
        name, continued, d = part
        st.subheader(T("{name}（续）", name=text.md(T(name))) if continued else text.md(T(name)))
        rows = list(d.iterrows())
        for k in range(0, len(rows), 4):  # row by row: on a phone the columns stack in reading order
            for col, (_, c) in zip(st.columns(4), rows[k:k + 4]):
                with col:
                    card(c, goals_by_ind.get(c["indicator_id"]))


def render_summary(goal: pd.DataFrame, shown: int = 5) -> None:
    """The tasks by status, and the lagging ones by name with 完成率 against 序时进度 (worst first)."""
    counts = goal["status"].value_counts()
    with st.container(key="ms_status"):  # a phone shows it two by two (minsheng/ui/frame.py NARROW_CSS)
        for col, s in zip(st.columns(4), reversed(metrics.STATUSES)):
            col.metric(T("目标任务 · {status}", status=T(s)), T("{n} 项", n=int(counts.get(s, 0))))
    late = goal[goal["status"].isin(["严重滞后", "滞后"])]
    if late.empty:
        return
    st.markdown("**" + T("滞后任务") + "**")
    st.markdown("\n".join(
        f"- :{STATUS_BADGE[r.status]}-badge[{T(r.status)}] "
        + T("{task}（{department}）", task=text.md(r.task), department=text.md(r.department)) + "　"
        + T("完成率 {done}，序时进度 {pace}", done=fmt.percent(r.completion), pace=fmt.percent(r.elapsed))
        for r in late.head(shown).itertuples()))
    if len(late) > shown:
        st.caption(T("另有 {n} 项滞后任务，见“目标”页。", n=len(late) - shown))


def deck_parts(sel: Selection, cards: pd.DataFrame, domains: list[str]) -> list:
    """One KPI slide per department section, eight cards a slide, each figure and 同比 written as the
    card on the page writes it, with the period of a figure older than the year (a yearly figure not out
    yet); each slide names the sources of its own cards."""
    def note(c) -> str:
        change = f"{T('同比')} {c['yoy'].signed(text.lang())}{c['yoy_note']}" if c["yoy"] is not None else ""
        if not c["stale"] or c["period"] is None or pd.isna(c["period"]):
            return change
        return "　".join(x for x in (change, fmt.period_label(c["period"], c["frequency"], sel.lang)
                                     + T("（本年尚未发布）")) if x)

    parts = []
    for name, d in sections(cards, domains):
        items = [(text.name(c), card_value(c), note(c)) for _, c in d.iterrows()]
        title = T("{section}主要指标（{period}）", section=T(name), period=sel.when())
        source = "；".join(fmt.sources(d["obs_source"]))
        parts += [slides.KpiGroup(title + (T("（续）") if k else ""), items[k:k + 8], source)
                  for k in range(0, len(items), 8)]
    return parts


sc, T = frame.start()
reporting.coverage_line(sc)  # 报送进度's 已报 n/N of the returns due now, under the title
indicators = data.indicators()
with frame.controls():
    domains, like_for_like = inputs(indicators)
# the year's values, and two years before it for 同比 and for annual figures not out yet
sel = sc.with_(indicators=tuple(indicators["id"]), start=dt.date(sc.year, 1, 1), end=dt.date(sc.year, 12, 31),
               history=2)
cards, goal = load(sel, indicators, like_for_like)
render(sel, cards, goal, domains)
# built on click, in this session's context (exports.in_context: its language): a tenth of a run's CPU otherwise
exports.deck_button(sel, lambda: deck_parts(sel, cards, domains), cards["obs_source"].dropna().tolist(), domains=domains)
frame.footer(sel, cards.loc[cards["domain"].isin(domains), "obs_source"].dropna().tolist())
