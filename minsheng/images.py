"""Slide-ready PNG/SVG exports of the dashboard's figures (and a static map), rendered by one warm kaleido."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path

import kaleido
import numpy as np
import plotly
import plotly.graph_objects as go
from kaleido import PageGenerator
import shapely
import shapely.geometry
import shapely.ops

from minsheng import charts, fmt, literal, maps

W, H, SCALE = 1920, 1080, 2  # a 16:9 slide; PNGs at 2× for projectors and print
PAD = 48                      # page margin in px
GROW = 1.6                    # screen font sizes → slide font sizes
TITLE_PX, SUB_PX, UNIT_PX, FOOT_PX, LEGEND_PX = 40, 22, 20, 19, 20


@dataclass(frozen=True)
class Provenance:
    title: str
    subtitle: str        # region · period · filter
    unit: str | None
    source: str
    data_date: str
    demo: bool


# ---------------------------------------------------------------- layout

def _em(text: str) -> float:
    """Rough width in ems: CJK and full-width characters are square, Latin about half."""
    return sum(1.0 if ord(c) >= 0x2E80 else 0.3 if c in " ·.,:" else 0.58 for c in text)


def _wrap(text: str, px: int, width: int, sep: str = " · ") -> list[str]:
    """Greedy lines of at most `width` px, breaking at `sep` first and inside a part only if it must."""
    lines, cur = [], ""
    for part in text.split(sep):
        trial = f"{cur}{sep}{part}" if cur else part
        if _em(trial) * px <= width:
            cur = trial
            continue
        if cur:
            lines.append(cur)
        cur = ""
        for ch in part:  # one part too long for a line: break between characters (fine for Chinese)
            if _em(cur + ch) * px > width:
                lines.append(cur)
                cur = ""
            cur += ch
    return lines + [cur] if cur else lines or [""]


def _numbers(values) -> np.ndarray:
    try:
        a = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return np.array([])
    return a[np.isfinite(a)]


def _is_map(fig: go.Figure) -> bool:
    return fig.layout.yaxis.scaleanchor is not None  # lon/lat axes: equal-aspect geometry, not quantities


def _rescale_y(fig: go.Figure, unit: str | None) -> str | None:
    """Write a y axis of large counts in 万/亿 (260.98 万人 rather than 2,609,783 人); returns the unit."""
    if not unit or _is_map(fig):
        return unit
    vertical = [t for t in fig.data if t.type in ("scatter", "scattergl", "bar") and t.orientation != "h"
                and t.y is not None and t.yaxis in (None, "y")]  # not the 未报 markers on an axis of their own
    vals = np.concatenate([_numbers(t.y) for t in vertical]) if vertical else np.array([])
    if not len(vals):
        return unit
    _, new_unit = fmt.human_number(float(np.abs(vals).max()), unit)
    if new_unit == unit:
        return unit
    factor = 1e8 if new_unit.startswith("亿") else 1e4
    for t in vertical:
        t.y = np.asarray(t.y, dtype=float) / factor
    for s in fig.layout.shapes:
        if s.yref == "y":
            s.y0, s.y1 = (None if v is None else v / factor for v in (s.y0, s.y1))
    if fig.layout.yaxis.range:
        fig.layout.yaxis.range = [v / factor for v in fig.layout.yaxis.range]
    return new_unit


def _legend_entries(fig: go.Figure) -> list[str]:
    if fig.layout.showlegend is False or (fig.layout.showlegend is None and len(fig.data) < 2):
        return []
    return [t.name or "" for t in fig.data if t.showlegend is not False]


def _grow_traces(fig: go.Figure) -> None:
    """Lines, markers and in-plot text sized for a slide rather than a browser column."""
    for t in fig.data:
        if "line" in t and isinstance(t.line.width, (int, float)):
            t.line.width = t.line.width * 1.5
        if "marker" in t:
            if "size" in t.marker and isinstance(t.marker.size, (int, float)):
                t.marker.size = t.marker.size * 1.5
            if "line" in t.marker and isinstance(t.marker.line.width, (int, float)):
                t.marker.line.width = t.marker.line.width * 1.5
        if "textfont" in t and isinstance(t.textfont.size, (int, float)):
            t.textfont.size = round(t.textfont.size * GROW)


def _y_label_px(fig: go.Figure, tick_px: int) -> float:
    """Width the y tick labels need (automargin is off so the baked-in texts stay where they are put)."""
    if fig.layout.yaxis.visible is False:
        return 0
    ys = [v for t in fig.data if t.y is not None for v in t.y if v is not None]
    words = [str(v) for v in ys if isinstance(v, str)]
    if words:
        return max(map(_em, words)) * tick_px + 16
    nums = _numbers(ys)
    top = max(abs(nums).max() if len(nums) else 1, *(abs(v) for v in fig.layout.yaxis.range or [0]))
    text = f"{top:,.0f}.00" + (fig.layout.yaxis.ticksuffix or "")
    return _em(text) * tick_px + 16


def export_figure(fig: go.Figure, prov: Provenance) -> go.Figure:
    """A copy of `fig` laid out for a 1920×1080 slide with title, subtitle, unit, source and date baked in."""
    out = go.Figure(fig)
    base = out.layout.font.size or 14
    font_px = round(base * GROW)
    unit = _rescale_y(out, prov.unit)
    is_map = _is_map(out)
    text_w = W - 2 * PAD

    # keep the figure's own annotations, except its on-screen unit label, which is redrawn larger
    notes = [a for a in out.layout.annotations if not str(a.text or "").startswith("单位：")]
    for a in notes:
        if a.font.size:
            a.font.size = round(a.font.size * GROW)
    _grow_traces(out)

    title_lines = _wrap(prov.title, TITLE_PX, text_w, sep="\0")
    sub_lines = _wrap(prov.subtitle, SUB_PX, text_w) if prov.subtitle else []
    foot = " · ".join([f"来源：{prov.source or '—'}", f"数据日期：{prov.data_date or '未知'}"])
    foot_lines = _wrap(foot, FOOT_PX, text_w - (5 * FOOT_PX if prov.demo else 0))
    top_title = PAD - 8
    sub_top = top_title + 52 * len(title_lines) + 6
    t = sub_top + 32 * len(sub_lines) + (22 + 34 if unit else 26)
    foot_h = 28 * len(foot_lines)

    entries = _legend_entries(out)
    tick_px = font_px
    cats = {v for tr in out.data if tr.y is not None for v in tr.y if isinstance(v, str)}
    if cats:  # many task names on a category axis: shrink them rather than let them collide
        tick_px = max(12, min(font_px, int((H - t - 200) / len(cats) * 0.62)))
    l = PAD + _y_label_px(out, tick_px)
    r = PAD
    if is_map and entries:  # maps leave room at the sides: legend column on the right
        legend_w = max(map(_em, entries)) * LEGEND_PX + 60
        r += legend_w
        legend = dict(orientation="v", xref="container", yref="container", x=1 - (legend_w + PAD - 10) / W,
                      xanchor="left", y=1 - t / H, yanchor="top")
        legend_h = 0
    else:
        row_w = sum(_em(e) * LEGEND_PX + 56 for e in entries)
        legend_h = 0 if not entries else 36 * math.ceil(row_w / text_w) + 14
        legend = dict(orientation="h", xref="container", yref="container", x=PAD / W, xanchor="left",
                      y=(PAD - 12 + foot_h + 16) / H, yanchor="bottom")
    axis_h = 0 if out.layout.xaxis.visible is False else font_px + 26 + (40 if out.layout.xaxis.title.text else 0)
    b = PAD - 12 + foot_h + 16 + legend_h + axis_h + 10
    pw, ph = W - l - r, H - t - b

    def px(x: float) -> float:
        return (x - l) / pw

    def py(y_from_top: float) -> float:
        return 1 - (y_from_top - t) / ph

    ann = [dict(text="<br>".join(literal.plotly(s) for s in sub_lines), x=px(PAD), y=py(sub_top), xanchor="left",
                yanchor="top", align="left", font=dict(size=SUB_PX, color="#444"))] if sub_lines else []
    if unit:
        ann.append(dict(text=f"单位：{literal.plotly(unit)}", x=px(PAD), y=py(t - 10), xanchor="left", yanchor="bottom",
                        font=dict(size=UNIT_PX, color="#444")))
    ann.append(dict(text="<br>".join(literal.plotly(s) for s in foot_lines), x=px(PAD), y=py(H - PAD + 12), xanchor="left",
                    yanchor="bottom", align="left", font=dict(size=FOOT_PX, color="#555")))
    if prov.demo:  # on every image, so a copied chart cannot pass for official figures
        ann.append(dict(text="<b>演示数据</b>", x=px(W - PAD), y=py(H - PAD + 12), xanchor="right",
                        yanchor="bottom", font=dict(size=FOOT_PX + 2, color="#D55E00")))
    out.update_layout(
        width=W, height=H, paper_bgcolor="white", plot_bgcolor="white",
        font=dict(family=charts.FONT, size=font_px, color="#222"),
        title=dict(text=f"<b>{'<br>'.join(literal.plotly(s) for s in title_lines)}</b>", font=dict(size=TITLE_PX, color="#111"),
                   xref="container", yref="container", x=PAD / W, xanchor="left", y=1 - top_title / H,
                   yanchor="top", pad=dict(t=0, b=0, l=0, r=0)),
        margin=dict(l=l, r=r, t=t, b=b, pad=0, autoexpand=False),
        legend=dict(legend, font=dict(size=LEGEND_PX), title=dict(text=None), bgcolor="rgba(0,0,0,0)"),
    )
    # assigned, not passed to update_layout, which would merge these into the existing annotations
    out.layout.annotations = notes + [go.layout.Annotation(a, xref="paper", yref="paper", showarrow=False) for a in ann]
    out.update_xaxes(automargin=False)
    out.update_yaxes(automargin=False, tickfont=dict(size=tick_px))
    return out


# ---------------------------------------------------------------- rendering

_lock = threading.Lock()
_started = False


def page() -> PageGenerator:
    """kaleido's page with plotly.js from the plotly package and no MathJax: nothing comes from a CDN."""
    js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return PageGenerator(plotly=js.as_uri(), mathjax=False)


