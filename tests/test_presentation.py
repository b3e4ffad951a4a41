"""Presentation mode's slides in AppTest: every page runs with present=1 and with slide=2, a bad slide
falls back to the first and says so, the controls move between slides, and the slides together show
what the scrolling page shows — every card once, every table row once (issue 13, item 1)."""

import json
import math
import re

import pandas as pd
import pytest

from conftest import ROOT, app
from minsheng.ui import pages

CITY = "430200000000"
BROWSE = [p.key for p in pages.BROWSE]
ADMIN = [p.key for p in pages.PAGES if p not in pages.BROWSE]  # 导入, 用户管理: they run as a slide too


def labels(at) -> list[str]:
    return [m.label for m in at.metric]


def counter(at) -> tuple[int, int] | None:
    """(slide, of) from the counter the nav draws, None when the page is one slide."""
    for m in at.markdown:
        parts = m.value.split(" / ")
        if len(parts) == 2 and all(p.isdigit() for p in parts):
            return int(parts[0]), int(parts[1])
    return None


def walk(at) -> list:
    """Every slide, by the › control, from the first; the AppTest at each, as the metric labels and
    the tables shown."""
    seen = []
    while True:
        seen.append((labels(at), [d.value for d in at.dataframe], counter(at)))
        nxt = at.button(key="ms_slide_next")
        if nxt.disabled:
            return seen
        nxt.click().run()
        assert not at.exception, [e.value for e in at.exception]


@pytest.mark.parametrize("page", BROWSE + ADMIN)
@pytest.mark.parametrize("slide", ["1", "2"])
def test_every_page_runs_as_a_slide(page, slide):
    at = app(page, present="1", slide=slide)
    assert not at.exception
    n = counter(at)
    if n:  # a page of several slides opens the one named (slide 2 exists on each of them here)
        assert n[0] == int(slide)
        assert at.query_params["slide"] == slide


@pytest.mark.parametrize("bad", ["99", "x", "0", "-1"])
def test_a_bad_slide_falls_back_to_the_first_and_says_so(bad):
    at = app(present="1", slide=bad)
    assert counter(at)[0] == 1
    assert at.query_params["slide"] == "1"
    toasts = [t.value for t in at.toast]
    assert any(f"没有第 {bad} 张幻灯片" in t and "已显示第 1 张" in t for t in toasts), toasts


def test_a_bad_slide_is_said_in_english_too():
    at = app(present="1", slide="x", lang="en")
    assert any("There is no slide x" in t.value for t in at.toast)


def test_without_presentation_mode_there_are_no_slides():
    at = app(slide="3")
    assert counter(at) is None and not at.button  # no controls
    assert "slide" not in at.query_params          # a scrolling page has no slide to name


def test_the_overview_slides_show_every_card_once_the_summary_first():
    whole = [m for m in labels(app()) if not m.startswith("目标任务")]
    slides = walk(app(present="1"))
    assert len(slides) > 1
    first = slides[0][0]
    assert [m for m in first if m.startswith("目标任务")] == [f"目标任务 · {s}" for s in ("已完成", "超序时", "滞后", "严重滞后")]
    cards = [m for shown, _, _ in slides[1:] for m in shown]
    assert sorted(cards) == sorted(whole) and len(set(cards)) == len(cards)
    for shown, _, (k, n) in slides[1:]:
        assert 0 < len(shown) <= 12 and n == len(slides)
    assert [c[0] for _, _, c in slides] == list(range(1, len(slides) + 1))


def test_the_previous_control_goes_back():
    at = app(present="1", slide="3")
    at.button(key="ms_slide_prev").click().run()
    assert counter(at)[0] == 2 and at.query_params["slide"] == "2"
    at = app(present="1")
    assert at.button(key="ms_slide_prev").disabled  # nothing before the first


def test_the_goals_slides_are_the_chart_then_the_table():
    tasks = pd.read_parquet(ROOT / "data" / "targets.parquet")
    n = int(((tasks["region_code"] == CITY) & (tasks["year"] == 2026)).sum())
    at = app("goals", present="1", year="2026")
    assert at.get("plotly_chart") and not at.dataframe
    at.button(key="ms_slide_next").click().run()
    assert not at.get("plotly_chart") and len(at.dataframe) == 1
    assert len(at.dataframe[0].value.data if hasattr(at.dataframe[0].value, "data") else at.dataframe[0].value) == n
    regions = pd.read_parquet(ROOT / "data" / "regions.parquet")
    counties = int((regions["parent_code"] == CITY).sum())  # the 区县 × 任务 matrix, nine rows a slide
    assert counter(at) == (2, 1 + math.ceil(n / 16) + math.ceil(counties / 9))


