"""用户管理: the users within the admin's area — add (a one-time password shown once), role, area, disable, enable,
password reset, removal, sessions — and the audit log (admins only; every change audited with who made it)."""

from collections import Counter

import streamlit as st

from minsheng import audit, auth, sessions
from minsheng.ui import accounts, data, frame, grids, session, text

SAID = "_usr_said"      # what the last change did, for the draw after its rerun
SECRET = "_usr_once"    # (name, one-time password) until that draw shows it; popped there, so shown once
PICKED = "_usr_picked"  # the user the per-user widgets were drawn for
PER_USER = ("usr_role", "usr_area", "usr_rm_sure", "usr_session")


def inputs(tabs, people: list, lines: list) -> dict:
    """The user to manage (none in single-user mode: no tab for it) and the audit log's filters."""
    label = {u.name: f"{u.name}（{T(auth.ROLE_ZH[u.role])} · {tree.label(u.area)}）" for u in people}
    with tabs[1] or st.empty():
        name = st.selectbox(T("选择用户"), list(label), format_func=label.get, key="usr_pick") if people else None
        if st.session_state.get(PICKED) != name:  # another user: their own values, not the last one's choices
            for k in PER_USER:
                st.session_state.pop(k, None)
            st.session_state[PICKED] = name
    with tabs[2]:
        c1, c2 = st.columns(2)
        names = sorted({*label, me.name, *(e.get("user") for e in lines if isinstance(e.get("user"), str)),
                        *filter(None, map(accounts.target, lines))})
        who = c1.selectbox(T("用户"), [None, *names], format_func=lambda n: T("全部用户") if n is None else n,
                           key="usr_log_user", help=T("做了操作的用户，或被操作的用户"))
        what = c2.selectbox(T("事件"), [None, *audit.ACTIONS], key="usr_log_action",
                            format_func=lambda a: T("全部事件") if a is None else T(accounts.ACTION_ZH[a]),
                            help=T("“全部事件”不列出已有结果记录的操作意图"))
    return dict(user=next((u for u in people if u.name == name), None), log_user=who, log_action=what)


def load(f: dict, lines: list) -> dict:
    live = sessions.sessions()
    rows = accounts.pick(lines, f["log_user"], f["log_action"])
    return dict(counts=Counter(s.user for s in live), log=rows, answered=accounts.answered(lines),
                live=[s for s in live if f["user"] and s.user == f["user"].name])


def act(change, done: str, secret: tuple | None = None) -> None:
    """Make a change as the signed-in admin (named in its audit line); then rerun, so every table shows it, and
    say what was done there; an error is said here and nothing changed."""
    try:
        change(by=me.name, source=session.source())
    except (auth.AuthError, audit.AuditError) as e:
        st.error(text.md(e), icon=":material/error:")
        return
    except OSError as e:
        st.error(T("无法写入用户文件或审计日志：{error}", error=text.md(e.strerror or e)), icon=":material/error:")
        return
    st.session_state[SAID] = done
    if secret:
        st.session_state[SECRET] = secret
    st.rerun()


def said() -> None:
    done, secret = st.session_state.pop(SAID, None), st.session_state.pop(SECRET, None)
    if done:
        st.success(done, icon=":material/check_circle:")
    if secret:
        st.warning(T("{name} 的一次性密码如下，只显示这一次：请交给本人，首次登录时须改为自己的密码。", name=text.md(secret[0])),
                   icon=":material/key:")
        st.code(secret[1], language=None)


def add_form() -> None:
    with st.form("usr_add", clear_on_submit=True, border=True):
        c1, c2 = st.columns(2)
        name = c1.text_input(T("用户名"), key="usr_new_name", max_chars=64, help=T("1–64 个字母、数字、汉字或 . _ @ -"))
        email = c2.text_input(T("邮箱（可选）"), key="usr_new_email", help=T("统一身份认证登录时用于匹配本账户"))
        role = c1.selectbox(T("角色"), list(auth.Role.__members__), key="usr_new_role", format_func=role_zh)
        area = c2.selectbox(T("区域"), areas, key="usr_new_area", format_func=area_zh)
        go = st.form_submit_button(T("添加用户"), key="usr_add_go", type="primary", icon=":material/person_add:")
    if go:
        pw = auth.one_time_password()
        act(lambda **who: auth.add_user(name.strip(), role, inside(area), pw, email=email.strip() or None,
                                        one_time=True, **who),
            T("已添加用户 {name}。", name=text.md(name.strip())), (name.strip(), pw))


def inside(area: str) -> str:
    """The area, if it lies within the admin's: the one check every assignment passes, whatever the widget sent."""
    if area not in tree:
        raise auth.AuthError(T("无权限：区域 {code} 不在你管理的范围内", code=area))
    return area


