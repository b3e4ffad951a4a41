"""No way around a role (issue 14, item 2): a viewer takes no data out of the app by any path Streamlit or
Plotly draws (download buttons, the grid toolbar's download, copy from a grid, the chart modebar's image
download, a media file), and an analyst's downloads are the audited exports.

Most of it runs in headless Chromium against one server with a users file of its own: the viewer signs in
through the real /signin form and goes through every page a viewer has; then the analyst downloads the
数据 CSV and the audit log is read back. The checks of the code (every chart takes charts.PLOTLY_CONFIG, and
that config removes each modebar button of Streamlit's plotly.js bundle that exports) and of the 开始使用
page (shown only while a store is empty) run without a browser.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import re
from pathlib import Path

import pytest

from browser_support import APP_SCRIPT, ROOT, StreamlitServer, new_page, sign_in_form, wait_idle
from test_session import deferred  # noqa: F401 (a fixture: download callables by file id)
from minsheng import auth, charts, store, vocab
from minsheng.ui import pages

CITY = "430200000000"   # 株洲市 in the demo data
INDICATOR = "mz_dibao_urban_persons"  # the 数据 page's default indicator (views/explore.py DEFAULT)
PW = "Kennwort-2026"
DOWNLOAD_WORDS = re.compile(r"download|下载|export|导出|save|share|cloud|csv|png|json", re.I)
# what a media response may be for a viewer: a picture drawn on the page (the page icon), never a file
PICTURE = re.compile(r"image/(png|jpeg|gif|webp|svg\+xml)")


# --- the code ------------------------------------------------------------------------------------

def _plotly_chart_calls() -> list[tuple[str, int, ast.Call]]:
    out = []
    for path in [*sorted((ROOT / "views").glob("*.py")), *sorted((ROOT / "minsheng").rglob("*.py")), ROOT / "dashboard.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "plotly_chart":
                out.append((str(path.relative_to(ROOT)), node.lineno, node))
    return out


def test_every_plotly_chart_takes_the_one_config():
    calls = _plotly_chart_calls()
    assert len(calls) >= 3  # 趋势 (one per indicator), 目标, a task's detail
    wrong = [f"{p}:{line}" for p, line, call in calls
             if [ast.unparse(k.value) for k in call.keywords if k.arg == "config"] != ["charts.PLOTLY_CONFIG"]]
    assert wrong == [], "st.plotly_chart without config=charts.PLOTLY_CONFIG"


def test_the_config_removes_every_modebar_button_that_exports():
    """Each button of the plotly.js that Streamlit ships whose click downloads (downloadImage) or posts the
    figure away (sendDataToCloud) is removed; a Streamlit upgrade that brings another one fails here."""
    import streamlit

    bundles = sorted((Path(streamlit.__file__).parent / "static" / "static" / "js").glob("PlotlyChart.*.js"))
    assert bundles, "Streamlit's Plotly bundle not found"
    src = bundles[0].read_text(encoding="utf-8")
    defs = list(re.finditer(r"\.(\w+)=\{name:`(\w+)`", src))
    assert len(defs) >= 30, "the modebar's button definitions were not found in the bundle"
    exporting = set()
    for i, m in enumerate(defs):
        body = src[m.start():defs[i + 1].start() if i + 1 < len(defs) else m.start() + 1500]
        if "downloadImage" in body or "sendDataToCloud" in body:
            exporting.add(m.group(2))
    assert {"toImage", "sendChartToCloud"} <= exporting   # the parse found the ones we know of
    assert exporting <= set(charts.PLOTLY_CONFIG["modeBarButtonsToRemove"]), exporting
    assert charts.PLOTLY_CONFIG["showSendToCloud"] is False and charts.PLOTLY_CONFIG["displaylogo"] is False


# --- 开始使用 (an empty store) in AppTest ------------------------------------------------------------

@pytest.fixture
def empty_store(tmp_path, monkeypatch):
    """An empty store with a viewer and an analyst (a cheap hasher: tests only)."""
    from argon2 import PasswordHasher

    from minsheng import changes

    monkeypatch.setenv("MINSHENG_USERS", str(tmp_path / "users.json"))
    monkeypatch.setenv("MINSHENG_AUDIT", str(tmp_path / "audit.log"))
    monkeypatch.setattr(auth, "hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    for name, role in (("viewer01", "viewer"), ("analyst01", "analyst")):
        auth.add_user(name, role, CITY, PW)
    d = tmp_path / "bureau"
    changes.init(d, actor="test", source="test")
    monkeypatch.setenv("MINSHENG_DATA", str(d))
    return d


def test_first_run_templates_are_for_the_roles_that_export_and_audited(empty_store, deferred):
    from minsheng import audit
    from test_session import as_user, downloads, texts

    viewer = as_user("viewer01")
    assert "区划代码表" in texts(viewer.markdown)                       # the first-run page
    assert downloads(viewer) == [] and "下载填报模板需要“分析”或“管理员”角色。" in texts(viewer.caption)
    kept = len(deferred)
    analyst = as_user("analyst01")
    assert sorted(downloads(analyst)) == sorted(f"{vocab.FILES.label(k)}模板" for k in vocab.FILES.codes)
    [button] = [b for b in analyst.get("download_button") if b.proto.label == f"{vocab.FILES.label('regions')}模板"]
    assert len(deferred) - kept == len(vocab.FILES.codes)             # built only when clicked
    payload = deferred[button.proto.deferred_file_id]()
    assert payload[:2] == b"PK"                                        # an XLSX
    [line] = [e for e in audit.read(None) if e["action"] == "export"]
    assert line["user"] == "analyst01" and line["detail"]["template"] == "regions"
    assert line["detail"]["bytes"] == len(payload) and line["detail"]["format"] == "xlsx"


# --- the browser -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def roles_server(chromium_path, tmp_path_factory):
    """The dashboard with a viewer and an analyst of 株洲市 and an audit log of its own."""
    d = tmp_path_factory.mktemp("roles")
    env = {"MINSHENG_USERS": str(d / "users.json"), "MINSHENG_AUDIT": str(d / "audit.log")}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        from argon2 import PasswordHasher
        mp.setattr(auth, "hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))  # the file's hashes
        for name, role in (("viewer01", "viewer"), ("analyst01", "analyst")):
            auth.add_user(name, role, CITY, PW)
    server = StreamlitServer(APP_SCRIPT, ROOT, "roles", env=env).start()
    server.dir = d
    yield server
    server.stop()


def sign_in(browser, server, name: str):
    """A context with clipboard access, signed in through the /signin form; its page and /media/ requests."""
    ctx, page, _ = new_page(browser, permissions=["clipboard-read", "clipboard-write"])
    media: list[str] = []
    page.on("request", lambda r: media.append(r.url) if "/media/" in r.url and "/static/" not in r.url else None)
    sign_in_form(page, server, name, PW)
    assert name in page.locator('[data-testid="stSidebar"]').inner_text()
    return ctx, page, media


def open_page(page, url: str) -> None:
    """Open a page, wait until it is drawn, and open every expander (a table can sit in one)."""
    page.goto(url)
    wait_idle(page)
    page.wait_for_function("""() => document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot .main-svg,'
        + '[data-testid="stDataFrame"] canvas, [data-testid="stMetric"], [data-testid="stDeckGlJsonChart"] canvas').length > 0""",
                           timeout=30_000)
    closed = page.locator('[data-testid="stExpander"] details:not([open]) > summary')
    while closed.count():
        closed.first.click()
        page.wait_for_timeout(150)
    wait_idle(page, settle_ms=200)


def modebars(page) -> list[list[str]]:
    """The modebar buttons of each chart, read while the chart is hovered (Plotly shows it then)."""
    out = []
    charts_ = page.locator('[data-testid="stPlotlyChart"]')
    for i in range(charts_.count()):
        chart = charts_.nth(i)
        chart.scroll_into_view_if_needed()
        chart.hover()
        chart.locator(".modebar").wait_for(state="attached", timeout=10_000)
        out.append(chart.locator(".modebar-btn").evaluate_all(
            "els => els.map(e => e.getAttribute('data-title') || e.getAttribute('data-val') || '?')"))
    return out


def toolbars(page, selector: str) -> list[list[str]]:
    """The element toolbar's buttons (aria-label) over each element matching `selector`, while hovered."""
    out = []
    els = page.locator(selector)
    for i in range(els.count()):
        el = els.nth(i)
        el.scroll_into_view_if_needed()
        el.hover()
        # the toolbar belongs to the element's container, which holds the element and the toolbar
        box = page.locator(f'[data-testid="stElementContainer"]:has({selector})').nth(i)
        box.locator('[data-testid="stElementToolbar"] button').first.wait_for(state="visible", timeout=10_000)
        out.append(box.locator('[data-testid="stElementToolbar"] button').evaluate_all(
            "els => els.map(e => e.getAttribute('aria-label') || e.innerText)"))
    return out


