"""The page registry: every page once, read by the router, the benchmark and the tests.

Plain data, no Streamlit: `dashboard.py` turns each entry into an `st.Page`; a page script finds
its own entry (title, key) through the frame. Page scripts live in views/, never pages/ (see
dashboard.py), and `url` is the path a deep link uses (the default page is served at /).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    key: str            # a short name for code and tests
    script: str         # relative to the project root
    url: str            # the URL path ("" for the default page at /)
    title: str          # the Chinese title, also its key in minsheng/i18n.py
    icon: str
    action: str = "browse"  # the right a user needs to see it (auth.ACTIONS)
    # the big lazily loaded Streamlit front-end chunks the page draws with (file stems in its static/js): the
    # page's HTML asks the browser to fetch and compile them at once (minsheng/web.py, page_links). The small
    # ones (the sidebar's pickers, tables) measured no gain and made every page's Link header ~8 KB, past a
    # proxy's default 4 KB buffer for response headers (nginx answered 502): only deck.gl and Plotly are named.
    chunks: tuple[str, ...] = ()


PAGES = (
    Page("overview", "views/overview.py", "", "总览", ":material/dashboard:"),
    Page("trend", "views/trend.py", "trend", "趋势", ":material/show_chart:",
         chunks=("PlotlyChart",)),
    Page("map", "views/map.py", "map", "地图", ":material/map:", chunks=("DeckGlJsonChart",)),
    Page("goals", "views/goals.py", "goals", "目标", ":material/flag:",
         chunks=("PlotlyChart",)),
    Page("explore", "views/explore.py", "data", "数据", ":material/table:"),
    Page("progress", "views/progress.py", "progress", "报送进度", ":material/checklist:"),
    Page("report", "views/report.py", "report", "数据填报", ":material/edit_note:", action="submit"),
    Page("review", "views/review.py", "review", "数据审核", ":material/fact_check:", action="review"),
    Page("messages", "views/messages.py", "messages", "消息中心", ":material/notifications:", action="messages"),
    Page("import", "views/import_page.py", "import", "导入", ":material/upload_file:", action="import"),
    Page("users", "views/users.py", "users", "用户管理", ":material/manage_accounts:", action="manage_users"),
)
DEFAULT = PAGES[0]
# Shown instead of every browsing page while the store lacks regions, indicators or values (a new
# bureau's first days); not listed in the menu once there is data.
START = Page("start", "views/start.py", "start", "开始使用", ":material/rocket_launch:")
ALL = (*PAGES, START)  # every page script in views/
BROWSE = tuple(p for p in PAGES if p.action == "browse")  # what every signed-in user sees


def get(key: str) -> Page:
    for p in PAGES:
        if p.key == key:
            return p
    raise KeyError(key)


def by_url(url: str) -> Page:
    """The page a URL path names ("" or "/" for the default page)."""
    url = url.strip("/")
    for p in PAGES:
        if p.url == url:
            return p
    raise KeyError(url)
