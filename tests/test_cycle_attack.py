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
