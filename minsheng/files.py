"""Durable file writes, the one place that renames a temp file over a real one.

`atomic_write` is how every module replaces a file: readers see the old file or the new one,
whole, never half of it, and once it returns the new file survives a power cut. `link_or_copy`
is how a version folder shares an unchanged file with its parent. `identity` is how a file is
recognised again without reading it: a hard link and a copy made here keep its size and mtime.

Temp files are named `.tmp-<name>-<pid>-<thread>` beside the file they replace, so the store's
clean-up (which deletes `.tmp-*` in .versions/) also removes one left by a crash.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path


def fsync(path: Path) -> None:
    """Flush a file, or a folder's entries (a rename inside it), to disk."""
    fd = os.open(path, os.O_RDONLY)  # works for files and, on Linux, for directories
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(dest: Path, write):
    """Call `write(tmp)` with a temp path beside `dest`, fsync it, rename it over `dest` and fsync the
    folder; returns what `write` returned. On any failure `dest` is as it was and the temp is gone."""
    dest = Path(dest)
    tmp = dest.with_name(f".tmp-{dest.name}-{os.getpid()}-{threading.get_ident()}")
    tmp.unlink(missing_ok=True)  # left by a killed writer whose pid came round again
    try:
        result = write(tmp)
        fsync(tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    fsync(dest.parent)
    return result


def write_text(dest: Path, text: str, mode: int = 0o666) -> None:
    """Replace `dest` atomically with `text` (UTF-8); a new file gets `mode` (less the umask)."""
    def write(tmp: Path) -> None:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "w", encoding="utf-8") as f:
            f.write(text)

    atomic_write(dest, write)


def write_json(dest: Path, obj, mode: int = 0o666) -> None:
    """Replace `dest` atomically with `obj` as indented JSON (Chinese kept readable)."""
    write_text(dest, json.dumps(obj, ensure_ascii=False, indent=2) + "\n", mode)


def link_or_copy(src: Path, dst: Path) -> None:
    """Make `dst` the same file as `src`: a hard link, or where linking fails (another file system,
    no link support) a copy with the same mtime, fsynced."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
        fsync(dst)


def identity(path: Path) -> tuple[int, int] | None:
    """(size, mtime in ns) of a file, None if it is missing: equal for a file, its hard links and
    the copies `link_or_copy` makes, so "same file?" needs no reading."""
    try:
        st = Path(path).stat()
    except FileNotFoundError:
        return None
    return st.st_size, st.st_mtime_ns
