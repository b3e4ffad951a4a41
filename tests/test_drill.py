"""Drilling from a number (issue 13, item 4): a KPI card opens its trend, a goals bar opens its task
(?task=), and the 区县 × 任务 matrix on 目标. Every expected figure is computed here from
data/*.parquet with DuckDB, not read from the product."""

from __future__ import annotations

import base64
import json
import math
import re
import time
from html import unescape
from urllib.parse import parse_qs

import duckdb
import numpy as np
import pytest

from conftest import ROOT, app
from minsheng import charts

DATA = ROOT / "data"
CITY, SHIFENG = "430200000000", "430204000000"
YEAR, LAST_MONTH = 2026, 10  # the demo's data date is 2026-10-31
STATUS_COLOUR = {"已完成": "#009E73", "超序时": "#0072B2", "滞后": "#E69F00", "严重滞后": "#D55E00"}


def sql(query: str, params=None):
    con = duckdb.connect()
    for t in ("observations", "targets", "regions", "indicators"):
        con.read_parquet(str(DATA / f"{t}.parquet")).create_view(t)
    return con.execute(query, params or []).df()


def numbers(values) -> list:
    """A Plotly array as JSON sends it (base64 for numpy arrays)."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def plotly(at, key: str) -> dict:
    chart = next(c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id)
    return json.loads(chart.proto.spec)


def link_params(link) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(link.proto.query_string).items()}


# --- the expected figures, from the parquet files ------------------------------------------------

def county_actuals(month: int) -> dict[tuple[str, str], tuple[float, int]]:
    """(county, task indicator) → (Σ of its figures at the latest month ≤ `month` it has, that month):
    the county's own figure, or the sum over its townships where the task is reported there."""
    df = sql("""
        with lvl as (
            select o.indicator_id, o.period, o.value, r.level, r.code, r.parent_code
            from observations o join regions r on r.code = o.region_code
            where o.indicator_id in (select indicator_id from targets where year = ?)
              and year(o.period) = ? and month(o.period) <= ?),
        by_county as (
            select indicator_id, code as county, period, value from lvl where level = 'county'
            union all
            select indicator_id, parent_code, period, sum(value) from lvl where level = 'township'
            group by all),
        latest as (select indicator_id, county, max(period) as period from by_county group by all)
        select b.indicator_id, b.county, b.period, b.value from by_county b
        join latest l using (indicator_id, county, period)""", [YEAR, YEAR, month])
    return {(r.county, r.indicator_id): (r.value, r.period.month) for r in df.itertuples()}


def expected_status(done: float, elapsed: float) -> str:
    gap = round(100 * (done - elapsed), 1)
    if done >= 1:
        return "已完成"
    if gap >= 0:
        return "超序时"
    return "严重滞后" if -gap > 15 else "滞后"


def matrix_cells(at) -> dict[tuple[str, str], dict]:
    html = next(h.proto.body for h in at.get("html") if "ms-goal-matrix" in h.proto.body)
    cells = {}
    for m in re.finditer(r"<td style='background:(#[0-9A-Fa-f]{6});[^']*' title='([^']*)' data-region='(\d+)' "
                         r"data-task='([^']+)'>(.*?)</td>", html):
        colour, title, region, task, content = m.groups()
        pct = re.search(r"<b>([\d.]+)%</b>", content)
        cells[(region, task)] = dict(colour=colour.upper(), status=unescape(title).split(" · ")[-1],
                                     completion=float(pct.group(1)) if pct else None, text=unescape(content))
    return cells


# --- a KPI card opens its trend --------------------------------------------------------------------

