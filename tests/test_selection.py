"""One page view's selection (minsheng/selection.py): its parameters, its words and its audit record
are all derived from it, so what a chart says is what was queried."""

import datetime as dt

from conftest import CITY, JIA, JIA1, JIA2, fixture_tables
from minsheng.selection import Selection

FRAME = Selection(region=CITY, region_name="测试市", region_level="city", year=2023, data_date="2023-03-31",
                  lang="zh", area=None, version="v1", page="趋势")


def test_params_read_the_history_before_the_first_period_shown():
    sel = FRAME.with_(indicators=["cnt", "rate"], regions=[CITY, JIA], start=dt.date(2021, 1, 1),
                      end=dt.date(2023, 12, 31), history=1)
    assert sel.params() == dict(indicator_ids=["cnt", "rate"], region_codes=[CITY, JIA],
                                date_from=dt.date(2020, 1, 1), date_to=dt.date(2023, 12, 31), area=None)
    assert sel.indicators == ("cnt", "rate")                       # lists become tuples: hashable
    assert FRAME.with_(indicators=["cnt"]).params()["region_codes"] == [CITY]   # no regions: the region itself
    assert sel.params(regions=[JIA1, JIA2])["region_codes"] == [JIA1, JIA2]


def test_the_subtitle_says_place_period_and_data_date_for_each_page():
    trend = FRAME.with_(children=True, start=dt.date(2018, 1, 1), end=dt.date(2023, 12, 31))
    # the period shown, as a meeting writes it, and the data date named as such (issue 13, item 2)
    assert trend.subtitle("年末/最新值", "来源：测试") == "测试市及下级区划 · 2018—2023年 · 年末/最新值 · 来源：测试 · 数据日期 2023年3月31日"
    assert trend.subtitle(dated=False) == "测试市及下级区划 · 2018—2023年"
    goals = FRAME.with_(page="目标", start=dt.date(2023, 1, 1), end=dt.date(2023, 7, 1), as_of=7)
    assert goals.subtitle() == "测试市 · 截至2023年7月 · 数据日期 2023年3月31日"
    one = FRAME.with_(page="地图", level="county", start=dt.date(2023, 3, 1), end=dt.date(2023, 3, 1), grain="month")
    assert one.subtitle(dated=False) == "测试市 · 按区县 · 2023年3月"
    assert one.with_(level="township", grain="year", start=dt.date(2022, 1, 1), end=dt.date(2022, 1, 1)
                     ).subtitle(dated=False) == "测试市 · 按乡镇（街道） · 2022年"
    year = FRAME.with_(start=dt.date(2023, 1, 1), end=dt.date(2023, 12, 31))
    assert year.when() == "2023年"
    en = trend.with_(lang="en")
    assert en.subtitle(dated=False) == "测试市 and subdivisions · 2018–2023" and en.dated() == "Data as of 2023-03-31"


def test_describe_names_the_filter_for_the_xlsx_sheet():
    sel = FRAME.with_(page="数据", indicators=["cnt", "rate"], level="township", within=[JIA2],
                      start=dt.date(2022, 1, 1), end=dt.date(2023, 12, 1))
    assert sel.describe(fixture_tables()["indicators"], {JIA2: "甲二镇"}) == [
        ("指标", "累计计数（cnt，人）；参保率（rate，%）"), ("区域", f"测试市（{CITY}）"), ("级别", "乡镇（街道）"),
        ("时期", "2022-01 至 2023-12"), ("限定区划", "甲二镇")]
    assert dict(FRAME.with_(indicators=["amt"]).describe(fixture_tables()["indicators"]))["级别"] == "本级"


def test_the_audit_record_holds_what_was_chosen_and_nothing_else():
    sel = FRAME.with_(indicators=["cnt"], start=dt.date(2022, 1, 1), end=dt.date(2023, 12, 31), view="yoy")
    assert sel.audit(format="png") == dict(page="趋势", region=CITY, year=2023, indicators=["cnt"],
                                           period="2022-01–2023-12", view="yoy", format="png")
    assert FRAME.audit() == dict(page="趋势", region=CITY, year=2023)
    many = FRAME.with_(indicators=[f"i{n}" for n in range(300)])
    assert many.audit()["indicators"] == "300 项"                   # a province's catalogue, counted


def test_the_key_is_what_decides_the_answer():
    sel = FRAME.with_(indicators=["cnt"], start=dt.date(2023, 1, 1), end=dt.date(2023, 12, 31))
    assert sel.key() == sel.with_(lang="en", present=True, page="总览", view="yoy").key()
    for change in (dict(version="v2"), dict(area=JIA), dict(indicators=["rate"]), dict(end=dt.date(2023, 6, 1)),
                   dict(region=JIA), dict(level="county"), dict(history=1)):
        assert sel.with_(**change).key() != sel.key(), change
    assert hash(sel) == hash(sel.with_())
