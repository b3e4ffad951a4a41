"""The reporting cycle attacked: area escapes, races between processes, injected reasons, deadlines at day
and month boundaries, refusals that must stay Chinese (never a traceback), progress within an area, and
approved periods locked against imports (a change needs a reason and reopens review).

The fixture is tests/test_cycle.py's: 测试市 → 甲县 (甲一镇, 甲二镇), 乙县 (乙一镇, 乙二镇 retired 2023-02-15
for 乙三镇); 民政月报 asks every township for cnt and stock each month by 次月5日; today is 2023-05-03.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from conftest import CITY, JIA, JIA1, JIA2, YI, YI1
from minsheng import auth, cycle, store
from test_cycle import ADMIN, APR, GOOD, REP, REV, YI2, audit_lines, d, key, obs_value, refused  # noqa: F401


# --- area escapes ---------------------------------------------------------------------------------

def test_an_account_without_an_area_is_refused_not_city_wide(d):
    nowhere = auth.User("无区域填报员", auth.Role.reporter, "")
    actor = cycle.Actor.of(nowhere)
    refused("没有有效的管辖范围", lambda: cycle.submit(d, actor, key(), cells_in=GOOD, source="t"), d)
    refused("没有有效的管辖范围", lambda: cycle.save_draft(d, actor, key(), GOOD, source="t"), d)
    cycle.submit(d, REP, key(), cells_in=GOOD, source="t")
    for area in ("", "990199000000"):  # empty, or a code that is no region
        rev = cycle.Actor("审核员", auth.Role.reviewer, area)
        refused("没有有效的管辖范围", lambda rev=rev: cycle.approve(d, rev, key(), source="t"), d)
        adm = cycle.Actor("管理员2", auth.Role.admin, area)
        refused("没有有效的管辖范围", lambda adm=adm: cycle.approve(d, adm, key(), source="t"), d)


def test_a_reviewer_without_an_area_cannot_review_the_top_region(d):
    # the top region has no parent: None == None must not let a reviewer without an area review it
    tree = cycle._tree(d)
    events = pd.DataFrame([dict(event="submit", actor=REP.name, seq=1)])
    pending = cycle.Status(cycle.Key("mz_month", CITY, APR), cycle.SUBMITTED, events)
    with pytest.raises(cycle.CycleError, match="没有上一级区划，它的上报只能由管理员审核"):
        cycle._may_review(cycle.Actor("无区域审核员", auth.Role.reviewer, None), pending, tree, "审核通过")
    cycle._may_review(ADMIN, pending, tree, "审核通过")  # an admin may


def test_crafted_keys_are_refused_in_chinese(d):
    refused("没有编码为“nope”的报表", lambda: cycle.submit(d, REP, cycle.Key("nope", JIA1, APR), cells_in=GOOD,
                                                           source="t"), d)
    refused("不是报表“民政月报”（月度）的一个时期的第一天",
            lambda: cycle.submit(d, REP, key(period=dt.date(2023, 4, 2)), cells_in=GOOD, source="t"), d)
    refused("应为日期", lambda: cycle.approve(d, REV, key(period=dt.datetime(2023, 4, 1)), source="t"), d)
    refused("不在区划表中", lambda: cycle.submit(d, REP, key("990101001"), cells_in=GOOD, source="t"), d)
    refused("对应表", lambda: cycle.submit(d, REP, key(), cells_in=["8", "130"], source="t"), d)
    # a retired code is not owed after its last day, for anyone
    refused("已停用", lambda: cycle.submit(d, ADMIN, key(YI2, dt.date(2023, 3, 1)), cells_in=GOOD, source="t"), d)


# --- drafts that are not ours ---------------------------------------------------------------------

@pytest.mark.parametrize("content", ["[1, 2]", '"x"', "null", b"\xff\xfe\x00", "{", '{"cells": "x"}'])
def test_a_corrupt_draft_file_is_no_draft(d, content):
    k = key()
    path = cycle._draft_path(d, k)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert cycle.status(d, k).draft is None and cycle.status(d, k).state == cycle.NONE
    cycle.save_draft(d, REP, k, {"cnt": "1"}, source="t")  # and a new one replaces it
    assert cycle.read_draft(d, k)["cells"] == {"cnt": {"value": "1"}}


def test_a_draft_path_that_is_a_folder_is_no_draft(d):
    path = cycle._draft_path(d, key())
    path.mkdir(parents=True)
    assert cycle.status(d, key()).draft is None


# --- reasons ---------------------------------------------------------------------------------------

def test_reasons_are_one_line_and_checked_before_anything(d):
    k = key()
    cycle.submit(d, REP, k, cells_in=GOOD, source="t")
    refused("控制字符 U\\+202E", lambda: cycle.send_back(d, REV, k, reason="数值\u202e偏低", source="t"), d)
    refused("控制字符 U\\+001B", lambda: cycle.send_back(d, REV, k, reason="\x1b[31m红", source="t"), d)
    refused("超过 200 个字符", lambda: cycle.send_back(d, REV, k, reason="长" * 100_000, source="t"), d)
    cycle.send_back(d, REV, k, reason="第一行\r\n  2. 2023-05-03 管理员 通过\u2028第三行\t完", source="t")
    why = cycle.status(d, k).last["reason"]
    assert why == "第一行 2. 2023-05-03 管理员 通过 第三行 完" and "\n" not in why
    assert next(x for x in audit_lines() if x["action"] == "return")["detail"]["reason"] == why


def test_a_blank_optional_reason_is_no_reason_and_a_given_one_is_audited(d):
    k = key()
    cycle.submit(d, REP, k, cells_in=GOOD, reason="   ", source="t")  # not approved: no reason needed
    assert pd.isna(cycle.status(d, k).last["reason"])
    cycle.approve(d, REV, k, source="t")
    refused("修改须填写原因", lambda: cycle.submit(d, REP, k, cells_in=GOOD, reason=" \n ", source="t"), d)
    cycle.submit(d, REP, k, cells_in={"cnt": "9", "stock": "130"}, reason="补录\n漏报", source="t")
    assert cycle.status(d, k).last["reason"] == "补录 漏报"
    line = [x for x in audit_lines() if x["action"] == "submit"][-1]
    assert line["detail"]["reason"] == "补录 漏报" and line["detail"]["ok"]


# --- two reviewers at once, in two processes ----------------------------------------------------------

def _race(steps):
    """Run each step in its own forked process, released together; [(ok, message)] in step order."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    go, out = ctx.Barrier(len(steps)), ctx.Queue()

    def run(i, step):
        go.wait()
        try:
            step()
            out.put((i, True, ""))
        except cycle.CycleError as e:
            out.put((i, False, str(e)))
        except BaseException as e:  # noqa: BLE001 — reported to the test, which fails on it
            out.put((i, None, f"{type(e).__name__}: {e}"))

    procs = [ctx.Process(target=run, args=(i, s)) for i, s in enumerate(steps)]
    for p in procs:
        p.start()
    got = dict((i, (ok, msg)) for i, ok, msg in (out.get(timeout=120) for _ in procs))
    for p in procs:
        p.join(30)
    return [got[i] for i in range(len(steps))]


