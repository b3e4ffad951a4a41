"""ClickHouse as a second engine behind repo.py: queries/*.sql transpiled, versions published, row policies.

queries/*.sql stay the one source, in DuckDB's dialect. SQLGlot transpiles each for ClickHouse when it is
first loaded: `$name` parameters become typed `{name:Type}` placeholders (PARAM_TYPES), DATE becomes Date32
(ClickHouse's Date stops at 1970 and 2149, and the queries' open-ended windows use 0001-01-01 and 9999-12-31),
and every table is qualified with the published version's database, so a query reads one version whole.
Values are always bound server-side, on a ClickHouse server (clickhouse-connect) and in chDB (embedded).

Where it runs: MINSHENG_CLICKHOUSE_URL (a server, e.g. http://user:pass@host:8123) or
MINSHENG_CLICKHOUSE_PATH (a chDB folder; chDB is a test and benchmark dependency, requirements-dev.txt).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
import threading
from functools import lru_cache
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from minsheng import rollup, store

# Every ClickHouse query runs with these: without join_use_nulls an outer join fills the missing side with
# defaults (0, '') instead of NULL, and series.sql returned 147 rows where DuckDB returned 1,341.
SETTINGS = {"join_use_nulls": 1}

# The ClickHouse type of each bound parameter of queries/*.sql (their header comments name DuckDB's).
PARAM_TYPES = {
    "indicators": "Array(String)", "regions": "Array(String)", "date_from": "Date32", "date_to": "Date32",
    "area": "Nullable(String)", "root": "String", "level": "Nullable(String)", "on": "Nullable(Date32)",
    "region": "String", "year": "Int32",
}

TABLES = (*store.TABLES, *rollup.DERIVED)
# Sort keys of the loaded tables (every query filters the big ones on these first).
_ORDER = {"observations": "indicator_id, region_code, period", "rollup": "indicator_id, region_code, period",
          "lfl": "indicator_id, region_code, period", "ancestors": "ancestor, code", "coverage": "region_code, level", "regions": "code"}
KEEP = 2  # published databases kept: the one readers use and the one before it (a query still running)
POINTER_DB = "minsheng"
_DATABASE = re.compile(r"ms_v\d{6}_[0-9a-f]{16}|ms_base_[0-9a-f]{16}")


class EngineError(RuntimeError):
    """A ClickHouse engine that cannot run: not configured, chDB missing, nothing published (Chinese)."""


# ---- SQL -------------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def load_sql(name: str, database: str) -> str:
    """queries/NAME.sql in ClickHouse's dialect, over `database`'s tables."""
    from minsheng import repo  # repo chooses the engine and imports this module

    _check_database(database)
    tree = sqlglot.parse_one(repo.load_sql(name), read="duckdb")
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for ph in tree.find_all(exp.Placeholder):
        if ph.name not in PARAM_TYPES:
            raise ValueError(f"查询 {name} 的参数 {ph.name} 没有 ClickHouse 类型")
        ph.set("kind", exp.DataType.build(PARAM_TYPES[ph.name], dialect="clickhouse"))
    for dtype in tree.find_all(exp.DataType):
        if dtype.this == exp.DataType.Type.DATE:
            dtype.set("this", exp.DataType.Type.DATE32)
    for table in tree.find_all(exp.Table):
        if table.name in ctes or not table.name:
            continue
        if table.name not in TABLES:
            raise ValueError(f"查询 {name} 读取了未知的表 {table.name}")
        table.set("db", exp.to_identifier(database))
    # ClickHouse names an unaliased `regions.code` column "regions.code" (DuckDB: "code"): alias them
    for select in list(tree.find_all(exp.Select)):
        for col in list(select.expressions):
            if isinstance(col, exp.Column) and col.table:
                col.replace(exp.alias_(col.copy(), col.name))
    return tree.sql(dialect="clickhouse")


def _check_database(name: str) -> str:
    if not _DATABASE.fullmatch(name):
        raise ValueError(f"不允许的数据库名：{name!r}")
    return name


def database_name(reading: store.Reading) -> str:
    """The database a version is published into: its id and data fingerprint, a plain identifier."""
    head = "ms_base" if reading.id == store.BASE else "ms_" + reading.id.split("-")[0]
    return _check_database(f"{head}_{reading.fingerprint}")


def _bind(params: dict) -> dict[str, str]:
    """Values as ClickHouse's text form of their declared type (the HTTP interface's and chDB's parameters)."""
    from clickhouse_connect.driver.binding import format_bind_value

    out = {}
    for k, v in params.items():
        if k not in PARAM_TYPES:
            raise ValueError(f"未知参数：{k}")
        if isinstance(v, tuple):
            v = list(v)
        if isinstance(v, dt.datetime):
            v = v.date()
        out[k] = format_bind_value(v)
    return out


