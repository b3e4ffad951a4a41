"""Fields added to a table after data directories were first written: the one place that says which.

A file without such a field reads as if every row held NULL (the field's default) — in the views
(`db.py`, `observations.connect`) and in an import's merge (`ingest/pipeline.py`, whose commit then
writes it) — so an older directory, or a version kept from before, works unchanged and its files (and
their checksums) stay as they are. Where the field is present it is read as its type: pandas writes a
date column as a timestamp.

- indicators.decimals: the indicator's display precision (NULL: by unit, `fmt.decimals_for`).
- regions.valid_from / valid_to / successor_code: code changes (`lineage.py`).
"""

from __future__ import annotations

import pandas as pd

# table → field → (SQL type, pandas dtype)
ADDED = {
    "indicators": {"decimals": ("INTEGER", "Int64")},
    "regions": {"valid_from": ("DATE", "datetime64[ns]"), "valid_to": ("DATE", "datetime64[ns]"),
                "successor_code": ("VARCHAR", "str")},
}


def with_added(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """`df` (table `name`) with every added field as its type, empty where `df` lacks it."""
    fields = ADDED.get(name, {})
    if not fields:
        return df
    out = df.copy()
    for col, (_, dtype) in fields.items():
        if col not in out:
            out[col] = pd.Series(pd.NaT if dtype.startswith("datetime") else pd.NA, index=out.index, dtype=dtype)
        elif dtype.startswith("datetime"):
            out[col] = pd.to_datetime(out[col]).astype(dtype)
    return out


def select_list(name: str, names: set[str]) -> str:
    """The select list over a Parquet file of table `name` with columns `names` that reads every added
    field as its type: cast where present, NULL where the file predates it (our own names only)."""
    fields = ADDED.get(name, {})
    present = [c for c in fields if c in names]
    replace = ", ".join(f"{c}::{fields[c][0]} as {c}" for c in present)
    added = "".join(f", null::{sql} as {c}" for c, (sql, _) in fields.items() if c not in names)
    return ("* replace (" + replace + ")" if replace else "*") + added


def typed(df: pd.DataFrame, schema: dict[str, str]) -> pd.DataFrame:
    """`df` with exactly the columns of `schema` (name → string | int64 | float64 | date32), each as its type,
    missing ones empty: how the reporting cycle's small tables (forms, submissions, returns) are read and
    written, so their Parquet schema never drifts."""
    out = pd.DataFrame(index=df.index)
    for col, kind in schema.items():
        v = df[col] if col in df else pd.Series(None, index=df.index, dtype="object")
        if kind == "int64":
            out[col] = pd.to_numeric(v).astype("int64")
        elif kind == "float64":
            out[col] = pd.to_numeric(v).astype("float64")
        elif kind == "date32":
            out[col] = pd.Series([None if pd.isna(x) else pd.Timestamp(x).date() for x in v], index=df.index,
                                 dtype="object")
        else:
            out[col] = v.astype("object").where(v.notna(), None)
    return out.reset_index(drop=True)
