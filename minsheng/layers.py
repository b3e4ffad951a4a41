"""Observations and roll-ups on disk as a sorted base plus one small sorted delta, read as one table.

An import of a month's returns used to rewrite the whole observations file (a province's is
100M rows) and merge the re-rolled indicators into the whole rollup file. Now a version folder holds

  observations.parquet          the base: sorted by (region, indicator, period), hard-linked from
                                version to version, rewritten only by compaction
  observations.delta.parquet    every row imported since the base was written, cumulative (the
                                newest value of each key), sorted the same way, with `in_base`:
                                whether the row replaces a base row of the same key
  rollup.parquet / rollup.delta.parquet   the same for the roll-up rows, the delta holding each
  lfl.parquet / lfl.delta.parquet         re-rolled (indicator, period) whole (and lfl, the like-for-like
                                roll-up, each period a touched one pairs with)

and a reader sees `base minus the keys the delta replaces, plus the delta` (`relation_sql`, the one
definition, used by the app's views in db.py and by the build connection in observations.connect).
A commit writes only the new delta (its size, not the table's) and re-rolls only the (indicator,
period) pairs it touched; `fold` writes delta into base again — `python -m minsheng compact`, or a
commit whose delta would pass `limit` rows — streaming the sorted base once.

Imports never delete an observation (a row replaces the one with its key, or is new) and the
region tree and catalogue are fixed between commits that use a delta (a commit that changes them
rebuilds the roll-ups whole), so a roll-up row is likewise only ever replaced or added.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

LAYERED = ("observations", "rollup", "lfl")
KEY = ("indicator_id", "region_code", "period")  # one row of either table
IN_BASE = "in_base"  # the delta's own column: its row replaces a base row
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def base_path(folder: Path, name: str) -> Path:
    if name not in LAYERED:
        raise ValueError(f"未知分层表：{name}")
    return Path(folder) / f"{name}.parquet"


def delta_path(folder: Path, name: str) -> Path:
    if name not in LAYERED:
        raise ValueError(f"未知分层表：{name}")
    return Path(folder) / f"{name}.delta.parquet"


def has_delta(folder: Path, name: str) -> bool:
    return delta_path(folder, name).exists()


def quoted(text) -> str:
    """A SQL string literal for a path of ours (a version folder: configuration, never user input).
    DDL and COPY take no bound parameters; any character stays inside the literal."""
    return "'" + str(text).replace("'", "''") + "'"


def columns(folder: Path, name: str) -> list[str]:
    """The table's columns as readers see them: the base file's (the delta has them too, and `in_base`).
    They go into SQL text, so anything but a plain lower-case name is refused (our files have only those)."""
    names = pq.read_schema(base_path(folder, name)).names
    odd = [c for c in names if not _NAME.fullmatch(c)]
    if odd:
        raise ValueError(f"{name} 的列名不合规：{odd[:3]}")
    return names


def relation_sql(folder: Path, name: str) -> str:
    """SELECT text of table `name` of `folder` as readers see it. Only our own column names (from the
    base file's schema, checked against the delta's) and quoted paths go into it."""
    cols = columns(folder, name)
    listed = ", ".join(f'"{c}"' for c in cols)
    base = f"read_parquet({quoted(base_path(folder, name))})"
    if not has_delta(folder, name):
        return f"select {listed} from {base}"
    delta = f"read_parquet({quoted(delta_path(folder, name))})"
    missing = set(cols) - set(pq.read_schema(delta_path(folder, name)).names)
    if missing:
        raise ValueError(f"{name} 的增量文件缺少列：{'、'.join(sorted(missing))}")
    keys = ", ".join(KEY)
    # anti join on the replaced keys only (a month's returns: a few thousand), then the delta's rows
    return (f"select {listed} from {base} anti join (select {keys} from {delta} where {IN_BASE}) using ({keys}) "
            f"union all select {listed} from {delta}")


def merged_delta_sql(folder: Path, name: str, fresh: str) -> str:
    """SELECT text of the delta a commit writes: `folder`'s delta with the rows of the registered table
    `fresh` (a fixed name of the caller's) in place of those of the same key and the rest added, each with
    `in_base`: whether its key is in `folder`'s base (which the new version links). The base is read for
    its key columns only, for the keys of `fresh`."""
    if not _NAME.fullmatch(fresh):
        raise ValueError(f"不允许的表名：{fresh!r}")
    cols = columns(folder, name)
    keys = ", ".join(KEY)
    new = ", ".join(f'f."{c}"' for c in cols)
    old = delta_path(folder, name)
    kept = (f"select {', '.join(cols)}, {IN_BASE} from read_parquet({quoted(old)}) anti join {fresh} using ({keys}) "
            "union all " if old.exists() else "")
    return (f"{kept}select {new}, b.hit is not null as {IN_BASE} from {fresh} f "
            f"left join (select {keys}, true as hit from read_parquet({quoted(base_path(folder, name))}) "
            f"semi join {fresh} using ({keys})) b using ({keys})")


def rows(folder: Path, name: str) -> int:
    """How many rows the table has as readers see it, from Parquet footers and the delta's flags."""
    n = pq.read_metadata(base_path(folder, name)).num_rows
    if has_delta(folder, name):
        flags = pq.read_table(delta_path(folder, name), columns=[IN_BASE]).column(IN_BASE)
        n += len(flags) - int(pc.sum(flags).as_py() or 0)
    return n


def delta_rows(folder: Path, name: str) -> int:
    return pq.read_metadata(delta_path(folder, name)).num_rows if has_delta(folder, name) else 0


def limit(folder: Path) -> int:
    """Past how many delta rows a commit folds the delta into the base: MINSHENG_COMPACT_ROWS, else a
    quarter of the base and at most 100,000 (a delta every query reads beside the base stays small)."""
    configured = os.environ.get("MINSHENG_COMPACT_ROWS")
    if configured:
        return max(0, int(configured))
    return min(100_000, pq.read_metadata(base_path(folder, "observations")).num_rows // 4)
