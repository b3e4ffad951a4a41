"""目标's 专报 and 任务进展: the brief of the region and month on screen as Word or PDF, and the tasks' notes of
the month — read by everyone who browses, written by the task's region (minsheng/notes.py)."""

from __future__ import annotations

import shutil

import pandas as pd
import streamlit as st

from minsheng import brief, notes, store
from minsheng.selection import Selection
from minsheng.ui import data, exports, reporting, session
from minsheng.ui.text import T, md

NOTE_COLUMNS = {"department": "部门", "task": "任务", "progress": "进展情况", "owner": "责任人", "actor": "填写人",
                "at": "填写时间"}


@st.cache_data(max_entries=32, show_spinner=False)
def _month_notes(ver: str, region: str, year: int, month: int) -> pd.DataFrame:
    return notes.of_month(store.data_dir(), region, year, month)


def month_notes(sel: Selection) -> pd.DataFrame:
    """The notes in force for the region's tasks in the month on screen (of this run's data version)."""
    return _month_notes(data.version(), sel.region, sel.year, sel.as_of)


def _shown(df: pd.DataFrame) -> pd.DataFrame:
    out = df[list(NOTE_COLUMNS)].rename(columns={k: T(v) for k, v in NOTE_COLUMNS.items()})
    out[T("填写时间")] = [str(v or "")[:16].replace("T", " ") for v in df["at"]]
    return out


def brief_buttons(sel: Selection) -> None:
    """生成专报: the brief of the region and month as its reader would get it (approved data only, their area)."""
    if not exports.allowed():
        return
    who, source = reporting.actor(), session.source()
    stem = sel.with_(pending=False).file_stem(T("工作专报"))

    def make(pdf: bool):
        def build() -> bytes:
            return brief.build(store.data_dir(), who, sel.region, sel.year, sel.as_of, source=source, pdf=pdf)[1]
        return build

    row = st.container(horizontal=True)
    row.download_button(T("生成专报（Word）"), data=make(False), file_name=f"{stem}.docx", mime=brief.DOCX_MIME,
                        key="brief_docx", on_click="ignore", icon=":material/description:")
    if shutil.which("soffice") or shutil.which("libreoffice"):  # PDF needs LibreOffice on the server
        row.download_button(T("生成专报（PDF）"), data=make(True), file_name=f"{stem}.pdf", mime="application/pdf",
                            key="brief_pdf", on_click="ignore", icon=":material/picture_as_pdf:")
    st.caption(T("专报按{year}年{month}月的已审核数据和任务进展生成，只含您管辖范围内的区域；句式可在数据目录的 "
                 "settings/brief.toml 中修改。", year=sel.year, month=sel.as_of))


def render_month(sel: Selection) -> None:
    """The month's notes of every task shown, under the task table."""
    found = month_notes(sel)
    with st.expander(T("本月任务进展（{n} 条）", n=len(found)), expanded=False):
        if found.empty:
            st.caption(T("{month}月还没有填写任务进展。打开一项任务即可填写。", month=sel.as_of))
        else:
            st.dataframe(_shown(found), placeholder="—", hide_index=True, width="stretch", key="month_notes")


def render_task(sel: Selection, g: pd.Series) -> None:
    """One task's note of the month, its earlier notes, and the form to write it where the user may."""
    st.subheader(T("任务进展"))
    reporting.said()  # what the last save said, after the rerun it made
    history = notes.of_task(store.data_dir(), g["indicator_id"], sel.region, sel.year)
    this = history[history["period"] == pd.Timestamp(sel.year, sel.as_of, 1).date()]
    if this.empty:
        st.caption(T("{month}月还没有填写进展。", month=sel.as_of))
    else:
        n = this.iloc[0]
        st.markdown(md(n["progress"]) + (f"（{T('责任人')}：{md(n['owner'])}）" if n["owner"] else ""))
        st.caption(T("{who} 填写于 {at}", who=md(n["actor"]), at=md(str(n["at"])[:16].replace("T", " "))))
    if notes.may_write(reporting.actor(), sel.region, store.data_dir()):
        _form(sel, g, this.iloc[0] if len(this) else None)
    if len(history) > len(this.head(1)):
        with st.expander(T("历次进展（{n} 条）", n=len(history)), expanded=False):
            shown = _shown(history).assign(**{T("月份"): [f"{p.month}月" for p in history["period"]]})
            st.dataframe(shown, placeholder="—", hide_index=True, width="stretch", key="task_notes_history")


def _form(sel: Selection, g: pd.Series, current) -> None:
    with st.form("task_note", clear_on_submit=False, border=True):
        text = st.text_area(T("{month}月进展情况", month=sel.as_of), max_chars=notes.PROGRESS_LIMIT, key="note_text",
                            value="" if current is None else current["progress"])
        owner = st.text_input(T("责任人"), max_chars=notes.OWNER_LIMIT, key="note_owner",
                              value="" if current is None or not current["owner"] else current["owner"])
        sent = st.form_submit_button(T("保存进展"), icon=":material/save:")
    if sent:
        task = notes.Task(g["indicator_id"], sel.region, sel.year, sel.as_of)
        reporting.step(lambda who, src: notes.save(store.data_dir(), who, task, progress=text, owner=owner, source=src),
                       T("已保存{month}月进展。", month=sel.as_of))