def test_a_card_links_to_its_indicator_trend_for_its_region():
    at = app(region=SHIFENG, year="2023", lang="zh")
    links = {link_params(lk).get("inds"): lk for lk in at.page_link if lk.proto.page == "trend"}
    assert len(links) >= 20 and None not in links  # one per card, each naming its indicator
    params = link_params(links["mz_volunteers"])
    assert params == {"region": SHIFENG, "year": "2023", "lang": "zh", "present": "0", "inds": "mz_volunteers"}
    assert links["mz_volunteers"].value == "看趋势"

    # The trend page seen before with other indicators: the followed link still wins.
    at.switch_page("views/trend.py").run()
    assert at.multiselect(key="_w_inds").value != ["mz_volunteers"]
    at.query_params.clear()
    at.query_params.update(params)
    at.switch_page("views/trend.py").run()
    assert not at.exception
    assert at.multiselect(key="_w_inds").value == ["mz_volunteers"]
    assert at.selectbox(key="_w_region").value == SHIFENG
    charts_shown = at.get("plotly_chart")
    assert len(charts_shown) == 1
    trace = json.loads(charts_shown[0].proto.spec)["data"][0]
    assert trace["name"] == "石峰区"
    want = sql("""select year(period) as y, value from observations
                  where indicator_id = 'mz_volunteers' and region_code = ?""", [SHIFENG])
    want = dict(zip(want["y"], want["value"]))
    got = {int(str(x)[:4]): y for x, y in zip(trace["x"], numbers(trace["y"]))}
    assert len(got) >= 3
    for year, value in got.items():
        assert (math.isnan(value) and year not in want) or value == pytest.approx(want[year]), year


def test_card_links_follow_the_region_and_the_language():
    at = app(region=CITY, year="2023")
    city = {link_params(lk)["region"] for lk in at.page_link if lk.proto.page == "trend"}
    at.selectbox(key="_w_region").set_value(SHIFENG).run()
    at.segmented_control(key="_w_lang").set_value("en").run()
    after = [link_params(lk) for lk in at.page_link if lk.proto.page == "trend"]
    assert city == {CITY} and {p["region"] for p in after} == {SHIFENG} and {p["lang"] for p in after} == {"en"}
    assert {lk.value for lk in at.page_link if lk.proto.page == "trend"} == {"Trend"}


# --- a task's detail (?task=) ---------------------------------------------------------------------

def task_expected(indicator: str, month: int) -> dict:
    target = float(sql("select target from targets where region_code = ? and indicator_id = ? and year = ?",
                       [CITY, indicator, YEAR])["target"].iloc[0])
    monthly = sql("""select month(o.period) as m, sum(o.value) as v from observations o
                     join regions r on r.code = o.region_code
                     where o.indicator_id = ? and r.parent_code = ? and r.level = 'county'
                       and year(o.period) = ? and month(o.period) <= ? group by all order by 1""",
                  [indicator, CITY, YEAR, month])
    actual = float(monthly["v"].iloc[-1])
    done, elapsed = actual / target, month / 12
    return dict(target=target, actual=actual, done=done, elapsed=elapsed, monthly=monthly,
                gap=round(100 * (done - elapsed), 1), pace=math.ceil((target - actual) / (12 - month)))


@pytest.mark.parametrize("month", [LAST_MONTH, 7])
def test_a_task_permalink_shows_its_detail(month):
    at = app("goals", task="rs_skill_training", gmonth=str(month))
    e = task_expected("rs_skill_training", month)
    shown = {m.label: m.value for m in at.metric}
    assert shown["目标值"] == f"{e['target']:,.0f} 人"
    assert shown["完成"] == f"{e['actual']:,.0f} 人"
    assert shown["完成率"] == f"{100 * e['done']:.1f}%"
    assert shown["序时进度"] == f"{100 * e['elapsed']:.1f}%"
    assert shown["差距（个百分点）"] == f"{e['gap']:+.1f}"
    assert shown["每月还需"] == f"{e['pace']:,} 人"
    assert any("开展就业技能培训（人社局）" in s.value for s in at.subheader)
    # its months against the 序时 line: target × months elapsed ÷ 12
    fig = plotly(at, "task_chart")
    bars, line = fig["data"][0], fig["data"][1]
    assert numbers(bars["y"]) == pytest.approx(e["monthly"]["v"].tolist())
    assert numbers(line["y"]) == pytest.approx([e["target"] * k / 12 for k in range(1, month + 1)])
    # the counties below it, each with its own 完成率
    below = at.dataframe[0].value.set_index("区域")
    actuals = county_actuals(month)
    names = dict(sql("select code, name from regions where parent_code = ?", [CITY]).itertuples(index=False))
    targets = sql("select region_code, target from targets where indicator_id = 'rs_skill_training' and year = ?"
                  " and region_code <> ?", [YEAR, CITY])
    assert len(below) == len(targets) == 9
    for code, target in targets.itertuples(index=False):
        value, _ = actuals[(code, "rs_skill_training")]
        assert below.loc[names[code], "完成率"] == f"{100 * value / target:.1f}%"
        assert below.loc[names[code], "状态"] == expected_status(value / target, month / 12)