# ---- where it runs ---------------------------------------------------------------------------------------

class _Chdb:
    """chDB in this process: one session on one folder (chDB keeps one session per process), one query at a time."""

    def __init__(self, path: str):
        try:
            from chdb import session
        except ImportError:  # a test and benchmark dependency, not the app's
            raise EngineError("未安装 chDB：请运行 pip install -r requirements-dev.txt（或 pip install chdb==4.4.0），"
                              "或用 MINSHENG_CLICKHOUSE_URL 连接 ClickHouse 服务器") from None
        self.path = path
        self.session = session.Session(path)
        self.lock = threading.Lock()

    def arrow(self, sql: str, params: dict | None = None) -> pa.Table:
        with self.lock:
            return self.session.query(sql, "ArrowTable", params=params or {})

    def command(self, sql: str, params: dict | None = None) -> None:
        with self.lock:
            self.session.query(sql, "CSV", params=params or {})

    def load_parquet(self, database: str, table: str, path: Path) -> None:
        # the path is our own temporary file, a bound String (file() takes a constant expression)
        _ddl(self, "insert into", database, "." + table + " select * from file({path:String}, Parquet)",
             {"path": str(path)})

    def close(self) -> None:
        self.session.close()


class _Server:
    """A ClickHouse server through clickhouse-connect; values bound server-side (`parameters=`)."""

    def __init__(self, url: str):
        import clickhouse_connect

        # no session id: a client with one is not thread-safe, and each Streamlit session is a thread;
        # without, the client's connection pool runs their queries at once
        self.client = clickhouse_connect.get_client(dsn=url, settings=SETTINGS, autogenerate_session_id=False)

    def arrow(self, sql: str, params: dict | None = None) -> pa.Table:
        return self.client.query_arrow(sql, parameters=params or None, settings=SETTINGS)

    def command(self, sql: str, params: dict | None = None) -> None:
        self.client.command(sql, parameters=params or None, settings=SETTINGS)

    def load_parquet(self, database: str, table: str, path: Path) -> None:
        for batch in pq.ParquetFile(path).iter_batches(1_000_000):  # a bounded amount in memory at a time
            self.client.insert_arrow(table, pa.Table.from_batches([batch]), database=database)

    def close(self) -> None:
        self.client.close()


_lock = threading.Lock()
_engines: dict[str, _Chdb | _Server] = {}


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def target() -> str:
    """Where the ClickHouse engine runs, from configuration: a server URL or a chDB folder."""
    url, path = os.environ.get("MINSHENG_CLICKHOUSE_URL"), os.environ.get("MINSHENG_CLICKHOUSE_PATH")
    if url:
        return url
    if path:
        return "chdb:" + str(Path(path).resolve())
    raise EngineError("MINSHENG_ENGINE=clickhouse 需要 MINSHENG_CLICKHOUSE_URL（服务器）或 "
                      "MINSHENG_CLICKHOUSE_PATH（chDB 目录）")


def engine(where: str | None = None) -> _Chdb | _Server:
    where = where or target()
    with _lock:
        e = _engines.get(where)
        if e is None:
            if where.startswith("chdb:"):
                for other in [k for k in _engines if k.startswith("chdb:")]:  # one chDB session per process
                    _engines.pop(other).close()
                e = _Chdb(where[len("chdb:"):])
            else:
                e = _Server(where)
            _engines[where] = e
    return e


def reset() -> None:
    """Close every engine this process opened (tests, the benchmark's cold runs)."""
    with _lock:
        while _engines:
            _engines.popitem()[1].close()


