"""Sign-in that lasts, in a real browser against the real server (issue 14, "Done when").

One server started through app.py with a users file of its own. In Chromium: a pasted permalink while signed
out signs in and lands on it; a reload, a new tab and another pasted permalink stay signed in; signing out in
one tab ends the other at its next click; a user disabled from the command line is out at the next click; the
CSP header is on every page and every page draws with no console error. And the finding: a second client that
names a signed-in admin's Streamlit session id on its websocket does not become that admin, with or without a
session cookie of its own, while the tab is open or after it closed.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import pytest

from browser_support import APP_SCRIPT, ROOT, StreamlitServer, new_page, wait_idle
from minsheng.ui import pages

pytestmark = pytest.mark.browser

PW = "Kennwort-2026"
CITY, LUSONG = "430200000000", "430203000000"
DECK = '[data-testid="stDeckGlJsonChart"] canvas'
# Streamlit's frontend looks for its server under a deep link's path first (/trend/_stcore/health …) before
# the root; those two 404s are its own probing, in every Streamlit 1.67 app, not a fault of a page.
PROBE = re.compile(r"/[a-z]+/_stcore/(health|host-config)$")


@pytest.fixture(scope="module")
def server(chromium_path, tmp_path_factory):
    from argon2 import PasswordHasher

    from minsheng import auth

    d = tmp_path_factory.mktemp("sessions")
    env = {"MINSHENG_USERS": str(d / "users.json"), "MINSHENG_AUDIT": str(d / "audit.log")}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        mp.setattr(auth, "hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))  # tests only
        for name, role in (("admin01", "admin"), ("viewer01", "viewer"), ("leaver01", "viewer")):
            auth.add_user(name, role, CITY, PW)
    s = StreamlitServer(APP_SCRIPT, ROOT, "sessions", env=env).start()
    s.env, s.dir = env, d
    yield s
    s.stop()


def users_cli(server, *args) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "minsheng", "users", *args], cwd=ROOT, text=True,
                          capture_output=True, env={**os.environ, **server.env}, timeout=60)


def sign_in(page, name: str, password: str = PW) -> None:
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_role("button", name="登录").click()


def open_signed_in(page, url: str, name: str) -> None:
    """Open `url` while signed out, sign in on the page it leads to, and wait for `url`'s page to be drawn."""
    page.goto(url)
    sign_in(page, name)
    path = urlsplit(url).path
    page.wait_for_url(lambda u: urlsplit(u).path == path, timeout=30_000)
    wait_idle(page)


def h1(page) -> str:
    return page.locator("h1").first.inner_text().strip()


def wait_signed_out(page) -> dict:
    page.wait_for_url(re.compile(r"/signin\?"), timeout=30_000)
    return parse_qs(urlsplit(page.url).query)


def click_something(page) -> None:
    """A click that makes the script run again: the language switch in the sidebar."""
    page.locator('[data-testid="stSidebar"]').get_by_text("English", exact=True).click()


def test_a_link_signs_in_then_lands_and_stays_signed_in(browser, server):
    ctx, page, requests = new_page(browser)
    try:
        link = f"{server.url}/map?region={LUSONG}&ind=yb_resident_insured_rate&year=2023"
        page.goto(link)
        assert urlsplit(page.url).path == "/signin"                 # signed out: the sign-in page …
        sign_in(page, "viewer01")
        page.wait_for_url(re.compile(r"/map\?"))
        wait_idle(page)
        q = parse_qs(urlsplit(page.url).query)                       # … and then the link, as it was sent
        assert q["region"] == [LUSONG] and q["ind"] == ["yb_resident_insured_rate"] and q["year"] == ["2023"]
        page.wait_for_selector(DECK, timeout=30_000)
        assert h1(page) == "地图"
        assert "ms_session" not in page.evaluate("document.cookie")  # HttpOnly: no script on the page reads it
        page.reload()
        wait_idle(page)
        assert urlsplit(page.url).path == "/map" and h1(page) == "地图"
        tab = ctx.new_page()                                         # a new tab, a pasted permalink
        tab.goto(f"{server.url}/trend?region={LUSONG}&inds=mz_dibao_urban_persons")
        wait_idle(tab)
        assert urlsplit(tab.url).path == "/trend" and h1(tab) == "趋势"
        assert parse_qs(urlsplit(tab.url).query)["inds"] == ["mz_dibao_urban_persons"]
        assert "viewer01" in tab.locator('[data-testid="stSidebar"]').inner_text()
        assert not requests.external()
    finally:
        ctx.close()


def test_signing_out_in_one_tab_ends_the_other(browser, server):
    ctx, page, _ = new_page(browser)
    try:
        open_signed_in(page, f"{server.url}/goals", "admin01")
        other = ctx.new_page()
        other.goto(f"{server.url}/trend")
        wait_idle(other)
        assert h1(other) == "趋势"
        other.get_by_role("button", name="退出登录").click()
        assert wait_signed_out(other)["why"] == ["signed-out"]
        assert not [c for c in ctx.cookies() if c["name"] == "ms_session"]  # the sign-in page cleared it
        click_something(page)                                        # the first tab, at its next click
        q = wait_signed_out(page)
        assert q["why"] == ["revoked"] and q["next"][0].startswith("/goals")
        page.goto(f"{server.url}/goals")                             # and a reload does not bring it back
        assert urlsplit(page.url).path == "/signin"
    finally:
        ctx.close()
    log = [json.loads(x) for x in (server.dir / "audit.log").read_text(encoding="utf-8").splitlines()]
    outs = [e for e in log if e["action"] == "sign-out" and e["user"] == "admin01"]
    assert [e["detail"]["reason"] for e in outs] == ["signed-out"]    # once: the tab that signed out wrote it


