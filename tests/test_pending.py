"""未审核 data on request (minsheng/pending.py): the pending returns' figures read through a derived view, never
written into the data; every page, image, deck and file made from it says 含未审核数据; the toggle is offered
only while something awaits review in the user's area.

The sums are checked against the figures this test submits, added up here."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil

import pandas as pd
import pytest

from conftest import ROOT, app, own_forms
from minsheng import auth, cycle, cycle_demo, pending, repo, store
from minsheng.selection import Selection
from minsheng.ui import data

QST, XSL, SHIFENG = "430204901000", "430204902000", "430204000000"
NOV = dt.date(2026, 11, 1)
URBAN = "mz_dibao_urban_persons"
MZ = [URBAN, "mz_dibao_rural_persons", "mz_tekun_persons", "mz_low_income_monitored"]
SENT = {QST: {URBAN: "83", MZ[1]: "205", MZ[2]: "61", MZ[3]: "39"},
        XSL: {URBAN: "120", MZ[1]: "310", MZ[2]: "70", MZ[3]: "51"}}


def tree_files(directory) -> dict:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file() and ".derived" not in p.parts and p.name != "lock"}


@pytest.fixture
def world(tmp_path, monkeypatch):
    d = tmp_path / "data"
    shutil.copytree(ROOT / "data", d)
    rows = [dict(form_id="t_mz", form_name="测试民政月报", report_level="township", frequency="month", deadline_day=5,
                 valid_from=dt.date(2026, 1, 1), valid_to=None, department="民政", indicator_id=i, position=n)
            for n, i in enumerate(MZ)]
    own_forms(d, pd.DataFrame(rows))
    monkeypatch.setenv("MINSHENG_DATA", str(d))
    monkeypatch.setattr(cycle, "clock", lambda: dt.datetime(2026, 12, 3, 10, 0, tzinfo=cycle.CHINA))
    for code, cells in SENT.items():
        cycle.submit(d, cycle.Actor(f"tb_{code}", auth.Role.reporter, code), cycle.Key("t_mz", code, NOV),
                     cells_in=cells, source="test")
    return d


def test_the_view_holds_the_pending_figures_and_the_data_do_not(world):
    before = tree_files(world), store.version(world), len(store.history(world))
    view = pending.view(world)
    assert (tree_files(world), store.version(world), len(store.history(world))) == before   # nothing written
    got = repo.series([URBAN], [QST, XSL, SHIFENG], NOV, NOV, view).set_index("region_code")
    assert got.loc[QST, "value"] == 83 and got.loc[XSL, "value"] == 120
    assert got.loc[SHIFENG, "value"] == 83 + 120                       # the county's sum of what is in
    assert got.loc[QST, "source"].endswith("（未审核）") and "（未审核）" in got.loc[SHIFENG, "source"]
    assert repo.series([URBAN], [QST, SHIFENG], NOV, NOV, world).empty   # approved data: nothing for November
    assert store.read_meta(view)["data_date"] == "2026-11-30" and store.read_meta(world)["data_date"] == "2026-10-31"
    assert pending.view(world) == view                                # the same returns: the same view, reused


def test_approval_moves_a_return_out_of_the_view(world):
    reviewer = cycle.Actor("石峰区审核员", auth.Role.reviewer, SHIFENG)
    cycle.approve(world, reviewer, cycle.Key("t_mz", QST, NOV), source="test")
    rows = pending.rows(world)
    assert set(rows["region_code"]) == {XSL} and pending.count(world, SHIFENG) == 1
    assert pending.count(world, "430202000000") == 0                 # another county: nothing of theirs
    view = pending.view(world)
    got = repo.series([URBAN], [QST, XSL, SHIFENG], NOV, NOV, view).set_index("region_code")
    assert got.loc[QST, "source"] == "清水塘街道填报" and got.loc[XSL, "source"].endswith("（未审核）")
    cycle.approve(world, reviewer, cycle.Key("t_mz", XSL, NOV), source="test")
    assert pending.rows(world).empty and pending.view(world) is None


def test_every_output_of_a_pending_selection_says_so():
    sel = Selection(region=SHIFENG, region_name="石峰区", region_level="county", year=2026, data_date="2026-11-30",
                    pending=True, page="总览", start=NOV, end=NOV, grain="month")
    plain = Selection(region=SHIFENG, region_name="石峰区", region_level="county", year=2026, data_date="2026-11-30",
                      page="总览", start=NOV, end=NOV, grain="month")
    for what in (sel.subtitle(), sel.deck_subtitle(), sel.origin("民政局"), sel.file_stem("总览")):
        assert "含未审核数据" in what, what
    for what in (plain.subtitle(), plain.deck_subtitle(), plain.origin("民政局"), plain.file_stem("总览")):
        assert "含未审核数据" not in what, what
    assert ("数据范围", "含未审核数据：已上报、尚未审核通过的报表数据已计入，其来源标注“（未审核）”") in \
        sel.with_(indicators=(URBAN,)).describe(pd.DataFrame([dict(id=URBAN, name_zh="城市低保对象", unit="人")]))
    assert sel.audit()["pending"] is True and "pending" not in plain.audit()


def test_the_toggle_reads_the_view_and_labels_the_page(world):
    at = app(region=SHIFENG)
    assert at.toggle(key=data.PENDING).value is False
    assert "含未审核数据" not in " ".join(c.value for c in at.caption)
    cards = {m.label: m.value for m in at.metric}
    at.toggle(key=data.PENDING).set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("本页含未审核数据" in w.value for w in at.warning)
    assert "含未审核数据" in " ".join(c.value for c in at.caption)       # the title line and the footer
    shown = {m.label: m.value for m in at.metric}
    assert shown != cards                                               # November's figures now counted
    assert any(v.startswith("203") for k, v in shown.items() if "城市低保对象" in k), shown
    assert at.session_state["_ms_scope"].pending                       # so its images, decks and files say so
    at.toggle(key=data.PENDING).set_value(False).run()
    assert {m.label: m.value for m in at.metric} == cards                # off: approved data only, as before


def test_no_toggle_while_nothing_awaits_review(tmp_path, monkeypatch):
    d = tmp_path / "data"
    shutil.copytree(ROOT / "data", d)
    own_forms(d, cycle_demo.forms_frame())                               # the demo's 报表, none of its returns
    monkeypatch.setenv("MINSHENG_DATA", str(d))
    at = app()
    assert not [t for t in at.toggle if t.key == data.PENDING]


def test_the_demo_offers_its_pending_returns(demo_dir):
    waiting = pending.count(demo_dir)
    st = cycle.states(demo_dir)
    assert waiting == int((st["state"] == cycle.SUBMITTED).sum()) > 0
    at = app()
    assert [t for t in at.toggle if t.key == data.PENDING]


def test_a_run_reading_the_view_reads_it_with_duckdb_whatever_the_engine(world, monkeypatch):
    monkeypatch.setenv("MINSHENG_ENGINE", "clickhouse")        # published data live there: the view does not
    assert repo.engine() == "clickhouse"
    token = store.read_from(pending.view(world))
    try:
        assert repo.engine() == "duckdb"
        got = repo.series([URBAN], [SHIFENG], NOV, NOV)
        assert got["value"].tolist() == [83 + 120]
    finally:
        store._READ_FROM.reset(token)
    assert repo.engine() == "clickhouse"


def test_a_replaced_view_takes_its_connection_with_it(world):
    from minsheng import db

    first = pending.view(world)
    repo.series([URBAN], [QST], NOV, NOV, first)                         # a connection to the first view
    assert first.resolve() in db._engines
    for n in range(store.DERIVED_KEPT + 1):                               # newer returns: newer views
        code = f"43020490{n + 3}000"
        cycle.submit(world, cycle.Actor(f"tb_{code}", auth.Role.reporter, code), cycle.Key("t_mz", code, NOV),
                     cells_in=SENT[QST], accept_warnings=True, source="test")
        pending.view(world)
    assert not first.exists() and first.resolve() not in db._engines
