"""Chart and map images for slides: size, not blank, texts baked in, SVG twin, warm renderer, 万/亿 units."""

from __future__ import annotations

import io
import re
import struct
import time
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from minsheng import charts, fmt, images, maps

pytestmark = pytest.mark.skipif(not Path("/usr/bin/chromium").exists(),
                                reason="kaleido renders with Chromium; /usr/bin/chromium is not installed")

NAMES = {"430200000000": "株洲市", "430202000000": "荷塘区", "430203000000": "芦淞区"}
PROV = images.Provenance("城乡居民基本医疗保险参保人数", "株洲市及下级区划 · 2019–2026年 · 年末/最新值", "人",
                         "株洲市医疗保障局", "2026年10月31日", True)


def trend_figure():
    rows = [dict(period=p, region_code=code, value=(2_609_783 if i == 0 else 450_000 + 40_000 * i) * (1 + 0.02 * j))
            for i, code in enumerate(NAMES) for j, p in enumerate(pd.date_range("2019-01-01", periods=8, freq="YS"))]
    ind = dict(name_zh=PROV.title, unit="人", kind="count", frequency="year")
    return charts.trend(pd.DataFrame(rows), ind, NAMES, "430200000000", "value", "株洲市 · 2019–2026年", "year")


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def distinct_colours(data: bytes) -> int:
    return len(Image.open(io.BytesIO(data)).convert("RGB").getcolors(maxcolors=1 << 24))


@pytest.fixture(scope="module")
def rendered():
    fig = trend_figure()
    before = fig.to_json()
    t0 = time.perf_counter()
    first = images.png(fig, PROV)
    t1 = time.perf_counter()
    second = images.png(fig, PROV)
    t2 = time.perf_counter()
    return dict(fig=fig, before=before, png=first, second=second, svg=images.svg(fig, PROV).decode("utf-8"),
                first_s=t1 - t0, second_s=t2 - t1)


def test_png_is_3840_by_2160_and_not_blank(rendered):
    assert png_size(rendered["png"]) == (3840, 2160)
    assert distinct_colours(rendered["png"]) > 50


def test_svg_twin_carries_the_texts(rendered):
    svg = rendered["svg"]
    assert re.search(r'<svg[^>]*width="1920"[^>]*height="1080"', svg)
    for text in (PROV.title, PROV.subtitle, "来源：株洲市医疗保障局", PROV.data_date, "演示数据", "单位：万人"):
        assert text in svg, text
    assert "Noto Sans CJK SC" in svg


def test_not_demo_has_no_demo_mark():
    svg = images.svg(trend_figure(), images.Provenance("标题", "株洲市", None, "来源甲", "2026年1月1日", False))
    assert "演示数据" not in svg.decode("utf-8") and "来源甲" in svg.decode("utf-8")


def test_export_leaves_the_input_alone(rendered):
    assert rendered["fig"].to_json() == rendered["before"]
    out = images.export_figure(rendered["fig"], PROV)
    assert (out.layout.width, out.layout.height) == (1920, 1080)
    assert max(max(t.y) for t in out.data if t.y is not None) < 1e3  # the axis is in 万人
    assert rendered["fig"].to_json() == rendered["before"]


def test_renderer_stays_warm(rendered):
    assert rendered["second_s"] < rendered["first_s"] or rendered["second_s"] < 1.0
    t0 = time.perf_counter()
    images.svg(rendered["fig"], PROV)
    assert time.perf_counter() - t0 < 1.0


def test_nothing_comes_from_a_cdn():
    page = images.page().generate_index()
    assert "http" not in page and "plotly.min.js" in page and "mathjax" not in page.lower()


def county_rows(coll: dict) -> list[dict]:
    vals = [96.1, 97.8, None, 95.9, 96.6, 97.5, 96.2, 96.3, 97.9]
    return [dict(code=f["properties"]["code"], name=f["properties"]["name"], value=v,
                 label="—" if v is None else f"{v:.1f}%", lon=f["properties"]["lon"], lat=f["properties"]["lat"])
            for f, v in zip(coll["features"], vals)]


