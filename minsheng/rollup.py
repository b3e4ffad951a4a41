"""Roll-up tables, built once per data version so that no page query reads leaf rows.

Every version folder carries, besides the four contract tables, three derived files:

  rollup.parquet     one row per (region, indicator, period) that has reporting units below it:
                     Σvalue, Σnumerator, Σdenominator and the count of units at the indicator's
                     reporting level in the region's subtree (counts, amounts, rates), or min, max and
                     count over the region's direct children (standards, which are never summed);
                     whether any of them is provisional, and their sources.
  coverage.parquet   how many regions of each level lie below each region (the "expected" count).
  ancestors.parquet  every (region, ancestor) pair including the region itself, with the distance:
                     the closure of the parent links, used to confine a user to an area's subtree.

`queries/series.sql` then needs only the region's own observations (a handful of rows, found by
row-group statistics in observations sorted by region) and its roll-up row. The derived files are
a pure function of the tables: `build` can always recreate them, and `ensure` does so for a
folder written before they existed.

Sums roll up one level at a time (reporting units → their parents → grandparents …), so only the
first step touches leaf rows and every later step works on the partial sums of the one before;
integer keys and a bit set of sources keep that first step to a single hash aggregation.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import duckdb

DERIVED = ("rollup", "coverage", "ancestors")
ROW_GROUP = 122_880  # rows per Parquet row group: DuckDB's own unit, fine-grained statistics for pruning
SORT = ("region_code", "indicator_id", "period")
MAX_SOURCES = 64  # distinct sources tracked as a bit set; beyond that, lists (slower, same answer)


def path(folder: Path, name: str) -> Path:
    if name not in DERIVED:
        raise ValueError(f"未知派生表：{name}")
    return Path(folder) / f"{name}.parquet"


SOURCES = ("regions", "indicators", "observations")


def fingerprint(folder: Path) -> str:
    """Identifies the tables the derived files are computed from (size and mtime: a linked file keeps both)."""
    h = hashlib.sha256()
    for name in SOURCES:
        st = (Path(folder) / f"{name}.parquet").stat()
        h.update(f"{name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


def stamp_path(folder: Path) -> Path:
    return Path(folder) / "rollup.json"


def current(folder: Path) -> bool:
    """Whether `folder` holds derived files computed from its present tables."""
    try:
        stamp = json.loads(stamp_path(folder).read_text(encoding="utf-8"))
        return stamp.get("source") == fingerprint(folder) and all(path(folder, n).exists() for n in DERIVED)
    except (OSError, ValueError):
        return False


class _Lit(str):
    """A quoted SQL string literal made by `_lit`."""


def _lit(text) -> _Lit:
    # COPY and CREATE VIEW take no bound parameters; these paths are ours (a version folder), never
    # user input, and are quoted so any character stays inside the literal.
    return _Lit("'" + str(text).replace("'", "''") + "'")


# The only pieces ever put into this module's SQL text: quoted paths (_Lit), our own table names,
# the sort keys, and the fixed aggregate fragments below. No value from a table or a user.
_TABLE = re.compile(r"(_up\d{1,2}|_r|_i|_s|_sum|_std|_names|_all|rollup|coverage|ancestors|observations|regions|indicators)")
_FRAGMENTS = {
    "bits": dict(src_leaf="bit_or(1::ubigint << _s.bit)", src_up="bit_or(src)",
                 src_join="left join _s on _s.source = o.source",
                 names="left join _names on _names.mask is not distinct from x.src", src_text="_names.names"),
    "lists": dict(src_leaf="list(distinct o.source)", src_up="list_distinct(flatten(list(src)))", src_join="",
                  names="", src_text="nullif(array_to_string(list_sort(x.src), '；'), '')"),
}
_ORDERS = {", ".join(SORT), "region_code, level", "ancestor, code"}


def _safe(piece) -> bool:
    if isinstance(piece, _Lit) or isinstance(piece, int):
        return True
    text = str(piece)
    return (bool(_TABLE.fullmatch(text)) or text in _ORDERS
            or any(text in f.values() for f in _FRAGMENTS.values()))


def _run(con, template: str, params: dict | None = None, **pieces):
    """Execute `template` with identifiers and fixed fragments filled in, each checked against the
    allow-lists above (a union of our own tables is checked table by table)."""
    for key, piece in pieces.items():
        parts = piece if isinstance(piece, list) else [piece]
        if not all(_safe(x) for x in parts):
            raise ValueError(f"不允许的 SQL 片段：{key}")
        if isinstance(piece, list):
            pieces[key] = " union all ".join("select * from " + x for x in piece)
    return con.execute(template.format(**pieces), params or {})


def _connect(folder: Path, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    # Spill to the system's temp folder: an in-memory database would otherwise spill into ./.tmp
    # under whatever the current directory is.
    # Bounded: sorting or aggregating a province's table spills to disk instead of taking the
    # machine's memory (DuckDB's default is 80 % of it).
    config = {"threads": 2, "preserve_insertion_order": False, "temp_directory": str(_spill()),
              "memory_limit": memory_limit or os.environ.get("MINSHENG_BUILD_MEMORY", "3GB")}
    con = duckdb.connect(":memory:", config=config)
    for name in SOURCES:
        if (Path(folder) / f"{name}.parquet").exists():
            _run(con, "create view {name} as select * from read_parquet({path})", name=name,
                 path=_lit(Path(folder) / (name + ".parquet")))
    return con


def _spill() -> Path:
    return Path(tempfile.gettempdir()) / f"minsheng-duckdb-{os.getpid()}"


def _close(con: duckdb.DuckDBPyConnection) -> None:
    con.close()
    shutil.rmtree(_spill(), ignore_errors=True)


def _atomic(dest: Path, write):
    """Call `write(tmp)`, then fsync tmp and rename it over `dest`; a failure leaves `dest` as it was."""
    tmp = Path(dest).with_name(f".{Path(dest).name}.tmp-{os.getpid()}")
    try:
        result = write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, dest)
        return result
    finally:
        if tmp.exists():
            tmp.unlink()


def _copy(con, table: str, dest: Path, order: str) -> None:
    _atomic(dest, lambda tmp: _run(con, "copy (select * from {table} order by {order}) to {path} "
                                        "(format parquet, compression zstd, row_group_size {rows})",
                                   table=table, order=order, path=_lit(tmp), rows=ROW_GROUP))


def build_into(con: duckdb.DuckDBPyConnection, only: list[str] | None = None) -> None:
    """Create the tables rollup, coverage and ancestors on `con`, which has views regions, indicators
    and observations (used by `build`, and by the app over data it cannot write to). With `only`,
    the roll-up covers just those indicators (an import that touched them)."""
    # Integer keys: grouping ~100M rows on strings costs several times more than on ints.
    con.execute("""
        create or replace temp table _r as
        with numbered as (select code, level, parent_code, (row_number() over (order by code))::integer as rid
                          from regions)
        select a.code, a.level, a.rid, p.rid as prid from numbered a left join numbered p on p.code = a.parent_code
    """)
    con.execute("""
        create or replace temp table _i as
        select id, kind, report_level, (row_number() over (order by id))::integer as iid from indicators
        where $only::varchar[] is null or list_contains($only::varchar[], id)
    """, {"only": None if only is None else sorted(only)})
    n_sources = con.execute("select count(distinct source) from observations").fetchone()[0]
    bits = n_sources <= MAX_SOURCES
    frag = _FRAGMENTS["bits" if bits else "lists"]
    if bits:
        con.execute("""
            create or replace temp table _s as
            select source, (row_number() over (order by source) - 1)::integer as bit
            from (select distinct source from observations where source is not null)
        """)
    # Reporting units' rows summed into their parents: the one pass over leaf rows.
    _run(con, """
        create or replace temp table _up1 as
        select r.prid as rid, i.iid, o.period,
               sum(o.value) as s, sum(o.numerator) as sn, sum(o.denominator) as sd, count(*) as n,
               bool_or(o.status = 'provisional') as prov, {src_leaf} as src
        from observations o
        join _i i on i.id = o.indicator_id
        join _r r on r.code = o.region_code
        {src_join}
        where r.prid is not null and i.kind <> 'standard' and r.level = i.report_level
        group by all
    """, src_leaf=frag["src_leaf"], src_join=frag["src_join"])
    # … then each level's partial sums into the level above, until the top.
    parts = ["_up1"]
    while _run(con, "select count(*) from {t}", t=parts[-1]).fetchone()[0] and len(parts) < 16:
        parts.append(f"_up{len(parts) + 1}")
        _run(con, """
            create or replace temp table {new} as
            select r.prid as rid, u.iid, u.period, sum(u.s) as s, sum(u.sn) as sn, sum(u.sd) as sd,
                   sum(u.n) as n, bool_or(u.prov) as prov, {src_up} as src
            from {old} u join _r r on r.rid = u.rid
            where r.prid is not null
            group by all
        """, new=parts[-1], old=parts[-2], src_up=frag["src_up"])
    # A region gets partial sums by two routes only where children of one level hang under parents
    # of different levels (a village directly under a county); only then is a final grouping needed.
    mixed = con.execute("""
        select count(*) from (select distinct c.level, p.level from _r c join _r p on p.rid = c.prid)
    """).fetchone()[0] > con.execute("select count(distinct level) from _r where prid is not null").fetchone()[0]
    if mixed:
        _run(con, """
            create or replace temp table _sum as
            select rid, iid, period, sum(s) as s, sum(sn) as sn, sum(sd) as sd, sum(n) as n, bool_or(prov) as prov,
                   {src_up} as src
            from ({union}) group by all
        """, src_up=frag["src_up"], union=parts)
    else:
        _run(con, "create or replace temp view _sum as {union}", union=parts)
    # Standards: min and max over the direct children's own values, never a sum.
    _run(con, """
        create or replace temp table _std as
        select r.prid as rid, i.iid, o.period, min(o.value) as mn, max(o.value) as mx, count(*) as n,
               bool_or(o.status = 'provisional') as prov, {src_leaf} as src
        from observations o
        join _i i on i.id = o.indicator_id
        join _r r on r.code = o.region_code
        {src_join}
        where r.prid is not null and i.kind = 'standard'
        group by all
    """, src_leaf=frag["src_leaf"], src_join=frag["src_join"])
    if bits:  # each distinct set of sources, spelled out once
        sources = [s for (s,) in con.execute("select source from _s order by bit").fetchall()]
        masks = {m for (m,) in con.execute("select distinct src from _sum union select distinct src from _std").fetchall()}
        con.execute("create or replace temp table _names (mask ubigint, names varchar)")
        rows = [(m, "；".join(sorted(s for b, s in enumerate(sources) if m is not None and m >> b & 1)) or None)
                for m in masks]
        if rows:
            con.executemany("insert into _names values (?, ?)", rows)
    _run(con, """
        create or replace table rollup as
        select r.code as region_code, i.id as indicator_id, x.period,
               round(x.s, 6) as sum_value, x.sn as sum_num, x.sd as sum_den,
               null::double as min_value, null::double as max_value, x.n as n_reported,
               case when x.prov then 'provisional' else 'final' end as status, {src_text} as source
        from _sum x join _r r on r.rid = x.rid join _i i on i.iid = x.iid {names}
        union all
        select r.code, i.id, x.period, null, null, null, x.mn, x.mx, x.n,
               case when x.prov then 'provisional' else 'final' end, {src_text}
        from _std x join _r r on r.rid = x.rid join _i i on i.iid = x.iid {names}
    """, src_text=frag["src_text"], names=frag["names"])
    con.execute("""
        create or replace table ancestors as
        with recursive up(code, ancestor, depth) as (
            select code, code, 0 from regions
            union all
            select up.code, regions.parent_code, up.depth + 1
            from up join regions on regions.code = up.ancestor
            where regions.parent_code is not null and up.depth < 16
        )
        select code, ancestor, depth from up
    """)
    con.execute("""
        create or replace table coverage as
        select a.ancestor as region_code, r.level, count(*) as n_below
        from ancestors a join regions r on r.code = a.code
        where a.depth > 0
        group by all
    """)
    con.execute("drop table _sum" if mixed else "drop view _sum")
    for t in ["_r", "_i", "_std", *parts] + (["_s", "_names"] if bits else []):
        _run(con, "drop table if exists {t}", t=t)


def _same_file(a: Path, b: Path) -> bool:
    sa, sb = a.stat(), b.stat()
    return (sa.st_size, sa.st_mtime_ns) == (sb.st_size, sb.st_mtime_ns)


def build(folder: Path, memory_limit: str | None = None, previous: Path | None = None,
          changed: set[str] | None = None) -> None:
    """Write rollup, coverage and ancestors beside the tables in `folder` (each file atomically), then
    the stamp that ties them to the tables they came from.

    Incremental when `previous` (the version `folder` was made from, with current roll-ups and the
    same regions and indicators files) and `changed` (the indicators whose observations differ) are
    given: only those indicators are rolled up again; the other rows, coverage and ancestors are kept."""
    source = fingerprint(folder)
    folder = Path(folder)
    incremental = (previous is not None and changed is not None and current(previous)
                   and all(_same_file(folder / f"{n}.parquet", Path(previous) / f"{n}.parquet")
                           for n in ("regions", "indicators")))
    con = _connect(folder, memory_limit)
    try:
        build_into(con, sorted(changed) if incremental else None)
        if incremental:  # the old rows of other indicators, streamed; the rebuilt ones merged in
            import pyarrow as pa
            import pyarrow.compute as pc

            fresh = con.sql("select * from rollup order by " + ", ".join(SORT)).to_arrow_table()
            gone = pa.array(sorted(changed), pa.string())
            _merge_sorted(path(previous, "rollup"), fresh, path(folder, "rollup"),
                          lambda group, part: pc.is_in(pc.cast(group.column("indicator_id"), pa.string()), value_set=gone))
            for name in ("coverage", "ancestors"):
                _link(path(previous, name), path(folder, name))
        else:
            _copy(con, "rollup", path(folder, "rollup"), ", ".join(SORT))
            _copy(con, "coverage", path(folder, "coverage"), "region_code, level")
            _copy(con, "ancestors", path(folder, "ancestors"), "ancestor, code")
    finally:
        _close(con)
    tmp = stamp_path(folder).with_name(f".rollup.json.tmp-{os.getpid()}")
    tmp.write_text(json.dumps({"source": source}) + "\n", encoding="utf-8")
    os.replace(tmp, stamp_path(folder))


def _link(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


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

    return _atomic(dest, write)


def sort_observations(folder: Path, memory_limit: str | None = None) -> None:
    """Rewrite observations.parquet sorted by (region, indicator, period) in small row groups, so that
    a page's own-value lookups read one or two row groups instead of the whole file. DuckDB sorts
    (spilling to disk past `memory_limit`); pyarrow writes, keeping the file's own schema."""
    import pyarrow.parquet as pq

    src = Path(folder) / "observations.parquet"
    con = _connect(folder, memory_limit)
    try:
        reader = con.sql("select * from observations order by " + ", ".join(SORT)).to_arrow_reader(ROW_GROUP)
        _write_sorted(reader, src, pq.read_schema(src))
    finally:
        _close(con)