def test_the_data_slides_hold_every_row_once():
    params = dict(xinds="mz_dibao_urban_persons", xlevel="county", **{"from": "2025", "to": "2026"})
    whole = app("explore", **params).dataframe[0].value
    at = app("explore", present="1", **params)
    slides = walk(at)
    rows = pd.concat([tables[0] for _, tables, _ in slides], ignore_index=True)
    assert len(slides) == math.ceil(len(whole) / 16) > 1
    assert all(len(tables[0]) <= 16 for _, tables, _ in slides)
    pd.testing.assert_frame_equal(rows, whole.reset_index(drop=True))


def test_the_trend_slides_are_a_chart_each():
    at = app("trend", present="1", inds=["mz_home_aging_mod", "yb_resident_insured_rate"])
    titles = []
    for _ in range(2):
        charts = at.get("plotly_chart")
        assert len(charts) == 1
        titles.append(json.loads(charts[0].proto.spec)["layout"]["title"]["text"])
        if not at.button(key="ms_slide_next").disabled:
            at.button(key="ms_slide_next").click().run()
    assert "困难老年人家庭适老化改造" in titles[0] and "城乡居民医保参保率" in titles[1]


def test_the_map_slide_has_no_drill_down_box():
    assert app("map").selectbox(key="map_drill") is not None
    at = app("map", present="1")
    assert not [s for s in at.selectbox if s.key == "map_drill"]
    assert not any("点击区县可下钻" in c.value for c in at.caption)


def test_the_overview_lists_the_lagging_tasks_with_completion_against_time():
    """屈原管理区, 2023: every task's December figure against its target, from the Parquet files; the
    year is over (序时进度 100%), so each task short of its target lags — and only those are listed."""
    region = "430671000000"
    obs = pd.read_parquet(ROOT / "data" / "observations.parquet")
    tasks = pd.read_parquet(ROOT / "data" / "targets.parquet")
    tasks = tasks[(tasks["region_code"] == region) & (tasks["year"] == 2023)]
    obs = obs[(obs["region_code"] == region) & (pd.to_datetime(obs["period"]).dt.year == 2023)]
    expected = []
    for t in tasks.itertuples():
        s = obs[obs["indicator_id"] == t.indicator_id].sort_values("period")
        done = s["value"].iloc[-1] / t.target
        assert pd.Timestamp(s["period"].iloc[-1]).month == 12  # reported to December: 序时进度 is the whole year
        if done < 1:
            expected.append((t.task, t.department, f"{100 * done:.1f}%"))
    assert expected  # the demo data has one: 新生儿出生缺陷免费筛查 298 of 300.3
    at = app(region=region, year="2023")
    items = [m.value for m in at.markdown if m.value.startswith("- :")]
    assert len(items) == 1
    shown = items[0].split("\n")
    assert len(shown) == len(expected)
    for line, (task, dept, done) in zip(shown, expected):
        assert f"{task}（{dept}）" in line and f"完成率 {done}，序时进度 100.0%" in line
        assert ":orange-badge[滞后]" in line or ":red-badge[严重滞后]" in line
    assert "滞后任务" in " ".join(m.value for m in at.markdown)


def test_no_lagging_list_where_nothing_lags():
    at = app(region="430671000000", year="2023", domains="医保")  # the list follows the tasks, not the domain filter
    assert any(m.value.startswith("- :") for m in at.markdown)
    at = app(region="430204000000", year="2025")  # no tasks set for 2025: no summary, no list
    assert not any(m.value.startswith("- :") for m in at.markdown) and "滞后任务" not in " ".join(m.value for m in at.markdown)


def test_the_lagging_list_in_english():
    at = app(region="430671000000", year="2023", lang="en")
    text = " ".join(m.value for m in at.markdown)
    assert "Lagging tasks" in text and "completion 99.2%, time elapsed 100.0%" in text and ":orange-badge[Behind]" in text
    assert "完成率" not in text and re.search(r"新生儿出生缺陷免费筛查 \(\S+\)", text)  # English brackets round the department
