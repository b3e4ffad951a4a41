"""Review of issue 13's items 2, 4, 5 and 8, as a leader, a clerk and an attacker would try them.

Each test here failed before the fix it names. A URL value the session did not write "wins"
(minsheng/ui/state.py): that is also what Browser Back and forward hand the app, so the frame's
URL rules (a short code or a name normalised, a bad year or region said so) must hold for every URL
the app reads, not only for the first one of a session."""

from __future__ import annotations

import pytest

from conftest import app

CITY, SHIFENG, TOWN = "430200000000", "430204000000", "430204901000"


def region(at) -> str:
    return at.selectbox(key="_w_region").value


def follow(at, **params):
    """The browser hands the running session a URL it did not write (Back, forward, an in-app link)."""
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("asked", ["430204", "石峰区"])
def test_back_to_a_link_with_a_short_code_or_a_name_keeps_its_region(asked):
    """Opened as ?region=430204 the app shows 石峰区 and rewrites the URL; Back returns to the entry
    the link opened (?region=430204). It flipped to 株洲市 (the picker's first region), silently."""
    at = app(region=asked)
    assert region(at) == SHIFENG
    follow(at, region=asked)
    assert region(at) == SHIFENG, region(at)


def test_a_followed_link_to_an_unknown_region_says_so():
    """A first visit to ?region=<unknown> says 没有区域…; a followed one changed the region silently."""
    at = app(region=SHIFENG)
    follow(at, region="999999999999")
    assert any("999999999999" in w.value for w in at.warning), [w.value for w in at.warning]


def test_a_followed_link_to_a_year_without_data_says_so():
    at = app(year="2025")
    follow(at, year="2031")
    assert any("2031" in w.value for w in at.warning), [w.value for w in at.warning]


def test_a_followed_link_to_a_region_outside_the_pickers_neighbourhood_opens_it(monkeypatch):
    """With a province's regions the picker lists the current region's path and children. A link
    (or Back) to a township of another branch fell back to the picker's first region."""
    from minsheng import regions

    monkeypatch.setattr(regions, "PICKER_LIMIT", 20)  # the demo's 79 regions stand in for 31,000
    at = app(region="430600000000")  # 岳阳市: 株洲市's townships are not in its picker
    assert TOWN not in at.selectbox(key="_w_region").options
    follow(at, region=TOWN)
    assert region(at) == TOWN, region(at)
