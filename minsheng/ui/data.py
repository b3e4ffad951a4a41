"""The cache edge over `minsheng.repo`: every cached call is keyed by the data version."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from minsheng import repo, store


def version() -> str:
    return store.version(store.data_dir())


@st.cache_data(max_entries=8, show_spinner=False)
def _regions(ver: str) -> pd.DataFrame:
    return repo.regions()


@st.cache_data(max_entries=8, show_spinner=False)
def _indicators(ver: str) -> pd.DataFrame:
    return repo.indicators()


@st.cache_data(max_entries=8, show_spinner=False)
def _periods(ver: str) -> pd.DataFrame:
    return repo.periods()


@st.cache_data(max_entries=512, show_spinner=False)
def _series(ver: str, indicator_ids: tuple, region_codes: tuple, d0: dt.date, d1: dt.date) -> pd.DataFrame:
    return repo.series(indicator_ids, region_codes, d0, d1)


@st.cache_data(max_entries=64, show_spinner=False)
def _targets(ver: str, region_code: str, year: int) -> pd.DataFrame:
    return repo.targets(region_code, year)


@st.cache_data(max_entries=8, show_spinner=False)
def _meta(ver: str) -> dict:
    return repo.meta()


def regions() -> pd.DataFrame:
    return _regions(version())


def indicators() -> pd.DataFrame:
    return _indicators(version())


def periods() -> pd.DataFrame:
    return _periods(version())


def series(indicator_ids, region_codes, d0: dt.date, d1: dt.date) -> pd.DataFrame:
    return _series(version(), tuple(indicator_ids), tuple(region_codes), d0, d1)


def targets(region_code: str, year: int) -> pd.DataFrame:
    return _targets(version(), region_code, int(year))


def meta() -> dict:
    return _meta(version())
