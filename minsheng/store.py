"""Where the Parquet tables live on disk, how they are written, and the data version."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("regions", "indicators", "observations", "targets")


def data_dir() -> Path:
    """The data directory: `MINSHENG_DATA` if set, else the bundled demo data."""
    return Path(os.environ.get("MINSHENG_DATA") or ROOT / "data")


def table_path(directory: Path, name: str) -> Path:
    if name not in TABLES:
        raise ValueError(f"未知数据表：{name}")
    return directory / f"{name}.parquet"


def read_meta(directory: Path) -> dict:
    path = directory / "meta.json"
    if not path.exists():
        return {"demo": False, "data_date": None, "title": "民生指标"}
    return json.loads(path.read_text(encoding="utf-8"))


def version(directory: Path) -> str:
    """A short fingerprint of the tables; it changes whenever any table is rewritten."""
    h = hashlib.sha256()
    for name in (*TABLES, "meta"):
        p = directory / (f"{name}.parquet" if name != "meta" else "meta.json")
        if p.exists():
            st = p.stat()
            h.update(f"{name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


def _atomic_write_bytes(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_tables(directory: Path, tables: dict[str, pd.DataFrame], meta: dict) -> None:
    """Write each table next to its final name and rename it into place, so a reader never sees half a file."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        _atomic_write_bytes(table_path(directory, name),
                            lambda p, df=df: df.to_parquet(p, index=False, compression="zstd"))
    text = json.dumps(meta, ensure_ascii=False, indent=2) + "\n"
    _atomic_write_bytes(directory / "meta.json", lambda p: p.write_text(text, encoding="utf-8"))
