"""Chinese all the way (issue 13, item 6): no internal names or raw values on any page in Chinese mode,
Streamlit's own English strings translated or hidden, XLSX files that open filtered and wide enough,
and English mode's units written as an English reader counts."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from conftest import ROOT, app
from minsheng.ui import pages

INDICATORS = pd.read_parquet(ROOT / "data" / "indicators.parquet")
# internal names a user should never read: the tables' field names and the catalogue's ids
INTERNAL = {"indicator_id", "region_code", "None", "nan", "NaN", "value（原）", "provisional", "final",
            *INDICATORS["id"]}
ID_RE = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(re.escape(w) for w in sorted(INTERNAL, key=len, reverse=True))
                   + r")(?![A-Za-z0-9_])")
# a float the page did not format: more than two decimals (no indicator is shown with more)
RAW_FLOAT = re.compile(r"(?<![\d.])\d+\.\d{3,}(?![\d])")


def texts(at) -> list[tuple[str, str]]:
    """Every text an AppTest run shows: (where, text) for markdown, captions, alerts, labels, metrics,
    widget options and values, and every dataframe's column names and cells."""
    out = []
    for kind in ("markdown", "caption", "title", "header", "subheader", "info", "warning", "error", "success",
                 "latex", "code"):
        for el in getattr(at, kind):
            out.append((kind, str(el.value)))
    for el in at.get("html"):  # presentation mode's title and footer, drawn with st.html
        shown = re.sub(r"<style>.*?</style>", " ", str(el.proto.body), flags=re.S)  # a style block draws nothing
        out.append(("html", re.sub(r"<[^>]+>", " ", shown)))
    for el in at.metric:
        out += [("metric", str(el.label)), ("metric", str(el.value)), ("metric", str(el.delta or ""))]
    for kind in ("selectbox", "multiselect", "radio", "segmented_control", "pills"):
        for el in at.get(kind):
            out.append((f"{kind} label", str(el.label)))
            out += [(f"{kind} option", str(o)) for o in getattr(el, "options", [])]
            if getattr(el, "placeholder", None):
                out.append((f"{kind} placeholder", str(el.placeholder)))
    for kind in ("checkbox", "toggle", "button", "number_input", "text_input", "download_button"):
        for el in at.get(kind):
            out.append((f"{kind} label", str(getattr(el, "label", ""))))
    for el in at.get("dataframe"):
        df = el.value
        df = df.data if hasattr(df, "data") and not isinstance(df, pd.DataFrame) else df
        config = json.loads(el.proto.columns or "{}")
        out += [("dataframe column", str(c)) for c in df.columns if not config.get(str(c), {}).get("hidden")]
        for col in df.columns:
            if config.get(str(col), {}).get("hidden"):
                continue
            # a printf format with a precision (%.1f) rounds what the grid draws; "localized" or none does not
            rounded = re.search(r"%[-+ 0#]*\d*\.\d+f", config.get(str(col), {}).get("type_config", {}).get("format", "") or "")
            for v in df[col].head(300):
                if isinstance(v, float):  # a float the grid draws as is: it must not need rounding
                    out.append((f"cell {col}", repr(v) if pd.notna(v) and not rounded and round(v, 2) != v else "ok"))
                else:
                    out.append((f"cell {col}", "" if v is None or v is pd.NA else str(v)))
    return [(where, re.sub(r"\\(.)", r"\1", text)) for where, text in out]  # markdown's escapes, as drawn


def offenders(at) -> list[tuple[str, str]]:
    bad = []
    for where, text in texts(at):
        if where.startswith("cell") and text in ("None", "nan", "<NA>"):
            bad.append((where, text))
        elif ID_RE.search(text) or RAW_FLOAT.search(text):
            bad.append((where, text[:160]))
    return bad


VARIANTS = [(p.key, {}) for p in pages.PAGES] + [
    ("trend", dict(grain="month", view="yoy")), ("trend", dict(inds="zw_xiangyiban_users", kids="1")),
    ("map", dict(maplevel="township")), ("explore", dict(xlevel="township")),
    ("goals", dict(gmonth="7", region="430204000000")), ("overview", dict(region="430204001000")),
    ("overview", dict(present="1")), ("goals", dict(present="1")),  # the slide's title line and footer (st.html)
]


@pytest.mark.parametrize("page, params", VARIANTS, ids=[f"{p}-{'&'.join(v)}" for p, v in VARIANTS])
def test_no_internal_names_or_raw_values_on_any_page(page, params):
    at = app(page, **params)
    assert texts(at), "the walk found no text at all"
    assert offenders(at) == []


