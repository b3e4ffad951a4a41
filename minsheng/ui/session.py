"""Who is signed in to this Streamlit session: the sign-in gate, role checks, audit source, account block."""

# Three modes, decided on every script run from configuration (so a user added with
# `python -m minsheng users add` takes effect at the next click, without a restart):
#   oidc      .streamlit/secrets.toml has an [auth] section: st.login(), claims mapped by auth.user_from_claims
#   password  the users file has a user: a sign-in form checked by auth.authenticate (lockout, audit)
#   single    neither: one local user acting as admin over every region, served on loopback only
# The signed-in name lives in session state; the User is re-read from the users file on every run,
# so a role, area or disabled flag changed by an admin applies at once.

from __future__ import annotations

import ipaddress
import os
import sys
import threading

import streamlit as st
from streamlit import config

from minsheng import audit, auth

ALLOW_ENV = "MINSHENG_ALLOW_NO_LOGIN"
OIDC_SECTION = "minsheng_oidc"   # secrets.toml: role/area/name claim names, roles map, provider
LOCAL = auth.User(name="本机用户", role=auth.Role.admin, area="")  # area "" = every region

_NAME = "_ms_user_name"          # password mode: the name signed in with
_USER = "_ms_user"               # the User of this run (set by gate())
_OIDC_SEEN = "_ms_oidc_audited"  # the OIDC identity whose sign-in was already audited
_warned = False
_warn_lock = threading.Lock()


class NotSignedIn(PermissionError):
    """Asked for the user's area or rights while nobody is signed in (fail closed)."""


# --- what the rest of the app calls ------------------------------------------------------------

def user() -> auth.User | None:
    """The signed-in user of this session; the local admin in single-user mode; None before sign-in.

    Only valid inside a script run after the router's gate(). Deferred download callables run on
    another thread without the session: capture what they need (actor(), area()) when drawing."""
    try:
        u = st.session_state.get(_USER)
    except Exception:  # no session (a bare import, another thread)
        return None
    return u if isinstance(u, auth.User) else None


def area() -> str | None:
    """The 12-digit area code whose subtree the user may see; None in single-user mode (everything).

    Raises NotSignedIn when nobody is signed in, so a query can never run unscoped by accident."""
    u = user()
    if u is None:
        raise NotSignedIn("未登录")
    return u.area or None


def can(action: str) -> bool:
    """Whether the signed-in user may `action` (browse, export, import, rollback, manage_users)."""
    u = user()
    return u is not None and u.can(action)


def is_local() -> bool:
    """Single-user mode: no sign-in configured."""
    u = user()
    return u is not None and u.name == LOCAL.name and not u.area


def _header(name: str) -> str | None:
    try:
        value = st.context.headers.get(name)
    except Exception:
        return None
    return value if isinstance(value, str) and value else None


def source() -> str:
    """Where the request comes from, for the audit log: the client's address, and the proxy's
    forwarding header when there is one (it can be forged, so it is recorded, never trusted)."""
    try:
        ip = st.context.ip_address
    except Exception:
        ip = None
    out = ip if isinstance(ip, str) and ip else "localhost"  # Streamlit reports loopback clients as None
    fwd = _header("X-Forwarded-For") or _header("X-Real-Ip")
    return f"{out} (X-Forwarded-For: {fwd[:120]})" if fwd else out


def actor() -> tuple[str | None, str]:
    """(user name, source) now, for an audit record written later (e.g. in a download callable)."""
    u = user()
    return (u.name if u else None), source()


def record(action: str, detail: dict | None = None) -> None:
    """Audit `action` by the signed-in user from this session's address."""
    name, src = actor()
    audit.record(action, name, detail, src)


# --- configuration --------------------------------------------------------------------------------

def _secrets_section(name: str) -> dict:
    try:
        sec = st.secrets.get(name)
    except Exception:  # no secrets.toml at all
        return {}
    return dict(sec) if sec else {}


def oidc_configured() -> bool:
    return bool(_secrets_section("auth"))


def oidc_mapping() -> dict:
    """[minsheng_oidc] in secrets.toml: which claims carry role, area and name, and a roles map."""
    m = _secrets_section(OIDC_SECTION)
    if "roles" in m:
        m["roles"] = dict(m["roles"])
    return m


def mode() -> str:
    """'oidc', 'password' or 'single' (raises auth.AuthError for a broken users file)."""
    if oidc_configured():
        return "oidc"
    return "password" if auth.users_exist() else "single"


def is_loopback(address: str | None) -> bool:
    """Whether the server listens on loopback only; no address means every interface."""
    if not address:
        return False
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[] ")).is_loopback
    except ValueError:
        return False


def no_login_allowed() -> bool:
    return os.environ.get(ALLOW_ENV, "").strip().lower() in ("1", "true", "yes")


def _proxied() -> bool:
    # A reverse proxy on the same machine makes a loopback server reachable from the network.
    return any(_header(h) for h in ("X-Forwarded-For", "Forwarded", "X-Real-Ip"))


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
    from minsheng.ui.frame import T

    st.session_state.pop(_USER, None)  # set again below only for someone signed in: fail closed
    try:
        how = mode()
    except (auth.AuthError, OSError) as e:  # broken or unreadable users file: nobody gets in
        st.error(T("无法读取用户文件，看板已停止：{error}", error=e), icon=":material/lock:")
        st.stop()
    if how == "single":
        return _single(T)
    return _oidc(T) if how == "oidc" else _password(T)


