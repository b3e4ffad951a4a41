"""Same-name regions: 88 of ~1,400 villages of one city share a name with another village.

Streamlit keys a selectbox's value by its label, so two villages drawn with the same label swap on the
next rerun and the figures of one show under the other's name. The picker's values are codes and
labels that would repeat are told apart by their parents.
"""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import ROOT, app, fixture_tables
from minsheng import regions, store
from minsheng.ui import pages

CITY, JIA, YI = "990100000000", "990101000000", "990102000000"
JIA1, YI1 = "990101001000", "990102001000"
# two 红旗村 under different townships of different counties, and two 新华村 whose townships share a
# name too (both 新华街道), so the label has to reach up to the county
HONGQI_JIA, HONGQI_YI = "990101001001", "990102001001"
XH_JIA, XH_YI = "990101003000", "990102003000"
XINHUA_JIA, XINHUA_YI = "990101003001", "990102003001"


def _tables() -> dict[str, pd.DataFrame]:
    t = fixture_tables()
    extra = pd.DataFrame([
        dict(code=HONGQI_JIA, name="红旗村", level="village", parent_code=JIA1, lon=None, lat=None),
        dict(code=HONGQI_YI, name="红旗村", level="village", parent_code=YI1, lon=None, lat=None),
        dict(code=XH_JIA, name="新华街道", level="township", parent_code=JIA, lon=None, lat=None),
        dict(code=XH_YI, name="新华街道", level="township", parent_code=YI, lon=None, lat=None),
        dict(code=XINHUA_JIA, name="新华村", level="village", parent_code=XH_JIA, lon=None, lat=None),
        dict(code=XINHUA_YI, name="新华村", level="village", parent_code=XH_YI, lon=None, lat=None),
    ])
    t["regions"] = pd.concat([t["regions"], extra], ignore_index=True)
    ind = t["indicators"]
    ind.loc[ind["id"] == "stock", "report_level"] = "village"
    obs = t["observations"]
    rows = [dict(obs.iloc[0]) | dict(indicator_id="stock", region_code=code, period=pd.Timestamp(p).date(),
                                     value=float(v), status="final", source="测试来源stock")
            for code, v in ((HONGQI_JIA, 111), (HONGQI_YI, 222), (XINHUA_JIA, 333), (XINHUA_YI, 444))
            for p in ("2022-03-01", "2023-03-01")]
    t["observations"] = pd.concat([obs, pd.DataFrame(rows)], ignore_index=True)
    return t


@pytest.fixture
def same_names(tmp_path, monkeypatch):
    store.write_tables(tmp_path, _tables(), {"title": "测试数据", "demo": False, "data_date": "2023-03-31"})
    monkeypatch.setenv("MINSHENG_DATA", str(tmp_path))
    return tmp_path


def test_labels_are_unique_and_name_the_parents_only_where_names_repeat():
    tree = regions.Tree(_tables()["regions"])
    labels = [tree.label(c) for c in tree.order]
    assert len(set(labels)) == len(labels)
    assert tree.label(HONGQI_JIA) == "红旗村（甲一镇）" and tree.label(HONGQI_YI) == "红旗村（乙一镇）"
    assert tree.label(XH_JIA) == "新华街道（甲县）" and tree.label(XH_YI) == "新华街道（乙县）"
    assert tree.label(XINHUA_JIA) == "新华村（新华街道·甲县）" and tree.label(XINHUA_YI) == "新华村（新华街道·乙县）"
    assert tree.label(JIA1) == "甲一镇" and tree.label(CITY) == "测试市"  # a unique name stays as it is
    indented = [tree.indented(c) for c in tree.order]
    assert len(set(indented)) == len(indented)


