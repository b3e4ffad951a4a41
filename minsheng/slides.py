"""导出汇报材料: a 16:9 PPTX of a page — title slide, one slide per chart, KPI group or table, sources.

Every slide but the title carries a footer with its provenance (region, period, source, data date,
演示数据 where it applies), so one slide pulled into another deck still says where it is from.
Tables are set at a size a meeting room reads (14 pt) and run over as many slides as they need.

PowerPoint and WPS never run slide text, but a table copied from a slide into a spreadsheet arrives
cell by cell and a cell such as "=HYPERLINK(…)" would become a formula there: table cells go through
`safe_cells.text` like every file's cells (numbers as text, "-3.5" or "+4.0%", stay as they are).
Titles and cards are prose, shown as written.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass

from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.shapes import MSO_SHAPE
from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
from pptx.oxml.ns import qn
from pptx.util import Emu, Inches, Pt

from minsheng import charts, fmt, i18n, safe_cells

SLIDE_W, SLIDE_H = Inches(13.333), Inches(7.5)
MARGIN = Inches(0.5)
TITLE_TOP, TITLE_H = Inches(0.3), Inches(0.8)
BODY_TOP = Inches(1.25)
FOOTER_H = Inches(0.55)                       # the provenance line(s) at the foot of every content slide
BODY_BOTTOM = SLIDE_H - FOOTER_H - Inches(0.1)
FONT = "Microsoft YaHei"  # present on every Windows office machine; WPS maps it too
TABLE_PT = 14           # table text: readable from the back of a meeting room on a 16:9 screen
FOOTER_PT = 11
CARDS_PER_SLIDE = 12
ACCENT = charts.PALETTE[0]
DEMO_COLOR = "D55E00"


@dataclass
class Chart:
    title: str
    png: bytes
    note: str = ""
    source: str = ""  # this slide's source where it has its own (one indicator's chart); else the deck's
    period: str = ""  # the period it shows where that is not the deck's (a chart from the first year reported)


@dataclass
class KpiGroup:
    title: str
    items: list[tuple[str, str, str]]  # (label, value with unit, change text e.g. "同比 +4.0%")
    source: str = ""
    period: str = ""


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]]
    highlight: dict[int, str] | None = None  # row index → hex fill (e.g. status colours)
    source: str = ""
    period: str = ""


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


def _titled(prs, title: str, origin: str):
    """A slide from the 'Title Only' layout, its title placeholder moved to the 16:9 grid: the
    placeholder (not a loose text box) so the title shows in the outline and stays editable as a title.
    `origin`: the provenance line at its foot."""
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
    _footer(slide, origin)
    return slide


def _footer(slide, origin: str) -> None:
    """The provenance at the slide's foot, above a hairline; 演示数据 in the warning colour."""
    top = SLIDE_H - FOOTER_H
    line = slide.shapes.add_connector(1, MARGIN, top, SLIDE_W - MARGIN, top)
    line.line.color.rgb = _rgb("D0D5DB")
    box = slide.shapes.add_textbox(MARGIN, top + Inches(0.04), SLIDE_W - 2 * MARGIN, FOOTER_H - Inches(0.08))
    box.name = "provenance"
    frame = box.text_frame
    frame.word_wrap = True
    frame.vertical_anchor = MSO_ANCHOR.MIDDLE
    frame.margin_top = frame.margin_bottom = 0
    p = frame.paragraphs[0]
    for i, part in enumerate(origin.split(" · ")):
        run = p.add_run()
        run.text = ("" if i == 0 else " · ") + part
        demo = part.startswith(("演示数据", "Demo data"))
        _style(run, FOOTER_PT, demo, DEMO_COLOR if demo else "555555")


def _png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])


def _chart(prs, part: Chart, origin: str) -> None:
    slide = _titled(prs, part.title, origin)
    note_h = Inches(0.45) if part.note else 0
    box_w, box_h = SLIDE_W - 2 * MARGIN, BODY_BOTTOM - BODY_TOP - note_h
    w, h = _png_size(part.png)
    scale = min(box_w / w, box_h / h)
    pw, ph = int(w * scale), int(h * scale)
    slide.shapes.add_picture(io.BytesIO(part.png), int((SLIDE_W - pw) / 2), BODY_TOP, Emu(pw), Emu(ph))
    if part.note:
        _textbox(slide, MARGIN, BODY_TOP + ph + Inches(0.05), box_w, note_h, [(part.note, 12, False, "555555")])


