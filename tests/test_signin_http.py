"""Sign-in that lasts (issue 14): the sign-in routes, the session store and the middleware, over ASGI in-process.

Each test drives the real routes and middleware of minsheng/web.py (tests/asgi_support.py) with a users file
of its own; what Streamlit would serve behind them is a stand-in. Expected values come from the test's own
setup (the users it made, the lifetimes it set), never from the product's output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from asgi_support import Browser, users_file, call, site, websocket
from conftest import ROOT
from minsheng import audit, auth, sessions, web

CITY, SHIFENG = "430200000000", "430204000000"
PW = "Kennwort-2026"


@pytest.fixture
def users(tmp_path, monkeypatch):
    return users_file(tmp_path, monkeypatch)


@pytest.fixture
def app(users):
    return site()


def events(action: str) -> list[dict]:
    return [e for e in audit.read(None) if e["action"] == action]


def cookie_attrs(reply, name: str) -> dict[str, str]:
    raw = next(c for c in reply.all("set-cookie") if c.startswith(name + "="))
    parts = [p.strip() for p in raw.split(";")]
    return {p.split("=")[0].lower(): (p.split("=", 1)[1] if "=" in p else True) for p in parts[1:]}


def error_of(reply) -> str:
    m = re.search(r'<p class="err" role="alert">(.*?)</p>', reply.text)
    return m.group(1) if m else ""


# --- nothing without a session -----------------------------------------------------------------------------

def test_without_a_session_pages_go_to_sign_in_and_everything_else_is_refused(app):
    r = call(app, "GET", "/trend?region=430204000000&inds=a&inds=b")
    assert r.status == 303
    target = urlsplit(r.location)
    assert target.path == "/signin"
    assert parse_qs(target.query)["next"] == ["/trend?region=430204000000&inds=a&inds=b"]
    assert call(app, "GET", "/media/download.csv").status == 403
    assert call(app, "GET", "/media/icon.png").status == 403
    assert call(app, "PUT", "/_stcore/upload_file/abc/def").status == 403
    assert call(app, "GET", "/_stcore/metrics").status == 403
    assert call(app, "POST", "/").status == 403
    assert call(app, "GET", "/_stcore/health").body == b"APP"          # public: load balancers ask it
    assert call(app, "GET", "/static/js/index.js").body == b"APP"
    closed = websocket(app)
    assert closed == [{"type": "websocket.close", "code": 1008}]       # closed before the app saw it


def test_the_agent_api_is_never_served(users, monkeypatch):
    app = site()
    for path in ("/_stcore/agent/interact", "/_stcore/agent/openapi.json", "/_stcore/agent/mcp"):
        assert call(app, "GET", path).status == 404
        assert call(app, "POST", path).status == 404
    monkeypatch.setenv("MINSHENG_USERS", str(users / "none.json"))    # single-user mode too
    assert call(app, "GET", "/_stcore/agent/openapi.json").status == 404
    assert call(app, "GET", "/").body == b"APP"


# --- signing in -----------------------------------------------------------------------------------------------

def test_sign_in_sets_an_httponly_lax_cookie_and_lands_on_the_link(app):
    b = Browser(app)
    link = "/map?region=430204000000&ind=rate"
    r = b.sign_in("analyst01", PW, link)
    assert r.status == 303 and r.location == link
    attrs = cookie_attrs(r, sessions.COOKIE)
    assert attrs["httponly"] is True and attrs["samesite"] == "Lax" and attrs["path"] == "/"
    assert int(attrs["max-age"]) == 7 * 24 * 3600 and "secure" not in attrs
    assert sessions.well_formed(b.session)
    assert b.get(link).body == b"APP"                                   # a reload, a new tab, a pasted link
    assert b.get("/goals?gmonth=7").body == b"APP"
    assert b.get("/signin?next=/trend").location == "/trend"            # already signed in: straight on
    [e] = events("sign-in")
    assert (e["user"], e["detail"]["method"]) == ("analyst01", "password")
    # the token is only in the cookie: the server keeps its digest
    stored = [p.name for p in (users_dir(app) / "users.json.sessions").iterdir()]
    assert stored == [sessions.digest(b.session) + ".json"] and b.session not in " ".join(stored)


def users_dir(_app):
    return auth.users_path().parent


def test_over_https_the_cookie_is_secure(app):
    page = call(app, "GET", "/signin", scheme="https")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    jar = re.match(r"ms_csrf=([^;]+)", page.header("set-cookie")).group(1)
    from urllib.parse import urlencode

    r = call(app, "POST", "/signin", [("cookie", f"ms_csrf={jar}"), ("origin", "https://127.0.0.1:8501"),
                                      ("content-type", "application/x-www-form-urlencoded")],
             urlencode({"csrf": csrf, "name": "viewer01", "password": PW, "next": "/"}).encode(), scheme="https")
    assert r.status == 303 and cookie_attrs(r, sessions.COOKIE).get("secure") is True


@pytest.mark.parametrize("asked,landed", [
    ("/trend?x=1", "/trend?x=1"), ("https://evil.example/", "/"), ("//evil.example/x", "/"), ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"), ("/signout", "/"), ("", "/"), ("/ok\r\nSet-Cookie: x=1", "/"),
])
def test_the_way_back_is_only_ever_a_path_of_this_app(app, asked, landed):
    assert web.safe_next(asked) == landed
    assert Browser(app).sign_in("viewer01", PW, asked).location == landed


def test_wrong_password_five_times_locks_the_account(app, users):
    b = Browser(app)
    for _ in range(auth.MAX_FAILURES - 1):
        r = b.sign_in("viewer01", "not-the-password")
        assert r.status == 401 and error_of(r) == "用户名或密码错误" and b.session is None
    assert "账户已锁定，请 15 分钟后再试" in error_of(b.sign_in("viewer01", "not-the-password"))
    r = b.sign_in("viewer01", PW)                                      # the right password does not help now
    assert "账户已锁定" in error_of(r) and b.session is None
    failed = events("sign-in-failed")
    assert len(failed) == auth.MAX_FAILURES + 1 and not events("sign-in")
    assert [e["detail"]["reason"] for e in failed[-2:]] == ["locked-now", "locked"]
    for f in ("users.json", "audit.log"):
        text = (users / f).read_text(encoding="utf-8")
        assert PW not in text and "not-the-password" not in text
    assert 'value="viewer01"' in b.sign_in("viewer01", "x").text       # the name stays filled in, never the password
    assert "not-the-password" not in b.sign_in("viewer01", "not-the-password").text


def test_unknown_user_and_empty_fields(app):
    b = Browser(app)
    assert error_of(b.sign_in("nobody", PW)) == "用户名或密码错误"
    assert error_of(b.sign_in("", "")) == "请输入用户名和密码"
    assert b.session is None


def test_a_disabled_account_is_refused_with_its_reason(app):
    auth.disable("viewer01")
    b = Browser(app)
    assert error_of(b.sign_in("viewer01", PW)) == auth.DISABLED and b.session is None


def test_hostile_names_and_links_are_text_on_the_sign_in_page(app):
    b = Browser(app)
    evil = '"><script>alert(1)</script>'
    page = b.get("/signin?next=" + "/%22%3E%3Cscript%3Ealert(1)%3C/script%3E")
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    r = b.sign_in(evil, PW)
    assert "<script>alert" not in r.text and "&quot;&gt;&lt;script&gt;" in r.text


# --- cross-site posts and floods ----------------------------------------------------------------------------

def test_a_cross_site_post_is_refused(app):
    b = Browser(app)
    page = b.get("/signin")
    form = {"csrf": b.csrf(page), "next": "/", "name": "viewer01", "password": PW}
    assert b.post("/signin", form, [("origin", "https://evil.example")]).status == 403
    assert b.post("/signin", form, [("origin", "null"), ("sec-fetch-site", "cross-site")]).status == 403
    assert b.post("/signin", form, [("sec-fetch-site", "same-site")]).status == 403
    assert b.post("/signin", form, []).status == 403                    # neither Origin nor Sec-Fetch-Site
    assert b.post("/signin", {**form, "csrf": "forged"}).status == 403  # the token must be the cookie's
    b.jar.pop(web.CSRF_COOKIE)
    assert b.post("/signin", form).status == 403                        # and the cookie must be there
    assert b.session is None and not events("sign-in")
    assert "登录表单已失效" in error_of(b.post("/signin", form))
    assert Browser(app).sign_in("viewer01", PW).status == 303           # a real form still works


def test_sign_in_posts_are_limited_per_client_address(app):
    one, other = Browser(app, client=("10.1.1.1", 1)), Browser(app, client=("10.1.1.2", 1))
    names = [f"guess{i}" for i in range(web.SIGNIN_PER_ADDRESS)]
    for n in names:                                                     # many accounts, one address
        assert one.sign_in(n, "x").status == 401
    r = one.sign_in("viewer01", PW)
    assert r.status == 429 and "登录尝试过多" in error_of(r) and one.session is None
    assert events("sign-in-failed")[-1]["detail"]["reason"] == "rate-limited"
    assert other.sign_in("viewer01", PW).status == 303                  # another address is not held up


def test_an_oversized_or_malformed_form_is_refused(app):
    b = Browser(app)
    b.get("/signin")
    assert b.post("/signin", {"name": "x" * (web.MAX_FORM + 1), "password": "y"}).status == 400
    r = call(app, "POST", "/signin", [("content-type", "multipart/form-data; boundary=x")], b"--x--")
    assert r.status == 400


# --- lifetimes -------------------------------------------------------------------------------------------------

def test_idle_and_absolute_lifetimes(app, monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(sessions, "clock", lambda: now[0])
    monkeypatch.setenv(sessions.IDLE_ENV, "2h")
    monkeypatch.setenv(sessions.MAX_ENV, "5h")
    b = Browser(app)
    b.sign_in("viewer01", PW)
    for _ in range(2):                                                  # active every 1 h 50 min: still in …
        now[0] += 110 * 60
        assert b.get("/").body == b"APP"
    now[0] += 90 * 60                                                   # … until 5 h after signing in
    r = b.get("/trend")
    assert r.status == 303 and parse_qs(urlsplit(r.location).query)["why"] == ["expired"]
    assert b.session is None                                            # the dead cookie is cleared
    b.sign_in("viewer01", PW)
    now[0] += 2 * 3600 + 1                                              # idle for longer than 2 h
    assert b.get("/").status == 303
    assert not list((auth.users_path().parent / "users.json.sessions").glob("*.json"))


@pytest.mark.parametrize("value,expected", [("8h", 28800), ("90m", 5400), ("3600", 3600), ("7d", 604800),
                                            ("0", 77), ("-5", 77), ("soon", 77), ("", 77), (None, 77)])
def test_lifetime_settings(value, expected):
    assert sessions.seconds(value, 77) == expected


# --- a session ends -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("change", ["disable", "passwd", "role", "area", "remove", "revoke"])
def test_a_change_to_the_user_ends_their_sessions_at_once(app, change):
    b, other = Browser(app), Browser(app)
    b.sign_in("analyst01", PW)
    other.sign_in("viewer01", PW)
    {"disable": lambda: auth.disable("analyst01"), "passwd": lambda: auth.set_password("analyst01", "Neues-2026!"),
     "role": lambda: auth.set_role("analyst01", "viewer"), "area": lambda: auth.set_area("analyst01", SHIFENG),
     "remove": lambda: auth.remove_user("analyst01"), "revoke": lambda: sessions.revoke("analyst01")}[change]()
    assert b.get("/").status == 303 and b.get("/media/download.csv").status == 403
    assert other.get("/").body == b"APP"                                # someone else's session is untouched
    assert not sessions.sessions("analyst01") and len(sessions.sessions("viewer01")) == 1


def test_a_changed_user_is_refused_even_if_the_session_file_stays(app):
    # the fingerprint, not the deletion, is what refuses: a copy of the file brought back changes nothing
    b = Browser(app)
    b.sign_in("analyst01", PW)
    path = auth.users_path().parent / "users.json.sessions" / (sessions.digest(b.session) + ".json")
    kept = path.read_bytes()
    auth.set_password("analyst01", "Neues-2026!")
    path.write_bytes(kept)
    assert b.get("/").status == 303


def test_the_users_command_lists_and_revokes_sessions(app, users, fixture_dir):
    env = dict(os.environ, MINSHENG_USERS=str(users / "users.json"), MINSHENG_AUDIT=str(users / "audit.log"),
               MINSHENG_DATA=str(fixture_dir))
    run = lambda *a: subprocess.run([sys.executable, "-m", "minsheng", "users", *a], text=True,  # noqa: E731
                                    capture_output=True, cwd=ROOT, env=env, timeout=60)
    a, a2, v = Browser(app, client=("10.0.0.7", 1)), Browser(app), Browser(app)
    a.sign_in("analyst01", PW)
    a2.sign_in("analyst01", PW)
    v.sign_in("viewer01", PW)
    listed = run("sessions")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("analyst01") == 2 and listed.stdout.count("viewer01") == 1 and "10.0.0.7" in listed.stdout
    assert a.session not in listed.stdout and sessions.digest(a.session) not in listed.stdout  # never the token
    only = run("sessions", "viewer01")
    assert only.stdout.count("viewer01") == 1 and "analyst01" not in only.stdout
    r = run("sessions", "--revoke", "analyst01")
    assert r.returncode == 0 and "2" in r.stdout, r.stdout + r.stderr
    assert a.get("/").status == 303 and a2.get("/").status == 303 and v.get("/").body == b"APP"
    [e] = [e for e in events("sign-out") if e["detail"].get("reason") == "revoked"]
    assert e["user"] == "analyst01" and e["detail"]["ended"] == 2 and e["detail"]["by"]
    assert run("sessions", "--revoke", "nobody").returncode == 2


def test_the_users_command_removes_a_user(app, users, fixture_dir):
    env = dict(os.environ, MINSHENG_USERS=str(users / "users.json"), MINSHENG_AUDIT=str(users / "audit.log"),
               MINSHENG_DATA=str(fixture_dir))
    run = lambda *a: subprocess.run([sys.executable, "-m", "minsheng", "users", *a], text=True,  # noqa: E731
                                    capture_output=True, cwd=ROOT, env=env, timeout=60)
    b = Browser(app)
    b.sign_in("viewer01", PW)
    assert run("remove", "viewer01").returncode == 0
    assert auth.get_user("viewer01") is None and b.get("/").status == 303
    assert run("remove", "viewer01").returncode == 2                    # not there any more: said so
    assert run("remove", "admin01").returncode == 2                     # the last admin stays while others remain
    assert auth.get_user("admin01") is not None
    removed = [e for e in events("users-change") if e["detail"].get("op") == "remove" and "intent" in e]
    assert [e["detail"]["ok"] for e in removed] == [True, False, False]


def test_signing_out_ends_the_session_for_every_tab(app):
    tab = Browser(app)
    tab.sign_in("viewer01", PW)
    other_tab = Browser(app, jar=tab.jar)                               # the same browser: the same cookie
    page = tab.get("/signout")                                          # a link alone does not sign out …
    assert page.status == 200 and "确定要退出登录吗" in page.text and tab.get("/").body == b"APP"
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    assert tab.post("/signout", {"csrf": csrf}, [("origin", "https://evil.example")]).status == 303
    assert tab.get("/").body == b"APP"                                  # … nor a post from another site
    r = tab.post("/signout", {"csrf": csrf})
    assert r.status == 303 and "why=signed-out" in r.location and tab.session is None
    assert other_tab.get("/").status == 303
    [e] = events("sign-out")
    assert e["user"] == "viewer01" and e["detail"]["reason"] == "signed-out"


# --- a one-time password -----------------------------------------------------------------------------------------

def test_a_one_time_password_must_be_replaced_before_the_app_opens(app):
    auth.add_user("new01", "viewer", SHIFENG, "Einmal-2026x", one_time=True)
    b = Browser(app)
    r = b.sign_in("new01", "Einmal-2026x", "/goals")
    assert r.status == 303 and urlsplit(r.location).path == "/signin/password"
    assert int(cookie_attrs(r, sessions.COOKIE)["max-age"]) == sessions.CHANGE_PASSWORD_MAX
    r2 = b.get("/goals")                                                # not into the app with it
    assert r2.status == 303 and urlsplit(r2.location).path == "/signin/password"
    assert b.get("/media/icon.png").status == 403
    page = b.get(r.location)
    form = {"csrf": b.csrf(page), "next": "/goals"}
    assert "两次输入的密码不一致" in error_of(b.post("/signin/password", {**form, "new": "Eigenes-2026", "again": "x"}))
    page = b.get(r.location)
    form["csrf"] = b.csrf(page)
    assert "不能与一次性密码相同" in error_of(b.post("/signin/password", {**form, "new": "Einmal-2026x",
                                                                           "again": "Einmal-2026x"}))
    form["csrf"] = b.csrf(b.get(r.location))
    assert "至少" in error_of(b.post("/signin/password", {**form, "new": "kurz", "again": "kurz"}))
    form["csrf"] = b.csrf(b.get(r.location))
    done = b.post("/signin/password", {**form, "new": "Eigenes-2026", "again": "Eigenes-2026"})
    assert done.status == 303 and done.location == "/goals" and b.get("/goals").body == b"APP"
    assert not auth.get_user("new01").must_change
    assert Browser(app).sign_in("new01", "Einmal-2026x").status == 401  # the one-time password is spent
    assert Browser(app).sign_in("new01", "Eigenes-2026").status == 303


# --- downloads ---------------------------------------------------------------------------------------------------

def test_download_links_need_the_cookie_an_export_role_and_expire(app, monkeypatch):
    clock = [5000.0]
    monkeypatch.setattr(web.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(web, "exported", web._Bound())
    viewer, analyst = Browser(app), Browser(app)
    viewer.sign_in("viewer01", PW)
    analyst.sign_in("analyst01", PW)
    web.note_export(sessions.digest(viewer.session))                     # even were a viewer's click to build one
    assert call(app, "GET", "/media/download.csv").status == 403        # no cookie: nothing
    assert viewer.get("/media/download.csv").status == 403             # a viewer: no data file by any link
    assert viewer.get("/media/icon.png").status == 200                  # pictures on the page still show
    assert analyst.get("/media/download.csv").status == 403            # no click of this browser built it
    web.note_export(sessions.digest(analyst.session))                    # the click (exports.audited)
    r = analyst.get("/media/download.csv")
    assert r.status == 200 and r.body == b"a,b\n1,2\n" and r.header("cache-control") == "no-store"
    clock[0] += web.MEDIA_TTL + 1
    r = analyst.get("/media/download.csv")                              # the link dies MEDIA_TTL after the click
    assert r.status == 403 and "content-disposition" not in dict(r.headers) and b"a,b" not in r.body
    web.note_export(sessions.digest(analyst.session))                    # a new click on the same export: the
    assert analyst.get("/media/download.csv").status == 200             # same content-named link works again


# --- a websocket cannot take over another browser's Streamlit session --------------------------------------------

def test_a_websocket_cannot_resume_a_session_signed_in_with_another_cookie(app):
    admin, viewer = Browser(app), Browser(app)
    admin.sign_in("admin01", PW)
    viewer.sign_in("viewer01", PW)
    web.bound["streamlit-session-of-admin"] = sessions.digest(admin.session)
    asks = "streamlit, xsrf-token, streamlit-session-of-admin"
    theirs = websocket(app, headers=[*viewer._cookie_header("/"), ("sec-websocket-protocol", asks)])
    assert theirs[1]["text"] == "hello streamlit, xsrf-token, "         # the id was dropped: a fresh session
    own = websocket(app, headers=[*admin._cookie_header("/"), ("sec-websocket-protocol", asks)])
    assert own[1]["text"] == "hello " + asks                            # the same browser reconnecting keeps it
    assert websocket(app, headers=[("sec-websocket-protocol", asks)])[0]["code"] == 1008
    unknown = "streamlit, xsrf-token, never-seen-here"                  # an id no run of this cookie had: dropped
    assert websocket(app, headers=[*admin._cookie_header("/"), ("sec-websocket-protocol", unknown)])[1]["text"] \
        == "hello streamlit, xsrf-token, "


# --- headers -------------------------------------------------------------------------------------------------------

def test_hardening_headers_on_every_response(app):
    for path in ("/", "/signin", "/media/icon.png", "/_stcore/health"):
        h = dict(call(app, "GET", path).headers)
        policy = dict(d.strip().split(" ", 1) for d in h["content-security-policy"].split(";"))
        assert policy["default-src"] == "'self'" and policy["connect-src"] == "'self'"
        assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
        assert "http" not in h["content-security-policy"]                 # no other origin anywhere
        assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
        assert h["referrer-policy"] == "no-referrer" and h["x-content-type-options"] == "nosniff"
        assert h["x-frame-options"] == "DENY"
    assert dict(call(app, "GET", "/signin").headers)["cache-control"] == "no-store"


def test_frame_ancestors_for_a_portal(app, monkeypatch):
    monkeypatch.setenv(web.FRAME_ANCESTORS_ENV, "https://portal.example.gov.cn 'self' x;script-src *")
    h = dict(call(app, "GET", "/signin").headers)
    assert "frame-ancestors https://portal.example.gov.cn 'self'" in h["content-security-policy"]
    assert "script-src *" not in h["content-security-policy"] and "x-frame-options" not in h


def test_the_inline_script_allowed_is_streamlits_own():
    import base64
    import hashlib

    import streamlit

    text = (Path(streamlit.__file__).parent / "static" / "index.html").read_text(encoding="utf-8")
    inline = re.findall(r"<script>(.*?)</script>", text, re.S)
    assert inline, "Streamlit's page has its one inline script"
    want = {f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline}
    script_src = next(d for d in web.csp().split("; ") if d.startswith("script-src"))
    assert want <= set(script_src.split()[1:])


def test_the_sessions_folder_is_private(app):
    Browser(app).sign_in("viewer01", PW)
    folder = auth.users_path().parent / "users.json.sessions"
    assert folder.stat().st_mode & 0o077 == 0
    assert all(p.stat().st_mode & 0o077 == 0 for p in folder.iterdir())
    rec = json.loads(next(folder.iterdir()).read_text(encoding="utf-8"))
    assert set(rec) == {"user", "created", "source", "agent", "method", "purpose", "fingerprint"}


def test_the_users_command_hands_out_a_one_time_password(app, users):
    env = dict(os.environ, MINSHENG_USERS=str(users / "users.json"), MINSHENG_AUDIT=str(users / "audit.log"))
    env.pop("MINSHENG_DATA", None)  # the bundled demo data: 株洲市 is in its regions table
    r = subprocess.run([sys.executable, "-m", "minsheng", "users", "add", "clerk07", "--role", "viewer", "--area",
                        CITY, "--one-time"], text=True, capture_output=True, cwd=ROOT, env=env, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    [once] = re.findall(r"一次性密码[^：]*：(\S+)", r.stdout)
    assert len(once) == 12 and once not in (users / "users.json").read_text() + (users / "audit.log").read_text()
    b = Browser(app)
    assert urlsplit(b.sign_in("clerk07", once).location).path == "/signin/password"
    old = Browser(app)
    old.sign_in("viewer01", PW)
    r = subprocess.run([sys.executable, "-m", "minsheng", "users", "passwd", "viewer01", "--one-time"], text=True,
                       capture_output=True, cwd=ROOT, env=env, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and old.get("/").status == 303            # a reset ends the sessions
    [again] = re.findall(r"一次性密码[^：]*：(\S+)", r.stdout)
    assert urlsplit(Browser(app).sign_in("viewer01", again).location).path == "/signin/password"


def test_a_sessions_folder_others_may_write_serves_no_session(app):
    # whoever can write into it (and read users.json, for the fingerprint) could plant a session file
    b = Browser(app)
    b.sign_in("viewer01", PW)
    folder = auth.users_path().parent / "users.json.sessions"
    folder.chmod(0o777)
    try:
        assert b.get("/").status == 303
        r = Browser(app).sign_in("analyst01", PW)
        assert r.status == 401 and "chmod 700" in error_of(r)
    finally:
        folder.chmod(0o700)
    assert b.session is None                                            # its cookie was cleared: sign in again
    assert Browser(app).sign_in("analyst01", PW).status == 303          # made private again: sign-in works
