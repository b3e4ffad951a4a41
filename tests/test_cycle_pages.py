"""AppTest of the reporting cycle's pages on a copy of the demo data: 数据填报 (a bad cell named beside its row,
fixed, 上报), 数据审核 (退回 with a reason, then 通过 after the resubmission), 报送进度 (the cell and the counts
follow; another 报表 or view changes the matrix), and who may open which page.

Expected figures are counted here from the cycle's own tables read with pandas, or written by hand."""

from __future__ import annotations

import datetime as dt
import shutil

import pandas as pd
import pytest

from conftest import ROOT, app, own_forms
from minsheng import auth, cycle, forms, repo, store
from minsheng.ui import pages
from test_session import sign_in, texts

QST = "430204901000"       # 清水塘街道, 石峰区
XSL = "430204902000"       # 响石岭街道, 石峰区
SHIFENG = "430204000000"
CITY = "430200000000"
PW = "Cycle-pages-2026!"
NOV = dt.date(2026, 11, 1)
MZ = ["mz_dibao_urban_persons", "mz_dibao_rural_persons", "mz_tekun_persons", "mz_low_income_monitored"]


def form_rows() -> pd.DataFrame:
    rows = [dict(form_id="t_mz_month", form_name="测试民政月报", report_level="township", frequency="month",
                 deadline_day=5, valid_from=dt.date(2026, 1, 1), valid_to=None, department="民政", indicator_id=i,
                 position=n) for n, i in enumerate(MZ)]
    rows += [dict(form_id="t_yb_month", form_name="测试医保月报", report_level="township", frequency="month",
                  deadline_day=10, valid_from=dt.date(2026, 1, 1), valid_to=None, department="医保",
                  indicator_id="yb_proxy_services", position=0)]
    return forms._typed(pd.DataFrame(rows))


@pytest.fixture
def world(tmp_path, monkeypatch):
    d = tmp_path / "data"
    shutil.copytree(ROOT / "data", d, ignore=shutil.ignore_patterns("drafts"))
    own_forms(d, form_rows())
    monkeypatch.setenv("MINSHENG_DATA", str(d))
    monkeypatch.setenv("MINSHENG_USERS", str(tmp_path / "users.json"))
    monkeypatch.setenv("MINSHENG_AUDIT", str(tmp_path / "audit.log"))
    monkeypatch.setattr(cycle, "clock", lambda: dt.datetime(2026, 12, 3, 10, 0, tzinfo=cycle.CHINA))
    for name, role, area in (("qst_tb", "reporter", QST), ("sf_sh", "reviewer", SHIFENG),
                             ("zz_sh", "reviewer", CITY), ("zz_view", "viewer", CITY)):
        auth.add_user(name, role, area, PW)
    return d


def signed_in(name: str, page: str | None):
    at = sign_in(app(), name, PW)
    if page:
        at.switch_page(pages.get(page).script).run()
    return ok(at)


def table(at, column: str) -> pd.DataFrame:
    """The first table on the page with `column` (AppTest does not expose a dataframe's key)."""
    for df in at.dataframe:
        v = df.value
        if column in v.columns:
            return v
    raise KeyError(column)


def ok(at):
    assert not at.exception, [e.value for e in at.exception]
    return at


def fill(at, values: dict) -> None:
    form = [b for b in at.get("text_input") if b.key and b.key.endswith("_value")]
    by_ind = {b.key.split("_", 2)[2].rsplit("_", 1)[0]: b for b in form}
    for iid, v in values.items():
        by_ind[iid].set_value(v)


