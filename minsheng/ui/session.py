"""Who is signed in to this Streamlit session: the user, their area and rights, and where they come from."""

# The sign-in screens that put a user here are in signin.py. Three modes, decided on every script run
# from configuration (so a user added with
# `python -m minsheng users add` takes effect at the next click, without a restart):
#   oidc      .streamlit/secrets.toml has an [auth] section: st.login(), claims mapped by auth.user_from_claims
#   password  the deployment has had a user (auth.sign_in_required): the sign-in page of minsheng/web.py
#             (auth.authenticate: lockout, audit) sets a session cookie; every run checks it (sessions.check)
#   single    neither: one local user acting as admin over every region, served only to requests that are
#             provably local (request_problem: loopback peer, loopback Host and Origin, no forwarding header)
# The User is re-read from the users file on every run, so a role, area or disabled flag changed by an admin
# applies at once. In password mode it is bound to the session cookie of the browser that ran the script:
# `user()` answers only while the cookie this run came with is the one the gate checked (BOUND), so a
# second client that names this Streamlit session's id (Streamlit resumes such a websocket) is nobody.

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

import streamlit as st

from minsheng import audit, auth, sessions, web

ALLOW_ENV = "MINSHENG_ALLOW_NO_LOGIN"
LOCAL_HOSTS_ENV = "MINSHENG_LOCAL_HOSTS"        # more host names a local browser may use (comma-separated)
TRUSTED_PROXIES_ENV = "MINSHENG_TRUSTED_PROXIES"  # proxies whose X-Forwarded-For is believed (addresses, networks)
OIDC_SECTION = "minsheng_oidc"   # secrets.toml: role/area/name claim names, roles map, provider
LOCAL = auth.User(name="本机用户", role=auth.Role.admin, area="")  # area "" = every region

NAME = "_ms_user_name"           # password mode: the name signed in with
USER = "_ms_user"                # the User of this run (set by signin.gate())
BOUND = "_ms_bound"              # digest of the session cookie USER was checked against
HARNESS = "_ms_harness_token"    # AppTest only (no browser connection, so no cookies): the session token
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
        bound = st.session_state.get(BOUND)
    except Exception:  # no session (a bare import, another thread)
        return None
    if not isinstance(u, auth.User):
        return None
    return u if u == LOCAL or bound == cookie_digest() else None


def recheck() -> auth.User | None:
    """The signed-in user checked again against the server now: for a change made from a widget callback,
    which Streamlit runs before the script (and so before the gate). None when the session has ended or the
    user is gone, disabled or changed since the last run."""
    u = user()
    if u is None or u == LOCAL or oidc_configured():
        return u
    live = sessions.check(token())
    fresh = auth.get_user(live.user) if live is not None and live.user == u.name else None
    return fresh if fresh is not None and not fresh.disabled else None


def token() -> str | None:
    """The session cookie's token this run came with (minsheng/sessions.py). AppTest has no browser and no
    cookies: there, and only there, the token is taken from session state (HARNESS)."""
    try:
        if web.SERVED.is_set() or headers():  # served through app.py, or a browser: only ever the cookie
            return st.context.cookies.get(sessions.COOKIE)
        value = st.session_state.get(HARNESS)
    except Exception:
        return None
    return value if isinstance(value, str) else None


def cookie_digest() -> str:
    """What BOUND must equal for this run's user to count: the digest of its session cookie ("" without one)."""
    t = token()
    return sessions.digest(t) if t else ""


def area() -> str | None:
    """The 12-digit area code whose subtree the user may see; None in single-user mode (everything).

    Raises NotSignedIn when nobody is signed in, so a query can never run unscoped by accident."""
    u = user()
    if u is None:
        raise NotSignedIn("未登录")
    if u == LOCAL:
        return None
    if not u.area:  # every user but the local one has an explicit area (auth._check); never fail open
        raise NotSignedIn("用户没有区域")
    return u.area


def can(action: str) -> bool:
    """Whether the signed-in user may `action` (browse, export, import, rollback, manage_users)."""
    u = user()
    return u is not None and u.can(action)


def is_local() -> bool:
    """Single-user mode: no sign-in configured."""
    return user() == LOCAL


def headers() -> dict[str, str]:
    """This session's request headers (those of the websocket's opening request), names in lower case,
    repeated ones joined with ", "; empty without a browser connection (a test harness)."""
    try:
        h = st.context.headers
        return {k.lower(): ", ".join(h.get_all(k)) for k in h}
    except Exception:
        return {}


def _reported_peer() -> str | None:
    # The TCP peer as Streamlit's server (uvicorn) reports it; None for 127.0.0.1 and ::1.
    try:
        ip = st.context.ip_address
    except Exception:
        return None
    return ip if isinstance(ip, str) and ip else None


def _addresses(spec: str) -> list:
    out = []
    for part in (x.strip() for x in spec.split(",")):
        try:
            out += [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1")] if part == "localhost" \
                else [ipaddress.ip_network(part, strict=False)]
        except ValueError:
            continue  # a bad entry trusts nothing
    return out


def _in(address: str, networks) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip("[] "))
    except ValueError:
        return False
    ip = getattr(ip, "ipv4_mapped", None) or ip
    return any(ip in n for n in networks)


