"""Exports are built in the session's context (issue 13, item 8): clicking every download on a page
writes no "missing ScriptRunContext" line to the server log, and a deck downloaded in English mode is
worded in English (built without the session, it fell back to Chinese). A server of its own, so its
log holds only these clicks."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser_support import APP_SCRIPT, ROOT, StreamlitServer, new_page, wait_idle  # noqa: E402
from minsheng import i18n, slides  # noqa: E402

pytestmark = pytest.mark.browser
WARNING = "missing ScriptRunContext"


@pytest.fixture(scope="module")
def server(chromium_path):
    s = StreamlitServer(APP_SCRIPT, ROOT, "export-context").start()
    yield s
    s.stop()


def click_every_download(page) -> list[bytes]:
    files = []
    buttons = page.locator('[data-testid="stDownloadButton"] button')
    for i in range(buttons.count()):
        with page.expect_download(timeout=90_000) as info:
            buttons.nth(i).click()
        files.append(Path(info.value.path()).read_bytes())
    return files


@pytest.mark.parametrize("path", ["/", "/goals", "/data"])
def test_downloads_leave_no_context_warnings_in_the_log(browser, server, path):
    ctx, page, _ = new_page(browser)
    try:
        page.goto(server.url + path)
        wait_idle(page)
        page.wait_for_selector('[data-testid="stDownloadButton"] button', timeout=60_000)
        before = server.log_path.read_text(errors="replace").count(WARNING)
        files = click_every_download(page)
        assert files and all(files), "a download came back empty"
        log = server.log_path.read_text(errors="replace")
        assert log.count(WARNING) == before, server.log_tail(20)
    finally:
        ctx.close()


def test_an_english_deck_is_worded_in_english(browser, server):
    ctx, page, _ = new_page(browser)
    try:
        page.goto(server.url + "/?lang=en")
        wait_idle(page)
        with page.expect_download(timeout=90_000) as info:
            page.locator('[data-testid="stDownloadButton"] button').first.click()
        titles = slides.slide_titles(Path(info.value.path()).read_bytes())
        civil = i18n.t("民政", "en")
        assert civil != "民政" and any(t.startswith(civil) for t in titles), titles
        assert not any("民政" in t for t in titles), titles
        assert WARNING not in server.log_path.read_text(errors="replace"), server.log_tail(20)
    finally:
        ctx.close()
