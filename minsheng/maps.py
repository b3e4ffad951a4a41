"""Offline choropleths with pydeck: boundaries from data/boundaries, no base map, no tile server."""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pydeck as pdk
from pydeck.bindings.json_tools import serialize

from minsheng import literal, store

# Sequential blues (ColorBrewer-like), light to dark; grey for regions without data.
RAMP = [(222, 235, 247), (158, 202, 225), (107, 174, 214), (49, 130, 189), (8, 81, 156)]
NO_DATA = (220, 220, 220)
LEVELS = ("city", "county", "township", "village")
DIGITS = 5  # ≈ 1 m: finer than a pixel at any zoom the map opens at
TOLERANCE_PX = 0.5  # a vertex nearer than this to the simplified line moves nothing a user can see
NAME_FONT = "Noto Sans CJK SC, Noto Sans CJK, sans-serif"  # the page's font, installed, never fetched


class Deck(pdk.Deck):
    """A pydeck Deck whose JSON is compact: pydeck indents it by two spaces and writes CJK as
    \\uXXXX escapes, which made the spec sent to the browser four times its data."""

    def to_json(self) -> str:
        return json.dumps(json.loads(serialize(self)), ensure_ascii=False, separators=(",", ":"))


@lru_cache(maxsize=16)
def _read(path: str, mtime_ns: int) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def boundaries(level: str, directory: Path | None = None) -> dict | None:
    """The FeatureCollection for a level, or None when the deployment has no polygons for it."""
    if level not in LEVELS:
        raise ValueError(f"未知级别：{level}")
    path = store.boundaries_dir(directory or store.read_dir()) / f"{level}.geojson"  # the current version's
    if not path.exists():
        return None
    return _read(str(path), path.stat().st_mtime_ns)


def breaks(values: list[float], n: int = len(RAMP)) -> list[float]:
    """Class limits by quantile, so each colour holds about as many regions."""
    v = sorted(x for x in values if x is not None and not math.isnan(x))
    if not v:
        return []
    qs = [v[min(len(v) - 1, round(i * (len(v) - 1) / n))] for i in range(n + 1)]
    return sorted(set(qs))


def color_for(value, limits: list[float]) -> tuple[int, int, int]:
    if value is None or (isinstance(value, float) and math.isnan(value)) or not limits:
        return NO_DATA
    if len(limits) == 1:
        return RAMP[-1]
    for i in range(1, len(limits)):
        if value <= limits[i]:
            return RAMP[min(len(RAMP) - 1, round((i - 1) * (len(RAMP) - 1) / max(1, len(limits) - 2)))]
    return RAMP[-1]


def _bbox(features: list[dict]) -> tuple[float, float, float, float]:
    xs, ys = [], []

    def walk(c):
        if isinstance(c[0], (int, float)):
            xs.append(c[0]), ys.append(c[1])
        else:
            for x in c:
                walk(x)
    for f in features:
        walk(f["geometry"]["coordinates"])
    return min(xs), min(ys), max(xs), max(ys)


def _dp(points: list, tol: float) -> list:
    """Douglas–Peucker: the vertices of an open line that keep it within `tol` of the original."""
    if len(points) < 3:
        return list(points)
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        a, b = stack.pop()
        (x0, y0), (x1, y1) = points[a][:2], points[b][:2]
        dx, dy = x1 - x0, y1 - y0
        norm = math.hypot(dx, dy)
        far, at = -1.0, -1
        for i in range(a + 1, b):
            x, y = points[i][:2]
            d = abs(dy * (x - x0) - dx * (y - y0)) / norm if norm else math.hypot(x - x0, y - y0)
            if d > far:
                far, at = d, i
        if far > tol:
            keep[at] = True
            stack += [(a, at), (at, b)]
    return [p for p, k in zip(points, keep) if k]