# --- XLSX: filtered, frozen and wide enough -----------------------------------------------------

def display_width(text: str) -> int:
    """Computed here, not with the product's helper: East Asian wide and full-width characters count two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in str(text))


def check_sheet(ws, rows: int | None = None) -> None:
    """The header row carries a filter over every column, the header stays frozen, and each column is at
    least as wide as the longest value written in it (a CJK character two units of Excel's width)."""
    assert ws.freeze_panes == "A2", ws.title
    assert ws.auto_filter.ref, ws.title
    first, last = ws.auto_filter.ref.split(":")
    assert first == "A1" and re.match(r"[A-Z]+", last).group(0) == ws.cell(1, ws.max_column).column_letter, ws.title
    if rows is not None:
        assert int(re.search(r"\d+", last).group(0)) == rows + 1
    for col in ws.iter_cols(min_row=1, max_row=min(ws.max_row, 1001)):
        # a date cell reads back as a datetime; Excel shows it as its date (yyyy-mm-dd)
        values = [c.value.date().isoformat() if hasattr(c.value, "date") else c.value for c in col if c.value is not None]
        if not values:
            continue
        longest = max(display_width(v) for v in values)
        width = ws.column_dimensions[col[0].column_letter].width
        assert width >= min(longest, 60), (ws.title, col[0].value, width, longest)


def test_xlsx_export_is_filtered_frozen_and_wide_enough(demo_dir):
    import datetime as dt
    import io

    import openpyxl

    from minsheng import export

    q = export.check(["mz_dibao_urban_persons", "zw_xiangyiban_users"], "430200000000", "county",
                     dt.date(2026, 1, 1), dt.date(2026, 10, 1), directory=demo_dir)
    wb = openpyxl.load_workbook(io.BytesIO(export.payload(q, "xlsx", demo_dir)))
    n = export.count(q, demo_dir)
    check_sheet(wb["数据"], rows=n)
    names = [c.value for c in wb["数据"]["B"][1:]]
    assert "“湘易办”新增注册" in names  # the longest name is there, so the width check covers it
    note = wb["说明"]
    assert note.freeze_panes == "A2"
    assert note.column_dimensions["B"].width >= min(120, max(display_width(c.value or "") for c in note["B"]))


@pytest.mark.parametrize("kind", ["observations", "targets", "regions", "indicators"])
def test_templates_are_filtered_frozen_and_wide_enough(kind, demo_dir):
    import io

    import openpyxl

    from minsheng import repo
    from minsheng.ingest import template

    wb = openpyxl.load_workbook(io.BytesIO(template.template_bytes(kind, repo.indicators(demo_dir),
                                                                    repo.regions(demo_dir))))
    ws = wb[wb.sheetnames[0]]
    check_sheet(ws)
    codes = wb["代码表"]
    check_sheet(codes)
    # the longest indicator name and region label are in the 代码表, and their column fits them
    assert any(c.value == "集中供养孤儿基本生活费标准" for c in codes["B"])


# --- English mode: units an English reader counts ---------------------------------------------

def test_english_counts_ten_thousands_out():
    from minsheng import fmt

    # 3.12 万人 = 31,200 persons; 250.51 万人 = 2,505,100 persons ≈ 2.51 million
    assert fmt.value_with_unit(3.12, "万人", "amount", "en") == "31,200 persons"
    assert fmt.value_with_unit(250.51, "万人", "amount", "en") == "2.51 million persons"
    assert fmt.value_with_unit(25051.1, "万元", "amount", "en") == "CNY 250.51 million"
    assert fmt.value_with_unit(7.5, "万小时", "amount", "en") == "75,000 hours"
    assert fmt.value_with_unit(3.12, "万人", "amount", "zh") == "3.12 万人"  # Chinese keeps 万
    assert fmt.value_with_unit(731, "元/月", "standard", "en") == "731 yuan/mo"


def test_english_cards_and_data_table_read_naturally():
    at = app(region="430204000000", year="2023", lang="en")
    cards = {m.label: m.value for m in at.metric}
    shown = cards["Welfare lottery sales"]
    zh = {m.label: m.value for m in app(region="430204000000", year="2023").metric}["福利彩票销售额"]
    wan = float(zh.split()[0].replace(",", ""))  # "1,587.2 万元"
    assert shown == f"CNY {wan * 1e4 / 1e6:,.2f} million"
    assert "10k" not in " ".join(cards.values())
    grid = app("explore", lang="en", xinds="zw_xiangyiban_users", xlevel="county").dataframe[0].value
    assert list(grid.columns[:3]) == ["Indicator", "Region", "Region code"]
    assert set(grid["Indicator"]) == {"New users of the Xiangyiban app"} and set(grid["Unit"]) == {"persons"}
    assert set(grid["Level"]) == {"County"} and set(grid["Status"]) <= {"final", "provisional"}
    raw = pd.read_parquet(ROOT / "data" / "observations.parquet")
    raw = raw[(raw["indicator_id"] == "zw_xiangyiban_users") & raw["region_code"].isin(grid["Region code"])]
    assert grid["Value"].max() == round(raw["value"].max() * 1e4)  # counted out: whole persons
    assert grid["Period"].str.match(r"^(\w{3} )?\d{4}$").all()


# --- in Chromium: Streamlit's own English strings --------------------------------------------

# Streamlit 1.67's English UI strings a reader could meet on these pages (whole words, case-sensitive)
ENGLISH = ("Upload", "Browse files", "Drag and drop", "per file", "Select all", "matches", "No results",
           "Download as CSV", "Search", "Print", "Stop", "Stopping", "Made with Streamlit", "Choose an option",
           "Running", "Deploy", "Skip to main content", "Settings", "Rerun", "Clear cache", "About",
           "Record a screencast", "Fullscreen", "Close fullscreen", "Show/hide columns", "Connecting",
           "Press Enter", "You can only select", "Remove an option", "Download plot as a PNG", "Zoom", "Pan",
           "Autoscale", "Reset axes")
# documented in the README ("Streamlit's own strings") as out of reach; none of them is on these pages'
# body text today, so the list is empty: a new English string anywhere on a page fails the test
KNOWN_UNTRANSLATED: tuple[str, ...] = ()
ENGLISH_RE = re.compile(r"(?<![A-Za-z])(" + "|".join(re.escape(w) for w in ENGLISH if w not in KNOWN_UNTRANSLATED)
                        + r")(?![A-Za-z])")
VISIBLE_TEXT = (ROOT / "tests" / "visible_text.js").read_text(encoding="utf-8")
SHOTS = ROOT / "artifacts" / "chinese"


def english_in(page) -> list[str]:
    return sorted(set(ENGLISH_RE.findall(page.evaluate(VISIBLE_TEXT))))


@pytest.mark.browser
def test_no_streamlit_english_on_any_page_in_chromium(app_server, browser):
    from browser_support import new_page, wait_idle

    SHOTS.mkdir(parents=True, exist_ok=True)
    ctx, page, _ = new_page(browser)
    found = {}
    try:
        for p in pages.PAGES:
            page.goto(f"{app_server.url}/{p.url}")
            during = set()
            for _ in range(20):  # while the script runs the status widget shows its Stop button
                try:
                    during |= set(english_in(page))
                except Exception:  # the page navigated under the walker
                    pass
                page.wait_for_timeout(40)
            wait_idle(page)
            # before the run's first message brings the style block, the skip link (off screen until it
            # has the keyboard focus) still says it in English, and on a loaded machine so may the uploader
            # drawn before that block is applied; once the page is drawn neither may (checked below, and the
            # uploader's own words after this loop)
            seen = (during - {"Skip to main content", "Upload", "per file"}) | set(english_in(page))
            # no main menu at all (client.toolbarMode = "minimal"): its Print, Settings, About, "Made with
            # Streamlit" are English only
            assert page.locator('[data-testid="stMainMenu"], [data-testid="stMainMenuButton"]').count() == 0
            assert "跳到正文" in page.evaluate(VISIBLE_TEXT)
            page.screenshot(path=str(SHOTS / f"{p.key}.png"))
            if seen:
                found[p.key] = sorted(seen)
        # the uploader: its button, its limits and the text while a file is dragged over it
        page.goto(f"{app_server.url}/import")
        wait_idle(page)
        shown = page.evaluate(VISIBLE_TEXT)
        assert "上传" in shown and "单个文件不超过 50 MB" in shown
        page.evaluate("""() => { const dz = document.querySelector('[data-testid="stFileUploaderDropzone"]');
          const dt = new DataTransfer(); dt.items.add(new File(['a'], 'a.csv', {type: 'text/csv'}));
          dz.dispatchEvent(new DragEvent('dragenter', {bubbles: true, dataTransfer: dt})); }""")
        page.wait_for_timeout(400)
        assert "将文件拖到这里" in page.evaluate(VISIBLE_TEXT)
        found["import, dragging"] = english_in(page)
        # a search in a multiselect that matches nothing
        page.goto(f"{app_server.url}/data")
        wait_idle(page)
        page.locator('[data-testid="stMultiSelect"] input').first.click()
        page.keyboard.type("zzzz")
        page.wait_for_timeout(400)
        assert "没有匹配的选项" in page.evaluate(VISIBLE_TEXT)
        found["data, multiselect"] = english_in(page)
        page.keyboard.press("Escape")
        # the grid's toolbar tooltips
        page.locator('[data-testid="stDataFrame"]').first.hover()
        buttons = page.locator('[data-testid="stElementToolbar"] button')
        for i in range(buttons.count()):
            buttons.nth(i).hover()
            page.wait_for_selector('[data-testid="stTooltipContent"]', timeout=5_000)
            page.wait_for_timeout(200)
            tip = page.locator('[data-testid="stTooltipContent"]').last.evaluate(VISIBLE_TEXT)
            assert tip.strip() and not ENGLISH_RE.search(tip), (buttons.nth(i).get_attribute("aria-label"), tip)
        # Plotly's modebar tooltips (drawn from ::after)
        page.goto(f"{app_server.url}/trend")
        wait_idle(page)
        # Plotly draws its modebar after the script run is over: on a loaded machine, a while after
        page.wait_for_selector(".modebar-btn[data-title]", state="attached", timeout=30_000)
        titles = page.eval_on_selector_all(".modebar-btn[data-title]", """els => els.map(e =>
            [e.getAttribute('data-title'), getComputedStyle(e, '::after').content])""")
        assert titles, "no modebar drawn"
        assert [t for t, content in titles if ENGLISH_RE.search(content)] == []
    finally:
        ctx.close()
    assert {k: v for k, v in found.items() if v} == {}


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 1920])
def test_kpi_values_and_labels_are_not_cut(app_server, browser, width):
    """"10,852 元/人…": st.metric cut long values and names with an ellipsis; they wrap instead."""
    from browser_support import new_page, wait_idle

    ctx, page, _ = new_page(browser, width=width, height=1000)
    try:
        page.goto(f"{app_server.url}/")
        wait_idle(page)
        # the cards: on a loaded machine a rerun can follow the first idle moment by more than wait_idle's settle
        page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stMetricValue\"]').length > 20",
                               timeout=60_000)
        wait_idle(page)
        page.evaluate("document.fonts.ready")  # measured once the CJK face has replaced the fallback
        page.wait_for_timeout(300)
        cut = page.eval_on_selector_all('[data-testid="stMetricValue"] p, [data-testid="stMetricLabel"] p', """els =>
            els.filter(p => {
              const box = p.closest('[data-testid="stMetric"]').getBoundingClientRect(), r = p.getBoundingClientRect();
              const parent = p.parentElement;
              return parent.scrollWidth > parent.clientWidth + 1 || r.right > box.right + 1
                || getComputedStyle(parent).textOverflow === 'ellipsis' && parent.scrollWidth > parent.clientWidth;
            }).map(p => p.innerText)""")
        n = page.locator('[data-testid="stMetricValue"]').count()
        page.screenshot(path=str(SHOTS / f"overview_cards_{width}.png"))
    finally:
        ctx.close()
    assert n > 20 and cut == []


