"""The sign-in screens: the gate the router runs first, the forms, and the account block in the sidebar.

Who is signed in afterwards is `session`'s to say; this module only puts them there (or not).
"""

from __future__ import annotations

import sys
import threading
from urllib.parse import urlencode, urlsplit

import streamlit as st
from streamlit import config
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from minsheng import audit, auth, sessions, web
from minsheng.ui import data, session, state, text
from minsheng.ui.session import ALLOW_ENV, BOUND, LOCAL, NAME, OIDC_SEEN, USER

_warned = False
_warn_lock = threading.Lock()


def _warn_once(address: str | None) -> None:
    global _warned
    with _warn_lock:
        if _warned:
            return
        _warned = True
    print(f"警告：看板未启用登录，却在 {address or '所有网络接口'} 上提供服务（已设置 {ALLOW_ENV}=1）。"
          f"任何能访问该地址的人都拥有管理员权限：可导入、回滚数据。请添加用户：python -m minsheng users add …",
          file=sys.stderr, flush=True)


# --- the gate -------------------------------------------------------------------------------------

def gate() -> auth.User | None:
    """Run by the router after the page config: decide who this is.

    Returns the user, or None while a sign-in form is shown (the router then stops). Refuses to run
    (st.stop) when the users file is unreadable, or in single-user mode on a non-loopback address
    without MINSHENG_ALLOW_NO_LOGIN=1."""
    T = text.translator(text.lang())  # noqa: N806

    st.session_state.pop(USER, None)  # set again below only for someone signed in: fail closed
    st.session_state.pop(BOUND, None)
    if session.headers() and not web.SERVED.is_set():  # a browser, but not through app.py: no sign-in routes, no headers
        st.error(T("看板须通过 app.py 启动（make run，或 python -m streamlit run app.py）：直接运行 dashboard.py "
                   "没有登录页面和安全响应头，已停止。"), icon=":material/gpp_bad:")
        st.stop()
    try:
        how = session.mode()
    except (auth.AuthError, OSError) as e:  # broken, unsafe or unreadable users file: nobody gets in
        error = e.strerror or type(e).__name__ if isinstance(e, OSError) else e  # no server path on the page
        st.error(T("无法读取用户文件，看板已停止：{error}", error=text.md(error)), icon=":material/lock:")
        st.stop()
    if how == "single":
        return _single(T)
    return _oidc(T) if how == "oidc" else _password(T)


def _single(T) -> auth.User:  # noqa: N803
    address = config.get_option("server.address")
    problem = session.exposure(address)
    if problem and not session.no_login_allowed():
        if problem[0] == "address":
            st.error(T("未启用登录的看板只能在本机地址（127.0.0.1）上提供服务，当前地址为 {address}。"
                       "请添加用户以启用登录（python -m minsheng users add 用户名 --role admin --area 区划代码），"
                       "或改回 127.0.0.1；确需无登录对外提供服务时，设置环境变量 {env}=1。",
                       address=address or T("所有网络接口"), env=ALLOW_ENV), icon=":material/gpp_bad:")
        else:
            st.error(T("未启用登录的看板只为在本机直接打开它的浏览器提供服务，这个请求不是：{reason}。"
                       "请添加用户以启用登录（python -m minsheng users add 用户名 --role admin --area 区划代码）；"
                       "确需无登录对外提供服务时，设置环境变量 {env}=1。",
                       reason=T(problem[0], **problem[1]), env=ALLOW_ENV), icon=":material/gpp_bad:")
        st.stop()
    st.session_state[USER] = LOCAL
    if problem:
        _warn_once(address)
        st.error(T("警告：未启用登录，且看板对网络开放（{env}=1）。任何人都可查看全部数据、导入和回滚。",
                   env=ALLOW_ENV), icon=":material/warning:")
    elif not _presenting():
        st.warning(T("未启用登录：本机单用户模式，仅本机可访问，拥有全部权限。添加第一个用户后看板需要登录。"),
                   icon=":material/lock_open:")
    return LOCAL


def _presenting() -> bool:
    return bool(state.get("present", st.query_params.get("present") == "1"))


def _password(T) -> auth.User | None:  # noqa: N803
    # The session cookie set by the sign-in page (minsheng/web.py), checked on every run: signed out in another
    # tab, expired, revoked, or the user disabled or changed — and this run goes to the sign-in page.
    token = session.token()
    live, lost = sessions.checked(token) if token else (None, "none")
    u = auth.get_user(live.user) if live else None
    if u is None:
        had = st.session_state.pop(NAME, None)
        # what this tab can tell: its session timed out, the user was changed, or it is gone (signed out in
        # another tab — that tab wrote the sign-out line — or revoked, which `users`/用户管理 wrote)
        why = "expired" if lost == "expired" else "revoked" if had or lost == "changed" else "expired" if token else None
        if had and lost in ("expired", "changed"):
            audit.record("sign-out", had, {"method": "password", "reason": lost}, session.source())
        _to_sign_in(T, why)
        return None
    digest = sessions.digest(token)
    st.session_state[NAME] = u.name
    st.session_state[USER] = u
    st.session_state[BOUND] = digest
    ctx = get_script_run_ctx()
    if ctx is not None:
        web.bound[ctx.session_id] = digest  # the websocket that may resume this Streamlit session (web.Guard)
    return u