def test_map_matches_the_interactive_colours(demo_dir):
    coll = maps.boundaries("county", demo_dir)
    rows = county_rows(coll)
    assert len(rows) == 9
    fig = images.map_figure(coll, rows, highlight=rows[0]["code"])
    filled = [t for t in fig.data if t.fill == "toself"]
    assert len(filled) >= 9
    limits = maps.breaks([r["value"] for r in rows])
    by_name = {r["name"]: r for r in rows}
    for t in filled:
        rgb = tuple(int(x) for x in re.findall(r"\d+", t.fillcolor))
        assert rgb == maps.color_for(by_name[t.name]["value"], limits)
    assert {t.name for t in fig.data if t.showlegend} >= {"无数据"}
    assert not fig.layout.geo.to_plotly_json() and all(t.type == "scatter" for t in fig.data)  # no geo base map
    data = images.png(fig, images.Provenance("城乡居民医保参保率", "株洲市 · 按区县 · 2025年", "%", "株洲市医疗保障局",
                                             "2026年10月31日", True))
    assert png_size(data) == (3840, 2160) and distinct_colours(data) > 50


def test_map_without_polygons_draws_points(demo_dir):
    rows = county_rows(maps.boundaries("county", demo_dir))
    fig = images.map_figure(None, rows)
    assert not any(t.fill == "toself" for t in fig.data)
    points = [t for t in fig.data if t.mode and "markers" in t.mode and len(t.x) == 9]
    assert len(points) == 1


def test_rings_fill_holes_and_multipolygons():
    square = [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]           # counter-clockwise
    hole = [[3, 3], [7, 3], [7, 7], [3, 7], [3, 3]]                  # also counter-clockwise, as files often are
    other = [[20, 0], [20, 5], [25, 5], [25, 0], [20, 0]]            # clockwise outer ring
    xs, ys = images._rings({"type": "MultiPolygon", "coordinates": [[square, hole], [other]]})
    rings, cur = [], []
    for x, y in zip(xs, ys):
        if x is None:
            rings.append(cur)
            cur = []
        else:
            cur.append((x, y))
    areas = [images._signed_area(r) for r in rings]
    # nonzero fill: outer rings one way, the hole the other way, so it stays empty
    assert len(rings) == 3 and areas[0] > 0 and areas[1] < 0 and areas[2] > 0


@pytest.mark.parametrize("value, unit, expected", [
    (2609783, "人", ("260.98", "万人")),
    (2.5e8, "元", ("2.50", "亿元")),
    (12345, "张", ("1.23", "万张")),
    (9999, "户", ("9,999", "户")),
    (625, "元/月", ("625", "元/月")),
    (98.5, "%", ("98.5", "%")),
    (2496.1, "万元", ("2,496.1", "万元")),
    (1.5, "个百分点", ("1.5", "个百分点")),
    (None, "人", ("—", "人")),
])
def test_human_number(value, unit, expected):
    assert fmt.human_number(value, unit) == expected


def test_the_map_legend_escapes_every_text_it_writes_as_html():
    """The legend is the one raw-HTML element the map draws: its title carries the indicator's unit and
    its chips the class labels, all escaped (views/map.py)."""
    rows = [dict(code="a", value=1.0), dict(code="b", value=5.0), dict(code="c", value=None)]
    html = maps.legend_html(rows, lambda v: f"<b>{v:g}</b>", "图例（<iframe srcdoc='x'>）：", "无<数据>")
    assert "<iframe" not in html and "<b>" not in html and "无<数据>" not in html
    assert "&lt;iframe srcdoc=&#x27;x&#x27;&gt;" in html and "&lt;b&gt;1&lt;/b&gt;" in html and "无&lt;数据&gt;" in html
