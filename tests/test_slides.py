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


def origin(source: str, period: str | None = None) -> str:
    return f"区域：株洲市 · 时期：{period or '2026年'} · 来源：{source} · 数据日期：2026年10月31日"


def build(demo: bool = True) -> bytes:
    return slides.deck("株洲市民生指标汇报", "株洲市 · 2026年 · 截至10月",
                       [slides.Chart("城乡居民基本医疗保险参保人数", tiny_png(), "注：2026年为截至10月数据",
                                     source="株洲市医疗保障局"), KPIS, TABLE],
                       SOURCES, demo, origin=origin, dated="数据日期：2026年10月31日")


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
    n = len(first.rows) - 1  # as many as fit at 14 pt above the footer; the rest on the next slide
    assert 10 <= n < 20 and len(second.rows) - 1 == 20 - n
    assert [c.text for c in first.rows[1].cells] == ROWS[0]
    assert [c.text for c in second.rows[len(second.rows) - 1].cells] == ROWS[19]
    for table, offset in ((first, 0), (second, n)):
        for i, row in enumerate(list(table.rows)[1:]):
            want = TABLE.highlight.get(i + offset)
            if want:
                assert all(str(c.fill.fore_color.rgb) == want.lstrip("#").upper() for c in row.cells)


def test_no_text_is_missing_and_fonts_are_set():
    data = build()
    prs = Presentation(io.BytesIO(data))
    text = all_text(prs)
    wanted = ["株洲市 · 2026年 · 截至10月", "数据日期：2026年10月31日", "生成日期", "演示数据", "注：2026年为截至10月数据",
              "260.98 万人", "96.5%"]
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


def test_every_slide_but_the_title_has_its_provenance_in_the_footer():
    """The chart names its own source; the other slides every source of the deck (issue 13, item 2)."""
    prs = Presentation(io.BytesIO(build()))
    feet = [[s.text_frame.text for s in slide.shapes if s.name == "provenance"] for slide in prs.slides]
    assert feet[0] == [] and all(len(f) == 1 for f in feet[1:])
    assert feet[1] == [origin("株洲市医疗保障局")]
    assert all(f == [origin("株洲市医疗保障局；株洲市民政局")] for f in feet[2:])
    for slide in list(prs.slides)[1:]:
        foot = next(s for s in slide.shapes if s.name == "provenance")
        assert foot.top + foot.height <= prs.slide_height
        assert all(s.top + s.height <= foot.top for s in slide.shapes if s.has_table or s.shape_type == 13)


def test_table_numbers_are_right_aligned_at_a_readable_size():
    from pptx.enum.text import PP_ALIGN
    from pptx.util import Pt

    prs = Presentation(io.BytesIO(build()))
    table = [s for s in prs.slides[3].shapes if s.has_table][0].table
    for row in list(table.rows)[1:]:
        align = [c.text_frame.paragraphs[0].alignment for c in row.cells]
        assert align[:3] == [PP_ALIGN.LEFT] * 3 and align[3:] == [PP_ALIGN.RIGHT] * 3  # 状态 部门 任务 | figures
    sizes = {r.font.size for row in table.rows for c in row.cells for p in c.text_frame.paragraphs for r in p.runs}
    assert min(sizes) >= Pt(14)


def test_a_long_task_name_wraps_and_its_row_takes_the_room():
    """A table too wide for one line a cell: the widest text column wraps, the figures do not."""
    long = [["严重滞后", "行政审批服务局", "农村适龄妇女“两癌”免费筛查及随访管理服务" * 2, "76,000 人", "100.0%"]] * 14
    data = slides.deck("t", "s", [slides.Table("表", ["状态", "部门", "任务", "目标值", "完成率"], long)], [], False,
                       origin=origin)
    prs = Presentation(io.BytesIO(data))
    tables = [s for slide in prs.slides for s in slide.shapes if s.has_table][:-1]  # not the sources table
    assert len(tables) >= 2 and sum(len(t.table.rows) - 1 for t in tables) == 14
    widths = [c.width for c in tables[0].table.columns]
    assert widths[2] == max(widths) and all(t.top + t.height <= prs.slide_height - slides.FOOTER_H for t in tables)
