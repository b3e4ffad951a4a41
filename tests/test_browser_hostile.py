"""Hostile text in every text field, crawled in headless Chromium: no dialog fires, no request
leaves 127.0.0.1, no element is made from a payload, and a name shows as the literal text it is.

The data is the small test fixture (tests/conftest.py) with payloads in every text field, imported
for real (tests/hostile_support.py). One server and one browser for the file.
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_support import (  # noqa: E402  (fixtures come from conftest.py)
    APP_SCRIPT,
    ROOT,
    StreamlitServer,
    is_local,
    new_page,
    wait_idle,
)
from conftest import JIA, JIA1, JIA2  # noqa: E402
from hostile_support import LITERAL, OUTSIDE, UPLOAD, hostile_data  # noqa: E402

from minsheng.ui import pages  # noqa: E402

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def hostile_server(chromium_path, tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    data = d / "data"
    placed = hostile_data(data)
    env = {"MINSHENG_DATA": str(data), "MINSHENG_USERS": str(d / "users.json"), "MINSHENG_AUDIT": str(d / "audit.log")}
    server = StreamlitServer(APP_SCRIPT, ROOT, "hostile", env=env).start()
    yield server, placed
    server.stop()


# Elements a payload could have made. The app's own scripts live in <head>; nothing in the body may
# be a script, an iframe, a link or image to the outside host, KaTeX, or a <b>/<img> drawn from data.
FOUND_JS = """(outside) => {
  const root = document.querySelector('[data-testid="stApp"]');
  const bad = [];
  const attr = (e, n) => e.getAttribute(n) || e.getAttributeNS('http://www.w3.org/1999/xlink', n) || '';
  for (const e of root.querySelectorAll('iframe, script, object, embed')) bad.push(e.tagName + ' ' + e.outerHTML.slice(0, 120));
  for (const e of root.querySelectorAll('img, image, a, source, video, audio, link')) {
    const u = attr(e, 'src') + ' ' + attr(e, 'href') + ' ' + attr(e, 'srcset');
    if (u.includes(outside) || /(^|\\s)x(\\s|$)/.test(attr(e, 'src'))) bad.push(e.tagName + ' ' + u);
  }
  for (const e of root.querySelectorAll('[onerror], [onload], [srcdoc]')) bad.push('handler ' + e.tagName);
  for (const e of root.querySelectorAll('.katex, .katex-html, math')) bad.push('katex ' + e.textContent.slice(0, 40));
  for (const e of root.querySelectorAll('b, strong')) if (['b', '粗', 'a'].includes(e.textContent.trim())) bad.push('bold ' + e.textContent);
  for (const e of root.querySelectorAll('[data-testid="stMarkdownContainer"] span[style], .stMarkdownColoredText'))
    if (['x', '红'].includes(e.textContent.trim())) bad.push('coloured ' + e.textContent);
  for (const e of root.querySelectorAll('svg a')) bad.push('svg link ' + attr(e, 'href'));
  return bad;
}"""

# what the page shows as text, word joiners (U+2060, invisible) taken out
TEXTS_JS = """(sel) => [...document.querySelectorAll(sel)].map(e => e.innerText.replaceAll('\\u2060', ''))"""

DECK_CANVAS = '[data-testid="stDeckGlJsonChart"] canvas#deckgl-overlay'
TOOLTIP_JS = """() => { const t = document.querySelector('.deck-tooltip');
  return t && t.style.display !== 'none' ? t.innerText : ''; }"""
SVG_TEXTS_JS = """(sel) => [...document.querySelectorAll('[data-testid="stPlotlyChart"] ' + sel)].map(e => e.textContent)"""


def _hover_tooltip(page) -> str:
    """Move over the map until the deck shows a tooltip; its text ("" if none showed)."""
    page.wait_for_function(f"""() => {{ const c = document.querySelector('{DECK_CANVAS}');
                                      return !!c && c.width > 0 && c.height > 0; }}""", timeout=30_000)
    for _ in range(4):  # on a busy machine deck.gl may not have drawn (or picked) on the first pass
        page.wait_for_timeout(800)
        box = page.locator(DECK_CANVAS).bounding_box()  # measured each pass: the canvas may still be sizing
        for i in range(1, 16):
            for j in range(1, 12):
                page.mouse.move(box["x"] + box["width"] * i / 16, box["y"] + box["height"] * j / 12)
                tip = page.evaluate(TOOLTIP_JS)
                if tip:
                    return tip
    return ""


def _visit(page, base: str, path: str, params: dict) -> None:
    page.goto(f"{base}{path}?{urlencode(params, doseq=True)}")
    wait_idle(page)
    page.wait_for_timeout(300)


def test_hostile_text_stays_text_on_every_page(browser, hostile_server):
    server, placed = hostile_server
    ctx, page, requests = new_page(browser)
    dialogs, blocked = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    ctx.route("**/*", lambda route: route.continue_() if is_local(route.request.url)
              else (blocked.append(route.request.url), route.abort()))
    paths = {p.key: "/" + p.url for p in pages.PAGES}
    visits = [  # the map of the city and the drill-down into the county named LITERAL; English where cheap
        ("overview", {}), ("overview", {"region": JIA, "lang": "en"}),
        ("trend", {"inds": ["rate", "std", "cnt"], "grain": "month"}), ("trend", {"inds": ["rate", "amt"], "lang": "en"}),
        ("map", {"ind": "rate"}), ("map", {"ind": "rate", "region": JIA}), ("map", {"ind": "amt", "lang": "en"}),
        ("goals", {}), ("explore", {"xinds": ["rate", "std", "amt"], "xlevel": "township", "from": "2022"}),
        ("import", {}), ("users", {}), ("progress", {}), ("progress", {"region": JIA}), ("report", {}), ("review", {}),
        ("messages", {}),
    ]
    assert {k for k, _ in visits} == set(paths), "every page of the registry is visited"
    found, missing = {}, []
    try:
        for key, params in visits:
            _visit(page, server.url, paths[key], params)
            assert not page.locator('[data-testid="stException"]').count(), f"{key} {params}: an exception"
            if key in ("trend", "goals"):  # Plotly draws after the script run is over
                page.wait_for_selector('[data-testid="stPlotlyChart"] .gtitle')
            bad = page.evaluate(FOUND_JS, OUTSIDE)
            if bad:
                found[f"{key} {params}"] = bad
            if key == "map" and params.get("region") == JIA:
                for _ in range(60):  # on a loaded machine the drilled-down run may follow a first idle moment
                    legend = page.evaluate(TEXTS_JS, '[data-testid="stMain"] [data-testid="stHtml"]')
                    if any(t.startswith("图例") for t in legend):
                        break
                    page.wait_for_timeout(500)
                titles = page.evaluate(TEXTS_JS, '[data-testid="stMain"] [data-testid="stMarkdownContainer"]')
                if not any(f"{LITERAL}（{placed['units']['rate']}）" in t for t in titles):
                    missing.append(("map title", titles))
                if not any(t.startswith(f"图例（{placed['units']['rate']}）：") for t in legend):
                    missing.append(("map legend", legend))
                tip = _hover_tooltip(page)
                if not any(tip.startswith(placed["regions"][c] + "\n") for c in (JIA1, JIA2)):
                    missing.append(("map tooltip", tip))
                if page.evaluate(FOUND_JS, OUTSIDE):
                    found["map tooltip"] = page.evaluate(FOUND_JS, OUTSIDE)
                header = page.evaluate(TEXTS_JS, '[data-testid="stMain"] [data-testid="stCaptionContainer"]')
                if not any(t.startswith(LITERAL + " · ") for t in header):
                    missing.append(("header caption", header))
            if key == "overview" and not params:
                page.wait_for_selector('[data-testid="stMetricLabel"]', timeout=30_000)  # a loaded machine's first run
                labels = page.evaluate(TEXTS_JS, '[data-testid="stMetricLabel"]')
                if LITERAL not in labels:
                    missing.append(("metric label", labels))
            if key == "trend" and "lang" not in params:  # Plotly's own text: the legend and the title
                for _ in range(60):  # on a loaded machine the asked indicators' run may follow a first chart
                    legend = page.evaluate(SVG_TEXTS_JS, ".legendtext")
                    titles = page.evaluate(SVG_TEXTS_JS, ".gtitle")
                    if LITERAL in legend and any(t.startswith(LITERAL) for t in titles):
                        break
                    page.wait_for_timeout(500)
                if LITERAL not in legend or not any(t.startswith(LITERAL) for t in titles):
                    missing.append(("trend chart", legend, titles))
            if key == "goals":
                ticks = page.evaluate(SVG_TEXTS_JS, ".ytick text")
                if not any(t.startswith(LITERAL + "（") for t in ticks):
                    missing.append(("goals chart", ticks))
            if key == "import":  # a file whose name is hostile: the preview names it
                page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
                    files=[{"name": UPLOAD, "mimeType": "text/csv", "buffer": "甲,乙\n1,2\n".encode()}])
                wait_idle(page)
                try:  # the preview's run follows the upload: on a loaded machine, after a first idle moment
                    page.wait_for_function("t => [...document.querySelectorAll('[data-testid=\"stMain\"] "
                                           "[data-testid=\"stMarkdownContainer\"]')].some(e => e.innerText.trim()"
                                           ".startsWith(t))", arg=UPLOAD + " · ", timeout=30_000)
                except Exception:
                    pass  # reported below as missing, with what was shown
                bad = page.evaluate(FOUND_JS, OUTSIDE)
                if bad:
                    found["import, uploaded"] = bad
                shown = page.evaluate(TEXTS_JS, '[data-testid="stMain"] [data-testid="stMarkdownContainer"]')
                if not any(t.startswith(UPLOAD + " · ") for t in shown):
                    missing.append(("uploaded file name", shown))
    finally:
        ctx.close()
    assert not dialogs, f"dialogs fired: {dialogs}"
    assert not blocked and not requests.external(), f"requests outside 127.0.0.1: {sorted(set(blocked))}"
    assert not found, f"elements made from data: {found}"
    assert not missing, f"names not shown as written: {missing}"