def manage(u: auth.User, live: list) -> None:
    mine = u.name == me.name
    st.markdown(f"**{text.md(u.name)}** · {T(auth.ROLE_ZH[u.role])} · {text.md(accounts.area_label(u.area, tree))}"
                f" · {accounts.status(u, auth.clock())}")
    if mine:
        st.info(T("这是你自己的账户：不能停用、删除自己，不能降低自己的角色、改动自己的区域或重置自己的密码——"
                  "否则你会当场失去管理权限，甚至无人能管理这些用户。如需更改，请另一位管理员操作。"), icon=":material/info:")
    c1, c2 = st.columns(2)
    role = c1.selectbox(T("角色"), list(auth.Role.__members__), index=u.role - 1, key="usr_role", format_func=role_zh,
                        disabled=mine)
    if c1.button(T("保存角色"), key="usr_role_save", disabled=mine or role == u.role.name):
        act(lambda **who: auth.set_role(u.name, role, **who), T("{name} 的角色已改为{role}，其登录已结束。",
                                                                name=text.md(u.name), role=role_zh(role)))
    area = c2.selectbox(T("区域"), areas, index=areas.index(u.area) if u.area in areas else 0, key="usr_area",
                        format_func=area_zh, disabled=mine)
    if c2.button(T("保存区域"), key="usr_area_save", disabled=mine or area == u.area):
        act(lambda **who: auth.set_area(u.name, inside(area), **who), T("{name} 的区域已改为{area}，其登录已结束。",
            name=text.md(u.name), area=text.md(accounts.area_label(area, tree))))
    c1, c2, c3 = st.columns(3)
    if u.disabled and c1.button(T("启用"), key="usr_enable", icon=":material/lock_open:"):
        act(lambda **who: auth.enable(u.name, **who), T("已启用 {name}。", name=text.md(u.name)))
    if not u.disabled and c1.button(T("停用"), key="usr_disable", icon=":material/block:", disabled=mine):
        act(lambda **who: auth.disable(u.name, **who), T("已停用 {name}，其登录已结束。", name=text.md(u.name)))
    if c2.button(T("重置密码"), key="usr_reset", icon=":material/key:", disabled=mine,
                 help=T("生成一次性密码（只显示一次），本人首次登录时须改为自己的密码；其登录全部结束")):
        pw = auth.one_time_password()
        act(lambda **who: auth.set_password(u.name, pw, one_time=True, **who),
            T("已重置 {name} 的密码，其登录已结束。", name=text.md(u.name)), (u.name, pw))
    sure = c3.checkbox(T("确认删除（审计日志中的记录保留）"), key="usr_rm_sure", disabled=mine)
    if c3.button(T("删除用户"), key="usr_remove", icon=":material/person_remove:", disabled=mine or not sure):
        act(lambda **who: auth.remove_user(u.name, **who), T("已删除用户 {name}。", name=text.md(u.name)))
    st.subheader(T("进行中的登录"))
    if not live:
        st.caption(T("没有进行中的登录。"))
        return
    st.dataframe(accounts.sessions_table(live), placeholder="—", hide_index=True, width="stretch")
    c1, c2, c3 = st.columns([2, 1, 1])
    short = c1.selectbox(T("登录编号"), [s.short for s in live], key="usr_session")
    if c2.button(T("结束此登录"), key="usr_revoke_one"):
        act(lambda **who: auth.end_sessions(u.name, short=short, **who), T("已结束登录 {short}。", short=short))
    if c3.button(T("结束全部登录"), key="usr_revoke_all"):
        act(lambda **who: auth.end_sessions(u.name, **who), T("已结束 {name} 的全部登录。", name=text.md(u.name)))


def render(tabs, f: dict, d: dict, people: list) -> None:
    if tabs[0] is not None:
        with tabs[0]:
            st.dataframe(accounts.users_table(people, tree, d["counts"]), placeholder="—", hide_index=True, width="stretch")
            st.subheader(T("添加用户"))
            add_form()
        with tabs[1]:
            manage(f["user"], d["live"])
    with tabs[2]:
        st.caption(T("共 {n} 条记录，按时间倒序显示最新的 {shown} 条。", n=len(d["log"]), shown=min(len(d["log"]), accounts.LOG_ROWS))
                   + (T("（只查了审计日志最近的 {k} 条；更早的见 audit.log 文件）", k=accounts.LOG_READ) if cut else ""))
        grids.show(accounts.log_table(d["log"], tree, d["answered"]), T("没有符合条件的记录。"))


sc, T = frame.start(period=text.T("用户、登录与审计日志"))
if not session.can("manage_users"):
    st.error(T("无权限：用户管理仅限管理员。"), icon=":material/block:")
    st.stop()
local, me, tree = session.is_local(), session.user(), data.tree()
if local:  # a user added here would sign the local admin out: the first one comes from the command line
    st.info(T("本机单用户模式没有用户，也无需登录。用命令行添加第一位管理员（python -m minsheng users add 用户名 "
              "--role admin --area 区划代码）后，看板即要求登录，此页可管理其区域内的用户。"), icon=":material/info:")
areas = [c for c in tree.order if tree.levels[c] != "village" or c == me.area]
role_zh, area_zh = (lambda r: T(auth.ROLE_ZH[auth.Role[r]])), (lambda c: f"{tree.indented(c)}（{c}）")
people = [] if local else accounts.in_scope(auth.list_users(), tree)
raw = audit.read(accounts.LOG_READ)  # the log's tail; `cut`: older lines were left unread
cut, lines = len(raw) >= accounts.LOG_READ, accounts.visible(raw, {u.name for u in people} | {me.name}, local or data.top_areas() == {me.area})
said()
tabs = (None, None, st.container()) if local else st.tabs([T("用户"), T("管理用户"), T("审计日志")], key="usr_tabs")
f = inputs(tabs, people, lines)
d = load(f, lines)
render(tabs, f, d, people)
frame.footer(sc, [])