def _em(text: str) -> float:
    """Width in ems, on the wide side: CJK square; Latin, digits and signs about 0.62 (YaHei's are
    narrower, but a machine without it substitutes wider ones, and office suites space CJK from Latin)."""
    wide = [ord(c) >= 0x2E80 for c in text]
    switches = sum(1 for a, b in zip(wide, wide[1:]) if a != b)  # 2024年1月: a gap at each change of script
    return sum(1.0 if w else 0.62 for w in wide) + 0.2 * switches


def _kpis(prs, part: KpiGroup, origin: str, more: str = "（续）") -> None:
    chunks = [part.items[i:i + CARDS_PER_SLIDE] for i in range(0, len(part.items), CARDS_PER_SLIDE)] or [[]]
    for n, items in enumerate(chunks):
        slide = _titled(prs, part.title + (more if n else ""), origin)
        cols = len(items) if len(items) <= 4 else 3 if len(items) in (5, 6, 9) else 4
        rows = max(1, math.ceil(len(items) / max(cols, 1)))
        gap = Inches(0.25)
        area_w, area_h = SLIDE_W - 2 * MARGIN, BODY_BOTTOM - BODY_TOP
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
            value_pt = max(18, min(36, 0.8 * Emu(cw - Inches(0.4)).pt / max(_em(value), 1)))
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


# 1,200 人, 93.8%, +4.0, -0.3 个百分点 read as numbers; a period (2023年3月, 2021—2023年) does not
NUMERIC = re.compile(r"^[+\-−]?(\d|\.\d)")
PERIOD = re.compile(r"^\d{4}(年|\s?[—–-]\s?\d{4}|\s?Q\d)")


def _numeric_columns(part: Table) -> set[int]:
    """Columns of numbers (with their units), set right-aligned as figures are read down a column: those
    where at least three in four filled cells are numbers — a dash (no value) does not count, and a
    word among figures (每月还需 "已完成") stays in its column's alignment."""
    out = set()
    for j in range(len(part.columns)):
        cells = [str(r[j]).strip() for r in part.rows if str(r[j]).strip() not in ("", "—", "-")]
        numbers = sum(1 for c in cells if NUMERIC.match(c) and not PERIOD.match(c))
        if cells and numbers * 4 >= len(cells) * 3:
            out.add(j)
    return out


def _lines(text: str, width_pt: float, size: float) -> int:
    """How many lines `text` takes in a cell `width_pt` wide (a little pessimistic, so no row overflows)."""
    return max(1, math.ceil(_em(text) * size / max(width_pt, size)))


def _widths(part: Table, total: int, pad: int) -> list[int]:
    """Column widths: each column's longest text on one line where the slide has room for all; where it
    has not, the widest columns (task names) are cut to one common width and wrap, and every column
    narrower than that (status, figures) keeps its text on one line."""
    def need(text: str) -> float:
        return Pt(_em(text) * TABLE_PT) + 2 * pad + Pt(4)

    # a long header may take two lines
    natural = [max([need(str(r[j])) for r in part.rows] + [need(str(h)) / 2 if len(str(h)) > 4 else need(str(h))])
               for j, h in enumerate(part.columns)]
    if sum(natural) <= total:
        return [int(n + (total - sum(natural)) * n / sum(natural)) for n in natural]
    cap, rest, left = 0.0, float(total), len(natural)
    for n in sorted(natural):  # the widest width all columns over it can share
        if n * left > rest:
            cap = rest / left
            break
        rest, left = rest - n, left - 1
    return [int(min(n, cap)) for n in natural]


