"""Attacks on the sign-in layer of issue 14 (minsheng/web.py, sessions.py, ui/session.py, ui/signin.py).

Each test is a hole found by trying: it failed on the code as merged for issue 14, and says what it shows.
- A page of another web app on the same host (another port) opened a websocket with the signed-in user's
  cookie — cookies are not kept apart by port, and Streamlit's own Origin check lets in any port of
  127.0.0.1, localhost and the server's addresses — and read and drove the app as that user.
- A button callback runs before the router's gate: an admin signed out, revoked, disabled or demoted could
  still roll the data back from a page left open.
- Download links are named by their content (Streamlit's media id is a hash of the bytes, type and name), so
  "works for five minutes after its first use" refused the same file to anyone, ever, five minutes after
  someone first downloaded it (a strict xfail: the fix is to be decided).
- A sign-out landing while another tab's run moved the session's idle deadline was undone (the file rewritten).
- Of several tabs sent to /signin at once, only the one drawn last could sign in (one form token per page).
"""

from __future__ import annotations

import base64
import http.server
import re
import shutil
import threading

import pytest
from argon2 import PasswordHasher
from streamlit.testing.v1 import AppTest

from asgi_support import Browser, users_file, site, websocket
from browser_support import APP_SCRIPT, ROOT, StreamlitServer, new_page, wait_idle
from minsheng import auth, sessions, store, web
from minsheng.ui import pages, session

CITY = "430200000000"
PW = "Kennwort-2026"


@pytest.fixture
def users(tmp_path, monkeypatch):
    return users_file(tmp_path, monkeypatch, (("admin02", "admin"),))


# --- 1. another app on the same host opens a websocket with the user's cookie ------------------------------------

def test_a_websocket_from_another_origin_is_closed_even_with_a_live_cookie(users):
    # Shows: the middleware let a websocket through on the cookie alone, whatever page opened it.
    app = site()
    admin = Browser(app)
    admin.sign_in("admin01", PW)
    cookie = admin._cookie_header("/")
    for origin in ("http://127.0.0.1:9999", "http://localhost:8501", "http://evil.example", "null"):
        sent = websocket(app, headers=[*cookie, ("origin", origin)])
        assert sent == [{"type": "websocket.close", "code": 1008}], origin
    own = websocket(app, headers=[*cookie, ("origin", "http://127.0.0.1:8501")])  # the app's own page
    assert own[0]["type"] == "websocket.accept"


