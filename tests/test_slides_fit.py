"""Presentation mode at 1920×1080 in headless Chromium: every page's every slide fits the screen and
nothing lies under the fixed footer; → / ← and `&slide=N` change the slide; each slide's screenshot
is kept under artifacts/present/ (overview-1.png, overview-2.png, …) (issue 13, item 1)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_support import ARTIFACTS, new_page, wait_idle  # noqa: E402  (fixtures come from conftest.py)

from minsheng.ui import pages  # noqa: E402

pytestmark = pytest.mark.browser

W, H = 1920, 1080
SLIDE_PAGES = {p.key: "/" + p.url for p in pages.BROWSE}  # not 导入 or 用户管理: nobody presents them

# What the screen shows: the main area's full height, and every visible thing drawn (a text, a
# canvas, a chart's marks) whose box reaches into the footer's. Containers are left out: their boxes
# include the padding the page keeps under the footer for it.
MEASURE_JS = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const foot = document.querySelector('.ms-slide-footer');
  const fb = foot.getBoundingClientRect();
  const under = [];
  for (const e of main.querySelectorAll('*')) {
    if (foot.contains(e) || e.contains(foot)) continue;
    const direct = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const drawn = !e.children.length || direct || ['CANVAS', 'IMG', 'svg'].includes(e.tagName);
    if (!drawn) continue;
    const r = e.getBoundingClientRect(), s = getComputedStyle(e);
    if (r.width < 1 || r.height < 1 || s.visibility === 'hidden' || s.opacity === '0') continue;
    if (r.bottom > fb.top + 0.5 && r.top < fb.bottom && r.right > fb.left && r.left < fb.right)
      under.push(`${e.tagName} ${(e.getAttribute('data-testid') || '')} "${(e.textContent || '').trim().slice(0, 40)}" top=${Math.round(r.top)}`);
  }
  return {scroll: main.scrollHeight, view: window.innerHeight, footTop: fb.top, under: under.slice(0, 10)};
}"""

COUNTER_JS = """() => {
  const m = document.querySelector('.st-key-ms_slide_nav [data-testid="stMarkdown"]');
  return m ? m.innerText.trim() : null;
}"""

# the page's own content is drawn (not the skeletons of a run still under way)
DRAWN_JS = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  if (main.querySelector('[data-testid="stSkeleton"]')) return false;
  for (const p of main.querySelectorAll('[data-testid="stPlotlyChart"]')) if (!p.querySelector('.main-svg')) return false;
  for (const c of main.querySelectorAll('[data-testid="stDeckGlJsonChart"] canvas')) if (!c.width) return false;
  return !!document.querySelector('.ms-slide-footer');
}"""


def settle(page) -> None:
    wait_idle(page)
    page.wait_for_function(DRAWN_JS, timeout=30_000)
    page.wait_for_timeout(600)  # charts lay out after they are drawn


def slide_of(page) -> tuple[int, int]:
    text = page.evaluate(COUNTER_JS)
    if text is None:
        return 1, 1
    k, n = (int(x) for x in text.split(" / "))
    return k, n


def check_fits(page, name: str, k: int) -> None:
    m = page.evaluate(MEASURE_JS)
    target = ARTIFACTS / "present" / f"{name}-{k}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target))
    assert m["view"] == H
    assert m["scroll"] <= m["view"], f"{name} slide {k}: the main area is {m['scroll']} px tall"
    assert not m["under"], f"{name} slide {k}: under the footer (top {m['footTop']}): {m['under']}"


def go_to(page, key: str, expect: int) -> None:
    """Press ← or → and wait for the slide to be `expect`, in the counter and in the URL."""
    page.keyboard.press(key)
    page.wait_for_function(f"() => ({COUNTER_JS})() && ({COUNTER_JS})().startsWith('{expect} /')", timeout=30_000)
    page.wait_for_url(f"**slide={expect}*", timeout=10_000)
    settle(page)


@pytest.mark.parametrize("name", list(SLIDE_PAGES))
def test_every_slide_fits_the_screen(browser, app_server, name):
    ctx, page, _ = new_page(browser, width=W, height=H)
    try:
        page.goto(f"{app_server.url}{SLIDE_PAGES[name]}?present=1")
        settle(page)
        k, n = slide_of(page)
        assert k == 1
        check_fits(page, name, 1)
        for k in range(2, n + 1):  # → walks through the slides
            go_to(page, "ArrowRight", k)
            assert slide_of(page) == (k, n)
            check_fits(page, name, k)
        if n > 1:
            page.keyboard.press("ArrowRight")  # past the last: stays
            page.wait_for_timeout(500)
            assert slide_of(page) == (n, n)
            go_to(page, "ArrowLeft", n - 1)    # ← goes back
        if name in ("overview", "trend", "explore"):
            assert n > 1, f"{name} in the demo data is several slides"
    finally:
        ctx.close()


def test_a_slide_link_opens_that_slide(browser, app_server):
    """&slide=N is a permalink: a fresh browser opens slide N; a bad N opens the first and says so."""
    ctx, page, _ = new_page(browser, width=W, height=H)
    try:
        page.goto(f"{app_server.url}/?present=1&slide=3")
        settle(page)
        k, n = slide_of(page)
        assert k == 3 and n >= 3
        first = page.locator('[data-testid="stMain"] h3').first.inner_text()
        page.goto(f"{app_server.url}/?present=1&slide=2")
        settle(page)
        assert slide_of(page)[0] == 2 and page.locator('[data-testid="stMain"] h3').first.inner_text() != first
        page.goto(f"{app_server.url}/?present=1&slide=99")
        settle(page)
        assert slide_of(page)[0] == 1 and "slide=1" in page.url
        assert "没有第 99 张幻灯片" in page.locator('[data-testid="stToast"]').first.inner_text()
    finally:
        ctx.close()


def test_a_slide_shows_no_help_icons_drill_box_or_download_note(browser, app_server):
    ctx, page, _ = new_page(browser, width=W, height=H)
    try:
        for path in ("/?present=1&slide=2", "/map?present=1", "/data?present=1"):
            page.goto(f"{app_server.url}{path}")
            settle(page)
            main = page.locator('[data-testid="stMain"]')
            assert not [i for i in main.locator('[data-testid="stTooltipIcon"]').all() if i.is_visible()], path
            text = main.inner_text()
            for hidden in ("下钻到", "点击区县可下钻", "CSV 默认为带 BOM", "UTF-8"):
                assert hidden not in text, (path, hidden)
    finally:
        ctx.close()
