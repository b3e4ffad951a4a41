"""The process's one DuckDB connection, with views over the current Parquet tables."""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import duckdb

from minsheng import rollup, store

_lock = threading.Lock()
_cons: dict[Path, tuple[duckdb.DuckDBPyConnection, str]] = {}  # one connection per data directory


def _sql_literal(text: str) -> str:
    # DDL cannot take bound parameters; the path comes from configuration, never from a user,
    # and is quoted here so that any character in it stays inside the literal.
    return "'" + text.replace("'", "''") + "'"


def _drop(con: duckdb.DuckDBPyConnection, name: str) -> None:
    # A derived table is a view over its file, or an in-memory table where the file cannot be written.
    kind = con.execute("select table_type from information_schema.tables where table_name = ?", [name]).fetchall()
    if kind:
        con.execute(("drop view " if kind[0][0] == "VIEW" else "drop table ") + name)


def _create_views(con: duckdb.DuckDBPyConnection, directory: Path) -> None:
    folder = store.resolve(directory)  # the current version's folder; versions are immutable
    for name in store.TABLES:
        path = store.table_path(folder, name)
        if not path.exists():
            raise FileNotFoundError(f"数据目录 {directory} 中缺少 {path.name}（可运行 python -m minsheng demo 生成演示数据）")
        ddl = "create or replace view " + name + " as select * from read_parquet(" + _sql_literal(str(path)) + ")"
        con.execute(ddl)
    for name in rollup.DERIVED:
        _drop(con, name)
    if not store.ensure_derived(directory, folder):
        rollup.build_into(con)  # read-only data: the roll-ups live in this process's memory instead
        return
    for name in rollup.DERIVED:
        con.execute("create view " + name + " as select * from read_parquet("
                    + _sql_literal(str(rollup.path(folder, name))) + ")")


def reset(directory: Path | None = None) -> None:
    """Close the process's connection to `directory`, so the next query opens a new one (a cold start)."""
    directory = (directory or store.data_dir()).resolve()
    with _lock:
        con, _ = _cons.pop(directory, (None, None))
    if con is not None:
        con.close()


def cursor(directory: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A fresh cursor on the shared connection; the views follow the data directory's current version.

    Every query runs on its own cursor: one DuckDB connection is not safe across threads, and
    each Streamlit session is a thread.
    """
    directory = (directory or store.data_dir()).resolve()
    # Fingerprint before resolving the folder: if a commit lands in between, the views are newer
    # than the fingerprint and the next call merely rebuilds them once more.
    ver = store.version(directory)
    with _lock:
        con, bound = _cons.get(directory, (None, None))
        if con is None:
            # A bounded engine: page queries are small; anything larger spills to the temp folder
            # (not to ./.tmp, DuckDB's default for in-memory databases).
            con = duckdb.connect(":memory:", config={
                "threads": 2, "memory_limit": os.environ.get("MINSHENG_DUCKDB_MEMORY", "1GB"),
                "temp_directory": str(Path(tempfile.gettempdir()) / f"minsheng-duckdb-app-{os.getpid()}")})
        if bound != ver:
            _create_views(con, directory)
            _cons[directory] = (con, ver)
        return con.cursor()
