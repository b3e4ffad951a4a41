"""The process's one DuckDB connection, with views over the current Parquet tables."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb

from minsheng import store

_lock = threading.Lock()
_cons: dict[Path, tuple[duckdb.DuckDBPyConnection, str]] = {}  # one connection per data directory


def _sql_literal(text: str) -> str:
    # DDL cannot take bound parameters; the path comes from configuration, never from a user,
    # and is quoted here so that any character in it stays inside the literal.
    return "'" + text.replace("'", "''") + "'"


def _create_views(con: duckdb.DuckDBPyConnection, directory: Path) -> None:
    folder = store.resolve(directory)  # the current version's folder; versions are immutable
    for name in store.TABLES:
        path = store.table_path(folder, name)
        if not path.exists():
            raise FileNotFoundError(f"数据目录 {directory} 中缺少 {path.name}（可运行 python -m minsheng demo 生成演示数据）")
        ddl = "create or replace view " + name + " as select * from read_parquet(" + _sql_literal(str(path)) + ")"
        con.execute(ddl)


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
            con = duckdb.connect(":memory:", config={"threads": 2})
        if bound != ver:
            _create_views(con, directory)
            _cons[directory] = (con, ver)
        return con.cursor()
