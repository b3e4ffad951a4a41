"""导出汇报材料: a 16:9 PPTX of a page — title slide, one slide per chart, KPI group or table, sources.

PowerPoint and WPS never run slide text, but a table copied from a slide into a spreadsheet arrives
cell by cell and a cell such as "=HYPERLINK(…)" would become a formula there: table cells go through
`safe_cells.text` like every file's cells (numbers as text, "-3.5" or "+4.0%", stay as they are).
Titles and cards are prose, shown as written.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import struct
from dataclasses import dataclass

from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.shapes import MSO_SHAPE
from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
from pptx.oxml.ns import qn
from pptx.util import Emu, Inches, Pt

from minsheng import charts, fmt, safe_cells

SLIDE_W, SLIDE_H = Inches(13.333), Inches(7.5)
MARGIN = Inches(0.5)
TITLE_TOP, TITLE_H = Inches(0.3), Inches(0.8)
BODY_TOP = Inches(1.25)
FONT = "Microsoft YaHei"  # present on every Windows office machine; WPS maps it too
ROWS_PER_SLIDE = 15
CARDS_PER_SLIDE = 12
ACCENT = charts.PALETTE[0]
DEMO_COLOR = "D55E00"


@dataclass
class Chart:
    title: str
    png: bytes
    note: str = ""


@dataclass
class KpiGroup:
    title: str
    items: list[tuple[str, str, str]]  # (label, value with unit, change text e.g. "同比 +4.0%")


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]]
    highlight: dict[int, str] | None = None  # row index → hex fill (e.g. status colours)


def kpi_value(value, unit: str | None, decimals: int | None = None) -> str:
    """A card's big number in report style: 2609783 人 → '260.98 万人', 98.5 % → '98.5%'; `decimals`:
    the indicator's precision for a value not written in 万/亿."""
    number, unit = fmt.human_number(value, unit, decimals)
    return f"{number}%" if unit == "%" else f"{number} {unit}".strip()


def _rgb(hex_: str) -> RGBColor:
    return RGBColor.from_string(hex_.lstrip("#").upper())


def _style(run, size: float, bold: bool = False, color: str = "222222") -> None:
    f = run.font
    f.size, f.bold = Pt(size), bold
    f.color.rgb = _rgb(color)
    f.name = FONT  # a:latin
    # a:latin only covers Latin text: PowerPoint and WPS pick the font for Chinese characters from
    # a:ea, and without it fall back to the theme's East Asian font (often 等线/宋体, or none on a Mac)
    rPr = run._r.get_or_add_rPr()
    ea = rPr.find(qn("a:ea"))
    if ea is None:
        ea = rPr.makeelement(qn("a:ea"), {})
        rPr.find(qn("a:latin")).addnext(ea)
    ea.set("typeface", FONT)


def _text(frame, lines: list[tuple[str, float, bool, str]], align=PP_ALIGN.LEFT, anchor=MSO_ANCHOR.TOP) -> None:
    """Fill a text frame with (text, size, bold, colour) paragraphs."""
    frame.word_wrap = True
    frame.vertical_anchor = anchor
    for i, (text, size, bold, color) in enumerate(lines):
        p = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        p.alignment = align
        run = p.add_run()
        run.text = text
        _style(run, size, bold, color)


def _textbox(slide, left, top, width, height, lines, **kw):
    box = slide.shapes.add_textbox(left, top, width, height)
    _text(box.text_frame, lines, **kw)
    return box


def _titled(prs, title: str):
    """A slide from the 'Title Only' layout, its title placeholder moved to the 16:9 grid: the
    placeholder (not a loose text box) so the title shows in the outline and stays editable as a title."""
    slide = prs.slides.add_slide(prs.slide_layouts[5])
    ph = slide.shapes.title
    ph.left, ph.top, ph.width, ph.height = MARGIN, TITLE_TOP, SLIDE_W - 2 * MARGIN, TITLE_H
    ph.text_frame.clear()
    _text(ph.text_frame, [(title, 28, True, "111111")], anchor=MSO_ANCHOR.MIDDLE)
    bar = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, MARGIN, TITLE_TOP + TITLE_H + Inches(0.05),
                                 Inches(1.2), Inches(0.06))
    bar.fill.solid()
    bar.fill.fore_color.rgb = _rgb(ACCENT)
    bar.line.fill.background()
    return slide


