"""The 地图 page's clicks: a region on the map or a row of its ranking opens that region.

The map and the ranking are keyed by the region and level they draw. Streamlit keeps a chart's
selection by key and re-applies it by index: with one key for every drill, the next map coloured
the same index as selected and dimmed the rest, so its colours no longer matched the legend.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from minsheng.selection import Selection
from minsheng.ui import data, grids, state
from minsheng.ui.text import T



def key(name: str, sel: Selection) -> str:
    """A widget key that changes with what is drawn, so a selection never outlives its map."""
    return f"{name}_{sel.region}_{sel.level}"


def open_region(code: str | None, sel: Selection) -> None:
    """Make `code` the sidebar's region (as picking it there would) and run the page again."""
    if code and code != sel.region and code in data.tree().names:
        state.set_value("region", code)
        st.rerun()


def picked_on_map(event, layer: str = "regions") -> str | None:
    """The code of the region clicked on the map, if any."""
    picked = (event.selection.objects.get(layer) or []) if event and event.selection else []
    if not picked:
        return None
    return picked[0].get("code") or picked[0].get("properties", {}).get("code")


def picked_row(event, codes: list[str]) -> str | None:
    """The code of the ranking row clicked, if any."""
    rows = event.selection.rows if event and event.selection else []
    return codes[rows[0]] if rows and 0 <= rows[0] < len(codes) else None


def with_county(ranked: pd.DataFrame) -> pd.DataFrame:
    """The ranking with 所属县区 (each region's parent) when its regions are of more than one county:
    two towns of one name in two counties, or a city's townships, read without a hover."""
    tree = data.tree()
    parents = ranked["code"].map(lambda c: tree.parent.get(c))
    if parents.nunique(dropna=True) <= 1:
        return ranked
    return ranked.assign(county=parents.map(lambda p: tree.label(p) if p else "—"))


def ranking(show: pd.DataFrame, codes: list[str], column_config: dict, sel: Selection) -> str | None:
    """The ranking table; clicking a row returns that row's region code."""
    # names never cut (the grid's automatic width cut 来龙门街道)
    names = {c: st.column_config.TextColumn(width=grids.text_px(show[c], c, 420))
             for c in (T("区域"), T("所属县区")) if c in show.columns}
    event = st.dataframe(show, placeholder="—", hide_index=True, width="stretch", height=min(560, 35 * (len(show) + 1) + 3),
                         column_config={**column_config, **names}, on_select="rerun",
                         selection_mode="single-row", key=key("map_rank", sel))
    return picked_row(event, codes)
