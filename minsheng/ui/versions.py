"""The 导入 page's 历史版本 and 回退: the versions within the admin's area and the rollback to one of them."""

import streamlit as st

from minsheng import changes
from minsheng.ui import outcome, session, text


def user_area() -> str | None:
    """The area imports and rollbacks are confined to (ingest/scope.py); None only in single-user mode."""
    return None if session.mode() == "single" else session.user().area  # an empty area refuses


def render_history() -> None:
    hist, within = changes.history(user_area=user_area()), changes.area(user_area())
    st.subheader("历史版本", help=None if within.city_wide else f"只列出更改全部在{text.md(within.name)}内的版本")
    st.dataframe(changes.history_table(hist), placeholder="—", hide_index=True, width="stretch")
    older = changes.rollback_targets(user_area=user_area())
    if not older or not session.can("rollback"):
        return
    c1, c2 = st.columns([3, 1])
    target = c1.selectbox("回退到", older, key="imp_rollback_to",
                          help="回退会生成一个新版本，内容与所选版本相同；回退本身也可以再撤销")
    sure = c1.checkbox("确认回退（当前数据不会删除，仍保留在历史中）", key="imp_rollback_sure")
    c2.button("回退", disabled=not sure, key="imp_rollback", on_click=roll_back, args=(target,))


def roll_back(target: str) -> None:
    """The 回退 button's callback: clears the confirm box (one more click would roll back again) and notes the
    request, which the page carries out after the sign-in gate (outcome.asked)."""
    st.session_state["imp_rollback_sure"] = False
    outcome.asked("rollback", target)


def pending_rollback() -> None:
    """The rollback 回退 asked for, if this run's user asked it and still may; then the page again, with the new
    data version (this run's was read before the rollback: data.begin_run)."""
    if (asked := outcome.pending("rollback", "rollback")) is not None:
        was = next((h["id"] for h in changes.history() if h.get("current")), None)
        outcome.attempt(lambda **who: changes.rollback(asked[0], user_area=user_area(), **who, **{"from": was}),
                        f"已回退到 {asked[0]} 的内容（新版本 {{version}}）。", "回退失败：{error}", later=True,
                        action="rollback")
        st.rerun()
