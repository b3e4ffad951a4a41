"""Checksums of a version's files: recorded when the version is made, checked before it is read or linked.

Unchanged files are hard links shared by many versions, so one overwritten byte damages every
version holding that file. Each version folder therefore carries `manifest.json`: the SHA-256,
size and mtime of each of its files, written before the folder gets its name (a version is
never without its manifest, except those made before manifests existed: "unverified").

SHA-256, not a faster non-cryptographic hash: hashlib's runs at roughly 1–2 GB/s with the CPU's
SHA instructions (≈ 0.5 GB/s without), about what a disk reads, so a faster hash would add a
dependency and save little; and it is the hash the history already shows for imported files.
At 100M rows (≈ 1.5 GB of observations and as much again of roll-ups) a full check still reads
every byte, a few seconds, too slow for every page view. Hence who checks what (store.py):

  opening a version   size and mtime of each file against the manifest: one stat per file (an
                      in-place overwrite changes the mtime); a file that differs is hashed at once
                      (a copied data directory has new mtimes but the same bytes). The first open
                      in a process also queues a full check in a background thread, whose verdict
                      the next open uses (it catches an overwrite whose mtime was set back).
  commit, rollback    the version linked from, in full, before anything is linked.
  `minsheng check`    every version, in full; records manifests for unverified ones.

Files without a manifest entry (unverified) are checked only for a readable Parquet footer.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import pyarrow.parquet as pq

from minsheng import files

MANIFEST = "manifest.json"
_CHUNK = 1 << 20
_hashes: dict[tuple, str] = {}            # stat key → SHA-256: a file is hashed once per process unless it changed
_footers: dict[tuple, bool] = {}          # stat key → Parquet footer readable
_manifests: dict[tuple, dict] = {}        # stat key of a manifest → its entries
_verdicts: dict[tuple, dict[str, str]] = {}    # (folder, stat keys) → problems found by a full background check
_queued: set[tuple] = set()
_one_at_a_time = threading.Lock()         # background checks read GBs: never two at once


class ManifestError(ValueError):
    """manifest.json exists but cannot be read: the version counts as damaged (fail closed)."""


def _key(path: Path, st: os.stat_result | None = None) -> tuple | None:
    # The inode's state, shared by its hard links. ctime too: setting an mtime back after a write
    # (touch -r) still moves the ctime; so does linking, which `record` accounts for.
    if st is None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def sha256(path: Path, st: os.stat_result | None = None) -> str:
    """The file's SHA-256 (hex), read in 1 MB chunks; remembered for as long as the file is unchanged."""
    key = _key(path, st)
    if key in _hashes:
        return _hashes[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    _hashes[key] = h.hexdigest()
    return _hashes[key]


def entry(path: Path, digest: str | None = None) -> dict:
    """A manifest entry for a file; `digest` when the caller has just verified it (a linked file)."""
    st = os.stat(path)
    return {"sha256": digest or sha256(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def read(folder: Path) -> dict[str, dict] | None:
    """{file name: entry} of a folder's manifest; None when it has none (an unverified version)."""
    path = Path(folder) / MANIFEST
    key = _key(path)  # parsed once per process while the file is unchanged: every query asks
    if key is None:
        return None
    if key not in _manifests:
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))["files"]
            if not all(isinstance(e, dict) and isinstance(e.get("sha256"), str) for e in entries.values()):
                raise ValueError
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise ManifestError(f"{MANIFEST} 无法读取") from e
        _manifests[key] = entries
    return _manifests[key]


def write(folder: Path, entries: dict[str, dict]) -> None:
    files.write_json(Path(folder) / MANIFEST, {"algorithm": "sha256", "files": dict(sorted(entries.items()))})


def record(folder: Path, names: list[str], known: dict[str, str] | None = None) -> dict[str, dict]:
    """Hash `names` (paths relative to `folder`) and write the manifest; `known` gives digests of
    files linked from a version that was just verified, so they are not read again."""
    known = known or {}
    for name, digest in known.items():  # linking moved the inode's ctime: same bytes, checked just now
        _hashes[_key(Path(folder) / name)] = digest
    entries = {n: entry(Path(folder) / n, known.get(n)) for n in names}
    write(folder, entries)
    return entries


def _footer_ok(path: str, st: os.stat_result) -> bool:
    key = _key(path, st)
    if key not in _footers:
        try:
            pq.read_metadata(path)
            _footers[key] = True
        except Exception:  # noqa: BLE001 — any failure to parse the footer means "not a readable Parquet file"
            _footers[key] = False
    return _footers[key]


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def problems(folder: Path, names: list[str], full: bool = False, background: bool = False) -> dict[str, str]:
    """What is wrong with a version folder: {file name: what, in Chinese}; empty when it is whole.

    Checks every file the manifest lists (by size and mtime, then by hash where they differ, or
    always by hash with `full`) and, for `names` it does not list, that a Parquet footer reads.
    With `background`, a whole-looking folder also gets the verdict of a full check run in a
    background thread (queued at the first ask, {} until it is done). One stat per file: every
    query asks this."""
    folder = Path(folder)
    try:
        manifest = read(folder) or {}
    except ManifestError as e:
        return {MANIFEST: str(e)}
    base = str(folder) + os.sep
    stats = {n: _stat(base + n) for n in {*names, *manifest}}
    out = {}
    for name, want in manifest.items():
        st = stats[name]
        if st is None:
            out[name] = f"缺少 {name}"
            continue
        same_stat = st.st_size == want.get("size") and st.st_mtime_ns == want.get("mtime_ns")
        if (full or not same_stat) and sha256(base + name, st) != want["sha256"]:
            out[name] = f"{name} 的内容与提交时不同（校验和不符）"
    for name in names:
        st = stats[name]
        if name not in manifest and name.endswith(".parquet") and st is not None and not _footer_ok(base + name, st):
            out[name] = f"{name} 不是可读的 Parquet 文件"
    if out or full or not background:
        return out
    key = (str(folder), *sorted((n, _key(base + n, st)) for n, st in stats.items() if st is not None))
    if key in _verdicts:
        return _verdicts[key]
    if key not in _queued:
        _queued.add(key)
        threading.Thread(target=_check_in_background, args=(key, folder, list(names)), daemon=True,
                         name="minsheng-verify").start()
    return {}


def _check_in_background(key: tuple, folder: Path, names: list[str]) -> None:
    with _one_at_a_time:
        try:
            _verdicts[key] = problems(folder, names, full=True)
        except OSError:  # the folder went away (pruned) while queued: nothing to report
            _verdicts[key] = {}


def wait_for_background(timeout: float = 60) -> None:
    """Block until queued background checks are done (tests, and `check` before it reports)."""
    for t in [t for t in threading.enumerate() if t.name == "minsheng-verify"]:
        t.join(timeout)
