"""Append-only audit log (JSON lines): who did what, when and from where.

A change to data or users is recorded twice (`change`): an "intent" line before it, which must be
written or the change is not made, and its outcome after, which names the intent's id. So the log
never misses a change that happened, and a log that fails after the change cannot make a change
that happened look failed: the intent without an outcome says the outcome went unrecorded.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

ACTIONS = ("sign-in", "sign-in-failed", "sign-out", "init", "import", "rollback", "compact", "export", "users-change", "draft",
           "submit", "approve", "return", "reopen", "note", "brief", "alert", "send", "intent")
# Keys whose values are never written, however deep in `detail` they sit: a caller passing a form's
# fields through must not put a password into a file that is kept for years.
_SECRET = re.compile(r"pass|secret|token|hash|credential", re.I)


def log_path() -> Path:
    """`MINSHENG_AUDIT` if set, else audit.log in the data directory."""
    if os.environ.get("MINSHENG_AUDIT"):
        return Path(os.environ["MINSHENG_AUDIT"])
    from minsheng import store  # late: the CLI for users should not pay for pandas

    return store.data_dir() / "audit.log"


class AuditError(Exception):
    """The intent of a change could not be recorded, so the change was not made (message in Chinese)."""


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


def record(action: str, user: str | None, detail: dict | None = None, source: str | None = None, *,
           intent: str | None = None) -> dict:
    """Append one event and fsync it; returns the record written. `intent`: the id of the intent line
    this one is the outcome of (an intent line itself gets an "id")."""
    if action not in ACTIONS:
        raise ValueError(f"未知审计事件：{action}")
    rec = dict(time=dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"), user=user,
               action=action, detail=_scrub(detail or {}), source=source)
    if action == "intent":
        rec["id"] = uuid.uuid4().hex[:16]
    if intent:
        rec["intent"] = intent
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


@contextmanager
def change(action: str, user: str | None, detail: dict, source: str | None):
    """Record a change around the block that makes it: an intent line first (AuditError, and the block
    does not run, when it cannot be written), then `action` with `detail`, what the block put in the
    dict it is given, and ok (or ok false and the error, which is raised again). An outcome that
    cannot be written is said on stderr, not raised: the change happened and its intent is logged."""
    try:
        intent = record("intent", user, {"action": action, **detail}, source)["id"]
    except OSError as e:
        raise AuditError(f"无法写入审计日志 {log_path().name}（{e.strerror or e}），未做任何更改") from None
    outcome: dict = {}
    try:
        yield outcome
    except Exception as e:
        _outcome(action, user, {**detail, **outcome, "ok": False, "error": str(e)}, source, intent)
        raise
    _outcome(action, user, {**detail, **outcome, "ok": True}, source, intent)


def _outcome(action: str, user: str | None, detail: dict, source: str | None, intent: str) -> None:
    try:
        record(action, user, detail, source, intent=intent)
    except OSError as e:
        print(f"警告：审计日志 {log_path().name} 无法写入这次操作（{action}）的结果（{e.strerror or e}）；"
              f"操作{'已完成' if detail.get('ok') else '未完成'}，日志中有它的意图记录 {intent}。",
              file=sys.stderr, flush=True)


def read(limit: int | None = 100) -> list[dict]:
    """The last `limit` events (all if None), oldest first; a torn or foreign line is skipped. With a limit
    only the file's tail is read (blocks from the end), so a log years long costs what its last lines do."""
    try:
        with open(log_path(), "rb") as f:
            raw = f.read() if not limit else _tail(f, limit)
    except FileNotFoundError:
        return []
    lines = raw.decode("utf-8", "replace").splitlines()
    out = []
    for line in lines[-limit:] if limit else lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _tail(f, lines: int, block: int = 1 << 20) -> bytes:
    # the bytes after the (lines + 1)-th newline from the end, or the whole file if it has fewer
    end = f.seek(0, os.SEEK_END)
    pos, parts, found = end, [], 0
    while pos > 0 and found <= lines:
        step = min(block, pos)
        pos -= step
        f.seek(pos)
        chunk = f.read(step)
        parts.append(chunk)
        found += chunk.count(b"\n")
    data = b"".join(reversed(parts))
    return data if pos == 0 else data[data.index(b"\n") + 1:]