def _table(prs, part: Table, origin: str, more: str = "（续）") -> None:
    """A native table, as many rows a slide as fit at TABLE_PT (rows that wrap take more room), over
    as many slides as the rows need; numbers right-aligned, the header repeated on each slide."""
    width = SLIDE_W - 2 * MARGIN
    pad = Inches(0.08)
    line = Pt(TABLE_PT * 1.35)  # office suites set CJK lines at about 1.3 em
    right = _numeric_columns(part)
    col_w = _widths(part, width, pad)

    def height(cells) -> int:
        return max(_lines(str(c), Emu(w - 2 * pad).pt, TABLE_PT) for c, w in zip(cells, col_w)) * line + Inches(0.12)

    head_h = height(part.columns)
    room = (BODY_BOTTOM - BODY_TOP - head_h) * 0.95  # a margin for renderers that set rows a little taller
    chunks, cur, used = [], [], 0
    for k, row in enumerate(part.rows):
        h = height(row)
        if cur and used + h > room:
            chunks.append(cur)
            cur, used = [], 0
        cur.append((k, h))
        used += h
    chunks.append(cur)
    for n, idx in enumerate(chunks):
        slide = _titled(prs, part.title + (more if n else ""), origin)
        shape = slide.shapes.add_table(len(idx) + 1, len(part.columns), MARGIN, BODY_TOP, width,
                                       head_h + sum(h for _, h in idx))
        table = shape.table
        table.first_row = True
        for j, w in enumerate(col_w):
            table.columns[j].width = w
        table.rows[0].height = head_h
        for j, h in enumerate(part.columns):
            cell = table.cell(0, j)
            _fill(cell, "1F3A5F")
            cell.margin_left = cell.margin_right = pad
            cell.vertical_anchor = MSO_ANCHOR.MIDDLE
            cell.text_frame.clear()
            _text(cell.text_frame, [(safe_cells.text(str(h)), TABLE_PT, True, "FFFFFF")], anchor=MSO_ANCHOR.MIDDLE,
                  align=PP_ALIGN.RIGHT if j in right else PP_ALIGN.LEFT)
        for i, (k, h) in enumerate(idx, start=1):
            table.rows[i].height = h
            fill = (part.highlight or {}).get(k) or ("FFFFFF" if i % 2 else "F2F4F7")
            for j, value in enumerate(part.rows[k]):
                cell = table.cell(i, j)
                _fill(cell, fill)
                cell.margin_top = cell.margin_bottom = Inches(0.04)
                cell.margin_left = cell.margin_right = pad
                cell.vertical_anchor = MSO_ANCHOR.MIDDLE
                cell.text_frame.clear()
                _text(cell.text_frame, [(safe_cells.text(str(value)), TABLE_PT, False, _contrast_ink(fill))],
                      anchor=MSO_ANCHOR.MIDDLE, align=PP_ALIGN.RIGHT if j in right else PP_ALIGN.LEFT)


def _title_slide(prs, title: str, subtitle: str, dated: str, demo: bool, lang: str) -> None:
    slide = prs.slides.add_slide(prs.slide_layouts[0])
    ph = slide.shapes.title
    ph.left, ph.top, ph.width, ph.height = Inches(1), Inches(2.1), SLIDE_W - Inches(2), Inches(1.6)
    ph.text_frame.clear()
    _text(ph.text_frame, [(title, 40, True, "111111")], anchor=MSO_ANCHOR.BOTTOM)
    sub = slide.placeholders[1]
    sub.left, sub.top, sub.width, sub.height = Inches(1), Inches(3.9), SLIDE_W - Inches(2), Inches(2)
    sub.text_frame.clear()
    made = i18n.t("生成日期：{date}", lang, date=fmt.date_label(dt.date.today(), lang))
    lines = [(subtitle, 22, False, "333333")] + ([(dated, 18, False, "333333")] if dated else [])
    lines.append((made, 16, False, "555555"))
    if demo:
        lines.append((i18n.t("演示数据：非官方统计，仅供演示", lang), 16, True, DEMO_COLOR))
    _text(sub.text_frame, lines)
    bar = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, Inches(1), Inches(3.78), Inches(2), Inches(0.08))
    bar.fill.solid()
    bar.fill.fore_color.rgb = _rgb(ACCENT)
    bar.line.fill.background()


def deck(title: str, subtitle: str, parts: list[Chart | KpiGroup | Table], sources: list[tuple[str, str]],
         demo: bool, origin: Callable[..., str], dated: str = "", lang: str = "zh") -> bytes:
    """The PPTX as bytes: every text native and editable, charts as the 3840×2160 images.
    `origin(source, period)` is a slide's provenance line for its source (a part's own, else every source
    of the deck) and its period (a part's own, else None: the deck's); `dated` the title slide's
    data-date line."""
    prs = Presentation()
    prs.slide_width, prs.slide_height = SLIDE_W, SLIDE_H
    prs.core_properties.title = title
    _title_slide(prs, title, subtitle, dated, demo, lang)
    every = "；".join(dict.fromkeys(name for name, _ in sources)) or "—"
    more = i18n.t("（续）", lang)
    for part in parts:
        foot = origin(part.source or every, part.period or None)
        if isinstance(part, Chart):
            _chart(prs, part, foot)
        else:
            {KpiGroup: _kpis, Table: _table}[type(part)](prs, part, foot, more)
    rows = [[name, date] for name, date in dict.fromkeys(sources)] or [["—", "—"]]
    _table(prs, Table(i18n.t("数据来源与数据日期", lang), [i18n.t("数据来源", lang), i18n.t("数据日期", lang)], rows),
           origin(every, None), more)
    if demo:
        _textbox(prs.slides[-1], MARGIN, BODY_BOTTOM - Inches(0.5), SLIDE_W - 2 * MARGIN, Inches(0.4),
                 [(i18n.t("演示数据：围绕公开报道数字生成，非官方统计。", lang), 14, True, DEMO_COLOR)])
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
