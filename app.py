"""The one way to start the dashboard: Streamlit serves dashboard.py (the router) through st.App, with the
sign-in routes, the session-cookie check and the security headers of minsheng/web.py in front of it.

    make run                         (or: python -m streamlit run app.py)

`streamlit run dashboard.py` would serve the pages without any of that; dashboard.py refuses to.
"""

import streamlit as st

from minsheng import web

app = st.App("dashboard.py", routes=web.routes(), middleware=web.middleware(), lifespan=web.lifespan)

if __name__ == "__main__":
    app.run()
