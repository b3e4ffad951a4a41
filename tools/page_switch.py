"""Time a page switch in headless Chromium, as a leader clicks the menu: from 总览 loaded, click 地图, 目标 or
趋势 and wait until its map or chart is drawn and the app is idle. Three timed rounds after a warm-up.

    python tools/page_switch.py [checkout]     # default: this checkout; needs Debian's chromium

Prints the median per page. Not a test: these machines are shared, so compare pages within one run.
"""

import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
log = tempfile.TemporaryFile()
p = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1",
                      "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                     cwd=root, stdout=log, stderr=log)
DRAWN = {"地图": "() => { const c = document.querySelector('[data-testid=\"stDeckGlJsonChart\"] canvas#deckgl-overlay'); return !!c && c.width > 0; }",
         "目标": "() => document.querySelectorAll('[data-testid=\"stPlotlyChart\"] .js-plotly-plot .barlayer .trace').length > 0",
         "趋势": "() => document.querySelectorAll('[data-testid=\"stPlotlyChart\"] .js-plotly-plot .scatterlayer .trace').length > 0"}
IDLE = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
try:
    for _ in range(100):
        try: socket.create_connection(("127.0.0.1", port), 1).close(); break
        except OSError: time.sleep(0.3)
    out = {k: [] for k in DRAWN}
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox", "--disable-gpu"],
                                 headless=True)
        for rnd in range(4):
            for target in DRAWN:
                pg = b.new_page(viewport={"width": 1600, "height": 1000})
                pg.goto(f"http://127.0.0.1:{port}/"); pg.wait_for_selector('[data-testid="stMetric"]', timeout=60000); pg.wait_for_timeout(1500)
                t0 = time.monotonic()
                pg.locator('[data-testid="stSidebarNavLink"]', has_text=target).click()
                pg.wait_for_function(DRAWN[target], timeout=60000); pg.wait_for_function(IDLE, timeout=60000)
                if rnd: out[target].append(time.monotonic() - t0)
                pg.close()
        b.close()
    for k, v in out.items(): print(k, "median %.2f s" % statistics.median(v), [round(x, 2) for x in v])
finally:
    p.terminate(); p.wait()
