"""The region tree (minsheng/regions.py) on the hand-made fixture: links, paths, the picker's neighbourhood."""

import pandas as pd

from conftest import CITY, JIA, JIA1, JIA2, YI, YI1, fixture_tables
from minsheng import regions


def test_tree_links_paths_and_order():
    t = regions.Tree(fixture_tables()["regions"])
    assert t.roots == [CITY]
    assert t.kids(CITY) == [JIA, YI] and t.kids(JIA) == [JIA1, JIA2] and t.kids(YI1) == []
    assert t.path(JIA2) == [CITY, JIA, JIA2] and t.ancestors(JIA2) == [JIA, CITY] and t.ancestors(CITY) == []
    assert t.order == [CITY, JIA, JIA1, JIA2, YI, YI1]  # depth-first, children by code
    assert t.indented(JIA1) == "　　甲一镇"
    assert JIA1 in t and "110000000000" not in t


def test_a_subtree_has_its_own_top_and_a_cycle_ends_the_walk():
    reg = fixture_tables()["regions"]
    sub = regions.Tree(reg[reg["code"].isin([JIA, JIA1, JIA2])])  # a county user's area
    assert sub.roots == [JIA] and sub.parent[JIA] is None and sub.path(JIA1) == [JIA, JIA1]
    loop = pd.DataFrame(dict(code=["a", "b"], name=["甲", "乙"], level=["county", "county"], parent_code=["b", "a"]))
    t = regions.Tree(loop)
    assert t.path("a") == ["b", "a"] and t.order == []  # no top, and no endless walk


def test_picker_lists_every_region_or_the_neighbourhood(monkeypatch):
    t = regions.Tree(fixture_tables()["regions"])
    assert t.picker(None) == t.order
    monkeypatch.setattr(regions, "PICKER_LIMIT", 3)
    assert t.picker(JIA1) == [CITY, JIA, JIA1, JIA2, YI]   # the path, each step's children; not 乙一镇
    assert t.picker("nowhere") == [CITY, JIA, YI]
