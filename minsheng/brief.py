"""工作专报: the monthly brief leaders read, written from the data as a Word document (and PDF on request).

What it holds, in the order of the seed report (屈原管理区打好重点民生保障仗工作专报): a red-headed title
with its issue number, the issuing office and date; 【部门动态】, a paragraph per department generated from
its tasks' figures — actual with unit, 完成率, ahead of or behind 序时进度, the pace still needed — and its
task notes (minsheng/notes.py); a native Word table of every task, lagging rows shaded; the chart of the
目标 page from the image pipeline; a closing line with the data date, the sources and 演示数据 where it
applies. Every sentence comes from a template a bureau can edit (settings/brief.toml in the data directory
over the shipped minsheng/defaults/brief.toml), not from code.

It is rendered as its recipient: the region is narrowed to the recipient's area (a county's brief holds only
that county, however it was asked for), and only approved data are read.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from minsheng import audit, auth, cycle, fmt, metrics, notes, repo, safe_cells, store
from minsheng.ingest import pipeline, scope
from minsheng.regions import Tree

DEFAULT = Path(__file__).resolve().parent / "defaults" / "brief.toml"
SETTINGS = Path("settings") / "brief.toml"  # a bureau's own template, inside the data directory
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF_TIMEOUT = 180  # seconds LibreOffice may take for one brief (its first start in a fresh profile is the slow part)

# the placeholders each template line may use (the values `_task_values` and `_head_values` fill)
_HEAD = {"地区", "简称", "期数", "年", "月", "日期", "编印单位", "数据日期", "来源"}
_TASK = {"任务", "完成", "目标", "完成率", "截至"}
_GAP = {"差距", "剩余月数", "每月还需"}
_NOTE = {"任务", "进展", "责任人"}
PLACEHOLDERS = {
    **{("layout", k): _HEAD for k in ("title", "issue", "departments_heading", "table_heading", "chart_heading",
                                      "closing", "demo_note")},
    ("layout", "issuer"): _HEAD - {"编印单位"},
    ("sentences", "department"): {"简称", "地区", "部门"}, ("sentences", "task"): _TASK,
    **{("sentences", k): _GAP for k in ("done", "ahead", "behind", "far_behind", "overdue")},
    ("sentences", "rate_reached"): _TASK, ("sentences", "rate_short"): _TASK, ("sentences", "no_data"): {"任务", "目标"},
    ("sentences", "joiner"): set(), ("sentences", "paragraph_end"): set(),
    ("sentences", "note"): _NOTE, ("sentences", "owner"): _NOTE,
}
SETTINGS_KEYS = {("layout", "start_month"): int, ("layout", "department_order"): list, ("layout", "title_font"): str,
                 ("layout", "body_font"): str, ("layout", "heading_font"): str, ("judge", "severe_gap"): (int, float)}
# Word and WPS substitute a font that is not installed by the alternative named in the font table
FALLBACK = {"方正小标宋简体": "宋体", "仿宋_GB2312": "仿宋", "楷体_GB2312": "楷体", "黑体": "SimHei"}
LAGGING_FILL = {"滞后": "FCE4D6", "严重滞后": "F8CBAD"}  # light orange, light red: print legibly in grey too
# the sentence that follows a task's figures, by its status
STANDING = {"已完成": "done", "超序时": "ahead", "滞后": "behind", "严重滞后": "far_behind", "到期未完成": "overdue"}
_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # not allowed in XML 1.0: never reach the .docx


class BriefError(store.StoreError):
    """A brief that cannot be made (the message is for the user, in Chinese)."""


# --- the template ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Template:
    lines: dict[tuple[str, str], object]
    where: str  # the file that set the lines a bureau changed, for messages

    def line(self, section: str, key: str) -> object:
        return self.lines[(section, key)]

    def fill(self, section: str, key: str, values: dict[str, str]) -> str:
        """A template line with its placeholders replaced by `values` (plain text in, plain text out)."""
        def one(m: re.Match) -> str:
            if m.group(0) in ("{{", "}}"):
                return m.group(0)[0]
            return values[m.group(1).strip()]
        return _FIELD.sub(one, str(self.line(section, key)))


def _read_toml(path: Path, label: str) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise BriefError(f"{label}：不是 UTF-8 编码的文本文件") from None
    except tomllib.TOMLDecodeError as e:
        raise BriefError(f"{label}：格式错误（{e}）") from None
    except OSError as e:
        raise BriefError(f"{label}：无法读取（{e.strerror or e}）") from None


def _check(raw: dict, label: str) -> dict[tuple[str, str], object]:
    """Each line of a template file, refused with its file, section and key where it is not one we know or
    uses a placeholder that line cannot fill."""
    known = set(PLACEHOLDERS) | set(SETTINGS_KEYS)
    out: dict[tuple[str, str], object] = {}
    for section, body in raw.items():
        if not isinstance(body, dict):
            raise BriefError(f"{label}：“{section}”应为一节（[{section}]），不是单独的值")
        for key, value in body.items():
            where = f"{label}：[{section}] {key}"
            if (section, key) not in known:
                raise BriefError(f"{where} 不是专报模板的设置项（可用的见默认模板 minsheng/defaults/brief.toml）")
            kind = SETTINGS_KEYS.get((section, key), str)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise BriefError(f"{where} 的值类型不对（应为{'数字' if kind is not str and kind is not list else '文字' if kind is str else '列表'}）")
            if (section, key) in PLACEHOLDERS:
                for m in _FIELD.finditer(value):
                    name = (m.group(1) or "").strip()
                    if m.group(0) not in ("{{", "}}") and name not in PLACEHOLDERS[(section, key)]:
                        allowed = "、".join(f"{{{p}}}" for p in sorted(PLACEHOLDERS[(section, key)])) or "无"
                        raise BriefError(f"{where} 中的占位符“{{{name}}}”不能用在这里（可用：{allowed}）")
                if _CONTROL.search(value):
                    raise BriefError(f"{where} 含有控制字符")
            out[(section, key)] = value
    return out


def template(directory: Path | None) -> Template:
    """The shipped template with the data directory's settings/brief.toml over it, checked line by line."""
    lines = _check(_read_toml(DEFAULT, "默认专报模板"), "默认专报模板")
    missing = (set(PLACEHOLDERS) | set(SETTINGS_KEYS)) - set(lines)
    if missing:  # the shipped file and this module disagree: a defect of ours, said plainly
        raise BriefError(f"默认专报模板缺少：{'、'.join(f'[{s}] {k}' for s, k in sorted(missing))}")
    where = "默认专报模板"
    own = directory / SETTINGS if directory is not None else None
    if own is not None and own.is_file():
        where = str(SETTINGS)
        lines |= _check(_read_toml(own, where), where)
    months = lines[("layout", "start_month")]
    if not 1 <= months <= 12:
        raise BriefError(f"{where}：[layout] start_month 应为 1–12，现为 {months}")
    if not 1 <= lines[("judge", "severe_gap")] <= 50:
        raise BriefError(f"{where}：[judge] severe_gap 应为 1–50 个百分点")
    return Template(lines, where)


