"""The process's one DuckDB connection, with one schema of views per data version it reads."""

from __future__ import annotations

import os
import re
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from minsheng import fields, layers, rollup, store
from minsheng.rollup import COVERAGE  # a module constant of literals (tests/test_meta.py)

_lock = threading.Lock()
_KEEP = 4  # versions whose views stay defined: a cursor handed out just before a switch still finds its own


@dataclass
class _Engine:
    con: duckdb.DuckDBPyConnection
    schemas: dict[str, str] = field(default_factory=dict)  # data fingerprint → schema, oldest first


_engines: dict[Path, _Engine] = {}  # one connection per data directory


_SCHEMA = re.compile(r"v_[0-9a-f]{16}")


def _ddl(con: duckdb.DuckDBPyConnection, statement: str, schema: str, *rest: str) -> None:
    """Run `statement schema` + rest: DDL over our own names (a schema checked by _SCHEMA, table names
    from store.TABLES and rollup.DERIVED, paths quoted by layers.quoted); DDL takes no parameters."""
    if not _SCHEMA.fullmatch(schema):
        raise ValueError(f"不允许的模式名：{schema!r}")
    con.execute(statement + " " + schema + "".join(rest))


def _view(con: duckdb.DuckDBPyConnection, schema: str, name: str, path: Path) -> None:
    if name in layers.LAYERED:  # base and delta as one table (layers.py: quoted paths, our own columns)
        _ddl(con, "create view", schema, "." + name + " as " + layers.relation_sql(path.parent, name))
        return
    # a field added since the file was written reads as NULL, a present one as its type (minsheng/fields.py:
    # our own field names only)
    cols = fields.select_list(name, set(pq.read_schema(path).names))
    _ddl(con, "create view", schema, "." + name + " as select " + cols + " from read_parquet("
         + layers.quoted(path) + ")")


def _empty(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> None:
    """A table with no rows in the schema a new store starts with (ingest/contract.py)."""
    from minsheng.ingest import contract

    con.register("_ms_empty", contract.empty_table(name))
    try:
        _ddl(con, "create table", schema, "." + name + " as select * from _ms_empty")
    finally:
        con.unregister("_ms_empty")


def _create_schema(con: duckdb.DuckDBPyConnection, directory: Path, reading: store.Reading) -> str:
    """A schema holding one version's views (or in-memory roll-ups), named after its fingerprint.

    A version's views live together in their own schema and a cursor is pointed at one schema
    (`use`), so a query sees one version whole: replacing shared views one by one while other
    threads query let a county total from one version meet townships from another."""
    schema = "v_" + reading.fingerprint  # 16 hex digits from store.version: a plain identifier (_ddl checks)
    _ddl(con, "drop schema if exists", schema, " cascade")  # left half-made by a failed attempt
    _ddl(con, "create schema", schema)
    blank = store.blank(directory)  # no store yet: empty tables, so the first-run and 导入 pages can read
    try:
        for name in store.TABLES:
            path = store.table_path(reading.folder, name)
            if blank:
                _empty(con, schema, name)
                continue
            if not path.exists():
                raise FileNotFoundError(f"数据目录中缺少 {path.name}（可运行 python -m minsheng check 核查）")
            _view(con, schema, name, path)
        if not blank and store.ensure_derived(directory, reading.folder):
            windowed = rollup.windowed(reading.folder)
            for name in rollup.DERIVED:
                if name != "coverage" or windowed:
                    _view(con, schema, name, rollup.path(reading.folder, name))
            if not windowed:  # a version from before code changes: its coverage, windowed, in memory
                _ddl(con, "use", schema)
                try:
                    con.execute(COVERAGE)
                finally:
                    con.execute("use main")
        else:
            _ddl(con, "use", schema)  # read-only data: the roll-ups live in this process's memory instead
            try:
                rollup.build_into(con)
            finally:
                con.execute("use main")
    except BaseException:
        _ddl(con, "drop schema if exists", schema, " cascade")
        raise
    return schema


def reset(directory: Path | None = None) -> None:
    """Close the process's connection to `directory`, so the next query opens a new one (a cold start)."""
    directory = (directory or store.read_dir()).resolve()
    with _lock:
        engine = _engines.pop(directory, None)
    if engine is not None:
        engine.con.close()


def forget_gone() -> None:
    """Close the connections to directories that are gone (derived views replaced by newer ones, store.derived):
    each holds its own memory and threads."""
    with _lock:
        gone = [d for d in _engines if not d.exists()]
        engines = [_engines.pop(d) for d in gone]
    for engine in engines:
        engine.con.close()


def cursor(directory: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A fresh cursor on the shared connection, bound to the version readers see now (store.reading).

    Every query runs on its own cursor: one DuckDB connection is not safe across threads, and
    each Streamlit session is a thread. The cursor keeps reading its version while later commits
    make new schemas beside it.
    """
    directory = (directory or store.read_dir()).resolve()
    reading = store.reading(directory)
    with _lock:
        engine = _engines.get(directory)
        if engine is None:
            # A bounded engine: page queries are small; anything larger spills to the temp folder
            # (not to ./.tmp, DuckDB's default for in-memory databases).
            # parquet_metadata_cache: a Parquet footer (950 row groups at 100M rows) is parsed once, not on
            # every bind — 15 ms of a 43 ms lookup. Safe with our files: DuckDB trusts an entry only while the
            # file's mtime is unchanged and more than 10 s old, and a version's files are never rewritten in
            # place. SET GLOBAL: a plain SET holds for the connection only, not for the cursors made from it
            # (and the setting cannot go into connect's config: the Parquet reader is not loaded yet).
            engine = _engines[directory] = _Engine(duckdb.connect(":memory:", config={
                "threads": 2, "memory_limit": os.environ.get("MINSHENG_DUCKDB_MEMORY", "1GB"),
                "temp_directory": str(Path(tempfile.gettempdir()) / f"minsheng-duckdb-app-{os.getpid()}")}))
            engine.con.execute("set global parquet_metadata_cache = true")
        schema = engine.schemas.get(reading.fingerprint)
        if schema is None:
            schema = engine.schemas[reading.fingerprint] = _create_schema(engine.con, directory, reading)
            while len(engine.schemas) > _KEEP:  # a query already running keeps its snapshot of the catalog
                _ddl(engine.con, "drop schema", engine.schemas.pop(next(iter(engine.schemas))), " cascade")
        cur = engine.con.cursor()
    _ddl(cur, "use", schema)
    return cur