def test_the_task_detail_follows_the_month():
    at = app("goals", task="gx_5g_stations")
    before = {m.label: m.value for m in at.metric}
    at.selectbox(key="_w_gmonth").set_value(4).run()
    after = {m.label: m.value for m in at.metric}
    e = task_expected("gx_5g_stations", 4)
    assert after != before and at.query_params["task"] == "gx_5g_stations"
    assert after["完成率"] == f"{100 * e['done']:.1f}%" and after["序时进度"] == "33.3%"


def test_a_card_link_opened_in_a_new_session_shows_that_trend():
    at = app("trend", region=SHIFENG, year="2023", lang="zh", present="0", inds="yb_remote_settle_rate")
    assert at.multiselect(key="_w_inds").value == ["yb_remote_settle_rate"]
    assert at.selectbox(key="_w_region").value == SHIFENG and len(at.get("plotly_chart")) == 1


def test_back_from_a_task_shows_every_task_and_clears_the_permalink():
    at = app("goals", task="ny_farmland")
    assert at.query_params.get("task") == "ny_farmland"
    at.button(key="task_back").click().run()
    assert "task" not in at.query_params
    table = at.dataframe[0].value
    assert len(table) == 13 and "建设高标准农田" in set(table["任务"])
    assert not any(m.label == "目标值" for m in at.metric)


def test_a_permalink_to_a_task_not_here_says_so_and_shows_every_task():
    at = app("goals", task="no_such_task")
    assert any("链接中的任务不在" in w.value for w in at.warning)
    assert "task" not in at.query_params and len(at.dataframe[0].value) == 13


# --- the 区县 × 任务 matrix ------------------------------------------------------------------------

def check_matrix(cells: dict, month: int, indicators: set[str]) -> None:
    targets = sql("select region_code, indicator_id, target from targets where year = ? and region_code <> ?",
                  [YEAR, CITY])
    targets = targets[targets["indicator_id"].isin(indicators)]
    actuals = county_actuals(month)
    assert len(cells) == len(targets) == 9 * len(indicators)
    for code, ind, target in targets.itertuples(index=False):
        value, reported = actuals[(code, ind)]
        done = value / target
        cell = cells[(code, ind)]
        assert cell["completion"] == round(100 * done, 1), (code, ind)  # the page rounds to 0.1
        status = expected_status(done, reported / 12)  # a late report is judged as of its own month
        assert cell["status"] == status, (code, ind)
        assert cell["colour"] == STATUS_COLOUR[status].upper()
        if reported < month:
            assert f"截至{reported}月" in cell["text"]


def test_matrix_cells_are_each_countys_completion_and_status():
    at = app("goals")
    cells = matrix_cells(at)
    check_matrix(cells, LAST_MONTH, set(sql("select indicator_id from targets where year = ?", [YEAR])["indicator_id"]))
    assert {c["status"] for c in cells.values()} >= {"滞后", "严重滞后", "超序时"}  # the colours are told apart
    assert charts.STATUS_COLORS == STATUS_COLOUR  # the legend's colours are the chart's


def test_matrix_follows_the_month_and_the_department():
    at = app("goals")
    before = matrix_cells(at)
    at.selectbox(key="_w_gmonth").set_value(6).run()
    june = matrix_cells(at)
    assert june != before
    everything = set(sql("select indicator_id from targets where year = ?", [YEAR])["indicator_id"])
    check_matrix(june, 6, everything)
    at.multiselect(key="_w_dept").set_value(["人社局"]).run()
    hr = matrix_cells(at)
    check_matrix(hr, 6, {"rs_skill_training", "rs_new_urban_jobs"})