def _start() -> None:
    global _started
    with _lock:  # Streamlit sessions are threads; the server is a process-wide singleton
        if not _started:
            kaleido.start_sync_server(page_generator=page(), silence_warnings=True)
            _started = True


def _render(fig: go.Figure, fmt_: str, scale: int) -> bytes:
    _start()
    spec = fig.to_dict()
    # one request at a time: the sync server's task and result queues are shared, so two
    # concurrent callers could otherwise receive each other's images
    with _lock:
        return kaleido.calc_fig_sync(spec, opts=dict(format=fmt_, width=W, height=H, scale=scale))


def warm() -> None:
    """Start Chromium and load plotly.js now (≈2 s) so the first download is as quick as the rest."""
    _render(go.Figure(go.Scatter(x=[0, 1], y=[0, 1])), "png", 1)


def png(fig: go.Figure, prov: Provenance) -> bytes:
    """3840×2160 PNG (1920×1080 at 2×)."""
    return _render(export_figure(fig, prov), "png", SCALE)


def svg(fig: go.Figure, prov: Provenance) -> bytes:
    """1920×1080 SVG with the same texts as the PNG."""
    return _render(export_figure(fig, prov), "svg", 1)


# ---------------------------------------------------------------- static map

def _signed_area(ring: list) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0, *_), (x1, y1, *_) in zip(ring, ring[1:]))