# ---- reading ---------------------------------------------------------------------------------------------

_POINTER = "select database from minsheng.published order by seq desc limit 1"
_HISTORY = "select database, max(seq) as s from minsheng.published group by database order by s desc"
_SWITCH = ("insert into minsheng.published select (select coalesce(max(seq), 0) + 1 from minsheng.published), "
           "now64(3), {database:String}, {version:String}")
SETTINGS_SQL = "\nsettings " + ", ".join(f"{k} = {int(v)}" for k, v in SETTINGS.items())


def published(where: str | None = None) -> str:
    """The database readers read now: the newest row of the pointer table."""
    e = engine(where)
    try:
        t = e.arrow(_POINTER)
    except Exception as err:
        if "UNKNOWN_DATABASE" in str(err) or "UNKNOWN_TABLE" in str(err):
            t = pa.table({"database": pa.array([], pa.string())})
        else:
            raise
    if t.num_rows == 0:
        raise EngineError("ClickHouse 中还没有发布的数据：请先运行 python -m minsheng publish --engine clickhouse")
    return _check_database(t.column(0)[0].as_py())


# ClickHouse's types where DuckDB's answer has another: counts are UInt64 there, BIGINT here.
_CASTS = {pa.uint8(): pa.int64(), pa.uint16(): pa.int64(), pa.uint32(): pa.int64(), pa.uint64(): pa.int64(),
          pa.int8(): pa.int64(), pa.int16(): pa.int64(), pa.large_string(): pa.string(), pa.binary(): pa.string(),
          pa.large_binary(): pa.string()}


def normalise(table: pa.Table) -> pd.DataFrame:
    """An answer as DuckDB's `.df()` gives it: the same column types, converted to pandas by DuckDB itself
    (so NULL strings, dates and nullable integers come out as on the default engine)."""
    return duckdb.from_arrow(conform(table)).df()


def conform(table: pa.Table) -> pa.Table:
    """ClickHouse's Arrow answer in the Arrow types DuckDB's has."""
    return table.cast(pa.schema([pa.field(f.name, _CASTS.get(f.type, f.type)) for f in table.schema]))


def arrow(name: str, params: dict | None = None, where: str | None = None) -> pa.Table:
    """queries/NAME.sql on the published version, its values bound; the answer as Arrow."""
    return engine(where).arrow(load_sql(name, published(where)) + SETTINGS_SQL, _bind(params or {}))


def run(name: str, params: dict | None = None, where: str | None = None) -> pd.DataFrame:
    return normalise(arrow(name, params, where))


def count(name: str, params: dict | None = None, where: str | None = None) -> int:
    e = engine(where)
    t = e.arrow("select count() from (\n" + load_sql(name, published(where)) + "\n)" + SETTINGS_SQL, _bind(params or {}))
    return int(t.column(0)[0].as_py())


# ---- publishing ------------------------------------------------------------------------------------------

def publish(directory: Path, where: str | None = None, keep: int = KEEP) -> str:
    """Load the version readers of `directory` see (store.reading) into a database of its own, switch
    the pointer to it in one insert (readers move to it whole), and drop all but the newest `keep`."""
    from minsheng import db

    directory = Path(directory).resolve()
    reading = store.reading(directory)
    name = database_name(reading)
    e = engine(where)
    _ddl(e, "create database if not exists", POINTER_DB)
    _ddl(e, "create table if not exists", POINTER_DB, ".published (seq UInt64, at DateTime64(3), database String, "
         "version String) engine = MergeTree order by seq")
    try:
        if published(where) == name:  # already what readers read: never rebuilt under them
            return name
    except EngineError:
        pass
    _ddl(e, "drop database if exists", name)  # left half-made by a failed attempt
    _ddl(e, "create database", name)
    cur = db.cursor(directory)  # the tables exactly as DuckDB reads them (missing fields, in-memory roll-ups)
    try:
        with tempfile.TemporaryDirectory(prefix="minsheng-publish-") as tmp:
            for table in TABLES:
                part = Path(tmp) / f"{table}.parquet"
                cur.table(table).write_parquet(str(part))
                columns = ", ".join(f"`{f.name}` {_ch_type(_typed(table, f))}" for f in pq.read_schema(part))
                _ddl(e, "create table", name, f".{table} ({columns}) engine = MergeTree order by "
                     f"({_ORDER.get(table, 'tuple()')}) settings allow_nullable_key = 1")
                e.load_parquet(name, table, part)
    except BaseException:
        _ddl(e, "drop database if exists", name)
        raise
    finally:
        cur.close()
    e.command(_SWITCH, {"database": name, "version": reading.id})  # one row: readers move in one step
    _drop_old(e, keep)
    return name


