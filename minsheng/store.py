"""Where the Parquet tables live on disk, how versions are committed atomically, and the data version."""

# On-disk layout (everything under the data directory, `data_dir()`):
#
#   regions.parquet … targets.parquet, meta.json   the "base" version: bundled data, written by
#                                                  `write_tables` (the demo generator); never pruned
#   rollup.parquet, coverage.parquet,              derived from the tables (minsheng/rollup.py), in
#   ancestors.parquet, rollup.json                 every version folder; rebuilt when missing or stale
#   boundaries/*.geojson (+ SOURCE.md)             the base version's polygons
#   .versions/CURRENT                              id of the current version; absent → "base"
#   .versions/v000003-20261123T132501/             one immutable folder per version: all four tables,
#                                                  boundaries/, meta.json and version.json (its history
#                                                  record); unchanged files are hard links to the
#                                                  parent's (a copy where linking fails)
#   .versions/lock                                 flock()ed by whoever commits, rolls back or prunes
#   .versions/.tmp-*                               a commit in progress, or left by a crash; ignored
#
# A commit builds the complete new folder under a .tmp- name, fsyncs it, renames it to its id,
# then switches CURRENT (files.atomic_write: temp, fsync, rename, fsync the folder). Until that rename the
# old version is current; after it the new one is, complete. CURRENT only ever names the highest
# version (a rollback is a new version), so a version folder above CURRENT was orphaned by a crash
# between rename and switch: readers ignore it and the next commit deletes it.
#
# Crash test hook: MINSHENG_CRASH_AT=<step> SIGKILLs the committing process at that step (see
# CRASH_STEPS); tests/test_store.py also kills commits at random moments.

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from minsheng import files, locks, observations, rollup

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("regions", "indicators", "observations", "targets")
BOUNDARY_LEVELS = ("city", "county", "township", "village")
BASE = "base"
VERSIONS = ".versions"
CRASH_STEPS = ("start", "table-written", "tables-linked", "derived-built", "before-rename", "renamed",
               "current-written", "switched")
_ID = re.compile(r"v(\d{6})-\d{8}T\d{6}")
_DEFAULT_META = {"demo": False, "data_date": None, "title": "民生指标"}
_held = threading.local()  # directories whose lock this thread holds, so lock() nests


class StoreError(Exception):
    """A commit, rollback or prune that cannot be done; the message is for the user (Chinese)."""


class StoreBusy(StoreError):
    """Another process or thread holds the commit lock past the timeout."""


class StoreConflict(StoreError):
    """The caller derived its data from a version that is no longer current."""


def data_dir() -> Path:
    """The data directory: `MINSHENG_DATA` if set, else the bundled demo data."""
    return Path(os.environ.get("MINSHENG_DATA") or ROOT / "data")


def table_path(directory: Path, name: str) -> Path:
    """The file of a table inside a given folder (use `resolve` for the current version's folder)."""
    if name not in TABLES:
        raise ValueError(f"未知数据表：{name}")
    return Path(directory) / f"{name}.parquet"


# --- reading -----------------------------------------------------------------------------

def _vroot(directory: Path) -> Path:
    return Path(directory) / VERSIONS


def _num(version_id: str) -> int:
    return 0 if version_id == BASE else int(version_id[1:7])


def current(directory: Path) -> str:
    """The current version id, "base" before the first commit."""
    try:
        vid = (_vroot(directory) / "CURRENT").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return BASE
    if not _ID.fullmatch(vid):
        raise StoreError(f"版本记录 {_vroot(directory) / 'CURRENT'} 已损坏：{vid!r}")
    return vid


def _folder(directory: Path, version_id: str) -> Path:
    folder = Path(directory) if version_id == BASE else _vroot(directory) / version_id
    if version_id != BASE and not (folder / "version.json").exists():
        raise StoreError(f"版本 {version_id} 的目录不存在或不完整：{folder}")
    return folder


