"""用户管理 (views/users.py) in AppTest: adding a user with a one-time password shown once, changes that end the
user's sessions, revoking sessions, the admin's area limiting whom they see and what they assign, the page
refused to viewers and analysts, the audit log's filters, and the admin kept from locking themselves out."""

from __future__ import annotations

import ast
import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT
from minsheng import audit, auth, files, i18n, repo, sessions
from minsheng.ui import accounts
from test_session import CITY, PW, SHIFENG, sign_in, start, texts, users  # noqa: F401 (users: the fixture)

PAGE = "views/users.py"
TOWN = "430204901000"  # 清水塘街道, in 石峰区


def admin_page(name: str = "admin01", **params) -> AppTest:
    at = sign_in(start(**params), name)
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def names_listed(at: AppTest) -> list[str]:
    return list(at.dataframe[0].value["用户名"])


def log_rows(at: AppTest):
    return at.dataframe[-1].value


def independent_count(user: str | None = None, action: str | None = None) -> int:
    """The lines the viewer should list, counted from the whole log without the product's helpers: of `user`
    (who acted, or detail.name), of `action`; with no action, intents whose outcome is logged are left out."""
    lines = audit.read(None)
    outcomes = {e["intent"] for e in lines if "intent" in e}
    n = 0
    for e in lines:
        if action is None and e["action"] == "intent" and e["id"] in outcomes:
            continue
        if action is not None and e["action"] != action:
            continue
        if user is not None and user not in (e.get("user"), (e.get("detail") or {}).get("name")):
            continue
        n += 1
    return n


def test_an_added_user_gets_a_one_time_password_shown_once(users):
    at = admin_page()
    at.text_input(key="usr_new_name").input("new01")
    at.selectbox(key="usr_new_role").set_value("analyst")
    at.selectbox(key="usr_new_area").set_value(SHIFENG)
    at.button(key="usr_add_go").click().run()
    ok(at)
    [code] = at.code
    pw = code.value
    assert re.fullmatch(r"[A-Za-z0-9]{12}", pw)
    assert "只显示这一次" in texts(at.warning)
    assert "new01" in names_listed(at)                                    # the table shows the new user at once
    u = auth.authenticate("new01", pw, source="test")                     # the password shown works
    assert (u.role, u.area, u.must_change) == (auth.Role.analyst, SHIFENG, True)
    assert pw not in (users / "users.json").read_text(encoding="utf-8")
    assert pw not in (users / "audit.log").read_text(encoding="utf-8")
    [added] = [e for e in audit.read(None) if e["action"] == "users-change" and e["detail"].get("op") == "add"
               and e["detail"]["name"] == "new01"]
    assert (added["user"], added["source"], added["detail"]["ok"]) == ("admin01", "localhost", True)
    at.run()                                                              # any next draw: gone, page and state
    assert not at.code and "只显示这一次" not in texts(at.warning)
    assert "_usr_once" not in at.session_state


def test_a_role_change_on_the_page_ends_the_users_sessions(users):
    sessions.create("viewer01")
    sessions.create("viewer01")
    at = admin_page()
    at.selectbox(key="usr_pick").set_value("viewer01").run()
    assert len(at.dataframe[1].value) == 2                               # 进行中的登录 of viewer01
    at.selectbox(key="usr_role").set_value("analyst").run()
    at.button(key="usr_role_save").click().run()
    ok(at)
    assert auth.get_user("viewer01").role == auth.Role.analyst
    assert sessions.sessions("viewer01") == []
    assert "没有进行中的登录" in texts(at.caption)
    last = [e for e in audit.read(None) if e["action"] == "users-change"][-1]
    assert last["user"] == "admin01" and last["detail"] == {**last["detail"], "name": "viewer01", "role": "analyst",
                                                            "sessions_ended": 2, "ok": True}


def test_sessions_are_revoked_one_or_all_from_the_page(users):
    keep, drop = (sessions.digest(sessions.create("analyst01", source=s))[:8] for s in ("10.0.0.1", "10.0.0.2"))
    sessions.create("analyst01")
    at = admin_page()
    at.selectbox(key="usr_pick").set_value("analyst01").run()
    assert sorted(at.dataframe[1].value["登录编号"]) == sorted(s.short for s in sessions.sessions("analyst01"))
    at.selectbox(key="usr_session").set_value(drop).run()
    at.button(key="usr_revoke_one").click().run()
    ok(at)
    assert drop not in {s.short for s in sessions.sessions("analyst01")} and len(sessions.sessions("analyst01")) == 2
    assert keep in set(at.dataframe[1].value["登录编号"])
    at.button(key="usr_revoke_all").click().run()
    assert sessions.sessions("analyst01") == [] and "没有进行中的登录" in texts(at.caption)
    ends = [e for e in audit.read(None) if e["action"] == "sign-out" and e["user"] == "analyst01"]
    assert [(e["detail"]["ended"], e["detail"]["by"], e["detail"].get("session")) for e in ends] == \
        [(1, "admin01", drop), (2, "admin01", None)]