def _png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])


def _chart(prs, part: Chart) -> None:
    slide = _titled(prs, part.title)
    note_h = Inches(0.45) if part.note else 0
    box_w, box_h = SLIDE_W - 2 * MARGIN, SLIDE_H - BODY_TOP - Inches(0.3) - note_h
    w, h = _png_size(part.png)
    scale = min(box_w / w, box_h / h)
    pw, ph = int(w * scale), int(h * scale)
    slide.shapes.add_picture(io.BytesIO(part.png), int((SLIDE_W - pw) / 2), BODY_TOP, Emu(pw), Emu(ph))
    if part.note:
        _textbox(slide, MARGIN, BODY_TOP + ph + Inches(0.05), box_w, note_h, [(part.note, 12, False, "555555")])


def _em(text: str) -> float:
    return sum(1.0 if ord(c) >= 0x2E80 else 0.55 for c in text)


def _kpis(prs, part: KpiGroup) -> None:
    chunks = [part.items[i:i + CARDS_PER_SLIDE] for i in range(0, len(part.items), CARDS_PER_SLIDE)] or [[]]
    for n, items in enumerate(chunks):
        slide = _titled(prs, part.title + ("（续）" if n else ""))
        cols = len(items) if len(items) <= 4 else 3 if len(items) in (5, 6, 9) else 4
        rows = max(1, math.ceil(len(items) / max(cols, 1)))
        gap = Inches(0.25)
        area_w, area_h = SLIDE_W - 2 * MARGIN, SLIDE_H - BODY_TOP - Inches(0.4)
        cw = int((area_w - gap * (cols - 1)) / max(cols, 1))
        ch = min(int((area_h - gap * (rows - 1)) / rows), Inches(2.2))
        for i, (label, value, change) in enumerate(items):
            left = MARGIN + (i % cols) * (cw + gap)
            top = BODY_TOP + (i // cols) * (ch + gap)
            card = slide.shapes.add_shape(MSO_SHAPE.ROUNDED_RECTANGLE, left, top, cw, ch)
            card.adjustments[0] = 0.06
            card.fill.solid()
            card.fill.fore_color.rgb = _rgb("F4F6F8")
            card.line.color.rgb = _rgb("D0D5DB")
            tf = card.text_frame
            tf.margin_left = tf.margin_right = Inches(0.2)
            # the value shrinks for long texts ("1,234.5 万元"), so it stays on one line in the card
            value_pt = max(18, min(36, 0.85 * Emu(cw - Inches(0.4)).pt / max(_em(value), 1)))
            _text(tf, [(label, 15, False, "444444"), (value, value_pt, True, "111111"),
                       (change, 13, False, "555555")], anchor=MSO_ANCHOR.MIDDLE)


def _contrast_ink(hex_: str) -> str:
    """Black or white text, whichever reads better on the fill (WCAG relative luminance)."""
    def lin(c):
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hex_.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
    lum = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
    return "FFFFFF" if (1.05 / (lum + 0.05)) > ((lum + 0.05) / 0.05) else "111111"


def _fill(cell, hex_: str) -> None:
    cell.fill.solid()
    cell.fill.fore_color.rgb = _rgb(hex_)


def _table(prs, part: Table) -> None:
    # columns as wide as their longest text (within limits), so fewer cells wrap and rows stay one line
    weights = [min(max(_em(str(c)) for c in [h] + [r[j] for r in part.rows]), 16) + 1.5
               for j, h in enumerate(part.columns)]
    width = SLIDE_W - 2 * MARGIN
    chunks = [range(i, min(i + ROWS_PER_SLIDE, len(part.rows))) for i in range(0, len(part.rows), ROWS_PER_SLIDE)]
    for n, idx in enumerate(chunks or [range(0)]):
        slide = _titled(prs, part.title + ("（续）" if n else ""))
        row_h = Inches(0.34)
        shape = slide.shapes.add_table(len(idx) + 1, len(part.columns), MARGIN, BODY_TOP, width,
                                       row_h * (len(idx) + 1))
        table = shape.table
        table.first_row = True
        for j, w in enumerate(weights):
            table.columns[j].width = int(width * w / sum(weights))
        for j, h in enumerate(part.columns):
            cell = table.cell(0, j)
            _fill(cell, "1F3A5F")
            cell.text_frame.clear()
            _text(cell.text_frame, [(safe_cells.text(str(h)), 12, True, "FFFFFF")], anchor=MSO_ANCHOR.MIDDLE)
        for i, k in enumerate(idx, start=1):
            table.rows[i].height = row_h
            fill = (part.highlight or {}).get(k) or ("FFFFFF" if i % 2 else "F2F4F7")
            for j, value in enumerate(part.rows[k]):
                cell = table.cell(i, j)
                _fill(cell, fill)
                cell.margin_top = cell.margin_bottom = Inches(0.03)
                cell.text_frame.clear()
                _text(cell.text_frame, [(safe_cells.text(str(value)), 11, False, _contrast_ink(fill))],
                      anchor=MSO_ANCHOR.MIDDLE)
        table.rows[0].height = row_h


def _title_slide(prs, title: str, subtitle: str, demo: bool) -> None:
    slide = prs.slides.add_slide(prs.slide_layouts[0])
    ph = slide.shapes.title
    ph.left, ph.top, ph.width, ph.height = Inches(1), Inches(2.3), SLIDE_W - Inches(2), Inches(1.4)
    ph.text_frame.clear()
    _text(ph.text_frame, [(title, 40, True, "111111")], anchor=MSO_ANCHOR.BOTTOM)
    sub = slide.placeholders[1]
    sub.left, sub.top, sub.width, sub.height = Inches(1), Inches(3.9), SLIDE_W - Inches(2), Inches(1.6)
    sub.text_frame.clear()
    lines = [(subtitle, 22, False, "333333"), (f"生成日期：{fmt.date_label(dt.date.today())}", 16, False, "555555")]
    if demo:
        lines.append(("演示数据：非官方统计，仅供演示", 16, True, DEMO_COLOR))
    _text(sub.text_frame, lines)
    bar = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, Inches(1), Inches(3.78), Inches(2), Inches(0.08))
    bar.fill.solid()
    bar.fill.fore_color.rgb = _rgb(ACCENT)
    bar.line.fill.background()