@pytest.mark.browser
def test_a_page_on_another_port_cannot_use_the_signed_in_session(chromium_path, tmp_path_factory):
    # Shows, against the real server in Chromium: after admin01 signs in, a page served from another port of
    # 127.0.0.1 (another app on the same machine, or a script injected into one) opens ws://…/_stcore/stream;
    # the browser sends admin01's cookie with it (same site: ports do not separate cookies), Streamlit's own
    # Origin check lets 127.0.0.1 in on any port, and the page received the app as admin01 drew it.
    from playwright.sync_api import sync_playwright
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    from browser_support import CHROMIUM_ARGS

    d = tmp_path_factory.mktemp("cswsh")
    env = {"MINSHENG_USERS": str(d / "users.json"), "MINSHENG_AUDIT": str(d / "audit.log")}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        mp.setattr(auth, "hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        auth.add_user("admin01", "admin", CITY, PW)
    server = StreamlitServer(APP_SCRIPT, ROOT, "cswsh", env=env).start()
    port = int(server.url.rsplit(":", 1)[1])
    run = BackMsg()
    run.rerun_script.query_string = ""
    attack = f"""<!doctype html><script>
window.got = []; window.state = 'connecting';
const ws = new WebSocket('ws://127.0.0.1:{port}/_stcore/stream', ['streamlit']);
ws.binaryType = 'arraybuffer';
ws.onopen = () => {{ window.state = 'open';
  ws.send(Uint8Array.from(atob('{base64.b64encode(run.SerializeToString()).decode()}'), c => c.charCodeAt(0))); }};
ws.onmessage = (e) => {{ let s = ''; for (const x of new Uint8Array(e.data)) s += String.fromCharCode(x);
  window.got.push(btoa(s)); }};
ws.onclose = () => {{ window.state = 'closed'; }};
</script>"""

    class Evil(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(attack.encode())

        def log_message(self, *args):
            pass

    evil = http.server.HTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
            try:
                ctx, page, _ = new_page(browser)
                page.goto(f"{server.url}/")
                page.get_by_label("用户名").fill("admin01")
                page.get_by_label("密码", exact=True).fill(PW)
                page.get_by_role("button", name="登录").click()
                page.wait_for_url(re.compile(r"127\.0\.0\.1:\d+/\?"))
                wait_idle(page)
                assert "admin01" in page.locator('[data-testid="stSidebar"]').inner_text()  # signed in, for real
                other = ctx.new_page()
                other.goto(f"http://127.0.0.1:{evil.server_port}/")
                other.wait_for_function("window.state === 'closed' || window.got.length > 20", timeout=30_000)
                other.wait_for_timeout(1500)
                drawn = []
                for frame in other.evaluate("window.got"):
                    msg = ForwardMsg()
                    msg.ParseFromString(base64.b64decode(frame))
                    drawn.append(str(msg))
                assert "admin01" not in "\n".join(drawn)       # the page did not get the admin's app …
                assert other.evaluate("window.state") == "closed"  # … its websocket was closed
            finally:
                browser.close()
    finally:
        evil.shutdown()
        server.stop()


# --- 2. a callback before the gate --------------------------------------------------------------------------------

GOOD = ("指标编码,区划代码,时期,数值\n"
        "mz_dibao_urban_persons,430204901000,2026-11,120\n").encode("utf-8-sig")


def _revoke(how: str, token: str) -> None:
    if how == "demoted":
        auth.set_role("admin01", "viewer")
    elif how == "disabled":
        auth.disable("admin01")
    elif how == "revoked":
        auth.end_sessions("admin01", by="admin02")
    else:  # signed out in another tab of the same browser
        web.end_session(token, "test")


@pytest.mark.parametrize("how", ["demoted", "disabled", "revoked", "signed-out"])
def test_an_admin_no_longer_signed_in_cannot_roll_back_from_a_page_left_open(users, tmp_path, monkeypatch, how):
    # Shows: 回退's on_click callback runs before the router (and so before signin.gate()); session.user() then
    # still answered the admin of the page's last run, and the rollback was made, in the admin's name, after the
    # admin's session had ended or the role was taken away.
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    monkeypatch.setenv("MINSHENG_DATA", str(data))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.run()
    token = sessions.create("admin01", source="test")
    at.session_state[session.HARNESS] = token
    at.run()
    at.switch_page(pages.get("import").script).run()
    at.file_uploader(key="imp_file").set_value(("good.csv", GOOD, "text/csv")).run()
    at.button(key="imp_commit").click().run()
    imported = store.current(data)
    assert imported != store.BASE
    at.selectbox(key="imp_rollback_to").set_value(store.BASE).run()
    at.checkbox(key="imp_rollback_sure").check().run()
    before = store.history(data)
    _revoke(how, token)
    at.button(key="imp_rollback").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert store.history(data) == before and store.current(data) == imported   # nothing rolled back
    assert not at.get("link_button") or at.get("link_button")[0].proto.url.startswith("/signin?")


def test_an_admin_still_signed_in_rolls_back_with_one_click(users, tmp_path, monkeypatch):
    # The other side of the test above: the fix must not take the rollback away from a signed-in admin.
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    monkeypatch.setenv("MINSHENG_DATA", str(data))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.run()
    at.session_state[session.HARNESS] = sessions.create("admin01", source="test")
    at.run()
    at.switch_page(pages.get("import").script).run()
    at.file_uploader(key="imp_file").set_value(("good.csv", GOOD, "text/csv")).run()
    at.button(key="imp_commit").click().run()
    imported = store.current(data)
    at.selectbox(key="imp_rollback_to").set_value(store.BASE).run()
    at.checkbox(key="imp_rollback_sure").check().run()
    at.button(key="imp_rollback").click().run()
    assert not at.exception, [e.value for e in at.exception]
    hist = store.history(data)
    assert hist[0]["action"] == "rollback" and hist[1]["id"] == imported and hist[0]["user"] == "admin01"
    assert any("已回退到" in s.value for s in at.success)
    assert at.checkbox(key="imp_rollback_sure").value is False


# --- 3. a download "link" is its content ---------------------------------------------------------------------------

def test_the_same_file_is_still_downloadable_after_the_link_lifetime(users, monkeypatch):
    # Showed: Streamlit names a download by a hash of its bytes, type and file name (the same chart, the same
    # 问题清单, the same selection within a minute are the same /media/ path for every click and every user),
    # so the middleware's "five minutes after its first use" refused a file someone built and asked for just
    # now, because someone else (or the same analyst) had downloaded the same bytes earlier. The lifetime now
    # runs from each browser's own last export click (exports.audited → web.note_export).
    from streamlit.runtime.media_file_storage import MediaFileKind
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    storage = MemoryMediaFileStorage("/media")
    first = storage.load_and_get_id(b"a,b\n1,2\n", "text/csv", MediaFileKind.DOWNLOADABLE, "download.csv")
    again = storage.load_and_get_id(b"a,b\n1,2\n", "text/csv", MediaFileKind.DOWNLOADABLE, "download.csv")
    assert first == again                                   # a new click on the same export: the same link
    clock = [100.0]
    monkeypatch.setattr(web.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(web, "exported", web._Bound())
    app = site()
    analyst, admin = Browser(app), Browser(app)
    analyst.sign_in("analyst01", PW)
    admin.sign_in("admin01", PW)
    web.note_export(sessions.digest(analyst.session))
    assert analyst.get("/media/download.csv").status == 200
    clock[0] += web.MEDIA_TTL + 60                          # six minutes later, the same export, built anew
    web.note_export(sessions.digest(admin.session))
    assert admin.get("/media/download.csv").status == 200
    web.note_export(sessions.digest(analyst.session))
    assert analyst.get("/media/download.csv").status == 200


# --- 4. a sign-out undone by another tab's touch -------------------------------------------------------------------

def test_a_session_signed_out_while_another_tab_moves_its_idle_deadline_stays_over(users, monkeypatch):
    # Shows: check() moves the idle deadline by rewriting the session file after asking whether it still exists;
    # a sign-out (another tab's 退出登录, or `users sessions --revoke`) landing between the two was undone: the
    # rewrite brought the file back and the signed-out cookie worked again. The disk here is made slow (the write
    # waits until the sign-out is done) so that the interleaving, which a busy server meets by chance, happens.
    # (The fix sets the file's time instead, which fails on a file that is gone.)
    now = [2_000_000.0]
    monkeypatch.setattr(sessions, "clock", lambda: now[0])
    token = sessions.create("viewer01", source="test")
    now[0] += sessions.TOUCH + 1                            # the next check writes the new last-seen time
    writing, signed_out = threading.Event(), threading.Event()

    def slow(call):  # the disk takes its time with the write that moves the deadline (a rewrite or a touch)
        def slowly(*args, **kwargs):
            writing.set()
            signed_out.wait(10)
            return call(*args, **kwargs)
        return slowly

    with monkeypatch.context() as disk:
        disk.setattr(sessions.files, "write_json", slow(sessions.files.write_json))
        disk.setattr(sessions.os, "utime", slow(sessions.os.utime))
        tab = threading.Thread(target=sessions.check, args=(token,))
        tab.start()
        assert writing.wait(10)
        assert sessions.end(token) is not None              # 退出登录 in the other tab, meanwhile
        signed_out.set()
        tab.join(10)
    assert sessions.check(token) is None                    # and it stays signed out
    assert not sessions.sessions("viewer01")


# --- 5. two sign-in tabs --------------------------------------------------------------------------------------------

def test_the_first_of_two_sign_in_tabs_still_signs_in(users):
    # Shows: every sign-in page set a new form token in the one CSRF cookie, so only the tab drawn last could sign
    # in. When a session ends, every open tab of the app goes to /signin at its next click; the user types into
    # the first one and was told 登录表单已失效 (403). Not a hole, a lock-out of the right user.
    app = site()
    b = Browser(app)
    first = b.get("/signin?next=%2Ftrend")
    b.get("/signin?next=%2Fmap")                            # another tab of the same browser, drawn after
    r = b.post("/signin", {"csrf": b.csrf(first), "next": "/trend", "name": "viewer01", "password": PW})
    assert r.status == 303 and r.location == "/trend" and b.session
