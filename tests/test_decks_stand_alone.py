"""导出汇报材料 decks that stand alone (issue 13, item 2): every content slide says its region, period,
source, data date and 演示数据; numbers as the page writes them; tables at a readable size with numbers
right-aligned; titles as a meeting names them; file names that do not collide across regions; and a
rendered page of each deck (LibreOffice headless → PDF → pdftoppm PNG) under artifacts/decks/.

Each deck is built as a click builds it: the page runs in AppTest and the download button's deferred
callable (kept by a spy on Streamlit's MediaFileManager, which still registers it) is called. The
figures checked are computed here from the Parquet files with DuckDB, not taken from the product.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
from pptx import Presentation
from pptx.enum.text import PP_ALIGN
from pptx.util import Pt
from streamlit.runtime.media_file_manager import MediaFileManager

from conftest import ROOT, app
from minsheng import slides

DATA = ROOT / "data"
CITY, SHIFENG = "430200000000", "430204000000"
PAGES = ("overview", "trend", "map", "goals", "explore")
TITLES = {  # the deck's name as a meeting gives it (the demo's sidebar year is 2026, reported to October)
    "overview": r"株洲市民生指标概览（2026年）",
    "trend": r"株洲市民生指标趋势（\d{4}—\d{4}年）",
    "map": r"株洲市.+分布（\d{4}年）",
    "goals": r"株洲市2026年重点民生实事推进情况（截至10月）",
    "explore": r"株洲市民生指标数据摘要（\d{4}—\d{4}年）",
}
# beside each page's default: a long ranking (every township of the city) and a summary by county
MORE = {"map_townships": ("map", dict(maplevel="township")),
        "explore_counties": ("explore", dict(xinds=["mz_dibao_urban_persons", "yb_resident_insured_rate"],
                                             xlevel="county"))}
TITLES |= {"map_townships": TITLES["map"], "explore_counties": TITLES["explore"]}
MIN_TABLE_PT = 12


class Downloads:
    """Every download button's callable and file name, as the server keeps them until a click."""

    def __init__(self):
        self.kept: dict[str, tuple] = {}

    def spy(self, original):
        def add(manager, data_callable, mimetype, coordinates, file_name=None, **kw):
            file_id = original(manager, data_callable, mimetype, coordinates, file_name=file_name, **kw)
            self.kept[file_id] = (data_callable, file_name)
            return file_id
        return add

    def buttons(self, at) -> dict[str, tuple]:
        """label → (callable, file name) of the page's download buttons (the last one of a label)."""
        return {b.proto.label: self.kept[b.proto.deferred_file_id] for b in at.get("download_button")
                if b.proto.deferred_file_id in self.kept}


def parquet_con():
    """DuckDB with the demo tables as views of their Parquet files (the expected numbers' source)."""
    con = duckdb.connect()
    for t in ("observations", "targets", "regions", "indicators"):
        con.read_parquet(f"{DATA}/{t}.parquet").create_view(t)
    return con


@pytest.fixture(scope="module")
def downloads():
    d = Downloads()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(MediaFileManager, "add_deferred", d.spy(MediaFileManager.add_deferred))
        yield d


def run_page(page: str, **params):
    return app(None if page == "overview" else page, **params)


@pytest.fixture(scope="module")
def decks(downloads) -> dict[str, tuple[bytes, str, object]]:
    """page → (PPTX bytes, file name, the AppTest) for 株洲市 on the demo data, each built once."""
    out = {}
    for page, (script, params) in ({p: (p, {}) for p in PAGES} | MORE).items():
        at = run_page(script, **params)
        build, name = downloads.buttons(at)["导出汇报材料"]
        out[page] = (build(), name, at)
    return out


def content_slides(data: bytes):
    return list(Presentation(io.BytesIO(data)).slides)[1:]


def footer(slide) -> str:
    boxes = [s for s in slide.shapes if s.name == "provenance"]
    assert len(boxes) == 1, [s.name for s in slide.shapes]
    return boxes[0].text_frame.text


