"""目标 with 任务进展 and 生成专报: the month chosen changes the notes shown; a note is written from the task's
page by those of its region who may, and not offered to those who may not; the buttons follow the role."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from conftest import app, demo_world
from minsheng import auth, cycle, notes
from minsheng.ui import pages
from test_session import sign_in

QUYUAN, SHIFENG = "430671000000", "430204000000"
PW = "correct-horse-battery"


def ok(at):
    assert not at.exception, [e.value for e in at.exception]
    return at


def notes_label(at) -> str:
    return next(e.label for e in at.get("expander") if e.label.startswith("本月任务进展"))


@pytest.fixture
def world(tmp_path, monkeypatch):
    d = demo_world(tmp_path, monkeypatch)
    monkeypatch.setattr(cycle, "clock", lambda: dt.datetime(2026, 12, 3, 10, 0, tzinfo=cycle.CHINA))
    return d


def test_the_month_chosen_changes_the_notes_shown(demo_dir):
    july = pd.read_parquet(demo_dir / "task_notes.parquet")
    july = july[(july["region_code"] == QUYUAN) & (july["period"] == dt.date(2023, 7, 1))]
    at = app("goals", region=QUYUAN, year="2023", gmonth="7")
    assert notes_label(at) == f"本月任务进展（{len(july)} 条）" and len(july) == 3
    shown = next(df.value for df in at.dataframe if "进展情况" in df.value.columns)
    assert set(shown["进展情况"]) == set(july["progress"])
    at.selectbox(key="_w_gmonth").set_value(6).run()
    assert notes_label(ok(at)) == "本月任务进展（0 条）"
    assert {b.proto.label for b in at.get("download_button")} >= {"生成专报（Word）"}


def test_a_note_is_written_from_the_task(world):
    at = app("goals", region=QUYUAN, year="2023", gmonth="7", task="rs_skill_training")
    at.text_area(key="note_text").set_value("举办电工、育婴员培训班两期，结业236人")
    at.text_input(key="note_owner").set_value("区人社局职业能力建设股负责人")
    next(b for b in at.button if b.label == "保存进展").click().run()
    ok(at)
    assert any("已保存7月进展" in s.value for s in at.success)
    n = notes.of_month(world, QUYUAN, 2023, 7).set_index("indicator_id")
    assert n.loc["rs_skill_training", "progress"] == "举办电工、育婴员培训班两期，结业236人"
    assert n.loc["rs_skill_training", "owner"] == "区人社局职业能力建设股负责人"
    assert "举办电工、育婴员培训班两期，结业236人" in "".join(m.value for m in at.markdown)


def test_the_form_and_the_buttons_follow_role_and_area(world):
    for name, role, form, buttons in (("qy_tb", "reporter", True, False), ("qy_fx", "analyst", False, True),
                                      ("qy_ll", "viewer", False, False), ("qy_sh", "reviewer", True, True)):
        auth.add_user(name, role, QUYUAN, PW)
        at = sign_in(app(), name, PW)
        at.switch_page(pages.get("goals").script).run()
        at.query_params.update(region=QUYUAN, year="2023", gmonth="7", task="rs_skill_training")
        at.run()
        ok(at)
        assert any(s.value == "任务进展" for s in at.subheader), name
        assert bool([t for t in at.text_area if t.key == "note_text"]) == form, name
        at.query_params.pop("task")
        at.run()
        labels = {b.proto.label for b in ok(at).get("download_button")}
        assert ("生成专报（Word）" in labels) == buttons, (name, labels)
