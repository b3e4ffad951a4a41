"""Sign-in and roles in the app (AppTest): the users-file sign-in form, lockout, what each role sees,
single-user mode and its address check, and the audit records of sign-ins, exports and imports."""

from __future__ import annotations

import json

import pytest
from argon2 import PasswordHasher
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.util import patch_config_options

from conftest import ROOT, app
from minsheng import audit, auth, sessions
from minsheng.ui import pages, session, signin

CITY = "430200000000"       # 株洲市 in the demo data
SHIFENG = "430204000000"
PW = "Kennwort-2026"
PAGES = tuple(p.key for p in pages.BROWSE)  # every page a viewer can open (the registry)


@pytest.fixture
def users(tmp_path, monkeypatch):
    """A users file with one user per role (a cheap hasher: tests only)."""
    monkeypatch.setenv("MINSHENG_USERS", str(tmp_path / "users.json"))
    monkeypatch.setenv("MINSHENG_AUDIT", str(tmp_path / "audit.log"))
    monkeypatch.setattr(auth, "hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    for name, role in (("viewer01", "viewer"), ("analyst01", "analyst"), ("admin01", "admin")):
        auth.add_user(name, role, CITY, PW)
    return tmp_path


@pytest.fixture
def deferred(monkeypatch):
    """Download callables by file id, as the server would keep them until a click."""
    kept = {}
    original = MediaFileManager.add_deferred

    def add(self, data_callable, *args, **kwargs):
        file_id = original(self, data_callable, *args, **kwargs)
        kept[file_id] = data_callable
        return file_id

    monkeypatch.setattr(MediaFileManager, "add_deferred", add)
    return kept


def start(**params) -> AppTest:
    return app(**params)


def sign_in(at: AppTest, name: str, password: str = PW) -> AppTest:
    """What the sign-in page (minsheng/web.py) does — check the password, make a session — and the session's
    token where AppTest, which has no browser and so no cookies, lets the gate read it (session.HARNESS)."""
    u = auth.authenticate(name, password, source="test")
    at.session_state[session.HARNESS] = sessions.create(u.name, source="test")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def as_user(name: str, page: str | None = None, **params) -> AppTest:
    at = sign_in(start(**params), name)
    if page:
        at.switch_page(pages.get(page).script).run()
        assert not at.exception, [e.value for e in at.exception]
    return at


def downloads(at: AppTest) -> list[str]:
    return [b.proto.label for b in at.get("download_button")]


def events(action: str | None = None) -> list[dict]:
    return [e for e in audit.read(None) if action is None or e["action"] == action]


def texts(elements) -> str:
    """The elements' markdown less the invisible word joiners that names get (minsheng/literal.py)."""
    return " ".join(e.value for e in elements).replace("\u2060", "")


# --- signing in ----------------------------------------------------------------------------------

def link_target(at: AppTest) -> str:
    [button] = at.get("link_button")
    return button.proto.url


def test_users_file_requires_sign_in_then_shows_the_app(users):
    at = start(region=SHIFENG)
    assert not at.metric and not at.get("plotly_chart")          # nothing of the data before sign-in
    assert link_target(at).startswith("/signin?next=")           # the sign-in page, and back here after
    assert "region%3D430204000000" in link_target(at)
    assert "未启用登录" not in texts(at.warning)
    sign_in(at, "analyst01")
    assert at.title[0].value == "总览" and at.metric
    assert at.selectbox(key="_w_region").value == SHIFENG
    assert "analyst01" in texts(at.sidebar.caption) and "分析" in texts(at.sidebar.caption)
    [e] = events("sign-in")
    assert (e["user"], e["detail"]["method"]) == ("analyst01", "password")
    token = at.session_state[session.HARNESS]
    at.button(key="ms_signout").click().run()
    assert sessions.check(token) is None and not sessions.sessions("analyst01")   # over on the server
    at.run()
    assert not at.metric and link_target(at).startswith("/signin?")
    [out] = events("sign-out")
    assert out["user"] == "analyst01" and out["detail"]["reason"] == "signed-out"


def test_a_session_of_someone_else_or_none_is_nobody(users):
    at = sign_in(start(), "admin01")
    assert at.metric
    at.session_state[session.HARNESS] = "A" * 43                   # a cookie the server never issued
    at.run()
    assert not at.metric and not at.sidebar.caption
    at.session_state[session.HARNESS] = sessions.create("viewer01")
    at.run()
    assert "viewer01" in texts(at.sidebar.caption) and "admin01" not in texts(at.sidebar.caption)


def test_role_change_and_disable_apply_at_once(users):
    at = as_user("admin01", "explore")
    assert "下载 CSV" in downloads(at)
    auth.set_role("admin01", "viewer")                            # ends the session: out at the next click
    at.run()
    assert not at.metric and not downloads(at) and "revoked" in link_target(at)
    out = events("sign-out")[-1]                                   # written by the change, once, not by each tab
    assert (out["user"], out["detail"]["reason"], out["detail"]["ended"]) == ("admin01", "changed", 1)
    sign_in(at, "admin01")
    at.switch_page(pages.get("explore").script).run()
    assert not downloads(at) and "浏览" in texts(at.sidebar.caption)  # signed in again: a viewer now
    auth.disable("admin01")
    at.run()
    assert not downloads(at) and not at.sidebar.caption and link_target(at).startswith("/signin?")


# --- roles ---------------------------------------------------------------------------------------

def test_viewer_sees_no_downloads_and_no_import_page(users):
    at = as_user("viewer01")
    for page in PAGES:
        at.switch_page(pages.get(page).script).run()
        assert not at.exception and not downloads(at), page
        assert "下载和导出需要“分析”或“管理员”角色" in texts(at.caption), page
    with pytest.raises(ValueError, match="import_page"):         # not in the navigation at all
        at.switch_page("views/import_page.py")


def test_analyst_exports_but_cannot_import(users):
    at = as_user("analyst01", "explore")
    assert downloads(at) == ["下载 CSV", "下载 XLSX", "导出汇报材料"]
    at.switch_page("views/trend.py").run()
    assert {"下载 PNG", "下载 SVG", "导出汇报材料"} <= set(downloads(at))
    with pytest.raises(ValueError, match="import_page"):
        at.switch_page("views/import_page.py")


def test_admin_sees_exports_and_the_import_page(users):
    at = as_user("admin01", "explore")
    assert "下载 XLSX" in downloads(at)
    at.switch_page("views/import_page.py").run()
    assert not at.exception and at.file_uploader(key="imp_file") is not None
    assert "无权限" not in texts(at.error)


def test_sidebar_names_user_role_and_area(users):
    auth.set_area("viewer01", SHIFENG)
    at = as_user("viewer01")
    caption = texts(at.sidebar.caption)
    assert "viewer01" in caption and "浏览" in caption and "石峰区" in caption


# --- OpenID Connect ------------------------------------------------------------------------------

OIDC_SECRETS = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                         "client_id": "dashboard", "client_secret": "s", "server_metadata_url": "http://idp.invalid/"},
                "minsheng_oidc": {"role": "groups", "area": "region", "roles": {"mz-staff": "viewer",
                                                                                "mz-analysts": "analyst"}}}