# --- what the brief says -----------------------------------------------------------------------

@dataclass
class Section:
    department: str
    text: str                 # the generated paragraph
    notes: list[str] = field(default_factory=list)  # the month's progress notes, each a sentence


@dataclass
class Brief:
    region_code: str
    region_name: str
    year: int
    month: int
    issue: int
    head: dict[str, str]      # the values of the head placeholders
    title: str
    issue_line: str
    issuer: str
    sections: list[Section]
    goals: pd.DataFrame       # metrics.goal_table with unit, kind and decimals: the table and the chart
    closing: list[str]
    demo: bool
    narrowed_from: str | None = None  # the region asked for, where the recipient's area held only part of it


def _trim(text: str) -> str:
    """53.0 → 53, 2.50 → 2.5: a brief writes 完成率53%, as the seed does, not 53.0%."""
    return text.rstrip("0").rstrip(".") if "." in text else text


def _qty(value, unit: str, decimals: int, exact: bool = False) -> str:
    if value is None or pd.isna(value):
        return "—"
    shown = fmt.exact(value, decimals) if exact else fmt.number(value, decimals)
    return _trim(shown.replace(",", "")) + (unit or "")


def _pct(x) -> str:
    return "—" if x is None or pd.isna(x) else _trim(f"{100 * x:.1f}") + "%"