def _ring(ring: list, tol: float) -> list:
    """A closed ring simplified and rounded; small rings keep their shape (at least a triangle)."""
    pts = [[round(x, DIGITS), round(y, DIGITS)] for x, y, *_ in ring]
    if len(pts) <= 4:
        return pts
    # split at the vertex farthest from the first, so the closed ring is two open lines
    far = max(range(len(pts)), key=lambda i: (pts[i][0] - pts[0][0]) ** 2 + (pts[i][1] - pts[0][1]) ** 2)
    out = _dp(pts[:far + 1], tol)[:-1] + _dp(pts[far:], tol)
    return out if len(out) >= 4 else pts


def simplified(geometry: dict, tol: float) -> dict:
    """A Polygon or MultiPolygon with every ring simplified to `tol` degrees and rounded to DIGITS."""
    if geometry["type"] == "Polygon":
        return {"type": "Polygon", "coordinates": [_ring(r, tol) for r in geometry["coordinates"]]}
    if geometry["type"] == "MultiPolygon":
        return {"type": "MultiPolygon", "coordinates": [[_ring(r, tol) for r in poly] for poly in geometry["coordinates"]]}
    return geometry


def tolerance(zoom: float) -> float:
    """Degrees of longitude in TOLERANCE_PX screen pixels at `zoom` (web mercator: 512·2^zoom px per 360°)."""
    return TOLERANCE_PX * 360 / (512 * 2 ** zoom)


# (id of a boundary feature, zoom step) -> (the feature, its simplified geometry). The features are
# those of the version's cached collection (boundaries()), so a new version draws anew; holding the
# feature keeps its id from being reused while the entry lives.
_SHAPES: dict[tuple[int, int], tuple[dict, dict]] = {}


def shape(feature: dict, zoom: float) -> dict:
    """The feature's geometry simplified for `zoom` (by whole zoom steps), computed once per step."""
    step = int(math.floor(zoom))
    hit = _SHAPES.get((id(feature), step))
    if hit is not None and hit[0] is feature:
        return hit[1]
    geom = simplified(feature["geometry"], tolerance(step + 1))  # the finer end of the step
    if len(_SHAPES) > 20_000:
        _SHAPES.clear()
    _SHAPES[(id(feature), step)] = (feature, geom)
    return geom


def view_for(features: list[dict], points: list[tuple[float, float]] | None = None,
             width_px: int = 700, height_px: int = 500) -> pdk.ViewState:
    if features:
        x0, y0, x1, y1 = _bbox(features)
    else:
        x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
        y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    # web-mercator: the world is 512·2^zoom pixels wide; latitude spans stretch by 1/cos(lat)
    stretch = 1 / math.cos(math.radians((y0 + y1) / 2))
    fit_x = width_px * 360 / (512 * max(x1 - x0, 0.01))
    fit_y = height_px * 360 / (512 * max((y1 - y0) * stretch, 0.01))
    zoom = max(3.0, min(13.0, math.log2(min(fit_x, fit_y)) - 0.15))
    return pdk.ViewState(longitude=(x0 + x1) / 2, latitude=(y0 + y1) / 2, zoom=zoom, pitch=0, bearing=0)


