"""Router: page config, the sign-in gate, the shared sidebar filters, and navigation between the pages.

The page scripts live in views/, not pages/: with a folder named pages/ beside the main script,
Streamlit 1.67 runs in its v1 multipage mode, and a deep link opened first after a start runs
the page script without this router (no navigation, no page config, no shared filters).
"""

from pathlib import Path

import streamlit as st

from minsheng.ui import chrome, data, frame, inbox, pages, session, signin, state, text

ASSETS = Path(__file__).parent / "assets"
# A local icon: a material-symbol page icon makes the browser fetch the favicon from a font CDN.
st.set_page_config(page_title="民生指标看板", page_icon=str(ASSETS / "icon.png"), layout="wide")

T = text.T  # page titles follow the UI language (minsheng/i18n.py)
chrome.inject(text.lang())  # Streamlit's own English words in the UI language (minsheng/ui/chrome.py)
data.begin_run()  # the data version this run reads, once
# Sign-in first: refuses to serve without sign-in off loopback, shows the 未启用登录 banner in
# single-user mode, or draws the sign-in form and returns None.
user = signin.gate()
routes = {p.key: st.Page(p.script, title=T(p.title) + (inbox.badge() if p.key == "messages" else ""), icon=p.icon,
                         url_path=p.url or None, default=p is pages.DEFAULT)
          for p in pages.PAGES}  # the registry, minsheng/ui/pages.py; 消息中心 with its unread count
if user is None:
    st.navigation(list(routes.values()), position="hidden")  # keeps a deep link (/trend?region=…) for after sign-in
    st.stop()
# A page is listed for those with its right (导入: admins only); the page checks the role itself too.
allowed = [routes[p.key] for p in pages.PAGES if session.can(p.action)]
# A new store (no regions, indicators or values yet): every browsing page opens the first-run page
# (views/start.py), so a deep link or a bookmark lands there too; 导入 stays open for admins.
fresh = data.first_run()
start = st.Page(pages.START.script, title=T(pages.START.title), icon=pages.START.icon, url_path=pages.START.url)
page = st.navigation([*allowed, start] if fresh else allowed, position="hidden" if fresh else "sidebar")
problem = frame.data_problem()
if problem:
    st.error(problem)
    st.stop()
if fresh and page not in (start, routes["import"]):
    st.switch_page(start)
shown = pages.START if page is start else next(p for p in pages.PAGES if routes[p.key] is page)
state.begin()  # the filters write this run's URL; it is sent once, at the end: one history entry a run
try:
    if fresh:  # statements, not an expression: Streamlit's magic would draw the value of an expression line
        frame.first_run_sidebar(shown)
    else:
        frame.sidebar(shown)
    signin.sidebar_account()
    page.run()
finally:
    state.flush()