def _rings(geometry: dict) -> tuple[list, list]:
    """All rings of a (Multi)Polygon as one path broken by None. SVG fills with the nonzero rule, so
    outer rings go counter-clockwise and holes clockwise, whatever order the file has them in."""
    polys = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    xs, ys = [], []
    for poly in polys:
        for i, ring in enumerate(poly):
            if (_signed_area(ring) > 0) != (i == 0):
                ring = ring[::-1]
            xs += [p[0] for p in ring] + [None]
            ys += [p[1] for p in ring] + [None]
    return xs, ys


def _rgb(c: tuple[int, int, int]) -> str:
    return f"rgb({c[0]},{c[1]},{c[2]})"


def _ink(c: tuple[int, int, int]) -> str:
    return "white" if 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] < 140 else "#222"


def _default_fmt(rows: list[dict]):
    vals = [r["value"] for r in rows if r["value"] is not None and not math.isnan(r["value"])]
    whole = all(float(v).is_integer() for v in vals)
    spread = (max(vals) - min(vals)) if vals else 0
    return lambda v: fmt.number(v, 0 if whole else 1 if spread >= 1 else 2)


# the map's labels are planned for the slide export: label font and the plot area it gets there
LABEL_PX, PLOT_W, PLOT_H = 21, 1450, 760


