"""Users, roles and areas: the users file, password sign-in with lockout, OIDC claims, scope checks, `users` CLI."""

# The users file (default <data dir>/users.json, or MINSHENG_USERS) is JSON:
#   {"version": 1, "users": {"民政科员01": {"name", "role", "area", "email", "subject", "password_hash",
#     "disabled", "failed", "failed_since", "locked_until", "created", "updated"}}}
# Times are ISO 8601 in UTC. Every change holds flock() on "<file>.lock" across read–modify–write
# and replaces the file atomically (temp file, fsync, os.replace), mode 0600.

from __future__ import annotations

import datetime as dt
import enum
import getpass
import json
import math
import os
import re
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from minsheng import audit, locks

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
    """6-, 9- or 12-digit region code → 12 digits; None if it is not one."""
    t = re.sub(r"\s", "", str(code or ""))
    return t.ljust(12, "0") if t.isdigit() and len(t) in (6, 9, 12) else None


def _area(code) -> str:
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
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    dfd = os.open(path.parent, os.O_RDONLY)  # make the rename itself durable
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


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
    role, area = Role.parse(role), _area(area)
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
    return _change(name, by, source, area=_area(area))


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

def _locked_for(rec: dict, now: float) -> float:
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
    if _locked_for(rec, now):
        _deny(name, "locked", source, _locked_msg(_locked_for(rec, now)))
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


# --- scope -----------------------------------------------------------------------------------

def scope_codes(area: str, regions) -> set[str]:
    """The area and every region below it, from the regions table's parent links (empty if unknown)."""
    area = normalise_area(area)
    children: dict[str, list[str]] = {}
    for code, parent in zip(regions["code"], regions["parent_code"]):
        if isinstance(parent, str):
            children.setdefault(parent, []).append(code)
    if area not in set(regions["code"]):
        return set()
    out, todo = set(), [area]
    while todo:
        c = todo.pop()
        if c not in out:  # a cycle in bad data must not loop forever
            out.add(c)
            todo += children.get(c, [])
    return out


def in_scope(area: str, region_code: str, regions) -> bool:
    """Whether `region_code` (e.g. from a URL) is the area or below it; False for anything malformed."""
    area, code = normalise_area(area), normalise_area(region_code)
    if not area or not code:
        return False
    parent = dict(zip(regions["code"], regions["parent_code"]))
    seen = set()
    while isinstance(code, str) and code in parent and code not in seen:
        if code == area:
            return True
        seen.add(code)
        code = parent[code]
    return False


# --- command line: python -m minsheng users … -------------------------------------------------

def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _read_password() -> str:
    # Twice at a terminal to catch typos; once from a pipe (CI, scripts), which cannot retype.
    if sys.stdin.isatty():
        first = getpass.getpass("密码：")
        if getpass.getpass("再次输入密码：") != first:
            raise AuthError("两次输入的密码不一致")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _check_known(area: str) -> None:
    # A mistyped area would leave the user seeing nothing; check it when the regions table is there.
    from minsheng import store

    try:
        import pyarrow.parquet as pq

        codes = set(pq.read_table(store.table_path(store.resolve(store.data_dir()), "regions"),
                                  columns=["code"]).column("code").to_pylist())
    except (FileNotFoundError, store.StoreError):
        return
    if _area(area) not in codes:
        raise AuthError(f"区划代码 {_area(area)} 不在区划表中")


def _cli(args) -> int:
    by, src = audit.os_user(), "cli"
    try:
        if args.users_cmd == "add":
            _check_known(args.area)
            pw = None if args.no_password else _read_password()
            u = add_user(args.name, args.role, args.area, pw, email=args.email, subject=args.subject,
                         by=by, source=src)
            print(f"已添加用户 {u.name}（{ROLE_ZH[u.role]}，区域 {u.area}）")
        elif args.users_cmd == "set-role":
            u = set_role(args.name, args.role, by=by, source=src)
            print(f"用户 {u.name} 的角色已改为 {ROLE_ZH[u.role]}")
        elif args.users_cmd == "set-area":
            _check_known(args.area)
            u = set_area(args.name, args.area, by=by, source=src)
            print(f"用户 {u.name} 的区域已改为 {u.area}")
        elif args.users_cmd == "passwd":
            if get_user(args.name) is None:  # before asking for a password that would be thrown away
                raise AuthError(f"没有用户“{args.name}”")
            set_password(args.name, _read_password(), by=by, source=src)
            print(f"用户 {args.name} 的密码已更新")
        elif args.users_cmd in ("disable", "enable"):
            u = (disable if args.users_cmd == "disable" else enable)(args.name, by=by, source=src)
            print(f"用户 {u.name} 已{'停用' if u.disabled else '启用'}")
        else:
            _list()
    except AuthError as e:
        print(f"错误：{e}", file=sys.stderr)
        return 2
    except OSError as e:  # unreadable users file, full disk: a message, not a traceback
        print(f"错误：无法读写 {e.filename or users_path()}：{e.strerror or e}", file=sys.stderr)
        return 2
    return 0


def _list() -> None:
    now = clock()
    rows = [("用户", "角色", "区域", "状态", "邮箱", "创建时间")]
    for u in list_users():
        left = _locked_for({"locked_until": u.locked_until}, now)
        state = "已停用" if u.disabled else f"已锁定（{math.ceil(left / 60)} 分钟）" if left else "正常"
        rows.append((u.name, f"{ROLE_ZH[u.role]}({u.role.name})", u.area, state, u.email or "",
                     (u.created or "")[:19].replace("T", " ")))
    if len(rows) == 1:
        print(f"没有用户（{users_path()}）；添加第一个用户后，看板需要登录")
        return
    widths = [max(_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:  # pad by display width: CJK characters take two columns
        print("  ".join(c + " " * (w - _width(c)) for c, w in zip(r, widths)).rstrip())


def add_parsers(sub) -> None:
    """Register `users {add,set-role,set-area,passwd,disable,enable,list}` on the CLI's subparsers."""
    p = sub.add_parser("users", help="管理看板用户（有用户后看板需要登录）")
    p.set_defaults(func=_cli)
    us = p.add_subparsers(dest="users_cmd", required=True)
    roles = [r.name for r in Role]
    a = us.add_parser("add", help="添加用户；密码从标准输入读取")
    a.add_argument("name", help="用户名")
    a.add_argument("--role", required=True, choices=roles, help="viewer 浏览 / analyst 可导出 / admin 可导入、回滚、管理用户")
    a.add_argument("--area", required=True, help="可查看的区域：区划代码（6、9 或 12 位），含其下级")
    a.add_argument("--email", help="统一身份认证（OIDC）登录时按邮箱匹配")
    a.add_argument("--subject", help="统一身份认证（OIDC）登录时按 sub 匹配")
    a.add_argument("--no-password", action="store_true", help="不设密码，只能通过统一身份认证登录")
    a = us.add_parser("set-role", help="修改角色")
    a.add_argument("name")
    a.add_argument("role", choices=roles)
    a = us.add_parser("set-area", help="修改区域")
    a.add_argument("name")
    a.add_argument("area")
    a = us.add_parser("passwd", help="重设密码（并解除锁定）；密码从标准输入读取")
    a.add_argument("name")
    for cmd, text in (("disable", "停用用户"), ("enable", "重新启用用户并解除锁定")):
        us.add_parser(cmd, help=text).add_argument("name")
    us.add_parser("list", help="列出用户（不显示密码）")