def _short(name: str, level: str) -> str:
    """区, 县 or 市: how a county's own bureaus are named in its brief (区人社局, 县民政局)."""
    if level == "city":
        return "市"
    for suffix in ("管理区", "新区", "区", "县", "市", "旗"):
        if name.endswith(suffix):
            return suffix[-1]
    return ""


def _clean(text) -> str:
    return _CONTROL.sub("", str(text if text is not None and not (isinstance(text, float) and pd.isna(text)) else ""))


def _task_values(r) -> dict[str, str]:
    dec = int(r.decimals)
    late = "" if pd.isna(r.reported_to) else f"（截至{int(r.reported_to)}月）"
    pace = "" if r.pace is None or pd.isna(r.pace) else _trim(fmt.pace(r.pace, r.kind, dec).replace(",", "")) + (r.unit or "")
    return {"任务": _clean(r.task), "完成": _qty(r.actual, r.unit, dec), "目标": _qty(r.target, r.unit, dec, exact=True),
            "完成率": _pct(r.completion), "截至": late,
            "差距": "" if pd.isna(r.gap) else _trim(f"{abs(100 * r.gap):.1f}"),
            "剩余月数": "" if pd.isna(r.months_left) else str(int(r.months_left)), "每月还需": pace}


def task_sentence(tpl: Template, r) -> str:
    """One task's sentence: its figures, then how it stands against 序时进度 and the pace still needed."""
    v = _task_values(r)
    if r.actual is None or pd.isna(r.actual):
        return tpl.fill("sentences", "no_data", v)
    if r.kind == "rate":
        return tpl.fill("sentences", "rate_reached" if r.status == "已完成" else "rate_short", v)
    after = r.status
    if after in ("滞后", "严重滞后") and (pd.isna(r.months_left) or int(r.months_left) == 0):
        after = "到期未完成"
    return tpl.fill("sentences", "task", v) + (tpl.fill("sentences", STANDING[after], v) if after in STANDING else "")


def _order(departments: list[str], preferred: list) -> list[str]:
    rank = {d: i for i, d in enumerate(preferred)}
    return sorted(dict.fromkeys(departments), key=lambda d: (rank.get(d, len(rank)), d))


def _region(tree: Tree, asked: str, area: str | None) -> tuple[str, str | None]:
    """The region the recipient's brief is about: the one asked for, narrowed to the recipient's area when
    the area lies inside it; refused when the two do not meet."""
    if asked not in tree:
        raise BriefError(f"区划代码“{asked}”不在区划表中")
    if area is None:
        return asked, None
    a = scope.Area(tree, area)
    if a.refusal:
        raise BriefError(a.refusal.replace("不能导入或回退", "不能生成专报"))
    if a.holds(asked):
        return asked, None
    if asked in tree.path(area):
        return area, asked
    raise BriefError(f"{tree.names.get(asked, asked)}不在您的管辖范围（{a.name}）内，不能生成它的专报")


