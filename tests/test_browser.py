"""The dashboard in headless Chromium: every page renders, Chinese text has real glyphs, charts and
the map are drawn, nothing is fetched from outside 127.0.0.1, the CSV download, URL state across
page switches, and load timings against a blank Streamlit app (artifacts/browser_timings.json,
screenshots in artifacts/screens/).

One dashboard server and one Chromium for the session (tests/browser_support.py); each test
opens its own browser context.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_support import (  # noqa: E402  (fixtures come from conftest.py)
    ROOT,
    APP_SCRIPT,
    ARTIFACTS,
    StreamlitServer,
    is_local,
    new_page,
    png_colours,
    wait_idle,
)

from minsheng.ui import pages  # noqa: E402

pytestmark = pytest.mark.browser

# page key -> URL path, from the registry. The 总览 page is the default page, served at `/`.
PAGES = {p.key: "/" + p.url for p in pages.PAGES}
LOAD_PATHS = dict(PAGES)
TITLES = {p.key: p.title for p in pages.PAGES}

SHIFENG = "430204000000"  # 石峰区 in the demo data

PLOT_TRACES_JS = """() => {
  const plots = [...document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')];
  return plots.map(p => p.querySelectorAll('.scatterlayer .trace, .barlayer .trace').length);
}"""

DECK_CANVAS = '[data-testid="stDeckGlJsonChart"] canvas#deckgl-overlay'

# What "drawn" means for each page, used when timing a load (after the app is idle).
DRAWN_JS = {
    "blank": """() => !!document.querySelector('[data-testid="stMarkdown"]')""",
    "overview": """() => document.querySelectorAll('[data-testid="stMetric"]').length > 0""",
    "trend": f"""() => {{ const t = ({PLOT_TRACES_JS})(); return t.length > 0 && t.every(n => n > 0); }}""",
    "goals": f"""() => {{ const t = ({PLOT_TRACES_JS})(); return t.length > 0 && t.every(n => n > 0); }}""",
    "map": f"""() => {{ const c = document.querySelector('{DECK_CANVAS}');
                       return !!c && c.width > 0 && c.height > 0; }}""",
    "explore": """() => !!document.querySelector('[data-testid="stDataFrame"] canvas')
                      && !!document.querySelector('[data-testid="stDownloadButton"]')""",
    "import": """() => !!document.querySelector('[data-testid="stFileUploader"]')
                        && !!document.querySelector('[data-testid="stDataFrame"]')""",
    "progress": """() => !!document.querySelector('[data-testid="stDataFrame"] canvas')
                          && document.querySelectorAll('[data-testid="stMetric"]').length > 0""",
    "report": """() => document.querySelectorAll('[data-testid="stForm"] input').length > 0""",
    "review": """() => document.querySelectorAll('[data-testid="stMetric"]').length > 0""",
    # 消息中心: the standing alerts' table, or the line saying there are none
    "messages": """() => [...document.querySelectorAll('h3')].some(h => h.innerText.includes('我的消息'))""",
    # single-user mode (the test server's): the page says how to add the first user
    "users": """() => !!document.querySelector('[data-testid="stMain"] [data-testid="stAlert"]')""",
}

# Draws one character at a time in a canvas with the given CSS font and compares its pixels with
# the .notdef box (tofu) drawn for a private-use code point no font covers.
GLYPHS_JS = """([text, font]) => {
  const c = document.createElement('canvas'); c.width = 96; c.height = 96;
  const g = c.getContext('2d', {willReadFrequently: true});
  const draw = (ch) => {
    g.clearRect(0, 0, 96, 96); g.font = font; g.fillStyle = '#000'; g.textBaseline = 'top';
    g.fillText(ch, 4, 4);
    const d = g.getImageData(0, 0, 96, 96).data; let bits = '', ink = 0;
    for (let i = 3; i < d.length; i += 4) { const on = d[i] > 127; bits += on ? '1' : '0'; ink += on; }
    return {bits, ink};
  };
  const tofu = draw('\\uE000');
  return [...text].map(ch => { const r = draw(ch); return {ch, ink: r.ink, bits: r.bits, tofu: r.bits === tofu.bits}; });
}"""


@dataclass
class Loaded:
    page: object
    context: object
    requests: object
    elapsed_s: float


@pytest.fixture(scope="module")
def loaded(browser, app_server):
    """Each page path loaded once (lazily) in its own context and kept open for read-only checks."""
    cache: dict[str, Loaded] = {}

    def get(path: str) -> Loaded:
        if path not in cache:
            ctx, page, reqs = new_page(browser)
            t0 = time.monotonic()
            page.goto(app_server.url + path)
            wait_idle(page)
            cache[path] = Loaded(page, ctx, reqs, time.monotonic() - t0)
        return cache[path]

    yield get
    for item in cache.values():
        item.context.close()


def problems_on(page) -> list[str]:
    """Streamlit exceptions, error alerts and error dialogs ("Page not found") shown on the page."""
    out = []
    for el in page.locator('[data-testid="stException"]').all():
        out.append("exception: " + el.inner_text()[:800])
    for el in page.locator('[data-testid="stAlertContentError"]').all():
        out.append("error alert: " + el.inner_text()[:400])
    for el in page.locator('[role="dialog"]').all():
        if el.is_visible():
            out.append("dialog: " + el.inner_text()[:400])
    return out


# 1 -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(LOAD_PATHS))
def test_page_renders_without_errors(loaded, name):
    item = loaded(LOAD_PATHS[name])
    page = item.page
    assert item.elapsed_s < 60, f"{name} took {item.elapsed_s:.1f} s to become idle"
    assert page.locator('[data-testid="stSidebarNav"]').is_visible()
    title = TITLES.get(name, TITLES["overview"])
    assert page.locator("h1").first.inner_text().strip() == title
    problems = problems_on(page)
    assert not problems, f"{LOAD_PATHS[name]} shows:\n" + "\n".join(problems)


def test_a_deep_link_first_after_start_runs_the_router(browser, chromium_path):
    """The first request a freshly started server sees is a deep link (/trend?…). With a pages/
    folder beside dashboard.py, Streamlit 1.67 would run views in its v1 mode and serve that
    page bare — no sign-in gate, no page config, no shared sidebar — until someone opened /."""
    server = StreamlitServer(APP_SCRIPT, ROOT, "deeplink").start()
    ctx, page, reqs = new_page(browser)
    try:
        page.goto(f"{server.url}/trend?region={SHIFENG}&year=2023")
        wait_idle(page)
        page.wait_for_function(DRAWN_JS["trend"], timeout=30_000)
        assert page.locator("h1").first.inner_text().strip() == TITLES["trend"]
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        assert all(p.title in nav for p in pages.PAGES)                    # st.navigation ran
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        assert "未启用登录" in sidebar and "区域" in sidebar and "演示模式" in sidebar  # the gate and the frame
        assert "石峰区" in page.locator('[data-testid="stMain"] [data-testid="stCaptionContainer"]').first.inner_text()
        assert not problems_on(page) and not reqs.external()
    finally:
        ctx.close()
        server.stop()


# 4b: the offline guarantee, on every page -----------------------------------------------------

# Resource URLs the document refers to or fetched: catches a reference (favicon, stylesheet, image)
# even when Chromium happened not to request it before the check.
REFERENCED_URLS_JS = """() => {
  const urls = [...document.querySelectorAll('link[href], script[src], img[src], iframe[src], source[src], video[src], audio[src], embed[src], object[data]')]
    .map(e => e.href || e.src || e.data);
  const svg = [...document.querySelectorAll('image')].map(e => e.href && e.href.baseVal).filter(Boolean);
  const perf = performance.getEntriesByType('resource').map(e => e.name);
  return [...urls, ...svg, ...perf];
}"""


@pytest.mark.parametrize("name", list(PAGES))
def test_page_fetches_nothing_outside_localhost(loaded, name):
    item = loaded(PAGES[name])
    item.page.wait_for_timeout(300)  # late requests (favicon, map layers)
    external = item.requests.external()
    assert not external, f"{PAGES[name]} requested non-local URLs: {external}"
    referenced = sorted({u for u in item.page.evaluate(REFERENCED_URLS_JS) if not is_local(u)})
    assert not referenced, f"{PAGES[name]} refers to non-local URLs: {referenced}"


# 2 -------------------------------------------------------------------------------------------

def _platform_fonts(page, selector: str) -> list[str]:
    """Font families Chromium actually used for the text of the first element matching selector."""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        assert node, f"no element {selector}"
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        return [f["familyName"] for f in fonts]
    finally:
        cdp.detach()


def test_overview_chinese_text_uses_a_cjk_font(loaded):
    page = loaded("/").page
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "总览" in main
    assert "城市低保标准" in main
    # Tag the element whose own text is the indicator name, so CDP can find it.
    found = page.evaluate("""() => {
      const el = [...document.querySelectorAll('[data-testid="stMetricLabel"] *')]
        .find(e => [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim() === '城市低保标准'));
      if (el) el.setAttribute('data-font-probe', '1');
      return !!el;
    }""")
    assert found, "metric label 城市低保标准 not found"

    # (a) Which font does Chromium really use? (document.fonts.check() is no help: it returns
    # true for any system font name, installed or not.)
    for selector in ("h1", "[data-font-probe]"):
        families = _platform_fonts(page, selector)
        assert any("CJK" in f for f in families), f"{selector} is rendered with {families}, not a CJK font"

    # (b) Are the glyphs real? Each Han character, drawn with the page's own font stack, must
    # differ from the tofu box and from the other characters (tofu boxes are all the same).
    for selector, text in (("h1", "总览"), ("[data-font-probe]", "城市低保标准")):
        font = page.evaluate("""(sel) => { const s = getComputedStyle(document.querySelector(sel));
                                           return s.fontWeight + ' ' + s.fontSize + ' ' + s.fontFamily; }""",
                             selector)
        glyphs = page.evaluate(GLYPHS_JS, [text, font])
        tofu = [g["ch"] for g in glyphs if g["tofu"] or g["ink"] == 0]
        assert not tofu, f"{text!r} in {font!r}: {tofu} render as empty boxes"
        assert len({g["bits"] for g in glyphs}) == len(set(text)), f"{text!r}: characters render identically"


def test_overview_change_arrows_follow_the_sign(loaded):
    """A 同比 of "-3.9%" must point down. st.metric decides the arrow from the delta text: a
    string that does not start with "-" counts as a rise."""
    page = loaded("/").page
    deltas = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stMetricDelta"]')].map(d => {
        const icon = d.querySelector('[data-testid^="stMetricDeltaIcon-"]');
        const label = d.closest('[data-testid="stMetric"]').querySelector('[data-testid="stMetricLabel"]');
        return {label: label ? label.innerText.trim() : '', text: d.innerText.trim(),
                icon: icon ? icon.getAttribute('data-testid').replace('stMetricDeltaIcon-', '') : null};
    })""")
    assert deltas, "no 同比 deltas on 总览"
    wrong = []
    for d in deltas:
        m = re.search(r"([+\-−])\s*\d", d["text"])
        if not m:
            continue
        expected = "Down" if m.group(1) in "-−" else "Up"
        if d["icon"] != expected:
            wrong.append(f"{d['label']}: {d['text']!r} shown with arrow {d['icon']}")
    assert not wrong, f"{len(wrong)} of {len(deltas)} changes point the wrong way:\n" + "\n".join(wrong)


