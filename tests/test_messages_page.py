"""消息中心: the 预警 standing in the sidebar's region follow the filters, and an account reads its own messages
(and marks them read), never another's."""

from __future__ import annotations

import datetime as dt
from contextlib import closing

import pandas as pd
import pytest

from conftest import app, demo_world
from minsheng import auth, cycle, notify
from minsheng.ui import pages
from test_session import sign_in

SHIFENG, QST = "430204000000", "430204901000"
PW = "correct-horse-battery"


def ok(at):
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def world(tmp_path, monkeypatch):
    d = demo_world(tmp_path, monkeypatch)
    monkeypatch.setattr(cycle, "clock", lambda: dt.datetime(2026, 12, 20, 10, 0, tzinfo=cycle.CHINA))
    return d


def standing(at) -> pd.DataFrame:
    return next(df.value for df in at.dataframe if "预警" in df.value.columns)


def test_the_alerts_follow_region_and_level(world):
    at = ok(app("messages", region=SHIFENG))
    shown = standing(at)
    assert len(shown) > 0 and set(shown["级别"]) <= {"严重", "关注"}
    # every December return of 石峰区's townships is owed by 次月5日 = 5 January: none missing yet on 20
    # December; November's (due 5 December) that were never sent are — count them from the demo's tables
    sub = pd.read_parquet(world / "submissions.parquet")
    regions = pd.read_parquet(world / "regions.parquet")
    towns = set(regions[regions["parent_code"] == SHIFENG]["code"])
    nov = pd.Timestamp("2026-11-01").date()
    sent = set(sub[(sub["form_id"] == "mz_month") & (sub["period"] == nov) & sub["event"].isin(["submit"])]["region_code"])
    missing = {regions.set_index("code").loc[c, "name"] for c in towns - sent}
    nov_rows = shown[shown["预警"].str.contains("2026年11月") & shown["预警"].str.contains("民政月报")]
    assert set(nov_rows["区域"]) == missing
    at.radio(key="msg_level").set_value("关注").run()
    assert set(standing(ok(at))["级别"]) <= {"关注"} and len(standing(at)) < len(shown)
    at = ok(app("messages", region=QST))
    assert set(standing(at)["区域"]) <= {regions.set_index("code").loc[QST, "name"]}


def test_an_account_reads_and_marks_its_own_messages(world):
    auth.add_user("sf_sh", "reviewer", SHIFENG, PW)
    auth.add_user("other", "reviewer", SHIFENG, PW)
    with closing(notify.connect(world)) as con, notify.transaction(con):
        notify.add_message(con, "sf_sh", "2026-12-20T08:00:00+08:00", "【严重】清水塘街道 民政月报未报", "已逾期15天", "alert", "k1")
        notify.add_message(con, "other", "2026-12-20T08:00:00+08:00", "别人的消息", "不应看到", "alert", "k2")
    at = sign_in(app(), "sf_sh", PW)
    at.switch_page(pages.get("messages").script).run()
    ok(at)
    assert any("清水塘街道 民政月报未报" in m.value for m in at.markdown)
    assert not any("别人的消息" in m.value for m in at.markdown)
    assert [t.value for t in at.text] == ["已逾期15天"]
    next(b for b in at.button if b.label == "标为已读").click().run()
    assert notify.unread_count(world, "sf_sh") == 0 and notify.unread_count(world, "other") == 1
    assert not any("清水塘街道" in m.value for m in ok(at).markdown)  # 未读 is the default view
    at.radio(key="msg_show").set_value("all").run()
    assert any("清水塘街道 民政月报未报" in m.value for m in ok(at).markdown)