def content(directory: Path, region_code: str, year: int, month: int, *, area: str | None,
            issue: int | None = None, today: dt.date | None = None) -> Brief:
    """Everything the brief says, for the recipient whose area is `area` (None: every region)."""
    if not 1 <= int(month) <= 12:
        raise BriefError(f"月份“{month}”应为 1–12")
    tpl = template(directory)
    tree = Tree(pipeline.table(directory, "regions"))
    region, narrowed = _region(tree, region_code, area)
    targets = repo.targets(region, int(year), directory, area)
    if targets.empty:
        raise BriefError(f"{tree.names[region]}在 {year} 年没有设定目标任务，无法生成专报")
    ind = repo.indicators(directory)
    kinds, freq = dict(zip(ind["id"], ind["kind"])), dict(zip(ind["id"], ind["frequency"]))
    actuals = repo.series(targets["indicator_id"].tolist(), [region], dt.date(int(year), 1, 1),
                          dt.date(int(year), int(month), 1), directory, area)
    gap = float(tpl.line("judge", "severe_gap")) / 100
    g = metrics.goal_table(targets, actuals, kinds, int(year), int(month), gap, freq)
    g = g.assign(unit=g["indicator_id"].map(dict(zip(ind["id"], ind["unit"]))).fillna(""),
                 kind=g["indicator_id"].map(kinds),
                 decimals=g["indicator_id"].map(dict(zip(ind["id"], ind["decimals"]))))
    seq = dict(zip(ind["id"], ind["seq"])) if "seq" in ind else {}
    order = {i: (seq.get(i, 0), n) for n, i in enumerate(targets["indicator_id"])}  # the catalogue's order
    depts = _order(g["department"].tolist(), tpl.line("layout", "department_order"))
    g = g.assign(_d=g["department"].map({d: i for i, d in enumerate(depts)}),
                 _t=g["indicator_id"].map(order)).sort_values(["_d", "_t"], kind="stable")
    g = g.drop(columns=["_d", "_t"]).reset_index(drop=True)
    meta = repo.meta(directory)
    name, level = tree.names[region], tree.levels.get(region, "county")
    first = int(tpl.line("layout", "start_month"))
    number = int(issue) if issue is not None else (int(month) - first + 1 if int(month) >= first else int(month))
    day = today or cycle.clock().date()
    sources = "；".join(fmt.sources(g["source"])) or "—"
    # the data the brief speaks of end with its month, whatever later months the store also holds
    dated = min(pd.Timestamp(meta["data_date"]).date(), metrics.month_end(int(year), int(month))) \
        if meta.get("data_date") else metrics.month_end(int(year), int(month))
    head = {"地区": _clean(name), "简称": _short(name, level), "期数": str(number), "年": str(year), "月": str(month),
            "日期": fmt.date_label(day), "数据日期": fmt.date_label(dated), "来源": _clean(sources)}
    head["编印单位"] = tpl.fill("layout", "issuer", head)
    sections = _sections(tpl, g, notes.of_month(directory, region, int(year), int(month)), head)
    closing = [tpl.fill("layout", "closing", head)] + ([tpl.fill("layout", "demo_note", head)] if meta.get("demo") else [])
    return Brief(region, name, int(year), int(month), number, head, tpl.fill("layout", "title", head),
                 tpl.fill("layout", "issue", head), head["编印单位"], sections, g, closing, bool(meta.get("demo")),
                 narrowed)


def _sections(tpl: Template, g: pd.DataFrame, month_notes: pd.DataFrame, head: dict) -> list[Section]:
    """A paragraph per department: its tasks' sentences joined, then its tasks' notes of the month."""
    out = []
    by_task = {(r.indicator_id): r for r in month_notes.itertuples()}
    for dept, rows in g.groupby("department", sort=False):
        start = tpl.fill("sentences", "department", {**head, "部门": _clean(dept)})
        body = tpl.fill("sentences", "joiner", {}).join(task_sentence(tpl, r) for r in rows.itertuples())
        said = []
        for r in rows.itertuples():
            n = by_task.get(r.indicator_id)
            if n is None:
                continue
            v = {"任务": _clean(r.task), "进展": _clean(n.progress), "责任人": _clean(n.owner or "")}
            said.append(tpl.fill("sentences", "note", v) + (tpl.fill("sentences", "owner", v) if n.owner else ""))
        out.append(Section(str(dept), start + body + tpl.fill("sentences", "paragraph_end", {}), said))
    return out


TABLE_HEAD = ("序号", "部门", "任务", "目标", "完成", "完成率", "序时进度", "状态", "每月还需")


