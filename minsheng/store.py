"""Where the Parquet tables live on disk, how versions are committed atomically, and the data version."""

# On-disk layout (everything under the data directory, `data_dir()`):
#
#   regions.parquet … targets.parquet, meta.json   the "base" version: bundled data, written by
#                                                  `write_tables` (the demo generator); never pruned
#   rollup.parquet, coverage.parquet,              derived from the tables (minsheng/rollup.py), in
#   ancestors.parquet, lfl.parquet, rollup.json    every version folder; rebuilt when missing or stale
#   observations.delta.parquet,                    what imports added since the base files were written
#   rollup.delta.parquet, lfl.delta.parquet        (minsheng/layers.py); folded into them by `compact`
#   boundaries/*.geojson (+ SOURCE.md)             the base version's polygons
#   .versions/CURRENT                              id of the current version; absent → "base"
#   .versions/v000003-20261123T132501/             one immutable folder per version: all four tables,
#                                                  boundaries/, meta.json and version.json (its history
#                                                  record); unchanged files are hard links to the
#                                                  parent's (a copy where linking fails)
#   .versions/lock                                 flock()ed by whoever commits, rolls back or prunes
#   .versions/.tmp-*                               a commit in progress, or left by a crash; ignored
#   .versions/.derived/<id>-<tag>/                 read-only views derived from a version (`derived`: the
#                                                  未审核 figures merged in); no history, rebuilt at will
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
import errno
import hashlib
import json
import os
import re
import shutil
import signal
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from minsheng import files, integrity, layers, locks, observations, rollup

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("regions", "indicators", "observations", "targets")
# The reporting cycle's tables (minsheng/cycle.py): the 报表 catalogue, the submissions' event log and the
# figures each submission sent. Versioned with the data, so a submission and the figures it approves land
# in one commit; and the tasks' monthly progress notes (minsheng/notes.py). Optional (a version from before
# them has none: read as empty) and small, read whole.
SIDE = ("forms", "submissions", "returns", "task_notes")
BOUNDARY_LEVELS = ("city", "county", "township", "village")
BASE = "base"
VERSIONS = ".versions"
CRASH_STEPS = ("start", "table-written", "tables-linked", "delta-written", "derived-built", "before-rename",
               "renamed", "current-written", "switched")
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


# The store the readers of this context read (a page run that asked for 未审核 data reads a derived view,
# `derived`); None: the data directory. Set per script run, never for writes: imports, the reporting cycle,
# users and the audit log always go to `data_dir()`.
_READ_FROM: ContextVar[Path | None] = ContextVar("minsheng_read_from", default=None)


def read_dir() -> Path:
    """Where readers (queries, the data version, boundaries, meta) read: the derived view this context set,
    else the data directory."""
    return _READ_FROM.get() or data_dir()


def reads_derived() -> bool:
    """Whether this context reads a derived view rather than the data directory."""
    return _READ_FROM.get() is not None


def read_from(folder: Path | None):
    """Read from `folder` (a derived view) in this context, or from the data directory (None); returns the
    token for `_READ_FROM.reset`."""
    return _READ_FROM.set(folder)


def table_path(directory: Path, name: str) -> Path:
    """The file of a table inside a given folder (use `resolve` for the current version's folder)."""
    if name not in TABLES and name not in SIDE:
        raise ValueError(f"未知数据表：{name}")
    return Path(directory) / f"{name}.parquet"


# --- reading -----------------------------------------------------------------------------

def _vroot(directory: Path) -> Path:
    return Path(directory) / VERSIONS


def _num(version_id: str) -> int:
    return 0 if version_id == BASE else int(version_id[1:7])


def current(directory: Path) -> str:
    """The current version id, "base" before the first commit; StoreError when CURRENT is torn or garbage
    (readers then use `reading`, which falls back; a rollback writes a good CURRENT again)."""
    try:
        vid = (_vroot(directory) / "CURRENT").read_bytes().decode("utf-8", "replace").strip()
    except FileNotFoundError:
        return BASE
    if not _ID.fullmatch(vid):
        raise StoreError(f"版本记录 .versions/CURRENT 已损坏（内容为 {vid[:40]!r}，不是版本号）。"
                         "可运行 python -m minsheng check 查看各版本，再用 python -m minsheng rollback <版本> 恢复")
    return vid


def _current_or_none(directory: Path) -> str | None:
    try:
        return current(directory)
    except StoreError:
        return None


