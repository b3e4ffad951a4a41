"""Users, roles and areas: the users file, password sign-in with lockout, OIDC claims (the `users` command: auth_commands.py)."""

# The users file (default <data dir>/users.json, or MINSHENG_USERS) is JSON:
#   {"version": 1, "users": {"民政科员01": {"name", "role", "area", "email", "subject", "password_hash",
#     "disabled", "failed", "failed_since", "locked_until", "created", "updated"}}}
# Times are ISO 8601 in UTC. Every change holds flock() on "<file>.lock" across read–modify–write
# and replaces the file atomically (files.write_json: temp file, fsync, rename), mode 0600.

from __future__ import annotations

import datetime as dt
import enum
import json
import math
import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from minsheng import audit, files, locks
from minsheng.ingest import cells

MAX_FAILURES = 5            # failed sign-ins within FAILURE_WINDOW that lock the account
FAILURE_WINDOW = 15 * 60    # seconds
LOCKOUT = 15 * 60           # seconds an account stays locked
MIN_PASSWORD = 8
LOCK_TIMEOUT = 10           # seconds to wait for another writer of the users file

# The library's recommended parameters (RFC 9106 low-memory profile). Tests swap in a cheap hasher;
# there is deliberately no setting to weaken it in production.
hasher = PasswordHasher()
clock = time.time           # tests replace it to move through lockout windows

WRONG = "用户名或密码错误"
DISABLED = "账户已停用"
_NAME = re.compile(r"[\w.@-]{1,64}")


class AuthError(Exception):
    """A sign-in refused or a users-file change that cannot be made; the message is for the user (Chinese)."""


class Role(enum.IntEnum):
    viewer = 1    # browse
    analyst = 2   # viewer + exports
    admin = 3     # analyst + import, rollback, users

    @classmethod
    def parse(cls, value) -> Role:
        if isinstance(value, cls):
            return value
        try:
            return cls[str(value).strip().lower()]
        except KeyError:
            raise AuthError(f"未知角色“{value}”，可选：{'、'.join(r.name for r in cls)}") from None


ROLE_ZH = {Role.viewer: "浏览", Role.analyst: "分析", Role.admin: "管理员"}
ACTIONS = {"browse": Role.viewer, "export": Role.analyst, "import": Role.admin, "rollback": Role.admin,
           "manage_users": Role.admin}


def can(role, action: str) -> bool:
    """Whether `role` may do `action` (browse, export, import, rollback, manage_users)."""
    if action not in ACTIONS:
        raise ValueError(f"未知操作：{action}")
    return role is not None and Role.parse(role) >= ACTIONS[action]


@dataclass(frozen=True)
class User:
    """A user as the app sees it: never carries the password hash."""
    name: str
    role: Role
    area: str
    disabled: bool = False
    email: str | None = None
    subject: str | None = None
    failed: int = 0
    locked_until: str | None = None
    created: str | None = None
    updated: str | None = None

    def can(self, action: str) -> bool:
        return can(self.role, action)


def _user(rec: dict) -> User:
    return User(name=rec["name"], role=Role.parse(rec["role"]), area=rec["area"], disabled=bool(rec.get("disabled")),
                email=rec.get("email"), subject=rec.get("subject"), failed=rec.get("failed", 0),
                locked_until=rec.get("locked_until"), created=rec.get("created"), updated=rec.get("updated"))


def normalise_area(code) -> str | None:
    """6-, 9- or 12-digit region code → 12 digits; None if it is not one. The importer's rule, but not its
    reading of 430204.0 (a code Excel stored as a number): an area never comes from a spreadsheet cell."""
    return cells.twelve_digits(str(code or ""))


def area_code(code) -> str:
    """The 12-digit code of a user's area, or AuthError saying what is wrong with it."""
    area = normalise_area(code)
    if area is None:
        raise AuthError(f"区划代码“{code}”应为 6、9 或 12 位数字")
    return area


# --- passwords ------------------------------------------------------------------------------

