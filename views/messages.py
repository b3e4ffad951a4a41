"""消息中心: the 预警 standing now in the sidebar's region (the rules run on the data shown), and the signed-in
account's messages — alerts and briefs the schedule told it of — read or unread (minsheng/notify.py)."""

import pandas as pd
import streamlit as st

from minsheng import alerts
from minsheng.ui import frame, inbox, session

SHOW = {"unread": "未读", "all": "全部"}
LEVELS = {"all": "全部级别", **{lv: lv for lv in alerts.LEVELS}}


def inputs():
    c1, c2 = frame.controls().columns([2, 3])
    level = c1.radio(T("预警级别"), list(LEVELS), format_func=lambda k: T(LEVELS[k]), key="msg_level", horizontal=True)
    show = c2.radio(T("消息"), list(SHOW), format_func=lambda k: T(SHOW[k]), key="msg_show", horizontal=True)
    return level, show


def load(sc, level: str, show: str) -> tuple[pd.DataFrame, list]:
    found = inbox.standing(sc.region)
    if level != "all":
        found = found[found["level"] == level]
    return found, inbox.messages(show == "unread")


def render(sc, found: pd.DataFrame, messages: list) -> None:
    st.subheader(T("当前预警"))
    inbox.render_standing(sc, found)
    st.subheader(T("我的消息"))
    inbox.render_messages(messages)
    if session.can("manage_users"):
        inbox.render_delivery()


sc, T = frame.start()
level, show = inputs()
found, messages = load(sc, level, show)
render(sc, found, messages)
frame.footer(sc, [])