def _top(directory: Path) -> int:
    """The number of the current version; with a torn CURRENT, of the newest complete version folder."""
    cur = _current_or_none(directory)
    if cur is not None:
        return _num(cur)
    root = _vroot(directory)
    return max((_num(p.name) for p in root.iterdir() if _ID.fullmatch(p.name) and (p / "version.json").exists()),
               default=0)


def _folder(directory: Path, version_id: str) -> Path:
    folder = Path(directory) if version_id == BASE else _vroot(directory) / version_id
    if version_id != BASE and not (folder / "version.json").exists():
        raise StoreError(f"版本 {version_id} 的目录不存在或不完整")
    return folder


def resolve(directory: Path) -> Path:
    """The folder holding the tables and meta.json that readers see: the current version's, or the
    newest whole one while the current is damaged (see `reading`)."""
    return reading(directory).folder


def _meta_in(folder: Path) -> dict:
    path = folder / "meta.json"
    if not path.exists():
        return dict(_DEFAULT_META)
    return json.loads(path.read_text(encoding="utf-8"))


def read_meta(directory: Path) -> dict:
    return _meta_in(resolve(directory))


def _fingerprint(vid: str, folder: Path) -> str:
    h = hashlib.sha256(vid.encode())
    for name in (*TABLES, *SIDE, "meta", "delta"):
        path = (folder / "meta.json" if name == "meta" else layers.delta_path(folder, "observations") if name == "delta"
                else folder / f"{name}.parquet")
        ident = files.identity(path)
        if ident:
            h.update(f"{name}:{ident[0]}:{ident[1]};".encode())
    return h.hexdigest()[:16]


def version(directory: Path) -> str:
    """A short fingerprint of the data readers see; it changes on every commit, rollback, table
    rewrite or fallback. Never raises: with no readable version it fingerprints that state, and
    the page's data check (ui/frame.data_problem) says what is wrong."""
    try:
        return reading(directory).fingerprint
    except StoreError as e:
        return "unreadable-" + hashlib.sha256(str(e).encode()).hexdigest()[:8]


def _versions(directory: Path) -> list[str]:
    """Committed version ids, newest first (orphans above CURRENT and .tmp- folders left out)."""
    root = _vroot(directory)
    if not root.is_dir():
        return []
    top = _top(directory)
    ids = [p.name for p in root.iterdir() if _ID.fullmatch(p.name) and _num(p.name) <= top]
    return sorted(ids, key=_num, reverse=True)


# --- integrity: which version readers see ------------------------------------------------------

def _files_of(directory: Path, folder: Path) -> list[str]:
    """The files a version consists of, relative to its folder: tables, roll-ups, meta, own boundaries."""
    try:
        present = set(os.listdir(folder))
    except FileNotFoundError:
        return []
    names = [n for n in (*(f"{t}.parquet" for t in (*TABLES, *SIDE, *rollup.DERIVED)),
                         *(layers.delta_path(folder, t).name for t in layers.LAYERED), rollup.stamp_path(folder).name,
                         "meta.json") if n in present]
    if "boundaries" in present and os.path.isdir(os.path.join(folder, "boundaries")):
        names += sorted(f"boundaries/{n}" for n in os.listdir(os.path.join(folder, "boundaries"))
                        if n.endswith(".geojson"))
    return names


def damage(directory: Path, version_id: str, full: bool = False) -> dict[str, str]:
    """What is wrong with a version, {file name: what} (empty when whole): checksums where it has a
    manifest, readable Parquet footers where not (integrity.py says which check runs when)."""
    try:
        folder = _folder(directory, version_id)
    except StoreError as e:
        return {"version.json": str(e)}
    return integrity.problems(folder, _files_of(directory, folder), full=full, background=not full)


def _sharing(directory: Path, version_id: str, name: str) -> list[str]:
    """The versions holding the same file (a hard link) as `version_id` does under `name`."""
    try:
        st = os.stat(_folder(directory, version_id) / name)
    except (OSError, StoreError):
        return [version_id]
    out = []
    for vid in [*_versions(directory), BASE]:
        try:
            other = os.stat(_folder(directory, vid) / name)
        except (OSError, StoreError):
            continue
        if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
            out.append(vid)
    return out


