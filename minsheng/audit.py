"""Append-only audit log (JSON lines): who did what, when and from where."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
from pathlib import Path

ACTIONS = ("sign-in", "sign-in-failed", "sign-out", "import", "rollback", "export", "users-change")
# Keys whose values are never written, however deep in `detail` they sit: a caller passing a form's
# fields through must not put a password into a file that is kept for years.
_SECRET = re.compile(r"pass|secret|token|hash|credential", re.I)


def log_path() -> Path:
    """`MINSHENG_AUDIT` if set, else audit.log in the data directory."""
    if os.environ.get("MINSHENG_AUDIT"):
        return Path(os.environ["MINSHENG_AUDIT"])
    from minsheng import store  # late: the CLI for users should not pay for pandas

    return store.data_dir() / "audit.log"


def _scrub(value):
    if isinstance(value, dict):
        return {k: "***" if _SECRET.search(str(k)) else _scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    return value


def os_user() -> str:
    """The operating-system account running a command: the "who" of records made from the command line."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def record(action: str, user: str | None, detail: dict | None = None, source: str | None = None) -> dict:
    """Append one event and fsync it; returns the record written."""
    if action not in ACTIONS:
        raise ValueError(f"未知审计事件：{action}")
    rec = dict(time=dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"), user=user,
               action=action, detail=_scrub(detail or {}), source=source)
    line = (json.dumps(rec, ensure_ascii=False, default=str) + "\n").encode("utf-8")
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        # O_APPEND makes each write land at the end; the flock also keeps a line whole where a
        # short write would otherwise need a second write() another process could slip between.
        fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(line)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    return rec


def read(limit: int | None = 100) -> list[dict]:
    """The last `limit` events (all if None), oldest first; a torn or foreign line is skipped."""
    try:
        lines = log_path().read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines[-limit:] if limit else lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out