def test_english_goals_and_trend_tables_count_ten_thousands_out():
    targets = pd.read_parquet(ROOT / "data" / "targets.parquet")
    year = int(targets["year"].max())
    row = targets[(targets["indicator_id"] == "zw_xiangyiban_users") & (targets["region_code"] == "430200000000")
                  & (targets["year"] == year)].iloc[0]
    whole = row["target"] * 1e4  # 万人 → persons
    expected = f"{whole / 1e6:,.2f} million persons" if whole >= 1e6 else f"{whole:,.0f} persons"
    goals = app("goals", lang="en", year=str(year)).dataframe[0].value
    assert expected in set(goals["Target"])
    assert not goals.astype(str).apply(lambda c: c.str.contains("10k")).any().any()
    trend = app("trend", lang="en", inds="zw_xiangyiban_users").dataframe[0].value
    assert "Value (persons)" in trend.columns
    assert trend["Value (persons)"].str.replace(",", "").str.isdigit().all()  # whole persons, no 万 decimals


def test_every_grid_shows_a_dash_for_a_missing_value():
    # Streamlit draws a missing cell as the English word "None" unless told otherwise; the grids are canvases,
    # so the visible-text checks above cannot see it
    import ast

    for path in [*(ROOT / "views").glob("*.py"), *(ROOT / "minsheng" / "ui").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "dataframe":
                kw = {k.arg: k.value for k in node.keywords}
                assert isinstance(kw.get("placeholder"), ast.Constant) and kw["placeholder"].value == "—", \
                    f"{path.name}:{node.lineno}"
