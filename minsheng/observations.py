"""The observations table on disk: one Parquet file sorted by (region, indicator, period) in small
row groups, so that a page's own-value lookups read one or two row groups instead of the whole file.

Everything here streams: DuckDB sorts and joins (spilling to disk past its memory limit), pyarrow
writes whole row groups, and no function holds the table in Python. The streaming merge of sorted
files (`merge_sorted`) also serves rollup.parquet, which is sorted the same way.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import duckdb

from minsheng import fields, files, layers

ROW_GROUP = 122_880  # rows per Parquet row group: DuckDB's own unit, fine-grained statistics for pruning
SORT = ("region_code", "indicator_id", "period")
TABLES = ("regions", "indicators", "observations")  # the views `connect` makes, where their files exist


def _spill() -> Path:
    return Path(tempfile.gettempdir()) / f"minsheng-duckdb-{os.getpid()}"


def connect(folder: Path, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with views regions, indicators and observations over `folder`'s files,
    for the work that reads the whole observations file (sorting, merging, rolling up)."""
    # Spill to the system's temp folder: an in-memory database would otherwise spill into ./.tmp
    # under whatever the current directory is.
    # Bounded: sorting or aggregating a province's table spills to disk instead of taking the
    # machine's memory (DuckDB's default is 80 % of it).
    config = {"threads": 2, "preserve_insertion_order": False, "temp_directory": str(_spill()),
              "memory_limit": memory_limit or os.environ.get("MINSHENG_BUILD_MEMORY", "3GB")}
    con = duckdb.connect(":memory:", config=config)
    for name in TABLES:
        if not (Path(folder) / f"{name}.parquet").exists():
            continue
        if name in layers.LAYERED:  # base and delta as one table (layers.py)
            con.execute("create view " + name + " as " + layers.relation_sql(folder, name))
            continue
        rel = con.read_parquet(str(Path(folder) / f"{name}.parquet"))  # DuckDB quotes the path
        rel = rel.select(fields.select_list(name, set(rel.columns)))  # added fields, also in older files
        rel.create_view(name)
    return con


def close(con: duckdb.DuckDBPyConnection) -> None:
    con.close()
    shutil.rmtree(_spill(), ignore_errors=True)


def write(df, path: Path) -> None:
    """Write a DataFrame of observations to `path` as the table is stored: sorted, in ROW_GROUP-row groups."""
    df = df.sort_values(list(SORT), kind="stable")
    df.to_parquet(path, index=False, compression="zstd", row_group_size=ROW_GROUP)


def _write_sorted(reader, dest: Path, schema) -> int:
    """Write an Arrow stream to `dest` (atomically) in whole ROW_GROUP-row groups with `schema`; returns rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def write(tmp: Path) -> int:
        total = 0
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            held, n = [], 0
            for batch in reader:  # batches may come smaller than asked: gather whole row groups
                held.append(batch.select(schema.names).cast(schema))
                n += batch.num_rows
                total += batch.num_rows
                if n >= ROW_GROUP:
                    table = pa.Table.from_batches(held, schema)
                    writer.write_table(table.slice(0, ROW_GROUP), row_group_size=ROW_GROUP)
                    rest = table.slice(ROW_GROUP)
                    held, n = rest.to_batches(), rest.num_rows
            if n:
                writer.write_table(pa.Table.from_batches(held, schema), row_group_size=ROW_GROUP)
        return total

    return files.atomic_write(dest, write)


def sort(folder: Path, memory_limit: str | None = None) -> None:
    """Rewrite `folder`'s observations.parquet sorted by SORT in small row groups (DuckDB sorts,
    spilling to disk past `memory_limit`; pyarrow writes, keeping the file's own schema)."""
    import pyarrow.parquet as pq

    src = Path(folder) / "observations.parquet"
    con = connect(folder, memory_limit)
    try:
        reader = con.sql("select * from observations order by " + ", ".join(SORT)).to_arrow_reader(ROW_GROUP)
        _write_sorted(reader, src, pq.read_schema(src))
    finally:
        close(con)


