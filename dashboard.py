"""Router: page config, the sign-in gate, the shared sidebar filters, and navigation between the pages.

The page scripts live in views/, not pages/: with a folder named pages/ beside the main script,
Streamlit 1.67 runs in its v1 multipage mode, and a deep link opened first after a start runs
the page script without this router (no navigation, no page config, no shared filters).
"""

from pathlib import Path

import streamlit as st

from minsheng.ui import frame, session

ASSETS = Path(__file__).parent / "assets"
# A local icon: a material-symbol page icon makes the browser fetch the favicon from a font CDN.
st.set_page_config(page_title="民生指标看板", page_icon=str(ASSETS / "icon.png"), layout="wide")

T = frame.T  # page titles follow the UI language (minsheng/i18n.py)
# Sign-in first: refuses to serve without sign-in off loopback, shows the 未启用登录 banner in
# single-user mode, or draws the sign-in form and returns None.
user = session.gate()
pages = [
    st.Page("views/overview.py", title=T("总览"), icon=":material/dashboard:", default=True),  # served at /
    st.Page("views/trend.py", title=T("趋势"), icon=":material/show_chart:", url_path="trend"),
    st.Page("views/map.py", title=T("地图"), icon=":material/map:", url_path="map"),
    st.Page("views/goals.py", title=T("目标"), icon=":material/flag:", url_path="goals"),
    st.Page("views/explore.py", title=T("数据"), icon=":material/table:", url_path="data"),
    st.Page("views/import_page.py", title=T("导入"), icon=":material/upload_file:", url_path="import"),
]
if user is None:
    st.navigation(pages, position="hidden")  # keeps a deep link (/trend?region=…) for after sign-in
    st.stop()
# The 导入 page (import, rollback) is listed for admins only; the page checks the role itself too.
page = st.navigation([p for p in pages if p.url_path != "import" or session.can("import")])
problem = frame.data_problem()
if problem:
    st.error(problem)
    st.stop()
frame.sidebar()
session.sidebar_account()
page.run()