# 3 -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["trend", "goals"])
def test_plotly_charts_have_traces(loaded, name):
    page = loaded(PAGES[name]).page
    page.wait_for_function(DRAWN_JS[name], timeout=30_000)
    traces = page.evaluate(PLOT_TRACES_JS)
    assert traces and all(n > 0 for n in traces), f"{name}: traces per chart {traces}"
    paths = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')].map(p =>
        [...p.querySelectorAll('.scatterlayer .trace path, .barlayer .trace path')]
          .filter(e => (e.getAttribute('d') || '').length > 2).length)""")
    assert all(n > 0 for n in paths), f"{name}: drawn SVG paths per chart {paths}"


# 4 -------------------------------------------------------------------------------------------

def test_map_canvas_is_drawn_offline(loaded):
    item = loaded(PAGES["map"])
    page = item.page
    page.wait_for_function(DRAWN_JS["map"], timeout=30_000)
    canvas = page.locator(DECK_CANVAS)
    box = canvas.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100, f"deck canvas box {box}"
    colours: dict = {}
    for _ in range(20):  # deck.gl paints on animation frames after the canvas is created
        colours = png_colours(canvas.screenshot())
        if len(colours) >= 3:
            break
        page.wait_for_timeout(250)
    total = sum(colours.values())
    top = max(colours.values()) if colours else 0
    assert len(colours) >= 3, f"deck canvas has {len(colours)} colour(s): nothing drawn"
    assert top / total < 0.98, f"deck canvas is {100 * top / total:.1f}% one colour"
    # No base map, no tiles, no fonts from a CDN (all pages: test_page_fetches_nothing_outside_localhost).
    external = item.requests.external()
    assert not external, f"the map page requested non-local URLs: {external}"


# 5 -------------------------------------------------------------------------------------------

def test_data_page_csv_download(loaded, tmp_path):
    page = loaded(PAGES["explore"]).page
    caption = page.get_by_text(re.compile(r"共 [\d,]+ 行")).first.inner_text()
    stated = int(re.search(r"共 ([\d,]+) 行", caption).group(1).replace(",", ""))
    with page.expect_download(timeout=30_000) as info:
        page.get_by_role("button", name="下载 CSV").click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), f"no UTF-8 BOM: {raw[:12]!r}"
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows, "empty CSV"
    header, data = rows[0], [r for r in rows[1:] if r]
    assert ",".join(header).startswith("指标编码,指标名称,区划代码"), header
    assert len(data) > 0
    assert all(len(r) == len(header) for r in data), "ragged rows"
    assert len(data) == stated, f"CSV has {len(data)} data rows, the page says 共 {stated} 行"
    assert not problems_on(page), problems_on(page)


# 6 -------------------------------------------------------------------------------------------

def _sidebar_value(page, label: str) -> str:
    return page.locator(f'[data-testid="stSidebar"] input[aria-label="{label}"]').input_value().strip()


def test_url_state_survives_page_switches(browser, app_server):
    ctx, page, _ = new_page(browser)
    try:
        page.goto(f"{app_server.url}/trend?region={SHIFENG}&year=2023")
        wait_idle(page)
        assert _sidebar_value(page, "区域") == "石峰区"
        assert _sidebar_value(page, "年度") == "2023年"
        # 趋势 says the span it shows, ending at the sidebar year (2018—2023年)
        assert re.search(r"石峰区 · (\d{4}—)?2023年", page.locator('[data-testid="stMain"]').inner_text())
        for target, path in (("地图", "/map"), ("总览", "/")):
            page.locator('[data-testid="stSidebarNavLink"]', has_text=target).click()
            page.wait_for_url(lambda u: u.split("?")[0].rstrip("/") == (app_server.url + path).rstrip("/"))
            wait_idle(page)
            assert page.locator("h1").first.inner_text().strip() == target
            assert f"region={SHIFENG}" in page.url, f"after switching to {target}: {page.url}"
            assert "year=2023" in page.url, f"after switching to {target}: {page.url}"
            assert _sidebar_value(page, "区域") == "石峰区"
            assert _sidebar_value(page, "年度") == "2023年"
            assert "石峰区 · 2023年" in page.locator('[data-testid="stMain"]').inner_text()
            assert not problems_on(page), problems_on(page)
    finally:
        ctx.close()


# 7 -------------------------------------------------------------------------------------------

def _timed_load(browser, base_url: str, path: str, drawn_js: str) -> tuple[float, object, object]:
    ctx, page, _ = new_page(browser)
    t0 = time.monotonic()
    page.goto(base_url + path)
    wait_idle(page, settle_ms=0)
    page.wait_for_function(drawn_js, timeout=60_000, polling=50)
    elapsed = time.monotonic() - t0
    return elapsed, ctx, page


def _full_screenshot(page, target: Path) -> None:
    height = page.evaluate("""() => { const m = document.querySelector('[data-testid="stMain"]');
                                      return m ? m.scrollHeight : document.body.scrollHeight; }""")
    page.set_viewport_size({"width": 1600, "height": max(1000, min(int(height), 16000))})
    page.wait_for_timeout(600)  # charts and the map re-layout to the new size
    wait_idle(page, settle_ms=200)
    page.screenshot(path=str(target))


def test_timings_and_screenshots(browser, app_server, blank_server):
    """Each page once (fresh context, warm server), the blank app before and after; screenshots."""
    screens = ARTIFACTS / "screens"
    screens.mkdir(parents=True, exist_ok=True)
    _, ctx, _ = _timed_load(browser, blank_server.url, "/", DRAWN_JS["blank"])  # warm-up, not counted
    ctx.close()
    samples: dict[str, list[float]] = {"blank": []}
    elapsed, ctx, _ = _timed_load(browser, blank_server.url, "/", DRAWN_JS["blank"])
    samples["blank"].append(elapsed)
    ctx.close()
    for name, path in PAGES.items():
        elapsed, ctx, page = _timed_load(browser, app_server.url, path, DRAWN_JS[name])
        samples[name] = [elapsed]
        _full_screenshot(page, screens / f"{name}.png")
        ctx.close()
    elapsed, ctx, _ = _timed_load(browser, blank_server.url, "/", DRAWN_JS["blank"])
    samples["blank"].append(elapsed)
    ctx.close()
    report = {
        "measured_at": dt.datetime.now().isoformat(timespec="seconds"),
        "what": "ms from page.goto to the app idle (script run finished) with its charts/map/table drawn; "
                "a fresh browser context per load; servers warm; blank = a one-line Streamlit app, "
                "measured before and after the pages",
        "chromium": browser.version,
        "viewport": "1600x1000",
        "pages": {name: {"path": "/" if name == "blank" else PAGES[name],
                         "ms": [round(1000 * s) for s in v], "min_ms": round(1000 * min(v))}
                  for name, v in samples.items()},
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "browser_timings.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n",
                                                    encoding="utf-8")
    slow = {name: max(v) for name, v in samples.items() if max(v) >= 60}
    assert not slow, f"pages over 60 s: {slow}"
    for name in PAGES:
        assert (screens / f"{name}.png").stat().st_size > 10_000


# 8 -------------------------------------------------------------------------------------------

def test_map_click_drills_down(browser, app_server):
    """Clicking a county on the map makes it the region and shows its townships."""
    import math

    from minsheng import maps

    counties = maps.boundaries("county", ROOT / "data")["features"]
    view = maps.view_for(counties)
    target = next(f for f in counties if f["properties"]["name"] == "攸县")
    lon, lat = target["properties"]["lon"], target["properties"]["lat"]
    ctx, page, _ = new_page(browser)
    try:
        page.goto(f"{app_server.url}/map")
        wait_idle(page)
        page.wait_for_function(DRAWN_JS["map"], timeout=30_000)
        page.wait_for_timeout(800)
        box = page.locator(DECK_CANVAS).bounding_box()
        # web-mercator projection of the county's inner point into the canvas
        scale = 512 * 2 ** view.zoom / (2 * math.pi)
        merc_y = lambda d: math.log(math.tan(math.pi / 4 + math.radians(d) / 2))  # noqa: E731
        x = box["width"] / 2 + math.radians(lon - view.longitude) * scale
        y = box["height"] / 2 - (merc_y(lat) - merc_y(view.latitude)) * scale
        chosen = """() => [...document.querySelectorAll('[data-testid="stSidebar"] input')]
                          .some(e => e.getAttribute('aria-label') === '区域' && e.value.trim() === '攸县')"""
        for attempt in range(3):  # a loaded machine may still be fitting the view when the first click lands
            page.mouse.click(box["x"] + x, box["y"] + y)
            try:
                page.wait_for_function(chosen, timeout=20_000)
                break
            except Exception:
                if attempt == 2:
                    raise
                wait_idle(page)
        wait_idle(page)
        assert "region=430223000000" in page.url
        assert "按乡镇（街道）" in page.locator('[data-testid="stMain"]').inner_text()
        assert not problems_on(page), problems_on(page)
    finally:
        ctx.close()


# 9 -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(PAGES))
def test_presentation_mode_is_a_clean_slide(browser, app_server, name):
    """?present=1: no sidebar, no Streamlit toolbar or header, a title line and a footer with
    source, data date and 演示数据; the screenshot is kept as an artifact."""
    from playwright.sync_api import expect

    ctx, page, _ = new_page(browser, width=1920, height=1080)
    try:
        sep = "&" if "?" in PAGES[name] else "?"
        page.goto(f"{app_server.url}{PAGES[name]}{sep}present=1")
        wait_idle(page)
        if name in DRAWN_JS:
            page.wait_for_function(DRAWN_JS[name], timeout=30_000)
        for hidden in ('[data-testid="stSidebar"]', '[data-testid="stToolbar"]', '[data-testid="stHeader"]'):
            loc = page.locator(hidden)
            if loc.count():  # the style arrives with the run's elements: give a loaded machine a moment
                expect(loc.first).to_be_hidden(timeout=30_000)
        title = page.locator(".ms-slide-title")
        expect(title).to_be_visible(timeout=30_000)  # a loaded machine may still be sending the run's elements
        assert TITLES[name] in title.inner_text() and "株洲市" in title.inner_text()
        foot = page.locator(".ms-slide-footer")
        expect(foot).to_be_visible(timeout=30_000)
        text = foot.inner_text()
        assert "来源" in text and "数据日期" in text and "演示数据" in text
        assert not problems_on(page), problems_on(page)
        target = ARTIFACTS / "present" / f"{name}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target))
    finally:
        ctx.close()


# 10 ------------------------------------------------------------------------------------------

def test_switching_to_english_translates_titles_and_axes(browser, app_server):
    """Clicking English in the sidebar: page title, navigation and chart unit label change; the
    numbers on the chart stay the same."""
    ctx, page, _ = new_page(browser)
    try:
        page.goto(f"{app_server.url}/trend?inds=yb_resident_insured_rate&kids=0")
        wait_idle(page)
        page.wait_for_function(DRAWN_JS["trend"], timeout=30_000)
        zh_ticks = page.locator(".js-plotly-plot .ytick text").all_inner_texts()
        assert "单位：%" in page.locator(".js-plotly-plot").first.inner_text()
        page.locator('[data-testid="stSidebar"] button', has_text="English").click()
        page.wait_for_function("() => document.querySelector('h1') && document.querySelector('h1').innerText.trim() === 'Trends'",
                               timeout=30_000)
        wait_idle(page)
        page.wait_for_function(DRAWN_JS["trend"], timeout=30_000)
        assert "lang=en" in page.url
        assert "Unit: %" in page.locator(".js-plotly-plot").first.inner_text()
        assert page.locator('[data-testid="stSidebarNavLink"]', has_text="Overview").count() == 1
        assert page.locator(".js-plotly-plot .ytick text").all_inner_texts() == zh_ticks
        assert not problems_on(page), problems_on(page)
    finally:
        ctx.close()


# 11 ------------------------------------------------------------------------------------------

def _download(page, button: str, timeout: float = 60_000) -> bytes:
    with page.expect_download(timeout=timeout) as info:
        page.get_by_role("button", name=button).first.click()
    path = info.value.path()
    return Path(path).read_bytes()


def _check_slide_png(png: bytes, name: str) -> None:
    """A downloaded chart image: a PNG of 3840×2160 that is not blank; kept as an artifact."""
    import struct

    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (3840, 2160)
    assert len(png_colours(png)) > 50, f"{name} is (nearly) blank"
    (ARTIFACTS / "exports").mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "exports" / name).write_bytes(png)


@pytest.mark.parametrize("path,name,svg_texts", [
    # 趋势: the first chart; its SVG twin has the title, the region, the source, the data date, 演示数据
    (f"/trend?inds=yb_resident_insured_rate&region={SHIFENG}", "trend",
     ("城乡居民医保参保率", "石峰区", "来源", "数据日期", "演示数据")),
    ("/map", "map", ()),  # 地图: a static choropleth of the same data
])
def test_chart_and_map_downloads_are_slides_with_their_provenance(browser, app_server, path, name, svg_texts):
    """The PNG download is 3840×2160 and not blank; the SVG carries the words of its provenance."""
    ctx, page, _ = new_page(browser)
    try:
        page.goto(app_server.url + path)
        wait_idle(page)
        page.wait_for_function(DRAWN_JS[name], timeout=30_000)
        _check_slide_png(_download(page, "下载 PNG"), f"{name}.png")
        svg = _download(page, "下载 SVG").decode("utf-8") if svg_texts else ""
        for text in svg_texts:
            assert text in svg, f"{text} missing from the SVG"
    finally:
        ctx.close()


def test_goals_deck_has_native_titles_and_the_task_table(browser, app_server):
    """目标: 导出汇报材料 gives a 16:9 PPTX whose slide titles are the page's Chinese titles, with the
    task table as a native table (lagging tasks first) and a closing sources slide."""
    import io

    from pptx import Presentation

    from minsheng import slides

    ctx, page, _ = new_page(browser)
    try:
        page.goto(f"{app_server.url}/goals")
        wait_idle(page)
        page.wait_for_function(DRAWN_JS["goals"], timeout=30_000)
        chart_title = page.locator(".js-plotly-plot .gtitle").first.text_content()
        data = _download(page, "导出汇报材料")
        (ARTIFACTS / "exports").mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "exports" / "goals.pptx").write_bytes(data)
        prs = Presentation(io.BytesIO(data))
        assert round(prs.slide_width / prs.slide_height, 3) == round(16 / 9, 3)
        titles = slides.slide_titles(data)
        # titles as a meeting names them (issue 13, item 2)
        assert re.fullmatch(r"株洲市\d{4}年重点民生实事推进情况（截至\d{1,2}月）", titles[0]), titles[0]
        assert "重点民生实事完成率与序时进度" in chart_title and titles[2].startswith("完成率与序时进度（截至")
        assert titles[3].startswith("任务推进明细（截至") and titles[-1] == "数据来源与数据日期"
        assert len(prs.slides) >= 5      # title, status counts, chart, the 13-task table (paged at 14 pt), sources
        table = next(s.table for s in prs.slides[3].shapes if s.has_table)
        assert table.cell(0, 0).text == "状态" and table.cell(1, 0).text == "严重滞后"
        assert any(s.shape_type == 13 for s in prs.slides[2].shapes)  # the chart is a picture
    finally:
        ctx.close()


def test_every_page_but_import_exports_a_deck(browser, app_server):
    """导出汇报材料 exists on 总览, 趋势, 地图, 目标 and 数据, and each deck opens with its page title first."""
    from minsheng import slides

    for name in ("overview", "trend", "map", "explore"):
        ctx, page, _ = new_page(browser)
        try:
            page.goto(f"{app_server.url}{PAGES[name]}")
            wait_idle(page)
            page.wait_for_function(DRAWN_JS[name], timeout=30_000)
            titles = slides.slide_titles(_download(page, "导出汇报材料"))
            assert titles[0].startswith("株洲市") and re.search(r"（.*\d{4}.*）$", titles[0]), (name, titles)
            assert titles[-1] == "数据来源与数据日期" and len(titles) >= 3, (name, titles)
            if name == "overview":
                assert titles[1].startswith("民政主要指标（")
        finally:
            ctx.close()


# 13 ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def signin_server(chromium_path, tmp_path_factory):
    """The dashboard with a users file of its own (so it requires sign-in) and its own audit log."""
    from argon2 import PasswordHasher

    from minsheng import auth

    d = tmp_path_factory.mktemp("signin")
    env = {"MINSHENG_USERS": str(d / "users.json"), "MINSHENG_AUDIT": str(d / "audit.log")}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        mp.setattr(auth, "hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))  # tests only
        auth.add_user("analyst01", "analyst", "430200000000", "Kennwort-2026")
    server = StreamlitServer(APP_SCRIPT, ROOT, "signin", env=env).start()
    server.dir = d
    yield server
    server.stop()


def test_sign_in_with_the_users_file(browser, signin_server):
    """Wrong password refused, right one lets the deep link through, sidebar names the user, no 导入
    for an analyst, 退出登录 returns to the form; sign-ins are in the audit log."""
    ctx, page, reqs = new_page(browser)
    try:
        # the deep link without a session is the HTML sign-in page (minsheng/web.py), which names it as next
        page.goto(f"{signin_server.url}/trend?region={SHIFENG}&year=2023")
        assert urlsplit(page.url).path == "/signin"                  # the sign-in page (minsheng/web.py)
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0
        assert page.locator('[data-testid="stPlotlyChart"]').count() == 0
        page.get_by_label("用户名").fill("analyst01")
        page.get_by_label("密码", exact=True).fill("wrong-password")
        page.get_by_role("button", name="登录").click()
        page.wait_for_load_state()
        assert "用户名或密码错误" in page.locator(".err").inner_text()
        page.get_by_label("用户名").fill("analyst01")
        page.get_by_label("密码", exact=True).fill("Kennwort-2026")
        page.get_by_role("button", name="登录").click()
        page.wait_for_url("**/trend?**")
        wait_idle(page)
        page.wait_for_function(DRAWN_JS["trend"], timeout=30_000)
        main = page.locator('[data-testid="stMain"]')
        assert page.locator("h1").first.inner_text().strip() == "趋势"
        assert "石峰区 · " in main.inner_text() and f"region={SHIFENG}" in page.url
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        assert "analyst01" in sidebar and "分析" in sidebar
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        assert "数据" in nav and "导入" not in nav
        page.get_by_role("button", name="下载 PNG").first.wait_for(state="visible", timeout=30_000)
        assert not problems_on(page), problems_on(page)
        page.get_by_role("button", name="退出登录").click()
        page.wait_for_url("**/signin?**")                            # the sign-in page again
        page.get_by_label("用户名").wait_for(state="visible", timeout=30_000)
        assert page.locator('[data-testid="stPlotlyChart"]').count() == 0
        assert not reqs.external(), reqs.external()
    finally:
        ctx.close()
    log = [json.loads(x) for x in (signin_server.dir / "audit.log").read_text(encoding="utf-8").splitlines()]
    assert [e["action"] for e in log if e["action"] not in ("users-change", "intent")] == \
        ["sign-in-failed", "sign-in", "sign-out"]
    assert all(e["source"] for e in log if e["action"].startswith("sign")) and "Kennwort-2026" not in json.dumps(log, ensure_ascii=False)