def resolve(directory: Path) -> Path:
    """The folder holding the current version's tables and meta.json."""
    return _folder(directory, current(directory))


def _meta_in(folder: Path) -> dict:
    path = folder / "meta.json"
    if not path.exists():
        return dict(_DEFAULT_META)
    return json.loads(path.read_text(encoding="utf-8"))


def read_meta(directory: Path) -> dict:
    return _meta_in(resolve(directory))


def version(directory: Path) -> str:
    """A short fingerprint of the current data; it changes on every commit, rollback or table rewrite."""
    vid = current(directory)
    folder = _folder(directory, vid)
    h = hashlib.sha256(vid.encode())
    for name in (*TABLES, "meta"):
        ident = files.identity(folder / (f"{name}.parquet" if name != "meta" else "meta.json"))
        if ident:
            h.update(f"{name}:{ident[0]}:{ident[1]};".encode())
    return h.hexdigest()[:16]


def _versions(directory: Path) -> list[str]:
    """Committed version ids, newest first (orphans above CURRENT and .tmp- folders left out)."""
    root, top = _vroot(directory), _num(current(directory))
    if not root.is_dir():
        return []
    ids = [p.name for p in root.iterdir() if _ID.fullmatch(p.name) and _num(p.name) <= top]
    return sorted(ids, key=_num, reverse=True)


def _rows(folder: Path) -> dict[str, int]:
    return {n: pq.read_metadata(table_path(folder, n)).num_rows for n in TABLES if table_path(folder, n).exists()}


def history(directory: Path) -> list[dict]:
    """Every version's record, newest first, ending with "base" (the flat files); `current` marks one."""
    cur = current(directory)
    out = [json.loads((_vroot(directory) / v / "version.json").read_text(encoding="utf-8"))
           for v in _versions(directory)]
    mtimes = [table_path(directory, n).stat().st_mtime for n in TABLES if table_path(directory, n).exists()]
    out.append(dict(id=BASE, parent=None, action=BASE, user=None, file_name=None, file_sha256=None, kind=None,
                    created=dt.datetime.fromtimestamp(max(mtimes)).astimezone().isoformat(timespec="seconds")
                    if mtimes else None,
                    rows=_rows(Path(directory)), changed=[], note="初始数据", source=None))
    for rec in out:
        rec["current"] = rec["id"] == cur
    return out


# --- writing -----------------------------------------------------------------------------

def _crash(step: str) -> None:
    # Test hook only: simulate `kill -9` at a named step of a commit.
    if os.environ.get("MINSHENG_CRASH_AT") == step:
        os.kill(os.getpid(), signal.SIGKILL)


def _to_parquet(df: pd.DataFrame, path: Path, name: str) -> None:
    if name == "observations":  # sorted by region in small row groups: lookups read one or two groups
        observations.write(df, path)
    else:
        df.to_parquet(path, index=False, compression="zstd")


