"""审核: the returns of the regions directly below the reviewer's area for one 报表 and period — each beside
the data as last approved, last period and a year before — approved (the figures enter the data as their
own batch) or sent back with a required reason (minsheng/cycle.py)."""

import pandas as pd
import streamlit as st

from minsheng import auth, cycle, forms
from minsheng.ui import data, frame, reporting, session, text

SHOWN = {"pending": "待审核", "all": "全部"}


def reviewable(sc, user) -> list[str] | None:
    """The regions whose returns this user reviews: a reviewer, those directly below their area; an admin,
    every region under the sidebar's region."""
    if user.role == auth.Role.admin:
        return None
    return [c for c in data.tree().kids(user.area)] if user.area else []


def inputs(sc, user) -> tuple[forms.Form, object, str, list[str]] | None:
    below = reviewable(sc, user)
    tree = data.tree()
    levels = None if below is None else {tree.levels[c] for c in below}
    options = [f for f in reporting.forms_here(sc.region) if levels is None or f.level in levels]
    picked = reporting.pick(options, sc.year, "rev", [3, 2, 2], text.md(
        f"{scope_name(user)}没有需要本级审核的报表：审核员审核其直接下级报来的数据。"))
    if picked is None:
        return None
    form, period, c3 = picked
    shown = c3.radio("显示", list(SHOWN), format_func=SHOWN.get, key="rev_shown", horizontal=True)
    codes = reporting.regions_at(form, period, None if below is not None else sc.region)
    if below is not None:
        codes = [c for c in codes if c in set(below)]
    return form, period, shown, codes


def scope_name(user) -> str:
    return data.tree().names.get(user.area, "本级") if user.area else "全部区划"


def load(form: forms.Form, period, codes: list[str]) -> pd.DataFrame:
    directory = reporting.directory()
    st_all = cycle.states(directory)
    st_all = st_all[(st_all["form_id"] == form.id) & (st_all["period"] == period)].set_index("region_code")
    tree = data.tree()
    rows = []
    for c in codes:
        got = st_all.loc[c] if c in st_all.index else None
        state = got["state"] if got is not None else cycle.NONE
        sent = got["submitted_at"] if got is not None else None
        sent = pd.Timestamp(sent).tz_convert(cycle.CHINA).strftime("%m-%d %H:%M") if isinstance(sent, str) else ""
        rows.append({"code": c, "区划": tree.names.get(c, c), "状态": cycle.STATE_ZH[state], "state": state,
                     "上报人": (got["submitted_by"] if got is not None else None) or "", "上报时间": sent,
                     "原因": (got["reason"] if got is not None and state == cycle.RETURNED else None) or ""})
    return pd.DataFrame(rows, columns=["code", "区划", "状态", "state", "上报人", "上报时间", "原因"])


def comparison(form: forms.Form, key: cycle.Key, status: cycle.Status) -> pd.DataFrame:
    """Each figure of the return beside the data now (as last approved), last period and a year before."""
    directory = reporting.directory()
    ind = data.indicators().set_index("id")
    near = cycle.neighbours(directory, key, form).set_index("indicator_id")
    now = cycle.compare(directory, status.values).set_index("indicator_id") if not status.values.empty else None
    sent = status.values.set_index("indicator_id")["value"] if not status.values.empty else pd.Series(dtype=float)
    rows = []
    for iid in form.indicators:
        v = sent.get(iid)
        last, year = near["last_period"].get(iid), near["last_year"].get(iid)
        cur = now["current"].get(iid) if now is not None and iid in now.index else None
        rows.append({"指标": ind.loc[iid, "name_zh"] if iid in ind.index else iid,
                     "单位": ind.loc[iid, "unit"] if iid in ind.index else "",
                     "上报值": v, "已通过数据": cur, "上期": last, "环比": change(v, last), "去年同期": year,
                     "同比": change(v, year),
                     "与已通过数据比": "有变化" if now is not None and iid in now.index and bool(now.loc[iid, "changed"])
                     and cur is not None and not pd.isna(cur) else ""})
    return pd.DataFrame(rows)


def change(v, base) -> str:
    if v is None or base is None or pd.isna(v) or pd.isna(base) or base == 0:
        return "—"
    return f"{(v - base) / abs(base) * 100:+.1f}%"


def render(sc, form: forms.Form, period, shown: str, table: pd.DataFrame) -> None:
    counts = table["state"].value_counts()
    cols = st.columns(4)
    for col, (label, n) in zip(cols, (("待审核", counts.get(cycle.SUBMITTED, 0)), ("已通过", counts.get(cycle.APPROVED, 0)),
                                      ("已退回", counts.get(cycle.RETURNED, 0)),
                                      ("未上报", counts.get(cycle.NONE, 0) + counts.get(cycle.DRAFT, 0)))):
        col.metric(label, int(n))
    listed = table if shown == "all" else table[table["state"] == cycle.SUBMITTED]
    if listed.empty:
        st.success("没有待审核的上报。" if shown == "pending" else "没有应报的区划。", icon=":material/task_alt:")
        return
    st.dataframe(listed[["区划", "状态", "上报人", "上报时间", "原因"]], hide_index=True, width="stretch",
                 key="rev_list", placeholder="—", height=min(360, 35 * (len(listed) + 1) + 3))
    names = dict(zip(listed["code"], listed["区划"]))
    code = st.selectbox("审核的区划", list(names), key="rev_region", format_func=lambda c: f"{names[c]}（{c}）")
    key = cycle.Key(form.id, code, period)
    status = cycle.status(reporting.directory(), key)
    st.markdown(reporting.state_line(status, form))
    if status.values.empty:
        st.caption("该区划尚未上报本期数据。")
    else:
        cmp = comparison(form, key, status)
        st.dataframe(cmp, hide_index=True, width="stretch", key="rev_compare", placeholder="—",
                     column_config={c: st.column_config.NumberColumn(c, format="localized")
                                    for c in ("上报值", "已通过数据", "上期", "去年同期")})
    if status.state == cycle.SUBMITTED:
        actions(form, key)
    st.markdown("**上报记录**")
    reporting.show_history(status, "rev_history")


def actions(form: forms.Form, key: cycle.Key) -> None:
    directory = reporting.directory()
    label = key.label(form, data.tree())
    with st.container(border=True):
        c1, c2 = st.columns([1, 2])
        if c1.button("审核通过", type="primary", key="rev_approve", icon=":material/check_circle:"):
            reporting.step(lambda who, src: cycle.approve(directory, who, key, source=src),
                           f"已通过 {label}：数据已写入，生成新数据版本。")
        reason = c2.text_area("退回原因（必填，将告知填报人）", key="rev_reason", max_chars=cycle.REASON_LIMIT,
                              height=80, placeholder="例如：城市低保人数较上月减少过多，请核实后重报")
        if c2.button("退回", key="rev_return", icon=":material/undo:"):
            reporting.step(lambda who, src: cycle.send_back(directory, who, key, reason=reason, source=src),
                           f"已退回 {label}，原因：{reason.strip()}")


sc, T = frame.start()
if not session.can("review"):
    st.error("无权限：审核仅限审核员和管理员。", icon=":material/block:")
    st.stop()
reporting.said()
user = session.user()
picked = inputs(sc, user)
if picked:
    form, period, shown, codes = picked
    table = load(form, period, codes)
    render(sc, form, period, shown, table)
frame.footer(sc, [])
