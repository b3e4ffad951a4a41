"""Users file, password hashing, lockout, roles, area scope, OIDC claims, `users` CLI and the audit log."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap

import pytest
from argon2 import PasswordHasher

from minsheng import audit, auth
from conftest import CITY, JIA, JIA1, ROOT, YI

PW = "s3cret-Pässwort"
FAST = dict(time_cost=1, memory_cost=8, parallelism=1)  # tests only; production keeps the defaults


class Clock:
    def __init__(self):
        self.t = 1_700_000_000.0

    def __call__(self):
        return self.t


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("MINSHENG_USERS", str(tmp_path / "users.json"))
    monkeypatch.setenv("MINSHENG_AUDIT", str(tmp_path / "audit.log"))
    monkeypatch.setattr(auth, "hasher", PasswordHasher(**FAST))
    clock = Clock()
    monkeypatch.setattr(auth, "clock", clock)
    return clock


def events(action=None):
    return [e for e in audit.read(None) if action is None or e["action"] == action]


def test_production_hasher_uses_library_defaults():
    ref = PasswordHasher()
    assert (auth.hasher.time_cost, auth.hasher.memory_cost, auth.hasher.parallelism) == \
        (ref.time_cost, ref.memory_cost, ref.parallelism)


def test_hashing(env, tmp_path):
    h = auth.hash_password(PW)
    assert h != PW and PW not in h and h.startswith("$argon2id$")
    assert auth._verify(h, PW) and not auth._verify(h, PW + "x")
    with pytest.raises(auth.AuthError, match="至少 8"):
        auth.hash_password("short")
    with pytest.raises(auth.AuthError, match="不能为空"):
        auth.hash_password("")
    auth.add_user("alice", "viewer", JIA, PW)
    text = (tmp_path / "users.json").read_text(encoding="utf-8")
    assert PW not in text and "$argon2id$" in text


def test_rehash_on_sign_in_with_new_parameters(env, monkeypatch, tmp_path):
    auth.add_user("alice", "viewer", JIA, PW)
    monkeypatch.setattr(auth, "hasher", PasswordHasher(time_cost=2, memory_cost=16, parallelism=1))
    auth.authenticate("alice", PW)
    stored = json.loads((tmp_path / "users.json").read_text())["users"]["alice"]["password_hash"]
    assert "m=16,t=2,p=1" in stored
    assert auth.authenticate("alice", PW).name == "alice"


def test_lockout_and_unlock(env):
    auth.add_user("alice", "analyst", JIA, PW)
    for _ in range(auth.MAX_FAILURES - 1):
        with pytest.raises(auth.AuthError, match="^用户名或密码错误$"):
            auth.authenticate("alice", "wrong-password")
    with pytest.raises(auth.AuthError, match="账户已锁定，请 15 分钟后再试"):
        auth.authenticate("alice", "wrong-password")
    with pytest.raises(auth.AuthError, match="账户已锁定"):  # the right password does not help
        auth.authenticate("alice", PW)
    env.t += auth.LOCKOUT - 30
    with pytest.raises(auth.AuthError, match="请 1 分钟后再试"):
        auth.authenticate("alice", PW)
    env.t += 31
    u = auth.authenticate("alice", PW)
    assert u.role == auth.Role.analyst and u.failed == 0 and u.locked_until is None
    assert auth.get_user("alice").locked_until is None


def test_failures_outside_window_and_success_reset(env):
    auth.add_user("alice", "viewer", JIA, PW)

    def fail(n):
        for _ in range(n):
            with pytest.raises(auth.AuthError, match="^用户名或密码错误$"):
                auth.authenticate("alice", "nope-nope")

    fail(4)
    env.t += auth.FAILURE_WINDOW + 1  # the old failures expire
    fail(4)
    assert auth.authenticate("alice", PW).failed == 0  # success resets the count
    fail(4)
    assert auth.get_user("alice").failed == 4


def test_disabled_user(env):
    auth.add_user("alice", "admin", CITY, PW)
    auth.disable("alice")
    with pytest.raises(auth.AuthError, match="账户已停用"):
        auth.authenticate("alice", PW)
    with pytest.raises(auth.AuthError, match="^用户名或密码错误$"):  # no hint without the password
        auth.authenticate("alice", "wrong-password")
    assert auth.users_exist()  # a disabled user still keeps sign-in required
    auth.enable("alice")
    assert auth.authenticate("alice", PW).name == "alice"


def test_unknown_user_costs_a_verify(env, monkeypatch):
    calls = []

    class Spy(PasswordHasher):
        def verify(self, h, p):
            calls.append(h)
            return super().verify(h, p)

    monkeypatch.setattr(auth, "hasher", Spy(**FAST))
    with pytest.raises(auth.AuthError, match="^用户名或密码错误$"):
        auth.authenticate("nobody", PW)
    assert len(calls) == 1 and calls[0].startswith("$argon2id$")
    assert not auth.users_exist()


def test_roles():
    R = auth.Role
    # not an order: a reporter may submit and not export, a reviewer export and review but not submit
    expected = {"viewer": {"browse"}, "analyst": {"browse", "export"}, "reporter": {"browse", "submit", "note"},
                "reviewer": {"browse", "export", "review", "note"},
                "admin": {"browse", "export", "import", "rollback", "manage_users", "submit", "review", "note"}}
    expected = {role: allowed | {"messages"} for role, allowed in expected.items()}
    assert set(expected) == set(R.__members__)
    for role, allowed in expected.items():
        for action in auth.ACTIONS:
            assert auth.can(role, action) == (action in allowed), (role, action)
            assert auth.can(R[role], action) == (action in allowed)
    assert not auth.can(None, "browse")
    with pytest.raises(ValueError):
        auth.can("admin", "fly")
    with pytest.raises(auth.AuthError, match="未知角色"):
        auth.Role.parse("root")


def test_users_file(env, tmp_path):
    assert not auth.users_exist() and auth.list_users() == []
    u = auth.add_user("民政科员01", "analyst", "990101001", PW, email="Clerk01@Example.cn")
    assert u.area == JIA1 and u.email == "clerk01@example.cn"
    auth.add_user("oidc.only", "viewer", JIA, None)
    assert auth.users_exist()
    with pytest.raises(auth.AuthError, match="已存在"):
        auth.add_user("民政科员01", "viewer", JIA, PW)
    for bad_area in ("12345", "abc"):
        with pytest.raises(auth.AuthError, match="6、9 或 12 位"):
            auth.add_user("bob", "viewer", bad_area, PW)
    with pytest.raises(auth.AuthError, match="用户名"):
        auth.add_user("has space", "viewer", JIA, PW)
    with pytest.raises(auth.AuthError, match="没有用户"):
        auth.set_role("nobody", "admin")
    assert auth.set_role("民政科员01", "admin").role == auth.Role.admin
    assert auth.set_area("民政科员01", "990102").area == YI
    auth.set_password("民政科员01", "another-password")
    assert auth.authenticate("民政科员01", "another-password").area == YI
    with pytest.raises(auth.AuthError):  # no password: OIDC only
        auth.authenticate("oidc.only", "")
    listed = auth.list_users()
    assert [x.name for x in listed] == ["oidc.only", "民政科员01"]
    assert not any("argon2" in repr(x) or hasattr(x, "password_hash") for x in listed)
    for p in (tmp_path / "users.json", tmp_path / "users.json.lock"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_concurrent_writers_lose_nothing(env, tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from argon2 import PasswordHasher
        from minsheng import auth
        auth.hasher = PasswordHasher(**{FAST!r})
        for i in range(15):
            auth.add_user(f"{{sys.argv[1]}}{{i}}", "viewer", "{JIA}", "password-{{i}}")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, p], cwd=ROOT, env=os.environ.copy())
             for p in ("a", "b", "c")]
    assert [p.wait(timeout=30) for p in procs] == [0, 0, 0]
    assert {u.name for u in auth.list_users()} == {f"{p}{i}" for p in "abc" for i in range(15)}
    assert len(events("users-change")) == 45


def test_user_from_claims():
    users = [auth.User("民政科员01", auth.Role.analyst, JIA, email="clerk01@example.cn", subject="sub-1"),
             auth.User("old", auth.Role.admin, CITY, disabled=True, email="old@example.cn")]
    m = {"role": "groups", "area": "region", "roles": {"mz-admins": "admin", "mz-staff": "viewer"}}
    u = auth.user_from_claims({"email": "w@example.cn", "groups": ["x", "mz-staff", "mz-admins"],
                               "region": "990102"}, m, users)
    assert (u.name, u.role, u.area) == ("w@example.cn", auth.Role.admin, YI)
    # no usable claims: the users file decides, by email (any case) or subject
    assert auth.user_from_claims({"email": "CLERK01@example.cn"}, m, users).name == "民政科员01"
    assert auth.user_from_claims({"sub": "sub-1"}, {}, users).role == auth.Role.analyst
    assert auth.user_from_claims({"email": "w@example.cn", "groups": ["mz-staff"], "region": "bad"}, m, users) is None
    assert auth.user_from_claims({"email": "old@example.cn", "groups": ["mz-admins"], "region": CITY}, m, users) is None
    assert auth.user_from_claims({"email": "stranger@example.cn"}, m, users) is None


def cli(args, stdin="", env_extra=None, tmp=None):
    env = dict(os.environ, MINSHENG_USERS=str(tmp / "users.json"), MINSHENG_AUDIT=str(tmp / "audit.log"),
               **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "minsheng", "users", *args], input=stdin, text=True,
                          capture_output=True, cwd=ROOT, env=env, timeout=60)


def test_cli(tmp_path, fixture_dir):
    run = lambda args, stdin="": cli(args, stdin, {"MINSHENG_DATA": str(fixture_dir)}, tmp_path)  # noqa: E731
    r = run(["list"])
    assert r.returncode == 0 and "没有用户" in r.stdout
    r = run(["add", "alice", "--role", "analyst", "--area", "990101"], PW + "\n")
    assert r.returncode == 0, r.stderr
    assert "已添加用户 alice" in r.stdout and JIA in r.stdout
    for args, stdin, msg in ((["add", "bob", "--role", "viewer", "--area", JIA], "short\n", "至少 8"),
                             (["add", "bob", "--role", "viewer", "--area", JIA], "", "不能为空"),
                             (["add", "bob", "--role", "viewer", "--area", "110000"], PW + "\n", "不在区划表中"),
                             (["add", "alice", "--role", "viewer", "--area", JIA], PW + "\n", "已存在"),
                             (["set-role", "nobody", "admin"], "", "没有用户")):
        r = run(args, stdin)
        assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
    assert run(["set-role", "alice", "root"]).returncode == 2  # argparse choices
    assert run(["set-role", "alice", "admin"]).returncode == 0
    assert run(["set-area", "alice", "990102"]).returncode == 0
    assert run(["passwd", "alice"], "new-password-1\n").returncode == 0
    assert run(["disable", "alice"]).returncode == 0
    r = run(["list"])
    assert r.returncode == 0
    line = next(x for x in r.stdout.splitlines() if x.startswith("alice"))
    assert "admin" in line and YI in line and "已停用" in line
    files = (tmp_path / "users.json").read_text() + (tmp_path / "audit.log").read_text()
    for secret in (PW, "new-password-1"):
        assert secret not in files and all(secret not in x for x in (r.stdout, r.stderr))
    assert stat.S_IMODE((tmp_path / "users.json").stat().st_mode) == 0o600
    ops = [e["detail"] for e in map(json.loads, (tmp_path / "audit.log").read_text().splitlines())
           if e["action"] == "users-change" and e["detail"]["ok"]]  # outcomes of the changes made
    assert [d.get("op") or next(k for k in d if k != "name") for d in ops] == \
        ["add", "role", "area", "password", "disabled"]


def test_audit(env, tmp_path):
    auth.add_user("alice", "admin", CITY, PW, by="root", source="cli")
    auth.authenticate("alice", PW, source="10.0.0.7")
    with pytest.raises(auth.AuthError):
        auth.authenticate("alice", "wrong-" + PW, source="10.0.0.8")
    with pytest.raises(auth.AuthError):
        auth.authenticate("mallory", PW, source="10.0.0.9")
    audit.record("import", "alice", {"file": "a.xlsx", "version": "v000002"}, "10.0.0.7")
    audit.record("rollback", "alice", {"to": "base"}, "10.0.0.7")
    audit.record("export", "alice", {"format": "csv", "rows": 3, "password": PW, "form": {"pwd_token": PW}},
                 "10.0.0.7")
    evs = [e for e in events() if e["action"] != "intent"]
    assert [e["action"] for e in evs] == ["users-change", "sign-in", "sign-in-failed", "sign-in-failed",
                                          "import", "rollback", "export"]
    assert evs[1]["user"] == "alice" and evs[1]["source"] == "10.0.0.7" and evs[1]["time"].endswith("+00:00")
    assert [e["detail"]["reason"] for e in evs[2:4]] == ["password", "unknown"]
    assert evs[-1]["detail"]["password"] == "***" and evs[-1]["detail"]["form"]["pwd_token"] == "***"
    assert PW not in (tmp_path / "audit.log").read_text(encoding="utf-8")
    assert audit.read(2) == evs[-2:]
    assert stat.S_IMODE((tmp_path / "audit.log").stat().st_mode) == 0o600
    with pytest.raises(ValueError):
        audit.record("dance", "alice")


def test_audit_concurrent_lines_stay_whole(env, tmp_path):
    script = textwrap.dedent("""
        import sys
        from minsheng import audit
        for i in range(200):
            audit.record("export", sys.argv[1], {"i": i, "pad": "区" * 3000})
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, f"w{n}"], cwd=ROOT, env=os.environ.copy())
             for n in range(4)]
    assert [p.wait(timeout=30) for p in procs] == [0] * 4
    lines = (tmp_path / "audit.log").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 800
    recs = [json.loads(x) for x in lines]  # every line parses: none interleaved
    assert sorted((r["user"], r["detail"]["i"]) for r in recs) == sorted((f"w{n}", i) for n in range(4) for i in range(200))