def test_a_county_admin_sees_and_assigns_only_within_the_county(users):
    auth.add_user("admin02", "admin", SHIFENG, PW)
    auth.add_user("town01", "viewer", TOWN, PW)
    auth.authenticate("viewer01", PW, source="test")                      # a city-wide user's line in the log
    at = admin_page("admin02")
    inside = set(repo.regions(area=SHIFENG)["code"])
    assert sorted(names_listed(at)) == sorted(u.name for u in auth.list_users() if u.area in inside) \
        == ["admin02", "town01"]
    areas = at.selectbox(key="usr_new_area").options                    # 名称（代码）, indented
    assert sorted(re.search(r"（(\d{12})）$", o).group(1) for o in areas) == sorted(inside)  # no village in 石峰区
    assert not any(CITY in o for o in areas + at.selectbox(key="usr_area").options)
    assert {o.split("（")[0] for o in at.selectbox(key="usr_pick").options} == {"admin02", "town01"}
    assert "viewer01" not in set(log_rows(at)["用户"]) | set(log_rows(at)["对象"])
    assert "viewer01" not in at.selectbox(key="usr_log_user").options
    city = admin_page()
    assert "viewer01" in set(log_rows(city)["用户"])                      # the city's admin does see it


def test_viewer_and_analyst_do_not_get_the_page(users):
    for name in ("viewer01", "analyst01"):
        at = sign_in(start(), name)
        with pytest.raises(ValueError, match="users"):                     # not in their navigation at all
            at.switch_page(PAGE)


def _router_listing_every_page(root: str) -> None:
    """A router that forgot to filter the navigation by role: the page must still refuse by itself."""
    import runpy
    import sys

    sys.path.insert(0, root)
    from minsheng.ui import data, frame, pages, signin

    data.begin_run()
    if signin.gate() is not None:
        frame.sidebar(pages.get("users"))
        runpy.run_path(f"{root}/views/users.py")


def test_the_page_refuses_a_viewer_who_reaches_it_another_way(users):
    at = AppTest.from_function(_router_listing_every_page, args=(str(ROOT),), default_timeout=60)
    sign_in(at, "viewer01")
    assert "无权限：用户管理仅限管理员" in texts(at.error)
    assert not at.dataframe and not at.text_input and not at.get("code")
    at = AppTest.from_function(_router_listing_every_page, args=(str(ROOT),), default_timeout=60)
    sign_in(at, "admin01")
    assert not at.error and at.dataframe                                  # the same way, an admin gets it


def test_the_audit_filters_change_the_rows_as_the_log_says(users):
    auth.authenticate("viewer01", PW, source="test")
    auth.set_role("analyst01", "viewer", by="admin01", source="test")
    at = admin_page()
    everything = independent_count()
    assert len(log_rows(at)) == everything and f"共 {everything} 条" in texts(at.caption)
    at.selectbox(key="usr_log_user").set_value("viewer01").run()
    assert len(log_rows(at)) == independent_count("viewer01") == 2         # added (by the fixture), signed in
    assert list(log_rows(at)["事件"]) == ["登录", "用户变更"] and list(log_rows(at)["用户"]) == ["viewer01", ""]
    at.selectbox(key="usr_log_user").set_value("analyst01").run()
    rows = log_rows(at)
    assert len(rows) == independent_count("analyst01") == 2               # added, role set (intents left out)
    assert list(rows["对象"])[0] == "analyst01" and "角色：浏览" in list(rows["详情"])[0]  # newest first
    at.selectbox(key="usr_log_user").set_value(None).run()
    at.selectbox(key="usr_log_action").set_value("sign-in").run()
    assert len(log_rows(at)) == independent_count(action="sign-in") == 2  # viewer01's, and admin01's for the page
    at.selectbox(key="usr_log_action").set_value("intent").run()
    assert len(log_rows(at)) == independent_count(action="intent") and set(log_rows(at)["结果"]) == {"见其结果记录"}
    at.selectbox(key="usr_log_action").set_value("approve").run()                # nothing approved yet
    assert independent_count(action="approve") == 0 and "没有符合条件的记录。" in texts(at.caption)
    assert not [d for d in at.dataframe if "事件" in d.value.columns]   # no empty grid (its word is English)


