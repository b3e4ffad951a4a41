"""Roll-up tables, built once per data version so that no page query reads leaf rows.

Every version folder carries, besides the four contract tables, three derived files:

  rollup.parquet     one row per (region, indicator, period) that has reporting units below it:
                     Σvalue, Σnumerator, Σdenominator and the count of units at the indicator's
                     reporting level in the region's subtree (counts, amounts, rates), or min, max and
                     count of those units' own values (standards, which are never summed);
                     whether any of them is provisional, and their sources.
  coverage.parquet   how many regions of each level lie below each region, and how many of them are
                     direct children (the "expected" counts), per window of days over which the count
                     holds: codes change (lineage.py), and a region counts only while it is valid.
  ancestors.parquet  every (region, ancestor) pair including the region itself, with the distance:
                     the closure of the parent links, used to confine a user to an area's subtree.
  lfl.parquet        the like-for-like (同口径) roll-up: per (region, indicator, period), the sums over
                     just the reporting units below the region that reported in that period and a year
                     before — Σvalue, Σnumerator, Σdenominator then and a year before, and how many
                     units (n_both). `queries/like_for_like.sql` reads it instead of pairing leaf rows
                     per request (a province's 同比 paired every village's rows: 8 s a month at 100M).

`queries/series.sql` then needs only the region's own observations (a handful of rows, found by
row-group statistics in observations sorted by region) and its roll-up row. The derived files are
a pure function of the tables: `build` can always recreate them, and `ensure` does so for a
folder written before they existed.

Sums roll up one level at a time (reporting units → their parents → grandparents …), so only the
first step touches leaf rows and every later step works on the partial sums of the one before;
integer keys and a bit set of sources keep that first step to a single hash aggregation.

Every build ends with `check`, the tables' invariants (one row per key, no more units reported
than expected, rates within 0–100 %, no negative sums, no cycle in the region tree): a build that
breaks one raises InvariantError, so the commit that asked for it fails and the data stays as it was.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import duckdb

from minsheng import files, layers, lineage, observations
from minsheng.observations import ROW_GROUP, SORT  # rollup.parquet is stored like the observations

DERIVED = ("rollup", "coverage", "ancestors", "lfl")
SOURCES = observations.TABLES  # the tables the derived files are computed from
MAX_SOURCES = 64  # distinct sources tracked as a bit set; beyond that, lists (slower, same answer)
# What the derived files hold, as a number in their stamp: raised whenever that changes (2: standards
# range over the reporting level's descendants, not the direct children), so files built by older code
# are rebuilt on first read instead of answering by the old rule.
RULES = 3  # 3: lfl.parquet, the like-for-like roll-up


def path(folder: Path, name: str) -> Path:
    if name not in DERIVED:
        raise ValueError(f"未知派生表：{name}")
    return Path(folder) / f"{name}.parquet"


def windowed(folder: Path) -> bool:
    """Whether `folder`'s coverage.parquet has validity windows. A version made before code changes
    were recorded has one count per (region, level) and no code changes to count; its files stay as
    they are (rewriting them would break the version's checksums) and readers compute the windowed
    coverage, a small table, in memory (`COVERAGE`)."""
    import pyarrow.parquet as pq

    return "valid_from" in pq.read_schema(path(folder, "coverage")).names


def fingerprint(folder: Path) -> str:
    """Identifies the tables the derived files are computed from (size and mtime: a linked file keeps both)."""
    h = hashlib.sha256(f"rules:{RULES};".encode())
    for name in SOURCES:
        size, mtime = files.identity(Path(folder) / f"{name}.parquet") or ("-", "-")  # missing: matches no stamp
        h.update(f"{name}:{size}:{mtime};".encode())
    delta = files.identity(layers.delta_path(folder, "observations"))  # absent: as before deltas existed
    if delta:
        h.update(f"observations.delta:{delta[0]}:{delta[1]};".encode())
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
    return _Lit(layers.quoted(text))  # COPY takes no bound parameters


# The only pieces ever put into this module's SQL text: quoted paths (_Lit), our own table names,
# the sort keys, and the fixed aggregate fragments below. No value from a table or a user.
_TABLE = re.compile(r"(_up\d{1,2}|_lf\d{1,2}|_r|_i|_s|_sum|_lsum|_std|_names|_all|_heir|_lfl_rows|_lfl_keep|rollup|coverage|"
                    r"ancestors|observations|regions|indicators|lfl)")
_FRAGMENTS = {
    "bits": dict(src_leaf="bit_or(1::ubigint << _s.bit)", src_up="bit_or(src)",
                 src_join="left join _s on _s.source = o.source",
                 names="left join _names on _names.mask is not distinct from x.src", src_text="_names.names"),
    "lists": dict(src_leaf="list(distinct o.source)", src_up="list_distinct(flatten(list(src)))", src_join="",
                  names="", src_text="nullif(array_to_string(list_sort(x.src), '；'), '')"),
}
# A reporting unit's row counts only in the periods its code is valid (lineage.py: valid on the
# period's last day); a region with no bounds, nearly every one, passes on the first test.
VALID = ("((r.vf is null and r.vt is null) or (coalesce(r.vf <= {e}, true) and coalesce(r.vt >= {e}, true)))"
         .format(e=lineage.PERIOD_END_SQL.format(p="o.period", f="i.frequency")))
# How many regions of each level lie below each region, per validity window: one row per (region,
# level) and stretch of days over which that count holds (valid_from/valid_to empty: open). The windows change only where a code below starts or stops, so a
# tree without code changes has one open row per (region, level), as small as a count without dates.
COVERAGE = """
    create or replace table coverage as
    with below as (
        select a.ancestor, r.level, r.valid_from as f, r.valid_to as t
        from ancestors a join regions r on r.code = a.code
        where a.depth > 0
    ),
    cuts as (  -- the days the set of valid regions below can change: a start, or the day after an end
        select ancestor, level, f as day from below where f is not null
        union select ancestor, level, t + 1 from below where t is not null
        union select distinct ancestor, level, null::date from below
    ),
    windows as (
        select ancestor, level, day as valid_from,
               (lead(day) over (partition by ancestor, level order by day nulls first) - 1)::date as valid_to
        from cuts
    )
    select w.ancestor as region_code, w.level, w.valid_from, w.valid_to,
           count(*) filter (where (b.f is null or b.f <= coalesce(w.valid_from, w.valid_to))
                              and (b.t is null or b.t >= coalesce(w.valid_from, w.valid_to))) as n_below
    from windows w join below b on b.ancestor = w.ancestor and b.level = w.level
    group by all
"""
_ORDERS = {", ".join(SORT), "region_code, level, valid_from", "ancestor, code"}


# The sums one level of each roll-up passes to the next (rollup: with provisional flag and sources).
_CLIMB = {
    "rollup": "sum(u.s) as s, sum(u.sn) as sn, sum(u.sd) as sd, sum(u.n) as n, bool_or(u.prov) as prov, {src_up} as src",
    "lfl": "sum(u.s) as s, sum(u.sn) as sn, sum(u.sd) as sd, sum(u.bs) as bs, sum(u.bsn) as bsn, sum(u.bsd) as bsd, "
           "sum(u.n) as n",
}


def _safe(piece) -> bool:
    if isinstance(piece, _Lit) or isinstance(piece, int):
        return True
    text = str(piece)
    return (bool(_TABLE.fullmatch(text)) or text in _ORDERS or text == VALID
            or any(text in f.values() for f in _FRAGMENTS.values())
            or any(text == c.format(src_up=f["src_up"]) for c in _CLIMB.values() for f in _FRAGMENTS.values()))


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


def _copy(con, table: str, dest: Path, order: str) -> None:
    files.atomic_write(dest, lambda tmp: _run(con, "copy (select * from {table} order by {order}) to {path} "
                                                   "(format parquet, compression zstd, row_group_size {rows})",
                                              table=table, order=order, path=_lit(tmp), rows=ROW_GROUP))


def _climb(con, prefix: str, name: str, sums: str) -> tuple[str, list[str], bool]:
    """Sum the partial sums of table {prefix}1 (rid, iid, period, …) into each level above, one level a
    step, until the top; then `name`, every level's rows as one (a table where a region gets sums by two
    routes — children of one level under parents of different levels, a village directly under a county —
    else a view). Returns (name, the step tables, whether `name` is a table)."""
    parts = [f"{prefix}1"]
    while _run(con, "select count(*) from {t}", t=parts[-1]).fetchone()[0] and len(parts) < 16:
        parts.append(f"{prefix}{len(parts) + 1}")
        _run(con, """
            create or replace temp table {new} as
            select r.prid as rid, u.iid, u.period, {sums}
            from {old} u join _r r on r.rid = u.rid
            where r.prid is not null
            group by all
        """, new=parts[-1], old=parts[-2], sums=sums)
    mixed = con.execute("""
        select count(*) from (select distinct c.level, p.level from _r c join _r p on p.rid = c.prid)
    """).fetchone()[0] > con.execute("select count(distinct level) from _r where prid is not null").fetchone()[0]
    if mixed:
        _run(con, "create or replace temp table {name} as select rid, iid, period, {sums} from ({union}) u group by all",
             name=name, sums=sums, union=parts)
    else:
        _run(con, "create or replace temp view {name} as {union}", name=name, union=parts)
    return name, parts, mixed


def _like_for_like(con, pairs_from: str, keep: str | None) -> None:
    """Create table lfl on `con` (which has _r and _i of build_into): for each region, indicator and
    period, the sums over the reporting units below it that reported in that period and a year before.

    A unit is one region across its code changes (430221 株洲县 → 430212 渌口区): its rows are those of
    every code whose chain of successors ends where its own does, each counting only in periods its code is
    valid (the period's last day), as in the roll-up; codes merged into one (乡镇撤并) are one unit, summed
    before pairing, so the merged township is compared with the sum of the old ones, once. A unit counts
    under the parent of its code in the later period (the first, where two codes of one unit hang under
    different parents in one period). The pairs are additive, so they roll up like the sums do.

    `pairs_from` is the observations to pair (an incremental build: the touched periods, the year before
    and the year after); `keep` a table of the (indicator_id, period) rows to keep, or None for all."""
    # heirs: each code's last successor, depth-bounded (the importer refuses cycles), as an integer unit id
    con.execute("""
        create or replace temp table _heir as
        with recursive chain as (
            select code, code as heir, 0 as depth from regions
            union all
            select chain.code, r.successor_code, chain.depth + 1
            from chain join regions r on r.code = chain.heir
            where r.successor_code is not null and r.successor_code <> '' and chain.depth < 32
        ), last as (select code, arg_max(heir, depth) as heir from chain group by code)
        select last.code, (dense_rank() over (order by last.heir))::integer as hid from last
    """)
    # the one pass over leaf rows: each unit's rows in each period and, shifted a year on, a year before;
    # a unit-period with both sides is a pair, summed into the parent of the unit's code then
    _run(con, """
        create or replace temp table _lf1 as
        with leaf as (
            select i.iid, h.hid, o.period, r.prid, o.value, o.numerator, o.denominator
            from {rows} o
            join _i i on i.id = o.indicator_id
            join _r r on r.code = o.region_code
            join _heir h on h.code = o.region_code
            where i.kind <> 'standard' and r.level = i.report_level and {valid}
        ), sides as (
            select iid, hid, period, prid, value, numerator, denominator, false as before from leaf
            union all
            select iid, hid, cast(period + interval 1 year as date), null, value, numerator, denominator, true from leaf
        ), units as (
            select iid, hid, period, min(prid) filter (where not before) as rid,
                   sum(value) filter (where not before) as s, sum(numerator) filter (where not before) as sn,
                   sum(denominator) filter (where not before) as sd,
                   sum(value) filter (where before) as bs, sum(numerator) filter (where before) as bsn,
                   sum(denominator) filter (where before) as bsd,
                   bool_or(not before) as in_now, bool_or(before) as in_then
            from sides group by iid, hid, period
        )
        select rid, iid, period, sum(s) as s, sum(sn) as sn, sum(sd) as sd, sum(bs) as bs, sum(bsn) as bsn,
               sum(bsd) as bsd, count(*) as n
        from units
        where in_now and in_then and rid is not null
        group by all
    """, rows=pairs_from, valid=VALID)
    if keep is not None:
        _run(con, "delete from _lf1 where not exists (select 1 from {keep} k join _i i on i.id = k.indicator_id "
                  "where i.iid = _lf1.iid and k.period = _lf1.period)", keep=keep)
    summed, parts, mixed = _climb(con, "_lf", "_lsum", _CLIMB["lfl"])
    con.execute("""
        create or replace table lfl as
        select r.code as region_code, i.id as indicator_id, x.period,
               round(x.s, 6) as sum_value, x.sn as sum_num, x.sd as sum_den,
               round(x.bs, 6) as base_value, x.bsn as base_num, x.bsd as base_den, x.n as n_both
        from _lsum x join _r r on r.rid = x.rid join _i i on i.iid = x.iid
    """)
    con.execute("drop table _lsum" if mixed else "drop view _lsum")
    for t in ["_heir", *parts]:
        _run(con, "drop table if exists {t}", t=t)


def build_into(con: duckdb.DuckDBPyConnection, only: list[str] | None = None, pairs_from: str = "observations",
               keep: str | None = None) -> None:
    """Create the tables rollup, coverage, ancestors and lfl on `con`, which has views regions, indicators
    and observations (used by `build`, and by the app over data it cannot write to). With `only`,
    the roll-ups cover just those indicators (an import that touched them); `pairs_from` and `keep`:
    see _like_for_like."""
    # Integer keys: grouping ~100M rows on strings costs several times more than on ints.
    con.execute("""
        create or replace temp table _r as
        with numbered as (select code, level, parent_code, valid_from, valid_to,
                                 (row_number() over (order by code))::integer as rid
                          from regions)
        select a.code, a.level, a.rid, p.rid as prid, a.valid_from as vf, a.valid_to as vt
        from numbered a left join numbered p on p.code = a.parent_code
    """)
    con.execute("""
        create or replace temp table _i as
        select id, kind, report_level, frequency, (row_number() over (order by id))::integer as iid from indicators
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
        where r.prid is not null and i.kind <> 'standard' and r.level = i.report_level and {valid}
        group by all
    """, src_leaf=frag["src_leaf"], src_join=frag["src_join"], valid=VALID)
    # … then each level's partial sums into the level above, until the top.
    summed, parts, mixed = _climb(con, "_up", "_sum", _CLIMB["rollup"].format(src_up=frag["src_up"]))
    # Standards: min and max over the own values of the descendants at the indicator's reporting level
    # (a province over its counties when only counties set one), never a sum. Standards are few rows
    # (yearly, one per county), so each goes to every ancestor at once, through the closure of just
    # the regions that set them.
    _run(con, """
        create or replace temp table _std as
        with recursive setters as (
            select distinct r.rid, r.prid
            from observations o join _i i on i.id = o.indicator_id join _r r on r.code = o.region_code
            where i.kind = 'standard' and r.level = i.report_level and r.prid is not null
        ), up(rid, aid, depth) as (
            select rid, prid, 1 from setters
            union all
            select up.rid, r.prid, up.depth + 1 from up join _r r on r.rid = up.aid
            where r.prid is not null and up.depth < 16
        )
        select up.aid as rid, i.iid, o.period, min(o.value) as mn, max(o.value) as mx, count(*) as n,
               bool_or(o.status = 'provisional') as prov, {src_leaf} as src
        from observations o
        join _i i on i.id = o.indicator_id
        join _r r on r.code = o.region_code
        join up on up.rid = r.rid
        {src_join}
        where i.kind = 'standard' and r.level = i.report_level and {valid}
        group by all
    """, src_leaf=frag["src_leaf"], src_join=frag["src_join"], valid=VALID)
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
    con.execute(COVERAGE)
    _like_for_like(con, pairs_from, keep)
    con.execute("drop table _sum" if mixed else "drop view _sum")
    for t in ["_r", "_i", "_std", *parts] + (["_s", "_names"] if bits else []):
        _run(con, "drop table if exists {t}", t=t)
    check(con)


class InvariantError(ValueError):
    """Roll-up tables that break an invariant (`check`); the message is for the user (Chinese)."""


# The invariants of the derived tables, like dbt's data tests (unique, expression_is_true): each
# query selects the keys of the rows that break one, `… where not (…)`, in one pass over rollup
# (or ancestors) joined to the small tables, never over leaf rows. n_expected is series.sql's.
_ROW = "select r.region_code, r.indicator_id, r.period from rollup r"
# the coverage window holding a period's last day, and what it expects (as series.sql reckons n_expected:
# a standard, the direct children valid then; anything else, the regions at its reporting level)
_IN_WINDOW = ("{e} between coalesce(c.valid_from, date '0001-01-01') and coalesce(c.valid_to, date '9999-12-31')"
              .format(e=lineage.PERIOD_END_SQL.format(p="r.period", f="i.frequency")))
_KIND = " join indicators i on i.id = r.indicator_id"
_BREAKING = {
    "unique：每个区划、指标、时期只有一行汇总": f"{_ROW} group by all having count(*) > 1",
    "n_reported ≤ n_expected：已报单位数不超过应报单位数": f"""{_ROW}{_KIND}
        left join coverage c on c.region_code = r.region_code and c.level = i.report_level and {_IN_WINDOW}
        group by r.region_code, r.indicator_id, r.period, r.n_reported
        having not (r.n_reported <= coalesce(sum(c.n_below), 0))""",
    # 0 ≤ Σnum ≤ Σden is 0 ≤ 100·Σnum/Σden ≤ 100 without the division's rounding
    "rate：比率在 0–100% 之间（0 ≤ Σ分子 ≤ Σ分母）":
        f"{_ROW}{_KIND} where i.kind = 'rate' and not (r.sum_num >= 0 and r.sum_num <= r.sum_den)",
    "not_negative：计数、金额的合计与标准值不为负": f"""{_ROW}{_KIND}
        where (i.kind in ('count', 'amount') and not (r.sum_value >= 0))
           or (i.kind = 'standard' and not (r.min_value >= 0))""",
    "lfl unique：同口径汇总每个区划、指标、时期只有一行":
        "select region_code, indicator_id, period from lfl group by all having count(*) > 1",
    # the units reporting in both periods are among those reporting in the later one (where its roll-up row
    # is at hand: an incremental build re-rolls the touched periods, and pairs the year after them too)
    "n_both ≤ n_reported：同口径单位数不超过已报单位数": """select l.region_code, l.indicator_id, l.period from lfl l
        join rollup r using (region_code, indicator_id, period)
        where not (l.n_both <= r.n_reported)""",
    "ancestors unique：区划树无环，每个区划的每个上级只出现一次":
        "select code, ancestor from ancestors group by all having count(*) > 1",
}
# as run: how many rows break each, and the least of their keys as an example
CHECKS = {name: "select count(*), min(x) from (" + query + ") x" for name, query in _BREAKING.items()}
_LABELS = {"region_code": "区划", "indicator_id": "指标", "period": "时期", "code": "区划", "ancestor": "上级"}


def check(con: duckdb.DuckDBPyConnection) -> None:
    """Raise InvariantError naming every invariant the tables rollup, lfl and ancestors on `con` break,
    each with a count and an example key (run by `build_into`, so no version gets such tables)."""
    broken = []
    for name, query in CHECKS.items():
        [(n, key)] = con.execute(query).fetchall()  # fetchall: no open result left on `con`
        if n:
            example = "、".join(f"{_LABELS[k]} {v}" for k, v in key.items())
            broken.append(f"{name}（{n:,} 处不符，例如{example}）")
    if broken:
        raise InvariantError("汇总表检查未通过：" + "；".join(broken))


def _stamp(folder: Path, source: str) -> None:
    files.write_text(stamp_path(folder), json.dumps({"source": source}) + "\n")


def fold(previous: Path, folder: Path) -> None:
    """`folder`'s roll-ups: those of `previous` (current, from the same rows) with the roll-up deltas
    folded into the bases — same rows, one file each; coverage and ancestors linked."""
    for name in layers.LAYERED:
        if name != "observations":
            observations.fold(previous, name, folder)
    for name in ("coverage", "ancestors"):
        files.link_or_copy(path(previous, name), path(folder, name))
    _stamp(folder, fingerprint(folder))


def build(folder: Path, memory_limit: str | None = None, previous: Path | None = None, touched=None) -> None:
    """Write rollup, coverage and ancestors beside the tables in `folder` (each file atomically), then
    the stamp that ties them to the tables they came from.

    Incremental when `previous` (the version `folder` was made from, with current roll-ups and the
    same regions and indicators files) and `touched` (a DataFrame of the (indicator_id, period) pairs
    whose observations differ) are given: only those pairs are rolled up again, into the roll-up's
    delta (layers.py); the base roll-up, coverage and ancestors are linked from `previous`."""
    source = fingerprint(folder)
    folder = Path(folder)
    incremental = (previous is not None and touched is not None and current(previous)
                   and all(files.identity(folder / f"{n}.parquet") == files.identity(Path(previous) / f"{n}.parquet")
                           for n in ("regions", "indicators")))
    con = observations.connect(folder, memory_limit)
    try:
        if incremental:  # the leaf rows of just the touched pairs: a filtered scan of base and delta
            import pyarrow as pa

            pairs = touched[["indicator_id", "period"]].drop_duplicates()
            con.register("_touched", pa.Table.from_pandas(pairs, preserve_index=False))
            con.execute("alter view observations rename to _all_observations")
            con.execute("create view observations as select * from _all_observations semi join _touched "
                        "using (indicator_id, period)")
            # like for like: a touched period pairs with the year before and is paired by the year after
            con.execute("""
                create temp table _lfl_keep as
                select distinct indicator_id, period from (
                    select indicator_id, period::date as period from _touched
                    union all select indicator_id, cast(period::date + interval 1 year as date) from _touched)
            """)
            con.execute("""
                create view _lfl_rows as select * from _all_observations semi join (
                    select indicator_id, period from _lfl_keep
                    union select indicator_id, cast(period - interval 1 year as date) from _lfl_keep
                ) using (indicator_id, period)
            """)
            build_into(con, sorted(set(pairs["indicator_id"])), pairs_from="_lfl_rows", keep="_lfl_keep")
            rolled, paired = con.sql("select * from rollup").to_arrow_table(), con.sql("select * from lfl").to_arrow_table()
            observations.write_delta(previous, "rollup", rolled, folder, memory_limit)
            observations.write_delta(previous, "lfl", paired, folder, memory_limit)
            for name in DERIVED:
                files.link_or_copy(path(previous, name), path(folder, name))
        else:
            for name in layers.LAYERED:
                if name != "observations":  # the whole roll-up is the base now
                    layers.delta_path(folder, name).unlink(missing_ok=True)
            build_into(con)
            _copy(con, "rollup", path(folder, "rollup"), ", ".join(SORT))
            _copy(con, "lfl", path(folder, "lfl"), ", ".join(SORT))
            _copy(con, "coverage", path(folder, "coverage"), "region_code, level, valid_from")
            _copy(con, "ancestors", path(folder, "ancestors"), "ancestor, code")
    finally:
        observations.close(con)
    _stamp(folder, source)
