"""AppTest of the 导入 page: a good file previewed and committed, a bad one refused, a rollback."""

import datetime as dt
import hashlib
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT, WITHOUT_RETURNS
from minsheng import repo, store

GOOD = ("指标编码,区划代码,时期,数值\n"
        "mz_dibao_urban_persons,430204901000,2026-11,120\n"
        "mz_dibao_urban_persons,430204902000,2026-11,98\n").encode("utf-8-sig")
BAD = ("指标编码,区划代码,时期,数值\n"
       "mz_dibao_urban_persons,430204901000,2026-11,暂无\n").encode("gbk")


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    d = tmp_path / "data"
    shutil.copytree(ROOT / "data", d, ignore=WITHOUT_RETURNS)
    monkeypatch.setenv("MINSHENG_DATA", str(d))
    return d


def fingerprint(directory):
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.run()
    at.switch_page("views/import_page.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_good_file_is_previewed_then_committed(data_copy):
    at = page()
    at.file_uploader(key="imp_file").set_value(("石峰区11月.csv", GOOD, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    counts = {m.label: m.value for m in at.metric}
    assert counts["新增行"] == "2" and counts["修改行"] == "0"
    assert store.current(data_copy) == store.BASE            # preview writes nothing
    at.button(key="imp_commit").click().run()
    assert any("已导入" in s.value for s in at.success)
    assert store.current(data_copy) != store.BASE
    s = repo.series(["mz_dibao_urban_persons"], ["430204901000"], dt.date(2026, 11, 1),
                    dt.date(2026, 11, 1), data_copy)
    assert s["value"].tolist() == [120.0]
    assert store.history(data_copy)[0]["file_name"] == "石峰区11月.csv"


def test_bad_file_lists_problems_and_changes_nothing(data_copy):
    before = fingerprint(data_copy)
    at = page()
    at.file_uploader(key="imp_file").set_value(("bad.csv", BAD, "text/csv")).run()
    assert any("1 个错误" in e.value for e in at.error)
    table = at.dataframe[0].value
    assert table.iloc[0]["问题"].startswith("“暂无”不是数字") and table.iloc[0]["行"] == 2
    assert not [b for b in at.button if b.key == "imp_commit"]
    assert fingerprint(data_copy) == before


def test_rollback_from_the_page(data_copy):
    at = page()
    at.file_uploader(key="imp_file").set_value(("good.csv", GOOD, "text/csv")).run()
    at.button(key="imp_commit").click().run()
    imported = store.current(data_copy)
    at = page()
    at.selectbox(key="imp_rollback_to").set_value(store.BASE).run()
    at.checkbox(key="imp_rollback_sure").check().run()
    at.button(key="imp_rollback").click().run()
    assert not at.exception
    hist = store.history(data_copy)
    assert hist[0]["action"] == "rollback" and hist[1]["id"] == imported
    assert len(repo.series(["mz_dibao_urban_persons"], ["430204901000"], dt.date(2026, 11, 1),
                           dt.date(2026, 11, 1), data_copy)) == 0
    # the message outlives the page's rerun, and the confirm box is cleared: one more click on 回退
    # would otherwise roll back again (issue 13, item 8)
    assert any("已回退到" in s.value for s in at.success), [s.value for s in at.success]
    assert at.checkbox(key="imp_rollback_sure").value is False
    assert at.button(key="imp_rollback").disabled
    at.run()
    assert not any("已回退到" in s.value for s in at.success)  # said once, not on every later run
    assert len(store.history(data_copy)) == len(hist)


def test_boundary_upload_is_checked_and_committed(data_copy):
    county = (ROOT / "data" / "boundaries" / "county.geojson").read_bytes()
    at = page()
    at.file_uploader(key="imp_file").set_value(("县界.geojson", county, "application/geo+json")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("县（市、区） 9 个" in m.value for m in at.markdown)
    at.button(key="imp_geo_commit").click().run()
    assert any("已导入边界" in s.value for s in at.success)
    assert store.history(data_copy)[0]["file_name"] == "县界.geojson"


def test_a_corrected_file_of_the_same_name_and_size_is_checked_again(data_copy):
    """The preview is kept between clicks by the file's content, not its name and length: a clerk
    who fixes one digit and uploads the file again must not commit the first version's rows."""
    at = page()
    first = "指标编码,区划代码,时期,数值\nmz_dibao_urban_persons,430204901000,2026-11,120\n".encode("utf-8-sig")
    fixed = first.replace(b"120", b"121")
    at.file_uploader(key="imp_file").set_value(("石峰区11月.csv", first, "text/csv")).run()
    at.file_uploader(key="imp_file").set_value(("石峰区11月.csv", fixed, "text/csv")).run()
    at.button(key="imp_commit").click().run()
    assert any("已导入" in s.value for s in at.success)
    s = repo.series(["mz_dibao_urban_persons"], ["430204901000"], dt.date(2026, 11, 1), dt.date(2026, 11, 1),
                    data_copy)
    assert s["value"].tolist() == [121.0]


def test_a_file_changing_approved_figures_asks_for_a_reason_and_reopens_review(data_copy, monkeypatch, tmp_path):
    # the reporting cycle's lock (minsheng/cycle.py): 清水塘街道's November return approved, then this file
    # changes its figure — the page names the return, asks for 修改原因, and the commit reopens review
    import pandas as pd

    from minsheng import auth, cycle, forms

    monkeypatch.setenv("MINSHENG_AUDIT", str(tmp_path / "audit.log"))
    monkeypatch.setattr(cycle, "clock", lambda: dt.datetime(2026, 12, 3, 9, tzinfo=cycle.CHINA))
    rows = forms._typed(pd.DataFrame([dict(form_id="dibao_month", form_name="低保月报", report_level="township",
                                           frequency="month", deadline_day=5, valid_from=dt.date(2026, 1, 1),
                                           valid_to=None, department="民政", indicator_id="mz_dibao_urban_persons",
                                           position=0)]))
    store.commit(data_copy, {"forms": rows}, action="import", kind="forms")
    k = cycle.Key("dibao_month", "430204901000", dt.date(2026, 11, 1))
    cycle.submit(data_copy, cycle.Actor("填报员", auth.Role.reporter, "430204901000"), k,
                 cells_in={"mz_dibao_urban_persons": "100"}, source="t", accept_warnings=True)
    cycle.approve(data_copy, cycle.Actor("审核员", auth.Role.reviewer, "430204000000"), k, source="t")
    at = page()
    at.file_uploader(key="imp_file").set_value(("石峰区11月.csv", GOOD, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("已审核通过并锁定" in w.value and "清水塘街道2026年11月“低保月报”" in w.value for w in at.warning)
    assert at.button(key="imp_commit").disabled  # no reason yet
    at.text_input(key="imp_reason").input("更正笔误").run()
    assert not at.button(key="imp_commit").disabled
    at.button(key="imp_commit").click().run()
    assert any("已导入" in s.value for s in at.success), [e.value for e in at.error]
    s = cycle.status(data_copy, k)
    assert (s.state, s.last["event"], s.last["reason"]) == (cycle.SUBMITTED, "reopen", "更正笔误")
