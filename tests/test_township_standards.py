"""A township's 总览 shows the standards that apply to it: its county's 低保标准, labelled as such.

Standards are set by counties (and the city for its urban districts); a township has none of its
own, so without this its 总览 showed no 低保标准 at all.
"""

import datetime as dt

import pandas as pd
from streamlit.testing.v1 import AppTest

from conftest import CITY, JIA, JIA1, ROOT, YI
from minsheng import metrics, repo

ZHUZHOU, YOUXIAN, LIANXING = "430200000000", "430223000000", "430223901000"  # 联星街道 of 攸县


def test_a_township_gets_its_nearest_ancestors_standard(fixture_dir):
    """tests/conftest.py: 低保标准 (std) is 580 for 甲县 and 600 for 测试市 in 2023, 550 for 甲县 in 2022
    (the city has none that year); 甲一镇 has none of its own."""
    ind = repo.indicators(fixture_dir)
    own = repo.series(ind["id"], [JIA1], dt.date(2022, 1, 1), dt.date(2023, 12, 31), fixture_dir)
    cards = metrics.kpis(own, ind, 2023)
    assert pd.isna(cards.set_index("indicator_id").loc["std", "value"])       # nothing of its own
    above = repo.series(["std"], [JIA, CITY], dt.date(2022, 1, 1), dt.date(2023, 12, 31), fixture_dir)
    got = metrics.inherit_standards(cards, above, [JIA, CITY], ind, 2023).set_index("indicator_id")
    assert got.loc["std", "value"] == 580 and got.loc["std", "applies_from"] == JIA   # 甲县's, not the city's 600
    assert got.loc["std", "yoy"].value == 100 * (580 - 550) / 550                       # 同比 of 甲县 too
    assert got.loc["cnt", "applies_from"] is None and got.loc["cnt", "value"] == cards.set_index("indicator_id").loc["cnt", "value"]
    # a region with a range of its subdivisions' standards keeps the range; the city keeps its own
    city = metrics.kpis(repo.series(ind["id"], [CITY], dt.date(2022, 1, 1), dt.date(2023, 12, 31), fixture_dir), ind, 2023)
    assert metrics.inherit_standards(city, above.iloc[:0], [], ind, 2023).set_index("indicator_id").loc["std", "value"] == 600
    # with only the city above it (甲县 outside the user's area, say), the city's applies
    only_city = metrics.inherit_standards(cards, above[above["region_code"] == CITY], [JIA, CITY], ind, 2023)
    assert only_city.set_index("indicator_id").loc["std", "applies_from"] == CITY
    nothing_above = metrics.inherit_standards(cards, above.iloc[:0], [YI], ind, 2023)
    assert nothing_above["applies_from"].isna().all() and pd.isna(nothing_above.set_index("indicator_id").loc["std", "value"])


def test_township_overview_shows_its_countys_dibao_standard(demo_dir):
    obs = pd.read_parquet(demo_dir / "observations.parquet")
    std = obs[(obs["indicator_id"] == "mz_dibao_std_urban") & (obs["period"] == dt.date(2020, 1, 1))]
    county = std.set_index("region_code").loc[YOUXIAN, "value"]
    assert county != std.set_index("region_code").loc[ZHUZHOU, "value"]  # 攸县 had not caught up yet in 2020
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.query_params["region"], at.query_params["year"] = LIANXING, "2020"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    cards = {m.label: m.value for m in at.metric}
    assert cards["城市低保标准"] == f"{county:,.0f} 元/月"
    assert any("执行攸县标准" in c.value for c in at.caption)
    at.selectbox(key="_w_year").set_value(2022).run()                       # the seed's year: 625 everywhere
    assert {m.label: m.value for m in at.metric}["城市低保标准"] == "625 元/月"