def _damaged_message(directory: Path, version_id: str, found: dict[str, str]) -> str:
    shared = []
    for name in found:
        others = [v for v in _sharing(directory, version_id, name) if v != version_id]
        if others:
            shared.append(f"{name} 与版本 {'、'.join(others)} 是同一个文件（硬链接），这些版本同样损坏")
    return f"版本 {version_id} 已损坏：{'；'.join(found.values())}" + (f"。{'；'.join(shared)}" if shared else "")


def require_whole(directory: Path, version_id: str, action: str) -> None:
    """Refuse (StoreError) to link from a version that fails a full check: its damage would spread."""
    found = damage(directory, version_id, full=True)
    if found:
        raise StoreError(f"{_damaged_message(directory, version_id, found)}。{action}未执行，数据未改变；"
                         "可运行 python -m minsheng check 查看各版本的状态，回退到完好的版本")


@dataclass(frozen=True)
class Reading:
    """The version readers see: the current one, or while it is damaged the newest whole one."""
    id: str
    folder: Path
    fingerprint: str
    problem: str | None = None  # why this is not the current version, for admins (Chinese, no server paths)


def reading(directory: Path) -> Reading:
    """Which version to read. A damaged current version (bad checksum, unreadable Parquet, a torn
    CURRENT) does not take the pages down: they read the newest whole version, and `problem`
    says what is wrong and what an admin can do. StoreError when no version is whole."""
    directory = Path(directory)
    cur = _current_or_none(directory)
    if cur is not None:
        found = damage(directory, cur)
        if not found:
            folder = _folder(directory, cur)
            return Reading(cur, folder, _fingerprint(cur, folder))
        why = _damaged_message(directory, cur, found)
    else:
        why = "版本记录 .versions/CURRENT 已损坏（不是版本号）"
    for vid in [v for v in [*_versions(directory), BASE] if v != cur]:
        if not damage(directory, vid):
            folder = _folder(directory, vid)
            return Reading(vid, folder, _fingerprint(vid, folder),
                           f"{why}。各页面暂时显示最近一个完好的版本 {vid}。请管理员运行 python -m minsheng check "
                           f"核查，并回退到完好的版本（python -m minsheng rollback {vid}，或“导入”页的历史版本）")
    raise StoreError(f"{why}，且没有完好的版本可用。请管理员运行 python -m minsheng check 核查")


def row_counts(folder: Path) -> dict[str, int]:
    """Rows of each table of a version folder as readers see them (deltas counted), from Parquet footers."""
    return {n: layers.rows(folder, n) if n in layers.LAYERED else pq.read_metadata(table_path(folder, n)).num_rows
            for n in (*TABLES, *SIDE) if table_path(folder, n).exists()}


def history(directory: Path) -> list[dict]:
    """Every version's record, newest first, ending with "base" (the flat files); `current` marks one."""
    cur = _current_or_none(directory)  # a torn CURRENT marks none current: the history still lists them
    out = [json.loads((_vroot(directory) / v / "version.json").read_text(encoding="utf-8"))
           for v in _versions(directory)]
    mtimes = [table_path(directory, n).stat().st_mtime for n in TABLES if table_path(directory, n).exists()]
    out.append(dict(id=BASE, parent=None, action=BASE, user=None, file_name=None, file_sha256=None, kind=None,
                    created=dt.datetime.fromtimestamp(max(mtimes)).astimezone().isoformat(timespec="seconds")
                    if mtimes else None,
                    rows=row_counts(Path(directory)), changed=[], note="初始数据", source=None))
    for rec in out:
        rec["current"] = rec["id"] == cur
    return out


def verify(directory: Path, record: bool = True) -> list[dict]:
    """Every version checked in full, newest first (`python -m minsheng check`): dicts of id, current,
    state ("whole", "damaged", "unverified": made before manifests, or "recorded": a manifest was
    computed for it now, trusting its bytes as they are) and problems ({file name: what})."""
    directory = Path(directory)
    cur, out = _current_or_none(directory), []
    for vid in [*_versions(directory), BASE]:
        found = damage(directory, vid, full=True)
        folder = _folder(directory, vid) if "version.json" not in found else None
        state = "damaged" if found else "whole"
        if not found and integrity.read(folder) is None:
            state = "unverified"
            if record:
                try:
                    with lock(directory, timeout=5):
                        integrity.record(folder, _files_of(directory, folder))
                    state = "recorded"
                except (OSError, StoreError):
                    pass  # read-only data, or busy: it stays unverified, which `check` says
        for name, text in found.items():
            others = [v for v in _sharing(directory, vid, name) if v != vid]
            found[name] = text + (f"（同一文件也在版本 {'、'.join(others)} 中）" if others else "")
        out.append(dict(id=vid, current=vid == cur, state=state, problems=found))
    return out


