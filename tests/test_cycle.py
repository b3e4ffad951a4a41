"""The reporting cycle (minsheng/cycle.py): every transition and every refusal, the data a submission
reaches, the audit lines, the 报送进度 counts against a hand-computed fixture, the command line, and
kill -9 at each step of a commit.

The fixture: 测试市 → 甲县 (甲一镇, 甲二镇) and 乙县 (乙一镇, and 乙二镇 whose code was retired on
2023-02-15 for 乙三镇). The form 民政月报 asks every township for cnt and stock each month by 次月5日.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil

import pandas as pd
import pytest
from argon2 import PasswordHasher

from conftest import CITY, JIA, JIA1, JIA2, YI, YI1, fixture_tables
from minsheng import audit, auth, cli, cycle, forms, progress, repo, store
from minsheng.regions import Tree

YI2, YI3 = "990102002000", "990102003000"
APR = dt.date(2023, 4, 1)
REP = cycle.Actor("甲一填报员", auth.Role.reporter, JIA1)
REP2 = cycle.Actor("甲二填报员", auth.Role.reporter, JIA2)
REV = cycle.Actor("甲县审核员", auth.Role.reviewer, JIA)
CITY_REV = cycle.Actor("市审核员", auth.Role.reviewer, CITY)
ADMIN = cycle.Actor("管理员", auth.Role.admin, None)
GOOD = {"cnt": "8", "stock": "130"}


def form_rows(valid_from=dt.date(2023, 1, 1)) -> pd.DataFrame:
    return forms._typed(pd.DataFrame([dict(form_id="mz_month", form_name="民政月报", report_level="township",
                                           frequency="month", deadline_day=5, valid_from=valid_from, valid_to=None,
                                           department="民政", indicator_id=i, position=n)
                                      for n, i in enumerate(["cnt", "stock"])]))


def tables() -> dict:
    t = fixture_tables()
    r = t["regions"]
    extra = pd.DataFrame([
        dict(code=YI2, name="乙二镇", level="township", parent_code=YI, lon=113.22, lat=26.92,
             valid_from=pd.NaT, valid_to=pd.Timestamp("2023-02-15"), successor_code=YI3),
        dict(code=YI3, name="乙三镇", level="township", parent_code=YI, lon=113.23, lat=26.93,
             valid_from=pd.Timestamp("2023-02-16"), valid_to=pd.NaT, successor_code=None)])
    t["regions"] = pd.concat([r, extra], ignore_index=True)
    return t


@pytest.fixture
def d(tmp_path, monkeypatch):
    monkeypatch.setenv("MINSHENG_AUDIT", str(tmp_path / "audit.log"))
    monkeypatch.setattr(cycle, "clock", lambda: dt.datetime(2023, 5, 3, 10, 0, tzinfo=cycle.CHINA))
    directory = tmp_path / "data"
    store.write_tables(directory, tables(), {"title": "测试", "demo": False, "data_date": "2023-03-31"})
    store.commit(directory, {"forms": form_rows()}, action="import", kind="forms")
    return directory


def key(region=JIA1, period=APR) -> cycle.Key:
    return cycle.Key("mz_month", region, period)


def obs_value(directory, ind, region, period):
    df = pd.read_parquet(store.table_path(store.resolve(directory), "observations"))
    d2 = pd.read_parquet(store.resolve(directory) / "observations.delta.parquet") \
        if (store.resolve(directory) / "observations.delta.parquet").exists() else df.iloc[:0]
    allrows = pd.concat([df, d2])
    hit = allrows[(allrows.indicator_id == ind) & (allrows.region_code == region)
                  & (pd.to_datetime(allrows.period).dt.date == period)]
    return None if hit.empty else (float(hit.iloc[-1]["value"]), hit.iloc[-1]["batch_id"])


def audit_lines():
    path = audit.log_path()
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


# --- transitions --------------------------------------------------------------------------------

def test_the_whole_loop_draft_submit_return_resubmit_approve_change(d):
    k = key()
    assert cycle.status(d, k).state == cycle.NONE
    cycle.save_draft(d, REP, k, {"cnt": "7"}, source="t")
    s = cycle.status(d, k)
    assert s.state == cycle.DRAFT and s.draft["cells"] == {"cnt": {"value": "7"}} and s.draft["saved_by"] == REP.name
    cycle.submit(d, REP, k, cells_in=GOOD, source="t")
    s = cycle.status(d, k)
    assert s.state == cycle.SUBMITTED and s.draft is None and s.submitted_by == REP.name
    assert obs_value(d, "cnt", JIA1, APR) is None  # not in the data until approved
    assert repo.series(["cnt"], [JIA], APR, APR, directory=d).empty  # nor upstream

    cycle.send_back(d, REV, k, reason="  数值偏低，请核实 ", source="t")
    s = cycle.status(d, k)
    assert s.state == cycle.RETURNED and s.last["reason"] == "数值偏低，请核实" and s.last["actor"] == REV.name
    cycle.submit(d, REP, k, cells_in={"cnt": "9", "stock": "130"}, source="t")
    assert cycle.status(d, k).state == cycle.SUBMITTED
    diff = cycle.since_approval(d, k).set_index("indicator_id")
    assert diff.loc["cnt", "value"] == 9 and pd.isna(diff.loc["cnt", "current"]) and diff["changed"].all()
    # what the reviewer compares with: 甲一镇's March 2023 (cnt 6, stock 120 in the fixture), no April 2022
    near = cycle.neighbours(d, k, forms.get(d, "mz_month")).set_index("indicator_id")
    assert near.loc["cnt", "last_period"] == 6 and near.loc["stock", "last_period"] == 120
    assert near["last_year"].isna().all()

    cycle.approve(d, REV, k, source="t")
    s = cycle.status(d, k)
    assert s.state == cycle.APPROVED
    value, batch = obs_value(d, "cnt", JIA1, APR)
    assert value == 9 and batch == "sub:mz_month:990101001000:2023-04:3"  # the third event: the second 上报
    # upstream: 甲县's April cnt is the sum of its townships that reported (甲一镇 only)
    up = repo.series(["cnt"], [JIA], APR, APR, directory=d)
    assert up["value"].tolist() == [9.0]
    assert store.read_meta(d)["data_date"] == "2023-04-30"

    # locked: a change needs a reason, and reopens review; the approved figure stays until approved again
    with pytest.raises(cycle.CycleError, match="已通过审核并锁定：修改须填写原因"):
        cycle.submit(d, REP, k, cells_in={"cnt": "10", "stock": "130"}, source="t")
    cycle.submit(d, REP, k, cells_in={"cnt": "10", "stock": "130"}, reason="补录漏报 1 人", source="t")
    s = cycle.status(d, k)
    assert s.state == cycle.SUBMITTED and s.last["reason"] == "补录漏报 1 人"
    diff = cycle.since_approval(d, k).set_index("indicator_id")
    assert (diff.loc["cnt", "current"], diff.loc["cnt", "value"]) == (9, 10)
    assert diff["changed"].tolist() == [True, False]
    assert obs_value(d, "cnt", JIA1, APR)[0] == 9
    cycle.approve(d, REV, k, source="t")
    assert obs_value(d, "cnt", JIA1, APR) == (10.0, "sub:mz_month:990101001000:2023-04:5")
    assert [e for e in cycle.status(d, k).events["event"]] == ["submit", "return", "submit", "approve", "submit",
                                                                "approve"]
    # who and when at every step, in the history too
    recs = [r for r in store.history(d) if r["kind"] == "submission"]
    assert [r["action"] for r in recs] == ["approve", "submit", "approve", "submit", "return", "submit"]
    assert all(r["scope"] == [CITY, JIA, JIA1] for r in recs)


def test_every_step_is_audited_intent_then_outcome(d):
    k = key()
    cycle.save_draft(d, REP, k, {"cnt": "1"}, source="web")
    cycle.submit(d, REP, k, cells_in=GOOD, source="web")
    cycle.send_back(d, REV, k, reason="请补充来源", source="web")
    cycle.submit(d, REP, k, cells_in=GOOD, source="web")
    cycle.approve(d, REV, k, source="web")
    lines = audit_lines()
    done = [(x["action"], x["user"]) for x in lines if x["action"] != "intent"]
    assert done == [("draft", REP.name), ("submit", REP.name), ("return", REV.name), ("submit", REP.name),
                    ("approve", REV.name)]
    intents = [x for x in lines if x["action"] == "intent"]
    assert len(intents) == 5 and all(x["detail"]["region"] == JIA1 for x in lines if x["action"] != "intent")
    assert next(x for x in lines if x["action"] == "return")["detail"]["reason"] == "请补充来源"


# --- refusals -------------------------------------------------------------------------------------

def refused(match, step, d, k=None):
    before = store.current(d)
    with pytest.raises(cycle.CycleError, match=match):
        step()
    assert store.current(d) == before  # nothing changed


def test_refusals_change_nothing(d):
    k = key()
    viewer = cycle.Actor("浏览者", auth.Role.viewer, JIA1)
    refused("浏览角色不能填报", lambda: cycle.submit(d, viewer, k, cells_in=GOOD, source="t"), d)
    refused("不在您的管辖范围", lambda: cycle.submit(d, REP2, k, cells_in=GOOD, source="t"), d)  # outside the area
    refused("不在您的管辖范围", lambda: cycle.save_draft(d, REP2, k, GOOD, source="t"), d)
    refused(r"由乡镇（街道）填报，甲县是县", lambda: cycle.submit(d, REP, key(JIA), cells_in=GOOD, source="t"), d)  # wrong level
    refused("尚未开始", lambda: cycle.submit(d, REP, key(period=dt.date(2023, 6, 1)), cells_in=GOOD, source="t"), d)
    refused("不需填报", lambda: cycle.submit(d, ADMIN, key(YI2, APR), cells_in=GOOD, source="t"), d)  # retired code
    refused("尚未上报", lambda: cycle.approve(d, REV, k, source="t"), d)
    with pytest.raises(cycle.Invalid) as bad:  # one bad cell: the importer's own message, with row and column
        cycle.submit(d, REP, k, cells_in={"cnt": "八", "stock": "130"}, source="t")
    p = bad.value.problems[0]
    assert (p.row, p.column) == (2, "数值") and "不是数字" in p.message
    with pytest.raises(cycle.Invalid, match="缺少指标“月末人数”"):
        cycle.submit(d, REP, k, cells_in={"cnt": "8"}, source="t")

    cycle.submit(d, REP, k, cells_in=GOOD, source="t")
    refused("已上报，正在等待审核", lambda: cycle.submit(d, REP, k, cells_in=GOOD, source="t"), d)
    refused("填报角色不能审核", lambda: cycle.approve(d, REP, k, source="t"), d)
    refused("由其上一级（甲县）审核", lambda: cycle.approve(d, CITY_REV, k, source="t"), d)  # not directly below
    refused("须填写原因", lambda: cycle.send_back(d, REV, k, reason="   ", source="t"), d)
    refused("须填写原因", lambda: cycle.send_back(d, REV, k, reason="", source="t"), d)
    cycle.approve(d, REV, k, source="t")
    refused("已经通过审核，不能重复审核通过", lambda: cycle.approve(d, REV, k, source="t"), d)
    refused("已经通过审核，不能重复退回", lambda: cycle.send_back(d, REV, k, reason="再看看", source="t"), d)
    refused("修改须填写原因", lambda: cycle.submit(d, REP, k, cells_in=GOOD, source="t"), d)


def test_nobody_reviews_their_own_submission_not_even_an_admin(d):
    k = key(JIA2)
    cycle.submit(d, ADMIN, k, cells_in=GOOD, source="t")
    refused("不能审核通过本人上报的数据", lambda: cycle.approve(d, ADMIN, k, source="t"), d)
    refused("不能退回本人上报的数据", lambda: cycle.send_back(d, ADMIN, k, reason="x", source="t"), d)
    other_admin = cycle.Actor("另一位管理员", auth.Role.admin, None)
    cycle.approve(d, other_admin, k, source="t")  # an admin may review anywhere in their area
    assert cycle.status(d, k).state == cycle.APPROVED


def test_a_county_admin_reviews_only_in_the_county(d):
    k = key(YI1)
    cycle.submit(d, ADMIN, k, cells_in=GOOD, source="t")
    jia_admin = cycle.Actor("甲县管理员", auth.Role.admin, JIA)
    refused("不在您的管辖范围", lambda: cycle.approve(d, jia_admin, k, source="t"), d)


def test_a_form_issued_by_a_county_is_owed_and_sent_only_below_it(d):
    """下发单位: 甲县's 民政月报 asks 甲一镇 and 甲二镇, not 乙县's towns — in the returns owed, the 报送进度 and
    the submit itself; the form as it was (no issuer) asked every town."""
    every = {c for c, _, _ in forms.expected(d, forms.get(d, "mz_month"), [APR]).itertuples(index=False)}
    assert every == {JIA1, JIA2, YI1, YI3}  # 乙二镇 was retired in February
    store.commit(d, {"forms": form_rows().assign(issued_by=JIA)}, action="import", kind="forms")
    form = forms.get(d, "mz_month")
    assert form.issued_by == JIA
    owed = forms.expected(d, form, [APR])
    assert set(owed["region_code"]) == {JIA1, JIA2}
    assert set(progress.cells(d, form, [APR])["region_code"]) == {JIA1, JIA2}
    refused("由甲县下发，乙一镇不在其范围内", lambda: cycle.submit(d, ADMIN, key(YI1), cells_in=GOOD, source="t"), d)
    cycle.submit(d, REP, key(JIA1), cells_in=GOOD, source="t")
    assert cycle.status(d, key(JIA1)).state == cycle.SUBMITTED


def test_an_uploaded_template_goes_through_the_same_checks(d):
    k = key()
    good = "指标编码,区划代码,时期,数值\ncnt,990101001000,2023-04,8\nstock,990101001000,2023-04,130\n".encode("utf-8")
    wrong = "指标编码,区划代码,时期,数值\ncnt,990101001000,2023-03,8\nstock,990101002000,2023-04,130\n".encode()
    with pytest.raises(cycle.Invalid) as bad:
        cycle.submit(d, REP, k, data=wrong, file="民政月报.csv", source="t")
    msgs = [(p.row, p.column, p.message) for p in bad.value.problems]
    assert any(r == 3 and "管辖范围" in m for r, c, m in msgs)  # 甲二镇 is outside 甲一镇's area
    cycle.submit(d, REP, k, data=good, file="民政月报.csv", source="t")
    assert cycle.status(d, k).values.set_index("indicator_id")["value"].to_dict() == {"cnt": 8.0, "stock": 130.0}


# --- 报送进度 against a hand-computed fixture ------------------------------------------------------

def at(day: dt.date, hour=9):
    return lambda: dt.datetime(day.year, day.month, day.day, hour, 0, tzinfo=cycle.CHINA)


def test_progress_rates_by_hand(d, monkeypatch):
    JAN, FEB, MAR = dt.date(2023, 1, 1), dt.date(2023, 2, 1), dt.date(2023, 3, 1)
    steps = [  # (when, actor, step, region, period)
        (dt.date(2023, 2, 3), REP, "submit", JIA1, JAN), (dt.date(2023, 2, 4), REV, "approve", JIA1, JAN),  # 按时
        (dt.date(2023, 3, 9), REP, "submit", JIA1, FEB), (dt.date(2023, 3, 10), REV, "approve", JIA1, FEB),  # 迟报
        (dt.date(2023, 4, 2), REP, "submit", JIA1, MAR), (dt.date(2023, 4, 3), REV, "return", JIA1, MAR),  # 已退回
        (dt.date(2023, 2, 5), REP2, "submit", JIA2, JAN),  # 待审核, sent on the deadline day: on time
        (dt.date(2023, 4, 20), REP2, "submit", JIA2, MAR),  # 待审核, late
        (dt.date(2023, 2, 1), ADMIN, "submit", YI2, JAN),  # the retired code, in its last valid month
        (dt.date(2023, 2, 2), CITY_REV, "approve", YI2, JAN),  # wrong level for a city reviewer: refused below
    ]
    yi_rev = cycle.Actor("乙县审核员", auth.Role.reviewer, YI)
    # the importer's warning holds a 上报 back until confirmed: 8 against last January's 1
    refused("与上年同期相比变化超过 3 倍", lambda: cycle.submit(d, REP, key(JIA1, JAN), cells_in=GOOD, source="t"), d)
    for when, actor, step, region, period in steps:
        monkeypatch.setattr(cycle, "clock", at(when))
        k = key(region, period)
        if step == "submit":  # warnings (8 against last January's 1) confirmed, as on the page
            cycle.submit(d, actor, k, cells_in=GOOD, source="t", accept_warnings=True)
        elif step == "approve":
            if actor is CITY_REV:
                with pytest.raises(cycle.CycleError):
                    cycle.approve(d, actor, k, source="t")
                cycle.approve(d, yi_rev, k, source="t")
            else:
                cycle.approve(d, actor, k, source="t")
        else:
            cycle.send_back(d, actor, k, reason="来源不清", source="t")
    monkeypatch.setattr(cycle, "clock", at(dt.date(2023, 4, 25)))
    form = forms.get(d, "mz_month")
    table = progress.cells(d, form, form.periods(JAN, MAR))
    got = {(r.region_code, r.period): (r.cell, r.days_late) for r in table.itertuples()}
    # expected: Jan 甲一 甲二 乙一 乙二 (乙二 valid on Jan 31); Feb, Mar 甲一 甲二 乙一 乙三 (乙二 retired Feb 15)
    # deadlines Feb 5, Mar 5, Apr 5; today Apr 25: 28 + 31 + 20 = 79, 31 + 20 = 51 and 20 days past them
    assert got == {
        (JIA1, JAN): ("按时", 0), (JIA2, JAN): ("待审核", 0), (YI1, JAN): ("未报", 79), (YI2, JAN): ("按时", 0),
        (JIA1, FEB): ("迟报", 4), (JIA2, FEB): ("未报", 51), (YI1, FEB): ("未报", 51), (YI3, FEB): ("未报", 51),
        (JIA1, MAR): ("已退回", 20), (JIA2, MAR): ("待审核", 15), (YI1, MAR): ("未报", 20), (YI3, MAR): ("未报", 20),
    }
    r = progress.rates(table, tables()["regions"]).set_index(["region_code", "period"])
    # the city: Jan 3 reported (甲一, 甲二, 乙二) of 4, 3 on time; Feb 1 of 4, 0 on time; Mar 1 (甲二) of 4, 0 on time
    assert r.loc[(CITY, JAN), ["expected", "reported", "on_time"]].tolist() == [4, 3, 3]
    assert r.loc[(CITY, FEB), ["expected", "reported", "on_time", "late", "missing"]].tolist() == [4, 1, 0, 1, 3]
    assert r.loc[(CITY, MAR), ["expected", "reported", "on_time", "returned", "pending"]].tolist() == [4, 1, 0, 1, 1]
    assert r.loc[(CITY, JAN), "report_rate"] == 75.0 and r.loc[(CITY, FEB), "on_time_rate"] == 0.0
    assert r.loc[(JIA, JAN), ["expected", "reported", "on_time", "report_rate"]].tolist() == [2, 2, 2, 100.0]
    assert r.loc[(YI, JAN), ["expected", "reported", "report_rate"]].tolist() == [2, 1, 50.0]
    assert r.loc[(YI, FEB), ["expected", "reported"]].tolist() == [2, 0]
    # a county sees its own: no city row, the same county figures
    mine = progress.rates(progress.cells(d, form, form.periods(JAN, MAR), area=JIA), tables()["regions"], JIA)
    assert set(mine["region_code"]) == {JIA}
    assert mine.set_index("period").loc[FEB, ["expected", "reported", "on_time"]].tolist() == [2, 1, 0]

    grid = progress.matrix(table, form)
    assert list(grid.columns) == ["2023年1月", "2023年2月", "2023年3月"]
    assert grid.loc[JIA1].tolist() == ["✓ 按时", "迟报", "已退回"]
    users = [auth.User("甲一填报员", auth.Role.reporter, JIA1), auth.User("乙县填报员", auth.Role.reporter, YI),
             auth.User("停用的", auth.Role.reporter, YI1, disabled=True), auth.User("甲县审核员", auth.Role.reviewer, JIA)]
    due = progress.chase(table, form, tables()["regions"], users)
    # every 未报 and 已退回 past its deadline, most days late first; 待审核 is not chased
    assert due["逾期天数"].tolist() == [79, 51, 51, 51, 20, 20, 20]
    first = due.iloc[0]
    assert (first["区划名称"], first["时期"], first["逾期天数"], first["填报账号"]) == ("乙一镇", "2023年1月", 79, "乙县填报员")
    assert due[due["区划代码"] == JIA1].iloc[0][["状态", "退回原因", "填报账号"]].tolist() == ["已退回", "来源不清", "甲一填报员"]
    assert progress.coverage(d, form, JAN) == (3, 4)


# --- command line --------------------------------------------------------------------------------

def test_command_line_loop(d, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MINSHENG_DATA", str(d))
    monkeypatch.setenv("MINSHENG_USERS", str(tmp_path / "users.json"))
    monkeypatch.setattr(auth, "hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    auth.add_user("甲一填报员", "reporter", JIA1, "pw-long-enough-1")
    auth.add_user("甲县审核员", "reviewer", JIA, "pw-long-enough-2")
    at_key = ["--form", "mz_month", "--region", JIA1, "--period", "2023-04"]
    assert cli.main(["submit", *at_key, "--as", "甲一填报员", "--value", "cnt=八", "--value", "stock=1"]) == 2
    assert "第 2 行" in capsys.readouterr().err
    assert cli.main(["submit", *at_key, "--as", "甲一填报员", "--value", "cnt=8", "--value", "stock=130"]) == 0
    assert cli.main(["approve", *at_key, "--as", "甲一填报员"]) == 2
    assert cli.main(["return", *at_key, "--as", "甲县审核员", "--reason", "请核实"]) == 0
    assert cli.main(["submit", *at_key, "--as", "甲一填报员", "--value", "cnt=9", "--value", "stock=130"]) == 0
    assert cli.main(["approve", *at_key, "--as", "甲县审核员"]) == 0
    capsys.readouterr()
    assert cli.main(["submissions", *at_key]) == 0
    out = capsys.readouterr().out
    assert "已通过" in out and "退回：请核实" in out
    chase = tmp_path / "催报.xlsx"
    assert cli.main(["progress", "--form", "mz_month", "--from", "2023-01", "--to", "2023-04", "--chase", str(chase)]) == 0
    out = capsys.readouterr().out
    assert "报送率" in out and chase.exists()
    listed = pd.read_excel(chase, sheet_name=0)
    # today is 2023-05-03: Jan–Mar are past their deadlines, every expected return missing (4 townships a month,
    # 乙二镇 in January, 乙三镇 from February); April's deadline (May 5) has not passed, so none of it is chased
    assert len(listed) == 12 and set(listed["时期"]) == {"2023年1月", "2023年2月", "2023年3月"}
    lines = [x["action"] for x in audit_lines() if x["action"] != "intent" and x["detail"].get("ok", True)]
    assert lines.count("submit") == 2 and lines.count("approve") == 1 and lines.count("return") == 1
    assert lines[-1] == "export"


# --- kill -9 --------------------------------------------------------------------------------------

def _forked(step, crash_at: str) -> int:
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.environ["MINSHENG_CRASH_AT"] = crash_at
            step()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return status


@pytest.mark.parametrize("crash_at", store.CRASH_STEPS)
def test_kill_at_each_step_leaves_submission_and_data_consistent(d, crash_at):
    k = key()
    cycle.submit(d, REP, k, cells_in=GOOD, source="t")
    before = cycle.status(d, k).state
    _forked(lambda: cycle.approve(d, REV, k, source="t"), crash_at)
    s, value = cycle.status(d, k), obs_value(d, "cnt", JIA1, APR)
    # either the approval landed whole (event and figures) or not at all
    if s.state == cycle.APPROVED:
        assert value == (8.0, "sub:mz_month:990101001000:2023-04:1")
    else:
        assert s.state == before == cycle.SUBMITTED and value is None
    assert crash_at != "switched" or s.state == cycle.APPROVED
    assert crash_at == "switched" or s.state == cycle.SUBMITTED
    # the next step works on what is there
    if s.state == cycle.SUBMITTED:
        cycle.approve(d, REV, k, source="t")
    assert obs_value(d, "cnt", JIA1, APR)[0] == 8.0
    # and a submit killed midway leaves the earlier state
    k2 = key(JIA2)
    _forked(lambda: cycle.submit(d, REP2, k2, cells_in=GOOD, source="t"), crash_at)
    # a 上报 writes no observations, so it never reaches "delta-written": it lands whole there
    landed = crash_at in ("switched", "delta-written")
    assert cycle.status(d, k2).state == (cycle.SUBMITTED if landed else cycle.NONE)
    if cycle.status(d, k2).state == cycle.NONE:
        cycle.submit(d, REP2, k2, cells_in=GOOD, source="t")
    assert cycle.status(d, k2).state == cycle.SUBMITTED


def test_a_draft_is_written_whole(d, tmp_path):
    k = key()
    cycle.save_draft(d, REP, k, {"cnt": "7", "stock": "="}, source="t")
    path = cycle._draft_path(d, k)
    assert json.loads(path.read_text(encoding="utf-8"))["cells"]["stock"] == {"value": "="}
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left beside it
    shutil.copy(path, tmp_path / "other.json")
    assert cycle.read_draft(d, key(JIA2)) is None
    _ = Tree, CITY


def test_the_chase_list_neutralises_formula_leading_text(d, monkeypatch):
    import io

    import openpyxl

    monkeypatch.setattr(cycle, "clock", at(dt.date(2023, 5, 3)))
    k = key(JIA1, dt.date(2023, 3, 1))
    cycle.submit(d, REP, k, cells_in=GOOD, source="t")
    cycle.send_back(d, REV, k, reason="=HYPERLINK(\"http://x\",\"点我\")", source="t")
    form = forms.get(d, "mz_month")
    due = progress.chase(progress.cells(d, form, [k.period]), form, tables()["regions"])
    book = openpyxl.load_workbook(io.BytesIO(progress.chase_xlsx(due, form, "测试市")))
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    col = header.index("退回原因")
    reasons = [row[col].value for row in sheet.iter_rows(min_row=2) if row[col].value]
    assert reasons and all(not str(v).startswith("=") and row_type(sheet, v) != "f" for v in reasons)
    assert "HYPERLINK" in reasons[0]


def row_type(sheet, value):
    return next(c.data_type for row in sheet.iter_rows() for c in row if c.value == value)


def test_a_correction_after_approval_keeps_the_return_on_time(d, monkeypatch):
    key = cycle.Key("mz_month", JIA1, APR)                        # due 2023-05-05; the clock says 05-03
    cycle.submit(d, REP, key, cells_in=GOOD, source="t")
    cycle.approve(d, REV, key, source="t")
    monkeypatch.setattr(cycle, "clock", lambda: dt.datetime(2023, 5, 20, 9, 0, tzinfo=cycle.CHINA))
    cycle.submit(d, REP, key, cells_in={**GOOD, "cnt": "9"}, reason="更正笔误", source="t")
    cycle.approve(d, REV, key, source="t")
    [cell] = progress.cells(d, forms.get(d, "mz_month"), [APR], JIA1).to_dict("records")
    assert (cell["cell"], cell["on_time"], cell["days_late"]) == ("按时", True, 0)   # it came in on 05-03
    # sent back and sent again after the deadline: as late as the second sending
    key2 = cycle.Key("mz_month", JIA2, APR)
    cycle.submit(d, REP2, key2, cells_in=GOOD, source="t")
    cycle.send_back(d, REV, key2, reason="请核实", source="t")
    cycle.submit(d, REP2, key2, cells_in=GOOD, source="t")
    cycle.approve(d, REV, key2, source="t")
    [cell] = progress.cells(d, forms.get(d, "mz_month"), [APR], JIA2).to_dict("records")
    assert (cell["cell"], cell["days_late"]) == ("迟报", 15)
