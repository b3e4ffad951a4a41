"""The dashboard on a phone (390×844, mobile emulation in headless Chromium), as a leader opens a link
from a 企业微信/钉钉 group: one column, the status summary and the lagging tasks first on 总览, the cards
in reading order, big numbers, no horizontal scroll, touch targets of at least 44 px, the ranking
before the map. Full-height screenshots are kept under artifacts/phone/ (issue 13, item 7)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_support import ARTIFACTS, new_page, wait_idle  # noqa: E402  (fixtures come from conftest.py)

from minsheng.ui import pages  # noqa: E402

pytestmark = pytest.mark.browser

PHONE = dict(width=390, height=844, is_mobile=True, has_touch=True, device_scale_factor=3)
PAGES = {p.key: "/" + p.url for p in pages.PAGES}
YOUXIAN = "430223000000"  # 攸县

# The box a finger hits for each visible, enabled control in the main area: a select's whole field
# (its input and its arrow open the same list), a toggle's label, a slider's thumb, a number field.
TARGETS_JS = """(root) => {
  const main = document.querySelector(root);
  const box = (e) => {
    if (e.matches('input[type=range]')) return e.parentElement.parentElement;
    if (e.matches('input[type=checkbox], input[type=radio]')) return e.closest('label') || e;
    const field = e.closest('[role="group"]:has([role="combobox"])');
    if (field && (e.matches('input') || e.getAttribute('aria-label') === 'Open')) return field;
    const input = e.closest('[data-testid="stNumberInputContainer"], [data-testid="stTextInputRootElement"]');
    if (input && e.matches('input')) return input;
    return e;
  };
  const q = 'button, a[href], input, select, textarea, summary, [role=button], [role=combobox], [role=slider], [role=switch], [role=tab], [role=radio], [role=checkbox]';
  const out = [], seen = new Set();
  for (const e of main.querySelectorAll(q)) {
    if (e.disabled || e.closest('[disabled], [aria-disabled="true"]')) continue;
    const t = box(e);
    if (seen.has(t)) continue;
    seen.add(t);
    const r = t.getBoundingClientRect();
    if (r.width < 1 || r.height < 1 || !t.checkVisibility({visibilityProperty: true})) continue;  // not in a closed expander
    out.push({what: `${e.tagName} ${(e.getAttribute('aria-label') || e.innerText || '').trim().slice(0, 30)}`,
              w: r.width, h: r.height});
  }
  return out;
}"""

# Columns side by side: any two visible columns of the main area whose boxes share a line
COLUMNS_JS = """() => {
  const cols = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stColumn"]')]
    .filter(c => !c.closest('.st-key-ms_status'))
    .filter(c => { const r = c.getBoundingClientRect(); return r.width > 1 && r.height > 1 && c.checkVisibility(); });
  const pairs = [];
  for (let i = 0; i < cols.length; i++) for (let j = i + 1; j < cols.length; j++) {
    if (cols[i].contains(cols[j]) || cols[j].contains(cols[i])) continue;  // a column inside a column
    const a = cols[i].getBoundingClientRect(), b = cols[j].getBoundingClientRect();
    if (a.top < b.bottom - 1 && b.top < a.bottom - 1) pairs.push([Math.round(a.left), Math.round(b.left), Math.round(a.top)]);
  }
  return pairs.slice(0, 5);
}"""

# Each card's label and box, in document order (the order a phone stacks them in)
CARDS_JS = """() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stVerticalBlock"] [data-testid="stMetric"]')]
  .filter(m => !m.closest('.st-key-ms_status'))
  .map(m => { const r = m.getBoundingClientRect();
              return {label: m.querySelector('[data-testid="stMetricLabel"]').innerText.trim(), top: r.top, left: r.left}; })"""


def small_targets(page, root: str) -> list[str]:
    targets = page.evaluate(TARGETS_JS, root)
    assert targets, f"no controls found in {root}"
    small = [f"{t['what']} {t['w']:.0f}×{t['h']:.0f}" for t in targets if t["w"] < 43.5 or t["h"] < 43.5]
    assert not small, f"touch targets under 44 px in {root}: {small}"
    return small


def open_page(browser, url: str, **size):
    ctx, page, _ = new_page(browser, **(size or PHONE))
    page.goto(url)
    wait_idle(page)
    page.wait_for_function("""() => !document.querySelector('[data-testid="stMain"] [data-testid="stSkeleton"]')""",
                           timeout=30_000)
    page.wait_for_timeout(800)
    return ctx, page


def keep_full_height(page, name: str) -> None:
    """A screenshot of the whole page: Streamlit scrolls inside stMain, so the viewport is made as tall
    as the page first."""
    h = page.evaluate("""() => document.querySelector('[data-testid="stMain"]').scrollHeight""")
    page.set_viewport_size({"width": PHONE["width"], "height": min(int(h), 12_000)})
    page.wait_for_timeout(800)
    target = ARTIFACTS / "phone" / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target))


@pytest.mark.parametrize("name", list(PAGES))
def test_a_phone_sees_one_column_with_no_sideways_scroll_and_big_targets(browser, app_server, name):
    ctx, page = open_page(browser, f"{app_server.url}{PAGES[name]}")
    try:
        assert page.evaluate("() => window.innerWidth") == 390
        widths = page.evaluate("""() => [document.documentElement.scrollWidth, document.body.scrollWidth,
                                        document.querySelector('[data-testid="stMain"]').scrollWidth]""")
        assert max(widths) <= 390, f"{name} scrolls sideways: {widths}"
        assert not page.evaluate(COLUMNS_JS), f"{name} has columns side by side: {page.evaluate(COLUMNS_JS)}"
        assert not small_targets(page, '[data-testid="stMain"]'), name
        keep_full_height(page, name)
    finally:
        ctx.close()


def test_the_overview_on_a_phone_starts_with_the_status_and_the_lagging_tasks(browser, app_server):
    """A permalink to 攸县: its name in the header, the four status counts (two by two), then 滞后任务
    with 完成率 against 序时进度, and only then the first card; numbers large."""
    ctx, page = open_page(browser, f"{app_server.url}/?region={YOUXIAN}&year=2026")
    try:
        main = page.locator('[data-testid="stMain"]')
        assert "攸县" in main.locator('[data-testid="stCaptionContainer"]').first.inner_text()
        status = page.locator('.st-key-ms_status [data-testid="stMetric"]')
        assert status.count() == 4
        boxes = [status.nth(i).bounding_box() for i in range(4)]
        assert len({round(b["y"]) for b in boxes}) == 2  # two rows of two
        late = main.get_by_text("滞后任务", exact=True)
        items = main.locator("li")
        assert items.count() >= 1 and "完成率" in items.first.inner_text() and "序时进度" in items.first.inner_text()
        first_card = page.evaluate(CARDS_JS)[0]
        assert max(b["y"] + b["height"] for b in boxes) <= late.bounding_box()["y"]
        assert items.last.bounding_box()["y"] < first_card["top"]
        size = page.evaluate("""() => parseFloat(getComputedStyle(document.querySelector(
                                  '[data-testid="stMain"] [data-testid="stMetricValue"]')).fontSize)""")
        assert size >= 32, f"card numbers are {size}px"
    finally:
        ctx.close()


def test_the_cards_stack_in_reading_order(browser, app_server):
    """On a desktop the cards read left to right, row by row; the phone must stack them in that order
    (one card under the other, in the same sequence)."""
    ctx, page = open_page(browser, f"{app_server.url}/?year=2026", width=1600, height=1000)
    try:
        desk = page.evaluate(CARDS_JS)
    finally:
        ctx.close()
    ctx, page = open_page(browser, f"{app_server.url}/?year=2026")
    try:
        phone = page.evaluate(CARDS_JS)
    finally:
        ctx.close()
    reading = [c["label"] for c in sorted(desk, key=lambda c: (round(c["top"]), c["left"]))]
    stacked = [c["label"] for c in sorted(phone, key=lambda c: c["top"])]
    assert len(reading) > 8 and len({round(c["left"]) for c in desk}) == 4  # four across on a desktop
    assert len({round(c["left"]) for c in phone}) == 1                     # one column on the phone
    assert stacked == reading


def test_the_map_on_a_phone_fits_and_the_ranking_comes_first(browser, app_server):
    ctx, page = open_page(browser, f"{app_server.url}/map")
    try:
        page.wait_for_function("""() => { const c = document.querySelector('[data-testid="stDeckGlJsonChart"] canvas');
                                         return !!c && c.width > 0; }""", timeout=30_000)
        deck = page.locator('[data-testid="stDeckGlJsonChart"]').first.bounding_box()
        ranking = page.locator('[data-testid="stDataFrame"]').first.bounding_box()
        assert deck["x"] >= 0 and deck["x"] + deck["width"] <= 390
        assert ranking["y"] + ranking["height"] <= deck["y"]
    finally:
        ctx.close()


def test_the_page_menu_and_the_sidebar_take_a_finger(browser, app_server):
    """The header's menu buttons and, once opened, the sidebar's page links, pickers and switches."""
    ctx, page = open_page(browser, f"{app_server.url}/")
    try:
        small_targets(page, '[data-testid="stHeader"]')
        page.locator('[data-testid="stExpandSidebarButton"]').click()
        page.locator('[data-testid="stSidebarNavLink"]').first.wait_for(state="visible")
        page.wait_for_timeout(800)  # the sidebar slides in
        small_targets(page, '[data-testid="stSidebar"]')
        assert page.locator('[data-testid="stSidebarNavLink"]').count() >= 5
    finally:
        ctx.close()