# --- writing -----------------------------------------------------------------------------

def _crash(step: str) -> None:
    # Test hook only: simulate `kill -9` at a named step of a commit.
    if os.environ.get("MINSHENG_CRASH_AT") == step:
        os.kill(os.getpid(), signal.SIGKILL)


def _to_parquet(df: pd.DataFrame | pa.Table, path: Path, name: str) -> None:
    if isinstance(df, pa.Table):  # typed as given: an empty table's date columns stay dates, not nulls
        pq.write_table(df, path, compression="zstd")
    elif name == "observations":  # sorted by region in small row groups: lookups read one or two groups
        observations.write(df, path)
    else:
        df.to_parquet(path, index=False, compression="zstd")


def write_tables(directory: Path, tables: dict[str, pd.DataFrame], meta: dict) -> None:
    """Write base tables in place (demo, tests), each renamed into place, and their roll-ups; versioned
    data goes through `commit`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / integrity.MANIFEST).unlink(missing_ok=True)  # recorded by `check` for the old files: stale now
    for name in layers.LAYERED:  # the tables written here are whole: no delta over them
        layers.delta_path(directory, name).unlink(missing_ok=True)
    for name, df in tables.items():
        files.atomic_write(table_path(directory, name), lambda p, df=df, name=name: _to_parquet(df, p, name))
    files.write_json(directory / "meta.json", meta)
    if all((Path(directory) / f"{n}.parquet").exists() for n in rollup.SOURCES):
        rollup.build(Path(directory))


# Files a data directory may hold before it is a store: the audit log and the users file live in
# it by default (audit.log_path, auth), and either may be written before the first import; so may the
# delivery settings and state (settings/delivery.toml, notify/: minsheng/notify.py).
_BEFORE_STORE = {"audit.log", "users.json", VERSIONS, "settings", "notify"}


def exists(directory: Path) -> bool:
    """Whether `directory` holds a store: base tables (the demo, `create`) or committed versions."""
    return table_path(directory, "regions").exists() or (_vroot(directory) / "CURRENT").exists()


def blank(directory: Path) -> bool:
    """Missing, or holding nothing of a store's (a store may be created there; anything else is not ours)."""
    try:
        names = set(os.listdir(directory))
    except FileNotFoundError:
        return True
    return names <= _BEFORE_STORE and not exists(directory)


