"""Who is signed in to this Streamlit session: the user, their area and rights, and where they come from."""

# The sign-in screens that put a user here are in signin.py. Three modes, decided on every script run
# from configuration (so a user added with
# `python -m minsheng users add` takes effect at the next click, without a restart):
#   oidc      .streamlit/secrets.toml has an [auth] section: st.login(), claims mapped by auth.user_from_claims
#   password  the users file has a user: a sign-in form checked by auth.authenticate (lockout, audit)
#   single    neither: one local user acting as admin over every region, served on loopback only
# The signed-in name lives in session state; the User is re-read from the users file on every run,
# so a role, area or disabled flag changed by an admin applies at once.

from __future__ import annotations

import ipaddress
import os

import streamlit as st

from minsheng import audit, auth

ALLOW_ENV = "MINSHENG_ALLOW_NO_LOGIN"
OIDC_SECTION = "minsheng_oidc"   # secrets.toml: role/area/name claim names, roles map, provider
LOCAL = auth.User(name="本机用户", role=auth.Role.admin, area="")  # area "" = every region

NAME = "_ms_user_name"           # password mode: the name signed in with
USER = "_ms_user"                # the User of this run (set by signin.gate())
OIDC_SEEN = "_ms_oidc_audited"   # the OIDC identity whose sign-in was already audited


class NotSignedIn(PermissionError):
    """Asked for the user's area or rights while nobody is signed in (fail closed)."""


# --- what the rest of the app calls ------------------------------------------------------------

def user() -> auth.User | None:
    """The signed-in user of this session; the local admin in single-user mode; None before sign-in.

    Only valid inside a script run after the router's gate(). Deferred download callables run on
    another thread without the session: capture what they need (actor(), area()) when drawing."""
    try:
        u = st.session_state.get(USER)
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


def proxied() -> bool:
    # A reverse proxy on the same machine makes a loopback server reachable from the network.
    return any(_header(h) for h in ("X-Forwarded-For", "Forwarded", "X-Real-Ip"))