def _merge_sorted(old: Path, new, dest: Path, drop) -> int:
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
    schema = pf.schema_arrow
    new = new.select(schema.names).cast(schema)
    keys = list(zip(*(new.column(c).to_pylist() for c in SORT)))  # sorted, as tuples
    sort_keys = [(c, "ascending") for c in SORT]

    def batches():
        j = 0
        last = pf.metadata.num_row_groups - 1
        for g in range(pf.metadata.num_row_groups):
            t = pf.read_row_group(g)
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


def merge_observations(source: Path, rows, dest: Path, memory_limit: str | None = None) -> int:
    """Write `dest`: the observations of `source` with `rows` (a DataFrame in the table's columns)
    replacing those with the same (indicator, region, period) and the rest added — sorted, in the
    source file's schema — without loading the existing table into Python (DuckDB sorts, spilling
    past its memory limit). Returns the row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(source)
    new = pa.Table.from_pandas(rows[schema.names], preserve_index=False).cast(schema)
    con = _connect(Path(source).parent, memory_limit)
    try:
        con.register("new_rows", new)
        reader = con.sql("""
            select * from observations old
            anti join new_rows using (indicator_id, region_code, period)
            union all
            select * from new_rows
            order by region_code, indicator_id, period
        """).to_arrow_reader(ROW_GROUP)
        return _write_sorted(reader, Path(dest), schema)
    finally:
        _close(con)


def existing(source: Path, keys):
    """The rows of `source` observations.parquet with the (indicator, region, period) of `keys` (a
    DataFrame), read column-pruned by DuckDB: what an import would change, without the whole table."""
    import pyarrow as pa

    con = _connect(Path(source).parent)
    try:
        con.register("keys", pa.Table.from_pandas(keys[["indicator_id", "region_code", "period"]], preserve_index=False))
        return con.execute("""
            select o.indicator_id, o.region_code, o.period, o.value, o.numerator, o.denominator, o.status
            from observations o
            semi join keys k on k.indicator_id = o.indicator_id and k.region_code = o.region_code
                             and k.period = o.period
        """).df()
    finally:
        _close(con)