def oidc_app(claims: dict | None, page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.secrets.update(OIDC_SECRETS)
    at.user = {"is_logged_in": True, **claims} if claims else {"is_logged_in": False}
    at.run()
    if page:
        at.switch_page(pages.get(page).script).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_oidc_offers_single_sign_on_instead_of_the_form(users):
    at = oidc_app(None)
    assert [b.label for b in at.button] == ["使用统一身份认证登录"]
    assert not at.text_input and not at.metric


def test_oidc_claims_give_role_and_area(users):
    at = oidc_app({"email": "W@example.cn", "sub": "s-1", "groups": ["mz-staff", "mz-analysts"],
                   "region": "430204"}, "explore")
    assert "下载 CSV" in downloads(at)
    caption = texts(at.sidebar.caption)
    assert "W@example.cn" in caption and "分析" in caption and "石峰区" in caption
    at.run()
    [e] = events("sign-in")                                     # once per session, not per run
    assert e["detail"] == {"method": "oidc", "role": "analyst", "area": SHIFENG}


def test_oidc_identity_without_role_is_refused(users):
    at = oidc_app({"email": "stranger@example.cn", "sub": "s-9"})
    assert "未获授权" in texts(at.error) and not at.metric
    at.run()
    assert [e["user"] for e in events("sign-in-failed")] == ["stranger@example.cn"]


# --- single-user mode ----------------------------------------------------------------------------

def test_single_user_mode_banner_and_full_rights():
    at = start()
    assert "未启用登录" in texts(at.warning) and "未启用登录" in texts(at.sidebar.caption)
    assert not at.text_input                                   # no sign-in form
    at.switch_page("views/import_page.py").run()
    assert not at.exception and at.file_uploader(key="imp_file") is not None
    assert not at.get("button") or not [b for b in at.button if b.key == "ms_signout"]


def test_single_user_mode_banner_hidden_in_presentation_mode():
    assert "未启用登录" not in texts(start(present="1").warning)


@pytest.mark.parametrize("address", [None, "0.0.0.0", "192.168.1.20"])
def test_single_user_mode_refuses_a_public_address(address):
    with patch_config_options({"server.address": address}):
        at = start()
    assert "只能在本机地址（127.0.0.1）上提供服务" in texts(at.error)
    assert not at.metric and not at.sidebar.caption


def test_single_user_mode_on_a_public_address_when_allowed(monkeypatch, capfd):
    monkeypatch.setenv(session.ALLOW_ENV, "1")
    monkeypatch.setattr(signin, "_warned", False)
    with patch_config_options({"server.address": "0.0.0.0"}):
        at = start()
        at.run()
    assert "未启用登录，且看板对网络开放" in texts(at.error) and at.metric
    assert capfd.readouterr().err.count("看板未启用登录") == 1     # once per process, not per run


@pytest.mark.parametrize("address,loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                              ("127.0.0.2", True), ("0.0.0.0", False), ("", False),
                                              (None, False), ("10.0.0.1", False), ("example", False)])