def table_rows(b: Brief) -> list[list[str]]:
    """The task table's cells as the document writes them (precision of the 目标 page, units in the cells)."""
    rows = []
    for i, r in enumerate(b.goals.itertuples(), 1):
        v = _task_values(r)
        pace = "已完成" if r.pace == 0 else (v["每月还需"] or "—")
        rows.append([str(i), _clean(r.department), v["任务"], v["目标"], v["完成"] + v["截至"],
                     fmt.percent(r.completion), fmt.percent(r.elapsed),
                     r.status if isinstance(r.status, str) else "无数据", pace])
    return rows


# --- the Word document -------------------------------------------------------------------------

def _fonts(el, east: str, latin: str = "Times New Roman") -> None:
    """Chinese text in `east`, digits and Latin letters in `latin` (as 公文 set them)."""
    from docx.oxml.ns import qn

    rpr = el.get_or_add_rPr()
    rfonts = rpr.get_or_add_rFonts()
    for attr, name in (("w:eastAsia", east), ("w:ascii", latin), ("w:hAnsi", latin)):
        rfonts.set(qn(attr), name)


def _run(paragraph, text: str, size: float, font: str, *, bold: bool = False, color: str | None = None):
    from docx.shared import Pt, RGBColor

    run = paragraph.add_run(text)
    run.font.size = Pt(size)
    run.font.bold = bold
    if color:
        run.font.color.rgb = RGBColor.from_string(color)
    _fonts(run._r, font)
    return run


def _spacing(paragraph, *, line: float = 28.95, before: float = 0, after: float = 0, indent: float | None = None,
             align=None) -> None:
    from docx.enum.text import WD_LINE_SPACING
    from docx.shared import Pt

    pf = paragraph.paragraph_format
    pf.line_spacing_rule, pf.line_spacing = WD_LINE_SPACING.EXACTLY, Pt(line)
    pf.space_before, pf.space_after = Pt(before), Pt(after)
    if indent is not None:
        pf.first_line_indent = Pt(indent)
    if align is not None:
        paragraph.alignment = align


def _shade(cell, fill: str) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    cell._tc.get_or_add_tcPr().append(shd)


def _red_rule(paragraph) -> None:
    """The red line under a 简报's head (a bottom border of the paragraph)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    border = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for k, v in (("w:val", "single"), ("w:sz", "18"), ("w:space", "6"), ("w:color", "C00000")):
        bottom.set(qn(k), v)
    border.append(bottom)
    paragraph._p.get_or_add_pPr().append(border)


def _page_number(section) -> None:
    """— 1 — centred in the footer, as 公文 number their pages."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    p = section.footer.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(p, "— ", 14, "宋体")
    fld = OxmlElement("w:fldSimple")
    fld.set(qn("w:instr"), "PAGE")
    r = OxmlElement("w:r")
    t = OxmlElement("w:t")
    t.text = "1"
    r.append(t)
    fld.append(r)
    p._p.append(fld)
    _run(p, " —", 14, "宋体")