def _host_of(entry: str) -> str:
    # "1.2.3.4:5555" and "[::1]:80" name a host and port in X-Forwarded-For; uvicorn drops the port
    if entry.startswith("[") and "]" in entry:
        return entry[1:entry.index("]")]
    return entry.split(":")[0] if entry.count(":") == 1 else entry


def _clean(value: str) -> str:
    return re.sub(r"[^0-9A-Za-z.:\[\], _-]", "?", value)[:120]


def source_of(reported: str | None, h: Mapping[str, str], trusted: str = "") -> str:
    """The audit log's source: the peer's address (`reported` by the server, None for loopback), and the
    client named in X-Forwarded-For only when the peer is one of the `trusted` proxies (addresses,
    networks or "localhost"; MINSHENG_TRUSTED_PROXIES). From any other peer a forwarding header is kept
    after the address, marked untrusted: it is whatever the client chose to send.

    Streamlit 1.67's server, uvicorn, already replaces the peer with the header's last address when the
    peer is one of its FORWARDED_ALLOW_IPS (127.0.0.1 and ::1 unless set): a reported address found in
    the header is taken for such a rewrite, so the peer was that loopback proxy."""
    fwd = [_host_of(x.strip()) for x in (h.get("x-forwarded-for") or "").split(",") if x.strip()]
    if reported and reported in fwd:  # uvicorn's rewrite
        peer, peer_ip = ("FORWARDED_ALLOW_IPS", "") if os.environ.get("FORWARDED_ALLOW_IPS") else ("localhost",
                                                                                                  "127.0.0.1")
    else:
        peer, peer_ip = reported or "localhost", reported or "127.0.0.1"
    nets = _addresses(trusted)
    if fwd and _in(peer_ip, nets):
        client = next((a for a in reversed(fwd) if not _in(a, nets)), fwd[0])
        return f"{_clean(client)} (via {peer})"
    name = next((n for n in ("x-forwarded-for", "x-real-ip", "forwarded") if h.get(n)), None)
    return f"{peer} (untrusted {name}: {_clean(h[name])})" if name else peer


def source() -> str:
    """Where this session's request comes from, for the audit log (source_of)."""
    return source_of(_reported_peer(), headers(), os.environ.get(TRUSTED_PROXIES_ENV, ""))


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
    return "password" if auth.sign_in_required() else "single"


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


# Headers a proxy, load balancer or CDN adds; any of them (even empty) means the request was forwarded.
FORWARDING = frozenset({"forwarded", "via", "x-real-ip", "true-client-ip", "x-client-ip", "x-cluster-client-ip",
                        "client-ip", "x-host", "x-proxyuser-ip", "cdn-loop", "akamai-origin-hop"})
FORWARDING_PREFIXES = ("x-forwarded-", "x-original-", "cf-", "fastly-", "x-envoy-", "x-amzn-", "x-azure-", "x-arr-",
                       "x-appengine-")


def forwarding_headers(h: Mapping[str, str]) -> list[str]:
    """The forwarding headers in `h` (names in lower case), sorted."""
    return sorted(k for k in (k.lower() for k in h) if k in FORWARDING or k.startswith(FORWARDING_PREFIXES))


def _local_names() -> set[str]:
    extra = os.environ.get(LOCAL_HOSTS_ENV, "")
    return {"localhost"} | {x.strip().lower().rstrip(".") for x in extra.split(",") if x.strip()}


def local_host(value: str | None) -> bool:
    """Whether a Host header (name or address, optional port) names this machine: localhost, a
    loopback address, or a name in MINSHENG_LOCAL_HOSTS. Anything else may be DNS rebinding: another
    name made to resolve to 127.0.0.1, so that a web page of that name can read this one."""
    if not value:
        return False
    host = value.strip().lower()
    if host.startswith("["):
        host = host[1:host.find("]")] if "]" in host else ""
    elif host.count(":") == 1:
        host = host.split(":")[0]
    host = host.rstrip(".")
    return host in _local_names() or (is_loopback(host) and host != "localhost")


def local_origin(value: str) -> bool:
    """Whether an Origin header is http(s) on a local host (local_host)."""
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and local_host(parts.netloc)


def request_problem(h: Mapping[str, str], reported_peer: str | None) -> tuple[str, dict] | None:
    """Why this request cannot be served without sign-in — a Chinese reason (a T() key) and its values —
    or None when it is local: the peer is loopback, Host and Origin name this machine, and no proxy
    forwarded it. No headers at all means no browser connection (a test harness runs the script)."""
    h = {k.lower(): v for k, v in h.items()}
    if not h:
        return None
    fwd = forwarding_headers(h)
    if fwd:
        return "请求经过了代理（带有转发请求头 {headers}），来自本机以外", \
            {"headers": "、".join(re.sub(r"[^a-z0-9-]", "", k) for k in fwd[:5])}
    if reported_peer and not is_loopback(reported_peer):
        return "请求来自其他计算机", {}
    if not local_host(h.get("host")):
        return "请求的主机名（Host）不是本机地址，可能来自另一个网站（DNS 重绑定）", {}
    if "origin" in h and not local_origin(h["origin"]):
        return "请求的来源网页（Origin）不在本机，可能来自另一个网站（DNS 重绑定）", {}
    return None


def exposure(address: str | None) -> tuple[str, dict] | None:
    """Why single-user mode must not serve this run — the server's address (("address", {})), then this
    request (request_problem) — or None."""
    if not is_loopback(address):
        return "address", {}
    return request_problem(headers(), _reported_peer())