def choropleth(collection: dict | None, rows: list[dict], highlight: str | None = None) -> Deck | None:
    """A deck of the regions in `rows` (code, name, short, value, label, lon, lat): polygons where the
    collection has them, points at the centroids otherwise, and each region's name written on it.
    `map_provider=None` keeps it free of any base map."""
    limits = breaks([r["value"] for r in rows])
    by_code = {r["code"]: r for r in rows}
    shapes = [(f, by_code[f["properties"]["code"]]) for f in (collection or {}).get("features", [])
              if f["properties"]["code"] in by_code]
    layers = []
    # the values go in as they are: Streamlit HTML-escapes each one it fills into the tooltip
    tooltip = {"html": "<b>{name}</b><br/>{label}", "style": {"fontFamily": NAME_FONT}}
    if shapes:
        view = view_for([f for f, _ in shapes])
        features = [{"type": "Feature", "geometry": shape(f, view.zoom), "properties": {
            "code": r["code"], "name": r["name"], "label": r["label"], "fill": [*color_for(r["value"], limits), 235],
            "line": [20, 20, 20, 255] if r["code"] == highlight else [255, 255, 255, 255],
            "width": 400 if r["code"] == highlight else 60}} for f, r in shapes]
        layers.append(pdk.Layer(
            "GeoJsonLayer", {"type": "FeatureCollection", "features": features}, id="regions",
            pickable=True, stroked=True, filled=True, get_fill_color="properties.fill",
            # widths in metres with a floor in pixels: pydeck turns every unquoted string argument
            # into a JS expression, so line_width_units="pixels" would become an undefined variable
            get_line_color="properties.line", get_line_width="properties.width",
            line_width_min_pixels=1, auto_highlight=True, highlight_color=[255, 200, 0, 160]))
        places = [(r, f["properties"].get("lon", r.get("lon")), f["properties"].get("lat", r.get("lat")), f)
                  for f, r in shapes]
    else:
        pts = [dict(code=r["code"], name=r["name"], label=r["label"], lon=r["lon"], lat=r["lat"],
                    fill=[*color_for(r["value"], limits), 230]) for r in rows
               if r.get("lon") is not None and r.get("lat") is not None]
        if not pts:
            return None
        layers.append(pdk.Layer(
            "ScatterplotLayer", pts, id="regions", pickable=True, get_position=["lon", "lat"],
            get_fill_color="fill", get_radius=1500, radius_min_pixels=8, radius_max_pixels=30,
            stroked=True, get_line_color=[255, 255, 255], line_width_min_pixels=1))
        view = view_for([], [(p["lon"], p["lat"]) for p in pts])
        places = [(by_code[p["code"]], p["lon"], p["lat"], None) for p in pts]
    places = [(dict(r, fill=color_for(r["value"], limits)), lon, lat, f) for r, lon, lat, f in places]
    layers.append(names_layer(places, view.zoom, offset=0 if shapes else 14))
    # map_provider=None and no map_style: Streamlit then draws no base map. Passing map_style=None
    # would instead ask Streamlit for its theme's Carto base map, fetched from the internet.
    return Deck(layers=layers, initial_view_state=view, map_provider=None, tooltip=tooltip)


def _width_px(feature: dict | None, zoom: float) -> float | None:
    """The region's width on screen at `zoom` (None for a point)."""
    if feature is None:
        return None
    x0, _, x1, _ = _bbox([feature])
    return (x1 - x0) * 512 * 2 ** zoom / 360


def name_size(feature: dict | None, text: str, zoom: float) -> int:
    """Pixels for a region's name: as large as reads well, smaller where the region is narrow on
    screen (a city's small urban districts), so neighbouring names overlap less."""
    width_px = _width_px(feature, zoom)
    if width_px is None:
        return NAME_PX[1]
    return int(max(NAME_PX[0], min(NAME_PX[1], 0.8 * width_px / max(1, len(text)))))


NAME_PX = (11, 15)  # the smallest and largest name on the map, in pixels


def _screen(lon: float, lat: float, zoom: float) -> tuple[float, float]:
    """Web-mercator pixels at `zoom` (y down), for placing names against each other."""
    scale = 512 * 2 ** zoom / (2 * math.pi)
    return math.radians(lon) * scale, -math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * scale


def place(labels: list[dict], zoom: float, base_dy: int = 0) -> list[dict]:
    """A pixel offset for each name so that no two overlap at the opening view: the larger names
    keep their place, a smaller one that would cover another moves above, below or beside it (a
    city's small urban districts sit close together). Names and order are kept."""
    taken: list[tuple[float, float, float, float]] = []

    def free(b):
        return all(b[2] <= t[0] or b[0] >= t[2] or b[3] <= t[1] or b[1] >= t[3] for t in taken)

    for lab in sorted(labels, key=lambda d: -d["size"]):
        x, y = _screen(lab["lon"], lab["lat"], zoom)
        w, h = lab["size"] * len(lab["text"]) + 8, lab["size"] + 4
        moves = [(0, 0), (0, -h), (0, h), (w * 0.75, 0), (-w * 0.75, 0), (0, -2 * h), (0, 2 * h),
                 (w * 0.75, -h), (-w * 0.75, h), (w * 0.75, h), (-w * 0.75, -h)]
        for dx, dy in moves:
            box = (x + dx - w / 2, y + base_dy + dy - h / 2, x + dx + w / 2, y + base_dy + dy + h / 2)
            if free(box):
                break
        else:  # nowhere free: it stays on its region
            dx, dy = 0, 0
            box = (x - w / 2, y + base_dy - h / 2, x + w / 2, y + base_dy + h / 2)
        taken.append(box)
        lab["offset"] = [round(dx), round(base_dy + dy)]
    return labels


