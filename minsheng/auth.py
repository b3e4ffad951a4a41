"""Users, roles and areas: the users file, password sign-in with lockout, OIDC claims (the `users` command: auth_commands.py)."""

# The users file (default <data dir>/users.json, or MINSHENG_USERS) is JSON:
#   {"version": 1, "users": {"民政科员01": {"name", "role", "area", "email", "subject", "password_hash",
#     "must_change", "disabled", "failed", "failed_since", "locked_until", "created", "updated"}}}
# Times are ISO 8601 in UTC. Every change holds flock() on "<file>.lock" across read–modify–write
# and replaces the file atomically (files.write_json: temp file, fsync, rename), mode 0600.
# Beside it: "<file>.had-users", written with the first user, which keeps sign-in required once a
# deployment has had users (emptied or deleted, the file no longer means single-user mode), and
# "<file>.signin/NN.lock", the flocks that serialise sign-in checks per account (SIGN_IN_LOCKS files,
# however many names are tried), and "<file>.sessions/", the signed-in sessions (minsheng/sessions.py).
# A change of role, area or password, disabling and removing end the user's sessions.

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import math
import os
import re
import stat
import threading
import time
from collections import OrderedDict
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
SIGN_IN_LOCKS = 64          # lock files that serialise sign-in checks; an account's name picks one
TRACKED_UNKNOWN = 10_000    # names not in the file whose failures a process remembers (oldest forgotten first)
DENIAL_LINES = 100          # audit lines per FAILURE_WINDOW and process for unknown names and locked accounts
VERIFY_AT_ONCE = 4          # password checks a process runs at the same time (each takes the hasher's memory)

# The library's recommended parameters (RFC 9106 low-memory profile). Tests swap in a cheap hasher;
# there is deliberately no setting to weaken it in production.
hasher = PasswordHasher()
clock = time.time           # tests replace it to move through lockout windows

WRONG = "用户名或密码错误"
DISABLED = "账户已停用"
UNRECORDED = "无法记录登录尝试（用户文件或审计日志无法写入），为安全起见暂停登录，请联系管理员"
_NAME = re.compile(r"[\w.@-]{1,64}")


class AuthError(Exception):
    """A sign-in refused or a users-file change that cannot be made; the message is for the user (Chinese)."""


class Role(enum.IntEnum):
    viewer = 1    # browse
    analyst = 2   # viewer + exports
    reporter = 3  # viewer + 填报: drafts and 上报 for the regions of their area (minsheng/cycle.py)
    reviewer = 4  # analyst + 审核: approve or return what the regions directly below their area sent
    admin = 5     # everything: import, rollback, users, and every step of the cycle

    @classmethod
    def parse(cls, value) -> Role:
        if isinstance(value, cls):
            return value
        try:
            return cls[str(value).strip().lower()]
        except KeyError:
            raise AuthError(f"未知角色“{value}”，可选：{'、'.join(r.name for r in cls)}") from None


ROLE_ZH = {Role.viewer: "浏览", Role.analyst: "分析", Role.reporter: "填报", Role.reviewer: "审核",
           Role.admin: "管理员"}
# action → the roles that may do it. Not an order of roles: a reporter may submit but not export, a
# reviewer export but not submit; an admin may do everything.
_EVERYONE = frozenset(Role)
ACTIONS: dict[str, frozenset[Role]] = {
    "browse": _EVERYONE,
    "messages": _EVERYONE,  # 消息中心: one's own messages and the 预警 of one's area (not a page of data to present)
    "export": frozenset({Role.analyst, Role.reviewer, Role.admin}),
    "submit": frozenset({Role.reporter, Role.admin}),
    "review": frozenset({Role.reviewer, Role.admin}),
    "note": frozenset({Role.reporter, Role.reviewer, Role.admin}),  # 任务进展 of the tasks in the area (notes.py)
    "import": frozenset({Role.admin}),
    "rollback": frozenset({Role.admin}),
    "manage_users": frozenset({Role.admin}),
}
# Where a sign-in's claims carry several roles, the one a user gets: the first of these they hold.
PRECEDENCE = (Role.admin, Role.reviewer, Role.reporter, Role.analyst, Role.viewer)