def test_labels_stay_unique_when_everything_above_repeats_too():
    """Two same-name villages in same-name townships of the same county: only the code tells them apart."""
    df = pd.DataFrame([
        dict(code="990100000000", name="市", level="city", parent_code=None),
        dict(code="990101000000", name="县", level="county", parent_code="990100000000"),
        dict(code="990101001000", name="镇", level="township", parent_code="990101000000"),
        dict(code="990101002000", name="镇", level="township", parent_code="990101000000"),
        dict(code="990101001001", name="村", level="village", parent_code="990101001000"),
        dict(code="990101002001", name="村", level="village", parent_code="990101002000"),
    ])
    tree = regions.Tree(df)
    labels = {c: tree.label(c) for c in tree.order}
    assert len(set(labels.values())) == len(labels)
    assert labels["990101001001"].endswith("990101001001") and labels["990101002001"].endswith("990101002001")


def _stock(at) -> str:
    return next(m.value for m in at.metric if m.label == "月末人数")


@pytest.mark.parametrize("village,other,value", [(HONGQI_YI, HONGQI_JIA, "222 人"), (XINHUA_YI, XINHUA_JIA, "444 人"),
                                                 (HONGQI_JIA, HONGQI_YI, "111 人")])
def test_a_same_name_village_keeps_its_code_across_pages_years_and_languages(same_names, village, other, value):
    at = app(region=village, year="2023")
    picker = at.selectbox(key="_w_region")
    assert picker.value == village and _stock(at) == value
    for page in [*pages.BROWSE[1:], pages.DEFAULT]:
        at.switch_page(page.script).run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.selectbox(key="_w_region").value == village
        assert at.query_params["region"] == village
    at.selectbox(key="_w_year").set_value(2022).run()
    assert at.selectbox(key="_w_region").value == village and at.query_params["year"] == "2022"
    assert _stock(at) == value  # the same figure in 2022 (see _tables)
    at.segmented_control(key="_w_lang").set_value("en").run()
    assert not at.exception
    assert at.selectbox(key="_w_region").value == village and at.query_params["region"] == village
    at.segmented_control(key="_w_lang").set_value("zh").run()
    at.switch_page(pages.get("trend").script).run()
    assert at.selectbox(key="_w_region").value == village != other


def test_the_data_page_and_the_map_tell_same_name_regions_apart(same_names):
    at = app(region=CITY, year="2023", xinds="stock")
    at.switch_page(pages.get("explore").script).run()
    at.segmented_control(key="_w_xlevel").set_value("village").run()
    assert not at.exception, [e.value for e in at.exception]
    picker = at.multiselect(key="_w_xregs")
    shown = [picker.format_func(c) for c in picker.options] if callable(getattr(picker, "format_func", None)) \
        else list(picker.options)
    assert len(set(shown)) == len(shown) and "红旗村（乙一镇）" in shown, shown
    picker.set_value([HONGQI_YI]).run()
    assert at.multiselect(key="_w_xregs").value == [HONGQI_YI]
    assert list(at.dataframe[0].value["区划代码"].unique()) == [HONGQI_YI]
    at = app(region=CITY, year="2023")
    at.switch_page(pages.get("map").script).run()
    at.selectbox(key="_w_ind").set_value("stock").run()
    at.segmented_control(key="_w_maplevel").set_value("township").run()
    assert not at.exception, [e.value for e in at.exception]
    names = list(at.dataframe[0].value["区域"])
    assert "新华街道（甲县）" in names and "新华街道（乙县）" in names and len(set(names)) == len(names), names


def test_a_retired_code_says_so_and_two_tops_of_one_name_are_told_apart_by_code():
    df = pd.DataFrame([
        dict(code="990100000000", name="市", level="city", parent_code=None, valid_to=None),
        dict(code="990200000000", name="市", level="city", parent_code=None, valid_to=None),
        dict(code="990121000000", name="株洲县", level="county", parent_code="990100000000",
             valid_to=pd.Timestamp("2018-06-19")),
        dict(code="990112000000", name="渌口区", level="county", parent_code="990100000000", valid_to=None),
        dict(code="990122000000", name="祁阳", level="county", parent_code="990100000000",
             valid_to=pd.Timestamp("2021-03-01")),
        dict(code="990182000000", name="祁阳", level="county", parent_code="990100000000", valid_to=None),
    ])
    tree = regions.Tree(df)
    assert tree.label("990121000000") == "株洲县（2018年停用）" and tree.label("990112000000") == "渌口区"
    assert tree.label("990122000000") == "祁阳（2021年停用）" and tree.label("990182000000") == "祁阳"
    assert {tree.label("990100000000"), tree.label("990200000000")} == {"市 990100000000", "市 990200000000"}


