"""The map as a picture (issue 13, item 3) and a ranking row that opens its region (item 4).

Region names are written on the live map, a drill-down by click draws as the same link opened
directly (no stale selection), Back undoes it, the city's township ranking names each town's
county, and the deck sent to the browser stays small. Expectations come from the regions table
and the boundary files read here, never from the page's own output.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import ROOT, app  # noqa: E402

from minsheng import maps  # noqa: E402
from minsheng.ui import state  # noqa: E402

CITY, YOUXIAN = "430200000000", "430223000000"  # 株洲市, 攸县 in the demo data
REGIONS = ROOT / "data" / "regions.parquet"


def deck(at) -> tuple[dict, str]:
    raw = at.get("deck_gl_json_chart")[0].proto.json
    return json.loads(raw), raw


def layer(spec: dict, kind: str) -> dict:
    found = [lay for lay in spec["layers"] if lay["@@type"] == kind]
    assert len(found) == 1, [lay["@@type"] for lay in spec["layers"]]
    return found[0]


def names_under(parent: str, depth: int) -> list[str]:
    """Names of the regions `depth` levels under `parent`, read from the regions table."""
    r = pd.read_parquet(REGIONS)
    codes = {parent}
    for _ in range(depth):
        codes = set(r.loc[r["parent_code"].isin(codes), "code"])
    return sorted(r.loc[r["code"].isin(codes), "name"])


# names on the map ----------------------------------------------------------------------------

@pytest.mark.parametrize("level,depth", [("county", 1), ("township", 2)])
def test_the_map_writes_every_region_name(level, depth):
    spec, _ = deck(app("map", region=CITY, maplevel=level))
    text = layer(spec, "TextLayer")
    assert sorted(d["text"] for d in text["data"]) == names_under(CITY, depth)
    # CJK glyphs need the atlas built from the texts; the font is the installed one, never fetched
    assert text["characterSet"] == "auto"
    assert "Noto Sans CJK" in text["fontFamily"]
    assert not any(str(v).startswith("http") for v in text.values())


def test_names_sit_on_their_regions():
    """Each name at its region's label point from the boundary file."""
    spec, _ = deck(app("map", region=CITY))
    points = {f["properties"]["name"]: (f["properties"]["lon"], f["properties"]["lat"])
              for f in json.loads((ROOT / "data" / "boundaries" / "county.geojson").read_text(encoding="utf-8"))["features"]}
    for d in layer(spec, "TextLayer")["data"]:
        lon, lat = points[d["text"]]
        assert abs(d["lon"] - lon) < 1e-5 and abs(d["lat"] - lat) < 1e-5, d


# the deck sent to the browser ----------------------------------------------------------------

def _vertices(geom: dict) -> int:
    rings = geom["coordinates"] if geom["type"] == "Polygon" else [r for p in geom["coordinates"] for r in p]
    return sum(len(r) for r in rings)


@pytest.mark.parametrize("level,bound_kb", [("county", 30), ("township", 50)])
def test_the_deck_json_is_small(level, bound_kb):
    """Before: 90 KB (counties) and 156 KB (townships), pretty-printed with CJK escaped."""
    spec, raw = deck(app("map", region=CITY, maplevel=level))
    assert len(raw.encode("utf-8")) < bound_kb * 1024
    compact = json.dumps(spec, ensure_ascii=False, separators=(",", ":"))
    assert len(raw) <= len(compact) * 1.02, "the spec carries whitespace or escapes"
    feats = layer(spec, "GeoJsonLayer")["data"]["features"]
    for f in feats:
        assert set(f["properties"]) <= {"code", "name", "label", "fill", "line", "width"}
        rings = f["geometry"]["coordinates"] if f["geometry"]["type"] == "Polygon" else \
            [r for p in f["geometry"]["coordinates"] for r in p]
        for ring in rings:
            assert ring[0] == ring[-1] and len(ring) >= 4
            assert all(round(x, 5) == x and round(y, 5) == y for x, y in ring)
    source = json.loads((ROOT / "data" / "boundaries" / f"{level}.geojson").read_text(encoding="utf-8"))["features"]
    assert sum(_vertices(f["geometry"]) for f in feats) <= sum(_vertices(f["geometry"]) for f in source)


def _segment_distance(p, a, b) -> float:
    (x, y), (x0, y0), (x1, y1) = p, a, b
    dx, dy = x1 - x0, y1 - y0
    t = 0.0 if dx == dy == 0 else max(0.0, min(1.0, ((x - x0) * dx + (y - y0) * dy) / (dx * dx + dy * dy)))
    return math.hypot(x - (x0 + t * dx), y - (y0 + t * dy))