def can(role, action: str) -> bool:
    """Whether `role` may do `action` (one of ACTIONS)."""
    if action not in ACTIONS:
        raise ValueError(f"未知操作：{action}")
    return role is not None and Role.parse(role) in ACTIONS[action]


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
    must_change: bool = False   # a one-time password: a new one must be set at the next sign-in

    def can(self, action: str) -> bool:
        return can(self.role, action)


def _user(rec: dict) -> User:
    return User(name=rec["name"], role=Role.parse(rec["role"]), area=rec["area"], disabled=bool(rec.get("disabled")),
                email=rec.get("email"), subject=rec.get("subject"), failed=rec.get("failed", 0),
                locked_until=rec.get("locked_until"), created=rec.get("created"), updated=rec.get("updated"),
                must_change=bool(rec.get("must_change")))


def normalise_area(code) -> str | None:
    """A region code of any official length (2 to 12 digits) → 12 digits; None if it is not one. The importer's
    rule, but not its reading of 430204.0 (a code Excel stored as a number): an area never comes from a spreadsheet cell."""
    return cells.twelve_digits(str(code or ""))


def area_code(code) -> str:
    """The 12-digit code of a user's area, or AuthError saying what is wrong with it."""
    area = normalise_area(code)
    if area is None:
        raise AuthError(f"区划代码“{code}”应为 {cells.CODE_SPELLED}数字")
    return area


# --- passwords ------------------------------------------------------------------------------

def hash_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise AuthError("密码不能为空" if not password else f"密码至少 {MIN_PASSWORD} 个字符")
    return hasher.hash(password)


_verifying = threading.BoundedSemaphore(VERIFY_AT_ONCE)


def _verify(stored: str | None, password: str) -> bool:
    # Each check takes the hasher's memory (64 MiB by default): names spread over many accounts'
    # locks must not run hundreds at once, so a process checks VERIFY_AT_ONCE passwords at a time.
    stored = stored or _dummy()
    try:
        with _verifying:
            return hasher.verify(stored, password)
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