def kpis(data: bytes) -> dict[str, tuple[str, str]]:
    """label → (value, change) of every KPI card in a deck."""
    out = {}
    for slide in content_slides(data):
        for s in slide.shapes:
            if s.has_text_frame and len(s.text_frame.paragraphs) == 3 and s.name != "provenance":
                label, value, change = (p.text for p in s.text_frame.paragraphs)
                out[label] = (value, change)
    return out


def tables(data: bytes):
    return [(slide, s.table) for slide in content_slides(data) for s in slide.shapes if s.has_table]


# --- independent figures from the Parquet files ----------------------------------------------------

def reported(indicator: str, region: str, year: int, month: int = 12, back: int = 0):
    """(sum of values, sum of numerators, sum of denominators, unit, kind) of the indicator's latest
    period up to `month` of `year` (and no more than `back` years before it: a card shows last year's
    figure of a yearly indicator not out yet), over the regions under `region` at its report level."""
    con = parquet_con()
    sql = """
        with recursive tree(code) as (
            select code from regions where code = $region
            union all
            select r.code from regions r join tree t on r.parent_code = t.code),
        ind as (select * from indicators where id = $ind),
        rows as (
            select o.* from observations o
            join tree t on t.code = o.region_code
            join regions r on r.code = o.region_code
            join ind on ind.id = o.indicator_id and r.level = ind.report_level
            where o.period <= make_date($year, $month, 1) and year(o.period) >= $year - $back)
        select sum(value), sum(numerator), sum(denominator), any_value(ind.unit), any_value(ind.kind)
        from rows, ind where period = (select max(period) from rows)"""
    return con.execute(sql, dict(region=region, ind=indicator, year=year, month=month, back=back)).fetchone()


def test_every_content_slide_carries_its_provenance(decks):
    for page, (data, _, _) in decks.items():
        for i, slide in enumerate(content_slides(data), start=1):
            text = footer(slide)
            for want in ("区域：株洲市", "时期：", "来源：", "数据日期：2026年10月31日", "演示数据"):
                assert want in text, (page, i, want, text)
            assert not re.search(r"来源：(—|\s·)", text), (page, i, text)  # a source is named
            box = next(s for s in slide.shapes if s.name == "provenance")
            for other in slide.shapes:  # nothing runs into the footer
                if other is not box and other.name != "provenance" and other.shape_type != 9:  # 9: the hairline
                    assert other.top + other.height <= box.top, (page, i, other.name)


def test_provenance_names_the_period_each_deck_shows(decks):
    periods = {"overview": "时期：2026年 ", "goals": "时期：截至2026年10月 ", "map": "时期：2025年 "}
    for page, want in periods.items():
        assert all(want in footer(s) for s in content_slides(decks[page][0])), page
    # a trend chart says the years it shows: those its indicator has data for, within the span chosen
    y0, y1 = parquet_con().execute(
        "select min(year(period)), max(year(period)) from observations "
        "where indicator_id = 'mz_home_aging_mod'").fetchone()
    first = content_slides(decks["trend"][0])[0]
    assert first.shapes.title.text_frame.text == f"困难老年人家庭适老化改造（{y0}—{y1}年）"
    assert f"时期：{y0}—{y1}年 " in footer(first)


def test_a_deck_of_official_data_has_no_demo_label(fixture_dir, monkeypatch, downloads):
    monkeypatch.setenv("MINSHENG_DATA", str(fixture_dir))
    build, name = downloads.buttons(run_page("overview"))["导出汇报材料"]
    data = build()
    assert content_slides(data) and all("演示数据" not in footer(s) for s in content_slides(data))
    assert "数据日期：2023年3月31日" in footer(content_slides(data)[0]) and "演示数据" not in name