def here() -> str:
    """This page's path and query, for coming back after signing in."""
    try:
        url = st.context.url
    except Exception:
        url = None
    path = urlsplit(url).path if url else f"{web.base_path()}/"
    q = urlencode([(k, v) for k in st.query_params for v in st.query_params.get_all(k)])
    return path + (f"?{q}" if q else "")


def redirect(url: str) -> None:
    """Send the browser to `url` (a path of this server): the message st.login and st.logout send."""
    ctx = get_script_run_ctx()
    if ctx is not None:
        msg = ForwardMsg()
        msg.auth_redirect.url = url
        ctx.enqueue(msg)


def _to_sign_in(T, why: str | None) -> None:  # noqa: N803
    """The run of a browser that is not (or no longer) signed in: off to the sign-in page, which brings it back
    here; a link too, for a browser that does not follow."""
    target = web.signin_url(web.safe_next(here()), why)
    st.title(T("民生指标看板"))
    if why:
        st.info(T(web.REASONS[why]), icon=":material/lock:")
    st.link_button(T("登录"), target, type="primary", icon=":material/login:")
    redirect(target)


def _claims() -> dict:
    try:
        return st.user.to_dict()
    except Exception:
        return {}


def _oidc(T) -> auth.User | None:  # noqa: N803
    claims = _claims()
    mapping = session.oidc_mapping()
    if not claims.get("is_logged_in"):
        st.title(T("民生指标看板"))
        provider = mapping.get("provider")
        if st.button(T("使用统一身份认证登录"), type="primary", icon=":material/login:", key="ms_oidc_login"):
            st.login(provider) if provider else st.login()
        return None
    identity = str(claims.get("sub") or claims.get("email") or "")
    try:
        u = auth.user_from_claims(claims, mapping)
    except auth.AuthError as e:  # the users file used for matching is broken: refuse
        st.error(text.md(e))
        st.stop()
    if u is None:
        if st.session_state.get(OIDC_SEEN) != ("denied", identity):
            st.session_state[OIDC_SEEN] = ("denied", identity)
            audit.record("sign-in-failed", str(claims.get("email") or identity)[:64],
                         {"method": "oidc", "reason": "not-authorised"}, session.source())
        st.error(T("你的账号（{who}）未获授权使用本看板，请联系管理员开通。", who=text.md(claims.get("email") or identity)))
        if st.button(T("退出登录"), key="ms_oidc_denied_logout"):
            st.logout()
        st.stop()
    if st.session_state.get(OIDC_SEEN) != ("ok", identity):
        st.session_state[OIDC_SEEN] = ("ok", identity)
        audit.record("sign-in", u.name, {"method": "oidc", "role": u.role.name, "area": u.area}, session.source())
    st.session_state[USER] = u
    st.session_state[BOUND] = session.cookie_digest()
    return u


# --- the account block in the sidebar -------------------------------------------------------------

def _area_name(code: str) -> str:
    tree = data.tree()
    return f"{tree.label(code)}（{code}）" if code in tree else code


def sign_out() -> None:
    """End this browser's session (audited) and go to the sign-in page; OIDC also clears Streamlit's identity cookie."""
    u = session.user()
    oidc = session.oidc_configured()
    if oidc and u is not None:
        audit.record("sign-out", u.name, {"method": "oidc"}, session.source())
    elif u is not None:
        web.end_session(session.token(), session.source())
    for key in (NAME, USER, BOUND, OIDC_SEEN):
        st.session_state.pop(key, None)
    if oidc:
        st.logout()
    else:
        redirect(web.signin_url(f"{web.base_path()}/", "signed-out"))
        st.stop()


def sidebar_account() -> None:
    """The signed-in user's name, role and area, and 退出登录 (the router draws it after the filters)."""
    T = text.translator(text.lang())  # noqa: N806

    u = session.user()
    if u is None:
        return
    with st.sidebar:
        st.divider()
        if session.is_local():
            st.caption(f":orange-badge[{T('未启用登录')}] {T('本机单用户模式，拥有全部权限')}")
            return
        role = T(auth.ROLE_ZH[u.role])
        st.caption(T("当前用户：**{name}** · {role} · {area}", name=text.md(u.name), role=role,
                     area=text.md(_area_name(u.area))))
        if st.button(T("退出登录"), key="ms_signout", icon=":material/logout:"):
            sign_out()
