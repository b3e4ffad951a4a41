"""Issue 11, items 5, 6, 7 and 12: the lockout under simultaneous guesses and unwritable files, unknown
names, single-user mode reached from outside (forwarding headers, DNS rebinding, an emptied users file),
users-file entries that would fail open, and an audit log that records the peer and never makes a change
that happened look failed."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from conftest import CITY, JIA, ROOT
from minsheng import audit, auth, store
from minsheng.ui import session
from test_auth import FAST, Clock  # the fast argon2 settings and the hand-moved clock

PW = "Richtig-2026"


class Counting(PasswordHasher):
    """The real argon2 hasher, counting the checks made against stored hashes (not the dummy's)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.real, self.lock = 0, threading.Lock()

    def verify(self, h, p):
        if h not in auth._dummies.values():
            with self.lock:
                self.real += 1
        return super().verify(h, p)


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("MINSHENG_USERS", str(tmp_path / "users.json"))
    monkeypatch.setenv("MINSHENG_AUDIT", str(tmp_path / "audit.log"))
    monkeypatch.setattr(auth, "hasher", PasswordHasher(**FAST))
    for name, kind in (("_unknown", "_Unknown"), ("_denials", "_DenialLines")):  # a fresh process's memory
        if hasattr(auth, kind):
            monkeypatch.setattr(auth, name, getattr(auth, kind)())
    clock = Clock()
    monkeypatch.setattr(auth, "clock", clock)
    return clock


def events(action=None):
    return [e for e in audit.read(None) if action is None or e["action"] == action]


def attempt(name, password, source=None):
    try:
        return auth.authenticate(name, password, source=source).name
    except auth.AuthError as e:
        return str(e)


# --- 5. the lockout ------------------------------------------------------------------------------

def test_thirty_simultaneous_guesses_verify_at_most_max_failures(env, monkeypatch):
    hasher = Counting()  # real argon2 with the production parameters
    monkeypatch.setattr(auth, "hasher", hasher)
    auth.add_user("alice", "viewer", JIA, PW)
    barrier = threading.Barrier(30)
    results = []

    def guess(i):
        barrier.wait()
        results.append(attempt("alice", f"guess-{i:04d}"))

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 30
    assert hasher.real <= auth.MAX_FAILURES, hasher.real
    assert results.count(auth.WRONG) == auth.MAX_FAILURES - 1
    assert all(r == auth.WRONG or r.startswith("账户已锁定") for r in results)
    assert attempt("alice", PW).startswith("账户已锁定")          # the right password, after: still locked
    assert hasher.real <= auth.MAX_FAILURES


def test_guesses_from_several_processes_verify_at_most_max_failures(env, tmp_path):
    auth.add_user("alice", "viewer", JIA, PW)
    script = textwrap.dedent(f"""
        import json, sys, threading, time
        from argon2 import PasswordHasher
        from minsheng import auth
        sys.path.insert(0, {str(ROOT / 'tests')!r})
        from test_auth_hardening import Counting
        auth.hasher = Counting(**{FAST!r})
        start = float(sys.argv[2])
        out = []
        def guess(i):
            time.sleep(max(0, start - time.time()))
            try:
                auth.authenticate("alice", f"{{sys.argv[1]}}-{{i}}")
            except auth.AuthError as e:
                out.append(str(e))
        ts = [threading.Thread(target=guess, args=(i,)) for i in range(10)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        print(json.dumps({{"verified": auth.hasher.real, "messages": out}}))
    """)
    import time

    start = str(time.time() + 3)
    procs = [subprocess.Popen([sys.executable, "-c", script, f"p{n}", start], cwd=ROOT, env=os.environ.copy(),
                              stdout=subprocess.PIPE, text=True) for n in range(3)]
    outs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert sum(o["verified"] for o in outs) <= auth.MAX_FAILURES
    assert sum(len(o["messages"]) for o in outs) == 30


_READ_ONLY = """
import json, os, resource, sys
from argon2 import PasswordHasher
from minsheng import auth
auth.hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
if sys.argv[1] == "disk-full":
    # the kernel refuses to grow any file past one byte less than the users file: every rewrite of it
    # fails (EFBIG) as on a full disk, also for root, while the short audit log can still be written
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[3]), int(sys.argv[3])))
out = []
for pw in ["wrong-password-%d" % i for i in range(8)] + [sys.argv[2]]:
    try:
        out.append(auth.authenticate("alice", pw).name)
    except auth.AuthError as e:
        out.append(str(e))
    except Exception as e:
        out.append(type(e).__name__)
print(json.dumps(out, ensure_ascii=False))
"""


def _read_only(how: str, folder: Path) -> list[str]:
    """How to run a script with `folder` read-only: chmod for an ordinary user; root ignores modes, so
    a read-only bind mount in a private mount namespace (unshare), which vanishes with the process."""
    if how == "disk-full":
        return []
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return []
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("running as root without mount namespaces: no way to make a folder read-only here")
    return ["unshare", "-m", "sh", "-c", f'mount --bind -o ro "{folder}" "{folder}" && exec "$@"', "sh"]


@pytest.mark.parametrize("how", ["read-only-folder", "disk-full"])
def test_failures_that_cannot_be_recorded_refuse_sign_in(env, tmp_path, how):
    users = tmp_path / "users"
    users.mkdir()
    os.environ["MINSHENG_USERS"] = str(users / "users.json")  # env's monkeypatch restores it
    auth.add_user("alice", "admin", CITY, PW)
    auth.authenticate("alice", PW)  # the sign-in lock files exist, as on a server that has been used
    data = json.loads((users / "users.json").read_text(encoding="utf-8"))
    for i in range(300):  # a users file far larger than the few audit lines the attempts write
        data["users"][f"clerk{i:03d}"] = dict(name=f"clerk{i:03d}", role="viewer", area=JIA, password_hash=None)
    (users / "users.json").write_text(json.dumps(data), encoding="utf-8")
    before = (users / "users.json").read_bytes()
    prefix = _read_only(how, users)
    try:
        r = subprocess.run(prefix + [sys.executable, "-c", _READ_ONLY, how, PW, str(len(before) - 1)], cwd=ROOT,
                           env=os.environ.copy(), capture_output=True, text=True, timeout=120)
    finally:
        users.chmod(0o700)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert "alice" not in out, out                      # the right password, last, does not get in either
    assert out == [auth.UNRECORDED] * 9, out
    assert (users / "users.json").read_bytes() == before
    assert attempt("alice", PW) == "alice"              # writable again: nothing was counted against it


def test_unknown_names_are_locked_out_like_accounts(env, monkeypatch):
    hasher = Counting(**FAST)
    monkeypatch.setattr(auth, "hasher", hasher)
    auth.add_user("alice", "viewer", JIA, PW)
    out = [attempt("nobody", f"guess-{i}") for i in range(auth.MAX_FAILURES + 3)]
    assert out[:auth.MAX_FAILURES - 1] == [auth.WRONG] * (auth.MAX_FAILURES - 1)
    assert all(m.startswith("账户已锁定") for m in out[auth.MAX_FAILURES - 1:]), out  # as a real account's
    env.t += auth.LOCKOUT + 1
    assert attempt("nobody", "again-and-again") == auth.WRONG


def test_guesses_for_many_names_check_a_few_passwords_at_a_time(env, monkeypatch):
    class Concurrency(PasswordHasher):
        def __init__(self):
            super().__init__()  # the production parameters: 64 MiB per check
            self.now = self.peak = 0
            self.lock = threading.Lock()

        def verify(self, h, p):
            with self.lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
            try:
                return super().verify(h, p)
            finally:
                with self.lock:
                    self.now -= 1

    hasher = Concurrency()
    monkeypatch.setattr(auth, "hasher", hasher)
    auth._dummy()
    threads = [threading.Thread(target=attempt, args=(f"spray{i}", "guess-1234")) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert 1 <= hasher.peak <= auth.VERIFY_AT_ONCE, hasher.peak  # memory: at most 4 × 64 MiB, not 12 ×


def test_unknown_names_are_remembered_in_bounded_memory(env, monkeypatch):
    monkeypatch.setattr(auth, "TRACKED_UNKNOWN", 50)
    for i in range(200):
        attempt(f"ghost{i}", "whatever-1")
    assert len(auth._unknown.names) == 50


def test_audit_lines_for_unknown_names_are_bounded(env, tmp_path, monkeypatch):
    monkeypatch.setattr(auth, "DENIAL_LINES", 20)
    auth.add_user("alice", "viewer", JIA, PW)
    for i in range(300):
        attempt(f"ghost{i:03d}", "whatever-1", source="10.9.9.9")
    failed = events("sign-in-failed")
    assert len(failed) == 20
    assert [e["user"] for e in failed] == [f"ghost{i:03d}" for i in range(20)]
    for _ in range(auth.MAX_FAILURES):                  # a real account's failures are always recorded
        attempt("alice", "wrong-password")
    assert [e["detail"]["reason"] for e in events("sign-in-failed")[20:]] == ["password"] * 4 + ["locked-now"]
    env.t += auth.FAILURE_WINDOW + 1                    # the next window says how many went unrecorded
    attempt("ghost-next", "whatever-1")
    summary, line = events("sign-in-failed")[-2:]
    assert summary["detail"]["reason"] == "not-recorded" and summary["detail"]["count"] == 280
    assert line["user"] == "ghost-next"


# --- 6. single-user mode reachable from outside --------------------------------------------------

LOCAL = {"Host": "127.0.0.1:8501", "Origin": "http://127.0.0.1:8501", "User-Agent": "Mozilla/5.0"}


@pytest.mark.parametrize("header", ["X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded",
                                    "X-Real-Ip", "Via", "CF-Connecting-IP", "True-Client-IP", "X-Client-IP",
                                    "X-Cluster-Client-IP", "Fastly-Client-IP", "X-Original-Forwarded-For", "cf-ray"])
def test_any_forwarding_header_means_the_request_is_exposed(header):
    assert session.request_problem(LOCAL, None) is None
    problem = session.request_problem({**LOCAL, header: "203.0.113.9"}, None)
    assert problem is not None and "代理" in problem[0] and header.lower() in problem[1]["headers"]


@pytest.mark.parametrize("headers,local", [
    ({"Host": "localhost:8501", "Origin": "http://localhost:8501"}, True),
    ({"Host": "[::1]:8501", "Origin": "http://[::1]:8501"}, True),
    ({"Host": "127.0.0.1:8501"}, True),                                              # no Origin: not a browser page
    ({"Host": "evil.example:8501", "Origin": "http://evil.example:8501"}, False),   # DNS rebinding
    ({"Host": "127.0.0.1:8501", "Origin": "http://evil.example:8501"}, False),
    ({"Host": "127.0.0.1:8501", "Origin": "null"}, False),
    ({"Host": "localhost.evil.example"}, False),
    ({"Host": "192.168.1.20:8501"}, False),
    ({"User-Agent": "curl/8"}, False),                                               # no Host at all
])
def test_host_and_origin_must_name_this_machine(headers, local):
    assert (session.request_problem(headers, None) is None) is local


def test_local_host_names_are_configurable(monkeypatch):
    assert session.request_problem({"Host": "dashboard.lan:8501"}, None)
    monkeypatch.setenv(session.LOCAL_HOSTS_ENV, "dashboard.lan, other.lan")
    assert session.request_problem({"Host": "dashboard.lan:8501", "Origin": "http://dashboard.lan:8501"}, None) is None


def test_a_peer_on_another_machine_is_exposed():
    assert session.request_problem(LOCAL, "192.168.1.30")[0] == "请求来自其他计算机"


def _websocket_run(port: int, headers: dict) -> str:
    """Open the app's websocket as a browser would (with `headers`), run the main page, and return
    every text and alert it drew."""
    import asyncio

    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    host = headers.pop("Host", f"127.0.0.1:{port}")  # the client writes Host from the URL; the socket goes to 127.0.0.1

    async def go():
        drawn = []
        sock = socket.create_connection(("127.0.0.1", port))
        async with websockets.connect(f"ws://{host}/_stcore/stream", sock=sock, subprotocols=["streamlit"],
                                      additional_headers=headers, max_size=None, open_timeout=60,
                                      ping_interval=None) as ws:
            back = BackMsg()
            back.rerun_script.query_string = ""
            back.rerun_script.page_name = ""
            await ws.send(back.SerializeToString())
            while True:
                msg = ForwardMsg()
                msg.ParseFromString(await asyncio.wait_for(ws.recv(), 60))
                if msg.WhichOneof("type") == "delta" and msg.delta.WhichOneof("type") == "new_element":
                    el = msg.delta.new_element
                    kind = el.WhichOneof("type")
                    drawn.append(el.alert.body if kind == "alert" else el.markdown.body if kind == "markdown"
                                 else kind)
                if msg.WhichOneof("type") == "script_finished" and msg.script_finished != msg.FINISHED_EARLY_FOR_RERUN:
                    return " | ".join(drawn)

    return asyncio.run(go())


def test_a_real_server_refuses_rebinding_and_forwarded_requests_without_sign_in(tmp_path, fixture_dir):
    import websockets

    from bench.sessions import Server

    data = tmp_path / "data"
    shutil.copytree(fixture_dir, data)
    server = Server(data).start()
    try:
        local = _websocket_run(server.port, {"Origin": f"http://127.0.0.1:{server.port}"})
        rebinding = _websocket_run(server.port, {"Host": f"evil.example:{server.port}",
                                                 "Origin": f"http://evil.example:{server.port}"})
        via = _websocket_run(server.port, {"Origin": f"http://127.0.0.1:{server.port}", "Via": "1.1 proxy"})
        xfh = _websocket_run(server.port, {"Origin": f"http://127.0.0.1:{server.port}",
                                           "X-Forwarded-Host": "dashboard.example"})
        with pytest.raises(websockets.exceptions.InvalidStatus):  # a page of another origin: closed before Streamlit
            _websocket_run(server.port, {"Origin": f"http://localhost:{server.port}"})
    finally:
        server.stop()
    assert "本机单用户模式" in local and "metric" in local
    assert "DNS 重绑定" in rebinding and "metric" not in rebinding
    for page in (via, xfh):
        assert "转发请求头" in page and "metric" not in page


def test_an_emptied_users_file_keeps_sign_in_required(env, tmp_path):
    from streamlit.testing.v1 import AppTest

    auth.add_user("alice", "admin", CITY, PW)
    users = tmp_path / "users.json"
    users.write_text(json.dumps({"version": 1, "users": {}}), encoding="utf-8")
    users.chmod(0o600)
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.run()                                                        # the next click after emptying it
    assert not at.exception and at.get("link_button")[0].proto.url.startswith("/signin?")
    assert "未启用登录" not in " ".join(w.value for w in at.warning) and not at.metric
    from asgi_support import Browser, site

    page = Browser(site()).get("/signin")                           # the sign-in page says why nobody gets in
    assert "用户文件中没有用户，暂时无人能登录" in page.text
    assert auth.sign_in_required()                                  # emptied: still sign-in mode
    users.unlink()
    assert auth.sign_in_required()                                  # deleted: still sign-in mode
    assert attempt("alice", PW) == auth.WRONG                       # and nobody gets in


def test_reset_single_user_is_explicit_and_only_without_users(tmp_path, fixture_dir):
    env = dict(os.environ, MINSHENG_USERS=str(tmp_path / "users.json"), MINSHENG_AUDIT=str(tmp_path / "audit.log"),
               MINSHENG_DATA=str(fixture_dir))
    run = lambda *a, stdin="": subprocess.run([sys.executable, "-m", "minsheng", "users", *a], input=stdin,  # noqa: E731
                                              text=True, capture_output=True, cwd=ROOT, env=env, timeout=60)
    assert run("add", "alice", "--role", "admin", "--area", CITY, stdin=PW + "\n").returncode == 0
    r = run("reset-single-user")
    assert r.returncode == 2 and "还有 1 个用户" in r.stderr
    (tmp_path / "users.json").unlink()
    r = run("list")
    assert "保持登录模式" in r.stdout and "reset-single-user" in r.stdout
    r = run("reset-single-user")
    assert r.returncode == 0 and "已恢复本机单用户模式" in r.stdout
    os.environ["MINSHENG_USERS"] = env["MINSHENG_USERS"]
    try:
        assert not auth.sign_in_required()
    finally:
        del os.environ["MINSHENG_USERS"]
    recs = [json.loads(x) for x in (tmp_path / "audit.log").read_text(encoding="utf-8").splitlines()]
    assert [r["detail"].get("ok") for r in recs if r["detail"].get("op") == "reset-single-user"
            and r["action"] == "users-change"] == [False, True]


def test_an_existing_deployment_is_marked_on_first_read(env, tmp_path):
    (tmp_path / "users.json").write_text(json.dumps({"version": 1, "users": {"bob": {
        "name": "bob", "role": "viewer", "area": JIA, "password_hash": None}}}), encoding="utf-8")
    (tmp_path / "users.json").chmod(0o600)
    assert auth.sign_in_required()                                  # a file written before the marker existed
    (tmp_path / "users.json").unlink()
    assert auth.sign_in_required()


# --- 7. users-file entries that fail open --------------------------------------------------------

def _write_users(path: Path, **fields):
    rec = dict(name="bob", role="viewer", area=JIA, password_hash=None, disabled=False)
    rec.update(fields)
    rec = {k: v for k, v in rec.items() if v is not ...}
    path.write_text(json.dumps({"version": 1, "users": {"bob": rec}}), encoding="utf-8")
    path.chmod(0o600)


@pytest.mark.parametrize("fields,message", [
    (dict(area=None), "区域（area）缺失"), (dict(area=""), "区域（area）为空"), (dict(area=...), "区域（area）缺失"),
    (dict(area="4302"), "“4302”无效"), (dict(area="４３０２００００００００"), "无效"),
    (dict(role="root"), "角色（role）“root”未知"), (dict(role=None), "角色（role）“None”未知"),
    (dict(name="alice"), "格式不正确"),
])
def test_entries_that_would_fail_open_stop_the_app(env, tmp_path, fields, message):
    _write_users(tmp_path / "users.json", **fields)
    for read in (lambda: auth.get_user("bob"), auth.list_users, lambda: auth.authenticate("bob", PW),
                 lambda: auth.sign_in_required()):
        with pytest.raises(auth.AuthError, match=message) as e:
            read()
        assert "用户“bob”" in str(e.value) and str(tmp_path) not in str(e.value)


@pytest.mark.parametrize("mode", [0o666, 0o620, 0o602])
def test_a_users_file_others_can_write_stops_the_app(env, tmp_path, mode):
    auth.add_user("alice", "admin", CITY, PW)
    assert auth.authenticate("alice", PW).name == "alice"
    (tmp_path / "users.json").chmod(mode)
    for read in (lambda: auth.authenticate("alice", PW), lambda: auth.sign_in_required()):
        with pytest.raises(auth.AuthError, match=f"可被其他账户写入（权限 {mode:04o}）"):
            read()
    auth.set_role("alice", "admin")                          # a `users` command repairs it: written 0600
    assert auth.authenticate("alice", PW).name == "alice"


def test_a_folder_anyone_may_write_stops_the_app(env, tmp_path):
    auth.add_user("alice", "admin", CITY, PW)
    tmp_path.chmod(0o777)
    try:
        with pytest.raises(auth.AuthError, match="文件夹任何账户都可写入"):
            auth.get_user("alice")
        tmp_path.chmod(0o1777)                               # sticky, like /tmp: others cannot replace the file
        assert auth.sign_in_required()
    finally:
        tmp_path.chmod(0o700)


def test_the_page_stops_with_the_problem_and_no_sign_in_form(env, tmp_path):
    from streamlit.testing.v1 import AppTest

    _write_users(tmp_path / "users.json", area="")
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.run()
    assert not at.exception
    text = " ".join(e.value for e in at.error)
    assert "看板已停止" in text and "区域（area）为空" in text and str(tmp_path) not in text
    assert not at.text_input and not at.metric


def test_only_the_local_user_sees_every_region(monkeypatch):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string(textwrap.dedent("""
        import streamlit as st
        from minsheng import auth
        from minsheng.ui import session
        st.session_state[session.USER] = auth.User(name="本机用户", role=auth.Role.admin, area="",
                                                   email="x@example.cn")
        st.session_state[session.BOUND] = session.cookie_digest()
        try:
            st.write(repr(session.area()))
        except session.NotSignedIn as e:
            st.write("refused: " + str(e))
        st.write(repr(session.is_local()))
    """))
    at.run()
    assert [m.value for m in at.markdown] == ["refused: 用户没有区域", "False"]


# --- 12. audit you can trust ---------------------------------------------------------------------

@pytest.mark.parametrize("reported,headers,trusted,expected", [
    (None, {}, "", "localhost"),
    ("10.0.0.5", {}, "", "10.0.0.5"),
    # not a trusted proxy: the address is the peer's; the header stays, marked as the client's claim
    ("10.0.0.5", {"x-forwarded-for": "6.6.6.6"}, "", "10.0.0.5 (untrusted x-forwarded-for: 6.6.6.6)"),
    # uvicorn replaced a loopback peer with the header's address: the peer was loopback
    ("6.6.6.6", {"x-forwarded-for": "6.6.6.6"}, "", "localhost (untrusted x-forwarded-for: 6.6.6.6)"),
    # a configured proxy: its client is believed, the rightmost address that is not a proxy
    ("10.0.0.2", {"x-forwarded-for": "1.2.3.4, 198.51.100.7"}, "10.0.0.0/24", "198.51.100.7 (via 10.0.0.2)"),
    ("198.51.100.7", {"x-forwarded-for": "1.2.3.4, 198.51.100.7"}, "127.0.0.1", "198.51.100.7 (via localhost)"),
    ("10.0.0.2", {"x-forwarded-for": "1.2.3.4, 10.0.0.3"}, "10.0.0.0/24", "1.2.3.4 (via 10.0.0.2)"),
    ("10.0.0.9", {"x-forwarded-for": "1.2.3.4"}, "10.0.0.2", "10.0.0.9 (untrusted x-forwarded-for: 1.2.3.4)"),
    ("6.6.6.6", {"x-forwarded-for": "6.6.6.6:5555"}, "", "localhost (untrusted x-forwarded-for: 6.6.6.6:5555)"),
    ("6.6.6.6", {"x-forwarded-for": "6.6.6.6", "x-real-ip": "7.7.7.7"}, "localhost", "6.6.6.6 (via localhost)"),
    (None, {"x-real-ip": "7.7.7.7"}, "", "localhost (untrusted x-real-ip: 7.7.7.7)"),
])
def test_the_source_is_the_peer_and_forwarded_addresses_only_from_trusted_proxies(reported, headers, trusted,
                                                                                  expected, monkeypatch):
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    assert session.source_of(reported, headers, trusted) == expected
    if not trusted:  # without a trusted proxy no forged address is ever the source
        assert session.source_of(reported, headers, trusted).split(" ")[0] not in ("6.6.6.6", "7.7.7.7")


def test_a_forged_header_cannot_smuggle_text_into_the_source():
    src = session.source_of("10.0.0.5", {"x-forwarded-for": "1.2.3.4\n{\"action\": \"sign-in\"}"})
    assert "\n" not in src and '"' not in src and src.startswith("10.0.0.5 ")


def _cli(tmp_path, *args, stdin="", **env_extra):
    env = dict(os.environ, MINSHENG_USERS=str(tmp_path / "users.json"), **env_extra)
    return subprocess.run([sys.executable, "-m", "minsheng", *args], input=stdin, text=True, capture_output=True,
                          cwd=ROOT, env=env, timeout=120)


def test_users_add_with_an_unwritable_audit_log_changes_nothing_and_says_so(tmp_path, fixture_dir):
    r = _cli(tmp_path, "users", "add", "alice", "--role", "admin", "--area", CITY, stdin=PW + "\n",
             MINSHENG_AUDIT="/dev/full", MINSHENG_DATA=str(fixture_dir))  # every write: no space left
    assert r.returncode == 2 and "无法写入审计日志 full" in r.stderr and "未做任何更改" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "users.json").exists() or "alice" not in (tmp_path / "users.json").read_text()
    r = _cli(tmp_path, "users", "add", "alice", "--role", "admin", "--area", CITY, stdin=PW + "\n",
             MINSHENG_AUDIT=str(tmp_path / "audit.log"), MINSHENG_DATA=str(fixture_dir))
    assert r.returncode == 0, r.stderr
    intent, outcome = [json.loads(x) for x in (tmp_path / "audit.log").read_text(encoding="utf-8").splitlines()]
    assert intent["action"] == "intent" and intent["detail"]["action"] == "users-change"
    assert outcome["action"] == "users-change" and outcome["intent"] == intent["id"] and outcome["detail"]["ok"]


def test_import_with_an_unwritable_audit_log_changes_nothing_and_says_so(tmp_path, fixture_dir):
    data = tmp_path / "data"
    shutil.copytree(fixture_dir, data)
    before = store.history(data)
    f = tmp_path / "甲一镇.csv"
    f.write_bytes("指标编码,区划代码,时期,数值\ncnt,990101001000,2023-04,9\n".encode("utf-8-sig"))
    r = _cli(tmp_path, "import", str(f), MINSHENG_AUDIT="/dev/full", MINSHENG_DATA=str(data))
    assert r.returncode == 2 and "审计日志" in r.stderr and "数据未改变" in r.stderr, r.stderr
    assert store.history(data) == before                       # main committed a version and said it failed
    r = _cli(tmp_path, "import", str(f), MINSHENG_AUDIT=str(tmp_path / "audit.log"), MINSHENG_DATA=str(data))
    assert r.returncode == 0, r.stderr
    assert len(store.history(data)) == len(before) + 1


def test_an_outcome_that_cannot_be_written_does_not_undo_the_report(env, tmp_path, monkeypatch, capfd):
    with audit.change("users-change", "root", {"op": "add", "name": "x"}, "cli") as outcome:
        monkeypatch.setenv("MINSHENG_AUDIT", "/dev/full")      # the disk fills during the change
        outcome["done"] = True
    assert "操作已完成" in capfd.readouterr().err
    monkeypatch.setenv("MINSHENG_AUDIT", str(tmp_path / "audit.log"))
    [intent] = events()
    assert intent["action"] == "intent" and intent["detail"] == {"action": "users-change", "op": "add", "name": "x"}


@pytest.mark.parametrize("block", [7, 64, 1 << 20])
def test_the_last_lines_of_a_long_audit_log_are_read_from_its_tail(tmp_path, monkeypatch, block):
    monkeypatch.setenv("MINSHENG_AUDIT", str(tmp_path / "audit.log"))
    written = [audit.record("export", f"u{i}", {"i": i, "pad": "表" * (i % 50)}) for i in range(400)]
    (tmp_path / "audit.log").open("ab").write(b"{torn line\n")          # a torn last line is skipped
    with open(tmp_path / "audit.log", "rb") as f:
        tail = audit._tail(f, 25, block=block)
    whole = (tmp_path / "audit.log").read_bytes().splitlines()
    assert 25 <= len(tail.splitlines()) and tail.splitlines()[-25:] == whole[-25:]
    if block < 100:                                                      # and only about that much was read
        assert len(tail.splitlines()) <= 26
    for limit in (1, 24, 399, 400, 1000):
        want = written[-(limit - 1):] if limit > 1 else []               # the torn line took one of the places
        assert audit.read(limit) == want[-400:], limit
    assert audit.read(None) == written