def test_overview_numbers_are_the_pages_numbers(decks):
    """A count summed over the reporting regions, and a rate as Σ numerator ÷ Σ denominator, written
    with the page's precision (0 decimals for 人/户, 1 for %): 98.0%, not 97.96%."""
    cards = kpis(decks["overview"][0])
    checked = 0
    for ind, label in (("mz_dibao_urban_persons", "城市低保对象"), ("mz_home_aging_mod", "困难老年人家庭适老化改造"),
                       ("yb_resident_insured", "城乡居民医保参保人数"),
                       ("yb_resident_insured_rate", "城乡居民医保参保率")):
        total, num, den, unit, kind = reported(ind, CITY, 2026, 10, back=2)
        want = f"{round(100 * num / den, 1):.1f}%" if kind == "rate" else f"{round(total):,} {unit}"
        assert cards[label][0] == want, (label, cards[label], want)
        checked += 1
    assert checked == 4
    for label, (value, change) in cards.items():  # 同比 as the card's delta: a sign and one or two decimals
        assert not change or re.fullmatch(r"(同比 [+-]\d+\.\d{1,2}(%| 个百分点)\S*)?(　?\d{4}年（本年尚未发布）)?",
                                          change), (label, change)
    # a yearly figure not out for 2026 shows last year's, and says so (the footer's period is the year's)
    last = parquet_con().execute("select max(year(period)) from observations "
                                    "where indicator_id = 'yb_resident_insured_rate'").fetchone()[0]
    assert last < 2026 and cards["城乡居民医保参保率"][1].endswith(f"{last}年（本年尚未发布）")


def test_goals_numbers_are_the_pages_numbers(decks):
    """完成率 = actual ÷ target, to one decimal as the page's column shows it; every task appears."""
    con = parquet_con()
    tasks = con.execute("select task, indicator_id, target from targets "
                        "where region_code = $1 and year = 2026", [CITY]).fetchall()
    shown = {}
    for _, t in tables(decks["goals"][0]):
        head = [c.text for c in t.rows[0].cells]
        if "完成率" in head:
            for r in list(t.rows)[1:]:
                cells = [c.text for c in r.cells]
                shown[cells[head.index("任务")]] = cells[head.index("完成率")]
    assert len(shown) == len(tasks) == 13
    for task, ind, target in tasks:
        total = reported(ind, CITY, 2026, 10)[0]
        assert shown[task] == f"{round(total / target * 100, 1):.1f}%", (task, shown[task])
    elapsed = kpis(decks["goals"][0])["序时进度"][0]
    assert elapsed == f"{round(304 / 365 * 100, 1):.1f}%"  # 1 January to 31 October 2026: 304 of 365 days


def test_ranking_keeps_signs_and_right_aligns_numbers(decks):
    ranking = [t for slide, t in tables(decks["map"][0]) if "排名" in slide.shapes.title.text_frame.text]
    townships = [t for slide, t in tables(decks["map_townships"][0]) if "排名" in slide.shapes.title.text_frame.text]
    n = parquet_con().execute("""select count(*) from regions t
        join regions c on t.parent_code = c.code where t.level = 'township' and c.parent_code = $1""",
                                 [CITY]).fetchone()[0]
    assert len(townships) >= 2 and sum(len(t.rows) - 1 for t in townships) == n  # every township, paged
    ranking += townships
    for t in ranking:
        head = [c.text for c in t.rows[0].cells]
        change = next(j for j, h in enumerate(head) if h.startswith("同比"))
        values = [[c.text for c in r.cells] for r in list(t.rows)[1:]]
        assert all(re.fullmatch(r"[+-]\d+\.\d|—", r[change]) for r in values), values
        assert any(r[change].startswith("+") for r in values)
        for r in list(t.rows)[1:]:
            align = [c.text_frame.paragraphs[0].alignment for c in r.cells]
            value = change - 1  # rank, name, (所属县区 for a city's townships), value, 同比
            assert align[0] == align[value] == align[change] == PP_ALIGN.RIGHT
            assert all(a in (None, PP_ALIGN.LEFT) for a in align[1:value])  # the region's name and county


