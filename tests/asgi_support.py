"""The sign-in routes and the middleware of minsheng/web.py, driven in-process over ASGI.

`site()` is a Starlette app with web.routes() and web.middleware() — the real ones — in front of a stand-in
for Streamlit: "/" and every other path answer "APP", /media/… answers like Streamlit's media route (an
attachment for download.csv, an inline PNG for icon.png), /_stcore/stream accepts a websocket. `Browser`
keeps cookies as a browser would (path and Max-Age=0) and sends the headers a same-origin form post has.
The real server and a real browser are tests/test_sessions_browser.py; this is for the many cases.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from http import cookies as http_cookies
from urllib.parse import urlencode, urlsplit

HOST = "127.0.0.1:8501"
PW = "Kennwort-2026"
CITY = "430200000000"


def users_file(tmp_path, monkeypatch, extra: tuple = ()):
    """A users file and audit log of the test's own with a viewer, an analyst and an admin (and `extra`
    (name, role) pairs) over 株洲市, a cheap hasher (tests only), lifetimes and headers at their defaults, and
    the middleware's per-process state fresh."""
    from argon2 import PasswordHasher

    from minsheng import auth, sessions, web

    monkeypatch.setenv("MINSHENG_USERS", str(tmp_path / "users.json"))
    monkeypatch.setenv("MINSHENG_AUDIT", str(tmp_path / "audit.log"))
    for env in (sessions.IDLE_ENV, sessions.MAX_ENV, web.FRAME_ANCESTORS_ENV, web.SECURE_ENV):
        monkeypatch.delenv(env, raising=False)
    monkeypatch.setattr(auth, "hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    monkeypatch.setattr(web, "per_address", web._PerAddress())
    monkeypatch.setattr(web, "bound", web._Bound())
    for name, role in (("viewer01", "viewer"), ("analyst01", "analyst"), ("admin01", "admin"), *extra):
        auth.add_user(name, role, CITY, PW)
    return tmp_path


def site():
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route, WebSocketRoute

    from minsheng import web

    async def app(request):
        return PlainTextResponse("APP")

    async def media(request):
        name = request.path_params["name"]
        if name.endswith(".csv"):
            return Response(b"a,b\n1,2\n", media_type="text/csv",
                            headers={"content-disposition": 'attachment; filename="download.csv"'})
        return Response(b"\x89PNG", media_type="image/png")

    async def stream(ws):
        await ws.accept(subprotocol="streamlit")
        await ws.send_text("hello " + (ws.headers.get("sec-websocket-protocol") or ""))
        await ws.close()

    return Starlette(routes=[*web.routes(), Route("/media/{name}", media), WebSocketRoute("/_stcore/stream", stream),
                             Route("/{rest:path}", app, methods=["GET", "HEAD", "POST", "PUT"])],
                     middleware=web.middleware())


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name.lower()), None)

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name.lower()]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def location(self) -> str | None:
        return self.header("location")


def call(app, method: str, path: str, headers: list[tuple[str, str]] = (), body: bytes = b"",
         client: tuple[str, int] = ("127.0.0.1", 50000), scheme: str = "http") -> Reply:
    parts = urlsplit(path)
    scope = {"type": "http", "http_version": "1.1", "method": method, "scheme": scheme, "path": parts.path,
             "raw_path": parts.path.encode(), "query_string": parts.query.encode(), "root_path": "",
             "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in [("host", HOST), *headers]],
             "client": client, "server": ("127.0.0.1", 8501)}
    sent: list[dict] = []
    incoming = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return Reply(start["status"], [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in start["headers"]],
                 b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"))


def websocket(app, path: str = "/_stcore/stream", headers: list[tuple[str, str]] = ()) -> list[dict]:
    """Open a websocket; the messages the app sent (accept, text, close …)."""
    scope = {"type": "websocket", "scheme": "ws", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "headers": [(k.lower().encode(), v.encode()) for k, v in [("host", HOST), *headers]],
             "client": ("127.0.0.1", 50001), "server": ("127.0.0.1", 8501), "subprotocols": []}
    sent: list[dict] = []
    incoming = [{"type": "websocket.connect"}]

    async def receive():
        if incoming:
            return incoming.pop(0)
        await asyncio.sleep(0)
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


@dataclass
class Browser:
    """A cookie jar and a same-origin browser's habits (Origin "null" and Sec-Fetch-Site under no-referrer)."""
    app: object
    jar: dict[str, tuple[str, str]] = field(default_factory=dict)   # name -> (value, path)
    client: tuple[str, int] = ("127.0.0.1", 50000)

    def _cookie_header(self, path: str) -> list[tuple[str, str]]:
        got = [f"{k}={v}" for k, (v, p) in self.jar.items() if path.startswith(p)]
        return [("cookie", "; ".join(got))] if got else []

    def _keep(self, reply: Reply) -> Reply:
        for raw in reply.all("set-cookie"):
            c = http_cookies.SimpleCookie()
            c.load(raw)
            for name, morsel in c.items():
                if morsel["max-age"] == "0":
                    self.jar.pop(name, None)
                else:
                    self.jar[name] = (morsel.value, morsel["path"] or "/")
        return reply

    def get(self, path: str, headers: list[tuple[str, str]] = ()) -> Reply:
        return self._keep(call(self.app, "GET", path, [*self._cookie_header(urlsplit(path).path), *headers],
                               client=self.client))

    def post(self, path: str, form: dict, headers: list[tuple[str, str]] | None = None) -> Reply:
        if headers is None:
            headers = [("origin", "null"), ("sec-fetch-site", "same-origin")]
        return self._keep(call(self.app, "POST", path,
                               [*self._cookie_header(urlsplit(path).path),
                                ("content-type", "application/x-www-form-urlencoded"), *headers],
                               urlencode(form).encode(), client=self.client))

    def csrf(self, page: Reply) -> str:
        import re

        return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)

    def sign_in(self, name: str, password: str, next_url: str = "/") -> Reply:
        page = self.get(f"/signin?{urlencode({'next': next_url})}")
        return self.post("/signin", {"csrf": self.csrf(page), "next": next_url, "name": name, "password": password})

    @property
    def session(self) -> str | None:
        from minsheng import sessions

        return self.jar.get(sessions.COOKIE, (None,))[0]