def copied_from_grids(page) -> list[tuple[str, str]]:
    """Select the first cell of each grid and press Ctrl+C, then Ctrl+A and Ctrl+C: (cell text, clipboard)
    pairs. The clipboard holds a marker first, so a copy of anything shows."""
    out = []
    grids_ = page.locator('[data-testid="stDataFrame"]')
    for i in range(grids_.count()):
        grid = grids_.nth(i)
        grid.evaluate("e => e.scrollIntoView({block: 'center'})")  # not under the fixed header bar
        page.evaluate("navigator.clipboard.writeText('marker-before-copy')")
        box = grid.locator('[data-testid="data-grid-canvas"]').bounding_box()
        cell = grid.locator('td[role="gridcell"][aria-selected="true"]')
        for _ in range(3):  # the grid can take the first click of a page (just opened in an expander) as focus
            page.mouse.move(box["x"] + 40, box["y"] + 52)  # the first data row, under the header
            page.wait_for_timeout(100)
            page.mouse.click(box["x"] + 40, box["y"] + 52)
            page.wait_for_timeout(200)
            # selected, and the keyboard in the grid (a rerun finishing on a loaded machine can take the
            # focus back to the page, whose Ctrl+A would select the page's own text)
            if cell.count() and grid.evaluate("e => e.contains(document.activeElement)"):
                break
        assert cell.count() == 1, "no cell selected: the copy would have had nothing to take"
        assert grid.evaluate("e => e.contains(document.activeElement)"), "the grid does not have the keyboard"
        text = cell.first.inner_text()
        for _ in range(3):
            page.keyboard.press("Control+C")
            page.wait_for_timeout(250)
            page.keyboard.press("Control+A")
            page.keyboard.press("Control+C")
            page.wait_for_timeout(250)
            # Ctrl+A that selected the page's own text went to the page, not the grid (a rerun on a loaded
            # machine took the focus): the browser then copied that visible text, not the grid's cells. Again.
            if not page.evaluate("window.getSelection().toString().trim()"):
                break
            page.evaluate("window.getSelection().removeAllRanges(); navigator.clipboard.writeText('marker-before-copy')")
            page.mouse.click(box["x"] + 40, box["y"] + 52)
            page.wait_for_timeout(300)
        out.append((text, page.evaluate("navigator.clipboard.readText()")))
        page.keyboard.press("Escape")
    return out


