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
    scripts = [url for url, rel in entries if rel == "modulepreload"]
    styles = [url for url, rel in entries if rel == "preload"]
    assert scripts and all(u.endswith(".js") for u in scripts) and all(u.endswith(".css") for u in styles)
    bodies = {}
    for url in scripts + styles:
        status, h, body = get(urljoin(server.url, url))
        assert status == 200, url
        assert ("javascript" if url.endswith(".js") else "text/css") in h["content-type"], (url, h["content-type"])
        bodies[url.rsplit("/", 1)[1]] = body
    deck = [name for name, body in bodies.items() if all(m in body for m in DECK_MARKERS)]
    assert len(deck) == 1 and deck[0].startswith("DeckGlJsonChart."), sorted(bodies)
    assert any(u.rsplit("/", 1)[1].startswith("DeckGlJsonChart.") for u in styles), styles
    # nothing a preloaded chunk needs at once is left for a second round trip: each static import is either
    # named in the header or already a modulepreload / script of the page itself
    in_page = {n.decode() for n in re.findall(rb'(?:href|src)="\./static/js/([\w.\-]+\.js)"', page)}
    assert in_page, "the HTML no longer lists Streamlit's own preloads: the test reads the wrong page"
    needed = set()
    for name, body in bodies.items():
        if name.endswith(".js"):
            needed |= static_imports(body)
    assert needed - set(bodies) - in_page == set()
    assert "script-src 'self'" in headers["content-security-policy"]  # the preload is same-origin: allowed


def test_other_pages_prefetch_the_map_chunk_and_nothing_else_gets_a_link(server):
    deck = next(u for u, rel in links(get(server.url + "/map")[1].get("link"))
                if rel == "modulepreload" and u.rsplit("/", 1)[1].startswith("DeckGlJsonChart."))
    for path in ("/", "/trend", "/data"):
        status, headers, _ = get(server.url + path)
        assert status == 200
        rels = [rel for u, rel in links(headers.get("link")) if u == deck]
        assert rels == ["prefetch"], (path, rels)  # fetched at low priority, not compiled: never slows the page
    for path in (deck, "/_stcore/health", "/signin"):
        assert "link" not in get(urljoin(server.url, path))[1], path


def test_every_chunk_the_registry_names_is_in_the_installed_streamlit():
    """A Streamlit upgrade that renames a component's chunk shows up here, not as a silently slower page."""
    from minsheng.ui import pages

    stems = {stem for p in pages.PAGES for stem in p.chunks}
    missing = sorted(stem for stem in stems if not web.chunk_files(stem))
    assert not missing, missing
    assert web.chunk_files("NoSuchChunkAnywhere") == ()
    assert web.page_links("/no-such-page") is None
