"""导出汇报材料: the PPTX opens, is 16:9, has the expected slides, native titles, table and picture."""

from __future__ import annotations

import io
import struct
import zlib

from pptx import Presentation
from pptx.util import Inches

from minsheng import charts, slides


def tiny_png(w: int = 64, h: int = 36) -> bytes:
    """A valid PNG without Pillow or Chromium: slides only need the bytes and the header size."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\0" + bytes(c for x in range(w) for c in ((x * 4) % 256, 114, 178)) for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


KPIS = slides.KpiGroup("民政 · 关键指标", [("城乡低保标准", "625 元/月", "同比 +4.0%"),
                                          ("参保人数", slides.kpi_value(2609783, "人"), "同比 -0.3%"),
                                          ("参保率", slides.kpi_value(96.5, "%"), "同比 +0.4 个百分点")])
STATUSES = ["严重滞后", "滞后", "超序时", "已完成"]
ROWS = [[STATUSES[i % 4], "民政局", f"任务{i}", "1,200 人", "800 人", f"{60 + i:.1f}%"] for i in range(20)]
TABLE = slides.Table("滞后任务清单", ["状态", "部门", "任务", "目标", "完成", "完成率"], ROWS,
                     {i: charts.STATUS_COLORS[r[0]] for i, r in enumerate(ROWS) if r[0] in ("严重滞后", "滞后")})
SOURCES = [("株洲市医疗保障局", "2026年10月31日"), ("株洲市民政局", "2026年9月30日")]


def build(demo: bool = True) -> bytes:
    return slides.deck("株洲市民生指标汇报", "株洲市 · 2026年 · 截至10月",
                       [slides.Chart("城乡居民基本医疗保险参保人数", tiny_png(), "注：2026年为截至10月数据"), KPIS, TABLE],
                       SOURCES, demo)


def all_text(prs) -> str:
    out = []
    for slide in prs.slides:
        for s in slide.shapes:
            if s.has_text_frame:
                out.append(s.text_frame.text)
            if s.has_table:
                out += [c.text for row in s.table.rows for c in row.cells]
    return "\n".join(out)


def test_deck_opens_16_9_with_expected_slides_and_titles():
    data = build()
    prs = Presentation(io.BytesIO(data))
    assert (prs.slide_width, prs.slide_height) == (Inches(13.333), Inches(7.5))
    assert len(prs.slides) == 1 + 1 + 1 + 2 + 1
    assert slides.slide_titles(data) == ["株洲市民生指标汇报", "城乡居民基本医疗保险参保人数", "民政 · 关键指标",
                                         "滞后任务清单", "滞后任务清单（续）", "数据来源与数据日期"]
    assert all(s.shapes.title is not None for s in prs.slides)  # native title placeholders, editable


def test_chart_slide_has_the_picture():
    prs = Presentation(io.BytesIO(build()))
    pics = [s for s in prs.slides[1].shapes if s.shape_type == 13]
    assert len(pics) == 1 and pics[0].image.blob == tiny_png()
    assert pics[0].left + pics[0].width <= prs.slide_width and pics[0].top + pics[0].height <= prs.slide_height


def test_table_is_native_split_and_highlighted():
    prs = Presentation(io.BytesIO(build()))
    first, second = ([s for s in prs.slides[i].shapes if s.has_table][0].table for i in (3, 4))
    assert [c.text for c in first.rows[0].cells] == TABLE.columns == [c.text for c in second.rows[0].cells]
    assert len(first.rows) == 1 + 15 and len(second.rows) == 1 + 5
    assert [c.text for c in first.rows[1].cells] == ROWS[0]
    assert [c.text for c in second.rows[5].cells] == ROWS[19]
    for table, offset in ((first, 0), (second, 15)):
        for i, row in enumerate(list(table.rows)[1:]):
            want = TABLE.highlight.get(i + offset)
            if want:
                assert all(str(c.fill.fore_color.rgb) == want.lstrip("#").upper() for c in row.cells)


def test_no_text_is_missing_and_fonts_are_set():
    data = build()
    prs = Presentation(io.BytesIO(data))
    text = all_text(prs)
    wanted = ["株洲市 · 2026年 · 截至10月", "生成日期", "演示数据", "注：2026年为截至10月数据", "260.98 万人", "96.5%"]
    wanted += [x for item in KPIS.items for x in item] + [x for r in ROWS for x in r] + [x for s in SOURCES for x in s]
    assert [w for w in wanted if w not in text] == []
    xml = "".join(s._element.xml for s in prs.slides)
    assert '<a:ea typeface="Microsoft YaHei"/>' in xml  # the East Asian font Office uses for Chinese


def test_not_demo_deck_has_no_demo_note():
    assert "演示数据" not in all_text(Presentation(io.BytesIO(build(demo=False))))


def test_kpi_value():
    assert slides.kpi_value(2609783, "人") == "260.98 万人"
    assert slides.kpi_value(98.5, "%") == "98.5%"
    assert slides.kpi_value(625, "元/月") == "625 元/月"