def _load(path: Path, strict: bool = True) -> dict:
    """The users file's data. A missing file means "no users"; an unreadable or broken one raises, so
    the app fails closed instead of dropping sign-in. `strict` (every read that serves a user) also
    refuses a file others may write and any entry that would fail open (_check); the `users` commands
    read it without, so an operator can repair what the app refuses."""
    try:
        with open(path, encoding="utf-8") as f:
            mode = os.fstat(f.fileno()).st_mode
            data = json.loads(f.read())
    except FileNotFoundError:
        return {"version": 1, "users": {}}
    except ValueError as e:
        raise AuthError(f"用户文件 {path.name} 已损坏：{e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("users"), dict):
        raise AuthError(f"用户文件 {path.name} 格式不正确")
    if strict:
        _check_mode(path, mode)
        for key, rec in data["users"].items():
            _check(path, key, rec)
    return data


def _check_mode(path: Path, mode: int) -> None:
    # Whoever can write the file can make themselves a city-wide admin. The app writes it 0600;
    # a group or world write bit (or a folder anyone may rename files in) means someone else can.
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise AuthError(f"用户文件 {path.name} 可被其他账户写入（权限 {stat.S_IMODE(mode):04o}），看板已停止："
                        f"请执行 chmod 600 {path.name}")
    folder = os.stat(path.parent).st_mode
    if folder & stat.S_IWOTH and not folder & stat.S_ISVTX:
        raise AuthError(f"用户文件 {path.name} 所在的文件夹任何账户都可写入（权限 {stat.S_IMODE(folder):04o}），"
                        "看板已停止：请执行 chmod o-w 该文件夹")


_AREA = re.compile(r"[0-9]{12}")


def _check(path: Path, key: str, rec) -> None:
    """Refuse an entry the app could only serve by guessing: a missing, empty or malformed area would
    have meant every region, an unknown role no sensible rights. City-wide is the city's own code."""
    where = f"用户文件 {path.name} 中的用户“{str(key)[:64]}”"
    if not isinstance(rec, dict) or rec.get("name") != key:
        raise AuthError(f"{where}格式不正确（应为含 name 等字段的对象，name 与用户名一致）")
    if rec.get("role") not in Role.__members__:
        raise AuthError(f"{where}的角色（role）“{rec.get('role')}”未知，可选：{'、'.join(r.name for r in Role)}；"
                        f"请用 python -m minsheng users set-role 修正")
    area = rec.get("area")
    if not isinstance(area, str) or not _AREA.fullmatch(area):
        shown = "缺失" if area is None else "为空" if area == "" else f"“{str(area)[:20]}”无效"
        raise AuthError(f"{where}的区域（area）{shown}：应为 12 位区划代码，全市请写市的代码；"
                        f"请用 python -m minsheng users set-area 修正")


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
        data = _load(path, strict=False)
        yield data
        _save(path, data)
    finally:
        os.close(fd)  # releases the flock


def _had_users(path: Path) -> Path:
    return path.with_name(path.name + ".had-users")


def _get(data: dict, name: str) -> dict:
    try:
        return data["users"][name]
    except KeyError:
        raise AuthError(f"没有用户“{name}”") from None


def fingerprint(name: str) -> str | None:
    """What a signed-in session of `name` must still match (minsheng/sessions.py): a digest of the role, area
    and password hash; None when the user is gone or disabled. Raises AuthError for a broken users file."""
    rec = _load(users_path())["users"].get(name)
    if not rec or rec.get("disabled"):
        return None
    mix = json.dumps([rec.get("role"), rec.get("area"), rec.get("password_hash"), rec.get("email"),
                      rec.get("subject")], ensure_ascii=False)
    return hashlib.sha256(mix.encode("utf-8")).hexdigest()


def _end_sessions(name: str, outcome: dict, by: str | None, source: str | None) -> None:
    # The fingerprint already refuses them; this deletes their files, says how many in the change's audit
    # line, and writes the user's sign-out line (reason "changed") when any was live.
    from minsheng import sessions

    try:
        ended = len(sessions.revoke(name))
    except OSError:
        outcome["sessions_ended"] = "unknown"
        return
    outcome["sessions_ended"] = ended
    if ended:
        try:
            audit.record("sign-out", name, {"reason": "changed", "ended": ended, "by": by}, source)
        except OSError:
            pass  # the change's own outcome line says how many ended


def end_sessions(name: str, *, by: str | None = None, source: str | None = None, short: str | None = None) -> list:
    """End the signed-in sessions of `name` (or only the one whose id starts with `short`): `users sessions
    --revoke` and 用户管理. Audited as a sign-out with reason "revoked"; the sessions ended."""
    from minsheng import sessions

    if get_user(name) is None and not sessions.sessions(name):
        raise AuthError(f"没有用户“{name}”")
    ended = sessions.revoke(name, short)
    audit.record("sign-out", name, {"reason": "revoked", "ended": len(ended), "by": by,
                                    **({"session": short} if short else {})}, source)
    return ended


def _change(name: str, by: str | None, source: str | None, **fields) -> User:
    shown = {k: v for k, v in fields.items() if k in ("role", "area", "disabled", "email", "subject", "must_change")}
    op = {} if "password_hash" not in fields else {"op": "password"}
    with audit.change("users-change", by, {"name": name, **op, **shown}, source) as outcome:
        with _edit() as data:
            rec = _get(data, name)
            before = dict(rec)
            rec.update(fields, updated=_iso(clock()))
        if any(before.get(k) != rec.get(k) for k in ("role", "area", "password_hash", "email", "subject")) \
                or rec.get("disabled"):
            _end_sessions(name, outcome, by, source)
    return _user(rec)


def users_exist() -> bool:
    """True while the users file has any user (disabled ones too)."""
    return bool(_load(users_path())["users"])


def sign_in_required() -> bool:
    """True once the deployment has had a user: emptying or deleting the users file afterwards leaves
    sign-in required (and nobody able to), not an open single-user dashboard; only
    `users reset-single-user` (reset_single_user) goes back."""
    path = users_path()
    if _load(path)["users"]:
        if not _marked(path):
            try:
                _mark(path)  # a file from before the marker: remember it now
            except OSError:
                pass  # read-only: the users in the file still require sign-in
        return True
    return _marked(path)


def _marked(path: Path) -> bool:
    try:
        os.stat(_had_users(path))
    except FileNotFoundError:
        return False
    except OSError:
        return True  # cannot tell: fail closed
    return True


def _mark(path: Path) -> None:
    files.write_text(_had_users(path), "此部署已有过用户：看板要求登录。恢复无登录的本机单用户模式："
                     "python -m minsheng users reset-single-user\n", mode=0o600)


def reset_single_user(*, by: str | None = None, source: str | None = None) -> None:
    """Back to local single-user mode: only when the users file has no user left, and audited."""
    path = users_path()
    with audit.change("users-change", by, {"op": "reset-single-user"}, source), _edit() as data:
        if data["users"]:
            raise AuthError(f"用户文件中还有 {len(data['users'])} 个用户；只有没有用户时才能恢复单用户模式")
        _had_users(path).unlink(missing_ok=True)


def get_user(name: str) -> User | None:
    rec = _load(users_path())["users"].get(name)
    return _user(rec) if rec else None


def list_users() -> list[User]:
    return [_user(r) for _, r in sorted(_load(users_path())["users"].items())]


def add_user(name: str, role, area, password: str | None, *, email: str | None = None, subject: str | None = None,
             by: str | None = None, source: str | None = None, one_time: bool = False) -> User:
    """Add a user; `password` None makes one who can only sign in through OIDC (matched by email or subject).
    `one_time`: the password is to be changed at the first sign-in (an admin made it up and handed it over)."""
    if not _NAME.fullmatch(name or ""):
        raise AuthError(f"用户名“{name}”无效：1–64 个字母、数字、汉字或 . _ @ -")
    role, area = Role.parse(role), area_code(area)
    pw_hash = hash_password(password) if password is not None else None  # hashed before taking the lock
    now = _iso(clock())
    with audit.change("users-change", by, {"op": "add", "name": name, "role": role.name, "area": area}, source), \
            _edit() as data:
        if name in data["users"]:
            raise AuthError(f"用户“{name}”已存在")
        _mark(users_path())  # before the user exists, so no crash leaves users without the marker
        data["users"][name] = dict(name=name, role=role.name, area=area, email=(email or "").lower() or None,
                                   subject=subject, password_hash=pw_hash, must_change=one_time, disabled=False,
                                   failed=0,
                                   failed_since=None, locked_until=None, created=now, updated=now)
        rec = data["users"][name]
    return _user(rec)


def set_role(name: str, role, *, by: str | None = None, source: str | None = None) -> User:
    return _change(name, by, source, role=Role.parse(role).name)


def set_area(name: str, area, *, by: str | None = None, source: str | None = None) -> User:
    return _change(name, by, source, area=area_code(area))


def set_password(name: str, password: str, *, by: str | None = None, source: str | None = None,
                 one_time: bool = False) -> User:
    """New password; also clears a lockout (an admin resetting it has checked who is asking). `one_time`:
    the user must set their own at the next sign-in. Ends the user's sessions."""
    return _change(name, by, source, password_hash=hash_password(password), failed=0, failed_since=None,
                   locked_until=None, must_change=one_time)


def password_matches(name: str, password: str) -> bool:
    """Whether `password` is the user's current one (no lockout counting: for "not the same as before" checks
    by someone already signed in)."""
    rec = _load(users_path())["users"].get(name) or {}
    return bool(rec.get("password_hash")) and _verify(rec["password_hash"], password)


def one_time_password() -> str:
    """A password for an admin to hand over once (12 letters and digits, no look-alikes such as 0/O, 1/l)."""
    import secrets

    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


def remove_user(name: str, *, by: str | None = None, source: str | None = None) -> None:
    """Delete a user from the file (their audit lines stay); ends their sessions. The last admin who can
    sign in with a password is not removed while other users remain: nobody could manage them in the app."""
    with audit.change("users-change", by, {"op": "remove", "name": name}, source) as outcome:
        with _edit() as data:
            _get(data, name)
            rest = [r for k, r in data["users"].items() if k != name]
            if rest and not any(r.get("role") == Role.admin.name and not r.get("disabled") for r in rest) \
                    and data["users"][name].get("role") == Role.admin.name:
                raise AuthError(f"“{name}”是最后一个可用的管理员，删除后无人能在看板中管理用户；请先让另一位用户成为管理员")
            del data["users"][name]
        _end_sessions(name, outcome, by, source)


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
    for LOCKOUT seconds, during which even the right password fails and no password is checked.
    The whole check — read the account, verify, record — holds the account's lock (threads and
    processes alike), so simultaneous guesses are checked one after another and at most
    MAX_FAILURES of them are ever verified. An attempt is counted as a failure before the password
    is checked; if that cannot be written (read-only folder, full disk), or the audit line cannot,
    sign-in is refused. Names not in the file get the same lockout, kept in memory (_Unknown), so
    they neither reveal which names exist nor cost unbounded verifies; their audit lines, and those
    of attempts on a locked account, are capped (_DenialLines). A disabled account is only reported
    as such to someone who knows its password, so names cannot be probed for it.
    """
    now, password, path = clock(), password or "", users_path()
    with _account_lock(path, name):
        rec = _load(path)["users"].get(name)
        if rec is None:
            _unknown_attempt(name, password, now, source)
        if locked_for(rec, now):
            _deny(name, "locked", source, _locked_msg(locked_for(rec, now)), capped=True)
        _record(name, lambda cur: _count_failure(cur, now))  # undone below if the password is right
        if not _verify(rec.get("password_hash"), password):
            locked = _record(name, lambda cur: _lock_if_due(cur, now))
            _deny(name, "locked-now" if locked else "password", source, _locked_msg(LOCKOUT) if locked else WRONG)
        rec = _record(name, lambda cur: _succeeded(cur, rec, password))
    if rec.get("disabled"):
        _deny(name, "disabled", source, DISABLED)
    _audit("sign-in", name, {"method": "password"}, source)
    return _user(rec)


@contextmanager
def _account_lock(path: Path, name: str):
    # flock, unlike a threading lock, also holds across processes (several servers on one users
    # file), and two open() of one file conflict within a process too. A bounded set of lock files:
    # names share one by their hash, which only ever makes two accounts wait for each other.
    bucket = int.from_bytes(hashlib.sha256(name.encode("utf-8", "replace")).digest()[:4], "big") % SIGN_IN_LOCKS
    folder = path.with_name(path.name + ".signin")
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(folder / f"{bucket:02d}.lock", os.O_RDONLY | os.O_CREAT, 0o600)
    except OSError:
        raise AuthError(UNRECORDED) from None
    try:
        locks.acquire(fd, LOCK_TIMEOUT, AuthError("登录请求过多，请稍后再试"), poll=0.01)
        yield
    finally:
        os.close(fd)  # releases the flock


def _record(name: str, update):
    """Apply `update(record)` to the account in the users file; what it returns. AuthError(UNRECORDED)
    when the file cannot be written: an attempt that cannot be counted is not checked."""
    try:
        with _edit() as data:
            return update(_get(data, name))
    except OSError:
        raise AuthError(UNRECORDED) from None


def _count_failure(cur: dict, now: float) -> None:
    since = _ts(cur.get("failed_since"))
    if since is None or now - since > FAILURE_WINDOW:
        cur.update(failed=0, failed_since=_iso(now))
    cur["failed"] = cur.get("failed", 0) + 1


def _lock_if_due(cur: dict, now: float) -> bool:
    if cur.get("failed", 0) < MAX_FAILURES:
        return False
    cur.update(failed=0, failed_since=None, locked_until=_iso(now + LOCKOUT))
    return True


def _succeeded(cur: dict, checked: dict, password: str) -> dict:
    cur.update(failed=0, failed_since=None, locked_until=None)
    # Not if the password changed since it was checked: that would restore the old one.
    if cur["password_hash"] == checked["password_hash"] and hasher.check_needs_rehash(cur["password_hash"]):
        cur["password_hash"] = hasher.hash(password)
    return cur


class _Unknown:
    """Failures of names not in the users file, in this process: the accounts' rule (MAX_FAILURES in
    FAILURE_WINDOW lock for LOCKOUT), for at most TRACKED_UNKNOWN names, the oldest forgotten first."""

    def __init__(self):
        self.names: OrderedDict[str, tuple[int, float, float]] = OrderedDict()  # failed, since, locked until
        self.lock = threading.Lock()

    def locked_for(self, name: str, now: float) -> float:
        with self.lock:
            _, _, until = self.names.get(name, (0, now, 0.0))
        return until - now if until > now else 0.0

    def fail(self, name: str, now: float) -> bool:
        """Count a failure; True when it locks the name."""
        with self.lock:
            failed, since, _ = self.names.pop(name, (0, now, 0.0))
            failed, since = (failed + 1, since) if now - since <= FAILURE_WINDOW else (1, now)
            locked = failed >= MAX_FAILURES
            self.names[name] = (0, now, now + LOCKOUT) if locked else (failed, since, 0.0)
            while len(self.names) > TRACKED_UNKNOWN:
                self.names.popitem(last=False)
        return locked


_unknown = _Unknown()


def _unknown_attempt(name: str, password: str, now: float, source: str | None):
    left = _unknown.locked_for(name, now)
    if left:
        _deny(name, "locked", source, _locked_msg(left), capped=True)
    _verify(None, password)  # costs what a real check costs, so response time does not tell which names exist
    locked = _unknown.fail(name, now)
    _deny(name, "unknown", source, _locked_msg(LOCKOUT) if locked else WRONG, capped=True)


class _DenialLines:
    """At most DENIAL_LINES audit lines per FAILURE_WINDOW for attempts that cost an attacker nothing to
    repeat (unknown names, locked accounts), so they cannot fill the disk; the rest are counted and
    one line says how many when the next window opens."""

    def __init__(self):
        self.since, self.written, self.dropped = None, 0, 0
        self.lock = threading.Lock()

    def admit(self, now: float) -> tuple[bool, dict | None]:
        """(write this line?, a summary line of the window just closed or None)."""
        with self.lock:
            summary = None
            if self.since is None or now - self.since > FAILURE_WINDOW:
                if self.dropped:
                    summary = {"method": "password", "reason": "not-recorded", "count": self.dropped,
                               "since": _iso(self.since)}
                self.since, self.written, self.dropped = now, 0, 0
            if self.written < DENIAL_LINES:
                self.written += 1
                return True, summary
            self.dropped += 1
            return False, summary


_denials = _DenialLines()


def _audit(action: str, name: str | None, detail: dict, source: str | None) -> None:
    try:
        audit.record(action, name, detail, source)
    except OSError:
        raise AuthError(UNRECORDED) from None


def _deny(name: str, reason: str, source: str | None, message: str, capped: bool = False):
    write, summary = _denials.admit(clock()) if capped else (True, None)
    if summary:
        _audit("sign-in-failed", None, summary, None)
    if write:
        _audit("sign-in-failed", str(name)[:64], {"method": "password", "reason": reason}, source)
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
        return User(name=str(name), role=next(r for r in PRECEDENCE if r in roles), area=area, email=email or None, subject=sub) if name else None
    return entry