def test_is_loopback(address, loopback):
    assert session.is_loopback(address) is loopback


def test_area_fails_closed_outside_a_session():
    assert session.user() is None and not session.can("browse")
    with pytest.raises(session.NotSignedIn):
        session.area()


# --- audit ---------------------------------------------------------------------------------------

def test_export_is_audited_when_the_file_is_built(users, deferred):
    at = as_user("analyst01", "explore")
    assert not events("export")                                 # drawing a button builds nothing
    csv = next(b for b in at.get("download_button") if b.proto.label == "下载 CSV")
    payload = deferred[csv.proto.deferred_file_id]()             # what a click runs, on another thread
    assert payload.startswith(b"\xef\xbb\xbf")
    [e] = events("export")
    assert (e["user"], e["source"]) == ("analyst01", "localhost")
    d = e["detail"]
    assert d["page"] == "数据" and d["format"] == "csv" and d["region"] == CITY
    assert d["indicators"] and d["rows"] > 0 and d["bytes"] == len(payload)


def test_import_commit_is_audited(users, tmp_path, monkeypatch):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    monkeypatch.setenv("MINSHENG_DATA", str(data))
    good = ("指标编码,区划代码,时期,数值\nmz_dibao_urban_persons,430204901000,2026-11,120\n").encode("utf-8-sig")
    at = as_user("admin01", "import")
    at.file_uploader(key="imp_file").set_value(("石峰区11月.csv", good, "text/csv")).run()
    at.button(key="imp_commit").click().run()
    assert any("已导入" in s.value for s in at.success)
    [e] = events("import")
    assert e["user"] == "admin01" and e["source"] == "localhost"
    assert e["detail"]["file"] == "石峰区11月.csv" and e["detail"]["ok"] and e["detail"]["rows"]["新增"] == 1
    from minsheng import store

    assert store.history(data)[0]["user"] == "admin01"
    at.selectbox(key="imp_rollback_to").set_value(store.BASE).run()
    at.checkbox(key="imp_rollback_sure").check().run()
    at.button(key="imp_rollback").click().run()
    [r] = events("rollback")
    assert r["user"] == "admin01" and r["detail"]["to"] == store.BASE and r["detail"]["ok"]
    assert all(json.dumps(x, ensure_ascii=False).count(PW) == 0 for x in events())


