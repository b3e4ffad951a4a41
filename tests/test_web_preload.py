"""The Link header that has the browser fetch a page's heavy front-end chunk at once (issue 15, 地图's load):
against the real server (app.py), over plain HTTP, no browser. What the header must name is worked out here
from the files the server serves (the chunk's own import statements), not from minsheng/web.py."""

from __future__ import annotations

import re
import urllib.request
from urllib.parse import urljoin

import pytest

from browser_support import APP_SCRIPT, ROOT, StreamlitServer
from minsheng import web

# deck.gl's own strings: the chunk that draws st.pydeck_chart holds them, no other chunk of Streamlit's does
DECK_MARKERS = (b"deck.gl: assertion failed", b"GeoJsonLayer")


@pytest.fixture(scope="module")
def server():
    s = StreamlitServer(APP_SCRIPT, ROOT, "preload").start()
    yield s
    s.stop()


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=30) as r:
        return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()


def links(header: str | None) -> list[tuple[str, str]]:
    """(url, rel) for each entry of a Link header."""
    out = []
    for part in re.split(r",\s*(?=<)", header or ""):
        m = re.match(r"<([^>]+)>(.*)", part.strip())
        if m:
            rel = re.search(r"\brel=\"?([\w-]+)", m.group(2))
            out.append((m.group(1), rel.group(1) if rel else ""))
    return out


def static_imports(body: bytes) -> set[str]:
    return {m.decode() for m in re.findall(rb"""(?:\bfrom|\bimport)\s*["'`]\./([\w.\-]+\.js)["'`]""", body)}


def test_the_map_page_preloads_the_deck_gl_chunk_and_everything_it_imports(server):
    status, headers, page = get(server.url + "/map")
    assert status == 200 and headers["content-type"].startswith("text/html")
    entries = links(headers.get("link"))
    assert entries and all(rel == "modulepreload" for _, rel in entries), entries
    bodies = {}
    for url, _ in entries:
        status, h, body = get(urljoin(server.url, url))
        assert status == 200, url
        assert "javascript" in h["content-type"], (url, h["content-type"])
        bodies[url.rsplit("/", 1)[1]] = body
    deck = [name for name, body in bodies.items() if all(m in body for m in DECK_MARKERS)]
    assert len(deck) == 1 and deck[0].startswith("DeckGlJsonChart."), sorted(bodies)
    # nothing the chunk needs at once is left for a second round trip: each static import is either named
    # in the header or already a modulepreload / script of the page itself
    in_page = set(re.findall(rb'(?:href|src)="\./static/js/([\w.\-]+\.js)"', page))
    in_page = {n.decode() for n in in_page}
    assert in_page, "the HTML no longer lists Streamlit's own preloads: the test reads the wrong page"
    needed = set()
    for body in bodies.values():
        needed |= static_imports(body)
    assert needed - set(bodies) - in_page == set()
    assert "script-src 'self'" in headers["content-security-policy"]  # the preload is same-origin: allowed


def test_other_pages_only_prefetch_it_and_nothing_else_gets_a_link(server):
    _, map_headers, _ = get(server.url + "/map")
    deck = {url for url, _ in links(map_headers.get("link"))}
    for path in ("/", "/trend", "/data"):
        status, headers, _ = get(server.url + path)
        assert status == 200
        entries = links(headers.get("link"))
        assert {u for u, _ in entries} == deck, path
        assert {rel for _, rel in entries} == {"prefetch"}, path  # low priority: never slows the page itself
    some_js = next(iter(deck))
    for path in (some_js, "/_stcore/health", "/signin"):
        assert "link" not in get(urljoin(server.url, path))[1], path


def test_a_chunk_that_is_not_there_gives_no_files():
    assert web.chunk_files("NoSuchChunkAnywhere") == ()
    assert web.page_links("/no-such-page") is None