@pytest.mark.browser
def test_a_viewer_gets_no_download_by_any_path_and_the_analyst_only_audited_ones(browser, roles_server):
    server = roles_server
    # and a task's detail on 目标, which draws a chart of its own (tasks.render_task)
    urls = {p.key: f"{server.url}/{p.url}" for p in pages.BROWSE} | {"task": f"{server.url}/goals?{_a_task()}"}
    seen: dict[str, dict] = {}
    ctx, page, media = sign_in(browser, server, "viewer01")
    try:
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        assert [p.title for p in pages.BROWSE if p.title not in nav] == [] and "导入" not in nav
        for key, url in urls.items():
            open_page(page, url)
            if key == "task":
                assert page.get_by_role("button", name="返回全部任务").count() == 1, "the task's detail did not open"
            found = seen[key] = {
                "download buttons": page.locator('[data-testid="stDownloadButton"]').count(),
                "main menu": page.locator('[data-testid="stMainMenu"]').count(),
                "modebars": modebars(page),
                "grid toolbars": toolbars(page, '[data-testid="stDataFrame"]'),
                "map toolbars": toolbars(page, '[data-testid="stDeckGlJsonChart"]'),
                "copies": copied_from_grids(page),
            }
            assert found["download buttons"] == 0 and found["main menu"] == 0, (key, found)
            if key != "task":  # where an analyst has download buttons, the viewer is told why there are none
                assert "下载和导出需要“分析”或“管理员”角色。" in page.locator('[data-testid="stMain"]').inner_text(), key
            for buttons in found["modebars"]:
                assert "Zoom" in buttons or "Pan" in buttons, (key, buttons)         # the modebar was read
                assert [b for b in buttons if DOWNLOAD_WORDS.search(b)] == [], (key, buttons)
            for buttons in found["grid toolbars"] + found["map toolbars"]:
                assert "Fullscreen" in buttons, (key, buttons)                     # the toolbar was read
                assert [b for b in buttons if DOWNLOAD_WORDS.search(b)] == [], (key, buttons)
            for text, clipboard in found["copies"]:
                assert text.strip() and clipboard == "marker-before-copy", (key, text, clipboard)
        # every kind of element was tried somewhere
        assert sum(len(f["modebars"]) for f in seen.values()) >= 3      # 趋势's charts, 目标, the task's chart
        assert len(seen["map"]["map toolbars"]) == 1
        assert sum(len(f["copies"]) for f in seen.values()) >= 5        # 趋势, 地图, 目标, the task, 数据
        # every media file the pages asked for, fetched again with the viewer's cookie: pictures, no file
        assert media, "no /media/ request seen (the page icon is one)"
        for url in sorted(set(media)):
            r = page.request.get(url)
            kind, disposition = r.headers.get("content-type", ""), r.headers.get("content-disposition", "")
            assert r.status == 200 and PICTURE.match(kind) and "attachment" not in disposition.lower(), \
                (url, r.status, kind, disposition)
        viewer_request = page.request
        # the analyst: the audited CSV of 数据, and still no picture download in a modebar
        actx, apage, _ = sign_in(browser, server, "analyst01")
        try:
            open_page(apage, urls["trend"])
            assert apage.get_by_role("button", name="下载 PNG").count() >= 1       # the audited picture stays
            for buttons in modebars(apage):
                assert buttons and [b for b in buttons if DOWNLOAD_WORDS.search(b)] == [], buttons
            open_page(apage, urls["explore"])
            with apage.expect_download(timeout=60_000) as info:
                apage.get_by_role("button", name="下载 CSV").click()
            download = info.value
            data = Path(download.path()).read_bytes()
            link = download.url
            again = apage.request.get(link)  # the link is live: the analyst gets the file again
            assert again.status == 200 and again.body() == data, (link, again.status)
        finally:
            actx.close()
        # the analyst's link, in the viewer's hands, is refused (the middleware's role check)
        refused = viewer_request.get(link)
        assert refused.status == 403 and "attachment" not in refused.headers.get("content-disposition", ""), \
            (link, refused.status)
    finally:
        ctx.close()
    # the file holds 数据's default selection (城市低保对象, 株洲市 itself, the latest year and the two before),
    # value for value what the store's roll-up table says, read here with DuckDB
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    value = next(c for c in rows[0] if c.startswith("数值"))
    assert {(r["指标编码"], r["区划代码"].lstrip("\t")) for r in rows} == {(INDICATOR, CITY)}  # a tab keeps it text
    got = {r["时期起始日"]: float(r[value]) for r in rows}
    assert got == _rolled_up(INDICATOR, CITY), got
    log = [json.loads(x) for x in (server.dir / "audit.log").read_text(encoding="utf-8").splitlines()]
    exports = [e for e in log if e["action"] == "export"]
    assert [e["user"] for e in exports] == ["analyst01"], exports             # one file made, by the analyst
    [e] = exports
    assert e["detail"]["format"] == "csv" and e["detail"]["bytes"] == len(data), e
    assert e["detail"]["rows"] == len(rows) and e["detail"]["indicators"] == [INDICATOR], e


def _rolled_up(indicator: str, region: str) -> dict[str, float]:
    """period → value of the region's roll-up over its latest year with data and the two before."""
    import duckdb

    con = duckdb.connect()
    con.read_parquet(str(ROOT / "data" / "rollup.parquet")).create_view("rollup")  # the demo store is flat
    out = con.execute("""
        with mine as (select period, sum_value from rollup where indicator_id = $ind and region_code = $region)
        select strftime(period, '%Y-%m-%d'), sum_value from mine
        where year(period) >= (select max(year(period)) from mine) - 2""", {"ind": indicator, "region": region}).fetchall()
    assert out, "no roll-up rows to compare with"
    return {p: v for p, v in out}


def _a_task() -> str:
    """?year=…&task=… of one of 株洲市's tasks in the demo data (the latest year with tasks)."""
    import pandas as pd

    t = pd.read_parquet(store.table_path(ROOT / "data", "targets"), columns=["region_code", "year", "indicator_id"])
    t = t[t["region_code"] == CITY]
    year = int(t["year"].max())
    return f"year={year}&task={sorted(t.loc[t['year'] == year, 'indicator_id'])[0]}"