def write_tables(directory: Path, tables: dict[str, pd.DataFrame], meta: dict) -> None:
    """Write base tables in place (demo, tests), each renamed into place, and their roll-ups; versioned
    data goes through `commit`."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        files.atomic_write(table_path(directory, name), lambda p, df=df, name=name: _to_parquet(df, p, name))
    files.write_json(directory / "meta.json", meta)
    if all((Path(directory) / f"{n}.parquet").exists() for n in rollup.SOURCES):
        rollup.build(Path(directory))


def ensure_derived(directory: Path, folder: Path) -> bool:
    """Make sure `folder` (a version of `directory`) has current roll-up files, building them if needed.
    False where they cannot be written (read-only data): the caller computes them in memory."""
    if rollup.current(folder):
        return True
    try:
        with lock(directory):
            if not rollup.current(folder):
                rollup.build(Path(folder))
    except OSError:
        return False
    return True


@contextmanager
def lock(directory: Path, timeout: float = 30):
    """Hold the data directory's commit lock; wait up to `timeout` seconds, then raise StoreBusy.

    flock() is per open file, so it serialises threads (Streamlit sessions) as well as processes,
    and the kernel drops it when a holder dies. Nested use in one thread is allowed (an import
    can hold the lock across read–merge–commit).
    """
    root = _vroot(directory)
    key = str(root.resolve())
    held = _held.__dict__.setdefault("dirs", set())
    if key in held:
        yield
        return
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        locks.acquire(fd, timeout, StoreBusy(f"另一个导入正在提交，请稍后再试（等待 {timeout:g} 秒后放弃）"))
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
    finally:
        os.close(fd)  # releases the flock


def _remove(path: Path) -> None:
    # Rename out of sight first, so a crash mid-delete never leaves half a version under its id.
    gone = path.with_name(f".tmp-del-{path.name}-{os.getpid()}")
    os.rename(path, gone)
    shutil.rmtree(gone)


def _cleanup(directory: Path) -> None:
    """Delete what crashed commits left: .tmp-* entries and version folders above CURRENT. Needs the lock."""
    root, top = _vroot(directory), _num(current(directory))
    for p in root.iterdir():
        if p.name.startswith(".tmp-") and p.is_dir():
            shutil.rmtree(p)
        elif p.name.startswith(".tmp-"):
            p.unlink()
        elif _ID.fullmatch(p.name) and _num(p.name) > top:
            _remove(p)


def _boundaries_in(directory: Path, folder: Path) -> Path:
    own = folder / "boundaries"
    return own if own.is_dir() else Path(directory) / "boundaries"


def boundaries_dir(directory: Path) -> Path:
    """The current version's boundaries/ folder (the base one if the version carries none)."""
    return _boundaries_in(directory, resolve(directory))


def _snapshot(directory: Path, folder: Path) -> dict[str, tuple[int, int] | None]:
    """Every table's and boundary file's identity (size, mtime), to tell what a rollback changes
    without reading a byte: a version's unchanged files are links or copies of its parent's."""
    b = _boundaries_in(directory, folder)
    paths = {n: table_path(folder, n) for n in TABLES}
    paths |= {f"boundaries/{p.stem}": p for p in sorted(b.glob("*.geojson"))} if b.is_dir() else {}
    return {k: files.identity(p) for k, p in paths.items()}