def test_the_admin_cannot_disable_remove_or_demote_themselves(users):
    at = admin_page()
    at.selectbox(key="usr_pick").set_value("admin01").run()
    assert "不能停用、删除自己" in texts(at.info)
    for key in ("usr_disable", "usr_remove", "usr_role_save", "usr_area_save", "usr_reset"):
        assert at.button(key=key).disabled, key
    assert at.selectbox(key="usr_role").disabled and at.checkbox(key="usr_rm_sure").disabled
    assert not [e for e in audit.read(None) if e["action"] == "users-change" and e["user"] == "admin01"]
    at.selectbox(key="usr_pick").set_value("viewer01").run()              # someone else: the buttons are there
    assert not at.button(key="usr_disable").disabled
    at.button(key="usr_disable").click().run()
    assert auth.get_user("viewer01").disabled and at.button(key="usr_enable") is not None


def test_a_hostile_user_name_stays_text(users):
    path = users / "users.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["users"]["*a*<b>"] = {**data["users"]["viewer01"], "name": "*a*<b>"}  # written by hand into the file
    files.write_json(path, data, mode=0o600)
    with pytest.raises(auth.AuthError):
        auth.authenticate("*a*<b>", "wrong-password", source="test")
    at = admin_page()
    at.selectbox(key="usr_pick").set_value("*a*<b>").run()
    ok(at)
    assert "*a*<b>" in names_listed(at) and "*a*<b>" in set(log_rows(at)["用户"])
    drawn = [e.value for kind in ("markdown", "caption", "info", "success", "warning", "error") for e in at.get(kind)]
    assert any(r"\*a\*\<b\>" in v for v in drawn)                        # the header names the user, escaped
    assert not any("*a*<b>" in v for v in drawn)


def test_the_pages_strings_have_english():
    cjk = re.compile(r"[\u4e00-\u9fff]")
    for module in (PAGE, "minsheng/ui/accounts.py"):
        tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
        docs = {id(n.body[0].value) for n in ast.walk(tree) if isinstance(n, (ast.Module, ast.FunctionDef))
                and isinstance(n.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and cjk.search(node.value) \
                    and id(node) not in docs:
                assert node.value in i18n.EN, (module, node.value)
    assert set(accounts.ACTION_ZH) == set(audit.ACTIONS)


def test_the_page_in_english(users):
    at = admin_page(lang="en")
    assert at.title[0].value == "Users" and "User name" in at.dataframe[0].value.columns
    assert set(log_rows(at).columns) == {"Time", "User", "Event", "Subject", "Details", "Outcome", "Source"}


def test_hostile_region_names_stay_text(users, tmp_path, monkeypatch):
    from conftest import CITY as TEST_CITY, JIA, JIA1
    from hostile_support import hostile_data
    from test_hostile_pages import _ESCAPED, SIGNS, markdown_sources

    placed = hostile_data(tmp_path / "data")
    monkeypatch.setenv("MINSHENG_DATA", str(tmp_path / "data"))
    auth.add_user("admin09", "admin", TEST_CITY, PW)
    auth.add_user("town09", "viewer", JIA1, PW)
    at = admin_page("admin09")
    at.selectbox(key="usr_pick").set_value("town09").run()
    at.selectbox(key="usr_area").set_value(JIA).run()
    at.button(key="usr_area_save").click().run()
    ok(at)
    assert auth.get_user("town09").area == JIA and sessions.sessions("town09") == []
    sources = list(markdown_sources(at._tree))
    assert [s for _, s in sources if any(sign in _ESCAPED.sub("", s) for sign in SIGNS)] == []
    assert any(placed["regions"][JIA][:8] in _ESCAPED.sub(lambda m: m.group(0)[1], s).replace("\u2060", "")
               for _, s in sources)                                       # the names are there, escaped


def test_single_user_mode_shows_the_log_and_no_user_forms(tmp_path, monkeypatch):
    monkeypatch.setenv("MINSHENG_USERS", str(tmp_path / "users.json"))     # none: local single-user mode
    monkeypatch.setenv("MINSHENG_AUDIT", str(tmp_path / "audit.log"))
    audit.record("export", "本机用户", {"page": "数据", "format": "csv", "rows": 12, "indicators": ["x"]}, "localhost")
    audit.record("import", "clerk", {"file": "a.csv", "ok": False, "error": "文件为空"}, "cli")
    at = start()
    at.switch_page(PAGE).run()
    ok(at)
    assert "users add" in texts(at.info) and not at.text_input and at.selectbox(key="usr_log_user")
    rows = log_rows(at)
    assert list(rows["用户"]) == ["clerk", "本机用户"] and list(rows["结果"]) == ["失败", ""]
    assert "错误：文件为空" in rows["详情"][0] and rows["详情"][1] == "页面：数据；格式：csv；行数：12"
    at.selectbox(key="usr_log_user").set_value("clerk").run()
    assert list(log_rows(at)["用户"]) == ["clerk"]
