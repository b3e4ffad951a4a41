"""Whole page runs timed with AppTest: `python -m bench.pages PLAN OUT`, in a process of its own
on the data in MINSHENG_DATA (set by the caller), so the page side's peak RSS is its own."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from bench import peak_rss_mb
from minsheng import store
from minsheng.ui import pages as registry
from minsheng.ui import state


def main(plan_path: str, out: str) -> int:
    """总览 cold, warm and rerun, 趋势 for the plan's county, 地图 of the city's townships; times,
    the map's deck size and errors to OUT/pages.json."""
    pg = json.loads(Path(plan_path).read_text(encoding="utf-8"))["pages"]
    at = AppTest.from_file(str(store.ROOT / "dashboard.py"), default_timeout=900)
    at.query_params["region"] = pg["city"]
    at.query_params["year"] = str(pg["year"])
    res, errors = {}, []

    def timed(name: str) -> None:
        t = time.perf_counter()
        at.run()
        res[name] = 1000 * (time.perf_counter() - t)
        errors.extend(f"{name}: {e.value}" for e in at.exception)

    timed("overview_first")  # imports, connection, every cache empty
    if not at.metric:
        errors.append("overview: 没有 KPI 卡片")
    st.cache_data.clear()
    timed("overview")  # the queries again, in a warm process
    timed("overview_rerun")  # a rerun that hits st.cache_data
    at.session_state[state.value_key("region")] = pg["county"]
    at.query_params["inds"] = pg["trend"]
    at.switch_page(registry.get("trend").script)
    timed("trend")
    if not at.get("plotly_chart"):
        errors.append("trend: 没有画出图表")
    timed("trend_rerun")
    # 地图 at the city's townships: the largest deck a page sends; its JSON size is what the
    # browser parses before it draws (90 KB of counties before it was made compact)
    at.session_state[state.value_key("region")] = pg["city"]
    at.query_params["maplevel"] = "township"
    at.switch_page(registry.get("map").script)
    timed("map")
    decks = at.get("deck_gl_json_chart")  # none for a data set without boundaries or coordinates
    timed("map_rerun")
    deck_kb = round(len(decks[0].proto.json.encode("utf-8")) / 1024, 1) if decks else None
    (Path(out) / "pages.json").write_text(json.dumps({"page_run_ms": res, "errors": errors, "peak_rss_mb": peak_rss_mb(),
                                                       "map_deck_kb": deck_kb}),
                                          encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
