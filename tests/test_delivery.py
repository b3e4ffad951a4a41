"""Delivery of 预警 and 专报 (issue 17, parts 4–5) against real servers on loopback: a webhook receiver playing
企业微信, 钉钉 and a generic JSON endpoint, and aiosmtpd for mail. The clock is injected, never slept on."""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from conftest import CITY, JIA, JIA1, JIA2, ROOT, YI, YI1, fixture_tables
from minsheng import audit, auth, channels, notify, notify_config, schedule, store
from minsheng.alerts import Alert

# aiosmtpd warns that AUTH without TLS is unsafe: on loopback in a test it is what we want
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
CST = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2026, 12, 3, 8, 0, tzinfo=CST)
HOSTILE = ["**x**", '<font color="info">绿</font>', "[link](http://evil.example/x)", "# 标题", "`code`",
           "a\nb\r\n### c", "<@all>", "&lt;b&gt;", "~~删~~", "| t |", "![img](http://e/i.png)", "\\*y\\*", "\u2028z"]


# --- servers --------------------------------------------------------------------------------------

class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers as told: a queue of faults per path
    ("500", "timeout", ("errcode", n), ("status", code)), then success in the robot's or webhook's form."""

    def __init__(self):
        self.requests: list[dict] = []
        self.faults: dict[str, list] = {}
        self.lock = threading.Lock()
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                url = urllib.parse.urlsplit(self.path)
                with rec.lock:
                    fault = rec.faults.get(url.path, []).pop(0) if rec.faults.get(url.path) else None
                    if fault != "timeout":
                        rec.requests.append(dict(path=url.path, query=urllib.parse.parse_qs(url.query),
                                                 raw_query=url.query, json=json.loads(body), fault=fault))
                if fault == "timeout":
                    time.sleep(0.6)
                    return
                code, answer = 200, {"errcode": 0, "errmsg": "ok"}
                if fault == "500":
                    code = 500
                elif isinstance(fault, tuple) and fault[0] == "errcode":
                    answer = {"errcode": fault[1], "errmsg": "busy"}
                elif isinstance(fault, tuple) and fault[0] == "status":
                    code = fault[1]
                data = json.dumps(answer).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs=dict(poll_interval=0.02), daemon=True).start()

    def ok(self, path: str | None = None) -> list[dict]:
        """The requests answered with success, of one path (or all)."""
        return [r for r in self.requests if r["fault"] is None and (path is None or r["path"] == path)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver():
    r = Receiver()
    yield r
    r.close()


class Mailbox:
    def __init__(self):
        self.messages: list[tuple[object, bytes]] = []
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope, envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def smtp_server():
    box = Mailbox()

    def authenticator(server, session, envelope, mechanism, data):
        box.logins.append((data.login, data.password))
        ok = (data.login, data.password) == (b"bot@example.test", b"s3cret-\xe5\xaf\x86")
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself

    ctl = Controller(box, hostname="127.0.0.1", port=_free_port(), authenticator=authenticator,
                     auth_require_tls=False, auth_required=True)
    ctl.start()
    yield ctl, box
    ctl.stop()


# --- data, configuration and alerts ----------------------------------------------------------------

@pytest.fixture()
def data(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "data"
    store.write_tables(d, fixture_tables(), {"title": "测试数据", "demo": False, "data_date": "2023-03-31"})
    monkeypatch.setenv("MINSHENG_AUDIT", str(tmp_path / "audit.log"))
    return d


def configure(directory: Path, text: str) -> None:
    (directory / "settings").mkdir(parents=True, exist_ok=True)
    (directory / "settings" / "delivery.toml").write_text(text, encoding="utf-8")


def channel(cid: str, kind: str, url: str, areas=(CITY,), extra: str = "") -> str:
    return (f'[[channel]]\nid = "{cid}"\ntype = "{kind}"\nurl = "{url}"\nareas = {json.dumps(list(areas))}\n'
            f"timeout = 0.3\n{extra}\n")


def contact(name: str, duty: str, area: str, department: str | None = "民政局", **more) -> str:
    fields = dict(name=name, duty=duty, area=area, **({"department": department} if department else {}), **more)
    return "[[contact]]\n" + "".join(f'{k} = "{v}"\n' for k, v in fields.items()) + "\n"


def alert(n: int | str, region: str = JIA1, level: str = "严重", department: str | None = "民政局", owner=None,
          title: str | None = None) -> Alert:
    return Alert(rule="task_lag", key=f"task_lag:{n}:{region}:2026-11", level=level, region_code=region,
                 title=title or f"任务{n} 严重滞后", text=f"完成率 40.0%，落后序时进度 51.7 个百分点（任务{n}）",
                 department=department, indicator_id=f"t{n}", period=dt.date(2026, 11, 1), owner=owner)


def fixed(found):
    """An evaluate() that finds `found` (a list, or a function of the day)."""
    return lambda directory, today, area=None: list(found(today) if callable(found) else found)


USERS = [auth.User("city_admin", auth.Role.admin, CITY), auth.User("jia_rev", auth.Role.reviewer, JIA),
         auth.User("yi_rev", auth.Role.reviewer, YI), auth.User("jia_viewer", auth.Role.viewer, JIA),
         auth.User("gone", auth.Role.admin, CITY, disabled=True)]


def run(directory, now, found=(), **kw):
    return schedule.run(directory, now, evaluate=fixed(found), users=kw.pop("users", USERS), **kw)


def hook_items(r: Receiver) -> list[tuple[str, str]]:
    """(recipient, alert key) of every item the generic webhook received."""
    return [(q["json"]["recipient"]["name"], i["key"]) for q in r.ok("/hook") for i in q["json"]["items"]]


# --- configuration ------------------------------------------------------------------------------

def test_the_shipped_default_parses_and_holds_no_live_channel():
    cfg = notify_config.parse(notify_config.DEFAULT.read_bytes(), notify_config.DEFAULT)
    assert (cfg.channels, cfg.contacts, cfg.briefs, cfg.after_days) == ((), (), (), 3)
    live = [ln for ln in notify_config.DEFAULT.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    assert live == ["[escalation]", "after_days = 3"]


@pytest.mark.parametrize("text, key, words", [
    ('[[channel]]\nid = "a"\ntype = "slack"\nareas = ["990100"]\n', "type", "可选"),
    ('[[channel]]\nid = "a"\ntype = "wecom"\nareas = ["990100"]\n', "url", "key"),
    ('[[channel]]\nid = "a"\ntype = "webhook"\nurl = "ftp://x"\nareas = ["990100"]\n', "url", "http"),
    ('[[channel]]\nid = "a"\ntype = "webhook"\nurl = "http://x"\nareas = ["99x"]\n', "areas", "区划代码"),
    ('[[channel]]\nid = "a"\ntype = "webhook"\nurl = "http://x"\nareas = ["990100"]\ncolour = 1\n', "colour", "未知"),
    ('[[channel]]\nid = "m"\ntype = "smtp"\nhost = "h"\nfrom = "a@b"\nusername = "u"\nareas = ["990100"]\n',
     "password_env", "环境变量"),
    ('[[channel]]\nid = "m"\ntype = "smtp"\nhost = "h"\nfrom = "a@b"\npassword = "p"\nareas = ["990100"]\n',
     "password", "未知"),
    ('[escalation]\nafter_days = 0\n', "after_days", "整数"),
    ('[[contact]]\nname = "张三"\nduty = "科长"\narea = "990100"\n', "duty", "责任人"),
    ('[[brief]]\nregion = "990100"\nday_of_month = 31\nchannels = ["x"]\n', "day_of_month", "28"),
    ('[[brief]]\nregion = "990100"\nday_of_month = 5\nchannels = ["x"]\n', "channels", "未在"),
    ('after_days = 3\n', "after_days", "未知"),
    ('[escalation\n', None, "TOML"),
])
def test_a_wrong_setting_is_refused_in_chinese_naming_the_file_and_key(tmp_path, text, key, words):
    configure(tmp_path, text)
    with pytest.raises(notify_config.ConfigError) as e:
        notify_config.load(tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "settings" / "delivery.toml") in msg and words in msg, msg
    assert key is None or key in msg, msg
    assert any("\u4e00" <= ch <= "\u9fff" for ch in msg)


def test_a_broken_file_stops_the_run_before_anything_is_seen(data):
    configure(data, "[[channel]]\nid = 1\n")
    with pytest.raises(notify_config.ConfigError):
        run(data, T0, [alert(1)])
    assert notify.status(data)["alerts"] == {"open": 0, "closed": 0}


def test_notify_and_settings_alone_leave_a_directory_blank(tmp_path):
    d = tmp_path / "new"
    configure(d, "")
    notify.connect(d).close()
    assert sorted(os.listdir(d)) == ["notify", "settings"] and store.blank(d)


# --- escaping -----------------------------------------------------------------------------------

_FULL = dict(zip("*_[]()<>`#~|!\\&$", "＊＿［］（）＜＞｀＃～｜！＼＆＄"))


@pytest.mark.parametrize("s", HOSTILE)
def test_markdown_escaping_leaves_no_markup_and_loses_nothing(s):
    out = channels.escape_markdown(s)
    assert not set(out) & set(_FULL) and "\n" not in out and "\r" not in out and "://" not in out
    back = out.replace("：//", "://").translate(str.maketrans({v: k for k, v in _FULL.items()}))
    assert back == " ".join(s.replace("\u2028", " ").split())  # the same text, line breaks as spaces


def test_hostile_text_arrives_literal_on_both_robots(data, receiver):
    configure(data, channel("wx", "wecom", f"{receiver.base}/cgi-bin/webhook/send?key=K1")
              + channel("dd", "dingtalk", f"{receiver.base}/robot/send?access_token=T1"))
    found = [alert(i, title=f"任务{h}", owner=h) for i, h in enumerate(HOSTILE)]
    run(data, T0, found)
    wx, dd = receiver.ok("/cgi-bin/webhook/send"), receiver.ok("/robot/send")
    assert len(wx) == len(dd) == 1
    content, text = wx[0]["json"]["markdown"]["content"], dd[0]["json"]["markdown"]["text"]
    for body in (content, text):
        for h in ["**x**", '<font color="info">', "[link]", "](http", "<@all>", "&lt;", "~~", "`code`", "\n# 标题",
                  "\n### c", "http://evil"]:
            assert h not in body, (h, body)
        assert "任务＊＊x＊＊" in body and "＜font color=\"info\"＞绿" in body
    assert wx[0]["json"]["msgtype"] == dd[0]["json"]["msgtype"] == "markdown"
    # the digest is capped: 10 items and a pointer to the 消息中心 for the rest
    assert f"另有 {len(HOSTILE) - notify.DIGEST_ITEMS} 条" in content and "消息中心" in content
    assert content.count("\n- 【") == notify.DIGEST_ITEMS and len(content.encode()) <= channels.WECOM_LIMIT


# --- retries, restarts, rate ---------------------------------------------------------------------

def test_a_failing_endpoint_is_retried_with_backoff_then_succeeds(data, receiver):
    configure(data, channel("wx", "wecom", f"{receiver.base}/cgi-bin/webhook/send?key=K1")
              + channel("hook", "webhook", f"{receiver.base}/hook"))
    receiver.faults = {"/cgi-bin/webhook/send": ["500", ("errcode", 45009)], "/hook": ["timeout"]}
    r = run(data, T0, [alert(1)])
    assert (r.flushed.sent, r.flushed.retrying) == (0, 2) and not receiver.ok()
    assert notify.flush(data, notify_config.load(data), T0 + dt.timedelta(seconds=59)).sent == 0  # 1 min backoff
    f = notify.flush(data, notify_config.load(data), T0 + dt.timedelta(seconds=60))
    assert (f.sent, f.retrying) == (1, 1) and len(receiver.ok("/hook")) == 1       # the timeout, retried, went
    assert notify.flush(data, notify_config.load(data), T0 + dt.timedelta(seconds=60 + 299)).sent == 0  # then 5 min
    assert notify.flush(data, notify_config.load(data), T0 + dt.timedelta(seconds=60 + 300)).sent == 1
    assert len(receiver.ok("/cgi-bin/webhook/send")) == 1 and len(receiver.requests) == 4
    hook = receiver.ok("/hook")[0]["json"]
    assert set(hook) == {"version", "kind", "key", "region", "region_name", "recipient", "title", "text", "items", "sent_at"}
    assert hook["kind"] == "alert" and hook["items"][0]["key"] == alert(1).key
    sends = [e for e in audit.read(None) if e["action"] == "send" and e["detail"]["channel"] != "消息中心"]
    assert [(e["detail"]["channel"], e["detail"]["ok"]) for e in sends] == [
        ("wx", False), ("hook", False), ("wx", False), ("hook", True), ("wx", True)]
    assert "K1" not in (Path(os.environ["MINSHENG_AUDIT"]).read_text(encoding="utf-8"))


def test_a_bad_key_fails_at_once_shows_in_status_and_can_be_requeued(data, receiver):
    configure(data, channel("wx", "wecom", f"{receiver.base}/cgi-bin/webhook/send?key=BADKEY"))
    receiver.faults = {"/cgi-bin/webhook/send": [("status", 404)]}
    assert run(data, T0, [alert(1)]).flushed.failed == 1
    st = notify.status(data)
    assert [(f["channel"], f["attempts"]) for f in st["failed"]] == [("wx", 1)] and "404" in st["failed"][0]["last_error"]
    out = subprocess.run([sys.executable, "-m", "minsheng", "schedule", "status"], cwd=ROOT, capture_output=True,
                         text=True, env={**os.environ, "MINSHENG_DATA": str(data)}, timeout=60)
    assert "失败" in out.stdout and "wx" in out.stdout and "BADKEY" not in out.stdout, out.stdout + out.stderr
    assert notify.retry(data, None, T0) == 1
    assert notify.flush(data, notify_config.load(data), T0).sent == 1


def test_the_outbox_survives_a_restart_and_another_process_sends_it(data, receiver):
    configure(data, channel("hook", "webhook", f"{receiver.base}/hook"))
    receiver.faults = {"/hook": ["500"]}
    run(data, T0, [alert(1), alert(2, region=YI1)])
    assert not receiver.ok() and notify.status(data)["pending"][0]["attempts"] == 1
    later = (T0 + dt.timedelta(minutes=2)).isoformat()
    env = {**os.environ, "MINSHENG_DATA": str(data)}
    out = subprocess.run([sys.executable, "-m", "minsheng", "outbox", "flush", "--now", later], cwd=ROOT,
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0 and "发送成功 1 条" in out.stdout, out.stdout + out.stderr
    assert sorted(i for _, i in hook_items(receiver)) == sorted([alert(1).key, alert(2, region=YI1).key])
    again = subprocess.run([sys.executable, "-m", "minsheng", "outbox", "flush", "--now", later], cwd=ROOT,
                           capture_output=True, text=True, env=env, timeout=60)
    assert "发送成功 0 条" in again.stdout and len(receiver.ok()) == 1


def test_digests_keep_to_twenty_a_minute_per_robot(data, receiver):
    people = "".join(contact(f"责任人{i:02d}", "责任人", JIA1, department=f"部门{i:02d}") for i in range(45))
    configure(data, channel("wx", "wecom", f"{receiver.base}/cgi-bin/webhook/send?key=K")
              + channel("hook", "webhook", f"{receiver.base}/hook", extra="per_minute = 7") + people)
    found = [alert(i, department=f"部门{i:02d}") for i in range(45)]
    r = run(data, T0, found)
    assert r.queued == 90 and (r.flushed.sent, r.flushed.waiting) == (27, 63)
    seen = [len(receiver.ok("/cgi-bin/webhook/send"))]
    for seconds in (30, 59, 60, 90, 120, 180):
        notify.flush(data, notify_config.load(data), T0 + dt.timedelta(seconds=seconds))
        seen.append(len(receiver.ok("/cgi-bin/webhook/send")))
    assert seen == [20, 20, 20, 40, 40, 45, 45]
    # every 60 s window of sends at the receiver, counted independently, holds at most 20 (7 for the hook)
    con = notify.connect(data)
    rows = con.execute("select channel, sent_at from outbox where status = 'sent'").fetchall()
    for cid, cap in (("wx", 20), ("hook", 7)):
        times = sorted(dt.datetime.fromisoformat(r["sent_at"].replace("Z", "+00:00")) for r in rows if r["channel"] == cid)
        assert max(sum(t <= u < t + dt.timedelta(seconds=60) for u in times) for t in times) == cap
    assert {q["json"]["markdown"]["content"].split("\n")[1].split("（")[0] for q in receiver.ok("/cgi-bin/webhook/send")} \
        == {f"致 责任人{i:02d}" for i in range(45)}


def test_running_twice_or_twice_at_once_sends_nothing_twice(data, receiver):
    configure(data, channel("hook", "webhook", f"{receiver.base}/hook") + contact("甲", "责任人", JIA))
    found = [alert(1), alert(2, region=JIA2, level="关注")]
    threads = [threading.Thread(target=run, args=(data, T0, found)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run(data, T0, found)
    run(data, T0 + dt.timedelta(hours=3), found)
    assert len(receiver.ok("/hook")) == 1 and sorted(hook_items(receiver)) == [("甲", alert(1).key), ("甲", alert(2, region=JIA2).key)]
    assert [i["level"] for i in receiver.ok("/hook")[0]["json"]["items"]] == ["严重", "关注"]  # 严重 first
    assert notify.unread_count(data, "jia_rev") == 2


# --- escalation and closing ----------------------------------------------------------------------

PEOPLE = (contact("镇责任人", "责任人", JIA1) + contact("县局长", "部门负责人", JIA) + contact("市局长", "部门负责人", CITY)
          + contact("别的局长", "部门负责人", JIA, department="医保局") + contact("县分管", "分管领导", JIA, department=None)
          + contact("市分管", "分管领导", CITY, department=None))


def test_an_open_alert_escalates_to_the_department_head_then_the_leader(data, receiver):
    configure(data, "[escalation]\nafter_days = 3\n" + channel("hook", "webhook", f"{receiver.base}/hook") + PEOPLE)
    key = alert(1).key
    told = {}
    for day in range(0, 10):
        before = len(hook_items(receiver))
        run(data, T0 + dt.timedelta(days=day), [alert(1)])
        told[day] = [who for who, _ in hook_items(receiver)[before:]]
    assert told == {0: ["镇责任人"], 1: [], 2: [], 3: ["县局长"], 4: [], 5: [], 6: ["县分管"], 7: [], 8: [], 9: []}
    step3 = receiver.ok("/hook")[1]["json"]["items"][0]
    assert (step3["key"], step3["step"], step3["duty"], step3["days_open"]) == (key, 1, "部门负责人", 3)
    assert [m.title for m in notify.inbox(data, "jia_rev")][0].endswith("（已持续 6 天未解决，升级至分管领导）")


def test_a_missed_week_tells_every_step_it_skipped(data, receiver):
    configure(data, "[escalation]\nafter_days = 2\n" + channel("hook", "webhook", f"{receiver.base}/hook") + PEOPLE)
    run(data, T0, [alert(1, owner="县局长")])       # a named owner is told first, whatever their duty
    run(data, T0 + dt.timedelta(days=7), [alert(1, owner="县局长")])
    assert [who for who, _ in hook_items(receiver)] == ["县局长", "县局长", "县分管"]


def test_a_closed_alert_is_not_sent_again_and_its_return_is_new(data, receiver):
    configure(data, channel("hook", "webhook", f"{receiver.base}/hook") + PEOPLE)
    days = {0: [alert(1)], 1: [], 2: [], 5: [alert(1)], 6: [alert(1)]}
    for day, found in days.items():
        r = run(data, T0 + dt.timedelta(days=day), found)
        if day == 1:
            assert r.closed == 1
    assert [who for who, _ in hook_items(receiver)] == ["镇责任人", "镇责任人"]
    assert [i["first_seen"] for q in receiver.ok("/hook") for i in q["json"]["items"]] == ["2026-12-03", "2026-12-08"]
    assert len(notify.inbox(data, "jia_rev")) == 2


def test_an_alert_nobody_is_named_for_goes_to_its_areas_group_only(data, receiver):
    configure(data, channel("jia", "webhook", f"{receiver.base}/hook", areas=(JIA,))
              + channel("yi", "wecom", f"{receiver.base}/cgi-bin/webhook/send?key=Y", areas=(YI,)))
    run(data, T0, [alert(1, region=JIA2, department=None)])
    assert hook_items(receiver) == [("群", alert(1, region=JIA2).key)] and not receiver.ok("/cgi-bin/webhook/send")


# --- 钉钉 加签 -------------------------------------------------------------------------------------

def test_dingtalk_sign_matches_an_independent_hmac(data, receiver, monkeypatch):
    monkeypatch.setenv("DD_SECRET", "SEC0123456789abcdef")
    configure(data, f'[[channel]]\nid = "dd"\ntype = "dingtalk"\nbase_url = "{receiver.base}/"\nkey = "TOKEN+/="\n'
                    f'secret_env = "DD_SECRET"\nareas = ["{CITY}"]\n')
    before = int(time.time() * 1000)
    run(data, T0, [alert(1)])
    (req,) = receiver.ok("/robot/send")
    q = req["query"]
    assert q["access_token"] == ["TOKEN+/="]
    ts = int(q["timestamp"][0])
    assert before <= ts <= int(time.time() * 1000)  # the wall clock, which 钉钉 checks within an hour
    expected = base64.b64encode(hmac.new(b"SEC0123456789abcdef", f"{ts}\nSEC0123456789abcdef".encode(),
                                         hashlib.sha256).digest()).decode()
    assert q["sign"] == [expected]
    assert req["json"]["markdown"]["title"] == "预警日报（2026-12-03）"
    assert "SEC0123456789abcdef" not in Path(os.environ["MINSHENG_AUDIT"]).read_text(encoding="utf-8")


# --- mail and briefs -----------------------------------------------------------------------------

def test_mail_carries_the_brief_byte_identical_once_and_keeps_the_password_out(data, smtp_server, monkeypatch, capsys):
    ctl, box = smtp_server
    monkeypatch.setenv("MAIL_PW", "s3cret-密")
    configure(data, f'[[channel]]\nid = "mail"\ntype = "smtp"\nhost = "127.0.0.1"\nport = {ctl.port}\n'
                    f'username = "bot@example.test"\npassword_env = "MAIL_PW"\nfrom = "bot@example.test"\n'
                    f'areas = ["{CITY}"]\ntimeout = 5\n'
                    + contact("镇责任人", "责任人", JIA1, email="zhen@example.test") + contact("市分管", "分管领导", CITY, None,
                                                                                      email="shi@example.test", account="shi")
                    + f'[[brief]]\nregion = "{JIA}"\nday_of_month = 5\nchannels = ["mail"]\n')
    doc = os.urandom(3000) + "专报".encode()
    calls = []

    def make_brief(directory, region, year, month):
        calls.append((region, year, month))
        return f"甲县_{year}年{month}月_专报.docx", doc

    r = run(data, T0, [alert(1)], make_brief=make_brief)             # 3 December: the brief is not due before the 5th
    assert calls == [] and len(box.messages) == 1 and r.flushed.sent == 1
    for day in (2, 2, 3):                                             # the 5th, again, the 6th
        run(data, T0 + dt.timedelta(days=day), [alert(1)], make_brief=make_brief)
    assert calls == [(JIA, 2026, 11)]
    mails = [email.message_from_bytes(raw, policy=email.policy.default) for _, raw in box.messages]
    alert_mail, *briefs = mails
    assert alert_mail["Subject"].startswith("【预警日报（2026-12-03）】") and alert_mail["To"] == "zhen@example.test"
    assert "任务1 严重滞后" in alert_mail.get_content()
    # by default a brief goes to the contacts whose area holds its region: the city's leader, not a township's 责任人
    assert [m["To"] for m in briefs] == ["shi@example.test"]
    for m in briefs:
        assert m["Subject"] == "甲县2026年11月重点民生实事工作专报"
        (part,) = list(m.iter_attachments())
        assert part.get_filename() == "甲县_2026年11月_专报.docx" and part.get_content() == doc
    assert [m.kind for m in notify.inbox(data, "shi")].count("brief") == 1
    assert [m.kind for m in notify.inbox(data, "city_admin")].count("brief") == 1
    log = Path(os.environ["MINSHENG_AUDIT"]).read_text(encoding="utf-8")
    assert "s3cret" not in log and "s3cret" not in capsys.readouterr().out
    con = notify.connect(data)
    assert all(b"s3cret" not in bytes(str(tuple(r)), "utf-8") for r in con.execute("select * from outbox"))
    assert box.logins and all(p == "s3cret-密".encode() for _, p in box.logins)


def test_a_wrong_mail_password_fails_without_retrying_and_without_the_password(data, smtp_server, monkeypatch):
    ctl, box = smtp_server
    monkeypatch.setenv("MAIL_PW", "wrong-密码-xyz")
    configure(data, f'[[channel]]\nid = "mail"\ntype = "smtp"\nhost = "127.0.0.1"\nport = {ctl.port}\n'
                    f'username = "bot@example.test"\npassword_env = "MAIL_PW"\nfrom = "bot@example.test"\n'
                    f'areas = ["{CITY}"]\ntimeout = 5\n' + contact("镇责任人", "责任人", JIA1, email="zhen@example.test"))
    assert run(data, T0, [alert(1)]).flushed.failed == 1 and not box.messages
    st = notify.status(data)
    assert "拒绝登录" in st["failed"][0]["last_error"]
    assert "wrong-密码" not in Path(os.environ["MINSHENG_AUDIT"]).read_text(encoding="utf-8")


def test_without_a_brief_writer_the_brief_is_skipped_with_a_note_and_stays_due(data, receiver):
    configure(data, channel("hook", "webhook", f"{receiver.base}/hook")
              + f'[[brief]]\nregion = "{CITY}"\nday_of_month = 1\nchannels = ["hook"]\n')
    r = run(data, T0, [])
    assert any("专报生成未接入" in n for n in r.notes) and not receiver.ok()
    run(data, T0, [], make_brief=lambda d, region, y, m: ("测试市.docx", b"PK\x03\x04docx"))
    (req,) = receiver.ok("/hook")
    att = req["json"]["attachment"]
    assert req["json"]["kind"] == "brief" and base64.b64decode(att["base64"]) == b"PK\x03\x04docx"
    assert att["sha256"] == hashlib.sha256(b"PK\x03\x04docx").hexdigest()


# --- the 消息中心 -----------------------------------------------------------------------------------

def test_the_message_centre_is_per_account_by_role_and_area(data):
    configure(data, contact("镇责任人", "责任人", JIA1, account="zhen"))
    run(data, T0, [alert(1), alert(2, region=YI1, level="关注")])
    assert notify.unread_count(data, "city_admin") == 2 and notify.unread_count(data, "jia_rev") == 1
    assert notify.unread_count(data, "yi_rev") == 1 and notify.unread_count(data, "zhen") == 1
    assert notify.unread_count(data, "jia_viewer") == 0 and notify.unread_count(data, "gone") == 0
    mine, theirs = notify.inbox(data, "jia_rev")[0], notify.inbox(data, "yi_rev")[0]
    assert mine.title == "【严重】任务1 严重滞后（甲一镇·民政局）" and "51.7" in mine.body
    assert notify.mark_read(data, "jia_rev", [mine.id, theirs.id], now=T0) == 1
    assert notify.unread_count(data, "jia_rev") == 0 and notify.unread_count(data, "yi_rev") == 1
    assert notify.inbox(data, "jia_rev", unread_only=True) == [] and notify.inbox(data, "jia_rev")[0].read_at
    made = [e["detail"] for e in audit.read(None) if e["action"] == "send" and e["detail"]["channel"] == "消息中心"]
    assert sorted(d["account"] for d in made) == ["city_admin", "city_admin", "jia_rev", "yi_rev", "zhen"]


def test_the_message_centre_reads_nothing_into_being(tmp_path):
    assert notify.inbox(tmp_path, "x") == [] and notify.unread_count(tmp_path, "x") == 0
    assert notify.mark_read(tmp_path, "x", [1]) == 0 and not (tmp_path / "notify").exists()


def test_a_failing_rule_evaluation_closes_nothing_and_still_flushes(data, receiver):
    configure(data, channel("hook", "webhook", f"{receiver.base}/hook"))
    receiver.faults = {"/hook": ["500"]}
    run(data, T0, [alert(1)])

    def broken(directory, today, area=None):
        raise RuntimeError("规则出错")

    r = schedule.run(data, T0 + dt.timedelta(minutes=2), evaluate=broken, users=USERS)
    assert not r.ok and any("预警评估失败" in n for n in r.notes) and r.flushed.sent == 1
    assert notify.status(data)["alerts"] == {"open": 1, "closed": 0}


def test_the_commands_say_a_wrong_setting_in_chinese_and_exit_2(data):
    configure(data, '[[channel]]\nid = "a"\ntype = "wecom"\nareas = ["990100"]\nkey = "k"\nurl = "http://x"\n')
    env = {**os.environ, "MINSHENG_DATA": str(data)}
    for cmd in (["schedule", "run", "--now", T0.isoformat()], ["outbox", "flush"]):
        out = subprocess.run([sys.executable, "-m", "minsheng", *cmd], cwd=ROOT, capture_output=True, text=True,
                             env=env, timeout=60)
        assert out.returncode == 2 and "delivery.toml" in out.stderr and "二者只取其一" in out.stderr, out.stderr
    assert not (data / "notify" / "notify.sqlite").exists() or notify.status(data)["runs"] == []
    configure(data, channel("hook", "webhook", "http://127.0.0.1:9/hook") + contact("甲", "责任人", JIA))
    out = subprocess.run([sys.executable, "-m", "minsheng", "schedule", "check"], cwd=ROOT, capture_output=True,
                         text=True, env=env, timeout=60)
    assert out.returncode == 0 and "1 个渠道，1 位联系人" in out.stdout, out.stderr


def test_the_scheduled_brief_is_the_real_one_for_its_region(tmp_path, smtp_server, monkeypatch):
    """On the demo: 屈原管理区's July 2023 brief, by mail on 5 August, opens in python-docx with its figures."""
    import shutil

    import docx

    ctl, box = smtp_server
    d = tmp_path / "demo"
    shutil.copytree(ROOT / "data", d, ignore=shutil.ignore_patterns("notify", "settings"))
    monkeypatch.setenv("MINSHENG_AUDIT", str(tmp_path / "audit.log"))
    monkeypatch.setenv("MAIL_PW", "s3cret-密")
    configure(d, f'[[channel]]\nid = "mail"\ntype = "smtp"\nhost = "127.0.0.1"\nport = {ctl.port}\ntimeout = 5\n'
                 f'username = "bot@example.test"\npassword_env = "MAIL_PW"\nfrom = "bot@example.test"\n'
                 f'areas = ["430600000000"]\n' + contact("区长", "分管领导", "430671000000", None, email="qz@example.test")
                 + '[[brief]]\nregion = "430671000000"\nday_of_month = 5\nchannels = ["mail"]\n')
    r = schedule.run(d, dt.datetime(2023, 8, 5, 9, 0, tzinfo=CST), evaluate=fixed([]), users=[],
                     make_brief=schedule.default_make_brief())
    assert r.ok and r.flushed.sent == 1, r.notes
    (part,) = list(email.message_from_bytes(box.messages[0][1], policy=email.policy.default).iter_attachments())
    assert part.get_filename().endswith(".docx") and "屈原管理区" in part.get_filename()
    text = "\n".join(p.text for p in docx.Document(__import__("io").BytesIO(part.get_content())).paragraphs)
    assert "453" in text and "53%" in text and "1123" in text  # the seed's 区人社局 sentence's figures