def _single(T) -> auth.User:  # noqa: N803
    address = config.get_option("server.address")
    exposed = not is_loopback(address) or _proxied()
    if exposed and not no_login_allowed():
        st.error(T("未启用登录的看板只能在本机地址（127.0.0.1）上提供服务，当前地址为 {address}。"
                   "请添加用户以启用登录（python -m minsheng users add 用户名 --role admin --area 区划代码），"
                   "或改回 127.0.0.1；确需无登录对外提供服务时，设置环境变量 {env}=1。",
                   address=address or T("所有网络接口"), env=ALLOW_ENV), icon=":material/gpp_bad:")
        st.stop()
    st.session_state[_USER] = LOCAL
    if exposed:
        _warn_once(address)
        st.error(T("警告：未启用登录，且看板对网络开放（{env}=1）。任何人都可查看全部数据、导入和回滚。",
                   env=ALLOW_ENV), icon=":material/warning:")
    elif not _presenting():
        st.warning(T("未启用登录：本机单用户模式，仅本机可访问，拥有全部权限。添加第一个用户后看板需要登录。"),
                   icon=":material/lock_open:")
    return LOCAL


def _presenting() -> bool:
    from minsheng.ui import state

    return bool(state.get("present", st.query_params.get("present") == "1"))


def _password(T) -> auth.User | None:  # noqa: N803
    name = st.session_state.get(_NAME)
    if name:
        u = auth.get_user(name)
        if u is not None and not u.disabled:
            st.session_state[_USER] = u
            return u
        # removed or disabled by an admin since signing in: out at once
        st.session_state.pop(_NAME, None)
        audit.record("sign-out", name, {"method": "password", "reason": "disabled"}, source())
        st.error(T("账户已停用，请联系管理员。"))
    _sign_in_form(T)
    return None


def _sign_in_form(T) -> None:  # noqa: N803
    st.title(T("民生指标看板"))
    with st.form("ms_signin", clear_on_submit=True, width=420):
        st.markdown(f"**{T('登录')}**")
        name = st.text_input(T("用户名"), key="ms_signin_name", autocomplete="username")
        password = st.text_input(T("密码"), type="password", key="ms_signin_password",
                                 autocomplete="current-password")
        submitted = st.form_submit_button(T("登录"), type="primary", icon=":material/login:")
    if not submitted:
        return
    if not (name or "").strip() or not password:
        st.error(T("请输入用户名和密码"))
        return
    try:
        u = auth.authenticate(name.strip(), password, source=source())  # audits success and failure
    except auth.AuthError as e:
        st.error(str(e))
        return
    st.session_state[_NAME] = u.name
    st.session_state[_USER] = u
    st.rerun()


def _claims() -> dict:
    try:
        return st.user.to_dict()
    except Exception:
        return {}


def _oidc(T) -> auth.User | None:  # noqa: N803
    claims = _claims()
    mapping = oidc_mapping()
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
        st.error(str(e))
        st.stop()
    if u is None:
        if st.session_state.get(_OIDC_SEEN) != ("denied", identity):
            st.session_state[_OIDC_SEEN] = ("denied", identity)
            audit.record("sign-in-failed", str(claims.get("email") or identity)[:64],
                         {"method": "oidc", "reason": "not-authorised"}, source())
        st.error(T("你的账号（{who}）未获授权使用本看板，请联系管理员开通。", who=claims.get("email") or identity))
        if st.button(T("退出登录"), key="ms_oidc_denied_logout"):
            st.logout()
        st.stop()
    if st.session_state.get(_OIDC_SEEN) != ("ok", identity):
        st.session_state[_OIDC_SEEN] = ("ok", identity)
        audit.record("sign-in", u.name, {"method": "oidc", "role": u.role.name, "area": u.area}, source())
    st.session_state[_USER] = u
    return u


# --- the account block in the sidebar -------------------------------------------------------------

def _area_name(code: str) -> str:
    try:
        from minsheng.ui import data

        regions = data.regions()
        hit = regions.loc[regions["code"] == code, "name"]
        return f"{hit.iloc[0]}（{code}）" if len(hit) else code
    except Exception:
        return code


def sign_out() -> None:
    """Forget the signed-in user (audited); OIDC also clears Streamlit's identity cookie."""
    u = user()
    oidc = oidc_configured()
    if u is not None:
        audit.record("sign-out", u.name, {"method": "oidc" if oidc else "password"}, source())
    for key in (_NAME, _USER, _OIDC_SEEN):
        st.session_state.pop(key, None)
    if oidc:
        st.logout()
    else:
        st.rerun()


def sidebar_account() -> None:
    """The signed-in user's name, role and area, and 退出登录 (the router draws it after the filters)."""
    from minsheng.ui.frame import T

    u = user()
    if u is None:
        return
    with st.sidebar:
        st.divider()
        if is_local():
            st.caption(f":orange-badge[{T('未启用登录')}] {T('本机单用户模式，拥有全部权限')}")
            return
        role = T(auth.ROLE_ZH[u.role])
        st.caption(T("当前用户：**{name}** · {role} · {area}", name=u.name, role=role, area=_area_name(u.area)))
        if st.button(T("退出登录"), key="ms_signout", icon=":material/logout:"):
            sign_out()