def _drop_old(e, keep: int) -> None:
    names = [n for n in e.arrow(_HISTORY).column(0).to_pylist() if _DATABASE.fullmatch(n)]
    for old in names[max(keep, 1):]:
        _ddl(e, "drop database if exists", old)
        _ddl(e, "alter table", POINTER_DB, ".published delete where database = " + _literal(old)
             + " settings mutations_sync = 1")


def _ddl(e, statement: str, database: str, rest: str = "", params: dict | None = None) -> None:
    """Run `statement database` + rest: DDL over our own names (a database checked by _check_database or the
    pointer's, tables from TABLES, columns from DuckDB's own Parquet schema, values quoted by _literal);
    DDL takes no parameters."""
    if database != POINTER_DB:
        _check_database(database)
    e.command(statement + " " + database + rest, params)


def _typed(table: str, f: pa.Field) -> pa.DataType:
    """A column's type; where DuckDB has none (a table written empty from pandas: all NULL), the store's."""
    from minsheng.ingest import contract

    if not pa.types.is_null(f.type):
        return f.type
    known = contract.empty_table(table).schema if table in store.TABLES else pa.schema([])
    return known.field(f.name).type if f.name in known.names else pa.string()


def _ch_type(t: pa.DataType) -> str:
    """The ClickHouse column type for a Parquet column DuckDB wrote (every column may be NULL there)."""
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        base = "String"
    elif pa.types.is_boolean(t):
        base = "Bool"
    elif pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_int32(t):
        base = "Int32"
    elif pa.types.is_integer(t):
        base = "Int64"
    elif pa.types.is_floating(t):
        base = "Float64"
    elif pa.types.is_date(t):
        base = "Date32"
    elif pa.types.is_timestamp(t):
        base = "DateTime64(6)"
    elif pa.types.is_decimal(t):
        base = f"Decimal({t.precision}, {t.scale})"
    elif pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"Array({_ch_type(t.value_type)})"
    else:
        raise ValueError(f"无法在 ClickHouse 中保存的列类型：{t}")
    return f"Nullable({base})"


# ---- row policies ----------------------------------------------------------------------------------------

_ROLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_AREA = re.compile(r"[0-9]{1,12}")
# The regional tables and their region column. `ancestors` holds codes only, no values, and the policies'
# own subquery reads it: a policy on it would filter the subquery that defines it.
POLICY_TABLES = {"regions": "code", "observations": "region_code", "rollup": "region_code", "lfl": "region_code",
                 "coverage": "region_code", "targets": "region_code"}


def policy_filter(database: str, area: str, table: str) -> str:
    """The condition a row policy puts on `table`: its region is `area` or below it."""
    _check_database(database)
    if not _AREA.fullmatch(area or ""):
        raise ValueError(f"区划代码应为数字：{area!r}")
    return (f"{POLICY_TABLES[table]} in (select code from {database}.ancestors "
            f"where ancestor = {_literal(area)})")


def row_policies(database: str, area: str, role: str) -> list[str]:
    """CREATE ROW POLICY statements that limit `role` (a ClickHouse user or role) to `area`'s subtree in
    `database`: each regional table shows it only the rows of regions in that subtree. The queries take
    the area as a bound parameter as well; the policies hold for anyone who queries the server directly
    (a BI tool, clickhouse-client). DDL takes no parameters: the area must be a region code and the
    role a plain name, both checked here."""
    if not _ROLE.fullmatch(role or ""):
        raise ValueError(f"不允许的用户或角色名：{role!r}")
    return [f"create row policy or replace ms_area_{area}_{table} on {database}.{table} "
            f"for select using {policy_filter(database, area, table)} to {role}"
            for table in POLICY_TABLES]
