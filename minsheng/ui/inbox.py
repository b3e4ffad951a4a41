"""消息中心's parts: the 预警 standing in a region (the rules run on this run's data version), the account's
messages with read/unread, and for admins the state of the outbox (minsheng/alerts.py, minsheng/notify.py)."""

from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from minsheng import alerts, cycle, notify, store
from minsheng.selection import Selection
from minsheng.ui import data, session
from minsheng.ui.text import T, md

LEVEL_STYLE = {"严重": "background-color: #fde2e1; color: #7f1d1d; font-weight: 600",
               "关注": "background-color: #fff1c2; color: #713f12"}
PAGE = 50  # messages drawn at once


@st.cache_data(max_entries=16, show_spinner=False)
def _standing(ver: str, region: str, day) -> pd.DataFrame:
    found = alerts.evaluate(store.data_dir(), day, area=region, fold=True)  # one reader: a city's alike told once
    return pd.DataFrame([dataclasses.asdict(a) for a in found],
                        columns=[f.name for f in dataclasses.fields(alerts.Alert)])


def standing(region: str) -> pd.DataFrame:
    """Every alert the rules find today in `region` and below (cached per data version and day)."""
    return _standing(data.version(), region, cycle.clock().date())


def render_standing(sc: Selection, found: pd.DataFrame) -> None:
    if found.empty:
        st.success(T("{region}当前没有预警。", region=md(sc.region_name)), icon=":material/check_circle:")
        return
    counts = found["level"].value_counts()
    st.caption(T("{region}：严重 {a} 条，关注 {b} 条。规则见数据目录的 settings/alert_rules.toml。",
                 region=md(sc.region_name), a=int(counts.get("严重", 0)), b=int(counts.get("关注", 0))))
    names = data.tree().names
    shown = pd.DataFrame({
        T("级别"): found["level"], T("区域"): [names.get(c, c) for c in found["region_code"]],
        T("部门"): found["department"], T("预警"): found["title"], T("说明"): found["text"]})
    st.dataframe(shown.style.map(lambda v: LEVEL_STYLE.get(v, ""), subset=[T("级别")]), placeholder="—",
                 hide_index=True, width="stretch", key="standing_alerts")


def _account() -> str | None:
    """The signed-in account's name; None in single-user mode (no account receives messages there)."""
    u = session.user()
    return None if u is None or session.is_local() else u.name


def messages(unread_only: bool) -> list[notify.Message]:
    who = _account()
    return [] if who is None else notify.inbox(store.data_dir(), who, unread_only=unread_only, limit=PAGE,
                                               within=data.tree().__contains__)  # the account's area as it is now


def badge() -> str:
    """The unread count after the menu's 消息中心 (nothing before sign-in, in single-user mode, or with none)."""
    who = _account()
    try:
        n = 0 if who is None else notify.unread_count(store.data_dir(), who, within=data.tree().__contains__)
    except Exception:  # noqa: BLE001 — a menu title never stops a page: the page itself says what is wrong
        n = 0
    return f"（{n}）" if n else ""


def _read(ids: list[int]) -> None:
    who = _account()
    if who is not None:
        notify.mark_read(store.data_dir(), who, ids)


def render_messages(found: list[notify.Message]) -> None:
    if _account() is None:
        st.caption(T("本机单用户模式没有个人消息；启用登录后，各账号在此收到推送给本人的预警和专报。"))
        return
    if not found:
        st.caption(T("没有消息。"))
        return
    waiting = [m.id for m in found if m.read_at is None]
    if waiting:
        st.button(T("全部标为已读（{n} 条）", n=len(waiting)), key="msg_read_all", on_click=_read, args=(waiting,),
                  icon=":material/done_all:")
    for m in found:
        with st.container(border=True, key=f"msg_{m.id}"):
            badge = f":red-badge[{T('未读')}] " if m.read_at is None else ""
            st.markdown(badge + f"**{md(m.title)}**")
            st.caption(md(str(m.created)[:16].replace("T", " ")))
            st.text(m.body)  # plain text: a message's body is never markdown or HTML
            if m.read_at is None:
                st.button(T("标为已读"), key=f"msg_read_{m.id}", on_click=_read, args=([m.id],))


def render_delivery() -> None:
    """For admins: what the outbox holds and what failed (schedule status) — of their area's regions only, unless
    their area is the whole store's (as 用户管理 shows its audit lines)."""
    me, tree = session.user(), data.tree()
    whole = session.is_local() or (me is not None and data.top_areas() == {me.area})
    s = notify.status(store.data_dir(), None if whole else tree.__contains__)
    with st.expander(T("推送状态（失败 {n} 条）", n=len(s["failed"])), expanded=bool(s["failed"])):
        if not s["counts"]:
            st.caption(T("还没有推送记录。定时任务 python -m minsheng schedule run 运行后在此显示。"))
            return
        st.dataframe(pd.DataFrame(s["counts"]).rename(columns={"channel": T("渠道"), "status": T("状态"), "n": T("条数")}),
                     placeholder="—", hide_index=True, key="outbox_counts")
        if s["failed"]:
            st.dataframe(pd.DataFrame(s["failed"]), placeholder="—", hide_index=True, width="stretch",
                         key="outbox_failed")
        if s["runs"]:
            st.dataframe(pd.DataFrame(s["runs"]), placeholder="—", hide_index=True, width="stretch", key="schedule_runs")