def test_matrix_follows_the_severe_threshold():
    at = app("goals")
    severe = {k for k, c in matrix_cells(at).items() if c["status"] == "严重滞后"}
    at.number_input(key="_w_gap").set_value(40).run()
    cells = matrix_cells(at)
    actuals = county_actuals(LAST_MONTH)
    targets = {(r.region_code, r.indicator_id): r.target for r in sql(
        "select region_code, indicator_id, target from targets where year = ?", [YEAR]).itertuples()}
    assert severe
    for k in severe:  # 严重滞后 at 15 points behind; at 40 only those more than 40 behind stay so
        value, reported = actuals[k]
        behind = -round(100 * (value / targets[k] - reported / 12), 1)
        assert cells[k]["status"] == ("严重滞后" if behind > 40 else "滞后"), k


def test_matrix_without_subdivision_targets_says_so():
    at = app("goals", region=SHIFENG)  # a county: its townships have no targets
    assert not any("ms-goal-matrix" in h.proto.body for h in at.get("html"))
    assert any("下级区划没有设定这些任务的目标" in c.value for c in at.caption)


def test_matrix_in_english_has_no_chinese_status_words():
    at = app("goals", lang="en")
    html = next(h.proto.body for h in at.get("html") if "ms-goal-matrix" in h.proto.body)
    legend = html[html.index("ms-legend'>"):]
    assert "Completed" in legend or "completed" in legend.lower()
    assert not re.search(r"已完成|超序时|滞后|无任务", legend)


# --- in Chromium ---------------------------------------------------------------------------------

@pytest.mark.browser
def test_click_a_goals_bar_and_a_card_link_in_chromium(app_server, browser):
    from browser_support import ARTIFACTS, new_page, wait_idle

    out = ARTIFACTS / "drill"
    out.mkdir(parents=True, exist_ok=True)
    tasks = dict(sql("select indicator_id, task from targets where region_code = ? and year = ?",
                     [CITY, YEAR]).itertuples(index=False))
    ctx, page, requests = new_page(browser, 1600, 1000)
    try:
        page.goto(app_server.url + "/goals")
        wait_idle(page)
        page.locator('[data-testid="ms-goal-matrix"]').screenshot(path=out / "goals_matrix.png")
        bars = page.locator('[data-testid="stPlotlyChart"] .barlayer .trace').first.locator("path")
        bars.nth(12).wait_for()  # all 13 tasks drawn
        for _attempt in range(3):  # on a loaded machine the first click can land before Plotly listens
            bars.nth(2).scroll_into_view_if_needed()
            box = bars.nth(2).bounding_box()
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            try:
                page.wait_for_url(re.compile(r"task="), timeout=10_000)
                break
            except Exception:  # playwright's TimeoutError
                wait_idle(page)
        wait_idle(page)
        task = parse_qs(page.url.split("?", 1)[1])["task"][0]
        assert task in tasks
        heading = page.locator('[data-testid="stHeading"]', has_text=tasks[task])
        heading.first.wait_for()
        page.screenshot(path=out / "goals_task.png")
        page.get_by_role("button", name="返回全部任务").click()
        wait_idle(page)
        assert "task=" not in page.url
        page.locator('[data-testid="ms-goal-matrix"]').wait_for()

        page.goto(app_server.url + f"/?region={SHIFENG}&year=2023")
        wait_idle(page)
        link = page.locator('[data-testid="stPageLink"] a[href*="inds="]').first  # a card's, not 报送进度's
        href = link.get_attribute("href")
        indicator = parse_qs(href.split("?", 1)[1])["inds"][0]
        page.screenshot(path=out / "overview_cards.png")
        link.click()
        page.wait_for_url(re.compile(r"/trend\?"), timeout=20_000)
        wait_idle(page)
        query = parse_qs(page.url.split("?", 1)[1])
        assert query["inds"] == [indicator] and query["region"] == [SHIFENG] and query["year"] == ["2023"]
        name = sql("select name_zh from indicators where id = ?", [indicator])["name_zh"].iloc[0]
        deadline = time.monotonic() + 20
        while page.locator('[data-testid="stPlotlyChart"]').count() != 1 and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        assert page.locator('[data-testid="stPlotlyChart"]').count() == 1
        assert name in page.locator('[data-testid="stPlotlyChart"]').inner_text()
        page.screenshot(path=out / "card_to_trend.png")
        assert not requests.external()
    finally:
        ctx.close()