def _fitting_label(r, lon, lat, poly, size, stretch, crowded, points, taken):
    """(lon, lat, lines, rect) of a label that sits (90 % or more) inside its region and clear of the
    labels already placed; tried at the stored label point, then at the polygon's pole of inaccessibility,
    and for long names also broken over two lines (江桥 / 街道)."""
    name = r["name"]
    k = len(name) - 2 if name.endswith("街道") else math.ceil(len(name) / 2)
    texts = [[name], [name[:k], name[k:]]] if crowded else [[name, r["label"]]]
    spots = [(lon, lat)] + ([shapely.ops.polylabel(poly, 1e-4).coords[0]] if poly is not None else [])
    for x, y in spots:
        for lines in texts if len(name) >= 4 else texts[:1]:
            w, h = max(map(_em, lines)) * size, len(lines) * 1.3 * size / stretch
            left = x + (0.8 * size if points else -w / 2)
            rect = shapely.box(left, y - h / 2, left + w, y + h / 2)
            if poly is not None and poly.intersection(rect).area < 0.9 * rect.area:
                continue
            if not any(rect.intersects(t) for t in taken):
                return x, y, lines, rect
    return None


def _place_labels(placed: list, polys: dict, stretch: float, crowded: bool, points: bool):
    """Split labels into those that fit inside their region (or, for points, beside the marker without
    touching another label) and callouts, stacked in a column west or east of the map with a leader line."""
    xs = [p[1] for p in placed] + [c for g in polys.values() for c in g.bounds[0::2]]
    ys = [p[2] * stretch for p in placed] + [c * stretch for g in polys.values() for c in g.bounds[1::2]]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    ppu = min(PLOT_W / max(x1 - x0, 1e-6), PLOT_H / max(y1 - y0, 1e-6))  # px per (scaled) degree
    size = (10 if crowded else 13) * GROW / ppu
    inside, callouts, taken = [], [], []
    # big regions first: they have the most room and claim it
    for r, lon, lat in sorted(placed, key=lambda p: -polys[p[0]["code"]].area if p[0]["code"] in polys else 0):
        poly = polys.get(r["code"])
        spot = _fitting_label(r, lon, lat, poly, size, stretch, crowded, points, taken)
        if spot:
            inside.append((r, *spot[:2], "<br>".join(literal.plotly(x) for x in spot[2])))
            taken.append(spot[3])
        else:
            callouts.append((r, lon, lat))
    notes, extent = [], [x0, x1, y0 / stretch, y1 / stretch]
    slot, gap = 1.45 * size / stretch, 40 / ppu
    omitted = len(callouts) if len(callouts) > 12 else 0  # a fan of leader lines would hide the map
    if omitted:
        callouts = []
    for side in (-1, 1):
        col = sorted((c for c in callouts if (c[1] < (x0 + x1) / 2) == (side < 0)), key=lambda c: -c[2])
        y_prev = math.inf
        for r, lon, lat in col:
            y = min(lat, y_prev - slot)  # top-down, each at its own latitude unless that overlaps the last
            y_prev = y
            text = literal.plotly(f"{r['name']} {r['label']}" if r.get("label") and not crowded else r["name"])
            ax = x0 - gap if side < 0 else x1 + gap
            notes.append(dict(x=lon, y=lat, ax=ax, ay=y, axref="x", ayref="y", text=text, showarrow=True,
                              arrowhead=0, arrowwidth=1, arrowcolor="#555", standoff=2,
                              xanchor="right" if side < 0 else "left", font=dict(size=10 if crowded else 13)))
            extent[0 if side < 0 else 1] = ax + side * (_em(text) * size + 0.5 * gap)
            extent[2] = min(extent[2], y - slot)
    if omitted:
        notes.append(dict(text=f"注：{omitted} 个面积较小的区域未标注名称", xref="paper", yref="paper", x=1, y=0,
                          xanchor="right", yanchor="bottom", showarrow=False, font=dict(size=11, color="#555")))
    margin = 2 * size  # room for the marker and two lines of label at the edges
    extent = [extent[0] - margin, extent[1] + (4 * margin if points else margin),
              extent[2] - margin / stretch, extent[3] + margin / stretch]
    return inside, notes, extent