def names_layer(places: list[tuple[dict, float | None, float | None, dict | None]], zoom: float,
                offset: int = 0) -> pdk.Layer:
    """Each region's name at its label point on a white ground, so a screenshot of the map reads
    without hovering. CJK needs its glyphs in the font atlas: characterSet 'auto' collects them from
    the texts (the default atlas holds ASCII only, and CJK would draw nothing)."""
    data = []
    for r, lon, lat, feature in places:
        if lon is None or lat is None:
            continue
        text = r.get("short") or r["name"]
        data.append({"text": text, "lon": round(lon, DIGITS), "lat": round(lat, DIGITS),
                     "size": name_size(feature, text, zoom)})
    # Names are placed here, not by deck.gl's CollisionFilterExtension: under software WebGL (no
    # GPU, as on many office PCs and in headless Chromium) its collision pass blocked the page for
    # seconds. Quoted strings stay strings: pydeck makes any other string argument a JS
    # expression. Bitmap glyphs (SDF drew CJK soft and jagged under software WebGL) on a white
    # ground read on every fill; the ground costs a layer (≈ 0.4 s of GPU-process CPU per load in
    # headless Chromium without a GPU, little on a real one), a price paid for a readable picture.
    return pdk.Layer(
        "TextLayer", place(data, zoom, offset), id="names", pickable=False, get_position=["lon", "lat"],
        get_text="text", get_size="size", size_units="'pixels'", get_color=[20, 20, 20, 255],
        character_set="'auto'", font_family=f"'{NAME_FONT}'", font_weight=500, get_text_anchor="'middle'",
        get_alignment_baseline="'center'", get_pixel_offset="offset",
        font_settings={"fontSize": 32, "buffer": 2}, background=True,
        get_background_color=[255, 255, 255, 200], background_padding=[3, 1, 3, 1])


def rows(table, label) -> list[dict]:
    """The map's regions from a table (code, name, value, lon, lat, and `short`, the name written on
    the map): plain floats and Nones, and `label(value)`, the text a tooltip shows."""
    def num(x):
        return None if x is None or pd.isna(x) else float(x)

    return [dict(code=r.code, name=r.name, short=getattr(r, "short", r.name), value=num(r.value),
                 label=label(r.value), lon=num(r.lon), lat=num(r.lat)) for r in table.itertuples()]


def legend_html(rows: list[dict], fmt_value, title: str, no_data: str) -> str:
    """The legend as one line of colour chips, every text escaped (it carries units and numbers)."""
    chips = " ".join(f"<span style='display:inline-block;width:14px;height:14px;background:{c};"
                     f"border:1px solid #999;vertical-align:middle'></span> {literal.html(no_data if t == '无数据' else t)}"
                     for c, t in legend(rows, fmt_value))
    return f"<div style='font-size:0.85rem'>{literal.html(title)}{chips}</div>"


def legend(rows: list[dict], fmt_value) -> list[tuple[str, str]]:
    """(css colour, label) pairs for the classes in use."""
    limits = breaks([r["value"] for r in rows])
    out = []
    for i in range(1, len(limits)):
        c = color_for(limits[i], limits)
        out.append((f"rgb{c}", f"{fmt_value(limits[i - 1])} – {fmt_value(limits[i])}"))
    if len(limits) == 1:
        out.append((f"rgb{RAMP[-1]}", fmt_value(limits[0])))
    if any(r["value"] is None or (isinstance(r["value"], float) and math.isnan(r["value"])) for r in rows):
        out.append((f"rgb{NO_DATA}", "无数据"))
    return out