def test_simplification_keeps_every_vertex_within_the_tolerance():
    # a wobbly circle of 400 vertices: simplified, each original vertex stays within tol of the outline
    ring = [[113 + 0.1 * math.cos(2 * math.pi * i / 400) + 0.0005 * math.sin(37 * i),
             27 + 0.1 * math.sin(2 * math.pi * i / 400)] for i in range(400)]
    ring.append(ring[0])
    tol = 0.002
    out = maps.simplified({"type": "Polygon", "coordinates": [ring]}, tol)["coordinates"][0]
    assert out[0] == out[-1] and 4 <= len(out) < len(ring) / 4
    edges = list(zip(out, out[1:]))
    worst = max(min(_segment_distance(p, a, b) for a, b in edges) for p in ring)
    assert worst <= tol + 1e-5  # + the rounding to 5 decimals
    tiny = [[0, 0], [0.00001, 0], [0, 0.00001], [0, 0]]
    assert maps.simplified({"type": "Polygon", "coordinates": [tiny]}, 1.0)["coordinates"][0] == tiny


# the ranking ---------------------------------------------------------------------------------

def test_the_city_township_ranking_names_each_towns_county():
    at = app("map", region=CITY, maplevel="township")
    shown = at.dataframe[0].value
    r = pd.read_parquet(REGIONS)
    name_of = dict(zip(r["code"], r["name"]))
    county_of = {name_of[c]: name_of[p] for c, p, lv in zip(r["code"], r["parent_code"], r["level"]) if lv == "township"}
    assert "所属县区" in shown.columns
    assert sorted(shown["区域"]) == names_under(CITY, 2)
    for town, county in zip(shown["区域"], shown["所属县区"]):
        assert county == county_of[town], town


def test_a_county_ranking_has_no_county_column():
    shown = app("map", region=YOUXIAN).dataframe[0].value
    assert "所属县区" not in shown.columns and sorted(shown["区域"]) == names_under(YOUXIAN, 1)


# Back: the URL moved under the session --------------------------------------------------------

def test_a_url_changed_by_the_browser_wins_over_the_session():
    at = app("map", region=CITY)
    at.session_state[state.value_key("region")] = YOUXIAN  # what a map click does
    at.run()
    assert at.selectbox(key="_w_region").value == YOUXIAN and at.query_params["region"] == YOUXIAN
    at.run()  # the session's own value stays
    assert at.selectbox(key="_w_region").value == YOUXIAN
    at.query_params["region"] = CITY  # Back: the browser reruns with the previous URL
    at.run()
    assert not at.exception
    assert at.selectbox(key="_w_region").value == CITY
    assert sorted(layer(deck(at)[0], "TextLayer")["data"][i]["text"] for i in range(9)) == names_under(CITY, 1)


# in Chromium ---------------------------------------------------------------------------------

DECK_CANVAS = '[data-testid="stDeckGlJsonChart"] canvas#deckgl-overlay'
CANVAS_DRAWN = f"""() => {{ const c = document.querySelector('{DECK_CANVAS}'); return !!c && c.width > 0; }}"""
SHOTS = ROOT / "artifacts" / "map"
INK = 90  # the names are drawn in (20, 20, 20); no fill of the ramp blended on white is this dark in all channels


def _open(page, url: str):
    from browser_support import wait_idle

    page.goto(url)
    wait_idle(page)
    page.wait_for_function(CANVAS_DRAWN, timeout=30_000)
    page.mouse.move(1, 1)  # no hover highlight in the pictures
    page.wait_for_timeout(1500)  # deck.gl paints on animation frames; the font atlas is built first


def _shot(page, name: str):
    from PIL import Image
    import io

    SHOTS.mkdir(parents=True, exist_ok=True)
    png = page.locator(DECK_CANVAS).screenshot(path=str(SHOTS / name))
    return Image.open(io.BytesIO(png)).convert("RGB")


def _project(view, width: float, height: float, lon: float, lat: float) -> tuple[float, float]:
    """Web-mercator position of (lon, lat) in a canvas centred on the view."""
    scale = 512 * 2 ** view.zoom / (2 * math.pi)
    merc = lambda d: math.log(math.tan(math.pi / 4 + math.radians(d) / 2))  # noqa: E731
    return (width / 2 + math.radians(lon - view.longitude) * scale,
            height / 2 - (merc(lat) - merc(view.latitude)) * scale)


def _features(level: str, parent: str | None = None) -> list[dict]:
    feats = json.loads((ROOT / "data" / "boundaries" / f"{level}.geojson").read_text(encoding="utf-8"))["features"]
    if parent is None:
        return feats
    r = pd.read_parquet(REGIONS)
    kids = set(r.loc[r["parent_code"] == parent, "code"])
    return [f for f in feats if f["properties"]["code"] in kids]


def _blend(rgb, alpha: int = 235) -> tuple[int, int, int]:
    """A fill of `alpha` over the white canvas."""
    return tuple(round(c * alpha / 255 + 255 * (255 - alpha) / 255) for c in rgb)


def _fills(img, share: float = 0.004) -> dict[tuple, int]:
    """Colours covering more than `share` of the canvas, white (the empty canvas) left out."""
    colours = {c: n for n, c in img.getcolors(maxcolors=img.width * img.height)}
    total = img.width * img.height
    return {c: n for c, n in colours.items() if n > share * total and c != (255, 255, 255)}


