"""Router: page config, the shared sidebar filters, and navigation between the pages."""

import streamlit as st

from minsheng.ui import frame

st.set_page_config(page_title="民生指标看板", page_icon=":material/monitoring:", layout="wide")

pages = [
    st.Page("pages/overview.py", title="总览", icon=":material/dashboard:", default=True, url_path="overview"),
    st.Page("pages/trend.py", title="趋势", icon=":material/show_chart:", url_path="trend"),
    st.Page("pages/map.py", title="地图", icon=":material/map:", url_path="map"),
    st.Page("pages/goals.py", title="目标", icon=":material/flag:", url_path="goals"),
    st.Page("pages/explore.py", title="数据", icon=":material/table:", url_path="data"),
]
page = st.navigation(pages)
problem = frame.data_problem()
if problem:
    st.error(problem)
    st.stop()
# Each page draws the shared sidebar itself (frame.sidebar): widgets drawn here, before
# page.run(), lose their state on reruns under AppTest in Streamlit 1.67, so the per-page
# tests could not exercise the filters.
page.run()