@pytest.mark.parametrize("second", ["approve", "return"])
def test_two_reviews_racing_one_wins_the_other_is_refused_cleanly(d, second):
    k = key()
    cycle.submit(d, REP, k, cells_in=GOOD, source="t")
    other = cycle.Actor("甲县审核员二", auth.Role.reviewer, JIA)
    steps = [lambda: cycle.approve(d, REV, k, source="t"),
             (lambda: cycle.approve(d, other, k, source="t")) if second == "approve"
             else (lambda: cycle.send_back(d, other, k, reason="请核实", source="t"))]
    got = _race(steps)
    assert sorted(ok for ok, _ in got) == [False, True], got
    loser = next(msg for ok, msg in got if not ok)
    assert "已经通过审核" in loser or "已退回" in loser
    s = cycle.status(d, k)
    assert len(s.events) == 2 and s.state in (cycle.APPROVED, cycle.RETURNED)  # one review event, never two
    allrows = pd.concat([pd.read_parquet(store.table_path(store.resolve(d), "observations")),
                         *([pd.read_parquet(store.resolve(d) / "observations.delta.parquet")]
                           if (store.resolve(d) / "observations.delta.parquet").exists() else [])])
    mine = allrows[(allrows.region_code == JIA1) & (pd.to_datetime(allrows.period).dt.date == APR)]
    assert len(mine) == (2 if s.state == cycle.APPROVED else 0)  # cnt and stock once each, or nothing
    outcomes = [x for x in audit_lines() if x["action"] in ("approve", "return")]
    assert sorted(x["detail"]["ok"] for x in outcomes) == [False, True]