def test_a_disabled_user_is_out_at_the_next_click(browser, server):
    ctx, page, _ = new_page(browser)
    try:
        open_signed_in(page, f"{server.url}/", "leaver01")
        assert h1(page) == "总览"
        r = users_cli(server, "disable", "leaver01")
        assert r.returncode == 0, r.stderr
        click_something(page)
        wait_signed_out(page)
        sign_in(page, "leaver01")                                    # and cannot come back in
        page.wait_for_load_state()
        assert "账户已停用" in page.locator(".err").inner_text()
    finally:
        ctx.close()


def test_csp_is_on_every_page_and_every_page_draws_without_console_errors(browser, server):
    ctx, page, requests = new_page(browser)
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    failed: list[str] = []
    page.on("response", lambda r: r.status >= 400 and not PROBE.search(urlsplit(r.url).path)
            and failed.append(f"{r.status} {r.url}"))
    try:
        first = page.goto(f"{server.url}/signin")
        assert "frame-ancestors 'none'" in first.headers["content-security-policy"]
        sign_in(page, "admin01")
        page.wait_for_url(re.compile(r"127\.0\.0\.1:\d+/\?"))
        for p in pages.PAGES:
            errors.clear()
            response = page.goto(f"{server.url}/{p.url}")
            policy = response.headers.get("content-security-policy", "")
            assert policy.startswith("default-src 'self'") and "connect-src 'self'" in policy, p.key
            assert response.headers.get("referrer-policy") == "no-referrer"
            wait_idle(page)
            if p.key in ("trend", "goals"):
                page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=30_000)
            if p.key == "map":
                page.wait_for_function(f"() => {{ const c = document.querySelector('{DECK}'); return c && c.width > 0; }}",
                                       timeout=30_000)
            page.wait_for_timeout(500)
            assert h1(page) == p.title, p.key
            probes = [e for e in errors if "404" in e]                 # the probe 404s count as console errors
            real = [e for e in errors if e not in probes or len(probes) > 2]
            assert not real, (p.key, real)
        assert not failed, failed
        assert not requests.external(), requests.external()
    finally:
        ctx.close()


def test_media_needs_the_cookie(browser, server):
    import urllib.error
    import urllib.request

    ctx, page, requests = new_page(browser)
    try:
        open_signed_in(page, f"{server.url}/", "admin01")
        media = [u for u in requests.urls if urlsplit(u).path.startswith("/media/")]
        assert media, "the page icon comes from /media/"
        assert page.request.get(media[0]).status == 200              # with the cookie
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with pytest.raises(urllib.error.HTTPError) as refused:        # the same link, no cookie
            opener.open(media[0], timeout=10)
        assert refused.value.code == 403
    finally:
        ctx.close()


# --- the websocket finding -------------------------------------------------------------------------------------

async def _new_session_id(port: int, cookie: str | None, resume: str | None) -> str:
    """Connect as Streamlit's frontend does (asking to resume `resume`), run the main page, and return the id of
    the Streamlit session the server put this websocket in."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    protocols = ["streamlit", "no-xsrf", resume] if resume else ["streamlit"]
    headers = {"Cookie": cookie} if cookie else {}
    async with websockets.connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=protocols,
                                  additional_headers={**headers, "Origin": f"http://127.0.0.1:{port}"},
                                  max_size=None, open_timeout=30, ping_interval=None) as ws:
        back = BackMsg()
        back.rerun_script.query_string = ""
        await ws.send(back.SerializeToString())
        sid = None
        while True:  # to the end of the run: the gate binds the session to the cookie during it
            msg = ForwardMsg()
            msg.ParseFromString(await asyncio.wait_for(ws.recv(), 60))
            if msg.WhichOneof("type") == "new_session":
                sid = msg.new_session.initialize.session_id
            if msg.WhichOneof("type") == "script_finished" and msg.script_finished != msg.FINISHED_EARLY_FOR_RERUN:
                return sid


def _in_thread(coro):
    """Run a coroutine to its end on a thread of its own: Playwright's sync API holds this thread's event loop."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_a_second_client_naming_an_admins_session_does_not_become_the_admin(browser, server):
    import websockets

    port = int(server.url.rsplit(":", 1)[1])
    ctx, page, _ = new_page(browser)
    other_ctx, other, _ = new_page(browser)
    try:
        open_signed_in(page, f"{server.url}/", "admin01")
        admin = next(c for c in ctx.cookies() if c["name"] == "ms_session")["value"]
        admin_sid = _in_thread(_new_session_id(port, f"ms_session={admin}", None))  # the admin's own session
        other.goto(f"{server.url}/")
        sign_in(other, "viewer01")
        other.wait_for_url(re.compile(r"127\.0\.0\.1:\d+/\?"))
        viewer = next(c for c in other_ctx.cookies() if c["name"] == "ms_session")["value"]
        # no cookie at all: the websocket is refused before Streamlit sees it
        with pytest.raises(websockets.exceptions.InvalidStatus):
            _in_thread(_new_session_id(port, None, admin_sid))
        # another user's cookie: a session of its own, not the admin's
        assert _in_thread(_new_session_id(port, f"ms_session={viewer}", admin_sid)) != admin_sid
        # the admin's own browser reconnecting gets its session back
        assert _in_thread(_new_session_id(port, f"ms_session={admin}", admin_sid)) == admin_sid
    finally:
        ctx.close()
        other_ctx.close()