def test_table_text_is_readable_and_long_tables_run_over(decks):
    for page, (data, _, _) in decks.items():
        for slide, t in tables(data):
            sizes = {r.font.size for row in t.rows for c in row.cells for p in c.text_frame.paragraphs for r in p.runs}
            assert sizes and min(sizes) >= Pt(MIN_TABLE_PT), (page, sizes)
    goal_tables = [t for _, t in tables(decks["goals"][0]) if t.rows[0].cells[0].text == "状态"]
    assert len(goal_tables) >= 2 and sum(len(t.rows) - 1 for t in goal_tables) == 13  # paged, nothing dropped


def test_titles_are_as_a_meeting_names_them(decks):
    for page, (data, _, _) in decks.items():
        titles = slides.slide_titles(data)
        assert re.fullmatch(TITLES[page], titles[0]), (page, titles[0])
        for t in titles[1:]:
            assert " · " not in t and re.search(r"（(\d{4}(—\d{4})?年|截至\d{1,2}月)）|数据来源", t), (page, t)
    goals = slides.slide_titles(decks["goals"][0])
    assert goals[1:4] == ["总体进度（截至10月）", "完成率与序时进度（截至10月）", "任务推进明细（截至10月）"]


def test_the_data_deck_is_a_summary_per_indicator(decks):
    """数据 by county: one row per indicator with its latest period, the number of regions and the
    lowest and highest of them, not the first rows of the table."""
    (_, t), = tables(decks["explore_counties"][0])[:1]
    head = [c.text for c in t.rows[0].cells]
    rows = {r.cells[0].text: [c.text for c in r.cells] for r in list(t.rows)[1:]}
    assert set(rows) == {"城市低保对象", "城乡居民医保参保率"} and "最低" in head and "最高" in head
    con = parquet_con()
    latest = con.execute("""  -- each county's rate: Σ numerator ÷ Σ denominator of its townships
        with t as (select o.*, r.parent_code county from observations o
                   join regions r on r.code = o.region_code
                   where o.indicator_id = 'yb_resident_insured_rate' and r.level = 'township'),
             c as (select county, period, sum(numerator) / sum(denominator) * 100 v from t group by all)
        select r.name, c.v from c join regions r on r.code = c.county
        where r.parent_code = $1 and c.period = (select max(period) from c)""", [CITY]).fetchall()
    rate = rows["城乡居民医保参保率"]
    assert rate[head.index("区划数")] == str(len(latest))
    low, high = min(latest, key=lambda x: x[1]), max(latest, key=lambda x: x[1])
    assert rate[head.index("最低")].startswith(f"{round(low[1], 1):.1f}（")
    assert rate[head.index("最高")] == f"{round(high[1], 1):.1f}（{high[0]}）"


def test_file_names_carry_region_and_period_and_differ_across_regions(decks, downloads):
    names = {page: name for page, (_, name, _) in decks.items()}
    assert names["overview"] == "株洲市_2026年_总览_演示数据.pptx"
    assert names["goals"] == "株洲市_截至2026年10月_目标_演示数据.pptx"
    assert names["map"] == "株洲市_按区县_2025年_地图_城乡居民医保参保率_演示数据.pptx"  # the indicator too
    assert names["map_townships"].startswith("株洲市_按乡镇（街道）_")
    for page in PAGES:
        at = run_page(page, region=SHIFENG)
        other = downloads.buttons(at)
        assert other["导出汇报材料"][1] != names[page] and other["导出汇报材料"][1].startswith("石峰区_"), page
    trend = downloads.buttons(decks["trend"][2])
    png = next(n for label, (_, n) in trend.items() if label == "下载 PNG")
    assert re.fullmatch(r"株洲市_\d{4}-\d{4}年_.+_演示数据\.png", png), png
    data = downloads.buttons(decks["explore"][2])
    assert re.fullmatch(r"株洲市_\d{4}-\d{4}年_数据_演示数据\.(csv|xlsx)", data["下载 XLSX"][1])