def _new_version(directory: Path, source: Path, meta: dict, record: dict,
                 tables: dict[str, pd.DataFrame] | None = None, geo: dict[str, str] | None = None,
                 rows: pd.DataFrame | None = None) -> str:
    """Build a complete version folder (given tables and boundary files written, `rows` merged into
    the source's observations, the rest linked from `source`) and make it current. Call with the lock held."""
    tables, geo = tables or {}, geo or {}
    root, parent = _vroot(directory), current(directory)
    _cleanup(directory)
    now = dt.datetime.now().astimezone()
    vid = f"v{_num(parent) + 1:06d}-{now:%Y%m%dT%H%M%S}"
    tmp = root / f".tmp-{vid}-{os.getpid()}"
    tmp.mkdir()
    _crash("start")
    for name, df in tables.items():
        _to_parquet(df, table_path(tmp, name), name)
        files.fsync(table_path(tmp, name))
        _crash("table-written")
    if rows is not None:  # merged by DuckDB from the source file: the table never enters Python whole
        if table_path(source, "observations").exists():
            observations.merge(table_path(source, "observations"), rows, table_path(tmp, "observations"))
        else:
            observations.write(rows, table_path(tmp, "observations"))
        files.fsync(table_path(tmp, "observations"))
        _crash("table-written")
    for name in TABLES:
        if name not in tables and not (name == "observations" and rows is not None) and table_path(source, name).exists():  # a fresh directory may lack some
            files.link_or_copy(table_path(source, name), table_path(tmp, name))
    # Every version carries its own boundaries/ (links, mostly), so a rollback restores the map too.
    src_b, dst_b = _boundaries_in(directory, source), tmp / "boundaries"
    if src_b.is_dir() or geo:
        dst_b.mkdir()
        for level, text in geo.items():
            files.write_text(dst_b / f"{level}.geojson", text)
        for f in sorted(src_b.iterdir()) if src_b.is_dir() else ():
            if f.is_file() and not (dst_b / f.name).exists():
                files.link_or_copy(f, dst_b / f.name)
        files.fsync(dst_b)
    _crash("tables-linked")
    # Roll-ups: linked when the tables they come from are the source's (same files), else rebuilt.
    if rollup.current(source) and rollup.fingerprint(source) == rollup.fingerprint(tmp):
        for name in rollup.DERIVED:
            files.link_or_copy(rollup.path(source, name), rollup.path(tmp, name))
        files.link_or_copy(rollup.stamp_path(source), rollup.stamp_path(tmp))
    elif all(table_path(tmp, n).exists() for n in rollup.SOURCES):
        # an import of observations re-rolls only the indicators it touched
        try:
            rollup.build(tmp, previous=source, changed=set(rows["indicator_id"]) if rows is not None else None)
        except rollup.InvariantError as e:  # before the switch: the current version stays as it was
            raise StoreError(f"{e}。本次提交未生效，当前版本不变") from e
    _crash("derived-built")
    files.write_json(tmp / "meta.json", meta)
    files.write_json(tmp / "version.json", dict(id=vid, parent=parent, created=now.isoformat(timespec="seconds"),
                                                **record, rows=_rows(tmp)))
    files.fsync(tmp)
    _crash("before-rename")
    os.rename(tmp, root / vid)
    files.fsync(root)
    _crash("renamed")

    def write_current(t: Path) -> None:
        t.write_text(vid + "\n", encoding="utf-8")
        _crash("current-written")  # the temp is written; CURRENT still names the old version

    files.atomic_write(root / "CURRENT", write_current)  # the commit point: the rename over CURRENT
    _crash("switched")
    return vid


def _parent(directory: Path, expected_parent: str | None) -> str:
    # Refuse if another commit got in since the caller read the data it merged: otherwise the
    # later of two concurrent imports would silently drop the earlier one's rows.
    parent = current(directory)
    if expected_parent is not None and expected_parent != parent:
        raise StoreConflict(f"数据已被另一次提交更新（当前版本 {parent}），请重新导入")
    return parent


def _record(action: str, *, user=None, file_name=None, file_sha256=None, kind=None, changed=(), note=None,
            source=None, scope=None) -> dict:
    # scope: the path (top first) of the smallest region holding every change (minsheng/ingest/scope.py);
    # None, and absent in older records: unknown, treated as city-wide
    return dict(action=action, user=user, file_name=file_name, file_sha256=file_sha256, kind=kind,
                changed=list(changed), note=note, source=source, scope=None if scope is None else list(scope))


def commit(directory: Path, tables: dict[str, pd.DataFrame], *, action: str = "import",
           file_name: str | None = None, file_sha256: str | None = None, kind: str | None = None,
           user: str | None = None, note: str | None = None, meta_update: dict | None = None,
           lock_timeout: float = 30, expected_parent: str | None = None,
           observations: pd.DataFrame | None = None, scope: list[str] | None = None) -> str:
    """Make a new current version: the given tables replaced, the others linked from the current one.

    `observations`: rows merged into the current observations table (same indicator, region and
    period replaced, the rest added) — how imports write, at any table size.
    `expected_parent`: the version the caller's tables were derived from; StoreConflict if it is no
    longer current.
    """
    unknown = sorted(set(tables) - set(TABLES))
    if unknown:
        raise StoreError(f"未知数据表：{'、'.join(unknown)}")
    if observations is not None and "observations" in tables:
        raise StoreError("observations 不能同时整表替换和合并")
    if not tables and not meta_update and observations is None:
        raise StoreError("没有要提交的数据")
    with lock(directory, lock_timeout):
        source = _folder(directory, _parent(directory, expected_parent))
        changed = [n for n in TABLES if n in tables or (n == "observations" and observations is not None)]
        record = _record(action, user=user, file_name=file_name, file_sha256=file_sha256, kind=kind,
                         changed=changed, note=note, scope=scope)
        return _new_version(directory, source, {**_meta_in(source), **(meta_update or {})}, record, tables=tables,
                            rows=observations)