def test_a_rollback_clicked_after_the_session_ended_changes_nothing(users, tmp_path, monkeypatch):
    # 回退 is a callback: Streamlit runs it before the script, so before the gate checks the cookie again
    import shutil

    from minsheng import store

    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    monkeypatch.setenv("MINSHENG_DATA", str(data))
    good = ("指标编码,区划代码,时期,数值\nmz_dibao_urban_persons,430204901000,2026-11,120\n").encode("utf-8-sig")
    at = as_user("admin01", "import")
    at.file_uploader(key="imp_file").set_value(("石峰区11月.csv", good, "text/csv")).run()
    at.button(key="imp_commit").click().run()
    before = store.history(data)
    at.selectbox(key="imp_rollback_to").set_value(store.BASE).run()
    at.checkbox(key="imp_rollback_sure").check().run()
    sessions.revoke("admin01")                                   # signed out elsewhere, or revoked by another admin
    at.button(key="imp_rollback").click().run()
    assert store.history(data) == before and not events("rollback")
    at = as_user("admin01", "import")                            # the same for an admin demoted meanwhile
    at.selectbox(key="imp_rollback_to").set_value(store.BASE).run()
    at.checkbox(key="imp_rollback_sure").check().run()
    token = at.session_state[session.HARNESS]
    path = auth.users_path()
    rec = json.loads(path.read_text(encoding="utf-8"))
    rec["users"]["admin01"]["role"] = "viewer"                   # an edit of the file the session check sees
    path.write_text(json.dumps(rec), encoding="utf-8")
    at.button(key="imp_rollback").click().run()
    assert store.history(data) == before and not events("rollback") and sessions.check(token) is None


def test_sign_in_strings_have_english():
    import ast

    from minsheng import i18n

    for module in ("minsheng/ui/signin.py", "minsheng/ui/exports.py", "views/users.py", "minsheng/ui/accounts.py"):
        tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "T" and node.args \
                    and isinstance(node.args[0], ast.Constant) and "{year}" not in node.args[0].value:
                assert node.args[0].value in i18n.EN, (module, node.args[0].value)


def test_command_line_export_and_rollback_are_audited(tmp_path, fixture_dir, monkeypatch):
    import os
    import shutil
    import subprocess
    import sys

    data = tmp_path / "data"
    shutil.copytree(fixture_dir, data)
    env = dict(os.environ, MINSHENG_DATA=str(data), MINSHENG_AUDIT=str(tmp_path / "audit.log"))
    run = lambda *a: subprocess.run([sys.executable, "-m", "minsheng", *a], env=env, cwd=ROOT,  # noqa: E731
                                    capture_output=True, text=True, timeout=120)
    assert run("export", "--indicator", "cnt", "--out", str(tmp_path / "x.csv")).returncode == 0
    assert run("rollback", "nope").returncode == 2
    monkeypatch.setenv("MINSHENG_AUDIT", str(tmp_path / "audit.log"))
    ex, rb = events("export"), events("rollback")
    assert len(ex) == 1 and ex[0]["source"] == "cli" and ex[0]["user"]
    assert ex[0]["detail"]["format"] == "csv" and ex[0]["detail"]["indicators"] == ["cnt"] and ex[0]["detail"]["rows"] > 0
    assert len(rb) == 1 and rb[0]["detail"] == {"to": "nope", "ok": False, "error": rb[0]["detail"]["error"]}
