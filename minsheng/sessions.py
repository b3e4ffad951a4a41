"""Sign-in sessions kept on the server, beside the users file, so every replica of the app reads the same ones.

The browser holds only an opaque token in an HttpOnly cookie (minsheng/web.py sets it). The server keeps
one small JSON file per session in "<users file>.sessions/", named by the token's SHA-256, never by the
token: a copy of the folder lets nobody sign in. A session records who signed in, when, from where, and
a fingerprint of the user's role, area and password hash at that moment (auth.fingerprint); it is over

- after IDLE seconds without a request (MINSHENG_SESSION_IDLE, default a working day: 8 hours),
- after MAX seconds in all (MINSHENG_SESSION_MAX, default a week),
- on sign-out (end), on `users sessions --revoke` (revoke), and
- as soon as the user is removed or disabled, or their role, area or password changes: the fingerprint no
  longer matches. The `users` changes also delete the files (auth calls revoke), but the check does not
  depend on that: a session of a changed user is refused even if its file is still there.

`check` is called on every script run and every media request; the last request's time is the file's
modification time, moved at most once a TOUCH seconds (os.utime: it cannot bring back a file that a sign-out
in another tab deleted meanwhile, as a rewrite could), so a busy page costs one small read, not a write.
A session may be for one purpose only ("change-password": a one-time password was right and a new one must
be set before the app opens); `check` refuses it for any other.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from minsheng import files

COOKIE = "ms_session"
IDLE_ENV, MAX_ENV = "MINSHENG_SESSION_IDLE", "MINSHENG_SESSION_MAX"
IDLE = 8 * 3600             # seconds without a request that end a session (a working day)
MAX = 7 * 24 * 3600         # seconds a session lasts at most (a week)
CHANGE_PASSWORD_MAX = 600   # a session that may only set a new password lasts ten minutes
TOUCH = 60                  # seconds between writes of a session's last-seen time
APP, CHANGE_PASSWORD = "app", "change-password"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def clock() -> float:
    """Now, in seconds; tests replace it to move through the lifetimes."""
    import time

    return time.time()


def seconds(value: str | None, default: int) -> int:
    """A lifetime from the environment: seconds, or a number with s, m, h or d ("8h", "7d"); the default
    when unset, unreadable or not positive (a broken setting must not make sessions endless)."""
    m = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", value or "")
    if not m or int(m.group(1)) <= 0:
        return default
    return int(m.group(1)) * _UNITS[m.group(2) or "s"]


def idle() -> int:
    return seconds(os.environ.get(IDLE_ENV), IDLE)


def lifetime() -> int:
    return seconds(os.environ.get(MAX_ENV), MAX)


@dataclass(frozen=True)
class Session:
    """One signed-in browser, as the server keeps it (no token: only its digest's first characters)."""
    key: str                # SHA-256 of the token, hex: the file's name
    user: str
    created: float
    seen: float
    source: str
    agent: str
    method: str
    purpose: str
    fingerprint: str

    @property
    def short(self) -> str:
        """The first 8 hex digits of the key: enough to tell a user's sessions apart on a screen."""
        return self.key[:8]

    def ends(self) -> float:
        """When it ends if no request comes first."""
        total = CHANGE_PASSWORD_MAX if self.purpose == CHANGE_PASSWORD else lifetime()
        return min(self.seen + idle(), self.created + total)


def folder() -> Path:
    from minsheng import auth

    path = auth.users_path()
    return path.with_name(path.name + ".sessions")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def well_formed(token: str | None) -> bool:
    return bool(token) and bool(_TOKEN.fullmatch(token))


def _path(key: str) -> Path:
    return folder() / f"{key}.json"


def _read(path: Path) -> Session | None:
    try:
        with open(path, encoding="utf-8") as f:
            seen = os.fstat(f.fileno()).st_mtime
            rec = json.loads(f.read())
        return Session(key=path.stem, user=str(rec["user"]), created=float(rec["created"]), seen=seen,
                       source=str(rec.get("source") or ""), agent=str(rec.get("agent") or ""),
                       method=str(rec.get("method") or "password"), purpose=str(rec.get("purpose") or APP),
                       fingerprint=str(rec["fingerprint"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # gone, torn or foreign: not a session


def _write(s: Session) -> None:
    folder().mkdir(mode=0o700, parents=True, exist_ok=True)
    path = _path(s.key)
    files.write_json(path, {"user": s.user, "created": s.created, "source": s.source[:200], "agent": s.agent[:200],
                            "method": s.method, "purpose": s.purpose, "fingerprint": s.fingerprint}, mode=0o600)
    os.utime(path, (s.seen, s.seen))


def _remove(key: str) -> bool:
    try:
        _path(key).unlink()
        return True
    except FileNotFoundError:
        return False


def create(user: str, *, source: str = "", agent: str = "", method: str = "password",
           purpose: str = APP) -> str:
    """A new session for `user` (who must exist and be enabled); returns the token for the cookie."""
    from minsheng import auth

    fp = auth.fingerprint(user)
    if fp is None:
        raise auth.AuthError(f"没有可登录的用户“{user}”")
    if not private():
        raise auth.AuthError(f"登录记录文件夹 {folder().name} 可被其他账户写入，为安全起见暂停登录：请执行 "
                             f"chmod 700 {folder().name}")
    prune()
    token = secrets.token_urlsafe(32)
    now = clock()
    _write(Session(key=digest(token), user=user, created=now, seen=now, source=source, agent=agent, method=method,
                   purpose=purpose, fingerprint=fp))
    os.utime(_path(digest(token)), (now, now))  # the last request's time (clock(): tests move it)
    return token


def _expired(s: Session, now: float) -> bool:
    return now >= s.ends()


def check(token: str | None, purpose: str = APP) -> Session | None:
    """The live session a cookie's token names, or None: unknown, over (its file is then deleted), for
    another purpose, or of a user who is gone, disabled or changed since signing in. Moves the idle
    deadline (at most one write a TOUCH)."""
    return checked(token, purpose)[0]


def checked(token: str | None, purpose: str = APP) -> tuple[Session | None, str]:
    """check(), and why there is no session: "" (there is one), "none" (no such session: never issued, signed
    out, revoked), "expired" (idle or too old), "changed" (the user was changed, disabled or removed),
    "purpose" (a session for something else), "unsafe" (the sessions folder is writable by others)."""
    from minsheng import auth

    if not well_formed(token):
        return None, "none"
    if not private():
        return None, "unsafe"
    key = digest(token)
    s = _read(_path(key))
    if s is None:
        return None, "none"
    now = clock()
    try:
        fp = auth.fingerprint(s.user)
    except (auth.AuthError, OSError):
        return None, "changed"  # users file unreadable: nobody is signed in (fail closed); the file is kept
    if _expired(s, now) or fp != s.fingerprint:
        _remove(key)
        return None, "expired" if fp == s.fingerprint else "changed"
    if s.purpose != purpose:
        return None, "purpose"
    if now - s.seen >= TOUCH:
        try:
            os.utime(_path(key), (now, now))
        except FileNotFoundError:
            return None, "none"  # signed out (in another tab) a moment ago
        except OSError:
            pass  # a read-only disk: the session stays valid until its recorded deadline
        s = Session(**{**s.__dict__, "seen": now})
    return s, ""


def private() -> bool:
    """Whether the sessions folder is the app's alone: whoever may write into it (and read the users file) could
    plant a session, so a folder others may write, or that is a symbolic link, serves no session (fail closed)."""
    path = folder()
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return True  # no session yet; create() makes it 0700
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and not st.st_mode & 0o022


def end(token: str | None) -> Session | None:
    """End the session a token names (sign-out); the session ended, or None if there was none."""
    if not well_formed(token):
        return None
    key = digest(token)
    s = _read(_path(key))
    _remove(key)
    return s


def sessions(user: str | None = None) -> list[Session]:
    """The live sessions (of `user`, or everyone's), oldest first; over ones are deleted on the way."""
    try:
        paths = sorted(folder().glob("*.json"))
    except OSError:
        return []
    now, out = clock(), []
    for path in paths:
        s = _read(path)
        if s is None:
            continue
        if _expired(s, now):
            _remove(s.key)
            continue
        if user is None or s.user == user:
            out.append(s)
    return sorted(out, key=lambda s: s.created)


def revoke(user: str, short: str | None = None) -> list[Session]:
    """End every session of `user` (or the one whose key starts with `short`); the ones ended."""
    ended = []
    for s in sessions(user):
        if short is None or s.key.startswith(short.lower()):
            if _remove(s.key):
                ended.append(s)
    return ended


def prune() -> int:
    """Delete the files of sessions that are over; how many."""
    before = len(list(folder().glob("*.json"))) if folder().exists() else 0
    return before - len(sessions())


def when(t: float) -> str:
    """A session time for a person: local date and time to the minute."""
    return dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M")