def merge_sorted(old: Path, new, dest: Path, drop) -> int:
    """Stream `old` (a Parquet file sorted by SORT) into `dest`, row group by row group: `drop(group,
    new_part)` says which old rows go, and the rows of `new` (an Arrow table sorted by SORT) that
    sort within each group's range are merged into it. Only the groups new rows fall into are
    re-sorted; nothing is held beyond a row group, so a province's table is rewritten in one pass
    with flat memory and no global sort. Returns the row count."""
    import bisect

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(old)
    # nullable: DuckDB marks a column of a file it wrote with no nulls (or no rows: a new store) as required
    schema = pa.schema([f.with_nullable(True) for f in pf.schema_arrow], metadata=pf.schema_arrow.metadata)
    new = new.select(schema.names).cast(schema)
    keys = list(zip(*(new.column(c).to_pylist() for c in SORT)))  # sorted, as tuples
    sort_keys = [(c, "ascending") for c in SORT]

    def batches():
        if not pf.metadata.num_row_groups:  # an empty table (a new store's roll-up): the new rows are all
            yield from new.to_batches()
            return
        j = 0
        last = pf.metadata.num_row_groups - 1
        for g in range(pf.metadata.num_row_groups):
            t = pf.read_row_group(g).cast(schema)
            if g == last:
                k = len(keys)
            else:
                end = tuple(t.column(c)[t.num_rows - 1].as_py() for c in SORT)
                k = bisect.bisect_right(keys, end, lo=j)
            part = new.slice(j, k - j)
            j = k
            mask = drop(t, part)
            if mask is not None:
                t = t.filter(pc.invert(mask))
            if part.num_rows:
                t = pa.concat_tables([t, part]).sort_by(sort_keys)
            yield from t.to_batches()

    return _write_sorted(batches(), Path(dest), schema)


def _delta_schema(base_schema):
    import pyarrow as pa

    nullable = [f.with_nullable(True) for f in base_schema]
    return pa.schema([*nullable, pa.field(layers.IN_BASE, pa.bool_())], metadata=base_schema.metadata)


def write_delta(source: Path, name: str, fresh, dest: Path, memory_limit: str | None = None) -> int:
    """Write `dest`'s delta of layered table `name` (layers.py): the delta of version folder `source`
    with the rows of `fresh` (an Arrow table or DataFrame in the table's columns) replacing those of the
    same key and the rest added, each flagged with whether its key is in the base (which `dest` links
    from `source`). Reads the base's key columns only, never the table whole. Returns the delta's rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    base = layers.base_path(source, name)
    schema = pq.read_schema(base)
    cols = schema.names
    if not isinstance(fresh, pa.Table):
        fresh = pa.Table.from_pandas(fresh[cols], preserve_index=False)
    fresh = fresh.select(cols).cast(pa.schema([f.with_nullable(True) for f in schema]))
    con = connect(source, memory_limit)
    try:
        con.register("fresh", fresh)
        reader = con.sql(layers.merged_delta_sql(source, name, "fresh") + " order by " + ", ".join(SORT)
                         ).to_arrow_reader(ROW_GROUP)
        return _write_sorted(reader, layers.delta_path(dest, name), _delta_schema(schema))
    finally:
        close(con)


def fold(source: Path, name: str, dest: Path) -> int:
    """Write `dest`'s base of layered table `name`: `source`'s base with its delta merged in, streaming
    the sorted base once (merge_sorted); `dest` then has no delta. Returns the rows."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    base = layers.base_path(source, name)
    if not layers.has_delta(source, name):
        files.link_or_copy(base, layers.base_path(dest, name))
        return pq.read_metadata(base).num_rows
    delta = pq.read_table(layers.delta_path(source, name))
    replaced = delta.filter(delta.column(layers.IN_BASE))
    delta = delta.drop_columns([layers.IN_BASE])

    def key(t):
        parts = [pc.cast(t.column(c), pa.string()) for c in layers.KEY]
        return pc.binary_join_element_wise(*parts, "\x1f")

    gone = key(replaced)

    def drop(group, part):  # the base rows whose key the delta replaces
        return pc.is_in(key(group), value_set=gone) if len(gone) else None

    n = merge_sorted(base, delta, layers.base_path(dest, name), drop)
    layers.delta_path(dest, name).unlink(missing_ok=True)  # folded into the base just written
    return n


def existing(source: Path, keys):
    """The rows of `source` observations.parquet with the (indicator, region, period) of `keys` (a
    DataFrame), read column-pruned by DuckDB: what an import would change, without the whole table."""
    import pyarrow as pa

    con = connect(Path(source).parent)
    try:
        con.register("keys", pa.Table.from_pandas(keys[["indicator_id", "region_code", "period"]], preserve_index=False))
        return con.execute("""
            select o.indicator_id, o.region_code, o.period, o.value, o.numerator, o.denominator, o.status, o.source
            from observations o
            semi join keys k on k.indicator_id = o.indicator_id and k.region_code = o.region_code
                             and k.period = o.period
        """).df()
    finally:
        close(con)