def _near(c, targets, d: int = 4) -> bool:
    return any(max(abs(a - b) for a, b in zip(c, t)) <= d for t in targets)


@pytest.mark.browser
def test_a_screenshot_of_the_map_shows_the_names(browser, app_server):
    from browser_support import new_page

    feats = _features("county")
    view = maps.view_for(feats)
    ctx, page, _ = new_page(browser)
    try:
        _open(page, f"{app_server.url}/map?region={CITY}")
        img = _shot(page, "names_city.png")
        # the four large counties' names, each in ink around its label point
        for f in feats:
            p = f["properties"]
            if p["name"] not in ("攸县", "茶陵县", "炎陵县", "醴陵市"):
                continue
            x, y = _project(view, img.width, img.height, p["lon"], p["lat"])
            box = img.crop((int(x - 24), int(y - 9), int(x + 24), int(y + 9)))
            ink = sum(1 for c in box.getdata() if max(c) < INK)
            assert ink >= 25, f"{p['name']}: {ink} dark pixels at its label point"
        far = img.crop((0, 0, 60, 60))  # a corner outside the city: no ink
        assert sum(1 for c in far.getdata() if max(c) < INK) == 0
    finally:
        ctx.close()


@pytest.mark.browser
def test_a_drill_by_click_draws_as_its_link_and_back_returns(browser, app_server):
    from browser_support import new_page, wait_idle

    counties = _features("county")
    view = maps.view_for(counties)
    target = next(f["properties"] for f in counties if f["properties"]["code"] == YOUXIAN)
    ctx, page, _ = new_page(browser)
    direct_ctx = None
    try:
        _open(page, f"{app_server.url}/map?region={CITY}")
        box = page.locator(DECK_CANVAS).bounding_box()
        # a point inside 攸县 but off its name: its label point, 30 px left
        x, y = _project(view, box["width"], box["height"], target["lon"], target["lat"])
        page.mouse.click(box["x"] + x - 30, box["y"] + y)
        page.wait_for_function(f"() => location.search.includes('region={YOUXIAN}')", timeout=30_000)
        wait_idle(page)
        page.wait_for_function(CANVAS_DRAWN, timeout=30_000)
        page.mouse.move(1, 1)
        page.wait_for_timeout(1500)
        clicked = _shot(page, "drilled_by_click.png")
        # every fill on the canvas is a legend class, and every class of the legend is on the canvas:
        # a stale selection paints one region in the theme colour and dims the rest to grey
        chips = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stMain"] span')]
            .map(s => s.style.background).filter(b => b.startsWith('rgb'))""")
        legend = [_blend(tuple(int(v) for v in c[c.index("(") + 1:c.index(")")].split(","))) for c in chips]
        fills = _fills(clicked)
        stray = [c for c in fills if not _near(c, legend)]
        ink_or_edge = [c for c in stray if max(c) < INK or min(c) > 235]  # names, white borders, halos
        assert len(legend) >= 3 and set(stray) == set(ink_or_edge), f"fills not in the legend: {stray}"
        assert all(any(_near(c, [want]) for c in fills) for want in legend), (legend, fills)
        # the same link opened directly draws the same picture
        direct_ctx, direct, _ = new_page(browser)
        _open(direct, page.url)
        same = _fills(_shot(direct, "drilled_by_link.png"))
        assert {c for c in fills if _near(c, legend)} == {c for c in same if _near(c, legend)}
        # Back: the city again, its counties' names on the map
        page.go_back()
        page.wait_for_function(f"() => location.search.includes('region={CITY}')", timeout=30_000)
        wait_idle(page)
        page.wait_for_function("""() => [...document.querySelectorAll('[data-testid="stSidebar"] input')]
            .some(e => e.getAttribute('aria-label') === '区域' && e.value.trim() === '株洲市')""", timeout=30_000)
        assert "按区县" in page.locator('[data-testid="stMain"]').inner_text()
    finally:
        ctx.close()
        if direct_ctx:
            direct_ctx.close()


@pytest.mark.browser
def test_a_ranking_row_opens_its_region(browser, app_server):
    from browser_support import new_page

    first = app("map", region=YOUXIAN).dataframe[0].value.iloc[0]["区域"]  # the row clicked below
    r = pd.read_parquet(REGIONS)
    code = r.loc[(r["name"] == first) & (r["parent_code"] == YOUXIAN), "code"].item()
    ctx, page, _ = new_page(browser)
    try:
        _open(page, f"{app_server.url}/map?region={YOUXIAN}")
        grid = page.locator('[data-testid="stDataFrame"]').first.bounding_box()
        page.mouse.click(grid["x"] + 16, grid["y"] + 35 + 17)  # the first row's selection box
        page.wait_for_function(f"() => location.search.includes('region={code}')", timeout=30_000)
        page.wait_for_function(f"""() => [...document.querySelectorAll('[data-testid="stSidebar"] input')]
            .some(e => e.getAttribute('aria-label') === '区域' && e.value.trim() === '{first}')""", timeout=30_000)
    finally:
        ctx.close()