def _font_table(doc, names: list[str]) -> None:
    """Declare each 公文 font with the font Word and WPS put in its place where it is not installed."""
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    part = next((p for p in doc.part.package.iter_parts() if str(p.partname) == "/word/fontTable.xml"), None)
    if part is None:
        return
    root = parse_xml(part.blob)
    for name in names:
        alt = FALLBACK.get(name)
        if not alt:
            continue
        root.append(parse_xml(f'<w:font {nsdecls("w")} w:name="{name}"><w:altName w:val="{alt}"/>'
                              '<w:charset w:val="86"/><w:family w:val="roman"/><w:pitch w:val="variable"/></w:font>'))
    from lxml import etree

    part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def document(b: Brief, tpl: Template, chart_png: bytes | None = None) -> bytes:
    """The brief as a .docx: A4 with the margins of GB/T 9704, 三号仿宋 body, 小标宋 title, 黑体 headings."""
    from docx import Document
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    title_font, body_font, head_font = (str(tpl.line("layout", k)) for k in ("title_font", "body_font", "heading_font"))
    doc = Document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Cm(21), Cm(29.7)
    sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin = Cm(3.7), Cm(3.5), Cm(2.8), Cm(2.6)
    normal = doc.styles["Normal"]
    normal.font.size = Pt(16)
    _fonts(normal.element, body_font)
    _font_table(doc, [title_font, body_font, head_font, "楷体_GB2312"])
    doc.core_properties.title = b.title + b.issue_line
    doc.core_properties.author = b.issuer
    doc.core_properties.comments = "民生指标看板生成" + ("（演示数据）" if b.demo else "")
    CENTER, JUSTIFY = WD_ALIGN_PARAGRAPH.CENTER, WD_ALIGN_PARAGRAPH.JUSTIFY

    p = doc.paragraphs[0] if doc.paragraphs else doc.add_paragraph()
    _spacing(p, line=40, before=12, align=CENTER)
    _run(p, b.title, 26, title_font, color="C00000")
    p = doc.add_paragraph()
    _spacing(p, line=28, before=6, align=CENTER)
    _run(p, b.issue_line, 16, body_font)
    p = doc.add_paragraph()
    _spacing(p, line=28, after=12)
    _run(p, b.issuer, 14, body_font)
    _run(p, "\t" + b.head["日期"], 14, body_font)
    p.paragraph_format.tab_stops.add_tab_stop(Cm(15.6), alignment=2)  # the date flush right
    _red_rule(p)
    if b.demo:
        p = doc.add_paragraph()
        _spacing(p, line=24, align=CENTER)
        _run(p, "演示数据", 12, head_font, color="C00000")

    def heading(text: str) -> None:
        h = doc.add_paragraph()
        _spacing(h, before=12, after=6)
        h.paragraph_format.keep_with_next = True  # never a heading alone at the foot of a page
        _run(h, text, 16, head_font)

    heading(tpl.fill("layout", "departments_heading", b.head))
    for s in b.sections:
        p = doc.add_paragraph()
        _spacing(p, indent=32, align=JUSTIFY)
        _run(p, s.text, 16, body_font)
        for said in s.notes:
            p = doc.add_paragraph()
            _spacing(p, indent=32, align=JUSTIFY)
            _run(p, said, 16, body_font)

    heading(tpl.fill("layout", "table_heading", b.head))
    rows = table_rows(b)
    table = doc.add_table(rows=1 + len(rows), cols=len(TABLE_HEAD))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    # 15.6 cm, the text block's width; at 9 pt the figure columns hold 3401 人次, 100.0% and 严重滞后 on one line
    widths = [Cm(w) for w in (0.8, 1.6, 2.6, 1.9, 1.9, 1.6, 1.6, 1.7, 1.9)]
    table.autofit = False
    for col, w in zip(table.columns, widths):  # the grid, which LibreOffice and WPS go by, and each cell
        col.width = w
    for i, text in enumerate(TABLE_HEAD):
        cell = table.rows[0].cells[i]
        cell.width = widths[i]
        _shade(cell, "D9D9D9")
        cp = cell.paragraphs[0]
        _spacing(cp, line=14, align=CENTER)
        _run(cp, text, 9, head_font)
    header = table.rows[0]._tr.get_or_add_trPr()
    repeat = OxmlElement("w:tblHeader")  # the header row again on every page the table runs over
    repeat.set(qn("w:val"), "true")
    header.append(repeat)
    for n, (cells, status) in enumerate(zip(rows, b.goals["status"]), 1):
        whole = OxmlElement("w:cantSplit")  # a task's row stays on one page: half a task name reads as two
        whole.set(qn("w:val"), "true")
        table.rows[n]._tr.get_or_add_trPr().append(whole)
        for i, text in enumerate(cells):
            cell = table.rows[n].cells[i]
            cell.width = widths[i]
            if status in LAGGING_FILL:
                _shade(cell, LAGGING_FILL[status])
            cp = cell.paragraphs[0]
            _spacing(cp, line=14, align=CENTER if i != 2 else None)
            _run(cp, text, 9, body_font, bold=status == "严重滞后" and i == 7)
    p = doc.add_paragraph()
    _spacing(p, line=20, before=4)
    _run(p, "注：完成率 = 完成 ÷ 目标；序时进度 = 已过月份占任务期限的比例；浅橙色为滞后、浅红色为严重滞后的任务。",
         10.5, body_font)

    if chart_png:
        heading(tpl.fill("layout", "chart_heading", b.head))
        p = doc.add_paragraph()
        _spacing(p, line=12, align=CENTER)
        p.paragraph_format.line_spacing = None  # a picture needs the line to be as tall as it is
        p.add_run().add_picture(io.BytesIO(chart_png), width=Cm(15.6))

    for line in b.closing:
        p = doc.add_paragraph()
        _spacing(p, before=12 if line is b.closing[0] else 0, indent=32, align=JUSTIFY)
        _run(p, line, 14, body_font)
    _page_number(sec)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def chart(b: Brief) -> bytes:
    """The 目标 page's chart of 完成率 against 序时进度, as the image pipeline makes it for slides."""
    from minsheng import charts, images

    subtitle = f"{b.region_name} · {b.year}年1—{b.month}月"
    source = "；".join(fmt.sources(b.goals["source"])) or "—"
    prov = images.Provenance(title="重点民生实事完成率与序时进度", subtitle=subtitle, unit="%", source=source,
                             data_date=b.head["数据日期"], demo=b.demo)
    return images.png(charts.goals(b.goals, subtitle, "zh"), prov)


