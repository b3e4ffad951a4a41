"""Offline choropleths with pydeck: boundaries from data/boundaries, no base map, no tile server."""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pydeck as pdk

from minsheng import literal, store

# Sequential blues (ColorBrewer-like), light to dark; grey for regions without data.
RAMP = [(222, 235, 247), (158, 202, 225), (107, 174, 214), (49, 130, 189), (8, 81, 156)]
NO_DATA = (220, 220, 220)
LEVELS = ("city", "county", "township", "village")


@lru_cache(maxsize=16)
def _read(path: str, mtime_ns: int) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def boundaries(level: str, directory: Path | None = None) -> dict | None:
    """The FeatureCollection for a level, or None when the deployment has no polygons for it."""
    if level not in LEVELS:
        raise ValueError(f"未知级别：{level}")
    path = store.boundaries_dir(directory or store.data_dir()) / f"{level}.geojson"  # the current version's
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


def choropleth(collection: dict | None, rows: list[dict], highlight: str | None = None) -> pdk.Deck:
    """A deck of the regions in `rows` (code, name, value, label): polygons where the collection has
    them, points at the centroids otherwise. `map_provider=None` keeps it free of any base map."""
    limits = breaks([r["value"] for r in rows])
    by_code = {r["code"]: r for r in rows}
    features = []
    if collection:
        for f in collection["features"]:
            r = by_code.get(f["properties"]["code"])
            if r is None:
                continue
            color = color_for(r["value"], limits)
            features.append({"type": "Feature", "geometry": f["geometry"], "properties": {
                "code": r["code"], "name": r["name"], "label": r["label"],
                "fill": [*color, 235], "line": [20, 20, 20, 255] if r["code"] == highlight else [255, 255, 255, 255],
                "width": 400 if r["code"] == highlight else 60}})
    layers = []
    # the values go in as they are: Streamlit HTML-escapes each one it fills into the tooltip
    tooltip = {"html": "<b>{name}</b><br/>{label}", "style": {"fontFamily": "Noto Sans CJK SC, sans-serif"}}
    if features:
        layers.append(pdk.Layer(
            "GeoJsonLayer", {"type": "FeatureCollection", "features": features}, id="regions",
            pickable=True, stroked=True, filled=True, get_fill_color="properties.fill",
            # widths in metres with a floor in pixels: pydeck turns every string argument into a JS
            # expression, so line_width_units="pixels" would become an undefined variable
            get_line_color="properties.line", get_line_width="properties.width", line_width_min_pixels=1,
            auto_highlight=True, highlight_color=[255, 200, 0, 160]))
        view = view_for(features)
    else:
        pts = [dict(r, fill=[*color_for(r["value"], limits), 230]) for r in rows
               if r.get("lon") is not None and r.get("lat") is not None]
        if not pts:
            return None
        layers.append(pdk.Layer(
            "ScatterplotLayer", pts, id="regions", pickable=True, get_position=["lon", "lat"],
            get_fill_color="fill", get_radius=1500, radius_min_pixels=8, radius_max_pixels=30,
            stroked=True, get_line_color=[255, 255, 255], line_width_min_pixels=1))
        view = view_for([], [(p["lon"], p["lat"]) for p in pts])
    # map_provider=None and no map_style: Streamlit then draws no base map. Passing map_style=None
    # would instead ask Streamlit for its theme's Carto base map, fetched from the internet.
    return pdk.Deck(layers=layers, initial_view_state=view, map_provider=None, tooltip=tooltip)


def rows(table, label) -> list[dict]:
    """The map's regions from a table (code, name, value, lon, lat): plain floats and Nones, and
    `label(value)`, the text a tooltip shows."""
    def num(x):
        return None if x is None or pd.isna(x) else float(x)

    return [dict(code=r.code, name=r.name, value=num(r.value), label=label(r.value), lon=num(r.lon), lat=num(r.lat))
            for r in table.itertuples()]


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
