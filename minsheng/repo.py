"""Typed calls over `queries/*.sql`: the only place the app runs SQL. Values are always bound."""

from __future__ import annotations

import datetime as dt
import os
from functools import lru_cache
from pathlib import Path

import pandas as pd

from minsheng import db, fmt, store

QUERIES = store.ROOT / "queries"
ENGINES = ("duckdb", "clickhouse")  # DuckDB over the Parquet store (default); ClickHouse (minsheng/clickhouse.py)


@lru_cache(maxsize=None)
def load_sql(name: str) -> str:
    path = QUERIES / f"{name}.sql"
    if path.parent != QUERIES or not path.exists():
        raise ValueError(f"未知查询：{name}")
    return path.read_text(encoding="utf-8")


def engine() -> str:
    """The engine queries run on, from MINSHENG_ENGINE. With clickhouse, every query reads the version
    last published there (python -m minsheng publish --engine clickhouse), not `directory` — except in a
    run that reads a derived view (含未审核数据, store.derived): that view exists only here, so DuckDB
    reads it."""
    name = (os.environ.get("MINSHENG_ENGINE") or "duckdb").strip().lower()
    if name not in ENGINES:
        raise ValueError(f"MINSHENG_ENGINE 应为 {' 或 '.join(ENGINES)}，而不是 {name!r}")
    return "duckdb" if store.reads_derived() else name


def run(name: str, params: dict | None = None, directory: Path | None = None) -> pd.DataFrame:
    if engine() == "clickhouse":
        from minsheng import clickhouse

        return clickhouse.run(name, params or {})
    cur = db.cursor(directory)
    try:
        return cur.execute(load_sql(name), params or {}).df()
    finally:
        cur.close()


# `area` is the signed-in user's region code: every query that returns regional data takes it as a
# bound parameter and answers only for that region's subtree (None: no limit, single-user mode).

def regions(directory: Path | None = None, area: str | None = None) -> pd.DataFrame:
    return run("regions", {"area": area}, directory=directory)


def regions_below(root: str, level: str | None, directory: Path | None = None, area: str | None = None,
                  on: dt.date | None = None) -> pd.DataFrame:
    """The regions under `root` at `level` (the root itself when `level` is None), within `area`;
    with `on`, only those whose code is valid that day (minsheng/lineage.py)."""
    return run("regions_below", {"root": root, "level": level, "area": area, "on": on}, directory)


def indicators(directory: Path | None = None) -> pd.DataFrame:
    """The catalogue, `decimals` settled: the indicator's own, else its unit's (fmt.decimals_for), so
    every caller formats a value with one number and none applies the default rule again."""
    df = run("indicators", directory=directory)
    df["decimals"] = pd.array([fmt.decimals_for(u, k, d) for u, k, d in zip(df["unit"], df["kind"], df["decimals"])],
                              dtype="int64")
    return df


def periods(directory: Path | None = None) -> pd.DataFrame:
    return run("periods", directory=directory)


def _series_params(indicator_ids, region_codes, date_from: dt.date, date_to: dt.date, area: str | None) -> dict:
    return {"indicators": list(indicator_ids), "regions": list(region_codes), "date_from": date_from,
            "date_to": date_to, "area": area}


def series(indicator_ids: list[str] | tuple[str, ...], region_codes: list[str] | tuple[str, ...],
           date_from: dt.date, date_to: dt.date, directory: Path | None = None,
           area: str | None = None) -> pd.DataFrame:
    """Indicator values for regions and periods, rolled up from the reporting level by kind."""
    df = run("series", _series_params(indicator_ids, region_codes, date_from, date_to, area), directory)
    df["period"] = pd.to_datetime(df["period"])
    return df


def series_batches(indicator_ids, region_codes, date_from: dt.date, date_to: dt.date, directory: Path | None = None,
                   area: str | None = None, batch_rows: int = 100_000):
    """`series` as a stream of DataFrames of at most `batch_rows` rows, for exports too large to hold."""
    params = _series_params(indicator_ids, region_codes, date_from, date_to, area)
    for batch in _series_arrow(params, directory, batch_rows):
        df = batch.to_pandas()
        df["period"] = pd.to_datetime(df["period"])
        yield df


def _series_arrow(params: dict, directory: Path | None, batch_rows: int):
    if engine() == "clickhouse":  # the answer arrives whole, then goes out in batches
        from minsheng import clickhouse

        yield from clickhouse.conform(clickhouse.arrow("series", params)).to_batches(batch_rows)
        return
    cur = db.cursor(directory)
    try:
        # A relation's Arrow reader streams (DuckDB 2.0: an execute() result would copy every row first).
        yield from cur.sql(load_sql("series"), params=params).to_arrow_reader(batch_rows)
    finally:
        cur.close()


def series_count(indicator_ids, region_codes, date_from: dt.date, date_to: dt.date, directory: Path | None = None,
                 area: str | None = None) -> int:
    """How many rows `series` would return."""
    params = _series_params(indicator_ids, region_codes, date_from, date_to, area)
    if engine() == "clickhouse":
        from minsheng import clickhouse

        return clickhouse.count("series", params)
    cur = db.cursor(directory)
    try:
        return cur.execute("select count(*) from (\n" + load_sql("series") + "\n)", params).fetchall()[0][0]
    finally:
        cur.close()


def like_for_like(indicator_ids, region_codes, date_from: dt.date, date_to: dt.date, directory: Path | None = None,
                  area: str | None = None) -> pd.DataFrame:
    """For each region, indicator and period from `date_from` to `date_to`: the roll-up over just the
    reporting units that reported in that period and a year before (value, base_value, n_both), the
    basis of a like-for-like 同比. Ask only for what is on screen: it reads the regions' leaf rows."""
    df = run("like_for_like", _series_params(indicator_ids, region_codes, date_from, date_to, area), directory)
    df["period"] = pd.to_datetime(df["period"])
    return df


def targets(region_code: str, year: int, directory: Path | None = None, area: str | None = None) -> pd.DataFrame:
    return run("targets", {"region": region_code, "year": int(year), "area": area}, directory)


def meta(directory: Path | None = None) -> dict:
    return store.read_meta(directory or store.read_dir())
