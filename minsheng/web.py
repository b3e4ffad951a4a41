"""The HTTP side of the app (app.py serves dashboard.py through st.App with these routes and this middleware).

Routes, all plain HTML forms that work without script:
  GET  /signin            the sign-in form (a live session goes straight on to `next`)
  POST /signin            check name and password (auth.authenticate: lockout, audit), rate limited per
                          client address; on success a session cookie and a redirect to `next`
  GET/POST /signin/password  a one-time password was right: set your own before the app opens
  GET/POST /signout       end the session and clear the cookie (GET only asks, unless the session is over)

`Guard`, the middleware, in front of everything Streamlit serves:
  - headers on every response: a Content-Security-Policy of the app's own origin only, frame-ancestors
    from MINSHENG_FRAME_ANCESTORS (none by default), Referrer-Policy no-referrer, nosniff, and
    Cache-Control no-store on media, exports and the sign-in pages;
  - on a page's HTML, a Link header that preloads the Streamlit chunks the page draws with and prefetches
    the other pages' (page_links; README "Performance");
  - with sign-in by password: every page, media file, upload and websocket needs a live session cookie
    (minsheng/sessions.py). A page opened without one goes to /signin and comes back after; a websocket
    without one, or opened by a page of another origin (any mode), is closed before Streamlit sees it;
    a websocket asking to resume another signed-in
    session's Streamlit session starts a fresh one instead (Streamlit resumes any session whose id a
    client names); a download is refused to a role without export rights, and a download link works for
    MEDIA_TTL seconds after that browser's last click on an export (a file Streamlit serves is named by its
    content, so "after its first use" would refuse everyone a file built anew);
  - Streamlit's agent API (/_stcore/agent/…) is never served.
The script checks the same cookie again on every run (minsheng/ui/signin.py): the middleware is the wall,
the per-run check is what binds the identity to the browser that holds the cookie.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import ipaddress
import os
import re
import secrets
import threading
import time
from collections import OrderedDict, deque
from contextlib import asynccontextmanager
from http import cookies as http_cookies
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from minsheng import audit, auth, sessions
from minsheng.i18n import t

FRAME_ANCESTORS_ENV = "MINSHENG_FRAME_ANCESTORS"   # origins allowed to embed the app (space-separated)
SECURE_ENV = "MINSHENG_COOKIE_SECURE"               # 1: Secure cookies even when the request looks like http
CSRF_COOKIE = "ms_csrf"
MEDIA_TTL = 300             # seconds a download link works after the session's last export click
SIGNIN_PER_ADDRESS = 20     # sign-in posts per client address …
SIGNIN_WINDOW = 300         # … in this many seconds
TRACKED_ADDRESSES = 10_000
MAX_FORM = 8 * 1024         # bytes a sign-in form may have
REASONS = {  # why= on /signin: the only texts a link can make the sign-in page say
    "expired": "登录已过期，请重新登录。", "signed-out": "已退出登录。", "revoked": "登录已结束（已在其他窗口退出，或账户、权限已变更），请重新登录。",
    "changed": "密码已更新，请用新密码登录。",
}

SERVED = threading.Event()  # set while app.py serves: dashboard.py refuses a browser it did not route


# --- small pieces ----------------------------------------------------------------------------------

def base_path() -> str:
    from streamlit import config

    b = (config.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{b}" if b else ""


def _cookies(scope) -> dict[str, str]:
    jar = http_cookies.SimpleCookie()
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except http_cookies.CookieError:
                continue
    return {k: m.value for k, m in jar.items()}


def _header(scope, name: bytes) -> str:
    for k, v in scope.get("headers", []):
        if k == name:
            return v.decode("latin-1")
    return ""


def _headers_dict(scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in scope.get("headers", []):
        key = k.decode("latin-1").lower()
        out[key] = f"{out[key]}, {v.decode('latin-1')}" if key in out else v.decode("latin-1")
    return out


def source(scope) -> str:
    """The audit source of a request: the peer, and X-Forwarded-For only from trusted proxies (session.source_of)."""
    from minsheng.ui import session

    client = scope.get("client") or ("", 0)
    peer = client[0] if client and client[0] not in ("127.0.0.1", "::1") else None
    return session.source_of(peer, _headers_dict(scope), os.environ.get(session.TRUSTED_PROXIES_ENV, ""))


def _address(scope) -> str:
    """What a rate limit counts by: the client part of source(); an IPv6 client by its /64, the block one
    household or office is given (one address each would let a single client count as millions)."""
    client = source(scope).split(" ")[0]
    try:
        ip = ipaddress.ip_address(client.strip("[]"))
    except ValueError:
        return client
    return str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 and not ip.ipv4_mapped else client


def secure(scope) -> bool:
    return scope.get("scheme") in ("https", "wss") or os.environ.get(SECURE_ENV, "").strip() in ("1", "true", "yes")


def cookie_header(name: str, value: str, scope, *, max_age: int, path: str = "/", same_site: str = "Lax") -> str:
    parts = [f"{name}={value}", f"Path={base_path() + path if path != '/' else (base_path() or '/')}",
             f"Max-Age={max_age}", "HttpOnly", f"SameSite={same_site}"]
    if secure(scope):
        parts.append("Secure")
    return "; ".join(parts)


def safe_next(value: str | None) -> str:
    """A place to go after signing in: a path of this app with its query, never another site."""
    value = (value or "").strip()
    base = base_path()
    if not value.startswith("/") or value.startswith("//") or "\\" in value or len(value) > 2000 \
            or any(ord(c) < 32 for c in value):
        return base + "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or (base and not parts.path.startswith(base + "/") and parts.path != base):
        return base + "/"
    if parts.path.startswith(base + "/signin") or parts.path.startswith(base + "/signout"):
        return base + "/"
    return value


def _lang(next_url: str) -> str:
    q = parse_qs(urlsplit(next_url).query)
    return "en" if q.get("lang", [""])[0] == "en" else "zh"


def sign_in_required() -> bool:
    """Whether pages need a password session: the users file has (had) users and OIDC is not configured.
    A broken users file counts as required (fail closed)."""
    from minsheng.ui import session

    if session.oidc_configured():
        return False
    try:
        return auth.sign_in_required()
    except (auth.AuthError, OSError):
        return True


# --- headers -------------------------------------------------------------------------------------------

def frame_ancestors() -> str:
    """The CSP frame-ancestors list: 'none' unless MINSHENG_FRAME_ANCESTORS names origins (https://portal.gov.cn …);
    a malformed entry is dropped, not passed into the header."""
    ok = [o for o in (os.environ.get(FRAME_ANCESTORS_ENV) or "").split()
          if re.fullmatch(r"(https?://)?(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?|'self'", o)]
    return " ".join(ok) if ok else "'none'"


@functools.cache
def _inline_scripts() -> str:
    """The hashes of the inline scripts in Streamlit's index.html (one line that sets window.prerenderReady):
    allowed by hash, so no other inline script runs."""
    import streamlit

    page = Path(streamlit.__file__).parent / "static" / "index.html"
    try:
        text = page.read_text(encoding="utf-8")
    except OSError:
        return ""
    found = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", text, re.S)
    return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in found)


def csp() -> str:
    # Streamlit's own bundle, Plotly and deck.gl draw with styles set from script ('unsafe-inline' styles) and
    # images and workers from blob: and data: URLs; nothing is fetched from another origin.
    return "; ".join([
        "default-src 'self'", f"script-src 'self' 'wasm-unsafe-eval' {_inline_scripts()}".rstrip(), "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:", "font-src 'self' data:", "connect-src 'self'", "worker-src 'self' blob:",
        "media-src 'self' blob: data:", "object-src 'none'", "base-uri 'self'", "form-action 'self'",
        f"frame-ancestors {frame_ancestors()}",
    ])


def security_headers(path: str) -> list[tuple[bytes, bytes]]:
    out = [(b"content-security-policy", csp().encode()), (b"referrer-policy", b"no-referrer"),
           (b"x-content-type-options", b"nosniff"), (b"cross-origin-opener-policy", b"same-origin")]
    if frame_ancestors() == "'none'":
        out.append((b"x-frame-options", b"DENY"))
    base = base_path()
    if path.startswith(f"{base}/media/") or path.startswith(f"{base}/signin") or path.startswith(f"{base}/signout"):
        out.append((b"cache-control", b"no-store"))
    return out


def _static() -> Path:
    import streamlit

    return Path(streamlit.__file__).parent / "static" / "static"


_IMPORT = re.compile(rb"""(?:\bfrom|\bimport)\s*["'`]\./([\w.\-]+\.js)["'`]""")


def _hashed(folder: Path, stem: str, ext: str) -> str | None:
    """The one file `stem.<hash>.ext` in folder, or None."""
    try:
        found = [f.name for f in folder.iterdir() if re.fullmatch(re.escape(stem) + r"\.[\w-]+\." + ext, f.name)]
    except OSError:
        return None
    return found[0] if len(found) == 1 else None


@functools.cache
def shell_scripts() -> tuple[str, ...]:
    """The scripts Streamlit's index.html loads itself (its main bundle and that bundle's modulepreloads), in order."""
    try:
        index = (_static().parent / "index.html").read_text(encoding="utf-8")
    except OSError:
        return ()
    return tuple(dict.fromkeys(re.findall(r'(?:href|src)="\./static/js/([\w.\-]+\.js)"', index)))


@functools.cache
def chunk_files(stem: str) -> tuple[str, ...]:
    """The files (paths under Streamlit's static/) that loading the front-end chunk `stem` ("DeckGlJsonChart")
    fetches at once: its content-hashed script, what that imports statically (transitively), minus what
    index.html already preloads, and its stylesheet (Streamlit waits for it before it draws the element). Found
    by reading the installed Streamlit, so a new version's hashes are picked up at start; () when no single
    script is named `stem.<hash>.js`."""
    js = _static() / "js"
    first = _hashed(js, stem, "js")
    if first is None:
        return ()
    preloaded = set(shell_scripts())
    order, todo = [], [first]
    while todo:
        name = todo.pop(0)
        if name in order or name in preloaded:
            continue
        try:
            text = (js / name).read_bytes()
        except OSError:
            continue
        order.append(name)
        todo.extend(m.decode() for m in _IMPORT.findall(text))
    css = _hashed(_static() / "css", stem, "css")
    return tuple(f"js/{n}" for n in order) + ((f"css/{css}",) if css else ())


def page_links(rel_path: str) -> bytes | None:
    """The Link header of a page's HTML: preload the chunks the page draws with (fetched and compiled while the
    main bundle starts, not only after the elements arrive: deck.gl's 3 MB was most of what 地图 waited for),
    prefetch the other pages' (in the cache when the user switches to them). None off the pages."""
    from minsheng.ui import pages

    try:
        return _links_of(pages.by_url(rel_path).key)
    except KeyError:
        return None


def _link(base: str, path: str, rel: str) -> str:
    url = f"<{base}/static/{quote(path)}>"
    if rel == "prefetch":
        return f"{url}; rel=prefetch; crossorigin"
    if path.endswith(".css"):  # Streamlit adds the stylesheet with crossorigin: the same request, so the same cache
        return f"{url}; rel=preload; as=style; crossorigin"
    return f"{url}; rel=modulepreload"


@functools.cache  # by page key, never by the requested path (which a client chooses)
def _links_of(key: str) -> bytes | None:
    from minsheng.ui import pages

    own = dict.fromkeys(f for stem in pages.get(key).chunks for f in chunk_files(stem))
    others = dict.fromkeys(f for p in pages.PAGES for stem in p.chunks for f in chunk_files(stem)
                           if f not in own)
    base = base_path()
    # Streamlit's own scripts first: a Link header is read before the HTML, and preloads listed only after
    # them would be fetched ahead of the main bundle and delay it (measured: 0.3 s → 1.2 s for its arrival)
    links = [_link(base, f"js/{f}", "preload") for f in shell_scripts()] if own else []
    links += [_link(base, f, "preload") for f in own] + [_link(base, f, "prefetch") for f in others]
    return ", ".join(links).encode("latin-1") if links else None


def _with_links(send, link: bytes):
    """Add the Link header to a successful HTML response (the page shell), not to redirects or sign-in refusals."""
    async def wrapped(message):
        if message["type"] == "http.response.start" and message.get("status") == 200:
            headers = message.get("headers", [])
            kind = dict((k.lower(), v) for k, v in headers).get(b"content-type", b"")
            if kind.startswith(b"text/html"):
                message = {**message, "headers": [*headers, (b"link", link)]}
        await send(message)
    return wrapped


# --- rate limit per client address -----------------------------------------------------------------------

class _PerAddress:
    """At most SIGNIN_PER_ADDRESS sign-in posts in SIGNIN_WINDOW seconds per client address, in this process,
    for TRACKED_ADDRESSES addresses (the oldest forgotten first). The account lockout (auth) holds across
    processes; this stops one address from trying many accounts."""

    def __init__(self):
        self.seen: OrderedDict[str, deque] = OrderedDict()
        self.lock = threading.Lock()

    def allow(self, address: str, now: float | None = None) -> float:
        """0 if a post from `address` may go on now (and counts it); else the seconds to wait."""
        now = time.monotonic() if now is None else now
        with self.lock:
            q = self.seen.pop(address, deque())
            while q and now - q[0] > SIGNIN_WINDOW:
                q.popleft()
            wait = 0.0
            if len(q) >= SIGNIN_PER_ADDRESS:
                wait = SIGNIN_WINDOW - (now - q[0])
            else:
                q.append(now)
            self.seen[address] = q
            while len(self.seen) > TRACKED_ADDRESSES:
                self.seen.popitem(last=False)
        return wait


per_address = _PerAddress()


# --- the pages ---------------------------------------------------------------------------------------------

_STYLE = """
body{font-family:"Noto Sans CJK SC","Noto Sans SC","Microsoft YaHei","PingFang SC",sans-serif;background:#f5f7fa;
margin:0;color:#1f2933}main{max-width:400px;margin:12vh auto;background:#fff;border-radius:8px;padding:28px 32px;
box-shadow:0 1px 4px rgba(0,0,0,.12)}h1{font-size:22px;margin:0 0 4px}p.sub{color:#52606d;margin:0 0 20px;font-size:14px}
label{display:block;font-size:14px;margin:14px 0 4px}input[type=text],input[type=password]{width:100%;box-sizing:border-box;
font-size:16px;padding:9px 10px;border:1px solid #b8c2cc;border-radius:6px}button{margin-top:20px;width:100%;font-size:16px;
padding:10px;border:0;border-radius:6px;background:#0072B2;color:#fff;cursor:pointer}button.plain{background:#e4e7eb;color:#1f2933}
.err{background:#fde8e8;color:#9b1c1c;padding:10px 12px;border-radius:6px;font-size:14px;margin:0 0 8px}
.note{background:#e6f0fa;color:#1a4971;padding:10px 12px;border-radius:6px;font-size:14px;margin:0 0 8px}
@media (max-width:480px){main{margin:0;border-radius:0;min-height:100vh;box-shadow:none}}
"""


def _page(title: str, body: str, lang: str) -> str:
    return (f'<!doctype html><html lang="{"en" if lang == "en" else "zh-CN"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{html.escape(title)}</title>'
            f'<style>{_STYLE}</style></head><body><main>{body}</main></body></html>')


def _box(kind: str, message: str | None) -> str:
    return f'<p class="{kind}" role="{"alert" if kind == "err" else "status"}">{html.escape(message)}</p>' if message else ""


def sign_in_page(next_url: str, csrf: str, *, error: str | None = None, note: str | None = None, name: str = "") -> str:
    lang = _lang(next_url)
    T = lambda s, **v: t(s, lang, **v)  # noqa: E731
    body = (f'<h1>{html.escape(T("民生指标看板"))}</h1><p class="sub">{html.escape(T("请登录后查看"))}</p>'
            f'{_box("note", note)}{_box("err", error)}'
            f'<form method="post" action="{html.escape(base_path())}/signin" autocomplete="on">'
            f'<input type="hidden" name="csrf" value="{html.escape(csrf)}">'
            f'<input type="hidden" name="next" value="{html.escape(next_url)}">'
            f'<label for="name">{html.escape(T("用户名"))}</label>'
            f'<input type="text" id="name" name="name" value="{html.escape(name)}" autocomplete="username" required'
            f'{"" if name else " autofocus"}><label for="password">{html.escape(T("密码"))}</label>'
            f'<input type="password" id="password" name="password" autocomplete="current-password" required'
            f'{" autofocus" if name else ""}>'
            f'<button type="submit">{html.escape(T("登录"))}</button></form>')
    return _page(T("登录") + " · " + T("民生指标看板"), body, lang)


def password_page(next_url: str, csrf: str, name: str, *, error: str | None = None) -> str:
    lang = _lang(next_url)
    T = lambda s, **v: t(s, lang, **v)  # noqa: E731
    body = (f'<h1>{html.escape(T("设置新密码"))}</h1>'
            f'<p class="sub">{html.escape(T("{name}：管理员给的是一次性密码，请设置自己的密码后继续。", name=name))}</p>'
            f'{_box("err", error)}'
            f'<form method="post" action="{html.escape(base_path())}/signin/password">'
            f'<input type="hidden" name="csrf" value="{html.escape(csrf)}">'
            f'<input type="hidden" name="next" value="{html.escape(next_url)}">'
            f'<label for="new">{html.escape(T("新密码（至少 {n} 个字符）", n=auth.MIN_PASSWORD))}</label>'
            f'<input type="password" id="new" name="new" autocomplete="new-password" required autofocus>'
            f'<label for="again">{html.escape(T("再次输入新密码"))}</label>'
            f'<input type="password" id="again" name="again" autocomplete="new-password" required>'
            f'<button type="submit">{html.escape(T("保存并进入看板"))}</button></form>')
    return _page(T("设置新密码") + " · " + T("民生指标看板"), body, lang)


def sign_out_page(csrf: str, lang: str = "zh") -> str:
    T = lambda s, **v: t(s, lang, **v)  # noqa: E731
    body = (f'<h1>{html.escape(T("退出登录"))}</h1><p class="sub">{html.escape(T("确定要退出登录吗？"))}</p>'
            f'<form method="post" action="{html.escape(base_path())}/signout">'
            f'<input type="hidden" name="csrf" value="{html.escape(csrf)}">'
            f'<button type="submit">{html.escape(T("退出登录"))}</button></form>'
            f'<form method="get" action="{html.escape(base_path())}/"><button class="plain" type="submit">'
            f'{html.escape(T("返回看板"))}</button></form>')
    return _page(T("退出登录") + " · " + T("民生指标看板"), body, lang)


# --- the routes --------------------------------------------------------------------------------------------

def _same_origin(request) -> bool:
    """A form post from this app's own pages. Origin, when the browser names one, must be the Host the post was
    sent to. Under Referrer-Policy no-referrer a browser sends "Origin: null" (and no Referer): then its
    Sec-Fetch-Site must say same-origin. Anything cross-site, or a post that shows neither, is refused; the
    form's token (double-submitted in a SameSite=Strict cookie) is checked besides."""
    host = request.headers.get("host", "").lower()
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin and origin != "null":
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and parts.netloc.lower() == host
    referer = request.headers.get("referer")
    if referer:
        return urlsplit(referer).netloc.lower() == host
    return site == "same-origin"


async def _form(request) -> dict[str, str] | None:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return None
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None
    try:
        q = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        return None
    return {k: v[0] for k, v in q.items()}


def _html(content: str, status: int = 200, cookies: tuple[str, ...] = ()):
    from starlette.responses import HTMLResponse

    r = HTMLResponse(content, status_code=status)
    for c in cookies:
        r.headers.append("set-cookie", c)
    return r


def _redirect(url: str, cookies: tuple[str, ...] = ()):
    from starlette.responses import RedirectResponse

    r = RedirectResponse(url, status_code=303)
    for c in cookies:
        r.headers.append("set-cookie", c)
    return r


def _clear(name: str, scope, path: str = "/") -> str:
    return cookie_header(name, "", scope, max_age=0, path=path)


def _form_token(scope) -> tuple[str, str]:
    # The token this browser already holds, if any: a new one on every page would leave only the tab drawn last
    # able to sign in (a session that ends sends every open tab to /signin at once).
    held = _cookies(scope).get(CSRF_COOKIE, "")
    token = held if re.fullmatch(r"[A-Za-z0-9_-]{32}", held) else secrets.token_urlsafe(24)
    return token, cookie_header(CSRF_COOKIE, token, scope, max_age=3600, path="/signin", same_site="Strict")


def _csrf_ok(request, form: dict) -> bool:
    want = request.cookies.get(CSRF_COOKIE, "")
    return bool(want) and secrets.compare_digest(want, form.get("csrf", ""))


def _agent(request) -> str:
    return re.sub(r"[^\x20-\x7e]", "?", request.headers.get("user-agent", ""))[:200]


async def signin_get(request):
    scope = request.scope
    next_url = safe_next(request.query_params.get("next"))
    token = request.cookies.get(sessions.COOKIE)
    if token and sessions.check(token):
        return _redirect(next_url)
    csrf, csrf_cookie = _form_token(scope)
    why = request.query_params.get("why")
    lang = _lang(next_url)
    note = t(REASONS[why], lang) if why in REASONS else None
    try:
        if not auth.users_exist():  # the deployment had users and has none now: it stays closed, and says so
            note = t("用户文件中没有用户，暂时无人能登录。管理员可添加用户（python -m minsheng users add），"
                     "或确认恢复无登录的本机单用户模式（python -m minsheng users reset-single-user）。", lang)
    except (auth.AuthError, OSError):
        note = t("无法读取用户文件，暂时无人能登录，请联系管理员。", lang)
    out = [csrf_cookie] + ([_clear(sessions.COOKIE, scope)] if token else [])
    return _html(sign_in_page(next_url, csrf, note=note), cookies=tuple(out))


async def _posted(request):
    """A form post's fields, the page to go on to and its language; None for a body that is not a small form."""
    form = await _form(request)
    if form is None:
        return None
    next_url = safe_next(form.get("next"))
    return form, next_url, _lang(next_url)


def _bad_form():
    return _html(_page("400", "<h1>400</h1>", "zh"), 400)


async def signin_post(request):
    from starlette.concurrency import run_in_threadpool

    scope = request.scope
    if (posted := await _posted(request)) is None:
        return _bad_form()
    form, next_url, lang = posted
    csrf, csrf_cookie = _form_token(scope)
    name = (form.get("name") or "").strip()[:64]

    def again(message: str, status: int = 200):
        return _html(sign_in_page(next_url, csrf, error=message, name=name), status, cookies=(csrf_cookie,))

    if not _same_origin(request) or not _csrf_ok(request, form):
        return again(t("登录表单已失效（可能来自其他网站，或页面打开太久），请重新输入。", lang), 403)
    wait = per_address.allow(_address(scope))
    if wait:
        audit.record("sign-in-failed", name or None, {"method": "password", "reason": "rate-limited"}, source(scope))
        return again(t("来自此地址的登录尝试过多，请 {m} 分钟后再试。", lang, m=max(1, int(wait // 60) + 1)), 429)
    if not name or not form.get("password"):
        return again(t("请输入用户名和密码", lang))
    try:
        u = await run_in_threadpool(auth.authenticate, name, form["password"], source=source(scope))
        purpose = sessions.CHANGE_PASSWORD if u.must_change else sessions.APP
        token = sessions.create(u.name, source=source(scope), agent=_agent(request), purpose=purpose)
    except auth.AuthError as e:
        return again(t(str(e), lang), 401)
    max_age = sessions.CHANGE_PASSWORD_MAX if u.must_change else sessions.lifetime()
    cookie = cookie_header(sessions.COOKIE, token, scope, max_age=max_age)
    if u.must_change:
        return _redirect(f"{base_path()}/signin/password?{urlencode({'next': next_url})}", (cookie,))
    return _redirect(next_url, (cookie, _clear(CSRF_COOKIE, scope, "/signin")))


async def password_get(request):
    scope = request.scope
    next_url = safe_next(request.query_params.get("next"))
    s = sessions.check(request.cookies.get(sessions.COOKIE), sessions.CHANGE_PASSWORD)
    if s is None:
        return _redirect(f"{base_path()}/signin?{urlencode({'next': next_url})}")
    csrf, csrf_cookie = _form_token(scope)
    return _html(password_page(next_url, csrf, s.user), cookies=(csrf_cookie,))


async def password_post(request):
    from starlette.concurrency import run_in_threadpool

    scope = request.scope
    if (posted := await _posted(request)) is None:
        return _bad_form()
    form, next_url, lang = posted
    token = request.cookies.get(sessions.COOKIE)
    s = sessions.check(token, sessions.CHANGE_PASSWORD)
    if s is None:
        return _redirect(f"{base_path()}/signin?{urlencode({'next': next_url, 'why': 'expired'})}")
    csrf, csrf_cookie = _form_token(scope)

    def again(message: str, status: int = 200):
        return _html(password_page(next_url, csrf, s.user, error=message), status, cookies=(csrf_cookie,))

    if not _same_origin(request) or not _csrf_ok(request, form):
        return again(t("登录表单已失效（可能来自其他网站，或页面打开太久），请重新输入。", lang), 403)
    new = form.get("new") or ""
    if new != (form.get("again") or ""):
        return again(t("两次输入的密码不一致", lang))
    try:
        if await run_in_threadpool(auth.password_matches, s.user, new):
            return again(t("新密码不能与一次性密码相同", lang))
        await run_in_threadpool(auth.set_password, s.user, new, by=s.user, source=source(scope))
        fresh = sessions.create(s.user, source=source(scope), agent=_agent(request))
    except auth.AuthError as e:
        return again(t(str(e), lang))
    sessions.end(token)
    audit.record("sign-in", s.user, {"method": "password", "after": "password-set"}, source(scope))
    return _redirect(next_url, (cookie_header(sessions.COOKIE, fresh, scope, max_age=sessions.lifetime()),
                                _clear(CSRF_COOKIE, scope, "/signin")))


def end_session(token: str | None, src: str, reason: str = "signed-out") -> sessions.Session | None:
    """End a session (sign-out), audited; the session ended or None."""
    s = sessions.end(token)
    if s is not None:
        audit.record("sign-out", s.user, {"method": s.method, "session": s.short, "reason": reason}, src)
    return s


async def signout_get(request):
    scope = request.scope
    token = request.cookies.get(sessions.COOKIE)
    if token and sessions.check(token):  # a live session is only ended by a post from this app (no link can)
        csrf, csrf_cookie = _form_token(scope)
        return _html(sign_out_page(csrf), cookies=(cookie_header(CSRF_COOKIE, csrf, scope, max_age=3600,
                                                                 path="/signout", same_site="Strict"),))
    return _redirect(f"{base_path()}/signin?why=signed-out", (_clear(sessions.COOKIE, scope),))


async def signout_post(request):
    scope = request.scope
    form = await _form(request) or {}
    want = request.cookies.get(CSRF_COOKIE, "")
    if not _same_origin(request) or not want or not secrets.compare_digest(want, form.get("csrf", "")):
        return _redirect(f"{base_path()}/signout")
    end_session(request.cookies.get(sessions.COOKIE), source(scope))
    return _redirect(f"{base_path()}/signin?why=signed-out",
                     (_clear(sessions.COOKIE, scope), _clear(CSRF_COOKIE, scope, "/signout")))


def routes() -> list:
    from starlette.routing import Route

    b = base_path()
    return [Route(f"{b}/signin", signin_get, methods=["GET"]), Route(f"{b}/signin", signin_post, methods=["POST"]),
            Route(f"{b}/signin/password", password_get, methods=["GET"]),
            Route(f"{b}/signin/password", password_post, methods=["POST"]),
            Route(f"{b}/signout", signout_get, methods=["GET"]), Route(f"{b}/signout", signout_post, methods=["POST"])]


# --- the middleware ----------------------------------------------------------------------------------------

# Streamlit session id → digest of the session cookie of the last run in it (minsheng/ui/signin.py writes it);
# a websocket may resume a Streamlit session only with the cookie that session was signed in with.
class _Bound(OrderedDict):
    """At most BOUND_KEPT entries, the least recently written forgotten first (a forgotten one is never resumed)."""

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > BOUND_KEPT:
            self.popitem(last=False)


BOUND_KEPT = 100_000
bound: dict[str, str] = _Bound()
exported: dict[str, float] = _Bound()   # session cookie digest → when it last built an export (exports.audited)
_first_lock = threading.Lock()

PUBLIC = ("/static/", "/component/")                                   # folders of files that are not data
PUBLIC_PATHS = ("/_stcore/health", "/_stcore/host-config", "/favicon.ico")  # exactly these
OWN = ("/signin", "/signout")                                                # the routes above, and below them


def _public(path: str) -> bool:
    return path.startswith(PUBLIC) or path in PUBLIC_PATHS or any(path == p or path.startswith(p + "/") for p in OWN)


def note_export(digest: str) -> None:
    """An export was just built for the browser holding this session cookie (minsheng/ui/exports.py): its
    download link works for MEDIA_TTL seconds from now."""
    exported[digest] = time.monotonic()


def _export_fresh(digest: str) -> bool:
    when = exported.get(digest)
    return when is not None and time.monotonic() - when <= MEDIA_TTL


class Guard:
    """Pure ASGI middleware (websockets too): see the module's docstring."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        base = base_path()
        path = scope.get("path", "")
        rel = path[len(base):] if base and path.startswith(base) else path
        if rel.startswith("/_stcore/agent"):
            return await _refuse(scope, receive, send, 404)
        if kind == "http":
            send = _with_headers(send, security_headers(path))
            if scope.get("method") in ("GET", "HEAD") and (link := page_links(rel)):
                send = _with_links(send, link)
        elif not _socket_from_here(scope):  # in every mode: single-user mode has no cookie to steal at all
            return await _refuse(scope, receive, send, 1008)
        if _public(rel) or not sign_in_required():  # public first: no users-file read for every script and font
            return await self.app(scope, receive, send)
        token = _cookies(scope).get(sessions.COOKIE)
        live = sessions.check(token) if token else None
        if kind == "websocket":
            if live is None:
                return await _refuse(scope, receive, send, 1008)
            scope = _no_foreign_resume(scope, sessions.digest(token))
            return await self.app(scope, receive, send)
        if rel.startswith("/media/"):
            if live is None:
                return await _refuse(scope, receive, send, 403)
            return await self.app(scope, receive, _download_rules(send, live, sessions.digest(token)))
        if live is None:
            if rel.startswith("/_stcore/") or scope.get("method") not in ("GET", "HEAD"):
                return await _refuse(scope, receive, send, 403)
            query = scope.get("query_string", b"").decode("latin-1")
            back = path + (f"?{query}" if query else "")
            if token and sessions.check(token, sessions.CHANGE_PASSWORD):  # a new password first, then the page
                return await _redirect(f"{base}/signin/password?{urlencode({'next': back})}")(scope, receive, send)
            why = "expired" if token else None
            target = f"{base}/signin?{urlencode({'next': back, **({'why': why} if why else {})})}"
            return await _redirect(target, (_clear(sessions.COOKIE, scope),) if token else ())(scope, receive, send)
        return await self.app(scope, receive, send)


def _with_headers(send, extra):
    # The security headers on every response; ours win over Streamlit's where both set one (Cache-Control).
    ours = {k for k, _ in extra}

    async def wrapped(message):
        if message["type"] == "http.response.start":
            kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in ours]
            message = {**message, "headers": kept + list(extra)}
        await send(message)
    return wrapped


def _download_rules(send, live: sessions.Session, digest: str):
    """A media response that is a download (Content-Disposition: attachment): refused to a role without export
    rights, and more than MEDIA_TTL after this browser's last export click; images and the like pass."""
    state = {"blocked": False}

    async def wrapped(message):
        if message["type"] == "http.response.start":
            disposition = dict((k.lower(), v) for k, v in message.get("headers", [])).get(b"content-disposition", b"")
            if disposition.lower().startswith(b"attachment"):
                u = None
                try:
                    u = auth.get_user(live.user)
                except (auth.AuthError, OSError):
                    pass
                if u is None or not u.can("export") or not _export_fresh(digest):
                    state["blocked"] = True
                    body = t("下载链接已失效或无权下载。").encode()
                    await send({"type": "http.response.start", "status": 403,
                                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                            (b"content-length", str(len(body)).encode()),
                                            *[(k, v) for k, v in message.get("headers", [])
                                              if k.lower() not in (b"content-type", b"content-length",
                                                                   b"content-disposition", b"content-encoding")]]})
                    await send({"type": "http.response.body", "body": body})
                    return
        elif state["blocked"]:
            return
        await send(message)
    return wrapped


def _socket_from_here(scope) -> bool:
    """A websocket opened by a page of this app: the Origin a browser always sends names the Host it connected
    to. Streamlit's own check admits any port of localhost, 127.0.0.1 and the server's own addresses, and a
    browser sends the session cookie to every port of a host (same site): without this, a page of another
    app on the same machine (http://10.0.0.5:8080 beside the dashboard on :8501) could open the app's
    websocket with the user's cookie, read what the app draws for them and click for them. No Origin: not a
    browser, so no one's cookie but its own."""
    origin = _header(scope, b"origin")
    if not origin:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == _header(scope, b"host").lower()


def _no_foreign_resume(scope, digest: str):
    """Drop a websocket's request to resume a Streamlit session unless its last run was with this session cookie."""
    raw = _header(scope, b"sec-websocket-protocol")
    entries = [e.strip() for e in raw.split(",")] if raw else []
    if len(entries) >= 3 and entries[2] and bound.get(entries[2]) != digest:  # unknown ids too: fail closed
        entries[2] = ""
        headers = [(k, v) for k, v in scope["headers"] if k != b"sec-websocket-protocol"]
        headers.append((b"sec-websocket-protocol", ", ".join(entries).encode("latin-1")))
        scope = {**scope, "headers": headers}
    return scope


async def _refuse(scope, receive, send, code: int):
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008})
        return
    from starlette.responses import PlainTextResponse

    await PlainTextResponse(t("请先登录。") if code == 403 else "Not Found", status_code=code)(scope, receive, send)


def middleware() -> list:
    from starlette.middleware import Middleware

    return [Middleware(Guard)]


def freeze_imports() -> int:
    """Import every module of the package the pages may use, then move all objects made so far into the
    collector's permanent generation (gc.freeze). Python's full collections then walk only what page runs
    create, not the ~200,000 objects of modules, Plotly's validators and Streamlit (README "Performance").
    Returns how many objects were frozen."""
    import gc
    import importlib
    import pkgutil

    import minsheng

    for mod in pkgutil.walk_packages(minsheng.__path__, "minsheng."):
        if not mod.name.endswith("__main__"):  # the command line, which would run
            importlib.import_module(mod.name)
    importlib.import_module("plotly.graph_objects")
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


@asynccontextmanager
async def lifespan(_app):
    freeze_imports()
    SERVED.set()
    try:
        yield None
    finally:
        SERVED.clear()


def signin_url(next_url: str, why: str | None = None) -> str:
    q = {"next": next_url, **({"why": why} if why in REASONS else {})}
    return f"{base_path()}/signin?{urlencode(q, quote_via=quote)}"