def test_the_loop_through_the_pages(world):
    at = signed_in("qst_tb", "report")
    assert at.selectbox(key="rep_region").options == ["清水塘街道"]   # their own only
    assert at.selectbox(key="rep_period").value == NOV                                   # the month now due
    fill(at, {MZ[0]: "83", MZ[1]: "暂无", MZ[2]: "61", MZ[3]: "39"})
    ok(at.button(key="rep_submit").click().run())
    shown = texts(at.markdown)
    assert "农村低保对象（人） 207 223 :red[错误：数值 “暂无”不是数字" in shown, shown   # beside its row
    assert cycle.status(world, cycle.Key("t_mz_month", QST, NOV)).state == cycle.NONE   # nothing sent
    assert any("未上报" in e.value for e in at.error)
    fill(at, {MZ[1]: "205"})
    ok(at.button(key="rep_submit").click().run())
    assert any("已上报" in s.value for s in at.success)
    key = cycle.Key("t_mz_month", QST, NOV)
    assert cycle.status(world, key).state == cycle.SUBMITTED
    assert at.button(key="rep_submit").disabled                                          # locked while pending

    rev = signed_in("sf_sh", "review")
    assert rev.selectbox(key="rev_form").value == "t_mz_month"
    assert [m.value for m in rev.metric][:1] == ["1"]                                   # 待审核 1
    rev.selectbox(key="rev_region").set_value(QST)
    ok(rev.run())
    cmp = table(rev, "上报值")
    assert cmp["上报值"].tolist() == [83.0, 205.0, 61.0, 39.0]
    ok(rev.button(key="rev_return").click().run())                                       # no reason: refused
    assert any("原因" in e.value for e in rev.error)
    assert cycle.status(world, key).state == cycle.SUBMITTED
    rev.text_area(key="rev_reason").set_value("农村低保对象较上月减少，请核实")
    ok(rev.button(key="rev_return").click().run())
    assert cycle.status(world, key).state == cycle.RETURNED

    at = signed_in("qst_tb", "report")
    assert any("农村低保对象较上月减少" in e.value for e in at.error)                 # the reason, to the reporter
    starting = {b.key: b.value for b in at.get("text_input") if b.key and b.key.endswith("_value")}
    assert sorted(starting.values()) == sorted(["83", "205", "61", "39"])           # the last return to correct
    fill(at, {MZ[1]: "206"})
    ok(at.button(key="rep_submit").click().run())
    assert cycle.status(world, key).state == cycle.SUBMITTED

    rev = signed_in("sf_sh", "review")
    rev.selectbox(key="rev_region").set_value(QST)
    ok(rev.run())
    before = repo.series([MZ[1]], [QST], NOV, NOV, world)
    assert before.empty                                                                  # not upstream before approval
    ok(rev.button(key="rev_approve").click().run())
    assert cycle.status(world, key).state == cycle.APPROVED
    after = repo.series(MZ, [QST], NOV, NOV, world).set_index("indicator_id")["value"]
    assert after.to_dict() == {MZ[0]: 83.0, MZ[1]: 206.0, MZ[2]: 61.0, MZ[3]: 39.0}

    city = signed_in("zz_sh", "progress")
    levels = table(city, "报送率").set_index("区划")
    expected = len(pd.read_parquet(store.table_path(store.resolve(world), "regions")).query("level == 'township'"))
    assert levels.loc["株洲市", "已报"] == 1 and levels.loc["石峰区", "按时"] == 1
    assert levels.loc["株洲市", "应报"] == expected - 4                                 # the 4 codes not valid now
    assert levels.loc["石峰区", "报送率"] == pytest.approx(100 / 8)


def test_who_may_open_which_page(world):
    viewer = signed_in("zz_view", "progress")                                          # 报送进度: everyone
    assert "填报账号" not in table(viewer, "逾期天数").columns         # the accounts: for the chasers
    at = signed_in("zz_view", None)
    for page in ("report", "review"):                                                  # not even routed for a viewer
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(pages.get(page).script)
    rev = signed_in("sf_sh", None)                                                     # a reviewer reviews, cannot report
    rev.switch_page(pages.get("review").script).run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        rev.switch_page(pages.get("report").script)


