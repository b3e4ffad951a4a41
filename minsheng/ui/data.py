"""The cache edge over `minsheng.repo`: every cached call is keyed by the data version and the user's area.

The area (the signed-in user's region; None in single-user mode) is read from the session here and
passed to every regional query as a bound parameter, so no page can ask for rows outside it. A
page's own queries take its `Selection`, which carries both; they are cached on `Selection.key()`.
The data version is read once per script run (`begin_run`, called by the router), not per call.
Deferred download callables run outside the session: pages capture what they need while drawing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import streamlit as st

from minsheng import export, pending, regions as region_tree, repo, store
from minsheng.ingest import start
from minsheng.selection import Selection
from minsheng.ui import session

_RUN_VERSION = "_ms_run_version"
PENDING = "ms_pending"                 # the sidebar's 含未审核数据 toggle
_REAL_VERSION = "_ms_real_version"     # the version of the data as approved, read once a run too
_PENDING_ON = "_ms_pending_on"         # this run reads the view with the pending returns
_PENDING_PROBLEM = "_ms_pending_problem"


def begin_run() -> None:
    """Read the data version for this script run (the router's first step): every cached call of
    the run is keyed by it, and a commit in between shows at the next run, never half-way. With the
    sidebar's 含未审核数据 on (as the last run left it), the run reads the view with the pending returns
    merged in (minsheng/pending.py) — or, when it cannot be made, the approved data and says so."""
    folder, st.session_state[_PENDING_PROBLEM] = None, None
    real = st.session_state[_REAL_VERSION] = store.version(store.data_dir())
    if st.session_state.get(PENDING):
        try:
            folder = _pending_view(real)
        except store.StoreError as e:
            st.session_state[_PENDING_PROBLEM] = str(e)
    store.read_from(folder)
    st.session_state[_PENDING_ON] = folder is not None
    st.session_state[_RUN_VERSION] = store.version(folder) if folder is not None else real


@st.cache_resource(max_entries=4, show_spinner=False, validate=lambda folder: folder is None or folder.exists())
def _pending_view(real_version: str) -> Path | None:
    return pending.view(store.data_dir())


def pending_on() -> bool:
    """Whether this run reads 未审核 figures too (every page, image, deck and file then says so)."""
    return bool(st.session_state.get(_PENDING_ON))


def pending_problem() -> str | None:
    return st.session_state.get(_PENDING_PROBLEM)


@st.cache_data(max_entries=32, show_spinner=False)
def _pending_count(real_version: str, area: str | None) -> int:
    return pending.count(store.data_dir(), area)


def pending_count() -> int:
    """Returns sent and not yet reviewed in the user's area (of the data as approved)."""
    real = st.session_state.get(_REAL_VERSION) or store.version(store.data_dir())
    return _pending_count(real, area())


def version() -> str:
    ver = st.session_state.get(_RUN_VERSION)
    return ver if ver is not None else store.version(store.read_dir())


def area() -> str | None:
    """The signed-in user's area (raises session.NotSignedIn before sign-in: fail closed)."""
    return session.area()


@st.cache_data(max_entries=32, show_spinner=False)
def _regions(ver: str, area: str | None) -> pd.DataFrame:
    return repo.regions(area=area)


@st.cache_resource(max_entries=32, show_spinner=False)
def _tree(ver: str, area: str | None) -> region_tree.Tree:
    return region_tree.Tree(_regions(ver, area))


@st.cache_data(max_entries=8, show_spinner=False)
def _indicators(ver: str) -> pd.DataFrame:
    return repo.indicators()


@st.cache_data(max_entries=8, show_spinner=False)
def _periods(ver: str) -> pd.DataFrame:
    return repo.periods()


@st.cache_data(max_entries=8, show_spinner=False)
def _meta(ver: str) -> dict:
    return repo.meta()


@st.cache_data(max_entries=8, show_spinner=False)
def _loaded(ver: str) -> dict[str, int]:
    return start.loaded(store.read_dir())


def loaded() -> dict[str, int]:
    """Rows in each table of the data read (whole store, not the user's area): what a new store still lacks."""
    return _loaded(version())


def first_run() -> bool:
    """Whether the store still lacks regions, indicators or values: the pages show the first-run page.
    False when the data cannot be read at all: the router's data check (frame.data_problem) says why."""
    try:
        return start.first_run(loaded())
    except (store.StoreError, OSError):
        return False


def regions() -> pd.DataFrame:
    """The regions the user may see: their area and everything below it."""
    return _regions(version(), area())


def tree() -> region_tree.Tree:
    """The same regions as a tree (built once per data version and area)."""
    return _tree(version(), area())


def top_areas() -> set[str]:
    """The codes at the top of the whole region table (a city's own, or several: the demo has two cities). An
    admin whose area is the only one sees every region, and 用户管理 shows them also the audit lines of names
    not (or no longer) in the users file, whose area nobody can tell."""
    return set(_tree(version(), None).roots)


def indicators() -> pd.DataFrame:
    return _indicators(version())


def periods() -> pd.DataFrame:
    return _periods(version())


def meta() -> dict:
    return _meta(version())


# Each cached function is keyed by its first argument; the selection itself (`_sel`) is not hashed.

@st.cache_data(max_entries=512, show_spinner=False)
def _series(key: tuple, _sel: Selection) -> pd.DataFrame:
    return repo.series(**_sel.params())


@st.cache_data(max_entries=64, show_spinner=False)
def _targets(ver: str, area: str | None, region: str, year: int) -> pd.DataFrame:
    return repo.targets(region, year, area=area)


@st.cache_data(max_entries=64, show_spinner=False)
def _regions_below(ver: str, area: str | None, root: str, level: str | None, on: dt.date | None) -> pd.DataFrame:
    return repo.regions_below(root, level, area=area, on=on)


@st.cache_data(max_entries=32, show_spinner=False)
def _export_preview(key: tuple, limit: int, _sel: Selection) -> tuple[int, pd.DataFrame]:
    return export.count(_sel), export.table(_sel, limit=limit)


def series(sel: Selection) -> pd.DataFrame:
    """The selection's indicators for its regions and periods, rolled up by kind."""
    return _series(sel.key(), sel)


def targets(sel: Selection) -> pd.DataFrame:
    """The tasks set for the selection's region and year."""
    return _targets(sel.version, sel.area, sel.region, sel.year)


def regions_below(sel: Selection, root: str, level: str | None, on: dt.date | None = None) -> pd.DataFrame:
    """The regions under `root` at `level` that the selection's user may see (with `on`: those valid that day)."""
    return _regions_below(sel.version, sel.area, root, level, on)


def export_preview(sel: Selection, limit: int) -> tuple[int, pd.DataFrame]:
    """The 数据 page's row count and first `limit` rows: what its files will hold."""
    return _export_preview(sel.key(), limit, sel)
