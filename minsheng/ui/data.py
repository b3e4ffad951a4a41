"""The cache edge over `minsheng.repo`: every cached call is keyed by the data version and the user's area.

The area (the signed-in user's region; None in single-user mode) is read from the session here and
passed to every regional query as a bound parameter, so no page can ask for rows outside it.
Deferred download callables run outside the session: pages capture `area()` while drawing.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from minsheng import export, regions as region_tree, repo, store
from minsheng.ui import session


def version() -> str:
    return store.version(store.data_dir())


def area() -> str | None:
    """The signed-in user's area (raises session.NotSignedIn before sign-in: fail closed)."""
    return session.area()


@st.cache_data(max_entries=32, show_spinner=False)
def _regions(ver: str, area: str | None) -> pd.DataFrame:
    return repo.regions(area=area)


@st.cache_resource(max_entries=32, show_spinner=False)
def _tree(ver: str, area: str | None) -> region_tree.Tree:
    return region_tree.Tree(_regions(ver, area))


def tree() -> region_tree.Tree:
    return _tree(version(), area())


@st.cache_data(max_entries=8, show_spinner=False)
def _indicators(ver: str) -> pd.DataFrame:
    return repo.indicators()


@st.cache_data(max_entries=8, show_spinner=False)
def _periods(ver: str) -> pd.DataFrame:
    return repo.periods()


@st.cache_data(max_entries=512, show_spinner=False)
def _series(ver: str, area: str | None, indicator_ids: tuple, region_codes: tuple, d0: dt.date,
            d1: dt.date) -> pd.DataFrame:
    return repo.series(indicator_ids, region_codes, d0, d1, area=area)


@st.cache_data(max_entries=64, show_spinner=False)
def _targets(ver: str, area: str | None, region_code: str, year: int) -> pd.DataFrame:
    return repo.targets(region_code, year, area=area)


@st.cache_data(max_entries=8, show_spinner=False)
def _meta(ver: str) -> dict:
    return repo.meta()


def regions() -> pd.DataFrame:
    """The regions the user may see: their area and everything below it."""
    return _regions(version(), area())


def indicators() -> pd.DataFrame:
    return _indicators(version())


def periods() -> pd.DataFrame:
    return _periods(version())


def series(indicator_ids, region_codes, d0: dt.date, d1: dt.date) -> pd.DataFrame:
    return _series(version(), area(), tuple(indicator_ids), tuple(region_codes), d0, d1)


def targets(region_code: str, year: int) -> pd.DataFrame:
    return _targets(version(), area(), region_code, int(year))


def meta() -> dict:
    return _meta(version())


@st.cache_data(max_entries=32, show_spinner=False)
def _export_preview(ver: str, area: str | None, indicators: tuple, region: str, level: str | None, d0: dt.date,
                    d1: dt.date, regions: tuple, limit: int) -> tuple[int, pd.DataFrame]:
    q = export.Query(list(indicators), region, level, d0, d1, list(regions) or None, area=area)
    return export.count(q), export.table(q, limit=limit)


def export_preview(q: export.Query, limit: int) -> tuple[int, pd.DataFrame]:
    """The 数据 page's row count and first `limit` rows, cached like every other query (its own area,
    checked into `q` by export.check)."""
    return _export_preview(version(), q.area, tuple(q.indicators), q.region, q.level, q.date_from, q.date_to,
                           tuple(q.regions or ()), limit)