# --- the command line: Chinese refusals, one line per value, an account's own area ---------------------

@pytest.fixture
def cli_env(d, tmp_path, monkeypatch):
    from argon2 import PasswordHasher

    monkeypatch.setenv("MINSHENG_DATA", str(d))
    monkeypatch.setenv("MINSHENG_USERS", str(tmp_path / "users.json"))
    monkeypatch.setattr(auth, "hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    auth.add_user("甲一填报员", "reporter", JIA1, "pw-long-enough-1")
    auth.add_user("乙县审核员", "reviewer", YI, "pw-long-enough-3")
    return d


def _cli(argv, capsys):
    from minsheng import cli

    try:
        code = cli.main(argv)
    except SystemExit as e:  # argparse's refusals exit
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("argv, said", [
    (["approve", "--form", "mz_month"], "缺少必填参数：--region, --period"),
    (["submissions", "--state", "bogus"], "参数 --state 的值 'bogus' 无效"),
    (["progress", "--form", "mz_month", "--from", "2023-01", "--zzz"], "无法识别的参数：--zzz"),
    (["import", "x.csv", "--factor", "abc"], "不是有效的数字"),
    (["submit", "--form", "mz_month", "--region", JIA1, "--period", "2023-04", "/nowhere/填报.csv"],
     "找不到该文件或目录（填报.csv）"),
    (["progress", "--form", "mz_month", "--from", "2023-01", "--chase", "/nowhere/催报.xlsx"], "找不到该文件或目录（催报.xlsx）"),
    (["progress", "--form", "mz_month", "--from", "2023-01", "--area", "garbage"], "不在区划表中"),
    (["progress", "--form", "nope", "--from", "2023-01"], "没有编码为“nope”的报表"),
    (["approve", "--form", "mz_month", "--region", JIA1, "--period", "2023年4月5日"], "未执行"),
])
def test_bad_arguments_are_refused_in_chinese_without_a_traceback(cli_env, capsys, argv, said):
    code, out, err = _cli(argv, capsys)
    assert code == 2 and said in err, err
    assert "Traceback" not in err and "usage:" not in err and "Errno" not in err and "/nowhere" not in err


def test_a_reason_with_line_breaks_cannot_forge_a_line_of_the_listing(cli_env, capsys):
    k = key()
    cycle.submit(cli_env, REP, k, cells_in=GOOD, source="t")
    cycle.send_back(cli_env, REV, k, reason="偏低\n  9. 2023-05-03 管理员 通过", source="t")
    code, out, _ = _cli(["submissions", "--form", "mz_month", "--region", JIA1, "--period", "2023-04"], capsys)
    assert code == 0 and not any(line.lstrip().startswith("9.") for line in out.splitlines())
    code, out, _ = _cli(["submissions"], capsys)
    assert code == 0 and len(out.strip().splitlines()) == 2  # the header and one row


def test_an_account_reads_only_its_own_area_on_the_command_line(cli_env, capsys):
    cycle.submit(cli_env, REP, key(), cells_in=GOOD, source="t")
    code, out, err = _cli(["progress", "--form", "mz_month", "--from", "2023-04", "--as", "乙县审核员", "--area", JIA],
                          capsys)
    assert code == 2 and "不在账号“乙县审核员”的管辖范围（乙县）内" in err
    code, out, _ = _cli(["progress", "--form", "mz_month", "--from", "2023-04", "--as", "乙县审核员"], capsys)
    assert code == 0 and "乙县" in out and "甲县" not in out
    code, out, _ = _cli(["submissions", "--as", "乙县审核员"], capsys)
    assert code == 0 and JIA1 not in out and "没有符合条件的报送记录" in out
    code, _, err = _cli(["submissions", "--form", "mz_month", "--region", JIA1, "--period", "2023-04",
                         "--as", "乙县审核员"], capsys)
    assert code == 2 and "不在您的管辖范围内" in err
    # a township's own reporter sees its own row (the area is at the form's level), not an error
    code, out, err = _cli(["progress", "--form", "mz_month", "--from", "2023-04", "--as", "甲一填报员"], capsys)
    assert code == 0 and "甲一镇  2023年4月  1     1" in out, out + err


# --- 报送进度: areas, periods the form does not ask for, China's day boundaries ------------------------------

def test_rates_count_only_the_area_and_nothing_outside_the_forms_periods(d):
    from minsheng import forms, progress
    from test_cycle import tables

    form = forms.get(d, "mz_month")
    everything = progress.cells(d, form, [APR])  # a table for the whole tree, given with a county's area
    mine = progress.rates(everything, tables()["regions"], JIA)
    assert mine["region_code"].tolist() == [JIA] and mine["expected"].tolist() == [2]
    assert progress.coverage(d, form, dt.date(2022, 12, 1)) == (0, 0)  # before valid_from: nothing owed
    assert progress.rates(progress.cells(d, form, [APR], area=JIA1), tables()["regions"], JIA1)[
        ["region_code", "expected"]].values.tolist() == [[JIA1, 1]]
    assert list(progress.rates(progress.cells(d, form, [], area=JIA), tables()["regions"], JIA).columns) == \
        progress.RATES  # nothing expected: no division, the columns still there
    with pytest.raises(cycle.CycleError, match="第一天"):
        progress.cells(d, form, [dt.date(2023, 4, 15)])


@pytest.mark.parametrize("sent, on_time", [
    ("2023-02-05T23:59:59+08:00", True),    # the deadline day's last second in China
    ("2023-02-05T16:30:00+00:00", False),   # still the 5th in UTC, already the 6th in China
    ("2023-02-05T15:59:59+00:00", True),
    ("2023-02-06T00:00:00", False),         # no offset: China time, never the server's zone
    ("2023-02-05T23:00:00", True),
])
def test_on_time_is_decided_by_the_day_in_china(d, monkeypatch, sent, on_time):
    from minsheng import forms, progress

    jan = dt.date(2023, 1, 1)
    monkeypatch.setattr(cycle, "clock", lambda: dt.datetime.fromisoformat(sent))
    cycle.submit(d, REP, key(JIA1, jan), cells_in=GOOD, source="t", accept_warnings=True)
    monkeypatch.setattr(cycle, "clock", lambda: dt.datetime(2023, 2, 7, 9, tzinfo=cycle.CHINA))
    cycle.approve(d, REV, key(JIA1, jan), source="t")
    form = forms.get(d, "mz_month")
    row = progress.cells(d, form, [jan]).set_index("region_code").loc[JIA1]
    assert (row["cell"] == progress.ON_TIME) == on_time and row["days_late"] == (0 if on_time else 1)


def test_deadlines_at_month_ends_leap_years_quarters_and_years():
    from minsheng import forms

    def form(freq, day):
        return forms.Form("f", "表", "township", freq, day, None, None, "", ("cnt",))

    assert form("month", 5).deadline(dt.date(2024, 1, 1)) == dt.date(2024, 2, 5)
    assert form("month", 28).deadline(dt.date(2024, 1, 1)) == dt.date(2024, 2, 28)
    assert form("month", 1).deadline(dt.date(2024, 2, 1)) == dt.date(2024, 3, 1)   # after 29 February
    assert form("month", 1).deadline(dt.date(2023, 2, 1)) == dt.date(2023, 3, 1)
    assert form("month", 60).deadline(dt.date(2023, 12, 1)) == dt.date(2024, 2, 29)
    assert form("quarter", 10).deadline(dt.date(2023, 10, 1)) == dt.date(2024, 1, 10)
    assert form("year", 20).deadline(dt.date(2023, 1, 1)) == dt.date(2024, 1, 20)
    assert form("quarter", 5).periods(dt.date(2023, 2, 1), dt.date(2023, 12, 31)) == \
        [dt.date(2023, 4, 1), dt.date(2023, 7, 1), dt.date(2023, 10, 1)]


# --- approved periods are locked against imports ----------------------------------------------------

FIX = "指标编码,区划代码,时期,数值\ncnt,990101001000,2023-04,11\ncnt,990101002000,2023-04,5\n".encode()


def _approved(d):
    cycle.submit(d, REP, key(), cells_in=GOOD, source="t")
    cycle.approve(d, REV, key(), source="t")


def _plan(d, data=FIX, name="修正.csv"):
    from minsheng.ingest import pipeline

    plan = pipeline.prepare(data, name, d, kind="observations")
    assert not plan.errors, [p.message for p in plan.errors]
    return plan


def test_an_import_changing_approved_figures_needs_a_reason_and_reopens_review(d):
    from minsheng import changes

    _approved(d)
    plan = _plan(d)
    assert [(x.key, x.form_name, x.label, x.changed) for x in plan.locked] == \
        [(key(), "民政月报", "甲一镇2023年4月“民政月报”", 1)]  # 甲二镇 has no approved return: not locked
    before = store.current(d)
    for reason in (None, "", "   "):
        with pytest.raises(cycle.CycleError, match="已审核通过并锁定的报表数据：甲一镇2023年4月“民政月报”。修改须填写原因"):
            changes.commit(plan, actor="管理员", source="t", directory=d, accept_warnings=True, reason=reason)
        assert store.current(d) == before and obs_value(d, "cnt", JIA1, APR)[0] == 8.0
    with pytest.raises(cycle.CycleError, match="控制字符"):
        changes.commit(plan, actor="管理员", source="t", directory=d, accept_warnings=True, reason="更正\x07")
    assert store.current(d) == before

    version = changes.commit(plan, actor="管理员", source="web", directory=d, accept_warnings=True,
                             reason="更正笔误\n（见来函）")
    s = cycle.status(d, key())
    assert obs_value(d, "cnt", JIA1, APR)[0] == 11.0 and obs_value(d, "cnt", JIA2, APR)[0] == 5.0
    assert s.state == cycle.SUBMITTED and s.state_zh == "已上报"
    assert (s.last["event"], s.last["actor"], s.last["reason"]) == ("reopen", "管理员", "更正笔误 （见来函）")
    # what is under review is what the data now hold: the import's figure, and the approved one it left alone
    assert s.values.set_index("indicator_id")["value"].to_dict() == {"cnt": 11.0, "stock": 130.0}
    assert store.history(d)[0]["id"] == version and set(store.history(d)[0]["changed"]) >= {"observations",
                                                                                           "submissions"}
    lines = audit_lines()
    reopen = [x for x in lines if x["action"] == "reopen"]
    want = {"form": "mz_month", "region": JIA1, "period": "2023-04-01", "reason": "更正笔误 （见来函）", "changed": 1,
            "ok": True}
    assert len(reopen) == 1 and {k: reopen[0]["detail"].get(k) for k in want} == want
    assert reopen[0]["user"] == "管理员" and reopen[0]["source"] == "web"
    done = [x for x in lines if x["action"] == "import" and x["detail"].get("ok")]
    assert done[-1]["detail"]["reason"] == "更正笔误 （见来函）" and done[-1]["detail"]["reopened"] == 1
    # the importing admin cannot approve their own change; the reviewer can, and the figure stays the import's
    refused("不能审核通过本人上报的数据", lambda: cycle.approve(d, cycle.Actor("管理员", auth.Role.admin, None), key(),
                                                          source="t"), d)
    cycle.approve(d, REV, key(), source="t")
    assert obs_value(d, "cnt", JIA1, APR) == (11.0, "sub:mz_month:990101001000:2023-04:3")
    assert cycle.status(d, key()).state == cycle.APPROVED


def test_rows_not_changing_approved_figures_need_no_reason(d):
    from minsheng import changes

    _approved(d)
    same = _plan(d, "指标编码,区划代码,时期,数值\ncnt,990101001000,2023-04,8\ncnt,990101002000,2023-04,5\n".encode())
    assert same.locked == []  # 甲一镇's figure re-sent unchanged; 甲二镇 not approved
    changes.commit(same, actor="管理员", source="t", directory=d, accept_warnings=True)
    assert cycle.status(d, key()).state == cycle.APPROVED and obs_value(d, "cnt", JIA2, APR)[0] == 5.0
    other_month = _plan(d, "指标编码,区划代码,时期,数值\ncnt,990101001000,2023-03,7\n".encode())
    assert other_month.locked == []


def test_an_approval_after_the_preview_is_still_locked_at_commit(d):
    from minsheng import changes

    cycle.submit(d, REP, key(), cells_in=GOOD, source="t")
    plan = _plan(d)
    assert plan.locked == []  # pending review when previewed
    cycle.approve(d, REV, key(), source="t")
    with pytest.raises(cycle.CycleError, match="已审核通过并锁定"):
        changes.commit(plan, actor="管理员", source="t", directory=d, accept_warnings=True)
    assert obs_value(d, "cnt", JIA1, APR)[0] == 8.0 and [x.key for x in plan.locked] == [key()]


def test_the_import_command_needs_reason_for_approved_figures(cli_env, capsys, tmp_path):
    _approved(cli_env)
    f = tmp_path / "修正.csv"
    f.write_bytes(FIX)
    code, out, err = _cli(["import", str(f), "--yes"], capsys)
    assert code == 2 and "甲一镇2023年4月“民政月报”" in err and "--reason" in err
    assert obs_value(cli_env, "cnt", JIA1, APR)[0] == 8.0
    code, out, err = _cli(["import", str(f), "--yes", "--reason", "更正笔误"], capsys)
    assert code == 0, err
    assert obs_value(cli_env, "cnt", JIA1, APR)[0] == 11.0 and cycle.status(cli_env, key()).last["reason"] == "更正笔误"
    code, out, _ = _cli(["submissions", "--form", "mz_month", "--region", JIA1, "--period", "2023-04"], capsys)
    assert "导入修改，重新审核：更正笔误" in out and "已上报" in out


@pytest.mark.parametrize("crash_at", store.CRASH_STEPS)
def test_kill_during_a_reopening_import_leaves_data_and_review_together(d, crash_at):
    import os

    from minsheng import changes

    _approved(d)
    plan = _plan(d)
    pid = os.fork()
    if pid == 0:
        try:
            os.environ["MINSHENG_CRASH_AT"] = crash_at
            changes.commit(plan, actor="管理员", source="t", directory=d, accept_warnings=True, reason="更正")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    state, value = cycle.status(d, key()).state, obs_value(d, "cnt", JIA1, APR)[0]
    assert (state, value) in ((cycle.APPROVED, 8.0), (cycle.SUBMITTED, 11.0))  # both or neither
    assert crash_at != "switched" or state == cycle.SUBMITTED