def hash_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise AuthError("密码不能为空" if not password else f"密码至少 {MIN_PASSWORD} 个字符")
    return hasher.hash(password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return hasher.verify(stored or _dummy(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


_dummies: dict = {}


def _dummy() -> str:
    # A hash with the current parameters, so a name with no hash costs as much as a real check and
    # response time does not tell which names exist.
    key = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
    if key not in _dummies:
        _dummies[key] = hasher.hash(os.urandom(16).hex())
    return _dummies[key]


# --- the users file --------------------------------------------------------------------------

def users_path() -> Path:
    """`MINSHENG_USERS` if set, else users.json in the data directory."""
    if os.environ.get("MINSHENG_USERS"):
        return Path(os.environ["MINSHENG_USERS"])
    from minsheng import store  # late: keeps `users` commands from importing pandas

    return store.data_dir() / "users.json"


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="seconds")


def _ts(s: str | None) -> float | None:
    return dt.datetime.fromisoformat(s).timestamp() if s else None


def _load(path: Path) -> dict:
    # A missing file means "no users"; an unreadable or broken one raises, so the app fails closed
    # instead of dropping sign-in.
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"version": 1, "users": {}}
    except ValueError as e:
        raise AuthError(f"用户文件 {path} 已损坏：{e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("users"), dict):
        raise AuthError(f"用户文件 {path} 格式不正确")
    return data


def _save(path: Path, data: dict) -> None:
    files.write_json(path, data, mode=0o600)


@contextmanager
def _edit():
    """Yield the users file's data under its lock; written back if the block ends without error."""
    path = users_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        locks.acquire(fd, LOCK_TIMEOUT, AuthError("用户文件正被另一个操作修改，请稍后再试"), poll=0.02)
        data = _load(path)
        yield data
        _save(path, data)
    finally:
        os.close(fd)  # releases the flock


def _get(data: dict, name: str) -> dict:
    try:
        return data["users"][name]
    except KeyError:
        raise AuthError(f"没有用户“{name}”") from None


def _change(name: str, by: str | None, source: str | None, **fields) -> User:
    with _edit() as data:
        rec = _get(data, name)
        rec.update(fields, updated=_iso(clock()))
    shown = {k: v for k, v in fields.items() if k in ("role", "area", "disabled", "email", "subject")}
    audit.record("users-change", by, {"name": name, **shown} if shown else {"name": name, "op": "password"}, source)
    return _user(rec)


def users_exist() -> bool:
    """True once the users file has any user (disabled ones too): from then on the app requires sign-in."""
    return bool(_load(users_path())["users"])


def get_user(name: str) -> User | None:
    rec = _load(users_path())["users"].get(name)
    return _user(rec) if rec else None


def list_users() -> list[User]:
    return [_user(r) for _, r in sorted(_load(users_path())["users"].items())]


def add_user(name: str, role, area, password: str | None, *, email: str | None = None, subject: str | None = None,
             by: str | None = None, source: str | None = None) -> User:
    """Add a user; `password` None makes one who can only sign in through OIDC (matched by email or subject)."""
    if not _NAME.fullmatch(name or ""):
        raise AuthError(f"用户名“{name}”无效：1–64 个字母、数字、汉字或 . _ @ -")
    role, area = Role.parse(role), area_code(area)
    pw_hash = hash_password(password) if password is not None else None  # hashed before taking the lock
    now = _iso(clock())
    with _edit() as data:
        if name in data["users"]:
            raise AuthError(f"用户“{name}”已存在")
        data["users"][name] = dict(name=name, role=role.name, area=area, email=(email or "").lower() or None,
                                   subject=subject, password_hash=pw_hash, disabled=False, failed=0,
                                   failed_since=None, locked_until=None, created=now, updated=now)
        rec = data["users"][name]
    audit.record("users-change", by, {"op": "add", "name": name, "role": role.name, "area": area}, source)
    return _user(rec)


def set_role(name: str, role, *, by: str | None = None, source: str | None = None) -> User:
    return _change(name, by, source, role=Role.parse(role).name)


def set_area(name: str, area, *, by: str | None = None, source: str | None = None) -> User:
    return _change(name, by, source, area=area_code(area))


def set_password(name: str, password: str, *, by: str | None = None, source: str | None = None) -> User:
    """New password; also clears a lockout (an admin resetting it has checked who is asking)."""
    return _change(name, by, source, password_hash=hash_password(password), failed=0, failed_since=None,
                   locked_until=None)


def disable(name: str, *, by: str | None = None, source: str | None = None) -> User:
    return _change(name, by, source, disabled=True)


def enable(name: str, *, by: str | None = None, source: str | None = None) -> User:
    """Re-enable a user and clear any lockout."""
    return _change(name, by, source, disabled=False, failed=0, failed_since=None, locked_until=None)


# --- sign-in ---------------------------------------------------------------------------------

def locked_for(rec: dict, now: float) -> float:
    """Seconds an account record stays locked from `now` (0 when it is not locked)."""
    until = _ts(rec.get("locked_until"))
    return until - now if until and until > now else 0.0


def _locked_msg(seconds: float) -> str:
    return f"账户已锁定，请 {max(1, math.ceil(seconds / 60))} 分钟后再试"


def authenticate(name: str, password: str, *, source: str | None = None) -> User:
    """The user for a correct name and password; AuthError with the reason to show otherwise.

    Every attempt is audited. MAX_FAILURES wrong passwords within FAILURE_WINDOW lock the account
    for LOCKOUT seconds, during which even the right password fails. A disabled account is only
    reported as such to someone who knows its password, so names cannot be probed for it.
    """
    now, password = clock(), password or ""
    rec = _load(users_path())["users"].get(name)
    # The hash is checked before looking at lock or disabled state, so every path costs one verify.
    ok = _verify(rec.get("password_hash") if rec else None, password) and rec is not None
    if rec is None:
        _deny(name, "unknown", source, WRONG)
    if locked_for(rec, now):
        _deny(name, "locked", source, _locked_msg(locked_for(rec, now)))
    if not ok:
        with _edit() as data:  # re-read under the lock, so concurrent failures all count
            cur = _get(data, name)
            since = _ts(cur.get("failed_since"))
            if since is None or now - since > FAILURE_WINDOW:
                cur.update(failed=0, failed_since=_iso(now))
            cur["failed"] = cur.get("failed", 0) + 1
            locked = cur["failed"] >= MAX_FAILURES
            if locked:
                cur.update(failed=0, failed_since=None, locked_until=_iso(now + LOCKOUT))
        _deny(name, "locked-now" if locked else "password", source, _locked_msg(LOCKOUT) if locked else WRONG)
    if rec.get("disabled"):
        _deny(name, "disabled", source, DISABLED)
    if rec.get("failed") or rec.get("failed_since") or rec.get("locked_until") \
            or hasher.check_needs_rehash(rec["password_hash"]):
        with _edit() as data:  # only write when something changes: most sign-ins leave the file alone
            cur = _get(data, name)
            cur.update(failed=0, failed_since=None, locked_until=None)
            # Not if the password changed since it was checked: that would restore the old one.
            if cur["password_hash"] == rec["password_hash"] and hasher.check_needs_rehash(cur["password_hash"]):
                cur["password_hash"] = hasher.hash(password)
            rec = cur
    audit.record("sign-in", name, {"method": "password"}, source)
    return _user(rec)


def _deny(name: str, reason: str, source: str | None, message: str):
    audit.record("sign-in-failed", str(name)[:64], {"method": "password", "reason": reason}, source)
    raise AuthError(message)


# --- OIDC ------------------------------------------------------------------------------------

def user_from_claims(claims: dict, mapping: dict | None = None, users: list[User] | None = None) -> User | None:
    """The user for an OIDC identity (st.user's claims), or None if not allowed in.

    `mapping`: "role" and "area" name claims that carry them (a role claim may be a list, e.g. groups,
    translated through "roles": {claim value: role}); "name" the claim used as the user name
    (default "email"). A users-file entry matching the email or "sub" claim is used when the claims
    carry no valid role and area, and a disabled entry always refuses. `users` defaults to the file.
    """
    mapping = mapping or {}
    users = list_users() if users is None else users
    email, sub = str(claims.get("email") or "").lower(), claims.get("sub")
    entry = next((u for u in users if (email and u.email == email) or (sub and u.subject == sub)), None)
    if entry and entry.disabled:
        return None
    values = claims.get(mapping["role"]) if mapping.get("role") else None
    values = values if isinstance(values, (list, tuple)) else [values]
    roles = [mapping.get("roles", {}).get(v, v) for v in values if v is not None]
    roles = [Role[r] for r in roles if isinstance(r, str) and r in Role.__members__]
    area = normalise_area(claims.get(mapping["area"])) if mapping.get("area") else None
    if roles and area:
        name = claims.get(mapping.get("name", "email")) or sub
        return User(name=str(name), role=max(roles), area=area, email=email or None, subject=sub) if name else None
    return entry