def test_chart_subtitles_say_the_period_shown(decks, downloads):
    """The goals chart on the page says 截至2026年10月 and names the data date as such; so do its SVG
    download and a trend chart's, which says the years that chart shows."""
    import json

    at = decks["goals"][2]
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    text = json.dumps(spec, ensure_ascii=False)
    assert "截至2026年10月 · 数据日期 2026年10月31日" in text and "数据截至" not in text
    svg = downloads.buttons(at)["下载 SVG"][0]().decode("utf-8")
    assert "株洲市 · 截至2026年10月" in svg and "数据日期：2026年10月31日" in svg and "数据截至" not in svg
    y0, y1 = parquet_con().execute(  # the trend page's last chart: 城乡居民医保参保率
        "select min(year(period)), max(year(period)) from observations "
        "where indicator_id = 'yb_resident_insured_rate'").fetchone()
    svg = downloads.buttons(decks["trend"][2])["下载 SVG"][0]().decode("utf-8")
    assert f"株洲市及下级区划 · {y0}—{y1}年" in svg, re.findall(r"株洲市及下级区划[^<]*", svg)


# --- a rendered page of each deck ------------------------------------------------------------------

@pytest.mark.browser
def test_each_deck_renders_in_libreoffice(decks, tmp_path):
    """Each deck converts to PDF in LibreOffice headless; pdftoppm keeps a PNG per page under
    artifacts/decks/ (look at them: nothing cut, nothing under the footer)."""
    soffice, pdftoppm = shutil.which("soffice"), shutil.which("pdftoppm")
    if not soffice or not pdftoppm:
        pytest.skip("LibreOffice (libreoffice-impress-nogui) or pdftoppm (poppler-utils) is not installed")
    out = ROOT / "artifacts" / "decks"
    out.mkdir(parents=True, exist_ok=True)
    for page, (data, _, _) in decks.items():
        src = tmp_path / f"{page}.pptx"
        src.write_bytes(data)
        subprocess.run([soffice, f"-env:UserInstallation=file://{tmp_path}/lo", "--headless", "--convert-to", "pdf",
                        "--outdir", str(tmp_path), str(src)], check=True, capture_output=True, timeout=180)
        pdf = tmp_path / f"{page}.pdf"
        assert pdf.exists(), page
        for old in out.glob(f"{page}-*.png"):
            old.unlink()
        subprocess.run([pdftoppm, "-png", "-r", "60", str(pdf), str(out / page)], check=True, timeout=120)
        pngs = sorted(out.glob(f"{page}-*.png"))
        assert len(pngs) == len(Presentation(io.BytesIO(data)).slides), (page, pngs)
        assert all(Path(p).stat().st_size > 2_000 for p in pngs)


def test_every_deck_string_has_english():
    """The words a deck adds — its titles, footer, headers, the title and sources slides — are in
    minsheng/i18n.py, so an English session's deck is English too."""
    import ast

    from minsheng import i18n, selection, summary

    def literals(node, names):
        for n in ast.walk(node):
            if isinstance(n, ast.Call) and n.args and isinstance(n.args[0], ast.Constant) \
                    and isinstance(n.args[0].value, str):
                f = n.func
                if getattr(f, "id", None) in names or getattr(f, "attr", None) in names:
                    yield n.args[0].value

    found = []
    for view in sorted((ROOT / "views").glob("*.py")):
        tree = ast.parse(view.read_text(encoding="utf-8"))
        for n in ast.walk(tree):
            deck_call = isinstance(n, ast.Call) and getattr(n.func, "attr", None) == "deck_button"
            if deck_call or (isinstance(n, ast.FunctionDef) and n.name == "deck_parts"):
                found += list(literals(n, {"T"}))
    for module in ("minsheng/selection.py", "minsheng/slides.py"):
        found += list(literals(ast.parse((ROOT / module).read_text(encoding="utf-8")), {"t"}))
    found += list(selection.DECK_TITLES.values()) + list(summary.HEADERS)
    assert len(found) > 30
    assert [s for s in found if s not in i18n.EN and "{year}年" != s] == []