@pytest.mark.browser
def test_in_a_real_browser_a_same_name_village_keeps_its_code(tmp_path, chromium_path, browser):
    """What Streamlit's frontend does with the picker's labels: a link to the second 红旗村, then the
    menu, the year and the language — the URL's code and the figure stay that village's."""
    from browser_support import APP_SCRIPT, StreamlitServer, new_page, wait_idle

    data = tmp_path / "data"
    store.write_tables(data, _tables(), {"title": "测试数据", "demo": False, "data_date": "2023-03-31"})
    env = {"MINSHENG_DATA": str(data), "MINSHENG_USERS": str(tmp_path / "users.json"),
           "MINSHENG_AUDIT": str(tmp_path / "audit.log")}
    server = StreamlitServer(APP_SCRIPT, ROOT, "same-names", env=env).start()
    main = '[data-testid="stMain"]'
    try:
        ctx, page, _ = new_page(browser)
        page.goto(f"{server.url}/?region={HONGQI_YI}&year=2023")
        wait_idle(page)
        picker = page.locator('[data-testid="stSidebar"] input[aria-label="区域"]')
        assert picker.input_value().strip() == "红旗村（乙一镇）"
        assert "222 人" in page.locator(main).inner_text()
        for target in ("趋势", "数据", "总览"):
            page.locator('[data-testid="stSidebarNavLink"]').get_by_text(target, exact=True).click()
            wait_idle(page)
            assert f"region={HONGQI_YI}" in page.url, (target, page.url)
            assert picker.input_value().strip() == "红旗村（乙一镇）", target
        page.locator('[data-testid="stSidebar"] input[aria-label="年度"]').click()
        page.get_by_role("option", name="2022年").click()
        wait_idle(page)
        assert "year=2022" in page.url and f"region={HONGQI_YI}" in page.url
        assert "222 人" in page.locator(main).inner_text()
        page.locator('[data-testid="stSidebar"] button', has_text="English").click()
        page.wait_for_function("() => document.querySelector('h1') && document.querySelector('h1').innerText.trim() === 'Overview'",
                               timeout=30_000)
        wait_idle(page)
        assert "lang=en" in page.url and f"region={HONGQI_YI}" in page.url
        assert "222 persons" in page.locator(main).inner_text()
        ctx.close()
    finally:
        server.stop()


def test_a_link_may_name_a_region_by_a_short_code_or_its_name():
    """Issue 13's small things: region=430204 and region=株洲市 open the region instead of "没有区域"."""
    tree = regions.Tree(_tables()["regions"])
    assert tree.find("990101") == JIA and tree.find("9901") == CITY and tree.find("990101001") == JIA1
    assert tree.find("甲县") == JIA and tree.find("红旗村（乙一镇）") == HONGQI_YI
    assert tree.find("红旗村") is None and tree.find("990199") is None and tree.find("") is None
    for asked, code in (("430204", "430204000000"), ("株洲市", "430200000000"), ("4302", "430200000000")):
        at = app(region=asked)
        assert at.selectbox(key="_w_region").value == code and at.query_params["region"] == code
        assert not at.warning or all("没有区域" not in w.value for w in at.warning)
    at = app(region="红旗村")  # not in the demo at all: still the fallback and its warning
    assert any("没有区域" in w.value for w in at.warning)


def test_a_link_to_a_year_without_data_says_so():
    at = app(year="1800")
    assert any("没有 1800 年的数据，已改为显示 2026年" in w.value for w in at.warning)
    at = app(year="abc")
    assert any("没有 abc 年的数据" in w.value for w in at.warning)
    assert not any("年的数据" in w.value for w in app(year="2023").warning)