def deck(title: str, subtitle: str, parts: list[Chart | KpiGroup | Table], sources: list[tuple[str, str]],
         demo: bool) -> bytes:
    """The PPTX as bytes: every text native and editable, charts as the 3840×2160 images."""
    prs = Presentation()
    prs.slide_width, prs.slide_height = SLIDE_W, SLIDE_H
    prs.core_properties.title = title
    _title_slide(prs, title, subtitle, demo)
    for part in parts:
        {Chart: _chart, KpiGroup: _kpis, Table: _table}[type(part)](prs, part)
    rows = [[name, date] for name, date in dict.fromkeys(sources)] or [["—", "—"]]
    _table(prs, Table("数据来源与数据日期", ["数据来源", "数据日期"], rows))
    if demo:
        _textbox(prs.slides[-1], MARGIN, SLIDE_H - Inches(0.8), SLIDE_W - 2 * MARGIN, Inches(0.4),
                 [("演示数据：围绕公开报道数字生成，非官方统计。", 12, True, DEMO_COLOR)])
    out = io.BytesIO()
    prs.save(out)
    return out.getvalue()


def slide_titles(pptx: bytes) -> list[str]:
    """Each slide's title: the title placeholder's text (every slide deck() makes has one)."""
    prs = Presentation(io.BytesIO(pptx))
    out = []
    for slide in prs.slides:
        shape = slide.shapes.title
        if shape is None:
            shape = next((s for s in slide.shapes if s.has_text_frame and s.text_frame.text.strip()), None)
        out.append(shape.text_frame.text if shape is not None else "")
    return out
