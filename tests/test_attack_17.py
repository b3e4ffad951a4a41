"""Attacks on issue 17's delivery, 消息中心 and notes: what a reviewer limited to one county must not be told of,
and what must never reach a log."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from conftest import demo_world
from minsheng import auth, channels, cycle, notes, notify, notify_config, schedule

CST = dt.timezone(dt.timedelta(hours=8))
QUYUAN, HETANG = "430671000000", "430202000000"


def _configure(d: Path, text: str) -> None:
    (d / "settings").mkdir(parents=True, exist_ok=True)
    (d / "settings" / "delivery.toml").write_text(text, encoding="utf-8")


def test_a_note_naming_another_countys_contact_does_not_tell_that_county(tmp_path, monkeypatch):
    """A 责任人 is free text written by the task's region. A contact of that name elsewhere (a namesake: 张伟
    of 荷塘区) must not receive 屈原管理区's alert in their 消息中心 or their county's group: the area limits reads."""
    d = demo_world(tmp_path, monkeypatch)
    monkeypatch.setattr(cycle, "clock", lambda: dt.datetime(2023, 8, 10, 9, 0, tzinfo=cycle.CHINA))
    writer = cycle.Actor("quyuan_rep", auth.Role.reporter, QUYUAN)
    notes.save(d, writer, notes.Task("cl_child_rehab", QUYUAN, 2023, 7), progress="按计划推进", owner="张伟",
               source="test")
    _configure(d, f'[[channel]]\nid = "hetang"\ntype = "webhook"\nurl = "http://127.0.0.1:9/hook"\n'
                  f'areas = ["{HETANG}"]\n\n'
                  f'[[contact]]\nname = "张伟"\nduty = "责任人"\narea = "{HETANG}"\ndepartment = "残联"\n'
                  f'account = "hetang_rev"\n')
    users = [auth.User("hetang_rev", auth.Role.reviewer, HETANG)]
    now = dt.datetime(2023, 8, 10, 8, 0, tzinfo=CST)
    schedule.run(d, now, users=users, make_brief=None)
    told = notify.inbox(d, "hetang_rev")
    assert not [m for m in told if "屈原" in m.title + m.body], [m.title for m in told]
    con = notify.connect(d)
    try:
        rows = con.execute("select channel, recipient, payload from outbox").fetchall()
    finally:
        con.close()
    assert not [r for r in rows if r["channel"] == "hetang" and "屈原" in r["payload"]]


def test_a_malformed_robot_url_does_not_put_its_key_in_the_outbox_or_audit():
    """http.client names the path and query of a URL it refuses; with the key in `url`, scrub must hide it."""
    cfg = notify_config.parse(b'[[channel]]\nid = "wx"\ntype = "wecom"\n'
                              b'url = "http://127.0.0.1:9/cgi-bin/webhook/send?key=SECRET-KEY 1"\nareas = ["430200"]\n',
                              Path("delivery.toml"))
    result = channels.send(cfg.channels[0], channels.wecom_body("x"))
    assert not result.ok and "SECRET" not in (result.error or ""), result.error


def test_an_admin_limited_to_a_county_reads_only_its_deliveries_in_the_message_centre(tmp_path, monkeypatch):
    """推送状态 lists recipients (names, e-mail addresses) and errors: an admin of 石峰区 must not read 荷塘区's."""
    from contextlib import closing

    from conftest import app
    from minsheng.ui import pages
    from test_session import sign_in

    d = demo_world(tmp_path, monkeypatch)
    shifeng = "430204000000"
    auth.add_user("sf_admin", "admin", shifeng, "correct-horse-battery")
    ch = notify_config.Channel(id="mail", type="smtp", areas=(HETANG,), host="127.0.0.1", sender="bot@example.test")
    now = dt.datetime(2026, 12, 20, 8, 0, tzinfo=CST)
    with closing(notify.connect(d)) as con, notify.transaction(con):
        notify.enqueue(con, ch, "hetang-leader@example.test", "alert", HETANG, {"to": "x", "subject": "s", "body": "b"},
                       "k-hetang", now)
        con.execute("update outbox set status = 'failed', last_error = '荷塘区的错误'")
        con.execute("insert into runs (job, done_at, note) values ('brief:430202000000:2026-11', 'x', '荷塘区专报.docx')")
    at = sign_in(app(), "sf_admin", "correct-horse-battery")
    at.switch_page(pages.get("messages").script).run()
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(df.value.to_csv() for df in at.dataframe)
    assert "hetang-leader" not in shown and "荷塘区" not in shown, shown
    # the whole store's admin still reads every delivery
    assert notify.status(d)["failed"][0]["recipient"] == "hetang-leader@example.test"


def test_a_county_reporter_is_offered_the_form_its_city_issued(tmp_path, monkeypatch):
    """民政月报 is issued by 株洲市 and owed by 石峰区's townships (报表未报 alerts say so). A reporter whose area is
    石峰区 reads a tree that stops at 石峰区: under it the townships did not lie under 株洲市, and the form vanished
    from 数据填报 — the returns the 预警 ask for could not be sent."""
    from conftest import app
    from minsheng.ui import pages
    from test_session import sign_in

    demo_world(tmp_path, monkeypatch)
    monkeypatch.setattr(cycle, "clock", lambda: dt.datetime(2026, 12, 20, 10, 0, tzinfo=cycle.CHINA))
    auth.add_user("sf_rep", "reporter", "430204000000", "correct-horse-battery")
    at = sign_in(app(), "sf_rep", "correct-horse-battery")
    at.switch_page(pages.get("report").script).run()
    assert not at.exception, [e.value for e in at.exception]
    offered = [o for s in at.selectbox if s.label == "报表" for o in s.options]
    assert any(o.startswith("民政月报") for o in offered), offered


def test_an_account_moved_to_another_county_no_longer_reads_the_old_countys_messages(tmp_path, monkeypatch):
    """An area limits reads as it is now: a reviewer moved from 荷塘区 to 石峰区 (or a removed account's name given
    to someone else) must not go on reading 荷塘区's alerts in 消息中心."""
    from conftest import app
    from minsheng.ui import pages
    from test_session import sign_in

    d = demo_world(tmp_path, monkeypatch)
    pw = "correct-horse-battery"
    auth.add_user("mover", "reviewer", HETANG, pw)
    schedule.run(d, dt.datetime(2023, 8, 10, 8, 0, tzinfo=CST), make_brief=None)
    assert any("荷塘区" in m.title for m in notify.inbox(d, "mover"))  # told while 荷塘区 was theirs
    auth.set_area("mover", "430204000000")
    at = sign_in(app(), "mover", pw)
    at.switch_page(pages.get("messages").script).run()
    at.radio(key="msg_show").set_value("all").run()
    assert not at.exception, [e.value for e in at.exception]
    read = [m.value for m in at.markdown] + [t.value for t in at.text]
    assert not [v for v in read if "荷塘区" in v or "仙庾镇" in v], read