# --- hostile names in the matrix and the task detail ------------------------------------------------

def test_hostile_task_and_department_names_stay_text(tmp_path, monkeypatch):
    import datetime as dt

    import pandas as pd
    from streamlit.testing.v1 import AppTest

    from conftest import CITY as TCITY, JIA, YI, fixture_tables
    from hostile_support import IFRAME, IMG, LITERAL, SCRIPT
    from minsheng import store
    from test_hostile_pages import SIGNS, _ESCAPED, markdown_sources

    tables = fixture_tables()
    t = tables["targets"]
    t["department"], t["task"] = [f"民政局{IFRAME}", f"医保局{IMG}"], [f"任务{LITERAL}", f"参保{SCRIPT}"]
    below = pd.DataFrame([dict(indicator_id=ind, region_code=code, year=2023, target=target, department=t["department"][0],
                               task=t["task"][0] if ind == "cnt" else "资金任务", deadline=dt.date(2023, 12, 31))
                          for ind, code, target in (("cnt", JIA, 20.0), ("cnt", YI, 60.0), ("amt", TCITY, 30.0),
                                                    ("amt", JIA, 15.0), ("amt", YI, 15.0))])
    tables["targets"] = pd.concat([t, below], ignore_index=True)
    o = tables["observations"]  # 乙县 reports no 资金 figure: its cell says 未报
    tables["observations"] = o[~((o["indicator_id"] == "amt") & (o["region_code"] == YI))]
    store.write_tables(tmp_path / "data", tables, {"title": "测试", "demo": False, "data_date": "2023-03-31"})
    monkeypatch.setenv("MINSHENG_DATA", str(tmp_path / "data"))
    for task in (None, "cnt", "rate"):
        at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
        at.query_params.update({"region": TCITY, "year": "2023"} | ({"task": task} if task else {}))
        at.run()
        at.switch_page("views/goals.py").run()
        assert not at.exception, [e.value for e in at.exception]
        leaks = [(w, s) for w, s in markdown_sources(at._tree) if any(sign in _ESCAPED.sub("", s) for sign in SIGNS)]
        assert not leaks
        if task is None:
            html = next(h.proto.body for h in at.get("html") if "ms-goal-matrix" in h.proto.body)
            assert "&lt;iframe" in html and not any(p in html for p in (IFRAME, IMG, SCRIPT, "<b>b</b>"))
            # 甲县: Σ townships' March figures 6 + 5 against 20; 乙县: 30 against 60 (conftest's data)
            cells = matrix_cells(at)
            assert cells[(JIA, "cnt")]["completion"] == 55.0 and cells[(YI, "cnt")]["completion"] == 50.0
            # 资金 is yearly: 12.5 against 15 by March (序时 25.0%) is ahead
            assert cells[(JIA, "amt")]["completion"] == 83.3 and cells[(JIA, "amt")]["status"] == "超序时"
            grey = [cells[(YI, "amt")], cells[(JIA, "rate")], cells[(YI, "rate")]]  # no figure; no target
            assert [c["text"] for c in grey] == ["未报", "无任务", "无任务"]
            assert {c["colour"] for c in grey} == {"#E6E8EB"} and all(c["completion"] is None for c in grey)
        elif task == "cnt":
            assert {m.label: m.value for m in at.metric}["完成率"] == f"{100 * 41 / 80:.1f}%"
        else:  # a rate task: a level to reach, no 序时进度 and no pace
            shown = {m.label: m.value for m in at.metric}
            rate = 100 * (90 + 10 + 270) / (100 + 100 + 300)  # Σnumerator / Σdenominator, conftest's 2023 rates
            assert shown["完成"] == f"{rate:.1f} %" and shown["完成率"] == f"{100 * rate / 80:.1f}%"
            assert shown["序时进度"] == shown["每月还需"] == "—"