def _geojson(features: list[dict]) -> str:
    # One feature per line, like data/boundaries: diffable and still compact.
    lines = ",\n".join(json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features)
    return '{"type":"FeatureCollection","features":[\n' + lines + "\n]}\n"


def commit_boundaries(directory: Path, levels: dict[str, dict], *, merge: bool = True,
                      file_name: str | None = None, file_sha256: str | None = None, user: str | None = None,
                      note: str | None = None, lock_timeout: float = 30, expected_parent: str | None = None,
                      scope: list[str] | None = None) -> str:
    """Make a new current version with new polygons: {level: FeatureCollection}.

    With `merge` (the default) a feature replaces the current one with the same properties.code
    and every other current polygon is kept, so a file with one county's outline loses nothing;
    without it the level's file is replaced whole.
    """
    unknown = sorted(set(levels) - set(BOUNDARY_LEVELS))
    if unknown or not levels:
        raise StoreError(f"未知边界级别：{'、'.join(unknown)}" if unknown else "没有要提交的边界")
    with lock(directory, lock_timeout):
        source = _folder(directory, _parent(directory, expected_parent))
        texts = {}
        for level, fc in levels.items():
            features, old = list(fc["features"]), _boundaries_in(directory, source) / f"{level}.geojson"
            if merge and old.exists():
                new = {f["properties"]["code"]: f for f in features}
                kept = json.loads(old.read_text(encoding="utf-8"))["features"]
                features = [new.pop(f["properties"].get("code"), f) for f in kept] + list(new.values())
            texts[level] = _geojson(features)
        record = _record("import", user=user, file_name=file_name, file_sha256=file_sha256, kind="boundaries",
                         changed=[f"boundaries/{lv}" for lv in levels], note=note, scope=scope)
        return _new_version(directory, source, _meta_in(source), record, geo=texts)


def rollback(directory: Path, version_id: str, *, user: str | None = None, lock_timeout: float = 30,
             scope: list[str] | None = None) -> str:
    """Make a new current version with the tables, boundaries and meta of `version_id` (so a rollback can itself be undone)."""
    with lock(directory, lock_timeout):
        cur = current(directory)
        if version_id != BASE and version_id not in _versions(directory):
            raise StoreError(f"没有版本 {version_id}（可用 python -m minsheng history 查看）")
        if version_id == cur:
            raise StoreError(f"{version_id} 已是当前版本")
        source = _folder(directory, version_id)
        was, now = _snapshot(directory, _folder(directory, cur)), _snapshot(directory, source)
        record = _record("rollback", user=user, changed=[k for k in {**was, **now} if was.get(k) != now.get(k)],
                         note=f"回滚到 {version_id}", source=version_id, scope=scope)
        return _new_version(directory, source, _meta_in(source), record)


def prune(directory: Path, keep: int, *, lock_timeout: float = 30) -> list[str]:
    """Delete all but the newest `keep` versions, never the current one or its parent; returns the deleted ids."""
    if keep < 0:
        raise StoreError("保留的版本数不能为负")
    if not _vroot(directory).is_dir():
        return []
    with lock(directory, lock_timeout):
        _cleanup(directory)
        ids, cur = _versions(directory), current(directory)
        protect = set(ids[:keep]) | {cur}
        if cur != BASE:
            protect.add(json.loads((_vroot(directory) / cur / "version.json").read_text(encoding="utf-8"))["parent"])
        gone = [v for v in ids if v not in protect]
        for v in gone:
            _remove(_vroot(directory) / v)
        files.fsync(_vroot(directory))
        return gone