def map_figure(collection: dict | None, rows: list[dict], *, highlight: str | None = None,
               fmt_value=None) -> go.Figure:
    """The choropleth the 地图 page shows, as plain Plotly shapes in lon/lat (no geo base map, nothing
    fetched): same classes and colours as maps.choropleth, names on the regions, a legend of the classes."""
    limits = maps.breaks([r["value"] for r in rows])
    by_code = {f["properties"]["code"]: f for f in (collection or {}).get("features", [])}
    shaped = [r for r in rows if r["code"] in by_code]
    polys = {r["code"]: shapely.geometry.shape(by_code[r["code"]]["geometry"]) for r in shaped}
    fig = go.Figure()
    # the highlighted region last, so its dark outline is not covered by a neighbour's white one
    for r in sorted(shaped, key=lambda r: r["code"] == highlight):
        xs, ys = _rings(by_code[r["code"]]["geometry"])
        hl = r["code"] == highlight
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", fill="toself", fillcolor=_rgb(maps.color_for(r["value"], limits)),
                                 line=dict(color="#111" if hl else "white", width=3 if hl else 1),
                                 name=r["name"], showlegend=False, hoverinfo="skip"))
    placed = []  # (row, lon, lat) of each label: the stored label point, else one inside the polygon
    for r in shaped if shaped else rows:
        lon, lat = r.get("lon"), r.get("lat")
        if (lon is None or lat is None) and r["code"] in polys:
            p = polys[r["code"]].representative_point()
            lon, lat = p.x, p.y
        if lon is not None and lat is not None:
            placed.append((r, lon, lat))
    if not placed:
        return fig
    points = not shaped  # no polygons at this level: points at the centroids, as the pydeck map does
    lats = [p[2] for p in placed] + [c for g in polys.values() for c in g.bounds[1::2]]
    stretch = 1 / math.cos(math.radians((min(lats) + max(lats)) / 2))
    crowded = len(placed) > 30
    inside, notes, (x0, x1, y0, y1) = _place_labels(placed, polys, stretch, crowded, points)
    if points:  # label on the marker trace itself, so Plotly sets it off by the marker's radius
        text = {id(p[0]): p[3] for p in inside}
        fig.add_trace(go.Scatter(
            x=[p[1] for p in placed], y=[p[2] for p in placed], mode="markers+text", showlegend=False,
            hoverinfo="skip", text=[text.get(id(p[0]), "") for p in placed], textposition="middle right",
            textfont=dict(size=10 if crowded else 13, color="#222"),
            marker=dict(size=22, color=[_rgb(maps.color_for(p[0]["value"], limits)) for p in placed],
                        line=dict(color="#333", width=1))))
    else:
        fig.add_trace(go.Scatter(
            x=[p[1] for p in inside], y=[p[2] for p in inside], text=[p[3] for p in inside], mode="text",
            showlegend=False, hoverinfo="skip", textposition="middle center", textfont=dict(
                size=10 if crowded else 13, color=[_ink(maps.color_for(p[0]["value"], limits)) for p in inside])))
    for color, label in maps.legend(rows, fmt_value or _default_fmt(rows)):
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=label, showlegend=True,
                                 marker=dict(symbol="square", size=16, color=color, line=dict(color="#999", width=1))))
    fig.update_layout(
        height=520, template=charts.TEMPLATE, showlegend=True, plot_bgcolor="white", paper_bgcolor="white",
        font=dict(family=charts.FONT, size=14, color="#222"), margin=dict(l=10, r=10, t=10, b=10),
        legend=dict(orientation="v", x=1.0, xanchor="left", y=1, yanchor="top"), annotations=notes)
    fig.update_xaxes(visible=False, constrain="domain", range=[x0, x1])
    # a degree of latitude is 1/cos(lat) times longer on the page than a degree of longitude
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=stretch, constrain="domain",
                     range=[y0, y1])
    return fig