def to_pdf(docx: bytes, timeout: float = PDF_TIMEOUT) -> bytes:
    """The .docx as PDF, by LibreOffice headless in a profile of its own (Debian: libreoffice-writer-nogui)."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise BriefError("本机未安装 LibreOffice（Debian 软件包 libreoffice-writer-nogui），无法生成 PDF；可下载 Word 版")
    with tempfile.TemporaryDirectory(prefix="minsheng-brief-") as tmp:
        src = Path(tmp) / "brief.docx"
        src.write_bytes(docx)
        cmd = [soffice, f"-env:UserInstallation=file://{tmp}/profile", "--headless", "--norestore",
               "--convert-to", "pdf", "--outdir", tmp, str(src)]
        try:
            subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise BriefError(f"LibreOffice 在 {int(timeout)} 秒内没有完成 PDF 转换") from None
        out = Path(tmp) / "brief.pdf"
        if not out.is_file() or out.stat().st_size == 0:
            raise BriefError("LibreOffice 未能把专报转换为 PDF")
        return out.read_bytes()


def file_name(b: Brief, suffix: str = "docx") -> str:
    stem = f"{b.region_name}{b.year}年{b.month}月{b.title.replace(b.head['地区'], '', 1)}（{b.issue_line}）"
    return safe_cells.file_name(stem + ("_演示数据" if b.demo else ""), "专报") + f".{suffix}"


def build(directory: Path, actor: cycle.Actor, region_code: str, year: int, month: int, *, source: str,
          pdf: bool = False, issue: int | None = None, with_chart: bool = True,
          today: dt.date | None = None) -> tuple[str, bytes, Brief]:
    """The brief for `actor` (role may export; the region narrowed to their area), audited: (file name, bytes,
    what it says)."""
    if not auth.can(actor.role, "export"):
        raise BriefError(f"{auth.ROLE_ZH[auth.Role.parse(actor.role)]}角色不能导出专报；须由分析、审核或管理员角色生成")
    b = content(directory, region_code, year, month, area=actor.area, issue=issue, today=today)
    data = document(b, template(directory), chart(b) if with_chart else None)
    if pdf:
        data = to_pdf(data)
    name = file_name(b, "pdf" if pdf else "docx")
    audit.record("brief", actor.name, {"region": b.region_code, "asked": region_code, "period": f"{year}-{int(month):02d}",
                                       "issue": b.issue, "format": "pdf" if pdf else "docx", "file": name,
                                       "demo": b.demo}, source)
    return name, data, b