def test_a_filter_changes_each_page(world):
    rev = signed_in("sf_sh", "review")
    cycle.submit(world, cycle.Actor("qst_tb", auth.Role.reporter, QST), cycle.Key("t_mz_month", QST, NOV),
                 cells_in={MZ[0]: "83", MZ[1]: "206", MZ[2]: "61", MZ[3]: "39"}, source="test")
    ok(rev.run())
    pending = [m.value for m in rev.metric]
    rev.selectbox(key="rev_form").set_value("t_yb_month")
    ok(rev.run())
    assert [m.value for m in rev.metric] != pending and [m.value for m in rev.metric][0] == "0"

    prg = signed_in("zz_sh", "progress")
    first = table(prg, "区划")
    prg.radio(key="prg_view").set_value("forms")
    ok(prg.run())
    by_form = table(prg, "区划")
    assert list(by_form.columns) == ["区划", "测试民政月报", "测试医保月报"] and not by_form.equals(first)
    assert by_form.set_index("区划").loc["石峰区", "测试民政月报"] == "已报 1/8"

    at = signed_in("qst_tb", "report")
    at.selectbox(key="rep_form").set_value("t_yb_month")
    ok(at.run())
    keys = [b.key for b in at.get("text_input") if b.key and b.key.endswith("_value")]
    assert len(keys) == 1 and "yb_proxy_services" in keys[0]



def test_the_progress_workbook_is_the_matrix_and_keeps_names_as_text():
    import io

    import openpyxl

    from minsheng import progress

    form = forms.catalogue(form_rows())["t_mz_month"]
    m = pd.DataFrame({"区划": ["=HYPERLINK(\"http://x\",\"点我\")", "石峰区"], "2026年10月": ["✓ 按时", "已报 3/8"]})
    book = openpyxl.load_workbook(io.BytesIO(progress.grid_xlsx(m, "2026年逐期报送情况", "株洲市", form)))
    sheet = book.worksheets[0]
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    assert rows[0] == ["区划", "2026年10月"] and rows[2] == ["石峰区", "已报 3/8"]
    cell = sheet.cell(row=2, column=1)
    assert cell.data_type != "f" and not str(cell.value).startswith("=") and "HYPERLINK" in str(cell.value)
    notes = [[c.value for c in r] for r in book.worksheets[1].iter_rows()]
    assert ["报送时限", "测试民政月报：次月5日"] in notes


def test_the_matrix_has_a_row_per_region_below_and_the_newest_period_first():
    from minsheng import progress
    from minsheng.regions import Tree

    regions = pd.DataFrame([dict(code=c, name=n, level=lv, parent_code=p) for c, n, lv, p in (
        ("C", "市", "city", None), ("A", "甲县", "county", "C"), ("B", "乙县", "county", "C"),
        ("a1", "甲一镇", "township", "A"), ("a2", "甲二镇", "township", "A"), ("b1", "乙一镇", "township", "B"))])
    tree = Tree(regions)
    form = forms.catalogue(form_rows())["t_mz_month"]
    sep, octo = dt.date(2026, 9, 1), dt.date(2026, 10, 1)
    table = pd.DataFrame([dict(region_code=c, period=p, cell=cell, reported=cell in progress.REPORTED,
                               on_time=cell == progress.ON_TIME) for c, p, cell in (
        ("a1", sep, progress.ON_TIME), ("a2", sep, progress.MISSING), ("b1", sep, progress.LATE),
        ("a1", octo, progress.ON_TIME), ("a2", octo, progress.PENDING), ("b1", octo, progress.RETURNED))])
    city = progress.grid(table, form, tree, "C")
    assert list(city.columns) == ["区划", "2026年10月", "2026年9月"]
    assert city.values.tolist() == [["甲县", "✓ 已报 2/2", "已报 1/2"], ["乙县", "已报 0/1", "✓ 已报 1/1"]]
    county = progress.grid(table[table["region_code"].isin(["a1", "a2"])], form, tree, "A")
    assert county.values.tolist() == [["甲一镇", "✓ 按时", "✓ 按时"], ["甲二镇", "待审核", "未报"]]