def create(directory: Path, tables: dict[str, pa.Table], meta: dict, lock_timeout: float = 30) -> None:
    """Make a blank directory a store: `tables` (empty ones, from the import contract) as its base version,
    with a manifest of checksums like every committed version. StoreError when the directory is not blank."""
    directory = Path(directory)
    if sorted(tables) != sorted(TABLES):
        raise StoreError("新数据目录须包含全部数据表")
    with refusing_io("创建数据目录"):
        directory.mkdir(parents=True, exist_ok=True)
        with lock(directory, lock_timeout):
            if not blank(directory):
                raise StoreError("该目录已有数据或其他文件，不能在此创建新的数据目录；请指定一个空目录或新目录")
            write_tables(directory, tables, meta)
            integrity.record(directory, _files_of(directory, directory))


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
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(root / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:  # a read-only data directory: every writer starts here, so say it here
        raise StoreError(_io_message("本次更改", e)) from e
    try:
        locks.acquire(fd, timeout, StoreBusy(f"另一个导入正在提交，请稍后再试（等待 {timeout:g} 秒后放弃）"))
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
    finally:
        os.close(fd)  # releases the flock


_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
_READ_ONLY = {errno.EACCES, errno.EPERM, errno.EROFS}


def _io_message(action: str, e: Exception) -> str:
    """A Chinese message for a failed write, with no path of the server in it."""
    code, text = getattr(e, "errno", None), str(e)
    if code in _FULL or any(s in text for s in ("No space left", "File too large", "quota")):
        return (f"磁盘空间不足（或超出文件大小限制），{action}未完成，数据未改变。"
                "请清理数据目录所在的磁盘（可用 python -m minsheng prune --keep N 删除旧版本）后重试")
    if code in _READ_ONLY or any(s in text for s in ("Permission denied", "Read-only file system")):
        return f"数据目录不可写（只读或没有写入权限），{action}未完成，数据未改变。请检查数据目录的权限和挂载方式"
    return f"写入数据目录失败（{getattr(e, 'strerror', None) or type(e).__name__}），{action}未完成，数据未改变"


@contextmanager
def refusing_io(action: str):
    """Turn a failed write (disk full, read-only directory, no permission) into a StoreError whose
    message the page and the command line show as it is: commit, rollback and prune go through here."""
    try:
        yield
    except StoreError:
        raise
    except (OSError, duckdb.IOException, duckdb.PermissionException) as e:
        raise StoreError(_io_message(action, e)) from e


def _remove(path: Path) -> None:
    # Rename out of sight first, so a crash mid-delete never leaves half a version under its id.
    gone = path.with_name(f".tmp-del-{path.name}-{os.getpid()}")
    os.rename(path, gone)
    shutil.rmtree(gone)


def _cleanup(directory: Path) -> None:
    """Delete what crashed commits left: .tmp-* entries and version folders above CURRENT. Needs the lock."""
    root, top = _vroot(directory), _top(directory)
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


def _new_version(directory: Path, source_id: str, parent: str, meta: dict, record: dict,
                 tables: dict[str, pd.DataFrame] | None = None, geo: dict[str, str] | None = None,
                 rows: pd.DataFrame | None = None, fold: bool = False) -> str:
    """Build a complete version folder from version `source_id` (given tables and boundary files
    written, `rows` merged into the source's observations, the rest linked) and make it current;
    `parent` is the version it follows in the history; `fold`: the deltas written into the bases.
    Call with the lock held. The source is checked in full first: a damaged file linked into the new
    version would damage it too. On any failure before the switch the half-built folder is removed."""
    require_whole(directory, source_id, "本次提交" if record["action"] != "rollback" else "回退")
    source = _folder(directory, source_id)
    root = _vroot(directory)
    _cleanup(directory)
    now = dt.datetime.now().astimezone()
    vid = f"v{_top(directory) + 1:06d}-{now:%Y%m%dT%H%M%S}"
    tmp = root / f".tmp-{vid}-{os.getpid()}"
    tmp.mkdir()
    try:
        _crash("start")
        linked = _fill(directory, source, tmp, tables or {}, geo or {}, rows, fold)
        files.write_json(tmp / "meta.json", meta)
        known = {n: e["sha256"] for n, e in (integrity.read(source) or {}).items() if n in linked}
        integrity.record(tmp, _files_of(directory, tmp), known)  # before the folder gets its name
        files.write_json(tmp / "version.json", dict(id=vid, parent=parent, created=now.isoformat(timespec="seconds"),
                                                    **record, rows=row_counts(tmp)))
        files.fsync(tmp)
        _crash("before-rename")
        os.rename(tmp, root / vid)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    files.fsync(root)
    _crash("renamed")

    def write_current(t: Path) -> None:
        t.write_text(vid + "\n", encoding="utf-8")
        _crash("current-written")  # the temp is written; CURRENT still names the old version

    files.atomic_write(root / "CURRENT", write_current)  # the commit point: the rename over CURRENT
    _crash("switched")
    return vid


def _fill(directory: Path, source: Path, tmp: Path, tables: dict[str, pd.DataFrame], geo: dict[str, str],
          rows: pd.DataFrame | None, fold: bool = False) -> set[str]:
    """Write and link a new version's files into `tmp`; returns the names linked from `source`.

    Observations `rows` go into a new delta beside the linked base (layers.py), not into a rewrite of the
    table; the deltas are folded into new bases when `fold` is asked (compaction) or the delta has grown
    past layers.limit."""
    linked = set()
    for name, df in tables.items():
        _to_parquet(df, table_path(tmp, name), name)
        files.fsync(table_path(tmp, name))
        _crash("table-written")
    merging = rows is not None and table_path(source, "observations").exists()
    if rows is not None and not merging:  # a directory without an observations table yet: the rows are it
        observations.write(rows, table_path(tmp, "observations"))
        files.fsync(table_path(tmp, "observations"))
        _crash("table-written")
    for name in (*TABLES, *SIDE):
        if name not in tables and table_path(source, name).exists() and not (name == "observations" and rows is not None
                                                                            and not merging):
            files.link_or_copy(table_path(source, name), table_path(tmp, name))
            linked.add(table_path(tmp, name).name)
    delta = layers.delta_path(source, "observations")
    if "observations" not in tables and delta.exists() and not merging and not fold:
        files.link_or_copy(delta, layers.delta_path(tmp, "observations"))
        linked.add(delta.name)
    # Every version carries its own boundaries/ (links, mostly), so a rollback restores the map too.
    src_b, dst_b = _boundaries_in(directory, source), tmp / "boundaries"
    if src_b.is_dir() or geo:
        dst_b.mkdir()
        for level, text in geo.items():
            files.write_text(dst_b / f"{level}.geojson", text)
        for f in sorted(src_b.iterdir()) if src_b.is_dir() else ():
            if f.is_file() and not (dst_b / f.name).exists():
                files.link_or_copy(f, dst_b / f.name)
                linked.add(f"boundaries/{f.name}")
        files.fsync(dst_b)
    _crash("tables-linked")
    if merging:  # the import's rows into the delta: the size of the delta, not of the table, is written
        observations.write_delta(source, "observations", rows, tmp)
        files.fsync(layers.delta_path(tmp, "observations"))
        _crash("delta-written")
    folding = "observations" not in tables and (fold or (merging and layers.delta_rows(tmp, "observations")
                                                         > layers.limit(tmp)))
    if folding:  # one streaming pass over the sorted base; the numbers stay as they were
        observations.fold(tmp if merging else source, "observations", tmp)
        files.fsync(table_path(tmp, "observations"))
        linked.discard(table_path(tmp, "observations").name)
        _crash("table-written")
    # Roll-ups: linked when the tables they come from are the source's (same files), folded when only
    # the observations were, else rebuilt (an import's touched indicator-periods only).
    if rollup.current(source) and rollup.fingerprint(source) == rollup.fingerprint(tmp):
        for p in (*(rollup.path(source, n) for n in rollup.DERIVED), rollup.stamp_path(source),
                  *(layers.delta_path(source, n) for n in layers.LAYERED if n != "observations")):
            if p.exists():
                files.link_or_copy(p, tmp / p.name)
                linked.add(p.name)
    elif all(table_path(tmp, n).exists() for n in rollup.SOURCES):
        try:
            if folding and not merging and rollup.current(source):
                rollup.fold(source, tmp)
            else:
                rollup.build(tmp, previous=source, touched=rows if merging else None)
                if folding:
                    for name in layers.LAYERED:
                        if name != "observations":
                            observations.fold(tmp, name, tmp)
        except rollup.InvariantError as e:  # before the switch: the current version stays as it was
            raise StoreError(f"{e}。本次提交未生效，当前版本不变") from e
    _crash("derived-built")
    return linked


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
    unknown = sorted(set(tables) - set(TABLES) - set(SIDE))
    if unknown:
        raise StoreError(f"未知数据表：{'、'.join(unknown)}")
    if observations is not None and "observations" in tables:
        raise StoreError("observations 不能同时整表替换和合并")
    if not tables and not meta_update and observations is None:
        raise StoreError("没有要提交的数据")
    with refusing_io("本次提交"), lock(directory, lock_timeout):
        parent = _parent(directory, expected_parent)
        changed = [n for n in (*TABLES, *SIDE) if n in tables or (n == "observations" and observations is not None)]
        record = _record(action, user=user, file_name=file_name, file_sha256=file_sha256, kind=kind,
                         changed=changed, note=note, scope=scope)
        return _new_version(directory, parent, parent, {**_meta_in(_folder(directory, parent)), **(meta_update or {})},
                            record, tables=tables, rows=observations)


DERIVED = ".derived"
DERIVED_KEPT = 4  # views kept beside the one just built (a session still reading one keeps it until replaced)


def derived(directory: Path, rows: pd.DataFrame, tag: str, meta_update: dict | None = None) -> Path:
    """A read-only store that is the current version with `rows` merged into its observations (a delta and
    the touched roll-ups, as a commit makes them), for readers only: nothing in the data directory's history
    changes, and it can be deleted at any time. `tag` names what was merged (the same tag, the same view:
    built once, then reused). Built under a temporary name and renamed, so a reader sees it whole or not at
    all; StoreError when the data directory cannot be written."""
    directory = Path(directory)
    read = reading(directory)
    base = _vroot(directory) / DERIVED
    out = base / f"{read.id}-{tag}"
    if (out / VERSIONS / "CURRENT").exists():
        return out
    with refusing_io("生成含未审核数据的视图"):
        base.mkdir(parents=True, exist_ok=True)
        tmp = base / f".tmp-{out.name}-{os.getpid()}-{threading.get_ident()}"
        folder = tmp / VERSIONS / read.id
        try:
            folder.mkdir(parents=True)
            linked = _fill(directory, read.folder, folder, {}, {}, rows)
            files.write_json(folder / "meta.json", {**_meta_in(read.folder), **(meta_update or {})})
            known = {n: e["sha256"] for n, e in (integrity.read(read.folder) or {}).items() if n in linked}
            integrity.record(folder, _files_of(directory, folder), known)
            files.write_json(folder / "version.json", dict(id=read.id, parent=read.id, action="derived", note=tag,
                                                           rows=row_counts(folder)))
            (tmp / VERSIONS / "CURRENT").write_text(read.id + "\n", encoding="utf-8")
            try:
                os.rename(tmp, out)
            except OSError:  # another session built the same view first: theirs is as good
                if not (out / VERSIONS / "CURRENT").exists():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        views = sorted((p for p in base.iterdir() if not p.name.startswith(".tmp-") and p != out),
                       key=lambda p: p.stat().st_mtime, reverse=True)
        for old in views[DERIVED_KEPT:]:
            shutil.rmtree(old, ignore_errors=True)
    return out


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
    with refusing_io("本次提交"), lock(directory, lock_timeout):
        parent = _parent(directory, expected_parent)
        source = _folder(directory, parent)
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
        return _new_version(directory, parent, parent, _meta_in(source), record, geo=texts)


def rollback(directory: Path, version_id: str, *, user: str | None = None, lock_timeout: float = 30,
             scope: list[str] | None = None) -> str:
    """Make a new current version with the tables, boundaries and meta of `version_id` (so a rollback
    can itself be undone). Refused when `version_id` fails a full check. Also the way back from a torn
    CURRENT: the new version follows the newest complete one and CURRENT is written whole again."""
    with refusing_io("回退"), lock(directory, lock_timeout):
        cur, ids = _current_or_none(directory), _versions(directory)
        if version_id != BASE and version_id not in ids:
            raise StoreError(f"没有版本 {version_id}（可用 python -m minsheng history 查看）")
        if version_id == cur:
            raise StoreError(f"{version_id} 已是当前版本")
        source = _folder(directory, version_id)
        was = _snapshot(directory, _folder(directory, cur)) if cur is not None else {}
        now = _snapshot(directory, source)
        record = _record("rollback", user=user, changed=[k for k in {**was, **now} if was.get(k) != now.get(k)],
                         note=f"回滚到 {version_id}", source=version_id, scope=scope)
        return _new_version(directory, version_id, cur or (ids[0] if ids else BASE), _meta_in(source), record)


def compact(directory: Path, *, user: str | None = None, lock_timeout: float = 30) -> str | None:
    """Fold the current version's deltas into its base files, as a new version with the same data
    (`python -m minsheng compact`); None when there is nothing to fold. Readers go on reading the old
    version until the switch; imports wait for the lock."""
    with refusing_io("合并增量"), lock(directory, lock_timeout):
        parent = current(directory)
        folder = _folder(directory, parent)
        if not any(layers.has_delta(folder, n) for n in layers.LAYERED):
            return None
        record = _record("compact", user=user, note="合并增量文件（数据不变）", scope=[])
        return _new_version(directory, parent, parent, _meta_in(folder), record, fold=True)


def prune(directory: Path, keep: int, *, lock_timeout: float = 30) -> list[str]:
    """Delete all but the newest `keep` versions, never the current one or its parent; returns the deleted ids."""
    if keep < 0:
        raise StoreError("保留的版本数不能为负")
    if not _vroot(directory).is_dir():
        return []
    with refusing_io("清理旧版本"), lock(directory, lock_timeout):
        cur = current(directory)  # a torn CURRENT: refuse before deleting anything
        _cleanup(directory)
        ids = _versions(directory)
        protect = set(ids[:keep]) | {cur}
        if cur != BASE:
            protect.add(json.loads((_vroot(directory) / cur / "version.json").read_text(encoding="utf-8"))["parent"])
        gone = [v for v in ids if v not in protect]
        for v in gone:
            _remove(_vroot(directory) / v)
        files.fsync(_vroot(directory))
        return gone
