"""预警 are evaluated after every commit: a note saved (any commit) puts the standing alerts of a reviewer's
area into their 消息中心 without waiting for the schedule, and a second commit tells nothing twice."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from conftest import demo_world
from minsheng import alerts, auth, cycle, notes, notify, schedule

SHIFENG, QUYUAN = "430204000000", "430671000000"


def settle() -> None:
    for t in threading.enumerate():
        if t.name == "minsheng-alerts-after-commit":
            t.join(timeout=120)


@pytest.fixture
def world(tmp_path, monkeypatch):
    d = demo_world(tmp_path, monkeypatch)
    monkeypatch.delenv(schedule.HOOK_OFF, raising=False)
    auth.add_user("sf_sh", "reviewer", SHIFENG, "correct-horse-battery")
    return d


def test_a_commit_tells_the_area_s_reviewer_once(world):
    admin = cycle.Actor("管理员", auth.Role.admin, None)
    notes.save(world, admin, notes.Task("rs_skill_training", QUYUAN, 2023, 7), progress="培训两期", source="test")
    settle()
    today = dt.datetime.now(cycle.CHINA).date()
    expected = {a.key for a in alerts.evaluate(world, today, area=SHIFENG)}
    got = notify.inbox(world, "sf_sh", limit=1000)
    assert expected and len(got) == len(expected)  # one message per alert standing in 石峰区
    assert all(m.kind == "alert" for m in got)
    notes.save(world, admin, notes.Task("rs_skill_training", QUYUAN, 2023, 7), progress="培训三期", source="test")
    settle()
    assert len(notify.inbox(world, "sf_sh", limit=1000)) == len(expected)  # nothing told twice


def test_with_the_hook_off_a_commit_tells_nobody(world, monkeypatch):
    monkeypatch.setenv(schedule.HOOK_OFF, "1")
    notes.save(world, cycle.Actor("管理员", auth.Role.admin, None), notes.Task("rs_skill_training", QUYUAN, 2023, 7),
               progress="培训两期", source="test")
    settle()
    assert notify.inbox(world, "sf_sh") == []
